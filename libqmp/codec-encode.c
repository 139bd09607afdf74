/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * codec-encode.c: generated C values into JSON.  One encoder builds a
 * QmpJson tree (what typed calls check and send); the yajl_gen variants
 * generate text from that tree.
 */
#include "codec-private.h"

/* ---------------------------------------------------------------- encode */

/* One encoder: a value becomes a QmpJson tree (what the schema check and
 * the secret redaction read); text is generated from the tree. */

static gboolean encode_value(Ctx *c, const QmpValueInfo *vi,
                             gconstpointer src, gsize n, QmpJsonBuilder *b);
static gboolean encode_object_members(Ctx *c, const QmpTypeInfo *type,
                                      const char *base, QmpJsonBuilder *b);

static gboolean
encode_alternate(Ctx *c, const QmpTypeInfo *type, const char *base,
                 QmpJsonBuilder *b)
{
    int kind = *(const int *) base;
    const QmpVariantInfo *v = find_variant(type, kind);

    if (!v)
        return fail(c, "invalid kind %d for %s", kind, type->name);
    return encode_value(c, &v->value, base + type->variants_offset,
                        alt_len(v, base + type->variants_offset), b);
}

static gboolean
encode_scalar(Ctx *c, QmpKind kind, const QmpTypeInfo *type,
              gconstpointer src, QmpJsonBuilder *b)
{
    if (kind == QMP_KIND_UINT64) {
        qmp_json_builder_uint64(b, *(const guint64 *) src);
        return TRUE;
    }
    if (is_int_kind(kind)) {
        qmp_json_builder_int64(b, load_int(kind, src));
        return TRUE;
    }
    switch (kind) {
    case QMP_KIND_NUMBER:
        if (!qmp_json_builder_double(b, *(const double *) src))
            return fail(c, "number %g has no JSON form", *(const double *) src);
        return TRUE;
    case QMP_KIND_BOOL:
        qmp_json_builder_bool(b, *(const gboolean *) src);
        return TRUE;
    case QMP_KIND_STR: {
        const char *s = *(const char *const *) src;
        if (!s)
            return fail(c, "string is NULL");
        qmp_json_builder_string(b, s, strlen(s));
        return TRUE;
    }
    case QMP_KIND_NULL:
        qmp_json_builder_null(b);
        return TRUE;
    case QMP_KIND_ANY: {
        const QmpJsonDoc *doc = *(QmpJsonDoc *const *) src;
        if (!doc)
            return fail(c, "value is NULL");
        qmp_json_builder_node(b, qmp_json_doc_root(doc));
        return TRUE;
    }
    case QMP_KIND_ENUM: {
        int v = *(const int *) src;
        const char *s = qmp_enum_to_string(type, v);
        if (!s)
            return fail(c, "invalid value %d for %s", v, type->name);
        qmp_json_builder_string(b, s, strlen(s));
        return TRUE;
    }
    case QMP_KIND_OBJECT:
    case QMP_KIND_ALTERNATE: {
        const char *base = *(const char *const *) src;
        if (!base)
            return fail(c, "value is NULL");
        if (type->klass == QMP_TYPE_ALTERNATE)
            return encode_alternate(c, type, base, b);
        qmp_json_builder_begin_object(b);
        if (!encode_object_members(c, type, base, b))
            return FALSE;
        qmp_json_builder_end(b);
        return TRUE;
    }
    case QMP_KIND_ARRAY:
    default: /* integers: above */
        break;
    }
    return fail(c, "nested arrays are not supported");
}

static gboolean
encode_value(Ctx *c, const QmpValueInfo *vi, gconstpointer src, gsize n,
             QmpJsonBuilder *b)
{
    const char *xs;
    gsize size;

    if (vi->kind != QMP_KIND_ARRAY)
        return encode_scalar(c, vi->kind, vi->type, src, b);
    xs = *(const char *const *) src;
    size = kind_size(vi->elem_kind);
    qmp_json_builder_begin_array(b);
    for (gsize i = 0; i < n && xs; i++) {
        if (!encode_scalar(c, vi->elem_kind, vi->type, xs + i * size, b))
            return push_index(c, i);
    }
    qmp_json_builder_end(b);
    return TRUE;
}

static gboolean
encode_object_members(Ctx *c, const QmpTypeInfo *type, const char *base,
                      QmpJsonBuilder *b)
{
    for (guint32 i = 0; i < type->n_members; i++) {
        const QmpMemberInfo *m = &type->members[i];
        if (!member_present(m, base))
            continue;
        qmp_json_builder_key(b, m->name, strlen(m->name));
        if (!encode_value(c, &m->value, MEMBER_PTR(base, m),
                          m->len_offset >= 0 ? *MEMBER_LEN(base, m) : 0, b))
            return push_key(c, m->name, strlen(m->name));
    }
    if (type->discriminator >= 0) {
        const QmpMemberInfo *d = &type->members[type->discriminator];
        const QmpVariantInfo *v = find_variant(type, *(const int *) MEMBER_PTR(base, d));
        /* An invalid discriminator already failed as an enum above. */
        if (v && v->value.type)
            return encode_object_members(c, v->value.type,
                                         base + type->variants_offset, b);
    }
    return TRUE;
}

/* The tree of vi's value at src (n: its element count for arrays), or NULL
 * with a QMP_ERROR_INVALID error naming the path of what is not encodable. */
static QmpJsonDoc *
encode_tree(const QmpValueInfo *vi, gconstpointer src, gsize n,
            GError **error)
{
    Ctx c = { 0 };
    QmpJsonBuilder *b = qmp_json_builder_new();

    if (!encode_value(&c, vi, src, n, b)) {
        qmp_json_builder_free(b);
        ctx_raise(&c, NULL, QMP_ERROR_INVALID, error);
        return NULL;
    }
    return qmp_json_builder_finish(b);
}

static const QmpValueInfo *
object_value_info(const QmpTypeInfo *type, QmpValueInfo *vi)
{
    vi->kind = type->klass == QMP_TYPE_ALTERNATE ? QMP_KIND_ALTERNATE
                                                 : QMP_KIND_OBJECT;
    vi->elem_kind = vi->kind;
    vi->type = type;
    return vi;
}

QmpJsonDoc *
qmp_value_encode_json(const QmpTypeInfo *type, gconstpointer value,
                      GError **error)
{
    QmpValueInfo vi;

    g_return_val_if_fail(type != NULL, NULL);
    if (!value) {
        /* no members: an empty object */
        g_return_val_if_fail(type->klass == QMP_TYPE_OBJECT, NULL);
        QmpJsonBuilder *b = qmp_json_builder_new();
        qmp_json_builder_begin_object(b);
        qmp_json_builder_end(b);
        return qmp_json_builder_finish(b);
    }
    return encode_tree(object_value_info(type, &vi), &value, 0, error);
}

static gboolean
gen_tree(QmpJsonDoc *doc, gboolean members_only, yajl_gen gen, GError **error)
{
    const QmpJson *root;
    yajl_gen_status st = yajl_gen_status_ok;

    if (!doc)
        return FALSE;
    root = qmp_json_doc_root(doc);
    if (!members_only) {
        st = qmp_json_gen(root, gen);
    } else {
        for (const QmpJson *m = root->v.first; m && st == yajl_gen_status_ok;
             m = m->next) {
            st = yajl_gen_string(gen, (const unsigned char *) m->key, m->key_len);
            if (st == yajl_gen_status_ok)
                st = qmp_json_gen(m, gen);
        }
    }
    qmp_json_doc_unref(doc);
    if (st != yajl_gen_status_ok) {
        g_set_error(error, QMP_ERROR, QMP_ERROR_INVALID,
                    "JSON generator failed (yajl status %d)", (int) st);
        return FALSE;
    }
    return TRUE;
}

gboolean
qmp_value_encode(const QmpTypeInfo *type, gconstpointer value, yajl_gen gen,
                 GError **error)
{
    QmpValueInfo vi;

    g_return_val_if_fail(type != NULL && gen != NULL, FALSE);
    return gen_tree(encode_tree(object_value_info(type, &vi), &value, 0, error),
                    FALSE, gen, error);
}

gboolean
qmp_value_encode_from(const QmpValueInfo *vi, gconstpointer src, gsize n,
                      yajl_gen gen, GError **error)
{
    g_return_val_if_fail(vi != NULL && src != NULL && gen != NULL, FALSE);
    return gen_tree(encode_tree(vi, src, n, error), FALSE, gen, error);
}

gboolean
qmp_value_encode_members(const QmpTypeInfo *type, gconstpointer value,
                         yajl_gen gen, GError **error)
{
    g_return_val_if_fail(type != NULL && gen != NULL, FALSE);
    g_return_val_if_fail(type->klass == QMP_TYPE_OBJECT, FALSE);
    if (!value)
        return TRUE;
    return gen_tree(qmp_value_encode_json(type, value, error), TRUE, gen, error);
}

