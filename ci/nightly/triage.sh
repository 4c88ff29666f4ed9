# shellcheck shell=bash disable=SC2154 # repo, impl: set by ci/main.sh
# Sourced by ci/main.sh: what a failing input is, and how reliably it fails.
# The replay is the plain one: `vmbsave run|repro --target T [--impl LIB.so]` of the
# fuzz-libfuzzer build (clang ASan, as the fuzzers: a plug-in they loaded loads there). What it
# cannot show, the target's libFuzzer binary run on the one file shows ("fuzzer" method): a
# leak (LeakSanitizer runs at the exit of a libFuzzer process), an out-of-memory, and a
# differential disagreement (impl-vs-reference-*) while `vmbsave repro --target differential`
# replays the implementation alone.
# Environment: repo, impl (plug-in or empty).

triage_vmbsave() { echo "$repo/build/fuzz-libfuzzer/tools/vmbsave/vmbsave"; }
triage_fuzzer() { echo "$repo/build/fuzz-libfuzzer/fuzzers/fuzz_$1"; }

# triage_timeout TARGET: the target's per-input timeout in seconds (its options file).
triage_timeout() {
    local t
    t=$(vmbsave_libfuzzer_option "$repo/corpus/$1.options" timeout)
    echo "${t:-10}"
}

# triage_run_vmbsave TARGET FILE: the verdict `vmbsave run` gives FILE ("pass (N steps)",
# "violation CLAUSE at step N: ...", "crash: ...", "error: ...").
triage_run_vmbsave() {
    local to
    to=$(triage_timeout "$1")
    timeout -k 5 $((to + 60)) "$(triage_vmbsave)" run --target "$1" ${impl:+--impl "$impl"} \
        --timeout "$to" "$2" 2>/dev/null | sed -n "s|^$(printf '%s' "$2" | sed 's/[][\.*^$|]/\\&/g'): ||p" | head -n 1
}

# triage_run_fuzzer TARGET FILE LOG: the target's libFuzzer binary on FILE alone; output to LOG.
triage_run_fuzzer() {
    local to
    to=$(triage_timeout "$1")
    VMBSAVE_FUZZ_IMPL="$impl" ASAN_OPTIONS="detect_leaks=1:symbolize=1" \
        timeout -k 5 $((to * 2 + 60)) "$(triage_fuzzer "$1")" -timeout="$to" -rss_limit_mb=2560 \
        "$2" >"$3" 2>&1
}

# triage_sanitizer_signature LOG: "<report type> in <frame> <frame> <frame>" from a sanitizer's
# report (the top three symbolized frames of the first stack), or nothing.
triage_sanitizer_signature() {
    awk '
        !type && match($0, /(ERROR|WARNING): [A-Za-z]+Sanitizer: [^ ]+( [^ ]+ [^ ]+)?/) {
            type = substr($0, RSTART, RLENGTH); sub(/^(ERROR|WARNING): /, "", type)
            sub(/ on .*/, "", type); sub(/ at .*/, "", type); sub(/ \(pid.*/, "", type)
            next
        }
        !type && /: runtime error: / { type = "UndefinedBehaviorSanitizer: " $0; sub(/^[^:]*:[0-9]+:[0-9]+: runtime error: /, "", type); type = "UndefinedBehaviorSanitizer: " type; next }
        type && n < 3 && match($0, /^ *#[0-9]+ 0x[0-9a-f]+ in [^ ]+/) {
            f = substr($0, RSTART, RLENGTH); sub(/.* in /, "", f)
            frames = frames " " f; n++
        }
        END { if (type) print type (n ? " in" frames : "") }' "$1"
}

# triage_classify TARGET FILE HINT: prints "KIND<TAB>SIGNATURE<TAB>CLAUSE<TAB>METHOD" for a
# failing input; HINT is the engine's own name for it (crash, leak, timeout, oom, hang).
# KIND: violation, crash, timeout, oom, differential (an allowed difference), or pass when
# neither replay fails; CLAUSE "-" when none; METHOD: vmbsave, fuzzer or none.
triage_classify() {
    local target=$1 file=$2 hint=$3 v log sig
    v=$(triage_run_vmbsave "$target" "$file")
    case "$v" in
    violation\ impl-vs-reference-*)
        # A vmbsave that compares both sides of the differential target (vmbsave repro
        # --target differential) names the disagreement itself.
        sig=${v#violation }
        sig=${sig%% *}
        printf 'differential\t%s\t%s\tvmbsave\n' "$sig" "${sig#impl-vs-reference-}"
        return
        ;;
    violation\ *)
        sig=${v#violation }
        sig=${sig%% *}
        printf 'violation\t%s\t%s\tvmbsave\n' "$sig" "$sig"
        return
        ;;
    crash:\ timed\ out*)
        printf 'timeout\ttimeout\t-\tvmbsave\n'
        return
        ;;
    esac
    log=$(mktemp)
    triage_run_fuzzer "$target" "$file" "$log" || true
    local first
    first=$(grep -a -m 1 -E '^vmbsave: ' "$log" || true)
    sig=$(triage_sanitizer_signature "$log")
    if [[ "$first" == "vmbsave: impl-vs-reference-"* ]]; then
        sig=${first#vmbsave: }
        sig=${sig%% *}
        printf 'differential\t%s\t%s\tfuzzer\n' "$sig" "${sig#impl-vs-reference-}"
    elif [ -n "$first" ]; then
        sig=${first#vmbsave: }
        sig=${sig%% *}
        printf 'violation\t%s\t%s\tfuzzer\n' "$sig" "${sig#reference-}"
    elif grep -qa 'ERROR: libFuzzer: out-of-memory' "$log"; then
        printf 'oom\tout-of-memory\t-\tfuzzer\n'
    elif grep -qa 'ERROR: libFuzzer: timeout' "$log"; then
        printf 'timeout\ttimeout\t-\tfuzzer\n'
    elif [[ "$v" == crash:* ]]; then
        printf 'crash\t%s\t-\tvmbsave\n' "${sig:-${v#crash: }}"
    elif [ -n "$sig" ]; then
        printf 'crash\t%s\t-\tfuzzer\n' "$sig"
    else
        case "$hint" in
        timeout | hang) printf 'timeout\ttimeout (not reproduced)\t-\tnone\n' ;;
        oom) printf 'oom\tout-of-memory (not reproduced)\t-\tnone\n' ;;
        *) printf 'pass\t-\t-\tnone\n' ;;
        esac
    fi
    rm -f "$log"
}

# triage_reproduce TARGET FILE KIND SIGNATURE METHOD: how many of 3 replays fail the same way.
triage_reproduce() {
    local target=$1 file=$2 kind=$3 sig=$4 method=$5 n=0 line
    [ "$method" != none ] || { echo 0; return; }
    for _ in 1 2 3; do
        line=$(triage_classify "$target" "$file" "$kind")
        [ "$(cut -f1,2 <<<"$line")" = "$kind"$'\t'"$sig" ] && n=$((n + 1))
    done
    echo "$n"
}
