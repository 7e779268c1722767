#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# What holds a GPU on the host, under pcisim, as a "GPU handoff" sees it: the vtconsoles and the
# kernel semantics of their bind files (the system driver ignores writes, fbcon toggles, faults),
# "# module_deps" loaded at start with holders and refcnt, "# module_nodes" files coming and going
# with their module, open nodes pinning modules (module nodes, /dev/dri, /dev/snd and /dev/fbN of a
# bound function; the platform framebuffer's fbN pins nothing; also " (deleted)" files, files
# shared by several processes counted once, holders entered with nsenter), the "# sound" and
# "# graphics" class devices following bind and unbind, their uevents, the state lines, the
# namespace's /dev leaving the host's alone, and the Skylake fixture (host on the iGPU).
#   test-handoff.sh PCISIM FIXTURE_DIR
set -u

PCISIM=$1
FIXTURES=$2
ACS=$FIXTURES/amd-matisse-gtx1650-acs-override.txt
STOCK=$FIXTURES/amd-matisse-gtx1650.txt
SKYLAKE=$FIXTURES/intel-skylake-gtx1050ti.txt

if [ "$(id -u)" != 0 ] || [ ! -c /dev/fuse ] || ! command -v nsenter >/dev/null; then
        echo "SKIP: needs root, /dev/fuse and nsenter"
        exit 77
fi
for p in modprobe rmmod modinfo; do
        if ! command -v "$p" >/dev/null && [ ! -x "/sbin/$p" ] && [ ! -x "/usr/sbin/$p" ]; then
                echo "SKIP: needs $p (kmod)"
                exit 77
        fi
done
export PATH="$PATH:/usr/sbin:/sbin"

tmp=$(mktemp -d)
sim=
cleanup() {
        [ -n "$sim" ] && kill "$sim" 2>/dev/null
        rm -rf "$tmp"
}
trap cleanup EXIT

. "$(dirname "$0")/test-lib.sh"
run() {         # run WHAT LISTING SCRIPT [ARGS...]: SCRIPT as pcisim's COMMAND, with a uevent log
        local what=$1 listing=$2 out rc; shift 2
        rm -f "$tmp/log"
        out=$("$PCISIM" --uevent-log "$tmp/log" "$listing" -- bash "$@" "$tmp/log" 2>&1)
        rc=$?
        count "$out" "$rc" "$what"
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
F=/sys/kernel/pcisim/faults
STATE=/sys/kernel/pcisim/state
V=/sys/class/vtconsole
LOG=${!#}
driver() { local l; l=$(readlink "$S/devices/$1/driver") && echo "${l##*/}"; }
refcnt() { cat "/sys/module/$1/refcnt"; }
state_refcnt() { sed -n "s/^module $1 refcnt=//p" $STATE; }
seqnum() { cat /sys/kernel/pcisim/seqnum; }
# "ACTION DEVPATH" of the uevent log lines after SEQNUM
events_after() { awk -v s="$1" '$1 > s {print $2, $3}' "$LOG"; }
wait_fault_taken() {
        local i
        for ((i = 0; i < 100000; i++)); do [ -z "$(cat $F)" ] && return 0; done
        return 1
}
# hold FILE: a child process holding FILE open (fd 3) until release is called; sets $holder
hold() {
        local d
        d=$(mktemp -d)
        mkfifo "$d/held" "$d/release"
        ( exec 3<"$1"; echo > "$d/held"; read < "$d/release" ) &
        holder=$!
        holder_dir=$d
        read < "$d/held"
}
release() {
        echo > "$holder_dir/release"
        wait "$holder"
        rm -r "$holder_dir"
}
EOF

# --- 1. vtconsoles ----------------------------------------------------------------------------
cat >"$tmp/vtcon.sh" <<'EOF'
. "$(dirname "$0")/lib.sh"
eq "class vtconsole" "vtcon0 vtcon1" "$(ls $V | paste -sd ' ')"
eq "class link" ../../devices/virtual/vtconsole/vtcon1 "$(readlink $V/vtcon1)"
eq "subsystem" /sys/class/vtconsole "$(readlink -f /sys/devices/virtual/vtconsole/vtcon0/subsystem)"
eq "system driver's name" "(S) dummy device" "$(cat $V/vtcon0/name)"
eq "fbcon's name" "(M) frame buffer device" "$(cat $V/vtcon1/name)"
eq "modes" "444 644 644" "$(stat -c %a $V/vtcon1/name $V/vtcon1/bind $V/vtcon1/uevent | paste -sd ' ')"
eq "empty uevent" "" "$(cat $V/vtcon0/uevent)"
eq "boot: fbcon holds the consoles" "0 1" "$(cat $V/vtcon0/bind $V/vtcon1/bind | paste -sd ' ')"
eq "state lines after the framebuffer line" "framebuffer efi-framebuffer.0 bound=1
vtcon vtcon0 bind=0
vtcon vtcon1 bind=1
drm card0" "$(grep -A3 '^framebuffer' $STATE)"
s0=$(seqnum)

# the system driver: writes succeed and change nothing
check "echo 1 > vtcon0/bind succeeds" bash -c "echo 1 > $V/vtcon0/bind"
eq "still 0 1" "0 1" "$(cat $V/vtcon0/bind $V/vtcon1/bind | paste -sd ' ')"
# fbcon: unbinding gives the consoles back to the system driver
check "echo 0 > vtcon1/bind" bash -c "echo 0 > $V/vtcon1/bind"
eq "fbcon unbound, dummy bound" "1 0" "$(cat $V/vtcon0/bind $V/vtcon1/bind | paste -sd ' ')"
check "echo 0 > vtcon0/bind succeeds" bash -c "echo 0 > $V/vtcon0/bind"
eq "the system driver stays bound (read back to know)" 1 "$(cat $V/vtcon0/bind)"
eq "state while unbound" "vtcon vtcon0 bind=1
vtcon vtcon1 bind=0" "$(grep ^vtcon $STATE)"
check "echo 0 again: no change, no error" bash -c "echo 0 > $V/vtcon1/bind"
eq "still unbound" 0 "$(cat $V/vtcon1/bind)"
check "printf 1 (no newline) rebinds" bash -c "printf 1 > $V/vtcon1/bind"
eq "fbcon bound again" "0 1" "$(cat $V/vtcon0/bind $V/vtcon1/bind | paste -sd ' ')"
fails_with "a word is EINVAL" "Invalid argument" "echo off > $V/vtcon1/bind"
fails_with "an empty write is EINVAL" "Invalid argument" "echo > $V/vtcon1/bind"
fails_with "a negative number is EINVAL" "Invalid argument" "echo -1 > $V/vtcon1/bind"
eq "bad writes changed nothing" 1 "$(cat $V/vtcon1/bind)"
eq "no uevents" "$s0" "$(seqnum)"

# faults
echo "vtcon_bind vtcon1 errno EBUSY" > $F
eq "fault listed" "vtcon_bind vtcon1 errno EBUSY" "$(cat $F)"
fails_with "bind write fails with the fault" "Device or resource busy" "echo 0 > $V/vtcon1/bind"
eq "fault consumed" "" "$(cat $F)"
eq "unchanged after the fault" 1 "$(cat $V/vtcon1/bind)"
echo "vtcon_bind vtcon0 errno EIO" > $F
fails_with "a fault on the system driver fires too" "Input/output error" "echo 0 > $V/vtcon0/bind"
fails_with "fault on a bad console name" "Invalid argument" "echo 'vtcon_bind vtcon01 errno EIO' > $F"
fails_with "fault on an address" "Invalid argument" "echo 'vtcon_bind 0000:26:00.0 hang' > $F"
fails_with "fault without a target" "Invalid argument" "echo 'vtcon_bind hang' > $F"
echo "vtcon_bind vtcon1 errno EBUSY" > $F
fails_with "a bad value does not take the fault" "Invalid argument" "echo x > $V/vtcon1/bind"
eq "the fault is still pending" "vtcon_bind vtcon1 errno EBUSY" "$(cat $F)"
echo clear > $F
echo "vtcon_bind vtcon1 hang" > $F
(echo 0 > $V/vtcon1/bind) & w=$!
check "bind write reached its hang" wait_fault_taken
check "the writer waits" kill -0 $w
eq "still bound during the hang" 1 "$(cat $V/vtcon1/bind)"
eq "state during the hang" "vtcon vtcon0 bind=0
vtcon vtcon1 bind=1" "$(grep ^vtcon $STATE)"
echo 1 > /sys/kernel/pcisim/release
wait $w
eq "the write succeeds once released" 0 "$?"
eq "and unbinds" 0 "$(cat $V/vtcon1/bind)"
EOF
run "vtcon.sh" "$ACS" "$tmp/vtcon.sh"

# No "# vtconsole": an empty class
out=$("$PCISIM" "$FIXTURES/intel-skylake-gtx1050ti-no-ir.txt" -- sh -c 'test -d /sys/class/vtconsole && ls -A /sys/class/vtconsole && grep -c "^vtcon" /sys/kernel/pcisim/state' 2>&1)
[ "$out" = 0 ] && pass || fail "no # vtconsole: /sys/class/vtconsole should be empty, no state line: '$out'"

# --- 2. module_deps and module_nodes ----------------------------------------------------------
cat >"$tmp/modules.sh" <<'EOF'
. "$(dirname "$0")/lib.sh"
for m in nvidia nvidia_modeset nvidia_drm nvidia_uvm; do
        eq "$m loaded at start" live "$(cat /sys/module/$m/initstate 2>&1)"
done
eq "nvidia's holders" "nvidia_drm nvidia_modeset nvidia_uvm" "$(ls /sys/module/nvidia/holders | paste -sd ' ')"
eq "nvidia_modeset's holders" "nvidia_drm" "$(ls /sys/module/nvidia_modeset/holders | paste -sd ' ')"
eq "holder link" ../../nvidia_drm "$(readlink /sys/module/nvidia_modeset/holders/nvidia_drm)"
eq "refcnt" "3 1 0 0" "$(refcnt nvidia) $(refcnt nvidia_modeset) $(refcnt nvidia_drm) $(refcnt nvidia_uvm)"
eq "state module lines" "module nvidia refcnt=3
module nvidia_drm refcnt=0
module nvidia_modeset refcnt=1
module nvidia_uvm refcnt=0" "$(grep '^module nvidia' $STATE)"
eq "modinfo depends" "nvidia_modeset,nvidia" "$(modinfo -F depends nvidia_drm)"
eq "modprobe's order" "nvidia nvidia_modeset nvidia_drm" \
        "$(modprobe --show-depends nvidia_drm | sed -E 's|.*/([a-z_]+)\.ko.*|\1|' | paste -sd ' ')"
fails_with "rmmod nvidia under its dependents" "in use" "rmmod nvidia"
fails_with "unload_module nvidia under its dependents" "Device or resource busy" "echo nvidia > /sys/kernel/pcisim/unload_module"

# the nodes
eq "module nodes at start" "/dev/nvidia-modeset /dev/nvidia-uvm /dev/nvidia-uvm-tools /dev/nvidia0 /dev/nvidiactl" \
        "$(ls /dev/nvidia* | paste -sd ' ')"
eq "regular files, 0666" "666 regular empty file" "$(stat -c '%a %F' /dev/nvidia0 /dev/nvidia-uvm-tools | sort -u)"
check "rmmod nvidia_uvm" rmmod nvidia_uvm
check "its nodes gone" test ! -e /dev/nvidia-uvm -a ! -e /dev/nvidia-uvm-tools
check "the others stay" test -e /dev/nvidia0 -a -e /dev/nvidiactl -a -e /dev/nvidia-modeset
eq "refcnt after" 2 "$(refcnt nvidia)"
check "modprobe nvidia_uvm" modprobe nvidia_uvm
check "its nodes when modprobe returns" test -e /dev/nvidia-uvm -a -e /dev/nvidia-uvm-tools
check "rmmod the three on top" rmmod nvidia_drm nvidia_modeset nvidia_uvm
eq "nvidia's own nodes left" "/dev/nvidia0 /dev/nvidiactl" "$(ls /dev/nvidia* | paste -sd ' ')"
eq "nvidia refcnt 0" 0 "$(refcnt nvidia)"
check "rmmod nvidia" rmmod nvidia
check "all gone" bash -c '! ls /dev/nvidia* 2>/dev/null'
eq "GPU unbound with it" "" "$(driver 0000:26:00.0)"
check "modprobe nvidia_drm loads what it depends on" modprobe nvidia-drm
eq "loaded" "live live live" "$(cat /sys/module/{nvidia,nvidia_modeset,nvidia_drm}/initstate | paste -sd ' ')"
eq "nodes" "/dev/nvidia-modeset /dev/nvidia0 /dev/nvidiactl" "$(ls /dev/nvidia* | paste -sd ' ')"
eq "GPU autoprobed" nvidia "$(driver 0000:26:00.0)"
# load_module (the control file) makes the nodes too, unload_module removes them
echo nvidia_uvm > /sys/kernel/pcisim/load_module
check "load_module makes the nodes" test -e /dev/nvidia-uvm
echo nvidia_uvm > /sys/kernel/pcisim/unload_module
check "unload_module removes them" test ! -e /dev/nvidia-uvm
echo nvidia_uvm > /sys/kernel/pcisim/load_module
EOF
run "modules.sh" "$ACS" "$tmp/modules.sh"

# --- 3. open nodes pin their module -----------------------------------------------------------
cat >"$tmp/pin.sh" <<'EOF'
. "$(dirname "$0")/lib.sh"
# /dev/nvidia0 (# module_nodes of nvidia)
hold /dev/nvidia0
eq "holder's fd" /dev/nvidia0 "$(readlink /proc/$holder/fd/3)"
eq "refcnt counts the open file" 4 "$(refcnt nvidia)"
eq "the state counts dependents only" 3 "$(state_refcnt nvidia)"
check "the dependents go" rmmod nvidia_drm nvidia_modeset nvidia_uvm
eq "refcnt: the open file" 1 "$(refcnt nvidia)"
fails_with "rmmod refuses (refcnt)" "Module nvidia is in use" "rmmod nvidia"
fails_with "delete_module: EWOULDBLOCK" "Resource temporarily unavailable" "rmmod -f nvidia"
fails_with "unload_module: EBUSY" "Device or resource busy" "echo nvidia > /sys/kernel/pcisim/unload_module"
eq "still loaded, GPU bound" "live nvidia" "$(cat /sys/module/nvidia/initstate) $(driver 0000:26:00.0)"
check "node still there" test -e /dev/nvidia0
release
eq "refcnt once closed" 0 "$(refcnt nvidia)"
check "rmmod once closed" rmmod nvidia
check "nodes gone" test ! -e /dev/nvidia0 -a ! -e /dev/nvidiactl
check "modprobe nvidia" modprobe nvidia

# a file shared by two processes (fork) is one open file; a second open() is another
d=$(mktemp -d)
mkfifo "$d/held" "$d/release"
( exec 3</dev/nvidiactl; sleep 600 & echo $! > "$d/sleep"; echo > "$d/held"; read < "$d/release"; kill $(cat "$d/sleep") ) & h=$!
read < "$d/held"
sleeper=$(cat "$d/sleep")
eq "the forked child has it too" /dev/nvidiactl "$(readlink /proc/$sleeper/fd/3)"
eq "one open file, two processes: refcnt 1" 1 "$(refcnt nvidia)"
exec 4</dev/nvidiactl
eq "another open(): refcnt 2" 2 "$(refcnt nvidia)"
exec 4<&-
echo > "$d/release"; wait $h; rm -r "$d"
eq "all closed" 0 "$(refcnt nvidia)"

# /dev/dri/card0: 26:00.0 bound to nvidia, so it pins nvidia
hold /dev/dri/card0
eq "card0 pins nvidia" 1 "$(refcnt nvidia)"
fails_with "rmmod refuses while card0 is open" "in use" "rmmod nvidia"
# unbound, the node goes but the open file keeps the module
echo 0000:26:00.0 > $S/drivers/nvidia/unbind
check "card0 gone with the unbind" test ! -e /dev/dri/card0
eq "holder sees it deleted" "/dev/dri/card0 (deleted)" "$(readlink /proc/$holder/fd/3)"
eq "the deleted file still pins nvidia" 1 "$(refcnt nvidia)"
fails_with "delete_module: EWOULDBLOCK for a deleted node" "Resource temporarily unavailable" "rmmod -f nvidia"
release
check "rmmod once closed" rmmod nvidia
check "modprobe nvidia binds the GPU again" bash -c "modprobe nvidia && test -e /dev/dri/card0"

# /dev/snd/controlC1: 26:00.1 on snd_hda_intel
hold /dev/snd/controlC1
eq "controlC1 pins snd_hda_intel" 1 "$(refcnt snd_hda_intel)"
eq "not nvidia" 0 "$(refcnt nvidia)"
fails_with "rmmod snd_hda_intel refused" "in use" "rmmod snd_hda_intel"
check "both cards still there" test -e /dev/snd/controlC0 -a -e /dev/snd/controlC1
release
check "rmmod snd_hda_intel once closed" rmmod snd_hda_intel
eq "no sound left" "" "$(ls -A /dev/snd; ls -A /sys/class/sound)"
check "modprobe snd_hda_intel" modprobe snd_hda_intel
eq "both cards back" "controlC0 controlC1" "$(ls /dev/snd | grep control | paste -sd ' ')"

# /dev/fb0 of the platform framebuffer pins no module
before=$(for m in /sys/module/*/refcnt; do echo "$m $(cat $m)"; done)
hold /dev/fb0
eq "no refcnt changed" "$before" "$(for m in /sys/module/*/refcnt; do echo "$m $(cat $m)"; done)"
check "rmmod nvidia with fb0 open" rmmod nvidia
release
modprobe nvidia

# a vfio group file pins nothing either (no # module_nodes for vfio here)
echo vfio-pci > $S/devices/0000:26:00.1/driver_override
echo 0000:26:00.1 > $S/drivers/snd_hda_intel/unbind
check "modprobe vfio-pci" modprobe vfio-pci
hold /dev/vfio/24
check "rmmod snd_hda_intel with /dev/vfio/24 open" rmmod snd_hda_intel
release
EOF
run "pin.sh" "$ACS" "$tmp/pin.sh"

# --- 4. sound and graphics follow the binding ---------------------------------------------------
cat >"$tmp/class.sh" <<'EOF'
. "$(dirname "$0")/lib.sh"
A=/sys/devices/pci0000:00/0000:26:00.1
eq "class sound" "card0 card1 controlC0 controlC1 hwC0D0 hwC1D0 pcmC0D0c pcmC0D0p pcmC1D3p" "$(ls /sys/class/sound | paste -sd ' ')"
eq "card link" ../../devices/pci0000:00/0000:26:00.1/sound/card1 "$(readlink /sys/class/sound/card1)"
eq "node link" ../../devices/pci0000:00/0000:26:00.1/sound/card1/pcmC1D3p "$(readlink /sys/class/sound/pcmC1D3p)"
eq "card number" 1 "$(cat $A/sound/card1/number)"
eq "card device" ../../../0000:26:00.1 "$(readlink $A/sound/card1/device)"
eq "card subsystem" /sys/class/sound "$(readlink -f $A/sound/card1/subsystem)"
check "a card has no dev" test ! -e $A/sound/card1/dev
eq "node device: the card" ../../card1 "$(readlink $A/sound/card1/controlC1/device)"
eq "controlC1 dev (static minors: 32 per card)" 116:32 "$(cat /sys/class/sound/controlC1/dev)"
eq "pcmC1D3p dev" 116:51 "$(cat /sys/class/sound/pcmC1D3p/dev)"
eq "hwC0D0 and pcmC0D0c" "116:4 116:24" "$(cat /sys/class/sound/hwC0D0/dev /sys/class/sound/pcmC0D0c/dev | paste -sd ' ')"
eq "node uevent" "MAJOR=116
MINOR=51
DEVNAME=snd/pcmC1D3p" "$(cat /sys/class/sound/pcmC1D3p/uevent)"
eq "dev/char link" /sys/devices/pci0000:00/0000:26:00.1/sound/card1/pcmC1D3p "$(readlink -f /sys/dev/char/116:51)"
eq "/dev/snd" "controlC0 controlC1 hwC0D0 hwC1D0 pcmC0D0c pcmC0D0p pcmC1D3p" "$(ls /dev/snd | paste -sd ' ')"
eq "/dev/snd is a tmpfs" tmpfs "$(findmnt -n -o FSTYPE /dev/snd)"
eq "/dev/snd files" "666 regular empty file" "$(stat -c '%a %F' /dev/snd/* | sort -u)"

boot=$(cat $STATE)
s0=$(seqnum)
echo 0000:26:00.1 > $S/drivers/snd_hda_intel/unbind
check "card1 gone" test ! -e $A/sound -a ! -e /sys/class/sound/card1 -a ! -e /sys/class/sound/controlC1 -a ! -e /sys/dev/char/116:51
eq "card0 stays" "card0 controlC0 hwC0D0 pcmC0D0c pcmC0D0p" "$(ls /sys/class/sound | paste -sd ' ')"
eq "/dev/snd without card1" "controlC0 hwC0D0 pcmC0D0c pcmC0D0p" "$(ls /dev/snd | paste -sd ' ')"
eq "events: nodes, card, unbind" "remove /devices/pci0000:00/0000:26:00.1/sound/card1/controlC1
remove /devices/pci0000:00/0000:26:00.1/sound/card1/hwC1D0
remove /devices/pci0000:00/0000:26:00.1/sound/card1/pcmC1D3p
remove /devices/pci0000:00/0000:26:00.1/sound/card1
unbind /devices/pci0000:00/0000:26:00.1" "$(events_after $s0)"
eq "state without card1" "sound card0
sound controlC0
sound hwC0D0
sound pcmC0D0c
sound pcmC0D0p" "$(grep ^sound $STATE)"
s0=$(seqnum)
echo 0000:26:00.1 > $S/drivers_probe
eq "events: card, nodes, bind" "add /devices/pci0000:00/0000:26:00.1/sound/card1
add /devices/pci0000:00/0000:26:00.1/sound/card1/controlC1
add /devices/pci0000:00/0000:26:00.1/sound/card1/hwC1D0
add /devices/pci0000:00/0000:26:00.1/sound/card1/pcmC1D3p
bind /devices/pci0000:00/0000:26:00.1" "$(events_after $s0)"
eq "state as at boot" "$boot" "$(cat $STATE)"
# on vfio-pci: no card
modprobe vfio-pci
echo vfio-pci > $S/devices/0000:26:00.1/driver_override
echo 0000:26:00.1 > $S/drivers/snd_hda_intel/unbind
echo 0000:26:00.1 > $S/drivers_probe
eq "26:00.1 on vfio-pci" vfio-pci "$(driver 0000:26:00.1)"
check "no card on vfio-pci" test ! -e $A/sound -a ! -e /dev/snd/controlC1
echo > $S/devices/0000:26:00.1/driver_override
echo 0000:26:00.1 > $S/drivers/vfio-pci/unbind
echo 0000:26:00.1 > $S/drivers_probe
check "card1 back on snd_hda_intel" test -e $A/sound/card1/controlC1 -a -e /dev/snd/controlC1
rmmod vfio_pci vfio vfio_iommu_type1
# removing the function takes its card
echo 1 > $S/devices/0000:28:00.4/remove
check "card0 gone with 28:00.4" test ! -e /sys/class/sound/card0 -a ! -e /dev/snd/controlC0
echo 1 > $S/rescan
check "back on rescan" test -e /sys/class/sound/card0 -a -e /dev/snd/pcmC0D0c

# graphics: the EFI framebuffer's fb0
G=/sys/class/graphics/fb0
eq "class graphics" fb0 "$(ls /sys/class/graphics)"
eq "fb0 link" ../../devices/platform/efi-framebuffer.0/graphics/fb0 "$(readlink $G)"
eq "fb0 device" ../../../efi-framebuffer.0 "$(readlink $G/device)"
eq "fb0 subsystem" /sys/class/graphics "$(readlink -f $G/subsystem)"
eq "fb0 dev" 29:0 "$(cat $G/dev)"
eq "fb0 uevent" "MAJOR=29
MINOR=0
DEVNAME=fb0" "$(cat $G/uevent)"
eq "dev/char link" /sys/devices/platform/efi-framebuffer.0/graphics/fb0 "$(readlink -f /sys/dev/char/29:0)"
eq "/dev/fb0" "666 regular empty file" "$(stat -c '%a %F' /dev/fb0)"
s0=$(seqnum)
echo efi-framebuffer.0 > /sys/bus/platform/drivers/efi-framebuffer/unbind
check "fb0 gone with efifb" test ! -e $G -a ! -e /dev/fb0 -a ! -e /sys/devices/platform/efi-framebuffer.0/graphics -a ! -e /sys/dev/char/29:0
eq "events: fb0, then unbind" "remove /devices/platform/efi-framebuffer.0/graphics/fb0
unbind /devices/platform/efi-framebuffer.0" "$(events_after $s0)"
eq "state" "framebuffer efi-framebuffer.0 bound=0" "$(grep -E '^(framebuffer|graphics)' $STATE)"
s0=$(seqnum)
echo efi-framebuffer.0 > /sys/bus/platform/drivers/efi-framebuffer/bind
eq "events: fb0, then bind" "add /devices/platform/efi-framebuffer.0/graphics/fb0
bind /devices/platform/efi-framebuffer.0" "$(events_after $s0)"
check "fb0 back" test -e /dev/fb0 -a -e $G/dev
eq "state back at boot" "$boot" "$(cat $STATE)"
# faults on the platform framebuffer's bind and unbind
P=/sys/bus/platform/drivers/efi-framebuffer
echo "fb_unbind efi-framebuffer.0 errno EIO" > $F
eq "fb fault listed" "fb_unbind efi-framebuffer.0 errno EIO" "$(cat $F)"
s0=$(seqnum)
fails_with "unbind fails with the fault" "Input/output error" "echo efi-framebuffer.0 > $P/unbind"
eq "the fault fired once" "" "$(cat $F)"
eq "still bound" "$boot" "$(cat $STATE)"
eq "no uevent" "$s0" "$(seqnum)"
check "fb0 still there" test -e /dev/fb0
fails_with "fb fault on another device" "Invalid argument" "echo 'fb_unbind simple-framebuffer.0 errno EIO' > $F"
fails_with "fb fault on an address" "Invalid argument" "echo 'fb_bind 0000:26:00.0 hang' > $F"
fails_with "fb fault without a target" "Invalid argument" "echo 'fb_bind errno EIO' > $F"
echo "fb_unbind efi-framebuffer.0 errno EBUSY" > $F
fails_with "a bind write does not take an unbind fault" "Device or resource busy" "echo efi-framebuffer.0 > $P/bind"
eq "the unbind fault is still pending" "fb_unbind efi-framebuffer.0 errno EBUSY" "$(cat $F)"
fails_with "another name does not take it either" "No such device" "echo simple-framebuffer.0 > $P/unbind"
eq "still pending" "fb_unbind efi-framebuffer.0 errno EBUSY" "$(cat $F)"
echo clear > $F
echo "fb_unbind efi-framebuffer.0 hang" > $F
(echo efi-framebuffer.0 > $P/unbind) & w=$!
check "unbind write reached its hang" wait_fault_taken
check "the writer waits" kill -0 $w
eq "still bound during the hang" "framebuffer efi-framebuffer.0 bound=1" "$(grep ^framebuffer $STATE)"
echo 1 > /sys/kernel/pcisim/release
wait $w
eq "the unbind succeeds once released" 0 "$?"
eq "and unbinds" "framebuffer efi-framebuffer.0 bound=0" "$(grep ^framebuffer $STATE)"
check "fb0 gone" test ! -e /dev/fb0
echo "fb_bind efi-framebuffer.0 errno ENODEV" > $F
fails_with "bind fails with the fault" "No such device" "echo efi-framebuffer.0 > $P/bind"
eq "still unbound" "framebuffer efi-framebuffer.0 bound=0" "$(grep ^framebuffer $STATE)"
echo "fb_bind efi-framebuffer.0 hang" > $F
(echo efi-framebuffer.0 > $P/bind) & w=$!
check "bind write reached its hang" wait_fault_taken
eq "unbound during the hang" "framebuffer efi-framebuffer.0 bound=0" "$(grep ^framebuffer $STATE)"
echo 1 > /sys/kernel/pcisim/release
wait $w
eq "the bind succeeds once released" 0 "$?"
eq "state back at boot after the faults" "$boot" "$(cat $STATE)"
EOF
run "class.sh" "$ACS" "$tmp/class.sh"

# the Skylake: the host on the iGPU, i915's fb0 on 00:02.0 and nouveau's nodes on the GTX 1050 Ti
cat >"$tmp/skylake.sh" <<'EOF'
. "$(dirname "$0")/lib.sh"
eq "no firmware framebuffer" "" "$(ls /sys/bus/platform/drivers 2>/dev/null; grep ^framebuffer $STATE)"
eq "fb0 on the iGPU" ../../devices/pci0000:00/0000:00:02.0/graphics/fb0 "$(readlink /sys/class/graphics/fb0)"
eq "fb0 device" 0000:00:02.0 "$(basename "$(readlink -f /sys/class/graphics/fb0/device)")"
eq "boot_vga" "1 0" "$(cat $S/devices/0000:00:02.0/boot_vga $S/devices/0000:02:00.0/boot_vga | paste -sd ' ')"
eq "drm" "card0 card1 renderD128 renderD129" "$(ls /dev/dri | paste -sd ' ')"
eq "card1 on the GTX 1050 Ti" 0000:02:00.0 "$(basename "$(readlink -f /sys/class/drm/card1/device)")"
eq "sound card1 on its audio" 0000:02:00.1 "$(basename "$(readlink -f /sys/class/sound/card1/device)")"
eq "group 1: the root port, GPU and audio" "0000:00:01.0 0000:02:00.0 0000:02:00.1" \
        "$(ls /sys/kernel/iommu_groups/1/devices | paste -sd ' ')"
eq "vtconsoles" "0 1" "$(cat $V/vtcon0/bind $V/vtcon1/bind | paste -sd ' ')"
eq "interrupt remapping" IR-IO-APIC "$(awk '$1 == "0:" {print $(NF - 2)}' /proc/interrupts)"
hold /dev/fb0
eq "i915's fb0 pins i915" 1 "$(refcnt i915)"
release
echo 0000:00:02.0 > $S/drivers/i915/unbind
check "fb0 and card0 go with i915" test ! -e /dev/fb0 -a ! -e /sys/class/graphics/fb0 -a ! -e /dev/dri/card0
echo 0000:00:02.0 > $S/drivers_probe
check "back with i915" test -e /dev/fb0 -a -e /dev/dri/card0
echo 0000:02:00.1 > $S/drivers/snd_hda_intel/unbind
eq "card0 stays" "card0 controlC0 hwC0D0 hwC0D2 pcmC0D0c pcmC0D0p pcmC0D3p" "$(ls /sys/class/sound | paste -sd ' ')"
EOF
run "skylake.sh" "$SKYLAKE" "$tmp/skylake.sh"

# --- 5. the namespace's /dev; holders entered with nsenter ---------------------------------------
fuse_dev=$(stat -c '%F %t:%T' /dev/fuse)
host_before=$(for n in nvidia0 nvidiactl nvidia-modeset nvidia-uvm nvidia-uvm-tools fb0 snd dri vfio; do
        stat -c "%n %F %t:%T" "/dev/$n" 2>&1; done)
mkfifo "$tmp/ready" "$tmp/done"
"$PCISIM" --pidfile "$tmp/pid" "$ACS" -- bash -c 'echo > "$0"; read < "$1"' "$tmp/ready" "$tmp/done" &
sim=$!
read -r <"$tmp/ready"
pid=$(cat "$tmp/pid")
in_ns() { nsenter -t "$pid" -m -n -- bash -c ". '$tmp/lib.sh' /dev/null; $1"; }
out=$(in_ns '
eq "/dev is a tmpfs" tmpfs "$(stat -f -c %T /dev)"
check "/dev/null works" bash -c "echo x > /dev/null && test -z \"\$(head -c1 /dev/null)\""
check "/dev/zero reads zeros" test "$(head -c4 /dev/zero | od -An -tx1 | tr -d " ")" = 00000000
eq "/dev/fuse, the host'"'"'s device" "'"$fuse_dev"'" "$(stat -c "%F %t:%T" /dev/fuse)"
eq "/dev/pts mounted" devpts "$(stat -f -c %T /dev/pts)"
check "/dev/fd" test -e /dev/fd/0
check "/run/udev/control (the monitor takes udev'"'"'s group)" test -e /run/udev/control
check "/dev/nvidia0 while nvidia is loaded" test -f /dev/nvidia0')
count "$out" $? "nsenter (/dev)"
# nsenter execs the shell, which execs sleep: $! is the holder itself
nsenter -t "$pid" -m -n -- sh -c 'exec sleep 600 < /dev/nvidia0' &
holder=$!
for _ in $(seq 1 100); do
        in_ns '[ "$(cat /sys/module/nvidia/refcnt)" = 4 ]' && break
        sleep 0.05
done
out=$(in_ns '
eq "a holder entered with nsenter counts" 4 "$(refcnt nvidia)"
echo nvidia_drm > /sys/kernel/pcisim/unload_module; echo nvidia_modeset > /sys/kernel/pcisim/unload_module
echo nvidia_uvm > /sys/kernel/pcisim/unload_module
fails_with "unload_module refused" "Device or resource busy" "echo nvidia > /sys/kernel/pcisim/unload_module"')
count "$out" $? "nsenter (holder)"
kill "$holder"
wait "$holder" 2>/dev/null
out=$(in_ns '
eq "holder gone" 0 "$(refcnt nvidia)"
check "unload_module then" bash -c "echo nvidia > /sys/kernel/pcisim/unload_module"
check "its nodes gone" test ! -e /dev/nvidia0')
count "$out" $? "nsenter (after the holder)"
echo >"$tmp/done"
wait "$sim"
[ $? = 0 ] && pass || fail "pcisim with nsenter users did not exit 0"
sim=
host_after=$(for n in nvidia0 nvidiactl nvidia-modeset nvidia-uvm nvidia-uvm-tools fb0 snd dri vfio; do
        stat -c "%n %F %t:%T" "/dev/$n" 2>&1; done)
[ "$host_before" = "$host_after" ] && pass || fail "the host's /dev changed: '$host_before' → '$host_after'"

# --- 6. listing errors through pcisim ------------------------------------------------------------
cp "$ACS" "$tmp/bad.txt"
printf '# vtconsole\nvtcon2 vga\n' >>"$tmp/bad.txt"
line=$(wc -l <"$tmp/bad.txt")
out=$("$PCISIM" "$tmp/bad.txt" -- true 2>&1)
rc=$?
[ "$rc" = 1 ] && [ "$out" = "pcisim: $tmp/bad.txt:$line: bad console driver 'vga' in section 'vtconsole', expected dummy or fb" ] \
        && pass || fail "bad vtconsole line: rc=$rc '$out'"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
