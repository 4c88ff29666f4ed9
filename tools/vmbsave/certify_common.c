/* Names, seeds, matching, counting and hashing for certify (certify.h). */
#define _POSIX_C_SOURCE 200809L /* strnlen, O_CLOEXEC */

#include "certify.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

static const char *const verdict_names[CV_COUNT] = {
    [CV_PASS] = "PASS",
    [CV_FAIL] = "FAIL",
    [CV_CRASH] = "CRASH",
    [CV_TIMEOUT] = "TIMEOUT",
    [CV_MEMORY_LIMIT] = "MEMORY_LIMIT",
    [CV_NOT_SUPPORTED] = "NOT_SUPPORTED",
    [CV_WARN] = "WARN",
    [CV_INFO] = "INFO",
    [CV_HARNESS_ERROR] = "HARNESS_ERROR",
};

const char *certify_verdict_name(certify_verdict v)
{
    return (unsigned)v < CV_COUNT ? verdict_names[v] : "?";
}

bool certify_verdict_from_name(const char *name, certify_verdict *out)
{
    for (unsigned v = 0; v < CV_COUNT; v++) {
        if (name != NULL && strcmp(name, verdict_names[v]) == 0) {
            *out = (certify_verdict)v;
            return true;
        }
    }
    return false;
}

const char *certify_level_name(certify_level l)
{
    switch (l) {
    case LEVEL_MUST: return "MUST";
    case LEVEL_SHOULD: return "SHOULD";
    case LEVEL_MAY: return "MAY";
    }
    return "?";
}

const char *certify_stage_name(certify_stage s)
{
    switch (s) {
    case STAGE_CONFORMANCE: return "conformance";
    case STAGE_SEEDS: return "seeds";
    case STAGE_INTEROP: return "interop";
    case STAGE_SEARCH: return "search";
    case STAGE_COUNT: break;
    }
    return "?";
}

/* SHA-256 of bytes, into out[32]. */
static int sha256(const void *bytes, size_t size, unsigned char out[32])
{
    unsigned int len = 0;
    return EVP_Digest(bytes, size, out, &len, EVP_sha256(), NULL) == 1 && len == 32 ? 0 : -1;
}

uint64_t certify_case_seed(uint64_t master_seed, const char *case_id)
{
    unsigned char buf[8 + CERTIFY_MAX_ID];
    size_t n = strnlen(case_id, CERTIFY_MAX_ID);
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)(master_seed >> (8 * i));
    memcpy(buf + 8, case_id, n);
    unsigned char digest[32];
    if (sha256(buf, 8 + n, digest) != 0)
        return master_seed;
    uint64_t seed = 0;
    for (int i = 0; i < 8; i++)
        seed |= (uint64_t)digest[i] << (8 * i);
    return seed;
}

bool certify_case_matches(const char *case_id, const char *pattern)
{
    size_t n = strlen(pattern);
    if (n == 0)
        return false;
    if (strncmp(case_id, pattern, n) != 0)
        return false;
    /* A whole segment: the ID ends there, or the next character starts a new segment (or a
     * "#2" repeat of the same clause). */
    return case_id[n] == '\0' || case_id[n] == '.' || case_id[n] == '#' || pattern[n - 1] == '.';
}

bool certify_verdict_blocks(certify_verdict v)
{
    switch (v) {
    case CV_FAIL:
    case CV_CRASH:
    case CV_TIMEOUT:
    case CV_MEMORY_LIMIT:
    case CV_HARNESS_ERROR: return true;
    case CV_PASS:
    case CV_NOT_SUPPORTED:
    case CV_WARN:
    case CV_INFO:
    case CV_COUNT: break;
    }
    return false;
}

void certify_count(const certify_run *run, size_t counts[CV_COUNT])
{
    memset(counts, 0, sizeof(size_t) * CV_COUNT);
    for (size_t i = 0; i < run->case_count; i++) {
        if (run->cases[i].ran && (unsigned)run->cases[i].verdict < CV_COUNT)
            counts[run->cases[i].verdict]++;
    }
}

int certify_overall(const certify_run *run)
{
    size_t ran = 0;
    bool failed = false, incomplete = false;
    for (size_t i = 0; i < run->case_count; i++) {
        const certify_case *c = &run->cases[i];
        if (!c->ran) {
            incomplete = true;
            continue;
        }
        ran++;
        if (c->verdict == CV_HARNESS_ERROR)
            incomplete = true;
        else if (certify_verdict_blocks(c->verdict))
            failed = true;
    }
    if (failed)
        return CERTIFY_EXIT_NOT_CONFORMANT;
    if (ran == 0 || incomplete)
        return CERTIFY_EXIT_INCOMPLETE;
    return CERTIFY_EXIT_CERTIFIED;
}

int certify_sha256_file(const char *path, char hex[65], char *err, size_t err_size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        snprintf(err, err_size, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        snprintf(err, err_size, "SHA-256 unavailable");
        EVP_MD_CTX_free(ctx);
        close(fd);
        return -1;
    }
    unsigned char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, err_size, "%s: cannot read: %s", path, strerror(errno));
            EVP_MD_CTX_free(ctx);
            close(fd);
            return -1;
        }
        if (n == 0)
            break;
        EVP_DigestUpdate(ctx, buf, (size_t)n);
    }
    close(fd);
    unsigned char digest[32];
    unsigned int len = 0;
    int ok = EVP_DigestFinal_ex(ctx, digest, &len) == 1 && len == 32;
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        snprintf(err, err_size, "SHA-256 failed");
        return -1;
    }
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    return 0;
}
