#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Boot-time reservations against the real kernel: the early hook (reservations-early.sh,
# before udev's coldplug, like passthrud-reservations.service) reserved the VGA + HD-audio
# card by address and ran `passthrud --apply-reservations`.
#   reservations.sh applied   (normal boot): both functions are on vfio-pci before any
#       session or daemon starts, udev's coldplug did not take them (driver_override), no
#       DRM node for the VGA, /dev/vfio/N exists; then passthrud sees them reserved and on
#       vfio-pci, and passthructl reattach gives them to bochs-drm and snd_hda_intel.
#   reservations.sh disabled  (passthru.disable=1 on the kernel command line): the hook
#       ran and left everything to the host: bochs-drm and snd_hda_intel, no override,
#       vfio_pci not loaded.
set -u
HERE=$(dirname "$(readlink -f "$0")")
# shellcheck source=tests/vm/guest-lib.sh
. "$HERE/../guest-lib.sh"
B=${PASSTHRU_BUILD_DIR:?}
S=${PASSTHRU_SOURCE_DIR:?}
CTL=$B/clients/passthructl
mode=${1:?applied or disabled}
SYSPCI=/sys/bus/pci/devices

vga=$(pci_find 1234 1111)
hda=$(pci_find 8086 293e)
grp=$(pci_group "$vga")
diag "VGA $vga + HDA $hda in group $grp; kernel command line: $(cat /proc/cmdline)"
vga_drm_nodes() { # DRM nodes whose device is the VGA
        local n
        for n in /sys/class/drm/*/device; do
                [ "$(readlink -f "$n")" = "$(readlink -f "$SYSPCI/$vga")" ] && echo "${n%/device}"
        done
}

check_eq "the early hook (passthrud --apply-reservations) exit status" 0 "$(cat /run/passthru-vm-early.status 2>&1)"

if [ "$mode" = disabled ]; then
        check_match "the kernel command line has passthru.disable=1" 'passthru\.disable=1' "$(cat /proc/cmdline)"
        check_match "passthrud says why it did nothing" 'passthru\.disable' "$(cat /run/passthru-reservations.log)"
        check_eq "the VGA is on its host driver" bochs-drm "$(pci_driver "$vga")"
        check_eq "the HDA is on its host driver" snd_hda_intel "$(pci_driver "$hda")"
        check_eq "no driver_override on the VGA" "(null)" "$(pci_override "$vga")"
        check_eq "no driver_override on the HDA" "(null)" "$(pci_override "$hda")"
        check "vfio_pci not loaded" test ! -e /sys/module/vfio_pci
        check "/dev/vfio/$grp absent" test ! -e "/dev/vfio/$grp"
        check "the VGA has its DRM node" test -n "$(vga_drm_nodes)"
        finish
fi

# --- before any session: what the boot left ------------------------------------------------
check_eq "the VGA is on vfio-pci after udev's coldplug" vfio-pci "$(pci_driver "$vga")"
check_eq "the HDA is on vfio-pci after udev's coldplug" vfio-pci "$(pci_driver "$hda")"
check_eq "the VGA's driver_override" vfio-pci "$(pci_override "$vga")"
check_eq "the HDA's driver_override" vfio-pci "$(pci_override "$hda")"
check "/dev/vfio/$grp is a character device" test -c "/dev/vfio/$grp"
check_eq "no DRM node for the VGA (bochs-drm never bound it)" "" "$(vga_drm_nodes)"
check "bochs loaded by coldplug nonetheless (it would have taken the VGA)" test -e /sys/module/bochs
check_match "the log names both functions' steps" "$vga: driver_override = vfio-pci" "$(cat /run/passthru-reservations.log)"
check "no journal left" test -z "$(ls /run/passthru1/*.journal 2>/dev/null)"

# --- the daemon, once the system is up --------------------------------------------------------
mkdir -p /etc/dbus-1/system.d /usr/share/polkit-1/actions
cp "$S/dbus/org.passthru1.conf" /etc/dbus-1/system.d/
cp "$S/polkit/org.passthru1.policy" /usr/share/polkit-1/actions/
check "system dbus-daemon starts" start_system_bus
"$B/service/passthrud" --log-level=debug >>/run/passthrud.log 2>&1 &
check "passthrud owns org.passthru1" wait_for 30 bus_has_name org.passthru1
dev_path() { local a=${1//[:.]/_}; echo "/org/passthru1/device/pci_$a"; }
check_eq "Device.Reserved of the VGA" "b true" \
        "$(busctl --system get-property org.passthru1 "$(dev_path "$vga")" org.passthru1.Device Reserved 2>&1)"
check_eq "Device.State of the VGA" 's "vfio"' \
        "$(busctl --system get-property org.passthru1 "$(dev_path "$vga")" org.passthru1.Device State 2>&1)"
out=$("$CTL" reservations 2>&1)
check_match "passthructl reservations lists the VGA" "$vga" "$out"
out=$("$CTL" reattach group "$grp" 2>&1)
check_eq "passthructl reattach group $grp exit status (output: $out)" 0 $?
check_eq "the VGA back on bochs-drm" bochs-drm "$(pci_driver "$vga")"
check_eq "the HDA back on snd_hda_intel" snd_hda_intel "$(pci_driver "$hda")"
check_eq "the VGA's override cleared" "(null)" "$(pci_override "$vga")"
check "the VGA has its DRM node again" test -n "$(vga_drm_nodes)"
check_match "still reserved for the next boot" "$vga" "$("$CTL" reservations 2>&1)"
finish
