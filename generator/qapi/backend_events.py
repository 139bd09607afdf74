# SPDX-License-Identifier: LGPL-2.1-or-later
"""Typed events: for each event a QmpEventDesc, a callback type and a
subscribe function, thin wrappers over qmp_subscribe_typed() in
libqmp/qmp-command.c.  Files: PREFIX-events.h/.c.

  typedef void (*QmpFooEventFunc)(QmpMonitor *mon, const QmpFooEvent *data,
                                  gint64 timestamp_us, const GError *error,
                                  gpointer user_data);
  guint qmp_subscribe_foo(QmpMonitor *mon, QmpFooEventFunc func,
                          gpointer user_data, GDestroyNotify destroy);

For events without data the callback has no data parameter.  data is valid
only during the callback; error is set (and data NULL) when QEMU's data did
not decode.  Unsubscribe with qmp_monitor_unsubscribe().
"""

from .cmodel import CModel
from .schema import c_name, camel_case
from . import output


def generate(schema, defined, outdir, prefix):
    m = CModel(schema, defined, prefix)
    P = prefix
    h = [output.banner(schema),
         '#pragma once\n\n#include "qmp-command.h"\n#include "%s-types.h"\n\n'
         'G_BEGIN_DECLS\n' % P]
    c = [output.banner(schema), '#include "%s-events.h"\n' % P]
    infos = []
    for ev in schema.events():
        if not m.present(ev):
            continue
        low = c_name(ev.name, False).lower()
        info = '%s_event_%s' % (P, low)
        fn = '%s_subscribe_%s' % (P, low)
        m.claim(fn, ev.pos, "event '%s'" % ev.name)
        functype = m.Camel + camel_case(ev.name.lower()) + 'EventFunc'
        data_t = ev.arg_type if ev.arg_type is not None and \
            (m.members(ev.arg_type) or ev.arg_type.variants) else None
        feats = {f.name for f in ev.features if m.present(f)}
        flags = []
        if 'deprecated' in feats:
            flags.append('QMP_COMMAND_DEPRECATED')
        if 'unstable' in feats:
            flags.append('QMP_COMMAND_UNSTABLE')
        since = ev.doc.since() if ev.doc else None
        desc = ev.doc.description() if ev.doc else ''
        comment = '/* %s: %s */\n' % (ev.name, ' '.join(desc.split()).replace('*/', '* /')) \
            if desc else ''
        infos.append(info)
        h.append('extern const QmpEventDesc %s;' % info)
        c.append('const QmpEventDesc %s = {\n    .name = "%s",\n    .data = %s,\n'
                 '    .flags = %s,\n    .since = %s,\n};\n'
                 % (info, ev.name, '&' + m.info_name(data_t) if data_t else 'NULL',
                    ' | '.join(flags) or '0', '"%s"' % since if since else 'NULL'))
        if data_t is not None:
            h.append('%stypedef void (*%s)(QmpMonitor *mon, const %s *data, '
                     'gint64 timestamp_us, const GError *error, gpointer user_data);'
                     % (comment, functype, m.type_cname(data_t)))
            h.append('guint %s(QmpMonitor *mon, %s func, gpointer user_data, '
                     'GDestroyNotify destroy);\n' % (fn, functype))
            c.append('guint %s(QmpMonitor *mon, %s func, gpointer user_data, '
                     'GDestroyNotify destroy)\n{\n'
                     '    return qmp_subscribe_typed(mon, &%s, '
                     '(QmpTypedEventFunc)(void (*)(void))func, user_data, destroy);\n}\n'
                     % (fn, functype, info))
        else:
            h.append('%stypedef void (*%s)(QmpMonitor *mon, gint64 timestamp_us, '
                     'gpointer user_data);' % (comment, functype))
            h.append('guint %s(QmpMonitor *mon, %s func, gpointer user_data, '
                     'GDestroyNotify destroy);\n' % (fn, functype))
            tramp = '%s_trampoline' % fn
            c.append('typedef struct { %s func; gpointer user_data; '
                     'GDestroyNotify destroy; } %sClosure;\n'
                     % (functype, functype))
            c.append('static void\n%s_free(gpointer data)\n{\n'
                     '    %sClosure *cl = data;\n'
                     '    if (cl->destroy != NULL)\n        cl->destroy(cl->user_data);\n'
                     '    g_free(cl);\n}\n' % (tramp, functype))
            c.append('static void\n%s(QmpMonitor *mon, gconstpointer data, '
                     'gint64 timestamp_us, const GError *error, gpointer user_data)\n{\n'
                     '    %sClosure *cl = user_data;\n'
                     '    (void)data;\n    (void)error;\n'
                     '    cl->func(mon, timestamp_us, cl->user_data);\n}\n'
                     % (tramp, functype))
            c.append('guint %s(QmpMonitor *mon, %s func, gpointer user_data, '
                     'GDestroyNotify destroy)\n{\n'
                     '    %sClosure *cl = g_new0(%sClosure, 1);\n'
                     '    cl->func = func;\n    cl->user_data = user_data;\n'
                     '    cl->destroy = destroy;\n'
                     '    return qmp_subscribe_typed(mon, &%s, %s, cl, %s_free);\n}\n'
                     % (fn, functype, functype, functype, info, tramp, tramp))
    h.append('/* Every event above, in schema order, NULL-terminated. */\n'
             'extern const QmpEventDesc *const %s_events_all[];\n' % P)
    c.append('const QmpEventDesc *const %s_events_all[] = {\n%s    NULL\n};\n'
             % (P, ''.join('    &%s,\n' % i for i in infos)))
    h.append('\nG_END_DECLS\n')
    output.write(outdir, '%s-events.h' % P, '\n'.join(h))
    output.write(outdir, '%s-events.c' % P, '\n'.join(c))
