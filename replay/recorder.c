/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* recorder.c: writing recordings, and the library switch that records a
 * monitor through its trace hook. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "qmp-recorder.h"

struct _QmpRecorder {
    FILE *f;
    char *path;
    gint64 start_us;
    guint64 seq;
    int write_errno;
};

static void put_json_string(FILE *f, const char *s)
{
    g_autoptr(GString) g = g_string_new("\"");
    qmp_json_append_escaped(g, s, strlen(s));
    g_string_append_c(g, '"');
    fputs(g->str, f);
}

QmpRecorder *qmp_recorder_new(const char *path, const char *peer, GError **error)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        int e = errno;
        g_set_error(error, QMP_ERROR, QMP_ERROR_IO, "cannot create %s: %s", path,
                    g_strerror(e));
        return NULL;
    }
    QmpRecorder *r = g_new0(QmpRecorder, 1);
    r->f = f;
    r->path = g_strdup(path);
    r->start_us = g_get_monotonic_time();
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();
    g_autofree char *iso = g_date_time_format_iso8601(now);
    fputs("{\"qmpkit-recording\": 1", f);
    if (peer) {
        fputs(", \"peer\": ", f);
        put_json_string(f, peer);
    }
    fputs(", \"started\": ", f);
    put_json_string(f, iso);
    fputs("}\n", f);
    if (fflush(f) != 0)
        r->write_errno = errno;
    return r;
}

void qmp_recorder_add(QmpRecorder *r, QmpTraceDirection dir, const char *json,
                      gsize len, guint n_fds)
{
    double t = (g_get_monotonic_time() - r->start_us) / 1e6;
    /* A message is one line of compact JSON already (QMP frames by line);
     * strip a trailing CR/LF defensively. */
    while (len > 0 && (json[len - 1] == '\n' || json[len - 1] == '\r'))
        len--;
    fprintf(r->f, "{\"dir\": \"%s\", \"seq\": %" G_GUINT64_FORMAT ", \"t\": %.6f, ",
            dir == QMP_TRACE_IN ? "in" : "out", r->seq++, t);
    if (n_fds > 0)
        fprintf(r->f, "\"fds\": %u, ", n_fds);
    fputs("\"msg\": ", r->f);
    /* Pretty-printed input (a proxied client may send several lines per
     * message) is kept on one line. */
    if (memchr(json, '\n', len)) {
        for (gsize i = 0; i < len; i++)
            fputc(json[i] == '\n' || json[i] == '\r' ? ' ' : json[i], r->f);
    } else {
        fwrite(json, 1, len, r->f);
    }
    fputs("}\n", r->f);
    if (fflush(r->f) != 0 && !r->write_errno)
        r->write_errno = errno ? errno : EIO;
}

gboolean qmp_recorder_close(QmpRecorder *r, GError **error)
{
    if (!r)
        return TRUE;
    int e = r->write_errno;
    if (fclose(r->f) != 0 && !e)
        e = errno ? errno : EIO;
    gboolean ok = TRUE;
    if (e) {
        g_set_error(error, QMP_ERROR, QMP_ERROR_IO, "writing %s: %s", r->path,
                    g_strerror(e));
        ok = FALSE;
    }
    g_free(r->path);
    g_free(r);
    return ok;
}

static void record_trace(QmpMonitor *mon, QmpTraceDirection dir, const char *line,
                         gsize len, const int *fds, guint n_fds, gpointer user_data)
{
    qmp_recorder_add(user_data, dir, line, len, n_fds);
}

static void recorder_destroy(gpointer data)
{
    /* Write errors cannot be reported from here; the file says what it
     * holds and a truncated file fails to load loudly. */
    qmp_recorder_close(data, NULL);
}

gboolean qmp_monitor_record_to_file(QmpMonitor *mon, const char *path,
                                    const char *peer, GError **error)
{
    QmpRecorder *r = qmp_recorder_new(path, peer, error);
    if (!r)
        return FALSE;
    qmp_monitor_set_trace(mon, record_trace, r, recorder_destroy);
    return TRUE;
}
