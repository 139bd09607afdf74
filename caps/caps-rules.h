/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * caps-rules.h: the probe rule table generated from caps/probes.rules by
 * the generator's 'probes' backend (generator/qapi/backend_probes.py).
 * Internal to caps/; the public interface is qmp-caps.h.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
    QMP_CAPS_RULE_COMMAND,        /* arg: command name */
    QMP_CAPS_RULE_EVENT,          /* arg: event name */
    QMP_CAPS_RULE_SCHEMA,         /* path: query-qmp-schema path steps */
    QMP_CAPS_RULE_MIGRATION,      /* arg: migration capability */
    QMP_CAPS_RULE_QOM_TYPE,       /* arg: QOM type */
    QMP_CAPS_RULE_QOM_PROPERTY,   /* arg: QOM type, arg2: property */
    QMP_CAPS_RULE_VERSION,        /* version: minimum QEMU version */
    QMP_CAPS_RULE_QMP_CAPABILITY, /* arg: greeting capability */
} QmpCapsRuleKind;

typedef struct {
    const char *name;
    QmpCapsRuleKind kind;
    const char *arg;
    const char *arg2;
    const char *const *path; /* NULL-terminated steps, for SCHEMA rules */
    int version[3];
    const char *libvirt;     /* libvirt's name for the same flag, or NULL */
    const char *doc;         /* one-line description, may be "" */
} QmpCapsRule;

extern const QmpCapsRule qmp_caps_rules[];
extern const guint qmp_caps_n_rules;
/* NULL-terminated: the types whose properties the rules need. */
extern const char *const qmp_caps_qom_property_types[];
/* Bit (1u << kind) for every kind of rule in the table. */
extern const guint qmp_caps_rule_kinds;

G_END_DECLS
