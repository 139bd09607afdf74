/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qmp-codec.c: the table-driven runtime behind every generated type.
 *
 * One walker per operation interprets the QmpTypeInfo tables described in
 * qmp-type-info.h: decoding (codec-decode.c), encoding (codec-encode.c),
 * and here enums, clearing and freeing, equality and copying.  Decoding never
 * formats a string on the success path: when something fails, the innermost
 * call records the message and every caller prepends its own path segment
 * while the stack unwinds.
 */
#include <stdlib.h>
#include "codec-private.h"

/* ---------------------------------------------------------------- enums */

const char *
qmp_enum_to_string(const QmpTypeInfo *type, int value)
{
    if (!type || value < 0 || (guint32) value >= type->n_enum_values)
        return NULL;
    return type->enum_values[value];
}


int
qmp_enum_from_string(const QmpTypeInfo *type, const char *str)
{
    if (!type || !str)
        return -1;
    return enum_lookup(type, str, strlen(str));
}

/* ----------------------------------------------------------------- clear */


void
qmp_codec_clear_scalar(QmpKind kind, const QmpTypeInfo *type, gpointer storage)
{
    switch (kind) {
    case QMP_KIND_STR:
        g_clear_pointer((char **) storage, g_free);
        break;
    case QMP_KIND_ANY:
        g_clear_pointer((QmpJsonDoc **) storage, qmp_json_doc_unref);
        break;
    case QMP_KIND_OBJECT:
    case QMP_KIND_ALTERNATE: {
        gpointer *p = storage;
        qmp_value_free(type, *p);
        *p = NULL;
        break;
    }
    default:
        break;
    }
}

/* Free what the members of an object (at base) own, branch included. */
static void
clear_members(const QmpTypeInfo *type, char *base)
{
    for (guint32 i = 0; i < type->n_members; i++) {
        const QmpMemberInfo *m = &type->members[i];
        qmp_codec_clear_value(&m->value, MEMBER_PTR(base, m),
                    m->len_offset >= 0 ? *MEMBER_LEN(base, m) : 0);
        if (m->len_offset >= 0)
            *MEMBER_LEN(base, m) = 0;
    }
    if (type->discriminator >= 0) {
        const QmpMemberInfo *d = &type->members[type->discriminator];
        const QmpVariantInfo *v = find_variant(type, *(int *) MEMBER_PTR(base, d));
        if (v && v->value.type)
            clear_members(v->value.type, base + type->variants_offset);
    }
}

static void
clear_alternate(const QmpTypeInfo *type, char *base)
{
    const QmpVariantInfo *v = find_variant(type, *(int *) base);
    char *branch = base + type->variants_offset;

    if (!v)
        return;
    if (v->value.kind == QMP_KIND_ARRAY) {
        qmp_codec_clear_value(&v->value, branch, *ALT_LEN(branch));
        *ALT_LEN(branch) = 0;
    } else {
        qmp_codec_clear_value(&v->value, branch, 0);
    }
}

void
qmp_codec_clear_value(const QmpValueInfo *vi, gpointer storage, gsize n)
{
    if (vi->kind == QMP_KIND_ARRAY) {
        char **xs = storage;
        gsize size = kind_size(vi->elem_kind);
        if (!*xs)
            return;
        for (gsize i = 0; i < n; i++)
            qmp_codec_clear_scalar(vi->elem_kind, vi->type, *xs + i * size);
        g_free(*xs);
        *xs = NULL;
        return;
    }
    qmp_codec_clear_scalar(vi->kind, vi->type, storage);
}

void
qmp_value_clear(const QmpValueInfo *vi, gpointer storage, gsize n)
{
    if (!vi || !storage)
        return;
    qmp_codec_clear_value(vi, storage, n);
}

void
qmp_value_free(const QmpTypeInfo *type, gpointer value)
{
    if (!type || !value)
        return;
    if (type->klass == QMP_TYPE_ALTERNATE)
        clear_alternate(type, value);
    else if (type->klass == QMP_TYPE_OBJECT)
        clear_members(type, value);
    g_free(value);
}

/* ----------------------------------------------------------------- equal */

static gboolean equal_value(const QmpValueInfo *vi, gconstpointer a,
                            gconstpointer b, gsize na, gsize nb);

static gboolean
equal_scalar(QmpKind kind, const QmpTypeInfo *type, gconstpointer a,
             gconstpointer b)
{
    if (is_int_kind(kind))
        return load_int(kind, a) == load_int(kind, b);
    switch (kind) {
    case QMP_KIND_NUMBER:
        return *(const double *) a == *(const double *) b;
    case QMP_KIND_BOOL:
    case QMP_KIND_NULL:
        return !*(const gboolean *) a == !*(const gboolean *) b;
    case QMP_KIND_ENUM:
        return *(const int *) a == *(const int *) b;
    case QMP_KIND_STR:
        return g_strcmp0(*(const char *const *) a,
                         *(const char *const *) b) == 0;
    case QMP_KIND_ANY: {
        const QmpJsonDoc *x = *(QmpJsonDoc *const *) a;
        const QmpJsonDoc *y = *(QmpJsonDoc *const *) b;
        if (!x || !y)
            return x == y;
        return qmp_json_equal(qmp_json_doc_root(x), qmp_json_doc_root(y));
    }
    case QMP_KIND_OBJECT:
    case QMP_KIND_ALTERNATE:
        return qmp_value_equal(type, *(gconstpointer const *) a,
                               *(gconstpointer const *) b);
    case QMP_KIND_ARRAY:
    default: /* integers: above */
        break;
    }
    return FALSE;
}

static gboolean
equal_value(const QmpValueInfo *vi, gconstpointer a, gconstpointer b,
            gsize na, gsize nb)
{
    const char *xa, *xb;
    gsize size;

    if (vi->kind != QMP_KIND_ARRAY)
        return equal_scalar(vi->kind, vi->type, a, b);
    if (na != nb)
        return FALSE;
    xa = *(const char *const *) a;
    xb = *(const char *const *) b;
    size = kind_size(vi->elem_kind);
    for (gsize i = 0; i < na; i++) {
        if (!equal_scalar(vi->elem_kind, vi->type, xa + i * size,
                          xb + i * size))
            return FALSE;
    }
    return TRUE;
}

static gboolean
equal_members(const QmpTypeInfo *type, const char *a, const char *b)
{
    for (guint32 i = 0; i < type->n_members; i++) {
        const QmpMemberInfo *m = &type->members[i];
        gboolean pa = member_present(m, a), pb = member_present(m, b);
        if (pa != pb)
            return FALSE;
        if (!pa)
            continue;
        if (!equal_value(&m->value, MEMBER_PTR(a, m), MEMBER_PTR(b, m),
                         m->len_offset >= 0 ? *MEMBER_LEN(a, m) : 0,
                         m->len_offset >= 0 ? *MEMBER_LEN(b, m) : 0))
            return FALSE;
    }
    if (type->discriminator >= 0) {
        const QmpMemberInfo *d = &type->members[type->discriminator];
        const QmpVariantInfo *v = find_variant(type, *(const int *) MEMBER_PTR(a, d));
        if (v && v->value.type)
            return equal_members(v->value.type, a + type->variants_offset,
                                 b + type->variants_offset);
    }
    return TRUE;
}

gboolean
qmp_value_equal(const QmpTypeInfo *type, gconstpointer a, gconstpointer b)
{
    if (a == b)
        return TRUE;
    if (!a || !b || !type)
        return FALSE;
    if (type->klass == QMP_TYPE_ALTERNATE) {
        int ka = *(const int *) a, kb = *(const int *) b;
        const QmpVariantInfo *v;
        if (ka != kb)
            return FALSE;
        v = find_variant(type, ka);
        if (!v)
            return TRUE;
        a = (const char *) a + type->variants_offset;
        b = (const char *) b + type->variants_offset;
        return equal_value(&v->value, a, b, alt_len(v, a), alt_len(v, b));
    }
    return equal_members(type, a, b);
}

/* ------------------------------------------------------------------ copy */

static void
copy_scalar(QmpKind kind, const QmpTypeInfo *type, gconstpointer src,
            gpointer dst)
{
    switch (kind) {
    case QMP_KIND_STR:
        *(char **) dst = g_strdup(*(const char *const *) src);
        break;
    case QMP_KIND_ANY: {
        QmpJsonDoc *doc = *(QmpJsonDoc *const *) src;
        /* Documents are immutable: sharing one is a copy. */
        *(QmpJsonDoc **) dst = doc ? qmp_json_doc_ref(doc) : NULL;
        break;
    }
    case QMP_KIND_OBJECT:
    case QMP_KIND_ALTERNATE:
        *(gpointer *) dst = qmp_value_copy(type, *(gconstpointer const *) src);
        break;
    default:
        memcpy(dst, src, kind_size(kind));
        break;
    }
}

static void
copy_value(const QmpValueInfo *vi, gconstpointer src, gpointer dst, gsize n)
{
    const char *xs;
    char *ys;
    gsize size;

    if (vi->kind != QMP_KIND_ARRAY) {
        copy_scalar(vi->kind, vi->type, src, dst);
        return;
    }
    xs = *(const char *const *) src;
    size = kind_size(vi->elem_kind);
    ys = xs && n ? g_malloc0(n * size) : NULL;
    for (gsize i = 0; ys && i < n; i++)
        copy_scalar(vi->elem_kind, vi->type, xs + i * size, ys + i * size);
    *(char **) dst = ys;
}

/* dst is a byte copy of src; replace every owned pointer by a deep copy. */
static void
copy_members(const QmpTypeInfo *type, const char *src, char *dst)
{
    for (guint32 i = 0; i < type->n_members; i++) {
        const QmpMemberInfo *m = &type->members[i];
        copy_value(&m->value, MEMBER_PTR(src, m), MEMBER_PTR(dst, m),
                   m->len_offset >= 0 ? *MEMBER_LEN(src, m) : 0);
    }
    if (type->discriminator >= 0) {
        const QmpMemberInfo *d = &type->members[type->discriminator];
        const QmpVariantInfo *v = find_variant(type, *(const int *) MEMBER_PTR(src, d));
        if (v && v->value.type)
            copy_members(v->value.type, src + type->variants_offset,
                         dst + type->variants_offset);
    }
}

gpointer
qmp_value_copy(const QmpTypeInfo *type, gconstpointer value)
{
    char *dst;

    if (!type || !value)
        return NULL;
    dst = g_memdup2(value, type->size);
    if (type->klass == QMP_TYPE_ALTERNATE) {
        const QmpVariantInfo *v = find_variant(type, *(const int *) value);
        const char *branch = (const char *) value + type->variants_offset;
        if (v)
            copy_value(&v->value, branch, dst + type->variants_offset,
                       alt_len(v, branch));
    } else {
        copy_members(type, value, dst);
    }
    return dst;
}
