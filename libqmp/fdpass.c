/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fdpass.c: writing a message with file descriptors (SCM_RIGHTS). */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
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
