/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * block-save.c: `qmp-migrate mirror` (a live copy of one disk, pivoted or
 * cancelled at READY; qmp-block-copy.h) and `save` / `restore` (a guest to
 * and from a file with a versioned header; qmp-save.h).
 */
#include <stdio.h>
#include <string.h>

#include "qmp-migrate.h"
#include "qmp-block-copy.h"
#include "qmp-save.h"
#include "qmp-commands.h"
#include <glib/gstdio.h>

/* ---- mirror ---------------------------------------------------------------- */

typedef struct {
    QmpBlockCopyJob *job;
    GMainLoop *loop;
    GCancellable *cancel;
    GError *error;
    gboolean done;
} Mirror;

static gboolean mirror_tick(gpointer data)
{
    Mirror *m = data;
    if (m->done)
        return G_SOURCE_REMOVE;
    gint64 off = 0, len = 0, speed = 0;
    double rate = 0;
    g_autoptr(GError) error = NULL;
    if (!qmp_block_copy_job_refresh(m->job, &error))
        return G_SOURCE_CONTINUE; /* the job may just have ended */
    qmp_block_copy_job_get_progress(m->job, &off, &len, &speed, &rate);
    QmProgress q = { .status = qmp_block_copy_job_state_to_string(qmp_block_copy_job_get_state(m->job)),
                     .pass = -1, .done = (guint64) off, .total = (guint64) len,
                     .remaining = (guint64) (len - off), .bytes_per_s = rate > 0 ? rate : -1 };
    qm_progress(&q);
    return G_SOURCE_CONTINUE;
}

static void mirror_ready(GObject *obj, GAsyncResult *res, gpointer data)
{
    Mirror *m = data;
    qmp_block_copy_job_wait_ready_finish(m->job, res, &m->error);
    m->done = TRUE;
    g_main_loop_quit(m->loop);
}

static gboolean cancel_on_sigint(gpointer data)
{
    qm_say("cancelling (the source keeps running)");
    g_cancellable_cancel(G_CANCELLABLE(data));
    return G_SOURCE_REMOVE;
}

int qm_cmd_mirror(int argc, char **argv)
{
    g_autofree char *source = NULL, *device = NULL, *target = NULL, *format = NULL;
    gboolean existing = FALSE, cancel = FALSE, json = FALSE;
    gint64 bandwidth = 0;
    GOptionEntry entries[] = {
        { "source", 's', 0, G_OPTION_ARG_STRING, &source, "The QEMU's monitor", "ADDR" },
        { "device", 0, 0, G_OPTION_ARG_STRING, &device,
          "The disk (drive id, qdev id or node name)", "DISK" },
        { "target", 't', 0, G_OPTION_ARG_STRING, &target, "The copy's image, as QEMU opens it",
          "PATH" },
        { "format", 'f', 0, G_OPTION_ARG_STRING, &format, "The target's format", "FMT" },
        { "existing", 0, 0, G_OPTION_ARG_NONE, &existing,
          "The target image exists (same size); else QEMU creates it", NULL },
        { "bandwidth", 'b', 0, G_OPTION_ARG_INT64, &bandwidth, "Bandwidth limit in MiB/s", "MIB" },
        { "cancel", 0, 0, G_OPTION_ARG_NONE, &cancel,
          "At READY, end the job leaving a full copy, the disk on the source (default: pivot "
          "the disk to the copy)", NULL },
        { "json", 'j', 0, G_OPTION_ARG_NONE, &json, "One JSON object per update and result", NULL },
        { NULL },
    };
    const char *needs = "needs --source ADDR, --device DISK and --target PATH";
    if (!qm_parse_options("mirror", "- copy a disk live, then pivot to the copy", entries,
                          &argc, &argv, needs))
        return QM_EXIT_USAGE;
    if (!source || !device || !target)
        return qm_usage("mirror", needs);
    g_autoptr(GError) error = NULL;
    qm_output_init("mirror", json);
    g_autoptr(QmpMonitor) mon = qm_connect(source, "source", &error);
    if (!mon)
        return qm_fail(error, QM_EXIT_CONNECT);
    QmpBlockCopyOptions o;
    qmp_block_copy_options_init(&o);
    o.target = target;
    o.format = format;
    o.mode = existing ? QMP_NEW_IMAGE_MODE_EXISTING : QMP_NEW_IMAGE_MODE_ABSOLUTE_PATHS;
    o.bandwidth_mib_s = bandwidth;
    g_autoptr(QmpBlockCopyJob) job = qmp_block_copy_start(mon, device, &o, &error);
    if (!job)
        return qm_fail(error, QM_EXIT_FAILED);
    Mirror m = { .job = job, .loop = g_main_loop_new(NULL, FALSE),
                 .cancel = g_cancellable_new() };
    qm_on_sigint(cancel_on_sigint, m.cancel);
    guint tick = g_timeout_add(200, mirror_tick, &m);
    qmp_block_copy_job_wait_ready_async(job, m.cancel, mirror_ready, &m);
    g_main_loop_run(m.loop);
    g_source_remove(tick);
    qm_sigint_clear();
    int code = QM_EXIT_OK;
    g_autoptr(GError) end_error = NULL;
    const char *action;
    if (m.error) {
        /* Cancelled by Ctrl-C, or the job failed: the disk stays where it was. */
        qmp_block_copy_job_cancel(job, 60000, &end_error);
        action = "cancelled";
        code = g_error_matches(m.error, QMP_ERROR, QMP_ERROR_CANCELLED) ? QM_EXIT_CANCELLED
                                                                        : QM_EXIT_FAILED;
    } else if (cancel) {
        action = "copied (disk left on the source)";
        if (!qmp_block_copy_job_cancel(job, 60000, &end_error))
            code = QM_EXIT_FAILED;
    } else {
        action = "pivoted (the disk now is the copy)";
        if (!qmp_block_copy_job_pivot(job, 60000, &end_error))
            code = QM_EXIT_FAILED;
    }
    gint64 off = 0, len = 0, speed = 0;
    double rate = 0;
    qmp_block_copy_job_get_progress(job, &off, &len, &speed, &rate);
    g_autofree char *st = qm_json_str(qmp_block_copy_job_state_to_string(
        qmp_block_copy_job_get_state(job)));
    g_autofree char *act = qm_json_str(action);
    g_autofree char *cmd = qm_json_str(qmp_block_copy_job_get_command(job));
    g_autofree char *bytes = g_strdup_printf("%" G_GINT64_FORMAT, off);
    g_autofree char *dev = qm_json_str(device);
    g_autofree char *tgt = qm_json_str(target);
    const GError *shown = m.error ? m.error : end_error;
    qm_result(code == QM_EXIT_OK, shown ? shown->message : NULL, "device", dev, "target", tgt,
              "command", cmd, "state", st, "action", act, "copied_bytes", bytes, NULL);
    g_clear_error(&m.error);
    g_main_loop_unref(m.loop);
    g_object_unref(m.cancel);
    return code;
}

/* ---- save and restore ---------------------------------------------------------- */

typedef struct {
    GMainLoop *loop;
    GError *error;
    gboolean restore;
    QmpMonitor *mon;
} SaveRun;

static void save_progress(const QmpSaveProgress *p, gpointer data)
{
    static const char *const phases[] = { "setup", "streaming", "finishing", "done" };
    QmProgress q = { .status = phases[MIN((guint) p->phase, 3u)], .pass = -1, .done = p->bytes,
                     .total = p->bytes_total,
                     .remaining = p->bytes_total > p->bytes ? p->bytes_total - p->bytes : 0,
                     .bytes_per_s = -1 };
    qm_progress(&q);
}

static void save_done(GObject *obj, GAsyncResult *res, gpointer data)
{
    SaveRun *r = data;
    if (r->restore)
        qmp_restore_finish(r->mon, res, &r->error);
    else
        qmp_save_finish(r->mon, res, &r->error);
    g_main_loop_quit(r->loop);
}

static int save_exit(const GError *e)
{
    if (!e)
        return QM_EXIT_OK;
    if (g_error_matches(e, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return QM_EXIT_CANCELLED;
    return QM_EXIT_FAILED;
}

int qm_cmd_save(int argc, char **argv)
{
    g_autofree char *source = NULL, *file = NULL, *then = NULL;
    gboolean live = FALSE, json = FALSE;
    GOptionEntry entries[] = {
        { "source", 's', 0, G_OPTION_ARG_STRING, &source, "The QEMU's monitor", "ADDR" },
        { "file", 'f', 0, G_OPTION_ARG_FILENAME, &file, "The save image to write", "PATH" },
        { "live", 0, 0, G_OPTION_ARG_NONE, &live,
          "Keep the guest running while saving (default: pause it first)", NULL },
        { "then", 0, 0, G_OPTION_ARG_STRING, &then,
          "After the save: stop (default), quit or continue", "WHAT" },
        { "json", 'j', 0, G_OPTION_ARG_NONE, &json, "One JSON object per update and result", NULL },
        { NULL },
    };
    const char *needs = "needs --source ADDR and --file PATH (--then stop|quit|continue)";
    if (!qm_parse_options("save", "- save a guest to a file", entries, &argc, &argv, needs))
        return QM_EXIT_USAGE;
    QmpSaveThen t = QMP_SAVE_THEN_STOP;
    gboolean ok = source && file;
    if (ok && then) {
        if (strcmp(then, "quit") == 0)
            t = QMP_SAVE_THEN_QUIT;
        else if (strcmp(then, "continue") == 0)
            t = QMP_SAVE_THEN_CONTINUE;
        else if (strcmp(then, "stop") != 0)
            ok = FALSE;
    }
    if (!ok)
        return qm_usage("save", needs);
    g_autoptr(GError) error = NULL;
    qm_output_init("save", json);
    g_autoptr(QmpMonitor) mon = qm_connect(source, "source", &error);
    if (!mon)
        return qm_fail(error, QM_EXIT_CONNECT);
    g_autoptr(QmpSaveOptions) opts = qmp_save_options_new();
    qmp_save_options_set_live(opts, live);
    qmp_save_options_set_then(opts, t);
    qmp_save_options_set_progress(opts, save_progress, NULL, NULL);
    g_autoptr(GCancellable) cancel = g_cancellable_new();
    SaveRun r = { .loop = g_main_loop_new(NULL, FALSE), .mon = mon };
    qm_on_sigint(cancel_on_sigint, cancel);
    qmp_save_async(mon, file, opts, cancel, save_done, &r);
    g_main_loop_run(r.loop);
    qm_sigint_clear();
    g_main_loop_unref(r.loop);
    int code = save_exit(r.error);
    g_autofree char *f = qm_json_str(file);
    g_autofree char *size = NULL;
    GStatBuf st;
    size = g_strdup_printf("%" G_GINT64_FORMAT, !r.error && g_stat(file, &st) == 0
                                                    ? (gint64) st.st_size : (gint64) 0);
    qm_result(r.error == NULL, r.error ? r.error->message : NULL, "file", f, "bytes", size, NULL);
    g_clear_error(&r.error);
    return code;
}

int qm_cmd_restore(int argc, char **argv)
{
    g_autofree char *dest = NULL, *file = NULL;
    gboolean paused = FALSE, json = FALSE;
    GOptionEntry entries[] = {
        { "dest", 'd', 0, G_OPTION_ARG_STRING, &dest,
          "The monitor of a QEMU started with -incoming defer and the guest's devices", "ADDR" },
        { "file", 'f', 0, G_OPTION_ARG_FILENAME, &file, "The save image", "PATH" },
        { "paused", 0, 0, G_OPTION_ARG_NONE, &paused,
          "Leave the restored guest paused (default: as it was saved)", NULL },
        { "json", 'j', 0, G_OPTION_ARG_NONE, &json, "One JSON object per update and result", NULL },
        { NULL },
    };
    const char *needs = "needs --dest ADDR and --file PATH";
    if (!qm_parse_options("restore", "- restore a guest from a file", entries, &argc, &argv,
                          needs))
        return QM_EXIT_USAGE;
    if (!dest || !file)
        return qm_usage("restore", needs);
    g_autoptr(GError) error = NULL;
    qm_output_init("restore", json);
    /* The header first: a file that cannot be restored touches no QEMU. */
    g_autoptr(QmpSaveImage) img = qmp_save_image_open(file, &error);
    if (!img)
        return qm_fail(error, QM_EXIT_FAILED);
    g_autoptr(QmpMonitor) mon = qm_connect(dest, "destination", &error);
    if (!mon)
        return qm_fail(error, QM_EXIT_CONNECT);
    g_autoptr(QmpSaveOptions) opts = qmp_save_options_new();
    if (paused)
        qmp_save_options_set_start(opts, QMP_RESTORE_PAUSED);
    qmp_save_options_set_progress(opts, save_progress, NULL, NULL);
    g_autoptr(GCancellable) cancel = g_cancellable_new();
    SaveRun r = { .loop = g_main_loop_new(NULL, FALSE), .mon = mon, .restore = TRUE };
    qm_on_sigint(cancel_on_sigint, cancel);
    qmp_restore_async(mon, img, opts, cancel, save_done, &r);
    g_main_loop_run(r.loop);
    qm_sigint_clear();
    g_main_loop_unref(r.loop);
    int code = save_exit(r.error);
    g_autofree char *f = qm_json_str(file);
    g_autofree char *machine = qm_json_str(qmp_save_image_get_machine(img) ?: "");
    g_autofree char *ver = qm_json_str(qmp_save_image_get_qemu_version(img) ?: "");
    g_autoptr(QmpStatusInfo) rs = r.error ? NULL : qmp_query_status(mon, NULL);
    g_autofree char *run = qm_json_str(rs ? qmp_run_state_to_string(rs->status) : "unknown");
    qm_result(r.error == NULL, r.error ? r.error->message : NULL, "file", f, "machine", machine,
              "saved_by_qemu", ver, "run_state", run, NULL);
    g_clear_error(&r.error);
    return code;
}
