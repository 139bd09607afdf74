/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-common.h: helpers shared by the protocol core's benchmarks. */
#pragma once

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>

static inline double bench_now(void)
{
    return g_get_monotonic_time() / 1e6;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static inline double bench_median(double *v, int n)
{
    qsort(v, n, sizeof(double), bench_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The one line every benchmark prints.  at_least: target is ratio >= t,
 * else ratio <= t. */
static inline void bench_report(const char *name, double ours, double baseline,
                                const char *unit, gboolean at_least, double target)
{
    double ratio = ours / baseline;
    gboolean met = at_least ? ratio >= target : ratio <= target;
    printf("bench: %s ours=%.1f baseline=%.1f unit=%s ratio=%.3f target=%s%.2f met=%s\n",
           name, ours, baseline, unit, ratio, at_least ? ">=" : "<=", target,
           met ? "yes" : "no");
    fflush(stdout);
}
