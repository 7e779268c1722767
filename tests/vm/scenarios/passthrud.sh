#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# passthrud on a real kernel: a real system dbus-daemon with the project's bus policy,
# real polkitd with the project's actions, the built passthrud, driven by passthructl and
# checked against the guest kernel's own sysfs and udev's hwdb properties.
#   - enumeration: groups, members, ids, classes, drivers, names equal the kernel's
#   - the GPU's group is the VGA + HD-audio pair; Diagnose: IOMMU on, interrupt remapping
#   - live updates: remove + rescan of the NIC seen by `passthructl monitor`; an unbind and
#     bind done behind the daemon's back reflected in Driver within a second
#   - the bus policy: a non-root user reads, may not set properties nor own the name
#   - authorization with the real polkitd: a non-root user's Manager.Rescan is refused and
#     changes nothing; a rules.d file granting org.passthru1.device.assign makes it succeed
#   - SIGTERM: clean exit, name released

set -u
HERE=$(dirname "$(readlink -f "$0")")
# shellcheck source=tests/vm/guest-lib.sh
. "$HERE/../guest-lib.sh"

B=${PASSTHRU_BUILD_DIR:?}
S=${PASSTHRU_SOURCE_DIR:?}
CTL=$B/clients/passthructl
LOG=/run/passthrud.log
PY=/usr/bin/python3

# --- services, as a distribution would have them -------------------------------------------
mkdir -p /etc/dbus-1/system.d /usr/share/polkit-1/actions
cp "$S/dbus/org.passthru1.conf" /etc/dbus-1/system.d/
cp "$S/polkit/org.passthru1.policy" /usr/share/polkit-1/actions/
check "system dbus-daemon starts" start_system_bus
check "polkitd starts" start_polkitd

"$B/service/passthrud" --log-level=debug >"$LOG" 2>&1 &
daemon=$!
check "passthrud owns org.passthru1" wait_for 30 bus_has_name org.passthru1
if ! bus_has_name org.passthru1; then
        diag "passthrud log:"; sed 's/^/#   /' "$LOG"
        finish
fi

# --- enumeration against the kernel -----------------------------------------------------
"$CTL" list --json >/run/list.json
check "passthructl list --json" test -s /run/list.json

check "groups and members equal /sys/kernel/iommu_groups" $PY - /run/list.json <<'PY'
import json, os, sys
data = json.load(open(sys.argv[1]))
got = {g["number"]: [d["address"] for d in g["devices"]] for g in data["groups"]}
want = {int(g): sorted(os.listdir(f"/sys/kernel/iommu_groups/{g}/devices"))
        for g in os.listdir("/sys/kernel/iommu_groups")}
assert got == want, (got, want)
assert data["ungrouped"] == [], data["ungrouped"]
PY

check "ids, classes, drivers and names equal the kernel's and udev's" $PY - /run/list.json <<'PY'
import json, os, subprocess, sys
data = json.load(open(sys.argv[1]))
def attr(dev, name):
    with open(f"/sys/bus/pci/devices/{dev}/{name}") as f:
        return f.read().strip()
n = 0
for g in data["groups"]:
    for d in g["devices"]:
        a = d["address"]
        assert d["vendor_id"] == attr(a, "vendor")[2:], a
        assert d["product_id"] == attr(a, "device")[2:], a
        assert d["class"] == attr(a, "class")[2:], a
        link = f"/sys/bus/pci/devices/{a}/driver"
        drv = os.path.basename(os.readlink(link)) if os.path.islink(link) else ""
        assert d["driver"] == drv, (a, d["driver"], drv)
        props = dict(l.split("=", 1) for l in subprocess.run(
            ["udevadm", "info", "-q", "property", f"/sys/bus/pci/devices/{a}"],
            capture_output=True, text=True, check=True).stdout.splitlines() if "=" in l)
        assert d["vendor_name"] == props.get("ID_VENDOR_FROM_DATABASE", ""), (a, d["vendor_name"], props)
        assert d["product_name"] == props.get("ID_MODEL_FROM_DATABASE", ""), (a, d["product_name"], props)
        n += 1
print(f"{n} functions checked")
PY

vga=$(pci_find 1234 1111)
hda=$(pci_find 8086 293e)
check "the GPU's group is the VGA + HD-audio pair, with audio as companion" $PY - /run/list.json "$vga" "$hda" <<'PY'
import json, sys
data, vga, hda = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
g = [g for g in data["groups"] if vga in [d["address"] for d in g["devices"]]][0]
assert [d["address"] for d in g["devices"]] == sorted([vga, hda]), g
gpu = [d for d in g["devices"] if d["address"] == vga][0]
assert gpu["gpu"]["companions"] == [hda], gpu["gpu"]
assert gpu["gpu"]["state"] == "host", gpu["gpu"]
assert g["viable"] is False and len(g["blockers"]) == 2, g
PY

"$CTL" diagnose --json >/run/diag.json
check "Diagnose: IOMMU enabled (intel-iommu) with interrupt remapping" $PY - /run/diag.json <<'PY'
import json, sys
f = {x["id"]: x for x in json.load(open(sys.argv[1]))["findings"]}
assert "iommu-enabled" in f and "intel-iommu" in f["iommu-enabled"]["advice"], f
assert "interrupt-remapping" in f, f
assert "iommu-disabled" not in f and "no-interrupt-remapping" not in f, f
PY
check_eq "IommuDriver" 's "intel-iommu"' \
        "$(busctl --system get-property org.passthru1 /org/passthru1 org.passthru1.Manager IommuDriver)"

# --- the bus policy on the real system bus ----------------------------------------------------
check "a non-root user is created" add_user tester
check "a non-root user reads everything (passthructl list)" run_as tester "$CTL" list --json
denied() { "$@" 2>&1 | grep -q -e "Access denied" -e "AccessDenied"; }
check "... may not set properties (AccessDenied from the bus policy)" \
        denied run_as tester busctl --system set-property org.passthru1 /org/passthru1 org.passthru1.Manager Version s x
check "... nor own org.passthru1" denied run_as tester $PY -c \
        "import dbus; dbus.SystemBus().request_name('org.passthru1', dbus.bus.NAME_FLAG_DO_NOT_QUEUE)"

# --- authorization with the real polkitd ---------------------------------------------------
check "polkitd knows org.passthru1.device.assign (auth_admin_keep for active sessions)" \
        sh -c "pkaction --action-id org.passthru1.device.assign --verbose | grep -q 'implicit active:.*auth_admin_keep'"
nic=$(pci_find 8086 10d3)
echo 1 >"/sys/bus/pci/devices/$nic/remove"
check "the NIC is removed (as root, through sysfs)" test ! -e "/sys/bus/pci/devices/$nic"
refused() { "$@" 2>&1 | grep -q -e "org.freedesktop.DBus.Error.AccessDenied" -e "InteractiveAuthorizationRequired"; }
check "a non-root user's Rescan is refused (AccessDenied or InteractiveAuthorizationRequired)" \
        refused run_as tester "$CTL" rescan
check "... and nothing changed: the NIC is still gone" test ! -e "/sys/bus/pci/devices/$nic"
mkdir -p /etc/polkit-1/rules.d
cat >/etc/polkit-1/rules.d/50-passthru-test.rules <<'RULES'
polkit.addRule(function(action, subject) {
        if (action.id == "org.passthru1.device.assign" && subject.user == "tester")
                return polkit.Result.YES;
});
RULES
# polkitd reloads rules.d on its own; the first call after the change may still see the old rules.
rescan_ok() { run_as tester "$CTL" rescan --json >/run/rescan.json 2>&1; }
check "a rules.d file granting org.passthru1.device.assign makes the same call succeed" wait_for 10 rescan_ok
check "... and the call brought the NIC back" grep -q "\"added\":\[\"$nic\"\]" /run/rescan.json
check "the NIC is back in the kernel" test -e "/sys/bus/pci/devices/$nic"
check "the NIC is back in the daemon" wait_for 10 sh -c "'$CTL' show '$nic' --json | grep -q '\"driver\":\"e1000e\"'"

# --- live updates -------------------------------------------------------------------------
"$CTL" monitor --json >/run/monitor.out 2>/run/monitor.err &
mon=$!
check "monitor is ready" wait_for 10 grep -q Monitoring /run/monitor.err

echo 1 >"/sys/bus/pci/devices/$nic/remove"
check "NIC removal: InterfacesRemoved seen by passthructl monitor" \
        wait_for 10 grep -q "\"event\":\"removed\",\"kind\":\"device\",\"path\":\"[^\"]*\",\"address\":\"$nic\"" /run/monitor.out
check_fails "the daemon no longer has the NIC" "$CTL" show "$nic"

echo 1 >/sys/bus/pci/rescan
check "rescan: InterfacesAdded seen by passthructl monitor" \
        wait_for 10 grep -q "\"event\":\"added\",\"kind\":\"device\",\"path\":\"[^\"]*\",\"address\":\"$nic\"" /run/monitor.out
check "the NIC is back with its driver" wait_for 10 sh -c "'$CTL' show '$nic' --json | grep -q '\"driver\":\"e1000e\"'"

driver_is() { "$CTL" show "$1" --json | grep -q "\"driver\":\"$2\""; }
t0=$(now_ms)
echo "$hda" >/sys/bus/pci/drivers/snd_hda_intel/unbind
check "unbind behind the daemon's back: Driver is empty" wait_for 5 driver_is "$hda" ""
t1=$(now_ms)
diag "reflected after $((t1 - t0)) ms"
check "... within a second" test $((t1 - t0)) -lt 1000
check "HostDriver names snd_hda_intel (modalias through libkmod)" \
        sh -c "'$CTL' show '$hda' --json | grep -q '\"host_driver\":\"snd_hda_intel\"'"
echo "$hda" >/sys/bus/pci/drivers/snd_hda_intel/bind
check "bind behind the daemon's back: Driver is snd_hda_intel again" wait_for 5 driver_is "$hda" snd_hda_intel
check "the monitor saw Driver change" grep -q "\"address\":\"$hda\".*\"Driver\":\"\"" /run/monitor.out
kill "$mon" 2>/dev/null

# --- exit -------------------------------------------------------------------------------------
kill -TERM "$daemon"
wait "$daemon"
check_eq "passthrud exits 0 on SIGTERM" 0 "$?"
check_fails "org.passthru1 is released" bus_has_name org.passthru1

if [ "$GUEST_LIB_FAILED" -gt 0 ]; then
        diag "passthrud log (tail):"
        tail -n 40 "$LOG" | sed 's/^/#   /'
fi
finish
