# SPDX-License-Identifier: LGPL-2.1-or-later
"""Typed command wrappers: for each command a QmpCommandDesc table, a sync
call and an async call with its _finish, all thin wrappers over
qmp_call_typed() in libqmp/qmp-command.c.  Files: PREFIX-commands.h/.c.

Signatures, for command 'foo-bar' with arguments and a return value:

  T   qmp_foo_bar (QmpMonitor *mon, const QmpFooBarArgs *args, GError **error);
  void qmp_foo_bar_async (QmpMonitor *mon, const QmpFooBarArgs *args,
                          GCancellable *c, GAsyncReadyCallback cb, gpointer ud);
  T   qmp_foo_bar_finish (QmpMonitor *mon, GAsyncResult *res, GError **error);

- no arguments: the args parameter is left out; boxed commands take the
  boxed type;
- returns an object, alternate, str or any: T is that pointer (NULL on
  error); an array: T is the element pointer array and a `gsize *n_result`
  parameter comes before error; a scalar (int, bool, number, enum): the call
  returns gboolean and stores the value in a `result` out-parameter; no
  return: gboolean.
- commands QEMU documents as taking a file descriptor over the socket
  (getfd, add-fd) take an `int fd` parameter after args;
- commands without a success response (guest agent only) get no wrapper:
  nothing would ever answer them.
"""

from .cmodel import CModel
from .schema import ArrayType, BuiltinType, EnumType, c_name
from . import output

FD_COMMANDS = frozenset(['getfd', 'add-fd'])


class CommandGen:
    def __init__(self, schema, defined, prefix):
        self.m = CModel(schema, defined, prefix)
        self.schema = schema

    def ret_shape(self, cmd):
        """(C return type, extra params, result storage decl, how to return)"""
        m = self.m
        t = cmd.ret_type
        if t is None:
            return 'gboolean', '', None
        if isinstance(t, ArrayType):
            el = m.ctype(t.element)
            sep = '' if el.endswith('*') else ' '
            return el + sep + '*', 'gsize *n_result, ', 'array'
        if isinstance(t, BuiltinType) and t.kind in ('STR', 'ANY') or \
                not isinstance(t, (BuiltinType, EnumType)):
            return m.ctype(t), '', 'pointer'
        ct = m.ctype(t)
        return 'gboolean', '%s *result, ' % ct, 'scalar'

    def run(self):
        m = self.m
        P = m.prefix
        h = [output.banner(self.schema),
             '#pragma once\n\n#include "qmp-command.h"\n#include "%s-types.h"\n\n'
             'G_BEGIN_DECLS\n\n'
             '/* Ownership: arguments are borrowed; results are new and the '
             'caller frees\n * them (arrays: each element with its _free, '
             'then g_free the array).\n * Threads: as qmp-monitor.h.  Sync '
             'calls wait for the reply with the monitor\'s\n * default '
             'timeout; async calls complete in the monitor\'s context. */\n'
             % P]
        c = [output.banner(self.schema),
             '#include "%s-commands.h"\n' % P]
        infos = []
        for cmd in self.schema.commands():
            if not m.present(cmd) or not cmd.success_response:
                continue
            infos.append(self.gen_command(cmd, h, c))
        h.append('/* Every command above, in schema order, NULL-terminated. */\n'
                 'extern const QmpCommandDesc *const %s_commands_all[];\n' % P)
        c.append('const QmpCommandDesc *const %s_commands_all[] = {\n%s    NULL\n};\n'
                 % (P, ''.join('    &%s,\n' % i for i in infos)))
        h.append('\nG_END_DECLS\n')
        output.write(self.outdir, '%s-commands.h' % P, '\n'.join(h))
        output.write(self.outdir, '%s-commands.c' % P, '\n'.join(c))

    def gen_command(self, cmd, h, c):
        m = self.m
        fn = m.prefix + '_' + c_name(cmd.name, False).lower()
        m.claim(fn, cmd.pos, "command '%s'" % cmd.name)
        info = '%s_command_%s' % (m.prefix, c_name(cmd.name, False).lower())
        flags = []
        if cmd.allow_oob:
            flags.append('QMP_COMMAND_ALLOW_OOB')
        feats = {f.name for f in cmd.features if m.present(f)}
        if 'deprecated' in feats:
            flags.append('QMP_COMMAND_DEPRECATED')
        if 'unstable' in feats:
            flags.append('QMP_COMMAND_UNSTABLE')
        if cmd.ret_type is not None:
            flags.append('QMP_COMMAND_HAS_RETURN')
        ret_vi = m.value_info(cmd.ret_type) if cmd.ret_type else \
            '{ QMP_KIND_NULL, QMP_KIND_INT8, NULL }'
        since = cmd.doc.since() if cmd.doc else None
        args_t = cmd.arg_type if cmd.arg_type is not None and \
            (m.members(cmd.arg_type) or cmd.arg_type.variants) else None
        h.append('extern const QmpCommandDesc %s;' % info)
        c.append('const QmpCommandDesc %s = {\n'
                 '    .name = "%s",\n    .args = %s,\n    .ret = %s,\n'
                 '    .flags = %s,\n    .since = %s,\n};\n'
                 % (info, cmd.name,
                    '&' + m.info_name(args_t) if args_t else 'NULL', ret_vi,
                    ' | '.join(flags) or '0',
                    '"%s"' % since if since else 'NULL'))
        ret_c, ret_param, shape = self.ret_shape(cmd)
        args_param = ('const %s *args, ' % m.type_cname(args_t)) if args_t else ''
        args_val = 'args' if args_t else 'NULL'
        fd = cmd.name in FD_COMMANDS
        fd_param = 'int fd, ' if fd else ''
        fds = '&fd, 1' if fd else 'NULL, 0'
        doc = self.doc_comment(cmd)
        # sync
        rsep = '' if ret_c.endswith('*') else ' '
        proto = '%s%s%s(QmpMonitor *mon, %s%s%sGError **error)' % (
            ret_c, rsep, fn, args_param, fd_param, ret_param)
        h.append(doc + proto + ';')
        if shape in (None, 'scalar'):
            out, nout = ('result', 'NULL') if shape == 'scalar' else ('NULL', 'NULL')
            body = ('    return qmp_call_typed(mon, &%s, %s, %s, %s, %s, error);'
                    % (info, args_val, fds, out, nout))
        else:
            nout = 'n_result' if shape == 'array' else 'NULL'
            body = ('    %sresult = NULL;\n'
                    '    if (!qmp_call_typed(mon, &%s, %s, %s, &result, %s, error))\n'
                    '        return NULL;\n    return result;'
                    % (ret_c + ('' if ret_c.endswith('*') else ' '), info,
                       args_val, fds, nout))
        c.append('%s\n{\n%s\n}\n' % (proto, body))
        # async
        aproto = ('void %s_async(QmpMonitor *mon, %s%sGCancellable *cancellable, '
                  'GAsyncReadyCallback callback, gpointer user_data)'
                  % (fn, args_param, fd_param))
        h.append(aproto + ';')
        c.append('%s\n{\n    qmp_call_typed_async(mon, &%s, %s, %s, cancellable, '
                 'callback, user_data);\n}\n' % (aproto, info, args_val, fds))
        fproto = '%s%s%s_finish(QmpMonitor *mon, GAsyncResult *res, %sGError **error)' % (
            ret_c, rsep, fn, ret_param)
        h.append(fproto + ';\n')
        if shape in (None, 'scalar'):
            out = 'result' if shape == 'scalar' else 'NULL'
            fbody = ('    return qmp_call_typed_finish(mon, &%s, res, %s, NULL, error);'
                     % (info, out))
        else:
            nout = 'n_result' if shape == 'array' else 'NULL'
            fbody = ('    %sresult = NULL;\n'
                     '    if (!qmp_call_typed_finish(mon, &%s, res, &result, %s, error))\n'
                     '        return NULL;\n    return result;'
                     % (ret_c + ('' if ret_c.endswith('*') else ' '), info, nout))
        c.append('%s\n{\n%s\n}\n' % (fproto, fbody))
        return info

    def doc_comment(self, cmd):
        doc = cmd.doc
        lines = ['%s:' % cmd.name]
        if doc is not None:
            desc = doc.description()
            if desc:
                lines += ['  ' + l if l else '' for l in desc.splitlines()]
            s = doc.since()
            if s:
                lines.append('  Since QEMU %s.' % s)
        if cmd.allow_oob:
            lines.append('  Sent with exec-oob when the monitor negotiated OOB.')
        text = '\n'.join(' * ' + l if l else ' *' for l in lines)
        return '/*\n%s\n */\n' % text.replace('*/', '* /')


def generate(schema, defined, outdir, prefix):
    g = CommandGen(schema, defined, prefix)
    g.outdir = outdir
    g.run()
