/* Clauses CONTEXT.*: callbacks run on the calling thread during the call; distinct channels
 * may be used from distinct threads. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/clause_test.h"
#include "support/fixture.h"

static void expect_all_on_thread(const vmbsave_fault_host *h, const vmbsave_channel *ch,
                                 uint32_t want_save_min, uint32_t want_restore_min)
{
    if (h->save_call_count < want_save_min || h->restore_call_count < want_restore_min)
        fail_msg("expected at least %u save and %u restore callbacks, saw %u and %u", want_save_min,
                 want_restore_min, h->save_call_count, h->restore_call_count);
    for (uint32_t i = 0; i < h->save_call_count; i++) {
        if (!h->save_calls[i].on_calling_thread)
            fail_msg("save_packet call %u (packet %llu) was not made on the calling thread "
                     "during the call",
                     i, (unsigned long long)h->save_calls[i].packet_id);
        if (ch != NULL && h->save_calls[i].channel != ch)
            fail_msg("save_packet call %u named another channel", i);
    }
    for (uint32_t i = 0; i < h->restore_call_count; i++)
        if (!h->restore_calls[i].on_calling_thread)
            fail_msg("restore_packet call %u (packet %llu) was not made on the calling thread "
                     "during the call",
                     i, (unsigned long long)h->restore_calls[i].packet_id);
}

/* Every callback is logged while a call made by this thread is in progress: the host marks the
 * span of each call with vmbsave_host_enter/leave, and a callback outside it, or on another
 * thread, is logged with on_calling_thread false. */
static void context_irql_passive(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    vmbsave_fault_host *h = &e->host;
    vmbsave_channel *ch = vt_make_canonical(e, VMBSAVE_CANONICAL_PAUSED_PACKETS, 1);
    const uint32_t packets =
        vmbsave_canonical_info_of(VMBSAVE_CANONICAL_PAUSED_PACKETS)->packet_count;
    assert_true(packets > 0);

    /* By hand, one save_continue at a time with a small buffer, so callbacks are spread over
     * several calls. */
    vmbsave_fault_host_clear_logs(h);
    vmbsave_host_enter(h);
    assert_int_equal(e->v->save_begin(ch), STATUS_SUCCESS);
    vmbsave_host_leave(h);
    uint8_t *buf = malloc(VMBSAVE_MAX_CHUNK_BYTES);
    assert_non_null(buf);
    NTSTATUS s;
    uint32_t size = 64;
    for (;;) {
        uint32_t filled = 0, req = 0;
        vmbsave_host_enter(h);
        s = e->v->save_continue(ch, buf, size, &filled, &req);
        vmbsave_host_leave(h);
        if (s == STATUS_BUFFER_TOO_SMALL) {
            size = req;
            continue;
        }
        if (s != STATUS_BUFFER_OVERFLOW)
            break;
        size = 64;
    }
    free(buf);
    assert_int_equal(s, STATUS_SUCCESS);
    uint32_t count_after_session = h->save_call_count;
    vmbsave_host_enter(h);
    e->v->save_end(ch);
    vmbsave_host_leave(h);
    /* A packet in flight is at least one size query. */
    expect_all_on_thread(h, ch, packets, 0);
    /* Nothing after the session: no late callback from save_end or later. */
    assert_int_equal(h->save_call_count, count_after_session);

    /* Through the fixture, which brackets every call the same way; then a restore, whose
     * callbacks come from the call that takes END. */
    vt_image img;
    vmbsave_fault_host_clear_logs(h);
    /* Buffers smaller than the largest chunk: OVERFLOW, TOO_SMALL and its retry all happen, each
     * checked by vt_save. */
    vt_save(e, ch, 1000, &img);
    assert_true(vt_image_has_chunk_above(&img, 1000));
    expect_all_on_thread(h, ch, packets, 0);
    vmbsave_fault_host_clear_logs(h);
    vmbsave_channel *r = vt_restore_new(e, &img);
    expect_all_on_thread(h, NULL, 0, packets);
    for (uint32_t i = 0; i < h->restore_call_count; i++)
        assert_ptr_equal(h->restore_calls[i].channel, r);
    uint32_t restore_calls = h->restore_call_count;

    /* Operations that trigger no callback make none, even later on this thread. */
    char *d = vt_describe(e, r);
    free(d);
    vt_destroy_channel(e, r);
    assert_int_equal(h->restore_call_count, restore_calls);

    /* The check above can fail: a callback made outside a bracketed call is flagged. */
    vmbsave_fault_host_clear_logs(h);
    assert_int_equal(e->v->save_begin(ch), STATUS_SUCCESS);
    uint32_t filled = 0, req = 0;
    uint8_t *big = malloc(VMBSAVE_MAX_CHUNK_BYTES);
    assert_non_null(big);
    do {
        s = e->v->save_continue(ch, big, VMBSAVE_MAX_CHUNK_BYTES, &filled, &req);
    } while (s == STATUS_BUFFER_OVERFLOW);
    free(big);
    e->v->save_end(ch);
    assert_true(h->save_call_count > 0);
    assert_false(h->save_calls[0].on_calling_thread);

    vt_image_free(&img);
    vt_destroy_channel(e, ch);
    vt_env_free(e);
}

/* ---- CONTEXT.THREADS.DISTINCT_CHANNELS ---------------------------------------------------- */

#define N_THREADS 4
#define ROUNDS 12

typedef struct worker {
    vt_env *e;
    int index;
    char error[256]; /* empty when the worker succeeded; cmocka may not fail off-thread */
    unsigned rounds_done;
} worker;

#define W_CHECK(w, cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            snprintf((w)->error, sizeof((w)->error), __VA_ARGS__);                                 \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

#define W_OK(w, expr)                                                                              \
    W_CHECK(w, (expr) == STATUS_SUCCESS, "thread %d: %s failed", (w)->index, #expr)

/* describe into malloc'd memory, or NULL. */
static char *w_describe(const vmbsave_interface_v1 *v, vmbsave_channel *ch)
{
    uint32_t need = 0;
    if (v->describe(ch, NULL, 0, &need) != STATUS_BUFFER_TOO_SMALL || need == 0)
        return NULL;
    char *t = malloc(need);
    if (t != NULL && v->describe(ch, t, need, &need) != STATUS_SUCCESS) {
        free(t);
        t = NULL;
    }
    return t;
}

static const char *skip_fresh(const char *d)
{
    const char *p = strstr(d, "\nfresh=");
    return p != NULL ? strchr(p + 1, '\n') : d;
}

/* Saves a whole image into malloc'd memory (64 KiB buffers). */
static uint8_t *w_save(const vmbsave_interface_v1 *v, vmbsave_channel *ch, size_t *size)
{
    if (v->save_begin(ch) != STATUS_SUCCESS)
        return NULL;
    size_t cap = 0, n = 0;
    uint8_t *img = NULL;
    NTSTATUS s;
    do {
        if (cap - n < VMBSAVE_MAX_CHUNK_BYTES) {
            cap = cap * 2 + VMBSAVE_MAX_CHUNK_BYTES;
            uint8_t *ni = realloc(img, cap);
            if (ni == NULL) {
                s = STATUS_NO_MEMORY;
                break;
            }
            img = ni;
        }
        uint32_t filled = 0, req = 0;
        s = v->save_continue(ch, img + n, VMBSAVE_MAX_CHUNK_BYTES, &filled, &req);
        if (s == STATUS_SUCCESS || s == STATUS_BUFFER_OVERFLOW)
            n += filled;
    } while (s == STATUS_BUFFER_OVERFLOW);
    v->save_end(ch);
    if (s != STATUS_SUCCESS) {
        free(img);
        return NULL;
    }
    *size = n;
    return img;
}

/* Build a channel (state depending on the thread and round), save it, restore into a fresh
 * channel, and compare descriptions and a second image. All through the thread's own env. */
static void *worker_main(void *arg)
{
    worker *w = arg;
    const vmbsave_interface_v1 *v = w->e->v;
    vmbsave_fault_host *h = &w->e->host;
    for (unsigned round = 0; round < ROUNDS; round++) {
        vmbsave_channel *ch = NULL, *r = NULL;
        char *d1 = NULL, *d2 = NULL;
        uint8_t *img1 = NULL, *img2 = NULL;
        size_t n1 = 0, n2 = 0;
        uint8_t payload[512];
        uint64_t pfns[16];
        uint32_t salt = (uint32_t)w->index * 1000u + round;

        vmbsave_host_enter(h);
        W_OK(w, v->channel_allocate(v->context, &ch));
        vmbsave_offer offer;
        vt_fill_offer(&offer, salt);
        W_OK(w, v->init_set_offer(ch, &offer));
        W_OK(w, v->enable(ch));
        for (uint32_t g = 1; g <= 3; g++) {
            for (uint32_t i = 0; i < 16; i++)
                pfns[i] = salt * 64u + g * 16u + i;
            W_OK(w, v->gpadl_create(ch, g, pfns, 4u * g));
        }
        vmbsave_open_params open;
        vt_fill_open(&open, 1);
        W_OK(w, v->guest_open(ch, &open));
        W_OK(w, v->start(ch));
        for (uint32_t p = 0; p < 8u + round; p++) {
            for (size_t b = 0; b < sizeof(payload); b++)
                payload[b] = (uint8_t)(salt + p * 31u + b);
            W_OK(w, v->packet_send(ch, 1u + p * 3u, p % 3u, payload, (p * 61u) % 512u));
        }
        W_OK(w, v->ring_write(ch, VMBSAVE_RING_INCOMING, payload, 100u + round));
        W_OK(w, v->ring_write(ch, VMBSAVE_RING_OUTGOING, payload, 37u));
        W_OK(w, v->pause(ch));

        vmbsave_fault_host_clear_logs(h);
        img1 = w_save(v, ch, &n1);
        W_CHECK(w, img1 != NULL, "thread %d: save failed", w->index);
        W_OK(w, v->channel_allocate(v->context, &r));
        W_OK(w, v->restore_from_buffer(r, img1, (uint32_t)n1));
        d1 = w_describe(v, ch);
        d2 = w_describe(v, r);
        W_CHECK(w, d1 != NULL && d2 != NULL, "thread %d: describe failed", w->index);
        W_CHECK(w, strcmp(skip_fresh(d1), skip_fresh(d2)) == 0,
                "thread %d round %u: the restored channel differs from the saved one", w->index,
                round);
        img2 = w_save(v, r, &n2);
        W_CHECK(w, img2 != NULL && n2 == n1 && memcmp(img1, img2, n1) == 0,
                "thread %d round %u: the restored channel saves a different image", w->index,
                round);
        for (uint32_t i = 0; i < h->save_call_count; i++)
            W_CHECK(w, h->save_calls[i].on_calling_thread,
                    "thread %d: a save_packet callback ran off the calling thread", w->index);
        for (uint32_t i = 0; i < h->restore_call_count; i++)
            W_CHECK(w, h->restore_calls[i].on_calling_thread,
                    "thread %d: a restore_packet callback ran off the calling thread", w->index);
        W_CHECK(w, h->restore_state_mismatches == 0,
                "thread %d: restore_packet got the wrong driver state", w->index);
        w->rounds_done++;
    out:
        if (ch != NULL) {
            v->disable(ch);
            v->channel_cleanup(ch);
        }
        if (r != NULL) {
            v->disable(r);
            v->channel_cleanup(r);
        }
        vmbsave_host_leave(h);
        free(d1);
        free(d2);
        free(img1);
        free(img2);
        if (w->error[0] != '\0')
            break;
    }
    return NULL;
}

static void context_threads_distinct_channels(void **state)
{
    (void)state;
    worker w[N_THREADS];
    memset(w, 0, sizeof(w));
    /* One env (one host, whose counters are not atomic) per thread. */
    for (int i = 0; i < N_THREADS; i++) {
        w[i].e = vt_env_new();
        w[i].index = i;
    }
    if ((w[0].e->v->capabilities & VMBSAVE_CAP_CHANNELS_THREAD_SAFE) == 0) {
        for (int i = 0; i < N_THREADS; i++)
            vt_env_free(w[i].e);
        skip(); /* the clause applies only to implementations that report the capability */
    }
    pthread_t t[N_THREADS];
    for (int i = 0; i < N_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    for (int i = 0; i < N_THREADS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    for (int i = 0; i < N_THREADS; i++) {
        if (w[i].error[0] != '\0') {
            char msg[256];
            memcpy(msg, w[i].error, sizeof(msg));
            for (int k = 0; k < N_THREADS; k++)
                vt_env_free(w[k].e);
            fail_msg("%s", msg);
        }
        assert_int_equal(w[i].rounds_done, ROUNDS);
    }
    for (int i = 0; i < N_THREADS; i++)
        vt_env_free(w[i].e);
}

static const struct CMUnitTest tests[] = {
    CLAUSE_TEST("CONTEXT.IRQL.PASSIVE", context_irql_passive),
    CLAUSE_TEST("CONTEXT.THREADS.DISTINCT_CHANNELS", context_threads_distinct_channels),
};

CLAUSE_TEST_MAIN("context", tests)
