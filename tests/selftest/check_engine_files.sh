#!/usr/bin/env bash
# FUZZ.ENGINE_FILES.CURRENT: the checked-in corpus/<target>.dict and corpus/<target>.options are
# exactly what vmbsave_engine_files (fuzzers/engine_files.c) writes for the targets this tree
# builds, and corpus/ holds no engine file of a target that does not exist.
#
# usage: check_engine_files.sh TOOL SOURCE_DIR
# Exit status: 0 current; 1 a file is missing, differs or is left over (the fix is
# ci/make_engine_files.sh); 2 usage or the tool failed.
set -euo pipefail

if [ "$#" -ne 2 ]; then
    echo "usage: $0 TOOL SOURCE_DIR" >&2
    exit 2
fi
tool=$1
corpus=$2/corpus
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if ! "$tool" "$work" || ! "$tool" --list >"$work/targets"; then
    echo "FAIL: $tool could not write the engine files" >&2
    exit 2
fi
if [ ! -s "$work/targets" ]; then
    echo "FAIL: $tool lists no fuzz target" >&2
    exit 1
fi

stale=()
while read -r target; do
    for ext in dict options; do
        if [ ! -f "$corpus/$target.$ext" ]; then
            stale+=("corpus/$target.$ext is missing")
        elif ! cmp -s "$work/$target.$ext" "$corpus/$target.$ext"; then
            diff -u "$corpus/$target.$ext" "$work/$target.$ext" | head -n 20 >&2 || true
            stale+=("corpus/$target.$ext differs from what the tool writes")
        fi
    done
done <"$work/targets"
for file in "$corpus"/*.dict "$corpus"/*.options; do
    [ -e "$file" ] || continue
    name=$(basename "$file")
    if ! grep -qxF "${name%.*}" "$work/targets"; then
        stale+=("corpus/$name belongs to no fuzz target")
    fi
done

if [ "${#stale[@]}" -ne 0 ]; then
    printf 'FAIL: %s\n' "${stale[@]}" >&2
    echo "FAIL: run ci/make_engine_files.sh and commit corpus/*.dict corpus/*.options" >&2
    exit 1
fi
echo "PASS: $(wc -l <"$work/targets") targets' dictionaries and options are current"
