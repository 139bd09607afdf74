/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* server.c: the replay server, QEMU's side of a recorded conversation
 * served on a socket from sources of one GMainContext. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <glib-unix.h>
#include <yajl/yajl_gen.h>
#include "recording-private.h"
#include "qmp-replay-server.h"
#include "qmp-replay-diff.h"
#include "qmp-schema-check.h"
#include "transport.h" /* libqmp's fd passing (exported, not installed) */
#include "redact.h"    /* and its secret redaction */
#include "qmp-introspect.h"

#define READ_CHUNK 65536
#define MAX_FAILURES_SHOWN 20

struct _QmpReplayServer {
    QmpReplay *rec;
    QmpReplayMatch mode;
    GMainContext *ctx;
    QmpSchemaCheck *check;    /* NULL: no validation */
    const QmpSchemaCheck *shared_check; /* borrowed, used when set */
    gboolean schema_set;      /* else the project's schema, made at serve time */
    int fd;
    GSource *in_src;
    GSource *out_src;
    GString *inbuf;
    QmpJsonSplit split;
    guint pending_fds;        /* received, not yet attributed to a command */
    GString *outbuf;
    gsize out_off;
    yajl_gen gen;
    gboolean served;
    gboolean closed;          /* connection over */
    gboolean close_after_flush;
    guint cursor;             /* strict: next entry */
    const char *last_command; /* name of the last command answered */
    QmpJsonDoc **client_ids;  /* per command entry: the id the client used */
    gboolean *used;           /* per command entry */
    GHashTable *by_name;      /* lenient: name -> GArray of entry indices */
    GString *failures;
    guint n_failures;
    guint n_commands;
    guint n_received;         /* messages from the client, numbering failures */
    guint n_sent;
};

static ReplayEntry *entry(QmpReplayServer *s, guint i)
{
    return &g_array_index(s->rec->entries, ReplayEntry, i);
}

static guint n_entries(QmpReplayServer *s)
{
    return s->rec->entries->len;
}

/* ---- failures ------------------------------------------------------------ */

static void G_GNUC_PRINTF(2, 3) add_failure(QmpReplayServer *s, const char *fmt, ...)
{
    va_list ap;
    s->n_failures++;
    if (s->n_failures > MAX_FAILURES_SHOWN)
        return;
    va_start(ap, fmt);
    g_string_append_vprintf(s->failures, fmt, ap);
    va_end(ap);
    if (s->failures->len && s->failures->str[s->failures->len - 1] != '\n')
        g_string_append_c(s->failures, '\n');
}

/* ---- output -------------------------------------------------------------- */

static gboolean on_writable(gint fd, GIOCondition cond, gpointer data);

static void shut(QmpReplayServer *s)
{
    if (s->in_src) {
        g_source_destroy(s->in_src);
        g_source_unref(s->in_src);
        s->in_src = NULL;
    }
    if (s->out_src) {
        g_source_destroy(s->out_src);
        g_source_unref(s->out_src);
        s->out_src = NULL;
    }
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
    s->closed = TRUE;
}

static void flush_out(QmpReplayServer *s)
{
    while (s->fd >= 0 && s->out_off < s->outbuf->len) {
        ssize_t n = send(s->fd, s->outbuf->str + s->out_off,
                         s->outbuf->len - s->out_off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!s->out_src) {
                s->out_src = g_unix_fd_source_new(s->fd, G_IO_OUT);
                g_source_set_callback(s->out_src, G_SOURCE_FUNC(on_writable), s, NULL);
                g_source_attach(s->out_src, s->ctx);
            }
            return;
        }
        if (n < 0) {
            /* The client went away: what it did not read does not matter. */
            shut(s);
            return;
        }
        s->out_off += n;
    }
    g_string_truncate(s->outbuf, 0);
    s->out_off = 0;
    if (s->out_src) {
        g_source_destroy(s->out_src);
        g_source_unref(s->out_src);
        s->out_src = NULL;
    }
    if (s->close_after_flush)
        shut(s);
}

static gboolean on_writable(gint fd, GIOCondition cond, gpointer data)
{
    QmpReplayServer *s = data;
    GSource *src = s->out_src;
    g_source_ref(src);
    flush_out(s);
    gboolean keep = s->out_src == src;
    g_source_unref(src);
    return keep ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

/* Queue msg with its "id" replaced by id (or dropped when id is NULL). */
/* Move the message the generator holds to the output, as one line. */
static void take_gen(QmpReplayServer *s)
{
    const unsigned char *buf;
    size_t len;
    yajl_gen_get_buf(s->gen, &buf, &len);
    g_string_append_len(s->outbuf, (const char *) buf, len);
    g_string_append(s->outbuf, "\r\n");
    yajl_gen_clear(s->gen);
    yajl_gen_reset(s->gen, NULL);
}

static void send_msg(QmpReplayServer *s, const QmpJson *msg, const QmpJson *id)
{
    if (s->closed)
        return;
    yajl_gen g = s->gen;
    if (msg->type == QMP_JSON_OBJECT) {
        yajl_gen_map_open(g);
        for (const QmpJson *m = msg->v.first; m; m = m->next) {
            if (m->key_len == 2 && memcmp(m->key, "id", 2) == 0)
                continue;
            yajl_gen_string(g, (const unsigned char *) m->key, m->key_len);
            qmp_json_gen(m, g);
        }
        if (id) {
            yajl_gen_string(g, (const unsigned char *) "id", 2);
            qmp_json_gen(id, g);
        }
        yajl_gen_map_close(g);
    } else {
        qmp_json_gen(msg, g);
    }
    take_gen(s);
    s->n_sent++;
}

static void send_error_class(QmpReplayServer *s, const QmpJson *id, const char *klass,
                             const char *desc)
{
    yajl_gen g = s->gen;
    yajl_gen_map_open(g);
    yajl_gen_string(g, (const unsigned char *) "error", 5);
    yajl_gen_map_open(g);
    yajl_gen_string(g, (const unsigned char *) "class", 5);
    yajl_gen_string(g, (const unsigned char *) klass, strlen(klass));
    yajl_gen_string(g, (const unsigned char *) "desc", 4);
    yajl_gen_string(g, (const unsigned char *) desc, strlen(desc));
    yajl_gen_map_close(g);
    if (id) {
        yajl_gen_string(g, (const unsigned char *) "id", 2);
        qmp_json_gen(id, g);
    }
    yajl_gen_map_close(g);
    take_gen(s);
}

static void send_error(QmpReplayServer *s, const QmpJson *id, const char *desc)
{
    send_error_class(s, id, "GenericError", desc);
}

/* Emit a recorded server message, mapping a reply's id to the client's. */
static gboolean same_id(const QmpJson *a, const QmpJson *b)
{
    if (!a || !b)
        return a == b;
    return qmp_json_equal(a, b);
}

static void emit(QmpReplayServer *s, guint i)
{
    ReplayEntry *e = entry(s, i);
    const QmpJson *id = e->id;
    if (e->kind == QMP_REPLAY_MSG_REPLY && e->replied_by >= 0) {
        QmpJsonDoc *cid = s->client_ids[e->replied_by];
        id = cid ? qmp_json_doc_root(cid) : NULL;
    }
    if (e->raw && same_id(id, e->id)) {
        /* The recorded bytes as they are: nothing to rewrite. */
        if (s->closed)
            return;
        g_string_append_len(s->outbuf, e->raw, e->raw_len);
        g_string_append(s->outbuf, "\r\n");
        s->n_sent++;
        return;
    }
    send_msg(s, e->msg, id);
}

static void send_greeting(QmpReplayServer *s)
{
    for (guint i = 0; i < n_entries(s); i++) {
        if (entry(s, i)->kind == QMP_REPLAY_MSG_GREETING) {
            if (s->mode == QMP_REPLAY_LENIENT)
                send_msg(s, entry(s, i)->msg, NULL);
            return; /* strict: sent in its place */
        }
    }
    /* None recorded (libvirt's files): make one up from query-version. */
    g_autofree char *version = NULL;
    for (guint i = 0; i < n_entries(s) && !version; i++) {
        ReplayEntry *e = entry(s, i);
        if (e->kind == QMP_REPLAY_MSG_COMMAND && g_strcmp0(e->name, "query-version") == 0 &&
            e->reply >= 0) {
            const QmpJson *ret = qmp_json_lookup(entry(s, e->reply)->msg, "return");
            if (ret && ret->type == QMP_JSON_OBJECT)
                version = qmp_json_to_string(ret);
        }
    }
    g_autofree char *text = g_strdup_printf(
        "{\"QMP\": {\"version\": %s, \"capabilities\": [\"oob\"]}}",
        version ? version : "{\"qemu\": {\"major\": 0, \"minor\": 0, \"micro\": 0}, \"package\": \"\"}");
    g_autoptr(QmpJsonDoc) doc = qmp_json_parse(text, strlen(text), 0, NULL);
    g_assert(doc);
    send_msg(s, qmp_json_doc_root(doc), NULL);
}

/* ---- commands ------------------------------------------------------------ */

/* Equal, except that a recorded "<redacted>" string (a secret the
 * recorder hid) matches any value the client sends in its place. */
static gboolean recorded_matches(const QmpJson *rec, const QmpJson *got)
{
    if (rec->type == QMP_JSON_STRING && rec->len == strlen(QMP_REPLAY_REDACTED) &&
        memcmp(rec->v.s, QMP_REPLAY_REDACTED, rec->len) == 0)
        return TRUE;
    if (rec->type != got->type || rec->len != got->len)
        return qmp_json_equal(rec, got);
    if (rec->type == QMP_JSON_OBJECT) {
        for (const QmpJson *m = rec->v.first; m; m = m->next) {
            const QmpJson *g = NULL;
            for (const QmpJson *c = got->v.first; c && !g; c = c->next)
                if (c->key_len == m->key_len && memcmp(c->key, m->key, m->key_len) == 0)
                    g = c;
            if (!g || !recorded_matches(m, g))
                return FALSE;
        }
        return TRUE;
    }
    if (rec->type == QMP_JSON_ARRAY) {
        const QmpJson *g = got->v.first;
        for (const QmpJson *m = rec->v.first; m; m = m->next, g = g->next)
            if (!recorded_matches(m, g))
                return FALSE;
        return TRUE;
    }
    return qmp_json_equal(rec, got);
}

/* a: the recorded arguments, b: the client's. */
static gboolean args_equal(const QmpJson *a, const QmpJson *b)
{
    gboolean a_empty = !a || (a->type == QMP_JSON_OBJECT && a->len == 0);
    gboolean b_empty = !b || (b->type == QMP_JSON_OBJECT && b->len == 0);
    if (a_empty || b_empty)
        return a_empty && b_empty;
    return recorded_matches(a, b);
}

static gboolean command_matches(const ReplayEntry *e, const char *name,
                                const QmpJson *args)
{
    return e->kind == QMP_REPLAY_MSG_COMMAND && strcmp(e->name, name) == 0 &&
           args_equal(e->args, args);
}

/* The message without its id, compact, for reports: secrets the client
 * sent are redacted there too (reports end up in logs). */
static char *without_id(const QmpJson *msg, QmpJsonDoc **doc_out)
{
    GString *t = g_string_new("{");
    gboolean first = TRUE;
    if (msg->type == QMP_JSON_OBJECT) {
        for (const QmpJson *m = msg->v.first; m; m = m->next) {
            if (m->key_len == 2 && memcmp(m->key, "id", 2) == 0)
                continue;
            g_autofree char *k = g_strndup(m->key, m->key_len);
            g_autofree char *v = qmp_json_to_string(m);
            g_string_append_printf(t, "%s\"%s\": %s", first ? "" : ", ", k, v);
            first = FALSE;
        }
    }
    g_string_append_c(t, '}');
    QmpJsonDoc *doc = qmp_json_parse(t->str, t->len, 0, NULL);
    g_autoptr(QmpRedactor) secrets = qmp_redactor_new();
    gsize len;
    char *red = doc ? qmp_redactor_message(secrets, QMP_TRACE_OUT,
                                           qmp_json_doc_root(doc), &len) : NULL;
    if (red) {
        g_string_assign(t, red);
        g_free(red);
        qmp_json_doc_unref(doc);
        doc = qmp_json_parse(t->str, t->len, 0, NULL);
    }
    if (doc_out)
        *doc_out = doc;
    else
        qmp_json_doc_unref(doc);
    return g_string_free(t, FALSE);
}

static void report_mismatch(QmpReplayServer *s, const ReplayEntry *e, const QmpJson *got)
{
    g_autoptr(QmpJsonDoc) de = NULL;
    g_autoptr(QmpJsonDoc) dg = NULL;
    g_autofree char *te = without_id(e->msg, &de);
    g_autofree char *tg = without_id(got, &dg);
    g_autofree char *diff = de && dg ? qmp_replay_diff(qmp_json_doc_root(de),
                                                       qmp_json_doc_root(dg)) : g_strdup("");
    add_failure(s, "%s:%u: command %u differs from the recording\n"
                "  expected: %s\n  got:      %s\n  differences:\n%s",
                s->rec->name, e->line, s->n_received, te, tg, diff);
}

static gboolean reply_is_command_not_found(QmpReplayServer *s, const ReplayEntry *e)
{
    if (e->reply < 0)
        return FALSE;
    const QmpJson *err = qmp_json_lookup(entry(s, e->reply)->msg, "error");
    const QmpJson *klass = err ? qmp_json_lookup(err, "class") : NULL;
    return klass && g_strcmp0(qmp_json_get_string(klass), "CommandNotFound") == 0;
}

/* Schema check of a command the recording answers with e (may be NULL). */
static gboolean validate(QmpReplayServer *s, const ReplayEntry *e, const char *name,
                         const QmpJson *args, const QmpJson *got)
{
    const QmpSchemaCheck *check = s->shared_check ? s->shared_check : s->check;
    if (!check)
        return TRUE;
    g_autoptr(GError) err = NULL;
    if (qmp_schema_check_command(check, name, args, &err))
        return TRUE;
    if (e && !qmp_schema_check_has_command(check, name) && reply_is_command_not_found(s, e))
        return TRUE;
    g_autofree char *tg = without_id(got, NULL);
    add_failure(s, "%s: command %u fails schema validation: %s\n  got: %s",
                s->rec->name, s->n_received, err->message, tg);
    return FALSE;
}

static void strict_flush(QmpReplayServer *s)
{
    while (s->cursor < n_entries(s) && entry(s, s->cursor)->dir == QMP_TRACE_IN) {
        emit(s, s->cursor);
        s->cursor++;
    }
    /* QEMU closes the connection after quit: so does its replay once the
     * recording is used up. */
    if (s->cursor == n_entries(s) && s->last_command &&
        g_strcmp0(s->last_command, "quit") == 0)
        s->close_after_flush = TRUE;
}

static void take_id(QmpReplayServer *s, guint i, const QmpJson *id)
{
    qmp_json_doc_unref(s->client_ids[i]);
    s->client_ids[i] = id ? qmp_json_copy(id) : NULL;
}

static void handle_strict(QmpReplayServer *s, const QmpJson *got, const char *name,
                          const QmpJson *args, const QmpJson *id, guint n_fds)
{
    if (s->cursor >= n_entries(s)) {
        g_autofree char *tg = without_id(got, NULL);
        add_failure(s, "%s: command %u comes after the end of the recording\n  got: %s",
                    s->rec->name, s->n_received, tg);
        send_error(s, id, "qmp-replay: command after the end of the recording");
        s->close_after_flush = TRUE;
        return;
    }
    ReplayEntry *e = entry(s, s->cursor);
    if (!command_matches(e, name, args)) {
        report_mismatch(s, e, got);
        send_error(s, id, "qmp-replay: command differs from the recording");
        s->close_after_flush = TRUE;
        return;
    }
    if (e->n_fds != n_fds) {
        add_failure(s, "%s:%u: command %u ('%s') came with %u fds, recorded with %u",
                    s->rec->name, e->line, s->n_received, name, n_fds, e->n_fds);
        send_error(s, id, "qmp-replay: fds differ from the recording");
        s->close_after_flush = TRUE;
        return;
    }
    if (!validate(s, e, name, args, got)) {
        send_error(s, id, "qmp-replay: command fails schema validation");
        s->close_after_flush = TRUE;
        return;
    }
    take_id(s, s->cursor, id);
    s->used[s->cursor] = TRUE;
    s->last_command = e->name;
    s->cursor++;
    s->n_commands++;
    strict_flush(s);
}

static void handle_lenient(QmpReplayServer *s, const QmpJson *got, const char *name,
                           const QmpJson *args, const QmpJson *id)
{
    GArray *cands = g_hash_table_lookup(s->by_name, name);
    gint pick = -1, last_used = -1;
    for (guint k = 0; cands && k < cands->len; k++) {
        guint i = g_array_index(cands, guint, k);
        if (!args_equal(entry(s, i)->args, args))
            continue;
        if (!s->used[i]) {
            pick = (gint) i;
            break;
        }
        last_used = (gint) i;
    }
    if (pick < 0)
        pick = last_used;
    const QmpSchemaCheck *check = s->shared_check ? s->shared_check : s->check;
    if (!cands && (!check || !qmp_schema_check_has_command(check, name))) {
        /* A command this QEMU does not have (not in its schema, never
         * recorded): answered as QEMU answers it, which is not a fault of
         * the replay (clients probe for commands). */
        g_autofree char *desc = g_strdup_printf("The command %s has not been found", name);
        send_error_class(s, id, "CommandNotFound", desc);
        return;
    }
    if (pick < 0 || entry(s, pick)->reply < 0) {
        g_autofree char *tg = without_id(got, NULL);
        GString *near = g_string_new(NULL);
        for (guint k = 0; cands && k < cands->len && k < 3; k++) {
            ReplayEntry *c = entry(s, g_array_index(cands, guint, k));
            g_autoptr(QmpJsonDoc) dc = NULL;
            g_autoptr(QmpJsonDoc) dg = NULL;
            g_autofree char *tc = without_id(c->msg, &dc);
            g_autofree char *tg2 = without_id(got, &dg);
            g_autofree char *diff = qmp_replay_diff(qmp_json_doc_root(dc), qmp_json_doc_root(dg));
            g_string_append_printf(near, "  recorded at line %u: %s\n%s", c->line, tc, diff);
        }
        add_failure(s, "%s: command %u has no %s in the recording\n  got: %s\n%s",
                    s->rec->name, s->n_received,
                    pick < 0 ? "equal command" : "reply for its equal command", tg,
                    near->len ? near->str : "  (no recorded command of that name)\n");
        g_string_free(near, TRUE);
        send_error(s, id, "qmp-replay: command not in the recording");
        return;
    }
    ReplayEntry *e = entry(s, pick);
    if (!validate(s, e, name, args, got)) {
        send_error(s, id, "qmp-replay: command fails schema validation");
        return;
    }
    gboolean first_use = !s->used[pick];
    s->used[pick] = TRUE;
    take_id(s, pick, id);
    s->n_commands++;
    if (first_use) {
        /* Events recorded between the command and its reply. */
        for (gint j = pick + 1; j < e->reply; j++)
            if (entry(s, j)->kind == QMP_REPLAY_MSG_EVENT)
                emit(s, j);
    }
    emit(s, e->reply);
    if (strcmp(name, "quit") == 0)
        s->close_after_flush = TRUE;
    if (first_use) {
        /* Events recorded right after the reply, up to the next command. */
        for (guint j = e->reply + 1; j < n_entries(s) && entry(s, j)->dir == QMP_TRACE_IN; j++)
            if (entry(s, j)->kind == QMP_REPLAY_MSG_EVENT)
                emit(s, j);
    }
}

static void handle_message(QmpReplayServer *s, const char *text, gsize len, guint n_fds)
{
    s->n_received++;
    g_autoptr(GError) err = NULL;
    g_autoptr(QmpJsonDoc) doc = qmp_json_parse(text, len, 0, &err);
    if (!doc) {
        add_failure(s, "%s: command %u is not JSON: %s", s->rec->name, s->n_received,
                    err->message);
        send_error(s, NULL, "JSON parse error");
        if (s->mode == QMP_REPLAY_STRICT)
            s->close_after_flush = TRUE;
        return;
    }
    const QmpJson *got = qmp_json_doc_root(doc);
    const QmpJson *n = NULL, *id = NULL, *args = NULL;
    if (got->type == QMP_JSON_OBJECT) {
        n = qmp_json_lookup(got, "execute");
        if (!n)
            n = qmp_json_lookup(got, "exec-oob");
        id = qmp_json_lookup(got, "id");
        args = qmp_json_lookup(got, "arguments");
    }
    const char *name = n ? qmp_json_get_string(n) : NULL;
    if (!name || (args && args->type != QMP_JSON_OBJECT)) {
        g_autofree char *tg = qmp_json_to_string(got);
        add_failure(s, "%s: message %u is not a QMP command: %s", s->rec->name,
                    s->n_received, tg);
        send_error(s, id, "QMP input member 'execute' is missing or 'arguments' is not an object");
        if (s->mode == QMP_REPLAY_STRICT)
            s->close_after_flush = TRUE;
        return;
    }
    if (s->mode == QMP_REPLAY_STRICT)
        handle_strict(s, got, name, args, id, n_fds);
    else
        handle_lenient(s, got, name, args, id);
}

/* ---- input --------------------------------------------------------------- */

static gboolean on_readable(gint fd, GIOCondition cond, gpointer data)
{
    QmpReplayServer *s = data;
    char chunk[READ_CHUNK];
    int fds[16];
    guint n_fds;
    ssize_t n = qmp_transport_recv(s->fd, chunk, sizeof(chunk), fds,
                                   G_N_ELEMENTS(fds), &n_fds);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return G_SOURCE_CONTINUE;
    /* The fds only count: a recording notes that some were passed. */
    for (guint j = 0; j < n_fds; j++)
        close(fds[j]);
    s->pending_fds += n_fds;
    if (n <= 0) {
        /* EOF or an error: the client is gone. */
        g_source_ref(s->in_src);
        GSource *src = s->in_src;
        shut(s);
        g_source_unref(src);
        return G_SOURCE_REMOVE;
    }
    g_string_append_len(s->inbuf, chunk, n);
    gsize start = 0;
    for (;;) {
        gsize end = qmp_json_split(&s->split, s->inbuf->str + start, s->inbuf->len - start);
        if (end == 0)
            break;
        guint nf = s->pending_fds;
        s->pending_fds = 0;
        handle_message(s, s->inbuf->str + start, end, nf);
        memset(&s->split, 0, sizeof(s->split));
        start += end;
        if (s->close_after_flush || s->closed)
            break;
    }
    g_string_erase(s->inbuf, 0, start);
    if (s->closed)
        return G_SOURCE_REMOVE;
    GSource *src = s->in_src;
    flush_out(s);
    return s->in_src == src && !s->close_after_flush ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

/* ---- public -------------------------------------------------------------- */

QmpReplayServer *qmp_replay_server_new(QmpReplay *rec, QmpReplayMatch mode,
                                       GMainContext *context)
{
    QmpReplayServer *s = g_new0(QmpReplayServer, 1);
    s->rec = qmp_replay_ref(rec);
    s->mode = mode;
    s->ctx = context ? g_main_context_ref(context) : g_main_context_ref_thread_default();
    s->fd = -1;
    s->inbuf = g_string_new(NULL);
    s->outbuf = g_string_new(NULL);
    s->failures = g_string_new(NULL);
    s->gen = yajl_gen_alloc(NULL);
    s->client_ids = g_new0(QmpJsonDoc *, n_entries(s));
    s->used = g_new0(gboolean, n_entries(s));
    s->by_name = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                       (GDestroyNotify) g_array_unref);
    for (guint i = 0; i < n_entries(s); i++) {
        ReplayEntry *e = entry(s, i);
        if (e->kind != QMP_REPLAY_MSG_COMMAND || e->dir != QMP_TRACE_OUT)
            continue;
        GArray *a = g_hash_table_lookup(s->by_name, e->name);
        if (!a) {
            a = g_array_new(FALSE, FALSE, sizeof(guint));
            g_hash_table_insert(s->by_name, (gpointer) e->name, a);
        }
        g_array_append_val(a, i);
    }
    return s;
}

static void set_check(QmpReplayServer *s, const QmpJson *list, gboolean copy)
{
    qmp_schema_check_free(s->check);
    s->check = NULL;
    s->shared_check = NULL;
    s->schema_set = TRUE;
    if (list) {
        g_autoptr(GError) err = NULL;
        s->check = copy ? qmp_schema_check_new(list, &err)
                        : qmp_schema_check_new_borrowed(list, &err);
        if (!s->check)
            add_failure(s, "the schema given is not a SchemaInfo list: %s", err->message);
    }
}

void qmp_replay_server_set_schema(QmpReplayServer *s, const QmpJson *schema_info_list)
{
    set_check(s, schema_info_list, TRUE);
}

void qmp_replay_server_set_schema_check(QmpReplayServer *s, const QmpSchemaCheck *check)
{
    set_check(s, NULL, FALSE);
    s->shared_check = check;
}

gboolean qmp_replay_server_use_recorded_schema(QmpReplayServer *s)
{
    const QmpJson *schema = qmp_replay_get_recorded_schema(s->rec);
    if (!schema)
        return FALSE;
    /* The server holds the recording: no copy needed. */
    set_check(s, schema, FALSE);
    return TRUE;
}

gboolean qmp_replay_server_serve_fd(QmpReplayServer *s, int fd, GError **error)
{
    if (s->served) {
        close(fd);
        g_set_error(error, QMP_ERROR, QMP_ERROR_INVALID,
                    "a replay server serves one connection");
        return FALSE;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        int e = errno;
        close(fd);
        g_set_error(error, QMP_ERROR, QMP_ERROR_IO, "fcntl: %s", g_strerror(e));
        return FALSE;
    }
    s->served = TRUE;
    s->fd = fd;
    if (!s->schema_set && !qmp_replay_server_use_recorded_schema(s)) {
        g_autoptr(GError) err = NULL;
        s->check = qmp_schema_check_new_from_text(qmp_introspect_json, qmp_introspect_json_len,
                                                  &err);
        g_assert_no_error(err);
        s->schema_set = TRUE;
    }
    s->in_src = g_unix_fd_source_new(fd, G_IO_IN);
    g_source_set_callback(s->in_src, G_SOURCE_FUNC(on_readable), s, NULL);
    g_source_attach(s->in_src, s->ctx);
    send_greeting(s);
    if (s->mode == QMP_REPLAY_STRICT)
        strict_flush(s);
    flush_out(s);
    return TRUE;
}

gboolean qmp_replay_server_is_done(QmpReplayServer *s)
{
    if (s->closed)
        return TRUE;
    return s->served && s->mode == QMP_REPLAY_STRICT && s->cursor >= n_entries(s) &&
           s->outbuf->len == 0;
}

gboolean qmp_replay_server_finish(QmpReplayServer *s, GError **error)
{
    g_autoptr(GString) report = g_string_new(s->failures->str);
    if (s->n_failures > MAX_FAILURES_SHOWN)
        g_string_append_printf(report, "(%u more failures not shown)\n",
                               s->n_failures - MAX_FAILURES_SHOWN);
    if (s->mode == QMP_REPLAY_STRICT && s->n_failures == 0) {
        guint unused = 0;
        for (guint i = s->cursor; i < n_entries(s); i++) {
            ReplayEntry *e = entry(s, i);
            if (e->dir != QMP_TRACE_OUT)
                continue;
            if (unused++ < 5) {
                g_autofree char *t = without_id(e->msg, NULL);
                g_string_append_printf(report, "%s:%u: recorded command not used: %s\n",
                                       s->rec->name, e->line, t);
            }
        }
        if (unused > 5)
            g_string_append_printf(report, "(%u unused recorded commands in all)\n", unused);
    }
    if (report->len == 0)
        return TRUE;
    if (report->str[report->len - 1] == '\n')
        g_string_truncate(report, report->len - 1);
    g_set_error(error, QMP_ERROR, QMP_ERROR_FAILED, "%s", report->str);
    return FALSE;
}

guint qmp_replay_server_get_n_commands(QmpReplayServer *s)
{
    return s->n_commands;
}

guint qmp_replay_server_get_n_sent(QmpReplayServer *s)
{
    return s->n_sent;
}

void qmp_replay_server_free(QmpReplayServer *s)
{
    if (!s)
        return;
    shut(s);
    for (guint i = 0; i < n_entries(s); i++)
        qmp_json_doc_unref(s->client_ids[i]);
    g_free(s->client_ids);
    g_free(s->used);
    g_hash_table_unref(s->by_name);
    qmp_schema_check_free(s->check);
    yajl_gen_free(s->gen);
    g_string_free(s->inbuf, TRUE);
    g_string_free(s->outbuf, TRUE);
    g_string_free(s->failures, TRUE);
    g_main_context_unref(s->ctx);
    qmp_replay_unref(s->rec);
    g_free(s);
}
