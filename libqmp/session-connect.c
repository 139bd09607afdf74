/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * session-connect.c: connecting a QmpMonitor (unix, TCP, a given fd, or a
 * QEMU we spawn), reading the greeting and negotiating capabilities (see
 * qmp-monitor.h).
 */
#include <unistd.h>
#include <gio/gio.h>
#include "session-private.h"
#include "spawn.h"
#include "transport.h"

/* ---- connecting -------------------------------------------------------- */

static gboolean check_fresh(QmpMonitor *mon, GError **error)
{
    if (mon->connected) {
        g_set_error_literal(error, QMP_ERROR, QMP_ERROR_INVALID,
                            "the monitor was already connected");
        return FALSE;
    }
    return TRUE;
}

gboolean qmp_monitor_connect_unix(QmpMonitor *mon, const char *path, GError **error)
{
    g_return_val_if_fail(QMP_IS_MONITOR(mon), FALSE);
    g_return_val_if_fail(path != NULL, FALSE);
    if (!check_fresh(mon, error))
        return FALSE;
    int fd = qmp_transport_connect_unix(path, error);
    if (fd < 0)
        return FALSE;
    qmp_session_attach(mon, fd);
    return TRUE;
}

gboolean qmp_monitor_connect_tcp(QmpMonitor *mon, const char *host, guint16 port,
                                 GError **error)
{
    g_return_val_if_fail(QMP_IS_MONITOR(mon), FALSE);
    g_return_val_if_fail(host != NULL, FALSE);
    if (!check_fresh(mon, error))
        return FALSE;
    int fd = qmp_transport_connect_tcp(host, port, error);
    if (fd < 0)
        return FALSE;
    qmp_session_attach(mon, fd);
    return TRUE;
}

gboolean qmp_monitor_connect_fd(QmpMonitor *mon, int fd, GError **error)
{
    g_return_val_if_fail(QMP_IS_MONITOR(mon), FALSE);
    if (!check_fresh(mon, error) || !qmp_transport_prepare_fd(fd, error)) {
        if (fd >= 0)
            close(fd);
        return FALSE;
    }
    qmp_session_attach(mon, fd);
    return TRUE;
}

/* ---- connecting without blocking ---------------------------------------- */

typedef struct {
    char *path;          /* unix, or NULL for TCP */
    char *host;
    guint16 port;
} ConnectArgs;

static ConnectArgs *connect_args_new(const char *path, const char *host, guint16 port)
{
    ConnectArgs *a = g_new0(ConnectArgs, 1);
    a->path = g_strdup(path);
    a->host = g_strdup(host);
    a->port = port;
    return a;
}

static void connect_args_free(ConnectArgs *a)
{
    g_free(a->path);
    g_free(a->host);
    g_free(a);
}

static void close_fd_ptr(gpointer p)
{
    close(GPOINTER_TO_INT(p) - 1);
}

/* In a worker thread: resolving a name and connect() may block. */
static void connect_thread(GTask *task, gpointer source, gpointer data,
                           GCancellable *cancellable)
{
    ConnectArgs *a = data;
    GError *error = NULL;
    int fd = a->path ? qmp_transport_connect_unix(a->path, &error)
                     : qmp_transport_connect_tcp(a->host, a->port, &error);
    if (fd < 0)
        g_task_return_error(task, error);
    else
        g_task_return_pointer(task, GINT_TO_POINTER(fd + 1), close_fd_ptr);
}

static void start_connect(QmpMonitor *mon, ConnectArgs *a, gpointer tag,
                          GCancellable *cancellable, GAsyncReadyCallback callback,
                          gpointer user_data)
{
    /* callbacks run in the monitor's context, like every other one */
    g_main_context_push_thread_default(mon->ctx);
    GTask *task = g_task_new(mon, cancellable, callback, user_data);
    g_main_context_pop_thread_default(mon->ctx);
    g_task_set_source_tag(task, tag);
    g_task_set_task_data(task, a, (GDestroyNotify) connect_args_free);
    g_task_set_return_on_cancel(task, TRUE);
    GError *error = NULL;
    if (!check_fresh(mon, &error))
        g_task_return_error(task, error);
    else if (g_cancellable_is_cancelled(cancellable))
        g_task_return_new_error(task, QMP_ERROR, QMP_ERROR_CANCELLED,
                                "connecting was cancelled");
    else
        g_task_run_in_thread(task, connect_thread);
    g_object_unref(task);
}

static gboolean finish_connect(QmpMonitor *mon, GAsyncResult *result, gpointer tag,
                               GError **error)
{
    g_return_val_if_fail(g_task_is_valid(result, mon), FALSE);
    g_return_val_if_fail(g_task_get_source_tag(G_TASK(result)) == tag, FALSE);
    GError *e = NULL;
    gpointer p = g_task_propagate_pointer(G_TASK(result), &e);
    if (e) {
        if (g_error_matches(e, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
            g_clear_error(&e);
            e = g_error_new_literal(QMP_ERROR, QMP_ERROR_CANCELLED, "connecting was cancelled");
        }
        g_propagate_error(error, e);
        return FALSE;
    }
    int fd = GPOINTER_TO_INT(p) - 1;
    if (!check_fresh(mon, error)) {   /* connected meanwhile by another call */
        close(fd);
        return FALSE;
    }
    qmp_session_attach(mon, fd);
    return TRUE;
}

void qmp_monitor_connect_unix_async(QmpMonitor *mon, const char *path,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback, gpointer user_data)
{
    g_return_if_fail(QMP_IS_MONITOR(mon));
    g_return_if_fail(path != NULL);
    start_connect(mon, connect_args_new(path, NULL, 0), qmp_monitor_connect_unix_async,
                  cancellable, callback, user_data);
}

gboolean qmp_monitor_connect_unix_finish(QmpMonitor *mon, GAsyncResult *result,
                                         GError **error)
{
    return finish_connect(mon, result, qmp_monitor_connect_unix_async, error);
}

void qmp_monitor_connect_tcp_async(QmpMonitor *mon, const char *host, guint16 port,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback, gpointer user_data)
{
    g_return_if_fail(QMP_IS_MONITOR(mon));
    g_return_if_fail(host != NULL);
    start_connect(mon, connect_args_new(NULL, host, port), qmp_monitor_connect_tcp_async,
                  cancellable, callback, user_data);
}

gboolean qmp_monitor_connect_tcp_finish(QmpMonitor *mon, GAsyncResult *result,
                                        GError **error)
{
    return finish_connect(mon, result, qmp_monitor_connect_tcp_async, error);
}

/* ---- spawning QEMU (its end is in session-close.c) ---------------------- */

gboolean qmp_monitor_spawn(QmpMonitor *mon, const char *binary,
                           const char *const *extra_argv, GError **error)
{
    g_return_val_if_fail(QMP_IS_MONITOR(mon), FALSE);
    g_return_val_if_fail(binary != NULL, FALSE);
    if (!check_fresh(mon, error))
        return FALSE;
    int fd;
    pid_t pid;
    if (!qmp_spawn_qemu(binary, extra_argv, &fd, &pid, error))
        return FALSE;
    mon->pid = pid;
    qmp_session_attach(mon, fd);
    return TRUE;
}

GPid qmp_monitor_get_pid(QmpMonitor *mon)
{
    g_return_val_if_fail(QMP_IS_MONITOR(mon), 0);
    return mon->pid > 0 ? mon->pid : 0;
}

/* ---- the greeting ------------------------------------------------------ */

static void hs_send_capabilities(QmpMonitor *mon);

/* What is wrong with a greeting's members, or NULL: {"QMP": {"version":
 * {"qemu": {"major": N, "minor": N, "micro": N}, "package": S},
 * "capabilities": [S...]}} (integers >= 0; "package" may be absent). */
static GError *greeting_fault(const QmpJson *qmp)
{
    static const char *const parts[] = { "major", "minor", "micro" };
    const QmpJson *version = qmp_json_lookup(qmp, "version");
    if (!version || version->type != QMP_JSON_OBJECT)
        return qmp_session_protocol_error("bad greeting: \"version\" must be an object");
    const QmpJson *qemu = qmp_json_lookup(version, "qemu");
    if (!qemu || qemu->type != QMP_JSON_OBJECT)
        return qmp_session_protocol_error("bad greeting: \"version.qemu\" must be an object");
    for (guint i = 0; i < G_N_ELEMENTS(parts); i++) {
        const QmpJson *v = qmp_json_lookup(qemu, parts[i]);
        gint64 n;
        if (!v || !qmp_json_get_int64(v, &n) || n < 0)
            return qmp_session_protocol_error("bad greeting: \"version.qemu.%s\" must be an "
                                              "integer >= 0", parts[i]);
    }
    const QmpJson *pkg = qmp_json_lookup(version, "package");
    if (pkg && !qmp_json_get_string(pkg))
        return qmp_session_protocol_error("bad greeting: \"version.package\" must be a string");
    const QmpJson *list = qmp_json_lookup(qmp, "capabilities");
    if (!list || list->type != QMP_JSON_ARRAY)
        return qmp_session_protocol_error("bad greeting: \"capabilities\" must be an array");
    for (const QmpJson *c = list->v.first; c; c = c->next)
        if (!qmp_json_get_string(c))
            return qmp_session_protocol_error("bad greeting: \"capabilities\" must hold "
                                              "strings");
    return NULL;
}

GError *qmp_session_handle_greeting(QmpMonitor *mon, QmpJsonDoc *doc)
{
    const QmpJson *root = qmp_json_doc_root(doc);
    const QmpJson *qmp = qmp_json_lookup(root, "QMP");
    if (!qmp || qmp->type != QMP_JSON_OBJECT)
        return qmp_session_protocol_error("expected the QMP greeting, got another message");
    GError *fault = greeting_fault(qmp);
    if (fault)
        return fault;

    const QmpJson *version = qmp_json_lookup(qmp, "version");
    const QmpJson *qemu = version ? qmp_json_lookup(version, "qemu") : NULL;
    gint64 v[3] = { 0, 0, 0 };
    qmp_session_json_int(qemu, "major", &v[0]);
    qmp_session_json_int(qemu, "minor", &v[1]);
    qmp_session_json_int(qemu, "micro", &v[2]);
    for (int i = 0; i < 3; i++)
        mon->version[i] = (int) CLAMP(v[i], 0, G_MAXINT);
    const QmpJson *pkg = version ? qmp_json_lookup(version, "package") : NULL;
    mon->package = pkg ? qmp_json_get_string(pkg) : NULL;

    GPtrArray *caps = g_ptr_array_new();
    const QmpJson *list = qmp_json_lookup(qmp, "capabilities");
    if (list && list->type == QMP_JSON_ARRAY)
        for (const QmpJson *c = list->v.first; c; c = c->next)
            if (qmp_json_get_string(c))
                g_ptr_array_add(caps, g_strdup(qmp_json_get_string(c)));
    g_ptr_array_add(caps, NULL);
    mon->caps = (char **) g_ptr_array_free(caps, FALSE);
    mon->greeting = qmp_json_doc_ref(doc);

    if (mon->handshake)
        hs_send_capabilities(mon);
    return NULL;
}

gboolean qmp_monitor_get_version(QmpMonitor *mon, int *major, int *minor,
                                 int *micro, const char **package)
{
    g_return_val_if_fail(QMP_IS_MONITOR(mon), FALSE);
    if (major)
        *major = mon->version[0];
    if (minor)
        *minor = mon->version[1];
    if (micro)
        *micro = mon->version[2];
    if (package)
        *package = mon->package;
    return mon->greeting != NULL;
}

const char *const *qmp_monitor_get_capabilities(QmpMonitor *mon)
{
    g_return_val_if_fail(QMP_IS_MONITOR(mon), NULL);
    return (const char *const *) mon->caps;
}

const QmpJson *qmp_monitor_get_greeting(QmpMonitor *mon)
{
    g_return_val_if_fail(QMP_IS_MONITOR(mon), NULL);
    return mon->greeting ? qmp_json_doc_root(mon->greeting) : NULL;
}

gboolean qmp_monitor_get_oob_enabled(QmpMonitor *mon)
{
    g_return_val_if_fail(QMP_IS_MONITOR(mon), FALSE);
    return mon->oob_enabled;
}

/* ---- handshake --------------------------------------------------------- */

static void hs_caps_done(GObject *source, GAsyncResult *res, gpointer data)
{
    QmpMonitor *mon = QMP_MONITOR(source);
    GError *error = NULL;
    QmpJsonDoc *doc = qmp_call_propagate(mon, res, hs_caps_done, &error);
    QmpCall *hs = mon->handshake;

    if (doc) {
        mon->negotiated = TRUE;
        mon->oob_enabled = mon->hs_oob;
        qmp_json_doc_unref(doc);
        /* The window may now apply to commands queued meanwhile. */
        qmp_session_release_held(mon);
    }
    if (!hs) {
        g_clear_error(&error);
        return;
    }
    mon->handshake = NULL;
    if (mon->hs_timeout) {
        g_source_destroy(mon->hs_timeout);
        g_clear_pointer(&mon->hs_timeout, g_source_unref);
    }
    qmp_call_complete(hs, NULL, error);
    g_object_unref(hs);
}

static void hs_send_capabilities(QmpMonitor *mon)
{
    gboolean offered = g_strv_contains((const char *const *) mon->caps, "oob");
    mon->hs_oob = (mon->hs_flags & QMP_HANDSHAKE_OOB) && offered;
    QmpRequest req = { .command = "qmp_capabilities",
                       .args_json = mon->hs_oob ? "{\"enable\":[\"oob\"]}" : NULL };
    QmpCall *c = qmp_session_start(mon, &req, hs_caps_done, NULL, NULL,
                                   hs_caps_done, NULL);
    g_object_unref(c);
}

static gboolean hs_timeout_cb(gpointer data)
{
    QmpMonitor *mon = data;
    g_clear_pointer(&mon->hs_timeout, g_source_unref);
    qmp_session_fatal(mon, g_error_new(QMP_ERROR, QMP_ERROR_TIMEOUT,
                           mon->greeting ? "capability negotiation did not finish within %u ms"
                                         : "no greeting within %u ms",
                           mon->hs_timeout_ms));
    return G_SOURCE_REMOVE;
}

static QmpCall *start_handshake(QmpMonitor *mon, QmpHandshakeFlags flags,
                                gint timeout_ms, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data)
{
    QmpCall *call = qmp_call_new(mon, qmp_monitor_handshake_async, cancellable,
                                 callback, user_data);
    if (!qmp_session_usable(mon)) {
        qmp_call_complete_in_idle(call, NULL, qmp_session_closed_error(mon));
        return call;
    }
    if (mon->handshake || mon->negotiated) {
        qmp_call_complete_in_idle(call, NULL,
            g_error_new_literal(QMP_ERROR, QMP_ERROR_INVALID,
                                mon->negotiated ? "capabilities were already negotiated"
                                                : "a handshake is already in progress"));
        return call;
    }
    mon->handshake = g_object_ref(call);
    mon->hs_flags = flags;
    gint t = qmp_session_effective_timeout(mon, timeout_ms);
    if (t > 0) {
        mon->hs_timeout_ms = t;
        mon->hs_timeout = g_timeout_source_new(t);
        g_source_set_callback(mon->hs_timeout, hs_timeout_cb, mon, NULL);
        g_source_attach(mon->hs_timeout, mon->ctx);
    }
    qmp_session_watch_cancellable(call);
    if (mon->greeting)
        hs_send_capabilities(mon);
    return call;
}

void qmp_monitor_handshake_async(QmpMonitor *mon, QmpHandshakeFlags flags,
                                 gint timeout_ms, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data)
{
    g_return_if_fail(QMP_IS_MONITOR(mon));
    g_object_unref(start_handshake(mon, flags, timeout_ms, cancellable,
                                   callback, user_data));
}

gboolean qmp_monitor_handshake_finish(QmpMonitor *mon, GAsyncResult *result,
                                      GError **error)
{
    g_return_val_if_fail(QMP_IS_MONITOR(mon), FALSE);
    GError *e = NULL;
    qmp_call_propagate(mon, result, qmp_monitor_handshake_async, &e);
    if (e) {
        g_propagate_error(error, e);
        return FALSE;
    }
    return TRUE;
}

gboolean qmp_monitor_handshake(QmpMonitor *mon, QmpHandshakeFlags flags,
                               gint timeout_ms, GError **error)
{
    g_return_val_if_fail(QMP_IS_MONITOR(mon), FALSE);
    if (!qmp_session_acquire(mon, error))
        return FALSE;
    QmpCall *call = start_handshake(mon, flags, timeout_ms, NULL, NULL, NULL);
    qmp_session_wait_call(mon, call, 0); /* the handshake has its own timer */
    g_main_context_release(mon->ctx);
    gboolean ok = qmp_monitor_handshake_finish(mon, G_ASYNC_RESULT(call), error);
    g_object_unref(call);
    return ok;
}
