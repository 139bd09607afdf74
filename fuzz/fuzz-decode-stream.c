/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz target: the streaming decoders (qmp_value_decode_text, which decodes
 * an array reply element by element while the text is parsed).  Input: what
 * to decode as (see fuzz-values.h), then a reply's JSON text.  The
 * result must be what the tree path gives for the same text: both fail, or
 * both succeed with values that encode to the same JSON.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-values.h"
#include "qmp-error.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QmpValueInfo *vi;

    const char *text;
    size_t len;

    vi = fuzz_split_input(data, size, &text, &len);

    for (int strict = 0; strict < 2; strict++) {
        QmpDecodeFlags flags = strict ? QMP_DECODE_STRICT : QMP_DECODE_DEFAULT;
        FuzzStorage st = { 0 }, tree = { 0 };
        gsize n = 0, tn = 0;
        GError *error = NULL, *terror = NULL;
        QmpJsonDoc *doc_out = NULL;
        gboolean ok = qmp_value_decode_text(vi, text, len, "return", flags,
                                            "return", &st, &n, &doc_out, &error);

        if (!ok && (error == NULL || error->domain != QMP_ERROR))
            abort();
        if (ok && error != NULL)
            abort();

        /* the tree path */
        gboolean tok = FALSE;
        QmpJsonDoc *doc = qmp_json_parse(text, len, 0, &terror);
        if (doc != NULL) {
            const QmpJson *root = qmp_json_doc_root(doc);
            const QmpJson *ret = root->type == QMP_JSON_OBJECT
                ? qmp_json_lookup(root, "return") : NULL;
            if (ret != NULL)
                tok = qmp_value_decode_into(vi, ret, flags, "return", &tree,
                                            &tn, &terror);
        }
        if (ok != tok)
            abort();
        if (ok) {
            g_autofree char *a = fuzz_encode(vi, &st, n);
            g_autofree char *b = fuzz_encode(vi, &tree, tn);
            if (g_strcmp0(a, b) != 0)
                abort();
            qmp_value_clear(vi, &st, n);
            qmp_value_clear(vi, &tree, tn);
        }
        if (doc_out)
            qmp_json_doc_unref(doc_out);
        if (doc)
            qmp_json_doc_unref(doc);
        g_clear_error(&error);
        g_clear_error(&terror);
    }
    return 0;
}
