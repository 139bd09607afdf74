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
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include "migration-harness.h"
#include "migration-private.h"
#include "migration-linkcut-proxy.h"

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

/* ---- post-copy ------------------------------------------------------------------ */

typedef struct {
    guint last_polls;
    gboolean switched;
    GError *switch_error;
} SwitchState;

/* TRUE once per poll reply (progress also comes on events, whose timing
 * a replay does not keep): decisions are taken on polls only. */
static gboolean new_poll(guint *last_polls, const QmpMigrationProgress *pr)
{
    if (pr->n_polls == *last_polls)
        return FALSE;
    *last_polls = pr->n_polls;
    return TRUE;
}

/* Pre-copy active and 30 MiB moved. */
static gboolean active_past_30m(const QmpMigrationProgress *pr)
{
    return pr->status == QMP_MIGRATION_STATUS_ACTIVE && pr->transferred > 30u * 1024 * 1024;
}

/* Switch by hand once 30 MiB moved (decided on poll replies only). */
static void switch_when_30m(QmpMigration *mig, const QmpMigrationProgress *pr, gpointer data)
{
    SwitchState *st = data;
    if (!new_poll(&st->last_polls, pr))
        return;
    if (!st->switched && active_past_30m(pr)) {
        st->switched = TRUE;
        g_assert_true(qmp_migration_start_postcopy(mig, &st->switch_error));
        /* A second request is refused with a clear reason. */
        GError *e = NULL;
        g_assert_false(qmp_migration_start_postcopy(mig, &e));
        g_assert_error(e, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_STATE);
        g_assert_nonnull(strstr(e->message, "already switched"));
        g_error_free(e);
    }
}

static void assert_postcopy_done(MigPair *p, QmpMigration *mig)
{
    GError *error = NULL;
    const QmpMigrationProgress *pr = qmp_migration_get_progress(mig);
    g_assert_cmpint(pr->status, ==, QMP_MIGRATION_STATUS_COMPLETED);
    g_assert_true(pr->postcopy);
    g_assert_false(qmp_migration_start_postcopy(mig, &error));
    g_assert_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_STATE);
    g_assert_nonnull(strstr(error->message, "already finished"));
    g_clear_error(&error);
    if (p->live)
        mig_pair_assert_memory_equal(p);
}

static void scenario_postcopy(MigPair *p)
{
    GError *error = NULL;
    g_autoptr(QmpMigration) mig = qmp_migration_new(p->src, p->dst);
    set_common(p, mig);
    qmp_migration_set_flags(mig, QMP_MIGRATION_POSTCOPY | QMP_MIGRATION_NO_PREEMPT |
                                     QMP_MIGRATION_KEEP_SOURCE);
    SwitchState st = { 0 };
    qmp_migration_set_progress_func(mig, switch_when_30m, &st, NULL);
    g_assert_true(qmp_migration_run(mig, &error));
    g_assert_no_error(error);
    g_assert_true(st.switched);
    g_assert_no_error(st.switch_error);
    g_assert_false(qmp_migration_get_preempt(mig));
    assert_postcopy_done(p, mig);
    g_assert_cmpuint(mig_recording_grep(p->record_dir, p->name, TRUE, "postcopy-preempt"), ==, 0);
    g_assert_cmpuint(mig_recording_grep(p->record_dir, p->name, FALSE, "postcopy-preempt"), ==, 0);
    g_assert_cmpuint(mig_recording_count(p->record_dir, p->name, TRUE,
                                         "migrate-start-postcopy"), ==, 1);
}

/* Both 7.2 sides have postcopy-preempt: it is on, on both; the policy
 * switches after the first pass. */
static void scenario_postcopy_preempt(MigPair *p)
{
    GError *error = NULL;
    g_autoptr(QmpMigration) mig = qmp_migration_new(p->src, p->dst);
    set_common(p, mig);
    qmp_migration_set_flags(mig, QMP_MIGRATION_POSTCOPY | QMP_MIGRATION_KEEP_SOURCE);
    qmp_migration_set_postcopy_policy(mig, 1, 0);
    g_assert_true(qmp_migration_run(mig, &error));
    g_assert_no_error(error);
    g_assert_true(qmp_migration_get_preempt(mig));
    assert_postcopy_done(p, mig);
    /* Set on both sides, before migrate-incoming / migrate. */
    g_assert_cmpuint(mig_recording_grep(p->record_dir, p->name, TRUE, "postcopy-preempt"), ==, 1);
    g_assert_cmpuint(mig_recording_grep(p->record_dir, p->name, FALSE, "postcopy-preempt"), ==, 1);
    g_assert_cmpuint(mig_recording_count(p->record_dir, p->name, TRUE,
                                         "migrate-start-postcopy"), ==, 1);
}

/* ---- post-copy by the "stopped shrinking" policy ------------------------------------ */

/* Both sides boot the dirtying guest (args filled in main). */
static const char *dirty_guest[7];
#define SHRINK_POLLS 10

/* Live: wait (bounded) until the guest's loop has written its region, so
 * that pre-copy starts against a guest that already dirties memory. */
static void wait_guest_dirtying(MigPair *p)
{
    g_autofree char *hmp = g_strdup_printf("{\"command-line\":\"xp /1wx 0x%x\"}",
                                           MIG_DIRTY_ADDR + MIG_DIRTY_SIZE - 4);
    for (guint i = 0;; i++) {
        GError *error = NULL;
        const QmpJson *ret = NULL;
        g_autoptr(QmpJsonDoc) doc = qmp_monitor_execute(p->src, "human-monitor-command", hmp,
                                                        0, NULL, 0, 20000, &ret, &error);
        g_assert_no_error(error);
        const char *out = qmp_json_get_string(ret);
        g_assert_nonnull(out);
        const char *v = strstr(out, ": 0x");
        g_assert_nonnull(v);
        if (g_ascii_strtoull(v + 2, NULL, 16) != 0)
            return;
        g_assert_cmpuint(i, <, 600); /* 60 s */
        if (p->live)
            g_usleep(100 * 1000);
    }
}

/* From the source's recording: migrate-start-postcopy came once, and when
 * it was sent the active polls before it had reached no new low of the
 * remaining RAM in SHRINK_POLLS polls, after at least two passes: the
 * policy's condition, not anything the test did (it never asks). */
static void assert_switched_by_policy(MigPair *p)
{
    g_autofree char *base = g_strdup_printf("migration-%s-source.jsonl", p->name);
    g_autofree char *path = g_build_filename(p->record_dir, base, NULL);
    GError *error = NULL;
    g_autoptr(QmpReplay) rec = qmp_replay_load(path, &error);
    g_assert_no_error(error);
    guint64 low = G_MAXUINT64, prev = 0;
    guint since_low = 0, active = 0, switches = 0, regrown = 0;
    gint64 passes = 0, max_dirty_rate = 0;
    for (guint i = 0; i < qmp_replay_get_n_messages(rec); i++) {
        QmpReplayMsgKind kind;
        const QmpJson *msg = qmp_replay_get_message(rec, i, NULL, &kind, NULL, NULL, NULL);
        if (kind == QMP_REPLAY_MSG_COMMAND) {
            const char *c = qmp_json_get_string(qmp_json_lookup(msg, "execute"));
            if (g_strcmp0(c, "migrate-start-postcopy") == 0) {
                switches++;
                g_assert_cmpuint(active, >, SHRINK_POLLS);
                g_assert_cmpuint(since_low, >=, SHRINK_POLLS);
                g_assert_cmpint(passes, >=, 2);
                /* QEMU saw the guest dirty memory. */
                g_assert_cmpint(max_dirty_rate, >, 0);
                /* Pre-copy did not converge: at least twice a new pass found
                 * 16 MiB or more dirtied again since the previous one. */
                g_assert_cmpuint(regrown, >=, 2);
            }
            continue;
        }
        const QmpJson *ret = kind == QMP_REPLAY_MSG_REPLY ? qmp_json_lookup(msg, "return") : NULL;
        const QmpJson *ram = ret ? qmp_json_lookup(ret, "ram") : NULL;
        if (!ram || switches ||
            g_strcmp0(qmp_json_get_string(qmp_json_lookup(ret, "status")), "active") != 0)
            continue;
        guint64 rem = 0;
        g_assert_true(qmp_json_get_uint64(qmp_json_lookup(ram, "remaining"), &rem));
        g_assert_true(qmp_json_get_int64(qmp_json_lookup(ram, "dirty-sync-count"), &passes));
        gint64 rate = 0;
        if (qmp_json_get_int64(qmp_json_lookup(ram, "dirty-pages-rate"), &rate))
            max_dirty_rate = MAX(max_dirty_rate, rate);
        active++;
        if (passes >= 2 && rem >= prev + 16u * 1024 * 1024)
            regrown++;
        prev = rem;
        if (rem < low) {
            low = rem;
            since_low = 0;
        } else {
            since_low++;
        }
    }
    g_assert_cmpuint(switches, ==, 1);
}

/* A guest rewriting 64 MiB faster than 256 MiB/s with a 1 ms downtime
 * limit can send it: pre-copy never converges (QEMU re-sends the region
 * pass after pass), the remaining RAM stops reaching new lows, and the
 * policy switches to post-copy by itself; the migration then completes. */
static void scenario_postcopy_not_shrinking(MigPair *p)
{
    GError *error = NULL;
    wait_guest_dirtying(p);
    g_autoptr(QmpMigration) mig = qmp_migration_new(p->src, p->dst);
    set_common(p, mig);
    qmp_migration_set_flags(mig, QMP_MIGRATION_POSTCOPY | QMP_MIGRATION_NO_PREEMPT |
                                     QMP_MIGRATION_KEEP_SOURCE);
    qmp_migration_set_postcopy_policy(mig, 0, SHRINK_POLLS);
    g_assert_true(qmp_migration_set_bandwidth(mig, 256, &error));
    g_assert_true(qmp_migration_set_downtime_limit(mig, 1, &error));
    g_assert_no_error(error);
    ProgressLog log = { 0 };
    g_signal_connect(mig, "progress", G_CALLBACK(on_progress), &log);
    g_assert_true(qmp_migration_run(mig, &error));
    g_assert_no_error(error);
    const QmpMigrationProgress *pr = qmp_migration_get_progress(mig);
    g_assert_true(pr->postcopy);
    g_assert_cmpuint(pr->pass, >=, 2);
    assert_switched_by_policy(p);
    assert_postcopy_done(p, mig);
}

/* ---- cancel, bandwidth -------------------------------------------------------------- */

static void assert_source_running(MigPair *p)
{
    GError *error = NULL;
    const QmpJson *ret = NULL;
    g_autoptr(QmpJsonDoc) doc = qmp_monitor_execute(p->src, "query-status", NULL, 0, NULL, 0,
                                                    20000, &ret, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(qmp_json_get_string(qmp_json_lookup(ret, "status")), ==, "running");
}

/* The destination quit (or exited after its incoming migration failed):
 * its monitor closes (bounded wait).  A replay cannot show a QEMU exiting
 * by itself (recordings hold messages, not hang-ups): live only. */
static void assert_destination_gone(MigPair *p)
{
    if (!p->live)
        return;
    gint64 end = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
    while (qmp_monitor_is_connected(p->dst) && g_get_monotonic_time() < end)
        g_main_context_iteration(NULL, TRUE);
    g_assert_false(qmp_monitor_is_connected(p->dst));
}

static void cancel_at_30m(QmpMigration *mig, const QmpMigrationProgress *pr, gpointer data)
{
    gboolean *done = data;
    if (!*done && pr->transferred > 30u * 1024 * 1024) {
        *done = TRUE;
        GError *error = NULL;
        g_assert_true(qmp_migration_cancel(mig, &error));
        g_assert_no_error(error);
    }
}

static void scenario_cancel(MigPair *p)
{
    GError *error = NULL;
    g_autoptr(QmpMigration) mig = qmp_migration_new(p->src, p->dst);
    set_common(p, mig);
    gboolean done = FALSE;
    qmp_migration_set_progress_func(mig, cancel_at_30m, &done, NULL);
    g_assert_false(qmp_migration_run(mig, &error));
    g_assert_true(done);
    g_assert_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_CANCELLED);
    g_assert_true(g_str_has_prefix(error->message, "Perform: "));
    g_clear_error(&error);
    g_assert_cmpint(qmp_migration_get_failed_phase(mig), ==, QMP_MIGRATION_PHASE_PERFORM);
    /* QEMU ends in "cancelled", or in "failed" when the stream broke
     * before the cancel settled; the workflow reports the cancel either way. */
    QmpMigrationStatus end = qmp_migration_get_progress(mig)->status;
    g_assert_true(end == QMP_MIGRATION_STATUS_CANCELLED || end == QMP_MIGRATION_STATUS_FAILED);
    assert_source_running(p);
    assert_destination_gone(p);
    /* Nothing more runs. */
    g_assert_false(qmp_migration_run(mig, &error));
    g_assert_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_INVALID);
    g_clear_error(&error);
}

typedef struct {
    GArray *rates; /* throughput (bytes/s) reported while active */
    guint last_polls;
} RateLog;

static void log_rates(QmpMigration *mig, const QmpMigrationProgress *pr, gpointer data)
{
    (void) mig;
    RateLog *log = data;
    if (pr->n_polls == log->last_polls)
        return;
    log->last_polls = pr->n_polls;
    if (pr->status == QMP_MIGRATION_STATUS_ACTIVE && pr->throughput > 0)
        g_array_append_val(log->rates, pr->throughput);
}

static int cmp_double(gconstpointer a, gconstpointer b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static void scenario_bandwidth(MigPair *p)
{
    GError *error = NULL;
    g_autoptr(QmpMigration) mig = qmp_migration_new(p->src, p->dst);
    set_common(p, mig);
    g_assert_true(qmp_migration_set_bandwidth(mig, 60, &error));
    g_assert_true(qmp_migration_set_downtime_limit(mig, 500, &error));
    g_assert_no_error(error);
    RateLog log = { g_array_new(FALSE, FALSE, sizeof(double)), 0 };
    qmp_migration_set_progress_func(mig, log_rates, &log, NULL);
    g_assert_true(qmp_migration_run(mig, &error));
    g_assert_no_error(error);
    /* Sent as bytes/s. */
    g_assert_cmpuint(mig_recording_grep(p->record_dir, p->name, TRUE,
                                        "\"max-bandwidth\":62914560"), ==, 1);
    g_assert_cmpuint(mig_recording_grep(p->record_dir, p->name, TRUE,
                                        "\"downtime-limit\":500"), ==, 1);
    /* The throughput QEMU reports stays near the limit (loose: the median
     * of the active polls within 50%..115% of 60 MiB/s). */
    g_assert_cmpuint(log.rates->len, >=, 3);
    g_array_sort(log.rates, cmp_double);
    double median = g_array_index(log.rates, double, log.rates->len / 2);
    double limit = 60.0 * 1024 * 1024;
    g_test_message("bandwidth: median throughput %.1f MiB/s over %u polls (limit 60)",
                   median / 1048576, log.rates->len);
    g_assert_cmpfloat(median, <=, limit * 1.15);
    g_assert_cmpfloat(median, >=, limit * 0.5);
    g_array_free(log.rates, TRUE);
}

/* ---- TSC pre-check ---------------------------------------------------------------- */

static const char *const tsc_cpu[] = { "-cpu", "qemu64,tsc-frequency=1000000000", NULL };

typedef struct {
    QmpHostFacts dst;
} InjectedFacts;

static gboolean inject_facts(QmpMigration *mig, QmpMonitor *side, QmpHostFacts *facts,
                             gpointer data, GError **error)
{
    (void) error;
    const InjectedFacts *f = data;
    if (side == qmp_migration_get_destination(mig))
        *facts = f->dst;
    return TRUE; /* the source: unknown */
}

static void run_tsc(MigPair *p, guint64 dst_hz, QmpHostFact scaling, gboolean expect_ok)
{
    GError *error = NULL;
    g_autoptr(QmpMigration) mig = qmp_migration_new(p->src, p->dst);
    set_common(p, mig);
    InjectedFacts f = { { dst_hz, scaling } };
    qmp_migration_set_host_facts_func(mig, inject_facts, &f, NULL);
    gboolean ok = qmp_migration_run(mig, &error);
    /* The guest's frequency went into the cookie. */
    g_assert_nonnull(strstr(qmp_migration_get_cookie(mig), "frequency=\"1000000000\""));
    if (expect_ok) {
        g_assert_no_error(error);
        g_assert_true(ok);
        return;
    }
    g_assert_false(ok);
    g_assert_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_TSC);
    g_assert_true(g_str_has_prefix(error->message, "Prepare: TSC frequency mismatch"));
    g_assert_nonnull(strstr(error->message, "1000000000 Hz"));
    g_assert_nonnull(strstr(error->message, "2000000000 Hz"));
    g_clear_error(&error);
    assert_source_running(p);
    assert_destination_gone(p);
    /* Nothing was sent that could move data. */
    g_assert_cmpuint(mig_recording_count(p->record_dir, p->name, TRUE, "migrate"), ==, 0);
    g_assert_cmpuint(mig_recording_count(p->record_dir, p->name, FALSE, "migrate-incoming"),
                     ==, 0);
}

static void scenario_tsc_equal(MigPair *p)
{
    run_tsc(p, 1000000000, QMP_HOST_FACT_NO, TRUE);
}

static void scenario_tsc_differ(MigPair *p)
{
    run_tsc(p, 2000000000, QMP_HOST_FACT_NO, FALSE);
}

static void scenario_tsc_unknown(MigPair *p)
{
    run_tsc(p, 0, QMP_HOST_FACT_UNKNOWN, TRUE);
}

/* ---- failures ------------------------------------------------------------------------ */

static void scenario_unreachable(MigPair *p)
{
    GError *error = NULL;
    g_autoptr(QmpMigration) mig = qmp_migration_new(p->src, p->dst);
    set_common(p, mig);
    g_assert_true(qmp_migration_set_connect_uri(mig, "unix:nobody-listens.sock", &error));
    g_assert_false(qmp_migration_run(mig, &error));
    g_assert_nonnull(error);
    g_assert_true(error->domain == QMP_MIGRATION_ERROR);
    g_assert_true(g_str_has_prefix(error->message, "Perform: "));
    g_test_message("unreachable: %s", error->message);
    g_clear_error(&error);
    assert_source_running(p);
    assert_destination_gone(p);
}

typedef struct {
    MigPair *p;
    gboolean source, killed;
} KillAt;

/* Kill one QEMU once 30 MiB moved (decided on progress only). */
static void kill_at_30m(QmpMigration *mig, const QmpMigrationProgress *pr, gpointer data)
{
    (void) mig;
    KillAt *k = data;
    if (!k->killed && pr->transferred > 30u * 1024 * 1024) {
        k->killed = TRUE;
        if (k->source)
            mig_pair_kill_source(k->p);
        else
            mig_pair_kill_destination(k->p);
    }
}

/* A migration during which one side is killed: it fails; the error. */
static GError *run_killing(MigPair *p, gboolean source)
{
    GError *error = NULL;
    g_autoptr(QmpMigration) mig = qmp_migration_new(p->src, p->dst);
    set_common(p, mig);
    KillAt k = { p, source, FALSE };
    qmp_migration_set_progress_func(mig, kill_at_30m, &k, NULL);
    g_assert_false(qmp_migration_run(mig, &error));
    g_assert_true(k.killed);
    g_assert_nonnull(error);
    g_test_message("%s killed: %s", source ? "source" : "destination", error->message);
    return error;
}

static void scenario_dst_killed(MigPair *p)
{
    GError *error = run_killing(p, FALSE);
    g_assert_true(error->domain == QMP_MIGRATION_ERROR);
    g_assert_true(g_str_has_prefix(error->message, "Perform: "));
    g_clear_error(&error);
    g_assert_false(qmp_monitor_is_connected(p->dst));
    assert_source_running(p);
}

static void scenario_src_killed(MigPair *p)
{
    GError *error = run_killing(p, TRUE);
    g_assert_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_PEER_LOST);
    g_assert_nonnull(strstr(error->message, "the source QEMU is gone"));
    g_clear_error(&error);
    assert_destination_gone(p);
}

/* ---- post-copy recovery after a link that resets -------------------------------------- */

typedef struct {
    MigPair *p;
    MigProxy *proxy; /* live only */
    guint last_polls;
    gboolean switched, cut, dst_resumed;
    guint n_postcopy_polls;
} CutState;

static void on_dst_resume(QmpMonitor *mon, const char *event, const QmpJson *data,
                          gint64 timestamp_us, gpointer user_data)
{
    ((CutState *) user_data)->dst_resumed = TRUE;
}

/* Switch at 30 MiB, cut the link at the second poll in post-copy, and live
 * only once the destination runs the guest (RESUME): before, it may still
 * be loading the device state sent at the switch, and a cut there makes
 * its incoming migration fail (QEMU exits) instead of pausing.  A replay
 * cuts nothing, so the poll count alone decides there. */
static void switch_then_cut(QmpMigration *mig, const QmpMigrationProgress *pr, gpointer data)
{
    CutState *st = data;
    if (!new_poll(&st->last_polls, pr))
        return;
    if (!st->switched && active_past_30m(pr)) {
        st->switched = TRUE;
        g_assert_true(qmp_migration_start_postcopy(mig, NULL));
    } else if (st->switched && !st->cut && pr->status == QMP_MIGRATION_STATUS_POSTCOPY_ACTIVE &&
               ++st->n_postcopy_polls >= 2 && (st->dst_resumed || !st->p->live)) {
        st->cut = TRUE;
        if (st->proxy)
            mig_proxy_reset(st->proxy);
    }
}

static char *free_tcp_uri(void)
{
    GError *error = NULL;
    guint16 port = mig_proxy_free_port(&error);
    g_assert_no_error(error);
    return g_strdup_printf("tcp:127.0.0.1:%u", port);
}

static void scenario_recover(MigPair *p)
{
    GError *error = NULL;
    g_autoptr(QmpMigration) mig = qmp_migration_new(p->src, p->dst);
    set_common(p, mig);
    CutState st = { .p = p };
    g_autofree char *listen = NULL, *connect = NULL, *relisten = NULL;
    if (p->live) {
        listen = free_tcp_uri();
        st.proxy = mig_proxy_new(atoi(strrchr(listen, ':') + 1), &error);
        g_assert_no_error(error);
        connect = g_strdup_printf("tcp:127.0.0.1:%u", mig_proxy_get_port(st.proxy));
        relisten = free_tcp_uri();
    } else {
        listen = mig_recording_arg(p->record_dir, p->name, FALSE, "migrate-incoming", 0, "uri");
        connect = mig_recording_arg(p->record_dir, p->name, TRUE, "migrate", 0, "uri");
        relisten = mig_recording_arg(p->record_dir, p->name, FALSE, "migrate-recover", 0, "uri");
    }
    g_assert_true(qmp_migration_set_uri(mig, listen, &error));
    g_assert_true(qmp_migration_set_connect_uri(mig, connect, &error));
    g_assert_no_error(error);
    qmp_migration_set_flags(mig, QMP_MIGRATION_POSTCOPY | QMP_MIGRATION_KEEP_SOURCE);
    qmp_migration_set_progress_func(mig, switch_then_cut, &st, NULL);
    guint resume_id = qmp_monitor_subscribe(p->dst, "RESUME", on_dst_resume, &st, NULL);

    g_assert_false(qmp_migration_run(mig, &error));
    qmp_monitor_unsubscribe(p->dst, resume_id);
    g_assert_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_POSTCOPY_PAUSED);
    g_assert_true(g_str_has_prefix(error->message, "Perform: "));
    g_assert_nonnull(strstr(error->message, "source is not resumed"));
    g_test_message("link reset: %s", error->message);
    g_clear_error(&error);
    g_assert_true(st.cut);
    g_assert_true(qmp_migration_get_preempt(mig));
    /* Nothing but recover() goes on; cancelling would lose the guest. */
    g_assert_false(qmp_migration_run(mig, &error));
    g_assert_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_INVALID);
    g_clear_error(&error);

    gboolean recovered = qmp_migration_recover(mig, relisten, NULL, &error);
    g_assert_no_error(error);
    g_assert_true(recovered);
    mig_proxy_free(st.proxy);
    const QmpMigrationProgress *pr = qmp_migration_get_progress(mig);
    g_assert_cmpint(pr->status, ==, QMP_MIGRATION_STATUS_COMPLETED);
    g_assert_cmpint(qmp_migration_get_phase(mig), ==, QMP_MIGRATION_PHASE_CONFIRM);
    /* The source resumed to the new address; recover went out of band. */
    g_autofree char *resumed = mig_recording_arg(p->record_dir, p->name, TRUE, "migrate", 1, "uri");
    g_assert_cmpstr(resumed, ==, relisten);
    g_assert_cmpuint(mig_recording_grep(p->record_dir, p->name, FALSE,
                                        "\"exec-oob\":\"migrate-recover\""), ==, 1);
    g_assert_cmpuint(mig_recording_grep(p->record_dir, p->name, TRUE, "\"resume\":true"), ==, 1);
    if (p->live)
        mig_pair_assert_memory_equal(p);
}

/* ---- a silent link in pre-copy: the stall is detected, the migration cancelled ---------- */

static void silence_at_30m(QmpMigration *mig, const QmpMigrationProgress *pr, gpointer data)
{
    CutState *st = data;
    if (pr->n_polls == st->last_polls)
        return;
    st->last_polls = pr->n_polls;
    if (!st->cut && pr->transferred > 30u * 1024 * 1024) {
        st->cut = TRUE;
        if (st->proxy)
            mig_proxy_silence(st->proxy);
    }
}

static void scenario_precopy_stall(MigPair *p)
{
    GError *error = NULL;
    g_autoptr(QmpMigration) mig = qmp_migration_new(p->src, p->dst);
    set_common(p, mig);
    CutState st = { .p = p };
    g_autofree char *listen = NULL, *connect = NULL;
    if (p->live) {
        listen = free_tcp_uri();
        st.proxy = mig_proxy_new(atoi(strrchr(listen, ':') + 1), &error);
        g_assert_no_error(error);
        connect = g_strdup_printf("tcp:127.0.0.1:%u", mig_proxy_get_port(st.proxy));
    } else {
        listen = mig_recording_arg(p->record_dir, p->name, FALSE, "migrate-incoming", 0, "uri");
        connect = mig_recording_arg(p->record_dir, p->name, TRUE, "migrate", 0, "uri");
    }
    g_assert_true(qmp_migration_set_uri(mig, listen, &error));
    g_assert_true(qmp_migration_set_connect_uri(mig, connect, &error));
    g_assert_no_error(error);
    /* 20 polls without progress, whatever the interval. */
    qmp_migration_set_stall_timeout(mig, 20 * (p->live ? 50 : 1));
    qmp_migration_set_progress_func(mig, silence_at_30m, &st, NULL);
    g_assert_false(qmp_migration_run(mig, &error));
    g_assert_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_STALLED);
    g_assert_true(g_str_has_prefix(error->message, "Perform: no progress for "));
    g_test_message("silent link in pre-copy: %s", error->message);
    g_clear_error(&error);
    g_assert_true(st.cut);
    g_assert_cmpuint(mig_recording_count(p->record_dir, p->name, TRUE, "migrate_cancel"), ==, 1);
    assert_source_running(p);
    mig_proxy_free(st.proxy);
}

/* ---- multifd, fd: URIs -------------------------------------------------------------- */

static void scenario_multifd(MigPair *p)
{
    GError *error = NULL;
    g_autoptr(QmpMigration) mig = qmp_migration_new(p->src, p->dst);
    set_common(p, mig);
    qmp_migration_set_flags(mig, QMP_MIGRATION_MULTIFD | QMP_MIGRATION_KEEP_SOURCE);
    g_assert_true(qmp_migration_set_multifd_channels(mig, 2, &error));
    g_assert_true(qmp_migration_run(mig, &error));
    g_assert_no_error(error);
    for (int side = 0; side < 2; side++) {
        g_assert_cmpuint(mig_recording_grep(p->record_dir, p->name, side == 0,
                                            "{\"capability\":\"multifd\",\"state\":true}"), ==, 1);
        g_assert_cmpuint(mig_recording_grep(p->record_dir, p->name, side == 0,
                                            "\"multifd-channels\":2"), ==, 1);
    }
    if (p->live)
        mig_pair_assert_memory_equal(p);
}

/* xbzrle on both sides, auto-converge on the source only. */
static void scenario_compress(MigPair *p)
{
    GError *error = NULL;
    g_autoptr(QmpMigration) mig = qmp_migration_new(p->src, p->dst);
    set_common(p, mig);
    qmp_migration_set_flags(mig, QMP_MIGRATION_COMPRESS | QMP_MIGRATION_AUTO_CONVERGE |
                                     QMP_MIGRATION_KEEP_SOURCE);
    g_assert_true(qmp_migration_run(mig, &error));
    g_assert_no_error(error);
    const char *xbzrle = "{\"capability\":\"xbzrle\",\"state\":true}";
    const char *ac = "{\"capability\":\"auto-converge\",\"state\":true}";
    g_assert_cmpuint(mig_recording_grep(p->record_dir, p->name, TRUE, xbzrle), ==, 1);
    g_assert_cmpuint(mig_recording_grep(p->record_dir, p->name, FALSE, xbzrle), ==, 1);
    g_assert_cmpuint(mig_recording_grep(p->record_dir, p->name, TRUE, ac), ==, 1);
    g_assert_cmpuint(mig_recording_grep(p->record_dir, p->name, FALSE, ac), ==, 0);
    if (p->live)
        mig_pair_assert_memory_equal(p);
}

/* The destination's caps say it has no multifd: refused in Prepare,
 * naming the side, before anything reaches the destination. */
static void scenario_multifd_missing(MigPair *p)
{
    GError *error = NULL;
    g_autoptr(QmpMigration) mig = qmp_migration_new(p->src, p->dst);
    set_common(p, mig);
    g_autoptr(QmpCaps) sc = mig_pair_caps(p, "qemu-7.2", qemu);
    gsize len = 0;
    g_autofree char *xml = qmp_caps_to_xml(sc, &len);
    GString *g = g_string_new(xml);
    g_assert_cmpuint(g_string_replace(g, "name=\"migration.multifd\" state=\"present\"",
                                      "name=\"migration.multifd\" state=\"absent\"", 1), ==, 1);
    g_autoptr(QmpCaps) dc = qmp_caps_from_xml(g->str, g->len, &error);
    g_assert_no_error(error);
    g_string_free(g, TRUE);
    qmp_migration_set_caps(mig, sc, dc);
    qmp_migration_set_flags(mig, QMP_MIGRATION_MULTIFD);
    g_assert_false(qmp_migration_run(mig, &error));
    g_assert_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_UNSUPPORTED);
    g_assert_cmpstr(error->message, ==,
                    "Prepare: multifd needs the migration capability 'multifd' on both sides;"
                    " the destination lacks it");
    g_clear_error(&error);
    assert_source_running(p);
    assert_destination_gone(p);
    g_assert_cmpuint(mig_recording_count(p->record_dir, p->name, FALSE,
                                         "migrate-set-capabilities"), ==, 0);
    g_assert_cmpuint(mig_recording_count(p->record_dir, p->name, FALSE, "migrate-incoming"),
                     ==, 0);
}

/* Both sides have postcopy-preempt: post-copy over an fd: URI is refused
 * before anything is sent. */
static void scenario_fd_preempt(MigPair *p)
{
    GError *error = NULL;
    g_autoptr(QmpMigration) mig = qmp_migration_new(p->src, p->dst);
    set_common(p, mig);
    g_assert_true(qmp_migration_set_uri(mig, "fd:migfd", &error));
    qmp_migration_set_flags(mig, QMP_MIGRATION_POSTCOPY);
    g_assert_false(qmp_migration_run(mig, &error));
    g_assert_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_URI);
    g_assert_true(g_str_has_prefix(error->message, "Prepare: an fd: URI cannot carry post-copy"
                                                   " with postcopy-preempt"));
    g_clear_error(&error);
    assert_source_running(p);
    assert_destination_gone(p);
    for (int side = 0; side < 2; side++)
        g_assert_cmpuint(mig_recording_grep(p->record_dir, p->name, side == 0, "migrate"), ==, 0);
}

/* getfd on each side with one end of a socketpair (replayed: any fd, the
 * recording notes how many went with the command). */
static void pass_fd(QmpMonitor *mon, int fd)
{
    GError *error = NULL;
    g_autoptr(QmpJsonDoc) doc = qmp_monitor_execute(mon, "getfd", "{\"fdname\":\"migfd\"}", 0,
                                                    &fd, 1, 20000, NULL, &error);
    g_assert_no_error(error);
}

/* With preempt refused by the caller, post-copy over fd: works. */
static void scenario_fd_postcopy(MigPair *p)
{
    GError *error = NULL;
    int sv[2];
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
    pass_fd(p->src, sv[0]);
    pass_fd(p->dst, sv[1]);
    close(sv[0]);
    close(sv[1]);
    g_autoptr(QmpMigration) mig = qmp_migration_new(p->src, p->dst);
    set_common(p, mig);
    g_assert_true(qmp_migration_set_uri(mig, "fd:migfd", &error));
    qmp_migration_set_flags(mig, QMP_MIGRATION_POSTCOPY | QMP_MIGRATION_NO_PREEMPT |
                                     QMP_MIGRATION_KEEP_SOURCE);
    qmp_migration_set_postcopy_policy(mig, 1, 0);
    g_assert_true(qmp_migration_run(mig, &error));
    g_assert_no_error(error);
    g_assert_false(qmp_migration_get_preempt(mig));
    assert_postcopy_done(p, mig);
}

static const Scenario scenarios[] = {
    { "precopy", "qemu-7.2", scenario_precopy, NULL, NULL },
    { "postcopy", "qemu-7.2", scenario_postcopy, NULL, NULL },
    { "postcopy-preempt", "qemu-7.2", scenario_postcopy_preempt, NULL, NULL },
    { "postcopy-not-shrinking", "qemu-7.2", scenario_postcopy_not_shrinking, dirty_guest,
      dirty_guest },
    { "cancel", "qemu-7.2", scenario_cancel, NULL, NULL },
    { "bandwidth", "qemu-7.2", scenario_bandwidth, NULL, NULL },
    { "tsc-equal", "qemu-7.2", scenario_tsc_equal, tsc_cpu, tsc_cpu },
    { "tsc-differ", "qemu-7.2", scenario_tsc_differ, tsc_cpu, tsc_cpu },
    { "tsc-unknown", "qemu-7.2", scenario_tsc_unknown, tsc_cpu, tsc_cpu },
    { "unreachable", "qemu-7.2", scenario_unreachable, NULL, NULL },
    { "dst-killed", "qemu-7.2", scenario_dst_killed, NULL, NULL },
    { "src-killed", "qemu-7.2", scenario_src_killed, NULL, NULL },
    { "recover", "qemu-7.2", scenario_recover, NULL, NULL },
    { "precopy-stall", "qemu-7.2", scenario_precopy_stall, NULL, NULL },
    { "multifd", "qemu-7.2", scenario_multifd, NULL, NULL },
    { "multifd-missing", "qemu-7.2", scenario_multifd_missing, NULL, NULL },
    { "compress", "qemu-7.2", scenario_compress, NULL, NULL },
    { "fd-preempt", "qemu-7.2", scenario_fd_preempt, NULL, NULL },
    { "fd-postcopy", "qemu-7.2", scenario_fd_postcopy, NULL, NULL },
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
    QmpMigrationCookie c = { 0 };
    qmp_migration_cookie_clear(&c);
    QmpHostFacts dst = { 1000000000, QMP_HOST_FACT_NO };
    /* Nothing fixed in the guest: proceed whatever the host. */
    g_assert_null(qmp_migration_tsc_check(&c, &dst));
    /* A fixed frequency: equal, or within 250 ppm, proceeds. */
    c.tsc_hz = 1000000000;
    g_assert_null(qmp_migration_tsc_check(&c, &dst));
    dst.tsc_hz = 1000000000 + 250000;
    g_assert_null(qmp_migration_tsc_check(&c, &dst));
    /* Beyond: refused without scaling... */
    dst.tsc_hz = 1000000000 + 250001;
    g_autofree char *why = qmp_migration_tsc_check(&c, &dst);
    g_assert_nonnull(why);
    g_assert_nonnull(strstr(why, "tsc-frequency 1000000000 Hz"));
    g_assert_nonnull(strstr(why, "1000250001 Hz"));
    /* ...allowed with scaling, and when scaling or the rate is unknown. */
    dst.tsc_scaling = QMP_HOST_FACT_YES;
    g_assert_null(qmp_migration_tsc_check(&c, &dst));
    dst.tsc_scaling = QMP_HOST_FACT_UNKNOWN;
    g_assert_null(qmp_migration_tsc_check(&c, &dst));
    dst.tsc_scaling = QMP_HOST_FACT_NO;
    dst.tsc_hz = 0;
    g_assert_null(qmp_migration_tsc_check(&c, &dst));
    /* invtsc without a fixed frequency: the source host's rate counts. */
    c.tsc_hz = 0;
    c.invtsc = QMP_HOST_FACT_YES;
    c.host_tsc_hz = 2000000000;
    dst.tsc_hz = 2100000000;
    g_autofree char *why2 = qmp_migration_tsc_check(&c, &dst);
    g_assert_nonnull(why2);
    g_assert_nonnull(strstr(why2, "invtsc"));
    c.host_tsc_hz = 0; /* the source host's rate unknown: proceed */
    g_assert_null(qmp_migration_tsc_check(&c, &dst));

    /* The cookie keeps all of it. */
    c.tsc_hz = 123;
    c.host_tsc_hz = 456;
    const char *disks[] = { "drive0", "drive1", NULL };
    c.disks = g_strdupv((char **) disks);
    const char *caps[] = { "events", "postcopy-preempt", NULL };
    c.capabilities = g_strdupv((char **) caps);
    c.qemu_version = g_strdup("7.2.22");
    c.running = TRUE;
    g_autofree char *xml = qmp_migration_cookie_write(&c);
    QmpMigrationCookie back = { 0 };
    GError *error = NULL;
    g_assert_true(qmp_migration_cookie_read(xml, &back, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(back.tsc_hz, ==, 123);
    g_assert_cmpuint(back.host_tsc_hz, ==, 456);
    g_assert_cmpint(back.invtsc, ==, QMP_HOST_FACT_YES);
    g_assert_true(back.running);
    g_assert_cmpstr(back.qemu_version, ==, "7.2.22");
    g_assert_true(g_strv_equal((const char *const *) back.disks, disks));
    g_assert_true(g_strv_equal((const char *const *) back.capabilities, caps));
    qmp_migration_cookie_clear(&back);
    qmp_migration_cookie_clear(&c);
    /* A frequency that is not a number is refused. */
    g_assert_false(qmp_migration_cookie_read("<qmp-migration-cookie version=\"1\"><guest>"
                                             "<tsc frequency=\"fast\"/></guest>"
                                             "</qmp-migration-cookie>", &back, &error));
    g_assert_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_COOKIE);
    g_clear_error(&error);

    QmpHostFacts local;
    qmp_host_facts_read_local(&local); /* never fails; the values are this host's */
    g_assert_true(local.tsc_scaling >= QMP_HOST_FACT_UNKNOWN &&
                  local.tsc_scaling <= QMP_HOST_FACT_YES);
}

/* ---- replay-only drivers of recorded scenarios ---------------------------------------- */

/* The pre-copy recording, driven one phase at a time, with the cookie
 * carried over as a daemon would (get after Begin, set before Prepare). */
static void test_replay_phases(void)
{
    GError *error = NULL;
    MigPair *p = mig_pair_new_replay("precopy", NULL);
    g_autoptr(QmpMigration) mig = qmp_migration_new(p->src, p->dst);
    set_common(p, mig);
    qmp_migration_set_flags(mig, QMP_MIGRATION_KEEP_SOURCE);
    g_assert_true(qmp_migration_run_phase(mig, QMP_MIGRATION_PHASE_BEGIN, &error));
    g_assert_no_error(error);
    g_autofree char *cookie = g_strdup(qmp_migration_get_cookie(mig));
    g_assert_true(qmp_migration_set_cookie(mig, cookie, &error));
    g_assert_no_error(error);
    g_assert_false(qmp_migration_run_phase(mig, QMP_MIGRATION_PHASE_FINISH, &error));
    g_assert_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_INVALID);
    g_clear_error(&error);
    for (QmpMigrationPhase ph = QMP_MIGRATION_PHASE_PREPARE; ph <= QMP_MIGRATION_PHASE_CONFIRM;
         ph++) {
        if (ph == QMP_MIGRATION_PHASE_STORAGE)
            continue; /* no hook: may be skipped */
        g_assert_true(qmp_migration_run_phase(mig, ph, &error));
        g_assert_no_error(error);
        g_assert_cmpint(qmp_migration_get_phase(mig), ==, ph);
    }
    g_assert_cmpint(qmp_migration_get_progress(mig)->status, ==, QMP_MIGRATION_STATUS_COMPLETED);
    g_assert_false(qmp_migration_run(mig, &error));
    g_assert_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_INVALID);
    g_clear_error(&error);
    mig_pair_free(p);
}

typedef struct {
    GCancellable *cancellable;
    GAsyncResult *res;
} AsyncCancel;

static void cancel_via_cancellable(QmpMigration *mig, const QmpMigrationProgress *pr,
                                   gpointer data)
{
    (void) mig;
    AsyncCancel *a = data;
    if (!g_cancellable_is_cancelled(a->cancellable) && pr->transferred > 30u * 1024 * 1024)
        g_cancellable_cancel(a->cancellable);
}

static void async_done(GObject *obj, GAsyncResult *res, gpointer data)
{
    (void) obj;
    AsyncCancel *a = data;
    a->res = g_object_ref(res);
}

/* The cancel recording, driven through run_async and a GCancellable. */
static void test_replay_cancel_async(void)
{
    GError *error = NULL;
    MigPair *p = mig_pair_new_replay("cancel", NULL);
    QmpMigration *mig = qmp_migration_new(p->src, p->dst);
    set_common(p, mig);
    AsyncCancel a = { g_cancellable_new(), NULL };
    qmp_migration_set_progress_func(mig, cancel_via_cancellable, &a, NULL);
    qmp_migration_run_async(mig, a.cancellable, async_done, &a);
    while (!a.res)
        g_main_context_iteration(NULL, TRUE);
    g_assert_false(qmp_migration_run_finish(mig, a.res, &error));
    g_assert_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_CANCELLED);
    g_assert_true(g_str_has_prefix(error->message, "Perform: "));
    g_clear_error(&error);
    g_object_unref(a.res);
    g_object_unref(a.cancellable);
    assert_source_running(p);
    g_object_unref(mig);
    mig_pair_free(p);
}

int main(int argc, char **argv)
{
    gboolean live = FALSE;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--live") == 0)
            live = TRUE;
    g_test_init(&argc, &argv, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (live) {
        qemu = g_strdup(mig_test_qemu_72());
        if (!qemu) {
            g_print("skipped: qemu-system-x86_64 not found in PATH\n");
            return 77;
        }
    }
    g_autofree char *drive = NULL;
    if (live) {
        drive = g_strdup_printf("file=%s,format=raw,if=none,id=boot,readonly=on",
                                mig_harness_dirty_boot_image());
        const char *args[] = { "-drive", drive, "-device",
                               "virtio-blk-pci,drive=boot,bootindex=1", NULL };
        memcpy(dirty_guest, args, sizeof(args));
    }
    for (gsize i = 0; i < G_N_ELEMENTS(scenarios); i++) {
        g_autofree char *name = g_strdup_printf("/migration/%s/%s", live ? "live" : "replay",
                                                scenarios[i].name);
        g_test_add_data_func(name, &scenarios[i], live ? test_live : test_replay);
    }
    if (!live) {
        g_test_add_func("/migration/options", test_options);
        g_test_add_func("/migration/tsc-rule-and-cookie", test_tsc_rule);
        g_test_add_func("/migration/replay/precopy-phases", test_replay_phases);
        g_test_add_func("/migration/replay/cancel-async", test_replay_cancel_async);
    }
    int r = g_test_run();
    mig_harness_cleanup();
    g_free(qemu);
    return r;
}
