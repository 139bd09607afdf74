/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-libvirt-corpus: libvirt's recorded probe conversation CORPUS (from
 * ../shared/corpora/libvirt/) replayed in lenient mode, validated against
 * the recording's own query-qmp-schema reply.  The client sends every
 * recorded command through the typed-call runtime with the command tables
 * generated from QEMU's schema (COMMAND_TABLE: 9.1.0 for the 9.2 corpus,
 * 4.2.0 for the 4.2 one): recorded arguments are decoded into the generated
 * argument type and encoded again by the call, and every reply is decoded
 * into the generated return type.  Zero decode errors are allowed, and
 * each command must get the outcome the recording holds (a return, or an
 * error with the same description).  Exit 77 without ../shared.
 */
#include <string.h>
#include "qmp-replay.h"
#include "qmp-command.h"

extern const QmpCommandDesc *const COMMAND_TABLE[];

static void test_corpus(void)
{
    const char *shared = g_getenv("QMPKIT_SHARED_DIR");
    g_autofree char *path = g_build_filename(shared ? shared : "../shared", "corpora",
                                             "libvirt", CORPUS, NULL);
    GError *error = NULL;
    g_autoptr(QmpReplay) rec = qmp_replay_load(path, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(qmp_replay_get_format(rec), ==, "libvirt-replies");
    const QmpJson *schema = qmp_replay_get_recorded_schema(rec);
    g_assert_nonnull(schema);

    g_autoptr(GHashTable) descs = g_hash_table_new(g_str_hash, g_str_equal);
    for (gsize i = 0; COMMAND_TABLE[i]; i++)
        g_hash_table_insert(descs, (gpointer) COMMAND_TABLE[i]->name, (gpointer) COMMAND_TABLE[i]);

    QmpReplayServer *s;
    QmpMonitor *mon = qmp_replay_test_start_full(rec, QMP_REPLAY_LENIENT, schema, &s);
    g_assert_true(qmp_monitor_handshake(mon, QMP_HANDSHAKE_NONE, 5000, &error));
    g_assert_no_error(error);

    guint n = qmp_replay_get_n_messages(rec);
    guint sent = 0, returns = 0, errors = 0, decoded = 0, handshakes = 0;
    for (guint i = 0; i < n; i++) {
        QmpReplayMsgKind kind;
        guint line;
        const QmpJson *msg = qmp_replay_get_message(rec, i, NULL, &kind, NULL, NULL, &line);
        if (kind != QMP_REPLAY_MSG_COMMAND)
            continue;
        const char *name = qmp_json_get_string(qmp_json_lookup(msg, "execute"));
        if (strcmp(name, "qmp_capabilities") == 0 && handshakes++ == 0)
            continue; /* the handshake sent it */
        const QmpCommandDesc *desc = g_hash_table_lookup(descs, name);
        if (!desc)
            g_error("%s:%u: no generated command '%s'", path, line, name);
        /* The recorded reply: the next reply with the same id. */
        const QmpJson *id = qmp_json_lookup(msg, "id");
        const QmpJson *reply = NULL;
        for (guint j = i + 1; j < n && !reply; j++) {
            QmpReplayMsgKind k;
            const QmpJson *m = qmp_replay_get_message(rec, j, NULL, &k, NULL, NULL, NULL);
            if (k == QMP_REPLAY_MSG_REPLY && qmp_json_equal(qmp_json_lookup(m, "id"), id))
                reply = m;
        }
        g_assert_nonnull(reply);
        const QmpJson *args = qmp_json_lookup(msg, "arguments");
        gpointer argval = NULL;
        if (args && desc->args &&
            !qmp_value_decode(desc->args, args, QMP_DECODE_STRICT, "arguments", &argval, &error))
            g_error("%s:%u: %s arguments: %s", path, line, name, error->message);
        union {
            gpointer p;
            gint64 i;
            double d;
            gboolean b;
        } result = { 0 };
        gsize n_result = 0;
        gboolean has_ret = (desc->flags & QMP_COMMAND_HAS_RETURN) != 0;
        gboolean ok = qmp_call_typed(mon, desc, argval, NULL, 0, has_ret ? &result : NULL,
                                     has_ret ? &n_result : NULL, &error);
        sent++;
        const QmpJson *rec_error = qmp_json_lookup(reply, "error");
        if (rec_error) {
            g_assert_false(ok);
            if (error->domain != QMP_COMMAND_ERROR)
                g_error("%s:%u: %s: expected the recorded error, got %s", path, line, name,
                        error->message);
            g_assert_cmpstr(error->message, ==,
                            qmp_json_get_string(qmp_json_lookup(rec_error, "desc")));
            g_clear_error(&error);
            errors++;
        } else {
            if (!ok)
                g_error("%s:%u: %s: %s", path, line, name, error->message);
            returns++;
            if (has_ret) {
                decoded++;
                qmp_value_clear(&desc->ret, &result, n_result);
            }
        }
        if (argval)
            qmp_value_free(desc->args, argval);
    }
    g_test_message("%s: %u commands sent through generated wrappers, %u returns (%u decoded "
                   "into generated types), %u recorded errors reproduced, 0 decode errors",
                   CORPUS, sent + 1, returns, decoded, errors);
    g_assert_cmpuint(sent, >, 40);
    qmp_replay_test_assert_done(s);
    g_object_unref(mon);
    qmp_replay_server_free(s);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    const char *shared = g_getenv("QMPKIT_SHARED_DIR");
    g_autofree char *path = g_build_filename(shared ? shared : "../shared", "corpora",
                                             "libvirt", CORPUS, NULL);
    if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
        g_print("skipped: %s not found (no ../shared)\n", path);
        return 77;
    }
    g_test_add_func("/libvirt-corpus/" CORPUS, test_corpus);
    return g_test_run();
}
