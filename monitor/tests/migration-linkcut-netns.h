/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * migration-linkcut-netns.h: two network namespaces joined by a veth pair,
 * for a migration whose link really goes down.
 *
 *   source namespace qmpkit-mig-s-PID, veth qmvPIDa, 10.253.0.1/30
 *   destination      qmpkit-mig-d-PID, veth qmvPIDb, 10.253.0.2/30
 *
 * Taking the source's end down is a silent cut: no RST, no FIN; TCP just
 * retransmits into the void and neither QEMU notices.  Being private, the
 * namespaces let the tests use fixed ports, so URIs are the same on every
 * run.
 *
 * The namespaces are deleted by mig_netns_free(), by the harness when the
 * test aborts or is terminated, and (when stale: their PID is gone) when
 * the next one is created.  Needs root and iproute2; mig_netns_new() says
 * why not otherwise.  Every `ip` call is bounded (10 s).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _MigNetns MigNetns;

#define MIG_NETNS_SRC_ADDR "10.253.0.1"
#define MIG_NETNS_DST_ADDR "10.253.0.2"

MigNetns *mig_netns_new(GError **error);
const char *mig_netns_source(MigNetns *n);      /* namespace names */
const char *mig_netns_destination(MigNetns *n);
/* The source's end of the link up or down. */
gboolean mig_netns_set_link(MigNetns *n, gboolean up, GError **error);
void mig_netns_free(MigNetns *n); /* deletes both namespaces; NULL-safe */

G_DEFINE_AUTOPTR_CLEANUP_FUNC(MigNetns, mig_netns_free)

G_END_DECLS
