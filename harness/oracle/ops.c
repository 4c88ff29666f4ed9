/* The operation descriptors (harness/oracle/ops.h). The trace texts are the runner's of old, so
 * traces read as they always did; the C statements follow harness/repro/emit_c.h. */
#include "oracle/ops.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "oracle/spec_clauses.h"

#define P(...) return (size_t)snprintf(buf, n, __VA_ARGS__)

/* ---- Printers ------------------------------------------------------------------------------ */

static const char *const dir_text[2] = {"in", "out"};
static const char *const dir_c[2] = {"VMBSAVE_RING_INCOMING", "VMBSAVE_RING_OUTGOING"};
static const char *const save_modes[] = {
    "VMBSAVE_SAVE_PACKET_STATE",       "VMBSAVE_SAVE_PACKET_NO_STATE",
    "VMBSAVE_SAVE_PACKET_FAIL_SECOND", "VMBSAVE_SAVE_PACKET_FAIL_FIRST_ZERO",
    "VMBSAVE_SAVE_PACKET_OVER_LIMIT",  "VMBSAVE_SAVE_PACKET_ASKS_MORE",
    "VMBSAVE_SAVE_PACKET_TOO_SMALL_SECOND"};
#define SAVE_MODES (sizeof save_modes / sizeof save_modes[0])

static uint32_t dir_of(const vmbsave_call *c)
{
    return c->arg[0] != 0 ? 1u : 0u;
}

static const char *save_mode(uint32_t m)
{
    return save_modes[m < SAVE_MODES ? m : 0];
}

/* "name(chN)" and "st = api->name(ch[N]);": the operations that take only the channel. */
static size_t text_plain(const vmbsave_call *c, char *buf, size_t n)
{
    P("%s(ch%u)", vmbsave_call_desc_of(c->op)->name, (unsigned)c->slot);
}
static size_t c_plain(const vmbsave_call *c, char *buf, size_t n)
{
    P("st = api->%s(ch[%u]);", vmbsave_call_desc_of(c->op)->name, (unsigned)c->slot);
}

static size_t text_allocate(const vmbsave_call *c, char *buf, size_t n)
{
    P("channel_allocate(ch%u)", (unsigned)c->slot);
}
static size_t c_allocate(const vmbsave_call *c, char *buf, size_t n)
{
    P("st = api->channel_allocate(api->context, &ch[%u]);", (unsigned)c->slot);
}

static size_t c_cleanup(const vmbsave_call *c, char *buf, size_t n)
{
    P("{ st = api->channel_cleanup(ch[%u]); if (st == STATUS_SUCCESS) ch[%u] = NULL; }",
      (unsigned)c->slot, (unsigned)c->slot);
}

static size_t text_offer(const vmbsave_call *c, char *buf, size_t n)
{
    if (c->flags & VMBSAVE_CALL_NULL_ARG)
        P("init_set_offer(ch%u, NULL)", (unsigned)c->slot);
    P("init_set_offer(ch%u, subchannel=%" PRIu32 " mmio=%" PRIu32 " flags=0x%" PRIx32 ")",
      (unsigned)c->slot, c->arg[0], c->arg[1], c->arg[2]);
}
static size_t c_offer(const vmbsave_call *c, char *buf, size_t n)
{
    if (c->flags & VMBSAVE_CALL_NULL_ARG)
        P("st = api->init_set_offer(ch[%u], NULL);", (unsigned)c->slot);
    P("{ vmbsave_offer o; memcpy(&o, d%" PRIu32 ", sizeof o); st = api->init_set_offer(ch[%u], "
      "&o); }",
      c->data, (unsigned)c->slot);
}

static size_t text_open(const vmbsave_call *c, char *buf, size_t n)
{
    if (c->flags & VMBSAVE_CALL_NULL_ARG)
        P("guest_open(ch%u, NULL)", (unsigned)c->slot);
    P("guest_open(ch%u, gpadl=%" PRIu32 " in=%" PRIu32 " out=%" PRIu32 " vp=%" PRIu32
      " conn=%" PRIu32 ")",
      (unsigned)c->slot, c->arg[0], c->arg[1], c->arg[2], c->arg[3], c->arg[4]);
}
static size_t c_open(const vmbsave_call *c, char *buf, size_t n)
{
    if (c->flags & VMBSAVE_CALL_NULL_ARG)
        P("st = api->guest_open(ch[%u], NULL);", (unsigned)c->slot);
    P("{ vmbsave_open_params p = {%" PRIu32 "u, %" PRIu32 "u, %" PRIu32 "u, %" PRIu32
      "u, %" PRIu32 "u}; st = api->guest_open(ch[%u], &p); }",
      c->arg[0], c->arg[1], c->arg[2], c->arg[3], c->arg[4], (unsigned)c->slot);
}

static size_t text_gpadl_create(const vmbsave_call *c, char *buf, size_t n)
{
    P("gpadl_create(ch%u, id=%" PRIu32 ", %s%" PRIu32 " pfns)", (unsigned)c->slot, c->arg[0],
      (c->flags & VMBSAVE_CALL_NULL_ARG) ? "NULL, " : "", c->arg[1]);
}
static size_t c_gpadl_create(const vmbsave_call *c, char *buf, size_t n)
{
    if (c->flags & VMBSAVE_CALL_NULL_ARG)
        P("st = api->gpadl_create(ch[%u], %" PRIu32 "u, NULL, %" PRIu32 "u);", (unsigned)c->slot,
          c->arg[0], c->arg[1]);
    /* The data holds the pfns as little-endian bytes; the file copies them into uint64_t. */
    P("{ static uint64_t p[%" PRIu32 "]; memcpy(p, d%" PRIu32 ", %" PRIu32
      "u); st = api->gpadl_create(ch[%u], %" PRIu32 "u, p, %" PRIu32 "u); }",
      c->arg[1] != 0 ? c->arg[1] : 1u, c->data, c->arg[1] * 8u, (unsigned)c->slot, c->arg[0],
      c->arg[1]);
}

/* A packet id: arg[lo] and arg[hi] are its halves (GPADL calls leave hi 0). */
static uint64_t id64(const vmbsave_call *c, unsigned lo, unsigned hi)
{
    return (uint64_t)c->arg[hi] << 32 | c->arg[lo];
}

/* An id as a C literal: "5u" below 2^32 (as every reproducer wrote before 64-bit ids), else
 * "UINT64_C(4294967296)". `tmp` holds at least 32 bytes. */
static const char *c_id_literal(uint64_t id, char *tmp, size_t tmp_size)
{
    if (id <= UINT32_MAX)
        snprintf(tmp, tmp_size, "%" PRIu64 "u", id);
    else
        snprintf(tmp, tmp_size, "UINT64_C(%" PRIu64 ")", id);
    return tmp;
}

static size_t text_id(const vmbsave_call *c, char *buf, size_t n)
{
    P("%s(ch%u, id=%" PRIu64 ")", vmbsave_call_desc_of(c->op)->name, (unsigned)c->slot,
      id64(c, 0, 1));
}
static size_t c_id(const vmbsave_call *c, char *buf, size_t n)
{
    char id[32];
    P("st = api->%s(ch[%u], %s);", vmbsave_call_desc_of(c->op)->name, (unsigned)c->slot,
      c_id_literal(id64(c, 0, 1), id, sizeof id));
}

static size_t text_packet_send(const vmbsave_call *c, char *buf, size_t n)
{
    P("packet_send(ch%u, id=%" PRIu64 ", gpadl=%" PRIu32 ", %s%" PRIu32 " bytes)",
      (unsigned)c->slot, id64(c, 0, 3), c->arg[1],
      (c->flags & VMBSAVE_CALL_NULL_ARG) ? "NULL, " : "", c->arg[2]);
}
static size_t c_packet_send(const vmbsave_call *c, char *buf, size_t n)
{
    char id[32];
    c_id_literal(id64(c, 0, 3), id, sizeof id);
    if (c->flags & VMBSAVE_CALL_NULL_ARG)
        P("st = api->packet_send(ch[%u], %s, %" PRIu32 "u, NULL, %" PRIu32 "u);",
          (unsigned)c->slot, id, c->arg[1], c->arg[2]);
    P("st = api->packet_send(ch[%u], %s, %" PRIu32 "u, d%" PRIu32 ", %" PRIu32 "u);",
      (unsigned)c->slot, id, c->arg[1], c->data, c->arg[2]);
}

static size_t text_ring(const vmbsave_call *c, char *buf, size_t n)
{
    P("%s(ch%u, %s, %" PRIu32 " bytes)", vmbsave_call_desc_of(c->op)->name, (unsigned)c->slot,
      dir_text[dir_of(c)], c->arg[1]);
}
static size_t c_ring_write(const vmbsave_call *c, char *buf, size_t n)
{
    P("st = api->ring_write(ch[%u], %s, d%" PRIu32 ", %" PRIu32 "u);", (unsigned)c->slot,
      dir_c[dir_of(c)], c->data, c->arg[1]);
}
static size_t c_ring_read(const vmbsave_call *c, char *buf, size_t n)
{
    P("st = api->ring_read(ch[%u], %s, out, %" PRIu32 "u, &filled);", (unsigned)c->slot,
      dir_c[dir_of(c)], c->arg[1]);
}

static size_t c_save_end(const vmbsave_call *c, char *buf, size_t n)
{
    P("api->save_end(ch[%u]);", (unsigned)c->slot);
}

static size_t text_continue(const vmbsave_call *c, char *buf, size_t n)
{
    P("save_continue(ch%u, %ssize=%" PRIu32 "%s%s)", (unsigned)c->slot,
      (c->flags & VMBSAVE_CALL_NULL_BUFFER) ? "NULL, " : "", c->arg[0],
      (c->flags & VMBSAVE_CALL_NULL_FILLED) ? ", NULL filled" : "",
      (c->flags & VMBSAVE_CALL_NULL_REQUIRED) ? ", NULL required" : "");
}
static size_t c_continue(const vmbsave_call *c, char *buf, size_t n)
{
    P("st = api->save_continue(ch[%u], %s, %" PRIu32 "u, %s, %s);", (unsigned)c->slot,
      (c->flags & VMBSAVE_CALL_NULL_BUFFER) ? "NULL" : "out", c->arg[0],
      (c->flags & VMBSAVE_CALL_NULL_FILLED) ? "NULL" : "&filled",
      (c->flags & VMBSAVE_CALL_NULL_REQUIRED) ? "NULL" : "&required");
}

static size_t text_restore(const vmbsave_call *c, char *buf, size_t n)
{
    P("restore_from_buffer(ch%u, bytes %" PRIu32 "..%" PRIu32 " of %" PRIu32 ")",
      (unsigned)c->slot, c->arg[0], c->arg[1], c->arg[2]);
}
static size_t c_restore(const vmbsave_call *c, char *buf, size_t n)
{
    P("st = api->restore_from_buffer(ch[%u], d%" PRIu32 " + %" PRIu32 ", %" PRIu32 "u);",
      (unsigned)c->slot, c->data, c->arg[0], c->arg[1] - c->arg[0]);
}

static size_t text_describe(const vmbsave_call *c, char *buf, size_t n)
{
    P("describe(ch%u, size=%" PRIu32 ")", (unsigned)c->slot, c->arg[0]);
}
static size_t c_describe(const vmbsave_call *c, char *buf, size_t n)
{
    P("st = api->describe(ch[%u], (char *)out, %" PRIu32 "u, &required);", (unsigned)c->slot,
      c->arg[0]);
}

static size_t text_release(const vmbsave_call *c, char *buf, size_t n)
{
    (void)c;
    P("release()");
}
static size_t c_release(const vmbsave_call *c, char *buf, size_t n)
{
    (void)c;
    P("api->release(api->context);");
}

static size_t text_fill(const vmbsave_call *c, char *buf, size_t n)
{
    P("host.fill_byte=%" PRIu32, c->arg[0]);
}
static size_t c_fill(const vmbsave_call *c, char *buf, size_t n)
{
    P("host.fill_byte = %" PRIu32 ";", c->arg[0]);
}

static size_t text_fault_alloc(const vmbsave_call *c, char *buf, size_t n)
{
    P("host: allocation call %" PRIu32 " from now fails%s", c->arg[1],
      c->arg[0] != 0 ? ", and every one after" : "");
}
static size_t c_fault_alloc(const vmbsave_call *c, char *buf, size_t n)
{
    P("{ host.fault_mode = %s; host.fault_at = host.alloc_calls + %" PRIu32 "u; }",
      c->arg[0] != 0 ? "VMBSAVE_ALLOC_FAULT_FROM" : "VMBSAVE_ALLOC_FAULT_ONCE", c->arg[1]);
}

static size_t text_fault_off(const vmbsave_call *c, char *buf, size_t n)
{
    (void)c;
    P("host: allocation faults off");
}
static size_t c_fault_off(const vmbsave_call *c, char *buf, size_t n)
{
    (void)c;
    P("{ host.fault_mode = VMBSAVE_ALLOC_FAULT_NONE; host.fault_at = 0; }");
}

static size_t text_save_mode(const vmbsave_call *c, char *buf, size_t n)
{
    P("host: save_packet driver %s for packet %" PRIu64 " (0: every packet)",
      save_mode(c->arg[0]) + strlen("VMBSAVE_SAVE_PACKET_"), id64(c, 1, 2));
}
static size_t c_save_mode(const vmbsave_call *c, char *buf, size_t n)
{
    char id[32];
    P("{ host.save_mode = %s; host.save_mode_packet_id = %s; }", save_mode(c->arg[0]),
      c_id_literal(id64(c, 1, 2), id, sizeof id));
}

static size_t text_restore_fail(const vmbsave_call *c, char *buf, size_t n)
{
    P("host: restore_packet call %" PRIu32 " from now fails", c->arg[0]);
}
static size_t c_restore_fail(const vmbsave_call *c, char *buf, size_t n)
{
    P("host.restore_fail_at = host.restore_call_count + %" PRIu32 "u;", c->arg[0]);
}

static size_t text_trim(const vmbsave_call *c, char *buf, size_t n)
{
    (void)c;
    P("host: callback logs cleared");
}
static size_t c_trim(const vmbsave_call *c, char *buf, size_t n)
{
    (void)c;
    P("{ host.restore_fail_at = host.restore_fail_at > host.restore_call_count ? "
      "host.restore_fail_at - host.restore_call_count : 0; "
      "vmbsave_fault_host_clear_logs(&host); }");
}

static size_t text_reset(const vmbsave_call *c, char *buf, size_t n)
{
    (void)c;
    P("host: every fault off");
}
static size_t c_reset(const vmbsave_call *c, char *buf, size_t n)
{
    (void)c;
    P("{ host.fault_mode = VMBSAVE_ALLOC_FAULT_NONE; host.fault_at = 0; "
      "host.save_mode = VMBSAVE_SAVE_PACKET_STATE; host.save_mode_packet_id = 0; "
      "host.restore_fail_at = 0; }");
}

/* ---- The table ----------------------------------------------------------------------------- */

#define ABI(name_, family_, text_, c_, own_, params_, limit_, ...)                              \
    {.name = name_, .family = family_, .traced = true, .channel = true,                        \
     .args = {__VA_ARGS__}, .clause = own_, .params_clause = params_, .limit_clause = limit_,   \
     .text = text_, .c_statement = c_}
/* A call whose statuses all fall under its own clause. */
#define ABI1(name_, family_, text_, c_, own_, ...)                                             \
    ABI(name_, family_, text_, c_, own_, own_, own_, __VA_ARGS__)
#define HOST(name_, text_, c_, ...)                                                             \
    {.name = name_, .family = VMBSAVE_FAMILY_HOST, .args = {__VA_ARGS__}, .text = text_,       \
     .c_statement = c_}
#define L VMBSAVE_FAMILY_LIFECYCLE

static const vmbsave_call_desc table[VMBSAVE_CALL_OP_COUNT] = {
    [VMBSAVE_CALL_CHANNEL_ALLOCATE] = ABI1("channel_allocate", L, text_allocate, c_allocate,
                                           CLAUSE(LIFECYCLE_ALLOCATE_DISABLED_FRESH), NULL),
    [VMBSAVE_CALL_CHANNEL_CLEANUP] = ABI1("channel_cleanup", L, text_plain, c_cleanup,
                                          CLAUSE(LIFECYCLE_CLEANUP_REQUIRES_DISABLED), NULL),
    [VMBSAVE_CALL_INIT_SET_OFFER] =
        ABI("init_set_offer", L, text_offer, c_offer, CLAUSE(LIFECYCLE_OFFER_INIT_PHASE_ONLY),
            CLAUSE(LIFECYCLE_OFFER_VALIDATION), CLAUSE(LIMIT_OFFER), "subchannel", "mmio",
            "flags"),
    [VMBSAVE_CALL_ENABLE] =
        ABI1("enable", L, text_plain, c_plain, CLAUSE(LIFECYCLE_ENABLE_REQUIRES_OFFER), NULL),
    [VMBSAVE_CALL_DISABLE] =
        ABI1("disable", L, text_plain, c_plain, CLAUSE(LIFECYCLE_DISABLE_TEARS_DOWN), NULL),
    [VMBSAVE_CALL_GUEST_OPEN] =
        ABI("guest_open", L, text_open, c_open, CLAUSE(LIFECYCLE_OPEN_FROM_ENABLED),
            CLAUSE(LIFECYCLE_OPEN_VALIDATION), CLAUSE(LIMIT_RING), "gpadl", "in", "out", "vp",
            "conn"),
    [VMBSAVE_CALL_GUEST_CLOSE] = ABI1("guest_close", L, text_plain, c_plain,
                                      CLAUSE(LIFECYCLE_CLOSE_DROPS_TRAFFIC), NULL),
    [VMBSAVE_CALL_START] =
        ABI1("start", L, text_plain, c_plain, CLAUSE(LIFECYCLE_START_PAUSE_TRANSITIONS), NULL),
    [VMBSAVE_CALL_PAUSE] =
        ABI1("pause", L, text_plain, c_plain, CLAUSE(LIFECYCLE_START_PAUSE_TRANSITIONS), NULL),
    [VMBSAVE_CALL_GPADL_CREATE] =
        ABI("gpadl_create", L, text_gpadl_create, c_gpadl_create, CLAUSE(LIFECYCLE_GPADL_CREATE),
            CLAUSE(LIFECYCLE_GPADL_CREATE), CLAUSE(LIMIT_GPADL), "id", "pfns"),
    [VMBSAVE_CALL_GPADL_TEARDOWN_BEGIN] = ABI1("gpadl_teardown_begin", L, text_id, c_id,
                                               CLAUSE(LIFECYCLE_GPADL_TEARDOWN), "id"),
    [VMBSAVE_CALL_GPADL_TEARDOWN_COMPLETE] = ABI1("gpadl_teardown_complete", L, text_id, c_id,
                                                  CLAUSE(LIFECYCLE_GPADL_TEARDOWN), "id"),
    [VMBSAVE_CALL_PACKET_SEND] =
        ABI("packet_send", L, text_packet_send, c_packet_send, CLAUSE(LIFECYCLE_PACKET_SEND),
            CLAUSE(LIFECYCLE_PACKET_SEND), CLAUSE(LIMIT_PACKET), "id", "gpadl", "bytes",
            "id_high"),
    [VMBSAVE_CALL_PACKET_COMPLETE] = ABI1("packet_complete", L, text_id, c_id,
                                          CLAUSE(LIFECYCLE_PACKET_COMPLETE), "id", "id_high"),
    [VMBSAVE_CALL_RING_WRITE] = ABI1("ring_write", L, text_ring, c_ring_write,
                                     CLAUSE(LIFECYCLE_RING_FIFO), "dir", "bytes"),
    [VMBSAVE_CALL_RING_READ] = ABI1("ring_read", L, text_ring, c_ring_read,
                                    CLAUSE(LIFECYCLE_RING_FIFO), "dir", "bytes"),
    [VMBSAVE_CALL_SAVE_BEGIN] = ABI1("save_begin", VMBSAVE_FAMILY_SAVE_BEGIN, text_plain,
                                     c_plain, CLAUSE(SAVE_BEGIN_ALLOWED_STATES), NULL),
    [VMBSAVE_CALL_SAVE_CONTINUE] =
        ABI("save_continue", VMBSAVE_FAMILY_SAVE_CONTINUE, text_continue, c_continue,
            CLAUSE(SAVE_CONTINUE_WHOLE_CHUNKS), CLAUSE(SAVE_CONTINUE_PARAMS),
            CLAUSE(SAVE_CONTINUE_STICKY_ERROR), "size"),
    [VMBSAVE_CALL_SAVE_END] = ABI1("save_end", VMBSAVE_FAMILY_SAVE_END, text_plain, c_save_end,
                                   CLAUSE(SAVE_END_ALWAYS_SAFE), NULL),
    [VMBSAVE_CALL_RESTORE_FROM_BUFFER] =
        ABI("restore_from_buffer", VMBSAVE_FAMILY_RESTORE, text_restore, c_restore,
            CLAUSE(RESTORE_MORE_PROCESSING), CLAUSE(RESTORE_PARAMS),
            CLAUSE(RESTORE_LIMITS_BEFORE_ALLOC), "from", "to", "total"),
    /* describe is only ever the oracle's look (emit_c.h rule 1): never traced. */
    [VMBSAVE_CALL_DESCRIBE] = {.name = "describe", .family = VMBSAVE_FAMILY_DESCRIBE,
                               .channel = true, .args = {"size"},
                               .clause = CLAUSE(ABI_DESCRIBE_FORMAT),
                               .params_clause = CLAUSE(ABI_DESCRIBE_SIZE_QUERY),
                               .limit_clause = CLAUSE(ABI_DESCRIBE_FORMAT),
                               .text = text_describe, .c_statement = c_describe},
    [VMBSAVE_CALL_RELEASE] = {.name = "release", .family = VMBSAVE_FAMILY_RELEASE,
                              .traced = true, .clause = CLAUSE(ABI_TABLE_RELEASE),
                              .params_clause = CLAUSE(ABI_TABLE_RELEASE),
                              .limit_clause = CLAUSE(ABI_TABLE_RELEASE), .text = text_release,
                              .c_statement = c_release},
    [VMBSAVE_CALL_HOST_FILL_BYTE] = HOST("host.fill_byte", text_fill, c_fill, "value"),
    [VMBSAVE_CALL_HOST_FAULT_ALLOC] =
        HOST("host.fault_alloc", text_fault_alloc, c_fault_alloc, "every", "after"),
    [VMBSAVE_CALL_HOST_FAULT_OFF] = HOST("host.fault_off", text_fault_off, c_fault_off, NULL),
    [VMBSAVE_CALL_HOST_SAVE_PACKET_MODE] =
        HOST("host.save_mode", text_save_mode, c_save_mode, "mode", "packet",
             "packet_high"),
    [VMBSAVE_CALL_HOST_RESTORE_PACKET_FAIL] =
        HOST("host.restore_fail_at", text_restore_fail, c_restore_fail, "nth"),
    [VMBSAVE_CALL_HOST_TRIM_LOGS] = HOST("host.clear_logs", text_trim, c_trim, NULL),
    [VMBSAVE_CALL_HOST_RESET] = HOST("host.reset", text_reset, c_reset, NULL),
};

static size_t text_unknown(const vmbsave_call *c, char *buf, size_t n)
{
    P("?(op %u)", (unsigned)c->op);
}
static size_t c_unknown(const vmbsave_call *c, char *buf, size_t n)
{
    P("/* unknown operation %u */", (unsigned)c->op);
}
static const vmbsave_call_desc unknown = {.name = "?", .family = VMBSAVE_FAMILY_HOST,
                                          .text = text_unknown, .c_statement = c_unknown};

const vmbsave_call_desc *vmbsave_call_desc_of(unsigned op)
{
    return op < VMBSAVE_CALL_OP_COUNT ? &table[op] : &unknown;
}

size_t vmbsave_call_text(const vmbsave_call *call, char *buf, size_t n)
{
    return vmbsave_call_desc_of(call->op)->text(call, buf, n);
}

size_t vmbsave_call_c_statement(const vmbsave_call *call, char *buf, size_t n)
{
    return vmbsave_call_desc_of(call->op)->c_statement(call, buf, n);
}

bool vmbsave_call_equal(const vmbsave_call *a, const vmbsave_call *b)
{
    return a->op == b->op && a->slot == b->slot && a->flags == b->flags &&
           memcmp(a->arg, b->arg, sizeof a->arg) == 0;
}

vmbsave_call_op vmbsave_call_op_of_step(vmbsave_op op)
{
    switch (op) {
    case VMBSAVE_OP_OFFER: return VMBSAVE_CALL_INIT_SET_OFFER;
    case VMBSAVE_OP_ENABLE: return VMBSAVE_CALL_ENABLE;
    case VMBSAVE_OP_DISABLE: return VMBSAVE_CALL_DISABLE;
    case VMBSAVE_OP_OPEN: return VMBSAVE_CALL_GUEST_OPEN;
    case VMBSAVE_OP_CLOSE: return VMBSAVE_CALL_GUEST_CLOSE;
    case VMBSAVE_OP_START: return VMBSAVE_CALL_START;
    case VMBSAVE_OP_PAUSE: return VMBSAVE_CALL_PAUSE;
    case VMBSAVE_OP_GPADL_CREATE: return VMBSAVE_CALL_GPADL_CREATE;
    case VMBSAVE_OP_GPADL_TEARDOWN_BEGIN: return VMBSAVE_CALL_GPADL_TEARDOWN_BEGIN;
    case VMBSAVE_OP_GPADL_TEARDOWN_COMPLETE: return VMBSAVE_CALL_GPADL_TEARDOWN_COMPLETE;
    case VMBSAVE_OP_PACKET_SEND: return VMBSAVE_CALL_PACKET_SEND;
    case VMBSAVE_OP_PACKET_COMPLETE: return VMBSAVE_CALL_PACKET_COMPLETE;
    case VMBSAVE_OP_RING_WRITE: return VMBSAVE_CALL_RING_WRITE;
    case VMBSAVE_OP_RING_READ: return VMBSAVE_CALL_RING_READ;
    case VMBSAVE_OP_SAVE_BEGIN: return VMBSAVE_CALL_SAVE_BEGIN;
    case VMBSAVE_OP_SAVE_CONTINUE: return VMBSAVE_CALL_SAVE_CONTINUE;
    case VMBSAVE_OP_SAVE_END: return VMBSAVE_CALL_SAVE_END;
    case VMBSAVE_OP_CLEANUP: return VMBSAVE_CALL_CHANNEL_CLEANUP;
    case VMBSAVE_OP_RESTORE: return VMBSAVE_CALL_RESTORE_FROM_BUFFER;
    default: return VMBSAVE_CALL_OP_COUNT; /* no single call (CAPTURE, FAULT_*) */
    }
}
