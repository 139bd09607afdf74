/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shell-schema.c: typed `command key=value` lines, did-you-mean,
 * completion candidates and help, all from the connected QEMU's
 * query-qmp-schema reply.
 */
#include <string.h>
#include <stdlib.h>

#include "shell-schema.h"
#include "qmp-schema-check.h"
#include "qmp-error.h"

struct _ShellSchema {
    QmpJsonDoc *doc;
    const QmpJson *list;
    QmpSchemaCheck *check;
    GPtrArray *commands; /* const char *, borrowed from doc, sorted */
};

static int cmp_str(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}

static const char *member_str(const QmpJson *obj, const char *key)
{
    return obj ? qmp_json_get_string(qmp_json_lookup(obj, key)) : NULL;
}

ShellSchema *shell_schema_new(QmpJsonDoc *doc, const QmpJson *list, GError **error)
{
    QmpSchemaCheck *check = qmp_schema_check_new_borrowed(list, error);
    if (!check)
        return NULL;
    ShellSchema *s = g_new0(ShellSchema, 1);
    s->doc = qmp_json_doc_ref(doc);
    s->list = list;
    s->check = check;
    s->commands = g_ptr_array_new();
    for (const QmpJson *e = list->v.first; e; e = e->next) {
        const char *meta = member_str(e, "meta-type");
        const char *name = member_str(e, "name");
        if (meta && name && strcmp(meta, "command") == 0)
            g_ptr_array_add(s->commands, (gpointer) name);
    }
    g_ptr_array_sort(s->commands, cmp_str);
    return s;
}

void shell_schema_free(ShellSchema *s)
{
    if (!s)
        return;
    qmp_schema_check_free(s->check);
    g_ptr_array_unref(s->commands);
    qmp_json_doc_unref(s->doc);
    g_free(s);
}

gboolean shell_schema_has_command(const ShellSchema *s, const char *name)
{
    return qmp_schema_check_has_command(s->check, name);
}

const GPtrArray *shell_schema_commands(const ShellSchema *s)
{
    return s->commands;
}

void shell_request_free(ShellRequest *r)
{
    if (!r)
        return;
    g_free(r->command);
    g_free(r->args_json);
    g_free(r);
}

/* ---- did you mean ------------------------------------------------------- */

/* Edit distance counting a swap of two neighbours as one edit. */
static guint distance(const char *a, const char *b)
{
    gsize la = strlen(a), lb = strlen(b);
    g_autofree guint *d = g_new(guint, (la + 1) * (lb + 1));
#define D(i, j) d[(i) * (lb + 1) + (j)]
    for (gsize i = 0; i <= la; i++)
        D(i, 0) = i;
    for (gsize j = 0; j <= lb; j++)
        D(0, j) = j;
    for (gsize i = 1; i <= la; i++) {
        for (gsize j = 1; j <= lb; j++) {
            guint cost = a[i - 1] == b[j - 1] ? 0 : 1;
            guint v = MIN(MIN(D(i - 1, j) + 1, D(i, j - 1) + 1), D(i - 1, j - 1) + cost);
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                v = MIN(v, D(i - 2, j - 2) + 1);
            D(i, j) = v;
        }
    }
    guint r = D(la, lb);
#undef D
    return r;
}

char *shell_suggest(const char *word, const char *const *cands, guint n)
{
    const char *best = NULL;
    guint best_d = G_MAXUINT;
    gsize len = strlen(word);
    for (guint i = 0; i < n; i++) {
        guint d = distance(word, cands[i]);
        /* On a tie, the candidate closer in length (a swap beats a
         * deletion). */
        if (d < best_d || (d == best_d && best &&
                           ABS((gssize) strlen(cands[i]) - (gssize) len) <
                               ABS((gssize) strlen(best) - (gssize) len))) {
            best_d = d;
            best = cands[i];
        }
    }
    if (best && best_d <= MAX(2, len / 4))
        return g_strdup(best);
    /* A word that is a fragment of exactly one candidate. */
    if (len >= 3) {
        const char *only = NULL;
        for (guint i = 0; i < n; i++) {
            if (strstr(cands[i], word)) {
                if (only)
                    return NULL;
                only = cands[i];
            }
        }
        return g_strdup(only);
    }
    return NULL;
}

static void append_suggestion(GString *msg, const char *word, GPtrArray *cands)
{
    g_autofree char *sugg = shell_suggest(word, (const char *const *) cands->pdata, cands->len);
    if (sugg)
        g_string_append_printf(msg, "; did you mean '%s'?", sugg);
}

/* ---- walking the schema --------------------------------------------------- */

static const QmpJson *type_info(const ShellSchema *s, const char *name)
{
    return name ? qmp_schema_check_lookup(s->check, name) : NULL;
}

static const char *meta_of(const QmpJson *info)
{
    return member_str(info, "meta-type") ?: "";
}

static const QmpJson *command_arg_object(const ShellSchema *s, const char *command)
{
    const QmpJson *cmd = type_info(s, command);
    return type_info(s, member_str(cmd, "arg-type"));
}

/* The members of an object type: its own, then its variants' (each name
 * once), as SchemaInfoObjectMember nodes. */
static void collect_members_tagged(const ShellSchema *s, const QmpJson *obj, GPtrArray *out,
                                   guint depth, const char *tag_value);

static void collect_members(const ShellSchema *s, const QmpJson *obj, GPtrArray *out,
                            guint depth)
{
    collect_members_tagged(s, obj, out, depth, NULL);
}

/* tag_value: when the union's tag is already set, only that variant's
 * members count. */
static void collect_members_tagged(const ShellSchema *s, const QmpJson *obj, GPtrArray *out,
                                   guint depth, const char *tag_value)
{
    if (!obj || depth > 8)
        return;
    const QmpJson *members = qmp_json_lookup(obj, "members");
    if (members && members->type == QMP_JSON_ARRAY) {
        for (const QmpJson *m = members->v.first; m; m = m->next) {
            const char *name = member_str(m, "name");
            gboolean dup = FALSE;
            for (guint i = 0; name && i < out->len; i++)
                dup |= strcmp(member_str(out->pdata[i], "name"), name) == 0;
            if (name && !dup)
                g_ptr_array_add(out, (gpointer) m);
        }
    }
    const QmpJson *variants = qmp_json_lookup(obj, "variants");
    if (variants && variants->type == QMP_JSON_ARRAY) {
        for (const QmpJson *v = variants->v.first; v; v = v->next) {
            if (tag_value && g_strcmp0(member_str(v, "case"), tag_value) != 0)
                continue;
            collect_members(s, type_info(s, member_str(v, "type")), out, depth + 1);
        }
    }
}

static GPtrArray *member_names(GPtrArray *members)
{
    GPtrArray *names = g_ptr_array_new();
    for (guint i = 0; i < members->len; i++)
        g_ptr_array_add(names, (gpointer) member_str(members->pdata[i], "name"));
    return names;
}

static const QmpJson *find_member(GPtrArray *members, const char *name)
{
    for (guint i = 0; i < members->len; i++) {
        if (strcmp(member_str(members->pdata[i], "name"), name) == 0)
            return members->pdata[i];
    }
    return NULL;
}

static GPtrArray *enum_values(const QmpJson *info)
{
    GPtrArray *vals = g_ptr_array_new();
    const QmpJson *values = qmp_json_lookup(info, "values");
    if (values && values->type == QMP_JSON_ARRAY) {
        for (const QmpJson *v = values->v.first; v; v = v->next) {
            if (v->type == QMP_JSON_STRING)
                g_ptr_array_add(vals, (gpointer) v->v.s);
        }
    }
    return vals;
}

/* ---- tokens and values ------------------------------------------------------ */

/* Words separated by blanks; '...' and "..." quote (and are removed), JSON
 * objects and arrays are kept whole. */
static GPtrArray *tokenize(const char *line, GError **error)
{
    g_autoptr(GPtrArray) toks = g_ptr_array_new_with_free_func(g_free);
    const char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p || *p == '\n' || *p == '\r')
            break;
        g_autoptr(GString) tok = g_string_new(NULL);
        while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            if (*p == '\'') {
                const char *end = strchr(p + 1, '\'');
                if (!end) {
                    g_set_error(error, QMP_ERROR, QMP_ERROR_INVALID, "unterminated ' quote");
                    return NULL;
                }
                g_string_append_len(tok, p + 1, end - p - 1);
                p = end + 1;
            } else if (*p == '"') {
                p++;
                while (*p && *p != '"') {
                    if (*p == '\\' && p[1]) {
                        p++;
                        g_string_append_c(tok, *p == 'n' ? '\n' : *p == 't' ? '\t' : *p);
                    } else {
                        g_string_append_c(tok, *p);
                    }
                    p++;
                }
                if (*p != '"') {
                    g_set_error(error, QMP_ERROR, QMP_ERROR_INVALID, "unterminated \" quote");
                    return NULL;
                }
                p++;
            } else if (*p == '{' || *p == '[') {
                int depth = 0;
                gboolean in_str = FALSE;
                const char *start = p;
                for (; *p; p++) {
                    if (in_str) {
                        if (*p == '\\' && p[1])
                            p++;
                        else if (*p == '"')
                            in_str = FALSE;
                    } else if (*p == '"') {
                        in_str = TRUE;
                    } else if (*p == '{' || *p == '[') {
                        depth++;
                    } else if (*p == '}' || *p == ']') {
                        if (--depth == 0) {
                            p++;
                            break;
                        }
                    }
                }
                if (depth != 0) {
                    g_set_error(error, QMP_ERROR, QMP_ERROR_INVALID,
                                "unbalanced JSON value '%s'", start);
                    return NULL;
                }
                g_string_append_len(tok, start, p - start);
            } else {
                g_string_append_c(tok, *p++);
            }
        }
        g_ptr_array_add(toks, g_string_free(g_steal_pointer(&tok), FALSE));
    }
    return g_steal_pointer(&toks);
}

static void json_quote(GString *out, const char *s)
{
    g_string_append_c(out, '"');
    qmp_json_append_escaped(out, s, strlen(s));
    g_string_append_c(out, '"');
}

static gboolean is_json(const char *text, QmpJsonType want)
{
    g_autoptr(QmpJsonDoc) doc = qmp_json_parse(text, strlen(text), 0, NULL);
    return doc && (want == (QmpJsonType) -1 || qmp_json_doc_root(doc)->type == want);
}

static char *type_desc(const ShellSchema *s, const char *type, guint depth);

/* The JSON text of value for a member of type at path. */
static char *convert_value(const ShellSchema *s, const char *type, const char *text,
                           const char *path, GError **error)
{
    const QmpJson *info = type_info(s, type);
    const char *meta = meta_of(info);
    g_autoptr(GString) out = g_string_new(NULL);
    if (strcmp(meta, "builtin") == 0) {
        const char *jt = member_str(info, "json-type") ?: "value";
        if (strcmp(jt, "int") == 0) {
            gint64 i;
            guint64 u;
            gboolean hex = g_str_has_prefix(text, "0x") || g_str_has_prefix(text, "0X");
            if (!hex && g_ascii_string_to_signed(text, 10, G_MININT64, G_MAXINT64, &i, NULL))
                g_string_printf(out, "%" G_GINT64_FORMAT, i);
            else if (g_ascii_string_to_unsigned(hex ? text + 2 : text, hex ? 16 : 10, 0,
                                                G_MAXUINT64, &u, NULL))
                g_string_printf(out, "%" G_GUINT64_FORMAT, u);
            else {
                g_set_error(error, QMP_ERROR, QMP_ERROR_INVALID,
                            "%s: expected an integer, got '%s'", path, text);
                return NULL;
            }
        } else if (strcmp(jt, "number") == 0) {
            char *end = NULL;
            double d = g_ascii_strtod(text, &end);
            if (!*text || *end) {
                g_set_error(error, QMP_ERROR, QMP_ERROR_INVALID,
                            "%s: expected a number, got '%s'", path, text);
                return NULL;
            }
            g_string_append(out, text);
            (void) d;
        } else if (strcmp(jt, "boolean") == 0) {
            if (!g_ascii_strcasecmp(text, "true") || !g_ascii_strcasecmp(text, "on") ||
                !g_ascii_strcasecmp(text, "yes"))
                g_string_append(out, "true");
            else if (!g_ascii_strcasecmp(text, "false") || !g_ascii_strcasecmp(text, "off") ||
                     !g_ascii_strcasecmp(text, "no"))
                g_string_append(out, "false");
            else {
                g_set_error(error, QMP_ERROR, QMP_ERROR_INVALID,
                            "%s: expected true or false, got '%s'", path, text);
                return NULL;
            }
        } else if (strcmp(jt, "string") == 0) {
            json_quote(out, text);
        } else if (strcmp(jt, "null") == 0) {
            if (strcmp(text, "null") != 0) {
                g_set_error(error, QMP_ERROR, QMP_ERROR_INVALID,
                            "%s: expected null, got '%s'", path, text);
                return NULL;
            }
            g_string_append(out, "null");
        } else if (is_json(text, (QmpJsonType) -1)) { /* "value": anything */
            g_string_append(out, text);
        } else {
            json_quote(out, text);
        }
    } else if (strcmp(meta, "enum") == 0) {
        g_autoptr(GPtrArray) vals = enum_values(info);
        gboolean ok = FALSE;
        for (guint i = 0; i < vals->len; i++)
            ok |= strcmp(vals->pdata[i], text) == 0;
        if (!ok) {
            g_autoptr(GString) msg = g_string_new(NULL);
            g_string_printf(msg, "%s: '%s' is not one of its values", path, text);
            append_suggestion(msg, text, vals);
            g_autofree char *desc = type_desc(s, type, 0);
            g_string_append_printf(msg, " (%s)", desc);
            g_set_error_literal(error, QMP_ERROR, QMP_ERROR_INVALID, msg->str);
            return NULL;
        }
        json_quote(out, text);
    } else if (strcmp(meta, "array") == 0 || strcmp(meta, "object") == 0) {
        gboolean arr = strcmp(meta, "array") == 0;
        if (!is_json(text, arr ? QMP_JSON_ARRAY : QMP_JSON_OBJECT)) {
            g_set_error(error, QMP_ERROR, QMP_ERROR_INVALID,
                        arr ? "%s: expected a JSON array, got '%s'"
                            : "%s: expected a JSON object (or dotted keys %s.MEMBER=VALUE), got '%s'",
                        path, arr ? text : path, text);
            return NULL;
        }
        g_string_append(out, text);
    } else if (strcmp(meta, "alternate") == 0) {
        /* A JSON value when the text is one (of a type the alternate has),
         * else a string. */
        if (is_json(text, (QmpJsonType) -1))
            g_string_append(out, text);
        else
            json_quote(out, text);
    } else {
        g_set_error(error, QMP_ERROR, QMP_ERROR_INVALID,
                    "%s: the schema's type '%s' is not known", path, type);
        return NULL;
    }
    return g_string_free(g_steal_pointer(&out), FALSE);
}

/* ---- the argument tree --------------------------------------------------------- */

typedef struct ArgNode {
    char *name;
    char *json;          /* a leaf's value, or NULL */
    GPtrArray *children; /* ArgNode *, or NULL for a leaf */
} ArgNode;

static void arg_node_free(gpointer p)
{
    ArgNode *n = p;
    g_free(n->name);
    g_free(n->json);
    if (n->children)
        g_ptr_array_unref(n->children);
    g_free(n);
}

static ArgNode *arg_node_child(ArgNode *parent, const char *name)
{
    for (guint i = 0; i < parent->children->len; i++) {
        ArgNode *c = parent->children->pdata[i];
        if (strcmp(c->name, name) == 0)
            return c;
    }
    return NULL;
}

static void arg_node_write(const ArgNode *n, GString *out)
{
    if (!n->children) {
        g_string_append(out, n->json);
        return;
    }
    g_string_append_c(out, '{');
    for (guint i = 0; i < n->children->len; i++) {
        const ArgNode *c = n->children->pdata[i];
        if (i)
            g_string_append(out, ", ");
        json_quote(out, c->name);
        g_string_append(out, ": ");
        arg_node_write(c, out);
    }
    g_string_append_c(out, '}');
}

static gboolean command_known(const ShellSchema *s, const char *command, GError **error)
{
    if (shell_schema_has_command(s, command))
        return TRUE;
    g_autoptr(GString) msg = g_string_new(NULL);
    g_string_printf(msg, "unknown command '%s'", command);
    append_suggestion(msg, command, s->commands);
    g_set_error_literal(error, QMP_ERROR, QMP_ERROR_UNSUPPORTED, msg->str);
    return FALSE;
}

static void unknown_member(GError **error, const char *command, const char *path,
                           const char *name, GPtrArray *members)
{
    g_autoptr(GString) msg = g_string_new(NULL);
    if (path)
        g_string_printf(msg, "%s: %s has no member '%s'", command, path, name);
    else
        g_string_printf(msg, "command '%s' has no argument '%s'", command, name);
    g_autoptr(GPtrArray) names = member_names(members);
    append_suggestion(msg, name, names);
    if (names->len == 0)
        g_string_append(msg, path ? " (it has no members)" : " (it takes none)");
    g_set_error_literal(error, QMP_ERROR, QMP_ERROR_UNSUPPORTED, msg->str);
}

/* Commands whose arguments the schema does not list in full: device_add
 * takes the device's properties too ('gen': false in QEMU's schema, which
 * introspection does not show). */
static gboolean open_arguments(const char *command)
{
    return strcmp(command, "device_add") == 0;
}

/* A value for an argument the schema does not declare: a JSON number,
 * boolean or null as such, anything else as a string. */
static char *untyped_value(const char *text)
{
    g_autoptr(QmpJsonDoc) doc = qmp_json_parse(text, strlen(text), 0, NULL);
    if (doc) {
        QmpJsonType t = qmp_json_doc_root(doc)->type;
        if (t == QMP_JSON_INT || t == QMP_JSON_DOUBLE || t == QMP_JSON_BOOL || t == QMP_JSON_NULL)
            return g_strdup(text);
    }
    g_autoptr(GString) out = g_string_new(NULL);
    json_quote(out, text);
    return g_string_free(g_steal_pointer(&out), FALSE);
}

/* Add `key=value` (key possibly dotted) under root. */
static gboolean add_pair(const ShellSchema *s, const char *command, ArgNode *root,
                         const char *token, GError **error)
{
    const char *eq = strchr(token, '=');
    if (!eq || eq == token) {
        g_set_error(error, QMP_ERROR, QMP_ERROR_INVALID,
                    "'%s' is not KEY=VALUE (arguments are written name=value)", token);
        return FALSE;
    }
    g_autofree char *key = g_strndup(token, eq - token);
    g_auto(GStrv) parts = g_strsplit(key, ".", -1);
    const QmpJson *obj = command_arg_object(s, command);
    ArgNode *node = root;
    g_autoptr(GString) path = g_string_new(NULL);
    for (guint i = 0; parts[i]; i++) {
        g_autoptr(GPtrArray) members = g_ptr_array_new();
        /* A union whose tag this line already set: that variant. */
        g_autofree char *tag_value = NULL;
        const char *tag = member_str(obj, "tag");
        ArgNode *tag_node = tag ? arg_node_child(node, tag) : NULL;
        if (tag_node && tag_node->json) {
            g_autoptr(QmpJsonDoc) tv = qmp_json_parse(tag_node->json, strlen(tag_node->json), 0, NULL);
            if (tv && qmp_json_get_string(qmp_json_doc_root(tv)))
                tag_value = g_strdup(qmp_json_get_string(qmp_json_doc_root(tv)));
        }
        collect_members_tagged(s, obj, members, 0, tag_value);
        const QmpJson *m = find_member(members, parts[i]);
        if (!m && i == 0 && !parts[1] && open_arguments(command)) {
            if (arg_node_child(node, parts[i])) {
                g_set_error(error, QMP_ERROR, QMP_ERROR_INVALID, "%s is given twice", parts[i]);
                return FALSE;
            }
            ArgNode *leaf = g_new0(ArgNode, 1);
            leaf->name = g_strdup(parts[i]);
            leaf->json = untyped_value(eq + 1);
            g_ptr_array_add(node->children, leaf);
            return TRUE;
        }
        if (!m) {
            unknown_member(error, command, i ? path->str : NULL, parts[i], members);
            return FALSE;
        }
        if (i)
            g_string_append_c(path, '.');
        g_string_append(path, parts[i]);
        const char *type = member_str(m, "type");
        ArgNode *child = arg_node_child(node, parts[i]);
        if (!parts[i + 1]) {
            if (child) {
                g_set_error(error, QMP_ERROR, QMP_ERROR_INVALID, "%s is given twice", path->str);
                return FALSE;
            }
            char *json = convert_value(s, type, eq + 1, path->str, error);
            if (!json)
                return FALSE;
            ArgNode *leaf = g_new0(ArgNode, 1);
            leaf->name = g_strdup(parts[i]);
            leaf->json = json;
            g_ptr_array_add(node->children, leaf);
            return TRUE;
        }
        const QmpJson *tinfo = type_info(s, type);
        if (strcmp(meta_of(tinfo), "object") != 0) {
            g_set_error(error, QMP_ERROR, QMP_ERROR_INVALID,
                        "%s is not an object (it is %s), so %s.%s cannot be set",
                        path->str, meta_of(tinfo), path->str, parts[i + 1]);
            return FALSE;
        }
        if (child && !child->children) {
            g_set_error(error, QMP_ERROR, QMP_ERROR_INVALID,
                        "%s is given both whole and by members", path->str);
            return FALSE;
        }
        if (!child) {
            child = g_new0(ArgNode, 1);
            child->name = g_strdup(parts[i]);
            child->children = g_ptr_array_new_with_free_func(arg_node_free);
            g_ptr_array_add(node->children, child);
        }
        node = child;
        obj = tinfo;
    }
    return TRUE;
}

static gboolean check_args(const ShellSchema *s, const char *command, const QmpJson *args,
                           GError **error)
{
    if (args && args->type == QMP_JSON_OBJECT) {
        g_autoptr(GPtrArray) members = g_ptr_array_new();
        collect_members(s, command_arg_object(s, command), members, 0);
        for (const QmpJson *a = args->v.first; a; a = a->next) {
            g_autofree char *name = g_strndup(a->key, a->key_len);
            if (!find_member(members, name) && !open_arguments(command)) {
                unknown_member(error, command, NULL, name, members);
                return FALSE;
            }
        }
    }
    if (open_arguments(command))
        return TRUE; /* QEMU checks the properties */
    return qmp_schema_check_command(s->check, command, args, error);
}

static ShellRequest *parse_raw(const ShellSchema *s, const char *line, GError **error)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QmpJsonDoc) doc = qmp_json_parse(line, strlen(line), 0, &err);
    if (!doc) {
        g_set_error(error, QMP_ERROR, QMP_ERROR_INVALID, "not valid JSON: %s", err->message);
        return NULL;
    }
    const QmpJson *root = qmp_json_doc_root(doc);
    const char *cmd = member_str(root, "execute");
    QmpExecuteFlags flags = QMP_EXECUTE_NONE;
    if (!cmd && (cmd = member_str(root, "exec-oob")))
        flags = QMP_EXECUTE_OOB;
    if (!cmd) {
        g_set_error(error, QMP_ERROR, QMP_ERROR_INVALID,
                    "a JSON request needs \"execute\" or \"exec-oob\" with a command name");
        return NULL;
    }
    for (const QmpJson *m = root->v.first; m; m = m->next) {
        g_autofree char *k = g_strndup(m->key, m->key_len);
        if (strcmp(k, "execute") && strcmp(k, "exec-oob") && strcmp(k, "arguments") &&
            strcmp(k, "id")) {
            g_set_error(error, QMP_ERROR, QMP_ERROR_INVALID,
                        "a JSON request has no member '%s' (execute, exec-oob, arguments, id)", k);
            return NULL;
        }
    }
    const QmpJson *args = qmp_json_lookup(root, "arguments");
    if (args && args->type != QMP_JSON_OBJECT) {
        g_set_error(error, QMP_ERROR, QMP_ERROR_INVALID, "\"arguments\" must be an object");
        return NULL;
    }
    if (!command_known(s, cmd, error) || !check_args(s, cmd, args, error))
        return NULL;
    ShellRequest *r = g_new0(ShellRequest, 1);
    r->command = g_strdup(cmd);
    r->args_json = args ? qmp_json_to_string(args) : NULL;
    r->flags = flags;
    return r;
}

ShellRequest *shell_schema_parse(const ShellSchema *s, const char *line, GError **error)
{
    const char *p = line;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '{')
        return parse_raw(s, p, error);
    g_autoptr(GPtrArray) toks = tokenize(p, error);
    if (!toks)
        return NULL;
    if (toks->len == 0) {
        g_set_error(error, QMP_ERROR, QMP_ERROR_INVALID, "empty line");
        return NULL;
    }
    const char *cmd = toks->pdata[0];
    if (!command_known(s, cmd, error))
        return NULL;
    ArgNode root = { .children = g_ptr_array_new_with_free_func(arg_node_free) };
    g_autoptr(GPtrArray) children = root.children;
    for (guint i = 1; i < toks->len; i++) {
        if (!add_pair(s, cmd, &root, toks->pdata[i], error))
            return NULL;
    }
    g_autofree char *args_json = NULL;
    if (root.children->len) {
        g_autoptr(GString) out = g_string_new(NULL);
        arg_node_write(&root, out);
        args_json = g_string_free(g_steal_pointer(&out), FALSE);
    }
    g_autoptr(QmpJsonDoc) args = args_json ? qmp_json_parse(args_json, strlen(args_json), 0, error)
                                           : NULL;
    if (args_json && !args)
        return NULL;
    if (!open_arguments(cmd) &&
        !qmp_schema_check_command(s->check, cmd, args ? qmp_json_doc_root(args) : NULL, error))
        return NULL;
    ShellRequest *r = g_new0(ShellRequest, 1);
    r->command = g_strdup(cmd);
    r->args_json = g_steal_pointer(&args_json);
    return r;
}

/* ---- completion ---------------------------------------------------------------- */

static void add_if_prefix(GPtrArray *out, const char *cand, const char *word)
{
    if (g_str_has_prefix(cand, word))
        g_ptr_array_add(out, g_strdup(cand));
}

GPtrArray *shell_schema_complete(const ShellSchema *s, const char *before, const char *word,
                                 const char *const *extra)
{
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
    g_auto(GStrv) words = g_strsplit_set(before, " \t", -1);
    const char *first = NULL;
    for (char **w = words; *w; w++) {
        if (**w) {
            first = *w;
            break;
        }
    }
    if (!first) {
        for (const char *const *e = extra; e && *e; e++)
            add_if_prefix(out, *e, word);
        for (guint i = 0; i < s->commands->len; i++)
            add_if_prefix(out, s->commands->pdata[i], word);
        return out;
    }
    if (strcmp(first, "help") == 0) {
        for (guint i = 0; i < s->commands->len; i++)
            add_if_prefix(out, s->commands->pdata[i], word);
        return out;
    }
    if (!shell_schema_has_command(s, first))
        return out;
    const char *eq = strchr(word, '=');
    g_autofree char *key = eq ? g_strndup(word, eq - word) : g_strdup(word);
    /* Walk the complete parts of the key. */
    g_auto(GStrv) parts = g_strsplit(key, ".", -1);
    guint n = g_strv_length(parts);
    const QmpJson *obj = command_arg_object(s, first);
    guint walk = eq ? n : n - 1;
    const QmpJson *last = NULL;
    for (guint i = 0; i < walk; i++) {
        g_autoptr(GPtrArray) members = g_ptr_array_new();
        collect_members(s, obj, members, 0);
        const QmpJson *m = find_member(members, parts[i]);
        if (!m)
            return out;
        last = type_info(s, member_str(m, "type"));
        if (i + 1 < walk) {
            if (strcmp(meta_of(last), "object") != 0)
                return out;
            obj = last;
        }
    }
    if (eq) {
        /* Values: enum values and booleans. */
        const char *meta = meta_of(last);
        g_autofree char *pfx = g_strndup(word, eq + 1 - word);
        g_autoptr(GPtrArray) vals = NULL;
        if (strcmp(meta, "enum") == 0) {
            vals = enum_values(last);
        } else if (strcmp(meta, "builtin") == 0 &&
                   g_strcmp0(member_str(last, "json-type"), "boolean") == 0) {
            vals = g_ptr_array_new();
            g_ptr_array_add(vals, "true");
            g_ptr_array_add(vals, "false");
        }
        for (guint i = 0; vals && i < vals->len; i++) {
            g_autofree char *c = g_strconcat(pfx, vals->pdata[i], NULL);
            add_if_prefix(out, c, word);
        }
        return out;
    }
    /* Names: the members of the object reached, prefixed with the path. */
    g_autofree char *pfx = g_strndup(word, strlen(word) - strlen(parts[n - 1]));
    g_autoptr(GPtrArray) members = g_ptr_array_new();
    collect_members(s, obj, members, 0);
    for (guint i = 0; i < members->len; i++) {
        const char *name = member_str(members->pdata[i], "name");
        const QmpJson *t = type_info(s, member_str(members->pdata[i], "type"));
        gboolean nested = strcmp(meta_of(t), "object") == 0;
        g_autofree char *c = g_strconcat(pfx, name, nested ? "." : "=", NULL);
        /* Skip top-level arguments the line already sets. */
        gboolean used = FALSE;
        if (!*pfx) {
            g_autofree char *set = g_strconcat(name, nested ? "." : "=", NULL);
            for (char **w = words; *w; w++)
                used |= g_str_has_prefix(*w, set);
        }
        if (!used)
            add_if_prefix(out, c, word);
    }
    return out;
}

/* ---- help ------------------------------------------------------------------------ */

static char *type_desc(const ShellSchema *s, const char *type, guint depth)
{
    const QmpJson *info = type_info(s, type);
    const char *meta = meta_of(info);
    if (strcmp(meta, "builtin") == 0)
        return g_strdup(member_str(info, "json-type") ?: type);
    if (strcmp(meta, "enum") == 0) {
        g_autoptr(GPtrArray) vals = enum_values(info);
        g_autoptr(GString) d = g_string_new("one of ");
        for (guint i = 0; i < vals->len; i++) {
            if (i == 12) {
                g_string_append_printf(d, ", ... (%u values)", vals->len);
                break;
            }
            g_string_append_printf(d, "%s%s", i ? ", " : "", (char *) vals->pdata[i]);
        }
        return g_string_free(g_steal_pointer(&d), FALSE);
    }
    if (strcmp(meta, "array") == 0 && depth < 4) {
        g_autofree char *el = type_desc(s, member_str(info, "element-type"), depth + 1);
        return g_strdup_printf("array of %s", el);
    }
    if (strcmp(meta, "alternate") == 0 && depth < 4) {
        g_autoptr(GString) d = g_string_new("either ");
        const QmpJson *members = qmp_json_lookup(info, "members");
        guint i = 0;
        for (const QmpJson *m = members ? members->v.first : NULL; m; m = m->next, i++) {
            g_autofree char *md = type_desc(s, member_str(m, "type"), depth + 1);
            g_string_append_printf(d, "%s%s", i ? " or " : "", md);
        }
        return g_string_free(g_steal_pointer(&d), FALSE);
    }
    return g_strdup(meta[0] ? meta : "?");
}

static void describe_members(const ShellSchema *s, GString *out, const QmpJson *obj,
                             const char *prefix, guint depth, guint indent)
{
    if (!obj)
        return;
    const QmpJson *members = qmp_json_lookup(obj, "members");
    for (const QmpJson *m = members ? members->v.first : NULL; m; m = m->next) {
        const char *type = member_str(m, "type");
        g_autofree char *desc = type_desc(s, type, 0);
        g_string_append_printf(out, "%*s%s%s: %s%s\n", indent, "", prefix,
                               member_str(m, "name"), desc,
                               qmp_json_lookup(m, "default") ? " (optional)" : "");
        const QmpJson *t = type_info(s, type);
        if (strcmp(meta_of(t), "object") == 0 && depth < 2) {
            g_autofree char *sub = g_strdup_printf("%s%s.", prefix, member_str(m, "name"));
            describe_members(s, out, t, sub, depth + 1, indent);
        }
    }
    const QmpJson *variants = qmp_json_lookup(obj, "variants");
    const char *tag = member_str(obj, "tag");
    for (const QmpJson *v = variants ? variants->v.first : NULL; v; v = v->next) {
        const QmpJson *vt = type_info(s, member_str(v, "type"));
        const QmpJson *vm = qmp_json_lookup(vt, "members");
        if (!vm || vm->len == 0)
            continue;
        g_string_append_printf(out, "%*swhen %s%s=%s:\n", indent, "", prefix, tag ?: "?",
                               member_str(v, "case") ?: "?");
        describe_members(s, out, vt, prefix, depth, indent + 2);
    }
}

char *shell_schema_help(const ShellSchema *s, const char *command, GError **error)
{
    if (!command_known(s, command, error))
        return NULL;
    g_autoptr(GString) out = g_string_new(NULL);
    g_string_append_printf(out, "%s\n\n", command);
    gboolean documented = FALSE;
    for (guint i = 0; i < shell_n_docs; i++) {
        if (strcmp(shell_docs[i].name, command) == 0) {
            g_string_append_printf(out, "%s\n\n", shell_docs[i].text);
            documented = TRUE;
            break;
        }
    }
    if (!documented)
        g_string_append(out, "(qmpkit's schema does not document this command; "
                             "this is what the connected QEMU declares)\n\n");
    const QmpJson *obj = command_arg_object(s, command);
    g_autoptr(GPtrArray) members = g_ptr_array_new();
    collect_members(s, obj, members, 0);
    if (members->len) {
        g_string_append(out, "Arguments in the connected QEMU (write name=value, "
                             "nested members as a.b=value):\n");
        describe_members(s, out, obj, "", 0, 2);
    } else {
        g_string_append(out, "Arguments in the connected QEMU: none.\n");
    }
    const char *ret = member_str(type_info(s, command), "ret-type");
    const QmpJson *rt = type_info(s, ret);
    if (rt && strcmp(meta_of(rt), "object") == 0 && qmp_json_lookup(rt, "members") &&
        qmp_json_lookup(rt, "members")->len) {
        g_string_append(out, "Returns an object:\n");
        describe_members(s, out, rt, "", 1, 2);
    } else if (ret) {
        g_autofree char *rd = type_desc(s, ret, 0);
        g_string_append_printf(out, "Returns: %s.\n", rd);
    }
    return g_string_free(g_steal_pointer(&out), FALSE);
}
