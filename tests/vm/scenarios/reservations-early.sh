#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The early-boot half of the reservations scenario (PASSTHRU_VM_EARLY): run by guest-init
# before udev's coldplug, where passthrud-reservations.service runs on a real boot. Reserves
# the emulated GPU (VGA 1234:1111) and its HD-audio function (8086:293e) by address in
# /etc/passthru1/reservations, then runs `passthrud --apply-reservations` as the unit does.
# Its log is kept in /run/passthru-reservations.log for the scenario.
set -u
HERE=$(dirname "$(readlink -f "$0")")
# shellcheck source=tests/vm/guest-lib.sh
. "$HERE/../guest-lib.sh"
B=${PASSTHRU_BUILD_DIR:?}

vga=$(pci_find 1234 1111) || { echo "no VGA 1234:1111"; exit 1; }
hda=$(pci_find 8086 293e) || { echo "no HDA 8086:293e"; exit 1; }
mkdir -p /etc/passthru1
printf '# written by the test\n%s 1234:1111 emulated VGA\n%s 8086:293e its HD audio\n' "$vga" "$hda" \
        >/etc/passthru1/reservations
echo "early: reserved $vga and $hda; drivers before: '$(pci_driver "$vga")' '$(pci_driver "$hda")'"
"$B/service/passthrud" --apply-reservations >/run/passthru-reservations.log 2>&1
status=$?
sed 's/^/early: /' /run/passthru-reservations.log
exit "$status"
