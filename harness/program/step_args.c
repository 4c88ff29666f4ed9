/* The concrete arguments of a program step's call (harness/program/step_args.h). */
#include "program/step_args.h"

#include <string.h>

#include "program/program.h"

/* splitmix64: a tiny, well-mixed stream; nothing here needs more. */
static uint64_t mix(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

void vmbsave_args_bytes(uint64_t seed, uint8_t *out, size_t n)
{
    uint64_t state = seed;
    size_t i = 0;
    for (; i + 8u <= n; i += 8u) {
        uint64_t x = mix(&state);
        for (unsigned k = 0; k < 8; k++)
            out[i + k] = (uint8_t)(x >> (8 * k));
    }
    if (i < n) {
        uint64_t x = mix(&state);
        for (unsigned k = 0; i < n; k++, i++)
            out[i] = (uint8_t)(x >> (8 * k));
    }
}

void vmbsave_args_offer(uint32_t mode, uint32_t salt, vmbsave_offer *out)
{
    memset(out, 0, sizeof *out);
    uint64_t state = UINT64_C(0x6F66666572) ^ salt;
    uint64_t x = mix(&state);
    vmbsave_args_bytes(mix(&state), out->interface_type.bytes, sizeof out->interface_type.bytes);
    vmbsave_args_bytes(mix(&state), out->interface_instance.bytes,
                       sizeof out->interface_instance.bytes);
    vmbsave_args_bytes(mix(&state), out->user_defined, sizeof out->user_defined);
    out->subchannel_index = (uint16_t)(x % (VMBSAVE_MAX_SUBCHANNEL_INDEX + 1u));
    out->mmio_megabytes = (uint16_t)((x >> 16) % (VMBSAVE_MAX_MMIO_MEGABYTES + 1u));
    out->flags = (uint32_t)(x >> 32) & VMBSAVE_OFFER_FLAGS_VALID;
    switch (mode) {
    case VMBSAVE_OFFER_BAD_FLAGS:
        /* One bit outside the valid set, the rest valid: only that is wrong. */
        out->flags |= UINT32_C(1) << (5u + (uint32_t)((x >> 40) % 27u));
        break;
    case VMBSAVE_OFFER_OVER_LIMIT:
        out->subchannel_index = (uint16_t)(VMBSAVE_MAX_SUBCHANNEL_INDEX + 1u + (x >> 48) % 1000u);
        break;
    default: break;
    }
}

void vmbsave_args_open(uint32_t mode, uint32_t a, uint32_t b, uint32_t c, vmbsave_open_params *out)
{
    memset(out, 0, sizeof *out);
    uint64_t state = ((uint64_t)a << 40) ^ ((uint64_t)b << 20) ^ c ^ UINT64_C(0x6F70656E);
    uint64_t x = mix(&state);
    out->ring_gpadl_id = vmbsave_program_gpadl_id(a); /* a is an id code (program.h) */
    out->incoming_ring_bytes = b * VMBSAVE_PAGE_BYTES;
    out->outgoing_ring_bytes = c * VMBSAVE_PAGE_BYTES;
    out->target_vp = (uint32_t)(x % (VMBSAVE_MAX_TARGET_VP + 1u));
    out->connection_id = 1u + (uint32_t)((x >> 16) % 0xFFFFFFFEu);
    switch (mode) {
    case VMBSAVE_OPEN_UNALIGNED:
        /* Above the minimum, below the maximum, not a page multiple: malformed only. */
        out->incoming_ring_bytes += 1u + (uint32_t)((x >> 48) % (VMBSAVE_PAGE_BYTES - 1u));
        break;
    case VMBSAVE_OPEN_ZERO_CONNECTION: out->connection_id = 0; break;
    default: break;
    }
}

void vmbsave_args_pfns(uint32_t mode, uint32_t count, uint32_t salt, uint64_t *out)
{
    if (count > VMBSAVE_ARGS_MAX_PFNS)
        count = VMBSAVE_ARGS_MAX_PFNS;
    uint64_t state = UINT64_C(0x70666E73) ^ ((uint64_t)salt << 16);
    for (uint32_t i = 0; i < count; i++)
        out[i] = mix(&state) & VMBSAVE_MAX_PFN;
    if (mode == VMBSAVE_GPADL_BAD_PFN && count != 0)
        out[salt % count] = VMBSAVE_MAX_PFN + 1u + (mix(&state) & 0xFFFu);
}

uint64_t vmbsave_args_payload_seed(uint32_t mode, uint32_t a, uint32_t b, uint32_t c)
{
    uint64_t state = ((uint64_t)mode << 56) ^ ((uint64_t)a << 36) ^ ((uint64_t)b << 24) ^ c;
    return mix(&state);
}

uint64_t vmbsave_args_payload_seed_salted(uint32_t mode, uint32_t a, uint32_t b, uint32_t c,
                                          uint32_t salt)
{
    uint64_t seed = vmbsave_args_payload_seed(mode, a, b, c);
    if (salt == 0)
        return seed;
    uint64_t state = seed ^ ((uint64_t)salt << 32) ^ UINT64_C(0x73616C74);
    return mix(&state);
}

uint64_t vmbsave_args_ring_seed(uint32_t salt)
{
    uint64_t state = UINT64_C(0x72696E67) ^ ((uint64_t)salt << 20);
    return mix(&state);
}
