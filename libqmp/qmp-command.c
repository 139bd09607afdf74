/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qmp-command.c: typed calls and typed event subscriptions on top of the
 * generic execute/subscribe API of the monitor.
 */
#include <string.h>
#include <yajl/yajl_gen.h>

#include "qmp-command.h"
#include "qmp-error.h"
#include "schema-guard.h"

/* The argument object as JSON text, or NULL for no arguments. */
static char *
encode_args(const QmpCommandDesc *cmd, gconstpointer args, GError **error)
{
    yajl_gen gen;
    const unsigned char *buf;
    size_t len;
    char *text = NULL;

    if (cmd->args == NULL || args == NULL)
        return NULL;
    gen = yajl_gen_alloc(NULL);
    yajl_gen_map_open(gen);
    if (qmp_value_encode_members(cmd->args, args, gen, error)) {
        yajl_gen_map_close(gen);
        yajl_gen_get_buf(gen, &buf, &len);
        text = g_strndup((const char *)buf, len);
    } else {
        g_prefix_error(error, "%s: ", cmd->name);
    }
    yajl_gen_free(gen);
    return text;
}

static QmpExecuteFlags
execute_flags(QmpMonitor *mon, const QmpCommandDesc *cmd)
{
    if ((cmd->flags & QMP_COMMAND_ALLOW_OOB) && qmp_monitor_get_oob_enabled(mon))
        return QMP_EXECUTE_OOB;
    return 0;
}

/* Encode and check; FALSE with error set when the call must not be sent. */
static gboolean
prepare(QmpMonitor *mon, const QmpCommandDesc *cmd, gconstpointer args,
        char **args_json, GError **error)
{
    *args_json = NULL;
    if (cmd->args != NULL && args != NULL) {
        *args_json = encode_args(cmd, args, error);
        if (*args_json == NULL)
            return FALSE;
    }
    return qmp_schema_guard_check(mon, cmd->name, *args_json, error);
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
    g_autofree char *args_json = NULL;
    g_autoptr(QmpJsonDoc) doc = NULL;
    const QmpJson *ret = NULL;

    if (!prepare(mon, cmd, args, &args_json, error))
        return FALSE;
    doc = qmp_monitor_execute(mon, cmd->name, args_json, execute_flags(mon, cmd),
                              fds, n_fds, QMP_TIMEOUT_DEFAULT, &ret, error);
    if (doc == NULL)
        return FALSE;
    return decode_return(cmd, ret, result, n_result, error);
}

static void
call_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
    GTask *task = user_data;
    GError *error = NULL;
    const QmpJson *ret = NULL;
    QmpJsonDoc *doc;

    doc = qmp_monitor_execute_finish(QMP_MONITOR(source), res, &ret, &error);
    if (doc == NULL)
        g_task_return_error(task, error);
    else
        g_task_return_pointer(task, doc, (GDestroyNotify)qmp_json_doc_unref);
    g_object_unref(task);
}

void
qmp_call_typed_async(QmpMonitor *mon, const QmpCommandDesc *cmd,
                     gconstpointer args, const int *fds, guint n_fds,
                     GCancellable *cancellable, GAsyncReadyCallback callback,
                     gpointer user_data)
{
    GTask *task = g_task_new(mon, cancellable, callback, user_data);
    g_autofree char *args_json = NULL;
    GError *error = NULL;

    g_task_set_source_tag(task, qmp_call_typed_async);
    g_task_set_task_data(task, (gpointer)cmd, NULL);
    if (!prepare(mon, cmd, args, &args_json, &error)) {
        g_task_return_error(task, error);
        g_object_unref(task);
        return;
    }
    qmp_monitor_execute_async(mon, cmd->name, args_json,
                              execute_flags(mon, cmd), fds, n_fds, cancellable,
                              call_done, task);
}

gboolean
qmp_call_typed_finish(QmpMonitor *mon, const QmpCommandDesc *cmd,
                      GAsyncResult *result, gpointer out, gsize *n_out,
                      GError **error)
{
    g_autoptr(QmpJsonDoc) doc = NULL;
    const QmpJson *root;

    g_return_val_if_fail(g_task_is_valid(result, mon), FALSE);
    g_return_val_if_fail(g_task_get_task_data(G_TASK(result)) == cmd, FALSE);
    doc = g_task_propagate_pointer(G_TASK(result), error);
    if (doc == NULL)
        return FALSE;
    root = qmp_json_doc_root(doc);
    return decode_return(cmd, qmp_json_lookup(root, "return"), out, n_out,
                         error);
}

/* -- typed events ------------------------------------------------------ */

typedef struct {
    const QmpEventDesc *event;
    QmpTypedEventFunc func;
    gpointer user_data;
    GDestroyNotify destroy;
} Subscription;

static void
subscription_free(gpointer data)
{
    Subscription *s = data;

    if (s->destroy != NULL)
        s->destroy(s->user_data);
    g_free(s);
}

static void
typed_event(QmpMonitor *mon, const char *event, const QmpJson *data,
            gint64 timestamp_us, gpointer user_data)
{
    Subscription *s = user_data;
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
    Subscription *s = g_new0(Subscription, 1);

    s->event = event;
    s->func = func;
    s->user_data = user_data;
    s->destroy = destroy;
    return qmp_monitor_subscribe(mon, event->name, typed_event, s,
                                 subscription_free);
}
