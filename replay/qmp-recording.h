/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qmp-recording.h: a recorded QMP conversation loaded into memory (see
 * docs/recording-format.md for the file format), and the stream splitter
 * that finds where one JSON message ends.
 *
 * Ownership: QmpReplay is reference counted; functions returning `const`
 * pointers lend memory owned by the recording.  Errors are QMP_ERROR
 * (qmp-error.h).  Threads: use a recording from one thread at a time.
 */
#pragma once

#include <glib.h>
#include "qmp-json.h"
#include "qmp-error.h"
#include "qmp-monitor.h"
#include "qmp-export.h"

G_BEGIN_DECLS
QMP_BEGIN_PUBLIC

typedef struct _QmpReplay QmpReplay;

typedef enum {
    QMP_REPLAY_MSG_GREETING, /* {"QMP": ...} */
    QMP_REPLAY_MSG_COMMAND,  /* {"execute"|"exec-oob": ...} */
    QMP_REPLAY_MSG_REPLY,    /* {"return"|"error": ...} */
    QMP_REPLAY_MSG_EVENT,    /* {"event": ...} */
    QMP_REPLAY_MSG_OTHER,
} QmpReplayMsgKind;

/* Default limits of the reader: a file larger than this, or a line (our
 * format) or message (libvirt's) longer than this, is refused with
 * QMP_ERROR_TOO_LARGE as soon as the reader sees it (reading /dev/zero
 * fails after one line's worth). */
#define QMP_REPLAY_DEFAULT_MAX_FILE_SIZE (256u * 1024u * 1024u)
#define QMP_REPLAY_DEFAULT_MAX_LINE_SIZE (64u * 1024u * 1024u)

/* Load a recording: our JSON Lines format, or libvirt's .replies format
 * (blank-line separated pretty-printed JSON, commands and replies only),
 * detected from the content.  Refused with QMP_ERROR_PROTOCOL and
 * "NAME:LINE: what": a message that is not a JSON object, a recording
 * without messages, a reply that answers no recorded command. */
QmpReplay *qmp_replay_load(const char *path, GError **error);
/* The same with other limits (0: the default). */
QmpReplay *qmp_replay_load_full(const char *path, gsize max_file_size,
                                gsize max_line_size, GError **error);
/* The same from memory (default limits); name is used in messages (may be
 * NULL). */
QmpReplay *qmp_replay_load_data(const char *data, gsize len, const char *name,
                                GError **error);
QmpReplay *qmp_replay_ref(QmpReplay *rec);
void qmp_replay_unref(QmpReplay *rec); /* NULL-safe */

/* "qmpkit" or "libvirt-replies". */
const char *qmp_replay_get_format(const QmpReplay *rec);
/* The header's "peer" (NULL when none). */
const char *qmp_replay_get_peer(const QmpReplay *rec);
guint qmp_replay_get_n_messages(const QmpReplay *rec);
/* Message i: its JSON, and (each may be NULL) its direction (QMP_TRACE_IN:
 * server to client), kind, time in seconds since the recording started (0
 * for libvirt files), number of fds passed with it, and source line. */
const QmpJson *qmp_replay_get_message(const QmpReplay *rec, guint i,
                                      QmpTraceDirection *dir,
                                      QmpReplayMsgKind *kind, double *t,
                                      guint *n_fds, guint *line);
/* The "return" of the first successful query-qmp-schema in the recording,
 * or NULL. */
const QmpJson *qmp_replay_get_recorded_schema(const QmpReplay *rec);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(QmpReplay, qmp_replay_unref)

/* Split off complete JSON values from a byte stream: returns the length of
 * the first complete top-level value starting at buf (leading whitespace
 * included), or 0 when it is incomplete.  *state carries scanning state
 * between calls on a growing buffer: reset it to 0 after taking a value. */
typedef struct {
    gsize pos;
    int depth;
    gboolean in_string;
    gboolean escape;
    gboolean started;
} QmpJsonSplit;
gsize qmp_json_split(QmpJsonSplit *st, const char *buf, gsize len);

QMP_END_PUBLIC
G_END_DECLS
