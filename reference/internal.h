/* Private structures of the reference implementation, shared by its .c files. */
#ifndef VMBSAVE_REFERENCE_INTERNAL_H
#define VMBSAVE_REFERENCE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmbsave/abi.h"

/* One per vmbsave_reference_get_interface call: the host's services, copied so the caller
 * need not keep its struct alive. Read-only after creation, so channels of one instance can
 * run on different threads. */
typedef struct ref_instance {
    vmbsave_host_v1 host;
} ref_instance;

static inline void *ref_alloc(const ref_instance *inst, size_t bytes)
{
    return inst->host.alloc(inst->host.context, bytes);
}

static inline void ref_free(const ref_instance *inst, void *ptr)
{
    if (ptr != NULL) {
        inst->host.free(inst->host.context, ptr);
    }
}

typedef struct ref_gpadl {
    uint32_t id;
    uint32_t state;     /* REF_GPADL_STATE_* (image.h) */
    uint32_t pfn_count; /* 1 ..= VMBSAVE_MAX_GPADL_PFNS */
    uint8_t *pfns_le;   /* pfn_count u64s, little-endian: saved and hashed as stored */
} ref_gpadl;

typedef struct ref_packet {
    uint64_t id;
    uint64_t send_sequence;
    uint32_t gpadl_id;
    uint32_t payload_bytes;
    uint32_t driver_state_bytes; /* restored packets only: bytes after the payload in mem */
    uint8_t *mem;                /* the packet's allocation (NULL for an empty live packet) */
    uint8_t *payload;            /* payload_bytes bytes inside mem */
} ref_packet;

/* A direction's pending bytes: a circular buffer grown on demand up to the ring size, so an
 * idle channel with 32 MiB rings costs nothing. */
typedef struct ref_ring {
    uint8_t *buf;
    uint32_t cap;  /* bytes allocated */
    uint32_t head; /* offset of the oldest pending byte */
    uint32_t len;  /* pending bytes */
} ref_ring;

/* Everything the canonical description and the image show. A restore builds one of these
 * off to the side and moves it into the channel on success. */
typedef struct ref_model {
    vmbsave_channel_state state;
    bool offer_set;
    vmbsave_offer offer;      /* all zero when not set */
    vmbsave_open_params open; /* all zero unless OPEN_* */
    uint64_t next_send_sequence;
    uint32_t gpadl_count;
    uint32_t packet_count;
    uint32_t packet_cap;
    ref_packet *packets;                  /* send order */
    ref_ring rings[2];                    /* indexed by vmbsave_ring_direction */
    ref_gpadl gpadls[VMBSAVE_MAX_GPADLS]; /* ascending id */
} ref_model;

typedef struct ref_save_session ref_save_session;
typedef struct ref_restore ref_restore;

struct vmbsave_channel {
    const ref_instance *inst;
    bool fresh;           /* nothing but describe and failed restores since allocation */
    bool ever_enabled;    /* enabled or restored at some point: the init phase is over */
    uint32_t in_callback; /* inside a host packet callback: refuse re-entrant changes */
    ref_save_session *save;
    ref_restore *restore;
    ref_model m;
};

/* Lifecycle operations change nothing while a session is active (LIFECYCLE.FROZEN_DURING_SAVE)
 * or while a packet callback runs (the callback must not pull state from under the caller). */
static inline bool ref_frozen(const vmbsave_channel *ch)
{
    return ch->save != NULL || ch->in_callback != 0;
}

static inline uint32_t ref_ring_size(const ref_model *m, unsigned direction)
{
    return direction == VMBSAVE_RING_INCOMING ? m->open.incoming_ring_bytes
                                              : m->open.outgoing_ring_bytes;
}

/* ---- channel.c: model helpers ---- */
void ref_model_init(ref_model *m);
/* Frees every allocation the model holds and empties its GPADLs, packets and rings. */
void ref_model_drop_traffic(const ref_instance *inst, ref_model *m);
void ref_model_drop_gpadls(const ref_instance *inst, ref_model *m);
void ref_model_release(const ref_instance *inst, ref_model *m);
/* Index of the GPADL with this id, or -1. */
int ref_gpadl_find(const ref_model *m, uint32_t id);
/* Copies n pending bytes starting offset bytes after the oldest into dst. */
void ref_ring_copy_out(const ref_ring *r, uint32_t offset, uint8_t *dst, uint32_t n);

/* ---- Operations (the table's entries) ---- */
NTSTATUS ref_channel_allocate(void *context, vmbsave_channel **channel);
NTSTATUS ref_channel_cleanup(vmbsave_channel *ch);
NTSTATUS ref_init_set_offer(vmbsave_channel *ch, const vmbsave_offer *offer);
NTSTATUS ref_enable(vmbsave_channel *ch);
NTSTATUS ref_disable(vmbsave_channel *ch);
NTSTATUS ref_guest_open(vmbsave_channel *ch, const vmbsave_open_params *params);
NTSTATUS ref_guest_close(vmbsave_channel *ch);
NTSTATUS ref_start(vmbsave_channel *ch);
NTSTATUS ref_pause(vmbsave_channel *ch);
NTSTATUS ref_gpadl_create(vmbsave_channel *ch, uint32_t gpadl_id, const uint64_t *pfns,
                          uint32_t pfn_count);
NTSTATUS ref_gpadl_teardown_begin(vmbsave_channel *ch, uint32_t gpadl_id);
NTSTATUS ref_gpadl_teardown_complete(vmbsave_channel *ch, uint32_t gpadl_id);
NTSTATUS ref_packet_send(vmbsave_channel *ch, uint64_t packet_id, uint32_t gpadl_id,
                         const void *payload, uint32_t payload_bytes);
NTSTATUS ref_packet_complete(vmbsave_channel *ch, uint64_t packet_id);
NTSTATUS ref_ring_write(vmbsave_channel *ch, vmbsave_ring_direction direction, const void *data,
                        uint32_t bytes);
NTSTATUS ref_ring_read(vmbsave_channel *ch, vmbsave_ring_direction direction, void *data,
                       uint32_t bytes, uint32_t *bytes_read);

/* save.c */
NTSTATUS ref_save_begin(vmbsave_channel *ch);
NTSTATUS ref_save_continue(vmbsave_channel *ch, void *buffer, uint32_t buffer_size,
                           uint32_t *bytes_filled, uint32_t *bytes_required);
void ref_save_end(vmbsave_channel *ch);

/* restore.c */
NTSTATUS ref_restore_from_buffer(vmbsave_channel *ch, const void *buffer, uint32_t buffer_size);
/* Frees a restore in progress, if any (cleanup, or a lifecycle change ending freshness). */
void ref_restore_abandon(vmbsave_channel *ch);

/* describe.c */
NTSTATUS ref_describe(vmbsave_channel *ch, char *buffer, uint32_t buffer_size,
                      uint32_t *bytes_required);

#endif /* VMBSAVE_REFERENCE_INTERNAL_H */
