/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* call.c: QmpCall, the GAsyncResult of monitor operations (see call.h). */
#include "call.h"

static void qmp_call_async_result_init(GAsyncResultIface *iface);

G_DEFINE_TYPE_WITH_CODE(QmpCall, qmp_call, G_TYPE_OBJECT,
    G_IMPLEMENT_INTERFACE(G_TYPE_ASYNC_RESULT, qmp_call_async_result_init))

static void qmp_call_finalize(GObject *object)
{
    QmpCall *call = QMP_CALL(object);

    if (call->cancel_id)
        g_cancellable_disconnect(call->cancellable, call->cancel_id);
    g_clear_object(&call->cancellable);
    qmp_json_doc_unref(call->reply);
    g_clear_error(&call->error);
    g_clear_object(&call->mon);
    G_OBJECT_CLASS(qmp_call_parent_class)->finalize(object);
}

static void qmp_call_class_init(QmpCallClass *klass)
{
    G_OBJECT_CLASS(klass)->finalize = qmp_call_finalize;
}

static void qmp_call_init(QmpCall *call)
{
}

static gpointer call_get_user_data(GAsyncResult *res)
{
    return QMP_CALL(res)->user_data;
}

static GObject *call_get_source_object(GAsyncResult *res)
{
    QmpCall *call = QMP_CALL(res);
    return call->mon ? g_object_ref(G_OBJECT(call->mon)) : NULL;
}

static gboolean call_is_tagged(GAsyncResult *res, gpointer source_tag)
{
    return QMP_CALL(res)->source_tag == source_tag;
}

static void qmp_call_async_result_init(GAsyncResultIface *iface)
{
    iface->get_user_data = call_get_user_data;
    iface->get_source_object = call_get_source_object;
    iface->is_tagged = call_is_tagged;
}

static QmpCall *call_init(QmpCall *call, QmpMonitor *mon, gpointer source_tag,
                          GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data)
{
    call->mon = g_object_ref(mon);
    call->source_tag = source_tag;
    call->callback = callback;
    call->user_data = user_data;
    if (cancellable)
        call->cancellable = g_object_ref(cancellable);
    return call;
}

QmpCall *qmp_call_new(QmpMonitor *mon, gpointer source_tag,
                      GCancellable *cancellable,
                      GAsyncReadyCallback callback, gpointer user_data)
{
    return call_init(g_object_new(QMP_TYPE_CALL, NULL), mon, source_tag,
                     cancellable, callback, user_data);
}

#define POOL_MAX 64

QmpCall *qmp_call_new_pooled(GPtrArray *pool, QmpMonitor *mon, gpointer source_tag,
                             GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data)
{
    QmpCall *call = pool->len > 0 ? g_ptr_array_steal_index_fast(pool, pool->len - 1)
                                  : g_object_new(QMP_TYPE_CALL, NULL);
    return call_init(call, mon, source_tag, cancellable, callback, user_data);
}

void qmp_call_release(QmpCall *call, GPtrArray *pool)
{
    /* Only reuse a call nobody else can see any more. */
    if (pool->len >= POOL_MAX || g_atomic_int_get(&G_OBJECT(call)->ref_count) != 1) {
        g_object_unref(call);
        return;
    }
    if (call->cancel_id)
        g_cancellable_disconnect(call->cancellable, call->cancel_id);
    g_clear_object(&call->cancellable);
    g_clear_pointer(&call->reply, qmp_json_doc_unref);
    g_clear_error(&call->error);
    g_clear_object(&call->mon);
    QmpCall zero = { 0 };
    zero.parent = call->parent;
    *call = zero;
    g_ptr_array_add(pool, call);
}

void qmp_call_complete(QmpCall *call, QmpJsonDoc *reply, GError *error)
{
    if (call->completed) {
        qmp_json_doc_unref(reply);
        if (error)
            g_error_free(error);
        return;
    }
    call->completed = TRUE;
    call->reply = reply;
    call->error = error;
    if (call->cancel_id) {
        /* Never called from the cancellable's handler (that only queues an
         * idle), so disconnecting cannot deadlock. */
        g_cancellable_disconnect(call->cancellable, call->cancel_id);
        call->cancel_id = 0;
    }
    if (call->callback) {
        g_object_ref(call);
        call->callback(G_OBJECT(call->mon), G_ASYNC_RESULT(call), call->user_data);
        g_object_unref(call);
    }
}

typedef struct {
    QmpCall *call;
    QmpJsonDoc *reply;
    GError *error;
} IdleResult;

static gboolean complete_idle_cb(gpointer data)
{
    IdleResult *r = data;
    qmp_call_complete(r->call, r->reply, r->error);
    r->reply = NULL;
    r->error = NULL;
    return G_SOURCE_REMOVE;
}

static void idle_result_free(gpointer data)
{
    IdleResult *r = data;
    g_object_unref(r->call);
    qmp_json_doc_unref(r->reply);
    if (r->error)
        g_error_free(r->error);
    g_free(r);
}

void qmp_call_complete_in_idle(QmpCall *call, QmpJsonDoc *reply, GError *error)
{
    IdleResult *r = g_new0(IdleResult, 1);
    r->call = g_object_ref(call);
    r->reply = reply;
    r->error = error;
    GSource *s = g_idle_source_new();
    g_source_set_priority(s, G_PRIORITY_DEFAULT);
    g_source_set_callback(s, complete_idle_cb, r, idle_result_free);
    g_source_attach(s, qmp_monitor_get_context(call->mon));
    g_source_unref(s);
}

QmpJsonDoc *qmp_call_propagate(QmpMonitor *mon, GAsyncResult *result,
                               gpointer source_tag, GError **error)
{
    g_return_val_if_fail(QMP_IS_CALL(result), NULL);
    QmpCall *call = QMP_CALL(result);
    g_return_val_if_fail(call->mon == mon, NULL);
    g_return_val_if_fail(call->source_tag == source_tag, NULL);
    g_return_val_if_fail(call->completed, NULL);

    if (call->error) {
        g_propagate_error(error, g_error_copy(call->error));
        return NULL;
    }
    return call->reply ? qmp_json_doc_ref(call->reply) : NULL;
}
