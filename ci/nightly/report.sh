#!/usr/bin/env bash
# The nightly report: from OUT/report.json (schema vmbsave-nightly/1), OUT/stats.csv and the
# previous nights' folders, writes OUT/junit.xml, OUT/results.sarif (SARIF 2.1.0),
# OUT/index.html (the dashboard: self-contained, gnuplot's SVG plots inline) and
# OUT/history.json (one summary per night, oldest first, at most 365 nights), each to a temporary
# file in OUT then renamed, so a reader never sees half a file.
#
# usage: ci/nightly/report.sh OUT [--previous DIR]...
#   --previous DIR  an earlier night's output folder (repeatable). Its history.json and its
#                   report.json join the trend, so naming only last night's folder carries
#                   every night before it. A DIR whose report.json is unreadable or of another
#                   schema is skipped with a warning (shown on the page too): one broken night
#                   must not cost the report.
#
# How findings count (junit.xml, SARIF, the page): a known or flaky finding is skipped (junit),
# a note or warning (SARIF); a new reliable timeout or out-of-memory is an error; any other new
# reliable finding (violation, crash, differential) a failure (SARIF level error).
#
# Limits, checked before reading: report.json, history.json and certify/report.json 16 MiB each,
# stats.csv 64 MiB, 64 target/engine series, 366 --previous folders.
#
# Exit status: 0 the files are written (or --help); 2 a usage error, a missing or malformed report.json or
# stats.csv, a --previous folder that does not exist, a missing tool (jq, gnuplot: ci/lib/deps.sh
# installs them), or a failed write. Nothing in OUT is replaced unless every file was made.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
max_json=$((16 * 1024 * 1024))
max_csv=$((64 * 1024 * 1024))
max_series=64
max_previous=366
max_nights=365

die() {
    echo "report.sh: $*" >&2
    exit 2
}
usage() { # STATUS: 0 (--help) prints to stdout, anything else to stderr
    if [ "$1" -eq 0 ]; then
        sed -n '/^# usage:/,/^#   *must not cost/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    else
        sed -n '/^# usage:/,/^#   *must not cost/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    fi
    exit "$1"
}
# FILE MAX WHAT: dies unless FILE is a regular file of at most MAX bytes.
check_size() {
    [ -f "$1" ] || die "$3: $1 is not a file"
    local n
    n=$(stat -c %s -- "$1")
    [ "$n" -le "$2" ] || die "$3: $1 is $n bytes, more than the limit of $2"
}

[ "$#" -ge 1 ] || usage 2
case $1 in -h | --help) usage 0 ;; -*) die "the first argument is the output folder, not $1" ;; esac
out=$1
shift
previous=()
while [ "$#" -gt 0 ]; do
    case $1 in
    --previous)
        [ "$#" -ge 2 ] || die "--previous needs a folder"
        [ -d "$2" ] || die "--previous $2: no such folder"
        previous+=("$2")
        shift 2
        ;;
    -h | --help) usage 0 ;;
    *) die "unknown argument $1 (usage: report.sh OUT [--previous DIR]...)" ;;
    esac
done
[ "${#previous[@]}" -le "$max_previous" ] || die "${#previous[@]} --previous folders, more than $max_previous"
command -v jq >/dev/null || die "jq not found (apt-get install jq, or ci/lib/deps.sh)"
command -v gnuplot >/dev/null || die "gnuplot not found (apt-get install gnuplot-nox, or ci/lib/deps.sh)"
[ -d "$out" ] || die "$out: no such folder"
report=$out/report.json
[ -e "$report" ] || die "$report: missing (the pipeline writes it first)"
check_size "$report" "$max_json" "report.json"
jq empty "$report" 2>/dev/null || die "$report: not valid JSON"
problems=$(jq -r -L "$here" 'include "dashboard_lib"; problems' "$report")
if [ -n "$problems" ]; then
    echo "report.sh: $report does not have the shape of schema vmbsave-nightly/1:" >&2
    head -n 20 <<<"$problems" | sed 's/^/  /' >&2
    exit 2
fi

tmp=$(mktemp -d "$out/.report.XXXXXX") || die "cannot write in $out"
# The plots' folder is named inside gnuplot strings: one of mktemp's own, whatever OUT's name.
plots=$(mktemp -d) || die "cannot make a temporary folder"
trap 'rm -rf "$tmp" "$plots"' EXIT
notes=()

# ---- History: earlier nights' summaries, then this one's ------------------------------------
: >"$tmp/nights.jsonl"
for dir in "${previous[@]}"; do
    if [ -f "$dir/history.json" ]; then
        if [ "$(stat -c %s -- "$dir/history.json")" -le "$max_json" ] &&
            jq -c 'if type == "array" then .[] | select(type == "object" and (.started | type) == "string") else error("not an array") end' \
                "$dir/history.json" >>"$tmp/nights.jsonl" 2>/dev/null; then
            :
        else
            notes+=("skipped $dir/history.json: not a history of nights")
        fi
    fi
    if [ ! -f "$dir/report.json" ]; then
        notes+=("skipped $dir: no report.json")
    elif [ "$(stat -c %s -- "$dir/report.json")" -gt "$max_json" ]; then
        notes+=("skipped $dir/report.json: larger than $max_json bytes")
    elif ! jq empty "$dir/report.json" 2>/dev/null ||
        [ -n "$(jq -r -L "$here" 'include "dashboard_lib"; problems' "$dir/report.json" | head -n 1)" ]; then
        notes+=("skipped $dir/report.json: not a vmbsave-nightly/1 report")
    else
        jq -c -L "$here" 'include "dashboard_lib"; night_summary' "$dir/report.json" >>"$tmp/nights.jsonl"
    fi
done
jq -c -L "$here" 'include "dashboard_lib"; night_summary' "$report" >>"$tmp/nights.jsonl"
# One entry per night (a night given twice, or carried in two histories, counts once: the last
# read wins, which is this night for itself), oldest first.
jq -s --argjson max "$max_nights" \
    'reverse | unique_by(.started) | sort_by(.started) | .[-$max:]' "$tmp/nights.jsonl" >"$tmp/history.json"
nights=$(jq length "$tmp/history.json")
for n in "${notes[@]}"; do echo "report.sh: warning: $n" >&2; done

# ---- Time series from stats.csv: one data file per target/engine ----------------------------
stats=$out/stats.csv
titles=""
engines=""
colors=""
if [ -f "$stats" ]; then
    check_size "$stats" "$max_csv" "stats.csv"
    header=$(head -n 1 "$stats" | tr -d '\r')
    [ "$header" = "elapsed_s,target,engine,executions,exec_per_s,edges,corpus" ] ||
        die "$stats: header is '$header', expected elapsed_s,target,engine,executions,exec_per_s,edges,corpus"
    # Series in order of first appearance; names keep [A-Za-z0-9_.-] only, since they become
    # gnuplot strings. Rows that are not 7 fields or not numeric where numbers belong are dropped.
    awk -F, -v dir="$plots" -v max="$max_series" '
        NR == 1 { next }
        { sub(/\r$/, "") }
        NF != 7 { bad++; next }
        $1 !~ /^[0-9.]+$/ || $4 !~ /^[0-9.]+$/ || $5 !~ /^[0-9.]+$/ || $6 !~ /^[0-9.]+$/ || $7 !~ /^[0-9.]+$/ { bad++; next }
        {
            t = $2; e = $3; gsub(/[^A-Za-z0-9_.-]/, "_", t); gsub(/[^A-Za-z0-9_.-]/, "_", e)
            k = t "/" e
            if (!(k in idx)) {
                if (n >= max) { over = 1; next }
                idx[k] = ++n; print k > (dir "/series.txt"); print e > (dir "/engines.txt")
                if (!(t in tcolor)) tcolor[t] = ++tn
                print tcolor[t] > (dir "/colors.txt")
            }
            print $1, $4, $5, $6, $7 > (dir "/s" idx[k] ".dat")
        }
        END {
            if (bad) printf "report.sh: warning: %d malformed rows of stats.csv dropped\n", bad > "/dev/stderr"
            if (over) printf "report.sh: warning: more than %d series in stats.csv; the rest are not plotted\n", max > "/dev/stderr"
        }' "$stats"
    if [ -f "$plots/series.txt" ]; then
        titles=$(paste -sd' ' "$plots/series.txt")
        engines=$(paste -sd' ' "$plots/engines.txt")
        colors=$(paste -sd' ' "$plots/colors.txt")
    else
        notes+=("stats.csv has no samples: no plots over time")
    fi
else
    notes+=("no stats.csv: no plots over time")
fi
if [ -z "$titles" ]; then
    # The trend's edges columns follow the report's target/engine pairs instead.
    titles=$(jq -r '[.targets[] | .name as $t | .engines[] | "\($t)/\(.engine)" | gsub("[^A-Za-z0-9_./-]"; "_")] | join(" ")' "$report")
    engines=$(jq -r '[.targets[].engines[].engine | gsub("[^A-Za-z0-9_.-]"; "_")] | join(" ")' "$report")
    colors=$(jq -r '[.targets | to_entries[] | (.key + 1) as $c | .value.engines[] | $c] | join(" ")' "$report")
fi

# The trend's rows: index, night (month-day hour:minute), new, known, line %, branch %, then
# the edges of each series ("?" where that night had none).
jq -r --arg titles "$titles" '
    ($titles | split(" ") | map(select(length > 0))) as $series
    | to_entries[]
    | [(.key + 1), (.value.started | sub("^[0-9]{4}-"; "") | sub("T"; "_") | sub(":[0-9]{2}(\\.[0-9]+)?Z$"; "")),
       .value.findings_new, .value.findings_known, (.value.line_percent // "?"), (.value.branch_percent // "?")]
      + [$series[] as $s | (.value.edges[$s] // "?")]
    | map(tostring) | join(" ")' "$tmp/history.json" >"$plots/history.dat"

# ---- Plots --------------------------------------------------------------------------------
series_count=$(wc -w <<<"$titles")
if [ "$series_count" -gt 0 ] && [ -f "$plots/s1.dat" ] || [ "$nights" -gt 1 ]; then
    have_series=0
    [ ! -f "$plots/s1.dat" ] || have_series=1
    gnuplot -e "dir='$plots'; titles='$titles'; engines='$engines'; colors='$colors'; nights=$nights; have_series=$have_series" \
        "$here/dashboard.gp" 2>"$plots/gnuplot.log" ||
        { cat "$plots/gnuplot.log" >&2; die "gnuplot failed"; }
fi
svgs='{}'
for name in edges execs corpus trend_edges trend_findings trend_coverage; do
    f="$plots/$name.svg"
    [ -s "$f" ] || continue
    # Inline: drop the XML prolog and DOCTYPE before <svg, and prefix the ids (every plot
    # defines gpPt0...) so that six SVGs in one page keep them unique.
    sed -n '/<svg/,$p' "$f" | sed -E "s/ id=(['\"])/ id=\1$name-/g; s/xlink:href=(['\"])#/xlink:href=\1#$name-/g" >"$f.inline"
    svgs=$(jq -c --arg k "$name" --rawfile v "$f.inline" '.[$k] = $v' <<<"$svgs")
done
printf '%s\n' "$svgs" >"$tmp/svgs.json"

# ---- Certify's report, when it ran --------------------------------------------------------
certify=$out/certify/report.json
echo '[]' >"$tmp/certify.json"
if [ -f "$certify" ]; then
    check_size "$certify" "$max_json" "certify/report.json"
    jq -e 'type == "object" and (.cases | type) == "array"' "$certify" >/dev/null 2>&1 ||
        die "$certify: not a vmbsave certify report (see tools/vmbsave/certify_report.c)"
    jq -c '[.]' "$certify" >"$tmp/certify.json"
fi

# ---- The files ----------------------------------------------------------------------------
spec_lines=$(grep -n '^### `[A-Za-z0-9_.]*`' "$src/docs/SPEC.md" | sed -E 's/^([0-9]+):### `([^`]*)`.*/\2\t\1/' |
    jq -R -s 'split("\n") | map(select(length > 0) | split("\t") | {key: .[0], value: (.[1] | tonumber)}) | from_entries')
printf '%s\n' "${notes[@]}" | jq -R -s 'split("\n") | map(select(length > 0))' >"$tmp/notes.json"
jq -r -L "$here" -f "$here/dashboard_junit.jq" "$report" >"$tmp/junit.xml"
jq -L "$here" --argjson spec_lines "$spec_lines" -f "$here/dashboard_sarif.jq" "$report" >"$tmp/results.sarif"
jq -r -L "$here" --slurpfile svgs "$tmp/svgs.json" --slurpfile nights "$tmp/history.json" \
    --slurpfile certifies "$tmp/certify.json" --slurpfile notes_in "$tmp/notes.json" \
    -f "$here/dashboard_html.jq" "$report" >"$tmp/index.html"
for f in junit.xml results.sarif index.html history.json; do
    [ -s "$tmp/$f" ] || die "$f came out empty"
done
for f in junit.xml results.sarif index.html history.json; do
    mv -f "$tmp/$f" "$out/$f" || die "could not write $out/$f"
done
echo "report.sh: wrote $out/index.html, junit.xml, results.sarif, history.json ($nights night(s), $(jq '.findings | length' "$report") finding(s))"
