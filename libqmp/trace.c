/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* trace.c: secret redaction for the trace hook (see qmp-monitor.h for the
 * default set). */
#include <string.h>
#include <yajl/yajl_gen.h>
#include "trace.h"

#define REDACTED "<redacted>"

static const char *const default_secret_names[] = {
    "password", "new-password", "old-password", "passphrase", "secret",
};

GHashTable *qmp_trace_secret_names_new(void)
{
    GHashTable *names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (gsize i = 0; i < G_N_ELEMENTS(default_secret_names); i++)
        g_hash_table_add(names, g_strdup(default_secret_names[i]));
    return names;
}

static gboolean key_is(const QmpJson *node, const char *name)
{
    gsize n = strlen(name);
    return node->key && node->key_len == n && memcmp(node->key, name, n) == 0;
}

static gboolean is_secret_object(const QmpJson *object)
{
    const QmpJson *t = qmp_json_lookup(object, "qom-type");
    const char *s = t ? qmp_json_get_string(t) : NULL;
    return s && strcmp(s, "secret") == 0;
}

/* Is member (a child of an object) to be hidden? */
static gboolean member_is_secret(const QmpJson *member, gboolean in_secret_object,
                                 GHashTable *names)
{
    if (member->type != QMP_JSON_STRING || !member->key)
        return FALSE;
    if (in_secret_object && key_is(member, "data"))
        return TRUE;
    if (memchr(member->key, '\0', member->key_len))
        return FALSE;
    char *key = g_strndup(member->key, member->key_len);
    gboolean r = g_hash_table_contains(names, key);
    g_free(key);
    return r;
}

gboolean qmp_trace_has_secret(const QmpJson *node, GHashTable *names)
{
    if (node->type != QMP_JSON_OBJECT && node->type != QMP_JSON_ARRAY)
        return FALSE;
    gboolean secret_obj = node->type == QMP_JSON_OBJECT && is_secret_object(node);
    for (const QmpJson *c = node->v.first; c; c = c->next) {
        if (node->type == QMP_JSON_OBJECT && member_is_secret(c, secret_obj, names))
            return TRUE;
        if (qmp_trace_has_secret(c, names))
            return TRUE;
    }
    return FALSE;
}

static void gen_redacted(const QmpJson *node, yajl_gen gen, GHashTable *names)
{
    if (node->type == QMP_JSON_OBJECT) {
        gboolean secret_obj = is_secret_object(node);
        yajl_gen_map_open(gen);
        for (const QmpJson *c = node->v.first; c; c = c->next) {
            yajl_gen_string(gen, (const unsigned char *) c->key, c->key_len);
            if (member_is_secret(c, secret_obj, names))
                yajl_gen_string(gen, (const unsigned char *) REDACTED,
                                strlen(REDACTED));
            else
                gen_redacted(c, gen, names);
        }
        yajl_gen_map_close(gen);
    } else if (node->type == QMP_JSON_ARRAY) {
        yajl_gen_array_open(gen);
        for (const QmpJson *c = node->v.first; c; c = c->next)
            gen_redacted(c, gen, names);
        yajl_gen_array_close(gen);
    } else {
        qmp_json_gen(node, gen);
    }
}

char *qmp_trace_redact(const QmpJson *root, GHashTable *names, gsize *len)
{
    yajl_gen gen = yajl_gen_alloc(NULL);
    const unsigned char *buf;
    size_t n;

    gen_redacted(root, gen, names);
    yajl_gen_get_buf(gen, &buf, &n);
    char *s = g_strndup((const char *) buf, n);
    *len = n;
    yajl_gen_free(gen);
    return s;
}
