/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * migration-xver-raw: QEMU 7.2 <-> 10.0 migration with -machine pc-q35-7.2
 * through bare QMP (typed wrappers, no workflow): pre-copy, and post-copy
 * with postcopy-preempt, both directions; the 200 MiB random region equal
 * on both sides and to its file afterwards.
 *
 *   --live: QEMU 7.2 from PATH and 10.0 from $QMPKIT_QEMU_10 (exit 77 when
 *           either is missing and ../shared is absent); both monitors
 *           recorded to replay-tests/recordings/migration-xver-raw-CASE-*.jsonl
 *           under QMPKIT_RERECORD=1, then replayed.
 *   default: the recordings in the tree replayed strictly.
 *
 * Only the replay is registered with meson (the workflow's live tests,
 * migration-linkcut.c / migration-xver.c, cover the same live ground);
 * re-record with QMPKIT_RERECORD=1 and --live by hand.
 */
#include <signal.h>
#include <string.h>
#include <glib/gstdio.h>
#include "migration-harness.h"
#include "migration-linkcut-proxy.h"

typedef struct {
    const char *name;
    gboolean src_is_10, postcopy;
} Case;

static const Case cases[] = {
    { "72-to-10-precopy", FALSE, FALSE },
    { "72-to-10-postcopy-preempt", FALSE, TRUE },
    { "10-to-72-precopy", TRUE, FALSE },
    { "10-to-72-postcopy-preempt", TRUE, TRUE },
};

static char *tmpdir;

static void join_statuses(GString *out, const char *label, MigSide *side)
{
    g_string_append_printf(out, " %s=", label);
    for (guint i = 0; i < side->statuses->len; i++)
        g_string_append_printf(out, "%s%s", i ? "," : "",
                               (char *) g_ptr_array_index(side->statuses, i));
}

static void scenario(MigSide *src, MigSide *dst, const char *uri, const Case *c, GString *out)
{
    GError *error = NULL;
    mig_side_handshake(src);
    mig_side_handshake(dst);
    const QmpMigrationCapability caps[] = {
        QMP_MIGRATION_CAPABILITY_EVENTS, QMP_MIGRATION_CAPABILITY_RETURN_PATH,
        QMP_MIGRATION_CAPABILITY_POSTCOPY_RAM, QMP_MIGRATION_CAPABILITY_POSTCOPY_PREEMPT,
    };
    guint n_caps = c->postcopy ? 4 : 2;
    mig_side_set_caps(dst, caps, n_caps);
    QmpMigrateIncomingArgs in = { (char *) uri, FALSE, FALSE };
    g_assert_true(qmp_migrate_incoming(dst->mon, &in, &error));
    g_assert_no_error(error);
    mig_side_set_caps(src, caps, n_caps);
    QmpMigrateArgs m = { .uri = (char *) uri };
    g_assert_true(qmp_migrate(src->mon, &m, &error));
    g_assert_no_error(error);
    if (c->postcopy) {
        g_assert_true(qmp_migrate_start_postcopy(src->mon, &error));
        g_assert_no_error(error);
    }
    static const char *const completed[] = { "completed", NULL };
    g_autoptr(QmpMigrationInfo) done = mig_side_poll(src, completed);
    mig_side_wait_event(dst, "completed");
    if (c->postcopy)
        g_assert_true(g_ptr_array_find_with_equal_func(dst->statuses, "postcopy-active",
                                                       g_str_equal, NULL));
    g_assert_true(qmp_stop(dst->mon, &error));
    g_assert_no_error(error);
    mig_side_pmemsave(src, "src-mem.bin");
    mig_side_pmemsave(dst, "dst-mem.bin");
    g_string_append_printf(out, "%s", c->name);
    join_statuses(out, "src", src);
    join_statuses(out, "dst", dst);
    mig_side_quit(src);
    mig_side_quit(dst);
}

static char *replay(const Case *c, const char *dir)
{
    g_autofree char *sp = NULL, *dp = NULL;
    mig_test_paths(dir, "xver-raw", c->name, &sp, &dp);
    g_autofree char *uri = mig_recorded_uri(dp, "migrate-incoming", 0);
    MigSide src, dst;
    mig_side_replay(&src, "source", sp);
    mig_side_replay(&dst, "destination", dp);
    GString *out = g_string_new(NULL);
    scenario(&src, &dst, uri, c, out);
    mig_side_finish(&src);
    mig_side_finish(&dst);
    return g_string_free(out, FALSE);
}

static void test_replay(gconstpointer data)
{
    const Case *c = data;
    g_autofree char *dir = mig_test_recordings_dir();
    g_autofree char *summary = replay(c, dir);
    g_test_message("%s", summary);
}

static void test_live(gconstpointer data)
{
    const Case *c = data;
    GError *error = NULL;
    const char *rand = mig_test_rand_file();
    g_autofree char *recdir = mig_test_rerecord() ? mig_test_recordings_dir() : g_strdup(tmpdir);
    g_autofree char *sp = NULL, *dp = NULL;
    mig_test_paths(recdir, "xver-raw", c->name, &sp, &dp);
    guint16 port = mig_proxy_free_port(&error);
    g_assert_no_error(error);
    g_autofree char *uri = g_strdup_printf("tcp:127.0.0.1:%u", port);
    const char *q72 = mig_test_qemu_72(), *q10 = mig_test_qemu_10();
    const char *v_src = c->src_is_10 ? "10.0" : "7.2", *v_dst = c->src_is_10 ? "7.2" : "10.0";
    g_autofree char *p_src = g_strdup_printf("qemu-%s pc-q35-7.2 migration source (to %s)", v_src, v_dst);
    g_autofree char *p_dst = g_strdup_printf("qemu-%s pc-q35-7.2 migration destination (from %s)", v_dst, v_src);

    MigSide src, dst;
    mig_side_spawn(&src, "source", c->src_is_10 ? q10 : q72, "pc-q35-7.2", rand, tmpdir, sp, p_src);
    mig_side_spawn(&dst, "destination", c->src_is_10 ? q72 : q10, "pc-q35-7.2", NULL, tmpdir, dp, p_dst);
    g_autoptr(GString) out = g_string_new(NULL);
    scenario(&src, &dst, uri, c, out);
    g_test_message("live: %s", out->str);
    mig_side_finish(&src);
    mig_side_finish(&dst);

    mig_test_assert_memory_files(tmpdir);

    g_autofree char *again = replay(c, recdir);
    g_assert_cmpstr(again, ==, out->str);
    mig_test_drop_recordings(sp, dp);
}

int main(int argc, char **argv)
{
    return mig_test_main(argc, argv, "xver-raw", cases, G_N_ELEMENTS(cases), sizeof(Case),
                         test_live, test_replay, TRUE, &tmpdir);
}
