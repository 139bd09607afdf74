/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shell-schema.h: what qmp-shell knows about the connected QEMU's schema
 * (its query-qmp-schema reply): turning `command key=value ...` lines into
 * typed JSON arguments, checking them before anything is sent, suggesting
 * names ("did you mean"), completion candidates and help text.
 *
 * Ownership: a ShellSchema keeps a reference to the reply document it was
 * built from; strings and arrays returned by functions named *_new, *_parse,
 * *_complete, *_help and *_suggest are the caller's to free.
 */
#pragma once

#include <glib.h>
#include "qmp-json.h"
#include "qmp-monitor.h"

G_BEGIN_DECLS

typedef struct _ShellSchema ShellSchema;

/* list: the SchemaInfo array inside doc (a reference to doc is taken). */
ShellSchema *shell_schema_new(QmpJsonDoc *doc, const QmpJson *list,
                              GError **error);
void shell_schema_free(ShellSchema *s); /* NULL-safe */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ShellSchema, shell_schema_free)

gboolean shell_schema_has_command(const ShellSchema *s, const char *name);
/* The command names, sorted (borrowed). */
const GPtrArray *shell_schema_commands(const ShellSchema *s);

/* A parsed line, ready to send. */
typedef struct {
    char *command;
    char *args_json; /* NULL: no arguments */
    QmpExecuteFlags flags;
} ShellRequest;
void shell_request_free(ShellRequest *r); /* NULL-safe */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ShellRequest, shell_request_free)

/* Parse one line: raw JSON ({"execute": ..., "arguments": ...} or
 * "exec-oob") or `command key=value ...` (values typed by the schema,
 * dotted keys for nested members, JSON for arrays and objects, quotes ' or "
 * around values with spaces).  Everything is checked against the schema;
 * on failure returns NULL and an error whose message names the fault and,
 * when a close name exists, ends with "did you mean 'X'?". */
ShellRequest *shell_schema_parse(const ShellSchema *s, const char *line,
                                 GError **error);

/* Completion candidates for the word being typed: before is the line up to
 * the start of that word, word its text so far.  Candidates are whole
 * words that start with word; a candidate ending with '=' or '.' expects
 * more text.  extra: additional first words (shell built-ins) or NULL. */
GPtrArray *shell_schema_complete(const ShellSchema *s, const char *before,
                                 const char *word, const char *const *extra);

/* Help for a command: its documentation (when the project's schema
 * documents it) and its arguments as the connected QEMU declares them.
 * NULL (and error) for an unknown command. */
char *shell_schema_help(const ShellSchema *s, const char *command,
                        GError **error);

/* The closest of candidates to word, or NULL when none is close. */
char *shell_suggest(const char *word, const char *const *candidates,
                    guint n_candidates);

/* Generated from the project's schema reference (shell-docs.c). */
typedef struct {
    const char *name; /* command name */
    const char *text; /* plain-text documentation */
} ShellDoc;
extern const ShellDoc shell_docs[];
extern const guint shell_n_docs;

G_END_DECLS
