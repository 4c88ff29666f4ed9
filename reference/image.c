/* Chunk header encode/validate and the XXH3 checksums of docs/FORMAT.md. */

/* Hashing every payload byte is most of a save's cost beyond the copy, and the portable
 * x86-64 build only gets xxHash's SSE2 kernel (a quarter of AVX2's speed). So long inputs are
 * dispatched at run time to xxHash's own AVX2 kernel, compiled here with a target attribute
 * the way xxHash's xxh_x86dispatch.c does it. XXH3 is one function whatever the kernel: the
 * hashes are bit-identical. Only xxHash versions whose internal names are known opt in. */
#if (defined(__x86_64__) || defined(__i386__)) && !defined(__AVX2__) &&                            \
    (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define XXH_X86DISPATCH 1 /* aligns xxHash's scratch for 256-bit stores, as its dispatcher does */
#define XXH_DISPATCH_AVX2 1
#define XXH_TARGET_AVX2 __attribute__((__target__("avx2")))
#define REF_HASH_AVX2_CANDIDATE 1
#endif

/* xxHash's state constructors call malloc/free. vmbsave never uses them (its one streaming
 * state lives on the stack), but unoptimised builds still emit them, and the plug-in must not
 * reference the C allocator at all (RESOURCES.HOST_ALLOCATOR_ONLY). So within the xxHash
 * header only, malloc yields NULL and free does nothing. <stdlib.h> comes first so that its
 * own declarations are not rewritten. */
#include <stdlib.h>
#define malloc(size) ((void)(size), (void *)0)
#define free(ptr) ((void)(ptr))
#define XXH_INLINE_ALL
#include <xxhash.h>
#undef malloc
#undef free

#include "image.h"

/* A valid pointer for zero-length input: xxHash does not read it, but NULL + 0 arithmetic
 * inside it would still trip UBSan. */
static const uint8_t ref_empty[1] = {0};

#if defined(REF_HASH_AVX2_CANDIDATE) && XXH_VERSION_NUMBER >= 800 && XXH_VERSION_NUMBER <= 803
#define REF_HASH_AVX2_DISPATCH 1
#endif

#ifdef REF_HASH_AVX2_DISPATCH
#if XXH_VERSION_NUMBER >= 802
#define REF_XXH3_ACCUMULATE_AVX2 XXH3_accumulate_avx2
#else
#define REF_XXH3_ACCUMULATE_AVX2 XXH3_accumulate_512_avx2
#endif
/* XXH3's long-input path (> XXH3_MIDSIZE_MAX bytes) with the AVX2 kernel. */
__attribute__((noinline)) XXH_TARGET_AVX2 static XXH64_hash_t
ref_hash_long_avx2(const void *data, size_t len, XXH64_hash_t seed)
{
    return XXH3_hashLong_64b_withSeed_internal(data, len, seed, REF_XXH3_ACCUMULATE_AVX2,
                                               XXH3_scrambleAcc_avx2, XXH3_initCustomSecret_avx2);
}
#endif

uint64_t ref_hash(const void *data, size_t len, uint64_t seed)
{
    if (len == 0) {
        data = ref_empty;
    }
#ifdef REF_HASH_AVX2_DISPATCH
    /* __builtin_cpu_supports also checks that the OS saves the YMM registers. */
    if (len > XXH3_MIDSIZE_MAX && __builtin_cpu_supports("avx2")) {
        return (uint64_t)ref_hash_long_avx2(data, len, (XXH64_hash_t)seed);
    }
#endif
    return (uint64_t)XXH3_64bits_withSeed(data, len, (XXH64_hash_t)seed);
}

uint64_t ref_hash_2(const void *a, size_t a_len, const void *b, size_t b_len)
{
    if (b_len == 0) {
        return ref_hash(a, a_len, 0);
    }
    if (a_len == 0) {
        return ref_hash(b, b_len, 0);
    }
    /* The streaming state lives on the stack so describe() never allocates. */
    XXH3_state_t state;
    (void)XXH3_64bits_reset_withSeed(&state, 0);
    (void)XXH3_64bits_update(&state, a, a_len);
    (void)XXH3_64bits_update(&state, b, b_len);
    return (uint64_t)XXH3_64bits_digest(&state);
}

uint64_t ref_digest_step(uint64_t digest, uint64_t checksum)
{
    uint8_t le[8];
    ref_put_u64(le, checksum);
    return ref_hash(le, sizeof le, digest);
}

uint64_t ref_chunk_seal(uint8_t *chunk, uint16_t type, uint32_t sequence, uint32_t payload_bytes,
                        uint64_t image_id)
{
    ref_put_u32(chunk + REF_CH_MAGIC, REF_MAGIC);
    ref_put_u16(chunk + REF_CH_MAJOR, (uint16_t)REF_FORMAT_MAJOR);
    ref_put_u16(chunk + REF_CH_MINOR, (uint16_t)REF_FORMAT_MINOR);
    ref_put_u16(chunk + REF_CH_TYPE, type);
    ref_put_u16(chunk + REF_CH_FLAGS, 0);
    ref_put_u32(chunk + REF_CH_SEQUENCE, sequence);
    ref_put_u32(chunk + REF_CH_PAYLOAD_BYTES, payload_bytes);
    ref_put_u32(chunk + REF_CH_RESERVED, 0);
    ref_put_u64(chunk + REF_CH_IMAGE_ID, image_id);
    uint64_t seed = ref_hash(chunk, REF_CH_HASHED_BYTES, 0);
    uint64_t checksum = ref_hash(chunk + REF_CHUNK_HEADER_BYTES, payload_bytes, seed);
    ref_put_u64(chunk + REF_CH_CHECKSUM, checksum);
    return checksum;
}

NTSTATUS ref_chunk_open(const uint8_t *p, size_t avail, ref_chunk_view *out)
{
    /* 1. A partial header. */
    if (avail < REF_CHUNK_HEADER_BYTES) {
        return STATUS_INVALID_BUFFER_SIZE;
    }
    /* 2-3. Identity, then version: a newer major is not interpreted any further. */
    if (ref_get_u32(p + REF_CH_MAGIC) != REF_MAGIC) {
        return STATUS_FILE_CORRUPT_ERROR;
    }
    if (ref_get_u16(p + REF_CH_MAJOR) != REF_FORMAT_MAJOR) {
        return STATUS_UNKNOWN_REVISION;
    }
    /* 4-5. Size: over the chunk limit, then running past the buffer (a partial chunk). */
    uint32_t payload_bytes = ref_get_u32(p + REF_CH_PAYLOAD_BYTES);
    if (payload_bytes > REF_CHUNK_MAX_PAYLOAD) {
        return STATUS_IMPLEMENTATION_LIMIT;
    }
    if (payload_bytes > avail - REF_CHUNK_HEADER_BYTES) {
        return STATUS_INVALID_BUFFER_SIZE;
    }
    /* 6. Checksum before trusting any other field. */
    uint64_t checksum = ref_get_u64(p + REF_CH_CHECKSUM);
    uint64_t seed = ref_hash(p, REF_CH_HASHED_BYTES, 0);
    if (ref_hash(p + REF_CHUNK_HEADER_BYTES, payload_bytes, seed) != checksum) {
        return STATUS_DATA_ERROR;
    }
    /* 7. Reserved bits. */
    uint16_t flags = ref_get_u16(p + REF_CH_FLAGS);
    if (ref_get_u32(p + REF_CH_RESERVED) != 0 || (flags & ~REF_CHUNK_FLAG_OPTIONAL) != 0) {
        return STATUS_FILE_CORRUPT_ERROR;
    }
    out->type = ref_get_u16(p + REF_CH_TYPE);
    out->flags = flags;
    out->sequence = ref_get_u32(p + REF_CH_SEQUENCE);
    out->payload_bytes = payload_bytes;
    out->image_id = ref_get_u64(p + REF_CH_IMAGE_ID);
    out->checksum = checksum;
    out->payload = p + REF_CHUNK_HEADER_BYTES;
    return STATUS_SUCCESS;
}
