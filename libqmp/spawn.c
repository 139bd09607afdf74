/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* spawn.c: QEMU as a child with its monitor on a socketpair (spawn.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "spawn.h"
#include "transport.h"
#include "qmp-error.h"

/* The fd number QEMU sees for its end of the socketpair. */
#define CHILD_MONITOR_FD 3

gboolean qmp_spawn_qemu(const char *binary, const char *const *extra_argv,
                        int *fd, pid_t *pid, GError **error)
{
    int sv[2], report[2];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        int e = errno;
        g_set_error(error, QMP_ERROR, QMP_ERROR_IO, "socketpair: %s", g_strerror(e));
        return FALSE;
    }
    /* The child reports a failed exec through this pipe; success closes it. */
    if (pipe2(report, O_CLOEXEC) < 0) {
        int e = errno;
        close(sv[0]);
        close(sv[1]);
        g_set_error(error, QMP_ERROR, QMP_ERROR_IO, "pipe: %s", g_strerror(e));
        return FALSE;
    }

    /* Build everything before fork(): the child may only call
     * async-signal-safe functions. */
    GPtrArray *argv = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(argv, g_strdup(binary));
    for (gsize i = 0; extra_argv && extra_argv[i]; i++)
        g_ptr_array_add(argv, g_strdup(extra_argv[i]));
    g_ptr_array_add(argv, g_strdup("-chardev"));
    g_ptr_array_add(argv, g_strdup_printf("socket,id=qmpkit-mon,fd=%d",
                                          CHILD_MONITOR_FD));
    g_ptr_array_add(argv, g_strdup("-mon"));
    g_ptr_array_add(argv, g_strdup("chardev=qmpkit-mon,mode=control"));
    g_ptr_array_add(argv, NULL);
    char **args = (char **) argv->pdata;

    pid_t child = fork();
    if (child == 0) {
        int child_fd = sv[1];
        if (child_fd == CHILD_MONITOR_FD) {
            fcntl(child_fd, F_SETFD, 0);
        } else if (dup2(child_fd, CHILD_MONITOR_FD) < 0) {
            goto fail;
        }
        if (strchr(args[0], '/'))
            execv(args[0], args);
        else
            execvp(args[0], args);
    fail:;
        int e = errno;
        ssize_t r = write(report[1], &e, sizeof(e));
        (void) r;
        _exit(127);
    }
    int fork_errno = errno;
    g_ptr_array_unref(argv);
    close(sv[1]);
    close(report[1]);
    if (child < 0) {
        close(sv[0]);
        close(report[0]);
        g_set_error(error, QMP_ERROR, QMP_ERROR_IO, "fork: %s",
                    g_strerror(fork_errno));
        return FALSE;
    }

    int child_errno = 0;
    ssize_t n;
    do
        n = read(report[0], &child_errno, sizeof(child_errno));
    while (n < 0 && errno == EINTR);
    close(report[0]);
    if (n == sizeof(child_errno)) {
        int status;
        while (waitpid(child, &status, 0) < 0 && errno == EINTR)
            ;
        close(sv[0]);
        g_set_error(error, QMP_ERROR, QMP_ERROR_IO, "cannot run %s: %s",
                    binary, g_strerror(child_errno));
        return FALSE;
    }
    if (!qmp_transport_prepare_fd(sv[0], error)) {
        close(sv[0]);
        qmp_spawn_end(child, SIGKILL, 0);
        return FALSE;
    }
    *fd = sv[0];
    *pid = child;
    return TRUE;
}

gboolean qmp_spawn_try_reap(pid_t pid, int *status)
{
    pid_t r;
    do
        r = waitpid(pid, status, WNOHANG);
    while (r < 0 && errno == EINTR);
    /* ECHILD: someone else reaped it; treat it as gone. */
    if (r < 0) {
        *status = 0;
        return TRUE;
    }
    return r == pid;
}

gboolean qmp_spawn_wait(pid_t pid, guint ms, int *status)
{
    gint64 deadline = g_get_monotonic_time() + (gint64) ms * 1000;
    long nap_ns = 100000; /* 0.1 ms, growing to 10 ms */
    while (!qmp_spawn_try_reap(pid, status)) {
        if (g_get_monotonic_time() >= deadline)
            return FALSE;
        struct timespec ts = { 0, nap_ns };
        nanosleep(&ts, NULL);
        nap_ns = MIN(nap_ns * 2, 10000000L);
    }
    return TRUE;
}

void qmp_spawn_end(pid_t pid, int sig, guint grace_ms)
{
    int status;
    if (sig)
        kill(pid, sig);
    if (qmp_spawn_wait(pid, grace_ms, &status))
        return;
    kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
}

char *qmp_spawn_describe_status(int status)
{
    if (WIFEXITED(status))
        return g_strdup_printf("exited with status %d", WEXITSTATUS(status));
    if (WIFSIGNALED(status))
        return g_strdup_printf("killed by signal %d", WTERMSIG(status));
    return g_strdup("ended");
}
