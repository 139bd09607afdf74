/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz target: framing and reply/event dispatch of the protocol core, as a
 * client sees it.  Input: every byte a QMP server sends (greeting, replies,
 * events, garbage) in chunks separated by form feeds ('\f'); a chunk is
 * sent each time the client waits, and after the last the server end
 * closes.  The client, on a
 * socketpair, negotiates, subscribes to events (untyped and typed), and
 * puts several typed and untyped calls in flight.  Whatever the bytes, the
 * handshake and every call must complete (with a result or an error: never
 * hang, never crash), and the monitor must end disconnected.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qmp-commands.h"
#include "qmp-events.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_INPUT 65536

static void
on_event(QmpMonitor *mon, const char *event, const QmpJson *data, gint64 ts,
         gpointer user_data)
{
    ++*(int *) user_data;
}

static void
on_migration(QmpMonitor *mon, const QmpMigrationEvent *data, gint64 ts,
             const GError *error, gpointer user_data)
{
    if ((data == NULL) == (error == NULL))
        abort();
}

static void
on_job(QmpMonitor *mon, const QmpJobStatusChangeEvent *data, gint64 ts,
       const GError *error, gpointer user_data)
{
    if ((data == NULL) == (error == NULL))
        abort();
}

static void
status_done(GObject *src, GAsyncResult *res, gpointer user_data)
{
    GError *error = NULL;
    QmpStatusInfo *st = qmp_query_status_finish(QMP_MONITOR(src), res, &error);
    if ((st == NULL) == (error == NULL))
        abort();
    qmp_status_info_free(st);
    g_clear_error(&error);
    ++*(int *) user_data;
}

static void
migrate_done(GObject *src, GAsyncResult *res, gpointer user_data)
{
    GError *error = NULL;
    QmpMigrationInfo *info = qmp_query_migrate_finish(QMP_MONITOR(src), res, &error);
    if ((info == NULL) == (error == NULL))
        abort();
    qmp_migration_info_free(info);
    g_clear_error(&error);
    ++*(int *) user_data;
}

static void
jobs_done(GObject *src, GAsyncResult *res, gpointer user_data)
{
    GError *error = NULL;
    gsize n = 0;
    QmpBlockJobInfo **jobs = qmp_query_block_jobs_finish(QMP_MONITOR(src), res,
                                                         &n, &error);
    if (error == NULL && n > 0 && jobs == NULL)
        abort();
    for (gsize i = 0; i < n; i++)
        qmp_block_job_info_free(jobs[i]);
    g_free(jobs);
    g_clear_error(&error);
    ++*(int *) user_data;
}

static void
raw_done(GObject *src, GAsyncResult *res, gpointer user_data)
{
    GError *error = NULL;
    const QmpJson *ret = NULL;
    QmpJsonDoc *doc = qmp_monitor_execute_finish(QMP_MONITOR(src), res, &ret,
                                                 &error);
    if ((doc == NULL) == (error == NULL))
        abort();
    if (doc)
        qmp_json_doc_unref(doc);
    g_clear_error(&error);
    ++*(int *) user_data;
}

/* The server: input chunks (separated by form feeds, which JSON never
 * holds), each sent when the client waits (the loop is idle); after the
 * last one the server end closes for writing. */
typedef struct {
    int fd;
    const uint8_t *data;
    size_t size, pos;
    gboolean closed;
} Server;

static gboolean
server_speak(gpointer user_data)
{
    Server *s = user_data;
    char sink[4096];

    while (read(s->fd, sink, sizeof sink) > 0)
        ;                                   /* what the client sent */
    if (s->pos >= s->size) {
        shutdown(s->fd, SHUT_WR);
        s->closed = TRUE;
        return G_SOURCE_REMOVE;
    }
    const uint8_t *ff = memchr(s->data + s->pos, '\f', s->size - s->pos);
    size_t end = ff ? (size_t) (ff - s->data) : s->size;
    for (size_t off = s->pos; off < end;) {
        ssize_t n = write(s->fd, s->data + off, end - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            abort();                        /* the buffer holds it all */
        off += (size_t) n;
    }
    s->pos = ff ? end + 1 : s->size;
    return G_SOURCE_CONTINUE;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fds[2];
    int events = 0, done = 0;
    GError *error = NULL;

    if (size > FUZZ_MAX_INPUT)
        return 0;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
        abort();
    fcntl(fds[0], F_SETFL, O_NONBLOCK);

    GMainContext *ctx = g_main_context_new();
    g_main_context_push_thread_default(ctx);
    Server server = { fds[0], data, size, 0, FALSE };
    GSource *idle = g_idle_source_new();
    g_source_set_priority(idle, G_PRIORITY_LOW);
    g_source_set_callback(idle, server_speak, &server, NULL);
    g_source_attach(idle, ctx);

    QmpMonitor *mon = qmp_monitor_new(ctx);
    qmp_monitor_set_default_timeout(mon, 10000);
    qmp_monitor_subscribe(mon, NULL, on_event, &events, NULL);
    qmp_subscribe_migration(mon, on_migration, NULL, NULL);
    qmp_subscribe_job_status_change(mon, on_job, NULL, NULL);
    if (!qmp_monitor_connect_fd(mon, fds[1], &error))
        abort();
    if (qmp_monitor_handshake(mon, QMP_HANDSHAKE_OOB, 10000, &error)) {
        qmp_query_status_async(mon, NULL, status_done, &done);
        qmp_query_migrate_async(mon, NULL, migrate_done, &done);
        qmp_query_block_jobs_async(mon, NULL, jobs_done, &done);
        qmp_monitor_execute_async(mon, "query-version", NULL, 0, NULL, 0, NULL,
                                  raw_done, &done);
        while (done < 4)
            g_main_context_iteration(ctx, TRUE);
        if (qmp_monitor_get_n_pending(mon) != 0)
            abort();
        if (g_getenv("QMPKIT_FUZZ_VERBOSE"))
            g_printerr("handshake done, %d events\n", events);
    } else if (error == NULL) {
        abort();
    }
    g_clear_error(&error);
    qmp_monitor_close(mon);
    g_object_unref(mon);
    g_source_destroy(idle);
    g_source_unref(idle);
    while (g_main_context_iteration(ctx, FALSE))
        ;
    g_main_context_pop_thread_default(ctx);
    g_main_context_unref(ctx);
    close(fds[0]);
    return 0;
}
