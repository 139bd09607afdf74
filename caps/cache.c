/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cache.c: the XML form of an answer, the cache file per binary, and
 * qmp_caps_probe_binary() which uses it.
 *
 * <qmpcaps format="1" key="...">
 *   <source>/usr/bin/qemu-system-x86_64</source>
 *   <version major="7" minor="2" micro="22" package="..."/>
 *   <cap name="command.migrate" state="present"/>   (present|absent|unknown)
 * </qmpcaps>
 *
 * The key holds everything that can change the answer: the toolkit version,
 * the binary's path, size, mtime and ctime (ns), whether /dev/kvm is usable
 * and the kernel release.  A file with another key, another format, or that
 * does not parse is ignored and rewritten.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "caps-private.h"
#include "caps-rules.h"

#define CAPS_XML_FORMAT "1"

static const char *const state_names[] = { "absent", "present", "unknown" };

/* A digest of the rule table: new or changed rules change the answer. */
static const char *rules_digest(void)
{
    static char digest[17];
    static gsize once;
    if (g_once_init_enter(&once)) {
        g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
        for (guint i = 0; i < qmp_caps_n_rules; i++) {
            const QmpCapsRule *r = &qmp_caps_rules[i];
            g_autofree char *line = g_strdup_printf("%s|%d|%s|%s|%d.%d.%d|%s\n", r->name,
                                                    r->kind, r->arg, r->arg2 ?: "",
                                                    r->version[0], r->version[1],
                                                    r->version[2], r->doc);
            g_checksum_update(sum, (const guchar *) line, -1);
            for (guint j = 0; r->path && r->path[j]; j++)
                g_checksum_update(sum, (const guchar *) r->path[j], -1);
        }
        g_strlcpy(digest, g_checksum_get_string(sum), sizeof(digest));
        g_once_init_leave(&once, 1);
    }
    return digest;
}

char *qmp_caps_cache_key(const char *binary, GError **error)
{
    struct stat st;
    if (stat(binary, &st) < 0) {
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno), "%s: %s", binary,
                    g_strerror(errno));
        return NULL;
    }
    struct utsname u;
    if (uname(&u) < 0)
        memset(&u, 0, sizeof(u));
    gboolean kvm = access("/dev/kvm", R_OK | W_OK) == 0;
    return g_strdup_printf("toolkit=%s;rules=%s;binary=%s;size=%lld;mtime=%lld.%09ld;"
                           "ctime=%lld.%09ld;kvm=%s;kernel=%s",
                           QMPKIT_VERSION, rules_digest(), binary, (long long) st.st_size,
                           (long long) st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
                           (long long) st.st_ctim.tv_sec, st.st_ctim.tv_nsec,
                           kvm ? "yes" : "no", u.release);
}

char *qmp_caps_cache_path(const char *binary)
{
    g_autofree char *sum = g_compute_checksum_for_string(G_CHECKSUM_SHA256, binary, -1);
    g_autofree char *base = g_path_get_basename(binary);
    g_autofree char *file = g_strdup_printf("%s-%.16s.xml", base, sum);
    return g_build_filename(g_get_user_cache_dir(), "qmpkit", "caps", file, NULL);
}

/* ---- XML ------------------------------------------------------------------ */

char *qmp_caps_to_xml(const QmpCaps *caps, gsize *len)
{
    xmlDocPtr doc = xmlNewDoc(BAD_CAST "1.0");
    xmlNodePtr root = xmlNewNode(NULL, BAD_CAST "qmpcaps");
    xmlDocSetRootElement(doc, root);
    xmlNewProp(root, BAD_CAST "format", BAD_CAST CAPS_XML_FORMAT);
    if (caps->key)
        xmlNewProp(root, BAD_CAST "key", BAD_CAST caps->key);
    /* every command.X / migration.X not listed is absent */
    if (caps->commands_known)
        xmlNewProp(root, BAD_CAST "commands", BAD_CAST "complete");
    if (caps->migration_known)
        xmlNewProp(root, BAD_CAST "migration", BAD_CAST "complete");
    if (caps->source)
        xmlNewTextChild(root, NULL, BAD_CAST "source", BAD_CAST caps->source);
    if (caps->have_version) {
        xmlNodePtr v = xmlNewChild(root, NULL, BAD_CAST "version", NULL);
        char buf[3][16];
        const char *names[] = { "major", "minor", "micro" };
        for (int i = 0; i < 3; i++) {
            g_snprintf(buf[i], sizeof(buf[i]), "%d", caps->version[i]);
            xmlNewProp(v, BAD_CAST names[i], BAD_CAST buf[i]);
        }
        if (caps->package)
            xmlNewProp(v, BAD_CAST "package", BAD_CAST caps->package);
    }
    g_auto(GStrv) names = qmp_caps_list(caps);
    for (char **n = names; *n; n++) {
        xmlNodePtr c = xmlNewChild(root, NULL, BAD_CAST "cap", NULL);
        xmlNewProp(c, BAD_CAST "name", BAD_CAST *n);
        xmlNewProp(c, BAD_CAST "state", BAD_CAST state_names[qmp_caps_get(caps, *n)]);
    }
    xmlChar *mem = NULL;
    int size = 0;
    xmlDocDumpFormatMemoryEnc(doc, &mem, &size, "UTF-8", 1);
    xmlFreeDoc(doc);
    char *out = g_strndup((const char *) mem, size);
    xmlFree(mem);
    if (len)
        *len = size;
    return out;
}

static gboolean parse_int(const char *s, int *out)
{
    gint64 v;
    if (!s || !g_ascii_string_to_signed(s, 10, 0, G_MAXINT, &v, NULL))
        return FALSE;
    *out = (int) v;
    return TRUE;
}

static QmpCaps *bad(GError **error, const char *what)
{
    g_set_error(error, QMP_ERROR, QMP_ERROR_DECODE, "not a qmpkit capabilities file: %s", what);
    return NULL;
}

/* xmlGetProp as a g_malloc'ed string */
static char *prop(xmlNodePtr n, const char *name)
{
    xmlChar *v = xmlGetProp(n, BAD_CAST name);
    char *out = v ? g_strdup((const char *) v) : NULL;
    xmlFree(v);
    return out;
}

QmpCaps *qmp_caps_from_xml(const char *data, gsize len, GError **error)
{
    if (len > G_MAXINT)
        return bad(error, "too large");
    xmlDocPtr doc = xmlReadMemory(data, (int) len, "caps.xml", NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_NOERROR |
                                      XML_PARSE_NOWARNING);
    if (!doc)
        return bad(error, "malformed XML");
    g_autoptr(QmpCaps) caps = qmp_caps_new();
    const char *fault = NULL;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    g_autofree char *format = root ? prop(root, "format") : NULL;
    if (!root || xmlStrcmp(root->name, BAD_CAST "qmpcaps") != 0)
        fault = "root element is not <qmpcaps>";
    else if (g_strcmp0(format, CAPS_XML_FORMAT) != 0)
        fault = "unknown format";
    else
        caps->key = prop(root, "key");
    if (!fault) {
        g_autofree char *c = prop(root, "commands");
        g_autofree char *m = prop(root, "migration");
        caps->commands_known = g_strcmp0(c, "complete") == 0;
        caps->migration_known = g_strcmp0(m, "complete") == 0;
    }
    for (xmlNodePtr n = root ? root->children : NULL; n && !fault; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        if (xmlStrcmp(n->name, BAD_CAST "source") == 0) {
            xmlChar *s = xmlNodeGetContent(n);
            g_free(caps->source);
            caps->source = g_strdup((const char *) s);
            xmlFree(s);
        } else if (xmlStrcmp(n->name, BAD_CAST "version") == 0) {
            g_autofree char *a = prop(n, "major");
            g_autofree char *b = prop(n, "minor");
            g_autofree char *c = prop(n, "micro");
            if (!parse_int(a, &caps->version[0]) || !parse_int(b, &caps->version[1]) ||
                !parse_int(c, &caps->version[2]))
                fault = "bad <version>";
            caps->have_version = TRUE;
            g_free(caps->package);
            caps->package = prop(n, "package");
        } else if (xmlStrcmp(n->name, BAD_CAST "cap") == 0) {
            g_autofree char *name = prop(n, "name");
            g_autofree char *state = prop(n, "state");
            int st = -1;
            for (int i = 0; state && i < 3; i++)
                if (strcmp(state, state_names[i]) == 0)
                    st = i;
            if (!name || !*name || st < 0)
                fault = "bad <cap>";
            else
                qmp_caps_set(caps, name, (QmpCapsState) st);
        } else {
            fault = "unknown element";
        }
    }
    xmlFreeDoc(doc);
    if (fault)
        return bad(error, fault);
    return g_steal_pointer(&caps);
}

gboolean qmp_caps_save(const QmpCaps *caps, const char *path, GError **error)
{
    g_autofree char *dir = g_path_get_dirname(path);
    if (g_mkdir_with_parents(dir, 0700) < 0) {
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno), "%s: %s", dir,
                    g_strerror(errno));
        return FALSE;
    }
    gsize len;
    g_autofree char *xml = qmp_caps_to_xml(caps, &len);
    return g_file_set_contents(path, xml, len, error);
}

QmpCaps *qmp_caps_load(const char *path, GError **error)
{
    g_autofree char *data = NULL;
    gsize len;
    if (!g_file_get_contents(path, &data, &len, error))
        return NULL;
    QmpCaps *caps = qmp_caps_from_xml(data, len, error);
    if (!caps)
        g_prefix_error(error, "%s: ", path);
    return caps;
}

/* ---- probing a binary, through the cache ----------------------------------- */

static char *resolve_binary(const char *binary, GError **error)
{
    g_autofree char *found = strchr(binary, '/') ? g_strdup(binary)
                                                 : g_find_program_in_path(binary);
    if (!found) {
        g_set_error(error, QMP_ERROR, QMP_ERROR_INVALID, "%s: not found in PATH", binary);
        return NULL;
    }
    return g_canonicalize_filename(found, NULL);
}

QmpCaps *qmp_caps_probe_binary(const char *binary, QmpCapsFlags flags, GError **error)
{
    g_autofree char *path = resolve_binary(binary, error);
    if (!path)
        return NULL;
    if (flags & QMP_CAPS_NO_CACHE)
        return qmp_caps_probe_spawn(path, error);

    g_autofree char *key = qmp_caps_cache_key(path, error);
    if (!key)
        return NULL;
    g_autofree char *file = qmp_caps_cache_path(path);
    QmpCaps *caps = qmp_caps_load(file, NULL);
    if (caps && g_strcmp0(caps->key, key) == 0 && g_strcmp0(caps->source, path) == 0) {
        caps->cached = TRUE;
        return caps;
    }
    qmp_caps_free(caps); /* missing, stale, corrupt or foreign: probe again */
    caps = qmp_caps_probe_spawn(path, error);
    if (!caps)
        return NULL;
    caps->key = g_steal_pointer(&key);
    /* A cache that cannot be written only costs the next caller a probe. */
    qmp_caps_save(caps, file, NULL);
    return caps;
}
