/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* caps-private.h: the inside of QmpCaps, shared by caps/ sources. */
#pragma once

#include "qmp-caps.h"
#include "qmp-json.h"

struct _QmpCaps {
    gboolean have_version;
    int version[3];
    char *package;
    char *source;
    gboolean cached;
    GHashTable *answers; /* name -> GINT_TO_POINTER(QmpCapsState + 1) */
    char *key;           /* cache key (see cache.c) or NULL */
    gboolean commands_known;  /* the full list of commands was seen */
    gboolean migration_known; /* the full list of migration capabilities */
};

/* One reply the probe asked for: the document, or the error. */
typedef struct {
    gboolean asked;
    QmpJsonDoc *doc;
    const QmpJson *ret;
    GError *error;
} QmpCapsReply;

/* Everything the rules are decided from. */
typedef struct {
    gboolean from_recording;
    gboolean have_greeting;       /* a real greeting (not a made-up one) */
    char **greeting_caps;         /* the greeting's capabilities */
    gboolean have_version;
    int version[3];
    char *package;
    QmpCapsReply schema;          /* query-qmp-schema */
    QmpCapsReply commands;        /* query-commands (fallback) */
    QmpCapsReply version_reply;   /* query-version */
    QmpCapsReply migration;       /* query-migrate-capabilities */
    QmpCapsReply types;           /* qom-list-types */
    QmpCapsReply *props;          /* per qmp_caps_qom_property_types[] */
    guint n_props;
} QmpCapsInputs;

void qmp_caps_inputs_init(QmpCapsInputs *in);
void qmp_caps_inputs_clear(QmpCapsInputs *in);
QmpCaps *qmp_caps_evaluate(QmpCapsInputs *in, const char *source);

QmpCaps *qmp_caps_new(void);
void qmp_caps_set(QmpCaps *caps, const char *name, QmpCapsState state);

/* Spawn binary (an absolute path) and probe it; no cache. */
QmpCaps *qmp_caps_probe_spawn(const char *binary, GError **error);
/* The cache key of binary now, or NULL (with error) if it cannot be stat'ed. */
char *qmp_caps_cache_key(const char *binary, GError **error);
