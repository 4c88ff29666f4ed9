/* Variant split_chunk: save_continue fills the caller's buffer to the byte from an internal
 * stream of the image, so a buffer that does not end on a chunk boundary receives part of a
 * chunk (the classic "stream, not chunks" mistake). The bytes, concatenated, are still the
 * right image; only where the calls cut it is wrong.
 * Caught by SAVE.CONTINUE.WHOLE_CHUNKS. */
#include <stdbool.h>
#include <string.h>

#include "variant.h"

/* The image as the reference hands it out, a few whole chunks at a time. */
typedef struct split_stream {
    uint8_t *buf; /* VMBSAVE_MAX_CHUNK_BYTES from the host, while a session is active */
    uint32_t len; /* bytes in buf */
    uint32_t pos; /* bytes of buf already handed to the caller */
    bool done;    /* the reference returned SUCCESS: buf holds the image's last bytes */
} split_stream;

static void stream_drop(vmbsave_channel *channel)
{
    split_stream *s = variant_channel_state(channel);
    const vmbsave_host_v1 *host = variant_host(channel);
    host->free(host->context, s->buf);
    memset(s, 0, sizeof *s);
}

static NTSTATUS bug_save_begin(vmbsave_channel *channel)
{
    NTSTATUS st = variant_base.save_begin(channel);
    if (st != STATUS_SUCCESS) {
        return st;
    }
    /* Allocated with the session so that save_continue has no allocation of its own. */
    const vmbsave_host_v1 *host = variant_host(channel);
    split_stream *s = variant_channel_state(channel);
    s->buf = host->alloc(host->context, VMBSAVE_MAX_CHUNK_BYTES);
    if (s->buf == NULL) {
        variant_base.save_end(channel);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    return STATUS_SUCCESS;
}

static void bug_save_end(vmbsave_channel *channel)
{
    /* From a packet callback save_end is ignored (PACKET.CALLBACKS.NO_REENTRY): the stream is
     * in use by the call in progress. */
    bool ignored = variant_in_call(channel);
    variant_base.save_end(channel);
    if (channel != NULL && !ignored) {
        stream_drop(channel);
    }
}

static NTSTATUS bug_save_continue(vmbsave_channel *channel, void *save_buffer,
                                  uint32_t save_buffer_size, uint32_t *bytes_filled,
                                  uint32_t *bytes_required)
{
    split_stream *s = variant_channel_state(channel);
    if (s == NULL || s->buf == NULL || variant_in_call(channel) || bytes_filled == NULL ||
        bytes_required == NULL || (save_buffer == NULL && save_buffer_size != 0) ||
        (s->done && s->pos == s->len)) {
        /* Argument errors, no session, a finished one, a call from a packet callback: the
         * reference's answers. */
        return variant_base.save_continue(channel, save_buffer, save_buffer_size, bytes_filled,
                                          bytes_required);
    }
    uint8_t *out = save_buffer;
    uint32_t filled = 0;
    while (filled < save_buffer_size) {
        if (s->pos == s->len) {
            if (s->done) {
                break;
            }
            uint32_t got = 0, next = 0;
            NTSTATUS st = variant_base.save_continue(channel, s->buf, VMBSAVE_MAX_CHUNK_BYTES,
                                                     &got, &next);
            if (st != STATUS_SUCCESS && st != STATUS_BUFFER_OVERFLOW) {
                *bytes_filled = 0;
                *bytes_required = 0;
                return st; /* the reference's sticky failure, as it reported it */
            }
            s->len = got;
            s->pos = 0;
            s->done = st == STATUS_SUCCESS;
        }
        uint32_t n = s->len - s->pos;
        if (n > save_buffer_size - filled) {
            n = save_buffer_size - filled;
        }
        memcpy(out + filled, s->buf + s->pos, n);
        s->pos += n;
        filled += n;
    }
    *bytes_filled = filled;
    if (s->done && s->pos == s->len) {
        *bytes_required = 0;
        return STATUS_SUCCESS;
    }
    if (s->pos < s->len) {
        *bytes_required = s->len - s->pos;
    } else {
        /* The stream is drained exactly: the reference's size query says what comes next. */
        uint32_t none = 0;
        (void)variant_base.save_continue(channel, NULL, 0, &none, bytes_required);
    }
    return filled != 0 ? STATUS_BUFFER_OVERFLOW : STATUS_BUFFER_TOO_SMALL;
}

static void configure(vmbsave_interface_v1 *table)
{
    table->save_begin = bug_save_begin;
    table->save_continue = bug_save_continue;
    table->save_end = bug_save_end;
}

static const variant_def def = {
    .impl_name = "vmbsave-variant-split_chunk",
    .channel_state_bytes = sizeof(split_stream),
    .configure = configure,
    .on_channel_freed = stream_drop,
};

VARIANT_ENTRY(def)
