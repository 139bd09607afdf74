/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-caps-libvirt.c: our answers for libvirt's recorded probes
 * (../shared/corpora/libvirt/caps_*.replies) against the flags libvirt
 * derived from the same recordings (caps_*.xml).
 *
 * Compared: every rule of caps/probes.rules with a libvirt=FLAG whose flag
 * appears in that .xml must be present in our answer.  A flag missing from
 * an .xml is not taken as libvirt's "no": libvirt retires flags once every
 * QEMU it supports has them (e.g. incoming-defer, nbd-server, query-qmp-schema
 * in the 9.2 file) and older libvirt versions did not know newer flags.
 * Prints the list compared.  Exit 77 when ../shared is absent.
 */
#include <stdio.h>
#include <string.h>
#include <libxml/parser.h>

#include "caps-private.h"
#include "caps-rules.h"

static GHashTable *libvirt_flags(const char *path)
{
    xmlDocPtr doc = xmlReadFile(path, NULL, XML_PARSE_NONET);
    g_assert_nonnull(doc);
    GHashTable *flags = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (xmlNodePtr n = xmlDocGetRootElement(doc)->children; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE || xmlStrcmp(n->name, BAD_CAST "flag") != 0)
            continue;
        xmlChar *name = xmlGetProp(n, BAD_CAST "name");
        g_hash_table_add(flags, g_strdup((const char *) name));
        xmlFree(name);
    }
    xmlFreeDoc(doc);
    return flags;
}

static int compare(const char *dir, const char *base, int want_major, int want_minor)
{
    g_autofree char *replies = g_strdup_printf("%s/%s.replies", dir, base);
    g_autofree char *xml = g_strdup_printf("%s/%s.xml", dir, base);
    g_autoptr(GError) error = NULL;
    g_autoptr(QmpCaps) caps = qmp_caps_probe_recording(replies, &error);
    g_assert_no_error(error);
    int maj, min;
    g_assert_true(qmp_caps_get_version(caps, &maj, &min, NULL));
    g_assert_cmpint(maj, ==, want_major);
    g_assert_cmpint(min, ==, want_minor);
    /* libvirt's files have no greeting: what only the greeting tells is
     * unknown, not guessed */
    g_assert_cmpint(qmp_caps_get(caps, "oob"), ==, QMP_CAPS_UNKNOWN);

    g_autoptr(GHashTable) flags = libvirt_flags(xml);
    int failed = 0, compared = 0;
    for (guint i = 0; i < qmp_caps_n_rules; i++) {
        const QmpCapsRule *r = &qmp_caps_rules[i];
        if (!r->libvirt)
            continue;
        QmpCapsState ours = qmp_caps_get(caps, r->name);
        if (!g_hash_table_contains(flags, r->libvirt)) {
            printf("  %s: %s=%s (libvirt flag %s not in the .xml: not compared)\n", base,
                   r->name, ours == QMP_CAPS_PRESENT ? "yes" : ours == QMP_CAPS_ABSENT ? "no" : "unknown",
                   r->libvirt);
            continue;
        }
        compared++;
        gboolean ok = ours == QMP_CAPS_PRESENT;
        printf("%s %s: %s vs libvirt %s\n", ok ? "ok  " : "FAIL", base, r->name, r->libvirt);
        failed += !ok;
    }
    printf("%s: %d flags compared, %d disagree\n", base, compared, failed);
    g_assert_cmpint(compared, >, 3);
    return failed;
}

int main(void)
{
    const char *shared = g_getenv("QMPKIT_SHARED_DIR");
    g_autofree char *dir = g_build_filename(shared ?: "../shared", "corpora", "libvirt", NULL);
    if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
        printf("SKIP: %s is absent\n", dir);
        return 77;
    }
    int failed = compare(dir, "caps_4.2.0.x86_64", 4, 1);
    failed += compare(dir, "caps_9.2.0_x86_64", 9, 2);
    return failed ? 1 : 0;
}
