/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* recorder.c: writing recordings, and the library switch that records a
 * monitor through its trace hook. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <yajl/yajl_gen.h>
#include "qmp-recorder.h"
#include "redact.h" /* libqmp's stand-in for unparsable text */

struct _QmpRecorder {
    FILE *f;
    char *path;
    yajl_gen gen;         /* writes every line */
    gint64 start_us;
    guint64 seq;
    int write_errno;
};

static void gen_string(yajl_gen g, const char *s)
{
    yajl_gen_string(g, (const unsigned char *) s, strlen(s));
}

/* Write the generator's JSON as one line, flushed. */
static void write_line(QmpRecorder *r)
{
    const unsigned char *buf;
    size_t len;
    yajl_gen_get_buf(r->gen, &buf, &len);
    if ((fwrite(buf, 1, len, r->f) != len || fputc('\n', r->f) == EOF ||
         fflush(r->f) != 0) && !r->write_errno)
        r->write_errno = errno ? errno : EIO;
    yajl_gen_clear(r->gen);
    yajl_gen_reset(r->gen, NULL);
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
    r->gen = yajl_gen_alloc(NULL);
    r->start_us = g_get_monotonic_time();
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();
    g_autofree char *iso = g_date_time_format_iso8601(now);
    yajl_gen_map_open(r->gen);
    gen_string(r->gen, "qmpkit-recording");
    yajl_gen_integer(r->gen, 1);
    if (peer) {
        gen_string(r->gen, "peer");
        gen_string(r->gen, peer);
    }
    gen_string(r->gen, "started");
    gen_string(r->gen, iso);
    yajl_gen_map_close(r->gen);
    write_line(r);
    return r;
}

void qmp_recorder_add(QmpRecorder *r, QmpTraceDirection dir, const char *json,
                      gsize len, guint n_fds)
{
    char t[G_ASCII_DTOSTR_BUF_SIZE];
    g_ascii_formatd(t, sizeof(t), "%.6f", (g_get_monotonic_time() - r->start_us) / 1e6);
    /* The message as one line of compact JSON, whatever its layout (a
     * proxied client may pretty-print); text that is not JSON is not
     * written (it may hold anything), only its length. */
    g_autoptr(QmpJsonDoc) doc = qmp_json_parse(json, len, 0, NULL);
    if (!doc) {
        gsize n;
        g_autofree char *stand_in = qmp_redactor_unparsable(dir, len, &n);
        doc = qmp_json_parse(stand_in, n, 0, NULL);
    }
    yajl_gen g = r->gen;
    yajl_gen_map_open(g);
    gen_string(g, "dir");
    gen_string(g, dir == QMP_TRACE_IN ? "in" : "out");
    gen_string(g, "seq");
    yajl_gen_integer(g, (long long) r->seq++);
    gen_string(g, "t");
    yajl_gen_number(g, t, strlen(t));
    if (n_fds > 0) {
        gen_string(g, "fds");
        yajl_gen_integer(g, n_fds);
    }
    gen_string(g, "msg");
    qmp_json_gen(qmp_json_doc_root(doc), g);
    yajl_gen_map_close(g);
    write_line(r);
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
    yajl_gen_free(r->gen);
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
