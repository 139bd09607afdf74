# SPDX-License-Identifier: LGPL-2.1-or-later
"""Reference documentation from the schema's doc comments: one page for
every command and event with its arguments, return value, the C functions
to call and the QEMU version each appeared in.  Files: PREFIX-reference.md
(Markdown) and PREFIX-schema.7 (a man page)."""

import os

from .cmodel import CModel
from .schema import (AlternateType, ArrayType, BuiltinType, EnumType,
                     ObjectType, c_name)
from . import output


def _type_text(t):
    if t is None:
        return 'nothing'
    if isinstance(t, ArrayType):
        return 'array of ' + _type_text(t.element)
    if isinstance(t, BuiltinType):
        return t.name  # 'str', 'int', ...: builtins count as implicit too
    if t.is_implicit():
        return 'object'
    return t.name


class DocsGen:
    def __init__(self, schema, defined, prefix):
        self.schema = schema
        self.m = CModel(schema, defined, prefix)

    def members_of(self, t):
        if t is None or not isinstance(t, ObjectType):
            return []
        return self.m.members(t)

    def entries(self):
        """(kind, entity, [(name, type, optional, text, since)], extra)"""
        out = []
        m = self.m
        for ent in self.schema.module_order_entities():
            if not m.present(ent):
                continue
            meta = ent.meta
            if meta not in ('command', 'event'):
                continue
            args = ent.arg_type
            doc = ent.doc
            rows = []
            for mem in self.members_of(args):
                text = doc.args.get(mem.name, '') if doc else ''
                rows.append((mem.name, _type_text(mem.type), mem.optional,
                             text, doc.member_since(mem.name) if doc else None))
            out.append((meta, ent, rows))
        return out

    def c_api(self, meta, ent):
        low = c_name(ent.name, False).lower()
        P = self.m.prefix
        if meta == 'command':
            return ['%s_%s()' % (P, low), '%s_%s_async()' % (P, low),
                    '%s_%s_finish()' % (P, low)]
        return ['%s_subscribe_%s()' % (P, low)]

    def markdown(self):
        out = ['# QMP reference\n',
               'Generated from `%s` by qapi-gen: every command and event this '
               'schema describes, with the C functions that call it.\n'
               % os.path.basename(self.schema.fname)]
        for meta, ent, rows in self.entries():
            doc = ent.doc
            out.append('## %s `%s`\n' % (meta, ent.name))
            if doc is not None and doc.description():
                out.append(doc.description() + '\n')
            if rows:
                out.append('| %s | type | | description |' %
                           ('argument' if meta == 'command' else 'data'))
                out.append('|---|---|---|---|')
                for name, typ, opt, text, since in rows:
                    out.append('| `%s` | %s | %s | %s |' % (
                        name, typ, 'optional' if opt else '',
                        ' '.join(text.split()).replace('|', '\\|')))
                out.append('')
            if meta == 'command':
                out.append('Returns: %s.\n' % _type_text(ent.ret_type))
                if ent.allow_oob:
                    out.append('May be sent out of band (exec-oob).\n')
            feats = [f.name for f in ent.features if self.m.present(f)]
            if feats:
                out.append('Features: %s.\n' % ', '.join(feats))
            if doc is not None and doc.since():
                out.append('Since: QEMU %s.\n' % doc.since())
            out.append('C: %s\n' % ', '.join('`%s`' % f
                                              for f in self.c_api(meta, ent)))
        return '\n'.join(out)

    def man(self):
        def esc(s):
            s = s.replace('\\', '\\e')
            return '\n'.join(('\\&' + l if l.startswith(('.', "'")) else l)
                             for l in s.splitlines())
        # no path of the build machine: the page is byte-identical wherever
        # the schema is checked out
        P = self.m.prefix
        out = ['.TH %s-SCHEMA 7 "" "qmpkit" "qmpkit reference"' % P.upper(),
               '.SH NAME', '%s-schema \\- the QMP commands and events ' % P +
               'qmpkit ships bindings for',
               '.SH DESCRIPTION',
               'Generated from %s by qapi-gen.  The C functions named below '
               'are declared in qmp-commands.h and qmp-events.h; see '
               'qmpkit(3).' % esc(os.path.basename(self.schema.fname))]
        for section in ('command', 'event'):
            out.append('.SH %sS' % section.upper())
            for meta, ent, rows in self.entries():
                if meta != section:
                    continue
                out.append('.SS %s' % esc(ent.name))
                doc = ent.doc
                if doc is not None and doc.description():
                    out.append(esc(' '.join(doc.description().split())))
                for name, typ, opt, text, since in rows:
                    out.append('.TP')
                    out.append('.B %s' % esc(name) + (' (optional)' if opt else ''))
                    out.append(esc('%s. %s' % (typ, ' '.join(text.split()))))
                if meta == 'command':
                    out.append('.PP')
                    out.append('Returns: %s.' % esc(_type_text(ent.ret_type)))
                out.append('.PP')
                since = ''
                if doc is not None and doc.since():
                    since = 'Since QEMU %s. ' % esc(doc.since())
                out.append('%sC: %s.' % (since,
                                         ', '.join(self.c_api(meta, ent))))
        out += ['.SH SEE ALSO', 'qmpkit(3)']
        return '\n'.join(out) + '\n'


def generate(schema, defined, outdir, prefix):
    g = DocsGen(schema, defined, prefix)
    output.write(outdir, '%s-reference.md' % prefix, g.markdown())
    output.write(outdir, '%s-schema.7' % prefix, g.man())
