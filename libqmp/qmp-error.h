/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qmp-error.h: the two GError domains of the toolkit.
 *
 * QMP_ERROR: faults of the library, the transport or the peer's protocol.
 * QMP_COMMAND_ERROR: an error reply QEMU sent for a command.  The GError
 * message is QEMU's "desc" exactly as sent; the code is its "class".
 */
#pragma once

#include <glib.h>
#include "qmp-export.h"

G_BEGIN_DECLS
QMP_BEGIN_PUBLIC

#define QMP_ERROR (qmp_error_quark())
GQuark qmp_error_quark(void);

typedef enum {
    QMP_ERROR_FAILED,      /* anything not covered below */
    QMP_ERROR_CLOSED,      /* the connection is closed (EOF or closed by us) */
    QMP_ERROR_IO,          /* a read/write/connect system call failed */
    QMP_ERROR_TIMEOUT,     /* a deadline passed */
    QMP_ERROR_PROTOCOL,    /* malformed JSON or a message QMP does not allow */
    QMP_ERROR_TOO_LARGE,   /* a message exceeded the configured maximum */
    QMP_ERROR_CANCELLED,   /* the caller's GCancellable fired */
    QMP_ERROR_DECODE,      /* JSON did not match the expected schema type */
    QMP_ERROR_UNSUPPORTED, /* the peer lacks a command, argument or capability */
    QMP_ERROR_INVALID,     /* the caller passed an invalid value */
} QmpErrorCode;

#define QMP_COMMAND_ERROR (qmp_command_error_quark())
GQuark qmp_command_error_quark(void);

typedef enum {
    QMP_COMMAND_ERROR_OTHER,           /* a class this library does not know */
    QMP_COMMAND_ERROR_GENERIC_ERROR,   /* "GenericError" */
    QMP_COMMAND_ERROR_COMMAND_NOT_FOUND, /* "CommandNotFound" */
    QMP_COMMAND_ERROR_DEVICE_NOT_ACTIVE, /* "DeviceNotActive" */
    QMP_COMMAND_ERROR_DEVICE_NOT_FOUND,  /* "DeviceNotFound" */
    QMP_COMMAND_ERROR_KVM_MISSING_CAP,   /* "KVMMissingCap" */
} QmpCommandErrorCode;

/* QEMU's class name for a QMP_COMMAND_ERROR code ("GenericError", ...). */
const char *qmp_command_error_class_name(QmpCommandErrorCode code);
QmpCommandErrorCode qmp_command_error_code_from_class(const char *klass);

QMP_END_PUBLIC
G_END_DECLS
