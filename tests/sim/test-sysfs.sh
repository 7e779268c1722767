#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# pcisim behaviour test: attributes and links as a kernel formats them, lspci and the
# listing script reproducing the fixtures (also the Skylake one), libkmod alias resolution, the kernel
# semantics of writes (override, bind, unbind, drivers_probe, remove, rescan,
# sriov_numvfs, module load/unload), faults, exit status, a 4096-function machine.
#   test-sysfs.sh PCISIM FIXTURE_DIR GEN_MACHINE_PY
set -u

PCISIM=$1
FIXTURES=$2
GEN=$3

if [ "$(id -u)" != 0 ] || [ ! -c /dev/fuse ]; then
        echo "SKIP: needs root and /dev/fuse"
        exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

. "$(dirname "$0")/test-lib.sh"

run_inner() {    # run_inner LISTING SCRIPT: SCRIPT as pcisim's COMMAND, its checks counted
        local listing=$1 script=$2 out rc
        out=$("$PCISIM" "$listing" -- bash "$script" 2>&1)
        rc=$?
        count "$out" "$rc" "inner script on $listing"
}

cat >"$tmp/lib.sh" <<'EOF'
check() {       # check DESCRIPTION COMMAND...
        local d=$1; shift
        if "$@"; then echo "ok $d"; else echo "FAIL: $d"; fi
}
eq() {          # eq DESCRIPTION EXPECTED ACTUAL
        if [ "$2" = "$3" ]; then echo "ok $1"; else echo "FAIL: $1: expected '$2', got '$3'"; fi
}
fails_with() {  # fails_with DESCRIPTION MESSAGE SHELL-COMMAND
        local out rc
        out=$(bash -c "$3" 2>&1); rc=$?
        if [ "$rc" != 0 ] && [[ "$out" == *"$2"* ]]; then echo "ok $1"; else echo "FAIL: $1: rc=$rc '$out'"; fi
}
S=/sys/bus/pci
EOF

# --- 1. attributes, links, modules, /proc, kmod on the fixture ---------------------------
cat >"$tmp/attrs.sh" <<'EOF'
. "$(dirname "$0")/lib.sh"
D=$S/devices/0000:26:00.0
eq vendor 0x10de "$(cat $D/vendor)"
eq device 0x1f82 "$(cat $D/device)"
eq subsystem_vendor 0x10de "$(cat $D/subsystem_vendor)"
eq class 0x030000 "$(cat $D/class)"
eq xhci-class 0x0c0330 "$(cat $S/devices/0000:03:00.0/class)"
eq revision 0xa1 "$(cat $D/revision)"
eq boot_vga 1 "$(cat $D/boot_vga)"
check "no boot_vga on audio" test ! -e $S/devices/0000:26:00.1/boot_vga
eq modalias pci:v000010DEd00001F82sv000010DEsd00001F82bc03sc00i00 "$(cat $D/modalias)"
eq uevent "DRIVER=nvidia
PCI_CLASS=30000
PCI_ID=10DE:1F82
PCI_SUBSYS_ID=10DE:1F82
PCI_SLOT_NAME=0000:26:00.0
MODALIAS=pci:v000010DEd00001F82sv000010DEsd00001F82bc03sc00i00" "$(cat $D/uevent)"
eq driver_override "(null)" "$(cat $D/driver_override)"
eq numa_node -1 "$(cat $D/numa_node)"
eq power_state D0 "$(cat $D/power_state)"
eq "resource lines" 7 "$(wc -l <$D/resource)"
eq "resource format" "0x0000000000000000 0x0000000000000000 0x0000000000000000" "$(head -1 $D/resource)"
eq "config size" 256 "$(wc -c <$D/config)"
eq "config header" "de 10 82 1f" "$(od -An -tx1 -N4 $D/config | xargs)"
eq "config class" "00 00 03" "$(od -An -tx1 -j9 -N3 $D/config | xargs)"
eq "multifunction header" 80 "$(od -An -tx1 -j14 -N1 $D/config | xargs)"
eq "bridge header" 01 "$(od -An -tx1 -j14 -N1 $S/devices/0000:20:00.0/config | xargs)"
check "bridge: no reset_method" test ! -e $S/devices/0000:00:01.1/reset_method
eq driver-link ../../../bus/pci/drivers/nvidia "$(readlink $D/driver)"
eq group-link ../../../kernel/iommu_groups/16 "$(readlink $D/iommu_group)"
eq subsystem-link ../../../bus/pci "$(readlink $D/subsystem)"
eq bus-link ../../../devices/pci0000:00/0000:26:00.0 "$(readlink $D)"
eq group-device-link ../../../../devices/pci0000:00/0000:26:00.0 "$(readlink /sys/kernel/iommu_groups/16/devices/0000:26:00.0)"
eq group-members "0000:26:00.0 0000:26:00.1" "$(ls /sys/kernel/iommu_groups/16/devices | xargs)"
eq group-type identity "$(cat /sys/kernel/iommu_groups/16/type)"
eq driver-device-link ../../../../devices/pci0000:00/0000:26:00.0 "$(readlink $S/drivers/nvidia/0000:26:00.0)"
eq module-link ../../../../module/nvidia "$(readlink $S/drivers/nvidia/module)"
eq xhci-module ../../../../module/xhci_pci "$(readlink $S/drivers/xhci_hcd/module)"
eq piix4-module ../../../../module/i2c_piix4 "$(readlink $S/drivers/piix4_smbus/module)"
check "pcieport built in" test ! -e $S/drivers/pcieport/module
eq initstate live "$(cat /sys/module/nvidia/initstate)"
eq refcnt 0 "$(cat /sys/module/nvidia/refcnt)"
eq module-driver-link ../../../bus/pci/drivers/nvidia "$(readlink /sys/module/nvidia/drivers/pci:nvidia)"
check "vfio-pci not registered" test ! -e $S/drivers/vfio-pci
check "vfio_pci not loaded" test ! -e /sys/module/vfio_pci
eq autoprobe 1 "$(cat $S/drivers_autoprobe)"
eq iommu-class ../../devices/virtual/iommu/ivhd0 "$(readlink /sys/class/iommu/ivhd0)"
check "amd-iommu cap" test -f /sys/class/iommu/ivhd0/amd-iommu/cap
eq framebuffer ../../../../devices/platform/efi-framebuffer.0 "$(readlink /sys/bus/platform/drivers/efi-framebuffer/efi-framebuffer.0)"
eq devices 38 "$(ls $S/devices | wc -l)"
eq groups 22 "$(ls /sys/kernel/iommu_groups | wc -l)"
eq seqnum 999 "$(cat /sys/kernel/pcisim/seqnum)"
check "/proc/cmdline" grep -q "^BOOT_IMAGE=.*iommu=pt" /proc/cmdline
check "/proc/interrupts IR" grep -q "IR-PCI-MSI-0000:26:00.0" /proc/interrupts
eq "modprobe alias nvidia" nvidia "$(modprobe -R "$(cat $D/modalias)")"
eq "modprobe alias hda" snd_hda_intel "$(modprobe -R "$(cat $S/devices/0000:26:00.1/modalias)")"
check "vfio_pci depends on vfio" sh -c 'modprobe --show-depends vfio-pci | grep -q "/vfio.ko"'
fails_with "read-only attribute" "Permission denied" "echo 1 > $D/vendor"
fails_with "write-only attribute" "Permission denied" "cat $S/drivers/nvidia/unbind"
fails_with "no creation" "Permission denied" "echo 1 > $S/devices/0000:26:00.0/frobnicate"
EOF
run_inner "$FIXTURES/amd-matisse-gtx1650.txt" "$tmp/attrs.sh"

# --- 2. kernel semantics of writes ----------------------------------------------------------
cat >"$tmp/semantics.sh" <<'EOF'
. "$(dirname "$0")/lib.sh"
D=$S/devices/0000:26:00.0
A=$S/devices/0000:26:00.1
# driver_override
echo vfio-pci > $D/driver_override
eq override-set vfio-pci "$(cat $D/driver_override)"
echo > $D/driver_override
eq override-cleared "(null)" "$(cat $D/driver_override)"
fails_with override-too-long "Invalid argument" "head -c 5000 /dev/zero | tr '\\\\0' x > $D/driver_override"
# bind/unbind errors
fails_with unbind-wrong-driver "No such device" "echo 0000:26:00.0 > $S/drivers/snd_hda_intel/unbind"
fails_with bind-busy "Device or resource busy" "echo 0000:26:00.0 > $S/drivers/nvidia/bind"
fails_with bind-unknown "No such device" "echo 0000:99:00.0 > $S/drivers/nvidia/bind"
fails_with bind-short-name "No such device" "echo 26:00.0 > $S/drivers/nvidia/bind"
fails_with probe-unknown "No such device" "echo 0000:99:00.0 > $S/drivers_probe"
# the usual vfio-pci flow
echo vfio-pci > $D/driver_override
echo 0000:26:00.0 > $S/drivers/nvidia/unbind
check unbound-immediately test ! -e $D/driver
check driver-link-gone test ! -e $S/drivers/nvidia/0000:26:00.0
echo 0000:26:00.0 > $S/drivers_probe
eq probe-without-vfio-module "" "$(readlink $D/driver)"
fails_with bind-override-mismatch "No such device" "echo 0000:26:00.0 > $S/drivers/nvidia/bind"
echo vfio_pci > /sys/kernel/pcisim/load_module
eq load-binds-override ../../../bus/pci/drivers/vfio-pci "$(readlink $D/driver)"
eq vfio-initstate live "$(cat /sys/module/vfio_pci/initstate)"
check vfio-holder test -L /sys/module/vfio/holders/vfio_pci
eq vfio-refcnt 1 "$(cat /sys/module/vfio/refcnt)"
eq vfio-enable 0 "$(cat $D/enable)"
fails_with vfio-needs-override "No such device" "echo 0000:26:00.1 > $S/drivers/vfio-pci/bind"
fails_with vfio-no-bridges "Invalid argument" "echo vfio-pci > $S/devices/0000:00:01.1/driver_override; echo 0000:00:01.1 > $S/drivers/pcieport/unbind; echo 0000:00:01.1 > $S/drivers/vfio-pci/bind"
echo > $S/devices/0000:00:01.1/driver_override
echo 0000:00:01.1 > $S/drivers_probe
eq bridge-back ../../../bus/pci/drivers/pcieport "$(readlink $S/devices/0000:00:01.1/driver)"
echo vfio-pci > $A/driver_override
echo 0000:26:00.1 > $S/drivers/snd_hda_intel/unbind
echo 0000:26:00.1 > $S/drivers/vfio-pci/bind
eq bind-explicit ../../../bus/pci/drivers/vfio-pci "$(readlink $A/driver)"
fails_with unload-in-use "Device or resource busy" "echo vfio > /sys/kernel/pcisim/unload_module"
echo vfio_pci > /sys/kernel/pcisim/unload_module
check unload-unbinds test ! -e $D/driver -a ! -e $A/driver
check unload-unregisters test ! -e $S/drivers/vfio-pci -a ! -e /sys/module/vfio_pci
echo > $D/driver_override
echo > $A/driver_override
echo 0000:26:00.0 > $S/drivers_probe
echo 0000:26:00.1 > $S/drivers/snd_hda_intel/bind
eq native-again ../../../bus/pci/drivers/nvidia "$(readlink $D/driver)"
eq native-audio ../../../bus/pci/drivers/snd_hda_intel "$(readlink $A/driver)"
# new_id
echo 0000:26:00.1 > $S/drivers/snd_hda_intel/unbind
echo vfio_pci > /sys/kernel/pcisim/load_module
echo "10de 10fa" > $S/drivers/vfio-pci/new_id
eq new_id-binds ../../../bus/pci/drivers/vfio-pci "$(readlink $A/driver)"
echo "10de 10fa" > $S/drivers/vfio-pci/remove_id
fails_with remove_id-unknown "No such device" "echo '10de 10fa' > $S/drivers/vfio-pci/remove_id"
echo vfio_pci > /sys/kernel/pcisim/unload_module
echo 0000:26:00.1 > $S/drivers_probe
# faults
echo "unbind 0000:26:00.1 errno EBUSY" > /sys/kernel/pcisim/faults
eq faults-listed "unbind 0000:26:00.1 errno EBUSY" "$(cat /sys/kernel/pcisim/faults)"
fails_with fault-fires "Device or resource busy" "echo 0000:26:00.1 > $S/drivers/snd_hda_intel/unbind"
eq fault-consumed "" "$(cat /sys/kernel/pcisim/faults)"
check still-bound test -e $A/driver
echo "remove 26:00.1 errno EIO" > /sys/kernel/pcisim/faults
echo clear > /sys/kernel/pcisim/faults
eq faults-cleared "" "$(cat /sys/kernel/pcisim/faults)"
fails_with fault-bad-line "Invalid argument" "echo 'frob 0000:26:00.1 hang' > /sys/kernel/pcisim/faults"
# FUSE cannot answer a write with EPROBE_DEFER (517): refused rather than a write never answered
fails_with fault-errno-beyond-fuse "Invalid argument" "echo 'bind 0000:26:00.1 errno EPROBE_DEFER' > /sys/kernel/pcisim/faults"
check fault-errno-module-ok bash -c "echo 'load nvidia errno EPROBE_DEFER' > /sys/kernel/pcisim/faults"
echo clear > /sys/kernel/pcisim/faults
echo "unbind 0000:26:00.1 hang" > /sys/kernel/pcisim/faults
(echo 0000:26:00.1 > $S/drivers/snd_hda_intel/unbind; echo $? > /tmp/pcisim-hang-rc) &
w=$!
# the fault leaves the list when the writer reaches it (and then waits, atomically)
for _ in $(seq 1 200); do [ -z "$(cat /sys/kernel/pcisim/faults)" ] && break; sleep 0.05; done
sleep 0.2
check hang-blocks kill -0 $w
check hang-not-yet-unbound test -e $A/driver
echo 1 > /sys/kernel/pcisim/release
wait $w
check hang-released test ! -e $A/driver
echo 0000:26:00.1 > $S/drivers_probe
# remove / rescan: 01:00.0 is alone in group 14
N=$S/devices/0000:01:00.0
echo 1 > $N/remove
check removed test ! -e $N -a ! -e /sys/devices/pci0000:00/0000:01:00.0
check group-gone test ! -e /sys/kernel/iommu_groups/14
check driver-link-removed test ! -e $S/drivers/nvme/0000:01:00.0
echo 1 > $S/rescan
check rescanned test -e $N
check group-back test -e /sys/kernel/iommu_groups/14/devices/0000:01:00.0
eq rescan-binds ../../../bus/pci/drivers/nvme "$(readlink $N/driver)"
echo 0 > $S/drivers_autoprobe
echo 1 > $N/remove
echo 1 > $S/rescan
check no-autoprobe test ! -e $N/driver
echo 1 > $S/drivers_autoprobe
EOF
run_inner "$FIXTURES/amd-matisse-gtx1650.txt" "$tmp/semantics.sh"

# --- 3. the listing script reproduces the fixtures (up to names) -------------------------
cat >"$tmp/listing.sh" <<'EOF'
for g in $(find /sys/kernel/iommu_groups/* -maxdepth 0 -type d | sort -V); do for d in $g/devices/*; do echo "IOMMU Group ${g##*/} $(lspci -nns ${d##*/})"; done; done
EOF
# group, address, [class], [ids], rev of each line, names dropped
strip_names() {
        sed -E 's/^(IOMMU Group [0-9]+ [0-9a-f:.]+) .*(\[[0-9a-f]{4}\]): .*(\[[0-9a-f]{4}:[0-9a-f]{4}\])( \(rev [0-9a-f]{2}\))?$/\1 \2 \3\4/'
}
for f in amd-matisse-gtx1650 amd-matisse-gtx1650-acs-override intel-skylake-gtx1050ti; do
        if ! "$PCISIM" "$FIXTURES/$f.txt" -- bash "$tmp/listing.sh" >"$tmp/$f.out" 2>"$tmp/$f.err"; then
                fail "listing script under pcisim on $f"; cat "$tmp/$f.err"
        elif diff <(grep '^IOMMU Group' "$FIXTURES/$f.txt" | strip_names) <(strip_names <"$tmp/$f.out") >"$tmp/$f.diff"; then
                pass
        else
                fail "listing script output differs from $f"; cat "$tmp/$f.diff"
        fi
done

# --- 4. SR-IOV on a generated machine -----------------------------------------------------
python3 "$GEN" 300 "$tmp/m300.txt" || fail "gen-machine.py 300"
cat >"$tmp/sriov.sh" <<'EOF'
. "$(dirname "$0")/lib.sh"
PF=$S/devices/0000:01:00.0
eq devices 300 "$(ls $S/devices | wc -l)"
eq totalvfs 64 "$(cat $PF/sriov_totalvfs)"
eq numvfs 64 "$(cat $PF/sriov_numvfs)"
eq virtfn0 ../0000:01:02.0 "$(readlink $PF/virtfn0)"
eq physfn ../0000:01:00.0 "$(readlink $S/devices/0000:01:02.0/physfn)"
eq vf-driver ../../../bus/pci/drivers/iavf "$(readlink $S/devices/0000:01:02.0/driver)"
eq vf-device 154c "$(cat $PF/sriov_vf_device)"
fails_with numvfs-busy "Device or resource busy" "echo 4 > $PF/sriov_numvfs"
fails_with numvfs-range "Numerical result out of range" "echo 65 > $PF/sriov_numvfs"
echo 0 > $PF/sriov_numvfs
check vfs-gone test ! -e $S/devices/0000:01:02.0 -a ! -e $PF/virtfn0
echo 4 > $PF/sriov_numvfs
eq vfs-back 4 "$(ls -d $PF/virtfn* | wc -l)"
eq vf-rebound ../../../bus/pci/drivers/iavf "$(readlink $S/devices/0000:01:02.3/driver)"
check vf-4-absent test ! -e $S/devices/0000:01:02.4
echo 0000:01:00.0 > $S/drivers/i40e/unbind
check pf-unbind-drops-vfs test ! -e $S/devices/0000:01:02.0
fails_with numvfs-no-driver "No such file or directory" "echo 4 > $PF/sriov_numvfs"
EOF
run_inner "$tmp/m300.txt" "$tmp/sriov.sh"

# --- 5. exit status, errors --------------------------------------------------------------
"$PCISIM" "$FIXTURES/amd-matisse-gtx1650.txt" -- sh -c 'exit 7'
[ $? = 7 ] && pass || fail "exit status not propagated"
"$PCISIM" "$FIXTURES/amd-matisse-gtx1650.txt" -- sh -c 'kill -TERM $$'
[ $? = 143 ] && pass || fail "death by signal not 128+sig"
printf 'IOMMU Group 1 26:00.0 VGA compatible controller [0300]: NVIDIA [10dg:1f82]\n' >"$tmp/bad.txt"
out=$("$PCISIM" "$tmp/bad.txt" -- true 2>&1)
rc=$?
[ "$rc" = 1 ] && [[ "$out" == "pcisim: $tmp/bad.txt:1: bad hex"* ]] && pass || fail "bad listing: rc=$rc '$out'"
"$PCISIM" --pidfile "$tmp/pid" "$FIXTURES/amd-matisse-gtx1650.txt" -- sh -c 'test -s "$0" && test "$(cat "$0")" -gt 1' "$tmp/pid" \
        && pass || fail "pidfile not written before the command starts"
"$PCISIM" "$FIXTURES/amd-matisse-gtx1650.txt" -- sh -c 'kill -TERM $PPID; sleep 5; exit 3' &
w=$!
wait $w
[ $? = 143 ] && pass || fail "SIGTERM not forwarded to the command"

# --- 6. a 4096-function machine ------------------------------------------------------------
python3 "$GEN" 4096 "$tmp/m4096.txt" || fail "gen-machine.py 4096"
start=$(date +%s.%N)
out=$("$PCISIM" "$tmp/m4096.txt" -- sh -c 'ls /sys/bus/pci/devices | wc -l')
end=$(date +%s.%N)
[ "$out" = 4096 ] && pass || fail "4096 machine shows $out devices"
elapsed=$(echo "$end - $start" | bc)
echo "  | 4096-function machine: boot + ls + teardown in ${elapsed}s"
[ "$(echo "$elapsed < 30" | bc)" = 1 ] && pass || fail "4096 machine took ${elapsed}s"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
