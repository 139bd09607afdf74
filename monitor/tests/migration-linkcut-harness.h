/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * migration-linkcut-harness.h: what the live migration tests of
 * migration-linkcut*, migration-xver* and migration-preempt* share:
 * the guests (a q35 TCG guest whose RAM is filled with 200 MiB of random
 * bytes by a loader device, and an empty destination started with
 * -incoming defer), recording both monitors, replaying them strictly,
 * waiting for MIGRATION events and statuses, and comparing guest memory.
 *
 * A test runs one scenario function twice: live (QEMU spawned, both
 * monitors recorded) and replayed (the recordings served strictly).  The
 * scenario's commands may depend only on replies and events, never on
 * time, so that the replay sees the same conversation.  `live` says
 * whether sleeping between polls and checking memory make sense.
 *
 * Failures abort through g_assert (GLib test framework).  Ownership: every
 * function returning a pointer returns a new one the caller frees.
 */
#pragma once

#include "qmp-monitor.h"
#include "qmp-commands.h"
#include "qmp-replay.h"

G_BEGIN_DECLS

/* The guest's random region: loaded at RAND_ADDR, RAND_SIZE bytes. */
#define MIG_RAND_ADDR 0x1000000
#define MIG_RAND_SIZE (200 * 1024 * 1024)

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

/* Paths and binaries.  QEMU 10.0: $QMPKIT_QEMU_10, else where build.sh
 * unpacks it (~/.cache/qmpkit/qemu-backports/bin/); NULL when neither. */
const char *mig_test_qemu_72(void);
const char *mig_test_qemu_10(void);
/* 200 MiB of random bytes in dir (made once per dir), and its SHA-256. */
char *mig_test_rand_file(const char *dir);
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

G_END_DECLS
