/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * migration-linkcut-proxy.c: the tests' breakable TCP link (see the header).
 *
 * Each accepted connection is a Pair of non-blocking sockets and two
 * Flows (one per direction).  A Flow either waits for its input to be
 * readable (buffer empty) or for its output to be writable (buffer holding
 * data), never both, so a slow reader slows only its own direction.  End of
 * input is passed on as shutdown(SHUT_WR); a pair whose two flows ended, or
 * that hit an error, is closed.
 */
#include <gio/gio.h>
#include <sys/socket.h>
#include "migration-linkcut-proxy.h"

#define FLOW_BUF (64 * 1024)

typedef struct _Pair Pair;

typedef struct {
    Pair *pair;
    GSocket *in, *out;
    MigProxyDirection dir;
    char *buf;
    gsize len, off;
    GSource *source;
    gboolean ended;
    guint64 done;  /* bytes this flow forwarded */
    gint64 t0;     /* when it began (rate limit) */
} Flow;

struct _Pair {
    MigProxy *proxy;
    GSocket *client, *target;
    Flow flows[2];
};

struct _MigProxy {
    GMainContext *context;
    GMainLoop *loop;
    GThread *thread;
    GSocket *listener;
    GSource *accept_source;
    guint16 port, target_port;
    GList *pairs; /* Pair*, owned; touched only in the proxy's thread */
    gboolean broken;
    GMutex lock; /* the counters below */
    guint64 bytes[2];
    guint n_connections;
    guint64 rate; /* bytes/s towards the target per connection; 0: no limit */
};

static void flow_arm(Flow *f);

static void pair_close(Pair *pr)
{
    MigProxy *p = pr->proxy;
    for (int i = 0; i < 2; i++) {
        if (pr->flows[i].source) {
            g_source_destroy(pr->flows[i].source);
            g_source_unref(pr->flows[i].source);
            pr->flows[i].source = NULL;
        }
        g_free(pr->flows[i].buf);
    }
    g_socket_close(pr->client, NULL);
    g_socket_close(pr->target, NULL);
    g_object_unref(pr->client);
    g_object_unref(pr->target);
    p->pairs = g_list_remove(p->pairs, pr);
    g_free(pr);
}

static gboolean flow_ready(GSocket *sock, GIOCondition cond, gpointer data)
{
    Flow *f = data;
    Pair *pr = f->pair;
    MigProxy *p = pr->proxy;
    g_autoptr(GError) error = NULL;
    (void) sock;
    (void) cond;

    g_source_unref(f->source);
    f->source = NULL;
    if (f->len == 0) {
        gssize n = g_socket_receive(f->in, f->buf, FLOW_BUF, NULL, &error);
        if (n < 0 && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
            flow_arm(f);
            return G_SOURCE_REMOVE;
        }
        if (n < 0) {
            pair_close(pr);
            return G_SOURCE_REMOVE;
        }
        if (n == 0) {
            /* Pass the end on; the other direction may go on. */
            f->ended = TRUE;
            g_socket_shutdown(f->out, FALSE, TRUE, NULL);
            if (pr->flows[0].ended && pr->flows[1].ended)
                pair_close(pr);
            return G_SOURCE_REMOVE;
        }
        f->len = n;
        f->off = 0;
    }
    while (f->off < f->len) {
        gssize n = g_socket_send(f->out, f->buf + f->off, f->len - f->off, NULL, &error);
        if (n < 0 && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            break;
        if (n < 0) {
            pair_close(pr);
            return G_SOURCE_REMOVE;
        }
        f->off += n;
        f->done += n;
        g_mutex_lock(&p->lock);
        p->bytes[f->dir] += n;
        g_mutex_unlock(&p->lock);
    }
    if (f->off == f->len)
        f->len = f->off = 0;
    flow_arm(f);
    return G_SOURCE_REMOVE;
}

static gboolean flow_wake(gpointer data)
{
    Flow *f = data;
    g_source_unref(f->source);
    f->source = NULL;
    flow_arm(f);
    return G_SOURCE_REMOVE;
}

static void flow_arm(Flow *f)
{
    MigProxy *p = f->pair->proxy;
    g_mutex_lock(&p->lock);
    guint64 rate = p->rate;
    g_mutex_unlock(&p->lock);
    if (f->len == 0 && f->dir == MIG_PROXY_TO_TARGET && rate > 0) {
        /* Ahead of the rate: read again when the schedule catches up. */
        gint64 now = g_get_monotonic_time();
        if (!f->t0)
            f->t0 = now;
        gint64 due = f->t0 + (gint64) (f->done * G_USEC_PER_SEC / rate);
        if (due > now + 1000) {
            f->source = g_timeout_source_new((due - now) / 1000);
            g_source_set_callback(f->source, flow_wake, f, NULL);
            g_source_attach(f->source, p->context);
            return;
        }
    }
    if (f->len == 0)
        f->source = g_socket_create_source(f->in, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
    else
        f->source = g_socket_create_source(f->out, G_IO_OUT | G_IO_HUP | G_IO_ERR, NULL);
    g_source_set_callback(f->source, G_SOURCE_FUNC(flow_ready), f, NULL);
    g_source_attach(f->source, f->pair->proxy->context);
}

static gboolean on_accept(GSocket *listener, GIOCondition cond, gpointer data)
{
    MigProxy *p = data;
    g_autoptr(GError) error = NULL;
    (void) cond;

    GSocket *client = g_socket_accept(listener, NULL, &error);
    if (!client)
        return G_SOURCE_CONTINUE;
    /* Connect to the destination (loopback: blocking connect is immediate). */
    GSocket *target = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                   G_SOCKET_PROTOCOL_TCP, &error);
    g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
    g_autoptr(GSocketAddress) addr = g_inet_socket_address_new(lo, p->target_port);
    if (!target || !g_socket_connect(target, addr, NULL, &error)) {
        g_socket_close(client, NULL);
        g_object_unref(client);
        g_clear_object(&target);
        return G_SOURCE_CONTINUE;
    }
    g_socket_set_blocking(client, FALSE);
    g_socket_set_blocking(target, FALSE);
    Pair *pr = g_new0(Pair, 1);
    pr->proxy = p;
    pr->client = client;
    pr->target = target;
    pr->flows[0] = (Flow){ pr, client, target, MIG_PROXY_TO_TARGET, g_malloc(FLOW_BUF), 0, 0, NULL, FALSE, 0, 0 };
    pr->flows[1] = (Flow){ pr, target, client, MIG_PROXY_TO_CLIENT, g_malloc(FLOW_BUF), 0, 0, NULL, FALSE, 0, 0 };
    p->pairs = g_list_prepend(p->pairs, pr);
    g_mutex_lock(&p->lock);
    p->n_connections++;
    g_mutex_unlock(&p->lock);
    flow_arm(&pr->flows[0]);
    flow_arm(&pr->flows[1]);
    return G_SOURCE_CONTINUE;
}

static gpointer proxy_thread(gpointer data)
{
    MigProxy *p = data;
    g_main_context_push_thread_default(p->context);
    g_main_loop_run(p->loop);
    g_main_context_pop_thread_default(p->context);
    return NULL;
}

/* ---- actions run in the proxy's thread -------------------------------------- */

typedef struct {
    MigProxy *p;
    void (*fn)(MigProxy *p);
    GMutex lock;
    GCond cond;
    gboolean done;
} Call;

static gboolean call_in_thread(gpointer data)
{
    Call *c = data;
    c->fn(c->p);
    g_mutex_lock(&c->lock);
    c->done = TRUE;
    g_cond_signal(&c->cond);
    g_mutex_unlock(&c->lock);
    return G_SOURCE_REMOVE;
}

static void run_in_thread(MigProxy *p, void (*fn)(MigProxy *p))
{
    Call c = { p, fn, { 0 }, { 0 }, FALSE };
    g_mutex_init(&c.lock);
    g_cond_init(&c.cond);
    g_main_context_invoke(p->context, call_in_thread, &c);
    g_mutex_lock(&c.lock);
    while (!c.done)
        g_cond_wait(&c.cond, &c.lock);
    g_mutex_unlock(&c.lock);
    g_mutex_clear(&c.lock);
    g_cond_clear(&c.cond);
}

static void stop_accepting(MigProxy *p)
{
    if (p->accept_source) {
        g_source_destroy(p->accept_source);
        g_source_unref(p->accept_source);
        p->accept_source = NULL;
    }
}

static void do_reset(MigProxy *p)
{
    p->broken = TRUE;
    stop_accepting(p);
    g_socket_close(p->listener, NULL);
    while (p->pairs)
        pair_close(p->pairs->data);
}

static void do_silence(MigProxy *p)
{
    p->broken = TRUE;
    stop_accepting(p);
    for (GList *l = p->pairs; l; l = l->next) {
        Pair *pr = l->data;
        for (int i = 0; i < 2; i++)
            if (pr->flows[i].source) {
                g_source_destroy(pr->flows[i].source);
                g_source_unref(pr->flows[i].source);
                pr->flows[i].source = NULL;
            }
    }
}

static void do_quit(MigProxy *p)
{
    do_reset(p);
    g_main_loop_quit(p->loop);
}

/* ---- public ---------------------------------------------------------------- */

MigProxy *mig_proxy_new(guint16 target_port, GError **error)
{
    g_autoptr(GSocket) listener = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                               G_SOCKET_PROTOCOL_TCP, error);
    if (!listener)
        return NULL;
    g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
    g_autoptr(GSocketAddress) any = g_inet_socket_address_new(lo, 0);
    if (!g_socket_bind(listener, any, FALSE, error) || !g_socket_listen(listener, error))
        return NULL;
    g_autoptr(GSocketAddress) bound = g_socket_get_local_address(listener, error);
    if (!bound)
        return NULL;
    g_socket_set_blocking(listener, FALSE);

    MigProxy *p = g_new0(MigProxy, 1);
    g_mutex_init(&p->lock);
    p->target_port = target_port;
    p->port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
    p->listener = g_steal_pointer(&listener);
    p->context = g_main_context_new();
    p->loop = g_main_loop_new(p->context, FALSE);
    p->accept_source = g_socket_create_source(p->listener, G_IO_IN, NULL);
    g_source_set_callback(p->accept_source, G_SOURCE_FUNC(on_accept), p, NULL);
    g_source_attach(p->accept_source, p->context);
    p->thread = g_thread_new("mig-proxy", proxy_thread, p);
    return p;
}

guint16 mig_proxy_get_port(MigProxy *p)
{
    return p->port;
}

void mig_proxy_reset(MigProxy *p)
{
    run_in_thread(p, do_reset);
}

void mig_proxy_silence(MigProxy *p)
{
    run_in_thread(p, do_silence);
}

void mig_proxy_set_rate(MigProxy *p, guint64 bytes_per_s)
{
    g_mutex_lock(&p->lock);
    p->rate = bytes_per_s;
    g_mutex_unlock(&p->lock);
}

guint64 mig_proxy_get_bytes(MigProxy *p, MigProxyDirection dir)
{
    g_mutex_lock(&p->lock);
    guint64 n = p->bytes[dir];
    g_mutex_unlock(&p->lock);
    return n;
}

guint mig_proxy_get_n_connections(MigProxy *p)
{
    g_mutex_lock(&p->lock);
    guint n = p->n_connections;
    g_mutex_unlock(&p->lock);
    return n;
}

void mig_proxy_free(MigProxy *p)
{
    if (!p)
        return;
    run_in_thread(p, do_quit);
    g_thread_join(p->thread);
    g_main_loop_unref(p->loop);
    g_main_context_unref(p->context);
    g_object_unref(p->listener);
    g_mutex_clear(&p->lock);
    g_free(p);
}

guint16 mig_proxy_free_port(GError **error)
{
    g_autoptr(GSocket) s = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                        G_SOCKET_PROTOCOL_TCP, error);
    if (!s)
        return 0;
    g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
    g_autoptr(GSocketAddress) any = g_inet_socket_address_new(lo, 0);
    if (!g_socket_bind(s, any, TRUE, error))
        return 0;
    g_autoptr(GSocketAddress) bound = g_socket_get_local_address(s, error);
    if (!bound)
        return 0;
    return g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
}
