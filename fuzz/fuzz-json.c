/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz target: the JSON tree parser every QMP message goes through.  Any
 * input must either fail cleanly or parse into a tree that serializes and
 * parses again to an equal tree.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "qmp-json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    GError *error = NULL;
    QmpJsonDoc *doc = qmp_json_parse((const char *)data, size, 64, &error);

    if (doc == NULL) {
        if (error == NULL)
            abort();
        g_error_free(error);
        return 0;
    }
    char *text = qmp_json_to_string(qmp_json_doc_root(doc));
    QmpJsonDoc *again = qmp_json_parse(text, strlen(text), 64, &error);
    if (again == NULL ||
        !qmp_json_equal(qmp_json_doc_root(doc), qmp_json_doc_root(again)))
        abort();
    qmp_json_doc_unref(again);
    g_free(text);
    qmp_json_doc_unref(doc);
    return 0;
}
