/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-caps-timeout: a QEMU that greets, negotiates and then answers
 * nothing (qmp-fault-peer plays it) fails a probe at the probe deadline
 * with QMP_ERROR_TIMEOUT naming what was left unanswered (it used to say
 * "cancelled" after 66 s), and the deadline is settable.
 */
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include "qmp-caps.h"

#ifndef FAULT_PEER
#error FAULT_PEER must name the qmp-fault-peer program
#endif

static void test_stuck_after_greeting(void)
{
    int sv[2];
    GError *error = NULL;
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
    pid_t peer = fork();
    g_assert_cmpint(peer, >=, 0);
    if (peer == 0) {
        int fd = dup(sv[1]);
        char num[16];
        g_snprintf(num, sizeof(num), "%d", fd);
        execl(FAULT_PEER, FAULT_PEER, num, "greeting\nok\ndrain", (char *) NULL);
        _exit(127);
    }
    close(sv[1]);
    QmpMonitor *mon = qmp_monitor_new(NULL);
    g_assert_true(qmp_monitor_connect_fd(mon, sv[0], &error));
    g_assert_true(qmp_monitor_handshake(mon, QMP_HANDSHAKE_NONE, 10000, &error));
    g_assert_no_error(error);

    g_assert_cmpuint(qmp_caps_get_probe_timeout(), ==, QMP_CAPS_DEFAULT_PROBE_TIMEOUT_MS);
    qmp_caps_set_probe_timeout(300);
    g_assert_cmpuint(qmp_caps_get_probe_timeout(), ==, 300);
    QmpCaps *caps = qmp_caps_probe_monitor(mon, &error);
    g_assert_null(caps);
    g_assert_error(error, QMP_ERROR, QMP_ERROR_TIMEOUT);
    g_test_message("%s", error->message);
    g_assert_nonnull(strstr(error->message, "no reply within 300 ms"));
    g_assert_nonnull(strstr(error->message, "query-qmp-schema"));
    g_assert_null(strstr(error->message, "cancel"));
    g_clear_error(&error);
    qmp_caps_set_probe_timeout(0);
    g_assert_cmpuint(qmp_caps_get_probe_timeout(), ==, QMP_CAPS_DEFAULT_PROBE_TIMEOUT_MS);

    g_object_unref(mon);
    int status;
    waitpid(peer, &status, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/caps/probe/stuck-after-greeting", test_stuck_after_greeting);
    return g_test_run();
}
