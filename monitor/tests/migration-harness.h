/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * migration-harness.h: a source/destination pair for migration tests, live
 * (two QEMUs with a guest whose RAM is filled from a random file) or
 * replayed (two strict replay servers playing a recorded pair).
 *
 * A live pair records both monitors to DIR/migration-NAME-{source,
 * destination}.jsonl, DIR being replay-tests/recordings/ with
 * QMPKIT_RERECORD=1, else the pair's temporary directory; a replayed pair
 * reads them from replay-tests/recordings/ (or from a given directory, to
 * replay what a live run just recorded).  Scenario code is shared: it runs
 * the same way on both, and checks `pair->live` for what only a live pair
 * can do (kill a QEMU, hash guest memory).
 */
#pragma once

#include "qmp-migration.h"
#include "qmp-replay.h"

#define MIG_GUEST_ADDR 0x1000000u
#define MIG_GUEST_SIZE (200u * 1024 * 1024)

typedef struct {
    gboolean live;
    char *name;
    char *tmpdir;
    char *record_dir; /* where a live pair records (NULL: replayed) */
    QmpMonitor *src, *dst;
    QmpReplayServer *src_server, *dst_server; /* replayed pairs */
} MigPair;

/* The QEMU 7.2 binary ("qemu-system-x86_64" from PATH); NULL when absent. */
char *mig_harness_qemu(void);
/* QEMU 10.0 ($QMPKIT_QEMU_10); NULL when not there. */
char *mig_harness_qemu10(void);
/* The 200 MiB random file the source's loader fills RAM from (made once,
 * deterministically, under the user cache directory). */
const char *mig_harness_random_file(void);

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
