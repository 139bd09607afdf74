/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * migration-linkcut-harness.c: guests, recordings and waits shared by the
 * live migration tests (see the header).
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include "migration-linkcut-harness.h"

/* ---- no QEMU left behind ------------------------------------------------------ */

/* A failed assertion aborts the test without finalizing its monitors, and
 * meson ends a test that overran with SIGTERM: either way the QEMUs this
 * process spawned are killed (kill() is async-signal-safe). */
#define MAX_CHILDREN 16
static volatile pid_t children[MAX_CHILDREN];

/* tmpdir's files (3 big ones, 2 recordings), then tmpdir itself. */
#define N_ABORT_FILES 6
static char abort_files[N_ABORT_FILES][4096];
static char abort_ip[4096];        /* `ip`, and namespaces to delete */
static char abort_netns[2][64];

static void kill_children(int sig)
{
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (children[i] > 0)
            kill(children[i], SIGKILL);
    /* fork, execve and waitpid are async-signal-safe. */
    for (int i = 0; i < 2; i++) {
        if (!abort_netns[i][0] || !abort_ip[0])
            continue;
        pid_t pid = fork();
        if (pid == 0) {
            char *const argv[] = { abort_ip, "netns", "del", abort_netns[i], NULL };
            char *const envp[] = { NULL };
            execve(abort_ip, argv, envp);
            _exit(127);
        }
        if (pid > 0)
            waitpid(pid, NULL, 0);
    }
    for (int i = 0; i < N_ABORT_FILES; i++)
        if (abort_files[i][0])
            (i < N_ABORT_FILES - 1 ? unlink : rmdir)(abort_files[i]);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void track_child(pid_t pid)
{
    static gboolean installed;
    if (!installed) {
        signal(SIGABRT, kill_children);
        signal(SIGTERM, kill_children);
        signal(SIGINT, kill_children);
        installed = TRUE;
    }
    if (pid <= 0)
        return;
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (children[i] <= 0) {
            children[i] = pid;
            return;
        }
}

static void untrack_child(pid_t pid)
{
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (children[i] == pid)
            children[i] = 0;
}


const char *mig_test_qemu_72(void)
{
    static char *path;
    if (!path)
        path = g_find_program_in_path("qemu-system-x86_64");
    return path;
}

const char *mig_test_qemu_10(void)
{
    static char *cached;
    const char *p = g_getenv("QMPKIT_QEMU_10");
    if (p && *p)
        return g_file_test(p, G_FILE_TEST_IS_EXECUTABLE) ? p : NULL;
    /* Where build.sh (../shared/tools/unpack-qemu-backports.sh) unpacks it. */
    if (!cached)
        cached = g_build_filename(g_get_user_cache_dir(), "qmpkit", "qemu-backports", "bin",
                                  "qemu-system-x86_64", NULL);
    return g_file_test(cached, G_FILE_TEST_IS_EXECUTABLE) ? cached : NULL;
}

/* Run argv (no shell), assert success, return its stdout. */
static char *run(const char *const *argv)
{
    GError *error = NULL;
    char *out = NULL;
    int status = 0;
    g_assert_true(g_spawn_sync(NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                               &out, NULL, &status, &error));
    g_assert_no_error(error);
    g_assert_true(g_spawn_check_wait_status(status, &error));
    g_assert_no_error(error);
    return out;
}

char *mig_test_rand_file(const char *dir)
{
    char *path = g_build_filename(dir, "rand.bin", NULL);
    if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
        /* A child writes it: 200 MiB through valgrind's syscall checks
         * would cost the test seconds. */
        g_autofree char *cmd = g_strdup_printf("head -c %d /dev/urandom > '%s'",
                                               MIG_RAND_SIZE, path);
        const char *argv[] = { "sh", "-c", cmd, NULL };
        g_free(run(argv));
    }
    return path;
}

char *mig_test_sha256(const char *path)
{
    const char *argv[] = { "sha256sum", path, NULL };
    g_autofree char *out = run(argv);
    g_assert_cmpuint(strlen(out), >=, 64);
    return g_strndup(out, 64);
}

char *mig_test_tmpdir(void)
{
    GError *error = NULL;
    char *dir = g_dir_make_tmp("qmpkit-migtest-XXXXXX", &error);
    g_assert_no_error(error);
    /* Removed on abort too (with the files it holds that matter). */
    static const char *const names[] = { "rand.bin", "src-mem.bin", "dst-mem.bin" };
    for (int i = 0; i < 3; i++)
        g_snprintf(abort_files[i], sizeof(abort_files[i]), "%s/%s", dir, names[i]);
    g_snprintf(abort_files[N_ABORT_FILES - 1], sizeof(abort_files[0]), "%s", dir);
    track_child(0);
    return dir;
}

void mig_test_rmdir(const char *dir)
{
    if (!dir)
        return;
    GDir *d = g_dir_open(dir, 0, NULL);
    if (d) {
        const char *name;
        while ((name = g_dir_read_name(d))) {
            g_autofree char *p = g_build_filename(dir, name, NULL);
            g_unlink(p);
        }
        g_dir_close(d);
    }
    g_rmdir(dir);
}

gboolean mig_test_rerecord(void)
{
    return g_strcmp0(g_getenv("QMPKIT_RERECORD"), "1") == 0;
}

char *mig_test_recordings_dir(void)
{
    const char *src = g_getenv("QMPKIT_SOURCE_DIR");
    return g_build_filename(src ? src : ".", "replay-tests", "recordings", NULL);
}

void mig_test_track_netns(const char *ip_path, const char *name)
{
    track_child(0);
    g_strlcpy(abort_ip, ip_path, sizeof(abort_ip));
    for (int i = 0; i < 2; i++)
        if (!abort_netns[i][0]) {
            g_strlcpy(abort_netns[i], name, sizeof(abort_netns[i]));
            return;
        }
}

void mig_test_untrack_netns(const char *name)
{
    for (int i = 0; i < 2; i++)
        if (strcmp(abort_netns[i], name) == 0)
            abort_netns[i][0] = 0;
}

/* ---- sides ------------------------------------------------------------------ */

static void on_event(QmpMonitor *mon, const char *event, const QmpJson *data,
                     gint64 ts, gpointer user_data)
{
    MigSide *side = user_data;
    (void) mon;
    (void) ts;
    if (strcmp(event, "MIGRATION") == 0) {
        const char *st = qmp_json_get_string(qmp_json_lookup(data, "status"));
        g_ptr_array_add(side->statuses, g_strdup(st ? st : "?"));
    }
    if (strcmp(event, "STOP") == 0 || strcmp(event, "RESUME") == 0)
        g_string_append_printf(side->events, "%s%s", side->events->len ? "," : "", event);
}

static void side_init(MigSide *side, const char *name, gboolean live)
{
    memset(side, 0, sizeof(*side));
    side->name = name;
    side->live = live;
    side->statuses = g_ptr_array_new_with_free_func(g_free);
    side->events = g_string_new(NULL);
}

void mig_side_spawn(MigSide *side, const char *name, const char *binary,
                    const char *machine, const char *rand, const char *cwd,
                    const char *record_path, const char *peer)
{
    mig_side_spawn_netns(side, name, binary, machine, rand, cwd, record_path, peer, NULL);
}

void mig_side_spawn_netns(MigSide *side, const char *name, const char *binary,
                          const char *machine, const char *rand, const char *cwd,
                          const char *record_path, const char *peer, const char *netns)
{
    GError *error = NULL;
    side_init(side, name, TRUE);
    side->mon = qmp_monitor_new(NULL);
    qmp_monitor_subscribe(side->mon, NULL, on_event, side, NULL);
    g_assert_true(qmp_monitor_record_to_file(side->mon, record_path, peer, &error));
    g_assert_no_error(error);
    /* A recording in the temporary folder goes too if the test aborts (not
     * one re-recorded into the source tree: it is left for a look). */
    if (!mig_test_rerecord())
        g_strlcpy(abort_files[rand ? 3 : 4], record_path, sizeof(abort_files[0]));
    g_autofree char *loader = rand ? g_strdup_printf("loader,file=%s,addr=0x%x", rand,
                                                     MIG_RAND_ADDR) : NULL;
    /* In a network namespace: `ip netns exec NS QEMU ARGS...` (ip execs
     * QEMU in place, so the pid is QEMU's). */
    g_autofree char *ip = netns ? g_find_program_in_path("ip") : NULL;
    const char *argv[] = {
        "netns", "exec", netns, binary,
        "-machine", machine, "-accel", "tcg", "-m", "512", "-nodefaults",
        "-display", "none",
        rand ? "-device" : "-incoming", rand ? loader : "defer", NULL
    };
    if (netns)
        g_assert_nonnull(ip);
    /* QEMU resolves relative paths (pmemsave files) in its cwd. */
    g_autofree char *here = g_get_current_dir();
    g_assert_cmpint(chdir(cwd), ==, 0);
    gboolean ok = qmp_monitor_spawn(side->mon, netns ? ip : binary, netns ? argv : argv + 4,
                                    &error);
    g_assert_cmpint(chdir(here), ==, 0);
    g_assert_no_error(error);
    g_assert_true(ok);
    side->pid = qmp_monitor_get_pid(side->mon);
    track_child(side->pid);
}

void mig_side_replay(MigSide *side, const char *name, const char *record_path)
{
    GError *error = NULL;
    side_init(side, name, FALSE);
    g_autoptr(QmpReplay) rec = qmp_replay_load(record_path, &error);
    g_assert_no_error(error);
    g_autoptr(QmpReplay) schema_rec = NULL;
    const QmpJson *schema = qmp_replay_get_recorded_schema(rec);
    if (!schema) {
        g_autofree char *dir = mig_test_recordings_dir();
        g_autofree char *path = g_build_filename(dir, "introspection.jsonl", NULL);
        schema_rec = qmp_replay_load(path, &error);
        g_assert_no_error(error);
        schema = qmp_replay_get_recorded_schema(schema_rec);
        g_assert_nonnull(schema);
    }
    side->mon = qmp_replay_test_start_full(rec, QMP_REPLAY_STRICT, schema, &side->server);
    qmp_monitor_subscribe(side->mon, NULL, on_event, side, NULL);
}

void mig_side_handshake(MigSide *side)
{
    GError *error = NULL;
    g_assert_true(qmp_monitor_handshake(side->mon, QMP_HANDSHAKE_OOB, 30000, &error));
    g_assert_no_error(error);
    g_assert_true(qmp_monitor_get_oob_enabled(side->mon));
}

void mig_side_finish(MigSide *side)
{
    if (side->server)
        qmp_replay_test_assert_done(side->server);
    g_clear_object(&side->mon); /* ends QEMU, completes the recording */
    if (side->pid)
        untrack_child(side->pid);
    g_clear_pointer(&side->server, qmp_replay_server_free);
    g_clear_pointer(&side->statuses, g_ptr_array_unref);
    if (side->events)
        g_string_free(side->events, TRUE);
    side->events = NULL;
}

/* ---- waiting ---------------------------------------------------------------- */

static gboolean on_timeout(gpointer data)
{
    *(gboolean *) data = TRUE;
    return G_SOURCE_REMOVE;
}

void mig_sleep(MigSide *side, guint ms)
{
    if (!side->live)
        return;
    gboolean done = FALSE;
    GSource *t = g_timeout_source_new(ms);
    g_source_set_callback(t, on_timeout, &done, NULL);
    g_source_attach(t, g_main_context_get_thread_default());
    while (!done)
        g_main_context_iteration(g_main_context_get_thread_default(), TRUE);
    g_source_destroy(t);
    g_source_unref(t);
}

static gboolean seen(MigSide *side, const char *status)
{
    for (guint i = 0; i < side->statuses->len; i++)
        if (strcmp(g_ptr_array_index(side->statuses, i), status) == 0)
            return TRUE;
    return FALSE;
}

void mig_side_wait_event(MigSide *side, const char *status)
{
    gboolean expired = FALSE;
    GMainContext *ctx = g_main_context_get_thread_default();
    GSource *t = g_timeout_source_new(MIG_WAIT_MS);
    g_source_set_callback(t, on_timeout, &expired, NULL);
    g_source_attach(t, ctx);
    while (!seen(side, status) && !expired && qmp_monitor_is_connected(side->mon))
        g_main_context_iteration(ctx, TRUE);
    g_source_destroy(t);
    g_source_unref(t);
    if (!seen(side, status)) {
        g_autoptr(GString) all = g_string_new(NULL);
        for (guint i = 0; i < side->statuses->len; i++)
            g_string_append_printf(all, "%s%s", i ? "," : "",
                                   (char *) g_ptr_array_index(side->statuses, i));
        g_error("%s: no MIGRATION event '%s' (seen: %s)", side->name, status, all->str);
    }
}

void mig_side_wait_run_event(MigSide *side, const char *event)
{
    gboolean expired = FALSE;
    GMainContext *ctx = g_main_context_get_thread_default();
    GSource *t = g_timeout_source_new(MIG_WAIT_MS);
    g_source_set_callback(t, on_timeout, &expired, NULL);
    g_source_attach(t, ctx);
    while (!strstr(side->events->str, event) && !expired && qmp_monitor_is_connected(side->mon))
        g_main_context_iteration(ctx, TRUE);
    g_source_destroy(t);
    g_source_unref(t);
    if (!strstr(side->events->str, event))
        g_error("%s: no %s event (seen: %s)", side->name, event, side->events->str);
}

QmpMigrationInfo *mig_side_poll(MigSide *side, const char *const *wanted)
{
    gint64 deadline = g_get_monotonic_time() + MIG_WAIT_MS * (gint64) 1000;
    for (;;) {
        GError *error = NULL;
        QmpMigrationInfo *info = qmp_query_migrate(side->mon, &error);
        g_assert_no_error(error);
        const char *st = info->has_status ? qmp_migration_status_to_string(info->status) : "none";
        if (g_strv_contains(wanted, st))
            return info;
        if (strcmp(st, "failed") == 0)
            g_error("%s: migration failed: %s", side->name,
                    info->error_desc ? info->error_desc : "(no reason)");
        qmp_migration_info_free(info);
        if (side->live && g_get_monotonic_time() > deadline)
            g_error("%s: migration status never became %s (now %s)", side->name, wanted[0], st);
        mig_sleep(side, 50);
    }
}

void mig_side_set_caps(MigSide *side, const QmpMigrationCapability *caps, guint n)
{
    GError *error = NULL;
    QmpMigrationCapabilityStatus items[16];
    QmpMigrationCapabilityStatus *ptrs[16];
    g_assert_cmpuint(n, <=, 16);
    for (guint i = 0; i < n; i++) {
        items[i] = (QmpMigrationCapabilityStatus){ caps[i], TRUE };
        ptrs[i] = &items[i];
    }
    QmpMigrateSetCapabilitiesArgs args = { ptrs, n };
    g_assert_true(qmp_migrate_set_capabilities(side->mon, &args, &error));
    g_assert_no_error(error);
}

void mig_side_pmemsave(MigSide *side, const char *file)
{
    GError *error = NULL;
    g_autofree char *args = g_strdup_printf("{\"val\": %d, \"size\": %d, \"filename\": \"%s\"}",
                                            MIG_RAND_ADDR, MIG_RAND_SIZE, file);
    g_autoptr(QmpJsonDoc) doc = qmp_monitor_execute(side->mon, "pmemsave", args, 0, NULL, 0,
                                                    MIG_WAIT_MS, NULL, &error);
    g_assert_no_error(error);
}

void mig_side_quit(MigSide *side)
{
    GError *error = NULL;
    if (!qmp_quit(side->mon, &error)) {
        g_assert_error(error, QMP_ERROR, QMP_ERROR_CLOSED);
        g_clear_error(&error);
    }
}

char *mig_recorded_uri(const char *path, const char *command, guint nth)
{
    GError *error = NULL;
    g_autoptr(QmpReplay) rec = qmp_replay_load(path, &error);
    g_assert_no_error(error);
    for (guint i = 0; i < qmp_replay_get_n_messages(rec); i++) {
        QmpReplayMsgKind kind;
        const QmpJson *m = qmp_replay_get_message(rec, i, NULL, &kind, NULL, NULL, NULL);
        if (kind != QMP_REPLAY_MSG_COMMAND)
            continue;
        const char *name = qmp_json_get_string(qmp_json_lookup(m, "execute"));
        if (!name)
            name = qmp_json_get_string(qmp_json_lookup(m, "exec-oob"));
        if (g_strcmp0(name, command) != 0 || nth-- > 0)
            continue;
        const QmpJson *uri = qmp_json_lookup(qmp_json_lookup(m, "arguments"), "uri");
        g_assert_nonnull(qmp_json_get_string(uri));
        return g_strdup(qmp_json_get_string(uri));
    }
    g_error("%s: no command %s (#%u) with a uri", path, command, nth);
}
