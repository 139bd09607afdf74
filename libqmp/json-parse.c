/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * json-parse.c: JSON text into a document (see qmp-json.h), and the
 * builder that makes one value by value.
 *
 * The parser drives yajl's streaming interface.  The document keeps its own
 * copy of the text, and strings and keys without escapes point into it
 * (each closing quote becomes its NUL); strings with escapes are copied
 * into the arena.  The decode-schema benchmark runs through here.
 */
#include <math.h>
#include <stdio.h>
#include <yajl/yajl_parse.h>
#include "json-private.h"

/* --------------------------------------------------------------- parser */

typedef struct {
    QmpJson *node;      /* the open container */
    QmpJson *last;      /* its last child so far */
} Frame;

typedef struct {
    QmpJsonDoc *doc;
    Frame *stack;
    guint depth;        /* number of open containers */
    guint stack_alloc;
    guint max_depth;
    gboolean too_deep;
    gboolean bad_number;  /* a number beyond double's range */
    const char *key;    /* pending member name (in the document) */
    guint32 key_len;
    QmpJson *root;
    char *text;         /* the document's own copy of the text yajl reads */
    gsize text_len;
    /* qmp_json_parse_each: the array whose elements are handed over */
    const char *each_member;  /* the root's member holding it, or NULL */
    QmpJsonEachFunc each;
    gpointer each_data;
    guint each_depth;         /* p->depth inside that array, 0 outside */
    gboolean each_done;       /* it has been streamed already */
    gboolean each_stopped;    /* each returned FALSE */
    gsize each_index;
    const QmpJson *each_node;
    Chunk *mark_chunk;        /* the arena as it was before the element */
    gsize mark_used;
    Chunk *head;              /* doc->chunks, one load nearer */
    guint extra_values;       /* top-level values after the first */
} Parser;

/* arena_alloc for the parser's many small nodes. */
static inline gpointer
parser_alloc(Parser *p, gsize n)
{
    Chunk *c = p->head;
    gpointer r;

    n = (n + 7) & ~(gsize) 7;
    if (G_LIKELY(c && c->size - c->used >= n)) {
        r = (char *) c + CHUNK_HDR + c->used;
        c->used += n;
        return r;
    }
    r = qmp_json_arena_alloc_slow(p->doc, n);
    p->head = p->doc->chunks;
    return r;
}

/* A string or key as the document keeps it.  yajl hands over unescaped
 * strings as pointers into the text it parses, which is the document's own
 * copy: the closing quote, already consumed, becomes the terminating NUL
 * and nothing is copied.  Strings with escapes come from yajl's buffer and
 * are copied. */
static inline const char *
keep_string(Parser *p, const unsigned char *s, size_t l)
{
    /* (no text: the builder; NULL + 0 is undefined behaviour in C) */
    if (G_LIKELY(p->text != NULL && (const char *) s >= p->text &&
                 (const char *) s + l < p->text + p->text_len)) {
        ((char *) s)[l] = '\0';
        return (const char *) s;
    }
    char *copy = parser_alloc(p, l + 1);

    memcpy(copy, s, l);
    copy[l] = '\0';
    return copy;
}

static inline QmpJson *
new_node(Parser *p, QmpJsonType type)
{
    QmpJson *n = parser_alloc(p, sizeof(QmpJson));

    n->type = type;
    n->len = 0;
    n->is_unsigned = FALSE;
    n->next = NULL;
    n->key = p->key;
    n->key_len = p->key_len;
    p->key = NULL;
    p->key_len = 0;
    if (G_LIKELY(p->depth > 0)) {
        Frame *f = &p->stack[p->depth - 1];
        if (f->last)
            f->last->next = n;
        else
            f->node->v.first = n;
        f->last = n;
        f->node->len++;
    } else if (p->root == NULL) {
        p->root = n;
    } else {
        p->extra_values++;
    }
    return n;
}

static void
each_mark(Parser *p)
{
    p->mark_chunk = p->doc->chunks;
    p->mark_used = p->doc->chunks ? p->doc->chunks->used : 0;
}

/* An element of the streamed array is complete: hand it over, then drop
 * it from the tree and give its arena space back (unless it took a new
 * chunk, which then simply stays). */
static G_GNUC_NO_INLINE int
each_element(Parser *p, const QmpJson *n)
{
    Frame *f = &p->stack[p->each_depth - 1];
    gboolean ok = p->each(n, p->each_index++, p->each_data);

    f->node->v.first = NULL;
    f->node->len = 0;
    f->last = NULL;
    if (p->doc->chunks == p->mark_chunk && p->mark_chunk)
        p->mark_chunk->used = p->mark_used;
    else
        each_mark(p);
    if (!ok) {
        p->each_stopped = TRUE;
        return 0;
    }
    return 1;
}

/* After a scalar node is complete. */
#define SCALAR_DONE(p, n) \
    (G_UNLIKELY((p)->each_depth && (p)->depth == (p)->each_depth) \
         ? each_element((p), (n)) : 1)

static int
cb_null(void *ctx)
{
    QmpJson *n = new_node(ctx, QMP_JSON_NULL);
    n->v.u = 0;
    return SCALAR_DONE((Parser *) ctx, n);
}

static int
cb_boolean(void *ctx, int b)
{
    QmpJson *n = new_node(ctx, QMP_JSON_BOOL);
    n->v.b = b ? TRUE : FALSE;
    return SCALAR_DONE((Parser *) ctx, n);
}

/* Convert a JSON number's text (not NUL-terminated) to a double. */
static double
number_to_double(const char *s, size_t l)
{
    char buf[64];
    char *tmp = NULL;
    const char *z;
    double d;

    if (l < sizeof(buf)) {
        memcpy(buf, s, l);
        buf[l] = '\0';
        z = buf;
    } else {
        z = tmp = g_strndup(s, l);
    }
    d = g_ascii_strtod(z, NULL);
    g_free(tmp);
    return d;
}

static int
cb_number(void *ctx, const char *s, size_t l)
{
    Parser *parser = ctx;
    QmpJson *n = new_node(parser, QMP_JSON_INT);
    const char *p = s, *end = s + l;
    gboolean neg = FALSE;
    guint64 mag = 0;

    if (p < end && *p == '-') {
        neg = TRUE;
        p++;
    }
    for (; p < end; p++) {
        unsigned digit = (unsigned char) *p - '0';
        if (digit > 9)
            goto as_double;     /* '.', 'e' or 'E' */
        if (mag > (G_MAXUINT64 - digit) / 10)
            goto as_double;     /* overflows 64 bits */
        mag = mag * 10 + digit;
    }
    if (neg) {
        if (mag > (guint64) G_MAXINT64 + 1)
            goto as_double;
        n->v.i = mag == (guint64) G_MAXINT64 + 1 ? G_MININT64 : -(gint64) mag;
    } else if (mag > (guint64) G_MAXINT64) {
        n->v.u = mag;
        n->is_unsigned = TRUE;
    } else {
        n->v.i = (gint64) mag;
    }
    return SCALAR_DONE(parser, n);

as_double:
    n->type = QMP_JSON_DOUBLE;
    n->v.d = number_to_double(s, l);
    if (G_UNLIKELY(!isfinite(n->v.d))) {
        parser->bad_number = TRUE;
        return 0;
    }
    return SCALAR_DONE(parser, n);
}

static int
cb_string(void *ctx, const unsigned char *s, size_t l)
{
    Parser *p = ctx;
    QmpJson *n;

    if (G_UNLIKELY(l > G_MAXUINT32))
        return 0;
    n = new_node(p, QMP_JSON_STRING);
    n->len = (guint32) l;
    n->v.s = keep_string(p, s, l);
    return SCALAR_DONE(p, n);
}

static int
cb_map_key(void *ctx, const unsigned char *s, size_t l)
{
    Parser *p = ctx;

    if (G_UNLIKELY(l > G_MAXUINT32))
        return 0;
    p->key = keep_string(p, s, l);
    p->key_len = (guint32) l;
    return 1;
}

/* Is the array just opened (now at p->depth) the one to stream? */
static gboolean
is_each_array(Parser *p, const QmpJson *n)
{
    if (!p->each_member)
        return p->depth == 1;
    return p->depth == 2 && p->stack[0].node->type == QMP_JSON_OBJECT &&
           n->key && strlen(p->each_member) == n->key_len &&
           memcmp(n->key, p->each_member, n->key_len) == 0;
}

static inline int
open_container(Parser *p, QmpJsonType type)
{
    QmpJson *n;

    if (G_UNLIKELY(p->depth >= p->max_depth)) {
        p->too_deep = TRUE;
        return 0;
    }
    n = new_node(p, type);
    n->v.first = NULL;
    if (G_UNLIKELY(p->depth == p->stack_alloc)) {
        p->stack_alloc = p->stack_alloc ? p->stack_alloc * 2 : 32;
        p->stack = g_renew(Frame, p->stack, p->stack_alloc);
    }
    p->stack[p->depth].node = n;
    p->stack[p->depth].last = NULL;
    p->depth++;
    if (G_UNLIKELY(p->each) && type == QMP_JSON_ARRAY && !p->each_done &&
        !p->each_depth && is_each_array(p, n)) {
        p->each_depth = p->depth;
        p->each_node = n;
        each_mark(p);
    }
    return 1;
}

static int
cb_start_map(void *ctx)
{
    return open_container(ctx, QMP_JSON_OBJECT);
}

static int
cb_start_array(void *ctx)
{
    return open_container(ctx, QMP_JSON_ARRAY);
}

static int
cb_end(void *ctx)
{
    Parser *p = ctx;
    p->depth--;
    if (G_UNLIKELY(p->each_depth)) {
        if (p->depth == p->each_depth)
            return each_element(p, p->stack[p->depth - 1].last);
        if (p->depth + 1 == p->each_depth) {
            /* the streamed array itself is closed */
            p->each_depth = 0;
            p->each_done = TRUE;
        }
    }
    return 1;
}

/* yajl's own memory (its handle, lexer, state stack and the buffer it
 * unescapes strings into: a handful of blocks, 2 kB the biggest) comes from
 * a buffer on the parser's stack, so that a parse asks malloc for nothing
 * but the document.  Each block is preceded by its size; a block that does
 * not fit goes to malloc. */
#define YAJL_SCRATCH 8192
#define SCRATCH_HDR 16

typedef struct {
    gsize used;
    char *last;           /* the most recent block, or NULL */
    union {
        char buf[YAJL_SCRATCH];
        gint64 align;
    } u;
} Scratch;

static inline gboolean
scratch_owns(Scratch *s, const void *ptr)
{
    return (const char *) ptr >= s->u.buf &&
           (const char *) ptr < s->u.buf + YAJL_SCRATCH;
}

static inline gsize *
scratch_size(void *ptr)
{
    return (gsize *) ((char *) ptr - SCRATCH_HDR);
}

static void *
scratch_malloc(void *ctx, size_t sz)
{
    Scratch *s = ctx;
    gsize need = SCRATCH_HDR + ((sz + 15) & ~(gsize) 15);

    if (need <= YAJL_SCRATCH - s->used) {
        char *p = s->u.buf + s->used + SCRATCH_HDR;
        *scratch_size(p) = sz;
        s->used += need;
        s->last = p;
        return p;
    }
    return g_malloc(sz);
}

static void
scratch_free(void *ctx, void *ptr)
{
    Scratch *s = ctx;

    if (!scratch_owns(s, ptr)) {
        g_free(ptr);
        return;
    }
    if (ptr == s->last) {
        s->used = (gsize) ((char *) ptr - SCRATCH_HDR - s->u.buf);
        s->last = NULL;
    }
}

static void *
scratch_realloc(void *ctx, void *ptr, size_t sz)
{
    Scratch *s = ctx;
    gsize old;
    void *p;

    if (!ptr)
        return scratch_malloc(ctx, sz);
    if (!scratch_owns(s, ptr))
        return g_realloc(ptr, sz);
    old = *scratch_size(ptr);
    if (ptr == s->last) {
        gsize start = (gsize) ((char *) ptr - s->u.buf);
        if (start + ((sz + 15) & ~(gsize) 15) <= YAJL_SCRATCH) {
            *scratch_size(ptr) = sz;
            s->used = start + ((sz + 15) & ~(gsize) 15);
            return ptr;
        }
    }
    p = scratch_malloc(ctx, sz);
    memcpy(p, ptr, MIN(old, sz));
    scratch_free(ctx, ptr);
    return p;
}

static const yajl_callbacks parse_callbacks = {
    .yajl_null = cb_null,
    .yajl_boolean = cb_boolean,
    .yajl_number = cb_number,
    .yajl_string = cb_string,
    .yajl_start_map = cb_start_map,
    .yajl_map_key = cb_map_key,
    .yajl_end_map = cb_end,
    .yajl_start_array = cb_start_array,
    .yajl_end_array = cb_end,
};

static void
set_parse_error(GError **error, yajl_handle h, Parser *p, const char *text,
                gsize len, gsize offset)
{
    if (p->too_deep) {
        g_set_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL,
                    "JSON nesting deeper than %u at offset %" G_GSIZE_FORMAT,
                    p->max_depth, offset);
        return;
    }
    if (p->bad_number) {
        g_set_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL,
                    "JSON number out of range at offset %" G_GSIZE_FORMAT,
                    offset);
        return;
    }

    unsigned char *msg = yajl_get_error(h, 0, (const unsigned char *) text,
                                        len);
    char *reason = g_strstrip(g_strdup(msg ? (const char *) msg : "error"));
    if (msg)
        yajl_free_error(h, msg);
    g_set_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL,
                "invalid JSON at offset %" G_GSIZE_FORMAT ": %s", offset,
                reason);
    g_free(reason);
}

static QmpJsonDoc *
parse(Parser *pp, const char *text, gsize len, guint max_depth,
      GError **error)
{
    Parser p = *pp;
    Scratch scratch;
    yajl_alloc_funcs afs = {
        .malloc = scratch_malloc,
        .realloc = scratch_realloc,
        .free = scratch_free,
        .ctx = &scratch,
    };
    yajl_handle h;
    yajl_status st;
    gsize offset;

    g_return_val_if_fail(text != NULL || len == 0, NULL);

    p.doc = qmp_json_doc_new(len);
    p.max_depth = max_depth ? max_depth : DEFAULT_MAX_DEPTH;
    scratch.used = 0;
    scratch.last = NULL;
    if (len) {
        p.text = arena_alloc(p.doc, len);
        p.text_len = len;
        memcpy(p.text, text, len);
    }
    p.head = p.doc->chunks;
    h = yajl_alloc(&parse_callbacks, &afs, &p);
    yajl_config(h, yajl_allow_comments, 0);
    yajl_config(h, yajl_dont_validate_strings, 0);
    yajl_config(h, yajl_allow_trailing_garbage, 0);
    yajl_config(h, yajl_allow_multiple_values, 0);
    yajl_config(h, yajl_allow_partial_values, 0);

    st = yajl_parse(h, (const unsigned char *) (p.text ? p.text : ""), len);
    if (st == yajl_status_ok) {
        st = yajl_complete_parse(h);
        offset = len;
    } else {
        offset = yajl_get_bytes_consumed(h);
    }
    pp->each_stopped = p.each_stopped;
    pp->each_node = p.each_node;
    if (st != yajl_status_ok || !p.root) {
        if (p.each_stopped) {
            /* the caller's function stopped the parse: no error of ours */
        } else if (st == yajl_status_ok) {
            g_set_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL,
                        "invalid JSON at offset %" G_GSIZE_FORMAT
                        ": no value", offset);
        } else {
            set_parse_error(error, h, &p, text, len, offset);
        }
        yajl_free(h);
        g_free(p.stack);
        qmp_json_doc_unref(p.doc);
        return NULL;
    }
    yajl_free(h);
    g_free(p.stack);
    p.doc->root = p.root;
    return p.doc;
}

/* ------------------------------------------------------ reusable parser */

struct _QmpJsonParser {
    Parser p;           /* the callbacks' context: must not move */
    yajl_handle h;      /* kept between messages; NULL after a failure */
    guint max_depth;
};

QmpJsonParser *
qmp_json_parser_new(guint max_depth)
{
    QmpJsonParser *jp = g_new0(QmpJsonParser, 1);

    jp->max_depth = max_depth ? max_depth : DEFAULT_MAX_DEPTH;
    return jp;
}

void
qmp_json_parser_free(QmpJsonParser *jp)
{
    if (jp == NULL)
        return;
    if (jp->h)
        yajl_free(jp->h);
    g_free(jp->p.stack);
    g_free(jp);
}

QmpJsonDoc *
qmp_json_parser_parse(QmpJsonParser *jp, const char *text, gsize len,
                      GError **error)
{
    Parser *p = &jp->p;
    Frame *stack = p->stack;
    guint stack_alloc = p->stack_alloc;
    yajl_status st;

    memset(p, 0, sizeof(*p));
    p->stack = stack;
    p->stack_alloc = stack_alloc;
    p->max_depth = jp->max_depth;
    p->doc = qmp_json_doc_new(len);
    if (len) {
        p->text = arena_alloc(p->doc, len);
        p->text_len = len;
        memcpy(p->text, text, len);
    }
    p->head = p->doc->chunks;
    if (jp->h == NULL) {
        /* One handle reads text after text: yajl accepts a value after the
         * previous one; we check that each text holds exactly one. */
        jp->h = yajl_alloc(&parse_callbacks, NULL, p);
        yajl_config(jp->h, yajl_allow_multiple_values, 1);
    }
    st = yajl_parse(jp->h, (const unsigned char *) (p->text ? p->text : ""),
                    len);
    if (G_LIKELY(st == yajl_status_ok && p->root && p->depth == 0 &&
                 p->extra_values == 0 && p->root->type == QMP_JSON_OBJECT)) {
        p->doc->root = p->root;
        return p->doc;
    }
    if (st != yajl_status_ok)
        set_parse_error(error, jp->h, p, text, len,
                        yajl_get_bytes_consumed(jp->h));
    else if (p->extra_values)
        g_set_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL,
                    "invalid JSON: %u more value(s) after the first",
                    p->extra_values);
    else if (p->root == NULL || p->depth > 0)
        g_set_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL,
                    "invalid JSON at offset %" G_GSIZE_FORMAT
                    ": the text ends inside a value", len);
    else
        g_set_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL,
                    "a JSON %s, not an object",
                    qmp_json_type_name(p->root->type));
    /* yajl keeps state from a failed text: start afresh next time */
    yajl_free(jp->h);
    jp->h = NULL;
    qmp_json_doc_unref(p->doc);
    p->doc = NULL;
    return NULL;
}

QmpJsonDoc *
qmp_json_parse(const char *text, gsize len, guint max_depth, GError **error)
{
    Parser p = { 0 };

    return parse(&p, text, len, max_depth, error);
}

QmpJsonDoc *
qmp_json_parse_each(const char *text, gsize len, guint max_depth,
                    const char *member, QmpJsonEachFunc func,
                    gpointer user_data, const QmpJson **streamed,
                    gboolean *stopped, GError **error)
{
    Parser p = { 0 };
    QmpJsonDoc *doc;

    g_return_val_if_fail(func != NULL, NULL);
    p.each_member = member;
    p.each = func;
    p.each_data = user_data;
    doc = parse(&p, text, len, max_depth, error);
    if (streamed)
        *streamed = doc ? p.each_node : NULL;
    if (stopped)
        *stopped = p.each_stopped;
    return doc;
}

/* -------------------------------------------------------------- builder */

/* A document built value by value (the encoders' target), with the
 * parser's own node constructors: no text, so every string is copied. */
struct _QmpJsonBuilder {
    Parser p;
};

QmpJsonBuilder *
qmp_json_builder_new(void)
{
    QmpJsonBuilder *b = g_new0(QmpJsonBuilder, 1);

    b->p.doc = qmp_json_doc_new(SMALL_TEXT);
    b->p.head = b->p.doc->chunks;
    b->p.max_depth = G_MAXUINT;
    return b;
}

void
qmp_json_builder_free(QmpJsonBuilder *b)
{
    if (!b)
        return;
    g_free(b->p.stack);
    qmp_json_doc_unref(b->p.doc);
    g_free(b);
}

void
qmp_json_builder_key(QmpJsonBuilder *b, const char *key, gsize len)
{
    cb_map_key(&b->p, (const unsigned char *) key, len);
}

void
qmp_json_builder_begin_object(QmpJsonBuilder *b)
{
    open_container(&b->p, QMP_JSON_OBJECT);
}

void
qmp_json_builder_begin_array(QmpJsonBuilder *b)
{
    open_container(&b->p, QMP_JSON_ARRAY);
}

void
qmp_json_builder_end(QmpJsonBuilder *b)
{
    g_return_if_fail(b->p.depth > 0);
    cb_end(&b->p);
}

void
qmp_json_builder_null(QmpJsonBuilder *b)
{
    cb_null(&b->p);
}

void
qmp_json_builder_bool(QmpJsonBuilder *b, gboolean v)
{
    cb_boolean(&b->p, v);
}

void
qmp_json_builder_int64(QmpJsonBuilder *b, gint64 v)
{
    new_node(&b->p, QMP_JSON_INT)->v.i = v;
}

void
qmp_json_builder_uint64(QmpJsonBuilder *b, guint64 v)
{
    QmpJson *n = new_node(&b->p, QMP_JSON_INT);

    n->v.u = v;
    n->is_unsigned = v > (guint64) G_MAXINT64;
}

gboolean
qmp_json_builder_double(QmpJsonBuilder *b, double v)
{
    if (!isfinite(v))
        return FALSE;
    new_node(&b->p, QMP_JSON_DOUBLE)->v.d = v;
    return TRUE;
}

void
qmp_json_builder_string(QmpJsonBuilder *b, const char *s, gsize len)
{
    cb_string(&b->p, (const unsigned char *) s, len);
}

void
qmp_json_builder_node(QmpJsonBuilder *b, const QmpJson *node)
{
    Parser *p = &b->p;
    QmpJson *n = new_node(p, node->type);
    const char *key = n->key;
    guint32 key_len = n->key_len;
    const QmpJson *next = n->next;
    QmpJson *copy = qmp_json_copy_node(p->doc, node);

    p->head = p->doc->chunks;
    *n = *copy;  /* the copy's children, in place of the node made above */
    n->key = key;
    n->key_len = key_len;
    n->next = next;
}

QmpJsonDoc *
qmp_json_builder_finish(QmpJsonBuilder *b)
{
    QmpJsonDoc *doc;

    g_return_val_if_fail(b->p.depth == 0 && b->p.root != NULL, NULL);
    doc = b->p.doc;
    doc->root = b->p.root;
    b->p.doc = NULL;
    qmp_json_builder_free(b);
    return doc;
}
