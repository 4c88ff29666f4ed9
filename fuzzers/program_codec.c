/* libFuzzer target for the program codec (harness/program/program.h): any byte string decodes to a
 * normalised program that survives encode/decode and print/parse unchanged; any text, parsed,
 * either fails cleanly or round-trips the same way. Run by HARNESS.PROGRAM.DECODE_FUZZ
 * (tests/selftest/fuzz_program_codec.sh). Checks abort with a message whatever NDEBUG says. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "program/program.h"

#define FUZZ_ASSERT(cond)                                                                  \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: FUZZ_ASSERT failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Static: a program is 4 KiB and a text up to 40 KiB; nothing here allocates. */
static vmbsave_program program, again;
static uint8_t bytes[VMBSAVE_PROGRAM_MAX_BYTES];
static char text[VMBSAVE_PROGRAM_TEXT_MAX_BYTES], text_again[VMBSAVE_PROGRAM_TEXT_MAX_BYTES];
static char input_text[VMBSAVE_PROGRAM_MAX_BYTES + 1];
static char err[256];

/* print -> parse gives `p` back, and printing that gives the same text. */
static void check_text_round_trip(const vmbsave_program *p)
{
    size_t len = vmbsave_program_print(p, text, sizeof(text));
    FUZZ_ASSERT(len > 0 && len < sizeof(text) && text[len] == '\0');
    int rc = vmbsave_program_parse(text, &again, err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "parse of printed text failed: %s\n", err);
    FUZZ_ASSERT(rc == 0);
    FUZZ_ASSERT(vmbsave_program_equal(p, &again));
    size_t len_again = vmbsave_program_print(&again, text_again, sizeof(text_again));
    FUZZ_ASSERT(len_again == len && memcmp(text, text_again, len + 1) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vmbsave_program_decode(data, size, &program);
    size_t steps = (size + VMBSAVE_STEP_BYTES - 1) / VMBSAVE_STEP_BYTES;
    FUZZ_ASSERT(program.count == (steps < VMBSAVE_PROGRAM_MAX_STEPS ? steps
                                                                    : VMBSAVE_PROGRAM_MAX_STEPS));
    for (uint32_t i = 0; i < program.count; i++) {
        vmbsave_step s = program.steps[i];
        vmbsave_step_normalize(&s);
        FUZZ_ASSERT(memcmp(&s, &program.steps[i], sizeof(s)) == 0);
    }

    size_t n = vmbsave_program_encode(&program, bytes, sizeof(bytes));
    FUZZ_ASSERT(n == (size_t)program.count * VMBSAVE_STEP_BYTES);
    vmbsave_program_decode(bytes, n, &again);
    FUZZ_ASSERT(vmbsave_program_equal(&program, &again));

    check_text_round_trip(&program);

    /* The same bytes as text: the parser must refuse or accept them without reading past the
     * NUL, and whatever it accepts is normalised and round-trips. */
    size_t tlen = size < sizeof(input_text) - 1 ? size : sizeof(input_text) - 1;
    memcpy(input_text, data, tlen);
    input_text[tlen] = '\0';
    if (vmbsave_program_parse(input_text, &program, err, sizeof(err)) == 0)
        check_text_round_trip(&program);
    else
        FUZZ_ASSERT(strncmp(err, "line ", 5) == 0);
    return 0;
}
