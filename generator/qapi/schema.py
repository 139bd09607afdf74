# SPDX-License-Identifier: LGPL-2.1-or-later
"""The semantic model of a QAPI schema and its checks.

Schema(fname) reads the file and its includes, checks each expression's
shape, defines entities (creating the implicit types QAPI has: argument
objects of commands and events, inline union bases, array types, the wrapper
objects and kind enums of the old simple unions, the empty object), then
resolves every reference and checks the rules: names, clashes, bases,
discriminators, branches, alternates, returns.  Every error is a SchemaError
carrying the position of what is wrong.
"""

import re
from collections import OrderedDict

from .source import SchemaError
from .parser import SchemaReader, Node
from .cond import parse_cond, conj

# ---------------------------------------------------------------------------
# Names

_VALID_NAME = re.compile(r'^(__[a-zA-Z0-9.-]+_)?(x-)?([a-zA-Z][a-zA-Z0-9_-]*)$')
_VALID_ENUM_NAME = re.compile(r'^(__[a-zA-Z0-9.-]+_)?(x-)?([a-zA-Z0-9][a-zA-Z0-9_.-]*)$')

C_RESERVED = frozenset('''
    auto break case char const continue default do double else enum extern
    float for goto if int long register return short signed sizeof static
    struct switch typedef union unsigned void volatile while inline restrict
    _Bool _Complex _Imaginary _Alignas _Alignof _Atomic _Generic _Noreturn
    _Static_assert _Thread_local asm typeof bool true false unix linux errno
    and and_eq bitand bitor compl not not_eq or or_eq xor xor_eq
    class delete new private protected public template this throw try
    catch friend namespace operator virtual mutable explicit export
    u kind
'''.split())


def c_name(name, protect=True):
    """A C identifier for a schema name: '-' and '.' become '_', and names
    that would collide with C (or our own field names) get a 'q_' prefix."""
    out = re.sub(r'[^A-Za-z0-9_]', '_', name)
    if protect and (out in C_RESERVED or out[0].isdigit()):
        return 'q_' + out
    return out


def camel_to_snake(name):
    """'MigrationInfo' -> 'migration_info', 'QCryptoTLSCreds' ->
    'qcrypto_tls_creds', 'q_obj_foo-arg' -> 'q_obj_foo_arg'."""
    name = c_name(name, protect=False)
    if '_' in name and name.lower() == name:
        return name
    out = []
    n = len(name)
    for i, ch in enumerate(name):
        if ch.isupper() and i > 0:
            prev = name[i - 1]
            nxt = name[i + 1] if i + 1 < n else ''
            if prev != '_' and (prev.islower() or prev.isdigit() or
                                (nxt.islower() and prev.isupper() and i > 1)):
                out.append('_')
        out.append(ch.lower())
    return ''.join(out).replace('__', '_')


def camel_case(name):
    """'q_obj_migrate-arg' -> 'QObjMigrateArg'; 'BlockdevOptions' unchanged."""
    parts = re.split(r'[^A-Za-z0-9]+', name)
    return ''.join(p[:1].upper() + p[1:] for p in parts if p)


# ---------------------------------------------------------------------------
# Entities

class Entity:
    meta = None

    def __init__(self, name, pos, ifcond, features, doc, module):
        self.name = name
        self.pos = pos
        self.ifcond = ifcond
        self.features = features or []
        self.doc = doc
        self.module = module

    def feature_names(self):
        return [f.name for f in self.features]

    def is_implicit(self):
        return self.pos is None or self.name.startswith('q_')


class Feature:
    def __init__(self, name, pos, ifcond):
        self.name = name
        self.pos = pos
        self.ifcond = ifcond


class Type(Entity):
    def json_type(self):
        raise NotImplementedError

    def is_builtin(self):
        return False


class BuiltinType(Type):
    meta = 'builtin'

    def __init__(self, name, json_type, kind):
        super().__init__(name, None, None, [], None, None)
        self._json = json_type
        self.kind = kind          # QMP_KIND_* suffix

    def json_type(self):
        return self._json

    def is_builtin(self):
        return True


class EnumMember:
    def __init__(self, name, pos, ifcond, features):
        self.name = name
        self.pos = pos
        self.ifcond = ifcond
        self.features = features or []


class EnumType(Type):
    meta = 'enum'

    def __init__(self, name, pos, ifcond, features, doc, module, members,
                 prefix=None, builtin=False):
        super().__init__(name, pos, ifcond, features, doc, module)
        self.members = members
        self.prefix = prefix
        self.builtin = builtin

    def json_type(self):
        return 'string'

    def member_names(self):
        return [m.name for m in self.members]


class ArrayType(Type):
    meta = 'array'

    def __init__(self, name, pos, module, element_name):
        super().__init__(name, pos, None, [], None, module)
        self.element_name = element_name
        self.element = None

    @property
    def ifcond(self):
        return self.element.ifcond if self.element else None

    @ifcond.setter
    def ifcond(self, value):
        pass

    def json_type(self):
        return 'array'


class Member:
    def __init__(self, name, pos, type_name, optional, ifcond, features):
        self.name = name
        self.pos = pos
        self.type_name = type_name
        self.optional = optional
        self.ifcond = ifcond
        self.features = features or []
        self.type = None
        self.owner = None         # the ObjectType that defines it

    def feature_names(self):
        return [f.name for f in self.features]


class Variant:
    def __init__(self, name, pos, type_name, ifcond):
        self.name = name
        self.pos = pos
        self.type_name = type_name
        self.ifcond = ifcond
        self.type = None


class Variants:
    def __init__(self, tag_name, tag_pos, variants):
        self.tag_name = tag_name     # None for alternates
        self.tag_pos = tag_pos
        self.variants = variants
        self.tag_member = None


class ObjectType(Type):
    meta = 'object'

    def __init__(self, name, pos, ifcond, features, doc, module, base_name,
                 local_members, variants, base_pos=None):
        super().__init__(name, pos, ifcond, features, doc, module)
        self.base_name = base_name
        self.base_pos = base_pos
        self.base = None
        self.local_members = local_members
        for m in local_members:
            m.owner = self
        self.variants = variants
        self.members = None          # flattened after check
        self._checked = False
        self.is_union = variants is not None

    def json_type(self):
        return 'object'

    def is_empty(self):
        return not self.members and not self.variants


class AlternateType(Type):
    meta = 'alternate'

    def __init__(self, name, pos, ifcond, features, doc, module, variants):
        super().__init__(name, pos, ifcond, features, doc, module)
        self.variants = variants

    def json_type(self):
        return 'value'


class Command(Entity):
    meta = 'command'

    def __init__(self, name, pos, ifcond, features, doc, module, arg_name,
                 ret_name, ret_pos, boxed, gen, success_response, allow_oob,
                 allow_preconfig, coroutine):
        super().__init__(name, pos, ifcond, features, doc, module)
        self.arg_name = arg_name
        self.ret_name = ret_name
        self.ret_pos = ret_pos
        self.boxed = boxed
        self.gen = gen
        self.success_response = success_response
        self.allow_oob = allow_oob
        self.allow_preconfig = allow_preconfig
        self.coroutine = coroutine
        self.arg_type = None
        self.ret_type = None


class Event(Entity):
    meta = 'event'

    def __init__(self, name, pos, ifcond, features, doc, module, arg_name,
                 boxed):
        super().__init__(name, pos, ifcond, features, doc, module)
        self.arg_name = arg_name
        self.boxed = boxed
        self.arg_type = None


# ---------------------------------------------------------------------------

_KEYS = {
    'enum': ({'data'}, {'prefix', 'if', 'features'}),
    'struct': ({'data'}, {'base', 'if', 'features'}),
    'union': ({'data'}, {'base', 'discriminator', 'if', 'features'}),
    'alternate': ({'data'}, {'if', 'features'}),
    'command': (set(), {'data', 'returns', 'boxed', 'if', 'features', 'gen',
                        'success-response', 'allow-oob', 'allow-preconfig',
                        'coroutine'}),
    'event': (set(), {'data', 'boxed', 'if', 'features'}),
    'pragma': (set(), set()),
}

_PRAGMAS = {
    'doc-required': bool,
    'returns-whitelist': list, 'command-returns-exceptions': list,
    'name-case-whitelist': list, 'member-name-exceptions': list,
    'command-name-exceptions': list, 'documentation-exceptions': list,
}

_BUILTINS = [
    ('str', 'string', 'STR'), ('number', 'number', 'NUMBER'),
    ('int', 'int', 'INT64'), ('int8', 'int', 'INT8'),
    ('int16', 'int', 'INT16'), ('int32', 'int', 'INT32'),
    ('int64', 'int', 'INT64'), ('uint8', 'int', 'UINT8'),
    ('uint16', 'int', 'UINT16'), ('uint32', 'int', 'UINT32'),
    ('uint64', 'int', 'UINT64'), ('size', 'int', 'UINT64'),
    ('bool', 'boolean', 'BOOL'), ('null', 'null', 'NULL'),
    ('any', 'value', 'ANY'),
]


class Pragmas:
    def __init__(self):
        self.doc_required = False
        self.returns_exceptions = set()
        self.member_exceptions = set()
        self.command_exceptions = set()
        self.modern_member_rules = False
        self.modern_command_rules = False


class Schema:
    def __init__(self, fname):
        self.fname = fname
        reader = SchemaReader()
        reader.read(fname)
        self.docs = reader.docs
        self.modules = OrderedDict((m, []) for m in [None] + reader.modules)
        self.entities = []                    # definition order
        self.by_name = {}
        self.pragma = Pragmas()
        self._define_builtins()
        for expr, module in reader.exprs:
            self._define(expr, module)
        self._check()

    # -- definition ------------------------------------------------------
    def _add(self, ent):
        prev = self.by_name.get(ent.name)
        if prev is not None:
            where = ('built-in' if prev.pos is None else
                     'at %s' % prev.pos)
            raise SchemaError(ent.pos, "'%s' is already defined (%s)"
                              % (ent.name, where))
        self.by_name[ent.name] = ent
        self.entities.append(ent)
        self.modules.setdefault(ent.module, []).append(ent)
        return ent

    def _define_builtins(self):
        for name, js, kind in _BUILTINS:
            self._add(BuiltinType(name, js, kind))
            self._array_type(name, None, None)
        qtype = EnumType('QType', None, None, [], None, None,
                         [EnumMember(n, None, None, None) for n in
                          ('none', 'qnull', 'qnum', 'qstring', 'qdict',
                           'qlist', 'qbool')], prefix='QTYPE', builtin=True)
        self._add(qtype)
        self.the_empty_object = ObjectType('q_empty', None, None, [], None,
                                           None, None, [], None)
        self._add(self.the_empty_object)

    def lookup(self, name):
        return self.by_name.get(name)

    def _array_type(self, element_name, pos, module):
        name = element_name + 'List'
        if name not in self.by_name:
            self._add(ArrayType(name, pos, module, element_name))
        return name

    def _type_ref(self, node, what, module):
        """A type reference: 'Name' or ['Name'] (a Node).  Returns the type
        name, creating the array type on demand."""
        v = node.value
        if isinstance(v, list):
            if len(v) != 1:
                raise SchemaError(node.pos, "%s: array type must contain "
                                  "exactly one element type" % what)
            el = v[0]
            if not isinstance(el.value, str):
                raise SchemaError(el.pos, "%s should be a type name" % what)
            return self._array_type(el.value, node.pos, module)
        if not isinstance(v, str):
            raise SchemaError(node.pos, "%s should be a type name" % what)
        return v

    def _features(self, node, module):
        if node is None:
            return []
        if not isinstance(node.value, list):
            raise SchemaError(node.pos, "'features' must be an array")
        out = []
        seen = set()
        for f in node.value:
            name, ifcond = self._name_and_if(f, "feature")
            self._check_name(name, f.pos, 'feature', lower=True)
            if name in seen:
                raise SchemaError(f.pos, "duplicate feature '%s'" % name)
            seen.add(name)
            out.append(Feature(name, f.pos, ifcond))
        return out

    def _name_and_if(self, node, what, extra=()):
        """A name given as 'str' or {'name': 'str', 'if': ..., ...}."""
        v = node.value
        if isinstance(v, str):
            return v, None
        if isinstance(v, dict):
            allowed = {'name', 'if', 'features'} | set(extra)
            for k in v:
                if k not in allowed:
                    raise SchemaError(v[k].pos, "%s has unknown key '%s'"
                                      % (what, k))
            if 'name' not in v:
                raise SchemaError(node.pos, "%s misses key 'name'" % what)
            if not isinstance(v['name'].value, str):
                raise SchemaError(v['name'].pos, "%s name must be a string" % what)
            return v['name'].value, parse_cond(v.get('if'))
        raise SchemaError(node.pos, "%s must be a string or an object" % what)

    def _check_name(self, name, pos, what, lower=False, upper=False,
                    camel=False, enum_value=False, permit_upper=False,
                    permit_underscore=True):
        regex = _VALID_ENUM_NAME if enum_value else _VALID_NAME
        m = regex.match(name)
        if not m:
            raise SchemaError(pos, "%s has an invalid name '%s'" % (what, name))
        stem = m.group(3)
        if upper:
            if stem.upper() != stem or '-' in stem:
                raise SchemaError(pos, "name of %s must use uppercase and '_'"
                                  % what)
        elif camel:
            if not re.match(r'^[A-Z][A-Za-z0-9]*[a-z][A-Za-z0-9]*$', stem):
                raise SchemaError(pos, "name of %s must use CamelCase" % what)
            if name.endswith('List'):
                raise SchemaError(pos, "name of %s must not end in 'List'"
                                  % what)
        elif lower:
            if not permit_upper and stem.lower() != stem:
                raise SchemaError(pos, "name of %s must not use uppercase"
                                  % what)
            if not permit_underscore and '_' in stem:
                raise SchemaError(pos, "name of %s must use '-', not '_'"
                                  % what)

    def _members(self, node, owner_name, module, what):
        """'data' of a struct, command or event as a list of Member."""
        if not isinstance(node.value, dict):
            raise SchemaError(node.pos, "%s: 'data' must be an object" % what)
        out = []
        for key, spec in node.value.items():
            optional = key.startswith('*')
            name = key[1:] if optional else key
            ifcond = None
            features = []
            tnode = spec
            if isinstance(spec.value, dict):
                for k in spec.value:
                    if k not in ('type', 'if', 'features'):
                        raise SchemaError(spec.value[k].pos,
                                          "member '%s' has unknown key '%s'"
                                          % (name, k))
                if 'type' not in spec.value:
                    raise SchemaError(spec.pos, "member '%s' misses key 'type'"
                                      % name)
                tnode = spec.value['type']
                ifcond = parse_cond(spec.value.get('if'))
                features = self._features(spec.value.get('features'), module)
            exc = self.pragma.member_exceptions
            # an implicit base may be excepted under its union's name
            permissive = owner_name in exc or (
                owner_name.startswith('q_obj_') and
                owner_name[6:].rsplit('-', 1)[0] in exc)
            self._check_name(name, spec.pos, "member '%s'" % name, lower=True,
                             permit_upper=permissive,
                             permit_underscore=permissive or
                             not self.pragma.modern_member_rules)
            if c_name(name, False).startswith('has_'):
                raise SchemaError(spec.pos, "member '%s' uses reserved prefix "
                                  "'has-'" % name)
            tname = self._type_ref(tnode, "member '%s'" % name, module)
            out.append(Member(name, spec.pos, tname, optional, ifcond, features))
        return out

    def _implicit_object(self, name, pos, ifcond, members, module):
        if name in self.by_name:
            return name
        self._add(ObjectType(name, None, ifcond, [], None, module, None,
                             members, None))
        self.by_name[name].use_pos = pos
        return name

    def _define(self, expr, module):
        metas = [k for k in _KEYS if k in expr]
        if len(metas) != 1:
            raise SchemaError(expr.pos, "expression must have exactly one key "
                              "'enum', 'struct', 'union', 'alternate', "
                              "'command', 'event', 'include' or 'pragma'")
        meta = metas[0]
        required, optional = _KEYS[meta]
        for k, node in expr.members.items():
            if k != meta and k not in required and k not in optional:
                raise SchemaError(node.pos, "%s has unknown key '%s'"
                                  % (meta, k))
        for k in required:
            if k not in expr:
                raise SchemaError(expr.pos, "%s '%s' misses key '%s'"
                                  % (meta, expr.get(meta), k))
        if meta == 'pragma':
            return self._define_pragma(expr)
        name_node = expr.node(meta)
        name = name_node.value
        if not isinstance(name, str):
            raise SchemaError(name_node.pos, "name of %s must be a string" % meta)
        pos = name_node.pos
        if meta == 'event':
            self._check_name(name, pos, meta, upper=True)
        elif meta == 'command':
            self._check_name(name, pos, meta, lower=True,
                             permit_underscore=(
                                 not self.pragma.modern_command_rules or
                                 name in self.pragma.command_exceptions))
        else:
            self._check_name(name, pos, meta, camel=True)
        doc = expr.doc
        if doc is not None and doc.symbol != name:
            raise SchemaError(doc.pos, "documentation comment is for '%s', but "
                              "the definition that follows is '%s'"
                              % (doc.symbol, name))
        if doc is None and self.pragma.doc_required:
            raise SchemaError(expr.pos, "%s '%s' lacks documentation"
                              % (meta, name))
        ifcond = parse_cond(expr.node('if'))
        features = self._features(expr.node('features'), module)
        for flag in ('boxed', 'gen', 'success-response', 'allow-oob',
                     'allow-preconfig', 'coroutine'):
            n = expr.node(flag)
            if n is not None and not isinstance(n.value, bool):
                raise SchemaError(n.pos, "'%s' of %s '%s' must be true or false"
                                  % (flag, meta, name))
        getattr(self, '_def_' + meta)(expr, name, pos, ifcond, features, doc,
                                      module)

    def _define_pragma(self, expr):
        node = expr.node('pragma')
        if not isinstance(node.value, dict):
            raise SchemaError(node.pos, "value of 'pragma' must be an object")
        for k, v in node.value.items():
            if k not in _PRAGMAS:
                raise SchemaError(v.pos, "unknown pragma '%s'" % k)
            if _PRAGMAS[k] is bool:
                if not isinstance(v.value, bool):
                    raise SchemaError(v.pos, "pragma '%s' must be true or false"
                                      % k)
                self.pragma.doc_required = v.value
                continue
            if not isinstance(v.value, list) or not all(
                    isinstance(x.value, str) for x in v.value):
                raise SchemaError(v.pos, "pragma '%s' must be a list of strings"
                                  % k)
            names = {x.value for x in v.value}
            if k in ('returns-whitelist', 'command-returns-exceptions'):
                self.pragma.returns_exceptions |= names
            elif k == 'name-case-whitelist':
                self.pragma.member_exceptions |= names
            elif k == 'member-name-exceptions':
                self.pragma.member_exceptions |= names
                self.pragma.modern_member_rules = True
            elif k == 'command-name-exceptions':
                self.pragma.command_exceptions |= names
                self.pragma.modern_command_rules = True

    def _def_enum(self, expr, name, pos, ifcond, features, doc, module):
        data = expr.node('data')
        if not isinstance(data.value, list):
            raise SchemaError(data.pos, "enum '%s': 'data' must be an array"
                              % name)
        prefix = expr.get('prefix')
        if prefix is not None and not isinstance(prefix, str):
            raise SchemaError(expr.node('prefix').pos,
                              "'prefix' must be a string")
        members = []
        seen = {}
        permissive = name in self.pragma.member_exceptions
        for v in data.value:
            mname, mif = self._name_and_if(v, "enum member")
            if mname in seen:
                raise SchemaError(v.pos, "enum '%s' lists value '%s' twice "
                                  "(first at line %d)"
                                  % (name, mname, seen[mname].line))
            seen[mname] = v.pos
            feats = self._features(v.value.get('features'), module) \
                if isinstance(v.value, dict) else []
            self._check_name(mname, v.pos, "enum member '%s'" % mname,
                             lower=True, enum_value=True,
                             permit_upper=permissive,
                             permit_underscore=permissive or
                             not self.pragma.modern_member_rules)
            members.append(EnumMember(mname, v.pos, mif, feats))
        self._add(EnumType(name, pos, ifcond, features, doc, module, members,
                           prefix))

    def _def_struct(self, expr, name, pos, ifcond, features, doc, module):
        members = self._members(expr.node('data'), name, module,
                                "struct '%s'" % name)
        base = expr.node('base')
        base_name = None
        if base is not None:
            if not isinstance(base.value, str):
                raise SchemaError(base.pos, "'base' of struct '%s' must be a "
                                  "type name" % name)
            base_name = base.value
        self._add(ObjectType(name, pos, ifcond, features, doc, module,
                             base_name, members, None,
                             base.pos if base else None))

    def _def_union(self, expr, name, pos, ifcond, features, doc, module):
        data = expr.node('data')
        if not isinstance(data.value, dict):
            raise SchemaError(data.pos, "union '%s': 'data' must be an object"
                              % name)
        if not data.value:
            raise SchemaError(data.pos, "union '%s' has no branches" % name)
        base = expr.node('base')
        disc = expr.node('discriminator')
        if disc is None and base is None:
            # an old simple union: implicit kind enum and wrapper objects
            variants = []
            for bname, spec in data.value.items():
                vname, vif, tnode = self._branch(bname, spec, name)
                tname = self._type_ref(tnode, "branch '%s'" % vname, module)
                wrapper = self._implicit_object(
                    'q_obj_%s-wrapper' % tname, spec.pos, None,
                    [Member('data', spec.pos, tname, False, None, None)],
                    module)
                variants.append(Variant(vname, spec.pos, wrapper, vif))
            enum_name = name + 'Kind'
            if enum_name in self.by_name:
                raise SchemaError(pos, "union '%s' needs the name '%s' for its "
                                  "kind, but it is already defined"
                                  % (name, enum_name))
            self._add(EnumType(enum_name, None, ifcond, [], None, module,
                               [EnumMember(v.name, v.pos, v.ifcond, None)
                                for v in variants]))
            tag = Member('type', pos, enum_name, False, None, None)
            t = ObjectType(name, pos, ifcond, features, doc, module, None,
                           [tag], Variants('type', pos, variants))
            t.simple_union = True
            self._add(t)
            return
        if disc is None:
            raise SchemaError(expr.pos, "union '%s' has a 'base' but no "
                              "'discriminator'" % name)
        if base is None:
            raise SchemaError(expr.pos, "union '%s' has a 'discriminator' but "
                              "no 'base'" % name)
        if not isinstance(disc.value, str):
            raise SchemaError(disc.pos, "'discriminator' must be a string")
        if isinstance(base.value, dict):
            base_name = self._implicit_object(
                'q_obj_%s-base' % name, base.pos, ifcond,
                self._members(base, 'q_obj_%s-base' % name, module,
                              "base of union '%s'" % name), module)
        elif isinstance(base.value, str):
            base_name = base.value
        else:
            raise SchemaError(base.pos, "'base' of union '%s' must be a type "
                              "name or an object" % name)
        variants = []
        for bname, spec in data.value.items():
            vname, vif, tnode = self._branch(bname, spec, name)
            if isinstance(tnode.value, list):
                raise SchemaError(tnode.pos, "branch '%s' of union '%s' cannot "
                                  "be an array" % (vname, name))
            tname = self._type_ref(tnode, "branch '%s'" % vname, module)
            variants.append(Variant(vname, spec.pos, tname, vif))
        t = ObjectType(name, pos, ifcond, features, doc, module, base_name, [],
                       Variants(disc.value, disc.pos, variants), base.pos)
        self._add(t)

    def _branch(self, bname, spec, owner):
        self._check_name(bname, spec.pos, "branch '%s'" % bname, lower=True,
                         enum_value=True, permit_upper=True)
        if isinstance(spec.value, dict):
            for k in spec.value:
                if k not in ('type', 'if'):
                    raise SchemaError(spec.value[k].pos,
                                      "branch '%s' has unknown key '%s'"
                                      % (bname, k))
            if 'type' not in spec.value:
                raise SchemaError(spec.pos, "branch '%s' misses key 'type'"
                                  % bname)
            return bname, parse_cond(spec.value.get('if')), spec.value['type']
        return bname, None, spec

    def _def_alternate(self, expr, name, pos, ifcond, features, doc, module):
        data = expr.node('data')
        if not isinstance(data.value, dict):
            raise SchemaError(data.pos, "alternate '%s': 'data' must be an "
                              "object" % name)
        if not data.value:
            raise SchemaError(data.pos, "alternate '%s' has no branches" % name)
        variants = []
        for bname, spec in data.value.items():
            vname, vif, tnode = self._branch(bname, spec, name)
            tname = self._type_ref(tnode, "branch '%s'" % vname, module)
            variants.append(Variant(vname, spec.pos, tname, vif))
        self._add(AlternateType(name, pos, ifcond, features, doc, module,
                                Variants(None, None, variants)))

    def _arg_type(self, expr, name, ifcond, module, what):
        data = expr.node('data')
        if data is None:
            return None
        if isinstance(data.value, dict):
            if expr.get('boxed'):
                raise SchemaError(data.pos, "'boxed': true requires 'data' to "
                                  "be a type name")
            return self._implicit_object(
                'q_obj_%s-arg' % name, data.pos, ifcond,
                self._members(data, 'q_obj_%s-arg' % name, module,
                              "%s '%s'" % (what, name)), module)
        if isinstance(data.value, str):
            return data.value
        raise SchemaError(data.pos, "'data' of %s '%s' must be an object or "
                          "a type name" % (what, name))

    def _def_command(self, expr, name, pos, ifcond, features, doc, module):
        arg = self._arg_type(expr, name, ifcond, module, 'command')
        ret = expr.node('returns')
        ret_name = None
        if ret is not None:
            ret_name = self._type_ref(ret, "'returns' of command '%s'" % name,
                                      module)
        self._add(Command(name, pos, ifcond, features, doc, module, arg,
                          ret_name, ret.pos if ret else None,
                          expr.get('boxed', False), expr.get('gen', True),
                          expr.get('success-response', True),
                          expr.get('allow-oob', False),
                          expr.get('allow-preconfig', False),
                          expr.get('coroutine', False)))

    def _def_event(self, expr, name, pos, ifcond, features, doc, module):
        arg = self._arg_type(expr, name, ifcond, module, 'event')
        self._add(Event(name, pos, ifcond, features, doc, module, arg,
                        expr.get('boxed', False)))

    # -- checking --------------------------------------------------------
    def _resolve(self, tname, pos, what, allowed=None):
        t = self.by_name.get(tname)
        if isinstance(t, ArrayType) and t.element is None:
            tname = t.element_name
            t = self.by_name.get(tname)
        if t is None or not isinstance(t, Type):
            raise SchemaError(pos, "%s uses unknown type '%s'" % (what, tname)
                              if t is None else
                              "%s uses '%s', which is a %s, not a type"
                              % (what, tname, t.meta))
        if allowed is not None and t.meta not in allowed \
                and not (t.meta == 'object' and 'struct' in allowed and
                         not t.is_union) \
                and not (t.meta == 'object' and 'union' in allowed and
                         t.is_union):
            raise SchemaError(pos, "%s cannot use %s type '%s'"
                              % (what, self._kind_word(t), tname))
        return t

    @staticmethod
    def _kind_word(t):
        if t.meta == 'object':
            return 'union' if t.is_union else 'struct'
        return t.meta

    def _check(self):
        # arrays first: element types
        for ent in list(self.entities):
            if isinstance(ent, ArrayType):
                el = self.by_name.get(ent.element_name)
                if el is None or not isinstance(el, Type):
                    continue        # reported where it is used
                if isinstance(el, ArrayType):
                    raise SchemaError(ent.pos, "arrays of arrays are not "
                                      "allowed")
                ent.element = el
        for ent in list(self.entities):
            if isinstance(ent, ObjectType):
                self._check_object(ent, [])
                if ent.name.startswith('q_obj_') and \
                        ent.name.endswith('-wrapper'):
                    # a simple union's wrapper is shared by every union that
                    # wraps the same type; like QEMU, give it that type's
                    # condition so that it exists exactly when its data can
                    data = ent.local_members[0].type
                    el = data.element if isinstance(data, ArrayType) else data
                    ent.ifcond = el.ifcond
        for ent in list(self.entities):
            if isinstance(ent, AlternateType):
                self._check_alternate(ent)
            elif isinstance(ent, Command):
                self._check_command(ent)
            elif isinstance(ent, Event):
                self._check_event(ent)
        self._check_docs()

    def _check_object(self, t, stack):
        if t._checked:
            return
        if t in stack:
            raise SchemaError(t.pos, "object '%s' contains itself" % t.name)
        what = "%s '%s'" % ('union' if t.is_union else 'struct', t.name) \
            if not t.is_implicit() else "'%s'" % t.name
        members = []
        if t.base_name is not None:
            base = self.by_name.get(t.base_name)
            if base is None:
                raise SchemaError(t.base_pos, "%s uses unknown type '%s' as "
                                  "base" % (what, t.base_name))
            if not isinstance(base, ObjectType) or base.is_union:
                raise SchemaError(t.base_pos, "'base' of %s must be a struct, "
                                  "not %s '%s'" % (what, self._kind_word(base),
                                                   t.base_name))
            self._check_object(base, stack + [t])
            t.base = base
            members = list(base.members)
        seen = {}
        for m in members:
            seen[c_name(m.name, False)] = m
        for m in t.local_members:
            m.type = self._resolve(m.type_name, m.pos, "member '%s' of %s"
                                   % (m.name, what))
            key = c_name(m.name, False)
            if key in seen:
                other = seen[key]
                where = ('of base %s' % other.owner.name
                         if other.owner is not t else 'of this type')
                raise SchemaError(m.pos, "member '%s' collides with member "
                                  "'%s' %s" % (m.name, other.name, where))
            seen[key] = m
            members.append(m)
        t.members = members
        t._checked = True
        if t.variants is not None:
            self._check_union(t, what, seen, stack)

    def _check_union(self, t, what, seen, stack):
        v = t.variants
        tag = None
        for m in t.members:
            if m.name == v.tag_name:
                tag = m
        if tag is None:
            raise SchemaError(v.tag_pos, "discriminator '%s' is not a member "
                              "of %s" % (v.tag_name, "base '%s'" % t.base_name
                                         if t.base_name else what))
        if not isinstance(tag.type, EnumType):
            raise SchemaError(v.tag_pos, "discriminator member '%s' of %s must "
                              "be of enum type" % (tag.name, what))
        if tag.optional:
            raise SchemaError(v.tag_pos, "discriminator member '%s' of %s must "
                              "not be optional" % (tag.name, what))
        if tag.ifcond is not None:
            raise SchemaError(v.tag_pos, "discriminator member '%s' of %s must "
                              "not be conditional" % (tag.name, what))
        v.tag_member = tag
        values = tag.type.member_names()
        cases = set()
        for var in v.variants:
            if var.name not in values:
                raise SchemaError(var.pos, "branch '%s' is not a value of %s"
                                  % (var.name, tag.type.name))
            if var.name in cases:
                raise SchemaError(var.pos, "duplicate branch '%s'" % var.name)
            cases.add(var.name)
            var.type = self._resolve(var.type_name, var.pos,
                                     "branch '%s' of %s" % (var.name, what))
            if not isinstance(var.type, ObjectType):
                raise SchemaError(var.pos, "branch '%s' of %s cannot use %s "
                                  "type '%s'" % (var.name, what,
                                                 self._kind_word(var.type),
                                                 var.type.name))
            self._check_object(var.type, stack + [t])
            for m in var.type.members:
                key = c_name(m.name, False)
                if key in seen:
                    raise SchemaError(var.pos, "member '%s' of branch '%s' "
                                      "collides with member '%s' of %s"
                                      % (m.name, var.name, seen[key].name,
                                         "base '%s'" % t.base_name
                                         if t.base_name else what))
        # branches the union leaves out carry no data (QEMU pads them with
        # the empty object, in enum order, keeping the value's condition)
        for em in tag.type.members:
            if em.name not in cases:
                pad = Variant(em.name, None, 'q_empty', em.ifcond)
                pad.type = self.the_empty_object
                pad.padded = True
                v.variants.append(pad)

    def _check_alternate(self, t):
        seen = {}
        for var in t.variants.variants:
            var.type = self._resolve(var.type_name, var.pos,
                                     "branch '%s' of alternate '%s'"
                                     % (var.name, t.name))
            typ = var.type
            if isinstance(typ, AlternateType):
                raise SchemaError(var.pos, "branch '%s' of alternate '%s' "
                                  "cannot use alternate type '%s'"
                                  % (var.name, t.name, typ.name))
            if isinstance(typ, ObjectType):
                self._check_object(typ, [])
            js = typ.json_type()
            if js == 'value':
                raise SchemaError(var.pos, "branch '%s' of alternate '%s' "
                                  "cannot use type 'any'" % (var.name, t.name))
            # what the branch claims on the wire; a string branch also
            # claims numbers and booleans (their keyval spelling is a
            # string), an enum only those its values could be mistaken for
            qtype = {'int': 'number'}.get(js, js)
            conflicting = [qtype]
            if isinstance(typ, EnumType):
                for em in typ.members:
                    if em.name in ('on', 'off'):
                        conflicting.append('boolean')
                    if re.match(r'^[-+0-9.]', em.name):
                        conflicting.append('number')
            elif js == 'string':
                conflicting += ['number', 'boolean']
            for c in conflicting:
                if c in seen:
                    raise SchemaError(var.pos, "branch '%s' of alternate '%s' "
                                      "can't be distinguished from '%s'"
                                      % (var.name, t.name, seen[c]))
            for c in conflicting:
                seen[c] = var.name

    def _check_arg_type(self, ent):
        """The 'data' of a command or event: an object type, a union only
        when boxed."""
        if ent.arg_name is None:
            return
        what = "%s '%s'" % (ent.meta, ent.name)
        t = self._resolve(ent.arg_name, ent.pos, what)
        if not isinstance(t, ObjectType):
            raise SchemaError(ent.pos, "'data' of %s cannot use %s type '%s'"
                              % (what, self._kind_word(t), t.name))
        if t.is_union and not ent.boxed:
            raise SchemaError(ent.pos, "'data' of %s can use union type '%s' "
                              "only with 'boxed': true" % (what, t.name))
        ent.arg_type = t

    def _check_command(self, c):
        self._check_arg_type(c)
        if c.ret_name is not None:
            t = self._resolve(c.ret_name, c.ret_pos, "'returns' of command '%s'"
                              % c.name)
            el = t.element if isinstance(t, ArrayType) else t
            if c.name not in self.pragma.returns_exceptions and \
                    not isinstance(el, ObjectType):
                raise SchemaError(c.ret_pos, "command '%s' cannot return %s "
                                  "type '%s'" % (c.name, el.meta, el.name))
            c.ret_type = t

    def _check_event(self, e):
        self._check_arg_type(e)

    def _check_docs(self):
        """Documented members must exist (QEMU refuses descriptions of
        members a definition does not have)."""
        for ent in self.entities:
            doc = ent.doc
            if doc is None or not doc.args:
                continue
            names = set()
            if isinstance(ent, EnumType):
                names = set(ent.member_names())
            elif isinstance(ent, ObjectType):
                names = {m.name for m in ent.local_members}
                if ent.variants is not None:
                    names |= {v.name for v in ent.variants.variants}
                if ent.base is not None and ent.base.is_implicit():
                    names |= {m.name for m in ent.base.local_members}
            elif isinstance(ent, AlternateType):
                names = {v.name for v in ent.variants.variants}
            elif isinstance(ent, (Command, Event)):
                if ent.arg_type is not None:
                    names = {m.name for m in ent.arg_type.members}
                    if ent.arg_type.variants is not None:
                        names |= {v.name for v in ent.arg_type.variants.variants}
            for a in doc.args:
                if a not in names and names and not ent.is_implicit():
                    # boxed arguments and base members may be documented
                    # elsewhere; only flag names that exist nowhere here
                    if isinstance(ent, (Command, Event)) and ent.boxed:
                        continue
                    if isinstance(ent, ObjectType) and ent.base is not None \
                            and a in {m.name for m in ent.members}:
                        continue
                    raise SchemaError(doc.pos, "the documentation of '%s' "
                                      "describes '%s', which it does not have"
                                      % (ent.name, a))

    # -- queries ---------------------------------------------------------
    def commands(self):
        return [e for e in self.entities if isinstance(e, Command)]

    def events(self):
        return [e for e in self.entities if isinstance(e, Event)]

    def types(self):
        return [e for e in self.entities if isinstance(e, Type)]

    def module_order_entities(self):
        """Entities module by module, modules in first-include order, each
        in definition order (the order QEMU's generators visit them)."""
        out = []
        for ents in self.modules.values():
            out.extend(ents)
        return out
