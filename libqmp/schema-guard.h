/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* schema-guard.h: private; the per-monitor schema check of typed calls. */
#pragma once

#include "qmp-monitor.h"

/* TRUE when the call may be sent: schema checking is off for this monitor,
 * or the arguments (an object, or NULL for none) pass
 * qmp_schema_check_command() against the server's schema.  Otherwise its
 * error: QMP_ERROR_UNSUPPORTED naming what the server lacks, or
 * QMP_ERROR_INVALID for a value it would reject. */
gboolean qmp_schema_guard_check(QmpMonitor *mon, const char *command,
                                const QmpJson *args, GError **error);
