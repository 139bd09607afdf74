/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * schema-guard.c: opt-in checking of typed calls against the connected
 * server's own schema (its query-qmp-schema answer), so that a command or an
 * argument an older QEMU lacks fails before anything is sent.
 */
#include <string.h>

#include "qmp-command.h"
#include "qmp-error.h"
#include "schema-guard.h"

#define GUARD_KEY "qmpkit-schema-guard"

typedef struct {
    QmpJsonDoc *doc;        /* the SchemaInfo list */
    GHashTable *by_name;    /* name -> const QmpJson * (entity) */
} Guard;

static void
guard_free(gpointer data)
{
    Guard *g = data;

    g_hash_table_unref(g->by_name);
    qmp_json_doc_unref(g->doc);
    g_free(g);
}

gboolean
qmp_monitor_check_schema(QmpMonitor *mon, GError **error)
{
    const QmpJson *ret = NULL;
    QmpJsonDoc *doc;
    Guard *g;

    doc = qmp_monitor_execute(mon, "query-qmp-schema", NULL, 0, NULL, 0,
                              QMP_TIMEOUT_DEFAULT, &ret, error);
    if (doc == NULL)
        return FALSE;
    if (ret == NULL || ret->type != QMP_JSON_ARRAY) {
        qmp_json_doc_unref(doc);
        g_set_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL,
                    "query-qmp-schema did not return an array");
        return FALSE;
    }
    g = g_new0(Guard, 1);
    g->doc = doc;
    g->by_name = g_hash_table_new(g_str_hash, g_str_equal);
    for (const QmpJson *e = ret->v.first; e != NULL; e = e->next) {
        const char *name = qmp_json_get_string(qmp_json_lookup(e, "name"));
        if (name != NULL)
            g_hash_table_insert(g->by_name, (gpointer)name, (gpointer)e);
    }
    g_object_set_data_full(G_OBJECT(mon), GUARD_KEY, g, guard_free);
    return TRUE;
}

static const QmpJson *
entity(Guard *g, const char *name, const char *meta)
{
    const QmpJson *e = g_hash_table_lookup(g->by_name, name);
    const char *m;

    if (e == NULL)
        return NULL;
    m = qmp_json_get_string(qmp_json_lookup(e, "meta-type"));
    return m != NULL && strcmp(m, meta) == 0 ? e : NULL;
}

gboolean
qmp_monitor_has_command(QmpMonitor *mon, const char *command)
{
    Guard *g = g_object_get_data(G_OBJECT(mon), GUARD_KEY);

    return g == NULL || entity(g, command, "command") != NULL;
}

/* Does the object type (by its masked name) or, for unions, the branch the
 * arguments select, have a member called `key`? */
static gboolean
object_has_member(Guard *g, const char *type_name, const QmpJson *args,
                  const char *key, guint depth)
{
    const QmpJson *t = entity(g, type_name, "object");
    const QmpJson *members, *variants, *tag_node;
    const char *tag, *tag_value = NULL;

    if (t == NULL || depth > 8)
        return FALSE;
    members = qmp_json_lookup(t, "members");
    for (const QmpJson *m = members ? members->v.first : NULL; m; m = m->next) {
        const char *n = qmp_json_get_string(qmp_json_lookup(m, "name"));
        if (n != NULL && strcmp(n, key) == 0)
            return TRUE;
    }
    variants = qmp_json_lookup(t, "variants");
    tag = qmp_json_get_string(qmp_json_lookup(t, "tag"));
    if (variants == NULL || tag == NULL)
        return FALSE;
    tag_node = args ? qmp_json_lookup(args, tag) : NULL;
    tag_value = tag_node ? qmp_json_get_string(tag_node) : NULL;
    for (const QmpJson *v = variants->v.first; v; v = v->next) {
        const char *c = qmp_json_get_string(qmp_json_lookup(v, "case"));
        const char *vt = qmp_json_get_string(qmp_json_lookup(v, "type"));
        if (c == NULL || vt == NULL)
            continue;
        if (tag_value != NULL && strcmp(c, tag_value) != 0)
            continue;
        if (object_has_member(g, vt, args, key, depth + 1))
            return TRUE;
    }
    return FALSE;
}

gboolean
qmp_schema_guard_check(QmpMonitor *mon, const char *command,
                       const char *args_json, GError **error)
{
    Guard *g = g_object_get_data(G_OBJECT(mon), GUARD_KEY);
    g_autoptr(QmpJsonDoc) args = NULL;
    const QmpJson *cmd, *root;
    const char *arg_type;

    if (g == NULL)
        return TRUE;
    cmd = entity(g, command, "command");
    if (cmd == NULL) {
        g_set_error(error, QMP_ERROR, QMP_ERROR_UNSUPPORTED,
                    "this QEMU has no command '%s'", command);
        return FALSE;
    }
    if (args_json == NULL)
        return TRUE;
    args = qmp_json_parse(args_json, strlen(args_json), 0, error);
    if (args == NULL)
        return FALSE;
    root = qmp_json_doc_root(args);
    arg_type = qmp_json_get_string(qmp_json_lookup(cmd, "arg-type"));
    for (const QmpJson *m = root->v.first; m != NULL; m = m->next) {
        if (arg_type == NULL ||
            !object_has_member(g, arg_type, root, m->key, 0)) {
            g_set_error(error, QMP_ERROR, QMP_ERROR_UNSUPPORTED,
                        "this QEMU's command '%s' has no argument '%s'",
                        command, m->key);
            return FALSE;
        }
    }
    return TRUE;
}
