#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Proves the test bed: the guest kernel, real IOMMU groups with the expected
# topology, interrupt remapping, vfio-pci binding and back, udev events, the
# system bus and polkitd.  Runs inside the guest (tests/vm/run-guest.sh).

set -u
HERE=$(dirname "$(readlink -f "$0")")
# shellcheck source=tests/vm/guest-lib.sh
. "$HERE/../guest-lib.sh"

read -r uptime _ </proc/uptime
diag "kernel $(uname -r), guest uptime $uptime s at scenario start"
check_eq "guest runs the prepared kernel" "${PASSTHRU_VM_KERNEL:-?}" "$(uname -r)"
check "PASSTHRU_BUILD_DIR is visible in the guest" test -d "${PASSTHRU_BUILD_DIR:-/nonexistent}"

# --- IOMMU groups ---------------------------------------------------------------
all_groups=(/sys/kernel/iommu_groups/*)
check "several IOMMU groups (${#all_groups[@]})" test "${#all_groups[@]}" -ge 6

diag "IOMMU groups:"
for g in $(printf '%s\n' "${all_groups[@]##*/}" | sort -n); do
        for d in $(pci_group_devices "$g"); do
                read -r vendor <"/sys/bus/pci/devices/$d/vendor"
                read -r device <"/sys/bus/pci/devices/$d/device"
                read -r class <"/sys/bus/pci/devices/$d/class"
                printf '#   group %-2s %s [%s:%s] class %s driver %s\n' "$g" "$d" \
                        "${vendor#0x}" "${device#0x}" "${class:2:4}" "$(pci_driver "$d")"
        done
done

vga=$(pci_find 1234 1111)
hda=$(pci_find 8086 293e)
nic=$(pci_find 8086 10d3)
xhci=$(pci_find 1b36 000d)
vgpu=$(pci_find 1af4 1050)
lpc=$(pci_find 8086 2918)
check "VGA 1234:1111 present" test -n "$vga"
vga_class=$(pci_attr "$vga" class)
check_eq "VGA is a display controller of class 0300" 0x0300 "${vga_class:0:6}"
check "HD audio 8086:293e present" test -n "$hda"
check "e1000e NIC 8086:10d3 present" test -n "$nic"
check "xHCI 1b36:000d present" test -n "$xhci"
check "virtio-gpu 1af4:1050 present" test -n "$vgpu"

vga_group=$(pci_group "$vga")
check_eq "VGA and HD audio share one IOMMU group" "$vga_group" "$(pci_group "$hda")"
check_eq "... and are alone in it" "$(printf '%s\n' "$vga" "$hda" | sort)" \
        "$(pci_group_devices "$vga_group" | sort)"
check_eq "VGA and HD audio are functions 0 and 1 of one slot" "${vga%.*}" "${hda%.*}"
for dev in "$nic" "$xhci" "$vgpu"; do
        check_eq "$dev ($(pci_driver "$dev")) is alone in its group" "$dev" \
                "$(pci_group_devices "$(pci_group "$dev")")"
done
distinct=$(for d in "$vga" "$nic" "$xhci" "$vgpu"; do pci_group "$d"; done | sort -u | wc -l)
check_eq "GPU, NIC, xHCI and virtio-gpu are in four distinct groups" 4 "$distinct"
lpc_count=$(pci_group_devices "$(pci_group "$lpc")" | wc -l)
check "LPC, AHCI and SMBus share a group ($lpc_count devices)" test "$lpc_count" -ge 3

check_eq "VGA bound to bochs-drm" bochs-drm "$(pci_driver "$vga")"
check_eq "HD audio bound to snd_hda_intel" snd_hda_intel "$(pci_driver "$hda")"
check_eq "NIC bound to e1000e" e1000e "$(pci_driver "$nic")"

# --- interrupt remapping ------------------------------------------------------------
check "interrupt remapping is on (IR-PCI-MSI in /proc/interrupts)" grep -q IR-PCI-MSI /proc/interrupts

# --- vfio ---------------------------------------------------------------------------
check "/dev/vfio/vfio is a 10:196 node" test "$(stat -c '%F %t:%T' /dev/vfio/vfio 2>/dev/null)" = "character special file a:c4"
t0=$(now_ms)
check "modprobe vfio-pci" modprobe vfio-pci
diag "modprobe vfio-pci took $(($(now_ms) - t0)) ms"
check "vfio-pci driver registered" test -d /sys/bus/pci/drivers/vfio-pci

nic_group=$(pci_group "$nic")
events=$(mktemp)
stdbuf -oL udevadm monitor --udev --subsystem-match=pci >"$events" 2>&1 &
monitor=$!
wait_for 10 grep -q '^UDEV' "$events"   # the banner: it listens
sleep 0.2

t0=$(now_ms)
check "bind the NIC to vfio-pci (driver_override, unbind, drivers_probe)" pci_bind "$nic" vfio-pci
diag "rebinding took $(($(now_ms) - t0)) ms"
check_eq "the NIC's driver link says vfio-pci" vfio-pci "$(pci_driver "$nic")"
check "/dev/vfio/$nic_group appeared" wait_for 10 test -c "/dev/vfio/$nic_group"

# The group is usable through the VFIO API: container API version and a
# viable group (ioctls VFIO_GET_API_VERSION and VFIO_GROUP_GET_STATUS).
# shellcheck disable=SC2317  # (called through check)
vfio_status() {
        /usr/bin/python3 - "$1" <<'EOF'
import fcntl, os, struct, sys
VFIO_GET_API_VERSION = 0x3B64
VFIO_GROUP_GET_STATUS = 0x3B67
container = os.open("/dev/vfio/vfio", os.O_RDWR)
assert fcntl.ioctl(container, VFIO_GET_API_VERSION) == 0, "VFIO API version"
group = os.open("/dev/vfio/" + sys.argv[1], os.O_RDWR)
argsz, flags = struct.unpack("II", fcntl.ioctl(group, VFIO_GROUP_GET_STATUS, struct.pack("II", 8, 0)))
print("group flags", flags)
sys.exit(0 if flags & 1 else 1)
EOF
}
check "VFIO reports group $nic_group viable" vfio_status "$nic_group"

check "udev saw the bind event" wait_for 10 grep -qE "bind +/devices/.*/$nic \\(pci\\)" "$events"

check "return the NIC to e1000e (clear override, unbind, drivers_probe)" pci_bind "$nic" ""
check_eq "the NIC's driver link says e1000e again" e1000e "$(pci_driver "$nic")"
check_eq "driver_override is cleared" "(null)" "$(cat "/sys/bus/pci/devices/$nic/driver_override")"
check "/dev/vfio/$nic_group went away" wait_for 10 test ! -e "/dev/vfio/$nic_group"
check "udev saw the unbind from vfio-pci" grep -qE "unbind +/devices/.*/$nic \\(pci\\)" "$events"
kill "$monitor" 2>/dev/null
wait "$monitor" 2>/dev/null
diag "udev events:"
grep -E '^UDEV +\[' "$events" | sed 's/^/#   /'
rm -f "$events"

# --- system bus, polkit, users -----------------------------------------------------------
t0=$(now_ms)
check "dbus-daemon --system starts" start_system_bus
diag "system bus up in $(($(now_ms) - t0)) ms"
t0=$(now_ms)
check "polkitd starts and owns org.freedesktop.PolicyKit1" start_polkitd
diag "polkitd up in $(($(now_ms) - t0)) ms"
check_match "polkit answers (BackendName)" '^s "' \
        "$(busctl --system get-property org.freedesktop.PolicyKit1 /org/freedesktop/PolicyKit1/Authority \
                org.freedesktop.PolicyKit1.Authority BackendName 2>&1)"
check "add_user alice" add_user alice
check_match "run_as alice runs with her uid" '^[1-9][0-9]*$' "$(run_as alice id -u)"

finish
