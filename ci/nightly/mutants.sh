#!/usr/bin/env bash
# The nightly sample of the harness's own mutation score (issue 12): N single-point mutants of
# reference/ drawn by ci/mutation.sh (its header says how they are made and judged), the draw's
# seed changing every night so that nights cover different mutants. Writes OUT/mutation/
# (mutants.tsv, summary.json, survivors.txt) and sets OUT/report.json's "mutation" to
# {sample, seed, killed, killed_by_timeout, survived, equivalent, stillborn, score, survivors,
#  summary: "mutation/summary.json"}. A survivor is a blind spot of the harness, not a finding
# against the implementation: it is listed, it does not change the run's verdict.
#
# usage: ci/nightly/mutants.sh OUT N [--seed S] [--jobs J] [--timeout SECONDS]
#   N             mutants, 1 to 1000
#   --seed S      the draw's seed, 0 to 4294967295 (default: today's date as YYYYMMDD, UTC)
#   --jobs J      mutants checked at once, 1 to 64 (default 1: the detection itself is parallel
#                 enough on small machines)
#   --timeout S   per mutant, 10 to 86400 (default 900; a mutant that runs out of it counts as
#                 killed: it hangs)
# The detection needs the asan build (build/asan, configured and built by ci/mutation.sh).
#
# Exit status: 0 the sample was judged (survivors or not); 1 ci/mutation.sh failed (a build or
# a tool; OUT/report.json keeps "mutation": null); 2 usage, or no OUT/report.json.
set -euo pipefail

usage() { sed -n '/^# usage:/,/^# Exit status/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
die_usage() {
    echo "ci/nightly/mutants.sh: $*" >&2
    exit 2
}
is_uint() { [[ "$1" =~ ^[0-9]{1,10}$ ]]; }

case "${1:-}" in -h | --help) usage; exit 0 ;; esac
[ $# -ge 2 ] || die_usage "OUT and N are needed (--help)"
out=$1 n=$2
shift 2
is_uint "$n" && [ "$n" -ge 1 ] && [ "$n" -le 1000 ] || die_usage "N: 1 to 1000, not '$n'"
[ -f "$out/report.json" ] && jq -e 'type == "object"' "$out/report.json" >/dev/null 2>&1 ||
    die_usage "$out/report.json: missing or not JSON"
seed=$(date -u +%Y%m%d) jobs=1 timeout_s=900
while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || die_usage "$1 needs a value"
    case "$1" in
    --seed) is_uint "$2" && [ "$2" -le 4294967295 ] || die_usage "--seed: 0 to 4294967295"; seed=$2 ;;
    --jobs) is_uint "$2" && [ "$2" -ge 1 ] && [ "$2" -le 64 ] || die_usage "--jobs: 1 to 64"; jobs=$2 ;;
    --timeout) is_uint "$2" && [ "$2" -ge 10 ] && [ "$2" -le 86400 ] || die_usage "--timeout: 10 to 86400"
        timeout_s=$2 ;;
    *) die_usage "unknown argument '$1'" ;;
    esac
    shift 2
done

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=$(cd "$out" && pwd)
"$here/ci/mutation.sh" --sample "$n" --seed "$seed" --jobs "$jobs" --timeout "$timeout_s" \
    --out "$out/mutation" || exit 1

jq --slurpfile s "$out/mutation/summary.json" --argjson n "$n" '
    .mutation = ($s[0] | {sample: $n, seed, killed, killed_by_timeout, survived, equivalent,
                          stillborn, score, survivors, summary: "mutation/summary.json"})' \
    "$out/report.json" >"$out/report.json.tmp"
mv -f "$out/report.json.tmp" "$out/report.json"
