/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * redact.h (private; exported for tools/qmp-replay): keeping secrets out of
 * traces and recordings.
 *
 * What is secret comes from one list: the members the schema marks with the
 * feature 'secret' (the generator's QMP_INFO_SECRET flag, emitted as
 * qmp_secret_members; docs/secrets.md), plus names a caller adds.  On top of
 * the members, two protocol rules: qom-set's "value" and qom-get's reply
 * are secret when the property is named like a secret member (the data of
 * a secret object is its property "data"), and a message that cannot be
 * parsed is hidden whole (QEMU accepts single-quoted JSON, which we do not
 * parse).  A secret value, whatever its JSON type, becomes "<redacted>".
 *
 * A redactor remembers the ids of qom-get calls whose reply must be hidden;
 * feed it the messages of one connection in wire order.  Not thread-safe.
 */
#pragma once

#include <glib.h>
#include "qmp-json.h"
#include "qmp-monitor.h"

#define QMP_REDACTED "<redacted>"

typedef struct _QmpRedactor QmpRedactor;

QmpRedactor *qmp_redactor_new(void);
void qmp_redactor_free(QmpRedactor *r); /* NULL-safe */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QmpRedactor, qmp_redactor_free)

/* Also hide members named name, anywhere. */
void qmp_redactor_add_member(QmpRedactor *r, const char *name);

/* A command's arguments (an object, or NULL) with every secret hidden, as
 * new compact JSON text (*len its length), or NULL when nothing in them is
 * secret.  id_json: the command's id as JSON text (NULL: none); a qom-get
 * of a secret property remembers it, so that its reply is hidden. */
char *qmp_redactor_command(QmpRedactor *r, const char *command,
                           const QmpJson *args, const char *id_json,
                           gsize *len);

/* A whole message, commands (QMP_TRACE_OUT) or replies and events
 * (QMP_TRACE_IN), the same way: new compact text, or NULL when it holds
 * nothing secret. */
char *qmp_redactor_message(QmpRedactor *r, QmpTraceDirection dir,
                           const QmpJson *root, gsize *len);

/* The text that stands for a message that could not be parsed (len bytes):
 * {"unparsable": "<redacted: LEN bytes>"}, and from a client (dir
 * QMP_TRACE_OUT) {"execute": "<redacted>", "unparsable": ...}: a command,
 * so that a recording still pairs QEMU's reply with it (when the hidden
 * command had no id; its id, if any, is hidden too). */
char *qmp_redactor_unparsable(QmpTraceDirection dir, gsize len, gsize *out_len);
