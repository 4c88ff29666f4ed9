/* make_golden: writes the golden 1.0 image of FORMAT.COMPAT.OLDER_IMAGES.
 *
 *   VMBSAVE_PLUGIN=<plug-in .so> make_golden <output directory>
 *
 * Builds a small OPEN_PAUSED channel through the ABI (offer, three GPADLs with one being torn
 * down, five packets in flight with and without driver state and GPADL references, a gap in
 * the send sequence, ring bytes both ways with the incoming front moved), then writes
 *   <dir>/golden-1.0.img       the image, saved with 64 KiB buffers
 *   <dir>/golden-1.0.describe  the saved channel's canonical description (without the NUL)
 * The files are generated once, by the reference, and checked in: they are what version 1.0
 * wrote, forever. Do not regenerate them for a later format version; add a new golden file.
 *
 * Not a test: it uses only the harness (loader and fault host, whose scripted driver supplies
 * the per-packet state), no cmocka. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/host.h"
#include "host/loader.h"

static vmbsave_fault_host g_host;
static vmbsave_impl g_impl;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "make_golden: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static void ok(NTSTATUS s, const char *what)
{
    if (s != STATUS_SUCCESS) {
        const char *n = vmbsave_status_name(s);
        die("%s returned %s (0x%08x)", what, n != NULL ? n : "?", (unsigned)(uint32_t)s);
    }
}

static void write_file(const char *dir, const char *name, const void *data, size_t size)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        die("cannot write %s", path);
    printf("wrote %s (%zu bytes)\n", path, size);
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

int main(int argc, char **argv)
{
    if (argc != 2)
        die("usage: VMBSAVE_PLUGIN=<plug-in> make_golden <output directory>");
    const char *plugin = getenv("VMBSAVE_PLUGIN");
    if (plugin == NULL || plugin[0] == '\0')
        die("VMBSAVE_PLUGIN is not set");

    vmbsave_fault_host_init(&g_host);
    char err[512];
    if (vmbsave_impl_load(plugin, &g_host.host, &g_impl, err, sizeof(err)) != 0)
        die("loading %s: %s", plugin, err);
    const vmbsave_interface_v1 *v = &g_impl.iface;

    vmbsave_channel *ch = NULL;
    ok(v->channel_allocate(v->context, &ch), "channel_allocate");

    vmbsave_offer offer;
    memset(&offer, 0, sizeof(offer));
    for (unsigned i = 0; i < 16; i++) {
        offer.interface_type.bytes[i] = (uint8_t)(i * 17u + 3u);
        offer.interface_instance.bytes[i] = (uint8_t)(0xF0u - i * 5u);
    }
    offer.subchannel_index = 7;
    offer.mmio_megabytes = 64;
    offer.flags = VMBSAVE_OFFER_FLAG_LOOPBACK_OFFER | VMBSAVE_OFFER_FLAG_FORCE_NEW_CHANNEL;
    for (unsigned i = 0; i < VMBSAVE_USER_DEFINED_BYTES; i++)
        offer.user_defined[i] = (uint8_t)(i ^ 0x5Au);
    ok(v->init_set_offer(ch, &offer), "init_set_offer");
    ok(v->enable(ch), "enable");

    /* GPADLs created out of id order; 9 is being torn down; 4 carries the rings. */
    static const uint64_t pfns9[3] = {0x100, 0x101, UINT64_C(0xFFFFFFFFFF)};
    static const uint64_t pfns4[2] = {0x2000, 0x2001};
    static const uint64_t pfns1[1] = {0x42};
    ok(v->gpadl_create(ch, 9, pfns9, 3), "gpadl_create(9)");
    ok(v->gpadl_create(ch, 4, pfns4, 2), "gpadl_create(4)");
    ok(v->gpadl_create(ch, 1, pfns1, 1), "gpadl_create(1)");
    ok(v->gpadl_teardown_begin(ch, 9), "gpadl_teardown_begin(9)");

    vmbsave_open_params open = {
        .ring_gpadl_id = 4,
        .incoming_ring_bytes = 2u * VMBSAVE_PAGE_BYTES,
        .outgoing_ring_bytes = 3u * VMBSAVE_PAGE_BYTES,
        .target_vp = 3,
        .connection_id = 0x1234,
    };
    ok(v->guest_open(ch, &open), "guest_open");
    ok(v->start(ch), "start");

    /* Packets: ids whose scripted driver state is empty (8, 20) and not (11, 13, 21, 30); one
     * with an empty payload; 13 completed, so the send sequence has a gap. */
    static const struct {
        uint64_t id;
        uint32_t gpadl, bytes;
    } packets[] = {{8, 0, 0}, {11, 4, 5}, {13, 1, 33}, {20, 0, 64}, {21, 4, 17}, {30, 1, 100}};
    for (size_t i = 0; i < sizeof(packets) / sizeof(packets[0]); i++) {
        uint8_t payload[100];
        for (uint32_t b = 0; b < packets[i].bytes; b++)
            payload[b] = (uint8_t)(packets[i].id * 29u + b * 3u + 1u);
        ok(v->packet_send(ch, packets[i].id, packets[i].gpadl, payload, packets[i].bytes),
           "packet_send");
    }
    ok(v->packet_complete(ch, 13), "packet_complete(13)");

    uint8_t ring[48];
    for (unsigned i = 0; i < sizeof(ring); i++)
        ring[i] = (uint8_t)(0x80u + i);
    ok(v->ring_write(ch, VMBSAVE_RING_INCOMING, ring, 48), "ring_write(incoming)");
    uint32_t got = 0;
    ok(v->ring_read(ch, VMBSAVE_RING_INCOMING, ring, 16, &got), "ring_read(incoming)");
    if (got != 16)
        die("ring_read returned %u bytes, expected 16", got);
    for (unsigned i = 0; i < sizeof(ring); i++)
        ring[i] = (uint8_t)(0x30u + i * 7u);
    ok(v->ring_write(ch, VMBSAVE_RING_OUTGOING, ring, 29), "ring_write(outgoing)");
    ok(v->pause(ch), "pause");

    /* The description of the saved channel. */
    uint32_t need = 0;
    if (v->describe(ch, NULL, 0, &need) != STATUS_BUFFER_TOO_SMALL || need == 0)
        die("describe size query failed");
    char *desc = malloc(need);
    if (desc == NULL)
        die("out of memory");
    ok(v->describe(ch, desc, need, &need), "describe");

    /* The image, in 64 KiB calls. */
    size_t cap = 1u << 20, size = 0;
    uint8_t *img = malloc(cap);
    if (img == NULL)
        die("out of memory");
    ok(v->save_begin(ch), "save_begin");
    for (;;) {
        uint32_t filled = 0, required = 0;
        if (cap - size < VMBSAVE_MAX_CHUNK_BYTES)
            die("the image is larger than expected");
        NTSTATUS s = v->save_continue(ch, img + size, VMBSAVE_MAX_CHUNK_BYTES, &filled, &required);
        if (s != STATUS_SUCCESS && s != STATUS_BUFFER_OVERFLOW)
            ok(s, "save_continue");
        size += filled;
        if (s == STATUS_SUCCESS)
            break;
    }
    v->save_end(ch);

    /* Only a 1.0 image may become the 1.0 golden file. */
    for (size_t off = 0; off < size;) {
        if (size - off < 40 || get32(img + off) != 0x53424D56u)
            die("the saved image does not parse as chunks");
        if (get16(img + off + 4) != 1 || get16(img + off + 6) != 0)
            die("the plug-in writes version %u.%u, not 1.0", get16(img + off + 4),
                get16(img + off + 6));
        off += 40u + get32(img + off + 16);
    }

    write_file(argv[1], "golden-1.0.img", img, size);
    write_file(argv[1], "golden-1.0.describe", desc, strlen(desc));

    ok(v->guest_close(ch), "guest_close");
    ok(v->disable(ch), "disable");
    ok(v->channel_cleanup(ch), "channel_cleanup");
    vmbsave_impl_unload(&g_impl);
    free(img);
    free(desc);
    if (g_host.live_allocations != 0)
        die("%llu allocations still live after release",
            (unsigned long long)g_host.live_allocations);
    return 0;
}
