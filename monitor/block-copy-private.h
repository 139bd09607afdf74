/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* block-copy-private.h: what block-copy.c shares with block-nbd.c. */
#pragma once

#include "qmp-block-copy.h"

/* Whether the QEMU behind mon has command name: from caps when given,
 * else from one query-commands per monitor (remembered on it); -1 with
 * error when that query failed. */
int qmp_block_copy_has_command(QmpMonitor *mon, const QmpCaps *caps, const char *name,
                               GError **error);

/* The query-block entry of name (device, qdev or the inserted node's
 * name), or NULL with QMP_BLOCK_COPY_ERROR_NO_DEVICE (or the call's error). */
QmpBlockInfo *qmp_block_copy_find_disk(QmpMonitor *mon, const char *name, GError **error);
