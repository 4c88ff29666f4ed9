/* Clause PACKET.CALLBACKS.NO_REENTRY: a driver that calls back into the library from its
 * packet callback may read the channel, but every call that would change it is refused, and
 * the save or restore in progress finishes as if nothing had been tried. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/clause_test.h"
#include "support/fixture.h"

typedef NTSTATUS (*save_packet_fn)(void *, vmbsave_channel *, uint64_t, void *, uint32_t,
                                   uint32_t *);
typedef NTSTATUS (*restore_packet_fn)(void *, vmbsave_channel *, uint64_t, const void *,
                                      uint32_t, const void *, uint32_t);

/* What the probing callbacks saw. Global because the callbacks' context is the fault host,
 * whose own driver behaviour they forward to; cmocka runs one test at a time. */
static struct {
    const vmbsave_interface_v1 *v;
    save_packet_fn driver_save;
    restore_packet_fn driver_restore;
    const uint8_t *image; /* a valid image, for a nested restore attempt */
    size_t image_size;
    unsigned callbacks;
    unsigned refused;            /* mutating calls that returned INVALID_DEVICE_STATE */
    unsigned accepted;           /* mutating calls that returned anything else */
    char first_accepted[160];
    unsigned describe_failures;
    unsigned described_fresh;    /* descriptions taken inside a callback showing fresh=1 */
} g;

static void expect_refused(const char *what, NTSTATUS s)
{
    if (s == STATUS_INVALID_DEVICE_STATE) {
        g.refused++;
        return;
    }
    if (g.accepted++ == 0) {
        const char *name = vmbsave_status_name(s);
        snprintf(g.first_accepted, sizeof g.first_accepted, "%s returned %s (0x%08x)", what,
                 name ? name : "?", (unsigned)s);
    }
}

/* Every operation that could change the channel, with arguments that would be valid (or at
 * least get past argument checks) outside a callback. */
static void probe(vmbsave_channel *ch)
{
    const vmbsave_interface_v1 *v = g.v;
    vmbsave_offer offer;
    vmbsave_open_params open;
    vt_fill_offer(&offer, 77);
    vt_fill_open(&open, 1);
    const uint64_t pfns[1] = {0x1234};
    uint8_t bytes[64] = {1, 2, 3, 4};
    uint32_t n = 0, filled = 0, required = 0;

    g.callbacks++;
    expect_refused("init_set_offer", v->init_set_offer(ch, &offer));
    expect_refused("enable", v->enable(ch));
    expect_refused("disable", v->disable(ch));
    expect_refused("guest_open", v->guest_open(ch, &open));
    expect_refused("guest_close", v->guest_close(ch));
    expect_refused("start", v->start(ch));
    expect_refused("pause", v->pause(ch));
    expect_refused("gpadl_create", v->gpadl_create(ch, 4000, pfns, 1));
    expect_refused("gpadl_teardown_begin", v->gpadl_teardown_begin(ch, 1));
    expect_refused("gpadl_teardown_complete", v->gpadl_teardown_complete(ch, 1));
    expect_refused("packet_send", v->packet_send(ch, 900001, 0, bytes, 4));
    expect_refused("packet_complete", v->packet_complete(ch, 1));
    expect_refused("ring_write", v->ring_write(ch, VMBSAVE_RING_INCOMING, bytes, 1));
    expect_refused("ring_read", v->ring_read(ch, VMBSAVE_RING_OUTGOING, bytes, 1, &n));
    expect_refused("save_begin", v->save_begin(ch));
    expect_refused("save_continue",
                   v->save_continue(ch, bytes, (uint32_t)sizeof bytes, &filled, &required));
    expect_refused("restore_from_buffer",
                   v->restore_from_buffer(ch, g.image, (uint32_t)g.image_size));
    expect_refused("channel_cleanup", v->channel_cleanup(ch));
    v->save_end(ch); /* must be ignored: the outer session goes on */

    uint32_t need = 0;
    if (v->describe(ch, NULL, 0, &need) != STATUS_BUFFER_TOO_SMALL || need == 0) {
        g.describe_failures++;
        return;
    }
    char *text = malloc(need);
    if (text == NULL || v->describe(ch, text, need, &need) != STATUS_SUCCESS)
        g.describe_failures++;
    else if (strstr(text, "\nfresh=1\n") != NULL)
        g.described_fresh++;
    free(text);
}

static NTSTATUS probing_save(void *ctx, vmbsave_channel *ch, uint64_t id, void *buf,
                             uint32_t size, uint32_t *needed)
{
    probe(ch);
    return g.driver_save(ctx, ch, id, buf, size, needed);
}

static NTSTATUS probing_restore(void *ctx, vmbsave_channel *ch, uint64_t id, const void *lib,
                                uint32_t lib_size, const void *save, uint32_t save_size)
{
    probe(ch);
    return g.driver_restore(ctx, ch, id, lib, lib_size, save, save_size);
}

static void assert_all_refused(unsigned min_callbacks)
{
    if (g.callbacks < min_callbacks)
        fail_msg("only %u callbacks probed; the canonical state has more packets", g.callbacks);
    if (g.accepted != 0)
        fail_msg("%u mutating calls from inside a callback were not refused; first: %s",
                 g.accepted, g.first_accepted);
    assert_int_equal(g.refused, 18u * g.callbacks);
    assert_int_equal(g.describe_failures, 0);
}

static void packet_callbacks_no_reentry(void **state)
{
    (void)state;
    /* The reference image and description, with the plain scripted driver. */
    vt_env *plain = vt_env_new();
    vmbsave_channel *src = vt_make_canonical(plain, VMBSAVE_CANONICAL_PAUSED_PACKETS, 3);
    vt_image want;
    vt_save(plain, src, VMBSAVE_MAX_CHUNK_BYTES, &want);
    char *want_text = vt_describe(plain, src);
    vt_destroy_channel(plain, src);
    vt_env_free(plain);

    /* The same channel behind a driver that probes from every callback. The host struct is
     * copied at load (ABI.ENTRY.HOST), so the callbacks are swapped before reloading. */
    vt_env *e = vt_env_new();
    memset(&g, 0, sizeof g);
    g.driver_save = e->host.host.save_packet;
    g.driver_restore = e->host.host.restore_packet;
    assert_non_null(g.driver_save);
    assert_non_null(g.driver_restore);
    e->host.host.save_packet = probing_save;
    e->host.host.restore_packet = probing_restore;
    vt_env_reload(e);
    g.v = e->v;
    g.image = want.bytes;
    g.image_size = want.size;

    /* Save: every callback's mutations refused, and the session yields the same image. */
    vmbsave_channel *ch = vt_make_canonical(e, VMBSAVE_CANONICAL_PAUSED_PACKETS, 3);
    vt_image got;
    vt_save(e, ch, VMBSAVE_MAX_CHUNK_BYTES, &got);
    assert_all_refused(2);
    assert_int_equal(g.described_fresh, 0);
    assert_int_equal(got.size, want.size);
    assert_memory_equal(got.bytes, want.bytes, want.size);
    char *after_save = vt_describe(e, ch);
    assert_string_equal(after_save, want_text);

    /* Restore: the channel is still fresh while the callbacks run (nothing committed), every
     * mutation is refused (on a fresh channel init_set_offer, restore_from_buffer and
     * channel_cleanup would otherwise succeed), and the restore still commits. */
    unsigned save_callbacks = g.callbacks;
    g.callbacks = g.refused = 0;
    vmbsave_channel *restored = vt_restore_new(e, &want);
    assert_all_refused(2);
    assert_int_equal(g.described_fresh, g.callbacks);
    assert_true(save_callbacks >= g.callbacks);
    char *restored_text = vt_describe(e, restored);
    vt_assert_same_state(restored_text, want_text);

    free(restored_text);
    free(after_save);
    free(want_text);
    vt_image_free(&got);
    vt_image_free(&want);
    vt_destroy_channel(e, restored);
    vt_destroy_channel(e, ch);
    vt_env_free(e);
}

static const struct CMUnitTest tests[] = {
    CLAUSE_TEST("PACKET.CALLBACKS.NO_REENTRY", packet_callbacks_no_reentry),
};

CLAUSE_TEST_MAIN("reentry", tests)
