# SPDX-License-Identifier: LGPL-2.1-or-later
"""JSON codecs: a typed decoder and encoder per object and alternate type,
thin wrappers over the table-driven runtime in libqmp/qmp-codec.c.
Files: PREFIX-codecs.h and PREFIX-codecs.c (need PREFIX-types.h)."""

from .cmodel import CModel
from .schema import AlternateType, ObjectType
from . import output


def generate(schema, defined, outdir, prefix):
    m = CModel(schema, defined, prefix)
    h = [output.banner(schema),
         '#pragma once\n\n#include "%s-types.h"\n\nG_BEGIN_DECLS\n\n'
         '/* Decoders return a new value the caller frees; on a mismatch they '
         'return\n * FALSE and set a QMP_ERROR_DECODE error that names the '
         'JSON path.\n * Encoders write one JSON value with yajl_gen and '
         'borrow their input. */\n' % prefix]
    c = [output.banner(schema), '#include "%s-codecs.h"\n' % prefix]
    for t in m.c_types():
        if not isinstance(t, (ObjectType, AlternateType)):
            continue
        d = dict(s=m.func_stem(t), c=m.type_cname(t), i=m.info_name(t))
        h.append('gboolean %(s)s_decode(const QmpJson *json, QmpDecodeFlags '
                 'flags, %(c)s **out, GError **error);\n'
                 'gboolean %(s)s_encode(const %(c)s *value, yajl_gen gen, '
                 'GError **error);\n' % d)
        c.append('gboolean %(s)s_decode(const QmpJson *json, QmpDecodeFlags '
                 'flags, %(c)s **out, GError **error)\n{\n'
                 '    return qmp_value_decode(&%(i)s, json, flags, "", '
                 '(gpointer *)out, error);\n}\n'
                 'gboolean %(s)s_encode(const %(c)s *value, yajl_gen gen, '
                 'GError **error)\n{\n'
                 '    return qmp_value_encode(&%(i)s, value, gen, error);\n}\n'
                 % d)
    h.append('\nG_END_DECLS\n')
    output.write(outdir, '%s-codecs.h' % prefix, '\n'.join(h))
    output.write(outdir, '%s-codecs.c' % prefix, '\n'.join(c))
