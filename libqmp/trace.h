/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * trace.h (private): keeping secret values out of the trace hook.
 */
#pragma once

#include <glib.h>
#include "qmp-json.h"

/* A new set (char * -> itself) holding the default secret member names. */
GHashTable *qmp_trace_secret_names_new(void);

/* TRUE when the message under root holds a value to redact. */
gboolean qmp_trace_has_secret(const QmpJson *root, GHashTable *names);

/* root serialized compactly with every secret string replaced by
 * "<redacted>"; *len gets the length. */
char *qmp_trace_redact(const QmpJson *root, GHashTable *names, gsize *len);
