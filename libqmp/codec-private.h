/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * codec-private.h (private): what the codec runtime's files share: the
 * failure path (Ctx), the storage layout helpers of qmp-type-info.h, and
 * the walkers one file lends another.  Small helpers are static inline:
 * the decoder's hot path uses them.
 */
#pragma once

#include <stdio.h>
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

static inline gboolean G_GNUC_PRINTF(2, 3)
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

static inline gboolean
push_key(Ctx *c, const char *key, gsize len)
{
    g_string_prepend_len(c->segs, key, len);
    g_string_prepend_c(c->segs, '.');
    return FALSE;
}

static inline gboolean
push_index(Ctx *c, gsize i)
{
    char buf[32];

    snprintf(buf, sizeof(buf), "[%" G_GSIZE_FORMAT "]", i);
    g_string_prepend(c->segs, buf);
    return FALSE;
}

/* Turn the recorded failure into a GError: "PREFIX.SEGS: message". */
static inline void
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

static inline gsize
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

static inline const char *
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
static inline const char *
kind_json_name(QmpKind kind)
{
    if (kind <= QMP_KIND_UINT64)
        return "int";
    return kind_name(kind);
}

static inline gboolean
is_int_kind(QmpKind kind)
{
    return kind <= QMP_KIND_UINT64;
}

/* Storage of a scalar kind, read as a signed or unsigned 64-bit value. */
static inline gint64
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

static inline const QmpTypeInfo *
type_of(const QmpValueInfo *vi)
{
    return vi->type;
}

/* The variant of a union whose tag is `tag`, or NULL. */
static inline const QmpVariantInfo *
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
static inline gsize
alt_len(const QmpVariantInfo *v, gconstpointer branch)
{
    return v->value.kind == QMP_KIND_ARRAY ? *ALT_LEN(branch) : 0;
}

/* Where a member's value lives in its struct. */
#define MEMBER_PTR(base, m) ((char *) (base) + (m)->offset)
#define MEMBER_LEN(base, m) ((gsize *) ((char *) (base) + (m)->len_offset))
#define MEMBER_HAS(base, m) ((gboolean *) ((char *) (base) + (m)->has_offset))

/* Is a member present in a value?  Mandatory members always are. */
static inline gboolean
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

static inline int
enum_lookup(const QmpTypeInfo *type, const char *s, gsize len)
{
    for (guint32 i = 0; i < type->n_enum_values; i++) {
        const char *v = type->enum_values[i];
        if (v[0] == s[0] && strncmp(v, s, len) == 0 && v[len] == '\0')
            return (int) i;
    }
    return -1;
}

/* qmp-codec.c: free what storage owns (n: its element count for arrays). */
G_GNUC_INTERNAL void qmp_codec_clear_value(const QmpValueInfo *vi, gpointer storage,
                                           gsize n);
/* qmp-codec.c: free what one scalar's storage owns. */
G_GNUC_INTERNAL void qmp_codec_clear_scalar(QmpKind kind, const QmpTypeInfo *type,
                                            gpointer storage);
