#!/usr/bin/env bash
# HARNESS.PROGRAM.DECODE_FUZZ: a short libFuzzer run of fuzzers/program_codec.c (the program
# codec: decode, encode, print, parse). Builds the target with clang's libFuzzer, whatever
# compiler built the rest of the tree, then runs it for a fixed time from a fixed seed.
#
# usage: fuzz_program_codec.sh SOURCE_DIR OUTPUT_DIR [SECONDS]
#
# Fails when clang or libFuzzer is missing (apt-get install clang libclang-rt-14-dev, as
# ci/lib/deps.sh does), when the target does not build, when libFuzzer reports a crash, or when
# fewer than VMBSAVE_FUZZ_MIN_RUNS (10000) inputs ran: a run that executed nothing is no pass.
# A crashing input is kept as OUTPUT_DIR/crash-*; replay it with OUTPUT_DIR/program_codec FILE.
set -euo pipefail

if [ "$#" -lt 2 ] || [ "$#" -gt 3 ]; then
    echo "usage: $0 SOURCE_DIR OUTPUT_DIR [SECONDS]" >&2
    exit 2
fi
src=$1
out=$2
seconds=${3:-20}
min_runs=${VMBSAVE_FUZZ_MIN_RUNS:-10000}
cc=${VMBSAVE_FUZZ_CC:-clang}

if ! command -v "$cc" >/dev/null 2>&1; then
    echo "FAIL: $cc not found; the codec fuzz check needs clang with libFuzzer" \
        "(apt-get install clang libclang-rt-14-dev)" >&2
    exit 1
fi
mkdir -p "$out"
exe="$out/program_codec"
log="$out/program_codec.log"

# The tree's warning flags, and sanitizers that stop at the first error.
if ! "$cc" -std=c11 -g -O1 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
    -I"$src/include" -I"$src/harness" \
    "$src/fuzzers/program_codec.c" "$src/harness/program/program.c" -o "$exe"; then
    echo "FAIL: could not build $exe with $cc -fsanitize=fuzzer (is libclang-rt-14-dev" \
        "installed?)" >&2
    exit 1
fi

# Inputs up to a little over VMBSAVE_PROGRAM_MAX_BYTES (4096), so truncation is exercised.
set +e
"$exe" -seed=1 -max_total_time="$seconds" -max_len=4200 -artifact_prefix="$out/" \
    -print_final_stats=1 >"$log" 2>&1
rc=$?
set -e

if [ "$rc" -ne 0 ]; then
    tail -n 60 "$log" >&2
    echo "FAIL: libFuzzer exited with status $rc (log: $log)" >&2
    exit 1
fi
# libFuzzer's last words: "Done 188366 runs in 21 second(s)".
runs=$(sed -n 's/^Done \([0-9][0-9]*\) runs in .*/\1/p' "$log" | tail -n 1)
if [ -z "$runs" ]; then
    tail -n 20 "$log" >&2
    echo "FAIL: no 'Done N runs' line in $log" >&2
    exit 1
fi
if [ "$runs" -lt "$min_runs" ]; then
    tail -n 20 "$log" >&2
    echo "FAIL: only $runs inputs ran in ${seconds}s (at least $min_runs expected)" >&2
    exit 1
fi
echo "PASS: $runs inputs decoded, re-encoded, printed and parsed without a mismatch"
