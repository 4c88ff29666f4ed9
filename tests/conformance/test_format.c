/* Format clauses (docs/SPEC.md section 10): the byte layout, order and packing of the images an
 * implementation writes, checked by parsing them independently from FORMAT.md, and the
 * compatibility rules, checked by restoring images of a newer minor (made by editing) and the
 * checked-in 1.0 golden image. Images are taken apart and edited with the chunk editor of
 * support/image_edit.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/clause_test.h"
#include "support/fixture.h"
#include "support/image_edit.h"
#include "support/util.h"

/* ==== small helpers ========================================================================= */

#define OK(e, expr)                                                                                \
    do {                                                                                           \
        NTSTATUS ok_s_ = (expr);                                                                   \
        if (ok_s_ != STATUS_SUCCESS)                                                               \
            fail_msg("%s:%d: %s returned %s", __FILE__, __LINE__, #expr, vt_status_str(ok_s_));    \
    } while (0)

static const char *type_name(uint16_t t)
{
    switch (t) {
    case VT_TYPE_HEADER: return "HEADER";
    case VT_TYPE_GPADLS: return "GPADLS";
    case VT_TYPE_PACKETS: return "PACKETS";
    case VT_TYPE_RING: return "RING";
    case VT_TYPE_END: return "END";
    default: return "unknown";
    }
}

/* ==== channels whose images are checked ===================================================== */

/* A shape that exercises packing: GPADL records of many sizes up to the largest (32,784
 * bytes), created out of id order; four packet records that fill one PACKETS chunk to exactly
 * 65,536 bytes, then records of many sizes up to the largest payload; incoming ring bytes over
 * four RING chunks and outgoing ring bytes that fill exactly one. */
static const uint32_t k_stress_pfns[] = {4096, 4095, 1,    2048, 2047, 4096,
                                         10,   3000, 1100, 4096, 1,    4000};
#define STRESS_GPADLS (sizeof(k_stress_pfns) / sizeof(k_stress_pfns[0]))
#define STRESS_RING (256u * 1024u)
#define STRESS_IN_BYTES 200000u
#define STRESS_OUT_BYTES (VMBSAVE_MAX_CHUNK_BYTES - VT_CHUNK_HEADER_BYTES - VT_RING_FIXED)

static void stress_send(vt_env *e, vmbsave_channel *ch, uint64_t id, uint32_t gpadl, uint32_t bytes)
{
    uint8_t *p = vt_xmalloc(bytes);
    for (uint32_t i = 0; i < bytes; i++)
        p[i] = (uint8_t)(id * 131u + i * 7u);
    NTSTATUS s = e->v->packet_send(ch, id, gpadl, p, bytes);
    free(p);
    if (s != STATUS_SUCCESS)
        fail_msg("packet_send(%llu, %u bytes) returned %s", (unsigned long long)id, bytes,
                 vt_status_str(s));
}

static void stress_ring(vt_env *e, vmbsave_channel *ch, vmbsave_ring_direction dir, uint32_t n)
{
    uint8_t *p = vt_xmalloc(n);
    for (uint32_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 13u + (uint32_t)dir * 101u + (i >> 9));
    NTSTATUS s = e->v->ring_write(ch, dir, p, n);
    free(p);
    if (s != STATUS_SUCCESS)
        fail_msg("ring_write(%d, %u bytes) returned %s", (int)dir, n, vt_status_str(s));
}

static vmbsave_channel *make_stress(vt_env *e)
{
    vmbsave_channel *ch = vt_channel_new(e);
    vmbsave_offer offer;
    vt_fill_offer(&offer, 11);
    OK(e, e->v->init_set_offer(ch, &offer));
    OK(e, e->v->enable(ch));
    uint64_t *pfns = vt_xmalloc(VMBSAVE_MAX_GPADL_PFNS * sizeof(uint64_t));
    for (size_t g = STRESS_GPADLS; g-- > 0;) {
        uint32_t id = (uint32_t)g + 1u;
        for (uint32_t i = 0; i < k_stress_pfns[g]; i++)
            pfns[i] = ((uint64_t)id << 24) + i * 3u;
        NTSTATUS s = e->v->gpadl_create(ch, id, pfns, k_stress_pfns[g]);
        if (s != STATUS_SUCCESS)
            fail_msg("gpadl_create(%u, %u pfns) returned %s", id, k_stress_pfns[g],
                     vt_status_str(s));
    }
    free(pfns);
    OK(e, e->v->gpadl_teardown_begin(ch, 12));
    vmbsave_open_params open;
    vt_fill_open(&open, 1);
    open.incoming_ring_bytes = STRESS_RING;
    open.outgoing_ring_bytes = STRESS_RING;
    OK(e, e->v->guest_open(ch, &open));
    OK(e, e->v->start(ch));

    /* Exactly one full chunk: 40 + 4 + sum(32 + payload + driver state) == 65,536. */
    static const uint64_t fit_ids[4] = {4, 8, 12, 16};
    uint32_t rest = VMBSAVE_MAX_CHUNK_BYTES - VT_CHUNK_HEADER_BYTES - 4u - 4u * VT_PACKET_FIXED -
                    3u * VMBSAVE_MAX_PACKET_PAYLOAD;
    for (size_t i = 0; i < 4; i++)
        rest -= vmbsave_driver_state(fit_ids[i], NULL, 0);
    for (size_t i = 0; i < 4; i++)
        stress_send(e, ch, fit_ids[i], (uint32_t)i % 3u, i < 3 ? VMBSAVE_MAX_PACKET_PAYLOAD : rest);
    static const uint32_t sizes[] = {16384, 1, 0, 16000, 12000, 5, 9000, 16384, 16384, 333};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        stress_send(e, ch, 21u + i, i % 3u == 0 ? 3u : 0u, sizes[i]);

    stress_ring(e, ch, VMBSAVE_RING_INCOMING, STRESS_IN_BYTES);
    stress_ring(e, ch, VMBSAVE_RING_OUTGOING, STRESS_OUT_BYTES);
    OK(e, e->v->pause(ch));
    return ch;
}

#define SHAPES (VMBSAVE_CANONICAL_COUNT + 1)

static const char *shape_name(int w)
{
    return w < VMBSAVE_CANONICAL_COUNT ? vmbsave_canonical_name((vmbsave_canonical_id)w)
                                       : "STRESS";
}

static vmbsave_channel *make_shape(vt_env *e, int w)
{
    return w < VMBSAVE_CANONICAL_COUNT ? vt_make_canonical(e, (vmbsave_canonical_id)w, 7)
                                       : make_stress(e);
}

/* The image and description of shape `w`; the channel is destroyed. */
static void shape_image(vt_env *e, int w, vt_image *img, char **desc)
{
    vmbsave_channel *ch = make_shape(e, w);
    if (desc != NULL)
        *desc = vt_describe(e, ch);
    vt_save(e, ch, VMBSAVE_MAX_CHUNK_BYTES, img);
    vt_destroy_channel(e, ch);
}

/* ==== FORMAT.LAYOUT ========================================================================= */

static void check_records(const char *name, size_t k, uint16_t type, const uint8_t *p, uint32_t n,
                          uint16_t minor)
{
    if (type == VT_TYPE_RING) {
        if (n <= VT_RING_FIXED)
            fail_msg("%s: RING chunk %zu has %u payload bytes (no ring bytes)", name, k, n);
        if (vt_get32(p + VT_RING_DIR) > 1)
            fail_msg("%s: RING chunk %zu direction %u", name, k, vt_get32(p + VT_RING_DIR));
        return;
    }
    if (type != VT_TYPE_GPADLS && type != VT_TYPE_PACKETS)
        return;
    if (n < 4 || vt_get32(p) == 0)
        fail_msg("%s: %s chunk %zu has no record", name, type_name(type), k);
    uint32_t count = vt_get32(p), off = 4;
    for (uint32_t r = 0; r < count; r++) {
        uint32_t fixed = type == VT_TYPE_GPADLS ? VT_GPADL_FIXED : VT_PACKET_FIXED;
        if (n - off < fixed)
            fail_msg("%s: %s chunk %zu record %u runs past the chunk", name, type_name(type), k, r);
        const uint8_t *q = p + off;
        uint32_t rb = vt_get32(q), want;
        if (type == VT_TYPE_GPADLS) {
            uint32_t pfns = vt_get32(q + VT_GPADL_PFNS);
            if (vt_get32(q + VT_GPADL_ID) == 0 ||
                (vt_get32(q + VT_GPADL_STATE) != 1 && vt_get32(q + VT_GPADL_STATE) != 2) ||
                pfns == 0 || pfns > VMBSAVE_MAX_GPADL_PFNS)
                fail_msg("%s: GPADL record %u of chunk %zu: id %u state %u pfn_count %u", name, r,
                         k, vt_get32(q + VT_GPADL_ID), vt_get32(q + VT_GPADL_STATE), pfns);
            want = VT_GPADL_FIXED + 8u * pfns;
            for (uint32_t i = 0; i < pfns && VT_GPADL_FIXED + 8u * i + 8u <= rb &&
                                 off + VT_GPADL_FIXED + 8u * i + 8u <= n;
                 i++)
                if (vt_get64(q + VT_GPADL_FIXED + 8u * i) > VMBSAVE_MAX_PFN)
                    fail_msg("%s: GPADL record %u of chunk %zu: pfn %u above VMBSAVE_MAX_PFN", name,
                             r, k, i);
        } else {
            uint32_t pl = vt_get32(q + VT_PACKET_PAYLOAD), ds = vt_get32(q + VT_PACKET_DSTATE);
            if (pl > VMBSAVE_MAX_PACKET_PAYLOAD || ds > VMBSAVE_MAX_DRIVER_PACKET_STATE)
                fail_msg("%s: packet record %u of chunk %zu: payload %u, driver state %u", name, r,
                         k, pl, ds);
            want = VT_PACKET_FIXED + pl + ds;
        }
        /* A 1.0 record is exactly its layout; a later minor may append fields. */
        if (minor == 0 ? rb != want : rb < want)
            fail_msg("%s: %s chunk %zu record %u: record_bytes %u, its layout needs %u", name,
                     type_name(type), k, r, rb, want);
        if (rb > n - off)
            fail_msg("%s: %s chunk %zu record %u runs past the chunk", name, type_name(type), k, r);
        off += rb;
    }
    if (off != n)
        fail_msg("%s: %s chunk %zu: records end at %u of %u payload bytes", name, type_name(type),
                 k, off, n);
}

/* Every chunk header of FORMAT.md, the HEADER image id everywhere, END's totals and digest, and
 * the record layout, from the bytes alone. */
static void check_layout(const char *name, const uint8_t *b, size_t size)
{
    size_t off = 0, k = 0;
    uint64_t id = 0, digest = 0;
    bool ended = false;
    while (off < size) {
        if (ended)
            fail_msg("%s: %zu bytes after END", name, size - off);
        if (size - off < VT_CHUNK_HEADER_BYTES)
            fail_msg("%s: %zu bytes at the end are not a chunk header", name, size - off);
        const uint8_t *c = b + off, *p = c + VT_CHUNK_HEADER_BYTES;
        uint16_t major = vt_get16(c + 4), minor = vt_get16(c + 6), type = vt_get16(c + 8),
                 flags = vt_get16(c + 10);
        uint32_t seq = vt_get32(c + 12), n = vt_get32(c + 16), reserved = vt_get32(c + 20);
        uint64_t iid = vt_get64(c + 24), cks = vt_get64(c + 32);
        if (vt_get32(c) != VT_CHUNK_MAGIC)
            fail_msg("%s: chunk %zu magic 0x%08x", name, k, vt_get32(c));
        if (major != 1)
            fail_msg("%s: chunk %zu major %u", name, k, major);
        if ((flags & ~VT_FLAG_OPTIONAL) != 0 || reserved != 0)
            fail_msg("%s: chunk %zu flags 0x%x reserved %u", name, k, flags, reserved);
        if (VT_CHUNK_HEADER_BYTES + (uint64_t)n > VMBSAVE_MAX_CHUNK_BYTES)
            fail_msg("%s: chunk %zu is %llu bytes, above 65536", name, k,
                     (unsigned long long)(VT_CHUNK_HEADER_BYTES + (uint64_t)n));
        if (n > size - off - VT_CHUNK_HEADER_BYTES)
            fail_msg("%s: chunk %zu payload runs past the image", name, k);
        if (seq != k)
            fail_msg("%s: chunk %zu has sequence %u", name, k, seq);
        if (cks != vt_hash(p, n, vt_hash(c, 32, 0)))
            fail_msg("%s: chunk %zu (%s) checksum does not verify", name, k, type_name(type));
        if (k == 0) {
            if (type != VT_TYPE_HEADER)
                fail_msg("%s: the first chunk is %s, not HEADER", name, type_name(type));
            if (minor == 0 ? n != VT_HEADER_PAYLOAD_BYTES : n < VT_HEADER_PAYLOAD_BYTES)
                fail_msg("%s: HEADER payload %u bytes (1.0: 208)", name, n);
            id = vt_hash(p, n, 0);
        }
        if (iid != id)
            fail_msg("%s: chunk %zu image id 0x%016llx, HEADER hash 0x%016llx", name, k,
                     (unsigned long long)iid, (unsigned long long)id);
        check_records(name, k, type, p, n, minor);
        if (type == VT_TYPE_END) {
            ended = true;
            if (minor == 0 ? n != VT_END_PAYLOAD_BYTES : n < VT_END_PAYLOAD_BYTES)
                fail_msg("%s: END payload %u bytes (1.0: 24)", name, n);
            if (vt_get32(p + VT_END_COUNT) != k + 1 || vt_get32(p + VT_END_RESERVED) != 0 ||
                vt_get64(p + VT_END_TOTAL) != off + VT_CHUNK_HEADER_BYTES + n ||
                vt_get64(p + VT_END_DIGEST) != digest)
                fail_msg("%s: END chunk_count %u (chunks %zu), reserved %u, total_bytes %llu "
                         "(bytes %zu), digest %s",
                         name, vt_get32(p + VT_END_COUNT), k + 1, vt_get32(p + VT_END_RESERVED),
                         (unsigned long long)vt_get64(p + VT_END_TOTAL),
                         off + VT_CHUNK_HEADER_BYTES + n,
                         vt_get64(p + VT_END_DIGEST) == digest ? "right" : "wrong");
        } else {
            uint8_t le[8];
            vt_put64(le, cks);
            digest = vt_hash(le, sizeof(le), digest);
        }
        off += VT_CHUNK_HEADER_BYTES + n;
        k++;
    }
    if (!ended)
        fail_msg("%s: the image has no END chunk", name);
    if (vt_chunks(b, size, NULL, 0) != (long)k)
        fail_msg("%s: the fixture's parser counts a different number of chunks", name);
}

static void format_layout(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    for (int w = 0; w < SHAPES; w++) {
        vt_image img;
        shape_image(e, w, &img, NULL);
        check_layout(shape_name(w), img.bytes, img.size);
        vt_image_free(&img);
    }
    vt_env_free(e);
}

/* ==== FORMAT.ORDER ========================================================================== */

/* The ids listed by describe lines "<prefix>[i]=id=<n>" in order; returns the count. */
static size_t describe_ids(const char *desc, const char *prefix, uint64_t *ids, size_t cap)
{
    size_t n = 0, plen = strlen(prefix);
    for (const char *l = desc; *l != '\0';) {
        unsigned long long id;
        if (strncmp(l, prefix, plen) == 0 && l[plen] == '[' &&
            sscanf(strchr(l, ']'), "]=id=%llu", &id) == 1) {
            if (n < cap)
                ids[n] = id;
            n++;
        }
        const char *nl = strchr(l, '\n');
        l = nl != NULL ? nl + 1 : l + strlen(l);
    }
    return n;
}

static void check_order(const char *name, const uint8_t *b, size_t size, const char *desc)
{
    vt_edit_image ed;
    vt_edit_parse(&ed, b, size);
    const uint8_t *h = ed.c[0].p;
    int rank = 0;
    uint64_t gpadl_ids[VMBSAVE_MAX_GPADLS + 1], packet_ids[256];
    size_t ng = 0, np = 0;
    uint64_t last_seq = 0;
    uint32_t ring_at[2] = {0, 0};
    for (size_t k = 0; k < ed.count; k++) {
        const vt_edit_chunk *c = &ed.c[k];
        int r;
        switch (c->type) {
        case VT_TYPE_HEADER: r = 0; break;
        case VT_TYPE_GPADLS: r = 1; break;
        case VT_TYPE_PACKETS: r = 2; break;
        case VT_TYPE_RING: r = 3 + (int)vt_get32(c->p + VT_RING_DIR); break;
        case VT_TYPE_END: r = 5; break;
        default:
            fail_msg("%s: chunk %zu has a type (0x%x) FORMAT.md 1.0 does not define", name, k,
                     c->type);
            return;
        }
        if ((k == 0) != (r == 0) || (k + 1 == ed.count) != (r == 5) || r < rank)
            fail_msg("%s: chunk %zu (%s%s) breaks HEADER GPADLS* PACKETS* RING(in)* RING(out)* "
                     "END",
                     name, k, type_name(c->type),
                     c->type == VT_TYPE_RING ? (r == 3 ? " incoming" : " outgoing") : "");
        rank = r;
        if (c->type == VT_TYPE_GPADLS) {
            for (uint32_t i = 0; i < vt_edit_rec_count(c); i++) {
                uint32_t id = vt_get32(c->p + vt_edit_rec_off(c, i) + VT_GPADL_ID);
                if (ng > 0 && id <= gpadl_ids[ng - 1])
                    fail_msg("%s: GPADL %u after GPADL %llu: not in ascending id order", name, id,
                             (unsigned long long)gpadl_ids[ng - 1]);
                if (ng <= VMBSAVE_MAX_GPADLS)
                    gpadl_ids[ng++] = id;
            }
        } else if (c->type == VT_TYPE_PACKETS) {
            for (uint32_t i = 0; i < vt_edit_rec_count(c); i++) {
                const uint8_t *q = c->p + vt_edit_rec_off(c, i);
                uint64_t seq = vt_get64(q + VT_PACKET_SEQ);
                if (np > 0 && seq <= last_seq)
                    fail_msg("%s: packet with send sequence %llu after %llu: not in send order",
                             name, (unsigned long long)seq, (unsigned long long)last_seq);
                last_seq = seq;
                if (np < 256)
                    packet_ids[np] = vt_get64(q + VT_PACKET_ID);
                np++;
            }
        } else if (c->type == VT_TYPE_RING) {
            uint32_t dir = vt_get32(c->p + VT_RING_DIR);
            if (vt_get32(c->p + VT_RING_OFFSET) != ring_at[dir])
                fail_msg("%s: RING piece of direction %u at offset %u, expected %u (ascending, "
                         "contiguous)",
                         name, dir, vt_get32(c->p + VT_RING_OFFSET), ring_at[dir]);
            ring_at[dir] += c->n - VT_RING_FIXED;
        }
    }
    if (ng != vt_get32(h + VT_HEADER_GPADLS) || np != vt_get32(h + VT_HEADER_PACKETS) ||
        ring_at[0] != vt_get32(h + VT_HEADER_IN_PENDING) ||
        ring_at[1] != vt_get32(h + VT_HEADER_OUT_PENDING))
        fail_msg("%s: the records (%zu GPADLs, %zu packets, %u + %u ring bytes) disagree with the "
                 "HEADER (%u, %u, %u + %u)",
                 name, ng, np, ring_at[0], ring_at[1], vt_get32(h + VT_HEADER_GPADLS),
                 vt_get32(h + VT_HEADER_PACKETS), vt_get32(h + VT_HEADER_IN_PENDING),
                 vt_get32(h + VT_HEADER_OUT_PENDING));

    /* The channel's own order: describe lists GPADLs by ascending id and packets in send
     * order; the image must hold them in that order. */
    uint64_t dg[VMBSAVE_MAX_GPADLS + 1], dp[256];
    size_t dng = describe_ids(desc, "gpadl", dg, VMBSAVE_MAX_GPADLS + 1);
    size_t dnp = describe_ids(desc, "packet", dp, 256);
    if (dng != ng || dnp != np || memcmp(dg, gpadl_ids, ng * sizeof(uint64_t)) != 0 ||
        memcmp(dp, packet_ids, (np < 256 ? np : 256) * sizeof(uint64_t)) != 0)
        fail_msg("%s: the image's GPADL and packet order differs from the channel's", name);
    vt_edit_free(&ed);
}

static void format_order(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    for (int w = 0; w < SHAPES; w++) {
        vt_image img;
        char *desc;
        shape_image(e, w, &img, &desc);
        check_order(shape_name(w), img.bytes, img.size, desc);
        free(desc);
        vt_image_free(&img);
    }
    vt_env_free(e);
}

/* ==== FORMAT.CHUNKING.CANONICAL ============================================================= */

/* Greedy packing of records of the given sizes: records per chunk. Returns the chunk count. */
static size_t greedy(const uint32_t *sizes, size_t n, uint32_t *per_chunk, uint32_t *bytes)
{
    size_t chunks = 0;
    uint32_t cur = VT_CHUNK_HEADER_BYTES + 4u, cnt = 0;
    for (size_t i = 0; i < n; i++) {
        if (cnt > 0 && cur + sizes[i] > VMBSAVE_MAX_CHUNK_BYTES) {
            per_chunk[chunks] = cnt;
            bytes[chunks++] = cur;
            cur = VT_CHUNK_HEADER_BYTES + 4u;
            cnt = 0;
        }
        cur += sizes[i];
        cnt++;
    }
    if (cnt > 0) {
        per_chunk[chunks] = cnt;
        bytes[chunks++] = cur;
    }
    return chunks;
}

/* Recomputes the packing of `b` from its parsed records and compares chunk boundaries.
 * Returns how many chunks the recomputation made exactly 65,536 bytes (for preconditions). */
static size_t check_packing(const char *name, const uint8_t *b, size_t size)
{
    vt_edit_image ed;
    vt_edit_parse(&ed, b, size);
    size_t full = 0;
    for (int t = 0; t < 2; t++) {
        uint16_t type = t == 0 ? VT_TYPE_GPADLS : VT_TYPE_PACKETS;
        uint32_t *sizes = vt_xmalloc(8192 * sizeof(uint32_t));
        uint32_t actual[512], want[512], want_bytes[512];
        size_t nrec = 0, nact = 0;
        for (size_t k = 0; k < ed.count; k++) {
            const vt_edit_chunk *c = &ed.c[k];
            if (c->type != type)
                continue;
            assert_true(nact < 512);
            actual[nact++] = vt_edit_rec_count(c);
            for (uint32_t r = 0; r < vt_edit_rec_count(c); r++) {
                assert_true(nrec < 8192);
                sizes[nrec++] = vt_get32(c->p + vt_edit_rec_off(c, r));
            }
        }
        size_t nwant = greedy(sizes, nrec, want, want_bytes);
        free(sizes);
        for (size_t i = 0; i < nwant; i++)
            full += want_bytes[i] == VMBSAVE_MAX_CHUNK_BYTES;
        if (nwant != nact || memcmp(want, actual, nact * sizeof(uint32_t)) != 0) {
            size_t i = 0;
            while (i < nact && i < nwant && want[i] == actual[i])
                i++;
            fail_msg("%s: %s records packed differently: greedy packing gives %zu chunks, the "
                     "image has %zu; first difference at chunk %zu: %u records, greedy %u",
                     name, type_name(type), nwant, nact, i, i < nact ? actual[i] : 0,
                     i < nwant ? want[i] : 0);
        }
    }
    /* RING: each piece as many pending bytes as fit, each direction on its own. */
    const uint32_t piece_max = VMBSAVE_MAX_CHUNK_BYTES - VT_CHUNK_HEADER_BYTES - VT_RING_FIXED;
    for (uint32_t dir = 0; dir < 2; dir++) {
        uint32_t left =
            vt_get32(ed.c[0].p + (dir == 0 ? VT_HEADER_IN_PENDING : VT_HEADER_OUT_PENDING));
        for (size_t k = 0; k < ed.count; k++) {
            const vt_edit_chunk *c = &ed.c[k];
            if (c->type != VT_TYPE_RING || vt_get32(c->p + VT_RING_DIR) != dir)
                continue;
            uint32_t want = left < piece_max ? left : piece_max;
            if (c->n - VT_RING_FIXED != want)
                fail_msg("%s: RING piece in chunk %zu holds %u bytes, greedy packing gives %u",
                         name, k, c->n - VT_RING_FIXED, want);
            full += VT_CHUNK_HEADER_BYTES + c->n == VMBSAVE_MAX_CHUNK_BYTES;
            left -= want;
        }
        if (left != 0)
            fail_msg("%s: RING pieces of direction %u hold %u bytes less than pending", name, dir,
                     left);
    }
    for (size_t k = 0; k < ed.count; k++)
        if (VT_CHUNK_HEADER_BYTES + (uint64_t)ed.c[k].n > VMBSAVE_MAX_CHUNK_BYTES)
            fail_msg("%s: chunk %zu is larger than 65536 bytes", name, k);
    vt_edit_free(&ed);
    return full;
}

static void format_chunking_canonical(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    for (int w = 0; w < SHAPES; w++) {
        vmbsave_channel *ch = make_shape(e, w);
        vt_image a, b;
        vt_save(e, ch, VMBSAVE_MAX_CHUNK_BYTES, &a);
        size_t full = check_packing(shape_name(w), a.bytes, a.size);
        if (w == VMBSAVE_CANONICAL_COUNT && full < 2)
            fail_msg("precondition: the stress shape should give full 65,536-byte PACKETS and "
                     "RING chunks (%zu)",
                     full);
        /* Boundaries depend on the state alone: odd buffer sizes give the same chunks. */
        static const uint32_t odd[] = {70000, 100, 1, 65536, 131072, 41, 5000};
        vt_save_sizes(e, ch, odd, sizeof(odd) / sizeof(odd[0]), &b);
        if (a.size != b.size || memcmp(a.bytes, b.bytes, a.size) != 0)
            fail_msg("%s: saving with other buffer sizes gave a different image", shape_name(w));
        vt_image_free(&a);
        vt_image_free(&b);
        vt_destroy_channel(e, ch);
    }
    vt_env_free(e);
}

/* ==== FORMAT.COMPAT.NEWER_MINOR ============================================================= */

/* What a 1.1 writer might have written: minor 1 everywhere, fields appended to HEADER, END and
 * every GPADL and packet record, and unknown OPTIONAL chunks; all derived fields recomputed. */
static void to_newer_minor(vt_edit_image *ed)
{
    static const uint8_t extra[8] = {0x5A, 0xA5, 0x01, 0xFF, 0x80, 0x7F, 0x33, 0xCC};
    for (size_t k = 0; k < ed->count; k++) {
        vt_edit_chunk *c = &ed->c[k];
        c->minor = 1;
        if (c->type == VT_TYPE_HEADER || c->type == VT_TYPE_END)
            vt_edit_splice(c, c->n, 0, extra, 8);
        if (c->type == VT_TYPE_GPADLS || c->type == VT_TYPE_PACKETS) {
            uint32_t off = 4;
            for (uint32_t r = 0; r < vt_edit_rec_count(c); r++) {
                uint32_t rb = vt_get32(c->p + off);
                vt_edit_splice(c, off + rb, 0, extra, 4);
                vt_put32(c->p + off, rb + 4u);
                off += rb + 4u;
            }
        }
    }
    vt_edit_chunk u = ed->c[0];
    u.type = 0x0100;
    u.flags = VT_FLAG_OPTIONAL;
    u.p = (uint8_t *)extra;
    u.n = sizeof(extra);
    vt_edit_insert(ed, 1, &u);
    u.type = 0x7777;
    vt_edit_insert(ed, ed->count - 1, &u);
    vt_edit_fix(ed);
    for (size_t k = 0; k < ed->count; k++)
        if (VT_CHUNK_HEADER_BYTES + ed->c[k].n > VMBSAVE_MAX_CHUNK_BYTES)
            fail_msg("the newer-minor edit made chunk %zu larger than 65536 bytes", k);
}

/* What restore_packet must be given for the first 64 packet records of a 1.0 image, in send
 * order: the packet id, a library buffer of the record's head and payload, and the driver state
 * size. Returns the count. */
static uint32_t restore_calls_due(const vt_edit_image *ed, uint64_t ids[64], uint32_t lib[64],
                                  uint32_t ds[64])
{
    uint32_t np = 0;
    for (size_t k = 0; k < ed->count; k++) {
        if (ed->c[k].type != VT_TYPE_PACKETS)
            continue;
        for (uint32_t r = 0; r < vt_edit_rec_count(&ed->c[k]) && np < 64; r++, np++) {
            const uint8_t *q = ed->c[k].p + vt_edit_rec_off(&ed->c[k], r);
            ids[np] = vt_get64(q + VT_PACKET_ID);
            lib[np] = VT_PACKET_FIXED + vt_get32(q + VT_PACKET_PAYLOAD);
            ds[np] = vt_get32(q + VT_PACKET_DSTATE);
        }
    }
    return np;
}

static void format_compat_newer_minor(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    static const vmbsave_canonical_id shapes[] = {VMBSAVE_CANONICAL_EMPTY_OFFER,
                                                  VMBSAVE_CANONICAL_OPEN_GPADLS,
                                                  VMBSAVE_CANONICAL_PAUSED_PACKETS};
    for (size_t w = 0; w < 3; w++) {
        const char *name = vmbsave_canonical_name(shapes[w]);
        vt_image img;
        char *desc;
        shape_image(e, (int)shapes[w], &img, &desc);
        vt_edit_image orig, ed;
        vt_edit_parse(&orig, img.bytes, img.size);
        vt_edit_parse(&ed, img.bytes, img.size);
        to_newer_minor(&ed);
        vt_edit_bytes b;
        vt_edit_serialize(&ed, &b);

        /* Library buffer and driver state sizes the driver must see, from the 1.0 records. */
        uint64_t ids[64];
        uint32_t lib[64], ds[64];
        uint32_t np = restore_calls_due(&orig, ids, lib, ds);

        for (size_t per = 0; per <= 1; per++) {
            vmbsave_fault_host_clear_logs(&e->host);
            vmbsave_channel *ch = vt_edit_restore_ok(e, &b, per, name);
            char *d = vt_describe(e, ch);
            vt_assert_same_state(desc, d);
            free(d);
            if (e->host.restore_call_count != np || e->host.restore_state_mismatches != 0)
                fail_msg("%s: %u restore_packet calls for %u packets, %u with the wrong driver "
                         "state",
                         name, e->host.restore_call_count, np, e->host.restore_state_mismatches);
            for (uint32_t i = 0; i < np; i++)
                if (e->host.restore_calls[i].lib_size != lib[i] ||
                    e->host.restore_calls[i].buf_size != ds[i])
                    fail_msg("%s: packet %u restored with a library buffer of %u bytes and %u "
                             "bytes of driver state, expected %u and %u (appended record fields "
                             "must be ignored)",
                             name, i, e->host.restore_calls[i].lib_size,
                             e->host.restore_calls[i].buf_size, lib[i], ds[i]);
            /* Nothing of the unknown fields was kept: the channel saves its own 1.0 image. */
            vt_image again;
            vt_save(e, ch, VMBSAVE_MAX_CHUNK_BYTES, &again);
            if (again.size != img.size || memcmp(again.bytes, img.bytes, img.size) != 0)
                fail_msg("%s: the channel restored from the newer-minor image saves an image "
                         "other than the original",
                         name);
            vt_image_free(&again);
            vt_destroy_channel(e, ch);
        }
        vt_edit_bytes_free(&b);
        vt_edit_free(&ed);
        vt_edit_free(&orig);
        free(desc);
        vt_image_free(&img);
    }
    vt_env_free(e);
}

/* ==== FORMAT.COMPAT.OLDER_IMAGES ============================================================ */

/* tests/data, from $VMBSAVE_TEST_DATA or where the build found it (VMBSAVE_TEST_DATA_DIR). */
static char *data_path(const char *file)
{
    const char *dir = getenv("VMBSAVE_TEST_DATA");
    if (dir == NULL || dir[0] == '\0')
        dir = VMBSAVE_TEST_DATA_DIR;
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s/%s", dir, file);
    size_t n = strlen(buf) + 1;
    return memcpy(vt_xmalloc(n), buf, n);
}

static uint8_t *read_all(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s (set VMBSAVE_TEST_DATA to the tests/data directory)", path);
    size_t cap = 4096, n = 0;
    uint8_t *buf = vt_xmalloc(cap + 1);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            uint8_t *nb = realloc(buf, cap + 1);
            if (nb == NULL)
                fail_msg("test-side realloc failed");
            buf = nb;
        }
    }
    fclose(f);
    buf[n] = '\0';
    *size = n;
    return buf;
}

/* The description without its `fresh=` line. */
static char *without_fresh(const char *d)
{
    char *out = vt_xmalloc(strlen(d) + 1), *o = out;
    for (const char *l = d; *l != '\0';) {
        const char *nl = strchr(l, '\n');
        size_t len = nl != NULL ? (size_t)(nl - l) + 1 : strlen(l);
        if (strncmp(l, "fresh=", 6) != 0) {
            memcpy(o, l, len);
            o += len;
        }
        l += len;
    }
    *o = '\0';
    return out;
}

static void format_compat_older_images(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    char *img_path = data_path("golden-1.0.img"), *desc_path = data_path("golden-1.0.describe");
    size_t size, dsize;
    uint8_t *img = read_all(img_path, &size);
    char *want = (char *)read_all(desc_path, &dsize);
    if (strlen(want) != dsize || dsize == 0 || strstr(want, "state=") != want)
        fail_msg("%s is not a description", desc_path);
    char *want_nf = without_fresh(want);

    /* The file itself must still be the valid 1.0 image it was (not damaged in the tree). */
    check_layout(img_path, img, size);
    vt_edit_image ed;
    vt_edit_parse(&ed, img, size);
    for (size_t k = 0; k < ed.count; k++)
        if (ed.c[k].major != 1 || ed.c[k].minor != 0)
            fail_msg("%s chunk %zu is version %u.%u, not 1.0", img_path, k, ed.c[k].major,
                     ed.c[k].minor);
    uint64_t ids[64];
    uint32_t lib[64], ds[64];
    uint32_t np = restore_calls_due(&ed, ids, lib, ds);
    if (np == 0)
        fail_msg("precondition: the golden image should hold packets in flight");

    /* The file's own chunk boundaries, so the restore can go chunk by chunk. */
    size_t *starts = vt_xmalloc((ed.count + 1) * sizeof(size_t));
    starts[0] = 0;
    for (size_t k = 0; k < ed.count; k++)
        starts[k + 1] = starts[k] + VT_CHUNK_HEADER_BYTES + ed.c[k].n;
    vt_edit_bytes b = {img, size, starts, ed.count};

    for (size_t per = 0; per <= 1; per++) {
        vmbsave_fault_host_clear_logs(&e->host);
        vmbsave_channel *ch = vt_edit_restore_ok(e, &b, per, img_path);
        char *got = vt_describe(e, ch);
        char *got_nf = without_fresh(got);
        if (strcmp(got_nf, want_nf) != 0)
            fail_msg("the golden 1.0 image restores to a description other than %s:\n%s\n--- "
                     "expected ---\n%s",
                     desc_path, got, want);
        free(got_nf);
        free(got);
        if (e->host.restore_call_count != np)
            fail_msg("restoring the golden image made %u restore_packet calls for %u packets",
                     e->host.restore_call_count, np);
        for (uint32_t i = 0; i < np; i++)
            if (e->host.restore_calls[i].packet_id != ids[i] ||
                e->host.restore_calls[i].lib_size != lib[i] ||
                e->host.restore_calls[i].buf_size != ds[i])
                fail_msg("golden packet %u (id %llu): restore_packet got id %llu, a %u-byte "
                         "library buffer and %u bytes of driver state; expected %u and %u",
                         i, (unsigned long long)ids[i],
                         (unsigned long long)e->host.restore_calls[i].packet_id,
                         e->host.restore_calls[i].lib_size, e->host.restore_calls[i].buf_size,
                         lib[i], ds[i]);
        /* The scripted driver's state is a pure function of the packet id (harness/host/host.h):
         * what the 1.0 save stored must come back byte for byte. */
        if (e->host.restore_state_mismatches != 0)
            fail_msg("restoring the golden image delivered %u packets' driver state wrongly",
                     e->host.restore_state_mismatches);
        vt_destroy_channel(e, ch);
    }

    free(starts);
    vt_edit_free(&ed);
    free(want_nf);
    free(want);
    free(img);
    free(img_path);
    free(desc_path);
    vt_env_free(e);
}

static const struct CMUnitTest tests[] = {
    CLAUSE_TEST("FORMAT.LAYOUT", format_layout),
    CLAUSE_TEST("FORMAT.ORDER", format_order),
    CLAUSE_TEST("FORMAT.CHUNKING.CANONICAL", format_chunking_canonical),
    CLAUSE_TEST("FORMAT.COMPAT.NEWER_MINOR", format_compat_newer_minor),
    CLAUSE_TEST("FORMAT.COMPAT.OLDER_IMAGES", format_compat_older_images),
};

CLAUSE_TEST_MAIN("format", tests)
