/* The shared wrapper under every variant (variants/README.md): a plug-in that loads the
 * reference through vmbsave_reference_get_interface and passes every call through, so that a
 * variant only replaces the one or two operations that carry its bug.
 *
 * The wrapper hands out its own channel handles (a small block from the host's allocator that
 * points at the reference's channel), so a variant keeps per-channel state right in the
 * handle, reaches the host's allocator from any operation, and needs no global table. The
 * host callbacks the reference makes are translated back to the wrapper's handle, so the
 * driver sees the handle it was given (PACKET.SAVE.SIZE_QUERY_FIRST). */
#ifndef VMBSAVE_VARIANT_H
#define VMBSAVE_VARIANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmbsave/abi.h"

/* What makes a variant. Everything but `impl_name` is optional (0 / NULL). */
typedef struct variant_def {
    const char *impl_name; /* "vmbsave-variant-<name>", the table's impl_name */
    size_t channel_state_bytes;  /* zeroed per channel, see variant_channel_state() */
    size_t instance_state_bytes; /* zeroed per interface, see variant_instance_state() */
    /* Replaces operations of the pass-through table (whose entries take the wrapper's
     * handles, like the replacements). The replaced ones usually call variant_base. */
    void (*configure)(vmbsave_interface_v1 *table);
    /* Called after a successful channel_cleanup, before the handle is freed: free whatever
     * the variant allocated for the channel. */
    void (*on_channel_freed)(vmbsave_channel *channel);
    /* Replace the forwarding of the reference's packet callbacks. `host` is the host the
     * harness passed in; `channel` is already the wrapper's handle. Only called when the
     * host has that callback. */
    NTSTATUS (*save_packet)(const vmbsave_host_v1 *host, vmbsave_channel *channel,
                            uint64_t packet_id, void *save_buf, uint32_t save_buf_size,
                            uint32_t *bytes_needed);
    NTSTATUS (*restore_packet)(const vmbsave_host_v1 *host, vmbsave_channel *channel,
                               uint64_t packet_id, const void *lib_buf, uint32_t lib_buf_size,
                               const void *save_buf, uint32_t save_buf_size);
} variant_def;

/* The pass-through table: every operation unwraps the handle and calls the reference. Its
 * context, release and channel_allocate entries are not meant to be called directly. */
extern const vmbsave_interface_v1 variant_base;

/* The variant's zeroed per-channel / per-interface state; NULL for a NULL channel. */
void *variant_channel_state(vmbsave_channel *channel);
void *variant_instance_state(vmbsave_channel *channel);
/* The host the harness passed in (for its allocator); NULL for a NULL channel. */
const vmbsave_host_v1 *variant_host(vmbsave_channel *channel);

/* Whether a session is active on the channel: tracked by variant_base's save_begin and
 * save_end, so a variant that replaces them must call those. */
bool variant_session_active(vmbsave_channel *channel);
/* Whether a call on this channel is in progress, i.e. the caller is a packet callback that
 * re-entered the implementation (the reference refuses or ignores such calls). */
bool variant_in_call(vmbsave_channel *channel);

/* The body of a variant's vmbsave_get_interface: same contract (abi.h). */
NTSTATUS variant_get_interface(const variant_def *def, const char *name, uint32_t abi_major,
                               const vmbsave_host_v1 *host, vmbsave_interface_v1 *out,
                               uint32_t out_size);

/* Defines the plug-in's one exported symbol for `def`. */
#define VARIANT_ENTRY(def)                                                                  \
    VMBSAVE_EXPORT NTSTATUS vmbsave_get_interface(const char *name, uint32_t abi_major,     \
                                                  const vmbsave_host_v1 *host,              \
                                                  vmbsave_interface_v1 *out,                \
                                                  uint32_t out_size)                        \
    {                                                                                       \
        return variant_get_interface(&(def), name, abi_major, host, out, out_size);         \
    }

#endif /* VMBSAVE_VARIANT_H */
