#!/usr/bin/env bash
# Regenerates corpus/<target>.dict and corpus/<target>.options for every fuzz target
# (VMBSAVE_FUZZ_TARGETS in fuzzers/CMakeLists.txt) with vmbsave_engine_files
# (fuzzers/engine_files.c), which derives them from the program encoder and the image format.
# Files of targets that no longer exist are removed. FUZZ.ENGINE_FILES.CURRENT fails until this
# has been run after a change to the op table, the format constants or the target list.
#
# usage: ci/make_engine_files.sh [BUILD_DIR]   (default build/asan; configured already: the
#        tool is built here first, so it knows the current target list)
# Exit status: 0 written; 1 the build or the tool failed; 2 usage or an unconfigured BUILD_DIR.
# Each file is replaced only once all of them were generated.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ "$#" -gt 1 ]; then
    echo "usage: $0 [BUILD_DIR]" >&2
    exit 2
fi
build=${1:-build/asan}
if [ ! -f "$build/CMakeCache.txt" ]; then
    echo "$0: $build is not a configured build directory (cmake --preset asan first)" >&2
    exit 2
fi
if ! cmake --build "$build" --target vmbsave_engine_files >/dev/null; then
    echo "$0: could not build vmbsave_engine_files in $build" >&2
    exit 1
fi
tool=$build/fuzzers/vmbsave_engine_files

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$tool" "$work" || exit 1
mapfile -t targets < <("$tool" --list)

for target in "${targets[@]}"; do
    for ext in dict options; do
        # Same directory as the destination, so the final rename is atomic.
        cp "$work/$target.$ext" "corpus/.$target.$ext.new"
        mv "corpus/.$target.$ext.new" "corpus/$target.$ext"
    done
    echo "corpus/$target.dict: $(grep -c '^[A-Za-z0-9_]*="' "corpus/$target.dict") tokens;" \
        "corpus/$target.options"
done
# Engine files of a target that is gone.
for file in corpus/*.dict corpus/*.options; do
    [ -e "$file" ] || continue
    name=$(basename "$file")
    name=${name%.*}
    # A loop, not `printf | grep -q` (a pipeline pipefail fails when grep exits first).
    is_target=0
    for target in "${targets[@]}"; do
        [ "$target" = "$name" ] && is_target=1
    done
    if [ "$is_target" -eq 0 ]; then
        rm -f "$file"
        echo "removed $file (no fuzz target $name)"
    fi
done
