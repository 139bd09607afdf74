/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-migration.c: the migration workflows (qmp-migration.h).
 *
 *   test-migration            replay every recorded scenario strictly (both
 *                             monitors), plus the checks that need no QEMU
 *   test-migration --live     run every scenario against QEMU 7.2 -> 7.2,
 *                             record both monitors, compare guest memory,
 *                             then replay the fresh recordings strictly
 *
 * QMPKIT_RERECORD=1 with --live rewrites replay-tests/recordings/migration-*.
 * A scenario is one function run the same way live and replayed: every
 * decision the workflow takes comes from the conversation, so the replay
 * sends exactly the recorded commands.
 */
#include <signal.h>
#include <string.h>
#include "migration-harness.h"

static char *qemu;                 /* live: the 7.2 binary */
static const char *replay_dir;     /* NULL: the tree's recordings */

typedef struct {
    const char *name;
    const char *caps;              /* caps file name part */
    void (*run)(MigPair *p);
    const char *const *src_extra;
    const char *const *dst_extra;
} Scenario;

/* Live: poll every 50 ms; replayed: as fast as the replay goes. */
static void set_common(MigPair *p, QmpMigration *mig)
{
    GError *error = NULL;
    g_autoptr(QmpCaps) sc = mig_pair_caps(p, "qemu-7.2", qemu);
    g_autoptr(QmpCaps) dc = mig_pair_caps(p, "qemu-7.2", qemu);
    qmp_migration_set_caps(mig, sc, dc);
    qmp_migration_set_poll_interval(mig, p->live ? 50 : 1);
    g_assert_true(qmp_migration_set_uri(mig, "unix:mig.sock", &error));
    g_assert_no_error(error);
}

typedef struct {
    guint n;
    guint64 max_transferred;
    QmpMigrationStatus last;
    gboolean saw_active;
} ProgressLog;

static void on_progress(QmpMigration *mig, const QmpMigrationProgress *pr, gpointer data)
{
    (void) mig;
    ProgressLog *log = data;
    log->n++;
    log->last = pr->status;
    if (pr->status == QMP_MIGRATION_STATUS_ACTIVE)
        log->saw_active = TRUE;
    log->max_transferred = MAX(log->max_transferred, pr->transferred);
}

/* ---- pre-copy ------------------------------------------------------------------ */

static void scenario_precopy(MigPair *p)
{
    GError *error = NULL;
    g_autoptr(QmpMigration) mig = qmp_migration_new(p->src, p->dst);
    set_common(p, mig);
    qmp_migration_set_flags(mig, QMP_MIGRATION_KEEP_SOURCE);
    ProgressLog log = { 0 };
    g_signal_connect(mig, "progress", G_CALLBACK(on_progress), &log);
    gboolean ok = qmp_migration_run(mig, &error);
    g_assert_no_error(error);
    g_assert_true(ok);
    const QmpMigrationProgress *pr = qmp_migration_get_progress(mig);
    g_assert_cmpint(pr->status, ==, QMP_MIGRATION_STATUS_COMPLETED);
    g_assert_cmpint(log.last, ==, QMP_MIGRATION_STATUS_COMPLETED);
    g_assert_true(log.saw_active);
    g_assert_cmpuint(pr->n_polls, >=, 1);
    /* 200 MiB of random data had to move. */
    g_assert_cmpuint(log.max_transferred, >=, MIG_GUEST_SIZE);
    g_assert_cmpuint(pr->total, >=, 512ull * 1024 * 1024);
    g_assert_cmpint(pr->downtime, >=, 0);
    g_assert_cmpint(qmp_migration_get_phase(mig), ==, QMP_MIGRATION_PHASE_CONFIRM);
    g_assert_cmpint(qmp_migration_get_failed_phase(mig), ==, QMP_MIGRATION_PHASE_NONE);
    g_assert_false(qmp_migration_get_preempt(mig));
    /* The cookie names the source and its capabilities. */
    const char *cookie = qmp_migration_get_cookie(mig);
    g_assert_nonnull(strstr(cookie, "<qmp-migration-cookie version=\"1\">"));
    g_assert_nonnull(strstr(cookie, "name=\"postcopy-ram\""));
    if (p->live)
        mig_pair_assert_memory_equal(p);
}

static const Scenario scenarios[] = {
    { "precopy", "qemu-7.2", scenario_precopy, NULL, NULL },
};

static void test_replay(gconstpointer data)
{
    const Scenario *s = data;
    MigPair *p = mig_pair_new_replay(s->name, replay_dir);
    s->run(p);
    mig_pair_free(p);
}

static void test_live(gconstpointer data)
{
    const Scenario *s = data;
    MigPair *p = mig_pair_new_live(s->name, qemu, qemu, "q35", s->src_extra, s->dst_extra);
    s->run(p);
    mig_pair_free(p);
    /* The fresh recordings replay to the same outcome. */
    replay_dir = mig_harness_record_dir();
    test_replay(s);
    replay_dir = NULL;
}

/* ---- checks without QEMU --------------------------------------------------------- */

static void test_options(void)
{
    GError *error = NULL;
    QmpMonitor *a = qmp_monitor_new(NULL), *b = qmp_monitor_new(NULL);
    g_autoptr(QmpMigration) mig = qmp_migration_new(a, b);
    g_object_unref(a);
    g_object_unref(b);

    g_assert_false(qmp_migration_set_uri(mig, "exec:cat > /dev/null", &error));
    g_assert_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_URI);
    g_assert_nonnull(strstr(error->message, "unknown scheme 'exec:'"));
    g_clear_error(&error);
    g_assert_false(qmp_migration_set_uri(mig, "rdma:1.2.3.4:5", &error));
    g_assert_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_URI);
    g_clear_error(&error);
    g_assert_false(qmp_migration_set_uri(mig, "tcp:", &error));
    g_assert_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_URI);
    g_clear_error(&error);
    g_assert_false(qmp_migration_set_uri(mig, "/tmp/sock", &error));
    g_assert_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_URI);
    g_clear_error(&error);
    g_assert_true(qmp_migration_set_uri(mig, "tcp:127.0.0.1:4444", &error));
    g_assert_true(qmp_migration_set_uri(mig, "unix:/run/x.sock", &error));
    g_assert_true(qmp_migration_set_uri(mig, "fd:migfd", &error));
    g_assert_no_error(error);

    g_assert_false(qmp_migration_set_bandwidth(mig, -1, &error));
    g_assert_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_INVALID);
    g_assert_nonnull(strstr(error->message, "negative"));
    g_clear_error(&error);
    g_assert_false(qmp_migration_set_bandwidth(mig, G_MAXINT64 / (1024 * 1024) + 1, &error));
    g_assert_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_INVALID);
    g_assert_nonnull(strstr(error->message, "overflows"));
    g_clear_error(&error);
    g_assert_false(qmp_migration_set_bandwidth(mig, G_MAXINT64, &error));
    g_assert_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_INVALID);
    g_clear_error(&error);
    g_assert_true(qmp_migration_set_bandwidth(mig, G_MAXINT64 / (1024 * 1024), &error));
    g_assert_true(qmp_migration_set_bandwidth(mig, 100, &error));
    g_assert_no_error(error);
    g_assert_false(qmp_migration_set_downtime_limit(mig, -5, &error));
    g_assert_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_INVALID);
    g_clear_error(&error);
    g_assert_false(qmp_migration_set_downtime_limit(mig, 2000001, &error));
    g_assert_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_INVALID);
    g_clear_error(&error);
    g_assert_false(qmp_migration_set_multifd_channels(mig, 256, &error));
    g_assert_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_INVALID);
    g_clear_error(&error);

    /* Nothing runs: no cancel, no switch. */
    g_assert_false(qmp_migration_cancel(mig, &error));
    g_assert_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_STATE);
    g_clear_error(&error);
    g_assert_false(qmp_migration_start_postcopy(mig, &error));
    g_assert_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_STATE);
    g_assert_nonnull(strstr(error->message, "not requested"));
    g_clear_error(&error);
    qmp_migration_set_flags(mig, QMP_MIGRATION_POSTCOPY);
    g_assert_false(qmp_migration_start_postcopy(mig, &error));
    g_assert_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_STATE);
    g_assert_nonnull(strstr(error->message, "not active yet"));
    g_clear_error(&error);

    /* Phases out of order. */
    g_assert_false(qmp_migration_run_phase(mig, QMP_MIGRATION_PHASE_PERFORM, &error));
    g_assert_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_INVALID);
    g_assert_nonnull(strstr(error->message, "the next phase is Begin"));
    g_clear_error(&error);
    g_assert_false(qmp_migration_recover(mig, "tcp:127.0.0.1:5555", NULL, &error));
    g_assert_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_STATE);
    g_clear_error(&error);

    /* Cookies. */
    g_assert_false(qmp_migration_set_cookie(mig, "<nope/>", &error));
    g_assert_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_COOKIE);
    g_clear_error(&error);
    g_assert_false(qmp_migration_set_cookie(mig, "<qmp-migration-cookie", &error));
    g_assert_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_COOKIE);
    g_clear_error(&error);
    g_assert_true(qmp_migration_set_cookie(mig,
        "<qmp-migration-cookie version=\"1\"><source qemu=\"7.2.0\" running=\"yes\"/>"
        "<capabilities><capability name=\"events\"/></capabilities>"
        "<guest><tsc frequency=\"1000000000\" invtsc=\"no\" host-frequency=\"0\"/>"
        "<disks><disk name=\"drive0\"/></disks></guest></qmp-migration-cookie>", &error));
    g_assert_no_error(error);
    g_assert_cmpstr(qmp_migration_phase_to_string(QMP_MIGRATION_PHASE_FINISH), ==, "Finish");
}

static void test_tsc_rule(void)
{
    /* The rule alone; the live tests drive it through the phases. */
    QmpHostFacts local;
    qmp_host_facts_read_local(&local); /* never fails; values are the host's */
    g_assert_true(local.tsc_scaling >= QMP_HOST_FACT_UNKNOWN &&
                  local.tsc_scaling <= QMP_HOST_FACT_YES);
}

int main(int argc, char **argv)
{
    gboolean live = argc > 1 && strcmp(argv[1], "--live") == 0;
    g_test_init(&argc, &argv, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (live) {
        qemu = mig_harness_qemu();
        if (!qemu) {
            g_print("skipped: qemu-system-x86_64 not found in PATH\n");
            return 77;
        }
    }
    for (gsize i = 0; i < G_N_ELEMENTS(scenarios); i++) {
        g_autofree char *name = g_strdup_printf("/migration/%s/%s", live ? "live" : "replay",
                                                scenarios[i].name);
        g_test_add_data_func(name, &scenarios[i], live ? test_live : test_replay);
    }
    if (!live) {
        g_test_add_func("/migration/options", test_options);
        g_test_add_func("/migration/tsc-facts", test_tsc_rule);
    }
    int r = g_test_run();
    mig_harness_cleanup();
    g_free(qemu);
    return r;
}
