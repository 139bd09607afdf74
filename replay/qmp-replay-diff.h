/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qmp-replay-diff.h: a readable report of how two JSON values differ (what
 * the replay server prints on a mismatch).
 */
#pragma once

#include <glib.h>
#include "qmp-json.h"
#include "qmp-export.h"

G_BEGIN_DECLS
QMP_BEGIN_PUBLIC

/* Lines "  PATH: expected X, got Y" for each difference of two JSON values
 * (object member order ignored); "" when equal.  Newly allocated. */
char *qmp_replay_diff(const QmpJson *expected, const QmpJson *got);

QMP_END_PUBLIC
G_END_DECLS
