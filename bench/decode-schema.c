/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-decode-schema: the whole path from the wire text of QEMU 7.2's
 * query-qmp-schema reply (207 kB, one line) to a decoded array of
 * QmpSchemaInfo values (types generated from QEMU 7.2's schema), in MB/s of
 * wire text, against yajl's own streaming parse of the same text with empty
 * callbacks (the floor of any parser built on yajl).
 *
 * "ours" = qmp_value_decode_text(..., "return", ...): the reply's "return"
 * decoded into QmpSchemaInfo ** while the text is parsed (elements decoded
 * one by one, checked once against qmp_json_parse + qmp_value_decode_into),
 * plus the rest of the reply as a document.  Freeing the result (values
 * and tree) is timed separately and printed for information only; it is not
 * part of "ours".  yajl_tree_parse is printed for information too.
 *
 * The wire message is the recorded "return" value wrapped as QEMU 7.2
 * prints a reply: {"return": [...], "id": "qmpkit-1"} with a space after
 * every ':' and ',' outside strings.
 */
#include <string.h>
#include <time.h>
#include <yajl/yajl_parse.h>
#include <yajl/yajl_tree.h>

#include "bench-common.h"
#include "qmp-types.h"
#include "qmp-codecs.h"
#include "qmp-error.h"

#define RUNS 21

/* The thread's CPU time: the machines these run on are shared (2 cores),
 * and time spent preempted is nobody's figure.  Every contender is timed
 * with this same clock. */
static double
cpu_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* QEMU's spacing: ", " and ": " between tokens, nothing else. */
static GString *
qemu_spacing(const char *text, gsize len)
{
    GString *out = g_string_sized_new(len + len / 8);
    gboolean in_str = FALSE;

    for (gsize i = 0; i < len; i++) {
        char ch = text[i];
        g_string_append_c(out, ch);
        if (in_str) {
            if (ch == '\\' && i + 1 < len)
                g_string_append_c(out, text[++i]);
            else if (ch == '"')
                in_str = FALSE;
        } else if (ch == '"') {
            in_str = TRUE;
        } else if (ch == ',' || ch == ':') {
            g_string_append_c(out, ' ');
        }
    }
    return out;
}

static int cb_null(void *ctx) { return 1; }
static int cb_bool(void *ctx, int b) { return 1; }
static int cb_number(void *ctx, const char *s, size_t l) { return 1; }
static int cb_string(void *ctx, const unsigned char *s, size_t l) { return 1; }
static int cb_plain(void *ctx) { return 1; }

static const yajl_callbacks empty_callbacks = {
    .yajl_null = cb_null,
    .yajl_boolean = cb_bool,
    .yajl_number = cb_number,
    .yajl_string = cb_string,
    .yajl_start_map = cb_plain,
    .yajl_map_key = cb_string,
    .yajl_end_map = cb_plain,
    .yajl_start_array = cb_plain,
    .yajl_end_array = cb_plain,
};

static const char *wire;
static gsize wire_len;
static gsize n_expected;

static void
run_yajl(void)
{
    yajl_handle h = yajl_alloc(&empty_callbacks, NULL, NULL);
    if (yajl_parse(h, (const unsigned char *) wire, wire_len) != yajl_status_ok ||
        yajl_complete_parse(h) != yajl_status_ok)
        g_error("yajl_parse failed");
    yajl_free(h);
}

static void
run_yajl_tree(void)
{
    char err[256];
    char *copy = g_malloc(wire_len + 1); /* yajl_tree_parse wants a C string */
    memcpy(copy, wire, wire_len);
    copy[wire_len] = '\0';
    yajl_val v = yajl_tree_parse(copy, err, sizeof(err));
    if (!v)
        g_error("yajl_tree_parse: %s", err);
    yajl_tree_free(v);
    g_free(copy);
}

static const QmpValueInfo schema_vi = {
    .kind = QMP_KIND_ARRAY,
    .elem_kind = QMP_KIND_OBJECT,
    .type = &qmp_schema_info_type_info,
};

typedef struct {
    QmpJsonDoc *doc;
    QmpSchemaInfo **xs;
    gsize n;
} Decoded;

/* The timed part of "ours": wire text to decoded values, and the rest of
 * the reply as a document (where a client reads the "id"). */
static void
run_ours(Decoded *d)
{
    g_autoptr(GError) error = NULL;

    if (!qmp_value_decode_text(&schema_vi, wire, wire_len, "return",
                               QMP_DECODE_DEFAULT, "return", &d->xs, &d->n,
                               &d->doc, &error))
        g_error("decode: %s", error->message);
    if (!qmp_json_lookup(qmp_json_doc_root(d->doc), "id"))
        g_error("no id");
}

/* Informational: the path without qmp_value_decode_text, a whole tree
 * first (qmp_json_parse), then qmp_value_decode_into on "return". */
static void
run_tree_path(Decoded *d)
{
    g_autoptr(GError) error = NULL;
    const QmpJson *ret;

    d->doc = qmp_json_parse(wire, wire_len, 0, &error);
    if (!d->doc)
        g_error("qmp_json_parse: %s", error->message);
    ret = qmp_json_lookup(qmp_json_doc_root(d->doc), "return");
    if (!ret || !qmp_value_decode_into(&schema_vi, ret, QMP_DECODE_DEFAULT,
                                       "return", &d->xs, &d->n, &error))
        g_error("decode: %s", error ? error->message : "no return");
}

static void
free_decoded(Decoded *d)
{
    qmp_value_clear(&schema_vi, &d->xs, d->n);
    qmp_json_doc_unref(d->doc);
}

static double
time_fn(void (*fn)(void), int n)
{
    double t0 = cpu_now();
    for (int i = 0; i < n; i++)
        fn();
    return (cpu_now() - t0) / n;
}

/* One run of n iterations of "ours", each followed by freeing what it made
 * (as a client does reply after reply); the free is timed apart. */
static void
time_path(void (*run)(Decoded *), int n, double *decode_s, double *free_s)
{
    double dec = 0, fr = 0;

    for (int i = 0; i < n; i++) {
        Decoded d;
        double t0 = cpu_now();
        run(&d);
        double t1 = cpu_now();
        if (d.n != n_expected)
            g_error("decoded %" G_GSIZE_FORMAT " values, expected %"
                    G_GSIZE_FORMAT, d.n, n_expected);
        free_decoded(&d);
        dec += t1 - t0;
        fr += cpu_now() - t1;
    }
    *decode_s = dec / n;
    *free_s = fr / n;
}

int
main(int argc, char **argv)
{
    const char *src = g_getenv("QMPKIT_SOURCE_DIR");
    g_autofree char *path = NULL;
    g_autofree char *text = NULL;
    g_autoptr(GError) error = NULL;
    gsize len;
    int n = argc > 1 ? atoi(argv[1]) : 10;

    path = g_build_filename(src ? src : QMPKIT_DEFAULT_SOURCE_DIR, "generator",
                            "tests", "data", "qemu-7.2",
                            "query-qmp-schema.json", NULL);
    if (!g_file_get_contents(path, &text, &len, &error))
        g_error("%s", error->message);
    g_strchomp(text);
    len = strlen(text);

    /* The wire message as QEMU prints it (one line, no newline here). */
    g_autoptr(GString) spaced = qemu_spacing(text, len);
    g_autoptr(GString) msg = g_string_new("{\"return\": ");
    g_string_append_len(msg, spaced->str, spaced->len);
    g_string_append(msg, ", \"id\": \"qmpkit-1\"}");
    wire = msg->str;
    wire_len = msg->len;

    /* Check once that the path decodes every element, strictly. */
    {
        g_autoptr(QmpJsonDoc) doc = qmp_json_parse(wire, wire_len, 0, &error);
        g_assert_no_error(error);
        const QmpJson *ret = qmp_json_lookup(qmp_json_doc_root(doc), "return");
        QmpSchemaInfo **xs = NULL;
        g_assert_nonnull(ret);
        if (!qmp_value_decode_into(&schema_vi, ret, QMP_DECODE_STRICT,
                                   "return", &xs, &n_expected, &error))
            g_error("%s", error->message);
        g_assert_cmpuint(n_expected, ==, ret->len);
        /* the path "ours" takes gives the same values */
        Decoded d;
        run_ours(&d);
        g_assert_cmpuint(d.n, ==, n_expected);
        for (gsize i = 0; i < n_expected; i++)
            g_assert_true(qmp_value_equal(&qmp_schema_info_type_info,
                                          xs[i], d.xs[i]));
        free_decoded(&d);
        qmp_value_clear(&schema_vi, &xs, n_expected);
    }

    /* Warm up (page faults, the arena's spare chunk, malloc's free lists). */
    for (int i = 0; i < 3; i++) {
        Decoded d;
        run_ours(&d);
        free_decoded(&d);
        run_yajl();
    }

    /* `bench-decode-schema N ours`: only "ours" (parse, decode, free) N
     * times, for profilers. */
    if (argc > 2 && strcmp(argv[2], "ours") == 0) {
        for (int i = 0; i < n; i++) {
            Decoded d;
            run_ours(&d);
            free_decoded(&d);
        }
        return 0;
    }

    /* The runs interleave the contenders, so that load from elsewhere on
     * the machine hits them alike; each figure is the median of RUNS. */
    double mb = wire_len / 1e6;
    double v_yajl[RUNS], v_ours[RUNS], v_free[RUNS], v_tree[RUNS];
    double v_qtree[RUNS], v_qtree_free[RUNS];
    for (int r = 0; r < RUNS; r++) {
        v_yajl[r] = time_fn(run_yajl, n);
        time_path(run_ours, n, &v_ours[r], &v_free[r]);
        v_tree[r] = time_fn(run_yajl_tree, n);
        time_path(run_tree_path, n, &v_qtree[r], &v_qtree_free[r]);
    }
    double yajl_s = bench_median(v_yajl, RUNS);
    double ours_s = bench_median(v_ours, RUNS);
    double free_s = bench_median(v_free, RUNS);
    double tree_s = bench_median(v_tree, RUNS);
    double qtree_s = bench_median(v_qtree, RUNS);

    printf("decode-schema: wire message %" G_GSIZE_FORMAT " bytes, %"
           G_GSIZE_FORMAT " SchemaInfo values; median of %d runs x %d (thread CPU time); "
           "ours %.0f us (free not included: %.0f us more; "
           "the tree path, qmp_json_parse + qmp_value_decode_into: %.0f us), "
           "yajl_parse %.0f us, yajl_tree_parse %.0f us = %.1f MB/s "
           "(%.2fx the floor)\n",
           wire_len, n_expected, RUNS, n, ours_s * 1e6, free_s * 1e6, qtree_s * 1e6,
           yajl_s * 1e6, tree_s * 1e6, mb / tree_s, yajl_s / tree_s);
    bench_report("decode-schema", mb / ours_s, mb / yajl_s, "MB/s", TRUE, 0.6);
    return 0;
}
