/* FORMAT.md's reader for the oracle (harness/oracle/oracle.h), written from that document alone: reads
 * a whole image chunk by chunk in the order of "How a reader validates each chunk" and says
 * where the content checks (steps 11 and 12) first fail and with which status, or that the image
 * is valid, and then decodes the state a restore of it commits to. The oracle runs it on images a
 * caller preloads (runner option preload_image): bytes no CAPTURE wrote, which may break any
 * rule of the format. Steps 1-10 are checked only to know how far to read: the restore's own
 * prediction (oracle_restore.c) finds those in the bytes of each call.
 *
 * Where FORMAT.md leaves the order open, the verdict allows every answer:
 *  - a chunk that breaks a limit of step 11 (IMPLEMENTATION_LIMIT, "checked before anything is
 *    allocated") and another of its rules (FILE_CORRUPT_ERROR) may be refused with either; a
 *    record count above its limit is IMPLEMENTATION_LIMIT alone (RESTORE.LIMITS.BEFORE_ALLOC);
 *  - a content check of a chunk before END may be made when the chunk arrives or later, up to
 *    END (RESTORE.CORRUPT.WHEN; for a RING piece that can no longer add up, END's totals give
 *    the same status): the verdict says so (deferrable) and oracle_restore.c allows both;
 *  - a HEADER whose state is no known value may be read either way, so its open-dependent
 *    checks count both ways;
 *  - a reference to a GPADL id held twice, once being torn down, may be NOT_FOUND or, the ids
 *    being duplicates, DUPLICATE_OBJECTID.
 * Every FILE_CORRUPT_ERROR names the clause RESTORE.CORRUPT.* of the one condition it found.
 *
 * Only the decoded state's storage is allocated (oracle_state.c, within the contract's limits);
 * every loop is bounded by the image's size or a FORMAT.md limit. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oracle/oracle.h"

#define GPADL_STATE_CREATED 1u
#define GPADL_STATE_TEARING_DOWN 2u

typedef struct reader {
    /* The HEADER's declarations. */
    uint64_t image_id;
    uint32_t state;
    bool open;
    uint32_t ring_gpadl;
    uint32_t ring_bytes[2];
    uint64_t next_seq;
    uint32_t declared_gpadls, declared_packets, declared_pending[2];
    /* What was read. */
    uint32_t seq; /* the sequence the next chunk must carry */
    unsigned rank;
    uint64_t digest;
    uint32_t gpadls, packets, pending[2];
    uint32_t gpadl_id[VMBSAVE_MAX_GPADLS];
    uint32_t gpadl_state[VMBSAVE_MAX_GPADLS];
    uint64_t packet_id[VMBSAVE_MAX_PACKETS];
    uint32_t packet_gpadl[VMBSAVE_MAX_PACKETS];
    uint64_t last_packet_seq;
    uint64_t sorted[VMBSAVE_MAX_PACKETS]; /* scratch for the duplicate check */
    /* The failure of the chunk being read. */
    oracle_read_verdict *v;
} reader;

struct oracle_reader {
    reader r;
};

/* 100 KiB: with the oracle rather than on the stack. */
struct oracle_reader *oracle_reader_new(void)
{
    return calloc(1, sizeof(struct oracle_reader));
}

static void fail(reader *r, NTSTATUS status, const char *clause, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Adds `status` to the statuses the chunk may be refused with; the first names the clause. */
static void fail(reader *r, NTSTATUS status, const char *clause, const char *fmt, ...)
{
    oracle_read_verdict *v = r->v;
    for (uint32_t i = 0; i < v->statuses; i++) {
        if (v->status[i] == status)
            return;
    }
    if (v->statuses == 2u)
        return;
    if (v->statuses == 0) {
        v->clause = clause;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(v->why, sizeof v->why, fmt, ap);
        va_end(ap);
    }
    v->status[v->statuses++] = status;
}

/* FILE_CORRUPT_ERROR under RESTORE.CORRUPT.<rule>. */
#define CORRUPT(r, rule, ...) fail(r, STATUS_FILE_CORRUPT_ERROR, CLAUSE(RESTORE_CORRUPT_##rule), __VA_ARGS__)
#define LIMIT(r, ...) fail(r, STATUS_IMPLEMENTATION_LIMIT, CLAUSE(RESTORE_LIMITS_BEFORE_ALLOC), __VA_ARGS__)

/* ---- HEADER ---------------------------------------------------------------------------------- */

static void ring_size_checks(reader *r, unsigned d, uint32_t bytes)
{
    if (bytes < VMBSAVE_MIN_RING_BYTES || bytes % VMBSAVE_PAGE_BYTES != 0)
        CORRUPT(r, OPEN_RANGE, "ring %u of %" PRIu32 " bytes: not a page multiple of at least 8 KiB", d, bytes);
    if (bytes > VMBSAVE_MAX_RING_BYTES)
        LIMIT(r, "ring %u of %" PRIu32 " bytes, above VMBSAVE_MAX_RING_BYTES", d, bytes);
}

static void take_header(reader *r, const uint8_t *p, uint32_t n, uint64_t image_id)
{
    if (n < VMBSAVE_HEADER_PAYLOAD_BYTES) {
        CORRUPT(r, SHORT_PAYLOAD, "a HEADER payload of %" PRIu32 " bytes, below 1.0's 208", n);
        return;
    }
    if (n > VMBSAVE_HEADER_PAYLOAD_BYTES)
        r->v->newer_minor = true;
    uint32_t state = vmbsave_get_u32(p + VMBSAVE_HDR_STATE);
    bool known = state == VMBSAVE_STATE_ENABLED || state == VMBSAVE_STATE_OPEN_PAUSED;
    if (!known)
        CORRUPT(r, ENUM, "HEADER state %" PRIu32 ", not ENABLED or OPEN_PAUSED", state);
    uint32_t flags = vmbsave_get_u32(p + VMBSAVE_HDR_OFFER_FLAGS);
    if ((flags & ~(uint32_t)VMBSAVE_OFFER_FLAGS_VALID) != 0)
        CORRUPT(r, OFFER_RANGE, "offer flags 0x%" PRIx32 " outside VMBSAVE_OFFER_FLAGS_VALID", flags);
    if (vmbsave_get_u16(p + VMBSAVE_HDR_SUBCHANNEL) > VMBSAVE_MAX_SUBCHANNEL_INDEX)
        CORRUPT(r, OFFER_RANGE, "offer subchannel index %u above its limit",
                (unsigned)vmbsave_get_u16(p + VMBSAVE_HDR_SUBCHANNEL));
    if (vmbsave_get_u16(p + VMBSAVE_HDR_MMIO) > VMBSAVE_MAX_MMIO_MEGABYTES)
        CORRUPT(r, OFFER_RANGE, "offer MMIO megabytes %u above its limit",
                (unsigned)vmbsave_get_u16(p + VMBSAVE_HDR_MMIO));

    uint32_t ring_gpadl = vmbsave_get_u32(p + VMBSAVE_HDR_RING_GPADL);
    uint32_t ring_bytes[2] = {vmbsave_get_u32(p + VMBSAVE_HDR_IN_BYTES), vmbsave_get_u32(p + VMBSAVE_HDR_OUT_BYTES)};
    uint32_t vp = vmbsave_get_u32(p + VMBSAVE_HDR_TARGET_VP);
    uint32_t connection = vmbsave_get_u32(p + VMBSAVE_HDR_CONNECTION);
    uint32_t gpadls = vmbsave_get_u32(p + VMBSAVE_HDR_GPADLS);
    uint32_t packets = vmbsave_get_u32(p + VMBSAVE_HDR_PACKETS);
    uint32_t pending[2] = {vmbsave_get_u32(p + VMBSAVE_HDR_PENDING), vmbsave_get_u32(p + VMBSAVE_HDR_PENDING + 4)};
    uint64_t next_seq = vmbsave_get_u64(p + VMBSAVE_HDR_NEXT_SEQ);

    /* A state of no known value: a reader may apply either state's rules. */
    if (state == VMBSAVE_STATE_OPEN_PAUSED || !known) {
        if (connection == 0)
            CORRUPT(r, OPEN_RANGE, "an open channel with connection id 0");
        for (unsigned d = 0; d < 2; d++) {
            ring_size_checks(r, d, ring_bytes[d]);
            if (pending[d] > ring_bytes[d])
                LIMIT(r, "%" PRIu32 " pending bytes in ring %u of %" PRIu32 " bytes", pending[d],
                      d, ring_bytes[d]);
        }
        if (vp > VMBSAVE_MAX_TARGET_VP)
            CORRUPT(r, OPEN_RANGE, "target VP %" PRIu32 " above its limit", vp);
    }
    if (state == VMBSAVE_STATE_ENABLED || !known) {
        if (ring_gpadl != 0 || ring_bytes[0] != 0 || ring_bytes[1] != 0 || vp != 0 ||
            connection != 0)
            CORRUPT(r, ENABLED_HEADER, "an ENABLED HEADER with open fields");
        if (packets != 0)
            CORRUPT(r, ENABLED_HEADER, "an ENABLED HEADER with %" PRIu32 " packets", packets);
        for (unsigned d = 0; d < 2; d++) {
            if (pending[d] != 0) {
                CORRUPT(r, ENABLED_HEADER, "an ENABLED HEADER with %" PRIu32 " ring bytes", pending[d]);
                /* ... which is also above that ring's declared size, 0. */
                LIMIT(r, "%" PRIu32 " pending bytes in a ring of 0 bytes", pending[d]);
            }
        }
    }
    if (next_seq == 0)
        CORRUPT(r, SEQUENCE_ORDER, "next send sequence 0");
    if (gpadls > VMBSAVE_MAX_GPADLS)
        LIMIT(r, "a GPADL count of %" PRIu32 ", above VMBSAVE_MAX_GPADLS", gpadls);
    if (packets > VMBSAVE_MAX_PACKETS)
        LIMIT(r, "a packet count of %" PRIu32 ", above VMBSAVE_MAX_PACKETS", packets);
    for (unsigned d = 0; d < 2; d++) {
        if (pending[d] > VMBSAVE_MAX_RING_BYTES)
            LIMIT(r, "%" PRIu32 " pending bytes in ring %u, above VMBSAVE_MAX_RING_BYTES",
                  pending[d], d);
    }

    r->image_id = image_id;
    r->state = state;
    r->open = state == VMBSAVE_STATE_OPEN_PAUSED;
    r->ring_gpadl = ring_gpadl;
    r->ring_bytes[0] = ring_bytes[0];
    r->ring_bytes[1] = ring_bytes[1];
    r->next_seq = next_seq;
    r->declared_gpadls = gpadls;
    r->declared_packets = packets;
    r->declared_pending[0] = pending[0];
    r->declared_pending[1] = pending[1];
}

/* ---- GPADLS and PACKETS ------------------------------------------------------------------- */

/* The record count that opens the payload; false if the chunk fails on it. A count above the
 * limit is IMPLEMENTATION_LIMIT even when it is also above what the HEADER declared. */
static bool record_count(reader *r, const uint8_t *p, uint32_t n, const char *what, uint32_t limit,
                         uint32_t declared, uint32_t read, uint32_t *count)
{
    if (n < VMBSAVE_RECORD_COUNT_BYTES) {
        CORRUPT(r, SHORT_PAYLOAD, "a %s payload of %" PRIu32 " bytes, no record count", what, n);
        return false;
    }
    uint32_t c = vmbsave_get_u32(p);
    if (c == 0) {
        CORRUPT(r, RECORD_COUNT, "a %s chunk with no record", what);
        return false;
    }
    if (c > limit) {
        LIMIT(r, "a %s record count of %" PRIu32 ", above its limit", what, c);
        return false;
    }
    if (c > declared - read) {
        CORRUPT(r, RECORD_COUNT, "%" PRIu32 " %s records where the HEADER has %" PRIu32 " left", c, what,
                declared - read);
        return false;
    }
    *count = c;
    return true;
}

static void take_gpadls(reader *r, const uint8_t *p, uint32_t n)
{
    uint32_t count;
    if (!record_count(r, p, n, "GPADLS", VMBSAVE_MAX_GPADLS, r->declared_gpadls, r->gpadls,
                      &count))
        return;
    uint32_t off = VMBSAVE_RECORD_COUNT_BYTES;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t left = n - off;
        if (left < VMBSAVE_GPADL_RECORD_FIXED) {
            CORRUPT(r, RECORD_LENGTH, "GPADL record %" PRIu32 " runs past its chunk", i);
            return;
        }
        const uint8_t *rec = p + off;
        uint32_t record = vmbsave_get_u32(rec);
        uint32_t id = vmbsave_get_u32(rec + 4);
        uint32_t state = vmbsave_get_u32(rec + 8);
        uint32_t pfns = vmbsave_get_u32(rec + 12);
        if (id == 0)
            CORRUPT(r, GPADL_ID_ZERO, "GPADL id 0");
        if (state != GPADL_STATE_CREATED && state != GPADL_STATE_TEARING_DOWN)
            CORRUPT(r, ENUM, "GPADL %" PRIu32 " in state %" PRIu32, id, state);
        if (pfns == 0)
            CORRUPT(r, PFN_COUNT_ZERO, "GPADL %" PRIu32 " with no pfn", id);
        if (pfns > VMBSAVE_MAX_GPADL_PFNS)
            LIMIT(r, "GPADL %" PRIu32 " with %" PRIu32 " pfns", id, pfns);
        if (r->gpadls != 0 && id < r->gpadl_id[r->gpadls - 1u])
            CORRUPT(r, GPADL_ORDER, "GPADL id %" PRIu32 " after %" PRIu32, id, r->gpadl_id[r->gpadls - 1u]);
        if (record < VMBSAVE_GPADL_RECORD_FIXED || record > left) {
            CORRUPT(r, RECORD_LENGTH, "GPADL record %" PRIu32 " of %" PRIu32 " bytes, %" PRIu32 " left", i,
                    record, left);
            return;
        }
        if (VMBSAVE_GPADL_RECORD_FIXED + 8u * (uint64_t)pfns > record) {
            CORRUPT(r, RECORD_LENGTH, "GPADL %" PRIu32 ": %" PRIu32 " pfns run past its record", id, pfns);
            return;
        }
        for (uint32_t k = 0; k < pfns; k++) {
            if (vmbsave_get_u64(rec + VMBSAVE_GPADL_RECORD_FIXED + 8u * k) > VMBSAVE_MAX_PFN) {
                CORRUPT(r, PFN_RANGE, "GPADL %" PRIu32 ": pfn %" PRIu32 " above VMBSAVE_MAX_PFN", id, k);
                break;
            }
        }
        if (VMBSAVE_GPADL_RECORD_FIXED + 8u * (uint64_t)pfns < record)
            r->v->newer_minor = true; /* a newer minor's appended fields */
        r->gpadl_id[r->gpadls] = id;
        r->gpadl_state[r->gpadls] = state;
        r->gpadls++;
        off += record;
    }
    if (off != n)
        CORRUPT(r, RECORD_LENGTH, "%" PRIu32 " bytes after the last GPADL record", n - off);
}

static void take_packets(reader *r, const uint8_t *p, uint32_t n)
{
    uint32_t count;
    if (!record_count(r, p, n, "PACKETS", VMBSAVE_MAX_PACKETS, r->declared_packets, r->packets,
                      &count))
        return;
    uint32_t off = VMBSAVE_RECORD_COUNT_BYTES;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t left = n - off;
        if (left < VMBSAVE_PACKET_RECORD_FIXED) {
            CORRUPT(r, RECORD_LENGTH, "packet record %" PRIu32 " runs past its chunk", i);
            return;
        }
        const uint8_t *rec = p + off;
        uint32_t record = vmbsave_get_u32(rec);
        uint64_t id = vmbsave_get_u64(rec + 4);
        uint64_t seq = vmbsave_get_u64(rec + 12);
        uint32_t gpadl = vmbsave_get_u32(rec + 20);
        uint32_t payload = vmbsave_get_u32(rec + 24);
        uint32_t state = vmbsave_get_u32(rec + 28);
        if (id == 0)
            CORRUPT(r, PACKET_ID_ZERO, "packet id 0");
        if (seq <= r->last_packet_seq || seq >= r->next_seq)
            CORRUPT(r, SEQUENCE_ORDER, "packet %" PRIu64 " with send sequence %" PRIu64 " (after %" PRIu64
                       ", next %" PRIu64 ")",
                    id, seq, r->last_packet_seq, r->next_seq);
        if (payload > VMBSAVE_MAX_PACKET_PAYLOAD)
            LIMIT(r, "packet %" PRIu64 " with a payload of %" PRIu32 " bytes", id, payload);
        if (state > VMBSAVE_MAX_DRIVER_PACKET_STATE)
            LIMIT(r, "packet %" PRIu64 " with %" PRIu32 " bytes of driver state", id, state);
        if (record < VMBSAVE_PACKET_RECORD_FIXED || record > left) {
            CORRUPT(r, RECORD_LENGTH, "packet record %" PRIu32 " of %" PRIu32 " bytes, %" PRIu32 " left", i,
                    record, left);
            return;
        }
        if ((uint64_t)VMBSAVE_PACKET_RECORD_FIXED + payload + state > record) {
            CORRUPT(r, RECORD_LENGTH, "packet %" PRIu64 ": payload and driver state run past its record", id);
            return;
        }
        if ((uint64_t)VMBSAVE_PACKET_RECORD_FIXED + payload + state < record)
            r->v->newer_minor = true;
        r->packet_id[r->packets] = id;
        r->packet_gpadl[r->packets] = gpadl;
        r->packets++;
        r->last_packet_seq = seq;
        off += record;
    }
    if (off != n)
        CORRUPT(r, RECORD_LENGTH, "%" PRIu32 " bytes after the last packet record", n - off);
}

/* ---- RING -------------------------------------------------------------------------------- */

static void take_ring(reader *r, const uint8_t *p, uint32_t n)
{
    if (n <= VMBSAVE_RING_PIECE_FIXED) {
        CORRUPT(r, SHORT_PAYLOAD, "a RING payload of %" PRIu32 " bytes, no ring byte", n);
        return;
    }
    uint32_t d = vmbsave_get_u32(p);
    uint32_t offset = vmbsave_get_u32(p + 4);
    uint32_t piece = n - VMBSAVE_RING_PIECE_FIXED;
    if (d > 1u) {
        CORRUPT(r, ENUM, "RING direction %" PRIu32, d);
        return;
    }
    if (d == 0 && r->pending[1] != 0) {
        CORRUPT(r, RING_PIECES, "an incoming RING piece after outgoing ones");
        return;
    }
    if (offset != r->pending[d]) {
        CORRUPT(r, RING_PIECES, "a RING piece at offset %" PRIu32 " where %" PRIu32 " is next", offset,
                r->pending[d]);
        return;
    }
    /* Pieces that can no longer add up: refused here or, by a reader that counts at END, there
     * (the same status: RESTORE.CORRUPT.TOTALS). */
    if (piece > r->declared_pending[d] - r->pending[d]) {
        CORRUPT(r, RING_PIECES, "%" PRIu32 " ring bytes where the HEADER has %" PRIu32 " left", piece,
                r->declared_pending[d] - r->pending[d]);
        return;
    }
    if (d == 1 && r->pending[0] != r->declared_pending[0]) {
        CORRUPT(r, RING_PIECES, "outgoing ring bytes with %" PRIu32 " incoming ones missing",
                r->declared_pending[0] - r->pending[0]);
        return;
    }
    r->pending[d] += piece;
}

/* ---- END --------------------------------------------------------------------------------- */

/* In place, allocation-free. */
static void sort_u64(uint64_t *a, uint32_t n)
{
    for (uint32_t gap = n / 2u; gap > 0; gap /= 2u) {
        for (uint32_t i = gap; i < n; i++) {
            uint64_t x = a[i];
            uint32_t j = i;
            while (j >= gap && a[j - gap] > x) {
                a[j] = a[j - gap];
                j -= gap;
            }
            a[j] = x;
        }
    }
}

/* 1: resolves (some record of that id is CREATED and none is being torn down); 0: does not
 * (no CREATED record); 2: depends on which of the duplicated records a reader looks at. */
static int resolves(const reader *r, uint32_t id)
{
    bool created = false, torn = false;
    for (uint32_t i = 0; i < r->gpadls; i++) {
        if (r->gpadl_id[i] != id)
            continue;
        if (r->gpadl_state[i] == GPADL_STATE_CREATED)
            created = true;
        else
            torn = true;
    }
    return !created ? 0 : torn ? 2 : 1;
}

static void take_end(reader *r, const uint8_t *p, uint32_t n, uint32_t image_bytes)
{
    if (n < VMBSAVE_END_PAYLOAD_BYTES) {
        CORRUPT(r, SHORT_PAYLOAD, "an END payload of %" PRIu32 " bytes, below 1.0's 24", n);
        return;
    }
    if (vmbsave_get_u32(p + 4) != 0) {
        CORRUPT(r, RESERVED, "END's reserved field not 0");
        return;
    }
    if (n > VMBSAVE_END_PAYLOAD_BYTES)
        r->v->newer_minor = true;
    /* 12. Totals. */
    uint32_t chunks = vmbsave_get_u32(p);
    uint64_t total = vmbsave_get_u64(p + 8);
    if (chunks != r->seq + 1u) {
        CORRUPT(r, TOTALS, "END counts %" PRIu32 " chunks, %" PRIu32 " were read", chunks, r->seq + 1u);
        return;
    }
    if (total != image_bytes) {
        CORRUPT(r, TOTALS, "END counts %" PRIu64 " bytes, %" PRIu32 " were read", total, image_bytes);
        return;
    }
    if (r->gpadls != r->declared_gpadls || r->packets != r->declared_packets) {
        CORRUPT(r, TOTALS, "%" PRIu32 " GPADLs and %" PRIu32 " packets read, the HEADER has %" PRIu32
                   " and %" PRIu32,
                r->gpadls, r->packets, r->declared_gpadls, r->declared_packets);
        return;
    }
    for (unsigned d = 0; d < 2; d++) {
        if (r->pending[d] != r->declared_pending[d]) {
            CORRUPT(r, TOTALS, "%" PRIu32 " bytes of ring %u read, the HEADER has %" PRIu32, r->pending[d],
                    d, r->declared_pending[d]);
            return;
        }
    }
    if (vmbsave_get_u64(p + 16) != r->digest) {
        fail(r, STATUS_REVISION_MISMATCH, CLAUSE(RESTORE_FOREIGN_CHUNK),
             "END's digest is not that of the chunks read");
        return;
    }
    /* References, then duplicates. */
    bool unresolved = false, either = false;
    if (r->open) {
        int k = resolves(r, r->ring_gpadl);
        unresolved = unresolved || k == 0;
        either = either || k == 2;
    }
    for (uint32_t i = 0; i < r->packets; i++) {
        if (r->packet_gpadl[i] != 0) {
            int k = resolves(r, r->packet_gpadl[i]);
            unresolved = unresolved || k == 0;
            either = either || k == 2;
        }
    }
    if (unresolved || either) {
        fail(r, STATUS_NOT_FOUND, CLAUSE(RESTORE_REFERENCES_UNRESOLVED),
             "a GPADL reference the image does not hold live");
        if (!unresolved)
            fail(r, STATUS_DUPLICATE_OBJECTID, CLAUSE(RESTORE_REFERENCES_DUPLICATE), "(unused)");
        return;
    }
    bool twice = false;
    for (uint32_t i = 1; i < r->gpadls && !twice; i++)
        twice = r->gpadl_id[i] == r->gpadl_id[i - 1u];
    memcpy(r->sorted, r->packet_id, (size_t)r->packets * sizeof r->sorted[0]);
    sort_u64(r->sorted, r->packets);
    for (uint32_t i = 1; i < r->packets && !twice; i++)
        twice = r->sorted[i] == r->sorted[i - 1u];
    if (twice)
        fail(r, STATUS_DUPLICATE_OBJECTID, CLAUSE(RESTORE_REFERENCES_DUPLICATE),
             "a GPADL or packet id held twice");
}

/* ---- The state of a valid image --------------------------------------------------------- */

/* Reads the chunks of a valid image again (each check passed) into the model, which holds
 * every state the contract allows (oracle.h): the counts are within VMBSAVE_MAX_GPADLS and
 * VMBSAVE_MAX_PACKETS (step 11), the pfns and payloads within the image, the pending bytes
 * within the rings. The model's storage grows to fit them; false if it could not. */
static bool decode(const reader *r, const uint8_t *bytes, uint32_t end, oracle_state *m,
                   uint32_t *dstate_need, uint64_t *dstate_hash)
{
    oracle_state_init(m);
    /* Every byte of pfns and payload the image holds, at most its size: one reservation. */
    if (!oracle_bulk_reserve(m, end))
        return false;
    m->state = (vmbsave_channel_state)r->state;
    m->fresh = false;
    m->init_over = true;
    m->offer_set = true;
    for (uint32_t pos = 0; pos < end;) {
        vmbsave_chunk h;
        vmbsave_chunk_read(bytes + pos, end - pos, &h);
        const uint8_t *p = bytes + pos + VMBSAVE_CHUNK_HEADER_BYTES;
        pos += h.size;
        if (h.type == VMBSAVE_CHUNK_HEADER) {
            memcpy(m->offer.interface_type.bytes, p + VMBSAVE_HDR_INTERFACE_TYPE, 16);
            memcpy(m->offer.interface_instance.bytes, p + VMBSAVE_HDR_INTERFACE_INSTANCE, 16);
            m->offer.subchannel_index = vmbsave_get_u16(p + VMBSAVE_HDR_SUBCHANNEL);
            m->offer.mmio_megabytes = vmbsave_get_u16(p + VMBSAVE_HDR_MMIO);
            m->offer.flags = vmbsave_get_u32(p + VMBSAVE_HDR_OFFER_FLAGS);
            memcpy(m->offer.user_defined, p + VMBSAVE_HDR_USER_DEFINED, VMBSAVE_USER_DEFINED_BYTES);
            if (r->open) {
                m->open.ring_gpadl_id = r->ring_gpadl;
                m->open.incoming_ring_bytes = r->ring_bytes[0];
                m->open.outgoing_ring_bytes = r->ring_bytes[1];
                m->open.target_vp = vmbsave_get_u32(p + VMBSAVE_HDR_TARGET_VP);
                m->open.connection_id = vmbsave_get_u32(p + VMBSAVE_HDR_CONNECTION);
            }
            m->next_seq = r->next_seq;
        } else if (h.type == VMBSAVE_CHUNK_GPADLS || h.type == VMBSAVE_CHUNK_PACKETS) {
            uint32_t count = vmbsave_get_u32(p), off = VMBSAVE_RECORD_COUNT_BYTES;
            for (uint32_t i = 0; i < count; i++) {
                const uint8_t *rec = p + off;
                off += vmbsave_get_u32(rec);
                if (h.type == VMBSAVE_CHUNK_GPADLS) {
                    oracle_gpadl *g = &m->gpadls[m->gpadl_count++];
                    memset(g, 0, sizeof *g);
                    g->id = vmbsave_get_u32(rec + 4);
                    g->state = vmbsave_get_u32(rec + 8);
                    g->pfn_count = vmbsave_get_u32(rec + 12);
                    g->in_bulk = true;
                    g->bulk_off = m->bulk_len;
                    uint32_t n = 8u * g->pfn_count;
                    memcpy(m->bulk + m->bulk_len, rec + VMBSAVE_GPADL_RECORD_FIXED, n);
                    g->pfn_hash = vmbsave_hash(m->bulk + m->bulk_len, n, 0);
                    m->bulk_len += n;
                } else {
                    uint32_t k = m->packet_count++;
                    oracle_packet *pk = &m->packets[k];
                    memset(pk, 0, sizeof *pk);
                    pk->id = vmbsave_get_u64(rec + 4);
                    pk->seq = vmbsave_get_u64(rec + 12);
                    pk->gpadl = vmbsave_get_u32(rec + 20);
                    pk->bytes = vmbsave_get_u32(rec + 24);
                    uint32_t state = vmbsave_get_u32(rec + 28);
                    pk->in_bulk = true;
                    pk->bulk_off = m->bulk_len;
                    const uint8_t *payload = rec + VMBSAVE_PACKET_RECORD_FIXED;
                    memcpy(m->bulk + m->bulk_len, payload, pk->bytes);
                    pk->payload_hash = vmbsave_hash(payload, pk->bytes, 0);
                    m->bulk_len += pk->bytes;
                    if (dstate_need != NULL)
                        dstate_need[k] = state;
                    if (dstate_hash != NULL)
                        dstate_hash[k] = vmbsave_hash(payload + pk->bytes, state, 0);
                }
            }
        } else if (h.type == VMBSAVE_CHUNK_RING) {
            uint32_t d = vmbsave_get_u32(p), offset = vmbsave_get_u32(p + 4);
            uint32_t piece = h.payload_bytes - VMBSAVE_RING_PIECE_FIXED;
            if (!oracle_ring_reserve(&m->rings[d], offset + piece))
                return false;
            memcpy(m->rings[d].bytes + offset, p + VMBSAVE_RING_PIECE_FIXED, piece);
            m->rings[d].len = offset + piece;
        }
    }
    for (unsigned d = 0; d < 2; d++)
        oracle_ring_rehash(&m->rings[d]);
    return true;
}

/* ---- The reader -------------------------------------------------------------------------- */

void oracle_read_image(vmbsave_oracle *o, const uint8_t *bytes, uint32_t size,
                       oracle_read_verdict *verdict, oracle_state *model, uint32_t *dstate_need,
                       uint64_t *dstate_hash)
{
    reader *r = &o->reader->r;
    memset(verdict, 0, sizeof *verdict);
    verdict->fail_at = UINT32_MAX;
    /* Only what a read sets before it uses it needs clearing (the id arrays are written first). */
    r->v = verdict;
    r->seq = 0;
    r->rank = 0;
    r->digest = 0;
    r->gpadls = r->packets = 0;
    r->pending[0] = r->pending[1] = 0;
    r->last_packet_seq = 0;
    r->open = false;

    uint32_t pos = 0;
    while (pos < size) {
        vmbsave_chunk h;
        if (vmbsave_chunk_check(bytes + pos, size - pos, &h) != VMBSAVE_CHUNK_OK)
            return; /* steps 1-7 */
        const uint8_t *p = bytes + pos + VMBSAVE_CHUNK_HEADER_BYTES;
        /* 8. */
        if (h.type == VMBSAVE_CHUNK_HEADER && h.image_id != vmbsave_hash(p, h.payload_bytes, 0))
            return;
        if (r->seq != 0 && h.image_id != r->image_id)
            return;
        /* 9. */
        unsigned rank = vmbsave_chunk_rank(h.type);
        bool out_of_order = r->seq == 0 ? rank != 1u : (rank == 1u || (rank != 0 && rank < r->rank));
        if (h.sequence != r->seq || out_of_order)
            return;
        /* 10. */
        if (rank == 0 && (h.flags & VMBSAVE_CHUNK_FLAG_OPTIONAL) == 0)
            return;
        if (h.minor != 0 || rank == 0)
            verdict->newer_minor = true;
        /* 11 and 12. */
        switch (h.type) {
        case VMBSAVE_CHUNK_HEADER: take_header(r, p, h.payload_bytes, h.image_id); break;
        case VMBSAVE_CHUNK_GPADLS: take_gpadls(r, p, h.payload_bytes); break;
        case VMBSAVE_CHUNK_PACKETS: take_packets(r, p, h.payload_bytes); break;
        case VMBSAVE_CHUNK_RING: take_ring(r, p, h.payload_bytes); break;
        case VMBSAVE_CHUNK_END: take_end(r, p, h.payload_bytes, pos + h.size); break;
        default: break; /* an OPTIONAL chunk of a newer minor: skipped, but counted */
        }
        if (verdict->statuses != 0) {
            verdict->fail_at = pos;
            verdict->deferrable = h.type != VMBSAVE_CHUNK_END;
            return;
        }
        if (rank != 0)
            r->rank = rank;
        r->seq++;
        pos += h.size;
        if (h.type == VMBSAVE_CHUNK_END) {
            verdict->valid = true;
            verdict->end = pos;
            if (model != NULL && !decode(r, bytes, pos, model, dstate_need, dstate_hash))
                oracle_nomem(o, "the state of a preloaded image");
            return;
        }
        r->digest = vmbsave_digest_step(r->digest, h.checksum);
    }
}

bool oracle_preload_image(vmbsave_oracle *o, uint32_t image, const uint8_t *bytes, uint32_t size)
{
    oracle_image *img = &o->img[image];
    img->full = false;
    if (size == 0 || size > ORACLE_MAX_IMAGE)
        return false;
    oracle_read_image(o, bytes, size, &img->read, &img->model, img->dstate_need, img->dstate_hash);
    if (o->error)
        return false;
    memcpy(img->bytes, bytes, size);
    img->size = size;
    /* Chunks as their headers frame them, for the edits that group or split whole chunks; the
     * bytes from where no header frames a chunk that fits (or past the chunk limit) are one. */
    uint32_t n = 0, pos = 0;
    while (pos < size) {
        img->chunk_off[n++] = pos;
        vmbsave_chunk h;
        bool framed = n < ORACLE_MAX_CHUNKS && vmbsave_chunk_read(bytes + pos, size - pos, &h) &&
                      h.size <= size - pos;
        pos = framed ? pos + h.size : size;
    }
    img->chunk_count = n;
    img->chunk_off[n] = size;
    vmbsave_chunk first;
    img->image_id = vmbsave_chunk_read(bytes, size, &first) ? first.image_id : 0;
    for (uint32_t i = 0; i < img->model.packet_count; i++)
        img->dstate_written[i] = img->read.valid ? img->dstate_need[i] : 0;
    img->preloaded = true;
    img->full = true;
    return true;
}
