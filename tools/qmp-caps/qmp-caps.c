/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qmp-caps: what a QEMU binary (or a running QEMU, or a recording) can do.
 *
 *   qmp-caps [BINARY]                 probe (default qemu-system-x86_64)
 *   qmp-caps --from-replay FILE       answer from a recording
 *   qmp-caps --socket PATH            ask a running QEMU
 *   qmp-caps --diff A B               compare two binaries or recordings
 *   --xml | --json                    machine-readable output (--diff: --json)
 *   --all                             the table lists every name, not only rules
 *   --no-cache                        neither read nor write the cache
 */
#include <stdio.h>
#include <string.h>
#include <yajl/yajl_gen.h>

#include "qmp-caps.h"

static const char *state_word(QmpCapsState st)
{
    return st == QMP_CAPS_PRESENT ? "yes" : st == QMP_CAPS_ABSENT ? "no" : "unknown";
}

static gboolean is_rule(const char *name)
{
    return qmp_caps_describe(name) != NULL;
}

static void print_header(const QmpCaps *caps)
{
    int maj, min, mic;
    printf("source:  %s%s\n", qmp_caps_get_source(caps) ?: "?",
           qmp_caps_is_cached(caps) ? " (cached)" : "");
    if (qmp_caps_get_version(caps, &maj, &min, &mic))
        printf("version: %d.%d.%d%s%s\n", maj, min, mic, qmp_caps_get_package(caps) ? "  " : "",
               qmp_caps_get_package(caps) ?: "");
    else
        printf("version: unknown\n");
}

static void print_table(const QmpCaps *caps, gboolean all)
{
    print_header(caps);
    g_auto(GStrv) names = qmp_caps_list(caps);
    guint n_cmd = 0, n_mig = 0;
    for (char **n = names; *n; n++) {
        if (g_str_has_prefix(*n, "command.") && qmp_caps_has(caps, *n))
            n_cmd++;
        if (g_str_has_prefix(*n, "migration.") && qmp_caps_has(caps, *n))
            n_mig++;
    }
    printf("%u commands, %u migration capabilities\n\n", n_cmd, n_mig);
    printf("%-42s %-8s %s\n", "CAPABILITY", "PRESENT", "DESCRIPTION");
    for (char **n = names; *n; n++) {
        if (!all && !is_rule(*n))
            continue;
        printf("%-42s %-8s %s\n", *n, state_word(qmp_caps_get(caps, *n)),
               qmp_caps_describe(*n) ?: "");
    }
}

static QmpCaps *load_any(const char *what, gboolean no_cache, GError **error)
{
    /* A regular, non-executable file is a recording; anything else a binary. */
    if (g_file_test(what, G_FILE_TEST_IS_REGULAR) &&
        !g_file_test(what, G_FILE_TEST_IS_EXECUTABLE))
        return qmp_caps_probe_recording(what, error);
    return qmp_caps_probe_binary(what, no_cache ? QMP_CAPS_NO_CACHE : QMP_CAPS_NONE, error);
}

static int cmp_strptr(gconstpointer a, gconstpointer b, gpointer unused)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

static void gen_str(yajl_gen g, const char *s)
{
    if (s)
        yajl_gen_string(g, (const unsigned char *) s, strlen(s));
    else
        yajl_gen_null(g);
}

static void gen_side(yajl_gen g, const char *key, const QmpCaps *c, const char *name)
{
    int maj, min, mic;
    gen_str(g, key);
    yajl_gen_map_open(g);
    gen_str(g, "source");
    gen_str(g, name);
    gen_str(g, "version");
    if (qmp_caps_get_version(c, &maj, &min, &mic)) {
        g_autofree char *v = g_strdup_printf("%d.%d.%d", maj, min, mic);
        gen_str(g, v);
    } else {
        yajl_gen_null(g);
    }
    yajl_gen_map_close(g);
}

static int diff(const QmpCaps *a, const QmpCaps *b, const char *an, const char *bn,
                gboolean json)
{
    g_autoptr(GHashTable) all = g_hash_table_new(g_str_hash, g_str_equal);
    g_auto(GStrv) na = qmp_caps_list(a);
    g_auto(GStrv) nb = qmp_caps_list(b);
    for (char **n = na; *n; n++)
        g_hash_table_add(all, *n);
    for (char **n = nb; *n; n++)
        g_hash_table_add(all, *n);
    guint len = 0;
    const char **names = (const char **) g_hash_table_get_keys_as_array(all, &len);
    g_qsort_with_data(names, len, sizeof(char *), cmp_strptr, NULL);
    if (json) {
        /* {"a": {source, version}, "b": {...}, "differences": [{name, a, b}]} */
        yajl_gen g = yajl_gen_alloc(NULL);
        yajl_gen_config(g, yajl_gen_beautify, 1);
        yajl_gen_map_open(g);
        gen_side(g, "a", a, an);
        gen_side(g, "b", b, bn);
        gen_str(g, "differences");
        yajl_gen_array_open(g);
        guint nd = 0;
        for (guint i = 0; i < len; i++) {
            QmpCapsState sa = qmp_caps_get(a, names[i]), sb = qmp_caps_get(b, names[i]);
            if (sa == sb)
                continue;
            nd++;
            yajl_gen_map_open(g);
            gen_str(g, "name");
            gen_str(g, names[i]);
            gen_str(g, "a");
            gen_str(g, state_word(sa));
            gen_str(g, "b");
            gen_str(g, state_word(sb));
            yajl_gen_map_close(g);
        }
        yajl_gen_array_close(g);
        yajl_gen_map_close(g);
        const unsigned char *buf;
        size_t blen;
        yajl_gen_get_buf(g, &buf, &blen);
        fwrite(buf, 1, blen, stdout);
        yajl_gen_free(g);
        g_free(names);
        return nd ? 1 : 0;
    }
    int maj, min, mic;
    printf("A: %s", an);
    if (qmp_caps_get_version(a, &maj, &min, &mic))
        printf(" (%d.%d.%d)", maj, min, mic);
    printf("\nB: %s", bn);
    if (qmp_caps_get_version(b, &maj, &min, &mic))
        printf(" (%d.%d.%d)", maj, min, mic);
    printf("\n\n%-42s %-8s %-8s\n", "CAPABILITY", "A", "B");
    guint ndiff = 0;
    for (guint i = 0; i < len; i++) {
        QmpCapsState sa = qmp_caps_get(a, names[i]), sb = qmp_caps_get(b, names[i]);
        if (sa == sb)
            continue;
        printf("%-42s %-8s %-8s\n", names[i], state_word(sa), state_word(sb));
        ndiff++;
    }
    printf("\n%u difference%s\n", ndiff, ndiff == 1 ? "" : "s");
    g_free(names);
    return ndiff ? 1 : 0;
}

int main(int argc, char **argv)
{
    gboolean xml = FALSE, json = FALSE, no_cache = FALSE, do_diff = FALSE, all = FALSE;
    gboolean version = FALSE;
    char *replay = NULL, *socket_path = NULL;
    GOptionEntry entries[] = {
        { "xml", 0, 0, G_OPTION_ARG_NONE, &xml, "Print the answer as XML (the cache format)", NULL },
        { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print the answer as JSON", NULL },
        { "diff", 0, 0, G_OPTION_ARG_NONE, &do_diff,
          "Compare two binaries or recordings A B (exit 1 when they differ)", NULL },
        { "from-replay", 0, 0, G_OPTION_ARG_FILENAME, &replay,
          "Answer from a recording (ours or libvirt's .replies)", "FILE" },
        { "socket", 0, 0, G_OPTION_ARG_FILENAME, &socket_path,
          "Ask a running QEMU on its QMP unix socket", "PATH" },
        { "no-cache", 0, 0, G_OPTION_ARG_NONE, &no_cache, "Neither read nor write the cache", NULL },
        { "all", 0, 0, G_OPTION_ARG_NONE, &all,
          "List every command and migration capability in the table, not only the rules", NULL },
        { "version", 'V', 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    g_autoptr(GOptionContext) oc = g_option_context_new("[BINARY] | --diff A B");
    g_option_context_set_summary(oc, "Report what a QEMU binary can do (default: "
                                     "qemu-system-x86_64 from PATH).");
    g_option_context_set_description(oc, "Exit status: 0 success (--diff: no difference), "
                                         "1 probe failed (--diff: they differ), 2 usage.\n"
                                         "See qmp-caps(1).");
    g_option_context_add_main_entries(oc, entries, NULL);
    g_autoptr(GError) error = NULL;
    if (!g_option_context_parse(oc, &argc, &argv, &error)) {
        fprintf(stderr, "qmp-caps: %s\n", error->message);
        return 2;
    }
    if (version) {
        printf("qmp-caps (qmpkit) %s\n", QMPKIT_VERSION);
        return 0;
    }
    if (xml && json) {
        fprintf(stderr, "qmp-caps: --xml and --json exclude each other\n");
        return 2;
    }
    if (do_diff) {
        if (argc != 3) {
            fprintf(stderr, "qmp-caps: --diff takes two binaries or recordings\n");
            return 2;
        }
        g_autoptr(QmpCaps) a = load_any(argv[1], no_cache, &error);
        g_autoptr(QmpCaps) b = a ? load_any(argv[2], no_cache, &error) : NULL;
        if (!b) {
            fprintf(stderr, "qmp-caps: %s\n", error->message);
            return 2;
        }
        if (xml) {
            fprintf(stderr, "qmp-caps: --diff prints a table or --json, not --xml\n");
            return 2;
        }
        return diff(a, b, argv[1], argv[2], json);
    }
    if (argc > 2 || (argc == 2 && (replay || socket_path))) {
        fprintf(stderr, "qmp-caps: too many arguments\n");
        return 2;
    }
    g_autoptr(QmpCaps) caps = NULL;
    if (replay)
        caps = qmp_caps_probe_recording(replay, &error);
    else if (socket_path)
        caps = qmp_caps_probe_socket(socket_path, &error);
    else
        caps = qmp_caps_probe_binary(argc == 2 ? argv[1] : "qemu-system-x86_64",
                                     no_cache ? QMP_CAPS_NO_CACHE : QMP_CAPS_NONE, &error);
    g_free(replay);
    g_free(socket_path);
    if (!caps) {
        fprintf(stderr, "qmp-caps: %s\n", error->message);
        return 1;
    }
    if (json) {
        g_autofree char *s = qmp_caps_to_json(caps);
        printf("%s", s);
    } else if (xml) {
        g_autofree char *s = qmp_caps_to_xml(caps, NULL);
        printf("%s", s);
    } else {
        print_table(caps, all);
    }
    return 0;
}
