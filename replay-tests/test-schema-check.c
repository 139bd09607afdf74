/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-schema-check: libqmp/qmp-schema-check.h over a small hand-written
 * SchemaInfo list (every meta-type), over the project's own introspection,
 * and (when ../shared is there) over QEMU 9.1's introspection generated at
 * build time (path in argv[1]).
 */
#include <string.h>
#include "qmp-schema-check.h"
#include "qmp-introspect.h"

static const char mini[] =
    "["
    "{\"name\": \"do-it\", \"meta-type\": \"command\", \"arg-type\": \"0\", \"ret-type\": \"1\"},"
    "{\"name\": \"noargs\", \"meta-type\": \"command\", \"arg-type\": \"1\", \"ret-type\": \"1\"},"
    "{\"name\": \"EV\", \"meta-type\": \"event\", \"arg-type\": \"1\"},"
    "{\"name\": \"0\", \"meta-type\": \"object\", \"members\": ["
    "  {\"name\": \"count\", \"type\": \"int\"},"
    "  {\"name\": \"ratio\", \"type\": \"number\", \"default\": null},"
    "  {\"name\": \"mode\", \"type\": \"2\", \"default\": null},"
    "  {\"name\": \"list\", \"type\": \"[3]\", \"default\": null},"
    "  {\"name\": \"ref\", \"type\": \"4\", \"default\": null},"
    "  {\"name\": \"blob\", \"type\": \"any\", \"default\": null},"
    "  {\"name\": \"gone\", \"type\": \"null\", \"default\": null}]},"
    "{\"name\": \"1\", \"meta-type\": \"object\", \"members\": []},"
    "{\"name\": \"2\", \"meta-type\": \"enum\", \"values\": [\"fast\", \"slow\"]},"
    "{\"name\": \"[3]\", \"meta-type\": \"array\", \"element-type\": \"3\"},"
    /* a flat union: tag "kind", variant members by case */
    "{\"name\": \"3\", \"meta-type\": \"object\", \"tag\": \"kind\", \"members\": ["
    "  {\"name\": \"kind\", \"type\": \"5\"}, {\"name\": \"id\", \"type\": \"str\", \"default\": null}],"
    "  \"variants\": [{\"case\": \"file\", \"type\": \"6\"}, {\"case\": \"net\", \"type\": \"7\"}]},"
    "{\"name\": \"4\", \"meta-type\": \"alternate\", \"members\": [{\"type\": \"3\"}, {\"type\": \"str\"}]},"
    "{\"name\": \"5\", \"meta-type\": \"enum\", \"values\": [\"file\", \"net\", \"none\"]},"
    "{\"name\": \"6\", \"meta-type\": \"object\", \"members\": [{\"name\": \"path\", \"type\": \"str\"}]},"
    "{\"name\": \"7\", \"meta-type\": \"object\", \"members\": [{\"name\": \"port\", \"type\": \"int\"}]},"
    "{\"name\": \"int\", \"meta-type\": \"builtin\", \"json-type\": \"int\"},"
    "{\"name\": \"number\", \"meta-type\": \"builtin\", \"json-type\": \"number\"},"
    "{\"name\": \"str\", \"meta-type\": \"builtin\", \"json-type\": \"string\"},"
    "{\"name\": \"any\", \"meta-type\": \"builtin\", \"json-type\": \"value\"},"
    "{\"name\": \"null\", \"meta-type\": \"builtin\", \"json-type\": \"null\"}"
    "]";

static QmpSchemaCheck *mini_check(void)
{
    GError *error = NULL;
    QmpSchemaCheck *c = qmp_schema_check_new_from_text(mini, strlen(mini), &error);
    g_assert_no_error(error);
    return c;
}

/* Check "command args" and compare the outcome. */
static void expect(QmpSchemaCheck *c, const char *command, const char *args,
                   int code /* -1: ok */, const char *message)
{
    GError *error = NULL;
    g_autoptr(QmpJsonDoc) doc = NULL;
    if (args) {
        doc = qmp_json_parse(args, strlen(args), 0, &error);
        g_assert_no_error(error);
    }
    gboolean ok = qmp_schema_check_command(c, command, doc ? qmp_json_doc_root(doc) : NULL, &error);
    if (code < 0) {
        g_assert_no_error(error);
        g_assert_true(ok);
        return;
    }
    g_assert_false(ok);
    g_assert_error(error, QMP_ERROR, code);
    g_assert_cmpstr(error->message, ==, message);
    g_clear_error(&error);
}

static void test_mini(void)
{
    g_autoptr(QmpSchemaCheck) c = mini_check();
    g_assert_true(qmp_schema_check_has_command(c, "do-it"));
    g_assert_false(qmp_schema_check_has_command(c, "EV"));
    g_assert_true(qmp_schema_check_has_event(c, "EV"));
    g_assert_true(qmp_schema_check_has_argument(c, "do-it", "ratio"));
    g_assert_false(qmp_schema_check_has_argument(c, "do-it", "path"));
    g_assert_false(qmp_schema_check_has_argument(c, "nope", "x"));
    g_assert_nonnull(qmp_schema_check_lookup(c, "[3]"));

    expect(c, "noargs", NULL, -1, NULL);
    expect(c, "noargs", "{}", -1, NULL);
    expect(c, "noargs", "{\"x\": 1}", QMP_ERROR_UNSUPPORTED, "command 'noargs' has no argument 'x'");
    expect(c, "foo", NULL, QMP_ERROR_UNSUPPORTED, "command 'foo' not found");
    expect(c, "do-it", NULL, QMP_ERROR_INVALID, "command 'do-it': missing argument 'count'");
    expect(c, "do-it", "{\"count\": 1, \"ratio\": 2, \"mode\": \"slow\", \"blob\": [1, {}], \"gone\": null}",
           -1, NULL);
    expect(c, "do-it", "{\"count\": 1, \"ratio\": 0.5}", -1, NULL);
    expect(c, "do-it", "{\"count\": 1.5}", QMP_ERROR_INVALID,
           "do-it: arguments.count: expected int, got number");
    expect(c, "do-it", "{\"count\": 1, \"mode\": \"medium\"}", QMP_ERROR_INVALID,
           "do-it: arguments.mode: 'medium' is not a value of the enum");
    expect(c, "do-it", "{\"count\": 1, \"mode\": 3}", QMP_ERROR_INVALID,
           "do-it: arguments.mode: expected string, got int");
    expect(c, "do-it", "{\"count\": 1, \"gone\": 0}", QMP_ERROR_INVALID,
           "do-it: arguments.gone: expected null, got int");
    /* flat union in an array */
    expect(c, "do-it", "{\"count\": 1, \"list\": [{\"kind\": \"file\", \"path\": \"/x\"},"
           " {\"kind\": \"net\", \"port\": 80, \"id\": \"n\"}, {\"kind\": \"none\"}]}", -1, NULL);
    expect(c, "do-it", "{\"count\": 1, \"list\": [{\"kind\": \"file\", \"path\": \"/x\"},"
           " {\"kind\": \"net\", \"path\": \"/y\"}]}", QMP_ERROR_UNSUPPORTED,
           "do-it: arguments.list[1]: no member 'path'");
    expect(c, "do-it", "{\"count\": 1, \"list\": [{\"kind\": \"net\"}]}", QMP_ERROR_INVALID,
           "do-it: arguments.list[0]: missing member 'port'");
    expect(c, "do-it", "{\"count\": 1, \"list\": [{\"path\": \"/x\"}]}", QMP_ERROR_UNSUPPORTED,
           "do-it: arguments.list[0]: no member 'path'");
    expect(c, "do-it", "{\"count\": 1, \"list\": {}}", QMP_ERROR_INVALID,
           "do-it: arguments.list: expected array, got object");
    /* alternate: object branch or string branch */
    expect(c, "do-it", "{\"count\": 1, \"ref\": \"node0\"}", -1, NULL);
    expect(c, "do-it", "{\"count\": 1, \"ref\": {\"kind\": \"file\", \"path\": \"/x\"}}", -1, NULL);
    expect(c, "do-it", "{\"count\": 1, \"ref\": {\"kind\": \"file\"}}", QMP_ERROR_INVALID,
           "do-it: arguments.ref: missing member 'path'");
    expect(c, "do-it", "{\"count\": 1, \"ref\": 7}", QMP_ERROR_INVALID,
           "do-it: arguments.ref: expected object or string, got int");

    GError *error = NULL;
    g_autoptr(QmpJsonDoc) v = qmp_json_parse("[\"fast\", 1]", 11, 0, NULL);
    g_assert_false(qmp_schema_check_value(c, "[3]", qmp_json_doc_root(v), "x", &error));
    g_assert_cmpstr(error->message, ==, "x[0]: expected object, got string");
    g_clear_error(&error);
}

static void test_bad_list(void)
{
    GError *error = NULL;
    QmpSchemaCheck *c = qmp_schema_check_new_from_text("{}", 2, &error);
    g_assert_null(c);
    g_assert_error(error, QMP_ERROR, QMP_ERROR_INVALID);
    g_clear_error(&error);
    c = qmp_schema_check_new_from_text("[{\"name\": \"x\"}]", 15, &error);
    g_assert_null(c);
    g_assert_error(error, QMP_ERROR, QMP_ERROR_INVALID);
    g_clear_error(&error);
    /* a dangling type reference is reported when reached */
    static const char dangling[] =
        "[{\"name\": \"c\", \"meta-type\": \"command\", \"arg-type\": \"9\"}]";
    c = qmp_schema_check_new_from_text(dangling, strlen(dangling), &error);
    g_assert_no_error(error);
    g_assert_false(qmp_schema_check_command(c, "c", NULL, &error));
    g_assert_cmpstr(error->message, ==, "c: arguments: type '9' is not in the schema");
    g_clear_error(&error);
    qmp_schema_check_free(c);
}

static void test_project_schema(void)
{
    GError *error = NULL;
    g_autoptr(QmpSchemaCheck) c = qmp_schema_check_new_from_text(qmp_introspect_json,
                                                                 qmp_introspect_json_len, &error);
    g_assert_no_error(error);
    expect(c, "qmp_capabilities", "{\"enable\": [\"oob\"]}", -1, NULL);
    expect(c, "qmp_capabilities", "{\"enable\": [\"oops\"]}", QMP_ERROR_INVALID,
           "qmp_capabilities: arguments.enable[0]: 'oops' is not a value of the enum");
    expect(c, "query-status", NULL, -1, NULL);
}

static const char *qemu91_path;

static void test_qemu_91(void)
{
    GError *error = NULL;
    g_autofree char *text = NULL;
    gsize len;
    if (!qemu91_path || !g_file_get_contents(qemu91_path, &text, &len, NULL)) {
        g_test_skip("QEMU 9.1 introspection not built (no ../shared)");
        return;
    }
    g_autoptr(QmpSchemaCheck) c = qmp_schema_check_new_from_text(text, len, &error);
    g_assert_no_error(error);
    expect(c, "blockdev-add", "{\"driver\": \"qcow2\", \"node-name\": \"n\", "
           "\"file\": {\"driver\": \"file\", \"filename\": \"/x.qcow2\"}}", -1, NULL);
    expect(c, "blockdev-add", "{\"driver\": \"qcow2\", \"node-name\": \"n\", \"file\": \"proto\"}",
           -1, NULL);
    expect(c, "blockdev-add", "{\"driver\": \"raw\", \"filename\": \"/x\"}", QMP_ERROR_UNSUPPORTED,
           "command 'blockdev-add' has no argument 'filename'");
    expect(c, "migrate-set-capabilities", "{\"capabilities\": [{\"capability\": \"postcopy-ram\", "
           "\"state\": true}]}", -1, NULL);
    expect(c, "migrate-set-capabilities", "{\"capabilities\": [{\"capability\": \"warp-drive\", "
           "\"state\": true}]}", QMP_ERROR_INVALID,
           "migrate-set-capabilities: arguments.capabilities[0].capability: "
           "'warp-drive' is not a value of the enum");
    expect(c, "object-add", "{\"qom-type\": \"secret\", \"id\": \"s0\", \"data\": \"x\"}", -1, NULL);
    expect(c, "migrate", "{\"uri\": \"unix:/x\"}", -1, NULL);
    g_assert_true(qmp_schema_check_has_argument(c, "blockdev-add", "filename"));
    g_assert_true(qmp_schema_check_has_argument(c, "migrate", "channels"));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qemu91_path = argc > 1 ? argv[1] : NULL;
    g_test_add_func("/schema-check/mini", test_mini);
    g_test_add_func("/schema-check/bad-list", test_bad_list);
    g_test_add_func("/schema-check/project", test_project_schema);
    g_test_add_func("/schema-check/qemu-9.1", test_qemu_91);
    return g_test_run();
}
