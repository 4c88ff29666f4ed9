/* Clause LIFECYCLE.CHECK_ORDER: when a call is wrong in several ways, the status is that of the
 * earliest check in the spec's order. Each case below is wrong in exactly two ways, adjacent or
 * not, so a swapped pair of checks shows up as the other status. */
#include <stdlib.h>
#include <string.h>

#include "support/clause_test.h"
#include "support/fixture.h"

#define ASSERT_STATUS(call, want)                                                            \
    do {                                                                                      \
        NTSTATUS got_ = (call);                                                               \
        if (got_ != (want)) {                                                                 \
            const char *g_ = vmbsave_status_name(got_), *w_ = vmbsave_status_name(want);      \
            fail_msg("%s: got %s (0x%08x), want %s", #call, g_ ? g_ : "?", (unsigned)got_,    \
                     w_ ? w_ : "?");                                                          \
        }                                                                                     \
    } while (0)

static uint64_t g_pfns[VMBSAVE_MAX_GPADL_PFNS + 1];

static void lifecycle_check_order(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    const vmbsave_interface_v1 *v = e->v;
    for (uint32_t i = 0; i <= VMBSAVE_MAX_GPADL_PFNS; i++)
        g_pfns[i] = 0x1000 + i;
    uint8_t payload[8] = {0};
    vmbsave_open_params open;
    vt_fill_open(&open, 1);

    /* (1) NULL channel before (3) malformed arguments. */
    ASSERT_STATUS(v->gpadl_create(NULL, 0, NULL, 0), STATUS_INVALID_PARAMETER);

    /* (2) an active session before (3) malformed arguments and (5) state. */
    vmbsave_channel *saving = vt_make_canonical(e, VMBSAVE_CANONICAL_EMPTY_OFFER, 1);
    ASSERT_STATUS(v->save_begin(saving), STATUS_SUCCESS);
    ASSERT_STATUS(v->gpadl_create(saving, 0, NULL, 0), STATUS_INVALID_DEVICE_STATE);
    ASSERT_STATUS(v->init_set_offer(saving, NULL), STATUS_INVALID_DEVICE_STATE);
    v->save_end(saving);
    vt_destroy_channel(e, saving);

    /* A DISABLED channel: every operation below is also in the wrong lifecycle state. */
    vmbsave_channel *disabled = NULL;
    ASSERT_STATUS(v->channel_allocate(v->context, &disabled), STATUS_SUCCESS);
    /* (3) malformed before (4) over a limit: id 0 with too many pfns. */
    ASSERT_STATUS(v->gpadl_create(disabled, 0, g_pfns, VMBSAVE_MAX_GPADL_PFNS + 1),
                  STATUS_INVALID_PARAMETER);
    /* (3) malformed before (5) state. */
    ASSERT_STATUS(v->gpadl_create(disabled, 5, NULL, 1), STATUS_INVALID_PARAMETER);
    ASSERT_STATUS(v->packet_send(disabled, 0, 0, payload, 1), STATUS_INVALID_PARAMETER);
    /* (4) over a limit before (5) state. */
    ASSERT_STATUS(v->gpadl_create(disabled, 5, g_pfns, VMBSAVE_MAX_GPADL_PFNS + 1),
                  STATUS_IMPLEMENTATION_LIMIT);
    ASSERT_STATUS(v->packet_send(disabled, 7, 0, payload, VMBSAVE_MAX_PACKET_PAYLOAD + 1),
                  STATUS_IMPLEMENTATION_LIMIT);
    vmbsave_open_params huge = open;
    huge.incoming_ring_bytes = VMBSAVE_MAX_RING_BYTES + VMBSAVE_PAGE_BYTES;
    ASSERT_STATUS(v->guest_open(disabled, &huge), STATUS_IMPLEMENTATION_LIMIT);
    /* (3) before (4) across fields: one ring over the limit, the other not a page multiple. */
    huge.outgoing_ring_bytes = VMBSAVE_MIN_RING_BYTES + 1;
    ASSERT_STATUS(v->guest_open(disabled, &huge), STATUS_INVALID_PARAMETER);
    /* (5) state before (6) look-ups: unknown ids on a channel where the call is not allowed. */
    ASSERT_STATUS(v->gpadl_teardown_begin(disabled, 4242), STATUS_INVALID_DEVICE_STATE);
    ASSERT_STATUS(v->packet_complete(disabled, 4242), STATUS_INVALID_DEVICE_STATE);
    /* (5) state before (7) allocation: with every allocation failing, still the state error. */
    e->host.fault_mode = VMBSAVE_ALLOC_FAULT_FROM;
    e->host.fault_at = e->host.alloc_calls + 1;
    ASSERT_STATUS(v->gpadl_create(disabled, 5, g_pfns, 1), STATUS_INVALID_DEVICE_STATE);
    e->host.fault_mode = VMBSAVE_ALLOC_FAULT_NONE;
    ASSERT_STATUS(v->channel_cleanup(disabled), STATUS_SUCCESS);

    /* An open, running channel for the look-up order (6). */
    vmbsave_channel *ch = vt_make_canonical(e, VMBSAVE_CANONICAL_OPEN_GPADLS, 1);
    ASSERT_STATUS(v->start(ch), STATUS_SUCCESS);
    /* The canonical state's GPADL ids: a CREATED one and the TEARING_DOWN one. */
    const vmbsave_canonical_info *info = vmbsave_canonical_info_of(VMBSAVE_CANONICAL_OPEN_GPADLS);
    const uint32_t dying_id = info->tearing_down_gpadl;
    uint32_t live_id = 0;
    for (uint32_t i = 0; i < info->gpadl_count && live_id == 0; i++)
        if (info->gpadl_ids[i] != dying_id)
            live_id = info->gpadl_ids[i];
    assert_int_not_equal(live_id, 0);
    assert_int_not_equal(dying_id, 0);

    ASSERT_STATUS(v->packet_send(ch, 11, 0, payload, 4), STATUS_SUCCESS);
    /* NOT_FOUND before DUPLICATE: a packet id in flight naming an unknown GPADL. */
    ASSERT_STATUS(v->packet_send(ch, 11, 0x7fff0000u, payload, 4), STATUS_NOT_FOUND);
    /* The object's own state before DUPLICATE: the id in flight, naming a GPADL in teardown. */
    ASSERT_STATUS(v->packet_send(ch, 11, dying_id, payload, 4), STATUS_INVALID_DEVICE_STATE);
    /* DUPLICATE before a full table: fill the GPADL table, then reuse an id. */
    uint32_t next_id = 100;
    for (;;) {
        NTSTATUS s = v->gpadl_create(ch, next_id, g_pfns, 1);
        if (s == STATUS_IMPLEMENTATION_LIMIT)
            break;
        ASSERT_STATUS(s, STATUS_SUCCESS);
        next_id++;
        assert_true(next_id < 100 + VMBSAVE_MAX_GPADLS + 1);
    }
    ASSERT_STATUS(v->gpadl_create(ch, live_id, g_pfns, 1), STATUS_DUPLICATE_OBJECTID);
    /* Look-ups before (7) allocation: a duplicate with every allocation failing. */
    e->host.fault_mode = VMBSAVE_ALLOC_FAULT_FROM;
    e->host.fault_at = e->host.alloc_calls + 1;
    ASSERT_STATUS(v->packet_send(ch, 11, 0, payload, 4), STATUS_DUPLICATE_OBJECTID);
    /* And allocation last: a call that is right in every other way fails for memory. */
    ASSERT_STATUS(v->packet_send(ch, 12, 0, payload, 4), STATUS_INSUFFICIENT_RESOURCES);
    e->host.fault_mode = VMBSAVE_ALLOC_FAULT_NONE;

    vt_destroy_channel(e, ch);
    vt_env_free(e);
}

static const struct CMUnitTest tests[] = {
    CLAUSE_TEST("LIFECYCLE.CHECK_ORDER", lifecycle_check_order),
};

CLAUSE_TEST_MAIN("check_order", tests)
