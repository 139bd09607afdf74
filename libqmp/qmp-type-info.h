/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qmp-type-info.h: the tables the generator emits for every QAPI type, and the
 * table-driven runtime (qmp-codec.c) that decodes, encodes, frees, compares
 * and copies any generated value from them.  Generated code is only these
 * tables plus thin typed wrappers around the functions below.
 *
 * C representation of generated types (the generator follows it exactly):
 *
 *   int8..uint64, size   gint8 .. guint64 by value
 *   number               double
 *   bool                 gboolean
 *   str                  char *            (NULL = absent when optional)
 *   null                 gboolean          (TRUE when present)
 *   any                  QmpJsonDoc *      (NULL = absent when optional)
 *   enum                 the generated C enum (int-sized)
 *   struct/union         pointer to the generated struct (NULL = absent)
 *   alternate            pointer to the generated struct (NULL = absent)
 *   ['T']                T-storage *xs; gsize n_xs;  (elements as above;
 *                        objects/alternates as pointers, enums as ints)
 *
 * Optional members whose storage cannot be NULL (numbers, bool, null, enum
 * and arrays) have a `gboolean has_<name>` field.
 *
 * A struct lays out its base's members first (flattened), then its own.  A
 * union adds, after its base members, `union { Branch branch; ... } u;` with
 * each non-empty branch struct embedded by value.  A branch type may itself
 * be a union (QEMU 8.2 on): its members and its own branch are then read from
 * the same JSON object too.  An alternate is
 * `struct { <Alt>Kind kind; union { storage of each branch } u; }`; an array
 * branch (QEMU 7.2's StatsValue) is stored as `struct { T *data; gsize n; }`,
 * so its count sits at variants_offset + sizeof(gpointer).
 *
 * Ownership: decoded values are newly allocated and owned by the caller;
 * free them with the generated _free (or qmp_value_free).  Encoders and
 * comparisons borrow.
 */
#pragma once

#include <glib.h>
#include <yajl/yajl_gen.h>
#include "qmp-json.h"
#include "qmp-export.h"

G_BEGIN_DECLS
QMP_BEGIN_PUBLIC

typedef enum {
    QMP_KIND_INT8,
    QMP_KIND_INT16,
    QMP_KIND_INT32,
    QMP_KIND_INT64,
    QMP_KIND_UINT8,
    QMP_KIND_UINT16,
    QMP_KIND_UINT32,
    QMP_KIND_UINT64,  /* also 'size' */
    QMP_KIND_NUMBER,
    QMP_KIND_BOOL,
    QMP_KIND_STR,
    QMP_KIND_NULL,
    QMP_KIND_ANY,
    QMP_KIND_ENUM,      /* type = the enum's QmpTypeInfo */
    QMP_KIND_OBJECT,    /* struct or union; type = its QmpTypeInfo */
    QMP_KIND_ALTERNATE, /* type = its QmpTypeInfo */
    QMP_KIND_ARRAY,     /* only in QmpMemberInfo/QmpValueInfo; see elem_kind */
} QmpKind;

typedef struct _QmpTypeInfo QmpTypeInfo;

/* Flags of members, variants and types. */
enum {
    QMP_INFO_OPTIONAL = 1 << 0,
    QMP_INFO_DEPRECATED = 1 << 1, /* carries the 'deprecated' feature */
    QMP_INFO_UNSTABLE = 1 << 2,   /* carries the 'unstable' feature */
    QMP_INFO_SECRET = 1 << 3,     /* a value that must never be traced */
};

/* How one value is stored: a member, an array element, a command's return. */
typedef struct {
    QmpKind kind;              /* QMP_KIND_ARRAY: elements are elem_kind */
    QmpKind elem_kind;         /* arrays only */
    const QmpTypeInfo *type;   /* enum/object/alternate (of elements for arrays) */
} QmpValueInfo;

typedef struct {
    const char *name;          /* the member's JSON name */
    QmpValueInfo value;
    guint32 offset;            /* of the value (arrays: of the element pointer) */
    gint32 has_offset;         /* of gboolean has_<name>, or -1 */
    gint32 len_offset;         /* arrays: of gsize n_<name>, else -1 */
    guint32 flags;
    const char *since;         /* the 'since' version from the docs, or NULL */
} QmpMemberInfo;

typedef struct {
    const char *name;          /* object: enum value; alternate: branch name */
    gint32 tag;                /* object: enum value number; alternate: kind */
    QmpValueInfo value;        /* object: QMP_KIND_OBJECT, type NULL if empty */
    guint32 flags;
} QmpVariantInfo;

typedef enum {
    QMP_TYPE_ENUM,
    QMP_TYPE_OBJECT,
    QMP_TYPE_ALTERNATE,
} QmpTypeClass;

struct _QmpTypeInfo {
    const char *name;                 /* the schema's name */
    QmpTypeClass klass;
    guint32 size;                     /* sizeof the C struct (0 for enums) */
    guint32 flags;
    /* enums */
    const char *const *enum_values;   /* JSON spellings, in C value order */
    guint32 n_enum_values;
    /* objects: all members, base first */
    const QmpMemberInfo *members;
    guint32 n_members;
    gint32 discriminator;             /* index into members, or -1 */
    /* unions and alternates */
    guint32 variants_offset;          /* offsetof(T, u) */
    const QmpVariantInfo *variants;   /* unions: one per enum value, in order */
    guint32 n_variants;
};

/* A member marked secret in the schema (the feature 'secret', see
 * docs/secrets.md): its value is hidden from traces and recordings in any
 * object that has a member `name` (and, when discriminator is not NULL,
 * whose member `discriminator` is the string `value`: a union branch, e.g.
 * "data" of an object whose "qom-type" is "secret").  The generator emits
 * the list as <prefix>_secret_members. */
typedef struct {
    const char *name;
    const char *discriminator;
    const char *value;
} QmpSecretMember;

/* Decoding options. */
typedef enum {
    QMP_DECODE_DEFAULT = 0,
    /* Members the schema does not know and enum values it does not list are
     * errors.  By default unknown members are skipped and an unknown enum
     * value decodes as -1 (the generated <ENUM>__UNKNOWN), which a newer
     * QEMU may send; encoding -1 fails. */
    QMP_DECODE_STRICT = 1 << 0,
} QmpDecodeFlags;

/* Decode json into newly allocated storage for an object or alternate type.
 * On a mismatch returns FALSE with a QMP_ERROR_DECODE error whose message
 * starts with the JSON path of the first mismatch relative to `path`
 * (e.g. "return[3].members[0].type: expected string, got int"). */
gboolean qmp_value_decode(const QmpTypeInfo *type, const QmpJson *json,
                          QmpDecodeFlags flags, const char *path,
                          gpointer *out, GError **error);

/* Decode any value (scalar, array, object...) into caller storage: `dest`
 * points at the storage described in the header comment; `n_out` receives
 * the element count for arrays. */
gboolean qmp_value_decode_into(const QmpValueInfo *vi, const QmpJson *json,
                               QmpDecodeFlags flags, const char *path,
                               gpointer dest, gsize *n_out, GError **error);

/* Decode straight from JSON text: the value is the whole text, or the
 * root object's member `member` (e.g. "return" of a reply).  The result is
 * the same as qmp_json_parse + qmp_value_decode_into, but when the value is
 * an array (query-qmp-schema, query-commands...) its elements are decoded
 * one by one while the text is parsed, and never all held as a tree.
 * A text that is not JSON fails with QMP_ERROR_PROTOCOL (as
 * qmp_json_parse), a value that does not match with QMP_ERROR_DECODE (also
 * when `member` is missing); when both are wrong, the first fault found in
 * the text is reported.  doc_out (optional) receives the parsed document,
 * in which a streamed array is left empty (to read e.g. a reply's "id"). */
gboolean qmp_value_decode_text(const QmpValueInfo *vi, const char *text,
                               gsize len, const char *member,
                               QmpDecodeFlags flags, const char *path,
                               gpointer dest, gsize *n_out,
                               QmpJsonDoc **doc_out, GError **error);

/* Encode an object value (NULL: no members) into a new document: the one
 * encoder the others (and typed calls) use.  NULL with a QMP_ERROR_INVALID
 * error only when the value is not encodable (an invalid enum or alternate
 * kind, a NULL string, a non-finite number). */
QmpJsonDoc *qmp_value_encode_json(const QmpTypeInfo *type, gconstpointer value,
                                  GError **error);

/* Encode an object or alternate value.  Returns FALSE (error set) only when
 * the value is not encodable (an invalid enum or alternate kind). */
gboolean qmp_value_encode(const QmpTypeInfo *type, gconstpointer value,
                          yajl_gen gen, GError **error);
gboolean qmp_value_encode_from(const QmpValueInfo *vi, gconstpointer src,
                               gsize n, yajl_gen gen, GError **error);

/* Encode an object value's members only (no braces), to splice into a
 * command's "arguments". */
gboolean qmp_value_encode_members(const QmpTypeInfo *type, gconstpointer value,
                                  yajl_gen gen, GError **error);

void qmp_value_free(const QmpTypeInfo *type, gpointer value); /* NULL-safe */
/* Free what `storage` owns (not storage itself). */
void qmp_value_clear(const QmpValueInfo *vi, gpointer storage, gsize n);

gboolean qmp_value_equal(const QmpTypeInfo *type, gconstpointer a,
                         gconstpointer b);
gpointer qmp_value_copy(const QmpTypeInfo *type, gconstpointer value);

/* Enum helpers: string for a value (NULL if out of range), value for a
 * string (-1 if unknown). */
const char *qmp_enum_to_string(const QmpTypeInfo *type, int value);
int qmp_enum_from_string(const QmpTypeInfo *type, const char *str);

QMP_END_PUBLIC
G_END_DECLS
