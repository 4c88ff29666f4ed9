#!/usr/bin/env bash
# The nightly pipeline against each deliberately broken variant (bench/bug_targets.tsv): how
# long `ci/main.sh --impl <variant> --targets <target>` takes, from the start of the target's
# work (its seed replay) to the first failing input, and what saw it first: the replay of
# corpus/seeds and corpus/regressions, libFuzzer or AFL++. Each run starts from an empty
# stored corpus, so only the seeds are known. The seeds hold one witness per variant (each
# corpus/seeds/save_session/variant-<name>), so most bugs are seen by the replay: that is what
# a user of the pipeline gets; bench/fuzz_bench.sh measures the engines without the witnesses.
#
# usage: bench/nightly_first_finding.sh [--variants LIST] [--budget SECONDS] [--out FILE.md]
#   --variants LIST   comma-separated variants (default: every line of bench/bug_targets.tsv)
#   --budget SECONDS  the pipeline's budget per run (default 20; one target per run)
#   --out FILE.md     the table (default build/bench/nightly_first_finding.md); each run's
#                     report folder goes to FILE.d/<variant>/
# The target of each variant is the first one bug_targets.tsv lists for it.
# Exit status: 0 every run finished (found or not); 1 a run broke (status 2); 2 usage.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo" || exit 2
variants_arg="" budget=20 out=build/bench/nightly_first_finding.md
while [ $# -gt 0 ]; do
    case "$1" in
    --variants | --budget | --out)
        [ $# -ge 2 ] || { echo "$0: $1 needs a value" >&2; exit 2; }
        case "$1" in --variants) variants_arg=$2 ;; --budget) budget=$2 ;; --out) out=$2 ;; esac
        shift 2
        ;;
    -h | --help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "$0: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
[[ "$budget" =~ ^[0-9]+$ ]] && [ "$budget" -ge 10 ] || { echo "$0: --budget takes 10 or more seconds" >&2; exit 2; }

declare -A target_of=() clause_of=()
order=()
while IFS=$'\t' read -r v clause _also tlist _why; do
    case "$v" in '' | '#'* | variant) continue ;; esac
    target_of[$v]=${tlist%%,*}
    clause_of[$v]=$clause
    order+=("$v")
done <bench/bug_targets.tsv
if [ -n "$variants_arg" ]; then
    IFS=, read -r -a order <<<"$variants_arg"
    for v in "${order[@]}"; do
        [ -n "${target_of[$v]:-}" ] || { echo "$0: '$v' is not in bench/bug_targets.tsv" >&2; exit 2; }
    done
fi

mkdir -p "$(dirname "$out")" "$out.d"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
broke=0
rows=()
for v in "${order[@]}"; do
    t=${target_of[$v]}
    so=build/fuzz-libfuzzer/variants/libvmbsave_variant_$v.so
    cmake --preset fuzz-libfuzzer >/dev/null && cmake --build build/fuzz-libfuzzer --target "vmbsave_variant_$v" >/dev/null ||
        { echo "$0: could not build $v" >&2; exit 1; }
    dir=$out.d/$v
    rm -rf "$dir" "$dir.corpus"
    rc=0
    ci/main.sh --impl "$so" --targets "$t" --budget "$budget" --out "$dir" --corpus "$dir.corpus" \
        >"$dir.log" 2>&1 || rc=$?
    rm -rf "$dir.corpus"
    if [ "$rc" -eq 2 ] || [ ! -f "$dir/report.json" ]; then
        rows+=("| \`$v\` | \`$t\` | \`${clause_of[$v]}\` | run broke (status $rc, $dir.log) | - | - |")
        broke=1
        continue
    fi
    # First failing input: the replay (at its end) or an engine (replay time + its own time).
    # shellcheck disable=SC2016
    row=$(jq -r --arg v "$v" --arg c "${clause_of[$v]}" '
        .targets[0] as $t
        | ([ (if $t.replay.failing > 0 then {by: "replay", s: $t.replay.seconds} else empty end) ]
           + [ $t.engines[] | select(.first_finding_s != null)
               | {by: .engine, s: ($t.replay.seconds + .first_finding_s)} ]
          | min_by(.s)) as $first
        | ([.findings[] | select(.clause == $c)] | length > 0) as $named
        | "| `\($v)` | `\($t.name)` | `\($c)` | \(if $first then "\($first.s) s (\($first.by))" else "not found" end) | \(if $named then "yes" else "no" end) | \(.findings | length) |"' \
        "$dir/report.json")
    rows+=("$row")
    echo "$row"
done
{
    echo "Nightly pipeline, time to the first failing input per broken variant (commit $commit, $(date -u +%F))."
    echo "Command: \`bench/nightly_first_finding.sh --budget $budget${variants_arg:+ --variants $variants_arg}\`; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
    echo
    echo "| variant | target | clause | first failing input (from the target's start; seen by) | clause among the findings | findings |"
    echo "|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
} >"$out.tmp" && mv "$out.tmp" "$out"
cat "$out"
exit "$broke"
