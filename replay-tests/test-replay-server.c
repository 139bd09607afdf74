/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-replay-server: the replay server against small recordings written
 * here (strict, lenient, mismatch diffs, unused commands, schema
 * validation, libvirt's format), through a QmpMonitor on a socketpair.
 */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "qmp-replay.h"
#include "qmp-commands.h"

#define HDR "{\"qmpkit-recording\": 1, \"peer\": \"test\"}\n"
#define GREETING "{\"dir\": \"in\", \"seq\": 0, \"t\": 0.0, \"msg\": {\"QMP\": {\"version\": " \
    "{\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, \"package\": \"Debian 1:7.2\"}, " \
    "\"capabilities\": [\"oob\"]}}}\n"
#define CAPS "{\"dir\": \"out\", \"seq\": 1, \"t\": 0.01, \"msg\": {\"execute\": \"qmp_capabilities\", \"id\": \"qmpkit-1\"}}\n" \
    "{\"dir\": \"in\", \"seq\": 2, \"t\": 0.02, \"msg\": {\"return\": {}, \"id\": \"qmpkit-1\"}}\n"

static const char conversation[] =
    HDR GREETING CAPS
    "{\"dir\": \"out\", \"seq\": 3, \"t\": 0.03, \"msg\": {\"execute\": \"query-status\", \"id\": \"qmpkit-2\"}}\n"
    "{\"dir\": \"in\", \"seq\": 4, \"t\": 0.04, \"msg\": {\"return\": {\"status\": \"prelaunch\", \"singlestep\": false, \"running\": false}, \"id\": \"qmpkit-2\"}}\n"
    "{\"dir\": \"out\", \"seq\": 5, \"t\": 0.05, \"msg\": {\"execute\": \"cont\", \"id\": \"qmpkit-3\"}}\n"
    "{\"dir\": \"in\", \"seq\": 6, \"t\": 0.06, \"msg\": {\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"RESUME\"}}\n"
    "{\"dir\": \"in\", \"seq\": 7, \"t\": 0.07, \"msg\": {\"return\": {}, \"id\": \"qmpkit-3\"}}\n";

static QmpReplay *load(const char *text)
{
    GError *error = NULL;
    QmpReplay *rec = qmp_replay_load_data(text, strlen(text), "test.jsonl", &error);
    g_assert_no_error(error);
    return rec;
}

static void on_event(QmpMonitor *mon, const char *event, const QmpJson *data,
                     gint64 ts, gpointer user_data)
{
    g_string_append_printf(user_data, "%s;", event);
}

static void test_strict_ok(void)
{
    GError *error = NULL;
    g_autoptr(QmpReplay) rec = load(conversation);
    g_assert_cmpstr(qmp_replay_get_format(rec), ==, "qmpkit");
    g_assert_cmpstr(qmp_replay_get_peer(rec), ==, "test");
    g_assert_cmpuint(qmp_replay_get_n_messages(rec), ==, 8);
    QmpReplayServer *s;
    QmpMonitor *mon = qmp_replay_test_start_full(rec, QMP_REPLAY_STRICT, NULL, &s);
    g_autoptr(GString) events = g_string_new(NULL);
    qmp_monitor_subscribe(mon, NULL, on_event, events, NULL);
    g_assert_true(qmp_monitor_handshake(mon, QMP_HANDSHAKE_NONE, 5000, &error));
    g_assert_no_error(error);
    int major = 0, minor = 0;
    g_assert_true(qmp_monitor_get_version(mon, &major, &minor, NULL, NULL));
    g_assert_cmpint(major, ==, 7);
    g_assert_cmpint(minor, ==, 2);
    const QmpJson *ret;
    g_autoptr(QmpJsonDoc) r1 = qmp_monitor_execute(mon, "query-status", NULL, 0, NULL, 0,
                                                   5000, &ret, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(qmp_json_get_string(qmp_json_lookup(ret, "status")), ==, "prelaunch");
    g_assert_false(qmp_replay_server_is_done(s));
    g_autoptr(QmpJsonDoc) r2 = qmp_monitor_execute(mon, "cont", "{}", 0, NULL, 0, 5000, &ret, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(events->str, ==, "RESUME;");
    g_assert_true(qmp_replay_server_is_done(s));
    g_assert_cmpuint(qmp_replay_server_get_n_commands(s), ==, 3);
    qmp_replay_test_assert_done(s);
    g_object_unref(mon);
    qmp_replay_server_free(s);
}

static void test_strict_mismatch(void)
{
    GError *error = NULL;
    g_autoptr(QmpReplay) rec = load(conversation);
    QmpReplayServer *s;
    QmpMonitor *mon = qmp_replay_test_start_full(rec, QMP_REPLAY_STRICT, NULL, &s);
    g_assert_true(qmp_monitor_handshake(mon, QMP_HANDSHAKE_NONE, 5000, &error));
    g_assert_no_error(error);
    g_autoptr(QmpJsonDoc) r = qmp_monitor_execute(mon, "stop", NULL, 0, NULL, 0, 5000, NULL, &error);
    g_assert_null(r);
    g_assert_error(error, QMP_COMMAND_ERROR, QMP_COMMAND_ERROR_GENERIC_ERROR);
    g_clear_error(&error);
    g_assert_false(qmp_replay_server_finish(s, &error));
    g_assert_error(error, QMP_ERROR, QMP_ERROR_FAILED);
    g_assert_nonnull(strstr(error->message, "test.jsonl:5: command 2 differs from the recording"));
    g_assert_nonnull(strstr(error->message, "expected: {\"execute\": \"query-status\"}"));
    g_assert_nonnull(strstr(error->message, "got:      {\"execute\": \"stop\"}"));
    g_assert_nonnull(strstr(error->message, "execute: expected \"query-status\", got \"stop\""));
    g_clear_error(&error);
    g_assert_true(qmp_replay_server_is_done(s));
    g_object_unref(mon);
    qmp_replay_server_free(s);
}

static void test_strict_unused(void)
{
    GError *error = NULL;
    g_autoptr(QmpReplay) rec = load(conversation);
    QmpReplayServer *s;
    QmpMonitor *mon = qmp_replay_test_start_full(rec, QMP_REPLAY_STRICT, NULL, &s);
    g_assert_true(qmp_monitor_handshake(mon, QMP_HANDSHAKE_NONE, 5000, &error));
    g_assert_no_error(error);
    g_object_unref(mon);
    /* Let the server see the EOF. */
    while (!qmp_replay_server_is_done(s))
        g_main_context_iteration(NULL, TRUE);
    g_assert_false(qmp_replay_server_finish(s, &error));
    g_assert_nonnull(strstr(error->message, "test.jsonl:5: recorded command not used: {\"execute\": \"query-status\"}"));
    g_assert_nonnull(strstr(error->message, "recorded command not used: {\"execute\": \"cont\"}"));
    g_clear_error(&error);
    qmp_replay_server_free(s);
}

static void test_strict_bad_argument(void)
{
    /* The recording holds a bad argument; validation still refuses it. */
    static const char text[] = HDR GREETING
        "{\"dir\": \"out\", \"seq\": 1, \"t\": 0.01, \"msg\": {\"execute\": \"qmp_capabilities\", \"arguments\": {\"enable\": [\"oob\"], \"bogus\": 1}, \"id\": \"a\"}}\n"
        "{\"dir\": \"in\", \"seq\": 2, \"t\": 0.02, \"msg\": {\"return\": {}, \"id\": \"a\"}}\n";
    GError *error = NULL;
    g_autoptr(QmpReplay) rec = load(text);
    QmpReplayServer *s;
    QmpMonitor *mon = qmp_replay_test_start_full(rec, QMP_REPLAY_STRICT, NULL, &s);
    g_autoptr(QmpJsonDoc) r = qmp_monitor_execute(mon, "qmp_capabilities",
                                                  "{\"bogus\": 1, \"enable\": [\"oob\"]}",
                                                  0, NULL, 0, 5000, NULL, &error);
    g_assert_null(r);
    g_assert_error(error, QMP_COMMAND_ERROR, QMP_COMMAND_ERROR_GENERIC_ERROR);
    g_clear_error(&error);
    g_assert_false(qmp_replay_server_finish(s, &error));
    g_assert_nonnull(strstr(error->message, "command 'qmp_capabilities' has no argument 'bogus'"));
    g_clear_error(&error);
    g_object_unref(mon);
    qmp_replay_server_free(s);
}

static void test_unknown_command_probe(void)
{
    /* A command the schema lacks passes when QEMU answered CommandNotFound. */
    static const char text[] = HDR GREETING CAPS
        "{\"dir\": \"out\", \"seq\": 3, \"t\": 0.03, \"msg\": {\"execute\": \"no-such-command\", \"id\": \"qmpkit-2\"}}\n"
        "{\"dir\": \"in\", \"seq\": 4, \"t\": 0.04, \"msg\": {\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command no-such-command has not been found\"}, \"id\": \"qmpkit-2\"}}\n";
    GError *error = NULL;
    g_autoptr(QmpReplay) rec = load(text);
    QmpReplayServer *s;
    QmpMonitor *mon = qmp_replay_test_start_full(rec, QMP_REPLAY_STRICT, NULL, &s);
    g_assert_true(qmp_monitor_handshake(mon, QMP_HANDSHAKE_NONE, 5000, &error));
    g_autoptr(QmpJsonDoc) r = qmp_monitor_execute(mon, "no-such-command", NULL, 0, NULL, 0,
                                                  5000, NULL, &error);
    g_assert_error(error, QMP_COMMAND_ERROR, QMP_COMMAND_ERROR_COMMAND_NOT_FOUND);
    g_assert_cmpstr(error->message, ==, "The command no-such-command has not been found");
    g_clear_error(&error);
    qmp_replay_test_assert_done(s);
    g_object_unref(mon);
    qmp_replay_server_free(s);
}

static void test_lenient(void)
{
    GError *error = NULL;
    g_autoptr(QmpReplay) rec = load(conversation);
    QmpReplayServer *s;
    QmpMonitor *mon = qmp_replay_test_start_full(rec, QMP_REPLAY_LENIENT, NULL, &s);
    g_autoptr(GString) events = g_string_new(NULL);
    qmp_monitor_subscribe(mon, NULL, on_event, events, NULL);
    g_assert_true(qmp_monitor_handshake(mon, QMP_HANDSHAKE_NONE, 5000, &error));
    g_assert_no_error(error);
    /* Other order, repeated question. */
    for (int i = 0; i < 2; i++) {
        g_autoptr(QmpJsonDoc) r = qmp_monitor_execute(mon, "cont", NULL, 0, NULL, 0, 5000, NULL, &error);
        g_assert_no_error(error);
    }
    const QmpJson *ret;
    g_autoptr(QmpJsonDoc) r = qmp_monitor_execute(mon, "query-status", NULL, 0, NULL, 0, 5000, &ret, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(qmp_json_get_string(qmp_json_lookup(ret, "status")), ==, "prelaunch");
    g_assert_cmpstr(events->str, ==, "RESUME;");
    qmp_replay_test_assert_done(s);
    /* Something the recording does not hold. */
    g_autoptr(QmpJsonDoc) r2 = qmp_monitor_execute(mon, "stop", NULL, 0, NULL, 0, 5000, NULL, &error);
    g_assert_error(error, QMP_COMMAND_ERROR, QMP_COMMAND_ERROR_GENERIC_ERROR);
    g_clear_error(&error);
    g_assert_false(qmp_replay_server_finish(s, &error));
    g_assert_nonnull(strstr(error->message, "no equal command"));
    g_clear_error(&error);
    g_object_unref(mon);
    qmp_replay_server_free(s);
}

static void test_libvirt_format(void)
{
    static const char text[] =
        "{\n  \"execute\": \"qmp_capabilities\",\n  \"id\": \"libvirt-1\"\n}\n\n"
        "{\n  \"return\": {},\n  \"id\": \"libvirt-1\"\n}\n\n"
        "{\n  \"execute\": \"query-version\",\n  \"id\": \"libvirt-2\"\n}\n\n"
        "{\n  \"return\": {\n    \"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 9},\n"
        "    \"package\": \"v9.2.0\"\n  },\n  \"id\": \"libvirt-2\"\n}\n";
    GError *error = NULL;
    g_autoptr(QmpReplay) rec = qmp_replay_load_data(text, strlen(text), "x.replies", &error);
    g_assert_no_error(error);
    g_assert_cmpstr(qmp_replay_get_format(rec), ==, "libvirt-replies");
    g_assert_cmpuint(qmp_replay_get_n_messages(rec), ==, 4);
    QmpReplayServer *s;
    QmpMonitor *mon = qmp_replay_test_start_full(rec, QMP_REPLAY_LENIENT, NULL, &s);
    g_assert_true(qmp_monitor_handshake(mon, QMP_HANDSHAKE_NONE, 5000, &error));
    g_assert_no_error(error);
    int major = 0, minor = 0;
    g_assert_true(qmp_monitor_get_version(mon, &major, &minor, NULL, NULL));
    g_assert_cmpint(major, ==, 9);
    const QmpJson *ret;
    g_autoptr(QmpJsonDoc) r = qmp_monitor_execute(mon, "query-version", NULL, 0, NULL, 0, 5000, &ret, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(qmp_json_get_string(qmp_json_lookup(ret, "package")), ==, "v9.2.0");
    qmp_replay_test_assert_done(s);
    g_object_unref(mon);
    qmp_replay_server_free(s);
}

static void test_bad_files(void)
{
    GError *error = NULL;
    static const char bad_line[] = HDR "{\"dir\": \"sideways\", \"msg\": {}}\n";
    QmpReplay *rec = qmp_replay_load_data(bad_line, strlen(bad_line), "b.jsonl", &error);
    g_assert_null(rec);
    g_assert_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL);
    g_assert_nonnull(strstr(error->message, "b.jsonl:2:"));
    g_clear_error(&error);
    static const char bad_json[] = "{\"execute\": \n\n";
    rec = qmp_replay_load_data(bad_json, strlen(bad_json), "c.replies", &error);
    g_assert_null(rec);
    g_assert_nonnull(strstr(error->message, "c.replies:1:"));
    g_clear_error(&error);
    rec = qmp_replay_load("/nonexistent/x.jsonl", &error);
    g_assert_null(rec);
    g_assert_error(error, QMP_ERROR, QMP_ERROR_IO);
    g_clear_error(&error);
}

static void test_recorder_roundtrip(void)
{
    GError *error = NULL;
    g_autofree char *dir = g_dir_make_tmp("qmpkit-rec-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "r.jsonl", NULL);
    QmpRecorder *r = qmp_recorder_new(path, "peer \"x\"", &error);
    g_assert_no_error(error);
    static const char greeting[] = "{\"QMP\": {\"version\": {}, \"capabilities\": []}}";
    static const char cmd[] = "{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"f\"}, \"id\": 1}";
    qmp_recorder_add(r, QMP_TRACE_IN, greeting, strlen(greeting), 0);
    qmp_recorder_add(r, QMP_TRACE_OUT, cmd, strlen(cmd), 1);
    g_assert_true(qmp_recorder_close(r, &error));
    g_autoptr(QmpReplay) rec = qmp_replay_load(path, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(qmp_replay_get_peer(rec), ==, "peer \"x\"");
    g_assert_cmpuint(qmp_replay_get_n_messages(rec), ==, 2);
    QmpTraceDirection dir_;
    QmpReplayMsgKind kind;
    guint n_fds;
    const QmpJson *m = qmp_replay_get_message(rec, 1, &dir_, &kind, NULL, &n_fds, NULL);
    g_assert_cmpint(dir_, ==, QMP_TRACE_OUT);
    g_assert_cmpint(kind, ==, QMP_REPLAY_MSG_COMMAND);
    g_assert_cmpuint(n_fds, ==, 1);
    g_assert_cmpstr(qmp_json_get_string(qmp_json_lookup(m, "execute")), ==, "getfd");
    unlink(path);
    rmdir(dir);
}

#define OUT(seq, id, body) "{\"dir\": \"out\", \"seq\": " #seq ", \"t\": 0.1, \"msg\": " \
    "{\"execute\": " body ", \"id\": \"qmpkit-" #id "\"}}\n"
#define IN(seq, id, ret) "{\"dir\": \"in\", \"seq\": " #seq ", \"t\": 0.1, \"msg\": " \
    "{\"return\": " ret ", \"id\": \"qmpkit-" #id "\"}}\n"

/* Every kind of secret, sent by the client and answered by the server,
 * recorded by the library (qmp_monitor_record_to_file) and grepped for. */
static void test_record_to_file_redacts(void)
{
    static const char text[] = HDR GREETING CAPS
        OUT(3, 2, "\"object-add\", \"arguments\": {\"qom-type\": \"secret\", \"id\": \"sec0\", "
                  "\"data\": \"typed-S3CRET\", \"iv\": \"iv-S3CRET\"}")
        IN(4, 2, "{}")
        OUT(5, 3, "\"set_password\", \"arguments\": {\"protocol\": \"vnc\", "
                  "\"password\": \"hunter2\"}")
        IN(6, 3, "{}")
        OUT(7, 4, "\"qom-get\", \"arguments\": {\"path\": \"/objects/sec0\", \"property\": \"data\"}")
        IN(8, 4, "\"qomget-S3CRET\"")
        OUT(9, 5, "\"qom-set\", \"arguments\": {\"path\": \"/objects/sec0\", \"property\": \"data\", "
                  "\"value\": \"qomset-S3CRET\"}")
        IN(10, 5, "{}")
        OUT(11, 6, "\"human-monitor-command\", \"arguments\": "
                   "{\"command-line\": \"change vnc password hmp-S3CRET\"}")
        IN(12, 6, "\"\"");
    GError *error = NULL;
    g_autoptr(QmpReplay) rec = load(text);
    QmpReplayServer *s;
    QmpMonitor *mon = qmp_replay_test_start_full(rec, QMP_REPLAY_STRICT, NULL, &s);
    g_autofree char *dir = g_dir_make_tmp("qmpkit-rec-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "r.jsonl", NULL);
    g_assert_true(qmp_monitor_record_to_file(mon, path, "replay", &error));
    g_assert_no_error(error);
    g_assert_true(qmp_monitor_handshake(mon, QMP_HANDSHAKE_NONE, 5000, &error));

    /* typed: the secret's value goes through the one encoder */
    QmpObjectOptions obj = { .qom_type = QMP_OBJECT_TYPE_SECRET, .id = "sec0" };
    obj.u.secret.data = "typed-S3CRET";
    obj.u.secret.iv = "iv-S3CRET";
    g_assert_true(qmp_object_add(mon, &obj, &error));
    g_assert_no_error(error);
    const char *calls[][2] = {
        { "set_password", "{\"protocol\": \"vnc\", \"password\": \"hunter2\"}" },
        { "qom-get", "{\"path\": \"/objects/sec0\", \"property\": \"data\"}" },
        { "qom-set", "{\"path\": \"/objects/sec0\", \"property\": \"data\", "
                     "\"value\": \"qomset-S3CRET\"}" },
        { "human-monitor-command", "{\"command-line\": \"change vnc password hmp-S3CRET\"}" },
    };
    for (guint i = 0; i < G_N_ELEMENTS(calls); i++) {
        g_autoptr(QmpJsonDoc) r = qmp_monitor_execute(mon, calls[i][0], calls[i][1], 0,
                                                      NULL, 0, 5000, NULL, &error);
        g_assert_no_error(error);
    }
    qmp_replay_test_assert_done(s);
    g_object_unref(mon); /* completes the file */
    qmp_replay_server_free(s);
    g_autofree char *written = NULL;
    g_assert_true(g_file_get_contents(path, &written, NULL, NULL));
    g_test_message("%s", written);
    const char *secrets[] = { "typed-S3CRET", "iv-S3CRET", "hunter2", "qomget-S3CRET",
                              "qomset-S3CRET", "hmp-S3CRET" };
    for (guint i = 0; i < G_N_ELEMENTS(secrets); i++)
        g_assert_null(strstr(written, secrets[i]));
    g_assert_nonnull(strstr(written, "\"password\":\"<redacted>\""));
    g_assert_nonnull(strstr(written, "\"id\":\"sec0\""));
    /* The recording of the replay is itself a recording of the same talk. */
    g_autoptr(QmpReplay) again = qmp_replay_load(path, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(qmp_replay_get_n_messages(again), ==, 13);
    unlink(path);
    rmdir(dir);
}

static void test_diff(void)
{
    static const char a[] = "{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"unix:a\", "
                            "\"detach\": true, \"list\": [1, 2]}}";
    static const char b[] = "{\"arguments\": {\"list\": [1, 3], \"uri\": \"unix:b\", \"x\": null}, "
                            "\"execute\": \"migrate\"}";
    g_autoptr(QmpJsonDoc) da = qmp_json_parse(a, strlen(a), 0, NULL);
    g_autoptr(QmpJsonDoc) db = qmp_json_parse(b, strlen(b), 0, NULL);
    g_autofree char *d = qmp_replay_diff(qmp_json_doc_root(da), qmp_json_doc_root(db));
    g_assert_cmpstr(d, ==,
                    "    arguments.uri: expected \"unix:a\", got \"unix:b\"\n"
                    "    arguments.detach: expected true, got (absent)\n"
                    "    arguments.list[1]: expected 2, got 3\n"
                    "    arguments.x: expected (absent), got null\n");
    g_autofree char *same = qmp_replay_diff(qmp_json_doc_root(da), qmp_json_doc_root(da));
    g_assert_cmpstr(same, ==, "");
}

static void test_one_call_api(void)
{
    /* A recording of the tree, by name, in one call. */
    GError *error = NULL;
    QmpReplayServer *s;
    QmpMonitor *mon = qmp_replay_test_start("negotiation.jsonl", QMP_REPLAY_LENIENT, &s);
    g_assert_true(qmp_monitor_handshake(mon, QMP_HANDSHAKE_OOB, 5000, &error));
    g_assert_no_error(error);
    g_assert_true(qmp_monitor_get_oob_enabled(mon));
    g_autoptr(QmpJsonDoc) r = qmp_monitor_execute(mon, "query-status", NULL, 0, NULL, 0, 5000,
                                                  NULL, &error);
    g_assert_no_error(error);
    qmp_replay_test_assert_done(s);
    qmp_replay_server_free(s); /* server first: the monitor sees the end */
    g_object_unref(mon);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/replay/strict-ok", test_strict_ok);
    g_test_add_func("/replay/strict-mismatch", test_strict_mismatch);
    g_test_add_func("/replay/strict-unused", test_strict_unused);
    g_test_add_func("/replay/strict-bad-argument", test_strict_bad_argument);
    g_test_add_func("/replay/unknown-command-probe", test_unknown_command_probe);
    g_test_add_func("/replay/lenient", test_lenient);
    g_test_add_func("/replay/libvirt-format", test_libvirt_format);
    g_test_add_func("/replay/bad-files", test_bad_files);
    g_test_add_func("/replay/recorder-roundtrip", test_recorder_roundtrip);
    g_test_add_func("/replay/record-to-file-redacts", test_record_to_file_redacts);
    g_test_add_func("/replay/diff", test_diff);
    g_test_add_func("/replay/one-call-api", test_one_call_api);
    return g_test_run();
}
