# Sourced by ci/fuzz.sh and ci/oss-fuzz-check.sh: reading the fuzz targets' list and their
# engine files (corpus/<target>.options, corpus/<target>.dict) the way the engines' runners do.

# Prints the fuzz targets of fuzzers/CMakeLists.txt (set(VMBSAVE_FUZZ_TARGETS ...), which may
# span lines), one a line. Argument: the source directory.
vmbsave_fuzz_targets() {
    vmbsave_fuzz_cmake_list "$1" VMBSAVE_FUZZ_TARGETS
}

# True if WORD is one of WORDS. Not `printf ... | grep -q WORD`: under pipefail that pipeline
# fails when grep, done at the first match, exits before printf has written everything (SIGPIPE).
vmbsave_one_of() { # WORD WORDS...
    local word=$1 w
    shift
    for w in "$@"; do
        [ "$w" = "$word" ] && return 0
    done
    return 1
}

# Prints the words of set(VARIABLE ...) in fuzzers/CMakeLists.txt, one a line (nothing if the
# variable is not set there). Arguments: the source directory, the variable.
vmbsave_fuzz_cmake_list() {
    awk -v var="$2" '
        !inside && $0 ~ "^[[:space:]]*set\\(" var "([[:space:]]|\\))" {
            inside = 1
            sub("^[^(]*\\(" var, "")
        }
        inside {
            line = $0
            sub(/#.*/, "", line)
            done = sub(/\).*/, "", line)
            n = split(line, words, /[[:space:]]+/)
            for (i = 1; i <= n; i++) if (words[i] != "") print words[i]
            if (done) exit
        }
    ' "$1/fuzzers/CMakeLists.txt"
}

# Prints the [libfuzzer] section of an options file as libFuzzer flags, -key=value one a line,
# as OSS-Fuzz's runner passes them. Comment lines and other sections are skipped.
vmbsave_libfuzzer_flags() {
    awk '
        /^[[:space:]]*\[/ { section = $0; gsub(/[][[:space:]]/, "", section); next }
        /^[[:space:]]*[#;]/ { next }
        section == "libfuzzer" && /^[[:space:]]*[A-Za-z_][A-Za-z0-9_]*[[:space:]]*=/ {
            key = substr($0, 1, index($0, "=") - 1)
            value = substr($0, index($0, "=") + 1)
            gsub(/^[[:space:]]+|[[:space:]]+$/, "", key)
            gsub(/^[[:space:]]+|[[:space:]]+$/, "", value)
            print "-" key "=" value
        }
    ' "$1"
}

# Prints the value of one [libfuzzer] key of an options file (empty if absent).
vmbsave_libfuzzer_option() { # FILE KEY
    vmbsave_libfuzzer_flags "$1" | sed -n "s/^-$2=//p" | tail -n 1
}

# Prints how many tokens a dictionary holds (lines name="..." or "...").
vmbsave_dict_tokens() {
    grep -cE '^[[:space:]]*([A-Za-z0-9_]+[[:space:]]*(@[0-9]+)?[[:space:]]*=[[:space:]]*)?"' "$1"
}
