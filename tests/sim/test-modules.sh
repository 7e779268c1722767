#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Module syscalls under pcisim: the real modprobe/rmmod (libkmod, finit_module/init_module/
# delete_module) run as pcisim's COMMAND, so the seccomp filter catches their calls and the
# supervisor answers them from the simulated machine. Loads with dependencies, holders, autoprobe,
# unload unbinding devices, the uevent log, load/unload faults (errno, EAGAIN, hang), the control
# files on the same code path, calls left pending at exit; then test-modules-kmod (the libkmod
# calls the daemon makes, and raw syscalls).
#   test-modules.sh PCISIM KMOD_TEST LISTING
set -u

PCISIM=$1
KMOD_TEST=$2
LISTING=$3

if [ "$(id -u)" != 0 ] || [ ! -c /dev/fuse ]; then
        echo "SKIP: needs root and /dev/fuse"
        exit 77
fi
for p in modprobe rmmod timeout; do
        if ! command -v "$p" >/dev/null && [ ! -x "/sbin/$p" ] && [ ! -x "/usr/sbin/$p" ]; then
                echo "SKIP: needs $p (kmod, coreutils)"
                exit 77
        fi
done
export PATH="$PATH:/usr/sbin:/sbin"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

. "$(dirname "$0")/test-lib.sh"

cat >"$tmp/modules.sh" <<'EOF'
LOG=$1
check() {       # check DESCRIPTION COMMAND...
        local d=$1; shift
        if "$@"; then echo "ok $d"; else echo "FAIL: $d"; fi
}
eq() {          # eq DESCRIPTION EXPECTED ACTUAL
        if [ "$2" = "$3" ]; then echo "ok $1"; else echo "FAIL: $1: expected '$2', got '$3'"; fi
}
fails_with() {  # fails_with DESCRIPTION MESSAGE COMMAND...
        local d=$1 msg=$2 out rc; shift 2
        out=$("$@" 2>&1); rc=$?
        if [ "$rc" != 0 ] && [[ "$out" == *"$msg"* ]]; then echo "ok $d"; else echo "FAIL: $d: rc=$rc '$out'"; fi
}
driver() { local l; l=$(readlink "/sys/bus/pci/devices/$1/driver") && echo "${l##*/}"; }
# the last uevent log line about a device: "ACTION DRIVER"
last_event() { grep " /devices/pci0000:00/$1 " "$LOG" | tail -n "${2:-1}" | awk '{print $2, $4}' | paste -sd ' '; }
S=/sys/bus/pci
F=/sys/kernel/pcisim/faults

# --- modprobe with dependencies
check "vfio_pci not loaded at boot" test ! -e /sys/module/vfio_pci
check "modprobe vfio-pci" modprobe vfio-pci
eq initstate live "$(cat /sys/module/vfio_pci/initstate)"
check "vfio holder link" test -L /sys/module/vfio/holders/vfio_pci
check "vfio_iommu_type1 holder link" test -L /sys/module/vfio_iommu_type1/holders/vfio_pci
eq "vfio refcnt" 1 "$(cat /sys/module/vfio/refcnt)"
eq "vfio_pci refcnt" 0 "$(cat /sys/module/vfio_pci/refcnt)"
check "driver registered" test -d $S/drivers/vfio-pci
eq "driver module link" ../../../../module/vfio_pci "$(readlink $S/drivers/vfio-pci/module)"
check "modprobe again (loaded)" modprobe vfio-pci
check "module uevent" grep -q " add /module/vfio_pci -" "$LOG"
check "driver uevent" grep -q " add /bus/pci/drivers/vfio-pci -" "$LOG"

# --- override, unbind, drivers_probe
echo vfio-pci > $S/devices/0000:26:00.1/driver_override
echo 0000:26:00.1 > $S/drivers/snd_hda_intel/unbind
echo 0000:26:00.1 > $S/drivers_probe
eq "bound to vfio-pci" vfio-pci "$(driver 0000:26:00.1)"
eq "uevents unbind, bind" "unbind snd_hda_intel bind vfio-pci" "$(last_event 0000:26:00.1 2)"

# --- rmmod: holders refuse, a bound device does not
fails_with "rmmod vfio in use" "in use" rmmod vfio
check "vfio still loaded" test -e /sys/module/vfio/initstate
check "rmmod vfio_pci with a bound device" rmmod vfio_pci
eq "device left driverless" "" "$(driver 0000:26:00.1)"
eq "unbind uevent" "unbind vfio-pci" "$(last_event 0000:26:00.1)"
check "module gone" test ! -e /sys/module/vfio_pci -a ! -e $S/drivers/vfio-pci
check "holder link gone" test ! -e /sys/module/vfio/holders/vfio_pci
eq "vfio refcnt after" 0 "$(cat /sys/module/vfio/refcnt)"
fails_with "rmmod not loaded" "is not currently loaded" rmmod vfio_pci
check "rmmod vfio" rmmod vfio vfio_iommu_type1
check "vfio gone" test ! -e /sys/module/vfio

# --- rmmod and modprobe of a driver in use, autoprobe of its native devices
check "rmmod snd_hda_intel" rmmod snd_hda_intel
eq "28:00.4 driverless" "" "$(driver 0000:28:00.4)"
eq "26:00.1 driverless" "" "$(driver 0000:26:00.1)"
eq "28:00.4 unbind uevent" "unbind snd_hda_intel" "$(last_event 0000:28:00.4)"
check "modprobe snd_hda_intel" modprobe snd_hda_intel
eq "28:00.4 autoprobed" snd_hda_intel "$(driver 0000:28:00.4)"
eq "28:00.4 bind uevent" "bind snd_hda_intel" "$(last_event 0000:28:00.4)"
eq "26:00.1 not autoprobed (override vfio-pci)" "" "$(driver 0000:26:00.1)"
echo > $S/devices/0000:26:00.1/driver_override
echo 0000:26:00.1 > $S/drivers_probe
eq "26:00.1 back to its driver" snd_hda_intel "$(driver 0000:26:00.1)"

# --- load/unload faults: errno
check "rmmod nvidia" rmmod nvidia
echo "load nvidia errno EIO" > $F
eq "load fault listed" "load nvidia errno EIO" "$(cat $F)"
fails_with "modprobe nvidia EIO" "Input/output error" modprobe nvidia
eq "load fault consumed" "" "$(cat $F)"
check "nothing loaded" test ! -e /sys/module/nvidia -a ! -e $S/drivers/nvidia
eq "GPU still driverless" "" "$(driver 0000:26:00.0)"
check "modprobe nvidia" modprobe nvidia
eq "GPU bound again" nvidia "$(driver 0000:26:00.0)"
echo "unload nvidia errno EBUSY" > $F
fails_with "rmmod nvidia EBUSY" "Device or resource busy" rmmod nvidia
eq "GPU still bound" nvidia "$(driver 0000:26:00.0)"
echo "load snd-hda-intel errno 5" > $F
eq "module name normalized, errno by number" "load snd_hda_intel errno EIO" "$(cat $F)"
echo clear > $F
fails_with "bad module name" "Invalid argument" bash -c "echo 'load a/b hang' > $F"
fails_with "load without module" "Invalid argument" bash -c "echo 'load errno EIO' > $F"

# --- ENOSYS from finit_module: libkmod falls back to init_module with the image in memory
rmmod nvidia
echo "load nvidia errno ENOSYS" > $F
check "modprobe via init_module" modprobe nvidia
eq "init_module loaded it" live "$(cat /sys/module/nvidia/initstate)"
eq "init_module autoprobe" nvidia "$(driver 0000:26:00.0)"

# --- hang: a caller that gives up leaves nothing behind; other module calls go on meanwhile
echo "load vfio-pci hang" > $F
eq "hang listed" "load vfio_pci hang" "$(cat $F)"
timeout 1 modprobe vfio-pci
eq "modprobe times out" 124 "$?"
eq "hang consumed" "" "$(cat $F)"
check "dependencies loaded before the hang" test -e /sys/module/vfio -a -e /sys/module/vfio_iommu_type1
check "hung module not loaded" test ! -e /sys/module/vfio_pci
check "other loads while one hangs" bash -c 'rmmod snd_hda_intel && modprobe snd_hda_intel'
echo 1 > /sys/kernel/pcisim/release
check "released call of a gone caller did nothing" test ! -e /sys/module/vfio_pci
check "modprobe after release" modprobe vfio-pci
eq "loaded after release" live "$(cat /sys/module/vfio_pci/initstate)"

# --- a removal refused with EAGAIN (delete_module's "try again") changes nothing
echo "unload vfio_pci errno EAGAIN" > $F
fails_with "rmmod vfio_pci EAGAIN" "Resource temporarily unavailable" rmmod vfio_pci
eq "EAGAIN fault consumed" "" "$(cat $F)"
check "still loaded after EAGAIN" test -e /sys/module/vfio_pci/initstate -a -d $S/drivers/vfio-pci

# --- hang released while the caller still waits: proceeds normally
echo "unload vfio_pci hang" > $F
rmmod vfio_pci & w=$!
for _ in $(seq 1 100); do [ -z "$(cat $F)" ] && break; sleep 0.05; done
sleep 0.2
check "rmmod hangs" kill -0 $w
check "not unloaded while hanging" test -e /sys/module/vfio_pci
echo 1 > /sys/kernel/pcisim/release
wait $w
eq "rmmod after release" 0 "$?"
check "unloaded after release" test ! -e /sys/module/vfio_pci
echo "unload vfio hang" > $F
timeout 1 rmmod vfio
eq "rmmod times out" 124 "$?"
echo 1 > /sys/kernel/pcisim/release
check "released unload of a gone caller did nothing" test -e /sys/module/vfio
rmmod vfio vfio_iommu_type1

# --- control files share the code path and the faults
echo vfio_pci > /sys/kernel/pcisim/load_module
check "load_module with dependencies" test -e /sys/module/vfio_pci -a -L /sys/module/vfio/holders/vfio_pci
fails_with "unload_module in use" "Device or resource busy" bash -c "echo vfio > /sys/kernel/pcisim/unload_module"
check "rmmod after load_module" rmmod vfio_pci vfio vfio_iommu_type1
echo "load vfio_iommu_type1 errno EIO" > $F
fails_with "load_module fault" "Input/output error" bash -c "echo vfio_pci > /sys/kernel/pcisim/load_module"
check "load_module fault stops before the module" test ! -e /sys/module/vfio_pci -a ! -e /sys/module/vfio_iommu_type1
rmmod vfio 2>/dev/null
echo "unload nvidia errno EIO" > $F
fails_with "unload_module fault" "Input/output error" bash -c "echo nvidia > /sys/kernel/pcisim/unload_module"
eq "GPU bound after unload fault" nvidia "$(driver 0000:26:00.0)"

# --- descendants of COMMAND, in a new session, are under the filter too
check "modprobe in a grandchild" setsid bash -c 'sh -c "modprobe vfio-pci && rmmod vfio_pci vfio vfio_iommu_type1"'
EOF

out=$("$PCISIM" --uevent-log "$tmp/log" "$LISTING" -- bash "$tmp/modules.sh" "$tmp/log" 2>&1)
count "$out" $? "modules.sh"

out=$("$PCISIM" "$LISTING" -- "$KMOD_TEST" 2>&1)
count "$out" $? "test-modules-kmod"

# A call pending at exit (hang fault) does not keep its caller waiting: ENOSYS once the
# listener is closed (or, as here, the released hang's answer), modprobe ends.
start=$(date +%s)
"$PCISIM" "$LISTING" -- bash -c '
        echo "load vfio_pci hang" > /sys/kernel/pcisim/faults
        (modprobe vfio-pci >/dev/null 2>&1; echo $? > "$0") &
        for _ in $(seq 1 100); do [ -z "$(cat /sys/kernel/pcisim/faults)" ] && break; sleep 0.05; done
        exit 0' "$tmp/left-rc"
[ $? = 0 ] && pass || fail "pcisim with a pending module call did not exit 0"
for _ in $(seq 1 100); do [ -s "$tmp/left-rc" ] && break; sleep 0.05; done
[ -s "$tmp/left-rc" ] && pass || fail "a module call pending at exit kept its caller waiting"
[ $(($(date +%s) - start)) -lt 10 ] && pass || fail "exit with a pending module call took too long"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
