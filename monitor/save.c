/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * save.c: the save and restore workflows (qmp-save.h).  Both are one state
 * machine over the monitor's async calls: the steps before the stream, the
 * stream (fd handed over, migrate / migrate-incoming, MIGRATION events),
 * the steps after, and on failure a clean-up that gives back what was
 * taken (the named fd or fd set, a guest the save paused, the partial file).
 *
 * The commands sent depend only on the options, the image and the replies
 * and events received, never on timing, so a recorded conversation replays
 * strictly.  Progress comes from the file itself (its size while saving,
 * the shared file offset while restoring), not from polling QEMU.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "save-private.h"
#include "workflow-private.h"
#include "qmp-commands.h"
#include "qmp-events.h"

#define SAVE_FDNAME "qmpkit-save"
#define RESTORE_FDNAME "qmpkit-restore"

typedef enum {
    ST_MACHINE,      /* qom-get /machine type */
    ST_STATUS,       /* query-status */
    ST_CAPS,         /* migrate-set-capabilities events=on */
    ST_OPEN,         /* local: write the header / open the image (before
                      * the guest is touched: a bad path costs nothing) */
    ST_STOP,         /* save, not live, guest running: stop */
    ST_PASS_FD,      /* getfd or add-fd */
    ST_MIGRATE,      /* migrate or migrate-incoming */
    ST_WAIT,         /* MIGRATION completed */
    ST_REMOVE_FD,    /* remove-fd (file transport) */
    ST_FINISH_FILE,  /* local: stream_length, sync, rename (save) */
    ST_THEN,         /* quit / cont */
    ST_DONE,
    ST_CLEANUP,      /* failure: giving things back */
    ST_FINISHED,
} Stage;

typedef struct {
    GTask *task;
    QmpMonitor *mon;
    QmpSaveOptions *opts;
    gboolean restore;
    Stage stage;
    GError *error;

    /* save */
    char *path;
    char *partial;
    gboolean partial_created;
    char *config;
    guint64 header_len;
    /* restore */
    char *image_path;
    char *image_machine;
    guint32 image_flags;

    int fd;           /* ours: header writes, progress */
    int qemu_fd;      /* the one handed to QEMU (write-only for a save) */
    guint64 offset;
    guint64 stream_length;
    QmpSaveTransport transport;
    char *machine;
    gboolean was_running;
    gboolean we_stopped;
    gboolean fd_named;      /* getfd done, migrate not yet sent */
    gboolean fdset_added;
    gint64 fdset_id;
    gboolean migrate_sent;
    QmpMigrationStatus mig_status;
    gboolean mig_over;      /* completed, failed or cancelled seen */
    gboolean aborting;      /* migrate_cancel sent */
    guint64 ram_total;

    guint mig_sub;
    gulong closed_id;
    gulong cancel_id;
    GSource *progress_src;
    GSource *timeout_src;
    GSource *idle_src;
    guint in_flight;        /* commands whose reply has not come back */
} Job;

typedef gboolean (*BoolFinish)(QmpMonitor *mon, GAsyncResult *res,
                               GError **error);

/* One command in flight: the job it belongs to, the _finish for commands
 * without a return, and its name for messages.  The job outlives every
 * call: when it completes with replies still due (a query-migrate sent on
 * an event, a quit whose reply raced the end of the connection), its
 * memory stays until the last reply came back. */
typedef struct {
    Job *j;
    BoolFinish finish;
    const char *doing;
} Call;

static void step(Job *j);
static void job_fail(Job *j, GError *error);

static Call *
call_new(Job *j, BoolFinish finish, const char *doing)
{
    Call *c = g_new0(Call, 1);

    c->j = j;
    c->finish = finish;
    c->doing = doing;
    j->in_flight++;
    return c;
}

/* Frees the call; TRUE when its job is over (then the caller must not
 * touch the job: it may be freed here). */
static gboolean
call_end(Call *c)
{
    Job *j = c->j;

    g_free(c);
    j->in_flight--;
    if (j->stage != ST_FINISHED)
        return FALSE;
    if (j->in_flight == 0)
        g_free(j);
    return TRUE;
}

/* Give back everything but the Job's own memory. */
static void
job_release(Job *j)
{
    if (j->mig_sub)
        qmp_monitor_unsubscribe(j->mon, j->mig_sub);
    if (j->closed_id)
        g_signal_handler_disconnect(j->mon, j->closed_id);
    if (j->cancel_id)
        g_cancellable_disconnect(g_task_get_cancellable(j->task), j->cancel_id);
    qmp_workflow_source_drop(&j->progress_src);
    qmp_workflow_source_drop(&j->timeout_src);
    qmp_workflow_source_drop(&j->idle_src);
    if (j->fd >= 0)
        close(j->fd);
    if (j->qemu_fd >= 0 && j->qemu_fd != j->fd)
        close(j->qemu_fd);
    g_clear_error(&j->error);
    g_free(j->path);
    g_free(j->partial);
    g_free(j->config);
    g_free(j->image_path);
    g_free(j->image_machine);
    g_free(j->machine);
    qmp_save_options_free(j->opts);
    j->opts = NULL;
    g_clear_object(&j->mon);
}

static const char *
what(Job *j)
{
    return j->restore ? j->image_path : j->path;
}

static guint64
stream_bytes(Job *j)
{
    struct stat st;

    if (j->fd < 0)
        return 0;
    if (j->restore) {
        off_t pos = lseek(j->fd, 0, SEEK_CUR);
        /* The FD transport shares our file offset with QEMU; the file
         * transport reads at its own offsets (pread) and leaves it. */
        return pos > (off_t)j->offset ? (guint64)pos - j->offset : 0;
    }
    if (fstat(j->fd, &st) < 0 || (guint64)st.st_size < j->offset)
        return 0;
    return (guint64)st.st_size - j->offset;
}

static void
report(Job *j, QmpSavePhase phase)
{
    qmp_save_report_progress(j->opts, phase, stream_bytes(j),
                             j->restore ? j->stream_length : j->ram_total);
}

static GSource *
attach_timeout(Job *j, guint ms, GSourceFunc func)
{
    GSource *s = g_timeout_source_new(ms);
    g_source_set_callback(s, func, j, NULL);
    g_source_attach(s, qmp_monitor_get_context(j->mon));
    return s;
}

/* ---- completion ----------------------------------------------------------- */

static void
job_complete(Job *j)
{
    GTask *task = j->task;

    GError *error = g_steal_pointer(&j->error);

    j->stage = ST_FINISHED;
    job_release(j);
    if (j->in_flight == 0)
        g_free(j);
    qmp_workflow_task_return(task, error);
}

/* ---- clean-up after a failure -------------------------------------------- */

static void cleanup_next(Job *j);

static void
cleanup_reply(GObject *src, GAsyncResult *res, gpointer user_data)
{
    Call *c = user_data;
    Job *j = c->j;
    g_autoptr(GError) ignored = NULL;

    /* Errors while giving things back are not the error reported. */
    c->finish(QMP_MONITOR(src), res, &ignored);
    if (call_end(c))
        return;
    cleanup_next(j);
}

static void
cancel_reply(GObject *src, GAsyncResult *res, gpointer user_data)
{
    Call *c = user_data;
    Job *j = c->j;
    g_autoptr(GError) ignored = NULL;
    gboolean ok = qmp_migrate_cancel_finish(QMP_MONITOR(src), res, &ignored);

    if (call_end(c))
        return;
    /* The MIGRATION event or the grace timer goes on with the clean-up. */
    if (!ok && !qmp_monitor_is_connected(j->mon) && j->timeout_src) {
        qmp_workflow_source_drop(&j->timeout_src);
        j->mig_over = TRUE;
        cleanup_next(j);
    }
}

/* Each call sends at most one command and returns; the reply comes back
 * here until nothing is left to give back. */
static void
cleanup_next(Job *j)
{
    gboolean alive = qmp_monitor_is_connected(j->mon);

    if (alive && j->fd_named) {
        j->fd_named = FALSE;
        g_autoptr(QmpClosefdArgs) a = g_new0(QmpClosefdArgs, 1);
        a->fdname = g_strdup(j->restore ? RESTORE_FDNAME : SAVE_FDNAME);
        qmp_closefd_async(j->mon, a, NULL, cleanup_reply,
                          call_new(j, qmp_closefd_finish, "closefd"));
        return;
    }
    if (alive && j->fdset_added && (j->mig_over || !j->migrate_sent)) {
        j->fdset_added = FALSE;
        QmpRemoveFdArgs a = { .fdset_id = j->fdset_id };
        qmp_remove_fd_async(j->mon, &a, NULL, cleanup_reply,
                            call_new(j, qmp_remove_fd_finish, "remove-fd"));
        return;
    }
    if (alive && !j->restore && j->was_running &&
        (j->we_stopped || j->mig_status == QMP_MIGRATION_STATUS_COMPLETED)) {
        j->we_stopped = FALSE;
        j->mig_status = QMP_MIGRATION_STATUS_NONE;
        qmp_cont_async(j->mon, NULL, cleanup_reply,
                       call_new(j, qmp_cont_finish, "cont"));
        return;
    }
    if (j->qemu_fd >= 0 && j->qemu_fd != j->fd)
        close(j->qemu_fd);
    j->qemu_fd = -1;
    if (j->fd >= 0) {
        close(j->fd);
        j->fd = -1;
    }
    if (j->partial_created) {
        g_unlink(j->partial);
        j->partial_created = FALSE;
    }
    job_complete(j);
}

static gboolean
cleanup_after_cancel(gpointer user_data)
{
    Job *j = user_data;
    /* migrate_cancel was sent: wait for QEMU to end the migration (the
     * MIGRATION event), or give up on it after this grace period. */
    g_source_unref(j->timeout_src);
    j->timeout_src = NULL;
    j->mig_over = TRUE;
    cleanup_next(j);
    return G_SOURCE_REMOVE;
}

static void
job_fail(Job *j, GError *error)
{
    if (j->stage >= ST_CLEANUP) {
        g_clear_error(&error);
        return;
    }
    j->error = error;
    j->stage = ST_CLEANUP;
    qmp_workflow_source_drop(&j->progress_src);
    qmp_workflow_source_drop(&j->timeout_src);
    if (!j->restore && j->migrate_sent && !j->mig_over &&
        qmp_monitor_is_connected(j->mon)) {
        /* Stop QEMU writing before the file goes away; the MIGRATION event
         * (cancelled) resumes the clean-up, or the grace timer does. */
        j->aborting = TRUE;
        qmp_migrate_cancel_async(j->mon, NULL, cancel_reply,
                                 call_new(j, NULL, "migrate_cancel"));
        j->timeout_src = attach_timeout(j, 10000, cleanup_after_cancel);
        return;
    }
    cleanup_next(j);
}

/* ---- the steps -------------------------------------------------------------- */

static gboolean
check_reply(Job *j, gboolean ok, GError *error, const char *doing)
{
    if (ok)
        return TRUE;
    g_prefix_error(&error, "%s: %s: ", what(j), doing);
    job_fail(j, error);
    return FALSE;
}

static void
next(Job *j)
{
    if (j->stage >= ST_CLEANUP)
        return;
    j->stage++;
    step(j);
}

/* Ends the call of a step and checks its reply (ok, error: taken).  The
 * job when the step goes on; NULL when the job is over or cleaning up, or
 * when the reply failed it. */
static Job *
step_reply(Call *c, gboolean ok, GError *error, const char *doing)
{
    Job *j = c->j;

    if (call_end(c) || j->stage >= ST_CLEANUP) {
        g_clear_error(&error);
        return NULL;
    }
    return check_reply(j, ok, error, doing) ? j : NULL;
}

static void
machine_reply(GObject *src, GAsyncResult *res, gpointer user_data)
{
    Call *c = user_data;
    GError *error = NULL;
    g_autoptr(QmpJsonDoc) doc = qmp_qom_get_finish(QMP_MONITOR(src), res, &error);
    Job *j = step_reply(c, doc != NULL, error, "reading the machine type");

    if (j == NULL)
        return;
    const char *type = qmp_json_get_string(qmp_json_doc_root(doc));
    if (type == NULL) {
        job_fail(j, g_error_new(QMP_SAVE_ERROR, QMP_SAVE_ERROR_FAILED,
                                "%s: /machine's type is not a string", what(j)));
        return;
    }
    j->machine = qmp_save_machine_from_qom(type);
    if (j->restore && j->opts->check_machine &&
        g_strcmp0(j->machine, j->image_machine) != 0) {
        job_fail(j, g_error_new(QMP_SAVE_ERROR, QMP_SAVE_ERROR_MISMATCH,
                                "%s: saved from machine type %s, but the "
                                "destination QEMU runs %s",
                                what(j), j->image_machine, j->machine));
        return;
    }
    next(j);
}

static void
status_reply(GObject *src, GAsyncResult *res, gpointer user_data)
{
    Call *c = user_data;
    GError *error = NULL;
    g_autoptr(QmpStatusInfo) st = qmp_query_status_finish(QMP_MONITOR(src), res, &error);
    Job *j = step_reply(c, st != NULL, error, "query-status");

    if (j == NULL)
        return;
    if (j->restore && st->status != QMP_RUN_STATE_INMIGRATE) {
        job_fail(j, g_error_new(QMP_SAVE_ERROR, QMP_SAVE_ERROR_MISMATCH,
                                "%s: the destination QEMU is %s, not waiting "
                                "for an incoming stream (start it with "
                                "-incoming defer)", what(j),
                                qmp_run_state_to_string(st->status)));
        return;
    }
    j->was_running = st->running;
    next(j);
}

static void
bool_reply(GObject *src, GAsyncResult *res, gpointer user_data)
{
    Call *c = user_data;
    GError *error = NULL;
    gboolean ok = c->finish(QMP_MONITOR(src), res, &error);
    Job *j = step_reply(c, ok, error, c->doing);

    if (j == NULL)
        return;
    switch (j->stage) {
    case ST_STOP:
        j->we_stopped = TRUE;
        break;
    case ST_PASS_FD:
        j->fd_named = TRUE;
        break;
    case ST_MIGRATE:
        /* The stream may have ended before the reply was read. */
        if (!j->mig_over) {
            j->stage = ST_WAIT;
            return;
        }
        break;
    case ST_REMOVE_FD:
        j->fdset_added = FALSE;
        break;
    default:
        break;
    }
    next(j);
}

static void
add_fd_reply(GObject *src, GAsyncResult *res, gpointer user_data)
{
    Call *c = user_data;
    GError *error = NULL;
    g_autoptr(QmpAddfdInfo) info = qmp_add_fd_finish(QMP_MONITOR(src), res, &error);
    Job *j = step_reply(c, info != NULL, error, "add-fd");

    if (j == NULL)
        return;
    j->fdset_added = TRUE;
    j->fdset_id = info->fdset_id;
    next(j);
}

static void
failed_info_reply(GObject *src, GAsyncResult *res, gpointer user_data)
{
    Call *c = user_data;
    Job *j = c->j;
    g_autoptr(GError) error = NULL;
    g_autoptr(QmpMigrationInfo) info = qmp_query_migrate_finish(QMP_MONITOR(src), res, &error);

    if (call_end(c) || j->stage >= ST_CLEANUP)
        return;
    const char *reason = info && info->error_desc ? info->error_desc : NULL;
    if (j->restore)
        job_fail(j, g_error_new(QMP_SAVE_ERROR, QMP_SAVE_ERROR_MIGRATION,
                                "%s: QEMU could not load the stream (%s): %s",
                                what(j),
                                qmp_migration_status_to_string(j->mig_status),
                                reason ? reason : "the stream is damaged or cut; "
                                "QEMU gave no reason on QMP"));
    else
        job_fail(j, g_error_new(QMP_SAVE_ERROR, QMP_SAVE_ERROR_MIGRATION,
                                "%s: QEMU's migration %s: %s", what(j),
                                qmp_migration_status_to_string(j->mig_status),
                                reason ? reason : "no reason given"));
}

static void
ram_total_reply(GObject *src, GAsyncResult *res, gpointer user_data)
{
    Call *c = user_data;
    Job *j = c->j;
    g_autoptr(GError) error = NULL;
    g_autoptr(QmpMigrationInfo) info = qmp_query_migrate_finish(QMP_MONITOR(src), res, &error);

    if (call_end(c) || j->stage >= ST_CLEANUP || info == NULL || info->ram == NULL)
        return;
    j->ram_total = (guint64)info->ram->total;
}

static void
on_migration(QmpMonitor *mon, const QmpMigrationEvent *data, gint64 ts,
             const GError *decode_error, gpointer user_data)
{
    Job *j = user_data;
    (void)ts;

    if (data == NULL || decode_error != NULL)
        return;
    j->mig_status = data->status;
    switch (data->status) {
    case QMP_MIGRATION_STATUS_ACTIVE:
        if (j->stage < ST_CLEANUP) {
            report(j, QMP_SAVE_PHASE_STREAMING);
            if (!j->restore)
                qmp_query_migrate_async(mon, NULL, ram_total_reply,
                                        call_new(j, NULL, "query-migrate"));
        }
        break;
    case QMP_MIGRATION_STATUS_COMPLETED:
    case QMP_MIGRATION_STATUS_FAILED:
    case QMP_MIGRATION_STATUS_CANCELLED:
        j->mig_over = TRUE;
        if (j->stage == ST_CLEANUP && j->aborting && j->timeout_src) {
            qmp_workflow_source_drop(&j->timeout_src);
            cleanup_next(j);
            return;
        }
        if (j->stage >= ST_CLEANUP)
            return;
        if (data->status != QMP_MIGRATION_STATUS_COMPLETED) {
            qmp_query_migrate_async(mon, NULL, failed_info_reply,
                                    call_new(j, NULL, "query-migrate"));
            j->stage = ST_WAIT; /* nothing else moves until that reply */
            return;
        }
        if (j->stage == ST_WAIT)
            next(j);
        break;
    default:
        break;
    }
}

static void
on_closed(QmpMonitor *mon, const GError *error, gpointer user_data)
{
    Job *j = user_data;
    (void)mon;

    if (j->stage >= ST_CLEANUP)
        return;
    if (j->stage == ST_THEN && !j->restore && j->opts->then == QMP_SAVE_THEN_QUIT) {
        /* We asked QEMU to quit: its going away is the answer. */
        j->stage = ST_DONE;
        step(j);
        return;
    }
    job_fail(j, g_error_new(QMP_SAVE_ERROR, j->migrate_sent
                                ? QMP_SAVE_ERROR_MIGRATION : QMP_SAVE_ERROR_FAILED,
                            "%s: QEMU closed the monitor %s: %s", what(j),
                            j->migrate_sent ? "during the stream" : "",
                            error ? error->message : "closed"));
}

static gboolean
on_progress_tick(gpointer user_data)
{
    Job *j = user_data;

    report(j, QMP_SAVE_PHASE_STREAMING);
    return G_SOURCE_CONTINUE;
}

static gboolean
on_timeout(gpointer user_data)
{
    Job *j = user_data;

    g_clear_pointer(&j->timeout_src, g_source_unref);
    job_fail(j, g_error_new(QMP_ERROR, QMP_ERROR_TIMEOUT,
                            "%s: the stream did not complete within %u ms",
                            what(j), j->opts->timeout_ms));
    return G_SOURCE_REMOVE;
}

static gboolean
on_cancel_idle(gpointer user_data)
{
    Job *j = user_data;

    g_clear_pointer(&j->idle_src, g_source_unref);
    job_fail(j, g_error_new(G_IO_ERROR, G_IO_ERROR_CANCELLED,
                            "%s: cancelled", what(j)));
    return G_SOURCE_REMOVE;
}

static void
on_cancelled(GCancellable *c, gpointer user_data)
{
    Job *j = user_data;
    (void)c;

    /* Possibly from another thread: move to the monitor's context. */
    if (j->idle_src == NULL) {
        GSource *s = g_idle_source_new();
        g_source_set_callback(s, on_cancel_idle, j, NULL);
        g_source_attach(s, qmp_monitor_get_context(j->mon));
        j->idle_src = s;
    }
}

static gboolean
write_all_at(int fd, const guint8 *buf, gsize len, guint64 at)
{
    while (len > 0) {
        ssize_t n = pwrite(fd, buf, len, at);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return FALSE;
        buf += n;
        len -= n;
        at += n;
    }
    return TRUE;
}

static gboolean
open_save_file(Job *j, GError **error)
{
    guint32 flags = 0;

    if (j->was_running)
        flags |= QMP_SAVE_FLAG_RUNNING;
    if (j->opts->live && j->was_running)
        flags |= QMP_SAVE_FLAG_LIVE;
    int major = 0, minor = 0, micro = 0;
    const char *package = NULL;
    qmp_monitor_get_version(j->mon, &major, &minor, &micro, &package);
    g_autofree char *version = g_strdup_printf("%d.%d.%d", major, minor, micro);
    j->config = qmp_save_config_build(j->opts->description, version, package,
                                      j->machine, error);
    if (j->config == NULL) {
        g_prefix_error(error, "%s: ", j->path);
        return FALSE;
    }
    gsize len;
    g_autofree guint8 *hdr = qmp_save_header_encode_v2(flags, j->config,
                                                       strlen(j->config), 0, &len);
    j->fd = g_open(j->partial, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (j->fd < 0) {
        int e = errno;
        g_set_error(error, QMP_SAVE_ERROR, QMP_SAVE_ERROR_FAILED,
                    "%s: cannot create: %s", j->partial, g_strerror(e));
        return FALSE;
    }
    j->partial_created = TRUE;
    j->image_flags = flags;
    j->header_len = len;
    j->offset = len;
    if (!write_all_at(j->fd, hdr, len, 0)) {
        int e = errno;
        g_set_error(error, QMP_SAVE_ERROR, QMP_SAVE_ERROR_FAILED,
                    "%s: cannot write the header: %s", j->partial, g_strerror(e));
        return FALSE;
    }
    /* QEMU gets its own write-only descriptor, positioned after the header
     * (QEMU's file: transport wants O_WRONLY in the fd set; fd: writes at
     * the descriptor's offset). */
    j->qemu_fd = g_open(j->partial, O_WRONLY | O_CLOEXEC, 0);
    if (j->qemu_fd < 0 || lseek(j->qemu_fd, len, SEEK_SET) < 0) {
        int e = errno;
        g_set_error(error, QMP_SAVE_ERROR, QMP_SAVE_ERROR_FAILED,
                    "%s: cannot open for the stream: %s", j->partial, g_strerror(e));
        return FALSE;
    }
    return TRUE;
}

static gboolean
open_restore_file(Job *j, GError **error)
{
    j->fd = g_open(j->image_path, O_RDONLY | O_CLOEXEC, 0);
    if (j->fd < 0 || lseek(j->fd, j->offset, SEEK_SET) < 0) {
        int e = errno;
        g_set_error(error, QMP_SAVE_ERROR, QMP_SAVE_ERROR_FAILED,
                    "%s: cannot open the stream: %s", j->image_path, g_strerror(e));
        return FALSE;
    }
    j->qemu_fd = j->fd; /* read-only, shared offset: progress from it */
    return TRUE;
}

static gboolean
finish_save_file(Job *j, GError **error)
{
    struct stat st;

    if (fstat(j->fd, &st) < 0 || (guint64)st.st_size <= j->offset) {
        g_set_error(error, QMP_SAVE_ERROR, QMP_SAVE_ERROR_MIGRATION,
                    "%s: QEMU reported the stream complete but wrote nothing",
                    j->path);
        return FALSE;
    }
    gsize len;
    g_autofree guint8 *hdr = qmp_save_header_encode_v2(
        j->image_flags, j->config, strlen(j->config),
        (guint64)st.st_size - j->offset, &len);
    if (len != j->header_len || !write_all_at(j->fd, hdr, len, 0) ||
        fsync(j->fd) < 0) {
        int e = errno;
        g_set_error(error, QMP_SAVE_ERROR, QMP_SAVE_ERROR_FAILED,
                    "%s: cannot complete the header: %s", j->partial, g_strerror(e));
        return FALSE;
    }
    close(j->fd);
    j->fd = -1;
    if (j->qemu_fd >= 0)
        close(j->qemu_fd);
    j->qemu_fd = -1;
    if (g_rename(j->partial, j->path) < 0) {
        int e = errno;
        g_set_error(error, QMP_SAVE_ERROR, QMP_SAVE_ERROR_FAILED,
                    "%s: cannot rename %s into place: %s", j->path, j->partial,
                    g_strerror(e));
        return FALSE;
    }
    j->partial_created = FALSE;
    g_autofree char *dir = g_path_get_dirname(j->path);
    int dfd = g_open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return TRUE;
}

static void
step(Job *j)
{
    GError *error = NULL;

    if (j->stage < ST_CLEANUP && g_cancellable_is_cancelled(g_task_get_cancellable(j->task))) {
        job_fail(j, g_error_new(G_IO_ERROR, G_IO_ERROR_CANCELLED, "%s: cancelled", what(j)));
        return;
    }
    switch (j->stage) {
    case ST_MACHINE: {
        report(j, QMP_SAVE_PHASE_SETUP);
        if (j->restore && !j->opts->check_machine)
            return next(j);
        QmpQomGetArgs a = { (char *)"/machine", (char *)"type" };
        qmp_qom_get_async(j->mon, &a, NULL, machine_reply, call_new(j, NULL, "qom-get"));
        return;
    }
    case ST_STATUS:
        qmp_query_status_async(j->mon, NULL, status_reply, call_new(j, NULL, "query-status"));
        return;
    case ST_CAPS: {
        QmpMigrationCapabilityStatus ev = { QMP_MIGRATION_CAPABILITY_EVENTS, TRUE };
        QmpMigrationCapabilityStatus *list[] = { &ev };
        QmpMigrateSetCapabilitiesArgs a = { list, 1 };
        BoolFinish fin = qmp_migrate_set_capabilities_finish;
        qmp_migrate_set_capabilities_async(j->mon, &a, NULL, bool_reply,
                                           call_new(j, fin, "migrate-set-capabilities"));
        return;
    }
    case ST_STOP:
        if (j->restore || j->opts->live || !j->was_running)
            return next(j);
        BoolFinish fin = qmp_stop_finish;
        qmp_stop_async(j->mon, NULL, bool_reply, call_new(j, fin, "stop"));
        return;
    case ST_OPEN:
        if (!(j->restore ? open_restore_file(j, &error) : open_save_file(j, &error)))
            return job_fail(j, error);
        return next(j);
    case ST_PASS_FD:
        j->mig_sub = qmp_subscribe_migration(j->mon, on_migration, j, NULL);
        if (j->transport == QMP_SAVE_TRANSPORT_FD) {
            QmpGetfdArgs a = { (char *)(j->restore ? RESTORE_FDNAME : SAVE_FDNAME) };
            BoolFinish fin = qmp_getfd_finish;
            qmp_getfd_async(j->mon, &a, j->qemu_fd, NULL, bool_reply,
                            call_new(j, fin, "getfd"));
        } else {
            QmpAddFdArgs a = { FALSE, 0, NULL };
            qmp_add_fd_async(j->mon, &a, j->qemu_fd, NULL, add_fd_reply,
                             call_new(j, NULL, "add-fd"));
        }
        return;
    case ST_MIGRATE: {
        g_autofree char *uri = NULL;
        if (j->transport == QMP_SAVE_TRANSPORT_FD)
            uri = g_strdup_printf("fd:%s", j->restore ? RESTORE_FDNAME : SAVE_FDNAME);
        else
            uri = g_strdup_printf("file:/dev/fdset/%" G_GINT64_FORMAT ",offset=%"
                                  G_GUINT64_FORMAT, j->fdset_id, j->offset);
        j->migrate_sent = TRUE;
        j->fd_named = FALSE; /* QEMU takes the named fd with the command */
        if (j->opts->progress)
            j->progress_src = attach_timeout(j, j->opts->interval_ms, on_progress_tick);
        if (j->opts->timeout_ms)
            j->timeout_src = attach_timeout(j, j->opts->timeout_ms, on_timeout);
        Call *call = j->restore
            ? call_new(j, qmp_migrate_incoming_finish, "migrate-incoming")
            : call_new(j, qmp_migrate_finish, "migrate");
        if (j->restore) {
            QmpMigrateIncomingArgs a = { uri, FALSE, FALSE };
            qmp_migrate_incoming_async(j->mon, &a, NULL, bool_reply, call);
        } else {
            QmpMigrateArgs a = { .uri = uri };
            qmp_migrate_async(j->mon, &a, NULL, bool_reply, call);
        }
        return;
    }
    case ST_WAIT:
        /* Reached from the migrate reply when the stream already ended. */
        return next(j);
    case ST_REMOVE_FD:
        qmp_workflow_source_drop(&j->progress_src);
        qmp_workflow_source_drop(&j->timeout_src);
        report(j, QMP_SAVE_PHASE_FINISHING);
        if (!j->fdset_added)
            return next(j);
        {
            QmpRemoveFdArgs a = { .fdset_id = j->fdset_id };
            BoolFinish fin = qmp_remove_fd_finish;
            qmp_remove_fd_async(j->mon, &a, NULL, bool_reply, call_new(j, fin, "remove-fd"));
        }
        return;
    case ST_FINISH_FILE:
        if (!j->restore && !finish_save_file(j, &error))
            return job_fail(j, error);
        return next(j);
    case ST_THEN:
        if (j->restore) {
            gboolean run = j->opts->start == QMP_RESTORE_RUNNING ||
                (j->opts->start == QMP_RESTORE_AS_SAVED &&
                 (j->image_flags & QMP_SAVE_FLAG_RUNNING));
            if (!run)
                return next(j);
            BoolFinish fin = qmp_cont_finish;
            qmp_cont_async(j->mon, NULL, bool_reply, call_new(j, fin, "cont"));
        } else if (j->opts->then == QMP_SAVE_THEN_QUIT) {
            BoolFinish fin = qmp_quit_finish;
            qmp_quit_async(j->mon, NULL, bool_reply, call_new(j, fin, "quit"));
        } else if (j->opts->then == QMP_SAVE_THEN_CONTINUE && j->was_running) {
            BoolFinish fin = qmp_cont_finish;
            qmp_cont_async(j->mon, NULL, bool_reply, call_new(j, fin, "cont"));
        } else {
            return next(j);
        }
        return;
    case ST_DONE: {
        guint64 bytes = j->restore ? j->stream_length : j->header_len;
        if (j->opts->progress) {
            struct stat st;
            if (!j->restore && g_stat(j->path, &st) == 0)
                bytes = (guint64)st.st_size - j->header_len;
            qmp_save_report_progress(j->opts, QMP_SAVE_PHASE_DONE, bytes,
                                     j->restore ? j->stream_length : j->ram_total);
        }
        job_complete(j);
        return;
    }
    case ST_CLEANUP:
    case ST_FINISHED:
        return;
    }
}

/* ---- entry points ------------------------------------------------------------ */

static Job *
job_new(QmpMonitor *mon, const QmpSaveOptions *opts, GCancellable *cancellable,
        GAsyncReadyCallback callback, gpointer user_data, gpointer tag)
{
    Job *j = g_new0(Job, 1);

    j->task = g_task_new(mon, cancellable, callback, user_data);
    g_task_set_source_tag(j->task, tag);
    j->mon = g_object_ref(mon);
    j->opts = qmp_save_options_copy(opts);
    j->fd = -1;
    j->qemu_fd = -1;
    j->mig_status = QMP_MIGRATION_STATUS_NONE;
    j->transport = qmp_save_pick_transport(mon, j->opts->transport);
    return j;
}

static void
job_start(Job *j)
{
    GCancellable *c = g_task_get_cancellable(j->task);

    if (!qmp_monitor_is_connected(j->mon)) {
        const GError *e = qmp_monitor_get_error(j->mon);
        return job_fail(j, g_error_new(QMP_ERROR, QMP_ERROR_CLOSED,
                                       "%s: the monitor is not connected%s%s",
                                       what(j), e ? ": " : "", e ? e->message : ""));
    }
    j->closed_id = g_signal_connect(j->mon, "closed", G_CALLBACK(on_closed), j);
    if (c)
        j->cancel_id = g_cancellable_connect(c, G_CALLBACK(on_cancelled), j, NULL);
    step(j);
}

void
qmp_save_async(QmpMonitor *mon, const char *path, const QmpSaveOptions *opts,
               GCancellable *cancellable, GAsyncReadyCallback callback,
               gpointer user_data)
{
    g_return_if_fail(QMP_IS_MONITOR(mon));
    g_return_if_fail(path != NULL);
    Job *j = job_new(mon, opts, cancellable, callback, user_data, qmp_save_async);
    j->path = g_strdup(path);
    j->partial = g_strconcat(path, ".partial", NULL);
    if (j->opts->description != NULL) {
        /* Refuse a bad description before any command is sent. */
        GError *error = NULL;
        g_autofree char *probe = qmp_save_config_build(j->opts->description, "0",
                                                       NULL, "none", &error);
        if (probe == NULL) {
            g_prefix_error(&error, "%s: ", path);
            j->stage = ST_CLEANUP;
            j->error = error;
            cleanup_next(j);
            return;
        }
    }
    job_start(j);
}

gboolean
qmp_save_finish(QmpMonitor *mon, GAsyncResult *result, GError **error)
{
    return qmp_workflow_task_finish(mon, result, error);
}

static void
save_start(QmpMonitor *mon, gconstpointer target, const QmpSaveOptions *opts,
           GCancellable *cancellable, GAsyncReadyCallback cb, gpointer ud)
{
    qmp_save_async(mon, target, opts, cancellable, cb, ud);
}

gboolean
qmp_save(QmpMonitor *mon, const char *path, const QmpSaveOptions *opts,
         GCancellable *cancellable, GError **error)
{
    g_return_val_if_fail(QMP_IS_MONITOR(mon), FALSE);
    g_return_val_if_fail(path != NULL, FALSE);
    return qmp_save_run_sync(mon, save_start, qmp_save_finish, path, opts,
                             cancellable, error);
}

void
qmp_restore_async(QmpMonitor *mon, const QmpSaveImage *img,
                  const QmpSaveOptions *opts, GCancellable *cancellable,
                  GAsyncReadyCallback callback, gpointer user_data)
{
    g_return_if_fail(QMP_IS_MONITOR(mon));
    g_return_if_fail(img != NULL);
    Job *j = job_new(mon, opts, cancellable, callback, user_data, qmp_restore_async);
    j->restore = TRUE;
    j->image_path = g_strdup(qmp_save_image_get_path(img));
    j->image_machine = g_strdup(qmp_save_image_get_machine(img));
    j->image_flags = qmp_save_image_get_flags(img);
    j->offset = qmp_save_image_get_stream_offset(img);
    j->stream_length = qmp_save_image_get_stream_length(img);
    job_start(j);
}

gboolean
qmp_restore_finish(QmpMonitor *mon, GAsyncResult *result, GError **error)
{
    return qmp_save_finish(mon, result, error); /* the same job's result */
}

static void
restore_start(QmpMonitor *mon, gconstpointer target, const QmpSaveOptions *opts,
              GCancellable *cancellable, GAsyncReadyCallback cb, gpointer ud)
{
    qmp_restore_async(mon, target, opts, cancellable, cb, ud);
}

gboolean
qmp_restore(QmpMonitor *mon, const QmpSaveImage *img,
            const QmpSaveOptions *opts, GCancellable *cancellable,
            GError **error)
{
    g_return_val_if_fail(QMP_IS_MONITOR(mon), FALSE);
    g_return_val_if_fail(img != NULL, FALSE);
    return qmp_save_run_sync(mon, restore_start, qmp_restore_finish, img, opts,
                             cancellable, error);
}

QmpMonitor *
qmp_restore_spawn(const char *binary, const char *const *argv, GError **error)
{
    g_autoptr(GPtrArray) args = g_ptr_array_new();

    for (guint i = 0; argv && argv[i]; i++)
        g_ptr_array_add(args, (gpointer)argv[i]);
    g_ptr_array_add(args, (gpointer) "-incoming");
    g_ptr_array_add(args, (gpointer) "defer");
    g_ptr_array_add(args, NULL);
    QmpMonitor *mon = qmp_monitor_new(NULL);
    if (!qmp_monitor_spawn(mon, binary, (const char *const *)args->pdata, error) ||
        !qmp_monitor_handshake(mon, QMP_HANDSHAKE_NONE, QMP_TIMEOUT_DEFAULT, error)) {
        g_object_unref(mon); /* ends the child */
        return NULL;
    }
    return mon;
}
