#!/usr/bin/env bash
# Time to the first failing verdict of `vmbsave certify` for each known-bad plug-in
# (bench/README.md, "certify_first_failure.sh"). For each variant of bench/bug_targets.tsv and
# each master seed 1..N, certify runs (one job, no report) until its first blocking verdict
# (FAIL, CRASH, TIMEOUT, MEMORY_LIMIT) is printed; the time from the start to that line is
# taken and certify's process group is then killed. The baseline, measured in the same run
# with the same options: a whole certification of the reference without search (every case
# passes). Reported per variant: the median over the seeds in seconds, as a ratio to the
# baseline, and the first failing case and clause.
#
# usage: bench/certify_first_failure.sh [--build DIR] [--seeds N] [--variants LIST] [--out FILE.md]
#   --build DIR      a build with vmbsave, the reference and the variants (default build/release)
#   --seeds N        master seeds 1..N per variant (default 3; 1..20)
#   --variants LIST  comma-separated variants (default: every line of bench/bug_targets.tsv)
#   --out FILE.md    also write the table there
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build="$here/build/release"
seeds=3
only=""
out=""
while [ "$#" -gt 0 ]; do
    case $1 in
    --build) build=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --variants) only=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h | --help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "$0: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
case $seeds in '' | *[!0-9]*) echo "$0: --seeds takes 1..20" >&2; exit 2 ;; esac
[ "$seeds" -ge 1 ] && [ "$seeds" -le 20 ] || { echo "$0: --seeds takes 1..20" >&2; exit 2; }
vmbsave="$build/tools/vmbsave/vmbsave"
[ -x "$vmbsave" ] || { echo "$0: $vmbsave not found (cmake --preset release && cmake --build build/release)" >&2; exit 2; }
tmp=$(mktemp -d)
pgid=""
cleanup() {
    [ -z "$pgid" ] || kill -KILL -- "-$pgid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

# Runs certify in a session of its own; prints "SECONDS CASE CLAUSE" at the first blocking
# verdict (then kills the session), or "SECONDS - -" if it ended without one.
first_failure() {
    local lib=$1 seed=$2 fifo="$tmp/fifo"
    rm -f "$fifo"
    mkfifo "$fifo"
    local start=$EPOCHREALTIME
    setsid "$vmbsave" certify --impl "$lib" --seed "$seed" --search-seconds 0 --budget 3600 \
        --case-timeout 60 >"$fifo" 2>&1 &
    local pid=$!
    pgid=$pid
    local line found="- -"
    while IFS= read -r line; do
        # "[k/N] VERDICT CASE (ms): detail"
        if [[ $line =~ ^\[[0-9]+/[0-9]+\]\ +(FAIL|CRASH|TIMEOUT|MEMORY_LIMIT)\ +([^ ]+) ]]; then
            found="${BASH_REMATCH[2]} ${BASH_REMATCH[1]}"
            break
        fi
    done <"$fifo"
    local end=$EPOCHREALTIME
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pgid=""
    echo "$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }') $found"
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "baseline: the reference, whole certification without search"
start=$EPOCHREALTIME
"$vmbsave" certify --impl "$build/reference/libvmbsave_reference.so" --seed 1 --search-seconds 0 \
    --budget 3600 --case-timeout 60 >"$tmp/baseline.log" 2>&1 || { tail -n 5 "$tmp/baseline.log"; echo "$0: the baseline did not certify" >&2; exit 1; }
baseline=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
cases=$(grep -c '^\[' "$tmp/baseline.log" || true)
echo "baseline: $baseline s for $cases cases"

table="| variant | first failing case (verdict) | median s | of baseline |\n|---|---|---|---|\n"
while IFS=$'\t' read -r variant clause _also _targets _why; do
    case $variant in '#'* | variant | '') continue ;; esac
    if [ -n "$only" ] && [[ ",$only," != *",$variant,"* ]]; then continue; fi
    lib="$build/variants/libvmbsave_variant_$variant.so"
    : >"$tmp/times"
    what=""
    for seed in $(seq 1 "$seeds"); do
        read -r secs case verdict < <(first_failure "$lib" "$seed")
        echo "$variant seed $seed: $secs s, $case $verdict"
        if [ "$case" = "-" ]; then echo inf >>"$tmp/times"; else echo "$secs" >>"$tmp/times"; fi
        [ -n "$what" ] || what="$case ($verdict)"
    done
    m=$(median <"$tmp/times")
    ratio=$(awk -v m="$m" -v b="$baseline" 'BEGIN { if (m == "inf") print "never"; else printf "%.3f", m / b }')
    table+="| $variant | $what | $m | $ratio |\n"
done <"$here/bench/bug_targets.tsv"
printf "\nbaseline (reference, whole certification without search): %s s, %s cases; %s seeds per variant\n\n" "$baseline" "$cases" "$seeds"
printf "%b" "$table"
if [ -n "$out" ]; then
    { printf "baseline %s s (%s cases), seeds 1..%s, build %s\n\n" "$baseline" "$cases" "$seeds" "$build"; printf "%b" "$table"; } >"$out"
fi
