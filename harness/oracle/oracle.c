/* The contract oracle (harness/oracle/oracle.h): its lifetime, the lifecycle operations, channel
 * allocation and clean-up, descriptions and allocation accounting. Save sessions are in
 * oracle_save.c, restores in oracle_restore.c. */
#include "oracle/oracle.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oracle/ops.h"
#include "program/step_args.h"

/* ---- Lifetime ---------------------------------------------------------------------------- */

vmbsave_oracle *vmbsave_oracle_new(void)
{
    vmbsave_oracle *o = calloc(1, sizeof *o);
    if (o == NULL)
        return NULL;
    bool ok = true;
    for (unsigned i = 0; i < VMBSAVE_PROGRAM_CHANNELS; i++) {
        o->ch[i].s.plan.image = malloc(ORACLE_MAX_IMAGE);
        o->ch[i].r.accepted = malloc(ORACLE_MAX_IMAGE);
        ok = ok && o->ch[i].s.plan.image != NULL && o->ch[i].r.accepted != NULL;
    }
    for (unsigned i = 0; i < VMBSAVE_PROGRAM_IMAGES; i++) {
        o->img[i].bytes = malloc(ORACLE_MAX_IMAGE);
        ok = ok && o->img[i].bytes != NULL;
    }
    for (unsigned i = 0; i < 2; i++) {
        o->diag_image[i] = malloc(ORACLE_MAX_IMAGE);
        ok = ok && o->diag_image[i] != NULL;
    }
    o->diag_expected = malloc(ORACLE_MAX_IMAGE);
    o->reader = oracle_reader_new();
    /* The models' heap parts (rings, bulk) are allocated when a state first needs them. */
    ok = ok && o->diag_expected != NULL && o->reader != NULL;
    if (!ok) {
        vmbsave_oracle_free(o);
        return NULL;
    }
    return o;
}

void vmbsave_oracle_free(vmbsave_oracle *o)
{
    if (o == NULL)
        return;
    for (unsigned i = 0; i < VMBSAVE_PROGRAM_CHANNELS; i++) {
        free(o->ch[i].s.plan.image);
        free(o->ch[i].r.accepted);
        oracle_state_free(&o->ch[i].m);
    }
    for (unsigned i = 0; i < VMBSAVE_PROGRAM_IMAGES; i++) {
        free(o->img[i].bytes);
        oracle_state_free(&o->img[i].model);
    }
    for (unsigned i = 0; i < 2; i++)
        free(o->diag_image[i]);
    free(o->diag_expected);
    free(o->reader);
    free(o);
}

static void channel_forget(oracle_channel *c)
{
    c->allocated = false;
    c->handle = NULL;
    c->s.phase = ORACLE_SESSION_NONE;
    c->s.begin_nomem = false;
    c->s.required = 0;
    c->s.held = 0;
    c->s.last_event = ORACLE_EVENT_NONE;
    c->r.active = false;
    c->r.uncertain = false;
    c->r.accepted_len = 0;
    c->r.held = 0;
    c->held = 0;
    c->restored_unchanged = false;
    c->ever_restored = false;
    c->chunked_verified = false;
    c->sessions_since_change = 0;
    c->desc_clause = CLAUSE(LIFECYCLE_ALLOCATE_DISABLED_FRESH);
}

void oracle_reset(vmbsave_oracle *o, const vmbsave_fault_host *host, uint64_t capabilities,
                  int64_t instance_held)
{
    o->host = host;
    o->capabilities = capabilities;
    o->check_describe = (capabilities & VMBSAVE_CAP_DESCRIBE) != 0;
    o->instance_held = instance_held;
    for (unsigned i = 0; i < VMBSAVE_PROGRAM_CHANNELS; i++)
        channel_forget(&o->ch[i]);
    for (unsigned i = 0; i < VMBSAVE_PROGRAM_IMAGES; i++)
        o->img[i].full = false;
    o->violated = false;
    o->error = false;
    o->error_text[0] = '\0';
    o->v_located = false;
    o->suspect.set = false;
    o->suspect.unlocated = false;
    memset(&o->v, 0, sizeof o->v);
    o->v_image = NULL;
    o->v_image_size = 0;
    o->v_desc = NULL;
    o->v_desc_except_fresh = false;
}

/* ---- Violations -------------------------------------------------------------------------- */

void oracle_text(char *dst, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, cap, fmt, ap);
    va_end(ap);
}

vmbsave_violation *oracle_violation(vmbsave_oracle *o, const char *clause, vmbsave_check_kind kind)
{
    /* Only the first disagreement counts; a later one (made while attributing the first)
     * writes into a scratch copy. */
    if (o->violated) {
        memset(&o->v_scratch, 0, sizeof o->v_scratch);
        return &o->v_scratch;
    }
    o->violated = true;
    memset(&o->v, 0, sizeof o->v);
    oracle_text(o->v.clause, sizeof o->v.clause, "%s", clause);
    o->v.kind = kind;
    return &o->v;
}

bool oracle_harness_error(vmbsave_oracle *o, const char *fmt, ...)
{
    if (o->error)
        return false; /* the first cause counts */
    o->error = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->error_text, sizeof o->error_text, fmt, ap);
    va_end(ap);
    return false;
}

bool oracle_nomem(vmbsave_oracle *o, const char *what)
{
    return oracle_harness_error(o, "the oracle's model could not hold %s (out of memory)", what);
}

const char *oracle_status_text(NTSTATUS status, char *tmp, size_t tmp_size)
{
    const char *name = vmbsave_status_name(status);
    if (name != NULL)
        return name;
    oracle_text(tmp, tmp_size, "0x%08" PRIx32, (uint32_t)status);
    return tmp;
}

bool oracle_status_violation(vmbsave_oracle *o, const char *clause, const NTSTATUS *allowed,
                             unsigned n, NTSTATUS observed)
{
    vmbsave_violation *v = oracle_violation(o, clause, VMBSAVE_CHECK_STATUS);
    vmbsave_value_set_statuses(&v->want, allowed, n);
    vmbsave_value_set_status(&v->seen, observed);
    return false;
}

bool oracle_check_live(vmbsave_oracle *o, const oracle_obs *obs, int64_t expected_delta,
                       const char *clause, const char *what)
{
    int64_t delta = oracle_obs_live_delta(obs);
    if (delta == expected_delta)
        return true;
    vmbsave_violation *v = oracle_violation(o, clause, VMBSAVE_CHECK_LEAK);
    vmbsave_value_set_live(&v->want, (int64_t)obs->live_before + expected_delta);
    vmbsave_value_note(&v->want, " (%s)", what);
    vmbsave_value_set_live_delta(&v->seen, (int64_t)obs->live_after, delta, false);
    return false;
}

bool oracle_note_live(vmbsave_oracle *o, const oracle_obs *obs, int64_t expected_delta,
                      const char *clause, const char *what)
{
    int64_t delta = oracle_obs_live_delta(obs);
    if (delta == expected_delta || o->suspect.set)
        return true;
    vmbsave_violation *v = &o->suspect.v;
    memset(v, 0, sizeof *v);
    oracle_text(v->clause, sizeof v->clause, "%s", clause);
    v->kind = VMBSAVE_CHECK_LEAK;
    vmbsave_value_set_live(&v->want, (int64_t)obs->live_before + expected_delta);
    vmbsave_value_note(&v->want, " (%s)", what);
    vmbsave_value_set_live_delta(&v->seen, (int64_t)obs->live_after, delta, true);
    o->suspect.set = true;
    o->suspect.unlocated = true;
    return true;
}

bool oracle_no_callbacks(vmbsave_oracle *o, const oracle_obs *obs, const char *what,
                         const char *save_clause)
{
    if (obs->save_log_after != obs->save_log_before) {
        const vmbsave_packet_call *c = &o->host->save_calls[obs->save_log_before];
        vmbsave_violation *v = oracle_violation(o, save_clause, VMBSAVE_CHECK_CALLBACK);
        vmbsave_value_set_callbacks(&v->want, false, 0, 0, 0);
        vmbsave_value_note(&v->want, " during %s", what);
        vmbsave_value_set_callbacks(&v->seen, false, obs->save_log_after - obs->save_log_before,
                                    c->packet_id, c->buf_size);
        return false;
    }
    if (obs->restore_log_after != obs->restore_log_before) {
        const vmbsave_packet_call *c = &o->host->restore_calls[obs->restore_log_before];
        vmbsave_violation *v =
            oracle_violation(o, CLAUSE(PACKET_RESTORE_ONCE_AT_COMMIT), VMBSAVE_CHECK_CALLBACK);
        vmbsave_value_set_callbacks(&v->want, true, 0, 0, 0);
        vmbsave_value_note(&v->want, " during %s", what);
        vmbsave_value_set_callbacks(&v->seen, true,
                                    obs->restore_log_after - obs->restore_log_before,
                                    c->packet_id, c->buf_size);
        return false;
    }
    return true;
}

/* ---- Expected outcomes of lifecycle calls -------------------------------------------------- */

/* The failing checks of a call, in LIFECYCLE.CHECK_ORDER order. */
typedef struct expectation {
    struct {
        NTSTATUS st[2];
        unsigned n;
        const char *clause;
    } fails[8];
    unsigned nfails;
    const char *success_clause;
} expectation;

static void expect_fail(expectation *e, NTSTATUS st, const char *clause)
{
    if (e->nfails < 8) {
        e->fails[e->nfails].st[0] = st;
        e->fails[e->nfails].n = 1;
        e->fails[e->nfails].clause = clause;
        e->nfails++;
    }
}

/* A failing check that a Permits line lets answer with either of two statuses. */
static void expect_either(expectation *e, NTSTATUS a, NTSTATUS b, const char *clause)
{
    if (e->nfails < 8) {
        e->fails[e->nfails].st[0] = a;
        e->fails[e->nfails].st[1] = b;
        e->fails[e->nfails].n = 2;
        e->fails[e->nfails].clause = clause;
        e->nfails++;
    }
}

static bool in_set(NTSTATUS s, const NTSTATUS *set, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        if (set[i] == s)
            return true;
    }
    return false;
}

static bool is_open(const oracle_state *m)
{
    return m->state == VMBSAVE_STATE_OPEN_PAUSED || m->state == VMBSAVE_STATE_OPEN_RUNNING;
}

static bool session_exists(const oracle_channel *c)
{
    return c->s.phase != ORACLE_SESSION_NONE;
}

static void expect_ring_bytes(expectation *e, uint32_t bytes)
{
    if (bytes < VMBSAVE_MIN_RING_BYTES || bytes % VMBSAVE_PAGE_BYTES != 0)
        expect_fail(e, STATUS_INVALID_PARAMETER, CLAUSE(LIFECYCLE_OPEN_VALIDATION));
}

static void expect_lifecycle(const oracle_channel *c, const oracle_lifecycle_call *call,
                             expectation *e)
{
    const oracle_state *m = &c->m;
    memset(e, 0, sizeof *e);
    /* The clause of the call's success is its descriptor's (oracle/ops.h); the failing checks
     * below are behaviour, one case per operation. */
    const char *own = vmbsave_call_desc_of(vmbsave_call_op_of_step(call->op))->clause;
    e->success_clause = own != NULL ? own : CLAUSE(LIFECYCLE_CHECK_ORDER);
    bool frozen = session_exists(c);
    const char *frozen_clause = CLAUSE(LIFECYCLE_FROZEN_DURING_SAVE);
    switch (call->op) {
    case VMBSAVE_OP_OFFER:
        if (frozen)
            expect_fail(e, STATUS_INVALID_DEVICE_STATE, frozen_clause);
        if (call->offer == NULL || (call->offer->flags & ~(uint32_t)VMBSAVE_OFFER_FLAGS_VALID) != 0)
            expect_fail(e, STATUS_INVALID_PARAMETER, CLAUSE(LIFECYCLE_OFFER_VALIDATION));
        if (call->offer != NULL && (call->offer->subchannel_index > VMBSAVE_MAX_SUBCHANNEL_INDEX ||
                                    call->offer->mmio_megabytes > VMBSAVE_MAX_MMIO_MEGABYTES))
            expect_fail(e, STATUS_IMPLEMENTATION_LIMIT, CLAUSE(LIMIT_OFFER));
        if (m->state != VMBSAVE_STATE_DISABLED || m->init_over)
            expect_fail(e, STATUS_INVALID_DEVICE_STATE, CLAUSE(LIFECYCLE_OFFER_INIT_PHASE_ONLY));
        break;
    case VMBSAVE_OP_ENABLE:
        if (frozen)
            expect_fail(e, STATUS_INVALID_DEVICE_STATE, frozen_clause);
        if (m->state != VMBSAVE_STATE_DISABLED || !m->offer_set)
            expect_fail(e, STATUS_INVALID_DEVICE_STATE, CLAUSE(LIFECYCLE_ENABLE_REQUIRES_OFFER));
        break;
    case VMBSAVE_OP_DISABLE:
        if (frozen)
            expect_fail(e, STATUS_INVALID_DEVICE_STATE, frozen_clause);
        break;
    case VMBSAVE_OP_OPEN: {
        const vmbsave_open_params *p = call->open;
        if (frozen)
            expect_fail(e, STATUS_INVALID_DEVICE_STATE, frozen_clause);
        if (p == NULL || p->connection_id == 0)
            expect_fail(e, STATUS_INVALID_PARAMETER, CLAUSE(LIFECYCLE_OPEN_VALIDATION));
        if (p != NULL) {
            expect_ring_bytes(e, p->incoming_ring_bytes);
            expect_ring_bytes(e, p->outgoing_ring_bytes);
            if (p->incoming_ring_bytes > VMBSAVE_MAX_RING_BYTES ||
                p->outgoing_ring_bytes > VMBSAVE_MAX_RING_BYTES ||
                p->target_vp > VMBSAVE_MAX_TARGET_VP)
                expect_fail(e, STATUS_IMPLEMENTATION_LIMIT, CLAUSE(LIMIT_RING));
        }
        if (m->state != VMBSAVE_STATE_ENABLED)
            expect_fail(e, STATUS_INVALID_DEVICE_STATE, CLAUSE(LIFECYCLE_OPEN_FROM_ENABLED));
        if (p != NULL) {
            int g = oracle_gpadl_find(m, p->ring_gpadl_id);
            if (g < 0)
                expect_fail(e, STATUS_NOT_FOUND, CLAUSE(LIFECYCLE_OPEN_VALIDATION));
            else if (m->gpadls[g].state != 1u)
                expect_fail(e, STATUS_INVALID_DEVICE_STATE, CLAUSE(LIFECYCLE_OPEN_VALIDATION));
        }
        break;
    }
    case VMBSAVE_OP_CLOSE:
        if (frozen)
            expect_fail(e, STATUS_INVALID_DEVICE_STATE, frozen_clause);
        if (!is_open(m))
            expect_fail(e, STATUS_INVALID_DEVICE_STATE, CLAUSE(LIFECYCLE_CLOSE_DROPS_TRAFFIC));
        break;
    case VMBSAVE_OP_START:
    case VMBSAVE_OP_PAUSE:
        if (frozen)
            expect_fail(e, STATUS_INVALID_DEVICE_STATE, frozen_clause);
        if (!is_open(m))
            expect_fail(e, STATUS_INVALID_DEVICE_STATE, CLAUSE(LIFECYCLE_START_PAUSE_TRANSITIONS));
        break;
    case VMBSAVE_OP_GPADL_CREATE: {
        if (frozen)
            expect_fail(e, STATUS_INVALID_DEVICE_STATE, frozen_clause);
        /* Only the first VMBSAVE_MAX_GPADL_PFNS elements may be read before the count is checked
         * (the runner's array holds one more, whatever the count says). */
        bool bad_pfn = false;
        if (call->pfns != NULL) {
            uint32_t n = call->count < VMBSAVE_MAX_GPADL_PFNS ? call->count : VMBSAVE_MAX_GPADL_PFNS;
            for (uint32_t i = 0; i < n; i++)
                bad_pfn = bad_pfn || call->pfns[i] > VMBSAVE_MAX_PFN;
        }
        if (call->id == 0 || call->pfns == NULL || call->count == 0)
            expect_fail(e, STATUS_INVALID_PARAMETER, CLAUSE(LIFECYCLE_GPADL_CREATE));
        else if (bad_pfn && call->count > VMBSAVE_MAX_GPADL_PFNS)
            /* Count and elements in either order (LIFECYCLE.GPADL.CREATE's Permits). */
            expect_either(e, STATUS_INVALID_PARAMETER, STATUS_IMPLEMENTATION_LIMIT,
                          CLAUSE(LIFECYCLE_GPADL_CREATE));
        else if (bad_pfn)
            expect_fail(e, STATUS_INVALID_PARAMETER, CLAUSE(LIMIT_GPADL));
        if (call->count > VMBSAVE_MAX_GPADL_PFNS)
            expect_fail(e, STATUS_IMPLEMENTATION_LIMIT, CLAUSE(LIMIT_GPADL));
        if (m->state == VMBSAVE_STATE_DISABLED)
            expect_fail(e, STATUS_INVALID_DEVICE_STATE, CLAUSE(LIFECYCLE_GPADL_CREATE));
        if (oracle_gpadl_find(m, call->id) >= 0)
            expect_fail(e, STATUS_DUPLICATE_OBJECTID, CLAUSE(LIFECYCLE_GPADL_CREATE));
        if (m->gpadl_count >= VMBSAVE_MAX_GPADLS)
            expect_fail(e, STATUS_IMPLEMENTATION_LIMIT, CLAUSE(LIMIT_GPADL));
        break;
    }
    case VMBSAVE_OP_GPADL_TEARDOWN_BEGIN:
    case VMBSAVE_OP_GPADL_TEARDOWN_COMPLETE: {
        if (frozen)
            expect_fail(e, STATUS_INVALID_DEVICE_STATE, frozen_clause);
        /* The state check comes before the id look-up (LIFECYCLE.CHECK_ORDER). */
        if (m->state == VMBSAVE_STATE_DISABLED) {
            expect_fail(e, STATUS_INVALID_DEVICE_STATE, CLAUSE(LIFECYCLE_GPADL_TEARDOWN));
            break;
        }
        int g = oracle_gpadl_find(m, call->id);
        if (g < 0) {
            expect_fail(e, STATUS_NOT_FOUND, CLAUSE(LIFECYCLE_GPADL_TEARDOWN));
            break;
        }
        if (call->op == VMBSAVE_OP_GPADL_TEARDOWN_BEGIN) {
            bool used =
                m->gpadls[g].state != 1u || (is_open(m) && m->open.ring_gpadl_id == call->id);
            for (uint32_t i = 0; i < m->packet_count && !used; i++)
                used = m->packets[i].gpadl == call->id;
            if (used)
                expect_fail(e, STATUS_INVALID_DEVICE_STATE, CLAUSE(LIFECYCLE_GPADL_TEARDOWN));
        } else if (m->gpadls[g].state != 2u) {
            expect_fail(e, STATUS_INVALID_DEVICE_STATE, CLAUSE(LIFECYCLE_GPADL_TEARDOWN));
        }
        break;
    }
    case VMBSAVE_OP_PACKET_SEND:
        if (frozen)
            expect_fail(e, STATUS_INVALID_DEVICE_STATE, frozen_clause);
        if (call->id == 0 || (call->null_data && call->count != 0))
            expect_fail(e, STATUS_INVALID_PARAMETER, CLAUSE(LIFECYCLE_PACKET_SEND));
        if (call->count > VMBSAVE_MAX_PACKET_PAYLOAD)
            expect_fail(e, STATUS_IMPLEMENTATION_LIMIT, CLAUSE(LIMIT_PACKET));
        if (m->state != VMBSAVE_STATE_OPEN_RUNNING)
            expect_fail(e, STATUS_INVALID_DEVICE_STATE, CLAUSE(LIFECYCLE_TRAFFIC_REQUIRES_RUNNING));
        if (call->gpadl != 0) {
            int g = oracle_gpadl_find(m, call->gpadl);
            if (g < 0)
                expect_fail(e, STATUS_NOT_FOUND, CLAUSE(LIFECYCLE_PACKET_SEND));
            else if (m->gpadls[g].state != 1u)
                expect_fail(e, STATUS_INVALID_DEVICE_STATE, CLAUSE(LIFECYCLE_PACKET_SEND));
        }
        if (oracle_packet_find(m, call->id) >= 0)
            expect_fail(e, STATUS_DUPLICATE_OBJECTID, CLAUSE(LIFECYCLE_PACKET_SEND));
        if (m->packet_count >= VMBSAVE_MAX_PACKETS || m->next_seq == UINT64_MAX)
            expect_fail(e, STATUS_IMPLEMENTATION_LIMIT, CLAUSE(LIMIT_PACKET));
        break;
    case VMBSAVE_OP_PACKET_COMPLETE:
        if (frozen)
            expect_fail(e, STATUS_INVALID_DEVICE_STATE, frozen_clause);
        if (m->state != VMBSAVE_STATE_OPEN_RUNNING)
            expect_fail(e, STATUS_INVALID_DEVICE_STATE, CLAUSE(LIFECYCLE_TRAFFIC_REQUIRES_RUNNING));
        if (oracle_packet_find(m, call->id) < 0)
            expect_fail(e, STATUS_NOT_FOUND, CLAUSE(LIFECYCLE_PACKET_COMPLETE));
        break;
    case VMBSAVE_OP_RING_WRITE:
    case VMBSAVE_OP_RING_READ:
        if (frozen)
            expect_fail(e, STATUS_INVALID_DEVICE_STATE, frozen_clause);
        if (call->dir > 1u || (call->null_data && call->count != 0))
            expect_fail(e, STATUS_INVALID_PARAMETER, CLAUSE(LIFECYCLE_RING_FIFO));
        if (m->state != VMBSAVE_STATE_OPEN_RUNNING)
            expect_fail(e, STATUS_INVALID_DEVICE_STATE, CLAUSE(LIFECYCLE_TRAFFIC_REQUIRES_RUNNING));
        else if (call->op == VMBSAVE_OP_RING_WRITE && call->dir <= 1u) {
            uint32_t size =
                call->dir == 0 ? m->open.incoming_ring_bytes : m->open.outgoing_ring_bytes;
            if (call->count > size - m->rings[call->dir].len)
                expect_fail(e, STATUS_INVALID_BUFFER_SIZE, CLAUSE(LIFECYCLE_RING_FIFO));
        }
        break;
    default: break;
    }
}

/* Any change to the channel's state ends "restored and unchanged" and the image facts learnt. */
static void state_changed(oracle_channel *c)
{
    c->restored_unchanged = false;
    c->chunked_verified = false;
    c->sessions_since_change = 0;
}

static void drop_traffic(oracle_state *m)
{
    m->packet_count = 0;
    for (unsigned d = 0; d < 2; d++) {
        m->rings[d].head = 0;
        m->rings[d].len = 0;
        oracle_ring_rehash(&m->rings[d]);
    }
}

/* False only if the model's storage could not grow (oracle_nomem). */
static bool apply_lifecycle(vmbsave_oracle *o, oracle_channel *c, const oracle_lifecycle_call *call)
{
    oracle_state *m = &c->m;
    switch (call->op) {
    case VMBSAVE_OP_OFFER:
        m->offer = *call->offer;
        m->offer_set = true;
        m->fresh = false;
        /* RESTORE.REQUIRES_FRESH: an offer abandons a restore in progress. */
        c->r.active = false;
        c->r.uncertain = false;
        c->r.accepted_len = 0;
        c->r.held = 0;
        break;
    case VMBSAVE_OP_ENABLE:
        m->state = VMBSAVE_STATE_ENABLED;
        m->fresh = false;
        m->init_over = true;
        break;
    case VMBSAVE_OP_DISABLE:
        if (m->state == VMBSAVE_STATE_DISABLED)
            return true; /* a no-op */
        drop_traffic(m);
        m->gpadl_count = 0;
        memset(&m->open, 0, sizeof m->open);
        m->state = VMBSAVE_STATE_DISABLED;
        break;
    case VMBSAVE_OP_OPEN:
        m->open = *call->open;
        m->state = VMBSAVE_STATE_OPEN_PAUSED;
        break;
    case VMBSAVE_OP_CLOSE:
        drop_traffic(m);
        memset(&m->open, 0, sizeof m->open);
        m->state = VMBSAVE_STATE_ENABLED;
        break;
    case VMBSAVE_OP_START:
        if (m->state == VMBSAVE_STATE_OPEN_RUNNING)
            return true;
        m->state = VMBSAVE_STATE_OPEN_RUNNING;
        break;
    case VMBSAVE_OP_PAUSE:
        if (m->state == VMBSAVE_STATE_OPEN_PAUSED)
            return true;
        m->state = VMBSAVE_STATE_OPEN_PAUSED;
        break;
    case VMBSAVE_OP_GPADL_CREATE: {
        uint32_t at = 0;
        while (at < m->gpadl_count && m->gpadls[at].id < call->id)
            at++;
        memmove(&m->gpadls[at + 1], &m->gpadls[at], (m->gpadl_count - at) * sizeof m->gpadls[0]);
        oracle_gpadl *g = &m->gpadls[at];
        memset(g, 0, sizeof *g);
        g->id = (uint32_t)call->id; /* a GPADL call's id: below 2^32 */
        g->state = 1u;
        g->pfn_count = call->count;
        g->mode = call->gpadl_mode;
        g->salt = call->salt;
        const uint64_t *pfns = oracle_gpadl_pfns(o, m, g);
        uint8_t le[8];
        /* pfn_hash: XXH3 of the pfns as u64 LE (SPEC.md section 14), streamed 8 bytes at a
         * time would need XXH3 state; the pfns are at most 32 KiB, so hash a copy. */
        uint8_t *buf = o->pfn_bytes;
        for (uint32_t i = 0; i < g->pfn_count; i++) {
            vmbsave_put_u64(le, pfns[i]);
            memcpy(buf + 8u * i, le, 8);
        }
        g->pfn_hash = vmbsave_hash(buf, (size_t)g->pfn_count * 8u, 0);
        m->gpadl_count++;
        break;
    }
    case VMBSAVE_OP_GPADL_TEARDOWN_BEGIN: {
        int g = oracle_gpadl_find(m, call->id);
        m->gpadls[g].state = 2u;
        break;
    }
    case VMBSAVE_OP_GPADL_TEARDOWN_COMPLETE: {
        uint32_t g = (uint32_t)oracle_gpadl_find(m, call->id);
        memmove(&m->gpadls[g], &m->gpadls[g + 1], (m->gpadl_count - g - 1u) * sizeof m->gpadls[0]);
        m->gpadl_count--;
        break;
    }
    case VMBSAVE_OP_PACKET_SEND: {
        oracle_packet *p = &m->packets[m->packet_count++];
        memset(p, 0, sizeof *p); /* padding too: the description memo compares bytes */
        p->id = call->id;
        p->seq = m->next_seq++;
        p->gpadl = call->gpadl;
        p->bytes = call->count;
        p->seed = call->seed;
        p->in_bulk = false;
        p->payload_hash = vmbsave_hash(oracle_packet_payload(o, m, p), p->bytes, 0);
        break;
    }
    case VMBSAVE_OP_PACKET_COMPLETE: {
        uint32_t i = (uint32_t)oracle_packet_find(m, call->id);
        memmove(&m->packets[i], &m->packets[i + 1],
                (m->packet_count - i - 1u) * sizeof m->packets[0]);
        m->packet_count--;
        break;
    }
    case VMBSAVE_OP_RING_WRITE: {
        oracle_ring *r = &m->rings[call->dir];
        if (call->count == 0)
            return true;
        /* The write was allowed, so len + count is within the ring's size, at most
         * ORACLE_RING_CAP (LIMIT.RING). */
        if (!oracle_ring_reserve(r, r->len + call->count))
            return oracle_nomem(o, "a ring's pending bytes");
        memcpy(r->bytes + r->head + r->len, call->data, call->count);
        r->len += call->count;
        oracle_ring_rehash(r);
        break;
    }
    case VMBSAVE_OP_RING_READ: {
        oracle_ring *r = &m->rings[call->dir];
        uint32_t n = call->count < r->len ? call->count : r->len;
        if (n == 0)
            return true;
        r->head += n;
        r->len -= n;
        if (r->len == 0)
            r->head = 0;
        oracle_ring_rehash(r);
        break;
    }
    default: return true;
    }
    state_changed(c);
    return true;
}

/* ring_read's outputs on success: the count, the bytes, and nothing written elsewhere. */
static bool check_ring_read(vmbsave_oracle *o, const oracle_channel *c,
                            const oracle_lifecycle_call *call)
{
    const oracle_ring *r = &c->m.rings[call->dir];
    uint32_t n = call->count < r->len ? call->count : r->len;
    if (call->bytes_read != n) {
        vmbsave_violation *v = oracle_violation(o, CLAUSE(LIFECYCLE_RING_FIFO), VMBSAVE_CHECK_COUNTS);
        vmbsave_value_set_filled(&v->want, n, n);
        vmbsave_value_set_filled(&v->seen, call->bytes_read, call->bytes_read);
        return false;
    }
    const uint8_t *pending = oracle_ring_data(r);
    if (n != 0 && memcmp(call->read_data, pending, n) != 0) {
        uint32_t at = 0;
        while (call->read_data[at] == pending[at])
            at++;
        vmbsave_violation *v = oracle_violation(o, CLAUSE(LIFECYCLE_RING_FIFO), VMBSAVE_CHECK_COUNTS);
        vmbsave_value_set_byte_value(&v->want, at, VMBSAVE_BYTE_IN_DATA, pending[at]);
        vmbsave_value_note(&v->want, " (of the %" PRIu32 " oldest pending bytes)", n);
        vmbsave_value_set_byte_value(&v->seen, at, VMBSAVE_BYTE_IN_DATA, call->read_data[at]);
        return false;
    }
    /* Outside [0, n): the guard before, the rest of the buffer and the guard after. */
    const uint8_t *before = call->read_buf - call->guard;
    const uint8_t *pattern_before = call->read_pattern - call->guard;
    size_t tail = (size_t)call->count - n + call->guard;
    if (memcmp(before, pattern_before, call->guard) != 0 ||
        memcmp(call->read_buf + n, call->read_pattern + n, tail) != 0) {
        /* The first byte changed, counted from the buffer's start (negative: the guard). */
        int64_t where = 0;
        for (uint32_t i = 0; i < call->guard; i++) {
            if (before[i] != pattern_before[i]) {
                where = (int64_t)i - call->guard;
                break;
            }
        }
        if (where == 0) {
            for (size_t i = 0; i < tail; i++) {
                if (call->read_buf[n + i] != call->read_pattern[n + i]) {
                    where = (int64_t)n + (int64_t)i;
                    break;
                }
            }
        }
        vmbsave_violation *v = oracle_violation(o, CLAUSE(LIFECYCLE_RING_FIFO), VMBSAVE_CHECK_GUARD);
        vmbsave_value_set_extent(&v->want, n, call->count);
        vmbsave_value_set_byte(&v->seen, where, VMBSAVE_BYTE_IN_BUFFER);
        vmbsave_value_note(&v->seen, " changed");
        return false;
    }
    return true;
}

bool oracle_lifecycle(vmbsave_oracle *o, uint32_t slot, const oracle_lifecycle_call *call,
                      NTSTATUS status, const oracle_obs *obs)
{
    oracle_channel *c = &o->ch[slot];
    const char *name = vmbsave_op_name(call->op);
    if (!oracle_no_callbacks(o, obs, name, CLAUSE(PACKET_SAVE_SIZE_QUERY_FIRST)))
        return false;
    expectation e;
    expect_lifecycle(c, call, &e);
    bool faulted = oracle_obs_faulted(obs);
    int64_t delta = oracle_obs_live_delta(obs);
    c->held += delta;

    if (e.nfails > 0) {
        if (!in_set(status, e.fails[0].st, e.fails[0].n)) {
            for (unsigned i = 1; i < e.nfails; i++) {
                if (in_set(status, e.fails[i].st, e.fails[i].n)) {
                    oracle_status_violation(o, CLAUSE(LIFECYCLE_CHECK_ORDER), e.fails[0].st,
                                            e.fails[0].n, status);
                    vmbsave_value_note(&o->v.seen, " (a later check, %s, answered first)",
                                       e.fails[i].clause);
                    return false;
                }
            }
            if (status == STATUS_INSUFFICIENT_RESOURCES && faulted)
                return oracle_status_violation(o, CLAUSE(LIFECYCLE_CHECK_ORDER), e.fails[0].st, e.fails[0].n,
                                        status);
            return oracle_status_violation(o, e.fails[0].clause, e.fails[0].st, e.fails[0].n, status);
        }
        c->desc_clause =
            session_exists(c) ? CLAUSE(LIFECYCLE_FROZEN_DURING_SAVE) : CLAUSE(LIFECYCLE_FAILED_OPS_NO_CHANGE);
        if (faulted)
            return oracle_note_live(o, obs, 0, CLAUSE(RESOURCES_ALLOC_FAILURE_STATUS),
                                    "a failed call keeps nothing");
        return true;
    }
    if (faulted) {
        if (status != STATUS_INSUFFICIENT_RESOURCES) {
            NTSTATUS ir = STATUS_INSUFFICIENT_RESOURCES;
            oracle_status_violation(o, CLAUSE(RESOURCES_ALLOC_FAILURE_STATUS), &ir, 1, status);
            vmbsave_value_note(&o->v.want, " (%" PRIu64 " allocation(s) failed during the call)",
                               obs->faults_after - obs->faults_before);
            return false;
        }
        c->desc_clause = CLAUSE(LIFECYCLE_FAILED_OPS_NO_CHANGE);
        return oracle_note_live(o, obs, 0, CLAUSE(RESOURCES_ALLOC_FAILURE_STATUS),
                                "a failed call keeps nothing");
    }
    if (status != STATUS_SUCCESS) {
        NTSTATUS ok = STATUS_SUCCESS;
        return oracle_status_violation(o, e.success_clause, &ok, 1, status);
    }
    if (call->op == VMBSAVE_OP_RING_READ && !check_ring_read(o, c, call))
        return false;
    if (call->op == VMBSAVE_OP_OFFER && c->r.active) {
        /* The staged restore is freed with the offer (RESTORE.REQUIRES_FRESH); the offer may
         * allocate for itself, so a difference is only a suspect. */
        oracle_note_live(o, obs, -c->r.held, CLAUSE(RESTORE_REQUIRES_FRESH),
                         "the abandoned restore's staged state freed");
    }
    if (!apply_lifecycle(o, c, call))
        return false;
    c->desc_clause = e.success_clause;
    return true;
}

/* ---- Allocation and clean-up ------------------------------------------------------------- */

bool oracle_allocate(vmbsave_oracle *o, uint32_t slot, NTSTATUS status, vmbsave_channel *handle,
                     const oracle_obs *obs)
{
    oracle_channel *c = &o->ch[slot];
    if (!oracle_no_callbacks(o, obs, "channel_allocate", CLAUSE(PACKET_SAVE_SIZE_QUERY_FIRST)))
        return false;
    bool faulted = oracle_obs_faulted(obs);
    if (status == STATUS_SUCCESS) {
        if (faulted) {
            NTSTATUS ir = STATUS_INSUFFICIENT_RESOURCES;
            return oracle_status_violation(o, CLAUSE(RESOURCES_ALLOC_FAILURE_STATUS), &ir, 1, status);
        }
        if (handle == NULL) {
            vmbsave_violation *v =
                oracle_violation(o, CLAUSE(LIFECYCLE_ALLOCATE_DISABLED_FRESH), VMBSAVE_CHECK_STATUS);
            vmbsave_value_set_status(&v->want, STATUS_SUCCESS);
            vmbsave_value_note(&v->want, " and a channel handle");
            vmbsave_value_set_status(&v->seen, STATUS_SUCCESS);
            vmbsave_value_note(&v->seen, " and a NULL channel");
            return false;
        }
        channel_forget(c);
        c->allocated = true;
        c->handle = handle;
        oracle_state_init(&c->m);
        c->held = oracle_obs_live_delta(obs);
        c->desc_clause = CLAUSE(LIFECYCLE_ALLOCATE_DISABLED_FRESH);
        return true;
    }
    /* Only an injected fault may make allocation fail (the runner reports other failures as a
     * harness error before calling this). */
    if (status != STATUS_INSUFFICIENT_RESOURCES) {
        NTSTATUS ir = STATUS_INSUFFICIENT_RESOURCES;
        return oracle_status_violation(o, CLAUSE(RESOURCES_ALLOC_FAILURE_STATUS), &ir, 1, status);
    }
    return oracle_note_live(o, obs, 0, CLAUSE(RESOURCES_ALLOC_FAILURE_STATUS),
                            "a failed channel_allocate keeps nothing");
}

bool oracle_cleanup(vmbsave_oracle *o, uint32_t slot, NTSTATUS status, const oracle_obs *obs)
{
    oracle_channel *c = &o->ch[slot];
    if (!oracle_no_callbacks(o, obs, "channel_cleanup", CLAUSE(PACKET_SAVE_SIZE_QUERY_FIRST)))
        return false;
    bool refused = session_exists(c) || c->m.state != VMBSAVE_STATE_DISABLED;
    bool faulted = oracle_obs_faulted(obs);
    int64_t delta = oracle_obs_live_delta(obs);
    if (refused) {
        NTSTATUS ids = STATUS_INVALID_DEVICE_STATE;
        if (status != ids)
            return oracle_status_violation(o, CLAUSE(LIFECYCLE_CLEANUP_REQUIRES_DISABLED), &ids, 1, status);
        c->held += delta;
        c->desc_clause = CLAUSE(LIFECYCLE_CLEANUP_REQUIRES_DISABLED);
        return oracle_note_live(o, obs, 0, CLAUSE(LIFECYCLE_CLEANUP_REQUIRES_DISABLED),
                                "a refused clean-up frees nothing");
    }
    if (faulted && status == STATUS_INSUFFICIENT_RESOURCES) {
        c->held += delta;
        c->desc_clause = CLAUSE(LIFECYCLE_FAILED_OPS_NO_CHANGE);
        return oracle_note_live(o, obs, 0, CLAUSE(RESOURCES_ALLOC_FAILURE_STATUS),
                                "a failed call keeps nothing");
    }
    if (status != STATUS_SUCCESS) {
        NTSTATUS ok = STATUS_SUCCESS;
        return oracle_status_violation(o, CLAUSE(LIFECYCLE_CLEANUP_REQUIRES_DISABLED), &ok, 1, status);
    }
    if (faulted) {
        NTSTATUS ir = STATUS_INSUFFICIENT_RESOURCES;
        return oracle_status_violation(o, CLAUSE(RESOURCES_ALLOC_FAILURE_STATUS), &ir, 1, status);
    }
    const char *clause = c->r.active ? CLAUSE(RESTORE_CLEANUP_MID_RESTORE) : CLAUSE(RESOURCES_NO_LEAK);
    oracle_note_live(o, obs, -c->held, clause, "everything the channel held freed");
    channel_forget(c);
    return true;
}

bool oracle_released(vmbsave_oracle *o, uint64_t live_before, uint64_t live_after)
{
    if (live_after == 0)
        return true;
    if (o->suspect.set && !o->violated) {
        /* The first call that did not give back what it should have is the likely leak. */
        o->violated = true;
        o->v = o->suspect.v;
        o->v_located = true;
        return false;
    }
    const char *clause =
        (int64_t)live_before == o->instance_held ? CLAUSE(ABI_TABLE_RELEASE) : CLAUSE(RESOURCES_NO_LEAK);
    vmbsave_violation *v = oracle_violation(o, clause, VMBSAVE_CHECK_LEAK);
    vmbsave_value_set_live(&v->want, 0);
    vmbsave_value_note(&v->want, " (every channel cleaned up and the interface released)");
    vmbsave_value_set_live(&v->seen, (int64_t)live_after);
    return false;
}

/* ---- Descriptions ------------------------------------------------------------------------ */

size_t oracle_expected_description(vmbsave_oracle *o, uint32_t slot)
{
    /* The text is a function of the model's fields before bulk_len, of the GPADLs and packets
     * in use and of each ring's length and hash (oracle_describe.c); equal bytes there give the
     * same text. */
    const oracle_state *m = &o->ch[slot].m;
    size_t gpadl_bytes = (size_t)m->gpadl_count * sizeof m->gpadls[0];
    size_t packet_bytes = (size_t)m->packet_count * sizeof m->packets[0];
    bool same = o->desc_memo.valid && memcmp(o->desc_memo.head, m, sizeof o->desc_memo.head) == 0 &&
                memcmp(o->desc_memo.gpadls, m->gpadls, gpadl_bytes) == 0 &&
                memcmp(o->desc_memo.packets, m->packets, packet_bytes) == 0;
    for (uint32_t d = 0; d < 2u && same; d++)
        same = o->desc_memo.ring_len[d] == m->rings[d].len &&
               o->desc_memo.ring_hash[d] == m->rings[d].hash;
    if (same)
        return o->desc_memo.len;
    o->desc_memo.len = oracle_describe_text(o, m, o->desc_expected, sizeof o->desc_expected);
    memcpy(o->desc_memo.head, m, sizeof o->desc_memo.head);
    memcpy(o->desc_memo.gpadls, m->gpadls, gpadl_bytes);
    memcpy(o->desc_memo.packets, m->packets, packet_bytes);
    for (uint32_t d = 0; d < 2u; d++) {
        o->desc_memo.ring_len[d] = m->rings[d].len;
        o->desc_memo.ring_hash[d] = m->rings[d].hash;
    }
    o->desc_memo.valid = true;
    return o->desc_memo.len;
}

bool oracle_description(vmbsave_oracle *o, uint32_t slot, NTSTATUS status, uint32_t required,
                        const char *textp, uint64_t alloc_calls_during)
{
    if (alloc_calls_during != 0) {
        vmbsave_violation *v = oracle_violation(o, CLAUSE(ABI_DESCRIBE_NO_ALLOC), VMBSAVE_CHECK_LEAK);
        vmbsave_value_set_number(&v->want, 0);
        vmbsave_value_note(&v->want, " allocation calls in describe");
        vmbsave_value_set_number(&v->seen, alloc_calls_during);
        vmbsave_value_note(&v->seen, " allocation call(s) in describe");
        return false;
    }
    if (status != STATUS_SUCCESS) {
        NTSTATUS ok = STATUS_SUCCESS;
        oracle_status_violation(
            o, required > ORACLE_DESC_CAP ? CLAUSE(ABI_DESCRIBE_FORMAT) : CLAUSE(ABI_DESCRIBE_SIZE_QUERY), &ok,
            1, status);
        vmbsave_value_note(&o->v.seen, " with a %u-byte buffer (bytes_required %" PRIu32 ")",
                           ORACLE_DESC_CAP, required);
        return false;
    }
    size_t len = strlen(textp);
    if (required != len + 1u) {
        vmbsave_violation *v = oracle_violation(o, CLAUSE(ABI_DESCRIBE_SIZE_QUERY), VMBSAVE_CHECK_COUNTS);
        vmbsave_value_set_required(&v->want, (uint32_t)(len + 1u), (uint32_t)(len + 1u));
        vmbsave_value_set_required(&v->seen, required, required);
        return false;
    }
    size_t n = oracle_expected_description(o, slot);
    if (n != 0 && n == len && memcmp(o->desc_expected, textp, n) == 0)
        return true;
    char why[200];
    const char *clause = o->ch[slot].desc_clause;
    if (!oracle_describe_wellformed(textp, why, sizeof why))
        clause = CLAUSE(ABI_DESCRIBE_FORMAT);
    vmbsave_violation *v = oracle_violation(o, clause, VMBSAVE_CHECK_DESCRIBE);
    char la[120], lb[120];
    uint32_t line =
        oracle_describe_diff(o->desc_expected, textp, false, la, sizeof la, lb, sizeof lb);
    uint32_t at = 0; /* the first byte that differs */
    while (at < n && at < len && o->desc_expected[at] == textp[at])
        at++;
    vmbsave_value_set_line(&v->want, line, at, (uint32_t)n);
    vmbsave_value_note(&v->want, ": %s", la);
    vmbsave_value_set_line(&v->seen, line, at, (uint32_t)len);
    vmbsave_value_note(&v->seen, ": %s", lb);
    if (strcmp(clause, CLAUSE(ABI_DESCRIBE_FORMAT)) == 0)
        vmbsave_value_note(&v->seen, " (%s)", why);
    o->v_desc = o->desc_expected;
    o->v_desc_except_fresh = false;
    return false;
}

bool oracle_describe_size(vmbsave_oracle *o, uint32_t slot, NTSTATUS query_status,
                          uint32_t query_required, NTSTATUS short_status, uint32_t short_required,
                          uint32_t short_changed, uint32_t full_required)
{
    (void)slot;
    NTSTATUS too_small = STATUS_BUFFER_TOO_SMALL;
    if (query_status != too_small || short_status != too_small) {
        oracle_status_violation(o, CLAUSE(ABI_DESCRIBE_SIZE_QUERY), &too_small, 1,
                         query_status != too_small ? query_status : short_status);
        vmbsave_value_note(&o->v.seen, " for %s",
                           query_status != too_small ? "describe(NULL, 0)"
                                                     : "a buffer one byte short");
        return false;
    }
    if (query_required != full_required || short_required != full_required) {
        vmbsave_violation *v = oracle_violation(o, CLAUSE(ABI_DESCRIBE_SIZE_QUERY), VMBSAVE_CHECK_COUNTS);
        uint32_t seen = query_required != full_required ? query_required : short_required;
        vmbsave_value_set_required(&v->want, full_required, full_required);
        vmbsave_value_set_required(&v->seen, seen, seen);
        vmbsave_value_note(&v->seen, " (%s)",
                           query_required != full_required ? "describe(NULL, 0)"
                                                           : "a buffer one byte short");
        return false;
    }
    if (short_changed != UINT32_MAX) {
        vmbsave_violation *v = oracle_violation(o, CLAUSE(ABI_DESCRIBE_SIZE_QUERY), VMBSAVE_CHECK_GUARD);
        uint32_t short_size = full_required > 1u ? full_required - 1u : 1u;
        vmbsave_value_set_extent(&v->want, 0, short_size);
        vmbsave_value_note(&v->want, " (one byte short)");
        vmbsave_value_set_byte(&v->seen, short_changed, VMBSAVE_BYTE_IN_BUFFER);
        vmbsave_value_note(&v->seen, " changed");
        return false;
    }
    return true;
}
