/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of the save image header (no QEMU): the v2 writer, the v1 and
 * v2 reader, and one specific error per kind of damage, naming the file and
 * the field.
 */
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "save-private.h"
#include "save-test-util.h"

#define DESC "<domain type='qemu'><name>guest-1</name><memory unit='MiB'>512</memory></domain>"

static char *
config(void)
{
    g_autoptr(GError) error = NULL;
    char *c = qmp_save_config_build(DESC, "7.2.0", "Debian 1:7.2+dfsg-7", "pc-q35-7.2", &error);
    g_assert_no_error(error);
    return c;
}

/* A v2 image in memory: header + config + padding + stream_len bytes. */
static GByteArray *
v2_image(guint32 flags, gsize stream_len)
{
    g_autofree char *c = config();
    gsize len;
    g_autofree guint8 *hdr = qmp_save_header_encode_v2(flags, c, strlen(c), stream_len, &len);
    GByteArray *a = g_byte_array_new();
    g_byte_array_append(a, hdr, len);
    for (gsize i = 0; i < stream_len; i++) {
        guint8 b = (guint8)(i * 7);
        g_byte_array_append(a, &b, 1);
    }
    return a;
}

static QmpSaveImage *
parse(GByteArray *a, GError **error)
{
    return qmp_save_image_parse(a->data, a->len, a->len, "/images/g.save", error);
}

static void
assert_error(GByteArray *a, int code, const char *needle)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QmpSaveImage) img = parse(a, &error);

    g_assert_null(img);
    g_assert_error(error, QMP_SAVE_ERROR, code);
    g_assert_true(g_str_has_prefix(error->message, "/images/g.save: "));
    if (strstr(error->message, needle) == NULL)
        g_error("\"%s\" lacks \"%s\"", error->message, needle);
}

static void
test_v2_round_trip(void)
{
    g_autoptr(GByteArray) a = v2_image(QMP_SAVE_FLAG_RUNNING, 5000);
    g_autoptr(GError) error = NULL;
    g_autoptr(QmpSaveImage) img = parse(a, &error);

    g_assert_no_error(error);
    g_assert_cmpuint(qmp_save_image_get_version(img), ==, 2);
    g_assert_cmpuint(qmp_save_image_get_flags(img), ==, QMP_SAVE_FLAG_RUNNING);
    g_assert_cmpuint(qmp_save_image_get_stream_offset(img), ==, 4096);
    g_assert_cmpuint(qmp_save_image_get_stream_offset(img) % QMP_SAVE_ALIGNMENT, ==, 0);
    g_assert_cmpuint(qmp_save_image_get_stream_length(img), ==, 5000);
    g_assert_cmpint(qmp_save_image_get_stream_format(img), ==, QMP_SAVE_STREAM_QEMU_MIGRATION);
    g_assert_cmpint(qmp_save_image_get_compression(img), ==, QMP_SAVE_COMPRESSION_NONE);
    g_assert_cmpstr(qmp_save_image_get_machine(img), ==, "pc-q35-7.2");
    g_assert_cmpstr(qmp_save_image_get_qemu_version(img), ==, "7.2.0");
    g_assert_nonnull(strstr(qmp_save_image_get_description(img), "<name>guest-1</name>"));
    g_assert_nonnull(strstr(qmp_save_image_get_config(img), "<qmpkit-save>"));
    g_assert_cmpstr(qmp_save_image_get_path(img), ==, "/images/g.save");
    /* Fixed bytes of the layout (docs/save-format.md). */
    g_assert_cmpmem(a->data, 16, QMP_SAVE_MAGIC, 16);
    g_assert_cmpuint(a->data[16], ==, 2);
    g_assert_cmpuint(a->data[28] | a->data[29] << 8, ==, 4096);
}

static void
test_v1_read(void)
{
    g_autofree char *c = config();
    g_autoptr(GByteArray) a = save_test_v1_image(QMP_SAVE_FLAG_RUNNING, c, 777);
    g_autoptr(GError) error = NULL;
    g_autoptr(QmpSaveImage) img = parse(a, &error);

    g_assert_no_error(error);
    g_assert_cmpuint(qmp_save_image_get_version(img), ==, 1);
    g_assert_cmpuint(qmp_save_image_get_flags(img), ==, QMP_SAVE_FLAG_RUNNING);
    g_assert_cmpuint(qmp_save_image_get_stream_offset(img), ==, 4096);
    g_assert_cmpuint(qmp_save_image_get_stream_length(img), ==, 777);
    g_assert_cmpstr(qmp_save_image_get_machine(img), ==, "pc-q35-7.2");
}

static void
test_bad_magic(void)
{
    g_autoptr(GByteArray) a = v2_image(0, 100);
    a->data[3] ^= 0x20;
    assert_error(a, QMP_SAVE_ERROR_BAD_MAGIC, "field magic");
    /* Not ours at all, and empty. */
    g_autoptr(GByteArray) b = g_byte_array_new();
    g_byte_array_append(b, (const guint8 *)"QEVM\0\0\0\3", 8);
    assert_error(b, QMP_SAVE_ERROR_BAD_MAGIC, "not a qmpkit save image");
    g_byte_array_set_size(b, 0);
    assert_error(b, QMP_SAVE_ERROR_TRUNCATED, "field magic");
}

static void
test_cut_in_header(void)
{
    static const struct { guint at; const char *field; } cuts[] = {
        { 10, "field magic" }, { 18, "field version" }, { 22, "field flags" },
        { 26, "field config_length" }, { 30, "field alignment" },
        { 35, "field stream_offset" }, { 47, "field stream_length" },
        { 50, "field stream_format" }, { 62, "field header_checksum" },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cuts); i++) {
        g_autoptr(GByteArray) a = v2_image(0, 100);
        g_byte_array_set_size(a, cuts[i].at);
        assert_error(a, QMP_SAVE_ERROR_TRUNCATED, cuts[i].field);
    }
    /* v1: cut inside its 32-byte header, and before its stream. */
    g_autofree char *c = config();
    g_autoptr(GByteArray) v1 = save_test_v1_image(0, c, 100);
    g_byte_array_set_size(v1, 27);
    assert_error(v1, QMP_SAVE_ERROR_TRUNCATED, "field config_length of the version 1 header");
    g_autoptr(GByteArray) v1b = save_test_v1_image(0, c, 100);
    g_byte_array_set_size(v1b, 4096);
    assert_error(v1b, QMP_SAVE_ERROR_TRUNCATED, "ends before the stream");
}

static void
test_cut_in_stream(void)
{
    g_autoptr(GByteArray) a = v2_image(0, 10000);
    g_byte_array_set_size(a, a->len - 1);
    assert_error(a, QMP_SAVE_ERROR_TRUNCATED, "truncated stream");
}

static void
test_bad_config_length(void)
{
    g_autoptr(GByteArray) a = v2_image(0, 100);
    a->data[26] = 0x7f; /* config_length += 0x7f0000 */
    assert_error(a, QMP_SAVE_ERROR_BAD_FIELD, "field config_length");
    assert_error(a, QMP_SAVE_ERROR_BAD_FIELD, "past the end of the file");
    g_autofree char *c = config();
    g_autoptr(GByteArray) v1 = save_test_v1_image(0, c, 100);
    v1->data[27] = 0xff;
    assert_error(v1, QMP_SAVE_ERROR_BAD_FIELD, "field config_length");
}

static void
test_newer_version(void)
{
    g_autoptr(GByteArray) a = v2_image(0, 100);
    a->data[16] = 99;
    assert_error(a, QMP_SAVE_ERROR_NEWER_VERSION, "written by a newer version");
    assert_error(a, QMP_SAVE_ERROR_NEWER_VERSION, "field version is 99");
    a->data[16] = 3;
    assert_error(a, QMP_SAVE_ERROR_NEWER_VERSION, "written by a newer version");
    /* Only the magic and the version are read from a newer file: its other
     * fields may mean anything, e.g. a header longer than the file. */
    g_byte_array_set_size(a, 20);
    assert_error(a, QMP_SAVE_ERROR_NEWER_VERSION, "written by a newer version");
    a->data[16] = 0;
    assert_error(a, QMP_SAVE_ERROR_BAD_FIELD, "field version is 0");
}

static void
test_checksum(void)
{
    g_autoptr(GByteArray) a = v2_image(0, 100);
    a->data[QMP_SAVE_V2_FIXED + 20] ^= 1; /* inside the configuration */
    assert_error(a, QMP_SAVE_ERROR_BAD_CHECKSUM, "field header_checksum");
    g_autoptr(GByteArray) b = v2_image(0, 100);
    b->data[21] ^= 0x40; /* flags */
    assert_error(b, QMP_SAVE_ERROR_BAD_CHECKSUM, "field header_checksum");
    /* CRC-32 check value of "123456789". */
    g_assert_cmphex(qmp_save_crc32(0, (const guint8 *)"123456789", 9), ==, 0xCBF43926);
}

static void
test_bad_fields(void)
{
    /* Valid checksum over bad values: the fields themselves are refused. */
    g_autofree char *c = config();
    gsize len;
    g_autofree guint8 *h = qmp_save_header_encode_v2(0x100, c, strlen(c), 10, &len);
    g_autoptr(GByteArray) a = g_byte_array_new();
    g_byte_array_append(a, h, len);
    g_byte_array_set_size(a, len + 10);
    assert_error(a, QMP_SAVE_ERROR_BAD_FIELD, "field flags");

    g_autofree guint8 *h0 = qmp_save_header_encode_v2(0, c, strlen(c), 0, &len);
    g_autoptr(GByteArray) b = g_byte_array_new();
    g_byte_array_append(b, h0, len);
    g_byte_array_set_size(b, len + 10);
    assert_error(b, QMP_SAVE_ERROR_BAD_FIELD, "field stream_length is 0");

    g_autoptr(GByteArray) v1 = save_test_v1_image(0, "<qmpkit-save><oops", 100);
    assert_error(v1, QMP_SAVE_ERROR_BAD_CONFIG, "not a well-formed XML");
    g_autoptr(GByteArray) v1b = save_test_v1_image(0, "<other/>", 100);
    assert_error(v1b, QMP_SAVE_ERROR_BAD_CONFIG, "<qmpkit-save>");
    g_autoptr(GByteArray) v1c = save_test_v1_image(0, "<qmpkit-save/>", 100);
    assert_error(v1c, QMP_SAVE_ERROR_BAD_CONFIG, "no <qemu");

    g_autoptr(GError) error = NULL;
    g_assert_null(qmp_save_config_build("<domain>", "7.2.0", NULL, "q35", &error));
    g_assert_error(error, QMP_SAVE_ERROR, QMP_SAVE_ERROR_BAD_CONFIG);
}

static void
test_open_file(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_dir_make_tmp("qmpkit-save-unit-XXXXXX", &error);
    g_autofree char *path = g_build_filename(dir, "g.save", NULL);
    g_autoptr(GByteArray) a = v2_image(QMP_SAVE_FLAG_LIVE | QMP_SAVE_FLAG_RUNNING, 3000);
    guint before = save_test_count_fds();

    g_assert_true(g_file_set_contents(path, (const char *)a->data, a->len, &error));
    g_autoptr(QmpSaveImage) img = qmp_save_image_open(path, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(qmp_save_image_get_stream_length(img), ==, 3000);
    g_assert_cmpuint(qmp_save_image_get_flags(img), ==, QMP_SAVE_FLAG_LIVE | QMP_SAVE_FLAG_RUNNING);

    /* Cut in the stream, on disk: the error names the file. */
    g_assert_true(g_file_set_contents(path, (const char *)a->data, a->len - 5, &error));
    g_assert_null(qmp_save_image_open(path, &error));
    g_assert_error(error, QMP_SAVE_ERROR, QMP_SAVE_ERROR_TRUNCATED);
    g_assert_true(g_str_has_prefix(error->message, path));
    g_clear_error(&error);

    /* A config_length the file cannot hold is refused without reading it. */
    a->data[27] = 0x40;
    g_assert_true(g_file_set_contents(path, (const char *)a->data, a->len, &error));
    g_assert_null(qmp_save_image_open(path, &error));
    g_assert_error(error, QMP_SAVE_ERROR, QMP_SAVE_ERROR_BAD_FIELD);
    g_clear_error(&error);

    g_unlink(path);
    g_assert_null(qmp_save_image_open(path, &error));
    g_assert_error(error, QMP_SAVE_ERROR, QMP_SAVE_ERROR_FAILED);
    g_assert_true(g_str_has_prefix(error->message, path));
    g_clear_error(&error);
    g_assert_null(qmp_save_image_open(dir, &error));
    g_assert_error(error, QMP_SAVE_ERROR, QMP_SAVE_ERROR_FAILED);
    g_assert_cmpuint(save_test_count_fds(), ==, before);
    g_rmdir(dir);
}

/* The fuzz seeds were written by a Python script from the documented
 * layout (CRC by zlib.crc32): the good ones must load, the bad ones fail. */
static void
test_fuzz_seeds(void)
{
    static const struct { const char *name; int code; } seeds[] = {
        { "v2-running", -1 }, { "v2-live-no-description", -1 },
        { "v1-running", -1 }, { "v1-paused", -1 },
        { "v2-cut-in-header", QMP_SAVE_ERROR_TRUNCATED },
        { "v2-cut-in-stream", QMP_SAVE_ERROR_TRUNCATED },
        { "v2-version-99", QMP_SAVE_ERROR_NEWER_VERSION },
        { "v2-stream-length-0", QMP_SAVE_ERROR_BAD_FIELD },
        { "v2-bad-config", QMP_SAVE_ERROR_BAD_CONFIG },
        { "bad-magic", QMP_SAVE_ERROR_BAD_MAGIC },
        { "magic-only", QMP_SAVE_ERROR_TRUNCATED },
    };
    const char *src = g_getenv("QMPKIT_SOURCE_DIR");

    if (src == NULL) {
        g_test_skip("QMPKIT_SOURCE_DIR is not set");
        return;
    }
    for (gsize i = 0; i < G_N_ELEMENTS(seeds); i++) {
        g_autofree char *path = g_build_filename(src, "fuzz", "corpus", "save-header",
                                                 seeds[i].name, NULL);
        g_autoptr(GError) error = NULL;
        g_autoptr(QmpSaveImage) img = qmp_save_image_open(path, &error);
        if (seeds[i].code < 0) {
            g_assert_no_error(error);
            g_assert_nonnull(img);
        } else {
            g_assert_error(error, QMP_SAVE_ERROR, seeds[i].code);
        }
    }
}

static int destroyed;

static void
count_destroy(gpointer p)
{
    g_assert_cmpstr(p, ==, "data");
    destroyed++;
}

static void
test_options(void)
{
    QmpSaveOptions *o = qmp_save_options_new();
    qmp_save_options_set_description(o, DESC);
    qmp_save_options_set_progress(o, NULL, (gpointer) "data", count_destroy);
    QmpSaveOptions *c = qmp_save_options_copy(o);
    qmp_save_options_free(o);
    g_assert_cmpint(destroyed, ==, 0);
    g_assert_cmpstr(c->description, ==, DESC);
    g_assert_true(c->check_machine);
    qmp_save_options_free(c);
    g_assert_cmpint(destroyed, ==, 1);
    qmp_save_options_free(NULL);
    qmp_save_image_free(NULL);

    g_autofree char *m = qmp_save_machine_from_qom("pc-q35-7.2-machine");
    g_assert_cmpstr(m, ==, "pc-q35-7.2");
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/save-header/v2-round-trip", test_v2_round_trip);
    g_test_add_func("/save-header/v1-read", test_v1_read);
    g_test_add_func("/save-header/bad-magic", test_bad_magic);
    g_test_add_func("/save-header/cut-in-header", test_cut_in_header);
    g_test_add_func("/save-header/cut-in-stream", test_cut_in_stream);
    g_test_add_func("/save-header/bad-config-length", test_bad_config_length);
    g_test_add_func("/save-header/newer-version", test_newer_version);
    g_test_add_func("/save-header/checksum", test_checksum);
    g_test_add_func("/save-header/bad-fields", test_bad_fields);
    g_test_add_func("/save-header/open-file", test_open_file);
    g_test_add_func("/save-header/options", test_options);
    g_test_add_func("/save-header/fuzz-seeds", test_fuzz_seeds);
    return g_test_run();
}
