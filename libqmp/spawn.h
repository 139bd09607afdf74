/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * spawn.h (private): running QEMU with its monitor on a socketpair, and
 * ending it again.  No SIGCHLD handler and no thread: the child is reaped
 * by the monitor with waitpid().
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

/* Start binary; *fd gets our end of the monitor socketpair (non-blocking,
 * close-on-exec), *pid the child. */
gboolean qmp_spawn_qemu(const char *binary, const char *const *extra_argv,
                        int *fd, pid_t *pid, GError **error);

/* Reap pid if it has exited; TRUE and *status when it was reaped. */
gboolean qmp_spawn_try_reap(pid_t pid, int *status);

/* Wait up to ms for pid to exit by itself; TRUE and *status if reaped. */
gboolean qmp_spawn_wait(pid_t pid, guint ms, int *status);

/* Wait up to grace_ms for pid to exit (after sending sig unless 0), then
 * SIGKILL it; always reaps it. */
void qmp_spawn_end(pid_t pid, int sig, guint grace_ms);

/* "exited with status 1" / "killed by signal 9" */
char *qmp_spawn_describe_status(int status);
