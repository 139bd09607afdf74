/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* json-gen.c: a document's values as JSON text (through yajl_gen), and
 * escaping for a JSON string literal. */
#include <math.h>
#include <stdio.h>
#include "json-private.h"

/* ------------------------------------------------------------ generator */

/* A double as JSON text that reads back as the same double and as a
 * double (never as an integer).  Non-finite values have no JSON form. */
yajl_gen_status
qmp_json_gen_double(yajl_gen gen, double d)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE + 2];

    if (!isfinite(d))
        return yajl_gen_invalid_number;
    g_ascii_formatd(buf, sizeof(buf) - 2, "%.15g", d);
    if (g_ascii_strtod(buf, NULL) != d)
        g_ascii_formatd(buf, sizeof(buf) - 2, "%.17g", d);
    if (!strpbrk(buf, ".eE"))
        strcat(buf, ".0");
    return yajl_gen_number(gen, buf, strlen(buf));
}

yajl_gen_status
qmp_json_gen(const QmpJson *node, yajl_gen gen)
{
    yajl_gen_status st;
    char buf[32];

    g_return_val_if_fail(node != NULL, yajl_gen_invalid_string);
    switch (node->type) {
    case QMP_JSON_NULL:
        return yajl_gen_null(gen);
    case QMP_JSON_BOOL:
        return yajl_gen_bool(gen, node->v.b);
    case QMP_JSON_INT:
        if (!node->is_unsigned)
            return yajl_gen_integer(gen, node->v.i);
        snprintf(buf, sizeof(buf), "%" G_GUINT64_FORMAT, node->v.u);
        return yajl_gen_number(gen, buf, strlen(buf));
    case QMP_JSON_DOUBLE:
        return qmp_json_gen_double(gen, node->v.d);
    case QMP_JSON_STRING:
        return yajl_gen_string(gen, (const unsigned char *) node->v.s,
                               node->len);
    case QMP_JSON_OBJECT:
        if ((st = yajl_gen_map_open(gen)) != yajl_gen_status_ok)
            return st;
        for (const QmpJson *c = node->v.first; c; c = c->next) {
            st = yajl_gen_string(gen, (const unsigned char *) c->key,
                                 c->key_len);
            if (st != yajl_gen_status_ok)
                return st;
            if ((st = qmp_json_gen(c, gen)) != yajl_gen_status_ok)
                return st;
        }
        return yajl_gen_map_close(gen);
    case QMP_JSON_ARRAY:
        if ((st = yajl_gen_array_open(gen)) != yajl_gen_status_ok)
            return st;
        for (const QmpJson *c = node->v.first; c; c = c->next) {
            if ((st = qmp_json_gen(c, gen)) != yajl_gen_status_ok)
                return st;
        }
        return yajl_gen_array_close(gen);
    }
    return yajl_gen_invalid_string;
}

char *
qmp_json_to_string(const QmpJson *node)
{
    yajl_gen gen;
    const unsigned char *buf;
    size_t len;
    char *out = NULL;

    g_return_val_if_fail(node != NULL, NULL);
    gen = yajl_gen_alloc(NULL);
    if (qmp_json_gen(node, gen) == yajl_gen_status_ok &&
        yajl_gen_get_buf(gen, &buf, &len) == yajl_gen_status_ok)
        out = g_strndup((const char *) buf, len);
    yajl_gen_free(gen);
    return out;
}

void
qmp_json_append_escaped(GString *out, const char *s, gsize len)
{
    for (gsize i = 0; i < len; i++) {
        guchar c = (guchar) s[i];
        if (c == '"' || c == '\\')
            g_string_append_c(out, '\\');
        if (c < 0x20)
            g_string_append_printf(out, "\\u%04x", c);
        else
            g_string_append_c(out, (char) c);
    }
}
