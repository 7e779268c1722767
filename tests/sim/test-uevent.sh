#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# End-to-end uevent test: a libsystemd sd_device_monitor running under pcisim
# must see the udev-format events for sysfs writes made through nsenter.
#   test-uevent.sh PCISIM MONITOR LISTING
set -u

PCISIM=$1
MONITOR=$2
LISTING=$3

if [ "$(id -u)" != 0 ] || [ ! -c /dev/fuse ] || ! command -v nsenter >/dev/null; then
        echo "SKIP: needs root, /dev/fuse and nsenter"
        exit 77
fi

tmp=$(mktemp -d)
sim=
cleanup() {
        [ -n "$sim" ] && kill "$sim" 2>/dev/null
        rm -rf "$tmp"
}
trap cleanup EXIT

"$PCISIM" --pidfile "$tmp/pid" --uevent-log "$tmp/log" "$LISTING" -- \
        "$MONITOR" --count 5 --timeout 30 >"$tmp/out" 2>"$tmp/err" &
sim=$!

for _ in $(seq 1 200); do
        [ -s "$tmp/pid" ] && grep -qx ready "$tmp/out" 2>/dev/null && break
        sleep 0.05
done
if ! grep -qx ready "$tmp/out"; then
        echo "FAIL: monitor did not become ready"; cat "$tmp/err"; exit 1
fi
pid=$(cat "$tmp/pid")

in_ns() {
        nsenter -t "$pid" -m -n -- sh -c "$1"
}

in_ns 'echo 0000:26:00.1 > /sys/bus/pci/drivers/snd_hda_intel/unbind' || { echo "FAIL: unbind"; exit 1; }
in_ns 'test ! -e /sys/bus/pci/devices/0000:26:00.1/driver' || { echo "FAIL: driver link still there after unbind returned"; exit 1; }
in_ns 'echo 1 > /sys/bus/pci/devices/0000:22:00.0/remove' || { echo "FAIL: remove"; exit 1; }
in_ns 'test ! -e /sys/bus/pci/devices/0000:22:00.0' || { echo "FAIL: device still there after remove returned"; exit 1; }
in_ns 'echo 1 > /sys/bus/pci/rescan' || { echo "FAIL: rescan"; exit 1; }

wait "$sim"
rc=$?
sim=

expected='ready
unbind 0000:26:00.1
unbind 0000:22:00.0
remove 0000:22:00.0
add 0000:22:00.0
bind 0000:22:00.0'

failed=0
if [ "$rc" != 0 ]; then
        echo "FAIL: pcisim/monitor exited with $rc"; cat "$tmp/err"; failed=1
fi
if [ "$(cat "$tmp/out")" != "$expected" ]; then
        echo "FAIL: monitor output differs"; diff -u <(echo "$expected") "$tmp/out"; failed=1
fi

# snd_hda_intel takes the ALSA card of 26:00.1 (# sound: its nodes, then the card) with it before
# its unbind event; r8169 takes enp34s0 (# net) with it and brings it back, before its unbind
# and bind events
expected_log='1000 remove /devices/pci0000:00/0000:26:00.1/sound/card1/controlC1 -
1001 remove /devices/pci0000:00/0000:26:00.1/sound/card1/hwC1D0 -
1002 remove /devices/pci0000:00/0000:26:00.1/sound/card1/pcmC1D3p -
1003 remove /devices/pci0000:00/0000:26:00.1/sound/card1 -
1004 unbind /devices/pci0000:00/0000:26:00.1 snd_hda_intel
1005 remove /devices/pci0000:00/0000:22:00.0/net/enp34s0 -
1006 unbind /devices/pci0000:00/0000:22:00.0 r8169
1007 remove /devices/pci0000:00/0000:22:00.0 -
1008 add /devices/pci0000:00/0000:22:00.0 -
1009 add /devices/pci0000:00/0000:22:00.0/net/enp34s0 -
1010 bind /devices/pci0000:00/0000:22:00.0 r8169'
if [ "$(cat "$tmp/log")" != "$expected_log" ]; then
        echo "FAIL: uevent log differs"; diff -u <(echo "$expected_log") "$tmp/log"; failed=1
fi
if [ -e "$tmp/pid" ]; then
        echo "FAIL: pidfile left behind"; failed=1
fi

if [ "$failed" = 0 ]; then
        echo "1 passed, 0 failed"
else
        echo "0 passed, 1 failed"
fi
exit "$failed"
