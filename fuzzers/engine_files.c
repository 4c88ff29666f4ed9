/* Writes each fuzz target's engine files: the dictionary <target>.dict (libFuzzer and AFL++
 * syntax) and the options <target>.options (the [libfuzzer] section OSS-Fuzz reads). Tokens
 * come from the program encoder (harness/program/program.h) and the image format's constants
 * (harness/image/chunks.h), never typed by hand, so they follow the op table and the format.
 * ci/make_engine_files.sh writes them to corpus/; FUZZ.ENGINE_FILES.CURRENT checks that the
 * checked-in files are what this tool writes.
 *
 * usage: vmbsave_engine_files OUT_DIR   write both files for every target built here
 *        vmbsave_engine_files --list    print those targets, one a line
 * The targets are VMBSAVE_FUZZ_TARGETS of fuzzers/CMakeLists.txt, compiled in; what each one's
 * input is comes from the layout table (fuzzers/input_layout.c). Exit status: 0 written; 1 a
 * file could not be written; 2 usage, or a target missing from the layout table. Files are
 * written whole (temp file, then rename). */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "image/chunks.h"
#include "program/program.h"
#include "run/runner.h"
#include "input_layout.h"
#include "vmbsave/abi.h"

#ifndef VMBSAVE_FUZZ_TARGET_LIST
#error "VMBSAVE_FUZZ_TARGET_LIST (the fuzz targets, space separated) comes from CMake"
#endif

/* What a target's dictionary holds. */
typedef enum token_set {
    TOKENS_STEPS,         /* every op in every mode: the input is a program */
    TOKENS_RESTORE_EDITS, /* RESTORE in every edit mode: each step becomes an edited RESTORE */
    TOKENS_IMAGE          /* the image format's constants: the input is a raw image */
} token_set;

/* Programs whose steps mean something else than the op they decode to. Any other target gets
 * TOKENS_STEPS if its layout says it reads a program, else TOKENS_IMAGE. */
static const struct {
    const char *target;
    token_set set;
} special_token_sets[] = {
    {"restore", TOKENS_RESTORE_EDITS}, /* fuzzers/restore.c */
};

typedef struct recipe {
    const char *target; /* fuzzers/<target>.c */
    token_set set;
    unsigned header_bytes; /* bytes before the program (input_layout.h) */
} recipe;

/* Seconds an input may run before libFuzzer reports it: programs take milliseconds, so this
 * flags a hang long before ClusterFuzz's default of 25 s would. */
#define OPTION_TIMEOUT_SECONDS 10u
/* ClusterFuzz's default memory limit, stated so local runs behave the same. */
#define OPTION_RSS_LIMIT_MB 2560u
/* libFuzzer's own default for -len_control, restated for the targets that link the mutator. */
#define OPTION_LEN_CONTROL 100u

/* ---- Output -------------------------------------------------------------------------------- */

/* A file being written: everything goes to `tmp`, renamed over `path` by file_close. */
typedef struct out_file {
    FILE *f;
    char path[4096], tmp[4096];
    bool bad;
} out_file;

static bool file_open(out_file *o, const char *dir, const char *target, const char *ext)
{
    memset(o, 0, sizeof *o);
    int n = snprintf(o->path, sizeof o->path, "%s/%s.%s", dir, target, ext);
    if (n < 0 || (size_t)n >= sizeof o->path ||
        snprintf(o->tmp, sizeof o->tmp, "%s.tmp", o->path) >= (int)sizeof o->tmp) {
        fprintf(stderr, "engine_files: path too long in %s\n", dir);
        return false;
    }
    o->f = fopen(o->tmp, "w");
    if (o->f == NULL) {
        fprintf(stderr, "engine_files: cannot create %s: %s\n", o->tmp, strerror(errno));
        return false;
    }
    return true;
}

static void out(out_file *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (vfprintf(o->f, fmt, ap) < 0)
        o->bad = true;
    va_end(ap);
}

static bool file_close(out_file *o)
{
    bool bad = o->bad;
    bad |= fclose(o->f) != 0;
    if (bad || rename(o->tmp, o->path) != 0) {
        fprintf(stderr, "engine_files: cannot write %s: %s\n", o->path, strerror(errno));
        remove(o->tmp);
        return false;
    }
    return true;
}

/* A dictionary entry: `name="\xNN..."`, every byte escaped (both engines read \xNN). */
static void token(out_file *o, const char *name, const uint8_t *bytes, size_t size)
{
    out(o, "%s=\"", name);
    for (size_t i = 0; i < size; i++)
        out(o, "\\x%02x", bytes[i]);
    out(o, "\"\n");
}

/* ---- Program tokens ------------------------------------------------------------------------ */

/* Modes an op has: normalisation keeps a mode below the count and maps the count itself to
 * another value (docs/PROGRAMS.md), so the count is read from the encoder, not restated. */
static unsigned mode_count(uint8_t op)
{
    for (unsigned m = 1; m <= UINT8_MAX; m++) {
        vmbsave_step s = {.op = op, .mode = (uint8_t)m};
        vmbsave_step_normalize(&s);
        if (s.mode != m)
            return m;
    }
    return UINT8_MAX + 1u;
}

/* The step a token holds for `op` in `mode`: small ids (1) so tokens refer to one another, the
 * channel a program most often means, and sizes that make each call do something. Every field
 * then goes through normalisation, so a token is always a valid, normalised step. */
static vmbsave_step token_step(uint8_t op, uint8_t mode)
{
    vmbsave_step s = {.op = op, .mode = mode, .ch = 0, .slot = 0, .a = 1, .b = 2, .c = 8};
    switch ((vmbsave_op)op) {
    case VMBSAVE_OP_OPEN:
        s.a = 1; /* the ring GPADL token gpadl_create creates */
        s.b = 2; /* pages each way */
        s.c = 2;
        break;
    case VMBSAVE_OP_RING_WRITE:
    case VMBSAVE_OP_RING_READ:
        s.a = 64; /* bytes */
        break;
    case VMBSAVE_OP_SAVE_CONTINUE:
        s.a = 64; /* bytes, in the modes that take a size */
        break;
    case VMBSAVE_OP_RESTORE:
        /* Into a fresh channel: channel 0 holds the state the image came from. Offsets are
         * reduced modulo the image's at run time; these land inside the HEADER chunk. */
        s.ch = 1;
        s.a = mode == VMBSAVE_EDIT_TRUNCATE   ? 100u
              : mode == VMBSAVE_EDIT_BIT_FLIP ? 8u * 100u
                                              : 1u; /* chunk 1, the first after HEADER */
        s.b = mode == VMBSAVE_EDIT_SWAP_CHUNKS ? 2u : 1u; /* chunk 2; image slot 1 */
        s.c = 0; /* every chunk in one call */
        break;
    case VMBSAVE_OP_FAULT_ALLOC:
        s.a = 0; /* the next allocation */
        break;
    case VMBSAVE_OP_FAULT_SAVE_PACKET:
        s.a = 0; /* every packet */
        break;
    default:
        break;
    }
    vmbsave_step_normalize(&s);
    return s;
}

/* Writes `s` as the token named s<index>_<op>, after a comment with its text form. */
static void step_token(out_file *o, unsigned index, const vmbsave_step *s)
{
    vmbsave_program one = {.count = 1};
    one.steps[0] = *s;
    uint8_t bytes[VMBSAVE_STEP_BYTES];
    char text[256];
    char name[64];
    size_t size = vmbsave_program_encode(&one, bytes, sizeof bytes);
    if (size != VMBSAVE_STEP_BYTES || vmbsave_step_print(s, text, sizeof text) == 0) {
        o->bad = true;
        return;
    }
    snprintf(name, sizeof name, "s%03u_%s", index, vmbsave_op_name((vmbsave_op)s->op));
    out(o, "# %s\n", text);
    token(o, name, bytes, size);
}

/* Every op in every mode; for RESTORE-only inputs, every edit mode of RESTORE. */
static void program_tokens(out_file *o, token_set set)
{
    unsigned index = 0;
    for (unsigned op = 0; op < VMBSAVE_OP_COUNT; op++) {
        if (set == TOKENS_RESTORE_EDITS && op != VMBSAVE_OP_RESTORE)
            continue;
        unsigned modes = mode_count((uint8_t)op);
        for (unsigned m = 0; m < modes; m++) {
            vmbsave_step s = token_step((uint8_t)op, (uint8_t)m);
            step_token(o, index++, &s);
        }
    }
    if (set == TOKENS_RESTORE_EDITS)
        return;
    /* Steps a round trip needs besides the above: channel 1 cleaned up, then captured into a
     * second image slot, so a restore and a re-capture compose from tokens. */
    const vmbsave_step extra[] = {
        {.op = VMBSAVE_OP_CLEANUP, .ch = 1},
        {.op = VMBSAVE_OP_CAPTURE, .ch = 1, .slot = 1},
    };
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) {
        vmbsave_step s = extra[i];
        vmbsave_step_normalize(&s);
        step_token(o, index++, &s);
    }
}

/* ---- Image tokens -------------------------------------------------------------------------- */

/* The first 12 bytes of a chunk header: magic, major, minor, type, flags. */
static void chunk_prefix_token(out_file *o, const char *name, uint16_t major, uint16_t minor,
                               uint16_t type, uint16_t flags)
{
    uint8_t b[12];
    vmbsave_put_u32(b, VMBSAVE_CHUNK_MAGIC);
    vmbsave_put_u16(b + 4, major);
    vmbsave_put_u16(b + 6, minor);
    vmbsave_put_u16(b + 8, type);
    vmbsave_put_u16(b + 10, flags);
    token(o, name, b, sizeof b);
}

static void u16_token(out_file *o, const char *name, uint16_t v)
{
    uint8_t b[2];
    vmbsave_put_u16(b, v);
    token(o, name, b, sizeof b);
}

static void u32_token(out_file *o, const char *name, uint32_t v)
{
    uint8_t b[4];
    vmbsave_put_u32(b, v);
    token(o, name, b, sizeof b);
}

/* docs/FORMAT.md: the magic, versions, chunk types and flags, and the sizes and limits a
 * reader checks, as the little-endian integers an image holds. */
static void image_tokens(out_file *o)
{
    static const struct {
        const char *name;
        uint16_t type;
    } types[] = {
        {"header", VMBSAVE_CHUNK_HEADER}, {"gpadls", VMBSAVE_CHUNK_GPADLS},
        {"packets", VMBSAVE_CHUNK_PACKETS}, {"ring", VMBSAVE_CHUNK_RING},
        {"end", VMBSAVE_CHUNK_END},
    };
    char name[64];
    out(o, "# Chunk header starts: magic, major, minor, type, flags\n");
    u32_token(o, "magic", VMBSAVE_CHUNK_MAGIC);
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        snprintf(name, sizeof name, "chunk_%s", types[i].name);
        chunk_prefix_token(o, name, VMBSAVE_CHUNK_MAJOR, VMBSAVE_CHUNK_MINOR, types[i].type, 0);
        snprintf(name, sizeof name, "type_%s", types[i].name);
        u16_token(o, name, types[i].type);
    }
    /* A newer minor's optional chunk (skipped), the same without the flag (refused), and a
     * major this reader must refuse. */
    chunk_prefix_token(o, "chunk_optional_unknown", VMBSAVE_CHUNK_MAJOR, VMBSAVE_CHUNK_MINOR + 1u,
                       VMBSAVE_CHUNK_RING + 1u, VMBSAVE_CHUNK_FLAG_OPTIONAL);
    chunk_prefix_token(o, "chunk_unknown", VMBSAVE_CHUNK_MAJOR, VMBSAVE_CHUNK_MINOR,
                       VMBSAVE_CHUNK_RING + 1u, 0);
    chunk_prefix_token(o, "chunk_next_major", VMBSAVE_CHUNK_MAJOR + 1u, 0, VMBSAVE_CHUNK_HEADER, 0);
    u16_token(o, "flag_optional", VMBSAVE_CHUNK_FLAG_OPTIONAL);
    out(o, "# Sizes and limits a reader checks\n");
    u32_token(o, "header_payload", VMBSAVE_HEADER_PAYLOAD_BYTES);
    u32_token(o, "end_payload", VMBSAVE_END_PAYLOAD_BYTES);
    u32_token(o, "max_chunk_payload", VMBSAVE_CHUNK_MAX_PAYLOAD);
    u32_token(o, "over_chunk_payload", VMBSAVE_CHUNK_MAX_PAYLOAD + 1u);
    u32_token(o, "max_gpadl_pfns", VMBSAVE_MAX_GPADL_PFNS);
    u32_token(o, "max_packet_payload", VMBSAVE_MAX_PACKET_PAYLOAD);
    u32_token(o, "max_driver_state", VMBSAVE_MAX_DRIVER_PACKET_STATE);
    u32_token(o, "max_ring_bytes", VMBSAVE_MAX_RING_BYTES);
    u32_token(o, "max_gpadls", VMBSAVE_MAX_GPADLS);
    u32_token(o, "max_packets", VMBSAVE_MAX_PACKETS);
}

/* ---- Files --------------------------------------------------------------------------------- */

static unsigned max_len(const recipe *r)
{
    /* The whole input a target accepts, so no seed is cut: a program decoded up to its step
     * limit after the target's header bytes; an image preloaded whole up to the runner's
     * limit, after at most VMBSAVE_FUZZ_MAX_HEADER_BYTES of the target's own (its layout
     * entry does not count them: they are not before a program). */
    if (r->set == TOKENS_IMAGE)
        return VMBSAVE_FUZZ_MAX_HEADER_BYTES + VMBSAVE_RUN_MAX_IMAGE_BYTES;
    return r->header_bytes + VMBSAVE_PROGRAM_MAX_BYTES;
}

static const char *const generated_note =
    "# Generated by vmbsave_engine_files (fuzzers/engine_files.c); do not edit: run\n"
    "# ci/make_engine_files.sh. FUZZ.ENGINE_FILES.CURRENT checks this file is current.\n";

static bool write_dict(const char *dir, const recipe *r)
{
    out_file o;
    if (!file_open(&o, dir, r->target, "dict"))
        return false;
    out(&o, "# Dictionary of fuzz_%s (libFuzzer -dict=, AFL++ -x; OSS-Fuzz uses it as is).\n",
        r->target);
    out(&o, "%s", generated_note);
    if (r->set == TOKENS_IMAGE) {
        out(&o, "# Input: a raw image (docs/FORMAT.md); tokens are the format's constants.\n");
        image_tokens(&o);
    } else {
        out(&o, "# Input: %u header byte(s) (corpus/README.md), then steps of %u bytes"
                " (docs/PROGRAMS.md).\n# One token per whole step, its text form above it.\n",
            r->header_bytes, VMBSAVE_STEP_BYTES);
        program_tokens(&o, r->set);
    }
    return file_close(&o);
}

static bool write_options(const char *dir, const recipe *r)
{
    out_file o;
    if (!file_open(&o, dir, r->target, "options"))
        return false;
    out(&o, "# Options of fuzz_%s: OSS-Fuzz and ClusterFuzzLite read the [libfuzzer] section,\n",
        r->target);
    out(&o, "# ci/fuzz.sh passes each key with its value as a flag. No comment holds an equals\n"
            "# sign: OSS-Fuzz's older runners read every line that has one as an option.\n");
    out(&o, "%s", generated_note);
    out(&o, "[libfuzzer]\n");
    if (r->set == TOKENS_IMAGE)
        out(&o, "# Input: a few header bytes (corpus/README.md) + an image up to the runner's"
                " limit.\n");
    else
        out(&o, "# Input: %u header byte(s) + %u program bytes (%u steps of %u); more is"
                " ignored.\n",
            r->header_bytes, VMBSAVE_PROGRAM_MAX_BYTES, VMBSAVE_PROGRAM_MAX_STEPS,
            VMBSAVE_STEP_BYTES);
    out(&o, "max_len = %u\n", max_len(r));
    out(&o, "# Seconds before an input counts as a hang (a program runs in milliseconds).\n");
    out(&o, "timeout = %u\n", OPTION_TIMEOUT_SECONDS);
    out(&o, "# ClusterFuzz's memory limit, so local runs stop where it would.\n");
    out(&o, "rss_limit_mb = %u\n", OPTION_RSS_LIMIT_MB);
    out(&o, "# A leak is a finding (resources the contract says are freed): LeakSanitizer on.\n");
    out(&o, "detect_leaks = 1\n");
    if (r->set != TOKENS_IMAGE) {
        /* libFuzzer turns length control off when a custom mutator is linked; programs then
         * grow at once, and executions ran 1.3-3.4 times slower (README, Fuzzing figures). */
        out(&o, "# Grow inputs gradually: libFuzzer's default, which it drops once the mutator"
                " is linked.\n");
        out(&o, "len_control = %u\n", OPTION_LEN_CONTROL);
    }
    if (r->set == TOKENS_IMAGE) {
        out(&o, "# Magic, versions and checksums are compared whole: let the values guide.\n");
        out(&o, "use_value_profile = 1\n");
    }
    return file_close(&o);
}

/* The recipe of `target` from its layout; false if the layout table lacks it. */
static bool find_recipe(const char *target, recipe *r)
{
    const vmbsave_fuzz_layout *layout = vmbsave_fuzz_layout_find(target);
    if (layout == NULL)
        return false;
    r->target = layout->target;
    r->header_bytes = layout->header_bytes;
    r->set = layout->is_program ? TOKENS_STEPS : TOKENS_IMAGE;
    for (size_t i = 0; i < sizeof special_token_sets / sizeof special_token_sets[0]; i++)
        if (strcmp(special_token_sets[i].target, target) == 0)
            r->set = special_token_sets[i].set;
    return true;
}

/* Calls `each` for every compiled-in target; stops at the first that fails. A target missing
 * from the layout table fails with status 2. */
static int for_each_target(int (*each)(const recipe *, const char *), const char *arg)
{
    static const char list[] = VMBSAVE_FUZZ_TARGET_LIST;
    const char *p = list;
    while (*p != '\0') {
        while (*p == ' ' || *p == ';')
            p++;
        size_t len = strcspn(p, " ;");
        if (len == 0)
            break;
        char target[64];
        if (len >= sizeof target) {
            fprintf(stderr, "engine_files: target name too long: %.*s\n", (int)len, p);
            return 2;
        }
        memcpy(target, p, len);
        target[len] = '\0';
        recipe r;
        if (!find_recipe(target, &r)) {
            fprintf(stderr, "engine_files: fuzz target '%s' is not in the layout table: add"
                            " its input's line to fuzzers/input_layout.c\n", target);
            return 2;
        }
        int rc = each(&r, arg);
        if (rc != 0)
            return rc;
        p += len;
    }
    return 0;
}

static int print_target(const recipe *r, const char *unused)
{
    (void)unused;
    return printf("%s\n", r->target) < 0 ? 1 : 0;
}

static int write_target(const recipe *r, const char *dir)
{
    return write_dict(dir, r) && write_options(dir, r) ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '\0') {
        fprintf(stderr, "usage: %s OUT_DIR | --list\n", argv[0]);
        return 2;
    }
    if (strcmp(argv[1], "--list") == 0)
        return for_each_target(print_target, NULL);
    return for_each_target(write_target, argv[1]);
}
