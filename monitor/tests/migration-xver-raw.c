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

static void scenario(MigSide *src, MigSide *dst, const char *uri, const MigXverCase *c,
                     GString *out)
{
    GError *error = NULL;
    mig_sides_handshake(src, dst);
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
    mig_sides_summary_quit(out, src, dst);
}

int main(int argc, char **argv)
{
    return mig_xver_main(argc, argv, "xver-raw", "", scenario);
}
