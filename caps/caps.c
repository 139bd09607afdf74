/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * caps.c: deciding every capability from the replies a probe collected,
 * and reading the answers back.
 */
#include <string.h>
#include <yajl/yajl_gen.h>

#include "caps-private.h"
#include "caps-rules.h"

QmpCaps *qmp_caps_new(void)
{
    QmpCaps *caps = g_new0(QmpCaps, 1);
    caps->answers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    return caps;
}

void qmp_caps_free(QmpCaps *caps)
{
    if (!caps)
        return;
    g_hash_table_unref(caps->answers);
    g_free(caps->package);
    g_free(caps->source);
    g_free(caps->key);
    g_free(caps);
}

void qmp_caps_set(QmpCaps *caps, const char *name, QmpCapsState state)
{
    g_hash_table_replace(caps->answers, g_strdup(name), GINT_TO_POINTER(state + 1));
}

QmpCapsState qmp_caps_get(const QmpCaps *caps, const char *name)
{
    gpointer v = g_hash_table_lookup(caps->answers, name);
    if (v)
        return (QmpCapsState) (GPOINTER_TO_INT(v) - 1);
    /* not in a complete list: absent */
    if ((caps->commands_known && g_str_has_prefix(name, "command.")) ||
        (caps->migration_known && g_str_has_prefix(name, "migration.")))
        return QMP_CAPS_ABSENT;
    return QMP_CAPS_UNKNOWN;
}

gboolean qmp_caps_has(const QmpCaps *caps, const char *name)
{
    return qmp_caps_get(caps, name) == QMP_CAPS_PRESENT;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

char **qmp_caps_list(const QmpCaps *caps)
{
    guint n = 0;
    char **names = (char **) g_hash_table_get_keys_as_array(caps->answers, &n);
    char **out = g_new(char *, n + 1);
    for (guint i = 0; i < n; i++)
        out[i] = g_strdup(names[i]);
    out[n] = NULL;
    g_free(names);
    qsort(out, n, sizeof(char *), cmp_str);
    return out;
}

gboolean qmp_caps_get_version(const QmpCaps *caps, int *major, int *minor, int *micro)
{
    if (major)
        *major = caps->version[0];
    if (minor)
        *minor = caps->version[1];
    if (micro)
        *micro = caps->version[2];
    return caps->have_version;
}

const char *qmp_caps_get_package(const QmpCaps *caps)
{
    return caps->package;
}

const char *qmp_caps_get_source(const QmpCaps *caps)
{
    return caps->source;
}

gboolean qmp_caps_is_cached(const QmpCaps *caps)
{
    return caps->cached;
}

static const QmpCapsRule *find_rule(const char *name)
{
    for (guint i = 0; i < qmp_caps_n_rules; i++)
        if (strcmp(qmp_caps_rules[i].name, name) == 0)
            return &qmp_caps_rules[i];
    return NULL;
}

const char *qmp_caps_describe(const char *name)
{
    const QmpCapsRule *r = find_rule(name);
    return r ? r->doc : NULL;
}

const char *qmp_caps_libvirt_flag(const char *name)
{
    const QmpCapsRule *r = find_rule(name);
    return r ? r->libvirt : NULL;
}

/* ---- inputs -------------------------------------------------------------- */

void qmp_caps_inputs_init(QmpCapsInputs *in)
{
    memset(in, 0, sizeof(*in));
    while (qmp_caps_qom_property_types[in->n_props])
        in->n_props++;
    in->props = g_new0(QmpCapsReply, in->n_props + 1);
}

static void reply_clear(QmpCapsReply *r)
{
    qmp_json_doc_unref(r->doc);
    g_clear_error(&r->error);
    memset(r, 0, sizeof(*r));
}

void qmp_caps_inputs_clear(QmpCapsInputs *in)
{
    g_strfreev(in->greeting_caps);
    g_free(in->package);
    reply_clear(&in->schema);
    reply_clear(&in->commands);
    reply_clear(&in->version_reply);
    reply_clear(&in->migration);
    reply_clear(&in->types);
    for (guint i = 0; i < in->n_props; i++)
        reply_clear(&in->props[i]);
    g_free(in->props);
    memset(in, 0, sizeof(*in));
}

/* ---- query-qmp-schema path queries ---------------------------------------- */

static const char *str_member(const QmpJson *o, const char *key)
{
    return o ? qmp_json_get_string(qmp_json_lookup(o, key)) : NULL;
}

static gboolean array_has_string(const QmpJson *arr, const char *s)
{
    if (!arr || arr->type != QMP_JSON_ARRAY)
        return FALSE;
    for (const QmpJson *e = arr->v.first; e; e = e->next)
        if (e->type == QMP_JSON_STRING && strcmp(e->v.s, s) == 0)
            return TRUE;
    return FALSE;
}

/* The element of array of objects arr whose member key is value. */
static const QmpJson *array_find(const QmpJson *arr, const char *key, const char *value)
{
    if (!arr || arr->type != QMP_JSON_ARRAY)
        return NULL;
    for (const QmpJson *e = arr->v.first; e; e = e->next)
        if (g_strcmp0(str_member(e, key), value) == 0)
            return e;
    return NULL;
}

/* The type named name, looking through arrays. */
static const QmpJson *schema_type(GHashTable *idx, const char *name)
{
    const QmpJson *t = name ? g_hash_table_lookup(idx, name) : NULL;
    for (int depth = 0; t && depth < 8; depth++) {
        if (g_strcmp0(str_member(t, "meta-type"), "array") != 0)
            return t;
        t = g_hash_table_lookup(idx, str_member(t, "element-type") ?: "");
    }
    return t;
}

static QmpCapsState schema_path(GHashTable *idx, const char *const *path)
{
    const QmpJson *ent = g_hash_table_lookup(idx, path[0]);
    const char *meta = str_member(ent, "meta-type");
    if (g_strcmp0(meta, "command") != 0 && g_strcmp0(meta, "event") != 0)
        return QMP_CAPS_ABSENT;
    const QmpJson *member = NULL;
    for (guint i = 1; path[i]; i++) {
        const char *s = path[i];
        if (s[0] == '$')
            return array_has_string(qmp_json_lookup(member ? member : ent, "features"), s + 1)
                       ? QMP_CAPS_PRESENT : QMP_CAPS_ABSENT;
        if (strcmp(s, "arg-type") == 0 || strcmp(s, "ret-type") == 0) {
            ent = schema_type(idx, str_member(ent, s));
            if (!ent)
                return QMP_CAPS_ABSENT;
            continue;
        }
        if (member) {
            ent = schema_type(idx, str_member(member, "type"));
            member = NULL;
            if (!ent)
                return QMP_CAPS_ABSENT;
        }
        if (s[0] == '+') {
            const QmpJson *v = array_find(qmp_json_lookup(ent, "variants"), "case", s + 1);
            ent = v ? schema_type(idx, str_member(v, "type")) : NULL;
            if (!ent)
                return QMP_CAPS_ABSENT;
        } else if (s[0] == '^') {
            if (!array_has_string(qmp_json_lookup(ent, "values"), s + 1))
                return QMP_CAPS_ABSENT;
        } else {
            member = array_find(qmp_json_lookup(ent, "members"), "name", s);
            if (!member || g_strcmp0(str_member(ent, "meta-type"), "object") != 0)
                return QMP_CAPS_ABSENT;
        }
    }
    return QMP_CAPS_PRESENT;
}

/* ---- deciding ------------------------------------------------------------- */

static gboolean reply_ok(const QmpCapsReply *r, QmpJsonType type)
{
    return r->doc && r->ret && r->ret->type == type;
}

/* Did QEMU itself answer "no such command" (not a recording's gap)? */
static gboolean reply_not_found(const QmpCapsReply *r)
{
    return r->error && r->error->domain == QMP_COMMAND_ERROR &&
           r->error->code == QMP_COMMAND_ERROR_COMMAND_NOT_FOUND;
}

static QmpCapsState version_at_least(const QmpCapsInputs *in, const int *want)
{
    if (!in->have_version)
        return QMP_CAPS_UNKNOWN;
    for (int i = 0; i < 3; i++)
        if (in->version[i] != want[i])
            return in->version[i] > want[i] ? QMP_CAPS_PRESENT : QMP_CAPS_ABSENT;
    return QMP_CAPS_PRESENT;
}

/* An answer from a reply that lists things by member key (NULL: strings). */
static QmpCapsState listed(const QmpCapsReply *r, gboolean from_recording,
                           const char *key, const char *value)
{
    if (!reply_ok(r, QMP_JSON_ARRAY))
        return reply_not_found(r) ? QMP_CAPS_ABSENT : QMP_CAPS_UNKNOWN;
    return array_find(r->ret, key, value) ? QMP_CAPS_PRESENT : QMP_CAPS_ABSENT;
}

static QmpCapsState qom_property(const QmpCapsInputs *in, const QmpCapsRule *rule)
{
    for (guint i = 0; i < in->n_props; i++) {
        if (strcmp(qmp_caps_qom_property_types[i], rule->arg) != 0)
            continue;
        const QmpCapsReply *r = &in->props[i];
        if (reply_ok(r, QMP_JSON_ARRAY))
            return array_find(r->ret, "name", rule->arg2) ? QMP_CAPS_PRESENT : QMP_CAPS_ABSENT;
        /* QEMU refuses an unknown type; a recording's refusal may only be
         * a gap in the recording. */
        if (r->error && r->error->domain == QMP_COMMAND_ERROR && !in->from_recording)
            return QMP_CAPS_ABSENT;
        return reply_not_found(r) ? QMP_CAPS_ABSENT : QMP_CAPS_UNKNOWN;
    }
    return QMP_CAPS_UNKNOWN;
}

QmpCaps *qmp_caps_evaluate(QmpCapsInputs *in, const char *source)
{
    QmpCaps *caps = qmp_caps_new();
    caps->source = g_strdup(source);

    if (!in->have_version && reply_ok(&in->version_reply, QMP_JSON_OBJECT)) {
        const QmpJson *q = qmp_json_lookup(in->version_reply.ret, "qemu");
        const char *keys[] = { "major", "minor", "micro" };
        gint64 v[3];
        gboolean ok = q != NULL;
        for (int i = 0; ok && i < 3; i++)
            ok = qmp_json_get_int64(qmp_json_lookup(q, keys[i]), &v[i]);
        if (ok) {
            in->have_version = TRUE;
            for (int i = 0; i < 3; i++)
                in->version[i] = (int) v[i];
            g_free(in->package);
            in->package = g_strdup(str_member(in->version_reply.ret, "package"));
        }
    }
    caps->have_version = in->have_version;
    memcpy(caps->version, in->version, sizeof(caps->version));
    caps->package = g_strdup(in->package);

    /* command.X for every command, from the schema or query-commands */
    g_autoptr(GHashTable) idx = NULL;
    gboolean have_commands = FALSE;
    if (reply_ok(&in->schema, QMP_JSON_ARRAY)) {
        idx = g_hash_table_new(g_str_hash, g_str_equal);
        for (const QmpJson *e = in->schema.ret->v.first; e; e = e->next) {
            const char *name = str_member(e, "name");
            if (!name)
                continue;
            g_hash_table_insert(idx, (gpointer) name, (gpointer) e);
            if (g_strcmp0(str_member(e, "meta-type"), "command") == 0) {
                g_autofree char *n = g_strconcat("command.", name, NULL);
                qmp_caps_set(caps, n, QMP_CAPS_PRESENT);
            }
        }
        have_commands = TRUE;
    } else if (reply_ok(&in->commands, QMP_JSON_ARRAY)) {
        for (const QmpJson *e = in->commands.ret->v.first; e; e = e->next) {
            const char *name = str_member(e, "name");
            if (name) {
                g_autofree char *n = g_strconcat("command.", name, NULL);
                qmp_caps_set(caps, n, QMP_CAPS_PRESENT);
            }
        }
        have_commands = TRUE;
    }

    caps->commands_known = have_commands;
    /* migration.X for every capability listed */
    if (reply_ok(&in->migration, QMP_JSON_ARRAY)) {
        caps->migration_known = TRUE;
        for (const QmpJson *e = in->migration.ret->v.first; e; e = e->next) {
            const char *name = str_member(e, "capability");
            if (name) {
                g_autofree char *n = g_strconcat("migration.", name, NULL);
                qmp_caps_set(caps, n, QMP_CAPS_PRESENT);
            }
        }
    }

    for (guint i = 0; i < qmp_caps_n_rules; i++) {
        const QmpCapsRule *r = &qmp_caps_rules[i];
        QmpCapsState st = QMP_CAPS_UNKNOWN;
        switch (r->kind) {
        case QMP_CAPS_RULE_COMMAND:
            if (have_commands) {
                g_autofree char *n = g_strconcat("command.", r->arg, NULL);
                st = g_hash_table_contains(caps->answers, n) ? QMP_CAPS_PRESENT : QMP_CAPS_ABSENT;
            }
            break;
        case QMP_CAPS_RULE_EVENT:
            if (idx) {
                const QmpJson *e = g_hash_table_lookup(idx, r->arg);
                st = g_strcmp0(str_member(e, "meta-type"), "event") == 0 ? QMP_CAPS_PRESENT
                                                                          : QMP_CAPS_ABSENT;
            }
            break;
        case QMP_CAPS_RULE_SCHEMA:
            if (idx)
                st = schema_path(idx, r->path);
            break;
        case QMP_CAPS_RULE_MIGRATION:
            st = listed(&in->migration, in->from_recording, "capability", r->arg);
            break;
        case QMP_CAPS_RULE_QOM_TYPE:
            st = listed(&in->types, in->from_recording, "name", r->arg);
            break;
        case QMP_CAPS_RULE_QOM_PROPERTY:
            st = qom_property(in, r);
            break;
        case QMP_CAPS_RULE_VERSION:
            st = version_at_least(in, r->version);
            break;
        case QMP_CAPS_RULE_QMP_CAPABILITY:
            if (in->have_greeting)
                st = in->greeting_caps && g_strv_contains((const char *const *) in->greeting_caps,
                                                          r->arg)
                         ? QMP_CAPS_PRESENT : QMP_CAPS_ABSENT;
            break;
        }
        qmp_caps_set(caps, r->name, st);
    }
    return caps;
}

/* ---- JSON output ---------------------------------------------------------- */

static void gen_str(yajl_gen g, const char *s)
{
    yajl_gen_string(g, (const unsigned char *) s, strlen(s));
}

char *qmp_caps_to_json(const QmpCaps *caps)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_gen_config(g, yajl_gen_beautify, 1);
    yajl_gen_map_open(g);
    gen_str(g, "version");
    if (caps->have_version) {
        g_autofree char *v = g_strdup_printf("%d.%d.%d", caps->version[0], caps->version[1],
                                             caps->version[2]);
        gen_str(g, v);
    } else {
        yajl_gen_null(g);
    }
    gen_str(g, "package");
    if (caps->package)
        gen_str(g, caps->package);
    else
        yajl_gen_null(g);
    gen_str(g, "source");
    if (caps->source)
        gen_str(g, caps->source);
    else
        yajl_gen_null(g);
    gen_str(g, "capabilities");
    yajl_gen_map_open(g);
    g_auto(GStrv) names = qmp_caps_list(caps);
    for (char **n = names; *n; n++) {
        gen_str(g, *n);
        QmpCapsState st = qmp_caps_get(caps, *n);
        if (st == QMP_CAPS_UNKNOWN)
            yajl_gen_null(g);
        else
            yajl_gen_bool(g, st == QMP_CAPS_PRESENT);
    }
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);
    const unsigned char *buf;
    size_t len;
    yajl_gen_get_buf(g, &buf, &len);
    char *out = g_strndup((const char *) buf, len);
    yajl_gen_free(g);
    return out;
}
