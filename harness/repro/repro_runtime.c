/* The runtime of every reproducer `vmbsave repro --emit-c` writes (harness/repro/emit_c.h).
 *
 * Not compiled into vmbsave: the build embeds this file, after vmbsave/ntstatus.h,
 * vmbsave/abi.h, harness/host/driver_script.h and .c and harness/host/host.h and .c, as text
 * that harness/repro/emit_c.c pastes into each reproducer, followed by the run's data and a
 * main() making the run's calls. It is compiled on its own as well
 * (vmbsave_repro_runtime_check) so that it stays warning-free C11.
 *
 * The fault host is the harness's own (host.c, embedded ahead of this file), so the runner's
 * host statements (`host.fill_byte = ...`, fault settings) mean what they meant in the run.
 * This file adds the global `host` those statements name, wrappers around the host's packet
 * callbacks that check the callback protocol, a table of wrappers around the implementation's
 * operations that record what each call did (status, counts, bytes written around `out`,
 * image bytes, callbacks), and the checks main() ends with. Everything here is static: a
 * reproducer is one file. */
#ifndef VMBSAVE_ABI_H
#include "vmbsave/abi.h"
#endif
#ifndef VMBSAVE_HARNESS_DRIVER_SCRIPT_H
#include "host/driver_script.h"
#endif
#ifndef VMBSAVE_HARNESS_HOST_H
#include "host/host.h"
#endif

#include <dlfcn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VB_CHANNELS 3u
#define VB_OUT_CAP (4u * 1024u * 1024u) /* the largest buffer a program passes is 1 MiB */
#define VB_GUARD 64u                    /* guard bytes on each side of what a call may write */
#define VB_PATTERN 0xA5u
#define VB_UNWRITTEN 0xFFFFFFFFu /* out-parameters before a call, as the runner sets them */
#define VB_IMAGE_MAX (64u * 1024u * 1024u)
#define VB_MAX_SEEN 8192u /* packets whose callbacks one session tracks */
/* Each reproducer calls one check and maybe not every host helper: no -Wall noise for them. */
#define VB_MAYBE_UNUSED __attribute__((unused))

/* The names the runner's statements use (harness/repro/emit_c.h). */
static vmbsave_fault_host host;
static const vmbsave_interface_v1 *api;
static vmbsave_channel *ch[VB_CHANNELS];
static NTSTATUS st;
static uint32_t filled, required;
static uint8_t vb_out_arena[VB_GUARD + VB_OUT_CAP + VB_GUARD];
static uint8_t *const out = vb_out_arena + VB_GUARD;

/* ---- What the wrappers record ------------------------------------------------------------ */
typedef struct vb_packet_seen {
    uint64_t id;
    uint32_t need;  /* BytesNeeded of the first call */
    uint8_t phase;  /* 1: first call done, second expected; 2: no second call due; 3: done */
} vb_packet_seen;

typedef struct vb_bytes {
    uint8_t *data;
    size_t size, cap;
} vb_bytes;

typedef struct vb_slot {
    bool session;       /* save_begin succeeded, no save_end since */
    bool session_done;  /* save_continue returned SUCCESS in it */
    bool sticky;        /* a sticky failure happened in it */
    uint32_t next_sequence;
    vb_bytes image;     /* this session's bytes so far */
    vb_bytes previous;  /* the last complete image of this channel */
    bool has_previous;
    vb_bytes restored;  /* the bytes of the last restore into this channel */
    bool restore_open;  /* the last restore call returned MORE_PROCESSING_REQUIRED */
    /* Net allocations made by calls on this channel: since channel_allocate, since the
     * session's save_begin, since the restore in progress began (what the oracle calls
     * held, the session's held and staged). */
    int64_t held, session_held, staged;
    vb_packet_seen *seen;
    uint32_t seen_count;
} vb_slot;

typedef struct vb_call {
    unsigned long index; /* 0-based number of this call */
    const char *op;
    int slot;            /* channel slot of the call, -1 if none */
    const vmbsave_channel *channel;
    bool restoring;      /* a restore_from_buffer call */
    uint64_t faults_before, faults; /* host.faults_injected before, and during the call */
    uint64_t live_before; /* host.live_allocations before the call */
    int64_t delta;        /* ... and its change across the call */
    int64_t held_before, session_held_before, staged_before; /* the slot's, before */
    bool restore_callbacks;
    bool restore_callback_failed;
    char guard[200];     /* first byte written outside what the call may write */
    char chunks[200];    /* what is wrong with the chunks save_continue wrote */
    char callback[200];  /* first break of the packet-callback protocol */
} vb_call;

static vmbsave_interface_v1 vb_real;    /* the implementation's table */
static vmbsave_interface_v1 vb_wrapped; /* what `api` points at */
static vb_slot vb_slots[VB_CHANNELS];
static vb_call vb_cur;
/* Packet ids restore_packet got during the current call, in order. */
static uint64_t vb_restored_ids[VB_MAX_SEEN];
static uint32_t vb_restored_id_count;
static unsigned long vb_calls;
static bool vb_in_call;
static _Thread_local bool vb_main_thread;
static unsigned long vb_watch = (unsigned long)-1; /* the violating call */
static long vb_run_faults = -1; /* allocation faults the run injected in it (-1: unknown) */
static char *vb_description_before;                 /* of its channel, before it */
static char vb_first_callback_break[200];
static bool vb_verbose;

static void vb_fail(const char *what)
{
    fprintf(stderr, "repro: %s\n", what);
    exit(2);
}

static void vb_bytes_append(vb_bytes *b, const void *data, size_t n)
{
    if (n == 0)
        return;
    if (n > VB_IMAGE_MAX || b->size > VB_IMAGE_MAX - n)
        vb_fail("an image grew past 64 MiB");
    if (b->size + n > b->cap) {
        size_t cap = b->cap != 0 ? b->cap : 4096u;
        while (cap < b->size + n)
            cap *= 2u;
        uint8_t *p = realloc(b->data, cap);
        if (p == NULL)
            vb_fail("out of memory");
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->size, data, n);
    b->size += n;
}

static void vb_bytes_copy(vb_bytes *to, const vb_bytes *from)
{
    to->size = 0;
    vb_bytes_append(to, from->data, from->size);
}

static void vb_note_callback_break(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void vb_note_callback_break(const char *fmt, ...)
{
    char text[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (vb_cur.callback[0] == '\0')
        snprintf(vb_cur.callback, sizeof(vb_cur.callback), "%s", text);
    if (vb_first_callback_break[0] == '\0')
        snprintf(vb_first_callback_break, sizeof(vb_first_callback_break), "%s", text);
}

static int vb_slot_of(const vmbsave_channel *c)
{
    for (unsigned i = 0; i < VB_CHANNELS; i++) {
        if (c != NULL && ch[i] == c)
            return (int)i;
    }
    return -1;
}

/* ---- Packet callbacks: the host's, behind protocol checks ----------------------------- */

/* The host's own callbacks (host.c), as vmbsave_fault_host_init bound them; the checking
 * wrappers below answer through them, so the scripted driver and the host's counters behave
 * as in the run. */
static NTSTATUS (*vb_host_save_packet)(void *context, vmbsave_channel *channel,
                                       uint64_t packet_id, void *save_buf, uint32_t save_buf_size,
                                       uint32_t *bytes_needed);
static NTSTATUS (*vb_host_restore_packet)(void *context, vmbsave_channel *channel,
                                          uint64_t packet_id, const void *lib_buf,
                                          uint32_t lib_buf_size, const void *save_buf,
                                          uint32_t save_buf_size);

/* The implementation's log, shown with VMBSAVE_REPRO_VERBOSE (host.c's log answers to
 * VMBSAVE_HOST_LOG, which means nothing to a reproducer's user). */
static void vb_log(void *context, vmbsave_log_level level, const char *message)
{
    (void)context;
    if (vb_verbose)
        fprintf(stderr, "[log %d] %s\n", (int)level, message != NULL ? message : "(null)");
}

/* The callback checks shared by both callbacks: made during a call, on its thread, for its
 * channel. */
static void vb_check_callback_context(const char *which, const vmbsave_channel *channel)
{
    if (!vb_main_thread)
        vb_note_callback_break("%s called on another thread", which);
    else if (!vb_in_call)
        vb_note_callback_break("%s called outside any call", which);
    else if (channel != vb_cur.channel)
        vb_note_callback_break("%s given another channel's handle", which);
}

static vb_packet_seen *vb_seen(vb_slot *s, uint64_t id, bool add)
{
    for (uint32_t i = 0; i < s->seen_count; i++) {
        if (s->seen[i].id == id)
            return &s->seen[i];
    }
    if (!add || s->seen_count >= VB_MAX_SEEN)
        return NULL;
    if (s->seen == NULL) {
        s->seen = calloc(VB_MAX_SEEN, sizeof(*s->seen));
        if (s->seen == NULL)
            vb_fail("out of memory");
    }
    vb_packet_seen *p = &s->seen[s->seen_count++];
    memset(p, 0, sizeof(*p));
    p->id = id;
    return p;
}

static NTSTATUS vb_save_packet(void *context, vmbsave_channel *channel, uint64_t packet_id,
                               void *save_buf, uint32_t save_buf_size, uint32_t *bytes_needed)
{
    vb_check_callback_context("save_packet", channel);
    int slot = vb_slot_of(channel);
    vb_slot *s = slot >= 0 ? &vb_slots[slot] : NULL;
    if (s != NULL && !s->session)
        vb_note_callback_break("save_packet called for packet %llu outside a save session",
                               (unsigned long long)packet_id);

    /* The save-packet protocol: per session, one size query per packet, then exactly one
     * call with exactly the bytes asked for, zeroed, if the query failed asking 1..max. */
    vb_packet_seen *seen = s != NULL ? vb_seen(s, packet_id, save_buf_size == 0) : NULL;
    if (s != NULL && save_buf_size == 0 && seen != NULL && seen->phase != 0)
        vb_note_callback_break("save_packet size query for packet %llu repeated in one session",
                               (unsigned long long)packet_id);
    if (s != NULL && save_buf_size != 0) {
        if (seen == NULL || seen->phase != 1)
            vb_note_callback_break("save_packet second call for packet %llu not due",
                                   (unsigned long long)packet_id);
        else if (save_buf_size != seen->need)
            vb_note_callback_break("save_packet second call of %lu bytes, %lu asked for",
                                   (unsigned long)save_buf_size, (unsigned long)seen->need);
        else if (save_buf != NULL) {
            const uint8_t *p = save_buf;
            for (uint32_t i = 0; i < save_buf_size; i++) {
                if (p[i] != 0) {
                    vb_note_callback_break("save_packet buffer for packet %llu not zeroed (byte %lu)",
                                           (unsigned long long)packet_id, (unsigned long)i);
                    break;
                }
            }
        }
        if (seen != NULL)
            seen->phase = 3;
    }

    NTSTATUS status =
        vb_host_save_packet(context, channel, packet_id, save_buf, save_buf_size, bytes_needed);
    /* After a size query the driver's answer says whether a second call is due. */
    if (save_buf_size == 0 && bytes_needed != NULL && seen != NULL) {
        bool second_due = status != STATUS_SUCCESS && *bytes_needed >= 1u &&
                          *bytes_needed <= VMBSAVE_MAX_DRIVER_PACKET_STATE;
        seen->phase = second_due ? 1 : 2;
        seen->need = *bytes_needed;
    }
    return status;
}

static NTSTATUS vb_restore_packet(void *context, vmbsave_channel *channel, uint64_t packet_id,
                                  const void *lib_buf, uint32_t lib_buf_size,
                                  const void *save_buf, uint32_t save_buf_size)
{
    vb_check_callback_context("restore_packet", channel);
    if (vb_in_call && !vb_cur.restoring)
        vb_note_callback_break("restore_packet called for packet %llu from %s",
                               (unsigned long long)packet_id, vb_cur.op);
    if (vb_in_call && vb_cur.restore_callback_failed)
        vb_note_callback_break("restore_packet called for packet %llu after one failed",
                               (unsigned long long)packet_id);
    vb_cur.restore_callbacks = true;
    if (vb_restored_id_count < VB_MAX_SEEN)
        vb_restored_ids[vb_restored_id_count++] = packet_id;

    /* The host compares the driver state it gets with what it saved, and fails the call the
     * program's fault_restore_packet asked for. */
    uint32_t mismatches = host.restore_state_mismatches;
    NTSTATUS status = vb_host_restore_packet(context, channel, packet_id, lib_buf, lib_buf_size,
                                             save_buf, save_buf_size);
    if (host.restore_state_mismatches != mismatches)
        vb_note_callback_break("restore_packet for packet %llu got %lu bytes of driver state "
                               "other than saved",
                               (unsigned long long)packet_id, (unsigned long)save_buf_size);
    if (status != STATUS_SUCCESS)
        vb_cur.restore_callback_failed = true;
    return status;
}

/* The host as the run had it (callbacks on, no faults, fill byte -1), with the checking
 * wrappers in front of its callbacks. The implementation copies the host struct when it is
 * loaded (ABI.ENTRY.HOST), so the wrappers stay in place for the whole run. */
static void vb_host_init(void)
{
    vmbsave_fault_host_init(&host);
    host.host.log = vb_log;
    vb_host_save_packet = host.host.save_packet;
    vb_host_restore_packet = host.host.restore_packet;
    host.host.save_packet = vb_save_packet;
    host.host.restore_packet = vb_restore_packet;
}

/* ---- Call recording ---------------------------------------------------------------------- */
static const char *vb_status_text(NTSTATUS s)
{
    static char hex[2][16];
    static int which;
    const char *name = vmbsave_status_name(s);
    if (name != NULL)
        return name;
    which ^= 1;
    snprintf(hex[which], sizeof(hex[which]), "0x%08lX", (unsigned long)(uint32_t)s);
    return hex[which];
}

static char *vb_describe_now(const vmbsave_channel *channel)
{
    int slot = vb_slot_of(channel);
    if (slot < 0)
        return NULL;
    uint32_t need = 0;
    if (vb_real.describe(ch[slot], NULL, 0, &need) != STATUS_BUFFER_TOO_SMALL || need == 0 ||
        need > VB_IMAGE_MAX)
        return NULL;
    char *text = malloc(need);
    if (text == NULL)
        vb_fail("out of memory");
    uint32_t again = 0;
    if (vb_real.describe(ch[slot], text, need, &again) != STATUS_SUCCESS) {
        free(text);
        return NULL;
    }
    text[need - 1] = '\0';
    return text;
}

static void vb_begin(const char *op, const vmbsave_channel *channel, const void *buf,
                     uint32_t size)
{
    memset(&vb_cur, 0, sizeof(vb_cur));
    vb_restored_id_count = 0;
    vb_cur.index = vb_calls++;
    vb_cur.op = op;
    vb_cur.channel = channel;
    vb_cur.slot = vb_slot_of(channel);
    vb_cur.live_before = host.live_allocations;
    vb_cur.faults_before = host.faults_injected;
    if (vb_cur.slot >= 0) {
        const vb_slot *sl = &vb_slots[vb_cur.slot];
        vb_cur.held_before = sl->held;
        vb_cur.session_held_before = sl->session_held;
        vb_cur.staged_before = sl->restore_open ? sl->staged : 0;
    }
    if (buf == out) {
        if (size > VB_OUT_CAP)
            vb_fail("a call passes a buffer larger than the reproducer's 4 MiB");
        memset(out - VB_GUARD, VB_PATTERN, (size_t)size + 2u * VB_GUARD);
    }
    if (vb_cur.index == vb_watch) {
        free(vb_description_before);
        vb_description_before = vb_describe_now(channel);
    }
    vb_in_call = true;
}

/* Ends a call: checks that nothing changed around `out` beyond the first `allowed` bytes. */
static void vb_end(NTSTATUS status, const void *buf, uint32_t size, uint32_t allowed)
{
    vb_in_call = false;
    vb_cur.delta = (int64_t)host.live_allocations - (int64_t)vb_cur.live_before;
    vb_cur.faults = host.faults_injected - vb_cur.faults_before;
    if (vb_cur.slot >= 0)
        vb_slots[vb_cur.slot].held += vb_cur.delta;
    if (buf == out) {
        if (allowed > size)
            allowed = size;
        for (uint32_t i = 0; i < VB_GUARD; i++) {
            if (out[-(long)VB_GUARD + (long)i] != VB_PATTERN) {
                snprintf(vb_cur.guard, sizeof(vb_cur.guard),
                         "%s wrote %ld byte(s) before the buffer", vb_cur.op,
                         (long)(VB_GUARD - i));
                break;
            }
        }
        if (vb_cur.guard[0] == '\0') {
            for (size_t i = allowed; i < (size_t)size + VB_GUARD; i++) {
                if (out[i] != VB_PATTERN) {
                    snprintf(vb_cur.guard, sizeof(vb_cur.guard),
                             "%s (size %lu) wrote byte %lu, may write only [0, %lu)", vb_cur.op,
                             (unsigned long)size, (unsigned long)i, (unsigned long)allowed);
                    break;
                }
            }
        }
    }
    if (vb_verbose)
        fprintf(stderr, "call %lu: %s -> %s\n", vb_cur.index, vb_cur.op, vb_status_text(status));
}

static uint32_t vb_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* FORMAT.md: whole chunks of 40-byte headers, magic 0x53424D56, sequence numbers going on. */
static void vb_check_written_chunks(vb_slot *s, const uint8_t *p, uint32_t n)
{
    uint32_t at = 0;
    while (at < n && vb_cur.chunks[0] == '\0') {
        if (n - at < 40u) {
            snprintf(vb_cur.chunks, sizeof(vb_cur.chunks),
                     "%lu bytes at offset %lu are less than a chunk header",
                     (unsigned long)(n - at), (unsigned long)at);
            break;
        }
        uint32_t payload = vb_le32(p + at + 16);
        uint32_t sequence = vb_le32(p + at + 12);
        if (vb_le32(p + at) != 0x53424D56u)
            snprintf(vb_cur.chunks, sizeof(vb_cur.chunks), "no chunk magic at offset %lu",
                     (unsigned long)at);
        else if (payload > VMBSAVE_MAX_CHUNK_BYTES - 40u || payload > n - at - 40u)
            snprintf(vb_cur.chunks, sizeof(vb_cur.chunks),
                     "the chunk at offset %lu (payload %lu) runs past the %lu bytes written",
                     (unsigned long)at, (unsigned long)payload, (unsigned long)n);
        else if (sequence != s->next_sequence)
            snprintf(vb_cur.chunks, sizeof(vb_cur.chunks),
                     "the chunk at offset %lu has sequence %lu, %lu expected", (unsigned long)at,
                     (unsigned long)sequence, (unsigned long)s->next_sequence);
        else {
            s->next_sequence++;
            at += 40u + payload;
        }
    }
}

static uint64_t vb_le64(const uint8_t *p)
{
    return (uint64_t)vb_le32(p) | (uint64_t)vb_le32(p + 4) << 32;
}

/* The packet ids of an image, in record order (FORMAT.md: PACKETS chunks, type 3). Returns
 * how many, at most `cap`; stops at anything malformed (the implementation accepted it, so
 * that would be a finding of its own). */
static uint32_t vb_image_packet_ids(const uint8_t *img, size_t size, uint64_t *ids, uint32_t cap)
{
    uint32_t n = 0;
    size_t at = 0;
    while (size - at >= 40u) {
        uint32_t type = (uint32_t)img[at + 8] | (uint32_t)img[at + 9] << 8;
        uint32_t payload = vb_le32(img + at + 16);
        if (vb_le32(img + at) != 0x53424D56u || payload > size - at - 40u)
            break;
        const uint8_t *p = img + at + 40u;
        if (type == 3u && payload >= 4u) {
            uint32_t records = vb_le32(p);
            size_t off = 4;
            for (uint32_t r = 0; r < records && payload - off >= 12u && n < cap; r++) {
                uint32_t record_bytes = vb_le32(p + off);
                ids[n++] = vb_le64(p + off + 4);
                if (record_bytes < 12u || record_bytes > payload - off)
                    break;
                off += record_bytes;
            }
        }
        at += 40u + payload;
    }
    return n;
}

/* After a restore call that made restore_packet calls: they must be the image's packets, once
 * each, in send order, and all of them if the call committed (a failing callback stops them). */
static void vb_check_restore_deliveries(NTSTATUS s, const vb_bytes *image)
{
    static uint64_t want[VB_MAX_SEEN];
    uint32_t n = vb_image_packet_ids(image->data, image->size, want, VB_MAX_SEEN);
    for (uint32_t i = 0; i < vb_restored_id_count; i++) {
        if (i >= n) {
            vb_note_callback_break("restore_packet call %lu (packet %llu) is one more than the "
                                   "image's %lu packet(s)", (unsigned long)i + 1u,
                                   (unsigned long long)vb_restored_ids[i], (unsigned long)n);
            return;
        }
        if (vb_restored_ids[i] != want[i]) {
            vb_note_callback_break("restore_packet call %lu was for packet %llu, the image's "
                                   "packet %lu is %llu", (unsigned long)i + 1u,
                                   (unsigned long long)vb_restored_ids[i], (unsigned long)i,
                                   (unsigned long long)want[i]);
            return;
        }
    }
    if (s == STATUS_SUCCESS && host.enable_callbacks && vb_restored_id_count != n)
        vb_note_callback_break("restore_packet called %lu time(s) for %lu packet(s)",
                               (unsigned long)vb_restored_id_count, (unsigned long)n);
}

static void vb_reset_slot(int slot)
{
    if (slot < 0)
        return;
    vb_slot *s = &vb_slots[slot];
    free(s->image.data);
    free(s->previous.data);
    free(s->restored.data);
    free(s->seen);
    memset(s, 0, sizeof(*s));
}

/* ---- Wrappers ---------------------------------------------------------------------------- */
static void vb_w_release(void *context)
{
    vb_begin("release", NULL, NULL, 0);
    vb_real.release(context);
    vb_end(STATUS_SUCCESS, NULL, 0, 0);
}

static NTSTATUS vb_w_channel_allocate(void *context, vmbsave_channel **channel)
{
    vb_begin("channel_allocate", NULL, NULL, 0);
    NTSTATUS s = vb_real.channel_allocate(context, channel);
    vb_end(s, NULL, 0, 0);
    for (unsigned i = 0; i < VB_CHANNELS; i++) {
        if (channel == &ch[i] && s == STATUS_SUCCESS) {
            vb_reset_slot((int)i);
            vb_slots[i].held = vb_cur.delta;
        }
    }
    return s;
}

static NTSTATUS vb_w_channel_cleanup(vmbsave_channel *c)
{
    vb_begin("channel_cleanup", c, NULL, 0);
    NTSTATUS s = vb_real.channel_cleanup(c);
    vb_end(s, NULL, 0, 0);
    if (s == STATUS_SUCCESS)
        vb_reset_slot(vb_cur.slot);
    return s;
}

#define VB_SIMPLE_WRAPPER(op)                    \
    static NTSTATUS vb_w_##op(vmbsave_channel *c) \
    {                                            \
        vb_begin(#op, c, NULL, 0);               \
        NTSTATUS s = vb_real.op(c);              \
        vb_end(s, NULL, 0, 0);                   \
        return s;                                \
    }
VB_SIMPLE_WRAPPER(enable)
VB_SIMPLE_WRAPPER(disable)
VB_SIMPLE_WRAPPER(guest_close)
VB_SIMPLE_WRAPPER(start)
VB_SIMPLE_WRAPPER(pause)

static NTSTATUS vb_w_init_set_offer(vmbsave_channel *c, const vmbsave_offer *offer)
{
    vb_begin("init_set_offer", c, NULL, 0);
    NTSTATUS s = vb_real.init_set_offer(c, offer);
    vb_end(s, NULL, 0, 0);
    return s;
}

static NTSTATUS vb_w_guest_open(vmbsave_channel *c, const vmbsave_open_params *params)
{
    vb_begin("guest_open", c, NULL, 0);
    NTSTATUS s = vb_real.guest_open(c, params);
    vb_end(s, NULL, 0, 0);
    return s;
}

static NTSTATUS vb_w_gpadl_create(vmbsave_channel *c, uint32_t id, const uint64_t *pfns,
                                  uint32_t count)
{
    vb_begin("gpadl_create", c, NULL, 0);
    NTSTATUS s = vb_real.gpadl_create(c, id, pfns, count);
    vb_end(s, NULL, 0, 0);
    return s;
}

static NTSTATUS vb_w_gpadl_teardown_begin(vmbsave_channel *c, uint32_t id)
{
    vb_begin("gpadl_teardown_begin", c, NULL, 0);
    NTSTATUS s = vb_real.gpadl_teardown_begin(c, id);
    vb_end(s, NULL, 0, 0);
    return s;
}

static NTSTATUS vb_w_gpadl_teardown_complete(vmbsave_channel *c, uint32_t id)
{
    vb_begin("gpadl_teardown_complete", c, NULL, 0);
    NTSTATUS s = vb_real.gpadl_teardown_complete(c, id);
    vb_end(s, NULL, 0, 0);
    return s;
}

static NTSTATUS vb_w_packet_send(vmbsave_channel *c, uint64_t id, uint32_t gpadl,
                                 const void *payload, uint32_t bytes)
{
    vb_begin("packet_send", c, NULL, 0);
    NTSTATUS s = vb_real.packet_send(c, id, gpadl, payload, bytes);
    vb_end(s, NULL, 0, 0);
    return s;
}

static NTSTATUS vb_w_packet_complete(vmbsave_channel *c, uint64_t id)
{
    vb_begin("packet_complete", c, NULL, 0);
    NTSTATUS s = vb_real.packet_complete(c, id);
    vb_end(s, NULL, 0, 0);
    return s;
}

static NTSTATUS vb_w_ring_write(vmbsave_channel *c, vmbsave_ring_direction d, const void *data,
                                uint32_t bytes)
{
    vb_begin("ring_write", c, NULL, 0);
    NTSTATUS s = vb_real.ring_write(c, d, data, bytes);
    vb_end(s, NULL, 0, 0);
    return s;
}

static NTSTATUS vb_w_ring_read(vmbsave_channel *c, vmbsave_ring_direction d, void *data,
                               uint32_t bytes, uint32_t *bytes_read)
{
    if (bytes_read != NULL)
        *bytes_read = VB_UNWRITTEN;
    vb_begin("ring_read", c, data, bytes);
    NTSTATUS s = vb_real.ring_read(c, d, data, bytes, bytes_read);
    vb_end(s, data, bytes, s == STATUS_SUCCESS && bytes_read != NULL ? *bytes_read : 0u);
    return s;
}

static NTSTATUS vb_w_save_begin(vmbsave_channel *c)
{
    vb_begin("save_begin", c, NULL, 0);
    NTSTATUS s = vb_real.save_begin(c);
    vb_end(s, NULL, 0, 0);
    if (s == STATUS_SUCCESS && vb_cur.slot >= 0) {
        vb_slot *sl = &vb_slots[vb_cur.slot];
        sl->session = true;
        sl->session_done = false;
        sl->sticky = false;
        sl->next_sequence = 0;
        sl->image.size = 0;
        sl->seen_count = 0;
        sl->session_held = vb_cur.delta;
    }
    return s;
}

static bool vb_is_sticky_status(NTSTATUS s)
{
    return s != STATUS_SUCCESS && s != STATUS_BUFFER_OVERFLOW && s != STATUS_BUFFER_TOO_SMALL &&
           s != STATUS_INVALID_PARAMETER && s != STATUS_INVALID_DEVICE_STATE;
}

static NTSTATUS vb_w_save_continue(vmbsave_channel *c, void *buf, uint32_t size,
                                   uint32_t *bytes_filled, uint32_t *bytes_required)
{
    if (bytes_filled != NULL)
        *bytes_filled = VB_UNWRITTEN;
    if (bytes_required != NULL)
        *bytes_required = VB_UNWRITTEN;
    vb_begin("save_continue", c, buf, size);
    NTSTATUS s = vb_real.save_continue(c, buf, size, bytes_filled, bytes_required);
    vb_slot *sl = vb_cur.slot >= 0 ? &vb_slots[vb_cur.slot] : NULL;
    uint32_t wrote = 0;
    uint32_t allowed = 0;
    if ((s == STATUS_SUCCESS || s == STATUS_BUFFER_OVERFLOW) && bytes_filled != NULL) {
        wrote = *bytes_filled < size ? *bytes_filled : size;
        allowed = wrote;
    } else if (vb_is_sticky_status(s) && sl != NULL && sl->session && !sl->sticky) {
        allowed = size; /* SAVE.CONTINUE.STICKY_ERROR: the failing call may have written */
        sl->sticky = true;
    }
    vb_end(s, buf, size, allowed);
    if (sl != NULL && sl->session)
        sl->session_held += vb_cur.delta;
    if (sl != NULL && sl->session && wrote > 0 && buf != NULL) {
        vb_check_written_chunks(sl, buf, wrote);
        vb_bytes_append(&sl->image, buf, wrote);
    }
    if (sl != NULL && sl->session && s == STATUS_SUCCESS)
        sl->session_done = true;
    return s;
}

static void vb_w_save_end(vmbsave_channel *c)
{
    vb_begin("save_end", c, NULL, 0);
    vb_real.save_end(c);
    vb_end(STATUS_SUCCESS, NULL, 0, 0);
    if (vb_cur.slot >= 0) {
        vb_slot *sl = &vb_slots[vb_cur.slot];
        if (sl->session && sl->session_done) {
            vb_bytes_copy(&sl->previous, &sl->image);
            sl->has_previous = true;
        }
        sl->session = false;
        sl->seen_count = 0;
        sl->session_held = 0;
    }
}

static NTSTATUS vb_w_restore_from_buffer(vmbsave_channel *c, const void *buf, uint32_t size)
{
    vb_begin("restore_from_buffer", c, NULL, 0);
    vb_cur.restoring = true;
    NTSTATUS s = vb_real.restore_from_buffer(c, buf, size);
    vb_end(s, NULL, 0, 0);
    if (vb_cur.restore_callbacks && s != STATUS_SUCCESS &&
        !(vb_cur.restore_callback_failed && s == STATUS_UNSUCCESSFUL))
        vb_note_callback_break("restore_packet called by a restore_from_buffer that returned %s",
                               vb_status_text(s));
    if (vb_cur.slot >= 0 && buf != NULL) {
        vb_slot *sl = &vb_slots[vb_cur.slot];
        if (!sl->restore_open) {
            sl->restored.size = 0;
            sl->staged = 0;
        }
        vb_bytes_append(&sl->restored, buf, size);
        sl->restore_open = s == STATUS_MORE_PROCESSING_REQUIRED;
        sl->staged = sl->restore_open ? sl->staged + vb_cur.delta : 0;
        if (s == STATUS_SUCCESS || vb_restored_id_count > 0)
            vb_check_restore_deliveries(s, &sl->restored);
    }
    return s;
}

static NTSTATUS vb_w_describe(vmbsave_channel *c, char *buf, uint32_t size, uint32_t *need)
{
    if (need != NULL)
        *need = VB_UNWRITTEN;
    vb_begin("describe", c, buf, size);
    NTSTATUS s = vb_real.describe(c, buf, size, need);
    vb_end(s, buf, size, s == STATUS_SUCCESS && need != NULL ? *need : 0u);
    return s;
}

/* ---- Loading ----------------------------------------------------------------------------- */
static int vb_load(const char *path)
{
    vb_main_thread = true;
    vb_verbose = getenv("VMBSAVE_REPRO_VERBOSE") != NULL;
    vb_host_init();

    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        fprintf(stderr, "repro: %s\n", dlerror());
        return -1;
    }
    vmbsave_get_interface_fn entry;
    void *sym = dlsym(handle, VMBSAVE_ENTRY_POINT);
    if (sym == NULL) {
        fprintf(stderr, "repro: %s does not export %s\n", path, VMBSAVE_ENTRY_POINT);
        return -1;
    }
    memcpy(&entry, &sym, sizeof(entry)); /* POSIX: a data pointer from dlsym is a function */
    memset(&vb_real, 0, sizeof(vb_real));
    NTSTATUS s = entry(VMBSAVE_INTERFACE_NAME, VMBSAVE_ABI_MAJOR, &host.host, &vb_real,
                       (uint32_t)sizeof(vb_real));
    if (s != STATUS_SUCCESS) {
        fprintf(stderr, "repro: %s refused the interface query: %s\n", path, vb_status_text(s));
        return -1;
    }
    vb_wrapped = vb_real;
    vb_wrapped.release = vb_w_release;
    vb_wrapped.channel_allocate = vb_w_channel_allocate;
    vb_wrapped.channel_cleanup = vb_w_channel_cleanup;
    vb_wrapped.init_set_offer = vb_w_init_set_offer;
    vb_wrapped.enable = vb_w_enable;
    vb_wrapped.disable = vb_w_disable;
    vb_wrapped.guest_open = vb_w_guest_open;
    vb_wrapped.guest_close = vb_w_guest_close;
    vb_wrapped.start = vb_w_start;
    vb_wrapped.pause = vb_w_pause;
    vb_wrapped.gpadl_create = vb_w_gpadl_create;
    vb_wrapped.gpadl_teardown_begin = vb_w_gpadl_teardown_begin;
    vb_wrapped.gpadl_teardown_complete = vb_w_gpadl_teardown_complete;
    vb_wrapped.packet_send = vb_w_packet_send;
    vb_wrapped.packet_complete = vb_w_packet_complete;
    vb_wrapped.ring_write = vb_w_ring_write;
    vb_wrapped.ring_read = vb_w_ring_read;
    vb_wrapped.save_begin = vb_w_save_begin;
    vb_wrapped.save_continue = vb_w_save_continue;
    vb_wrapped.save_end = vb_w_save_end;
    vb_wrapped.restore_from_buffer = vb_w_restore_from_buffer;
    vb_wrapped.describe = vb_w_describe;
    api = &vb_wrapped;
    return 0;
}

/* ---- Checks at the violating call -------------------------------------------------------- */
static int vb_verdict(bool reproduced, const char *clause, const char *expected,
                      const char *observed)
{
    /* The allocation a fault step fails is counted in the implementation's own allocations: in
     * another implementation (or a changed one) it may land in another call. What the run
     * expected of a call with a failed allocation says nothing about one without, and back. */
    if (vb_run_faults >= 0 && (vb_run_faults > 0) != (vb_cur.faults > 0)) {
        printf("NOT REPRODUCED (%s: in the run %ld allocation(s) failed during the call, now "
               "%llu: the fault schedule falls elsewhere in this implementation)\n",
               clause, vb_run_faults, (unsigned long long)vb_cur.faults);
        return 0;
    }
    if (reproduced) {
        printf("REPRODUCED %s: expected %s, observed %s\n", clause, expected, observed);
        return 1;
    }
    printf("NOT REPRODUCED (%s: expected %s, now observed %s)\n", clause, expected, observed);
    return 0;
}

/* STATUS: st is outside the allowed set (inside it, when `negate`: "not STATUS_X"). */
VB_MAYBE_UNUSED static int vb_check_status(const char *clause, const char *expected, const NTSTATUS *set,
                           size_t n, bool negate)
{
    bool in = false;
    for (size_t i = 0; i < n; i++)
        in = in || st == set[i];
    return vb_verdict(negate ? in : !in, clause, expected, vb_status_text(st));
}

VB_MAYBE_UNUSED static int vb_check_status_same(const char *clause, const char *expected, NTSTATUS observed)
{
    return vb_verdict(st == observed, clause, expected, vb_status_text(st));
}

/* COUNTS: with `outside`, some named count is outside [lo, hi] (the contract's values);
 * without, every named count is inside it again (the run's values). */
VB_MAYBE_UNUSED static int vb_check_counts(const char *clause, const char *expected, bool has_filled,
                           uint32_t filled_lo, uint32_t filled_hi, bool has_required,
                           uint32_t required_lo, uint32_t required_hi, bool outside)
{
    char now[96];
    snprintf(now, sizeof(now), "filled=%lu required=%lu", (unsigned long)filled,
             (unsigned long)required);
    bool inside = (!has_filled || (filled >= filled_lo && filled <= filled_hi)) &&
                  (!has_required || (required >= required_lo && required <= required_hi));
    return vb_verdict(outside ? !inside : inside, clause, expected, now);
}

VB_MAYBE_UNUSED static int vb_check_guard(const char *clause, const char *expected)
{
    return vb_verdict(vb_cur.guard[0] != '\0', clause, expected,
                      vb_cur.guard[0] != '\0' ? vb_cur.guard : "no byte outside changed");
}

VB_MAYBE_UNUSED static int vb_check_chunks(const char *clause, const char *expected)
{
    return vb_verdict(vb_cur.chunks[0] != '\0', clause, expected,
                      vb_cur.chunks[0] != '\0' ? vb_cur.chunks : "whole chunks");
}

/* IMAGE: the session's image so far differs from `want` (NULL: the bytes last restored into
 * the channel, else its previous complete image). */
VB_MAYBE_UNUSED static int vb_check_image(const char *clause, const char *expected, const uint8_t *want,
                          size_t want_size)
{
    vb_slot *s = vb_cur.slot >= 0 ? &vb_slots[vb_cur.slot] : NULL;
    if (s == NULL)
        return vb_verdict(false, clause, expected, "no channel to compare");
    if (want == NULL && s->restored.size != 0) {
        want = s->restored.data;
        want_size = s->restored.size;
    } else if (want == NULL && s->has_previous) {
        want = s->previous.data;
        want_size = s->previous.size;
    } else if (want == NULL) {
        return vb_verdict(false, clause, expected, "no earlier image to compare");
    }
    const vb_bytes *got = &s->image;
    if (!s->session && got->size == 0 && s->has_previous)
        got = &s->previous;
    char now[160];
    size_t common = got->size < want_size ? got->size : want_size;
    size_t at = 0;
    while (at < common && got->data[at] == want[at])
        at++;
    bool differ = got->size != want_size || at < common;
    if (differ)
        snprintf(now, sizeof(now), "an image of %lu bytes differing from %lu bytes at byte %lu",
                 (unsigned long)got->size, (unsigned long)want_size, (unsigned long)at);
    else
        snprintf(now, sizeof(now), "identical images of %lu bytes", (unsigned long)got->size);
    return vb_verdict(differ, clause, expected, now);
}

/* Text without its "fresh=" line, for comparisons that ignore it. */
static void vb_drop_fresh(char *text)
{
    char *line = text;
    while (line != NULL && *line != '\0') {
        char *end = strchr(line, '\n');
        if (strncmp(line, "fresh=", 6) == 0) {
            if (end != NULL)
                memmove(line, end + 1, strlen(end + 1) + 1);
            else
                *line = '\0';
            continue;
        }
        line = end != NULL ? end + 1 : NULL;
    }
}

/* DESCRIBE: the description after the call differs from `want` (NULL: from the one before
 * the call). */
VB_MAYBE_UNUSED static int vb_check_describe(const char *clause, const char *expected, const char *want,
                             size_t want_size, bool except_fresh)
{
    char *now = vb_describe_now(vb_cur.channel);
    char *before = NULL;
    if (want != NULL) {
        before = malloc(want_size + 1u);
        if (before == NULL)
            vb_fail("out of memory");
        memcpy(before, want, want_size);
        before[want_size] = '\0';
    } else if (vb_description_before != NULL) {
        size_t n = strlen(vb_description_before) + 1u;
        before = malloc(n);
        if (before == NULL)
            vb_fail("out of memory");
        memcpy(before, vb_description_before, n);
    }
    if (now == NULL || before == NULL) {
        free(now);
        free(before);
        return vb_verdict(false, clause, expected, "no description to compare");
    }
    if (except_fresh) {
        vb_drop_fresh(now);
        vb_drop_fresh(before);
    }
    bool differ = strcmp(now, before) != 0;
    char line[200] = "the same description";
    if (differ) {
        /* Show the first line that differs. */
        const char *a = now, *b = before;
        while (*a != '\0' && *a == *b) {
            a++;
            b++;
        }
        while (a > now && a[-1] != '\n') {
            a--;
        }
        size_t len = strcspn(a, "\n");
        snprintf(line, sizeof(line), "description line \"%.*s\"", (int)(len < 150 ? len : 150),
                 a);
    }
    free(now);
    free(before);
    return vb_verdict(differ, clause, expected, line);
}

/* LEAK: the live allocation count after the call differs from what it must be. Allocation
 * counts are the implementation's own, so the expectation is rebuilt from what this process
 * saw, as the oracle does: nothing kept by a call the run expected to keep nothing
 * (run_delta 0), everything a session held freed by save_end, everything a channel held by
 * channel_cleanup, everything staged by a failed or abandoned restore, everything by release.
 * Otherwise the run's own count. */
VB_MAYBE_UNUSED static int vb_check_leak(const char *clause, const char *expected, uint64_t run_expected_live,
                         bool has_run_delta, int64_t run_delta)
{
    const char *op = vb_cur.op != NULL ? vb_cur.op : "";
    int64_t want;
    if (strcmp(op, "release") == 0)
        want = 0;
    else if (has_run_delta && run_delta == 0)
        want = (int64_t)vb_cur.live_before;
    else if (strcmp(op, "save_end") == 0)
        want = (int64_t)vb_cur.live_before - vb_cur.session_held_before;
    else if (strcmp(op, "channel_cleanup") == 0)
        want = (int64_t)vb_cur.live_before - vb_cur.held_before;
    else if (strcmp(op, "restore_from_buffer") == 0 || strcmp(op, "init_set_offer") == 0)
        want = (int64_t)vb_cur.live_before - vb_cur.staged_before;
    else
        want = (int64_t)run_expected_live;
    char now[96];
    snprintf(now, sizeof(now), "live_allocations=%llu (%+lld across the call; %lld expected)",
             (unsigned long long)host.live_allocations, (long long)vb_cur.delta,
             (long long)want);
    return vb_verdict((int64_t)host.live_allocations != want, clause, expected, now);
}

VB_MAYBE_UNUSED static int vb_check_callback(const char *clause, const char *expected)
{
    const char *found = vb_cur.callback[0] != '\0' ? vb_cur.callback : vb_first_callback_break;
    return vb_verdict(found[0] != '\0', clause, expected,
                      found[0] != '\0' ? found : "the callback protocol kept");
}

/* The run crashed in the last call: reaching this line means it did not crash again. */
VB_MAYBE_UNUSED static int vb_check_crash(int signal_number)
{
    printf("NOT REPRODUCED (the run died with signal %d in call %lu; this time it returned)\n",
           signal_number, vb_calls > 0 ? vb_calls - 1u : 0u);
    return 0;
}
