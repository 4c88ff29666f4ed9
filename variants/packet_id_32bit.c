/* Variant packet_id_32bit: packet ids are stored in the image as 32-bit values (the high half
 * of each PACKETS record's u64 id is written as 0), each chunk resealed so its checksum still
 * verifies. Ids below 2^32, the only ones small-id programs use, come out right; a packet id
 * of 2^32 or more is saved as another id (2^32 + 5 as 5, 2^32 as the invalid 0).
 * Caught by SAVE.IMAGE.COMPLETE on the capture of a channel holding such a packet
 * (tests/variants/packet_id_32bit.prog: programs' edge ids, docs/PROGRAMS.md). */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "variant.h"

/* FORMAT.md: the chunk header and PACKETS record fields touched here. */
#define P32_HEADER_BYTES 40u
#define P32_TYPE_OFFSET 8u
#define P32_PAYLOAD_BYTES_OFFSET 16u
#define P32_CHECKSUM_OFFSET 32u
#define P32_TYPE_PACKETS 3u
#define P32_RECORD_ID_OFFSET 4u

static uint32_t get_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le64(unsigned char *p, uint64_t v)
{
    for (unsigned i = 0; i < 8u; i++)
        p[i] = (unsigned char)(v >> (8u * i));
}

/* Truncates the ids of one PACKETS chunk's records and reseals it. */
static void truncate_chunk(unsigned char *chunk, uint32_t payload_bytes)
{
    unsigned char *payload = chunk + P32_HEADER_BYTES;
    if (payload_bytes < 4u)
        return;
    uint32_t records = get_le32(payload);
    uint32_t off = 4u;
    for (uint32_t i = 0; i < records && off + 12u <= payload_bytes; i++) {
        uint32_t record_bytes = get_le32(payload + off);
        unsigned char *high = payload + off + P32_RECORD_ID_OFFSET + 4u;
        high[0] = high[1] = high[2] = high[3] = 0;
        if (record_bytes < 12u || record_bytes > payload_bytes - off)
            break;
        off += record_bytes;
    }
    uint64_t seed = XXH3_64bits_withSeed(chunk, P32_CHECKSUM_OFFSET, 0);
    put_le64(chunk + P32_CHECKSUM_OFFSET, XXH3_64bits_withSeed(payload, payload_bytes, seed));
}

static NTSTATUS bug_save_continue(vmbsave_channel *channel, void *save_buffer,
                                  uint32_t save_buffer_size, uint32_t *bytes_filled,
                                  uint32_t *bytes_required)
{
    NTSTATUS st = variant_base.save_continue(channel, save_buffer, save_buffer_size,
                                             bytes_filled, bytes_required);
    if ((st != STATUS_SUCCESS && st != STATUS_BUFFER_OVERFLOW) || save_buffer == NULL ||
        bytes_filled == NULL)
        return st;
    /* The call wrote whole chunks: walk them. */
    unsigned char *buf = save_buffer;
    uint32_t filled = *bytes_filled, off = 0;
    while (filled - off >= P32_HEADER_BYTES) {
        unsigned char *chunk = buf + off;
        uint32_t payload_bytes = get_le32(chunk + P32_PAYLOAD_BYTES_OFFSET);
        if (payload_bytes > filled - off - P32_HEADER_BYTES)
            break;
        if (get_le32(chunk + P32_TYPE_OFFSET) == P32_TYPE_PACKETS) /* type, then flags 0 */
            truncate_chunk(chunk, payload_bytes);
        off += P32_HEADER_BYTES + payload_bytes;
    }
    return st;
}

static void configure(vmbsave_interface_v1 *table)
{
    table->save_continue = bug_save_continue;
}

static const variant_def def = {
    .impl_name = "vmbsave-variant-packet_id_32bit",
    .configure = configure,
};

VARIANT_ENTRY(def)
