/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* save-test-util.h: helpers shared by the save/restore tests. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A version 1 image written from docs/save-format.md's table, independently
 * of the library's writer (which writes only v2): 32-byte header, config,
 * zero padding to 4096, then stream_len bytes of stream (a counting
 * pattern, or the bytes of stream when not NULL). */
GByteArray *save_test_v1_image(guint32 flags, const char *config,
                               gsize stream_len);
GByteArray *save_test_v1_header(guint32 flags, const char *config);

/* Number of open descriptors of this process (/proc/self/fd), not
 * counting GLib's process-wide eventfds. */
guint save_test_count_fds(void);

G_END_DECLS
