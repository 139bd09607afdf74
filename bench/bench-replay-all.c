/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-replay-all: replay every recording (every .jsonl file of replay-tests/recordings/
 * and, when ../shared is there, libvirt's two .replies corpora) in strict
 * mode to a generic client that sends the recorded commands in order
 * through a QmpMonitor on a socketpair in the same thread, with schema
 * validation on (the recording's own schema, else QEMU 7.2's from
 * introspection.jsonl, indexed once outside the timed runs).
 *
 *   ours     = load + serve + client, all files (seconds, median of runs)
 *   baseline = merely reading and parsing all files (qmp_replay_load)
 *   ratio    = ours / baseline, target <= 3
 */
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include "bench-common.h"
#include "qmp-replay.h"

#define RUNS 9
/* In-process replies come at once; a recording made by a pipelining client
 * (its next command releases the reply) stalls a one-at-a-time client. */
#define REPLY_TIMEOUT_MS 1000

static GPtrArray *files;
static QmpReplay *intro;          /* introspection.jsonl */
static QmpSchemaCheck *check72;   /* its schema, indexed once */

static void find_files(void)
{
    const char *src = g_getenv("QMPKIT_SOURCE_DIR");
    const char *shared = g_getenv("QMPKIT_SHARED_DIR");
    g_autofree char *dir = g_build_filename(src ? src : ".", "replay-tests", "recordings", NULL);
    files = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d)))
        if (g_str_has_suffix(name, ".jsonl"))
            g_ptr_array_add(files, g_build_filename(dir, name, NULL));
    static const char *const corpora[] = { "caps_4.2.0.x86_64.replies", "caps_9.2.0_x86_64.replies" };
    for (gsize i = 0; i < G_N_ELEMENTS(corpora); i++) {
        char *p = g_build_filename(shared ? shared : "../shared", "corpora", "libvirt",
                                   corpora[i], NULL);
        if (g_file_test(p, G_FILE_TEST_EXISTS))
            g_ptr_array_add(files, p);
        else
            g_free(p);
    }
    g_autofree char *intro_path = g_build_filename(dir, "introspection.jsonl", NULL);
    intro = qmp_replay_load(intro_path, NULL);
    if (intro && qmp_replay_get_recorded_schema(intro))
        check72 = qmp_schema_check_new_borrowed(qmp_replay_get_recorded_schema(intro), NULL);
}

static double parse_all(guint *n_messages)
{
    double t0 = bench_now();
    guint n = 0;
    for (guint i = 0; i < files->len; i++) {
        g_autoptr(QmpReplay) rec = qmp_replay_load(files->pdata[i], NULL);
        g_assert(rec);
        n += qmp_replay_get_n_messages(rec);
    }
    *n_messages = n;
    return bench_now() - t0;
}

/* The generic client: every recorded command, in order, as recorded.
 * FALSE (with *why) for a conversation it cannot play: one that passes fds,
 * runs commands out-of-band while others wait, or ends with a QEMU killed
 * mid-command; those are the workflow tests' own replays. */
static gboolean replay_one(const char *path, char **why)
{
    GError *error = NULL;
    g_autoptr(QmpReplay) rec = qmp_replay_load(path, &error);
    g_assert_no_error(error);
    QmpReplayServer *s = qmp_replay_server_new(rec, QMP_REPLAY_STRICT, NULL);
    if (!qmp_replay_server_use_recorded_schema(s))
        qmp_replay_server_set_schema_check(s, check72);
    int sv[2];
    g_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    g_assert(qmp_replay_server_serve_fd(s, sv[0], &error));
    QmpMonitor *mon = qmp_monitor_new(NULL);
    g_assert(qmp_monitor_connect_fd(mon, sv[1], &error));
    gboolean handshaken = FALSE;
    guint n = qmp_replay_get_n_messages(rec);
    for (guint i = 0; i < n; i++) {
        QmpReplayMsgKind kind;
        QmpTraceDirection dir;
        const QmpJson *msg = qmp_replay_get_message(rec, i, &dir, &kind, NULL, NULL, NULL);
        if (kind != QMP_REPLAY_MSG_COMMAND || dir != QMP_TRACE_OUT)
            continue;
        const char *name = qmp_json_get_string(qmp_json_lookup(msg, "execute"));
        if (!name) {
            *why = g_strdup("a command sent with exec-oob");
            break;
        }
        const QmpJson *args = qmp_json_lookup(msg, "arguments");
        if (!handshaken && strcmp(name, "qmp_capabilities") == 0) {
            QmpHandshakeFlags f = args && qmp_json_lookup(args, "enable") ? QMP_HANDSHAKE_OOB
                                                                          : QMP_HANDSHAKE_NONE;
            g_assert(qmp_monitor_handshake(mon, f, 5000, &error));
            handshaken = TRUE;
            continue;
        }
        g_autofree char *args_text = args ? qmp_json_to_string(args) : NULL;
        g_autoptr(QmpJsonDoc) reply = qmp_monitor_execute(mon, name, args_text, 0, NULL, 0,
                                                          REPLY_TIMEOUT_MS, NULL, &error);
        if (!reply) {
            /* Recorded errors come back as errors; the quit reply may lose
             * the race with the end of the connection. */
            gboolean expected = error->domain == QMP_COMMAND_ERROR ||
                                (strcmp(name, "quit") == 0 && error->code == QMP_ERROR_CLOSED);
            if (!expected) {
                *why = g_strdup_printf("%s: %s", name, error->message);
                g_clear_error(&error);
                break;
            }
            g_clear_error(&error);
        }
    }
    if (!*why && !qmp_replay_server_finish(s, &error)) {
        *why = g_strdup(error->message);
        g_clear_error(&error);
    }
    g_object_unref(mon);
    qmp_replay_server_free(s);
    return *why == NULL;
}

/* Keep the conversations the generic client can play, once, untimed: the
 * baseline parses the same set. */
static void keep_playable(void)
{
    for (guint i = 0; i < files->len;) {
        g_autofree char *why = NULL;
        if (replay_one(files->pdata[i], &why)) {
            i++;
            continue;
        }
        g_autofree char *base = g_path_get_basename(files->pdata[i]);
        fprintf(stderr, "replay-all: left out %s (not for a generic client: %s)\n", base, why);
        g_ptr_array_remove_index(files, i);
    }
}

static double replay_all(void)
{
    double t0 = bench_now();
    for (guint i = 0; i < files->len; i++) {
        g_autofree char *why = NULL;
        if (!replay_one(files->pdata[i], &why))
            g_error("%s: %s", (const char *) files->pdata[i], why);
    }
    return bench_now() - t0;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    find_files();
    if (files->len == 0) {
        fprintf(stderr, "bench-replay-all: no recordings found (QMPKIT_SOURCE_DIR?)\n");
        return 1;
    }
    double ours[RUNS], base[RUNS];
    guint n_messages = 0;
    guint n_found = files->len;
    keep_playable();
    replay_all(); /* warm up */
    for (int r = 0; r < RUNS; r++) {
        base[r] = parse_all(&n_messages);
        ours[r] = replay_all();
    }
    double o = bench_median(ours, RUNS), b = bench_median(base, RUNS);
    double ratio = o / b;
    printf("bench: replay-all ours=%.4f baseline=%.4f unit=s ratio=%.3f target=<=3 met=%s\n",
           o, b, ratio, ratio <= 3 ? "yes" : "no");
    printf("replay-all: %u conversations (of %u found), %u messages: %.0f conversations/s, "
           "%.0f messages/s (median of %d runs)\n", files->len, n_found, n_messages,
           files->len / o, n_messages / o, RUNS);
    g_ptr_array_unref(files);
    qmp_schema_check_free(check72);
    qmp_replay_unref(intro);
    return 0;
}
