/* Shared test fixture (tests/support/fixture.h). Everything here is written from SPEC.md and
 * FORMAT.md alone: the chunk parser and the hash do not use the implementation under test. */
#include "fixture.h"
#include "check.h"
#include "util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "program/program.h"
#include "program/step_args.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

/* ---- small helpers ------------------------------------------------------------------------ */

static NTSTATUS vt_check_ok(NTSTATUS s, const char *what, const char *file, int line)
{
    if (s != STATUS_SUCCESS)
        fail_msg("%s:%d: %s returned %s (0x%08x), expected STATUS_SUCCESS", file, line, what,
                 vt_status_str(s), (unsigned)(uint32_t)s);
    return s;
}

/* Runs `expr` (an NTSTATUS expression calling the implementation) inside enter/leave and
 * asserts STATUS_SUCCESS. Every fixture call into the implementation is bracketed so that the
 * host can tell that callbacks run on the calling thread during the call (CONTEXT.IRQL.PASSIVE). */
#define VT_OK(e, expr)                                                                             \
    do {                                                                                           \
        vmbsave_host_enter(&(e)->host);                                                            \
        NTSTATUS vt_ok_s_ = (expr);                                                                \
        vmbsave_host_leave(&(e)->host);                                                            \
        vt_check_ok(vt_ok_s_, #expr, __FILE__, __LINE__);                                          \
    } while (0)

uint16_t vt_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

uint32_t vt_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

uint64_t vt_get64(const uint8_t *p)
{
    return (uint64_t)vt_get32(p) | ((uint64_t)vt_get32(p + 4) << 32);
}

void vt_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

void vt_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void vt_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

uint64_t vt_hash(const void *data, size_t size, uint64_t seed)
{
    return (uint64_t)XXH3_64bits_withSeed(data, size, (XXH64_hash_t)seed);
}

/* ---- environment -------------------------------------------------------------------------- */

/* Loads $VMBSAVE_PLUGIN (the reference when unset or empty) into e; on failure writes the
 * reason to `err` and returns -1. */
static int env_load(vt_env *e, char *err, size_t err_size)
{
    const char *path = getenv("VMBSAVE_PLUGIN");
    if (path == NULL || path[0] == '\0')
        path = VMBSAVE_DEFAULT_PLUGIN;
    char why[400];
    if (vmbsave_impl_load(path, &e->host.host, &e->impl, why, sizeof(why)) != 0) {
        snprintf(err, err_size, "loading %s: %s", path, why);
        return -1;
    }
    e->v = &e->impl.iface;
    return 0;
}

vt_env *vt_env_alloc(void)
{
    vt_env *e = calloc(1, sizeof(*e));
    if (e == NULL)
        fail_msg("test-side calloc of vt_env failed");
    vmbsave_fault_host_init(&e->host);
    return e;
}

void vt_env_load(vt_env *e)
{
    char err[600];
    if (env_load(e, err, sizeof(err)) != 0) {
        free(e);
        fail_msg("%s", err);
    }
}

vt_env *vt_env_new(void)
{
    vt_env *e = vt_env_alloc();
    vt_env_load(e);
    return e;
}

void vt_env_reload(vt_env *e)
{
    vmbsave_impl_unload(&e->impl);
    e->v = NULL;
    char err[600];
    if (env_load(e, err, sizeof(err)) != 0)
        fail_msg("%s", err); /* e stays owned by the caller */
}

void vt_env_free(vt_env *e)
{
    if (e == NULL)
        return;
    vmbsave_impl_unload(&e->impl);
    uint64_t live = e->host.live_allocations;
    uint64_t bytes = e->host.live_bytes;
    free(e);
    if (live != 0)
        fail_msg("RESOURCES.NO_LEAK: %llu allocations (%llu bytes) still live after release",
                 (unsigned long long)live, (unsigned long long)bytes);
}

/* ---- canonical channels ------------------------------------------------------------------- */

void vt_fill_offer(vmbsave_offer *offer, uint32_t salt)
{
    memset(offer, 0, sizeof(*offer));
    for (unsigned i = 0; i < 16; i++) {
        offer->interface_type.bytes[i] = (uint8_t)(0x10u + i * 7u + salt);
        offer->interface_instance.bytes[i] = (uint8_t)(0xA0u + i * 13u + salt * 3u);
    }
    offer->subchannel_index = (uint16_t)(3u + salt % 200u);
    offer->mmio_megabytes = (uint16_t)(16u + salt % 1000u);
    offer->flags = VMBSAVE_OFFER_FLAG_ENUMERATE_DEVICE_INTERFACE | VMBSAVE_OFFER_FLAG_OFFER_AS_PIPE;
    for (unsigned i = 0; i < VMBSAVE_USER_DEFINED_BYTES; i++)
        offer->user_defined[i] = (uint8_t)(i * 5u + 1u + salt);
}

/* 512 KiB rings each way: room for the traffic tests put into channels they open themselves
 * (test_format.c's stress shape holds 200,000 pending incoming bytes). */
#define VT_RING_BYTES (512u * 1024u)

void vt_fill_open(vmbsave_open_params *params, uint32_t ring_gpadl)
{
    memset(params, 0, sizeof(*params));
    params->ring_gpadl_id = ring_gpadl;
    params->incoming_ring_bytes = VT_RING_BYTES;
    params->outgoing_ring_bytes = VT_RING_BYTES;
    params->target_vp = 5;
    params->connection_id = 0x4242;
}

/* Runs one canonical step (vmbsave_canonical_steps) on `ch` with the arguments
 * harness/program/step_args.h derives from its fields, as the runner (harness/run/runner.c)
 * does; every step must succeed. `salt` only reaches packet payloads here: the other bulk
 * salts are already in the steps' fields. */
static void exec_step(vt_env *e, vmbsave_channel *ch, const vmbsave_step *s, uint32_t salt)
{
    const vmbsave_interface_v1 *v = e->v;
    switch (s->op) {
    case VMBSAVE_OP_OFFER: {
        vmbsave_offer offer;
        vmbsave_args_offer(s->mode, s->a, &offer);
        VT_OK(e, v->init_set_offer(ch, &offer));
        break;
    }
    case VMBSAVE_OP_ENABLE: VT_OK(e, v->enable(ch)); break;
    case VMBSAVE_OP_START: VT_OK(e, v->start(ch)); break;
    case VMBSAVE_OP_PAUSE: VT_OK(e, v->pause(ch)); break;
    case VMBSAVE_OP_OPEN: {
        vmbsave_open_params params;
        vmbsave_args_open(s->mode, s->a, s->b, s->c, &params);
        VT_OK(e, v->guest_open(ch, &params));
        break;
    }
    case VMBSAVE_OP_GPADL_CREATE: {
        uint64_t pfns[VMBSAVE_ARGS_MAX_PFNS];
        if (s->b > VMBSAVE_ARGS_MAX_PFNS)
            fail_msg("canonical gpadl_create with %u pfns", s->b);
        vmbsave_args_pfns(s->mode, s->b, s->c, pfns);
        VT_OK(e, v->gpadl_create(ch, s->a, pfns, s->b));
        break;
    }
    case VMBSAVE_OP_GPADL_TEARDOWN_BEGIN: VT_OK(e, v->gpadl_teardown_begin(ch, s->a)); break;
    case VMBSAVE_OP_PACKET_SEND: {
        uint8_t *payload = vt_xmalloc(s->c != 0 ? s->c : 1u);
        vmbsave_args_bytes(vmbsave_args_payload_seed_salted(s->mode, s->a, s->b, s->c, salt),
                           payload, s->c);
        vmbsave_host_enter(&e->host);
        NTSTATUS st = v->packet_send(ch, s->a, s->b, payload, s->c);
        vmbsave_host_leave(&e->host);
        free(payload);
        vt_check_ok(st, "packet_send", __FILE__, __LINE__);
        break;
    }
    case VMBSAVE_OP_PACKET_COMPLETE: VT_OK(e, v->packet_complete(ch, s->a)); break;
    case VMBSAVE_OP_RING_WRITE: {
        uint8_t *buf = vt_xmalloc(s->a != 0 ? s->a : 1u);
        vmbsave_args_bytes(vmbsave_args_ring_seed(s->c), buf, s->a);
        vmbsave_host_enter(&e->host);
        NTSTATUS st = v->ring_write(ch, (vmbsave_ring_direction)s->mode, buf, s->a);
        vmbsave_host_leave(&e->host);
        free(buf);
        vt_check_ok(st, "ring_write", __FILE__, __LINE__);
        break;
    }
    case VMBSAVE_OP_RING_READ: {
        uint8_t *buf = vt_xmalloc(s->a != 0 ? s->a : 1u);
        uint32_t got = 0;
        vmbsave_host_enter(&e->host);
        NTSTATUS st = v->ring_read(ch, (vmbsave_ring_direction)s->mode, buf, s->a, &got);
        vmbsave_host_leave(&e->host);
        free(buf);
        vt_check_ok(st, "ring_read", __FILE__, __LINE__);
        if (got != s->a)
            fail_msg("ring_read returned %u bytes, expected %u", got, s->a);
        break;
    }
    default:
        fail_msg("canonical step %s is not a state-building step",
                 vmbsave_op_name((vmbsave_op)s->op));
    }
}

vmbsave_channel *vt_make_canonical(vt_env *e, vmbsave_canonical_id which, uint32_t salt)
{
    vmbsave_step steps[VMBSAVE_CANONICAL_MAX_PREFIX_STEPS];
    uint32_t n = vmbsave_canonical_steps(which, salt, steps, VMBSAVE_CANONICAL_MAX_PREFIX_STEPS);
    if (n == 0)
        fail_msg("vt_make_canonical: unknown canonical state %d", (int)which);
    vmbsave_channel *ch = NULL;
    VT_OK(e, e->v->channel_allocate(e->v->context, &ch));
    if (ch == NULL)
        fail_msg("channel_allocate succeeded but returned a NULL channel");
    for (uint32_t i = 0; i < n; i++)
        exec_step(e, ch, &steps[i], salt);
    return ch;
}

void vt_destroy_channel(vt_env *e, vmbsave_channel *ch)
{
    VT_OK(e, e->v->disable(ch));
    VT_OK(e, e->v->channel_cleanup(ch));
}

/* ---- descriptions ------------------------------------------------------------------------- */

char *vt_describe(vt_env *e, vmbsave_channel *ch)
{
    uint32_t need = 0;
    vmbsave_host_enter(&e->host);
    NTSTATUS s = e->v->describe(ch, NULL, 0, &need);
    vmbsave_host_leave(&e->host);
    if (s != STATUS_BUFFER_TOO_SMALL)
        fail_msg("describe size query returned %s, expected STATUS_BUFFER_TOO_SMALL",
                 vt_status_str(s));
    if (need == 0 || need > (1u << 26))
        fail_msg("describe size query gave bytes_required %u", need);
    char *buf = vt_xmalloc(need);
    uint32_t need2 = 0;
    vmbsave_host_enter(&e->host);
    s = e->v->describe(ch, buf, need, &need2);
    vmbsave_host_leave(&e->host);
    if (s != STATUS_SUCCESS) {
        free(buf);
        fail_msg("describe returned %s with a buffer of bytes_required (%u)", vt_status_str(s),
                 need);
    }
    if (need2 != need || memchr(buf, '\0', need) != buf + need - 1) {
        free(buf);
        fail_msg("describe: bytes_required %u/%u does not match the NUL-terminated text", need,
                 need2);
    }
    return buf;
}

char *vt_describe_fresh(vt_env *e)
{
    vmbsave_channel *ch = NULL;
    VT_OK(e, e->v->channel_allocate(e->v->context, &ch));
    char *d = vt_describe(e, ch);
    VT_OK(e, e->v->channel_cleanup(ch));
    return d;
}

static const char *next_line(const char *p)
{
    const char *nl = strchr(p, '\n');
    return nl != NULL ? nl + 1 : p + strlen(p);
}

static bool is_fresh_line(const char *p)
{
    return strncmp(p, "fresh=", 6) == 0;
}

void vt_assert_same_state(const char *a, const char *b)
{
    const char *pa = a, *pb = b;
    unsigned line = 1;
    for (;;) {
        while (*pa != '\0' && is_fresh_line(pa))
            pa = next_line(pa);
        while (*pb != '\0' && is_fresh_line(pb))
            pb = next_line(pb);
        if (*pa == '\0' && *pb == '\0')
            return;
        const char *ea = next_line(pa), *eb = next_line(pb);
        if (ea - pa != eb - pb || memcmp(pa, pb, (size_t)(ea - pa)) != 0) {
            int la = (int)(ea - pa), lb = (int)(eb - pb);
            if (la > 0 && pa[la - 1] == '\n')
                la--;
            if (lb > 0 && pb[lb - 1] == '\n')
                lb--;
            fail_msg("descriptions differ at line %u (fresh= ignored):\n  a: %.*s\n  b: %.*s", line,
                     la, pa, lb, pb);
        }
        pa = ea;
        pb = eb;
        line++;
    }
}

/* ---- chunk parsing (FORMAT.md) ------------------------------------------------------------ */

#define VT_MAGIC 0x53424D56u

/* Parses one chunk header at `p` with `left` bytes available; returns its total size, or 0 if
 * it is not a whole chunk with the magic. */
static size_t chunk_at(const uint8_t *p, size_t left, vt_chunk *c)
{
    if (left < VT_CHUNK_HEADER_BYTES || vt_get32(p) != VT_MAGIC)
        return 0;
    uint32_t payload = vt_get32(p + 16);
    if ((uint64_t)payload > left - VT_CHUNK_HEADER_BYTES)
        return 0;
    if (c != NULL) {
        c->size = VT_CHUNK_HEADER_BYTES + (size_t)payload;
        c->major = vt_get16(p + 4);
        c->minor = vt_get16(p + 6);
        c->type = vt_get16(p + 8);
        c->flags = vt_get16(p + 10);
        c->sequence = vt_get32(p + 12);
        c->payload_bytes = payload;
        c->image_id = vt_get64(p + 24);
        c->checksum = vt_get64(p + 32);
    }
    return VT_CHUNK_HEADER_BYTES + (size_t)payload;
}

long vt_chunks(const uint8_t *bytes, size_t size, vt_chunk *out, size_t cap)
{
    size_t off = 0;
    long n = 0;
    while (off < size) {
        vt_chunk c;
        size_t len = chunk_at(bytes + off, size - off, &c);
        if (len == 0)
            return -1;
        c.offset = off;
        if (out != NULL && (size_t)n < cap)
            out[n] = c;
        n++;
        off += len;
    }
    return n;
}

void vt_chunk_reseal(uint8_t *chunk)
{
    uint32_t payload = vt_get32(chunk + 16);
    uint64_t seed = vt_hash(chunk, 32, 0);
    vt_put64(chunk + 32, vt_hash(chunk + VT_CHUNK_HEADER_BYTES, payload, seed));
}

/* ---- saving ------------------------------------------------------------------------------- */

#define VT_GUARD 64u
#define VT_GUARD_BYTE 0xA5u
#define VT_MAX_CALLS 1000000u

/* One save_continue call into a guarded buffer, checked against SPEC section 5 rules that
 * hold for a single call. Appends what it wrote to `out`. */
static NTSTATUS checked_continue(vt_env *e, vmbsave_channel *ch, uint32_t size, vt_image *out,
                                 size_t *cap_bytes, size_t *cap_calls, uint32_t *required)
{
    uint8_t *raw = vt_xmalloc((size_t)size + 2u * VT_GUARD);
    memset(raw, VT_GUARD_BYTE, (size_t)size + 2u * VT_GUARD);
    uint8_t *buf = raw + VT_GUARD;
    uint32_t filled = 0xDEADBEEFu, req = 0xDEADBEEFu;

    vmbsave_host_enter(&e->host);
    NTSTATUS s = e->v->save_continue(ch, buf, size, &filled, &req);
    vmbsave_host_leave(&e->host);

    const char *problem = NULL;
    long overrun_at = VT_NO_OFFSET;
    char detail[200];
    detail[0] = '\0';
    if (s != STATUS_SUCCESS && s != STATUS_BUFFER_OVERFLOW && s != STATUS_BUFFER_TOO_SMALL) {
        problem = "unexpected status";
    } else if (s == STATUS_BUFFER_TOO_SMALL) {
        if (filled != 0)
            problem = "SAVE.CONTINUE.TOO_SMALL.NO_PROGRESS: BytesFilled not 0";
        else if (req <= size)
            problem = "SAVE.CONTINUE.TOO_SMALL.NO_PROGRESS: BytesRequired does not exceed the size";
        else if (req > VMBSAVE_MAX_CHUNK_BYTES)
            problem = "SAVE.CONTINUE.MAX_CHUNK_PROGRESS: BytesRequired above 65536";
    } else {
        if (filled == 0 || filled > size)
            problem = "SAVE.CONTINUE.OVERFLOW.PROGRESS: BytesFilled not in 1..size";
        else if (s == STATUS_SUCCESS && req != 0)
            problem = "SAVE.CONTINUE.SUCCESS.COMPLETE: BytesRequired not 0";
        else if (s == STATUS_BUFFER_OVERFLOW && (req == 0 || req > VMBSAVE_MAX_CHUNK_BYTES))
            problem = "SAVE.CONTINUE.OVERFLOW.PROGRESS: BytesRequired not a chunk size";
        else if (vt_chunks(buf, filled, NULL, 0) < 1)
            problem = "SAVE.CONTINUE.WHOLE_CHUNKS: the bytes written are not whole chunks";
    }
    if (problem == NULL) {
        /* SAVE.CONTINUE.NO_OVERRUN: nothing outside [buf, buf + filled) changed. */
        size_t written = (s == STATUS_BUFFER_TOO_SMALL) ? 0 : filled;
        for (size_t i = 0; i < (size_t)size + 2u * VT_GUARD; i++) {
            if (i >= VT_GUARD && i < VT_GUARD + written)
                continue;
            if (raw[i] != VT_GUARD_BYTE) {
                overrun_at = (long)i - (long)VT_GUARD;
                snprintf(detail, sizeof(detail), " (byte at offset %ld from the buffer)", overrun_at);
                problem = "SAVE.CONTINUE.NO_OVERRUN: a byte outside the filled range changed";
                break;
            }
        }
    }
    if (problem != NULL) {
        free(raw);
        vt_note_save_continue(size, s, filled, req, problem, overrun_at);
        fail_msg("save_continue(size %u) -> %s (0x%08x), BytesFilled %u, BytesRequired %u: %s%s",
                 size, vt_status_str(s), (unsigned)(uint32_t)s, filled, req, problem, detail);
    }

    if (s != STATUS_BUFFER_TOO_SMALL) {
        if (out->size + filled > *cap_bytes) {
            size_t ncap = *cap_bytes * 2u + filled + 4096u;
            uint8_t *nb = realloc(out->bytes, ncap);
            if (nb == NULL) {
                free(raw);
                fail_msg("test-side realloc failed");
            }
            out->bytes = nb;
            *cap_bytes = ncap;
        }
        memcpy(out->bytes + out->size, buf, filled);
        out->size += filled;
        if (out->call_count == *cap_calls) {
            size_t ncap = *cap_calls * 2u + 16u;
            size_t *nc = realloc(out->call_bytes, ncap * sizeof(size_t));
            if (nc == NULL) {
                free(raw);
                fail_msg("test-side realloc failed");
            }
            out->call_bytes = nc;
            *cap_calls = ncap;
        }
        out->call_bytes[out->call_count++] = filled;
    }
    free(raw);
    *required = req;
    return s;
}

/* One whole session with buffer sizes from `sizes` (cycled); TOO_SMALL answered by a retry of
 * exactly BytesRequired, which must progress and write the chunk that did not fit. */
static void save_session(vt_env *e, vmbsave_channel *ch, const uint32_t *sizes, size_t n,
                         vt_image *out)
{
    memset(out, 0, sizeof(*out));
    size_t cap_bytes = 0, cap_calls = 0;
    VT_OK(e, e->v->save_begin(ch));

    /* Expected size of the chunk starting at each OVERFLOW/TOO_SMALL boundary. */
    size_t check_cap = 64, check_n = 0;
    struct boundary {
        size_t offset;
        uint32_t size;
    } *checks = vt_xmalloc(check_cap * sizeof(*checks));

    size_t next = 0;
    NTSTATUS s = STATUS_BUFFER_OVERFLOW;
    bool retry = false;
    uint32_t retry_size = 0;
    for (unsigned calls = 0; s != STATUS_SUCCESS; calls++) {
        if (calls >= VT_MAX_CALLS) {
            free(checks);
            fail_msg("save session did not finish within %u save_continue calls", VT_MAX_CALLS);
        }
        uint32_t size = retry ? retry_size : sizes[next++ % n];
        uint32_t req = 0;
        s = checked_continue(e, ch, size, out, &cap_bytes, &cap_calls, &req);
        if (retry && s == STATUS_BUFFER_TOO_SMALL) {
            free(checks);
            fail_msg("SAVE.CONTINUE.TOO_SMALL.RETRY_PROGRESSES: a retry with BytesRequired (%u) "
                     "bytes returned STATUS_BUFFER_TOO_SMALL again (BytesRequired %u)",
                     size, req);
        }
        if (s != STATUS_SUCCESS) {
            if (check_n == check_cap) {
                check_cap *= 2;
                void *nc = realloc(checks, check_cap * sizeof(*checks));
                if (nc == NULL) {
                    free(checks);
                    fail_msg("test-side realloc failed");
                }
                checks = nc;
            }
            checks[check_n].offset = out->size;
            checks[check_n].size = req;
            check_n++;
        }
        retry = (s == STATUS_BUFFER_TOO_SMALL);
        retry_size = req;
    }
    vmbsave_host_enter(&e->host);
    e->v->save_end(ch);
    vmbsave_host_leave(&e->host);

    /* The image is whole chunks ending in END, and every BytesRequired named the next chunk. */
    long count = vt_chunks(out->bytes, out->size, NULL, 0);
    if (count < 2) {
        free(checks);
        fail_msg("the saved image (%zu bytes) does not parse as at least HEADER and END",
                 out->size);
    }
    vt_chunk *chunks = vt_xmalloc((size_t)count * sizeof(*chunks));
    vt_chunks(out->bytes, out->size, chunks, (size_t)count);
    if (chunks[0].type != 1u || chunks[count - 1].type != 0xFFFFu) {
        free(chunks);
        free(checks);
        fail_msg("the saved image does not start with HEADER and end with END");
    }
    for (size_t i = 0; i < check_n; i++) {
        bool found = false;
        for (long c = 0; c < count; c++) {
            if (chunks[c].offset == checks[i].offset) {
                found = chunks[c].size == checks[i].size;
                break;
            }
        }
        if (!found) {
            size_t off = checks[i].offset;
            uint32_t req = checks[i].size;
            free(chunks);
            free(checks);
            fail_msg("BytesRequired %u at image offset %zu is not the size of the next chunk "
                     "(SAVE.CONTINUE.OVERFLOW.PROGRESS / TOO_SMALL.NO_PROGRESS)",
                     req, off);
        }
    }
    free(chunks);
    free(checks);
}

void vt_save(vt_env *e, vmbsave_channel *ch, uint32_t buf_size, vt_image *out)
{
    save_session(e, ch, &buf_size, 1, out);
}

void vt_save_sizes(vt_env *e, vmbsave_channel *ch, const uint32_t *sizes, size_t n, vt_image *out)
{
    if (sizes == NULL || n == 0)
        fail_msg("vt_save_sizes: no sizes");
    save_session(e, ch, sizes, n, out);
}

void vt_image_free(vt_image *img)
{
    if (img == NULL)
        return;
    free(img->bytes);
    free(img->call_bytes);
    memset(img, 0, sizeof(*img));
}

bool vt_image_has_chunk_above(const vt_image *img, size_t size)
{
    for (size_t off = 0; off < img->size;) {
        size_t len = chunk_at(img->bytes + off, img->size - off, NULL);
        if (len == 0)
            return false;
        if (len > size)
            return true;
        off += len;
    }
    return false;
}

/* ---- restoring ---------------------------------------------------------------------------- */

NTSTATUS vt_restore(vt_env *e, vmbsave_channel *ch, const uint8_t *bytes, size_t size,
                    size_t chunks_per_call)
{
    if (size > UINT32_MAX)
        fail_msg("vt_restore: %zu bytes do not fit a 32-bit size", size);
    size_t off = 0;
    NTSTATUS s = STATUS_INVALID_PARAMETER;
    do {
        /* Group up to chunks_per_call whole chunks; what does not parse goes in one last call. */
        size_t len = 0;
        if (chunks_per_call == 0) {
            len = size - off;
        } else {
            for (size_t k = 0; k < chunks_per_call && off + len < size; k++) {
                size_t c = chunk_at(bytes + off + len, size - off - len, NULL);
                if (c == 0) {
                    len = size - off;
                    break;
                }
                len += c;
            }
        }
        vmbsave_host_enter(&e->host);
        s = e->v->restore_from_buffer(ch, bytes + off, (uint32_t)len);
        vmbsave_host_leave(&e->host);
        off += len;
        if (s != STATUS_MORE_PROCESSING_REQUIRED && s != STATUS_SUCCESS)
            break;
    } while (off < size);
    return s;
}

vmbsave_channel *vt_restore_new(vt_env *e, const vt_image *img)
{
    vmbsave_channel *ch = NULL;
    VT_OK(e, e->v->channel_allocate(e->v->context, &ch));
    NTSTATUS s = vt_restore(e, ch, img->bytes, img->size, 0);
    if (s != STATUS_SUCCESS) {
        vmbsave_host_enter(&e->host);
        (void)e->v->channel_cleanup(ch);
        vmbsave_host_leave(&e->host);
        fail_msg("restoring a %zu-byte image into a fresh channel returned %s (0x%08x)", img->size,
                 vt_status_str(s), (unsigned)(uint32_t)s);
    }
    return ch;
}
