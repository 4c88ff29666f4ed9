/* Variant nondeterministic_byte: the END chunk carries a session counter (a debugging aid left
 * in) in the first byte of its payload's reserved field, resealed so the checksum still
 * verifies. The interface's first session writes 0, as it must; every later one differs from
 * it in that byte (and its image no longer restores: readers check reserved fields).
 * Caught by SAVE.IMAGE.DETERMINISTIC. */
#include <stdatomic.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "variant.h"

/* FORMAT.md: the END chunk and the chunk header fields touched here. */
#define ND_HEADER_BYTES 40u
#define ND_END_BYTES (ND_HEADER_BYTES + 24u)
#define ND_TYPE_OFFSET 8u
#define ND_CHECKSUM_OFFSET 32u
#define ND_END_RESERVED_OFFSET (ND_HEADER_BYTES + 4u)
#define ND_TYPE_END 0xFFFFu

typedef struct nd_instance {
    atomic_uint sessions; /* sessions begun on this interface */
} nd_instance;

typedef struct nd_channel {
    unsigned char stamp; /* the active session's number, mod 256 */
} nd_channel;

static void put_le64(unsigned char *p, uint64_t v)
{
    for (unsigned i = 0; i < 8u; i++) {
        p[i] = (unsigned char)(v >> (8u * i));
    }
}

static NTSTATUS bug_save_begin(vmbsave_channel *channel)
{
    NTSTATUS st = variant_base.save_begin(channel);
    if (st == STATUS_SUCCESS) {
        nd_instance *inst = variant_instance_state(channel);
        nd_channel *ch = variant_channel_state(channel);
        ch->stamp = (unsigned char)atomic_fetch_add(&inst->sessions, 1u);
    }
    return st;
}

static NTSTATUS bug_save_continue(vmbsave_channel *channel, void *save_buffer,
                                  uint32_t save_buffer_size, uint32_t *bytes_filled,
                                  uint32_t *bytes_required)
{
    NTSTATUS st = variant_base.save_continue(channel, save_buffer, save_buffer_size,
                                             bytes_filled, bytes_required);
    if (st != STATUS_SUCCESS || *bytes_filled < ND_END_BYTES) {
        return st;
    }
    /* SUCCESS: the call ended with the END chunk. */
    unsigned char *end = (unsigned char *)save_buffer + *bytes_filled - ND_END_BYTES;
    if (end[ND_TYPE_OFFSET] != (ND_TYPE_END & 0xFFu) ||
        end[ND_TYPE_OFFSET + 1u] != (ND_TYPE_END >> 8)) {
        return st;
    }
    const nd_channel *ch = variant_channel_state(channel);
    end[ND_END_RESERVED_OFFSET] = ch->stamp;
    uint64_t seed = XXH3_64bits_withSeed(end, ND_CHECKSUM_OFFSET, 0);
    put_le64(end + ND_CHECKSUM_OFFSET,
             XXH3_64bits_withSeed(end + ND_HEADER_BYTES, ND_END_BYTES - ND_HEADER_BYTES, seed));
    return st;
}

static void configure(vmbsave_interface_v1 *table)
{
    table->save_begin = bug_save_begin;
    table->save_continue = bug_save_continue;
}

static const variant_def def = {
    .impl_name = "vmbsave-variant-nondeterministic_byte",
    .channel_state_bytes = sizeof(nd_channel),
    .instance_state_bytes = sizeof(nd_instance),
    .configure = configure,
};

VARIANT_ENTRY(def)
