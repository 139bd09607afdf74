/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * migration-xver: QEMU 7.2 <-> 10.0 migration with -machine pc-q35-7.2
 * through the workflow (qmp-migration.h, every phase, capabilities probed
 * live): pre-copy, and post-copy switched as soon as the source is active
 * (preempt on: both sides have it), both directions; the 200 MiB random
 * region equal on both sides and to its file afterwards.
 *
 *   --live: QEMU 7.2 from PATH and 10.0 from $QMPKIT_QEMU_10 (exit 77 when
 *           either is missing and ../shared is absent); both monitors
 *           recorded to replay-tests/recordings/migration-xver-CASE-*.jsonl
 *           under QMPKIT_RERECORD=1, then replayed.
 *   default: the recordings in the tree replayed strictly.
 */
#include <signal.h>
#include <string.h>
#include <glib/gstdio.h>
#include "qmp-migration.h"
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

static void on_progress(QmpMigration *mig, const QmpMigrationProgress *p, gpointer data)
{
    gboolean *asked = data;
    GError *error = NULL;
    if (!*asked && p->status == QMP_MIGRATION_STATUS_ACTIVE) {
        *asked = TRUE;
        g_assert_true(qmp_migration_start_postcopy(mig, &error));
        g_assert_no_error(error);
    }
}

static void scenario(MigSide *src, MigSide *dst, const char *uri, const Case *c, GString *out)
{
    GError *error = NULL;
    mig_side_handshake(src);
    mig_side_handshake(dst);
    g_autoptr(QmpMigration) mig = qmp_migration_new(src->mon, dst->mon);
    g_assert_true(qmp_migration_set_uri(mig, uri, &error));
    g_assert_no_error(error);
    qmp_migration_set_flags(mig, QMP_MIGRATION_KEEP_SOURCE |
                                 (c->postcopy ? QMP_MIGRATION_POSTCOPY : 0));
    /* Replays need not wait between polls. */
    qmp_migration_set_poll_interval(mig, src->live ? 100 : 1);
    gboolean asked = FALSE;
    if (c->postcopy)
        qmp_migration_set_progress_func(mig, on_progress, &asked, NULL);
    gboolean ok = qmp_migration_run(mig, &error);
    g_assert_no_error(error);
    g_assert_true(ok);
    g_assert_cmpint(qmp_migration_get_phase(mig), ==, QMP_MIGRATION_PHASE_CONFIRM);
    g_assert_cmpint(qmp_migration_get_progress(mig)->status, ==, QMP_MIGRATION_STATUS_COMPLETED);
    g_assert_cmpint(qmp_migration_get_preempt(mig), ==, c->postcopy);
    if (c->postcopy) {
        g_assert_true(asked);
        g_assert_true(qmp_migration_get_progress(mig)->postcopy);
        mig_side_wait_event(dst, "postcopy-active");
    }
    mig_side_wait_event(dst, "completed");
    g_assert_true(qmp_stop(dst->mon, &error));
    g_assert_no_error(error);
    mig_side_pmemsave(src, "src-mem.bin");
    mig_side_pmemsave(dst, "dst-mem.bin");
    g_string_append_printf(out, "%s preempt=%d", c->name, qmp_migration_get_preempt(mig));
    join_statuses(out, "src", src);
    join_statuses(out, "dst", dst);
    mig_side_quit(src);
    mig_side_quit(dst);
}

static char *replay(const Case *c, const char *dir)
{
    g_autofree char *sp = NULL, *dp = NULL;
    mig_test_paths(dir, "xver", c->name, &sp, &dp);
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
    mig_test_paths(recdir, "xver", c->name, &sp, &dp);
    guint16 port = mig_proxy_free_port(&error);
    g_assert_no_error(error);
    g_autofree char *uri = g_strdup_printf("tcp:127.0.0.1:%u", port);
    const char *q72 = mig_test_qemu_72(), *q10 = mig_test_qemu_10();
    const char *v_src = c->src_is_10 ? "10.0" : "7.2", *v_dst = c->src_is_10 ? "7.2" : "10.0";
    g_autofree char *p_src = g_strdup_printf("qemu-%s pc-q35-7.2 migration source (workflow, to %s)", v_src, v_dst);
    g_autofree char *p_dst = g_strdup_printf("qemu-%s pc-q35-7.2 migration destination (workflow, from %s)", v_dst, v_src);

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
    return mig_test_main(argc, argv, "xver", cases, G_N_ELEMENTS(cases), sizeof(Case),
                         test_live, test_replay, TRUE, &tmpdir);
}
