/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qmp-replay: serve a recorded QMP conversation on a unix socket, or record
 * one by standing between a client and QEMU.  See docs/qmp-replay.md.
 *
 *   qmp-replay serve [--lenient] [--schema PATH|recorded|project|none] --socket PATH FILE
 *   qmp-replay record --listen PATH --connect PATH -o FILE [--peer NAME]
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "qmp-replay.h"
#include "redact.h" /* libqmp's secret redaction (exported, not installed) */
#include "transport.h" /* and its fd passing */
#include "qmp-introspect.h" /* the project's schema */

#define MAX_FDS 16

/* Listen on path.  The socket is bound and listening under a temporary
 * name first and then renamed, so that a client waiting for path to appear
 * never finds it bound but not yet listening. */
static int listen_unix(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    g_autofree char *tmp = g_strdup_printf("%s.%d", path, (int) getpid());
    if (strlen(tmp) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "qmp-replay: socket path too long: %s\n", path);
        return -1;
    }
    strcpy(sa.sun_path, tmp);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    unlink(tmp);
    if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, 1) < 0 ||
        rename(tmp, path) < 0) {
        fprintf(stderr, "qmp-replay: cannot listen on %s: %s\n", path, g_strerror(errno));
        if (fd >= 0)
            close(fd);
        unlink(tmp);
        return -1;
    }
    return fd;
}

static int accept_one(int lfd, const char *path)
{
    int fd;
    do
        fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    close(lfd);
    unlink(path);
    if (fd < 0)
        fprintf(stderr, "qmp-replay: accept: %s\n", g_strerror(errno));
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
    int lfd = listen_unix(socket_path);
    if (lfd < 0)
        return 2;
    int fd = accept_one(lfd, socket_path);
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

typedef struct {
    int from, to;
    QmpTraceDirection dir;  /* as seen by the client: OUT = client to QEMU */
    GString *buf;
    QmpJsonSplit split;
    guint fds_pending;
} Pipe;

/* One message as the recording keeps it: secrets hidden (libqmp's one
 * redaction), a message that cannot be parsed hidden whole (QEMU accepts
 * single-quoted JSON, which we do not parse: it may hold anything). */
static void record_message(QmpRecorder *r, QmpRedactor *red, QmpTraceDirection dir,
                           const char *text, gsize len, guint n_fds)
{
    while (len > 0 && g_ascii_isspace(*text)) {
        text++;
        len--;
    }
    g_autoptr(QmpJsonDoc) doc = qmp_json_parse(text, len, 0, NULL);
    gsize n;
    g_autofree char *s = doc ? qmp_redactor_message(red, dir, qmp_json_doc_root(doc), &n)
                             : qmp_redactor_unparsable(dir, len, &n);
    if (!s) {
        s = qmp_json_to_string(qmp_json_doc_root(doc));
        n = strlen(s);
    }
    qmp_recorder_add(r, dir, s, n, n_fds);
}

static gboolean write_all(int fd, const char *p, gsize n, const int *fds, guint n_fds)
{
    while (n > 0) {
        struct iovec iov = { (void *) p, n };
        gssize w = qmp_transport_send(fd, &iov, 1, fds, n_fds);
        if (w < 0)
            return FALSE;
        p += w;
        n -= w;
        n_fds = 0;
    }
    return TRUE;
}

/* Move what is readable on pipe->from to pipe->to; FALSE at EOF/error. */
static gboolean pump(Pipe *pipe, QmpRecorder *r, QmpRedactor *secrets)
{
    char chunk[65536];
    int fds[MAX_FDS];
    guint n_fds;
    ssize_t n = qmp_transport_recv(pipe->from, chunk, sizeof(chunk), fds,
                                   MAX_FDS, &n_fds);
    if (n <= 0) {
        for (guint j = 0; j < n_fds; j++)
            close(fds[j]);
        return FALSE;
    }
    gboolean ok = write_all(pipe->to, chunk, n, fds, n_fds);
    for (guint j = 0; j < n_fds; j++)
        close(fds[j]);
    pipe->fds_pending += n_fds;
    g_string_append_len(pipe->buf, chunk, n);
    gsize start = 0;
    for (;;) {
        gsize end = qmp_json_split(&pipe->split, pipe->buf->str + start, pipe->buf->len - start);
        if (end == 0)
            break;
        record_message(r, secrets, pipe->dir, pipe->buf->str + start, end, pipe->fds_pending);
        pipe->fds_pending = 0;
        memset(&pipe->split, 0, sizeof(pipe->split));
        start += end;
    }
    /* The split state counts from buf + start, which becomes the start. */
    g_string_erase(pipe->buf, 0, start);
    return ok;
}

static int connect_unix(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(sa.sun_path))
        return -1;
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
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
    int lfd = listen_unix(listen_path);
    if (lfd < 0)
        return 2;
    int client = accept_one(lfd, listen_path);
    if (client < 0)
        return 2;
    int qemu = connect_unix(connect_path);
    if (qemu < 0) {
        fprintf(stderr, "qmp-replay: cannot connect to %s: %s\n", connect_path,
                g_strerror(errno));
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
    Pipe pipes[2] = {
        { qemu, client, QMP_TRACE_IN, g_string_new(NULL), { 0 }, 0 },
        { client, qemu, QMP_TRACE_OUT, g_string_new(NULL), { 0 }, 0 },
    };
    gboolean open_ = TRUE;
    while (open_) {
        struct pollfd pfd[2] = { { qemu, POLLIN, 0 }, { client, POLLIN, 0 } };
        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < 2 && open_; i++)
            if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
                open_ = pump(&pipes[i], r, secrets);
    }
    close(client);
    close(qemu);
    g_string_free(pipes[0].buf, TRUE);
    g_string_free(pipes[1].buf, TRUE);
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
