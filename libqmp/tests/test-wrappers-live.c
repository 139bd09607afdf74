/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-wrappers-live: every generated command wrapper of schema/ is called
 * at least once against real QEMU 7.2 (a q35 guest with a qcow2 disk, and a
 * second QEMU as migration destination), and most typed events are
 * observed.  The trace hook records what went out; at the end every entry
 * of qmp_commands_all must have been sent.
 *
 * Commands that need a state this test does not build (post-copy pause and
 * recovery, pre-switchover) are called in the state they refuse, and the
 * exact GenericError QEMU answers is asserted: the wrapper's encoding is
 * accepted and the error mapping is exercised.
 *
 * Skipped (exit 77) without qemu-system-x86_64 and qemu-img.
 */
#include <string.h>
#include <unistd.h>

#include "qmp-commands.h"
#include "qmp-events.h"
#include "qmp-error.h"

#define QEMU "qemu-system-x86_64"

typedef struct {
    GHashTable *sent;     /* command names that went out */
    GHashTable *events;   /* event name -> count (typed callbacks) */
    GString *job_states;  /* JOB_STATUS_CHANGE of job m1, in order */
    char *dir;
} Fixture;

static Fixture fx;

static void
trace(QmpMonitor *mon, QmpTraceDirection dir, const char *line, gsize len,
      const int *fds, guint n_fds, gpointer user_data)
{
    g_autoptr(QmpJsonDoc) doc = NULL;
    const char *name;

    if (dir != QMP_TRACE_OUT)
        return;
    doc = qmp_json_parse(line, len, 0, NULL);
    g_assert_nonnull(doc);
    name = qmp_json_get_string(qmp_json_lookup(qmp_json_doc_root(doc), "execute"));
    if (name == NULL)
        name = qmp_json_get_string(qmp_json_lookup(qmp_json_doc_root(doc),
                                                   "exec-oob"));
    g_assert_nonnull(name);
    g_hash_table_add(fx.sent, g_strdup(name));
}

static void
count_event(const char *name)
{
    gpointer n = g_hash_table_lookup(fx.events, name);

    g_hash_table_insert(fx.events, g_strdup(name),
                        GINT_TO_POINTER(GPOINTER_TO_INT(n) + 1));
}

static int
seen(const char *event)
{
    return GPOINTER_TO_INT(g_hash_table_lookup(fx.events, event));
}

static gboolean
timeout_cb(gpointer data)
{
    g_error("timed out waiting for %s", (const char *)data);
    return G_SOURCE_REMOVE;
}

/* Iterate until `event` has been seen `count` times. */
static void
wait_event(QmpMonitor *mon, const char *event, int count)
{
    guint t = g_timeout_add_seconds(60, timeout_cb, (gpointer)event);

    while (seen(event) < count)
        g_main_context_iteration(qmp_monitor_get_context(mon), TRUE);
    g_source_remove(t);
}

/* -- typed event callbacks -------------------------------------------- */

static void
on_plain(QmpMonitor *mon, gint64 ts, gpointer user_data)
{
    g_assert_cmpint(ts, >, 0);
    count_event(user_data);
}

static void
on_shutdown(QmpMonitor *mon, const QmpShutdownEvent *data, gint64 ts,
            const GError *error, gpointer user_data)
{
    g_assert_null(error);
    count_event("SHUTDOWN");
}

static void
on_reset(QmpMonitor *mon, const QmpResetEvent *data, gint64 ts,
         const GError *error, gpointer user_data)
{
    g_assert_null(error);
    g_assert_false(data->guest);
    count_event("RESET");
}

static void
on_migration(QmpMonitor *mon, const QmpMigrationEvent *data, gint64 ts,
             const GError *error, gpointer user_data)
{
    g_assert_null(error);
    if (data->status == QMP_MIGRATION_STATUS_COMPLETED)
        count_event(user_data);
    count_event("MIGRATION");
}

static void
on_migration_pass(QmpMonitor *mon, const QmpMigrationPassEvent *data,
                  gint64 ts, const GError *error, gpointer user_data)
{
    g_assert_null(error);
    g_assert_cmpint(data->pass, >=, 1);
    count_event("MIGRATION_PASS");
}

static void
on_job_status(QmpMonitor *mon, const QmpJobStatusChangeEvent *data, gint64 ts,
              const GError *error, gpointer user_data)
{
    g_assert_null(error);
    if (strcmp(data->id, "m1") == 0)
        g_string_append_printf(fx.job_states, "%s ",
                               qmp_job_status_to_string(data->status));
    count_event("JOB_STATUS_CHANGE");
}

#define JOB_EVENT(fn, T, NAME)                                              \
    static void fn(QmpMonitor *mon, const T *data, gint64 ts,               \
                   const GError *error, gpointer user_data)                 \
    {                                                                       \
        g_assert_null(error);                                               \
        g_assert_nonnull(data->device);                                     \
        count_event(NAME);                                                  \
        {                                                                   \
            g_autofree char *k = g_strdup_printf(NAME ":%s", data->device); \
            count_event(k);                                                 \
        }                                                                   \
    }
JOB_EVENT(on_job_ready, QmpBlockJobReadyEvent, "BLOCK_JOB_READY")
JOB_EVENT(on_job_completed, QmpBlockJobCompletedEvent, "BLOCK_JOB_COMPLETED")
JOB_EVENT(on_job_cancelled, QmpBlockJobCancelledEvent, "BLOCK_JOB_CANCELLED")

static void
on_job_pending(QmpMonitor *mon, const QmpBlockJobPendingEvent *data,
               gint64 ts, const GError *error, gpointer user_data)
{
    g_autofree char *k = g_strdup_printf("BLOCK_JOB_PENDING:%s", data->id);

    g_assert_null(error);
    count_event(k);
}

static void
on_export_deleted(QmpMonitor *mon, const QmpBlockExportDeletedEvent *data,
                  gint64 ts, const GError *error, gpointer user_data)
{
    g_assert_null(error);
    count_event("BLOCK_EXPORT_DELETED");
}

/* -- helpers -------------------------------------------------------------- */

static char *
make_image(const char *name, const char *size)
{
    char *path = g_build_filename(fx.dir, name, NULL);
    const char *argv[] = { "qemu-img", "create", "-q", "-f", "qcow2", path,
                           size, NULL };
    int status;
    g_autoptr(GError) error = NULL;

    g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL,
                               G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                               NULL, NULL, NULL, NULL, &status, &error));
    g_assert_no_error(error);
    g_assert_true(g_spawn_check_wait_status(status, NULL));
    return path;
}

static QmpMonitor *
start_qemu(const char *disk, gboolean incoming)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *file = g_strdup_printf(
        "driver=file,node-name=file0,filename=%s", disk);
    const char *argv[] = {
        "-machine", "q35", "-m", "64", "-accel", "tcg", "-nodefaults",
        "-display", "none", "-S",
        "-blockdev", file,
        "-blockdev", "driver=qcow2,node-name=disk0,file=file0",
        "-device", "virtio-blk-pci,drive=disk0,id=vblk0",
        incoming ? "-incoming" : NULL, "defer", NULL
    };
    QmpMonitor *mon = qmp_monitor_new(NULL);

    g_assert_true(qmp_monitor_spawn(mon, QEMU, argv, &error));
    g_assert_no_error(error);
    g_assert_true(qmp_monitor_handshake(mon, QMP_HANDSHAKE_OOB, 20000, &error));
    g_assert_no_error(error);
    g_assert_true(qmp_monitor_get_oob_enabled(mon));
    qmp_monitor_set_trace(mon, trace, NULL, NULL);
    return mon;
}

static void
expect_generic_error(gboolean ok, GError **error, const char *desc)
{
    g_assert_false(ok);
    g_assert_error(*error, QMP_COMMAND_ERROR, QMP_COMMAND_ERROR_GENERIC_ERROR);
    g_assert_cmpstr((*error)->message, ==, desc);
    g_clear_error(error);
}

#define OK(call)                                  \
    do {                                          \
        g_autoptr(GError) e_ = NULL;              \
        GError **error = &e_;                     \
        gboolean ok_ = (call);                    \
        g_assert_no_error(e_);                    \
        g_assert_true(ok_);                       \
    } while (0)

/* -- the sections ------------------------------------------------------------ */

static void
control_and_machine(QmpMonitor *mon)
{
    g_autoptr(GError) error = NULL;
    QmpQmpCapabilitiesArgs caps = { 0 };
    gsize n;

    /* negotiation is over: QEMU says so, with its class kept */
    g_assert_false(qmp_qmp_capabilities(mon, &caps, &error));
    g_assert_error(error, QMP_COMMAND_ERROR, QMP_COMMAND_ERROR_COMMAND_NOT_FOUND);
    g_clear_error(&error);

    g_autoptr(QmpVersionInfo) v = qmp_query_version(mon, &error);
    g_assert_no_error(error);
    g_assert_cmpint(v->qemu->major, >=, 7);

    QmpSchemaInfo **schema = qmp_query_qmp_schema(mon, &n, &error);
    g_assert_no_error(error);
    gboolean found = FALSE;
    for (gsize i = 0; i < n; i++) {
        if (schema[i]->meta_type == QMP_SCHEMA_META_TYPE_COMMAND &&
            strcmp(schema[i]->name, "blockdev-mirror") == 0)
            found = TRUE;
        qmp_schema_info_free(schema[i]);
    }
    g_free(schema);
    g_assert_true(found);

    QmpCommandInfo **cmds = qmp_query_commands(mon, &n, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(n, >, 100);
    for (gsize i = 0; i < n; i++)
        qmp_command_info_free(cmds[i]);
    g_free(cmds);

    g_autoptr(QmpTargetInfo) target = qmp_query_target(mon, &error);
    g_assert_no_error(error);
    g_assert_cmpint(target->arch, ==, QMP_SYS_EMU_TARGET_X86_64);

    g_autoptr(QmpKvmInfo) kvm = qmp_query_kvm(mon, &error);
    g_assert_no_error(error);
    g_assert_false(kvm->enabled);

    QmpMachineInfo **machines = qmp_query_machines(mon, &n, &error);
    g_assert_no_error(error);
    found = FALSE;
    for (gsize i = 0; i < n; i++) {
        if (strcmp(machines[i]->name, "q35") == 0 ||
            g_strcmp0(machines[i]->alias, "q35") == 0)
            found = TRUE;
        qmp_machine_info_free(machines[i]);
    }
    g_free(machines);
    g_assert_true(found);

    QmpCpuDefinitionInfo **cpus = qmp_query_cpu_definitions(mon, &n, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(n, >, 10);
    for (gsize i = 0; i < n; i++)
        qmp_cpu_definition_info_free(cpus[i]);
    g_free(cpus);

    QmpCpuModelInfo model = { .name = (char *)"max" };
    QmpQueryCpuModelExpansionArgs exp = {
        .type = QMP_CPU_MODEL_EXPANSION_TYPE_FULL, .model = &model,
    };
    g_autoptr(QmpCpuModelExpansionInfo) expanded =
        qmp_query_cpu_model_expansion(mon, &exp, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(expanded->model->name, ==, "max");
    g_assert_nonnull(qmp_json_lookup(qmp_json_doc_root(expanded->model->props),
                                     "tsc-frequency"));

    QmpCpuInfoFast **fast = qmp_query_cpus_fast(mon, &n, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(n, ==, 1);
    qmp_cpu_info_fast_free(fast[0]);
    g_free(fast);

    g_autoptr(QmpUuidInfo) uuid = qmp_query_uuid(mon, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(strlen(uuid->UUID), ==, 36);

    g_autoptr(QmpNameInfo) name = qmp_query_name(mon, &error);
    g_assert_no_error(error);
    g_assert_null(name->name);

    QmpHumanMonitorCommandArgs hmp = { .command_line = (char *)"info status" };
    g_autofree char *out = qmp_human_monitor_command(mon, &hmp, &error);
    g_assert_no_error(error);
    g_assert_nonnull(strstr(out, "VM status: paused (prelaunch)"));
}

static void
qom(QmpMonitor *mon)
{
    g_autoptr(GError) error = NULL;
    gsize n;
    gboolean found = FALSE;

    QmpQomListArgs list = { .path = (char *)"/machine" };
    QmpObjectPropertyInfo **props = qmp_qom_list(mon, &list, &n, &error);
    g_assert_no_error(error);
    for (gsize i = 0; i < n; i++) {
        if (strcmp(props[i]->name, "dump-guest-core") == 0)
            found = TRUE;
        qmp_object_property_info_free(props[i]);
    }
    g_free(props);
    g_assert_true(found);

    const char *value_text = "false";
    QmpQomSetArgs set = { .path = (char *)"/machine",
                          .property = (char *)"dump-guest-core" };
    set.value = qmp_json_parse(value_text, strlen(value_text), 0, &error);
    g_assert_no_error(error);
    OK(qmp_qom_set(mon, &set, error));
    qmp_json_doc_unref(set.value);

    QmpQomGetArgs get = { .path = (char *)"/machine",
                          .property = (char *)"dump-guest-core" };
    g_autoptr(QmpJsonDoc) got = qmp_qom_get(mon, &get, &error);
    g_assert_no_error(error);
    g_assert_cmpint(qmp_json_doc_root(got)->type, ==, QMP_JSON_BOOL);
    g_assert_false(qmp_json_doc_root(got)->v.b);

    /* a secret object: created, its data read back, deleted */
    QmpObjectOptions sec = { .qom_type = QMP_OBJECT_TYPE_SECRET,
                             .id = (char *)"wrapper-sec" };
    sec.u.secret.data = (char *)"c2VjcmV0";
    sec.u.secret.has_format = TRUE;
    sec.u.secret.format = QMP_QCRYPTO_SECRET_FORMAT_BASE64;
    OK(qmp_object_add(mon, &sec, error));
    QmpQomGetArgs get_sec = { .path = (char *)"/objects/wrapper-sec",
                              .property = (char *)"format" };
    g_autoptr(QmpJsonDoc) fmt = qmp_qom_get(mon, &get_sec, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(qmp_json_get_string(qmp_json_doc_root(fmt)), ==, "base64");
    QmpObjectDelArgs del = { .id = (char *)"wrapper-sec" };
    OK(qmp_object_del(mon, &del, error));

    /* no VNC display here: QEMU refuses, after decoding the union */
    QmpSetPasswordOptions pw = { .protocol = QMP_DISPLAY_PROTOCOL_VNC,
                                 .password = (char *)"pw" };
    g_assert_false(qmp_set_password(mon, &pw, &error));
    g_assert_error(error, QMP_COMMAND_ERROR, QMP_COMMAND_ERROR_GENERIC_ERROR);
    g_clear_error(&error);

    QmpQomListTypesArgs types = { .implements = (char *)"x86_64-cpu" };
    QmpObjectTypeInfo **tl = qmp_qom_list_types(mon, &types, &n, &error);
    g_assert_no_error(error);
    found = FALSE;
    for (gsize i = 0; i < n; i++) {
        if (strcmp(tl[i]->name, "max-x86_64-cpu") == 0)
            found = TRUE;
        qmp_object_type_info_free(tl[i]);
    }
    g_free(tl);
    g_assert_true(found);

    QmpQomListPropertiesArgs qlp = { .typename = (char *)"max-x86_64-cpu" };
    props = qmp_qom_list_properties(mon, &qlp, &n, &error);
    g_assert_no_error(error);
    found = FALSE;
    for (gsize i = 0; i < n; i++) {
        if (strcmp(props[i]->name, "tsc-frequency") == 0)
            found = TRUE;
        qmp_object_property_info_free(props[i]);
    }
    g_free(props);
    g_assert_true(found);

    QmpDeviceListPropertiesArgs dlp = { .typename = (char *)"virtio-blk-pci" };
    props = qmp_device_list_properties(mon, &dlp, &n, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(n, >, 5);
    for (gsize i = 0; i < n; i++)
        qmp_object_property_info_free(props[i]);
    g_free(props);
}

static void
fds(QmpMonitor *mon)
{
    g_autoptr(GError) error = NULL;
    int p[2];
    gsize n;

    g_assert_cmpint(pipe(p), ==, 0);
    QmpGetfdArgs getfd = { .fdname = (char *)"fd0" };
    OK(qmp_getfd(mon, &getfd, p[0], error));
    QmpClosefdArgs closefd = { .fdname = (char *)"fd0" };
    OK(qmp_closefd(mon, &closefd, error));

    QmpAddFdArgs addfd = { .has_fdset_id = TRUE, .fdset_id = 7,
                           .opaque = (char *)"test pipe" };
    g_autoptr(QmpAddfdInfo) added = qmp_add_fd(mon, &addfd, p[1], &error);
    g_assert_no_error(error);
    g_assert_cmpint(added->fdset_id, ==, 7);
    g_assert_cmpint(added->fd, >=, 0);
    QmpFdsetInfo **sets = qmp_query_fdsets(mon, &n, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(n, ==, 1);
    g_assert_cmpint(sets[0]->fdset_id, ==, 7);
    g_assert_cmpuint(sets[0]->n_fds, ==, 1);
    g_assert_cmpstr(sets[0]->fds[0]->opaque, ==, "test pipe");
    qmp_fdset_info_free(sets[0]);
    g_free(sets);
    QmpRemoveFdArgs rm = { .fdset_id = 7 };
    OK(qmp_remove_fd(mon, &rm, error));
    close(p[0]);
    close(p[1]);
}

static void
add_qcow2_node(QmpMonitor *mon, const char *node, const char *path)
{
    QmpBlockdevOptions file = { .driver = QMP_BLOCKDEV_DRIVER_FILE };
    g_autofree char *file_node = g_strdup_printf("%s-file", node);
    QmpBlockdevRef ref = { .kind = QMP_BLOCKDEV_REF_KIND_REFERENCE };
    QmpBlockdevOptions fmt = { .driver = QMP_BLOCKDEV_DRIVER_QCOW2 };

    file.node_name = file_node;
    file.u.file.filename = (char *)path;
    OK(qmp_blockdev_add(mon, &file, error));
    fmt.node_name = (char *)node;
    ref.u.reference = file_node;
    fmt.u.qcow2.file = &ref;
    OK(qmp_blockdev_add(mon, &fmt, error));
}

static void
block_jobs(QmpMonitor *mon)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *tgt1 = make_image("tgt1.qcow2", "64M");
    g_autofree char *tgt2 = g_build_filename(fx.dir, "tgt2.qcow2", NULL);
    gsize n;

    /* m1: blockdev-mirror, driven through the job-* commands */
    add_qcow2_node(mon, "tgt1", tgt1);
    QmpBlockdevMirrorArgs bm = {
        .job_id = (char *)"m1", .device = (char *)"disk0",
        .target = (char *)"tgt1", .sync = QMP_MIRROR_SYNC_MODE_FULL,
        .has_auto_finalize = TRUE, .auto_finalize = FALSE,
        .has_auto_dismiss = TRUE, .auto_dismiss = FALSE,
    };
    OK(qmp_blockdev_mirror(mon, &bm, error));
    wait_event(mon, "BLOCK_JOB_READY:m1", 1);

    QmpBlockJobInfo **bj = qmp_query_block_jobs(mon, &n, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(n, ==, 1);
    g_assert_cmpstr(bj[0]->device, ==, "m1");
    g_assert_true(bj[0]->ready);
    g_assert_cmpint(bj[0]->status, ==, QMP_JOB_STATUS_READY);
    qmp_block_job_info_free(bj[0]);
    g_free(bj);

    QmpBlockJobSetSpeedArgs speed = { .device = (char *)"m1",
                                      .speed = 8 * 1024 * 1024 };
    OK(qmp_block_job_set_speed(mon, &speed, error));
    QmpBlockJobPauseArgs bpause = { .device = (char *)"m1" };
    OK(qmp_block_job_pause(mon, &bpause, error));
    QmpBlockJobResumeArgs bresume = { .device = (char *)"m1" };
    OK(qmp_block_job_resume(mon, &bresume, error));
    QmpJobPauseArgs jpause = { .id = (char *)"m1" };
    OK(qmp_job_pause(mon, &jpause, error));
    QmpJobResumeArgs jresume = { .id = (char *)"m1" };
    OK(qmp_job_resume(mon, &jresume, error));

    QmpJobInfo **jobs = qmp_query_jobs(mon, &n, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(n, ==, 1);
    g_assert_cmpint(jobs[0]->type, ==, QMP_JOB_TYPE_MIRROR);
    qmp_job_info_free(jobs[0]);
    g_free(jobs);

    QmpJobCompleteArgs jcomplete = { .id = (char *)"m1" };
    OK(qmp_job_complete(mon, &jcomplete, error));
    wait_event(mon, "BLOCK_JOB_PENDING:m1", 1);
    QmpJobFinalizeArgs jfinal = { .id = (char *)"m1" };
    OK(qmp_job_finalize(mon, &jfinal, error));
    wait_event(mon, "BLOCK_JOB_COMPLETED:m1", 1);
    QmpJobDismissArgs jdismiss = { .id = (char *)"m1" };
    OK(qmp_job_dismiss(mon, &jdismiss, error));
    g_assert_cmpstr(fx.job_states->str, ==,
                    "created running ready standby ready standby ready "
                    "waiting pending concluded null ");

    /* m2: drive-mirror from the pivoted node, through block-job-* */
    QmpDriveMirror dm = {
        .job_id = (char *)"m2", .device = (char *)"tgt1",
        .target = tgt2, .format = (char *)"qcow2", .node_name = (char *)"tgt2",
        .sync = QMP_MIRROR_SYNC_MODE_FULL,
        .has_mode = TRUE, .mode = QMP_NEW_IMAGE_MODE_ABSOLUTE_PATHS,
        .has_auto_finalize = TRUE, .auto_finalize = FALSE,
        .has_auto_dismiss = TRUE, .auto_dismiss = FALSE,
    };
    OK(qmp_drive_mirror(mon, &dm, error));
    wait_event(mon, "BLOCK_JOB_READY:m2", 1);
    QmpBlockJobCompleteArgs bcomplete = { .device = (char *)"m2" };
    OK(qmp_block_job_complete(mon, &bcomplete, error));
    wait_event(mon, "BLOCK_JOB_PENDING:m2", 1);
    QmpBlockJobFinalizeArgs bfinal = { .id = (char *)"m2" };
    OK(qmp_block_job_finalize(mon, &bfinal, error));
    wait_event(mon, "BLOCK_JOB_COMPLETED:m2", 1);
    QmpBlockJobDismissArgs bdismiss = { .id = (char *)"m2" };
    OK(qmp_block_job_dismiss(mon, &bdismiss, error));

    /* the guest's disk is now tgt2 */
    QmpBlockInfo **blocks = qmp_query_block(mon, &n, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(n, ==, 1);
    g_assert_cmpstr(blocks[0]->qdev, ==, "/machine/peripheral/vblk0/virtio-backend");
    g_assert_cmpstr(blocks[0]->inserted->node_name, ==, "tgt2");
    qmp_block_info_free(blocks[0]);
    g_free(blocks);

    /* m3 and m4: cancelled mirrors to a throwaway node */
    QmpBlockdevOptions null = { .driver = QMP_BLOCKDEV_DRIVER_NULL_CO,
                                .node_name = (char *)"null0" };
    null.u.null_co.has_size = TRUE;
    null.u.null_co.size = 64 * 1024 * 1024;
    OK(qmp_blockdev_add(mon, &null, error));
    QmpBlockdevMirrorArgs m3 = {
        .job_id = (char *)"m3", .device = (char *)"tgt2",
        .target = (char *)"null0", .sync = QMP_MIRROR_SYNC_MODE_FULL,
    };
    OK(qmp_blockdev_mirror(mon, &m3, error));
    wait_event(mon, "BLOCK_JOB_READY:m3", 1);
    QmpBlockJobCancelArgs bcancel = { .device = (char *)"m3",
                                      .has_force = TRUE, .force = TRUE };
    OK(qmp_block_job_cancel(mon, &bcancel, error));
    wait_event(mon, "BLOCK_JOB_CANCELLED:m3", 1);

    m3.job_id = (char *)"m4";
    OK(qmp_blockdev_mirror(mon, &m3, error));
    wait_event(mon, "BLOCK_JOB_READY:m4", 1);
    QmpJobCancelArgs jcancel = { .id = (char *)"m4" };
    OK(qmp_job_cancel(mon, &jcancel, error));
    /* job-cancel always forces: the mirror is cancelled, not completed */
    wait_event(mon, "BLOCK_JOB_CANCELLED:m4", 1);

    /* reopen read-only, list, delete */
    QmpBlockdevOptions reopened = null;
    reopened.has_read_only = TRUE;
    reopened.read_only = TRUE;
    QmpBlockdevOptions *opts[] = { &reopened };
    QmpBlockdevReopenArgs reopen = { .options = opts, .n_options = 1 };
    OK(qmp_blockdev_reopen(mon, &reopen, error));
    QmpQueryNamedBlockNodesArgs nb = { .has_flat = TRUE, .flat = TRUE };
    QmpBlockDeviceInfo **nodes = qmp_query_named_block_nodes(mon, &nb, &n, &error);
    g_assert_no_error(error);
    gboolean ro = FALSE;
    for (gsize i = 0; i < n; i++) {
        if (strcmp(nodes[i]->node_name, "null0") == 0)
            ro = nodes[i]->ro;
        qmp_block_device_info_free(nodes[i]);
    }
    g_free(nodes);
    g_assert_true(ro);
}

static void
nbd(QmpMonitor *mon)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *sock = g_build_filename(fx.dir, "nbd.sock", NULL);
    gsize n;

    QmpSocketAddressLegacy addr = { .type = QMP_SOCKET_ADDRESS_TYPE_UNIX };
    QmpUnixSocketAddress ua = { .path = sock };
    addr.u.q_unix.data = &ua;
    QmpNbdServerStartArgs start = { .addr = &addr };
    OK(qmp_nbd_server_start(mon, &start, error));
    g_assert_true(g_file_test(sock, G_FILE_TEST_EXISTS));

    QmpNbdServerAddOptions add = { .device = (char *)"null0",
                                   .name = (char *)"exp1" };
    OK(qmp_nbd_server_add(mon, &add, error));
    QmpBlockExportOptions exp = { .type = QMP_BLOCK_EXPORT_TYPE_NBD,
                                  .id = (char *)"exp2",
                                  .node_name = (char *)"null0" };
    exp.u.nbd.name = (char *)"exp2";
    OK(qmp_block_export_add(mon, &exp, error));

    QmpBlockExportInfo **exports = qmp_query_block_exports(mon, &n, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(n, ==, 2);
    for (gsize i = 0; i < n; i++) {
        g_assert_cmpstr(exports[i]->node_name, ==, "null0");
        qmp_block_export_info_free(exports[i]);
    }
    g_free(exports);

    QmpNbdServerRemoveArgs remove = { .name = (char *)"exp1" };
    OK(qmp_nbd_server_remove(mon, &remove, error));
    QmpBlockExportDelArgs del = { .id = (char *)"exp2" };
    OK(qmp_block_export_del(mon, &del, error));
    wait_event(mon, "BLOCK_EXPORT_DELETED", 2);
    OK(qmp_nbd_server_stop(mon, error));

    QmpBlockdevDelArgs bdel = { .node_name = (char *)"null0" };
    OK(qmp_blockdev_del(mon, &bdel, error));
}

static void
migration(QmpMonitor *src, QmpMonitor *dst)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *sock = g_build_filename(fx.dir, "mig.sock", NULL);
    g_autofree char *uri = g_strdup_printf("unix:%s", sock);
    gsize n;

    QmpMigrationCapabilityStatus events = {
        .capability = QMP_MIGRATION_CAPABILITY_EVENTS, .state = TRUE };
    QmpMigrationCapabilityStatus *list[] = { &events };
    QmpMigrateSetCapabilitiesArgs caps = { .capabilities = list,
                                           .n_capabilities = 1 };
    OK(qmp_migrate_set_capabilities(src, &caps, error));
    OK(qmp_migrate_set_capabilities(dst, &caps, error));

    QmpMigrationCapabilityStatus **got = qmp_query_migrate_capabilities(src, &n, &error);
    g_assert_no_error(error);
    gboolean on = FALSE;
    for (gsize i = 0; i < n; i++) {
        if (got[i]->capability == QMP_MIGRATION_CAPABILITY_EVENTS)
            on = got[i]->state;
        qmp_migration_capability_status_free(got[i]);
    }
    g_free(got);
    g_assert_true(on);

    QmpMigrateSetParameters params = { .has_max_bandwidth = TRUE,
                                       .max_bandwidth = 512 * 1024 * 1024 };
    OK(qmp_migrate_set_parameters(src, &params, error));
    g_autoptr(QmpMigrationParameters) p = qmp_query_migrate_parameters(src, &error);
    g_assert_no_error(error);
    g_assert_true(p->has_max_bandwidth);
    g_assert_cmpuint(p->max_bandwidth, ==, 512 * 1024 * 1024);

    /* what needs post-copy or pre-switchover, refused in this state */
    expect_generic_error(qmp_migrate_start_postcopy(src, &error), &error,
                         "Enable postcopy with migrate_set_capability before "
                         "the start of migration");
    expect_generic_error(qmp_migrate_pause(src, &error), &error,
                         "migrate-pause is currently only supported during "
                         "postcopy-active state");
    QmpMigrateRecoverArgs recover = { .uri = uri };
    expect_generic_error(qmp_migrate_recover(dst, &recover, &error), &error,
                         "Migrate recover can only be run when postcopy is "
                         "paused.");
    QmpMigrateContinueArgs cont = { .state = QMP_MIGRATION_STATUS_PRE_SWITCHOVER };
    expect_generic_error(qmp_migrate_continue(src, &cont, &error), &error,
                         "Migration not in expected state: none");
    OK(qmp_migrate_cancel(src, error));  /* nothing to cancel: no error */

    qmp_subscribe_migration(src, on_migration, (gpointer)"src-completed", NULL);
    qmp_subscribe_migration(dst, on_migration, (gpointer)"dst-completed", NULL);
    QmpMigrateIncomingArgs in = { .uri = uri };
    OK(qmp_migrate_incoming(dst, &in, error));
    QmpMigrateArgs out = { .uri = uri };
    OK(qmp_migrate(src, &out, error));
    wait_event(src, "src-completed", 1);
    wait_event(dst, "dst-completed", 1);
    g_assert_cmpint(seen("MIGRATION_PASS"), >=, 1);

    g_autoptr(QmpMigrationInfo) info = qmp_query_migrate(src, &error);
    g_assert_no_error(error);
    g_assert_cmpint(info->status, ==, QMP_MIGRATION_STATUS_COMPLETED);
    g_assert_nonnull(info->ram);
    g_assert_cmpint(info->ram->total, >, 0);
}

static void
subscribe_all(QmpMonitor *mon)
{
    qmp_subscribe_stop(mon, on_plain, (gpointer)"STOP", NULL);
    qmp_subscribe_resume(mon, on_plain, (gpointer)"RESUME", NULL);
    qmp_subscribe_powerdown(mon, on_plain, (gpointer)"POWERDOWN", NULL);
    qmp_subscribe_shutdown(mon, on_shutdown, NULL, NULL);
    qmp_subscribe_reset(mon, on_reset, NULL, NULL);
    qmp_subscribe_migration_pass(mon, on_migration_pass, NULL, NULL);
    qmp_subscribe_job_status_change(mon, on_job_status, NULL, NULL);
    qmp_subscribe_block_job_ready(mon, on_job_ready, NULL, NULL);
    qmp_subscribe_block_job_completed(mon, on_job_completed, NULL, NULL);
    qmp_subscribe_block_job_cancelled(mon, on_job_cancelled, NULL, NULL);
    qmp_subscribe_block_job_pending(mon, on_job_pending, NULL, NULL);
    qmp_subscribe_block_export_deleted(mon, on_export_deleted, NULL, NULL);
}

static void
test_every_wrapper(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *disk = NULL, *disk2 = NULL;
    g_autoptr(QmpMonitor) src = NULL, dst = NULL;

    fx.dir = g_dir_make_tmp("qmpkit-wrappers-XXXXXX", &error);
    g_assert_no_error(error);
    fx.sent = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    fx.events = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    fx.job_states = g_string_new(NULL);
    disk = make_image("disk.qcow2", "64M");
    disk2 = make_image("disk2.qcow2", "64M");

    src = start_qemu(disk, FALSE);
    /* every call below also passes the check against QEMU's own schema */
    g_assert_true(qmp_monitor_check_schema(src, &error));
    g_assert_no_error(error);
    subscribe_all(src);
    control_and_machine(src);
    qom(src);
    fds(src);
    block_jobs(src);
    nbd(src);

    OK(qmp_cont(src, error));
    wait_event(src, "RESUME", 1);
    g_autoptr(QmpStatusInfo) st = qmp_query_status(src, &error);
    g_assert_no_error(error);
    g_assert_true(st->running);
    OK(qmp_system_reset(src, error));
    wait_event(src, "RESET", 1);
    OK(qmp_system_powerdown(src, error));
    wait_event(src, "POWERDOWN", 1);
    OK(qmp_stop(src, error));
    wait_event(src, "STOP", 1);

    dst = start_qemu(disk2, TRUE);
    subscribe_all(dst);
    migration(src, dst);

    /* quit: the reply may or may not come before the socket closes */
    if (!qmp_quit(src, &error)) {
        g_assert_error(error, QMP_ERROR, QMP_ERROR_CLOSED);
        g_clear_error(&error);
    }
    wait_event(src, "SHUTDOWN", 1);

    /* every wrapper went out at least once */
    for (gsize i = 0; qmp_commands_all[i] != NULL; i++) {
        if (!g_hash_table_contains(fx.sent, qmp_commands_all[i]->name))
            g_error("no test sent '%s'", qmp_commands_all[i]->name);
    }
    g_assert_cmpuint(g_hash_table_size(fx.sent), >=, 71);

    g_hash_table_unref(fx.sent);
    g_hash_table_unref(fx.events);
    g_string_free(fx.job_states, TRUE);
    g_autofree char *rm = g_strdup_printf("rm -rf '%s'", fx.dir);
    g_assert_cmpint(system(rm), ==, 0);
    g_free(fx.dir);
}

int
main(int argc, char **argv)
{
    g_autofree char *qemu = g_find_program_in_path(QEMU);
    g_autofree char *img = g_find_program_in_path("qemu-img");

    g_test_init(&argc, &argv, NULL);
    if (qemu == NULL || img == NULL) {
        g_print("skipped: %s or qemu-img is not installed\n", QEMU);
        return 77;
    }
    g_test_add_func("/wrappers-live/every-wrapper", test_every_wrapper);
    return g_test_run();
}
