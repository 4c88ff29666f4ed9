/* XXH3-64 (FORMAT.md "Conventions"), the one place xxHash is compiled in.
 *
 * xxHash's streaming-state helpers call malloc and free, and they are emitted even when
 * unused (no optimisation in Debug builds). RESOURCES.HOST_ALLOCATOR_ONLY wants no C
 * allocator reference in the plug-in, so within xxHash both are stubbed out: only the
 * one-shot XXH3_64bits_withSeed is used, which never allocates. */
#include <stdlib.h> /* before the macros below, so its own prototypes stay intact */

#define malloc(size) ((void)(size), (void *)NULL)
#define free(ptr) ((void)(ptr))
#define XXH_INLINE_ALL
#include <xxhash.h>
#undef malloc
#undef free

#include "second.h"

uint64_t sv_hash(const void *data, size_t len, uint64_t seed)
{
    /* xxHash does not read the pointer for 0 bytes, but NULL + 0 is still not valid C. */
    static const uint8_t none = 0;
    return XXH3_64bits_withSeed(len == 0 ? &none : data, len, seed);
}
