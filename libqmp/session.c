/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * session.c: QmpMonitor, the object: its life as a GObject, its settings,
 * and the helpers every phase shares.  A QmpMonitor is one session with one
 * QEMU monitor; its code is split by phase (see session-private.h):
 *
 *   session-connect.c  connecting (or spawning QEMU), the greeting and
 *                      capability negotiation
 *   session-wire.c     the socket: reading lines, routing messages, writing
 *   session-calls.c    commands: ids, the in-flight window, cancel, timeout
 *   session-events.c   event subscriptions
 *   session-close.c    closing, ending a spawned QEMU, failing what is
 *                      pending
 */
#include "session-private.h"

/* ---- GObject ----------------------------------------------------------- */

guint qmp_session_closed_signal;

G_DEFINE_TYPE(QmpMonitor, qmp_monitor, G_TYPE_OBJECT)

static void qmp_monitor_dispose(GObject *object)
{
    QmpMonitor *mon = QMP_MONITOR(object);

    qmp_monitor_close(mon);
    qmp_monitor_set_trace(mon, NULL, NULL, NULL);
    GList *subs = mon->subs;
    mon->subs = NULL;
    g_list_free_full(subs, (GDestroyNotify) qmp_session_subscription_free);
    G_OBJECT_CLASS(qmp_monitor_parent_class)->dispose(object);
}

static void qmp_monitor_finalize(GObject *object)
{
    QmpMonitor *mon = QMP_MONITOR(object);

    g_clear_error(&mon->error);
    qmp_json_doc_unref(mon->greeting);
    g_strfreev(mon->caps);
    g_hash_table_unref(mon->pending);
    g_hash_table_unref(mon->abandoned);
    g_ptr_array_unref(mon->call_pool);
    qmp_redactor_free(mon->redactor);
    qmp_json_parser_free(mon->parser);
    for (guint i = mon->inbox_head; i < mon->inbox->len; i++)
        qmp_json_doc_unref(g_ptr_array_index(mon->inbox, i));
    g_ptr_array_unref(mon->inbox);
    g_main_context_unref(mon->ctx);
    G_OBJECT_CLASS(qmp_monitor_parent_class)->finalize(object);
}

static void qmp_monitor_class_init(QmpMonitorClass *klass)
{
    GObjectClass *oclass = G_OBJECT_CLASS(klass);
    oclass->dispose = qmp_monitor_dispose;
    oclass->finalize = qmp_monitor_finalize;

    /* void closed (QmpMonitor *mon, const GError *error, gpointer data) */
    qmp_session_closed_signal = g_signal_new("closed", G_TYPE_FROM_CLASS(klass),
        G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 1,
        G_TYPE_ERROR | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void qmp_monitor_init(QmpMonitor *mon)
{
    mon->fd = -1;
    mon->max_size = QMP_MONITOR_DEFAULT_MAX_MESSAGE_SIZE;
    mon->default_timeout = QMP_MONITOR_DEFAULT_TIMEOUT_MS;
    mon->close_grace_ms = QMP_MONITOR_DEFAULT_CLOSE_GRACE_MS;
    mon->max_in_flight = 6;
    mon->next_id = 1;
    mon->next_sub_id = 1;
    qmp_framer_init(&mon->framer);
    mon->inbox = g_ptr_array_new();
    g_queue_init(&mon->outq);
    mon->parser = qmp_json_parser_new(0);
    g_queue_init(&mon->held);
    mon->pending = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
                                         g_object_unref);
    mon->abandoned = g_hash_table_new(g_direct_hash, g_direct_equal);
    mon->call_pool = g_ptr_array_new_with_free_func(g_object_unref);
    mon->redactor = qmp_redactor_new();
}

QmpMonitor *qmp_monitor_new(GMainContext *context)
{
    QmpMonitor *mon = g_object_new(QMP_TYPE_MONITOR, NULL);
    mon->ctx = context ? g_main_context_ref(context)
                       : g_main_context_ref_thread_default();
    return mon;
}

GMainContext *qmp_monitor_get_context(QmpMonitor *mon)
{
    g_return_val_if_fail(QMP_IS_MONITOR(mon), NULL);
    return mon->ctx;
}

/* ---- shared helpers ---------------------------------------------------- */

GError *qmp_session_closed_error(QmpMonitor *mon)
{
    if (mon->error)
        return g_error_copy(mon->error);
    return g_error_new_literal(QMP_ERROR, QMP_ERROR_CLOSED,
                               "the monitor is not connected");
}

gboolean qmp_session_usable(QmpMonitor *mon)
{
    return mon->connected && !mon->error;
}

GError *qmp_session_protocol_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    GError *e = g_error_new(QMP_ERROR, QMP_ERROR_PROTOCOL, "%s", msg);
    g_free(msg);
    return e;
}

gboolean qmp_session_json_int(const QmpJson *obj, const char *key, gint64 *out)
{
    const QmpJson *n = obj ? qmp_json_lookup(obj, key) : NULL;
    return n && qmp_json_get_int64(n, out);
}

/* ---- trace and settings ------------------------------------------------ */

void qmp_monitor_set_trace(QmpMonitor *mon, QmpTraceFunc func, gpointer user_data,
                           GDestroyNotify destroy)
{
    g_return_if_fail(QMP_IS_MONITOR(mon));
    GDestroyNotify old_destroy = mon->trace_destroy;
    gpointer old_data = mon->trace_data;
    mon->trace = func;
    mon->trace_data = user_data;
    mon->trace_destroy = destroy;
    if (old_destroy)
        old_destroy(old_data);
}

void qmp_monitor_add_secret_member(QmpMonitor *mon, const char *name)
{
    g_return_if_fail(QMP_IS_MONITOR(mon));
    g_return_if_fail(name != NULL);
    qmp_redactor_add_member(mon->redactor, name);
}

void qmp_monitor_set_max_message_size(QmpMonitor *mon, gsize max)
{
    g_return_if_fail(QMP_IS_MONITOR(mon));
    g_return_if_fail(max > 0);
    mon->max_size = max;
}

gsize qmp_monitor_get_max_message_size(QmpMonitor *mon)
{
    g_return_val_if_fail(QMP_IS_MONITOR(mon), 0);
    return mon->max_size;
}

void qmp_monitor_set_default_timeout(QmpMonitor *mon, gint timeout_ms)
{
    g_return_if_fail(QMP_IS_MONITOR(mon));
    mon->default_timeout = MAX(timeout_ms, 0);
}

gint qmp_monitor_get_default_timeout(QmpMonitor *mon)
{
    g_return_val_if_fail(QMP_IS_MONITOR(mon), 0);
    return mon->default_timeout;
}

void qmp_monitor_set_max_in_flight(QmpMonitor *mon, guint n)
{
    g_return_if_fail(QMP_IS_MONITOR(mon));
    mon->max_in_flight = n;
    if (qmp_session_usable(mon)) {
        qmp_session_release_held(mon);
        qmp_session_arm_output(mon);
    }
}
