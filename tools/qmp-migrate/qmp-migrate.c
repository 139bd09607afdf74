/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qmp-migrate: live migration, post-copy recovery, block copy (mirror) and
 * save/restore from the command line, with progress; `demo` shows it all on
 * two QEMUs it starts itself.  See docs/qmp-migrate.1.
 *
 * This file: the subcommand dispatch and what the subcommands share.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib-unix.h>

#include "qmp-migrate.h"
#include "qmp-json.h"
#include "qmp-recorder.h"

QmOutput qm_out;
gboolean qm_force_text;

gboolean qm_parse_options(const char *op, const char *summary, const GOptionEntry *entries,
                          int *argc, char ***argv, const char *needs)
{
    g_autoptr(GOptionContext) oc = g_option_context_new(summary);
    g_autoptr(GError) error = NULL;
    g_option_context_add_main_entries(oc, entries, NULL);
    if (!g_option_context_parse(oc, argc, argv, &error)) {
        fprintf(stderr, "qmp-migrate %s: %s\n", op, error->message);
        return FALSE;
    }
    if (*argc != 1) {
        qm_usage(op, needs);
        return FALSE;
    }
    return TRUE;
}

int qm_usage(const char *op, const char *needs)
{
    fprintf(stderr, "qmp-migrate %s: %s\n", op, needs);
    return QM_EXIT_USAGE;
}

int qm_fail(const GError *error, int code)
{
    qm_result(FALSE, error->message, NULL);
    return code;
}

void qm_output_init(const char *op, gboolean json)
{
    gboolean tty = isatty(STDOUT_FILENO);
    qm_out.op = op;
    qm_out.json = json || (!tty && !qm_force_text);
    qm_out.tty = !qm_out.json && tty;
    qm_out.lines = !qm_out.json && !tty;
}

char *qm_json_str(const char *s)
{
    g_autoptr(GString) q = g_string_new(NULL);
    qmp_json_append_escaped(q, s, strlen(s));
    return g_strdup_printf("\"%s\"", q->str);
}

void qm_progress_break(void)
{
    if (qm_out.bar_open) {
        fputc('\n', stdout);
        fflush(stdout);
        qm_out.bar_open = FALSE;
    }
}

static void fmt_duration(char *buf, gsize len, double s)
{
    if (s < 0)
        g_snprintf(buf, len, "--");
    else if (s < 60)
        g_snprintf(buf, len, "%.1fs", s);
    else
        g_snprintf(buf, len, "%dm%02ds", (int) (s / 60), (int) s % 60);
}

void qm_progress(const QmProgress *p)
{
    double pct = p->total ? 100.0 * (double) (p->total - MIN(p->remaining, p->total)) /
                                (double) p->total
                          : -1;
    double eta = p->bytes_per_s > 0 ? (double) p->remaining / p->bytes_per_s : -1;
    if (qm_out.json) {
        g_autoptr(GString) j = g_string_new("{\"event\": \"progress\"");
        g_autofree char *op = qm_json_str(qm_out.op);
        g_string_append_printf(j, ", \"op\": %s", op);
        if (p->phase) {
            g_autofree char *ph = qm_json_str(p->phase);
            g_string_append_printf(j, ", \"phase\": %s", ph);
        }
        if (p->status) {
            g_autofree char *st = qm_json_str(p->status);
            g_string_append_printf(j, ", \"status\": %s", st);
        }
        if (p->pass >= 0)
            g_string_append_printf(j, ", \"pass\": %" G_GINT64_FORMAT, p->pass);
        g_string_append_printf(j, ", \"done_bytes\": %" G_GUINT64_FORMAT
                               ", \"remaining_bytes\": %" G_GUINT64_FORMAT
                               ", \"total_bytes\": %" G_GUINT64_FORMAT,
                               p->done, p->remaining, p->total);
        if (pct >= 0)
            g_string_append_printf(j, ", \"percent\": %.1f", pct);
        if (p->bytes_per_s >= 0)
            g_string_append_printf(j, ", \"mib_per_s\": %.1f", p->bytes_per_s / 1048576.0);
        if (eta >= 0)
            g_string_append_printf(j, ", \"eta_s\": %.2f", eta);
        if (strcmp(qm_out.op, "migrate") == 0 || strcmp(qm_out.op, "demo") == 0)
            g_string_append_printf(j, ", \"postcopy\": %s", p->postcopy ? "true" : "false");
        g_string_append(j, "}\n");
        fputs(j->str, stdout);
        fflush(stdout);
        return;
    }
    if (qm_out.lines) {
        /* A log, not a terminal: one line per pass or status. */
        g_autofree char *key = g_strdup_printf("%" G_GINT64_FORMAT "/%s/%d", p->pass,
                                               p->status ?: "", p->postcopy);
        if (g_strcmp0(key, qm_out.last_key) == 0)
            return;
        g_free(qm_out.last_key);
        qm_out.last_key = g_steal_pointer(&key);
    }
    char bar[31];
    int filled = pct >= 0 ? (int) (pct * 30 / 100) : 0;
    for (int i = 0; i < 30; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[30] = 0;
    char etas[32];
    fmt_duration(etas, sizeof(etas), eta);
    g_autofree char *pass = p->pass >= 0 ? g_strdup_printf("pass %" G_GINT64_FORMAT " ", p->pass)
                                         : g_strdup("");
    printf("%s%s%s[%s] %5.1f%%  %7.1f MiB/s  %7.1f MiB left  ETA %s",
           qm_out.lines ? "  " : "\r\033[K", p->postcopy ? "post-copy " : "", pass, bar, MAX(pct, 0.0),
           p->bytes_per_s > 0 ? p->bytes_per_s / 1048576.0 : 0.0,
           (double) p->remaining / 1048576.0, etas);
    if (p->status)
        printf("  (%s)", p->status);
    if (qm_out.lines)
        fputc('\n', stdout);
    fflush(stdout);
    qm_out.bar_open = !qm_out.lines;
}

void qm_say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    qm_progress_break();
    fprintf(stderr, "qmp-migrate: %s\n", text);
    if (qm_out.json) {
        g_autofree char *t = qm_json_str(text);
        printf("{\"event\": \"message\", \"text\": %s}\n", t);
        fflush(stdout);
    }
}

void qm_result(gboolean ok, const char *error, ...)
{
    va_list ap;
    qm_progress_break();
    g_autoptr(GString) j = g_string_new(NULL);
    g_autofree char *op = qm_json_str(qm_out.op);
    g_string_printf(j, "{\"event\": \"result\", \"op\": %s, \"ok\": %s", op, ok ? "true" : "false");
    if (error) {
        g_autofree char *e = qm_json_str(error);
        g_string_append_printf(j, ", \"error\": %s", e);
        if (!qm_out.json)
            fprintf(stderr, "qmp-migrate %s: %s\n", qm_out.op, error);
    }
    va_start(ap, error);
    for (const char *k = va_arg(ap, const char *); k; k = va_arg(ap, const char *)) {
        const char *v = va_arg(ap, const char *);
        g_string_append_printf(j, ", \"%s\": %s", k, v);
        if (!qm_out.json && !qm_out.quiet) {
            /* Text: strings without their quotes. */
            gsize l = strlen(v);
            if (l >= 2 && v[0] == '"')
                printf("%-22s %.*s\n", k, (int) l - 2, v + 1);
            else
                printf("%-22s %s\n", k, v);
        }
    }
    va_end(ap);
    g_string_append(j, "}\n");
    if (qm_out.json)
        fputs(j->str, stdout);
    fflush(stdout);
}

const char *qm_record_prefix;

QmpMonitor *qm_connect(const char *addr, const char *role, GError **error)
{
    g_autoptr(QmpMonitor) mon = qmp_monitor_new(NULL);
    if (qm_record_prefix) {
        g_autofree char *path = g_strdup_printf("%s-%s.jsonl", qm_record_prefix, role);
        g_autofree char *peer = g_strdup_printf("qemu %s (qmp-migrate)", role);
        if (!qmp_monitor_record_to_file(mon, path, peer, error))
            return NULL;
    }
    const char *colon = strrchr(addr, ':');
    gboolean ok;
    if (!strchr(addr, '/') && colon && !g_file_test(addr, G_FILE_TEST_EXISTS)) {
        guint64 port;
        if (!g_ascii_string_to_unsigned(colon + 1, 10, 1, 65535, &port, NULL)) {
            g_set_error(error, QMP_ERROR, QMP_ERROR_INVALID,
                        "'%s' is neither a socket path nor HOST:PORT", addr);
            return NULL;
        }
        g_autofree char *host = g_strndup(addr, colon - addr);
        ok = qmp_monitor_connect_tcp(mon, *host ? host : "localhost", (guint16) port, error);
    } else {
        ok = qmp_monitor_connect_unix(mon, addr, error);
    }
    if (!ok || !qmp_monitor_handshake(mon, QMP_HANDSHAKE_OOB, 20000, error)) {
        if (error && *error)
            g_prefix_error(error, "%s: ", addr);
        return NULL;
    }
    return g_steal_pointer(&mon);
}

static guint sigint_id;
static GSourceFunc sigint_func;
static gpointer sigint_data;

static gboolean on_sigint(gpointer unused)
{
    sigint_id = 0;
    signal(SIGINT, SIG_DFL); /* a second Ctrl-C ends the tool at once */
    if (sigint_func)
        sigint_func(sigint_data);
    return G_SOURCE_REMOVE;
}

void qm_on_sigint(GSourceFunc func, gpointer data)
{
    qm_sigint_clear();
    sigint_func = func;
    sigint_data = data;
    sigint_id = g_unix_signal_add(SIGINT, on_sigint, NULL);
}

void qm_sigint_clear(void)
{
    if (sigint_id)
        g_source_remove(sigint_id);
    sigint_id = 0;
    sigint_func = NULL;
}

static const char usage[] =
    "Usage:\n"
    "  qmp-migrate migrate --source ADDR --dest ADDR [--uri URI] [--connect-uri URI] [--postcopy]\n"
    "                      [--postcopy-after PASSES] [--bandwidth MiB/s] [--storage]\n"
    "                      [--keep-source] [--json]\n"
    "  qmp-migrate cancel  --source ADDR [--json]\n"
    "  qmp-migrate recover --source ADDR --dest ADDR --uri NEW-URI [--json]\n"
    "  qmp-migrate save    --source ADDR --file PATH [--live] [--then stop|quit|continue] [--json]\n"
    "  qmp-migrate restore --dest ADDR --file PATH [--paused] [--json]\n"
    "  qmp-migrate mirror  --source ADDR --device DISK --target PATH [--format FMT]\n"
    "                      [--existing] [--bandwidth MiB/s] [--cancel] [--json]\n"
    "  qmp-migrate demo    [--qemu BINARY] [--json]\n"
    "  (every command: --json, or --text for human output on a pipe;\n"
    "   --record PREFIX writes each monitor's conversation to PREFIX-ROLE.jsonl)\n"
    "  qmp-migrate --help | --version\n"
    "\n"
    "Live migration, post-copy recovery, block copy and save/restore of QEMU guests\n"
    "over their QMP monitors, with progress (a bar on a terminal; one JSON object\n"
    "per update with --json or when stdout is not a terminal).  ADDR is a monitor's\n"
    "unix socket path or HOST:PORT.  `demo` starts two QEMUs itself and migrates a\n"
    "guest with 200 MiB of random memory pre-copy, then post-copy with preempt.\n"
    "Ctrl-C cancels cleanly: the source keeps running.  `qmp-migrate COMMAND --help`\n"
    "lists a command's options.\n"
    "\n"
    "Exit status: 0 success, 1 failed (the source keeps running), 2 usage,\n"
    "3 a monitor could not be reached, 4 cancelled, 5 post-copy paused (recover\n"
    "can finish it), 6 post-copy failed (guest lost), 7 demo: memory differs.\n"
    "See qmp-migrate(1).\n";

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    /* Options of every command: --text (human output even on a pipe, for
     * logs) and --record PREFIX (record both monitors' conversations). */
    for (int i = 1; i < argc; i++) {
        int n = 0;
        if (strcmp(argv[i], "--text") == 0) {
            qm_force_text = TRUE;
            n = 1;
        } else if (strcmp(argv[i], "--record") == 0 && i + 1 < argc) {
            qm_record_prefix = argv[i + 1];
            n = 2;
        }
        if (n) {
            memmove(&argv[i], &argv[i + n], (argc - i - n + 1) * sizeof(char *));
            argc -= n;
            i--;
        }
    }
    static const struct {
        const char *name;
        int (*func)(int, char **);
    } cmds[] = {
        { "migrate", qm_cmd_migrate }, { "cancel", qm_cmd_cancel },
        { "recover", qm_cmd_recover }, { "save", qm_cmd_save },
        { "restore", qm_cmd_restore }, { "mirror", qm_cmd_mirror },
        { "demo", qm_cmd_demo },
    };
    if (argc >= 2) {
        for (guint i = 0; i < G_N_ELEMENTS(cmds); i++) {
            if (strcmp(argv[1], cmds[i].name) == 0)
                return cmds[i].func(argc - 1, argv + 1);
        }
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
            strcmp(argv[1], "help") == 0) {
            fputs(usage, stdout);
            return QM_EXIT_OK;
        }
        if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
            printf("qmp-migrate (qmpkit) %s\n", QMPKIT_VERSION);
            return QM_EXIT_OK;
        }
        fprintf(stderr, "qmp-migrate: unknown command or option '%s'\n\n", argv[1]);
    }
    fputs(usage, stderr);
    return QM_EXIT_USAGE;
}
