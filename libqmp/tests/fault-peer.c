/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qmp-fault-peer FD SCRIPT: plays a misbehaving QMP server on the connected
 * socket FD, one script command per line:
 *
 *   greeting [oob]   send a QEMU-like greeting (offering OOB or nothing)
 *   send TEXT        send TEXT plus "\r\n"
 *   raw TEXT         send TEXT with \n, \r, \\ escapes and no terminator
 *   recv             read one line from the client
 *   expect TEXT      read one line from the client; fail unless it has TEXT
 *   ok               read a command, answer {"return": {}, "id": <its id>}
 *   reply TEXT       read a command, send TEXT with $ID replaced by its id
 *   hold2            read two commands, then answer the second, then the first
 *   big N            send {"return": "xxx..."} of N bytes in all, plus "\r\n"
 *   sleep MS         pause
 *   drain            read until the client closes the connection
 *   close            end (closing the socket)
 *
 * Exits 0 when the script ran to the end, 1 otherwise.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fd;
static char buf[1 << 16];
static size_t have;

static void put(const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            exit(1);
        }
        s += w;
        n -= w;
    }
}

/* One line from the client into line (NUL-terminated); 0 at EOF. */
static int get_line(char *line, size_t size)
{
    for (;;) {
        char *nl = memchr(buf, '\n', have);
        if (nl) {
            size_t n = nl - buf + 1;
            size_t c = n < size ? n : size - 1;
            memcpy(line, buf, c);
            line[c] = 0;
            memmove(buf, buf + n, have - n);
            have -= n;
            return 1;
        }
        if (have == sizeof(buf))
            exit(1);
        ssize_t r = read(fd, buf + have, sizeof(buf) - have);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return 0;
        have += r;
    }
}

/* The id of a command line as JSON text ("qmpkit-3"), into id. */
static void get_id(const char *line, char *id, size_t size)
{
    /* The last "id" member: arguments may have their own. */
    const char *p = NULL;
    for (const char *q = line; (q = strstr(q, "\"id\":")); q++)
        p = q;
    if (!p) {
        snprintf(id, size, "null");
        return;
    }
    p += 5;
    while (*p == ' ')
        p++;
    const char *e = p;
    while (*e && *e != '}' && *e != ',')
        e++;
    snprintf(id, size, "%.*s", (int) (e - p), p);
}

static void send_with_id(const char *tmpl, const char *id)
{
    const char *p;
    while ((p = strstr(tmpl, "$ID"))) {
        put(tmpl, p - tmpl);
        put(id, strlen(id));
        tmpl = p + 3;
    }
    put(tmpl, strlen(tmpl));
    put("\r\n", 2);
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    fd = atoi(argv[1]);
    char *script = strdup(argv[2]);
    char line[4096], id[256], id2[256];

    for (char *cmd = strtok(script, "\n"); cmd; cmd = strtok(NULL, "\n")) {
        char *arg = strchr(cmd, ' ');
        if (arg)
            *arg++ = 0;
        if (!strcmp(cmd, "greeting")) {
            char g[256];
            snprintf(g, sizeof(g),
                     "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 1, \"minor\": 2, "
                     "\"major\": 7}, \"package\": \"fault-peer\"}, \"capabilities\": [%s]}}",
                     arg && !strcmp(arg, "oob") ? "\"oob\"" : "");
            send_with_id(g, "");
        } else if (!strcmp(cmd, "send")) {
            send_with_id(arg ? arg : "", "");
        } else if (!strcmp(cmd, "raw")) {
            for (char *p = arg; p && *p; p++) {
                char c = *p;
                if (c == '\\' && p[1]) {
                    p++;
                    c = *p == 'n' ? '\n' : *p == 'r' ? '\r' : *p;
                }
                put(&c, 1);
            }
        } else if (!strcmp(cmd, "recv")) {
            if (!get_line(line, sizeof(line)))
                return 1;
        } else if (!strcmp(cmd, "expect")) {
            if (!get_line(line, sizeof(line)) || !strstr(line, arg ? arg : "")) {
                fprintf(stderr, "qmp-fault-peer: expected %s, got %s", arg, line);
                return 1;
            }
        } else if (!strcmp(cmd, "ok") || !strcmp(cmd, "reply")) {
            if (!get_line(line, sizeof(line)))
                return 1;
            get_id(line, id, sizeof(id));
            send_with_id(!strcmp(cmd, "ok") ? "{\"return\": {}, \"id\": $ID}" : arg, id);
        } else if (!strcmp(cmd, "hold2")) {
            if (!get_line(line, sizeof(line)))
                return 1;
            get_id(line, id, sizeof(id));
            if (!get_line(line, sizeof(line)))
                return 1;
            get_id(line, id2, sizeof(id2));
            send_with_id("{\"return\": {\"n\": 2}, \"id\": $ID}", id2);
            send_with_id("{\"return\": {\"n\": 1}, \"id\": $ID}", id);
        } else if (!strcmp(cmd, "big")) {
            long n = atol(arg);
            put("{\"return\": \"", 12);
            for (long i = 0; i < n - 14; i++)
                put("x", 1);
            put("\"}\r\n", 4);
        } else if (!strcmp(cmd, "sleep")) {
            usleep(atoi(arg) * 1000);
        } else if (!strcmp(cmd, "drain")) {
            while (get_line(line, sizeof(line)))
                ;
        } else if (!strcmp(cmd, "close")) {
            break;
        } else {
            fprintf(stderr, "qmp-fault-peer: unknown command %s\n", cmd);
            return 2;
        }
    }
    free(script);
    close(fd);
    return 0;
}
