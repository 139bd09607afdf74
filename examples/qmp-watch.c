/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qmp-watch: a small daemon-style client of libqmp, built against an
 * installed qmpkit like any other program:
 *
 *   cc -o qmp-watch qmp-watch.c $(pkg-config --cflags --libs qmpkit-1)
 *   ./qmp-watch --socket /run/vm1.qmp          # a QEMU started with -qmp unix:...
 *   ./qmp-watch --spawn qemu-system-x86_64     # or start one itself
 *
 * It connects and negotiates capabilities, makes a typed query, follows the
 * STOP and RESUME events while it pauses and resumes the guest with async
 * calls, shows how a cancelled call completes, handles an error reply from
 * QEMU, and then keeps watching events until SIGINT/SIGTERM (or, with
 * --once, exits after that round).  Everything runs from one GMainLoop; no
 * call blocks it except the set-up at the start.
 */
#include <glib-unix.h>
#include <stdio.h>
#include <string.h>
#include <qmpkit.h>

typedef struct {
    QmpMonitor *mon;
    GMainLoop *loop;
    gboolean once;
    int status;            /* exit status */
    guint n_steps_done;
} Watch;

static void fail(Watch *w, const char *what, const GError *error)
{
    fprintf(stderr, "qmp-watch: %s: %s\n", what, error ? error->message : "failed");
    w->status = 1;
    g_main_loop_quit(w->loop);
}

/* The last step: an error reply.  QEMU's class is the GError code in the
 * QMP_COMMAND_ERROR domain, its description the message. */
static void on_bad_command(G_GNUC_UNUSED GObject *src, GAsyncResult *res, gpointer data)
{
    Watch *w = data;
    g_autoptr(GError) error = NULL;
    g_autoptr(QmpJsonDoc) reply = qmp_monitor_execute_finish(w->mon, res, NULL, &error);

    if (reply || !g_error_matches(error, QMP_COMMAND_ERROR,
                                  QMP_COMMAND_ERROR_COMMAND_NOT_FOUND)) {
        fail(w, "expected CommandNotFound", error);
        return;
    }
    printf("error reply: %s: %s\n",
           qmp_command_error_class_name((QmpCommandErrorCode)error->code),
           error->message);
    printf("round done\n");
    fflush(stdout);
    if (w->once)
        g_main_loop_quit(w->loop);
}

static void on_stop_sent(G_GNUC_UNUSED GObject *src, GAsyncResult *res, gpointer data)
{
    Watch *w = data;
    g_autoptr(GError) error = NULL;

    if (!qmp_stop_finish(w->mon, res, &error))
        fail(w, "stop", error);
}

static void on_cont_sent(G_GNUC_UNUSED GObject *src, GAsyncResult *res, gpointer data)
{
    Watch *w = data;
    g_autoptr(GError) error = NULL;

    if (!qmp_cont_finish(w->mon, res, &error))
        fail(w, "cont", error);
}

/* Typed events: the RESUME that "cont" causes, then the STOP of "stop". */
static void on_resume(QmpMonitor *mon, G_GNUC_UNUSED gint64 timestamp_us, gpointer data)
{
    Watch *w = data;

    printf("event: RESUME\n");
    fflush(stdout);
    qmp_stop_async(mon, NULL, on_stop_sent, w);
}

static void on_stop(QmpMonitor *mon, G_GNUC_UNUSED gint64 timestamp_us, gpointer data)
{
    Watch *w = data;

    printf("event: STOP\n");
    fflush(stdout);
    qmp_monitor_execute_async(mon, "no-such-command", NULL, QMP_EXECUTE_NONE,
                              NULL, 0, NULL, on_bad_command, w);
}

/* A call whose GCancellable fired completes with QMP_ERROR_CANCELLED (its
 * reply, if one comes, is dropped).  Then the round goes on. */
static void on_cancelled_query(G_GNUC_UNUSED GObject *src, GAsyncResult *res, gpointer data)
{
    Watch *w = data;
    g_autoptr(GError) error = NULL;
    g_autoptr(QmpStatusInfo) st = qmp_query_status_finish(w->mon, res, &error);

    if (st || !g_error_matches(error, QMP_ERROR, QMP_ERROR_CANCELLED)) {
        fail(w, "expected a cancelled call", error);
        return;
    }
    printf("cancelled: %s\n", error->message);
    fflush(stdout);
    qmp_cont_async(w->mon, NULL, on_cont_sent, w);
}

/* The connection ended: QEMU quit or died, or we closed it. */
static void on_closed(G_GNUC_UNUSED QmpMonitor *mon, const GError *error, gpointer data)
{
    Watch *w = data;

    if (!g_error_matches(error, QMP_ERROR, QMP_ERROR_CLOSED) || !w->once) {
        printf("connection closed: %s\n", error->message);
        fflush(stdout);
    }
    g_main_loop_quit(w->loop);
}

static gboolean on_signal(gpointer data)
{
    Watch *w = data;

    printf("signal: closing\n");
    fflush(stdout);
    g_main_loop_quit(w->loop);
    return G_SOURCE_REMOVE;
}

static gboolean on_deadline(gpointer data)
{
    Watch *w = data;

    fail(w, "deadline", NULL);
    return G_SOURCE_REMOVE;
}

int main(int argc, char **argv)
{
    g_autofree char *socket_path = NULL, *spawn = NULL;
    gboolean once = FALSE;
    gint deadline_s = 0;
    GOptionEntry entries[] = {
        { "socket", 0, 0, G_OPTION_ARG_FILENAME, &socket_path, "connect to this QMP socket", "PATH" },
        { "spawn", 0, 0, G_OPTION_ARG_FILENAME, &spawn, "start this QEMU binary (paused, no devices)", "BINARY" },
        { "once", 0, 0, G_OPTION_ARG_NONE, &once, "exit after one round", NULL },
        { "deadline", 0, 0, G_OPTION_ARG_INT, &deadline_s, "fail after this many seconds", "S" },
        { NULL },
    };
    g_autoptr(GOptionContext) octx = g_option_context_new("- watch a QEMU over QMP");
    g_autoptr(GError) error = NULL;

    g_option_context_add_main_entries(octx, entries, NULL);
    if (!g_option_context_parse(octx, &argc, &argv, &error) ||
        (!socket_path == !spawn)) {
        fprintf(stderr, "qmp-watch: %s\n",
                error ? error->message : "give --socket PATH or --spawn BINARY");
        return 2;
    }

    g_autoptr(QmpMonitor) mon = qmp_monitor_new(NULL);
    g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
    Watch w = { .mon = mon, .loop = loop, .once = once };

    /* Set-up, synchronously: connect, greeting + capabilities, a query. */
    gboolean ok;
    if (spawn) {
        const char *const args[] = { "-machine", "none", "-nodefaults",
                                     "-display", "none", "-S", NULL };
        ok = qmp_monitor_spawn(mon, spawn, args, &error);
    } else {
        ok = qmp_monitor_connect_unix(mon, socket_path, &error);
    }
    if (!ok || !qmp_monitor_handshake(mon, QMP_HANDSHAKE_OOB, 10000, &error)) {
        fprintf(stderr, "qmp-watch: connecting: %s\n", error->message);
        return 1;
    }
    int major = 0, minor = 0, micro = 0;
    qmp_monitor_get_version(mon, &major, &minor, &micro, NULL);
    printf("connected: QEMU %d.%d.%d, oob %s\n", major, minor, micro,
           qmp_monitor_get_oob_enabled(mon) ? "on" : "off");

    g_autoptr(QmpStatusInfo) st = qmp_query_status(mon, &error);
    if (!st) {
        fprintf(stderr, "qmp-watch: query-status: %s\n", error->message);
        return 1;
    }
    printf("status: %s\n", qmp_run_state_to_string(st->status));
    fflush(stdout);

    /* From here on everything is driven by the main loop. */
    g_signal_connect(mon, "closed", G_CALLBACK(on_closed), &w);
    qmp_subscribe_resume(mon, on_resume, &w, NULL);
    qmp_subscribe_stop(mon, on_stop, &w, NULL);
    g_unix_signal_add(SIGINT, on_signal, &w);
    g_unix_signal_add(SIGTERM, on_signal, &w);
    if (deadline_s > 0)
        g_timeout_add_seconds(deadline_s, on_deadline, &w);

    g_autoptr(GCancellable) cancel = g_cancellable_new();
    qmp_query_status_async(mon, cancel, on_cancelled_query, &w);
    g_cancellable_cancel(cancel);

    g_main_loop_run(loop);

    g_signal_handlers_disconnect_by_data(mon, &w);
    qmp_monitor_close(mon); /* ends a spawned QEMU */
    return w.status;
}
