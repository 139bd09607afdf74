/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * session-wire.c: the monitor's socket (see qmp-monitor.h).
 *
 * Input: the fd's input source reads a chunk into a stack buffer, the
 * framer cuts it into lines, each line is traced and parsed and the parsed
 * messages are appended to the inbox; the inbox is then drained in order
 * (greeting, replies matched by id through the pending table, events to
 * subscribers).  Callbacks may iterate the context again (sync calls); the
 * input source may recurse for that, and since everything read goes through
 * the single inbox, wire order holds at any depth.
 *
 * Output: each command becomes a QmpOut in the output queue; the output
 * source (armed only while the queue is not empty) writes many messages per
 * sendmsg(), each message carrying its fds on its first byte.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <glib-unix.h>
#include "session-private.h"
#include "transport.h"

#define READ_CHUNK (64 * 1024)
/* Is member m's name the literal lit? (lengths first: most differ there) */
#define KEY_IS(m, lit) \
    ((m)->key_len == sizeof(lit) - 1 && memcmp((m)->key, lit, sizeof(lit) - 1) == 0)
#define MAX_IOV 256 /* messages per sendmsg (IOV_MAX is 1024) */

static void dispatch_inbox(QmpMonitor *mon);

/* ---- writing ----------------------------------------------------------- */

void qmp_session_out_free(QmpOut *out)
{
    if (!out)
        return;
    for (guint i = 0; i < out->n_fds; i++)
        close(out->fds[i]);
    g_free(out->fds);
    /* out->data lives in the same block, right after the struct */
    g_free(out->trace_text);
    g_free(out);
}

static void trace_out(QmpMonitor *mon, QmpOut *out)
{
    if (!mon->trace)
        return;
    if (out->trace_text)
        mon->trace(mon, QMP_TRACE_OUT, out->trace_text, out->trace_len,
                   out->fds, out->n_fds, mon->trace_data);
    else /* without the "\r\n" */
        mon->trace(mon, QMP_TRACE_OUT, out->data, out->len - 2, out->fds,
                   out->n_fds, mon->trace_data);
}

gboolean qmp_session_flush(QmpMonitor *mon)
{
    while (!g_queue_is_empty(&mon->outq)) {
        struct iovec iov[MAX_IOV];
        QmpOut *outs[MAX_IOV];
        int n = 0;

        for (GList *l = mon->outq.head; l && n < MAX_IOV; l = l->next) {
            QmpOut *out = l->data;
            if (out->dropped)
                continue;
            if (n > 0 && out->n_fds > 0)
                break; /* its fds must go with its own first byte */
            iov[n].iov_base = out->data + out->off;
            iov[n].iov_len = out->len - out->off;
            outs[n++] = out;
        }
        gsize total = 0;
        for (int i = 0; i < n; i++)
            total += iov[i].iov_len;
        const int *fds = NULL;
        guint n_fds = 0;
        if (n > 0 && outs[0]->off == 0) {
            fds = outs[0]->fds;
            n_fds = outs[0]->n_fds;
        }
        gssize w = n > 0 ? qmp_transport_send(mon->fd, iov, n, fds, n_fds) : 0;
        if (w < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK;

        /* Retire what went out; trace each message when its first byte left. */
        gsize left = w;
        while (!g_queue_is_empty(&mon->outq)) {
            QmpOut *out = g_queue_peek_head(&mon->outq);
            if (out->dropped) {
                g_queue_pop_head_link(&mon->outq);
                qmp_session_out_free(out);
                continue;
            }
            if (left == 0)
                break;
            gsize take = MIN(left, out->len - out->off);
            if (out->off == 0) {
                QmpCall *call = g_hash_table_lookup(mon->pending,
                                                    GUINT_TO_POINTER(out->id));
                if (call)
                    call->out = NULL; /* on its way: no longer cancellable */
                trace_out(mon, out);
                for (guint i = 0; i < out->n_fds; i++)
                    close(out->fds[i]);
                out->n_fds = 0;
            }
            out->off += take;
            left -= take;
            if (out->off < out->len)
                break;
            g_queue_pop_head_link(&mon->outq);
            qmp_session_out_free(out);
        }
        if (n == 0 || (gsize) w < total)
            break; /* nothing left, or the socket is full */
    }
    return TRUE;
}

static gboolean out_ready_cb(gint fd, GIOCondition cond, gpointer data)
{
    QmpMonitor *mon = data;

    if (!qmp_session_flush(mon)) {
        int e = errno;
        qmp_session_fatal(mon, g_error_new(QMP_ERROR, e == EPIPE ? QMP_ERROR_CLOSED : QMP_ERROR_IO,
                               "write to the monitor failed: %s", g_strerror(e)));
        return G_SOURCE_REMOVE; /* qmp_session_fatal() already destroyed it */
    }
    if (g_queue_is_empty(&mon->outq)) {
        g_source_unref(mon->out_source);
        mon->out_source = NULL;
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

void qmp_session_arm_output(QmpMonitor *mon)
{
    if (mon->out_source || g_queue_is_empty(&mon->outq) || !qmp_session_usable(mon))
        return;
    mon->out_source = g_unix_fd_source_new(mon->fd, G_IO_OUT);
    g_source_set_callback(mon->out_source, G_SOURCE_FUNC(out_ready_cb), mon, NULL);
    g_source_attach(mon->out_source, mon->ctx);
}

/* ---- reading ----------------------------------------------------------- */

typedef struct {
    QmpMonitor *mon;
    GError *error;
} FeedState;

static gboolean line_cb(const char *line, gsize len, guint64 offset, gpointer data)
{
    FeedState *st = data;
    QmpMonitor *mon = st->mon;

    /* Blank lines are not messages. */
    gsize i = 0;
    while (i < len && g_ascii_isspace(line[i]))
        i++;
    if (i == len)
        return TRUE;

    GError *err = NULL;
    QmpJsonDoc *doc = qmp_json_parser_parse(mon->parser, line, len, &err);
    if (!doc) {
        st->error = g_error_new(QMP_ERROR, QMP_ERROR_PROTOCOL,
                                "malformed message at stream offset %" G_GUINT64_FORMAT
                                ": %s", offset, err->message);
        g_error_free(err);
        if (mon->trace) {
            /* it may be anything, a secret included: hidden whole */
            gsize n;
            g_autofree char *s = qmp_redactor_unparsable(QMP_TRACE_IN, len, &n);
            mon->trace(mon, QMP_TRACE_IN, s, n, NULL, 0, mon->trace_data);
        }
        return FALSE;
    }
    if (mon->trace) {
        gsize n;
        g_autofree char *s = qmp_redactor_message(mon->redactor, QMP_TRACE_IN,
                                                  qmp_json_doc_root(doc), &n);
        if (s)
            mon->trace(mon, QMP_TRACE_IN, s, n, NULL, 0, mon->trace_data);
        else
            mon->trace(mon, QMP_TRACE_IN, line, len, NULL, 0, mon->trace_data);
    }
    g_ptr_array_add(mon->inbox, doc);
    return TRUE;
}

static gboolean in_ready_cb(gint fd, GIOCondition cond, gpointer data)
{
    QmpMonitor *mon = data;
    char buf[READ_CHUNK];
    gsize want = qmp_framer_read_size(&mon->framer, mon->max_size, sizeof(buf));
    gssize n;

    do
        n = read(mon->fd, buf, want);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return G_SOURCE_CONTINUE;

    g_object_ref(mon);
    FeedState st = { mon, NULL };
    if (n < 0) {
        int e = errno;
        st.error = g_error_new(QMP_ERROR, e == ECONNRESET ? QMP_ERROR_CLOSED : QMP_ERROR_IO,
                               "read from the monitor failed: %s", g_strerror(e));
    } else if (n == 0) {
        if (qmp_framer_pending(&mon->framer) > 0)
            st.error = g_error_new(QMP_ERROR, QMP_ERROR_CLOSED,
                                   "the connection was closed inside a message "
                                   "(%" G_GSIZE_FORMAT " bytes of it read)",
                                   qmp_framer_pending(&mon->framer));
        else if (!mon->greeting)
            st.error = g_error_new_literal(QMP_ERROR, QMP_ERROR_CLOSED,
                                           "the connection was closed before the greeting");
        else
            st.error = g_error_new_literal(QMP_ERROR, QMP_ERROR_CLOSED,
                                           "the connection was closed by the peer");
    } else {
        qmp_framer_feed(&mon->framer, buf, n, mon->max_size, line_cb, &st,
                        st.error ? NULL : &st.error);
    }
    if (st.error && mon->in_source) {
        /* Read no further: what came before the fault is still delivered. */
        g_source_destroy(mon->in_source);
        g_source_unref(mon->in_source);
        mon->in_source = NULL;
    }
    dispatch_inbox(mon);
    if (st.error)
        qmp_session_fatal(mon, st.error);
    gboolean keep = mon->in_source != NULL;
    g_object_unref(mon);
    return keep ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

/* ---- watching the socket ------------------------------------------------- */

void qmp_session_attach(QmpMonitor *mon, int fd)
{
    mon->fd = fd;
    mon->connected = TRUE;
    mon->in_source = g_unix_fd_source_new(fd, G_IO_IN);
    /* Sync calls made from callbacks iterate the context again. */
    g_source_set_can_recurse(mon->in_source, TRUE);
    g_source_set_callback(mon->in_source, G_SOURCE_FUNC(in_ready_cb), mon, NULL);
    g_source_attach(mon->in_source, mon->ctx);
}

/* ---- routing messages -------------------------------------------------- */

static GError *handle_message(QmpMonitor *mon, QmpJsonDoc *doc)
{
    if (!mon->greeting)
        return qmp_session_handle_greeting(mon, doc);

    const QmpJson *root = qmp_json_doc_root(doc);
    if (root->type != QMP_JSON_OBJECT)
        return qmp_session_protocol_error("a message that is not a JSON object");
    /* One pass over the top-level members picks out what matters. */
    const QmpJson *ev = NULL, *err = NULL, *ret = NULL, *idn = NULL;
    gboolean greeting = FALSE;
    for (const QmpJson *m = root->v.first; m; m = m->next) {
        if (KEY_IS(m, "id"))
            idn = m;
        else if (KEY_IS(m, "event"))
            ev = m;
        else if (KEY_IS(m, "error"))
            err = m;
        else if (KEY_IS(m, "return"))
            ret = m;
        else if (KEY_IS(m, "QMP"))
            greeting = TRUE;
    }
    if (ev) {
        const char *name = qmp_json_get_string(ev);
        if (!name)
            return qmp_session_protocol_error("an event whose name is not a string");
        qmp_session_dispatch_event(mon, root, name);
        return NULL;
    }
    if (err || ret)
        return qmp_session_handle_reply(mon, doc, idn,
                            err && err->type == QMP_JSON_OBJECT ? err : NULL);
    if (greeting)
        return qmp_session_protocol_error("a second greeting");
    return qmp_session_protocol_error("a message that is neither a reply nor an event");
}

/* The next message to dispatch, or NULL. */
static QmpJsonDoc *inbox_pop(QmpMonitor *mon)
{
    if (mon->inbox_head >= mon->inbox->len) {
        if (mon->inbox->len > 0) {
            g_ptr_array_set_size(mon->inbox, 0);
            mon->inbox_head = 0;
        }
        return NULL;
    }
    return g_ptr_array_index(mon->inbox, mon->inbox_head++);
}

static void dispatch_inbox(QmpMonitor *mon)
{
    QmpJsonDoc *doc;

    mon->dispatch_depth++;
    while (!mon->error && (doc = inbox_pop(mon))) {
        GError *e = handle_message(mon, doc);
        qmp_json_doc_unref(doc);
        if (e)
            qmp_session_fatal(mon, e);
        /* A sync call made from a callback got its answer: return to it;
         * the dispatch it interrupted delivers the rest, in order. */
        if (mon->dispatch_depth > 1 && mon->waiting && mon->waiting->completed)
            break;
    }
    mon->dispatch_depth--;
    /* Write what the callbacks queued in one go. */
    if (mon->dispatch_depth == 0 && qmp_session_usable(mon) && !g_queue_is_empty(&mon->outq)) {
        if (!mon->out_source)
            qmp_session_flush(mon);
        qmp_session_arm_output(mon);
    }
}
