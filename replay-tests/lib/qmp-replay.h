/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qmp-replay.h: recording QMP conversations and replaying QEMU's side of
 * them (see docs/recording-format.md for the file format).
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
 * Ownership: QmpReplay is reference counted; a server holds a reference to
 * its recording.  Functions returning `const` pointers lend memory owned by
 * the recording or server.  Errors are QMP_ERROR (qmp-error.h).
 *
 * Schema validation: every command a client sends is checked against a
 * SchemaInfo list (query-qmp-schema format).  The default is the project's
 * own schema (qmp_introspect_json, generated from schema/).  Recordings of
 * commands that schema lacks (libvirt's probes, migration) need another
 * schema: qmp_replay_server_set_schema() or, usually best,
 * qmp_replay_server_use_recorded_schema() (the query-qmp-schema reply found
 * in the recording itself).  A command the schema does not know is accepted
 * only when the recording answers it with CommandNotFound (the client is
 * probing for it and QEMU said no).
 */
#pragma once

#include <glib.h>
#include "qmp-json.h"
#include "qmp-error.h"
#include "qmp-monitor.h"
#include "qmp-schema-check.h"

G_BEGIN_DECLS

/* ---- a loaded recording --------------------------------------------------- */

typedef struct _QmpReplay QmpReplay;

typedef enum {
    QMP_REPLAY_MSG_GREETING, /* {"QMP": ...} */
    QMP_REPLAY_MSG_COMMAND,  /* {"execute"|"exec-oob": ...} */
    QMP_REPLAY_MSG_REPLY,    /* {"return"|"error": ...} */
    QMP_REPLAY_MSG_EVENT,    /* {"event": ...} */
    QMP_REPLAY_MSG_OTHER,
} QmpReplayMsgKind;

/* Load a recording: our JSON Lines format, or libvirt's .replies format
 * (blank-line separated pretty-printed JSON, commands and replies only),
 * detected from the content. */
QmpReplay *qmp_replay_load(const char *path, GError **error);
/* The same from memory; name is used in messages (may be NULL). */
QmpReplay *qmp_replay_load_data(const char *data, gsize len, const char *name,
                                GError **error);
QmpReplay *qmp_replay_ref(QmpReplay *rec);
void qmp_replay_unref(QmpReplay *rec); /* NULL-safe */

/* "qmpkit" or "libvirt-replies". */
const char *qmp_replay_get_format(const QmpReplay *rec);
/* The header's "peer" (NULL when none). */
const char *qmp_replay_get_peer(const QmpReplay *rec);
guint qmp_replay_get_n_messages(const QmpReplay *rec);
/* Message i: its JSON, and (each may be NULL) its direction (QMP_TRACE_IN:
 * server to client), kind, time in seconds since the recording started (0
 * for libvirt files), number of fds passed with it, and source line. */
const QmpJson *qmp_replay_get_message(const QmpReplay *rec, guint i,
                                      QmpTraceDirection *dir,
                                      QmpReplayMsgKind *kind, double *t,
                                      guint *n_fds, guint *line);
/* The "return" of the first successful query-qmp-schema in the recording,
 * or NULL. */
const QmpJson *qmp_replay_get_recorded_schema(const QmpReplay *rec);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(QmpReplay, qmp_replay_unref)

/* ---- recording ------------------------------------------------------------ */

typedef struct _QmpRecorder QmpRecorder;

/* Create (truncate) path and write the header; peer names the other side
 * (e.g. "qemu-7.2 source"; may be NULL). */
QmpRecorder *qmp_recorder_new(const char *path, const char *peer,
                              GError **error);
/* Append one message (a JSON text, already redacted by the caller). */
void qmp_recorder_add(QmpRecorder *r, QmpTraceDirection dir,
                      const char *json, gsize len, guint n_fds);
/* Flush and close; FALSE with an error when any write failed.  Frees r. */
gboolean qmp_recorder_close(QmpRecorder *r, GError **error);

/* The library switch: record every message of mon (both directions, after
 * secret redaction, fds noted) to path from now on, through the monitor's
 * trace hook (this replaces any hook installed before).  The file is
 * complete when the monitor is finalized or another hook is set; each line
 * is flushed as written, so a crash leaves a readable prefix. */
gboolean qmp_monitor_record_to_file(QmpMonitor *mon, const char *path,
                                    const char *peer, GError **error);

/* ---- the replay server ---------------------------------------------------- */

typedef enum {
    /* Commands must come in the recorded order and equal the recorded ones
     * (ids normalized, member order ignored, absent arguments equal to {}).
     * A mismatch is answered with a GenericError and the connection closed. */
    QMP_REPLAY_STRICT,
    /* A command is answered by the reply of an equal recorded command
     * wherever it is (first unused one; when all are used, the last one). */
    QMP_REPLAY_LENIENT,
} QmpReplayMode;

typedef struct _QmpReplayServer QmpReplayServer;

QmpReplayServer *qmp_replay_server_new(QmpReplay *rec, QmpReplayMode mode,
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

/* ---- helpers -------------------------------------------------------------- */

/* Lines "  PATH: expected X, got Y" for each difference of two JSON values
 * (object member order ignored); "" when equal.  Newly allocated. */
char *qmp_replay_diff(const QmpJson *expected, const QmpJson *got);

/* Split off complete JSON values from a byte stream: returns the length of
 * the first complete top-level value starting at buf (leading whitespace
 * included), or 0 when it is incomplete.  *state carries scanning state
 * between calls on a growing buffer: reset it to 0 after taking a value. */
typedef struct {
    gsize pos;
    int depth;
    gboolean in_string;
    gboolean escape;
    gboolean started;
} QmpJsonSplit;
gsize qmp_json_split(QmpJsonSplit *st, const char *buf, gsize len);

/* ---- test API (for GLib unit tests: failures abort via g_assert) --------- */

/* Load file (an absolute path, a path that exists, or a name under
 * $QMPKIT_SOURCE_DIR/replay-tests/recordings/), start a server on the
 * thread-default context, and return a new monitor on the same context
 * connected to it through a socketpair.  The handshake is left to the test
 * (qmp_monitor_handshake).  *server_out receives the server (the caller
 * frees it with qmp_replay_server_free after unreffing the monitor or not:
 * either order is fine). */
QmpMonitor *qmp_replay_test_start(const char *file, QmpReplayMode mode,
                                  QmpReplayServer **server_out);
/* The same with a recording already loaded and a schema choice:
 * schema NULL keeps the default (the project's), otherwise it is used. */
QmpMonitor *qmp_replay_test_start_full(QmpReplay *rec, QmpReplayMode mode,
                                       const QmpJson *schema,
                                       QmpReplayServer **server_out);
/* Assert that the conversation went as recorded (qmp_replay_server_finish
 * succeeded); on failure prints the report and aborts the test. */
void qmp_replay_test_assert_done(QmpReplayServer *s);
/* Path of a recording in the source tree (see qmp_replay_test_start). */
char *qmp_replay_test_recording_path(const char *name);

G_END_DECLS
