/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-roundtrip-sync: sequential query-status round trips against QEMU
 * through qmp_monitor_execute(), against a bare blocking socket client
 * (no library) sending the same bytes to another QEMU of the same command
 * line.  QEMU is the bottleneck; the library should add nothing.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include "qmp-monitor.h"
#include "bench-common.h"

#define QEMU "qemu-system-x86_64"
#define N_ROUNDS 7
#define N_TRIPS 1000

static const char *const qemu_args[] = {
    "-machine", "none", "-nodefaults", "-display", "none", "-S", NULL
};

/* ---- the bare client ----------------------------------------------------- */

typedef struct {
    int fd;
    pid_t pid;
    char buf[65536];
    size_t have;
    unsigned next_id;
} Bare;

static void bare_line(Bare *b)
{
    for (;;) {
        char *nl = memchr(b->buf, '\n', b->have);
        if (nl) {
            size_t n = nl - b->buf + 1;
            memmove(b->buf, b->buf + n, b->have - n);
            b->have -= n;
            return;
        }
        ssize_t r = read(b->fd, b->buf + b->have, sizeof(b->buf) - b->have);
        if (r <= 0) {
            fprintf(stderr, "bench-roundtrip-sync: bare client: read failed\n");
            exit(1);
        }
        b->have += r;
    }
}

static void bare_send(Bare *b, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(b->fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            fprintf(stderr, "bench-roundtrip-sync: bare client: write failed\n");
            exit(1);
        }
        s += w;
        n -= w;
    }
}

static void bare_start(Bare *b)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        exit(1);
    b->pid = fork();
    if (b->pid == 0) {
        close(sv[0]);
        char chardev[64];
        snprintf(chardev, sizeof(chardev), "socket,id=m,fd=%d", sv[1]);
        execlp(QEMU, QEMU, "-machine", "none", "-nodefaults", "-display", "none", "-S",
               "-chardev", chardev, "-mon", "chardev=m,mode=control", (char *) NULL);
        _exit(127);
    }
    close(sv[1]);
    b->fd = sv[0];
    b->have = 0;
    b->next_id = 1;
    bare_line(b); /* greeting */
    static const char caps[] = "{\"execute\":\"qmp_capabilities\",\"id\":\"qmpkit-0\"}\r\n";
    bare_send(b, caps, sizeof(caps) - 1);
    bare_line(b);
}

static double bare_round(Bare *b)
{
    char msg[128];
    double t0 = bench_now();
    for (int i = 0; i < N_TRIPS; i++) {
        /* The same bytes the library sends. */
        int n = snprintf(msg, sizeof(msg),
                         "{\"execute\":\"query-status\",\"id\":\"qmpkit-%u\"}\r\n",
                         b->next_id++);
        bare_send(b, msg, n);
        bare_line(b);
    }
    return N_TRIPS / (bench_now() - t0);
}

static void bare_stop(Bare *b)
{
    static const char quit[] = "{\"execute\":\"quit\"}\r\n";
    bare_send(b, quit, sizeof(quit) - 1);
    /* Keep the socket open until QEMU is gone: on a hang-up it may drop
     * input it has not read yet. */
    char buf[4096];
    while (read(b->fd, buf, sizeof(buf)) > 0)
        ;
    close(b->fd);
    waitpid(b->pid, NULL, 0);
}

/* ---- the library ---------------------------------------------------------- */

static double ours_round(QmpMonitor *mon)
{
    double t0 = bench_now();
    for (int i = 0; i < N_TRIPS; i++) {
        GError *error = NULL;
        QmpJsonDoc *doc = qmp_monitor_execute(mon, "query-status", NULL, 0, NULL, 0, -1,
                                              NULL, &error);
        if (!doc) {
            fprintf(stderr, "bench-roundtrip-sync: %s\n", error->message);
            exit(1);
        }
        qmp_json_doc_unref(doc);
    }
    return N_TRIPS / (bench_now() - t0);
}

int main(void)
{
    g_autofree char *qemu = g_find_program_in_path(QEMU);
    if (!qemu) {
        printf("bench-roundtrip-sync: SKIP: %s not found\n", QEMU);
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
    GError *error = NULL;
    g_autoptr(QmpMonitor) mon = qmp_monitor_new(NULL);
    if (!qmp_monitor_spawn(mon, QEMU, qemu_args, &error) ||
        !qmp_monitor_handshake(mon, QMP_HANDSHAKE_NONE, 20000, &error)) {
        fprintf(stderr, "bench-roundtrip-sync: %s\n", error->message);
        return 1;
    }
    Bare bare;
    bare_start(&bare);

    /* Warm up both, then alternate rounds. */
    ours_round(mon);
    bare_round(&bare);
    double ours[N_ROUNDS], base[N_ROUNDS];
    for (int r = 0; r < N_ROUNDS; r++) {
        ours[r] = ours_round(mon);
        base[r] = bare_round(&bare);
    }
    bare_stop(&bare);
    bench_report("roundtrip-sync", bench_median(ours, N_ROUNDS),
                 bench_median(base, N_ROUNDS), "roundtrips/s", TRUE, 0.95);
    return 0;
}
