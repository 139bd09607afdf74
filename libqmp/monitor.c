/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * monitor.c: QmpMonitor, the connection state machine (see qmp-monitor.h).
 *
 * Data path: the fd's input source reads a chunk into a stack buffer, the
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
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <glib-unix.h>
#include "qmp-monitor.h"
#include "call.h"
#include "framing.h"
#include "spawn.h"
#include "trace.h"
#include "transport.h"

#define READ_CHUNK (64 * 1024)
#define EAGER_BATCH 16 /* commands queued by callbacks written together */
#define MAX_IOV 256 /* messages per sendmsg (IOV_MAX is 1024) */
#define ID_PREFIX "qmpkit-"
#define CHILD_GRACE_MS 3000

struct _QmpOut {
    GList link;         /* in outq or held (link.data is this QmpOut) */
    char *data;
    gsize len;
    gsize off;
    int *fds;
    guint n_fds;
    guint id;
    gboolean oob;
    gboolean ordinary;  /* counted against the in-flight window */
    gboolean dropped;   /* cancelled before its first byte was written */
    char *trace_text;   /* redacted text for the trace, NULL: data is fine */
    gsize trace_len;
};

typedef struct {
    guint id;
    char *event;        /* NULL: all */
    QmpEventFunc func;
    gpointer user_data;
    GDestroyNotify destroy;
    gboolean removed;
} Subscription;

struct _QmpMonitor {
    GObject parent;
    GMainContext *ctx;

    int fd;
    pid_t pid;
    gboolean connected;      /* a connection was made (and may be closed) */
    GError *error;           /* first fatal error: set once closed */
    GSource *in_source;
    GSource *out_source;
    QmpFramer framer;
    GPtrArray *inbox;        /* QmpJsonDoc * read, not yet dispatched... */
    guint inbox_head;        /* ...from this index on */
    guint dispatch_depth;    /* > 0 while the inbox is being dispatched */
    QmpCall *waiting;        /* the innermost sync call being waited for */

    GQueue outq;             /* QmpOut * to write, in order */
    QmpJsonParser *parser;   /* reads every incoming message */
    GQueue held;             /* ordinary commands held back by the window */
    guint n_ordinary;        /* ordinary commands in outq or on the wire */
    GHashTable *pending;     /* id -> QmpCall * (ref) waiting for a reply */
    GPtrArray *call_pool;    /* finished QmpCalls for reuse */
    GHashTable *abandoned;   /* id -> 1 (oob) / 2 (ordinary): drop replies */
    guint next_id;

    gsize max_size;
    gint default_timeout;
    guint max_in_flight;

    QmpJsonDoc *greeting;
    int version[3];
    const char *package;
    char **caps;
    gboolean negotiated;
    gboolean oob_enabled;

    QmpCall *handshake;      /* the handshake in progress */
    QmpHandshakeFlags hs_flags;
    gboolean hs_oob;         /* asked the server for OOB */
    GSource *hs_timeout;
    guint hs_timeout_ms;

    GList *subs;             /* Subscription * */
    guint next_sub_id;
    guint sub_depth;

    QmpTraceFunc trace;
    gpointer trace_data;
    GDestroyNotify trace_destroy;
    GHashTable *secret_names;
};

enum {
    SIGNAL_CLOSED,
    N_SIGNALS
};
static guint signals[N_SIGNALS];

G_DEFINE_TYPE(QmpMonitor, qmp_monitor, G_TYPE_OBJECT)

static void fatal(QmpMonitor *mon, GError *error);
static void arm_output(QmpMonitor *mon);
static void dispatch_inbox(QmpMonitor *mon);

/* ---- small helpers ------------------------------------------------------- */

/* s escaped for the inside of a JSON string literal. */
static char *json_escape(const char *s)
{
    GString *g = g_string_new(NULL);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            g_string_append_c(g, '\\');
        if ((guchar) *s < 0x20)
            g_string_append_printf(g, "\\u%04x", (guchar) *s);
        else
            g_string_append_c(g, *s);
    }
    return g_string_free(g, FALSE);
}

static gboolean has_control_char(const char *s)
{
    for (; *s; s++)
        if ((guchar) *s < 0x20)
            return TRUE;
    return FALSE;
}

static void out_free(QmpOut *out)
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

static void subscription_free(Subscription *sub)
{
    if (sub->destroy)
        sub->destroy(sub->user_data);
    g_free(sub->event);
    g_free(sub);
}

static GError *closed_error(QmpMonitor *mon)
{
    if (mon->error)
        return g_error_copy(mon->error);
    return g_error_new_literal(QMP_ERROR, QMP_ERROR_CLOSED,
                               "the monitor is not connected");
}

static gboolean usable(QmpMonitor *mon)
{
    return mon->connected && !mon->error;
}

static gboolean window_applies(QmpMonitor *mon)
{
    return mon->oob_enabled && mon->max_in_flight > 0;
}

/* ---- GObject ------------------------------------------------------------- */

static void qmp_monitor_dispose(GObject *object)
{
    QmpMonitor *mon = QMP_MONITOR(object);

    qmp_monitor_close(mon);
    qmp_monitor_set_trace(mon, NULL, NULL, NULL);
    GList *subs = mon->subs;
    mon->subs = NULL;
    g_list_free_full(subs, (GDestroyNotify) subscription_free);
    G_OBJECT_CLASS(qmp_monitor_parent_class)->dispose(object);
}

static void qmp_monitor_finalize(GObject *object)
{
    QmpMonitor *mon = QMP_MONITOR(object);

    g_clear_error(&mon->error);
    qmp_json_doc_unref(mon->greeting);
    g_strfreev(mon->caps);
    g_hash_table_unref(mon->pending);
    g_hash_table_unref(mon->abandoned);
    g_ptr_array_unref(mon->call_pool);
    g_hash_table_unref(mon->secret_names);
    qmp_json_parser_free(mon->parser);
    for (guint i = mon->inbox_head; i < mon->inbox->len; i++)
        qmp_json_doc_unref(g_ptr_array_index(mon->inbox, i));
    g_ptr_array_unref(mon->inbox);
    g_main_context_unref(mon->ctx);
    G_OBJECT_CLASS(qmp_monitor_parent_class)->finalize(object);
}

static void qmp_monitor_class_init(QmpMonitorClass *klass)
{
    GObjectClass *oclass = G_OBJECT_CLASS(klass);
    oclass->dispose = qmp_monitor_dispose;
    oclass->finalize = qmp_monitor_finalize;

    /* void closed (QmpMonitor *mon, const GError *error, gpointer data) */
    signals[SIGNAL_CLOSED] = g_signal_new("closed", G_TYPE_FROM_CLASS(klass),
        G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 1,
        G_TYPE_ERROR | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void qmp_monitor_init(QmpMonitor *mon)
{
    mon->fd = -1;
    mon->max_size = QMP_MONITOR_DEFAULT_MAX_MESSAGE_SIZE;
    mon->default_timeout = QMP_MONITOR_DEFAULT_TIMEOUT_MS;
    mon->max_in_flight = 6;
    mon->next_id = 1;
    mon->next_sub_id = 1;
    qmp_framer_init(&mon->framer);
    mon->inbox = g_ptr_array_new();
    g_queue_init(&mon->outq);
    mon->parser = qmp_json_parser_new(0);
    g_queue_init(&mon->held);
    mon->pending = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
                                         g_object_unref);
    mon->abandoned = g_hash_table_new(g_direct_hash, g_direct_equal);
    mon->call_pool = g_ptr_array_new_with_free_func(g_object_unref);
    mon->secret_names = qmp_trace_secret_names_new();
}

QmpMonitor *qmp_monitor_new(GMainContext *context)
{
    QmpMonitor *mon = g_object_new(QMP_TYPE_MONITOR, NULL);
    mon->ctx = context ? g_main_context_ref(context)
                       : g_main_context_ref_thread_default();
    return mon;
}

GMainContext *qmp_monitor_get_context(QmpMonitor *mon)
{
    g_return_val_if_fail(QMP_IS_MONITOR(mon), NULL);
    return mon->ctx;
}

/* ---- closing ------------------------------------------------------------- */

static void stop_sources(QmpMonitor *mon)
{
    if (mon->in_source) {
        g_source_destroy(mon->in_source);
        g_source_unref(mon->in_source);
        mon->in_source = NULL;
    }
    if (mon->out_source) {
        g_source_destroy(mon->out_source);
        g_source_unref(mon->out_source);
        mon->out_source = NULL;
    }
    if (mon->hs_timeout) {
        g_source_destroy(mon->hs_timeout);
        g_source_unref(mon->hs_timeout);
        mon->hs_timeout = NULL;
    }
}

static gint compare_call_ids(gconstpointer a, gconstpointer b)
{
    guint x = ((const QmpCall *) a)->id, y = ((const QmpCall *) b)->id;
    return x < y ? -1 : x > y;
}

/* The connection is over: keep the first error, fail everything pending
 * with it, tell the "closed" listeners.  Takes error. */
static void fatal(QmpMonitor *mon, GError *error)
{
    if (mon->error || !mon->connected) {
        g_error_free(error);
        return;
    }
    /* Say why QEMU went away when it was our child and is gone. */
    if (mon->pid > 0 && error->domain == QMP_ERROR &&
        (error->code == QMP_ERROR_CLOSED || error->code == QMP_ERROR_IO)) {
        int status;
        /* EOF comes as the child exits: it is reapable moments later. */
        if (qmp_spawn_wait(mon->pid, 100, &status)) {
            char *how = qmp_spawn_describe_status(status);
            g_prefix_error(&error, "QEMU (pid %d) %s: ", (int) mon->pid, how);
            g_free(how);
            mon->pid = 0;
        }
    }
    mon->error = error;
    g_object_ref(mon);

    stop_sources(mon);
    if (mon->fd >= 0) {
        close(mon->fd);
        mon->fd = -1;
    }
    qmp_framer_clear(&mon->framer);
    for (guint i = mon->inbox_head; i < mon->inbox->len; i++)
        qmp_json_doc_unref(g_ptr_array_index(mon->inbox, i));
    g_ptr_array_set_size(mon->inbox, 0);
    mon->inbox_head = 0;
    for (GList *l; (l = g_queue_pop_head_link(&mon->outq)); )
        out_free(l->data);
    for (GList *l; (l = g_queue_pop_head_link(&mon->held)); )
        out_free(l->data);
    mon->n_ordinary = 0;
    g_hash_table_remove_all(mon->abandoned);

    /* Fail every pending call, in id order so callers see a stable order. */
    GList *calls = g_hash_table_get_values(mon->pending);
    g_hash_table_steal_all(mon->pending);
    calls = g_list_sort(calls, compare_call_ids);
    for (GList *l = calls; l; l = l->next) {
        QmpCall *call = l->data;
        call->out = NULL;
        qmp_call_complete(call, NULL, g_error_copy(mon->error));
    }
    g_list_free_full(calls, g_object_unref);
    if (mon->handshake) {
        QmpCall *hs = mon->handshake;
        mon->handshake = NULL;
        qmp_call_complete(hs, NULL, g_error_copy(mon->error));
        g_object_unref(hs);
    }
    g_signal_emit(mon, signals[SIGNAL_CLOSED], 0, mon->error);
    g_object_unref(mon);
}

/* Best effort, blocking at most briefly: ask our child QEMU to quit. */
static void send_quit(QmpMonitor *mon)
{
    static const char quit[] = "{\"execute\":\"quit\"}\r\n";
    if (mon->fd < 0 || !mon->negotiated)
        return;
    ssize_t r = send(mon->fd, quit, sizeof(quit) - 1, MSG_NOSIGNAL);
    (void) r;
}

void qmp_monitor_close(QmpMonitor *mon)
{
    g_return_if_fail(QMP_IS_MONITOR(mon));

    gboolean quit_sent = FALSE;
    if (mon->pid > 0 && usable(mon) && g_queue_is_empty(&mon->outq)) {
        send_quit(mon);
        quit_sent = mon->negotiated;
    }
    if (quit_sent) {
        /* Keep our end open while QEMU quits: when it sees a hang-up it
         * drops input it has not read yet, "quit" included. */
        int status;
        if (qmp_spawn_wait(mon->pid, CHILD_GRACE_MS, &status))
            mon->pid = 0;
    }
    if (usable(mon))
        fatal(mon, g_error_new_literal(QMP_ERROR, QMP_ERROR_CLOSED,
                                       "the monitor was closed"));
    if (mon->pid > 0) {
        qmp_spawn_end(mon->pid, quit_sent ? 0 : SIGTERM, CHILD_GRACE_MS);
        mon->pid = 0;
    }
    if (mon->fd >= 0) {
        close(mon->fd);
        mon->fd = -1;
    }
}

gboolean qmp_monitor_is_connected(QmpMonitor *mon)
{
    g_return_val_if_fail(QMP_IS_MONITOR(mon), FALSE);
    return usable(mon);
}

const GError *qmp_monitor_get_error(QmpMonitor *mon)
{
    g_return_val_if_fail(QMP_IS_MONITOR(mon), NULL);
    return mon->error;
}

/* ---- writing ------------------------------------------------------------- */

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

/* Write as much of the output queue as the socket takes.  Returns FALSE
 * with errno set on a fatal write error. */
static gboolean flush(QmpMonitor *mon)
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
                out_free(out);
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
            out_free(out);
        }
        if (n == 0 || (gsize) w < total)
            break; /* nothing left, or the socket is full */
    }
    return TRUE;
}

static gboolean out_ready_cb(gint fd, GIOCondition cond, gpointer data)
{
    QmpMonitor *mon = data;

    if (!flush(mon)) {
        int e = errno;
        fatal(mon, g_error_new(QMP_ERROR, e == EPIPE ? QMP_ERROR_CLOSED : QMP_ERROR_IO,
                               "write to the monitor failed: %s", g_strerror(e)));
        return G_SOURCE_REMOVE; /* fatal() already destroyed it */
    }
    if (g_queue_is_empty(&mon->outq)) {
        g_source_unref(mon->out_source);
        mon->out_source = NULL;
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

static void arm_output(QmpMonitor *mon)
{
    if (mon->out_source || g_queue_is_empty(&mon->outq) || !usable(mon))
        return;
    mon->out_source = g_unix_fd_source_new(mon->fd, G_IO_OUT);
    g_source_set_callback(mon->out_source, G_SOURCE_FUNC(out_ready_cb), mon, NULL);
    g_source_attach(mon->out_source, mon->ctx);
}

/* Move held ordinary commands into the output queue while the window allows. */
static void release_held(QmpMonitor *mon)
{
    while (!g_queue_is_empty(&mon->held) &&
           (!window_applies(mon) || mon->n_ordinary < mon->max_in_flight)) {
        QmpOut *out = g_queue_pop_head_link(&mon->held)->data;
        if (out->dropped) {
            out_free(out);
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
            release_held(mon);
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
            flush(mon);
        return;
    }
    if (was_idle && !mon->out_source)
        flush(mon);
    arm_output(mon);
}

/* ---- reading ------------------------------------------------------------- */

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
        if (mon->trace)
            mon->trace(mon, QMP_TRACE_IN, line, len, NULL, 0, mon->trace_data);
        return FALSE;
    }
    if (mon->trace) {
        const QmpJson *root = qmp_json_doc_root(doc);
        if (qmp_trace_has_secret(root, mon->secret_names)) {
            gsize n;
            char *s = qmp_trace_redact(root, mon->secret_names, &n);
            mon->trace(mon, QMP_TRACE_IN, s, n, NULL, 0, mon->trace_data);
            g_free(s);
        } else {
            mon->trace(mon, QMP_TRACE_IN, line, len, NULL, 0, mon->trace_data);
        }
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
        fatal(mon, st.error);
    gboolean keep = mon->in_source != NULL;
    g_object_unref(mon);
    return keep ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

/* ---- message dispatch ---------------------------------------------------- */

static GError *protocol_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
static GError *protocol_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    GError *e = g_error_new(QMP_ERROR, QMP_ERROR_PROTOCOL, "%s", msg);
    g_free(msg);
    return e;
}

static gboolean json_int(const QmpJson *obj, const char *key, gint64 *out)
{
    const QmpJson *n = obj ? qmp_json_lookup(obj, key) : NULL;
    return n && qmp_json_get_int64(n, out);
}

static void hs_send_capabilities(QmpMonitor *mon);

static GError *handle_greeting(QmpMonitor *mon, QmpJsonDoc *doc)
{
    const QmpJson *root = qmp_json_doc_root(doc);
    const QmpJson *qmp = qmp_json_lookup(root, "QMP");
    if (!qmp || qmp->type != QMP_JSON_OBJECT)
        return protocol_error("expected the QMP greeting, got another message");

    const QmpJson *version = qmp_json_lookup(qmp, "version");
    const QmpJson *qemu = version ? qmp_json_lookup(version, "qemu") : NULL;
    gint64 v[3] = { 0, 0, 0 };
    json_int(qemu, "major", &v[0]);
    json_int(qemu, "minor", &v[1]);
    json_int(qemu, "micro", &v[2]);
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

static void dispatch_event(QmpMonitor *mon, const QmpJson *root, const char *name)
{
    const QmpJson *data = qmp_json_lookup(root, "data");
    const QmpJson *ts = qmp_json_lookup(root, "timestamp");
    gint64 sec = 0, usec = 0;
    json_int(ts, "seconds", &sec);
    json_int(ts, "microseconds", &usec);
    gint64 stamp = sec * G_USEC_PER_SEC + usec;

    mon->sub_depth++;
    for (GList *l = mon->subs; l; l = l->next) {
        Subscription *sub = l->data;
        if (sub->removed || (sub->event && strcmp(sub->event, name) != 0))
            continue;
        sub->func(mon, name, data, stamp, sub->user_data);
    }
    if (--mon->sub_depth == 0) {
        for (GList *l = mon->subs; l;) {
            GList *next = l->next;
            Subscription *sub = l->data;
            if (sub->removed) {
                mon->subs = g_list_delete_link(mon->subs, l);
                subscription_free(sub);
            }
            l = next;
        }
    }
}

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

static void reply_settled(QmpMonitor *mon, gboolean ordinary)
{
    if (ordinary && mon->n_ordinary > 0)
        mon->n_ordinary--;
    if (!g_queue_is_empty(&mon->held)) {
        gboolean was_idle = g_queue_is_empty(&mon->outq);
        release_held(mon);
        if (mon->dispatch_depth > 0)
            return; /* dispatch_inbox() writes when it is done */
        if (was_idle && !mon->out_source)
            flush(mon);
        arm_output(mon);
    }
}

static GError *handle_reply(QmpMonitor *mon, QmpJsonDoc *doc,
                            const QmpJson *idn, const QmpJson *err)
{
    const char *desc = NULL;
    if (err) {
        const QmpJson *d = qmp_json_lookup(err, "desc");
        desc = d ? qmp_json_get_string(d) : NULL;
    }
    if (!idn)
        return protocol_error("reply without an id%s%s", desc ? ": " : "",
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
        GError *e = protocol_error("reply with an unknown id %s", s);
        g_free(s);
        return e;
    }
    g_hash_table_steal(mon->pending, GUINT_TO_POINTER(id));
    gboolean ordinary = call->ordinary;
    if (err) {
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

static GError *handle_message(QmpMonitor *mon, QmpJsonDoc *doc)
{
    if (!mon->greeting)
        return handle_greeting(mon, doc);

    const QmpJson *root = qmp_json_doc_root(doc);
    if (root->type != QMP_JSON_OBJECT)
        return protocol_error("a message that is not a JSON object");
    /* One pass over the top-level members picks out what matters. */
    const QmpJson *ev = NULL, *err = NULL, *ret = NULL, *idn = NULL;
    gboolean greeting = FALSE;
    for (const QmpJson *m = root->v.first; m; m = m->next) {
        const char *k = m->key;
        switch (m->key_len) {
        case 2:
            if (k[0] == 'i' && k[1] == 'd')
                idn = m;
            break;
        case 3:
            if (memcmp(k, "QMP", 3) == 0)
                greeting = TRUE;
            break;
        case 5:
            if (memcmp(k, "event", 5) == 0)
                ev = m;
            else if (memcmp(k, "error", 5) == 0)
                err = m;
            break;
        case 6:
            if (memcmp(k, "return", 6) == 0)
                ret = m;
            break;
        }
    }
    if (ev) {
        const char *name = qmp_json_get_string(ev);
        if (!name)
            return protocol_error("an event whose name is not a string");
        dispatch_event(mon, root, name);
        return NULL;
    }
    if (err || ret)
        return handle_reply(mon, doc, idn,
                            err && err->type == QMP_JSON_OBJECT ? err : NULL);
    if (greeting)
        return protocol_error("a second greeting");
    return protocol_error("a message that is neither a reply nor an event");
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
            fatal(mon, e);
        /* A sync call made from a callback got its answer: return to it;
         * the dispatch it interrupted delivers the rest, in order. */
        if (mon->dispatch_depth > 1 && mon->waiting && mon->waiting->completed)
            break;
    }
    mon->dispatch_depth--;
    /* Write what the callbacks queued in one go. */
    if (mon->dispatch_depth == 0 && usable(mon) && !g_queue_is_empty(&mon->outq)) {
        if (!mon->out_source)
            flush(mon);
        arm_output(mon);
    }
}

/* ---- connecting ---------------------------------------------------------- */

static gboolean attach_fd(QmpMonitor *mon, int fd, GError **error)
{
    mon->fd = fd;
    mon->connected = TRUE;
    mon->in_source = g_unix_fd_source_new(fd, G_IO_IN);
    /* Sync calls made from callbacks iterate the context again. */
    g_source_set_can_recurse(mon->in_source, TRUE);
    g_source_set_callback(mon->in_source, G_SOURCE_FUNC(in_ready_cb), mon, NULL);
    g_source_attach(mon->in_source, mon->ctx);
    return TRUE;
}

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
    return fd >= 0 && attach_fd(mon, fd, error);
}

gboolean qmp_monitor_connect_tcp(QmpMonitor *mon, const char *host, guint16 port,
                                 GError **error)
{
    g_return_val_if_fail(QMP_IS_MONITOR(mon), FALSE);
    g_return_val_if_fail(host != NULL, FALSE);
    if (!check_fresh(mon, error))
        return FALSE;
    int fd = qmp_transport_connect_tcp(host, port, error);
    return fd >= 0 && attach_fd(mon, fd, error);
}

gboolean qmp_monitor_connect_fd(QmpMonitor *mon, int fd, GError **error)
{
    g_return_val_if_fail(QMP_IS_MONITOR(mon), FALSE);
    if (!check_fresh(mon, error) || !qmp_transport_prepare_fd(fd, error)) {
        if (fd >= 0)
            close(fd);
        return FALSE;
    }
    return attach_fd(mon, fd, error);
}

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
    return attach_fd(mon, fd, error);
}

GPid qmp_monitor_get_pid(QmpMonitor *mon)
{
    g_return_val_if_fail(QMP_IS_MONITOR(mon), 0);
    return mon->pid > 0 ? mon->pid : 0;
}

/* ---- commands ------------------------------------------------------------ */

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

static void watch_cancellable(QmpCall *call)
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

static QmpCall *start_execute(QmpMonitor *mon, const char *command,
                              const char *args_json, QmpExecuteFlags flags,
                              const int *fds, guint n_fds, gpointer tag,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data)
{
    QmpCall *call = qmp_call_new_pooled(mon->call_pool, mon, tag, cancellable,
                                        callback, user_data);

    if (!usable(mon)) {
        qmp_call_complete_in_idle(call, NULL, closed_error(mon));
        return call;
    }
    if ((flags & QMP_EXECUTE_OOB) && !mon->oob_enabled) {
        qmp_call_complete_in_idle(call, NULL,
            g_error_new(QMP_ERROR, QMP_ERROR_UNSUPPORTED,
                        "cannot send %s out-of-band: OOB is not enabled", command));
        return call;
    }
    if (cancellable && g_cancellable_is_cancelled(cancellable)) {
        qmp_call_complete_in_idle(call, NULL,
            g_error_new_literal(QMP_ERROR, QMP_ERROR_CANCELLED, "the command was cancelled"));
        return call;
    }

    /* Validate the arguments; find secrets only when someone traces. */
    QmpJsonDoc *args = NULL;
    gboolean args_inline = TRUE;
    if (args_json) {
        GError *err = NULL;
        args = qmp_json_parse(args_json, strlen(args_json), 0, &err);
        if (!args || qmp_json_doc_root(args)->type != QMP_JSON_OBJECT) {
            qmp_call_complete_in_idle(call, NULL,
                g_error_new(QMP_ERROR, QMP_ERROR_INVALID, "invalid arguments for %s: %s",
                            command, err ? err->message : "not a JSON object"));
            g_clear_error(&err);
            qmp_json_doc_unref(args);
            return call;
        }
        /* The wire format has one message per line. */
        args_inline = !strpbrk(args_json, "\r\n");
    }

    gboolean oob = (flags & QMP_EXECUTE_OOB) != 0;
    call->id = mon->next_id++;
    if (mon->next_id == 0)
        mon->next_id = 1;
    call->ordinary = !oob;

    /* The whole message goes into one block with its QmpOut: the common
     * parts are copied with memcpy, the arguments as the caller wrote them
     * (or re-serialized when they span lines). */
    g_autofree char *args_text = NULL;
    const char *args_part = NULL;
    gsize args_len = 0;
    if (args) {
        if (args_inline) {
            args_part = args_json;
        } else {
            args_text = qmp_json_to_string(qmp_json_doc_root(args));
            args_part = args_text;
        }
        args_len = strlen(args_part);
    }
    gsize name_len = strlen(command);
    gboolean plain_name = strpbrk(command, "\"\\") == NULL &&
                          !has_control_char(command);
    g_autofree char *name_text = plain_name ? NULL : json_escape(command);
    const char *name = plain_name ? command : name_text;
    if (!plain_name)
        name_len = strlen(name_text);
    char digits[16];
    int nd = 0;
    for (guint v = call->id; v; v /= 10)
        digits[nd++] = '0' + v % 10;

    static const char exec[] = "{\"execute\":\"";
    static const char exec_oob[] = "{\"exec-oob\":\"";
    static const char arguments[] = "\",\"arguments\":";
    static const char id_part[] = ",\"id\":\"" ID_PREFIX;
    gsize head_len = oob ? sizeof(exec_oob) - 1 : sizeof(exec) - 1;
    gsize total = head_len + name_len +
                  (args ? sizeof(arguments) - 1 + args_len : 1) +
                  sizeof(id_part) - 1 + nd + 4;
    QmpOut *out = g_malloc(sizeof(QmpOut) + total + 1);
    memset(out, 0, sizeof(QmpOut));
    out->link.data = out;
    char *w = out->data = (char *)(out + 1);
    memcpy(w, oob ? exec_oob : exec, head_len);
    w += head_len;
    memcpy(w, name, name_len);
    w += name_len;
    if (args) {
        memcpy(w, arguments, sizeof(arguments) - 1);
        w += sizeof(arguments) - 1;
        memcpy(w, args_part, args_len);
        w += args_len;
    } else {
        *w++ = '"';
    }
    memcpy(w, id_part, sizeof(id_part) - 1);
    w += sizeof(id_part) - 1;
    while (nd > 0)
        *w++ = digits[--nd];
    memcpy(w, "\"}\r\n", 5);  /* with the NUL */
    w += 4;
    g_assert((gsize)(w - out->data) == total);
    out->len = total;
    out->id = call->id;
    out->oob = oob;

    if (mon->trace && args &&
        qmp_trace_has_secret(qmp_json_doc_root(args), mon->secret_names)) {
        GError *err = NULL;
        QmpJsonDoc *whole = qmp_json_parse(out->data, out->len - 2, 0, &err);
        if (whole) {
            out->trace_text = qmp_trace_redact(qmp_json_doc_root(whole),
                                               mon->secret_names, &out->trace_len);
            qmp_json_doc_unref(whole);
        } else {
            out->trace_text = g_strdup("{\"execute\":\"<redacted>\"}");
            out->trace_len = strlen(out->trace_text);
            g_clear_error(&err);
        }
    }
    qmp_json_doc_unref(args);

    if (n_fds > 0) {
        out->fds = g_new(int, n_fds);
        for (guint i = 0; i < n_fds; i++) {
            out->fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
            if (out->fds[i] < 0) {
                int e = errno;
                out->n_fds = i;
                out_free(out);
                qmp_call_complete_in_idle(call, NULL,
                    g_error_new(QMP_ERROR, QMP_ERROR_INVALID,
                                "cannot pass fd %d: %s", fds[i], g_strerror(e)));
                return call;
            }
            out->n_fds = i + 1;
        }
    }

    call->out = out;
    g_hash_table_insert(mon->pending, GUINT_TO_POINTER(call->id), g_object_ref(call));
    watch_cancellable(call);
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
    QmpCall *call = start_execute(mon, command, args_json, flags, fds, n_fds,
                                  qmp_monitor_execute_async, cancellable,
                                  callback, user_data);
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

/* ---- sync calls ---------------------------------------------------------- */

static gboolean timeout_flag_cb(gpointer data)
{
    *(gboolean *) data = TRUE;
    return G_SOURCE_REMOVE;
}

/* Iterate the monitor's context until call completes or timeout_ms passes
 * (0: no limit).  Returns FALSE on timeout. */
static gboolean wait_call(QmpMonitor *mon, QmpCall *call, gint timeout_ms)
{
    gboolean timed_out = FALSE;
    GSource *timer = NULL;

    /* A sync call made from a callback: its command waits for the output
     * source, since the dispatch it interrupts has not finished. */
    arm_output(mon);
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

static gboolean acquire(QmpMonitor *mon, GError **error)
{
    if (!g_main_context_acquire(mon->ctx)) {
        g_set_error_literal(error, QMP_ERROR, QMP_ERROR_INVALID,
                            "sync call from a thread that does not own the "
                            "monitor's main context");
        return FALSE;
    }
    return TRUE;
}

static gint effective_timeout(QmpMonitor *mon, gint timeout_ms)
{
    return timeout_ms < 0 ? mon->default_timeout : timeout_ms;
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
    if (!acquire(mon, error))
        return NULL;
    gint t = effective_timeout(mon, timeout_ms);
    QmpCall *call = start_execute(mon, command, args_json, flags, fds, n_fds,
                                  qmp_monitor_execute_async, NULL, NULL, NULL);
    if (!wait_call(mon, call, t))
        abandon(mon, call, g_error_new(QMP_ERROR, QMP_ERROR_TIMEOUT,
                                       "no reply to %s within %d ms", command, t));
    g_main_context_release(mon->ctx);
    QmpJsonDoc *doc = qmp_monitor_execute_finish(mon, G_ASYNC_RESULT(call), ret, error);
    g_object_unref(call);
    return doc;
}

/* ---- handshake ----------------------------------------------------------- */

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
        release_held(mon);
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
    QmpCall *c = start_execute(mon, "qmp_capabilities",
                               mon->hs_oob ? "{\"enable\":[\"oob\"]}" : NULL,
                               QMP_EXECUTE_NONE, NULL, 0, hs_caps_done, NULL,
                               hs_caps_done, NULL);
    g_object_unref(c);
}

static gboolean hs_timeout_cb(gpointer data)
{
    QmpMonitor *mon = data;
    g_clear_pointer(&mon->hs_timeout, g_source_unref);
    fatal(mon, g_error_new(QMP_ERROR, QMP_ERROR_TIMEOUT,
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
    if (!usable(mon)) {
        qmp_call_complete_in_idle(call, NULL, closed_error(mon));
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
    gint t = effective_timeout(mon, timeout_ms);
    if (t > 0) {
        mon->hs_timeout_ms = t;
        mon->hs_timeout = g_timeout_source_new(t);
        g_source_set_callback(mon->hs_timeout, hs_timeout_cb, mon, NULL);
        g_source_attach(mon->hs_timeout, mon->ctx);
    }
    watch_cancellable(call);
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
    if (!acquire(mon, error))
        return FALSE;
    QmpCall *call = start_handshake(mon, flags, timeout_ms, NULL, NULL, NULL);
    wait_call(mon, call, 0); /* the handshake has its own timer */
    g_main_context_release(mon->ctx);
    gboolean ok = qmp_monitor_handshake_finish(mon, G_ASYNC_RESULT(call), error);
    g_object_unref(call);
    return ok;
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

guint qmp_monitor_get_n_pending(QmpMonitor *mon)
{
    g_return_val_if_fail(QMP_IS_MONITOR(mon), 0);
    return g_hash_table_size(mon->pending);
}

/* ---- events -------------------------------------------------------------- */

guint qmp_monitor_subscribe(QmpMonitor *mon, const char *event, QmpEventFunc func,
                            gpointer user_data, GDestroyNotify destroy)
{
    g_return_val_if_fail(QMP_IS_MONITOR(mon), 0);
    g_return_val_if_fail(func != NULL, 0);
    Subscription *sub = g_new0(Subscription, 1);
    sub->id = mon->next_sub_id++;
    sub->event = g_strdup(event);
    sub->func = func;
    sub->user_data = user_data;
    sub->destroy = destroy;
    mon->subs = g_list_append(mon->subs, sub);
    return sub->id;
}

void qmp_monitor_unsubscribe(QmpMonitor *mon, guint id)
{
    g_return_if_fail(QMP_IS_MONITOR(mon));
    for (GList *l = mon->subs; l; l = l->next) {
        Subscription *sub = l->data;
        if (sub->id != id || sub->removed)
            continue;
        if (mon->sub_depth > 0) {
            sub->removed = TRUE; /* freed when the dispatch ends */
        } else {
            mon->subs = g_list_delete_link(mon->subs, l);
            subscription_free(sub);
        }
        return;
    }
}

/* ---- trace and settings -------------------------------------------------- */

void qmp_monitor_set_trace(QmpMonitor *mon, QmpTraceFunc func, gpointer user_data,
                           GDestroyNotify destroy)
{
    g_return_if_fail(QMP_IS_MONITOR(mon));
    GDestroyNotify old_destroy = mon->trace_destroy;
    gpointer old_data = mon->trace_data;
    mon->trace = func;
    mon->trace_data = user_data;
    mon->trace_destroy = destroy;
    if (old_destroy)
        old_destroy(old_data);
}

void qmp_monitor_add_secret_member(QmpMonitor *mon, const char *name)
{
    g_return_if_fail(QMP_IS_MONITOR(mon));
    g_return_if_fail(name != NULL);
    g_hash_table_add(mon->secret_names, g_strdup(name));
}

void qmp_monitor_set_max_message_size(QmpMonitor *mon, gsize max)
{
    g_return_if_fail(QMP_IS_MONITOR(mon));
    g_return_if_fail(max > 0);
    mon->max_size = max;
}

gsize qmp_monitor_get_max_message_size(QmpMonitor *mon)
{
    g_return_val_if_fail(QMP_IS_MONITOR(mon), 0);
    return mon->max_size;
}

void qmp_monitor_set_default_timeout(QmpMonitor *mon, gint timeout_ms)
{
    g_return_if_fail(QMP_IS_MONITOR(mon));
    mon->default_timeout = MAX(timeout_ms, 0);
}

gint qmp_monitor_get_default_timeout(QmpMonitor *mon)
{
    g_return_val_if_fail(QMP_IS_MONITOR(mon), 0);
    return mon->default_timeout;
}

void qmp_monitor_set_max_in_flight(QmpMonitor *mon, guint n)
{
    g_return_if_fail(QMP_IS_MONITOR(mon));
    mon->max_in_flight = n;
    if (usable(mon)) {
        release_held(mon);
        arm_output(mon);
    }
}
