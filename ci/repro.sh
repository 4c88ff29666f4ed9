#!/usr/bin/env bash
# usage: ci/repro.sh FILE [--target T] [--impl LIB.so] [--fuzzer]
# Reproduces one finding of the nightly run (ci/main.sh) from a checkout, in one command: it
# builds what it needs (the fuzz-libfuzzer preset: the vmbsave command, or fuzz_T with
# --fuzzer), then replays FILE as fuzz_T's input:
#   default    vmbsave repro --target T [--impl LIB.so] FILE: the numbered call trace, then the
#              verdict (the violated clause, or the signal the implementation died of)
#   --fuzzer   the target's libFuzzer binary on FILE alone (VMBSAVE_FUZZ_IMPL=LIB.so), with
#              the fuzzers' sanitizers and leak detection: for leaks, out-of-memory inputs and
#              differential disagreements (its first line names the clause)
# T defaults to save_session. Relative paths are taken from the current folder; a report's
# "command" lines are written to be run from the checkout's root.
# Exit status: 0 FILE passes; 1 it fails (reproduced); 2 usage, a missing file, or a build
# failure.
set -uo pipefail

usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
die() { echo "ci/repro.sh: $*" >&2; exit 2; }
file="" target=save_session impl="" fuzzer=0
while [ $# -gt 0 ]; do
    case "$1" in
    --target | --impl)
        [ $# -ge 2 ] || die "$1 needs a value"
        [ "$1" = --target ] && target=$2 || impl=$2
        shift 2
        ;;
    --fuzzer) fuzzer=1; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) die "unknown option '$1' (ci/repro.sh --help)" ;;
    *) [ -z "$file" ] || die "one FILE only"; file=$1; shift ;;
    esac
done
[ -n "$file" ] || die "no FILE (ci/repro.sh --help)"
[ -f "$file" ] || die "$file: no such file"
file=$(cd "$(dirname "$file")" && pwd)/$(basename "$file")
if [ -n "$impl" ]; then
    [ -f "$impl" ] || die "--impl $impl: no such file"
    impl=$(cd "$(dirname "$impl")" && pwd)/$(basename "$impl")
fi
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
. ci/lib/fuzz-files.sh
mapfile -t targets < <(vmbsave_fuzz_targets .)
vmbsave_one_of "$target" "${targets[@]}" || die "unknown target '$target' (one of: ${targets[*]})"

what=vmbsave
[ "$fuzzer" -eq 0 ] || what=fuzz_$target
log=build/fuzz-libfuzzer/repro-build.log
mkdir -p build/fuzz-libfuzzer
echo "ci/repro.sh: building $what (preset fuzz-libfuzzer; log $log)" >&2
if ! { cmake --preset fuzz-libfuzzer && cmake --build build/fuzz-libfuzzer --target "$what" \
    --parallel "$(nproc 2>/dev/null || echo 2)"; } >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    die "the build failed (log: $log); ci/lib/deps.sh lists what it needs"
fi
if [ "$fuzzer" -eq 1 ]; then
    timeout_s=$(vmbsave_libfuzzer_option "corpus/$target.options" timeout)
    VMBSAVE_FUZZ_IMPL="$impl" ASAN_OPTIONS="detect_leaks=1:symbolize=1" \
        "build/fuzz-libfuzzer/fuzzers/fuzz_$target" -timeout="${timeout_s:-10}" "$file"
    rc=$?
    [ "$rc" -eq 0 ] || exit 1
    exit 0
fi
exec build/fuzz-libfuzzer/tools/vmbsave/vmbsave repro --target "$target" ${impl:+--impl "$impl"} "$file"
