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

#define CHILD_GRACE_MS 3000

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

void qmp_monitor_close(QmpMonitor *mon)
{
    g_return_if_fail(QMP_IS_MONITOR(mon));

    gboolean quit_sent = FALSE;
    if (mon->pid > 0 && qmp_session_usable(mon) && g_queue_is_empty(&mon->outq)) {
        send_quit(mon);
        quit_sent = mon->negotiated;
    }
    if (quit_sent) {
        /* Keep our end open while QEMU quits: when it sees a hang-up it
         * drops input it has not read yet, "quit" included. */
        int status;
        if (qmp_spawn_wait(mon->pid, CHILD_GRACE_MS, &status))
            mon->pid = 0;
    }
    if (qmp_session_usable(mon))
        qmp_session_fatal(mon, g_error_new_literal(QMP_ERROR, QMP_ERROR_CLOSED,
                                       "the monitor was closed"));
    if (mon->pid > 0) {
        qmp_spawn_end(mon->pid, quit_sent ? 0 : SIGTERM, CHILD_GRACE_MS);
        mon->pid = 0;
    }
    if (mon->fd >= 0) {
        close(mon->fd);
        mon->fd = -1;
    }
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
