/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * transport.h (private): opening sockets and moving bytes (with fds).
 */
#pragma once

#include <glib.h>
#include <sys/uio.h>

/* A connected, close-on-exec, non-blocking stream socket, or -1 with a
 * QMP_ERROR_IO error. */
int qmp_transport_connect_unix(const char *path, GError **error);
int qmp_transport_connect_tcp(const char *host, guint16 port, GError **error);

/* A listening unix socket at path (close-on-exec), or -1 with an error.
 * It is bound and listening under a temporary name first, then renamed to
 * path, so that a client waiting for path to appear never finds it bound
 * but not yet listening.  An existing path is replaced. */
int qmp_transport_listen_unix(const char *path, GError **error);

/* Accept one connection on lfd (blocking): a close-on-exec, non-blocking
 * socket, or -1 with a QMP_ERROR_IO error. */
int qmp_transport_accept(int lfd, GError **error);

/* Make fd non-blocking and close-on-exec. */
gboolean qmp_transport_prepare_fd(int fd, GError **error);

/* sendmsg() of iov with fds (may be 0) as SCM_RIGHTS on the first byte.
 * Returns the bytes written or -1 with errno set (EINTR retried). */
gssize qmp_transport_send(int fd, const struct iovec *iov, int n_iov,
                          const int *fds, guint n_fds);

/* recvmsg() into buf, with the descriptors that came along stored in fds
 * (up to max_fds; any beyond are closed; all are close-on-exec).  Returns
 * the bytes read (0 at EOF) or -1 with errno set (EINTR retried). */
gssize qmp_transport_recv(int fd, void *buf, gsize len, int *fds,
                          guint max_fds, guint *n_fds);
