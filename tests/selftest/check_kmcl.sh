#!/usr/bin/env bash
# HARNESS.KMCL.*: KMCL-shaped plug-ins (include/vmbsave/kmcl.h, adapters/kmcl/,
# examples/kmcl-plugin/) through vmbsave certify.
#
# usage: check_kmcl.sh MODE VMBSAVE PLUGIN.so [NM]   (like check_certify.sh: --budget 900, since
# certify's default of 120 s is too short on a loaded machine, and --search-seconds 20, since
# the search would otherwise take the rest of it)
#   example  PLUGIN.so (the example) certifies on every case with --jobs 2: exit 0, every case
#            PASS or INFO; with NM, it also exports vmbsave_get_interface only
#   bad      PLUGIN.so (the example with an overrunning VmbChannelSaveContinue) is rejected on
#            SAVE.CONTINUE.NO_OVERRUN: exit 1 with a FAIL or CRASH on that clause
set -euo pipefail

if [ "$#" -lt 3 ] || [ "$#" -gt 4 ]; then
    echo "usage: $0 example|bad VMBSAVE PLUGIN.so [NM]" >&2
    exit 2
fi
mode=$1
vmbsave=$2
lib=$3
nm_tool=${4:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
    echo "FAIL: $*"
    exit 1
}
[ -f "$lib" ] || fail "$lib was not built"

case $mode in
example)
    if [ -n "$nm_tool" ]; then
        exports=$("$nm_tool" -D --defined-only "$lib" | awk '$2 ~ /^[TtWwiDdBbRrVv]$/ {print $3}' |
                  grep -vE '^(_init|_fini|__bss_start|_edata|_end)$' || true)
        [ "$exports" = vmbsave_get_interface ] || fail "$lib exports: $exports"
    fi
    rc=0
    "$vmbsave" certify --impl "$lib" --jobs 2 --budget 900 --search-seconds 20 --seed 13 --report "$tmp/r" >"$tmp/log" 2>&1 || rc=$?
    tail -n 3 "$tmp/log"
    [ "$rc" -eq 0 ] || { grep -v ' PASS ' "$tmp/log" | head -n 30; fail "certify of $lib exited $rc"; }
    bad=$(jq -r '.cases[] | select(.verdict != "PASS" and .verdict != "INFO") | "\(.id) \(.verdict)"' \
          "$tmp/r/report.json" | head -n 10)
    [ -z "$bad" ] || fail "cases that did not pass: $bad"
    n=$(jq '.counts.ran' "$tmp/r/report.json")
    [ "$n" -gt 100 ] || fail "only $n cases ran"
    grep -q '^implementation .*: vmbsave-kmcl-example ' "$tmp/log" || fail "certify did not load the example"
    echo "PASS: $lib certified on $n cases"
    ;;
bad)
    clause=SAVE.CONTINUE.NO_OVERRUN
    rc=0
    "$vmbsave" certify --impl "$lib" --case "$clause" --seed 13 --report "$tmp/r" >"$tmp/log" 2>&1 || rc=$?
    tail -n 3 "$tmp/log"
    [ "$rc" -eq 1 ] || fail "certify of $lib exited $rc, not 1"
    blocking=$(jq -r --arg c "$clause" \
        '[.cases[] | select(.clause == $c and (.verdict | IN("FAIL","CRASH")))] | length' \
        "$tmp/r/report.json")
    [ "$blocking" -gt 0 ] || fail "no FAIL or CRASH on $clause"
    echo "PASS: $lib rejected: $blocking FAIL/CRASH case(s) on $clause"
    ;;
*)
    echo "$0: unknown mode $mode" >&2
    exit 2
    ;;
esac
