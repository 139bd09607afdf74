/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* workflow-private.c: see workflow-private.h. */
#include "workflow-private.h"

void qmp_workflow_task_return(GTask *task, GError *error)
{
    if (error)
        g_task_return_error(task, error);
    else
        g_task_return_boolean(task, TRUE);
    g_object_unref(task);
}

void qmp_workflow_source_drop(GSource **src)
{
    if (*src == NULL)
        return;
    g_source_destroy(*src);
    g_clear_pointer(src, g_source_unref);
}

gboolean qmp_workflow_task_finish(gpointer source, GAsyncResult *result, GError **error)
{
    g_return_val_if_fail(g_task_is_valid(result, source), FALSE);
    return g_task_propagate_boolean(G_TASK(result), error);
}
