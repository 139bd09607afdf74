/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qmp-command.c: typed calls and typed event subscriptions.  A typed call
 * is encoded once into a tree (qmp_value_encode_json), checked against the
 * server's schema when the monitor checks (schema-guard.c), and handed to
 * the monitor's one way out (qmp_session_start in session-calls.c), as a
 * call object like any other: cancel, timeout and close give the same
 * QMP_ERROR codes as untyped calls.
 */
#include <string.h>
#include <yajl/yajl_gen.h>

#include "qmp-command.h"
#include "qmp-error.h"
#include "schema-guard.h"
#include "session-private.h"

static QmpExecuteFlags
execute_flags(QmpMonitor *mon, const QmpCommandDesc *cmd)
{
    if ((cmd->flags & QMP_COMMAND_ALLOW_OOB) && qmp_monitor_get_oob_enabled(mon))
        return QMP_EXECUTE_OOB;
    return 0;
}

/* The request for a typed call: its arguments encoded once into *args (a
 * tree; NULL when the command takes none or none are given), checked
 * against the server's schema when the monitor checks, or the reason it
 * must not be sent in req->error. */
static void
prepare(QmpMonitor *mon, const QmpCommandDesc *cmd, gconstpointer args,
        const int *fds, guint n_fds, QmpJsonDoc **tree, QmpRequest *req)
{
    GError *error = NULL;

    *tree = NULL;
    memset(req, 0, sizeof(*req));
    req->command = cmd->name;
    req->flags = execute_flags(mon, cmd);
    req->fds = fds;
    req->n_fds = n_fds;
    if (cmd->args != NULL && args != NULL) {
        *tree = qmp_value_encode_json(cmd->args, args, &error);
        if (*tree == NULL) {
            g_prefix_error(&error, "%s: ", cmd->name);
            req->error = error;
            return;
        }
        req->args = qmp_json_doc_root(*tree);
    }
    if (!qmp_schema_guard_check(mon, cmd->name, req->args, &error))
        req->error = error;
}

static gboolean
decode_return(const QmpCommandDesc *cmd, const QmpJson *ret, gpointer out,
              gsize *n_out, GError **error)
{
    if (!(cmd->flags & QMP_COMMAND_HAS_RETURN) || out == NULL)
        return TRUE;
    if (ret == NULL) {
        g_set_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL,
                    "%s: the reply has no return value", cmd->name);
        return FALSE;
    }
    if (!qmp_value_decode_into(&cmd->ret, ret, QMP_DECODE_DEFAULT, "return",
                               out, n_out, error)) {
        g_prefix_error(error, "%s: ", cmd->name);
        return FALSE;
    }
    return TRUE;
}

gboolean
qmp_call_typed(QmpMonitor *mon, const QmpCommandDesc *cmd, gconstpointer args,
               const int *fds, guint n_fds, gpointer result, gsize *n_result,
               GError **error)
{
    g_autoptr(QmpJsonDoc) tree = NULL;
    QmpRequest req;
    QmpCall *call;
    gboolean ok;

    g_return_val_if_fail(QMP_IS_MONITOR(mon), FALSE);
    g_return_val_if_fail(cmd != NULL, FALSE);
    prepare(mon, cmd, args, fds, n_fds, &tree, &req);
    call = qmp_session_call_sync(mon, &req, qmp_call_typed_async, cmd,
                                 QMP_TIMEOUT_DEFAULT, error);
    if (call == NULL)
        return FALSE;
    ok = qmp_call_typed_finish(mon, cmd, G_ASYNC_RESULT(call), result, n_result,
                               error);
    g_object_unref(call);
    return ok;
}

void
qmp_call_typed_async(QmpMonitor *mon, const QmpCommandDesc *cmd,
                     gconstpointer args, const int *fds, guint n_fds,
                     GCancellable *cancellable, GAsyncReadyCallback callback,
                     gpointer user_data)
{
    g_autoptr(QmpJsonDoc) tree = NULL;
    QmpRequest req;

    g_return_if_fail(QMP_IS_MONITOR(mon));
    g_return_if_fail(cmd != NULL);
    prepare(mon, cmd, args, fds, n_fds, &tree, &req);
    g_object_unref(qmp_session_start(mon, &req, qmp_call_typed_async, cmd,
                                     cancellable, callback, user_data));
}

gboolean
qmp_call_typed_finish(QmpMonitor *mon, const QmpCommandDesc *cmd,
                      GAsyncResult *result, gpointer out, gsize *n_out,
                      GError **error)
{
    g_autoptr(QmpJsonDoc) doc = NULL;

    g_return_val_if_fail(QMP_IS_CALL(result), FALSE);
    g_return_val_if_fail(QMP_CALL(result)->data == cmd, FALSE);
    doc = qmp_call_propagate(mon, result, qmp_call_typed_async, error);
    if (doc == NULL)
        return FALSE;
    return decode_return(cmd, qmp_json_lookup(qmp_json_doc_root(doc), "return"),
                         out, n_out, error);
}

/* -- typed events ------------------------------------------------------ */

typedef struct {
    const QmpEventDesc *event;
    QmpTypedEventFunc func;
    gpointer user_data;
    GDestroyNotify destroy;
} TypedSubscription;

static void
subscription_free(gpointer data)
{
    TypedSubscription *s = data;

    if (s->destroy != NULL)
        s->destroy(s->user_data);
    g_free(s);
}

static void
typed_event(QmpMonitor *mon, const char *event, const QmpJson *data,
            gint64 timestamp_us, gpointer user_data)
{
    TypedSubscription *s = user_data;
    g_autoptr(GError) error = NULL;
    gpointer value = NULL;

    if (s->event->data != NULL) {
        if (data == NULL) {
            g_set_error(&error, QMP_ERROR, QMP_ERROR_DECODE,
                        "event %s: no data", event);
        } else if (!qmp_value_decode(s->event->data, data, QMP_DECODE_DEFAULT,
                                     "data", &value, &error)) {
            g_prefix_error(&error, "event %s: ", event);
        }
    }
    s->func(mon, value, timestamp_us, error, s->user_data);
    if (value != NULL)
        qmp_value_free(s->event->data, value);
}

guint
qmp_subscribe_typed(QmpMonitor *mon, const QmpEventDesc *event,
                    QmpTypedEventFunc func, gpointer user_data,
                    GDestroyNotify destroy)
{
    TypedSubscription *s = g_new0(TypedSubscription, 1);

    s->event = event;
    s->func = func;
    s->user_data = user_data;
    s->destroy = destroy;
    return qmp_monitor_subscribe(mon, event->name, typed_event, s,
                                 subscription_free);
}
