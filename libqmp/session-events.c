/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * session-events.c: event subscriptions and their dispatch (see
 * qmp-monitor.h).
 */
#include <string.h>
#include "session-private.h"

/* ---- events ------------------------------------------------------------ */

void qmp_session_subscription_free(Subscription *sub)
{
    if (sub->destroy)
        sub->destroy(sub->user_data);
    g_free(sub->event);
    g_free(sub);
}

void qmp_session_dispatch_event(QmpMonitor *mon, const QmpJson *root, const char *name)
{
    const QmpJson *data = qmp_json_lookup(root, "data");
    const QmpJson *ts = qmp_json_lookup(root, "timestamp");
    gint64 sec = 0, usec = 0;
    qmp_session_json_int(ts, "seconds", &sec);
    qmp_session_json_int(ts, "microseconds", &usec);
    /* a peer may send any integers: saturate instead of overflowing */
    const gint64 max_sec = G_MAXINT64 / G_USEC_PER_SEC - 1;
    sec = CLAMP(sec, -max_sec, max_sec);
    usec = CLAMP(usec, -G_USEC_PER_SEC, G_USEC_PER_SEC);
    gint64 stamp = sec * G_USEC_PER_SEC + usec;

    mon->sub_depth++;
    for (GList *l = mon->subs; l; l = l->next) {
        Subscription *sub = l->data;
        if (sub->removed || (sub->event && strcmp(sub->event, name) != 0))
            continue;
        sub->func(mon, name, data, stamp, sub->user_data);
    }
    if (--mon->sub_depth == 0) {
        for (GList *l = mon->subs; l;) {
            GList *next = l->next;
            Subscription *sub = l->data;
            if (sub->removed) {
                mon->subs = g_list_delete_link(mon->subs, l);
                qmp_session_subscription_free(sub);
            }
            l = next;
        }
    }
}

guint qmp_monitor_subscribe(QmpMonitor *mon, const char *event, QmpEventFunc func,
                            gpointer user_data, GDestroyNotify destroy)
{
    g_return_val_if_fail(QMP_IS_MONITOR(mon), 0);
    g_return_val_if_fail(func != NULL, 0);
    Subscription *sub = g_new0(Subscription, 1);
    sub->id = mon->next_sub_id++;
    sub->event = g_strdup(event);
    sub->func = func;
    sub->user_data = user_data;
    sub->destroy = destroy;
    mon->subs = g_list_append(mon->subs, sub);
    return sub->id;
}

void qmp_monitor_unsubscribe(QmpMonitor *mon, guint id)
{
    g_return_if_fail(QMP_IS_MONITOR(mon));
    for (GList *l = mon->subs; l; l = l->next) {
        Subscription *sub = l->data;
        if (sub->id != id || sub->removed)
            continue;
        if (mon->sub_depth > 0) {
            sub->removed = TRUE; /* freed when the dispatch ends */
        } else {
            mon->subs = g_list_delete_link(mon->subs, l);
            qmp_session_subscription_free(sub);
        }
        return;
    }
}
