/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * migration-preempt: the workflow's postcopy-preempt decision (both sides
 * or neither), 7.2 -> 7.2, proved from what was sent to each QEMU:
 *
 *  - fd-refused: both sides have preempt (probed live), post-copy asked
 *    over an fd: URI: PREPARE refuses with QMP_MIGRATION_ERROR_URI before
 *    any migrate-set-capabilities, migrate-incoming or migrate was sent;
 *    the source keeps running;
 *  - dst-lacks: the destination's capabilities are those of QEMU 4.2
 *    (probed from libvirt's recorded 4.2 conversation in ../shared): preempt
 *    is off, so post-copy over an fd: URI (a socketpair passed with getfd)
 *    is allowed and completes, and postcopy-preempt was sent to neither side;
 *  - src-lacks: the same with the source's capabilities from 4.2, over tcp:;
 *  - both (replay only): in the recordings of the live link-cut and
 *    cross-version runs (both sides have it), postcopy-preempt was set on
 *    both sides, before migrate-incoming and before migrate.
 *
 * Memory hashes are compared after every completed migration.
 *
 *   --live: QEMU 7.2 (exit 77 without it, or without ../shared); recordings
 *           replay-tests/recordings/migration-preempt-CASE-*.jsonl under
 *           QMPKIT_RERECORD=1, then replayed.
 *   default: the recordings in the tree replayed strictly.
 */
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include "qmp-migration.h"
#include "migration-harness.h"
#include "migration-linkcut-proxy.h"

typedef enum { CASE_FD_REFUSED, CASE_DST_LACKS, CASE_SRC_LACKS } Kind;

typedef MigCase Case;

static const Case cases[] = {
    { "fd-refused", CASE_FD_REFUSED },
    { "dst-lacks", CASE_DST_LACKS },
    { "src-lacks", CASE_SRC_LACKS },
};

#define FD_NAME "migfd"
#define FD_URI "fd:" FD_NAME

static char *tmpdir;

/* QEMU 4.2's capabilities, from libvirt's recording (NULL without ../shared). */
static QmpCaps *caps_42(void)
{
    GError *error = NULL;
    const char *shared = g_getenv("QMPKIT_SHARED_DIR");
    if (!shared)
        return NULL;
    g_autofree char *path = g_build_filename(shared, "corpora", "libvirt",
                                             "caps_4.2.0.x86_64.replies", NULL);
    if (!g_file_test(path, G_FILE_TEST_EXISTS))
        return NULL;
    QmpCaps *c = qmp_caps_probe_recording(path, &error);
    g_assert_no_error(error);
    g_assert_true(qmp_caps_has(c, "migration.postcopy-ram"));
    g_assert_false(qmp_caps_has(c, "migration.postcopy-preempt"));
    return c;
}

/* getfd NAME on both sides: the two ends of one socketpair. */
static void pass_fds(MigSide *src, MigSide *dst)
{
    GError *error = NULL;
    int sv[2];
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
    MigSide *sides[2] = { src, dst };
    for (int i = 0; i < 2; i++) {
        g_autoptr(QmpJsonDoc) doc = qmp_monitor_execute(sides[i]->mon, "getfd",
                                                        "{\"fdname\": \"" FD_NAME "\"}", 0,
                                                        &sv[i], 1, QMP_TIMEOUT_DEFAULT, NULL,
                                                        &error);
        g_assert_no_error(error);
        close(sv[i]);
    }
}

static void scenario(MigSide *src, MigSide *dst, const char *uri, const Case *c, GString *out)
{
    GError *error = NULL;
    mig_sides_handshake(src, dst);
    if (g_str_has_prefix(uri, "fd:"))
        pass_fds(src, dst);

    g_autoptr(QmpMigration) mig = qmp_migration_new(src->mon, dst->mon);
    g_assert_true(qmp_migration_set_uri(mig, uri, &error));
    g_assert_no_error(error);
    qmp_migration_set_flags(mig, QMP_MIGRATION_POSTCOPY | QMP_MIGRATION_KEEP_SOURCE);
    qmp_migration_set_poll_interval(mig, src->live ? 100 : 1);
    if (c->kind != CASE_FD_REFUSED) {
        g_autoptr(QmpCaps) old = caps_42();
        g_assert_nonnull(old);
        if (c->kind == CASE_DST_LACKS)
            qmp_migration_set_caps(mig, NULL, old);
        else
            qmp_migration_set_caps(mig, old, NULL);
    }
    gboolean asked = FALSE;
    qmp_migration_set_progress_func(mig, mig_switch_when_active, &asked, NULL);
    gboolean ok = qmp_migration_run(mig, &error);

    if (c->kind == CASE_FD_REFUSED) {
        g_assert_false(ok);
        g_assert_error(error, QMP_MIGRATION_ERROR, QMP_MIGRATION_ERROR_URI);
        g_assert_cmpint(qmp_migration_get_failed_phase(mig), ==, QMP_MIGRATION_PHASE_PREPARE);
        g_assert_true(qmp_migration_get_preempt(mig));
        g_assert_false(asked);
        g_string_append_printf(out, "%s: %s;", c->name, error->message);
        g_clear_error(&error);
        /* The source guest keeps running. */
        g_autoptr(QmpStatusInfo) st = qmp_query_status(src->mon, &error);
        g_assert_no_error(error);
        g_assert_cmpint(st->status, ==, QMP_RUN_STATE_RUNNING);
        g_string_append_printf(out, " source %s", qmp_run_state_to_string(st->status));
        mig_side_quit(src);
        mig_side_quit(dst);
        return;
    }

    g_assert_no_error(error);
    g_assert_true(ok);
    g_assert_false(qmp_migration_get_preempt(mig));
    g_assert_true(asked);
    g_assert_true(qmp_migration_get_progress(mig)->postcopy);
    mig_side_wait_event(dst, "postcopy-active");
    mig_sides_save_memory(src, dst);
    g_string_append_printf(out, "%s: preempt=%d dst-events=", c->name,
                           qmp_migration_get_preempt(mig));
    for (guint i = 0; i < dst->statuses->len; i++)
        g_string_append_printf(out, "%s%s", i ? "," : "",
                               (char *) g_ptr_array_index(dst->statuses, i));
    mig_side_quit(src);
    mig_side_quit(dst);
}

/* ---- what the recordings say ------------------------------------------------ */

typedef struct {
    int preempt_on;       /* index of the first command setting postcopy-preempt on, or -1 */
    int n_preempt;        /* commands mentioning postcopy-preempt at all */
    int n_set_caps;
    int first_migrate;    /* index of the first migrate / migrate-incoming, or -1 */
} Sent;

typedef struct {
    Sent s;
    int i; /* commands seen */
} SentScan;

static void scan_command(const char *cmd, const QmpJson *m, gboolean oob, gpointer data)
{
    SentScan *sc = data;
    Sent *s = &sc->s;
    int i = sc->i++;
    (void) oob;
    if ((g_strcmp0(cmd, "migrate") == 0 || g_strcmp0(cmd, "migrate-incoming") == 0) &&
        s->first_migrate < 0)
        s->first_migrate = i;
    if (g_strcmp0(cmd, "migrate-set-capabilities") != 0)
        return;
    s->n_set_caps++;
    const QmpJson *list = qmp_json_lookup(qmp_json_lookup(m, "arguments"), "capabilities");
    g_assert_nonnull(list);
    for (const QmpJson *e = list->v.first; e; e = e->next) {
        if (g_strcmp0(qmp_json_get_string(qmp_json_lookup(e, "capability")),
                      "postcopy-preempt") != 0)
            continue;
        s->n_preempt++;
        const QmpJson *state = qmp_json_lookup(e, "state");
        if (state && state->type == QMP_JSON_BOOL && state->v.b && s->preempt_on < 0)
            s->preempt_on = i;
    }
}

/* Indexes count the commands of the recording. */
static Sent sent(const char *path)
{
    SentScan sc = { { -1, 0, 0, -1 }, 0 };
    mig_recording_foreach_command(path, scan_command, &sc);
    return sc.s;
}

static void check_recordings(const Case *c, const char *sp, const char *dp)
{
    Sent s = sent(sp), d = sent(dp);
    if (c->kind == CASE_FD_REFUSED) {
        /* Refused before anything that starts a migration was sent. */
        g_assert_cmpint(s.first_migrate, ==, -1);
        g_assert_cmpint(d.first_migrate, ==, -1);
        g_assert_cmpint(s.n_set_caps, ==, 0);
        g_assert_cmpint(d.n_set_caps, ==, 0);
    } else {
        /* Post-copy happened, without preempt on either side. */
        g_assert_cmpint(s.n_set_caps, >=, 1);
        g_assert_cmpint(d.n_set_caps, >=, 1);
        g_assert_cmpint(s.first_migrate, >=, 0);
        g_assert_cmpint(d.first_migrate, >=, 0);
        g_assert_cmpint(s.preempt_on, ==, -1);
        g_assert_cmpint(d.preempt_on, ==, -1);
    }
}

/* ---- running ----------------------------------------------------------------- */

static void replay_run(MigSide *src, MigSide *dst, const char *sp, const char *dp,
                       gconstpointer data, GString *out)
{
    const Case *c = data;
    check_recordings(c, sp, dp);
    g_autofree char *uri = c->kind == CASE_SRC_LACKS ? mig_recorded_uri(dp, "migrate-incoming", 0)
                                                     : g_strdup(FD_URI);
    scenario(src, dst, uri, c, out);
}

static void test_replay(gconstpointer data)
{
    const Case *c = data;
    if (c->kind != CASE_FD_REFUSED) {
        g_autoptr(QmpCaps) old = caps_42();
        if (!old) {
            g_test_skip("libvirt's 4.2 corpus not found (no ../shared)");
            return;
        }
    }
    g_free(mig_test_replay_case(NULL, "preempt", c, replay_run));
}

/* Both sides have preempt: the live 7.2 -> 7.2 link-cut runs and the
 * 7.2 <-> 10.0 post-copy runs set it on both sides before migrating. */
static void test_both(void)
{
    static const char *const names[] = {
        "linkcut-reset", "linkcut-silent", "xver-72-to-10-postcopy-preempt",
        "xver-10-to-72-postcopy-preempt",
    };
    g_autofree char *dir = mig_test_recordings_dir();
    for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
        g_autofree char *s = g_strdup_printf("migration-%s-source.jsonl", names[i]);
        g_autofree char *d = g_strdup_printf("migration-%s-destination.jsonl", names[i]);
        g_autofree char *sp = g_build_filename(dir, s, NULL);
        g_autofree char *dp = g_build_filename(dir, d, NULL);
        Sent src = sent(sp), dst = sent(dp);
        g_assert_cmpint(src.preempt_on, >=, 0);
        g_assert_cmpint(dst.preempt_on, >=, 0);
        g_assert_cmpint(src.preempt_on, <, src.first_migrate);
        g_assert_cmpint(dst.preempt_on, <, dst.first_migrate);
    }
}

static void test_live(gconstpointer data)
{
    const Case *c = data;
    GError *error = NULL;
    const char *rand = mig_test_rand_file();
    g_autofree char *recdir = NULL, *sp = NULL, *dp = NULL;
    mig_test_live_paths(tmpdir, "preempt", c->name, &recdir, &sp, &dp);
    g_autofree char *uri = NULL;
    if (c->kind == CASE_SRC_LACKS) {
        guint16 port = mig_proxy_free_port(&error);
        g_assert_no_error(error);
        uri = g_strdup_printf("tcp:127.0.0.1:%u", port);
    } else {
        uri = g_strdup(FD_URI);
    }
    g_autofree char *p_src = g_strdup_printf("qemu-7.2 q35 migration source (preempt: %s)", c->name);
    g_autofree char *p_dst = g_strdup_printf("qemu-7.2 q35 migration destination (preempt: %s)",
                                             c->name);
    MigSide src, dst;
    mig_side_spawn(&src, "source", mig_test_qemu_72(), "q35", rand, tmpdir, sp, p_src);
    mig_side_spawn(&dst, "destination", mig_test_qemu_72(), "q35", NULL, tmpdir, dp, p_dst);
    g_autoptr(GString) out = g_string_new(NULL);
    scenario(&src, &dst, uri, c, out);
    mig_test_live_done(&src, &dst, out, tmpdir, c->kind != CASE_FD_REFUSED, recdir, "preempt", c,
                       replay_run);
}

int main(int argc, char **argv)
{
    gboolean live = FALSE;
    int rc = mig_test_init(&argc, &argv, FALSE, &live);
    if (rc >= 0)
        return rc;
    if (live) {
        g_autoptr(QmpCaps) old = caps_42();
        if (!old) {
            g_print("skipped: libvirt's 4.2 corpus not found (no ../shared)\n");
            return 77;
        }
    }
    if (!live)
        g_test_add_func("/migration/preempt/replay/both", test_both);
    return mig_test_run_cases("preempt", cases, G_N_ELEMENTS(cases), sizeof(Case), live,
                              test_live, test_replay, replay_run, &tmpdir);
}
