/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qmp-save.h: save a guest to a file and restore it, with a versioned header.
 *
 * A save image is our header (magic, version, flags, the configuration as
 * XML, padding) followed by QEMU's migration stream, in one file; the byte
 * layout and the compatibility rules are in docs/save-format.md.
 *
 * Saving (the source QEMU is connected and past the handshake):
 *
 *   g_autoptr(QmpSaveOptions) opts = qmp_save_options_new();
 *   qmp_save_options_set_description(opts, "<domain>...</domain>");
 *   qmp_save_options_set_then(opts, QMP_SAVE_THEN_QUIT);
 *   if (!qmp_save(mon, "/var/lib/vm/guest.save", opts, NULL, &error)) ...
 *
 * Restoring is two steps, so that a management daemon keeps control of how
 * the destination QEMU is started (its cgroup, namespaces, fds, command
 * line) and starts nothing for a file it cannot restore:
 *
 *   g_autoptr(QmpSaveImage) img = qmp_save_image_open(path, &error);
 *   // check the header (bad magic, truncation, newer version: error here,
 *   // nothing started); read the configuration to build the command line
 *   const char *machine = qmp_save_image_get_machine(img);
 *   // start QEMU with the same devices and "-incoming defer", connect a
 *   // QmpMonitor to it and qmp_monitor_handshake() it; or let
 *   // qmp_restore_spawn() do that with a given binary and argv
 *   if (!qmp_restore(mon, img, opts, NULL, &error)) ...
 *
 * How the stream reaches QEMU (QmpSaveTransport): with QMP_SAVE_TRANSPORT_FD
 * the library opens the file itself and hands QEMU a descriptor positioned
 * after the header (getfd + a "fd:" URI), which every QEMU accepts;
 * QMP_SAVE_TRANSPORT_FILE hands the descriptor over with add-fd and uses
 * "file:/dev/fdset/N,offset=OFFSET" (QEMU 8.2 and later, where "fd:" to a
 * regular file is deprecated).  QEMU never opens the image's path itself in
 * either case.  QMP_SAVE_TRANSPORT_AUTO (the default) picks FILE when the
 * connected QEMU's greeting reports 8.2 or later, else FD.
 *
 * Saves are atomic: the image is written to "PATH.partial" and renamed over
 * PATH only once the stream is complete and synced; on failure or
 * cancellation the partial file is removed, an existing PATH is untouched,
 * and a guest the save had paused runs again.
 *
 * Threads: these calls use the monitor's GMainContext, as qmp-monitor.h
 * describes; the sync variants iterate it until done.  Async callbacks run
 * in the thread-default main context of the caller of the _async function.
 *
 * Ownership: QmpSaveImage and QmpSaveOptions belong to their creator (free
 * functions accept NULL; g_autoptr works).  `const` results are borrowed
 * from the object they come from; `char *` results are new.  Options are
 * copied by the _async calls, so they may be freed right after the call.
 *
 * Errors: problems with the image and the workflow are QMP_SAVE_ERROR; a
 * message always names the file, and for header problems the field.
 * Transport faults and QEMU's command errors keep their QMP_ERROR /
 * QMP_COMMAND_ERROR.  Cancellation is G_IO_ERROR_CANCELLED.
 */
#pragma once

#include <gio/gio.h>
#include "qmp-monitor.h"
#include "qmp-export.h"

G_BEGIN_DECLS
QMP_BEGIN_PUBLIC

/* ---- errors -------------------------------------------------------------- */

#define QMP_SAVE_ERROR (qmp_save_error_quark())
GQuark qmp_save_error_quark(void);

typedef enum {
    QMP_SAVE_ERROR_FAILED,        /* anything not below (file I/O, ...) */
    QMP_SAVE_ERROR_BAD_MAGIC,     /* not a save image */
    QMP_SAVE_ERROR_TRUNCATED,     /* the file ends inside the header or the stream */
    QMP_SAVE_ERROR_BAD_FIELD,     /* a field holds an impossible value (e.g. config_length past the end of the file) */
    QMP_SAVE_ERROR_NEWER_VERSION, /* "written by a newer version": nothing was started */
    QMP_SAVE_ERROR_BAD_CHECKSUM,  /* the v2 header checksum does not match */
    QMP_SAVE_ERROR_BAD_CONFIG,    /* the configuration XML is not ours or not well-formed */
    QMP_SAVE_ERROR_MISMATCH,      /* the destination QEMU does not fit the image (machine type) */
    QMP_SAVE_ERROR_MIGRATION,     /* QEMU's migration failed; the message has its reason */
} QmpSaveErrorCode;

/* ---- the image header ---------------------------------------------------- */

/* Versions this library reads; it writes QMP_SAVE_VERSION_CURRENT. */
#define QMP_SAVE_VERSION_MIN 1
#define QMP_SAVE_VERSION_CURRENT 2

/* Header flags (docs/save-format.md). */
typedef enum {
    QMP_SAVE_FLAG_RUNNING = 1 << 0, /* the guest ran when saved: restore resumes it */
    QMP_SAVE_FLAG_LIVE = 1 << 1,    /* saved while running (live pre-copy) */
} QmpSaveFlags;

typedef enum {
    QMP_SAVE_STREAM_QEMU_MIGRATION = 1, /* QEMU's migration stream ("QEVM") */
} QmpSaveStreamFormat;

typedef enum {
    QMP_SAVE_COMPRESSION_NONE = 0,
} QmpSaveCompression;

typedef struct _QmpSaveImage QmpSaveImage;

/* Open path and read and check its header: magic, version, fields, the v2
 * checksum, the configuration XML, and that the file is long enough for the
 * header, the configuration and (v2) the stream.  The file is closed again
 * before returning. */
QmpSaveImage *qmp_save_image_open(const char *path, GError **error);

/* The same from bytes in memory: data holds at least the file's first bytes
 * (the header and configuration), file_size is the whole file's size, name
 * is used in messages.  Used by the fuzz target and tools. */
QmpSaveImage *qmp_save_image_parse(const guint8 *data, gsize len,
                                   guint64 file_size, const char *name,
                                   GError **error);

void qmp_save_image_free(QmpSaveImage *img);

const char *qmp_save_image_get_path(const QmpSaveImage *img); /* or the name */
guint qmp_save_image_get_version(const QmpSaveImage *img);
guint32 qmp_save_image_get_flags(const QmpSaveImage *img); /* QmpSaveFlags */
QmpSaveStreamFormat qmp_save_image_get_stream_format(const QmpSaveImage *img);
QmpSaveCompression qmp_save_image_get_compression(const QmpSaveImage *img);
/* Where the migration stream starts (a multiple of the alignment). */
guint64 qmp_save_image_get_stream_offset(const QmpSaveImage *img);
/* The stream's length: recorded in v2, the rest of the file for v1. */
guint64 qmp_save_image_get_stream_length(const QmpSaveImage *img);
/* The whole configuration document (XML text, NUL-terminated). */
const char *qmp_save_image_get_config(const QmpSaveImage *img);
/* From the configuration: QEMU's version when saved ("7.2.0"), its machine
 * type ("pc-q35-7.2"), and the caller's VM description as XML text (NULL
 * when the save was given none). */
const char *qmp_save_image_get_qemu_version(const QmpSaveImage *img);
const char *qmp_save_image_get_machine(const QmpSaveImage *img);
const char *qmp_save_image_get_description(const QmpSaveImage *img);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(QmpSaveImage, qmp_save_image_free)

/* ---- options -------------------------------------------------------------- */

typedef enum {
    QMP_SAVE_TRANSPORT_AUTO, /* FILE on QEMU >= 8.2, else FD */
    QMP_SAVE_TRANSPORT_FD,   /* getfd + "fd:NAME" */
    QMP_SAVE_TRANSPORT_FILE, /* add-fd + "file:/dev/fdset/N,offset=OFFSET" */
} QmpSaveTransport;

/* What happens to the source guest after a successful save. */
typedef enum {
    QMP_SAVE_THEN_STOP,     /* stays paused (QEMU's "postmigrate") */
    QMP_SAVE_THEN_QUIT,     /* QEMU is told to quit */
    QMP_SAVE_THEN_CONTINUE, /* runs on when it ran before (a snapshot) */
} QmpSaveThen;

/* How the restored guest starts. */
typedef enum {
    QMP_RESTORE_AS_SAVED, /* running when QMP_SAVE_FLAG_RUNNING, else paused */
    QMP_RESTORE_PAUSED,
    QMP_RESTORE_RUNNING,
} QmpRestoreStart;

typedef enum {
    QMP_SAVE_PHASE_SETUP,     /* commands before the stream */
    QMP_SAVE_PHASE_STREAMING, /* the stream is moving */
    QMP_SAVE_PHASE_FINISHING, /* stream done; header update, sync, resume */
    QMP_SAVE_PHASE_DONE,      /* reported once, on success */
} QmpSavePhase;

typedef struct {
    QmpSavePhase phase;
    guint64 bytes;       /* stream bytes written (save) or read (restore) */
    guint64 bytes_total; /* estimate: guest RAM (save), stream length (restore); 0 unknown */
} QmpSaveProgress;

/* Called on every phase change and, while streaming, every interval, in
 * the monitor's GMainContext.  Save: bytes from the file's size; restore:
 * from the file offset QEMU shares with the library (FD transport). */
typedef void (*QmpSaveProgressFunc)(const QmpSaveProgress *progress,
                                    gpointer user_data);

typedef struct _QmpSaveOptions QmpSaveOptions;

/* Defaults: no description, not live, QMP_SAVE_THEN_STOP, transport AUTO,
 * QMP_RESTORE_AS_SAVED, machine type checked, no progress, interval 250 ms,
 * no overall timeout. */
QmpSaveOptions *qmp_save_options_new(void);
QmpSaveOptions *qmp_save_options_copy(const QmpSaveOptions *opts);
void qmp_save_options_free(QmpSaveOptions *opts);

/* Save: the VM description stored in the configuration: a well-formed XML
 * document (e.g. a domain definition); NULL for none.  Checked by qmp_save. */
void qmp_save_options_set_description(QmpSaveOptions *opts, const char *xml);
/* Save: TRUE keeps the guest running during the save (pre-copy; the image
 * holds the state at the end); FALSE pauses it first (smaller, faster). */
void qmp_save_options_set_live(QmpSaveOptions *opts, gboolean live);
void qmp_save_options_set_then(QmpSaveOptions *opts, QmpSaveThen then);
/* Both. */
void qmp_save_options_set_transport(QmpSaveOptions *opts,
                                    QmpSaveTransport transport);
/* Restore. */
void qmp_save_options_set_start(QmpSaveOptions *opts, QmpRestoreStart start);
/* Restore: compare the destination's machine type with the image's before
 * streaming (QMP_SAVE_ERROR_MISMATCH); default TRUE. */
void qmp_save_options_set_check_machine(QmpSaveOptions *opts, gboolean check);
/* Both: progress reports (func NULL: none); destroy is called on user_data
 * when the options are freed or the function replaced.  Copies made by the
 * _async calls share user_data (destroy runs with the last one). */
void qmp_save_options_set_progress(QmpSaveOptions *opts,
                                   QmpSaveProgressFunc func,
                                   gpointer user_data, GDestroyNotify destroy);
void qmp_save_options_set_progress_interval(QmpSaveOptions *opts,
                                            guint interval_ms);
/* Both: fail with QMP_ERROR_TIMEOUT (and clean up as on any failure) when
 * the stream has not completed after timeout_ms; 0: no limit. */
void qmp_save_options_set_timeout(QmpSaveOptions *opts, guint timeout_ms);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(QmpSaveOptions, qmp_save_options_free)

/* ---- save ----------------------------------------------------------------- */

/* Save the guest behind mon (handshake done) to path.  opts may be NULL
 * (defaults).  Sets the "events" migration capability; QEMU's other
 * migration settings are used as they are. */
gboolean qmp_save(QmpMonitor *mon, const char *path,
                  const QmpSaveOptions *opts, GCancellable *cancellable,
                  GError **error);
void qmp_save_async(QmpMonitor *mon, const char *path,
                    const QmpSaveOptions *opts, GCancellable *cancellable,
                    GAsyncReadyCallback callback, gpointer user_data);
gboolean qmp_save_finish(QmpMonitor *mon, GAsyncResult *result,
                         GError **error);

/* ---- restore -------------------------------------------------------------- */

/* Feed img's stream to the QEMU behind mon, which must have been started
 * with "-incoming defer" (handshake done), then start the guest as asked.
 * On failure the destination QEMU holds no usable guest (QEMU usually exits
 * by itself); the caller closes it. */
gboolean qmp_restore(QmpMonitor *mon, const QmpSaveImage *img,
                     const QmpSaveOptions *opts, GCancellable *cancellable,
                     GError **error);
void qmp_restore_async(QmpMonitor *mon, const QmpSaveImage *img,
                       const QmpSaveOptions *opts, GCancellable *cancellable,
                       GAsyncReadyCallback callback, gpointer user_data);
gboolean qmp_restore_finish(QmpMonitor *mon, GAsyncResult *result,
                            GError **error);

/* Convenience for tools: a new monitor (on the thread-default context) that
 * spawned binary with argv (NULL-terminated, the guest's devices; may be
 * NULL) plus "-incoming defer", handshake done.  The argv is the caller's:
 * the library does not derive a command line from the image. */
QmpMonitor *qmp_restore_spawn(const char *binary, const char *const *argv,
                              GError **error);

QMP_END_PUBLIC
G_END_DECLS
