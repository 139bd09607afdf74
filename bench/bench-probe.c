/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-probe: capability probing of the system's qemu-system-x86_64.
 *
 *   floor       spawn, greeting, qmp_capabilities, query-qmp-schema, quit,
 *               reap: the least any schema-based probe can do
 *   probe-cold  qmp_caps_probe_binary() without the cache
 *               (target: floor + 40 ms, as a ratio to the floor)
 *   probe-warm  qmp_caps_probe_binary() answered from the cache
 *               (target: under 2 ms, as a ratio to the floor)
 *
 * Medians of runs interleaved in one process.  Skips (77) without QEMU.
 */
#include <glib/gstdio.h>

#include "bench-common.h"
#include "qmp-caps.h"

#define RUNS 9

static double floor_once(const char *qemu)
{
    const char *argv[] = { "-machine", "none", "-nodefaults", "-display", "none", "-S",
                           "-no-user-config", NULL };
    g_autoptr(GError) error = NULL;
    double t0 = bench_now();
    g_autoptr(GMainContext) ctx = g_main_context_new();
    g_autoptr(QmpMonitor) mon = qmp_monitor_new(ctx);
    if (!qmp_monitor_spawn(mon, qemu, argv, &error) ||
        !qmp_monitor_handshake(mon, QMP_HANDSHAKE_NONE, 30000, &error))
        g_error("floor: %s", error->message);
    g_autoptr(QmpJsonDoc) doc = qmp_monitor_execute(mon, "query-qmp-schema", NULL, 0, NULL, 0,
                                                    30000, NULL, &error);
    if (!doc)
        g_error("floor: %s", error->message);
    qmp_monitor_close(mon); /* quit and reap */
    return (bench_now() - t0) * 1000;
}

static double probe_once(const char *qemu, QmpCapsFlags flags, gboolean want_cached)
{
    g_autoptr(GError) error = NULL;
    double t0 = bench_now();
    g_autoptr(QmpCaps) caps = qmp_caps_probe_binary(qemu, flags, &error);
    double ms = (bench_now() - t0) * 1000;
    if (!caps)
        g_error("probe: %s", error->message);
    if (qmp_caps_is_cached(caps) != want_cached)
        g_error("probe: cached=%d, expected %d", qmp_caps_is_cached(caps), want_cached);
    return ms;
}

int main(void)
{
    g_autofree char *qemu = g_find_program_in_path("qemu-system-x86_64");
    if (!qemu) {
        printf("bench-probe: SKIP: qemu-system-x86_64 not found\n");
        return 77;
    }
    g_autofree char *dir = g_dir_make_tmp("bench-probe-XXXXXX", NULL);
    g_setenv("XDG_CACHE_HOME", dir, TRUE);

    double fl[RUNS], cold[RUNS], warm[RUNS];
    floor_once(qemu); /* warm the page cache */
    for (int i = 0; i < RUNS; i++) {
        fl[i] = floor_once(qemu);
        cold[i] = probe_once(qemu, QMP_CAPS_NO_CACHE, FALSE);
    }
    probe_once(qemu, QMP_CAPS_NONE, FALSE); /* fills the cache */
    for (int i = 0; i < RUNS; i++)
        warm[i] = probe_once(qemu, QMP_CAPS_NONE, TRUE);

    double f = bench_median(fl, RUNS);
    bench_report("probe-cold", bench_median(cold, RUNS), f, "ms", FALSE, (f + 40) / f);
    bench_report("probe-warm", bench_median(warm, RUNS), f, "ms", FALSE, 2 / f);

    g_autofree char *abs = g_canonicalize_filename(qemu, NULL);
    g_autofree char *file = qmp_caps_cache_path(abs);
    g_unlink(file);
    g_autofree char *d1 = g_build_filename(dir, "qmpkit", "caps", NULL);
    g_autofree char *d2 = g_build_filename(dir, "qmpkit", NULL);
    g_rmdir(d1);
    g_rmdir(d2);
    g_rmdir(dir);
    return 0;
}
