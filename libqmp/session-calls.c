/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * session-calls.c: commands: building a command's message, ids and the pending
 * table, the in-flight window, matching replies, cancel and timeout, and the
 * sync variants (see qmp-monitor.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include "session-private.h"
#include <yajl/yajl_gen.h>

#define EAGER_BATCH 16 /* commands queued by callbacks written together */
#define ID_PREFIX "qmpkit-"

/* ---- the in-flight window ---------------------------------------------- */

static gboolean window_applies(QmpMonitor *mon)
{
    return mon->oob_enabled && mon->max_in_flight > 0;
}

/* Move held ordinary commands into the output queue while the window allows. */
void qmp_session_release_held(QmpMonitor *mon)
{
    while (!g_queue_is_empty(&mon->held) &&
           (!window_applies(mon) || mon->n_ordinary < mon->max_in_flight)) {
        QmpOut *out = g_queue_pop_head_link(&mon->held)->data;
        if (out->dropped) {
            qmp_session_out_free(out);
            continue;
        }
        g_queue_push_tail_link(&mon->outq, &out->link);
        mon->n_ordinary++;
    }
}

static void enqueue(QmpMonitor *mon, QmpOut *out)
{
    gboolean was_idle = g_queue_is_empty(&mon->outq);

    if (out->oob) {
        /* Overtake ordinary commands not yet started. */
        GList *l = mon->outq.head;
        while (l && (((QmpOut *) l->data)->off > 0 || ((QmpOut *) l->data)->oob))
            l = l->next;
        if (l)
            g_queue_insert_before_link(&mon->outq, l, &out->link);
        else
            g_queue_push_tail_link(&mon->outq, &out->link);
    } else {
        out->ordinary = TRUE;
        if (g_queue_is_empty(&mon->held) &&
            (!window_applies(mon) || mon->n_ordinary < mon->max_in_flight)) {
            g_queue_push_tail_link(&mon->outq, &out->link);
            mon->n_ordinary++;
        } else {
            g_queue_push_tail_link(&mon->held, &out->link);
            qmp_session_release_held(mon);
        }
    }
    /* Write at once when nothing was waiting (saves a poll per command);
     * errors are left to the output source so that no callback runs from
     * inside the caller's _async() call.  Commands issued by callbacks
     * while the inbox is dispatched are written together afterwards. */
    if (mon->dispatch_depth > 0) {
        /* dispatch_inbox() writes the rest when it is done; a long batch
         * already goes out in parts, so that the peer works on the first
         * commands while later replies are still being dispatched. */
        if (mon->outq.length >= EAGER_BATCH && !mon->out_source)
            qmp_session_flush(mon);
        return;
    }
    if (was_idle && !mon->out_source)
        qmp_session_flush(mon);
    qmp_session_arm_output(mon);
}

static void reply_settled(QmpMonitor *mon, gboolean ordinary)
{
    if (ordinary && mon->n_ordinary > 0)
        mon->n_ordinary--;
    if (!g_queue_is_empty(&mon->held)) {
        gboolean was_idle = g_queue_is_empty(&mon->outq);
        qmp_session_release_held(mon);
        if (mon->dispatch_depth > 0)
            return; /* dispatch_inbox() writes when it is done */
        if (was_idle && !mon->out_source)
            qmp_session_flush(mon);
        qmp_session_arm_output(mon);
    }
}

/* ---- replies ----------------------------------------------------------- */

/* "qmpkit-17" -> 17, 0 if not one of ours. */
static guint parse_id(const QmpJson *id)
{
    const char *s = id ? qmp_json_get_string(id) : NULL;
    if (!s || strncmp(s, ID_PREFIX, strlen(ID_PREFIX)) != 0)
        return 0;
    s += strlen(ID_PREFIX);
    if (!g_ascii_isdigit(*s))
        return 0;
    guint64 v = 0;
    for (; g_ascii_isdigit(*s); s++) {
        v = v * 10 + (guint64) (*s - '0');
        if (v > G_MAXUINT)
            return 0;
    }
    if (*s || v == 0)
        return 0;
    return (guint) v;
}

GError *qmp_session_handle_reply(QmpMonitor *mon, QmpJsonDoc *doc,
                            const QmpJson *idn, const QmpJson *err)
{
    const char *desc = NULL;
    if (err) {
        const QmpJson *d = qmp_json_lookup(err, "desc");
        desc = d ? qmp_json_get_string(d) : NULL;
    }
    if (!idn)
        return qmp_session_protocol_error("reply without an id%s%s", desc ? ": " : "",
                              desc ? desc : "");
    guint id = parse_id(idn);
    gpointer ab = id && g_hash_table_size(mon->abandoned) > 0
                  ? g_hash_table_lookup(mon->abandoned, GUINT_TO_POINTER(id)) : NULL;
    if (ab) {
        g_hash_table_remove(mon->abandoned, GUINT_TO_POINTER(id));
        reply_settled(mon, GPOINTER_TO_UINT(ab) == 2);
        return NULL;
    }
    QmpCall *call = id ? g_hash_table_lookup(mon->pending, GUINT_TO_POINTER(id)) : NULL;
    if (!call || call->out) {
        char *s = qmp_json_to_string(idn);
        GError *e = qmp_session_protocol_error("reply with an unknown id %s", s);
        g_free(s);
        return e;
    }
    g_hash_table_steal(mon->pending, GUINT_TO_POINTER(id));
    gboolean ordinary = call->ordinary;
    if (call->cancellable && g_cancellable_is_cancelled(call->cancellable)) {
        /* Cancelled while its reply was already waiting to be read: the
         * cancel wins, as GIO's rule says, whichever of the socket and the
         * cancel's idle source the context dispatches first. */
        qmp_call_complete(call, NULL, g_error_new_literal(QMP_ERROR, QMP_ERROR_CANCELLED,
                                                          "the command was cancelled"));
    } else if (err) {
        const QmpJson *k = qmp_json_lookup(err, "class");
        const char *klass = k ? qmp_json_get_string(k) : NULL;
        QmpCommandErrorCode code = qmp_command_error_code_from_class(klass ? klass : "");
        qmp_call_complete(call, NULL,
                          g_error_new_literal(QMP_COMMAND_ERROR, code,
                                              desc ? desc : "(no description)"));
    } else {
        qmp_call_complete(call, qmp_json_doc_ref(doc), NULL);
    }
    qmp_call_release(call, mon->call_pool);
    reply_settled(mon, ordinary);
    return NULL;
}

/* ---- cancel and timeout ------------------------------------------------ */

static void abandon(QmpMonitor *mon, QmpCall *call, GError *error);

static gboolean cancel_idle_cb(gpointer data)
{
    QmpCall *call = data;
    QmpMonitor *mon = call->mon;

    if (call->completed)
        return G_SOURCE_REMOVE;
    if (call == mon->handshake) {
        mon->handshake = NULL;
        if (mon->hs_timeout) {
            g_source_destroy(mon->hs_timeout);
            g_clear_pointer(&mon->hs_timeout, g_source_unref);
        }
        qmp_call_complete(call, NULL, g_error_new_literal(QMP_ERROR, QMP_ERROR_CANCELLED,
                                                          "the handshake was cancelled"));
        g_object_unref(call);
        return G_SOURCE_REMOVE;
    }
    abandon(mon, call, g_error_new_literal(QMP_ERROR, QMP_ERROR_CANCELLED,
                                           "the command was cancelled"));
    return G_SOURCE_REMOVE;
}

/* May run in any thread: hand the work to the monitor's context. */
static void cancel_in_idle(GCancellable *cancellable, gpointer data)
{
    QmpCall *call = data;
    GSource *s = g_idle_source_new();
    g_source_set_callback(s, cancel_idle_cb, g_object_ref(call), g_object_unref);
    g_source_attach(s, qmp_monitor_get_context(call->mon));
    g_source_unref(s);
}

void qmp_session_watch_cancellable(QmpCall *call)
{
    if (call->cancellable)
        call->cancel_id = g_cancellable_connect(call->cancellable,
                                                G_CALLBACK(cancel_in_idle), call, NULL);
}

/* Abandon a call that timed out: fail it, drop its reply when it comes. */
static void abandon(QmpMonitor *mon, QmpCall *call, GError *error)
{
    if (call->id && g_hash_table_lookup(mon->pending, GUINT_TO_POINTER(call->id))) {
        g_object_ref(call);
        g_hash_table_remove(mon->pending, GUINT_TO_POINTER(call->id));
        if (call->out) {
            gboolean counted = call->ordinary &&
                               g_queue_find(&mon->outq, call->out) != NULL;
            call->out->dropped = TRUE;
            call->out = NULL;
            if (counted && mon->n_ordinary > 0)
                mon->n_ordinary--;
            reply_settled(mon, FALSE);
        } else {
            g_hash_table_insert(mon->abandoned, GUINT_TO_POINTER(call->id),
                                GUINT_TO_POINTER(call->ordinary ? 2 : 1));
        }
        qmp_call_complete(call, NULL, error);
        g_object_unref(call);
    } else {
        qmp_call_complete(call, NULL, error);
    }
}

/* ---- sending ----------------------------------------------------------- */

static gboolean has_control_char(const char *s)
{
    for (; *s; s++)
        if ((guchar) *s < 0x20)
            return TRUE;
    return FALSE;
}

/* The parts of one command message:
 *   {"execute"|"exec-oob":"NAME"[,"arguments":ARGS],"id":"qmpkit-ID"}\r\n */
typedef struct {
    const char *name;   /* escaped for the string literal */
    gsize name_len;
    const char *args;   /* compact JSON on one line, or NULL */
    gsize args_len;
    char digits[16];    /* the id, least significant digit first */
    int nd;
    gboolean oob;
} Message;

static const char exec_head[] = "{\"execute\":\"";
static const char exec_oob_head[] = "{\"exec-oob\":\"";
static const char arguments_part[] = "\",\"arguments\":";
static const char id_part[] = ",\"id\":\"" ID_PREFIX;

static gsize message_head_len(const Message *m)
{
    return m->oob ? sizeof(exec_oob_head) - 1 : sizeof(exec_head) - 1;
}

/* Bytes of the message, "\r\n" included. */
static gsize message_size(const Message *m)
{
    return message_head_len(m) + m->name_len +
           (m->args ? sizeof(arguments_part) - 1 + m->args_len : 1) +
           sizeof(id_part) - 1 + m->nd + 4;
}

/* Write the message_size() bytes of m and a NUL at w. */
static void message_write(const Message *m, char *w)
{
    gsize head_len = message_head_len(m);
    memcpy(w, m->oob ? exec_oob_head : exec_head, head_len);
    w += head_len;
    memcpy(w, m->name, m->name_len);
    w += m->name_len;
    if (m->args) {
        memcpy(w, arguments_part, sizeof(arguments_part) - 1);
        w += sizeof(arguments_part) - 1;
        memcpy(w, m->args, m->args_len);
        w += m->args_len;
    } else {
        *w++ = '"';
    }
    memcpy(w, id_part, sizeof(id_part) - 1);
    w += sizeof(id_part) - 1;
    for (int nd = m->nd; nd > 0; )
        *w++ = m->digits[--nd];
    memcpy(w, "\"}\r\n", 5);  /* with the NUL */
}

/* The text of m for the trace with the secrets in args (the arguments of
 * command) hidden, or NULL when nothing in them is secret or nobody
 * traces. */
static char *trace_text(QmpMonitor *mon, const Message *m, const char *command,
                        const QmpJson *args, gsize *len)
{
    if (!mon->trace)
        return NULL;
    char id_json[32];
    int n = g_snprintf(id_json, sizeof(id_json), "\"" ID_PREFIX);
    for (int nd = m->nd; nd > 0; )
        id_json[n++] = m->digits[--nd];
    id_json[n++] = '"';
    id_json[n] = '\0';
    gsize args_len;
    g_autofree char *redacted = qmp_redactor_command(mon->redactor, command, args,
                                                     id_json, &args_len);
    if (!redacted)
        return NULL;
    Message r = *m;
    r.args = redacted;
    r.args_len = args_len;
    *len = message_size(&r);
    char *text = g_malloc(*len + 1);
    message_write(&r, text);
    *len -= 2; /* without the "\r\n" */
    text[*len] = '\0';
    return text;
}

/* Dup the caller's fds into out (they are closed once sent); an error when
 * one cannot be. */
static GError *take_fds(QmpOut *out, const int *fds, guint n_fds)
{
    if (n_fds == 0)
        return NULL;
    out->fds = g_new(int, n_fds);
    for (guint i = 0; i < n_fds; i++) {
        out->fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
        if (out->fds[i] < 0) {
            int e = errno;
            return g_error_new(QMP_ERROR, QMP_ERROR_INVALID, "cannot pass fd %d: %s",
                               fds[i], g_strerror(e));
        }
        out->n_fds = i + 1;
    }
    return NULL;
}

/* Why req must not be sent now, or NULL. */
static GError *refusal(QmpMonitor *mon, QmpRequest *req, GCancellable *cancellable)
{
    if (req->error) {
        GError *e = req->error;
        req->error = NULL;
        return e;
    }
    if (!qmp_session_usable(mon))
        return qmp_session_closed_error(mon);
    if ((req->flags & QMP_EXECUTE_OOB) && !mon->oob_enabled)
        return g_error_new(QMP_ERROR, QMP_ERROR_UNSUPPORTED,
                           "cannot send %s out-of-band: OOB is not enabled",
                           req->command);
    if (cancellable && g_cancellable_is_cancelled(cancellable))
        return g_error_new_literal(QMP_ERROR, QMP_ERROR_CANCELLED,
                                   "the command was cancelled");
    return NULL;
}

/* The one way out for every command, typed or not: the arguments are
 * checked once (untyped text parsed once; a typed call's tree comes from its
 * one encode), the message is assembled once into the block that is
 * written, and the call is registered under its id. */
QmpCall *qmp_session_start(QmpMonitor *mon, QmpRequest *req, gpointer tag,
                           gconstpointer data, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data)
{
    QmpCall *call = qmp_call_new_pooled(mon->call_pool, mon, tag, cancellable,
                                        callback, user_data);
    call->data = data;
    GError *err = refusal(mon, req, cancellable);
    if (err) {
        qmp_call_complete_in_idle(call, NULL, err);
        return call;
    }

    Message m = { .oob = (req->flags & QMP_EXECUTE_OOB) != 0 };
    g_autoptr(QmpJsonDoc) parsed = NULL;
    const QmpJson *args = req->args;
    yajl_gen gen = NULL;
    if (req->args_json) {
        parsed = qmp_json_parse(req->args_json, strlen(req->args_json), 0, &err);
        if (!parsed || qmp_json_doc_root(parsed)->type != QMP_JSON_OBJECT) {
            qmp_call_complete_in_idle(call, NULL,
                g_error_new(QMP_ERROR, QMP_ERROR_INVALID, "invalid arguments for %s: %s",
                            req->command, err ? err->message : "not a JSON object"));
            g_clear_error(&err);
            return call;
        }
        args = qmp_json_doc_root(parsed);
        /* The caller's text as written, unless it spans lines (the wire
         * format has one message per line). */
        if (!strpbrk(req->args_json, "\r\n")) {
            m.args = req->args_json;
            m.args_len = strlen(req->args_json);
        }
    }
    if (args && !m.args) {
        const unsigned char *buf;
        size_t len;
        gen = yajl_gen_alloc(NULL);
        qmp_json_gen(args, gen);
        yajl_gen_get_buf(gen, &buf, &len);
        m.args = (const char *) buf;
        m.args_len = len;
    }

    g_autoptr(GString) name_text = NULL;
    m.name = req->command;
    m.name_len = strlen(req->command);
    if (strpbrk(req->command, "\"\\") || has_control_char(req->command)) {
        name_text = g_string_new(NULL);
        qmp_json_append_escaped(name_text, req->command, m.name_len);
        m.name = name_text->str;
        m.name_len = name_text->len;
    }

    call->id = mon->next_id++;
    if (mon->next_id == 0)
        mon->next_id = 1;
    call->ordinary = !m.oob;
    for (guint v = call->id; v; v /= 10)
        m.digits[m.nd++] = '0' + v % 10;

    /* The whole message goes into one block with its QmpOut. */
    gsize total = message_size(&m);
    QmpOut *out = g_malloc(sizeof(QmpOut) + total + 1);
    memset(out, 0, sizeof(QmpOut));
    out->link.data = out;
    out->data = (char *)(out + 1);
    message_write(&m, out->data);
    out->len = total;
    out->id = call->id;
    out->oob = m.oob;
    out->trace_text = trace_text(mon, &m, req->command, args, &out->trace_len);
    if (gen)
        yajl_gen_free(gen);

    err = take_fds(out, req->fds, req->n_fds);
    if (err) {
        qmp_session_out_free(out);
        qmp_call_complete_in_idle(call, NULL, err);
        return call;
    }

    call->out = out;
    g_hash_table_insert(mon->pending, GUINT_TO_POINTER(call->id), g_object_ref(call));
    qmp_session_watch_cancellable(call);
    enqueue(mon, out);
    return call;
}

void qmp_monitor_execute_async(QmpMonitor *mon, const char *command,
                               const char *args_json, QmpExecuteFlags flags,
                               const int *fds, guint n_fds,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data)
{
    g_return_if_fail(QMP_IS_MONITOR(mon));
    g_return_if_fail(command != NULL);
    g_return_if_fail(n_fds == 0 || fds != NULL);
    QmpRequest req = { .command = command, .args_json = args_json,
                       .flags = flags, .fds = fds, .n_fds = n_fds };
    QmpCall *call = qmp_session_start(mon, &req, qmp_monitor_execute_async, NULL,
                                      cancellable, callback, user_data);
    qmp_call_release(call, mon->call_pool);
}

QmpJsonDoc *qmp_monitor_execute_finish(QmpMonitor *mon, GAsyncResult *result,
                                       const QmpJson **ret, GError **error)
{
    g_return_val_if_fail(QMP_IS_MONITOR(mon), NULL);
    QmpJsonDoc *doc = qmp_call_propagate(mon, result, qmp_monitor_execute_async, error);
    if (ret)
        *ret = doc ? qmp_json_lookup(qmp_json_doc_root(doc), "return") : NULL;
    return doc;
}

guint qmp_monitor_get_n_pending(QmpMonitor *mon)
{
    g_return_val_if_fail(QMP_IS_MONITOR(mon), 0);
    return g_hash_table_size(mon->pending);
}

/* ---- sync calls -------------------------------------------------------- */

static gboolean timeout_flag_cb(gpointer data)
{
    *(gboolean *) data = TRUE;
    return G_SOURCE_REMOVE;
}

gboolean qmp_session_wait_call(QmpMonitor *mon, QmpCall *call, gint timeout_ms)
{
    gboolean timed_out = FALSE;
    GSource *timer = NULL;

    /* A sync call made from a callback: its command waits for the output
     * source, since the dispatch it interrupts has not finished. */
    qmp_session_arm_output(mon);
    QmpCall *outer = mon->waiting;
    mon->waiting = call;
    if (timeout_ms > 0) {
        timer = g_timeout_source_new(timeout_ms);
        g_source_set_callback(timer, timeout_flag_cb, &timed_out, NULL);
        g_source_attach(timer, mon->ctx);
    }
    while (!call->completed && !timed_out)
        g_main_context_iteration(mon->ctx, TRUE);
    mon->waiting = outer;
    if (timer) {
        g_source_destroy(timer);
        g_source_unref(timer);
    }
    return call->completed;
}

gboolean qmp_session_acquire(QmpMonitor *mon, GError **error)
{
    if (!g_main_context_acquire(mon->ctx)) {
        g_set_error_literal(error, QMP_ERROR, QMP_ERROR_INVALID,
                            "sync call from a thread that does not own the "
                            "monitor's main context");
        return FALSE;
    }
    return TRUE;
}

gint qmp_session_effective_timeout(QmpMonitor *mon, gint timeout_ms)
{
    return timeout_ms < 0 ? mon->default_timeout : timeout_ms;
}

QmpCall *qmp_session_call_sync(QmpMonitor *mon, QmpRequest *req, gpointer tag,
                               gconstpointer data, gint timeout_ms, GError **error)
{
    if (!qmp_session_acquire(mon, error)) {
        if (req->error)
            g_clear_error(&req->error);
        return NULL;
    }
    gint t = qmp_session_effective_timeout(mon, timeout_ms);
    QmpCall *call = qmp_session_start(mon, req, tag, data, NULL, NULL, NULL);
    if (!qmp_session_wait_call(mon, call, t))
        abandon(mon, call, g_error_new(QMP_ERROR, QMP_ERROR_TIMEOUT,
                                       "no reply to %s within %d ms", req->command, t));
    g_main_context_release(mon->ctx);
    return call;
}

QmpJsonDoc *qmp_monitor_execute(QmpMonitor *mon, const char *command,
                                const char *args_json, QmpExecuteFlags flags,
                                const int *fds, guint n_fds, gint timeout_ms,
                                const QmpJson **ret, GError **error)
{
    g_return_val_if_fail(QMP_IS_MONITOR(mon), NULL);
    g_return_val_if_fail(command != NULL, NULL);
    g_return_val_if_fail(n_fds == 0 || fds != NULL, NULL);
    if (ret)
        *ret = NULL;
    QmpRequest req = { .command = command, .args_json = args_json,
                       .flags = flags, .fds = fds, .n_fds = n_fds };
    QmpCall *call = qmp_session_call_sync(mon, &req, qmp_monitor_execute_async,
                                          NULL, timeout_ms, error);
    if (!call)
        return NULL;
    QmpJsonDoc *doc = qmp_monitor_execute_finish(mon, G_ASYNC_RESULT(call), ret, error);
    g_object_unref(call);
    return doc;
}
