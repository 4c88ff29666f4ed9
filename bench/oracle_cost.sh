#!/usr/bin/env bash
# The oracle's cost (bench/README.md, "Oracle cost against a bare baseline"): executions per
# second of each fuzz target, replaying its own seeds (corpus/seeds/<target>) in a loop for a
# fixed time with the plain replay driver (fuzzers/replay_main.c -seconds=S: the inputs from
# memory, no engine, no mutation), as a ratio to fuzz_baseline (fuzzers/baseline.c:
# save_session's input, the same calls, no oracle and no describe checks) measured in the same
# run. Each target is measured as built at --before (default ccc4449, before the harness
# refactor) and as built from this tree, against the same baseline binary from this tree.
# Besides, roundtrip, restore and restore_raw are measured against a bare run of their own input
# (fuzz_baseline with VMBSAVE_BASELINE_TARGET=<target>), the baseline of the same work.
#
# Arms interleave (per repetition and target: baseline, before, after, own bare; the target
# order rotates each repetition) so machine noise hits all alike; each figure is the median
# over --reps repetitions of that arm, each ratio the median of the per-repetition ratios
# (arm / the baseline run next to it).
#
# Flavours: asan (preset fuzz-replay: ASan+UBSan, -O1) and release (fuzz-replay-release: -O2,
# no sanitizer). The --before tree is a temporary `git worktree` (removed at the end) built with
# the same presets; this tree's replay_main.c and CMakePresets.json are copied into it, since
# the timed mode and the release preset are newer (the driver is the measuring tool, not the
# harness under measurement). The seed corpora of both commits must be identical (checked).
#
# usage: bench/oracle_cost.sh [options]
#   --seconds S        timed seconds per arm (default 1)
#   --reps K           repetitions (default 5)
#   --flavours LIST    asan,release (default both)
#   --before COMMIT    the "before" commit (default ccc4449)
#   --build-root DIR   this tree's builds go to DIR/oracle-cost-<flavour> (default build)
#   --before-dir DIR   the temporary worktree (default /tmp/vmbsave-before; must not exist)
#   --no-build         use the builds as they are (the before worktree is then kept too:
#                      --before-dir must exist)
#   --keep-before      do not remove the before worktree at the end
#   --out FILE.jsonl   records (default bench/results/<UTC date>-oracle-cost.jsonl; appended)
#   --help
# Output: a Markdown table on stdout; one JSON record per (flavour, target) in --out.
# Exit status: 0 measured; 1 a build or run failed; 2 usage.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
seconds=1
reps=5
flavours=asan,release
before=ccc4449
build_root=$repo/build
before_dir=/tmp/vmbsave-before
build=1
keep_before=0
out=""

usage() { sed -n '/^# usage:/,/^# Exit status/p' "$0" | sed 's/^# \{0,1\}//'; }
die_usage() { echo "oracle_cost.sh: $*" >&2; exit 2; }
die() { echo "oracle_cost.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
    case $1 in
    --seconds) seconds=${2:?}; shift 2 ;;
    --reps) reps=${2:?}; shift 2 ;;
    --flavours) flavours=${2:?}; shift 2 ;;
    --before) before=${2:?}; shift 2 ;;
    --build-root) build_root=${2:?}; shift 2 ;;
    --before-dir) before_dir=${2:?}; shift 2 ;;
    --no-build) build=0; shift ;;
    --keep-before) keep_before=1; shift ;;
    --out) out=${2:?}; shift 2 ;;
    --help | -h) usage; exit 0 ;;
    *) die_usage "unknown option $1 (--help)" ;;
    esac
done
[[ $seconds =~ ^[0-9]+(\.[0-9]+)?$ ]] && awk -v s="$seconds" 'BEGIN {exit !(s > 0 && s <= 3600)}' ||
    die_usage "--seconds: a number of seconds, 0 < S <= 3600"
[[ $reps =~ ^[1-9][0-9]?$ ]] || die_usage "--reps: 1..99"
IFS=, read -r -a flavour_list <<<"$flavours"
for f in "${flavour_list[@]}"; do
    case $f in asan | release) ;; *) die_usage "--flavours: asan, release" ;; esac
done
command -v jq >/dev/null || die "jq is needed (apt-get install jq)"

targets=(save_session roundtrip restore restore_raw differential)
own_bare=(roundtrip restore restore_raw) # targets with a bare run of their own input
preset_of() { [ "$1" = asan ] && echo fuzz-replay || echo fuzz-replay-release; }

cd "$repo"
after_commit=$(git rev-parse --short HEAD)
dirty=false
git diff --quiet HEAD -- . || dirty=true
before_commit=$(git rev-parse --short "$before") || die_usage "--before: no commit $before"
if ! git diff --quiet "$before" HEAD -- corpus/seeds; then
    die "corpus/seeds differ between $before and HEAD: the arms would replay different inputs"
fi

# ---- Builds --------------------------------------------------------------------------------

cleanup() {
    if [ "$build" = 1 ] && [ "$keep_before" = 0 ] && [ -d "$before_dir" ]; then
        git -C "$repo" worktree remove --force "$before_dir" >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT

# build_tree TREE DIR PRESET TARGETS...: configure with the preset into DIR and build TARGETS.
build_tree() {
    local tree=$1 dir=$2 preset=$3
    shift 3
    echo "building $* in $dir ($preset)" >&2
    (cd "$tree" && cmake --preset "$preset" -B "$dir" >"$dir.log" 2>&1 &&
        cmake --build "$dir" -j2 --target "$@" >>"$dir.log" 2>&1) ||
        die "build failed: $dir.log"
}

fuzz_bins=()
for t in "${targets[@]}"; do fuzz_bins+=("fuzz_$t"); done
if [ "$build" = 1 ]; then
    [ -e "$before_dir" ] && die_usage "$before_dir exists (remove it, or --no-build to reuse it)"
    git worktree add --detach "$before_dir" "$before" >/dev/null 2>&1 ||
        die "git worktree add $before_dir $before failed"
    cp fuzzers/replay_main.c "$before_dir/fuzzers/replay_main.c"
    cp CMakePresets.json "$before_dir/CMakePresets.json"
    mkdir -p "$build_root" "$before_dir/build"
    for f in "${flavour_list[@]}"; do
        p=$(preset_of "$f")
        build_tree "$repo" "$build_root/oracle-cost-$f" "$p" "${fuzz_bins[@]}" fuzz_baseline
        build_tree "$before_dir" "$before_dir/build/$f" "$p" "${fuzz_bins[@]}"
    done
else
    [ -d "$before_dir" ] || die_usage "--no-build: $before_dir does not exist"
fi

# ---- Runs ------------------------------------------------------------------------------------

work=$(mktemp -d)
trap 'rm -rf "$work"; cleanup' EXIT

# rate BINARY CORPUS [ENV...]: the timed exec/s of one arm.
rate() {
    local bin=$1 corpus=$2
    shift 2
    local log=$work/run.log
    if ! env "$@" "$bin" "-seconds=$seconds" "$corpus" >"$log" 2>&1; then
        cat "$log" >&2
        die "run failed: $bin $corpus"
    fi
    sed -n 's/^timed: .*: \([0-9.]*\) exec\/s$/\1/p' "$log"
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "nan"; else if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
for f in "${flavour_list[@]}"; do
    after_dir=$build_root/oracle-cost-$f/fuzzers
    before_bins=$before_dir/build/$f/fuzzers
    for ((k = 0; k < reps; k++)); do
        echo "$f: repetition $((k + 1)) of $reps" >&2
        n=${#targets[@]}
        for ((i = 0; i < n; i++)); do
            t=${targets[$(((i + k) % n))]}
            corpus=$repo/corpus/seeds/$t
            base=$(rate "$after_dir/fuzz_baseline" "$repo/corpus/seeds/save_session")
            b=$(rate "$before_bins/fuzz_$t" "$corpus")
            a=$(rate "$after_dir/fuzz_$t" "$corpus")
            echo "$f $t $k baseline $base" >>"$work/rates"
            echo "$f $t $k before $b" >>"$work/rates"
            echo "$f $t $k after $a" >>"$work/rates"
            for o in "${own_bare[@]}"; do
                if [ "$o" = "$t" ]; then
                    own=$(rate "$after_dir/fuzz_baseline" "$corpus" "VMBSAVE_BASELINE_TARGET=$t")
                    echo "$f $t $k own $own" >>"$work/rates"
                fi
            done
        done
    done
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- Report ----------------------------------------------------------------------------------

# stat FLAVOUR TARGET ARM: median rate; ratio FLAVOUR TARGET ARM [DENOM]: median per-rep ratio.
stat() { awk -v f="$1" -v t="$2" -v a="$3" '$1 == f && $2 == t && $4 == a {print $5}' "$work/rates" | median; }
ratio() {
    local denom=${4:-baseline}
    awk -v f="$1" -v t="$2" -v a="$3" -v d="$denom" '
        $1 == f && $2 == t && $4 == a {num[$3] = $5}
        $1 == f && $2 == t && $4 == d {den[$3] = $5}
        END {for (k in num) if (k in den && den[k] > 0) print num[k] / den[k]}' "$work/rates" | median
}

if [ -z "$out" ]; then
    mkdir -p "$repo/bench/results"
    out=$repo/bench/results/$(date -u +%Y-%m-%d)-oracle-cost.jsonl
fi
echo
echo "oracle cost: $seconds s per arm, median of $reps, this tree $after_commit$([ "$dirty" = true ] && echo ' (dirty)'), before $before_commit, $(nproc) CPUs, load $load_start -> $load_end"
echo
echo "| target | flavour | before exec/s | before ratio | after exec/s | after ratio | own bare exec/s | after / own bare |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
for f in "${flavour_list[@]}"; do
    for t in "${targets[@]}"; do
        base=$(stat "$f" "$t" baseline)
        b=$(stat "$f" "$t" before)
        a=$(stat "$f" "$t" after)
        br=$(ratio "$f" "$t" before)
        ar=$(ratio "$f" "$t" after)
        own=$(stat "$f" "$t" own)
        oratio=$(ratio "$f" "$t" after own)
        printf '| %s | %s | %.0f | %.2f | %.0f | %.2f | %s | %s |\n' "$t" "$f" "$b" "$br" "$a" "$ar" \
            "$([ "$own" = nan ] && echo - || printf '%.0f' "$own")" \
            "$([ "$oratio" = nan ] && echo - || printf '%.2f' "$oratio")"
        jq -cn --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg started "$started" \
            --arg commit "$after_commit" --argjson dirty "$dirty" --arg before "$before_commit" \
            --arg flavour "$f" --arg preset "$(preset_of "$f")" --arg target "$t" \
            --argjson seconds "$seconds" --argjson reps "$reps" --argjson nproc "$(nproc)" \
            --arg load_start "$load_start" --arg load_end "$load_end" \
            --argjson baseline "$base" --argjson before_rate "$b" --argjson after_rate "$a" \
            --argjson before_ratio "$br" --argjson after_ratio "$ar" \
            --arg own "$own" --arg own_ratio "$oratio" \
            '{bench: "oracle_cost", schema: 1, date: $date, run_started: $started,
              commit: $commit, dirty: $dirty, before_commit: $before, flavour: $flavour,
              preset: $preset, target: $target, seconds_per_arm: $seconds, reps: $reps,
              baseline_exec_per_sec: $baseline, before_exec_per_sec: $before_rate,
              before_ratio: $before_ratio, after_exec_per_sec: $after_rate,
              after_ratio: $after_ratio,
              own_bare_exec_per_sec: (if $own == "nan" then null else ($own | tonumber) end),
              after_over_own_bare: (if $own_ratio == "nan" then null else ($own_ratio | tonumber) end),
              machine: {nproc: $nproc, loadavg_start: $load_start, loadavg_end: $load_end}}' \
            >>"$out"
    done
done
echo
echo "records appended to $out"
