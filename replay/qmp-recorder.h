/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qmp-recorder.h: writing recordings (the format of docs/recording-format.md),
 * by hand or from a monitor's trace hook.
 *
 * Ownership: a QmpRecorder is owned by its creator until
 * qmp_recorder_close(), which frees it.  Errors are QMP_ERROR.  Threads: a
 * recorder is used from one thread at a time.
 */
#pragma once

#include <glib.h>
#include "qmp-monitor.h"
#include "qmp-export.h"

G_BEGIN_DECLS
QMP_BEGIN_PUBLIC

typedef struct _QmpRecorder QmpRecorder;

/* Create (truncate) path and write the header; peer names the other side
 * (e.g. "qemu-7.2 source"; may be NULL). */
QmpRecorder *qmp_recorder_new(const char *path, const char *peer,
                              GError **error);
/* Append one message: a JSON text, already redacted by the caller, written
 * as one compact line (text that is not JSON is written as a stand-in
 * giving its length only). */
void qmp_recorder_add(QmpRecorder *r, QmpTraceDirection dir,
                      const char *json, gsize len, guint n_fds);
/* Flush and close; FALSE with an error when any write failed.  Frees r. */
gboolean qmp_recorder_close(QmpRecorder *r, GError **error);

/* The library switch: record every message of mon (both directions, after
 * secret redaction, fds noted) to path from now on, through the monitor's
 * trace hook (this replaces any hook installed before).  The file is
 * complete when the monitor is finalized or another hook is set; each line
 * is flushed as written, so a crash leaves a readable prefix. */
gboolean qmp_monitor_record_to_file(QmpMonitor *mon, const char *path,
                                    const char *peer, GError **error);

QMP_END_PUBLIC
G_END_DECLS
