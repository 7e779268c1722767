#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Gpu.Handoff and Return against the real kernel: the VGA (bochs-drm) + HD-audio
# (snd_hda_intel) card of the guest, with the frame buffer console on the VGA's frame buffer,
# handed to vfio-pci and given back, through the real system bus, polkitd and passthrud.
#   1. the frame buffer console is put on bochs's frame buffer (FBIOPUT_CON2FBMAP, as
#      con2fbmap(1) does), so the card is what the user looks at;
#   2. a process holding the VGA's /dev/dri/cardN: GetConsumers lists it, Handoff is
#      org.passthru1.Error.InUse naming it (pid, name, node) and nothing changed (drivers,
#      overrides, modules, console binding); the same for a process holding the audio
#      function's /dev/snd/controlC*;
#   3. once they are gone: the dry-run plan; Handoff unbinds the frame buffer console,
#      unloads bochs through libkmod, binds both functions to vfio-pci (driver links,
#      overrides, /dev/vfio/N); Gpu State/Domain; StateChanged releasing → detached;
#   4. passthructl return: back on bochs-drm and snd_hda_intel, overrides cleared, bochs
#      loaded again, the console bound again, the module list as before (the vfio modules
#      the handoff loaded stay, as after Reattach), no journal, no record; StateChanged
#      returning → host.

# shellcheck disable=SC2317  # (functions run through check and wait_for)
set -u
HERE=$(dirname "$(readlink -f "$0")")
# shellcheck source=tests/vm/guest-lib.sh
. "$HERE/../guest-lib.sh"

B=${PASSTHRU_BUILD_DIR:?}
S=${PASSTHRU_SOURCE_DIR:?}
CTL=$B/clients/passthructl
LOG=/run/passthrud.log
RT=/run/passthru1
P=/org/passthru1
SYSPCI=/sys/bus/pci/devices

mkdir -p /etc/dbus-1/system.d /usr/share/polkit-1/actions /etc/passthru1
cp "$S/dbus/org.passthru1.conf" /etc/dbus-1/system.d/
cp "$S/polkit/org.passthru1.policy" /usr/share/polkit-1/actions/
check "system dbus-daemon starts" start_system_bus
check "polkitd starts" start_polkitd

"$B/service/passthrud" --log-level=debug >>"$LOG" 2>&1 &
daemon=$!
show_log() {
        diag "passthrud log (tail):"
        tail -n "${1:-60}" "$LOG" | sed 's/^/#   /'
}
if ! check "passthrud owns org.passthru1" wait_for 30 bus_has_name org.passthru1; then
        show_log 200
        finish
fi

vga=$(pci_find 1234 1111)
hda=$(pci_find 8086 293e)
grp=$(pci_group "$vga")
gpu_path=$P/device/pci_${vga//[:.]/_}
diag "VGA $vga + HDA $hda in group $grp"

fb_of() { local f=("$SYSPCI/$1"/graphics/fb*); [ -e "${f[0]}" ] && echo "${f[0]##*fb}"; }
state() { printf 'where: %s\nconsoles: %s\nmodules: %s\n' "$(pci_where "$vga" "$hda")" "$(vtconsoles)" "$(modules_but_vfio | tr '\n' ' ')"; }
gpu_prop() { busctl --system --timeout=10 get-property org.passthru1 "$gpu_path" org.passthru1.Gpu "$1" 2>&1; }
# call PATH INTERFACE.METHOD ARGS...: gdbus (prints error names); sets $out and $rc.
call() {
        out=$(gdbus call --system -t 120 -d org.passthru1 -o "$@" 2>&1)
        rc=$?
}
journals() { local j=("$RT"/*.journal "$RT"/*.handoff); [ -e "${j[0]}" ] && echo "${j[@]##*/}"; }

# --- 1. the frame buffer console on bochs's frame buffer ---------------------------------
fb=$(fb_of "$vga")
check "bochs-drm registered a frame buffer for $vga (fb$fb)" test -n "$fb"
# struct fb_con2fbmap { __u32 console; __u32 framebuffer; }, FBIOPUT_CON2FBMAP 0x4610:
# consoles 1-6 (tty1-tty6) on bochs's frame buffer.
con2fb() {
        python3 - "$1" "$2" <<'EOF'
import fcntl, struct, sys
fd = open("/dev/fb" + sys.argv[1], "rb")
for console in range(1, 7):
    fcntl.ioctl(fd, 0x4610, struct.pack("II", console, int(sys.argv[2])))
    m = bytearray(struct.pack("II", console, 0))
    fcntl.ioctl(fd, 0x460F, m)
    assert struct.unpack("II", m)[1] == int(sys.argv[2]), (console, struct.unpack("II", m))
EOF
}
check "the consoles are mapped to fb$fb (FBIOPUT_CON2FBMAP, read back)" con2fb "$fb" "$fb"
check_match "vtcon1 is the frame buffer console, bound" 'vtcon1=1\(\(M\) frame buffer device\)' "$(vtconsoles)"
check "bochs is loaded" test -d /sys/module/bochs
before=$(state)
diag "before: $before"
check_eq "the card starts on bochs-drm and snd_hda_intel" "$vga=bochs-drm/(null) $hda=snd_hda_intel/(null) " \
        "$(pci_where "$vga" "$hda")"
check_eq "Gpu State is host" 's "host"' "$(gpu_prop State)"
check_eq "Gpu Primary (boot VGA, console on it)" "b true" "$(gpu_prop Primary)"
check_eq "Gpu Companions is the audio function" "ao 1 \"$P/device/pci_${hda//[:.]/_}\"" "$(gpu_prop Companions)"

# --- 2. consumers: InUse, nothing changed --------------------------------------------------
cards=("$SYSPCI/$vga"/drm/card*)
card=/dev/dri/${cards[0]##*/}
sleep 1000 3<"$card" &
holder=$!
check "a process holds $card" wait_for 5 test -e "/proc/$holder/fd/3"
call "$gpu_path" -m org.passthru1.Gpu.GetConsumers
check_match "GetConsumers lists it (pid, name, node)" "\\(uint32 $holder, 'sleep', '$card'\\)" "$out"
call "$gpu_path" -m org.passthru1.Gpu.Handoff '' '@a{sv} {}'
check_match "Handoff with $card held: org.passthru1.Error.InUse" \
        'GDBus\.Error:org\.passthru1\.Error\.InUse: ' "$out"
check_match "... naming the process and the node" "sleep.*$holder.*$card|$card.*sleep.*$holder" "$out"
check_eq "... and nothing changed (drivers, overrides, consoles, modules)" "$before" "$(state)"
check_eq "... Gpu State still host" 's "host"' "$(gpu_prop State)"
check_eq "... no journal or record" "" "$(journals)"
kill "$holder"; wait "$holder" 2>/dev/null

controls=("$SYSPCI/$hda"/sound/card*/controlC*)
control=/dev/snd/${controls[0]##*/}
sleep 1000 3<"$control" &
holder=$!
check "a process holds the audio function's $control" wait_for 5 test -e "/proc/$holder/fd/3"
call "$gpu_path" -m org.passthru1.Gpu.Handoff '' '@a{sv} {}'
check_match "Handoff with the HDMI audio's $control held: InUse naming it" \
        "org\\.passthru1\\.Error\\.InUse: .*$control" "$out"
check_eq "... and nothing changed" "$before" "$(state)"
kill "$holder"; wait "$holder" 2>/dev/null

# --- 3. handoff ------------------------------------------------------------------------------
gdbus monitor --system --dest org.passthru1 >/run/monitor.out 2>&1 &
monitor=$!
# It prints "The name … is owned by" once the bus answered its GetNameOwner, which it sends
# after its AddMatch: from then on no signal is missed.
check "gdbus monitor is subscribed" wait_for 10 grep -q "is owned by" /run/monitor.out
call "$gpu_path" -m org.passthru1.Gpu.Handoff '' '@a{sv} {"dry-run": <true>}'
check_match "dry-run: the plan unbinds the frame buffer console" "'unbind-console', '[^']*vtcon1" "$out"
check_match "... unloads bochs" "'unload-module', '[^']*bochs" "$out"
check_match "... binds the audio function to vfio-pci" "'probe', '$hda: probe drivers, expect vfio-pci" "$out"
check_eq "... and changes nothing" "$before" "$(state)"

t0=$(now_ms)
"$CTL" handoff "${vga#0000:}" --no-ask-password >/run/ctl-handoff.out 2>&1
rc=$?
t1=$(now_ms)
check_eq "passthructl handoff ${vga#0000:} succeeds (in $((t1 - t0)) ms)" 0 "$rc"
while IFS= read -r l; do diag "  $l"; done </run/ctl-handoff.out
check_eq "both functions on vfio-pci, driver_override vfio-pci" \
        "$vga=vfio-pci/vfio-pci $hda=vfio-pci/vfio-pci " "$(pci_where "$vga" "$hda")"
check "/dev/vfio/$grp is a character device" test -c "/dev/vfio/$grp"
check "bochs is unloaded" test ! -d /sys/module/bochs
check_match "vtcon1 (frame buffer console) unbound" 'vtcon1=0\(' "$(vtconsoles)"
check "no DRM node of the VGA any more" test ! -e "$card"
check_eq "Gpu State detached" 's "detached"' "$(gpu_prop State)"
check_eq "Gpu Domain: none (detach only)" 's ""' "$(gpu_prop Domain)"
check_eq "no transaction journal left" "" "$(cd "$RT" && ls -- *.journal 2>/dev/null)"
check "the handoff record is in $RT" test -e "$RT/gpu-pci_${vga//[:.]/_}.handoff"

# --- 4. return -------------------------------------------------------------------------------
t0=$(now_ms)
"$CTL" return "${vga#0000:}" --no-ask-password >/run/ctl-return.out 2>&1
rc=$?
t1=$(now_ms)
check_eq "passthructl return ${vga#0000:} succeeds (in $((t1 - t0)) ms)" 0 "$rc"
while IFS= read -r l; do diag "  $l"; done </run/ctl-return.out
check_eq "drivers, overrides, console binding and modules exactly as before" "$before" "$(state)"
check "bochs registered its frame buffer again" test -n "$(fb_of "$vga")"
check "the VGA's DRM node is back" test -e "$SYSPCI/$vga/drm/${cards[0]##*/}"
check "/dev/vfio/$grp is gone" test ! -e "/dev/vfio/$grp"
check_eq "Gpu State host" 's "host"' "$(gpu_prop State)"
check_eq "Gpu Domain empty" 's ""' "$(gpu_prop Domain)"
check_eq "no journal, no record" "" "$(journals)"

# (sent before the reply to Return; gdbus monitor may still be writing it)
check "gdbus monitor saw StateChanged host" wait_for 10 grep -q "StateChanged ('host'" /run/monitor.out
kill "$monitor"; wait "$monitor" 2>/dev/null
states=$(sed -n "s/.*org\\.passthru1\\.Gpu\\.StateChanged ('\\([a-z]*\\)'.*/\\1/p" /run/monitor.out | tr '\n' ' ')
check_eq "StateChanged: releasing → detached, then returning → host" "releasing detached returning host " "$states"

kill -TERM "$daemon"
wait "$daemon"
check_eq "passthrud exits 0 on SIGTERM" 0 "$?"
[ "$GUEST_LIB_FAILED" -gt 0 ] && show_log 120
finish
