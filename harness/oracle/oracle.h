/* The contract oracle: an executable model of docs/SPEC.md for the channels of one program run.
 *
 * For every channel slot it models what describe() shows (lifecycle state, offer, open
 * parameters, GPADLs, packets in flight, pending ring bytes), the save session (its position in
 * the image the model says it must produce, what the scripted driver answered, a sticky error)
 * and a restore in progress (what was accepted so far). The runner (harness/run/runner.c) makes each
 * call and hands the oracle what it observed around it: the status, the out-parameters, the
 * bytes written, the host's allocation counters and packet-callback logs. The oracle computes
 * what the contract allows (statuses in LIFECYCLE.CHECK_ORDER precedence, counts, chunks, image
 * bytes, descriptions, allocation deltas, callback protocol), compares, updates the model from
 * its own prediction, and on the first disagreement fills a vmbsave_violation naming the clause.
 * Where the contract leaves a choice, every allowed outcome is accepted (docs/ORACLE.md lists
 * each check, its clause, and what is not checked).
 *
 * Everything is allocated once by vmbsave_oracle_new(), but for the model's heap storage (ring
 * bytes, the pfns and payloads of a decoded image), which grows when a state first needs more and
 * is kept: an ordinary program's run allocates nothing. The model holds every state the contract
 * allows (docs/ORACLE.md, "Model bounds"). */
#ifndef VMBSAVE_HARNESS_ORACLE_H
#define VMBSAVE_HARNESS_ORACLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image/chunks.h"
#include "host/host.h"
#include "program/program.h"
#include "oracle/spec_clauses.h" /* generated from docs/SPEC.md: CLAUSE(...) */
#include "oracle/violation.h"
#include "vmbsave/abi.h"

/* ---- The model's bounds: the contract's (abi.h), so a valid image at any limit is checked ---- */
#define ORACLE_MAX_GPADLS VMBSAVE_MAX_GPADLS   /* 64 */
#define ORACLE_MAX_PACKETS VMBSAVE_MAX_PACKETS /* 4,096 packets in flight */
#define ORACLE_RING_CAP VMBSAVE_MAX_RING_BYTES /* pending bytes of one direction, at most */
#define ORACLE_MAX_IMAGE VMBSAVE_RUN_MAX_IMAGE_BYTES
#define ORACLE_MAX_CHUNKS VMBSAVE_RUN_MAX_CHUNKS
#define ORACLE_MAX_ALLOWED 8u
/* Pfns and payloads of a state decoded from an image: they lie inside the image. */
#define ORACLE_BULK_CAP ORACLE_MAX_IMAGE
/* describe buffer: the canonical text at the bounds is below 512 KiB (about 1 KiB of header,
 * 64 GPADL lines under 100 bytes, 4,096 packet lines under 128 bytes); twice that for margin. */
#define ORACLE_DESC_CAP (1024u * 1024u)
/* ---- The model of one channel (what describe shows and the image holds) ---- */

typedef struct oracle_gpadl {
    uint32_t id;
    uint32_t state; /* 1 CREATED, 2 TEARING_DOWN (FORMAT.md values) */
    uint32_t pfn_count;
    uint32_t mode; /* program gpadl mode and salt: the pfns are regenerated from them */
    uint32_t salt;
    uint64_t pfn_hash;
    bool in_bulk;      /* decoded from an image: the pfns (u64 LE) are at the state's bulk */
    uint32_t bulk_off; /* ... + bulk_off */
} oracle_gpadl;

typedef struct oracle_packet {
    uint64_t id;
    uint64_t seq;
    uint32_t gpadl;
    uint32_t bytes;
    uint64_t seed; /* payload = vmbsave_args_bytes(seed, bytes) */
    uint64_t payload_hash;
    bool in_bulk;      /* decoded from an image: the payload is at the state's bulk */
    uint32_t bulk_off; /* ... + bulk_off */
} oracle_packet;

typedef struct oracle_ring {
    uint32_t head; /* pending bytes, oldest first, are bytes[head..head+len) */
    uint32_t len;
    uint64_t hash;
    /* Heap storage of `cap` bytes, grown on demand up to ORACLE_RING_CAP and kept across runs
     * (a 32 MiB array per ring and model would make the oracle 450 MiB). Owned by the state;
     * oracle_state_copy never copies the pointer. */
    uint8_t *bytes;
    uint32_t cap;
} oracle_ring;

typedef struct oracle_state {
    vmbsave_channel_state state;
    bool fresh;
    bool init_over; /* enabled or restored once: init_set_offer is refused from then on */
    bool offer_set;
    vmbsave_offer offer;
    vmbsave_open_params open;
    uint64_t next_seq;
    uint32_t gpadl_count;
    uint32_t packet_count;
    uint32_t bulk_len; /* bytes of `bulk` in use (a state decoded from an image) */
    oracle_ring rings[2];
    /* Heap storage of bulk_cap bytes, grown on demand up to ORACLE_BULK_CAP, owned like a
     * ring's bytes. */
    uint8_t *bulk;
    uint32_t bulk_cap;
    /* Last, so that copies and comparisons take only the gpadl_count and packet_count entries
     * in use (oracle_state_copy, the description memo). */
    oracle_gpadl gpadls[ORACLE_MAX_GPADLS];    /* ascending id */
    oracle_packet packets[ORACLE_MAX_PACKETS]; /* send order */
} oracle_state;

/* ---- A save session ---- */

typedef enum oracle_purpose {
    ORACLE_PURPOSE_PROGRAM = 0, /* SAVE_BEGIN / SAVE_CONTINUE / SAVE_END steps */
    ORACLE_PURPOSE_CAPTURE,     /* a CAPTURE step */
    ORACLE_PURPOSE_ONESHOT,     /* the oracle's one-shot after a completed program session */
    ORACLE_PURPOSE_FIXED_POINT  /* the oracle's re-save after a successful restore */
} oracle_purpose;

typedef enum oracle_session_phase {
    ORACLE_SESSION_NONE = 0,
    ORACLE_SESSION_ACTIVE,
    ORACLE_SESSION_COMPLETED, /* save_continue returned SUCCESS */
    ORACLE_SESSION_STICKY     /* save_continue failed; every later call repeats the status */
} oracle_session_phase;

/* What the last save-related call did, for attributing a wrong position to its cause. */
typedef enum oracle_session_event {
    ORACLE_EVENT_NONE = 0,
    ORACLE_EVENT_BEGIN,
    ORACLE_EVENT_PROGRESS,
    ORACLE_EVENT_TOO_SMALL,
    ORACLE_EVENT_SIZE_QUERY,
    ORACLE_EVENT_PARAMS,
    ORACLE_EVENT_REFUSED_BEGIN
} oracle_session_event;

/* What the scripted driver told the implementation about one packet, from the host's logs. */
typedef struct oracle_packet_answer {
    bool first;       /* the size query was made */
    bool second;      /* the second call was made */
    uint32_t need;    /* N of the size query (0: no driver state) */
    uint32_t written; /* driver-state bytes the second call filled (the rest stay zero) */
    NTSTATUS failure; /* the save_continue failure the answers call for (0: none) */
    const char *failure_clause;
} oracle_packet_answer;

/* One chunk of the image the model expects. */
typedef struct oracle_chunk_plan {
    uint16_t type;
    uint8_t dir;     /* RING */
    uint32_t size;   /* header included */
    uint32_t offset; /* in the image */
    uint32_t first;  /* GPADLS / PACKETS: first record index; RING: offset in the ring */
    uint32_t count;  /* records; RING: bytes */
} oracle_chunk_plan;

/* The expected image, planned chunk by chunk as the driver's answers become known. */
typedef struct oracle_plan {
    uint32_t planned; /* chunks whose size and type are known */
    uint32_t written; /* chunks whose bytes are in `image` */
    bool end_planned;
    bool too_large; /* the image would pass ORACLE_MAX_IMAGE or ORACLE_MAX_CHUNKS: a harness
                       error where the session gets there (not a verdict) */
    /* Planner position. */
    uint32_t phase; /* 0 HEADER, 1 GPADLS, 2 PACKETS, 3 RING in, 4 RING out, 5 END, 6 done */
    uint32_t gpadl_next, packet_next, ring_off;
    uint32_t stuck_packet; /* packet index whose answer the next chunk needs (UINT32_MAX: none) */
    /* Writer position. */
    uint64_t image_id, digest;
    uint32_t bytes_written;
    uint8_t header_payload[VMBSAVE_HEADER_PAYLOAD_BYTES];
    oracle_chunk_plan chunks[ORACLE_MAX_CHUNKS];
    uint8_t *image; /* ORACLE_MAX_IMAGE bytes */
} oracle_plan;

typedef struct oracle_session {
    oracle_session_phase phase;
    oracle_purpose purpose;
    NTSTATUS sticky;
    bool begin_nomem; /* the last save_begin failed for memory; no session since */
    oracle_session_event last_event;
    uint32_t pos;          /* chunks delivered to the caller */
    uint32_t required;     /* last non-zero BytesRequired reported (0: none) */
    uint32_t too_small;    /* BytesRequired of the TOO_SMALL right before (0: none) */
    bool one_shot_like;    /* every save_continue had a buffer of VMBSAVE_MAX_CHUNK_BYTES+ */
    uint32_t index;        /* sessions begun on the channel before, since its last change */
    int64_t held;          /* live allocations the session's calls added */
    uint32_t first_cursor; /* packets whose size query was made */
    oracle_packet_answer answers[ORACLE_MAX_PACKETS];
    oracle_plan plan;
} oracle_session;

/* ---- A restore in progress ---- */

typedef struct oracle_restore {
    bool active; /* chunks were accepted (the channel is still fresh) */
    uint32_t next_seq;
    uint64_t image_id;
    unsigned rank;  /* rank of the last known chunk type accepted */
    bool uncertain; /* accepted chunks are not a prefix of any image slot's image */
    uint32_t accepted_len;
    uint8_t *accepted;                      /* ORACLE_MAX_IMAGE bytes: the chunks accepted so far */
    bool prefix_ok[VMBSAVE_PROGRAM_IMAGES]; /* accepted is a prefix of that slot's image */
    int64_t held;
    bool doomed; /* a content failure the reader may leave to END was passed over */
    /* doomed: the status(es) and clause the restore must still fail with (RESTORE.CORRUPT.WHEN) */
    NTSTATUS doomed_status[2];
    uint32_t doomed_statuses;
    const char *doomed_clause;
} oracle_restore;

typedef struct oracle_channel {
    bool allocated;
    vmbsave_channel *handle;
    oracle_state m;
    oracle_session s;
    oracle_restore r;
    int64_t held;            /* live allocations this channel's calls added */
    bool restored_unchanged; /* restored, and nothing changed since */
    bool ever_restored;
    bool chunked_verified; /* a chunked session matched the model since the last change */
    uint32_t sessions_since_change;
    const char *desc_clause; /* the clause a description mismatch after the last call breaks */
} oracle_channel;

/* ---- An image slot ---- */

/* FORMAT.md's reader run over a whole image (oracle_reader.c). Steps 1-10 of each chunk are
 * left to the restore's own prediction, which sees them in the bytes of each call; this says
 * where the content checks (steps 11 and 12) first fail, if the bytes get that far. */
typedef struct oracle_read_verdict {
    bool valid;            /* every check of every chunk passes up to END */
    uint32_t end;          /* valid: the offset just past END (bytes may follow) */
    uint32_t fail_at;      /* not valid: offset of the chunk whose content fails, or UINT32_MAX
                              when steps 1-10 fail first (or the bytes end before END) */
    bool deferrable;       /* a content check of a chunk before END (step 11): the reader may
                              also make it later, up to END (RESTORE.CORRUPT.WHEN) */
    uint32_t statuses;     /* 1 or 2: the chunk breaks checks of both kinds of step 11 */
    NTSTATUS status[2];    /* FORMAT.md's status(es) */
    const char *clause;
    char why[120];
    bool newer_minor;      /* a minor above 0, appended fields or records' bytes, or an unknown
                              OPTIONAL chunk (FORMAT.COMPAT.NEWER_MINOR) before where it stops */
} oracle_read_verdict;

typedef struct oracle_image {
    bool full;
    uint32_t size;
    uint32_t chunk_count;
    uint32_t chunk_off[ORACLE_MAX_CHUNKS + 1u];
    uint64_t image_id;
    uint8_t *bytes;                              /* ORACLE_MAX_IMAGE */
    oracle_state model;                          /* the channel it was saved from */
    uint32_t dstate_need[ORACLE_MAX_PACKETS];    /* driver state bytes per packet */
    uint32_t dstate_written[ORACLE_MAX_PACKETS]; /* of which the driver filled */
    /* A preloaded image (oracle_preload_image) rather than a CAPTURE's: its driver states are
     * compared by content, and `read` says what FORMAT.md's reader makes of its bytes. A
     * CAPTURE's image is valid to its last byte. */
    bool preloaded;
    uint64_t dstate_hash[ORACLE_MAX_PACKETS]; /* preloaded: XXH3 of each driver state */
    oracle_read_verdict read;
} oracle_image;

/* ---- Observations ---- */

/* Host counters around one call. */
typedef struct oracle_obs {
    uint64_t alloc_before, alloc_after;
    uint64_t faults_before, faults_after;
    uint64_t live_before, live_after;
    uint32_t save_log_before, save_log_after;
    uint32_t restore_log_before, restore_log_after;
    uint32_t mismatches_before, mismatches_after;
} oracle_obs;

static inline int64_t oracle_obs_live_delta(const oracle_obs *o)
{
    return (int64_t)o->live_after - (int64_t)o->live_before;
}

static inline bool oracle_obs_faulted(const oracle_obs *o)
{
    return o->faults_after != o->faults_before;
}

/* A lifecycle call's arguments, as the runner made it. */
typedef struct oracle_lifecycle_call {
    vmbsave_op op;
    const vmbsave_offer *offer;      /* OFFER (NULL: passed NULL) */
    const vmbsave_open_params *open; /* OPEN (NULL: passed NULL) */
    uint64_t id;                     /* GPADL id (below 2^32), packet id */
    uint32_t gpadl;                  /* PACKET_SEND */
    uint32_t gpadl_mode, salt;       /* GPADL_CREATE: pfns are regenerated from these */
    uint32_t count;                  /* pfns, payload bytes, ring bytes */
    bool null_data;                  /* NULL pfns / payload */
    const uint64_t *pfns;            /* GPADL_CREATE (may be NULL) */
    uint64_t seed;                   /* PACKET_SEND payload seed */
    const uint8_t *data;             /* RING_WRITE data */
    uint32_t dir;                    /* RING_* direction */
    const uint8_t *read_data;        /* RING_READ: what the call wrote (bytes_read bytes) */
    uint32_t bytes_read;
    const uint8_t *read_pattern; /* RING_READ guard: the buffer's bytes before the call */
    const uint8_t *read_buf;     /* ... and after (guard zones of `guard` bytes around) */
    uint32_t guard;
} oracle_lifecycle_call;

/* A save_continue call. */
typedef struct oracle_continue_call {
    uint32_t size;
    bool null_buffer, null_filled, null_required;
    uint32_t filled, required; /* observed (meaningless where the pointer was NULL) */
    uint32_t sentinel;         /* what the runner put in the out-parameters before */
    const uint8_t *buf;        /* the user area (size bytes), guard zones around it */
    const uint8_t *pattern;    /* the same area as it was before the call */
    uint32_t guard;            /* guard bytes before and after */
} oracle_continue_call;

/* Result of a save_continue check. */
typedef enum oracle_verdict {
    ORACLE_OK = 0,
    ORACLE_VIOLATION,
    ORACLE_DIAGNOSE /* image bytes differ: the runner runs one-shot sessions to name the clause */
} oracle_verdict;

typedef struct vmbsave_oracle vmbsave_oracle;

struct vmbsave_oracle {
    const vmbsave_fault_host *host;
    uint64_t capabilities;
    bool check_describe;
    oracle_channel ch[VMBSAVE_PROGRAM_CHANNELS];
    oracle_image img[VMBSAVE_PROGRAM_IMAGES];
    int64_t instance_held; /* allocations get_interface made */

    /* A harness error (oracle_harness_error): the run stops with ERROR, never a verdict. */
    bool error;
    char error_text[200];

    /* The first violation. */
    bool violated;
    vmbsave_violation v;
    bool v_located; /* v.step and v.call are set already (a suspect confirmed at the end) */
    /* The first call whose live-count change the contract does not pin down to the channel
     * (shared caches are allowed): it is reported only if the count is not 0 at the end. */
    struct {
        bool set;
        bool unlocated; /* the runner fills in v.step and v.call */
        vmbsave_violation v;
    } suspect;
    /* Data a reproducer re-checks against (emit_c.h): NULL when none. */
    const uint8_t *v_image;
    uint32_t v_image_size;
    const char *v_desc;
    bool v_desc_except_fresh;

    /* A pending image diagnosis (ORACLE_DIAGNOSE). */
    struct {
        uint32_t slot;
        uint32_t chunk; /* the first chunk that differs */
        bool was_one_shot;
        uint32_t session_index;
        oracle_session_event last_event;
        bool restored_unchanged, chunked_verified;
        uint32_t observed_len;
    } diag;

    /* desc_expected is the text of the model bytes in desc_memo (formatting is most of the
     * oracle's cost per step, and most steps leave the model unchanged). */
    struct {
        bool valid;
        size_t len;
        uint8_t head[offsetof(oracle_state, bulk_len)]; /* gpadl_count and packet_count included */
        oracle_gpadl gpadls[ORACLE_MAX_GPADLS];
        oracle_packet packets[ORACLE_MAX_PACKETS];
        uint32_t ring_len[2];
        uint64_t ring_hash[2];
    } desc_memo;

    /* Scratch. */
    char desc_expected[ORACLE_DESC_CAP];
    uint64_t pfns[VMBSAVE_MAX_GPADL_PFNS + 1u];
    uint8_t payload[VMBSAVE_MAX_PACKET_PAYLOAD + 1u];
    uint8_t *diag_image[2]; /* ORACLE_MAX_IMAGE each: the diagnosis one-shots */
    uint8_t *diag_expected; /* ORACLE_MAX_IMAGE */
    /* Scratch of the checks, here rather than in _Thread_local statics, which would cost
     * 164 KiB in every thread of the process (plug-in threads included); an oracle serves one
     * thread at a time. */
    vmbsave_violation v_scratch; /* a later disagreement, made while attributing the first */
    uint8_t pfn_bytes[(VMBSAVE_MAX_GPADL_PFNS + 1u) * 8u]; /* pfns as u64 LE, to hash */
    uint8_t record[VMBSAVE_MAX_CHUNK_BYTES];               /* a record the model writes */
    oracle_packet_answer diag_answers[ORACLE_MAX_PACKETS]; /* oracle_diagnose's expectation */
    struct oracle_reader *reader;                          /* FORMAT.md's reader's state */
};

/* ---- oracle.c: lifetime, channels, lifecycle, descriptions, allocations ---- */

vmbsave_oracle *vmbsave_oracle_new(void);
void vmbsave_oracle_free(vmbsave_oracle *o);
/* A new run: every slot empty. check_describe: the implementation reports VMBSAVE_CAP_DESCRIBE
 * (its description is canonical and checked). */
void oracle_reset(vmbsave_oracle *o, const vmbsave_fault_host *host, uint64_t capabilities,
                  int64_t instance_held);

/* Each check returns true if the contract held; else false with o->v filled. */
bool oracle_allocate(vmbsave_oracle *o, uint32_t slot, NTSTATUS status, vmbsave_channel *handle,
                     const oracle_obs *obs);
bool oracle_lifecycle(vmbsave_oracle *o, uint32_t slot, const oracle_lifecycle_call *call,
                      NTSTATUS status, const oracle_obs *obs);
bool oracle_cleanup(vmbsave_oracle *o, uint32_t slot, NTSTATUS status, const oracle_obs *obs);
/* The description observed right after a call on `slot` (describe's status, bytes_required,
 * text, and the host's allocation calls around it). */
bool oracle_description(vmbsave_oracle *o, uint32_t slot, NTSTATUS status, uint32_t required,
                        const char *text, uint64_t alloc_calls_during);
/* describe's size protocol on a channel: a size query (NULL, 0) and a one-byte-short buffer;
 * short_changed is the first byte of that buffer (or the one past it) the call changed,
 * UINT32_MAX if none. */
bool oracle_describe_size(vmbsave_oracle *o, uint32_t slot, NTSTATUS query_status,
                          uint32_t query_required, NTSTATUS short_status, uint32_t short_required,
                          uint32_t short_changed, uint32_t full_required);
/* After the interface was released: the live count must be 0. */
bool oracle_released(vmbsave_oracle *o, uint64_t live_before, uint64_t live_after);
/* Callbacks made during a call that makes none (anything but save_continue and a committing
 * restore). `what` names the call. */
bool oracle_no_callbacks(vmbsave_oracle *o, const oracle_obs *obs, const char *what,
                         const char *save_clause);
/* The expected description of a slot's model (in o->desc_expected), its length. */
size_t oracle_expected_description(vmbsave_oracle *o, uint32_t slot);

/* A harness error, not a verdict against the implementation: the model cannot go on (its
 * storage could not grow, or the state is beyond what a run holds). The first is kept; the
 * runner reports it (runner_checked). Returns false. */
bool oracle_harness_error(vmbsave_oracle *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* oracle_harness_error for an allocation of the model's storage that failed. */
bool oracle_nomem(vmbsave_oracle *o, const char *what);

/* Violation helpers (oracle.c). */
vmbsave_violation *oracle_violation(vmbsave_oracle *o, const char *clause, vmbsave_check_kind kind);
void oracle_text(char *dst, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
const char *oracle_status_text(NTSTATUS status, char *tmp, size_t tmp_size);
/* A STATUS violation: one of allowed[0..n) expected, `observed` seen. Returns false. */
bool oracle_status_violation(vmbsave_oracle *o, const char *clause, const NTSTATUS *allowed,
                             unsigned n, NTSTATUS observed);
/* A live-count check the contract makes per call: a violation if the delta differs. */
bool oracle_check_live(vmbsave_oracle *o, const oracle_obs *obs, int64_t expected_delta,
                       const char *clause, const char *what);
/* A live-count expectation that holds unless the implementation keeps interface-wide caches:
 * a mismatch becomes the suspect named if the count is not 0 at the end (RESOURCES.NO_LEAK).
 * Always true. */
bool oracle_note_live(vmbsave_oracle *o, const oracle_obs *obs, int64_t expected_delta,
                      const char *clause, const char *what);

/* ---- oracle_state.c: the model ---- */
/* A DISABLED, fresh channel; the state's heap storage is kept for reuse. */
void oracle_state_init(oracle_state *m);
/* Frees the heap storage (the oracle's end). */
void oracle_state_free(oracle_state *m);
/* dst becomes src, costing what src holds. False if dst's storage could not grow (dst is then
 * unchanged): a harness error, never a verdict (oracle_nomem). */
bool oracle_state_copy(oracle_state *dst, const oracle_state *src);
/* Room for `need` pending bytes from the ring's head (which may move to 0); false if need is
 * above ORACLE_RING_CAP or memory ran out. */
bool oracle_ring_reserve(oracle_ring *r, uint32_t need);
/* Room for `more` bytes past bulk_len; false above ORACLE_BULK_CAP or out of memory. */
bool oracle_bulk_reserve(oracle_state *m, uint32_t more);
void oracle_ring_rehash(oracle_ring *r);
/* The pending bytes, oldest first (NULL when no storage was ever needed). */
static inline const uint8_t *oracle_ring_data(const oracle_ring *r)
{
    return r->head == 0 ? r->bytes : r->bytes + r->head;
}
/* The pfns of a modelled GPADL, regenerated into o->pfns. */
const uint64_t *oracle_gpadl_pfns(vmbsave_oracle *o, const oracle_state *m, const oracle_gpadl *g);
/* A modelled packet's payload, regenerated into o->payload (or in m's bulk). */
const uint8_t *oracle_packet_payload(vmbsave_oracle *o, const oracle_state *m,
                                     const oracle_packet *p);
int oracle_gpadl_find(const oracle_state *m, uint32_t id);
int oracle_packet_find(const oracle_state *m, uint64_t id);

/* ---- oracle_describe.c: the canonical description (SPEC.md section 14) ---- */
/* Writes the model's text; returns its length (without the NUL), or 0 if cap is too small. */
size_t oracle_describe_text(vmbsave_oracle *o, const oracle_state *m, char *out, size_t cap);
/* Checks that `text` has the canonical shape (keys, order, value syntax); false with the first
 * problem in why. */
bool oracle_describe_wellformed(const char *text, char *why, size_t why_size);
/* The first line where a and b differ (1-based), copied into la / lb; 0 if equal. With
 * except_fresh the fresh= line is not compared. */
uint32_t oracle_describe_diff(const char *a, const char *b, bool except_fresh, char *la,
                              size_t la_size, char *lb, size_t lb_size);

/* ---- oracle_image.c: the expected image (FORMAT.md writer) ---- */
void oracle_plan_reset(oracle_plan *p, const oracle_state *m);
/* Plans chunks as far as the answers allow. */
void oracle_plan_extend(oracle_plan *p, const oracle_state *m, const oracle_packet_answer *answers);
/* Writes the bytes of chunks up to `upto` (exclusive) if their answers are known; returns the
 * number of chunks whose bytes are written. */
uint32_t oracle_plan_write(vmbsave_oracle *o, oracle_plan *p, const oracle_state *m,
                           const oracle_packet_answer *answers, uint32_t upto);
/* ---- oracle_save.c: save sessions ---- */
/* The scripted driver's answers for every packet under the host's current save mode, as a
 * fresh session would get them; false if some packet's answers make a save fail. */
bool oracle_answers_for_mode(const vmbsave_fault_host *host, const oracle_state *m,
                             oracle_packet_answer *answers);
bool oracle_save_begin(vmbsave_oracle *o, uint32_t slot, oracle_purpose purpose, NTSTATUS status,
                       const oracle_obs *obs);
oracle_verdict oracle_save_continue(vmbsave_oracle *o, uint32_t slot,
                                    const oracle_continue_call *call, NTSTATUS status,
                                    const oracle_obs *obs);
bool oracle_save_end(vmbsave_oracle *o, uint32_t slot, const oracle_obs *obs);
/* Stores a completed session's image (a CAPTURE) in image slot `image`; false (the slot empty)
 * after a harness error (oracle_nomem). */
bool oracle_store_image(vmbsave_oracle *o, uint32_t slot, uint32_t image);
/* Diagnosis of an ORACLE_DIAGNOSE: the runner ended the session and ran up to two one-shot
 * sessions; `ok[i]` says session i completed, with `bytes[i]` of `len[i]`. Fills o->v. */
void oracle_diagnose(vmbsave_oracle *o, const bool ok[2], const uint8_t *const bytes[2],
                     const uint32_t len[2]);

/* ---- oracle_reader.c: FORMAT.md's reader over a caller's image ---- */
/* Puts `size` bytes (1..ORACLE_MAX_IMAGE) in image slot `image`, split into chunks for the
 * RESTORE edits, and reads them as FORMAT.md's reader must (img->read). Every valid image's
 * state is modelled; returns false, leaving the slot empty, on a size outside 1..ORACLE_MAX_IMAGE
 * or after a harness error (o->error: the model's storage could not grow). */
bool oracle_preload_image(vmbsave_oracle *o, uint32_t image, const uint8_t *bytes, uint32_t size);
/* The reader alone: the verdict on `bytes`, and the state a restore of them commits to when
 * valid (`model`, `dstate_need` and `dstate_hash` may be NULL). If the model's storage cannot
 * grow, o->error is set (oracle_nomem). */
void oracle_read_image(vmbsave_oracle *o, const uint8_t *bytes, uint32_t size,
                       oracle_read_verdict *verdict, oracle_state *model, uint32_t *dstate_need,
                       uint64_t *dstate_hash);
/* The reader's state (about 100 KiB), allocated with the oracle. */
struct oracle_reader *oracle_reader_new(void);

/* ---- oracle_restore.c: restores ---- */
/* A RESTORE step starts (image slots may have changed since the last one). */
void oracle_restore_step_begin(vmbsave_oracle *o, uint32_t slot);
bool oracle_restore_call(vmbsave_oracle *o, uint32_t slot, const uint8_t *data, uint32_t size,
                         NTSTATUS status, const oracle_obs *obs);

#endif
