/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qmp-migrate.h (tool-private): what the subcommands of qmp-migrate share:
 * exit statuses, connecting to a monitor, progress output (a bar on a
 * terminal, one JSON object per update otherwise) and Ctrl-C.
 */
#pragma once

#include <glib.h>
#include "qmp-monitor.h"
#include "qmp-migration.h"

/* Exit statuses (docs/qmp-migrate.1). */
enum {
    QM_EXIT_OK = 0,
    QM_EXIT_FAILED = 1,          /* the operation failed; the source keeps running */
    QM_EXIT_USAGE = 2,
    QM_EXIT_CONNECT = 3,         /* a monitor could not be reached */
    QM_EXIT_CANCELLED = 4,       /* Ctrl-C (or cancel): the source keeps running */
    QM_EXIT_POSTCOPY_PAUSED = 5, /* post-copy paused: `qmp-migrate recover` can finish */
    QM_EXIT_POSTCOPY_FAILED = 6, /* post-copy lost a side: the guest is lost */
    QM_EXIT_MISMATCH = 7,        /* demo: guest memory differs after migration */
};

typedef struct {
    gboolean json;     /* one JSON object per update and result */
    gboolean tty;      /* draw a bar (stdout is a terminal and not json) */
    gboolean lines;    /* text on a pipe (--text): a line when pass or status changes */
    char *last_key;    /* the pass/status of the last line printed */
    gboolean quiet;    /* text mode: results print nothing (the caller sums up) */
    gboolean bar_open; /* a bar line is on screen without its newline */
    const char *op;    /* "migrate", "mirror", "save", ... */
} QmOutput;

extern QmOutput qm_out;

/* Decide the output style: JSON when asked or when stdout is no terminal,
 * unless text is forced (--text). */
void qm_output_init(const char *op, gboolean json);
extern gboolean qm_force_text;

typedef struct {
    const char *phase;     /* may be NULL */
    const char *status;    /* may be NULL */
    gint64 pass;           /* < 0: none */
    guint64 done, total;   /* bytes; total 0: unknown */
    guint64 remaining;     /* bytes */
    double bytes_per_s;    /* < 0: unknown */
    gboolean postcopy;
} QmProgress;

/* One update: redraws the bar, or prints one JSON line. */
void qm_progress(const QmProgress *p);
/* End the bar's line (before other output). */
void qm_progress_break(void);

/* A message for the user: on stderr (a JSON line on stdout too with
 * --json: {"event": "message", "text": ...}). */
void qm_say(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/* The final result: ok, with members given as alternating key, JSON text
 * value, NULL-terminated (e.g. "downtime_ms", "31", NULL).  Text mode
 * prints "key: value" lines from the same list, or the error. */
void qm_result(gboolean ok, const char *error, ...) G_GNUC_NULL_TERMINATED;

/* Connect and handshake (OOB) a monitor at addr: a unix socket path or
 * HOST:PORT.  role ("source", "destination") names it in recordings: with
 * --record PREFIX every message is written to PREFIX-ROLE.jsonl. */
QmpMonitor *qm_connect(const char *addr, const char *role, GError **error);
extern const char *qm_record_prefix;

/* Ctrl-C: the first SIGINT calls func (on the main loop); the default
 * action comes back afterwards, so a second Ctrl-C kills. */
void qm_on_sigint(GSourceFunc func, gpointer data);
void qm_sigint_clear(void);

/* JSON string literal of s (newly allocated). */
char *qm_json_str(const char *s);

/* migrate.c, for demo.c too: run mig on the main loop with Ctrl-C
 * cancelling (recover_uri: recover once over it when post-copy pauses);
 * print its figures as the result (label names it); its exit status. */
GError *qm_migration_run(QmpMigration *mig, const char *recover_uri);
void qm_migration_report(QmpMigration *mig, const GError *error, const char *label);
int qm_migration_exit_code(const GError *error);
/* A free TCP port on the loopback. */
guint16 qm_free_port(void);

/* Parse subcommand op's options (summary: the line --help shows under
 * "Usage:"); FALSE after printing the usage error on stderr: the option
 * parser's, or needs when arguments are left over.  qm_usage() prints
 * needs for op and returns QM_EXIT_USAGE, for the options still missing. */
gboolean qm_parse_options(const char *op, const char *summary, const GOptionEntry *entries,
                          int *argc, char ***argv, const char *needs);
int qm_usage(const char *op, const char *needs);

/* qm_result() for a failure with error's message; returns code (the exit
 * status). */
int qm_fail(const GError *error, int code);

/* Subcommands. */
int qm_cmd_migrate(int argc, char **argv);
int qm_cmd_cancel(int argc, char **argv);
int qm_cmd_recover(int argc, char **argv);
int qm_cmd_mirror(int argc, char **argv);
int qm_cmd_save(int argc, char **argv);
int qm_cmd_restore(int argc, char **argv);
int qm_cmd_demo(int argc, char **argv);
