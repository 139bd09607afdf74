/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * save-options.c: QmpSaveOptions, the transport choice, and the sync
 * runner shared by qmp_save() and qmp_restore().
 */
#include <string.h>

#include "save-private.h"

struct QmpSaveProgressData {
    gint ref;
    gpointer user_data;
    GDestroyNotify destroy;
};

static struct QmpSaveProgressData *
progress_data_ref(struct QmpSaveProgressData *d)
{
    if (d)
        g_atomic_int_inc(&d->ref);
    return d;
}

static void
progress_data_unref(struct QmpSaveProgressData *d)
{
    if (d && g_atomic_int_dec_and_test(&d->ref)) {
        if (d->destroy)
            d->destroy(d->user_data);
        g_free(d);
    }
}

QmpSaveOptions *
qmp_save_options_new(void)
{
    QmpSaveOptions *o = g_new0(QmpSaveOptions, 1);

    o->then = QMP_SAVE_THEN_STOP;
    o->transport = QMP_SAVE_TRANSPORT_AUTO;
    o->start = QMP_RESTORE_AS_SAVED;
    o->check_machine = TRUE;
    o->interval_ms = 250;
    return o;
}

QmpSaveOptions *
qmp_save_options_copy(const QmpSaveOptions *opts)
{
    if (opts == NULL)
        return qmp_save_options_new();
    QmpSaveOptions *o = g_memdup2(opts, sizeof(*opts));
    o->description = g_strdup(opts->description);
    o->progress_data = progress_data_ref(opts->progress_data);
    return o;
}

void
qmp_save_options_free(QmpSaveOptions *opts)
{
    if (opts == NULL)
        return;
    g_free(opts->description);
    progress_data_unref(opts->progress_data);
    g_free(opts);
}

void
qmp_save_options_set_description(QmpSaveOptions *opts, const char *xml)
{
    g_free(opts->description);
    opts->description = g_strdup(xml);
}

void
qmp_save_options_set_live(QmpSaveOptions *opts, gboolean live)
{
    opts->live = !!live;
}

void
qmp_save_options_set_then(QmpSaveOptions *opts, QmpSaveThen then)
{
    opts->then = then;
}

void
qmp_save_options_set_transport(QmpSaveOptions *opts, QmpSaveTransport transport)
{
    opts->transport = transport;
}

void
qmp_save_options_set_start(QmpSaveOptions *opts, QmpRestoreStart start)
{
    opts->start = start;
}

void
qmp_save_options_set_check_machine(QmpSaveOptions *opts, gboolean check)
{
    opts->check_machine = !!check;
}

void
qmp_save_options_set_progress(QmpSaveOptions *opts, QmpSaveProgressFunc func,
                              gpointer user_data, GDestroyNotify destroy)
{
    struct QmpSaveProgressData *old = opts->progress_data;

    opts->progress = func;
    opts->progress_data = NULL;
    if (func != NULL || destroy != NULL) {
        opts->progress_data = g_new0(struct QmpSaveProgressData, 1);
        opts->progress_data->ref = 1;
        opts->progress_data->user_data = user_data;
        opts->progress_data->destroy = destroy;
    }
    progress_data_unref(old);
}

void
qmp_save_options_set_progress_interval(QmpSaveOptions *opts, guint interval_ms)
{
    opts->interval_ms = interval_ms ? interval_ms : 250;
}

void
qmp_save_options_set_timeout(QmpSaveOptions *opts, guint timeout_ms)
{
    opts->timeout_ms = timeout_ms;
}

void
qmp_save_report_progress(const QmpSaveOptions *opts, QmpSavePhase phase,
                         guint64 bytes, guint64 total)
{
    if (opts->progress == NULL)
        return;
    QmpSaveProgress p = { phase, bytes, total };
    opts->progress(&p, opts->progress_data ? opts->progress_data->user_data : NULL);
}

QmpSaveTransport
qmp_save_pick_transport(QmpMonitor *mon, QmpSaveTransport asked)
{
    int major = 0, minor = 0, micro = 0;

    if (asked != QMP_SAVE_TRANSPORT_AUTO)
        return asked;
    /* The "file:" transport with ",offset=" came with QEMU 8.2 (the release
     * whose migrate gained "channels" of type MigrationAddress, which has a
     * "file" branch); from 8.2 on "fd:" to a regular file is deprecated. */
    if (qmp_monitor_get_version(mon, &major, &minor, &micro, NULL) &&
        (major > 8 || (major == 8 && minor >= 2)))
        return QMP_SAVE_TRANSPORT_FILE;
    return QMP_SAVE_TRANSPORT_FD;
}

char *
qmp_save_machine_from_qom(const char *qom_type)
{
    if (qom_type == NULL)
        return NULL;
    if (g_str_has_suffix(qom_type, "-machine"))
        return g_strndup(qom_type, strlen(qom_type) - strlen("-machine"));
    return g_strdup(qom_type);
}

/* ---- running an async workflow synchronously ---------------------------- */

typedef struct {
    GAsyncResult *res;
} SyncData;

static void
sync_done(GObject *src, GAsyncResult *res, gpointer user_data)
{
    SyncData *d = user_data;
    (void)src;
    d->res = g_object_ref(res);
}

gboolean
qmp_save_run_sync(QmpMonitor *mon, QmpSaveAsyncStart start,
                  QmpSaveAsyncFinish finish, gconstpointer target,
                  const QmpSaveOptions *opts, GCancellable *cancellable,
                  GError **error)
{
    GMainContext *ctx = qmp_monitor_get_context(mon);
    SyncData d = { NULL };

    if (!g_main_context_acquire(ctx)) {
        g_set_error(error, QMP_ERROR, QMP_ERROR_INVALID,
                    "the monitor's main context is owned by another thread");
        return FALSE;
    }
    g_main_context_push_thread_default(ctx);
    start(mon, target, opts, cancellable, sync_done, &d);
    while (d.res == NULL)
        g_main_context_iteration(ctx, TRUE);
    g_main_context_pop_thread_default(ctx);
    g_main_context_release(ctx);
    gboolean ok = finish(mon, d.res, error);
    g_object_unref(d.res);
    return ok;
}
