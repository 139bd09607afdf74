/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * json-private.h (private): the inside of a QmpJsonDoc, shared by the JSON
 * tree's files: the arena every node lives in (qmp-json.c), the parser and
 * builder that fill it (json-parse.c), the generator (json-gen.c).
 */
#pragma once

#include <string.h>
#include "qmp-error.h"
#include "qmp-json.h"

#define DEFAULT_MAX_DEPTH 1024
#define MIN_CHUNK 4096
#define MAX_CHUNK (1024 * 1024)

typedef struct _Chunk Chunk;
struct _Chunk {
    Chunk *next;
    gsize size;
    gsize used;
    /* data follows, 8-byte aligned */
};

#define CHUNK_HDR ((sizeof(Chunk) + 7) & ~(gsize) 7)

struct _QmpJsonDoc {
    gint refcount;
    gboolean is_static; /* the shared `null` document: never freed */
    const QmpJson *root;
    Chunk *chunks;      /* newest first; allocation happens in the head */
    gsize next_size;    /* size of the next chunk to allocate */
};

/* Texts up to this size (most QMP messages: replies, events) get their
 * document and its whole arena in one small block, which malloc serves from
 * its per-thread cache; no 4 KiB chunk per message. */
#define SMALL_TEXT 192

/* A chunk for n more bytes (the slow path of arena_alloc). */
G_GNUC_INTERNAL gpointer qmp_json_arena_alloc_slow(QmpJsonDoc *doc, gsize n);
/* A new document whose first chunk suits a text of size_hint bytes. */
G_GNUC_INTERNAL QmpJsonDoc *qmp_json_doc_new(gsize size_hint);
/* A deep copy of src (its key included) in doc's arena. */
G_GNUC_INTERNAL QmpJson *qmp_json_copy_node(QmpJsonDoc *doc, const QmpJson *src);

/* n bytes, 8-byte aligned. */
static inline gpointer
arena_alloc(QmpJsonDoc *doc, gsize n)
{
    Chunk *c = doc->chunks;

    n = (n + 7) & ~(gsize) 7;
    if (G_LIKELY(c && c->size - c->used >= n)) {
        gpointer p = (char *) c + CHUNK_HDR + c->used;
        c->used += n;
        return p;
    }
    return qmp_json_arena_alloc_slow(doc, n);
}

static inline const char *
arena_strndup(QmpJsonDoc *doc, const char *s, gsize len)
{
    char *p = arena_alloc(doc, len + 1);

    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}
