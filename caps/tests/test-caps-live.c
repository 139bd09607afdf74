/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-caps-live.c: probing the system's qemu-system-x86_64 (exit 77 when
 * there is none): the cache (hit, stale key, corrupt and foreign files are
 * ignored and rewritten), the probe of a running QEMU's monitor recorded
 * and replayed with identical answers, and, for QEMU 7.2, identical answers
 * from caps/tests/data/qemu-7.2-probe.jsonl.  With QMPKIT_CAPS_RERECORD=1
 * that file is rewritten from the live probe.
 */
#include <stdio.h>
#include <string.h>
#include <glib/gstdio.h>

#include "caps-private.h"
#include "qmp-replay.h"

static char *qemu;
static char *cache_dir;

static void assert_same(const QmpCaps *a, const QmpCaps *b)
{
    g_auto(GStrv) na = qmp_caps_list(a);
    g_auto(GStrv) nb = qmp_caps_list(b);
    g_assert_cmpuint(g_strv_length(na), ==, g_strv_length(nb));
    for (guint i = 0; na[i]; i++) {
        g_assert_cmpstr(na[i], ==, nb[i]);
        if (qmp_caps_get(a, na[i]) != qmp_caps_get(b, na[i]))
            g_error("%s: %d vs %d", na[i], qmp_caps_get(a, na[i]), qmp_caps_get(b, na[i]));
    }
    int v1[3], v2[3];
    g_assert_true(qmp_caps_get_version(a, &v1[0], &v1[1], &v1[2]));
    g_assert_true(qmp_caps_get_version(b, &v2[0], &v2[1], &v2[2]));
    g_assert_cmpmem(v1, sizeof(v1), v2, sizeof(v2));
}

static void assert_live_answers(const QmpCaps *c)
{
    g_auto(GStrv) names = qmp_caps_list(c);
    for (char **n = names; *n; n++)
        g_assert_cmpint(qmp_caps_get(c, *n), !=, QMP_CAPS_UNKNOWN);
    g_assert_true(qmp_caps_has(c, "command.query-qmp-schema"));
    g_assert_true(qmp_caps_has(c, "migration.postcopy-ram"));
}

static void test_cache(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *file = qmp_caps_cache_path(qemu);
    g_assert_true(g_str_has_prefix(file, cache_dir));
    g_unlink(file);

    g_autoptr(QmpCaps) cold = qmp_caps_probe_binary(qemu, QMP_CAPS_NONE, &error);
    g_assert_no_error(error);
    g_assert_false(qmp_caps_is_cached(cold));
    assert_live_answers(cold);
    g_assert_true(g_file_test(file, G_FILE_TEST_IS_REGULAR));

    g_autoptr(QmpCaps) warm = qmp_caps_probe_binary(qemu, QMP_CAPS_NONE, &error);
    g_assert_no_error(error);
    g_assert_true(qmp_caps_is_cached(warm));
    assert_same(cold, warm);

    g_autoptr(QmpCaps) nocache = qmp_caps_probe_binary(qemu, QMP_CAPS_NO_CACHE, &error);
    g_assert_no_error(error);
    g_assert_false(qmp_caps_is_cached(nocache));
    assert_same(cold, nocache);

    /* corrupt, foreign, stale-key and lying files: never trusted, rewritten */
    g_autofree char *good = NULL;
    g_assert_true(g_file_get_contents(file, &good, NULL, NULL));
    g_autofree char *stale = g_strdup(good);
    char *k = strstr(stale, "kernel=");
    g_assert_nonnull(k);
    k[7] = k[7] == 'X' ? 'Y' : 'X';
    g_autofree char *lying = g_strdup(good);
    char *p = strstr(lying, "name=\"command.query-qmp-schema\" state=\"present\"");
    g_assert_nonnull(p);
    memcpy(strstr(p, "present"), "absent\" ", 8);
    const char *bad[] = { "garbage\n", "<qmpcaps format=\"1\"><cap", "<svg format=\"1\"/>", stale };
    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_assert_true(g_file_set_contents(file, bad[i], -1, NULL));
        g_autoptr(QmpCaps) c = qmp_caps_probe_binary(qemu, QMP_CAPS_NONE, &error);
        g_assert_no_error(error);
        g_assert_false(qmp_caps_is_cached(c));
        assert_same(cold, c);
        g_autofree char *now = NULL;
        g_assert_true(g_file_get_contents(file, &now, NULL, NULL));
        g_assert_cmpstr(now, ==, good);
    }
    /* a file with the right key is trusted (that is what a cache is): the
     * key, not the content, decides */
    g_assert_true(g_file_set_contents(file, lying, -1, NULL));
    g_autoptr(QmpCaps) lied = qmp_caps_probe_binary(qemu, QMP_CAPS_NONE, &error);
    g_assert_true(qmp_caps_is_cached(lied));
    g_assert_false(qmp_caps_has(lied, "command.query-qmp-schema"));
    g_unlink(file);
}

/* Probe through a monitor that records, then replay that recording. */
static void test_recorded_identical(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *rec = g_build_filename(cache_dir, "probe.jsonl", NULL);
    g_autoptr(QmpCaps) live = NULL;
    {
        g_autoptr(QmpMonitor) mon = qmp_monitor_new(NULL);
        const char *argv[] = { "-machine", "none", "-nodefaults", "-display", "none", "-S",
                               "-no-user-config", NULL };
        g_assert_true(qmp_monitor_spawn(mon, qemu, argv, &error));
        g_assert_true(qmp_monitor_record_to_file(mon, rec, "qemu probe", &error));
        g_assert_true(qmp_monitor_handshake(mon, QMP_HANDSHAKE_NONE, 30000, &error));
        live = qmp_caps_probe_monitor(mon, &error);
        g_assert_no_error(error);
        qmp_monitor_close(mon);
    }
    assert_live_answers(live);
    g_autoptr(QmpCaps) replayed = qmp_caps_probe_recording(rec, &error);
    g_assert_no_error(error);
    assert_same(live, replayed);

    g_autoptr(QmpCaps) spawned = qmp_caps_probe_binary(qemu, QMP_CAPS_NO_CACHE, &error);
    g_assert_no_error(error);
    assert_same(live, spawned);

    g_autofree char *committed = g_build_filename(g_getenv("QMPKIT_SOURCE_DIR"), "caps",
                                                  "tests", "data", "qemu-7.2-probe.jsonl", NULL);
    int maj, min;
    qmp_caps_get_version(live, &maj, &min, NULL);
    if (g_getenv("QMPKIT_CAPS_RERECORD")) {
        g_autofree char *data = NULL;
        gsize len;
        g_assert_true(g_file_get_contents(rec, &data, &len, NULL));
        g_assert_true(g_file_set_contents(committed, data, len, NULL));
    }
    if (maj == 7 && min == 2) {
        g_autoptr(QmpCaps) from_file = qmp_caps_probe_recording(committed, &error);
        g_assert_no_error(error);
        assert_same(live, from_file);
    } else {
        g_test_message("QEMU %d.%d: not compared with the 7.2 recording", maj, min);
    }
    g_unlink(rec);
}

int main(int argc, char **argv)
{
    qemu = g_find_program_in_path("qemu-system-x86_64");
    if (!qemu) {
        printf("SKIP: qemu-system-x86_64 not found\n");
        return 77;
    }
    cache_dir = g_dir_make_tmp("qmp-caps-live-XXXXXX", NULL);
    g_setenv("XDG_CACHE_HOME", cache_dir, TRUE);
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/caps/live/cache", test_cache);
    g_test_add_func("/caps/live/recorded-identical", test_recorded_identical);
    int rc = g_test_run();
    g_autofree char *d = g_build_filename(cache_dir, "qmpkit", "caps", NULL);
    g_rmdir(d);
    g_autofree char *d2 = g_build_filename(cache_dir, "qmpkit", NULL);
    g_rmdir(d2);
    g_rmdir(cache_dir);
    g_free(cache_dir);
    g_free(qemu);
    return rc;
}
