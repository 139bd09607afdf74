/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* testapi.c: starting a replay server for a unit test in one call. */
#include <sys/socket.h>
#include <unistd.h>
#include "qmp-replay-test.h"

char *qmp_replay_test_recording_path(const char *name)
{
    if (g_path_is_absolute(name) || g_file_test(name, G_FILE_TEST_EXISTS))
        return g_strdup(name);
    const char *src = g_getenv("QMPKIT_SOURCE_DIR");
    return g_build_filename(src ? src : ".", "replay-tests", "recordings", name, NULL);
}

QmpMonitor *qmp_replay_test_start_full(QmpReplay *rec, QmpReplayMatch mode,
                                       const QmpJson *schema,
                                       QmpReplayServer **server_out)
{
    GError *error = NULL;
    int sv[2];
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
    QmpReplayServer *s = qmp_replay_server_new(rec, mode, NULL);
    if (schema)
        qmp_replay_server_set_schema(s, schema);
    g_assert_true(qmp_replay_server_serve_fd(s, sv[0], &error));
    g_assert_no_error(error);
    QmpMonitor *mon = qmp_monitor_new(NULL);
    g_assert_true(qmp_monitor_connect_fd(mon, sv[1], &error));
    g_assert_no_error(error);
    *server_out = s;
    return mon;
}

QmpMonitor *qmp_replay_test_start(const char *file, QmpReplayMatch mode,
                                  QmpReplayServer **server_out)
{
    GError *error = NULL;
    g_autofree char *path = qmp_replay_test_recording_path(file);
    g_autoptr(QmpReplay) rec = qmp_replay_load(path, &error);
    g_assert_no_error(error);
    return qmp_replay_test_start_full(rec, mode, NULL, server_out);
}

void qmp_replay_test_assert_done(QmpReplayServer *s)
{
    GError *error = NULL;
    if (!qmp_replay_server_finish(s, &error)) {
        g_printerr("replay failed:\n%s\n", error->message);
        g_assert_no_error(error);
    }
}
