/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-caps.c: the XML form, corrupt and foreign files, JSON output, and
 * the committed recording of a QEMU 7.2 probe (no QEMU needed). */
#include <string.h>
#include <glib/gstdio.h>

#include "caps-private.h"

static const char good_xml[] =
    "<?xml version=\"1.0\"?>\n"
    "<qmpcaps format=\"1\" key=\"k\">\n"
    "  <source>/usr/bin/qemu</source>\n"
    "  <version major=\"7\" minor=\"2\" micro=\"1\" package=\"pkg\"/>\n"
    "  <cap name=\"command.migrate\" state=\"present\"/>\n"
    "  <cap name=\"oob\" state=\"unknown\"/>\n"
    "  <cap name=\"migration.postcopy-preempt\" state=\"absent\"/>\n"
    "</qmpcaps>\n";

static void test_xml_roundtrip(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QmpCaps) a = qmp_caps_from_xml(good_xml, strlen(good_xml), &error);
    g_assert_no_error(error);
    g_assert_true(qmp_caps_has(a, "command.migrate"));
    g_assert_cmpint(qmp_caps_get(a, "oob"), ==, QMP_CAPS_UNKNOWN);
    g_assert_cmpint(qmp_caps_get(a, "migration.postcopy-preempt"), ==, QMP_CAPS_ABSENT);
    g_assert_cmpint(qmp_caps_get(a, "never.asked"), ==, QMP_CAPS_UNKNOWN);
    /* without a complete command list, a command not listed is unknown */
    g_assert_cmpint(qmp_caps_get(a, "command.nosuch"), ==, QMP_CAPS_UNKNOWN);
    int maj, min, mic;
    g_assert_true(qmp_caps_get_version(a, &maj, &min, &mic));
    g_assert_cmpint(maj * 10000 + min * 100 + mic, ==, 70201);
    g_assert_cmpstr(qmp_caps_get_package(a), ==, "pkg");
    g_assert_cmpstr(qmp_caps_get_source(a), ==, "/usr/bin/qemu");

    gsize len;
    g_autofree char *xml = qmp_caps_to_xml(a, &len);
    g_autoptr(QmpCaps) b = qmp_caps_from_xml(xml, len, &error);
    g_assert_no_error(error);
    g_autofree char *xml2 = qmp_caps_to_xml(b, NULL);
    g_assert_cmpstr(xml, ==, xml2);

    g_autofree char *json = qmp_caps_to_json(b);
    g_assert_nonnull(strstr(json, "\"command.migrate\": true"));
    g_assert_nonnull(strstr(json, "\"oob\": null"));
    g_assert_nonnull(strstr(json, "\"migration.postcopy-preempt\": false"));
    g_assert_nonnull(strstr(json, "\"version\": \"7.2.1\""));
}

static void test_complete_lists(void)
{
    g_autofree char *xml = g_strdup(good_xml);
    char *p = strstr(xml, "key=");
    g_autofree char *edited = g_strdup_printf("%.*scommands=\"complete\" %s", (int) (p - xml), xml, p);
    g_autoptr(GError) error = NULL;
    g_autoptr(QmpCaps) c = qmp_caps_from_xml(edited, strlen(edited), &error);
    g_assert_no_error(error);
    g_assert_cmpint(qmp_caps_get(c, "command.nosuch"), ==, QMP_CAPS_ABSENT);
    g_assert_cmpint(qmp_caps_get(c, "command.migrate"), ==, QMP_CAPS_PRESENT);
    g_assert_cmpint(qmp_caps_get(c, "migration.nosuch"), ==, QMP_CAPS_UNKNOWN);
    /* and it survives the round trip */
    g_autofree char *again = qmp_caps_to_xml(c, NULL);
    g_assert_nonnull(strstr(again, "commands=\"complete\""));
}

static void test_xml_rejected(void)
{
    const char *bad[] = {
        "",
        "not xml at all",
        "<qmpcaps format=\"1\"><cap name=\"x\" state=\"present\"/>", /* truncated */
        "<other format=\"1\"/>",                                      /* foreign root */
        "<qmpcaps format=\"2\"/>",                                    /* other format */
        "<qmpcaps/>",                                                 /* no format */
        "<qmpcaps format=\"1\"><cap name=\"x\" state=\"maybe\"/></qmpcaps>",
        "<qmpcaps format=\"1\"><cap state=\"present\"/></qmpcaps>",
        "<qmpcaps format=\"1\"><version major=\"x\" minor=\"1\" micro=\"1\"/></qmpcaps>",
        "<qmpcaps format=\"1\"><surprise/></qmpcaps>",
        "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><qmpcaps format=\"1\">"
        "<source>&e;</source><cap name=\"&e;\" state=\"present\"/></qmpcaps>",
    };
    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(QmpCaps) c = qmp_caps_from_xml(bad[i], strlen(bad[i]), &error);
        if (c && i == G_N_ELEMENTS(bad) - 1) {
            /* entities are not expanded: nothing from /etc/passwd */
            g_assert_null(strstr(qmp_caps_get_source(c) ?: "", "root"));
            continue;
        }
        g_assert_null(c);
        g_assert_error(error, QMP_ERROR, QMP_ERROR_DECODE);
    }
}

static void test_save_load(void)
{
    g_autofree char *dir = g_dir_make_tmp("qmp-caps-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "sub", "c.xml", NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(QmpCaps) a = qmp_caps_from_xml(good_xml, strlen(good_xml), &error);
    g_assert_true(qmp_caps_save(a, path, &error));
    g_assert_no_error(error);
    g_autoptr(QmpCaps) b = qmp_caps_load(path, &error);
    g_assert_no_error(error);
    g_assert_true(qmp_caps_has(b, "command.migrate"));
    g_assert_cmpint(g_unlink(path), ==, 0);
    g_autofree char *sub = g_path_get_dirname(path);
    g_rmdir(sub);
    g_rmdir(dir);
}

/* The probe of QEMU 7.2 recorded by test-caps-live (QMPKIT_CAPS_RERECORD=1). */
static void test_recorded_7_2(void)
{
    g_autofree char *path = g_build_filename(g_getenv("QMPKIT_SOURCE_DIR"), "caps", "tests",
                                             "data", "qemu-7.2-probe.jsonl", NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(QmpCaps) c = qmp_caps_probe_recording(path, &error);
    g_assert_no_error(error);
    int maj, min;
    g_assert_true(qmp_caps_get_version(c, &maj, &min, NULL));
    g_assert_cmpint(maj, ==, 7);
    g_assert_cmpint(min, ==, 2);
    const char *yes[] = {
        "migration.postcopy-ram", "migration.postcopy-preempt", "migration.multifd",
        "migration.events", "migration.pause-before-switchover", "command.migrate-start-postcopy",
        "command.migrate-recover", "command.migrate-pause", "oob", "command.drive-mirror",
        "command.blockdev-mirror", "blockdev-mirror.copy-mode", "command.block-job-complete",
        "command.job-complete", "command.nbd-server-add", "command.block-export-add",
        "command.blockdev-reopen", "command.query-cpu-model-expansion", "cpu.tsc-frequency",
        "nbd-server-add.deprecated", "version.7.2", "command.quit",
    };
    const char *no[] = { "version.8.0", "drive-mirror.deprecated", "blockdev-reopen.unstable",
                         "command.nosuch", "migration.nosuch" };
    for (guint i = 0; i < G_N_ELEMENTS(yes); i++)
        g_assert_cmpint((g_test_message("%s", yes[i]), qmp_caps_get(c, yes[i])), ==,
                        QMP_CAPS_PRESENT);
    for (guint i = 0; i < G_N_ELEMENTS(no); i++)
        g_assert_cmpint(qmp_caps_get(c, no[i]), ==, QMP_CAPS_ABSENT);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/caps/xml/roundtrip", test_xml_roundtrip);
    g_test_add_func("/caps/xml/rejected", test_xml_rejected);
    g_test_add_func("/caps/xml/complete-lists", test_complete_lists);
    g_test_add_func("/caps/xml/save-load", test_save_load);
    g_test_add_func("/caps/recording/qemu-7.2", test_recorded_7_2);
    return g_test_run();
}
