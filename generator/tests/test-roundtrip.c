/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Round trips through the types and codecs generated from QEMU 7.2's full
 * schema: values built here survive encode + decode unchanged, and replies
 * recorded from QEMU 7.2 decode strictly (no unknown member, no unknown enum
 * value) and re-encode to the same JSON.
 */
#include <string.h>
#include <glib.h>
#include <yajl/yajl_gen.h>

#include "qmp-types.h"
#include "qmp-codecs.h"
#include "qmp-error.h"

static char *
encode_to_string(const QmpTypeInfo *type, gconstpointer value)
{
    yajl_gen gen = yajl_gen_alloc(NULL);
    g_autoptr(GError) error = NULL;
    const unsigned char *buf;
    size_t len;
    char *out;

    g_assert_true(qmp_value_encode(type, value, gen, &error));
    g_assert_no_error(error);
    g_assert_cmpint(yajl_gen_get_buf(gen, &buf, &len), ==, yajl_gen_status_ok);
    out = g_strndup((const char *)buf, len);
    yajl_gen_free(gen);
    return out;
}

/* encode, parse, decode, compare; returns the JSON text for more checks */
static char *
round_trip(const QmpTypeInfo *type, gconstpointer value)
{
    char *text = encode_to_string(type, value);
    g_autoptr(GError) error = NULL;
    g_autoptr(QmpJsonDoc) doc = qmp_json_parse(text, strlen(text), 0, &error);
    gpointer back = NULL;

    g_assert_no_error(error);
    g_assert_true(qmp_value_decode(type, qmp_json_doc_root(doc),
                                   QMP_DECODE_STRICT, "", &back, &error));
    g_assert_no_error(error);
    g_assert_true(qmp_value_equal(type, value, back));
    /* a copy is equal too, and freeing both leaks nothing (valgrind) */
    gpointer copy = qmp_value_copy(type, back);
    g_assert_true(qmp_value_equal(type, value, copy));
    qmp_value_free(type, copy);
    qmp_value_free(type, back);
    return text;
}

static void
test_migration_info(void)
{
    g_autoptr(QmpMigrationInfo) info = g_new0(QmpMigrationInfo, 1);
    g_autofree char *text = NULL;

    info->has_status = TRUE;
    info->status = QMP_MIGRATION_STATUS_POSTCOPY_ACTIVE;
    info->ram = g_new0(QmpMigrationStats, 1);
    info->ram->transferred = G_MAXINT64;
    info->ram->mbps = 1234.5;
    info->ram->page_size = 4096;
    info->has_total_time = TRUE;
    info->total_time = -1;
    info->error_desc = g_strdup("a \"quoted\"\nline \xc3\xa9");
    info->has_socket_address = TRUE;
    info->n_socket_address = 2;
    info->socket_address = g_new0(QmpSocketAddress *, 2);
    info->socket_address[0] = g_new0(QmpSocketAddress, 1);
    info->socket_address[0]->type = QMP_SOCKET_ADDRESS_TYPE_INET;
    info->socket_address[0]->u.inet.host = g_strdup("127.0.0.1");
    info->socket_address[0]->u.inet.port = g_strdup("4444");
    info->socket_address[0]->u.inet.has_ipv4 = TRUE;
    info->socket_address[0]->u.inet.ipv4 = TRUE;
    info->socket_address[1] = g_new0(QmpSocketAddress, 1);
    info->socket_address[1]->type = QMP_SOCKET_ADDRESS_TYPE_UNIX;
    info->socket_address[1]->u.q_unix.path = g_strdup("/run/x.sock");
    text = round_trip(&qmp_migration_info_type_info, info);
    g_assert_nonnull(strstr(text, "\"status\":\"postcopy-active\""));
    g_assert_nonnull(strstr(text, "\"transferred\":9223372036854775807"));
    g_assert_nonnull(strstr(text, "\"type\":\"unix\""));
}

static void
test_blockdev_options(void)
{
    g_autoptr(QmpBlockdevOptions) opts = g_new0(QmpBlockdevOptions, 1);
    QmpBlockdevOptionsQcow2 *q;
    QmpBlockdevOptions *file;
    g_autofree char *text = NULL;

    opts->driver = QMP_BLOCKDEV_DRIVER_QCOW2;
    opts->node_name = g_strdup("disk0");
    opts->has_read_only = TRUE;
    opts->read_only = FALSE;
    q = &opts->u.qcow2;
    /* BlockdevRef alternate: an inline definition ... */
    q->file = g_new0(QmpBlockdevRef, 1);
    q->file->kind = QMP_BLOCKDEV_REF_KIND_DEFINITION;
    file = q->file->u.definition = g_new0(QmpBlockdevOptions, 1);
    file->driver = QMP_BLOCKDEV_DRIVER_FILE;
    file->u.file.filename = g_strdup("/var/lib/disk.qcow2");
    /* ... and BlockdevRefOrNull as a plain reference */
    q->backing = g_new0(QmpBlockdevRefOrNull, 1);
    q->backing->kind = QMP_BLOCKDEV_REF_OR_NULL_KIND_REFERENCE;
    q->backing->u.reference = g_strdup("base0");
    text = round_trip(&qmp_blockdev_options_type_info, opts);
    g_assert_nonnull(strstr(text, "\"driver\":\"qcow2\""));
    g_assert_nonnull(strstr(text, "\"backing\":\"base0\""));

    /* the null branch of the same alternate */
    g_free(q->backing->u.reference);
    q->backing->kind = QMP_BLOCKDEV_REF_OR_NULL_KIND_NULL;
    q->backing->u.null = TRUE;
    g_free(text);
    text = round_trip(&qmp_blockdev_options_type_info, opts);
    g_assert_nonnull(strstr(text, "\"backing\":null"));
}

static void
test_stats_value_list(void)
{
    /* an alternate whose branch is an array (StatsValue's 'list') */
    g_autoptr(QmpStatsValue) v = g_new0(QmpStatsValue, 1);
    g_autofree char *text = NULL;

    v->kind = QMP_STATS_VALUE_KIND_LIST;
    v->u.list.n = 3;
    v->u.list.data = g_new0(guint64, 3);
    v->u.list.data[0] = 1;
    v->u.list.data[2] = G_MAXUINT64;
    text = round_trip(&qmp_stats_value_type_info, v);
    g_assert_cmpstr(text, ==, "[1,0,18446744073709551615]");
}

static void
test_any_member(void)
{
    g_autoptr(QmpObjectPropertyInfo) p = g_new0(QmpObjectPropertyInfo, 1);
    g_autoptr(GError) error = NULL;
    const char *json = "{\"nested\":[1,2.5,\"x\",null,true]}";
    g_autofree char *text = NULL;

    p->name = g_strdup("prop");
    p->type = g_strdup("uint32");
    p->default_value = qmp_json_parse(json, strlen(json), 0, &error);
    g_assert_no_error(error);
    text = round_trip(&qmp_object_property_info_type_info, p);
    g_assert_nonnull(strstr(text, "\"default-value\":{\"nested\":[1,2.5,\"x\",null,true]}"));
}

static void
test_missing_member_error(void)
{
    const char *json = "{\"running\":true,\"singlestep\":false}";
    g_autoptr(GError) error = NULL;
    g_autoptr(QmpJsonDoc) doc = qmp_json_parse(json, strlen(json), 0, &error);
    QmpStatusInfo *info = NULL;

    g_assert_false(qmp_status_info_decode(qmp_json_doc_root(doc), 0, &info,
                                          &error));
    g_assert_error(error, QMP_ERROR, QMP_ERROR_DECODE);
    g_assert_nonnull(strstr(error->message, "status"));
    g_assert_null(info);
}

/* A recorded reply and the type its "return" holds. */
typedef struct {
    const char *command;
    const QmpTypeInfo *type;
    gboolean array;
} Reply;

static void
test_recorded_reply(gconstpointer data)
{
    const Reply *r = data;
    const char *dir = g_getenv("QMPKIT_REPLIES_DIR");
    g_autofree char *path = g_strdup_printf("%s/%s.json", dir, r->command);
    g_autofree char *text = NULL;
    gsize len;
    g_autoptr(GError) error = NULL;
    QmpValueInfo vi = { r->array ? QMP_KIND_ARRAY : QMP_KIND_OBJECT,
                        QMP_KIND_OBJECT, r->type };
    union { gpointer obj; gpointer *arr; } value = { NULL };
    gsize n = 0;

    g_assert_true(g_file_get_contents(path, &text, &len, &error));
    g_autoptr(QmpJsonDoc) doc = qmp_json_parse(text, len, 0, &error);
    g_assert_no_error(error);
    if (!qmp_value_decode_into(&vi, qmp_json_doc_root(doc), QMP_DECODE_STRICT,
                               "return", &value, &n, &error))
        g_error("%s: %s", r->command, error->message);
    if (r->array)
        g_assert_cmpuint(n, >, 0);

    /* encoding what we decoded gives back what QEMU sent */
    yajl_gen gen = yajl_gen_alloc(NULL);
    const unsigned char *buf;
    size_t blen;
    g_assert_true(qmp_value_encode_from(&vi, &value, n, gen, &error));
    g_assert_no_error(error);
    yajl_gen_get_buf(gen, &buf, &blen);
    g_autoptr(QmpJsonDoc) again = qmp_json_parse((const char *)buf, blen, 0,
                                                 &error);
    g_assert_no_error(error);
    g_assert_true(qmp_json_equal(qmp_json_doc_root(doc),
                                 qmp_json_doc_root(again)));
    yajl_gen_free(gen);
    qmp_value_clear(&vi, &value, n);
}

static const Reply replies[] = {
    { "query-qmp-schema", &qmp_schema_info_type_info, TRUE },
    { "query-version", &qmp_version_info_type_info, FALSE },
    { "query-status", &qmp_status_info_type_info, FALSE },
    { "query-commands", &qmp_command_info_type_info, TRUE },
    { "query-block", &qmp_block_info_type_info, TRUE },
    { "query-named-block-nodes", &qmp_block_device_info_type_info, TRUE },
    { "query-migrate", &qmp_migration_info_type_info, FALSE },
    { "query-migrate-capabilities", &qmp_migration_capability_status_type_info, TRUE },
    { "query-migrate-parameters", &qmp_migration_parameters_type_info, FALSE },
    { "query-cpus-fast", &qmp_cpu_info_fast_type_info, TRUE },
    { "query-machines", &qmp_machine_info_type_info, TRUE },
    { "query-target", &qmp_target_info_type_info, FALSE },
};

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/roundtrip-7.2/migration-info", test_migration_info);
    g_test_add_func("/roundtrip-7.2/blockdev-options", test_blockdev_options);
    g_test_add_func("/roundtrip-7.2/stats-value-list", test_stats_value_list);
    g_test_add_func("/roundtrip-7.2/any-member", test_any_member);
    g_test_add_func("/roundtrip-7.2/missing-member", test_missing_member_error);
    for (gsize i = 0; i < G_N_ELEMENTS(replies); i++) {
        g_autofree char *name = g_strdup_printf("/roundtrip-7.2/recorded/%s",
                                                replies[i].command);
        g_test_add_data_func(name, &replies[i], test_recorded_reply);
    }
    return g_test_run();
}
