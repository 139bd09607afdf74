/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qmp-replay: serve a recorded QMP conversation on a unix socket, or record
 * one by standing between a client and QEMU.  See docs/qmp-replay.md.
 *
 *   qmp-replay serve [--lenient] [--schema PATH|recorded|project|none] --socket PATH FILE
 *   qmp-replay record --listen PATH --connect PATH -o FILE [--peer NAME]
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <glib-unix.h>
#include <unistd.h>
#include "qmp-replay.h"
#include "redact.h" /* libqmp's secret redaction (exported, not installed) */
#include "transport.h" /* and its fd passing */
#include "qmp-introspect.h" /* the project's schema */

#define MAX_FDS 16

/* Wait for one client on a unix socket at path (the library's transport):
 * its socket, or -1 after saying why.  The path is gone afterwards. */
static int accept_client(const char *path)
{
    GError *error = NULL;
    int lfd = qmp_transport_listen_unix(path, &error);
    int fd = lfd >= 0 ? qmp_transport_accept(lfd, &error) : -1;
    if (lfd >= 0) {
        close(lfd);
        unlink(path);
    }
    if (fd < 0) {
        fprintf(stderr, "qmp-replay: %s\n", error->message);
        g_error_free(error);
    }
    return fd;
}

/* ---- serve ----------------------------------------------------------------- */

static int cmd_serve(int argc, char **argv)
{
    gboolean lenient = FALSE;
    g_autofree char *schema = NULL;
    g_autofree char *socket_path = NULL;
    GOptionEntry entries[] = {
        { "lenient", 0, 0, G_OPTION_ARG_NONE, &lenient,
          "answer equal commands in any order (default: strict order)", NULL },
        { "schema", 0, 0, G_OPTION_ARG_FILENAME, &schema,
          "validate commands against this SchemaInfo list (JSON file), 'recorded' "
          "(the recording's query-qmp-schema reply), 'project' (qmpkit's schema) or "
          "'none' (default: the recording's own schema when it holds one, else qmpkit's)",
          "PATH" },
        { "socket", 0, 0, G_OPTION_ARG_FILENAME, &socket_path, "listen on this unix socket",
          "PATH" },
        { NULL },
    };
    g_autoptr(GOptionContext) oc = g_option_context_new("FILE - serve a recorded conversation");
    g_option_context_add_main_entries(oc, entries, NULL);
    GError *error = NULL;
    if (!g_option_context_parse(oc, &argc, &argv, &error) || argc != 2 || !socket_path) {
        fprintf(stderr, "qmp-replay serve: %s\n",
                error ? error->message : "needs --socket PATH and one recording FILE");
        g_clear_error(&error);
        return 2;
    }
    g_autoptr(QmpReplay) rec = qmp_replay_load(argv[1], &error);
    if (!rec) {
        fprintf(stderr, "qmp-replay: %s\n", error->message);
        g_error_free(error);
        return 2;
    }
    g_autoptr(QmpReplayServer) s =
        qmp_replay_server_new(rec, lenient ? QMP_REPLAY_LENIENT : QMP_REPLAY_STRICT, NULL);
    if (schema && strcmp(schema, "none") == 0) {
        qmp_replay_server_set_schema(s, NULL);
    } else if (schema && strcmp(schema, "project") == 0) {
        g_autoptr(QmpJsonDoc) doc = qmp_json_parse(qmp_introspect_json, qmp_introspect_json_len,
                                                   0, &error);
        g_assert(doc);
        qmp_replay_server_set_schema(s, qmp_json_doc_root(doc));
    } else if (schema && strcmp(schema, "recorded") == 0) {
        if (!qmp_replay_server_use_recorded_schema(s)) {
            fprintf(stderr, "qmp-replay: %s holds no query-qmp-schema reply\n", argv[1]);
            return 2;
        }
    } else if (schema) {
        g_autofree char *text = NULL;
        gsize len;
        g_autoptr(QmpJsonDoc) doc = NULL;
        if (g_file_get_contents(schema, &text, &len, &error))
            doc = qmp_json_parse(text, len, 0, &error);
        if (!doc) {
            fprintf(stderr, "qmp-replay: %s: %s\n", schema, error->message);
            g_error_free(error);
            return 2;
        }
        qmp_replay_server_set_schema(s, qmp_json_doc_root(doc));
    }
    int fd = accept_client(socket_path);
    if (fd < 0)
        return 2;
    if (!qmp_replay_server_serve_fd(s, fd, &error)) {
        fprintf(stderr, "qmp-replay: %s\n", error->message);
        g_error_free(error);
        return 2;
    }
    while (!qmp_replay_server_is_done(s))
        g_main_context_iteration(NULL, TRUE);
    if (!qmp_replay_server_finish(s, &error)) {
        fprintf(stderr, "%s\n", error->message);
        g_error_free(error);
        return 1;
    }
    return 0;
}

/* ---- record (proxy) ---------------------------------------------------------- */

/* The proxy runs on the GMainContext: one input source per side, and an
 * output queue per side (with its own output source while the socket is
 * full), all through libqmp's transport (fds travel with the first byte of
 * the bytes they came with). */

typedef struct {
    GBytes *data;
    gsize off;
    int fds[MAX_FDS];
    guint n_fds;
} Chunk;

typedef struct _Proxy Proxy;

typedef struct {
    Proxy *proxy;
    int from, to;
    QmpTraceDirection dir;  /* as seen by the client: OUT = client to QEMU */
    GString *buf;           /* bytes read, not yet a whole message */
    QmpJsonSplit split;
    guint fds_pending;
    GQueue outq;            /* Chunk * to write to `to` */
    GSource *out_source;
} Pipe;

struct _Proxy {
    Pipe pipes[2];
    QmpRecorder *rec;
    QmpRedactor *secrets;
    GMainLoop *loop;
};

static void chunk_free(Chunk *c)
{
    for (guint i = 0; i < c->n_fds; i++)
        close(c->fds[i]);
    g_bytes_unref(c->data);
    g_free(c);
}

/* One message as the recording keeps it: secrets hidden (libqmp's one
 * redaction), a message that cannot be parsed hidden whole (QEMU accepts
 * single-quoted JSON, which we do not parse: it may hold anything). */
static void record_message(Proxy *p, QmpTraceDirection dir, const char *text, gsize len,
                           guint n_fds)
{
    while (len > 0 && g_ascii_isspace(*text)) {
        text++;
        len--;
    }
    g_autoptr(QmpJsonDoc) doc = qmp_json_parse(text, len, 0, NULL);
    gsize n;
    g_autofree char *s = doc ? qmp_redactor_message(p->secrets, dir, qmp_json_doc_root(doc), &n)
                             : qmp_redactor_unparsable(dir, len, &n);
    if (!s) {
        s = qmp_json_to_string(qmp_json_doc_root(doc));
        n = strlen(s);
    }
    qmp_recorder_add(p->rec, dir, s, n, n_fds);
}

static gboolean on_writable(gint fd, GIOCondition cond, gpointer data);

/* Write what the socket takes of pipe's queue; FALSE on a write error. */
static gboolean flush_out(Pipe *pipe)
{
    Chunk *c;
    while ((c = g_queue_peek_head(&pipe->outq))) {
        gsize len;
        const char *d = g_bytes_get_data(c->data, &len);
        struct iovec iov = { (void *) (d + c->off), len - c->off };
        gssize w = qmp_transport_send(pipe->to, &iov, 1, c->fds, c->n_fds);
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!pipe->out_source) {
                pipe->out_source = g_unix_fd_source_new(pipe->to, G_IO_OUT);
                g_source_set_callback(pipe->out_source, G_SOURCE_FUNC(on_writable), pipe, NULL);
                g_source_attach(pipe->out_source, NULL);
            }
            return TRUE;
        }
        if (w < 0)
            return FALSE;
        for (guint i = 0; i < c->n_fds; i++)
            close(c->fds[i]);
        c->n_fds = 0;
        c->off += w;
        if (c->off == len)
            chunk_free(g_queue_pop_head(&pipe->outq));
    }
    if (pipe->out_source) {
        g_source_destroy(pipe->out_source);
        g_clear_pointer(&pipe->out_source, g_source_unref);
    }
    return TRUE;
}

static gboolean on_writable(gint fd, GIOCondition cond, gpointer data)
{
    Pipe *pipe = data;
    if (!flush_out(pipe))
        g_main_loop_quit(pipe->proxy->loop);
    return G_SOURCE_CONTINUE; /* flush_out removes it when done */
}

/* Pass on what is readable on pipe->from and record each whole message. */
static gboolean on_readable(gint fd, GIOCondition cond, gpointer data)
{
    Pipe *pipe = data;
    char buf[65536];
    Chunk *c = g_new0(Chunk, 1);
    gssize n = qmp_transport_recv(pipe->from, buf, sizeof(buf), c->fds, MAX_FDS, &c->n_fds);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        chunk_free(c);
        return G_SOURCE_CONTINUE;
    }
    if (n <= 0) {
        chunk_free(c);
        g_main_loop_quit(pipe->proxy->loop);
        return G_SOURCE_CONTINUE; /* the loop is over */
    }
    c->data = g_bytes_new(buf, n);
    pipe->fds_pending += c->n_fds;
    g_queue_push_tail(&pipe->outq, c);
    if (!flush_out(pipe))
        g_main_loop_quit(pipe->proxy->loop);

    g_string_append_len(pipe->buf, buf, n);
    gsize start = 0;
    for (;;) {
        gsize end = qmp_json_split(&pipe->split, pipe->buf->str + start, pipe->buf->len - start);
        if (end == 0)
            break;
        record_message(pipe->proxy, pipe->dir, pipe->buf->str + start, end, pipe->fds_pending);
        pipe->fds_pending = 0;
        memset(&pipe->split, 0, sizeof(pipe->split));
        start += end;
    }
    /* The split state counts from buf + start, which becomes the start. */
    g_string_erase(pipe->buf, 0, start);
    return G_SOURCE_CONTINUE;
}

/* Relay between client and qemu until either side closes, recording. */
static void run_proxy(Proxy *p, int client, int qemu)
{
    p->loop = g_main_loop_new(NULL, FALSE);
    p->pipes[0] = (Pipe) { .proxy = p, .from = qemu, .to = client, .dir = QMP_TRACE_IN,
                           .buf = g_string_new(NULL) };
    p->pipes[1] = (Pipe) { .proxy = p, .from = client, .to = qemu, .dir = QMP_TRACE_OUT,
                           .buf = g_string_new(NULL) };
    GSource *in[2];
    for (int i = 0; i < 2; i++) {
        g_queue_init(&p->pipes[i].outq);
        in[i] = g_unix_fd_source_new(p->pipes[i].from, G_IO_IN);
        g_source_set_callback(in[i], G_SOURCE_FUNC(on_readable), &p->pipes[i], NULL);
        g_source_attach(in[i], NULL);
    }
    g_main_loop_run(p->loop);
    for (int i = 0; i < 2; i++) {
        Pipe *pipe = &p->pipes[i];
        /* what is still queued goes out (blocking) before the sockets close */
        if (!g_queue_is_empty(&pipe->outq)) {
            int fl = fcntl(pipe->to, F_GETFL);
            if (fl >= 0 && fcntl(pipe->to, F_SETFL, fl & ~O_NONBLOCK) == 0)
                flush_out(pipe);
        }
        g_source_destroy(in[i]);
        g_source_unref(in[i]);
        if (pipe->out_source) {
            g_source_destroy(pipe->out_source);
            g_source_unref(pipe->out_source);
        }
        g_queue_clear_full(&pipe->outq, (GDestroyNotify) chunk_free);
        g_string_free(pipe->buf, TRUE);
    }
    g_main_loop_unref(p->loop);
}

static int cmd_record(int argc, char **argv)
{
    g_autofree char *listen_path = NULL;
    g_autofree char *connect_path = NULL;
    g_autofree char *output = NULL;
    g_autofree char *peer = NULL;
    GOptionEntry entries[] = {
        { "listen", 0, 0, G_OPTION_ARG_FILENAME, &listen_path,
          "unix socket the client connects to", "PATH" },
        { "connect", 0, 0, G_OPTION_ARG_FILENAME, &connect_path,
          "QEMU's QMP unix socket", "PATH" },
        { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output, "recording to write", "FILE" },
        { "peer", 0, 0, G_OPTION_ARG_STRING, &peer, "name of the peer in the header", "NAME" },
        { NULL },
    };
    g_autoptr(GOptionContext) oc = g_option_context_new("- record a conversation as a proxy");
    g_option_context_add_main_entries(oc, entries, NULL);
    GError *error = NULL;
    if (!g_option_context_parse(oc, &argc, &argv, &error) || argc != 1 || !listen_path ||
        !connect_path || !output) {
        fprintf(stderr, "qmp-replay record: %s\n",
                error ? error->message : "needs --listen PATH --connect PATH -o FILE");
        g_clear_error(&error);
        return 2;
    }
    int client = accept_client(listen_path);
    if (client < 0)
        return 2;
    int qemu = qmp_transport_connect_unix(connect_path, &error);
    if (qemu < 0) {
        fprintf(stderr, "qmp-replay: %s\n", error->message);
        g_error_free(error);
        close(client);
        return 2;
    }
    g_autofree char *default_peer = g_strdup_printf("qemu at %s (proxied)", connect_path);
    QmpRecorder *r = qmp_recorder_new(output, peer ? peer : default_peer, &error);
    if (!r) {
        fprintf(stderr, "qmp-replay: %s\n", error->message);
        g_error_free(error);
        close(client);
        close(qemu);
        return 2;
    }
    g_autoptr(QmpRedactor) secrets = qmp_redactor_new();
    Proxy proxy = { .rec = r, .secrets = secrets };
    run_proxy(&proxy, client, qemu);
    close(client);
    close(qemu);
    if (!qmp_recorder_close(r, &error)) {
        fprintf(stderr, "qmp-replay: %s\n", error->message);
        g_error_free(error);
        return 1;
    }
    return 0;
}

static const char usage[] =
    "usage: qmp-replay serve [--lenient] [--schema PATH|recorded|project|none] --socket PATH FILE\n"
    "       qmp-replay record --listen PATH --connect PATH -o FILE [--peer NAME]\n"
    "       qmp-replay --help | --version\n"
    "\n"
    "serve:  play QEMU's side of a recorded conversation (qmpkit .jsonl or libvirt\n"
    "        .replies) to one client on a unix socket; strict order by default.\n"
    "record: stand between a client and QEMU's QMP socket and write the\n"
    "        conversation (secrets redacted).\n"
    "'qmp-replay serve --help' and 'qmp-replay record --help' list their options.\n"
    "Exit status: 0 success, 1 the conversation differed from the recording,\n"
    "2 usage or I/O error.  See qmp-replay(1).\n";

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc >= 2 && strcmp(argv[1], "serve") == 0)
        return cmd_serve(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "record") == 0)
        return cmd_record(argc - 1, argv + 1);
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
                      strcmp(argv[1], "help") == 0)) {
        fputs(usage, stdout);
        return 0;
    }
    if (argc == 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)) {
        printf("qmp-replay (qmpkit) %s\n", QMPKIT_VERSION);
        return 0;
    }
    fputs(usage, stderr);
    return 2;
}
