/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * session-private.h (private): the inside of a QmpMonitor, shared by the
 * files that implement it, one phase each:
 *
 *   session.c          the GObject, settings, helpers every phase uses
 *   session-connect.c  connecting (or spawning QEMU), the greeting,
 *                      capability negotiation
 *   session-wire.c     the socket: reading lines, routing messages, writing
 *   session-calls.c    commands: ids, the in-flight window, replies,
 *                      cancel, timeout, sync calls
 *   session-events.c   event subscriptions
 *   session-close.c    closing, ending a spawned QEMU, failing what is
 *                      pending
 *
 * ("session", not "monitor": monitor/ at the top is the workflow library.)
 * Everything here runs in the thread that owns the monitor's context; the
 * functions are internal to libqmp.
 */
#pragma once

#include <glib.h>
#include "qmp-monitor.h"
#include "call.h"
#include "framing.h"
#include "redact.h"

struct _QmpOut {
    GList link;         /* in outq or held (link.data is this QmpOut) */
    char *data;
    gsize len;
    gsize off;
    int *fds;
    guint n_fds;
    guint id;
    gboolean oob;
    gboolean ordinary;  /* counted against the in-flight window */
    gboolean dropped;   /* cancelled before its first byte was written */
    char *trace_text;   /* redacted text for the trace, NULL: data is fine */
    gsize trace_len;
};

typedef struct {
    guint id;
    char *event;        /* NULL: all */
    QmpEventFunc func;
    gpointer user_data;
    GDestroyNotify destroy;
    gboolean removed;
} Subscription;

struct _QmpMonitor {
    GObject parent;
    GMainContext *ctx;

    int fd;
    pid_t pid;
    gboolean connected;      /* a connection was made (and may be closed) */
    GError *error;           /* first fatal error: set once closed */
    GSource *in_source;
    GSource *out_source;
    QmpFramer framer;
    GPtrArray *inbox;        /* QmpJsonDoc * read, not yet dispatched... */
    guint inbox_head;        /* ...from this index on */
    guint dispatch_depth;    /* > 0 while the inbox is being dispatched */
    QmpCall *waiting;        /* the innermost sync call being waited for */

    GQueue outq;             /* QmpOut * to write, in order */
    QmpJsonParser *parser;   /* reads every incoming message */
    GQueue held;             /* ordinary commands held back by the window */
    guint n_ordinary;        /* ordinary commands in outq or on the wire */
    GHashTable *pending;     /* id -> QmpCall * (ref) waiting for a reply */
    GPtrArray *call_pool;    /* finished QmpCalls for reuse */
    GHashTable *abandoned;   /* id -> 1 (oob) / 2 (ordinary): drop replies */
    guint next_id;

    gsize max_size;
    gint default_timeout;
    guint close_grace_ms;    /* how long close waits for a child to quit */
    guint max_in_flight;

    QmpJsonDoc *greeting;
    int version[3];
    const char *package;
    char **caps;
    gboolean negotiated;
    gboolean oob_enabled;

    QmpCall *handshake;      /* the handshake in progress */
    QmpHandshakeFlags hs_flags;
    gboolean hs_oob;         /* asked the server for OOB */
    GSource *hs_timeout;
    guint hs_timeout_ms;

    GList *subs;             /* Subscription * */
    guint next_sub_id;
    guint sub_depth;

    QmpTraceFunc trace;
    gpointer trace_data;
    GDestroyNotify trace_destroy;
    QmpRedactor *redactor;   /* hides secrets from the trace */
};

/* The "closed" signal's id (session.c). */
G_GNUC_INTERNAL extern guint qmp_session_closed_signal;

/* session.c */
G_GNUC_INTERNAL GError *qmp_session_closed_error(QmpMonitor *mon);
G_GNUC_INTERNAL gboolean qmp_session_usable(QmpMonitor *mon);
G_GNUC_INTERNAL GError *qmp_session_protocol_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
G_GNUC_INTERNAL gboolean qmp_session_json_int(const QmpJson *obj, const char *key,
                                              gint64 *out);

/* session-connect.c: the first message read (the greeting). */
G_GNUC_INTERNAL GError *qmp_session_handle_greeting(QmpMonitor *mon, QmpJsonDoc *doc);

/* session-wire.c */
/* Take fd (connected, non-blocking) and start reading it. */
G_GNUC_INTERNAL void qmp_session_attach(QmpMonitor *mon, int fd);
G_GNUC_INTERNAL void qmp_session_out_free(QmpOut *out);
/* Write as much of the output queue as the socket takes.  Returns FALSE
 * with errno set on a fatal write error. */
G_GNUC_INTERNAL gboolean qmp_session_flush(QmpMonitor *mon);
/* Watch the socket for room while the output queue is not empty. */
G_GNUC_INTERNAL void qmp_session_arm_output(QmpMonitor *mon);

/* session-calls.c */
G_GNUC_INTERNAL void qmp_session_release_held(QmpMonitor *mon);
G_GNUC_INTERNAL GError *qmp_session_handle_reply(QmpMonitor *mon, QmpJsonDoc *doc,
                                                 const QmpJson *idn,
                                                 const QmpJson *err);
G_GNUC_INTERNAL void qmp_session_watch_cancellable(QmpCall *call);
/* One command to send. */
typedef struct {
    const char *command;
    const char *args_json;  /* untyped: the caller's JSON object text, or NULL */
    const QmpJson *args;    /* typed: the encoded arguments, or NULL */
    GError *error;          /* typed: why it must not be sent (taken), or NULL */
    QmpExecuteFlags flags;
    const int *fds;         /* borrowed: dup'ed */
    guint n_fds;
} QmpRequest;
/* Start req as a call tagged tag (data: what its _finish checks); every
 * failure, early ones included, completes the call (from an idle when
 * nothing was sent).  Returns the caller's reference. */
G_GNUC_INTERNAL QmpCall *qmp_session_start(QmpMonitor *mon, QmpRequest *req,
                                           gpointer tag, gconstpointer data,
                                           GCancellable *cancellable,
                                           GAsyncReadyCallback callback,
                                           gpointer user_data);
/* The same, waiting for the reply up to timeout_ms (< 0: the default): the
 * completed call, or NULL (error set) when this thread does not own the
 * monitor's context. */
G_GNUC_INTERNAL QmpCall *qmp_session_call_sync(QmpMonitor *mon, QmpRequest *req,
                                               gpointer tag, gconstpointer data,
                                               gint timeout_ms, GError **error);
/* Iterate the monitor's context until call completes or timeout_ms passes
 * (0: no limit).  Returns FALSE on timeout. */
G_GNUC_INTERNAL gboolean qmp_session_wait_call(QmpMonitor *mon, QmpCall *call,
                                               gint timeout_ms);
G_GNUC_INTERNAL gboolean qmp_session_acquire(QmpMonitor *mon, GError **error);
G_GNUC_INTERNAL gint qmp_session_effective_timeout(QmpMonitor *mon, gint timeout_ms);

/* session-events.c */
G_GNUC_INTERNAL void qmp_session_subscription_free(Subscription *sub);
G_GNUC_INTERNAL void qmp_session_dispatch_event(QmpMonitor *mon, const QmpJson *root,
                                                const char *name);

/* session-close.c: the connection is over: keep the first error, fail
 * everything pending with it, tell the "closed" listeners.  Takes error. */
G_GNUC_INTERNAL void qmp_session_fatal(QmpMonitor *mon, GError *error);
