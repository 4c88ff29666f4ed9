/* The vmbsave plug-in ABI, major version 1.
 *
 * An implementation of the KMCL channel save/restore API is a shared object that exports one
 * symbol, vmbsave_get_interface (VMBSAVE_ENTRY_POINT). The harness passes host services in
 * (allocator, log, per-packet save/restore callbacks) and gets a table of operations out,
 * the way a KMCL driver queries KMCL_SERVER_INTERFACE_V1. docs/SPEC.md (clauses ABI.*) is
 * the normative text; this header is its C form.
 *
 * Versioning: a struct only ever grows at its end within one major version, and every struct
 * starts with its size. A new major version is a new interface with new struct names, never a
 * reinterpretation of this one. */
#ifndef VMBSAVE_ABI_H
#define VMBSAVE_ABI_H

#include <stddef.h>
#include <stdint.h>

#include "vmbsave/ntstatus.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VMBSAVE_INTERFACE_NAME "vmbsave.kmcl.channel"
#define VMBSAVE_ENTRY_POINT "vmbsave_get_interface"
#define VMBSAVE_ABI_MAJOR 1u
#define VMBSAVE_ABI_MINOR 0u

/* ---- Limits (clauses LIMIT.*). Every size the ABI accepts is bounded by one of these. ---- */
#define VMBSAVE_USER_DEFINED_BYTES 120u           /* offer user-defined data, fixed size */
#define VMBSAVE_MAX_SUBCHANNEL_INDEX 255u
#define VMBSAVE_MAX_MMIO_MEGABYTES 4096u
#define VMBSAVE_MAX_TARGET_VP 2047u
#define VMBSAVE_PAGE_BYTES 4096u
#define VMBSAVE_MIN_RING_BYTES (2u * VMBSAVE_PAGE_BYTES)
#define VMBSAVE_MAX_RING_BYTES (32u * 1024u * 1024u) /* per direction; multiple of a page */
#define VMBSAVE_MAX_GPADLS 64u
#define VMBSAVE_MAX_GPADL_PFNS 4096u
#define VMBSAVE_MAX_PFN ((UINT64_C(1) << 52) - 1u)
#define VMBSAVE_MAX_PACKETS 4096u                 /* packets in flight at once */
#define VMBSAVE_MAX_PACKET_PAYLOAD 16384u
#define VMBSAVE_MAX_DRIVER_PACKET_STATE 4096u     /* BytesNeeded a save-packet callback may ask */
#define VMBSAVE_MAX_CHUNK_BYTES 65536u            /* a save buffer this large always makes progress */
#define VMBSAVE_MAX_IMAGE_BYTES (UINT32_C(0xFFFFFFFF)) /* image totals are 32-bit */

/* Offer flags (KMCL VMBUS_SERVER_CHANNEL_INIT_FLAG_*). */
#define VMBSAVE_OFFER_FLAG_LOOPBACK_OFFER 0x1u
#define VMBSAVE_OFFER_FLAG_ENUMERATE_DEVICE_INTERFACE 0x2u
#define VMBSAVE_OFFER_FLAG_OFFER_AS_PIPE 0x4u
#define VMBSAVE_OFFER_FLAG_FORCE_NEW_CHANNEL 0x8u
#define VMBSAVE_OFFER_FLAG_TLNPI_PROVIDER_OFFER 0x10u
#define VMBSAVE_OFFER_FLAGS_VALID 0x1Fu

/* Capability bits an implementation reports. */
#define VMBSAVE_CAP_DESCRIBE 0x1u              /* describe() yields the canonical text */
#define VMBSAVE_CAP_PACKET_CALLBACKS 0x2u      /* calls the host's save/restore-packet callbacks */
#define VMBSAVE_CAP_CHANNELS_THREAD_SAFE 0x4u  /* distinct channels may be used from distinct threads */

typedef struct vmbsave_channel vmbsave_channel; /* opaque; owned by the implementation */

typedef struct vmbsave_guid {
    uint8_t bytes[16];
} vmbsave_guid;

/* Lifecycle states as describe() and the image name them (clause LIFECYCLE.STATES). */
typedef enum vmbsave_channel_state {
    VMBSAVE_STATE_DISABLED = 0,    /* allocated (or disabled again); Init calls allowed */
    VMBSAVE_STATE_ENABLED = 1,     /* offered, not opened by the guest */
    VMBSAVE_STATE_OPEN_PAUSED = 2, /* opened by the guest, no traffic flows */
    VMBSAVE_STATE_OPEN_RUNNING = 3 /* opened and started */
} vmbsave_channel_state;

typedef enum vmbsave_ring_direction {
    VMBSAVE_RING_INCOMING = 0, /* guest to host, written by the guest, read by the server */
    VMBSAVE_RING_OUTGOING = 1  /* host to guest, written by the server, read by the guest */
} vmbsave_ring_direction;

typedef enum vmbsave_log_level {
    VMBSAVE_LOG_ERROR = 0,
    VMBSAVE_LOG_WARNING = 1,
    VMBSAVE_LOG_INFO = 2,
    VMBSAVE_LOG_DEBUG = 3
} vmbsave_log_level;

/* What the server offers (set while disabled; KMCL VmbServerChannelInit* calls). */
typedef struct vmbsave_offer {
    vmbsave_guid interface_type;
    vmbsave_guid interface_instance;
    uint16_t subchannel_index;  /* <= VMBSAVE_MAX_SUBCHANNEL_INDEX */
    uint16_t mmio_megabytes;    /* <= VMBSAVE_MAX_MMIO_MEGABYTES */
    uint32_t flags;             /* subset of VMBSAVE_OFFER_FLAGS_VALID */
    uint8_t user_defined[VMBSAVE_USER_DEFINED_BYTES];
} vmbsave_offer;

/* What the guest asks for when it opens the channel. */
typedef struct vmbsave_open_params {
    uint32_t ring_gpadl_id;       /* an existing GPADL that is not being torn down */
    uint32_t incoming_ring_bytes; /* page multiple in [MIN_RING_BYTES, MAX_RING_BYTES] */
    uint32_t outgoing_ring_bytes; /* same */
    uint32_t target_vp;           /* <= VMBSAVE_MAX_TARGET_VP */
    uint32_t connection_id;       /* any value but 0 */
} vmbsave_open_params;

/* Host services, passed in by the harness. Callbacks receive `context` first. */
typedef struct vmbsave_host_v1 {
    uint32_t size;      /* sizeof(vmbsave_host_v1) as the caller knows it */
    uint32_t abi_major; /* VMBSAVE_ABI_MAJOR */
    void *context;

    /* Required. Returns memory aligned for any object, or NULL (an injected or real failure). */
    void *(*alloc)(void *context, size_t bytes);
    /* Required. free(context, NULL) is a no-op. */
    void (*free)(void *context, void *ptr);
    /* Optional (may be NULL). */
    void (*log)(void *context, vmbsave_log_level level, const char *message);

    /* Optional: EVT_VMB_CHANNEL_SAVE_PACKET. Called for every packet in flight, in send
     * order, first with save_buf_size 0; a driver with state fails that call and sets
     * *bytes_needed, and is then called once more with a zeroed buffer of exactly
     * *bytes_needed bytes (clauses PACKET.SAVE.*). */
    NTSTATUS (*save_packet)(void *context, vmbsave_channel *channel, uint64_t packet_id,
                            void *save_buf, uint32_t save_buf_size, uint32_t *bytes_needed);
    /* Optional: EVT_VMB_CHANNEL_RESTORE_PACKET. Called once per restored packet, in send
     * order, by the RestoreFromBuffer call that commits (clauses PACKET.RESTORE.*). */
    NTSTATUS (*restore_packet)(void *context, vmbsave_channel *channel, uint64_t packet_id,
                               const void *lib_buf, uint32_t lib_buf_size,
                               const void *save_buf, uint32_t save_buf_size);
} vmbsave_host_v1;

/* The operation table, filled in by vmbsave_get_interface. Every operation taking a channel
 * returns STATUS_INVALID_PARAMETER for a NULL channel, except the VOID ones, which ignore it. */
typedef struct vmbsave_interface_v1 {
    uint32_t size;      /* bytes the implementation filled in */
    uint16_t abi_major; /* VMBSAVE_ABI_MAJOR */
    uint16_t abi_minor; /* the implementation's minor; later minors only append members */
    const char *impl_name;
    const char *impl_version;
    uint64_t capabilities; /* VMBSAVE_CAP_* */
    void *context;         /* passed to channel_allocate and release */

    /* Drops the interface; every channel must have been cleaned up first. */
    void (*release)(void *context);

    /* ---- Lifecycle (clauses LIFECYCLE.*) ---- */
    NTSTATUS (*channel_allocate)(void *context, vmbsave_channel **channel);
    /* Frees a disabled channel (and any restore in progress); STATUS_INVALID_DEVICE_STATE
     * and nothing freed otherwise. */
    NTSTATUS (*channel_cleanup)(vmbsave_channel *channel);
    NTSTATUS (*init_set_offer)(vmbsave_channel *channel, const vmbsave_offer *offer);
    NTSTATUS (*enable)(vmbsave_channel *channel);
    NTSTATUS (*disable)(vmbsave_channel *channel);
    NTSTATUS (*guest_open)(vmbsave_channel *channel, const vmbsave_open_params *params);
    NTSTATUS (*guest_close)(vmbsave_channel *channel);
    NTSTATUS (*start)(vmbsave_channel *channel);
    NTSTATUS (*pause)(vmbsave_channel *channel);
    NTSTATUS (*gpadl_create)(vmbsave_channel *channel, uint32_t gpadl_id, const uint64_t *pfns,
                             uint32_t pfn_count);
    NTSTATUS (*gpadl_teardown_begin)(vmbsave_channel *channel, uint32_t gpadl_id);
    NTSTATUS (*gpadl_teardown_complete)(vmbsave_channel *channel, uint32_t gpadl_id);
    /* gpadl_id 0: the packet references no GPADL. */
    NTSTATUS (*packet_send)(vmbsave_channel *channel, uint64_t packet_id, uint32_t gpadl_id,
                            const void *payload, uint32_t payload_bytes);
    NTSTATUS (*packet_complete)(vmbsave_channel *channel, uint64_t packet_id);
    NTSTATUS (*ring_write)(vmbsave_channel *channel, vmbsave_ring_direction direction,
                           const void *data, uint32_t bytes);
    NTSTATUS (*ring_read)(vmbsave_channel *channel, vmbsave_ring_direction direction,
                          void *data, uint32_t bytes, uint32_t *bytes_read);

    /* ---- Save/restore: VmbChannelSaveBegin/Continue/End, VmbChannelRestoreFromBuffer ---- */
    NTSTATUS (*save_begin)(vmbsave_channel *channel);
    NTSTATUS (*save_continue)(vmbsave_channel *channel, void *save_buffer,
                              uint32_t save_buffer_size, uint32_t *bytes_filled,
                              uint32_t *bytes_required);
    void (*save_end)(vmbsave_channel *channel);
    NTSTATUS (*restore_from_buffer)(vmbsave_channel *channel, const void *buffer,
                                    uint32_t buffer_size);

    /* ---- Observation (clauses ABI.DESCRIBE.*) ----
     * Writes the canonical description of the channel (docs/SPEC.md, "Canonical
     * description") as NUL-terminated text. *bytes_required receives the size including the
     * NUL; STATUS_BUFFER_TOO_SMALL if buffer_size is less than that (nothing written). */
    NTSTATUS (*describe)(vmbsave_channel *channel, char *buffer, uint32_t buffer_size,
                         uint32_t *bytes_required);
} vmbsave_interface_v1;

/* The one exported entry point.
 * name: VMBSAVE_INTERFACE_NAME, else STATUS_NOT_SUPPORTED.
 * abi_major: VMBSAVE_ABI_MAJOR, else STATUS_REVISION_MISMATCH.
 * host: non-NULL, size >= sizeof(vmbsave_host_v1), abi_major matching, alloc and free set,
 *       else STATUS_INVALID_PARAMETER.
 * out: non-NULL, else STATUS_INVALID_PARAMETER; out_size >= sizeof(vmbsave_interface_v1),
 *      else STATUS_INVALID_BUFFER_SIZE. Nothing is written to `out` on failure.
 * The host struct is copied; the caller need not keep it alive. */
typedef NTSTATUS (*vmbsave_get_interface_fn)(const char *name, uint32_t abi_major,
                                             const vmbsave_host_v1 *host,
                                             vmbsave_interface_v1 *out, uint32_t out_size);

#if defined(_WIN32)
#define VMBSAVE_EXPORT __declspec(dllexport)
#else
#define VMBSAVE_EXPORT __attribute__((visibility("default")))
#endif

VMBSAVE_EXPORT NTSTATUS vmbsave_get_interface(const char *name, uint32_t abi_major,
                                              const vmbsave_host_v1 *host,
                                              vmbsave_interface_v1 *out, uint32_t out_size);

#ifdef __cplusplus
}
#endif

#endif /* VMBSAVE_ABI_H */
