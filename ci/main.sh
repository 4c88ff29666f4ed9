#!/usr/bin/env bash
# The main job: run the clause suite of docs/SPEC.md against an implementation (the reference
# plug-in unless --impl names another) and a short save/restore benchmark. Fuzzing joins this
# job when the fuzz targets land.
set -euo pipefail

usage() {
    cat <<'TXT'
usage: ci/main.sh [--impl LIB.so] [--bench-mib N] [--no-bench]
  --impl LIB.so    plug-in to check (exports vmbsave_get_interface); default: the reference
  --bench-mib N    size of the benchmark channel in MiB (1..512, default 16)
  --no-bench       skip the benchmark
exit status: 0 every clause test passed; 1 a clause test failed; 2 usage or setup error
TXT
}

impl=""
bench_mib=16
run_bench=1
while [ $# -gt 0 ]; do
    case "$1" in
    --impl) [ $# -ge 2 ] || { echo "ci/main.sh: --impl needs a path" >&2; exit 2; }
        impl=$2; shift 2 ;;
    --bench-mib) [ $# -ge 2 ] || { echo "ci/main.sh: --bench-mib needs a number" >&2; exit 2; }
        bench_mib=$2; shift 2 ;;
    --no-bench) run_bench=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "ci/main.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
if ! [[ "$bench_mib" =~ ^[0-9]+$ ]] || [ "$bench_mib" -lt 1 ] || [ "$bench_mib" -gt 512 ]; then
    echo "ci/main.sh: --bench-mib must be a whole number from 1 to 512" >&2
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

if [ "$run_bench" -eq 1 ]; then
    section "benchmark: save/restore of a ${bench_mib} MiB channel vs memcpy (reference)"
    cmake --preset release >/dev/null || exit 2
    cmake --build --preset release --target bench_save_restore --parallel "$jobs" >/dev/null || exit 2
    build/release/bench/bench_save_restore --mib "$bench_mib" --reps 3 || exit 2
fi
exit "$suite"
