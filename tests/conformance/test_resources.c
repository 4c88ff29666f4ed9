/* Clauses RESOURCES.*: memory only from the host, allocation failures reported as
 * INSUFFICIENT_RESOURCES with nothing changed or leaked, and no leaks at all. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/clause_test.h"
#include "support/fixture.h"
#include "support/util.h"

static const char *mode_name(vmbsave_alloc_fault_mode m)
{
    return m == VMBSAVE_ALLOC_FAULT_ONCE ? "once" : "from then on";
}

static void arm(vt_env *e, vmbsave_alloc_fault_mode mode, uint64_t k)
{
    e->host.fault_mode = mode;
    e->host.fault_at = e->host.alloc_calls + k;
    e->host.faults_injected = 0;
}

static bool disarm(vt_env *e)
{
    e->host.fault_mode = VMBSAVE_ALLOC_FAULT_NONE;
    return e->host.faults_injected > 0;
}

/* The plug-in under test: $VMBSAVE_PLUGIN, or the reference when it is unset or empty. */
static const char *plugin_path(void)
{
    const char *p = getenv("VMBSAVE_PLUGIN");
    return p != NULL && p[0] != '\0' ? p : VMBSAVE_DEFAULT_PLUGIN;
}

/* ---- RESOURCES.HOST_ALLOCATOR_ONLY -------------------------------------------------------- */

static void resources_host_allocator_only(void **state)
{
    (void)state;
    const char *path = plugin_path();
    if (access(path, R_OK) != 0)
        fail_msg("plug-in %s: %s", path, strerror(errno));
    if (strchr(path, '\'') != NULL)
        fail_msg("plug-in path contains a quote: %s", path);
    const char *nm = getenv("VMBSAVE_NM");
    if (nm == NULL || nm[0] == '\0' || strchr(nm, '\'') != NULL)
        nm = "nm";
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "'%s' -D --undefined-only '%s'", nm, path);
    FILE *f = popen(cmd, "r");
    if (f == NULL)
        fail_msg("popen(%s) failed", cmd);

    /* The C allocator's entry points; an implementation must use none of them. */
    static const char *const banned[] = {
        "malloc",        "calloc",         "realloc",  "free",   "strdup",  "strndup",
        "aligned_alloc", "posix_memalign", "memalign", "valloc", "pvalloc", "reallocarray",
    };
    char line[512], found[256] = "";
    unsigned lines = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        lines++;
        /* "<spaces> U name[@version]": the last field is the name. */
        char *name = strrchr(line, ' ');
        name = name != NULL ? name + 1 : line;
        name[strcspn(name, "@\n")] = '\0';
        for (size_t i = 0; i < sizeof(banned) / sizeof(banned[0]); i++)
            if (strcmp(name, banned[i]) == 0 && strlen(found) + strlen(name) + 2 < sizeof(found)) {
                strcat(found, " ");
                strcat(found, name);
            }
    }
    int rc = pclose(f);
    if (rc == -1 || !WIFEXITED(rc) || WEXITSTATUS(rc) != 0)
        fail_msg("`%s` failed (status %d): is binutils' nm installed?", cmd, rc);
    if (found[0] != '\0')
        fail_msg("%s references the C allocator:%s (%u undefined symbols read)", path, found,
                 lines);

    /* Dynamically, too: a whole workload's memory comes and goes through the host. */
    vt_env *e = vt_env_new();
    vmbsave_channel *ch = vt_make_canonical(e, VMBSAVE_CANONICAL_PAUSED_PACKETS, 1);
    vt_image img;
    vt_save(e, ch, 1000, &img);
    vmbsave_channel *r = vt_restore_new(e, &img);
    assert_true(e->host.alloc_calls > 0);
    vt_destroy_channel(e, r);
    vt_destroy_channel(e, ch);
    vt_image_free(&img);
    vt_env_free(e);
}

/* ---- RESOURCES.ALLOC_FAILURE.STATUS ------------------------------------------------------- */

/* One save session with 64 KiB buffers under the armed fault. Returns the status that ended
 * it (SUCCESS or the first failure) and appends the bytes to `img` (caller frees). */
static NTSTATUS faulted_session(vt_env *e, vmbsave_channel *ch, uint8_t **img, size_t *size)
{
    *img = NULL;
    *size = 0;
    NTSTATUS s = e->v->save_begin(ch);
    if (s == STATUS_SUCCESS) {
        size_t cap = 0;
        do {
            if (cap - *size < VMBSAVE_MAX_CHUNK_BYTES) {
                cap = cap * 2 + VMBSAVE_MAX_CHUNK_BYTES;
                *img = realloc(*img, cap);
                assert_non_null(*img);
            }
            uint32_t filled = 0, req = 0;
            s = e->v->save_continue(ch, *img + *size, VMBSAVE_MAX_CHUNK_BYTES, &filled, &req);
            if (s == STATUS_SUCCESS || s == STATUS_BUFFER_OVERFLOW)
                *size += filled;
        } while (s == STATUS_BUFFER_OVERFLOW);
    }
    e->v->save_end(ch); /* SAVE.END.ALWAYS_SAFE, also after a failed save_begin */
    return s;
}

/* What a save or restore (`what`) whose allocation k failed (`mode`) must leave: it returned
 * INSUFFICIENT_RESOURCES, holds no allocation it did not hold before (`live`), and `ch` is
 * described as `desc` (else the test fails saying `differs`). */
static void expect_faulted(vt_env *e, vmbsave_channel *ch, const char *what, uint64_t k,
                           vmbsave_alloc_fault_mode mode, NTSTATUS s, uint64_t live,
                           const char *desc, const char *differs)
{
    if (s != STATUS_INSUFFICIENT_RESOURCES)
        fail_msg("%s with allocation %" PRIu64 " failing (%s) returned %s, expected "
                 "STATUS_INSUFFICIENT_RESOURCES",
                 what, k, mode_name(mode), vt_status_str(s));
    if (e->host.live_allocations != live)
        fail_msg("%s with allocation %" PRIu64 " failing (%s): %" PRId64
                 " allocations still held after the failure",
                 what, k, mode_name(mode), (int64_t)(e->host.live_allocations - live));
    char *now = vt_describe(e, ch);
    bool same = strcmp(now, desc) == 0;
    free(now);
    if (!same)
        fail_msg("%s with allocation %" PRIu64 " failing (%s) %s", what, k, mode_name(mode),
                 differs);
}

/* Whether a fault-free save of `ch` gives exactly `ref`. */
static bool saves_as(vt_env *e, vmbsave_channel *ch, const vt_image *ref)
{
    vt_image again;
    vt_save(e, ch, VMBSAVE_MAX_CHUNK_BYTES, &again);
    bool same = again.size == ref->size && memcmp(again.bytes, ref->bytes, ref->size) == 0;
    vt_image_free(&again);
    return same;
}

static void sweep_save(vt_env *e, vmbsave_canonical_id w)
{
    char what[64];
    snprintf(what, sizeof(what), "%s save", vmbsave_canonical_name(w));
    vmbsave_channel *ch = vt_make_canonical(e, w, 7);
    vt_image ref;
    vt_save(e, ch, VMBSAVE_MAX_CHUNK_BYTES, &ref);
    char *desc = vt_describe(e, ch);
    unsigned failures = 0;
    for (int m = VMBSAVE_ALLOC_FAULT_ONCE; m <= VMBSAVE_ALLOC_FAULT_FROM; m++) {
        vmbsave_alloc_fault_mode mode = (vmbsave_alloc_fault_mode)m;
        for (uint64_t k = 1;; k++) {
            if (k > 10000)
                fail_msg("%s save: still faulting after 10000 allocations",
                         vmbsave_canonical_name(w));
            uint64_t live = e->host.live_allocations;
            uint8_t *img;
            size_t size;
            arm(e, mode, k);
            NTSTATUS s = faulted_session(e, ch, &img, &size);
            bool injected = disarm(e);
            if (!injected) {
                bool same =
                    s == STATUS_SUCCESS && size == ref.size && memcmp(img, ref.bytes, size) == 0;
                free(img);
                if (!same)
                    fail_msg("%s: a fault-free save (k=%" PRIu64 ") gave %s or another image",
                             vmbsave_canonical_name(w), k, vt_status_str(s));
                break;
            }
            free(img);
            failures++;
            /* save_end has run: nothing of the session may be left. */
            expect_faulted(e, ch, what, k, mode, s, live, desc, "changed the channel");
            /* The next, fault-free session yields the identical image. */
            if (!saves_as(e, ch, &ref))
                fail_msg("%s: after a save failing at allocation %" PRIu64 " (%s), the next "
                         "save gave a different image",
                         vmbsave_canonical_name(w), k, mode_name(mode));
        }
    }
    /* How many runs failed, for the log; an implementation may save without allocating. */
    print_message("%s save: %u faulted sessions\n", vmbsave_canonical_name(w), failures);
    free(desc);
    vt_image_free(&ref);
    vt_destroy_channel(e, ch);
}

static void sweep_restore(vt_env *e, vmbsave_canonical_id w, size_t chunks_per_call)
{
    char what[64];
    snprintf(what, sizeof(what), "%s restore (%zu chunks a call)", vmbsave_canonical_name(w),
             chunks_per_call);
    vmbsave_channel *ch = vt_make_canonical(e, w, 8);
    vt_image ref;
    vt_save(e, ch, VMBSAVE_MAX_CHUNK_BYTES, &ref);
    char *desc = vt_describe(e, ch);
    vt_destroy_channel(e, ch);
    char *fresh = vt_describe_fresh(e);
    unsigned failures = 0;
    for (int m = VMBSAVE_ALLOC_FAULT_ONCE; m <= VMBSAVE_ALLOC_FAULT_FROM; m++) {
        vmbsave_alloc_fault_mode mode = (vmbsave_alloc_fault_mode)m;
        for (uint64_t k = 1;; k++) {
            if (k > 10000)
                fail_msg("%s restore: still faulting after 10000 allocations",
                         vmbsave_canonical_name(w));
            vmbsave_channel *r = NULL;
            assert_int_equal(e->v->channel_allocate(e->v->context, &r), STATUS_SUCCESS);
            uint64_t live = e->host.live_allocations;
            arm(e, mode, k);
            NTSTATUS s = vt_restore(e, r, ref.bytes, ref.size, chunks_per_call);
            bool injected = disarm(e);
            if (!injected) {
                if (s != STATUS_SUCCESS)
                    fail_msg("%s: a fault-free restore (k=%" PRIu64 ") returned %s",
                             vmbsave_canonical_name(w), k, vt_status_str(s));
                char *d = vt_describe(e, r);
                vt_assert_same_state(desc, d);
                free(d);
                vt_destroy_channel(e, r);
                break;
            }
            failures++;
            expect_faulted(e, r, what, k, mode, s, live, fresh,
                           "left the channel other than fresh");
            /* The same channel then restores the image, to the identical state and image. */
            s = vt_restore(e, r, ref.bytes, ref.size, chunks_per_call);
            if (s != STATUS_SUCCESS)
                fail_msg("%s: restore after a failed one (k=%" PRIu64 ") returned %s",
                         vmbsave_canonical_name(w), k, vt_status_str(s));
            if (!saves_as(e, r, &ref))
                fail_msg("%s: a channel restored after a failure (k=%" PRIu64 ") saves a "
                         "different image",
                         vmbsave_canonical_name(w), k);
            vt_destroy_channel(e, r);
        }
    }
    print_message("%s restore (%zu chunks a call): %u faulted restores\n",
                  vmbsave_canonical_name(w), chunks_per_call, failures);
    free(desc);
    free(fresh);
    vt_image_free(&ref);
}

static void resources_alloc_failure_status(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    for (int w = 0; w < VMBSAVE_CANONICAL_COUNT; w++) {
        sweep_save(e, (vmbsave_canonical_id)w);
        sweep_restore(e, (vmbsave_canonical_id)w, 1);
        sweep_restore(e, (vmbsave_canonical_id)w, 0);
    }

    /* channel_allocate and the interface query itself. */
    for (int m = VMBSAVE_ALLOC_FAULT_ONCE; m <= VMBSAVE_ALLOC_FAULT_FROM; m++) {
        for (uint64_t k = 1;; k++) {
            assert_true(k < 1000);
            uint64_t live = e->host.live_allocations;
            vmbsave_channel *ch = NULL;
            arm(e, (vmbsave_alloc_fault_mode)m, k);
            NTSTATUS s = e->v->channel_allocate(e->v->context, &ch);
            if (!disarm(e)) {
                assert_int_equal(s, STATUS_SUCCESS);
                assert_int_equal(e->v->channel_cleanup(ch), STATUS_SUCCESS);
                break;
            }
            if (s != STATUS_INSUFFICIENT_RESOURCES)
                fail_msg("channel_allocate with allocation %" PRIu64 " failing returned %s", k,
                         vt_status_str(s));
            assert_int_equal(e->host.live_allocations, live);
        }
    }
    vt_env_free(e);

    const char *path = plugin_path();
    for (int m = VMBSAVE_ALLOC_FAULT_ONCE; m <= VMBSAVE_ALLOC_FAULT_FROM; m++) {
        for (uint64_t k = 1;; k++) {
            assert_true(k < 1000);
            vmbsave_fault_host h;
            vmbsave_fault_host_init(&h);
            h.fault_mode = (vmbsave_alloc_fault_mode)m;
            h.fault_at = k;
            vmbsave_impl impl;
            char err[512];
            int rc = vmbsave_impl_load(path, &h.host, &impl, err, sizeof(err));
            if (h.faults_injected == 0) {
                if (rc != 0)
                    fail_msg("loading without a fault failed: %s", err);
                vmbsave_impl_unload(&impl);
                assert_int_equal(h.live_allocations, 0);
                break;
            }
            if (rc == 0) {
                vmbsave_impl_unload(&impl);
                fail_msg("the interface query succeeded although allocation %" PRIu64 " failed", k);
            }
            if (strstr(err, "STATUS_INSUFFICIENT_RESOURCES") == NULL)
                fail_msg("the interface query with allocation %" PRIu64 " failing: %s", k, err);
            assert_int_equal(h.live_allocations, 0);
        }
    }
}

/* ---- RESOURCES.NO_LEAK -------------------------------------------------------------------- */

static void resources_no_leak(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    vt_image img[VMBSAVE_CANONICAL_COUNT];
    vmbsave_channel *keep[VMBSAVE_CANONICAL_COUNT];
    uint8_t buf[300];

    for (int w = 0; w < VMBSAVE_CANONICAL_COUNT; w++) {
        vmbsave_channel *ch = vt_make_canonical(e, (vmbsave_canonical_id)w, (uint32_t)w);
        keep[w] = ch;
        vt_save(e, ch, 5000, &img[w]);
        uint32_t filled, req;

        /* An aborted session, a session never continued, save_end twice, no session at all. */
        assert_int_equal(e->v->save_begin(ch), STATUS_SUCCESS);
        assert_int_equal(e->v->save_continue(ch, buf, sizeof(buf), &filled, &req),
                         STATUS_BUFFER_OVERFLOW);
        e->v->save_end(ch);
        assert_int_equal(e->v->save_begin(ch), STATUS_SUCCESS);
        e->v->save_end(ch);
        e->v->save_end(ch);

        /* A session failed by the allocator (from the first allocation on). */
        arm(e, VMBSAVE_ALLOC_FAULT_FROM, 1);
        if (e->v->save_begin(ch) == STATUS_SUCCESS)
            (void)e->v->save_continue(ch, buf, sizeof(buf), &filled, &req);
        disarm(e);
        e->v->save_end(ch);

        /* A restore abandoned part way (cleanup mid-restore), one failed by corruption, and one
         * failed by the allocator. */
        vt_chunk c[2];
        assert_true(vt_chunks(img[w].bytes, img[w].size, c, 2) >= 2);
        vmbsave_channel *r = NULL;
        assert_int_equal(e->v->channel_allocate(e->v->context, &r), STATUS_SUCCESS);
        assert_int_equal(e->v->restore_from_buffer(r, img[w].bytes, (uint32_t)c[0].size),
                         STATUS_MORE_PROCESSING_REQUIRED);
        assert_int_equal(e->v->channel_cleanup(r), STATUS_SUCCESS);
        assert_int_equal(e->v->channel_allocate(e->v->context, &r), STATUS_SUCCESS);
        uint8_t *bad = malloc(img[w].size);
        assert_non_null(bad);
        memcpy(bad, img[w].bytes, img[w].size);
        bad[img[w].size - 1] ^= 0xFF; /* END's payload: a checksum failure at the very end */
        assert_int_equal(vt_restore(e, r, bad, img[w].size, 1), STATUS_DATA_ERROR);
        free(bad);
        arm(e, VMBSAVE_ALLOC_FAULT_FROM, 2);
        (void)vt_restore(e, r, img[w].bytes, img[w].size, 0);
        disarm(e);
        vt_destroy_channel(e, r); /* restored if it needed fewer than 2 allocations */

        /* Refused cleanups and operations in the middle. */
        assert_int_equal(e->v->channel_cleanup(ch), STATUS_INVALID_DEVICE_STATE);
    }
    /* A successful restore left alive until the end, the others cleaned up in another order. */
    vmbsave_channel *r = vt_restore_new(e, &img[VMBSAVE_CANONICAL_PAUSED_PACKETS]);
    vt_destroy_channel(e, keep[2]);
    vt_destroy_channel(e, keep[0]);
    vt_destroy_channel(e, keep[3]);
    vt_destroy_channel(e, keep[1]);
    vt_destroy_channel(e, r);
    for (int w = 0; w < VMBSAVE_CANONICAL_COUNT; w++)
        vt_image_free(&img[w]);
    assert_true(e->host.alloc_calls > 0);
    vmbsave_impl_unload(&e->impl);
    assert_int_equal(e->host.live_allocations, 0);
    assert_int_equal(e->host.live_bytes, 0);
    free(e);
}

static const struct CMUnitTest tests[] = {
    CLAUSE_TEST("RESOURCES.HOST_ALLOCATOR_ONLY", resources_host_allocator_only),
    CLAUSE_TEST("RESOURCES.ALLOC_FAILURE.STATUS", resources_alloc_failure_status),
    CLAUSE_TEST("RESOURCES.NO_LEAK", resources_no_leak),
};

CLAUSE_TEST_MAIN("resources", tests)
