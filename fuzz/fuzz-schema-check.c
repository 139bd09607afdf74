/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz target: the schema checker (qmp-schema-check.h), which the replay
 * server and qmp_monitor_check_schema() build from a peer's
 * query-qmp-schema reply.  Input: a SchemaInfo list as JSON, optionally
 * followed by a NUL byte and a command as JSON ({"execute": ...,
 * "arguments": ...}).  Building must fail cleanly or give a checker that
 * answers every question (every command and argument of schema/, the
 * command given) without crashing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "qmp-schema-check.h"
#include "qmp-commands.h"
#include "qmp-type-info.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *) data;
    const char *nul = memchr(text, '\0', size);
    gsize schema_len = nul ? (gsize) (nul - text) : size;
    GError *error = NULL;
    QmpSchemaCheck *c = qmp_schema_check_new_from_text(text, schema_len, &error);

    if (c == NULL) {
        if (error == NULL)
            abort();
        g_error_free(error);
        return 0;
    }
    for (gsize i = 0; qmp_commands_all[i]; i++) {
        const QmpCommandDesc *cmd = qmp_commands_all[i];
        if (qmp_schema_check_has_command(c, cmd->name) && cmd->args) {
            for (guint32 m = 0; m < cmd->args->n_members; m++)
                qmp_schema_check_has_argument(c, cmd->name,
                                              cmd->args->members[m].name);
        }
        if (!qmp_schema_check_command(c, cmd->name, NULL, &error)) {
            if (error == NULL)
                abort();
            g_clear_error(&error);
        }
        qmp_schema_check_lookup(c, cmd->name);
    }
    qmp_schema_check_has_event(c, "STOP");
    if (nul) {
        QmpJsonDoc *doc = qmp_json_parse(nul + 1, size - schema_len - 1, 0, &error);
        if (doc) {
            const QmpJson *root = qmp_json_doc_root(doc);
            const char *name = root->type == QMP_JSON_OBJECT
                ? qmp_json_get_string(qmp_json_lookup(root, "execute")) : NULL;
            if (name) {
                const QmpJson *args = qmp_json_lookup(root, "arguments");
                if (!qmp_schema_check_command(c, name, args, &error)) {
                    if (error == NULL)
                        abort();
                }
                g_clear_error(&error);
                /* the same arguments as a value of each named type */
                if (args && !qmp_schema_check_value(c, name, args, "v", &error))
                    g_clear_error(&error);
            }
            qmp_json_doc_unref(doc);
        }
        g_clear_error(&error);
    }
    qmp_schema_check_free(c);
    return 0;
}
