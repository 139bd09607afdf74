/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qmp-replay-server.h: replaying QEMU's side of a recorded conversation on a
 * socket.
 *
 *   g_autoptr(QmpReplay) rec = qmp_replay_load("negotiation.jsonl", &error);
 *   QmpReplayServer *s = qmp_replay_server_new(rec, QMP_REPLAY_STRICT, NULL);
 *   qmp_replay_server_serve_fd(s, fds[0], &error);      // one end of a socketpair
 *   qmp_monitor_connect_fd(mon, fds[1], &error);        // the other end
 *   ... talk to mon on the same GMainContext ...
 *   qmp_replay_server_finish(s, &error);                // all used? no mismatch?
 *   qmp_replay_server_free(s);
 *
 * Threads: there are none.  A server belongs to the GMainContext given to
 * qmp_replay_server_new() (NULL: the thread-default context at that moment)
 * and does all its I/O from sources attached to it, without ever blocking,
 * so a QmpMonitor on the same context in the same thread can talk to it
 * (sync monitor calls iterate that context and so drive the server too).
 *
 * Ownership: a server holds a reference to its recording.  Functions
 * returning `const` pointers lend memory owned by the server.  Errors are
 * QMP_ERROR (qmp-error.h).
 *
 * Schema validation: every command a client sends is checked against a
 * SchemaInfo list (query-qmp-schema format).  The default is the
 * recording's own query-qmp-schema reply when it holds one (the QEMU that
 * was recorded, so a 4.2 recording accepts what 4.2 had), else the
 * project's own schema (qmp_introspect_json, generated from schema/).
 * qmp_replay_server_set_schema() and qmp_replay_server_set_schema_check()
 * choose another (NULL: no validation).  A command the schema does not know
 * is accepted only when the recording answers it with CommandNotFound (the
 * client is probing for it and QEMU said no).
 *
 * Answers QEMU would give: in lenient mode a command that is neither in
 * the schema nor in the recording gets CommandNotFound ("The command X has
 * not been found"), as from QEMU, and is not a failure.
 *
 * Secrets: the recorder writes secret values as QMP_REPLAY_REDACTED; a
 * recorded command holding that string matches any value the client sends
 * in its place, so a recording replays to the client that made it.
 *
 * Failures name the client's message by its position in the connection
 * (the first message sent after the greeting is command 1).
 */
#pragma once

#include <glib.h>
#include "qmp-recording.h"
#include "qmp-schema-check.h"
#include "qmp-export.h"

G_BEGIN_DECLS
QMP_BEGIN_PUBLIC

/* The string a recorded secret is replaced with (see qmp-monitor.h). */
#define QMP_REPLAY_REDACTED "<redacted>"

typedef enum {
    /* Commands must come in the recorded order and equal the recorded ones
     * (ids normalized, member order ignored, absent arguments equal to {}).
     * A mismatch is answered with a GenericError and the connection closed. */
    QMP_REPLAY_STRICT,
    /* A command is answered by the reply of an equal recorded command
     * wherever it is (first unused one; when all are used, the last one). */
    QMP_REPLAY_LENIENT,
} QmpReplayMatch;

typedef struct _QmpReplayServer QmpReplayServer;

QmpReplayServer *qmp_replay_server_new(QmpReplay *rec, QmpReplayMatch mode,
                                       GMainContext *context);
/* Validate against schema_info_list (a SchemaInfo array; copied), or with
 * NULL switch validation off. */
void qmp_replay_server_set_schema(QmpReplayServer *s,
                                  const QmpJson *schema_info_list);
/* Validate with a checker built once by the caller (qmp-schema-check.h),
 * e.g. shared by many servers; borrowed: it must outlive the server. */
void qmp_replay_server_set_schema_check(QmpReplayServer *s,
                                        const QmpSchemaCheck *check);
/* Validate against the recording's own query-qmp-schema reply; FALSE (and
 * nothing changed) when it has none. */
gboolean qmp_replay_server_use_recorded_schema(QmpReplayServer *s);

/* Serve one client on fd (a connected stream socket; ownership taken, also
 * on failure).  The greeting (recorded, or made up from query-version when
 * the recording has none) is sent at once.  One connection per server. */
gboolean qmp_replay_server_serve_fd(QmpReplayServer *s, int fd,
                                    GError **error);

/* TRUE when the connection is over: the client closed it, the server closed
 * it after a failure, or (strict) every recorded message was sent. */
gboolean qmp_replay_server_is_done(QmpReplayServer *s);

/* The verdict: FALSE with QMP_ERROR_FAILED and a readable report (the diff
 * of expected vs got, schema faults, unused recorded commands in strict
 * mode) when anything went wrong.  May be called more than once. */
gboolean qmp_replay_server_finish(QmpReplayServer *s, GError **error);

/* Counters for reports and benchmarks. */
guint qmp_replay_server_get_n_commands(QmpReplayServer *s); /* answered */
guint qmp_replay_server_get_n_sent(QmpReplayServer *s);     /* messages sent */

/* Closes the connection (if any) and frees; NULL-safe. */
void qmp_replay_server_free(QmpReplayServer *s);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(QmpReplayServer, qmp_replay_server_free)

QMP_END_PUBLIC
G_END_DECLS
