/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * migration-harness.h: the one harness of every migration test (test-
 * migration.c, migration-linkcut*, migration-xver*, migration-preempt*):
 * the guests (a q35 TCG guest whose RAM is filled with 200 MiB of random
 * bytes by a loader device, an empty destination started with -incoming
 * defer, a guest that dirties memory without end), recording both
 * monitors, replaying them strictly, waiting for MIGRATION events and
 * statuses, comparing guest memory, and no QEMU, file or namespace left
 * behind when a test aborts.
 *
 * Two ways to drive a pair of QEMUs:
 *  - MigSide: one side at a time (the link-cut, cross-version and preempt
 *    tests, which also pass bare QMP).  A test runs one scenario function
 *    twice: live (QEMU spawned, both monitors recorded) and replayed (the
 *    recordings served strictly).  `live` says whether sleeping between
 *    polls and checking memory make sense.
 *  - MigPair: both at once for the workflow scenarios of test-migration.c.
 *    A live pair records both monitors to DIR/migration-NAME-{source,
 *    destination}.jsonl, DIR being replay-tests/recordings/ with
 *    QMPKIT_RERECORD=1, else a temporary directory; a replayed pair reads
 *    them from replay-tests/recordings/ (or from a given directory, to
 *    replay what a live run just recorded).
 * Scenario commands may depend only on replies and events, never on time,
 * so that the replay sees the same conversation.
 *
 * Failures abort through g_assert (GLib test framework).  Ownership: every
 * function returning a non-const pointer returns a new one the caller frees.
 */
#pragma once

#include "qmp-monitor.h"
#include "qmp-commands.h"
#include "qmp-migration.h"
#include "qmp-replay.h"

G_BEGIN_DECLS

/* The guest's random region: loaded at MIG_GUEST_ADDR, MIG_GUEST_SIZE bytes. */
#define MIG_GUEST_ADDR 0x1000000u
#define MIG_GUEST_SIZE (200u * 1024 * 1024)

/* Live waits: generous, for a loaded 2-core machine. */
#define MIG_WAIT_MS 120000

typedef struct {
    QmpMonitor *mon;
    const char *name;           /* "source" / "destination" */
    GPtrArray *statuses;        /* MIGRATION event statuses seen, in order */
    GString *events;            /* STOP/RESUME/MIGRATION... names, for summaries */
    QmpReplayServer *server;    /* replay only */
    gboolean live;
    GPid pid;                   /* live: the QEMU (killed if the test aborts) */
} MigSide;

/* A test case: its name (first, as mig_test_run_cases expects) and kind. */
typedef struct {
    const char *name;
    int kind;
} MigCase;

/* The link cuts of the post-copy link-cut tests. */
typedef enum { MIG_CUT_RESET, MIG_CUT_SILENT, MIG_CUT_VETH } MigCutKind;

/* Paths and binaries.  QEMU 10.0: $QMPKIT_QEMU_10, else where build.sh
 * unpacks it (~/.cache/qmpkit/qemu-backports/bin/); NULL when neither. */
const char *mig_test_qemu_72(void);
const char *mig_test_qemu_10(void);
/* The 200 MiB random file the source's loader fills RAM from (made once,
 * deterministically, under the user cache directory; the benches make the
 * same one), and a file's SHA-256. */
const char *mig_test_rand_file(void);
char *mig_test_sha256(const char *path);
/* A temporary folder for QEMU's cwd, removed with mig_test_rmdir(). */
char *mig_test_tmpdir(void);
void mig_test_rmdir(const char *dir);
/* Where recordings go: replay-tests/recordings/ under QMPKIT_RERECORD=1,
 * else tmpdir.  And where the replay tests read them (the source tree). */
gboolean mig_test_rerecord(void);
char *mig_test_recordings_dir(void);

/* Network namespaces (at most 2) deleted with ip_path if the test aborts. */
void mig_test_track_netns(const char *ip_path, const char *name);
void mig_test_untrack_netns(const char *name);

/* Spawn QEMU binary in cwd (so relative paths in commands stay the same
 * from run to run) with machine (e.g. "q35", "pc-q35-7.2"); a source gets
 * the loader with rand, a destination (rand NULL) -incoming defer.  Both
 * monitors record to record_path with peer as header. */
void mig_side_spawn(MigSide *side, const char *name, const char *binary,
                    const char *machine, const char *rand, const char *cwd,
                    const char *record_path, const char *peer);
/* The same inside network namespace netns (NULL: the current one). */
void mig_side_spawn_netns(MigSide *side, const char *name, const char *binary,
                          const char *machine, const char *rand, const char *cwd,
                          const char *record_path, const char *peer, const char *netns);
/* Serve record_path strictly to a new monitor (commands validated against
 * the recording's own query-qmp-schema when it has one, else QEMU 7.2's as
 * recorded in replay-tests/recordings/introspection.jsonl). */
void mig_side_replay(MigSide *side, const char *name, const char *record_path);
/* Handshake with OOB (needed by migrate-pause/migrate-recover). */
void mig_side_handshake(MigSide *side);
void mig_sides_handshake(MigSide *src, MigSide *dst);
/* Replay: assert the conversation went as recorded.  Both: free. */
void mig_side_finish(MigSide *side);

/* Iterate the thread-default context for ms (live) or not at all. */
void mig_sleep(MigSide *side, guint ms);
/* Wait (bounded) until a MIGRATION event with status was seen. */
void mig_side_wait_event(MigSide *side, const char *status);
/* Wait (bounded) until a STOP or RESUME event (as named) was seen. */
void mig_side_wait_run_event(MigSide *side, const char *event);
/* Poll query-migrate every 50 ms (live) until its status is one of
 * wanted (a NULL-terminated list); returns the info.  A "failed" status
 * not wanted aborts the test. */
QmpMigrationInfo *mig_side_poll(MigSide *side, const char *const *wanted);

/* Capabilities set to TRUE on one side (typed migrate-set-capabilities). */
void mig_side_set_caps(MigSide *side, const QmpMigrationCapability *caps, guint n);

/* pmemsave the random region to file (relative to QEMU's cwd). */
void mig_side_pmemsave(MigSide *side, const char *file);
/* Quit QEMU (a reply racing the end of the connection is fine). */
void mig_side_quit(MigSide *side);

/* The "uri" argument of the nth (0-based) command named command in the
 * recording at path (for replays to pass what the live run passed). */
char *mig_recorded_uri(const char *path, const char *command, guint nth);


/* ---- the common tail of a MigSide test ---------------------------------------- */

/* Recordings of case `name` of a test: DIR/migration-PREFIX-NAME-{source,
 * destination}.jsonl. */
void mig_test_paths(const char *dir, const char *prefix, const char *name, char **src,
                    char **dst);
/* Live: where this run records (replay-tests/recordings/ when
 * re-recording, else tmpdir) and the case's two recording paths. */
void mig_test_live_paths(const char *tmpdir, const char *prefix, const char *name,
                         char **recdir, char **src, char **dst);
/* Live: the pmemsave files src-mem.bin and dst-mem.bin in tmpdir hash
 * like the random file (then go). */
void mig_test_assert_memory_files(const char *tmpdir);

/* Append " LABEL=s1,s2,..." (the MIGRATION statuses side saw) to out. */
void mig_side_join_statuses(GString *out, const char *label, MigSide *side);
/* A progress func: switch to post-copy as soon as the migration is active
 * (data: a gboolean, TRUE once asked). */
void mig_switch_when_active(QmpMigration *mig, const QmpMigrationProgress *p, gpointer data);
/* Live: a source of one QEMU and a destination of the other (QEMU 10.0
 * source when src_is_10), both -machine pc-q35-7.2, recording to sp / dp;
 * what names the test in the recordings' peer lines. */
void mig_test_spawn_xver(MigSide *src, MigSide *dst, gboolean src_is_10, const char *tmpdir,
                         const char *sp, const char *dp, const char *what);
/* Set max-postcopy-bandwidth (bytes/s) on a side. */
void mig_side_set_postcopy_bandwidth(MigSide *side, guint64 bps);
/* After a migration: wait for the destination's "completed", stop it and
 * pmemsave the region on both sides (src-mem.bin, dst-mem.bin). */
void mig_sides_save_memory(MigSide *src, MigSide *dst);
/* Append " src=... dst=..." (mig_side_join_statuses) and quit both. */
void mig_sides_summary_quit(GString *out, MigSide *src, MigSide *dst);
/* "tcp:127.0.0.1:PORT" with a port free now. */
char *mig_test_free_tcp_uri(void);

/* Call fn for each command (execute or exec-oob) the client sent in the
 * recording at path, in order: its name, message and whether it went out
 * of band. */
typedef void (*MigCommandFunc)(const char *name, const QmpJson *msg, gboolean oob,
                               gpointer data);
void mig_recording_foreach_command(const char *path, MigCommandFunc fn, gpointer data);

/* Runs a case's scenario on a replayed pair: src_path/dst_path are the
 * recordings served (to read the URIs the live run used); c the case;
 * append the scenario's summary to out. */
typedef void (*MigReplayFunc)(MigSide *src, MigSide *dst, const char *src_path,
                              const char *dst_path, gconstpointer c, GString *out);
/* Serve case c's recordings in dir (NULL: the tree's, and the summary is
 * logged) strictly to two new sides, run fn, assert both conversations
 * went as recorded; returns the summary. */
char *mig_test_replay_case(const char *dir, const char *prefix, gconstpointer c,
                           MigReplayFunc fn);
/* The end of a live case: log out, finish both sides (QEMUs end, the
 * recordings complete), compare memory (with check_memory), replay the
 * fresh recordings through fn expecting the same summary, and drop them
 * unless re-recording. */
void mig_test_live_done(MigSide *src, MigSide *dst, GString *out, const char *tmpdir,
                        gboolean check_memory, const char *recdir, const char *prefix,
                        gconstpointer c, MigReplayFunc fn);

/* main() of a MigSide test in two steps.  mig_test_init: GLib's test
 * init; "--live" sets *live; live needs QEMU 7.2 and with need_10 QEMU 10.0
 * (10.0 is "skipped" only without ../shared).  Returns the exit code when
 * the test must end now ("skipped": 77), else -1. */
int mig_test_init(int *argc, char ***argv, gboolean need_10, gboolean *live);
/* Register each of n cases (structs of case_size bytes whose first member
 * is the name) as /migration/GROUP/{live,replay}/NAME: live_fn live, else
 * replay_test, or (NULL) the replay of the case's recordings through
 * replay_fn; run them; *tmpdir is a live run's folder (then removed). */
int mig_test_run_cases(const char *group, gconstpointer cases, gsize n, gsize case_size,
                       gboolean live, GTestDataFunc live_fn, GTestDataFunc replay_test,
                       MigReplayFunc replay_fn, char **tmpdir);
/* Both in one. */
int mig_test_main(int argc, char **argv, const char *group, gconstpointer cases, gsize n,
                  gsize case_size, GTestDataFunc live_fn, MigReplayFunc replay_fn,
                  gboolean need_10, char **tmpdir);

/* ---- the cross-version tests (migration-xver*.c) ---------------------------------- */

typedef struct {
    const char *name;
    gboolean src_is_10, postcopy;
} MigXverCase;

/* Runs one case between src and dst (live or replayed) migrating to uri;
 * appends a summary to out. */
typedef void (*MigXverScenario)(MigSide *src, MigSide *dst, const char *uri,
                                const MigXverCase *c, GString *out);
/* main() of a cross-version test: 7.2 -> 10.0 and 10.0 -> 7.2, pre-copy
 * and post-copy (+ preempt), pc-q35-7.2, over TCP on loopback; recordings
 * migration-GROUP-CASE-*.jsonl; `what` goes into their peer lines. */
int mig_xver_main(int argc, char **argv, const char *group, const char *what,
                  MigXverScenario fn);

/* ---- MigPair ---------------------------------------------------------------- */

typedef struct {
    gboolean live;
    char *name;
    char *tmpdir;
    char *record_dir; /* where a live pair records (NULL: replayed) */
    QmpMonitor *src, *dst;
    QmpReplayServer *src_server, *dst_server; /* replayed pairs */
} MigPair;


/* A guest that never lets pre-copy converge: a boot sector (a 1 MiB raw
 * image, made once under the user cache directory) that switches to 32-bit
 * protected mode and rewrites the MIG_DIRTY_SIZE bytes at MIG_DIRTY_ADDR
 * in a loop, one 32-bit counter value per round (about 250 MB/s under TCG
 * here).  The region lies above the loader's, whose hash it leaves alone.
 * Give both sides "-drive file=IMG,format=raw,if=none,id=boot,readonly=on
 * -device virtio-blk-pci,drive=boot,bootindex=1". */
#define MIG_DIRTY_ADDR 0xE000000u
#define MIG_DIRTY_SIZE (64u * 1024 * 1024)
const char *mig_harness_dirty_boot_image(void);

/* Where live pairs record: replay-tests/recordings/ with QMPKIT_RERECORD=1,
 * else a temporary directory of this process (mig_harness_cleanup removes
 * it), from which the fresh recordings can be replayed at once. */
const char *mig_harness_record_dir(void);
void mig_harness_cleanup(void);

/* Spawn a source (running guest, loader) and a destination (-incoming
 * defer) with `machine` (e.g. "q35"), extra arguments for each (NULL-
 * terminated, may be NULL), OOB handshakes, recording on. */
MigPair *mig_pair_new_live(const char *name, const char *src_qemu, const char *dst_qemu,
                           const char *machine, const char *const *src_extra,
                           const char *const *dst_extra);
/* Replay migration-NAME-*.jsonl from dir (NULL: the tree's recordings). */
MigPair *mig_pair_new_replay(const char *name, const char *dir);

/* Caps of each side: live, probed (cached) from the binaries and saved as
 * replay-tests/recordings/migration-caps-NAME.xml when re-recording;
 * replayed, loaded from that file. */
QmpCaps *mig_pair_caps(MigPair *p, const char *caps_name, const char *qemu);

/* Stop recording both monitors (what follows is not part of the replay). */
void mig_pair_stop_recording(MigPair *p);
/* Live only: stop the destination, pmemsave the loader's region on both
 * sides and compare their SHA-256 with the random file's. */
void mig_pair_assert_memory_equal(MigPair *p);
/* Kill (SIGKILL) a live side; for a replayed pair close that server, which
 * the client sees as the same EOF. */
void mig_pair_kill_source(MigPair *p);
void mig_pair_kill_destination(MigPair *p);
/* Live pairs run both QEMUs in the pair's temporary directory, so
 * "unix:NAME" URIs with relative paths are the same in every run and in
 * the recordings. */
/* The string member `member` of the arguments of the index-th (0-based)
 * command named `command` sent to a recorded side, or NULL (newly
 * allocated). */
char *mig_recording_arg(const char *dir, const char *name, gboolean is_source,
                        const char *command, guint index, const char *member);
/* Number of commands named `command` the client sent to a recorded side
 * (is_source) of pair `name` in dir. */
guint mig_recording_count(const char *dir, const char *name, gboolean is_source,
                          const char *command);
/* Number of commands (out lines) of a recorded side containing needle. */
guint mig_recording_grep(const char *dir, const char *name, gboolean is_source,
                         const char *needle);
/* Ends both QEMUs / servers (asserting a replay went as recorded). */
void mig_pair_free(MigPair *p);

G_END_DECLS
