/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fdpass.c: moving bytes with file descriptors (SCM_RIGHTS). */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include "transport.h"

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
