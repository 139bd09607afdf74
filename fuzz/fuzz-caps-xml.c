/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz target: the capability cache's XML reader (a cache file is read
 * from disk and may be corrupt or foreign).  Any input must fail cleanly
 * or load; what loads must write back to XML that loads to the same
 * answers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "qmp-caps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    GError *error = NULL;
    QmpCaps *caps;

    caps = qmp_caps_from_xml((const char *) data, size, &error);
    if (caps == NULL) {
        if (error == NULL)
            abort();
        g_error_free(error);
        return 0;
    }
    gsize len;
    g_autofree char *xml = qmp_caps_to_xml(caps, &len);
    QmpCaps *again = qmp_caps_from_xml(xml, len, &error);
    if (again == NULL)
        abort();
    g_autofree char *json1 = qmp_caps_to_json(caps);
    g_autofree char *json2 = qmp_caps_to_json(again);
    if (strcmp(json1, json2) != 0)
        abort();
    g_auto(GStrv) names = qmp_caps_list(caps);
    for (guint i = 0; names[i]; i++)
        if (qmp_caps_get(caps, names[i]) != qmp_caps_get(again, names[i]))
            abort();
    qmp_caps_free(again);
    qmp_caps_free(caps);
    return 0;
}
