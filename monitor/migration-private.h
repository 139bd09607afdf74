/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* migration-private.h: what the migration's files share (not installed). */
#pragma once

#include "qmp-migration.h"

/* What BEGIN learnt about the source, carried to PREPARE by the cookie. */
typedef struct {
    char *qemu_version;    /* "7.2.0" or NULL */
    gboolean running;      /* the guest ran when BEGIN looked */
    char **capabilities;   /* migration capabilities the source has */
    guint64 tsc_hz;        /* the vCPU's tsc-frequency; 0: not fixed / unknown */
    QmpHostFact invtsc;    /* the vCPU has invtsc */
    guint64 host_tsc_hz;   /* the source host's TSC rate; 0: unknown */
    char **disks;
} QmpMigrationCookie;

void qmp_migration_cookie_clear(QmpMigrationCookie *c);
char *qmp_migration_cookie_write(const QmpMigrationCookie *c);
gboolean qmp_migration_cookie_read(const char *xml, QmpMigrationCookie *c,
                                   GError **error);

/* The TSC rule: NULL when the migration may go on, else why not (newly
 * allocated). */
char *qmp_migration_tsc_check(const QmpMigrationCookie *c,
                              const QmpHostFacts *dst);
