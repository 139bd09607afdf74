/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-monitor-faults: the protocol core against qmp-fault-peer, a scripted
 * server that misbehaves on purpose.  Each fault must give its own error,
 * fast, without leaks.
 */
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include "qmp-monitor.h"
#include "qmp-commands.h"

#ifndef FAULT_PEER
#error FAULT_PEER must name the qmp-fault-peer program
#endif

typedef struct {
    QmpMonitor *mon;
    pid_t peer;
} Fixture;

/* A monitor connected to a peer playing script. */
static void start(Fixture *f, const char *script)
{
    int sv[2];
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
    f->peer = fork();
    g_assert_cmpint(f->peer, >=, 0);
    if (f->peer == 0) {
        int fd = dup(sv[1]); /* without close-on-exec */
        char num[16];
        g_snprintf(num, sizeof(num), "%d", fd);
        execl(FAULT_PEER, FAULT_PEER, num, script, (char *) NULL);
        _exit(127);
    }
    close(sv[1]);
    GError *error = NULL;
    f->mon = qmp_monitor_new(NULL);
    g_assert_true(qmp_monitor_connect_fd(f->mon, sv[0], &error));
    g_assert_no_error(error);
}

static int finish(Fixture *f)
{
    int status;
    g_object_unref(f->mon);
    waitpid(f->peer, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void handshake_ok(Fixture *f)
{
    GError *error = NULL;
    g_assert_true(qmp_monitor_handshake(f->mon, QMP_HANDSHAKE_OOB, 5000, &error));
    g_assert_no_error(error);
}

/* Run one command that must fail with domain/code; returns the message. */
static char *fails(Fixture *f, GQuark domain, int code)
{
    GError *error = NULL;
    QmpJsonDoc *doc = qmp_monitor_execute(f->mon, "query-status", NULL, 0, NULL, 0,
                                          5000, NULL, &error);
    g_assert_null(doc);
    g_assert_error(error, domain, code);
    char *msg = g_strdup(error->message);
    g_error_free(error);
    g_assert_false(qmp_monitor_is_connected(f->mon));
    return msg;
}

static void test_truncated(void)
{
    Fixture f;
    start(&f, "greeting\nok\nrecv\nraw {\"return\": {}, \"id\": \"qmpk\nclose");
    handshake_ok(&f);
    g_autofree char *msg = fails(&f, QMP_ERROR, QMP_ERROR_CLOSED);
    g_assert_nonnull(strstr(msg, "inside a message"));
    finish(&f);
}

static void test_malformed(void)
{
    Fixture f;
    start(&f, "greeting\nok\nrecv\nsend {\"return\": {}, \"id\": ]\ndrain");
    handshake_ok(&f);
    g_autofree char *msg = fails(&f, QMP_ERROR, QMP_ERROR_PROTOCOL);
    g_test_message("%s", msg);
    g_assert_nonnull(strstr(msg, "malformed"));
    g_assert_nonnull(strstr(msg, "offset"));
    g_assert_cmpint(finish(&f), ==, 0);
}

static void test_oversized(void)
{
    Fixture f;
    start(&f, "greeting\nok\nrecv\nbig 200000\ndrain");
    qmp_monitor_set_max_message_size(f.mon, 4096);
    handshake_ok(&f);
    g_autofree char *msg = fails(&f, QMP_ERROR, QMP_ERROR_TOO_LARGE);
    g_assert_nonnull(strstr(msg, "4096"));
    finish(&f);
}

static void test_oversized_exact(void)
{
    /* A message of exactly the limit passes. */
    Fixture f;
    start(&f, "greeting\nok\nrecv\nbig 4096\ndrain");
    qmp_monitor_set_max_message_size(f.mon, 4096);
    handshake_ok(&f);
    /* big has no id: that is the next fault, not too large. */
    g_autofree char *msg = fails(&f, QMP_ERROR, QMP_ERROR_PROTOCOL);
    finish(&f);
}

static void test_unknown_id(void)
{
    Fixture f;
    start(&f, "greeting\nok\nrecv\nsend {\"return\": {}, \"id\": \"other-7\"}\ndrain");
    handshake_ok(&f);
    g_autofree char *msg = fails(&f, QMP_ERROR, QMP_ERROR_PROTOCOL);
    g_assert_nonnull(strstr(msg, "unknown id \"other-7\""));
    finish(&f);
}

static void test_no_id(void)
{
    Fixture f;
    start(&f, "greeting\nok\nrecv\nsend {\"error\": {\"class\": \"GenericError\", "
              "\"desc\": \"JSON parse error, expecting value\"}}\ndrain");
    handshake_ok(&f);
    g_autofree char *msg = fails(&f, QMP_ERROR, QMP_ERROR_PROTOCOL);
    g_assert_nonnull(strstr(msg, "without an id: JSON parse error, expecting value"));
    finish(&f);
}

static void test_greeting_timeout(void)
{
    Fixture f;
    GError *error = NULL;
    start(&f, "drain");
    gint64 t0 = g_get_monotonic_time();
    g_assert_false(qmp_monitor_handshake(f.mon, 0, 200, &error));
    gint64 dt = g_get_monotonic_time() - t0;
    g_assert_error(error, QMP_ERROR, QMP_ERROR_TIMEOUT);
    g_assert_nonnull(strstr(error->message, "no greeting within 200 ms"));
    g_assert_cmpint(dt, >=, 190000);
    g_assert_cmpint(dt, <, 3 * G_USEC_PER_SEC);
    g_clear_error(&error);
    g_assert_false(qmp_monitor_is_connected(f.mon));
    finish(&f);
}

static void test_eof_before_greeting(void)
{
    Fixture f;
    GError *error = NULL;
    start(&f, "close");
    g_assert_false(qmp_monitor_handshake(f.mon, 0, 5000, &error));
    g_assert_error(error, QMP_ERROR, QMP_ERROR_CLOSED);
    g_assert_nonnull(strstr(error->message, "before the greeting"));
    g_clear_error(&error);
    finish(&f);
}

static void test_not_a_greeting(void)
{
    Fixture f;
    GError *error = NULL;
    start(&f, "send {\"return\": {}}\ndrain");
    g_assert_false(qmp_monitor_handshake(f.mon, 0, 5000, &error));
    g_assert_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL);
    g_clear_error(&error);
    finish(&f);
}

static void test_framing(void)
{
    /* Blank lines, bare "\n" endings, two messages in one write, a message
     * split over writes, an event before the reply. */
    Fixture f;
    GError *error = NULL;
    start(&f, "raw \\r\\n\\n\n"
              "greeting oob\n"
              "ok\n"
              "recv\n"
              "raw {\"event\": \"STOP\", \"timestamp\": {\"seconds\": 5, \"microseconds\": 7}}\\n{\"return\": {\"a\": \n"
              "sleep 50\n"
              "raw 1}, \"id\": \"qmpkit-2\"}\\r\\n\n"
              "drain");
    handshake_ok(&f);
    g_assert_true(qmp_monitor_get_oob_enabled(f.mon));
    int major, minor, micro;
    const char *package;
    g_assert_true(qmp_monitor_get_version(f.mon, &major, &minor, &micro, &package));
    g_assert_cmpint(major * 10000 + minor * 100 + micro, ==, 70201);
    g_assert_cmpstr(package, ==, "fault-peer");
    const QmpJson *ret;
    g_autoptr(QmpJsonDoc) doc = qmp_monitor_execute(f.mon, "query-status", NULL, 0, NULL, 0,
                                                    5000, &ret, &error);
    g_assert_no_error(error);
    gint64 a = 0;
    g_assert_true(qmp_json_get_int64(qmp_json_lookup(ret, "a"), &a));
    g_assert_cmpint(a, ==, 1);
    finish(&f);
}

typedef struct {
    guint n;
    gint64 v[2];
} Two;

static void two_cb(GObject *source, GAsyncResult *res, gpointer data)
{
    Two *t = data;
    GError *error = NULL;
    const QmpJson *ret;
    QmpJsonDoc *doc = qmp_monitor_execute_finish(QMP_MONITOR(source), res, &ret, &error);
    g_assert_no_error(error);
    qmp_json_get_int64(qmp_json_lookup(ret, "n"), &t->v[t->n++]);
    qmp_json_doc_unref(doc);
}

static void test_out_of_order(void)
{
    /* Replies matched by id, whatever their order (as with OOB). */
    Fixture f;
    start(&f, "greeting oob\nok\nhold2\ndrain");
    handshake_ok(&f);
    Two t = { 0 };
    qmp_monitor_execute_async(f.mon, "a", NULL, 0, NULL, 0, NULL, two_cb, &t);
    qmp_monitor_execute_async(f.mon, "b", NULL, QMP_EXECUTE_OOB, NULL, 0, NULL, two_cb, &t);
    while (t.n < 2)
        g_main_context_iteration(NULL, TRUE);
    /* b's reply came first and carries n=2. */
    g_assert_cmpint(t.v[0], ==, 2);
    g_assert_cmpint(t.v[1], ==, 1);
    finish(&f);
}

static void test_sync_timeout(void)
{
    /* A late reply to a timed-out call is dropped; the connection lives. */
    Fixture f;
    GError *error = NULL;
    start(&f, "greeting\nok\nrecv\nsleep 300\nsend {\"return\": {}, \"id\": \"qmpkit-2\"}\nok\ndrain");
    handshake_ok(&f);
    QmpJsonDoc *doc = qmp_monitor_execute(f.mon, "slow", NULL, 0, NULL, 0, 100, NULL, &error);
    g_assert_null(doc);
    g_assert_error(error, QMP_ERROR, QMP_ERROR_TIMEOUT);
    g_clear_error(&error);
    g_assert_true(qmp_monitor_is_connected(f.mon));
    doc = qmp_monitor_execute(f.mon, "next", NULL, 0, NULL, 0, 5000, NULL, &error);
    g_assert_no_error(error);
    g_assert_nonnull(doc);
    qmp_json_doc_unref(doc);
    finish(&f);
}

typedef struct {
    GError *error;
    gboolean done;
} One;

static void one_cb(GObject *source, GAsyncResult *res, gpointer data)
{
    One *o = data;
    QmpJsonDoc *doc = qmp_monitor_execute_finish(QMP_MONITOR(source), res, NULL, &o->error);
    qmp_json_doc_unref(doc);
    o->done = TRUE;
}

static void test_cancel(void)
{
    Fixture f;
    GError *error = NULL;
    start(&f, "greeting\nok\nrecv\nsleep 100\nsend {\"return\": {}, \"id\": \"qmpkit-2\"}\nok\ndrain");
    handshake_ok(&f);
    GCancellable *c = g_cancellable_new();
    One o = { 0 };
    qmp_monitor_execute_async(f.mon, "slow", NULL, 0, NULL, 0, c, one_cb, &o);
    g_cancellable_cancel(c);
    while (!o.done)
        g_main_context_iteration(NULL, TRUE);
    g_assert_error(o.error, QMP_ERROR, QMP_ERROR_CANCELLED);
    g_clear_error(&o.error);
    g_object_unref(c);
    QmpJsonDoc *doc = qmp_monitor_execute(f.mon, "next", NULL, 0, NULL, 0, 5000, NULL, &error);
    g_assert_no_error(error);
    qmp_json_doc_unref(doc);
    finish(&f);
}

/* Cancelled after its reply arrived but before the reply was read: the
 * socket's source outranks the cancel's idle source, yet the call must
 * still complete with QMP_ERROR_CANCELLED (the peer answers at once; the
 * pause only makes it likely that the reply is waiting when the context
 * runs). */
static void test_cancel_reply_waiting(void)
{
    Fixture f;
    GError *error = NULL;
    start(&f, "greeting\nok\nrecv\nsend {\"return\": {}, \"id\": \"qmpkit-2\"}\nok\ndrain");
    handshake_ok(&f);
    GCancellable *c = g_cancellable_new();
    One o = { 0 };
    qmp_monitor_execute_async(f.mon, "fast", NULL, 0, NULL, 0, c, one_cb, &o);
    g_usleep(200 * 1000);
    g_cancellable_cancel(c);
    while (!o.done)
        g_main_context_iteration(NULL, TRUE);
    g_assert_error(o.error, QMP_ERROR, QMP_ERROR_CANCELLED);
    g_clear_error(&o.error);
    g_object_unref(c);
    QmpJsonDoc *doc = qmp_monitor_execute(f.mon, "next", NULL, 0, NULL, 0, 5000, NULL, &error);
    g_assert_no_error(error);
    qmp_json_doc_unref(doc);
    /* the cancel's idle source (it holds the call, which holds the
     * monitor) may still be queued behind the replies: let it run */
    while (g_main_context_pending(NULL))
        g_main_context_iteration(NULL, FALSE);
    finish(&f);
}

static void typed_cb(GObject *source, GAsyncResult *res, gpointer data)
{
    One *o = data;
    QmpStatusInfo *st = qmp_query_status_finish(QMP_MONITOR(source), res, &o->error);
    g_assert_true(st == NULL || o->error == NULL);
    qmp_status_info_free(st);
    o->done = TRUE;
}

/* Typed calls are call objects like untyped ones: cancel, close and timeout
 * give the same QMP_ERROR codes (a GTask wrapper used to turn cancel into
 * G_IO_ERROR_CANCELLED). */
static void test_typed_errors(void)
{
    Fixture f;
    GError *error = NULL;
    start(&f, "greeting\nok\nrecv\nsleep 100\nsend {\"return\": {}, \"id\": \"qmpkit-2\"}\n"
              "recv\ndrain");
    handshake_ok(&f);

    /* cancelled after it was sent; its late reply is dropped */
    GCancellable *c = g_cancellable_new();
    One o = { 0 };
    qmp_query_status_async(f.mon, c, typed_cb, &o);
    g_cancellable_cancel(c);
    while (!o.done)
        g_main_context_iteration(NULL, TRUE);
    g_assert_error(o.error, QMP_ERROR, QMP_ERROR_CANCELLED);
    g_clear_error(&o.error);

    /* cancelled before it was started */
    One pre = { 0 };
    qmp_query_status_async(f.mon, c, typed_cb, &pre);
    g_assert_false(pre.done); /* never from inside the _async() call */
    while (!pre.done)
        g_main_context_iteration(NULL, TRUE);
    g_assert_error(pre.error, QMP_ERROR, QMP_ERROR_CANCELLED);
    g_clear_error(&pre.error);
    g_object_unref(c);

    /* a sync typed call times out as an untyped one does */
    qmp_monitor_set_default_timeout(f.mon, 100);
    QmpStatusInfo *st = qmp_query_status(f.mon, &error);
    g_assert_null(st);
    g_assert_error(error, QMP_ERROR, QMP_ERROR_TIMEOUT);
    g_clear_error(&error);

    /* pending when the monitor closes */
    One closed = { 0 };
    qmp_query_status_async(f.mon, NULL, typed_cb, &closed);
    qmp_monitor_close(f.mon);
    g_assert_true(closed.done);
    g_assert_error(closed.error, QMP_ERROR, QMP_ERROR_CLOSED);
    g_clear_error(&closed.error);

    /* after the close */
    One after = { 0 };
    qmp_query_status_async(f.mon, NULL, typed_cb, &after);
    while (!after.done)
        g_main_context_iteration(NULL, TRUE);
    g_assert_error(after.error, QMP_ERROR, QMP_ERROR_CLOSED);
    g_clear_error(&after.error);
    finish(&f);
}

static void trace_cb(QmpMonitor *mon, QmpTraceDirection dir, const char *line, gsize len,
                     const int *fds, guint n_fds, gpointer user_data)
{
    GString *log = user_data;
    g_string_append_printf(log, "%s %.*s\n", dir == QMP_TRACE_IN ? "<" : ">", (int) len, line);
}

static void test_trace_redaction(void)
{
    Fixture f;
    GError *error = NULL;
    start(&f, "greeting\nok\nok\nok\n"
              "reply {\"return\": {\"password\": \"s3cret-in\", \"x\": 1}, \"id\": $ID}\n"
              "reply {\"return\": \"qomget-S3CRET\", \"id\": $ID}\n"
              "ok\nok\nok\n"
              "send {'event': 'X', 'data': {'note': 'unparsed-S3CRET'}}\ndrain");
    GString *log = g_string_new(NULL);
    qmp_monitor_set_trace(f.mon, trace_cb, log, NULL);
    qmp_monitor_add_secret_member(f.mon, "token");
    handshake_ok(&f);
    const char *calls[][2] = {
        { "object-add", "{\"qom-type\":\"secret\",\"id\":\"sec0\",\"data\":\"hunter2\","
                        "\"iv\":\"iv-S3CRET\",\"format\":\"raw\"}" },
        { "set_password", "{\"protocol\":\"vnc\",\"password\":\"letmein\"}" },
        { "qom-get", "{\"path\":\"/x\",\"property\":\"password\"}" },
        { "qom-get", "{\"path\":\"/objects/sec0\",\"property\":\"data\"}" },
        { "qom-set", "{\"path\":\"/objects/sec0\",\"property\":\"data\","
                     "\"value\":\"qomset-S3CRET\"}" },
        { "human-monitor-command",
          "{\"command-line\":\"object_add secret,id=s1,data=hmp-S3CRET\"}" },
        { "custom", "{\"nested\":[{\"token\":\"tok-123\",\"data\":\"visible\"}]}" },
    };
    for (guint i = 0; i < G_N_ELEMENTS(calls); i++) {
        QmpJsonDoc *doc = qmp_monitor_execute(f.mon, calls[i][0], calls[i][1], 0, NULL, 0,
                                              5000, NULL, &error);
        g_assert_no_error(error);
        qmp_json_doc_unref(doc);
    }
    /* the peer's single-quoted message (QEMU would accept one) ends it */
    while (qmp_monitor_is_connected(f.mon))
        g_main_context_iteration(NULL, TRUE);
    g_assert_error(qmp_monitor_get_error(f.mon), QMP_ERROR, QMP_ERROR_PROTOCOL);
    g_test_message("%s", log->str);
    const char *secrets[] = { "hunter2", "iv-S3CRET", "letmein", "s3cret-in",
                              "qomget-S3CRET", "qomset-S3CRET", "hmp-S3CRET",
                              "tok-123", "unparsed-S3CRET" };
    for (guint i = 0; i < G_N_ELEMENTS(secrets); i++)
        g_assert_null(strstr(log->str, secrets[i]));
    g_assert_nonnull(strstr(log->str, "\"visible\""));
    g_assert_nonnull(strstr(log->str, "\"sec0\""));
    g_assert_nonnull(strstr(log->str, "\"format\":\"raw\""));
    g_assert_nonnull(strstr(log->str, "< {\"unparsable\": \"<redacted: "));
    g_assert_nonnull(strstr(log->str, "> {\"execute\":\"qmp_capabilities\""));
    g_assert_nonnull(strstr(log->str, "< {\"QMP\":"));
    g_string_free(log, TRUE);
    finish(&f);
}

static void test_close_fails_pending(void)
{
    Fixture f;
    start(&f, "greeting\nok\ndrain");
    handshake_ok(&f);
    One o = { 0 };
    qmp_monitor_execute_async(f.mon, "never", NULL, 0, NULL, 0, NULL, one_cb, &o);
    qmp_monitor_close(f.mon);
    g_assert_true(o.done);
    g_assert_error(o.error, QMP_ERROR, QMP_ERROR_CLOSED);
    g_clear_error(&o.error);
    g_assert_cmpstr(qmp_monitor_get_error(f.mon)->message, ==, "the monitor was closed");
    finish(&f);
}

typedef struct {
    GString *log;
} Nested;

static void nested_event(QmpMonitor *mon, const char *event, const QmpJson *data,
                         gint64 ts, gpointer user_data)
{
    Nested *n = user_data;
    GError *error = NULL;
    g_string_append_printf(n->log, "event %s; ", event);
    /* A sync call from inside an event callback. */
    QmpJsonDoc *doc = qmp_monitor_execute(mon, "inner", NULL, 0, NULL, 0, 5000, NULL, &error);
    g_assert_no_error(error);
    g_assert_nonnull(doc);
    qmp_json_doc_unref(doc);
    g_string_append(n->log, "inner done; ");
}

static void nested_outer(GObject *source, GAsyncResult *res, gpointer data)
{
    Nested *n = data;
    GError *error = NULL;
    QmpJsonDoc *doc = qmp_monitor_execute_finish(QMP_MONITOR(source), res, NULL, &error);
    g_assert_no_error(error);
    qmp_json_doc_unref(doc);
    g_string_append(n->log, "outer done; ");
}

static void test_sync_in_callback(void)
{
    Fixture f;
    start(&f, "greeting\nok\nrecv\n"
              "send {\"event\": \"E\", \"timestamp\": {\"seconds\": 1, \"microseconds\": 2}}\n"
              "ok\nsend {\"return\": {}, \"id\": \"qmpkit-2\"}\ndrain");
    handshake_ok(&f);
    Nested n = { g_string_new(NULL) };
    qmp_monitor_subscribe(f.mon, "E", nested_event, &n, NULL);
    qmp_monitor_execute_async(f.mon, "outer", NULL, 0, NULL, 0, NULL, nested_outer, &n);
    while (!strstr(n.log->str, "outer done"))
        g_main_context_iteration(NULL, TRUE);
    g_assert_cmpstr(n.log->str, ==, "event E; inner done; outer done; ");
    g_string_free(n.log, TRUE);
    finish(&f);
}

typedef struct {
    GString *order;
    guint done;
} Window;

static void window_cb(GObject *source, GAsyncResult *res, gpointer data)
{
    Window *w = data;
    GError *error = NULL;
    QmpJsonDoc *doc = qmp_monitor_execute_finish(QMP_MONITOR(source), res, NULL, &error);
    g_assert_no_error(error);
    const char *id = qmp_json_get_string(qmp_json_lookup(qmp_json_doc_root(doc), "id"));
    g_string_append_printf(w->order, "%s ", id);
    qmp_json_doc_unref(doc);
    w->done++;
}

static void test_oob_window(void)
{
    /* With OOB on, ordinary commands beyond the window wait in the client
     * and an exec-oob overtakes them, so a QEMU whose queue is stuck still
     * reads it. */
    Fixture f;
    start(&f, "greeting oob\nok\n"
              "expect \"execute\":\"a\"\nexpect \"execute\":\"b\"\n"
              "expect \"exec-oob\":\"e\"\n"
              "send {\"return\": {}, \"id\": \"qmpkit-6\"}\n"
              "send {\"return\": {}, \"id\": \"qmpkit-2\"}\n"
              "expect \"execute\":\"c\"\n"
              "send {\"return\": {}, \"id\": \"qmpkit-3\"}\n"
              "expect \"execute\":\"d\"\n"
              "send {\"return\": {}, \"id\": \"qmpkit-4\"}\n"
              "send {\"return\": {}, \"id\": \"qmpkit-5\"}\n"
              "drain");
    handshake_ok(&f);
    qmp_monitor_set_max_in_flight(f.mon, 2);
    Window w = { g_string_new(NULL), 0 };
    const char *names[] = { "a", "b", "c", "d" };
    for (guint i = 0; i < 4; i++)
        qmp_monitor_execute_async(f.mon, names[i], NULL, 0, NULL, 0, NULL, window_cb, &w);
    qmp_monitor_execute_async(f.mon, "e", NULL, QMP_EXECUTE_OOB, NULL, 0, NULL, window_cb, &w);
    while (w.done < 5 && qmp_monitor_is_connected(f.mon))
        g_main_context_iteration(NULL, TRUE);
    g_assert_cmpstr(w.order->str, ==, "qmpkit-6 qmpkit-2 qmpkit-3 qmpkit-4 qmpkit-5 ");
    g_string_free(w.order, TRUE);
    g_assert_cmpint(finish(&f), ==, 0);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/monitor/faults/truncated", test_truncated);
    g_test_add_func("/monitor/faults/malformed", test_malformed);
    g_test_add_func("/monitor/faults/oversized", test_oversized);
    g_test_add_func("/monitor/faults/oversized-exact", test_oversized_exact);
    g_test_add_func("/monitor/faults/unknown-id", test_unknown_id);
    g_test_add_func("/monitor/faults/no-id", test_no_id);
    g_test_add_func("/monitor/faults/greeting-timeout", test_greeting_timeout);
    g_test_add_func("/monitor/faults/eof-before-greeting", test_eof_before_greeting);
    g_test_add_func("/monitor/faults/not-a-greeting", test_not_a_greeting);
    g_test_add_func("/monitor/faults/framing", test_framing);
    g_test_add_func("/monitor/faults/out-of-order", test_out_of_order);
    g_test_add_func("/monitor/faults/sync-timeout", test_sync_timeout);
    g_test_add_func("/monitor/faults/cancel", test_cancel);
    g_test_add_func("/monitor/faults/cancel-reply-waiting", test_cancel_reply_waiting);
    g_test_add_func("/monitor/faults/typed-errors", test_typed_errors);
    g_test_add_func("/monitor/faults/trace-redaction", test_trace_redaction);
    g_test_add_func("/monitor/faults/close-fails-pending", test_close_fails_pending);
    g_test_add_func("/monitor/faults/sync-in-callback", test_sync_in_callback);
    g_test_add_func("/monitor/faults/oob-window", test_oob_window);
    return g_test_run();
}
