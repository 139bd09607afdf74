/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * schema-guard.c: opt-in checking of typed calls against the connected
 * server's own schema (its query-qmp-schema answer), so that a command or an
 * argument an older QEMU lacks fails before anything is sent.  The checking
 * itself is qmp-schema-check.c's; this file ties one checker to a monitor.
 */
#include <string.h>

#include "qmp-command.h"
#include "qmp-error.h"
#include "qmp-schema-check.h"
#include "schema-guard.h"

#define GUARD_KEY "qmpkit-schema-guard"

gboolean
qmp_monitor_check_schema(QmpMonitor *mon, GError **error)
{
    g_autoptr(QmpJsonDoc) doc = NULL;
    const QmpJson *ret = NULL;
    QmpSchemaCheck *check;

    doc = qmp_monitor_execute(mon, "query-qmp-schema", NULL, 0, NULL, 0,
                              QMP_TIMEOUT_DEFAULT, &ret, error);
    if (doc == NULL)
        return FALSE;
    check = qmp_schema_check_new(ret, error);
    if (check == NULL)
        return FALSE;
    g_object_set_data_full(G_OBJECT(mon), GUARD_KEY, check,
                           (GDestroyNotify)qmp_schema_check_free);
    return TRUE;
}

gboolean
qmp_monitor_has_command(QmpMonitor *mon, const char *command)
{
    QmpSchemaCheck *check = g_object_get_data(G_OBJECT(mon), GUARD_KEY);

    return check == NULL || qmp_schema_check_has_command(check, command);
}

gboolean
qmp_schema_guard_check(QmpMonitor *mon, const char *command,
                       const char *args_json, GError **error)
{
    QmpSchemaCheck *check = g_object_get_data(G_OBJECT(mon), GUARD_KEY);
    g_autoptr(QmpJsonDoc) args = NULL;
    const QmpJson *root = NULL;

    if (check == NULL)
        return TRUE;
    if (!qmp_schema_check_has_command(check, command)) {
        g_set_error(error, QMP_ERROR, QMP_ERROR_UNSUPPORTED,
                    "this QEMU has no command '%s'", command);
        return FALSE;
    }
    if (args_json != NULL) {
        args = qmp_json_parse(args_json, strlen(args_json), 0, error);
        if (args == NULL)
            return FALSE;
        root = qmp_json_doc_root(args);
        for (const QmpJson *m = root->v.first; m != NULL; m = m->next) {
            if (!qmp_schema_check_has_argument(check, command, m->key)) {
                g_set_error(error, QMP_ERROR, QMP_ERROR_UNSUPPORTED,
                            "this QEMU's command '%s' has no argument '%s'",
                            command, m->key);
                return FALSE;
            }
        }
    }
    /* deeper: member types, nested members, enum values, mandatory ones */
    return qmp_schema_check_command(check, command, root, error);
}
