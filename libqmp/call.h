/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * call.h (private): QmpCall, one command waiting for its reply, and the
 * GAsyncResult handed to the caller's callback.
 *
 * GTask is not used because it may defer a callback to a later main loop
 * iteration, which would let an event read after a reply reach subscribers
 * before that reply's callback.  A QmpCall runs its callback exactly when
 * the monitor completes it, so callbacks and events keep wire order.
 */
#pragma once

#include <gio/gio.h>
#include "qmp-monitor.h"

typedef struct _QmpOut QmpOut;

#define QMP_TYPE_CALL (qmp_call_get_type())
G_DECLARE_FINAL_TYPE(QmpCall, qmp_call, QMP, CALL, GObject)

struct _QmpCall {
    GObject parent;
    QmpMonitor *mon;              /* strong: the source object */
    gpointer source_tag;
    gconstpointer data;           /* what _finish checks too (a typed call's
                                   * QmpCommandDesc), or NULL */
    GAsyncReadyCallback callback; /* may be NULL (sync calls) */
    gpointer user_data;
    GCancellable *cancellable;
    gulong cancel_id;
    guint id;                     /* wire id ("qmpkit-<id>"), 0 if none */
    gboolean ordinary;            /* counted against the in-flight window */
    QmpOut *out;                  /* its message while not yet written */
    gboolean completed;
    QmpJsonDoc *reply;            /* result: reply document, or */
    GError *error;                /* the error */
};

QmpCall *qmp_call_new(QmpMonitor *mon, gpointer source_tag,
                      GCancellable *cancellable,
                      GAsyncReadyCallback callback, gpointer user_data);

/* The same, reusing a call from pool (a GPtrArray of idle calls) if any. */
QmpCall *qmp_call_new_pooled(GPtrArray *pool, QmpMonitor *mon, gpointer source_tag,
                             GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data);

/* Drop the caller's reference; when it was the last one the call goes back
 * to pool (up to a few dozen) instead of being finalized.  Pooled calls
 * hold no reference to the monitor. */
void qmp_call_release(QmpCall *call, GPtrArray *pool);

/* Store the result (taking reply and error) and run the callback now.
 * No-op (freeing both) when the call already completed. */
void qmp_call_complete(QmpCall *call, QmpJsonDoc *reply, GError *error);

/* The same from an idle source of the monitor's context, for results known
 * before the _async() function returns. */
void qmp_call_complete_in_idle(QmpCall *call, QmpJsonDoc *reply, GError *error);

/* _finish helper: validates result and hands out (a ref of) the reply. */
QmpJsonDoc *qmp_call_propagate(QmpMonitor *mon, GAsyncResult *result,
                               gpointer source_tag, GError **error);
