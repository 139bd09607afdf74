/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-postcopy-downtime: the guest's downtime in a post-copy migration
 * through QmpMigration, with postcopy-preempt (ours: both sides have it, so
 * it is on) and without (baseline: QMP_MIGRATION_NO_PREEMPT).  On a QEMU
 * 10.0 pair ($QMPKIT_QEMU_10, q35 on both sides) when there is one, else on
 * the system's 7.2 (preempt shortened page requests only with a 10.0
 * source: ../shared/notes/migration-facts.md); the figure line names it.
 * Guest: q35, TCG, 512 MiB, 200 MiB of random RAM.  The switch to
 * post-copy is made by the policy after the first pass.  Downtime is the
 * STOP event of the source to the RESUME event of the destination (QEMU's
 * own event timestamps, one host clock).  RUNS pairs, interleaved ABBA
 * (with, without, without, with, ...) so that drift of the machine's load
 * hits both sides equally; medians.  Target: preempt / without <= 1.0.
 */
#include "migration-bench.h"
#include "qmp-migration.h"

#define RUNS 9

static char *dir;
static QmpCaps *caps;
static const char *qemu_bin; /* NULL: the 7.2 from PATH */

typedef struct {
    gint64 stop_us, resume_us;
} Times;

static void on_stop(QmpMonitor *mon, const char *ev, const QmpJson *data, gint64 ts,
                    gpointer user_data)
{
    Times *t = user_data;
    if (!t->stop_us)
        t->stop_us = ts;
}

static void on_resume(QmpMonitor *mon, const char *ev, const QmpJson *data, gint64 ts,
                      gpointer user_data)
{
    Times *t = user_data;
    if (!t->resume_us)
        t->resume_us = ts;
}

static double run(gboolean preempt)
{
    GError *error = NULL;
    QmpMonitor *src = migb_spawn_qemu(dir, TRUE, qemu_bin, "q35");
    QmpMonitor *dst = migb_spawn_qemu(dir, FALSE, qemu_bin, "q35");
    Times t = { 0, 0 };
    qmp_monitor_subscribe(src, "STOP", on_stop, &t, NULL);
    qmp_monitor_subscribe(dst, "RESUME", on_resume, &t, NULL);
    QmpMigration *mig = qmp_migration_new(src, dst);
    qmp_migration_set_caps(mig, caps, caps);
    qmp_migration_set_poll_interval(mig, 20);
    qmp_migration_set_flags(mig, QMP_MIGRATION_POSTCOPY | QMP_MIGRATION_KEEP_SOURCE |
                                     (preempt ? 0 : QMP_MIGRATION_NO_PREEMPT));
    qmp_migration_set_postcopy_policy(mig, 1, 0);
    if (!qmp_migration_set_uri(mig, "unix:mig.sock", &error) ||
        !qmp_migration_run(mig, &error)) {
        fprintf(stderr, "bench-postcopy-downtime: %s\n", error->message);
        exit(1);
    }
    if (qmp_migration_get_preempt(mig) != preempt || !qmp_migration_get_progress(mig)->postcopy ||
        !t.stop_us || !t.resume_us) {
        fprintf(stderr, "bench-postcopy-downtime: not the migration asked for\n");
        exit(1);
    }
    g_object_unref(mig);
    migb_end(src);
    migb_end(dst);
    g_autofree char *sock = g_build_filename(dir, "mig.sock", NULL);
    g_unlink(sock);
    return (t.resume_us - t.stop_us) / 1000.0;
}

int main(void)
{
    g_autofree char *qemu = NULL;
    const char *which = "QEMU 10.0 -> 10.0";
    qemu_bin = migb_qemu_10();
    if (qemu_bin) {
        qemu = g_strdup(qemu_bin);
    } else {
        qemu = g_find_program_in_path("qemu-system-x86_64");
        which = "QEMU 7.2 -> 7.2 (no QEMU 10.0: QMPKIT_QEMU_10 unset)";
    }
    if (!qemu) {
        printf("bench: postcopy-downtime skipped: qemu-system-x86_64 not found\n");
        return 0;
    }
    GError *error = NULL;
    dir = g_dir_make_tmp("qmpkit-bench-pc-XXXXXX", NULL);
    caps = qmp_caps_probe_binary(qemu, QMP_CAPS_NONE, &error);
    if (!caps) {
        fprintf(stderr, "bench-postcopy-downtime: %s\n", error->message);
        return 1;
    }
    double with[RUNS], without[RUNS];
    printf("postcopy-downtime: %s, q35, %d runs each, interleaved\n", which, RUNS);
    for (int i = 0; i < RUNS; i++) {
        /* ABBA: even pairs preempt first, odd pairs without first. */
        if (i % 2 == 0) {
            with[i] = run(TRUE);
            without[i] = run(FALSE);
        } else {
            without[i] = run(FALSE);
            with[i] = run(TRUE);
        }
        printf("postcopy-downtime: pair %d: %.1f ms with preempt, %.1f ms without\n", i + 1,
               with[i], without[i]);
        fflush(stdout);
    }
    g_rmdir(dir);
    qmp_caps_free(caps);
    double w = bench_median(with, RUNS), wo = bench_median(without, RUNS);
    printf("postcopy-downtime: %s: STOP->RESUME median %.1f ms with preempt, %.1f ms without"
           " (%d runs each)\n", which, w, wo, RUNS);
    /* bench_median sorted them: the spread says how far apart the runs are. */
    printf("postcopy-downtime: range %.1f-%.1f ms with preempt, %.1f-%.1f ms without\n",
           with[0], with[RUNS - 1], without[0], without[RUNS - 1]);
    bench_report("postcopy-downtime", w, wo, "ms", FALSE, 1.0);
    return 0;
}
