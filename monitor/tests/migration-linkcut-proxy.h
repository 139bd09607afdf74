/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * migration-linkcut-proxy.h: a TCP proxy on loopback that the tests put
 * between a migration source and its destination, to break the link on
 * command.
 *
 * The proxy listens on 127.0.0.1 (an ephemeral port) and forwards every
 * connection it accepts (the main stream, the return path on it, the
 * postcopy-preempt channel) to 127.0.0.1:TARGET, both ways.  It runs in a
 * thread of its own with its own GMainContext, so it keeps forwarding
 * whatever the test thread does (sync monitor calls, sleeps, valgrind).
 *
 * Two ways to break the link:
 *  - reset: every socket (both sides of every connection, and the
 *    listener) is closed at once: both QEMUs see the connection end;
 *  - silence: nothing more is read or written and nothing is closed: the
 *    sockets stay open and data piles up in the kernel's buffers, as when a
 *    cable is pulled.  QEMU notices nothing.
 *
 * Ownership: the proxy owns its thread and sockets; mig_proxy_free() ends
 * them (NULL-safe).  All functions are called from the test's thread.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _MigProxy MigProxy;

typedef enum {
    MIG_PROXY_TO_TARGET, /* source -> destination */
    MIG_PROXY_TO_CLIENT, /* destination -> source (return path) */
} MigProxyDirection;

/* Listen on 127.0.0.1:<ephemeral> and forward to 127.0.0.1:target_port. */
MigProxy *mig_proxy_new(guint16 target_port, GError **error);
guint16 mig_proxy_get_port(MigProxy *p);

/* Break the link (see above); both return once done.  Idempotent. */
void mig_proxy_reset(MigProxy *p);
void mig_proxy_silence(MigProxy *p);

/* A slow link: at most bytes_per_s towards the target on each connection
 * (0: no limit, the default); takes effect at the next read. */
void mig_proxy_set_rate(MigProxy *p, guint64 bytes_per_s);

/* Bytes forwarded so far in one direction, and connections accepted. */
guint64 mig_proxy_get_bytes(MigProxy *p, MigProxyDirection dir);
guint mig_proxy_get_n_connections(MigProxy *p);

void mig_proxy_free(MigProxy *p);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(MigProxy, mig_proxy_free)

/* A TCP port on 127.0.0.1 that was free a moment ago (bound and released). */
guint16 mig_proxy_free_port(GError **error);

G_END_DECLS
