/* Internal declarations of the second implementation (README.md). Nothing here is exported:
 * the only public symbol is vmbsave_get_interface (plugin.c, plugin.map). */
#ifndef VMBSAVE_SECOND_H
#define VMBSAVE_SECOND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmbsave/abi.h"

/* ---- Image format constants (docs/FORMAT.md) ---- */
#define SV_MAGIC 0x53424D56u
#define SV_MAJOR 1u
#define SV_MINOR 0u
#define SV_CHUNK_HDR 40u
#define SV_HEADER_PAYLOAD 208u
#define SV_END_PAYLOAD 24u
#define SV_GPADL_FIXED 16u
#define SV_PACKET_FIXED 32u
#define SV_RING_FIXED 8u
#define SV_COUNT_BYTES 4u
#define SV_FLAG_OPTIONAL 0x1u

enum sv_chunk_type {
    SV_T_HEADER = 1,
    SV_T_GPADLS = 2,
    SV_T_PACKETS = 3,
    SV_T_RING = 4,
    SV_T_END = 0xFFFF
};

enum sv_gpadl_state { SV_GPADL_CREATED = 1, SV_GPADL_TEARING_DOWN = 2 };

/* ---- The interface and the channel ---- */

typedef struct sv_iface {
    vmbsave_host_v1 host; /* copied: the caller need not keep its own */
} sv_iface;

typedef struct sv_gpadl {
    uint32_t id;
    uint32_t state; /* enum sv_gpadl_state */
    uint32_t pfn_count;
    uint8_t pfn_le[]; /* the pfns as u64 LE, as the image and describe's hash take them */
} sv_gpadl;

typedef struct sv_packet {
    uint64_t id;
    uint64_t seq;
    uint32_t gpadl;
    uint32_t bytes;
    uint32_t save_need; /* scratch of one save build or restore: the driver state's size */
    uint32_t save_at;   /* and where it is (in the build's arena, or the restore's stage) */
    uint8_t payload[];
} sv_packet;

/* A direction's pending bytes, kept linear (oldest at 0) so hashing and saving see one span;
 * capacity grows on demand up to the ring size instead of reserving the ring up front. */
typedef struct sv_ring {
    uint8_t *buf;
    uint32_t len, cap;
} sv_ring;

/* Everything SPEC.md section 14 describes beyond the lifecycle flags. A restore decodes into
 * one of these and swaps it in, so a failure never touches the channel. */
typedef struct sv_contents {
    vmbsave_open_params open;
    sv_gpadl *gpadls[VMBSAVE_MAX_GPADLS]; /* ascending id */
    uint32_t gpadl_count;
    sv_packet **packets; /* send order */
    uint32_t packet_count, packet_cap;
    sv_ring rings[2];
} sv_contents;

enum sv_save_phase {
    SV_SAVE_NONE = 0, /* no session */
    SV_SAVE_OPEN,     /* begun; the image is not built yet */
    SV_SAVE_BUILT,    /* the whole image is in `image`; chunks are copied out from `pos` */
    SV_SAVE_DONE,     /* END was handed out */
    SV_SAVE_STICKY    /* failed with `sticky` */
};

typedef struct sv_save {
    enum sv_save_phase phase;
    NTSTATUS sticky;
    uint8_t *image;
    uint32_t size, pos;
} sv_save;

/* A restore in progress (restore.c). The chunks each call carries are validated at once (the
 * contract ties every FORMAT.md step 1-11 status to the call holding the chunk), but only
 * staged as raw bytes: nothing is decoded or allocated for the channel before END. */
typedef struct sv_restore {
    bool active;
    uint8_t *stage; /* the known chunks accepted so far, whole, in order */
    uint32_t len, cap;
    /* Where the reader is. */
    uint32_t next_seq;
    unsigned rank;
    uint64_t image_id;
    uint64_t digest;
    uint64_t bytes_read;
    /* What the HEADER declared. */
    uint32_t state;
    uint32_t ring_bytes[2];
    uint64_t next_send_seq;
    uint32_t decl_gpadls, decl_packets, decl_pending[2];
    /* What was read against it. */
    uint32_t gpadls, packets, pending[2];
    uint32_t last_gpadl_id;
    uint64_t last_packet_seq;
} sv_restore;

struct vmbsave_channel {
    sv_iface *iface;
    vmbsave_channel_state state;
    bool fresh;       /* SPEC.md: no offer, enable or restore has succeeded yet */
    bool init_over;   /* enabled once or restored: init_set_offer is refused */
    bool offer_set;
    bool in_callback; /* inside a packet callback: PACKET.CALLBACKS.NO_REENTRY */
    vmbsave_offer offer;
    uint64_t next_seq;
    sv_contents c;
    sv_save save;
    sv_restore rs;
};

/* ---- plugin.c: host services ---- */
void *sv_alloc(const sv_iface *iface, size_t bytes);
void sv_free(const sv_iface *iface, void *ptr);

/* ---- lifecycle.c ---- */
void sv_contents_clear(const sv_iface *iface, sv_contents *c);
void sv_drop_traffic(const sv_iface *iface, sv_contents *c);
NTSTATUS sv_channel_allocate(void *context, vmbsave_channel **channel);
NTSTATUS sv_channel_cleanup(vmbsave_channel *ch);
NTSTATUS sv_init_set_offer(vmbsave_channel *ch, const vmbsave_offer *offer);
NTSTATUS sv_enable(vmbsave_channel *ch);
NTSTATUS sv_disable(vmbsave_channel *ch);
NTSTATUS sv_guest_open(vmbsave_channel *ch, const vmbsave_open_params *params);
NTSTATUS sv_guest_close(vmbsave_channel *ch);
NTSTATUS sv_start(vmbsave_channel *ch);
NTSTATUS sv_pause(vmbsave_channel *ch);
NTSTATUS sv_gpadl_create(vmbsave_channel *ch, uint32_t id, const uint64_t *pfns, uint32_t count);
NTSTATUS sv_gpadl_teardown_begin(vmbsave_channel *ch, uint32_t id);
NTSTATUS sv_gpadl_teardown_complete(vmbsave_channel *ch, uint32_t id);
NTSTATUS sv_packet_send(vmbsave_channel *ch, uint64_t id, uint32_t gpadl, const void *payload,
                        uint32_t bytes);
NTSTATUS sv_packet_complete(vmbsave_channel *ch, uint64_t id);
NTSTATUS sv_ring_write(vmbsave_channel *ch, vmbsave_ring_direction dir, const void *data,
                       uint32_t bytes);
NTSTATUS sv_ring_read(vmbsave_channel *ch, vmbsave_ring_direction dir, void *data, uint32_t bytes,
                      uint32_t *bytes_read);
int sv_gpadl_index(const sv_contents *c, uint32_t id); /* -1 if absent */

/* ---- save.c ---- */
NTSTATUS sv_save_begin(vmbsave_channel *ch);
NTSTATUS sv_save_continue(vmbsave_channel *ch, void *buf, uint32_t size, uint32_t *filled,
                          uint32_t *required);
void sv_save_end(vmbsave_channel *ch);
void sv_save_discard(vmbsave_channel *ch);

/* ---- image.c: the byte layout ---- */
uint64_t sv_hash(const void *data, size_t len, uint64_t seed);
void sv_put16(uint8_t *p, uint16_t v);
void sv_put32(uint8_t *p, uint32_t v);
void sv_put64(uint8_t *p, uint64_t v);
uint16_t sv_get16(const uint8_t *p);
uint32_t sv_get32(const uint8_t *p);
uint64_t sv_get64(const uint8_t *p);
uint64_t sv_chunk_checksum(const uint8_t *chunk, uint32_t payload_bytes);
uint64_t sv_digest_step(uint64_t digest, uint64_t checksum);
/* The image of a channel whose packets' driver states are collected: packet p's state is
 * p->save_need bytes at driver_states + p->save_at. sv_image_size gives the exact size, and
 * sv_image_write fills a buffer of that size; sv_image_seal then sets the image id, the
 * checksums and END's digest. */
uint64_t sv_image_size(const vmbsave_channel *ch);
void sv_image_write(const vmbsave_channel *ch, uint8_t *image, const uint8_t *driver_states);
void sv_image_seal(uint8_t *image, uint32_t size);

/* ---- restore.c ---- */
NTSTATUS sv_restore_from_buffer(vmbsave_channel *ch, const void *buffer, uint32_t size);
void sv_restore_discard(vmbsave_channel *ch);

/* ---- describe.c ---- */
NTSTATUS sv_describe(vmbsave_channel *ch, char *buffer, uint32_t size, uint32_t *required);

#endif
