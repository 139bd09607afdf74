/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz target: the recording reader (qmp_replay_load_data): our JSON Lines
 * format and libvirt's .replies format, detected from the content.  Any
 * input must fail with a QMP_ERROR or load a recording whose every message
 * is readable.
 */
#include <stdint.h>
#include <stdlib.h>

#include "qmp-replay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    GError *error = NULL;
    QmpReplay *rec = qmp_replay_load_data((const char *) data, size, "fuzz",
                                          &error);

    if (rec == NULL) {
        if (error == NULL || error->domain != QMP_ERROR)
            abort();
        g_error_free(error);
        return 0;
    }
    qmp_replay_get_format(rec);
    qmp_replay_get_peer(rec);
    const QmpJson *prev = NULL;
    for (guint i = 0; i < qmp_replay_get_n_messages(rec); i++) {
        QmpTraceDirection dir;
        QmpReplayMsgKind kind;
        double t;
        guint n_fds, line;
        const QmpJson *msg = qmp_replay_get_message(rec, i, &dir, &kind, &t,
                                                    &n_fds, &line);
        if (msg == NULL)
            abort();
        if (prev && i < 8)
            g_free(qmp_replay_diff(prev, msg));
        prev = msg;
    }
    qmp_replay_get_recorded_schema(rec);
    qmp_replay_unref(rec);
    return 0;
}
