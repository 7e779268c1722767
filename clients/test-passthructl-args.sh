#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Usage errors of passthructl: exit status 2, a message naming the problem, the hint
# "Try 'passthructl --help'", nothing on standard output, and no bus needed (the bus
# address points nowhere: a command that got as far as connecting would exit 1).
# Usage: test-passthructl-args.sh PASSTHRUCTL
set -u

ctl=${1:?usage: $0 PASSTHRUCTL}
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent/passthru-test-bus
failures=0
out=$(mktemp)
err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

# usage_error MESSAGE ARGS...: passthructl ARGS must fail with status 2 and MESSAGE on stderr.
usage_error() {
        local want=$1 code
        shift
        "$ctl" "$@" >"$out" 2>"$err"
        code=$?
        if [ "$code" -ne 2 ]; then
                echo "FAIL: passthructl $*: exit $code, want 2; stderr: $(cat "$err")"
                failures=$((failures + 1))
        elif ! grep -qF -- "passthructl: $want" "$err"; then
                echo "FAIL: passthructl $*: stderr lacks '$want': $(cat "$err")"
                failures=$((failures + 1))
        elif ! grep -qF -- "Try 'passthructl --help' for more information." "$err"; then
                echo "FAIL: passthructl $*: no --help hint: $(cat "$err")"
                failures=$((failures + 1))
        elif [ -s "$out" ]; then
                echo "FAIL: passthructl $*: wrote to standard output: $(cat "$out")"
                failures=$((failures + 1))
        fi
}

usage_error "'detach' needs an ADDRESS, or 'group N'."            detach
usage_error "'reattach' needs an ADDRESS, or 'group N'."          reattach
usage_error "'detach' needs an ADDRESS, or 'group N'."            detach --dry-run --json
usage_error "Invalid IOMMU group number 'x'."                     detach group x
usage_error "Invalid IOMMU group number '1x'."                    reattach group 1x
usage_error "Invalid IOMMU group number '+1'."                    detach group +1
usage_error "Invalid IOMMU group number '4294967296'."            detach group 4294967296
usage_error "'reattach group' needs an IOMMU group number."       reattach group
usage_error "'detach group' needs an IOMMU group number."         detach group --override
usage_error "Too many arguments for 'detach'."                    detach group 16 17
usage_error "Too many arguments for 'reattach': one ADDRESS, or 'group N'." reattach 26:00.0 26:00.1
usage_error "Unknown option '--frobnicate'."                      detach --frobnicate group 16
usage_error "Unknown option '--dry-runs'."                        detach --dry-runs group 16
usage_error "Option '--override' takes no argument."              detach --override=yes group 16
usage_error "Option '--no-ask-password' takes no argument."       reattach --no-ask-password=1 26:00.0
usage_error "Option '--dry-run' is only for 'detach', 'reattach', 'handoff', 'return' and 'start'." rescan --dry-run
usage_error "Option '--override' is only for 'detach', 'reattach' and 'reserve'." list --override
usage_error "Invalid IOMMU group number 'x'."                     show group x

# reserve, unreserve, reservations
usage_error "'reserve' needs an ADDRESS."                         reserve
usage_error "'unreserve' needs an ADDRESS."                       unreserve --json
usage_error "Too many arguments for 'reserve': one ADDRESS at a time." reserve 26:00.0 26:00.1
usage_error "Too many arguments for 'unreserve': one ADDRESS at a time." unreserve 26:00.0 26:00.1
usage_error "'reserve' takes the ADDRESS of one function, not a group: reserve each function of the group ('passthructl show group N' lists them)." reserve group 16
usage_error "'reserve' takes the ADDRESS of one function, not a group:" reserve group
usage_error "'unreserve' takes the ADDRESS of one function, not a group: unreserve each function" unreserve group 16
usage_error "Too many arguments for 'reservations'."              reservations 26:00.0
usage_error "Option '--dry-run' is only for 'detach', 'reattach', 'handoff', 'return' and 'start'." reserve --dry-run 26:00.0
usage_error "Option '--dry-run' is only for 'detach', 'reattach', 'handoff', 'return' and 'start'." unreserve 26:00.0 --dry-run
usage_error "Option '--dry-run' is only for 'detach', 'reattach', 'handoff', 'return' and 'start'." reservations --dry-run
usage_error "Option '--override' is only for 'detach', 'reattach' and 'reserve'." unreserve --override 26:00.0
usage_error "Option '--override' is only for 'detach', 'reattach' and 'reserve'." reservations --override
usage_error "Option '--override' takes no argument."              reserve --override=1 26:00.0

# handoff, return, consumers
usage_error "'handoff' needs the ADDRESS of a GPU."               handoff
usage_error "'return' needs the ADDRESS of a GPU."                return --dry-run
usage_error "'consumers' needs the ADDRESS of a GPU."             consumers --json
usage_error "Too many arguments for 'handoff': a GPU's ADDRESS and at most one DOMAIN." handoff 26:00.0 win10 win11
usage_error "Too many arguments for 'return': one GPU's ADDRESS."  return 26:00.0 win10
usage_error "Too many arguments for 'consumers': one GPU's ADDRESS." consumers 26:00.0 26:00.1
usage_error "'handoff' takes the ADDRESS of a GPU, not a group:"  handoff group 16
usage_error "'return' takes the ADDRESS of a GPU, not a group:"   return group 16
usage_error "'consumers' takes the ADDRESS of a GPU, not a group:" consumers group
usage_error "Option '--stop-display-manager' is only for 'handoff' and 'start'." return 26:00.0 --stop-display-manager
usage_error "Option '--stop-display-manager' is only for 'handoff' and 'start'." detach --stop-display-manager group 16
usage_error "Option '--stop-display-manager' is only for 'handoff' and 'start'." status --stop-display-manager
usage_error "Option '--stop-display-manager' takes no argument."  handoff --stop-display-manager=yes 26:00.0
usage_error "Option '--dry-run' is only for 'detach', 'reattach', 'handoff', 'return' and 'start'." consumers 26:00.0 --dry-run
usage_error "Option '--override' is only for 'detach', 'reattach' and 'reserve'." handoff 26:00.0 --override
usage_error "Option '--override' is only for 'detach', 'reattach' and 'reserve'." return --override 26:00.0
usage_error "Unknown option '--stop-display-managers'."          handoff --stop-display-managers 26:00.0
usage_error "Option '--no-start' needs a DOMAIN: 'handoff' without one starts nothing." handoff 26:00.0 --no-start
usage_error "Option '--no-start' needs a DOMAIN: 'handoff' without one starts nothing." handoff --no-start 26:00.0 ''
usage_error "Option '--no-start' is only for 'handoff'."          start win10 --no-start
usage_error "Option '--no-start' is only for 'handoff'."          return 26:00.0 --no-start
usage_error "Option '--no-start' takes no argument."              handoff --no-start=1 26:00.0 win10

# start, guests, libvirt-hook
usage_error "'start' needs the name (or UUID) of a libvirt DOMAIN." start
usage_error "'start' needs the name (or UUID) of a libvirt DOMAIN." start --dry-run --json
usage_error "Too many arguments for 'start': one DOMAIN."         start win10 win11
usage_error "Option '--override' is only for 'detach', 'reattach' and 'reserve'." start win10 --override
usage_error "Too many arguments for 'guests'."                    guests win10
usage_error "Option '--dry-run' is only for 'detach', 'reattach', 'handoff', 'return' and 'start'." guests --dry-run
usage_error "Option '--stop-display-manager' is only for 'handoff' and 'start'." guests --stop-display-manager
usage_error "'libvirt-hook' needs the arguments libvirt passes to its qemu hook: GUEST OPERATION SUB-OPERATION [EXTRA]." --no-color libvirt-hook win10 prepare
usage_error "'libvirt-hook' takes no options: libvirt runs it as 'passthructl libvirt-hook GUEST OPERATION SUB-OPERATION EXTRA'." --json libvirt-hook win10 prepare begin -

# The help names the new commands and options.
if ! "$ctl" --help >"$out" 2>"$err"; then
        echo "FAIL: passthructl --help failed: $(cat "$err")"
        failures=$((failures + 1))
fi
for word in "detach ADDRESS" "detach group N" "reattach ADDRESS" "reattach group N" \
            "reserve ADDRESS" "unreserve ADDRESS" reservations org.passthru1.configure \
            "handoff GPU [DOMAIN]" "return GPU" "consumers GPU" org.passthru1.gpu.handoff \
            "start DOMAIN" guests "libvirt-hook GUEST OPERATION SUB-OPERATION EXTRA" \
            --dry-run --override --no-ask-password org.passthru1.override --stop-display-manager --no-start; do
        if ! grep -qF -- "$word" "$out"; then
                echo "FAIL: --help does not mention '$word'"
                failures=$((failures + 1))
        fi
done

# Well-formed commands get past the argument checks: without a bus they fail with 1.
for args in "detach 26:00.0" "detach group 16 --dry-run --override --no-ask-password --json" \
            "reattach group 0" "reattach pci_0000_26_00_1 --json=pretty" \
            "reserve 26:00.0 --override --no-ask-password --json" "unreserve pci_0000_26_00_1 --no-ask-password" \
            "reservations --json=pretty" "reserve 0000:26:00.0" \
            "handoff 26:00.0" "handoff 26:00.0 win10 --dry-run --stop-display-manager --no-ask-password --json" \
            "handoff --stop-display-manager 0000:26:00.0 -- -odd-domain" "return pci_0000_26_00_0 --dry-run --json=pretty" \
            "return 26:00.0 --no-ask-password" "consumers 26:00.0 --json" \
            "handoff 26:00.0 win10 --no-start" "handoff --no-start --dry-run --json 26:00.0 win10" \
            "start win10" "start win10 --dry-run --stop-display-manager --no-ask-password --json=pretty" \
            "start -- -odd-domain" "guests" "guests --json"; do
        # shellcheck disable=SC2086
        "$ctl" $args >"$out" 2>"$err"
        code=$?
        if [ "$code" -ne 1 ] || ! grep -qF "Cannot connect to the system bus" "$err"; then
                echo "FAIL: passthructl $args: exit $code, want 1 (no bus); stderr: $(cat "$err")"
                failures=$((failures + 1))
        fi
done

if [ "$failures" -gt 0 ]; then
        echo "$failures failure(s)"
        exit 1
fi
echo "ok"
