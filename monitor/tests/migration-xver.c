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

static void scenario(MigSide *src, MigSide *dst, const char *uri, const MigXverCase *c,
                     GString *out)
{
    GError *error = NULL;
    mig_sides_handshake(src, dst);
    g_autoptr(QmpMigration) mig = qmp_migration_new(src->mon, dst->mon);
    g_assert_true(qmp_migration_set_uri(mig, uri, &error));
    g_assert_no_error(error);
    qmp_migration_set_flags(mig, QMP_MIGRATION_KEEP_SOURCE |
                                 (c->postcopy ? QMP_MIGRATION_POSTCOPY : 0));
    /* Replays need not wait between polls. */
    qmp_migration_set_poll_interval(mig, src->live ? 100 : 1);
    gboolean asked = FALSE;
    if (c->postcopy)
        qmp_migration_set_progress_func(mig, mig_switch_when_active, &asked, NULL);
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
    mig_sides_save_memory(src, dst);
    g_string_append_printf(out, "%s preempt=%d", c->name, qmp_migration_get_preempt(mig));
    mig_sides_summary_quit(out, src, dst);
}

int main(int argc, char **argv)
{
    return mig_xver_main(argc, argv, "xver", "workflow, ", scenario);
}
