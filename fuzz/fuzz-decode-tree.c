/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz target: the generated decoders over the JSON tree.  Input: which
 * command return, command arguments or event data of schema/ to decode as
 * (see fuzz-values.h), then JSON text.  Decoding (lenient and strict)
 * must fail with a QMP_ERROR or give a value that encodes, decodes again
 * to the same text, and copies to an equal value.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-values.h"
#include "qmp-error.h"

static void
check_value(const QmpValueInfo *vi, FuzzStorage *st, gsize n,
            QmpDecodeFlags flags)
{
    g_autofree char *text = fuzz_encode(vi, st, n);
    GError *error = NULL;

    if (text == NULL) {
        /* only an unknown enum value (lenient) cannot be encoded */
        if (flags & QMP_DECODE_STRICT)
            abort();
        return;
    }
    g_autoptr(QmpJsonDoc) doc = qmp_json_parse(text, strlen(text), 0, &error);
    if (doc == NULL)
        abort();
    FuzzStorage again = { 0 };
    gsize n2 = 0;
    if (!qmp_value_decode_into(vi, qmp_json_doc_root(doc), flags, "again",
                               &again, &n2, &error))
        abort();
    g_autofree char *text2 = fuzz_encode(vi, &again, n2);
    if (text2 == NULL || strcmp(text, text2) != 0)
        abort();
    qmp_value_clear(vi, &again, n2);
    if (vi->kind == QMP_KIND_OBJECT || vi->kind == QMP_KIND_ALTERNATE) {
        gpointer copy = qmp_value_copy(vi->type, st->p);
        if (!qmp_value_equal(vi->type, copy, st->p))
            abort();
        qmp_value_free(vi->type, copy);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QmpValueInfo *vi;
    GError *error = NULL;

    const char *text;
    size_t len;

    vi = fuzz_split_input(data, size, &text, &len);
    g_autoptr(QmpJsonDoc) doc = qmp_json_parse(text, len, 0, &error);
    if (doc == NULL) {
        g_clear_error(&error);
        return 0;
    }
    for (int strict = 0; strict < 2; strict++) {
        QmpDecodeFlags flags = strict ? QMP_DECODE_STRICT : QMP_DECODE_DEFAULT;
        FuzzStorage st = { 0 };
        gsize n = 0;

        if (!qmp_value_decode_into(vi, qmp_json_doc_root(doc), flags, "v",
                                   &st, &n, &error)) {
            if (error == NULL || error->domain != QMP_ERROR)
                abort();
            g_clear_error(&error);
            continue;
        }
        if (error != NULL)
            abort();
        check_value(vi, &st, n, flags);
        qmp_value_clear(vi, &st, n);
    }
    return 0;
}
