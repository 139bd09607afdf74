/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* split.c: finding where one JSON message ends in a byte stream (see
 * qmp-recording.h). */
#include "qmp-recording.h"

gsize qmp_json_split(QmpJsonSplit *st, const char *buf, gsize len)
{
    for (; st->pos < len; st->pos++) {
        char c = buf[st->pos];
        if (st->in_string) {
            if (st->escape)
                st->escape = FALSE;
            else if (c == '\\')
                st->escape = TRUE;
            else if (c == '"')
                st->in_string = FALSE;
            continue;
        }
        if (!st->started) {
            if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
                continue;
            st->started = TRUE;
            if (c != '{' && c != '[') {
                /* Not a container: take the rest of the line, let the
                 * parser complain about it. */
                const char *nl = memchr(buf + st->pos, '\n', len - st->pos);
                if (!nl) {
                    st->started = FALSE;
                    return 0;
                }
                return (nl - buf) + 1;
            }
        }
        switch (c) {
        case '"':
            st->in_string = TRUE;
            break;
        case '{':
        case '[':
            st->depth++;
            break;
        case '}':
        case ']':
            if (--st->depth == 0)
                return ++st->pos;
            break;
        default:
            break;
        }
    }
    return 0;
}
