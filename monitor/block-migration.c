/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * block-migration.c: NBD storage migration as QmpMigration's storage hook
 * (qmp_nbd_storage_attach): the copies start in phase STORAGE (between
 * PREPARE and PERFORM) and are ended in FINISH, after RAM moved and before
 * the destination is resumed.
 *
 * The start's few commands go out as sync calls (allowed from inside the
 * migration's callbacks, see qmp-monitor.h); the wait for READY and the
 * whole switchover are asynchronous.
 */
#include "qmp-block-copy.h"
#include "workflow-private.h"
#include "qmp-migration.h"

typedef struct {
    GTask *task;
    QmpNbdStorage *s;
    guint next;
} ReadyWait;

static void wait_next(ReadyWait *w);

static void job_ready(GObject *obj, GAsyncResult *res, gpointer data)
{
    ReadyWait *w = data;
    GError *err = NULL;
    if (!qmp_block_copy_job_wait_ready_finish(QMP_BLOCK_COPY_JOB(obj), res, &err)) {
        qmp_workflow_task_return(w->task, err);
        g_free(w);
        return;
    }
    wait_next(w);
}

static void wait_next(ReadyWait *w)
{
    if (w->next == qmp_nbd_storage_get_n_disks(w->s)) {
        qmp_workflow_task_return(w->task, NULL);
        g_free(w);
        return;
    }
    QmpBlockCopyJob *job = qmp_nbd_storage_get_job(w->s, w->next++);
    qmp_block_copy_job_wait_ready_async(job, g_task_get_cancellable(w->task), job_ready, w);
}

/* The _finish of both hooks: their tasks return a boolean. */
static gboolean hook_finish(QmpMigration *mig, GAsyncResult *result, gpointer user_data,
                            GError **error)
{
    return g_task_propagate_boolean(G_TASK(result), error);
}

static void hook_start_async(QmpMigration *mig, gpointer user_data, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer callback_data)
{
    QmpNbdStorage *s = user_data;
    GTask *task = g_task_new(mig, cancellable, callback, callback_data);
    GError *err = NULL;
    if (qmp_nbd_storage_get_n_disks(s) == 0)
        for (const char *const *d = qmp_migration_get_disks(mig); *d; d++)
            qmp_nbd_storage_add_disk(s, *d, NULL);
    if (!qmp_nbd_storage_start(s, &err)) {
        qmp_workflow_task_return(task, err);
        return;
    }
    ReadyWait *w = g_new0(ReadyWait, 1);
    w->task = task;
    w->s = s;
    wait_next(w);
}

static void switched(GObject *obj, GAsyncResult *res, gpointer data)
{
    GTask *task = data;
    QmpNbdStorage *s = g_task_get_task_data(task);
    GError *err = NULL;
    qmp_workflow_task_return(task, qmp_nbd_storage_finish_finish(s, res, &err) ? NULL : err);
}

static void hook_switchover_async(QmpMigration *mig, gpointer user_data,
                                  GCancellable *cancellable, GAsyncReadyCallback callback,
                                  gpointer callback_data)
{
    QmpNbdStorage *s = user_data;
    GTask *task = g_task_new(mig, cancellable, callback, callback_data);
    g_task_set_task_data(task, s, NULL);
    qmp_nbd_storage_finish_async(s, cancellable, switched, task);
}

static void hook_abort(QmpMigration *mig, gpointer user_data)
{
    qmp_nbd_storage_abort(user_data);
}

void qmp_nbd_storage_attach(QmpNbdStorage *s, QmpMigration *mig)
{
    g_return_if_fail(s != NULL && QMP_IS_MIGRATION(mig));
    static const QmpMigrationStorageHook hook = {
        .start_async = hook_start_async,
        .start_finish = hook_finish,
        .switchover_async = hook_switchover_async,
        .switchover_finish = hook_finish,
        .abort = hook_abort,
    };
    qmp_migration_set_storage_hook(mig, &hook, s, (GDestroyNotify) qmp_nbd_storage_free);
}
