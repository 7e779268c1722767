#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The bash completion of passthructl, sourced in a non-interactive bash and driven as bash
# drives it (COMP_LINE, COMP_POINT, COMP_WORDS, COMP_CWORD), with a stub `passthructl` first
# in PATH that answers `list --json` and `reservations --json` like a daemon would (or fails,
# like no daemon).
set -uo pipefail
completion=$1
stub=$(mktemp -d)
trap 'rm -rf "$stub"' EXIT
cat >"$stub/passthructl" <<'EOF'
#!/bin/sh
[ -e "$(dirname "$0")/no-daemon" ] && { echo "passthructl: org.passthru1 is not running" >&2; exit 1; }
if [ "$1 $2" = "reservations --json" ]; then
        echo '{"reservations":[{"address":"0000:26:00.0","ids":"10de:1f82","description":"NVIDIA Corporation TU117 [GeForce GTX 1650]","present":true,"driver":"nvidia"},{"address":"0000:2f:00.0","ids":"10de:1f82","description":"","present":false,"driver":null}]}'
        exit 0
fi
[ "$1 $2" = "list --json" ] || exit 2
echo '{"iommu":{"enabled":true,"driver":"amd-iommu"},"groups":[{"number":0,"viable":true,"owner":"host","domain":"","blockers":[],"devices":[{"address":"0000:00:01.0","vendor_id":"1022","product_id":"1482","subsystem_vendor_id":"0000","subsystem_id":"0000","class":"060000","group":0}]},{"number":16,"viable":false,"owner":"host","domain":"","blockers":[{"address":"0000:26:00.0","reason":"bound to nvidia"}],"devices":[{"address":"0000:26:00.0","vendor_id":"10de","product_id":"1f82","subsystem_vendor_id":"10de","subsystem_id":"1f82","class":"030000","group":16,"slot":["0000:26:00.0","0000:26:00.1"],"gpu":{"state":"host","domain":"","companions":["0000:26:00.1"],"primary":true,"step":""}},{"address":"0000:26:00.1","vendor_id":"10de","product_id":"10fa","subsystem_vendor_id":"10de","subsystem_id":"1f82","class":"040300","group":16,"gpu":null}]}],"ungrouped":[{"address":"0001:03:00.0","vendor_id":"10de","product_id":"1eb8","subsystem_vendor_id":"10de","subsystem_id":"12a2","class":"030200","group":null,"gpu":{"state":"host","domain":"","companions":[],"primary":false,"step":""}}]}'
EOF
chmod +x "$stub/passthructl"
PATH="$stub:$PATH"

# shellcheck disable=SC1090
source "$completion" || { echo "not ok - sourcing $completion"; exit 1; }

failed=0 n=0
# complete LINE: what bash would offer for LINE (cursor at its end), one per line, sorted.
complete_line() {
        local line=$1 fn
        COMP_LINE=$line COMP_POINT=${#line}
        # COMP_WORDS as bash splits them (its default COMP_WORDBREAKS: ":" and "=" split).
        read -r -a COMP_WORDS <<<"${line//[:=]/ : }"
        [[ $line == *' ' ]] && COMP_WORDS+=("")
        COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
        COMPREPLY=()
        fn=$(complete -p passthructl 2>/dev/null | sed -n 's/.*-F \([^ ]*\) .*/\1/p')
        [ -n "$fn" ] || { echo "(no completion registered for passthructl)"; return; }
        "$fn" passthructl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]:-}"
        printf '%s\n' "${COMPREPLY[@]}" | LC_ALL=C sort
}
# check LINE MODE EXPECTED: MODE "is" (exactly these, space separated), "has" (among
# them), "lacks" (none of them).
check() {
        local line=$1 mode=$2 expected=$3 got w ok=1
        got=$(complete_line "$line" | tr '\n' ' ' | sed 's/ $//')
        case $mode in
                is)    [ "$got" = "$expected" ] || ok=0 ;;
                has)   for w in $expected; do [[ " $got " == *" $w "* ]] || ok=0; done ;;
                lacks) for w in $expected; do [[ " $got " == *" $w "* ]] && ok=0; done ;;
        esac
        n=$((n + 1))
        if [ $ok -eq 1 ]; then
                echo "ok $n - '$line' $mode: $expected"
        else
                echo "not ok $n - '$line' $mode: $expected; got: $got"
                failed=$((failed + 1))
        fi
}

check "passthructl de"                  is    "detach"
check "passthructl di"                  is    "diagnose"
check "passthructl "                    is    "consumers detach diagnose guests handoff help list monitor reattach rescan reservations reserve return show start status unreserve"
check "passthructl --json re"           is    "reattach rescan reservations reserve return"
check "passthructl un"                  is    "unreserve"
check "passthructl detach --"           has   "--dry-run --override --no-ask-password --json --help"
check "passthructl reattach group 16 --d" is  "--dry-run"
check "passthructl list --"             lacks "--dry-run --override"
check "passthructl rescan --no"         is    "--no-ask-password --no-color"
check "passthructl --color=a"           is    "always auto"
check "passthructl --color n"           is    "never"
check "passthructl show g"              is    "group"
check "passthructl detach g"            is    "group"
check "passthructl show "               is    "0001:03:00.0 00:01.0 26:00.0 26:00.1 group"
check "passthructl show 26:"            is    "00.0 00.1"
check "passthructl detach 0000:26:00."  is    "00.0 00.1"
check "passthructl reattach pci_0000_26" is   "pci_0000_26_00_0 pci_0000_26_00_1"
check "passthructl show group "         is    "0 16"
check "passthructl show group 1"        is    "16"
check "passthructl show 26:00.0 "       is    ""
check "passthructl status "             is    ""
check "passthructl reserve --"          has   "--override --no-ask-password --json --help"
check "passthructl reserve --"          lacks "--dry-run"
check "passthructl unreserve --"        has   "--no-ask-password --json"
check "passthructl unreserve --"        lacks "--dry-run --override"
check "passthructl reservations --"     lacks "--dry-run --override --no-ask-password"
check "passthructl reservations --j"    is    "--json --json=pretty --json=short"
check "passthructl reserve "            is    "0001:03:00.0 00:01.0 26:00.0 26:00.1"
check "passthructl reserve g"           is    ""
check "passthructl reserve 26:"         is    "00.0 00.1"
check "passthructl reserve pci_0000_26_00_" is "pci_0000_26_00_0 pci_0000_26_00_1"
check "passthructl reserve 26:00.0 "    is    ""
check "passthructl --override reserve 0000:26:00." is "00.0 00.1"
check "passthructl unreserve "          is    "26:00.0 2f:00.0"
check "passthructl unreserve 0000:"     is    "26:00.0 2f:00.0"
check "passthructl unreserve 26:00.0 "  is    ""
check "passthructl reservations "       is    ""

# handoff, return, consumers: GPUs only (class 03xxxx), no "group"
check "passthructl h"                   is    "handoff help"
check "passthructl co"                  is    "consumers"
check "passthructl handoff "            is    "0001:03:00.0 26:00.0"
check "passthructl handoff 26:"         is    "00.0"
check "passthructl return pci_"         is    "pci_0000_26_00_0 pci_0001_03_00_0"
check "passthructl consumers 0001:"     is    "03:00.0"
check "passthructl handoff g"           is    ""
check "passthructl handoff 26:00.0 "    is    ""
check "passthructl return 26:00.0 "     is    ""
check "passthructl handoff --"          has   "--dry-run --stop-display-manager --no-ask-password --json --help"
check "passthructl handoff --"          lacks "--override"
check "passthructl handoff 26:00.0 win10 --s" is "--stop-display-manager"
check "passthructl return --"           has   "--dry-run --no-ask-password --json"
check "passthructl return --"           lacks "--override --stop-display-manager"
check "passthructl consumers --"        lacks "--dry-run --override --no-ask-password --stop-display-manager"
check "passthructl detach --"           lacks "--stop-display-manager"
check "passthructl --st"                is    "--stop-display-manager"

# start, guests, handoff --no-start; libvirt-hook is libvirt's, not offered
check "passthructl s"                   is    "show start status"
check "passthructl g"                   is    "guests"
check "passthructl l"                   is    "list"
check "passthructl start --"            has   "--dry-run --stop-display-manager --no-ask-password --json --help"
check "passthructl start --"            lacks "--override --no-start"
check "passthructl start win10 --n"     is    "--no-ask-password --no-color"
check "passthructl start "              is    ""
check "passthructl guests --"           lacks "--dry-run --override --no-ask-password --stop-display-manager --no-start"
check "passthructl guests --j"          is    "--json --json=pretty --json=short"
check "passthructl guests "             is    ""
check "passthructl handoff 26:00.0 win10 --no-s" is "--no-start"
check "passthructl return --"           lacks "--no-start"
check "passthructl --no-st"             is    "--no-start"

touch "$stub/no-daemon"
check "passthructl show "               is    "group"
check "passthructl detach group "       is    ""
check "passthructl reserve "            is    ""
check "passthructl unreserve "          is    ""
check "passthructl handoff "            is    ""

echo "$((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
