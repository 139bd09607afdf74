/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* transport.c: the monitor's sockets (see transport.h): connecting over
 * unix and TCP, and moving bytes with file descriptors (SCM_RIGHTS). */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>
#include "transport.h"
#include "qmp-error.h"

gboolean qmp_transport_prepare_fd(int fd, GError **error)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
        int e = errno;
        g_set_error(error, QMP_ERROR, QMP_ERROR_IO,
                    "cannot set up fd %d: %s", fd, g_strerror(e));
        return FALSE;
    }
    return TRUE;
}

/* sa for path, FALSE (error set) when it does not fit. */
static gboolean unix_address(struct sockaddr_un *sa, const char *path, GError **error)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa->sun_path)) {
        g_set_error(error, QMP_ERROR, QMP_ERROR_INVALID,
                    "socket path too long: %s", path);
        return FALSE;
    }
    strcpy(sa->sun_path, path);
    return TRUE;
}

int qmp_transport_listen_unix(const char *path, GError **error)
{
    struct sockaddr_un sa;
    g_autofree char *tmp = g_strdup_printf("%s.%d", path, (int) getpid());
    if (!unix_address(&sa, tmp, error))
        return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    unlink(tmp);
    if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 ||
        listen(fd, 1) < 0 || rename(tmp, path) < 0) {
        int e = errno;
        g_set_error(error, QMP_ERROR, QMP_ERROR_IO, "cannot listen on %s: %s",
                    path, g_strerror(e));
        if (fd >= 0)
            close(fd);
        unlink(tmp);
        return -1;
    }
    return fd;
}

int qmp_transport_accept(int lfd, GError **error)
{
    int fd;
    do
        fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        int e = errno;
        g_set_error(error, QMP_ERROR, QMP_ERROR_IO, "accept: %s", g_strerror(e));
    }
    return fd;
}

int qmp_transport_connect_unix(const char *path, GError **error)
{
    struct sockaddr_un sa;
    if (!unix_address(&sa, path, error))
        return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        g_set_error(error, QMP_ERROR, QMP_ERROR_IO, "socket: %s", g_strerror(e));
        return -1;
    }
    int r;
    do
        r = connect(fd, (struct sockaddr *) &sa, sizeof(sa));
    while (r < 0 && errno == EINTR);
    if (r < 0) {
        int e = errno;
        close(fd);
        g_set_error(error, QMP_ERROR, QMP_ERROR_IO,
                    "cannot connect to %s: %s", path, g_strerror(e));
        return -1;
    }
    if (!qmp_transport_prepare_fd(fd, error)) {
        close(fd);
        return -1;
    }
    return fd;
}

int qmp_transport_connect_tcp(const char *host, guint16 port, GError **error)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG };
    struct addrinfo *res = NULL;
    char service[8];
    g_snprintf(service, sizeof(service), "%u", port);
    int r = getaddrinfo(host, service, &hints, &res);
    if (r != 0) {
        g_set_error(error, QMP_ERROR, QMP_ERROR_IO,
                    "cannot resolve %s: %s", host, gai_strerror(r));
        return -1;
    }
    int fd = -1, e = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
                    ai->ai_protocol);
        if (fd < 0) {
            e = errno;
            continue;
        }
        do
            r = connect(fd, ai->ai_addr, ai->ai_addrlen);
        while (r < 0 && errno == EINTR);
        if (r == 0)
            break;
        e = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        g_set_error(error, QMP_ERROR, QMP_ERROR_IO, "cannot connect to %s:%u: %s",
                    host, port, g_strerror(e));
        return -1;
    }
    if (!qmp_transport_prepare_fd(fd, error)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* ---- bytes and fds ------------------------------------------------------- */

/* Enough for any getfd / add-fd use; QEMU itself takes at most 16. */
#define MAX_FDS 16

gssize qmp_transport_send(int fd, const struct iovec *iov, int n_iov,
                          const int *fds, guint n_fds)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
        struct cmsghdr align;
    } control;
    struct msghdr msg = { .msg_iov = (struct iovec *) iov, .msg_iovlen = n_iov };

    if (n_fds > MAX_FDS) {
        errno = EINVAL;
        return -1;
    }
    if (n_fds > 0) {
        memset(&control, 0, sizeof(control));
        msg.msg_control = control.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
        struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
        memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * n_fds);
    }
    gssize r;
    do
        r = sendmsg(fd, &msg, MSG_NOSIGNAL);
    while (r < 0 && errno == EINTR);
    if (r < 0 && errno == ENOTSOCK && n_fds == 0) {
        /* A pipe or tty handed in with qmp_monitor_connect_fd(). */
        do
            r = writev(fd, iov, n_iov);
        while (r < 0 && errno == EINTR);
    }
    return r;
}

gssize qmp_transport_recv(int fd, void *buf, gsize len, int *fds,
                          guint max_fds, guint *n_fds)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
        struct cmsghdr align;
    } control;
    struct iovec iov = { buf, len };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                          .msg_control = control.buf,
                          .msg_controllen = sizeof(control.buf) };
    gssize r;

    *n_fds = 0;
    do
        r = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
    while (r < 0 && errno == EINTR);
    for (struct cmsghdr *c = r >= 0 ? CMSG_FIRSTHDR(&msg) : NULL; c;
         c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        guint k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (guint j = 0; j < k; j++) {
            int received;
            memcpy(&received, CMSG_DATA(c) + j * sizeof(int), sizeof(int));
            if (*n_fds < max_fds)
                fds[(*n_fds)++] = received;
            else
                close(received);
        }
    }
    return r;
}
