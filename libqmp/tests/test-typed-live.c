/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-typed-live: the generated typed wrappers and event subscriptions
 * against a real QEMU (7.2 here), and the opt-in schema check that refuses
 * what the server lacks before anything is sent.
 * Skipped (exit 77) when qemu-system-x86_64 is not installed.
 */
#include <string.h>

#include "qmp-commands.h"
#include "qmp-events.h"
#include "qmp-error.h"

#define QEMU "qemu-system-x86_64"
static const char *const qemu_args[] = {
    "-machine", "none", "-nodefaults", "-display", "none", "-S", NULL
};

static QmpMonitor *
spawned(QmpHandshakeFlags flags)
{
    g_autoptr(GError) error = NULL;
    QmpMonitor *mon = qmp_monitor_new(NULL);

    g_assert_true(qmp_monitor_spawn(mon, QEMU, qemu_args, &error));
    g_assert_no_error(error);
    g_assert_true(qmp_monitor_handshake(mon, flags, 20000, &error));
    g_assert_no_error(error);
    return mon;
}

static void
test_queries(void)
{
    g_autoptr(QmpMonitor) mon = spawned(0);
    g_autoptr(GError) error = NULL;
    g_autoptr(QmpVersionInfo) version = NULL;
    g_autoptr(QmpStatusInfo) status = NULL;
    QmpCommandInfo **cmds;
    gsize n = 0;
    gboolean seen_quit = FALSE;
    int major, minor, micro;

    version = qmp_query_version(mon, &error);
    g_assert_no_error(error);
    g_assert_true(qmp_monitor_get_version(mon, &major, &minor, &micro, NULL));
    g_assert_cmpint(version->qemu->major, ==, major);
    g_assert_cmpint(version->qemu->minor, ==, minor);
    g_assert_cmpint(version->qemu->micro, ==, micro);

    status = qmp_query_status(mon, &error);
    g_assert_no_error(error);
    g_assert_false(status->running);
    g_assert_cmpint(status->status, ==, QMP_RUN_STATE_PRELAUNCH);
    g_assert_cmpstr(qmp_run_state_to_string(status->status), ==, "prelaunch");

    cmds = qmp_query_commands(mon, &n, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(n, >, 100);
    for (gsize i = 0; i < n; i++) {
        if (strcmp(cmds[i]->name, "quit") == 0)
            seen_quit = TRUE;
        qmp_command_info_free(cmds[i]);
    }
    g_free(cmds);
    g_assert_true(seen_quit);
}

typedef struct {
    GString *order;
    int pending;
} Order;

static void
on_stop(QmpMonitor *mon, gint64 ts, gpointer user_data)
{
    Order *o = user_data;

    g_assert_cmpint(ts, >, 0);
    g_string_append(o->order, "STOP ");
}

static void
on_resume(QmpMonitor *mon, gint64 ts, gpointer user_data)
{
    Order *o = user_data;

    g_assert_cmpint(ts, >, 0);
    g_string_append(o->order, "RESUME ");
}

static void
status_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
    Order *o = user_data;
    g_autoptr(GError) error = NULL;
    g_autoptr(QmpStatusInfo) st = qmp_query_status_finish(QMP_MONITOR(source),
                                                          res, &error);

    g_assert_no_error(error);
    g_string_append_printf(o->order, "%s ",
                           qmp_run_state_to_string(st->status));
    o->pending--;
}

static void
void_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
    Order *o = user_data;
    g_autoptr(GError) error = NULL;
    gboolean ok;

    /* the same _finish shape for both: gboolean, error */
    if (g_async_result_is_tagged(res, qmp_call_typed_async))
        ok = qmp_cont_finish(QMP_MONITOR(source), res, &error);
    else
        ok = FALSE;
    g_assert_no_error(error);
    g_assert_true(ok);
    g_string_append(o->order, "ok ");
    o->pending--;
}

static void
test_events_async(void)
{
    g_autoptr(QmpMonitor) mon = spawned(0);
    g_autoptr(GError) error = NULL;
    Order o = { g_string_new(NULL), 0 };
    guint s1, s2;

    s1 = qmp_subscribe_stop(mon, on_stop, &o, NULL);
    s2 = qmp_subscribe_resume(mon, on_resume, &o, NULL);
    /* pipelined: cont, status, stop, status; events interleave in wire
     * order with the replies */
    qmp_cont_async(mon, NULL, void_done, &o);
    qmp_query_status_async(mon, NULL, status_done, &o);
    o.pending = 2;
    while (o.pending > 0)
        g_main_context_iteration(qmp_monitor_get_context(mon), TRUE);
    g_assert_true(qmp_stop(mon, &error));
    g_assert_no_error(error);
    while (strstr(o.order->str, "STOP") == NULL)
        g_main_context_iteration(qmp_monitor_get_context(mon), TRUE);
    g_assert_cmpstr(o.order->str, ==, "RESUME ok running STOP ");
    qmp_monitor_unsubscribe(mon, s1);
    qmp_monitor_unsubscribe(mon, s2);
    g_string_free(o.order, TRUE);
}

static void
count_out(QmpMonitor *mon, QmpTraceDirection dir, const char *line, gsize len,
          const int *fds, guint n_fds, gpointer user_data)
{
    if (dir == QMP_TRACE_OUT)
        (*(int *)user_data)++;
}

/* A command and an argument QEMU 7.2 does not have, described the way the
 * generator would describe them. */
typedef struct {
    gboolean bogus;
} BogusArgs;

static const QmpMemberInfo bogus_members[] = {
    { "x-no-such-argument", { QMP_KIND_BOOL, QMP_KIND_INT8, NULL },
      offsetof(BogusArgs, bogus), -1, -1, 0, NULL },
};
static const QmpTypeInfo bogus_args_info = {
    .name = "BogusArgs", .klass = QMP_TYPE_OBJECT, .size = sizeof(BogusArgs),
    .members = bogus_members, .n_members = 1, .discriminator = -1,
};
static const QmpCommandDesc no_such_command = { .name = "x-no-such-command" };
static const QmpCommandDesc status_with_bogus_arg = {
    .name = "query-status", .args = &bogus_args_info,
};

static void
test_schema_check(void)
{
    g_autoptr(QmpMonitor) mon = spawned(0);
    g_autoptr(GError) error = NULL;
    g_autoptr(QmpStatusInfo) st = NULL;
    BogusArgs args = { TRUE };
    int sent = 0;

    /* without the check, the server itself refuses */
    g_assert_false(qmp_call_typed(mon, &no_such_command, NULL, NULL, 0, NULL,
                                  NULL, &error));
    g_assert_error(error, QMP_COMMAND_ERROR, QMP_COMMAND_ERROR_COMMAND_NOT_FOUND);
    g_clear_error(&error);

    g_assert_true(qmp_monitor_check_schema(mon, &error));
    g_assert_no_error(error);
    g_assert_true(qmp_monitor_has_command(mon, "query-status"));
    g_assert_false(qmp_monitor_has_command(mon, "x-no-such-command"));
    qmp_monitor_set_trace(mon, count_out, &sent, NULL);

    g_assert_false(qmp_call_typed(mon, &no_such_command, NULL, NULL, 0, NULL,
                                  NULL, &error));
    g_assert_error(error, QMP_ERROR, QMP_ERROR_UNSUPPORTED);
    g_assert_cmpstr(error->message, ==, "this QEMU's schema: command 'x-no-such-command' not found");
    g_clear_error(&error);

    g_assert_false(qmp_call_typed(mon, &status_with_bogus_arg, &args, NULL, 0,
                                  NULL, NULL, &error));
    g_assert_error(error, QMP_ERROR, QMP_ERROR_UNSUPPORTED);
    g_assert_cmpstr(error->message, ==, "this QEMU's schema: command 'query-status' "
                    "has no argument 'x-no-such-argument'");
    g_clear_error(&error);
    g_assert_cmpint(sent, ==, 0);

    /* what it has still goes through */
    st = qmp_query_status(mon, &error);
    g_assert_no_error(error);
    g_assert_nonnull(st);
    g_assert_cmpint(sent, ==, 1);
}

int
main(int argc, char **argv)
{
    g_autofree char *qemu = g_find_program_in_path(QEMU);

    g_test_init(&argc, &argv, NULL);
    if (qemu == NULL) {
        g_print("skipped: %s is not installed\n", QEMU);
        return 77;
    }
    g_test_add_func("/typed-live/queries", test_queries);
    g_test_add_func("/typed-live/events-async", test_events_async);
    g_test_add_func("/typed-live/schema-check", test_schema_check);
    return g_test_run();
}
