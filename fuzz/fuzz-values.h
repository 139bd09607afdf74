/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shared by the decoder fuzz targets: the values schema/ describes (every
 * command's return and arguments, every event's data), picked by an input
 * byte, and their JSON text through the generated encoders.
 */
#pragma once

#include <glib.h>
#include "qmp-type-info.h"

/* Storage big enough for any value as qmp-type-info.h lays it out. */
typedef union {
    gpointer p;
    gint64 i;
    guint64 u;
    double d;
    gboolean b;
    int e;
} FuzzStorage;

/* Split a decoder input "LABEL\0JSON" into the value it names and its
 * JSON text.  LABEL is a command name (its return), "COMMAND(arguments)"
 * or an event name (its data); an unknown label picks a value by its hash,
 * and an input without a NUL in its first 64 bytes is all JSON, decoded
 * as the value its first byte selects. */
const QmpValueInfo *fuzz_split_input(const uint8_t *data, size_t size,
                                     const char **json, size_t *len);

/* JSON text of a decoded value, or NULL when it is not encodable (an
 * unknown enum value decoded leniently). */
char *fuzz_encode(const QmpValueInfo *vi, gconstpointer storage, gsize n);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
