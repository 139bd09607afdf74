/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * migration-tsc.c: the host facts a TSC pre-check needs, and the check.
 */
#include <fcntl.h>
#include <unistd.h>
#include <sys/ioctl.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#include "migration-private.h"

/* From <linux/kvm.h> (kept here so the build does not need kernel headers). */
#define QMP_KVMIO 0xAE
#define QMP_KVM_CHECK_EXTENSION _IO(QMP_KVMIO, 0x03)
#define QMP_KVM_CAP_TSC_CONTROL 60

static guint64 tsc_from_sysfs(void)
{
    g_autofree char *text = NULL;
    if (!g_file_get_contents("/sys/devices/system/cpu/cpu0/tsc_freq_khz", &text,
                             NULL, NULL))
        return 0;
    guint64 khz = 0;
    g_strstrip(text);
    if (!g_ascii_string_to_unsigned(text, 10, 1, G_MAXUINT64 / 1000, &khz, NULL))
        return 0;
    return khz * 1000;
}

static guint64 tsc_from_cpuid(void)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned int eax, ebx, ecx, edx;
    if (__get_cpuid_max(0, NULL) < 0x15)
        return 0;
    __cpuid_count(0x15, 0, eax, ebx, ecx, edx);
    /* TSC = crystal (ecx Hz) * ebx / eax; ecx 0: the crystal is not told. */
    if (eax == 0 || ebx == 0 || ecx == 0)
        return 0;
    return (guint64) ecx * ebx / eax;
#else
    return 0;
#endif
}

static QmpHostFact kvm_tsc_scaling(void)
{
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return QMP_HOST_FACT_UNKNOWN;
    int r = ioctl(fd, QMP_KVM_CHECK_EXTENSION, QMP_KVM_CAP_TSC_CONTROL);
    close(fd);
    if (r < 0)
        return QMP_HOST_FACT_UNKNOWN;
    return r > 0 ? QMP_HOST_FACT_YES : QMP_HOST_FACT_NO;
}

void qmp_host_facts_read_local(QmpHostFacts *facts)
{
    facts->tsc_hz = tsc_from_sysfs();
    if (!facts->tsc_hz)
        facts->tsc_hz = tsc_from_cpuid();
    facts->tsc_scaling = kvm_tsc_scaling();
}

char *qmp_migration_tsc_check(const QmpMigrationCookie *c, const QmpHostFacts *dst)
{
    guint64 guest = c->tsc_hz;
    const char *what = "the guest's vCPU has tsc-frequency";
    if (!guest && c->invtsc == QMP_HOST_FACT_YES) {
        guest = c->host_tsc_hz;
        what = "the guest's vCPU has invtsc and runs at the source host's TSC rate";
    }
    if (!guest || !dst->tsc_hz)
        return NULL; /* nothing fixed, or not known: proceed */
    guint64 diff = guest > dst->tsc_hz ? guest - dst->tsc_hz : dst->tsc_hz - guest;
    /* 250 ppm: what NTP can correct; closer rates count as equal. */
    if (diff <= guest / 4000)
        return NULL;
    if (dst->tsc_scaling != QMP_HOST_FACT_NO)
        return NULL; /* scaling, or not known: proceed */
    return g_strdup_printf("TSC frequency mismatch: %s %" G_GUINT64_FORMAT
                           " Hz, the destination host's TSC runs at %"
                           G_GUINT64_FORMAT " Hz and it cannot scale a guest's TSC;"
                           " nothing was migrated", what, guest, dst->tsc_hz);
}
