/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* recording-private.h: the inside of a loaded recording, shared by the
 * replay library's files. */
#pragma once

#include "qmp-recording.h"

typedef struct {
    QmpJsonDoc *doc;      /* borrowed from QmpReplay.docs */
    const QmpJson *msg;
    QmpTraceDirection dir;
    QmpReplayMsgKind kind;
    double t;
    guint n_fds;
    guint line;
    const char *name;     /* command or event name */
    const QmpJson *id;
    const QmpJson *args;  /* command arguments or NULL */
    gint reply;           /* command: index of its reply, or -1 */
    gint replied_by;      /* reply: index of its command, or -1 */
    const char *raw;      /* the message's one-line text in QmpReplay.data, or NULL */
    gsize raw_len;
} ReplayEntry;

struct _QmpReplay {
    int ref;
    char *name;
    char *peer;
    const char *format;
    GArray *entries;      /* ReplayEntry */
    GPtrArray *docs;      /* QmpJsonDoc */
    const QmpJson *schema;
    char *data;           /* the file's text (our format) */
    gsize max_line;       /* the reader's limit on a line or message */
};
