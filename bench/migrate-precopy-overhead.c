/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-migrate-precopy-overhead: a 7.2 -> 7.2 pre-copy of a guest with
 * 200 MiB of random RAM through QmpMigration (ours: every phase, caps given)
 * and through a bare client sending the same QMP sequence with sync calls
 * and no workflow code (baseline):
 *
 *   source: query-status, query-cpus-fast, qom-get tsc-frequency, qom-get invtsc
 *   destination: query-status, migrate-set-capabilities, migrate-incoming
 *   source: migrate-set-capabilities, migrate, query-migrate every 20 ms
 *           until completed
 *   destination: query-status until running
 *
 * Both poll every 20 ms.  Each run spawns a fresh pair (not timed); the
 * time is from the first command to the destination running.  Runs
 * alternate (and which goes first alternates too), medians of 5 each.
 * Target: ours / baseline <= 1.02.
 */
#include "migration-bench.h"
#include "qmp-migration.h"

#define RUNS 5
#define POLL_MS 20

static char *dir;
static QmpCaps *caps;

static const QmpJson *exec(QmpMonitor *mon, const char *cmd, const char *args,
                           QmpJsonDoc **doc)
{
    GError *error = NULL;
    const QmpJson *ret = NULL;
    *doc = qmp_monitor_execute(mon, cmd, args, 0, NULL, 0, 60000, &ret, &error);
    if (!*doc) {
        fprintf(stderr, "bench-migrate-precopy-overhead: %s: %s\n", cmd, error->message);
        exit(1);
    }
    return ret;
}

static void sleep_ms(guint ms)
{
    gint64 end = g_get_monotonic_time() + ms * 1000;
    while (g_get_monotonic_time() < end)
        g_main_context_iteration(NULL, FALSE), g_usleep(1000);
}

static double run_bare(QmpMonitor *src, QmpMonitor *dst)
{
    QmpJsonDoc *d = NULL;
    static const char caps_args[] =
        "{\"capabilities\":[{\"capability\":\"events\",\"state\":true},"
        "{\"capability\":\"return-path\",\"state\":true}]}";
    double t0 = bench_now();
    exec(src, "query-status", NULL, &d), qmp_json_doc_unref(d);
    const QmpJson *cpus = exec(src, "query-cpus-fast", NULL, &d);
    g_autofree char *path =
        g_strdup(qmp_json_get_string(qmp_json_lookup(cpus->v.first, "qom-path")));
    qmp_json_doc_unref(d);
    g_autofree char *a1 = g_strdup_printf("{\"path\":\"%s\",\"property\":\"tsc-frequency\"}", path);
    g_autofree char *a2 = g_strdup_printf("{\"path\":\"%s\",\"property\":\"invtsc\"}", path);
    exec(src, "qom-get", a1, &d), qmp_json_doc_unref(d);
    exec(src, "qom-get", a2, &d), qmp_json_doc_unref(d);
    exec(dst, "query-status", NULL, &d), qmp_json_doc_unref(d);
    exec(dst, "migrate-set-capabilities", caps_args, &d), qmp_json_doc_unref(d);
    exec(dst, "migrate-incoming", "{\"uri\":\"unix:mig.sock\"}", &d), qmp_json_doc_unref(d);
    exec(src, "migrate-set-capabilities", caps_args, &d), qmp_json_doc_unref(d);
    exec(src, "migrate", "{\"uri\":\"unix:mig.sock\"}", &d), qmp_json_doc_unref(d);
    for (;;) {
        const QmpJson *r = exec(src, "query-migrate", NULL, &d);
        const char *st = qmp_json_get_string(qmp_json_lookup(r, "status"));
        gboolean done = g_strcmp0(st, "completed") == 0;
        gboolean bad = g_strcmp0(st, "failed") == 0 || g_strcmp0(st, "cancelled") == 0;
        qmp_json_doc_unref(d);
        if (bad) {
            fprintf(stderr, "bench-migrate-precopy-overhead: baseline migration %s\n", st);
            exit(1);
        }
        if (done)
            break;
        sleep_ms(POLL_MS);
    }
    for (;;) {
        const QmpJson *r = exec(dst, "query-status", NULL, &d);
        gboolean running = g_strcmp0(qmp_json_get_string(qmp_json_lookup(r, "status")),
                                     "running") == 0;
        qmp_json_doc_unref(d);
        if (running)
            break;
        sleep_ms(POLL_MS);
    }
    return bench_now() - t0;
}

static double run_ours(QmpMonitor *src, QmpMonitor *dst)
{
    GError *error = NULL;
    g_autoptr(QmpMigration) mig = qmp_migration_new(src, dst);
    qmp_migration_set_caps(mig, caps, caps);
    qmp_migration_set_poll_interval(mig, POLL_MS);
    qmp_migration_set_flags(mig, QMP_MIGRATION_KEEP_SOURCE);
    if (!qmp_migration_set_uri(mig, "unix:mig.sock", &error))
        exit(1);
    double t0 = bench_now();
    if (!qmp_migration_run(mig, &error)) {
        fprintf(stderr, "bench-migrate-precopy-overhead: %s\n", error->message);
        exit(1);
    }
    return bench_now() - t0;
}

int main(void)
{
    g_autofree char *qemu = g_find_program_in_path("qemu-system-x86_64");
    if (!qemu) {
        printf("bench: migrate-precopy-overhead skipped: qemu-system-x86_64 not found\n");
        return 0;
    }
    GError *error = NULL;
    dir = g_dir_make_tmp("qmpkit-bench-mig-XXXXXX", NULL);
    caps = qmp_caps_probe_binary(qemu, QMP_CAPS_NONE, &error);
    if (!caps) {
        fprintf(stderr, "bench-migrate-precopy-overhead: %s\n", error->message);
        return 1;
    }
    double ours[RUNS], base[RUNS];
    for (int i = 0; i < 2 * RUNS; i++) {
        gboolean ours_turn = (i % 2) == ((i / 2) % 2);
        QmpMonitor *src = migb_spawn(dir, TRUE), *dst = migb_spawn(dir, FALSE);
        if (ours_turn)
            ours[i / 2] = run_ours(src, dst);
        else
            base[i / 2] = run_bare(src, dst);
        migb_end(src);
        migb_end(dst);
        g_autofree char *sock = g_build_filename(dir, "mig.sock", NULL);
        g_unlink(sock);
    }
    g_rmdir(dir);
    qmp_caps_free(caps);
    bench_report("migrate-precopy-overhead", bench_median(ours, RUNS) * 1000,
                 bench_median(base, RUNS) * 1000, "ms", FALSE, 1.02);
    return 0;
}
