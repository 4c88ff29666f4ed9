#!/usr/bin/env bash
# The main job: run the clause suite of docs/SPEC.md against an implementation (the reference
# plug-in unless --impl names another), fuzz every fuzz target against it with libFuzzer
# (ASan+UBSan) for a short budget each (ci/fuzz.sh; the corpora in build/fuzz/ are kept and grow
# from run to run), and a short save/restore benchmark.
set -euo pipefail

usage() {
    cat <<'TXT'
usage: ci/main.sh [--impl LIB.so] [--fuzz-seconds N] [--no-fuzz] [--bench-mib N] [--no-bench]
  --impl LIB.so      plug-in to check (exports vmbsave_get_interface); default: the reference.
                     The fuzzers load it into a clang ASan process: build it without a
                     sanitizer, or with clang's ASan (a gcc ASan runtime cannot be mixed in)
  --fuzz-seconds N   libFuzzer budget per fuzz target (1..86400, default 30)
  --no-fuzz          skip fuzzing
  --bench-mib N      size of the benchmark channel in MiB (1..512, default 16)
  --no-bench         skip the benchmark
exit status: 0 every clause test passed and fuzzing found nothing; 1 a clause test failed or a
fuzzer found a violation (each finding's file and replay command are printed); 2 usage or
setup error
TXT
}

impl=""
bench_mib=16
run_bench=1
fuzz_seconds=30
run_fuzz=1
while [ $# -gt 0 ]; do
    case "$1" in
    --impl) [ $# -ge 2 ] || { echo "ci/main.sh: --impl needs a path" >&2; exit 2; }
        impl=$2; shift 2 ;;
    --bench-mib) [ $# -ge 2 ] || { echo "ci/main.sh: --bench-mib needs a number" >&2; exit 2; }
        bench_mib=$2; shift 2 ;;
    --no-bench) run_bench=0; shift ;;
    --fuzz-seconds) [ $# -ge 2 ] || { echo "ci/main.sh: --fuzz-seconds needs a number" >&2; exit 2; }
        fuzz_seconds=$2; shift 2 ;;
    --no-fuzz) run_fuzz=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "ci/main.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
if ! [[ "$bench_mib" =~ ^[0-9]+$ ]] || [ "$bench_mib" -lt 1 ] || [ "$bench_mib" -gt 512 ]; then
    echo "ci/main.sh: --bench-mib must be a whole number from 1 to 512" >&2
    exit 2
fi
if ! [[ "$fuzz_seconds" =~ ^[0-9]+$ ]] || [ "$fuzz_seconds" -lt 1 ] || [ "$fuzz_seconds" -gt 86400 ]; then
    echo "ci/main.sh: --fuzz-seconds must be a whole number from 1 to 86400" >&2
    exit 2
fi
if [ -n "$impl" ]; then
    [ -f "$impl" ] || { echo "ci/main.sh: --impl $impl: no such file" >&2; exit 2; }
    impl=$(cd "$(dirname "$impl")" && pwd)/$(basename "$impl")
fi

cd "$(dirname "${BASH_SOURCE[0]}")/.."
jobs=$(nproc 2>/dev/null || echo 2)
section() { printf '\n==== %s ====\n' "$*"; }

section "dependencies"
# shellcheck source=ci/lib/deps.sh
. ci/lib/deps.sh
vmbsave_install_deps

section "clause suite against ${impl:-the reference plug-in} (ASan + UBSan harness)"
# Its own build directory, so a vendor's plug-in path never leaks into the asan preset's cache.
cmake --preset asan -B build/main -DVMBSAVE_TEST_PLUGIN="$impl" >/dev/null || exit 2
cmake --build build/main --parallel "$jobs" >/dev/null || exit 2
suite=0
ctest --test-dir build/main --output-on-failure --no-label-summary --parallel "$jobs" || suite=1

if [ "$run_fuzz" -eq 1 ]; then
    # shellcheck source=ci/lib/fuzz-files.sh
    . ci/lib/fuzz-files.sh
    mapfile -t fuzz_targets < <(vmbsave_fuzz_targets .)
    fuzz_failed=()
    for t in "${fuzz_targets[@]}"; do
        section "fuzz: libFuzzer on $t for ${fuzz_seconds} s against ${impl:-the reference}"
        rc=0
        VMBSAVE_FUZZ_IMPL="$impl" ci/fuzz.sh libfuzzer "$t" "$fuzz_seconds" || rc=$?
        [ "$rc" -eq 2 ] && exit 2
        [ "$rc" -ne 0 ] && fuzz_failed+=("$t")
    done
    section "fuzz: summary"
    if [ "${#fuzz_failed[@]}" -eq 0 ]; then
        echo "no finding in ${#fuzz_targets[@]} targets x ${fuzz_seconds} s"
    else
        suite=1
        for t in "${fuzz_failed[@]}"; do
            echo "FINDING (or failed run) in $t: build/fuzz/libfuzzer-$t/findings/"
            echo "  replay: build/fuzz-libfuzzer/fuzzers/fuzz_$t FILE (first line names the clause)"
        done
    fi
fi

if [ "$run_bench" -eq 1 ]; then
    section "benchmark: save/restore of a ${bench_mib} MiB channel vs memcpy (reference)"
    cmake --preset release >/dev/null || exit 2
    cmake --build --preset release --target bench_save_restore --parallel "$jobs" >/dev/null || exit 2
    build/release/bench/bench_save_restore --mib "$bench_mib" --reps 3 || exit 2
fi
exit "$suite"
