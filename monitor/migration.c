/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * migration.c: the migration object and its phases (qmp-migration.h).
 *
 * Every phase is a chain of commands sent with qmp_monitor_execute_async();
 * each reply handler decides the next step.  Decisions are taken only on
 * replies and events of the monitor they concern, never on the clock or on
 * the other monitor's events, so a recorded conversation replays to the
 * same commands (see the header).
 */
#include <string.h>
#include "migration-private.h"
#include "workflow-private.h"
#include "qmp-codecs.h"

G_DEFINE_QUARK(qmp-migration-error-quark, qmp_migration_error)

#define DEFAULT_POLL_MS 100
/* Bounds of the waits that have no natural end (in polls). */
#define MAX_CANCEL_POLLS 600
#define MAX_FINISH_POLLS 600
#define MAX_RECOVER_TRIES 50
/* After migrate resume=true the source may still report postcopy-paused
 * for a few polls before it moves to postcopy-recover: so many polls are
 * allowed before "paused" means the resume failed. */
#define MAX_RESUME_POLLS 100

typedef enum {
    OP_NONE,
    OP_RUN,     /* phases up to target */
    OP_RECOVER, /* recover, then FINISH and CONFIRM */
} OpKind;

struct _QmpMigration {
    GObject parent;
    QmpMonitor *src, *dst;
    GMainContext *ctx;
    guint src_sub_mig, src_sub_pass, dst_sub_mig;
    gboolean dst_failed; /* the destination reported its incoming migration failed */

    /* options */
    char *uri, *connect_uri;
    QmpMigrationFlags flags;
    guint64 bandwidth_bytes; /* 0: not set */
    guint64 downtime_ms;
    guint multifd_channels;
    guint pc_after_passes, pc_not_shrinking;
    guint poll_ms, stall_ms;
    QmpCaps *src_caps, *dst_caps;
    QmpHostFactsFunc facts_func;
    gpointer facts_data;
    GDestroyNotify facts_destroy;
    char **disks;
    QmpMigrationStorageHook hook;
    gpointer hook_data;
    GDestroyNotify hook_destroy;
    QmpMigrationProgressFunc progress_func;
    gpointer progress_data;
    GDestroyNotify progress_destroy;

    /* what was learnt */
    QmpMigrationCookie ck;
    char *cookie;
    gboolean have_cookie;
    gboolean preempt;
    QmpMigrationProgress progress;

    /* the running operation */
    OpKind op;
    GTask *task;
    GCancellable *cancellable;
    gulong cancel_id;
    QmpMigrationPhase phase;   /* last phase completed */
    QmpMigrationPhase running; /* phase running now */
    QmpMigrationPhase target;
    QmpMigrationPhase failed_phase;
    gboolean ended;            /* failed for good: nothing more may run */
    gboolean paused;           /* failed with POSTCOPY_PAUSED: recover() allowed */
    GError *error;             /* the failure being cleaned up after */

    gboolean migrate_sent, storage_started, in_poll_loop, perform_done;
    gboolean postcopy_requested_switch, cancel_requested, cancel_sent;
    gboolean src_paused, dst_paused;
    QmpMigrationStatus last_status;
    guint64 last_transferred, last_remaining, min_remaining;
    guint stall_polls, shrink_polls, wait_polls, recover_tries, n_polls_active;
    gboolean resuming; /* resume sent; the source not yet seen out of paused */
    guint resume_polls;
    GSource *timer;
    void (*timer_fn)(QmpMigration *m); /* what timer runs */
    char *recover_uri, *recover_connect;
};

G_DEFINE_TYPE(QmpMigration, qmp_migration, G_TYPE_OBJECT)

enum { SIGNAL_PROGRESS, N_SIGNALS };
static guint signals[N_SIGNALS];

static void start_next_phase(QmpMigration *m);
static void fail(QmpMigration *m, QmpMigrationErrorCode code, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

/* ---- small helpers --------------------------------------------------------- */

const char *qmp_migration_phase_to_string(QmpMigrationPhase phase)
{
    static const char *const names[] = {
        "None", "Begin", "Prepare", "Storage", "Perform", "Finish", "Confirm", "Recover",
    };
    if ((guint) phase < G_N_ELEMENTS(names))
        return names[phase];
    return "Unknown";
}

/* A JSON string literal for s. */
static char *json_str(const char *s)
{
    GString *g = g_string_new("\"");
    qmp_json_append_escaped(g, s, strlen(s));
    g_string_append_c(g, '"');
    return g_string_free(g, FALSE);
}

static gboolean check_uri(const char *uri, GError **error)
{
    static const char *const schemes[] = { "tcp:", "unix:", "fd:" };
    for (guint i = 0; i < G_N_ELEMENTS(schemes); i++)
        if (g_str_has_prefix(uri, schemes[i]) && uri[strlen(schemes[i])] != '\0')
            return TRUE;
    const char *colon = strchr(uri, ':');
    g_autofree char *scheme = colon ? g_strndup(uri, colon - uri + 1) : NULL;
    if (scheme && g_str_has_prefix(uri, scheme) && uri[strlen(scheme)] == '\0' &&
        (g_str_equal(scheme, "tcp:") || g_str_equal(scheme, "unix:") ||
         g_str_equal(scheme, "fd:")))
        g_set_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_URI,
                    "migration URI '%s' has no address after the scheme", uri);
    else
        g_set_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_URI,
                    "migration URI '%s': %s%s%s; use tcp:HOST:PORT, unix:PATH or fd:NAME",
                    uri, scheme ? "unknown scheme '" : "no scheme",
                    scheme ? scheme : "", scheme ? "'" : "");
    return FALSE;
}

static gboolean src_has(QmpMigration *m, const char *cap)
{
    for (char **p = m->ck.capabilities; p && *p; p++)
        if (g_str_equal(*p, cap))
            return TRUE;
    return FALSE;
}

static gboolean dst_has(QmpMigration *m, const char *cap)
{
    g_autofree char *name = g_strconcat("migration.", cap, NULL);
    return m->dst_caps && qmp_caps_has(m->dst_caps, name);
}

static QmpCaps *copy_caps(const QmpCaps *c)
{
    if (!c)
        return NULL;
    gsize len = 0;
    g_autofree char *xml = qmp_caps_to_xml(c, &len);
    return qmp_caps_from_xml(xml, len, NULL);
}

static gboolean src_connected(QmpMigration *m)
{
    return qmp_monitor_is_connected(m->src);
}

static gboolean dst_connected(QmpMigration *m)
{
    return qmp_monitor_is_connected(m->dst);
}

static gboolean in_postcopy(QmpMigration *m)
{
    return m->progress.postcopy;
}

/* ---- commands --------------------------------------------------------------- */

typedef void (*NextFunc)(QmpMigration *m, const QmpJson *ret, const GError *error);

typedef struct {
    QmpMigration *m;
    NextFunc next;
    /* cmd_ok: */
    void (*ok)(QmpMigration *m, const QmpJson *ret);
    QmpMonitor *mon;
    char *name;
} CmdCtx;

static void fail_cmd(QmpMigration *m, QmpMonitor *mon, const char *what, const GError *error);

static void cmd_done(GObject *obj, GAsyncResult *res, gpointer data)
{
    CmdCtx *c = data;
    const QmpJson *ret = NULL;
    GError *err = NULL;
    QmpJsonDoc *doc = qmp_monitor_execute_finish(QMP_MONITOR(obj), res, &ret, &err);
    if (c->next)
        c->next(c->m, ret, err);
    else if (c->ok && err)
        fail_cmd(c->m, c->mon, c->name, err);
    else if (c->ok)
        c->ok(c->m, ret);
    qmp_json_doc_unref(doc);
    g_clear_error(&err);
    g_object_unref(c->m);
    g_free(c->name);
    g_free(c);
}

/* Send name (args: JSON object text or NULL); next gets the reply. */
static void cmd(QmpMigration *m, QmpMonitor *mon, const char *name, const char *args,
                QmpExecuteFlags flags, NextFunc next)
{
    CmdCtx *c = g_new0(CmdCtx, 1);
    c->m = g_object_ref(m);
    c->next = next;
    qmp_monitor_execute_async(mon, name, args, flags, NULL, 0, NULL, cmd_done, c);
}

/* A reply that is not an error (cmd_ok: an error fails the run). */
typedef void (*OkFunc)(QmpMigration *m, const QmpJson *ret);

/* Send name like cmd(); an error reply fails the run naming the command
 * and the side (fail_cmd), a success goes to ok. */
static void cmd_ok(QmpMigration *m, QmpMonitor *mon, const char *name, const char *args,
                   QmpExecuteFlags flags, OkFunc ok)
{
    CmdCtx *c = g_new0(CmdCtx, 1);
    c->m = g_object_ref(m);
    c->ok = ok;
    c->mon = mon;
    c->name = g_strdup(name);
    qmp_monitor_execute_async(mon, name, args, flags, NULL, 0, NULL, cmd_done, c);
}

static QmpExecuteFlags oob_flags(QmpMonitor *mon)
{
    return qmp_monitor_get_oob_enabled(mon) ? QMP_EXECUTE_OOB : QMP_EXECUTE_NONE;
}

static void timer_stop(QmpMigration *m)
{
    qmp_workflow_source_drop(&m->timer);
}

static gboolean timer_fired(gpointer data)
{
    QmpMigration *m = data;
    g_source_unref(m->timer);
    m->timer = NULL;
    m->timer_fn(m);
    return G_SOURCE_REMOVE;
}

/* Run fn after one poll interval. */
static void after_interval(QmpMigration *m, void (*fn)(QmpMigration *))
{
    timer_stop(m);
    m->timer_fn = fn;
    m->timer = g_timeout_source_new(m->poll_ms);
    g_source_set_callback(m->timer, timer_fired, m, NULL);
    g_source_attach(m->timer, m->ctx);
}

/* ---- the operation's end ---------------------------------------------------- */

static void op_complete(QmpMigration *m)
{
    timer_stop(m);
    GTask *task = m->task;
    m->task = NULL;
    m->op = OP_NONE;
    if (m->cancellable) {
        g_cancellable_disconnect(m->cancellable, m->cancel_id);
        g_clear_object(&m->cancellable);
        m->cancel_id = 0;
    }
    qmp_workflow_task_return(task, g_steal_pointer(&m->error));
}

static void phase_done(QmpMigration *m)
{
    m->phase = m->running;
    if (m->cancel_requested && m->phase < QMP_MIGRATION_PHASE_PERFORM) {
        fail(m, QMP_MIGRATION_ERROR_CANCELLED, "cancelled before the migration started;"
             " the guest keeps running on the source");
        return;
    }
    if (m->phase >= m->target) {
        op_complete(m);
        return;
    }
    start_next_phase(m);
}

/* ---- cleanup after a failure -------------------------------------------------- */

static void cleanup_quit_dst(QmpMigration *m);

static void cleanup_done(QmpMigration *m, const QmpJson *ret, const GError *error)
{
    (void) ret;
    (void) error; /* a QEMU that quits may close before replying */
    op_complete(m);
}

/* A destination whose incoming migration failed exits by itself (QEMU's
 * default): it is told to quit only when it did not report that, which
 * is known from its own events in wire order, so a replay decides alike. */
static void cleanup_quit_dst(QmpMigration *m)
{
    if (dst_connected(m) && !m->dst_failed)
        cmd(m, m->dst, "quit", NULL, 0, cleanup_done);
    else
        op_complete(m);
}

static void cleanup_cont_reply(QmpMigration *m, const QmpJson *ret, const GError *error)
{
    (void) ret;
    (void) error;
    cleanup_quit_dst(m);
}

static void cleanup_status_reply(QmpMigration *m, const QmpJson *ret, const GError *error)
{
    const char *st = !error && ret ? qmp_json_get_string(qmp_json_lookup(ret, "status")) : NULL;
    /* The guest ran before; the migration stopped it: give it back. */
    if (st && m->ck.running &&
        (g_str_equal(st, "paused") || g_str_equal(st, "postmigrate") ||
         g_str_equal(st, "finish-migrate"))) {
        cmd(m, m->src, "cont", NULL, 0, cleanup_cont_reply);
        return;
    }
    cleanup_quit_dst(m);
}

static void cleanup_source_status(QmpMigration *m)
{
    if (src_connected(m))
        cmd(m, m->src, "query-status", NULL, 0, cleanup_status_reply);
    else
        cleanup_quit_dst(m);
}

static void cleanup_poll(QmpMigration *m);

static gboolean status_is_over(const char *st)
{
    return !st || g_str_equal(st, "completed") || g_str_equal(st, "failed") ||
           g_str_equal(st, "cancelled") || g_str_equal(st, "none");
}

static void cleanup_poll_reply(QmpMigration *m, const QmpJson *ret, const GError *error)
{
    const char *st = !error && ret ? qmp_json_get_string(qmp_json_lookup(ret, "status")) : NULL;
    if (error || status_is_over(st) || ++m->wait_polls >= MAX_CANCEL_POLLS) {
        cleanup_source_status(m);
        return;
    }
    after_interval(m, cleanup_poll);
}

static void cleanup_poll(QmpMigration *m)
{
    cmd(m, m->src, "query-migrate", NULL, 0, cleanup_poll_reply);
}

static void cleanup_cancel_reply(QmpMigration *m, const QmpJson *ret, const GError *error)
{
    (void) ret;
    (void) error;
    m->wait_polls = 0;
    cleanup_poll(m);
}

/* Leave the source running and the destination gone (pre-copy), or leave
 * both alone (post-copy: the source must never run again). */
static void cleanup(QmpMigration *m)
{
    timer_stop(m);
    if (m->storage_started && m->hook.abort) {
        m->storage_started = FALSE;
        m->hook.abort(m, m->hook_data);
    }
    if (in_postcopy(m)) {
        op_complete(m);
        return;
    }
    gboolean over = m->last_status == QMP_MIGRATION_STATUS_COMPLETED ||
                    m->last_status == QMP_MIGRATION_STATUS_FAILED ||
                    m->last_status == QMP_MIGRATION_STATUS_CANCELLED;
    if (m->migrate_sent && src_connected(m) && !over) {
        cmd(m, m->src, "migrate_cancel", NULL, 0, cleanup_cancel_reply);
        return;
    }
    cleanup_source_status(m);
}

static void fail(QmpMigration *m, QmpMigrationErrorCode code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    timer_stop(m);
    m->in_poll_loop = FALSE;
    m->failed_phase = m->running;
    g_clear_error(&m->error);
    if (code == QMP_MIGRATION_ERROR_POSTCOPY_PAUSED) {
        m->paused = TRUE;
        m->error = g_error_new(QMP_MIGRATION_ERROR, code,
                               "%s: %s; both sides are paused in post-copy and the"
                               " source is not resumed (its memory is stale): call"
                               " recover() with a new destination address",
                               qmp_migration_phase_to_string(m->running), msg);
    } else {
        m->ended = TRUE;
        m->paused = FALSE;
        if (in_postcopy(m) && code != QMP_MIGRATION_ERROR_POSTCOPY_FAILED)
            code = QMP_MIGRATION_ERROR_POSTCOPY_FAILED;
        m->error = g_error_new(QMP_MIGRATION_ERROR, code, "%s: %s%s",
                               qmp_migration_phase_to_string(m->running), msg,
                               in_postcopy(m)
                                   ? "; the migration failed in post-copy: the source"
                                     " is not resumed (its memory is stale)"
                                   : "");
    }
    cleanup(m);
}

/* The QEMU behind mon is gone, or a command failed. */
static void fail_cmd(QmpMigration *m, QmpMonitor *mon, const char *what, const GError *error)
{
    const char *side = mon == m->src ? "source" : "destination";
    if (!qmp_monitor_is_connected(mon))
        fail(m, QMP_MIGRATION_ERROR_PEER_LOST, "the %s QEMU is gone (%s: %s)", side, what,
             error->message);
    else
        fail(m, QMP_MIGRATION_ERROR_FAILED, "%s on the %s failed: %s", what, side,
             error->message);
}

/* ---- progress ----------------------------------------------------------------- */

static void emit_progress(QmpMigration *m)
{
    if (m->progress_func)
        m->progress_func(m, &m->progress, m->progress_data);
    g_signal_emit(m, signals[SIGNAL_PROGRESS], 0, &m->progress);
}

static void on_src_event(QmpMonitor *mon, const char *event, const QmpJson *data,
                         gint64 ts, gpointer user_data)
{
    (void) mon;
    (void) ts;
    QmpMigration *m = user_data;
    if (!m->in_poll_loop || !data)
        return;
    if (g_str_equal(event, "MIGRATION")) {
        const char *st = qmp_json_get_string(qmp_json_lookup(data, "status"));
        if (!st)
            return;
        m->progress.status = qmp_migration_status_from_string(st);
        if (m->progress.status == QMP_MIGRATION_STATUS_POSTCOPY_ACTIVE)
            m->progress.postcopy = TRUE;
    } else {
        gint64 pass = 0;
        if (!qmp_json_get_int64(qmp_json_lookup(data, "pass"), &pass))
            return;
        if (pass > 0 && (guint64) pass > m->progress.pass)
            m->progress.pass = pass;
    }
    emit_progress(m);
}

static void on_dst_event(QmpMonitor *mon, const char *event, const QmpJson *data,
                         gint64 ts, gpointer user_data)
{
    (void) mon;
    (void) event;
    (void) ts;
    QmpMigration *m = user_data;
    const char *st = data ? qmp_json_get_string(qmp_json_lookup(data, "status")) : NULL;
    if (g_strcmp0(st, "failed") == 0)
        m->dst_failed = TRUE;
}

static void update_progress(QmpMigration *m, const QmpMigrationInfo *info)
{
    QmpMigrationProgress *p = &m->progress;
    p->phase = m->running;
    p->n_polls++;
    if (info->has_status)
        p->status = info->status;
    if (p->status == QMP_MIGRATION_STATUS_POSTCOPY_ACTIVE)
        p->postcopy = TRUE;
    if (info->ram) {
        p->transferred = MAX(info->ram->transferred, 0);
        p->remaining = MAX(info->ram->remaining, 0);
        p->total = MAX(info->ram->total, 0);
        p->throughput = info->ram->mbps * 1e6 / 8;
        p->dirty_rate = MAX(info->ram->dirty_pages_rate, 0);
        if (info->ram->dirty_sync_count > 0 && (guint64) info->ram->dirty_sync_count > p->pass)
            p->pass = info->ram->dirty_sync_count;
    }
    p->expected_downtime = info->has_expected_downtime ? info->expected_downtime : -1;
    p->downtime = info->has_downtime ? info->downtime : -1;
    p->total_time = info->has_total_time ? info->total_time : -1;
}

/* ---- PERFORM's poll loop (also RECOVER's) -------------------------------------- */

static void poll_now(QmpMigration *m);

static void start_postcopy_reply(QmpMigration *m, const QmpJson *ret, const GError *error)
{
    (void) ret;
    if (error && m->in_poll_loop)
        fail_cmd(m, m->src, "migrate-start-postcopy", error);
}

static void send_start_postcopy(QmpMigration *m)
{
    m->postcopy_requested_switch = TRUE;
    cmd(m, m->src, "migrate-start-postcopy", NULL, 0, start_postcopy_reply);
}

static void stall_paused_dst(QmpMigration *m, const QmpJson *ret, const GError *error)
{
    (void) ret;
    if (!error)
        m->dst_paused = TRUE;
    g_autofree char *msg = g_strdup_printf("no progress for %u ms (link cut?); sent"
                                           " migrate-pause to both sides", m->stall_ms);
    if (!dst_connected(m))
        fail(m, QMP_MIGRATION_ERROR_POSTCOPY_FAILED, "%s, and the destination QEMU is gone", msg);
    else
        fail(m, QMP_MIGRATION_ERROR_POSTCOPY_PAUSED, "%s", msg);
}

static void stall_paused_src(QmpMigration *m, const QmpJson *ret, const GError *error)
{
    (void) ret;
    if (!error)
        m->src_paused = TRUE;
    if (dst_connected(m))
        cmd(m, m->dst, "migrate-pause", NULL, oob_flags(m->dst), stall_paused_dst);
    else
        stall_paused_dst(m, NULL, NULL);
}

static void on_poll_reply(QmpMigration *m, const QmpJson *ret, const GError *error)
{
    if (!m->in_poll_loop)
        return;
    if (error) {
        fail_cmd(m, m->src, "query-migrate", error);
        return;
    }
    g_autoptr(QmpMigrationInfo) info = NULL;
    g_autoptr(GError) derr = NULL;
    if (!qmp_migration_info_decode(ret, QMP_DECODE_DEFAULT, &info, &derr)) {
        fail(m, QMP_MIGRATION_ERROR_FAILED, "query-migrate: unexpected reply: %s",
             derr->message);
        return;
    }
    guint64 prev_transferred = m->progress.transferred;
    QmpMigrationStatus prev_status = m->last_status;
    update_progress(m, info);
    m->last_status = m->progress.status;
    emit_progress(m);
    if (!m->in_poll_loop)
        return; /* the callback cancelled, or failed us */

    switch (m->progress.status) {
    case QMP_MIGRATION_STATUS_COMPLETED:
        m->in_poll_loop = FALSE;
        m->perform_done = TRUE;
        if (m->running == QMP_MIGRATION_PHASE_RECOVER)
            m->running = QMP_MIGRATION_PHASE_PERFORM;
        phase_done(m);
        return;
    case QMP_MIGRATION_STATUS_FAILED:
        if (m->cancel_requested) {
            /* The stream can break before the source reaches "cancelled"
             * (the destination saw the cancel first): still the caller's
             * cancel, and the guest still runs on the source. */
            fail(m, QMP_MIGRATION_ERROR_CANCELLED,
                 "the migration was cancelled (the source reported: %s);"
                 " the guest keeps running on the source",
                 info->error_desc ? info->error_desc : "failed");
            return;
        }
        fail(m, QMP_MIGRATION_ERROR_FAILED, "the source reported failure: %s",
             info->error_desc ? info->error_desc : "QEMU gave no reason");
        return;
    case QMP_MIGRATION_STATUS_CANCELLED:
        fail(m, QMP_MIGRATION_ERROR_CANCELLED,
             "the migration was cancelled; the guest keeps running on the source");
        return;
    case QMP_MIGRATION_STATUS_POSTCOPY_PAUSED:
        m->progress.postcopy = TRUE;
        if (m->resuming && ++m->resume_polls < MAX_RESUME_POLLS)
            break; /* not yet left paused since the resume */
        m->src_paused = TRUE;
        if (!dst_connected(m))
            fail(m, QMP_MIGRATION_ERROR_POSTCOPY_FAILED,
                 "the source is paused in post-copy and the destination QEMU is gone;"
                 " the guest is lost");
        else
            fail(m, QMP_MIGRATION_ERROR_POSTCOPY_PAUSED,
                 "the migration link broke (source in postcopy-paused)");
        return;
    default:
        m->resuming = FALSE;
        break;
    }

    /* The post-copy policy: "stopped shrinking" is no new low of the
     * remaining RAM in so many polls (within a pass it shrinks, then the
     * next pass adds what was dirtied again). */
    if (m->progress.status == QMP_MIGRATION_STATUS_ACTIVE) {
        if (m->n_polls_active++ == 0 || m->progress.remaining < m->min_remaining) {
            m->min_remaining = m->progress.remaining;
            m->shrink_polls = 0;
        } else {
            m->shrink_polls++;
        }
    }
    if ((m->flags & QMP_MIGRATION_POSTCOPY) && !m->progress.postcopy &&
        !m->postcopy_requested_switch && m->progress.status == QMP_MIGRATION_STATUS_ACTIVE &&
        ((m->pc_after_passes && m->progress.pass >= m->pc_after_passes) ||
         (m->pc_not_shrinking && m->shrink_polls >= m->pc_not_shrinking)))
        send_start_postcopy(m);

    /* Stall detection, counted in polls. */
    if (m->stall_ms) {
        guint limit = MAX(1u, (m->stall_ms + m->poll_ms - 1) / m->poll_ms);
        if (m->progress.transferred == prev_transferred && m->progress.status == prev_status)
            m->stall_polls++;
        else
            m->stall_polls = 0;
        if (m->stall_polls >= limit) {
            if (in_postcopy(m)) {
                cmd(m, m->src, "migrate-pause", NULL, oob_flags(m->src), stall_paused_src);
                return;
            }
            fail(m, QMP_MIGRATION_ERROR_STALLED,
                 "no progress for %u ms; the migration was cancelled and the guest keeps"
                 " running on the source", m->stall_ms);
            return;
        }
    }
    after_interval(m, poll_now);
}

static void poll_now(QmpMigration *m)
{
    cmd(m, m->src, "query-migrate", NULL, 0, on_poll_reply);
}

static void poll_loop_start(QmpMigration *m)
{
    m->in_poll_loop = TRUE;
    m->stall_polls = 0;
    m->shrink_polls = 0;
    m->n_polls_active = 0;
    poll_now(m);
}

/* ---- BEGIN (source) -------------------------------------------------------------- */

static void begin_write_cookie(QmpMigration *m)
{
    g_strfreev(m->ck.disks);
    m->ck.disks = g_strdupv(m->disks);
    g_free(m->cookie);
    m->cookie = qmp_migration_cookie_write(&m->ck);
    m->have_cookie = TRUE;
    phase_done(m);
}

static gboolean ask_facts(QmpMigration *m, QmpMonitor *side, QmpHostFacts *facts,
                          GError **error)
{
    facts->tsc_hz = 0;
    facts->tsc_scaling = QMP_HOST_FACT_UNKNOWN;
    if (!m->facts_func) {
        qmp_host_facts_read_local(facts);
        return TRUE;
    }
    return m->facts_func(m, side, facts, m->facts_data, error);
}

static void begin_tsc_done(QmpMigration *m)
{
    if (!m->ck.tsc_hz && m->ck.invtsc == QMP_HOST_FACT_YES) {
        QmpHostFacts facts;
        g_autoptr(GError) err = NULL;
        if (!ask_facts(m, m->src, &facts, &err)) {
            fail(m, QMP_MIGRATION_ERROR_FAILED, "the source host's facts: %s", err->message);
            return;
        }
        m->ck.host_tsc_hz = facts.tsc_hz;
    }
    begin_write_cookie(m);
}

static void begin_invtsc_reply(QmpMigration *m, const QmpJson *ret, const GError *error)
{
    if (error && !src_connected(m)) {
        fail_cmd(m, m->src, "qom-get", error);
        return;
    }
    if (!error && ret && ret->type == QMP_JSON_BOOL)
        m->ck.invtsc = ret->v.b ? QMP_HOST_FACT_YES : QMP_HOST_FACT_NO;
    begin_tsc_done(m);
}

static void begin_tsc_reply(QmpMigration *m, const QmpJson *ret, const GError *error)
{
    if (error && !src_connected(m)) {
        fail_cmd(m, m->src, "qom-get", error);
        return;
    }
    guint64 hz = 0;
    if (!error && ret && qmp_json_get_uint64(ret, &hz))
        m->ck.tsc_hz = hz;
    const char *path = g_object_get_data(G_OBJECT(m), "qmp-migration-cpu-path");
    g_autofree char *p = json_str(path);
    g_autofree char *args = g_strdup_printf("{\"path\":%s,\"property\":\"invtsc\"}", p);
    cmd(m, m->src, "qom-get", args, 0, begin_invtsc_reply);
}

static void begin_cpus_reply(QmpMigration *m, const QmpJson *ret, const GError *error)
{
    if (error && !src_connected(m)) {
        fail_cmd(m, m->src, "query-cpus-fast", error);
        return;
    }
    const QmpJson *first = !error && ret && ret->type == QMP_JSON_ARRAY ? ret->v.first : NULL;
    const char *path = first ? qmp_json_get_string(qmp_json_lookup(first, "qom-path")) : NULL;
    const char *target = first ? qmp_json_get_string(qmp_json_lookup(first, "target")) : NULL;
    if (!path || (target && !g_str_equal(target, "x86_64") && !g_str_equal(target, "i386"))) {
        begin_tsc_done(m); /* no x86 vCPU to ask: the TSC facts stay unknown */
        return;
    }
    g_object_set_data_full(G_OBJECT(m), "qmp-migration-cpu-path", g_strdup(path), g_free);
    g_autofree char *p = json_str(path);
    g_autofree char *args = g_strdup_printf("{\"path\":%s,\"property\":\"tsc-frequency\"}", p);
    cmd(m, m->src, "qom-get", args, 0, begin_tsc_reply);
}

static void begin_status_reply(QmpMigration *m, const QmpJson *ret)
{
    const char *st = qmp_json_get_string(qmp_json_lookup(ret, "status"));
    if (g_strcmp0(st, "inmigrate") == 0) {
        fail(m, QMP_MIGRATION_ERROR_STATE,
             "the source QEMU is itself waiting for an incoming migration");
        return;
    }
    m->ck.running = g_strcmp0(st, "running") == 0;
    g_auto(GStrv) names = qmp_caps_list(m->src_caps);
    g_autoptr(GPtrArray) caps = g_ptr_array_new();
    for (char **p = names; p && *p; p++)
        if (g_str_has_prefix(*p, "migration.") && qmp_caps_has(m->src_caps, *p))
            g_ptr_array_add(caps, g_strdup(*p + strlen("migration.")));
    g_ptr_array_add(caps, NULL);
    g_strfreev(m->ck.capabilities);
    m->ck.capabilities = (char **) g_ptr_array_steal(caps, NULL);
    int major, minor, micro;
    g_free(m->ck.qemu_version);
    m->ck.qemu_version = qmp_monitor_get_version(m->src, &major, &minor, &micro, NULL)
                             ? g_strdup_printf("%d.%d.%d", major, minor, micro)
                             : NULL;
    cmd(m, m->src, "query-cpus-fast", NULL, 0, begin_cpus_reply);
}

static void begin_start(QmpMigration *m)
{
    if (!m->uri) {
        fail(m, QMP_MIGRATION_ERROR_INVALID, "no destination URI set (qmp_migration_set_uri)");
        return;
    }
    qmp_migration_cookie_clear(&m->ck);
    m->have_cookie = FALSE;
    /* Probe here, not in a reply callback of the source's monitor: the
     * probe waits for its own replies on that monitor, which are not
     * dispatched while one of its callbacks runs (it hung for the probe's
     * 60 s and failed as "cancelled"). */
    if (!m->src_caps) {
        g_autoptr(GError) err = NULL;
        m->src_caps = qmp_caps_probe_monitor(m->src, &err);
        if (!m->src_caps) {
            fail(m, QMP_MIGRATION_ERROR_FAILED, "probing the source's capabilities: %s",
                 err->message);
            return;
        }
    }
    cmd_ok(m, m->src, "query-status", NULL, 0, begin_status_reply);
}

/* ---- PREPARE (destination) ------------------------------------------------------ */

/* migrate-set-capabilities arguments for one side. */
static char *caps_args(QmpMigration *m, gboolean source)
{
    GString *g = g_string_new("{\"capabilities\":[");
    const char *on[8];
    guint n = 0;
    on[n++] = "events";
    on[n++] = "return-path";
    if (m->flags & QMP_MIGRATION_POSTCOPY)
        on[n++] = "postcopy-ram";
    if (m->preempt)
        on[n++] = "postcopy-preempt";
    if (m->flags & QMP_MIGRATION_MULTIFD)
        on[n++] = "multifd";
    if (m->flags & QMP_MIGRATION_COMPRESS)
        on[n++] = "xbzrle";
    if (source && (m->flags & QMP_MIGRATION_AUTO_CONVERGE))
        on[n++] = "auto-converge";
    for (guint i = 0; i < n; i++)
        g_string_append_printf(g, "%s{\"capability\":\"%s\",\"state\":true}", i ? "," : "",
                               on[i]);
    g_string_append(g, "]}");
    return g_string_free(g, FALSE);
}

static void prepare_incoming_reply(QmpMigration *m, const QmpJson *ret)
{
    (void) ret;
    phase_done(m);
}

static void prepare_incoming(QmpMigration *m)
{
    g_autofree char *u = json_str(m->uri);
    g_autofree char *args = g_strdup_printf("{\"uri\":%s}", u);
    cmd_ok(m, m->dst, "migrate-incoming", args, 0, prepare_incoming_reply);
}

static void prepare_params_reply(QmpMigration *m, const QmpJson *ret)
{
    (void) ret;
    prepare_incoming(m);
}

static void prepare_caps_reply(QmpMigration *m, const QmpJson *ret)
{
    (void) ret;
    if ((m->flags & QMP_MIGRATION_MULTIFD) && m->multifd_channels) {
        g_autofree char *args = g_strdup_printf("{\"multifd-channels\":%u}",
                                                m->multifd_channels);
        cmd_ok(m, m->dst, "migrate-set-parameters", args, 0, prepare_params_reply);
        return;
    }
    prepare_incoming(m);
}

static void prepare_status_reply(QmpMigration *m, const QmpJson *ret)
{
    const char *st = qmp_json_get_string(qmp_json_lookup(ret, "status"));
    if (g_strcmp0(st, "inmigrate") != 0) {
        fail(m, QMP_MIGRATION_ERROR_STATE,
             "the destination QEMU is '%s', not waiting for an incoming migration"
             " (start it with -incoming defer)", st ? st : "?");
        return;
    }
    /* The TSC pre-check, before anything reaches the destination. */
    QmpHostFacts facts;
    g_autoptr(GError) err = NULL;
    if (!ask_facts(m, m->dst, &facts, &err)) {
        fail(m, QMP_MIGRATION_ERROR_FAILED, "the destination host's facts: %s", err->message);
        return;
    }
    g_autofree char *why = qmp_migration_tsc_check(&m->ck, &facts);
    if (why) {
        fail(m, QMP_MIGRATION_ERROR_TSC, "%s", why);
        return;
    }
    g_autofree char *args = caps_args(m, FALSE);
    cmd_ok(m, m->dst, "migrate-set-capabilities", args, 0, prepare_caps_reply);
}

static gboolean need_both(QmpMigration *m, const char *cap, const char *why)
{
    gboolean s = src_has(m, cap), d = dst_has(m, cap);
    if (s && d)
        return TRUE;
    fail(m, QMP_MIGRATION_ERROR_UNSUPPORTED,
         "%s needs the migration capability '%s' on both sides; the %s lacks it", why, cap,
         !s && !d ? "source and the destination" : !s ? "source" : "destination");
    return FALSE;
}

static void prepare_start(QmpMigration *m)
{
    if (!m->have_cookie) {
        fail(m, QMP_MIGRATION_ERROR_INVALID, "no cookie: run Begin first or set one");
        return;
    }
    if (!m->uri) {
        fail(m, QMP_MIGRATION_ERROR_INVALID, "no destination URI set (qmp_migration_set_uri)");
        return;
    }
    if (!m->dst_caps) {
        g_autoptr(GError) err = NULL;
        m->dst_caps = qmp_caps_probe_monitor(m->dst, &err);
        if (!m->dst_caps) {
            fail_cmd(m, m->dst, "probing the capabilities", err);
            return;
        }
    }
    if (!need_both(m, "events", "following the migration") ||
        !need_both(m, "return-path", "reporting a failed destination"))
        return;
    if ((m->flags & QMP_MIGRATION_POSTCOPY) && !need_both(m, "postcopy-ram", "post-copy"))
        return;
    if ((m->flags & QMP_MIGRATION_MULTIFD) && !need_both(m, "multifd", "multifd"))
        return;
    if ((m->flags & QMP_MIGRATION_COMPRESS) && !need_both(m, "xbzrle", "compression"))
        return;
    /* preempt on both sides or on neither. */
    m->preempt = (m->flags & QMP_MIGRATION_POSTCOPY) && !(m->flags & QMP_MIGRATION_NO_PREEMPT) &&
                 src_has(m, "postcopy-preempt") && dst_has(m, "postcopy-preempt");
    const char *curi = m->connect_uri ? m->connect_uri : m->uri;
    if (m->preempt && (g_str_has_prefix(m->uri, "fd:") || g_str_has_prefix(curi, "fd:"))) {
        fail(m, QMP_MIGRATION_ERROR_URI,
             "an fd: URI cannot carry post-copy with postcopy-preempt (both sides have it,"
             " and QEMU must open the preempt channel itself): use a tcp: or unix: URI, or"
             " QMP_MIGRATION_NO_PREEMPT");
        return;
    }
    cmd_ok(m, m->dst, "query-status", NULL, 0, prepare_status_reply);
}

/* ---- STORAGE (the hook) ------------------------------------------------------------ */

static void storage_started(GObject *obj, GAsyncResult *res, gpointer data)
{
    (void) obj;
    QmpMigration *m = data;
    g_autoptr(GError) err = NULL;
    if (!m->hook.start_finish(m, res, m->hook_data, &err)) {
        fail(m, QMP_MIGRATION_ERROR_FAILED, "copying the disks: %s", err->message);
    } else {
        phase_done(m);
    }
    g_object_unref(m);
}

static void storage_start(QmpMigration *m)
{
    if (!m->hook.start_async) {
        phase_done(m);
        return;
    }
    m->storage_started = TRUE;
    m->hook.start_async(m, m->hook_data, m->cancellable, storage_started, g_object_ref(m));
}

/* ---- PERFORM (source) ---------------------------------------------------------------- */

static void perform_migrate_reply(QmpMigration *m, const QmpJson *ret)
{
    (void) ret;
    poll_loop_start(m);
}

static void perform_migrate(QmpMigration *m)
{
    if (m->cancel_requested) {
        fail(m, QMP_MIGRATION_ERROR_CANCELLED, "cancelled before the migration started;"
             " the guest keeps running on the source");
        return;
    }
    g_autofree char *u = json_str(m->connect_uri ? m->connect_uri : m->uri);
    g_autofree char *args = g_strdup_printf("{\"uri\":%s}", u);
    m->migrate_sent = TRUE;
    cmd_ok(m, m->src, "migrate", args, 0, perform_migrate_reply);
}

static void perform_params_reply(QmpMigration *m, const QmpJson *ret)
{
    (void) ret;
    perform_migrate(m);
}

static void perform_caps_reply(QmpMigration *m, const QmpJson *ret)
{
    (void) ret;
    GString *g = g_string_new("{");
    if (m->bandwidth_bytes)
        g_string_append_printf(g, "\"max-bandwidth\":%" G_GUINT64_FORMAT ",", m->bandwidth_bytes);
    if (m->downtime_ms)
        g_string_append_printf(g, "\"downtime-limit\":%" G_GUINT64_FORMAT ",", m->downtime_ms);
    if ((m->flags & QMP_MIGRATION_MULTIFD) && m->multifd_channels)
        g_string_append_printf(g, "\"multifd-channels\":%u,", m->multifd_channels);
    if (g->len == 1) {
        g_string_free(g, TRUE);
        perform_migrate(m);
        return;
    }
    g_string_truncate(g, g->len - 1);
    g_string_append_c(g, '}');
    g_autofree char *args = g_string_free(g, FALSE);
    cmd_ok(m, m->src, "migrate-set-parameters", args, 0, perform_params_reply);
}

static void perform_start(QmpMigration *m)
{
    memset(&m->progress, 0, sizeof(m->progress));
    m->progress.status = QMP_MIGRATION_STATUS_NONE;
    m->progress.expected_downtime = m->progress.downtime = m->progress.total_time = -1;
    m->last_status = QMP_MIGRATION_STATUS_NONE;
    g_autofree char *args = caps_args(m, TRUE);
    cmd_ok(m, m->src, "migrate-set-capabilities", args, 0, perform_caps_reply);
}

/* ---- FINISH (destination) ---------------------------------------------------------- */

static void finish_poll(QmpMigration *m);

static void finish_cont_reply(QmpMigration *m, const QmpJson *ret)
{
    (void) ret;
    phase_done(m);
}

static void finish_switched(GObject *obj, GAsyncResult *res, gpointer data)
{
    (void) obj;
    QmpMigration *m = data;
    g_autoptr(GError) err = NULL;
    gboolean resume = GPOINTER_TO_INT(g_object_get_data(G_OBJECT(m), "qmp-migration-resume"));
    m->storage_started = FALSE;
    if (!m->hook.switchover_finish(m, res, m->hook_data, &err))
        fail(m, QMP_MIGRATION_ERROR_FAILED, "ending the disk copies: %s", err->message);
    else if (resume)
        cmd_ok(m, m->dst, "cont", NULL, 0, finish_cont_reply);
    else
        phase_done(m);
    g_object_unref(m);
}

static void finish_status_reply(QmpMigration *m, const QmpJson *ret)
{
    const char *st = qmp_json_get_string(qmp_json_lookup(ret, "status"));
    gboolean running = g_strcmp0(st, "running") == 0;
    gboolean paused = g_strcmp0(st, "paused") == 0 || g_strcmp0(st, "prelaunch") == 0;
    if (!running && !paused) {
        if ((g_strcmp0(st, "inmigrate") == 0 || g_strcmp0(st, "finish-migrate") == 0) &&
            ++m->wait_polls < MAX_FINISH_POLLS) {
            after_interval(m, finish_poll);
            return;
        }
        fail(m, QMP_MIGRATION_ERROR_STATE, "the destination QEMU is '%s' after the migration",
             st ? st : "?");
        return;
    }
    g_object_set_data(G_OBJECT(m), "qmp-migration-resume", GINT_TO_POINTER(paused));
    if (m->storage_started && m->hook.switchover_async) {
        m->hook.switchover_async(m, m->hook_data, m->cancellable, finish_switched,
                                 g_object_ref(m));
        return;
    }
    m->storage_started = FALSE;
    if (paused)
        cmd_ok(m, m->dst, "cont", NULL, 0, finish_cont_reply);
    else
        phase_done(m);
}

static void finish_poll(QmpMigration *m)
{
    cmd_ok(m, m->dst, "query-status", NULL, 0, finish_status_reply);
}

static void finish_start(QmpMigration *m)
{
    if (!m->perform_done) {
        fail(m, QMP_MIGRATION_ERROR_INVALID, "the source has not completed (run Perform first)");
        return;
    }
    m->wait_polls = 0;
    finish_poll(m);
}

/* ---- CONFIRM (source) ---------------------------------------------------------------- */

static void confirm_quit_reply(QmpMigration *m, const QmpJson *ret, const GError *error)
{
    (void) ret;
    (void) error; /* QEMU may close before the reply: it is gone either way */
    phase_done(m);
}

static void confirm_start(QmpMigration *m)
{
    if ((m->flags & QMP_MIGRATION_KEEP_SOURCE) || !src_connected(m)) {
        phase_done(m);
        return;
    }
    cmd(m, m->src, "quit", NULL, 0, confirm_quit_reply);
}

static void start_next_phase(QmpMigration *m)
{
    m->running = m->phase + 1;
    m->progress.phase = m->running;
    switch (m->running) {
    case QMP_MIGRATION_PHASE_BEGIN:
        begin_start(m);
        break;
    case QMP_MIGRATION_PHASE_PREPARE:
        prepare_start(m);
        break;
    case QMP_MIGRATION_PHASE_STORAGE:
        storage_start(m);
        break;
    case QMP_MIGRATION_PHASE_PERFORM:
        perform_start(m);
        break;
    case QMP_MIGRATION_PHASE_FINISH:
        finish_start(m);
        break;
    case QMP_MIGRATION_PHASE_CONFIRM:
        confirm_start(m);
        break;
    default:
        op_complete(m);
        break;
    }
}

/* ---- RECOVER ---------------------------------------------------------------------- */

static void recover_recover(QmpMigration *m);

static void recover_resume_reply(QmpMigration *m, const QmpJson *ret, const GError *error)
{
    (void) ret;
    if (error) {
        if (!src_connected(m))
            fail(m, QMP_MIGRATION_ERROR_POSTCOPY_FAILED,
                 "the source QEMU is gone (migrate resume: %s); the guest is lost",
                 error->message);
        else
            fail(m, QMP_MIGRATION_ERROR_POSTCOPY_PAUSED, "migrate resume on the source: %s",
                 error->message);
        return;
    }
    m->src_paused = m->dst_paused = FALSE;
    m->resuming = TRUE;
    m->resume_polls = 0;
    poll_loop_start(m);
}

static void recover_recover_reply(QmpMigration *m, const QmpJson *ret, const GError *error)
{
    (void) ret;
    if (error) {
        if (!dst_connected(m)) {
            fail(m, QMP_MIGRATION_ERROR_POSTCOPY_FAILED,
                 "the destination QEMU is gone (migrate-recover: %s); the guest is lost",
                 error->message);
            return;
        }
        /* The destination may not have noticed the break yet: ask again. */
        if (++m->recover_tries < MAX_RECOVER_TRIES) {
            after_interval(m, recover_recover);
            return;
        }
        fail(m, QMP_MIGRATION_ERROR_POSTCOPY_PAUSED, "migrate-recover on the destination: %s",
             error->message);
        return;
    }
    g_autofree char *u = json_str(m->recover_connect ? m->recover_connect : m->recover_uri);
    g_autofree char *args = g_strdup_printf("{\"uri\":%s,\"resume\":true}", u);
    cmd(m, m->src, "migrate", args, 0, recover_resume_reply);
}

static void recover_recover(QmpMigration *m)
{
    g_autofree char *u = json_str(m->recover_uri);
    g_autofree char *args = g_strdup_printf("{\"uri\":%s}", u);
    cmd(m, m->dst, "migrate-recover", args, oob_flags(m->dst), recover_recover_reply);
}

static void recover_dst_paused(QmpMigration *m, const QmpJson *ret, const GError *error)
{
    (void) ret;
    (void) error; /* an error here means: it was paused already */
    m->recover_tries = 0;
    recover_recover(m);
}

static void recover_src_paused(QmpMigration *m, const QmpJson *ret, const GError *error)
{
    (void) ret;
    (void) error;
    if (!m->dst_paused && dst_connected(m)) {
        cmd(m, m->dst, "migrate-pause", NULL, oob_flags(m->dst), recover_dst_paused);
        return;
    }
    recover_dst_paused(m, NULL, NULL);
}

static void recover_start(QmpMigration *m)
{
    m->running = QMP_MIGRATION_PHASE_RECOVER;
    m->progress.phase = m->running;
    if (!m->src_paused && src_connected(m)) {
        cmd(m, m->src, "migrate-pause", NULL, oob_flags(m->src), recover_src_paused);
        return;
    }
    recover_src_paused(m, NULL, NULL);
}

/* ---- GObject ------------------------------------------------------------------------ */

static void qmp_migration_init(QmpMigration *m)
{
    m->poll_ms = DEFAULT_POLL_MS;
    m->ck.invtsc = QMP_HOST_FACT_UNKNOWN;
    m->disks = g_new0(char *, 1);
}

static void qmp_migration_finalize(GObject *obj)
{
    QmpMigration *m = QMP_MIGRATION(obj);
    timer_stop(m);
    if (m->src_sub_mig)
        qmp_monitor_unsubscribe(m->src, m->src_sub_mig);
    if (m->src_sub_pass)
        qmp_monitor_unsubscribe(m->src, m->src_sub_pass);
    if (m->dst_sub_mig)
        qmp_monitor_unsubscribe(m->dst, m->dst_sub_mig);
    g_clear_object(&m->src);
    g_clear_object(&m->dst);
    g_main_context_unref(m->ctx);
    g_free(m->uri);
    g_free(m->connect_uri);
    qmp_caps_free(m->src_caps);
    qmp_caps_free(m->dst_caps);
    if (m->facts_destroy)
        m->facts_destroy(m->facts_data);
    if (m->hook_destroy)
        m->hook_destroy(m->hook_data);
    if (m->progress_destroy)
        m->progress_destroy(m->progress_data);
    g_strfreev(m->disks);
    qmp_migration_cookie_clear(&m->ck);
    g_free(m->cookie);
    g_clear_error(&m->error);
    g_free(m->recover_uri);
    g_free(m->recover_connect);
    G_OBJECT_CLASS(qmp_migration_parent_class)->finalize(obj);
}

static void qmp_migration_class_init(QmpMigrationClass *klass)
{
    G_OBJECT_CLASS(klass)->finalize = qmp_migration_finalize;
    signals[SIGNAL_PROGRESS] = g_signal_new("progress", G_TYPE_FROM_CLASS(klass),
                                            G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                            G_TYPE_NONE, 1, G_TYPE_POINTER);
}

QmpMigration *qmp_migration_new(QmpMonitor *src, QmpMonitor *dst)
{
    g_return_val_if_fail(QMP_IS_MONITOR(src) && QMP_IS_MONITOR(dst), NULL);
    QmpMigration *m = g_object_new(QMP_TYPE_MIGRATION, NULL);
    m->src = g_object_ref(src);
    m->dst = g_object_ref(dst);
    m->ctx = g_main_context_ref(qmp_monitor_get_context(src));
    /* The subscriptions hold no reference: they end at finalization. */
    m->src_sub_mig = qmp_monitor_subscribe(src, "MIGRATION", on_src_event, m, NULL);
    m->src_sub_pass = qmp_monitor_subscribe(src, "MIGRATION_PASS", on_src_event, m, NULL);
    m->dst_sub_mig = qmp_monitor_subscribe(dst, "MIGRATION", on_dst_event, m, NULL);
    return m;
}

QmpMonitor *qmp_migration_get_source(QmpMigration *mig)
{
    return mig->src;
}

QmpMonitor *qmp_migration_get_destination(QmpMigration *mig)
{
    return mig->dst;
}

/* ---- options ---------------------------------------------------------------------- */

gboolean qmp_migration_set_uri(QmpMigration *mig, const char *uri, GError **error)
{
    if (!uri || !check_uri(uri, error)) {
        if (!uri)
            g_set_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_URI,
                        "no migration URI given");
        return FALSE;
    }
    g_free(mig->uri);
    mig->uri = g_strdup(uri);
    return TRUE;
}

const char *qmp_migration_get_uri(QmpMigration *mig)
{
    return mig->uri;
}

gboolean qmp_migration_set_connect_uri(QmpMigration *mig, const char *uri, GError **error)
{
    if (uri && !check_uri(uri, error))
        return FALSE;
    g_free(mig->connect_uri);
    mig->connect_uri = g_strdup(uri);
    return TRUE;
}

void qmp_migration_set_flags(QmpMigration *mig, QmpMigrationFlags flags)
{
    mig->flags = flags;
}

QmpMigrationFlags qmp_migration_get_flags(QmpMigration *mig)
{
    return mig->flags;
}

gboolean qmp_migration_set_bandwidth(QmpMigration *mig, gint64 mib_per_s, GError **error)
{
    if (mib_per_s < 0) {
        g_set_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_INVALID,
                    "bandwidth %" G_GINT64_FORMAT " MiB/s is negative", mib_per_s);
        return FALSE;
    }
    if (mib_per_s > G_MAXINT64 / (1024 * 1024)) {
        g_set_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_INVALID,
                    "bandwidth %" G_GINT64_FORMAT " MiB/s is too large: in bytes/s it"
                    " overflows 63 bits (at most %" G_GINT64_FORMAT " MiB/s)",
                    mib_per_s, (gint64) (G_MAXINT64 / (1024 * 1024)));
        return FALSE;
    }
    mig->bandwidth_bytes = (guint64) mib_per_s * 1024 * 1024;
    return TRUE;
}

gboolean qmp_migration_set_downtime_limit(QmpMigration *mig, gint64 ms, GError **error)
{
    if (ms < 0 || ms > 2000000) {
        g_set_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_INVALID,
                    "downtime limit %" G_GINT64_FORMAT " ms is out of range (1..2000000,"
                    " or 0 for QEMU's default)", ms);
        return FALSE;
    }
    mig->downtime_ms = ms;
    return TRUE;
}

gboolean qmp_migration_set_multifd_channels(QmpMigration *mig, gint channels, GError **error)
{
    if (channels < 0 || channels > 255) {
        g_set_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_INVALID,
                    "%d multifd channels is out of range (1..255, or 0 for QEMU's default)",
                    channels);
        return FALSE;
    }
    mig->multifd_channels = channels;
    return TRUE;
}

void qmp_migration_set_postcopy_policy(QmpMigration *mig, guint after_passes,
                                       guint not_shrinking_polls)
{
    mig->pc_after_passes = after_passes;
    mig->pc_not_shrinking = not_shrinking_polls;
}

void qmp_migration_set_poll_interval(QmpMigration *mig, guint ms)
{
    mig->poll_ms = MAX(ms, 1u);
}

void qmp_migration_set_stall_timeout(QmpMigration *mig, guint ms)
{
    mig->stall_ms = ms;
}

void qmp_migration_set_caps(QmpMigration *mig, const QmpCaps *src_caps, const QmpCaps *dst_caps)
{
    qmp_caps_free(mig->src_caps);
    qmp_caps_free(mig->dst_caps);
    mig->src_caps = copy_caps(src_caps);
    mig->dst_caps = copy_caps(dst_caps);
}

gboolean qmp_migration_get_preempt(QmpMigration *mig)
{
    return mig->preempt;
}

void qmp_migration_set_host_facts_func(QmpMigration *mig, QmpHostFactsFunc func,
                                       gpointer user_data, GDestroyNotify destroy)
{
    if (mig->facts_destroy)
        mig->facts_destroy(mig->facts_data);
    mig->facts_func = func;
    mig->facts_data = user_data;
    mig->facts_destroy = destroy;
}

void qmp_migration_set_disks(QmpMigration *mig, const char *const *disks)
{
    g_strfreev(mig->disks);
    mig->disks = disks ? g_strdupv((char **) disks) : g_new0(char *, 1);
}

const char *const *qmp_migration_get_disks(QmpMigration *mig)
{
    return (const char *const *) mig->disks;
}

void qmp_migration_set_storage_hook(QmpMigration *mig, const QmpMigrationStorageHook *hook,
                                    gpointer user_data, GDestroyNotify destroy)
{
    if (mig->hook_destroy)
        mig->hook_destroy(mig->hook_data);
    memset(&mig->hook, 0, sizeof(mig->hook));
    if (hook)
        mig->hook = *hook;
    mig->hook_data = user_data;
    mig->hook_destroy = destroy;
}

const QmpMigrationProgress *qmp_migration_get_progress(QmpMigration *mig)
{
    return &mig->progress;
}

void qmp_migration_set_progress_func(QmpMigration *mig, QmpMigrationProgressFunc func,
                                     gpointer user_data, GDestroyNotify destroy)
{
    if (mig->progress_destroy)
        mig->progress_destroy(mig->progress_data);
    mig->progress_func = func;
    mig->progress_data = user_data;
    mig->progress_destroy = destroy;
}

QmpMigrationPhase qmp_migration_get_phase(QmpMigration *mig)
{
    return mig->op != OP_NONE ? mig->running : mig->phase;
}

QmpMigrationPhase qmp_migration_get_failed_phase(QmpMigration *mig)
{
    return mig->failed_phase;
}

const char *qmp_migration_get_cookie(QmpMigration *mig)
{
    return mig->cookie;
}

gboolean qmp_migration_set_cookie(QmpMigration *mig, const char *xml, GError **error)
{
    QmpMigrationCookie c = { 0 };
    if (!qmp_migration_cookie_read(xml, &c, error))
        return FALSE;
    qmp_migration_cookie_clear(&mig->ck);
    mig->ck = c;
    g_free(mig->cookie);
    mig->cookie = g_strdup(xml);
    mig->have_cookie = TRUE;
    if (mig->phase < QMP_MIGRATION_PHASE_BEGIN)
        mig->phase = QMP_MIGRATION_PHASE_BEGIN;
    return TRUE;
}

/* ---- cancel, post-copy switch -------------------------------------------------------- */

static void cancel_reply(QmpMigration *m, const QmpJson *ret, const GError *error)
{
    (void) m;
    (void) ret;
    (void) error; /* the poll loop sees the outcome */
}

gboolean qmp_migration_cancel(QmpMigration *mig, GError **error)
{
    if (mig->op == OP_NONE || mig->ended) {
        g_set_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_STATE,
                    "no migration is running");
        return FALSE;
    }
    if (in_postcopy(mig)) {
        g_set_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_STATE,
                    "the migration is in post-copy: cancelling now would lose the guest");
        return FALSE;
    }
    if (mig->perform_done) {
        g_set_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_STATE,
                    "the migration already completed");
        return FALSE;
    }
    mig->cancel_requested = TRUE;
    if (mig->in_poll_loop && !mig->cancel_sent) {
        mig->cancel_sent = TRUE;
        cmd(mig, mig->src, "migrate_cancel", NULL, 0, cancel_reply);
    }
    return TRUE;
}

gboolean qmp_migration_start_postcopy(QmpMigration *mig, GError **error)
{
    const char *why = NULL;
    if (!(mig->flags & QMP_MIGRATION_POSTCOPY))
        why = "post-copy was not requested (QMP_MIGRATION_POSTCOPY) before the migration started";
    else if (mig->perform_done || mig->progress.status == QMP_MIGRATION_STATUS_COMPLETED ||
             mig->ended)
        why = "the migration already finished";
    else if (mig->progress.postcopy || mig->postcopy_requested_switch)
        why = "the migration already switched to post-copy";
    else if (!mig->in_poll_loop || mig->progress.status != QMP_MIGRATION_STATUS_ACTIVE)
        why = "the migration is not active yet";
    if (why) {
        g_set_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_STATE,
                    "cannot switch to post-copy: %s", why);
        return FALSE;
    }
    send_start_postcopy(mig);
    return TRUE;
}

/* ---- running ---------------------------------------------------------------------- */

static void on_cancelled(GCancellable *c, gpointer data)
{
    (void) c;
    QmpMigration *m = data;
    qmp_migration_cancel(m, NULL);
}

static gboolean op_begin(QmpMigration *m, OpKind kind, GCancellable *cancellable,
                         GAsyncReadyCallback callback, gpointer user_data, gpointer tag)
{
    GTask *task = g_task_new(m, cancellable, callback, user_data);
    g_task_set_source_tag(task, tag);
    g_task_set_check_cancellable(task, FALSE);
    if (m->op != OP_NONE) {
        g_task_return_new_error(task, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_INVALID,
                                "the migration is already running %s",
                                qmp_migration_phase_to_string(m->running));
        g_object_unref(task);
        return FALSE;
    }
    m->task = task;
    m->op = kind;
    if (cancellable) {
        m->cancellable = g_object_ref(cancellable);
        /* Connected after the task is set up: a cancelled one acts at once. */
        m->cancel_id = g_cancellable_connect(cancellable, G_CALLBACK(on_cancelled), m, NULL);
    }
    return TRUE;
}

static void op_refuse(QmpMigration *m, QmpMigrationErrorCode code, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);
static void op_refuse(QmpMigration *m, QmpMigrationErrorCode code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_clear_error(&m->error);
    m->error = g_error_new_literal(QMP_MIGRATION_ERROR, code, msg);
    op_complete(m);
}

void qmp_migration_run_phase_async(QmpMigration *mig, QmpMigrationPhase phase,
                                   GCancellable *cancellable, GAsyncReadyCallback callback,
                                   gpointer user_data)
{
    if (!op_begin(mig, OP_RUN, cancellable, callback, user_data,
                  qmp_migration_run_phase_async))
        return;
    if (mig->ended || mig->paused) {
        op_refuse(mig, QMP_MIGRATION_ERROR_INVALID,
                  "the migration failed in %s; %s",
                  qmp_migration_phase_to_string(mig->failed_phase),
                  mig->paused ? "only recover() can go on" : "nothing more can run");
        return;
    }
    QmpMigrationPhase next = mig->phase + 1;
    if (phase == QMP_MIGRATION_PHASE_PERFORM && next == QMP_MIGRATION_PHASE_STORAGE &&
        !mig->hook.start_async)
        mig->phase = next++; /* nothing to do in STORAGE */
    if (phase < QMP_MIGRATION_PHASE_BEGIN || phase > QMP_MIGRATION_PHASE_CONFIRM ||
        phase != next) {
        op_refuse(mig, QMP_MIGRATION_ERROR_INVALID, "cannot run %s now: the next phase is %s",
                  qmp_migration_phase_to_string(phase),
                  next <= QMP_MIGRATION_PHASE_CONFIRM ? qmp_migration_phase_to_string(next)
                                                      : "none (the migration is done)");
        return;
    }
    mig->target = phase;
    start_next_phase(mig);
}

gboolean qmp_migration_run_phase_finish(QmpMigration *mig, GAsyncResult *result,
                                        GError **error)
{
    return qmp_workflow_task_finish(mig, result, error);
}

void qmp_migration_run_async(QmpMigration *mig, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data)
{
    if (!op_begin(mig, OP_RUN, cancellable, callback, user_data, qmp_migration_run_async))
        return;
    if (mig->ended || mig->paused) {
        op_refuse(mig, QMP_MIGRATION_ERROR_INVALID, "the migration failed in %s; %s",
                  qmp_migration_phase_to_string(mig->failed_phase),
                  mig->paused ? "only recover() can go on" : "nothing more can run");
        return;
    }
    if (mig->phase >= QMP_MIGRATION_PHASE_CONFIRM) {
        op_refuse(mig, QMP_MIGRATION_ERROR_INVALID, "the migration is already done");
        return;
    }
    mig->target = QMP_MIGRATION_PHASE_CONFIRM;
    start_next_phase(mig);
}

gboolean qmp_migration_run_finish(QmpMigration *mig, GAsyncResult *result, GError **error)
{
    return qmp_workflow_task_finish(mig, result, error);
}

void qmp_migration_recover_async(QmpMigration *mig, const char *new_uri,
                                 const char *connect_uri, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data)
{
    if (!op_begin(mig, OP_RECOVER, cancellable, callback, user_data,
                  qmp_migration_recover_async))
        return;
    g_autoptr(GError) err = NULL;
    if (!mig->paused) {
        op_refuse(mig, QMP_MIGRATION_ERROR_STATE,
                  "nothing to recover: the migration is not paused in post-copy");
        return;
    }
    if (!new_uri || !check_uri(new_uri, &err) || (connect_uri && !check_uri(connect_uri, &err))) {
        op_refuse(mig, QMP_MIGRATION_ERROR_URI, "%s",
                  err ? err->message : "recover() needs a new destination URI");
        return;
    }
    if (g_str_has_prefix(new_uri, "fd:") && mig->preempt) {
        op_refuse(mig, QMP_MIGRATION_ERROR_URI,
                  "an fd: URI cannot carry post-copy with postcopy-preempt");
        return;
    }
    if (mig->uri && g_str_equal(new_uri, mig->uri) && g_str_has_prefix(new_uri, "tcp:")) {
        /* Allowed (a port may be free again), but usually a mistake: the
         * facts say the old listener is gone; QEMU reports it if busy. */
    }
    g_free(mig->recover_uri);
    g_free(mig->recover_connect);
    mig->recover_uri = g_strdup(new_uri);
    mig->recover_connect = g_strdup(connect_uri);
    mig->paused = FALSE;
    g_clear_error(&mig->error);
    mig->failed_phase = QMP_MIGRATION_PHASE_NONE;
    mig->target = QMP_MIGRATION_PHASE_CONFIRM;
    mig->phase = QMP_MIGRATION_PHASE_STORAGE; /* PERFORM runs again as RECOVER */
    recover_start(mig);
}

gboolean qmp_migration_recover_finish(QmpMigration *mig, GAsyncResult *result, GError **error)
{
    return qmp_workflow_task_finish(mig, result, error);
}

/* ---- sync variants ---------------------------------------------------------------------- */

typedef struct {
    GAsyncResult *res;
} SyncWait;

static void sync_done(GObject *obj, GAsyncResult *res, gpointer data)
{
    (void) obj;
    SyncWait *w = data;
    w->res = g_object_ref(res);
}

static gboolean sync_enter(QmpMigration *m, GError **error)
{
    if (!g_main_context_acquire(m->ctx)) {
        g_set_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_INVALID,
                    "another thread runs the monitors' main context");
        return FALSE;
    }
    g_main_context_push_thread_default(m->ctx);
    return TRUE;
}

static void sync_wait(QmpMigration *m, SyncWait *w)
{
    while (!w->res)
        g_main_context_iteration(m->ctx, TRUE);
    g_main_context_pop_thread_default(m->ctx);
    g_main_context_release(m->ctx);
}

gboolean qmp_migration_run(QmpMigration *mig, GError **error)
{
    SyncWait w = { 0 };
    if (!sync_enter(mig, error))
        return FALSE;
    qmp_migration_run_async(mig, NULL, sync_done, &w);
    sync_wait(mig, &w);
    gboolean ok = qmp_migration_run_finish(mig, w.res, error);
    g_object_unref(w.res);
    return ok;
}

gboolean qmp_migration_run_phase(QmpMigration *mig, QmpMigrationPhase phase, GError **error)
{
    SyncWait w = { 0 };
    if (!sync_enter(mig, error))
        return FALSE;
    qmp_migration_run_phase_async(mig, phase, NULL, sync_done, &w);
    sync_wait(mig, &w);
    gboolean ok = qmp_migration_run_phase_finish(mig, w.res, error);
    g_object_unref(w.res);
    return ok;
}

gboolean qmp_migration_recover(QmpMigration *mig, const char *new_uri, const char *connect_uri,
                               GError **error)
{
    SyncWait w = { 0 };
    if (!sync_enter(mig, error))
        return FALSE;
    qmp_migration_recover_async(mig, new_uri, connect_uri, NULL, sync_done, &w);
    sync_wait(mig, &w);
    gboolean ok = qmp_migration_recover_finish(mig, w.res, error);
    g_object_unref(w.res);
    return ok;
}
