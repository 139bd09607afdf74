/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qmp-codec.c: the table-driven runtime behind every generated type.
 *
 * One walker per operation (decode, encode, clear, equal, copy) interprets
 * the QmpTypeInfo tables described in qmp-type-info.h.  Decoding never
 * formats a string on the success path: when something fails, the innermost
 * call records the message and every caller prepends its own path segment
 * while the stack unwinds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qmp-error.h"
#include "qmp-type-info.h"

/* Unions can nest (a branch that is itself a union); this bounds how many
 * levels of flattened members one JSON object may hold. */
#define MAX_LAYERS 8

/* ---------------------------------------------------------------- paths */

typedef struct {
    QmpDecodeFlags flags;
    char *msg;          /* the failure, set once by the innermost failure */
    GString *segs;      /* path below the caller's prefix, built backwards */
    gboolean scratch_busy; /* an array is being decoded into array_scratch */
} Ctx;

static gboolean G_GNUC_PRINTF(2, 3)
fail(Ctx *c, const char *fmt, ...)
{
    va_list ap;

    g_assert(c->msg == NULL);
    va_start(ap, fmt);
    c->msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    c->segs = g_string_new(NULL);
    return FALSE;
}

static gboolean
push_key(Ctx *c, const char *key, gsize len)
{
    g_string_prepend_len(c->segs, key, len);
    g_string_prepend_c(c->segs, '.');
    return FALSE;
}

static gboolean
push_index(Ctx *c, gsize i)
{
    char buf[32];

    snprintf(buf, sizeof(buf), "[%" G_GSIZE_FORMAT "]", i);
    g_string_prepend(c->segs, buf);
    return FALSE;
}

/* Turn the recorded failure into a GError: "PREFIX.SEGS: message". */
static void
ctx_raise(Ctx *c, const char *prefix, gint code, GError **error)
{
    const char *segs = c->segs->str;
    g_autoptr(GString) path = g_string_new(prefix ? prefix : "");

    if (path->len == 0 && segs[0] == '.')
        segs++;
    g_string_append(path, segs);
    if (path->len)
        g_set_error(error, QMP_ERROR, code, "%s: %s", path->str, c->msg);
    else
        g_set_error_literal(error, QMP_ERROR, code, c->msg);
    g_free(c->msg);
    g_string_free(c->segs, TRUE);
}

/* -------------------------------------------------------------- storage */

static gsize
kind_size(QmpKind kind)
{
    switch (kind) {
    case QMP_KIND_INT8:
    case QMP_KIND_UINT8:
        return 1;
    case QMP_KIND_INT16:
    case QMP_KIND_UINT16:
        return 2;
    case QMP_KIND_INT32:
    case QMP_KIND_UINT32:
        return 4;
    case QMP_KIND_INT64:
    case QMP_KIND_UINT64:
        return 8;
    case QMP_KIND_NUMBER:
        return sizeof(double);
    case QMP_KIND_BOOL:
    case QMP_KIND_NULL:
        return sizeof(gboolean);
    case QMP_KIND_ENUM:
        return sizeof(int);
    case QMP_KIND_STR:
    case QMP_KIND_ANY:
    case QMP_KIND_OBJECT:
    case QMP_KIND_ALTERNATE:
    case QMP_KIND_ARRAY:
        return sizeof(gpointer);
    }
    return sizeof(gpointer);
}

static const char *
kind_name(QmpKind kind)
{
    switch (kind) {
    case QMP_KIND_INT8: return "int8";
    case QMP_KIND_INT16: return "int16";
    case QMP_KIND_INT32: return "int32";
    case QMP_KIND_INT64: return "int64";
    case QMP_KIND_UINT8: return "uint8";
    case QMP_KIND_UINT16: return "uint16";
    case QMP_KIND_UINT32: return "uint32";
    case QMP_KIND_UINT64: return "uint64";
    case QMP_KIND_NUMBER: return "number";
    case QMP_KIND_BOOL: return "bool";
    case QMP_KIND_STR: return "string";
    case QMP_KIND_NULL: return "null";
    case QMP_KIND_ANY: return "any";
    case QMP_KIND_ENUM: return "string";
    case QMP_KIND_OBJECT: return "object";
    case QMP_KIND_ALTERNATE: return "alternate";
    case QMP_KIND_ARRAY: return "array";
    }
    return "value";
}

/* The JSON type a scalar or object kind is written as. */
static const char *
kind_json_name(QmpKind kind)
{
    if (kind <= QMP_KIND_UINT64)
        return "int";
    return kind_name(kind);
}

static gboolean
is_int_kind(QmpKind kind)
{
    return kind <= QMP_KIND_UINT64;
}

/* Storage of a scalar kind, read as a signed or unsigned 64-bit value. */
static gint64
load_int(QmpKind kind, gconstpointer p)
{
    switch (kind) {
    case QMP_KIND_INT8: return *(const gint8 *) p;
    case QMP_KIND_INT16: return *(const gint16 *) p;
    case QMP_KIND_INT32: return *(const gint32 *) p;
    case QMP_KIND_INT64: return *(const gint64 *) p;
    case QMP_KIND_UINT8: return *(const guint8 *) p;
    case QMP_KIND_UINT16: return *(const guint16 *) p;
    case QMP_KIND_UINT32: return *(const guint32 *) p;
    case QMP_KIND_UINT64: return (gint64) *(const guint64 *) p;
    default: return 0;
    }
}

static const QmpTypeInfo *
type_of(const QmpValueInfo *vi)
{
    return vi->type;
}

/* The variant of a union whose tag is `tag`, or NULL. */
static const QmpVariantInfo *
find_variant(const QmpTypeInfo *type, int tag)
{
    if (tag >= 0 && (guint32) tag < type->n_variants &&
        type->variants[tag].tag == tag)
        return &type->variants[tag];
    for (guint32 i = 0; i < type->n_variants; i++) {
        if (type->variants[i].tag == tag)
            return &type->variants[i];
    }
    return NULL;
}

/* An alternate's array branch is `struct { T *data; gsize n; }`: the count
 * follows the element pointer. */
#define ALT_LEN(branch) ((gsize *) ((char *) (branch) + sizeof(gpointer)))

/* The element count of an alternate's branch (0 unless an array). */
static gsize
alt_len(const QmpVariantInfo *v, gconstpointer branch)
{
    return v->value.kind == QMP_KIND_ARRAY ? *ALT_LEN(branch) : 0;
}

/* Where a member's value lives in its struct. */
#define MEMBER_PTR(base, m) ((char *) (base) + (m)->offset)
#define MEMBER_LEN(base, m) ((gsize *) ((char *) (base) + (m)->len_offset))
#define MEMBER_HAS(base, m) ((gboolean *) ((char *) (base) + (m)->has_offset))

/* Is a member present in a value?  Mandatory members always are. */
static gboolean
member_present(const QmpMemberInfo *m, gconstpointer base)
{
    if (m->has_offset >= 0)
        return *MEMBER_HAS(base, m);
    if (!(m->flags & QMP_INFO_OPTIONAL))
        return TRUE;
    switch (m->value.kind) {
    case QMP_KIND_STR:
    case QMP_KIND_ANY:
    case QMP_KIND_OBJECT:
    case QMP_KIND_ALTERNATE:
    case QMP_KIND_ARRAY:
        return *(gpointer const *) MEMBER_PTR(base, m) != NULL;
    default:
        return TRUE;
    }
}

/* ---------------------------------------------------------------- enums */

const char *
qmp_enum_to_string(const QmpTypeInfo *type, int value)
{
    if (!type || value < 0 || (guint32) value >= type->n_enum_values)
        return NULL;
    return type->enum_values[value];
}

static int
enum_lookup(const QmpTypeInfo *type, const char *s, gsize len)
{
    for (guint32 i = 0; i < type->n_enum_values; i++) {
        const char *v = type->enum_values[i];
        if (v[0] == s[0] && strncmp(v, s, len) == 0 && v[len] == '\0')
            return (int) i;
    }
    return -1;
}

int
qmp_enum_from_string(const QmpTypeInfo *type, const char *str)
{
    if (!type || !str)
        return -1;
    return enum_lookup(type, str, strlen(str));
}

/* ----------------------------------------------------------------- clear */

static void clear_value(const QmpValueInfo *vi, gpointer storage, gsize n);

static void
clear_scalar(QmpKind kind, const QmpTypeInfo *type, gpointer storage)
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
        clear_value(&m->value, MEMBER_PTR(base, m),
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
        clear_value(&v->value, branch, *ALT_LEN(branch));
        *ALT_LEN(branch) = 0;
    } else {
        clear_value(&v->value, branch, 0);
    }
}

static void
clear_value(const QmpValueInfo *vi, gpointer storage, gsize n)
{
    if (vi->kind == QMP_KIND_ARRAY) {
        char **xs = storage;
        gsize size = kind_size(vi->elem_kind);
        if (!*xs)
            return;
        for (gsize i = 0; i < n; i++)
            clear_scalar(vi->elem_kind, vi->type, *xs + i * size);
        g_free(*xs);
        *xs = NULL;
        return;
    }
    clear_scalar(vi->kind, vi->type, storage);
}

void
qmp_value_clear(const QmpValueInfo *vi, gpointer storage, gsize n)
{
    if (!vi || !storage)
        return;
    clear_value(vi, storage, n);
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

/* ---------------------------------------------------------------- decode */

static gboolean decode_value(Ctx *c, const QmpValueInfo *vi,
                             const QmpJson *json, gpointer dest, gsize *n_out);
static gboolean decode_object(Ctx *c, const QmpTypeInfo *type,
                              const QmpJson *json, char *base);

static gboolean
mismatch(Ctx *c, const char *expected, const QmpJson *json)
{
    return fail(c, "expected %s, got %s", expected,
                qmp_json_type_name(json->type));
}

static gboolean
decode_int(Ctx *c, QmpKind kind, const QmpJson *json, gpointer dest)
{
    gint64 lo = 0;
    guint64 hi = 0;
    gboolean neg;

    if (json->type != QMP_JSON_INT)
        return mismatch(c, "int", json);
    neg = !json->is_unsigned && json->v.i < 0;
    switch (kind) {
    case QMP_KIND_INT8: lo = G_MININT8; hi = G_MAXINT8; break;
    case QMP_KIND_INT16: lo = G_MININT16; hi = G_MAXINT16; break;
    case QMP_KIND_INT32: lo = G_MININT32; hi = G_MAXINT32; break;
    case QMP_KIND_INT64: lo = G_MININT64; hi = G_MAXINT64; break;
    case QMP_KIND_UINT8: hi = G_MAXUINT8; break;
    case QMP_KIND_UINT16: hi = G_MAXUINT16; break;
    case QMP_KIND_UINT32: hi = G_MAXUINT32; break;
    default: hi = G_MAXUINT64; break;
    }
    if (neg ? json->v.i < lo : json->v.u > hi) {
        if (json->is_unsigned)
            return fail(c, "integer %" G_GUINT64_FORMAT " out of range for %s",
                        json->v.u, kind_name(kind));
        return fail(c, "integer %" G_GINT64_FORMAT " out of range for %s",
                    json->v.i, kind_name(kind));
    }
    switch (kind) {
    case QMP_KIND_INT8: *(gint8 *) dest = (gint8) json->v.i; break;
    case QMP_KIND_INT16: *(gint16 *) dest = (gint16) json->v.i; break;
    case QMP_KIND_INT32: *(gint32 *) dest = (gint32) json->v.i; break;
    case QMP_KIND_INT64: *(gint64 *) dest = json->v.i; break;
    case QMP_KIND_UINT8: *(guint8 *) dest = (guint8) json->v.u; break;
    case QMP_KIND_UINT16: *(guint16 *) dest = (guint16) json->v.u; break;
    case QMP_KIND_UINT32: *(guint32 *) dest = (guint32) json->v.u; break;
    default: *(guint64 *) dest = json->v.u; break;
    }
    return TRUE;
}

static gboolean
decode_enum(Ctx *c, const QmpTypeInfo *type, const QmpJson *json, int *dest)
{
    int v;

    if (json->type != QMP_JSON_STRING)
        return mismatch(c, "string", json);
    v = json->len ? enum_lookup(type, json->v.s, json->len) : -1;
    if (v < 0 && (c->flags & QMP_DECODE_STRICT))
        return fail(c, "invalid value '%s' for %s", json->v.s, type->name);
    *dest = v;
    return TRUE;
}

/* Does a branch of kind k take a JSON value of type t as it is? */
static gboolean
kind_takes(QmpKind k, QmpJsonType t)
{
    switch (t) {
    case QMP_JSON_NULL: return k == QMP_KIND_NULL;
    case QMP_JSON_BOOL: return k == QMP_KIND_BOOL;
    case QMP_JSON_INT: return is_int_kind(k);
    case QMP_JSON_DOUBLE: return k == QMP_KIND_NUMBER;
    case QMP_JSON_STRING: return k == QMP_KIND_STR || k == QMP_KIND_ENUM;
    case QMP_JSON_OBJECT: return k == QMP_KIND_OBJECT;
    case QMP_JSON_ARRAY: return k == QMP_KIND_ARRAY;
    }
    return FALSE;
}

/* Which branch of an alternate takes a JSON value, or NULL.  An integer
 * goes to a number branch when no integer branch takes it. */
static const QmpVariantInfo *
alternate_branch(const QmpTypeInfo *type, const QmpJson *json)
{
    const QmpVariantInfo *number = NULL;

    for (guint32 i = 0; i < type->n_variants; i++) {
        const QmpVariantInfo *v = &type->variants[i];
        if (kind_takes(v->value.kind, json->type))
            return v;
        if (json->type == QMP_JSON_INT && v->value.kind == QMP_KIND_NUMBER)
            number = v;
    }
    return number;
}

static gboolean
decode_alternate(Ctx *c, const QmpTypeInfo *type, const QmpJson *json,
                 char *base)
{
    const QmpVariantInfo *v = alternate_branch(type, json);

    if (!v) {
        g_autoptr(GString) exp = g_string_new(NULL);
        for (guint32 i = 0; i < type->n_variants; i++) {
            if (i > 0)
                g_string_append(exp, i + 1 == type->n_variants ? " or " : ", ");
            g_string_append(exp, kind_json_name(type->variants[i].value.kind));
        }
        return mismatch(c, exp->str, json);
    }
    *(int *) base = v->tag;
    return decode_value(c, &v->value, json, base + type->variants_offset,
                        v->value.kind == QMP_KIND_ARRAY
                            ? ALT_LEN(base + type->variants_offset) : NULL);
}

/* Memory for decoded values: malloc itself (g_free is free), without
 * g_malloc's extra call on the path every string and struct takes; on
 * failure g_malloc aborts as usual. */
static inline gpointer
alloc(gsize size)
{
    gpointer p = malloc(size);

    return G_LIKELY(p) ? p : g_malloc(size);
}

/* Zeroed memory.  glibc's calloc bypasses its per-thread cache of freed
 * blocks (malloc does not), so malloc + memset is the fast way for the
 * many small blocks a decode makes. */
static inline gpointer
alloc0(gsize size)
{
    return memset(alloc(size), 0, size);
}

/* Decode an object or alternate into newly allocated storage at *dest. */
static gboolean
decode_new(Ctx *c, const QmpTypeInfo *type, const QmpJson *json,
           gpointer *dest)
{
    char *base;
    gboolean ok;

    if (type->klass == QMP_TYPE_ALTERNATE) {
        base = alloc0(type->size);
        ok = decode_alternate(c, type, json, base);
    } else {
        if (json->type != QMP_JSON_OBJECT)
            return mismatch(c, "object", json);
        base = alloc0(type->size);
        ok = decode_object(c, type, json, base);
    }
    if (!ok) {
        qmp_value_free(type, base);
        return FALSE;
    }
    *dest = base;
    return TRUE;
}

static gboolean
decode_scalar(Ctx *c, QmpKind kind, const QmpTypeInfo *type,
              const QmpJson *json, gpointer dest)
{
    if (is_int_kind(kind))
        return decode_int(c, kind, json, dest);
    switch (kind) {
    case QMP_KIND_NUMBER:
        if (!qmp_json_get_double(json, dest))
            return mismatch(c, "number", json);
        return TRUE;
    case QMP_KIND_BOOL:
    case QMP_KIND_NULL:
        if (json->type != (kind == QMP_KIND_BOOL ? QMP_JSON_BOOL : QMP_JSON_NULL))
            return mismatch(c, kind_json_name(kind), json);
        *(gboolean *) dest = kind == QMP_KIND_BOOL ? json->v.b : TRUE;
        return TRUE;
    case QMP_KIND_STR:
        if (json->type != QMP_JSON_STRING)
            return mismatch(c, "string", json);
        /* The node's text is NUL-terminated: one copy, no scan. */
        *(char **) dest = memcpy(alloc(json->len + 1), json->v.s,
                                 json->len + 1);
        return TRUE;
    case QMP_KIND_ANY:
        *(QmpJsonDoc **) dest = qmp_json_copy(json);
        return TRUE;
    case QMP_KIND_ENUM:
        return decode_enum(c, type, json, dest);
    case QMP_KIND_OBJECT:
    case QMP_KIND_ALTERNATE:
        return decode_new(c, type, json, dest);
    case QMP_KIND_ARRAY:
    default: /* integers: above */
        break;
    }
    return fail(c, "nested arrays are not supported");
}

/* A string or struct value decoded without going through decode_value's
 * dispatch: the kinds almost every member and element has.  Returns -1
 * when the value is of another kind (the caller takes the general path). */
static inline int
decode_common(Ctx *c, QmpKind kind, const QmpTypeInfo *type,
              const QmpJson *json, gpointer dest)
{
    if (kind == QMP_KIND_STR && json->type == QMP_JSON_STRING) {
        /* The node's text is NUL-terminated: one copy, no scan. */
        *(char **) dest = memcpy(alloc(json->len + 1), json->v.s,
                                 json->len + 1);
        return TRUE;
    }
    if (kind == QMP_KIND_OBJECT && json->type == QMP_JSON_OBJECT &&
        type->klass == QMP_TYPE_OBJECT) {
        char *base = alloc0(type->size);
        if (!decode_object(c, type, json, base)) {
            qmp_value_free(type, base);
            return FALSE;
        }
        *(gpointer *) dest = base;
        return TRUE;
    }
    return -1;
}

/* Arrays bigger than this are decoded in scratch memory first and copied
 * into their own block at the end.  glibc serves small blocks fast from the
 * ones freed last (a client frees the previous reply's values before
 * decoding the next), but a request for 1 kB or more first merges all those
 * small free blocks, which makes every small allocation after it slower: a
 * big array allocated before its elements cost a quarter of decoding time.
 * Allocated after them, it finds little left to merge. */
#define SMALL_BLOCK 1000
/* Scratch kept per thread between calls, up to this size. */
#define SCRATCH_KEEP (256 * 1024)

typedef struct {
    gsize size;
    char *buf;
} ArrayScratch;

static void
array_scratch_free(gpointer p)
{
    ArrayScratch *s = p;

    g_free(s->buf);
    g_free(s);
}

static GPrivate array_scratch = G_PRIVATE_INIT(array_scratch_free);

static G_GNUC_NO_INLINE gboolean
decode_big_array(Ctx *c, const QmpValueInfo *vi, const QmpJson *json,
                 gsize size, gpointer dest, gsize *n_out)
{
    ArrayScratch *s = g_private_get(&array_scratch);
    gsize bytes = json->len * size;
    const QmpJson *e;
    gsize i;
    char *tmp;

    if (!s) {
        s = g_new0(ArrayScratch, 1);
        g_private_set(&array_scratch, s);
    }
    if (s->size < bytes) {
        g_free(s->buf);
        s->buf = g_malloc(bytes);
        s->size = bytes;
    }
    tmp = s->buf;
    memset(tmp, 0, bytes);
    c->scratch_busy = TRUE;
    for (e = json->v.first, i = 0; e; e = e->next, i++) {
        int r = decode_common(c, vi->elem_kind, vi->type, e, tmp + i * size);
        if (r < 0)
            r = decode_scalar(c, vi->elem_kind, vi->type, e, tmp + i * size);
        if (!r) {
            for (gsize k = 0; k < i; k++)
                clear_scalar(vi->elem_kind, vi->type, tmp + k * size);
            c->scratch_busy = FALSE;
            return push_index(c, i);
        }
    }
    c->scratch_busy = FALSE;
    *(char **) dest = g_memdup2(tmp, bytes);
    if (s->size > SCRATCH_KEEP) {
        g_clear_pointer(&s->buf, g_free);
        s->size = 0;
    }
    if (n_out)
        *n_out = json->len;
    return TRUE;
}

static gboolean
decode_value(Ctx *c, const QmpValueInfo *vi, const QmpJson *json,
             gpointer dest, gsize *n_out)
{
    const QmpJson *e;
    gsize size, i;
    char *xs;

    if (vi->kind != QMP_KIND_ARRAY)
        return decode_scalar(c, vi->kind, type_of(vi), json, dest);

    if (json->type != QMP_JSON_ARRAY)
        return mismatch(c, "array", json);
    size = kind_size(vi->elem_kind);
    if (G_UNLIKELY(json->len * size > SMALL_BLOCK) && !c->scratch_busy)
        return decode_big_array(c, vi, json, size, dest, n_out);
    xs = json->len ? alloc0(json->len * size) : NULL;
    for (e = json->v.first, i = 0; e; e = e->next, i++) {
        int r = decode_common(c, vi->elem_kind, vi->type, e, xs + i * size);
        if (r < 0)
            r = decode_scalar(c, vi->elem_kind, vi->type, e, xs + i * size);
        if (!r) {
            clear_value(vi, &xs, json->len);
            return push_index(c, i);
        }
    }
    *(char **) dest = xs;
    if (n_out)
        *n_out = json->len;
    return TRUE;
}

/* One member an object's JSON may hold, with the struct it is stored in. */
typedef struct {
    const QmpMemberInfo *m;
    char *base;
    gint len;   /* of m->name, or -1 when not known */
} Slot;

static inline __attribute__((always_inline)) gboolean
decode_member(Ctx *c, const Slot *s, const QmpJson *json)
{
    const QmpMemberInfo *m = s->m;
    int r = decode_common(c, m->value.kind, m->value.type, json,
                          MEMBER_PTR(s->base, m));

    if (r < 0)
        r = decode_value(c, &m->value, json, MEMBER_PTR(s->base, m),
                         m->len_offset >= 0 ? MEMBER_LEN(s->base, m) : NULL);
    if (!r)
        return push_key(c, m->name, strlen(m->name));
    if (m->has_offset >= 0)
        *MEMBER_HAS(s->base, m) = TRUE;
    return TRUE;
}

/* Does a schema name equal a JSON key?  A key with an embedded NUL never
 * matches: the name ends (name[i] == 0) before the key does. */
static inline gboolean
name_matches(const char *name, const QmpJson *member)
{
    const char *key = member->key;
    guint32 len = member->key_len;

    /* Most candidates differ at once (keys are NUL-terminated, so key[0]
     * is always there to read). */
    if (name[0] != key[0])
        return FALSE;
    for (guint32 i = 0; i < len; i++) {
        if (name[i] != key[i] || name[i] == '\0')
            return FALSE;
    }
    return name[len] == '\0';
}

/* The byte length of every member name of a type, computed once per type
 * and kept for the life of the process (like the tables themselves) in a
 * small lock-free table.  NULL when the table is crowded or a name is 255
 * bytes or longer: callers then compare names byte by byte. */
#define NAME_LENS_SLOTS 1024
#define NAME_LENS_PROBES 8

typedef struct {
    const QmpTypeInfo *type;
    guint8 lens[];
} NameLens;

static NameLens *name_lens_table[NAME_LENS_SLOTS];

static G_GNUC_NO_INLINE const guint8 *
name_lens_new(const QmpTypeInfo *type, guint slot)
{
    NameLens *nl = g_malloc(sizeof(NameLens) + type->n_members + 1);

    nl->type = type;
    for (guint32 i = 0; i < type->n_members; i++) {
        gsize len = strlen(type->members[i].name);
        if (len > 254) {
            g_free(nl);
            return NULL;
        }
        nl->lens[i] = (guint8) len;
    }
    if (!g_atomic_pointer_compare_and_exchange(&name_lens_table[slot], NULL,
                                               nl)) {
        /* another thread filled the slot meanwhile */
        NameLens *other = g_atomic_pointer_get(&name_lens_table[slot]);
        g_free(nl);
        return other->type == type ? other->lens : NULL;
    }
    return nl->lens;
}

static inline const guint8 *
name_lens(const QmpTypeInfo *type)
{
    guint h = (guint) ((guintptr) type >> 4) * 2654435761u;

    for (guint i = 0; i < NAME_LENS_PROBES; i++) {
        guint slot = (h + i) & (NAME_LENS_SLOTS - 1);
        NameLens *nl = g_atomic_pointer_get(&name_lens_table[slot]);
        if (G_LIKELY(nl && nl->type == type))
            return nl->lens;
        if (!nl)
            return name_lens_new(type, slot);
    }
    return NULL;
}

/* a[0..n) == b[0..n), reading nothing outside those bytes. */
static inline gboolean
bytes_equal(const char *a, const char *b, guint32 n)
{
    guint64 x, y, u, v;
    guint32 p, q;

    if (n >= 8) {
        for (guint32 i = 0; i + 8 <= n; i += 8) {
            memcpy(&x, a + i, 8);
            memcpy(&y, b + i, 8);
            if (x != y)
                return FALSE;
        }
        memcpy(&x, a + n - 8, 8);
        memcpy(&y, b + n - 8, 8);
        return x == y;
    }
    if (n >= 4) {
        memcpy(&p, a, 4);
        memcpy(&q, b, 4);
        x = p;
        y = q;
        memcpy(&p, a + n - 4, 4);
        memcpy(&q, b + n - 4, 4);
        u = p;
        v = q;
        return x == y && u == v;
    }
    for (guint32 i = 0; i < n; i++) {
        if (a[i] != b[i])
            return FALSE;
    }
    return TRUE;
}

/* name_matches when the name's length is known. */
static inline gboolean
name_matches_len(const char *name, guint8 name_len, const QmpJson *member)
{
    return member->key_len == name_len &&
           bytes_equal(name, member->key, name_len);
}

/* Count the members an object's JSON may hold at most (the type's own plus
 * those of any union branch). */
static guint
count_slots(const QmpTypeInfo *type)
{
    guint n = type->n_members, extra = 0;

    for (guint32 i = 0; i < type->n_variants; i++) {
        const QmpTypeInfo *bt = type->variants[i].value.type;
        if (bt) {
            guint e = count_slots(bt);
            extra = MAX(extra, e);
        }
    }
    return n + extra;
}

#define BIT(k) ((guint64) 1 << ((k) & 63))

/* Lay out the members a union's JSON may hold into slots (room for max):
 * the type's own, then the branch its discriminator selects, recursively.
 * The discriminators are decoded here, and marked in ahead.  Returns the
 * number of slots, -1 on failure (c has the error), or -2 when max is too
 * few (nothing decoded but discriminators: enums, which own no memory). */
static int
lay_out_union(Ctx *c, const QmpTypeInfo *type, const QmpJson *json, char *base,
              Slot *slots, guint max, guint64 *ahead)
{
    guint n_layers = 0, n_slots = 0;
    const QmpTypeInfo *t = type;
    char *b = base;

    for (;;) {
        const QmpJson *dj = NULL;
        guint first = n_slots;
        const guint8 *lens = name_lens(t);

        n_layers++;
        if (n_slots + t->n_members > max)
            return -2;
        for (guint32 i = 0; i < t->n_members; i++) {
            slots[n_slots].m = &t->members[i];
            slots[n_slots].base = b;
            slots[n_slots].len = lens ? lens[i] : -1;
            n_slots++;
        }
        if (t->discriminator < 0 || n_layers == MAX_LAYERS)
            break;
        const QmpMemberInfo *d = &t->members[t->discriminator];
        for (const QmpJson *j = json->v.first; j && !dj; j = j->next)
            if (name_matches(d->name, j))
                dj = j;
        if (!dj) {
            fail(c, "missing member '%s'", d->name);
            return -1;
        }
        guint k = first + t->discriminator;
        if (!decode_member(c, &slots[k], dj))
            return -1;
        ahead[k >> 6] |= BIT(k);
        const QmpVariantInfo *v = find_variant(t, *(int *) MEMBER_PTR(b, d));
        if (!v || !v->value.type)
            break;
        b += t->variants_offset;
        t = v->value.type;
    }
    return (int) n_slots;
}

/* The one object decoder: match each member of json to a slot, decode it,
 * then check that no mandatory member is missing.  A plain struct of at
 * most 64 members (the common case: `plain`, a constant at each call, so
 * that this inlines into two specialized copies) is matched against its
 * own member table in place; anything else against the slots laid out by
 * lay_out_union.  Members are found by trying the one after the last match
 * first (QEMU mostly sends them in schema order), and tracked in bit sets
 * (seen; ahead: the discriminators lay_out_union decoded already). */
static inline __attribute__((always_inline)) gboolean
decode_members(Ctx *c, const QmpTypeInfo *type, const QmpJson *json, char *base,
               const Slot *slots, guint n, guint64 *seen, guint64 *ahead,
               const gboolean plain)
{
    const QmpMemberInfo *members = type->members;
    const guint8 *lens = plain ? name_lens(type) : NULL;
    guint hint = 0;

#define SLOT_M(k) (plain ? &members[k] : slots[k].m)
#define SLOT_LEN(k) (plain ? (G_LIKELY(lens) ? (gint) lens[k] : -1) : slots[k].len)
#define WORD(k) (plain ? 0 : (k) >> 6)
    for (const QmpJson *j = json->v.first; j; j = j->next) {
        guint k = hint, left = n;

        for (;;) {
            if (G_UNLIKELY(left-- == 0))
                break;
            if (G_LIKELY(SLOT_LEN(k) >= 0)
                    ? name_matches_len(SLOT_M(k)->name, (guint8) SLOT_LEN(k), j)
                    : name_matches(SLOT_M(k)->name, j))
                break;
            if (++k == n)
                k = 0;
        }
        if (G_UNLIKELY(left == G_MAXUINT)) {
            if (c->flags & QMP_DECODE_STRICT) {
                fail(c, "unknown member");
                return push_key(c, j->key, j->key_len);
            }
            continue;
        }
        hint = k + 1 < n ? k + 1 : 0;
        if (!plain && (ahead[WORD(k)] & BIT(k))) {
            ahead[WORD(k)] &= ~BIT(k);
            seen[WORD(k)] |= BIT(k);
            continue;
        }
        if (G_UNLIKELY(seen[WORD(k)] & BIT(k))) {
            fail(c, "duplicate member");
            return push_key(c, j->key, j->key_len);
        }
        seen[WORD(k)] |= BIT(k);
        Slot slot = { SLOT_M(k), plain ? base : slots[k].base, 0 };
        if (!decode_member(c, &slot, j))
            return FALSE;
    }

    for (guint k = 0; k < n; k++) {
        if (!plain)
            seen[WORD(k)] |= ahead[WORD(k)] & BIT(k);
        if (!(seen[WORD(k)] & BIT(k)) && !(SLOT_M(k)->flags & QMP_INFO_OPTIONAL))
            return fail(c, "missing member '%s'", SLOT_M(k)->name);
    }
    return TRUE;
#undef SLOT_M
#undef SLOT_LEN
#undef WORD
}

static gboolean
decode_object(Ctx *c, const QmpTypeInfo *type, const QmpJson *json,
              char *base)
{
    Slot slots_buf[64];
    guint64 seen_buf = 0, ahead_buf = 0;

    if (type->discriminator < 0 && type->n_members <= 64)
        return decode_members(c, type, json, base, NULL, type->n_members,
                              &seen_buf, NULL, TRUE);
    int n = lay_out_union(c, type, json, base, slots_buf,
                          G_N_ELEMENTS(slots_buf), &ahead_buf);
    if (n >= 0)
        return decode_members(c, type, json, base, slots_buf, n, &seen_buf,
                              &ahead_buf, FALSE);
    if (n == -1)
        return FALSE;
    /* more than 64 members: the same on the heap */
    guint max = count_slots(type), words = (max + 63) / 64;
    Slot *slots = g_new(Slot, max);
    guint64 *seen = g_new0(guint64, words), *ahead = g_new0(guint64, words);
    n = lay_out_union(c, type, json, base, slots, max, ahead);
    gboolean ok = n >= 0 && decode_members(c, type, json, base, slots, n, seen,
                                           ahead, FALSE);
    g_free(slots);
    g_free(seen);
    g_free(ahead);
    return ok;
}

gboolean
qmp_value_decode_into(const QmpValueInfo *vi, const QmpJson *json,
                      QmpDecodeFlags flags, const char *path,
                      gpointer dest, gsize *n_out, GError **error)
{
    Ctx c = { .flags = flags };

    g_return_val_if_fail(vi != NULL && json != NULL && dest != NULL, FALSE);
    if (decode_value(&c, vi, json, dest, n_out))
        return TRUE;
    ctx_raise(&c, path, QMP_ERROR_DECODE, error);
    return FALSE;
}

/* qmp_value_decode_text: the elements of the streamed array, decoded as
 * they come into the thread's scratch, copied out at the end. */
typedef struct {
    Ctx c;
    const QmpValueInfo *vi;
    gsize size;
    ArrayScratch *s;
    gsize n;
} EachDecode;

static void
each_clear(EachDecode *d)
{
    for (gsize k = 0; k < d->n; k++)
        clear_scalar(d->vi->elem_kind, d->vi->type, d->s->buf + k * d->size);
    d->n = 0;
}

static gboolean
decode_each(const QmpJson *e, gsize i, gpointer data)
{
    EachDecode *d = data;
    ArrayScratch *s = d->s;
    char *slot;
    int r;

    if (G_UNLIKELY((d->n + 1) * d->size > s->size)) {
        gsize size = MAX(s->size * 2, 64 * d->size);
        s->buf = g_realloc(s->buf, size);
        s->size = size;
    }
    slot = s->buf + d->n * d->size;
    memset(slot, 0, d->size);
    r = decode_common(&d->c, d->vi->elem_kind, d->vi->type, e, slot);
    if (r < 0)
        r = decode_scalar(&d->c, d->vi->elem_kind, d->vi->type, e, slot);
    if (!r) {
        push_index(&d->c, i);
        return FALSE;
    }
    d->n++;
    return TRUE;
}

gboolean
qmp_value_decode_text(const QmpValueInfo *vi, const char *text, gsize len,
                      const char *member, QmpDecodeFlags flags,
                      const char *path, gpointer dest, gsize *n_out,
                      QmpJsonDoc **doc_out, GError **error)
{
    EachDecode d = { .c = { .flags = flags }, .vi = vi };
    g_autoptr(QmpJsonDoc) doc = NULL;
    const QmpJson *streamed = NULL, *node;
    gboolean stopped = FALSE, ok;

    g_return_val_if_fail(vi != NULL && dest != NULL, FALSE);
    if (doc_out)
        *doc_out = NULL;
    if (vi->kind != QMP_KIND_ARRAY) {
        doc = qmp_json_parse(text, len, 0, error);
        if (!doc)
            return FALSE;
    } else {
        d.size = kind_size(vi->elem_kind);
        d.s = g_private_get(&array_scratch);
        if (!d.s) {
            d.s = g_new0(ArrayScratch, 1);
            g_private_set(&array_scratch, d.s);
        }
        /* the scratch holds this array: nested ones allocate directly */
        d.c.scratch_busy = TRUE;
        doc = qmp_json_parse_each(text, len, 0, member, decode_each, &d,
                                  &streamed, &stopped, error);
        if (!doc) {
            if (stopped)
                ctx_raise(&d.c, path, QMP_ERROR_DECODE, error);
            each_clear(&d);
            return FALSE;
        }
    }

    node = qmp_json_doc_root(doc);
    if (member)
        node = node->type == QMP_JSON_OBJECT ? qmp_json_lookup(node, member)
                                             : NULL;
    if (node && node == streamed) {
        *(char **) dest = d.n ? g_memdup2(d.s->buf, d.n * d.size) : NULL;
        if (n_out)
            *n_out = d.n;
        ok = TRUE;
    } else {
        if (d.s)
            each_clear(&d);
        if (!node) {
            g_set_error(error, QMP_ERROR, QMP_ERROR_DECODE,
                        "missing member '%s'", member);
            return FALSE;
        }
        ok = qmp_value_decode_into(vi, node, flags, path, dest, n_out, error);
    }
    if (d.s && d.s->size > SCRATCH_KEEP) {
        g_clear_pointer(&d.s->buf, g_free);
        d.s->size = 0;
    }
    if (ok && doc_out)
        *doc_out = g_steal_pointer(&doc);
    return ok;
}

gboolean
qmp_value_decode(const QmpTypeInfo *type, const QmpJson *json,
                 QmpDecodeFlags flags, const char *path,
                 gpointer *out, GError **error)
{
    Ctx c = { .flags = flags };

    g_return_val_if_fail(type != NULL && json != NULL && out != NULL, FALSE);
    g_return_val_if_fail(type->klass != QMP_TYPE_ENUM, FALSE);
    *out = NULL;
    if (decode_new(&c, type, json, out))
        return TRUE;
    ctx_raise(&c, path, QMP_ERROR_DECODE, error);
    return FALSE;
}

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
