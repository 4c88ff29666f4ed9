/* The chunk editor of image_edit.h, written from docs/FORMAT.md alone. */
#include "image_edit.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util.h"

void vt_edit_parse(vt_edit_image *ed, const uint8_t *b, size_t size)
{
    long n = vt_chunks(b, size, NULL, 0);
    if (n < 2)
        fail_msg("a saved image (%zu bytes) does not parse as whole chunks", size);
    vt_chunk *cs = vt_xmalloc((size_t)n * sizeof(*cs));
    vt_chunks(b, size, cs, (size_t)n);
    ed->count = (size_t)n;
    ed->c = vt_xmalloc((size_t)n * sizeof(vt_edit_chunk));
    for (size_t i = 0; i < ed->count; i++) {
        const uint8_t *p = b + cs[i].offset;
        vt_edit_chunk *c = &ed->c[i];
        c->magic = vt_get32(p);
        c->major = vt_get16(p + 4);
        c->minor = vt_get16(p + 6);
        c->type = vt_get16(p + 8);
        c->flags = vt_get16(p + 10);
        c->sequence = vt_get32(p + 12);
        c->n = vt_get32(p + 16);
        c->reserved = vt_get32(p + 20);
        c->image_id = vt_get64(p + 24);
        c->p = vt_xmalloc(c->n);
        memcpy(c->p, p + VT_CHUNK_HEADER_BYTES, c->n);
    }
    free(cs);
}

void vt_edit_free(vt_edit_image *ed)
{
    for (size_t i = 0; i < ed->count; i++)
        free(ed->c[i].p);
    free(ed->c);
    ed->c = NULL;
    ed->count = 0;
}

void vt_edit_chunk_copy(vt_edit_chunk *dst, const vt_edit_chunk *src)
{
    *dst = *src;
    dst->p = vt_xmalloc(src->n);
    memcpy(dst->p, src->p, src->n);
}

void vt_edit_copy(vt_edit_image *dst, const vt_edit_image *src)
{
    dst->count = src->count;
    dst->c = vt_xmalloc(src->count * sizeof(vt_edit_chunk));
    for (size_t i = 0; i < src->count; i++)
        vt_edit_chunk_copy(&dst->c[i], &src->c[i]);
}

void vt_edit_insert(vt_edit_image *ed, size_t at, const vt_edit_chunk *src)
{
    vt_edit_chunk copy;
    vt_edit_chunk_copy(&copy, src);
    vt_edit_chunk *nc = vt_xmalloc((ed->count + 1) * sizeof(vt_edit_chunk));
    memcpy(nc, ed->c, at * sizeof(vt_edit_chunk));
    nc[at] = copy;
    memcpy(nc + at + 1, ed->c + at, (ed->count - at) * sizeof(vt_edit_chunk));
    free(ed->c);
    ed->c = nc;
    ed->count++;
}

void vt_edit_remove(vt_edit_image *ed, size_t at)
{
    free(ed->c[at].p);
    memmove(ed->c + at, ed->c + at + 1, (ed->count - at - 1) * sizeof(vt_edit_chunk));
    ed->count--;
}

void vt_edit_swap(vt_edit_image *ed, size_t a, size_t b)
{
    vt_edit_chunk t = ed->c[a];
    ed->c[a] = ed->c[b];
    ed->c[b] = t;
}

void vt_edit_splice(vt_edit_chunk *c, uint32_t off, uint32_t del, const uint8_t *ins, uint32_t insn)
{
    uint32_t nn = c->n - del + insn;
    uint8_t *np = vt_xmalloc(nn);
    memcpy(np, c->p, off);
    if (ins != NULL)
        memcpy(np + off, ins, insn);
    else
        memset(np + off, 0, insn);
    memcpy(np + off + insn, c->p + off + del, c->n - off - del);
    free(c->p);
    c->p = np;
    c->n = nn;
}

size_t vt_edit_find(const vt_edit_image *ed, uint16_t type, size_t nth)
{
    for (size_t i = 0; i < ed->count; i++)
        if (ed->c[i].type == type && nth-- == 0)
            return i;
    fail_msg("the image has no chunk of type 0x%x number %zu", type, nth);
    return 0;
}

size_t vt_edit_find_ring(const vt_edit_image *ed, uint32_t dir)
{
    for (size_t i = 0; i < ed->count; i++)
        if (ed->c[i].type == VT_TYPE_RING && vt_get32(ed->c[i].p + VT_RING_DIR) == dir)
            return i;
    fail_msg("the image has no RING chunk for direction %u", dir);
    return 0;
}

/* The 40-byte header of a chunk, with its checksum computed (FORMAT.md). */
static void edit_head(const vt_edit_chunk *c, uint8_t h[VT_CHUNK_HEADER_BYTES])
{
    vt_put32(h, c->magic);
    vt_put16(h + 4, c->major);
    vt_put16(h + 6, c->minor);
    vt_put16(h + 8, c->type);
    vt_put16(h + 10, c->flags);
    vt_put32(h + 12, c->sequence);
    vt_put32(h + 16, c->n);
    vt_put32(h + 20, c->reserved);
    vt_put64(h + 24, c->image_id);
    vt_put64(h + 32, vt_hash(c->p, c->n, vt_hash(h, 32, 0)));
}

static uint64_t edit_checksum(const vt_edit_chunk *c)
{
    uint8_t h[VT_CHUNK_HEADER_BYTES];
    edit_head(c, h);
    return vt_get64(h + 32);
}

void vt_edit_fix(vt_edit_image *ed)
{
    size_t h = SIZE_MAX, end = SIZE_MAX;
    for (size_t i = 0; i < ed->count; i++) {
        ed->c[i].sequence = (uint32_t)i;
        if (ed->c[i].type == VT_TYPE_HEADER && h == SIZE_MAX)
            h = i;
        if (ed->c[i].type == VT_TYPE_END)
            end = i;
    }
    if (h != SIZE_MAX) {
        uint64_t id = vt_hash(ed->c[h].p, ed->c[h].n, 0);
        for (size_t i = 0; i < ed->count; i++)
            ed->c[i].image_id = id;
    }
    if (end != SIZE_MAX && ed->c[end].n >= VT_END_PAYLOAD_BYTES) {
        uint64_t total = 0, d = 0;
        for (size_t i = 0; i <= end; i++)
            total += VT_CHUNK_HEADER_BYTES + ed->c[i].n;
        for (size_t i = 0; i < end; i++) {
            uint8_t cs[8];
            vt_put64(cs, edit_checksum(&ed->c[i]));
            d = vt_hash(cs, sizeof(cs), d);
        }
        vt_put32(ed->c[end].p + VT_END_COUNT, (uint32_t)(end + 1));
        vt_put64(ed->c[end].p + VT_END_TOTAL, total);
        vt_put64(ed->c[end].p + VT_END_DIGEST, d);
    }
}

void vt_edit_serialize(const vt_edit_image *ed, vt_edit_bytes *out)
{
    size_t total = 0;
    for (size_t i = 0; i < ed->count; i++)
        total += VT_CHUNK_HEADER_BYTES + ed->c[i].n;
    out->b = vt_xmalloc(total);
    out->start = vt_xmalloc((ed->count + 1) * sizeof(size_t));
    out->count = ed->count;
    size_t off = 0;
    for (size_t i = 0; i < ed->count; i++) {
        out->start[i] = off;
        edit_head(&ed->c[i], out->b + off);
        memcpy(out->b + off + VT_CHUNK_HEADER_BYTES, ed->c[i].p, ed->c[i].n);
        off += VT_CHUNK_HEADER_BYTES + ed->c[i].n;
    }
    out->start[ed->count] = off;
    out->size = off;
}

void vt_edit_bytes_free(vt_edit_bytes *b)
{
    free(b->b);
    free(b->start);
    memset(b, 0, sizeof(*b));
}

uint32_t vt_edit_rec_count(const vt_edit_chunk *c)
{
    return vt_get32(c->p);
}

uint32_t vt_edit_rec_off(const vt_edit_chunk *c, uint32_t k)
{
    uint32_t off = 4;
    for (uint32_t i = 0; i < k; i++)
        off += vt_get32(c->p + off);
    return off;
}

/* ---- restoring a serialised image ---------------------------------------------------------- */

vt_edit_feed_out vt_edit_feed(vt_env *e, vmbsave_channel *ch, const vt_edit_bytes *b,
                              const size_t *groups, size_t ngroups)
{
    vt_edit_feed_out r = {STATUS_MORE_PROCESSING_REQUIRED, 0, 0};
    size_t i = 0, k = 0;
    while (i < b->count) {
        size_t g = groups[k++ % ngroups];
        size_t j = (g == 0 || i + g > b->count) ? b->count : i + g;
        r.status = vt_call_restore(e, ch, b->b + b->start[i], b->start[j] - b->start[i]);
        r.first = i;
        r.next = j;
        if (r.status != STATUS_MORE_PROCESSING_REQUIRED)
            break;
        i = j;
    }
    return r;
}

vt_edit_feed_out vt_edit_feed_n(vt_env *e, vmbsave_channel *ch, const vt_edit_bytes *b,
                                size_t per_call)
{
    return vt_edit_feed(e, ch, b, &per_call, 1);
}

vmbsave_channel *vt_edit_restore_ok(vt_env *e, const vt_edit_bytes *b, size_t per_call,
                                    const char *what)
{
    vmbsave_channel *ch = vt_channel_new(e);
    vt_edit_feed_out r = vt_edit_feed_n(e, ch, b, per_call);
    if (r.status != STATUS_SUCCESS || r.next != b->count)
        fail_msg("%s: restore returned %s from the call with chunks %zu..%zu of %zu", what,
                 vt_status_str(r.status), r.first, r.next, b->count);
    return ch;
}
