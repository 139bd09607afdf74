/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the JSON tree (qmp-json.c) and the error domains. */
#include <string.h>

#include "qmp-error.h"
#include "qmp-json.h"

static QmpJsonDoc *
parse_ok(const char *text)
{
    GError *error = NULL;
    QmpJsonDoc *doc = qmp_json_parse(text, strlen(text), 0, &error);

    g_assert_no_error(error);
    g_assert_nonnull(doc);
    return doc;
}

/* Parse text that must fail; returns the error message (caller frees). */
static char *
parse_fail(const char *text, gsize len, guint max_depth)
{
    GError *error = NULL;
    QmpJsonDoc *doc = qmp_json_parse(text, len, max_depth, &error);
    char *msg;

    g_assert_null(doc);
    g_assert_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL);
    msg = g_strdup(error->message);
    g_error_free(error);
    return msg;
}

static void
test_scalars(void)
{
    g_autoptr(QmpJsonDoc) d1 = parse_ok("null");
    g_autoptr(QmpJsonDoc) d2 = parse_ok(" true ");
    g_autoptr(QmpJsonDoc) d3 = parse_ok("false");
    g_autoptr(QmpJsonDoc) d4 = parse_ok("42");
    g_autoptr(QmpJsonDoc) d5 = parse_ok("\"hi\"");
    g_autoptr(QmpJsonDoc) d6 = parse_ok("1.5");
    const QmpJson *r;
    gint64 i;
    double d;

    g_assert_cmpint(qmp_json_doc_root(d1)->type, ==, QMP_JSON_NULL);
    r = qmp_json_doc_root(d2);
    g_assert_cmpint(r->type, ==, QMP_JSON_BOOL);
    g_assert_true(r->v.b);
    g_assert_null(r->key);
    r = qmp_json_doc_root(d3);
    g_assert_cmpint(r->type, ==, QMP_JSON_BOOL);
    g_assert_false(r->v.b);
    r = qmp_json_doc_root(d4);
    g_assert_true(qmp_json_get_int64(r, &i));
    g_assert_cmpint(i, ==, 42);
    g_assert_true(qmp_json_get_double(r, &d));
    g_assert_cmpfloat(d, ==, 42.0);
    g_assert_null(qmp_json_get_string(r));
    r = qmp_json_doc_root(d5);
    g_assert_cmpstr(qmp_json_get_string(r), ==, "hi");
    g_assert_cmpuint(r->len, ==, 2);
    g_assert_false(qmp_json_get_int64(r, &i));
    r = qmp_json_doc_root(d6);
    g_assert_cmpint(r->type, ==, QMP_JSON_DOUBLE);
    g_assert_false(qmp_json_get_int64(r, &i));
    g_assert_true(qmp_json_get_double(r, &d));
    g_assert_cmpfloat(d, ==, 1.5);

    g_assert_cmpstr(qmp_json_type_name(QMP_JSON_STRING), ==, "string");
    g_assert_cmpstr(qmp_json_type_name(QMP_JSON_INT), ==, "int");
    g_assert_cmpstr(qmp_json_type_name(QMP_JSON_OBJECT), ==, "object");
}

static void
test_nesting(void)
{
    g_autoptr(QmpJsonDoc) doc =
        parse_ok("{\"return\": {\"a\": [1, [2, 3], {}], \"b\": \"x\"},"
                 " \"id\": 7, \"e\": []}");
    const QmpJson *root = qmp_json_doc_root(doc);
    const QmpJson *ret, *a, *c;
    gint64 i;

    g_assert_cmpint(root->type, ==, QMP_JSON_OBJECT);
    g_assert_cmpuint(root->len, ==, 3);
    ret = qmp_json_lookup(root, "return");
    g_assert_nonnull(ret);
    g_assert_cmpstr(ret->key, ==, "return");
    g_assert_cmpuint(ret->key_len, ==, 6);
    g_assert_cmpuint(ret->len, ==, 2);
    a = qmp_json_lookup(ret, "a");
    g_assert_cmpint(a->type, ==, QMP_JSON_ARRAY);
    g_assert_cmpuint(a->len, ==, 3);
    c = a->v.first;
    g_assert_null(c->key);
    g_assert_true(qmp_json_get_int64(c, &i) && i == 1);
    c = c->next;
    g_assert_cmpint(c->type, ==, QMP_JSON_ARRAY);
    g_assert_cmpuint(c->len, ==, 2);
    g_assert_true(qmp_json_get_int64(c->v.first->next, &i) && i == 3);
    g_assert_null(c->v.first->next->next);
    c = c->next;
    g_assert_cmpint(c->type, ==, QMP_JSON_OBJECT);
    g_assert_cmpuint(c->len, ==, 0);
    g_assert_null(c->v.first);
    g_assert_null(c->next);
    g_assert_cmpstr(qmp_json_get_string(qmp_json_lookup(ret, "b")), ==, "x");
    g_assert_true(qmp_json_get_int64(qmp_json_lookup(root, "id"), &i));
    g_assert_cmpint(i, ==, 7);
    g_assert_cmpuint(qmp_json_lookup(root, "e")->len, ==, 0);
    g_assert_null(qmp_json_lookup(root, "missing"));
    g_assert_null(qmp_json_lookup(a, "a"));
}

static void
test_big_numbers(void)
{
    g_autoptr(QmpJsonDoc) doc =
        parse_ok("[18446744073709551615, 9223372036854775807,"
                 " 9223372036854775808, -9223372036854775808,"
                 " 18446744073709551616, -9223372036854775809, -5, -0,"
                 " 1e3, -2.25E-2]");
    const QmpJson *n = qmp_json_doc_root(doc)->v.first;
    gint64 i;
    guint64 u;
    double d;

    /* G_MAXUINT64 */
    g_assert_cmpint(n->type, ==, QMP_JSON_INT);
    g_assert_true(n->is_unsigned);
    g_assert_false(qmp_json_get_int64(n, &i));
    g_assert_true(qmp_json_get_uint64(n, &u));
    g_assert_cmpuint(u, ==, G_MAXUINT64);
    /* G_MAXINT64 */
    n = n->next;
    g_assert_false(n->is_unsigned);
    g_assert_true(qmp_json_get_int64(n, &i));
    g_assert_cmpint(i, ==, G_MAXINT64);
    g_assert_true(qmp_json_get_uint64(n, &u));
    g_assert_cmpuint(u, ==, G_MAXINT64);
    /* G_MAXINT64 + 1 */
    n = n->next;
    g_assert_true(n->is_unsigned);
    g_assert_cmpuint(n->v.u, ==, (guint64) G_MAXINT64 + 1);
    /* G_MININT64 */
    n = n->next;
    g_assert_false(n->is_unsigned);
    g_assert_true(qmp_json_get_int64(n, &i));
    g_assert_cmpint(i, ==, G_MININT64);
    g_assert_false(qmp_json_get_uint64(n, &u));
    /* too large for either: a double */
    n = n->next;
    g_assert_cmpint(n->type, ==, QMP_JSON_DOUBLE);
    g_assert_cmpfloat(n->v.d, ==, 18446744073709551616.0);
    n = n->next;
    g_assert_cmpint(n->type, ==, QMP_JSON_DOUBLE);
    g_assert_cmpfloat(n->v.d, ==, -9223372036854775809.0);
    /* negatives */
    n = n->next;
    g_assert_true(qmp_json_get_int64(n, &i));
    g_assert_cmpint(i, ==, -5);
    g_assert_false(qmp_json_get_uint64(n, &u));
    n = n->next;
    g_assert_cmpint(n->type, ==, QMP_JSON_INT);
    g_assert_cmpint(n->v.i, ==, 0);
    /* doubles */
    n = n->next;
    g_assert_cmpint(n->type, ==, QMP_JSON_DOUBLE);
    g_assert_true(qmp_json_get_double(n, &d));
    g_assert_cmpfloat(d, ==, 1000.0);
    n = n->next;
    g_assert_cmpint(n->type, ==, QMP_JSON_DOUBLE);
    g_assert_cmpfloat(n->v.d, ==, -0.0225);
    g_assert_null(n->next);
}

static void
test_strings(void)
{
    g_autoptr(QmpJsonDoc) doc =
        parse_ok("{\"k\\u00e9y\": \"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\","
                 " \"u\": \"\\u00e9\\u20ac\\ud83d\\ude00\","
                 " \"raw\": \"\xc3\xa9\xe2\x82\xac\", \"nul\": \"a\\u0000b\"}");
    const QmpJson *root = qmp_json_doc_root(doc);
    const QmpJson *n;

    n = qmp_json_lookup(root, "k\xc3\xa9y");
    g_assert_nonnull(n);
    g_assert_cmpuint(n->key_len, ==, 4);
    g_assert_cmpstr(n->v.s, ==, "a\"b\\c/d\b\f\n\r\t");
    n = qmp_json_lookup(root, "u");
    g_assert_cmpstr(n->v.s, ==, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    g_assert_cmpuint(n->len, ==, 9);
    n = qmp_json_lookup(root, "raw");
    g_assert_cmpstr(n->v.s, ==, "\xc3\xa9\xe2\x82\xac");
    n = qmp_json_lookup(root, "nul");
    g_assert_cmpuint(n->len, ==, 3);
    g_assert_cmpmem(n->v.s, 4, "a\0b", 4);

    /* Escapes survive a round trip through the generator. */
    g_autofree char *text = qmp_json_to_string(root);
    g_autoptr(QmpJsonDoc) again = parse_ok(text);
    g_assert_true(qmp_json_equal(root, qmp_json_doc_root(again)));
}

static void
test_invalid_utf8(void)
{
    g_autofree char *m1 = parse_fail("\"a\xff\"", 4, 0);
    g_autofree char *m2 = parse_fail("{\"\xc3\": 1}", 8, 0);
    g_autofree char *m3 = parse_fail("\"\xe2\x82\"", 4, 0);

    g_assert_nonnull(strstr(m1, "at offset"));
    g_assert_nonnull(strstr(m2, "at offset"));
    g_assert_nonnull(strstr(m3, "at offset"));
}

static void
test_truncated(void)
{
    const char *text = "{\"execute\": \"qmp_capabilities\", \"id\": [1, 2";
    g_autofree char *msg = parse_fail(text, strlen(text), 0);
    g_autofree char *want = g_strdup_printf("at offset %zu", strlen(text));
    g_autofree char *m2 = NULL;
    g_autofree char *m3 = NULL;
    g_autofree char *m4 = NULL;

    g_assert_nonnull(strstr(msg, want));
    g_assert_nonnull(strstr(msg, "premature EOF"));

    m2 = parse_fail("\"abc", 4, 0);
    g_assert_nonnull(strstr(m2, "at offset 4"));
    m3 = parse_fail("", 0, 0);
    g_assert_nonnull(strstr(m3, "at offset 0"));
    m4 = parse_fail("   ", 3, 0);
    g_assert_nonnull(strstr(m4, "at offset"));
}

static void
test_syntax_errors(void)
{
    g_autofree char *m1 = parse_fail("{\"a\": 1} x", 10, 0);
    g_autofree char *m2 = parse_fail("{\"a\": 1}{}", 10, 0);
    g_autofree char *m3 = parse_fail("[1, 2,]", 7, 0);
    g_autofree char *m4 = parse_fail("{\"a\" 1}", 7, 0);
    g_autofree char *m5 = parse_fail("[1] // c", 8, 0);
    g_autofree char *m6 = parse_fail("[nul]", 5, 0);
    g_autofree char *m7 = parse_fail("[1, 1e400]", 10, 0);

    /* yajl reports the offset just past the offending token. */
    g_assert_nonnull(strstr(m1, "at offset 10"));
    g_assert_nonnull(strstr(m1, "trailing garbage"));
    g_assert_nonnull(strstr(m2, "at offset 9"));
    g_assert_nonnull(strstr(m3, "at offset"));
    g_assert_nonnull(strstr(m4, "at offset"));
    g_assert_nonnull(strstr(m5, "at offset"));
    g_assert_nonnull(strstr(m6, "at offset"));
    g_assert_nonnull(strstr(m7, "out of range at offset"));

    /* Whitespace after the value is fine. */
    g_autoptr(QmpJsonDoc) doc = parse_ok("{\"a\": 1}\r\n \t");
    g_assert_cmpuint(qmp_json_doc_root(doc)->len, ==, 1);
}

static void
test_depth(void)
{
    GString *s = g_string_new(NULL);
    GError *error = NULL;
    QmpJsonDoc *doc;
    g_autofree char *msg = NULL;

    for (int i = 0; i < 10; i++)
        g_string_append_c(s, '[');
    for (int i = 0; i < 10; i++)
        g_string_append_c(s, ']');
    doc = qmp_json_parse(s->str, s->len, 10, &error);
    g_assert_no_error(error);
    qmp_json_doc_unref(doc);

    msg = parse_fail(s->str, s->len, 9);
    g_assert_nonnull(strstr(msg, "deeper than 9"));
    g_assert_nonnull(strstr(msg, "at offset"));
    g_string_free(s, TRUE);

    /* The default limit is 1024. */
    s = g_string_new(NULL);
    for (int i = 0; i < 1024; i++)
        g_string_append(s, "{\"a\":");
    g_string_append(s, "1");
    for (int i = 0; i < 1024; i++)
        g_string_append_c(s, '}');
    doc = qmp_json_parse(s->str, s->len, 0, &error);
    g_assert_no_error(error);
    qmp_json_doc_unref(doc);
    g_string_prepend(s, "[");
    g_string_append(s, "]");
    g_free(msg);
    msg = parse_fail(s->str, s->len, 0);
    g_assert_nonnull(strstr(msg, "deeper than 1024"));
    g_string_free(s, TRUE);
}

static void
test_round_trip(void)
{
    const char *text =
        "{\"a\":[1,-2,18446744073709551615,-9223372036854775808,0.1,"
        "1e+300,-2.5,100.0],\"b\":{\"c\":null,\"d\":true,\"e\":false},"
        "\"s\":\"x\\ny\\u0001\",\"\":{}}";
    g_autoptr(QmpJsonDoc) doc = parse_ok(text);
    g_autofree char *out = qmp_json_to_string(qmp_json_doc_root(doc));
    g_autoptr(QmpJsonDoc) again = parse_ok(out);
    g_autofree char *out2 = qmp_json_to_string(qmp_json_doc_root(again));
    const QmpJson *a;

    g_assert_true(qmp_json_equal(qmp_json_doc_root(doc),
                                 qmp_json_doc_root(again)));
    g_assert_cmpstr(out, ==, out2);
    g_assert_null(strchr(out, ' '));
    g_assert_null(strchr(out, '\n'));
    /* Doubles stay doubles, integers stay integers. */
    a = qmp_json_lookup(qmp_json_doc_root(again), "a");
    g_assert_cmpint(a->v.first->type, ==, QMP_JSON_INT);
    for (const QmpJson *n = a->v.first; n; n = n->next) {
        if (n->type == QMP_JSON_DOUBLE)
            g_assert_cmpfloat(n->v.d, !=, 0);
    }
    g_assert_cmpint(a->v.first->next->next->next->next->type, ==,
                    QMP_JSON_DOUBLE);
    g_assert_cmpfloat(a->v.first->next->next->next->next->v.d, ==, 0.1);
    g_assert_nonnull(strstr(out, "0.1,"));
    g_assert_nonnull(strstr(out, "100.0]"));
}

static void
test_copy(void)
{
    g_autoptr(QmpJsonDoc) doc =
        parse_ok("{\"x\": {\"l\": [1, \"two\", {\"three\": 3.5}], \"n\": null}}");
    const QmpJson *x = qmp_json_lookup(qmp_json_doc_root(doc), "x");
    QmpJsonDoc *copy = qmp_json_copy(x);
    const QmpJson *root = qmp_json_doc_root(copy);
    const QmpJson *l;

    g_assert_true(qmp_json_equal(x, root));
    g_assert_null(root->key);
    g_assert_null(root->next);
    l = qmp_json_lookup(root, "l");
    g_assert_true(l != qmp_json_lookup(x, "l"));
    g_assert_true(l->v.first->next->v.s !=
                  qmp_json_lookup(x, "l")->v.first->next->v.s);
    g_assert_cmpstr(l->v.first->next->v.s, ==, "two");

    /* The copy outlives its source; references are counted. */
    g_clear_pointer(&doc, qmp_json_doc_unref);
    g_assert_true(qmp_json_doc_ref(copy) == copy);
    qmp_json_doc_unref(copy);
    g_assert_cmpstr(qmp_json_get_string(l->v.first->next), ==, "two");
    qmp_json_doc_unref(copy);
    qmp_json_doc_unref(NULL);
}

static void
test_equal(void)
{
    g_autoptr(QmpJsonDoc) a =
        parse_ok("{\"a\": 1, \"b\": [1, 2], \"c\": {\"x\": \"y\", \"z\": null}}");
    g_autoptr(QmpJsonDoc) b =
        parse_ok("{\"c\": {\"z\": null, \"x\": \"y\"}, \"b\": [1, 2], \"a\": 1.0}");
    g_autoptr(QmpJsonDoc) c =
        parse_ok("{\"c\": {\"z\": null, \"x\": \"y\"}, \"b\": [2, 1], \"a\": 1}");
    g_autoptr(QmpJsonDoc) d =
        parse_ok("{\"c\": {\"z\": null, \"x\": \"y\"}, \"b\": [1, 2]}");
    g_autoptr(QmpJsonDoc) e =
        parse_ok("{\"c\": {\"z\": null, \"x\": \"y\"}, \"b\": [1, 2], \"d\": 1}");
    g_autoptr(QmpJsonDoc) f = parse_ok("[\"ab\", true]");
    g_autoptr(QmpJsonDoc) g = parse_ok("[\"ac\", true]");
    g_autoptr(QmpJsonDoc) h = parse_ok("[\"ab\", false]");

    g_assert_true(qmp_json_equal(qmp_json_doc_root(a), qmp_json_doc_root(b)));
    g_assert_true(qmp_json_equal(qmp_json_doc_root(b), qmp_json_doc_root(a)));
    g_assert_false(qmp_json_equal(qmp_json_doc_root(a), qmp_json_doc_root(c)));
    g_assert_false(qmp_json_equal(qmp_json_doc_root(a), qmp_json_doc_root(d)));
    g_assert_false(qmp_json_equal(qmp_json_doc_root(a), qmp_json_doc_root(e)));
    g_assert_false(qmp_json_equal(qmp_json_doc_root(f), qmp_json_doc_root(g)));
    g_assert_false(qmp_json_equal(qmp_json_doc_root(f), qmp_json_doc_root(h)));
    g_assert_false(qmp_json_equal(qmp_json_doc_root(a), NULL));
    g_assert_true(qmp_json_equal(NULL, NULL));
}

static void
test_large(void)
{
    /* Enough nodes and string bytes to need many arena chunks, including a
     * string bigger than a chunk. */
    GString *s = g_string_new("[");
    g_autofree char *big = g_strnfill(3 * 1024 * 1024, 'q');
    g_autoptr(QmpJsonDoc) doc = NULL;
    const QmpJson *n;
    guint count = 0;

    for (int i = 0; i < 50000; i++)
        g_string_append_printf(s, "{\"i\":%d,\"s\":\"v%d\"},", i, i);
    g_string_append_printf(s, "\"%s\"]", big);
    doc = parse_ok(s->str);
    for (n = qmp_json_doc_root(doc)->v.first; n->next; n = n->next) {
        gint64 i;
        g_assert_true(qmp_json_get_int64(n->v.first, &i));
        g_assert_cmpint(i, ==, count);
        count++;
    }
    g_assert_cmpuint(count, ==, 50000);
    g_assert_cmpuint(n->len, ==, 3 * 1024 * 1024);
    g_assert_cmpstr(n->v.s, ==, big);
    g_string_free(s, TRUE);
}

static gboolean
collect_each(const QmpJson *e, gsize i, gpointer data)
{
    GPtrArray *seen = data;

    g_assert_cmpuint(i, ==, seen->len);
    g_ptr_array_add(seen, qmp_json_to_string(e));
    /* stop at an element that is the string "stop" */
    return g_strcmp0(qmp_json_get_string(e), "stop") != 0;
}

static void
test_parse_each(void)
{
    static const char root_array[] =
        "[1, [2, [3]], {\"a\": {\"b\": null}}, \"x\\ny\", true, -0.5]";
    static const char reply[] =
        "{\"return\": [{\"k\": \"v\"}, [], \"s\"], \"id\": \"a-1\"}";
    g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func(g_free);
    const QmpJson *streamed = NULL, *root;
    gboolean stopped = TRUE;
    GError *error = NULL;
    QmpJsonDoc *doc;

    /* the root array: every element once, in order; the array left empty */
    doc = qmp_json_parse_each(root_array, strlen(root_array), 0, NULL,
                              collect_each, seen, &streamed, &stopped, &error);
    g_assert_no_error(error);
    g_assert_nonnull(doc);
    g_assert_false(stopped);
    root = qmp_json_doc_root(doc);
    g_assert_true(streamed == root);
    g_assert_cmpint(root->type, ==, QMP_JSON_ARRAY);
    g_assert_cmpuint(root->len, ==, 0);
    g_assert_null(root->v.first);
    g_assert_cmpuint(seen->len, ==, 6);
    g_assert_cmpstr(seen->pdata[0], ==, "1");
    g_assert_cmpstr(seen->pdata[1], ==, "[2,[3]]");
    g_assert_cmpstr(seen->pdata[2], ==, "{\"a\":{\"b\":null}}");
    g_assert_cmpstr(seen->pdata[3], ==, "\"x\\ny\"");
    g_assert_cmpstr(seen->pdata[4], ==, "true");
    g_assert_cmpstr(seen->pdata[5], ==, "-0.5");
    qmp_json_doc_unref(doc);

    /* a member of the root object; the rest of the document is kept */
    g_ptr_array_set_size(seen, 0);
    doc = qmp_json_parse_each(reply, strlen(reply), 0, "return",
                              collect_each, seen, &streamed, NULL, &error);
    g_assert_no_error(error);
    root = qmp_json_doc_root(doc);
    g_assert_true(streamed == qmp_json_lookup(root, "return"));
    g_assert_cmpuint(streamed->len, ==, 0);
    g_assert_cmpstr(qmp_json_get_string(qmp_json_lookup(root, "id")), ==,
                    "a-1");
    g_assert_cmpuint(seen->len, ==, 3);
    g_assert_cmpstr(seen->pdata[0], ==, "{\"k\":\"v\"}");
    g_assert_cmpstr(seen->pdata[1], ==, "[]");
    g_assert_cmpstr(seen->pdata[2], ==, "\"s\"");
    qmp_json_doc_unref(doc);

    /* no such array: nothing streamed, the whole document kept */
    g_ptr_array_set_size(seen, 0);
    doc = qmp_json_parse_each(reply, strlen(reply), 0, "id", collect_each,
                              seen, &streamed, &stopped, &error);
    g_assert_no_error(error);
    g_assert_null(streamed);
    g_assert_false(stopped);
    g_assert_cmpuint(seen->len, ==, 0);
    g_assert_cmpuint(qmp_json_lookup(qmp_json_doc_root(doc), "return")->len,
                     ==, 3);
    qmp_json_doc_unref(doc);

    /* the function stops the parse: NULL, no error */
    {
        static const char text[] = "[1, \"stop\", 3, ]";
        g_ptr_array_set_size(seen, 0);
        doc = qmp_json_parse_each(text, strlen(text), 0, NULL, collect_each,
                                  seen, &streamed, &stopped, &error);
        g_assert_null(doc);
        g_assert_no_error(error);
        g_assert_true(stopped);
        g_assert_null(streamed);
        g_assert_cmpuint(seen->len, ==, 2);
    }

    /* a syntax error is reported as by qmp_json_parse */
    {
        static const char text[] = "{\"return\": [1, 2}";
        g_ptr_array_set_size(seen, 0);
        doc = qmp_json_parse_each(text, strlen(text), 0, "return",
                                  collect_each, seen, NULL, &stopped, &error);
        g_assert_null(doc);
        g_assert_false(stopped);
        g_assert_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL);
        g_clear_error(&error);
    }
}

static void
test_errors(void)
{
    g_assert_cmpstr(g_quark_to_string(QMP_ERROR), ==, "qmp-error-quark");
    g_assert_cmpstr(g_quark_to_string(QMP_COMMAND_ERROR), ==,
                    "qmp-command-error-quark");
    g_assert_cmpstr(qmp_command_error_class_name(QMP_COMMAND_ERROR_GENERIC_ERROR),
                    ==, "GenericError");
    g_assert_cmpstr(qmp_command_error_class_name(QMP_COMMAND_ERROR_KVM_MISSING_CAP),
                    ==, "KVMMissingCap");
    g_assert_null(qmp_command_error_class_name(QMP_COMMAND_ERROR_OTHER));
    g_assert_cmpint(qmp_command_error_code_from_class("CommandNotFound"), ==,
                    QMP_COMMAND_ERROR_COMMAND_NOT_FOUND);
    g_assert_cmpint(qmp_command_error_code_from_class("DeviceNotActive"), ==,
                    QMP_COMMAND_ERROR_DEVICE_NOT_ACTIVE);
    g_assert_cmpint(qmp_command_error_code_from_class("DeviceNotFound"), ==,
                    QMP_COMMAND_ERROR_DEVICE_NOT_FOUND);
    g_assert_cmpint(qmp_command_error_code_from_class("Whatever"), ==,
                    QMP_COMMAND_ERROR_OTHER);
    g_assert_cmpint(qmp_command_error_code_from_class(NULL), ==,
                    QMP_COMMAND_ERROR_OTHER);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/json/scalars", test_scalars);
    g_test_add_func("/json/nesting", test_nesting);
    g_test_add_func("/json/big-numbers", test_big_numbers);
    g_test_add_func("/json/strings", test_strings);
    g_test_add_func("/json/invalid-utf8", test_invalid_utf8);
    g_test_add_func("/json/truncated", test_truncated);
    g_test_add_func("/json/syntax-errors", test_syntax_errors);
    g_test_add_func("/json/depth", test_depth);
    g_test_add_func("/json/round-trip", test_round_trip);
    g_test_add_func("/json/copy", test_copy);
    g_test_add_func("/json/equal", test_equal);
    g_test_add_func("/json/large", test_large);
    g_test_add_func("/json/parse-each", test_parse_each);
    g_test_add_func("/error/domains", test_errors);
    return g_test_run();
}
