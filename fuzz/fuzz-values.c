/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdint.h>
#include <string.h>
#include <yajl/yajl_gen.h>

#include "fuzz-values.h"
#include "qmp-commands.h"
#include "qmp-events.h"

typedef struct {
    QmpValueInfo vi;
    const char *name;   /* owned when the entry was built (never freed) */
} Entry;

static GArray *entries;

static void
build(void)
{
    entries = g_array_new(FALSE, TRUE, sizeof(Entry));
    for (gsize i = 0; qmp_commands_all[i]; i++) {
        const QmpCommandDesc *c = qmp_commands_all[i];
        if (c->flags & QMP_COMMAND_HAS_RETURN) {
            Entry e = { c->ret, c->name };
            g_array_append_val(entries, e);
        }
        if (c->args) {
            Entry e = { { QMP_KIND_OBJECT, QMP_KIND_OBJECT, c->args },
                        g_strdup_printf("%s(arguments)", c->name) };
            g_array_append_val(entries, e);
        }
    }
    for (gsize i = 0; qmp_events_all[i]; i++) {
        const QmpEventDesc *ev = qmp_events_all[i];
        if (ev->data) {
            Entry e = { { QMP_KIND_OBJECT, QMP_KIND_OBJECT, ev->data }, ev->name };
            g_array_append_val(entries, e);
        }
    }
}

const QmpValueInfo *
fuzz_split_input(const uint8_t *data, size_t size, const char **json,
                 size_t *len)
{
    const uint8_t *nul = memchr(data, 0, MIN(size, (size_t) 64));
    guint index;

    if (entries == NULL)
        build();
    if (nul == NULL) {
        index = size ? data[0] : 0;
        *json = (const char *) data + (size ? 1 : 0);
        *len = size ? size - 1 : 0;
    } else {
        g_autofree char *label = g_strndup((const char *) data, nul - data);
        index = g_str_hash(label);
        for (guint i = 0; i < entries->len; i++)
            if (strcmp(g_array_index(entries, Entry, i).name, label) == 0)
                index = i;
        *json = (const char *) nul + 1;
        *len = size - (size_t) (nul - data) - 1;
    }
    return &g_array_index(entries, Entry, index % entries->len).vi;
}

char *
fuzz_encode(const QmpValueInfo *vi, gconstpointer storage, gsize n)
{
    yajl_gen gen = yajl_gen_alloc(NULL);
    const unsigned char *buf;
    size_t len;
    char *text = NULL;
    GError *error = NULL;

    if (qmp_value_encode_from(vi, storage, n, gen, &error) &&
        yajl_gen_get_buf(gen, &buf, &len) == yajl_gen_status_ok)
        text = g_strndup((const char *) buf, len);
    g_clear_error(&error);
    yajl_gen_free(gen);
    return text;
}
