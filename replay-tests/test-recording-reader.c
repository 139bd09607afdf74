/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-recording-reader: what the recording reader refuses, and how.
 *   - size: /dev/zero (one endless line) fails at the line limit at once;
 *     a file or line over qmp_replay_load_full()'s limits fails with
 *     QMP_ERROR_TOO_LARGE naming the limit (and the line);
 *   - shape: a message that is not a JSON object ("msg": 42, a bare array
 *     read as libvirt's format), a recording with a header and no
 *     messages, and a reply that answers no recorded command are
 *     QMP_ERROR_PROTOCOL errors with file:line.
 */
#include <string.h>
#include <unistd.h>
#include "qmp-replay.h"

#define HEADER "{\"qmpkit-recording\": 1, \"peer\": \"test\"}\n"

static char *tmpdir;

static char *write_file(const char *name, const char *text, gsize len)
{
    GError *error = NULL;
    char *path = g_build_filename(tmpdir, name, NULL);
    g_assert_true(g_file_set_contents(path, text, (gssize) len, &error));
    g_assert_no_error(error);
    return path;
}

static void expect_refused(const char *text, int code, const char *what)
{
    GError *error = NULL;
    QmpReplay *rec = qmp_replay_load_data(text, strlen(text), "r.jsonl", &error);
    g_assert_null(rec);
    g_assert_error(error, QMP_ERROR, code);
    if (!strstr(error->message, what))
        g_error("expected '%s' in: %s", what, error->message);
    g_error_free(error);
}

static void test_dev_zero(void)
{
    GError *error = NULL;
    gint64 t0 = g_get_monotonic_time();
    QmpReplay *rec = qmp_replay_load("/dev/zero", &error);
    g_assert_null(rec);
    g_assert_error(error, QMP_ERROR, QMP_ERROR_TOO_LARGE);
    g_assert_nonnull(strstr(error->message, "/dev/zero:1: line longer than"));
    g_test_message("%s (%.2f s)", error->message,
                   (g_get_monotonic_time() - t0) / 1e6);
    g_error_free(error);
}

static void test_limits(void)
{
    GError *error = NULL;
    GString *big = g_string_new(HEADER);
    for (int i = 0; i < 100; i++)
        g_string_append(big, "{\"dir\": \"in\", \"msg\": {\"event\": \"STOP\"}}\n");
    g_autofree char *path = write_file("big.jsonl", big->str, big->len);

    /* the default limits take it */
    g_autoptr(QmpReplay) ok = qmp_replay_load(path, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(qmp_replay_get_n_messages(ok), ==, 100);

    /* the file over the limit */
    QmpReplay *rec = qmp_replay_load_full(path, 1000, 0, &error);
    g_assert_null(rec);
    g_assert_error(error, QMP_ERROR, QMP_ERROR_TOO_LARGE);
    g_assert_nonnull(strstr(error->message, "larger than 1000 bytes"));
    g_clear_error(&error);

    /* a line over the limit: the third */
    g_autofree char *longline = g_strdup_printf(HEADER "{\"dir\": \"in\", \"msg\": {\"event\": \"STOP\"}}\n"
                                                "{\"dir\": \"in\", \"msg\": {\"event\": \"%0200d\"}}\n", 7);
    g_autofree char *path2 = write_file("long.jsonl", longline, strlen(longline));
    rec = qmp_replay_load_full(path2, 0, 100, &error);
    g_assert_null(rec);
    g_assert_error(error, QMP_ERROR, QMP_ERROR_TOO_LARGE);
    g_assert_nonnull(strstr(error->message, "long.jsonl:3: line longer than 100 bytes"));
    g_clear_error(&error);

    /* libvirt's format: a message over the limit, however it is split */
    GString *lv = g_string_new("{\n");
    for (int i = 0; i < 50; i++)
        g_string_append_printf(lv, "  \"k%d\": %d,\n", i, i);
    g_string_append(lv, "  \"return\": {}\n}\n");
    g_autofree char *path3 = write_file("x.replies", lv->str, lv->len);
    rec = qmp_replay_load_full(path3, 0, 200, &error);
    g_assert_null(rec);
    g_assert_error(error, QMP_ERROR, QMP_ERROR_TOO_LARGE);
    g_assert_nonnull(strstr(error->message, "x.replies:1: message longer than 200 bytes"));
    g_clear_error(&error);
    unlink(path);
    unlink(path2);
    unlink(path3);
    g_string_free(big, TRUE);
    g_string_free(lv, TRUE);
}

static void test_not_objects(void)
{
    expect_refused(HEADER "{\"dir\": \"in\", \"msg\": 42}\n", QMP_ERROR_PROTOCOL,
                   "r.jsonl:2: \"msg\" must be a JSON object");
    expect_refused(HEADER "{\"dir\": \"in\", \"msg\": [{\"return\": {}}]}\n",
                   QMP_ERROR_PROTOCOL, "r.jsonl:2: \"msg\" must be a JSON object");
    /* no header: libvirt's format, whose messages are objects too */
    expect_refused("[{\"execute\": \"query-status\"}, {\"return\": {}}]\n",
                   QMP_ERROR_PROTOCOL, "r.jsonl:1: a message must be a JSON object");
    expect_refused("{\"execute\": \"stop\", \"id\": \"libvirt-1\"}\n\n\"text\"\n",
                   QMP_ERROR_PROTOCOL, "r.jsonl:3: a message must be a JSON object");
}

static void test_no_messages(void)
{
    expect_refused(HEADER, QMP_ERROR_PROTOCOL, "r.jsonl: the recording has a header but no messages");
    expect_refused(HEADER "\n\n", QMP_ERROR_PROTOCOL, "no messages");
    expect_refused("", QMP_ERROR_PROTOCOL, "r.jsonl: empty recording");
}

static void test_orphan_reply(void)
{
    /* a reply and no command at all */
    expect_refused(HEADER "{\"dir\": \"in\", \"msg\": {\"QMP\": {}}}\n"
                   "{\"dir\": \"in\", \"msg\": {\"return\": {}, \"id\": \"qmpkit-1\"}}\n",
                   QMP_ERROR_PROTOCOL, "r.jsonl:3: a reply to no recorded command");
    /* a reply whose id no command has */
    expect_refused(HEADER "{\"dir\": \"out\", \"msg\": {\"execute\": \"stop\", \"id\": \"a\"}}\n"
                   "{\"dir\": \"in\", \"msg\": {\"return\": {}, \"id\": \"a\"}}\n"
                   "{\"dir\": \"in\", \"msg\": {\"return\": {}, \"id\": \"b\"}}\n",
                   QMP_ERROR_PROTOCOL, "r.jsonl:4: a reply to no recorded command");
    /* libvirt's format: a reply before any command */
    expect_refused("{\"return\": {}, \"id\": \"libvirt-1\"}\n\n"
                   "{\"execute\": \"stop\", \"id\": \"libvirt-1\"}\n",
                   QMP_ERROR_PROTOCOL, "r.jsonl:1: a reply to no recorded command");
    /* and the well-formed version loads */
    const char *good = HEADER "{\"dir\": \"out\", \"msg\": {\"execute\": \"stop\", \"id\": \"a\"}}\n"
                       "{\"dir\": \"in\", \"msg\": {\"return\": {}, \"id\": \"a\"}}\n";
    GError *error = NULL;
    g_autoptr(QmpReplay) rec = qmp_replay_load_data(good, strlen(good), "g.jsonl", &error);
    g_assert_no_error(error);
    g_assert_cmpuint(qmp_replay_get_n_messages(rec), ==, 2);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    tmpdir = g_dir_make_tmp("qmpkit-reader-XXXXXX", NULL);
    g_assert_nonnull(tmpdir);
    g_test_add_func("/reader/dev-zero", test_dev_zero);
    g_test_add_func("/reader/limits", test_limits);
    g_test_add_func("/reader/not-objects", test_not_objects);
    g_test_add_func("/reader/no-messages", test_no_messages);
    g_test_add_func("/reader/orphan-reply", test_orphan_reply);
    int rc = g_test_run();
    rmdir(tmpdir);
    g_free(tmpdir);
    return rc;
}
