/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* schema-guard.h: private; the per-monitor schema check of typed calls. */
#pragma once

#include "qmp-monitor.h"

/* TRUE when the call may be sent: schema checking is off for this monitor,
 * or the server has the command and every argument in args_json (JSON
 * object text or NULL).  Otherwise QMP_ERROR_UNSUPPORTED naming what is
 * missing. */
gboolean qmp_schema_guard_check(QmpMonitor *mon, const char *command,
                                const char *args_json, GError **error);
