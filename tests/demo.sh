#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The main job on a machine without the hardware: installs what is missing, builds, then
# runs the real passthrud on a private bus over a simulated machine (by default the AMD
# Ryzen + GeForce GTX 1650 desktop of tests/fixtures/amd-matisse-gtx1650.txt) and shows
# `passthructl status` and `passthructl list`.
#   tests/demo.sh [LISTING] [-- PASSTHRUCTL-ARGS…]   e.g. tests/demo.sh -- show 26:00.0
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD

listing=$src/tests/fixtures/amd-matisse-gtx1650.txt
if [ $# -gt 0 ] && [ "$1" != "--" ]; then listing=$(realpath "$1"); shift; fi
[ "${1:-}" = "--" ] && shift

bash tests/install-deps.sh
bash tests/build.sh

tmp=$(mktemp -d /tmp/passthru-demo.XXXXXX)
chmod 755 "$tmp"
cleanup() {
        [ -n "${sim:-}" ] && kill -TERM "$sim" 2>/dev/null && wait "$sim" 2>/dev/null
        [ -n "${bus:-}" ] && kill -TERM "$bus" 2>/dev/null && wait "$bus" 2>/dev/null
        rm -rf "$tmp"
}
trap cleanup EXIT

sed -e "s|@SOCKET@|$tmp/system_bus_socket|" -e "s|@POLICY@|$src/dbus/org.passthru1.conf|" \
        tests/bus/system-bus.conf.in > "$tmp/bus.conf"
dbus-daemon --config-file="$tmp/bus.conf" --nofork --nopidfile 2> "$tmp/bus.log" & bus=$!
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$tmp/system_bus_socket
for _ in $(seq 200); do [ -S "$tmp/system_bus_socket" ] && break; sleep 0.05; done

# The daemon's journals and host-driver record stay in the demo's directory, not /run.
mkdir -p "$tmp/run"
RUNTIME_DIRECTORY=$tmp/run build/tests/sim/pcisim "$listing" -- build/service/passthrud 2> "$tmp/passthrud.log" & sim=$!
for _ in $(seq 400); do
        busctl --system status org.passthru1 >/dev/null 2>&1 && break
        kill -0 "$sim" 2>/dev/null || { cat "$tmp/passthrud.log"; exit 1; }
        sleep 0.05
done

echo "== simulated machine: $(basename "$listing"), passthrud on a private system bus"
if [ $# -gt 0 ]; then
        build/clients/passthructl "$@"
else
        echo "\$ passthructl status"
        build/clients/passthructl status
        echo
        echo "\$ passthructl list"
        build/clients/passthructl list
        if [ "$listing" = "$src/tests/fixtures/amd-matisse-gtx1650.txt" ]; then
                # The GTX 1650 and its HDMI audio to vfio-pci and back (no desktop session runs
                # in the simulation, so the boot VGA interlock does not stop it).
                echo
                echo "\$ passthructl detach group 16"
                build/clients/passthructl detach group 16
                echo
                echo "\$ passthructl show group 16"
                build/clients/passthructl show group 16
                echo
                echo "\$ passthructl reattach group 16"
                build/clients/passthructl reattach group 16
        fi
fi
