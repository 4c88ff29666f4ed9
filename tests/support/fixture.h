/* Shared test fixture: loads the implementation named by $VMBSAVE_PLUGIN through the ABI with
 * a fault host, builds the canonical channels of harness/program/canonical.h, saves and
 * restores whole images, and parses chunks independently of any implementation (tests must not
 * trust the code they test). Every helper fails the current cmocka test on an unexpected
 * status. */
#ifndef VMBSAVE_TESTS_FIXTURE_H
#define VMBSAVE_TESTS_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "host/host.h"
#include "host/loader.h"
#include "program/canonical.h"
#include "vmbsave/abi.h"

typedef struct vt_env {
    vmbsave_fault_host host;
    vmbsave_impl impl;
    const vmbsave_interface_v1 *v; /* == &impl.iface */
} vt_env;

/* Allocates (with the test's own malloc) and loads; fails the test if the plug-in is missing.
 * The same as vt_env_alloc() then vt_env_load(). */
vt_env *vt_env_new(void);
/* An environment whose fault host is initialised but whose plug-in is not loaded yet, for a
 * test that sets up the host first: the implementation copies the host struct at load
 * (ABI.ENTRY.HOST). Then vt_env_load(), which frees `e` and fails the test if the plug-in
 * does not load. */
vt_env *vt_env_alloc(void);
void vt_env_load(vt_env *e);
/* Unloads and loads the plug-in again with e->host.host as it is now. The implementation copies
 * the host struct at load time (ABI.ENTRY.HOST), so a change to it (vmbsave_fault_host_apply()
 * after changing enable_callbacks, or a test's own callbacks) only reaches an interface loaded
 * after it. Every channel must have been cleaned up first. */
void vt_env_reload(vt_env *e);
/* Releases the interface, asserts the host's live allocation count is 0, frees. */
void vt_env_free(vt_env *e);

/* A channel in the canonical state `which` (harness/program/canonical.h: the states the
 * exhaustive checks and the fuzz seeds start from; vmbsave_canonical_info_of() tells a test
 * its ids and counts), built by executing its steps (vmbsave_canonical_steps) with the
 * arguments harness/program/step_args.h derives. Salt 0 is the prefix's exact state; another
 * salt, the same shape (ids, counts, sizes, offer and so HEADER) with other bulk bytes. */
vmbsave_channel *vt_make_canonical(vt_env *e, vmbsave_canonical_id which, uint32_t salt);
/* Brings any channel to DISABLED and cleans it up (asserts success). */
void vt_destroy_channel(vt_env *e, vmbsave_channel *ch);
/* Fills a deterministic offer / open params (open refers to GPADL id `ring_gpadl`). */
void vt_fill_offer(vmbsave_offer *offer, uint32_t salt);
void vt_fill_open(vmbsave_open_params *params, uint32_t ring_gpadl);

/* The canonical description, malloc'd; caller frees. Asserts describe succeeds. */
char *vt_describe(vt_env *e, vmbsave_channel *ch);
/* The description of a newly allocated channel (for atomicity checks). */
char *vt_describe_fresh(vt_env *e);
/* Asserts two descriptions are equal ignoring the `fresh=` line. */
void vt_assert_same_state(const char *a, const char *b);

/* An image and the sizes of the save_continue calls that produced it. */
typedef struct vt_image {
    uint8_t *bytes;
    size_t size;
    size_t *call_bytes;  /* BytesFilled of each call that wrote something */
    size_t call_count;
} vt_image;

/* One whole session (begin, continue until SUCCESS, end) with buffers of `buf_size`, growing
 * to BytesRequired on TOO_SMALL. Asserts success and the contract of every call. */
void vt_save(vt_env *e, vmbsave_channel *ch, uint32_t buf_size, vt_image *out);
/* Same, but buffer sizes from `sizes` in turn (cycled); TOO_SMALL is answered with a retry
 * of exactly BytesRequired. */
void vt_save_sizes(vt_env *e, vmbsave_channel *ch, const uint32_t *sizes, size_t n,
                   vt_image *out);
void vt_image_free(vt_image *img);
/* Whether some chunk of `img` is larger than `size` bytes: a test that saves with buffers of
 * `size` asserts it, so that its session meets STATUS_BUFFER_TOO_SMALL and the retry. */
bool vt_image_has_chunk_above(const vt_image *img, size_t size);

/* Independent chunk parsing (FORMAT.md). */
#define VT_CHUNK_HEADER_BYTES 40u
typedef struct vt_chunk {
    size_t offset; /* in the image */
    size_t size;   /* header + payload */
    uint16_t major, minor, type, flags;
    uint32_t sequence, payload_bytes;
    uint64_t image_id, checksum;
} vt_chunk;
/* Splits an image into chunks; returns the count, or -1 if it does not parse as whole chunks.
 * `out` may be NULL to count. */
long vt_chunks(const uint8_t *bytes, size_t size, vt_chunk *out, size_t cap);
/* Recomputes a chunk's checksum in place after a test edited it (FORMAT.md hash). It hashes
 * payload_bytes as the header declares them: the caller makes sure that many bytes follow. */
void vt_chunk_reseal(uint8_t *chunk);
/* XXH3-64 with a seed, as FORMAT.md defines `hash`. */
uint64_t vt_hash(const void *data, size_t size, uint64_t seed);

/* Restores `size` bytes given as calls of `chunks_per_call` whole chunks (0: all at once).
 * Returns the status of the last call made (stops at the first failure). */
NTSTATUS vt_restore(vt_env *e, vmbsave_channel *ch, const uint8_t *bytes, size_t size,
                    size_t chunks_per_call);
/* A fresh channel restored from `img` (asserts SUCCESS). */
vmbsave_channel *vt_restore_new(vt_env *e, const vt_image *img);

/* Little-endian field access for tests that edit images. */
uint16_t vt_get16(const uint8_t *p);
uint32_t vt_get32(const uint8_t *p);
uint64_t vt_get64(const uint8_t *p);
void vt_put16(uint8_t *p, uint16_t v);
void vt_put32(uint8_t *p, uint32_t v);
void vt_put64(uint8_t *p, uint64_t v);

#endif
