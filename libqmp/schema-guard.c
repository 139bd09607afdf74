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
                       const QmpJson *args, GError **error)
{
    QmpSchemaCheck *check = g_object_get_data(G_OBJECT(mon), GUARD_KEY);

    if (check == NULL)
        return TRUE;
    /* unknown commands, arguments and members, types, enum values,
     * mandatory members: one check */
    if (!qmp_schema_check_command(check, command, args, error)) {
        g_prefix_error(error, "this QEMU's schema: ");
        return FALSE;
    }
    return TRUE;
}
