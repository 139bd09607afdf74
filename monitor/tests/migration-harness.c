/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* migration-harness.c: see migration-harness.h. */
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include "migration-harness.h"

char *mig_harness_qemu(void)
{
    return g_find_program_in_path("qemu-system-x86_64");
}

char *mig_harness_qemu10(void)
{
    const char *q = g_getenv("QMPKIT_QEMU_10");
    if (q && g_file_test(q, G_FILE_TEST_IS_EXECUTABLE))
        return g_strdup(q);
    g_autofree char *c = g_build_filename(g_get_home_dir(), ".cache", "qmpkit",
                                          "qemu-backports", "bin", "qemu-system-x86_64", NULL);
    return g_file_test(c, G_FILE_TEST_IS_EXECUTABLE) ? g_steal_pointer(&c) : NULL;
}

const char *mig_harness_random_file(void)
{
    static char *path;
    if (path)
        return path;
    g_autofree char *dir = g_build_filename(g_get_user_cache_dir(), "qmpkit", NULL);
    g_mkdir_with_parents(dir, 0755);
    path = g_build_filename(dir, "migration-guest-200m.bin", NULL);
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

static char *recordings_dir(void)
{
    const char *src = g_getenv("QMPKIT_SOURCE_DIR");
    return g_build_filename(src ? src : ".", "replay-tests", "recordings", NULL);
}

static char *record_tmp;

const char *mig_harness_record_dir(void)
{
    static char *dir;
    if (dir)
        return dir;
    if (g_strcmp0(g_getenv("QMPKIT_RERECORD"), "1") == 0) {
        dir = recordings_dir();
    } else {
        record_tmp = g_dir_make_tmp("qmpkit-migrec-XXXXXX", NULL);
        g_assert_nonnull(record_tmp);
        dir = g_strdup(record_tmp);
    }
    return dir;
}

static void rm_rf(const char *dir);

void mig_harness_cleanup(void)
{
    if (record_tmp && !g_getenv("QMPKIT_KEEP_TMP"))
        rm_rf(record_tmp);
    g_clear_pointer(&record_tmp, g_free);
}

static char *rec_path(const char *dir, const char *name, gboolean source)
{
    g_autofree char *base = g_strdup_printf("migration-%s-%s.jsonl", name,
                                            source ? "source" : "destination");
    return g_build_filename(dir, base, NULL);
}

/* QEMUs of live pairs, killed when a failed assertion aborts the test so
 * that none outlives it. */
static GPid live_pids[8];

static void kill_live_qemus(int sig)
{
    for (guint i = 0; i < G_N_ELEMENTS(live_pids); i++)
        if (live_pids[i] > 0)
            kill(live_pids[i], SIGKILL);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void track_pid(GPid pid, gboolean add)
{
    for (guint i = 0; i < G_N_ELEMENTS(live_pids); i++) {
        if (add && live_pids[i] <= 0) {
            live_pids[i] = pid;
            signal(SIGABRT, kill_live_qemus);
            signal(SIGTRAP, kill_live_qemus);
            signal(SIGSEGV, kill_live_qemus);
            return;
        }
        if (!add && live_pids[i] == pid) {
            live_pids[i] = 0;
            return;
        }
    }
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
    track_pid(qmp_monitor_get_pid(mon), TRUE);
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
    p->record_dir = g_strdup(mig_harness_record_dir());
    const char *rand = mig_harness_random_file();
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
    p->record_dir = dir ? g_strdup(dir) : recordings_dir();
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

/* SHA-256 of the first `limit` bytes of path, by sha256sum in a child (so
 * that a run under valgrind does not hash 600 MiB inside valgrind). */
static char *file_sha256(const char *path, gsize limit)
{
    GStatBuf st;
    g_assert_cmpint(g_stat(path, &st), ==, 0);
    g_assert_cmpuint((guint64) st.st_size, ==, limit);
    const char *argv[] = { "sha256sum", path, NULL };
    g_autofree char *out = NULL;
    GError *error = NULL;
    int status = 0;
    g_assert_true(g_spawn_sync(NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                               &out, NULL, &status, &error));
    g_assert_no_error(error);
    g_assert_true(g_spawn_check_wait_status(status, NULL));
    g_assert_true(out && strlen(out) >= 64);
    return g_strndup(out, 64);
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
        want = file_sha256(mig_harness_random_file(), MIG_GUEST_SIZE);
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
        track_pid(pid, FALSE);
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
    g_autofree char *d = dir ? g_strdup(dir) : recordings_dir();
    g_autofree char *path = rec_path(d, name, is_source);
    GError *error = NULL;
    g_autoptr(QmpReplay) rec = qmp_replay_load(path, &error);
    g_assert_no_error(error);
    guint seen = 0;
    for (guint i = 0; i < qmp_replay_get_n_messages(rec); i++) {
        QmpTraceDirection dir_;
        QmpReplayMsgKind kind;
        const QmpJson *msg = qmp_replay_get_message(rec, i, &dir_, &kind, NULL, NULL, NULL);
        if (kind != QMP_REPLAY_MSG_COMMAND)
            continue;
        const QmpJson *n = qmp_json_lookup(msg, "execute");
        if (!n)
            n = qmp_json_lookup(msg, "exec-oob");
        if (g_strcmp0(qmp_json_get_string(n), command) != 0)
            continue;
        if (seen++ != index)
            continue;
        if (!member)
            return g_strdup("");
        const QmpJson *args = qmp_json_lookup(msg, "arguments");
        const char *v = args ? qmp_json_get_string(qmp_json_lookup(args, member)) : NULL;
        return g_strdup(v);
    }
    return NULL;
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
    g_autofree char *d = dir ? g_strdup(dir) : recordings_dir();
    g_autofree char *path = rec_path(d, name, is_source);
    g_autofree char *text = NULL;
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    guint n = 0;
    for (char **l = lines; *l; l++)
        if (strstr(*l, "\"dir\": \"out\"") && strstr(*l, needle))
            n++;
    return n;
}

static void rm_rf(const char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    if (!d)
        return;
    const char *e;
    while ((e = g_dir_read_name(d))) {
        g_autofree char *f = g_build_filename(dir, e, NULL);
        g_unlink(f);
    }
    g_dir_close(d);
    g_rmdir(dir);
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
        track_pid(qmp_monitor_get_pid(p->src), FALSE);
        track_pid(qmp_monitor_get_pid(p->dst), FALSE);
    }
    qmp_monitor_close(p->src);
    qmp_monitor_close(p->dst);
    g_object_unref(p->src);
    g_object_unref(p->dst);
    qmp_replay_server_free(p->src_server);
    qmp_replay_server_free(p->dst_server);
    if (p->tmpdir && !g_getenv("QMPKIT_KEEP_TMP"))
        rm_rf(p->tmpdir);
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
    g_autofree char *dir = g_build_filename(g_get_user_cache_dir(), "qmpkit", NULL);
    g_mkdir_with_parents(dir, 0755);
    path = g_build_filename(dir, "migration-dirty-boot.img", NULL);
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
