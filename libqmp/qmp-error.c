/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qmp-error.c: the toolkit's GError domains and QEMU error class names.
 */
#include <string.h>

#include "qmp-error.h"

G_DEFINE_QUARK(qmp-error-quark, qmp_error)
G_DEFINE_QUARK(qmp-command-error-quark, qmp_command_error)

/* Indexed by QmpCommandErrorCode; QMP_COMMAND_ERROR_OTHER has no name of its
 * own. */
static const char *const class_names[] = {
    [QMP_COMMAND_ERROR_OTHER] = NULL,
    [QMP_COMMAND_ERROR_GENERIC_ERROR] = "GenericError",
    [QMP_COMMAND_ERROR_COMMAND_NOT_FOUND] = "CommandNotFound",
    [QMP_COMMAND_ERROR_DEVICE_NOT_ACTIVE] = "DeviceNotActive",
    [QMP_COMMAND_ERROR_DEVICE_NOT_FOUND] = "DeviceNotFound",
    [QMP_COMMAND_ERROR_KVM_MISSING_CAP] = "KVMMissingCap",
};

/* NULL for QMP_COMMAND_ERROR_OTHER and unknown codes: the class QEMU sent
 * is not kept in the code then. */
const char *
qmp_command_error_class_name(QmpCommandErrorCode code)
{
    if ((guint) code >= G_N_ELEMENTS(class_names))
        return NULL;
    return class_names[code];
}

QmpCommandErrorCode
qmp_command_error_code_from_class(const char *klass)
{
    if (!klass)
        return QMP_COMMAND_ERROR_OTHER;
    for (guint i = 1; i < G_N_ELEMENTS(class_names); i++) {
        if (strcmp(class_names[i], klass) == 0)
            return (QmpCommandErrorCode) i;
    }
    return QMP_COMMAND_ERROR_OTHER;
}
