/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * codec-decode.c: JSON (a tree, or text streamed element by element) into
 * generated C values (see qmp-type-info.h).  Decoding never formats a
 * string on the success path: when something fails, the innermost call
 * records the message and every caller prepends its own path segment while
 * the stack unwinds.  The hot path of decode-schema runs here: keep it
 * measured (bench/).
 */
#include <stdlib.h>
#include "codec-private.h"

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
                qmp_codec_clear_scalar(vi->elem_kind, vi->type, tmp + k * size);
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
            qmp_codec_clear_value(vi, &xs, json->len);
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
        qmp_codec_clear_scalar(d->vi->elem_kind, d->vi->type, d->s->buf + k * d->size);
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

