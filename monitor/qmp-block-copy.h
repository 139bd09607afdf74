/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qmp-block-copy.h: live copy of a guest disk to another image (a mirror
 * block job), followed as a state machine, then pivoted to the copy or
 * cancelled; and NBD storage migration (the disks of a guest copied to a
 * destination QEMU that has no shared storage).
 *
 *   QmpBlockCopyOptions o;
 *   qmp_block_copy_options_init(&o);
 *   o.target = "copy.qcow2";
 *   o.bandwidth_mib_s = 50;
 *   g_autoptr(QmpBlockCopyJob) job = qmp_block_copy_start(mon, "drive0", &o, &error);
 *   qmp_block_copy_job_wait_ready(job, 60000, NULL, &error);
 *   qmp_block_copy_job_pivot(job, 60000, &error);   // or qmp_block_copy_job_cancel()
 *
 * The copy uses blockdev-mirror when the QEMU has it (the target image is
 * then opened with blockdev-add) and drive-mirror otherwise; whether it has
 * it is taken from a QmpCaps when one is given, else from one
 * query-commands per monitor (remembered on the monitor).
 *
 * Threads and main contexts are those of the QmpMonitor (qmp-monitor.h):
 * every function is called from the thread that owns the monitor's context;
 * sync functions iterate that context while they wait, so events and other
 * replies keep flowing.
 *
 * Ownership: options are borrowed during the call that takes them (strings
 * are copied); a QmpBlockCopyJob holds a reference to its monitor; `const char *`
 * results are borrowed from the object; everything returned as a pointer to
 * a non-const object is owned by the caller (g_object_unref /
 * qmp_nbd_storage_free, both NULL-safe, or g_autoptr).
 *
 * Errors: faults of the copy are QMP_BLOCK_COPY_ERROR, with messages that
 * name the device, the job id and QEMU's reason verbatim, e.g.
 *   "device 'drive0', job 'copy0': No space left on device".
 * Transport faults (QMP_ERROR) are passed through as they are.
 */
#pragma once

#include <gio/gio.h>
#include "qmp-monitor.h"
#include "qmp-types.h"
#include "qmp-caps.h"
#include "qmp-migration.h"
#include "qmp-export.h"

G_BEGIN_DECLS
QMP_BEGIN_PUBLIC

/* ---- errors --------------------------------------------------------------- */

#define QMP_BLOCK_COPY_ERROR (qmp_block_copy_error_quark())
GQuark qmp_block_copy_error_quark(void);

typedef enum {
    QMP_BLOCK_COPY_ERROR_FAILED,         /* QEMU refused or the job failed (reason in the message) */
    QMP_BLOCK_COPY_ERROR_INVALID,        /* a bad option (bandwidth negative or too large, ...) */
    QMP_BLOCK_COPY_ERROR_NO_DEVICE,      /* no such disk in query-block */
    QMP_BLOCK_COPY_ERROR_TARGET_MISSING, /* the target image (or its folder) does not exist */
    QMP_BLOCK_COPY_ERROR_TARGET_FULL,    /* writing the target failed with ENOSPC */
    QMP_BLOCK_COPY_ERROR_JOB_EXISTS,     /* a job with that id, or on that disk, already runs */
    QMP_BLOCK_COPY_ERROR_CANCELLED,      /* the job was cancelled before it finished */
    QMP_BLOCK_COPY_ERROR_NOT_READY,      /* pivot asked for before READY */
    QMP_BLOCK_COPY_ERROR_UNSUPPORTED,    /* this QEMU lacks what the options need */
    QMP_BLOCK_COPY_ERROR_GRAPH,          /* the block graph does not show the expected disk */
    QMP_BLOCK_COPY_ERROR_PAUSED,         /* QEMU paused the job after an I/O error
                                          * (on-*-error stop or enospc) */
} QmpBlockCopyError;

/* ---- options -------------------------------------------------------------- */

typedef enum {
    QMP_BLOCK_COPY_BACKEND_AUTO,            /* blockdev-mirror when present */
    QMP_BLOCK_COPY_BACKEND_BLOCKDEV_MIRROR, /* fails when the QEMU lacks it */
    QMP_BLOCK_COPY_BACKEND_DRIVE_MIRROR,
} QmpBlockCopyBackend;

/* Always qmp_block_copy_options_init() first: it sets the defaults below. */
typedef struct {
    QmpBlockCopyBackend backend;  /* AUTO */
    const QmpCaps *caps;          /* NULL: ask the monitor (query-commands) */
    const char *job_id;           /* NULL: "qmpkit-copy-DEVICE" */
    /* The target: an image file ... */
    const char *target;           /* path as QEMU should open it */
    const char *format;           /* NULL: drive-mirror: the source's; blockdev-mirror: "qcow2" */
    QmpNewImageMode mode;         /* ABSOLUTE_PATHS: QEMU creates the image
                                   * (always drive-mirror, since creating an
                                   * image is drive-mirror's job);
                                   * EXISTING: the image exists, same size */
    /* ... or a block node that already exists (blockdev-mirror only), e.g.
     * an NBD client node; then target, format and mode are ignored. */
    const char *target_node;
    QmpMirrorSyncMode sync;       /* FULL (TOP, NONE also accepted) */
    guint32 granularity;          /* 0: QEMU's default; else a power of 2, 512 B..64 MiB */
    gint64 buf_size;              /* 0: QEMU's default */
    gboolean has_on_source_error; /* FALSE */
    QmpBlockdevOnError on_source_error;
    gboolean has_on_target_error; /* FALSE */
    QmpBlockdevOnError on_target_error;
    gboolean write_blocking;      /* FALSE; TRUE: copy-mode write-blocking
                                   * (UNSUPPORTED on QEMUs before 3.0) */
    gint64 bandwidth_mib_s;       /* 0: unlimited; MiB/s, sent as bytes/s */
} QmpBlockCopyOptions;

void qmp_block_copy_options_init(QmpBlockCopyOptions *options);

/* MiB/s to the bytes/s QEMU takes; FALSE with QMP_BLOCK_COPY_ERROR_INVALID
 * when negative or when the product overflows a gint64. */
gboolean qmp_block_copy_bandwidth_to_bytes(gint64 mib_s, gint64 *bytes_s,
                                           GError **error);

/* ---- the job -------------------------------------------------------------- */

typedef enum {
    QMP_BLOCK_COPY_JOB_STATE_CREATED,    /* started, QEMU did not say "running" yet */
    QMP_BLOCK_COPY_JOB_STATE_RUNNING,    /* copying */
    QMP_BLOCK_COPY_JOB_STATE_READY,      /* in sync: can be pivoted */
    QMP_BLOCK_COPY_JOB_STATE_PIVOTING,   /* completion asked for */
    QMP_BLOCK_COPY_JOB_STATE_CANCELLING, /* cancel asked for */
    QMP_BLOCK_COPY_JOB_STATE_COMPLETED,  /* done; for a pivot: the disk is the target */
    QMP_BLOCK_COPY_JOB_STATE_CANCELLED,  /* done; the disk stayed on the source */
    QMP_BLOCK_COPY_JOB_STATE_FAILED,     /* done with an error (see get_error) */
} QmpBlockCopyJobState;

const char *qmp_block_copy_job_state_to_string(QmpBlockCopyJobState state);

#define QMP_TYPE_BLOCK_COPY_JOB (qmp_block_copy_job_get_type())
G_DECLARE_FINAL_TYPE(QmpBlockCopyJob, qmp_block_copy_job, QMP, BLOCK_COPY_JOB, GObject)

/* Start the copy of device (a drive id, a qdev id/path or a node name of
 * query-block) and return its job, whose events are followed from the
 * moment the start command is sent.  The disk is looked up with query-block
 * first (QMP_BLOCK_COPY_ERROR_NO_DEVICE when absent). */
QmpBlockCopyJob *qmp_block_copy_start(QmpMonitor *mon, const char *device,
                                  const QmpBlockCopyOptions *options,
                                  GError **error);

QmpMonitor *qmp_block_copy_job_get_monitor(QmpBlockCopyJob *job);
const char *qmp_block_copy_job_get_id(QmpBlockCopyJob *job);
const char *qmp_block_copy_job_get_device(QmpBlockCopyJob *job);
/* "blockdev-mirror" or "drive-mirror": the command that started the job. */
const char *qmp_block_copy_job_get_command(QmpBlockCopyJob *job);
QmpBlockCopyJobState qmp_block_copy_job_get_state(QmpBlockCopyJob *job);
/* The last status of JOB_STATUS_CHANGE or query-block-jobs. */
QmpJobStatus qmp_block_copy_job_get_status(QmpBlockCopyJob *job);
/* The error that ended the job (FAILED or CANCELLED), NULL otherwise. */
const GError *qmp_block_copy_job_get_error(QmpBlockCopyJob *job);
/* BLOCK_JOB_ERROR events seen (with on-*-error other than report, a job
 * may go on after errors). */
guint qmp_block_copy_job_get_n_io_errors(QmpBlockCopyJob *job);
/* TRUE from a BLOCK_JOB_ERROR whose action is "stop" (QEMU paused the job;
 * on-source-error / on-target-error "stop", or "enospc" on ENOSPC) until
 * qmp_block_copy_job_resume().  A wait for READY fails with
 * QMP_BLOCK_COPY_ERROR_PAUSED meanwhile; cancelling works as usual. */
gboolean qmp_block_copy_job_get_paused_on_error(QmpBlockCopyJob *job);
/* block-job-resume after such a pause (the failed requests are retried). */
gboolean qmp_block_copy_job_resume(QmpBlockCopyJob *job, GError **error);

/* Progress as last seen (events or qmp_block_copy_job_refresh): bytes done and
 * to do, the speed limit in bytes/s (0: none) and the rate in bytes/s
 * measured between the last two refreshes (0 before two). */
void qmp_block_copy_job_get_progress(QmpBlockCopyJob *job, gint64 *offset, gint64 *len,
                                gint64 *speed, double *rate);
/* One query-block-jobs: updates progress, rate and status. */
gboolean qmp_block_copy_job_refresh(QmpBlockCopyJob *job, GError **error);

/* Change the bandwidth while the job runs (block-job-set-speed); 0 lifts
 * the limit. */
gboolean qmp_block_copy_job_set_bandwidth(QmpBlockCopyJob *job, gint64 mib_s,
                                     GError **error);

/* Wait until READY.  Fails with the job's error when it ends first
 * (QMP_BLOCK_COPY_ERROR_CANCELLED when cancelled, FAILED/TARGET_FULL...),
 * with QMP_ERROR_CANCELLED when cancellable fires, QMP_ERROR_TIMEOUT after
 * timeout_ms (sync only; QMP_TIMEOUT_NONE waits for ever) and with the
 * monitor's error when the connection ends.  The job is left as it is. */
void qmp_block_copy_job_wait_ready_async(QmpBlockCopyJob *job, GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data);
gboolean qmp_block_copy_job_wait_ready_finish(QmpBlockCopyJob *job, GAsyncResult *result,
                                         GError **error);
gboolean qmp_block_copy_job_wait_ready(QmpBlockCopyJob *job, gint timeout_ms,
                                  GCancellable *cancellable, GError **error);

/* Switch the disk to the target (block-job-complete on a READY job), wait
 * for the job's end, and check with query-block that the disk now is the
 * target.  QMP_BLOCK_COPY_ERROR_NOT_READY before READY. */
gboolean qmp_block_copy_job_pivot(QmpBlockCopyJob *job, gint timeout_ms, GError **error);

/* Cancel (block-job-cancel): before READY the copy stops half done; on a
 * READY job it ends with a full copy; either way the disk stays on the
 * source, which query-block confirms before this returns.  A target node
 * the job added (blockdev-mirror of an image file) is removed.  On a job
 * already ended it only does that clean-up. */
gboolean qmp_block_copy_job_cancel(QmpBlockCopyJob *job, gint timeout_ms, GError **error);

/* The same two, asynchronous: the callback runs in the thread-default
 * main context of the caller (which must be the monitor's) once the graph
 * was checked.  cancellable stops a command not yet sent; once QEMU took
 * the command the job's end is always awaited (no timeout: a dead monitor
 * ends the job). */
void qmp_block_copy_job_pivot_async(QmpBlockCopyJob *job, GCancellable *cancellable,
                                    GAsyncReadyCallback callback, gpointer user_data);
gboolean qmp_block_copy_job_pivot_finish(QmpBlockCopyJob *job, GAsyncResult *result,
                                         GError **error);
void qmp_block_copy_job_cancel_async(QmpBlockCopyJob *job, GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data);
gboolean qmp_block_copy_job_cancel_finish(QmpBlockCopyJob *job, GAsyncResult *result,
                                          GError **error);

/* Signal "state-changed": void (*)(QmpBlockCopyJob *job, guint state, gpointer). */

/* ---- NBD storage migration ----------------------------------------------- */

/* Copies disks of a source QEMU into disks of a destination QEMU (started
 * with -S and -incoming) over NBD:
 *
 *   destination: nbd-server-start, then for each disk block-export-add
 *                (nbd-server-add on QEMUs before 5.2), writable;
 *   source:      blockdev-add of an NBD client node per disk, then a mirror
 *                (blockdev-mirror, sync full) of each disk into it;
 *   wait until every mirror is READY (the copies then follow the guest's
 *   writes); migrate RAM (the caller, or QmpMigration);
 *   finish:      every mirror is ended on a READY job with block-job-cancel
 *                (QEMU flushes it and reports BLOCK_JOB_COMPLETED; the
 *                source's disks are NOT switched to the destination's
 *                exports, which are about to go), the client nodes are
 *                removed, and the destination's NBD server is stopped, which
 *                must happen before `cont` on the destination.
 *
 * Both monitors are borrowed and must outlive the object. */
typedef struct _QmpNbdStorage QmpNbdStorage;

QmpNbdStorage *qmp_nbd_storage_new(QmpMonitor *source, QmpMonitor *destination);
void qmp_nbd_storage_free(QmpNbdStorage *s);

/* Where the destination's NBD server listens (and the source connects):
 * a unix socket path or host and port (the default is unix "nbd.sock",
 * relative to the destination's working directory). */
void qmp_nbd_storage_set_unix(QmpNbdStorage *s, const char *path);
void qmp_nbd_storage_set_inet(QmpNbdStorage *s, const char *host, guint16 port);
/* Options applied to every mirror (bandwidth, granularity, ...; target
 * fields are ignored).  Copied. */
void qmp_nbd_storage_set_options(QmpNbdStorage *s, const QmpBlockCopyOptions *options);
/* A disk to copy: its name on the source and on the destination (both as
 * query-block knows them; destination NULL: the same). */
void qmp_nbd_storage_add_disk(QmpNbdStorage *s, const char *source_device,
                              const char *destination_device);

/* Export the destination's disks and start every mirror. */
gboolean qmp_nbd_storage_start(QmpNbdStorage *s, GError **error);
/* Wait until every mirror is READY. */
gboolean qmp_nbd_storage_wait_ready(QmpNbdStorage *s, gint timeout_ms,
                                    GCancellable *cancellable, GError **error);
/* After RAM moved: end the mirrors, remove the client nodes, stop the
 * destination's NBD server. */
gboolean qmp_nbd_storage_finish(QmpNbdStorage *s, gint timeout_ms, GError **error);
/* The same, asynchronous (the same commands in the same order); the
 * callback's source object is NULL.  s must stay alive until then. */
void qmp_nbd_storage_finish_async(QmpNbdStorage *s, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data);
gboolean qmp_nbd_storage_finish_finish(QmpNbdStorage *s, GAsyncResult *result,
                                       GError **error);
/* Give up (a failure anywhere): cancel the mirrors, remove the client
 * nodes, stop the NBD server; best effort, errors ignored. */
void qmp_nbd_storage_abort(QmpNbdStorage *s);

guint qmp_nbd_storage_get_n_disks(QmpNbdStorage *s);
/* Plug s into a migration as its storage hook (qmp-migration.h): the
 * copies start in phase STORAGE, between PREPARE and PERFORM, and complete
 * when every mirror is READY; in FINISH, after RAM moved and before the
 * destination's `cont`, qmp_nbd_storage_finish() runs; a failure anywhere
 * after the start runs qmp_nbd_storage_abort().  When no disk was added,
 * the migration's disks (qmp_migration_set_disks) are copied, with the same
 * names on both sides.  The monitors of s must be the migration's.  The
 * migration takes ownership of s (freed when the hook is replaced or the
 * migration finalized); s may still be used for its jobs meanwhile. */
void qmp_nbd_storage_attach(QmpNbdStorage *s, QmpMigration *mig);
/* The mirror of disk i once started (borrowed), else NULL. */
QmpBlockCopyJob *qmp_nbd_storage_get_job(QmpNbdStorage *s, guint i);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(QmpNbdStorage, qmp_nbd_storage_free)

QMP_END_PUBLIC
G_END_DECLS
