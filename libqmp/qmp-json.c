/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qmp-json.c: the documents of the JSON tree: the arena every node of a
 * document is bump-allocated from (large chunks owned by the document, so
 * a tree costs one malloc per chunk, not per node, and node pointers never
 * move), references, deep copies, accessors and equality.  Parsing and
 * building are in json-parse.c, generating text in json-gen.c.
 */
#include <math.h>
#include "json-private.h"

/* ---------------------------------------------------------------- arena */

/* One spare chunk kept from a freed document, so that parsing message
 * after message reuses the same memory instead of asking malloc (and the
 * kernel) for big blocks each time. */
static Chunk *spare_chunk;

#define SPARE_MAX (16 * MAX_CHUNK)

static void
chunk_release(Chunk *c)
{
    if (c->size <= SPARE_MAX) {
        Chunk *old = g_atomic_pointer_get(&spare_chunk);
        if ((!old || old->size < c->size) &&
            g_atomic_pointer_compare_and_exchange(&spare_chunk, old, c)) {
            g_free(old);
            return;
        }
    }
    g_free(c);
}

/* The spare chunk if it holds at least `size` bytes, else NULL. */
static Chunk *
chunk_take_spare(gsize size)
{
    Chunk *c = g_atomic_pointer_get(&spare_chunk);

    if (!c || c->size < size ||
        !g_atomic_pointer_compare_and_exchange(&spare_chunk, c, NULL))
        return NULL;
    return c;
}

G_GNUC_NO_INLINE gpointer
qmp_json_arena_alloc_slow(QmpJsonDoc *doc, gsize n)
{
    gsize size = MAX(doc->next_size, n);
    Chunk *c = doc->chunks ? NULL : chunk_take_spare(size);

    if (c)
        size = c->size;
    else
        c = g_malloc(CHUNK_HDR + size);
    c->size = size;
    c->used = n;
    if (doc->chunks && n > doc->next_size) {
        /* A dedicated chunk for one big block: keep the current head, which
         * still has room, for the small allocations that follow. */
        c->next = doc->chunks->next;
        doc->chunks->next = c;
    } else {
        c->next = doc->chunks;
        doc->chunks = c;
        if (doc->next_size < MAX_CHUNK)
            doc->next_size *= 2;
    }
    return (char *) c + CHUNK_HDR;
}

static QmpJsonDoc *doc_new_exact(gsize size);


QmpJsonDoc *
qmp_json_doc_new(gsize size_hint)
{
    if (size_hint <= SMALL_TEXT) {
        QmpJsonDoc *d = doc_new_exact(size_hint * 6 + 256);
        d->next_size = MIN_CHUNK;
        return d;
    }
    QmpJsonDoc *doc = g_new0(QmpJsonDoc, 1);
    /* A tree takes about four to five times its text (a 48-byte node for
     * every 10 to 15 bytes of QMP, plus the strings): a first chunk of 5x
     * usually holds the whole document, so that a big reply neither asks
     * malloc for a second block nor returns one (freeing a block that big
     * makes glibc consolidate every small free chunk it holds). */
    gsize first = size_hint * 5;

    doc->refcount = 1;
    if (first < MIN_CHUNK)
        first = MIN_CHUNK;
    if (first > 16 * MAX_CHUNK)
        first = 16 * MAX_CHUNK;
    doc->next_size = (first + 7) & ~(gsize) 7;
    return doc;
}

/* A document and its first chunk in one block, for copies whose size is
 * known up front (an `any` member is often a lone null or a small object). */
#define DOC_HDR ((sizeof(QmpJsonDoc) + 7) & ~(gsize) 7)

static inline Chunk *
doc_inline_chunk(QmpJsonDoc *doc)
{
    return (Chunk *) ((char *) doc + DOC_HDR);
}

static QmpJsonDoc *
doc_new_exact(gsize size)
{
    QmpJsonDoc *doc = g_malloc(DOC_HDR + CHUNK_HDR + size);
    Chunk *c = doc_inline_chunk(doc);

    doc->refcount = 1;
    doc->is_static = FALSE;
    doc->root = NULL;
    doc->chunks = c;
    doc->next_size = MIN_CHUNK;
    c->next = NULL;
    c->size = size;
    c->used = 0;
    return doc;
}

QmpJsonDoc *
qmp_json_doc_ref(QmpJsonDoc *doc)
{
    g_return_val_if_fail(doc != NULL, NULL);
    if (!doc->is_static)
        g_atomic_int_inc(&doc->refcount);
    return doc;
}

void
qmp_json_doc_unref(QmpJsonDoc *doc)
{
    if (!doc || doc->is_static)
        return;
    if (!g_atomic_int_dec_and_test(&doc->refcount))
        return;
    for (Chunk *c = doc->chunks, *next; c; c = next) {
        next = c->next;
        if (c != doc_inline_chunk(doc))
            chunk_release(c);
    }
    g_free(doc);
}

const QmpJson *
qmp_json_doc_root(const QmpJsonDoc *doc)
{
    return doc ? doc->root : NULL;
}

/* ----------------------------------------------------------------- copy */

QmpJson *
qmp_json_copy_node(QmpJsonDoc *doc, const QmpJson *src)
{
    QmpJson *n = arena_alloc(doc, sizeof(QmpJson));

    *n = *src;
    n->next = NULL;
    n->key = src->key ? arena_strndup(doc, src->key, src->key_len) : NULL;
    switch (src->type) {
    case QMP_JSON_STRING:
        n->v.s = arena_strndup(doc, src->v.s, src->len);
        break;
    case QMP_JSON_OBJECT:
    case QMP_JSON_ARRAY: {
        QmpJson *last = NULL;
        n->v.first = NULL;
        for (const QmpJson *c = src->v.first; c; c = c->next) {
            QmpJson *cn = qmp_json_copy_node(doc, c);
            if (last)
                last->next = cn;
            else
                n->v.first = cn;
            last = cn;
        }
        break;
    }
    default:
        break;
    }
    return n;
}

/* The arena bytes copy_node takes for node (its key included). */
static gsize
copy_size(const QmpJson *node)
{
    gsize n = (sizeof(QmpJson) + 7) & ~(gsize) 7;

    if (node->key)
        n += (node->key_len + 1 + 7) & ~(gsize) 7;
    switch (node->type) {
    case QMP_JSON_STRING:
        n += (node->len + 1 + 7) & ~(gsize) 7;
        break;
    case QMP_JSON_OBJECT:
    case QMP_JSON_ARRAY:
        for (const QmpJson *c = node->v.first; c; c = c->next)
            n += copy_size(c);
        break;
    default:
        break;
    }
    return n;
}

/* Every copy of a lone `null` is this one immutable document (decoding
 * QEMU's introspection copies a thousand `"default": null`). */
static const QmpJson null_node = { .type = QMP_JSON_NULL };
static QmpJsonDoc null_doc = {
    .refcount = 1,
    .is_static = TRUE,
    .root = &null_node,
};

QmpJsonDoc *
qmp_json_copy(const QmpJson *node)
{
    QmpJsonDoc *doc;
    QmpJson *root;

    g_return_val_if_fail(node != NULL, NULL);
    if (node->type == QMP_JSON_NULL)
        return &null_doc;
    /* One block of exactly the right size (the root's key is copied too,
     * then dropped). */
    doc = doc_new_exact(copy_size(node));
    root = qmp_json_copy_node(doc, node);
    /* The copy is a document of its own: its root is not a member. */
    root->key = NULL;
    root->key_len = 0;
    doc->root = root;
    return doc;
}

/* ------------------------------------------------------------ accessors */

const QmpJson *
qmp_json_lookup(const QmpJson *object, const char *key)
{
    gsize klen;

    if (!object || object->type != QMP_JSON_OBJECT || !key)
        return NULL;
    klen = strlen(key);
    for (const QmpJson *c = object->v.first; c; c = c->next) {
        if (c->key_len == klen && memcmp(c->key, key, klen) == 0)
            return c;
    }
    return NULL;
}

gboolean
qmp_json_get_int64(const QmpJson *node, gint64 *out)
{
    if (!node || node->type != QMP_JSON_INT || node->is_unsigned)
        return FALSE;
    if (out)
        *out = node->v.i;
    return TRUE;
}

gboolean
qmp_json_get_uint64(const QmpJson *node, guint64 *out)
{
    if (!node || node->type != QMP_JSON_INT)
        return FALSE;
    if (!node->is_unsigned && node->v.i < 0)
        return FALSE;
    if (out)
        *out = node->v.u;
    return TRUE;
}

gboolean
qmp_json_get_double(const QmpJson *node, double *out)
{
    double d;

    if (!node)
        return FALSE;
    switch (node->type) {
    case QMP_JSON_DOUBLE:
        d = node->v.d;
        break;
    case QMP_JSON_INT:
        d = node->is_unsigned ? (double) node->v.u : (double) node->v.i;
        break;
    default:
        return FALSE;
    }
    if (out)
        *out = d;
    return TRUE;
}

const char *
qmp_json_get_string(const QmpJson *node)
{
    if (!node || node->type != QMP_JSON_STRING)
        return NULL;
    return node->v.s;
}

const char *
qmp_json_type_name(QmpJsonType type)
{
    switch (type) {
    case QMP_JSON_NULL: return "null";
    case QMP_JSON_BOOL: return "bool";
    case QMP_JSON_INT: return "int";
    case QMP_JSON_DOUBLE: return "number";
    case QMP_JSON_STRING: return "string";
    case QMP_JSON_OBJECT: return "object";
    case QMP_JSON_ARRAY: return "array";
    }
    return "unknown";
}

/* ------------------------------------------------------------- equality */

static gboolean
numbers_equal(const QmpJson *a, const QmpJson *b)
{
    double da, db;

    if (a->type == QMP_JSON_INT && b->type == QMP_JSON_INT)
        return a->is_unsigned == b->is_unsigned && a->v.i == b->v.i;
    qmp_json_get_double(a, &da);
    qmp_json_get_double(b, &db);
    return da == db;
}

static gboolean
is_number(const QmpJson *n)
{
    return n->type == QMP_JSON_INT || n->type == QMP_JSON_DOUBLE;
}

gboolean
qmp_json_equal(const QmpJson *a, const QmpJson *b)
{
    if (a == b)
        return TRUE;
    if (!a || !b)
        return FALSE;
    if (is_number(a) && is_number(b))
        return numbers_equal(a, b);
    if (a->type != b->type)
        return FALSE;
    switch (a->type) {
    case QMP_JSON_NULL:
        return TRUE;
    case QMP_JSON_BOOL:
        return !a->v.b == !b->v.b;
    case QMP_JSON_STRING:
        return a->len == b->len && memcmp(a->v.s, b->v.s, a->len) == 0;
    case QMP_JSON_ARRAY: {
        const QmpJson *x = a->v.first, *y = b->v.first;
        if (a->len != b->len)
            return FALSE;
        for (; x && y; x = x->next, y = y->next) {
            if (!qmp_json_equal(x, y))
                return FALSE;
        }
        return !x && !y;
    }
    case QMP_JSON_OBJECT: {
        const QmpJson *x, *y, *hint;
        if (a->len != b->len)
            return FALSE;
        /* Try the same position first: members usually come in the same
         * order, which makes the common case linear. */
        hint = b->v.first;
        for (x = a->v.first; x; x = x->next) {
            if (hint && hint->key_len == x->key_len &&
                memcmp(hint->key, x->key, x->key_len) == 0) {
                y = hint;
            } else {
                for (y = b->v.first; y; y = y->next) {
                    if (y->key_len == x->key_len &&
                        memcmp(y->key, x->key, x->key_len) == 0)
                        break;
                }
                if (!y)
                    return FALSE;
            }
            if (!qmp_json_equal(x, y))
                return FALSE;
            hint = y->next;
        }
        return TRUE;
    }
    default:
        return FALSE;
    }
}
