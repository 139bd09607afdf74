/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-monitor-live: the protocol core against a real QEMU (7.2 here).
 * Skipped (exit 77) when qemu-system-x86_64 is not installed.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <netinet/in.h>
#include "qmp-monitor.h"

#define QEMU "qemu-system-x86_64"
static const char *const qemu_args[] = {
    "-machine", "none", "-nodefaults", "-display", "none", "-S", NULL
};

/* QEMU started by the test itself, its monitor on a unix socket. */
typedef struct {
    pid_t pid;
    char *dir;
    char *path;
} Qemu;

static void qemu_start_unix(Qemu *q)
{
    q->dir = g_dir_make_tmp("qmpkit-live-XXXXXX", NULL);
    g_assert_nonnull(q->dir);
    q->path = g_build_filename(q->dir, "qmp.sock", NULL);
    char *chardev = g_strdup_printf("socket,id=mon0,path=%s,server=on,wait=off", q->path);
    const char *argv[] = { QEMU, "-machine", "none", "-nodefaults", "-display", "none",
                           "-S", "-chardev", chardev, "-mon", "chardev=mon0,mode=control",
                           NULL };
    q->pid = fork();
    g_assert_cmpint(q->pid, >=, 0);
    if (q->pid == 0) {
        /* Dies with the test, so an aborted test leaves no QEMU holding
         * the test runner's output pipe. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        execvp(argv[0], (char **) argv);
        _exit(127);
    }
    g_free(chardev);
    /* Wait for the socket to appear (bounded; a loaded machine may take
     * seconds to start QEMU), and notice a QEMU that exited instead. */
    for (int i = 0; i < 6000; i++) {
        struct stat st;
        if (stat(q->path, &st) == 0)
            break;
        int status;
        g_assert_cmpint(waitpid(q->pid, &status, WNOHANG), ==, 0);
        g_usleep(5000);
    }
}

static void qemu_stop(Qemu *q)
{
    int status;
    kill(q->pid, SIGTERM);
    waitpid(q->pid, &status, 0);
    unlink(q->path);
    rmdir(q->dir);
    g_free(q->path);
    g_free(q->dir);
}

/* A loopback port nobody listens on right now (the kernel's choice). */
static guint16 free_port(void)
{
    struct sockaddr_in sa = { .sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), ==, 0);
    g_assert_cmpint(getsockname(fd, (struct sockaddr *) &sa, &len), ==, 0);
    close(fd);
    return ntohs(sa.sin_port);
}

static void test_greeting_tcp(void)
{
    GError *error = NULL;
    guint16 port = free_port();
    g_autofree char *chardev = g_strdup_printf(
        "socket,id=mon0,host=127.0.0.1,port=%u,server=on,wait=off", port);
    const char *argv[] = { QEMU, "-machine", "none", "-nodefaults", "-display", "none",
                           "-S", "-chardev", chardev, "-mon", "chardev=mon0,mode=control",
                           NULL };
    pid_t pid = fork();
    g_assert_cmpint(pid, >=, 0);
    if (pid == 0) {
        execvp(argv[0], (char **) argv);
        _exit(127);
    }
    g_autoptr(QmpMonitor) mon = qmp_monitor_new(NULL);
    gboolean connected = FALSE;
    for (int i = 0; i < 2000 && !connected; i++) {
        connected = qmp_monitor_connect_tcp(mon, "127.0.0.1", port, &error);
        if (!connected) {
            /* QEMU is not listening yet */
            g_assert_error(error, QMP_ERROR, QMP_ERROR_IO);
            g_clear_error(&error);
            g_usleep(5000);
        }
    }
    g_assert_true(connected);
    g_assert_true(qmp_monitor_handshake(mon, QMP_HANDSHAKE_OOB, 20000, &error));
    g_assert_no_error(error);
    g_assert_true(qmp_monitor_get_oob_enabled(mon));
    const QmpJson *ret;
    g_autoptr(QmpJsonDoc) doc = qmp_monitor_execute(mon, "query-status", NULL, 0, NULL, 0,
                                                    -1, &ret, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(qmp_json_get_string(qmp_json_lookup(ret, "status")), ==, "prelaunch");
    qmp_monitor_close(mon);
    int status;
    kill(pid, SIGTERM);
    waitpid(pid, &status, 0);
}

static QmpMonitor *spawned(QmpHandshakeFlags flags)
{
    GError *error = NULL;
    QmpMonitor *mon = qmp_monitor_new(NULL);
    g_assert_true(qmp_monitor_spawn(mon, QEMU, qemu_args, &error));
    g_assert_no_error(error);
    g_assert_true(qmp_monitor_handshake(mon, flags, 20000, &error));
    g_assert_no_error(error);
    return mon;
}

static void test_greeting_unix(void)
{
    Qemu q;
    GError *error = NULL;
    qemu_start_unix(&q);
    g_autoptr(QmpMonitor) mon = qmp_monitor_new(NULL);
    g_assert_true(qmp_monitor_connect_unix(mon, q.path, &error));
    g_assert_no_error(error);
    g_assert_true(qmp_monitor_handshake(mon, QMP_HANDSHAKE_NONE, 20000, &error));
    g_assert_no_error(error);

    int major = 0, minor = 0, micro = -1;
    const char *package = NULL;
    g_assert_true(qmp_monitor_get_version(mon, &major, &minor, &micro, &package));
    g_assert_cmpint(major, >=, 2);
    g_assert_cmpint(micro, >=, 0);
    g_assert_nonnull(package);
    g_assert_true(g_strv_contains(qmp_monitor_get_capabilities(mon), "oob"));
    g_assert_false(qmp_monitor_get_oob_enabled(mon));
    g_assert_nonnull(qmp_monitor_get_greeting(mon));

    const QmpJson *ret;
    g_autoptr(QmpJsonDoc) doc = qmp_monitor_execute(mon, "query-status", NULL, 0, NULL, 0,
                                                    -1, &ret, &error);
    g_assert_no_error(error);
    g_assert_nonnull(ret);
    g_assert_cmpstr(qmp_json_get_string(qmp_json_lookup(ret, "status")), ==, "prelaunch");

    /* Without OOB, exec-oob is refused by the library. */
    QmpJsonDoc *d = qmp_monitor_execute(mon, "migrate-pause", NULL, QMP_EXECUTE_OOB,
                                        NULL, 0, -1, NULL, &error);
    g_assert_null(d);
    g_assert_error(error, QMP_ERROR, QMP_ERROR_UNSUPPORTED);
    g_clear_error(&error);
    qmp_monitor_close(mon);
    qemu_stop(&q);
}

static void test_oob(void)
{
    GError *error = NULL;
    g_autoptr(QmpMonitor) mon = spawned(QMP_HANDSHAKE_OOB);
    g_assert_true(qmp_monitor_get_oob_enabled(mon));
    g_assert_cmpint(qmp_monitor_get_pid(mon), >, 0);

    /* QEMU runs migrate-pause out of band; outside post-copy it refuses. */
    QmpJsonDoc *d = qmp_monitor_execute(mon, "migrate-pause", NULL, QMP_EXECUTE_OOB,
                                        NULL, 0, -1, NULL, &error);
    g_assert_null(d);
    g_assert_error(error, QMP_COMMAND_ERROR, QMP_COMMAND_ERROR_GENERIC_ERROR);
    g_clear_error(&error);

    /* A command that does not allow OOB. */
    d = qmp_monitor_execute(mon, "query-status", NULL, QMP_EXECUTE_OOB, NULL, 0, -1,
                            NULL, &error);
    g_assert_null(d);
    g_assert_error(error, QMP_COMMAND_ERROR, QMP_COMMAND_ERROR_GENERIC_ERROR);
    g_assert_cmpstr(error->message, ==, "The command query-status does not support OOB");
    g_clear_error(&error);
}

typedef struct {
    guint done;
    guint ok;
    guint bad_order;
    guint next_expected;
} Pipeline;

typedef struct {
    Pipeline *p;
    guint index;
} PipeItem;

static void pipe_cb(GObject *source, GAsyncResult *res, gpointer data)
{
    PipeItem *it = data;
    GError *error = NULL;
    const QmpJson *ret;
    QmpJsonDoc *doc = qmp_monitor_execute_finish(QMP_MONITOR(source), res, &ret, &error);
    g_assert_no_error(error);
    /* Each reply is ours: its return is the status object. */
    if (doc && qmp_json_lookup(ret, "status"))
        it->p->ok++;
    if (it->index != it->p->next_expected)
        it->p->bad_order++;
    it->p->next_expected++;
    it->p->done++;
    qmp_json_doc_unref(doc);
    g_free(it);
}

static void test_pipelined(void)
{
    g_autoptr(QmpMonitor) mon = spawned(QMP_HANDSHAKE_NONE);
    Pipeline p = { 0 };
    const guint n = 10000;
    for (guint i = 0; i < n; i++) {
        PipeItem *it = g_new(PipeItem, 1);
        it->p = &p;
        it->index = i;
        qmp_monitor_execute_async(mon, "query-status", NULL, 0, NULL, 0, NULL,
                                  pipe_cb, it);
    }
    g_assert_cmpuint(qmp_monitor_get_n_pending(mon), ==, n);
    while (p.done < n)
        g_main_context_iteration(NULL, TRUE);
    g_assert_cmpuint(p.ok, ==, n);
    g_assert_cmpuint(p.bad_order, ==, 0);
    g_assert_cmpuint(qmp_monitor_get_n_pending(mon), ==, 0);
}

static void test_errors(void)
{
    GError *error = NULL;
    g_autoptr(QmpMonitor) mon = spawned(QMP_HANDSHAKE_NONE);

    QmpJsonDoc *d = qmp_monitor_execute(mon, "no-such-command", NULL, 0, NULL, 0, -1,
                                        NULL, &error);
    g_assert_null(d);
    g_assert_error(error, QMP_COMMAND_ERROR, QMP_COMMAND_ERROR_COMMAND_NOT_FOUND);
    g_assert_cmpstr(error->message, ==, "The command no-such-command has not been found");
    g_clear_error(&error);

    d = qmp_monitor_execute(mon, "getfd", "{\"fdname\":\"x\"}", 0, NULL, 0, -1, NULL, &error);
    g_assert_null(d);
    g_assert_error(error, QMP_COMMAND_ERROR, QMP_COMMAND_ERROR_GENERIC_ERROR);
    g_assert_cmpstr(error->message, ==, "No file descriptor supplied via SCM_RIGHTS");
    g_clear_error(&error);

    /* Invalid arguments never reach the wire. */
    d = qmp_monitor_execute(mon, "getfd", "[1,2]", 0, NULL, 0, -1, NULL, &error);
    g_assert_error(error, QMP_ERROR, QMP_ERROR_INVALID);
    g_clear_error(&error);

    /* The connection is still fine. */
    g_autoptr(QmpJsonDoc) ok = qmp_monitor_execute(mon, "query-status", NULL, 0, NULL, 0,
                                                   -1, NULL, &error);
    g_assert_no_error(error);
    g_assert_nonnull(ok);
}

/* Order in which events and reply callbacks ran, against the order the
 * trace saw the messages arrive. */
typedef struct {
    GString *seen;
    GString *wire;
    gint64 last_ts;
    guint replies;
} Order;

static void order_event(QmpMonitor *mon, const char *event, const QmpJson *data,
                        gint64 ts, gpointer user_data)
{
    Order *o = user_data;
    g_string_append_printf(o->seen, "%s ", event);
    g_assert_cmpint(ts, >, 0);
    g_assert_cmpint(ts, >=, o->last_ts);
    o->last_ts = ts;
}

static void order_trace(QmpMonitor *mon, QmpTraceDirection dir, const char *line, gsize len,
                        const int *fds, guint n_fds, gpointer user_data)
{
    Order *o = user_data;
    if (dir != QMP_TRACE_IN)
        return;
    g_autofree char *s = g_strndup(line, len);
    if (strstr(s, "\"event\": \"STOP\""))
        g_string_append(o->wire, "STOP ");
    else if (strstr(s, "\"event\": \"RESUME\""))
        g_string_append(o->wire, "RESUME ");
    else if (strstr(s, "\"return\""))
        g_string_append(o->wire, "reply ");
}

static void order_reply(GObject *source, GAsyncResult *res, gpointer data)
{
    Order *o = data;
    GError *error = NULL;
    QmpJsonDoc *doc = qmp_monitor_execute_finish(QMP_MONITOR(source), res, NULL, &error);
    g_assert_no_error(error);
    qmp_json_doc_unref(doc);
    g_string_append(o->seen, "reply ");
    o->replies++;
}

static void test_events(void)
{
    g_autoptr(QmpMonitor) mon = spawned(QMP_HANDSHAKE_NONE);
    Order o = { g_string_new(NULL), g_string_new(NULL), 0, 0 };
    qmp_monitor_set_trace(mon, order_trace, &o, NULL);
    guint all = qmp_monitor_subscribe(mon, NULL, order_event, &o, NULL);

    const char *cmds[] = { "cont", "stop", "cont", "stop", "query-status" };
    for (guint i = 0; i < G_N_ELEMENTS(cmds); i++)
        qmp_monitor_execute_async(mon, cmds[i], NULL, 0, NULL, 0, NULL, order_reply, &o);
    while (o.replies < G_N_ELEMENTS(cmds))
        g_main_context_iteration(NULL, TRUE);

    g_assert_cmpstr(o.seen->str, ==, o.wire->str);
    /* Two RESUME and two STOP events, in this order among the replies. */
    g_assert_nonnull(strstr(o.seen->str, "RESUME"));
    g_assert_nonnull(strstr(o.seen->str, "STOP"));
    const char *r1 = strstr(o.seen->str, "RESUME");
    const char *s1 = strstr(o.seen->str, "STOP");
    g_assert_true(r1 < s1);
    qmp_monitor_unsubscribe(mon, all);
    g_string_free(o.seen, TRUE);
    g_string_free(o.wire, TRUE);
    qmp_monitor_set_trace(mon, NULL, NULL, NULL);
}

static void count_event(QmpMonitor *mon, const char *event, const QmpJson *data,
                        gint64 ts, gpointer user_data)
{
    (*(guint *) user_data)++;
}

static void test_event_by_name(void)
{
    GError *error = NULL;
    g_autoptr(QmpMonitor) mon = spawned(QMP_HANDSHAKE_NONE);
    guint stops = 0, resumes = 0;
    qmp_monitor_subscribe(mon, "STOP", count_event, &stops, NULL);
    guint r = qmp_monitor_subscribe(mon, "RESUME", count_event, &resumes, NULL);
    QmpJsonDoc *d = qmp_monitor_execute(mon, "cont", NULL, 0, NULL, 0, -1, NULL, &error);
    g_assert_no_error(error);
    qmp_json_doc_unref(d);
    d = qmp_monitor_execute(mon, "stop", NULL, 0, NULL, 0, -1, NULL, &error);
    g_assert_no_error(error);
    qmp_json_doc_unref(d);
    /* STOP may follow its reply: one more round trip brings it. */
    d = qmp_monitor_execute(mon, "query-status", NULL, 0, NULL, 0, -1, NULL, &error);
    qmp_json_doc_unref(d);
    g_assert_cmpuint(resumes, ==, 1);
    g_assert_cmpuint(stops, ==, 1);
    qmp_monitor_unsubscribe(mon, r);
    d = qmp_monitor_execute(mon, "cont", NULL, 0, NULL, 0, -1, NULL, &error);
    qmp_json_doc_unref(d);
    d = qmp_monitor_execute(mon, "query-status", NULL, 0, NULL, 0, -1, NULL, &error);
    qmp_json_doc_unref(d);
    g_assert_cmpuint(resumes, ==, 1);
}

static void test_getfd(void)
{
    GError *error = NULL;
    g_autoptr(QmpMonitor) mon = spawned(QMP_HANDSHAKE_NONE);
    int p[2];
    g_assert_cmpint(pipe(p), ==, 0);

    QmpJsonDoc *d = qmp_monitor_execute(mon, "getfd", "{\"fdname\":\"fd0\"}", 0, &p[1], 1,
                                        -1, NULL, &error);
    g_assert_no_error(error);
    g_assert_nonnull(d);
    qmp_json_doc_unref(d);
    /* The fd is borrowed: still ours. */
    g_assert_cmpint(write(p[1], "x", 1), ==, 1);

    /* QEMU has it under that name now. */
    d = qmp_monitor_execute(mon, "closefd", "{\"fdname\":\"fd0\"}", 0, NULL, 0, -1, NULL,
                            &error);
    g_assert_no_error(error);
    qmp_json_doc_unref(d);
    d = qmp_monitor_execute(mon, "closefd", "{\"fdname\":\"fd0\"}", 0, NULL, 0, -1, NULL,
                            &error);
    g_assert_error(error, QMP_COMMAND_ERROR, QMP_COMMAND_ERROR_GENERIC_ERROR);
    g_clear_error(&error);

    /* add-fd with an fd set. */
    d = qmp_monitor_execute(mon, "add-fd", "{\"fdset-id\":3}", 0, &p[0], 1, -1, NULL, &error);
    g_assert_no_error(error);
    const QmpJson *ret = qmp_json_lookup(qmp_json_doc_root(d), "return");
    gint64 id = -1;
    g_assert_true(qmp_json_get_int64(qmp_json_lookup(ret, "fdset-id"), &id));
    g_assert_cmpint(id, ==, 3);
    qmp_json_doc_unref(d);
    close(p[0]);
    close(p[1]);
}

typedef struct {
    guint failed;
    guint succeeded;
    GError *first;
} Killed;

static void killed_cb(GObject *source, GAsyncResult *res, gpointer data)
{
    Killed *k = data;
    GError *error = NULL;
    QmpJsonDoc *doc = qmp_monitor_execute_finish(QMP_MONITOR(source), res, NULL, &error);
    if (doc) {
        k->succeeded++;
        qmp_json_doc_unref(doc);
    } else {
        k->failed++;
        if (!k->first)
            k->first = error;
        else
            g_error_free(error);
    }
}

static void on_closed(QmpMonitor *mon, const GError *error, gpointer data)
{
    *(GError **) data = g_error_copy(error);
}

static void test_killed(void)
{
    g_autoptr(QmpMonitor) mon = spawned(QMP_HANDSHAKE_NONE);
    GError *closed = NULL;
    g_signal_connect(mon, "closed", G_CALLBACK(on_closed), &closed);
    Killed k = { 0 };
    const guint n = 2000;
    for (guint i = 0; i < n; i++)
        qmp_monitor_execute_async(mon, "query-status", NULL, 0, NULL, 0, NULL, killed_cb, &k);
    /* Let a few replies come, then kill QEMU in the middle. */
    while (k.succeeded < 10)
        g_main_context_iteration(NULL, TRUE);
    kill(qmp_monitor_get_pid(mon), SIGKILL);
    gint64 t0 = g_get_monotonic_time();
    while (k.succeeded + k.failed < n)
        g_main_context_iteration(NULL, TRUE);
    gint64 dt = g_get_monotonic_time() - t0;
    g_assert_cmpuint(k.failed, >, 0);
    g_assert_error(k.first, QMP_ERROR, QMP_ERROR_CLOSED);
    g_test_message("pending calls failed after %" G_GINT64_FORMAT " us: %s", dt,
                   k.first->message);
    g_assert_nonnull(strstr(k.first->message, "killed by signal 9"));
    g_assert_cmpint(dt, <, 2 * G_USEC_PER_SEC);
    g_assert_nonnull(closed);
    g_assert_cmpstr(closed->message, ==, k.first->message);
    g_assert_cmpint(qmp_monitor_get_pid(mon), ==, 0);

    /* Later calls get the first fatal error. */
    GError *error = NULL;
    QmpJsonDoc *d = qmp_monitor_execute(mon, "query-status", NULL, 0, NULL, 0, -1, NULL,
                                        &error);
    g_assert_null(d);
    g_assert_error(error, QMP_ERROR, QMP_ERROR_CLOSED);
    g_assert_cmpstr(error->message, ==, k.first->message);
    g_clear_error(&error);
    g_clear_error(&k.first);
    g_clear_error(&closed);
}

static void test_spawn_close_reaps(void)
{
    QmpMonitor *mon = spawned(QMP_HANDSHAKE_NONE);
    pid_t pid = qmp_monitor_get_pid(mon);
    gint64 t0 = g_get_monotonic_time();
    g_object_unref(mon);
    /* QEMU obeyed "quit": no wait for the SIGKILL grace period. */
    g_assert_cmpint(g_get_monotonic_time() - t0, <, 2 * G_USEC_PER_SEC);
    /* Reaped by the monitor: no such child any more. */
    int status;
    g_assert_cmpint(waitpid(pid, &status, WNOHANG), ==, -1);
    g_assert_cmpint(errno, ==, ECHILD);
}

int main(int argc, char **argv)
{
    g_autofree char *qemu = g_find_program_in_path(QEMU);
    if (!qemu) {
        g_print("SKIP: " QEMU " not found; these tests need QEMU\n");
        return 77;
    }
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/monitor/live/greeting-unix", test_greeting_unix);
    g_test_add_func("/monitor/live/greeting-tcp", test_greeting_tcp);
    g_test_add_func("/monitor/live/oob", test_oob);
    g_test_add_func("/monitor/live/pipelined-10000", test_pipelined);
    g_test_add_func("/monitor/live/errors", test_errors);
    g_test_add_func("/monitor/live/events-wire-order", test_events);
    g_test_add_func("/monitor/live/events-by-name", test_event_by_name);
    g_test_add_func("/monitor/live/getfd", test_getfd);
    g_test_add_func("/monitor/live/killed", test_killed);
    g_test_add_func("/monitor/live/close-reaps-child", test_spawn_close_reaps);
    return g_test_run();
}
