/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz target: the save image header reader (qmp_save_image_parse), which
 * reads files from disk that may be damaged, cut or written by another
 * version.  The input is a whole image (header, configuration, stream).
 * Any input must fail with a QMP_SAVE_ERROR or parse into an image whose
 * fields are consistent with the file; an accepted image re-encoded as
 * version 2 must parse to the same fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "save-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    GError *error = NULL;
    QmpSaveImage *img = qmp_save_image_parse(data, size, size, "fuzz.save", &error);

    if (img == NULL) {
        if (error == NULL || error->domain != QMP_SAVE_ERROR ||
            !g_str_has_prefix(error->message, "fuzz.save: "))
            abort();
        g_error_free(error);
        return 0;
    }
    guint version = qmp_save_image_get_version(img);
    guint64 off = qmp_save_image_get_stream_offset(img);
    guint64 len = qmp_save_image_get_stream_length(img);
    const char *config = qmp_save_image_get_config(img);
    if (version < QMP_SAVE_VERSION_MIN || version > QMP_SAVE_VERSION_CURRENT ||
        len == 0 || off > size || len > size - off || off % 512 != 0 ||
        config == NULL || qmp_save_image_get_machine(img) == NULL ||
        qmp_save_image_get_qemu_version(img) == NULL)
        abort();

    /* Re-encode as version 2 with a stream of the same length. */
    gsize hlen;
    guint8 *hdr = qmp_save_header_encode_v2(qmp_save_image_get_flags(img), config,
                                            strlen(config), len, &hlen);
    gsize total = hlen + (gsize)len;
    guint8 *buf = g_malloc0(total);
    memcpy(buf, hdr, hlen);
    QmpSaveImage *again = qmp_save_image_parse(buf, total, total, "again", &error);
    if (again == NULL ||
        qmp_save_image_get_version(again) != QMP_SAVE_VERSION_CURRENT ||
        qmp_save_image_get_flags(again) != qmp_save_image_get_flags(img) ||
        qmp_save_image_get_stream_length(again) != len ||
        strcmp(qmp_save_image_get_config(again), config) != 0 ||
        strcmp(qmp_save_image_get_machine(again), qmp_save_image_get_machine(img)) != 0 ||
        g_strcmp0(qmp_save_image_get_description(again),
                  qmp_save_image_get_description(img)) != 0)
        abort();
    qmp_save_image_free(again);
    g_free(buf);
    g_free(hdr);
    qmp_save_image_free(img);
    return 0;
}
