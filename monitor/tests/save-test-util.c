/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>
#include <glib/gstdio.h>

#include "save-test-util.h"

static void
le32(GByteArray *a, guint32 v)
{
    guint8 b[4] = { v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24 };
    g_byte_array_append(a, b, 4);
}

GByteArray *
save_test_v1_header(guint32 flags, const char *config)
{
    GByteArray *a = g_byte_array_new();
    gsize clen = strlen(config);

    g_byte_array_append(a, (const guint8 *)"QMPKIT\0SAVE\r\n\x1a\n\0", 16);
    le32(a, 1);        /* version */
    le32(a, flags);    /* flags */
    le32(a, clen);     /* config_length */
    le32(a, 0);        /* reserved */
    g_byte_array_append(a, (const guint8 *)config, clen);
    gsize padded = (a->len + 4095) / 4096 * 4096;
    gsize old = a->len;
    g_byte_array_set_size(a, padded);
    memset(a->data + old, 0, padded - old);
    return a;
}

GByteArray *
save_test_v1_image(guint32 flags, const char *config, gsize stream_len)
{
    GByteArray *a = save_test_v1_header(flags, config);

    for (gsize i = 0; i < stream_len; i++) {
        guint8 b = (guint8)(i * 13 + 1);
        g_byte_array_append(a, &b, 1);
    }
    return a;
}

guint
save_test_count_fds(void)
{
    GDir *d = g_dir_open("/proc/self/fd", 0, NULL);
    guint n = 0;

    g_assert_nonnull(d);
    const char *name;
    while ((name = g_dir_read_name(d)) != NULL) {
        g_autofree char *p = g_strdup_printf("/proc/self/fd/%s", name);
        g_autofree char *t = g_file_read_link(p, NULL);
        /* GLib's process-wide wakeup eventfds (default main context, the
         * worker thread of child watches) appear on first use and stay. */
        if (t != NULL && strcmp(t, "anon_inode:[eventfd]") == 0)
            continue;
        n++;
    }
    g_dir_close(d);
    return n;
}
