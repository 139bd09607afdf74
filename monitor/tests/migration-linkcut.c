/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * migration-linkcut: a link cut in the middle of a post-copy migration run
 * by the workflow (qmp-migration.h), 7.2 -> 7.2, and its recovery.
 *
 * The source connects through the tests' proxy (a slow link, 16 MiB/s per
 * connection, so that the cut lands mid-post-copy).  The test asks for the
 * post-copy switch as soon as the source is active, and cuts the link once
 * 8 MiB moved after the switch:
 *
 *  - reset: the proxy closes every socket; both QEMUs pause by themselves
 *    and qmp_migration_run() fails with QMP_MIGRATION_ERROR_POSTCOPY_PAUSED;
 *  - silent: the proxy stops forwarding; nobody notices but the workflow's
 *    stall detection, which sends migrate-pause to both sides and fails
 *    the same way.
 *
 *  - veth: source and destination QEMU each in a network namespace of
 *    their own, joined by a veth pair whose source end goes down: the
 *    silent cut of a real link (slowed by max-postcopy-bandwidth instead of
 *    the proxy), also found by the stall detection.
 *
 * qmp_migration_recover() then listens on a new address on the destination
 * and resumes the source through a second (fast) proxy (veth: over the link
 * brought back up, full speed); the migration completes and the 200 MiB
 * random region is equal on both sides and to its file.  preempt is on
 * (both sides are 7.2).
 *
 *   --live: QEMU 7.2 (exit 77 without it); both monitors recorded to
 *           replay-tests/recordings/migration-linkcut-KIND-*.jsonl under
 *           QMPKIT_RERECORD=1 (else to a temporary folder), then replayed.
 *   default: the recordings in the tree replayed strictly.
 */
#include <signal.h>
#include <string.h>
#include <glib/gstdio.h>
#include "qmp-migration.h"
#include "migration-harness.h"
#include "migration-linkcut-proxy.h"
#include "migration-linkcut-netns.h"

#define SLOW_LINK (16ull * 1024 * 1024)
#define CUT_AFTER (8ull * 1024 * 1024)
#define POLL_MS 100
#define STALL_POLLS 30 /* 3 s live */


typedef MigCase Case;

static const Case cases[] = {
    { "reset", MIG_CUT_RESET },
    { "silent", MIG_CUT_SILENT },
    { "veth", MIG_CUT_VETH },
};

/* veth: fixed addresses inside the test's own namespaces. */
#define VETH_PORT 4444
#define VETH_RECOVER_PORT 4445

typedef struct {
    char *incoming, *connect;         /* first run: listen, connect (proxy) */
    char *recover, *recover_connect;  /* recovery: listen, connect (proxy 2) */
} Uris;

typedef struct {
    const Case *c;
    MigProxy *proxy; /* NULL in replay */
    MigNetns *netns; /* veth, live only */
    MigSide *dst;
    gboolean asked, cut;
    guint64 at_switch;
    guint n_progress;
} Cut;

static char *tmpdir;

static void on_progress(QmpMigration *mig, const QmpMigrationProgress *p, gpointer data)
{
    Cut *cut = data;
    GError *error = NULL;
    cut->n_progress++;
    if (!cut->asked && p->status == QMP_MIGRATION_STATUS_ACTIVE) {
        cut->asked = TRUE;
        g_assert_true(qmp_migration_start_postcopy(mig, &error));
        g_assert_no_error(error);
    }
    if (p->postcopy && !cut->at_switch)
        cut->at_switch = p->transferred ? p->transferred : 1;
    /* Cut only once the destination runs the guest (RESUME): before, it is
     * still loading the device state sent at the switch, and a cut then
     * fails its incoming migration (QEMU exits) instead of pausing it. */
    if (p->postcopy && !cut->cut && strstr(cut->dst->events->str, "RESUME") &&
        p->transferred >= cut->at_switch + CUT_AFTER) {
        g_assert_cmpuint(p->remaining, >, 0);
        cut->cut = TRUE;
        GError *error = NULL;
        if (cut->proxy && cut->c->kind == MIG_CUT_RESET)
            mig_proxy_reset(cut->proxy);
        else if (cut->proxy)
            mig_proxy_silence(cut->proxy);
        if (cut->netns)
            g_assert_true(mig_netns_set_link(cut->netns, FALSE, &error));
        g_assert_no_error(error);
    }
}

static void scenario(MigSide *src, MigSide *dst, const Uris *u, MigProxy *proxy,
                     MigNetns *netns, const Case *c, GString *out)
{
    GError *error = NULL;
    mig_sides_handshake(src, dst);

    g_autoptr(QmpMigration) mig = qmp_migration_new(src->mon, dst->mon);
    g_assert_true(qmp_migration_set_uri(mig, u->incoming, &error));
    g_assert_no_error(error);
    g_assert_true(qmp_migration_set_connect_uri(mig, u->connect, &error));
    g_assert_no_error(error);
    qmp_migration_set_flags(mig, QMP_MIGRATION_POSTCOPY | QMP_MIGRATION_KEEP_SOURCE);
    /* Replays run as fast as the replies come: the same number of polls
     * (30) make a stall, at 1 ms instead of 100 ms a poll. */
    guint poll_ms = src->live ? POLL_MS : 1;
    qmp_migration_set_poll_interval(mig, poll_ms);
    qmp_migration_set_stall_timeout(mig, STALL_POLLS * poll_ms);
    Cut cut = { c, proxy, netns, dst, FALSE, FALSE, 0, 0 };
    if (c->kind == MIG_CUT_VETH)
        mig_side_set_postcopy_bandwidth(src, SLOW_LINK); /* no proxy to slow it */
    qmp_migration_set_progress_func(mig, on_progress, &cut, NULL);

    /* The cut: the run stops with both sides paused. */
    g_assert_false(qmp_migration_run(mig, &error));
    g_assert_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_POSTCOPY_PAUSED);
    g_assert_true(cut.cut);
    g_assert_true(qmp_migration_get_preempt(mig));
    g_assert_cmpint(qmp_migration_get_failed_phase(mig), ==, QMP_MIGRATION_PHASE_PERFORM);
    /* (Not the message: it names the stall time, scaled in replays.) */
    g_test_message("run: %s", error->message);
    g_assert_nonnull(strstr(error->message, c->kind == MIG_CUT_RESET ? "link broke" : "migrate-pause"));
    g_string_append_printf(out, "cut=%s run failed in %s, post-copy paused;", c->name,
                           qmp_migration_phase_to_string(qmp_migration_get_failed_phase(mig)));
    g_clear_error(&error);
    mig_side_wait_event(dst, "postcopy-paused");

    /* Recovery over a new address; the migration completes. */
    if (c->kind == MIG_CUT_VETH) {
        if (netns)
            g_assert_true(mig_netns_set_link(netns, TRUE, &error));
        g_assert_no_error(error);
        mig_side_set_postcopy_bandwidth(src, 0);
    }
    gboolean recovered = qmp_migration_recover(mig, u->recover, u->recover_connect, &error);
    g_assert_no_error(error);
    g_assert_true(recovered);
    g_assert_cmpint(qmp_migration_get_progress(mig)->status, ==, QMP_MIGRATION_STATUS_COMPLETED);
    mig_side_wait_event(dst, "completed");

    g_assert_true(qmp_stop(dst->mon, &error));
    g_assert_no_error(error);
    mig_side_pmemsave(src, "src-mem.bin");
    mig_side_pmemsave(dst, "dst-mem.bin");
    mig_side_join_statuses(out, "src", src);
    mig_side_join_statuses(out, "dst", dst);
    g_string_append_printf(out, " preempt=%d", qmp_migration_get_preempt(mig));
    mig_side_quit(src);
    mig_side_quit(dst);
}

static void uris_clear(Uris *u)
{
    g_free(u->incoming);
    g_free(u->connect);
    g_free(u->recover);
    g_free(u->recover_connect);
}

/* How many commands named name the recording at path holds (only those
 * sent in-band, with "execute", when inband). */
typedef struct {
    const char *name;
    gboolean inband;
    guint n;
} CountSent;

static void count_command(const char *cmd, const QmpJson *m, gboolean oob, gpointer data)
{
    CountSent *cs = data;
    (void) m;
    if (!(oob && cs->inband) && g_strcmp0(cmd, cs->name) == 0)
        cs->n++;
}

static guint count_sent(const char *path, const char *name, gboolean inband)
{
    CountSent cs = { name, inband, 0 };
    mig_recording_foreach_command(path, count_command, &cs);
    return cs.n;
}

static void replay_run(MigSide *src, MigSide *dst, const char *sp, const char *dp,
                       gconstpointer data, GString *out)
{
    const Case *c = data;
    /* After a reset the source paused by itself; after a silent cut only
     * the workflow's migrate-pause (to both sides) paused anything. */
    /* Recovery commands go out of band (the destination's main loop may
     * wait for a page). */
    static const char *const oob[] = { "migrate-pause", "migrate-recover" };
    for (gsize i = 0; i < G_N_ELEMENTS(oob); i++) {
        g_assert_cmpuint(count_sent(sp, oob[i], TRUE), ==, 0);
        g_assert_cmpuint(count_sent(dp, oob[i], TRUE), ==, 0);
    }
    g_assert_cmpuint(count_sent(dp, "migrate-recover", FALSE), >=, 1);
    if (c->kind != MIG_CUT_RESET) {
        g_assert_cmpuint(count_sent(sp, "migrate-pause", FALSE), >=, 1);
        g_assert_cmpuint(count_sent(dp, "migrate-pause", FALSE), >=, 1);
    } else {
        g_assert_cmpuint(count_sent(sp, "migrate-pause", FALSE), ==, 0);
    }
    Uris u = { mig_recorded_uri(dp, "migrate-incoming", 0), mig_recorded_uri(sp, "migrate", 0),
               mig_recorded_uri(dp, "migrate-recover", 0), mig_recorded_uri(sp, "migrate", 1) };
    scenario(src, dst, &u, NULL, NULL, c, out);
    uris_clear(&u);
}

static void test_live(gconstpointer data)
{
    const Case *c = data;
    GError *error = NULL;
    const char *rand = mig_test_rand_file();
    g_autofree char *recdir = NULL, *sp = NULL, *dp = NULL;
    mig_test_live_paths(tmpdir, "linkcut", c->name, &recdir, &sp, &dp);

    g_autoptr(MigProxy) proxy = NULL, proxy2 = NULL;
    g_autoptr(MigNetns) netns = NULL;
    Uris u;
    if (c->kind == MIG_CUT_VETH) {
        netns = mig_netns_new(&error);
        if (!netns) {
            g_test_skip(error->message);
            g_clear_error(&error);
            return;
        }
        u.incoming = g_strdup_printf("tcp:" MIG_NETNS_DST_ADDR ":%d", VETH_PORT);
        u.connect = g_strdup(u.incoming);
        u.recover = g_strdup_printf("tcp:" MIG_NETNS_DST_ADDR ":%d", VETH_RECOVER_PORT);
        u.recover_connect = g_strdup(u.recover);
    } else {
        guint16 dst_port = mig_proxy_free_port(&error);
        g_assert_no_error(error);
        guint16 rec_port = mig_proxy_free_port(&error);
        g_assert_no_error(error);
        proxy = mig_proxy_new(dst_port, &error);
        g_assert_no_error(error);
        mig_proxy_set_rate(proxy, SLOW_LINK);
        proxy2 = mig_proxy_new(rec_port, &error);
        g_assert_no_error(error);
        u.incoming = g_strdup_printf("tcp:127.0.0.1:%u", dst_port);
        u.connect = g_strdup_printf("tcp:127.0.0.1:%u", mig_proxy_get_port(proxy));
        u.recover = g_strdup_printf("tcp:127.0.0.1:%u", rec_port);
        u.recover_connect = g_strdup_printf("tcp:127.0.0.1:%u", mig_proxy_get_port(proxy2));
    }

    MigSide src, dst;
    mig_side_spawn_netns(&src, "source", mig_test_qemu_72(), "q35", rand, tmpdir, sp,
                         "qemu-7.2 q35 migration source (workflow, post-copy, link cut)",
                         netns ? mig_netns_source(netns) : NULL);
    mig_side_spawn_netns(&dst, "destination", mig_test_qemu_72(), "q35", NULL, tmpdir, dp,
                         "qemu-7.2 q35 migration destination (workflow, post-copy, link cut)",
                         netns ? mig_netns_destination(netns) : NULL);
    g_autoptr(GString) out = g_string_new(NULL);
    scenario(&src, &dst, &u, proxy, netns, c, out);
    if (proxy) {
        g_test_message("proxy: %u connections, %" G_GUINT64_FORMAT " bytes; proxy 2: %u "
                       "connections, %" G_GUINT64_FORMAT " bytes",
                       mig_proxy_get_n_connections(proxy),
                       mig_proxy_get_bytes(proxy, MIG_PROXY_TO_TARGET),
                       mig_proxy_get_n_connections(proxy2),
                       mig_proxy_get_bytes(proxy2, MIG_PROXY_TO_TARGET));
        /* The recovery really went through the new link. */
        g_assert_cmpuint(mig_proxy_get_n_connections(proxy2), >=, 1);
        g_assert_cmpuint(mig_proxy_get_bytes(proxy2, MIG_PROXY_TO_TARGET), >, 0);
    }
    uris_clear(&u);
    mig_test_live_done(&src, &dst, out, tmpdir, TRUE, recdir, "linkcut", c, replay_run);
    g_clear_pointer(&netns, mig_netns_free); /* QEMUs gone: namespaces go */
}

int main(int argc, char **argv)
{
    return mig_test_main(argc, argv, "linkcut", cases, G_N_ELEMENTS(cases), sizeof(Case),
                         test_live, replay_run, FALSE, &tmpdir);
}
