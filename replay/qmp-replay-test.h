/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qmp-replay-test.h: replaying a recording in a GLib unit test in one call.
 * Test code only: failures abort via g_assert.
 */
#pragma once

#include <glib.h>
#include "qmp-replay-server.h"
#include "qmp-export.h"

G_BEGIN_DECLS
QMP_BEGIN_PUBLIC

/* Load file (an absolute path, a path that exists, or a name under
 * $QMPKIT_SOURCE_DIR/replay-tests/recordings/), start a server on the
 * thread-default context, and return a new monitor on the same context
 * connected to it through a socketpair.  The handshake is left to the test
 * (qmp_monitor_handshake).  *server_out receives the server (the caller
 * frees it with qmp_replay_server_free after unreffing the monitor or not:
 * either order is fine). */
QmpMonitor *qmp_replay_test_start(const char *file, QmpReplayMatch mode,
                                  QmpReplayServer **server_out);
/* The same with a recording already loaded and a schema choice:
 * schema NULL keeps the default (the project's), otherwise it is used. */
QmpMonitor *qmp_replay_test_start_full(QmpReplay *rec, QmpReplayMatch mode,
                                       const QmpJson *schema,
                                       QmpReplayServer **server_out);
/* Assert that the conversation went as recorded (qmp_replay_server_finish
 * succeeded); on failure prints the report and aborts the test. */
void qmp_replay_test_assert_done(QmpReplayServer *s);
/* Path of a recording in the source tree (see qmp_replay_test_start). */
char *qmp_replay_test_recording_path(const char *name);

QMP_END_PUBLIC
G_END_DECLS
