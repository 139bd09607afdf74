/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-conversations: the conversations of replay-tests/recordings/, each
 * run by one client function against either
 *
 *  - the recordings, replayed in strict mode (default; suite "replay"), or
 *  - live QEMU 7.2 processes (--live; suite "live"; exit 77 without QEMU):
 *    every monitor is recorded (to a temporary folder, or with
 *    QMPKIT_RERECORD=1 over replay-tests/recordings/), the fresh recordings
 *    are replayed through the same client function, and the client's
 *    summary of what it saw must be the same live, from the fresh
 *    recordings, and from the recordings in the source tree.
 *
 * Commands of the project's schema go through the generated typed wrappers;
 * the others (introspection, migration) through qmp_monitor_execute().
 * Replays validate commands against the project's schema (negotiation,
 * stop/cont) or against QEMU 7.2's own schema as recorded in
 * introspection.jsonl (introspection, errors, migration).
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include "qmp-replay.h"
#include "qmp-commands.h"
#include "qmp-schema-check.h"

#define QEMU "qemu-system-x86_64"
#define MIGRATION_URI "unix:qmpkit-migration.sock"

static gboolean live;          /* talking to real QEMU */
static char *tmpdir;           /* live: QEMU's cwd, fresh recordings */

/* ---- the client side of each conversation -------------------------------- */

static void on_event(QmpMonitor *mon, const char *event, const QmpJson *data,
                     gint64 ts, gpointer user_data)
{
    /* Only the events the conversation is about: SHUTDOWN after quit may
     * or may not be read before the connection ends. */
    if (strcmp(event, "STOP") == 0 || strcmp(event, "RESUME") == 0)
        g_string_append_printf(user_data, "%s%s", ((GString *) user_data)->len ? "," : "", event);
}

static void handshake(QmpMonitor *mon, QmpHandshakeFlags flags)
{
    GError *error = NULL;
    g_assert_true(qmp_monitor_handshake(mon, flags, 20000, &error));
    g_assert_no_error(error);
}

static void quit(QmpMonitor *mon)
{
    GError *error = NULL;
    /* The reply may lose the race with the end of the connection. */
    if (!qmp_quit(mon, &error)) {
        g_assert_error(error, QMP_ERROR, QMP_ERROR_CLOSED);
        g_clear_error(&error);
    }
}

static const char *status_name(QmpMonitor *mon)
{
    GError *error = NULL;
    g_autoptr(QmpStatusInfo) st = qmp_query_status(mon, &error);
    g_assert_no_error(error);
    return qmp_run_state_to_string(st->status);
}

static void run_negotiation(QmpMonitor **mons, GString *out)
{
    GError *error = NULL;
    QmpMonitor *mon = mons[0];
    handshake(mon, QMP_HANDSHAKE_OOB);
    g_autoptr(QmpVersionInfo) v = qmp_query_version(mon, &error);
    g_assert_no_error(error);
    g_assert_cmpint(v->qemu->major, >=, 7);
    gsize n = 0;
    QmpCommandInfo **cmds = qmp_query_commands(mon, &n, &error);
    g_assert_no_error(error);
    gboolean has_status = FALSE;
    for (gsize i = 0; i < n; i++) {
        has_status |= strcmp(cmds[i]->name, "query-status") == 0;
        qmp_command_info_free(cmds[i]);
    }
    g_free(cmds);
    g_assert_true(has_status);
    g_string_append_printf(out, "version=%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT
                           " package=%s oob=%s commands=%zu status=%s",
                           v->qemu->major, v->qemu->minor, v->qemu->micro, v->package,
                           qmp_monitor_get_oob_enabled(mon) ? "yes" : "no", n, status_name(mon));
    quit(mon);
}

static void run_introspection(QmpMonitor **mons, GString *out)
{
    GError *error = NULL;
    QmpMonitor *mon = mons[0];
    handshake(mon, QMP_HANDSHAKE_NONE);
    const QmpJson *ret;
    g_autoptr(QmpJsonDoc) doc = qmp_monitor_execute(mon, "query-qmp-schema", NULL, 0, NULL, 0,
                                                    QMP_TIMEOUT_DEFAULT, &ret, &error);
    g_assert_no_error(error);
    g_autoptr(QmpSchemaCheck) c = qmp_schema_check_new(ret, &error);
    g_assert_no_error(error);
    guint commands = 0, events = 0;
    for (const QmpJson *e = ret->v.first; e; e = e->next) {
        const char *meta = qmp_json_get_string(qmp_json_lookup(e, "meta-type"));
        commands += g_strcmp0(meta, "command") == 0;
        events += g_strcmp0(meta, "event") == 0;
    }
    g_assert_true(qmp_schema_check_has_command(c, "migrate"));
    g_assert_true(qmp_schema_check_has_argument(c, "migrate", "uri"));
    g_string_append_printf(out, "entries=%u commands=%u events=%u blockdev-add.driver=%s",
                           ret->len, commands, events,
                           qmp_schema_check_has_argument(c, "blockdev-add", "driver") ? "yes" : "no");
    quit(mon);
}

static void expect_error(QmpMonitor *mon, const char *command, const char *args, GString *out)
{
    GError *error = NULL;
    g_autoptr(QmpJsonDoc) doc = qmp_monitor_execute(mon, command, args, 0, NULL, 0,
                                                    QMP_TIMEOUT_DEFAULT, NULL, &error);
    g_assert_null(doc);
    g_assert_nonnull(error);
    g_assert_true(error->domain == QMP_COMMAND_ERROR);
    g_string_append_printf(out, "%s: %s: %s; ", command,
                           error->code == QMP_COMMAND_ERROR_OTHER ? "?" :
                           qmp_command_error_class_name(error->code), error->message);
    g_clear_error(&error);
}

static void run_errors(QmpMonitor **mons, GString *out)
{
    QmpMonitor *mon = mons[0];
    handshake(mon, QMP_HANDSHAKE_NONE);
    expect_error(mon, "no-such-command", NULL, out);
    expect_error(mon, "blockdev-del", "{\"node-name\": \"nope\"}", out);
    expect_error(mon, "device_del", "{\"id\": \"nope\"}", out);
    expect_error(mon, "qmp_capabilities", NULL, out);
    quit(mon);
}

static void run_stop_cont(QmpMonitor **mons, GString *out)
{
    GError *error = NULL;
    QmpMonitor *mon = mons[0];
    g_autoptr(GString) events = g_string_new(NULL);
    qmp_monitor_subscribe(mon, NULL, on_event, events, NULL);
    handshake(mon, QMP_HANDSHAKE_NONE);
    g_string_append_printf(out, "%s", status_name(mon));
    g_assert_true(qmp_cont(mon, &error));
    g_assert_no_error(error);
    g_string_append_printf(out, " cont %s", status_name(mon));
    g_assert_true(qmp_stop(mon, &error));
    g_assert_no_error(error);
    g_string_append_printf(out, " stop %s", status_name(mon));
    g_assert_true(qmp_cont(mon, &error));
    g_assert_no_error(error);
    g_string_append_printf(out, " cont %s", status_name(mon));
    quit(mon);
    g_string_append_printf(out, " events=%s", events->str);
    g_assert_cmpstr(events->str, ==, "RESUME,STOP,RESUME");
}

/* A JSON member as text (for reports), or "-". */
static char *member_text(const QmpJson *obj, const char *a, const char *b)
{
    const QmpJson *v = obj ? qmp_json_lookup(obj, a) : NULL;
    if (v && b)
        v = qmp_json_lookup(v, b);
    return v ? qmp_json_to_string(v) : g_strdup("-");
}

static void run_migration(QmpMonitor **mons, GString *out)
{
    GError *error = NULL;
    QmpMonitor *src = mons[0], *dst = mons[1];
    g_autoptr(GString) src_events = g_string_new(NULL);
    g_autoptr(GString) dst_events = g_string_new(NULL);
    qmp_monitor_subscribe(src, NULL, on_event, src_events, NULL);
    qmp_monitor_subscribe(dst, NULL, on_event, dst_events, NULL);
    handshake(src, QMP_HANDSHAKE_NONE);
    handshake(dst, QMP_HANDSHAKE_NONE);
    g_string_append_printf(out, "src=%s dst=%s", status_name(src), status_name(dst));
    g_autoptr(QmpJsonDoc) r1 = qmp_monitor_execute(dst, "migrate-incoming",
                                                   "{\"uri\": \"" MIGRATION_URI "\"}", 0, NULL, 0,
                                                   QMP_TIMEOUT_DEFAULT, NULL, &error);
    g_assert_no_error(error);
    g_autoptr(QmpJsonDoc) r2 = qmp_monitor_execute(src, "migrate",
                                                   "{\"uri\": \"" MIGRATION_URI "\"}", 0, NULL, 0,
                                                   QMP_TIMEOUT_DEFAULT, NULL, &error);
    g_assert_no_error(error);
    /* Poll until completed: the recorded replies decide how often. */
    g_autofree char *status = NULL;
    g_autofree char *total = NULL;
    for (int polls = 0;; polls++) {
        const QmpJson *ret;
        g_autoptr(QmpJsonDoc) doc = qmp_monitor_execute(src, "query-migrate", NULL, 0, NULL, 0,
                                                        QMP_TIMEOUT_DEFAULT, &ret, &error);
        g_assert_no_error(error);
        g_free(status);
        status = g_strdup(qmp_json_get_string(qmp_json_lookup(ret, "status")));
        g_assert_nonnull(status);
        g_assert_cmpstr(status, !=, "failed");
        if (strcmp(status, "completed") == 0) {
            total = member_text(ret, "ram", "total");
            break;
        }
        g_assert_cmpint(polls, <, 3000);
        if (live)
            g_usleep(10000);
    }
    for (int polls = 0;; polls++) {
        if (strcmp(status_name(dst), "running") == 0)
            break;
        g_assert_cmpint(polls, <, 3000);
        if (live)
            g_usleep(10000);
    }
    g_string_append_printf(out, " migrate=%s ram.total=%s src=%s", status, total,
                           status_name(src));
    quit(src);
    quit(dst);
    g_string_append_printf(out, " src-events=%s dst-events=%s", src_events->str,
                           dst_events->str);
}

/* ---- the conversations ---------------------------------------------------- */

typedef struct {
    const char *name;
    guint n_peers;
    const char *files[2];
    const char *peers[2];
    const char *const *argv[2];
    gboolean qemu_schema;     /* validate against QEMU 7.2's recorded schema */
    void (*run)(QmpMonitor **mons, GString *out);
} Conversation;

static const char *const probe_args[] = {
    "-machine", "none", "-nodefaults", "-display", "none", "-S", NULL
};
static const char *const src_args[] = {
    "-machine", "q35", "-m", "128", "-accel", "tcg", "-nodefaults", "-display", "none", NULL
};
static const char *const dst_args[] = {
    "-machine", "q35", "-m", "128", "-accel", "tcg", "-nodefaults", "-display", "none",
    "-incoming", "defer", NULL
};

static const Conversation conversations[] = {
    /* introspection first: the others' replays validate against its schema */
    { "introspection", 1, { "introspection.jsonl" }, { "qemu-7.2 -machine none" },
      { probe_args }, TRUE, run_introspection },
    { "negotiation", 1, { "negotiation.jsonl" }, { "qemu-7.2 -machine none" },
      { probe_args }, FALSE, run_negotiation },
    { "errors", 1, { "errors.jsonl" }, { "qemu-7.2 -machine none" },
      { probe_args }, TRUE, run_errors },
    { "stop-cont", 1, { "stop-cont.jsonl" }, { "qemu-7.2 -machine none" },
      { probe_args }, FALSE, run_stop_cont },
    { "migration", 2, { "migration-source.jsonl", "migration-destination.jsonl" },
      { "qemu-7.2 q35 migration source", "qemu-7.2 q35 migration destination" },
      { src_args, dst_args }, TRUE, run_migration },
};

/* ---- running a conversation ----------------------------------------------- */

static char *source_recordings(void)
{
    const char *src = g_getenv("QMPKIT_SOURCE_DIR");
    return g_build_filename(src ? src : ".", "replay-tests", "recordings", NULL);
}

/* Replay the recordings of c found in dir (strict) through c->run. */
static char *replay(const Conversation *c, const char *dir)
{
    GError *error = NULL;
    QmpMonitor *mons[2] = { NULL, NULL };
    QmpReplayServer *servers[2] = { NULL, NULL };
    g_autoptr(QmpReplay) schema_rec = NULL;
    const QmpJson *schema = NULL;
    if (c->qemu_schema) {
        g_autofree char *path = g_build_filename(dir, "introspection.jsonl", NULL);
        if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
            g_autofree char *tree = source_recordings();
            g_free(path);
            path = g_build_filename(tree, "introspection.jsonl", NULL);
        }
        schema_rec = qmp_replay_load(path, &error);
        g_assert_no_error(error);
        schema = qmp_replay_get_recorded_schema(schema_rec);
        g_assert_nonnull(schema);
    }
    for (guint i = 0; i < c->n_peers; i++) {
        g_autofree char *path = g_build_filename(dir, c->files[i], NULL);
        g_autoptr(QmpReplay) rec = qmp_replay_load(path, &error);
        g_assert_no_error(error);
        mons[i] = qmp_replay_test_start_full(rec, QMP_REPLAY_STRICT, schema, &servers[i]);
    }
    GString *out = g_string_new(NULL);
    c->run(mons, out);
    for (guint i = 0; i < c->n_peers; i++) {
        qmp_replay_test_assert_done(servers[i]);
        g_object_unref(mons[i]);
        qmp_replay_server_free(servers[i]);
    }
    return g_string_free(out, FALSE);
}

static void test_replay(gconstpointer data)
{
    const Conversation *c = data;
    g_autofree char *dir = source_recordings();
    g_autofree char *summary = replay(c, dir);
    g_test_message("%s: %s", c->name, summary);
}

static void test_live(gconstpointer data)
{
    const Conversation *c = data;
    GError *error = NULL;
    gboolean rerecord = g_strcmp0(g_getenv("QMPKIT_RERECORD"), "1") == 0;
    g_autofree char *srcdir = source_recordings();
    const char *dir = rerecord ? srcdir : tmpdir;
    if (rerecord && c == &conversations[0])
        g_mkdir_with_parents(dir, 0755);

    /* QEMU resolves the migration socket's relative path in its cwd. */
    g_autofree char *cwd = g_get_current_dir();
    g_assert_cmpint(chdir(tmpdir), ==, 0);
    QmpMonitor *mons[2] = { NULL, NULL };
    for (guint i = 0; i < c->n_peers; i++) {
        mons[i] = qmp_monitor_new(NULL);
        g_autofree char *path = g_build_filename(dir, c->files[i], NULL);
        g_assert_true(qmp_monitor_record_to_file(mons[i], path, c->peers[i], &error));
        g_assert_no_error(error);
        g_assert_true(qmp_monitor_spawn(mons[i], QEMU, c->argv[i], &error));
        g_assert_no_error(error);
    }
    g_assert_cmpint(chdir(cwd), ==, 0);
    g_autoptr(GString) out = g_string_new(NULL);
    live = TRUE;
    c->run(mons, out);
    live = FALSE;
    for (guint i = 0; i < c->n_peers; i++)
        g_object_unref(mons[i]); /* ends QEMU, completes the recording */
    g_test_message("%s live: %s", c->name, out->str);

    /* The fresh recordings replay to the same summary... */
    g_autofree char *fresh = replay(c, dir);
    g_assert_cmpstr(fresh, ==, out->str);
    /* ...and so do the recordings in the tree (when not just rewritten). */
    if (!rerecord) {
        g_autofree char *tree = replay(c, srcdir);
        g_assert_cmpstr(tree, ==, out->str);
    }
}

int main(int argc, char **argv)
{
    gboolean live_mode = argc > 1 && strcmp(argv[1], "--live") == 0;
    g_test_init(&argc, &argv, NULL);
    /* libqmp's farewell "quit" to a spawned QEMU (session-close.c send_quit) is a
     * plain write(): after our own quit QEMU may be gone already. */
    signal(SIGPIPE, SIG_IGN);
    if (live_mode) {
        g_autofree char *qemu = g_find_program_in_path(QEMU);
        if (!qemu) {
            g_print("skipped: %s not found in PATH\n", QEMU);
            return 77;
        }
    }
    for (gsize i = 0; i < G_N_ELEMENTS(conversations); i++) {
        g_autofree char *name = g_strdup_printf("/%s/%s", live_mode ? "live" : "replay",
                                                conversations[i].name);
        g_test_add_data_func(name, &conversations[i], live_mode ? test_live : test_replay);
    }
    if (live_mode)
        tmpdir = g_dir_make_tmp("qmpkit-record-XXXXXX", NULL);
    int rc = g_test_run();
    if (tmpdir) {
        g_autofree char *sock = g_build_filename(tmpdir, "qmpkit-migration.sock", NULL);
        unlink(sock);
        for (gsize i = 0; i < G_N_ELEMENTS(conversations); i++)
            for (guint j = 0; j < conversations[i].n_peers; j++) {
                g_autofree char *path = g_build_filename(tmpdir, conversations[i].files[j], NULL);
                unlink(path);
            }
        rmdir(tmpdir);
        g_free(tmpdir);
    }
    return rc;
}
