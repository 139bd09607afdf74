/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qmp-replay.h: the whole record/replay library in one include.  Each API
 * has its own header:
 *
 *   qmp-recording.h      a loaded recording (QmpReplay), the stream splitter
 *   qmp-recorder.h       writing recordings (QmpRecorder, record_to_file)
 *   qmp-replay-server.h  playing QEMU's side of a recording (QmpReplayServer)
 *   qmp-replay-diff.h    differences between two JSON values
 *   qmp-replay-test.h    the one-call set-up for unit tests
 */
#pragma once

#include "qmp-recording.h"
#include "qmp-recorder.h"
#include "qmp-replay-server.h"
#include "qmp-replay-diff.h"
#include "qmp-replay-test.h"
