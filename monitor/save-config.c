/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * save-config.c: the configuration document inside a save image (XML):
 *
 *   <qmpkit-save>
 *     <qemu version="7.2.0" package="Debian ..." machine="pc-q35-7.2"/>
 *     <description> ...the caller's VM description, one element... </description>
 *   </qmpkit-save>
 */
#include <string.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlsave.h>

#include "save-private.h"

static xmlDocPtr
parse_xml(const char *text, gsize len)
{
    /* A library never prints: NOERROR/NOWARNING keep libxml2 quiet. */
    if (len > G_MAXINT)
        return NULL;
    return xmlReadMemory(text, (int)len, "config.xml", NULL,
                         XML_PARSE_NONET | XML_PARSE_NOERROR |
                         XML_PARSE_NOWARNING | XML_PARSE_NOBLANKS);
}

char *
qmp_save_config_build(const char *description, const char *qemu_version,
                      const char *qemu_package, const char *machine,
                      GError **error)
{
    xmlDocPtr desc = NULL;

    if (description != NULL) {
        desc = parse_xml(description, strlen(description));
        if (desc == NULL || xmlDocGetRootElement(desc) == NULL) {
            xmlFreeDoc(desc);
            g_set_error(error, QMP_SAVE_ERROR, QMP_SAVE_ERROR_BAD_CONFIG,
                        "the VM description is not a well-formed XML document");
            return NULL;
        }
    }
    xmlDocPtr doc = xmlNewDoc(BAD_CAST "1.0");
    xmlNodePtr root = xmlNewNode(NULL, BAD_CAST "qmpkit-save");
    xmlDocSetRootElement(doc, root);
    xmlNodePtr q = xmlNewChild(root, NULL, BAD_CAST "qemu", NULL);
    xmlNewProp(q, BAD_CAST "version", BAD_CAST(qemu_version ? qemu_version : ""));
    if (qemu_package != NULL && *qemu_package)
        xmlNewProp(q, BAD_CAST "package", BAD_CAST qemu_package);
    xmlNewProp(q, BAD_CAST "machine", BAD_CAST(machine ? machine : ""));
    if (desc != NULL) {
        xmlNodePtr d = xmlNewChild(root, NULL, BAD_CAST "description", NULL);
        xmlNodePtr copy = xmlDocCopyNode(xmlDocGetRootElement(desc), doc, 1);
        xmlAddChild(d, copy);
        xmlFreeDoc(desc);
    }
    xmlChar *out = NULL;
    int n = 0;
    xmlDocDumpFormatMemoryEnc(doc, &out, &n, "UTF-8", 1);
    xmlFreeDoc(doc);
    char *ret = g_strndup((const char *)out, n);
    xmlFree(out);
    return ret;
}

static char *
get_attr(xmlNodePtr node, const char *name)
{
    xmlChar *v = xmlGetProp(node, BAD_CAST name);
    if (v == NULL)
        return NULL;
    char *ret = g_strdup((const char *)v);
    xmlFree(v);
    return ret;
}

gboolean
qmp_save_config_parse(const char *config, gsize len, const char *name,
                      char **qemu_version, char **machine,
                      char **description, GError **error)
{
    xmlDocPtr doc = parse_xml(config, len);
    xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;

    *qemu_version = *machine = *description = NULL;
    if (root == NULL || strlen(config) != len) {
        g_set_error(error, QMP_SAVE_ERROR, QMP_SAVE_ERROR_BAD_CONFIG,
                    "%s: the configuration (%" G_GSIZE_FORMAT " bytes) is not "
                    "a well-formed XML document", name, len);
        xmlFreeDoc(doc);
        return FALSE;
    }
    if (xmlStrcmp(root->name, BAD_CAST "qmpkit-save") != 0) {
        g_set_error(error, QMP_SAVE_ERROR, QMP_SAVE_ERROR_BAD_CONFIG,
                    "%s: the configuration's root element is <%s>, expected "
                    "<qmpkit-save>", name, (const char *)root->name);
        xmlFreeDoc(doc);
        return FALSE;
    }
    for (xmlNodePtr n = root->children; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        if (xmlStrcmp(n->name, BAD_CAST "qemu") == 0 && *machine == NULL) {
            *qemu_version = get_attr(n, "version");
            *machine = get_attr(n, "machine");
        } else if (xmlStrcmp(n->name, BAD_CAST "description") == 0 &&
                   *description == NULL) {
            for (xmlNodePtr c = n->children; c; c = c->next) {
                if (c->type != XML_ELEMENT_NODE)
                    continue;
                xmlBufferPtr buf = xmlBufferCreate();
                xmlNodeDump(buf, doc, c, 0, 0);
                *description = g_strdup((const char *)xmlBufferContent(buf));
                xmlBufferFree(buf);
                break;
            }
        }
        /* Other elements: added by later writers of the same version;
         * ignored (docs/save-format.md). */
    }
    xmlFreeDoc(doc);
    if (*machine == NULL || **machine == '\0' || *qemu_version == NULL) {
        g_set_error(error, QMP_SAVE_ERROR, QMP_SAVE_ERROR_BAD_CONFIG,
                    "%s: the configuration has no <qemu version=... machine=...>",
                    name);
        g_clear_pointer(qemu_version, g_free);
        g_clear_pointer(machine, g_free);
        g_clear_pointer(description, g_free);
        return FALSE;
    }
    return TRUE;
}
