/* The runner's entry points (harness/run/runner.h): opening and closing a runner, and a run
 * step by step. The steps' calls are made by the other runner_*.c files (runner_internal.h). */
#define _POSIX_C_SOURCE 200809L

#include "run/runner_internal.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

/* ---- Open and close ------------------------------------------------------------------------ */

static vmbsave_runner *runner_alloc(char *err, size_t err_size)
{
    vmbsave_runner *r = calloc(1, sizeof *r);
    if (r == NULL) {
        runner_set_text(err, err_size, "out of memory");
        return NULL;
    }
    size_t save_bytes = SAVE_BUFFER_CAP + 2u * GUARD_BYTES;
    r->save_area = malloc(save_bytes);
    r->save_pattern = malloc(save_bytes);
    r->ring_area = malloc(RING_BUFFER_CAP + 2u * GUARD_BYTES);
    r->data = malloc(RING_BUFFER_CAP);
    r->pfns = malloc(VMBSAVE_ARGS_MAX_PFNS * sizeof *r->pfns);
    r->stream = malloc(VMBSAVE_EDIT_MAX_BYTES);
    r->edit = malloc(sizeof *r->edit);
    r->desc = malloc(ORACLE_DESC_CAP);
    r->desc_short = malloc(ORACLE_DESC_CAP);
    r->oracle = vmbsave_oracle_new();
    if (r->save_area == NULL || r->save_pattern == NULL || r->ring_area == NULL ||
        r->data == NULL || r->pfns == NULL || r->stream == NULL || r->edit == NULL ||
        r->desc == NULL || r->desc_short == NULL || r->oracle == NULL) {
        runner_set_text(err, err_size, "out of memory for the runner's buffers");
        vmbsave_runner_close(r);
        return NULL;
    }
    /* A position-dependent pattern, so a stray write of any constant byte shows. */
    for (size_t i = 0; i < save_bytes; i++)
        r->save_pattern[i] = (uint8_t)((i * 131u + 0x5Bu) ^ (i >> 8));
    memcpy(r->save_area, r->save_pattern, save_bytes);
    r->save_dirty = 0;
    const char *exact = getenv("VMBSAVE_EXACT_BUFFERS");
    r->exact_buffers = exact != NULL && exact[0] != '\0' && strcmp(exact, "0") != 0;
    return r;
}

static void copy_name(char *dst, size_t cap, const char *src)
{
    runner_set_text(dst, cap, "%s", src != NULL ? src : "?");
}

/* The first query (at open) proves the entry point works and gives the names; each run
 * queries again. */
static vmbsave_runner *finish_open(vmbsave_runner *r, vmbsave_impl *impl)
{
    copy_name(r->impl_name, sizeof r->impl_name, impl->iface.impl_name);
    copy_name(r->impl_version, sizeof r->impl_version, impl->iface.impl_version);
    if (impl->iface.release != NULL)
        impl->iface.release(impl->iface.context);
    r->dl_handle = impl->dl_handle;
    return r;
}

vmbsave_runner *vmbsave_runner_open_path(const char *plugin_path, char *err, size_t err_size)
{
    vmbsave_runner *r = runner_alloc(err, err_size);
    if (r == NULL)
        return NULL;
    vmbsave_fault_host_init(&r->host);
    vmbsave_impl impl;
    if (vmbsave_impl_load(plugin_path, &r->host.host, &impl, err, err_size) != 0) {
        vmbsave_runner_close(r);
        return NULL;
    }
    void *sym = dlsym(impl.dl_handle, VMBSAVE_ENTRY_POINT);
    _Static_assert(sizeof r->entry == sizeof sym, "function and object pointers differ in size");
    memcpy(&r->entry, &sym, sizeof r->entry);
    return finish_open(r, &impl);
}

vmbsave_runner *vmbsave_runner_open_entry(vmbsave_get_interface_fn entry, char *err,
                                          size_t err_size)
{
    vmbsave_runner *r = runner_alloc(err, err_size);
    if (r == NULL)
        return NULL;
    vmbsave_fault_host_init(&r->host);
    vmbsave_impl impl;
    if (vmbsave_impl_from_entry(entry, &r->host.host, &impl, err, err_size) != 0) {
        vmbsave_runner_close(r);
        return NULL;
    }
    r->entry = entry;
    return finish_open(r, &impl);
}

void vmbsave_runner_close(vmbsave_runner *r)
{
    if (r == NULL)
        return;
    if (r->dl_handle != NULL)
        dlclose(r->dl_handle);
    free(r->save_area);
    free(r->save_pattern);
    free(r->ring_area);
    free(r->data);
    free(r->pfns);
    free(r->stream);
    free(r->edit);
    free(r->desc);
    free(r->desc_short);
    for (uint32_t i = 0; i < VMBSAVE_PROGRAM_IMAGES; i++)
        free(r->bare_img[i].bytes);
    free(r->bare_capture);
    vmbsave_oracle_free(r->oracle);
    free(r);
}

const char *vmbsave_runner_impl_name(const vmbsave_runner *r)
{
    return r->impl_name;
}

const char *vmbsave_runner_impl_version(const vmbsave_runner *r)
{
    return r->impl_version;
}

/* ---- Steps --------------------------------------------------------------------------------- */

static void run_step(vmbsave_runner *r, const vmbsave_step *s)
{
    runner_trim_logs(r);
    r->step_made_call = false;
    switch (s->op) {
    case VMBSAVE_OP_SAVE_BEGIN: {
        if (!runner_ensure_channel(r, s->ch))
            break;
        NTSTATUS st;
        runner_do_save_begin(r, s->ch, ORACLE_PURPOSE_PROGRAM, &st);
        break;
    }
    case VMBSAVE_OP_SAVE_CONTINUE: runner_run_save_continue(r, s); break;
    case VMBSAVE_OP_SAVE_END:
        if (runner_ensure_channel(r, s->ch))
            runner_end_session(r, s->ch);
        break;
    case VMBSAVE_OP_CAPTURE: runner_run_capture(r, s); break;
    case VMBSAVE_OP_RESTORE: runner_run_restore(r, s); break;
    case VMBSAVE_OP_CLEANUP: runner_run_cleanup(r, s); break;
    case VMBSAVE_OP_FAULT_ALLOC:
    case VMBSAVE_OP_FAULT_SAVE_PACKET:
    case VMBSAVE_OP_FAULT_RESTORE_PACKET:
        runner_run_fault(r, s);
        r->res->steps_run++;
        return;
    default: runner_run_lifecycle(r, s); break;
    }
    if (r->step_made_call) {
        r->res->steps_run++;
        r->steps_with_calls++;
    }
}

/* Faults off, every channel closed, the interface released: checked, unless `quiet` (after a
 * stop, so the process gets its memory back). */
static void finish(vmbsave_runner *r)
{
    vmbsave_fault_host *h = &r->host;
    h->fault_mode = VMBSAVE_ALLOC_FAULT_NONE;
    h->fault_at = 0;
    h->save_mode = VMBSAVE_SAVE_PACKET_STATE;
    h->save_mode_packet_id = 0;
    h->restore_fail_at = 0;
    if (r->quiet) {
        for (uint32_t i = 0; i < VMBSAVE_PROGRAM_CHANNELS; i++) {
            if (r->ch[i] == NULL)
                continue;
            runner_api(r)->save_end(r->ch[i]);
            runner_api(r)->disable(r->ch[i]);
            runner_api(r)->channel_cleanup(r->ch[i]);
            r->ch[i] = NULL;
        }
        vmbsave_impl_unload(&r->impl);
        return;
    }
    runner_emit_host(r, VMBSAVE_CALL_HOST_RESET, 0, 0);
    r->note = "end of run";
    for (uint32_t i = 0; i < VMBSAVE_PROGRAM_CHANNELS && !r->stop; i++) {
        if (r->ch[i] != NULL)
            runner_close_channel(r, i);
        r->note = "end of run";
    }
    if (r->stop)
        return;
    oracle_obs obs;
    runner_next_call(r, VMBSAVE_CALL_RELEASE, 0);
    runner_call_begin(r, &obs);
    runner_api(r)->release(runner_api(r)->context);
    runner_call_end(r, &obs, false, 0);
    r->note = NULL;
    memset(&r->impl, 0, sizeof r->impl); /* released */
    if (!r->bare)
        runner_checked(r, oracle_released(r->oracle, obs.live_before, obs.live_after));
}

/* options->preload_image: the caller's images into their slots, before the first step. */
static void preload_images(vmbsave_runner *r)
{
    for (uint32_t i = 0; r->opt != NULL && i < VMBSAVE_PROGRAM_IMAGES && !r->stop; i++) {
        const uint8_t *bytes = r->opt->preload_image[i];
        uint32_t size = r->opt->preload_image_size[i];
        if (bytes == NULL || size == 0)
            continue;
        if (size > VMBSAVE_RUN_MAX_IMAGE_BYTES) {
            runner_harness_error(r,
                                 "preloaded image %" PRIu32 ": %" PRIu32 " bytes, above the %u "
                                 "a run holds (VMBSAVE_RUN_MAX_IMAGE_BYTES)",
                                 i, size, VMBSAVE_RUN_MAX_IMAGE_BYTES);
        } else if (r->bare) {
            bare_image *img = &r->bare_img[i];
            memcpy(img->bytes, bytes, size);
            img->size = size;
            img->full = true;
            runner_bare_frame(img);
        } else if (!oracle_preload_image(r->oracle, i, bytes, size))
            runner_harness_error(r, "preloaded image %" PRIu32 ": %s", i, r->oracle->error_text);
    }
}

/* options->export_image: the image slots back to the caller, after the run. */
static void export_images(vmbsave_runner *r)
{
    for (uint32_t i = 0; i < VMBSAVE_PROGRAM_IMAGES; i++) {
        vmbsave_edit_image img;
        bool full = runner_image_view(r, i, &img);
        r->res->image_size[i] = full ? img.size : 0u;
        if (r->opt != NULL && r->opt->export_image[i] != NULL && full &&
            img.size <= r->opt->export_image_cap[i])
            memcpy(r->opt->export_image[i], img.bytes, img.size);
    }
}

/* A bare run's record, empty; its image buffers are allocated by the first bare run (a runner
 * that never runs bare never holds them). False after a harness error. */
static bool bare_begin(vmbsave_runner *r)
{
    for (uint32_t i = 0; i < VMBSAVE_PROGRAM_CHANNELS; i++)
        runner_bare_reset_channel(r, i);
    bool ok = true;
    for (uint32_t i = 0; i < VMBSAVE_PROGRAM_IMAGES; i++) {
        r->bare_img[i].full = false;
        if (r->bare_img[i].bytes == NULL)
            r->bare_img[i].bytes = malloc(VMBSAVE_RUN_MAX_IMAGE_BYTES);
        ok = ok && r->bare_img[i].bytes != NULL;
    }
    if (r->bare_capture == NULL)
        r->bare_capture = malloc(VMBSAVE_RUN_MAX_IMAGE_BYTES);
    if (!ok || r->bare_capture == NULL) {
        runner_harness_error(r, "out of memory for a bare run's image slots");
        return false;
    }
    r->bare_capture_len = 0;
    r->bare_capture_overflow = false;
    return true;
}

void vmbsave_runner_run(vmbsave_runner *r, const vmbsave_program *program,
                        const vmbsave_run_options *options, vmbsave_run_result *result)
{
    memset(result, 0, sizeof *result);
    r->res = result;
    r->opt = options;
    r->want_digests = options != NULL && options->digests;
    r->bare = options != NULL && options->bare;
    r->stop = false;
    r->quiet = false;
    r->note = NULL;
    r->fault_note[0] = '\0';
    r->step = 0;
    r->last_call = 0;
    r->steps_with_calls = 0;
    memset(r->ch, 0, sizeof r->ch);
    if (program == NULL || program->count == 0) {
        runner_harness_error(r, "the program has no step");
        return;
    }

    vmbsave_fault_host_init(&r->host);
    r->host.fill_byte = RUN_FILL_BYTE;
    char err[sizeof result->error];
    if (vmbsave_impl_from_entry(r->entry, &r->host.host, &r->impl, err, sizeof err) != 0) {
        runner_harness_error(r, "%s", err);
        return;
    }
    runner_emit_host(r, VMBSAVE_CALL_HOST_FILL_BYTE, RUN_FILL_BYTE, 0);
    if (r->bare) {
        bare_begin(r); /* a harness error stops the run before its first step */
    } else {
        oracle_reset(r->oracle, &r->host, r->impl.iface.capabilities,
                     (int64_t)r->host.live_allocations);
    }
    preload_images(r);

    uint32_t count =
        program->count < VMBSAVE_PROGRAM_MAX_STEPS ? program->count : VMBSAVE_PROGRAM_MAX_STEPS;
    for (uint32_t i = 0; i < count && !r->stop; i++) {
        vmbsave_step s = program->steps[i];
        vmbsave_step_normalize(&s);
        r->step = i;
        run_step(r, &s);
    }
    if (!r->stop && r->steps_with_calls == 0)
        runner_harness_error(r,
                             "the program made no call into the implementation (%" PRIu32
                             " step(s), %" PRIu32 " skipped)",
                             count, result->steps_skipped);
    r->step = count;
    if (!r->stop && r->want_digests)
        runner_final_descriptions(r);
    if (!r->stop)
        finish(r);
    if (r->stop) {
        r->quiet = true;
        finish(r);
    }
    if (result->verdict == VMBSAVE_VERDICT_PASS && r->stop)
        result->verdict = VMBSAVE_VERDICT_ERROR;
    export_images(r);
}
