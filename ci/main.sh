#!/usr/bin/env bash
# The main job: run the clause suite of docs/SPEC.md against an implementation (the reference
# plug-in unless --impl names another), fuzz every fuzz target against it with libFuzzer
# (ASan+UBSan) for a short budget each (ci/fuzz.sh; the corpora in build/fuzz/ are kept and grow
# from run to run), and a short save/restore benchmark. The suite runs in the asan preset's
# build (build/asan), built once for any number of plug-ins: the plug-in is passed at run time
# (VMBSAVE_PLUGIN), never configured in.
set -euo pipefail

usage() {
    cat <<'TXT'
usage: ci/main.sh [--impl LIB.so] [--fuzz-seconds N] [--no-fuzz] [--bench-mib N] [--no-bench]
  --impl LIB.so      plug-in to check (exports vmbsave_get_interface); a bare name means
                     ./name. With it, only the conformance suite runs (ctest -L conformance,
                     VMBSAVE_PLUGIN=LIB.so); without it, the reference is checked and vmbsave's
                     own tests run too (every ctest label). The suite section ends with the
                     line "N of M clauses pass" (M: the clauses the conformance suite tests; a
                     clause passes when all its tests pass). The fuzzers load the plug-in into
                     a clang ASan process: build it without a sanitizer, or with clang's ASan
                     (a gcc ASan runtime cannot be mixed in)
  --fuzz-seconds N   libFuzzer budget per fuzz target (1..86400, default 30)
  --no-fuzz          skip fuzzing
  --bench-mib N      size of the benchmark channel in MiB (1..512, default 16)
  --no-bench         skip the benchmark
exit status: 0 every test run passed and fuzzing found nothing; 1 a test failed or a fuzzer
found a violation (each finding's file and replay command are printed); 2 usage or setup error
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
    # A path, made absolute; a bare name is a file here (dirname: .), never a library search.
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

# clause_summary BUILD_DIR JUNIT_XML: prints the clauses of the conformance suite that did not
# pass, then "N of M clauses pass". M counts distinct clause IDs among the tests labelled
# conformance (a test named <ID>#2 belongs to clause <ID>); N those whose every test ran and
# passed (a skipped or not-run test is not a pass). Statuses come from ctest's JUnit file.
clause_summary() {
    ctest --test-dir "$1" -N -L conformance | sed -n 's/^ *Test *#[0-9]*: //p' |
        awk -v junit="$2" '
            BEGIN {
                while ((getline line < junit) > 0) {
                    if (line !~ /<testcase /) continue
                    name = line; sub(/.*<testcase name="/, "", name); sub(/".*/, "", name)
                    status = line; sub(/.* status="/, "", status); sub(/".*/, "", status)
                    result[name] = status
                }
            }
            {
                name = $0; id = name; sub(/#[0-9]+$/, "", id)
                if (!(id in seen)) { seen[id] = 1; order[++m] = id; ok[id] = 1 }
                status = (name in result) ? result[name] : "missing"
                if (status != "run") {
                    ok[id] = 0
                    status = status == "fail" ? "failed" : status == "notrun" ? "skipped or not run" : status == "missing" ? "no result" : status
                    why[id] = why[id] (why[id] == "" ? "" : ", ") (name == id ? status : name " " status)
                }
            }
            END {
                n = 0
                for (i = 1; i <= m; i++)
                    if (ok[order[i]]) n++
                    else print "clause not passed: " order[i] " (" why[order[i]] ")"
                printf "%d of %d clauses pass\n", n, m
            }'
}

build=build/asan
junit=$PWD/$build/main-junit.xml
if [ -n "$impl" ]; then
    section "conformance suite against $impl (ASan + UBSan harness)"
    labels=(-L conformance)
else
    section "conformance suite against the reference plug-in, and vmbsave's own tests (ASan + UBSan)"
    labels=()
fi
cmake --preset asan >/dev/null || exit 2
cmake --build --preset asan --parallel "$jobs" >/dev/null || exit 2
suite=0
rm -f "$junit"
# VMBSAVE_PLUGIN reaches the conformance tests only: ctest gives every selftest the reference.
VMBSAVE_PLUGIN="$impl" ctest --test-dir "$build" "${labels[@]}" --output-on-failure \
    --no-label-summary --parallel "$jobs" --output-junit "$junit" || suite=1
[ -f "$junit" ] || { echo "ci/main.sh: ctest wrote no $junit" >&2; exit 2; }
clause_summary "$build" "$junit"

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
