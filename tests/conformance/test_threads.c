/* CONTEXT.THREADS.DISTINCT_CHANNELS with one interface: distinct channels of the same
 * interface driven from distinct threads at once, each thread's results checked against a
 * single-threaded run of the same calls. (test_context.c gives each thread an interface of
 * its own; state shared between the channels of one interface, such as one restore in
 * progress per library, shows only here.)
 *
 * Each thread builds its own channel state (GPADLs, packets with 64-bit ids and driver state,
 * ring bytes), saves it, restores the image into a fresh channel one chunk per call, and saves
 * the restored channel. Before the threads start, the same is done one thread at a time for
 * the reference images. The threads meet at a barrier before every step and every restore
 * call, so every restore is in progress in every thread at once; each thread's images must
 * equal its single-threaded ones, every restore call must say MORE_PROCESSING_REQUIRED until
 * the last, which commits, and every driver state must come back to its packet.
 *
 * The host is shared by all threads (one interface), so it is stateless but for atomics. Run
 * under ThreadSanitizer by ci/test.sh (preset tsan), where a data race inside the
 * implementation is reported too. */
#define _POSIX_C_SOURCE 200809L /* pthread barriers */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/clause_test.h"

#include "host/loader.h"
#include "vmbsave/abi.h"

#define N_THREADS 4
#define ROUNDS 3
#define PACKETS 6
/* Steps every thread takes in a round, each after a barrier: build, save, then the restore's
 * calls (as many as the largest image has chunks), then the second save. */
#define MAX_CHUNKS 64

/* ---- A host safe to share between threads ------------------------------------------------ */

typedef struct shared_host {
    atomic_llong live;       /* allocations not freed */
    atomic_uint mismatches;  /* restore_packet calls with the wrong driver state */
    atomic_uint restored;    /* restore_packet calls */
} shared_host;

static void *h_alloc(void *context, size_t bytes)
{
    shared_host *h = context;
    void *p = malloc(bytes != 0 ? bytes : 1);
    if (p != NULL)
        atomic_fetch_add(&h->live, 1);
    return p;
}

static void h_free(void *context, void *ptr)
{
    shared_host *h = context;
    if (ptr != NULL)
        atomic_fetch_sub(&h->live, 1);
    free(ptr);
}

/* A packet's driver state: its size (0 for every third id) and bytes, from the id alone. */
static uint32_t state_bytes(uint64_t id)
{
    return id % 3u == 0 ? 0u : (uint32_t)(id % 97u) + 1u;
}

static uint8_t state_byte(uint64_t id, uint32_t i)
{
    return (uint8_t)((id >> (8u * (i % 8u))) ^ (i * 29u) ^ 0x5Au);
}

static NTSTATUS h_save_packet(void *context, vmbsave_channel *channel, uint64_t packet_id,
                              void *save_buf, uint32_t save_buf_size, uint32_t *bytes_needed)
{
    (void)context;
    (void)channel;
    uint32_t need = state_bytes(packet_id);
    *bytes_needed = need;
    if (need == 0)
        return STATUS_SUCCESS;
    if (save_buf_size < need)
        return STATUS_BUFFER_TOO_SMALL;
    uint8_t *b = save_buf;
    for (uint32_t i = 0; i < need; i++)
        b[i] = state_byte(packet_id, i);
    return STATUS_SUCCESS;
}

static NTSTATUS h_restore_packet(void *context, vmbsave_channel *channel, uint64_t packet_id,
                                 const void *lib_buf, uint32_t lib_buf_size, const void *save_buf,
                                 uint32_t save_buf_size)
{
    (void)channel;
    (void)lib_buf;
    (void)lib_buf_size;
    shared_host *h = context;
    atomic_fetch_add(&h->restored, 1u);
    bool ok = save_buf_size == state_bytes(packet_id);
    const uint8_t *b = save_buf;
    for (uint32_t i = 0; ok && i < save_buf_size; i++)
        ok = b[i] == state_byte(packet_id, i);
    if (!ok)
        atomic_fetch_add(&h->mismatches, 1u);
    return STATUS_SUCCESS;
}

/* ---- One thread's work ------------------------------------------------------------------- */

typedef struct image {
    uint8_t *bytes;
    uint32_t size;
    uint32_t chunk_end[MAX_CHUNKS]; /* end offset of each chunk */
    uint32_t chunks;
} image;

typedef struct worker {
    const vmbsave_interface_v1 *v;
    pthread_barrier_t *barrier; /* NULL: the single-threaded run */
    int index;
    uint32_t round;
    image saved, resaved; /* this run's */
    char error[256];      /* empty while all is well; cmocka may not fail off its thread */
} worker;

static void fail_w(worker *w, const char *fmt, const char *what, NTSTATUS st)
{
    if (w->error[0] == '\0')
        snprintf(w->error, sizeof w->error, fmt, w->index, w->round, what, (unsigned)st);
}

#define W_OK(w, expr)                                                                              \
    do {                                                                                           \
        NTSTATUS st_ = (expr);                                                                     \
        if (st_ != STATUS_SUCCESS) {                                                               \
            fail_w(w, "thread %d round %u: %s returned 0x%08x", #expr, st_);                       \
            return;                                                                                \
        }                                                                                          \
    } while (0)

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Saves `ch` whole, 64 KiB per call, into img (malloc'd), and finds its chunks. */
static void save_whole(worker *w, vmbsave_channel *ch, image *img)
{
    const vmbsave_interface_v1 *v = w->v;
    W_OK(w, v->save_begin(ch));
    uint32_t cap = 4u * VMBSAVE_MAX_CHUNK_BYTES, n = 0;
    uint8_t *b = malloc(cap);
    NTSTATUS st = b != NULL ? STATUS_BUFFER_OVERFLOW : STATUS_NO_MEMORY;
    while (st == STATUS_BUFFER_OVERFLOW) {
        if (cap - n < VMBSAVE_MAX_CHUNK_BYTES) {
            uint8_t *nb = realloc(b, (size_t)cap * 2u);
            if (nb == NULL) {
                st = STATUS_NO_MEMORY;
                break;
            }
            b = nb;
            cap *= 2u;
        }
        uint32_t filled = 0, required = 0;
        st = v->save_continue(ch, b + n, VMBSAVE_MAX_CHUNK_BYTES, &filled, &required);
        if (st == STATUS_SUCCESS || st == STATUS_BUFFER_OVERFLOW)
            n += filled;
    }
    v->save_end(ch);
    img->bytes = b;
    img->size = n;
    if (st != STATUS_SUCCESS) {
        fail_w(w, "thread %d round %u: %s returned 0x%08x", "a save", st);
        return;
    }
    /* FORMAT.md: payload_bytes at offset 16 of each 40-byte chunk header. */
    img->chunks = 0;
    for (uint32_t off = 0; off + 40u <= n && img->chunks < MAX_CHUNKS;) {
        off += 40u + get_u32(b + off + 16u);
        img->chunk_end[img->chunks++] = off;
    }
    if (img->chunks == 0 || img->chunk_end[img->chunks - 1u] != n)
        fail_w(w, "thread %d round %u: %s (0x%08x)", "an image that is not whole chunks", 0);
}

static void wait_others(worker *w)
{
    if (w->barrier != NULL)
        (void)pthread_barrier_wait(w->barrier);
}

/* Builds the thread's channel: distinct offer, GPADL and packet ids per thread and round,
 * 64-bit packet ids among them. */
static void build(worker *w, vmbsave_channel *ch)
{
    const vmbsave_interface_v1 *v = w->v;
    uint32_t salt = (uint32_t)w->index * 100u + w->round;
    vmbsave_offer offer;
    memset(&offer, 0, sizeof offer);
    for (unsigned i = 0; i < sizeof offer.interface_instance.bytes; i++)
        offer.interface_instance.bytes[i] = (uint8_t)(salt * 7u + i);
    offer.subchannel_index = (uint16_t)(salt % (VMBSAVE_MAX_SUBCHANNEL_INDEX + 1u));
    W_OK(w, v->init_set_offer(ch, &offer));
    W_OK(w, v->enable(ch));
    uint64_t pfns[8];
    for (uint32_t g = 1; g <= 3; g++) {
        for (uint32_t i = 0; i < 8; i++)
            pfns[i] = (uint64_t)salt * 4096u + g * 16u + i;
        W_OK(w, v->gpadl_create(ch, g == 3 ? UINT32_MAX - salt : g, pfns, 2u + g));
    }
    vmbsave_open_params open;
    memset(&open, 0, sizeof open);
    open.ring_gpadl_id = 1;
    open.incoming_ring_bytes = 4u * VMBSAVE_PAGE_BYTES;
    open.outgoing_ring_bytes = 2u * VMBSAVE_PAGE_BYTES;
    open.connection_id = 1u + salt;
    W_OK(w, v->guest_open(ch, &open));
    W_OK(w, v->start(ch));
    uint8_t payload[300];
    for (uint32_t p = 0; p < PACKETS; p++) {
        for (unsigned b = 0; b < sizeof payload; b++)
            payload[b] = (uint8_t)(salt + p * 13u + b);
        uint64_t id = p % 2u == 0 ? 1u + p : (UINT64_C(1) << 32) + salt * 16u + p;
        W_OK(w, v->packet_send(ch, id, p % 3u == 1 ? 2u : 0u, payload, 10u + p * 40u));
    }
    W_OK(w, v->ring_write(ch, VMBSAVE_RING_INCOMING, payload, 50u + salt % 50u));
    W_OK(w, v->ring_write(ch, VMBSAVE_RING_OUTGOING, payload, 17u));
    W_OK(w, v->pause(ch));
}

static void release_channel(const vmbsave_interface_v1 *v, vmbsave_channel *ch)
{
    if (ch != NULL) {
        (void)v->disable(ch);
        (void)v->channel_cleanup(ch);
    }
}

/* One round. `steps` barrier waits in all, whatever fails, so no thread is left waiting. */
static void round_body(worker *w, uint32_t steps)
{
    const vmbsave_interface_v1 *v = w->v;
    vmbsave_channel *ch = NULL, *fresh = NULL;
    uint32_t waited = 0;
    wait_others(w), waited++;
    if (v->channel_allocate(v->context, &ch) != STATUS_SUCCESS)
        ch = NULL, fail_w(w, "thread %d round %u: %s (0x%08x)", "channel_allocate failed", 0);
    if (w->error[0] == '\0')
        build(w, ch);
    wait_others(w), waited++;
    if (w->error[0] == '\0')
        save_whole(w, ch, &w->saved);
    if (w->error[0] == '\0' && v->channel_allocate(v->context, &fresh) != STATUS_SUCCESS)
        fresh = NULL, fail_w(w, "thread %d round %u: %s (0x%08x)", "channel_allocate failed", 0);
    /* The restore, a chunk per call, every thread's call k after the same barrier. */
    uint32_t from = 0;
    for (uint32_t k = 0; waited + 1u < steps; k++) {
        wait_others(w), waited++;
        if (w->error[0] != '\0' || k >= w->saved.chunks)
            continue;
        uint32_t to = w->saved.chunk_end[k];
        NTSTATUS st = v->restore_from_buffer(fresh, w->saved.bytes + from, to - from);
        NTSTATUS want = k + 1u == w->saved.chunks ? STATUS_SUCCESS : STATUS_MORE_PROCESSING_REQUIRED;
        if (st != want) {
            char what[96];
            snprintf(what, sizeof what, "restore call %u of %u (expected 0x%08x)", k + 1u,
                     w->saved.chunks, (unsigned)want);
            fail_w(w, "thread %d round %u: %s returned 0x%08x", what, st);
        }
        from = to;
    }
    wait_others(w), waited++;
    if (w->error[0] == '\0')
        save_whole(w, fresh, &w->resaved);
    release_channel(v, ch);
    release_channel(v, fresh);
}

/* ---- The test ---------------------------------------------------------------------------- */

typedef struct threaded_run {
    worker *w;
    uint32_t steps;
} threaded_run;

static void *thread_main(void *arg)
{
    threaded_run *t = arg;
    round_body(t->w, t->steps);
    return NULL;
}

static const char *plugin_path(void)
{
    const char *p = getenv("VMBSAVE_PLUGIN");
    return p != NULL && p[0] != '\0' ? p : VMBSAVE_DEFAULT_PLUGIN;
}

static void free_images(worker *w)
{
    free(w->saved.bytes);
    free(w->resaved.bytes);
    memset(&w->saved, 0, sizeof w->saved);
    memset(&w->resaved, 0, sizeof w->resaved);
}

static void context_threads_one_interface(void **state)
{
    (void)state;
    static shared_host hs;
    atomic_store(&hs.live, 0);
    atomic_store(&hs.mismatches, 0u);
    atomic_store(&hs.restored, 0u);
    vmbsave_host_v1 host = {
        .size = sizeof host, .abi_major = VMBSAVE_ABI_MAJOR, .context = &hs,
        .alloc = h_alloc, .free = h_free, .save_packet = h_save_packet,
        .restore_packet = h_restore_packet};
    vmbsave_impl impl;
    char err[256];
    if (vmbsave_impl_load(plugin_path(), &host, &impl, err, sizeof err) != 0)
        fail_msg("loading %s: %s", plugin_path(), err);
    const vmbsave_interface_v1 *v = &impl.iface;
    if ((v->capabilities & VMBSAVE_CAP_CHANNELS_THREAD_SAFE) == 0) {
        vmbsave_impl_unload(&impl);
        skip(); /* the clause applies only to implementations that report the capability */
    }
    worker single[N_THREADS], multi[N_THREADS];
    memset(single, 0, sizeof single);
    memset(multi, 0, sizeof multi);
    uint32_t restores = 0;
    for (uint32_t round = 0; round < ROUNDS; round++) {
        /* The single-threaded run of every thread's calls, one after another. */
        uint32_t most = 0;
        for (int i = 0; i < N_THREADS; i++) {
            single[i] = (worker){.v = v, .index = i, .round = round};
            round_body(&single[i], 3u + MAX_CHUNKS);
            if (single[i].error[0] != '\0') {
                char msg[256];
                memcpy(msg, single[i].error, sizeof msg);
                fail_msg("single-threaded: %s", msg);
            }
            if (single[i].saved.chunks > most)
                most = single[i].saved.chunks;
        }
        /* The same calls from N_THREADS threads on channels of the one interface. */
        pthread_barrier_t barrier;
        assert_int_equal(pthread_barrier_init(&barrier, NULL, N_THREADS), 0);
        pthread_t t[N_THREADS];
        threaded_run runs[N_THREADS];
        for (int i = 0; i < N_THREADS; i++) {
            multi[i] = (worker){.v = v, .barrier = &barrier, .index = i, .round = round};
            runs[i] = (threaded_run){&multi[i], 3u + most};
            assert_int_equal(pthread_create(&t[i], NULL, thread_main, &runs[i]), 0);
        }
        for (int i = 0; i < N_THREADS; i++)
            assert_int_equal(pthread_join(t[i], NULL), 0);
        pthread_barrier_destroy(&barrier);
        for (int i = 0; i < N_THREADS; i++) {
            worker *m = &multi[i], *s = &single[i];
            char msg[512] = "";
            if (m->error[0] != '\0')
                snprintf(msg, sizeof msg, "%s", m->error);
            else if (m->saved.size != s->saved.size ||
                     memcmp(m->saved.bytes, s->saved.bytes, s->saved.size) != 0)
                snprintf(msg, sizeof msg,
                         "thread %d round %u: its image (%u bytes) differs from the "
                         "single-threaded run's (%u bytes)",
                         i, round, m->saved.size, s->saved.size);
            else if (m->resaved.size != s->saved.size ||
                     memcmp(m->resaved.bytes, s->saved.bytes, s->saved.size) != 0)
                snprintf(msg, sizeof msg,
                         "thread %d round %u: the channel it restored saves another image",
                         i, round);
            restores += m->saved.chunks;
            if (msg[0] != '\0') {
                for (int k = 0; k < N_THREADS; k++) {
                    free_images(&single[k]);
                    free_images(&multi[k]);
                }
                vmbsave_impl_unload(&impl);
                fail_msg("%s", msg);
            }
        }
        for (int k = 0; k < N_THREADS; k++) {
            free_images(&single[k]);
            free_images(&multi[k]);
        }
    }
    vmbsave_impl_unload(&impl);
    print_message("%d threads x %d rounds, %u restore calls in lockstep\n", N_THREADS, ROUNDS,
                  restores);
    assert_true(restores >= (uint32_t)(N_THREADS * ROUNDS * 3));
    /* Every restore committed its packets once, with their driver states. */
    assert_int_equal(atomic_load(&hs.restored), 2u * ROUNDS * N_THREADS * PACKETS);
    assert_int_equal(atomic_load(&hs.mismatches), 0u);
    assert_int_equal(atomic_load(&hs.live), 0);
}

static const struct CMUnitTest tests[] = {
    CLAUSE_TEST("CONTEXT.THREADS.DISTINCT_CHANNELS", context_threads_one_interface),
};

CLAUSE_TEST_MAIN("threads", tests)
