/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * block-copy.c: a mirror block job started with blockdev-mirror or
 * drive-mirror and followed as a state machine (see qmp-block-copy.h).
 *
 * The job's state moves on QEMU's events only (JOB_STATUS_CHANGE,
 * BLOCK_JOB_READY, BLOCK_JOB_COMPLETED, BLOCK_JOB_CANCELLED,
 * BLOCK_JOB_ERROR) and on query-block-jobs when asked to refresh, never on
 * timers, so a recorded conversation replays to the same states.
 */
#include <string.h>
#include "qmp-block-copy.h"
#include "workflow-private.h"
#include "block-copy-private.h"
#include "qmp-commands.h"
#include "qmp-events.h"

G_DEFINE_QUARK(qmp-block-copy-error-quark, qmp_block_copy_error)

#define COMMANDS_KEY "qmpkit-block-copy-commands"
#define MIB G_GINT64_CONSTANT(1048576)

/* ---- options -------------------------------------------------------------- */

void qmp_block_copy_options_init(QmpBlockCopyOptions *o)
{
    g_return_if_fail(o != NULL);
    memset(o, 0, sizeof *o);
    o->backend = QMP_BLOCK_COPY_BACKEND_AUTO;
    o->mode = QMP_NEW_IMAGE_MODE_ABSOLUTE_PATHS;
    o->sync = QMP_MIRROR_SYNC_MODE_FULL;
    o->on_source_error = QMP_BLOCKDEV_ON_ERROR_REPORT;
    o->on_target_error = QMP_BLOCKDEV_ON_ERROR_REPORT;
}

gboolean qmp_block_copy_bandwidth_to_bytes(gint64 mib_s, gint64 *bytes_s, GError **error)
{
    if (mib_s < 0) {
        g_set_error(error, QMP_BLOCK_COPY_ERROR, QMP_BLOCK_COPY_ERROR_INVALID,
                    "bandwidth %" G_GINT64_FORMAT " MiB/s is negative (0 means unlimited)",
                    mib_s);
        return FALSE;
    }
    if (mib_s > G_MAXINT64 / MIB) {
        g_set_error(error, QMP_BLOCK_COPY_ERROR, QMP_BLOCK_COPY_ERROR_INVALID,
                    "bandwidth %" G_GINT64_FORMAT " MiB/s is too large: at most %"
                    G_GINT64_FORMAT " MiB/s fits QEMU's bytes/s", mib_s, G_MAXINT64 / MIB);
        return FALSE;
    }
    if (bytes_s)
        *bytes_s = mib_s * MIB;
    return TRUE;
}

/* ---- errors ----------------------------------------------------------------- */

/* The code a reason of QEMU's means. */
static int classify(const char *reason, int fallback)
{
    if (reason == NULL)
        return fallback;
    if (strstr(reason, "No space left on device"))
        return QMP_BLOCK_COPY_ERROR_TARGET_FULL;
    if (strstr(reason, "No such file or directory"))
        return QMP_BLOCK_COPY_ERROR_TARGET_MISSING;
    if (strstr(reason, "already in use") || strstr(reason, "in use by block job") ||
        strstr(reason, "Need a root block node"))
        return QMP_BLOCK_COPY_ERROR_JOB_EXISTS;
    return fallback;
}

static GError *job_error(const char *device, const char *job_id, int code,
                         const char *fmt, ...) G_GNUC_PRINTF(4, 5);
static GError *job_error(const char *device, const char *job_id, int code,
                         const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *what = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    return g_error_new(QMP_BLOCK_COPY_ERROR, code, "device '%s', job '%s': %s",
                       device, job_id, what);
}

/* A QEMU error reply turned into ours, keeping the reason; transport
 * errors pass through. */
static void propagate_qemu(GError **error, GError *qemu, const char *device,
                           const char *job_id, const char *what, int fallback)
{
    if (qemu->domain != QMP_COMMAND_ERROR) {
        g_propagate_prefixed_error(error, qemu, "device '%s', job '%s': %s: ", device,
                                   job_id, what);
        return;
    }
    g_propagate_error(error, job_error(device, job_id, classify(qemu->message, fallback),
                                       "%s: %s", what, qemu->message));
    g_error_free(qemu);
}

/* ---- what the QEMU has ------------------------------------------------------- */

static GHashTable *monitor_commands(QmpMonitor *mon, GError **error)
{
    GHashTable *set = g_object_get_data(G_OBJECT(mon), COMMANDS_KEY);
    if (set)
        return set;
    gsize n = 0;
    QmpCommandInfo **cmds = qmp_query_commands(mon, &n, error);
    if (cmds == NULL && n == 0 && error && *error)
        return NULL;
    set = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (gsize i = 0; i < n; i++) {
        g_hash_table_add(set, g_strdup(cmds[i]->name));
        qmp_command_info_free(cmds[i]);
    }
    g_free(cmds);
    g_object_set_data_full(G_OBJECT(mon), COMMANDS_KEY, set,
                           (GDestroyNotify) g_hash_table_unref);
    return set;
}

/* -1 on error. */
int qmp_block_copy_has_command(QmpMonitor *mon, const QmpCaps *caps, const char *name,
                               GError **error)
{
    if (caps) {
        g_autofree char *key = g_strconcat("command.", name, NULL);
        return qmp_caps_get(caps, key) == QMP_CAPS_PRESENT;
    }
    GHashTable *set = monitor_commands(mon, error);
    if (set == NULL)
        return -1;
    return g_hash_table_contains(set, name);
}

static gboolean version_at_least(QmpMonitor *mon, const QmpCaps *caps, int major, int minor)
{
    int ma = 0, mi = 0, mc = 0;
    gboolean known = caps ? qmp_caps_get_version(caps, &ma, &mi, &mc)
                          : qmp_monitor_get_version(mon, &ma, &mi, &mc, NULL);
    return known && (ma > major || (ma == major && mi >= minor));
}

/* ---- the job object -------------------------------------------------------- */

struct _QmpBlockCopyJob {
    GObject parent;
    QmpMonitor *mon;
    char *id;
    char *device;
    char *command;
    char *blk_key;        /* device or qdev: finds the disk in query-block */
    char *source_node;
    char *target_file;    /* drive-mirror: the image; else NULL */
    char *target_node;    /* blockdev-mirror: the node */
    gboolean added_target;/* we blockdev-add'ed target_node */
    QmpBlockCopyJobState state;
    QmpJobStatus status;
    GError *error;
    guint n_io_errors;
    gboolean paused_on_error;  /* BLOCK_JOB_ERROR with action stop */
    QmpIoOperationType error_operation;
    gint64 offset, len, speed;
    double rate;
    gint64 sample_time, sample_offset;
    gboolean have_sample;
    guint subs[5];
    gulong closed_id;
    GList *waiters;       /* Waiter* of wait_ready_async */
    GList *end_waiters;   /* GTask* of pivot_async / cancel_async */
};

G_DEFINE_TYPE(QmpBlockCopyJob, qmp_block_copy_job, G_TYPE_OBJECT)

enum { SIGNAL_STATE_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

typedef struct {
    QmpBlockCopyJob *job;
    GTask *task;
    GCancellable *cancellable;
    gulong cancel_id;
} Waiter;

static gboolean is_terminal(QmpBlockCopyJobState s)
{
    return s == QMP_BLOCK_COPY_JOB_STATE_COMPLETED || s == QMP_BLOCK_COPY_JOB_STATE_CANCELLED ||
           s == QMP_BLOCK_COPY_JOB_STATE_FAILED;
}

const char *qmp_block_copy_job_state_to_string(QmpBlockCopyJobState state)
{
    static const char *const names[] = {
        "created", "running", "ready", "pivoting", "cancelling",
        "completed", "cancelled", "failed",
    };
    return (guint) state < G_N_ELEMENTS(names) ? names[state] : "?";
}

static void waiter_free(Waiter *w)
{
    if (w->cancellable) {
        g_cancellable_disconnect(w->cancellable, w->cancel_id);
        g_object_unref(w->cancellable);
    }
    g_object_unref(w->task);
    g_free(w);
}

/* The error wait_ready reports for a job in state s (NULL: READY). */
static GError *ready_error(QmpBlockCopyJob *job)
{
    if (job->paused_on_error && job->state < QMP_BLOCK_COPY_JOB_STATE_READY)
        return job_error(job->device, job->id, QMP_BLOCK_COPY_ERROR_PAUSED,
                         "paused after a %s error (error policy stop or enospc): "
                         "resume or cancel it",
                         qmp_io_operation_type_to_string(job->error_operation));
    switch (job->state) {
    case QMP_BLOCK_COPY_JOB_STATE_READY:
    case QMP_BLOCK_COPY_JOB_STATE_PIVOTING:
        return NULL;
    case QMP_BLOCK_COPY_JOB_STATE_FAILED:
    case QMP_BLOCK_COPY_JOB_STATE_CANCELLED:
        if (job->error)
            return g_error_copy(job->error);
        return job_error(job->device, job->id, QMP_BLOCK_COPY_ERROR_CANCELLED,
                         "cancelled after a full copy, before it was waited for");
    case QMP_BLOCK_COPY_JOB_STATE_COMPLETED:
        return NULL;
    case QMP_BLOCK_COPY_JOB_STATE_CANCELLING:
        return job_error(job->device, job->id, QMP_BLOCK_COPY_ERROR_CANCELLED,
                         "being cancelled");
    default:
        return NULL;
    }
}

static gboolean ready_settled(QmpBlockCopyJob *job)
{
    return (job->state >= QMP_BLOCK_COPY_JOB_STATE_READY &&
            job->state != QMP_BLOCK_COPY_JOB_STATE_CANCELLING) ||
           (job->paused_on_error && job->state < QMP_BLOCK_COPY_JOB_STATE_READY);
}

static void settle_waiters(QmpBlockCopyJob *job)
{
    if (!ready_settled(job))
        return;
    GList *list = job->waiters;
    job->waiters = NULL;
    for (GList *l = list; l; l = l->next) {
        Waiter *w = l->data;
        GError *err = ready_error(job);
        if (err)
            g_task_return_error(w->task, err);
        else
            g_task_return_boolean(w->task, TRUE);
        waiter_free(w);
    }
    g_list_free(list);
}

static void end_step(GTask *task);

static void set_state(QmpBlockCopyJob *job, QmpBlockCopyJobState state)
{
    if (job->state == state)
        return;
    job->state = state;
    g_signal_emit(job, signals[SIGNAL_STATE_CHANGED], 0, (guint) state);
    settle_waiters(job);
    if (is_terminal(job->state) && job->end_waiters) {
        GList *list = job->end_waiters;
        job->end_waiters = NULL;
        for (GList *l = list; l; l = l->next)
            end_step(l->data);
        g_list_free(list);
    }
}

static void fail(QmpBlockCopyJob *job, GError *err, QmpBlockCopyJobState state)
{
    if (job->error == NULL)
        job->error = err;
    else
        g_error_free(err);
    set_state(job, state);
}

static void progress_from_event(QmpBlockCopyJob *job, gint64 offset, gint64 len, gint64 speed)
{
    job->offset = offset;
    job->len = len;
    job->speed = speed;
}

static void on_status_change(QmpMonitor *mon, const QmpJobStatusChangeEvent *ev, gint64 ts,
                             const GError *error, gpointer user_data)
{
    QmpBlockCopyJob *job = user_data;
    if (ev == NULL || g_strcmp0(ev->id, job->id) != 0)
        return;
    job->status = ev->status;
    /* "ready" is taken from BLOCK_JOB_READY, which QEMU sends right after
     * and which carries the progress figures. */
    if (ev->status == QMP_JOB_STATUS_RUNNING && job->state == QMP_BLOCK_COPY_JOB_STATE_CREATED)
        set_state(job, QMP_BLOCK_COPY_JOB_STATE_RUNNING);
}

static void on_ready(QmpMonitor *mon, const QmpBlockJobReadyEvent *ev, gint64 ts,
                     const GError *error, gpointer user_data)
{
    QmpBlockCopyJob *job = user_data;
    if (ev == NULL || g_strcmp0(ev->device, job->id) != 0)
        return;
    progress_from_event(job, ev->offset, ev->len, ev->speed);
    if (job->state < QMP_BLOCK_COPY_JOB_STATE_READY)
        set_state(job, QMP_BLOCK_COPY_JOB_STATE_READY);
}

static void on_completed(QmpMonitor *mon, const QmpBlockJobCompletedEvent *ev, gint64 ts,
                         const GError *error, gpointer user_data)
{
    QmpBlockCopyJob *job = user_data;
    if (ev == NULL || g_strcmp0(ev->device, job->id) != 0 || is_terminal(job->state))
        return;
    progress_from_event(job, ev->offset, ev->len, ev->speed);
    if (ev->error) {
        fail(job, job_error(job->device, job->id, classify(ev->error, QMP_BLOCK_COPY_ERROR_FAILED),
                            "%s", ev->error),
             QMP_BLOCK_COPY_JOB_STATE_FAILED);
    } else if (job->state == QMP_BLOCK_COPY_JOB_STATE_CANCELLING) {
        /* A READY mirror that was cancelled: a full copy, no switch. */
        set_state(job, QMP_BLOCK_COPY_JOB_STATE_CANCELLED);
    } else {
        set_state(job, QMP_BLOCK_COPY_JOB_STATE_COMPLETED);
    }
}

static void on_cancelled(QmpMonitor *mon, const QmpBlockJobCancelledEvent *ev, gint64 ts,
                         const GError *error, gpointer user_data)
{
    QmpBlockCopyJob *job = user_data;
    if (ev == NULL || g_strcmp0(ev->device, job->id) != 0 || is_terminal(job->state))
        return;
    progress_from_event(job, ev->offset, ev->len, ev->speed);
    fail(job, job_error(job->device, job->id, QMP_BLOCK_COPY_ERROR_CANCELLED,
                        "cancelled after %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT " bytes",
                        ev->offset, ev->len),
         QMP_BLOCK_COPY_JOB_STATE_CANCELLED);
}

static void on_io_error(QmpMonitor *mon, const QmpBlockJobErrorEvent *ev, gint64 ts,
                        const GError *error, gpointer user_data)
{
    QmpBlockCopyJob *job = user_data;
    if (ev == NULL || g_strcmp0(ev->device, job->id) != 0)
        return;
    job->n_io_errors++;
    if (ev->action == QMP_BLOCK_ERROR_ACTION_STOP && !is_terminal(job->state) &&
        !job->paused_on_error) {
        /* QEMU paused the job; it waits for block-job-resume or a cancel. */
        job->paused_on_error = TRUE;
        job->error_operation = ev->operation;
        settle_waiters(job);
    }
}

static void on_closed(QmpMonitor *mon, const GError *error, gpointer user_data)
{
    QmpBlockCopyJob *job = user_data;
    if (is_terminal(job->state))
        return;
    fail(job, job_error(job->device, job->id, QMP_BLOCK_COPY_ERROR_FAILED,
                        "the monitor connection ended: %s",
                        error ? error->message : "closed"),
         QMP_BLOCK_COPY_JOB_STATE_FAILED);
}

static void qmp_block_copy_job_dispose(GObject *obj)
{
    QmpBlockCopyJob *job = QMP_BLOCK_COPY_JOB(obj);
    if (job->mon) {
        for (guint i = 0; i < G_N_ELEMENTS(job->subs); i++)
            if (job->subs[i])
                qmp_monitor_unsubscribe(job->mon, job->subs[i]);
        memset(job->subs, 0, sizeof job->subs);
        if (job->closed_id)
            g_signal_handler_disconnect(job->mon, job->closed_id);
        job->closed_id = 0;
        g_clear_object(&job->mon);
    }
    /* A waiter holds a reference, so none is left here. */
    G_OBJECT_CLASS(qmp_block_copy_job_parent_class)->dispose(obj);
}

static void qmp_block_copy_job_finalize(GObject *obj)
{
    QmpBlockCopyJob *job = QMP_BLOCK_COPY_JOB(obj);
    g_free(job->id);
    g_free(job->device);
    g_free(job->command);
    g_free(job->blk_key);
    g_free(job->source_node);
    g_free(job->target_file);
    g_free(job->target_node);
    g_clear_error(&job->error);
    G_OBJECT_CLASS(qmp_block_copy_job_parent_class)->finalize(obj);
}

static void qmp_block_copy_job_class_init(QmpBlockCopyJobClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    oc->dispose = qmp_block_copy_job_dispose;
    oc->finalize = qmp_block_copy_job_finalize;
    signals[SIGNAL_STATE_CHANGED] =
        g_signal_new("state-changed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0,
                     NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT);
}

static void qmp_block_copy_job_init(QmpBlockCopyJob *job)
{
    job->state = QMP_BLOCK_COPY_JOB_STATE_CREATED;
    job->status = QMP_JOB_STATUS_CREATED;
}

QmpMonitor *qmp_block_copy_job_get_monitor(QmpBlockCopyJob *job) { return job->mon; }
const char *qmp_block_copy_job_get_id(QmpBlockCopyJob *job) { return job->id; }
const char *qmp_block_copy_job_get_device(QmpBlockCopyJob *job) { return job->device; }
const char *qmp_block_copy_job_get_command(QmpBlockCopyJob *job) { return job->command; }
QmpBlockCopyJobState qmp_block_copy_job_get_state(QmpBlockCopyJob *job) { return job->state; }
QmpJobStatus qmp_block_copy_job_get_status(QmpBlockCopyJob *job) { return job->status; }
const GError *qmp_block_copy_job_get_error(QmpBlockCopyJob *job) { return job->error; }
guint qmp_block_copy_job_get_n_io_errors(QmpBlockCopyJob *job) { return job->n_io_errors; }

void qmp_block_copy_job_get_progress(QmpBlockCopyJob *job, gint64 *offset, gint64 *len,
                                gint64 *speed, double *rate)
{
    g_return_if_fail(QMP_IS_BLOCK_COPY_JOB(job));
    if (offset)
        *offset = job->offset;
    if (len)
        *len = job->len;
    if (speed)
        *speed = job->speed;
    if (rate)
        *rate = job->rate;
}

/* ---- the block graph -------------------------------------------------------- */

/* The query-block entry of name (device, qdev or the inserted node's name),
 * or NULL with an error. */
/* Takes blocks (n entries, the array and every entry), returns the entry of
 * name or NULL with an error. */
static QmpBlockInfo *pick_disk(QmpBlockInfo **blocks, gsize n, const char *name, GError **error)
{
    QmpBlockInfo *found = NULL;
    g_autoptr(GString) names = g_string_new(NULL);
    for (gsize i = 0; i < n; i++) {
        QmpBlockInfo *b = blocks[i];
        const char *label = b->device && *b->device ? b->device : b->qdev;
        g_string_append_printf(names, "%s%s", names->len ? ", " : "", label ? label : "?");
        if (found == NULL &&
            ((b->device && *b->device && strcmp(b->device, name) == 0) ||
             g_strcmp0(b->qdev, name) == 0 ||
             (b->inserted && g_strcmp0(b->inserted->node_name, name) == 0))) {
            found = b;
            continue;
        }
        qmp_block_info_free(b);
    }
    g_free(blocks);
    if (found == NULL)
        g_set_error(error, QMP_BLOCK_COPY_ERROR, QMP_BLOCK_COPY_ERROR_NO_DEVICE,
                    "device '%s': no such disk (query-block lists: %s)", name,
                    names->len ? names->str : "none");
    return found;
}

QmpBlockInfo *qmp_block_copy_find_disk(QmpMonitor *mon, const char *name, GError **error)
{
    GError *err = NULL;
    gsize n = 0;
    QmpBlockInfo **blocks = qmp_query_block(mon, &n, &err);
    if (err) {
        g_propagate_error(error, err);
        return NULL;
    }
    return pick_disk(blocks, n, name, error);
}

typedef enum { EXPECT_SOURCE, EXPECT_TARGET } Expect;

/* Is the disk b (NULL: not found, err says why) where expect says? */
static gboolean check_disk(QmpBlockCopyJob *job, const QmpBlockInfo *b, GError *err,
                           Expect expect, GError **error)
{
    if (b == NULL) {
        g_propagate_prefixed_error(error, err, "job '%s': ", job->id);
        return FALSE;
    }
    const char *node = b->inserted ? b->inserted->node_name : NULL;
    const char *file = b->inserted ? b->inserted->file : NULL;
    gboolean ok;
    if (expect == EXPECT_SOURCE)
        ok = g_strcmp0(node, job->source_node) == 0;
    else if (job->target_node)
        ok = g_strcmp0(node, job->target_node) == 0;
    else
        ok = g_strcmp0(node, job->source_node) != 0 && g_strcmp0(file, job->target_file) == 0;
    if (!ok)
        g_propagate_error(error, job_error(job->device, job->id, QMP_BLOCK_COPY_ERROR_GRAPH,
                                           "the disk is node '%s' (%s), expected the %s '%s'",
                                           node ? node : "-", file ? file : "no medium",
                                           expect == EXPECT_SOURCE ? "source" : "target",
                                           expect == EXPECT_SOURCE ? job->source_node
                                           : job->target_node ? job->target_node
                                           : job->target_file));
    return ok;
}

static gboolean check_graph(QmpBlockCopyJob *job, Expect expect, GError **error)
{
    GError *err = NULL;
    g_autoptr(QmpBlockInfo) b = qmp_block_copy_find_disk(job->mon, job->blk_key, &err);
    return check_disk(job, b, err, expect, error);
}

/* ---- waiting ------------------------------------------------------------------ */

static gboolean flag_true(gpointer data)
{
    *(gboolean *) data = TRUE;
    return G_SOURCE_REMOVE;
}

static gboolean cancellable_fired(GCancellable *c, gpointer data)
{
    *(gboolean *) data = TRUE;
    return G_SOURCE_REMOVE;
}

/* Iterate the monitor's context until pred(job) holds. */
static gboolean run_until(QmpBlockCopyJob *job, gboolean (*pred)(QmpBlockCopyJob *), gint timeout_ms,
                          GCancellable *cancellable, const char *what, GError **error)
{
    GMainContext *ctx = qmp_monitor_get_context(job->mon);
    if (pred(job))
        return TRUE;
    if (!g_main_context_acquire(ctx)) {
        g_set_error(error, QMP_ERROR, QMP_ERROR_INVALID,
                    "another thread runs the monitor's main context");
        return FALSE;
    }
    if (timeout_ms == QMP_TIMEOUT_DEFAULT)
        timeout_ms = qmp_monitor_get_default_timeout(job->mon);
    gboolean timed_out = FALSE, cancelled = FALSE;
    GSource *timer = NULL, *csrc = NULL;
    if (timeout_ms > 0) {
        timer = g_timeout_source_new((guint) timeout_ms);
        g_source_set_callback(timer, flag_true, &timed_out, NULL);
        g_source_attach(timer, ctx);
    }
    if (cancellable) {
        csrc = g_cancellable_source_new(cancellable);
        g_source_set_callback(csrc, G_SOURCE_FUNC(cancellable_fired), &cancelled, NULL);
        g_source_attach(csrc, ctx);
    }
    g_object_ref(job);
    while (!pred(job) && !timed_out && !cancelled && !g_cancellable_is_cancelled(cancellable))
        g_main_context_iteration(ctx, TRUE);
    gboolean ok = pred(job);
    qmp_workflow_source_drop(&timer);
    qmp_workflow_source_drop(&csrc);
    g_main_context_release(ctx);
    if (!ok) {
        if (timed_out)
            g_propagate_error(error, g_error_new(QMP_ERROR, QMP_ERROR_TIMEOUT,
                                                 "device '%s', job '%s': no %s within %d ms "
                                                 "(state %s)", job->device, job->id, what,
                                                 timeout_ms,
                                                 qmp_block_copy_job_state_to_string(job->state)));
        else
            g_set_error(error, QMP_ERROR, QMP_ERROR_CANCELLED,
                        "device '%s', job '%s': waiting for %s was cancelled", job->device,
                        job->id, what);
    }
    g_object_unref(job);
    return ok;
}

typedef struct {
    QmpBlockCopyJob *job; /* a reference */
    Waiter *w;            /* maybe gone: only compared until found */
} CancelIdle;

static void return_ready_cancelled(GTask *task, QmpBlockCopyJob *job)
{
    g_task_return_new_error(task, QMP_ERROR, QMP_ERROR_CANCELLED,
                            "device '%s', job '%s': waiting for READY was cancelled",
                            job->device, job->id);
}

static gboolean waiter_cancel_idle(gpointer data)
{
    CancelIdle *ci = data;
    QmpBlockCopyJob *job = ci->job;
    GList *l = g_list_find(job->waiters, ci->w);
    if (l) {
        Waiter *w = l->data;
        job->waiters = g_list_delete_link(job->waiters, l);
        return_ready_cancelled(w->task, job);
        waiter_free(w);
    }
    g_object_unref(job);
    g_free(ci);
    return G_SOURCE_REMOVE;
}

static void waiter_cancelled(GCancellable *c, gpointer data)
{
    Waiter *w = data;
    /* Not from inside the cancellable's handler: disconnecting there would
     * deadlock. */
    CancelIdle *ci = g_new0(CancelIdle, 1);
    ci->job = g_object_ref(w->job);
    ci->w = w;
    GSource *idle = g_idle_source_new();
    g_source_set_callback(idle, waiter_cancel_idle, ci, NULL);
    g_source_attach(idle, qmp_monitor_get_context(w->job->mon));
    g_source_unref(idle);
}

void qmp_block_copy_job_wait_ready_async(QmpBlockCopyJob *job, GCancellable *cancellable,
                                    GAsyncReadyCallback callback, gpointer user_data)
{
    g_return_if_fail(QMP_IS_BLOCK_COPY_JOB(job));
    GTask *task = g_task_new(job, cancellable, callback, user_data);
    g_task_set_source_tag(task, qmp_block_copy_job_wait_ready_async);
    if (ready_settled(job)) {
        GError *err = ready_error(job);
        qmp_workflow_task_return(task, err);
        return;
    }
    if (g_cancellable_is_cancelled(cancellable)) {
        return_ready_cancelled(task, job);
        g_object_unref(task);
        return;
    }
    Waiter *w = g_new0(Waiter, 1);
    w->job = job;
    w->task = task;
    job->waiters = g_list_append(job->waiters, w);
    if (cancellable) {
        w->cancellable = g_object_ref(cancellable);
        w->cancel_id = g_cancellable_connect(cancellable, G_CALLBACK(waiter_cancelled), w, NULL);
    }
}

/* The _finish of the job's async calls: each task returns a boolean. */
static gboolean task_finish(QmpBlockCopyJob *job, GAsyncResult *result, GError **error)
{
    return qmp_workflow_task_finish(job, result, error);
}

gboolean qmp_block_copy_job_wait_ready_finish(QmpBlockCopyJob *job, GAsyncResult *result, GError **error)
{
    return task_finish(job, result, error);
}

gboolean qmp_block_copy_job_wait_ready(QmpBlockCopyJob *job, gint timeout_ms, GCancellable *cancellable,
                                  GError **error)
{
    g_return_val_if_fail(QMP_IS_BLOCK_COPY_JOB(job), FALSE);
    if (!run_until(job, ready_settled, timeout_ms, cancellable, "READY", error))
        return FALSE;
    GError *err = ready_error(job);
    if (err) {
        g_propagate_error(error, err);
        return FALSE;
    }
    return TRUE;
}

static gboolean terminal(QmpBlockCopyJob *job)
{
    return is_terminal(job->state);
}

/* ---- refresh and speed --------------------------------------------------------- */

gboolean qmp_block_copy_job_refresh(QmpBlockCopyJob *job, GError **error)
{
    g_return_val_if_fail(QMP_IS_BLOCK_COPY_JOB(job), FALSE);
    GError *err = NULL;
    gsize n = 0;
    QmpBlockJobInfo **jobs = qmp_query_block_jobs(job->mon, &n, &err);
    if (err) {
        g_propagate_prefixed_error(error, err, "device '%s', job '%s': query-block-jobs: ",
                                   job->device, job->id);
        return FALSE;
    }
    for (gsize i = 0; i < n; i++) {
        QmpBlockJobInfo *j = jobs[i];
        if (g_strcmp0(j->device, job->id) == 0) {
            gint64 now = g_get_monotonic_time();
            if (job->have_sample && now > job->sample_time)
                job->rate = (double) (j->offset - job->sample_offset) * G_USEC_PER_SEC /
                            (double) (now - job->sample_time);
            job->sample_time = now;
            job->sample_offset = j->offset;
            job->have_sample = TRUE;
            job->offset = j->offset;
            job->len = j->len;
            job->speed = j->speed;
            job->status = j->status;
            if (j->ready && job->state < QMP_BLOCK_COPY_JOB_STATE_READY)
                set_state(job, QMP_BLOCK_COPY_JOB_STATE_READY);
        }
        qmp_block_job_info_free(j);
    }
    g_free(jobs);
    return TRUE;
}

gboolean qmp_block_copy_job_get_paused_on_error(QmpBlockCopyJob *job)
{
    return job->paused_on_error;
}

gboolean qmp_block_copy_job_resume(QmpBlockCopyJob *job, GError **error)
{
    g_return_val_if_fail(QMP_IS_BLOCK_COPY_JOB(job), FALSE);
    GError *err = NULL;
    QmpBlockJobResumeArgs args = { .device = job->id };
    if (!qmp_block_job_resume(job->mon, &args, &err)) {
        propagate_qemu(error, err, job->device, job->id, "block-job-resume",
                       QMP_BLOCK_COPY_ERROR_FAILED);
        return FALSE;
    }
    job->paused_on_error = FALSE;
    return TRUE;
}

gboolean qmp_block_copy_job_set_bandwidth(QmpBlockCopyJob *job, gint64 mib_s, GError **error)
{
    g_return_val_if_fail(QMP_IS_BLOCK_COPY_JOB(job), FALSE);
    gint64 bytes = 0;
    GError *err = NULL;
    if (!qmp_block_copy_bandwidth_to_bytes(mib_s, &bytes, &err)) {
        g_propagate_prefixed_error(error, err, "device '%s', job '%s': ", job->device, job->id);
        return FALSE;
    }
    QmpBlockJobSetSpeedArgs args = { .device = job->id, .speed = bytes };
    if (!qmp_block_job_set_speed(job->mon, &args, &err)) {
        propagate_qemu(error, err, job->device, job->id, "block-job-set-speed",
                       QMP_BLOCK_COPY_ERROR_FAILED);
        return FALSE;
    }
    job->speed = bytes;
    return TRUE;
}

/* ---- pivot and cancel ------------------------------------------------------------ */

/* block-job-cancel's force: a job QEMU paused (after an error, or paused
 * again by it right after a resume) refuses a plain cancel.  Before READY
 * force changes nothing else; on a READY job it would skip the final
 * flush, so it is used there only when the job is stuck on an error. */
static gboolean cancel_force(QmpBlockCopyJob *job)
{
    return job->paused_on_error || job->state < QMP_BLOCK_COPY_JOB_STATE_READY;
}

static void remove_target_node(QmpBlockCopyJob *job)
{
    if (!job->added_target)
        return;
    QmpBlockdevDelArgs del = { .node_name = job->target_node };
    GError *err = NULL;
    if (qmp_blockdev_del(job->mon, &del, &err))
        job->added_target = FALSE;
    g_clear_error(&err);
}

/* Why a job that is not READY cannot pivot: its own error, if any. */
static GError *not_ready_error(QmpBlockCopyJob *job)
{
    return job->error ? g_error_copy(job->error)
        : job_error(job->device, job->id, QMP_BLOCK_COPY_ERROR_NOT_READY,
                    "cannot pivot in state %s (only when ready)",
                    qmp_block_copy_job_state_to_string(job->state));
}

/* Why a pivot ended without completing: the job's own error, if any. */
static GError *not_pivoted_error(QmpBlockCopyJob *job)
{
    return job->error ? g_error_copy(job->error)
        : job_error(job->device, job->id, QMP_BLOCK_COPY_ERROR_FAILED,
                    "ended %s instead of pivoting",
                    qmp_block_copy_job_state_to_string(job->state));
}

gboolean qmp_block_copy_job_pivot(QmpBlockCopyJob *job, gint timeout_ms, GError **error)
{
    g_return_val_if_fail(QMP_IS_BLOCK_COPY_JOB(job), FALSE);
    GError *err = NULL;
    if (job->state != QMP_BLOCK_COPY_JOB_STATE_READY) {
        g_propagate_error(error, not_ready_error(job));
        return FALSE;
    }
    /* The state moves first: the job's end may be read while the reply is
     * awaited. */
    QmpBlockJobCompleteArgs args = { .device = job->id };
    set_state(job, QMP_BLOCK_COPY_JOB_STATE_PIVOTING);
    if (!qmp_block_job_complete(job->mon, &args, &err)) {
        if (job->state == QMP_BLOCK_COPY_JOB_STATE_PIVOTING)
            set_state(job, QMP_BLOCK_COPY_JOB_STATE_READY);
        propagate_qemu(error, err, job->device, job->id, "block-job-complete",
                       QMP_BLOCK_COPY_ERROR_FAILED);
        return FALSE;
    }
    if (!run_until(job, terminal, timeout_ms, NULL, "end of the pivot", error))
        return FALSE;
    if (job->state != QMP_BLOCK_COPY_JOB_STATE_COMPLETED) {
        g_propagate_error(error, not_pivoted_error(job));
        return FALSE;
    }
    job->added_target = FALSE; /* the node is the disk now */
    return check_graph(job, EXPECT_TARGET, error);
}

gboolean qmp_block_copy_job_cancel(QmpBlockCopyJob *job, gint timeout_ms, GError **error)
{
    g_return_val_if_fail(QMP_IS_BLOCK_COPY_JOB(job), FALSE);
    GError *err = NULL;
    if (!is_terminal(job->state)) {
        QmpBlockJobCancelArgs args = { .device = job->id, .has_force = TRUE,
                                       .force = cancel_force(job) };
        QmpBlockCopyJobState before = job->state;
        set_state(job, QMP_BLOCK_COPY_JOB_STATE_CANCELLING);
        if (!qmp_block_job_cancel(job->mon, &args, &err)) {
            if (job->state == QMP_BLOCK_COPY_JOB_STATE_CANCELLING)
                set_state(job, before);
            propagate_qemu(error, err, job->device, job->id, "block-job-cancel",
                           QMP_BLOCK_COPY_ERROR_FAILED);
            return FALSE;
        }
        if (!run_until(job, terminal, timeout_ms, NULL, "end of the cancel", error))
            return FALSE;
    }
    /* Completed before the cancel got there (someone pivoted). */
    if (job->state == QMP_BLOCK_COPY_JOB_STATE_COMPLETED)
        return check_graph(job, EXPECT_TARGET, error);
    remove_target_node(job);
    return check_graph(job, EXPECT_SOURCE, error);
}

/* ---- pivot and cancel, async ------------------------------------------------------ */

typedef struct {
    gboolean cancel;      /* else pivot */
    QmpBlockCopyJobState before;
} EndOp;

static void graph_reply(GObject *obj, GAsyncResult *res, gpointer data)
{
    GTask *task = data;
    QmpBlockCopyJob *job = g_task_get_source_object(task);
    EndOp *op = g_task_get_task_data(task);
    GError *err = NULL, *check = NULL;
    gsize n = 0;
    QmpBlockInfo **blocks = qmp_query_block_finish(QMP_MONITOR(obj), res, &n, &err);
    g_autoptr(QmpBlockInfo) b = err ? NULL : pick_disk(blocks, n, job->blk_key, &err);
    Expect expect = op->cancel && job->state != QMP_BLOCK_COPY_JOB_STATE_COMPLETED
                    ? EXPECT_SOURCE : EXPECT_TARGET;
    qmp_workflow_task_return(task, check_disk(job, b, err, expect, &check) ? NULL : check);
}

static void query_graph(GTask *task)
{
    QmpBlockCopyJob *job = g_task_get_source_object(task);
    qmp_query_block_async(job->mon, NULL, graph_reply, task);
}

static void del_reply(GObject *obj, GAsyncResult *res, gpointer data)
{
    GTask *task = data;
    QmpBlockCopyJob *job = g_task_get_source_object(task);
    GError *err = NULL;
    if (qmp_blockdev_del_finish(QMP_MONITOR(obj), res, &err))
        job->added_target = FALSE;
    g_clear_error(&err); /* best effort, as in the sync cancel */
    query_graph(task);
}

/* The job has ended: check the graph (after removing our target node when
 * the disk stayed on the source). */
static void end_step(GTask *task)
{
    QmpBlockCopyJob *job = g_task_get_source_object(task);
    EndOp *op = g_task_get_task_data(task);
    if (!op->cancel) {
        if (job->state != QMP_BLOCK_COPY_JOB_STATE_COMPLETED) {
            qmp_workflow_task_return(task, not_pivoted_error(job));
            return;
        }
        job->added_target = FALSE;
        query_graph(task);
        return;
    }
    if (job->state != QMP_BLOCK_COPY_JOB_STATE_COMPLETED && job->added_target) {
        QmpBlockdevDelArgs del = { .node_name = job->target_node };
        qmp_blockdev_del_async(job->mon, &del, NULL, del_reply, task);
        return;
    }
    query_graph(task);
}

static void wait_end(GTask *task)
{
    QmpBlockCopyJob *job = g_task_get_source_object(task);
    if (is_terminal(job->state))
        end_step(task);
    else
        job->end_waiters = g_list_append(job->end_waiters, task);
}

static void end_command_reply(GObject *obj, GAsyncResult *res, gpointer data)
{
    GTask *task = data;
    QmpBlockCopyJob *job = g_task_get_source_object(task);
    EndOp *op = g_task_get_task_data(task);
    GError *err = NULL, *out = NULL;
    gboolean ok = op->cancel ? qmp_block_job_cancel_finish(QMP_MONITOR(obj), res, &err)
                             : qmp_block_job_complete_finish(QMP_MONITOR(obj), res, &err);
    if (!ok) {
        QmpBlockCopyJobState asked = op->cancel ? QMP_BLOCK_COPY_JOB_STATE_CANCELLING
                                                : QMP_BLOCK_COPY_JOB_STATE_PIVOTING;
        if (job->state == asked)
            set_state(job, op->before);
        propagate_qemu(&out, err, job->device, job->id,
                       op->cancel ? "block-job-cancel" : "block-job-complete",
                       QMP_BLOCK_COPY_ERROR_FAILED);
        qmp_workflow_task_return(task, out);
        return;
    }
    wait_end(task);
}

void qmp_block_copy_job_pivot_async(QmpBlockCopyJob *job, GCancellable *cancellable,
                                    GAsyncReadyCallback callback, gpointer user_data)
{
    g_return_if_fail(QMP_IS_BLOCK_COPY_JOB(job));
    GTask *task = g_task_new(job, cancellable, callback, user_data);
    g_task_set_source_tag(task, qmp_block_copy_job_pivot_async);
    if (job->state != QMP_BLOCK_COPY_JOB_STATE_READY) {
        qmp_workflow_task_return(task, not_ready_error(job));
        return;
    }
    EndOp *op = g_new0(EndOp, 1);
    op->before = job->state;
    g_task_set_task_data(task, op, g_free);
    QmpBlockJobCompleteArgs args = { .device = job->id };
    set_state(job, QMP_BLOCK_COPY_JOB_STATE_PIVOTING);
    qmp_block_job_complete_async(job->mon, &args, cancellable, end_command_reply, task);
}

gboolean qmp_block_copy_job_pivot_finish(QmpBlockCopyJob *job, GAsyncResult *result,
                                         GError **error)
{
    return task_finish(job, result, error);
}

void qmp_block_copy_job_cancel_async(QmpBlockCopyJob *job, GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data)
{
    g_return_if_fail(QMP_IS_BLOCK_COPY_JOB(job));
    GTask *task = g_task_new(job, cancellable, callback, user_data);
    g_task_set_source_tag(task, qmp_block_copy_job_cancel_async);
    EndOp *op = g_new0(EndOp, 1);
    op->cancel = TRUE;
    op->before = job->state;
    g_task_set_task_data(task, op, g_free);
    if (is_terminal(job->state)) {
        end_step(task);
        return;
    }
    QmpBlockJobCancelArgs args = { .device = job->id, .has_force = TRUE,
                                   .force = cancel_force(job) };
    set_state(job, QMP_BLOCK_COPY_JOB_STATE_CANCELLING);
    qmp_block_job_cancel_async(job->mon, &args, cancellable, end_command_reply, task);
}

gboolean qmp_block_copy_job_cancel_finish(QmpBlockCopyJob *job, GAsyncResult *result,
                                          GError **error)
{
    return task_finish(job, result, error);
}

/* ---- start --------------------------------------------------------------------- */

static gboolean check_options(const char *device, const char *job_id,
                              const QmpBlockCopyOptions *o, GError **error)
{
    if (o->target == NULL && o->target_node == NULL) {
        g_propagate_error(error, job_error(device, job_id, QMP_BLOCK_COPY_ERROR_INVALID,
                                           "no target: set target (an image) or target_node"));
        return FALSE;
    }
    if (o->target && o->target_node) {
        g_propagate_error(error, job_error(device, job_id, QMP_BLOCK_COPY_ERROR_INVALID,
                                           "set either target or target_node, not both"));
        return FALSE;
    }
    if (o->sync != QMP_MIRROR_SYNC_MODE_FULL && o->sync != QMP_MIRROR_SYNC_MODE_TOP &&
        o->sync != QMP_MIRROR_SYNC_MODE_NONE) {
        g_propagate_error(error, job_error(device, job_id, QMP_BLOCK_COPY_ERROR_INVALID,
                                           "sync must be full, top or none"));
        return FALSE;
    }
    if (o->mode != QMP_NEW_IMAGE_MODE_EXISTING && o->mode != QMP_NEW_IMAGE_MODE_ABSOLUTE_PATHS) {
        g_propagate_error(error, job_error(device, job_id, QMP_BLOCK_COPY_ERROR_INVALID,
                                           "mode must be existing or absolute-paths"));
        return FALSE;
    }
    if (o->granularity != 0 && (o->granularity < 512 || o->granularity > 64 * 1048576 ||
                                (o->granularity & (o->granularity - 1)) != 0)) {
        g_propagate_error(error, job_error(device, job_id, QMP_BLOCK_COPY_ERROR_INVALID,
                                           "granularity %u is not a power of 2 between 512 "
                                           "and 64 MiB", o->granularity));
        return FALSE;
    }
    if (o->buf_size < 0) {
        g_propagate_error(error, job_error(device, job_id, QMP_BLOCK_COPY_ERROR_INVALID,
                                           "buf-size %" G_GINT64_FORMAT " is negative",
                                           o->buf_size));
        return FALSE;
    }
    if (o->target_node && o->backend == QMP_BLOCK_COPY_BACKEND_DRIVE_MIRROR) {
        g_propagate_error(error, job_error(device, job_id, QMP_BLOCK_COPY_ERROR_INVALID,
                                           "a target node needs blockdev-mirror"));
        return FALSE;
    }
    return TRUE;
}

/* When a start command failed: is a job with that id already there? */
static gboolean job_exists(QmpMonitor *mon, const char *job_id)
{
    GError *err = NULL;
    gsize n = 0;
    QmpBlockJobInfo **jobs = qmp_query_block_jobs(mon, &n, &err);
    gboolean found = FALSE;
    for (gsize i = 0; i < n; i++) {
        found |= g_strcmp0(jobs[i]->device, job_id) == 0;
        qmp_block_job_info_free(jobs[i]);
    }
    g_free(jobs);
    g_clear_error(&err);
    return found;
}

static gboolean add_target_node(QmpBlockCopyJob *job, const QmpBlockCopyOptions *o, GError **error)
{
    const char *fmt = o->format ? o->format : "qcow2";
    QmpBlockdevDriver drv = qmp_blockdev_driver_from_string(fmt);
    if (drv != QMP_BLOCKDEV_DRIVER_QCOW2 && drv != QMP_BLOCKDEV_DRIVER_RAW) {
        g_propagate_error(error, job_error(job->device, job->id, QMP_BLOCK_COPY_ERROR_INVALID,
                                           "target format '%s': blockdev-mirror of an image "
                                           "file takes qcow2 or raw", fmt));
        return FALSE;
    }
    QmpBlockdevOptions file = { .driver = QMP_BLOCKDEV_DRIVER_FILE };
    file.u.file.filename = (char *) o->target;
    QmpBlockdevRef ref = { .kind = QMP_BLOCKDEV_REF_KIND_DEFINITION };
    ref.u.definition = &file;
    QmpBlockdevOptions top = { .driver = drv, .node_name = job->target_node };
    if (drv == QMP_BLOCKDEV_DRIVER_QCOW2)
        top.u.qcow2.file = &ref;
    else
        top.u.raw.file = &ref;
    GError *err = NULL;
    if (!qmp_blockdev_add(job->mon, &top, &err)) {
        propagate_qemu(error, err, job->device, job->id, "opening the target (blockdev-add)",
                       QMP_BLOCK_COPY_ERROR_FAILED);
        return FALSE;
    }
    job->added_target = TRUE;
    return TRUE;
}

QmpBlockCopyJob *qmp_block_copy_start(QmpMonitor *mon, const char *device,
                                  const QmpBlockCopyOptions *o, GError **error)
{
    g_return_val_if_fail(QMP_IS_MONITOR(mon), NULL);
    g_return_val_if_fail(device != NULL && o != NULL, NULL);
    g_autofree char *job_id = o->job_id ? g_strdup(o->job_id)
                                        : g_strconcat("qmpkit-copy-", device, NULL);
    GError *err = NULL;
    gint64 speed = 0;
    if (!check_options(device, job_id, o, error))
        return NULL;
    if (!qmp_block_copy_bandwidth_to_bytes(o->bandwidth_mib_s, &speed, &err)) {
        g_propagate_prefixed_error(error, err, "device '%s', job '%s': ", device, job_id);
        return NULL;
    }

    /* Which command. */
    gboolean blockdev;
    if (o->target_node || o->backend == QMP_BLOCK_COPY_BACKEND_BLOCKDEV_MIRROR) {
        int has = qmp_block_copy_has_command(mon, o->caps, "blockdev-mirror", &err);
        if (has < 0) {
            g_propagate_prefixed_error(error, err, "device '%s', job '%s': ", device, job_id);
            return NULL;
        }
        if (!has) {
            g_propagate_error(error, job_error(device, job_id, QMP_BLOCK_COPY_ERROR_UNSUPPORTED,
                                               "this QEMU has no blockdev-mirror"));
            return NULL;
        }
        blockdev = TRUE;
    } else if (o->backend == QMP_BLOCK_COPY_BACKEND_DRIVE_MIRROR ||
               o->mode == QMP_NEW_IMAGE_MODE_ABSOLUTE_PATHS) {
        blockdev = FALSE;
    } else {
        int has = qmp_block_copy_has_command(mon, o->caps, "blockdev-mirror", &err);
        if (has < 0) {
            g_propagate_prefixed_error(error, err, "device '%s', job '%s': ", device, job_id);
            return NULL;
        }
        blockdev = has;
    }
    if (o->write_blocking && !version_at_least(mon, o->caps, 3, 0)) {
        g_propagate_error(error, job_error(device, job_id, QMP_BLOCK_COPY_ERROR_UNSUPPORTED,
                                           "copy-mode write-blocking needs QEMU 3.0 or later"));
        return NULL;
    }

    /* The disk as it is now. */
    g_autoptr(QmpBlockInfo) disk = qmp_block_copy_find_disk(mon, device, &err);
    if (disk == NULL) {
        g_propagate_error(error, err);
        return NULL;
    }
    if (disk->inserted == NULL) {
        g_propagate_error(error, job_error(device, job_id, QMP_BLOCK_COPY_ERROR_NO_DEVICE,
                                           "the drive has no medium"));
        return NULL;
    }

    g_autoptr(QmpBlockCopyJob) job = g_object_new(QMP_TYPE_BLOCK_COPY_JOB, NULL);
    job->mon = g_object_ref(mon);
    job->id = g_strdup(job_id);
    job->device = g_strdup(device);
    job->command = g_strdup(blockdev ? "blockdev-mirror" : "drive-mirror");
    job->blk_key = g_strdup(disk->device && *disk->device ? disk->device : disk->qdev);
    job->source_node = g_strdup(disk->inserted->node_name);
    job->speed = speed;
    if (o->target_node)
        job->target_node = g_strdup(o->target_node);
    else if (blockdev)
        job->target_node = g_strconcat("qmpkit-target-", job_id, NULL);
    else
        job->target_file = g_strdup(o->target);

    job->subs[0] = qmp_subscribe_job_status_change(mon, on_status_change, job, NULL);
    job->subs[1] = qmp_subscribe_block_job_ready(mon, on_ready, job, NULL);
    job->subs[2] = qmp_subscribe_block_job_completed(mon, on_completed, job, NULL);
    job->subs[3] = qmp_subscribe_block_job_cancelled(mon, on_cancelled, job, NULL);
    job->subs[4] = qmp_subscribe_block_job_error(mon, on_io_error, job, NULL);
    job->closed_id = g_signal_connect(mon, "closed", G_CALLBACK(on_closed), job);

    gboolean ok;
    const char *what = job->command;
    if (blockdev) {
        if (o->target && !add_target_node(job, o, error))
            return NULL;
        QmpBlockdevMirrorArgs a = {
            .job_id = job->id, .device = (char *) device, .target = job->target_node,
            .sync = o->sync,
            .has_speed = speed > 0, .speed = speed,
            .has_granularity = o->granularity != 0, .granularity = o->granularity,
            .has_buf_size = o->buf_size != 0, .buf_size = o->buf_size,
            .has_on_source_error = o->has_on_source_error, .on_source_error = o->on_source_error,
            .has_on_target_error = o->has_on_target_error, .on_target_error = o->on_target_error,
            .has_copy_mode = o->write_blocking, .copy_mode = QMP_MIRROR_COPY_MODE_WRITE_BLOCKING,
        };
        ok = qmp_blockdev_mirror(mon, &a, &err);
    } else {
        QmpDriveMirror a = {
            .job_id = job->id, .device = (char *) device, .target = (char *) o->target,
            .format = (char *) o->format, .sync = o->sync,
            .has_mode = TRUE, .mode = o->mode,
            .has_speed = speed > 0, .speed = speed,
            .has_granularity = o->granularity != 0, .granularity = o->granularity,
            .has_buf_size = o->buf_size != 0, .buf_size = o->buf_size,
            .has_on_source_error = o->has_on_source_error, .on_source_error = o->on_source_error,
            .has_on_target_error = o->has_on_target_error, .on_target_error = o->on_target_error,
            .has_copy_mode = o->write_blocking, .copy_mode = QMP_MIRROR_COPY_MODE_WRITE_BLOCKING,
        };
        ok = qmp_drive_mirror(mon, &a, &err);
    }
    if (!ok) {
        gboolean qemu = err->domain == QMP_COMMAND_ERROR;
        if (qemu && classify(err->message, -1) == -1 && job_exists(mon, job->id)) {
            g_propagate_error(error, job_error(device, job->id, QMP_BLOCK_COPY_ERROR_JOB_EXISTS,
                                               "%s: %s", what, err->message));
            g_error_free(err);
        } else {
            propagate_qemu(error, err, device, job->id, what, QMP_BLOCK_COPY_ERROR_FAILED);
        }
        remove_target_node(job);
        return NULL;
    }
    if (job->state == QMP_BLOCK_COPY_JOB_STATE_CREATED && job->status == QMP_JOB_STATUS_RUNNING)
        set_state(job, QMP_BLOCK_COPY_JOB_STATE_RUNNING);
    return g_steal_pointer(&job);
}
