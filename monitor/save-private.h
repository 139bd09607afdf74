/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * save-private.h: private to monitor/save*.c and restore.c (and the unit
 * tests and fuzz target, which link the static library): the header codec,
 * the configuration document, the options' fields.
 */
#pragma once

#include "qmp-save.h"

G_BEGIN_DECLS

/* "QMPKIT" NUL "SAVE" CR LF ^Z LF NUL: the CR LF and ^Z catch files
 * mangled by a text-mode copy. */
#define QMP_SAVE_MAGIC "QMPKIT\0SAVE\r\n\x1a\n"
#define QMP_SAVE_MAGIC_LEN 16
#define QMP_SAVE_V1_FIXED 32
#define QMP_SAVE_V2_FIXED 64
#define QMP_SAVE_ALIGNMENT 4096u
#define QMP_SAVE_CONFIG_MAX (16u * 1024u * 1024u)

/* The bytes from offset 0 to the stream (header, configuration, padding)
 * for a v2 image; *len receives their count, which is the stream offset. */
guint8 *qmp_save_header_encode_v2(guint32 flags, const char *config,
                                  gsize config_len, guint64 stream_length,
                                  gsize *len);

/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32()) continuing from crc
 * (start with 0). */
guint32 qmp_save_crc32(guint32 crc, const guint8 *data, gsize len);

/* The configuration document: description (well-formed XML or NULL),
 * QEMU's version and package, the machine type.  NULL with
 * QMP_SAVE_ERROR_BAD_CONFIG when description is not well-formed. */
char *qmp_save_config_build(const char *description,
                            const char *qemu_version,
                            const char *qemu_package, const char *machine,
                            GError **error);

/* Parse a configuration: its fields, newly allocated (description may come
 * back NULL).  name is used in messages. */
gboolean qmp_save_config_parse(const char *config, gsize len,
                               const char *name, char **qemu_version,
                               char **machine, char **description,
                               GError **error);

struct _QmpSaveOptions {
    char *description;
    gboolean live;
    QmpSaveThen then;
    QmpSaveTransport transport;
    QmpRestoreStart start;
    gboolean check_machine;
    QmpSaveProgressFunc progress;
    /* shared between copies, refcounted: user_data + destroy */
    struct QmpSaveProgressData *progress_data;
    guint interval_ms;
    guint timeout_ms;
};

/* The transport for a connected monitor given the option. */
QmpSaveTransport qmp_save_pick_transport(QmpMonitor *mon,
                                         QmpSaveTransport asked);

/* Machine type ("pc-q35-7.2") of the QEMU behind mon, from qom-get of
 * /machine's "type" ("pc-q35-7.2-machine"). */
char *qmp_save_machine_from_qom(const char *qom_type);

void qmp_save_report_progress(const QmpSaveOptions *opts, QmpSavePhase phase,
                              guint64 bytes, guint64 total);

/* Run an async workflow to its end on the monitor's context. */
typedef void (*QmpSaveAsyncStart)(QmpMonitor *mon, gconstpointer target,
                                  const QmpSaveOptions *opts,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data);
typedef gboolean (*QmpSaveAsyncFinish)(QmpMonitor *mon, GAsyncResult *res,
                                       GError **error);
gboolean qmp_save_run_sync(QmpMonitor *mon, QmpSaveAsyncStart start,
                           QmpSaveAsyncFinish finish, gconstpointer target,
                           const QmpSaveOptions *opts,
                           GCancellable *cancellable, GError **error);

G_END_DECLS
