/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of the table-driven codec (qmp-codec.c), with hand-written
 * tables shaped like the generator's output.
 */
#include <stddef.h>
#include <string.h>

#include "qmp-error.h"
#include "qmp-type-info.h"

/* ------------------------------------------------------------ the types */

typedef enum {
    COLOR__UNKNOWN = -1,
    COLOR_RED,
    COLOR_GREEN,
    COLOR_DARK_BLUE,
} Color;

static const char *const color_values[] = { "red", "green", "dark-blue" };

static const QmpTypeInfo color_info = {
    .name = "Color",
    .klass = QMP_TYPE_ENUM,
    .enum_values = color_values,
    .n_enum_values = 3,
    .discriminator = -1,
};

/* { 'struct': 'Inner', 'data': { 'name': 'str', 'value': 'int' } } */
typedef struct {
    char *name;
    gint64 value;
} Inner;

static const QmpMemberInfo inner_members[] = {
    { "name", { QMP_KIND_STR, 0, NULL }, offsetof(Inner, name), -1, -1, 0, NULL },
    { "value", { QMP_KIND_INT64, 0, NULL }, offsetof(Inner, value), -1, -1, 0, NULL },
};

static const QmpTypeInfo inner_info = {
    .name = "Inner",
    .klass = QMP_TYPE_OBJECT,
    .size = sizeof(Inner),
    .members = inner_members,
    .n_members = G_N_ELEMENTS(inner_members),
    .discriminator = -1,
};

/* { 'alternate': 'Alt', 'data': { 's': 'str', 'i': 'int', 'o': 'Inner',
 *                                 'n': 'null' } } */
typedef enum {
    ALT_KIND_S,
    ALT_KIND_I,
    ALT_KIND_O,
    ALT_KIND_N,
} AltKind;

typedef struct {
    AltKind kind;
    union {
        char *s;
        gint64 i;
        Inner *o;
        gboolean n;
    } u;
} Alt;

static const QmpVariantInfo alt_variants[] = {
    { "s", ALT_KIND_S, { QMP_KIND_STR, 0, NULL }, 0 },
    { "i", ALT_KIND_I, { QMP_KIND_INT64, 0, NULL }, 0 },
    { "o", ALT_KIND_O, { QMP_KIND_OBJECT, 0, &inner_info }, 0 },
    { "n", ALT_KIND_N, { QMP_KIND_NULL, 0, NULL }, 0 },
};

static const QmpTypeInfo alt_info = {
    .name = "Alt",
    .klass = QMP_TYPE_ALTERNATE,
    .size = sizeof(Alt),
    .discriminator = -1,
    .variants_offset = offsetof(Alt, u),
    .variants = alt_variants,
    .n_variants = G_N_ELEMENTS(alt_variants),
};

/* { 'alternate': 'NumOrList', 'data': { 'd': 'number', 'l': ['uint8'] } }
 * (an array branch, like QEMU's StatsValue) */
typedef enum {
    NUM_OR_LIST_KIND_D,
    NUM_OR_LIST_KIND_L,
} NumOrListKind;

typedef struct {
    NumOrListKind kind;
    union {
        double d;
        struct {
            guint8 *data;
            gsize n;
        } l;
    } u;
} NumOrList;

static const QmpVariantInfo num_or_list_variants[] = {
    { "d", NUM_OR_LIST_KIND_D, { QMP_KIND_NUMBER, 0, NULL }, 0 },
    { "l", NUM_OR_LIST_KIND_L, { QMP_KIND_ARRAY, QMP_KIND_UINT8, NULL }, 0 },
};

static const QmpTypeInfo num_or_list_info = {
    .name = "NumOrList",
    .klass = QMP_TYPE_ALTERNATE,
    .size = sizeof(NumOrList),
    .discriminator = -1,
    .variants_offset = offsetof(NumOrList, u),
    .variants = num_or_list_variants,
    .n_variants = G_N_ELEMENTS(num_or_list_variants),
};

/* { 'enum': 'ShapeKind', 'data': [ 'circle', 'rect', 'point' ] }
 * { 'union': 'Shape', 'base': { 'id': 'str', 'type': 'ShapeKind' },
 *   'discriminator': 'type',
 *   'data': { 'circle': 'ShapeCircle', 'rect': 'ShapeRect' } } */
typedef enum {
    SHAPE_KIND_CIRCLE,
    SHAPE_KIND_RECT,
    SHAPE_KIND_POINT,
} ShapeKind;

static const char *const shape_kind_values[] = { "circle", "rect", "point" };

static const QmpTypeInfo shape_kind_info = {
    .name = "ShapeKind",
    .klass = QMP_TYPE_ENUM,
    .enum_values = shape_kind_values,
    .n_enum_values = 3,
    .discriminator = -1,
};

typedef struct {
    double radius;
} ShapeCircle;

typedef struct {
    gint64 w;
    gint64 h;
    char *label; /* optional */
} ShapeRect;

typedef struct {
    char *id;
    ShapeKind type;
    union {
        ShapeCircle circle;
        ShapeRect rect;
    } u;
} Shape;

static const QmpMemberInfo shape_circle_members[] = {
    { "radius", { QMP_KIND_NUMBER, 0, NULL }, offsetof(ShapeCircle, radius), -1, -1, 0, NULL },
};

static const QmpTypeInfo shape_circle_info = {
    .name = "ShapeCircle",
    .klass = QMP_TYPE_OBJECT,
    .size = sizeof(ShapeCircle),
    .members = shape_circle_members,
    .n_members = G_N_ELEMENTS(shape_circle_members),
    .discriminator = -1,
};

static const QmpMemberInfo shape_rect_members[] = {
    { "w", { QMP_KIND_INT64, 0, NULL }, offsetof(ShapeRect, w), -1, -1, 0, NULL },
    { "h", { QMP_KIND_INT64, 0, NULL }, offsetof(ShapeRect, h), -1, -1, 0, NULL },
    { "label", { QMP_KIND_STR, 0, NULL }, offsetof(ShapeRect, label), -1, -1,
      QMP_INFO_OPTIONAL, "1.1" },
};

static const QmpTypeInfo shape_rect_info = {
    .name = "ShapeRect",
    .klass = QMP_TYPE_OBJECT,
    .size = sizeof(ShapeRect),
    .members = shape_rect_members,
    .n_members = G_N_ELEMENTS(shape_rect_members),
    .discriminator = -1,
};

static const QmpMemberInfo shape_members[] = {
    { "id", { QMP_KIND_STR, 0, NULL }, offsetof(Shape, id), -1, -1, 0, NULL },
    { "type", { QMP_KIND_ENUM, 0, &shape_kind_info }, offsetof(Shape, type), -1, -1, 0, NULL },
};

static const QmpVariantInfo shape_variants[] = {
    { "circle", SHAPE_KIND_CIRCLE, { QMP_KIND_OBJECT, 0, &shape_circle_info }, 0 },
    { "rect", SHAPE_KIND_RECT, { QMP_KIND_OBJECT, 0, &shape_rect_info }, 0 },
    { "point", SHAPE_KIND_POINT, { QMP_KIND_OBJECT, 0, NULL }, 0 },
};

static const QmpTypeInfo shape_info = {
    .name = "Shape",
    .klass = QMP_TYPE_OBJECT,
    .size = sizeof(Shape),
    .members = shape_members,
    .n_members = G_N_ELEMENTS(shape_members),
    .discriminator = 1,
    .variants_offset = offsetof(Shape, u),
    .variants = shape_variants,
    .n_variants = G_N_ELEMENTS(shape_variants),
};

/* A struct with one member of every kind. */
typedef struct {
    gint8 i8;
    gint16 i16;
    gint32 i32;
    gint64 i64;
    guint8 u8;
    guint16 u16;
    guint32 u32;
    guint64 u64;
    double num;
    gboolean flag;
    char *str;
    gboolean has_opt_int;
    gint32 opt_int;
    char *opt_str;
    gboolean has_opt_bool;
    gboolean opt_bool;
    gboolean has_nul;
    gboolean nul;
    Color color;
    gboolean has_opt_color;
    Color opt_color;
    Inner *inner;
    Inner *opt_inner;
    char **strs;
    gsize n_strs;
    gint64 *ints;
    gsize n_ints;
    Color *colors;
    gsize n_colors;
    Inner **inners;
    gsize n_inners;
    gboolean has_opt_list;
    guint16 *opt_list;
    gsize n_opt_list;
    QmpJsonDoc *data;
    QmpJsonDoc *opt_data;
    Alt *alt;
    Alt **alts;
    gsize n_alts;
    Shape **shapes;
    gsize n_shapes;
    NumOrList *nol;
} Every;

#define M(name, kind, elem, type, field, has, len, flags) \
    { name, { kind, elem, type }, offsetof(Every, field), has, len, flags, NULL }
#define HAS(f) ((gint32) offsetof(Every, f))

static const QmpMemberInfo every_members[] = {
    M("i8", QMP_KIND_INT8, 0, NULL, i8, -1, -1, 0),
    M("i16", QMP_KIND_INT16, 0, NULL, i16, -1, -1, 0),
    M("i32", QMP_KIND_INT32, 0, NULL, i32, -1, -1, 0),
    M("i64", QMP_KIND_INT64, 0, NULL, i64, -1, -1, 0),
    M("u8", QMP_KIND_UINT8, 0, NULL, u8, -1, -1, 0),
    M("u16", QMP_KIND_UINT16, 0, NULL, u16, -1, -1, 0),
    M("u32", QMP_KIND_UINT32, 0, NULL, u32, -1, -1, 0),
    M("u64", QMP_KIND_UINT64, 0, NULL, u64, -1, -1, 0),
    M("num", QMP_KIND_NUMBER, 0, NULL, num, -1, -1, 0),
    M("flag", QMP_KIND_BOOL, 0, NULL, flag, -1, -1, 0),
    M("str", QMP_KIND_STR, 0, NULL, str, -1, -1, 0),
    M("opt-int", QMP_KIND_INT32, 0, NULL, opt_int, HAS(has_opt_int), -1, QMP_INFO_OPTIONAL),
    M("opt-str", QMP_KIND_STR, 0, NULL, opt_str, -1, -1, QMP_INFO_OPTIONAL),
    M("opt-bool", QMP_KIND_BOOL, 0, NULL, opt_bool, HAS(has_opt_bool), -1, QMP_INFO_OPTIONAL),
    M("nul", QMP_KIND_NULL, 0, NULL, nul, HAS(has_nul), -1, QMP_INFO_OPTIONAL),
    M("color", QMP_KIND_ENUM, 0, &color_info, color, -1, -1, 0),
    M("opt-color", QMP_KIND_ENUM, 0, &color_info, opt_color, HAS(has_opt_color), -1, QMP_INFO_OPTIONAL),
    M("inner", QMP_KIND_OBJECT, 0, &inner_info, inner, -1, -1, 0),
    M("opt-inner", QMP_KIND_OBJECT, 0, &inner_info, opt_inner, -1, -1, QMP_INFO_OPTIONAL),
    M("strs", QMP_KIND_ARRAY, QMP_KIND_STR, NULL, strs, -1, HAS(n_strs), 0),
    M("ints", QMP_KIND_ARRAY, QMP_KIND_INT64, NULL, ints, -1, HAS(n_ints), 0),
    M("colors", QMP_KIND_ARRAY, QMP_KIND_ENUM, &color_info, colors, -1, HAS(n_colors), 0),
    M("inners", QMP_KIND_ARRAY, QMP_KIND_OBJECT, &inner_info, inners, -1, HAS(n_inners), 0),
    M("opt-list", QMP_KIND_ARRAY, QMP_KIND_UINT16, NULL, opt_list, HAS(has_opt_list), HAS(n_opt_list), QMP_INFO_OPTIONAL),
    M("data", QMP_KIND_ANY, 0, NULL, data, -1, -1, 0),
    M("opt-data", QMP_KIND_ANY, 0, NULL, opt_data, -1, -1, QMP_INFO_OPTIONAL),
    M("alt", QMP_KIND_ALTERNATE, 0, &alt_info, alt, -1, -1, 0),
    M("alts", QMP_KIND_ARRAY, QMP_KIND_ALTERNATE, &alt_info, alts, -1, HAS(n_alts), 0),
    M("shapes", QMP_KIND_ARRAY, QMP_KIND_OBJECT, &shape_info, shapes, -1, HAS(n_shapes), 0),
    M("nol", QMP_KIND_ALTERNATE, 0, &num_or_list_info, nol, -1, -1, QMP_INFO_OPTIONAL),
};

static const QmpTypeInfo every_info = {
    .name = "Every",
    .klass = QMP_TYPE_OBJECT,
    .size = sizeof(Every),
    .members = every_members,
    .n_members = G_N_ELEMENTS(every_members),
    .discriminator = -1,
};

static const char every_json[] =
    "{\"i8\": -128, \"i16\": 32767, \"i32\": -2147483648,"
    " \"i64\": -9223372036854775808, \"u8\": 255, \"u16\": 65535,"
    " \"u32\": 4294967295, \"u64\": 18446744073709551615, \"num\": 2.5,"
    " \"flag\": true, \"str\": \"h\\u00e9llo\", \"opt-int\": 7,"
    " \"opt-bool\": false, \"nul\": null, \"color\": \"dark-blue\","
    " \"inner\": {\"name\": \"a\", \"value\": 1},"
    " \"strs\": [\"x\", \"y\"], \"ints\": [1, -2, 3], \"colors\": [\"red\", \"green\"],"
    " \"inners\": [{\"value\": 2, \"name\": \"b\"}, {\"name\": \"c\", \"value\": 3}],"
    " \"opt-list\": [], \"data\": {\"k\": [1, {\"z\": null}]},"
    " \"alt\": {\"name\": \"o\", \"value\": 9},"
    " \"alts\": [\"s\", 5, null, {\"name\": \"p\", \"value\": -1}],"
    " \"shapes\": [{\"id\": \"c1\", \"type\": \"circle\", \"radius\": 1},"
    "              {\"type\": \"rect\", \"w\": 3, \"h\": 4, \"id\": \"r1\","
    "               \"label\": \"box\"},"
    "              {\"id\": \"p1\", \"type\": \"point\"}],"
    " \"nol\": [1, 2, 3]}";

/* ------------------------------------------------------------- helpers */

static QmpJsonDoc *
parse(const char *text)
{
    GError *error = NULL;
    QmpJsonDoc *doc = qmp_json_parse(text, strlen(text), 0, &error);

    g_assert_no_error(error);
    return doc;
}

static gpointer
decode_ok(const QmpTypeInfo *type, const char *text, QmpDecodeFlags flags)
{
    g_autoptr(QmpJsonDoc) doc = parse(text);
    GError *error = NULL;
    gpointer out = NULL;

    g_assert_true(qmp_value_decode(type, qmp_json_doc_root(doc), flags,
                                   "return", &out, &error));
    g_assert_no_error(error);
    g_assert_nonnull(out);
    return out;
}

/* Decode must fail with exactly this message. */
static void
decode_fails(const QmpTypeInfo *type, const char *text, QmpDecodeFlags flags,
             const char *path, const char *message)
{
    g_autoptr(QmpJsonDoc) doc = parse(text);
    GError *error = NULL;
    gpointer out = (gpointer) 0x1;

    g_assert_false(qmp_value_decode(type, qmp_json_doc_root(doc), flags,
                                    path, &out, &error));
    g_assert_null(out);
    g_assert_error(error, QMP_ERROR, QMP_ERROR_DECODE);
    g_assert_cmpstr(error->message, ==, message);
    g_error_free(error);
}

static char *
encode(const QmpTypeInfo *type, gconstpointer value)
{
    yajl_gen gen = yajl_gen_alloc(NULL);
    GError *error = NULL;
    const unsigned char *buf;
    size_t len;
    char *out;

    g_assert_true(qmp_value_encode(type, value, gen, &error));
    g_assert_no_error(error);
    g_assert_cmpint(yajl_gen_get_buf(gen, &buf, &len), ==, yajl_gen_status_ok);
    out = g_strndup((const char *) buf, len);
    yajl_gen_free(gen);
    return out;
}

static void
assert_json_equal(const char *a, const char *b)
{
    g_autoptr(QmpJsonDoc) da = parse(a);
    g_autoptr(QmpJsonDoc) db = parse(b);

    if (!qmp_json_equal(qmp_json_doc_root(da), qmp_json_doc_root(db)))
        g_error("JSON differs:\n%s\n%s", a, b);
}

/* --------------------------------------------------------------- tests */

static void
test_decode_every(void)
{
    Every *e = decode_ok(&every_info, every_json, QMP_DECODE_STRICT);
    Shape *s;
    const QmpJson *k;

    g_assert_cmpint(e->i8, ==, -128);
    g_assert_cmpint(e->i16, ==, 32767);
    g_assert_cmpint(e->i32, ==, G_MININT32);
    g_assert_cmpint(e->i64, ==, G_MININT64);
    g_assert_cmpuint(e->u8, ==, 255);
    g_assert_cmpuint(e->u16, ==, 65535);
    g_assert_cmpuint(e->u32, ==, G_MAXUINT32);
    g_assert_cmpuint(e->u64, ==, G_MAXUINT64);
    g_assert_cmpfloat(e->num, ==, 2.5);
    g_assert_true(e->flag);
    g_assert_cmpstr(e->str, ==, "h\xc3\xa9llo");
    g_assert_true(e->has_opt_int);
    g_assert_cmpint(e->opt_int, ==, 7);
    g_assert_null(e->opt_str);
    g_assert_true(e->has_opt_bool);
    g_assert_false(e->opt_bool);
    g_assert_true(e->has_nul);
    g_assert_true(e->nul);
    g_assert_cmpint(e->color, ==, COLOR_DARK_BLUE);
    g_assert_false(e->has_opt_color);
    g_assert_cmpstr(e->inner->name, ==, "a");
    g_assert_cmpint(e->inner->value, ==, 1);
    g_assert_null(e->opt_inner);
    g_assert_cmpuint(e->n_strs, ==, 2);
    g_assert_cmpstr(e->strs[0], ==, "x");
    g_assert_cmpstr(e->strs[1], ==, "y");
    g_assert_cmpuint(e->n_ints, ==, 3);
    g_assert_cmpint(e->ints[1], ==, -2);
    g_assert_cmpuint(e->n_colors, ==, 2);
    g_assert_cmpint(e->colors[0], ==, COLOR_RED);
    g_assert_cmpint(e->colors[1], ==, COLOR_GREEN);
    g_assert_cmpuint(e->n_inners, ==, 2);
    g_assert_cmpstr(e->inners[0]->name, ==, "b");
    g_assert_cmpint(e->inners[1]->value, ==, 3);
    g_assert_true(e->has_opt_list);
    g_assert_cmpuint(e->n_opt_list, ==, 0);
    g_assert_nonnull(e->data);
    k = qmp_json_lookup(qmp_json_doc_root(e->data), "k");
    g_assert_cmpuint(k->len, ==, 2);
    g_assert_null(e->opt_data);
    g_assert_cmpint(e->alt->kind, ==, ALT_KIND_O);
    g_assert_cmpstr(e->alt->u.o->name, ==, "o");
    g_assert_cmpuint(e->n_alts, ==, 4);
    g_assert_cmpint(e->alts[0]->kind, ==, ALT_KIND_S);
    g_assert_cmpstr(e->alts[0]->u.s, ==, "s");
    g_assert_cmpint(e->alts[1]->kind, ==, ALT_KIND_I);
    g_assert_cmpint(e->alts[1]->u.i, ==, 5);
    g_assert_cmpint(e->alts[2]->kind, ==, ALT_KIND_N);
    g_assert_true(e->alts[2]->u.n);
    g_assert_cmpint(e->alts[3]->kind, ==, ALT_KIND_O);
    g_assert_cmpint(e->alts[3]->u.o->value, ==, -1);
    g_assert_cmpuint(e->n_shapes, ==, 3);
    s = e->shapes[0];
    g_assert_cmpstr(s->id, ==, "c1");
    g_assert_cmpint(s->type, ==, SHAPE_KIND_CIRCLE);
    g_assert_cmpfloat(s->u.circle.radius, ==, 1.0);
    s = e->shapes[1];
    g_assert_cmpstr(s->id, ==, "r1");
    g_assert_cmpint(s->type, ==, SHAPE_KIND_RECT);
    g_assert_cmpint(s->u.rect.w, ==, 3);
    g_assert_cmpint(s->u.rect.h, ==, 4);
    g_assert_cmpstr(s->u.rect.label, ==, "box");
    s = e->shapes[2];
    g_assert_cmpstr(s->id, ==, "p1");
    g_assert_cmpint(s->type, ==, SHAPE_KIND_POINT);
    g_assert_cmpint(e->nol->kind, ==, NUM_OR_LIST_KIND_L);
    g_assert_cmpuint(e->nol->u.l.n, ==, 3);
    g_assert_cmpuint(e->nol->u.l.data[2], ==, 3);

    qmp_value_free(&every_info, e);
}

static void
test_round_trip(void)
{
    Every *e = decode_ok(&every_info, every_json, QMP_DECODE_DEFAULT);
    g_autofree char *text = encode(&every_info, e);
    Every *again = decode_ok(&every_info, text, QMP_DECODE_STRICT);
    g_autofree char *text2 = encode(&every_info, again);

    /* Encoding keeps every member the input had, nothing more. */
    assert_json_equal(text, every_json);
    g_assert_true(qmp_value_equal(&every_info, e, again));
    g_assert_cmpstr(text, ==, text2);
    /* Member order is the schema's. */
    g_assert_true(g_str_has_prefix(text, "{\"i8\":-128,\"i16\":32767,"));
    g_assert_nonnull(strstr(text, "{\"id\":\"r1\",\"type\":\"rect\",\"w\":3,"
                                  "\"h\":4,\"label\":\"box\"}"));
    g_assert_nonnull(strstr(text, "\"u64\":18446744073709551615,"));
    g_assert_nonnull(strstr(text, "\"radius\":1.0}"));

    /* Unequal in one deep place. */
    again->shapes[1]->u.rect.h = 5;
    g_assert_false(qmp_value_equal(&every_info, e, again));
    again->shapes[1]->u.rect.h = 4;
    g_assert_true(qmp_value_equal(&every_info, e, again));
    again->has_opt_int = FALSE;
    g_assert_false(qmp_value_equal(&every_info, e, again));

    qmp_value_free(&every_info, e);
    qmp_value_free(&every_info, again);
}

static void
test_copy(void)
{
    Every *e = decode_ok(&every_info, every_json, QMP_DECODE_DEFAULT);
    Every *c = qmp_value_copy(&every_info, e);
    g_autofree char *t1 = NULL;
    g_autofree char *t2 = NULL;

    g_assert_true(qmp_value_equal(&every_info, e, c));
    g_assert_true(c->str != e->str);
    g_assert_true(c->inners[0] != e->inners[0]);
    g_assert_true(c->shapes[1]->u.rect.label != e->shapes[1]->u.rect.label);
    g_assert_true(c->nol->u.l.data != e->nol->u.l.data);
    t1 = encode(&every_info, e);
    /* The copy stands alone. */
    qmp_value_free(&every_info, e);
    t2 = encode(&every_info, c);
    g_assert_cmpstr(t1, ==, t2);
    c->inners[1]->name[0] = 'Z';
    g_assert_null(qmp_value_copy(&every_info, NULL));
    qmp_value_free(&every_info, c);
    qmp_value_free(&every_info, NULL);
    qmp_value_free(NULL, NULL);
    g_assert_true(qmp_value_equal(&every_info, NULL, NULL));
    g_assert_false(qmp_value_equal(&inner_info, NULL, &(Inner){ 0 }));
}

static void
test_unknown_members(void)
{
    const char *text = "{\"name\": \"n\", \"bogus\": [1], \"value\": 2}";
    Inner *in = decode_ok(&inner_info, text, QMP_DECODE_DEFAULT);

    g_assert_cmpstr(in->name, ==, "n");
    g_assert_cmpint(in->value, ==, 2);
    qmp_value_free(&inner_info, in);
    decode_fails(&inner_info, text, QMP_DECODE_STRICT, "return",
                 "return.bogus: unknown member");
    decode_fails(&inner_info, text, QMP_DECODE_STRICT, "",
                 "bogus: unknown member");
    decode_fails(&inner_info, text, QMP_DECODE_STRICT, NULL,
                 "bogus: unknown member");
    decode_fails(&inner_info, "{\"name\": \"a\", \"value\": 1, \"name\": \"b\"}",
                 QMP_DECODE_DEFAULT, "x", "x.name: duplicate member");
}

static void
test_union(void)
{
    Shape *s;
    g_autofree char *t = NULL;

    /* Branch members count as known; other branches' members do not. */
    s = decode_ok(&shape_info,
                  "{\"radius\": 0.5, \"type\": \"circle\", \"id\": \"c\"}",
                  QMP_DECODE_STRICT);
    g_assert_cmpfloat(s->u.circle.radius, ==, 0.5);
    t = encode(&shape_info, s);
    g_assert_cmpstr(t, ==, "{\"id\":\"c\",\"type\":\"circle\",\"radius\":0.5}");
    qmp_value_free(&shape_info, s);
    g_clear_pointer(&t, g_free);

    decode_fails(&shape_info,
                 "{\"id\": \"r\", \"type\": \"rect\", \"w\": 1, \"h\": 2,"
                 " \"radius\": 3}",
                 QMP_DECODE_STRICT, "return", "return.radius: unknown member");
    decode_fails(&shape_info, "{\"id\": \"p\", \"type\": \"point\", \"w\": 1}",
                 QMP_DECODE_STRICT, "return", "return.w: unknown member");
    decode_fails(&shape_info, "{\"id\": \"r\", \"type\": \"rect\", \"w\": 1}",
                 QMP_DECODE_DEFAULT, "return", "return: missing member 'h'");
    decode_fails(&shape_info, "{\"id\": \"r\", \"w\": 1}",
                 QMP_DECODE_DEFAULT, "return", "return: missing member 'type'");
    decode_fails(&shape_info, "{\"id\": \"r\", \"type\": 1}",
                 QMP_DECODE_DEFAULT, "return",
                 "return.type: expected string, got int");
    decode_fails(&shape_info, "{\"id\": \"r\", \"type\": \"hexagon\"}",
                 QMP_DECODE_STRICT, "return",
                 "return.type: invalid value 'hexagon' for ShapeKind");
    decode_fails(&shape_info,
                 "{\"id\": \"c\", \"type\": \"circle\", \"radius\": \"big\"}",
                 QMP_DECODE_DEFAULT, "return",
                 "return.radius: expected number, got string");

    /* An unknown discriminator value decodes as -1 without a branch, and
     * cannot be encoded. */
    s = decode_ok(&shape_info,
                  "{\"id\": \"h\", \"type\": \"hexagon\", \"sides\": 6}",
                  QMP_DECODE_DEFAULT);
    g_assert_cmpint((int) s->type, ==, -1);
    {
        yajl_gen gen = yajl_gen_alloc(NULL);
        GError *error = NULL;
        g_assert_false(qmp_value_encode(&shape_info, s, gen, &error));
        g_assert_error(error, QMP_ERROR, QMP_ERROR_INVALID);
        g_assert_cmpstr(error->message, ==,
                        "type: invalid value -1 for ShapeKind");
        g_error_free(error);
        yajl_gen_free(gen);
    }
    qmp_value_free(&shape_info, s);
}

static void
test_alternate(void)
{
    Alt *a;
    NumOrList *nl;
    g_autofree char *t = NULL;

    a = decode_ok(&alt_info, "\"str\"", QMP_DECODE_DEFAULT);
    g_assert_cmpint(a->kind, ==, ALT_KIND_S);
    t = encode(&alt_info, a);
    g_assert_cmpstr(t, ==, "\"str\"");
    qmp_value_free(&alt_info, a);
    g_clear_pointer(&t, g_free);

    a = decode_ok(&alt_info, "null", QMP_DECODE_DEFAULT);
    g_assert_cmpint(a->kind, ==, ALT_KIND_N);
    t = encode(&alt_info, a);
    g_assert_cmpstr(t, ==, "null");
    qmp_value_free(&alt_info, a);
    g_clear_pointer(&t, g_free);

    decode_fails(&alt_info, "true", QMP_DECODE_DEFAULT, "return",
                 "return: expected string, int, object or null, got bool");
    decode_fails(&alt_info, "1.5", QMP_DECODE_DEFAULT, "arg",
                 "arg: expected string, int, object or null, got number");
    decode_fails(&alt_info, "{\"name\": 1}", QMP_DECODE_DEFAULT, "return",
                 "return.name: expected string, got int");

    /* A number branch takes integers when there is no int branch. */
    nl = decode_ok(&num_or_list_info, "3", QMP_DECODE_DEFAULT);
    g_assert_cmpint(nl->kind, ==, NUM_OR_LIST_KIND_D);
    g_assert_cmpfloat(nl->u.d, ==, 3.0);
    t = encode(&num_or_list_info, nl);
    g_assert_cmpstr(t, ==, "3.0");
    qmp_value_free(&num_or_list_info, nl);
    g_clear_pointer(&t, g_free);
    decode_fails(&num_or_list_info, "[1, 256]", QMP_DECODE_DEFAULT, "v",
                 "v[1]: integer 256 out of range for uint8");
    decode_fails(&num_or_list_info, "\"x\"", QMP_DECODE_DEFAULT, "v",
                 "v: expected number or array, got string");

    /* An invalid kind cannot be encoded. */
    {
        Alt bad = { .kind = 17 };
        yajl_gen gen = yajl_gen_alloc(NULL);
        GError *error = NULL;
        g_assert_false(qmp_value_encode(&alt_info, &bad, gen, &error));
        g_assert_error(error, QMP_ERROR, QMP_ERROR_INVALID);
        g_assert_cmpstr(error->message, ==, "invalid kind 17 for Alt");
        g_error_free(error);
        yajl_gen_free(gen);
    }
}

/* every_json with one member replaced. */
static char *
every_with(const char *member, const char *value)
{
    g_autoptr(QmpJsonDoc) doc = parse(every_json);
    g_autofree char *key = g_strdup_printf("\"%s\"", member);
    g_autoptr(GString) out = g_string_new("{");
    const QmpJson *root = qmp_json_doc_root(doc);
    gboolean replaced = FALSE;

    for (const QmpJson *m = root->v.first; m; m = m->next) {
        g_autofree char *v = qmp_json_to_string(m);
        if (out->len > 1)
            g_string_append_c(out, ',');
        g_string_append_printf(out, "\"%s\":", m->key);
        if (strcmp(m->key, member) == 0) {
            g_string_append(out, value);
            replaced = TRUE;
        } else {
            g_string_append(out, v);
        }
    }
    if (!replaced)
        g_string_append_printf(out, ",%s:%s", key, value);
    g_string_append_c(out, '}');
    return g_string_free(g_steal_pointer(&out), FALSE);
}

static void
fails_with(const char *member, const char *value, const char *message)
{
    g_autofree char *text = every_with(member, value);
    decode_fails(&every_info, text, QMP_DECODE_DEFAULT, "return", message);
}

static void
test_errors(void)
{
    fails_with("i8", "128", "return.i8: integer 128 out of range for int8");
    fails_with("i8", "-129", "return.i8: integer -129 out of range for int8");
    fails_with("i16", "-32769", "return.i16: integer -32769 out of range for int16");
    fails_with("i32", "2147483648", "return.i32: integer 2147483648 out of range for int32");
    fails_with("i64", "9223372036854775808",
               "return.i64: integer 9223372036854775808 out of range for int64");
    fails_with("u8", "-1", "return.u8: integer -1 out of range for uint8");
    fails_with("u16", "65536", "return.u16: integer 65536 out of range for uint16");
    fails_with("u32", "4294967296", "return.u32: integer 4294967296 out of range for uint32");
    fails_with("u64", "-1", "return.u64: integer -1 out of range for uint64");
    fails_with("u64", "1.0", "return.u64: expected int, got number");
    fails_with("num", "\"1\"", "return.num: expected number, got string");
    fails_with("flag", "1", "return.flag: expected bool, got int");
    fails_with("str", "1", "return.str: expected string, got int");
    fails_with("str", "null", "return.str: expected string, got null");
    fails_with("nul", "false", "return.nul: expected null, got bool");
    fails_with("inner", "[]", "return.inner: expected object, got array");
    fails_with("inner", "{\"name\": \"x\"}", "return.inner: missing member 'value'");
    fails_with("strs", "{}", "return.strs: expected array, got object");
    fails_with("strs", "[\"a\", 2]", "return.strs[1]: expected string, got int");
    fails_with("inners", "[{\"name\": \"a\", \"value\": 1}, {\"name\": \"b\", \"value\": \"c\"}]",
               "return.inners[1].value: expected int, got string");
    fails_with("alts", "[1, [2]]",
               "return.alts[1]: expected string, int, object or null, got array");
    fails_with("alts", "[1, {\"name\": \"x\", \"value\": true}]",
               "return.alts[1].value: expected int, got bool");
    fails_with("shapes", "[{\"id\": \"a\", \"type\": \"point\"}, {\"id\": \"b\", \"type\": \"circle\", \"radius\": null}]",
               "return.shapes[1].radius: expected number, got null");
    fails_with("opt-list", "[1, -1]", "return.opt-list[1]: integer -1 out of range for uint16");
    fails_with("colors", "[\"red\", 3]", "return.colors[1]: expected string, got int");

    /* Missing mandatory members, the first in schema order. */
    decode_fails(&every_info, "{}", QMP_DECODE_DEFAULT, "return",
                 "return: missing member 'i8'");
    decode_fails(&every_info, "[]", QMP_DECODE_DEFAULT, "return",
                 "return: expected object, got array");

    /* Unknown enum values. */
    {
        g_autofree char *text = every_with("color", "\"purple\"");
        g_autofree char *text2 = every_with("colors", "[\"red\", \"mauve\"]");
        Every *e = decode_ok(&every_info, text, QMP_DECODE_DEFAULT);
        Every *e2 = decode_ok(&every_info, text2, QMP_DECODE_DEFAULT);
        yajl_gen gen = yajl_gen_alloc(NULL);
        GError *error = NULL;

        g_assert_cmpint(e->color, ==, COLOR__UNKNOWN);
        g_assert_cmpint(e2->colors[1], ==, COLOR__UNKNOWN);
        decode_fails(&every_info, text, QMP_DECODE_STRICT, "return",
                     "return.color: invalid value 'purple' for Color");
        decode_fails(&every_info, text2, QMP_DECODE_STRICT, "return",
                     "return.colors[1]: invalid value 'mauve' for Color");
        g_assert_false(qmp_value_encode(&every_info, e, gen, &error));
        g_assert_error(error, QMP_ERROR, QMP_ERROR_INVALID);
        g_assert_cmpstr(error->message, ==, "color: invalid value -1 for Color");
        g_clear_error(&error);
        yajl_gen_reset(gen, NULL);
        yajl_gen_clear(gen);
        e2->colors[1] = 3;
        g_assert_false(qmp_value_encode(&every_info, e2, gen, &error));
        g_assert_cmpstr(error->message, ==, "colors[1]: invalid value 3 for Color");
        g_clear_error(&error);
        yajl_gen_free(gen);
        qmp_value_free(&every_info, e);
        qmp_value_free(&every_info, e2);
    }
}

static void
test_nested_path(void)
{
    static const QmpValueInfo list_of_every = {
        QMP_KIND_ARRAY, QMP_KIND_OBJECT, &every_info
    };
    g_autofree char *bad = every_with("shapes",
        "[{\"id\": \"a\", \"type\": \"rect\", \"w\": 1, \"h\": 2, \"label\": 7}]");
    g_autofree char *text = g_strdup_printf("[%s, %s, %s]", every_json,
                                            every_json, bad);
    g_autoptr(QmpJsonDoc) doc = parse(text);
    GError *error = NULL;
    Every **xs = NULL;
    gsize n = 99;

    g_assert_false(qmp_value_decode_into(&list_of_every, qmp_json_doc_root(doc),
                                         QMP_DECODE_DEFAULT, "return",
                                         &xs, &n, &error));
    g_assert_error(error, QMP_ERROR, QMP_ERROR_DECODE);
    g_assert_cmpstr(error->message, ==,
                    "return[2].shapes[0].label: expected string, got int");
    g_clear_error(&error);
    g_assert_null(xs);
    g_assert_cmpuint(n, ==, 99);
}

/* qmp_value_decode_text gives what parse + decode_into give, streaming
 * arrays element by element. */
static void
test_decode_text(void)
{
    static const QmpValueInfo list_of_every = {
        QMP_KIND_ARRAY, QMP_KIND_OBJECT, &every_info
    };
    static const QmpValueInfo list_of_str = {
        QMP_KIND_ARRAY, QMP_KIND_STR, NULL
    };
    static const QmpValueInfo one_shape = {
        QMP_KIND_OBJECT, 0, &shape_info
    };
    g_autofree char *bad = every_with("shapes",
        "[{\"id\": \"a\", \"type\": \"rect\", \"w\": 1, \"h\": 2, \"label\": 7}]");
    g_autofree char *list = g_strdup_printf("[%s, %s]", every_json, every_json);
    g_autofree char *reply = g_strdup_printf("{\"return\": %s, \"id\": \"x-1\"}",
                                             list);
    g_autofree char *bad_reply = g_strdup_printf(
        "{\"id\": 7, \"return\": [%s, %s, %s]}", every_json, every_json, bad);
    g_autoptr(QmpJsonDoc) tree = parse(list);
    QmpJsonDoc *rest = NULL;
    GError *error = NULL;
    Every **xs = NULL, **ys = NULL;
    gsize n = 99, m = 0;

    /* the same values as the tree path, and the rest of the reply */
    g_assert_true(qmp_value_decode_text(&list_of_every, reply, strlen(reply),
                                        "return", QMP_DECODE_STRICT, "return",
                                        &xs, &n, &rest, &error));
    g_assert_no_error(error);
    g_assert_true(qmp_value_decode_into(&list_of_every, qmp_json_doc_root(tree),
                                        QMP_DECODE_STRICT, "return", &ys, &m,
                                        &error));
    g_assert_cmpuint(n, ==, 2);
    g_assert_cmpuint(m, ==, 2);
    for (gsize i = 0; i < n; i++)
        g_assert_true(qmp_value_equal(&every_info, xs[i], ys[i]));
    g_assert_cmpstr(qmp_json_get_string(qmp_json_lookup(
                        qmp_json_doc_root(rest), "id")), ==, "x-1");
    g_assert_cmpuint(qmp_json_lookup(qmp_json_doc_root(rest), "return")->len,
                     ==, 0);
    qmp_json_doc_unref(rest);
    qmp_value_clear(&list_of_every, &xs, n);
    qmp_value_clear(&list_of_every, &ys, m);

    /* the whole text as the value (member NULL), no document wanted */
    n = 0;
    g_assert_true(qmp_value_decode_text(&list_of_every, list, strlen(list),
                                        NULL, QMP_DECODE_DEFAULT, "", &xs,
                                        &n, NULL, &error));
    g_assert_cmpuint(n, ==, 2);
    qmp_value_clear(&list_of_every, &xs, n);

    /* an empty array, an array of strings (escapes included) */
    {
        static const char empty[] = "{\"return\": []}";
        static const char strs[] = "{\"return\": [\"a\", \"b\\n\", \"\"]}";
        char **ss = NULL;
        n = 99;
        g_assert_true(qmp_value_decode_text(&list_of_str, empty, strlen(empty),
                                            "return", 0, "return", &ss, &n,
                                            NULL, &error));
        g_assert_null(ss);
        g_assert_cmpuint(n, ==, 0);
        g_assert_true(qmp_value_decode_text(&list_of_str, strs, strlen(strs),
                                            "return", 0, "return", &ss, &n,
                                            NULL, &error));
        g_assert_cmpuint(n, ==, 3);
        g_assert_cmpstr(ss[0], ==, "a");
        g_assert_cmpstr(ss[1], ==, "b\n");
        g_assert_cmpstr(ss[2], ==, "");
        qmp_value_clear(&list_of_str, &ss, n);
    }

    /* a value that is not an array goes through the tree */
    {
        static const char text[] =
            "{\"return\": {\"radius\": 2, \"type\": \"circle\", \"id\": \"c\"}}";
        Shape *shape = NULL;
        g_assert_true(qmp_value_decode_text(&one_shape, text, strlen(text),
                                            "return", QMP_DECODE_STRICT,
                                            "return", &shape, NULL, NULL,
                                            &error));
        g_assert_no_error(error);
        g_assert_cmpfloat(shape->u.circle.radius, ==, 2);
        qmp_value_free(&shape_info, shape);
    }

    /* a bad element: its path, nothing written, nothing leaked */
    xs = NULL;
    n = 99;
    g_assert_false(qmp_value_decode_text(&list_of_every, bad_reply,
                                         strlen(bad_reply), "return",
                                         QMP_DECODE_DEFAULT, "return", &xs,
                                         &n, &rest, &error));
    g_assert_error(error, QMP_ERROR, QMP_ERROR_DECODE);
    g_assert_cmpstr(error->message, ==,
                    "return[2].shapes[0].label: expected string, got int");
    g_clear_error(&error);
    g_assert_null(xs);
    g_assert_null(rest);
    g_assert_cmpuint(n, ==, 99);

    /* not JSON; no member; not an array; the first "return" counts */
    {
        static const struct {
            const char *text;
            gint code;
            const char *message;
        } cases[] = {
            { "{\"return\": [\"a\", \"b\"", QMP_ERROR_PROTOCOL, NULL },
            /* the first fault in the text wins */
            { "{\"return\": [1, ", QMP_ERROR_DECODE,
              "return[0]: expected string, got int" },
            { "{\"id\": 1}", QMP_ERROR_DECODE, "missing member 'return'" },
            { "[1]", QMP_ERROR_DECODE, "missing member 'return'" },
            { "{\"return\": {}}", QMP_ERROR_DECODE,
              "return: expected array, got object" },
            { "{\"return\": 1, \"return\": [\"a\"]}", QMP_ERROR_DECODE,
              "return: expected array, got int" },
            { "{\"return\": [\"a\", 2]}", QMP_ERROR_DECODE,
              "return[1]: expected string, got int" },
        };
        for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
            char **ss = NULL;
            g_assert_false(qmp_value_decode_text(&list_of_str, cases[i].text,
                                                 strlen(cases[i].text),
                                                 "return", 0, "return", &ss,
                                                 &n, NULL, &error));
            g_assert_error(error, QMP_ERROR, cases[i].code);
            if (cases[i].message)
                g_assert_cmpstr(error->message, ==, cases[i].message);
            g_clear_error(&error);
            g_assert_null(ss);
        }
    }
}

static void
test_values(void)
{
    static const QmpValueInfo ints = { QMP_KIND_ARRAY, QMP_KIND_INT32, NULL };
    static const QmpValueInfo str = { QMP_KIND_STR, 0, NULL };
    static const QmpValueInfo inner = { QMP_KIND_OBJECT, 0, &inner_info };
    static const QmpValueInfo color = { QMP_KIND_ENUM, 0, &color_info };
    g_autoptr(QmpJsonDoc) d1 = parse("[1, 2, -3]");
    g_autoptr(QmpJsonDoc) d2 = parse("\"s\"");
    g_autoptr(QmpJsonDoc) d3 = parse("{\"name\": \"n\", \"value\": 4}");
    g_autoptr(QmpJsonDoc) d4 = parse("\"green\"");
    GError *error = NULL;
    gint32 *xs = NULL;
    gsize n = 0;
    char *s = NULL;
    Inner *in = NULL;
    Color c = 0;
    yajl_gen gen = yajl_gen_alloc(NULL);
    const unsigned char *buf;
    size_t len;

    g_assert_true(qmp_value_decode_into(&ints, qmp_json_doc_root(d1), 0, "r",
                                        &xs, &n, &error));
    g_assert_cmpuint(n, ==, 3);
    g_assert_cmpint(xs[2], ==, -3);
    g_assert_true(qmp_value_decode_into(&str, qmp_json_doc_root(d2), 0, "r",
                                        &s, NULL, &error));
    g_assert_cmpstr(s, ==, "s");
    g_assert_true(qmp_value_decode_into(&inner, qmp_json_doc_root(d3), 0, "r",
                                        &in, NULL, &error));
    g_assert_cmpint(in->value, ==, 4);
    g_assert_true(qmp_value_decode_into(&color, qmp_json_doc_root(d4), 0, "r",
                                        &c, NULL, &error));
    g_assert_cmpint(c, ==, COLOR_GREEN);
    g_assert_no_error(error);

    g_assert_true(yajl_gen_array_open(gen) == yajl_gen_status_ok);
    g_assert_true(qmp_value_encode_from(&ints, &xs, n, gen, &error));
    g_assert_true(qmp_value_encode_from(&str, &s, 0, gen, &error));
    g_assert_true(qmp_value_encode_from(&inner, &in, 0, gen, &error));
    g_assert_true(qmp_value_encode_from(&color, &c, 0, gen, &error));
    g_assert_true(yajl_gen_map_open(gen) == yajl_gen_status_ok);
    g_assert_true(yajl_gen_string(gen, (const unsigned char *) "x", 1) ==
                  yajl_gen_status_ok);
    g_assert_true(yajl_gen_integer(gen, 0) == yajl_gen_status_ok);
    g_assert_true(qmp_value_encode_members(&inner_info, in, gen, &error));
    g_assert_true(yajl_gen_map_close(gen) == yajl_gen_status_ok);
    g_assert_true(yajl_gen_array_close(gen) == yajl_gen_status_ok);
    g_assert_no_error(error);
    yajl_gen_get_buf(gen, &buf, &len);
    g_assert_cmpstr((const char *) buf, ==,
                    "[[1,2,-3],\"s\",{\"name\":\"n\",\"value\":4},\"green\","
                    "{\"x\":0,\"name\":\"n\",\"value\":4}]");
    yajl_gen_free(gen);

    qmp_value_clear(&ints, &xs, n);
    g_assert_null(xs);
    qmp_value_clear(&str, &s, 0);
    g_assert_null(s);
    qmp_value_clear(&inner, &in, 0);
    g_assert_null(in);
    qmp_value_clear(&color, &c, 0);
    qmp_value_clear(NULL, NULL, 0);

    g_assert_cmpstr(qmp_enum_to_string(&color_info, COLOR_DARK_BLUE), ==,
                    "dark-blue");
    g_assert_null(qmp_enum_to_string(&color_info, -1));
    g_assert_null(qmp_enum_to_string(&color_info, 3));
    g_assert_cmpint(qmp_enum_from_string(&color_info, "green"), ==, COLOR_GREEN);
    g_assert_cmpint(qmp_enum_from_string(&color_info, "gree"), ==, -1);
    g_assert_cmpint(qmp_enum_from_string(&color_info, "greenish"), ==, -1);
    g_assert_cmpint(qmp_enum_from_string(&color_info, ""), ==, -1);
    g_assert_cmpint(qmp_enum_from_string(&color_info, NULL), ==, -1);
}

static void
test_encode_absent(void)
{
    /* Optional members that are absent are left out; a NULL mandatory
     * string is not encodable. */
    Inner inner = { .name = (char *) "n", .value = 1 };
    Shape shape = { .id = (char *) "r", .type = SHAPE_KIND_RECT,
                    .u.rect = { .w = 1, .h = 2 } };
    g_autofree char *t1 = encode(&shape_info, &shape);
    yajl_gen gen = yajl_gen_alloc(NULL);
    GError *error = NULL;

    g_assert_cmpstr(t1, ==, "{\"id\":\"r\",\"type\":\"rect\",\"w\":1,\"h\":2}");
    inner.name = NULL;
    g_assert_false(qmp_value_encode(&inner_info, &inner, gen, &error));
    g_assert_error(error, QMP_ERROR, QMP_ERROR_INVALID);
    g_assert_cmpstr(error->message, ==, "name: string is NULL");
    g_error_free(error);
    yajl_gen_free(gen);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/codec/decode-every", test_decode_every);
    g_test_add_func("/codec/round-trip", test_round_trip);
    g_test_add_func("/codec/copy", test_copy);
    g_test_add_func("/codec/unknown-members", test_unknown_members);
    g_test_add_func("/codec/union", test_union);
    g_test_add_func("/codec/alternate", test_alternate);
    g_test_add_func("/codec/errors", test_errors);
    g_test_add_func("/codec/nested-path", test_nested_path);
    g_test_add_func("/codec/values", test_values);
    g_test_add_func("/codec/decode-text", test_decode_text);
    g_test_add_func("/codec/encode-absent", test_encode_absent);
    return g_test_run();
}
