/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qmp-json.h: the parsed-JSON tree every QMP message is read into.
 *
 * A QmpJsonDoc owns all nodes of one parsed text in an arena; nodes are
 * immutable and stay valid exactly as long as the document holds a reference.
 * Documents are reference counted (qmp_json_doc_ref/unref) and may be shared
 * between threads once parsed; nothing in them changes after parsing.
 *
 * Ownership: functions returning `const QmpJson *` or `const char *` lend a
 * pointer into a document; functions named *_new, *_parse, *_copy and *_dup
 * return a new reference or a newly allocated string the caller frees.
 */
#pragma once

#include <glib.h>
#include <yajl/yajl_gen.h>
#include "qmp-export.h"

G_BEGIN_DECLS
QMP_BEGIN_PUBLIC

typedef enum {
    QMP_JSON_NULL,
    QMP_JSON_BOOL,
    QMP_JSON_INT,    /* an integer that fits gint64 or guint64 */
    QMP_JSON_DOUBLE, /* any other number */
    QMP_JSON_STRING,
    QMP_JSON_OBJECT,
    QMP_JSON_ARRAY,
} QmpJsonType;

typedef struct _QmpJson QmpJson;
typedef struct _QmpJsonDoc QmpJsonDoc;

/* A node.  The layout is public so that the codecs can walk it fast; treat
 * every field as read-only. */
struct _QmpJson {
    QmpJsonType type;
    guint32 len;          /* string: byte length; object/array: child count */
    const char *key;      /* member name when the parent is an object, else NULL */
    guint32 key_len;
    gboolean is_unsigned; /* QMP_JSON_INT above G_MAXINT64: value in v.u */
    const QmpJson *next;  /* next sibling, NULL at the end */
    union {
        gboolean b;
        gint64 i;
        guint64 u;
        double d;
        const char *s;         /* NUL-terminated, may contain NUL (use len) */
        const QmpJson *first;  /* first child of an object or array */
    } v;
};

/* Parse one JSON text (exactly one value, surrounding whitespace allowed).
 * On failure returns NULL and sets a QMP_ERROR_PROTOCOL error whose message
 * names the byte offset of the fault.  max_depth 0 means the default (1024). */
QmpJsonDoc *qmp_json_parse(const char *text, gsize len, guint max_depth,
                           GError **error);

/* Called with each element of the array qmp_json_parse_each streams, as
 * soon as the element is parsed; index counts from 0.  The node is valid
 * only during the call.  Return FALSE to stop parsing. */
typedef gboolean (*QmpJsonEachFunc)(const QmpJson *element, gsize index,
                                    gpointer user_data);

/* Like qmp_json_parse, but hands the elements of one array to func one by
 * one while parsing, and keeps none of them: that array is left empty (len
 * 0) in the returned document, and *streamed (if not NULL) points at it.
 * The array is the root's member named `member` when the root is an object
 * (the first such member that is an array), or the root itself when member
 * is NULL and the root is an array.  When there is no such array, func is
 * never called, *streamed is NULL and the document is complete.  This keeps
 * a big reply's tree from ever existing in full: each element is decoded
 * while it is still in the cache, then its memory is reused.
 * When func returns FALSE, parsing stops: returns NULL with no error set
 * and *stopped (if not NULL) TRUE.  A fault in the text after that point
 * is then not reported; a fault before it is, as by qmp_json_parse. */
QmpJsonDoc *qmp_json_parse_each(const char *text, gsize len, guint max_depth,
                                const char *member, QmpJsonEachFunc func,
                                gpointer user_data, const QmpJson **streamed,
                                gboolean *stopped, GError **error);

/* A parser for a stream of messages, each one JSON object in its own text
 * (a QMP line): it keeps yajl's state between texts instead of setting it
 * up for each.  Errors are as qmp_json_parse()'s, plus a text that is not
 * exactly one object.  Use from one thread at a time. */
typedef struct _QmpJsonParser QmpJsonParser;
QmpJsonParser *qmp_json_parser_new(guint max_depth); /* 0: the default */
void qmp_json_parser_free(QmpJsonParser *parser);    /* NULL-safe */
QmpJsonDoc *qmp_json_parser_parse(QmpJsonParser *parser, const char *text,
                                  gsize len, GError **error);

QmpJsonDoc *qmp_json_doc_ref(QmpJsonDoc *doc);
void qmp_json_doc_unref(QmpJsonDoc *doc); /* NULL-safe */
const QmpJson *qmp_json_doc_root(const QmpJsonDoc *doc);

/* A new document holding a deep copy of node (any document).  Copies of a
 * lone null may all be one shared, immutable document: only the reference
 * is new. */
QmpJsonDoc *qmp_json_copy(const QmpJson *node);

/* Object member by name, or NULL.  Linear in the number of members. */
const QmpJson *qmp_json_lookup(const QmpJson *object, const char *key);

/* Checked accessors: FALSE when the node has another type or the number does
 * not fit the requested C type. */
gboolean qmp_json_get_int64(const QmpJson *node, gint64 *out);
gboolean qmp_json_get_uint64(const QmpJson *node, guint64 *out);
gboolean qmp_json_get_double(const QmpJson *node, double *out); /* ints too */
const char *qmp_json_get_string(const QmpJson *node); /* NULL unless string */

const char *qmp_json_type_name(QmpJsonType type); /* "string", "object", ... */

/* Serialize a node with yajl_gen (as one value). */
yajl_gen_status qmp_json_gen(const QmpJson *node, yajl_gen gen);

/* Emit a finite double so that it reads back as the same double (and as a
 * JSON double, never an integer); non-finite values fail with
 * yajl_gen_invalid_number. */
yajl_gen_status qmp_json_gen_double(yajl_gen gen, double d);

/* Append s (len bytes, any content) to out escaped for the inside of a
 * JSON string literal: '"' and '\\' get a backslash, control characters
 * become \u00XX; other bytes are copied as they are. */
void qmp_json_append_escaped(GString *out, const char *s, gsize len);

/* Serialize to a newly allocated compact string (no newline). */
char *qmp_json_to_string(const QmpJson *node);

/* Structural equality (object member order ignored, numbers compared by
 * value). */
gboolean qmp_json_equal(const QmpJson *a, const QmpJson *b);

/* Building a document value by value (what the typed encoders write into):
 * call key() before each member of an object, begin/end around containers;
 * finish() returns the one complete value built and frees the builder.
 * Strings and node() copy what they are given.  double() refuses (FALSE,
 * nothing added) a non-finite number, which has no JSON form. */
typedef struct _QmpJsonBuilder QmpJsonBuilder;
QmpJsonBuilder *qmp_json_builder_new(void);
void qmp_json_builder_free(QmpJsonBuilder *b); /* NULL-safe */
void qmp_json_builder_key(QmpJsonBuilder *b, const char *key, gsize len);
void qmp_json_builder_begin_object(QmpJsonBuilder *b);
void qmp_json_builder_begin_array(QmpJsonBuilder *b);
void qmp_json_builder_end(QmpJsonBuilder *b);
void qmp_json_builder_null(QmpJsonBuilder *b);
void qmp_json_builder_bool(QmpJsonBuilder *b, gboolean v);
void qmp_json_builder_int64(QmpJsonBuilder *b, gint64 v);
void qmp_json_builder_uint64(QmpJsonBuilder *b, guint64 v);
gboolean qmp_json_builder_double(QmpJsonBuilder *b, double v);
void qmp_json_builder_string(QmpJsonBuilder *b, const char *s, gsize len);
void qmp_json_builder_node(QmpJsonBuilder *b, const QmpJson *node);
QmpJsonDoc *qmp_json_builder_finish(QmpJsonBuilder *b);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(QmpJsonDoc, qmp_json_doc_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QmpJsonBuilder, qmp_json_builder_free)

QMP_END_PUBLIC
G_END_DECLS
