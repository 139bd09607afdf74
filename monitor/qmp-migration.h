/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qmp-migration.h: live migration of a guest between two QEMUs, driven over
 * their two monitors (source and destination).
 *
 *   g_autoptr(QmpMigration) mig = qmp_migration_new(src_mon, dst_mon);
 *   qmp_migration_set_uri(mig, "tcp:127.0.0.1:4444", &error);
 *   qmp_migration_set_bandwidth(mig, 100, &error);         // MiB/s
 *   qmp_migration_set_flags(mig, QMP_MIGRATION_POSTCOPY);
 *   g_signal_connect(mig, "progress", G_CALLBACK(on_progress), NULL);
 *   if (!qmp_migration_run(mig, &error))                   // all phases
 *       g_printerr("%s\n", error->message);                // names the phase
 *
 * Both monitors must be connected and past qmp_monitor_handshake() (with
 * QMP_HANDSHAKE_OOB: post-copy recovery needs exec-oob), on the same
 * GMainContext.  The destination QEMU is started with `-incoming defer`
 * (and `-S` when disks are copied, see the storage hook below).
 *
 * ## Phases
 *
 * A migration runs the phases a management daemon runs, in this order; each
 * may be run alone (qmp_migration_run_phase) or all at once (qmp_migration_run):
 *
 *   BEGIN    source: status, capabilities, guest TSC -> the cookie (XML)
 *   PREPARE  destination: checks (incoming state, TSC, capabilities), sets
 *            capabilities and parameters, migrate-incoming
 *   STORAGE  the storage hook's start (disks copied before RAM), if any
 *   PERFORM  source: capabilities, parameters, migrate, progress until the
 *            source reports completed (post-copy switch on request/policy)
 *   FINISH   destination: wait until it left the incoming state; the
 *            storage hook's switchover; `cont` when it is paused
 *   CONFIRM  source: quit (or keep it, QMP_MIGRATION_KEEP_SOURCE)
 *
 * The cookie (docs/migration.md) carries what BEGIN learnt about the source
 * to PREPARE: a daemon moves it between hosts with qmp_migration_get_cookie()
 * and qmp_migration_set_cookie(); with both monitors in one object it simply
 * stays in the object.
 *
 * ## Failure rules
 *
 * A phase that fails cleans up before it reports: the source guest is left
 * running (an outgoing migration is cancelled, a source paused by the
 * migration gets `cont`) and the destination is gone (`quit`), and the
 * GError (QMP_MIGRATION_ERROR) starts with the phase's name, e.g.
 * "Perform: the source reported failure: ...".  Errors QEMU returned are
 * kept as text in the message; qmp_migration_get_failed_phase() names the
 * phase too.
 *
 * Exception, post-copy: once the destination runs the guest, the source's
 * memory is stale and the source is NEVER resumed.  A broken link leaves
 * both sides in postcopy-paused: the call fails with
 * QMP_MIGRATION_ERROR_POSTCOPY_PAUSED and the destination is kept, so that
 * qmp_migration_recover() can finish the job over a new address.  A dead
 * side in post-copy fails with QMP_MIGRATION_ERROR_POSTCOPY_FAILED.
 *
 * ## Capabilities
 *
 * `events` and `return-path` are always set on both sides.  postcopy-ram is
 * set on both sides when QMP_MIGRATION_POSTCOPY is asked for.
 * postcopy-preempt is set for every post-copy migration exactly when BOTH
 * sides have it (their QmpCaps: given with qmp_migration_set_caps(), else
 * probed on each monitor with qmp_caps_probe_monitor()); never on one side
 * only, whatever the caller asks.  With preempt on, an `fd:` URI is refused
 * before anything is sent (QEMU must open the preempt channel itself).
 * Capabilities are set before migrate-incoming.  QMP_MIGRATION_MULTIFD and
 * QMP_MIGRATION_COMPRESS need the capability on both sides, else the phase
 * fails with QMP_MIGRATION_ERROR_UNSUPPORTED naming the side that lacks it.
 *
 * ## Progress, polling and replay
 *
 * During PERFORM (and recovery) the source is polled with query-migrate
 * every poll interval, one query at a time (the next is scheduled when the
 * reply arrived), and MIGRATION / MIGRATION_PASS events are folded in.
 * Every decision (post-copy policy, stall, end) is taken on a reply or
 * event of the monitor it concerns, and counted in polls rather than
 * measured in time, so a recorded conversation replays to the same
 * commands whatever the replay's speed: a stall is "no progress in
 * ceil(stall_timeout / poll_interval) consecutive polls".
 *
 * ## Threads and ownership
 *
 * No threads: everything runs on the monitors' GMainContext.  Sync calls
 * iterate that context until done (call them from the thread that owns
 * it).  The object holds references to both monitors.  `const` results are
 * borrowed from the object; `char *` results are the caller's (g_free).
 * Strings passed in are copied.  Free functions accept NULL.
 */
#pragma once

#include <gio/gio.h>
#include "qmp-monitor.h"
#include "qmp-caps.h"
#include "qmp-types.h"
#include "qmp-export.h"

G_BEGIN_DECLS
QMP_BEGIN_PUBLIC

#define QMP_TYPE_MIGRATION (qmp_migration_get_type())
G_DECLARE_FINAL_TYPE(QmpMigration, qmp_migration, QMP, MIGRATION, GObject)

/* ---- errors ---------------------------------------------------------------- */

#define QMP_MIGRATION_ERROR (qmp_migration_error_quark())
GQuark qmp_migration_error_quark(void);

typedef enum {
    QMP_MIGRATION_ERROR_FAILED,          /* QEMU reported a failure, or a command failed */
    QMP_MIGRATION_ERROR_INVALID,         /* a bad option value, or calls out of order */
    QMP_MIGRATION_ERROR_URI,             /* unknown URI scheme, or fd: with preempt */
    QMP_MIGRATION_ERROR_UNSUPPORTED,     /* a side lacks what the options need */
    QMP_MIGRATION_ERROR_STATE,           /* a QEMU is not in the state the step needs */
    QMP_MIGRATION_ERROR_TSC,             /* TSC frequency mismatch, no scaling */
    QMP_MIGRATION_ERROR_COOKIE,          /* a cookie that cannot be read */
    QMP_MIGRATION_ERROR_CANCELLED,       /* cancelled; the source keeps running */
    QMP_MIGRATION_ERROR_PEER_LOST,       /* a monitor closed (QEMU gone) */
    QMP_MIGRATION_ERROR_STALLED,         /* no progress within the stall timeout */
    QMP_MIGRATION_ERROR_POSTCOPY_PAUSED, /* post-copy paused: recover() can finish it */
    QMP_MIGRATION_ERROR_POSTCOPY_FAILED, /* post-copy lost; the source is not resumed */
} QmpMigrationErrorCode;

/* ---- phases ---------------------------------------------------------------- */

typedef enum {
    QMP_MIGRATION_PHASE_NONE,    /* nothing run yet */
    QMP_MIGRATION_PHASE_BEGIN,
    QMP_MIGRATION_PHASE_PREPARE,
    QMP_MIGRATION_PHASE_STORAGE,
    QMP_MIGRATION_PHASE_PERFORM,
    QMP_MIGRATION_PHASE_FINISH,
    QMP_MIGRATION_PHASE_CONFIRM,
    QMP_MIGRATION_PHASE_RECOVER, /* qmp_migration_recover() */
} QmpMigrationPhase;

/* "Begin", "Prepare", ... (static strings; "None" for NONE). */
const char *qmp_migration_phase_to_string(QmpMigrationPhase phase);

/* ---- options --------------------------------------------------------------- */

typedef enum {
    QMP_MIGRATION_NONE = 0,
    /* Post-copy may be switched to (postcopy-ram on both sides); the switch
     * itself is qmp_migration_start_postcopy() or the auto policy. */
    QMP_MIGRATION_POSTCOPY = 1 << 0,
    /* Never use postcopy-preempt, even when both sides have it (needed for
     * post-copy over an fd: URI). */
    QMP_MIGRATION_NO_PREEMPT = 1 << 1,
    /* auto-converge on the source (CPU throttling). */
    QMP_MIGRATION_AUTO_CONVERGE = 1 << 2,
    /* multifd on both sides (see qmp_migration_set_multifd_channels). */
    QMP_MIGRATION_MULTIFD = 1 << 3,
    /* xbzrle page compression on both sides. */
    QMP_MIGRATION_COMPRESS = 1 << 4,
    /* CONFIRM leaves the (paused) source QEMU alive instead of quitting it. */
    QMP_MIGRATION_KEEP_SOURCE = 1 << 5,
} QmpMigrationFlags;

/* A new migration from src to dst (both referenced). */
QmpMigration *qmp_migration_new(QmpMonitor *src, QmpMonitor *dst);
QmpMonitor *qmp_migration_get_source(QmpMigration *mig);      /* borrowed */
QmpMonitor *qmp_migration_get_destination(QmpMigration *mig); /* borrowed */

/* The address the destination listens on (migrate-incoming): "tcp:HOST:PORT",
 * "unix:PATH", or "fd:NAME" (a socket the caller passed to both QEMUs with
 * getfd NAME).  Any other scheme fails with QMP_MIGRATION_ERROR_URI. */
gboolean qmp_migration_set_uri(QmpMigration *mig, const char *uri, GError **error);
const char *qmp_migration_get_uri(QmpMigration *mig);
/* The address the source connects to, when it differs from the listening
 * one (a proxy, another network namespace); NULL: the same.  Same schemes. */
gboolean qmp_migration_set_connect_uri(QmpMigration *mig, const char *uri,
                                       GError **error);

void qmp_migration_set_flags(QmpMigration *mig, QmpMigrationFlags flags);
QmpMigrationFlags qmp_migration_get_flags(QmpMigration *mig);

/* Bandwidth limit in MiB/s, sent as max-bandwidth in bytes/s; 0: QEMU's
 * default.  Negative values and values whose byte count overflows 63 bits
 * fail with QMP_MIGRATION_ERROR_INVALID (nothing changed). */
gboolean qmp_migration_set_bandwidth(QmpMigration *mig, gint64 mib_per_s,
                                     GError **error);
/* Maximum downtime in ms (downtime-limit), 1..2000000; 0: QEMU's default. */
gboolean qmp_migration_set_downtime_limit(QmpMigration *mig, gint64 ms,
                                          GError **error);
/* multifd-channels when QMP_MIGRATION_MULTIFD is set (1..255; 0: default). */
gboolean qmp_migration_set_multifd_channels(QmpMigration *mig, gint channels,
                                            GError **error);

/* The post-copy policy (needs QMP_MIGRATION_POSTCOPY): switch by itself
 * after `after_passes` passes over RAM (0: never on that ground), and/or
 * when the remaining RAM stopped shrinking: it reached no new low in
 * `not_shrinking_polls` consecutive polls (0: never on that ground).
 * Default: manual only. */
void qmp_migration_set_postcopy_policy(QmpMigration *mig, guint after_passes,
                                       guint not_shrinking_polls);

/* query-migrate polling interval in ms (default 100, at least 1). */
void qmp_migration_set_poll_interval(QmpMigration *mig, guint ms);
/* Stall detection: no progress (transferred bytes unchanged, and the status
 * unchanged) for this long, counted in polls (see above).  In post-copy the
 * workflow then sends migrate-pause (exec-oob) to both sides and fails with
 * QMP_MIGRATION_ERROR_POSTCOPY_PAUSED; in pre-copy it cancels and fails
 * with QMP_MIGRATION_ERROR_STALLED.  0 (the default): off. */
void qmp_migration_set_stall_timeout(QmpMigration *mig, guint ms);

/* What each side can do (copied).  NULL: probe that side's monitor with
 * qmp_caps_probe_monitor() in BEGIN (source) / PREPARE (destination). */
void qmp_migration_set_caps(QmpMigration *mig, const QmpCaps *src_caps,
                            const QmpCaps *dst_caps);
/* TRUE once PREPARE decided to use postcopy-preempt. */
gboolean qmp_migration_get_preempt(QmpMigration *mig);

/* ---- TSC pre-check: host facts ---------------------------------------------- */

/* What a host can tell about its TSC.  tsc_hz 0: unknown. */
typedef enum {
    QMP_HOST_FACT_UNKNOWN = -1,
    QMP_HOST_FACT_NO = 0,
    QMP_HOST_FACT_YES = 1,
} QmpHostFact;

typedef struct {
    guint64 tsc_hz;          /* the host's TSC frequency; 0: unknown */
    QmpHostFact tsc_scaling; /* can KVM scale a guest's TSC to another rate */
} QmpHostFacts;

/* Fill *facts for the host of `side` (the source or destination monitor);
 * leave members unknown when the host does not say.  FALSE with an error
 * only when asking failed badly (the migration then fails in PREPARE). */
typedef gboolean (*QmpHostFactsFunc)(QmpMigration *mig, QmpMonitor *side,
                                     QmpHostFacts *facts, gpointer user_data,
                                     GError **error);

/* The facts of this machine: /sys/devices/system/cpu/cpu0/tsc_freq_khz, or
 * CPUID leaf 0x15 (crystal clock ratio), for the frequency; KVM's
 * KVM_CAP_TSC_CONTROL on /dev/kvm for scaling.  Never fails. */
void qmp_host_facts_read_local(QmpHostFacts *facts);

/* The provider used for the source and destination hosts; the default (func
 * NULL) reads this machine's facts for both.  destroy is called on
 * user_data when replaced or at finalization. */
void qmp_migration_set_host_facts_func(QmpMigration *mig, QmpHostFactsFunc func,
                                       gpointer user_data, GDestroyNotify destroy);

/* The check, done in PREPARE before anything is sent to the destination
 * (and so before any migrate): when the guest's vCPU (qom-get in BEGIN) has
 * a fixed tsc-frequency, or invtsc (then its rate is the source host's),
 * and the destination host's rate differs by more than 250 ppm, and the
 * destination host has no TSC scaling, PREPARE fails with
 * QMP_MIGRATION_ERROR_TSC.  Any unknown fact means: proceed. */

/* ---- storage hook (disks copied alongside RAM) -------------------------------- */

/* Disk (block device / node) names to copy; NULL-terminated, copied.  They
 * go into the cookie and are there for the hook (qmp_migration_get_disks). */
void qmp_migration_set_disks(QmpMigration *mig, const char *const *disks);
const char *const *qmp_migration_get_disks(QmpMigration *mig); /* never NULL */

/* A storage copier (e.g. NBD + mirror) plugged into the phases.  Every
 * member may be NULL (skipped).  The async members follow GIO's pattern:
 * complete through callback(source_object = mig).
 *   start:      phase STORAGE, after PREPARE (destination listening, not
 *               running) and before PERFORM: start copying and complete
 *               when the copies are in sync.
 *   switchover: phase FINISH, after the source completed (its guest
 *               stopped) and before the destination is resumed: end the
 *               copies (the destination must be started with -S).
 *   abort:      sync, best effort, on any failure after start began. */
typedef struct {
    void (*start_async)(QmpMigration *mig, gpointer user_data,
                        GCancellable *cancellable, GAsyncReadyCallback callback,
                        gpointer callback_data);
    gboolean (*start_finish)(QmpMigration *mig, GAsyncResult *result,
                             gpointer user_data, GError **error);
    void (*switchover_async)(QmpMigration *mig, gpointer user_data,
                             GCancellable *cancellable, GAsyncReadyCallback callback,
                             gpointer callback_data);
    gboolean (*switchover_finish)(QmpMigration *mig, GAsyncResult *result,
                                  gpointer user_data, GError **error);
    void (*abort)(QmpMigration *mig, gpointer user_data);
} QmpMigrationStorageHook;

/* hook is copied; destroy is called on user_data when replaced or at
 * finalization. */
void qmp_migration_set_storage_hook(QmpMigration *mig,
                                    const QmpMigrationStorageHook *hook,
                                    gpointer user_data, GDestroyNotify destroy);

/* ---- progress ---------------------------------------------------------------- */

typedef struct {
    QmpMigrationStatus status; /* the source's migration status */
    QmpMigrationPhase phase;
    gboolean postcopy;         /* the switch to post-copy was made */
    guint64 pass;              /* pass over RAM (MIGRATION_PASS / dirty-sync-count) */
    guint64 transferred;       /* bytes */
    guint64 remaining;         /* bytes */
    guint64 total;             /* bytes of guest RAM */
    double throughput;         /* bytes/s, QEMU's figure for the last pass */
    gint64 expected_downtime;  /* ms, -1 when not reported */
    gint64 downtime;           /* ms, once completed; else -1 */
    gint64 total_time;         /* ms since migrate; -1 when not reported */
    guint64 dirty_rate;        /* pages dirtied per second */
    guint n_polls;             /* query-migrate replies so far */
} QmpMigrationProgress;

/* The latest figures (borrowed; zeroed before PERFORM). */
const QmpMigrationProgress *qmp_migration_get_progress(QmpMigration *mig);

/* Called at every query-migrate reply and every MIGRATION/MIGRATION_PASS
 * event of the source, in wire order, with figures valid during the call.
 * Also the signal "progress": void (*)(QmpMigration *, const
 * QmpMigrationProgress *, gpointer).  The callback may call
 * qmp_migration_cancel() and qmp_migration_start_postcopy(). */
typedef void (*QmpMigrationProgressFunc)(QmpMigration *mig,
                                         const QmpMigrationProgress *progress,
                                         gpointer user_data);
void qmp_migration_set_progress_func(QmpMigration *mig,
                                     QmpMigrationProgressFunc func,
                                     gpointer user_data, GDestroyNotify destroy);

/* ---- running ---------------------------------------------------------------- */

/* Every phase not yet run, in order, up to CONFIRM.  Cancelling the
 * GCancellable acts as qmp_migration_cancel(). */
void qmp_migration_run_async(QmpMigration *mig, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data);
gboolean qmp_migration_run_finish(QmpMigration *mig, GAsyncResult *result,
                                  GError **error);
gboolean qmp_migration_run(QmpMigration *mig, GError **error);

/* One phase; it must be the next one (STORAGE may be skipped: run without
 * a hook it does nothing), else QMP_MIGRATION_ERROR_INVALID.  A failed phase
 * ends the migration: later phases fail at once (except recover() after
 * QMP_MIGRATION_ERROR_POSTCOPY_PAUSED). */
void qmp_migration_run_phase_async(QmpMigration *mig, QmpMigrationPhase phase,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data);
gboolean qmp_migration_run_phase_finish(QmpMigration *mig, GAsyncResult *result,
                                        GError **error);
gboolean qmp_migration_run_phase(QmpMigration *mig, QmpMigrationPhase phase,
                                 GError **error);

/* The last phase that ran (or runs), and the one that failed (NONE). */
QmpMigrationPhase qmp_migration_get_phase(QmpMigration *mig);
QmpMigrationPhase qmp_migration_get_failed_phase(QmpMigration *mig);

/* The cookie BEGIN wrote (borrowed; NULL before).  Setting one (before
 * PREPARE, in place of BEGIN's on another host) parses it: a malformed one
 * fails with QMP_MIGRATION_ERROR_COOKIE. */
const char *qmp_migration_get_cookie(QmpMigration *mig);
gboolean qmp_migration_set_cookie(QmpMigration *mig, const char *xml,
                                  GError **error);

/* Cancel a running migration: in PERFORM before post-copy, migrate_cancel
 * goes to the source at once (before PERFORM: the run stops at the next
 * phase boundary); the phase then fails with
 * QMP_MIGRATION_ERROR_CANCELLED, the source keeps running and the
 * destination quits.  FALSE with QMP_MIGRATION_ERROR_STATE once in
 * post-copy (cancelling would lose the guest) or when nothing runs. */
gboolean qmp_migration_cancel(QmpMigration *mig, GError **error);

/* Switch to post-copy now (migrate-start-postcopy).  Fails with
 * QMP_MIGRATION_ERROR_STATE and a message saying which: post-copy was not
 * requested (QMP_MIGRATION_POSTCOPY), the migration is not active yet, it
 * already switched, or it already finished. */
gboolean qmp_migration_start_postcopy(QmpMigration *mig, GError **error);

/* ---- post-copy recovery ------------------------------------------------------ */

/* After QMP_MIGRATION_ERROR_POSTCOPY_PAUSED: migrate-pause (exec-oob) on a
 * side not yet paused, migrate-recover (exec-oob when OOB was negotiated)
 * on the destination listening on new_uri (a NEW address: the old listener
 * is gone), migrate with resume=true on the source to connect_uri (NULL:
 * new_uri), then progress as in PERFORM until completed, then FINISH and
 * CONFIRM.  A 7.2 destination reports `setup` before `postcopy-recover`;
 * both orders are accepted.  A failure leaves both sides paused (call
 * again) or reports QMP_MIGRATION_ERROR_POSTCOPY_FAILED; the source is
 * never resumed. */
void qmp_migration_recover_async(QmpMigration *mig, const char *new_uri,
                                 const char *connect_uri,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data);
gboolean qmp_migration_recover_finish(QmpMigration *mig, GAsyncResult *result,
                                      GError **error);
gboolean qmp_migration_recover(QmpMigration *mig, const char *new_uri,
                               const char *connect_uri, GError **error);

QMP_END_PUBLIC
G_END_DECLS
