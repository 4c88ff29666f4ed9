#!/usr/bin/env bash
# The nightly coverage report: builds the fuzz targets with clang's source-based coverage (preset
# "coverage": -fprofile-instr-generate -fcoverage-mapping, the plain replay driver, no
# sanitizer), replays the corpora through every target, merges the profiles with llvm-profdata,
# writes llvm-cov's HTML report of reference/ and harness/ to OUT/coverage/ (index.html;
# summary.json is llvm-cov export -summary-only) and sets OUT/report.json's "coverage" to
# {"html": "coverage/index.html", "line_percent", "branch_percent"} (from that summary).
#
# usage: ci/nightly/coverage.sh OUT [--corpus DIR]... [--build-dir DIR] [--jobs N]
#   --corpus DIR     a corpus folder with one subfolder per fuzz target (DIR/<target>/, its
#                    files at any depth, symbolic links followed, names starting with '.' left
#                    out), repeatable; default: OUT/corpus (the night's final corpora, as
#                    ci/main.sh leaves them) when it is there, else the checkout's corpus/seeds
#                    and corpus/regressions
#   --build-dir DIR  where the coverage build goes (default build/coverage of the checkout)
#   --jobs N         parallel build and replay jobs (default: nproc)
#
# The llvm tools are the ones of clang's version (llvm-profdata-14 beside clang 14, as Debian
# ships them; the unversioned name if that is all there is). An input that crashes or fails a
# target loses only its batch's counts (counts are written at exit): the number of such batches
# is printed, and the report is made from the rest. A batch gets 600 s.
#
# Limits: at most 100000 inputs per target (the replay driver's cap on a folder), each at most
# what the driver accepts (it refuses larger ones).
#
# Exit status: 0 the report is written (or --help); 2 a usage error, no OUT/report.json or not JSON, a
# missing --corpus folder, a missing tool, a failed build, no input replayed, or a failed
# llvm-cov. OUT/coverage/ and report.json are replaced only when the new ones are complete
# (each built beside it, then renamed).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
max_inputs=100000
batch=64

die() {
    echo "coverage.sh: $*" >&2
    exit 2
}
usage() { # STATUS: 0 (--help) prints to stdout, anything else to stderr
    if [ "$1" -eq 0 ]; then
        sed -n '/^# usage:/,/^#   --jobs/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    else
        sed -n '/^# usage:/,/^#   --jobs/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    fi
    exit "$1"
}

[ "$#" -ge 1 ] || usage 2
case $1 in -h | --help) usage 0 ;; -*) die "the first argument is the output folder, not $1" ;; esac
out=$1
shift
corpora=()
build=$src/build/coverage
jobs=$(nproc 2>/dev/null || echo 2)
while [ "$#" -gt 0 ]; do
    case $1 in
    --corpus)
        [ "$#" -ge 2 ] || die "--corpus needs a folder"
        [ -d "$2" ] || die "--corpus $2: no such folder"
        corpora+=("$(cd "$2" && pwd)")
        shift 2
        ;;
    --build-dir)
        [ "$#" -ge 2 ] || die "--build-dir needs a folder"
        build=$2
        shift 2
        ;;
    --jobs)
        [[ "${2:-}" =~ ^[1-9][0-9]{0,2}$ ]] || die "--jobs needs a number from 1 to 999"
        jobs=$2
        shift 2
        ;;
    -h | --help) usage 0 ;;
    *) die "unknown argument $1 (usage: coverage.sh OUT [--corpus DIR]... [--build-dir DIR] [--jobs N])" ;;
    esac
done
[ -d "$out" ] || die "$out: no such folder"
if [ "${#corpora[@]}" -eq 0 ]; then
    if [ -d "$out/corpus" ]; then
        corpora=("$(cd "$out/corpus" && pwd)")
    else
        corpora=("$src/corpus/seeds" "$src/corpus/regressions")
    fi
fi
[ -f "$out/report.json" ] || die "$out/report.json: missing (the pipeline writes it first)"
# report.json's limit is report.sh's (16 MiB).
[ "$(stat -c %s -- "$out/report.json")" -le $((16 * 1024 * 1024)) ] || die "$out/report.json: larger than 16 MiB"
jq empty "$out/report.json" 2>/dev/null || die "$out/report.json: not valid JSON"

# ---- Tools: llvm-profdata and llvm-cov of clang's own version --------------------------------
command -v clang >/dev/null || die "clang not found (ci/lib/deps.sh installs it)"
clang_major=$(clang -dumpversion | cut -d. -f1)
tool() { # NAME: the versioned tool, else the unversioned one if it is of the same version
    if command -v "$1-$clang_major" >/dev/null; then
        echo "$1-$clang_major"
    elif command -v "$1" >/dev/null && "$1" --version 2>/dev/null | grep -q "LLVM version $clang_major\."; then
        echo "$1"
    else
        die "$1-$clang_major not found (apt-get install llvm-$clang_major, or llvm)"
    fi
}
profdata=$(tool llvm-profdata)
llvm_cov=$(tool llvm-cov)

# ---- The coverage build ---------------------------------------------------------------------
echo "coverage.sh: building the fuzz targets with coverage in $build"
(cd "$src" && cmake --preset coverage -B "$build" >"$out/.coverage-configure.log" 2>&1) ||
    { tail -n 20 "$out/.coverage-configure.log" >&2; die "configuring the coverage build failed"; }
cmake --build "$build" --target vmbsave_fuzzers --parallel "$jobs" >"$out/.coverage-build.log" 2>&1 ||
    { tail -n 30 "$out/.coverage-build.log" >&2; die "the coverage build failed"; }
rm -f "$out/.coverage-configure.log" "$out/.coverage-build.log"
mapfile -t targets <"$build/fuzzers/fuzz_targets.txt"

# ---- Replay ---------------------------------------------------------------------------------
tmp=$(mktemp -d "$out/.coverage.XXXXXX") || die "cannot write in $out"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/profiles"
objects=()
total=0
for t in "${targets[@]}"; do
    bin=$build/fuzzers/fuzz_$t
    [ -x "$bin" ] || die "$bin was not built"
    : >"$tmp/$t.list"
    for c in "${corpora[@]}"; do
        [ -d "$c/$t" ] || continue
        # -L: a corpus store's DIR/<target> may be a link to its current generation.
        find -L "$c/$t" -type f ! -name '.*' >>"$tmp/$t.list"
    done
    n=$(wc -l <"$tmp/$t.list")
    [ "$n" -le "$max_inputs" ] || die "$n inputs for $t, more than $max_inputs"
    [ "$n" -gt 0 ] || { echo "coverage.sh: no inputs for $t"; continue; }
    objects+=("$bin")
    total=$((total + n))
    # Each batch its own profile (%p): a batch that dies writes none, the others are whole.
    LLVM_PROFILE_FILE="$tmp/profiles/$t-%p.profraw" FAILED_LIST="$tmp/failed" \
        xargs -d '\n' -n "$batch" -P "$jobs" \
        sh -c 'timeout 600 "$0" "$@" >/dev/null 2>&1 || echo "$0" >>"$FAILED_LIST"' "$bin" <"$tmp/$t.list"
    echo "coverage.sh: $t: replayed $n inputs"
done
[ "$total" -gt 0 ] || die "no input to replay (corpora: ${corpora[*]})"
failed=0
[ ! -f "$tmp/failed" ] || failed=$(wc -l <"$tmp/failed")
[ "$failed" -eq 0 ] || echo "coverage.sh: warning: $failed batch(es) of $batch inputs failed or crashed; their counts are lost" >&2
compgen -G "$tmp/profiles/*.profraw" >/dev/null || die "no profile was written (every batch failed)"

# ---- Merge, report, summary -----------------------------------------------------------------
"$profdata" merge -sparse "$tmp"/profiles/*.profraw -o "$tmp/merged.profdata" || die "llvm-profdata merge failed"
cov_args=(-instr-profile "$tmp/merged.profdata" "${objects[0]}")
for o in "${objects[@]:1}"; do cov_args+=(-object "$o"); done
sources=("$src/reference" "$src/harness")
"$llvm_cov" show -format=html -output-dir "$tmp/coverage" -show-branches=count -show-line-counts-or-regions \
    -project-title="vmbsave: reference/ and harness/ over the nightly corpora" \
    "${cov_args[@]}" "${sources[@]}" >/dev/null 2>"$tmp/show.log" ||
    { cat "$tmp/show.log" >&2; die "llvm-cov show failed"; }
"$llvm_cov" export -summary-only "${cov_args[@]}" "${sources[@]}" >"$tmp/coverage/summary.json" 2>"$tmp/export.log" ||
    { cat "$tmp/export.log" >&2; die "llvm-cov export failed"; }
[ -s "$tmp/coverage/index.html" ] || die "llvm-cov wrote no index.html"
totals=$(jq -c '.data[0].totals | {line_percent: (.lines.percent * 100 | round / 100),
                                   branch_percent: (.branches.percent * 100 | round / 100)}' "$tmp/coverage/summary.json") ||
    die "llvm-cov's summary has no totals"

# ---- Into OUT -------------------------------------------------------------------------------
jq --argjson t "$totals" '.coverage = ({html: "coverage/index.html"} + $t)' "$out/report.json" >"$tmp/report.json"
rm -rf "$out/.coverage-old"
[ ! -e "$out/coverage" ] || mv "$out/coverage" "$out/.coverage-old"
mv "$tmp/coverage" "$out/coverage"
rm -rf "$out/.coverage-old"
mv -f "$tmp/report.json" "$out/report.json"
echo "coverage.sh: $total inputs over ${#objects[@]} targets: $(jq -r '"\(.line_percent) % of lines, \(.branch_percent) % of branches"' <<<"$totals") of reference/ and harness/; $out/coverage/index.html"
