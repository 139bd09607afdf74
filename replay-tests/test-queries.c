/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-queries: every query-* command of schema/ decoded through the
 * generated typed API (default decoding, as an application gets it) from a
 * newer and an older QEMU, plus a mirror job and a migration driven by the
 * generated wrappers.  One client function, three ways to run it:
 *
 *  - (default, suite "replay") against replay-tests/recordings/qemu10-*.jsonl,
 *    a conversation recorded from QEMU 10.0, replayed strictly and validated
 *    against the schema QEMU 10.0 answered in that recording;
 *  - --live 10.0 (suite "live"): against QEMU 10.0 ($QMPKIT_QEMU_10; exit
 *    77 without it); both monitors are recorded (to a temporary folder, or
 *    with QMPKIT_RERECORD=1 over replay-tests/recordings/qemu10-*.jsonl)
 *    and the fresh recordings, then the tree's, are replayed through the
 *    same client, which must see the same thing;
 *  - --live 7.2: the same against Debian's qemu-system-x86_64.
 *
 * The conversation: a source QEMU (q35, TCG, guest running) and a
 * destination (-incoming defer).  On the source, a qcow2 node is mirrored
 * to another (blockdev-mirror) and, while the job is READY, every query-*
 * command of schema/ is run and decoded; the job is completed; the guest
 * migrates to the destination (query-migrate polled until completed, so
 * RAM statistics are decoded); on the destination every query (but
 * query-qmp-schema) is run again.
 *
 * A query that schema/ gains after the recording was made is run live but
 * not in the replay (the recording does not have it; re-record with
 * QMPKIT_RERECORD=1 meson test --suite live live-queries-10.0).
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include "qmp-replay.h"
#include "qmp-commands.h"
#include "qmp-events.h"

#define MIGRATION_URI "unix:qmpkit-queries-migration.sock"
#define SRC_IMAGE "qmpkit-queries-src.qcow2"
#define TGT_IMAGE "qmpkit-queries-tgt.qcow2"

static const char *const src_args[] = {
    "-machine", "q35", "-m", "64", "-accel", "tcg", "-nodefaults",
    "-display", "none", NULL
};
static const char *const dst_args[] = {
    "-machine", "q35", "-m", "64", "-accel", "tcg", "-nodefaults",
    "-display", "none", "-incoming", "defer", NULL
};
static const char *const files[2] = {
    "qemu10-source.jsonl", "qemu10-destination.jsonl"
};

static gboolean live;              /* talking to real QEMU */
static GHashTable *recorded;       /* replay: commands the recordings hold */
static char *tmpdir;

typedef struct {
    int ready, completed, job_gone, migration_done;
    GString *job_states;
    GString *events;
} Seen;

/* ---- typed events --------------------------------------------------------- */

static void on_ready(QmpMonitor *mon, const QmpBlockJobReadyEvent *data,
                     gint64 ts, const GError *error, gpointer user_data)
{
    Seen *s = user_data;
    g_assert_no_error(error);
    g_assert_cmpstr(data->device, ==, "mirror0");
    g_assert_cmpint(data->type, ==, QMP_JOB_TYPE_MIRROR);
    s->ready++;
}

static void on_completed(QmpMonitor *mon, const QmpBlockJobCompletedEvent *data,
                         gint64 ts, const GError *error, gpointer user_data)
{
    Seen *s = user_data;
    g_assert_no_error(error);
    g_assert_cmpstr(data->device, ==, "mirror0");
    g_assert_null(data->error);
    g_assert_cmpint(data->offset, ==, data->len);
    s->completed++;
}

static void on_job_status(QmpMonitor *mon, const QmpJobStatusChangeEvent *data,
                          gint64 ts, const GError *error, gpointer user_data)
{
    Seen *s = user_data;
    g_assert_no_error(error);
    g_string_append_printf(s->job_states, "%s%s", s->job_states->len ? "," : "",
                           qmp_job_status_to_string(data->status));
    if (data->status == QMP_JOB_STATUS_NULL)
        s->job_gone++;
}

static void on_migration(QmpMonitor *mon, const QmpMigrationEvent *data,
                         gint64 ts, const GError *error, gpointer user_data)
{
    Seen *s = user_data;
    g_assert_no_error(error);
    g_assert_cmpint(data->status, !=, QMP_MIGRATION_STATUS_FAILED);
    if (data->status == QMP_MIGRATION_STATUS_COMPLETED)
        s->migration_done++;
}

static gboolean too_long(gpointer what)
{
    g_error("timed out waiting for %s", (const char *) what);
    return G_SOURCE_REMOVE;
}

static void wait_for(QmpMonitor *mon, const int *counter, const char *what)
{
    guint t = g_timeout_add_seconds(120, too_long, (gpointer) what);
    while (*counter == 0)
        g_main_context_iteration(qmp_monitor_get_context(mon), TRUE);
    g_source_remove(t);
}

static void subscribe(QmpMonitor *mon, Seen *s)
{
    qmp_subscribe_block_job_ready(mon, on_ready, s, NULL);
    qmp_subscribe_block_job_completed(mon, on_completed, s, NULL);
    qmp_subscribe_job_status_change(mon, on_job_status, s, NULL);
    qmp_subscribe_migration(mon, on_migration, s, NULL);
}

/* ---- every query ---------------------------------------------------------- */

/* Arguments for the queries that need some (JSON of their argument type). */
static const struct { const char *name, *args; } query_args[] = {
    { "query-cpu-model-expansion", "{\"type\": \"full\", \"model\": {\"name\": \"qemu64\"}}" },
    { "query-named-block-nodes", "{\"flat\": true}" },
};

static int by_name(gconstpointer a, gconstpointer b)
{
    const QmpCommandDesc *x = *(const QmpCommandDesc *const *) a;
    const QmpCommandDesc *y = *(const QmpCommandDesc *const *) b;
    return strcmp(x->name, y->name);
}

/* Run every query-* command of schema/ (by name, so the order does not
 * depend on the schema's layout), decoding each reply; returns how many
 * ran, and appends each name to `out`. */
static guint run_queries(QmpMonitor *mon, gboolean with_schema, GString *out)
{
    g_autoptr(GPtrArray) cmds = g_ptr_array_new();
    guint ran = 0;

    for (gsize i = 0; qmp_commands_all[i]; i++)
        if (g_str_has_prefix(qmp_commands_all[i]->name, "query-"))
            g_ptr_array_add(cmds, (gpointer) qmp_commands_all[i]);
    g_ptr_array_sort(cmds, by_name);
    g_assert_cmpuint(cmds->len, >=, 20);

    for (guint i = 0; i < cmds->len; i++) {
        const QmpCommandDesc *cmd = cmds->pdata[i];
        GError *error = NULL;
        gpointer args = NULL;
        union { gpointer p; gint64 i; double d; gboolean b; } result = { 0 };
        gsize n = 0;

        if (!with_schema && strcmp(cmd->name, "query-qmp-schema") == 0)
            continue;
        if (!live && !g_hash_table_contains(recorded, cmd->name)) {
            g_test_message("%s is not in the recording (re-record it)", cmd->name);
            continue;
        }
        for (gsize j = 0; j < G_N_ELEMENTS(query_args); j++) {
            if (strcmp(query_args[j].name, cmd->name) != 0)
                continue;
            g_autoptr(QmpJsonDoc) doc = qmp_json_parse(query_args[j].args,
                                                       strlen(query_args[j].args), 0, &error);
            g_assert_no_error(error);
            g_assert_true(qmp_value_decode(cmd->args, qmp_json_doc_root(doc),
                                           QMP_DECODE_STRICT, "arguments", &args, &error));
            g_assert_no_error(error);
        }
        g_assert_true(cmd->flags & QMP_COMMAND_HAS_RETURN);
        if (!qmp_call_typed(mon, cmd, args, NULL, 0, &result, &n, &error))
            g_error("%s: %s", cmd->name, error->message);
        qmp_value_clear(&cmd->ret, &result, n);
        qmp_value_free(cmd->args, args);
        g_string_append_printf(out, "%s%s", ran ? "," : "", cmd->name);
        ran++;
    }
    return ran;
}

/* ---- the conversation ------------------------------------------------------ */

static void handshake(QmpMonitor *mon)
{
    GError *error = NULL;
    g_assert_true(qmp_monitor_handshake(mon, QMP_HANDSHAKE_OOB, 20000, &error));
    g_assert_no_error(error);
}

static void quit(QmpMonitor *mon)
{
    GError *error = NULL;
    if (!qmp_quit(mon, &error)) {     /* the reply may lose the race */
        g_assert_error(error, QMP_ERROR, QMP_ERROR_CLOSED);
        g_clear_error(&error);
    }
}

static void add_qcow2(QmpMonitor *mon, const char *node, const char *file)
{
    GError *error = NULL;
    g_autofree char *file_node = g_strdup_printf("%s-file", node);
    QmpBlockdevOptions proto = { .driver = QMP_BLOCKDEV_DRIVER_FILE };
    QmpBlockdevRef ref = { .kind = QMP_BLOCKDEV_REF_KIND_REFERENCE };
    QmpBlockdevOptions fmt = { .driver = QMP_BLOCKDEV_DRIVER_QCOW2 };

    proto.node_name = file_node;
    proto.u.file.filename = (char *) file;
    g_assert_true(qmp_blockdev_add(mon, &proto, &error));
    g_assert_no_error(error);
    fmt.node_name = (char *) node;
    ref.u.reference = file_node;
    fmt.u.qcow2.file = &ref;
    g_assert_true(qmp_blockdev_add(mon, &fmt, &error));
    g_assert_no_error(error);
}

static const char *status_of(QmpMonitor *mon, char **keep)
{
    GError *error = NULL;
    g_autoptr(QmpStatusInfo) st = qmp_query_status(mon, &error);
    g_assert_no_error(error);
    g_free(*keep);
    *keep = g_strdup(qmp_run_state_to_string(st->status));
    return *keep;
}

static char *conversation(QmpMonitor *src, QmpMonitor *dst)
{
    GError *error = NULL;
    GString *out = g_string_new(NULL);
    g_autofree char *st = NULL;
    Seen s = { .job_states = g_string_new(NULL), .events = g_string_new(NULL) };
    Seen d = { .job_states = g_string_new(NULL), .events = g_string_new(NULL) };
    gsize n;

    subscribe(src, &s);
    subscribe(dst, &d);
    handshake(src);
    handshake(dst);
    g_autoptr(QmpVersionInfo) v = qmp_query_version(src, &error);
    g_assert_no_error(error);
    g_string_append_printf(out, "qemu=%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT " src=%s",
                           v->qemu->major, v->qemu->minor, status_of(src, &st));
    g_string_append_printf(out, " dst=%s", status_of(dst, &st));

    /* events on both sides */
    QmpMigrationCapabilityStatus events = {
        .capability = QMP_MIGRATION_CAPABILITY_EVENTS, .state = TRUE };
    QmpMigrationCapabilityStatus *list[] = { &events };
    QmpMigrateSetCapabilitiesArgs caps = { .capabilities = list, .n_capabilities = 1 };
    g_assert_true(qmp_migrate_set_capabilities(src, &caps, &error));
    g_assert_no_error(error);
    g_assert_true(qmp_migrate_set_capabilities(dst, &caps, &error));
    g_assert_no_error(error);

    /* a mirror job, READY while every query runs */
    add_qcow2(src, "disk0", SRC_IMAGE);
    add_qcow2(src, "copy0", TGT_IMAGE);
    QmpBlockdevMirrorArgs mirror = {
        .job_id = (char *) "mirror0", .device = (char *) "disk0",
        .target = (char *) "copy0", .sync = QMP_MIRROR_SYNC_MODE_FULL,
    };
    g_assert_true(qmp_blockdev_mirror(src, &mirror, &error));
    g_assert_no_error(error);
    wait_for(src, &s.ready, "BLOCK_JOB_READY");
    QmpBlockJobInfo **jobs = qmp_query_block_jobs(src, &n, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(n, ==, 1);
    g_assert_true(jobs[0]->ready);
    g_assert_cmpint(jobs[0]->status, ==, QMP_JOB_STATUS_READY);
    qmp_block_job_info_free(jobs[0]);
    g_free(jobs);
    g_string_append(out, " src-queries=");
    guint ran = run_queries(src, TRUE, out);
    QmpJobCompleteArgs complete = { .id = (char *) "mirror0" };
    g_assert_true(qmp_job_complete(src, &complete, &error));
    g_assert_no_error(error);
    wait_for(src, &s.completed, "BLOCK_JOB_COMPLETED");
    /* the job's last state change may come after BLOCK_JOB_COMPLETED */
    wait_for(src, &s.job_gone, "JOB_STATUS_CHANGE null");
    g_string_append_printf(out, " job=%s", s.job_states->str);

    /* migration, query-migrate polled until it is over */
    QmpMigrateIncomingArgs in = { .uri = (char *) MIGRATION_URI };
    g_assert_true(qmp_migrate_incoming(dst, &in, &error));
    g_assert_no_error(error);
    QmpMigrateArgs mig = { .uri = (char *) MIGRATION_URI };
    g_assert_true(qmp_migrate(src, &mig, &error));
    g_assert_no_error(error);
    gboolean had_ram = FALSE;
    for (int polls = 0;; polls++) {
        g_autoptr(QmpMigrationInfo) info = qmp_query_migrate(src, &error);
        g_assert_no_error(error);
        g_assert_true(info->has_status);
        g_assert_cmpint(info->status, !=, QMP_MIGRATION_STATUS_FAILED);
        had_ram |= info->ram != NULL;
        if (info->status == QMP_MIGRATION_STATUS_COMPLETED) {
            g_assert_nonnull(info->ram);
            g_assert_cmpint(info->ram->total, >, 0);
            g_assert_cmpint(info->ram->transferred, >, 0);
            break;
        }
        g_assert_cmpint(polls, <, 6000);
        if (live)
            g_usleep(20000);
    }
    g_assert_true(had_ram);
    wait_for(src, &s.migration_done, "MIGRATION completed (source)");
    wait_for(dst, &d.migration_done, "MIGRATION completed (destination)");
    for (int polls = 0; strcmp(status_of(dst, &st), "running") != 0; polls++) {
        g_assert_cmpint(polls, <, 6000);
        if (live)
            g_usleep(20000);
    }
    g_string_append_printf(out, " migrated src=%s", status_of(src, &st));
    g_string_append_printf(out, " dst=%s", status_of(dst, &st));
    g_string_append(out, " dst-queries=");
    ran += run_queries(dst, FALSE, out);
    g_string_append_printf(out, " queries=%u", ran);
    quit(src);
    quit(dst);
    g_string_free(s.job_states, TRUE);
    g_string_free(s.events, TRUE);
    g_string_free(d.job_states, TRUE);
    g_string_free(d.events, TRUE);
    return g_string_free(out, FALSE);
}

/* ---- replay and live ------------------------------------------------------- */

static char *source_recordings(void)
{
    const char *src = g_getenv("QMPKIT_SOURCE_DIR");
    return g_build_filename(src ? src : ".", "replay-tests", "recordings", NULL);
}

static char *replay(const char *dir)
{
    GError *error = NULL;
    QmpReplay *recs[2];
    QmpMonitor *mons[2];
    QmpReplayServer *servers[2];

    recorded = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; i < 2; i++) {
        g_autofree char *path = g_build_filename(dir, files[i], NULL);
        recs[i] = qmp_replay_load(path, &error);
        g_assert_no_error(error);
        for (guint m = 0; m < qmp_replay_get_n_messages(recs[i]); m++) {
            QmpReplayMsgKind kind;
            const QmpJson *msg = qmp_replay_get_message(recs[i], m, NULL, &kind,
                                                        NULL, NULL, NULL);
            const char *name = qmp_json_get_string(qmp_json_lookup(msg, "execute"));
            if (kind == QMP_REPLAY_MSG_COMMAND && name)
                g_hash_table_add(recorded, (gpointer) name);
        }
    }
    /* The commands are checked against what QEMU 10.0 itself declared. */
    const QmpJson *schema = qmp_replay_get_recorded_schema(recs[0]);
    g_assert_nonnull(schema);
    for (guint i = 0; i < 2; i++)
        mons[i] = qmp_replay_test_start_full(recs[i], QMP_REPLAY_STRICT, schema, &servers[i]);
    char *summary = conversation(mons[0], mons[1]);
    for (guint i = 0; i < 2; i++) {
        qmp_replay_test_assert_done(servers[i]);
        g_object_unref(mons[i]);
        qmp_replay_server_free(servers[i]);
    }
    for (guint i = 0; i < 2; i++)
        qmp_replay_unref(recs[i]);
    g_clear_pointer(&recorded, g_hash_table_unref);
    return summary;
}

static void test_replay(void)
{
    g_autofree char *dir = source_recordings();
    g_autofree char *summary = replay(dir);
    g_test_message("replay: %s", summary);
    g_assert_nonnull(strstr(summary, "qemu=10.0"));
    g_assert_nonnull(strstr(summary, "job=created,running,ready,waiting,pending,concluded,null"));
    g_assert_nonnull(strstr(summary, "migrated src=postmigrate dst=running"));
}

static void make_image(const char *name)
{
    g_autofree char *path = g_build_filename(tmpdir, name, NULL);
    const char *argv[] = { "qemu-img", "create", "-q", "-f", "qcow2", path, "16M", NULL };
    GError *error = NULL;
    int status;
    g_assert_true(g_spawn_sync(NULL, (char **) argv, NULL,
                               G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                               NULL, NULL, NULL, NULL, &status, &error));
    g_assert_no_error(error);
    g_assert_true(g_spawn_check_wait_status(status, NULL));
}

static const char *qemu_binary;
static const char *qemu_version;

static void test_live(void)
{
    GError *error = NULL;
    gboolean is10 = strcmp(qemu_version, "10.0") == 0;
    gboolean rerecord = is10 && g_strcmp0(g_getenv("QMPKIT_RERECORD"), "1") == 0;
    g_autofree char *srcdir = source_recordings();
    const char *dir = rerecord ? srcdir : tmpdir;
    const char *peers[2] = { "qemu-10.0 q35 source (mirror, migration)",
                             "qemu-10.0 q35 destination" };
    QmpMonitor *mons[2];

    make_image(SRC_IMAGE);
    make_image(TGT_IMAGE);
    /* QEMU resolves the relative image and socket paths in its cwd. */
    g_autofree char *cwd = g_get_current_dir();
    g_assert_cmpint(chdir(tmpdir), ==, 0);
    for (guint i = 0; i < 2; i++) {
        g_autofree char *path = g_build_filename(dir, files[i], NULL);
        mons[i] = qmp_monitor_new(NULL);
        g_assert_true(qmp_monitor_record_to_file(mons[i], path, is10 ? peers[i] : qemu_version,
                                                 &error));
        g_assert_no_error(error);
        g_assert_true(qmp_monitor_spawn(mons[i], qemu_binary,
                                        i ? dst_args : src_args, &error));
        g_assert_no_error(error);
    }
    g_assert_cmpint(chdir(cwd), ==, 0);
    live = TRUE;
    g_autofree char *summary = conversation(mons[0], mons[1]);
    live = FALSE;
    for (guint i = 0; i < 2; i++)
        g_object_unref(mons[i]);
    g_test_message("live %s: %s", qemu_version, summary);

    /* every query of schema/ ran on the source */
    guint queries = 0;
    for (gsize i = 0; qmp_commands_all[i]; i++)
        queries += g_str_has_prefix(qmp_commands_all[i]->name, "query-");
    g_autofree char *want = g_strdup_printf(" queries=%u", 2 * queries - 1);
    g_assert_true(g_str_has_suffix(summary, want));

    /* the fresh recordings replay to the same summary, and (10.0) so do the
     * tree's unless just rewritten */
    g_autofree char *fresh = replay(dir);
    g_assert_cmpstr(fresh, ==, summary);
    if (is10 && !rerecord) {
        g_autofree char *tree = replay(srcdir);
        g_assert_cmpstr(tree, ==, summary);
    }
}

static void cleanup(void)
{
    const char *names[] = { files[0], files[1], SRC_IMAGE, TGT_IMAGE,
                            "qmpkit-queries-migration.sock" };
    if (!tmpdir)
        return;
    for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
        g_autofree char *p = g_build_filename(tmpdir, names[i], NULL);
        unlink(p);
    }
    rmdir(tmpdir);
    g_clear_pointer(&tmpdir, g_free);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 2 && strcmp(argv[1], "--live") == 0 ? argv[2] : NULL;
    g_test_init(&argc, &argv, NULL);
    /* libqmp's farewell quit may find QEMU gone after our own quit */
    signal(SIGPIPE, SIG_IGN);
    if (mode) {
        g_autofree char *img = g_find_program_in_path("qemu-img");
        qemu_version = mode;
        if (strcmp(mode, "10.0") == 0) {
            qemu_binary = g_getenv("QMPKIT_QEMU_10");
            if (!qemu_binary || !g_file_test(qemu_binary, G_FILE_TEST_IS_EXECUTABLE)) {
                g_print("skipped: QEMU 10.0 not found (set QMPKIT_QEMU_10; "
                        "../shared/tools/unpack-qemu-backports.sh unpacks it)\n");
                return 77;
            }
        } else {
            qemu_binary = "qemu-system-x86_64";
            g_autofree char *q = g_find_program_in_path(qemu_binary);
            if (!q) {
                g_print("skipped: %s not found in PATH\n", qemu_binary);
                return 77;
            }
        }
        if (!img) {
            g_print("skipped: qemu-img not found in PATH\n");
            return 77;
        }
        tmpdir = g_dir_make_tmp("qmpkit-queries-XXXXXX", NULL);
        g_assert_nonnull(tmpdir);
        g_test_add_func("/queries/live", test_live);
    } else {
        g_test_add_func("/queries/replay", test_replay);
    }
    int rc = g_test_run();
    cleanup();
    return rc;
}
