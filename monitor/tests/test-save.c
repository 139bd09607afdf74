/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Save and restore (qmp-save.h), live and replayed.
 *
 *   test-save --live   against QEMU 7.2 (and 10.0 when $QMPKIT_QEMU_10 is
 *                      set): a q35 TCG guest, -m 512, whose RAM a loader
 *                      device fills with 200 MiB of random bytes, is saved
 *                      to a file and restored into a fresh QEMU started
 *                      with -incoming defer and no loader; pmemsave of the
 *                      region must equal the random file.  The same from a
 *                      version 1 file a helper writes.  Corrupt files each
 *                      give their error, leave no QEMU and no fd behind.
 *                      Every workflow conversation is recorded (into
 *                      replay-tests/recordings/save-*.jsonl with
 *                      QMPKIT_RERECORD=1, else a temporary folder) and the
 *                      fresh recordings are replayed at once.
 *   test-save          replays the recordings in the tree strictly: the
 *                      same library calls, with the recorded QEMU.  Nobody
 *                      writes a stream then, so the test plays QEMU's part
 *                      on the file (fake stream bytes when the stream
 *                      starts), which keeps the header logic honest.
 *
 * The pmemsave checks run after the recording is closed: they are the
 * test's, not the workflow's.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "qmp-save.h"
#include "qmp-replay.h"
#include "save-test-util.h"

#define QEMU72 "qemu-system-x86_64"
#define RAM_ADDR 0x1000000
#define RAND_SIZE (200u * 1024u * 1024u)
/* As the library gives it back: re-serialized compactly by libxml2. */
#define DESC "<domain type=\"qemu\"><name>save-test</name><memory unit=\"MiB\">512</memory></domain>"
#define FAKE_STREAM 65536

static gboolean live;
static char *tmpdir;
static char *rand_path;

/* ---- helpers ------------------------------------------------------------ */

static char *
recordings_dir(void)
{
    const char *src = g_getenv("QMPKIT_SOURCE_DIR");
    g_assert_nonnull(src);
    return g_build_filename(src, "replay-tests", "recordings", NULL);
}

static gboolean
rerecord(void)
{
    return g_strcmp0(g_getenv("QMPKIT_RERECORD"), "1") == 0;
}

static char *
record_path(const char *name)
{
    g_autofree char *dir = rerecord() ? recordings_dir() : g_strdup(tmpdir);
    return g_build_filename(dir, name, NULL);
}

static const char *
qemu10(void)
{
    const char *q = g_getenv("QMPKIT_QEMU_10");
    return q && g_file_test(q, G_FILE_TEST_IS_EXECUTABLE) ? q : NULL;
}

static void
run(const char *const *argv)
{
    g_autoptr(GError) error = NULL;
    int status = 0;

    g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH,
                               NULL, NULL, NULL, NULL, &status, &error));
    g_assert_no_error(error);
    if (!g_spawn_check_wait_status(status, &error))
        g_error("%s: %s", argv[0], error->message);
}

/* A QEMU run with argv, its conversation recorded into rec under peer from
 * the greeting on, after the handshake. */
static QmpMonitor *
spawn_recorded(const char *qemu, const char *const *argv, const char *rec, const char *peer)
{
    g_autoptr(GError) error = NULL;
    QmpMonitor *mon = qmp_monitor_new(NULL);

    g_assert_true(qmp_monitor_record_to_file(mon, rec, peer, &error));
    g_assert_no_error(error);
    g_assert_true(qmp_monitor_spawn(mon, qemu, argv, &error));
    g_assert_no_error(error);
    g_assert_true(qmp_monitor_handshake(mon, QMP_HANDSHAKE_NONE, 30000, &error));
    g_assert_no_error(error);
    return mon;
}

/* A running source guest: its RAM from 16 MiB on holds the random file. */
static QmpMonitor *
spawn_source(const char *qemu, const char *machine, const char *rec)
{
    g_autofree char *loader = g_strdup_printf("loader,file=%s,addr=0x%x", rand_path, RAM_ADDR);
    const char *argv[] = { "-machine", machine, "-accel", "tcg", "-m", "512",
                           "-nodefaults", "-display", "none", "-device", loader, NULL };

    return spawn_recorded(qemu, argv, rec, "qemu source");
}

/* A destination started as a daemon would: recording from the greeting on. */
static QmpMonitor *
spawn_dest_mem(const char *qemu, const char *machine, const char *mem,
               const char *rec)
{
    const char *args[] = { "-machine", machine, "-accel", "tcg", "-m", mem,
                           "-nodefaults", "-display", "none",
                           "-incoming", "defer", NULL };

    return spawn_recorded(qemu, args, rec, "qemu destination");
}

static QmpMonitor *
spawn_dest(const char *qemu, const char *machine, const char *rec)
{
    return spawn_dest_mem(qemu, machine, "512", rec);
}

/* Stop the recording (it is complete once the hook is replaced), stop the
 * guest, dump the region and compare it with the random file. */
static void
assert_memory_restored(QmpMonitor *mon)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *dump = g_build_filename(tmpdir, "dump.bin", NULL);
    g_autofree char *args = g_strdup_printf(
        "{\"val\": %u, \"size\": %u, \"filename\": \"%s\"}", RAM_ADDR, RAND_SIZE, dump);

    qmp_monitor_set_trace(mon, NULL, NULL, NULL);
    g_autoptr(QmpJsonDoc) st = qmp_monitor_execute(mon, "stop", NULL, 0, NULL, 0, 30000, NULL, &error);
    g_assert_no_error(error);
    g_autoptr(QmpJsonDoc) pm = qmp_monitor_execute(mon, "pmemsave", args, 0, NULL, 0, 120000, NULL, &error);
    g_assert_no_error(error);
    const char *cmp[] = { "cmp", "-s", rand_path, dump, NULL };
    run(cmp); /* exits 1 (an error here) when the bytes differ */
    g_unlink(dump);
}

static guint64
status_running(QmpMonitor *mon)
{
    g_autoptr(GError) error = NULL;
    const QmpJson *ret = NULL;
    g_autoptr(QmpJsonDoc) d = qmp_monitor_execute(mon, "query-status", NULL, 0, NULL, 0, 30000, &ret, &error);
    g_assert_no_error(error);
    const QmpJson *r = qmp_json_lookup(ret, "running");
    g_assert_nonnull(r);
    g_autofree char *s = qmp_json_to_string(r);
    return g_strcmp0(s, "true") == 0;
}

/* ---- progress ------------------------------------------------------------ */

typedef struct {
    char *partial;      /* replay: where to play QEMU's part */
    gboolean restore;
    guint n_streaming;
    gboolean setup, finishing, done;
    guint64 last_bytes;
    guint64 done_bytes;
    gboolean faked;
    GCancellable *cancel_when_streaming;
} Progress;

static void
on_progress(const QmpSaveProgress *p, gpointer user_data)
{
    Progress *pr = user_data;

    switch (p->phase) {
    case QMP_SAVE_PHASE_SETUP:
        g_assert_false(pr->done);
        pr->setup = TRUE;
        break;
    case QMP_SAVE_PHASE_STREAMING:
        g_assert_true(pr->setup);
        g_assert_cmpuint(p->bytes, >=, pr->last_bytes);
        pr->last_bytes = p->bytes;
        pr->n_streaming++;
        if (!live && !pr->restore && !pr->faked) {
            /* Replay: QEMU is not there to write the stream; do it. */
            int fd = g_open(pr->partial, O_WRONLY | O_APPEND, 0);
            g_assert_cmpint(fd, >=, 0);
            g_autofree guint8 *buf = g_malloc(FAKE_STREAM);
            memset(buf, 0x5a, FAKE_STREAM);
            memcpy(buf, "QEVM", 4);
            g_assert_cmpint(write(fd, buf, FAKE_STREAM), ==, FAKE_STREAM);
            close(fd);
            pr->faked = TRUE;
        }
        if (pr->cancel_when_streaming)
            g_cancellable_cancel(pr->cancel_when_streaming);
        break;
    case QMP_SAVE_PHASE_FINISHING:
        pr->finishing = TRUE;
        break;
    case QMP_SAVE_PHASE_DONE:
        g_assert_true(pr->finishing);
        pr->done = TRUE;
        pr->done_bytes = p->bytes;
        break;
    }
}

static QmpSaveOptions *
options(Progress *pr, QmpSaveThen then)
{
    QmpSaveOptions *o = qmp_save_options_new();
    qmp_save_options_set_description(o, DESC);
    qmp_save_options_set_then(o, then);
    qmp_save_options_set_progress(o, on_progress, pr, NULL);
    qmp_save_options_set_progress_interval(o, 50);
    qmp_save_options_set_timeout(o, 240000);
    return o;
}

/* ---- the workflows, on a live or replayed monitor ----------------------- */

static void
do_save(QmpMonitor *mon, const char *path)
{
    g_autoptr(GError) error = NULL;
    Progress pr = { .partial = g_strconcat(path, ".partial", NULL) };
    g_autoptr(QmpSaveOptions) o = options(&pr, QMP_SAVE_THEN_QUIT);

    gboolean ok = qmp_save(mon, path, o, NULL, &error);
    g_assert_no_error(error);
    g_assert_true(ok);
    g_assert_true(pr.done);
    g_assert_false(g_file_test(pr.partial, G_FILE_TEST_EXISTS));
    g_autoptr(QmpSaveImage) img = qmp_save_image_open(path, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(qmp_save_image_get_version(img), ==, QMP_SAVE_VERSION_CURRENT);
    g_assert_cmpuint(qmp_save_image_get_flags(img), ==, QMP_SAVE_FLAG_RUNNING);
    g_assert_cmpstr(qmp_save_image_get_description(img), ==, DESC);
    g_assert_cmpuint(pr.done_bytes, ==, qmp_save_image_get_stream_length(img));
    if (live)
        g_assert_cmpuint(qmp_save_image_get_stream_length(img), >, RAND_SIZE);
    else
        g_assert_cmpuint(qmp_save_image_get_stream_length(img), ==, FAKE_STREAM);
    g_free(pr.partial);
}

static void
do_restore(QmpMonitor *mon, const char *path)
{
    g_autoptr(GError) error = NULL;
    Progress pr = { .restore = TRUE };
    g_autoptr(QmpSaveOptions) o = options(&pr, QMP_SAVE_THEN_STOP);
    g_autoptr(QmpSaveImage) img = qmp_save_image_open(path, &error);

    g_assert_no_error(error);
    gboolean ok = qmp_restore(mon, img, o, NULL, &error);
    g_assert_no_error(error);
    g_assert_true(ok);
    g_assert_true(pr.done);
    g_assert_cmpuint(pr.done_bytes, ==, qmp_save_image_get_stream_length(img));
}

/* A paused guest saved and left paused. */
static void
do_save_paused(QmpMonitor *mon, const char *path)
{
    g_autoptr(GError) error = NULL;
    Progress pr = { .partial = g_strconcat(path, ".partial", NULL) };
    g_autoptr(QmpSaveOptions) o = options(&pr, QMP_SAVE_THEN_STOP);

    gboolean ok = qmp_save(mon, path, o, NULL, &error);
    g_assert_no_error(error);
    g_assert_true(ok);
    g_assert_true(pr.done);
    g_autoptr(QmpSaveImage) img = qmp_save_image_open(path, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(qmp_save_image_get_flags(img), ==, 0);
    g_free(pr.partial);
}

/* A v1 image cut in the stream: only QEMU can tell. */
static void
do_restore_cut(QmpMonitor *mon, const char *path)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QmpSaveImage) img = qmp_save_image_open(path, &error);

    g_assert_no_error(error);
    g_assert_false(qmp_restore(mon, img, NULL, NULL, &error));
    g_assert_error(error, QMP_SAVE_ERROR, QMP_SAVE_ERROR_MIGRATION);
    g_assert_true(g_str_has_prefix(error->message, path));
    g_test_message("v1 cut in the stream: %s", error->message);
}

/* A destination with another machine type: refused before streaming. */
static void
do_restore_mismatch(QmpMonitor *mon, const char *path)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QmpSaveImage) img = qmp_save_image_open(path, &error);

    g_assert_no_error(error);
    g_assert_false(qmp_restore(mon, img, NULL, NULL, &error));
    g_assert_error(error, QMP_SAVE_ERROR, QMP_SAVE_ERROR_MISMATCH);
    g_assert_nonnull(strstr(error->message, "machine type pc-q35-7.2"));
    g_test_message("mismatch: %s", error->message);
}

typedef struct {
    GMainLoop *loop;
    gboolean ok;
    GError *error;
    gboolean done;
} AsyncWait;

static void
save_done(GObject *src, GAsyncResult *res, gpointer user_data)
{
    AsyncWait *w = user_data;
    w->ok = qmp_save_finish(QMP_MONITOR(src), res, &w->error);
    g_main_loop_quit(w->loop);
}

/* A live save through the async call; the guest runs on afterwards. */
static void
do_save_live_async(QmpMonitor *mon, const char *path)
{
    Progress pr = { .partial = g_strconcat(path, ".partial", NULL) };
    g_autoptr(QmpSaveOptions) o = options(&pr, QMP_SAVE_THEN_CONTINUE);
    AsyncWait w = { g_main_loop_new(NULL, FALSE), FALSE, NULL, FALSE };

    qmp_save_options_set_live(o, TRUE);
    qmp_save_async(mon, path, o, NULL, save_done, &w);
    g_clear_pointer(&o, qmp_save_options_free); /* copied by the call */
    g_main_loop_run(w.loop);
    g_main_loop_unref(w.loop);
    g_assert_no_error(w.error);
    g_assert_true(w.ok);
    g_assert_true(pr.done);
    g_autoptr(GError) error = NULL;
    g_autoptr(QmpSaveImage) img = qmp_save_image_open(path, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(qmp_save_image_get_flags(img), ==,
                     QMP_SAVE_FLAG_RUNNING | QMP_SAVE_FLAG_LIVE);
    g_unlink(path);
    g_free(pr.partial);
}

/* A live save cancelled once the stream runs: nothing is left on disk and
 * the guest, which the save never paused, runs on. */
static void
do_save_cancel(QmpMonitor *mon, const char *path)
{
    g_autoptr(GCancellable) cancel = g_cancellable_new();
    Progress pr = { .partial = g_strconcat(path, ".partial", NULL),
                    .cancel_when_streaming = cancel };
    g_autoptr(QmpSaveOptions) o = options(&pr, QMP_SAVE_THEN_QUIT);
    g_autoptr(GError) error = NULL;

    qmp_save_options_set_live(o, TRUE);
    g_assert_false(qmp_save(mon, path, o, cancel, &error));
    g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_assert_true(pr.n_streaming > 0);
    g_assert_false(pr.done);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    g_assert_false(g_file_test(pr.partial, G_FILE_TEST_EXISTS));
    g_free(pr.partial);
}

/* Write a v1 image holding the stream of the v2 image at v2_path (live), or
 * a fake stream (replay). */
static void
write_v1_from(const char *v2_path, const char *v1_path)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QmpSaveImage) img = qmp_save_image_open(v2_path, &error);
    g_assert_no_error(error);
    g_autoptr(GByteArray) hdr = save_test_v1_header(QMP_SAVE_FLAG_RUNNING,
                                                    qmp_save_image_get_config(img));
    int in = g_open(v2_path, O_RDONLY, 0);
    int out = g_open(v1_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    g_assert_cmpint(in, >=, 0);
    g_assert_cmpint(out, >=, 0);
    g_assert_cmpint(write(out, hdr->data, hdr->len), ==, (gssize)hdr->len);
    g_assert_cmpint(lseek(in, qmp_save_image_get_stream_offset(img), SEEK_SET), >=, 0);
    g_autofree char *buf = g_malloc(1 << 20);
    ssize_t n;
    while ((n = read(in, buf, 1 << 20)) > 0)
        g_assert_cmpint(write(out, buf, n), ==, n);
    g_assert_cmpint(n, ==, 0);
    close(in);
    close(out);
}

/* Replay a recording through fn on a strict replay server. */
static void
replay_one(const char *rec_path, void (*fn)(QmpMonitor *, const char *),
           const char *image)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QmpReplay) rec = qmp_replay_load(rec_path, &error);
    g_assert_no_error(error);
    QmpReplayServer *srv = NULL;
    QmpMonitor *mon = qmp_replay_test_start_full(rec, QMP_REPLAY_STRICT, NULL, &srv);
    g_assert_true(qmp_monitor_handshake(mon, QMP_HANDSHAKE_NONE, 10000, &error));
    g_assert_no_error(error);
    gboolean was_live = live;
    live = FALSE;
    fn(mon, image);
    live = was_live;
    g_object_unref(mon);
    qmp_replay_test_assert_done(srv);
    qmp_replay_server_free(srv);
}

static void
restore_done(GObject *src, GAsyncResult *res, gpointer user_data)
{
    AsyncWait *w = user_data;
    w->ok = qmp_restore_finish(QMP_MONITOR(src), res, &w->error);
    w->done = TRUE;
    g_main_loop_quit(w->loop);
}

static gboolean
quit_loop(gpointer loop)
{
    g_main_loop_quit(loop);
    return G_SOURCE_REMOVE;
}

/* Replay a restore whose QEMU exited at the end of the recording (a failed
 * incoming migration ends QEMU 7.2): once every recorded message is out,
 * the server hangs up as QEMU did. */
static void
replay_cut_then_exit(const char *rec_path, const char *image)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QmpReplay) rec = qmp_replay_load(rec_path, &error);
    g_assert_no_error(error);
    QmpReplayServer *srv = NULL;
    QmpMonitor *mon = qmp_replay_test_start_full(rec, QMP_REPLAY_STRICT, NULL, &srv);
    g_assert_true(qmp_monitor_handshake(mon, QMP_HANDSHAKE_NONE, 10000, &error));
    g_assert_no_error(error);
    g_autoptr(QmpSaveImage) img = qmp_save_image_open(image, &error);
    g_assert_no_error(error);
    AsyncWait w = { g_main_loop_new(NULL, FALSE), FALSE, NULL, FALSE };

    qmp_restore_async(mon, img, NULL, NULL, restore_done, &w);
    while (!w.done && !qmp_replay_server_is_done(srv)) {
        g_timeout_add(10, quit_loop, w.loop);
        g_main_loop_run(w.loop);
    }
    g_assert_true(qmp_replay_server_finish(srv, &error));
    g_assert_no_error(error);
    qmp_replay_server_free(srv); /* hangs up */
    if (!w.done)
        g_main_loop_run(w.loop); /* until the restore reports */
    g_main_loop_unref(w.loop);
    g_assert_false(w.ok);
    g_assert_error(w.error, QMP_SAVE_ERROR, QMP_SAVE_ERROR_MIGRATION);
    g_assert_true(g_str_has_prefix(w.error->message, image));
    g_clear_error(&w.error);
    g_object_unref(mon);
}

/* The recorded conversations of one QEMU version, replayed in order: the
 * save writes the image the restores read. */
static void
replay_set(const char *dir, const char *tag)
{
    g_autofree char *image = g_build_filename(tmpdir, "replay.save", NULL);
    g_autofree char *image1 = g_build_filename(tmpdir, "replay-v1.save", NULL);
    g_autofree char *n_save = g_strdup_printf("save-%s-save.jsonl", tag);
    g_autofree char *n_rest = g_strdup_printf("save-%s-restore.jsonl", tag);
    g_autofree char *n_rest1 = g_strdup_printf("save-%s-restore-v1.jsonl", tag);
    g_autofree char *r_save = g_build_filename(dir, n_save, NULL);
    g_autofree char *r_rest = g_build_filename(dir, n_rest, NULL);
    g_autofree char *r_rest1 = g_build_filename(dir, n_rest1, NULL);
    g_autofree char *n_live = g_strdup_printf("save-%s-live.jsonl", tag);
    g_autofree char *n_cancel = g_strdup_printf("save-%s-cancel.jsonl", tag);
    g_autofree char *r_live = g_build_filename(dir, n_live, NULL);
    g_autofree char *r_cancel = g_build_filename(dir, n_cancel, NULL);

    replay_one(r_save, do_save, image);
    replay_one(r_rest, do_restore, image);
    if (g_file_test(r_rest1, G_FILE_TEST_EXISTS)) {
        write_v1_from(image, image1);
        replay_one(r_rest1, do_restore, image1);
    }
    g_autofree char *n_x = g_strdup_printf("save-%s-restore-on-10.jsonl", tag);
    g_autofree char *r_x = g_build_filename(dir, n_x, NULL);
    if (g_file_test(r_x, G_FILE_TEST_EXISTS))
        replay_one(r_x, do_restore, image);
    g_autofree char *n_mis = g_strdup_printf("save-%s-restore-mismatch.jsonl", tag);
    g_autofree char *r_mis = g_build_filename(dir, n_mis, NULL);
    if (g_file_test(r_mis, G_FILE_TEST_EXISTS))
        replay_one(r_mis, do_restore_mismatch, image);
    g_autofree char *n_cut = g_strdup_printf("save-%s-restore-cut-v1.jsonl", tag);
    g_autofree char *r_cut = g_build_filename(dir, n_cut, NULL);
    if (g_file_test(r_cut, G_FILE_TEST_EXISTS)) {
        write_v1_from(image, image1);
        replay_cut_then_exit(r_cut, image1);
    }
    if (g_file_test(r_live, G_FILE_TEST_EXISTS))
        replay_one(r_live, do_save_live_async, image1);
    g_autofree char *n_paused = g_strdup_printf("save-%s-save-paused.jsonl", tag);
    g_autofree char *r_paused = g_build_filename(dir, n_paused, NULL);
    if (g_file_test(r_paused, G_FILE_TEST_EXISTS)) {
        replay_one(r_paused, do_save_paused, image1);
        g_unlink(image1);
    }
    if (g_file_test(r_cancel, G_FILE_TEST_EXISTS))
        replay_one(r_cancel, do_save_cancel, image1);
    g_unlink(image);
    g_unlink(image1);
}

/* ---- live ------------------------------------------------------------------ */

static void
live_set(const char *qemu, const char *machine, const char *tag, gboolean with_v1)
{
    g_autofree char *image = g_build_filename(tmpdir, "guest.save", NULL);
    g_autofree char *image1 = g_build_filename(tmpdir, "guest-v1.save", NULL);
    g_autofree char *n_save = g_strdup_printf("save-%s-save.jsonl", tag);
    g_autofree char *n_rest = g_strdup_printf("save-%s-restore.jsonl", tag);
    g_autofree char *n_rest1 = g_strdup_printf("save-%s-restore-v1.jsonl", tag);
    g_autofree char *r_save = record_path(n_save);
    g_autofree char *r_rest = record_path(n_rest);
    g_autofree char *r_rest1 = record_path(n_rest1);
    guint fds = save_test_count_fds();

    /* Save a running guest, then QEMU quits. */
    QmpMonitor *src = spawn_source(qemu, machine, r_save);
    GPid src_pid = qmp_monitor_get_pid(src);
    do_save(src, image);
    g_object_unref(src);
    g_assert_cmpint(kill(src_pid, 0), <, 0); /* reaped */

    /* Restore into a fresh QEMU: running, as saved; memory equal. */
    QmpMonitor *dst = spawn_dest(qemu, machine, r_rest);
    do_restore(dst, image);
    qmp_monitor_set_trace(dst, NULL, NULL, NULL); /* the recording ends here */
    g_assert_true(status_running(dst));
    assert_memory_restored(dst);
    g_object_unref(dst);

    if (with_v1 && qemu10() != NULL) {
        /* The same image (QEMU 7.2, pc-q35-7.2, written through fd:) into
         * QEMU 10.0 with the same machine type, through file:/dev/fdset. */
        g_autofree char *r_x = record_path("save-72-restore-on-10.jsonl");
        QmpMonitor *dx = spawn_dest(qemu10(), "pc-q35-7.2", r_x);
        do_restore(dx, image);
        qmp_monitor_set_trace(dx, NULL, NULL, NULL);
        g_assert_true(status_running(dx));
        assert_memory_restored(dx);
        g_object_unref(dx);
    }
    if (with_v1) {
        write_v1_from(image, image1);
        QmpMonitor *d1 = spawn_dest(qemu, machine, r_rest1);
        do_restore(d1, image1);
        qmp_monitor_set_trace(d1, NULL, NULL, NULL);
        g_assert_true(status_running(d1));
        assert_memory_restored(d1);
        g_object_unref(d1);
    }
    g_unlink(image);
    g_unlink(image1);
    g_assert_cmpuint(save_test_count_fds(), ==, fds);

    /* The fresh recordings replay through the same calls. */
    g_autofree char *dir = g_path_get_dirname(r_save);
    replay_set(dir, tag);
}

static void
test_live_72(void)
{
    live_set(QEMU72, "q35", "72", TRUE);
}

/* Live save (async, the guest runs on) of a small guest, and a live save
 * of the big guest cancelled mid-stream: both recorded. */
static void
test_live_72_live_and_cancel(void)
{
    g_autofree char *image = g_build_filename(tmpdir, "live.save", NULL);
    g_autofree char *r_live = record_path("save-72-live.jsonl");
    g_autofree char *r_cancel = record_path("save-72-cancel.jsonl");
    g_autoptr(GError) error = NULL;
    guint fds = save_test_count_fds();

    {
        const char *argv[] = { "-machine", "q35", "-accel", "tcg", "-m", "64",
                               "-nodefaults", "-display", "none", NULL };
        g_autoptr(QmpMonitor) mon = qmp_monitor_new(NULL);
        g_assert_true(qmp_monitor_record_to_file(mon, r_live, "qemu source", &error));
        g_assert_true(qmp_monitor_spawn(mon, QEMU72, argv, &error));
        g_assert_no_error(error);
        g_assert_true(qmp_monitor_handshake(mon, QMP_HANDSHAKE_NONE, 30000, &error));
        g_assert_no_error(error);
        do_save_live_async(mon, image);
        qmp_monitor_set_trace(mon, NULL, NULL, NULL);
        g_assert_true(status_running(mon));
    }
    {
        g_autoptr(QmpMonitor) mon = spawn_source(QEMU72, "q35", r_cancel);
        do_save_cancel(mon, image);
        qmp_monitor_set_trace(mon, NULL, NULL, NULL);
        g_assert_true(status_running(mon));
    }
    g_assert_cmpuint(save_test_count_fds(), ==, fds);
    replay_one(r_live, do_save_live_async, image);
    replay_one(r_cancel, do_save_cancel, image);
}

static void
test_live_10(void)
{
    if (qemu10() == NULL) {
        g_test_skip("QMPKIT_QEMU_10 is not set");
        return;
    }
    live_set(qemu10(), "q35", "10", FALSE);
}

/* Corrupt images: each its own error, before anything is started; a v1
 * image cut in the stream (which only QEMU can notice) fails the restore
 * with QEMU's reason and leaves no QEMU behind. */
static void
test_live_corrupt(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *path = g_build_filename(tmpdir, "corrupt.save", NULL);
    guint fds = save_test_count_fds();

    /* A real image to damage: a small guest (no loader) started paused
     * (-S), saved with QMP_SAVE_THEN_STOP: its image says "not running". */
    {
        const char *argv[] = { "-machine", "q35", "-accel", "tcg", "-m", "64",
                               "-nodefaults", "-display", "none", "-S", NULL };
        g_autofree char *r_paused = record_path("save-72-save-paused.jsonl");
        g_autoptr(QmpMonitor) mon = qmp_monitor_new(NULL);
        g_assert_true(qmp_monitor_record_to_file(mon, r_paused, "qemu source", &error));
        g_assert_true(qmp_monitor_spawn(mon, QEMU72, argv, &error));
        g_assert_no_error(error);
        g_assert_true(qmp_monitor_handshake(mon, QMP_HANDSHAKE_NONE, 30000, &error));
        g_assert_no_error(error);
        do_save_paused(mon, path);
        qmp_monitor_set_trace(mon, NULL, NULL, NULL);
        g_assert_false(status_running(mon));
    }
    gsize len;
    g_autofree char *good = NULL;
    g_assert_true(g_file_get_contents(path, &good, &len, &error));
    g_autoptr(QmpSaveImage) gimg = qmp_save_image_open(path, &error);
    g_assert_no_error(error);
    guint64 off = qmp_save_image_get_stream_offset(gimg);

    static const struct {
        const char *name;
        int code;
        const char *needle;
    } cases[] = {
        { "flipped-magic", QMP_SAVE_ERROR_BAD_MAGIC, "field magic" },
        { "cut-in-header", QMP_SAVE_ERROR_TRUNCATED, "field stream_offset" },
        { "cut-in-stream", QMP_SAVE_ERROR_TRUNCATED, "truncated stream" },
        { "bad-config-length", QMP_SAVE_ERROR_BAD_FIELD, "field config_length" },
        { "version-99", QMP_SAVE_ERROR_NEWER_VERSION, "written by a newer version" },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *bad = g_memdup2(good, len);
        gsize blen = len;
        switch (i) {
        case 0: bad[0] ^= 0x01; break;
        case 1: blen = 36; break;
        case 2: blen = off + (len - off) / 2; break;
        case 3: bad[26] = 0x10; break; /* + 1 MiB */
        case 4: bad[16] = 99; break;
        }
        g_assert_true(g_file_set_contents(path, bad, blen, &error));
        /* The daemon's order: check the image, and start QEMU only then. */
        QmpSaveImage *img = qmp_save_image_open(path, &error);
        g_assert_null(img);
        g_assert_error(error, QMP_SAVE_ERROR, cases[i].code);
        g_assert_true(g_str_has_prefix(error->message, path));
        if (!strstr(error->message, cases[i].needle))
            g_error("%s: \"%s\" lacks \"%s\"", cases[i].name, error->message, cases[i].needle);
        g_test_message("%s: %s", cases[i].name, error->message);
        g_clear_error(&error);
    }

    /* v1, cut in the stream: the header is fine, QEMU finds the cut. */
    g_autoptr(GByteArray) v1 = save_test_v1_header(0, qmp_save_image_get_config(gimg));
    gsize keep = (len - off) / 2;
    g_byte_array_append(v1, (const guint8 *)good + off, keep);
    g_assert_true(g_file_set_contents(path, (const char *)v1->data, v1->len, &error));
    g_autoptr(QmpSaveImage) img1 = qmp_save_image_open(path, &error);
    g_assert_no_error(error);
    const char *small[] = { "-machine", "q35", "-accel", "tcg", "-m", "64",
                            "-nodefaults", "-display", "none", NULL };
    g_autofree char *r_cut = record_path("save-72-restore-cut-v1.jsonl");
    QmpMonitor *dst = spawn_dest_mem(QEMU72, "q35", "64", r_cut);
    GPid pid = qmp_monitor_get_pid(dst);
    g_assert_cmpint(pid, >, 0);
    do_restore_cut(dst, path);
    g_object_unref(dst);
    g_assert_cmpint(kill(pid, 0), <, 0); /* no QEMU left */
    g_assert_cmpint(errno, ==, ESRCH);

    /* The good image into a QEMU of another machine type. */
    g_assert_true(g_file_set_contents(path, good, len, &error));
    g_autofree char *r_mis = record_path("save-72-restore-mismatch.jsonl");
    QmpMonitor *dm = spawn_dest_mem(QEMU72, "pc", "64", r_mis);
    do_restore_mismatch(dm, path);
    g_object_unref(dm);

    /* And through the tools' helper, which starts QEMU with -incoming
     * defer itself (not recorded: the helper does the handshake). */
    QmpMonitor *ds = qmp_restore_spawn(QEMU72, small, &error);
    g_assert_no_error(error);
    g_assert_true(qmp_restore(ds, gimg, NULL, NULL, &error));
    g_assert_no_error(error);
    g_assert_false(status_running(ds)); /* paused when saved: paused now */
    g_object_unref(ds);

    g_unlink(path);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    g_assert_cmpuint(save_test_count_fds(), ==, fds);
}

/* ---- replay of the recordings in the tree -------------------------------- */

static void
test_replay(gconstpointer tag)
{
    g_autofree char *dir = recordings_dir();
    g_autofree char *name = g_strdup_printf("save-%s-save.jsonl", (const char *)tag);
    g_autofree char *path = g_build_filename(dir, name, NULL);

    if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
        g_test_skip("no recording");
        return;
    }
    guint fds = save_test_count_fds();
    replay_set(dir, tag);
    g_assert_cmpuint(save_test_count_fds(), ==, fds);
}

/* Refusals that send nothing, or nothing that changes QEMU: a description
 * that is not XML (no command at all, no file), and a restore into a QEMU
 * not started with -incoming defer (the recorded 7.2 answers "prelaunch"
 * to query-status).  Lenient replay of the negotiation recording. */
static void
test_replay_refusals(void)
{
    g_autoptr(GError) error = NULL;
    guint fds = save_test_count_fds();
    QmpReplayServer *srv = NULL;
    QmpMonitor *mon = qmp_replay_test_start("negotiation.jsonl", QMP_REPLAY_LENIENT, &srv);
    g_autofree char *path = g_build_filename(tmpdir, "refused.save", NULL);
    g_autofree char *partial = g_strconcat(path, ".partial", NULL);

    g_assert_true(qmp_monitor_handshake(mon, QMP_HANDSHAKE_OOB, 10000, &error));
    g_assert_no_error(error);
    guint before = qmp_replay_server_get_n_commands(srv);
    g_autoptr(QmpSaveOptions) o = qmp_save_options_new();
    qmp_save_options_set_description(o, "<domain><name>x</domain>");
    g_assert_false(qmp_save(mon, path, o, NULL, &error));
    g_assert_error(error, QMP_SAVE_ERROR, QMP_SAVE_ERROR_BAD_CONFIG);
    g_assert_true(g_str_has_prefix(error->message, path));
    g_clear_error(&error);
    g_assert_cmpuint(qmp_replay_server_get_n_commands(srv), ==, before);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    g_assert_false(g_file_test(partial, G_FILE_TEST_EXISTS));

    /* A real image (v1, from the helper) into a QEMU that is not waiting. */
    g_autofree char *cfg = g_strdup(
        "<qmpkit-save><qemu version=\"7.2.22\" machine=\"pc-q35-7.2\"/></qmpkit-save>");
    g_autoptr(GByteArray) v1 = save_test_v1_image(QMP_SAVE_FLAG_RUNNING, cfg, 100);
    g_assert_true(g_file_set_contents(path, (const char *)v1->data, v1->len, &error));
    g_autoptr(QmpSaveImage) img = qmp_save_image_open(path, &error);
    g_assert_no_error(error);
    qmp_save_options_set_check_machine(o, FALSE);
    g_assert_false(qmp_restore(mon, img, o, NULL, &error));
    g_assert_error(error, QMP_SAVE_ERROR, QMP_SAVE_ERROR_MISMATCH);
    g_assert_nonnull(strstr(error->message, "-incoming defer"));
    g_object_unref(mon);
    qmp_replay_server_free(srv);
    g_unlink(path);
    g_assert_cmpuint(save_test_count_fds(), ==, fds);
}

int
main(int argc, char **argv)
{
    gboolean live_mode = argc > 1 && strcmp(argv[1], "--live") == 0;
    int rc;

    g_test_init(&argc, &argv, NULL);
    /* libqmp's farewell "quit" to a QEMU that already quit. */
    signal(SIGPIPE, SIG_IGN);
    tmpdir = g_dir_make_tmp("qmpkit-save-XXXXXX", NULL);
    g_assert_nonnull(tmpdir);
    if (live_mode) {
        g_autofree char *qemu = g_find_program_in_path(QEMU72);
        if (!qemu) {
            g_print("skipped: %s not found in PATH\n", QEMU72);
            g_rmdir(tmpdir);
            return 77;
        }
        live = TRUE;
        rand_path = g_build_filename(tmpdir, "rand.bin", NULL);
        g_autofree char *of = g_strdup_printf("of=%s", rand_path);
        const char *dd[] = { "dd", "if=/dev/urandom", of, "bs=1M", "count=200",
                             "status=none", NULL };
        run(dd);
        g_test_add_func("/save/live/7.2", test_live_72);
        g_test_add_func("/save/live/corrupt", test_live_corrupt);
        g_test_add_func("/save/live/7.2-live-cancel", test_live_72_live_and_cancel);
        g_test_add_func("/save/live/10.0", test_live_10);
    } else {
        g_test_add_data_func("/save/replay/7.2", "72", test_replay);
        g_test_add_data_func("/save/replay/10.0", "10", test_replay);
        g_test_add_func("/save/replay/refusals", test_replay_refusals);
    }
    rc = g_test_run();
    /* Our private folder: the random file, images, fresh recordings. */
    GDir *d = g_dir_open(tmpdir, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d)) != NULL) {
        g_autofree char *p = g_build_filename(tmpdir, name, NULL);
        g_unlink(p);
    }
    if (d)
        g_dir_close(d);
    g_rmdir(tmpdir);
    return rc;
}
