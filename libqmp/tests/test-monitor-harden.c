/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-monitor-harden: defects found by trying the library as an attacker
 * and as a daemon would.
 *   - greetings whose members have the wrong types are refused with a
 *     protocol error (qmp-fault-peer plays them);
 *   - closing a monitor whose spawned QEMU is wedged (SIGSTOPped) is
 *     bounded by the close grace period (then SIGKILL), and
 *     qmp_monitor_close_async() never blocks the main loop;
 *   - connecting without blocking (unix and TCP), with its errors.
 * The QEMU parts skip themselves without qemu-system-x86_64.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>
#include "qmp-monitor.h"

#ifndef FAULT_PEER
#error FAULT_PEER must name the qmp-fault-peer program
#endif

#define QEMU "qemu-system-x86_64"

static gboolean have_qemu(void)
{
    g_autofree char *path = g_find_program_in_path(QEMU);
    if (!path)
        g_test_skip(QEMU " is not installed");
    return path != NULL;
}

/* ---- greetings -------------------------------------------------------- */

static QmpMonitor *with_peer(const char *script, pid_t *peer)
{
    int sv[2];
    GError *error = NULL;
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
    *peer = fork();
    g_assert_cmpint(*peer, >=, 0);
    if (*peer == 0) {
        int fd = dup(sv[1]);
        char num[16];
        g_snprintf(num, sizeof(num), "%d", fd);
        execl(FAULT_PEER, FAULT_PEER, num, script, (char *) NULL);
        _exit(127);
    }
    close(sv[1]);
    QmpMonitor *mon = qmp_monitor_new(NULL);
    g_assert_true(qmp_monitor_connect_fd(mon, sv[0], &error));
    g_assert_no_error(error);
    return mon;
}

static void end_peer(QmpMonitor *mon, pid_t peer)
{
    int status;
    g_object_unref(mon);
    waitpid(peer, &status, 0);
}

static void test_greeting_types(void)
{
    static const struct { const char *greeting, *fault; } cases[] = {
        { "{\"QMP\": {\"version\": \"7.2.0\", \"capabilities\": []}}",
          "\"version\" must be an object" },
        { "{\"QMP\": {\"capabilities\": []}}", "\"version\" must be an object" },
        { "{\"QMP\": {\"version\": {\"qemu\": [7, 2, 0], \"package\": \"\"}, \"capabilities\": []}}",
          "\"version.qemu\" must be an object" },
        { "{\"QMP\": {\"version\": {\"qemu\": {\"major\": \"7\", \"minor\": 2, \"micro\": 0}, "
          "\"package\": \"\"}, \"capabilities\": []}}",
          "\"version.qemu.major\" must be an integer >= 0" },
        { "{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7, \"minor\": 2.5, \"micro\": 0}, "
          "\"package\": \"\"}, \"capabilities\": []}}",
          "\"version.qemu.minor\" must be an integer >= 0" },
        { "{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7, \"minor\": 2}, "
          "\"package\": \"\"}, \"capabilities\": []}}",
          "\"version.qemu.micro\" must be an integer >= 0" },
        { "{\"QMP\": {\"version\": {\"qemu\": {\"major\": -1, \"minor\": 2, \"micro\": 0}, "
          "\"package\": \"\"}, \"capabilities\": []}}",
          "\"version.qemu.major\" must be an integer >= 0" },
        { "{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7, \"minor\": 2, \"micro\": 0}, "
          "\"package\": 42}, \"capabilities\": []}}",
          "\"version.package\" must be a string" },
        { "{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7, \"minor\": 2, \"micro\": 0}, "
          "\"package\": \"\"}, \"capabilities\": \"oob\"}}",
          "\"capabilities\" must be an array" },
        { "{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7, \"minor\": 2, \"micro\": 0}, "
          "\"package\": \"\"}}}",
          "\"capabilities\" must be an array" },
        { "{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7, \"minor\": 2, \"micro\": 0}, "
          "\"package\": \"\"}, \"capabilities\": [\"oob\", 1]}}",
          "\"capabilities\" must hold strings" },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *script = g_strdup_printf("send %s\ndrain", cases[i].greeting);
        pid_t peer;
        GError *error = NULL;
        QmpMonitor *mon = with_peer(script, &peer);
        g_assert_false(qmp_monitor_handshake(mon, QMP_HANDSHAKE_OOB, 10000, &error));
        g_assert_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL);
        if (!strstr(error->message, cases[i].fault))
            g_error("case %zu: expected '%s' in: %s", i, cases[i].fault, error->message);
        g_assert_false(qmp_monitor_is_connected(mon));
        g_error_free(error);
        end_peer(mon, peer);
    }

    /* a well-typed greeting without "package" is fine */
    pid_t peer;
    GError *error = NULL;
    QmpMonitor *mon = with_peer("send {\"QMP\": {\"version\": {\"qemu\": {\"major\": 9, "
                                "\"minor\": 1, \"micro\": 0}}, \"capabilities\": []}}\nok\ndrain",
                                &peer);
    g_assert_true(qmp_monitor_handshake(mon, QMP_HANDSHAKE_OOB, 10000, &error));
    g_assert_no_error(error);
    int major = 0;
    g_assert_true(qmp_monitor_get_version(mon, &major, NULL, NULL, NULL));
    g_assert_cmpint(major, ==, 9);
    end_peer(mon, peer);
}

/* ---- event timestamps ------------------------------------------------- */

static void on_any_event(QmpMonitor *mon, const char *event, const QmpJson *data,
                         gint64 ts, gpointer user_data)
{
    *(gint64 *) user_data = ts;
}

/* A timestamp whose seconds overflow microseconds in 64 bits saturates
 * (found by the dispatch fuzz target with UBSan: signed overflow). */
static void test_event_timestamp_overflow(void)
{
    pid_t peer;
    GError *error = NULL;
    gint64 ts = 0;
    QmpMonitor *mon = with_peer("greeting\nok\nsend {\"event\": \"STOP\", \"timestamp\": "
                                "{\"seconds\": 179640088255841, \"microseconds\": 5}}\n"
                                "ok\ndrain", &peer);
    qmp_monitor_subscribe(mon, NULL, on_any_event, &ts, NULL);
    g_assert_true(qmp_monitor_handshake(mon, QMP_HANDSHAKE_NONE, 10000, &error));
    g_assert_no_error(error);
    g_autoptr(QmpJsonDoc) doc = qmp_monitor_execute(mon, "query-status", NULL, 0, NULL, 0,
                                                    10000, NULL, &error);
    g_assert_no_error(error);
    g_assert_cmpint(ts, >=, (G_MAXINT64 / G_USEC_PER_SEC - 1) * G_USEC_PER_SEC);
    end_peer(mon, peer);
}

/* ---- closing a wedged QEMU -------------------------------------------- */

static QmpMonitor *spawn_qemu(GPid *pid)
{
    static const char *const argv[] = {
        "-machine", "none", "-nodefaults", "-display", "none", "-S", NULL
    };
    GError *error = NULL;
    QmpMonitor *mon = qmp_monitor_new(NULL);
    g_assert_true(qmp_monitor_spawn(mon, QEMU, argv, &error));
    g_assert_no_error(error);
    g_assert_true(qmp_monitor_handshake(mon, QMP_HANDSHAKE_NONE, 30000, &error));
    g_assert_no_error(error);
    *pid = qmp_monitor_get_pid(mon);
    g_assert_cmpint(*pid, >, 0);
    return mon;
}

static gboolean gone(GPid pid)
{
    return kill(pid, 0) < 0 && errno == ESRCH;
}

static void test_close_wedged(void)
{
    GPid pid;
    if (!have_qemu())
        return;
    QmpMonitor *mon = spawn_qemu(&pid);
    g_assert_cmpuint(qmp_monitor_get_close_grace(mon), ==, QMP_MONITOR_DEFAULT_CLOSE_GRACE_MS);
    qmp_monitor_set_close_grace(mon, 100);
    g_assert_cmpint(kill(pid, SIGSTOP), ==, 0);     /* wedged: reads nothing */
    gint64 t0 = g_get_monotonic_time();
    qmp_monitor_close(mon);
    double took = (g_get_monotonic_time() - t0) / 1e6;
    g_test_message("close of a stopped QEMU took %.2f s (grace 0.1 s)", took);
    g_assert_true(gone(pid));                        /* killed and reaped */
    g_assert_false(qmp_monitor_is_connected(mon));
    /* Bounded by the grace period, not the 6 s it used to take: a bound
     * far above the 0.1 s grace, so load cannot trip it. */
    g_assert_cmpfloat(took, <, 4.0);
    g_object_unref(mon);
}

static gboolean tick(gpointer data)
{
    ++*(int *) data;
    return G_SOURCE_CONTINUE;
}

static void closed_cb(GObject *src, GAsyncResult *res, gpointer data)
{
    GError *error = NULL;
    g_assert_true(qmp_monitor_close_finish(QMP_MONITOR(src), res, &error));
    g_assert_no_error(error);
    *(gboolean *) data = TRUE;
}

static void test_close_async_wedged(void)
{
    GPid pid;
    if (!have_qemu())
        return;
    QmpMonitor *mon = spawn_qemu(&pid);
    qmp_monitor_set_close_grace(mon, 300);
    g_assert_cmpint(kill(pid, SIGSTOP), ==, 0);
    int ticks = 0;
    gboolean done = FALSE;
    guint t = g_timeout_add(5, tick, &ticks);
    qmp_monitor_close_async(mon, NULL, closed_cb, &done);
    /* returned at once: the connection is closed, QEMU not yet ended */
    g_assert_false(qmp_monitor_is_connected(mon));
    g_assert_false(done);
    g_object_unref(mon);                 /* the close keeps it alive */
    while (!done)
        g_main_context_iteration(NULL, TRUE);
    g_source_remove(t);
    /* the loop kept running while QEMU was being ended */
    g_assert_cmpint(ticks, >, 0);
    g_assert_true(gone(pid));
}

static void test_close_async_quits(void)
{
    GPid pid;
    if (!have_qemu())
        return;
    QmpMonitor *mon = spawn_qemu(&pid);
    gboolean done = FALSE;
    qmp_monitor_close_async(mon, NULL, closed_cb, &done);
    while (!done)
        g_main_context_iteration(NULL, TRUE);
    g_assert_true(gone(pid));
    g_object_unref(mon);

    /* and without a child: at once */
    pid_t peer;
    mon = with_peer("greeting\nok\ndrain", &peer);
    done = FALSE;
    qmp_monitor_close_async(mon, NULL, closed_cb, &done);
    while (!done)
        g_main_context_iteration(NULL, TRUE);
    end_peer(mon, peer);
}

/* ---- async connect ----------------------------------------------------- */

typedef struct {
    gboolean done, ok;
    GError *error;
    gboolean tcp;
} Connected;

static void connected_cb(GObject *src, GAsyncResult *res, gpointer data)
{
    Connected *c = data;
    c->ok = c->tcp ? qmp_monitor_connect_tcp_finish(QMP_MONITOR(src), res, &c->error)
                   : qmp_monitor_connect_unix_finish(QMP_MONITOR(src), res, &c->error);
    c->done = TRUE;
}

static void wait_connected(Connected *c)
{
    while (!c->done)
        g_main_context_iteration(NULL, TRUE);
}

static guint16 free_port(void)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    g_assert_cmpint(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), ==, 0);
    g_assert_cmpint(getsockname(fd, (struct sockaddr *) &sa, &len), ==, 0);
    close(fd);
    return ntohs(sa.sin_port);
}

static void talk(QmpMonitor *mon)
{
    GError *error = NULL;
    g_assert_true(qmp_monitor_handshake(mon, QMP_HANDSHAKE_NONE, 30000, &error));
    g_assert_no_error(error);
    const QmpJson *ret;
    g_autoptr(QmpJsonDoc) doc = qmp_monitor_execute(mon, "query-status", NULL, 0, NULL, 0,
                                                    QMP_TIMEOUT_DEFAULT, &ret, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(qmp_json_get_string(qmp_json_lookup(ret, "status")), ==, "prelaunch");
}

/* QEMU dies with the test, even when an assertion aborts it. */
static void die_with_parent(gpointer data)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static void test_connect_async(void)
{
    if (!have_qemu())
        return;
    g_autofree char *dir = g_dir_make_tmp("qmpkit-connect-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "qmp.sock", NULL);
    guint16 port = free_port();
    g_autofree char *unix_opt = g_strdup_printf("unix:%s,server=on,wait=off", path);
    g_autofree char *tcp_opt = g_strdup_printf("tcp:127.0.0.1:%u,server=on,wait=off", port);
    const char *argv[] = { QEMU, "-machine", "none", "-nodefaults", "-display", "none", "-S",
                           "-qmp", unix_opt, "-qmp", tcp_opt, NULL };
    GPid qemu;
    GError *error = NULL;
    g_assert_true(g_spawn_async(NULL, (char **) argv, NULL,
                                G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD |
                                G_SPAWN_STDOUT_TO_DEV_NULL,
                                die_with_parent, NULL, &qemu, &error));
    g_assert_no_error(error);
    /* QEMU creates both listeners before it reads anything else */
    for (int i = 0; i < 3000 && !g_file_test(path, G_FILE_TEST_EXISTS); i++)
        g_usleep(10000);

    /* unix: retried while QEMU is still starting */
    QmpMonitor *mon = NULL;
    for (int attempt = 0;; attempt++) {
        Connected c = { 0 };
        mon = qmp_monitor_new(NULL);
        qmp_monitor_connect_unix_async(mon, path, NULL, connected_cb, &c);
        g_assert_false(c.done);                  /* never completes inline */
        wait_connected(&c);
        if (c.ok)
            break;
        g_assert_error(c.error, QMP_ERROR, QMP_ERROR_IO);
        g_clear_error(&c.error);
        g_object_unref(mon);
        g_assert_cmpint(attempt, <, 3000);
        g_usleep(10000);
    }
    talk(mon);
    /* a second connection on a connected monitor */
    Connected again = { 0 };
    qmp_monitor_connect_unix_async(mon, path, NULL, connected_cb, &again);
    wait_connected(&again);
    g_assert_false(again.ok);
    g_assert_error(again.error, QMP_ERROR, QMP_ERROR_INVALID);
    g_clear_error(&again.error);
    g_object_unref(mon);

    /* TCP on loopback */
    Connected t = { .tcp = TRUE };
    mon = qmp_monitor_new(NULL);
    qmp_monitor_connect_tcp_async(mon, "127.0.0.1", port, NULL, connected_cb, &t);
    wait_connected(&t);
    g_assert_no_error(t.error);
    g_assert_true(t.ok);
    talk(mon);
    g_object_unref(mon);

    kill(qemu, SIGKILL);
    waitpid(qemu, NULL, 0);
    g_spawn_close_pid(qemu);
    unlink(path);
    rmdir(dir);
}

static void test_connect_async_errors(void)
{
    /* nothing listens there */
    Connected c = { 0 };
    QmpMonitor *mon = qmp_monitor_new(NULL);
    qmp_monitor_connect_unix_async(mon, "/nonexistent/qmpkit.sock", NULL, connected_cb, &c);
    wait_connected(&c);
    g_assert_false(c.ok);
    g_assert_error(c.error, QMP_ERROR, QMP_ERROR_IO);
    g_assert_nonnull(strstr(c.error->message, "/nonexistent/qmpkit.sock"));
    g_clear_error(&c.error);
    g_assert_false(qmp_monitor_is_connected(mon));
    g_object_unref(mon);

    /* cancelled before it could finish */
    Connected k = { .tcp = TRUE };
    g_autoptr(GCancellable) cancel = g_cancellable_new();
    g_cancellable_cancel(cancel);
    mon = qmp_monitor_new(NULL);
    qmp_monitor_connect_tcp_async(mon, "127.0.0.1", 9, cancel, connected_cb, &k);
    wait_connected(&k);
    g_assert_false(k.ok);
    g_assert_error(k.error, QMP_ERROR, QMP_ERROR_CANCELLED);
    g_clear_error(&k.error);
    g_object_unref(mon);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    signal(SIGPIPE, SIG_IGN);
    g_test_add_func("/monitor/harden/greeting-types", test_greeting_types);
    g_test_add_func("/monitor/harden/event-timestamp-overflow", test_event_timestamp_overflow);
    g_test_add_func("/monitor/harden/close-wedged", test_close_wedged);
    g_test_add_func("/monitor/harden/close-async-wedged", test_close_async_wedged);
    g_test_add_func("/monitor/harden/close-async-quits", test_close_async_quits);
    g_test_add_func("/monitor/harden/connect-async", test_connect_async);
    g_test_add_func("/monitor/harden/connect-async-errors", test_connect_async_errors);
    return g_test_run();
}
