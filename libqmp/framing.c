/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* framing.c: QMP byte stream to lines (see framing.h). */
#include <string.h>
#include "framing.h"
#include "qmp-error.h"

void qmp_framer_init(QmpFramer *framer)
{
    framer->partial = NULL;
    framer->offset = 0;
}

void qmp_framer_clear(QmpFramer *framer)
{
    if (framer->partial)
        g_byte_array_unref(framer->partial);
    framer->partial = NULL;
}

gsize qmp_framer_pending(const QmpFramer *framer)
{
    return framer->partial ? framer->partial->len : 0;
}

gsize qmp_framer_read_size(const QmpFramer *framer, gsize max, gsize chunk)
{
    gsize have = qmp_framer_pending(framer);
    gsize room = max + 2 > have ? max + 2 - have : 1;
    return MIN(room, chunk);
}

static gsize strip_cr(const char *line, gsize len)
{
    return len > 0 && line[len - 1] == '\r' ? len - 1 : len;
}

static gboolean too_large(guint64 offset, gsize max, GError **error)
{
    g_set_error(error, QMP_ERROR, QMP_ERROR_TOO_LARGE,
                "message at stream offset %" G_GUINT64_FORMAT
                " is larger than the limit of %" G_GSIZE_FORMAT " bytes",
                offset, max);
    return FALSE;
}

gboolean qmp_framer_feed(QmpFramer *framer, const char *data, gsize len,
                         gsize max, QmpFramerLineFunc func, gpointer user_data,
                         GError **error)
{
    const char *p = data, *end = data + len;

    while (p < end) {
        const char *nl = memchr(p, '\n', end - p);
        gsize have = qmp_framer_pending(framer);
        guint64 start = framer->offset - have;

        if (!nl) {
            /* Unfinished line: keep it, unless it cannot fit any more. */
            gsize n = end - p;
            gsize line_len = have + n;
            /* One byte of slack for a '\r' that may precede the '\n'. */
            if (line_len > max + 1)
                return too_large(start, max, error);
            if (!framer->partial)
                framer->partial = g_byte_array_sized_new(MAX(n, 256));
            g_byte_array_append(framer->partial, (const guint8 *) p, n);
            framer->offset += n;
            return TRUE;
        }

        gsize n = nl - p;
        framer->offset += n + 1;
        gboolean go_on;
        if (have == 0) {
            gsize l = strip_cr(p, n);
            if (l > max)
                return too_large(start, max, error);
            go_on = func(p, l, start, user_data);
        } else {
            if (have + n > max + 1)
                return too_large(start, max, error);
            g_byte_array_append(framer->partial, (const guint8 *) p, n);
            GByteArray *buf = framer->partial;
            gsize l = strip_cr((const char *) buf->data, buf->len);
            if (l > max)
                return too_large(start, max, error);
            /* Detach first: func may re-enter the framer's owner.  The
             * buffer is dropped after use so an idle connection holds no
             * read buffer at all. */
            framer->partial = NULL;
            go_on = func((const char *) buf->data, l, start, user_data);
            g_byte_array_unref(buf);
        }
        if (!go_on)
            return FALSE;
        p = nl + 1;
    }
    return TRUE;
}
