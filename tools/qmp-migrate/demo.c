/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * demo.c: `qmp-migrate demo`: start two QEMUs (q35, TCG, 512 MiB) with a
 * guest whose RAM holds 200 MiB of random bytes (a loader device), migrate
 * it pre-copy to the second, then post-copy with preempt to a third that
 * replaces the first, print the figures, and check after each migration
 * that the guest memory on both sides hashes like the random file.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "qmp-migrate.h"
#include "qmp-migration.h"

#define GUEST_ADDR 0x1000000u
#define GUEST_SIZE (200u * 1024 * 1024)

/* 200 MiB of incompressible bytes, made once under the cache directory. */
static char *random_file(GError **error)
{
    g_autofree char *dir = g_build_filename(g_get_user_cache_dir(), "qmpkit", NULL);
    g_mkdir_with_parents(dir, 0755);
    g_autofree char *path = g_build_filename(dir, "qmp-migrate-demo-200m.bin", NULL);
    GStatBuf st;
    if (g_stat(path, &st) == 0 && (guint64) st.st_size == GUEST_SIZE)
        return g_steal_pointer(&path);
    qm_say("writing 200 MiB of random guest memory to %s (once)", path);
    g_autofree char *tmp = g_strdup_printf("%s.%d", path, (int) getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno), "%s: %s", tmp,
                    g_strerror(errno));
        return NULL;
    }
    /* xorshift64* seeded from the clock: random, incompressible. */
    guint64 x = (guint64) g_get_real_time() | 1;
    static guint64 buf[8192];
    gboolean ok = TRUE;
    for (gsize done = 0; done < GUEST_SIZE && ok; done += sizeof(buf)) {
        for (gsize i = 0; i < G_N_ELEMENTS(buf); i++) {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            buf[i] = x * 0x2545F4914F6CDD1Dull;
        }
        ok = fwrite(buf, 1, sizeof(buf), f) == sizeof(buf);
    }
    if (fclose(f) != 0 || !ok || g_rename(tmp, path) != 0) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_IO, "cannot write %s", tmp);
        g_unlink(tmp);
        return NULL;
    }
    return g_steal_pointer(&path);
}

static char *file_sha256(const char *path, GError **error)
{
    g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
    FILE *f = fopen(path, "rb");
    if (!f) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "cannot read %s", path);
        return NULL;
    }
    static guchar buf[1 << 16];
    gsize total = 0, n;
    while (total < GUEST_SIZE && (n = fread(buf, 1, MIN(sizeof(buf), GUEST_SIZE - total), f)) > 0) {
        g_checksum_update(sum, buf, n);
        total += n;
    }
    fclose(f);
    if (total != GUEST_SIZE) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_IO, "%s is short", path);
        return NULL;
    }
    return g_strdup(g_checksum_get_string(sum));
}

/* SHA-256 of the guest's random region, read with pmemsave. */
static char *guest_sha256(QmpMonitor *mon, const char *dir, const char *name, GError **error)
{
    g_autofree char *file = g_build_filename(dir, name, NULL);
    g_autofree char *f = qm_json_str(file);
    g_autofree char *args = g_strdup_printf("{\"val\": %u, \"size\": %u, \"filename\": %s}",
                                            GUEST_ADDR, GUEST_SIZE, f);
    g_autoptr(QmpJsonDoc) d = qmp_monitor_execute(mon, "pmemsave", args, 0, NULL, 0, 120000,
                                                  NULL, error);
    if (!d)
        return NULL;
    char *h = file_sha256(file, error);
    g_unlink(file);
    return h;
}

static QmpMonitor *spawn_guest(const char *qemu, const char *rand, gboolean incoming,
                               GError **error)
{
    g_autofree char *loader = rand ? g_strdup_printf("loader,file=%s,addr=0x%x", rand, GUEST_ADDR)
                                   : NULL;
    const char *args[] = { "-machine", "q35", "-accel", "tcg", "-m", "512", "-nodefaults",
                           "-display", "none", "-serial", "none", "-parallel", "none",
                           incoming ? "-incoming" : "-device", incoming ? "defer" : loader, NULL };
    g_autoptr(QmpMonitor) mon = qmp_monitor_new(NULL);
    if (!qmp_monitor_spawn(mon, qemu, args, error) ||
        !qmp_monitor_handshake(mon, QMP_HANDSHAKE_OOB, 30000, error))
        return NULL;
    return g_steal_pointer(&mon);
}

/* The figures of one migration, for the summary table. */
typedef struct {
    gboolean done, postcopy, preempt, identical;
    gint64 total_ms, downtime_ms;
    guint64 bytes, passes;
} Figures;

static void take_figures(Figures *f, QmpMigration *mig)
{
    const QmpMigrationProgress *p = qmp_migration_get_progress(mig);
    f->done = TRUE;
    f->postcopy = p->postcopy;
    f->preempt = qmp_migration_get_preempt(mig);
    f->total_ms = p->total_time;
    f->downtime_ms = p->downtime;
    f->bytes = p->transferred;
    f->passes = p->pass;
}

static void print_summary(const Figures *f)
{
    if (qm_out.json)
        return;
    qm_progress_break();
    printf("\n%-24s %-16s %s\n", "", "pre-copy", f[1].preempt ? "post-copy + preempt" : "post-copy");
    char a[64], b[64];
#define ROW(label, fmt, ...)                                           \
    do {                                                               \
        for (int i = 0; i < 2; i++) {                                  \
            char *o = i ? b : a;                                       \
            if (f[i].done)                                             \
                g_snprintf(o, 64, fmt, __VA_ARGS__);                   \
            else                                                       \
                g_snprintf(o, 64, "-");                                \
        }                                                              \
        printf("%-24s %-16s %s\n", label, a, b);                       \
    } while (0)
    ROW("total time", "%" G_GINT64_FORMAT " ms", f[i].total_ms);
    ROW("downtime", "%" G_GINT64_FORMAT " ms", f[i].downtime_ms);
    ROW("moved", "%.1f MiB", f[i].bytes / 1048576.0);
    ROW("average rate", "%.1f MiB/s",
        f[i].total_ms > 0 ? f[i].bytes / 1048576.0 / (f[i].total_ms / 1000.0) : 0.0);
    ROW("passes over RAM", "%" G_GUINT64_FORMAT, f[i].passes);
    ROW("guest memory (sha256)", "%s", f[i].identical ? "identical" : "DIFFERS");
#undef ROW
}

/* Both sides' region against the random file's hash. */
static gboolean check_memory(QmpMonitor *a, QmpMonitor *b, const char *want, const char *dir,
                             const char *label, GError **error)
{
    g_autofree char *ha = guest_sha256(a, dir, "source.mem", error);
    g_autofree char *hb = ha ? guest_sha256(b, dir, "destination.mem", error) : NULL;
    if (!hb)
        return FALSE;
    gboolean same = strcmp(ha, want) == 0 && strcmp(hb, want) == 0;
    g_autofree char *l = qm_json_str(label);
    g_autofree char *w = qm_json_str(want);
    g_autofree char *sa = qm_json_str(ha);
    g_autofree char *sb = qm_json_str(hb);
    qm_result(same, same ? NULL : "guest memory differs after migration",
              "memory_check", l, "random_sha256", w, "source_sha256", sa,
              "destination_sha256", sb, "identical", same ? "true" : "false", NULL);
    return same;
}

/* Run mig, print its figures under label and keep them in fig; its exit
 * status. */
static int run_migration(QmpMigration *mig, const char *label, Figures *fig)
{
    GError *e = qm_migration_run(mig, NULL);
    qm_migration_report(mig, e, label);
    take_figures(fig, mig);
    if (e)
        fprintf(stderr, "qmp-migrate demo: %s\n", e->message);
    int code = qm_migration_exit_code(e);
    g_clear_error(&e);
    return code;
}

/* check_memory() after migration label, kept in fig; its exit status. */
static int memory_check(QmpMonitor *a, QmpMonitor *b, const char *want, const char *dir,
                        const char *label, Figures *fig)
{
    g_autoptr(GError) error = NULL;
    fig->identical = check_memory(a, b, want, dir, label, &error);
    if (fig->identical)
        return QM_EXIT_OK;
    if (error)
        qm_result(FALSE, error->message, NULL);
    return error ? QM_EXIT_FAILED : QM_EXIT_MISMATCH;
}

static void close_guest(QmpMonitor **mon)
{
    if (*mon) {
        qmp_monitor_close(*mon); /* quit, then kill after a grace period */
        g_clear_object(mon);
    }
}

int qm_cmd_demo(int argc, char **argv)
{
    g_autofree char *qemu = NULL;
    gboolean json = FALSE;
    GOptionEntry entries[] = {
        { "qemu", 'q', 0, G_OPTION_ARG_FILENAME, &qemu,
          "The QEMU to run (default qemu-system-x86_64)", "BINARY" },
        { "json", 'j', 0, G_OPTION_ARG_NONE, &json, "One JSON object per update and result", NULL },
        { NULL },
    };
    if (!qm_parse_options("demo", "- migrate a guest with 200 MiB of random RAM pre-copy, then "
                          "post-copy with preempt", entries, &argc, &argv, "takes no arguments"))
        return QM_EXIT_USAGE;
    g_autoptr(GError) error = NULL;
    qm_output_init("demo", json);
    const char *bin = qemu ? qemu : "qemu-system-x86_64";
    g_autofree char *rand = random_file(&error);
    g_autofree char *want = rand ? file_sha256(rand, &error) : NULL;
    if (!want)
        return qm_fail(error, QM_EXIT_FAILED);
    g_autofree char *dir = g_dir_make_tmp("qmp-migrate-demo-XXXXXX", &error);
    if (!dir)
        return qm_fail(error, QM_EXIT_FAILED);
    int code = QM_EXIT_OK;
    QmpMonitor *a = NULL, *b = NULL, *c = NULL;
    Figures fig[2] = { { 0 } };
    qm_out.quiet = TRUE; /* text: one table at the end */
    a = spawn_guest(bin, rand, FALSE, &error);
    b = a ? spawn_guest(bin, NULL, TRUE, &error) : NULL;
    if (!b) {
        qm_result(FALSE, error->message, NULL);
        code = QM_EXIT_CONNECT;
        goto out;
    }
    int maj = 0, min = 0, mic = 0;
    qmp_monitor_get_version(a, &maj, &min, &mic, NULL);
    qm_say("QEMU %d.%d.%d guests: q35, TCG, 512 MiB, 200 MiB of random bytes at 0x%x",
           maj, min, mic, GUEST_ADDR);

    /* 1: pre-copy, A -> B; A stays (paused) for the memory check. */
    qm_say("1. pre-copy migration A -> B");
    {
        g_autoptr(QmpMigration) mig = qmp_migration_new(a, b);
        g_autofree char *uri = g_strdup_printf("tcp:127.0.0.1:%u", qm_free_port());
        qmp_migration_set_uri(mig, uri, NULL);
        qmp_migration_set_flags(mig, QMP_MIGRATION_KEEP_SOURCE);
        code = run_migration(mig, "pre-copy", &fig[0]);
        if (code != QM_EXIT_OK)
            goto out;
    }
    code = memory_check(a, b, want, dir, "pre-copy", &fig[0]);
    if (code != QM_EXIT_OK)
        goto out;
    close_guest(&a);

    /* 2: post-copy with preempt, B -> C (switching after the first pass). */
    c = spawn_guest(bin, NULL, TRUE, &error);
    if (!c) {
        qm_result(FALSE, error->message, NULL);
        code = QM_EXIT_CONNECT;
        goto out;
    }
    qm_say("2. post-copy migration B -> C (postcopy-preempt when both sides have it)");
    {
        g_autoptr(QmpMigration) mig = qmp_migration_new(b, c);
        g_autofree char *uri = g_strdup_printf("tcp:127.0.0.1:%u", qm_free_port());
        qmp_migration_set_uri(mig, uri, NULL);
        qmp_migration_set_flags(mig, QMP_MIGRATION_POSTCOPY | QMP_MIGRATION_KEEP_SOURCE);
        qmp_migration_set_postcopy_policy(mig, 1, 0);
        code = run_migration(mig, "post-copy", &fig[1]);
        if (code != QM_EXIT_OK)
            goto out;
        if (!qmp_migration_get_progress(mig)->postcopy) {
            qm_result(FALSE, "the migration completed before switching to post-copy", NULL);
            code = QM_EXIT_FAILED;
            goto out;
        }
    }
    code = memory_check(b, c, want, dir, "post-copy", &fig[1]);
    if (code != QM_EXIT_OK)
        goto out;
out:
    print_summary(fig);
    close_guest(&a);
    close_guest(&b);
    close_guest(&c);
    g_rmdir(dir);
    return code;
}
