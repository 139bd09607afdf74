/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * migration-linkcut-raw: post-copy recovery after a link cut, driven by
 * bare QMP (the generated typed wrappers, no workflow), 7.2 -> 7.2.  It
 * proves the recovery sequence of migration-facts.md through the tests'
 * proxy, independently of the workflow library:
 *
 *   post-copy (+ preempt) running through the proxy, the proxy cut
 *   (reset: both sides pause by themselves; silent: the client sees
 *   ram.transferred stop moving and sends migrate-pause to both sides),
 *   migrate-recover (exec-oob) on a new address on the destination,
 *   migrate resume=true on the source, completion, and the 200 MiB random
 *   region equal on both sides and to the file it came from.
 *
 *   --live: QEMU 7.2 (exit 77 without it); both monitors recorded to
 *           replay-tests/recordings/migration-linkcut-raw-KIND-*.jsonl under
 *           QMPKIT_RERECORD=1 (else to a temporary folder), then replayed.
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

/* Post-copy speed until the cut, so that the cut lands mid-post-copy. */
#define SLOW_POSTCOPY (16ull * 1024 * 1024)
/* Bytes post-copy must have moved before the cut. */
#define CUT_AFTER (8ll * 1024 * 1024)
/* Silent cut: polls (100 ms apart) without progress that make a stall. */
#define STALL_POLLS 20


typedef MigCase Case;

static const Case cases[] = {
    { "reset", MIG_CUT_RESET },
    { "silent", MIG_CUT_SILENT },
};

typedef struct {
    char *incoming; /* destination listens (the proxy forwards there) */
    char *migrate;  /* source connects (the proxy) */
    char *recover;  /* the new address for migrate-recover and resume */
} Uris;

static char *tmpdir; /* live: QEMU's cwd, rand.bin, fresh recordings */

static void scenario(MigSide *src, MigSide *dst, const Uris *u, MigProxy *proxy,
                     MigCutKind kind, GString *out)
{
    GError *error = NULL;
    mig_sides_handshake(src, dst);

    const QmpMigrationCapability caps[] = {
        QMP_MIGRATION_CAPABILITY_EVENTS, QMP_MIGRATION_CAPABILITY_RETURN_PATH,
        QMP_MIGRATION_CAPABILITY_POSTCOPY_RAM, QMP_MIGRATION_CAPABILITY_POSTCOPY_PREEMPT,
    };
    mig_side_set_caps(dst, caps, G_N_ELEMENTS(caps));
    QmpMigrateIncomingArgs in = { u->incoming, FALSE, FALSE };
    g_assert_true(qmp_migrate_incoming(dst->mon, &in, &error));
    g_assert_no_error(error);

    mig_side_set_caps(src, caps, G_N_ELEMENTS(caps));
    mig_side_set_postcopy_bandwidth(src, SLOW_POSTCOPY);
    QmpMigrateArgs m = { .uri = u->migrate };
    g_assert_true(qmp_migrate(src->mon, &m, &error));
    g_assert_no_error(error);
    g_assert_true(qmp_migrate_start_postcopy(src->mon, &error));
    g_assert_no_error(error);

    /* Mid-post-copy: switched, and some pages moved since. */
    static const char *const postcopy[] = { "postcopy-active", NULL };
    for (;;) {
        g_autoptr(QmpMigrationInfo) info = mig_side_poll(src, postcopy);
        g_assert_nonnull(info->ram);
        if ((gint64) info->ram->postcopy_bytes >= CUT_AFTER) {
            g_assert_cmpint(info->ram->remaining, >, 0);
            break;
        }
        mig_sleep(src, 50);
    }
    mig_side_wait_event(dst, "postcopy-active");
    /* The destination runs the guest: it loaded the device state sent at
     * the switch (a cut before makes its incoming migration fail). */
    mig_side_wait_run_event(dst, "RESUME");

    static const char *const paused[] = { "postcopy-paused", NULL };
    if (kind == MIG_CUT_RESET) {
        if (proxy)
            mig_proxy_reset(proxy);
        /* Both sides notice by themselves. */
        g_autoptr(QmpMigrationInfo) info = mig_side_poll(src, paused);
        mig_side_wait_event(dst, "postcopy-paused");
    } else {
        if (proxy)
            mig_proxy_silence(proxy);
        /* Nobody notices: the client sees the bytes stop moving. */
        gint64 last = -1;
        guint still = 0;
        while (still < STALL_POLLS) {
            g_autoptr(QmpMigrationInfo) info = mig_side_poll(src, postcopy);
            still = info->ram->transferred == last ? still + 1 : 0;
            last = info->ram->transferred;
            mig_sleep(src, 100);
        }
        g_assert_false(g_ptr_array_find_with_equal_func(dst->statuses, "postcopy-paused",
                                                        g_str_equal, NULL));
        g_assert_true(qmp_migrate_pause(src->mon, &error));
        g_assert_no_error(error);
        g_assert_true(qmp_migrate_pause(dst->mon, &error));
        g_assert_no_error(error);
        g_autoptr(QmpMigrationInfo) info = mig_side_poll(src, paused);
        mig_side_wait_event(dst, "postcopy-paused");
    }

    /* Recover on a new address, at full speed. */
    QmpMigrateRecoverArgs rec = { u->recover };
    g_assert_true(qmp_migrate_recover(dst->mon, &rec, &error));
    g_assert_no_error(error);
    mig_side_set_postcopy_bandwidth(src, 0);
    QmpMigrateArgs resume = { .uri = u->recover, .has_resume = TRUE, .resume = TRUE };
    g_assert_true(qmp_migrate(src->mon, &resume, &error));
    g_assert_no_error(error);

    static const char *const completed[] = { "completed", NULL };
    g_autoptr(QmpMigrationInfo) done = mig_side_poll(src, completed);
    mig_sides_save_memory(src, dst);

    g_string_append_printf(out, "cut=%s", kind == MIG_CUT_RESET ? "reset" : "silent");
    mig_sides_summary_quit(out, src, dst);
}

static void replay_run(MigSide *src, MigSide *dst, const char *sp, const char *dp,
                       gconstpointer data, GString *out)
{
    const Case *c = data;
    Uris u = { mig_recorded_uri(dp, "migrate-incoming", 0), mig_recorded_uri(sp, "migrate", 0),
               mig_recorded_uri(dp, "migrate-recover", 0) };
    scenario(src, dst, &u, NULL, c->kind, out);
    g_free(u.incoming);
    g_free(u.migrate);
    g_free(u.recover);
}

static void test_live(gconstpointer data)
{
    const Case *c = data;
    GError *error = NULL;
    const char *rand = mig_test_rand_file();
    g_autofree char *recdir = NULL, *sp = NULL, *dp = NULL;
    mig_test_live_paths(tmpdir, "linkcut-raw", c->name, &recdir, &sp, &dp);

    guint16 dst_port = mig_proxy_free_port(&error);
    g_assert_no_error(error);
    guint16 rec_port = mig_proxy_free_port(&error);
    g_assert_no_error(error);
    g_autoptr(MigProxy) proxy = mig_proxy_new(dst_port, &error);
    g_assert_no_error(error);
    Uris u = { g_strdup_printf("tcp:127.0.0.1:%u", dst_port),
               g_strdup_printf("tcp:127.0.0.1:%u", mig_proxy_get_port(proxy)),
               g_strdup_printf("tcp:127.0.0.1:%u", rec_port) };

    MigSide src, dst;
    mig_side_spawn(&src, "source", mig_test_qemu_72(), "q35", rand, tmpdir, sp,
                   "qemu-7.2 q35 migration source (post-copy, link cut)");
    mig_side_spawn(&dst, "destination", mig_test_qemu_72(), "q35", NULL, tmpdir, dp,
                   "qemu-7.2 q35 migration destination (post-copy, link cut)");
    g_autoptr(GString) out = g_string_new(NULL);
    scenario(&src, &dst, &u, proxy, c->kind, out);
    g_test_message("proxy: %u connections, %" G_GUINT64_FORMAT " bytes forward, %"
                   G_GUINT64_FORMAT " back", mig_proxy_get_n_connections(proxy),
                   mig_proxy_get_bytes(proxy, MIG_PROXY_TO_TARGET),
                   mig_proxy_get_bytes(proxy, MIG_PROXY_TO_CLIENT));
    g_free(u.incoming);
    g_free(u.migrate);
    g_free(u.recover);
    /* The pages really moved (both sides hold the random file), and the
     * recordings replay to the same conversation. */
    mig_test_live_done(&src, &dst, out, tmpdir, TRUE, recdir, "linkcut-raw", c, replay_run);
}

int main(int argc, char **argv)
{
    return mig_test_main(argc, argv, "linkcut-raw", cases, G_N_ELEMENTS(cases), sizeof(Case),
                         test_live, replay_run, FALSE, &tmpdir);
}
