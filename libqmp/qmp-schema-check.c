/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* qmp-schema-check.c: checking commands against a SchemaInfo list (see
 * qmp-schema-check.h). */
#include <string.h>
#include "qmp-schema-check.h"

struct _QmpSchemaCheck {
    QmpJsonDoc *doc;       /* our copy of the list, or NULL when borrowed */
    GHashTable *by_name;   /* name -> SchemaInfo object (in doc) */
};

static const char *str_member(const QmpJson *obj, const char *key)
{
    const QmpJson *v = qmp_json_lookup(obj, key);
    return v ? qmp_json_get_string(v) : NULL;
}

static QmpSchemaCheck *check_new(const QmpJson *list, gboolean copy, GError **error)
{
    if (!list || list->type != QMP_JSON_ARRAY) {
        g_set_error(error, QMP_ERROR, QMP_ERROR_INVALID,
                    "a SchemaInfo list must be a JSON array");
        return NULL;
    }
    QmpSchemaCheck *c = g_new0(QmpSchemaCheck, 1);
    if (copy) {
        c->doc = qmp_json_copy(list);
        list = qmp_json_doc_root(c->doc);
    }
    c->by_name = g_hash_table_new(g_str_hash, g_str_equal);
    guint i = 0;
    for (const QmpJson *e = list->v.first; e; e = e->next, i++) {
        const char *name = e->type == QMP_JSON_OBJECT ? str_member(e, "name") : NULL;
        if (!name || !str_member(e, "meta-type")) {
            g_set_error(error, QMP_ERROR, QMP_ERROR_INVALID,
                        "SchemaInfo [%u] has no \"name\" or \"meta-type\"", i);
            qmp_schema_check_free(c);
            return NULL;
        }
        if (!g_hash_table_contains(c->by_name, name))
            g_hash_table_insert(c->by_name, (gpointer) name, (gpointer) e);
    }
    return c;
}

QmpSchemaCheck *qmp_schema_check_new(const QmpJson *list, GError **error)
{
    return check_new(list, TRUE, error);
}

QmpSchemaCheck *qmp_schema_check_new_borrowed(const QmpJson *list, GError **error)
{
    return check_new(list, FALSE, error);
}

QmpSchemaCheck *qmp_schema_check_new_from_text(const char *json, gsize len,
                                               GError **error)
{
    QmpJsonDoc *doc = qmp_json_parse(json, len, 0, error);
    if (!doc)
        return NULL;
    QmpSchemaCheck *c = check_new(qmp_json_doc_root(doc), FALSE, error);
    if (c)
        c->doc = doc; /* keep the parsed text, no copy */
    else
        qmp_json_doc_unref(doc);
    return c;
}

void qmp_schema_check_free(QmpSchemaCheck *c)
{
    if (!c)
        return;
    g_hash_table_unref(c->by_name);
    qmp_json_doc_unref(c->doc);
    g_free(c);
}

const QmpJson *qmp_schema_check_lookup(const QmpSchemaCheck *c, const char *name)
{
    return g_hash_table_lookup(c->by_name, name);
}

static const QmpJson *lookup_meta(const QmpSchemaCheck *c, const char *name,
                                  const char *meta)
{
    const QmpJson *e = qmp_schema_check_lookup(c, name);
    return e && g_strcmp0(str_member(e, "meta-type"), meta) == 0 ? e : NULL;
}

gboolean qmp_schema_check_has_command(const QmpSchemaCheck *c, const char *command)
{
    return lookup_meta(c, command, "command") != NULL;
}

gboolean qmp_schema_check_has_event(const QmpSchemaCheck *c, const char *event)
{
    return lookup_meta(c, event, "event") != NULL;
}

/* ---- objects: the members allowed for a value ------------------------------ */

/* Add the members of object type obj (and of the variant that value's tag
 * selects; with value NULL, of every variant) to table (name -> member). */
static void collect_members(const QmpSchemaCheck *c, const QmpJson *obj,
                            const QmpJson *value, GHashTable *table, guint depth)
{
    if (!obj || depth > 32)
        return;
    const QmpJson *members = qmp_json_lookup(obj, "members");
    for (const QmpJson *m = members && members->type == QMP_JSON_ARRAY ? members->v.first : NULL;
         m; m = m->next) {
        const char *name = str_member(m, "name");
        if (name && !g_hash_table_contains(table, name))
            g_hash_table_insert(table, (gpointer) name, (gpointer) m);
    }
    const char *tag = str_member(obj, "tag");
    const QmpJson *variants = qmp_json_lookup(obj, "variants");
    if (!tag || !variants || variants->type != QMP_JSON_ARRAY)
        return;
    const char *tag_value = NULL;
    if (value) {
        const QmpJson *tv = qmp_json_lookup(value, tag);
        tag_value = tv ? qmp_json_get_string(tv) : NULL;
        if (!tag_value)
            return;
    }
    for (const QmpJson *v = variants->v.first; v; v = v->next) {
        if (tag_value && g_strcmp0(str_member(v, "case"), tag_value) != 0)
            continue;
        const char *type = str_member(v, "type");
        collect_members(c, type ? lookup_meta(c, type, "object") : NULL, value, table,
                        depth + 1);
    }
}

gboolean qmp_schema_check_has_argument(const QmpSchemaCheck *c, const char *command,
                                       const char *argument)
{
    const QmpJson *cmd = lookup_meta(c, command, "command");
    if (!cmd)
        return FALSE;
    const char *arg_type = str_member(cmd, "arg-type");
    const QmpJson *obj = arg_type ? lookup_meta(c, arg_type, "object") : NULL;
    if (!obj)
        return FALSE;
    g_autoptr(GHashTable) table = g_hash_table_new(g_str_hash, g_str_equal);
    collect_members(c, obj, NULL, table, 0);
    return g_hash_table_contains(table, argument);
}

/* ---- values ----------------------------------------------------------------- */

typedef struct {
    const QmpSchemaCheck *c;
    const char *command;   /* for top-level messages, or NULL */
    GString *path;
    guint depth;
} Walk;

static const char *path_or_top(Walk *w)
{
    return w->path->len ? w->path->str : "(value)";
}

static gboolean check(Walk *w, const char *type, const QmpJson *value, GError **error);

static gboolean mismatch(Walk *w, const char *expected, const QmpJson *value, GError **error)
{
    g_set_error(error, QMP_ERROR, QMP_ERROR_INVALID, "%s%s%s: expected %s, got %s",
                w->command ? w->command : "", w->command ? ": " : "", path_or_top(w),
                expected, qmp_json_type_name(value->type));
    return FALSE;
}

static gboolean is_top_arguments(Walk *w)
{
    return w->command && strcmp(w->path->str, "arguments") == 0;
}

static gboolean check_object(Walk *w, const QmpJson *obj, const QmpJson *value, GError **error)
{
    if (value->type != QMP_JSON_OBJECT)
        return mismatch(w, "object", value, error);
    g_autoptr(GHashTable) table = g_hash_table_new(g_str_hash, g_str_equal);
    collect_members(w->c, obj, value, table, 0);
    gsize plen = w->path->len;
    for (const QmpJson *m = value->v.first; m; m = m->next) {
        g_autofree char *key = g_strndup(m->key, m->key_len);
        const QmpJson *member = g_hash_table_lookup(table, key);
        if (!member) {
            if (is_top_arguments(w))
                g_set_error(error, QMP_ERROR, QMP_ERROR_UNSUPPORTED,
                            "command '%s' has no argument '%s'", w->command, key);
            else
                g_set_error(error, QMP_ERROR, QMP_ERROR_UNSUPPORTED,
                            "%s%s%s: no member '%s'", w->command ? w->command : "",
                            w->command ? ": " : "", path_or_top(w), key);
            return FALSE;
        }
        const char *type = str_member(member, "type");
        g_string_append_printf(w->path, "%s%s", plen ? "." : "", key);
        gboolean ok = type ? check(w, type, m, error) : TRUE;
        g_string_truncate(w->path, plen);
        if (!ok)
            return FALSE;
    }
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, table);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        if (qmp_json_lookup(v, "default") || qmp_json_lookup(value, k))
            continue;
        if (is_top_arguments(w))
            g_set_error(error, QMP_ERROR, QMP_ERROR_INVALID,
                        "command '%s': missing argument '%s'", w->command, (const char *) k);
        else
            g_set_error(error, QMP_ERROR, QMP_ERROR_INVALID, "%s%s%s: missing member '%s'",
                        w->command ? w->command : "", w->command ? ": " : "",
                        path_or_top(w), (const char *) k);
        return FALSE;
    }
    return TRUE;
}

typedef struct {
    const char *name;
    guint mask;
} TypeMask;

/* The mask of name in table, or otherwise. */
static guint mask_of(const TypeMask *table, gsize n, const char *name, guint otherwise)
{
    for (gsize i = 0; name && i < n; i++)
        if (strcmp(table[i].name, name) == 0)
            return table[i].mask;
    return otherwise;
}

/* The JSON types a type accepts, as a bit set over QmpJsonType. */
static guint accepted_types(const QmpSchemaCheck *c, const char *type)
{
    const QmpJson *info = qmp_schema_check_lookup(c, type);
    const char *meta = info ? str_member(info, "meta-type") : NULL;
    if (!meta)
        return 0;
    static const TypeMask metas[] = {
        { "object", 1u << QMP_JSON_OBJECT },
        { "array", 1u << QMP_JSON_ARRAY },
        { "enum", 1u << QMP_JSON_STRING },
    };
    static const TypeMask json_types[] = {
        { "int", 1u << QMP_JSON_INT },
        { "number", 1u << QMP_JSON_INT | 1u << QMP_JSON_DOUBLE },
        { "string", 1u << QMP_JSON_STRING },
        { "boolean", 1u << QMP_JSON_BOOL },
        { "null", 1u << QMP_JSON_NULL },
    };
    if (strcmp(meta, "builtin") == 0)
        return mask_of(json_types, G_N_ELEMENTS(json_types),
                       str_member(info, "json-type"), ~0u);
    return mask_of(metas, G_N_ELEMENTS(metas), meta, 0);
}

static gboolean check(Walk *w, const char *type, const QmpJson *value, GError **error)
{
    const QmpJson *info = qmp_schema_check_lookup(w->c, type);
    const char *meta = info ? str_member(info, "meta-type") : NULL;
    if (!meta || w->depth > 200) {
        g_set_error(error, QMP_ERROR, QMP_ERROR_INVALID, "%s%s%s: type '%s' %s",
                    w->command ? w->command : "", w->command ? ": " : "", path_or_top(w), type,
                    meta ? "nests too deeply" : "is not in the schema");
        return FALSE;
    }
    if (strcmp(meta, "builtin") == 0) {
        if (accepted_types(w->c, type) & (1u << value->type))
            return TRUE;
        return mismatch(w, str_member(info, "json-type"), value, error);
    }
    if (strcmp(meta, "enum") == 0) {
        if (value->type != QMP_JSON_STRING)
            return mismatch(w, "string", value, error);
        const QmpJson *values = qmp_json_lookup(info, "values");
        for (const QmpJson *v = values && values->type == QMP_JSON_ARRAY ? values->v.first : NULL;
             v; v = v->next)
            if (v->type == QMP_JSON_STRING && v->len == value->len &&
                memcmp(v->v.s, value->v.s, value->len) == 0)
                return TRUE;
        g_set_error(error, QMP_ERROR, QMP_ERROR_INVALID, "%s%s%s: '%s' is not a value of the enum",
                    w->command ? w->command : "", w->command ? ": " : "", path_or_top(w),
                    value->v.s);
        return FALSE;
    }
    if (strcmp(meta, "array") == 0) {
        if (value->type != QMP_JSON_ARRAY)
            return mismatch(w, "array", value, error);
        const char *et = str_member(info, "element-type");
        gsize plen = w->path->len;
        guint i = 0;
        for (const QmpJson *e = value->v.first; e; e = e->next, i++) {
            g_string_append_printf(w->path, "[%u]", i);
            w->depth++;
            gboolean ok = et ? check(w, et, e, error) : TRUE;
            w->depth--;
            g_string_truncate(w->path, plen);
            if (!ok)
                return FALSE;
        }
        return TRUE;
    }
    if (strcmp(meta, "object") == 0) {
        w->depth++;
        gboolean ok = check_object(w, info, value, error);
        w->depth--;
        return ok;
    }
    if (strcmp(meta, "alternate") == 0) {
        /* QEMU picks the branch by the JSON type of the value. */
        const QmpJson *members = qmp_json_lookup(info, "members");
        GString *names = g_string_new(NULL);
        for (const QmpJson *m = members && members->type == QMP_JSON_ARRAY ? members->v.first : NULL;
             m; m = m->next) {
            const char *bt = str_member(m, "type");
            if (!bt)
                continue;
            if (accepted_types(w->c, bt) & (1u << value->type)) {
                g_string_free(names, TRUE);
                w->depth++;
                gboolean ok = check(w, bt, value, error);
                w->depth--;
                return ok;
            }
            const QmpJson *bi = qmp_schema_check_lookup(w->c, bt);
            const char *bm = bi ? str_member(bi, "meta-type") : "?";
            g_string_append_printf(names, "%s%s", names->len ? " or " : "",
                                   g_strcmp0(bm, "builtin") == 0 ? str_member(bi, "json-type")
                                   : g_strcmp0(bm, "enum") == 0 ? "string" : bm);
        }
        gboolean ok = mismatch(w, names->str, value, error);
        g_string_free(names, TRUE);
        return ok;
    }
    g_set_error(error, QMP_ERROR, QMP_ERROR_INVALID, "%s%s%s: '%s' is a %s, not a type",
                w->command ? w->command : "", w->command ? ": " : "", path_or_top(w), type, meta);
    return FALSE;
}

gboolean qmp_schema_check_value(const QmpSchemaCheck *c, const char *type,
                                const QmpJson *value, const char *path, GError **error)
{
    g_autoptr(GString) p = g_string_new(path ? path : "");
    Walk w = { c, NULL, p, 0 };
    return check(&w, type, value, error);
}

gboolean qmp_schema_check_command(const QmpSchemaCheck *c, const char *command,
                                  const QmpJson *arguments, GError **error)
{
    const QmpJson *cmd = lookup_meta(c, command, "command");
    if (!cmd) {
        g_set_error(error, QMP_ERROR, QMP_ERROR_UNSUPPORTED, "command '%s' not found", command);
        return FALSE;
    }
    const char *arg_type = str_member(cmd, "arg-type");
    g_autoptr(GString) p = g_string_new("arguments");
    Walk w = { c, command, p, 0 };
    if (!arguments) {
        static const char empty[] = "{}";
        g_autoptr(QmpJsonDoc) doc = qmp_json_parse(empty, 2, 0, NULL);
        return arg_type ? check(&w, arg_type, qmp_json_doc_root(doc), error) : TRUE;
    }
    if (!arg_type) {
        if (arguments->type == QMP_JSON_OBJECT && arguments->len == 0)
            return TRUE;
        g_set_error(error, QMP_ERROR, QMP_ERROR_UNSUPPORTED,
                    "command '%s' takes no arguments", command);
        return FALSE;
    }
    return check(&w, arg_type, arguments, error);
}
