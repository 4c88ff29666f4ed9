# shellcheck shell=bash disable=SC2154 # repo, impl: set by ci/main.sh
# Sourced by ci/main.sh (after corpus.sh): a target's inputs of this run, merged and minimized
# into a new corpus generation. The union of libFuzzer's -merge=1 (inputs that add libFuzzer
# features, crash-resistant) and afl-cmin's (inputs that add AFL++ edges), so neither engine
# loses what it found; afl-cmin is left out when it fails (it is a shell script over
# afl-showmap; a plug-in that crashes on every input can stop it) or runs past its limit.
# Environment: repo, impl.

# Each tool's time limit per target: a plug-in on which most inputs fail makes libFuzzer's
# crash-resistant merge restart after every one. Past it, the corpus keeps every input.
NIGHTLY_MERGE_SECONDS=${NIGHTLY_MERGE_SECONDS:-180}

# nightly_merge TARGET WORK GENERATION: merges WORK/start (the inputs the run began with),
# WORK/libfuzzer/corpus and the AFL++ queues of WORK/afl into GENERATION; log WORK/merge.log.
# Returns non-zero when libFuzzer's merge failed (GENERATION then holds every input, unmerged).
nightly_merge() {
    local target=$1 work=$2 gen=$3 all=$2/merge-all rc=0 q
    rm -rf "$all" "$work/cmin"
    # Every input, one folder per source (both tools read folders recursively), hard-linked:
    # one cp per folder, not per file.
    nightly_link_all() { # FROM TO
        mkdir -p "$2"
        [ -n "$(corpus_files "$1")" ] || return 0
        find "$1" -maxdepth 1 -type f ! -name '.*' -exec cp -l -t "$2" -- {} + 2>/dev/null ||
            find "$1" -maxdepth 1 -type f ! -name '.*' -exec cp -t "$2" -- {} +
    }
    nightly_link_all "$work/start" "$all/start"
    nightly_link_all "$work/libfuzzer/corpus" "$all/libfuzzer"
    for q in "$work"/afl/*/queue; do
        [ -d "$q" ] && nightly_link_all "$q" "$all/afl-$(basename "$(dirname "$q")")"
    done
    local -a flags
    mapfile -t flags < <(vmbsave_libfuzzer_flags "$repo/corpus/$target.options" | grep -E '^-(max_len|timeout|rss_limit_mb)=')
    {
        echo "== libFuzzer -merge=1: $(find "$all" -type f | wc -l) inputs"
        VMBSAVE_FUZZ_IMPL="$impl" ASAN_OPTIONS="detect_leaks=0" timeout -k 5 "$NIGHTLY_MERGE_SECONDS" \
            "$repo/build/fuzz-libfuzzer/fuzzers/fuzz_$target" -merge=1 \
            -merge_control_file="$work/merge-control.txt" "${flags[@]}" "$gen" "$all" ||
            rc=$?
    } >"$work/merge.log" 2>&1
    if [ "$rc" -ne 0 ]; then
        echo "merge: $target: libFuzzer's merge failed or ran past ${NIGHTLY_MERGE_SECONDS} s (status $rc; $work/merge.log): the corpus keeps every input" >&2
        find "$all" -type f -exec cp -n -t "$gen" -- {} + 2>/dev/null
        return 1
    fi
    local timeout_s
    timeout_s=$(vmbsave_libfuzzer_option "$repo/corpus/$target.options" timeout)
    {
        echo "== afl-cmin"
        # AFL_ALLOW_TMP: --out may well be under /tmp.
        env AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 AFL_IGNORE_UNKNOWN_ENVS=1 AFL_ALLOW_TMP=1 \
            VMBSAVE_FUZZ_IMPL="$impl" ASAN_OPTIONS="abort_on_error=1:symbolize=0:detect_leaks=0" \
            timeout -k 5 "$NIGHTLY_MERGE_SECONDS" afl-cmin -i "$all" -o "$work/cmin" -m none \
            -t "$((${timeout_s:-10} * 1000))" -- "$repo/build/fuzz-afl/fuzzers/fuzz_$target"
    } >>"$work/merge.log" 2>&1 && [ -n "$(corpus_files "$work/cmin")" ] &&
        find "$work/cmin" -maxdepth 1 -type f -exec cp -n -t "$gen" -- {} +
    [ -n "$(corpus_files "$work/cmin")" ] || echo "merge: $target: afl-cmin gave nothing (log $work/merge.log); libFuzzer's merge alone" >&2
    return 0
}
