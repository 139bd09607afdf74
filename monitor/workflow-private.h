/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * workflow-private.h: the GTask steps every workflow (migration, block
 * copy, NBD storage, save/restore) ends its async calls with.  Internal to
 * the qmp-workflows library: not installed (no qmp- prefix), hidden.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Completes a boolean task: with error (taken) when it is set, else TRUE;
 * then drops the reference the caller held on task. */
G_GNUC_INTERNAL
void qmp_workflow_task_return(GTask *task, GError *error);

/* The _finish of an async call whose task returns a boolean; source is the
 * object the task was created for (NULL for none). */
G_GNUC_INTERNAL
gboolean qmp_workflow_task_finish(gpointer source, GAsyncResult *result, GError **error);

/* Destroys and unrefs *src when it is set, and sets it to NULL. */
G_GNUC_INTERNAL
void qmp_workflow_source_drop(GSource **src);

G_END_DECLS
