# SPDX-License-Identifier: LGPL-2.1-or-later
"""The C view of a schema for one set of conditions, shared by the C
backends: which entities and members exist, the C name of everything, and
the storage of each member (see libqmp/qmp-type-info.h)."""

import re

from .cond import evaluate
from .schema import (AlternateType, ArrayType, BuiltinType, Command, EnumType,
                     Event, ObjectType, c_name, camel_case, camel_to_snake)
from .source import SchemaError

# The feature that marks a member whose value must never reach a trace, log
# or recording (docs/secrets.md).  It is ours, not QEMU's: introspection
# leaves it out.
SECRET_FEATURE = 'secret'

RUNTIME_NAMES = frozenset('''
    QmpMonitor QmpJson QmpJsonDoc QmpJsonType QmpTypeInfo QmpMemberInfo
    QmpValueInfo QmpVariantInfo QmpKind QmpTypeClass QmpDecodeFlags
    QmpCommandDesc QmpEventDesc QmpTypedEventFunc QmpEventFunc QmpTraceFunc
    QmpErrorCode QmpCommandErrorCode QmpExecuteFlags QmpHandshakeFlags
    QmpTraceDirection
'''.split())

_INT_CTYPES = {'INT8': 'gint8', 'INT16': 'gint16', 'INT32': 'gint32',
               'INT64': 'gint64', 'UINT8': 'guint8', 'UINT16': 'guint16',
               'UINT32': 'guint32', 'UINT64': 'guint64'}


class CModel:
    def __init__(self, schema, defined, prefix='qmp'):
        self.schema = schema
        self.defined = defined
        self.prefix = prefix
        self.P = prefix.upper()
        self.Camel = prefix[:1].upper() + prefix[1:]
        # names the hand-written runtime uses; a schema type must not take them
        self.globals = {n: 'a libqmp runtime name' for n in RUNTIME_NAMES} \
            if prefix == 'qmp' else {}
        self._check_references()

    # -- presence ----------------------------------------------------------
    def present(self, ent):
        return evaluate(ent.ifcond, self.defined)

    def members(self, obj):
        return [m for m in obj.members if evaluate(m.ifcond, self.defined)]

    def enum_values(self, enum):
        return [m for m in enum.members if evaluate(m.ifcond, self.defined)]

    def variants(self, t):
        return [v for v in t.variants.variants
                if evaluate(v.ifcond, self.defined)]

    def _check_references(self):
        """A present member must not use a type whose condition is false."""
        for ent in self.schema.entities:
            if not self.present(ent):
                continue
            if isinstance(ent, ObjectType) and ent.members is not None:
                for m in self.members(ent):
                    self._need(m.type, m.pos or ent.pos, ent)
            if isinstance(ent, (ObjectType, AlternateType)) and ent.variants:
                for v in self.variants(ent):
                    self._need(v.type, v.pos or ent.pos, ent)
            if isinstance(ent, Command):
                for t in (ent.arg_type, ent.ret_type):
                    if t is not None:
                        self._need(t, ent.pos, ent)
            if isinstance(ent, Event) and ent.arg_type is not None:
                self._need(ent.arg_type, ent.pos, ent)

    def _need(self, t, pos, user):
        el = t.element if isinstance(t, ArrayType) else t
        if not self.present(el):
            raise SchemaError(pos, "'%s' uses '%s', whose condition does not "
                              "hold for this build" % (user.name, el.name))

    # -- names -------------------------------------------------------------
    def type_cname(self, t):
        n = t.name
        m = re.match(r'^q_obj_(.*)-(arg|base|wrapper)$', n)
        if n == 'q_empty':
            return self.Camel + 'QEmpty'
        if m:
            stem, kind = m.groups()
            if kind == 'arg':
                owner = self.schema.lookup(stem)
                if isinstance(owner, Event):
                    return self.Camel + camel_case(stem.lower()) + 'Event'
                return self.Camel + camel_case(stem) + 'Args'
            return self.Camel + camel_case(stem) + kind.capitalize()
        if isinstance(t, EnumType) and t.builtin:
            return self.Camel + t.name
        return self.Camel + camel_case(n)

    def func_stem(self, t):
        """'QmpMigrationInfo' -> 'qmp_migration_info'."""
        return self.prefix + '_' + camel_to_snake(self.type_cname(t)[len(self.Camel):])

    def info_name(self, t):
        return self.func_stem(t) + '_type_info'

    def enum_const_prefix(self, t):
        if t.prefix:
            return self.P + '_' + t.prefix
        return self.func_stem(t).upper()

    def enum_const(self, t, value):
        return self.enum_const_prefix(t) + '_' + c_name(value, False).upper()

    def alt_kind_type(self, t):
        return self.type_cname(t) + 'Kind'

    def alt_kind_const(self, t, variant_name):
        return self.func_stem(t).upper() + '_KIND_' + \
            c_name(variant_name, False).upper()

    def claim(self, ident, pos, what):
        """Register a global C identifier; two schema names must not map to
        the same one."""
        prev = self.globals.get(ident)
        if prev is not None and prev != what:
            raise SchemaError(pos, "%s and %s would both be called '%s' in C"
                              % (what, prev, ident))
        self.globals[ident] = what

    # -- storage -----------------------------------------------------------
    def kind(self, t):
        if isinstance(t, BuiltinType):
            return 'QMP_KIND_' + t.kind
        if isinstance(t, EnumType):
            return 'QMP_KIND_ENUM'
        if isinstance(t, ObjectType):
            return 'QMP_KIND_OBJECT'
        if isinstance(t, AlternateType):
            return 'QMP_KIND_ALTERNATE'
        return 'QMP_KIND_ARRAY'

    def ctype(self, t):
        """C type of a single value of t (not arrays)."""
        if isinstance(t, BuiltinType):
            k = t.kind
            if k in _INT_CTYPES:
                return _INT_CTYPES[k]
            return {'NUMBER': 'double', 'BOOL': 'gboolean', 'STR': 'char *',
                    'NULL': 'gboolean', 'ANY': 'QmpJsonDoc *'}[k]
        if isinstance(t, EnumType):
            return self.type_cname(t)
        return self.type_cname(t) + ' *'

    @staticmethod
    def needs_has(t, optional):
        if not optional:
            return False
        if isinstance(t, BuiltinType):
            return t.kind not in ('STR', 'ANY')
        return isinstance(t, (EnumType, ArrayType))

    def value_info(self, t):
        """C initializer of a QmpValueInfo for type t."""
        if isinstance(t, ArrayType):
            el = t.element
            return '{ QMP_KIND_ARRAY, %s, %s }' % (self.kind(el),
                                                   self.type_ref(el))
        return '{ %s, QMP_KIND_INT8, %s }' % (self.kind(t), self.type_ref(t))

    def type_ref(self, t):
        if isinstance(t, (EnumType, ObjectType, AlternateType)):
            return '&' + self.info_name(t)
        return 'NULL'

    def is_empty_object(self, t):
        return isinstance(t, ObjectType) and not self.members(t) and \
            not (t.variants and self.nonempty_branches(t))

    def nonempty_branches(self, t):
        return [v for v in self.variants(t)
                if not self.is_empty_object(v.type)]

    def flags(self, features, optional=False, name=None):
        f = []
        if optional:
            f.append('QMP_INFO_OPTIONAL')
        names = {x.name for x in features if evaluate(x.ifcond, self.defined)}
        if 'deprecated' in names:
            f.append('QMP_INFO_DEPRECATED')
        if 'unstable' in names:
            f.append('QMP_INFO_UNSTABLE')
        if SECRET_FEATURE in names:
            f.append('QMP_INFO_SECRET')
        return ' | '.join(f) or '0'

    # -- entity lists in a stable order ------------------------------------
    def c_types(self):
        """Enums, objects and alternates to generate, definition order."""
        out = []
        for e in self.schema.entities:
            if isinstance(e, (EnumType, ObjectType, AlternateType)) and \
                    self.present(e):
                out.append(e)
        return out

    def doc_for(self, t):
        """The doc block describing t's members (implicit argument types
        are documented on their command or event)."""
        if t.doc is not None:
            return t.doc
        m = re.match(r'^q_obj_(.*)-(arg|base)$', t.name)
        if m:
            owner = self.schema.lookup(m.group(1))
            if owner is not None:
                return owner.doc
        return None

    def is_secret(self, member):
        return any(f.name == SECRET_FEATURE and evaluate(f.ifcond, self.defined)
                   for f in member.features)

    def secret_members(self):
        """(name, discriminator, value) of every member marked secret: a
        member reached through a union branch is secret in an object whose
        discriminator has that branch's value; any other is secret wherever
        its name appears.  Sorted, without duplicates."""
        out = set()
        in_branch = set()
        for t in self.c_types():
            if not isinstance(t, ObjectType) or not t.variants:
                continue
            tag = t.variants.tag_member.name
            for v in self.variants(t):
                b = v.type
                while b is not None:
                    in_branch.add(id(b))
                    b = b.base
                for mem in self.members(v.type):
                    if self.is_secret(mem):
                        out.add((mem.name, tag, v.name))
        for t in self.c_types():
            if isinstance(t, ObjectType) and id(t) not in in_branch:
                for mem in self.members(t):
                    if self.is_secret(mem):
                        out.add((mem.name, None, None))
        return sorted(out, key=lambda x: (x[0], x[1] or '', x[2] or ''))

    def member_since(self, m):
        owner = m.owner
        doc = self.doc_for(owner) if owner is not None else None
        if doc is None:
            return None
        return doc.member_since(m.name) or doc.since()
