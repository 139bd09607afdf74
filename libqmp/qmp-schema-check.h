/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qmp-schema-check.h: checking commands against a QEMU's introspected schema.
 *
 * The input is a SchemaInfo list exactly as query-qmp-schema returns it (or
 * as the generator's introspect backend writes it): commands, events and
 * types under their masked names ("0", "[3]", "str", ...).  The checker
 * indexes it once and then answers whether that QEMU knows a command or an
 * argument, and whether a command's arguments would pass QEMU's input
 * visitor: unknown members, missing mandatory members, JSON type mismatches,
 * enum values, flat unions (tag + variants), alternates and arrays.
 *
 * Ownership: qmp_schema_check_new() keeps a reference to (or a copy of) what
 * it needs; the caller keeps its own list.  A checker is immutable after
 * construction and may be shared between threads.
 *
 * Errors (domain QMP_ERROR):
 *  - QMP_ERROR_UNSUPPORTED: an unknown command ("command 'foo' not found"),
 *    an unknown argument ("command 'foo' has no argument 'bar'"), or an
 *    unknown member deeper down (named with its JSON path);
 *  - QMP_ERROR_INVALID: a value of the wrong type, a missing mandatory
 *    member, an enum value the schema lacks; the message starts with the
 *    JSON path, e.g. "query-foo: arguments.list[2].name: expected string, got int".
 */
#pragma once

#include <glib.h>
#include "qmp-json.h"
#include "qmp-error.h"
#include "qmp-export.h"

G_BEGIN_DECLS
QMP_BEGIN_PUBLIC

typedef struct _QmpSchemaCheck QmpSchemaCheck;

/* NULL (and error set, QMP_ERROR_INVALID) when schema_info_list is not an
 * array of SchemaInfo objects with names and meta-types.  Type references
 * that do not resolve are reported when a check reaches them. */
QmpSchemaCheck *qmp_schema_check_new(const QmpJson *schema_info_list,
                                     GError **error);
/* The same without a copy: list must stay valid (its document alive) as
 * long as the checker is used. */
QmpSchemaCheck *qmp_schema_check_new_borrowed(const QmpJson *schema_info_list,
                                              GError **error);
/* The same from the JSON text of the list. */
QmpSchemaCheck *qmp_schema_check_new_from_text(const char *json, gsize len,
                                               GError **error);
void qmp_schema_check_free(QmpSchemaCheck *c); /* NULL-safe */

gboolean qmp_schema_check_has_command(const QmpSchemaCheck *c,
                                      const char *command);
gboolean qmp_schema_check_has_event(const QmpSchemaCheck *c,
                                    const char *event);
/* TRUE when command accepts a top-level argument named argument (members
 * of a flat union's variants count). */
gboolean qmp_schema_check_has_argument(const QmpSchemaCheck *c,
                                       const char *command,
                                       const char *argument);

/* Check command with arguments (an object, or NULL for none). */
gboolean qmp_schema_check_command(const QmpSchemaCheck *c, const char *command,
                                  const QmpJson *arguments, GError **error);

/* Check any value against a type of the list (by its name in the list, e.g.
 * "str" or "42"); path prefixes the messages (may be NULL). */
gboolean qmp_schema_check_value(const QmpSchemaCheck *c, const char *type,
                                const QmpJson *value, const char *path,
                                GError **error);

/* The SchemaInfo object of a command, event or type by name, or NULL. */
const QmpJson *qmp_schema_check_lookup(const QmpSchemaCheck *c,
                                       const char *name);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(QmpSchemaCheck, qmp_schema_check_free)

QMP_END_PUBLIC
G_END_DECLS
