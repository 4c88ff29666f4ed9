#!/usr/bin/env bash
# The harness's own mutation score (issue 12 item 6): single-point mutants of reference/*.c, each
# built into a plug-in and put through the quick detection; a mutant the harness does not tell
# from the reference is a blind spot of the harness (or an equivalent mutant, listed with its
# reason in ci/mutation-equivalent.tsv).
#
# usage: ci/mutation.sh [--sample N] [--seed S] [--jobs N] [--out DIR] [--timeout SECONDS]
#                       [--build DIR] [--no-build] [--mutant ID]... [--list]
#                       [--equivalent FILE] [--only-exe NAME]... [--no-seeds]
#   --sample N      mutants drawn from all of them, 1 to 100000 (default 100); the draw is a
#                   pure function of the sources and the seed
#   --seed S        the draw's seed, 0 to 2^32-1 (default 1)
#   --jobs N        mutants checked at once, 1 to 64 (default 1)
#   --out DIR       where the results go (default build/mutation): mutants.tsv, summary.json,
#                   survivors.txt, each written to a temporary file and renamed. Each mutant's
#                   verdict is kept in DIR/.partial/ as it comes: a run stopped half way and
#                   started again with the same options takes up where it stopped
#   --timeout SEC   per mutant, for the whole detection, 10 to 86400 (default 900); a mutant
#                   that runs out of it counts as killed (it hangs)
#   --build DIR     the build whose suite and fuzz targets detect (default build/asan, built
#                   first with `cmake --preset asan` unless --no-build)
#   --mutant ID     check exactly this mutant (repeatable; overrides --sample); IDs as --list
#                   prints them: FILE:LINE:COL:KIND, e.g. restore.c:202:15:rel
#   --list          print every mutant (ID, file, line, col, kind, from, to) and exit
#   --equivalent F  the list of equivalent mutants (default ci/mutation-equivalent.tsv)
#   --only-exe NAME run only this executable of the suite (repeatable), and --no-seeds: skip
#                   the fuzz targets' seeds; a partial detection, for HARNESS.MUTATION.SMOKE
#
# Mutants (ci/lib/mutants.py): relational operator swaps, && <-> ||, binary + <-> -, integer
# constants +-1, returned statuses changed, one-line statements deleted. Each mutant is its
# reference file with one change, compiled with the flags the build uses for reference/
# (compile_commands.json) and linked with the other reference objects, built once, into a
# plug-in in a private temporary folder that is removed afterwards.
#
# Detection, in this order, stopping at the first that tells the mutant apart (its verdict is
# `killed`, with what killed it):
#   1. the conformance suite, every executable of the build's conformance manifest
#      (tests/conformance-cases.tsv) but the exhaustive checks, each run whole with
#      VMBSAVE_PLUGIN=the mutant: any failed test, crash or sanitizer report;
#   2. every fuzz target's seeds and regressions through the replay driver
#      (VMBSAVE_FUZZ_IMPL=the mutant): any finding of the oracle. A finding of the differential
#      target that is only a disagreement with the reference (`impl-vs-reference-...`) is a
#      difference the contract permits, not a kill; it is noted;
#   3. the exhaustive checks (test_exhaustive), last because they take longest.
# A mutant that runs out of --timeout is killed with the detail "timeout" (counted apart in
# summary.json: on a loaded machine, give a generous --timeout).
# Other verdicts: `survived`; `equivalent` (listed in ci/mutation-equivalent.tsv: not run);
# `stillborn` (does not compile; not counted; mutants are compiled without -Werror, so only
# an error makes one). Score = killed / (total - equivalent - stillborn).
#
# Exit status: 0 done (survivors are reported, not an error); 1 the build or a tool failed;
# 2 usage.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"

usage() { sed -n '/^# usage:/,/^# Exit status/p' "$0" | sed 's/^# \{0,1\}//'; }
die_usage() {
    echo "mutation.sh: $*" >&2
    echo "usage: ci/mutation.sh [--sample N] [--seed S] [--jobs N] [--out DIR] ... (--help)" >&2
    exit 2
}
die() {
    echo "mutation.sh: $*" >&2
    exit 1
}
is_uint() { [[ "$1" =~ ^[0-9]{1,10}$ ]]; }

sample=100
seed=1
jobs=1
out=build/mutation
timeout_s=900
build=build/asan
do_build=1
list_only=0
mutant_ids=()
equivalents=ci/mutation-equivalent.tsv
only_exes=()
seeds=1
while [ "$#" -gt 0 ]; do
    case "$1" in
    -h | --help) usage; exit 0 ;;
    --sample | --seed | --jobs | --out | --timeout | --build | --mutant | --equivalent | --only-exe)
        [ "$#" -ge 2 ] || die_usage "$1 needs a value"
        case "$1" in
        --sample) is_uint "$2" && [ "$2" -ge 1 ] && [ "$2" -le 100000 ] ||
            die_usage "--sample: 1 to 100000, not '$2'"; sample=$2 ;;
        --seed) is_uint "$2" && [ "$2" -le 4294967295 ] ||
            die_usage "--seed: 0 to 4294967295, not '$2'"; seed=$2 ;;
        --jobs) is_uint "$2" && [ "$2" -ge 1 ] && [ "$2" -le 64 ] ||
            die_usage "--jobs: 1 to 64, not '$2'"; jobs=$2 ;;
        --timeout) is_uint "$2" && [ "$2" -ge 10 ] && [ "$2" -le 86400 ] ||
            die_usage "--timeout: 10 to 86400 seconds, not '$2'"; timeout_s=$2 ;;
        --out) [ -n "$2" ] || die_usage "--out: empty"; out=$2 ;;
        --equivalent) [ -f "$2" ] || die_usage "--equivalent: no file '$2'"; equivalents=$2 ;;
        --only-exe) [[ "$2" =~ ^test_[a-z_]+$ ]] || die_usage "--only-exe: test_NAME, not '$2'"
            only_exes+=("$2") ;;
        --build) [ -n "$2" ] || die_usage "--build: empty"; build=$2; do_build=0 ;;
        --mutant) [[ "$2" =~ ^[a-z_]+\.c:[0-9]+:[0-9]+:[a-z+-1]+$ ]] ||
            die_usage "--mutant: FILE:LINE:COL:KIND, not '$2'"; mutant_ids+=("$2") ;;
        esac
        shift 2 ;;
    --no-build) do_build=0; shift ;;
    --no-seeds) seeds=0; shift ;;
    --list) list_only=1; shift ;;
    *) die_usage "unknown argument '$1'" ;;
    esac
done

for tool in python3 jq timeout; do
    command -v "$tool" >/dev/null || die "$tool not found (apt-get install ${tool/python3/python3})"
done

sources=(reference/*.c)
all=$(python3 ci/lib/mutants.py list "${sources[@]}") || die "listing mutants failed"
if [ "$list_only" = 1 ]; then
    printf '%s\n' "$all"
    exit 0
fi

# ---- The suite that detects -----------------------------------------------------------------
if [ "$build" = build/asan ] && [ "$do_build" = 1 ]; then
    cmake --preset asan >/dev/null || die "cmake --preset asan failed"
    cmake --build build/asan -j"$jobs" >/dev/null || die "cmake --build build/asan failed"
fi
build=$(cd "$build" 2>/dev/null && pwd) || die "no build folder '$build'"
manifest=$build/tests/conformance-cases.tsv
[ -f "$manifest" ] || die "$manifest missing: build $build first"
[ -f "$build/compile_commands.json" ] || die "$build/compile_commands.json missing"
# Executables of the suite, in manifest order, the exhaustive checks last (they take longest).
mapfile -t suite_exes < <(awk -F'\t' '!/^#/ && NF >= 6 && !seen[$5]++ { print $5 }' "$manifest" |
    awk '/test_exhaustive$/ { last = last $0 "\n"; next } { print } END { printf "%s", last }')
if [ "${#only_exes[@]}" -gt 0 ]; then
    kept=()
    for exe in "${suite_exes[@]}"; do
        for o in "${only_exes[@]}"; do [ "$(basename "$exe")" != "$o" ] || kept+=("$exe"); done
    done
    [ "${#kept[@]}" = "${#only_exes[@]}" ] || die_usage "--only-exe: not all of ${only_exes[*]} are in $manifest"
    suite_exes=("${kept[@]}")
fi
[ "${#suite_exes[@]}" -gt 0 ] || die "$manifest lists no executable"
fuzz_targets=(save_session roundtrip restore restore_raw differential)
for t in "${fuzz_targets[@]}"; do
    [ -x "$build/fuzzers/fuzz_$t" ] || die "$build/fuzzers/fuzz_$t missing (a replay-driver build)"
done
# The order of the detection: the suite, the seeds, and the exhaustive checks last (they take
# longest, and only a mutant that survived the rest pays for them).
steps=()
for exe in "${suite_exes[@]}"; do
    [[ "$exe" == */test_exhaustive ]] || steps+=("$exe")
done
if [ "$seeds" = 1 ]; then
    for t in "${fuzz_targets[@]}"; do steps+=("seeds:$t"); done
fi
for exe in "${suite_exes[@]}"; do
    [[ "$exe" != */test_exhaustive ]] || steps+=("$exe")
done

# ---- The draw ---------------------------------------------------------------------------------
if [ "${#mutant_ids[@]}" -gt 0 ]; then
    chosen=$(for id in "${mutant_ids[@]}"; do
        line=$(awk -F'\t' -v id="$id" '$1 == id' <<<"$all" | head -n 1)
        [ -n "$line" ] || { echo "mutation.sh: no mutant $id (see --list)" >&2; exit 2; }
        printf '%s\n' "$line"
    done) || exit 2
else
    chosen=$(python3 -c '
import random, sys
rows = [l for l in sys.stdin.read().split("\n") if l]
k = min(int(sys.argv[2]), len(rows))
for i in sorted(random.Random(int(sys.argv[1])).sample(range(len(rows)), k)):
    print(rows[i])' "$seed" "$sample" <<<"$all")
fi

# ---- A work folder removed on any exit --------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/vmbsave-mutation.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

# Compile flags of reference/ from the build: the command of reference/restore.c without its
# compiler, output and input.
ref_cmd=$(jq -r --arg f "$here/reference/restore.c" \
    '[.[] | select(.file == $f)][0].command // empty' "$build/compile_commands.json")
[ -n "$ref_cmd" ] || die "reference/restore.c not in $build/compile_commands.json"
read -r -a ref_words <<<"$ref_cmd"
cc=${ref_words[0]}
cflags=()
skip=0
for w in "${ref_words[@]:1}"; do
    if [ "$skip" = 1 ]; then skip=0; continue; fi
    # A mutant need not be warning-free (a && inside || wants parentheses): no -Werror.
    case "$w" in -o | -c) skip=1 ;; -Werror) ;; *) cflags+=("$w") ;; esac
done
mkdir -p "$work/base"
for src in "${sources[@]}" reference/plugin.c; do
    "$cc" "${cflags[@]}" -o "$work/base/$(basename "$src" .c).o" -c "$src" ||
        die "compiling $src failed"
done

# ---- One mutant -------------------------------------------------------------------------------
# check_mutant ROW RESULT_FILE: writes "verdict<TAB>why" to RESULT_FILE.
check_mutant() {
    local row=$1 result=$2 id path line col kind from to
    IFS=$'\t' read -r id path line col kind from to <<<"$row"
    local dir
    dir=$(mktemp -d "$work/m.XXXXXX")
    local base name
    name=$(basename "$path" .c)
    if [ "$kind" = none ]; then
        cp "$work/base/$name.o" "$dir/$name.o"
    elif ! python3 ci/lib/mutants.py apply "$path" "$line" "$col" "$from" "$to" "$dir/$name.c" ||
        ! "$cc" "${cflags[@]}" -o "$dir/$name.o" -c "$dir/$name.c" \
            2>"$dir/cc.log"; then
        printf 'stillborn\t%s\n' "$(grep -m1 'error' "$dir/cc.log" | cut -c1-160)" >"$result"
        rm -rf "$dir"
        return 0
    fi
    local objs=()
    for base in "$work"/base/*.o; do
        [ "$(basename "$base" .o)" = "$name" ] || objs+=("$base")
    done
    "$cc" "${cflags[@]}" -shared -Wl,--version-script="$here/reference/plugin.map" \
        -o "$dir/libmutant.so" "$dir/$name.o" "${objs[@]}" 2>"$dir/cc.log" ||
        { printf 'stillborn\tlink: %s\n' "$(head -c 160 "$dir/cc.log")" >"$result"; rm -rf "$dir"; return 0; }

    local deadline=$((SECONDS + timeout_s)) verdict=survived why="" note="" step left rc first
    # Each step in a process group of its own (timeout's), killed with its children when the
    # mutant's time is up; temporary files of the tests go to the mutant's folder.
    for step in "${steps[@]}"; do
        left=$((deadline - SECONDS))
        [ "$left" -gt 0 ] || { verdict=killed; why="timeout"; break; }
        rc=0
        case "$step" in
        seeds:*)
            t=${step#seeds:}
            { (cd "$dir" && TMPDIR=$dir VMBSAVE_FUZZ_IMPL="$dir/libmutant.so" \
                ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
                timeout -k 5 "$left" "$build/fuzzers/fuzz_$t" "$here/corpus/seeds/$t" \
                "$here/corpus/regressions/$t" >"$dir/out.log" 2>&1) || rc=$?; } 2>/dev/null
            [ "$rc" != 0 ] || continue
            first=$(grep -m1 '^vmbsave: ' "$dir/out.log" || true)
            if [ "$t" = differential ] && [[ "$first" == "vmbsave: impl-vs-reference-"* ]]; then
                note="differs: ${first#vmbsave: }"
                continue
            fi
            verdict=killed
            if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
                why="fuzz_$t: timeout"
            else
                why="fuzz_$t: ${first:-exit $rc}"
            fi
            break ;;
        *)
            { (cd "$dir" && TMPDIR=$dir VMBSAVE_PLUGIN="$dir/libmutant.so" \
                VMBSAVE_TEST_DATA_DIR="$here/tests/data" \
                ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
                UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
                timeout -k 5 "$left" "$step" >"$dir/out.log" 2>&1) || rc=$?; } 2>/dev/null
            [ "$rc" != 0 ] || continue
            verdict=killed
            if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
                why="$(basename "$step"): timeout"
            else
                why="$(basename "$step"): $(grep -m1 -E '^\[  FAILED  \] [A-Z]' "$dir/out.log" |
                    sed 's/^\[  FAILED  \] //' || true)"
                [ "$why" != "$(basename "$step"): " ] || why="$(basename "$step"): exit $rc"
            fi
            break ;;
        esac
    done
    [ "$verdict" != survived ] || why=$note
    printf '%s\t%s\n' "$verdict" "$(printf '%s' "$why" | tr '\t\n' '  ' | cut -c1-200)" >"$result"
    rm -rf "$dir"
}

# ---- The control: the unmutated reference must pass the whole detection ----------------------
# Otherwise every mutant would count as killed.
check_mutant "control	reference/restore.c	0	0	none	-	-" "$work/control.res"
IFS=$'\t' read -r verdict detail <"$work/control.res"
[ "$verdict" = survived ] ||
    die "the detection fails the unmutated reference ($verdict: $detail); fix that first"

# ---- Run the draw -----------------------------------------------------------------------------
# Verdicts as they come, kept across an interrupted run (a row file that differs is redone).
results=$out/.partial
mkdir -p "$results"
n=0
running=0
keys=()
while IFS= read -r row; do
    [ -n "$row" ] || continue
    n=$((n + 1))
    IFS=$'\t' read -r id path line col kind from to <<<"$row"
    mutation="col $col: '$from' -> '$to'"
    key=$(printf '%06d' "$n")
    keys+=("$key")
    if [ -f "$results/$key.res" ] && [ "$(cat "$results/$key.row" 2>/dev/null)" = "$row" ]; then
        continue
    fi
    rm -f "$results/$key.res"
    printf '%s\n' "$row" >"$results/$key.row"
    reason=$(awk -F'\t' -v f="$(basename "$path")" -v l="$line" -v m="$mutation" \
        '!/^#/ && $1 == f && $2 == l && $3 == m { print $4; exit }' "$equivalents" 2>/dev/null || true)
    if [ -n "$reason" ]; then
        printf 'equivalent\t%s\n' "$reason" >"$results/$key.res"
        continue
    fi
    # Written under a temporary name and renamed: a killed run leaves no half verdict.
    (check_mutant "$row" "$results/$key.res.tmp" && mv -f "$results/$key.res.tmp" "$results/$key.res") &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n || true
        running=$((running - 1))
    fi
done <<<"$chosen"
wait

# ---- Report -----------------------------------------------------------------------------------
mkdir -p "$out"
tsv=$work/mutants.tsv
printf 'id\tfile\tline\tkind\tmutation\tverdict\tdetail\n' >"$tsv"
for key in "${keys[@]}"; do
    rowf=$results/$key.row
    IFS=$'\t' read -r id path line col kind from to <"$rowf"
    res=${rowf%.row}.res
    [ -f "$res" ] || printf 'error\tno result\n' >"$res"
    IFS=$'\t' read -r verdict detail <"$res" || true
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$id" "$path" "$line" "$kind" \
        "col $col: '$from' -> '$to'" "$verdict" "${detail:-}" >>"$tsv"
done
count() { awk -F'\t' -v v="$1" 'NR > 1 && $6 == v' "$tsv" | wc -l; }
total=$(($(wc -l <"$tsv") - 1))
killed=$(count killed)
survived=$(count survived)
equivalent=$(count equivalent)
stillborn=$(count stillborn)
errors=$(count error)
timeouts=$(awk -F'\t' 'NR > 1 && $6 == "killed" && $7 ~ /timeout$/' "$tsv" | wc -l)
counted=$((total - equivalent - stillborn))
jq -n --argjson total "$total" --argjson killed "$killed" --argjson survived "$survived" \
    --argjson equivalent "$equivalent" --argjson stillborn "$stillborn" --argjson errors "$errors" \
    --argjson timeouts "$timeouts" --argjson seed "$seed" --arg commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    --arg build "$build" --argjson partial "$([ "${#only_exes[@]}" -gt 0 ] || [ "$seeds" = 0 ] && echo true || echo false)" \
    --rawfile tsv "$tsv" '
    {commit: $commit, seed: $seed, build: $build, partial_detection: $partial, total: $total, killed: $killed,
     killed_by_timeout: $timeouts, survived: $survived, equivalent: $equivalent, stillborn: $stillborn, errors: $errors,
     score: (if ($total - $equivalent - $stillborn) > 0
             then ($killed / ($total - $equivalent - $stillborn)) else null end),
     survivors: [$tsv | split("\n")[1:][] | select(length > 0) | split("\t")
                 | select(.[5] == "survived")
                 | {id: .[0], file: .[1], line: (.[2] | tonumber), kind: .[3],
                    mutation: .[4], note: .[6]}]}' >"$work/summary.json"
awk -F'\t' 'NR > 1 && $6 == "survived" { print $2 ":" $3 ": " $4 ": " $5 ($7 != "" ? "  (" $7 ")" : "") }' \
    "$tsv" >"$work/survivors.txt"
for f in mutants.tsv summary.json survivors.txt; do
    cp "$work/$f" "$out/.$f.tmp" && mv -f "$out/.$f.tmp" "$out/$f"
done
[ "$errors" != 0 ] || rm -rf "$results" # complete: nothing to resume

if [ "$counted" -gt 0 ]; then
    score=$(awk -v k="$killed" -v c="$counted" 'BEGIN { printf "%.1f %%", 100 * k / c }')
else
    score="n/a"
fi
echo "mutation score: $killed killed of $counted ($score); $total mutants: $survived survived," \
    "$equivalent equivalent, $stillborn stillborn, $errors errors (seed $seed);" \
    "$timeouts of the killed by timeout"
if [ "$survived" -gt 0 ]; then
    echo "survivors:"
    sed 's/^/  /' "$work/survivors.txt"
fi
echo "results: $out/mutants.tsv, $out/summary.json"
[ "$errors" = 0 ] || exit 1
