/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qmp-caps.h: what a QEMU binary can do.
 *
 *   g_autoptr(QmpCaps) caps = qmp_caps_probe_binary("qemu-system-x86_64",
 *                                                    QMP_CAPS_NONE, &error);
 *   if (qmp_caps_has(caps, "migration.postcopy-preempt")) ...
 *
 * Names (see docs/qmp-caps.md):
 *   command.NAME     every command in the binary's query-qmp-schema
 *   migration.NAME   every capability query-migrate-capabilities lists
 *   RULE             every rule of caps/probes.rules (their names may also
 *                    be command.X or migration.X, then they are answered
 *                    even when absent)
 *
 * Answers are tri-state.  A live probe knows every answer.  A probe of a
 * recording answers QMP_CAPS_UNKNOWN when the recording lacks what the rule
 * needs (e.g. the greeting, or a command the recorder never sent): nothing
 * is guessed.  A name nobody asked about is also QMP_CAPS_UNKNOWN.
 *
 * Probing a binary spawns it (-machine none -nodefaults -display none -S,
 * monitor on a socketpair), sends every query the rules need at once, lets
 * it quit and reaps it.  Its answer is cached as XML under
 * g_get_user_cache_dir()/qmpkit/caps/, keyed on the binary's path, size,
 * mtime and ctime, the toolkit version, whether /dev/kvm is usable and the
 * kernel release; a stale, corrupt or foreign file is ignored and rewritten.
 *
 * Ownership: a QmpCaps is owned by its caller (qmp_caps_free, NULL-safe,
 * or g_autoptr); `const char *` results are borrowed from it; functions
 * returning `char *` / `char **` give newly allocated memory.  No function
 * prints; errors are GErrors of QMP_ERROR (qmp-error.h) or of GLib.
 */
#pragma once

#include <glib.h>
#include "qmp-monitor.h"
#include "qmp-export.h"

G_BEGIN_DECLS
QMP_BEGIN_PUBLIC

typedef struct _QmpCaps QmpCaps;

typedef enum {
    QMP_CAPS_NONE = 0,
    QMP_CAPS_NO_CACHE = 1 << 0, /* neither read nor write the cache */
} QmpCapsFlags;

typedef enum {
    QMP_CAPS_ABSENT = 0,
    QMP_CAPS_PRESENT = 1,
    QMP_CAPS_UNKNOWN = 2,
} QmpCapsState;

/* ---- probing ----------------------------------------------------------- */

/* binary: a path or a name looked up in PATH. */
QmpCaps *qmp_caps_probe_binary(const char *binary, QmpCapsFlags flags,
                               GError **error);
/* A QEMU already running, its QMP socket at path (never cached). */
QmpCaps *qmp_caps_probe_socket(const char *path, GError **error);
/* A connected monitor after qmp_monitor_handshake(); the monitor is left
 * open.  Runs the monitor's context until the replies are in. */
QmpCaps *qmp_caps_probe_monitor(QmpMonitor *mon, GError **error);
/* A recording (ours, or libvirt's .replies), no process at all. */
QmpCaps *qmp_caps_probe_recording(const char *path, GError **error);

/* The deadline of a live probe (handshake and every query together, from
 * the start of the probe): a QEMU that has not answered by then fails the
 * probe with QMP_ERROR_TIMEOUT, naming the queries it left unanswered.
 * Process-wide, for probes started afterwards; 0 restores the default. */
#define QMP_CAPS_DEFAULT_PROBE_TIMEOUT_MS 60000
void qmp_caps_set_probe_timeout(guint timeout_ms);
guint qmp_caps_get_probe_timeout(void);

/* ---- answers ------------------------------------------------------------ */

QmpCapsState qmp_caps_get(const QmpCaps *caps, const char *name);
/* TRUE only when present. */
gboolean qmp_caps_has(const QmpCaps *caps, const char *name);
/* Every name with an answer, sorted; free with g_strfreev. */
char **qmp_caps_list(const QmpCaps *caps);
/* FALSE when the version is not known. */
gboolean qmp_caps_get_version(const QmpCaps *caps, int *major, int *minor,
                              int *micro);
const char *qmp_caps_get_package(const QmpCaps *caps); /* may be NULL */
/* What was probed: the binary's absolute path, "socket:PATH" or
 * "recording:PATH". */
const char *qmp_caps_get_source(const QmpCaps *caps);
/* TRUE when this answer came from the cache. */
gboolean qmp_caps_is_cached(const QmpCaps *caps);
/* The one-line description of a rule, or NULL for names without a rule. */
const char *qmp_caps_describe(const char *name);
/* libvirt's flag name for the same question, or NULL. */
const char *qmp_caps_libvirt_flag(const char *name);

/* ---- output and storage -------------------------------------------------- */

/* {"version": "7.2.0", "package": ..., "source": ...,
 *  "capabilities": {NAME: true|false|null (unknown), ...}} */
char *qmp_caps_to_json(const QmpCaps *caps);
/* The XML the cache holds (without a cache key unless the answer has one). */
char *qmp_caps_to_xml(const QmpCaps *caps, gsize *len);
QmpCaps *qmp_caps_from_xml(const char *data, gsize len, GError **error);
gboolean qmp_caps_save(const QmpCaps *caps, const char *path, GError **error);
QmpCaps *qmp_caps_load(const char *path, GError **error);

/* Path of the cache file for binary (absolute path), newly allocated. */
char *qmp_caps_cache_path(const char *binary);

void qmp_caps_free(QmpCaps *caps);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(QmpCaps, qmp_caps_free)

QMP_END_PUBLIC
G_END_DECLS
