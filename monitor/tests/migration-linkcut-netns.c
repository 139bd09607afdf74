/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * migration-linkcut-netns.c: the veth link between two namespaces (see the
 * header).
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include "migration-harness.h"
#include "migration-linkcut-netns.h"

struct _MigNetns {
    char *src, *dst;   /* namespace names */
    char *veth_src;    /* the source's end */
};

/* Run `ip ARGS...` (at most 10 s); FALSE with its stderr in error. */
static gboolean ip(GError **error, ...)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_ptr_array_add(argv, "timeout");
    g_ptr_array_add(argv, "10");
    g_ptr_array_add(argv, "ip");
    va_list ap;
    va_start(ap, error);
    for (const char *a; (a = va_arg(ap, const char *));)
        g_ptr_array_add(argv, (gpointer) a);
    va_end(ap);
    g_ptr_array_add(argv, NULL);
    g_autofree char *err = NULL;
    int status = 0;
    if (!g_spawn_sync(NULL, (char **) argv->pdata, NULL,
                      G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, &err,
                      &status, error))
        return FALSE;
    if (!g_spawn_check_wait_status(status, NULL)) {
        g_autofree char *cmd = g_strjoinv(" ", (char **) argv->pdata + 2);
        g_set_error(error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED, "%s: %s", cmd,
                    err ? g_strstrip(err) : "failed");
        return FALSE;
    }
    return TRUE;
}

/* Namespaces left by a test process that died without cleaning up. */
static void delete_stale(void)
{
    g_autofree char *out = NULL;
    const char *argv[] = { "ip", "netns", "list", NULL };
    if (!g_spawn_sync(NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                      NULL, NULL, &out, NULL, NULL, NULL) || !out)
        return;
    g_auto(GStrv) lines = g_strsplit(out, "\n", -1);
    for (char **l = lines; *l; l++) {
        g_auto(GStrv) words = g_strsplit(*l, " ", 2);
        const char *name = words[0];
        if (!name || !(g_str_has_prefix(name, "qmpkit-mig-s-") || g_str_has_prefix(name, "qmpkit-mig-d-")))
            continue;
        gint64 pid = g_ascii_strtoll(name + strlen("qmpkit-mig-s-"), NULL, 10);
        if (pid > 0 && kill((pid_t) pid, 0) < 0 && errno == ESRCH)
            ip(NULL, "netns", "del", name, NULL);
    }
}

MigNetns *mig_netns_new(GError **error)
{
    if (geteuid() != 0) {
        g_set_error(error, G_SPAWN_ERROR, G_SPAWN_ERROR_PERM,
                    "network namespaces need root");
        return NULL;
    }
    g_autofree char *path = g_find_program_in_path("ip");
    if (!path) {
        g_set_error(error, G_SPAWN_ERROR, G_SPAWN_ERROR_NOENT, "ip (iproute2) not found");
        return NULL;
    }
    delete_stale();
    MigNetns *n = g_new0(MigNetns, 1);
    int pid = getpid();
    n->src = g_strdup_printf("qmpkit-mig-s-%d", pid);
    n->dst = g_strdup_printf("qmpkit-mig-d-%d", pid);
    n->veth_src = g_strdup_printf("qmv%da", pid);
    g_autofree char *veth_dst = g_strdup_printf("qmv%db", pid);
    mig_test_track_netns(path, n->src);
    mig_test_track_netns(path, n->dst);
    if (!ip(error, "netns", "add", n->src, NULL) || !ip(error, "netns", "add", n->dst, NULL) ||
        !ip(error, "link", "add", n->veth_src, "netns", n->src, "type", "veth", "peer", "name",
            veth_dst, "netns", n->dst, NULL) ||
        !ip(error, "-n", n->src, "addr", "add", MIG_NETNS_SRC_ADDR "/30", "dev", n->veth_src, NULL) ||
        !ip(error, "-n", n->dst, "addr", "add", MIG_NETNS_DST_ADDR "/30", "dev", veth_dst, NULL) ||
        !ip(error, "-n", n->src, "link", "set", "lo", "up", NULL) ||
        !ip(error, "-n", n->dst, "link", "set", "lo", "up", NULL) ||
        !ip(error, "-n", n->dst, "link", "set", veth_dst, "up", NULL) ||
        !ip(error, "-n", n->src, "link", "set", n->veth_src, "up", NULL)) {
        mig_netns_free(n);
        return NULL;
    }
    return n;
}

const char *mig_netns_source(MigNetns *n)
{
    return n->src;
}

const char *mig_netns_destination(MigNetns *n)
{
    return n->dst;
}

gboolean mig_netns_set_link(MigNetns *n, gboolean up, GError **error)
{
    return ip(error, "-n", n->src, "link", "set", n->veth_src, up ? "up" : "down", NULL);
}

void mig_netns_free(MigNetns *n)
{
    if (!n)
        return;
    /* Deleting a namespace destroys its end of the veth, and so the pair. */
    ip(NULL, "netns", "del", n->src, NULL);
    ip(NULL, "netns", "del", n->dst, NULL);
    mig_test_untrack_netns(n->src);
    mig_test_untrack_netns(n->dst);
    g_free(n->src);
    g_free(n->dst);
    g_free(n->veth_src);
    g_free(n);
}
