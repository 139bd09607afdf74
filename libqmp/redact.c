/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* redact.c: hiding secrets from traces and recordings (see redact.h). */
#include <string.h>
#include <yajl/yajl_gen.h>
#include "qmp-types.h"
#include "redact.h"

struct _QmpRedactor {
    GHashTable *names;    /* extra member names (char *, owned) */
    GHashTable *replies;  /* id JSON text (owned) of replies to hide */
};

QmpRedactor *qmp_redactor_new(void)
{
    QmpRedactor *r = g_new0(QmpRedactor, 1);
    r->names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    r->replies = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    return r;
}

void qmp_redactor_free(QmpRedactor *r)
{
    if (r) {
        g_hash_table_unref(r->names);
        g_hash_table_unref(r->replies);
    }
    g_free(r);
}

void qmp_redactor_add_member(QmpRedactor *r, const char *name)
{
    g_hash_table_add(r->names, g_strdup(name));
}

static gboolean is(const char *s, gsize len, const char *name)
{
    return s && strlen(name) == len && memcmp(s, name, len) == 0;
}

static gboolean string_is(const QmpJson *node, const char *value)
{
    return node && node->type == QMP_JSON_STRING && is(node->v.s, node->len, value);
}

static gboolean extra_name(QmpRedactor *r, const char *s, gsize len)
{
    if (g_hash_table_size(r->names) == 0 || memchr(s, '\0', len))
        return FALSE;
    g_autofree char *key = g_strndup(s, len);
    return g_hash_table_contains(r->names, key);
}

/* Is the member named s (len bytes) of object secret? */
static gboolean member_is_secret(QmpRedactor *r, const QmpJson *object,
                                 const char *s, gsize len)
{
    for (const QmpSecretMember *m = qmp_secret_members; m->name; m++) {
        if (!is(s, len, m->name))
            continue;
        if (!m->discriminator ||
            string_is(qmp_json_lookup(object, m->discriminator), m->value))
            return TRUE;
    }
    return extra_name(r, s, len);
}

/* Is a QOM property of this name secret (qom-get, qom-set)? */
static gboolean property_is_secret(QmpRedactor *r, const QmpJson *name)
{
    if (!name || name->type != QMP_JSON_STRING)
        return FALSE;
    for (const QmpSecretMember *m = qmp_secret_members; m->name; m++)
        if (is(name->v.s, name->len, m->name))
            return TRUE;
    return extra_name(r, name->v.s, name->len);
}

/* Walk node: with gen, write it with secrets hidden; without, only look.
 * also: one more member of this object (not of nested ones) to hide, or
 * NULL.  Returns whether anything was secret. */
static gboolean walk(QmpRedactor *r, const QmpJson *node, const char *also,
                     yajl_gen gen)
{
    gboolean found = FALSE;

    if (node->type != QMP_JSON_OBJECT && node->type != QMP_JSON_ARRAY) {
        if (gen)
            qmp_json_gen(node, gen);
        return FALSE;
    }
    gboolean object = node->type == QMP_JSON_OBJECT;
    if (gen)
        (object ? yajl_gen_map_open : yajl_gen_array_open)(gen);
    for (const QmpJson *c = node->v.first; c; c = c->next) {
        gboolean secret = object && ((also && is(c->key, c->key_len, also)) ||
                                     member_is_secret(r, node, c->key, c->key_len));
        if (gen && object)
            yajl_gen_string(gen, (const unsigned char *) c->key, c->key_len);
        if (secret && gen)
            yajl_gen_string(gen, (const unsigned char *) QMP_REDACTED,
                            strlen(QMP_REDACTED));
        found |= secret || walk(r, c, NULL, secret ? NULL : gen);
        if (found && !gen)
            return TRUE;
    }
    if (gen)
        (object ? yajl_gen_map_close : yajl_gen_array_close)(gen);
    return found;
}

static char *gen_text(yajl_gen gen, gsize *len)
{
    const unsigned char *buf;
    size_t n;
    yajl_gen_get_buf(gen, &buf, &n);
    char *s = g_strndup((const char *) buf, n);
    *len = n;
    yajl_gen_free(gen);
    return s;
}

/* The member of a command's arguments to hide besides the secret ones
 * (qom-set of a secret property: its "value"), or NULL; a qom-get of a
 * secret property has its reply hidden. */
static const char *command_rule(QmpRedactor *r, const char *command,
                                const QmpJson *args, const char *id_json)
{
    if (!args || args->type != QMP_JSON_OBJECT)
        return NULL;
    gboolean get = strcmp(command, "qom-get") == 0;
    if (!get && strcmp(command, "qom-set") != 0)
        return NULL;
    if (!property_is_secret(r, qmp_json_lookup(args, "property")))
        return NULL;
    if (get) {
        if (id_json)
            g_hash_table_add(r->replies, g_strdup(id_json));
        return NULL;
    }
    return "value";
}

char *qmp_redactor_command(QmpRedactor *r, const char *command,
                           const QmpJson *args, const char *id_json, gsize *len)
{
    const char *also = command_rule(r, command, args, id_json);
    if (!args || !walk(r, args, also, NULL))
        return NULL;
    yajl_gen gen = yajl_gen_alloc(NULL);
    walk(r, args, also, gen);
    return gen_text(gen, len);
}

/* A reply whose "return" must be hidden (and is no longer awaited)? */
static gboolean reply_is_secret(QmpRedactor *r, const QmpJson *root)
{
    const QmpJson *id = qmp_json_lookup(root, "id");
    if (!id || g_hash_table_size(r->replies) == 0 ||
        (!qmp_json_lookup(root, "return") && !qmp_json_lookup(root, "error")))
        return FALSE;
    g_autofree char *key = qmp_json_to_string(id);
    return g_hash_table_remove(r->replies, key) && qmp_json_lookup(root, "return");
}

char *qmp_redactor_message(QmpRedactor *r, QmpTraceDirection dir,
                           const QmpJson *root, gsize *len)
{
    if (root->type != QMP_JSON_OBJECT)
        return NULL;
    const char *hide = NULL;      /* a top-level member to hide whole */
    const QmpJson *args = NULL;   /* a command's arguments */
    const char *also = NULL;
    if (dir == QMP_TRACE_OUT) {
        const QmpJson *name = qmp_json_lookup(root, "execute");
        if (!name)
            name = qmp_json_lookup(root, "exec-oob");
        args = qmp_json_lookup(root, "arguments");
        if (name && name->type == QMP_JSON_STRING && args) {
            const QmpJson *id = qmp_json_lookup(root, "id");
            g_autofree char *id_json = id ? qmp_json_to_string(id) : NULL;
            also = command_rule(r, name->v.s, args, id_json);
        }
    } else if (reply_is_secret(r, root)) {
        hide = "return";
    }
    if (!hide && !(args && also) && !walk(r, root, NULL, NULL))
        return NULL;
    yajl_gen gen = yajl_gen_alloc(NULL);
    yajl_gen_map_open(gen);
    for (const QmpJson *c = root->v.first; c; c = c->next) {
        yajl_gen_string(gen, (const unsigned char *) c->key, c->key_len);
        if (hide && is(c->key, c->key_len, hide))
            yajl_gen_string(gen, (const unsigned char *) QMP_REDACTED,
                            strlen(QMP_REDACTED));
        else if (member_is_secret(r, root, c->key, c->key_len))
            yajl_gen_string(gen, (const unsigned char *) QMP_REDACTED,
                            strlen(QMP_REDACTED));
        else
            walk(r, c, c == args ? also : NULL, gen);
    }
    yajl_gen_map_close(gen);
    return gen_text(gen, len);
}

char *qmp_redactor_unparsable(QmpTraceDirection dir, gsize len, gsize *out_len)
{
    /* from a client it was a command: keep the shape, so that a reply
     * without id still has its command in a recording */
    char *s = g_strdup_printf("{%s\"unparsable\": \"<redacted: %" G_GSIZE_FORMAT
                              " bytes>\"}",
                              dir == QMP_TRACE_OUT ? "\"execute\": \"" QMP_REDACTED "\", " : "",
                              len);
    *out_len = strlen(s);
    return s;
}
