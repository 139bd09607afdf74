/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-mirror-overhead: copy a disk holding 200 MiB of data to another
 * image and pivot to it, through qmp-block-copy.h (ours) and through a bare
 * QMP sequence doing the same work on the same QEMU 7.2 (baseline):
 *
 *   query-block (the source node), blockdev-add of the target,
 *   blockdev-mirror, wait for BLOCK_JOB_READY, block-job-complete, wait for
 *   BLOCK_JOB_COMPLETED, query-block (the disk is the target now).
 *
 * Each run spawns a fresh QEMU and a fresh empty target (not timed); the
 * time is from the first command to the confirmed pivot.  Runs alternate
 * between the two (which goes first alternates too; the page cache is
 * flushed before each), medians of 9 each.  Target: ours / baseline <= 1.02.
 */
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include "bench-common.h"
#include "qmp-block-copy.h"
#include "qmp-commands.h"

#define RUNS 9

static char *dir;

static void run_tool(const char *const *argv)
{
    int status = 0;
    GError *error = NULL;
    if (!g_spawn_sync(dir, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                      NULL, NULL, NULL, NULL, &status, &error) ||
        !g_spawn_check_wait_status(status, &error)) {
        fprintf(stderr, "bench-mirror-overhead: %s: %s\n", argv[0], error->message);
        exit(1);
    }
}

static QmpMonitor *spawn(void)
{
    static const char *const args[] = {
        "-machine", "none", "-nodefaults", "-display", "none", "-S",
        "-drive", "if=none,id=drive0,file=src.qcow2,format=qcow2", NULL
    };
    GError *error = NULL;
    const char *const mk[] = { "qemu-img", "create", "-q", "-f", "qcow2", "tgt.qcow2", "256M",
                               NULL };
    run_tool(mk);
    /* The previous run's 200 MiB reach the disk now, not during this one. */
    sync();
    g_autofree char *cwd = g_get_current_dir();
    if (chdir(dir) != 0)
        exit(1);
    QmpMonitor *mon = qmp_monitor_new(NULL);
    if (!qmp_monitor_spawn(mon, "qemu-system-x86_64", args, &error) ||
        !qmp_monitor_handshake(mon, QMP_HANDSHAKE_NONE, 20000, &error)) {
        fprintf(stderr, "bench-mirror-overhead: %s\n", error->message);
        exit(1);
    }
    if (chdir(cwd) != 0)
        exit(1);
    return mon;
}

static void die(const char *what, GError *error)
{
    fprintf(stderr, "bench-mirror-overhead: %s: %s\n", what, error ? error->message : "failed");
    exit(1);
}

static double run_ours(void)
{
    GError *error = NULL;
    QmpMonitor *mon = spawn();
    QmpBlockCopyOptions o;
    qmp_block_copy_options_init(&o);
    o.job_id = "bench0";
    o.target = "tgt.qcow2";
    o.format = "qcow2";
    o.mode = QMP_NEW_IMAGE_MODE_EXISTING;
    double t0 = bench_now();
    QmpBlockCopyJob *job = qmp_block_copy_start(mon, "drive0", &o, &error);
    if (!job)
        die("start", error);
    if (!qmp_block_copy_job_wait_ready(job, 120000, NULL, &error))
        die("wait ready", error);
    if (!qmp_block_copy_job_pivot(job, 120000, &error))
        die("pivot", error);
    double t = bench_now() - t0;
    g_object_unref(job);
    g_object_unref(mon);
    return t;
}

typedef struct {
    gboolean ready, completed;
} Flags;

static void on_event(QmpMonitor *mon, const char *event, const QmpJson *data, gint64 ts,
                     gpointer user_data)
{
    Flags *f = user_data;
    if (strcmp(event, "BLOCK_JOB_READY") == 0)
        f->ready = TRUE;
    else if (strcmp(event, "BLOCK_JOB_COMPLETED") == 0)
        f->completed = TRUE;
}

static QmpJsonDoc *bare(QmpMonitor *mon, const char *cmd, const char *args, const QmpJson **ret)
{
    GError *error = NULL;
    QmpJsonDoc *doc = qmp_monitor_execute(mon, cmd, args, 0, NULL, 0, QMP_TIMEOUT_DEFAULT, ret,
                                          &error);
    if (!doc)
        die(cmd, error);
    return doc;
}

static const char *inserted_node(const QmpJson *ret)
{
    const QmpJson *ins = qmp_json_lookup(ret->v.first, "inserted");
    return qmp_json_get_string(qmp_json_lookup(ins, "node-name"));
}

static double run_baseline(void)
{
    QmpMonitor *mon = spawn();
    Flags f = { FALSE, FALSE };
    guint sub = qmp_monitor_subscribe(mon, NULL, on_event, &f, NULL);
    GMainContext *ctx = qmp_monitor_get_context(mon);
    const QmpJson *ret;
    double t0 = bench_now();
    QmpJsonDoc *d = bare(mon, "query-block", NULL, &ret);
    g_autofree char *source = g_strdup(inserted_node(ret));
    qmp_json_doc_unref(d);
    qmp_json_doc_unref(bare(mon, "blockdev-add",
                            "{\"driver\": \"qcow2\", \"node-name\": \"tgt0\", \"file\": "
                            "{\"driver\": \"file\", \"filename\": \"tgt.qcow2\"}}", NULL));
    qmp_json_doc_unref(bare(mon, "blockdev-mirror",
                            "{\"job-id\": \"bench0\", \"device\": \"drive0\", "
                            "\"target\": \"tgt0\", \"sync\": \"full\"}", NULL));
    while (!f.ready)
        g_main_context_iteration(ctx, TRUE);
    qmp_json_doc_unref(bare(mon, "block-job-complete", "{\"device\": \"bench0\"}", NULL));
    while (!f.completed)
        g_main_context_iteration(ctx, TRUE);
    d = bare(mon, "query-block", NULL, &ret);
    if (g_strcmp0(inserted_node(ret), "tgt0") != 0 || g_strcmp0(source, "tgt0") == 0)
        die("the pivot did not happen", NULL);
    qmp_json_doc_unref(d);
    double t = bench_now() - t0;
    qmp_monitor_unsubscribe(mon, sub);
    g_object_unref(mon);
    return t;
}

int main(void)
{
    g_autofree char *qemu = g_find_program_in_path("qemu-system-x86_64");
    g_autofree char *img = g_find_program_in_path("qemu-img");
    g_autofree char *io = g_find_program_in_path("qemu-io");
    if (!qemu || !img || !io) {
        printf("skipped: qemu-system-x86_64, qemu-img or qemu-io not in PATH\n");
        return 77;
    }
    dir = g_dir_make_tmp("qmpkit-bench-mirror-XXXXXX", NULL);
    const char *const mk[] = { "qemu-img", "create", "-q", "-f", "qcow2", "src.qcow2", "256M",
                               NULL };
    run_tool(mk);
    const char *const wr[] = { "qemu-io", "-c", "write -P 0x5a 0 200M", "src.qcow2", NULL };
    run_tool(wr);
    double ours[RUNS], base[RUNS];
    /* One of each first, not counted: page cache and binaries warm. */
    run_baseline();
    run_ours();
    for (int i = 0; i < RUNS; i++) {
        if (i % 2) {
            base[i] = run_baseline();
            ours[i] = run_ours();
        } else {
            ours[i] = run_ours();
            base[i] = run_baseline();
        }
    }
    bench_report("mirror-overhead", bench_median(ours, RUNS) * 1000,
                 bench_median(base, RUNS) * 1000, "ms", FALSE, 1.02);
    const char *files[] = { "src.qcow2", "tgt.qcow2" };
    for (gsize i = 0; i < G_N_ELEMENTS(files); i++) {
        g_autofree char *p = g_build_filename(dir, files[i], NULL);
        unlink(p);
    }
    rmdir(dir);
    g_free(dir);
    return 0;
}
