#!/usr/bin/env bash
# ABI.ENTRY.ONLY_EXPORT: the plug-in exports exactly one function, vmbsave_get_interface.
#
# usage: check_exports.sh NM PLUGIN.so
#        check_exports.sh NM --default PLUGIN.so   the plug-in under test: $VMBSAVE_PLUGIN, or
#                                                 PLUGIN.so (the reference) when it is unset or empty
#
# Reads the dynamic symbol table (nm -D --defined-only). Fails if vmbsave_get_interface is not
# a defined text symbol, or if any other text symbol (T/W/i) is exported. Linker-made symbols
# (_init, _fini, __bss_start, _edata, _end, version nodes) are ignored. Data symbols other than
# those are reported and also fail: the ABI has no exported data.
set -euo pipefail

if [ "$#" -eq 3 ] && [ "$2" = --default ]; then
    nm_tool=$1
    plugin=${VMBSAVE_PLUGIN:-$3}
elif [ "$#" -eq 2 ]; then
    nm_tool=$1
    plugin=$2
else
    echo "usage: $0 NM PLUGIN.so | $0 NM --default PLUGIN.so" >&2
    exit 2
fi

if [ ! -f "$plugin" ]; then
    echo "FAIL: plug-in '$plugin' does not exist" >&2
    exit 1
fi

if ! syms=$("$nm_tool" -D --defined-only "$plugin"); then
    echo "FAIL: '$nm_tool -D --defined-only $plugin' failed" >&2
    exit 1
fi

echo "$nm_tool -D --defined-only $plugin:"
printf '%s\n' "$syms" | sed 's/^/    /'

set -f # no globbing of nm output words
found_entry=0
bad=()
while read -r line; do
    [ -n "$line" ] || continue
    # "<address> <type> <name>[@version]"; undefined/absolute lines may lack an address.
    set -- $line
    if [ "$#" -ge 3 ]; then
        type=$2 name=$3
    else
        type=$1 name=${2:-}
    fi
    name=${name%%@*}
    case "$name" in
        _init | _fini | __bss_start | _edata | _end | __end__ | _etext | __data_start) continue ;;
    esac
    case "$type" in
        A) continue ;; # version node / absolute linker symbol
        T | W | i | V)
            if [ "$name" = vmbsave_get_interface ] && [ "$type" != V ]; then
                found_entry=1
            else
                bad+=("$type $name")
            fi
            ;;
        *)
            bad+=("$type $name")
            ;;
    esac
done <<<"$syms"

status=0
if [ "$found_entry" -ne 1 ]; then
    echo "FAIL: vmbsave_get_interface is not exported as a defined function by $plugin" >&2
    status=1
fi
if [ "${#bad[@]}" -ne 0 ]; then
    echo "FAIL: $plugin exports symbols besides vmbsave_get_interface:" >&2
    printf '    %s\n' "${bad[@]}" >&2
    status=1
fi
if [ "$status" -eq 0 ]; then
    echo "PASS: the only exported symbol is vmbsave_get_interface"
fi
exit "$status"
