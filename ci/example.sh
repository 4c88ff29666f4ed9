#!/usr/bin/env bash
# The vendor's path, end to end (examples/plugin/): install vmbsave from the release build into a
# scratch prefix, build the example plug-in out of tree against the installed package
# (find_package(vmbsave)), and certify it with the installed vmbsave, with nothing pointing into
# the build or source tree (VMBSAVE_CONFORMANCE_MANIFEST, VMBSAVE_CORPUS_DIR, VMBSAVE_TEST_DATA
# unset): it must find its installed suite. Also checks pkg-config's view of the package.
#
# usage: ci/example.sh [--jobs N]   (run from anywhere; uses build/release, building it if needed)
# Exit status 0: installed, built and CERTIFIED; anything else is a failure.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
src=$PWD
jobs=2
if [ "$#" -eq 2 ] && [ "$1" = --jobs ] && [[ "$2" =~ ^[1-9][0-9]*$ ]]; then
    jobs=$2
elif [ "$#" -ne 0 ]; then
    echo "usage: ci/example.sh [--jobs N]" >&2
    exit 2
fi

start=$SECONDS
# The search, 10 s of each certify run: the path is what is checked here; the search itself is
# HARNESS.CERTIFY.*'s (the default is the rest of a 120 s budget, for each of the two runs).
search=10
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vmbsave-example.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
step() {
    printf -- '-- %s (%d s)\n' "$*" "$((SECONDS - start))"
}

step "release build"
cmake --preset release >/dev/null
cmake --build --preset release --parallel "$jobs" >/dev/null

step "cmake --install build/release --prefix $tmp/prefix"
prefix=$tmp/prefix
cmake --install build/release --prefix "$prefix" >/dev/null

# From here on nothing may point back into the trees: the installed vmbsave must find its own.
unset VMBSAVE_CONFORMANCE_MANIFEST VMBSAVE_CORPUS_DIR VMBSAVE_TEST_DATA VMBSAVE_TEST_DATA_DIR \
      VMBSAVE_PLUGIN VMBSAVE_FUZZ_IMPL

step "pkg-config --cflags vmbsave"
cflags=$(PKG_CONFIG_PATH="$prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}" \
         pkg-config --cflags vmbsave)
echo "$cflags"
incdir=${cflags#-I}
incdir=${incdir%% *}
if [ "$cflags" = "$incdir" ] || [ ! -f "$incdir/vmbsave/abi.h" ] ||
   [ "$(realpath "$incdir")" != "$(realpath "$prefix/include")" ]; then
    echo "FAIL: pkg-config --cflags vmbsave does not name $prefix/include" >&2
    exit 1
fi

step "examples/plugin: configure + build out of tree against the installed package"
# A copy outside the source tree, as a vendor's project would be.
cp -R examples/plugin "$tmp/plugin-src"
cmake -S "$tmp/plugin-src" -B "$tmp/plugin-build" -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$tmp/plugin-build" --parallel "$jobs" >/dev/null
plugin=$tmp/plugin-build/libvmbsave_example.so
[ -f "$plugin" ] || { echo "FAIL: $plugin was not built" >&2; exit 1; }

step "vmbsave certify --impl libvmbsave_example.so (installed vmbsave, installed suite)"
cd "$tmp" # not the source tree: nothing relative to it may be used
rc=0
"$prefix/bin/vmbsave" certify --impl "$plugin" --jobs "$jobs" --search-seconds "$search" --report "$tmp/report" \
    >"$tmp/certify.log" 2>&1 || rc=$?
grep '^suite ' "$tmp/certify.log" || true
tail -n 4 "$tmp/certify.log"
if [ "$rc" -ne 0 ]; then
    echo "FAIL: vmbsave certify exited $rc; its output:" >&2
    cat "$tmp/certify.log" >&2
    exit 1
fi
# It says which suite and corpus it ran: the installed ones, nothing of the trees.
if ! grep -q "^suite $prefix/[^ ]*/conformance-cases.tsv, corpus $prefix/[^ ]*/corpus\$" "$tmp/certify.log" ||
   grep -q "$src" "$tmp/certify.log"; then
    echo "FAIL: the certify run did not use the installed suite and corpus under $prefix" >&2
    exit 1
fi

step "vmbsave verify-report"
"$prefix/bin/vmbsave" verify-report "$tmp/report" --impl "$plugin"

step "examples/kmcl-plugin: KMCL-shaped code built out of tree, certified; its bad twin rejected"
cd "$src"
cp -R examples/kmcl-plugin "$tmp/kmcl-src"
cmake -S "$tmp/kmcl-src" -B "$tmp/kmcl-build" -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$tmp/kmcl-build" --parallel "$jobs" >/dev/null
cd "$tmp"
kmcl=$tmp/kmcl-build/libvmbsave_kmcl_example.so
rc=0
"$prefix/bin/vmbsave" certify --impl "$kmcl" --jobs "$jobs" --search-seconds "$search" --report "$tmp/kmcl-report" \
    >"$tmp/kmcl.log" 2>&1 || rc=$?
tail -n 2 "$tmp/kmcl.log"
[ "$rc" -eq 0 ] || { echo "FAIL: the KMCL-shaped example did not certify (exit $rc)" >&2; cat "$tmp/kmcl.log" >&2; exit 1; }
"$prefix/bin/vmbsave" verify-report "$tmp/kmcl-report" --impl "$kmcl"
rc=0
"$prefix/bin/vmbsave" certify --impl "$tmp/kmcl-build/libvmbsave_kmcl_example_overrun.so" \
    --case SAVE.CONTINUE.NO_OVERRUN --report "$tmp/kmcl-bad" >"$tmp/kmcl-bad.log" 2>&1 || rc=$?
tail -n 1 "$tmp/kmcl-bad.log"
[ "$rc" -eq 1 ] && grep -q '"verdict": "FAIL"' "$tmp/kmcl-bad/report.json" ||
    { echo "FAIL: the bad KMCL-shaped plug-in was not rejected under SAVE.CONTINUE.NO_OVERRUN" >&2; exit 1; }

step "done: installed, built out of tree and CERTIFIED in $((SECONDS - start)) s"
