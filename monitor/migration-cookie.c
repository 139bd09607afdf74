/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * migration-cookie.c: the XML cookie BEGIN hands to PREPARE (format in
 * docs/migration.md), written and read with libxml2.
 */
#include <string.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include "migration-private.h"

#define COOKIE_ROOT "qmp-migration-cookie"

void qmp_migration_cookie_clear(QmpMigrationCookie *c)
{
    g_clear_pointer(&c->qemu_version, g_free);
    g_clear_pointer(&c->capabilities, g_strfreev);
    g_clear_pointer(&c->disks, g_strfreev);
    memset(c, 0, sizeof(*c));
    c->invtsc = QMP_HOST_FACT_UNKNOWN;
}

static const char *fact_str(QmpHostFact f)
{
    return f == QMP_HOST_FACT_YES ? "yes" : f == QMP_HOST_FACT_NO ? "no" : "unknown";
}

static QmpHostFact fact_parse(const char *s)
{
    if (g_strcmp0(s, "yes") == 0)
        return QMP_HOST_FACT_YES;
    if (g_strcmp0(s, "no") == 0)
        return QMP_HOST_FACT_NO;
    return QMP_HOST_FACT_UNKNOWN;
}

char *qmp_migration_cookie_write(const QmpMigrationCookie *c)
{
    xmlDocPtr doc = xmlNewDoc(BAD_CAST "1.0");
    xmlNodePtr root = xmlNewNode(NULL, BAD_CAST COOKIE_ROOT);
    xmlDocSetRootElement(doc, root);
    xmlNewProp(root, BAD_CAST "version", BAD_CAST "1");

    xmlNodePtr src = xmlNewChild(root, NULL, BAD_CAST "source", NULL);
    if (c->qemu_version)
        xmlNewProp(src, BAD_CAST "qemu", BAD_CAST c->qemu_version);
    xmlNewProp(src, BAD_CAST "running", BAD_CAST(c->running ? "yes" : "no"));

    xmlNodePtr caps = xmlNewChild(root, NULL, BAD_CAST "capabilities", NULL);
    for (char **p = c->capabilities; p && *p; p++) {
        xmlNodePtr n = xmlNewChild(caps, NULL, BAD_CAST "capability", NULL);
        xmlNewProp(n, BAD_CAST "name", BAD_CAST * p);
    }

    xmlNodePtr guest = xmlNewChild(root, NULL, BAD_CAST "guest", NULL);
    xmlNodePtr tsc = xmlNewChild(guest, NULL, BAD_CAST "tsc", NULL);
    g_autofree char *hz = g_strdup_printf("%" G_GUINT64_FORMAT, c->tsc_hz);
    g_autofree char *host_hz = g_strdup_printf("%" G_GUINT64_FORMAT, c->host_tsc_hz);
    xmlNewProp(tsc, BAD_CAST "frequency", BAD_CAST hz);
    xmlNewProp(tsc, BAD_CAST "invtsc", BAD_CAST fact_str(c->invtsc));
    xmlNewProp(tsc, BAD_CAST "host-frequency", BAD_CAST host_hz);
    xmlNodePtr disks = xmlNewChild(guest, NULL, BAD_CAST "disks", NULL);
    for (char **p = c->disks; p && *p; p++) {
        xmlNodePtr n = xmlNewChild(disks, NULL, BAD_CAST "disk", NULL);
        xmlNewProp(n, BAD_CAST "name", BAD_CAST * p);
    }

    xmlChar *buf = NULL;
    int len = 0;
    xmlDocDumpFormatMemoryEnc(doc, &buf, &len, "UTF-8", 1);
    char *out = g_strndup((const char *) buf, len);
    xmlFree(buf);
    xmlFreeDoc(doc);
    return out;
}

static char *prop(xmlNodePtr n, const char *name)
{
    xmlChar *v = xmlGetProp(n, BAD_CAST name);
    if (!v)
        return NULL;
    char *s = g_strdup((const char *) v);
    xmlFree(v);
    return s;
}

static gboolean is(xmlNodePtr n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && strcmp((const char *) n->name, name) == 0;
}

static gboolean parse_u64(const char *s, guint64 *out)
{
    if (!s)
        return FALSE;
    return g_ascii_string_to_unsigned(s, 10, 0, G_MAXUINT64, out, NULL);
}

gboolean qmp_migration_cookie_read(const char *xml, QmpMigrationCookie *c,
                                   GError **error)
{
    qmp_migration_cookie_clear(c);
    if (!xml || !*xml) {
        g_set_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_COOKIE,
                    "the cookie is empty");
        return FALSE;
    }
    xmlDocPtr doc = xmlReadMemory(xml, strlen(xml), "cookie.xml", NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR |
                                  XML_PARSE_NOWARNING);
    if (!doc) {
        g_set_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_COOKIE,
                    "the cookie is not well-formed XML");
        return FALSE;
    }
    xmlNodePtr root = xmlDocGetRootElement(doc);
    g_autofree char *version = root ? prop(root, "version") : NULL;
    if (!root || !is(root, COOKIE_ROOT) || g_strcmp0(version, "1") != 0) {
        g_set_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_COOKIE,
                    "the cookie is not a <" COOKIE_ROOT " version=\"1\"> document");
        xmlFreeDoc(doc);
        return FALSE;
    }
    g_autoptr(GPtrArray) caps = g_ptr_array_new();
    g_autoptr(GPtrArray) disks = g_ptr_array_new();
    gboolean ok = TRUE;
    for (xmlNodePtr n = root->children; n && ok; n = n->next) {
        if (is(n, "source")) {
            c->qemu_version = prop(n, "qemu");
            g_autofree char *r = prop(n, "running");
            c->running = g_strcmp0(r, "yes") == 0;
        } else if (is(n, "capabilities")) {
            for (xmlNodePtr k = n->children; k; k = k->next)
                if (is(k, "capability")) {
                    char *name = prop(k, "name");
                    if (name)
                        g_ptr_array_add(caps, name);
                }
        } else if (is(n, "guest")) {
            for (xmlNodePtr k = n->children; k; k = k->next) {
                if (is(k, "tsc")) {
                    g_autofree char *f = prop(k, "frequency");
                    g_autofree char *h = prop(k, "host-frequency");
                    g_autofree char *i = prop(k, "invtsc");
                    if ((f && !parse_u64(f, &c->tsc_hz)) ||
                        (h && !parse_u64(h, &c->host_tsc_hz))) {
                        g_set_error(error, QMP_MIGRATION_ERROR,
                                    QMP_MIGRATION_ERROR_COOKIE,
                                    "the cookie's <tsc> has a frequency that is not a number");
                        ok = FALSE;
                        break;
                    }
                    c->invtsc = fact_parse(i);
                } else if (is(k, "disks")) {
                    for (xmlNodePtr d = k->children; d; d = d->next)
                        if (is(d, "disk")) {
                            char *name = prop(d, "name");
                            if (name)
                                g_ptr_array_add(disks, name);
                        }
                }
            }
        }
    }
    xmlFreeDoc(doc);
    g_ptr_array_add(caps, NULL);
    g_ptr_array_add(disks, NULL);
    c->capabilities = (char **) g_ptr_array_steal(caps, NULL);
    c->disks = (char **) g_ptr_array_steal(disks, NULL);
    if (!ok) {
        qmp_migration_cookie_clear(c);
        return FALSE;
    }
    return TRUE;
}
