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

/* One deadline for a whole probe (handshake and every query). */
static gint probe_timeout_ms = QMP_CAPS_DEFAULT_PROBE_TIMEOUT_MS;

void qmp_caps_set_probe_timeout(guint timeout_ms)
{
    g_atomic_int_set(&probe_timeout_ms,
                     timeout_ms ? (gint) MIN(timeout_ms, (guint) G_MAXINT)
                                : QMP_CAPS_DEFAULT_PROBE_TIMEOUT_MS);
}

guint qmp_caps_get_probe_timeout(void)
{
    return (guint) g_atomic_int_get(&probe_timeout_ms);
}

/* Milliseconds left until deadline (monotonic, µs), at least 1. */
static guint left_ms(gint64 deadline)
{
    gint64 left = (deadline - g_get_monotonic_time()) / 1000;
    return (guint) CLAMP(left, 1, G_MAXINT);
}

typedef struct {
    QmpCapsReply *slot;
    guint *pending;
} Call;

typedef struct {
    gint64 deadline;      /* monotonic µs */
    guint timeout_ms;     /* the whole probe's, for messages */
    gboolean timed_out;
    GCancellable *cancel;
} Deadline;

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
    Deadline *d = data;
    d->timed_out = TRUE;
    g_cancellable_cancel(d->cancel);
    return G_SOURCE_REMOVE;
}

static void wait_all(QmpMonitor *mon, guint *pending, Deadline *d)
{
    GMainContext *ctx = qmp_monitor_get_context(mon);
    GSource *t = g_timeout_source_new(left_ms(d->deadline));
    g_source_set_callback(t, on_timeout, d, NULL);
    g_source_attach(t, ctx);
    while (*pending)
        g_main_context_iteration(ctx, TRUE);
    g_source_destroy(t);
    g_source_unref(t);
}

/* The names of the queries still unanswered when the deadline passed. */
static char *unanswered(QmpCapsInputs *in)
{
    GString *s = g_string_new(NULL);
    struct { QmpCapsReply *r; const char *name; } all[] = {
        { &in->schema, "query-qmp-schema" }, { &in->migration, "query-migrate-capabilities" },
        { &in->types, "qom-list-types" }, { &in->version_reply, "query-version" },
        { &in->commands, "query-commands" },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(all); i++)
        if (all[i].r->asked && !all[i].r->doc && all[i].r->error &&
            g_error_matches(all[i].r->error, QMP_ERROR, QMP_ERROR_CANCELLED))
            g_string_append_printf(s, "%s%s", s->len ? ", " : "", all[i].name);
    for (guint i = 0; i < in->n_props; i++)
        if (in->props[i].asked && !in->props[i].doc && in->props[i].error &&
            g_error_matches(in->props[i].error, QMP_ERROR, QMP_ERROR_CANCELLED)) {
            g_string_append_printf(s, "%sqom-list-properties", s->len ? ", " : "");
            break;
        }
    return g_string_free(s, FALSE);
}

/* A reply that failed for a reason other than QEMU's own error reply. */
static const GError *transport_error(const QmpCapsReply *r)
{
    return r->error && r->error->domain != QMP_COMMAND_ERROR ? r->error : NULL;
}

static gboolean collect(QmpMonitor *mon, QmpCapsInputs *in, gint64 deadline, GError **error)
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
    Deadline d = { deadline, qmp_caps_get_probe_timeout(), FALSE, cancel };
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
    wait_all(mon, &pending, &d);

    /* QEMU before 2.5 has no query-qmp-schema: fall back on the list of
     * commands. */
    if (!in->schema.doc && !transport_error(&in->schema)) {
        ask(mon, &in->commands, "query-commands", NULL, &pending, cancel);
        wait_all(mon, &pending, &d);
    }
    if (d.timed_out) {
        g_autofree char *what = unanswered(in);
        g_set_error(error, QMP_ERROR, QMP_ERROR_TIMEOUT,
                    "probing: no reply within %u ms (the probe deadline) to %s", d.timeout_ms,
                    *what ? what : "the queries");
        return FALSE;
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
    gint64 deadline = g_get_monotonic_time() + (gint64) qmp_caps_get_probe_timeout() * 1000;
    if (collect(mon, &in, deadline, error))
        caps = qmp_caps_evaluate(&in, "monitor");
    qmp_caps_inputs_clear(&in);
    return caps;
}

/* Handshake on a fresh monitor, probe, and close it. */
static QmpCaps *probe_connected(QmpMonitor *mon, QmpCapsInputs *in, const char *source,
                                GError **error)
{
    QmpCaps *caps = NULL;
    gint64 deadline = g_get_monotonic_time() + (gint64) qmp_caps_get_probe_timeout() * 1000;
    if (qmp_monitor_handshake(mon, QMP_HANDSHAKE_NONE, (gint) left_ms(deadline), error) &&
        collect(mon, in, deadline, error))
        caps = qmp_caps_evaluate(in, source);
    /* a probed QEMU quits at once; one that does not is not waited for long */
    qmp_monitor_set_close_grace(mon, MIN(qmp_monitor_get_close_grace(mon), 1000));
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
