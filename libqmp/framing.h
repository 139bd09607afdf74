/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * framing.h (private): splitting a QMP byte stream into lines.
 *
 * QEMU ends every message with "\r\n" and never puts a raw newline inside
 * one.  The framer keeps only the unfinished tail of the stream; complete
 * lines found in freshly read data are handed out in place, without a copy.
 */
#pragma once

#include <glib.h>

typedef struct {
    GByteArray *partial;   /* unfinished line, NULL when there is none */
    guint64 offset;        /* stream offset of the next byte to be fed */
} QmpFramer;

/* Called for each complete line without its "\r\n" / "\n"; stream_offset is
 * the offset of the line's first byte in the whole stream.  Return FALSE to
 * stop (the remaining data is dropped). */
typedef gboolean (*QmpFramerLineFunc)(const char *line, gsize len,
                                      guint64 stream_offset, gpointer data);

void qmp_framer_init(QmpFramer *framer);
void qmp_framer_clear(QmpFramer *framer);

/* How many bytes the next read may bring without letting the buffer grow
 * past max (plus the terminator); at most chunk. */
gsize qmp_framer_read_size(const QmpFramer *framer, gsize max, gsize chunk);

/* Feed len bytes.  Returns FALSE with QMP_ERROR_TOO_LARGE when a line is
 * longer than max, or FALSE without error when func stopped. */
gboolean qmp_framer_feed(QmpFramer *framer, const char *data, gsize len,
                         gsize max, QmpFramerLineFunc func, gpointer user_data,
                         GError **error);

/* Bytes of an unfinished line held (0 at a message boundary). */
gsize qmp_framer_pending(const QmpFramer *framer);
