/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* migration-harness.c: see migration-harness.h. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include "migration-harness.h"
#include "migration-linkcut-proxy.h"

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
/* MigPair folders (the recordings', a pair's), removed with rm -rf. */
static char abort_dirs[2][4096];

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
    for (int i = 0; i < 2; i++) {
        if (!abort_dirs[i][0])
            continue;
        pid_t pid = fork();
        if (pid == 0) {
            char *const argv[] = { "rm", "-rf", abort_dirs[i], NULL };
            char *const envp[] = { NULL };
            execve("/bin/rm", argv, envp);
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
        signal(SIGTRAP, kill_children);
        signal(SIGSEGV, kill_children);
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

/* A MigPair folder goes if the test aborts (slot 0: the recordings',
 * 1: the live pair's); NULL: no longer. */
static void track_dir(int slot, const char *dir)
{
    track_child(0);
    if (dir && !g_getenv("QMPKIT_KEEP_TMP"))
        g_strlcpy(abort_dirs[slot], dir, sizeof(abort_dirs[slot]));
    else
        abort_dirs[slot][0] = 0;
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

/* A file of ours under the user cache directory (made there). */
static char *cache_file(const char *name)
{
    g_autofree char *dir = g_build_filename(g_get_user_cache_dir(), "qmpkit", NULL);
    g_mkdir_with_parents(dir, 0755);
    return g_build_filename(dir, name, NULL);
}

const char *mig_test_rand_file(void)
{
    static char *path;
    if (path)
        return path;
    path = cache_file("migration-guest-200m.bin");
    GStatBuf st;
    if (g_stat(path, &st) == 0 && (guint64) st.st_size == MIG_GUEST_SIZE)
        return path;
    /* xorshift64*: random-looking, incompressible, the same everywhere. */
    g_autofree char *tmp = g_strdup_printf("%s.%d", path, getpid());
    FILE *f = fopen(tmp, "wb");
    g_assert_nonnull(f);
    guint64 x = 0x9E3779B97F4A7C15ull;
    guint64 buf[8192];
    for (gsize done = 0; done < MIG_GUEST_SIZE; done += sizeof(buf)) {
        for (gsize i = 0; i < G_N_ELEMENTS(buf); i++) {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            buf[i] = x * 0x2545F4914F6CDD1Dull;
        }
        g_assert_cmpuint(fwrite(buf, 1, sizeof(buf), f), ==, sizeof(buf));
    }
    g_assert_cmpint(fclose(f), ==, 0);
    g_assert_cmpint(g_rename(tmp, path), ==, 0);
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
                                                     MIG_GUEST_ADDR) : NULL;
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

void mig_sides_handshake(MigSide *src, MigSide *dst)
{
    mig_side_handshake(src);
    mig_side_handshake(dst);
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

static gboolean seen_run_event(MigSide *side, const char *event)
{
    return strstr(side->events->str, event) != NULL;
}

/* Iterate the thread-default context until done(side, what), MIG_WAIT_MS
 * or the monitor's end. */
static void wait_until(MigSide *side, gboolean (*done)(MigSide *, const char *),
                       const char *what)
{
    gboolean expired = FALSE;
    GMainContext *ctx = g_main_context_get_thread_default();
    GSource *t = g_timeout_source_new(MIG_WAIT_MS);
    g_source_set_callback(t, on_timeout, &expired, NULL);
    g_source_attach(t, ctx);
    while (!done(side, what) && !expired && qmp_monitor_is_connected(side->mon))
        g_main_context_iteration(ctx, TRUE);
    g_source_destroy(t);
    g_source_unref(t);
}

void mig_side_wait_event(MigSide *side, const char *status)
{
    wait_until(side, seen, status);
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
    wait_until(side, seen_run_event, event);
    if (!seen_run_event(side, event))
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
    g_autofree char *args = g_strdup_printf("{\"val\": %u, \"size\": %u, \"filename\": \"%s\"}",
                                            MIG_GUEST_ADDR, MIG_GUEST_SIZE, file);
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

void mig_recording_foreach_command(const char *path, MigCommandFunc fn, gpointer data)
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
        gboolean oob = !name;
        if (oob)
            name = qmp_json_get_string(qmp_json_lookup(m, "exec-oob"));
        fn(name, m, oob, data);
    }
}

typedef struct {
    const char *command;
    guint nth;
    QmpJsonDoc *found;
} FindCommand;

static void find_command(const char *name, const QmpJson *msg, gboolean oob, gpointer data)
{
    FindCommand *f = data;
    (void) oob;
    if (!f->found && g_strcmp0(name, f->command) == 0 && f->nth-- == 0)
        f->found = qmp_json_copy(msg);
}

/* A copy of the nth (0-based) command named command in a recording, or
 * NULL. */
static QmpJsonDoc *recorded_command(const char *path, const char *command, guint nth)
{
    FindCommand f = { command, nth, NULL };
    mig_recording_foreach_command(path, find_command, &f);
    return f.found;
}

char *mig_recorded_uri(const char *path, const char *command, guint nth)
{
    g_autoptr(QmpJsonDoc) doc = recorded_command(path, command, nth);
    const QmpJson *m = doc ? qmp_json_doc_root(doc) : NULL;
    if (!m)
        g_error("%s: no command %s (#%u) with a uri", path, command, nth);
    const QmpJson *uri = qmp_json_lookup(qmp_json_lookup(m, "arguments"), "uri");
    g_assert_nonnull(qmp_json_get_string(uri));
    return g_strdup(qmp_json_get_string(uri));
}

void mig_side_join_statuses(GString *out, const char *label, MigSide *side)
{
    g_string_append_printf(out, " %s=", label);
    for (guint i = 0; i < side->statuses->len; i++)
        g_string_append_printf(out, "%s%s", i ? "," : "",
                               (char *) g_ptr_array_index(side->statuses, i));
}

void mig_switch_when_active(QmpMigration *mig, const QmpMigrationProgress *p, gpointer data)
{
    gboolean *asked = data;
    GError *error = NULL;
    if (!*asked && p->status == QMP_MIGRATION_STATUS_ACTIVE) {
        *asked = TRUE;
        g_assert_true(qmp_migration_start_postcopy(mig, &error));
        g_assert_no_error(error);
    }
}

void mig_test_spawn_xver(MigSide *src, MigSide *dst, gboolean src_is_10, const char *tmpdir,
                         const char *sp, const char *dp, const char *what)
{
    const char *q72 = mig_test_qemu_72(), *q10 = mig_test_qemu_10();
    const char *v_src = src_is_10 ? "10.0" : "7.2", *v_dst = src_is_10 ? "7.2" : "10.0";
    g_autofree char *p_src = g_strdup_printf("qemu-%s pc-q35-7.2 migration source (%sto %s)",
                                             v_src, what, v_dst);
    g_autofree char *p_dst = g_strdup_printf("qemu-%s pc-q35-7.2 migration destination "
                                             "(%sfrom %s)", v_dst, what, v_src);
    mig_side_spawn(src, "source", src_is_10 ? q10 : q72, "pc-q35-7.2", mig_test_rand_file(),
                   tmpdir, sp, p_src);
    mig_side_spawn(dst, "destination", src_is_10 ? q72 : q10, "pc-q35-7.2", NULL, tmpdir, dp,
                   p_dst);
}

void mig_side_set_postcopy_bandwidth(MigSide *side, guint64 bps)
{
    GError *error = NULL;
    QmpMigrateSetParameters p = { 0 };
    p.has_max_postcopy_bandwidth = TRUE;
    p.max_postcopy_bandwidth = bps;
    g_assert_true(qmp_migrate_set_parameters(side->mon, &p, &error));
    g_assert_no_error(error);
}

void mig_sides_save_memory(MigSide *src, MigSide *dst)
{
    GError *error = NULL;
    mig_side_wait_event(dst, "completed");
    g_assert_true(qmp_stop(dst->mon, &error));
    g_assert_no_error(error);
    mig_side_pmemsave(src, "src-mem.bin");
    mig_side_pmemsave(dst, "dst-mem.bin");
}

void mig_sides_summary_quit(GString *out, MigSide *src, MigSide *dst)
{
    mig_side_join_statuses(out, "src", src);
    mig_side_join_statuses(out, "dst", dst);
    mig_side_quit(src);
    mig_side_quit(dst);
}

char *mig_test_free_tcp_uri(void)
{
    GError *error = NULL;
    guint16 port = mig_proxy_free_port(&error);
    g_assert_no_error(error);
    return g_strdup_printf("tcp:127.0.0.1:%u", port);
}

/* ---- the common tail of a MigSide test ---------------------------------------- */

void mig_test_paths(const char *dir, const char *prefix, const char *name, char **src,
                    char **dst)
{
    g_autofree char *s = g_strdup_printf("migration-%s-%s-source.jsonl", prefix, name);
    g_autofree char *d = g_strdup_printf("migration-%s-%s-destination.jsonl", prefix, name);
    *src = g_build_filename(dir, s, NULL);
    *dst = g_build_filename(dir, d, NULL);
}

void mig_test_assert_memory_files(const char *tmpdir)
{
    static char *h_rand;
    if (!h_rand)
        h_rand = mig_test_sha256(mig_test_rand_file());
    g_autofree char *sm = g_build_filename(tmpdir, "src-mem.bin", NULL);
    g_autofree char *dm = g_build_filename(tmpdir, "dst-mem.bin", NULL);
    g_autofree char *h_src = mig_test_sha256(sm);
    g_autofree char *h_dst = mig_test_sha256(dm);
    g_unlink(sm);
    g_unlink(dm);
    g_assert_cmpstr(h_src, ==, h_rand);
    g_assert_cmpstr(h_dst, ==, h_rand);
}

void mig_test_live_paths(const char *tmpdir, const char *prefix, const char *name,
                         char **recdir, char **src, char **dst)
{
    *recdir = mig_test_rerecord() ? mig_test_recordings_dir() : g_strdup(tmpdir);
    mig_test_paths(*recdir, prefix, name, src, dst);
}

char *mig_test_replay_case(const char *dir, const char *prefix, gconstpointer c,
                           MigReplayFunc fn)
{
    g_autofree char *tree = dir ? NULL : mig_test_recordings_dir();
    g_autofree char *sp = NULL, *dp = NULL;
    mig_test_paths(dir ? dir : tree, prefix, *(const char *const *) c, &sp, &dp);
    MigSide src, dst;
    mig_side_replay(&src, "source", sp);
    mig_side_replay(&dst, "destination", dp);
    GString *out = g_string_new(NULL);
    fn(&src, &dst, sp, dp, c, out);
    mig_side_finish(&src);
    mig_side_finish(&dst);
    if (!dir)
        g_test_message("%s", out->str);
    return g_string_free(out, FALSE);
}

void mig_test_live_done(MigSide *src, MigSide *dst, GString *out, const char *tmpdir,
                        gboolean check_memory, const char *recdir, const char *prefix,
                        gconstpointer c, MigReplayFunc fn)
{
    g_test_message("live: %s", out->str);
    mig_side_finish(src);
    mig_side_finish(dst);
    if (check_memory)
        mig_test_assert_memory_files(tmpdir);
    g_autofree char *again = mig_test_replay_case(recdir, prefix, c, fn);
    g_assert_cmpstr(again, ==, out->str);
    if (!mig_test_rerecord()) {
        g_autofree char *sp = NULL, *dp = NULL;
        mig_test_paths(recdir, prefix, *(const char *const *) c, &sp, &dp);
        g_unlink(sp);
        g_unlink(dp);
    }
}

static const char *main_group;
static MigReplayFunc main_replay;

static void replay_case(gconstpointer c)
{
    g_free(mig_test_replay_case(NULL, main_group, c, main_replay));
}

int mig_test_init(int *argc, char ***argv, gboolean need_10, gboolean *live)
{
    *live = *argc > 1 && strcmp((*argv)[1], "--live") == 0;
    g_test_init(argc, argv, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (*live && !mig_test_qemu_72()) {
        g_print("skipped: qemu-system-x86_64 not found in PATH\n");
        return 77;
    }
    if (*live && need_10 && !mig_test_qemu_10()) {
        const char *shared = g_getenv("QMPKIT_SHARED_DIR");
        if (!shared || !g_file_test(shared, G_FILE_TEST_IS_DIR)) {
            g_print("skipped: no ../shared, so no QEMU 10.0 (QMPKIT_QEMU_10 unset)\n");
            return 77;
        }
        g_printerr("QEMU 10.0 not found although ../shared exists: run "
                   "../shared/tools/unpack-qemu-backports.sh (build.sh test does) and export "
                   "QMPKIT_QEMU_10 with the path it prints\n");
        return 1;
    }
    return -1;
}

int mig_test_run_cases(const char *group, gconstpointer cases, gsize n, gsize case_size,
                       gboolean live, GTestDataFunc live_fn, GTestDataFunc replay_test,
                       MigReplayFunc replay_fn, char **tmpdir)
{
    main_group = group;
    main_replay = replay_fn;
    for (gsize i = 0; i < n; i++) {
        gconstpointer c = (const char *) cases + i * case_size;
        g_autofree char *name = g_strdup_printf("/migration/%s/%s/%s", group,
                                                live ? "live" : "replay",
                                                *(const char *const *) c);
        g_test_add_data_func(name, c, live ? live_fn : replay_test ? replay_test : replay_case);
    }
    if (live)
        *tmpdir = mig_test_tmpdir();
    int rc = g_test_run();
    mig_test_rmdir(*tmpdir);
    g_clear_pointer(tmpdir, g_free);
    return rc;
}

int mig_test_main(int argc, char **argv, const char *group, gconstpointer cases, gsize n,
                  gsize case_size, GTestDataFunc live_fn, MigReplayFunc replay_fn,
                  gboolean need_10, char **tmpdir)
{
    gboolean live = FALSE;
    int rc = mig_test_init(&argc, &argv, need_10, &live);
    if (rc >= 0)
        return rc;
    return mig_test_run_cases(group, cases, n, case_size, live, live_fn, NULL, replay_fn, tmpdir);
}

/* ---- the cross-version tests ------------------------------------------------------ */

static const MigXverCase xver_cases[] = {
    { "72-to-10-precopy", FALSE, FALSE },
    { "72-to-10-postcopy-preempt", FALSE, TRUE },
    { "10-to-72-precopy", TRUE, FALSE },
    { "10-to-72-postcopy-preempt", TRUE, TRUE },
};
static const char *xver_group, *xver_what;
static MigXverScenario xver_fn;
static char *xver_tmpdir;

static void xver_replay_run(MigSide *src, MigSide *dst, const char *sp, const char *dp,
                            gconstpointer c, GString *out)
{
    (void) sp;
    g_autofree char *uri = mig_recorded_uri(dp, "migrate-incoming", 0);
    xver_fn(src, dst, uri, c, out);
}

static void xver_live(gconstpointer data)
{
    const MigXverCase *c = data;
    g_autofree char *recdir = NULL, *sp = NULL, *dp = NULL;
    mig_test_live_paths(xver_tmpdir, xver_group, c->name, &recdir, &sp, &dp);
    g_autofree char *uri = mig_test_free_tcp_uri();
    MigSide src, dst;
    mig_test_spawn_xver(&src, &dst, c->src_is_10, xver_tmpdir, sp, dp, xver_what);
    g_autoptr(GString) out = g_string_new(NULL);
    xver_fn(&src, &dst, uri, c, out);
    mig_test_live_done(&src, &dst, out, xver_tmpdir, TRUE, recdir, xver_group, c,
                       xver_replay_run);
}

int mig_xver_main(int argc, char **argv, const char *group, const char *what,
                  MigXverScenario fn)
{
    xver_group = group;
    xver_what = what;
    xver_fn = fn;
    return mig_test_main(argc, argv, group, xver_cases, G_N_ELEMENTS(xver_cases),
                         sizeof(MigXverCase), xver_live, xver_replay_run, TRUE, &xver_tmpdir);
}

/* ---- MigPair ---------------------------------------------------------------- */

static char *record_tmp;

const char *mig_harness_record_dir(void)
{
    static char *dir;
    if (dir)
        return dir;
    if (g_strcmp0(g_getenv("QMPKIT_RERECORD"), "1") == 0) {
        dir = mig_test_recordings_dir();
    } else {
        record_tmp = g_dir_make_tmp("qmpkit-migrec-XXXXXX", NULL);
        g_assert_nonnull(record_tmp);
        track_dir(0, record_tmp);
        dir = g_strdup(record_tmp);
    }
    return dir;
}

void mig_harness_cleanup(void)
{
    if (record_tmp && !g_getenv("QMPKIT_KEEP_TMP"))
        mig_test_rmdir(record_tmp);
    g_clear_pointer(&record_tmp, g_free);
    track_dir(0, NULL);
}

static char *rec_path(const char *dir, const char *name, gboolean source)
{
    g_autofree char *base = g_strdup_printf("migration-%s-%s.jsonl", name,
                                            source ? "source" : "destination");
    return g_build_filename(dir, base, NULL);
}

static QmpMonitor *spawn(const char *qemu, GPtrArray *argv, const char *record,
                         const char *peer)
{
    GError *error = NULL;
    QmpMonitor *mon = qmp_monitor_new(NULL);
    g_assert_true(qmp_monitor_record_to_file(mon, record, peer, &error));
    g_assert_no_error(error);
    g_ptr_array_add(argv, NULL);
    g_assert_true(qmp_monitor_spawn(mon, qemu, (const char *const *) argv->pdata, &error));
    g_assert_no_error(error);
    track_child(qmp_monitor_get_pid(mon));
    return mon;
}

MigPair *mig_pair_new_live(const char *name, const char *src_qemu, const char *dst_qemu,
                           const char *machine, const char *const *src_extra,
                           const char *const *dst_extra)
{
    GError *error = NULL;
    MigPair *p = g_new0(MigPair, 1);
    p->live = TRUE;
    p->name = g_strdup(name);
    p->tmpdir = g_dir_make_tmp("qmpkit-mig-XXXXXX", &error);
    g_assert_no_error(error);
    track_dir(1, p->tmpdir);
    p->record_dir = g_strdup(mig_harness_record_dir());
    const char *rand = mig_test_rand_file();
    g_autofree char *loader = g_strdup_printf("loader,file=%s,addr=0x%x", rand, MIG_GUEST_ADDR);
    const char *common[] = { "-machine", machine, "-accel", "tcg", "-m", "512", "-nodefaults",
                             "-display", "none", NULL };

    g_autofree char *cwd = g_get_current_dir();
    g_assert_cmpint(chdir(p->tmpdir), ==, 0);
    g_autoptr(GPtrArray) sa = g_ptr_array_new();
    for (guint i = 0; common[i]; i++)
        g_ptr_array_add(sa, (gpointer) common[i]);
    g_ptr_array_add(sa, (gpointer) "-device");
    g_ptr_array_add(sa, loader);
    for (guint i = 0; src_extra && src_extra[i]; i++)
        g_ptr_array_add(sa, (gpointer) src_extra[i]);
    g_autofree char *srec = rec_path(p->record_dir, name, TRUE);
    p->src = spawn(src_qemu, sa, srec, "qemu migration source");

    g_autoptr(GPtrArray) da = g_ptr_array_new();
    for (guint i = 0; common[i]; i++)
        g_ptr_array_add(da, (gpointer) common[i]);
    g_ptr_array_add(da, (gpointer) "-incoming");
    g_ptr_array_add(da, (gpointer) "defer");
    for (guint i = 0; dst_extra && dst_extra[i]; i++)
        g_ptr_array_add(da, (gpointer) dst_extra[i]);
    g_autofree char *drec = rec_path(p->record_dir, name, FALSE);
    p->dst = spawn(dst_qemu, da, drec, "qemu migration destination");
    g_assert_cmpint(chdir(cwd), ==, 0);

    g_assert_true(qmp_monitor_handshake(p->src, QMP_HANDSHAKE_OOB, 20000, &error));
    g_assert_no_error(error);
    g_assert_true(qmp_monitor_handshake(p->dst, QMP_HANDSHAKE_OOB, 20000, &error));
    g_assert_no_error(error);
    return p;
}

MigPair *mig_pair_new_replay(const char *name, const char *dir)
{
    MigPair *p = g_new0(MigPair, 1);
    p->name = g_strdup(name);
    p->record_dir = dir ? g_strdup(dir) : mig_test_recordings_dir();
    g_autofree char *srec = rec_path(p->record_dir, name, TRUE);
    g_autofree char *drec = rec_path(p->record_dir, name, FALSE);
    p->src = qmp_replay_test_start(srec, QMP_REPLAY_STRICT, &p->src_server);
    p->dst = qmp_replay_test_start(drec, QMP_REPLAY_STRICT, &p->dst_server);
    GError *error = NULL;
    g_assert_true(qmp_monitor_handshake(p->src, QMP_HANDSHAKE_OOB, 5000, &error));
    g_assert_no_error(error);
    g_assert_true(qmp_monitor_handshake(p->dst, QMP_HANDSHAKE_OOB, 5000, &error));
    g_assert_no_error(error);
    return p;
}

QmpCaps *mig_pair_caps(MigPair *p, const char *caps_name, const char *qemu)
{
    GError *error = NULL;
    g_autofree char *base = g_strdup_printf("migration-caps-%s.xml", caps_name);
    g_autofree char *path = g_build_filename(p->record_dir, base, NULL);
    if (!p->live) {
        QmpCaps *c = qmp_caps_load(path, &error);
        g_assert_no_error(error);
        return c;
    }
    QmpCaps *c = qmp_caps_probe_binary(qemu, QMP_CAPS_NONE, &error);
    g_assert_no_error(error);
    /* Saved beside the recordings, without the cache key: only the
     * answers matter to a replay. */
    gsize len = 0;
    g_autofree char *xml = qmp_caps_to_xml(c, &len);
    g_autoptr(QmpCaps) plain = qmp_caps_from_xml(xml, len, &error);
    g_assert_no_error(error);
    g_assert_true(qmp_caps_save(plain, path, &error));
    g_assert_no_error(error);
    return c;
}

void mig_pair_stop_recording(MigPair *p)
{
    qmp_monitor_set_trace(p->src, NULL, NULL, NULL);
    qmp_monitor_set_trace(p->dst, NULL, NULL, NULL);
}

/* SHA-256 of path, which must be `size` bytes long. */
static char *file_sha256(const char *path, gsize size)
{
    GStatBuf st;
    g_assert_cmpint(g_stat(path, &st), ==, 0);
    g_assert_cmpuint((guint64) st.st_size, ==, size);
    return mig_test_sha256(path);
}

static void pmemsave(QmpMonitor *mon, const char *file)
{
    GError *error = NULL;
    g_autofree char *args = g_strdup_printf("{\"val\":%u,\"size\":%u,\"filename\":\"%s\"}",
                                            MIG_GUEST_ADDR, MIG_GUEST_SIZE, file);
    g_autoptr(QmpJsonDoc) doc = qmp_monitor_execute(mon, "pmemsave", args, 0, NULL, 0,
                                                    60000, NULL, &error);
    g_assert_no_error(error);
}

void mig_pair_assert_memory_equal(MigPair *p)
{
    GError *error = NULL;
    g_assert_true(p->live);
    mig_pair_stop_recording(p);
    g_autoptr(QmpJsonDoc) st = qmp_monitor_execute(p->dst, "stop", NULL, 0, NULL, 0, 20000,
                                                   NULL, &error);
    g_assert_no_error(error);
    g_autofree char *sfile = g_build_filename(p->tmpdir, "src.mem", NULL);
    g_autofree char *dfile = g_build_filename(p->tmpdir, "dst.mem", NULL);
    pmemsave(p->src, sfile);
    pmemsave(p->dst, dfile);
    static char *want;
    if (!want)
        want = file_sha256(mig_test_rand_file(), MIG_GUEST_SIZE);
    g_autofree char *shash = file_sha256(sfile, MIG_GUEST_SIZE);
    g_autofree char *dhash = file_sha256(dfile, MIG_GUEST_SIZE);
    g_unlink(sfile);
    g_unlink(dfile);
    g_assert_cmpstr(shash, ==, want);
    g_assert_cmpstr(dhash, ==, want);
}

static void kill_side(MigPair *p, QmpMonitor *mon, QmpReplayServer **server)
{
    if (p->live) {
        GPid pid = qmp_monitor_get_pid(mon);
        g_assert_cmpint(pid, >, 0);
        untrack_child(pid);
        kill(pid, SIGKILL);
    } else {
        /* The recording ends where the QEMU died: close the connection.
         * (Commands the live client wrote before it saw the EOF are in the
         * recording but need not come again: the replay stops checking
         * here; everything before was checked as it came.) */
        qmp_replay_server_free(*server);
        *server = NULL;
    }
}

void mig_pair_kill_source(MigPair *p)
{
    kill_side(p, p->src, &p->src_server);
}

void mig_pair_kill_destination(MigPair *p)
{
    kill_side(p, p->dst, &p->dst_server);
}

char *mig_recording_arg(const char *dir, const char *name, gboolean is_source,
                        const char *command, guint index, const char *member)
{
    g_autofree char *d = dir ? g_strdup(dir) : mig_test_recordings_dir();
    g_autofree char *path = rec_path(d, name, is_source);
    g_autoptr(QmpJsonDoc) doc = recorded_command(path, command, index);
    const QmpJson *msg = doc ? qmp_json_doc_root(doc) : NULL;
    if (!msg)
        return NULL;
    if (!member)
        return g_strdup("");
    const QmpJson *args = qmp_json_lookup(msg, "arguments");
    const char *v = args ? qmp_json_get_string(qmp_json_lookup(args, member)) : NULL;
    return g_strdup(v);
}

guint mig_recording_count(const char *dir, const char *name, gboolean is_source,
                          const char *command)
{
    guint n = 0;
    for (;;) {
        g_autofree char *v = mig_recording_arg(dir, name, is_source, command, n, NULL);
        if (!v)
            return n;
        n++;
    }
}

guint mig_recording_grep(const char *dir, const char *name, gboolean is_source,
                         const char *needle)
{
    g_autofree char *d = dir ? g_strdup(dir) : mig_test_recordings_dir();
    g_autofree char *path = rec_path(d, name, is_source);
    g_autofree char *text = NULL;
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    guint n = 0;
    for (char **l = lines; *l; l++) {
        if (!**l || !strstr(*l, needle))
            continue;
        /* Parsed, so the recorder's spacing does not matter. */
        g_autoptr(QmpJsonDoc) doc = qmp_json_parse(*l, strlen(*l), 64, NULL);
        const char *dir = doc ? qmp_json_get_string(qmp_json_lookup(qmp_json_doc_root(doc), "dir"))
                              : NULL;
        if (dir && g_str_equal(dir, "out"))
            n++;
    }
    return n;
}

void mig_pair_free(MigPair *p)
{
    if (!p)
        return;
    if (!p->live) {
        if (p->src_server)
            qmp_replay_test_assert_done(p->src_server);
        if (p->dst_server)
            qmp_replay_test_assert_done(p->dst_server);
    } else {
        mig_pair_stop_recording(p);
    }
    if (p->live) {
        untrack_child(qmp_monitor_get_pid(p->src));
        untrack_child(qmp_monitor_get_pid(p->dst));
    }
    qmp_monitor_close(p->src);
    qmp_monitor_close(p->dst);
    g_object_unref(p->src);
    g_object_unref(p->dst);
    qmp_replay_server_free(p->src_server);
    qmp_replay_server_free(p->dst_server);
    if (p->tmpdir && !g_getenv("QMPKIT_KEEP_TMP"))
        mig_test_rmdir(p->tmpdir);
    if (p->live)
        track_dir(1, NULL);
    g_free(p->tmpdir);
    g_free(p->record_dir);
    g_free(p->name);
    g_free(p);
}

/* The dirtying guest's boot sector (see the header): 16-bit code at 0x7c00
 * that enters flat 32-bit protected mode and rewrites its region forever. */
static const guint8 dirty_boot_code[] = {
    0xfa, 0xfc,                         /* cli; cld */
    0xe4, 0x92, 0x0c, 0x02, 0xe6, 0x92, /* A20 on (port 0x92) */
    0x31, 0xc0, 0x8e, 0xd8,             /* xor ax,ax; mov ds,ax */
    0x0f, 0x01, 0x16, 0x50, 0x7c,       /* lgdt [0x7c50] */
    0x0f, 0x20, 0xc0, 0x0c, 0x01,       /* mov eax,cr0; or al,1 */
    0x0f, 0x22, 0xc0,                   /* mov cr0,eax */
    0xea, 0x1e, 0x7c, 0x08, 0x00,       /* jmp 0x08:0x7c1e */
    /* 0x7c1e, 32-bit: ds = es = ss = 0x10 (flat data) */
    0x66, 0xb8, 0x10, 0x00, 0x8e, 0xd8, 0x8e, 0xc0, 0x8e, 0xd0,
    /* 0x7c28: loop: mov edi,MIG_DIRTY_ADDR; mov ecx,MIG_DIRTY_SIZE/4 */
    0xbf, MIG_DIRTY_ADDR & 0xff, (MIG_DIRTY_ADDR >> 8) & 0xff,
    (MIG_DIRTY_ADDR >> 16) & 0xff, MIG_DIRTY_ADDR >> 24,
    0xb9, (MIG_DIRTY_SIZE / 4) & 0xff, ((MIG_DIRTY_SIZE / 4) >> 8) & 0xff,
    ((MIG_DIRTY_SIZE / 4) >> 16) & 0xff, (MIG_DIRTY_SIZE / 4) >> 24,
    0x40, 0xf3, 0xab,                   /* inc eax; rep stosd */
    0xeb, 0xf1,                         /* jmp loop */
    0x90,
    /* 0x7c38: GDT: null, flat 4 GiB code (0x08), flat 4 GiB data (0x10) */
    0, 0, 0, 0, 0, 0, 0, 0,
    0xff, 0xff, 0x00, 0x00, 0x00, 0x9a, 0xcf, 0x00,
    0xff, 0xff, 0x00, 0x00, 0x00, 0x92, 0xcf, 0x00,
    /* 0x7c50: GDTR: limit 23, base 0x7c38 */
    0x17, 0x00, 0x38, 0x7c, 0x00, 0x00,
};

const char *mig_harness_dirty_boot_image(void)
{
    static char *path;
    if (path)
        return path;
    path = cache_file("migration-dirty-boot.img");
    /* 1 MiB: SeaBIOS does not boot a disk of one sector. */
    g_autofree guint8 *img = g_malloc0(1024 * 1024);
    memcpy(img, dirty_boot_code, sizeof(dirty_boot_code));
    img[510] = 0x55;
    img[511] = 0xaa;
    g_autofree char *tmp = g_strdup_printf("%s.%d", path, getpid());
    GError *error = NULL;
    g_assert_true(g_file_set_contents(tmp, (const char *) img, 1024 * 1024, &error));
    g_assert_no_error(error);
    g_assert_cmpint(g_rename(tmp, path), ==, 0);
    return path;
}
