/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qmp-shell: talk to a QEMU monitor by hand or from a script.
 *
 *   qmp-shell [OPTIONS] [SOCKET-PATH | HOST:PORT]
 *   qmp-shell [OPTIONS] [--qemu BINARY] [-- QEMU-ARGS...]   (spawn a QEMU)
 *
 * Lines are `command key=value ...` (values typed by the connected QEMU's
 * schema, dotted keys for nested members, JSON for arrays and objects) or a
 * raw JSON request; everything is checked against that schema before it is
 * sent.  Interactive on a terminal (libedit, completion, history, events
 * shown as they arrive); a script when stdin is not a terminal, stopping
 * with exit status 1 at the first error.  See docs/qmp-shell.1.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib-unix.h>
#include <editline/readline.h>
#include <yajl/yajl_gen.h>

#include "qmp-monitor.h"
#include "qmp-recorder.h"
#include "shell-schema.h"

/* Exit statuses (docs/qmp-shell.1). */
enum {
    EXIT_OK = 0,
    EXIT_COMMAND = 1,  /* a line failed (script mode) */
    EXIT_USAGE = 2,    /* bad options */
    EXIT_CONNECT = 3,  /* could not connect, spawn or read the schema */
    EXIT_CLOSED = 4,   /* the connection closed unexpectedly */
};

typedef struct {
    QmpMonitor *mon;
    ShellSchema *schema;
    GMainLoop *loop;
    gboolean json;
    gboolean hmp;
    gboolean verbose;
    QmpRecorder *recorder; /* --record */
    gboolean interactive;
    gboolean at_prompt;   /* the line editor shows a prompt */
    gboolean quitting;    /* "quit" was sent: a close is expected */
    guint stdin_watch;
    int status;
} Shell;

/* libedit's callbacks carry no user data. */
static Shell sh;

static const char *const builtins[] = { "help", "hmp", NULL };

/* ---- output ------------------------------------------------------------- */

static void print_gen(yajl_gen g, FILE *f)
{
    const unsigned char *buf;
    size_t len;
    yajl_gen_get_buf(g, &buf, &len);
    fwrite(buf, 1, len, f);
    if (len == 0 || buf[len - 1] != '\n')
        fputc('\n', f);
}

/* node pretty-printed (or on one line with --json), then a newline. */
static void print_json(const QmpJson *node, gboolean one_line)
{
    if ((node->type == QMP_JSON_OBJECT || node->type == QMP_JSON_ARRAY) && node->len == 0) {
        puts(node->type == QMP_JSON_OBJECT ? "{}" : "[]");
        return;
    }
    yajl_gen g = yajl_gen_alloc(NULL);
    if (!one_line) {
        yajl_gen_config(g, yajl_gen_beautify, 1);
        yajl_gen_config(g, yajl_gen_indent_string, "  ");
    }
    qmp_json_gen(node, g);
    print_gen(g, stdout);
    yajl_gen_free(g);
}

/* Wrap value as {"key": value} in one line. */
static void print_wrapped(const char *key, const QmpJson *value)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_gen_map_open(g);
    yajl_gen_string(g, (const unsigned char *) key, strlen(key));
    qmp_json_gen(value, g);
    yajl_gen_map_close(g);
    print_gen(g, stdout);
    yajl_gen_free(g);
}

/* Before printing while the line editor shows its prompt: clear that line;
 * after: draw prompt and typed text again. */
static void output_begin(void)
{
    if (sh.at_prompt) {
        fputs("\r\033[K", stdout);
        fflush(stdout);
    }
}

static void output_end(void)
{
    fflush(stdout);
    if (sh.at_prompt)
        rl_forced_update_display();
}

static void on_event(QmpMonitor *mon, const char *event, const QmpJson *data,
                     gint64 ts, gpointer user_data)
{
    output_begin();
    if (sh.json) {
        yajl_gen g = yajl_gen_alloc(NULL);
        yajl_gen_map_open(g);
        yajl_gen_string(g, (const unsigned char *) "event", 5);
        yajl_gen_string(g, (const unsigned char *) event, strlen(event));
        if (data) {
            yajl_gen_string(g, (const unsigned char *) "data", 4);
            qmp_json_gen(data, g);
        }
        yajl_gen_string(g, (const unsigned char *) "timestamp", 9);
        yajl_gen_map_open(g);
        yajl_gen_string(g, (const unsigned char *) "seconds", 7);
        yajl_gen_integer(g, ts / G_USEC_PER_SEC);
        yajl_gen_string(g, (const unsigned char *) "microseconds", 12);
        yajl_gen_integer(g, ts % G_USEC_PER_SEC);
        yajl_gen_map_close(g);
        yajl_gen_map_close(g);
        print_gen(g, stdout);
        yajl_gen_free(g);
    } else {
        g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local(ts / G_USEC_PER_SEC);
        g_autofree char *hms = dt ? g_date_time_format(dt, "%H:%M:%S") : g_strdup("?");
        g_autofree char *when = g_strdup_printf("%s.%06d", hms, (int) (ts % G_USEC_PER_SEC));
        printf("event %s at %s%s", event, when, data ? ": " : "\n");
        if (data)
            print_json(data, FALSE);
    }
    output_end();
}

/* --verbose and --record: the trace hook sees every message (secrets
 * already redacted). */
static void on_trace(QmpMonitor *mon, QmpTraceDirection dir, const char *line, gsize len,
                     const int *fds, guint n_fds, gpointer user_data)
{
    if (sh.verbose && dir == QMP_TRACE_OUT)
        fprintf(stderr, "-> %.*s\n", (int) len, line);
    if (sh.recorder)
        qmp_recorder_add(sh.recorder, dir, line, len, n_fds);
}

static void on_closed(QmpMonitor *mon, const GError *error, gpointer user_data)
{
    if (!sh.quitting) {
        output_begin();
        fprintf(stderr, "qmp-shell: connection closed: %s\n",
                error ? error->message : "end of file");
        sh.at_prompt = FALSE;
        sh.status = EXIT_CLOSED;
    }
    if (sh.loop)
        g_main_loop_quit(sh.loop);
}

static void report_local_error(const GError *error)
{
    fprintf(stderr, "qmp-shell: %s\n", error->message);
}

static void report_command_error(const GError *error)
{
    if (error->domain != QMP_COMMAND_ERROR) {
        fprintf(stderr, "qmp-shell: %s\n", error->message);
        return;
    }
    const char *klass = qmp_command_error_class_name(error->code) ?: "Error";
    if (sh.json) {
        QmpJsonBuilder *b = qmp_json_builder_new();
        qmp_json_builder_begin_object(b);
        qmp_json_builder_key(b, "class", 5);
        qmp_json_builder_string(b, klass, strlen(klass));
        qmp_json_builder_key(b, "desc", 4);
        qmp_json_builder_string(b, error->message, strlen(error->message));
        qmp_json_builder_end(b);
        g_autoptr(QmpJsonDoc) doc = qmp_json_builder_finish(b);
        print_wrapped("error", qmp_json_doc_root(doc));
        fflush(stdout);
    } else {
        fprintf(stderr, "error: %s: %s\n", klass, error->message);
    }
}

/* ---- running lines -------------------------------------------------------- */

static gboolean run_hmp(const char *line)
{
    g_autoptr(GString) args = g_string_new("{\"command-line\": \"");
    qmp_json_append_escaped(args, line, strlen(line));
    g_string_append(args, "\"}");
    g_autoptr(GError) error = NULL;
    const QmpJson *ret = NULL;
    g_autoptr(QmpJsonDoc) doc = qmp_monitor_execute(sh.mon, "human-monitor-command", args->str,
                                                    QMP_EXECUTE_NONE, NULL, 0,
                                                    QMP_TIMEOUT_NONE, &ret, &error);
    if (!doc) {
        report_command_error(error);
        return FALSE;
    }
    if (sh.json) {
        print_wrapped("return", ret);
    } else {
        const char *s = qmp_json_get_string(ret);
        if (s && *s)
            fputs(s, stdout);
        if (s && *s && s[strlen(s) - 1] != '\n')
            fputc('\n', stdout);
    }
    fflush(stdout);
    return TRUE;
}

static void print_command_list(void)
{
    const GPtrArray *cmds = shell_schema_commands(sh.schema);
    printf("%u commands in the connected QEMU (help COMMAND explains one):\n", cmds->len);
    guint col = 0;
    for (guint i = 0; i < cmds->len; i++) {
        const char *c = cmds->pdata[i];
        if (col && col + strlen(c) + 2 > 78) {
            fputc('\n', stdout);
            col = 0;
        }
        col += printf("%s%s", col ? "  " : "  ", c);
    }
    printf("\nShell: help [COMMAND], hmp HMP-COMMAND-LINE; raw JSON requests work too.\n");
}

/* One line; FALSE when it failed. */
static gboolean run_line(const char *raw)
{
    g_autofree char *line = g_strstrip(g_strdup(raw));
    if (!*line || line[0] == '#')
        return TRUE;
    if (sh.hmp)
        return run_hmp(line);
    if (strcmp(line, "help") == 0 || strcmp(line, "?") == 0) {
        print_command_list();
        return TRUE;
    }
    if (g_str_has_prefix(line, "help ")) {
        g_autoptr(GError) error = NULL;
        g_autofree char *text = shell_schema_help(sh.schema, g_strstrip(line + 5), &error);
        if (!text) {
            report_local_error(error);
            return FALSE;
        }
        fputs(text, stdout);
        return TRUE;
    }
    if (g_str_has_prefix(line, "hmp "))
        return run_hmp(line + 4);

    g_autoptr(GError) error = NULL;
    g_autoptr(ShellRequest) req = shell_schema_parse(sh.schema, line, &error);
    if (!req) {
        report_local_error(error);
        return FALSE;
    }
    if (strcmp(req->command, "quit") == 0)
        sh.quitting = TRUE;
    const QmpJson *ret = NULL;
    g_autoptr(QmpJsonDoc) doc = qmp_monitor_execute(sh.mon, req->command, req->args_json,
                                                    req->flags, NULL, 0, QMP_TIMEOUT_NONE,
                                                    &ret, &error);
    if (!doc) {
        if (sh.quitting && g_error_matches(error, QMP_ERROR, QMP_ERROR_CLOSED))
            return TRUE; /* QEMU left before its reply: that is what quit does */
        sh.quitting = FALSE;
        report_command_error(error);
        return FALSE;
    }
    if (sh.json)
        print_wrapped("return", ret);
    else
        print_json(ret, FALSE);
    fflush(stdout);
    return TRUE;
}

/* ---- the line editor on the main loop -------------------------------------------- */

static const char *prompt(void)
{
    return sh.hmp ? "(hmp) " : "(qmp) ";
}

static gboolean on_stdin(gint fd, GIOCondition cond, gpointer user_data)
{
    rl_callback_read_char();
    return G_SOURCE_CONTINUE;
}

static void watch_stdin(gboolean on)
{
    if (on && !sh.stdin_watch) {
        sh.stdin_watch = g_unix_fd_add(STDIN_FILENO, G_IO_IN | G_IO_HUP | G_IO_ERR,
                                       on_stdin, NULL);
    } else if (!on && sh.stdin_watch) {
        g_source_remove(sh.stdin_watch);
        sh.stdin_watch = 0;
    }
}

static void on_line(char *line)
{
    if (!line) { /* Ctrl-D */
        sh.at_prompt = FALSE;
        fputc('\n', stdout);
        watch_stdin(FALSE);
        g_main_loop_quit(sh.loop);
        return;
    }
    if (*line)
        add_history(line);
    /* The command runs synchronously: the monitor's replies and events are
     * still dispatched, keyboard input waits. */
    sh.at_prompt = FALSE;
    watch_stdin(FALSE);
    run_line(line);
    free(line);
    if (qmp_monitor_is_connected(sh.mon) && !sh.quitting) {
        /* libedit leaves unbuffered (character) mode before calling this
         * handler; installing it again resets the line and draws the
         * prompt after the command's output. */
        rl_callback_handler_install(prompt(), on_line);
        watch_stdin(TRUE);
        sh.at_prompt = TRUE;
    } else {
        g_main_loop_quit(sh.loop);
    }
}

static char **complete(const char *text, int start, int end)
{
    rl_attempted_completion_over = 1;
    if (sh.hmp)
        return NULL;
    g_autofree char *before = g_strndup(rl_line_buffer, MAX(start, 0));
    g_autoptr(GPtrArray) cands = shell_schema_complete(sh.schema, before, text, builtins);
    if (cands->len == 0)
        return NULL;
    /* matches[0] is what replaces the word: the candidates' common prefix. */
    const char *first = cands->pdata[0];
    gsize lcp = strlen(first);
    for (guint i = 1; i < cands->len; i++) {
        const char *c = cands->pdata[i];
        gsize j = 0;
        while (j < lcp && c[j] == first[j])
            j++;
        lcp = j;
    }
    char **m = calloc(cands->len + 2, sizeof(char *));
    m[0] = strndup(first, lcp);
    for (guint i = 0; i < cands->len; i++)
        m[i + 1] = strdup(cands->pdata[i]);
    char lastc = first[strlen(first) - 1];
    rl_completion_append_character = (cands->len == 1 && lastc != '=' && lastc != '.') ? ' ' : '\0';
    return m;
}

static char *history_path(const char *given)
{
    if (given)
        return g_strdup(given);
    return g_build_filename(g_get_home_dir(), ".qmpkit_shell_history", NULL);
}

static void run_interactive(const char *history)
{
    rl_readline_name = "qmp-shell";
    rl_attempted_completion_function = complete;
    rl_basic_word_break_characters = " \t";
    rl_completer_word_break_characters = (char *) " \t";
    using_history();
    stifle_history(1000);
    if (history)
        read_history(history);

    int major = 0, minor = 0, micro = 0;
    qmp_monitor_get_version(sh.mon, &major, &minor, &micro, NULL);
    printf("Connected to QEMU %d.%d.%d (%u commands). `help` lists them, `help COMMAND` "
           "explains one,\nTab completes, Ctrl-D leaves.%s\n",
           major, minor, micro, shell_schema_commands(sh.schema)->len,
           sh.hmp ? " HMP mode: lines go to human-monitor-command." : "");
    fflush(stdout);

    sh.loop = g_main_loop_new(NULL, FALSE);
    rl_callback_handler_install(prompt(), on_line);
    sh.at_prompt = TRUE;
    watch_stdin(TRUE);
    g_main_loop_run(sh.loop);
    watch_stdin(FALSE);
    sh.at_prompt = FALSE;
    rl_callback_handler_remove();
    if (history && write_history(history) != 0)
        fprintf(stderr, "qmp-shell: could not write history to %s\n", history);
    g_clear_pointer(&sh.loop, g_main_loop_unref);
}

static int run_script(void)
{
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n;
    int status = EXIT_OK;
    while ((n = getline(&buf, &cap, stdin)) >= 0) {
        if (!run_line(buf)) {
            status = sh.status ? sh.status : EXIT_COMMAND;
            break;
        }
        if (sh.quitting)
            break;
    }
    free(buf);
    return status;
}

/* ---- connecting ------------------------------------------------------------------ */

static gboolean connect_address(QmpMonitor *mon, const char *addr, GError **error)
{
    const char *colon = strrchr(addr, ':');
    if (!strchr(addr, '/') && colon && !g_file_test(addr, G_FILE_TEST_EXISTS)) {
        guint64 port;
        if (!g_ascii_string_to_unsigned(colon + 1, 10, 1, 65535, &port, NULL)) {
            g_set_error(error, QMP_ERROR, QMP_ERROR_INVALID,
                        "'%s' is neither a socket path nor HOST:PORT", addr);
            return FALSE;
        }
        g_autofree char *host = g_strndup(addr, colon - addr);
        if (host[0] == '[' && host[strlen(host) - 1] == ']') {
            char *h = g_strndup(host + 1, strlen(host) - 2);
            g_free(host);
            host = h;
        }
        return qmp_monitor_connect_tcp(mon, *host ? host : "localhost", (guint16) port, error);
    }
    return qmp_monitor_connect_unix(mon, addr, error);
}

int main(int argc, char **argv)
{
    gboolean version = FALSE, no_history = FALSE;
    char *qemu = NULL, *history_file = NULL, *record = NULL;
    gint timeout_s = 10;
    GOptionEntry entries[] = {
        { "json", 'j', 0, G_OPTION_ARG_NONE, &sh.json,
          "One reply (and event) per line as JSON", NULL },
        { "hmp", 'H', 0, G_OPTION_ARG_NONE, &sh.hmp,
          "HMP mode: send lines to human-monitor-command", NULL },
        { "verbose", 'v', 0, G_OPTION_ARG_NONE, &sh.verbose,
          "Show each request sent (on stderr)", NULL },
        { "qemu", 'q', 0, G_OPTION_ARG_FILENAME, &qemu,
          "With no address: the QEMU to spawn (default qemu-system-x86_64)", "BINARY" },
        { "history", 0, 0, G_OPTION_ARG_FILENAME, &history_file,
          "History file (default ~/.qmpkit_shell_history)", "FILE" },
        { "no-history", 0, 0, G_OPTION_ARG_NONE, &no_history,
          "Neither read nor write a history file", NULL },
        { "timeout", 't', 0, G_OPTION_ARG_INT, &timeout_s,
          "Seconds to wait for the greeting (default 10)", "S" },
        { "record", 0, 0, G_OPTION_ARG_FILENAME, &record,
          "Record the conversation (secrets redacted) for qmp-replay", "FILE" },
        { "version", 'V', 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
        { NULL },
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new(
        "[SOCKET-PATH | HOST:PORT] [-- QEMU-ARGS...]");
    g_option_context_set_summary(ctx,
        "Talk to a QEMU monitor (QMP).  Lines are `command key=value ...` or raw JSON,\n"
        "checked against the connected QEMU's schema before they are sent.  With no\n"
        "address, spawns a QEMU (-machine none, or the arguments after --).\n"
        "Interactive on a terminal; otherwise runs stdin as a script and stops with\n"
        "status 1 at the first error.");
    g_option_context_set_description(ctx,
        "Exit status: 0 ok, 1 a command failed (script mode), 2 usage, 3 could not\n"
        "connect or spawn, 4 the connection closed unexpectedly.\n"
        "See qmp-shell(1).");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_autoptr(GError) error = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        fprintf(stderr, "qmp-shell: %s (try --help)\n", error->message);
        return EXIT_USAGE;
    }
    if (version) {
        printf("qmp-shell (qmpkit) %s\n", QMPKIT_VERSION);
        return EXIT_OK;
    }
    /* What remains: [ADDRESS] [--] [QEMU-ARGS]. */
    const char *address = NULL;
    int qemu_args_at = argc;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            qemu_args_at = i + 1;
            break;
        }
        if (address) {
            fprintf(stderr, "qmp-shell: one address only (QEMU arguments go after --)\n");
            return EXIT_USAGE;
        }
        address = argv[i];
    }
    if (address && (qemu || qemu_args_at < argc)) {
        fprintf(stderr, "qmp-shell: --qemu and QEMU arguments need no address\n");
        return EXIT_USAGE;
    }

    g_autoptr(QmpMonitor) mon = qmp_monitor_new(NULL);
    sh.mon = mon;
    if (record) {
        sh.recorder = qmp_recorder_new(record, address ? address : "qemu spawned by qmp-shell",
                                       &error);
        if (!sh.recorder) {
            fprintf(stderr, "qmp-shell: %s\n", error->message);
            return EXIT_USAGE;
        }
    }
    if (sh.verbose || sh.recorder)
        qmp_monitor_set_trace(mon, on_trace, NULL, NULL);
    gboolean ok;
    if (address) {
        ok = connect_address(mon, address, &error);
    } else {
        static const char *const defaults[] = { "-machine", "none", "-nodefaults",
                                                "-display", "none", NULL };
        g_autoptr(GPtrArray) args = g_ptr_array_new();
        for (int i = qemu_args_at; i < argc; i++)
            g_ptr_array_add(args, argv[i]);
        g_ptr_array_add(args, NULL);
        ok = qmp_monitor_spawn(mon, qemu ? qemu : "qemu-system-x86_64",
                               qemu_args_at < argc ? (const char *const *) args->pdata : defaults,
                               &error);
    }
    if (ok)
        ok = qmp_monitor_handshake(mon, QMP_HANDSHAKE_OOB, timeout_s * 1000, &error);
    if (!ok) {
        fprintf(stderr, "qmp-shell: %s\n", error->message);
        if (sh.recorder)
            qmp_recorder_close(sh.recorder, NULL);
        return EXIT_CONNECT;
    }
    const QmpJson *list = NULL;
    g_autoptr(QmpJsonDoc) schema_doc = qmp_monitor_execute(mon, "query-qmp-schema", NULL,
                                                           QMP_EXECUTE_NONE, NULL, 0,
                                                           QMP_TIMEOUT_DEFAULT, &list, &error);
    g_autoptr(ShellSchema) schema = schema_doc ? shell_schema_new(schema_doc, list, &error) : NULL;
    if (!schema) {
        fprintf(stderr, "qmp-shell: cannot read the QEMU's schema: %s\n", error->message);
        if (sh.recorder)
            qmp_recorder_close(sh.recorder, NULL);
        return EXIT_CONNECT;
    }
    sh.schema = schema;
    qmp_monitor_subscribe(mon, NULL, on_event, NULL, NULL);
    g_signal_connect(mon, "closed", G_CALLBACK(on_closed), NULL);

    sh.interactive = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
    int status;
    if (sh.interactive) {
        g_autofree char *hist = no_history ? NULL : history_path(history_file);
        run_interactive(hist);
        status = sh.status;
    } else {
        status = run_script();
    }
    g_signal_handlers_disconnect_by_func(mon, G_CALLBACK(on_closed), NULL);
    qmp_monitor_close(mon);
    qmp_monitor_set_trace(mon, NULL, NULL, NULL);
    if (sh.recorder && !qmp_recorder_close(g_steal_pointer(&sh.recorder), &error)) {
        fprintf(stderr, "qmp-shell: %s\n", error->message);
        if (status == EXIT_OK)
            status = EXIT_COMMAND;
    }
    g_free(record);
    g_free(qemu);
    g_free(history_file);
    return status;
}
