/* bench_save_restore: save and restore throughput of the reference implementation, measured
 * against memcpy of the same number of bytes, in one run.
 *
 * The reference is driven only through the plug-in ABI (include/vmbsave/abi.h), obtained from
 * vmbsave_reference_get_interface (the statically linked twin of vmbsave_get_interface) with
 * a malloc/free host and no packet callbacks.
 *
 * Channel (default --mib 64): two rings of MIB/4 MiB each, filled with pseudo-random bytes,
 * and MIB*32 packets of VMBSAVE_MAX_PACKET_PAYLOAD (16 KiB) bytes in flight (MIB/2 MiB), so
 * the ring and packet payload is exactly MIB MiB. Each repetition measures:
 *   memcpy          MIB MiB from one prefaulted buffer to another;
 *   save            save_begin, a size query, save_continue into a prefaulted image buffer in
 *                   calls of at most 1 MiB, save_end;
 *   restore         restore_from_buffer into a fresh channel, one call per save_continue
 *                   call's BytesFilled bytes (allocation and cleanup of that channel are not
 *                   timed), with a pooling host allocator: freed memory is reused, as a
 *                   kernel pool would;
 *   memcpy-fresh    MIB MiB into newly mapped pages (mmap + first touch, as a cold allocator
 *                   hands out);
 *   restore-fresh   restore again, with a host that maps new pages for every large allocation,
 *                   so the kernel's page faults are paid inside the restore.
 * Restore must put the state into new memory; which of the two host allocators a real host
 * resembles decides whether page faults are part of its cost, so both are reported, each
 * against the memcpy baseline that pays the same faults. The median of --reps repetitions
 * (default 5) is reported as GB/s of payload (10^9 bytes/s) and as ratios, in plain text and
 * as one JSON object (the last line of output). */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, mallopt */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <malloc.h>
#include <sys/mman.h>

#include "reference.h"
#include "vmbsave/abi.h"
#include "vmbsave/ntstatus.h"

#define MIB ((size_t)1024 * 1024)
#define SAVE_CALL_BYTES ((uint32_t)MIB) /* buffer size of one save_continue call */
#define DEFAULT_MIB 64u
#define MAX_MIB 128u /* 32 MiB rings (VMBSAVE_MAX_RING_BYTES), 4096 packets (VMBSAVE_MAX_PACKETS) */
#define DEFAULT_REPS 5u
#define MAX_REPS 1000u

static volatile uint64_t g_sink; /* keeps the memcpy result observable */

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench_save_restore: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(EXIT_FAILURE);
}

static const char *status_text(NTSTATUS s)
{
    const char *name = vmbsave_status_name(s);
    return name ? name : "(unknown status)";
}

/* Dies unless `got` is `want`. */
static void expect(NTSTATUS got, NTSTATUS want, const char *what)
{
    if (got != want) {
        die("%s returned %s (0x%08" PRIx32 "), expected %s", what, status_text(got),
            (uint32_t)got, status_text(want));
    }
}

static double now_seconds(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        die("clock_gettime(CLOCK_MONOTONIC): %s", strerror(errno));
    }
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *xmalloc(size_t bytes, const char *what)
{
    void *p = malloc(bytes ? bytes : 1);
    if (!p) {
        die("out of memory allocating %zu bytes for %s", bytes, what);
    }
    return p;
}

/* ---- The host: malloc/free, or fresh pages for large blocks; no packet callbacks ---- */

/* Blocks this large come from mmap when the host is in fresh-pages mode. */
#define FRESH_PAGES_MIN_BYTES ((size_t)128 * 1024)

typedef struct host_mode {
    int fresh_pages; /* 1: large blocks are newly mapped pages; 0: pooled malloc */
} host_mode;

/* Each block is preceded by its total size and origin, so free needs no lookup. A 16-byte
 * header keeps the block aligned for any object, as the ABI asks of alloc. */
typedef struct block_header {
    size_t mapped_bytes; /* 0: from malloc */
    size_t pad;
} block_header;

static void *host_alloc(void *context, size_t bytes)
{
    const host_mode *mode = context;
    size_t total = sizeof(block_header) + bytes;
    block_header *h;
    if (mode->fresh_pages && bytes >= FRESH_PAGES_MIN_BYTES) {
        void *p = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            return NULL;
        }
        h = p;
        h->mapped_bytes = total;
    } else {
        h = malloc(total);
        if (!h) {
            return NULL;
        }
        h->mapped_bytes = 0;
    }
    return h + 1;
}

static void host_free(void *context, void *ptr)
{
    (void)context;
    if (!ptr) {
        return;
    }
    block_header *h = (block_header *)ptr - 1;
    if (h->mapped_bytes) {
        munmap(h, h->mapped_bytes);
    } else {
        free(h);
    }
}

static void host_log(void *context, vmbsave_log_level level, const char *message)
{
    (void)context;
    if (level <= VMBSAVE_LOG_WARNING) {
        fprintf(stderr, "bench_save_restore: reference %s: %s\n",
                level == VMBSAVE_LOG_ERROR ? "error" : "warning", message ? message : "");
    }
}

/* ---- Helpers ---- */

static void fill_random(uint8_t *buf, size_t bytes, uint64_t seed)
{
    uint64_t x = seed ? seed : 0x9E3779B97F4A7C15u;
    size_t i = 0;
    while (i < bytes) {
        /* xorshift64* */
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        uint64_t v = x * 0x2545F4914F6CDD1Du;
        size_t n = bytes - i < sizeof v ? bytes - i : sizeof v;
        memcpy(buf + i, &v, n);
        i += n;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, unsigned n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

static unsigned parse_uint(const char *opt, const char *text, unsigned lo, unsigned hi)
{
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(text ? text : "", &end, 10);
    if (!text || !*text || *end || errno || v < lo || v > hi) {
        die("%s needs an integer in [%u, %u], got '%s'", opt, lo, hi, text ? text : "");
    }
    return (unsigned)v;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: bench_save_restore [--mib N] [--reps N]\n"
            "  --mib N   MiB of ring + packet payload in the channel, 1..%u (default %u)\n"
            "  --reps N  repetitions; the median is reported, 1..%u (default %u)\n",
            MAX_MIB, DEFAULT_MIB, MAX_REPS, DEFAULT_REPS);
}

/* ---- The benchmark ---- */

typedef struct bench {
    vmbsave_interface_v1 api;
    uint32_t ring_bytes;   /* per direction */
    uint32_t packet_count; /* each VMBSAVE_MAX_PACKET_PAYLOAD bytes */
    size_t payload_bytes;  /* 2 * ring_bytes + packet_count * VMBSAVE_MAX_PACKET_PAYLOAD */

    uint8_t *image;        /* the saved image */
    size_t image_capacity;
    size_t image_bytes;    /* bytes of the last save */
    uint32_t *call_bytes;  /* BytesFilled of each save_continue call that made progress */
    size_t call_capacity;
    size_t call_count;
} bench;

static vmbsave_channel *build_source_channel(bench *b)
{
    const vmbsave_interface_v1 *api = &b->api;
    vmbsave_channel *ch = NULL;
    expect(api->channel_allocate(api->context, &ch), STATUS_SUCCESS, "channel_allocate");
    if (!ch) {
        die("channel_allocate succeeded but returned no channel");
    }

    vmbsave_offer offer;
    memset(&offer, 0, sizeof offer);
    for (unsigned i = 0; i < sizeof offer.interface_type.bytes; i++) {
        offer.interface_type.bytes[i] = (uint8_t)(0xA0u + i);
        offer.interface_instance.bytes[i] = (uint8_t)(0x10u + i);
    }
    for (unsigned i = 0; i < VMBSAVE_USER_DEFINED_BYTES; i++) {
        offer.user_defined[i] = (uint8_t)i;
    }
    expect(api->init_set_offer(ch, &offer), STATUS_SUCCESS, "init_set_offer");
    expect(api->enable(ch), STATUS_SUCCESS, "enable");

    static const uint64_t pfns[] = {0x1000, 0x1001, 0x1002, 0x1003, 0x2000, 0x2001, 0x2002, 0x2003};
    expect(api->gpadl_create(ch, 1, pfns, (uint32_t)(sizeof pfns / sizeof pfns[0])), STATUS_SUCCESS,
           "gpadl_create(1)");

    vmbsave_open_params open;
    memset(&open, 0, sizeof open);
    open.ring_gpadl_id = 1;
    open.incoming_ring_bytes = b->ring_bytes;
    open.outgoing_ring_bytes = b->ring_bytes;
    open.target_vp = 0;
    open.connection_id = 1;
    expect(api->guest_open(ch, &open), STATUS_SUCCESS, "guest_open");
    expect(api->start(ch), STATUS_SUCCESS, "start");

    uint8_t *data = xmalloc(b->ring_bytes, "ring data");
    fill_random(data, b->ring_bytes, 0x1234567u);
    expect(api->ring_write(ch, VMBSAVE_RING_INCOMING, data, b->ring_bytes), STATUS_SUCCESS,
           "ring_write(incoming)");
    fill_random(data, b->ring_bytes, 0x89ABCDEu);
    expect(api->ring_write(ch, VMBSAVE_RING_OUTGOING, data, b->ring_bytes), STATUS_SUCCESS,
           "ring_write(outgoing)");
    free(data);

    uint8_t *payload = xmalloc(VMBSAVE_MAX_PACKET_PAYLOAD, "packet payload");
    for (uint32_t i = 0; i < b->packet_count; i++) {
        fill_random(payload, VMBSAVE_MAX_PACKET_PAYLOAD, 0xFEEDu + i);
        NTSTATUS s = api->packet_send(ch, (uint64_t)i + 1u, 0, payload, VMBSAVE_MAX_PACKET_PAYLOAD);
        if (s != STATUS_SUCCESS) {
            die("packet_send(id %" PRIu32 ") returned %s (0x%08" PRIx32 ")", i + 1u,
                status_text(s), (uint32_t)s);
        }
    }
    free(payload);

    expect(api->pause(ch), STATUS_SUCCESS, "pause");
    return ch;
}

static void destroy_channel(bench *b, vmbsave_channel *ch)
{
    expect(b->api.disable(ch), STATUS_SUCCESS, "disable");
    expect(b->api.channel_cleanup(ch), STATUS_SUCCESS, "channel_cleanup");
}

/* One full save of `ch` into b->image, recording each call's BytesFilled. Returns seconds. */
static double timed_save(bench *b, vmbsave_channel *ch)
{
    const vmbsave_interface_v1 *api = &b->api;
    uint32_t filled = 0, required = 0;
    size_t used = 0;
    NTSTATUS s;

    b->call_count = 0;
    double t0 = now_seconds();

    expect(api->save_begin(ch), STATUS_SUCCESS, "save_begin");

    /* A size query: nothing written, BytesRequired is the first chunk's size. */
    s = api->save_continue(ch, b->image, 0, &filled, &required);
    expect(s, STATUS_BUFFER_TOO_SMALL, "save_continue(size query)");
    if (filled != 0 || required == 0 || required > VMBSAVE_MAX_CHUNK_BYTES) {
        die("save_continue(size query): BytesFilled %" PRIu32 ", BytesRequired %" PRIu32, filled,
            required);
    }

    for (;;) {
        size_t room = b->image_capacity - used;
        uint32_t size = room < SAVE_CALL_BYTES ? (uint32_t)room : SAVE_CALL_BYTES;
        filled = required = 0;
        s = api->save_continue(ch, b->image + used, size, &filled, &required);
        if (s != STATUS_SUCCESS && s != STATUS_BUFFER_OVERFLOW) {
            die("save_continue(%" PRIu32 " bytes at offset %zu) returned %s (0x%08" PRIx32
                "); image buffer %zu bytes",
                size, used, status_text(s), (uint32_t)s, b->image_capacity);
        }
        if (filled == 0 || filled > size) {
            die("save_continue returned %s with BytesFilled %" PRIu32 " for a %" PRIu32
                "-byte buffer",
                status_text(s), filled, size);
        }
        if (b->call_count == b->call_capacity) {
            die("more than %zu save_continue calls", b->call_capacity);
        }
        b->call_bytes[b->call_count++] = filled;
        used += filled;
        if (s == STATUS_SUCCESS) {
            break;
        }
    }

    api->save_end(ch);
    double t1 = now_seconds();

    if (required != 0) {
        die("final save_continue: BytesRequired %" PRIu32 ", expected 0", required);
    }
    b->image_bytes = used;
    return t1 - t0;
}

/* Restores b->image into a fresh channel, one call per save_continue call. Returns seconds;
 * *out receives the restored channel. */
static double timed_restore(bench *b, vmbsave_channel **out)
{
    const vmbsave_interface_v1 *api = &b->api;
    vmbsave_channel *ch = NULL;
    expect(api->channel_allocate(api->context, &ch), STATUS_SUCCESS, "channel_allocate(restore)");
    if (!ch) {
        die("channel_allocate succeeded but returned no channel");
    }

    size_t offset = 0;
    double t0 = now_seconds();
    for (size_t i = 0; i < b->call_count; i++) {
        NTSTATUS want = i + 1 == b->call_count ? STATUS_SUCCESS : STATUS_MORE_PROCESSING_REQUIRED;
        NTSTATUS s = api->restore_from_buffer(ch, b->image + offset, b->call_bytes[i]);
        if (s != want) {
            die("restore_from_buffer(piece %zu of %zu, %" PRIu32 " bytes at offset %zu) returned "
                "%s (0x%08" PRIx32 "), expected %s",
                i + 1, b->call_count, b->call_bytes[i], offset, status_text(s), (uint32_t)s,
                status_text(want));
        }
        offset += b->call_bytes[i];
    }
    double t1 = now_seconds();

    *out = ch;
    return t1 - t0;
}

static double timed_memcpy(uint8_t *dst, const uint8_t *src, size_t bytes)
{
    double t0 = now_seconds();
    memcpy(dst, src, bytes);
    g_sink += dst[0] + dst[bytes / 2] + dst[bytes - 1];
    double t1 = now_seconds();
    return t1 - t0;
}

/* One line of the table: the median time, throughput, and ratio to the baseline's time. */
static void print_row(const char *name, double seconds, double baseline_seconds, double bytes,
                      const char *baseline)
{
    printf("%-14s %10.3f %8.3f %10.3f  %s\n", name, seconds * 1e3, bytes / seconds / 1e9,
           baseline_seconds / seconds, baseline);
}

/* memcpy into newly mapped pages: the baseline that pays the same page faults as a restore
 * whose host hands out fresh pages. Unmapping is not timed. */
static double timed_memcpy_fresh(const uint8_t *src, size_t bytes)
{
    double t0 = now_seconds();
    uint8_t *dst = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (dst == MAP_FAILED) {
        die("mmap(%zu bytes): %s", bytes, strerror(errno));
    }
    memcpy(dst, src, bytes);
    g_sink += dst[0] + dst[bytes / 2] + dst[bytes - 1];
    double t1 = now_seconds();
    munmap(dst, bytes);
    return t1 - t0;
}

/* The canonical description, or NULL if the implementation does not offer it. */
static char *describe(bench *b, vmbsave_channel *ch)
{
    if (!(b->api.capabilities & VMBSAVE_CAP_DESCRIBE)) {
        return NULL;
    }
    uint32_t required = 0;
    expect(b->api.describe(ch, NULL, 0, &required), STATUS_BUFFER_TOO_SMALL, "describe(size query)");
    char *text = xmalloc(required, "description");
    expect(b->api.describe(ch, text, required, &required), STATUS_SUCCESS, "describe");
    return text;
}

/* The description without its "fresh=" line (the one line a restore may change). */
static void drop_fresh_line(char *text)
{
    char *line = strstr(text, "\nfresh=");
    if (line) {
        line++;
        char *next = strchr(line, '\n');
        if (next) {
            memmove(line, next + 1, strlen(next + 1) + 1);
        } else {
            *line = '\0';
        }
    }
}

int main(int argc, char **argv)
{
    unsigned mib = DEFAULT_MIB, reps = DEFAULT_REPS;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--mib") && i + 1 < argc) {
            mib = parse_uint("--mib", argv[++i], 1, MAX_MIB);
        } else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
            reps = parse_uint("--reps", argv[++i], 1, MAX_REPS);
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return EXIT_SUCCESS;
        } else {
            usage(stderr);
            die("unknown or incomplete argument '%s'", argv[i]);
        }
    }

    bench b;
    memset(&b, 0, sizeof b);
    b.ring_bytes = (uint32_t)(mib * MIB / 4);
    b.packet_count = (uint32_t)(mib * MIB / 2 / VMBSAVE_MAX_PACKET_PAYLOAD);
    b.payload_bytes = 2 * (size_t)b.ring_bytes + (size_t)b.packet_count * VMBSAVE_MAX_PACKET_PAYLOAD;
    /* Chunk headers and record headers cost about 1%; 25% + 1 MiB is ample (80 MiB at 64). */
    b.image_capacity = b.payload_bytes + b.payload_bytes / 4 + MIB;
    b.call_capacity = b.image_capacity / 40 + 16; /* every successful call fills >= 40 bytes */

#ifdef M_MMAP_THRESHOLD
    /* A pooling allocator: glibc keeps freed blocks (up to its 32 MiB mmap ceiling) for reuse
     * instead of returning them to the kernel. */
    mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
    host_mode mode = {0};
    vmbsave_host_v1 host;
    memset(&host, 0, sizeof host);
    host.context = &mode;
    host.size = (uint32_t)sizeof host;
    host.abi_major = VMBSAVE_ABI_MAJOR;
    host.alloc = host_alloc;
    host.free = host_free;
    host.log = host_log;

    expect(vmbsave_reference_get_interface(VMBSAVE_INTERFACE_NAME, VMBSAVE_ABI_MAJOR, &host, &b.api,
                                           (uint32_t)sizeof b.api),
           STATUS_SUCCESS, "vmbsave_reference_get_interface");
    if (b.api.abi_major != VMBSAVE_ABI_MAJOR || b.api.size < sizeof b.api) {
        die("interface table: abi_major %u, size %" PRIu32, (unsigned)b.api.abi_major, b.api.size);
    }

    printf("bench_save_restore: %s %s\n", b.api.impl_name ? b.api.impl_name : "?",
           b.api.impl_version ? b.api.impl_version : "?");
    printf("channel: 2 rings x %" PRIu32 " bytes + %" PRIu32 " packets x %u bytes = %zu bytes "
           "(%u MiB); %u repetitions, median reported\n",
           b.ring_bytes, b.packet_count, (unsigned)VMBSAVE_MAX_PACKET_PAYLOAD, b.payload_bytes, mib,
           reps);
    fflush(stdout);

    vmbsave_channel *source = build_source_channel(&b);

    /* Prefault every buffer a timed region writes. */
    b.image = xmalloc(b.image_capacity, "image buffer");
    memset(b.image, 0, b.image_capacity);
    b.call_bytes = xmalloc(b.call_capacity * sizeof *b.call_bytes, "call sizes");
    uint8_t *src = xmalloc(b.payload_bytes, "memcpy source");
    uint8_t *dst = xmalloc(b.payload_bytes, "memcpy destination");
    fill_random(src, b.payload_bytes, 42);
    memset(dst, 0, b.payload_bytes);

    double *t_memcpy = xmalloc(reps * sizeof(double), "timings");
    double *t_save = xmalloc(reps * sizeof(double), "timings");
    double *t_restore = xmalloc(reps * sizeof(double), "timings");
    double *t_memcpy_fresh = xmalloc(reps * sizeof(double), "timings");
    double *t_restore_fresh = xmalloc(reps * sizeof(double), "timings");
    size_t first_image_bytes = 0, first_calls = 0;
    char *source_text = describe(&b, source);
    if (source_text) {
        drop_fresh_line(source_text);
    }

    for (unsigned r = 0; r < reps; r++) {
        t_memcpy[r] = timed_memcpy(dst, src, b.payload_bytes);
        t_save[r] = timed_save(&b, source);
        if (r == 0) {
            first_image_bytes = b.image_bytes;
            first_calls = b.call_count;
        } else if (b.image_bytes != first_image_bytes || b.call_count != first_calls) {
            die("save %u produced %zu bytes in %zu calls; the first produced %zu in %zu", r + 1,
                b.image_bytes, b.call_count, first_image_bytes, first_calls);
        }

        vmbsave_channel *restored = NULL;
        t_restore[r] = timed_restore(&b, &restored);

        if (r == 0 && source_text) {
            char *restored_text = describe(&b, restored);
            drop_fresh_line(restored_text);
            if (strcmp(source_text, restored_text) != 0) {
                die("the restored channel's description differs from the saved one's");
            }
            free(restored_text);
        }
        destroy_channel(&b, restored);

        t_memcpy_fresh[r] = timed_memcpy_fresh(src, b.payload_bytes);
        mode.fresh_pages = 1;
        t_restore_fresh[r] = timed_restore(&b, &restored);
        destroy_channel(&b, restored);
        mode.fresh_pages = 0;
    }
    if (!source_text) {
        fprintf(stderr, "bench_save_restore: note: no VMBSAVE_CAP_DESCRIBE, round trip not "
                        "checked\n");
    }

    double bytes = (double)b.payload_bytes;
    double m_memcpy = median(t_memcpy, reps), m_save = median(t_save, reps);
    double m_restore = median(t_restore, reps);
    double m_memcpy_fresh = median(t_memcpy_fresh, reps);
    double m_restore_fresh = median(t_restore_fresh, reps);

    printf("image: %zu bytes (%.2f%% over payload) in %zu save_continue calls of <= %" PRIu32
           " bytes\n",
           b.image_bytes, 100.0 * ((double)b.image_bytes - bytes) / bytes, b.call_count,
           SAVE_CALL_BYTES);
    printf("%-14s %10s %8s %10s  %s\n", "", "median ms", "GB/s", "ratio", "baseline");
    print_row("memcpy", m_memcpy, m_memcpy, bytes, "-");
    print_row("save", m_save, m_memcpy, bytes, "memcpy");
    print_row("restore", m_restore, m_memcpy, bytes, "memcpy (pooled host allocator)");
    print_row("memcpy-fresh", m_memcpy_fresh, m_memcpy_fresh, bytes, "-");
    print_row("restore-fresh", m_restore_fresh, m_memcpy_fresh, bytes,
              "memcpy-fresh (new pages per large allocation)");

    json_t *report = json_pack(
        "{s:i, s:i, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "mib", (int)mib,
        "reps", (int)reps, "payload_bytes", (json_int_t)b.payload_bytes, "image_bytes",
        (json_int_t)b.image_bytes, "save_calls", (json_int_t)b.call_count, "memcpy_s", m_memcpy,
        "save_s", m_save, "restore_s", m_restore, "memcpy_fresh_s", m_memcpy_fresh,
        "restore_fresh_s", m_restore_fresh, "save_vs_memcpy", m_memcpy / m_save,
        "restore_vs_memcpy", m_memcpy / m_restore, "restore_fresh_vs_memcpy_fresh",
        m_memcpy_fresh / m_restore_fresh);
    if (!report) {
        die("json_pack failed");
    }
    if (json_dumpf(report, stdout, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(6)) != 0) {
        die("writing the JSON report failed");
    }
    putchar('\n');
    json_decref(report);

    destroy_channel(&b, source);
    b.api.release(b.api.context);
    free(source_text);
    free(t_memcpy);
    free(t_save);
    free(t_restore);
    free(t_memcpy_fresh);
    free(t_restore_fresh);
    free(src);
    free(dst);
    free(b.call_bytes);
    free(b.image);
    return EXIT_SUCCESS;
}
