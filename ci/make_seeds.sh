#!/usr/bin/env bash
# Regenerates corpus/seeds/<target>/ for the fuzz targets (fuzzers/*.c), deterministically: the
# same tree gives the same bytes. Seeds are the canonical states (harness/program/canonical.h) and the
# programs of tests/variants/*.prog (and tests/differential/*.prog), in program byte form
# (harness/program/program.h), shaped as each target reads its input (corpus/README.md).
# corpus/regressions/ is never touched.
#
# usage: ci/make_seeds.sh [BUILD_DIR]   (default build/asan; it must have been built)
# Exit status: 0 written; 1 a tool failed; 2 usage or a missing tool. The seed directories are
# replaced only once every seed was written.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ "$#" -gt 1 ]; then
    echo "usage: $0 [BUILD_DIR]" >&2
    exit 2
fi
build=${1:-build/asan}
cli=$build/tools/vmbsave/vmbsave
states_tool=$build/fuzzers/vmbsave_canonical_seeds
raw_tool=$build/fuzzers/vmbsave_restore_raw_seeds
for tool in "$cli" "$states_tool" "$raw_tool"; do
    if [ ! -x "$tool" ]; then
        echo "$0: $tool not found; build the tree first (cmake --build --preset asan)" >&2
        exit 2
    fi
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/states" "$work/save_session" "$work/roundtrip" "$work/restore"
mkdir -p "$work/differential"
mkdir -p "$work/restore_raw"

# The canonical prefixes, <name>.bin, in canonical id order (the byte that picks them).
"$states_tool" "$work/states"
states=(empty_offer open_gpadls paused_packets large_ring)

# encode NAME: text program on stdin -> $work/NAME.bin
encode() {
    cat >"$work/$1.txt"
    "$cli" encode "$work/$1.txt" -o "$work/$1.bin"
}
# state_byte ID: the one byte roundtrip and restore read first.
state_byte() {
    printf '%b' "\\$(printf '%03o' "$1")"
}

# save_session: a whole input is a program.
for s in "${states[@]}"; do
    cp "$work/states/$s.bin" "$work/save_session/canonical-$s"
done
for prog in tests/variants/*.prog; do
    name=$(basename "$prog" .prog)
    "$cli" encode "$prog" -o "$work/save_session/variant-$name"
done
# The save-protocol paths of a session, after each canonical state: every buffer-size mode of
# save_continue; and, on paused_packets (packets in flight), each answer the driver's
# save-packet callback can give (harness/host/driver_script.h), then a second save_continue, the
# call the contract rules on after a failure.
encode ss_sizes <<'TXT'
save_continue ch=0 size=zero-null
save_begin ch=0
save_continue ch=0 size=zero-null
save_continue ch=0 size=zero
save_continue ch=0 size=one
save_continue ch=0 size=required-1
save_continue ch=0 size=required
save_continue ch=0 size=required+1
save_continue ch=0 size=max-chunk
save_continue ch=0 size=large
save_continue ch=0 size=large
save_end ch=0
TXT
for s in "${states[@]}"; do
    cat "$work/states/$s.bin" "$work/ss_sizes.bin" >"$work/save_session/session-$s-sizes"
done
for mode in normal no-state fail-second fail-first-zero over-limit asks-more too-small-second; do
    packet=" packet=0" # every packet; mode normal takes no packet
    [ "$mode" = normal ] && packet=""
    encode "ss_callback_$mode" <<TXT
fault_save_packet mode=$mode$packet
save_begin ch=0
save_continue ch=0 size=large
save_continue ch=0 size=large
save_end ch=0
TXT
    cat "$work/states/paused_packets.bin" "$work/ss_callback_$mode.bin" \
        >"$work/save_session/session-paused_packets-callback_$mode"
done

# save_begin in every lifecycle state, from a fresh channel: refused in DISABLED (fresh, offered,
# disabled again) and OPEN_RUNNING, a whole session in ENABLED and OPEN_PAUSED (SAVE.BEGIN.*).
encode ss_states <<'TXT'
save_begin ch=0
offer ch=0 mode=valid salt=1
save_begin ch=0
enable ch=0
save_begin ch=0
save_continue ch=0 size=large
save_end ch=0
gpadl_create ch=0 mode=valid id=1 pfns=4 salt=1
open ch=0 mode=valid gpadl=1 in_pages=2 out_pages=2
save_begin ch=0
save_continue ch=0 size=large
save_end ch=0
start ch=0
save_begin ch=0
save_continue ch=0 size=large
save_end ch=0
pause ch=0
save_begin ch=0
save_continue ch=0 size=large
save_end ch=0
close ch=0
save_begin ch=0
save_end ch=0
disable ch=0
save_begin ch=0
save_end ch=0
TXT
cp "$work/ss_states.bin" "$work/save_session/session-states"
# The first allocation of each call that allocates in the reference (channel_allocate of offer,
# gpadl_create, packet_send, save_begin) fails once, then the call is made again; then a session
# under a fault from its second allocation on (RESOURCES.*, SAVE.BEGIN.NO_MEMORY).
# differential drops the fault steps and so runs each call twice.
encode ss_faults <<'TXT'
fault_alloc mode=once after=0
offer ch=0 mode=valid salt=1
offer ch=0 mode=valid salt=1
enable ch=0
fault_alloc mode=once after=0
gpadl_create ch=0 mode=valid id=1 pfns=4 salt=1
gpadl_create ch=0 mode=valid id=1 pfns=4 salt=1
open ch=0 mode=valid gpadl=1 in_pages=2 out_pages=2
start ch=0
fault_alloc mode=once after=0
packet_send ch=0 payload=small id=9 gpadl=0 bytes=5
packet_send ch=0 payload=small id=9 gpadl=0 bytes=5
pause ch=0
fault_alloc mode=once after=0
save_begin ch=0
save_begin ch=0
save_continue ch=0 size=large
save_end ch=0
fault_alloc mode=from after=1
save_begin ch=0
save_continue ch=0 size=large
save_continue ch=0 size=large
save_end ch=0
fault_alloc mode=off
TXT
cp "$work/ss_faults.bin" "$work/save_session/faults-each_call"

# Several channels of one interface at once, after each canonical state: restores left in
# progress (RESTORE edit=chunks) on channels 1 and 2 while a session runs on channel 0, a
# restore that fails on one channel while the other's completes, and sessions open on two
# channels at once (docs/PROGRAMS.md; variants/shared_restore_state.c).
encode ss_multichannel <<'TXT'
capture ch=0 image=0
restore ch=1 image=0 edit=chunks chunk=0 count=1 per_call=0
save_begin ch=0
restore ch=2 image=0 edit=chunks chunk=0 count=1 per_call=0
save_continue ch=0 size=one
restore ch=1 image=0 edit=chunks chunk=1 count=0 per_call=1
restore ch=2 image=0 edit=whole per_call=0
save_continue ch=0 size=large
save_end ch=0
capture ch=1 image=1
cleanup ch=2
save_begin ch=1
restore ch=2 image=1 edit=chunks chunk=0 count=1 per_call=0
save_begin ch=0
save_continue ch=1 size=one
save_continue ch=0 size=large
restore ch=2 image=1 edit=chunks chunk=1 count=0 per_call=0
save_continue ch=1 size=large
save_end ch=0
save_end ch=1
capture ch=2 image=2
TXT
for s in "${states[@]}"; do
    cat "$work/states/$s.bin" "$work/ss_multichannel.bin" >"$work/save_session/multichannel-$s"
done

# Values at the edges of their types and limits, from a fresh channel: GPADL ids up to
# UINT32_MAX and packet ids up to UINT64_MAX (edge id codes, docs/PROGRAMS.md), 2^32 + 5 beside
# 5, exactly VMBSAVE_MAX_GPADL_PFNS pfns and one more, payloads of 0, 1, VMBSAVE_MAX_PACKET_PAYLOAD
# bytes and one more, a ring one page over VMBSAVE_MAX_RING_BYTES; the driver's modes on an
# edge packet; a capture, a restore fed a chunk per call and a capture of the restored channel.
encode ss_edges <<'TXT'
offer ch=0 mode=valid salt=9
enable ch=0
gpadl_create ch=0 mode=valid id=4294967295 pfns=16 salt=1
gpadl_create ch=0 mode=max-pfns id=2147483648 salt=2
gpadl_create ch=0 mode=over-limit id=65536 salt=3
gpadl_create ch=0 mode=valid id=256 pfns=1 salt=4
gpadl_create ch=0 mode=valid id=1 pfns=2 salt=5
open ch=0 mode=over-limit gpadl=1 out_pages=2
open ch=0 mode=valid gpadl=4294967295 in_pages=2 out_pages=65
start ch=0
packet_send ch=0 payload=small id=5 gpadl=0 bytes=0
packet_send ch=0 payload=small id=4294967301 gpadl=4294967295 bytes=1
packet_send ch=0 payload=max id=18446744073709551615 gpadl=2147483648
packet_send ch=0 payload=over-limit id=18446744073709551614 gpadl=0
packet_send ch=0 payload=small id=4294967296 gpadl=256 bytes=64
packet_send ch=0 payload=medium id=9223372036854775808 gpadl=0 bytes=4096
packet_send ch=0 payload=small id=4294967295 gpadl=0 bytes=7
packet_send ch=0 payload=small id=18446744069414584321 gpadl=0 bytes=2
packet_send ch=0 payload=small id=9223372036854775807 gpadl=1 bytes=3
packet_complete ch=0 id=4294967295
packet_complete ch=0 id=4294967295
gpadl_teardown_begin ch=0 id=256
gpadl_teardown_begin ch=0 id=4294967294
pause ch=0
fault_save_packet mode=no-state packet=18446744073709551615
capture ch=0 image=0
fault_save_packet mode=normal
capture ch=0 image=1
restore ch=1 image=1 edit=whole per_call=1
capture ch=1 image=2
packet_complete ch=1 id=18446744073709551615
gpadl_teardown_complete ch=1 id=256
capture ch=1 image=3
restore ch=2 image=0 edit=whole per_call=0
TXT
cp "$work/ss_edges.bin" "$work/save_session/edges-ids_and_limits"

# roundtrip: state byte, then a body run on the state before the capture/restore/capture.
encode rt_empty </dev/null
encode rt_traffic <<'TXT'
start ch=0
packet_send ch=0 payload=small id=9 gpadl=0 bytes=5
ring_write ch=0 dir=out bytes=40 salt=7
pause ch=0
TXT
encode rt_fault <<'TXT'
fault_alloc mode=once after=2
TXT
encode rt_open_session <<'TXT'
save_begin ch=0
save_continue ch=0 size=one
TXT
# Edge packet ids (docs/PROGRAMS.md) in flight when the round trip saves and restores.
encode rt_edge_ids <<'TXT'
start ch=0
packet_send ch=0 payload=small id=4294967301 gpadl=0 bytes=5
packet_send ch=0 payload=small id=18446744073709551615 gpadl=0 bytes=1
packet_send ch=0 payload=small id=4294967296 gpadl=0 bytes=0
pause ch=0
TXT
# A restore into channel 2 left in progress while the round trip restores channel 1.
encode rt_other_restore <<'TXT'
capture ch=0 image=3
restore ch=2 image=3 edit=chunks chunk=0 count=1 per_call=0
TXT
for i in "${!states[@]}"; do
    for body in rt_empty rt_traffic; do
        { state_byte "$i"; cat "$work/$body.bin"; } >"$work/roundtrip/${states[$i]}-${body#rt_}"
    done
done
for body in rt_fault rt_open_session rt_other_restore rt_edge_ids; do
    { state_byte 2; cat "$work/$body.bin"; } >"$work/roundtrip/paused_packets-${body#rt_}"
done

# differential: a whole input is a program, run on the implementation and the reference. The
# save_session seeds, each canonical state's round trip (its image written, restored and
# written again: the calls the two runs must agree on most), each restore edit on each state,
# and tests/differential/*.prog.
cp "$work/save_session/"* "$work/differential/"
encode df_round_trip <<'TXT'
capture ch=0 image=0
restore ch=1 image=0 edit=whole per_call=1
capture ch=1 image=1
TXT
for s in "${states[@]}"; do
    cat "$work/states/$s.bin" "$work/df_round_trip.bin" >"$work/differential/roundtrip-$s"
done
# Each restore edit, as the restore target expands its every_edit seed (harness/run/fuzz_input.c:
# each body step becomes a cleanup and a restore of channel 1 + ch % 2): the implementation must
# refuse the same edits with the same statuses, atomically. One list serves both seeds: the
# body step's channel, then the edit's text form.
restore_edits=(
    "0 edit=whole per_call=0"
    "1 edit=whole per_call=1"
    "0 edit=truncate at=100 per_call=0"
    "0 edit=bit-flip bit=200"
    "0 edit=drop-chunk chunk=1"
    "0 edit=duplicate-chunk chunk=1"
    "0 edit=swap-chunks chunk=1 with=2"
    "0 edit=foreign-chunk chunk=1 from_image=0"
    "0 edit=split-inside chunk=1"
)
{
    echo "capture ch=0 image=0"
    for e in "${restore_edits[@]}"; do
        ch=$((1 + ${e%% *} % 2))
        printf 'cleanup ch=%d\nrestore ch=%d image=0 %s\n' "$ch" "$ch" "${e#* }"
    done
} | encode df_restore_edits
for s in "${states[@]}"; do
    cat "$work/states/$s.bin" "$work/df_restore_edits.bin" >"$work/differential/restore-$s-every_edit"
done
for prog in tests/differential/*.prog; do
    name=$(basename "$prog" .prog)
    "$cli" encode "$prog" -o "$work/differential/differential-$name"
done

# restore: state byte, then steps whose mode/a/b/c become edits of the captured image.
encode re_whole <<'TXT'
restore ch=0 image=0 edit=whole per_call=0
TXT
for e in "${restore_edits[@]}"; do
    echo "restore ch=${e%% *} image=0 ${e#* }"
done | encode re_every_edit
# Two channels restoring at once: channel 2's restore stays in progress (body ch=1) while
# channel 1 (body ch=0) restores whole, then channel 2's is cleaned up and restored again.
encode re_interleave <<'TXT'
restore ch=1 image=0 edit=chunks chunk=0 count=1 per_call=0
restore ch=0 image=0 edit=whole per_call=1
restore ch=1 image=0 edit=chunks chunk=0 count=0 per_call=1
TXT
for i in "${!states[@]}"; do
    for body in re_whole re_every_edit re_interleave; do
        { state_byte "$i"; cat "$work/$body.bin"; } >"$work/restore/${states[$i]}-${body#re_}"
    done
done

# restore_raw: flags byte, split byte, then an image: each canonical state's image as the
# reference saves it, as-is and with raw edits (fuzzers/restore_raw_seeds.c lists them).
"$raw_tool" "$work/restore_raw"

mkdir -p corpus/seeds
for target in save_session roundtrip restore differential restore_raw; do
    rm -rf "corpus/seeds/$target.new"
    cp -r "$work/$target" "corpus/seeds/$target.new"
    rm -rf "corpus/seeds/$target"
    mv "corpus/seeds/$target.new" "corpus/seeds/$target"
    echo "corpus/seeds/$target: $(find "corpus/seeds/$target" -type f | wc -l) seeds"
done
