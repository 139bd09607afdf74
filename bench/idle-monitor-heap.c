/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-idle-monitor-heap: heap bytes held per connected, negotiated, idle
 * monitor (mallinfo2 before and after N of them), against a budget of
 * 64 KiB.  The peers are QEMU-like servers in a child process, so only the
 * client side is counted.
 */
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include "qmp-monitor.h"
#include "bench-common.h"

#define N_MONITORS 200
#define N_ROUNDS 3
#define BUDGET 65536.0

/* Greets every connection and answers each line with an empty return. */
static void peers_main(int *fds, int n)
{
    static const char greeting[] =
        "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, "
        "\"package\": \"heap-peer\"}, \"capabilities\": [\"oob\"]}}\r\n";
    struct pollfd *p = calloc(n, sizeof(*p));
    for (int i = 0; i < n; i++) {
        p[i].fd = fds[i];
        p[i].events = POLLIN;
        if (write(fds[i], greeting, sizeof(greeting) - 1) < 0)
            _exit(1);
    }
    int open = n;
    while (open > 0) {
        if (poll(p, n, -1) < 0)
            _exit(1);
        for (int i = 0; i < n; i++) {
            if (p[i].fd < 0 || !p[i].revents)
                continue;
            char buf[4096], out[256];
            ssize_t r = read(p[i].fd, buf, sizeof(buf) - 1);
            if (r <= 0) {
                close(p[i].fd);
                p[i].fd = -1;
                open--;
                continue;
            }
            buf[r] = 0;
            /* Commands here are short and come one at a time. */
            char *id = NULL;
            for (char *q = buf; (q = strstr(q, "\"id\":")); q++)
                id = q + 5;
            int len = 0;
            while (id && id[len] && id[len] != '}')
                len++;
            int o = snprintf(out, sizeof(out), "{\"return\": {}, \"id\": %.*s}\r\n",
                             len, id ? id : "null");
            if (write(p[i].fd, out, o) < 0)
                _exit(1);
        }
    }
    _exit(0);
}

static double measure(void)
{
    int ours[N_MONITORS], theirs[N_MONITORS];
    for (int i = 0; i < N_MONITORS; i++) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
            exit(1);
        ours[i] = sv[0];
        theirs[i] = sv[1];
    }
    pid_t pid = fork();
    if (pid == 0) {
        for (int i = 0; i < N_MONITORS; i++)
            close(ours[i]);
        peers_main(theirs, N_MONITORS);
    }
    for (int i = 0; i < N_MONITORS; i++)
        close(theirs[i]);

    QmpMonitor *mons[N_MONITORS];
    malloc_trim(0);
    size_t before = mallinfo2().uordblks;
    for (int i = 0; i < N_MONITORS; i++) {
        GError *error = NULL;
        mons[i] = qmp_monitor_new(NULL);
        if (!qmp_monitor_connect_fd(mons[i], ours[i], &error) ||
            !qmp_monitor_handshake(mons[i], QMP_HANDSHAKE_OOB, 10000, &error)) {
            fprintf(stderr, "bench-idle-monitor-heap: %s\n", error->message);
            exit(1);
        }
    }
    /* Let the idle monitors settle (nothing should be pending). */
    while (g_main_context_iteration(NULL, FALSE))
        ;
    size_t after = mallinfo2().uordblks;
    for (int i = 0; i < N_MONITORS; i++)
        g_object_unref(mons[i]);
    waitpid(pid, NULL, 0);
    return ((double) after - (double) before) / N_MONITORS;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    /* Warm-up: type registration and other one-time allocations. */
    measure();
    double v[N_ROUNDS];
    for (int r = 0; r < N_ROUNDS; r++)
        v[r] = measure();
    bench_report("idle-monitor-heap", bench_median(v, N_ROUNDS), BUDGET, "bytes",
                 FALSE, 1.0);
    return 0;
}
