#!/usr/bin/env bash
# A fuzz target's finding, checked as engines see it: the target (replay driver build) runs one
# input, a program in text form (tests/**/*.prog) encoded here with `vmbsave encode`, must abort
# (exit status 134, SIGABRT), and the FIRST line of its stderr must start with PREFIX.
# The implementation is whatever VMBSAVE_FUZZ_IMPL names (ctest sets it).
#
# usage: fuzz_first_line.sh VMBSAVE_CLI FUZZ_TARGET PROGRAM.prog PREFIX
# Exit status: 0 as expected; 1 not (what was seen is printed); 2 usage or a tool failed.
set -u

if [ "$#" -ne 4 ]; then
    echo "usage: $0 VMBSAVE_CLI FUZZ_TARGET PROGRAM.prog PREFIX" >&2
    exit 2
fi
cli=$1 target=$2 prog=$3 prefix=$4

work=$(mktemp -d) || exit 2
trap 'rm -rf "$work"' EXIT

if ! "$cli" encode "$prog" -o "$work/input" >"$work/encode.log" 2>&1; then
    echo "cannot encode $prog:" >&2
    cat "$work/encode.log" >&2
    exit 2
fi

"$target" "$work/input" >"$work/stdout" 2>"$work/stderr"
status=$?
first=$(head -n 1 "$work/stderr")
echo "VMBSAVE_FUZZ_IMPL=${VMBSAVE_FUZZ_IMPL:-}"
echo "exit status $status; first stderr line:"
echo "$first"

if [ "$status" -ne 134 ]; then
    echo "FAIL: expected an abort (exit status 134)" >&2
    cat "$work/stderr" >&2
    exit 1
fi
case $first in
"$prefix"*) echo "OK: starts with: $prefix" ;;
*)
    echo "FAIL: the first line does not start with: $prefix" >&2
    cat "$work/stderr" >&2
    exit 1
    ;;
esac
