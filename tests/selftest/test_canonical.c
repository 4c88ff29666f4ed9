/* HARNESS.CANONICAL.INFO: what harness/program/canonical.h says about each canonical state
 * (vmbsave_canonical_info: GPADL and packet ids, the ring GPADL, the TEARING_DOWN GPADL, the
 * image's chunk count) is what the state is. The conformance tests take their ids from that
 * info instead of hard-coding them, so a wrong entry would make them test something else.
 * Checked on the reference's description (docs/SPEC.md section 14) and saved image, unsalted
 * and salted (a salt changes bulk bytes only). */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/clause_test.h"
#include "support/fixture.h"

/* The value of line `key=` of description `d` as a number; fails the test if it is missing. */
static uint64_t desc_num(const char *d, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\n%s=", key);
    const char *p = strstr(d, pat);
    if (p == NULL)
        fail_msg("the description has no %s line", key);
    return strtoull(p + strlen(pat), NULL, 10);
}

/* The text after `field=` ("id", "state"...) in line `list[i]=` of description `d`; fails the
 * test if there is none. */
static const char *list_field(const char *d, const char *list, uint32_t i, const char *field)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\n%s[%" PRIu32 "]=", list, i);
    const char *line = strstr(d, pat);
    if (line == NULL)
        fail_msg("the description has no %s[%" PRIu32 "] line", list, i);
    line += strlen(pat) - 1; /* at the '=': every field follows '=' or ' ' */
    size_t len = strcspn(line, "\n");
    size_t flen = strlen(field);
    for (size_t k = 0; k + flen + 1 < len; k++)
        if ((line[k] == '=' || line[k] == ' ') && strncmp(line + k + 1, field, flen) == 0 &&
            line[k + 1 + flen] == '=')
            return line + k + flen + 2;
    fail_msg("%s[%" PRIu32 "] has no %s field", list, i, field);
    return NULL;
}

static void check_state(vt_env *e, vmbsave_canonical_id id, uint32_t salt)
{
    const vmbsave_canonical_info *info = vmbsave_canonical_info_of(id);
    assert_non_null(info);
    const char *name = info->name;
    vmbsave_channel *ch = vt_make_canonical(e, id, salt);
    char *d = vt_describe(e, ch);

    assert_true(info->gpadl_count <= VMBSAVE_CANONICAL_MAX_GPADLS);
    assert_true(info->packet_count <= VMBSAVE_CANONICAL_MAX_PACKETS);
    if (desc_num(d, "open.ring_gpadl_id") != info->ring_gpadl)
        fail_msg("%s (salt %u): ring GPADL %" PRIu64 ", the info says %u", name, salt,
                 desc_num(d, "open.ring_gpadl_id"), info->ring_gpadl);

    if (desc_num(d, "gpadl.count") != info->gpadl_count)
        fail_msg("%s (salt %u): %" PRIu64 " GPADLs, the info says %u", name, salt,
                 desc_num(d, "gpadl.count"), info->gpadl_count);
    bool tearing_seen = false;
    for (uint32_t i = 0; i < info->gpadl_count; i++) {
        uint32_t gid = (uint32_t)strtoul(list_field(d, "gpadl", i, "id"), NULL, 10);
        if (gid != info->gpadl_ids[i])
            fail_msg("%s (salt %u): GPADL %u is id %u, the info says %u", name, salt, i, gid,
                     info->gpadl_ids[i]);
        bool tearing = strncmp(list_field(d, "gpadl", i, "state"), "TEARING_DOWN", 12) == 0;
        if (tearing != (gid == info->tearing_down_gpadl))
            fail_msg("%s (salt %u): GPADL %u is %s, the info's TEARING_DOWN GPADL is %u", name,
                     salt, gid, tearing ? "TEARING_DOWN" : "CREATED", info->tearing_down_gpadl);
        tearing_seen |= tearing;
    }
    if (info->tearing_down_gpadl != 0 && !tearing_seen)
        fail_msg("%s (salt %u): no GPADL %u", name, salt, info->tearing_down_gpadl);
    if (info->tearing_down_gpadl != 0 && info->tearing_down_gpadl == info->ring_gpadl)
        fail_msg("%s: the TEARING_DOWN GPADL is the ring GPADL", name);

    if (desc_num(d, "packet.count") != info->packet_count)
        fail_msg("%s (salt %u): %" PRIu64 " packets, the info says %u", name, salt,
                 desc_num(d, "packet.count"), info->packet_count);
    for (uint32_t i = 0; i < info->packet_count; i++) {
        uint32_t pid = (uint32_t)strtoul(list_field(d, "packet", i, "id"), NULL, 10);
        if (pid != info->packet_ids[i])
            fail_msg("%s (salt %u): packet %u is id %u, the info says %u", name, salt, i, pid,
                     info->packet_ids[i]);
        uint32_t g = (uint32_t)strtoul(list_field(d, "packet", i, "gpadl"), NULL, 10);
        if (info->tearing_down_gpadl != 0 && g == info->tearing_down_gpadl)
            fail_msg("%s: packet %u references the TEARING_DOWN GPADL %u", name, pid, g);
    }

    vt_image img;
    vt_save(e, ch, VMBSAVE_MAX_CHUNK_BYTES, &img);
    long chunks = vt_chunks(img.bytes, img.size, NULL, 0);
    if (chunks != (long)info->image_chunks)
        fail_msg("%s (salt %u): an image of %ld chunks, the info says %u", name, salt, chunks,
                 info->image_chunks);
    vt_image_free(&img);
    free(d);
    vt_destroy_channel(e, ch);
}

static void harness_canonical_info(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    for (int w = 0; w < VMBSAVE_CANONICAL_COUNT; w++)
        for (uint32_t salt = 0; salt < 3; salt++)
            check_state(e, (vmbsave_canonical_id)w, salt);
    /* The check can fail: an out-of-range id has no info. */
    assert_null(vmbsave_canonical_info_of(VMBSAVE_CANONICAL_COUNT));
    vt_env_free(e);
}

static const struct CMUnitTest tests[] = {
    CLAUSE_TEST("HARNESS.CANONICAL.INFO", harness_canonical_info),
};

CLAUSE_TEST_MAIN("canonical", tests)
