/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qmp-monitor.h: one connection to a QEMU monitor speaking QMP.
 *
 * A QmpMonitor owns a socket (unix, TCP, an fd handed in, or a socketpair to
 * a QEMU it spawned), frames the byte stream into messages, matches replies
 * to pending commands by id, delivers events to subscribers and reports the
 * first fatal fault as a GError.  Many commands may be in flight at once.
 *
 * Life cycle:
 *
 *   g_autoptr(QmpMonitor) mon = qmp_monitor_new (NULL);
 *   qmp_monitor_connect_unix (mon, "/run/qemu.qmp", &error);   // or _tcp, _fd, qmp_monitor_spawn
 *   qmp_monitor_handshake (mon, QMP_HANDSHAKE_OOB, 5000, &error);
 *   doc = qmp_monitor_execute (mon, "query-status", NULL, 0, NULL, 0, -1, &ret, &error);
 *
 * Thread rules (there are no hidden threads: the library never starts one):
 *
 *  - A monitor belongs to the GMainContext given to qmp_monitor_new() (NULL:
 *    the thread-default context of the calling thread at that moment).  All
 *    I/O, every callback (async results, events, trace, "closed") runs while
 *    that context is being iterated, in the thread iterating it.
 *  - Call every function of this header from the thread that owns (iterates)
 *    that context, or from any thread while no thread iterates it.  The
 *    monitor is not locked; do not share it between threads.
 *  - Sync calls (qmp_monitor_execute, qmp_monitor_handshake) acquire the
 *    context and iterate it until done; they fail with QMP_ERROR_INVALID when
 *    another thread owns the context.  While they wait, other sources of the
 *    context (events, other replies, timers) are dispatched as usual.  They
 *    may be made from inside a callback of this monitor: such a call
 *    returns as soon as its reply is read, and the messages read after it
 *    are delivered, in wire order, once that callback has returned.
 *  - QmpJsonDoc results are immutable and may be handed to other threads.
 *
 * Ownership: functions returning `const` pointers lend memory owned by the
 * monitor (valid until the monitor is finalized unless said otherwise);
 * QmpJsonDoc results are new references the caller unrefs; fds passed in are
 * borrowed (the monitor dup()s what it needs), except qmp_monitor_connect_fd
 * which takes ownership of its fd.
 *
 * Wire order: messages are delivered in the order they were read.  An event
 * read before a reply is given to subscribers before that reply's callback
 * runs, and the other way round.
 *
 * Replies the monitor does not expect: a reply whose id is not one the
 * monitor issued, or a reply without an id (QEMU sends those only for
 * requests it could not parse), is a protocol violation: the connection is
 * closed with QMP_ERROR_PROTOCOL.  A reply to a call that was cancelled or
 * timed out is dropped silently.
 *
 * Fatal faults (EOF, I/O error, malformed JSON, a message larger than the
 * limit, protocol violations, handshake timeout) close the connection; every
 * pending call fails at once with that error, the "closed" signal is emitted
 * once with it, and every later call fails with a copy of it.
 */
#pragma once

#include <gio/gio.h>
#include "qmp-json.h"
#include "qmp-error.h"
#include "qmp-export.h"

G_BEGIN_DECLS
QMP_BEGIN_PUBLIC

#define QMP_TYPE_MONITOR (qmp_monitor_get_type())
G_DECLARE_FINAL_TYPE(QmpMonitor, qmp_monitor, QMP, MONITOR, GObject)

/* Defaults. */
#define QMP_MONITOR_DEFAULT_MAX_MESSAGE_SIZE (64u * 1024u * 1024u)
#define QMP_MONITOR_DEFAULT_TIMEOUT_MS 60000
/* Timeout values for sync calls. */
#define QMP_TIMEOUT_DEFAULT (-1) /* the monitor's default timeout */
#define QMP_TIMEOUT_NONE 0       /* wait for ever */

typedef enum {
    QMP_EXECUTE_NONE = 0,
    /* Send as "exec-oob": the command overtakes ordinary commands queued in
     * the client and in QEMU.  Needs OOB negotiated (else the call fails with
     * QMP_ERROR_UNSUPPORTED) and a command that allows it. */
    QMP_EXECUTE_OOB = 1 << 0,
} QmpExecuteFlags;

typedef enum {
    QMP_HANDSHAKE_NONE = 0,
    /* Enable out-of-band execution when the server offers "oob". */
    QMP_HANDSHAKE_OOB = 1 << 0,
} QmpHandshakeFlags;

typedef enum {
    QMP_TRACE_IN,  /* read from the server */
    QMP_TRACE_OUT, /* written to the server */
} QmpTraceDirection;

/* An event.  data is NULL when the event has none; it and event are valid
 * only during the call (qmp_json_copy() to keep data).  timestamp_us is
 * QEMU's timestamp in microseconds since the epoch. */
typedef void (*QmpEventFunc)(QmpMonitor *mon, const char *event,
                             const QmpJson *data, gint64 timestamp_us,
                             gpointer user_data);

/* Sees every message in both directions, exactly once, in wire order for
 * each direction: line is one JSON message without the line terminator
 * (not NUL-terminated necessarily: use len), after secret redaction.  fds
 * are the descriptors sent with an outgoing message (valid only during the
 * call).  Outgoing messages are traced as their first byte is written, so
 * the trace is in wire order.  The hook must not call into the monitor. */
typedef void (*QmpTraceFunc)(QmpMonitor *mon, QmpTraceDirection dir,
                             const char *line, gsize len,
                             const int *fds, guint n_fds, gpointer user_data);

/* ---- construction and connection ---------------------------------------- */

QmpMonitor *qmp_monitor_new(GMainContext *context);
GMainContext *qmp_monitor_get_context(QmpMonitor *mon); /* borrowed */

/* Each connects a fresh monitor (one connection per monitor; a second
 * connect fails with QMP_ERROR_INVALID).  These connect blocking (see the
 * _async variants below); the greeting is read later by
 * qmp_monitor_handshake(). */
gboolean qmp_monitor_connect_unix(QmpMonitor *mon, const char *path,
                                  GError **error);
gboolean qmp_monitor_connect_tcp(QmpMonitor *mon, const char *host,
                                 guint16 port, GError **error);
/* Takes ownership of fd (a connected stream socket), also on failure. */
gboolean qmp_monitor_connect_fd(QmpMonitor *mon, int fd, GError **error);

/* Connecting without blocking (for daemons whose main loop must not
 * stall: a TCP peer may take long to answer, a name to resolve): the
 * socket is opened and connected in a worker thread; callback runs in the
 * monitor's context and calls _finish, which attaches the connection (and
 * fails with QMP_ERROR_INVALID if the monitor was connected meanwhile).
 * Errors as the sync calls; cancelling gives QMP_ERROR_CANCELLED at once
 * (a connection made afterwards is closed). */
void qmp_monitor_connect_unix_async(QmpMonitor *mon, const char *path,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data);
gboolean qmp_monitor_connect_unix_finish(QmpMonitor *mon, GAsyncResult *result,
                                         GError **error);
void qmp_monitor_connect_tcp_async(QmpMonitor *mon, const char *host,
                                   guint16 port, GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data);
gboolean qmp_monitor_connect_tcp_finish(QmpMonitor *mon, GAsyncResult *result,
                                        GError **error);

/* Spawn binary (found in PATH unless it contains a '/') with
 *   extra_argv... -chardev socket,id=qmpkit-mon,fd=N -mon chardev=qmpkit-mon,mode=control
 * where fd N is one end of a socketpair whose other end becomes this
 * monitor's connection.  Everything else (-machine, -nodefaults, -display
 * none, -S, ...) is the caller's extra_argv (NULL-terminated, may be NULL).
 * The child inherits stdin, stdout and stderr.  The monitor owns the child:
 * qmp_monitor_close() and finalization end it ("quit", then SIGKILL after
 * the close grace period) and reap it with waitpid(). */
gboolean qmp_monitor_spawn(QmpMonitor *mon, const char *binary,
                           const char *const *extra_argv, GError **error);
GPid qmp_monitor_get_pid(QmpMonitor *mon); /* 0 when no child */

/* ---- greeting and capability negotiation --------------------------------- */

/* Wait for the greeting (at most timeout_ms; QMP_TIMEOUT_DEFAULT: the
 * monitor's default) and send qmp_capabilities, enabling OOB when asked and
 * offered.  A missing greeting within the timeout closes the connection with
 * QMP_ERROR_TIMEOUT. */
gboolean qmp_monitor_handshake(QmpMonitor *mon, QmpHandshakeFlags flags,
                               gint timeout_ms, GError **error);
void qmp_monitor_handshake_async(QmpMonitor *mon, QmpHandshakeFlags flags,
                                 gint timeout_ms, GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data);
gboolean qmp_monitor_handshake_finish(QmpMonitor *mon, GAsyncResult *result,
                                      GError **error);

/* After the greeting was read (else FALSE / NULL / 0). */
gboolean qmp_monitor_get_version(QmpMonitor *mon, int *major, int *minor,
                                 int *micro, const char **package);
/* NULL-terminated list of the greeting's capabilities, e.g. {"oob", NULL}. */
const char *const *qmp_monitor_get_capabilities(QmpMonitor *mon);
/* The whole greeting message (borrowed) or NULL. */
const QmpJson *qmp_monitor_get_greeting(QmpMonitor *mon);
gboolean qmp_monitor_get_oob_enabled(QmpMonitor *mon);

/* ---- commands ------------------------------------------------------------ */

/* Send command with arguments args_json (the text of a JSON object, or
 * NULL for none) and, when n_fds > 0, the descriptors fds with SCM_RIGHTS on
 * the first byte of this command (for getfd / add-fd; they are dup()ed).
 * The monitor assigns the id ("qmpkit-N").
 *
 * Cancelling: the call completes with QMP_ERROR_CANCELLED at once; if the
 * command was not yet written it is not sent, else its reply is dropped. */
void qmp_monitor_execute_async(QmpMonitor *mon, const char *command,
                               const char *args_json, QmpExecuteFlags flags,
                               const int *fds, guint n_fds,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data);

/* The whole reply document (a new reference) and, in *ret (may be NULL),
 * its "return" member.  On an error reply: NULL and a QMP_COMMAND_ERROR
 * whose code is QEMU's class (QMP_COMMAND_ERROR_OTHER for a class the
 * library does not know) and whose message is QEMU's desc verbatim. */
QmpJsonDoc *qmp_monitor_execute_finish(QmpMonitor *mon, GAsyncResult *result,
                                       const QmpJson **ret, GError **error);

/* Sync: as above; timeout_ms QMP_TIMEOUT_DEFAULT uses the monitor's default,
 * QMP_TIMEOUT_NONE waits for ever.  A timeout fails this call with
 * QMP_ERROR_TIMEOUT and leaves the connection open (the late reply is
 * dropped). */
QmpJsonDoc *qmp_monitor_execute(QmpMonitor *mon, const char *command,
                                const char *args_json, QmpExecuteFlags flags,
                                const int *fds, guint n_fds, gint timeout_ms,
                                const QmpJson **ret, GError **error);

/* Number of calls waiting for their reply. */
guint qmp_monitor_get_n_pending(QmpMonitor *mon);

/* ---- events -------------------------------------------------------------- */

/* Subscribe func to event (its QMP name, e.g. "STOP"), or to every event
 * when event is NULL.  Returns an id > 0 for qmp_monitor_unsubscribe().
 * destroy (may be NULL) is called with user_data on unsubscribe or
 * finalization.  Unsubscribing from inside a callback is allowed. */
guint qmp_monitor_subscribe(QmpMonitor *mon, const char *event,
                            QmpEventFunc func, gpointer user_data,
                            GDestroyNotify destroy);
void qmp_monitor_unsubscribe(QmpMonitor *mon, guint id);

/* ---- tracing and redaction ----------------------------------------------- */

/* Install (or with func NULL remove) the trace hook; destroy is called on
 * the previous user_data when replaced and at finalization. */
void qmp_monitor_set_trace(QmpMonitor *mon, QmpTraceFunc func,
                           gpointer user_data, GDestroyNotify destroy);

/* What the trace never sees (each value becomes "<redacted>", in either
 * direction; docs/secrets.md): the members the schema marks secret (the
 * feature 'secret': a set_password "password", the "data" and "iv" of an
 * object whose "qom-type" is "secret", a human-monitor-command's
 * "command-line"), qom-set's "value" and qom-get's reply when the property
 * is named like one of those, and any message that cannot be parsed (hidden
 * whole).  Ids of secret objects ("key-secret", "keyid", "passwordid")
 * are references, not secrets, and stay.  This adds name to the members
 * hidden, at any depth. */
void qmp_monitor_add_secret_member(QmpMonitor *mon, const char *name);

/* ---- settings and state -------------------------------------------------- */

/* A message (one line) longer than this closes the connection with
 * QMP_ERROR_TOO_LARGE; no more than this (plus one read chunk) is buffered. */
void qmp_monitor_set_max_message_size(QmpMonitor *mon, gsize max);
gsize qmp_monitor_get_max_message_size(QmpMonitor *mon);
/* Used by sync calls given QMP_TIMEOUT_DEFAULT; QMP_TIMEOUT_NONE: no limit. */
void qmp_monitor_set_default_timeout(QmpMonitor *mon, gint timeout_ms);
gint qmp_monitor_get_default_timeout(QmpMonitor *mon);

/* When OOB is enabled QEMU queues at most 8 ordinary commands and stops
 * reading its socket when the queue is full, which would also hold back
 * exec-oob commands.  So with OOB enabled the monitor writes at most this
 * many ordinary commands ahead of their replies (default 6; others wait in
 * the client, where exec-oob commands overtake them).  0: no limit. */
void qmp_monitor_set_max_in_flight(QmpMonitor *mon, guint n);

gboolean qmp_monitor_is_connected(QmpMonitor *mon);
/* The first fatal error, or NULL while the connection is fine (borrowed). */
const GError *qmp_monitor_get_error(QmpMonitor *mon);

/* Close the connection (pending calls fail with QMP_ERROR_CLOSED, "closed"
 * is emitted) and end a spawned child: it is sent "quit" (SIGTERM if it
 * was never negotiated with), given the close grace period to exit, then
 * killed with SIGKILL and reaped.  So this blocks at most the grace period
 * (plus the moment SIGKILL takes), also with a wedged or stopped QEMU; and
 * not at all without a child.  Idempotent.  In a main loop that must never
 * block, use qmp_monitor_close_async(). */
void qmp_monitor_close(QmpMonitor *mon);

/* The same without blocking: the connection is closed at once (as above);
 * waiting for the child, SIGKILL after the grace period and reaping happen
 * from the monitor's context, and callback runs when the child is gone (at
 * once without a child).  The monitor is kept alive until then.  _finish
 * returns TRUE (closing cannot fail), or FALSE with QMP_ERROR_CANCELLED
 * when cancellable was cancelled meanwhile (the child is ended all the
 * same and the callback still waits for it). */
void qmp_monitor_close_async(QmpMonitor *mon, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data);
gboolean qmp_monitor_close_finish(QmpMonitor *mon, GAsyncResult *result,
                                  GError **error);

/* How long closing waits for a spawned child to exit after "quit" before
 * SIGKILL (default QMP_MONITOR_DEFAULT_CLOSE_GRACE_MS; 0: SIGKILL at once). */
#define QMP_MONITOR_DEFAULT_CLOSE_GRACE_MS 2000
void qmp_monitor_set_close_grace(QmpMonitor *mon, guint ms);
guint qmp_monitor_get_close_grace(QmpMonitor *mon);

/* Signal "closed": void (*)(QmpMonitor *mon, const GError *error, gpointer)
 * emitted once, when the connection ends for whatever reason, with the
 * fatal error (QMP_ERROR_CLOSED when closed by qmp_monitor_close()). */

QMP_END_PUBLIC
G_END_DECLS
