/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-qmp-replay: the qmp-replay tool (path in argv[1]).
 *   serve: a recording served strictly / leniently, exit codes and the diff;
 *   record (with --live; exit 77 without QEMU): the proxy between a monitor
 *   and a live QEMU 7.2, then its recording served back to the same client.
 */
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include "qmp-replay.h"
#include "qmp-commands.h"

#define QEMU "qemu-system-x86_64"

static const char *tool;
static char *dir;

static void wait_for_path(const char *path)
{
    for (int i = 0; i < 2000; i++) {
        struct stat st;
        if (stat(path, &st) == 0)
            return;
        g_usleep(5000);
    }
    g_error("%s did not appear", path);
}

/* A libvirt corpus file in ../shared, or NULL (the test skipped) when
 * it is not there. */
static char *libvirt_corpus(const char *name)
{
    const char *shared = g_getenv("QMPKIT_SHARED_DIR");
    char *rec = g_build_filename(shared ? shared : "../shared", "corpora", "libvirt", name, NULL);
    if (g_file_test(rec, G_FILE_TEST_EXISTS))
        return rec;
    g_free(rec);
    g_test_skip("no ../shared corpus");
    return NULL;
}

static GPid spawn(const char *const *argv, int *err_fd)
{
    GPid pid;
    GError *error = NULL;
    g_assert_true(g_spawn_async_with_pipes(NULL, (char **) argv, NULL,
                                           G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH, NULL, NULL, &pid,
                                           NULL, NULL, err_fd, &error));
    g_assert_no_error(error);
    return pid;
}

static int wait_exit(GPid pid)
{
    int status;
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    g_assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static char *read_all(int fd)
{
    GString *s = g_string_new(NULL);
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        g_string_append_len(s, buf, n);
    close(fd);
    return g_string_free(s, FALSE);
}

static QmpMonitor *connect_to(const char *path)
{
    GError *error = NULL;
    wait_for_path(path);
    QmpMonitor *mon = qmp_monitor_new(NULL);
    g_assert_true(qmp_monitor_connect_unix(mon, path, &error));
    g_assert_no_error(error);
    g_assert_true(qmp_monitor_handshake(mon, QMP_HANDSHAKE_NONE, 20000, &error));
    g_assert_no_error(error);
    return mon;
}

/* The client of both halves: the stop-cont conversation. */
static char *stop_cont(QmpMonitor *mon)
{
    GError *error = NULL;
    GString *out = g_string_new(NULL);
    for (int i = 0; i < 2; i++) {
        g_assert_true(i == 0 ? qmp_cont(mon, &error) : qmp_stop(mon, &error));
        g_assert_no_error(error);
        g_autoptr(QmpStatusInfo) st = qmp_query_status(mon, &error);
        g_assert_no_error(error);
        g_string_append_printf(out, "%s ", qmp_run_state_to_string(st->status));
    }
    if (!qmp_quit(mon, &error)) {
        g_assert_error(error, QMP_ERROR, QMP_ERROR_CLOSED);
        g_clear_error(&error);
    }
    return g_string_free(out, FALSE);
}

static void test_serve_strict_ok(void)
{
    g_autofree char *sock = g_build_filename(dir, "s1.sock", NULL);
    g_autofree char *rec = qmp_replay_test_recording_path("stop-cont.jsonl");
    const char *argv[] = { tool, "serve", "--socket", sock, rec, NULL };
    int err_fd;
    GPid pid = spawn(argv, &err_fd);
    QmpMonitor *mon = connect_to(sock);
    GError *error = NULL;
    /* stop-cont.jsonl: query-status, cont, query-status, stop, ... */
    g_autoptr(QmpStatusInfo) st = qmp_query_status(mon, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(qmp_run_state_to_string(st->status), ==, "prelaunch");
    for (int i = 0; i < 3; i++) {
        g_assert_true(i == 1 ? qmp_stop(mon, &error) : qmp_cont(mon, &error));
        g_assert_no_error(error);
        g_autoptr(QmpStatusInfo) st2 = qmp_query_status(mon, &error);
        g_assert_no_error(error);
    }
    g_assert_true(qmp_quit(mon, &error) || error->code == QMP_ERROR_CLOSED);
    g_clear_error(&error);
    g_autofree char *err = read_all(err_fd);
    g_assert_cmpint(wait_exit(pid), ==, 0);
    g_assert_cmpstr(err, ==, "");
    g_object_unref(mon);
}

static void test_serve_strict_mismatch(void)
{
    g_autofree char *sock = g_build_filename(dir, "s2.sock", NULL);
    g_autofree char *rec = qmp_replay_test_recording_path("stop-cont.jsonl");
    const char *argv[] = { tool, "serve", "--socket", sock, rec, NULL };
    int err_fd;
    GPid pid = spawn(argv, &err_fd);
    QmpMonitor *mon = connect_to(sock);
    GError *error = NULL;
    g_assert_false(qmp_stop(mon, &error));
    g_assert_error(error, QMP_COMMAND_ERROR, QMP_COMMAND_ERROR_GENERIC_ERROR);
    g_clear_error(&error);
    g_autofree char *err = read_all(err_fd);
    g_assert_cmpint(wait_exit(pid), ==, 1);
    g_assert_nonnull(strstr(err, "differs from the recording"));
    g_assert_nonnull(strstr(err, "execute: expected \"query-status\", got \"stop\""));
    g_object_unref(mon);
}

static void test_serve_lenient_libvirt(void)
{
    g_autofree char *rec = libvirt_corpus("caps_9.2.0_x86_64.replies");
    if (!rec)
        return;
    g_autofree char *sock = g_build_filename(dir, "s3.sock", NULL);
    const char *argv[] = { tool, "serve", "--lenient", "--schema", "recorded", "--socket", sock,
                           rec, NULL };
    int err_fd;
    GPid pid = spawn(argv, &err_fd);
    QmpMonitor *mon = connect_to(sock);
    GError *error = NULL;
    g_autoptr(QmpJsonDoc) d = qmp_monitor_execute(mon, "query-target", NULL, 0, NULL, 0, -1,
                                                  NULL, &error);
    g_assert_no_error(error);
    g_autoptr(QmpVersionInfo) v = qmp_query_version(mon, &error);
    g_assert_no_error(error);
    g_assert_cmpint(v->qemu->major, ==, 9);
    g_object_unref(mon); /* lenient: done when the client closes */
    g_autofree char *err = read_all(err_fd);
    g_assert_cmpint(wait_exit(pid), ==, 0);
    g_assert_cmpstr(err, ==, "");
}

static void test_usage(void)
{
    const char *argv[] = { tool, "serve", "--socket", "/nonexistent/x", NULL };
    int err_fd;
    GPid pid = spawn(argv, &err_fd);
    g_autofree char *err = read_all(err_fd);
    g_assert_cmpint(wait_exit(pid), ==, 2);
    g_assert_nonnull(strstr(err, "qmp-replay serve:"));
}

/* Run the tool to its end: exit status, stdout. */
static int run_tool(const char *const *argv, char **out)
{
    g_autofree char *err = NULL;
    int status = 0;
    GError *error = NULL;
    g_assert_true(g_spawn_sync(NULL, (char **) argv, NULL, 0, NULL, NULL, out, &err, &status,
                               &error));
    g_assert_no_error(error);
    g_assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void test_help_version(void)
{
    g_autofree char *out = NULL, *out2 = NULL, *out3 = NULL;
    const char *help[] = { tool, "--help", NULL };
    g_assert_cmpint(run_tool(help, &out), ==, 0);
    g_assert_nonnull(strstr(out, "usage: qmp-replay serve"));
    const char *serve_help[] = { tool, "serve", "--help", NULL };
    g_assert_cmpint(run_tool(serve_help, &out2), ==, 0);
    g_assert_nonnull(strstr(out2, "--lenient"));
    const char *version[] = { tool, "--version", NULL };
    g_assert_cmpint(run_tool(version, &out3), ==, 0);
    g_assert_true(g_str_has_prefix(out3, "qmp-replay (qmpkit) "));
}

/* Lenient: failures carry the position of the client's message; a command
 * QEMU does not have is answered with CommandNotFound, as QEMU does. */
static void test_serve_lenient_numbering(void)
{
    g_autofree char *sock = g_build_filename(dir, "s4.sock", NULL);
    g_autofree char *rec = qmp_replay_test_recording_path("stop-cont.jsonl");
    const char *argv[] = { tool, "serve", "--lenient", "--socket", sock, rec, NULL };
    int err_fd;
    GPid pid = spawn(argv, &err_fd);
    QmpMonitor *mon = connect_to(sock); /* qmp_capabilities: message 1 */
    GError *error = NULL;
    g_autoptr(QmpStatusInfo) st = qmp_query_status(mon, &error); /* 2 */
    g_assert_no_error(error);
    for (int i = 0; i < 2; i++) { /* 3 and 4: in the schema, not recorded */
        g_autoptr(QmpJsonDoc) d = qmp_monitor_execute(mon, "query-name", NULL, 0, NULL, 0, -1,
                                                      NULL, &error);
        g_assert_null(d);
        g_assert_error(error, QMP_COMMAND_ERROR, QMP_COMMAND_ERROR_GENERIC_ERROR);
        g_clear_error(&error);
    }
    g_autoptr(QmpJsonDoc) d = qmp_monitor_execute(mon, "no-such-command", NULL, 0, NULL, 0, -1,
                                                  NULL, &error); /* 5 */
    g_assert_null(d);
    g_assert_error(error, QMP_COMMAND_ERROR, QMP_COMMAND_ERROR_COMMAND_NOT_FOUND);
    g_assert_cmpstr(error->message, ==, "The command no-such-command has not been found");
    g_clear_error(&error);
    g_object_unref(mon);
    g_autofree char *err = read_all(err_fd);
    g_assert_cmpint(wait_exit(pid), ==, 1);
    g_assert_nonnull(strstr(err, "command 3 has no equal command"));
    g_assert_nonnull(strstr(err, "command 4 has no equal command"));
    g_assert_null(strstr(err, "no-such-command"));
}

/* A recording whose secret was redacted replays to a client sending the
 * real secret; anything else still differs. */
static void test_serve_redacted(void)
{
    g_autofree char *rec = g_build_filename(dir, "secret.jsonl", NULL);
    const char *text =
        "{\"qmpkit-recording\": 1, \"peer\": \"test\"}\n"
        "{\"dir\": \"in\", \"seq\": 0, \"t\": 0, \"msg\": {\"QMP\": {\"version\": "
        "{\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, \"package\": \"\"}, "
        "\"capabilities\": []}}}\n"
        "{\"dir\": \"out\", \"seq\": 1, \"t\": 0, \"msg\": {\"execute\": \"qmp_capabilities\", \"id\": \"a\"}}\n"
        "{\"dir\": \"in\", \"seq\": 2, \"t\": 0, \"msg\": {\"return\": {}, \"id\": \"a\"}}\n"
        "{\"dir\": \"out\", \"seq\": 3, \"t\": 0, \"msg\": {\"execute\": \"change-vnc-password\", "
        "\"arguments\": {\"password\": \"<redacted>\"}, \"id\": \"b\"}}\n"
        "{\"dir\": \"in\", \"seq\": 4, \"t\": 0, \"msg\": {\"return\": {}, \"id\": \"b\"}}\n";
    g_assert_true(g_file_set_contents(rec, text, -1, NULL));
    for (int round = 0; round < 2; round++) {
        g_autofree char *sock = g_build_filename(dir, "s5.sock", NULL);
        const char *argv[] = { tool, "serve", "--schema", "none", "--socket", sock, rec, NULL };
        int err_fd;
        GPid pid = spawn(argv, &err_fd);
        QmpMonitor *mon = connect_to(sock);
        GError *error = NULL;
        const char *args = round == 0 ? "{\"password\": \"hunter2\"}"
                                      : "{\"password\": \"hunter2\", \"extra\": 1}";
        g_autoptr(QmpJsonDoc) d = qmp_monitor_execute(mon, "change-vnc-password", args, 0, NULL,
                                                      0, -1, NULL, &error);
        if (round == 0) {
            g_assert_no_error(error);
            g_assert_nonnull(d);
        } else {
            g_assert_error(error, QMP_COMMAND_ERROR, QMP_COMMAND_ERROR_GENERIC_ERROR);
            g_clear_error(&error);
        }
        g_object_unref(mon);
        g_autofree char *err = read_all(err_fd);
        g_assert_cmpint(wait_exit(pid), ==, round == 0 ? 0 : 1);
        if (round == 1) /* the report shows the difference, never the secret */
            g_assert_nonnull(strstr(err, "extra"));
        g_assert_null(strstr(err, "hunter2"));
    }
    unlink(rec);
}

/* By default a recording holding its own query-qmp-schema reply is
 * validated against it: libvirt's 4.2 probe asks for
 * query-sev-capabilities, which 4.2 had and qmpkit's schema lacks. */
static void test_serve_recorded_schema_default(void)
{
    g_autofree char *rec = libvirt_corpus("caps_4.2.0.x86_64.replies");
    if (!rec)
        return;
    g_autofree char *sock = g_build_filename(dir, "s6.sock", NULL);
    const char *argv[] = { tool, "serve", "--lenient", "--socket", sock, rec, NULL };
    int err_fd;
    GPid pid = spawn(argv, &err_fd);
    QmpMonitor *mon = connect_to(sock);
    GError *error = NULL;
    g_autoptr(QmpJsonDoc) d = qmp_monitor_execute(mon, "query-sev-capabilities", NULL, 0, NULL,
                                                  0, -1, NULL, &error);
    /* The recorded answer: that machine had no SEV. */
    g_assert_error(error, QMP_COMMAND_ERROR, QMP_COMMAND_ERROR_GENERIC_ERROR);
    g_assert_cmpstr(error->message, ==, "SEV feature is not available");
    g_clear_error(&error);
    g_object_unref(mon);
    g_autofree char *err = read_all(err_fd);
    g_assert_cmpint(wait_exit(pid), ==, 0);
    g_assert_cmpstr(err, ==, "");
}

static void test_record_live(void)
{
    g_autofree char *qemu_sock = g_build_filename(dir, "qemu.sock", NULL);
    g_autofree char *proxy_sock = g_build_filename(dir, "proxy.sock", NULL);
    g_autofree char *out = g_build_filename(dir, "proxied.jsonl", NULL);
    g_autofree char *chardev = g_strdup_printf("socket,id=m,path=%s,server=on,wait=off", qemu_sock);
    const char *qargv[] = { QEMU, "-machine", "none", "-nodefaults", "-display", "none", "-S",
                            "-chardev", chardev, "-mon", "chardev=m,mode=control", NULL };
    GPid qpid = spawn(qargv, NULL);
    wait_for_path(qemu_sock);
    const char *argv[] = { tool, "record", "--listen", proxy_sock, "--connect", qemu_sock,
                           "-o", out, NULL };
    int err_fd;
    GPid pid = spawn(argv, &err_fd);
    QmpMonitor *mon = connect_to(proxy_sock);
    g_autofree char *live = stop_cont(mon);
    g_object_unref(mon);
    g_autofree char *err = read_all(err_fd);
    g_assert_cmpint(wait_exit(pid), ==, 0);
    g_assert_cmpstr(err, ==, "");
    kill(qpid, SIGTERM);
    waitpid(qpid, NULL, 0);
    unlink(qemu_sock);

    /* The proxied recording serves the same client to the same result. */
    QmpReplayServer *s;
    g_autoptr(QmpReplay) rec = qmp_replay_load(out, NULL);
    g_assert_nonnull(rec);
    g_assert_cmpstr(qmp_replay_get_peer(rec), !=, NULL);
    QmpMonitor *mon2 = qmp_replay_test_start_full(rec, QMP_REPLAY_STRICT, NULL, &s);
    GError *error = NULL;
    g_assert_true(qmp_monitor_handshake(mon2, QMP_HANDSHAKE_NONE, 5000, &error));
    g_assert_no_error(error);
    g_autofree char *replayed = stop_cont(mon2);
    g_assert_cmpstr(replayed, ==, live);
    g_assert_cmpstr(live, ==, "running paused ");
    qmp_replay_test_assert_done(s);
    g_object_unref(mon2);
    qmp_replay_server_free(s);
    unlink(out);
}

/* One line from fd (blocking), without its terminator. */
static char *read_line(int fd)
{
    GString *s = g_string_new(NULL);
    char c;
    while (read(fd, &c, 1) == 1 && c != '\n')
        g_string_append_c(s, c);
    return g_string_free(s, FALSE);
}

/* Send text as one message; the reply line (events skipped). */
static char *raw_call(int fd, const char *text)
{
    g_autofree char *line = g_strdup_printf("%s\r\n", text);
    g_assert_cmpint(write(fd, line, strlen(line)), ==, (gssize) strlen(line));
    for (;;) {
        char *reply = read_line(fd);
        g_assert_cmpstr(reply, !=, "");
        if (!strstr(reply, "\"event\""))
            return reply;
        g_free(reply);
    }
}

/* The proxy keeps every kind of secret out of its recording, the
 * single-quoted JSON QEMU accepts (and we do not parse) included. */
static void test_record_secrets_live(void)
{
    g_autofree char *qemu_sock = g_build_filename(dir, "qemu2.sock", NULL);
    g_autofree char *proxy_sock = g_build_filename(dir, "proxy2.sock", NULL);
    g_autofree char *out = g_build_filename(dir, "secrets.jsonl", NULL);
    g_autofree char *chardev = g_strdup_printf("socket,id=m,path=%s,server=on,wait=off", qemu_sock);
    const char *qargv[] = { QEMU, "-machine", "none", "-nodefaults", "-display", "none", "-S",
                            "-chardev", chardev, "-mon", "chardev=m,mode=control", NULL };
    GPid qpid = spawn(qargv, NULL);
    wait_for_path(qemu_sock);
    const char *argv[] = { tool, "record", "--listen", proxy_sock, "--connect", qemu_sock,
                           "-o", out, NULL };
    int err_fd;
    GPid pid = spawn(argv, &err_fd);
    wait_for_path(proxy_sock);
    GError *error = NULL;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    g_assert_cmpuint(strlen(proxy_sock), <, sizeof(sa.sun_path));
    strcpy(sa.sun_path, proxy_sock);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0); /* blocking */
    g_assert_cmpint(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), ==, 0);
    g_free(read_line(fd)); /* the greeting */
    const char *calls[] = {
        "{\"execute\": \"qmp_capabilities\"}",
        "{'execute': 'object-add', 'arguments': {'qom-type': 'secret', 'id': 'sec0', "
        "'data': 'quoted-S3CRET'}}",
        "{\"execute\": \"object-add\", \"arguments\": {\"qom-type\": \"secret\", "
        "\"id\": \"sec1\", \"data\": \"plain-S3CRET\", \"iv\": \"iv-S3CRET\"}}",
        "{\"execute\": \"qom-get\", \"arguments\": {\"path\": \"/objects/sec0\", "
        "\"property\": \"data\"}, \"id\": 7}",
        "{\"execute\": \"qom-set\", \"arguments\": {\"path\": \"/objects/sec0\", "
        "\"property\": \"data\", \"value\": \"qomset-S3CRET\"}, \"id\": 8}",
        "{\"execute\": \"human-monitor-command\", \"arguments\": "
        "{\"command-line\": \"object_add secret,id=sec2,data=hmp-S3CRET\"}}",
        "{\"execute\": \"set_password\", \"arguments\": {\"protocol\": \"vnc\", "
        "\"password\": \"vnc-S3CRET\"}}",
    };
    for (guint i = 0; i < G_N_ELEMENTS(calls); i++)
        g_free(raw_call(fd, calls[i]));
    close(fd);
    g_autofree char *err = read_all(err_fd);
    g_assert_cmpint(wait_exit(pid), ==, 0);
    g_assert_cmpstr(err, ==, "");
    kill(qpid, SIGTERM);
    waitpid(qpid, NULL, 0);
    unlink(qemu_sock);

    g_autofree char *written = NULL;
    g_assert_true(g_file_get_contents(out, &written, NULL, NULL));
    g_test_message("%s", written);
    const char *secrets[] = { "quoted-S3CRET", "plain-S3CRET", "iv-S3CRET",
                              "qomset-S3CRET", "hmp-S3CRET", "vnc-S3CRET" };
    for (guint i = 0; i < G_N_ELEMENTS(secrets); i++)
        g_assert_null(strstr(written, secrets[i]));
    /* what qom-get returned is hidden too (QEMU answers with the data) */
    g_assert_nonnull(strstr(written, "\"return\":\"<redacted>\",\"id\":7"));
    g_assert_nonnull(strstr(written, "{\"execute\":\"<redacted>\",\"unparsable\":\"<redacted: "));
    g_autoptr(QmpReplay) rec = qmp_replay_load(out, &error);
    g_assert_no_error(error);
    unlink(out);
}

int main(int argc, char **argv)
{
    gboolean live = argc > 2 && strcmp(argv[2], "--live") == 0;
    g_test_init(&argc, &argv, NULL);
    signal(SIGPIPE, SIG_IGN);
    g_assert_cmpint(argc, >=, 2);
    tool = argv[1];
    if (live) {
        g_autofree char *qemu = g_find_program_in_path(QEMU);
        if (!qemu) {
            g_print("skipped: %s not found in PATH\n", QEMU);
            return 77;
        }
        g_test_add_func("/qmp-replay/record-live", test_record_live);
        g_test_add_func("/qmp-replay/record-secrets-live", test_record_secrets_live);
    } else {
        g_test_add_func("/qmp-replay/serve-strict-ok", test_serve_strict_ok);
        g_test_add_func("/qmp-replay/serve-strict-mismatch", test_serve_strict_mismatch);
        g_test_add_func("/qmp-replay/serve-lenient-libvirt", test_serve_lenient_libvirt);
        g_test_add_func("/qmp-replay/usage", test_usage);
        g_test_add_func("/qmp-replay/help-version", test_help_version);
        g_test_add_func("/qmp-replay/serve-lenient-numbering", test_serve_lenient_numbering);
        g_test_add_func("/qmp-replay/serve-redacted", test_serve_redacted);
        g_test_add_func("/qmp-replay/serve-recorded-schema-default",
                        test_serve_recorded_schema_default);
    }
    dir = g_dir_make_tmp("qmpkit-tool-XXXXXX", NULL);
    int rc = g_test_run();
    rmdir(dir);
    g_free(dir);
    return rc;
}
