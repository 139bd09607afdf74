/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * migration-bench.h: a source/destination pair for the migration
 * benchmarks (QEMU 7.2 from PATH, or a given binary such as 10.0): TCG, 512 MiB, 200 MiB of random RAM from a loader
 * device (the migration tests' file, made once under the user cache directory), the
 * destination started with -incoming defer; both in a temporary directory
 * so that "unix:mig.sock" is a short relative path.
 */
#pragma once

#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include "bench-common.h"
#include "qmp-monitor.h"
#include "migration-harness.h" /* mig_test_rand_file(): the tests' guest RAM */

/* QEMU 10.0 ($QMPKIT_QEMU_10, which run-all sets the way build.sh does),
 * or NULL. */
static inline const char *migb_qemu_10(void)
{
    const char *q = g_getenv("QMPKIT_QEMU_10");
    return q && g_file_test(q, G_FILE_TEST_IS_EXECUTABLE) ? q : NULL;
}

/* A source (loader) or destination (-incoming defer) of binary `qemu`
 * (NULL: qemu-system-x86_64 from PATH) with `machine`, in dir. */
static inline QmpMonitor *migb_spawn_qemu(const char *dir, gboolean source, const char *qemu,
                                   const char *machine)
{
    GError *error = NULL;
    g_autofree char *loader = g_strdup_printf("loader,file=%s,addr=0x1000000",
                                              mig_test_rand_file());
    const char *args[] = { "-machine", machine, "-accel", "tcg", "-m", "512", "-nodefaults",
                           "-display", "none",
                           source ? "-device" : "-incoming", source ? loader : "defer", NULL };
    g_autofree char *cwd = g_get_current_dir();
    if (chdir(dir) != 0)
        exit(1);
    QmpMonitor *mon = qmp_monitor_new(NULL);
    if (!qmp_monitor_spawn(mon, qemu ? qemu : "qemu-system-x86_64", args, &error) ||
        !qmp_monitor_handshake(mon, QMP_HANDSHAKE_OOB, 30000, &error)) {
        fprintf(stderr, "migration bench: %s\n", error->message);
        exit(1);
    }
    if (chdir(cwd) != 0)
        exit(1);
    return mon;
}

static inline QmpMonitor *migb_spawn(const char *dir, gboolean source)
{
    return migb_spawn_qemu(dir, source, NULL, "q35");
}

static void migb_end(QmpMonitor *mon)
{
    qmp_monitor_close(mon);
    g_object_unref(mon);
}
