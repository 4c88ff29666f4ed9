/* RESTORE edits (harness/image/image_edit.h). */
#include "image/image_edit.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "program/program.h"

static uint32_t chunk_size(const vmbsave_edit_image *img, uint32_t i)
{
    return img->chunk_off[i + 1u] - img->chunk_off[i];
}

static void append(uint8_t *out, uint32_t *len, const uint8_t *src, uint32_t n)
{
    memcpy(out + *len, src, n);
    *len += n;
}

/* Calls of `per_call` whole chunks of the original image (0: one call), the stream cut at
 * `size` bytes. */
static void group_calls(const vmbsave_edit_image *img, uint32_t per_call, uint32_t size,
                        vmbsave_edit_result *res)
{
    res->calls = 0;
    if (per_call != 0) {
        for (uint32_t i = per_call; i < img->chunks; i += per_call) {
            uint32_t end = img->chunk_off[i];
            if (end >= size)
                break;
            res->call_end[res->calls++] = end;
        }
    }
    res->call_end[res->calls++] = size;
}

int vmbsave_image_edit(const vmbsave_edit_image *image, uint32_t mode, uint32_t a, uint32_t b,
                       uint32_t c, const vmbsave_edit_image *foreign, uint8_t *out,
                       vmbsave_edit_result *res)
{
    const uint32_t n = image->chunks;
    memset(res, 0, sizeof *res);
    if (n == 0 || image->size == 0 || image->size > VMBSAVE_RUN_MAX_IMAGE_BYTES ||
        n > VMBSAVE_RUN_MAX_CHUNKS)
        return -1;
    uint32_t len = 0;
    switch (mode) {
    case VMBSAVE_EDIT_WHOLE:
        append(out, &len, image->bytes, image->size);
        group_calls(image, c, len, res);
        snprintf(res->note, sizeof res->note, "unedited, %" PRIu32 " chunk(s) per call", c);
        break;
    case VMBSAVE_EDIT_TRUNCATE: {
        uint32_t cut = a % image->size;
        append(out, &len, image->bytes, cut);
        group_calls(image, c, len, res);
        uint32_t k = 0;
        while (k < n && image->chunk_off[k + 1u] <= cut)
            k++;
        snprintf(res->note, sizeof res->note, "cut at byte %" PRIu32 " (%s chunk %" PRIu32 ")", cut,
                 k < n && image->chunk_off[k] == cut ? "the start of" : "inside", k);
        break;
    }
    case VMBSAVE_EDIT_BIT_FLIP: {
        uint64_t bit = (uint64_t)a % ((uint64_t)image->size * 8u);
        append(out, &len, image->bytes, image->size);
        out[bit / 8u] ^= (uint8_t)(1u << (bit % 8u));
        uint32_t k = 0;
        while (k + 1u < n && image->chunk_off[k + 1u] <= bit / 8u)
            k++;
        group_calls(image, 0, len, res);
        snprintf(res->note, sizeof res->note,
                 "bit %" PRIu64 " flipped (chunk %" PRIu32 ", byte %" PRIu64 ")", bit, k,
                 bit / 8u - image->chunk_off[k]);
        break;
    }
    case VMBSAVE_EDIT_DROP_CHUNK: {
        uint32_t k = a % n;
        for (uint32_t i = 0; i < n; i++) {
            if (i != k)
                append(out, &len, image->bytes + image->chunk_off[i], chunk_size(image, i));
        }
        group_calls(image, 0, len, res);
        snprintf(res->note, sizeof res->note, "chunk %" PRIu32 " of %" PRIu32 " dropped", k, n);
        break;
    }
    case VMBSAVE_EDIT_DUPLICATE_CHUNK: {
        uint32_t k = a % n;
        for (uint32_t i = 0; i < n; i++) {
            append(out, &len, image->bytes + image->chunk_off[i], chunk_size(image, i));
            if (i == k)
                append(out, &len, image->bytes + image->chunk_off[i], chunk_size(image, i));
        }
        group_calls(image, 0, len, res);
        snprintf(res->note, sizeof res->note, "chunk %" PRIu32 " of %" PRIu32 " twice", k, n);
        break;
    }
    case VMBSAVE_EDIT_SWAP_CHUNKS: {
        uint32_t x = a % n, y = b % n;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t from = i == x ? y : i == y ? x : i;
            append(out, &len, image->bytes + image->chunk_off[from], chunk_size(image, from));
        }
        group_calls(image, 0, len, res);
        snprintf(res->note, sizeof res->note,
                 "chunks %" PRIu32 " and %" PRIu32 " of %" PRIu32 " swapped", x, y, n);
        break;
    }
    case VMBSAVE_EDIT_FOREIGN_CHUNK: {
        uint32_t k = a % n;
        if (foreign == NULL || foreign->chunks == 0) {
            append(out, &len, image->bytes, image->size);
            snprintf(res->note, sizeof res->note, "image slot %" PRIu32 " is empty: unedited", b);
        } else {
            uint32_t fk = k % foreign->chunks;
            for (uint32_t i = 0; i < n; i++) {
                if (i == k)
                    append(out, &len, foreign->bytes + foreign->chunk_off[fk],
                           foreign->chunk_off[fk + 1u] - foreign->chunk_off[fk]);
                else
                    append(out, &len, image->bytes + image->chunk_off[i], chunk_size(image, i));
            }
            snprintf(res->note, sizeof res->note,
                     "chunk %" PRIu32 " replaced by chunk %" PRIu32 " of image slot %" PRIu32, k,
                     fk, b);
        }
        group_calls(image, 0, len, res);
        break;
    }
    case VMBSAVE_EDIT_SPLIT_INSIDE: {
        uint32_t k = a % n;
        uint32_t half = chunk_size(image, k) / 2u;
        uint32_t cut = image->chunk_off[k] + (half != 0 ? half : 1u);
        append(out, &len, image->bytes, image->size);
        res->calls = 0;
        res->call_end[res->calls++] = cut;
        if (cut < len)
            res->call_end[res->calls++] = len;
        snprintf(res->note, sizeof res->note,
                 "a call boundary at byte %" PRIu32 " of chunk %" PRIu32, cut - image->chunk_off[k],
                 k);
        break;
    }
    case VMBSAVE_EDIT_CHUNKS: {
        uint32_t first = a % n;
        uint32_t last = b == 0 || b > n - first ? n : first + b; /* exclusive */
        uint32_t base = image->chunk_off[first];
        append(out, &len, image->bytes + base, image->chunk_off[last] - base);
        /* Calls of c whole chunks, counted from `first`. */
        res->calls = 0;
        if (c != 0) {
            for (uint32_t i = first + c; i < last; i += c)
                res->call_end[res->calls++] = image->chunk_off[i] - base;
        }
        res->call_end[res->calls++] = len;
        snprintf(res->note, sizeof res->note,
                 "chunks %" PRIu32 "..%" PRIu32 " only, %" PRIu32 " chunk(s) per call", first,
                 last - 1u, c);
        break;
    }
    default: return -1;
    }
    res->size = len;
    return 0;
}
