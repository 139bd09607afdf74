/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* diff.c: a readable list of differences between two JSON values. */
#include <string.h>
#include "qmp-replay-diff.h"

static void show(GString *out, const QmpJson *v)
{
    if (!v) {
        g_string_append(out, "(absent)");
        return;
    }
    g_autofree char *s = qmp_json_to_string(v);
    if (strlen(s) > 200) {
        g_string_append_len(out, s, 197);
        g_string_append(out, "...");
    } else {
        g_string_append(out, s);
    }
}

static void diff_at(GString *out, GString *path, const QmpJson *a, const QmpJson *b)
{
    if (a && b && qmp_json_equal(a, b))
        return;
    if (a && b && a->type == QMP_JSON_OBJECT && b->type == QMP_JSON_OBJECT) {
        gsize plen = path->len;
        for (const QmpJson *m = a->v.first; m; m = m->next) {
            g_autofree char *k = g_strndup(m->key, m->key_len);
            g_string_append_printf(path, "%s%s", plen ? "." : "", k);
            diff_at(out, path, m, qmp_json_lookup(b, k));
            g_string_truncate(path, plen);
        }
        for (const QmpJson *m = b->v.first; m; m = m->next) {
            g_autofree char *k = g_strndup(m->key, m->key_len);
            if (qmp_json_lookup(a, k))
                continue;
            g_string_append_printf(path, "%s%s", plen ? "." : "", k);
            diff_at(out, path, NULL, m);
            g_string_truncate(path, plen);
        }
        return;
    }
    if (a && b && a->type == QMP_JSON_ARRAY && b->type == QMP_JSON_ARRAY && a->len == b->len) {
        gsize plen = path->len;
        guint i = 0;
        for (const QmpJson *x = a->v.first, *y = b->v.first; x && y; x = x->next, y = y->next, i++) {
            g_string_append_printf(path, "[%u]", i);
            diff_at(out, path, x, y);
            g_string_truncate(path, plen);
        }
        return;
    }
    g_string_append_printf(out, "    %s: expected ", path->len ? path->str : "(top)");
    show(out, a);
    g_string_append(out, ", got ");
    show(out, b);
    g_string_append_c(out, '\n');
}

char *qmp_replay_diff(const QmpJson *expected, const QmpJson *got)
{
    GString *out = g_string_new(NULL);
    g_autoptr(GString) path = g_string_new(NULL);
    diff_at(out, path, expected, got);
    return g_string_free(out, FALSE);
}
