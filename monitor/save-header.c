/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * save-header.c: the save image's header, read (v1, v2) and written (v2).
 * Layout and rules: docs/save-format.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "save-private.h"

G_DEFINE_QUARK(qmp-save-error-quark, qmp_save_error)

struct _QmpSaveImage {
    char *name;
    guint version;
    guint32 flags;
    guint32 config_length;
    guint32 alignment;
    guint64 stream_offset;
    guint64 stream_length;
    guint32 stream_format;
    guint32 compression;
    char *config;
    char *qemu_version;
    char *machine;
    char *description;
};

/* ---- CRC-32 -------------------------------------------------------------- */

static guint32 crc_table[256];

static gpointer
crc_init(gpointer unused)
{
    (void)unused;
    for (guint32 i = 0; i < 256; i++) {
        guint32 c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
    return NULL;
}

guint32
qmp_save_crc32(guint32 crc, const guint8 *data, gsize len)
{
    static GOnce once = G_ONCE_INIT;

    g_once(&once, crc_init, NULL);
    crc = ~crc;
    for (gsize i = 0; i < len; i++)
        crc = crc_table[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* ---- little-endian fields ------------------------------------------------ */

static guint32
get_u32(const guint8 *p)
{
    return (guint32)p[0] | (guint32)p[1] << 8 | (guint32)p[2] << 16 |
           (guint32)p[3] << 24;
}

static guint64
get_u64(const guint8 *p)
{
    return (guint64)get_u32(p) | (guint64)get_u32(p + 4) << 32;
}

static void
put_u32(guint8 *p, guint32 v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (guint8)(v >> (8 * i));
}

static void
put_u64(guint8 *p, guint64 v)
{
    put_u32(p, (guint32)v);
    put_u32(p + 4, (guint32)(v >> 32));
}

static guint64
align_up(guint64 v, guint64 a)
{
    return (v + a - 1) / a * a;
}

/* ---- writing ------------------------------------------------------------- */

guint8 *
qmp_save_header_encode_v2(guint32 flags, const char *config, gsize config_len,
                          guint64 stream_length, gsize *len)
{
    guint64 offset = align_up(QMP_SAVE_V2_FIXED + config_len, QMP_SAVE_ALIGNMENT);
    guint8 *buf = g_malloc0(offset);

    g_return_val_if_fail(config_len <= QMP_SAVE_CONFIG_MAX, NULL);
    memcpy(buf, QMP_SAVE_MAGIC, QMP_SAVE_MAGIC_LEN);
    put_u32(buf + 16, 2);
    put_u32(buf + 20, flags);
    put_u32(buf + 24, (guint32)config_len);
    put_u32(buf + 28, QMP_SAVE_ALIGNMENT);
    put_u64(buf + 32, offset);
    put_u64(buf + 40, stream_length);
    put_u32(buf + 48, QMP_SAVE_STREAM_QEMU_MIGRATION);
    put_u32(buf + 52, QMP_SAVE_COMPRESSION_NONE);
    put_u32(buf + 56, 0);
    memcpy(buf + QMP_SAVE_V2_FIXED, config, config_len);
    guint32 crc = qmp_save_crc32(0, buf, 60);
    crc = qmp_save_crc32(crc, (const guint8 *)config, config_len);
    put_u32(buf + 60, crc);
    *len = offset;
    return buf;
}

/* ---- reading ------------------------------------------------------------- */

typedef struct {
    guint offset;
    guint size;
    const char *name;
} Field;

static const Field v1_fields[] = {
    { 0, 16, "magic" }, { 16, 4, "version" }, { 20, 4, "flags" },
    { 24, 4, "config_length" }, { 28, 4, "reserved" },
};

static const Field v2_fields[] = {
    { 0, 16, "magic" }, { 16, 4, "version" }, { 20, 4, "flags" },
    { 24, 4, "config_length" }, { 28, 4, "alignment" },
    { 32, 8, "stream_offset" }, { 40, 8, "stream_length" },
    { 48, 4, "stream_format" }, { 52, 4, "compression" },
    { 56, 4, "reserved" }, { 60, 4, "header_checksum" },
};

/* The field a file of size bytes ends in. */
static const char *
cut_field(const Field *fields, gsize n, guint64 size)
{
    for (gsize i = 0; i < n; i++)
        if (size < fields[i].offset + fields[i].size)
            return fields[i].name;
    return "header";
}

static gboolean
truncated(const char *name, const Field *fields, gsize n, guint64 size,
          guint version, GError **error)
{
    g_set_error(error, QMP_SAVE_ERROR, QMP_SAVE_ERROR_TRUNCATED,
                "%s: truncated header: the file ends at byte %" G_GUINT64_FORMAT
                ", inside field %s of the version %u header",
                name, size, cut_field(fields, n, size), version);
    return FALSE;
}

static gboolean
short_data(const char *name, gsize len, GError **error)
{
    g_set_error(error, QMP_SAVE_ERROR, QMP_SAVE_ERROR_FAILED,
                "%s: only %" G_GSIZE_FORMAT " bytes of the header were read",
                name, len);
    return FALSE;
}

/* The file and the bytes read both hold the fixed part (fixed bytes) of
 * a version's header. */
static gboolean
check_fixed(const char *name, const Field *fields, gsize n, guint version,
            gsize fixed, gsize len, guint64 file_size, GError **error)
{
    if (file_size < fixed)
        return truncated(name, fields, n, file_size, version, error);
    if (len < fixed)
        return short_data(name, len, error);
    return TRUE;
}

/* The configuration after a fixed part of the given size lies inside the
 * file, the 16 MiB limit and the bytes read. */
static gboolean
check_config(QmpSaveImage *img, gsize fixed, gsize len, guint64 file_size,
             GError **error)
{
    if ((guint64)fixed + img->config_length > file_size ||
        img->config_length > QMP_SAVE_CONFIG_MAX) {
        g_set_error(error, QMP_SAVE_ERROR, QMP_SAVE_ERROR_BAD_FIELD,
                    "%s: field config_length (%u) runs past the end of the "
                    "file (%" G_GUINT64_FORMAT " bytes)%s",
                    img->name, img->config_length, file_size,
                    img->config_length > QMP_SAVE_CONFIG_MAX
                        ? " or past the 16 MiB limit" : "");
        return FALSE;
    }
    if (len < fixed + (gsize)img->config_length)
        return short_data(img->name, len, error);
    return TRUE;
}

static gboolean
parse_v1(QmpSaveImage *img, const guint8 *d, gsize len, guint64 file_size,
         GError **error)
{
    const char *name = img->name;

    if (!check_fixed(name, v1_fields, G_N_ELEMENTS(v1_fields), 1,
                     QMP_SAVE_V1_FIXED, len, file_size, error))
        return FALSE;
    img->flags = get_u32(d + 20);
    img->config_length = get_u32(d + 24);
    if (get_u32(d + 28) != 0) {
        g_set_error(error, QMP_SAVE_ERROR, QMP_SAVE_ERROR_BAD_FIELD,
                    "%s: field reserved is %u, must be 0 in a version 1 header",
                    name, get_u32(d + 28));
        return FALSE;
    }
    if (!check_config(img, QMP_SAVE_V1_FIXED, len, file_size, error))
        return FALSE;
    img->alignment = QMP_SAVE_ALIGNMENT;
    img->stream_offset = align_up(QMP_SAVE_V1_FIXED + (guint64)img->config_length,
                                  QMP_SAVE_ALIGNMENT);
    if (img->stream_offset >= file_size) {
        g_set_error(error, QMP_SAVE_ERROR, QMP_SAVE_ERROR_TRUNCATED,
                    "%s: truncated: the file (%" G_GUINT64_FORMAT " bytes) ends "
                    "before the stream, which starts at byte %" G_GUINT64_FORMAT,
                    name, file_size, img->stream_offset);
        return FALSE;
    }
    img->stream_length = file_size - img->stream_offset;
    img->stream_format = QMP_SAVE_STREAM_QEMU_MIGRATION;
    img->compression = QMP_SAVE_COMPRESSION_NONE;
    img->config = g_strndup((const char *)d + QMP_SAVE_V1_FIXED,
                            img->config_length);
    return TRUE;
}

static gboolean
parse_v2(QmpSaveImage *img, const guint8 *d, gsize len, guint64 file_size,
         GError **error)
{
    const char *name = img->name;

    if (!check_fixed(name, v2_fields, G_N_ELEMENTS(v2_fields), 2,
                     QMP_SAVE_V2_FIXED, len, file_size, error))
        return FALSE;
    img->flags = get_u32(d + 20);
    img->config_length = get_u32(d + 24);
    img->alignment = get_u32(d + 28);
    img->stream_offset = get_u64(d + 32);
    img->stream_length = get_u64(d + 40);
    img->stream_format = get_u32(d + 48);
    img->compression = get_u32(d + 52);

    if (!check_config(img, QMP_SAVE_V2_FIXED, len, file_size, error))
        return FALSE;

    guint32 crc = qmp_save_crc32(0, d, 60);
    crc = qmp_save_crc32(crc, d + QMP_SAVE_V2_FIXED, img->config_length);
    if (crc != get_u32(d + 60)) {
        g_set_error(error, QMP_SAVE_ERROR, QMP_SAVE_ERROR_BAD_CHECKSUM,
                    "%s: field header_checksum is 0x%08x but the header and "
                    "configuration sum to 0x%08x: the header is damaged",
                    name, get_u32(d + 60), crc);
        return FALSE;
    }
    if (get_u32(d + 56) != 0) {
        g_set_error(error, QMP_SAVE_ERROR, QMP_SAVE_ERROR_BAD_FIELD,
                    "%s: field reserved is %u, must be 0 in a version 2 header",
                    name, get_u32(d + 56));
        return FALSE;
    }
    if (img->alignment < 512 || img->alignment > (1u << 20) ||
        (img->alignment & (img->alignment - 1)) != 0) {
        g_set_error(error, QMP_SAVE_ERROR, QMP_SAVE_ERROR_BAD_FIELD,
                    "%s: field alignment (%u) is not a power of two from 512 "
                    "to 1 MiB", name, img->alignment);
        return FALSE;
    }
    if (img->stream_offset < QMP_SAVE_V2_FIXED + (guint64)img->config_length ||
        img->stream_offset % img->alignment != 0) {
        g_set_error(error, QMP_SAVE_ERROR, QMP_SAVE_ERROR_BAD_FIELD,
                    "%s: field stream_offset (%" G_GUINT64_FORMAT ") overlaps "
                    "the configuration or is not a multiple of the alignment "
                    "(%u)", name, img->stream_offset, img->alignment);
        return FALSE;
    }
    if (img->stream_format != QMP_SAVE_STREAM_QEMU_MIGRATION) {
        g_set_error(error, QMP_SAVE_ERROR, QMP_SAVE_ERROR_BAD_FIELD,
                    "%s: field stream_format (%u) is not a format this "
                    "version knows (1: QEMU migration stream)",
                    name, img->stream_format);
        return FALSE;
    }
    if (img->compression != QMP_SAVE_COMPRESSION_NONE) {
        g_set_error(error, QMP_SAVE_ERROR, QMP_SAVE_ERROR_BAD_FIELD,
                    "%s: field compression (%u) is not a compression this "
                    "version knows (0: none)", name, img->compression);
        return FALSE;
    }
    if (img->stream_length == 0) {
        g_set_error(error, QMP_SAVE_ERROR, QMP_SAVE_ERROR_BAD_FIELD,
                    "%s: field stream_length is 0: the save never completed",
                    name);
        return FALSE;
    }
    if (img->stream_offset > file_size ||
        img->stream_length > file_size - img->stream_offset) {
        g_set_error(error, QMP_SAVE_ERROR, QMP_SAVE_ERROR_TRUNCATED,
                    "%s: truncated stream: the file ends at byte %"
                    G_GUINT64_FORMAT " but field stream_offset + stream_length "
                    "says the stream ends at byte %" G_GUINT64_FORMAT,
                    name, file_size,
                    img->stream_offset + MIN(img->stream_length,
                                             G_MAXUINT64 - img->stream_offset));
        return FALSE;
    }
    img->config = g_strndup((const char *)d + QMP_SAVE_V2_FIXED,
                            img->config_length);
    return TRUE;
}

QmpSaveImage *
qmp_save_image_parse(const guint8 *data, gsize len, guint64 file_size,
                     const char *name, GError **error)
{
    g_autoptr(QmpSaveImage) img = g_new0(QmpSaveImage, 1);
    gsize have = MIN(len, file_size);

    g_return_val_if_fail(data != NULL || len == 0, NULL);
    img->name = g_strdup(name ? name : "(image)");
    if (have < QMP_SAVE_MAGIC_LEN || memcmp(data, QMP_SAVE_MAGIC, QMP_SAVE_MAGIC_LEN) != 0) {
        if (have < QMP_SAVE_MAGIC_LEN &&
            (have == 0 || memcmp(data, QMP_SAVE_MAGIC, have) == 0)) {
            g_set_error(error, QMP_SAVE_ERROR, QMP_SAVE_ERROR_TRUNCATED,
                        "%s: truncated header: the file ends at byte %"
                        G_GSIZE_FORMAT ", inside field magic", img->name, have);
            return NULL;
        }
        g_set_error(error, QMP_SAVE_ERROR, QMP_SAVE_ERROR_BAD_MAGIC,
                    "%s: field magic does not match: not a qmpkit save image",
                    img->name);
        return NULL;
    }
    if (file_size < 20) {
        g_set_error(error, QMP_SAVE_ERROR, QMP_SAVE_ERROR_TRUNCATED,
                    "%s: truncated header: the file ends at byte %"
                    G_GUINT64_FORMAT ", inside field version", img->name,
                    file_size);
        return NULL;
    }
    if (len < 20) {
        g_set_error(error, QMP_SAVE_ERROR, QMP_SAVE_ERROR_FAILED,
                    "%s: only %" G_GSIZE_FORMAT " bytes of the header were read",
                    img->name, len);
        return NULL;
    }
    img->version = get_u32(data + 16);
    if (img->version > QMP_SAVE_VERSION_CURRENT) {
        g_set_error(error, QMP_SAVE_ERROR, QMP_SAVE_ERROR_NEWER_VERSION,
                    "%s: field version is %u: written by a newer version of "
                    "qmpkit (this one reads versions %d to %d)",
                    img->name, img->version, QMP_SAVE_VERSION_MIN,
                    QMP_SAVE_VERSION_CURRENT);
        return NULL;
    }
    if (img->version < QMP_SAVE_VERSION_MIN) {
        g_set_error(error, QMP_SAVE_ERROR, QMP_SAVE_ERROR_BAD_FIELD,
                    "%s: field version is %u, which no version of qmpkit writes",
                    img->name, img->version);
        return NULL;
    }
    gboolean ok = img->version == 1 ? parse_v1(img, data, len, file_size, error)
                                    : parse_v2(img, data, len, file_size, error);
    if (!ok)
        return NULL;
    guint32 known = QMP_SAVE_FLAG_RUNNING | QMP_SAVE_FLAG_LIVE;
    if (img->flags & ~known) {
        g_set_error(error, QMP_SAVE_ERROR, QMP_SAVE_ERROR_BAD_FIELD,
                    "%s: field flags (0x%x) has bits version %u does not define "
                    "(0x%x)", img->name, img->flags, img->version,
                    img->flags & ~known);
        return NULL;
    }
    if (!qmp_save_config_parse(img->config, img->config_length, img->name,
                               &img->qemu_version, &img->machine,
                               &img->description, error))
        return NULL;
    return g_steal_pointer(&img);
}

QmpSaveImage *
qmp_save_image_open(const char *path, GError **error)
{
    int fd = g_open(path, O_RDONLY | O_CLOEXEC, 0);
    struct stat st;

    g_return_val_if_fail(path != NULL, NULL);
    if (fd < 0) {
        int e = errno;
        g_set_error(error, QMP_SAVE_ERROR, QMP_SAVE_ERROR_FAILED,
                    "%s: cannot open: %s", path, g_strerror(e));
        return NULL;
    }
    if (fstat(fd, &st) < 0) {
        int e = errno;
        g_set_error(error, QMP_SAVE_ERROR, QMP_SAVE_ERROR_FAILED,
                    "%s: cannot stat: %s", path, g_strerror(e));
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        g_set_error(error, QMP_SAVE_ERROR, QMP_SAVE_ERROR_FAILED,
                    "%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    /* Read the fixed part first, then as much configuration as it claims
     * (bounded): never the stream. */
    gsize want = MIN((guint64)st.st_size, (guint64)QMP_SAVE_V2_FIXED);
    g_autofree guint8 *buf = g_malloc(QMP_SAVE_V2_FIXED);
    gsize got = 0;
    while (got < want) {
        ssize_t n = pread(fd, buf + got, want - got, got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += n;
    }
    if (got >= 28 && memcmp(buf, QMP_SAVE_MAGIC, QMP_SAVE_MAGIC_LEN) == 0) {
        guint32 version = get_u32(buf + 16);
        guint32 fixed = version == 1 ? QMP_SAVE_V1_FIXED : QMP_SAVE_V2_FIXED;
        guint64 cl = get_u32(buf + 24);
        guint64 total = fixed + cl;
        if ((version == 1 || version == 2) && cl <= QMP_SAVE_CONFIG_MAX &&
            total <= (guint64)st.st_size) {
            buf = g_realloc(buf, total);
            while (got < total) {
                ssize_t n = pread(fd, buf + got, total - got, got);
                if (n < 0 && errno == EINTR)
                    continue;
                if (n <= 0)
                    break;
                got += n;
            }
        }
    }
    close(fd);
    return qmp_save_image_parse(buf, got, st.st_size, path, error);
}

void
qmp_save_image_free(QmpSaveImage *img)
{
    if (img == NULL)
        return;
    g_free(img->name);
    g_free(img->config);
    g_free(img->qemu_version);
    g_free(img->machine);
    g_free(img->description);
    g_free(img);
}

const char *
qmp_save_image_get_path(const QmpSaveImage *img)
{
    return img->name;
}

guint
qmp_save_image_get_version(const QmpSaveImage *img)
{
    return img->version;
}

guint32
qmp_save_image_get_flags(const QmpSaveImage *img)
{
    return img->flags;
}

QmpSaveStreamFormat
qmp_save_image_get_stream_format(const QmpSaveImage *img)
{
    return (QmpSaveStreamFormat)img->stream_format;
}

QmpSaveCompression
qmp_save_image_get_compression(const QmpSaveImage *img)
{
    return (QmpSaveCompression)img->compression;
}

guint64
qmp_save_image_get_stream_offset(const QmpSaveImage *img)
{
    return img->stream_offset;
}

guint64
qmp_save_image_get_stream_length(const QmpSaveImage *img)
{
    return img->stream_length;
}

const char *
qmp_save_image_get_config(const QmpSaveImage *img)
{
    return img->config;
}

const char *
qmp_save_image_get_qemu_version(const QmpSaveImage *img)
{
    return img->qemu_version;
}

const char *
qmp_save_image_get_machine(const QmpSaveImage *img)
{
    return img->machine;
}

const char *
qmp_save_image_get_description(const QmpSaveImage *img)
{
    return img->description;
}
