/* The exhaustive image-format suite (issue 12 item 4), against the plug-in $VMBSAVE_PLUGIN
 * names. For every field and every rule of FORMAT.md's reader steps ("How a reader validates
 * each chunk"), an image taken from a canonical state (harness/program/canonical.h) or from a
 * channel built at every limit, edited to break exactly that one condition and made
 * consistent again (sequences, image ids, END totals, digest, checksums: support/image_edit.h),
 * so that only the check under test can refuse it; and images at each limit exactly, which
 * must restore, beside one past it, which must not.
 *
 * Every case is fed four ways, each into a fresh channel: whole (one call), one chunk per call
 * (the failure must come from the call carrying the chunk the rule names: the broken chunk,
 * or END for the checks of step 12), two chunks per call (from the call holding that chunk),
 * and split inside that chunk (a first call that ends inside it: STATUS_INVALID_BUFFER_SIZE,
 * unless the rule is one of the header checks of steps 2-4, which come before step 5).
 *
 * Each case names its clause, the one condition of SPEC.md its edit breaks, as CLAUSE(ID) of
 * oracle/spec_clauses.h (generated from SPEC.md): a misspelt or WITHDRAWN clause does not
 * compile, and every case checks at run time that its clause is a current one (a plain string
 * would slip past the compiler). A failure prints the clause with the case and the feed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oracle/spec_clauses.h"
#include "support/clause_test.h"
#include "support/check.h"
#include "support/fixture.h"
#include "support/image_edit.h"
#include "support/limits_channel.h"
#include "support/util.h"

/* ==== base images =========================================================================== */

typedef enum fs_base_id {
    B_ENABLED = 0, /* canonical empty_offer: an ENABLED HEADER, then END */
    B_GPADLS,      /* canonical open_gpadls: GPADLs, one TEARING_DOWN */
    B_PACKETS,     /* canonical paused_packets: GPADLs, packets, ring bytes both ways */
    B_RING,        /* canonical large_ring: RING chunks of exactly 65,536 bytes */
    B_LIMITS,      /* every count and value at its limit (vt_make_limits_channel) */
    B_BIG_GPADLS,  /* three GPADLs of 4,096 pfns: three GPADLS chunks (make_big_gpadls) */
    B_COUNT
} fs_base_id;

static const char *const k_base_names[B_COUNT] = {"empty_offer", "open_gpadls", "paused_packets",
                                                  "large_ring", "limits", "big_gpadls"};

typedef struct fs {
    vt_env *e;
    vt_edit_image base[B_COUNT];
    bool have[B_COUNT];
    unsigned cases;
} fs;

/* ENABLED with three GPADLs of the largest size: one GPADLS chunk each. */
static vmbsave_channel *make_big_gpadls(vt_env *e)
{
    vmbsave_channel *ch = vt_channel_new(e);
    vmbsave_offer offer;
    vt_fill_offer(&offer, 11);
    EXPECT_OK(e, e->v->init_set_offer(ch, &offer));
    EXPECT_OK(e, e->v->enable(ch));
    uint64_t *pfns = vt_xmalloc(VMBSAVE_MAX_GPADL_PFNS * sizeof *pfns);
    for (uint32_t g = 1; g <= 3; g++) {
        for (uint32_t i = 0; i < VMBSAVE_MAX_GPADL_PFNS; i++)
            pfns[i] = (uint64_t)g * 100000u + i;
        EXPECT_OK(e, e->v->gpadl_create(ch, g, pfns, VMBSAVE_MAX_GPADL_PFNS));
    }
    free(pfns);
    return ch;
}

/* The base image `id`, saved on first use (and, for the limits channel, restored whole and
 * saved again: it must restore, LIMIT.* and RESTORE.FIXED_POINT at every limit). */
static const vt_edit_image *base(fs *f, fs_base_id id)
{
    if (f->have[id])
        return &f->base[id];
    static const vmbsave_canonical_id canon[] = {
        VMBSAVE_CANONICAL_EMPTY_OFFER, VMBSAVE_CANONICAL_OPEN_GPADLS,
        VMBSAVE_CANONICAL_PAUSED_PACKETS, VMBSAVE_CANONICAL_LARGE_RING};
    vmbsave_channel *ch = id == B_LIMITS        ? vt_make_limits_channel(f->e)
                          : id == B_BIG_GPADLS ? make_big_gpadls(f->e)
                                               : vt_make_canonical(f->e, canon[id], 0);
    vt_image img;
    vt_save(f->e, ch, VMBSAVE_MAX_CHUNK_BYTES, &img);
    vt_destroy_channel(f->e, ch);
    vt_edit_parse(&f->base[id], img.bytes, img.size);
    vt_edit_bytes b;
    vt_edit_serialize(&f->base[id], &b);
    if (b.size != img.size || memcmp(b.b, img.bytes, img.size) != 0)
        fail_msg("re-serialising the saved %s image does not reproduce it: its checksums or "
                 "layout are not FORMAT.md's",
                 k_base_names[id]);
    vt_edit_bytes_free(&b);
    vt_image_free(&img);
    f->have[id] = true;
    return &f->base[id];
}

static void fs_init(fs *f)
{
    memset(f, 0, sizeof *f);
    f->e = vt_env_new();
}

static void fs_done(fs *f)
{
    printf("format suite: %u cases, each fed whole, one and two chunks per call, and split\n",
           f->cases);
    for (int i = 0; i < B_COUNT; i++)
        if (f->have[i])
            vt_edit_free(&f->base[i]);
    vt_env_free(f->e); /* asserts no allocation is left */
}

/* ==== feeding a case ======================================================================== */

#define AT_END ((size_t)-1)
#define AT_EDITED ((size_t)-2) /* field cases: the chunk the field is in */

typedef struct fs_case {
    const char *clause;
    const char *what;
    NTSTATUS want, alt; /* alt: a second status the clause permits (else == want) */
    size_t at;          /* the chunk whose call must fail (AT_END: the last) */
    bool header_step;   /* refused by steps 2-4, before the payload is looked at */
} fs_case;

/* Frees the channel of a restore: DISABLED unless the restore succeeded (a wrong answer of a
 * refused case; the status is reported after this). */
static void ch_cleanup_after(vt_env *e, vmbsave_channel *ch, NTSTATUS restore_status)
{
    if (restore_status == STATUS_SUCCESS) {
        vt_destroy_channel(e, ch);
        return;
    }
    vmbsave_host_enter(&e->host);
    NTSTATUS s = e->v->channel_cleanup(ch);
    vmbsave_host_leave(&e->host);
    if (s != STATUS_SUCCESS)
        fail_msg("channel_cleanup after a restore returned %s", vt_status_str(s));
}

static void case_failed(const fs_case *c, const char *feed, const char *fmt, ...)
{
    char detail[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    fail_msg("%s: %s (fed %s): %s", c->clause, c->what, feed, detail);
}

/* The current clauses of SPEC.md (generated: WITHDRAWN ones are left out). */
#define FS_CLAUSE_ENTRY(id) id,
static const char *const k_spec_clauses[] = {VMBSAVE_SPEC_CLAUSES(FS_CLAUSE_ENTRY)};

/* Every case runs this first, so that a clause written as a plain string (past CLAUSE()'s
 * compile-time check), misspelt or since WITHDRAWN, fails the suite instead of rotting. */
static void check_cited(const fs_case *c)
{
    for (size_t i = 0; i < sizeof k_spec_clauses / sizeof k_spec_clauses[0]; i++)
        if (strcmp(c->clause, k_spec_clauses[i]) == 0)
            return;
    fail_msg("%s: %s: the case cites no current clause of SPEC.md (misspelt or WITHDRAWN)",
             c->clause, c->what);
}

/* A case that must be refused: every feed, each into a fresh channel. */
/* Whether the case breaks a content check of FORMAT.md step 11 (its limits included), which
 * RESTORE.CORRUPT.WHEN lets a reader judge in the call carrying the chunk or in any later call
 * up to END (a reader that stages raw chunks). Steps 1 to 10 fail the carrying call, always. */
static bool content_check(const fs_case *c)
{
    static const char *const step11[] = {
        CLAUSE(RESTORE_CORRUPT_ENABLED_HEADER), CLAUSE(RESTORE_CORRUPT_ENUM),
        CLAUSE(RESTORE_CORRUPT_GPADL_ID_ZERO),  CLAUSE(RESTORE_CORRUPT_GPADL_ORDER),
        CLAUSE(RESTORE_CORRUPT_OFFER_RANGE),    CLAUSE(RESTORE_CORRUPT_OPEN_RANGE),
        CLAUSE(RESTORE_CORRUPT_PACKET_ID_ZERO), CLAUSE(RESTORE_CORRUPT_PFN_COUNT_ZERO),
        CLAUSE(RESTORE_CORRUPT_PFN_RANGE),      CLAUSE(RESTORE_CORRUPT_RECORD_COUNT),
        CLAUSE(RESTORE_CORRUPT_RECORD_LENGTH),  CLAUSE(RESTORE_CORRUPT_RING_PIECES),
        CLAUSE(RESTORE_CORRUPT_SEQUENCE_ORDER), CLAUSE(RESTORE_CORRUPT_SHORT_PAYLOAD),
        CLAUSE(RESTORE_LIMITS_BEFORE_ALLOC),    CLAUSE(LIMIT_GPADL),
        CLAUSE(LIMIT_RING)};
    for (size_t i = 0; i < sizeof(step11) / sizeof(step11[0]); i++)
        if (strcmp(c->clause, step11[i]) == 0)
            return true;
    return false;
}

static void run_refused(fs *f, const fs_case *c, const vt_edit_bytes *b)
{
    vt_env *e = f->e;
    check_cited(c);
    size_t at = c->at == AT_END ? b->count - 1 : c->at;
    static const size_t per_call[] = {0, 1, 2};
    static const char *const feed_name[] = {"whole", "one chunk per call", "two chunks per call"};
    for (int m = 0; m < 3; m++) {
        vmbsave_channel *ch = vt_channel_new(e);
        vt_edit_feed_out r = vt_edit_feed_n(e, ch, b, per_call[m]);
        ch_cleanup_after(e, ch, r.status);
        if (r.status != c->want && r.status != c->alt)
            case_failed(c, feed_name[m], "restore returned %s from the call with chunks %zu..%zu, "
                        "expected %s", vt_status_str(r.status), r.first, r.next,
                        vt_status_str(c->want));
        /* A content check may be left to a later call (RESTORE.CORRUPT.WHEN's Permits). */
        bool too_early = at >= r.next, too_late = at < r.first && !content_check(c);
        if (per_call[m] != 0 && (too_early || too_late))
            case_failed(c, feed_name[m], "%s came from the call with chunks %zu..%zu, expected "
                        "the call carrying chunk %zu (of %zu)%s", vt_status_str(r.status),
                        r.first, r.next - 1, at, b->count,
                        content_check(c) ? " or a later one" : "");
    }
    /* Split inside chunk `at`: the first call holds the chunks before it and part of it. */
    size_t len = b->start[at + 1] - b->start[at];
    size_t cut = b->start[at] + (len > VT_CHUNK_HEADER_BYTES ? VT_CHUNK_HEADER_BYTES +
                                 (len - VT_CHUNK_HEADER_BYTES) / 2 : len / 2);
    NTSTATUS want = c->header_step ? c->want : STATUS_INVALID_BUFFER_SIZE;
    NTSTATUS alt = c->header_step ? c->alt : STATUS_INVALID_BUFFER_SIZE;
    vmbsave_channel *ch = vt_channel_new(e);
    NTSTATUS s = vt_call_restore(e, ch, b->b, cut);
    ch_cleanup_after(e, ch, s);
    if (s != want && s != alt)
        case_failed(c, "split inside the chunk", "a call ending %zu bytes into chunk %zu "
                    "returned %s, expected %s", cut - b->start[at], at, vt_status_str(s),
                    vt_status_str(want));
}

/* A case that must restore: every whole-chunk feed. */
static void run_accepted(fs *f, const fs_case *c, const vt_edit_bytes *b)
{
    static const size_t per_call[] = {0, 1, 2};
    static const char *const feed_name[] = {"whole", "one chunk per call", "two chunks per call"};
    check_cited(c);
    for (int m = 0; m < 3; m++) {
        vmbsave_channel *ch = vt_channel_new(f->e);
        vt_edit_feed_out r = vt_edit_feed_n(f->e, ch, b, per_call[m]);
        if (r.status != STATUS_SUCCESS || r.next != b->count)
            case_failed(c, feed_name[m], "restore returned %s from the call with chunks "
                        "%zu..%zu of %zu, expected STATUS_SUCCESS from the last",
                        vt_status_str(r.status), r.first, r.next, b->count);
        vt_destroy_channel(f->e, ch);
    }
}

/* Serialises `ed` (after vt_edit_fix() unless !fix) and runs the case. */
static void run_ed(fs *f, const fs_case *c, vt_edit_image *ed, bool fix)
{
    if (fix)
        vt_edit_fix(ed);
    vt_edit_bytes b;
    vt_edit_serialize(ed, &b);
    f->cases++;
    if (c->want == STATUS_SUCCESS)
        run_accepted(f, c, &b);
    else
        run_refused(f, c, &b);
    vt_edit_bytes_free(&b);
}

/* ==== field edits =========================================================================== */

#define NOREC UINT32_MAX
#define LASTREC (UINT32_MAX - 1u)

/* Where a field is: chunk (type, nth; nth SIZE_MAX: the last of that type), record (NOREC: an
 * offset in the payload), offset, width in bytes. */
typedef struct fs_field {
    uint16_t type;
    size_t nth;
    uint32_t rec;
    uint32_t off;
    unsigned width;
} fs_field;

static size_t find_chunk(const vt_edit_image *ed, uint16_t type, size_t nth)
{
    if (nth != SIZE_MAX)
        return vt_edit_find(ed, type, nth);
    size_t last = SIZE_MAX;
    for (size_t k = 0; k < ed->count; k++)
        if (ed->c[k].type == type)
            last = k;
    if (last == SIZE_MAX)
        fail_msg("the image has no chunk of type %u", type);
    return last;
}

static uint8_t *field_ptr(vt_edit_image *ed, const fs_field *fd, size_t *chunk)
{
    size_t k = find_chunk(ed, fd->type, fd->nth);
    vt_edit_chunk *c = &ed->c[k];
    uint32_t off = fd->off;
    if (fd->rec != NOREC) {
        uint32_t rec = fd->rec == LASTREC ? vt_edit_rec_count(c) - 1u : fd->rec;
        off += vt_edit_rec_off(c, rec);
    }
    if (off + fd->width > c->n)
        fail_msg("field at %u (+%u) is outside chunk %zu's %u payload bytes", off, fd->width, k,
                 c->n);
    *chunk = k;
    return c->p + off;
}

static void put_field(uint8_t *p, unsigned width, uint64_t v)
{
    if (width == 2)
        vt_put16(p, (uint16_t)v);
    else if (width == 4)
        vt_put32(p, (uint32_t)v);
    else
        vt_put64(p, v);
}

/* One case: base image `bid` with the field set to `v`. The failing call is the one carrying
 * chunk `at`: AT_EDITED the edited chunk, AT_END the last. */
static void field_case(fs *f, const char *clause, const char *what, fs_base_id bid,
                       fs_field fd, uint64_t v, NTSTATUS want, NTSTATUS alt, size_t at)
{
    vt_edit_image ed;
    vt_edit_copy(&ed, base(f, bid));
    size_t k = 0;
    put_field(field_ptr(&ed, &fd, &k), fd.width, v);
    fs_case c = {clause, what, want, alt, at == AT_EDITED ? k : at, false};
    run_ed(f, &c, &ed, true);
    vt_edit_free(&ed);
}

#define HDR(off, w) ((fs_field){VT_TYPE_HEADER, 0, NOREC, (off), (w)})
#define GREC(rec, off, w) ((fs_field){VT_TYPE_GPADLS, 0, (rec), (off), (w)})
#define PREC(rec, off, w) ((fs_field){VT_TYPE_PACKETS, 0, (rec), (off), (w)})
#define FIRST_OF(t, off, w) ((fs_field){(t), 0, NOREC, (off), (w)})
#define END_FIELD(off, w) ((fs_field){VT_TYPE_END, 0, NOREC, (off), (w)})

#define CORRUPT STATUS_FILE_CORRUPT_ERROR
#define LIMIT STATUS_IMPLEMENTATION_LIMIT
#define LIMITS CLAUSE(RESTORE_LIMITS_BEFORE_ALLOC)
#define SEQ_ORDER CLAUSE(RESTORE_CORRUPT_SEQUENCE_ORDER)

/* A refused field value, failing at its chunk. */
static void refused(fs *f, const char *clause, const char *what, fs_base_id bid, fs_field fd,
                    uint64_t v, NTSTATUS want)
{
    field_case(f, clause, what, bid, fd, v, want, want, AT_EDITED);
}

/* An accepted field value. */
static void accepted(fs *f, const char *clause, const char *what, fs_base_id bid, fs_field fd,
                     uint64_t v)
{
    field_case(f, clause, what, bid, fd, v, STATUS_SUCCESS, STATUS_SUCCESS, AT_EDITED);
}

/* ==== steps 1-10: the chunk header ========================================================== */

/* Every chunk of every base image: each header field broken alone. */
static void header_fields(fs *f, fs_base_id bid)
{
    const vt_edit_image *src = base(f, bid);
    char what[192];
    for (size_t k = 0; k < src->count; k++) {
        const char *tn = k == 0 ? "HEADER" : k + 1 == src->count ? "END" : "inner";
        vt_edit_image ed;
        struct {
            const char *clause, *field;
            uint32_t which, value;
            NTSTATUS want;
            bool header_step;
        } const edits[] = {
            {CLAUSE(RESTORE_CORRUPT_MAGIC), "magic", 0, VT_CHUNK_MAGIC ^ 0x01000000u, CORRUPT,
             true},
            {CLAUSE(RESTORE_CORRUPT_MAGIC), "magic", 0, 0, CORRUPT, true},
            {CLAUSE(RESTORE_VERSION_MAJOR), "major", 1, 0, STATUS_UNKNOWN_REVISION, true},
            {CLAUSE(RESTORE_VERSION_MAJOR), "major", 1, 2, STATUS_UNKNOWN_REVISION, true},
            {CLAUSE(RESTORE_VERSION_MAJOR), "major", 1, 0xFFFF, STATUS_UNKNOWN_REVISION, true},
            {CLAUSE(RESTORE_CORRUPT_RESERVED), "reserved", 2, 1, CORRUPT, false},
            {CLAUSE(RESTORE_CORRUPT_RESERVED), "reserved", 2, 0x80000000u, CORRUPT, false},
            {CLAUSE(RESTORE_CORRUPT_RESERVED), "flags", 3, 0x2, CORRUPT, false},
            {CLAUSE(RESTORE_CORRUPT_RESERVED), "flags", 3, 0x8000, CORRUPT, false},
            {CLAUSE(RESTORE_SEQUENCE), "sequence", 4, 1, STATUS_REQUEST_OUT_OF_SEQUENCE, false},
            {CLAUSE(RESTORE_FOREIGN_CHUNK), "image_id", 5, 1, STATUS_REVISION_MISMATCH, false},
        };
        for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
            /* A HEADER with another image id is not its own hash (step 8, first sentence). */
            NTSTATUS want = edits[i].which == 5 && k == 0 ? CORRUPT : edits[i].want;
            const char *clause =
                edits[i].which == 5 && k == 0 ? CLAUSE(RESTORE_CORRUPT_IMAGE_ID) : edits[i].clause;
            vt_edit_copy(&ed, src);
            vt_edit_fix(&ed);
            vt_edit_chunk *c = &ed.c[k];
            switch (edits[i].which) {
            case 0: c->magic = edits[i].value; break;
            case 1: c->major = (uint16_t)edits[i].value; break;
            case 2: c->reserved = edits[i].value; break;
            case 3: c->flags = (uint16_t)edits[i].value; break;
            case 4: c->sequence += edits[i].value; break;
            default: c->image_id ^= edits[i].value; break;
            }
            snprintf(what, sizeof what, "%s: chunk %zu (%s, type %u): %s 0x%x", k_base_names[bid],
                     k, tn, c->type, edits[i].field, edits[i].value);
            fs_case cs = {clause, what, want, want, k, edits[i].header_step};
            run_ed(f, &cs, &ed, false);
            vt_edit_free(&ed);
        }
        /* A newer minor: accepted (FORMAT.COMPAT.NEWER_MINOR). */
        vt_edit_copy(&ed, src);
        ed.c[k].minor = 1;
        snprintf(what, sizeof what, "%s: chunk %zu (%s): minor 1", k_base_names[bid], k, tn);
        fs_case ok = {CLAUSE(FORMAT_COMPAT_NEWER_MINOR), what, STATUS_SUCCESS, STATUS_SUCCESS, 0,
                      false};
        run_ed(f, &ok, &ed, true);
        vt_edit_free(&ed);
    }
}

static void fs_chunk_header(void **state)
{
    (void)state;
    fs f;
    fs_init(&f);
    for (int b = 0; b < B_LIMITS; b++)
        header_fields(&f, (fs_base_id)b);
    fs_done(&f);
}

/* Step 6: a payload byte changed without resealing, in every chunk (first and last byte). */
static void fs_checksum(void **state)
{
    (void)state;
    fs f;
    fs_init(&f);
    const vt_edit_image *src = base(&f, B_PACKETS);
    vt_edit_bytes b;
    vt_edit_serialize(src, &b);
    char what[160];
    for (size_t k = 0; k < b.count; k++) {
        for (int end = 0; end < 2; end++) {
            size_t pos = end ? b.start[k + 1] - 1 : b.start[k] + VT_CHUNK_HEADER_BYTES;
            b.b[pos] ^= 0x10u;
            snprintf(what, sizeof what, "chunk %zu: payload byte %zu flipped, not resealed", k,
                     pos - b.start[k] - VT_CHUNK_HEADER_BYTES);
            fs_case c = {CLAUSE(RESTORE_CORRUPT_CHECKSUM), what, STATUS_DATA_ERROR,
                         STATUS_DATA_ERROR, k, false};
            f.cases++;
            run_refused(&f, &c, &b);
            b.b[pos] ^= 0x10u;
        }
    }
    vt_edit_bytes_free(&b);
    fs_done(&f);
}

/* Step 9: order. Step 10: unknown types. Step 4: payload_bytes one past the largest chunk. */
static void fs_sequence(void **state)
{
    (void)state;
    fs f;
    fs_init(&f);
    const vt_edit_image *src = base(&f, B_PACKETS);
    vt_edit_image ed;
    char what[160];
    const size_t n = src->count;
    for (size_t k = 1; k + 1 < n; k++) {
        /* Dropped: chunk k missing (sequences renumbered would hide nothing: keep them). */
        vt_edit_copy(&ed, src);
        vt_edit_fix(&ed);
        vt_edit_remove(&ed, k);
        snprintf(what, sizeof what, "chunk %zu (type %u) dropped", k, src->c[k].type);
        fs_case c = {CLAUSE(RESTORE_SEQUENCE), what, STATUS_REQUEST_OUT_OF_SEQUENCE,
                     STATUS_REQUEST_OUT_OF_SEQUENCE, k, false};
        run_ed(&f, &c, &ed, false);
        vt_edit_free(&ed);
        /* Duplicated, with the sequence it would carry there: only the type order is broken
         * when types differ; a second GPADLS/PACKETS/RING of the same type is then a content
         * error (records beyond the declared totals), so only chunks whose type is a
         * singleton in the order, or whose neighbour differs, are taken. */
        if (src->c[k].type != src->c[k + 1].type && src->c[k + 1].type != VT_TYPE_END) {
            vt_edit_copy(&ed, src);
            vt_edit_swap(&ed, k, k + 1);
            vt_edit_fix(&ed); /* sequences follow positions: the type order alone is broken */
            snprintf(what, sizeof what, "chunks %zu and %zu (types %u, %u) swapped", k, k + 1,
                     src->c[k].type, src->c[k + 1].type);
            /* The later type, now first, is in order; the earlier one after it is not. */
            fs_case s = {CLAUSE(RESTORE_SEQUENCE), what, STATUS_REQUEST_OUT_OF_SEQUENCE,
                         STATUS_REQUEST_OUT_OF_SEQUENCE, k + 1, false};
            run_ed(&f, &s, &ed, false);
            vt_edit_free(&ed);
        }
    }
    /* A second HEADER; a first chunk that is not a HEADER. */
    vt_edit_copy(&ed, src);
    vt_edit_insert(&ed, 1, &src->c[0]);
    vt_edit_fix(&ed);
    fs_case dup = {CLAUSE(RESTORE_SEQUENCE), "a second HEADER", STATUS_REQUEST_OUT_OF_SEQUENCE,
                   STATUS_REQUEST_OUT_OF_SEQUENCE, 1, false};
    run_ed(&f, &dup, &ed, false);
    vt_edit_free(&ed);
    vt_edit_copy(&ed, src);
    vt_edit_swap(&ed, 0, 1);
    vt_edit_fix(&ed);
    /* vt_edit_fix takes the image id from the first HEADER wherever it stands. */
    fs_case first = {CLAUSE(RESTORE_SEQUENCE), "first chunk not a HEADER",
                     STATUS_REQUEST_OUT_OF_SEQUENCE, STATUS_REQUEST_OUT_OF_SEQUENCE, 0, false};
    run_ed(&f, &first, &ed, false);
    vt_edit_free(&ed);

    /* Step 10: an unknown type before END, without and with OPTIONAL. */
    static const uint16_t unknown[] = {0, 5, 0x7FFF, 0xFFFE};
    for (size_t u = 0; u < sizeof unknown / sizeof unknown[0]; u++) {
        for (int opt = 0; opt < 2; opt++) {
            for (size_t at = 1; at < n; at += n - 2) { /* after HEADER; before END */
                vt_edit_chunk extra = {VT_CHUNK_MAGIC, 1, 0, unknown[u], 0, 0, 0, 0, NULL, 0};
                uint8_t body[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
                extra.flags = opt ? VT_FLAG_OPTIONAL : 0;
                extra.p = body;
                extra.n = sizeof body;
                vt_edit_copy(&ed, src);
                vt_edit_insert(&ed, at, &extra);
                snprintf(what, sizeof what, "chunk of type 0x%x%s before chunk %zu", unknown[u],
                         opt ? " (OPTIONAL)" : "", at);
                fs_case c = {opt ? CLAUSE(FORMAT_COMPAT_NEWER_MINOR)
                                 : CLAUSE(RESTORE_UNKNOWN_CHUNK),
                             what,
                             opt ? STATUS_SUCCESS : STATUS_NOT_SUPPORTED,
                             opt ? STATUS_SUCCESS : STATUS_NOT_SUPPORTED, at, false};
                run_ed(&f, &c, &ed, true);
                vt_edit_free(&ed);
            }
        }
    }
    /* Bytes after END: one, and a whole extra END. */
    vt_edit_bytes b;
    vt_edit_serialize(src, &b);
    uint8_t *longer = vt_xmalloc(b.size + 1);
    memcpy(longer, b.b, b.size);
    longer[b.size] = 0;
    vmbsave_channel *ch = vt_channel_new(f.e);
    NTSTATUS s = vt_call_restore(f.e, ch, longer, b.size + 1);
    ch_cleanup_after(f.e, ch, s);
    if (s != STATUS_REQUEST_OUT_OF_SEQUENCE)
        fail_msg(CLAUSE(RESTORE_MORE_PROCESSING) ": one byte after END returned %s, expected "
                 "STATUS_REQUEST_OUT_OF_SEQUENCE", vt_status_str(s));
    free(longer);
    vt_edit_bytes_free(&b);
    fs_done(&f);
}

/* Step 4 (and RESTORE.LIMITS.BEFORE_ALLOC): payload_bytes one past what fits 65,536 bytes,
 * written into the serialised header (the step comes before the checksum); and a chunk of
 * exactly 65,536 bytes restores (the large_ring image has several). */
static void fs_chunk_size(void **state)
{
    (void)state;
    fs f;
    fs_init(&f);
    const vt_edit_image *src = base(&f, B_RING);
    vt_edit_bytes b;
    vt_edit_serialize(src, &b);
    size_t full = 0;
    for (size_t k = 0; k < b.count; k++)
        full += b.start[k + 1] - b.start[k] == VMBSAVE_MAX_CHUNK_BYTES;
    if (full == 0)
        fail_msg("the large_ring image has no chunk of exactly %u bytes", VMBSAVE_MAX_CHUNK_BYTES);
    fs_case ok = {CLAUSE(LIMIT_CHUNK), "large_ring: chunks of exactly 65,536 bytes", STATUS_SUCCESS,
                  STATUS_SUCCESS, 0, false};
    f.cases++;
    run_accepted(&f, &ok, &b);
    char what[160];
    for (size_t k = 0; k < b.count; k++) {
        uint8_t *h = b.b + b.start[k];
        uint32_t old = vt_get32(h + 16);
        vt_put32(h + 16, VMBSAVE_MAX_CHUNK_BYTES - VT_CHUNK_HEADER_BYTES + 1u);
        snprintf(what, sizeof what, "chunk %zu: payload_bytes %u", k,
                 VMBSAVE_MAX_CHUNK_BYTES - VT_CHUNK_HEADER_BYTES + 1u);
        fs_case c = {LIMITS, what, LIMIT, LIMIT, k, true};
        f.cases++;
        run_refused(&f, &c, &b);
        vt_put32(h + 16, old);
    }
    vt_edit_bytes_free(&b);
    fs_done(&f);
}

/* ==== step 11: HEADER ======================================================================= */

static void fs_header(void **state)
{
    (void)state;
    fs f;
    fs_init(&f);
    char what[160];
    vt_edit_image ed;

    /* Payload shorter than 1.0's 208 bytes. */
    vt_edit_copy(&ed, base(&f, B_PACKETS));
    vt_edit_splice(&ed.c[0], VT_HEADER_PAYLOAD_BYTES - 1u, 1, NULL, 0);
    fs_case shortp = {CLAUSE(RESTORE_CORRUPT_SHORT_PAYLOAD), "HEADER payload of 207 bytes",
                      CORRUPT, CORRUPT, 0, false};
    run_ed(&f, &shortp, &ed, true);
    vt_edit_free(&ed);

    static const uint32_t states[] = {0, 3, 4, 0xFFFFFFFFu};
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++) {
        snprintf(what, sizeof what, "HEADER state %u", states[i]);
        refused(&f, CLAUSE(RESTORE_CORRUPT_ENUM), what, B_PACKETS, HDR(VT_HEADER_STATE, 4),
                states[i], CORRUPT);
    }
    /* The offer: each condition of init_set_offer's check alone, one past its limit (the
     * limits channel holds each at its maximum and restores). */
#define OFFER_RANGE CLAUSE(RESTORE_CORRUPT_OFFER_RANGE)
    refused(&f, OFFER_RANGE, "offer subchannel index 256 (alone)", B_PACKETS, HDR(36, 2),
            VMBSAVE_MAX_SUBCHANNEL_INDEX + 1u, CORRUPT);
    refused(&f, OFFER_RANGE, "offer subchannel index 0xFFFF (alone)", B_PACKETS, HDR(36, 2),
            0xFFFF, CORRUPT);
    refused(&f, OFFER_RANGE, "offer MMIO megabytes 4097 (alone)", B_PACKETS, HDR(38, 2),
            VMBSAVE_MAX_MMIO_MEGABYTES + 1u, CORRUPT);
    refused(&f, OFFER_RANGE, "offer flags 0x20 (alone)", B_PACKETS, HDR(VT_HEADER_OFFER_FLAGS, 4),
            VMBSAVE_OFFER_FLAGS_VALID + 1u, CORRUPT);
    refused(&f, OFFER_RANGE, "offer flags 0x80000000 (alone)", B_PACKETS,
            HDR(VT_HEADER_OFFER_FLAGS, 4), 0x80000000u, CORRUPT);
    /* At the limit: accepted (the clause's own words; LIMIT.OFFER sets the maxima). */
    accepted(&f, OFFER_RANGE, "offer subchannel index 255", B_PACKETS, HDR(36, 2),
             VMBSAVE_MAX_SUBCHANNEL_INDEX);
    accepted(&f, OFFER_RANGE, "offer MMIO megabytes 4096", B_PACKETS, HDR(38, 2),
             VMBSAVE_MAX_MMIO_MEGABYTES);
    accepted(&f, OFFER_RANGE, "offer flags 0x1F", B_PACKETS, HDR(VT_HEADER_OFFER_FLAGS, 4),
             VMBSAVE_OFFER_FLAGS_VALID);
#undef OFFER_RANGE

    /* An ENABLED HEADER: each open field, the packet count and each pending count alone. */
    static const struct {
        uint32_t off;
        const char *name;
    } enabled_zero[] = {
        {VT_HEADER_RING_GPADL, "ring GPADL id"},   {VT_HEADER_IN_RING, "incoming ring bytes"},
        {VT_HEADER_OUT_RING, "outgoing ring bytes"}, {176, "target VP"},
        {VT_HEADER_CONNECTION, "connection id"},   {VT_HEADER_PACKETS, "packet count"},
        {VT_HEADER_IN_PENDING, "incoming pending"}, {VT_HEADER_OUT_PENDING, "outgoing pending"},
    };
    for (size_t i = 0; i < sizeof enabled_zero / sizeof enabled_zero[0]; i++) {
        snprintf(what, sizeof what, "ENABLED HEADER with %s 1 (alone)", enabled_zero[i].name);
        /* A pending count or packet count the image then lacks breaks END's totals too, but
         * the HEADER comes first. A pending byte is also above that ring's size, 0: the
         * clause's Permits allow IMPLEMENTATION_LIMIT for it. */
        bool pending = enabled_zero[i].off == VT_HEADER_IN_PENDING ||
                       enabled_zero[i].off == VT_HEADER_OUT_PENDING;
        field_case(&f, CLAUSE(RESTORE_CORRUPT_ENABLED_HEADER), what, B_ENABLED,
                   HDR(enabled_zero[i].off, 4), 1, CORRUPT, pending ? LIMIT : CORRUPT, AT_EDITED);
    }

    /* An OPEN_PAUSED HEADER: guest_open's checks, each alone. */
    refused(&f, CLAUSE(RESTORE_CORRUPT_OPEN_RANGE), "connection id 0", B_PACKETS,
            HDR(VT_HEADER_CONNECTION, 4), 0, CORRUPT);
    refused(&f, CLAUSE(RESTORE_CORRUPT_OPEN_RANGE), "target VP 2048", B_PACKETS, HDR(176, 4),
            VMBSAVE_MAX_TARGET_VP + 1u, CORRUPT);
    /* LIMIT.RING sets target_vp's maximum (LIMIT.OFFER, cited here before, does not). */
    accepted(&f, CLAUSE(LIMIT_RING), "target VP 2047", B_PACKETS, HDR(176, 4),
             VMBSAVE_MAX_TARGET_VP);
    static const uint32_t ring_offs[] = {VT_HEADER_IN_RING, VT_HEADER_OUT_RING};
    for (int d = 0; d < 2; d++) {
        const char *dn = d == 0 ? "incoming" : "outgoing";
        static const uint32_t bad[] = {0, VMBSAVE_PAGE_BYTES, VMBSAVE_MIN_RING_BYTES + 1u,
                                       VMBSAVE_MIN_RING_BYTES + VMBSAVE_PAGE_BYTES / 2u};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            snprintf(what, sizeof what, "%s ring bytes %u", dn, bad[i]);
            /* 0 is below the ring's pending bytes as well: a limit too, and either status
             * answers (SPEC.md, the paragraph before RESTORE.CORRUPT.WHEN). */
            field_case(&f, CLAUSE(RESTORE_CORRUPT_OPEN_RANGE), what, B_PACKETS,
                       HDR(ring_offs[d], 4), bad[i], CORRUPT, bad[i] == 0 ? LIMIT : CORRUPT,
                       AT_EDITED);
        }
        snprintf(what, sizeof what, "%s ring bytes %u (one page past the limit)", dn,
                 VMBSAVE_MAX_RING_BYTES + VMBSAVE_PAGE_BYTES);
        refused(&f, LIMITS, what, B_PACKETS, HDR(ring_offs[d], 4),
                VMBSAVE_MAX_RING_BYTES + VMBSAVE_PAGE_BYTES, LIMIT);
        snprintf(what, sizeof what, "%s ring bytes %u (the limit)", dn, VMBSAVE_MAX_RING_BYTES);
        accepted(&f, CLAUSE(LIMIT_RING), what, B_PACKETS, HDR(ring_offs[d], 4),
                 VMBSAVE_MAX_RING_BYTES);
    }
    refused(&f, SEQ_ORDER, "next send sequence 0", B_PACKETS, HDR(184, 8), 0, CORRUPT);
    refused(&f, LIMITS, "GPADL count 65", B_PACKETS, HDR(VT_HEADER_GPADLS, 4),
            VMBSAVE_MAX_GPADLS + 1u, LIMIT);
    refused(&f, LIMITS, "packet count 4097", B_PACKETS, HDR(VT_HEADER_PACKETS, 4),
            VMBSAVE_MAX_PACKETS + 1u, LIMIT);
    refused(&f, LIMITS, "incoming pending above the ring's size", B_PACKETS,
            HDR(VT_HEADER_IN_PENDING, 4), VMBSAVE_MIN_RING_BYTES * 64u + 1u, LIMIT);
    refused(&f, LIMITS, "incoming pending above VMBSAVE_MAX_RING_BYTES", B_PACKETS,
            HDR(VT_HEADER_IN_PENDING, 4), VMBSAVE_MAX_RING_BYTES + 1u, LIMIT);
    fs_done(&f);
}

/* ==== step 11: GPADLS, PACKETS, RING ======================================================== */

static void fs_records(void **state)
{
    (void)state;
    fs f;
    fs_init(&f);
    char what[160];
    vt_edit_image ed;

    /* GPADLS. */
    const vt_edit_image *g = base(&f, B_GPADLS);
    const size_t gi = vt_edit_find(g, VT_TYPE_GPADLS, 0);
    const uint32_t grecs = vt_edit_rec_count(&g->c[gi]);
    refused(&f, CLAUSE(RESTORE_CORRUPT_RECORD_COUNT), "GPADLS record count 0", B_GPADLS,
            FIRST_OF(VT_TYPE_GPADLS, 0, 4), 0, CORRUPT);
    /* The missing record's head does not fit in the chunk; the count is also one more than
     * the HEADER declared (RESTORE.CORRUPT.RECORD_COUNT, the same status). */
    refused(&f, CLAUSE(RESTORE_CORRUPT_RECORD_LENGTH), "GPADLS record count one more than present",
            B_GPADLS, FIRST_OF(VT_TYPE_GPADLS, 0, 4), grecs + 1u, CORRUPT);
    refused(&f, LIMITS, "GPADLS record count 65", B_GPADLS, FIRST_OF(VT_TYPE_GPADLS, 0, 4),
            VMBSAVE_MAX_GPADLS + 1u, LIMIT);
    /* More records than the HEADER declares: the chunk carrying the extra record fails. */
    snprintf(what, sizeof what, "HEADER declares %u GPADLs, the chunk holds %u", grecs - 1u,
             grecs);
    field_case(&f, CLAUSE(RESTORE_CORRUPT_RECORD_COUNT), what, B_GPADLS, HDR(VT_HEADER_GPADLS, 4),
               grecs - 1u, CORRUPT, CORRUPT, gi);
    /* The same in the third of three GPADLS chunks: the HEADER's count left for it is the
     * declared one minus what the chunks before it held. */
    {
        const vt_edit_image *big = base(&f, B_BIG_GPADLS);
        size_t third = vt_edit_find(big, VT_TYPE_GPADLS, 2);
        field_case(&f, CLAUSE(RESTORE_CORRUPT_RECORD_COUNT),
                   "HEADER declares 2 GPADLs, three GPADLS chunks hold one each", B_BIG_GPADLS,
                   HDR(VT_HEADER_GPADLS, 4), 2, CORRUPT, CORRUPT, third);
    }
    /* Fixed at END instead: the chunk may hold fewer than declared. */
    vt_edit_copy(&ed, g);
    vt_put32(ed.c[0].p + VT_HEADER_GPADLS, grecs + 1u);
    fs_case fewer = {CLAUSE(RESTORE_CORRUPT_TOTALS),
                     "HEADER declares one GPADL more than the image holds", CORRUPT, CORRUPT,
                     AT_END, false};
    run_ed(&f, &fewer, &ed, true);
    vt_edit_free(&ed);
    for (uint32_t r = 0; r < grecs; r += grecs - 1u) {
        snprintf(what, sizeof what, "GPADL record %u: id 0", r);
        /* The last record's id 0 is also lower than the one before (GPADL_ORDER, the same
         * status). */
        refused(&f, CLAUSE(RESTORE_CORRUPT_GPADL_ID_ZERO), what, B_GPADLS, GREC(r, VT_GPADL_ID, 4),
                0, CORRUPT);
        static const uint32_t bad_states[] = {0, 3, 0xFFFFFFFFu};
        for (size_t i = 0; i < 3; i++) {
            snprintf(what, sizeof what, "GPADL record %u: state %u", r, bad_states[i]);
            refused(&f, CLAUSE(RESTORE_CORRUPT_ENUM), what, B_GPADLS, GREC(r, VT_GPADL_STATE, 4),
                    bad_states[i], CORRUPT);
        }
        snprintf(what, sizeof what, "GPADL record %u: pfn count 0", r);
        refused(&f, CLAUSE(RESTORE_CORRUPT_PFN_COUNT_ZERO), what, B_GPADLS,
                GREC(r, VT_GPADL_PFNS, 4), 0, CORRUPT);
        snprintf(what, sizeof what, "GPADL record %u: record_bytes 15", r);
        refused(&f, CLAUSE(RESTORE_CORRUPT_RECORD_LENGTH), what, B_GPADLS, GREC(r, 0, 4),
                VT_GPADL_FIXED - 1u, CORRUPT);
        /* Pfn count one more than the record has room for. */
        vt_edit_copy(&ed, g);
        size_t k = 0;
        uint8_t *p = field_ptr(&ed, &(fs_field){VT_TYPE_GPADLS, 0, r, VT_GPADL_PFNS, 4}, &k);
        vt_put32(p, vt_get32(p) + 1u);
        snprintf(what, sizeof what, "GPADL record %u: pfn count one past its record_bytes", r);
        fs_case room = {CLAUSE(RESTORE_CORRUPT_RECORD_LENGTH), what, CORRUPT, CORRUPT, k, false};
        run_ed(&f, &room, &ed, true);
        vt_edit_free(&ed);
        /* The first and the last pfn above VMBSAVE_MAX_PFN, each alone. */
        vt_edit_copy(&ed, g);
        p = field_ptr(&ed, &(fs_field){VT_TYPE_GPADLS, 0, r, VT_GPADL_PFNS, 4}, &k);
        uint32_t pfns = vt_get32(p);
        vt_edit_free(&ed);
        snprintf(what, sizeof what, "GPADL record %u: first pfn 2^52", r);
        refused(&f, CLAUSE(RESTORE_CORRUPT_PFN_RANGE), what, B_GPADLS, GREC(r, VT_GPADL_FIXED, 8),
                VMBSAVE_MAX_PFN + 1u, CORRUPT);
        snprintf(what, sizeof what, "GPADL record %u: last pfn UINT64_MAX", r);
        refused(&f, CLAUSE(RESTORE_CORRUPT_PFN_RANGE), what, B_GPADLS,
                GREC(r, VT_GPADL_FIXED + 8u * (pfns - 1u), 8), UINT64_MAX, CORRUPT);
        snprintf(what, sizeof what, "GPADL record %u: first pfn VMBSAVE_MAX_PFN", r);
        accepted(&f, CLAUSE(RESTORE_CORRUPT_PFN_RANGE), what, B_GPADLS,
                 GREC(r, VT_GPADL_FIXED, 8), VMBSAVE_MAX_PFN);
    }
    /* A reader that skips a bad record, or the rest of its chunk, instead of refusing it leaves
     * the totals short, so END refuses the image anyway; unless a later chunk makes up the
     * count. The last record of the first GPADLS gets a pfn one past VMBSAVE_MAX_PFN, and an
     * extra GPADLS after it holds that record intact: PFN_RANGE is broken (and the records
     * outnumber the HEADER's count, which a reader that refuses the bad record never sees).
     * Kills restore.c's pfn check made to return STATUS_SUCCESS (ci/mutation.sh). */
    {
        vt_edit_copy(&ed, g);
        size_t gk = vt_edit_find(&ed, VT_TYPE_GPADLS, 0);
        uint32_t n = vt_edit_rec_count(&ed.c[gk]);
        if (n == 0)
            fail_msg("open_gpadls: its first GPADLS chunk holds no record");
        uint32_t off = vt_edit_rec_off(&ed.c[gk], n - 1u); /* it runs to the payload's end */
        if (vt_get32(ed.c[gk].p + off + VT_GPADL_PFNS) == 0)
            fail_msg("open_gpadls: its last GPADL record has no pfn");
        vt_edit_chunk extra;
        vt_edit_chunk_copy(&extra, &ed.c[gk]);
        vt_edit_splice(&extra, 4, off - 4u, NULL, 0); /* the count, then the last record */
        vt_put32(extra.p, 1);
        vt_put64(ed.c[gk].p + off + VT_GPADL_FIXED, VMBSAVE_MAX_PFN + 1u);
        vt_edit_insert(&ed, gk + 1u, &extra);
        free(extra.p);
        fs_case made_up = {CLAUSE(RESTORE_CORRUPT_PFN_RANGE),
                           "last GPADL record's pfn 2^52, the record again in a later GPADLS",
                           CORRUPT, CORRUPT, gk, false};
        run_ed(&f, &made_up, &ed, true);
        vt_edit_free(&ed);
    }
    /* Ids: lower than the one before is corrupt at that chunk; equal is a duplicate at END. */
    {
        vt_edit_copy(&ed, g);
        size_t k = 0;
        uint8_t *p0 = field_ptr(&ed, &(fs_field){VT_TYPE_GPADLS, 0, 0, VT_GPADL_ID, 4}, &k);
        uint8_t *p1 = field_ptr(&ed, &(fs_field){VT_TYPE_GPADLS, 0, 1, VT_GPADL_ID, 4}, &k);
        uint32_t id0 = vt_get32(p0);
        vt_put32(p1, id0);
        fs_case dup = {CLAUSE(RESTORE_REFERENCES_DUPLICATE), "GPADL records 0 and 1 with one id",
                       STATUS_DUPLICATE_OBJECTID, STATUS_DUPLICATE_OBJECTID, AT_END, false};
        /* The ring GPADL or a packet may name the id that vanished: NOT_FOUND comes first. */
        dup.alt = STATUS_NOT_FOUND;
        run_ed(&f, &dup, &ed, true);
        vt_edit_free(&ed);
        vt_edit_copy(&ed, g);
        p0 = field_ptr(&ed, &(fs_field){VT_TYPE_GPADLS, 0, 0, VT_GPADL_ID, 4}, &k);
        p1 = field_ptr(&ed, &(fs_field){VT_TYPE_GPADLS, 0, 1, VT_GPADL_ID, 4}, &k);
        uint32_t id1 = vt_get32(p1);
        vt_put32(p0, id1);
        vt_put32(p1, id0);
        fs_case order = {CLAUSE(RESTORE_CORRUPT_GPADL_ORDER),
                         "GPADL records 0 and 1 in descending id order", CORRUPT, CORRUPT, k,
                         false};
        run_ed(&f, &order, &ed, true);
        vt_edit_free(&ed);
    }
    /* A byte after the last record. */
    vt_edit_copy(&ed, g);
    vt_edit_splice(&ed.c[gi], ed.c[gi].n, 0, NULL, 1);
    fs_case trail = {CLAUSE(RESTORE_CORRUPT_RECORD_LENGTH), "GPADLS: a byte after the last record",
                     CORRUPT, CORRUPT, gi, false};
    run_ed(&f, &trail, &ed, true);
    vt_edit_free(&ed);
    refused(&f, CLAUSE(RESTORE_CORRUPT_RECORD_LENGTH),
            "GPADL last record: record_bytes one past the chunk", B_GPADLS, GREC(LASTREC, 0, 4),
            0x7FFFFFFFu, CORRUPT);

    /* PACKETS. */
    const vt_edit_image *pk = base(&f, B_PACKETS);
    const size_t pi = vt_edit_find(pk, VT_TYPE_PACKETS, 0);
    const uint32_t precs = vt_edit_rec_count(&pk->c[pi]);
    refused(&f, CLAUSE(RESTORE_CORRUPT_RECORD_COUNT), "PACKETS record count 0", B_PACKETS,
            FIRST_OF(VT_TYPE_PACKETS, 0, 4), 0, CORRUPT);
    /* As for GPADLS: a record head missing, and one more than the HEADER declared. */
    refused(&f, CLAUSE(RESTORE_CORRUPT_RECORD_LENGTH),
            "PACKETS record count one more than present", B_PACKETS,
            FIRST_OF(VT_TYPE_PACKETS, 0, 4), precs + 1u, CORRUPT);
    refused(&f, LIMITS, "PACKETS record count 4097", B_PACKETS, FIRST_OF(VT_TYPE_PACKETS, 0, 4),
            VMBSAVE_MAX_PACKETS + 1u, LIMIT);
    snprintf(what, sizeof what, "HEADER declares %u packets, the chunk holds %u", precs - 1u,
             precs);
    field_case(&f, CLAUSE(RESTORE_CORRUPT_RECORD_COUNT), what, B_PACKETS,
               HDR(VT_HEADER_PACKETS, 4), precs - 1u, CORRUPT, CORRUPT, pi);
    for (uint32_t r = 0; r < precs; r += precs - 1u) {
        size_t k = 0;
        vt_edit_copy(&ed, pk);
        uint64_t seq = vt_get64(field_ptr(&ed, &(fs_field){VT_TYPE_PACKETS, 0, r, VT_PACKET_SEQ, 8}, &k));
        uint64_t prev = r == 0 ? 0 : vt_get64(field_ptr(&ed, &(fs_field){VT_TYPE_PACKETS, 0, r - 1u, VT_PACKET_SEQ, 8}, &k));
        uint64_t next = vt_get64(ed.c[0].p + 184);
        vt_edit_free(&ed);
        snprintf(what, sizeof what, "packet record %u: id 0", r);
        refused(&f, CLAUSE(RESTORE_CORRUPT_PACKET_ID_ZERO), what, B_PACKETS,
                PREC(r, VT_PACKET_ID, 8), 0, CORRUPT);
        snprintf(what, sizeof what, "packet record %u: send sequence equal to the one before (%llu)",
                 r, (unsigned long long)prev);
        refused(&f, SEQ_ORDER, what, B_PACKETS, PREC(r, VT_PACKET_SEQ, 8), prev, CORRUPT);
        snprintf(what, sizeof what, "packet record %u: send sequence = next send sequence", r);
        refused(&f, SEQ_ORDER, what, B_PACKETS, PREC(r, VT_PACKET_SEQ, 8), next, CORRUPT);
        snprintf(what, sizeof what, "packet record %u: send sequence UINT64_MAX", r);
        refused(&f, SEQ_ORDER, what, B_PACKETS, PREC(r, VT_PACKET_SEQ, 8), UINT64_MAX, CORRUPT);
        (void)seq;
        snprintf(what, sizeof what, "packet record %u: record_bytes 31", r);
        refused(&f, CLAUSE(RESTORE_CORRUPT_RECORD_LENGTH), what, B_PACKETS, PREC(r, 0, 4),
                VT_PACKET_FIXED - 1u, CORRUPT);
        /* Payload or driver state one byte past the record. */
        vt_edit_copy(&ed, pk);
        uint8_t *p = field_ptr(&ed, &(fs_field){VT_TYPE_PACKETS, 0, r, VT_PACKET_PAYLOAD, 4}, &k);
        vt_put32(p, vt_get32(p) + 1u);
        snprintf(what, sizeof what, "packet record %u: payload one byte past its record", r);
        fs_case room = {CLAUSE(RESTORE_CORRUPT_RECORD_LENGTH), what, CORRUPT, CORRUPT, k, false};
        run_ed(&f, &room, &ed, true);
        vt_edit_free(&ed);
        vt_edit_copy(&ed, pk);
        p = field_ptr(&ed, &(fs_field){VT_TYPE_PACKETS, 0, r, VT_PACKET_DSTATE, 4}, &k);
        vt_put32(p, vt_get32(p) + 1u);
        snprintf(what, sizeof what, "packet record %u: driver state one byte past its record", r);
        fs_case room2 = {CLAUSE(RESTORE_CORRUPT_RECORD_LENGTH), what, CORRUPT, CORRUPT, k, false};
        run_ed(&f, &room2, &ed, true);
        vt_edit_free(&ed);
        /* One past each size limit: the record is then too short as well (Permits: either). */
        snprintf(what, sizeof what, "packet record %u: payload_bytes 16385", r);
        field_case(&f, LIMITS, what, B_PACKETS, PREC(r, VT_PACKET_PAYLOAD, 4),
                   VMBSAVE_MAX_PACKET_PAYLOAD + 1u, LIMIT, CORRUPT, AT_EDITED);
        snprintf(what, sizeof what, "packet record %u: driver_state_bytes 4097", r);
        field_case(&f, LIMITS, what, B_PACKETS, PREC(r, VT_PACKET_DSTATE, 4),
                   VMBSAVE_MAX_DRIVER_PACKET_STATE + 1u, LIMIT, CORRUPT, AT_EDITED);
        /* References resolve at END. */
        snprintf(what, sizeof what, "packet record %u: names a GPADL the image lacks", r);
        field_case(&f, CLAUSE(RESTORE_REFERENCES_UNRESOLVED), what, B_PACKETS,
                   PREC(r, VT_PACKET_GPADL, 4), 0x7FFFFFF0u, STATUS_NOT_FOUND, STATUS_NOT_FOUND,
                   AT_END);
    }
    /* Sequences: a first one of 0; a packet id twice (at END). */
    refused(&f, SEQ_ORDER, "packet record 0: send sequence 0", B_PACKETS,
            PREC(0, VT_PACKET_SEQ, 8), 0, CORRUPT);
    {
        vt_edit_copy(&ed, pk);
        size_t k = 0;
        uint64_t id0 = vt_get64(field_ptr(&ed, &(fs_field){VT_TYPE_PACKETS, 0, 0, VT_PACKET_ID, 8}, &k));
        vt_put64(field_ptr(&ed, &(fs_field){VT_TYPE_PACKETS, 0, LASTREC, VT_PACKET_ID, 8}, &k), id0);
        fs_case dup = {CLAUSE(RESTORE_REFERENCES_DUPLICATE), "first and last packet with one id",
                       STATUS_DUPLICATE_OBJECTID, STATUS_DUPLICATE_OBJECTID, AT_END, false};
        run_ed(&f, &dup, &ed, true);
        vt_edit_free(&ed);
    }
    /* A packet naming a GPADL being torn down; the ring GPADL missing. */
    {
        vt_edit_copy(&ed, pk);
        size_t k = 0;
        uint32_t ref = 0;
        for (uint32_t r = 0; r < precs && ref == 0; r++)
            ref = vt_get32(field_ptr(&ed, &(fs_field){VT_TYPE_PACKETS, 0, r, VT_PACKET_GPADL, 4}, &k));
        if (ref == 0)
            fail_msg("paused_packets: no packet names a GPADL");
        size_t gk = vt_edit_find(&ed, VT_TYPE_GPADLS, 0);
        uint32_t n = vt_edit_rec_count(&ed.c[gk]);
        bool found = false;
        for (uint32_t r = 0; r < n; r++) {
            uint8_t *rec = ed.c[gk].p + vt_edit_rec_off(&ed.c[gk], r);
            if (vt_get32(rec + VT_GPADL_ID) == ref) {
                vt_put32(rec + VT_GPADL_STATE, 2);
                found = true;
            }
        }
        if (!found)
            fail_msg("paused_packets: GPADL %u named by a packet is not in the first GPADLS", ref);
        fs_case td = {CLAUSE(RESTORE_REFERENCES_UNRESOLVED),
                      "a packet names a GPADL being torn down",
                      STATUS_NOT_FOUND, STATUS_NOT_FOUND, AT_END, false};
        run_ed(&f, &td, &ed, true);
        vt_edit_free(&ed);
    }
    field_case(&f, CLAUSE(RESTORE_REFERENCES_UNRESOLVED), "the ring GPADL missing", B_PACKETS,
               HDR(VT_HEADER_RING_GPADL, 4), 0x7FFFFFF1u, STATUS_NOT_FOUND, STATUS_NOT_FOUND, AT_END);
    vt_edit_copy(&ed, pk);
    vt_edit_splice(&ed.c[pi], ed.c[pi].n, 0, NULL, 1);
    fs_case ptrail = {CLAUSE(RESTORE_CORRUPT_RECORD_LENGTH),
                      "PACKETS: a byte after the last record", CORRUPT, CORRUPT, pi, false};
    run_ed(&f, &ptrail, &ed, true);
    vt_edit_free(&ed);

    /* RING. */
    const vt_edit_image *rg = base(&f, B_PACKETS);
    const size_t ri = vt_edit_find_ring(rg, VMBSAVE_RING_INCOMING);
    const size_t ro = vt_edit_find_ring(rg, VMBSAVE_RING_OUTGOING);
    refused(&f, CLAUSE(RESTORE_CORRUPT_ENUM), "RING direction 2", B_PACKETS,
            FIRST_OF(VT_TYPE_RING, VT_RING_DIR, 4), 2, CORRUPT);
    refused(&f, CLAUSE(RESTORE_CORRUPT_RING_PIECES), "RING first offset 1", B_PACKETS,
            FIRST_OF(VT_TYPE_RING, VT_RING_OFFSET, 4), 1, CORRUPT);
    vt_edit_copy(&ed, rg);
    vt_edit_splice(&ed.c[ri], VT_RING_FIXED, ed.c[ri].n - VT_RING_FIXED, NULL, 0);
    /* Its head alone, 8 bytes: SHORT_PAYLOAD names it ("8 bytes or fewer"). */
    fs_case empty = {CLAUSE(RESTORE_CORRUPT_SHORT_PAYLOAD), "RING piece of no bytes", CORRUPT,
                     CORRUPT, ri, false};
    run_ed(&f, &empty, &ed, true);
    vt_edit_free(&ed);
    vt_edit_copy(&ed, rg);
    vt_edit_splice(&ed.c[ri], 4, ed.c[ri].n - 4, NULL, 0);
    fs_case shortr = {CLAUSE(RESTORE_CORRUPT_SHORT_PAYLOAD), "RING payload of 4 bytes", CORRUPT,
                      CORRUPT, ri, false};
    run_ed(&f, &shortr, &ed, true);
    vt_edit_free(&ed);
    /* An extra piece of no bytes after the incoming one, every total consistent: a reader
     * that skips it instead of refusing it would restore (the other case above shortens the
     * ring, which END's totals catch anyway). Kills restore.c's short-piece check made to
     * return STATUS_SUCCESS (ci/mutation.sh). */
    {
        vt_edit_copy(&ed, rg);
        vt_edit_chunk piece;
        vt_edit_chunk_copy(&piece, &ed.c[ri]);
        uint32_t bytes = piece.n - VT_RING_FIXED;
        vt_put32(piece.p + VT_RING_OFFSET, vt_get32(piece.p + VT_RING_OFFSET) + bytes);
        vt_edit_splice(&piece, VT_RING_FIXED, bytes, NULL, 0);
        vt_edit_insert(&ed, ri + 1u, &piece);
        free(piece.p);
        fs_case extra = {CLAUSE(RESTORE_CORRUPT_SHORT_PAYLOAD),
                         "an extra RING piece of no bytes after the incoming one", CORRUPT,
                         CORRUPT, ri + 1u, false};
        run_ed(&f, &extra, &ed, true);
        vt_edit_free(&ed);
    }
    /* Outgoing before incoming (types equal, so sequences alone do not tell). */
    vt_edit_copy(&ed, rg);
    vt_edit_swap(&ed, ri, ro);
    fs_case dir = {CLAUSE(RESTORE_CORRUPT_RING_PIECES),
                   "RING outgoing piece before the incoming one", CORRUPT, CORRUPT, ri, false};
    /* RING_PIECES' Permits: a reader may leave it to END (RESTORE.CORRUPT.TOTALS). */
    dir.alt = CORRUPT;
    {
        vt_edit_fix(&ed);
        vt_edit_bytes b;
        vt_edit_serialize(&ed, &b);
        f.cases++;
        /* Refused by the outgoing piece at ri or at the latest by END: check status only. */
        for (size_t per = 0; per < 3; per++) {
            vmbsave_channel *ch = vt_channel_new(f.e);
            vt_edit_feed_out r = vt_edit_feed_n(f.e, ch, &b, per);
            ch_cleanup_after(f.e, ch, r.status);
            if (r.status != CORRUPT)
                case_failed(&dir, per == 0 ? "whole" : "in groups", "restore returned %s",
                            vt_status_str(r.status));
        }
        vt_edit_bytes_free(&b);
    }
    vt_edit_free(&ed);
    /* One pending byte more declared than the pieces hold: END's totals. */
    vt_edit_copy(&ed, rg);
    vt_put32(ed.c[0].p + VT_HEADER_IN_PENDING, vt_get32(ed.c[0].p + VT_HEADER_IN_PENDING) + 1u);
    /* The incoming pieces then fall short of the declared count: an outgoing piece may be
     * refused at once (RING_PIECES: outgoing bytes while incoming ones are missing) or, by its
     * Permits, END refuses the totals (RESTORE.CORRUPT.TOTALS). */
    {
        vt_edit_fix(&ed);
        vt_edit_bytes b;
        vt_edit_serialize(&ed, &b);
        fs_case more = {CLAUSE(RESTORE_CORRUPT_RING_PIECES),
                        "HEADER declares one incoming pending byte more", CORRUPT, CORRUPT, ro,
                        false};
        f.cases++;
        for (size_t per = 0; per < 3; per++) {
            vmbsave_channel *ch = vt_channel_new(f.e);
            vt_edit_feed_out r = vt_edit_feed_n(f.e, ch, &b, per);
            ch_cleanup_after(f.e, ch, r.status);
            if (r.status != CORRUPT || (per == 1 && r.first < ro))
                case_failed(&more, per == 0 ? "whole" : "in groups",
                            "restore returned %s at chunk %zu", vt_status_str(r.status), r.first);
        }
        vt_edit_bytes_free(&b);
    }
    vt_edit_free(&ed);
    fs_done(&f);
}

/* ==== step 12: END ========================================================================== */

static void fs_end(void **state)
{
    (void)state;
    fs f;
    fs_init(&f);
    for (int bid = B_ENABLED; bid <= B_PACKETS; bid += B_PACKETS - B_ENABLED) {
        const vt_edit_image *src = base(&f, (fs_base_id)bid);
        char what[160];
#define TOTALS CLAUSE(RESTORE_CORRUPT_TOTALS)
        static const struct {
            uint32_t off;
            unsigned width;
            int64_t delta;
            const char *name;
            const char *clause;
            NTSTATUS want;
        } edits[] = {
            {VT_END_COUNT, 4, 1, "chunk_count + 1", TOTALS, CORRUPT},
            {VT_END_COUNT, 4, -1, "chunk_count - 1", TOTALS, CORRUPT},
            {VT_END_RESERVED, 4, 1, "reserved 1", CLAUSE(RESTORE_CORRUPT_RESERVED), CORRUPT},
            {VT_END_TOTAL, 8, 1, "total_bytes + 1", TOTALS, CORRUPT},
            {VT_END_TOTAL, 8, -1, "total_bytes - 1", TOTALS, CORRUPT},
            {VT_END_TOTAL, 8, (int64_t)1 << 32, "total_bytes + 2^32", TOTALS, CORRUPT},
            {VT_END_DIGEST, 8, 1, "digest + 1", CLAUSE(RESTORE_FOREIGN_CHUNK),
             STATUS_REVISION_MISMATCH},
        };
#undef TOTALS
        for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
            vt_edit_image ed;
            vt_edit_copy(&ed, src);
            vt_edit_fix(&ed);
            uint8_t *p = ed.c[ed.count - 1].p + edits[i].off;
            uint64_t v = edits[i].width == 4 ? vt_get32(p) : vt_get64(p);
            put_field(p, edits[i].width, v + (uint64_t)edits[i].delta);
            snprintf(what, sizeof what, "%s: END %s", k_base_names[bid], edits[i].name);
            fs_case c = {edits[i].clause, what, edits[i].want, edits[i].want, AT_END, false};
            run_ed(&f, &c, &ed, false);
            vt_edit_free(&ed);
        }
        vt_edit_image ed;
        vt_edit_copy(&ed, src);
        vt_edit_splice(&ed.c[ed.count - 1], VT_END_PAYLOAD_BYTES - 1u, 1, NULL, 0);
        snprintf(what, sizeof what, "%s: END payload of 23 bytes", k_base_names[bid]);
        fs_case c = {CLAUSE(RESTORE_CORRUPT_SHORT_PAYLOAD), what, CORRUPT, CORRUPT, AT_END, false};
        run_ed(&f, &c, &ed, true);
        vt_edit_free(&ed);
    }
    fs_done(&f);
}

/* ==== every limit exactly, and one past ===================================================== */

static void fs_limits(void **state)
{
    (void)state;
    fs f;
    fs_init(&f);
    const vt_edit_image *lim = base(&f, B_LIMITS);
    vt_edit_image ed;
    vt_edit_copy(&ed, lim);
    fs_case ok = {CLAUSE(LIMIT_GPADL), "the limits channel: 64 GPADLs (one of 4,096 pfns, the last "
                  "VMBSAVE_MAX_PFN), 4,096 packets (one of 16,384 payload bytes, id UINT64_MAX), "
                  "a ring of 32 MiB, an outgoing ring full, the offer at its maxima",
                  STATUS_SUCCESS, STATUS_SUCCESS, 0, false};
    run_ed(&f, &ok, &ed, false);
    vt_edit_free(&ed);
    /* Restored, it saves the same image again. */
    {
        vt_edit_bytes b;
        vt_edit_serialize(lim, &b);
        vmbsave_channel *ch = vt_edit_restore_ok(f.e, &b, 0, "the limits channel");
        vt_image again;
        vt_save(f.e, ch, VMBSAVE_MAX_CHUNK_BYTES, &again);
        if (again.size != b.size || memcmp(again.bytes, b.b, b.size) != 0)
            fail_msg(CLAUSE(RESTORE_FIXED_POINT) ": the restored limits channel saves another "
                     "image");
        vt_image_free(&again);
        vt_destroy_channel(f.e, ch);
        vt_edit_bytes_free(&b);
    }
    /* One past each count of the limits channel (each in the HEADER or the first chunk that
     * declares it). */
    refused(&f, LIMITS, "limits: GPADL count 65", B_LIMITS, HDR(VT_HEADER_GPADLS, 4),
            VMBSAVE_MAX_GPADLS + 1u, LIMIT);
    refused(&f, LIMITS, "limits: packet count 4097", B_LIMITS, HDR(VT_HEADER_PACKETS, 4),
            VMBSAVE_MAX_PACKETS + 1u, LIMIT);
    refused(&f, LIMITS, "limits: outgoing pending one past the ring's size", B_LIMITS,
            HDR(VT_HEADER_OUT_PENDING, 4), VMBSAVE_MIN_RING_BYTES + 1u, LIMIT);
    refused(&f, LIMITS, "limits: GPADLS record count 65", B_LIMITS,
            FIRST_OF(VT_TYPE_GPADLS, 0, 4), VMBSAVE_MAX_GPADLS + 1u, LIMIT);
    refused(&f, LIMITS, "limits: PACKETS record count 4097", B_LIMITS,
            FIRST_OF(VT_TYPE_PACKETS, 0, 4), VMBSAVE_MAX_PACKETS + 1u, LIMIT);
    /* The 4,096-pfn record: one more pfn than the limit (its record then also falls short). */
    field_case(&f, LIMITS, "limits: pfn count 4097", B_LIMITS,
               (fs_field){VT_TYPE_GPADLS, SIZE_MAX, LASTREC, VT_GPADL_PFNS, 4},
               VMBSAVE_MAX_GPADL_PFNS + 1u, LIMIT, CORRUPT, AT_EDITED);
    /* The last pfn one past VMBSAVE_MAX_PFN. */
    refused(&f, CLAUSE(RESTORE_CORRUPT_PFN_RANGE), "limits: last pfn 2^52", B_LIMITS,
            (fs_field){VT_TYPE_GPADLS, SIZE_MAX, LASTREC,
                       VT_GPADL_FIXED + 8u * (VMBSAVE_MAX_GPADL_PFNS - 1u), 8},
            VMBSAVE_MAX_PFN + 1u, CORRUPT);
    refused(&f, LIMITS, "limits: packet 0 payload_bytes 16385", B_LIMITS,
            PREC(0, VT_PACKET_PAYLOAD, 4), VMBSAVE_MAX_PACKET_PAYLOAD + 1u, LIMIT);
    /* A 65th GPADL record in the last GPADLS chunk where the HEADER declares 64: with count
     * 65 declared too, the record count of the chunk is within the limit, the total is not. */
    fs_done(&f);
}

/* Named HARNESS.FORMAT_SUITE.<part> (one clause per case would register one ctest test per
 * case): each case's failure message starts with its clause. */
static const struct CMUnitTest tests[] = {
    CLAUSE_TEST("HARNESS.FORMAT_SUITE.CHUNK_HEADER", fs_chunk_header),
    CLAUSE_TEST("HARNESS.FORMAT_SUITE.CHECKSUM", fs_checksum),
    CLAUSE_TEST("HARNESS.FORMAT_SUITE.ORDER", fs_sequence),
    CLAUSE_TEST("HARNESS.FORMAT_SUITE.CHUNK_SIZE", fs_chunk_size),
    CLAUSE_TEST("HARNESS.FORMAT_SUITE.HEADER", fs_header),
    CLAUSE_TEST("HARNESS.FORMAT_SUITE.RECORDS", fs_records),
    CLAUSE_TEST("HARNESS.FORMAT_SUITE.END", fs_end),
    CLAUSE_TEST("HARNESS.FORMAT_SUITE.LIMITS", fs_limits),
};

CLAUSE_TEST_MAIN("format_suite", tests)
