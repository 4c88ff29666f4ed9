/* Canonical channel states as program prefixes (harness/program/canonical.h). */
#include "program/canonical.h"

#include <string.h>

#include "vmbsave/abi.h"

/* One step of a prefix, channel slot left 0 (vmbsave_canonical_append sets it). */
#define STEP(op_, mode_, a_, b_, c_)                                                               \
    {                                                                                              \
        .op = (uint8_t)(op_), .ch = 0, .mode = (uint8_t)(mode_), .slot = 0, .a = (a_), .b = (b_),  \
        .c = (c_)                                                                                  \
    }

/* Every state starts offered and enabled. The offer salt is the same everywhere so that states
 * differ in what they hold, not in their HEADER's offer bytes. */
#define OFFER_STEPS                                                                                \
    STEP(VMBSAVE_OP_OFFER, VMBSAVE_OFFER_VALID, 1, 0, 0), STEP(VMBSAVE_OP_ENABLE, 0, 0, 0, 0)

/* ENABLED, offer only: an image of HEADER and END. */
static const vmbsave_step k_empty_offer[] = {
    OFFER_STEPS,
};

/* OPEN_PAUSED with four GPADLs created out of id order (the image lists them ascending), of
 * different sizes, one (5) mid-teardown; ring GPADL 1, minimal rings. One GPADLS chunk. */
static const vmbsave_step k_open_gpadls[] = {
    OFFER_STEPS,
    STEP(VMBSAVE_OP_GPADL_CREATE, VMBSAVE_GPADL_VALID, 3, 4, 11),
    STEP(VMBSAVE_OP_GPADL_CREATE, VMBSAVE_GPADL_VALID, 1, 2, 12),
    STEP(VMBSAVE_OP_GPADL_CREATE, VMBSAVE_GPADL_VALID, 5, 16, 13),
    STEP(VMBSAVE_OP_GPADL_CREATE, VMBSAVE_GPADL_VALID, 7, 1, 14),
    STEP(VMBSAVE_OP_GPADL_TEARDOWN_BEGIN, 0, 5, 0, 0),
    STEP(VMBSAVE_OP_OPEN, VMBSAVE_OPEN_VALID, 1, 2, 2),
};

/* OPEN_PAUSED with traffic: packets 1 2 3 4 5 6 8 sent, 3 completed, so 1 2 4 5 6 8 stay in
 * flight. The scripted driver (harness/host/host.h) gives state to ids with id % 4 != 0: 1 2 5 6
 * have some, 4 and 8 none. Packets 2 4 5 8 reference GPADLs 2 and 3; GPADL 5 is TEARING_DOWN
 * and referenced by nothing (the restore tests rename and re-point it). Ring bytes both ways,
 * the incoming ring partly read so its pending bytes do not start at the ring's start. One
 * chunk each of GPADLS, PACKETS, RING in, RING out. */
static const vmbsave_step k_paused_packets[] = {
    OFFER_STEPS,
    STEP(VMBSAVE_OP_GPADL_CREATE, VMBSAVE_GPADL_VALID, 1, 2, 21),
    STEP(VMBSAVE_OP_GPADL_CREATE, VMBSAVE_GPADL_VALID, 2, 3, 22),
    STEP(VMBSAVE_OP_GPADL_CREATE, VMBSAVE_GPADL_VALID, 3, 1, 23),
    STEP(VMBSAVE_OP_GPADL_CREATE, VMBSAVE_GPADL_VALID, 5, 2, 24),
    STEP(VMBSAVE_OP_GPADL_TEARDOWN_BEGIN, 0, 5, 0, 0),
    STEP(VMBSAVE_OP_OPEN, VMBSAVE_OPEN_VALID, 1, 2, 2),
    STEP(VMBSAVE_OP_START, 0, 0, 0, 0),
    STEP(VMBSAVE_OP_PACKET_SEND, VMBSAVE_PAYLOAD_SMALL, 1, 0, 10),
    STEP(VMBSAVE_OP_PACKET_SEND, VMBSAVE_PAYLOAD_SMALL, 2, 2, 64),
    STEP(VMBSAVE_OP_PACKET_SEND, VMBSAVE_PAYLOAD_MEDIUM, 3, 0, 300),
    STEP(VMBSAVE_OP_PACKET_SEND, VMBSAVE_PAYLOAD_SMALL, 4, 3, 0),
    STEP(VMBSAVE_OP_PACKET_SEND, VMBSAVE_PAYLOAD_MEDIUM, 5, 2, 1000),
    STEP(VMBSAVE_OP_PACKET_SEND, VMBSAVE_PAYLOAD_SMALL, 6, 0, 33),
    STEP(VMBSAVE_OP_PACKET_SEND, VMBSAVE_PAYLOAD_SMALL, 8, 3, 20),
    STEP(VMBSAVE_OP_PACKET_COMPLETE, 0, 3, 0, 0),
    STEP(VMBSAVE_OP_RING_WRITE, VMBSAVE_RING_INCOMING, 200, 0, 31),
    STEP(VMBSAVE_OP_RING_READ, VMBSAVE_RING_INCOMING, 50, 0, 0),
    STEP(VMBSAVE_OP_RING_WRITE, VMBSAVE_RING_OUTGOING, 77, 0, 32),
    STEP(VMBSAVE_OP_PAUSE, 0, 0, 0, 0),
};

/* OPEN_PAUSED with bulk ring data. A RING chunk carries at most 65536 - 40 - 8 = 65488 bytes,
 * so the 135072 pending incoming bytes make 3 chunks (65488, 65488, 4096) and the 66536
 * outgoing make 2 (65488, 1048). 139072 bytes go through the 135168-byte incoming ring (33
 * pages) after 4000 are read, so in a circular ring its pending bytes wrap around the end. */
static const vmbsave_step k_large_ring[] = {
    OFFER_STEPS,
    STEP(VMBSAVE_OP_GPADL_CREATE, VMBSAVE_GPADL_VALID, 1, 8, 41),
    STEP(VMBSAVE_OP_OPEN, VMBSAVE_OPEN_VALID, 1, 33, 17),
    STEP(VMBSAVE_OP_START, 0, 0, 0, 0),
    STEP(VMBSAVE_OP_RING_WRITE, VMBSAVE_RING_INCOMING, 65536, 0, 51),
    STEP(VMBSAVE_OP_RING_READ, VMBSAVE_RING_INCOMING, 4000, 0, 0),
    STEP(VMBSAVE_OP_RING_WRITE, VMBSAVE_RING_INCOMING, 65536, 0, 52),
    STEP(VMBSAVE_OP_RING_WRITE, VMBSAVE_RING_INCOMING, 8000, 0, 53),
    STEP(VMBSAVE_OP_RING_WRITE, VMBSAVE_RING_OUTGOING, 65536, 0, 54),
    STEP(VMBSAVE_OP_RING_WRITE, VMBSAVE_RING_OUTGOING, 1000, 0, 55),
    STEP(VMBSAVE_OP_PAUSE, 0, 0, 0, 0),
};

typedef struct canonical_entry {
    vmbsave_canonical_info info;
    const vmbsave_step *steps;
    uint32_t step_count;
} canonical_entry;

#define STEPS(array) (array), (uint32_t)(sizeof(array) / sizeof((array)[0]))

static const canonical_entry k_canonical[VMBSAVE_CANONICAL_COUNT] = {
    [VMBSAVE_CANONICAL_EMPTY_OFFER] = {{.name = "empty_offer",
                                        .summary = "ENABLED, offer only",
                                        .image_chunks = 2},
                                       STEPS(k_empty_offer)},
    /* HEADER GPADLS END */
    [VMBSAVE_CANONICAL_OPEN_GPADLS] = {{.name = "open_gpadls",
                                        .summary = "OPEN_PAUSED, 4 GPADLs, one TEARING_DOWN",
                                        .image_chunks = 3,
                                        .gpadl_count = 4,
                                        .gpadl_ids = {1, 3, 5, 7},
                                        .ring_gpadl = 1,
                                        .tearing_down_gpadl = 5},
                                       STEPS(k_open_gpadls)},
    /* HEADER GPADLS PACKETS RING(in) RING(out) END */
    [VMBSAVE_CANONICAL_PAUSED_PACKETS] =
        {{.name = "paused_packets",
          .summary = "OPEN_PAUSED, 6 packets in flight, 4 GPADLs (one TEARING_DOWN), ring bytes "
                     "both ways",
          .image_chunks = 6,
          .packet_count = 6,
          .packet_ids = {1, 2, 4, 5, 6, 8},
          .gpadl_count = 4,
          .gpadl_ids = {1, 2, 3, 5},
          .ring_gpadl = 1,
          .tearing_down_gpadl = 5},
         STEPS(k_paused_packets)},
    /* HEADER GPADLS RING(in) x3 RING(out) x2 END */
    [VMBSAVE_CANONICAL_LARGE_RING] = {{.name = "large_ring",
                                       .summary =
                                           "OPEN_PAUSED, 132 KiB + 65 KiB of ring data in 5 chunks",
                                       .image_chunks = 8,
                                       .gpadl_count = 1,
                                       .gpadl_ids = {1},
                                       .ring_gpadl = 1},
                                      STEPS(k_large_ring)},
};

const vmbsave_canonical_info *vmbsave_canonical_info_of(vmbsave_canonical_id id)
{
    if ((unsigned)id >= VMBSAVE_CANONICAL_COUNT)
        return NULL;
    return &k_canonical[id].info;
}

const char *vmbsave_canonical_name(vmbsave_canonical_id id)
{
    const vmbsave_canonical_info *info = vmbsave_canonical_info_of(id);
    return info != NULL ? info->name : "?";
}

int vmbsave_canonical_find(const char *name)
{
    if (name == NULL)
        return -1;
    for (unsigned i = 0; i < VMBSAVE_CANONICAL_COUNT; i++) {
        if (strcmp(name, k_canonical[i].info.name) == 0)
            return (int)i;
    }
    return -1;
}

bool vmbsave_canonical_append(vmbsave_canonical_id id, uint8_t ch, vmbsave_program *program)
{
    if ((unsigned)id >= VMBSAVE_CANONICAL_COUNT || ch >= VMBSAVE_PROGRAM_CHANNELS ||
        program == NULL)
        return false;
    const canonical_entry *entry = &k_canonical[id];
    if (program->count > VMBSAVE_PROGRAM_MAX_STEPS ||
        entry->step_count > VMBSAVE_PROGRAM_MAX_STEPS - program->count)
        return false;
    for (uint32_t i = 0; i < entry->step_count; i++) {
        vmbsave_step step = entry->steps[i];
        step.ch = ch;
        vmbsave_step_normalize(&step); /* a no-op on these steps; keeps the program normalised */
        program->steps[program->count++] = step;
    }
    return true;
}

uint32_t vmbsave_canonical_salt_field(uint32_t c, uint32_t salt)
{
    return salt == 0 ? c : c ^ (salt * UINT32_C(0x9E3779B1)) ^ UINT32_C(0x5A17);
}

uint32_t vmbsave_canonical_steps(vmbsave_canonical_id id, uint32_t salt, vmbsave_step *out,
                                 uint32_t cap)
{
    if ((unsigned)id >= VMBSAVE_CANONICAL_COUNT || out == NULL)
        return 0;
    const canonical_entry *entry = &k_canonical[id];
    if (entry->step_count > cap)
        return 0;
    for (uint32_t i = 0; i < entry->step_count; i++) {
        vmbsave_step step = entry->steps[i];
        if (step.op == VMBSAVE_OP_GPADL_CREATE || step.op == VMBSAVE_OP_RING_WRITE)
            step.c = vmbsave_canonical_salt_field(step.c, salt);
        vmbsave_step_normalize(&step); /* salts span all of u32: still a no-op */
        out[i] = step;
    }
    return entry->step_count;
}

bool vmbsave_canonical_prefix(vmbsave_canonical_id id, vmbsave_program *out)
{
    if (out == NULL || (unsigned)id >= VMBSAVE_CANONICAL_COUNT)
        return false;
    memset(out, 0, sizeof *out);
    return vmbsave_canonical_append(id, 0, out);
}
