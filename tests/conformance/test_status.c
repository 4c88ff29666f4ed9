/* Clauses STATUS.*: status values and the NT_SUCCESS trap. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "support/clause_test.h"
#include "support/fixture.h"

/* The Windows values, written out here rather than taken from ntstatus.h, so that a wrong
 * macro or a wrong value from the implementation is caught. */
static const struct {
    NTSTATUS macro;
    uint32_t windows;
    const char *name;
} k_values[] = {
    {STATUS_SUCCESS, 0x00000000u, "STATUS_SUCCESS"},
    {STATUS_BUFFER_OVERFLOW, 0x80000005u, "STATUS_BUFFER_OVERFLOW"},
    {STATUS_UNSUCCESSFUL, 0xC0000001u, "STATUS_UNSUCCESSFUL"},
    {STATUS_INVALID_PARAMETER, 0xC000000Du, "STATUS_INVALID_PARAMETER"},
    {STATUS_MORE_PROCESSING_REQUIRED, 0xC0000016u, "STATUS_MORE_PROCESSING_REQUIRED"},
    {STATUS_NO_MEMORY, 0xC0000017u, "STATUS_NO_MEMORY"},
    {STATUS_BUFFER_TOO_SMALL, 0xC0000023u, "STATUS_BUFFER_TOO_SMALL"},
    {STATUS_DATA_ERROR, 0xC000003Eu, "STATUS_DATA_ERROR"},
    {STATUS_UNKNOWN_REVISION, 0xC0000058u, "STATUS_UNKNOWN_REVISION"},
    {STATUS_REVISION_MISMATCH, 0xC0000059u, "STATUS_REVISION_MISMATCH"},
    {STATUS_INSUFFICIENT_RESOURCES, 0xC000009Au, "STATUS_INSUFFICIENT_RESOURCES"},
    {STATUS_NOT_SUPPORTED, 0xC00000BBu, "STATUS_NOT_SUPPORTED"},
    {STATUS_INTERNAL_ERROR, 0xC00000E5u, "STATUS_INTERNAL_ERROR"},
    {STATUS_INVALID_PARAMETER_1, 0xC00000EFu, "STATUS_INVALID_PARAMETER_1"},
    {STATUS_INVALID_PARAMETER_2, 0xC00000F0u, "STATUS_INVALID_PARAMETER_2"},
    {STATUS_INVALID_PARAMETER_3, 0xC00000F1u, "STATUS_INVALID_PARAMETER_3"},
    {STATUS_INVALID_PARAMETER_4, 0xC00000F2u, "STATUS_INVALID_PARAMETER_4"},
    {STATUS_FILE_CORRUPT_ERROR, 0xC0000102u, "STATUS_FILE_CORRUPT_ERROR"},
    {STATUS_INVALID_DEVICE_STATE, 0xC0000184u, "STATUS_INVALID_DEVICE_STATE"},
    {STATUS_INVALID_BUFFER_SIZE, 0xC0000206u, "STATUS_INVALID_BUFFER_SIZE"},
    {STATUS_NOT_FOUND, 0xC0000225u, "STATUS_NOT_FOUND"},
    {STATUS_DUPLICATE_OBJECTID, 0xC000022Au, "STATUS_DUPLICATE_OBJECTID"},
    {STATUS_REQUEST_OUT_OF_SEQUENCE, 0xC000042Au, "STATUS_REQUEST_OUT_OF_SEQUENCE"},
    {STATUS_IMPLEMENTATION_LIMIT, 0xC000042Bu, "STATUS_IMPLEMENTATION_LIMIT"},
};

static void expect_raw(NTSTATUS got, uint32_t windows, const char *what)
{
    if ((uint32_t)got != windows)
        fail_msg("%s returned 0x%08x, expected the Windows value 0x%08x", what,
                 (unsigned)(uint32_t)got, (unsigned)windows);
}

/* The header's values are the Windows ones, and the values the implementation actually
 * returns are too (compared with literal numbers, not with the shared macros). */
static void status_values(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(k_values) / sizeof(k_values[0]); i++) {
        if ((uint32_t)k_values[i].macro != k_values[i].windows)
            fail_msg("%s is 0x%08x, Windows has 0x%08x", k_values[i].name,
                     (unsigned)(uint32_t)k_values[i].macro, (unsigned)k_values[i].windows);
        const char *n = vmbsave_status_name(k_values[i].macro);
        assert_non_null(n);
        assert_string_equal(n, k_values[i].name);
    }

    vt_env *e = vt_env_new();
    uint32_t filled, req;

    /* INVALID_PARAMETER: a NULL channel. */
    expect_raw(e->v->enable(NULL), 0xC000000Du, "enable(NULL)");
    /* INVALID_DEVICE_STATE: enable without an offer. */
    vmbsave_channel *ch = NULL;
    expect_raw(e->v->channel_allocate(e->v->context, &ch), 0x00000000u, "channel_allocate");
    expect_raw(e->v->enable(ch), 0xC0000184u, "enable without an offer");
    /* FILE_CORRUPT_ERROR: a chunk without the magic. */
    uint8_t junk[64];
    memset(junk, 0x11, sizeof(junk));
    expect_raw(e->v->restore_from_buffer(ch, junk, sizeof(junk)), 0xC0000102u,
               "restore_from_buffer(no magic)");
    /* INVALID_BUFFER_SIZE: fewer than 40 bytes. */
    expect_raw(e->v->restore_from_buffer(ch, junk, 8), 0xC0000206u, "restore_from_buffer(8 bytes)");
    expect_raw(e->v->channel_cleanup(ch), 0x00000000u, "channel_cleanup");

    /* BUFFER_TOO_SMALL, BUFFER_OVERFLOW, SUCCESS, MORE_PROCESSING_REQUIRED from a real save and
     * restore; IMPLEMENTATION_LIMIT and NOT_FOUND from lifecycle refusals. */
    ch = vt_make_canonical(e, VMBSAVE_CANONICAL_LARGE_RING, 1);
    expect_raw(e->v->save_begin(ch), 0x00000000u, "save_begin");
    expect_raw(e->v->save_continue(ch, NULL, 0, &filled, &req), 0xC0000023u,
               "save_continue size query");
    uint8_t *buf = malloc(VMBSAVE_MAX_CHUNK_BYTES);
    assert_non_null(buf);
    expect_raw(e->v->save_continue(ch, buf, VMBSAVE_MAX_CHUNK_BYTES, &filled, &req), 0x80000005u,
               "save_continue of a multi-chunk image");
    e->v->save_end(ch);
    free(buf);
    expect_raw(e->v->gpadl_teardown_begin(ch, 999), 0xC0000225u, "gpadl_teardown_begin(unknown)");
    uint64_t *pfns = calloc(VMBSAVE_MAX_GPADL_PFNS + 1u, sizeof(uint64_t));
    assert_non_null(pfns);
    for (uint32_t i = 0; i <= VMBSAVE_MAX_GPADL_PFNS; i++)
        pfns[i] = i + 1u;
    expect_raw(e->v->gpadl_create(ch, 998, pfns, VMBSAVE_MAX_GPADL_PFNS + 1u), 0xC000042Bu,
               "gpadl_create over the pfn limit");
    free(pfns);

    vt_image img;
    vt_save(e, ch, VMBSAVE_MAX_CHUNK_BYTES, &img);
    vmbsave_channel *r = NULL;
    expect_raw(e->v->channel_allocate(e->v->context, &r), 0x00000000u, "channel_allocate");
    vt_chunk c0;
    assert_true(vt_chunks(img.bytes, img.size, &c0, 1) > 2);
    expect_raw(e->v->restore_from_buffer(r, img.bytes, (uint32_t)c0.size), 0xC0000016u,
               "restore_from_buffer(HEADER only)");
    expect_raw(e->v->restore_from_buffer(r, img.bytes + c0.size, (uint32_t)(img.size - c0.size)),
               0x00000000u, "restore_from_buffer(rest)");
    vt_destroy_channel(e, r);
    vt_destroy_channel(e, ch);
    vt_image_free(&img);
    vt_env_free(e);
}

/* NT_SUCCESS is the sign test, so the two "progress" statuses fail it; the implementation
 * really returns them for progress, so a caller must test them first. */
static void status_nt_success_trap(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(k_values) / sizeof(k_values[0]); i++) {
        bool expect = (int32_t)k_values[i].windows >= 0;
        if ((bool)NT_SUCCESS(k_values[i].macro) != expect)
            fail_msg("NT_SUCCESS(%s) is %d, expected %d", k_values[i].name,
                     (int)NT_SUCCESS(k_values[i].macro), (int)expect);
    }
    assert_false(NT_SUCCESS(STATUS_BUFFER_OVERFLOW));
    assert_false(NT_SUCCESS(STATUS_MORE_PROCESSING_REQUIRED));
    assert_true(NT_SUCCESS(STATUS_SUCCESS));

    vt_env *e = vt_env_new();
    vmbsave_channel *ch = vt_make_canonical(e, VMBSAVE_CANONICAL_LARGE_RING, 2);

    /* A save step that made progress: BUFFER_OVERFLOW with bytes written, NT_SUCCESS false. */
    uint8_t *buf = malloc(VMBSAVE_MAX_CHUNK_BYTES);
    assert_non_null(buf);
    uint32_t filled = 0, req = 0;
    assert_int_equal(e->v->save_begin(ch), STATUS_SUCCESS);
    NTSTATUS s = e->v->save_continue(ch, buf, VMBSAVE_MAX_CHUNK_BYTES, &filled, &req);
    assert_int_equal(s, STATUS_BUFFER_OVERFLOW);
    assert_true(filled > 0);
    assert_false(NT_SUCCESS(s));
    e->v->save_end(ch);
    free(buf);

    /* A restore step that made progress: MORE_PROCESSING_REQUIRED, NT_SUCCESS false, and the
     * restore goes on to SUCCESS when the caller treats it as progress. */
    vt_image img;
    vt_save(e, ch, VMBSAVE_MAX_CHUNK_BYTES, &img);
    long n = vt_chunks(img.bytes, img.size, NULL, 0);
    assert_true(n > 2);
    vmbsave_channel *r = NULL;
    assert_int_equal(e->v->channel_allocate(e->v->context, &r), STATUS_SUCCESS);
    vt_chunk *chunks = calloc((size_t)n, sizeof(*chunks));
    assert_non_null(chunks);
    vt_chunks(img.bytes, img.size, chunks, (size_t)n);
    long more = 0;
    for (long i = 0; i < n; i++) {
        s = e->v->restore_from_buffer(r, img.bytes + chunks[i].offset, (uint32_t)chunks[i].size);
        if (s == STATUS_MORE_PROCESSING_REQUIRED) {
            assert_false(NT_SUCCESS(s));
            more++;
            continue;
        }
        break;
    }
    free(chunks);
    assert_int_equal(more, n - 1);
    assert_int_equal(s, STATUS_SUCCESS);
    char *a = vt_describe(e, ch), *b = vt_describe(e, r);
    vt_assert_same_state(a, b);
    free(a);
    free(b);
    vt_destroy_channel(e, r);
    vt_destroy_channel(e, ch);
    vt_image_free(&img);
    vt_env_free(e);
}

static const struct CMUnitTest tests[] = {
    CLAUSE_TEST("STATUS.VALUES", status_values),
    CLAUSE_TEST("STATUS.NT_SUCCESS.TRAP", status_nt_success_trap),
};

CLAUSE_TEST_MAIN("status", tests)
