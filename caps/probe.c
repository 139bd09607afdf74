/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * probe.c: asking a QEMU (a spawned binary, a running one's socket, or a
 * recording played by the replay server) what the rules need, all queries
 * pipelined at once.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "caps-private.h"
#include "caps-rules.h"
#include "qmp-replay.h"

#define PROBE_TIMEOUT_MS 60000
#define HANDSHAKE_TIMEOUT_MS 30000

typedef struct {
    QmpCapsReply *slot;
    guint *pending;
} Call;

static void on_reply(GObject *src, GAsyncResult *res, gpointer data)
{
    Call *c = data;
    c->slot->doc = qmp_monitor_execute_finish(QMP_MONITOR(src), res, &c->slot->ret,
                                              &c->slot->error);
    (*c->pending)--;
    g_free(c);
}

static void ask(QmpMonitor *mon, QmpCapsReply *slot, const char *command, const char *args,
                guint *pending, GCancellable *cancel)
{
    Call *c = g_new(Call, 1);
    c->slot = slot;
    c->pending = pending;
    slot->asked = TRUE;
    (*pending)++;
    qmp_monitor_execute_async(mon, command, args, QMP_EXECUTE_NONE, NULL, 0, cancel, on_reply, c);
}

static gboolean on_timeout(gpointer data)
{
    g_cancellable_cancel(G_CANCELLABLE(data));
    return G_SOURCE_REMOVE;
}

static void wait_all(QmpMonitor *mon, guint *pending, GCancellable *cancel)
{
    GMainContext *ctx = qmp_monitor_get_context(mon);
    GSource *t = g_timeout_source_new(PROBE_TIMEOUT_MS);
    g_source_set_callback(t, on_timeout, cancel, NULL);
    g_source_attach(t, ctx);
    while (*pending)
        g_main_context_iteration(ctx, TRUE);
    g_source_destroy(t);
    g_source_unref(t);
}

/* A reply that failed for a reason other than QEMU's own error reply. */
static const GError *transport_error(const QmpCapsReply *r)
{
    return r->error && r->error->domain != QMP_COMMAND_ERROR ? r->error : NULL;
}

static gboolean collect(QmpMonitor *mon, QmpCapsInputs *in, GError **error)
{
    const char *const *gcaps = qmp_monitor_get_capabilities(mon);
    in->greeting_caps = g_strdupv((char **) gcaps);
    const char *package = NULL;
    if (qmp_monitor_get_version(mon, &in->version[0], &in->version[1], &in->version[2],
                                &package)) {
        in->have_version = TRUE;
        in->package = g_strdup(package);
    }

    g_autoptr(GCancellable) cancel = g_cancellable_new();
    guint pending = 0;
    ask(mon, &in->schema, "query-qmp-schema", NULL, &pending, cancel);
    ask(mon, &in->migration, "query-migrate-capabilities", NULL, &pending, cancel);
    if (qmp_caps_rule_kinds & (1u << QMP_CAPS_RULE_QOM_TYPE))
        ask(mon, &in->types, "qom-list-types", NULL, &pending, cancel);
    for (guint i = 0; i < in->n_props; i++) {
        g_autofree char *args = g_strdup_printf("{\"typename\":\"%s\"}",
                                                qmp_caps_qom_property_types[i]);
        ask(mon, &in->props[i], "qom-list-properties", args, &pending, cancel);
    }
    if (!in->have_version)
        ask(mon, &in->version_reply, "query-version", NULL, &pending, cancel);
    wait_all(mon, &pending, cancel);

    /* QEMU before 2.5 has no query-qmp-schema: fall back on the list of
     * commands. */
    if (!in->schema.doc && !transport_error(&in->schema)) {
        ask(mon, &in->commands, "query-commands", NULL, &pending, cancel);
        wait_all(mon, &pending, cancel);
    }

    const GError *fault = qmp_monitor_get_error(mon);
    if (!fault)
        fault = transport_error(&in->schema);
    if (fault) {
        g_set_error(error, fault->domain, fault->code, "probing: %s", fault->message);
        return FALSE;
    }
    return TRUE;
}

QmpCaps *qmp_caps_probe_monitor(QmpMonitor *mon, GError **error)
{
    QmpCapsInputs in;
    qmp_caps_inputs_init(&in);
    in.have_greeting = qmp_monitor_get_greeting(mon) != NULL;
    QmpCaps *caps = NULL;
    if (collect(mon, &in, error))
        caps = qmp_caps_evaluate(&in, "monitor");
    qmp_caps_inputs_clear(&in);
    return caps;
}

/* Handshake on a fresh monitor, probe, and close it. */
static QmpCaps *probe_connected(QmpMonitor *mon, QmpCapsInputs *in, const char *source,
                                GError **error)
{
    QmpCaps *caps = NULL;
    if (qmp_monitor_handshake(mon, QMP_HANDSHAKE_NONE, HANDSHAKE_TIMEOUT_MS, error) &&
        collect(mon, in, error))
        caps = qmp_caps_evaluate(in, source);
    qmp_monitor_close(mon);
    return caps;
}

QmpCaps *qmp_caps_probe_socket(const char *path, GError **error)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    g_autoptr(QmpMonitor) mon = qmp_monitor_new(ctx);
    if (!qmp_monitor_connect_unix(mon, path, error))
        return NULL;
    QmpCapsInputs in;
    qmp_caps_inputs_init(&in);
    in.have_greeting = TRUE;
    g_autofree char *source = g_strconcat("socket:", path, NULL);
    QmpCaps *caps = probe_connected(mon, &in, source, error);
    qmp_caps_inputs_clear(&in);
    return caps;
}

/* Spawn binary (an absolute path) and probe it. */
QmpCaps *qmp_caps_probe_spawn(const char *binary, GError **error)
{
    static const char *const argv[] = {
        "-machine", "none", "-nodefaults", "-display", "none", "-S", "-no-user-config", NULL,
    };
    g_autoptr(GMainContext) ctx = g_main_context_new();
    g_autoptr(QmpMonitor) mon = qmp_monitor_new(ctx);
    if (!qmp_monitor_spawn(mon, binary, argv, error))
        return NULL;
    QmpCapsInputs in;
    qmp_caps_inputs_init(&in);
    in.have_greeting = TRUE;
    QmpCaps *caps = probe_connected(mon, &in, binary, error);
    qmp_caps_inputs_clear(&in);
    return caps;
}

QmpCaps *qmp_caps_probe_recording(const char *path, GError **error)
{
    g_autoptr(QmpReplay) rec = qmp_replay_load(path, error);
    if (!rec)
        return NULL;
    QmpCapsInputs in;
    qmp_caps_inputs_init(&in);
    in.from_recording = TRUE;
    for (guint i = 0; i < qmp_replay_get_n_messages(rec); i++) {
        QmpReplayMsgKind kind;
        qmp_replay_get_message(rec, i, NULL, &kind, NULL, NULL, NULL);
        if (kind == QMP_REPLAY_MSG_GREETING) {
            in.have_greeting = TRUE;
            break;
        }
    }
    g_autoptr(GMainContext) ctx = g_main_context_new();
    g_autoptr(QmpReplayServer) server = qmp_replay_server_new(rec, QMP_REPLAY_LENIENT, ctx);
    if (!qmp_replay_server_use_recorded_schema(server))
        qmp_replay_server_set_schema(server, NULL);
    g_autoptr(QmpMonitor) mon = qmp_monitor_new(ctx);
    int fds[2];
    QmpCaps *caps = NULL;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0) {
        g_set_error(error, QMP_ERROR, QMP_ERROR_IO, "socketpair: %s", g_strerror(errno));
    } else if (!qmp_replay_server_serve_fd(server, fds[0], error)) {
        close(fds[1]);
    } else if (qmp_monitor_connect_fd(mon, fds[1], error)) {
        g_autofree char *source = g_strconcat("recording:", path, NULL);
        caps = probe_connected(mon, &in, source, error);
    }
    qmp_caps_inputs_clear(&in);
    return caps;
}
