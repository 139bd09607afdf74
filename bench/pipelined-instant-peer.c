/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-pipelined-instant-peer: commands per second with 100 in flight,
 * through qmp_monitor_execute_async(), against a bare client pipelining the
 * same way.  The peer (a child process) answers every line at once.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include "qmp-monitor.h"
#include "bench-common.h"

#define IN_FLIGHT 100
#define N_COMMANDS 200000
#define N_PROFILE 50000
#define N_ROUNDS 5

static void write_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            _exit(1);
        s += w;
        n -= w;
    }
}

/* ---- the instant peer ----------------------------------------------------- */

static void peer_main(int fd)
{
    static const char greeting[] =
        "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, "
        "\"package\": \"instant-peer\"}, \"capabilities\": []}}\r\n";
    static char in[1 << 16];
    static char out[1 << 18];
    size_t have = 0;

    write_all(fd, greeting, sizeof(greeting) - 1);
    for (;;) {
        ssize_t r = read(fd, in + have, sizeof(in) - have);
        if (r <= 0)
            _exit(0);
        have += r;
        size_t o = 0, start = 0;
        for (;;) {
            char *nl = memchr(in + start, '\n', have - start);
            if (!nl)
                break;
            *nl = 0;
            /* The last "id" member of the command. */
            const char *id = NULL;
            for (const char *q = in + start; (q = strstr(q, "\"id\":")); q++)
                id = q + 5;
            const char *end = id;
            while (end && *end && *end != '}')
                end++;
            int idlen = id ? (int) (end - id) : 4;
            if (o + idlen + 64 > sizeof(out)) {
                write_all(fd, out, o);
                o = 0;
            }
            o += snprintf(out + o, sizeof(out) - o, "{\"return\": {}, \"id\": %.*s}\r\n",
                          idlen, id ? id : "null");
            start = nl - in + 1;
        }
        write_all(fd, out, o);
        memmove(in, in + start, have - start);
        have -= start;
    }
}

static int peer_start(pid_t *pid)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        exit(1);
    *pid = fork();
    if (*pid == 0) {
        close(sv[0]);
        peer_main(sv[1]);
    }
    close(sv[1]);
    return sv[0];
}

static void peer_stop(int fd, pid_t pid)
{
    close(fd);
    waitpid(pid, NULL, 0);
}

/* ---- the bare client ------------------------------------------------------ */

static double bare_round(void)
{
    pid_t pid;
    int fd = peer_start(&pid);
    static char in[1 << 16];
    static char out[1 << 16];
    size_t have = 0;
    unsigned next = 1, done = 0, sent = 0;
    int skip = 1; /* the greeting */

    double t0 = bench_now();
    size_t o = 0;
    for (; sent < IN_FLIGHT; sent++)
        o += snprintf(out + o, sizeof(out) - o,
                      "{\"execute\":\"query-status\",\"id\":\"qmpkit-%u\"}\r\n", next++);
    write_all(fd, out, o);
    while (done < N_COMMANDS) {
        ssize_t r = read(fd, in + have, sizeof(in) - have);
        if (r <= 0)
            exit(1);
        have += r;
        size_t start = 0;
        o = 0;
        char *nl;
        while ((nl = memchr(in + start, '\n', have - start))) {
            start = nl - in + 1;
            if (skip) {
                skip = 0;
                continue;
            }
            done++;
            if (sent < N_COMMANDS) {
                o += snprintf(out + o, sizeof(out) - o,
                              "{\"execute\":\"query-status\",\"id\":\"qmpkit-%u\"}\r\n",
                              next++);
                sent++;
            }
        }
        if (o)
            write_all(fd, out, o);
        memmove(in, in + start, have - start);
        have -= start;
    }
    double rate = N_COMMANDS / (bench_now() - t0);
    peer_stop(fd, pid);
    return rate;
}

/* ---- the library ---------------------------------------------------------- */

typedef struct {
    QmpMonitor *mon;
    unsigned sent, done, failed;
} Ours;

static void ours_cb(GObject *source, GAsyncResult *res, gpointer data)
{
    Ours *o = data;
    QmpJsonDoc *doc = qmp_monitor_execute_finish(o->mon, res, NULL, NULL);
    if (!doc)
        o->failed++;
    qmp_json_doc_unref(doc);
    o->done++;
    if (o->sent < N_COMMANDS) {
        o->sent++;
        qmp_monitor_execute_async(o->mon, "query-status", NULL, 0, NULL, 0, NULL,
                                  ours_cb, o);
    }
}

static double ours_round(void)
{
    pid_t pid;
    int fd = peer_start(&pid);
    GError *error = NULL;
    Ours o = { qmp_monitor_new(NULL), 0, 0, 0 };
    /* No handshake: the peer answers anything, so the rounds compare alike. */
    if (!qmp_monitor_connect_fd(o.mon, fd, &error)) {
        fprintf(stderr, "bench-pipelined-instant-peer: %s\n", error->message);
        exit(1);
    }
    double t0 = bench_now();
    for (; o.sent < IN_FLIGHT; o.sent++)
        qmp_monitor_execute_async(o.mon, "query-status", NULL, 0, NULL, 0, NULL, ours_cb, &o);
    while (o.done < N_COMMANDS)
        g_main_context_iteration(NULL, TRUE);
    double rate = N_COMMANDS / (bench_now() - t0);
    if (o.failed) {
        fprintf(stderr, "bench-pipelined-instant-peer: %u commands failed\n", o.failed);
        exit(1);
    }
    g_object_unref(o.mon); /* closes fd: the peer sees EOF */
    waitpid(pid, NULL, 0);
    return rate;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    double ours[N_ROUNDS], base[N_ROUNDS];
    if (argc > 1 && strcmp(argv[1], "ours") == 0) {
        /* one round of one side only, for profilers */
        printf("%.0f commands/s\n", ours_round());
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "bare") == 0) {
        printf("%.0f commands/s\n", bare_round());
        return 0;
    }
    ours_round();
    bare_round();
    for (int r = 0; r < N_ROUNDS; r++) {
        ours[r] = ours_round();
        base[r] = bare_round();
    }
    double mo = bench_median(ours, N_ROUNDS), mb = bench_median(base, N_ROUNDS);
    printf("bench-pipelined-instant-peer: %.0f commands/s through the library, "
           "%.0f bare, %d in flight\n", mo, mb, IN_FLIGHT);
    bench_report("pipelined-instant-peer", mo, mb, "commands/s", TRUE, 0.5);
    return 0;
}
