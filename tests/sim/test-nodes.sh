#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# What bound drivers make besides /sys/bus/pci, under pcisim: /dev/vfio/N while a function of
# group N is bound to vfio-pci (and who holds it, through /proc/PID/fd), the "# drm", "# net" and
# "# block" class devices with their /sys/class, /sys/dev and /dev/dri entries, the uevents for
# them, the /sys/kernel/pcisim/state snapshot, faults on these steps leaving the state as it was,
# a real interface of a listed name with the default route, entering with nsenter, and the
# "# block" errors.
#   test-nodes.sh PCISIM LISTING
set -u

PCISIM=$1
LISTING=$2

if [ "$(id -u)" != 0 ] || [ ! -c /dev/fuse ] || ! command -v nsenter >/dev/null; then
        echo "SKIP: needs root, /dev/fuse and nsenter"
        exit 77
fi
export PATH="$PATH:/usr/sbin:/sbin"

tmp=$(mktemp -d)
sim=
cleanup() {
        [ -n "$sim" ] && kill "$sim" 2>/dev/null
        rm -rf "$tmp"
}
trap cleanup EXIT

. "$(dirname "$0")/test-lib.sh"

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
F=/sys/kernel/pcisim/faults
STATE=/sys/kernel/pcisim/state
GPU=$S/devices/0000:26:00.0
AUDIO=$S/devices/0000:26:00.1
driver() { local l; l=$(readlink "$S/devices/$1/driver") && echo "${l##*/}"; }
# The processes holding FILE open, as a daemon finds them: /proc/PID/fd links reading FILE.
holders() {
        local f
        for f in /proc/[0-9]*/fd/*; do
                [ "$(readlink "$f" 2>/dev/null)" = "$1" ] && { f=${f#/proc/}; echo "${f%%/*}"; }
        done | sort -u | paste -sd ' '
}
# Waits until a fault was taken (a hanging writer has reached it): the list is empty. No sleep:
# the fault leaves the list and the writer starts waiting under one lock.
wait_fault_taken() {
        local i
        for ((i = 0; i < 100000; i++)); do [ -z "$(cat $F)" ] && return 0; done
        return 1
}
# "ACTION DEVPATH" of the uevent log lines after SEQNUM
events_after() { awk -v s="$2" '$1 > s {print $2, $3}' "$1"; }
seqnum() { cat /sys/kernel/pcisim/seqnum; }
EOF

# --- 1. boot: /dev, class devices, the state file; the vfio-pci flow -------------------------
cat >"$tmp/nodes.sh" <<'EOF'
. "$(dirname "$0")/lib.sh"
LOG=$1
eq "/dev/vfio is a tmpfs" tmpfs "$(findmnt -n -o FSTYPE /dev/vfio)"
eq "/dev/dri is a tmpfs" tmpfs "$(findmnt -n -o FSTYPE /dev/dri)"
eq "/dev/vfio at boot" vfio "$(ls /dev/vfio | paste -sd ' ')"
eq "/dev/vfio/vfio" "666 regular empty file" "$(stat -c '%a %F' /dev/vfio/vfio)"
eq "/dev/dri at boot" "card0 renderD128" "$(ls /dev/dri | paste -sd ' ')"
eq "/dev/dri/card0" "666 regular empty file" "$(stat -c '%a %F' /dev/dri/card0)"

# drm
C=/sys/devices/pci0000:00/0000:26:00.0/drm/card0
eq "drm dev" 226:0 "$(cat $C/dev)"
eq "drm uevent" "MAJOR=226
MINOR=0
DEVNAME=dri/card0
DEVTYPE=drm_minor" "$(cat $C/uevent)"
eq "renderD128 dev" 226:128 "$(cat /sys/class/drm/renderD128/dev)"
eq "class drm link" ../../devices/pci0000:00/0000:26:00.0/drm/card0 "$(readlink /sys/class/drm/card0)"
eq "class drm" "card0 renderD128" "$(ls /sys/class/drm | paste -sd ' ')"
eq "drm device link" /sys/devices/pci0000:00/0000:26:00.0 "$(readlink -f $C/device)"
eq "drm subsystem" /sys/class/drm "$(readlink -f $C/subsystem)"
eq "dev/char link" /sys/devices/pci0000:00/0000:26:00.0/drm/renderD128 "$(readlink -f /sys/dev/char/226:128)"
check "no drm on the audio function" test ! -e $AUDIO/drm

# net
N=/sys/class/net/enp33s0
eq "class net link" ../../devices/pci0000:00/0000:21:00.0/net/enp33s0 "$(readlink $N)"
eq "class net" "enp33s0 enp34s0" "$(ls /sys/class/net | paste -sd ' ')"
eq "net address" 00:00:00:00:00:00 "$(cat $N/address)"
eq "net uevent" INTERFACE=enp33s0 "$(cat $N/uevent)"
eq "net device" 0000:21:00.0 "$(basename "$(readlink -f $N/device)")"
check "no ifindex" test ! -e $N/ifindex

# block: what a daemon does to find the PCI function behind a mount
majmin=$(awk '$5 == "/" {print $3}' /proc/self/mountinfo | tail -1)
eq "block dev" "$majmin" "$(cat /sys/class/block/nvme0n1/dev)"
eq "block uevent" "MAJOR=${majmin%:*}
MINOR=${majmin#*:}
DEVNAME=nvme0n1
DEVTYPE=disk" "$(cat /sys/class/block/nvme0n1/uevent)"
eq "dev/block link" ../../devices/pci0000:00/0000:01:00.0/block/nvme0n1 "$(readlink /sys/dev/block/$majmin)"
eq "/ is on 0000:01:00.0" 0000:01:00.0 \
        "$(readlink -f /sys/dev/block/$majmin | tr / '\n' | grep -E '^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$')"
eq "/sys/block link" ../devices/pci0000:00/0000:01:00.0/block/nvme0n1 "$(readlink /sys/block/nvme0n1)"
eq "class block" nvme0n1 "$(ls /sys/class/block | paste -sd ' ')"

# the state file
eq "state mode" "444 regular file" "$(stat -c '%a %F' $STATE)"
eq "state devices" 38 "$(grep -c '^device ' $STATE)"
eq "state gpu" "device 0000:26:00.0 driver=nvidia override=-" "$(grep 0000:26:00.0 $STATE)"
eq "state driverless" "device 0000:00:01.0 driver=- override=-" "$(grep 0000:00:01.0 $STATE)"
check "state devices sorted" bash -c "grep '^device ' $STATE | LC_ALL=C sort -c"
eq "state ends with a newline" 0a "$(tail -c1 $STATE | od -An -tx1 | tr -d ' ')"
eq "state without devices" "module ahci refcnt=0
module ccp refcnt=0
module i2c_piix4 refcnt=0
module igc refcnt=0
module k10temp refcnt=0
module nvidia refcnt=0
module nvme refcnt=0
module r8169 refcnt=0
module snd_hda_intel refcnt=0
module xhci_pci refcnt=0
framebuffer efi-framebuffer.0 bound=1
vtcon vtcon0 bind=0
vtcon vtcon1 bind=1
drm card0
drm renderD128
net enp33s0
net enp34s0
block nvme0n1
sound card0
sound card1
sound controlC0
sound controlC1
sound hwC0D0
sound hwC1D0
sound pcmC0D0c
sound pcmC0D0p
sound pcmC1D3p
graphics fb0" "$(grep -v '^device ' $STATE)"
boot=$(cat $STATE)

# the vfio-pci flow: the GPU's drm nodes go with nvidia, /dev/vfio/16 comes with vfio-pci
echo vfio_pci > /sys/kernel/pcisim/load_module
echo vfio-pci > $GPU/driver_override
s0=$(seqnum)
echo 0000:26:00.0 > $S/drivers/nvidia/unbind
check "drm gone on unbind" test ! -e $GPU/drm -a ! -e /sys/class/drm/card0 -a ! -e /sys/dev/char/226:0
eq "/dev/dri empty" "" "$(ls /dev/dri)"
eq "unbind events" "remove /devices/pci0000:00/0000:26:00.0/drm/card0
remove /devices/pci0000:00/0000:26:00.0/drm/renderD128
unbind /devices/pci0000:00/0000:26:00.0" "$(events_after "$LOG" $s0)"
check "no group file without vfio-pci" test ! -e /dev/vfio/16
s0=$(seqnum)
echo 0000:26:00.0 > $S/drivers_probe
eq "bound to vfio-pci" vfio-pci "$(driver 0000:26:00.0)"
eq "/dev/vfio/16 when drivers_probe returns" "600 regular empty file" "$(stat -c '%a %F' /dev/vfio/16)"
check "no drm on vfio-pci" test ! -e $GPU/drm -a ! -e /dev/dri/card0
eq "bind event only" "bind /devices/pci0000:00/0000:26:00.0" "$(events_after "$LOG" $s0)"
eq "state after binding 26:00.0 to vfio-pci" "device 0000:26:00.0 driver=vfio-pci override=vfio-pci
module vfio refcnt=1
module vfio_iommu_type1 refcnt=1
module vfio_pci refcnt=0
vfio 16
net enp33s0
net enp34s0
block nvme0n1" "$(grep -E '^(device 0000:26:00.0|module vfio|vfio|drm|net|block)' $STATE)"

# who holds /dev/vfio/16: a process with it open, found through /proc/PID/fd
T=$(mktemp -d)
mkfifo $T/held $T/release
( exec 3</dev/vfio/16; echo > $T/held; read < $T/release ) & h=$!
read < $T/held
eq "fd link" /dev/vfio/16 "$(readlink /proc/$h/fd/3)"
eq "holders" "$h" "$(holders /dev/vfio/16)"

# the group file stays while one function of the group is on vfio-pci
echo vfio-pci > $AUDIO/driver_override
echo 0000:26:00.1 > $S/drivers/snd_hda_intel/unbind
echo 0000:26:00.1 > $S/drivers/vfio-pci/bind
echo 0000:26:00.0 > $S/drivers/vfio-pci/unbind
check "group file while 26:00.1 is on vfio-pci" test -e /dev/vfio/16
echo 0000:26:00.1 > $S/drivers/vfio-pci/unbind
check "group file gone with the last function" test ! -e /dev/vfio/16
eq "holder sees it deleted" "/dev/vfio/16 (deleted)" "$(readlink /proc/$h/fd/3)"
echo > $T/release
wait $h
rm -r $T
echo 0000:26:00.1 > $S/drivers/vfio-pci/bind
check "bind makes it again" test -e /dev/vfio/16
eq "one vfio line" "vfio 16" "$(grep ^vfio $STATE)"

# remove, and module unload, take it away too
echo 1 > $AUDIO/remove
check "gone on remove" test ! -e /dev/vfio/16
echo 1 > $S/rescan
eq "override cleared by remove: native again" snd_hda_intel "$(driver 0000:26:00.1)"
echo 0000:26:00.0 > $S/drivers_probe
check "GPU back on vfio-pci" test -e /dev/vfio/16
echo vfio_pci > /sys/kernel/pcisim/unload_module
check "gone on module unload" test ! -e /dev/vfio/16 -a -z "$(driver 0000:26:00.0)"
echo vfio > /sys/kernel/pcisim/unload_module
echo vfio_iommu_type1 > /sys/kernel/pcisim/unload_module

# back to nvidia: the drm nodes come back, before the bind event
echo > $GPU/driver_override
s0=$(seqnum)
echo 0000:26:00.0 > $S/drivers_probe
eq "native again" nvidia "$(driver 0000:26:00.0)"
eq "bind events" "add /devices/pci0000:00/0000:26:00.0/drm/card0
add /devices/pci0000:00/0000:26:00.0/drm/renderD128
bind /devices/pci0000:00/0000:26:00.0" "$(events_after "$LOG" $s0)"
eq "/dev/dri again" "card0 renderD128" "$(ls /dev/dri | paste -sd ' ')"
eq "state as at boot" "$boot" "$(cat $STATE)"

# net and block follow their driver; a driver other than the listed one makes none
echo 0000:21:00.0 > $S/drivers/igc/unbind
check "net gone" test ! -e /sys/class/net/enp33s0 -a ! -e /sys/devices/pci0000:00/0000:21:00.0/net
echo 0000:01:00.0 > $S/drivers/nvme/unbind
check "block gone" test ! -e /sys/class/block/nvme0n1 -a ! -e /sys/dev/block/$majmin -a ! -e /sys/block/nvme0n1
eq "state without them" "net enp34s0" "$(grep -E '^(net|block)' $STATE)"
echo vfio_pci > /sys/kernel/pcisim/load_module
echo "8086 15f3" > $S/drivers/vfio-pci/new_id
eq "21:00.0 on vfio-pci" vfio-pci "$(driver 0000:21:00.0)"
check "no net on vfio-pci" test ! -e /sys/class/net/enp33s0
eq "group 15 file" "15 vfio" "$(ls /dev/vfio | paste -sd ' ')"
echo vfio_pci > /sys/kernel/pcisim/unload_module
echo vfio > /sys/kernel/pcisim/unload_module
echo vfio_iommu_type1 > /sys/kernel/pcisim/unload_module
echo 0000:21:00.0 > $S/drivers_probe
echo 0000:01:00.0 > $S/drivers_probe
eq "state as at boot again" "$boot" "$(cat $STATE)"
EOF
out=$("$PCISIM" --uevent-log "$tmp/log" "$LISTING" -- bash "$tmp/nodes.sh" "$tmp/log" 2>&1)
count "$out" $? "nodes.sh"

# --- 2. faults on these steps leave everything as it was ------------------------------------
cat >"$tmp/faults.sh" <<'EOF'
. "$(dirname "$0")/lib.sh"
echo vfio_pci > /sys/kernel/pcisim/load_module
echo vfio-pci > $GPU/driver_override
echo 0000:26:00.0 > $S/drivers/nvidia/unbind
before=$(cat $STATE)

echo "drivers_probe 0000:26:00.0 errno EIO" > $F
fails_with "drivers_probe errno" "Input/output error" "echo 0000:26:00.0 > $S/drivers_probe"
eq "state after a failed drivers_probe" "$before" "$(cat $STATE)"
check "no group file" test ! -e /dev/vfio/16
echo "bind 0000:26:00.0 errno ENXIO" > $F
fails_with "bind errno" "No such device or address" "echo 0000:26:00.0 > $S/drivers/vfio-pci/bind"
eq "state after a failed bind" "$before" "$(cat $STATE)"
echo "driver_override 0000:26:00.0 errno EBUSY" > $F
fails_with "driver_override errno" "Device or resource busy" "echo nvidia > $GPU/driver_override"
eq "state after a failed driver_override" "$before" "$(cat $STATE)"

# hangs: nothing changes until release, then the write completes with its /dev file
echo "drivers_probe 0000:26:00.0 hang" > $F
(echo 0000:26:00.0 > $S/drivers_probe) & w=$!
check "drivers_probe reached its hang" wait_fault_taken
check "drivers_probe hangs" kill -0 $w
eq "state during the hang" "$before" "$(cat $STATE)"
echo 1 > /sys/kernel/pcisim/release
wait $w
eq "drivers_probe after release" 0 "$?"
eq "/dev/vfio/16 after release" "600 regular empty file" "$(stat -c '%a %F' /dev/vfio/16)"
bound=$(cat $STATE)

echo "unbind 0000:26:00.0 errno EBUSY" > $F
fails_with "unbind errno" "Device or resource busy" "echo 0000:26:00.0 > $S/drivers/vfio-pci/unbind"
eq "state after a failed unbind" "$bound" "$(cat $STATE)"
check "group file stays" test -e /dev/vfio/16
echo "unbind 0000:26:00.0 hang" > $F
(echo 0000:26:00.0 > $S/drivers/vfio-pci/unbind) & w=$!
check "unbind reached its hang" wait_fault_taken
eq "state during the unbind hang" "$bound" "$(cat $STATE)"
check "group file during the hang" test -e /dev/vfio/16
echo 1 > /sys/kernel/pcisim/release
wait $w
check "group file gone after release" test ! -e /dev/vfio/16
echo "bind 0000:26:00.0 hang" > $F
(echo 0000:26:00.0 > $S/drivers/vfio-pci/bind) & w=$!
check "bind reached its hang" wait_fault_taken
check "no group file during the bind hang" test ! -e /dev/vfio/16
echo 1 > /sys/kernel/pcisim/release
wait $w
check "group file after the bind's release" test -e /dev/vfio/16
echo "driver_override 0000:26:00.1 hang" > $F
(echo vfio-pci > $AUDIO/driver_override) & w=$!
check "driver_override reached its hang" wait_fault_taken
eq "override during the hang" "(null)" "$(cat $AUDIO/driver_override)"
echo 1 > /sys/kernel/pcisim/release
wait $w
eq "override after release" vfio-pci "$(cat $AUDIO/driver_override)"
echo > $AUDIO/driver_override

# module faults: the removal refused with EAGAIN keeps everything
echo "unload vfio_pci errno EAGAIN" > $F
fails_with "unload_module EAGAIN" "Resource temporarily unavailable" "echo vfio_pci > /sys/kernel/pcisim/unload_module"
eq "state after a refused unload" "$bound" "$(cat $STATE)"
check "group file after a refused unload" test -e /dev/vfio/16
echo vfio_pci > /sys/kernel/pcisim/unload_module
check "group file gone with the module" test ! -e /dev/vfio/16
unloaded=$(cat $STATE)
echo "load vfio_pci errno EAGAIN" > $F
fails_with "load_module EAGAIN" "Resource temporarily unavailable" "echo vfio_pci > /sys/kernel/pcisim/load_module"
eq "state after a refused load" "$unloaded" "$(cat $STATE)"
echo vfio_pci > /sys/kernel/pcisim/load_module
check "load binds the overridden GPU, group file" test -e /dev/vfio/16
EOF
out=$("$PCISIM" "$LISTING" -- bash "$tmp/faults.sh" 2>&1)
count "$out" $? "faults.sh"

# --- 3. entered with nsenter: a real interface of a listed name, holders, the host's /dev ---
host_vfio_before=$(ls -A /dev/vfio 2>/dev/null)
mkfifo "$tmp/ready" "$tmp/done" "$tmp/held" "$tmp/release"
"$PCISIM" --pidfile "$tmp/pid" "$LISTING" -- bash -c 'echo > "$0"; read < "$1"' "$tmp/ready" "$tmp/done" &
sim=$!
read -r <"$tmp/ready"   # COMMAND runs once the pidfile is written
pid=$(cat "$tmp/pid")
in_ns() { nsenter -t "$pid" -m -n -- bash -c ". '$tmp/lib.sh'; $1"; }

out=$(in_ns '
echo vfio-pci > $AUDIO/driver_override
echo 0000:26:00.1 > $S/drivers/snd_hda_intel/unbind
echo vfio_pci > /sys/kernel/pcisim/load_module
check "load_module binds, group file" test -e /dev/vfio/16')
count "$out" $? "nsenter (bind)"
# a holder in the namespace, found by another process through /proc
in_ns 'exec 3</dev/vfio/16; echo $$ > "'"$tmp"'/held"; read < "'"$tmp"'/release"' &
holder=$!
holder_pid=$(cat "$tmp/held")
out=$(in_ns 'eq "holder of /dev/vfio/16" '"$holder_pid"' "$(holders /dev/vfio/16)"')
count "$out" $? "nsenter (holders)"
echo >"$tmp/release"
wait "$holder"
[ "$(ls -A /dev/vfio 2>/dev/null)" = "$host_vfio_before" ] && pass || fail "the host's /dev/vfio changed"

# the default route's interface → its PCI function, with an interface the test creates
if command -v ip >/dev/null; then
        out=$(in_ns '
{ ip link add enp33s0 type dummy 2>/dev/null || ip link add enp33s0 type veth peer name pcisim-peer0; } &&
        { ip link set pcisim-peer0 up 2>/dev/null; true; } &&
        ip link set enp33s0 up && ip addr add 192.0.2.1/24 dev enp33s0 &&
        ip route add default via 192.0.2.254 dev enp33s0 || echo "FAIL: cannot create enp33s0"
dev=$(ip route show default | awk "{for (i = 1; i < NF; i++) if (\$i == \"dev\") print \$(i + 1)}")
eq "default route device" enp33s0 "$dev"
eq "its PCI function" 0000:21:00.0 "$(basename "$(readlink -f /sys/class/net/$dev/device)")"')
        count "$out" $? "nsenter (ip)"
else
        echo "  | ip not found: default route check skipped"
fi
echo >"$tmp/done"
wait "$sim"
[ $? = 0 ] && pass || fail "pcisim with nsenter users did not exit 0"
sim=

# --- 4. "# block" errors name FILE:LINE ------------------------------------------------------
# (the fixture's last section is not "# block": each copy starts one again)
root_line=$(grep -n '^01:00.0 nvme0n1 /$' "$LISTING" | cut -d: -f1)
cp "$LISTING" "$tmp/proc.txt"
printf '# block\n01:00.0 nvme1n1 /proc\n' >>"$tmp/proc.txt"
line=$(wc -l <"$tmp/proc.txt")
out=$("$PCISIM" "$tmp/proc.txt" -- true 2>&1)
rc=$?
[ "$rc" = 1 ] && [[ "$out" == "pcisim: $tmp/proc.txt:$line: /proc in section 'block' is not on a block device (its file system is on 0:"*", like tmpfs, overlay or btrfs)" ]] \
        && pass || fail "block on proc: rc=$rc '$out'"
cp "$LISTING" "$tmp/missing.txt"
printf '# block\n01:00.0 nvme1n1 /nonexistent/pcisim\n' >>"$tmp/missing.txt"
out=$("$PCISIM" "$tmp/missing.txt" -- true 2>&1)
rc=$?
[ "$rc" = 1 ] && [ "$out" = "pcisim: $tmp/missing.txt:$line: Failed to stat /nonexistent/pcisim in section 'block': No such file or directory" ] \
        && pass || fail "block on a missing path: rc=$rc '$out'"
cp "$LISTING" "$tmp/twice.txt"
printf '# block\n03:00.1 sda /usr\n' >>"$tmp/twice.txt"
out=$("$PCISIM" "$tmp/twice.txt" -- true 2>&1)
rc=$?
if [ "$(stat -c %d /usr)" = "$(stat -c %d /)" ]; then
        [ "$rc" = 1 ] && [[ "$out" == "pcisim: $tmp/twice.txt:$line: /usr in section 'block' is on "*" like / (nvme0n1) on line $root_line" ]] \
                && pass || fail "two block nodes on one device: rc=$rc '$out'"
else
        [ "$rc" = 0 ] && pass || fail "block node on /usr: rc=$rc '$out'"
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
