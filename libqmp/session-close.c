/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * session-close.c: the end of a session: closing (ending the QEMU we
 * spawned), and failing everything pending with the first fatal error (see
 * qmp-monitor.h).
 */
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include "session-private.h"
#include "spawn.h"

/* ---- closing ----------------------------------------------------------- */

static void stop_sources(QmpMonitor *mon)
{
    if (mon->in_source) {
        g_source_destroy(mon->in_source);
        g_source_unref(mon->in_source);
        mon->in_source = NULL;
    }
    if (mon->out_source) {
        g_source_destroy(mon->out_source);
        g_source_unref(mon->out_source);
        mon->out_source = NULL;
    }
    if (mon->hs_timeout) {
        g_source_destroy(mon->hs_timeout);
        g_source_unref(mon->hs_timeout);
        mon->hs_timeout = NULL;
    }
}

static gint compare_call_ids(gconstpointer a, gconstpointer b)
{
    guint x = ((const QmpCall *) a)->id, y = ((const QmpCall *) b)->id;
    return x < y ? -1 : x > y;
}

void qmp_session_fatal(QmpMonitor *mon, GError *error)
{
    if (mon->error || !mon->connected) {
        g_error_free(error);
        return;
    }
    /* Say why QEMU went away when it was our child and is gone. */
    if (mon->pid > 0 && error->domain == QMP_ERROR &&
        (error->code == QMP_ERROR_CLOSED || error->code == QMP_ERROR_IO)) {
        int status;
        /* EOF comes as the child exits: it is reapable moments later. */
        if (qmp_spawn_wait(mon->pid, 100, &status)) {
            char *how = qmp_spawn_describe_status(status);
            g_prefix_error(&error, "QEMU (pid %d) %s: ", (int) mon->pid, how);
            g_free(how);
            mon->pid = 0;
        }
    }
    mon->error = error;
    g_object_ref(mon);

    stop_sources(mon);
    if (mon->fd >= 0) {
        close(mon->fd);
        mon->fd = -1;
    }
    qmp_framer_clear(&mon->framer);
    for (guint i = mon->inbox_head; i < mon->inbox->len; i++)
        qmp_json_doc_unref(g_ptr_array_index(mon->inbox, i));
    g_ptr_array_set_size(mon->inbox, 0);
    mon->inbox_head = 0;
    for (GList *l; (l = g_queue_pop_head_link(&mon->outq)); )
        qmp_session_out_free(l->data);
    for (GList *l; (l = g_queue_pop_head_link(&mon->held)); )
        qmp_session_out_free(l->data);
    mon->n_ordinary = 0;
    g_hash_table_remove_all(mon->abandoned);

    /* Fail every pending call, in id order so callers see a stable order. */
    GList *calls = g_hash_table_get_values(mon->pending);
    g_hash_table_steal_all(mon->pending);
    calls = g_list_sort(calls, compare_call_ids);
    for (GList *l = calls; l; l = l->next) {
        QmpCall *call = l->data;
        call->out = NULL;
        qmp_call_complete(call, NULL, g_error_copy(mon->error));
    }
    g_list_free_full(calls, g_object_unref);
    if (mon->handshake) {
        QmpCall *hs = mon->handshake;
        mon->handshake = NULL;
        qmp_call_complete(hs, NULL, g_error_copy(mon->error));
        g_object_unref(hs);
    }
    g_signal_emit(mon, qmp_session_closed_signal, 0, mon->error);
    g_object_unref(mon);
}

/* Best effort, blocking at most briefly: ask our child QEMU to quit. */
static void send_quit(QmpMonitor *mon)
{
    static const char quit[] = "{\"execute\":\"quit\"}\r\n";
    if (mon->fd < 0 || !mon->negotiated)
        return;
    ssize_t r = send(mon->fd, quit, sizeof(quit) - 1, MSG_NOSIGNAL);
    (void) r;
}

/* Start ending our child: "quit" when the session can take it, else
 * SIGTERM.  Returns whether "quit" went out (then our end of the socket
 * must stay open while QEMU quits: when it sees a hang-up it drops input
 * it has not read yet, "quit" included). */
static gboolean ask_child_to_quit(QmpMonitor *mon)
{
    if (mon->pid > 0 && qmp_session_usable(mon) && g_queue_is_empty(&mon->outq)) {
        send_quit(mon);
        if (mon->negotiated)
            return TRUE;
    }
    if (mon->pid > 0)
        kill(mon->pid, SIGTERM);
    return FALSE;
}

void qmp_monitor_close(QmpMonitor *mon)
{
    g_return_if_fail(QMP_IS_MONITOR(mon));

    pid_t pid = mon->pid;
    if (pid > 0) {
        gint64 deadline = g_get_monotonic_time() + (gint64) mon->close_grace_ms * 1000;
        int status;
        ask_child_to_quit(mon);
        /* one deadline for all of it; the child is reaped here, so fatal()
         * must not wait for it again */
        mon->pid = 0;
        gint64 left = MAX(0, deadline - g_get_monotonic_time()) / 1000;
        if (!qmp_spawn_wait(pid, (guint) left, &status))
            qmp_spawn_end(pid, SIGKILL, 0);
    }
    if (qmp_session_usable(mon))
        qmp_session_fatal(mon, g_error_new_literal(QMP_ERROR, QMP_ERROR_CLOSED,
                                       "the monitor was closed"));
    if (mon->fd >= 0) {
        close(mon->fd);
        mon->fd = -1;
    }
}

/* ---- closing without blocking ------------------------------------------ */

typedef struct {
    pid_t pid;
    int fd;              /* our end of the socket, open while QEMU quits */
    gint64 deadline;
    gboolean killed;
    GSource *timer;
} Ending;

static void ending_free(Ending *e)
{
    if (e->timer) {
        g_source_destroy(e->timer);
        g_source_unref(e->timer);
    }
    if (e->fd >= 0)
        close(e->fd);
    g_free(e);
}

static gboolean ending_poll(gpointer data)
{
    GTask *task = data;
    Ending *e = g_task_get_task_data(task);
    int status;

    if (!qmp_spawn_try_reap(e->pid, &status)) {
        if (!e->killed && g_get_monotonic_time() >= e->deadline) {
            kill(e->pid, SIGKILL);
            e->killed = TRUE;
        }
        return G_SOURCE_CONTINUE;
    }
    g_clear_pointer(&e->timer, g_source_unref);
    g_task_return_boolean(task, TRUE);
    g_object_unref(task);
    return G_SOURCE_REMOVE;
}

void qmp_monitor_close_async(QmpMonitor *mon, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data)
{
    g_return_if_fail(QMP_IS_MONITOR(mon));

    g_main_context_push_thread_default(mon->ctx);
    GTask *task = g_task_new(mon, cancellable, callback, user_data);
    g_main_context_pop_thread_default(mon->ctx);
    g_task_set_source_tag(task, qmp_monitor_close_async);
    g_task_set_check_cancellable(task, FALSE);

    pid_t pid = mon->pid;
    if (pid <= 0) {
        qmp_monitor_close(mon);        /* nothing to wait for */
        g_task_return_boolean(task, TRUE);
        g_object_unref(task);
        return;
    }
    Ending *e = g_new0(Ending, 1);
    e->pid = pid;
    e->fd = -1;
    e->deadline = g_get_monotonic_time() + (gint64) mon->close_grace_ms * 1000;
    if (ask_child_to_quit(mon) && mon->fd >= 0)
        e->fd = dup(mon->fd);          /* keeps the connection open */
    g_task_set_task_data(task, e, (GDestroyNotify) ending_free);
    mon->pid = 0;                      /* the task ends and reaps it now */
    qmp_monitor_close(mon);
    e->timer = g_timeout_source_new(10);
    g_source_set_callback(e->timer, ending_poll, task, NULL);  /* owns task */
    g_source_attach(e->timer, mon->ctx);
}

gboolean qmp_monitor_close_finish(QmpMonitor *mon, GAsyncResult *result,
                                  GError **error)
{
    g_return_val_if_fail(g_task_is_valid(result, mon), FALSE);
    GCancellable *cancellable = g_task_get_cancellable(G_TASK(result));
    gboolean ok = g_task_propagate_boolean(G_TASK(result), NULL);
    if (cancellable && g_cancellable_is_cancelled(cancellable)) {
        g_set_error_literal(error, QMP_ERROR, QMP_ERROR_CANCELLED,
                            "cancelled (QEMU was ended all the same)");
        return FALSE;
    }
    return ok;
}

void qmp_monitor_set_close_grace(QmpMonitor *mon, guint ms)
{
    g_return_if_fail(QMP_IS_MONITOR(mon));
    mon->close_grace_ms = ms;
}

guint qmp_monitor_get_close_grace(QmpMonitor *mon)
{
    g_return_val_if_fail(QMP_IS_MONITOR(mon), 0);
    return mon->close_grace_ms;
}

gboolean qmp_monitor_is_connected(QmpMonitor *mon)
{
    g_return_val_if_fail(QMP_IS_MONITOR(mon), FALSE);
    return qmp_session_usable(mon);
}

const GError *qmp_monitor_get_error(QmpMonitor *mon)
{
    g_return_val_if_fail(QMP_IS_MONITOR(mon), NULL);
    return mon->error;
}
