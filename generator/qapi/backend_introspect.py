# SPDX-License-Identifier: LGPL-2.1-or-later
"""Expected introspection: the SchemaInfo list query-qmp-schema returns.

QEMU builds this list at compile time.  Commands and events come first, in the
order the schema's modules are first included and, within a module, in
definition order.  Types follow in the order they are first used while that
list is produced (a work queue that grows as object members, variants, array
elements and alternate branches are visited).  Type names other than the
built-in ones are masked as decimal numbers, numbered in order of first use;
every integer type reads as 'int'.  Numbering is done over the whole schema,
regardless of conditions; items whose condition does not hold for the binary
are then left out, so masked numbers can have gaps.

Which optional SchemaInfo members exist depends on the QEMU release (feature
lists, enum 'members', 'allow-oob'); we read that from the schema's own
definition of SchemaInfo when it has one.
"""

import json

from .cond import evaluate, conj
from .schema import (AlternateType, ArrayType, BuiltinType, Command, EnumType,
                     Event, ObjectType)
from . import output
from .cmodel import SECRET_FEATURE


class _Item:
    """A tree plus its condition; `parts` are conditional list entries."""

    def __init__(self, obj, ifcond):
        self.obj = obj
        self.ifcond = ifcond


class Introspector:
    def __init__(self, schema):
        self.schema = schema
        self.trees = []
        self.used = []
        self.used_set = set()
        self.names = {}
        self.shape = self._schema_shape()

    def _schema_shape(self):
        """What this release's SchemaInfo carries, from introspect.json."""
        s = self.schema

        def has(tname, member):
            t = s.lookup(tname)
            if not isinstance(t, ObjectType) or t.members is None:
                return None
            return any(m.name == member for m in t.members)

        shape = {
            'features': has('SchemaInfo', 'features'),
            'enum-members': has('SchemaInfoEnum', 'members'),
            'enum-values': has('SchemaInfoEnum', 'values'),
            'member-features': has('SchemaInfoObjectMember', 'features'),
            'allow-oob': has('SchemaInfoCommand', 'allow-oob'),
        }
        # a schema without introspect.json (e.g. a small fixture) gets the
        # newest shape
        for k, v in shape.items():
            if v is None:
                shape[k] = True
        return shape

    def mask(self, name):
        if name not in self.names:
            self.names[name] = '%d' % len(self.names)
        return self.names[name]

    def use(self, typ):
        s = self.schema
        if typ.json_type() == 'int':
            typ = s.lookup('int')
        elif isinstance(typ, ArrayType) and typ.element.json_type() == 'int':
            typ = s.lookup('intList')
        if id(typ) not in self.used_set:
            self.used_set.add(id(typ))
            self.used.append(typ)
        if isinstance(typ, BuiltinType):
            return typ.name
        if isinstance(typ, ArrayType):
            return '[' + self.use(typ.element) + ']'
        return self.mask(typ.name)

    def features(self, features):
        # 'secret' is our own annotation (docs/secrets.md): QEMU has no
        # such feature, so what it would return leaves it out
        return [_Item(f.name, f.ifcond) for f in features
                if f.name != SECRET_FEATURE]

    def tree(self, name, mtype, obj, ifcond=None, features=()):
        if mtype not in ('command', 'event', 'builtin', 'array'):
            name = self.mask(name)
        obj['name'] = name
        obj['meta-type'] = mtype
        if self.features(features) and self.shape['features']:
            obj['features'] = self.features(features)
        self.trees.append(_Item(obj, ifcond))

    def member(self, m):
        obj = {'name': m.name, 'type': self.use(m.type)}
        if m.optional:
            obj['default'] = None
        if self.features(m.features) and self.shape['member-features']:
            obj['features'] = self.features(m.features)
        return _Item(obj, m.ifcond)

    def visit_type(self, t):
        if isinstance(t, BuiltinType):
            self.tree(t.name, 'builtin', {'json-type': t.json_type()})
        elif isinstance(t, EnumType):
            obj = {}
            if self.shape['enum-members']:
                members = []
                for m in t.members:
                    mo = {'name': m.name}
                    if self.features(m.features):
                        mo['features'] = self.features(m.features)
                    members.append(_Item(mo, m.ifcond))
                obj['members'] = members
            obj['values'] = [_Item(m.name, m.ifcond) for m in t.members]
            self.tree(t.name, 'enum', obj, t.ifcond, t.features)
        elif isinstance(t, ArrayType):
            el = self.use(t.element)
            self.tree('[' + el + ']', 'array', {'element-type': el},
                      t.ifcond)
        elif isinstance(t, ObjectType):
            obj = {'members': [self.member(m) for m in t.members]}
            if t.variants is not None:
                obj['tag'] = t.variants.tag_member.name
                obj['variants'] = [
                    _Item({'case': v.name, 'type': self.use(v.type)}, v.ifcond)
                    for v in t.variants.variants]
            self.tree(t.name, 'object', obj, t.ifcond, t.features)
        elif isinstance(t, AlternateType):
            self.tree(t.name, 'alternate', {'members': [
                _Item({'type': self.use(v.type)}, v.ifcond)
                for v in t.variants.variants]}, t.ifcond, t.features)

    def run(self):
        s = self.schema
        empty = s.the_empty_object
        for ent in s.module_order_entities():
            if isinstance(ent, Command):
                obj = {'arg-type': self.use(ent.arg_type or empty),
                       'ret-type': self.use(ent.ret_type or empty)}
                if ent.allow_oob and self.shape['allow-oob']:
                    obj['allow-oob'] = True
                self.tree(ent.name, 'command', obj, ent.ifcond, ent.features)
            elif isinstance(ent, Event):
                self.tree(ent.name, 'event',
                          {'arg-type': self.use(ent.arg_type or empty)},
                          ent.ifcond, ent.features)
        i = 0
        while i < len(self.used):
            self.visit_type(self.used[i])
            i += 1
        return self.trees


def _resolve(value, defined):
    """Drop items whose condition is false; unwrap the rest."""
    if isinstance(value, _Item):
        return _resolve(value.obj, defined)
    if isinstance(value, dict):
        return {k: _resolve(v, defined) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, defined) for v in value
                if not isinstance(v, _Item) or evaluate(v.ifcond, defined)]
    return value


def schema_info(schema, defined):
    """The SchemaInfo list (plain JSON data) for the given conditions."""
    trees = Introspector(schema).run()
    return [_resolve(t, defined) for t in trees if evaluate(t.ifcond, defined)]


def conditions(schema):
    """Every condition name the schema mentions."""
    from .cond import names
    out = set()

    def add(c):
        names(c, out)
    for e in schema.entities:
        add(e.ifcond)
        for f in getattr(e, 'features', []):
            add(f.ifcond)
        for m in getattr(e, 'local_members', None) or []:
            add(m.ifcond)
        if isinstance(e, EnumType):
            for m in e.members:
                add(m.ifcond)
        v = getattr(e, 'variants', None)
        if v is not None:
            for var in v.variants:
                add(var.ifcond)
    return out


def to_text(info):
    """One SchemaInfo per line, inside a JSON array."""
    lines = [json.dumps(x, separators=(', ', ': ')) for x in info]
    return '[\n' + ',\n'.join(lines) + '\n]\n'


def _c_string(text):
    out = []
    for line in text.splitlines(True):
        esc = line.replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n')
        out.append('    "%s"' % esc)
    return '\n'.join(out)


def generate(schema, defined, outdir, prefix):
    info = schema_info(schema, defined)
    text = to_text(info)
    output.write(outdir, 'introspect.json', text)
    n_cmd = sum(1 for x in info if x['meta-type'] == 'command')
    n_ev = sum(1 for x in info if x['meta-type'] == 'event')
    h = output.banner(schema) + '''#pragma once
#include <glib.h>

G_BEGIN_DECLS

/* What query-qmp-schema returns for this schema (a JSON array, one
 * SchemaInfo per line), for the conditions the build named. */
extern const char %(p)s_introspect_json[];
extern const gsize %(p)s_introspect_json_len;
#define %(P)s_INTROSPECT_N_ENTRIES %(n)d
#define %(P)s_INTROSPECT_N_COMMANDS %(nc)d
#define %(P)s_INTROSPECT_N_EVENTS %(ne)d

G_END_DECLS
''' % dict(p=prefix, P=prefix.upper(), n=len(info), nc=n_cmd, ne=n_ev)
    c = output.banner(schema) + '''#include "%(p)s-introspect.h"

const char %(p)s_introspect_json[] =
%(body)s;
const gsize %(p)s_introspect_json_len = sizeof(%(p)s_introspect_json) - 1;
''' % dict(p=prefix, body=_c_string(text))
    output.write(outdir, '%s-introspect.h' % prefix, h)
    output.write(outdir, '%s-introspect.c' % prefix, c)
