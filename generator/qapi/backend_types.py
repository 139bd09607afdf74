# SPDX-License-Identifier: LGPL-2.1-or-later
"""C types: enums with string tables, structs, unions and alternates laid
out as libqmp/qmp-type-info.h describes, the QmpTypeInfo table of each, and
_free/_copy/_equal functions with g_autoptr support.  Files:
PREFIX-types.h and PREFIX-types.c."""

from .cmodel import CModel
from .schema import (AlternateType, ArrayType, BuiltinType, EnumType,
                     ObjectType, c_name)
from .source import SchemaError
from . import output


class TypesGen:
    def __init__(self, schema, defined, prefix):
        self.m = CModel(schema, defined, prefix)
        self.schema = schema
        self.h = []
        self.c = []

    # -- struct fields -------------------------------------------------------
    def fields(self, members, indent, owner, taken):
        m = self.m
        out = []

        def field(decl, name, pos):
            if name in taken:
                raise SchemaError(pos, "member '%s' of '%s' needs the C field "
                                  "name '%s', which is taken" % (
                                      decl, owner.name, name))
            taken.add(name)

        for mem in members:
            t = mem.type
            cn = c_name(mem.name)
            pos = mem.pos or owner.pos
            if m.needs_has(t, mem.optional):
                hn = 'has_' + c_name(mem.name, False)
                field(mem.name, hn, pos)
                out.append('%sgboolean %s;' % (indent, hn))
            field(mem.name, cn, pos)
            if isinstance(t, ArrayType):
                el = m.ctype(t.element)
                out.append('%s%s%s*%s;' % (indent, el, '' if el.endswith('*')
                                           else ' ', cn))
                nn = 'n_' + c_name(mem.name, False)
                field(mem.name, nn, pos)
                out.append('%sgsize %s;' % (indent, nn))
            else:
                ct = m.ctype(t)
                out.append('%s%s%s%s;' % (indent, ct, '' if ct.endswith('*')
                                          else ' ', cn))
        return out

    # -- per kind --------------------------------------------------------------
    def gen_enum(self, t):
        m = self.m
        name = m.type_cname(t)
        m.claim(name, t.pos, "enum '%s'" % t.name)
        values = m.enum_values(t)
        lines = ['typedef enum {',
                 '    %s__UNKNOWN = -1,' % m.enum_const_prefix(t)]
        for v in values:
            const = m.enum_const(t, v.name)
            m.claim(const, v.pos or t.pos, "value '%s' of enum '%s'"
                    % (v.name, t.name))
            lines.append('    %s,' % const)
        lines.append('    %s__MAX' % m.enum_const_prefix(t))
        lines.append('} %s;' % name)
        self.h_enums.append('\n'.join(lines) + '\n')
        stem = m.func_stem(t)
        self.h_decls.append(
            'extern const QmpTypeInfo %s;\n'
            'const char *%s_to_string(%s value);\n'
            '%s %s_from_string(const char *str);\n'
            % (m.info_name(t), stem, name, name, stem))
        strs = ''.join('    "%s",\n' % v.name for v in values)
        self.c.append(
            'static const char *const %(s)s_values[] = {\n%(v)s    NULL\n};\n'
            'const QmpTypeInfo %(i)s = {\n'
            '    .name = "%(n)s", .klass = QMP_TYPE_ENUM, .flags = %(f)s,\n'
            '    .enum_values = %(s)s_values, .n_enum_values = %(k)d,\n'
            '    .discriminator = -1,\n'
            '};\n'
            'const char *%(s)s_to_string(%(c)s value)\n'
            '{\n    return qmp_enum_to_string(&%(i)s, value);\n}\n'
            '%(c)s %(s)s_from_string(const char *str)\n'
            '{\n    return (%(c)s)qmp_enum_from_string(&%(i)s, str);\n}\n'
            % dict(s=stem, v=strs, i=m.info_name(t), n=t.name, k=len(values),
                   c=name, f=m.flags(t.features)))

    def member_infos(self, t, members, cname):
        m = self.m
        rows = []
        for mem in members:
            mt = mem.type
            cn = c_name(mem.name)
            has = ('(gint32)offsetof(%s, has_%s)' % (cname, c_name(mem.name, False))
                   if m.needs_has(mt, mem.optional) else '-1')
            ln = ('(gint32)offsetof(%s, n_%s)' % (cname, c_name(mem.name, False))
                  if isinstance(mt, ArrayType) else '-1')
            since = m.member_since(mem)
            rows.append('    { "%s", %s, offsetof(%s, %s), %s, %s, %s, %s },'
                        % (mem.name, m.value_info(mt), cname, cn, has, ln,
                           m.flags(mem.features, mem.optional, mem.name),
                           '"%s"' % since if since else 'NULL'))
        return rows

    def gen_object(self, t):
        m = self.m
        cname = m.type_cname(t)
        m.claim(cname, t.pos, "type '%s'" % t.name)
        members = m.members(t)
        body = self.fields(members, '    ', t, set(['u']))
        branches = m.nonempty_branches(t) if t.variants else []
        deps = []
        if branches:
            body.append('    union {')
            for v in branches:
                bt = v.type
                body.append('        %s %s;' % (m.type_cname(bt), c_name(v.name)))
                deps.append(bt)
            body.append('    } u;')
        if not body:
            body.append('    char _empty; /* QAPI allows empty objects; C '
                        'does not */')
        self.structs.append((t, deps, 'struct _%s {\n%s\n};\n'
                             % (cname, '\n'.join(body))))
        self.forward.append('typedef struct _%s %s;' % (cname, cname))
        rows = self.member_infos(t, members, cname)
        stem = m.func_stem(t)
        info = m.info_name(t)
        disc = -1
        variants_rows = []
        if t.variants:
            tag = t.variants.tag_member
            disc = [x.name for x in members].index(tag.name)
            values = [x.name for x in m.enum_values(tag.type)]
            for v in m.variants(t):
                empty = m.is_empty_object(v.type)
                variants_rows.append(
                    '    { "%s", %d, { QMP_KIND_OBJECT, QMP_KIND_INT8, %s }, 0 },'
                    % (v.name, values.index(v.name),
                       'NULL' if empty else '&' + m.info_name(v.type)))
        self.emit_info(t, cname, info, rows, disc, variants_rows,
                       'offsetof(%s, u)' % cname if branches else '0',
                       'QMP_TYPE_OBJECT')
        self.emit_funcs(t, cname, stem, info)

    def gen_alternate(self, t):
        m = self.m
        cname = m.type_cname(t)
        m.claim(cname, t.pos, "alternate '%s'" % t.name)
        kind_t = m.alt_kind_type(t)
        variants = m.variants(t)
        lines = ['typedef enum {']
        for v in variants:
            const = m.alt_kind_const(t, v.name)
            m.claim(const, v.pos or t.pos, "branch '%s' of '%s'" % (v.name, t.name))
            lines.append('    %s,' % const)
        lines.append('} %s;' % kind_t)
        self.h_enums.append('\n'.join(lines) + '\n')
        body = ['    %s kind;' % kind_t, '    union {']
        for v in variants:
            bt = v.type
            if isinstance(bt, ArrayType):
                el = m.ctype(bt.element)
                body.append('        struct { %s%s*data; gsize n; } %s;'
                            % (el, '' if el.endswith('*') else ' ',
                               c_name(v.name)))
            else:
                ct = m.ctype(bt)
                body.append('        %s%s%s;' % (ct, '' if ct.endswith('*')
                                                 else ' ', c_name(v.name)))
        body.append('    } u;')
        self.structs.append((t, [], 'struct _%s {\n%s\n};\n'
                             % (cname, '\n'.join(body))))
        self.forward.append('typedef struct _%s %s;' % (cname, cname))
        rows = []
        for i, v in enumerate(variants):
            rows.append('    { "%s", %d, %s, 0 },' % (v.name, i,
                                                     m.value_info(v.type)))
        info = m.info_name(t)
        self.emit_info(t, cname, info, [], -1, rows,
                       'offsetof(%s, u)' % cname, 'QMP_TYPE_ALTERNATE')
        self.emit_funcs(t, cname, m.func_stem(t), info)

    def emit_info(self, t, cname, info, member_rows, disc, variant_rows,
                  voff, klass):
        m = self.m
        stem = m.func_stem(t)
        if member_rows:
            self.c.append('static const QmpMemberInfo %s_members[] = {\n%s\n};\n'
                          % (stem, '\n'.join(member_rows)))
        if variant_rows:
            self.c.append('static const QmpVariantInfo %s_variants[] = {\n%s\n};\n'
                          % (stem, '\n'.join(variant_rows)))
        self.c.append(
            'const QmpTypeInfo %s = {\n'
            '    .name = "%s", .klass = %s, .size = sizeof(%s), .flags = %s,\n'
            '    .members = %s, .n_members = %d, .discriminator = %d,\n'
            '    .variants_offset = %s, .variants = %s, .n_variants = %d,\n'
            '};\n' % (info, t.name, klass, cname, m.flags(t.features),
                      '%s_members' % stem if member_rows else 'NULL',
                      len(member_rows), disc, voff,
                      '%s_variants' % stem if variant_rows else 'NULL',
                      len(variant_rows)))

    def emit_funcs(self, t, cname, stem, info):
        self.m.claim(stem + '_free', t.pos, "type '%s'" % t.name)
        self.h_decls.append(
            'extern const QmpTypeInfo %(i)s;\n'
            'void %(s)s_free(%(c)s *value);\n'
            '%(c)s *%(s)s_copy(const %(c)s *value);\n'
            'gboolean %(s)s_equal(const %(c)s *a, const %(c)s *b);\n'
            'G_DEFINE_AUTOPTR_CLEANUP_FUNC(%(c)s, %(s)s_free)\n'
            % dict(i=info, s=stem, c=cname))
        self.c.append(
            'void %(s)s_free(%(c)s *value)\n'
            '{\n    qmp_value_free(&%(i)s, value);\n}\n'
            '%(c)s *%(s)s_copy(const %(c)s *value)\n'
            '{\n    return qmp_value_copy(&%(i)s, value);\n}\n'
            'gboolean %(s)s_equal(const %(c)s *a, const %(c)s *b)\n'
            '{\n    return qmp_value_equal(&%(i)s, a, b);\n}\n'
            % dict(i=info, s=stem, c=cname))

    def ordered_structs(self):
        """Struct definitions so that every by-value branch comes first."""
        by_type = {id(t): (t, deps, text) for t, deps, text in self.structs}
        done = set()
        out = []

        def visit(t, stack):
            if id(t) in done:
                return
            if id(t) in stack:
                raise SchemaError(t.pos, "'%s' embeds itself" % t.name)
            _, deps, text = by_type[id(t)]
            for d in deps:
                visit(d, stack | {id(t)})
            done.add(id(t))
            out.append(text)
        for t, _, _ in self.structs:
            visit(t, frozenset())
        return out

    def run(self):
        m = self.m
        self.h_enums = []
        self.h_decls = []
        self.forward = []
        self.structs = []
        for t in m.c_types():
            if isinstance(t, EnumType):
                self.gen_enum(t)
            elif isinstance(t, ObjectType):
                self.gen_object(t)
            elif isinstance(t, AlternateType):
                self.gen_alternate(t)
        P = m.prefix
        guard = output.banner(self.schema)
        h = [guard, '#pragma once\n\n#include <glib.h>\n#include <stddef.h>\n'
             '#include "qmp-type-info.h"\n\nG_BEGIN_DECLS\n\n'
             '/* Ownership: a value owns every string, array, nested object '
             'and JSON\n * document it points to; _free releases all of '
             'it and accepts NULL. */\n\n']
        h += self.h_enums
        h.append('\n'.join(self.forward) + '\n\n')
        h += self.ordered_structs()
        h.append('\n')
        h += self.h_decls
        h.append('\nG_END_DECLS\n')
        c = [guard, '#include "%s-types.h"\n\n' % P] + self.c
        h.insert(-1, '/* The members marked secret in the schema (feature \'secret\'):\n'
                 ' * what trace and record redaction hides.  Ends with a NULL name. */\n'
                 'extern const QmpSecretMember %s_secret_members[];\n' % P)
        rows = ['    { "%s", %s, %s },' % (n, '"%s"' % d if d else 'NULL',
                                          '"%s"' % v if v else 'NULL')
                for n, d, v in m.secret_members()]
        c.append('const QmpSecretMember %s_secret_members[] = {\n%s'
                 '    { NULL, NULL, NULL },\n};\n'
                 % (P, ''.join(r + '\n' for r in rows)))
        output.write(self.outdir, '%s-types.h' % P, '\n'.join(h))
        output.write(self.outdir, '%s-types.c' % P, '\n'.join(c))


def generate(schema, defined, outdir, prefix):
    g = TypesGen(schema, defined, prefix)
    g.outdir = outdir
    g.run()
