/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Built in every configuration (whatever -Dqapi_schema selects): qmpkit.h
 * with every public header must compile, so that no hand-written name
 * collides with a name generated from the schema (QmpReplayMode did with
 * QEMU 7.2's ReplayMode). */
#include "qmpkit.h"

int qmpkit_umbrella_check(void);
int qmpkit_umbrella_check(void)
{
    return QMP_ERROR_FAILED + (int) sizeof(QmpMonitor *);
}
