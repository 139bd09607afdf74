/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * block-nbd.c: NBD storage migration (see qmp-block-copy.h): the
 * destination exports its empty disks over NBD, the source mirrors its
 * disks into them, and the mirrors are ended once RAM has moved.
 */
#include <string.h>
#include "qmp-block-copy.h"
#include "workflow-private.h"
#include "block-copy-private.h"
#include "qmp-commands.h"

typedef struct {
    char *source_device;
    char *destination_device;
    char *export_name;   /* the NBD export: the destination device's name */
    char *export_id;     /* block-export-add id */
    char *client_node;   /* the source's NBD client node */
    gboolean client_added;
    QmpBlockCopyJob *job;
} Disk;

struct _QmpNbdStorage {
    QmpMonitor *src;
    QmpMonitor *dst;
    char *unix_path;
    char *host;
    guint16 port;
    QmpBlockCopyOptions options;
    GPtrArray *disks;
    gboolean server_started;
};

static void disk_free(Disk *d)
{
    g_free(d->source_device);
    g_free(d->destination_device);
    g_free(d->export_name);
    g_free(d->export_id);
    g_free(d->client_node);
    g_clear_object(&d->job);
    g_free(d);
}

QmpNbdStorage *qmp_nbd_storage_new(QmpMonitor *source, QmpMonitor *destination)
{
    g_return_val_if_fail(QMP_IS_MONITOR(source) && QMP_IS_MONITOR(destination), NULL);
    QmpNbdStorage *s = g_new0(QmpNbdStorage, 1);
    s->src = source;
    s->dst = destination;
    s->unix_path = g_strdup("nbd.sock");
    qmp_block_copy_options_init(&s->options);
    s->disks = g_ptr_array_new_with_free_func((GDestroyNotify) disk_free);
    return s;
}

void qmp_nbd_storage_free(QmpNbdStorage *s)
{
    if (s == NULL)
        return;
    g_free(s->unix_path);
    g_free(s->host);
    g_ptr_array_unref(s->disks);
    g_free(s);
}

void qmp_nbd_storage_set_unix(QmpNbdStorage *s, const char *path)
{
    g_return_if_fail(s != NULL && path != NULL);
    g_free(s->unix_path);
    g_clear_pointer(&s->host, g_free);
    s->unix_path = g_strdup(path);
}

void qmp_nbd_storage_set_inet(QmpNbdStorage *s, const char *host, guint16 port)
{
    g_return_if_fail(s != NULL && host != NULL);
    g_clear_pointer(&s->unix_path, g_free);
    g_free(s->host);
    s->host = g_strdup(host);
    s->port = port;
}

void qmp_nbd_storage_set_options(QmpNbdStorage *s, const QmpBlockCopyOptions *options)
{
    g_return_if_fail(s != NULL && options != NULL);
    s->options = *options;
    /* Only the copy's settings: the target is the NBD node of each disk. */
    s->options.job_id = NULL;
    s->options.target = NULL;
    s->options.format = NULL;
    s->options.target_node = NULL;
    s->options.backend = QMP_BLOCK_COPY_BACKEND_BLOCKDEV_MIRROR;
}

void qmp_nbd_storage_add_disk(QmpNbdStorage *s, const char *source_device,
                              const char *destination_device)
{
    g_return_if_fail(s != NULL && source_device != NULL);
    Disk *d = g_new0(Disk, 1);
    d->source_device = g_strdup(source_device);
    d->destination_device = g_strdup(destination_device ? destination_device : source_device);
    d->export_name = g_strdup(d->destination_device);
    d->export_id = g_strconcat("qmpkit-nbd-export-", d->destination_device, NULL);
    d->client_node = g_strconcat("qmpkit-nbd-", d->source_device, NULL);
    g_ptr_array_add(s->disks, d);
}

guint qmp_nbd_storage_get_n_disks(QmpNbdStorage *s)
{
    return s->disks->len;
}

QmpBlockCopyJob *qmp_nbd_storage_get_job(QmpNbdStorage *s, guint i)
{
    g_return_val_if_fail(i < s->disks->len, NULL);
    return ((Disk *) g_ptr_array_index(s->disks, i))->job;
}

/* ---- the steps ------------------------------------------------------------------ */

static gboolean prefixed(GError **error, GError *err, const char *side, const char *device,
                         const char *what)
{
    g_propagate_prefixed_error(error, err, "NBD storage migration, %s device '%s': %s: ", side,
                               device, what);
    return FALSE;
}

static gboolean start_server(QmpNbdStorage *s, GError **error)
{
    QmpSocketAddressLegacy addr = { 0 };
    QmpInetSocketAddress inet = { 0 };
    QmpUnixSocketAddress un = { 0 };
    g_autofree char *port = NULL;
    if (s->unix_path) {
        addr.type = QMP_SOCKET_ADDRESS_TYPE_UNIX;
        un.path = s->unix_path;
        addr.u.q_unix.data = &un;
    } else {
        addr.type = QMP_SOCKET_ADDRESS_TYPE_INET;
        port = g_strdup_printf("%u", s->port);
        inet.host = s->host;
        inet.port = port;
        addr.u.inet.data = &inet;
    }
    QmpNbdServerStartArgs args = { .addr = &addr };
    GError *err = NULL;
    if (!qmp_nbd_server_start(s->dst, &args, &err)) {
        g_propagate_prefixed_error(error, err,
                                   "NBD storage migration: destination nbd-server-start: ");
        return FALSE;
    }
    s->server_started = TRUE;
    return TRUE;
}

static gboolean export_disk(QmpNbdStorage *s, Disk *d, gboolean has_export_add, GError **error)
{
    GError *err = NULL;
    gboolean ok;
    if (has_export_add) {
        g_autoptr(QmpBlockInfo) b = qmp_block_copy_find_disk(s->dst, d->destination_device,
                                                             &err);
        if (b == NULL)
            return prefixed(error, err, "destination", d->destination_device, "query-block");
        if (b->inserted == NULL || b->inserted->node_name == NULL) {
            g_set_error(error, QMP_BLOCK_COPY_ERROR, QMP_BLOCK_COPY_ERROR_NO_DEVICE,
                        "NBD storage migration, destination device '%s': no medium",
                        d->destination_device);
            return FALSE;
        }
        QmpBlockExportOptions e = {
            .type = QMP_BLOCK_EXPORT_TYPE_NBD, .id = d->export_id,
            .node_name = b->inserted->node_name, .has_writable = TRUE, .writable = TRUE,
        };
        e.u.nbd.name = d->export_name;
        ok = qmp_block_export_add(s->dst, &e, &err);
    } else {
        QmpNbdServerAddOptions a = {
            .device = d->destination_device, .name = d->export_name,
            .has_writable = TRUE, .writable = TRUE,
        };
        ok = qmp_nbd_server_add(s->dst, &a, &err);
    }
    if (!ok)
        return prefixed(error, err, "destination", d->destination_device,
                        has_export_add ? "block-export-add" : "nbd-server-add");
    return TRUE;
}

static gboolean add_client(QmpNbdStorage *s, Disk *d, GError **error)
{
    QmpBlockdevOptions o = { .driver = QMP_BLOCKDEV_DRIVER_NBD, .node_name = d->client_node };
    QmpSocketAddress addr = { 0 };
    g_autofree char *port = NULL;
    if (s->unix_path) {
        addr.type = QMP_SOCKET_ADDRESS_TYPE_UNIX;
        addr.u.q_unix.path = s->unix_path;
    } else {
        addr.type = QMP_SOCKET_ADDRESS_TYPE_INET;
        port = g_strdup_printf("%u", s->port);
        addr.u.inet.host = s->host;
        addr.u.inet.port = port;
    }
    o.u.nbd.server = &addr;
    o.u.nbd.q_export = d->export_name;
    GError *err = NULL;
    if (!qmp_blockdev_add(s->src, &o, &err))
        return prefixed(error, err, "source", d->source_device, "blockdev-add of the NBD client");
    d->client_added = TRUE;
    return TRUE;
}

gboolean qmp_nbd_storage_start(QmpNbdStorage *s, GError **error)
{
    g_return_val_if_fail(s != NULL, FALSE);
    GError *err = NULL;
    if (s->disks->len == 0) {
        g_set_error(error, QMP_BLOCK_COPY_ERROR, QMP_BLOCK_COPY_ERROR_INVALID,
                    "NBD storage migration: no disk to copy");
        return FALSE;
    }
    int has_export_add = qmp_block_copy_has_command(s->dst, NULL, "block-export-add", &err);
    if (has_export_add < 0) {
        g_propagate_prefixed_error(error, err, "NBD storage migration: destination: ");
        return FALSE;
    }
    if (!start_server(s, error))
        goto fail;
    for (guint i = 0; i < s->disks->len; i++)
        if (!export_disk(s, g_ptr_array_index(s->disks, i), has_export_add, error))
            goto fail;
    for (guint i = 0; i < s->disks->len; i++) {
        Disk *d = g_ptr_array_index(s->disks, i);
        if (!add_client(s, d, error))
            goto fail;
        QmpBlockCopyOptions o = s->options;
        g_autofree char *job_id = g_strconcat("qmpkit-nbd-copy-", d->source_device, NULL);
        o.job_id = job_id;
        o.target_node = d->client_node;
        d->job = qmp_block_copy_start(s->src, d->source_device, &o, error);
        if (d->job == NULL)
            goto fail;
    }
    return TRUE;
fail:
    qmp_nbd_storage_abort(s);
    return FALSE;
}

/* Disk i, once its mirror is started (else NULL and error). */
static Disk *started_disk(QmpNbdStorage *s, guint i, GError **error)
{
    Disk *d = g_ptr_array_index(s->disks, i);
    if (d->job == NULL) {
        g_set_error(error, QMP_BLOCK_COPY_ERROR, QMP_BLOCK_COPY_ERROR_INVALID,
                    "NBD storage migration: not started");
        return NULL;
    }
    return d;
}

gboolean qmp_nbd_storage_wait_ready(QmpNbdStorage *s, gint timeout_ms,
                                    GCancellable *cancellable, GError **error)
{
    g_return_val_if_fail(s != NULL, FALSE);
    gint64 deadline = timeout_ms > 0 ? g_get_monotonic_time() + (gint64) timeout_ms * 1000 : 0;
    for (guint i = 0; i < s->disks->len; i++) {
        Disk *d = started_disk(s, i, error);
        if (d == NULL)
            return FALSE;
        gint left = timeout_ms;
        if (deadline) {
            gint64 rest = (deadline - g_get_monotonic_time()) / 1000;
            left = (gint) CLAMP(rest, 1, G_MAXINT);
        }
        if (!qmp_block_copy_job_wait_ready(d->job, left, cancellable, error))
            return FALSE;
    }
    return TRUE;
}

/* nbd-server-stop replied (ok, else err: taken, prefixed into error): the
 * server and its exports are gone. */
static gboolean server_stop_done(QmpNbdStorage *s, gboolean ok, GError *err, GError **error)
{
    if (!ok) {
        g_propagate_prefixed_error(error, err,
                                   "NBD storage migration: destination nbd-server-stop: ");
        return FALSE;
    }
    s->server_started = FALSE;
    return TRUE;
}

/* blockdev-del of d's NBD client replied (ok, else err: taken, prefixed
 * into error). */
static gboolean client_del_done(Disk *d, gboolean ok, GError *err, GError **error)
{
    if (!ok) {
        prefixed(error, err, "source", d->source_device, "blockdev-del of the NBD client");
        return FALSE;
    }
    d->client_added = FALSE;
    return TRUE;
}

static void stop_server(QmpNbdStorage *s, GError **error)
{
    if (!s->server_started)
        return;
    GError *err = NULL;
    gboolean ok = qmp_nbd_server_stop(s->dst, &err);
    server_stop_done(s, ok, err, error);
}

static void remove_client(QmpNbdStorage *s, Disk *d, GError **error)
{
    if (!d->client_added)
        return;
    QmpBlockdevDelArgs del = { .node_name = d->client_node };
    GError *err = NULL;
    gboolean ok = qmp_blockdev_del(s->src, &del, &err);
    client_del_done(d, ok, err, error);
}

/* Every mirror started and READY? */
static gboolean all_ready(QmpNbdStorage *s, GError **error)
{
    for (guint i = 0; i < s->disks->len; i++) {
        Disk *d = started_disk(s, i, error);
        if (d == NULL)
            return FALSE;
        if (qmp_block_copy_job_get_state(d->job) != QMP_BLOCK_COPY_JOB_STATE_READY) {
            const GError *je = qmp_block_copy_job_get_error(d->job);
            if (je)
                g_propagate_error(error, g_error_copy(je));
            else
                g_set_error(error, QMP_BLOCK_COPY_ERROR, QMP_BLOCK_COPY_ERROR_NOT_READY,
                            "NBD storage migration, source device '%s': the copy is %s, "
                            "not ready", d->source_device,
                            qmp_block_copy_job_state_to_string(
                                qmp_block_copy_job_get_state(d->job)));
            return FALSE;
        }
    }
    return TRUE;
}

gboolean qmp_nbd_storage_finish(QmpNbdStorage *s, gint timeout_ms, GError **error)
{
    g_return_val_if_fail(s != NULL, FALSE);
    if (!all_ready(s, error))
        return FALSE;
    /* A READY mirror ended with block-job-cancel: QEMU copies what is still
     * in flight and reports BLOCK_JOB_COMPLETED; the source keeps its disk. */
    for (guint i = 0; i < s->disks->len; i++) {
        Disk *d = g_ptr_array_index(s->disks, i);
        if (!qmp_block_copy_job_cancel(d->job, timeout_ms, error))
            return FALSE;
        if (qmp_block_copy_job_get_error(d->job)) {
            g_propagate_error(error, g_error_copy(qmp_block_copy_job_get_error(d->job)));
            return FALSE;
        }
        GError *err = NULL;
        remove_client(s, d, &err);
        if (err) {
            g_propagate_error(error, err);
            return FALSE;
        }
    }
    GError *err = NULL;
    stop_server(s, &err);
    if (err) {
        g_propagate_error(error, err);
        return FALSE;
    }
    return TRUE;
}

/* ---- finish, async: the same steps in the same order ---------------------------- */

typedef struct {
    QmpNbdStorage *s;
    guint i;
} FinishOp;

static void finish_next(GTask *task);

static void finish_server_stopped(GObject *obj, GAsyncResult *res, gpointer data)
{
    GTask *task = data;
    FinishOp *op = g_task_get_task_data(task);
    GError *err = NULL, *out = NULL;
    gboolean ok = qmp_nbd_server_stop_finish(QMP_MONITOR(obj), res, &err);
    server_stop_done(op->s, ok, err, &out);
    qmp_workflow_task_return(task, out);
}

static void finish_client_removed(GObject *obj, GAsyncResult *res, gpointer data)
{
    GTask *task = data;
    FinishOp *op = g_task_get_task_data(task);
    Disk *d = g_ptr_array_index(op->s->disks, op->i);
    GError *err = NULL, *out = NULL;
    gboolean ok = qmp_blockdev_del_finish(QMP_MONITOR(obj), res, &err);
    if (!client_del_done(d, ok, err, &out)) {
        qmp_workflow_task_return(task, out);
        return;
    }
    op->i++;
    finish_next(task);
}

static void finish_cancelled(GObject *obj, GAsyncResult *res, gpointer data)
{
    GTask *task = data;
    FinishOp *op = g_task_get_task_data(task);
    Disk *d = g_ptr_array_index(op->s->disks, op->i);
    GError *err = NULL;
    if (!qmp_block_copy_job_cancel_finish(QMP_BLOCK_COPY_JOB(obj), res, &err) ||
        (qmp_block_copy_job_get_error(d->job) &&
         (err = g_error_copy(qmp_block_copy_job_get_error(d->job))))) {
        qmp_workflow_task_return(task, err);
        return;
    }
    if (!d->client_added) {
        op->i++;
        finish_next(task);
        return;
    }
    QmpBlockdevDelArgs del = { .node_name = d->client_node };
    qmp_blockdev_del_async(op->s->src, &del, NULL, finish_client_removed, task);
}

static void finish_next(GTask *task)
{
    FinishOp *op = g_task_get_task_data(task);
    QmpNbdStorage *s = op->s;
    if (op->i < s->disks->len) {
        Disk *d = g_ptr_array_index(s->disks, op->i);
        qmp_block_copy_job_cancel_async(d->job, NULL, finish_cancelled, task);
        return;
    }
    if (!s->server_started) {
        qmp_workflow_task_return(task, NULL);
        return;
    }
    qmp_nbd_server_stop_async(s->dst, NULL, finish_server_stopped, task);
}

void qmp_nbd_storage_finish_async(QmpNbdStorage *s, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data)
{
    g_return_if_fail(s != NULL);
    GTask *task = g_task_new(NULL, cancellable, callback, user_data);
    g_task_set_source_tag(task, qmp_nbd_storage_finish_async);
    GError *err = NULL;
    if (!all_ready(s, &err)) {
        qmp_workflow_task_return(task, err);
        return;
    }
    FinishOp *op = g_new0(FinishOp, 1);
    op->s = s;
    g_task_set_task_data(task, op, g_free);
    finish_next(task);
}

gboolean qmp_nbd_storage_finish_finish(QmpNbdStorage *s, GAsyncResult *result, GError **error)
{
    return qmp_workflow_task_finish(NULL, result, error);
}

void qmp_nbd_storage_abort(QmpNbdStorage *s)
{
    if (s == NULL)
        return;
    for (guint i = 0; i < s->disks->len; i++) {
        Disk *d = g_ptr_array_index(s->disks, i);
        GError *err = NULL;
        if (d->job && qmp_monitor_is_connected(s->src))
            qmp_block_copy_job_cancel(d->job, QMP_TIMEOUT_DEFAULT, &err);
        g_clear_error(&err);
        if (qmp_monitor_is_connected(s->src))
            remove_client(s, d, &err);
        g_clear_error(&err);
    }
    GError *err = NULL;
    if (qmp_monitor_is_connected(s->dst))
        stop_server(s, &err);
    g_clear_error(&err);
}
