/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-block-copy: block copy (qmp-block-copy.h) against
 *
 *  - the recordings replay-tests/recordings/block-*.jsonl, replayed
 *    strictly (default; suite "replay"), or
 *  - live QEMU (--live; suite "live"): 7.2, and 10.0 when
 *    $QMPKIT_QEMU_10 names its binary.  Each conversation is recorded (to a
 *    temporary folder, or with QMPKIT_RERECORD=1 over the recordings in the
 *    tree), then the fresh recording is replayed through the same client
 *    function and must give the same summary.
 *
 * The disk is a qcow2 of 256 MiB with 200 MiB written (qemu-img, qemu-io);
 * QEMU runs in the temporary folder so that every path in the conversation
 * is relative and a replay does not depend on where it was recorded.
 *
 * block-drive-fallback.jsonl is derived, not recorded as it is: no QEMU we
 * support lacks blockdev-mirror, so the live run asks query-commands itself
 * and forces drive-mirror, and the recording's query-commands reply is then
 * rewritten without "blockdev-mirror".  Replayed, the client takes the
 * automatic choice, sends the same query-commands from inside the library,
 * sees no blockdev-mirror and must send drive-mirror, as recorded.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include "qmp-block-copy.h"
#include "qmp-commands.h"
#include "qmp-replay.h"
#include "qmp-migration.h"

#define MIB G_GINT64_CONSTANT(1048576)
#define WAIT_MS 120000

static gboolean live;        /* talking to real QEMU */
static volatile GPid qemu_pids[2]; /* live: killed when an assertion aborts */
static QmpReplayServer *replay_servers[2]; /* replay: the servers of the conversation */
static char *tmpdir;         /* live: QEMU's cwd, images, fresh recordings */

/* ---- helpers ------------------------------------------------------------------ */

static int run(const char *const *argv)
{
    GError *error = NULL;
    int status = -1;
    g_autofree char *out = NULL, *err = NULL;
    g_spawn_sync(tmpdir, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err,
                 &status, &error);
    g_assert_no_error(error);
    if (!g_spawn_check_wait_status(status, NULL))
        g_test_message("%s: %s%s", argv[0], out, err);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void make_image(const char *name, const char *size)
{
    const char *const argv[] = { "qemu-img", "create", "-q", "-f", "qcow2", name, size, NULL };
    g_assert_cmpint(run(argv), ==, 0);
}

static void compare_images(const char *a, const char *b)
{
    const char *const argv[] = { "qemu-img", "compare", "-q", a, b, NULL };
    g_assert_cmpint(run(argv), ==, 0);
}

static void handshake(QmpMonitor *mon)
{
    GError *error = NULL;
    g_assert_true(qmp_monitor_handshake(mon, QMP_HANDSHAKE_NONE, 20000, &error));
    g_assert_no_error(error);
}

static void quit(QmpMonitor *mon)
{
    GError *error = NULL;
    if (!qmp_quit(mon, &error)) {
        g_assert_error(error, QMP_ERROR, QMP_ERROR_CLOSED);
        g_clear_error(&error);
    }
}

/* The start of a conversation: the handshake, then options for job job_id
 * copying to target. */
static void begin(QmpMonitor *mon, QmpBlockCopyOptions *o, const char *job_id, const char *target)
{
    handshake(mon);
    qmp_block_copy_options_init(o);
    o->job_id = job_id;
    o->target = target;
}

static void append_state(GString *out, QmpBlockCopyJob *job)
{
    gint64 off, len;
    qmp_block_copy_job_get_progress(job, &off, &len, NULL, NULL);
    g_string_append_printf(out, " %s:%s:%s", qmp_block_copy_job_get_id(job),
                           qmp_block_copy_job_get_command(job),
                           qmp_block_copy_job_state_to_string(qmp_block_copy_job_get_state(job)));
}

static void append_error(GString *out, const GError *e)
{
    g_string_append_printf(out, " error(%s %d: %s)", g_quark_to_string(e->domain), e->code,
                           e->message);
}


/* QEMU dies while the copy runs: the wait for READY fails, naming the
 * job, instead of hanging. */
static void run_dead(QmpMonitor **mons, GString *out)
{
    QmpMonitor *mon = mons[0];
    GError *error = NULL;
    if (live)
        unlink("dead.qcow2");
    QmpBlockCopyOptions o;
    begin(mon, &o, "dead0", "dead.qcow2");
    o.bandwidth_mib_s = 1;
    g_autoptr(QmpBlockCopyJob) job = qmp_block_copy_start(mon, "drive0", &o, &error);
    g_assert_no_error(error);
    if (live) {
        kill(qmp_monitor_get_pid(mon), SIGKILL);
    } else {
        /* A recording holds no end of connection: the replay ends it where
         * the recording ends, as QEMU's death did. */
        qmp_replay_test_assert_done(replay_servers[0]);
        qmp_replay_server_free(replay_servers[0]);
        replay_servers[0] = NULL;
    }
    g_assert_false(qmp_block_copy_job_wait_ready(job, WAIT_MS, NULL, &error));
    g_assert_error(error, QMP_BLOCK_COPY_ERROR, QMP_BLOCK_COPY_ERROR_FAILED);
    g_assert_nonnull(strstr(error->message, "device 'drive0', job 'dead0': the monitor "
                                            "connection ended"));
    g_string_append(out, " dead: wait failed");
    g_clear_error(&error);
    g_assert_cmpint(qmp_block_copy_job_get_state(job), ==, QMP_BLOCK_COPY_JOB_STATE_FAILED);
    append_state(out, job);
}

typedef struct {
    gboolean (*finish)(QmpBlockCopyJob *, GAsyncResult *, GError **);
    gboolean done, ok;
    GError *error;
} AsyncEnd;

static void on_end_done(GObject *src, GAsyncResult *res, gpointer data)
{
    AsyncEnd *a = data;
    a->ok = a->finish(QMP_BLOCK_COPY_JOB(src), res, &a->error);
    a->done = TRUE;
}

/* Pivot or cancel through the async API, iterating until its callback. */
static gboolean end_async(QmpBlockCopyJob *job, gboolean cancel, GError **error)
{
    AsyncEnd a = { .finish = cancel ? qmp_block_copy_job_cancel_finish
                                    : qmp_block_copy_job_pivot_finish };
    if (cancel)
        qmp_block_copy_job_cancel_async(job, NULL, on_end_done, &a);
    else
        qmp_block_copy_job_pivot_async(job, NULL, on_end_done, &a);
    while (!a.done)
        g_main_context_iteration(NULL, TRUE);
    if (a.error)
        g_propagate_error(error, a.error);
    return a.ok;
}

/* ---- the conversations ------------------------------------------------------ */

/* blockdev-mirror to an existing image, with every option; READY, pivot. */
static void run_pivot(QmpMonitor **mons, GString *out)
{
    QmpMonitor *mon = mons[0];
    GError *error = NULL;
    if (live)
        make_image("pivot.qcow2", "256M");
    QmpBlockCopyOptions o;
    begin(mon, &o, "pivot0", "pivot.qcow2");
    o.format = "qcow2";
    o.mode = QMP_NEW_IMAGE_MODE_EXISTING;
    o.granularity = 65536;
    o.buf_size = 8 * MIB;
    o.has_on_source_error = TRUE;
    o.on_source_error = QMP_BLOCKDEV_ON_ERROR_REPORT;
    o.has_on_target_error = TRUE;
    o.on_target_error = QMP_BLOCKDEV_ON_ERROR_REPORT;
    o.write_blocking = TRUE;
    g_autoptr(QmpBlockCopyJob) job = qmp_block_copy_start(mon, "drive0", &o, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(qmp_block_copy_job_get_command(job), ==, "blockdev-mirror");
    g_assert_true(qmp_block_copy_job_wait_ready(job, WAIT_MS, NULL, &error));
    g_assert_no_error(error);
    gint64 off, len;
    qmp_block_copy_job_get_progress(job, &off, &len, NULL, NULL);
    g_assert_cmpint(off, ==, len);
    g_assert_cmpint(len, >=, 200 * MIB);
    /* Not ready twice: a pivot is refused on a job that is not READY. */
    g_assert_true(qmp_block_copy_job_pivot(job, WAIT_MS, &error));
    g_assert_no_error(error);
    append_state(out, job);
    g_assert_cmpint(qmp_block_copy_job_get_state(job), ==, QMP_BLOCK_COPY_JOB_STATE_COMPLETED);
    g_assert_false(qmp_block_copy_job_pivot(job, WAIT_MS, &error));
    g_assert_error(error, QMP_BLOCK_COPY_ERROR, QMP_BLOCK_COPY_ERROR_NOT_READY);
    g_clear_error(&error);
    /* The disk is the target node now. */
    gsize n = 0;
    QmpBlockInfo **blocks = qmp_query_block(mon, &n, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(n, ==, 1);
    g_assert_cmpstr(blocks[0]->inserted->node_name, ==, "qmpkit-target-pivot0");
    g_assert_cmpstr(blocks[0]->inserted->file, ==, "pivot.qcow2");
    g_string_append_printf(out, " disk=%s", blocks[0]->inserted->file);
    qmp_block_info_free(blocks[0]);
    g_free(blocks);
    quit(mon);
    if (live)
        compare_images("src.qcow2", "pivot.qcow2");
}

/* drive-mirror to a new image; READY then cancel: the disk stays on the
 * source; a second job with the same id is refused. */
static void run_cancel(QmpMonitor **mons, GString *out)
{
    QmpMonitor *mon = mons[0];
    GError *error = NULL;
    if (live)
        unlink("cancel.qcow2");
    QmpBlockCopyOptions o;
    begin(mon, &o, "cancel0", "cancel.qcow2");
    o.format = "qcow2";
    o.sync = QMP_MIRROR_SYNC_MODE_TOP;
    g_autoptr(QmpBlockCopyJob) job = qmp_block_copy_start(mon, "drive0", &o, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(qmp_block_copy_job_get_command(job), ==, "drive-mirror");
    /* The same job id again. */
    g_autoptr(QmpBlockCopyJob) again = qmp_block_copy_start(mon, "drive0", &o, &error);
    g_assert_null(again);
    g_assert_error(error, QMP_BLOCK_COPY_ERROR, QMP_BLOCK_COPY_ERROR_JOB_EXISTS);
    g_assert_nonnull(strstr(error->message, "device 'drive0', job 'cancel0'"));
    append_error(out, error);
    g_clear_error(&error);
    g_assert_true(qmp_block_copy_job_wait_ready(job, WAIT_MS, NULL, &error));
    g_assert_no_error(error);
    g_assert_true(end_async(job, TRUE, &error)); /* async cancel */
    g_assert_no_error(error);
    g_assert_cmpint(qmp_block_copy_job_get_state(job), ==, QMP_BLOCK_COPY_JOB_STATE_CANCELLED);
    g_assert_null(qmp_block_copy_job_get_error(job)); /* a full copy, no switch */
    append_state(out, job);
    gsize n = 0;
    QmpBlockInfo **blocks = qmp_query_block(mon, &n, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(blocks[0]->inserted->file, ==, "src.qcow2");
    g_string_append_printf(out, " disk=%s", blocks[0]->inserted->file);
    for (gsize i = 0; i < n; i++)
        qmp_block_info_free(blocks[i]);
    g_free(blocks);
    quit(mon);
    if (live)
        compare_images("src.qcow2", "cancel.qcow2");
}

static void on_ready_done(GObject *src, GAsyncResult *res, gpointer user_data)
{
    GError **slot = user_data;
    if (!qmp_block_copy_job_wait_ready_finish(QMP_BLOCK_COPY_JOB(src), res, slot))
        g_assert_nonnull(*slot);
    else
        *slot = g_error_new_literal(G_IO_ERROR, G_IO_ERROR_FAILED, "unexpectedly ready");
}

/* 50 MiB/s, observed in progress figures; then 1 MiB/s; then cancelled
 * mid-way while an async wait for READY is pending. */
static void run_bandwidth(QmpMonitor **mons, GString *out)
{
    QmpMonitor *mon = mons[0];
    GError *error = NULL;
    if (live)
        unlink("bw.qcow2");
    QmpBlockCopyOptions o;
    begin(mon, &o, "bw0", "bw.qcow2");
    o.bandwidth_mib_s = -1;
    g_assert_null(qmp_block_copy_start(mon, "drive0", &o, &error));
    g_assert_error(error, QMP_BLOCK_COPY_ERROR, QMP_BLOCK_COPY_ERROR_INVALID);
    g_clear_error(&error);
    o.bandwidth_mib_s = G_MAXINT64 / MIB + 1;
    g_assert_null(qmp_block_copy_start(mon, "drive0", &o, &error));
    g_assert_error(error, QMP_BLOCK_COPY_ERROR, QMP_BLOCK_COPY_ERROR_INVALID);
    g_assert_nonnull(strstr(error->message, "too large"));
    g_clear_error(&error);
    o.bandwidth_mib_s = 50;
    g_autoptr(QmpBlockCopyJob) job = qmp_block_copy_start(mon, "drive0", &o, &error);
    g_assert_no_error(error);
    gint64 off = 0, len = 0, speed = 0, first = 0;
    double rate = 0;
    g_assert_true(qmp_block_copy_job_refresh(job, &error));
    g_assert_no_error(error);
    qmp_block_copy_job_get_progress(job, &first, &len, &speed, NULL);
    g_assert_cmpint(speed, ==, 50 * MIB);
    for (int i = 0; i < 2; i++) {
        if (live)
            g_usleep(G_USEC_PER_SEC * 3 / 4);
        g_assert_true(qmp_block_copy_job_refresh(job, &error));
        g_assert_no_error(error);
    }
    qmp_block_copy_job_get_progress(job, &off, &len, &speed, &rate);
    g_assert_cmpint(off, >, first);
    g_assert_cmpint(off, <, len);
    g_test_message("50 MiB/s: offset %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT
                   ", measured %.1f MiB/s", off, len, rate / MIB);
    if (live) {
        /* Loose: QEMU honours the limit within a few per cent; the load of
         * the machine only ever makes it slower. */
        g_assert_cmpfloat(rate, >, 15.0 * MIB);
        g_assert_cmpfloat(rate, <, 80.0 * MIB);
    }
    g_assert_false(qmp_block_copy_job_set_bandwidth(job, -5, &error));
    g_assert_error(error, QMP_BLOCK_COPY_ERROR, QMP_BLOCK_COPY_ERROR_INVALID);
    g_clear_error(&error);
    g_assert_true(qmp_block_copy_job_set_bandwidth(job, 1, &error));
    g_assert_no_error(error);
    g_assert_true(qmp_block_copy_job_refresh(job, &error));
    g_assert_no_error(error);
    qmp_block_copy_job_get_progress(job, NULL, NULL, &speed, NULL);
    g_assert_cmpint(speed, ==, MIB);
    g_string_append_printf(out, " speed=%" G_GINT64_FORMAT, speed);

    GError *ready_error = NULL;
    qmp_block_copy_job_wait_ready_async(job, NULL, on_ready_done, &ready_error);
    g_assert_true(qmp_block_copy_job_cancel(job, WAIT_MS, &error));
    g_assert_no_error(error);
    while (ready_error == NULL)
        g_main_context_iteration(NULL, TRUE);
    g_assert_error(ready_error, QMP_BLOCK_COPY_ERROR, QMP_BLOCK_COPY_ERROR_CANCELLED);
    g_assert_nonnull(strstr(ready_error->message, "device 'drive0', job 'bw0': cancelled after"));
    g_string_append_printf(out, " ready=cancelled");
    g_clear_error(&ready_error);
    append_state(out, job);
    quit(mon);
}

/* Errors: no such disk, target missing, target full (blkdebug ENOSPC). */
static void run_errors(QmpMonitor **mons, GString *out)
{
    QmpMonitor *mon = mons[0];
    GError *error = NULL;
    if (live) {
        make_image("full.qcow2", "256M");
        g_assert_true(g_file_set_contents("enospc.conf",
                                          "[inject-error]\nevent = \"write_aio\"\nerrno = \"28\"\n",
                                          -1, &error));
    }
    QmpBlockCopyOptions o;
    begin(mon, &o, "err0", "nowhere/missing.qcow2");
    o.mode = QMP_NEW_IMAGE_MODE_EXISTING;
    g_assert_null(qmp_block_copy_start(mon, "nodisk", &o, &error));
    g_assert_error(error, QMP_BLOCK_COPY_ERROR, QMP_BLOCK_COPY_ERROR_NO_DEVICE);
    append_error(out, error);
    g_clear_error(&error);
    g_assert_null(qmp_block_copy_start(mon, "drive0", &o, &error));
    g_assert_error(error, QMP_BLOCK_COPY_ERROR, QMP_BLOCK_COPY_ERROR_TARGET_MISSING);
    g_assert_nonnull(strstr(error->message, "No such file or directory"));
    append_error(out, error);
    g_clear_error(&error);

    o.backend = QMP_BLOCK_COPY_BACKEND_DRIVE_MIRROR;
    o.target = "blkdebug:enospc.conf:full.qcow2";
    o.format = "qcow2";
    g_autoptr(QmpBlockCopyJob) job = qmp_block_copy_start(mon, "drive0", &o, &error);
    g_assert_no_error(error);
    g_assert_false(qmp_block_copy_job_wait_ready(job, WAIT_MS, NULL, &error));
    g_assert_error(error, QMP_BLOCK_COPY_ERROR, QMP_BLOCK_COPY_ERROR_TARGET_FULL);
    g_assert_cmpstr(error->message, ==, "device 'drive0', job 'err0': No space left on device");
    append_error(out, error);
    g_clear_error(&error);
    g_assert_cmpint(qmp_block_copy_job_get_state(job), ==, QMP_BLOCK_COPY_JOB_STATE_FAILED);
    g_assert_cmpuint(qmp_block_copy_job_get_n_io_errors(job), >, 0);
    /* Cancel of an ended job: clean-up only; the disk is the source. */
    g_assert_true(qmp_block_copy_job_cancel(job, WAIT_MS, &error));
    g_assert_no_error(error);
    append_state(out, job);

    /* The same with on-target-error stop: QEMU pauses the job instead. */
    o.job_id = "err1";
    o.has_on_target_error = TRUE;
    o.on_target_error = QMP_BLOCKDEV_ON_ERROR_STOP;
    g_autoptr(QmpBlockCopyJob) paused = qmp_block_copy_start(mon, "drive0", &o, &error);
    g_assert_no_error(error);
    g_assert_false(qmp_block_copy_job_wait_ready(paused, WAIT_MS, NULL, &error));
    g_assert_error(error, QMP_BLOCK_COPY_ERROR, QMP_BLOCK_COPY_ERROR_PAUSED);
    g_assert_nonnull(strstr(error->message, "device 'drive0', job 'err1': paused after a write"));
    append_error(out, error);
    g_clear_error(&error);
    g_assert_true(qmp_block_copy_job_get_paused_on_error(paused));
    g_assert_true(qmp_block_copy_job_resume(paused, &error));
    g_assert_no_error(error);
    g_assert_false(qmp_block_copy_job_get_paused_on_error(paused));
    g_string_append(out, " resumed");
    g_assert_true(qmp_block_copy_job_cancel(paused, WAIT_MS, &error));
    g_assert_no_error(error);
    g_assert_cmpint(qmp_block_copy_job_get_state(paused), ==, QMP_BLOCK_COPY_JOB_STATE_CANCELLED);
    append_state(out, paused);
    quit(mon);
}

/* Live: ask query-commands, force drive-mirror.  Replay of the derived
 * recording: automatic choice, which must find no blockdev-mirror. */
static void run_fallback(QmpMonitor **mons, GString *out)
{
    QmpMonitor *mon = mons[0];
    GError *error = NULL;
    if (live)
        make_image("fallback.qcow2", "256M");
    QmpBlockCopyOptions o;
    begin(mon, &o, "fb0", "fallback.qcow2");
    o.format = "qcow2";
    o.mode = QMP_NEW_IMAGE_MODE_EXISTING;
    if (live) {
        gsize n = 0;
        QmpCommandInfo **cmds = qmp_query_commands(mon, &n, &error);
        g_assert_no_error(error);
        for (gsize i = 0; i < n; i++)
            qmp_command_info_free(cmds[i]);
        g_free(cmds);
        o.backend = QMP_BLOCK_COPY_BACKEND_DRIVE_MIRROR;
    }
    g_autoptr(QmpBlockCopyJob) job = qmp_block_copy_start(mon, "drive0", &o, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(qmp_block_copy_job_get_command(job), ==, "drive-mirror");
    g_assert_true(qmp_block_copy_job_wait_ready(job, WAIT_MS, NULL, &error));
    g_assert_no_error(error);
    g_assert_true(end_async(job, FALSE, &error)); /* async pivot */
    g_assert_no_error(error);
    g_assert_cmpint(qmp_block_copy_job_get_state(job), ==, QMP_BLOCK_COPY_JOB_STATE_COMPLETED);
    append_state(out, job);
    quit(mon);
    if (live)
        compare_images("src.qcow2", "fallback.qcow2");
}


static guint16 nbd_port;     /* the NBD server's TCP port on loopback */

/* The migration of RAM, through bare QMP (the migration workflow is not
 * this test's subject): the recorded replies decide how often it polls. */
static void migrate_ram(QmpMonitor *src, QmpMonitor *dst)
{
    GError *error = NULL;
    g_autoptr(QmpJsonDoc) r1 = qmp_monitor_execute(dst, "migrate-incoming",
                                                   "{\"uri\": \"unix:mig.sock\"}", 0, NULL, 0,
                                                   QMP_TIMEOUT_DEFAULT, NULL, &error);
    g_assert_no_error(error);
    g_autoptr(QmpJsonDoc) r2 = qmp_monitor_execute(src, "migrate", "{\"uri\": \"unix:mig.sock\"}",
                                                   0, NULL, 0, QMP_TIMEOUT_DEFAULT, NULL, &error);
    g_assert_no_error(error);
    for (int polls = 0;; polls++) {
        const QmpJson *ret;
        g_autoptr(QmpJsonDoc) doc = qmp_monitor_execute(src, "query-migrate", NULL, 0, NULL, 0,
                                                        QMP_TIMEOUT_DEFAULT, &ret, &error);
        g_assert_no_error(error);
        const char *status = qmp_json_get_string(qmp_json_lookup(ret, "status"));
        g_assert_nonnull(status);
        g_assert_cmpstr(status, !=, "failed");
        if (strcmp(status, "completed") == 0)
            break;
        g_assert_cmpint(polls, <, 6000);
        if (live)
            g_usleep(10000);
    }
}

static const char *run_state(QmpMonitor *mon)
{
    GError *error = NULL;
    g_autoptr(QmpStatusInfo) st = qmp_query_status(mon, &error);
    g_assert_no_error(error);
    return qmp_run_state_to_string(st->status);
}

/* NBD storage migration 7.2 -> 7.2 over loopback: the destination's empty
 * disk holds the source's data afterwards. */
static void run_nbd(QmpMonitor **mons, GString *out)
{
    GError *error = NULL;
    QmpMonitor *src = mons[0], *dst = mons[1];
    handshake(src);
    handshake(dst);
    g_autoptr(QmpNbdStorage) s = qmp_nbd_storage_new(src, dst);
    qmp_nbd_storage_set_inet(s, "127.0.0.1", nbd_port);
    QmpBlockCopyOptions o;
    qmp_block_copy_options_init(&o);
    o.granularity = 1048576;
    qmp_nbd_storage_set_options(s, &o);
    qmp_nbd_storage_add_disk(s, "drive0", NULL);
    /* Finishing before the start is refused. */
    g_assert_false(qmp_nbd_storage_finish(s, WAIT_MS, &error));
    g_assert_error(error, QMP_BLOCK_COPY_ERROR, QMP_BLOCK_COPY_ERROR_INVALID);
    g_clear_error(&error);
    g_assert_true(qmp_nbd_storage_start(s, &error));
    g_assert_no_error(error);
    g_assert_true(qmp_nbd_storage_wait_ready(s, WAIT_MS, NULL, &error));
    g_assert_no_error(error);
    QmpBlockCopyJob *job = qmp_nbd_storage_get_job(s, 0);
    g_assert_cmpstr(qmp_block_copy_job_get_command(job), ==, "blockdev-mirror");
    migrate_ram(src, dst);
    g_assert_true(qmp_nbd_storage_finish(s, WAIT_MS, &error));
    g_assert_no_error(error);
    append_state(out, job);
    g_assert_cmpint(qmp_block_copy_job_get_state(job), ==, QMP_BLOCK_COPY_JOB_STATE_CANCELLED);
    g_assert_null(qmp_block_copy_job_get_error(job));
    g_string_append_printf(out, " dst=%s", run_state(dst));
    g_assert_true(qmp_cont(dst, &error));
    g_assert_no_error(error);
    g_string_append_printf(out, " cont dst=%s", run_state(dst));
    g_assert_cmpstr(run_state(dst), ==, "running");
    quit(src);
    quit(dst);
    if (live)
        compare_images("src.qcow2", "nbd-dst.qcow2");
}

static const char *caps_dir;      /* where the migration's caps answers are (replay) */

/* The same as run_nbd, through the migration workflow (qmp-migration.h)
 * with the NBD copy as its storage hook. */
static void run_nbd_migration(QmpMonitor **mons, GString *out)
{
    GError *error = NULL;
    QmpMonitor *src = mons[0], *dst = mons[1];
    g_assert_true(qmp_monitor_handshake(src, QMP_HANDSHAKE_OOB, 20000, &error));
    g_assert_true(qmp_monitor_handshake(dst, QMP_HANDSHAKE_OOB, 20000, &error));
    g_assert_no_error(error);
    g_autofree char *caps_path = g_build_filename(caps_dir, "block-migration-caps-qemu-7.2.xml",
                                                  NULL);
    g_autoptr(QmpCaps) caps = NULL;
    if (live) {
        caps = qmp_caps_probe_binary("qemu-system-x86_64", QMP_CAPS_NONE, &error);
        g_assert_no_error(error);
        gsize len = 0;
        g_autofree char *xml = qmp_caps_to_xml(caps, &len);
        g_autoptr(QmpCaps) plain = qmp_caps_from_xml(xml, len, &error);
        g_assert_no_error(error);
        g_assert_true(qmp_caps_save(plain, caps_path, &error));
        g_assert_no_error(error);
    } else {
        caps = qmp_caps_load(caps_path, &error);
        g_assert_no_error(error);
    }
    g_autoptr(QmpMigration) mig = qmp_migration_new(src, dst);
    qmp_migration_set_caps(mig, caps, caps);
    qmp_migration_set_poll_interval(mig, live ? 50 : 1);
    g_assert_true(qmp_migration_set_uri(mig, "unix:mig.sock", &error));
    g_assert_no_error(error);
    qmp_migration_set_flags(mig, QMP_MIGRATION_KEEP_SOURCE);
    const char *const disks[] = { "drive0", NULL };
    qmp_migration_set_disks(mig, disks);
    QmpNbdStorage *s = qmp_nbd_storage_new(src, dst);
    qmp_nbd_storage_set_inet(s, "127.0.0.1", nbd_port);
    QmpBlockCopyOptions o;
    qmp_block_copy_options_init(&o);
    o.caps = caps;
    qmp_nbd_storage_set_options(s, &o);
    qmp_nbd_storage_attach(s, mig);
    g_assert_true(qmp_migration_run(mig, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(qmp_nbd_storage_get_n_disks(s), ==, 1);
    QmpBlockCopyJob *job = qmp_nbd_storage_get_job(s, 0);
    append_state(out, job);
    g_assert_cmpint(qmp_block_copy_job_get_state(job), ==, QMP_BLOCK_COPY_JOB_STATE_CANCELLED);
    g_assert_null(qmp_block_copy_job_get_error(job));
    g_string_append_printf(out, " phase=%s src=%s dst=%s",
                           qmp_migration_phase_to_string(qmp_migration_get_phase(mig)),
                           run_state(src), run_state(dst));
    g_assert_cmpstr(run_state(dst), ==, "running");
    quit(src);
    quit(dst);
    if (live)
        compare_images("src.qcow2", "nbd-dst.qcow2");
}

typedef struct {
    const char *name;
    const char *file;    /* FILE.jsonl, or FILE-source/-destination.jsonl */
    guint n_peers;
    gboolean derived;    /* the recording is rewritten after the live run */
    gboolean qemu10;     /* also run live against $QMPKIT_QEMU_10 */
    void (*run)(QmpMonitor **mons, GString *out);
} Conversation;

static const Conversation conversations[] = {
    { "pivot", "block-pivot", 1, FALSE, TRUE, run_pivot },
    { "cancel", "block-cancel", 1, FALSE, TRUE, run_cancel },
    { "bandwidth", "block-bandwidth", 1, FALSE, TRUE, run_bandwidth },
    { "errors", "block-errors", 1, FALSE, TRUE, run_errors },
    { "drive-fallback", "block-drive-fallback", 1, TRUE, FALSE, run_fallback },
    { "dead", "block-dead", 1, FALSE, FALSE, run_dead },
    { "nbd", "block-nbd", 2, FALSE, TRUE, run_nbd },
    { "nbd-migration", "block-nbd-migration", 2, FALSE, FALSE, run_nbd_migration },
};

static const char *const qemu_args[] = {
    "-machine", "none", "-nodefaults", "-display", "none", "-S",
    "-drive", "if=none,id=drive0,file=src.qcow2,format=qcow2", NULL
};
static const char *const nbd_src_args[] = {
    "-machine", "q35", "-m", "64", "-accel", "tcg", "-nodefaults", "-display", "none", "-S",
    "-drive", "if=none,id=drive0,file=src.qcow2,format=qcow2", NULL
};
/* 7.2 -> 10.0: the same machine type on both sides. */
static const char *const xver_src_args[] = {
    "-machine", "pc-q35-7.2", "-m", "64", "-accel", "tcg", "-nodefaults", "-display", "none",
    "-S", "-drive", "if=none,id=drive0,file=src.qcow2,format=qcow2", NULL
};
static const char *const xver_dst_args[] = {
    "-machine", "pc-q35-7.2", "-m", "64", "-accel", "tcg", "-nodefaults", "-display", "none",
    "-S", "-incoming", "defer",
    "-drive", "if=none,id=drive0,file=nbd-dst.qcow2,format=qcow2", NULL
};
static const char *const mig_src_args[] = {
    "-machine", "q35", "-m", "64", "-accel", "tcg", "-nodefaults", "-display", "none",
    "-drive", "if=none,id=drive0,file=src.qcow2,format=qcow2", NULL
};
static const char *const nbd_dst_args[] = {
    "-machine", "q35", "-m", "64", "-accel", "tcg", "-nodefaults", "-display", "none", "-S",
    "-incoming", "defer",
    "-drive", "if=none,id=drive0,file=nbd-dst.qcow2,format=qcow2", NULL
};

/* ---- running ------------------------------------------------------------------ */

static char *recordings_dir(void)
{
    const char *src = g_getenv("QMPKIT_SOURCE_DIR");
    return g_build_filename(src ? src : ".", "replay-tests", "recordings", NULL);
}

/* The recording file of peer i of c ("-qemu10" before the extension when
 * suffix says so). */
static char *peer_file(const Conversation *c, guint i, const char *suffix)
{
    if (c->n_peers == 1)
        return g_strconcat(c->file, suffix, ".jsonl", NULL);
    return g_strconcat(c->file, i == 0 ? "-source" : "-destination", suffix, ".jsonl", NULL);
}

/* The NBD port a recording's nbd-server-start used (0: none). */
static guint16 recorded_port(const char *path)
{
    g_autofree char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return 0;
    const char *cmd = strstr(text, "\"nbd-server-start\"");
    const char *p = cmd ? strstr(cmd, "\"port\":\"") : NULL;
    return p ? (guint16) g_ascii_strtoull(p + 8, NULL, 10) : 0;
}

static char *replay(const Conversation *c, const char *dir, const char *suffix)
{
    QmpMonitor *mons[2] = { NULL, NULL };
    QmpReplayServer **servers = replay_servers;
    caps_dir = dir;
    for (guint i = 0; i < c->n_peers; i++) {
        g_autofree char *name = peer_file(c, i, suffix);
        g_autofree char *path = g_build_filename(dir, name, NULL);
        if (i == 1)
            nbd_port = recorded_port(path);
        mons[i] = qmp_replay_test_start(path, QMP_REPLAY_STRICT, &servers[i]);
    }
    GString *out = g_string_new(NULL);
    c->run(mons, out);
    for (guint i = 0; i < c->n_peers; i++) {
        if (servers[i])
            qmp_replay_test_assert_done(servers[i]);
        g_object_unref(mons[i]);
        qmp_replay_server_free(servers[i]);
        servers[i] = NULL;
    }
    return g_string_free(out, FALSE);
}

/* The derived recording: the query-commands reply without blockdev-mirror. */
static void derive(const char *path)
{
    GError *error = NULL;
    g_autofree char *text = NULL;
    g_assert_true(g_file_get_contents(path, &text, NULL, &error));
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    GString *out = g_string_new(NULL);
    guint removed = 0;
    for (guint i = 0; lines[i]; i++) {
        char *line = lines[i];
        if (i == 0 && *line) {
            /* The header says what was done. */
            g_autoptr(QmpJsonDoc) h = qmp_json_parse(line, strlen(line), 64, &error);
            g_assert_no_error(error);
            g_string_append_printf(out, "{\"qmpkit-recording\": 1, \"peer\": \"%s; derived: "
                                   "blockdev-mirror removed from the query-commands reply\"}\n",
                                   qmp_json_get_string(qmp_json_lookup(qmp_json_doc_root(h), "peer")));
            continue;
        }
        /* The element {"name": "blockdev-mirror"} of the reply, in
         * whatever spacing the recorder wrote. */
        g_autoptr(GRegex) re = g_regex_new("\\{\\s*\"name\"\\s*:\\s*\"blockdev-mirror\"\\s*\\}\\s*,\\s*",
                                           0, 0, NULL);
        g_autofree char *edited = NULL;
        if (*line && g_regex_match(re, line, 0, NULL)) {
            edited = g_regex_replace_literal(re, line, -1, 0, "", 0, &error);
            g_assert_no_error(error);
            removed++;
            line = edited;
        }
        if (*line)
            g_string_append_printf(out, "%s\n", line);
    }
    g_assert_cmpuint(removed, ==, 1);
    g_assert_true(g_file_set_contents(path, out->str, out->len, &error));
    g_string_free(out, TRUE);
}

static guint16 free_port(void)
{
    GError *error = NULL;
    g_autoptr(GSocket) sock = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                           G_SOCKET_PROTOCOL_TCP, &error);
    g_assert_no_error(error);
    g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
    g_autoptr(GSocketAddress) any = g_inet_socket_address_new(lo, 0);
    g_assert_true(g_socket_bind(sock, any, TRUE, &error));
    g_autoptr(GSocketAddress) got = g_socket_get_local_address(sock, &error);
    g_assert_no_error(error);
    return g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(got));
}

/* dst_binary: the destination's QEMU when it differs (7.2 -> 10.0). */
static void live_run(const Conversation *c, const char *binary, const char *dst_binary,
                     const char *label, const char *suffix)
{
    GError *error = NULL;
    gboolean rerecord = g_strcmp0(g_getenv("QMPKIT_RERECORD"), "1") == 0;
    g_autofree char *srcdir = recordings_dir();
    const char *dir = rerecord ? srcdir : tmpdir;
    g_autofree char *cwd = g_get_current_dir();
    g_assert_cmpint(chdir(tmpdir), ==, 0);
    if (c->n_peers == 2) {
        make_image("nbd-dst.qcow2", "256M");
        nbd_port = free_port();
    }
    QmpMonitor *mons[2] = { NULL, NULL };
    for (guint i = 0; i < c->n_peers; i++) {
        const char *const *argv = c->n_peers == 1 ? qemu_args
                                  : dst_binary ? (i == 1 ? xver_dst_args : xver_src_args)
                                  : i == 1 ? nbd_dst_args
                                  : c->run == run_nbd_migration ? mig_src_args : nbd_src_args;
        g_autofree char *name = peer_file(c, i, suffix);
        g_autofree char *path = g_build_filename(dir, name, NULL);
        g_autofree char *peer = g_strdup_printf("%s %s", !dst_binary ? label
                                                : i == 0 ? "qemu-7.2" : "qemu-10.0",
                                                c->n_peers == 1 ? "-machine none, one qcow2 drive"
                                                : i == 0 ? "q35, NBD storage migration source"
                                                         : "q35, NBD storage migration destination");
        mons[i] = qmp_monitor_new(NULL);
        g_assert_true(qmp_monitor_record_to_file(mons[i], path, peer, &error));
        g_assert_no_error(error);
        g_assert_true(qmp_monitor_spawn(mons[i], i == 1 && dst_binary ? dst_binary : binary,
                                        argv, &error));
        g_assert_no_error(error);
        qemu_pids[i] = qmp_monitor_get_pid(mons[i]);
    }
    g_autoptr(GString) out = g_string_new(NULL);
    caps_dir = dir;
    live = TRUE;
    c->run(mons, out);
    live = FALSE;
    for (guint i = 0; i < c->n_peers; i++) {
        g_object_unref(mons[i]);
        qemu_pids[i] = 0;
    }
    g_assert_cmpint(chdir(cwd), ==, 0);
    g_test_message("%s live (%s): %s", c->name, label, out->str);
    if (c->derived) {
        g_autofree char *name = peer_file(c, 0, suffix);
        g_autofree char *path = g_build_filename(dir, name, NULL);
        derive(path);
    }
    g_autofree char *fresh = replay(c, dir, suffix);
    g_assert_cmpstr(fresh, ==, out->str);
    if (!rerecord) {
        g_autofree char *old = replay(c, srcdir, suffix);
        g_assert_cmpstr(old, ==, out->str);
    }
}

static void test_live(gconstpointer data)
{
    live_run(data, "qemu-system-x86_64", NULL, "qemu-7.2", "");
}

static void test_live10(gconstpointer data)
{
    const char *q10 = g_getenv("QMPKIT_QEMU_10");
    if (q10 == NULL || !g_file_test(q10, G_FILE_TEST_IS_EXECUTABLE)) {
        g_test_skip("QMPKIT_QEMU_10 not set");
        return;
    }
    live_run(data, q10, NULL, "qemu-10.0", "-qemu10");
}

static void test_live_xver(gconstpointer data)
{
    const char *q10 = g_getenv("QMPKIT_QEMU_10");
    if (q10 == NULL || !g_file_test(q10, G_FILE_TEST_IS_EXECUTABLE)) {
        g_test_skip("QMPKIT_QEMU_10 not set");
        return;
    }
    live_run(data, "qemu-system-x86_64", q10, "qemu-7.2 -> 10.0", "-7.2-to-10.0");
}

static void test_replay_xver(gconstpointer data)
{
    const Conversation *c = data;
    g_autofree char *dir = recordings_dir();
    g_autofree char *name = peer_file(c, 0, "-7.2-to-10.0");
    g_autofree char *path = g_build_filename(dir, name, NULL);
    if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
        g_test_skip("no 7.2 -> 10.0 recording");
        return;
    }
    g_autofree char *summary = replay(c, dir, "-7.2-to-10.0");
    g_test_message("%s (7.2 -> 10.0): %s", c->name, summary);
}

static void test_replay(gconstpointer data)
{
    const Conversation *c = data;
    g_autofree char *dir = recordings_dir();
    g_autofree char *summary = replay(c, dir, "");
    g_test_message("%s: %s", c->name, summary);
}

static void test_replay10(gconstpointer data)
{
    const Conversation *c = data;
    g_autofree char *dir = recordings_dir();
    g_autofree char *name = peer_file(c, 0, "-qemu10");
    g_autofree char *path = g_build_filename(dir, name, NULL);
    if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
        g_test_skip("no 10.0 recording");
        return;
    }
    g_autofree char *summary = replay(c, dir, "-qemu10");
    g_test_message("%s (10.0): %s", c->name, summary);
}

static void test_options(void)
{
    GError *error = NULL;
    gint64 b = 0;
    g_assert_true(qmp_block_copy_bandwidth_to_bytes(50, &b, &error));
    g_assert_cmpint(b, ==, 52428800);
    g_assert_true(qmp_block_copy_bandwidth_to_bytes(G_MAXINT64 / MIB, &b, &error));
    g_assert_false(qmp_block_copy_bandwidth_to_bytes(G_MAXINT64 / MIB + 1, &b, &error));
    g_assert_error(error, QMP_BLOCK_COPY_ERROR, QMP_BLOCK_COPY_ERROR_INVALID);
    g_clear_error(&error);
    g_assert_false(qmp_block_copy_bandwidth_to_bytes(-1, &b, &error));
    g_assert_error(error, QMP_BLOCK_COPY_ERROR, QMP_BLOCK_COPY_ERROR_INVALID);
    g_assert_nonnull(strstr(error->message, "negative"));
    g_clear_error(&error);
}

/* A failed assertion aborts: end the QEMUs too, or they would keep the
 * test's stdout open (and meson waiting) until its timeout. */
static void on_abort(int sig)
{
    for (guint i = 0; i < G_N_ELEMENTS(qemu_pids); i++)
        if (qemu_pids[i] > 0)
            kill(qemu_pids[i], SIGKILL);
    /* And the images (hundreds of MiB): fork and exec are async-signal-safe. */
    if (tmpdir) {
        pid_t pid = fork();
        if (pid == 0) {
            execlp("rm", "rm", "-rf", tmpdir, (char *) NULL);
            _exit(127);
        }
        if (pid > 0)
            waitpid(pid, NULL, 0);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

int main(int argc, char **argv)
{
    gboolean live_mode = argc > 1 && strcmp(argv[1], "--live") == 0;
    g_test_init(&argc, &argv, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGABRT, on_abort);
    if (live_mode) {
        g_autofree char *qemu = g_find_program_in_path("qemu-system-x86_64");
        g_autofree char *img = g_find_program_in_path("qemu-img");
        g_autofree char *io = g_find_program_in_path("qemu-io");
        if (!qemu || !img || !io) {
            g_print("skipped: qemu-system-x86_64, qemu-img or qemu-io not in PATH\n");
            return 77;
        }
        tmpdir = g_dir_make_tmp("qmpkit-block-XXXXXX", NULL);
        const char *const mk[] = { "qemu-img", "create", "-q", "-f", "qcow2", "src.qcow2",
                                   "256M", NULL };
        g_assert_cmpint(run(mk), ==, 0);
        const char *const wr[] = { "qemu-io", "-c", "write -P 0x5a 0 200M", "src.qcow2", NULL };
        g_assert_cmpint(run(wr), ==, 0);
    } else {
        g_test_add_func("/block-copy/options", test_options);
    }
    for (gsize i = 0; i < G_N_ELEMENTS(conversations); i++) {
        const Conversation *c = &conversations[i];
        g_autofree char *name = g_strdup_printf("/%s/%s", live_mode ? "live" : "replay", c->name);
        g_test_add_data_func(name, c, live_mode ? test_live : test_replay);
        if (c->qemu10) {
            g_autofree char *n10 = g_strdup_printf("/%s/%s-qemu10", live_mode ? "live" : "replay",
                                                   c->name);
            g_test_add_data_func(n10, c, live_mode ? test_live10 : test_replay10);
        }
        if (c->run == run_nbd) {
            g_autofree char *nx = g_strdup_printf("/%s/%s-7.2-to-10.0",
                                                  live_mode ? "live" : "replay", c->name);
            g_test_add_data_func(nx, c, live_mode ? test_live_xver : test_replay_xver);
        }
    }
    int rc = g_test_run();
    if (tmpdir) {
        g_autoptr(GDir) d = g_dir_open(tmpdir, 0, NULL);
        const char *f;
        while (d && (f = g_dir_read_name(d))) {
            g_autofree char *p = g_build_filename(tmpdir, f, NULL);
            unlink(p);
        }
        rmdir(tmpdir);
        g_free(tmpdir);
    }
    return rc;
}
