/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * migrate.c: `qmp-migrate migrate`, `cancel` and `recover`.
 *
 * migrate drives QmpMigration (qmp-migration.h) over the two monitors; with
 * --storage the disks go first over NBD (qmp-block-copy.h's QmpNbdStorage
 * plugged in as the migration's storage hook).  cancel and recover act on a
 * migration some other process started (or left paused), with QEMU's own
 * commands.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include "qmp-migrate.h"
#include "qmp-migration.h"
#include "qmp-block-copy.h"
#include "qmp-commands.h"

/* ---- output of a migration ------------------------------------------------- */

static void on_progress(QmpMigration *mig, const QmpMigrationProgress *p, gpointer ud)
{
    if (p->phase != QMP_MIGRATION_PHASE_PERFORM && p->phase != QMP_MIGRATION_PHASE_RECOVER)
        return;
    QmProgress q = {
        .phase = qmp_migration_phase_to_string(p->phase),
        .status = qmp_migration_status_to_string(p->status),
        .pass = (gint64) p->pass,
        .done = p->transferred,
        .total = p->total,
        .remaining = p->status == QMP_MIGRATION_STATUS_COMPLETED ? 0 : p->remaining,
        .bytes_per_s = p->throughput,
        .postcopy = p->postcopy,
    };
    qm_progress(&q);
}

int qm_migration_exit_code(const GError *error)
{
    if (!error)
        return QM_EXIT_OK;
    if (error->domain == QMP_MIGRATION_ERROR) {
        switch (error->code) {
        case QMP_MIGRATION_ERROR_CANCELLED:
            return QM_EXIT_CANCELLED;
        case QMP_MIGRATION_ERROR_POSTCOPY_PAUSED:
            return QM_EXIT_POSTCOPY_PAUSED;
        case QMP_MIGRATION_ERROR_POSTCOPY_FAILED:
            return QM_EXIT_POSTCOPY_FAILED;
        default:
            break;
        }
    }
    return QM_EXIT_FAILED;
}

/* Result figures of a finished migration as qm_result members; *avg (may be
 * NULL) gets the average MiB/s. */
void qm_migration_report(QmpMigration *mig, const GError *error, const char *label)
{
    const QmpMigrationProgress *p = qmp_migration_get_progress(mig);
    double secs = p->total_time > 0 ? p->total_time / 1000.0 : 0;
    g_autofree char *status = qm_json_str(qmp_migration_status_to_string(p->status));
    g_autofree char *lab = qm_json_str(label ? label : "migration");
    g_autofree char *phase = qm_json_str(qmp_migration_phase_to_string(
        error ? qmp_migration_get_failed_phase(mig) : qmp_migration_get_phase(mig)));
    g_autofree char *tt = g_strdup_printf("%" G_GINT64_FORMAT, p->total_time);
    g_autofree char *dt = g_strdup_printf("%" G_GINT64_FORMAT, p->downtime);
    g_autofree char *tb = g_strdup_printf("%" G_GUINT64_FORMAT, p->transferred);
    g_autofree char *tm = g_strdup_printf("%.1f", p->transferred / 1048576.0);
    g_autofree char *avg = g_strdup_printf("%.1f", secs > 0 ? p->transferred / 1048576.0 / secs : 0.0);
    g_autofree char *passes = g_strdup_printf("%" G_GUINT64_FORMAT, p->pass);
    qm_result(error == NULL, error ? error->message : NULL,
              "migration", lab,
              "status", status,
              "phase", phase,
              "postcopy", p->postcopy ? "true" : "false",
              "preempt", qmp_migration_get_preempt(mig) ? "true" : "false",
              "passes", passes,
              "total_time_ms", tt,
              "downtime_ms", dt,
              "transferred_bytes", tb,
              "transferred_mib", tm,
              "average_mib_per_s", avg,
              NULL);
}

/* ---- storage: NBD + mirror (qmp_nbd_storage_attach) ------------------------------ */

/* The source's writable disks with a medium. */
static GPtrArray *source_disks(QmpMonitor *src, GError **error)
{
    gsize n = 0;
    QmpBlockInfo **blocks = qmp_query_block(src, &n, error);
    if (!blocks && error && *error)
        return NULL;
    GPtrArray *disks = g_ptr_array_new_with_free_func(g_free);
    for (gsize i = 0; i < n; i++) {
        if (blocks[i]->inserted && !blocks[i]->inserted->ro)
            g_ptr_array_add(disks, g_strdup(*blocks[i]->device ? blocks[i]->device
                                                               : blocks[i]->qdev));
        qmp_block_info_free(blocks[i]);
    }
    g_free(blocks);
    g_ptr_array_add(disks, NULL);
    return disks;
}

/* ---- migrate ------------------------------------------------------------------------ */

typedef struct {
    QmpMigration *mig;
    GMainLoop *loop;
    GError *error;
    gboolean recovering;
} Run;

static void on_run_done(GObject *obj, GAsyncResult *res, gpointer data)
{
    Run *r = data;
    if (r->recovering)
        qmp_migration_recover_finish(r->mig, res, &r->error);
    else
        qmp_migration_run_finish(r->mig, res, &r->error);
    g_main_loop_quit(r->loop);
}

static gboolean on_cancel_request(gpointer data)
{
    Run *r = data;
    g_autoptr(GError) error = NULL;
    if (qmp_migration_cancel(r->mig, &error))
        qm_say("cancelling (the source keeps running; Ctrl-C again to quit at once)");
    else
        qm_say("cannot cancel: %s", error->message);
    return G_SOURCE_REMOVE;
}

/* Run mig to its end on the main loop, Ctrl-C cancelling; recover_uri:
 * when post-copy pauses, recover over it once. */
GError *qm_migration_run(QmpMigration *mig, const char *recover_uri)
{
    /* What each side can do, asked here, before the workflow runs: the
     * caps probe waits for its replies by iterating the context, which
     * does not work from inside the workflow's reply callbacks. */
    GError *error = NULL;
    g_autoptr(QmpCaps) sc = qmp_caps_probe_monitor(qmp_migration_get_source(mig), &error);
    g_autoptr(QmpCaps) dc = sc ? qmp_caps_probe_monitor(qmp_migration_get_destination(mig),
                                                        &error)
                               : NULL;
    if (!dc) {
        g_prefix_error(&error, "probing the %s's capabilities: ", sc ? "destination" : "source");
        return error;
    }
    qmp_migration_set_caps(mig, sc, dc);
    qmp_migration_set_progress_func(mig, on_progress, NULL, NULL);
    Run r = { .mig = mig, .loop = g_main_loop_new(NULL, FALSE) };
    qm_on_sigint(on_cancel_request, &r);
    qmp_migration_run_async(mig, NULL, on_run_done, &r);
    g_main_loop_run(r.loop);
    if (recover_uri && g_error_matches(r.error, QMP_MIGRATION_ERROR,
                                       QMP_MIGRATION_ERROR_POSTCOPY_PAUSED)) {
        qm_say("post-copy paused (%s); recovering over %s", r.error->message, recover_uri);
        g_clear_error(&r.error);
        r.recovering = TRUE;
        qmp_migration_recover_async(mig, recover_uri, NULL, NULL, on_run_done, &r);
        g_main_loop_run(r.loop);
    }
    qm_sigint_clear();
    g_main_loop_unref(r.loop);
    return r.error;
}

/* A free TCP port on the loopback (for a default URI). */
guint16 qm_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(sa);
    guint16 port = 4444;
    if (fd >= 0 && bind(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *) &sa, &len) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

int qm_cmd_migrate(int argc, char **argv)
{
    g_autofree char *source = NULL, *dest = NULL, *uri = NULL, *recover_uri = NULL;
    g_autofree char *connect_uri = NULL;
    gboolean postcopy = FALSE, storage = FALSE, json = FALSE, keep = FALSE, no_preempt = FALSE;
    gint after = 0, downtime = 0;
    gint64 bandwidth = 0;
    GOptionEntry entries[] = {
        { "source", 's', 0, G_OPTION_ARG_STRING, &source, "The source's monitor", "ADDR" },
        { "dest", 'd', 0, G_OPTION_ARG_STRING, &dest,
          "The destination's monitor (QEMU started with -incoming defer)", "ADDR" },
        { "uri", 'u', 0, G_OPTION_ARG_STRING, &uri,
          "Where the destination listens: tcp:HOST:PORT or unix:PATH "
          "(default: tcp on a free loopback port)", "URI" },
        { "connect-uri", 0, 0, G_OPTION_ARG_STRING, &connect_uri,
          "Where the source connects, when it differs from --uri (a proxy, another "
          "network namespace)", "URI" },
        { "postcopy", 'p', 0, G_OPTION_ARG_NONE, &postcopy,
          "Allow post-copy (with postcopy-preempt when both sides have it)", NULL },
        { "postcopy-after", 0, 0, G_OPTION_ARG_INT, &after,
          "Switch to post-copy after this many passes over RAM (implies --postcopy)", "PASSES" },
        { "no-preempt", 0, 0, G_OPTION_ARG_NONE, &no_preempt, "Never use postcopy-preempt", NULL },
        { "bandwidth", 'b', 0, G_OPTION_ARG_INT64, &bandwidth, "Bandwidth limit in MiB/s", "MIB" },
        { "downtime", 0, 0, G_OPTION_ARG_INT, &downtime, "Maximum downtime in ms", "MS" },
        { "storage", 0, 0, G_OPTION_ARG_NONE, &storage,
          "Copy the source's writable disks to the destination's over NBD first "
          "(destination started with -S)", NULL },
        { "recover-uri", 0, 0, G_OPTION_ARG_STRING, &recover_uri,
          "When post-copy pauses, recover at once over this new destination URI", "URI" },
        { "keep-source", 0, 0, G_OPTION_ARG_NONE, &keep,
          "Leave the (paused) source QEMU alive after success instead of quitting it", NULL },
        { "json", 'j', 0, G_OPTION_ARG_NONE, &json, "One JSON object per update and result", NULL },
        { NULL },
    };
    const char *needs = "needs --source ADDR and --dest ADDR";
    if (!qm_parse_options("migrate", "- migrate a guest live", entries, &argc, &argv, needs))
        return QM_EXIT_USAGE;
    if (!source || !dest)
        return qm_usage("migrate", needs);
    g_autoptr(GError) error = NULL;
    qm_output_init("migrate", json);
    if (after > 0)
        postcopy = TRUE;
    g_autoptr(QmpMonitor) src = qm_connect(source, "source", &error);
    g_autoptr(QmpMonitor) dst = src ? qm_connect(dest, "destination", &error) : NULL;
    if (!dst)
        return qm_fail(error, QM_EXIT_CONNECT);
    g_autoptr(QmpMigration) mig = qmp_migration_new(src, dst);
    if (!uri) {
        const char *colon = strrchr(dest, ':');
        g_autofree char *host = !strchr(dest, '/') && colon ? g_strndup(dest, colon - dest)
                                                            : g_strdup("127.0.0.1");
        uri = g_strdup_printf("tcp:%s:%u", *host ? host : "127.0.0.1", qm_free_port());
    }
    QmpMigrationFlags flags = QMP_MIGRATION_NONE;
    if (postcopy)
        flags |= QMP_MIGRATION_POSTCOPY;
    if (no_preempt)
        flags |= QMP_MIGRATION_NO_PREEMPT;
    if (keep)
        flags |= QMP_MIGRATION_KEEP_SOURCE;
    qmp_migration_set_flags(mig, flags);
    if (!qmp_migration_set_uri(mig, uri, &error) ||
        (connect_uri && !qmp_migration_set_connect_uri(mig, connect_uri, &error)) ||
        !qmp_migration_set_bandwidth(mig, bandwidth, &error) ||
        (downtime && !qmp_migration_set_downtime_limit(mig, downtime, &error)))
        return qm_fail(error, QM_EXIT_USAGE);
    if (after > 0)
        qmp_migration_set_postcopy_policy(mig, (guint) after, 0);
    if (storage) {
        /* The source's writable disks, copied over NBD into the
         * destination's disks of the same names (the destination QEMU runs
         * with -S; its NBD server listens on "nbd.sock" in its working
         * directory). */
        g_autoptr(GPtrArray) disks = source_disks(src, &error);
        if (!disks)
            return qm_fail(error, QM_EXIT_FAILED);
        qmp_migration_set_disks(mig, (const char *const *) disks->pdata);
        QmpNbdStorage *nbd = qmp_nbd_storage_new(src, dst);
        QmpBlockCopyOptions o;
        qmp_block_copy_options_init(&o);
        o.bandwidth_mib_s = bandwidth;
        qmp_nbd_storage_set_options(nbd, &o);
        qmp_nbd_storage_attach(nbd, mig); /* the migration owns it */
        qm_say("copying %u disk(s) over NBD before RAM", disks->len - 1);
    }
    GError *run_error = qm_migration_run(mig, recover_uri);
    qm_migration_report(mig, run_error, uri);
    int code = qm_migration_exit_code(run_error);
    g_clear_error(&run_error);
    return code;
}

/* ---- cancel ---------------------------------------------------------------------- */

static QmpMigrationStatus migration_status(QmpMonitor *mon, QmpMigrationInfo **info_out,
                                           GError **error)
{
    QmpMigrationInfo *info = qmp_query_migrate(mon, error);
    QmpMigrationStatus st = info && info->has_status ? info->status : QMP_MIGRATION_STATUS_NONE;
    if (info_out)
        *info_out = info;
    else
        qmp_migration_info_free(info);
    return st;
}

int qm_cmd_cancel(int argc, char **argv)
{
    g_autofree char *source = NULL;
    gboolean json = FALSE;
    GOptionEntry entries[] = {
        { "source", 's', 0, G_OPTION_ARG_STRING, &source, "The source's monitor", "ADDR" },
        { "json", 'j', 0, G_OPTION_ARG_NONE, &json, "JSON output", NULL },
        { NULL },
    };
    const char *needs = "needs --source ADDR";
    if (!qm_parse_options("cancel", "- cancel an outgoing migration", entries, &argc, &argv, needs))
        return QM_EXIT_USAGE;
    if (!source)
        return qm_usage("cancel", needs);
    g_autoptr(GError) error = NULL;
    qm_output_init("cancel", json);
    g_autoptr(QmpMonitor) src = qm_connect(source, "source", &error);
    if (!src)
        return qm_fail(error, QM_EXIT_CONNECT);
    QmpMigrationStatus st = migration_status(src, NULL, &error);
    if (error)
        return qm_fail(error, QM_EXIT_FAILED);
    if (st == QMP_MIGRATION_STATUS_POSTCOPY_ACTIVE || st == QMP_MIGRATION_STATUS_POSTCOPY_PAUSED ||
        st == QMP_MIGRATION_STATUS_POSTCOPY_RECOVER) {
        g_autofree char *s = qm_json_str(qmp_migration_status_to_string(st));
        qm_result(FALSE, "the migration is in post-copy: cancelling would lose the guest "
                         "(use recover)", "status", s, NULL);
        return QM_EXIT_FAILED;
    }
    if (!qmp_migrate_cancel(src, &error))
        return qm_fail(error, QM_EXIT_FAILED);
    /* Wait until QEMU says it stopped (at most about 30 s). */
    for (int i = 0; i < 300; i++) {
        st = migration_status(src, NULL, &error);
        if (error || (st != QMP_MIGRATION_STATUS_CANCELLING && st != QMP_MIGRATION_STATUS_ACTIVE &&
                      st != QMP_MIGRATION_STATUS_SETUP))
            break;
        g_usleep(100000);
    }
    if (error)
        return qm_fail(error, QM_EXIT_FAILED);
    g_autoptr(QmpStatusInfo) rs = qmp_query_status(src, &error);
    g_autofree char *s = qm_json_str(qmp_migration_status_to_string(st));
    g_autofree char *run = qm_json_str(rs ? qmp_run_state_to_string(rs->status) : "unknown");
    gboolean ok = st == QMP_MIGRATION_STATUS_CANCELLED || st == QMP_MIGRATION_STATUS_NONE;
    qm_result(ok, ok ? NULL : "the migration did not end as cancelled", "status", s,
              "source_run_state", run, NULL);
    return ok ? QM_EXIT_OK : QM_EXIT_FAILED;
}

/* ---- recover ---------------------------------------------------------------------- */

/* For a post-copy migration left paused (by a broken link, or a qmp-migrate
 * that exited with status 5): pause what is not paused yet, then
 * migrate-recover on the destination at NEW-URI and migrate resume=true on
 * the source, then follow the source until it completes. */
int qm_cmd_recover(int argc, char **argv)
{
    g_autofree char *source = NULL, *dest = NULL, *uri = NULL;
    gboolean json = FALSE;
    GOptionEntry entries[] = {
        { "source", 's', 0, G_OPTION_ARG_STRING, &source, "The source's monitor", "ADDR" },
        { "dest", 'd', 0, G_OPTION_ARG_STRING, &dest, "The destination's monitor", "ADDR" },
        { "uri", 'u', 0, G_OPTION_ARG_STRING, &uri,
          "A NEW address for the destination to listen on", "URI" },
        { "json", 'j', 0, G_OPTION_ARG_NONE, &json, "JSON output", NULL },
        { NULL },
    };
    const char *needs = "needs --source ADDR, --dest ADDR and --uri NEW-URI";
    if (!qm_parse_options("recover", "- finish a paused post-copy migration", entries, &argc,
                          &argv, needs))
        return QM_EXIT_USAGE;
    if (!source || !dest || !uri)
        return qm_usage("recover", needs);
    g_autoptr(GError) error = NULL;
    qm_output_init("recover", json);
    g_autoptr(QmpMonitor) src = qm_connect(source, "source", &error);
    g_autoptr(QmpMonitor) dst = src ? qm_connect(dest, "destination", &error) : NULL;
    if (!dst)
        return qm_fail(error, QM_EXIT_CONNECT);
    /* The source answers in-band commands; a paused destination may not
     * (its main loop can wait for a missing page): it only gets exec-oob. */
    QmpMigrationStatus sst = migration_status(src, NULL, &error);
    if (error)
        return qm_fail(error, QM_EXIT_FAILED);
    if (sst != QMP_MIGRATION_STATUS_POSTCOPY_ACTIVE && sst != QMP_MIGRATION_STATUS_POSTCOPY_PAUSED) {
        g_autofree char *m = g_strdup_printf(
            "the source is not in post-copy (status %s): nothing to recover",
            qmp_migration_status_to_string(sst));
        qm_result(FALSE, m, NULL);
        return QM_EXIT_FAILED;
    }
    if (!qmp_monitor_get_oob_enabled(dst)) {
        qm_result(FALSE, "the destination's monitor has no out-of-band execution (needed to "
                         "recover)", NULL);
        return QM_EXIT_FAILED;
    }
    QmpMonitor *sides[2] = { src, dst };
    for (int i = 0; i < 2; i++) {
        if (i == 0 && sst == QMP_MIGRATION_STATUS_POSTCOPY_PAUSED)
            continue;
        /* Pause; a side already paused refuses, which is fine. */
        g_autoptr(GError) perr = NULL;
        g_autoptr(QmpJsonDoc) d = qmp_monitor_execute(sides[i], "migrate-pause", NULL,
                                                      QMP_EXECUTE_OOB, NULL, 0, 20000, NULL,
                                                      &perr);
        if (!d && perr->domain != QMP_COMMAND_ERROR)
            return qm_fail(perr, QM_EXIT_FAILED);
    }
    g_autofree char *u = qm_json_str(uri);
    g_autofree char *rargs = g_strdup_printf("{\"uri\": %s}", u);
    g_autofree char *margs = g_strdup_printf("{\"uri\": %s, \"resume\": true}", u);
    /* The destination may reach postcopy-paused a moment after the link
     * broke (or after migrate-pause): until then it refuses migrate-recover. */
    g_autoptr(QmpJsonDoc) d1 = NULL;
    for (int tries = 0; tries < 100 && !d1; tries++) {
        g_clear_error(&error);
        d1 = qmp_monitor_execute(dst, "migrate-recover", rargs, QMP_EXECUTE_OOB, NULL, 0, 20000,
                                 NULL, &error);
        if (!d1 && error->domain != QMP_COMMAND_ERROR)
            break;
        if (!d1)
            g_usleep(100000);
    }
    g_autoptr(QmpJsonDoc) d2 = d1 ? qmp_monitor_execute(src, "migrate", margs, 0, NULL, 0, 20000,
                                                        NULL, &error)
                                  : NULL;
    if (!d2)
        return qm_fail(error, QM_EXIT_POSTCOPY_PAUSED);
    /* Follow the source. */
    QmpMigrationStatus st = QMP_MIGRATION_STATUS_POSTCOPY_RECOVER;
    for (int polls = 0;; polls++) {
        QmpMigrationInfo *info = NULL;
        st = migration_status(src, &info, &error);
        if (error)
            break;
        if (info && info->ram) {
            QmProgress q = { .phase = "Recover", .status = qmp_migration_status_to_string(st),
                             .pass = info->ram->dirty_sync_count,
                             .done = (guint64) info->ram->transferred,
                             .total = (guint64) info->ram->total,
                             .remaining = (guint64) info->ram->remaining,
                             .bytes_per_s = info->ram->mbps * 1e6 / 8, .postcopy = TRUE };
            qm_progress(&q);
        }
        qmp_migration_info_free(info);
        if (st == QMP_MIGRATION_STATUS_COMPLETED || st == QMP_MIGRATION_STATUS_FAILED ||
            (st == QMP_MIGRATION_STATUS_POSTCOPY_PAUSED && polls > 50))
            break;
        g_usleep(100000);
    }
    g_autofree char *s = qm_json_str(qmp_migration_status_to_string(st));
    if (error) {
        qm_result(FALSE, error->message, "status", s, NULL);
        return QM_EXIT_POSTCOPY_FAILED;
    }
    if (st == QMP_MIGRATION_STATUS_COMPLETED) {
        qm_result(TRUE, NULL, "status", s, NULL);
        return QM_EXIT_OK;
    }
    qm_result(FALSE, "the migration did not complete", "status", s, NULL);
    return st == QMP_MIGRATION_STATUS_POSTCOPY_PAUSED ? QM_EXIT_POSTCOPY_PAUSED
                                                      : QM_EXIT_POSTCOPY_FAILED;
}
