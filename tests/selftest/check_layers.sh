#!/usr/bin/env bash
# HARNESS.LAYERS.INCLUDE_DIRECTION: arrows between the layers point one way.
#
# usage: check_layers.sh SOURCE_DIR LAYER...        (layers bottom to top, as harness/CMakeLists.txt)
#        check_layers.sh --self-test SOURCE_DIR LAYER...
#
# Fails, naming file and line, when
#  - a file of harness/<layer>/ includes "<other>/..." of a layer above its own, or a bare
#    "name.h" that is not in its own folder (a bare name would hide the layer it comes from);
#  - a file of reference/ includes anything of the harness or of vmbsave's front ends (the
#    reference knows nothing of the harness: it sees the ABI only);
#  - a file of harness/ includes anything of reference/, tests/, tools/, fuzzers/ or variants/
#    (the harness reaches an implementation only through the ABI).
# --self-test copies the tree's harness/ and reference/ to a temporary folder, plants one
# upward include and one reference-to-harness include, and fails unless both are reported.
set -euo pipefail

self_test=0
if [ "${1:-}" = "--self-test" ]; then
    self_test=1
    shift
fi
if [ "$#" -lt 3 ]; then
    echo "usage: $0 [--self-test] SOURCE_DIR LAYER..." >&2
    exit 2
fi
src=$1
shift
layers=("$@")

# Prints one line per wrong include; exit status 1 if any.
check_tree() {
    local root=$1 bad=0 rank file layer line inc first target_rank i
    declare -A rank_of=()
    for i in "${!layers[@]}"; do rank_of[${layers[$i]}]=$i; done
    for layer in "${layers[@]}"; do
        [ -d "$root/harness/$layer" ] || { echo "$root/harness/$layer: no such layer folder"; bad=1; continue; }
        rank=${rank_of[$layer]}
        while IFS= read -r file; do
            while IFS= read -r line; do
                inc=${line#*:}
                inc=${inc#*\"}
                inc=${inc%%\"*}
                case $inc in
                vmbsave/*) continue ;;
                */*)
                    first=${inc%%/*}
                    target_rank=${rank_of[$first]:-}
                    if [ -z "$target_rank" ]; then
                        echo "${file#"$root"/}:${line%%:*}: includes \"$inc\", outside the harness's layers"
                        bad=1
                    elif [ "$target_rank" -gt "$rank" ]; then
                        echo "${file#"$root"/}:${line%%:*}: layer $layer includes \"$inc\" of layer $first above it"
                        bad=1
                    fi
                    ;;
                *)
                    if [ ! -f "$(dirname "$file")/$inc" ]; then
                        echo "${file#"$root"/}:${line%%:*}: bare include \"$inc\" is not in its own folder; name its layer"
                        bad=1
                    fi
                    ;;
                esac
            done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$file" || true)
        done < <(find "$root/harness/$layer" -name '*.[ch]' | sort)
    done
    # The reference sees the ABI and its own folder only.
    while IFS= read -r file; do
        while IFS= read -r line; do
            inc=${line#*:}
            inc=${inc#*\"}
            inc=${inc%%\"*}
            case $inc in
            vmbsave/*) ;;
            */*) echo "${file#"$root"/}:${line%%:*}: the reference includes \"$inc\""; bad=1 ;;
            *) [ -f "$(dirname "$file")/$inc" ] ||
                { echo "${file#"$root"/}:${line%%:*}: the reference includes \"$inc\""; bad=1; } ;;
            esac
        done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$file" || true)
    done < <(find "$root/reference" -name '*.[ch]' | sort)
    return "$bad"
}

if [ "$self_test" -eq 0 ]; then
    if out=$(check_tree "$src"); then
        echo "PASS: ${#layers[@]} layers (${layers[*]}), every include points down or sideways"
        exit 0
    fi
    printf 'FAIL: includes against the layer order (%s):\n%s\n' "${layers[*]}" "$out"
    exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/harness"
cp -R "$src/reference" "$tmp/reference"
for layer in "${layers[@]}"; do cp -R "$src/harness/$layer" "$tmp/harness/$layer"; done
if ! check_tree "$tmp" >/dev/null; then
    echo "FAIL: the unmodified copy already fails"
    exit 1
fi
bottom=${layers[0]}
# `sed -n 1p`, not `head -n 1`: head exiting first fails a pipefail pipeline (SIGPIPE to sort).
top=${layers[${#layers[@]} - 1]}
victim=$(find "$tmp/harness/$bottom" -name '*.c' | sort | sed -n 1p)
top_header=$(cd "$tmp/harness/$top" && find . -name '*.h' | sort | sed -n 1p)
printf '#include "%s/%s"\n' "$top" "${top_header#./}" >>"$victim"
ref_victim=$(find "$tmp/reference" -name '*.c' | sort | sed -n 1p)
printf '#include "%s/%s"\n' "$top" "${top_header#./}" >>"$ref_victim"
out=$(check_tree "$tmp") && { echo "FAIL: the checker accepted an upward include"; exit 1; }
printf '%s\n' "$out"
n=$(printf '%s\n' "$out" | grep -c .)
if [ "$n" -ne 2 ]; then
    echo "FAIL: expected exactly the 2 planted includes to be reported, got $n lines"
    exit 1
fi
echo "PASS: both planted includes reported"
