/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qmp-command.h: the runtime behind the generated typed command wrappers and
 * event subscriptions.  A generated wrapper is one QmpCommandDesc table plus a
 * call to qmp_call_typed(); a typed event subscription is one QmpEventDesc
 * plus qmp_subscribe_typed().  Applications normally use the generated
 * functions (qmp_query_status(), qmp_subscribe_stop(), ...) and never these.
 *
 * Ownership and threads follow qmp-monitor.h: arguments are borrowed,
 * results are new values the caller frees with the generated _free (arrays:
 * free each element, then g_free the array), every call is made from the
 * thread that owns the monitor's context.
 */
#pragma once

#include "qmp-monitor.h"
#include "qmp-type-info.h"
#include "qmp-export.h"

G_BEGIN_DECLS
QMP_BEGIN_PUBLIC

enum {
    QMP_COMMAND_ALLOW_OOB = 1 << 0,   /* sent with exec-oob when enabled */
    QMP_COMMAND_DEPRECATED = 1 << 1,
    QMP_COMMAND_UNSTABLE = 1 << 2,
    QMP_COMMAND_HAS_RETURN = 1 << 3,  /* `ret` describes the reply's value */
};

typedef struct {
    const char *name;            /* QMP name, e.g. "migrate-start-postcopy" */
    const QmpTypeInfo *args;     /* argument object type, NULL when none */
    QmpValueInfo ret;            /* valid with QMP_COMMAND_HAS_RETURN */
    guint32 flags;
    const char *since;           /* from the schema docs, or NULL */
} QmpCommandDesc;

typedef struct {
    const char *name;            /* QMP name, e.g. "MIGRATION" */
    const QmpTypeInfo *data;     /* data object type, NULL when none */
    guint32 flags;               /* QMP_COMMAND_DEPRECATED/UNSTABLE */
    const char *since;
} QmpEventDesc;

/* Call a command and wait for its reply (the monitor's default timeout).
 * args: a value of cmd->args (may be NULL when every argument is optional).
 * result: storage for the return value as qmp-type-info.h lays it out (a
 * pointer for objects, strings, arrays and 'any'; the scalar itself
 * otherwise), n_result its element count for arrays; both may be NULL for
 * commands without a return.  With schema checking on (see
 * qmp_monitor_check_schema()), a command or argument the server lacks fails
 * with QMP_ERROR_UNSUPPORTED before anything is sent. */
gboolean qmp_call_typed(QmpMonitor *mon, const QmpCommandDesc *cmd,
                        gconstpointer args, const int *fds, guint n_fds,
                        gpointer result, gsize *n_result, GError **error);

void qmp_call_typed_async(QmpMonitor *mon, const QmpCommandDesc *cmd,
                          gconstpointer args, const int *fds, guint n_fds,
                          GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data);
gboolean qmp_call_typed_finish(QmpMonitor *mon, const QmpCommandDesc *cmd,
                               GAsyncResult *result, gpointer out,
                               gsize *n_out, GError **error);

/* A typed event callback: data is the decoded event data (NULL for events
 * without data, or when decoding failed, in which case error says why);
 * it is valid only during the call (use the generated _copy to keep it). */
typedef void (*QmpTypedEventFunc)(QmpMonitor *mon, gconstpointer data,
                                  gint64 timestamp_us, const GError *error,
                                  gpointer user_data);

/* Subscribe to one event with typed decoding; returns an id for
 * qmp_monitor_unsubscribe(). */
guint qmp_subscribe_typed(QmpMonitor *mon, const QmpEventDesc *event,
                          QmpTypedEventFunc func, gpointer user_data,
                          GDestroyNotify destroy);

/* Opt-in: ask the server for its schema (one query-qmp-schema) and from
 * then on check every typed call against it before sending.  Commands and
 * arguments the server does not have fail with QMP_ERROR_UNSUPPORTED and a
 * message naming what is missing. */
gboolean qmp_monitor_check_schema(QmpMonitor *mon, GError **error);

/* Whether the server has this command; TRUE when schema checking is off. */
gboolean qmp_monitor_has_command(QmpMonitor *mon, const char *command);

QMP_END_PUBLIC
G_END_DECLS
