/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* recording.c: reading recordings (our JSON Lines format and libvirt's
 * .replies format) into a list of messages. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "recording-private.h"

static gboolean too_large(const char *name, gsize max, const char *what,
                          guint line, GError **error)
{
    if (line)
        g_set_error(error, QMP_ERROR, QMP_ERROR_TOO_LARGE,
                    "%s:%u: %s longer than %" G_GSIZE_FORMAT " bytes (the limit)",
                    name, line, what, max);
    else
        g_set_error(error, QMP_ERROR, QMP_ERROR_TOO_LARGE,
                    "%s: larger than %" G_GSIZE_FORMAT " bytes (the limit)", name, max);
    return FALSE;
}

/* Every line of data at most max_line bytes (newline excluded). */
static gboolean check_lines(const char *name, const char *data, gsize len,
                            gsize max_line, GError **error)
{
    const char *p = data, *end = data + len;
    guint line = 1;
    while (p < end) {
        const char *nl = memchr(p, '\n', end - p);
        const char *le = nl ? nl : end;
        if ((gsize) (le - p) > max_line)
            return too_large(name, max_line, "line", line, error);
        p = le + 1;
        line++;
    }
    return TRUE;
}

static QmpReplayMsgKind classify(const QmpJson *msg, const char **name,
                                 const QmpJson **id, const QmpJson **args)
{
    *name = NULL;
    *id = NULL;
    *args = NULL;
    if (msg->type != QMP_JSON_OBJECT)
        return QMP_REPLAY_MSG_OTHER;
    *id = qmp_json_lookup(msg, "id");
    const QmpJson *n;
    if ((n = qmp_json_lookup(msg, "execute")) || (n = qmp_json_lookup(msg, "exec-oob"))) {
        *name = qmp_json_get_string(n);
        *args = qmp_json_lookup(msg, "arguments");
        return *name ? QMP_REPLAY_MSG_COMMAND : QMP_REPLAY_MSG_OTHER;
    }
    if (qmp_json_lookup(msg, "return") || qmp_json_lookup(msg, "error"))
        return QMP_REPLAY_MSG_REPLY;
    if ((n = qmp_json_lookup(msg, "event"))) {
        *name = qmp_json_get_string(n);
        return QMP_REPLAY_MSG_EVENT;
    }
    if (qmp_json_lookup(msg, "QMP"))
        return QMP_REPLAY_MSG_GREETING;
    return QMP_REPLAY_MSG_OTHER;
}

static void add_entry(QmpReplay *rec, QmpJsonDoc *doc, const QmpJson *msg,
                      QmpTraceDirection dir, double t, guint n_fds, guint line)
{
    ReplayEntry e = { 0 };
    e.doc = doc;
    e.msg = msg;
    e.dir = dir;
    e.t = t;
    e.n_fds = n_fds;
    e.line = line;
    e.reply = -1;
    e.kind = classify(msg, &e.name, &e.id, &e.args);
    g_array_append_val(rec->entries, e);
}

static gboolean ids_equal(const QmpJson *a, const QmpJson *b)
{
    if (!a || !b)
        return FALSE;
    if (a->type == QMP_JSON_STRING && b->type == QMP_JSON_STRING)
        return a->len == b->len && memcmp(a->v.s, b->v.s, a->len) == 0;
    return qmp_json_equal(a, b);
}

/* Link each command to the first later reply with the same id, and find
 * the recorded schema. */
static void link_replies(QmpReplay *rec)
{
    guint n = rec->entries->len;
    for (guint i = 0; i < n; i++) {
        ReplayEntry *c = &g_array_index(rec->entries, ReplayEntry, i);
        if (c->kind != QMP_REPLAY_MSG_COMMAND || c->dir != QMP_TRACE_OUT)
            continue;
        for (guint j = i + 1; j < n; j++) {
            ReplayEntry *r = &g_array_index(rec->entries, ReplayEntry, j);
            if (r->kind == QMP_REPLAY_MSG_REPLY && r->dir == QMP_TRACE_IN &&
                r->replied_by < 0 && ((!c->id && !r->id) || ids_equal(c->id, r->id))) {
                c->reply = (gint) j;
                r->replied_by = (gint) i;
                break;
            }
            /* A later command reusing the id starts another exchange. */
            if (r->kind == QMP_REPLAY_MSG_COMMAND && c->id && ids_equal(c->id, r->id))
                break;
        }
        if (!rec->schema && c->reply >= 0 && g_strcmp0(c->name, "query-qmp-schema") == 0) {
            const ReplayEntry *r = &g_array_index(rec->entries, ReplayEntry, c->reply);
            const QmpJson *ret = qmp_json_lookup(r->msg, "return");
            if (ret && ret->type == QMP_JSON_ARRAY)
                rec->schema = ret;
        }
    }
}

static QmpReplay *replay_new(const char *name, const char *format)
{
    QmpReplay *rec = g_new0(QmpReplay, 1);
    rec->ref = 1;
    rec->name = g_strdup(name ? name : "<recording>");
    rec->format = format;
    rec->entries = g_array_new(FALSE, TRUE, sizeof(ReplayEntry));
    return rec;
}

/* The JSON text at line of the file, or NULL with a "FILE:LINE: why" error. */
static QmpJsonDoc *parse_at(QmpReplay *rec, const char *text, gsize len, guint line,
                            GError **error)
{
    GError *err = NULL;
    QmpJsonDoc *doc = qmp_json_parse(text, len, 0, &err);
    if (!doc) {
        g_set_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL, "%s:%u: %s", rec->name, line,
                    err->message);
        g_error_free(err);
    }
    return doc;
}

static gboolean is_blank(const char *p, const char *end)
{
    for (; p < end; p++)
        if (*p != ' ' && *p != '\t' && *p != '\r')
            return FALSE;
    return TRUE;
}

/* Where the text of "msg" sits in the line, when the line has the shape
 * our writer gives it ("dir", "seq", "t", "fds" first, "msg" last), so that
 * the server can send the recorded bytes as they are. */
static void find_raw(ReplayEntry *e, const QmpJson *root, const char *p, const char *le)
{
    for (const QmpJson *m = root->v.first; m; m = m->next) {
        gboolean is_msg = m->key_len == 3 && memcmp(m->key, "msg", 3) == 0;
        if (is_msg && m->next)
            return;
        if (is_msg)
            break;
        if (!((m->key_len == 3 && memcmp(m->key, "dir", 3) == 0) ||
              (m->key_len == 3 && memcmp(m->key, "seq", 3) == 0) ||
              (m->key_len == 1 && m->key[0] == 't') ||
              (m->key_len == 3 && memcmp(m->key, "fds", 3) == 0)))
            return;
    }
    const char *k = g_strstr_len(p, le - p, "\"msg\"");
    if (!k)
        return;
    const char *start = k + 5;
    while (start < le && (*start == ' ' || *start == ':' || *start == '\t'))
        start++;
    const char *end = le;
    while (end > start && g_ascii_isspace(end[-1]))
        end--;
    if (end <= start || end[-1] != '}')
        return;
    end--;
    while (end > start && g_ascii_isspace(end[-1]))
        end--;
    if (end > start && memchr(start, '\n', end - start) == NULL) {
        e->raw = start;
        e->raw_len = end - start;
    }
}

static gboolean load_jsonl(QmpReplay *rec, const char *data, gsize len,
                           GError **error)
{
    const char *p = data, *end = data + len;
    guint line = 0;
    gboolean header = FALSE;
    while (p < end) {
        const char *nl = memchr(p, '\n', end - p);
        const char *le = nl ? nl : end;
        line++;
        if (!is_blank(p, le)) {
            QmpJsonDoc *doc = parse_at(rec, p, le - p, line, error);
            if (!doc)
                return FALSE;
            const QmpJson *root = qmp_json_doc_root(doc);
            if (!header) {
                const QmpJson *v = qmp_json_lookup(root, "qmpkit-recording");
                gint64 version;
                if (!v || !qmp_json_get_int64(v, &version) || version != 1) {
                    g_set_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL,
                                "%s:%u: not a version 1 qmpkit recording header",
                                rec->name, line);
                    qmp_json_doc_unref(doc);
                    return FALSE;
                }
                const char *peer = qmp_json_get_string(qmp_json_lookup(root, "peer") ?
                                                       qmp_json_lookup(root, "peer") : root);
                rec->peer = g_strdup(peer);
                header = TRUE;
                qmp_json_doc_unref(doc);
            } else {
                const char *dir = NULL;
                const QmpJson *d = qmp_json_lookup(root, "dir");
                const QmpJson *msg = qmp_json_lookup(root, "msg");
                const QmpJson *t = qmp_json_lookup(root, "t");
                const QmpJson *fds = qmp_json_lookup(root, "fds");
                double tv = 0;
                gint64 nf = 0;
                if (d)
                    dir = qmp_json_get_string(d);
                if (msg && msg->type != QMP_JSON_OBJECT) {
                    g_set_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL,
                                "%s:%u: \"msg\" must be a JSON object (a QMP message)",
                                rec->name, line);
                    qmp_json_doc_unref(doc);
                    return FALSE;
                }
                if (!dir || (strcmp(dir, "in") && strcmp(dir, "out")) || !msg ||
                    (t && !qmp_json_get_double(t, &tv)) ||
                    (fds && (!qmp_json_get_int64(fds, &nf) || nf < 0 || nf > 255))) {
                    g_set_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL,
                                "%s:%u: a message line needs \"dir\" (\"in\" or \"out\"), "
                                "\"msg\", and optional numbers \"t\" and \"fds\"",
                                rec->name, line);
                    qmp_json_doc_unref(doc);
                    return FALSE;
                }
                g_ptr_array_add(rec->docs, doc);
                add_entry(rec, doc, msg, dir[0] == 'i' ? QMP_TRACE_IN : QMP_TRACE_OUT,
                          tv, (guint) nf, line);
                find_raw(&g_array_index(rec->entries, ReplayEntry, rec->entries->len - 1),
                         root, p, le);
            }
        }
        p = nl ? nl + 1 : end;
    }
    if (!header) {
        g_set_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL, "%s: empty recording", rec->name);
        return FALSE;
    }
    if (rec->entries->len == 0) {
        g_set_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL,
                    "%s: the recording has a header but no messages", rec->name);
        return FALSE;
    }
    return TRUE;
}

/* libvirt: JSON values separated by blank lines; commands go out, all else
 * comes in. */
static gboolean load_libvirt(QmpReplay *rec, const char *data, gsize len,
                             GError **error)
{
    const char *p = data, *end = data + len;
    const char *chunk = NULL;
    guint line = 0, chunk_line = 0;
    while (p <= end) {
        const char *nl = p < end ? memchr(p, '\n', end - p) : NULL;
        const char *le = nl ? nl : end;
        gboolean blank = is_blank(p, le);
        if (p < end)
            line++;
        if (!blank && !chunk) {
            chunk = p;
            chunk_line = line;
        }
        if (chunk && !blank && (gsize) (le - chunk) > rec->max_line)
            return too_large(rec->name, rec->max_line, "message", chunk_line, error);
        if ((blank || p >= end || !nl) && chunk) {
            const char *cend = blank ? p : le;
            QmpJsonDoc *doc = parse_at(rec, chunk, cend - chunk, chunk_line, error);
            if (!doc)
                return FALSE;
            g_ptr_array_add(rec->docs, doc);
            const QmpJson *root = qmp_json_doc_root(doc);
            if (root->type != QMP_JSON_OBJECT) {
                g_set_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL,
                            "%s:%u: a message must be a JSON object (not a recording in "
                            "libvirt's .replies format, nor in ours: no header line)",
                            rec->name, chunk_line);
                return FALSE;
            }
            gboolean cmd = qmp_json_lookup(root, "execute") || qmp_json_lookup(root, "exec-oob");
            add_entry(rec, doc, root, cmd ? QMP_TRACE_OUT : QMP_TRACE_IN, 0, 0, chunk_line);
            chunk = NULL;
        }
        if (!nl)
            break;
        p = nl + 1;
    }
    if (rec->entries->len == 0) {
        g_set_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL, "%s: empty recording", rec->name);
        return FALSE;
    }
    return TRUE;
}

/* A reply QEMU sent must answer a command the recording has (the server
 * could never send it otherwise). */
static gboolean check_replies(QmpReplay *rec, GError **error)
{
    for (guint i = 0; i < rec->entries->len; i++) {
        const ReplayEntry *e = &g_array_index(rec->entries, ReplayEntry, i);
        if (e->kind == QMP_REPLAY_MSG_REPLY && e->dir == QMP_TRACE_IN && e->replied_by < 0) {
            g_set_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL,
                        "%s:%u: a reply to no recorded command (no earlier command has "
                        "its id)", rec->name, e->line);
            return FALSE;
        }
    }
    return TRUE;
}

/* Takes ownership of data (kept for our format: messages point into it). */
static QmpReplay *load_owned(char *data, gsize len, const char *name,
                             gsize max_file, gsize max_line, GError **error)
{
    if (len > max_file) {
        too_large(name ? name : "<recording>", max_file, NULL, 0, error);
        g_free(data);
        return NULL;
    }
    /* Our format: the first non-blank line is a one-line header object
     * holding "qmpkit-recording". */
    const char *p = data, *end = data + len;
    while (p < end && g_ascii_isspace(*p))
        p++;
    const char *nl = memchr(p, '\n', end - p);
    gboolean ours = p < end && *p == '{' &&
                    g_strstr_len(p, (nl ? nl : end) - p, "\"qmpkit-recording\"") != NULL;
    QmpReplay *rec = replay_new(name, ours ? "qmpkit" : "libvirt-replies");
    rec->docs = g_ptr_array_new_with_free_func((GDestroyNotify) qmp_json_doc_unref);
    rec->data = data;
    rec->max_line = max_line;
    gboolean ok = check_lines(rec->name, data, len, max_line, error) &&
                  (ours ? load_jsonl(rec, data, len, error)
                        : load_libvirt(rec, data, len, error));
    if (!ok) {
        qmp_replay_unref(rec);
        return NULL;
    }
    for (guint i = 0; i < rec->entries->len; i++)
        g_array_index(rec->entries, ReplayEntry, i).replied_by = -1;
    link_replies(rec);
    if (!check_replies(rec, error)) {
        qmp_replay_unref(rec);
        return NULL;
    }
    if (!ours) {
        g_free(rec->data);
        rec->data = NULL;
    }
    return rec;
}

QmpReplay *qmp_replay_load_data(const char *data, gsize len, const char *name,
                                GError **error)
{
    if (len > QMP_REPLAY_DEFAULT_MAX_FILE_SIZE) {
        too_large(name ? name : "<recording>", QMP_REPLAY_DEFAULT_MAX_FILE_SIZE, NULL, 0,
                  error);
        return NULL;
    }
    char *copy = g_malloc(len + 1);
    memcpy(copy, data, len);
    copy[len] = '\0';
    return load_owned(copy, len, name, QMP_REPLAY_DEFAULT_MAX_FILE_SIZE,
                      QMP_REPLAY_DEFAULT_MAX_LINE_SIZE, error);
}

/* Read path whole, refusing at once a file or line over the limits
 * (g_file_get_contents would read /dev/zero until memory runs out). */
static char *read_bounded(const char *path, gsize max_file, gsize max_line,
                          gsize *len_out, GError **error)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        g_set_error(error, QMP_ERROR, QMP_ERROR_IO, "%s: %s", path, g_strerror(e));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (guint64) st.st_size > max_file) {
        close(fd);
        too_large(path, max_file, NULL, 0, error);
        return NULL;
    }
    gsize cap = 65536, len = 0, line_start = 0;
    guint line = 1;
    char *buf = g_malloc(cap + 1);
    for (;;) {
        if (len == cap) {
            cap = MIN(cap * 2, max_file + 1);
            buf = g_realloc(buf, cap + 1);
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            g_set_error(error, QMP_ERROR, QMP_ERROR_IO, "%s: %s", path, g_strerror(e));
            goto fail;
        }
        if (n == 0)
            break;
        for (char *p = buf + len, *end = buf + len + n;;) {
            char *nl = memchr(p, '\n', end - p);
            if (!nl)
                break;
            line++;
            line_start = (gsize) (nl + 1 - buf);
            p = nl + 1;
        }
        len += (gsize) n;
        if (len - line_start > max_line) {
            too_large(path, max_line, "line", line, error);
            goto fail;
        }
        if (len > max_file) {
            too_large(path, max_file, NULL, 0, error);
            goto fail;
        }
    }
    close(fd);
    buf[len] = '\0';
    *len_out = len;
    return buf;
fail:
    close(fd);
    g_free(buf);
    return NULL;
}

QmpReplay *qmp_replay_load_full(const char *path, gsize max_file_size,
                                gsize max_line_size, GError **error)
{
    gsize len;
    if (!max_file_size)
        max_file_size = QMP_REPLAY_DEFAULT_MAX_FILE_SIZE;
    if (!max_line_size)
        max_line_size = QMP_REPLAY_DEFAULT_MAX_LINE_SIZE;
    char *data = read_bounded(path, max_file_size, max_line_size, &len, error);
    if (!data)
        return NULL;
    return load_owned(data, len, path, max_file_size, max_line_size, error);
}

QmpReplay *qmp_replay_load(const char *path, GError **error)
{
    return qmp_replay_load_full(path, 0, 0, error);
}

QmpReplay *qmp_replay_ref(QmpReplay *rec)
{
    rec->ref++;
    return rec;
}

void qmp_replay_unref(QmpReplay *rec)
{
    if (!rec || --rec->ref > 0)
        return;
    g_array_unref(rec->entries);
    if (rec->docs)
        g_ptr_array_unref(rec->docs);
    g_free(rec->name);
    g_free(rec->peer);
    g_free(rec->data);
    g_free(rec);
}

const char *qmp_replay_get_format(const QmpReplay *rec)
{
    return rec->format;
}

const char *qmp_replay_get_peer(const QmpReplay *rec)
{
    return rec->peer;
}

guint qmp_replay_get_n_messages(const QmpReplay *rec)
{
    return rec->entries->len;
}

const QmpJson *qmp_replay_get_message(const QmpReplay *rec, guint i,
                                      QmpTraceDirection *dir,
                                      QmpReplayMsgKind *kind, double *t,
                                      guint *n_fds, guint *line)
{
    g_return_val_if_fail(i < rec->entries->len, NULL);
    const ReplayEntry *e = &g_array_index(rec->entries, ReplayEntry, i);
    if (dir)
        *dir = e->dir;
    if (kind)
        *kind = e->kind;
    if (t)
        *t = e->t;
    if (n_fds)
        *n_fds = e->n_fds;
    if (line)
        *line = e->line;
    return e->msg;
}

const QmpJson *qmp_replay_get_recorded_schema(const QmpReplay *rec)
{
    return rec->schema;
}
