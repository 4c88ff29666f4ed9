#!/bin/bash -eu
# OSS-Fuzz / ClusterFuzzLite build script, run by base-builder's `compile` as
# `bash -eux $SRC/build.sh` in $SRC/vmbsave (.clusterfuzzlite/Dockerfile). It follows the
# OSS-Fuzz contract: it compiles with $CC/$CXX and exactly $CFLAGS/$CXXFLAGS (they carry the
# sanitizer and coverage flags of the build: nothing -fsanitize is added here), links every
# fuzz target with $CXX and $LIB_FUZZING_ENGINE (a flag such as -fsanitize=fuzzer, or an engine
# library such as AFL++'s libAFLDriver.a), keeps intermediate files in $WORK, and writes to $OUT,
# for each target fuzz_<name> (fuzzers/<name>.c):
#   fuzz_<name>                  the target
#   fuzz_<name>_seed_corpus.zip  corpus/seeds/<name>/ and corpus/regressions/<name>/
#   fuzz_<name>.dict             corpus/<name>.dict (ci/make_engine_files.sh)
#   fuzz_<name>.options          corpus/<name>.options
# ci/oss-fuzz-check.sh runs this script outside Docker with the environment base-builder sets.
# Any failure stops the build (bash -e); a target without seeds, dictionary or options is one.

project=$SRC/vmbsave
build=$WORK/vmbsave-build

# xxHash >= 0.8 headers: the pinned copy the Dockerfile fetched, else the system's
# (libxxhash-dev, as on the Debian machines ci/oss-fuzz-check.sh runs on).
xxhash_args=()
if [ -f "$SRC/xxhash/xxhash.h" ]; then
    xxhash_args=(-DVMBSAVE_XXHASH_INCLUDE_DIR="$SRC/xxhash")
fi

# - Build type None: CMake adds no optimisation or debug flags of its own; CFLAGS have them.
# - VMBSAVE_SANITIZE=OFF: the sanitizers come from CFLAGS (SANITIZER=address, undefined, ...).
# - VMBSAVE_FUZZ_ADD_INSTRUMENTATION=OFF: coverage instrumentation comes from CFLAGS too, and
#   a coverage build must have none but the profile flags.
# - VMBSAVE_WERROR=OFF: OSS-Fuzz's clang is newer than the compilers ci/test.sh holds to
#   -Werror, and a new warning must not stop fuzzing.
# - Tests and benchmark off: only the fuzz targets are built, so cmocka and jansson are unused.
rm -rf "$build"
cmake -S "$project" -B "$build" \
    -DCMAKE_BUILD_TYPE=None \
    -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" \
    -DCMAKE_C_FLAGS="$CFLAGS" -DCMAKE_CXX_FLAGS="$CXXFLAGS" \
    -DLIB_FUZZING_ENGINE="$LIB_FUZZING_ENGINE" \
    -DVMBSAVE_SANITIZE=OFF \
    -DVMBSAVE_FUZZ_ADD_INSTRUMENTATION=OFF \
    -DVMBSAVE_WERROR=OFF \
    -DVMBSAVE_BUILD_TESTS=OFF \
    -DVMBSAVE_BUILD_BENCH=OFF \
    "${xxhash_args[@]}"
cmake --build "$build" --target vmbsave_fuzzers --parallel "$(nproc)"

# The targets CMake built (VMBSAVE_FUZZ_TARGETS), one a line.
mapfile -t targets <"$build/fuzzers/fuzz_targets.txt"
if [ "${#targets[@]}" -eq 0 ]; then
    echo "build.sh: $build/fuzzers/fuzz_targets.txt lists no fuzz target" >&2
    exit 1
fi

for name in "${targets[@]}"; do
    fuzzer=fuzz_$name
    for file in "corpus/$name.dict" "corpus/$name.options"; do
        if [ ! -f "$project/$file" ]; then
            echo "build.sh: $file is missing: run ci/make_engine_files.sh" >&2
            exit 1
        fi
    done
    cp "$build/fuzzers/$fuzzer" "$OUT/$fuzzer"
    cp "$project/corpus/$name.dict" "$OUT/$fuzzer.dict"
    cp "$project/corpus/$name.options" "$OUT/$fuzzer.options"

    # Seeds and every input that ever found a bug; regressions get a prefix so a name can
    # never clash with a seed's. Dot files (.gitkeep) are not inputs.
    stage=$WORK/seed-corpus/$fuzzer
    rm -rf "$stage"
    mkdir -p "$stage"
    if [ -d "$project/corpus/seeds/$name" ]; then
        find "$project/corpus/seeds/$name" -maxdepth 1 -type f ! -name '.*' \
            -exec cp -t "$stage" {} +
    fi
    if [ -d "$project/corpus/regressions/$name" ]; then
        find "$project/corpus/regressions/$name" -maxdepth 1 -type f ! -name '.*' \
            -exec sh -c 'for f; do cp "$f" "$0/regression-${f##*/}"; done' "$stage" {} +
    fi
    if [ -z "$(ls -A "$stage")" ]; then
        echo "build.sh: corpus/seeds/$name has no seed: run ci/make_seeds.sh" >&2
        exit 1
    fi
    rm -f "$OUT/${fuzzer}_seed_corpus.zip"
    (cd "$stage" && zip -q -X "$OUT/${fuzzer}_seed_corpus.zip" ./*)
done
