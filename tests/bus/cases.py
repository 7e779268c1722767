#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Bus-level cases: the real passthrud on simulated machines, driven through passthructl and
busctl as a user would. One meson test per case (`cases.py --list` names them);
`cases.py NAME` runs one and prints the daemon's log if it fails."""

import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

from harness import ACS, FIXTURES, STOCK, SOURCE_DIR, Failure, check, check_eq, parse_listing, run_case

IOMMU_OFF = os.path.join(FIXTURES, "intel-skylake-gtx1050ti-iommu-off.txt")
NO_IR = os.path.join(FIXTURES, "intel-skylake-gtx1050ti-no-ir.txt")

CASES = {}


def case(listing=STOCK):
    def register(fn):
        CASES[fn.__name__] = (fn, listing)
        return fn
    return register


def list_json(bed):
    r = bed.ctl("list", "--json")
    check_eq(r.code, 0, f"passthructl list --json: {r}")
    return r.json()


def group_of(data, number):
    for g in data["groups"]:
        if g["number"] == number:
            return g
    raise Failure(f"group {number} missing from list --json")


def device_of(data, address):
    for g in data["groups"]:
        for d in g["devices"]:
            if d["address"] == address:
                return d
    for d in data["ungrouped"]:
        if d["address"] == address:
            return d
    raise Failure(f"device {address} missing from list --json")


def check_groups_equal_listing(bed, listing):
    groups, drivers, boot_vga = parse_listing(listing)
    data = list_json(bed)
    got = {g["number"]: [d["address"] for d in g["devices"]] for g in data["groups"]}
    want = {n: sorted(d["address"] for d in devs) for n, devs in groups.items()}
    check_eq(len(got), len(want), "number of groups")
    check_eq(got, want, "groups and their members")
    check_eq(data["ungrouped"], [], "ungrouped devices")
    for n, devs in groups.items():
        for want_dev in devs:
            d = device_of(data, want_dev["address"])
            check_eq(d["group"], n, f"group of {d['address']}")
            check_eq(d["vendor_id"], want_dev["vendor_id"], f"vendor of {d['address']}")
            check_eq(d["product_id"], want_dev["product_id"], f"product of {d['address']}")
            check_eq(d["class"][:4], want_dev["class"], f"class of {d['address']}")
            check_eq(d["revision"], want_dev["revision"], f"revision of {d['address']}")
            check_eq(d["driver"], drivers.get(d["address"], ""), f"driver of {d['address']}")
            check_eq(d["boot_vga"], d["address"] in boot_vga, f"boot_vga of {d['address']}")


@case(STOCK)
def groups_equal_stock_listing(bed):
    check_groups_equal_listing(bed, STOCK)


@case(ACS)
def groups_equal_acs_override_listing(bed):
    check_groups_equal_listing(bed, ACS)


@case(STOCK)
def gpu_group_not_viable_with_blockers(bed):
    g = group_of(list_json(bed), 16)
    check_eq(g["viable"], False, "group 16 viable")
    check_eq(g["owner"], "host", "group 16 owner")
    check_eq(g["blockers"], [{"address": "0000:26:00.0", "reason": "bound to nvidia"},
                             {"address": "0000:26:00.1", "reason": "bound to snd_hda_intel"}],
             "group 16 blockers")
    # The same through the bus itself.
    r = bed.busctl("get-property", "org.passthru1", "/org/passthru1/group/16", "org.passthru1.Group", "Viable")
    check_eq(r.out.strip(), "b false", "Viable property")


@case(STOCK)
def bridges_never_block(bed):
    data = list_json(bed)
    bridges = {d["address"] for g in data["groups"] for d in g["devices"] if d["is_bridge"]}
    check(len(bridges) >= 10, f"the listing has bridges ({len(bridges)})")
    for g in data["groups"]:
        for b in g["blockers"]:
            check(b["address"] not in bridges, f"bridge {b['address']} blocks group {g['number']}")
    # Group 15: NICs, SATA, USB block; its five pcieport bridges do not.
    check_eq(sorted(b["address"] for b in group_of(data, 15)["blockers"]),
             ["0000:03:00.0", "0000:03:00.1", "0000:21:00.0", "0000:22:00.0"], "group 15 blockers")
    # Group 13 (data fabric host bridges, one on k10temp) is bridges only: viable.
    check_eq(group_of(data, 13)["viable"], True, "group 13 viable")


@case(STOCK)
def names_come_from_hwdb(bed):
    d = device_of(list_json(bed), "0000:26:00.0")
    check_eq(d["vendor_name"], "NVIDIA Corporation", "vendor name")
    check("GeForce GTX 1650" in d["product_name"], f"product name {d['product_name']!r}")
    check_eq(d["class_name"], "VGA compatible controller", "class name")


@case(STOCK)
def json_outputs_have_documented_keys(bed):
    data = list_json(bed)
    check_eq(set(data), {"iommu", "groups", "ungrouped"}, "list keys")
    check_eq(data["iommu"], {"enabled": True, "driver": "amd-iommu"}, "iommu")
    device_keys = {"address", "vendor_id", "product_id", "subsystem_vendor_id", "subsystem_id", "class",
                   "revision", "vendor_name", "product_name", "class_name", "driver", "host_driver", "group",
                   "boot_vga", "is_bridge", "reset_methods", "power_state", "slot", "gpu"}
    group_keys = {"number", "viable", "owner", "domain", "blockers", "devices"}
    for g in data["groups"]:
        check_eq(set(g), group_keys, f"group {g['number']} keys")
        for d in g["devices"]:
            check_eq(set(d), device_keys, f"device {d['address']} keys")

    gpu = device_of(data, "0000:26:00.0")
    check_eq(gpu["gpu"], {"state": "host", "domain": "", "companions": ["0000:26:00.1"], "primary": True,
                          "step": ""}, "gpu object")
    check_eq(gpu["slot"], ["0000:26:00.0", "0000:26:00.1"], "slot")
    check_eq(device_of(data, "0000:26:00.1")["gpu"], None, "audio has no gpu object")

    r = bed.ctl("show", "26:00.0", "--json")
    check_eq(r.code, 0, f"show: {r}")
    check_eq(r.json(), gpu, "show --json equals the list entry")

    r = bed.ctl("show", "group", "16", "--json")
    check_eq(r.code, 0, f"show group: {r}")
    check_eq(r.json(), group_of(data, 16), "show group --json equals the list entry")

    r = bed.ctl("status", "--json")
    check_eq(r.code, 0, f"status: {r}")
    s = r.json()
    check_eq(set(s), {"version", "iommu", "counts", "diagnosis", "gpus"}, "status keys")
    check_eq(s["counts"], {"groups": 22, "devices": 38}, "counts")
    check_eq([g["address"] for g in s["gpus"]], ["0000:26:00.0"], "gpus")
    check_eq(s["gpus"][0]["group_viable"], False, "gpu group_viable")
    check_eq(s["diagnosis"]["errors"], 0, "no errors in the diagnosis")

    r = bed.ctl("diagnose", "--json")
    check_eq(r.code, 0, f"diagnose: {r}")
    ids = [f["id"] for f in r.json()["findings"]]
    for want in ("iommu-enabled", "interrupt-remapping", "boot-gpu", "gpu-group-isolated"):
        check(want in ids, f"finding {want} in {ids}")
    for f in r.json()["findings"]:
        check_eq(set(f), {"severity", "id", "advice"}, "finding keys")
        check(f["severity"] in ("error", "warning", "info"), f"severity {f['severity']}")


@case(ACS)
def diagnose_warns_about_acs_override(bed):
    r = bed.ctl("diagnose", "--json")
    check_eq(r.code, 0, f"diagnose: {r}")
    f = {x["id"]: x for x in r.json()["findings"]}
    check("acs-override" in f, f"acs-override finding in {list(f)}")
    check_eq(f["acs-override"]["severity"], "warning", "acs-override severity")
    check("downstream,multifunction" in f["acs-override"]["advice"], "advice names the option")
    # After the override the GPU and its audio are in separate groups: a warning names the split.
    check("gpu-group-isolated" in f, "the GPU's own group is isolated")


@case(STOCK)
def human_status_and_list(bed):
    r = bed.ctl("status")
    check_eq(r.code, 0, f"status: {r}")
    check("26:00.0" in r.out and "amd-iommu" in r.out, f"status names the GPU and IOMMU: {r.out}")
    check("\x1b[" not in r.out, "no colour when stdout is not a tty")
    r2 = bed.ctl()
    check_eq(r2.out, r.out, "status is the default verb")
    r = bed.ctl("list")
    check_eq(r.code, 0, f"list: {r}")
    for needle in ("26:00.0", "[10de:1f82]", "nvidia", "snd_hda_intel", "(rev a1)"):
        check(needle in r.out, f"{needle!r} in list output")
    r = bed.ctl("--help")
    check_eq(r.code, 0, "--help exit code")
    check("monitor" in r.out and "--json" in r.out, "help lists verbs and options")
    r = bed.ctl("frobnicate")
    check_eq(r.code, 2, f"unknown verb exit code: {r}")


@case(IOMMU_OFF)
def iommu_off_lists_ungrouped_and_diagnoses(bed):
    data = list_json(bed)
    check_eq(data["iommu"], {"enabled": False, "driver": ""}, "iommu")
    check_eq(data["groups"], [], "no groups")
    check_eq(len(data["ungrouped"]), 11, "every function ungrouped")
    check(all(d["group"] is None for d in data["ungrouped"]), "group is null")
    igpu, dgpu = device_of(data, "0000:00:02.0"), device_of(data, "0000:02:00.0")
    check_eq(igpu["gpu"]["primary"], True, "the boot iGPU is primary")
    check_eq(dgpu["gpu"]["primary"], False, "the GTX 1050 Ti is not primary")
    check_eq(dgpu["gpu"]["companions"], ["0000:02:00.1"], "companions of the GTX 1050 Ti")
    r = bed.ctl("diagnose", "--json")
    f = {x["id"]: x for x in r.json()["findings"]}
    check_eq(f["iommu-disabled"]["severity"], "error", "iommu-disabled is an error")
    check("VT-d" in f["iommu-disabled"]["advice"], f"Intel advice: {f['iommu-disabled']['advice']}")
    check_eq(r.json()["findings"][0]["id"], "iommu-disabled", "the most severe comes first")
    r = bed.ctl("status", "--json")
    check_eq(r.code, 0, f"status: {r}")
    check_eq(r.json()["diagnosis"]["errors"], 1, "one error")
    r = bed.ctl("show", "group", "1")
    check("org.passthru1.Error.NoSuchGroup" in r.err and "IOMMU is off" in r.err, f"NoSuchGroup: {r}")


@case(NO_IR)
def missing_interrupt_remapping_warns(bed):
    r = bed.ctl("diagnose", "--json")
    f = {x["id"]: x for x in r.json()["findings"]}
    check_eq(f["no-interrupt-remapping"]["severity"], "warning", "no-interrupt-remapping")
    check("allow_unsafe_interrupts" in f["no-interrupt-remapping"]["advice"], "advice names the knob")
    check("interrupt-remapping" not in f, "no contrary finding")
    check("intel-iommu" in f["iommu-enabled"]["advice"], "intel-iommu named")
    # The x16 root port shares group 1 with the GPU: a bridge, so the GPU's group is its own.
    check("gpu-group-isolated" in f and "02:00.0" in f["gpu-group-isolated"]["advice"], f"isolated: {f}")
    g = group_of(list_json(bed), 1)
    check_eq([b["address"] for b in g["blockers"]], ["0000:02:00.0", "0000:02:00.1"], "bridge does not block")


@case(os.environ.get("PASSTHRU_GENERATED_LISTING", ""))
def generated_machine_with_sriov(bed):
    check_groups_equal_listing(bed, bed.listing)
    data = list_json(bed)
    vfs = [d for g in data["groups"] for d in g["devices"] if d["product_id"] == "154c"]
    check(len(vfs) >= 16, f"virtual functions present ({len(vfs)})")


BAD_ADDRESSES = {
    "empty": "",
    "dotdot": "../..",
    "slot_out_of_range": "0000:00:20.0",
    "function_out_of_range": "0000:00:02.8",
    "four_kib": "0" * 4096,
    "embedded_newline": "0000:26:00.0\nfoo",
}


def make_bad_address_case(name, address):
    def fn(bed):
        before = bed.managed_objects()
        r = bed.run(["dbus-send", "--system", "--print-reply", "--dest=org.passthru1", "/org/passthru1",
                     "org.passthru1.Manager.GetDevice", f"string:{address}"])
        check(r.code != 0, f"GetDevice({address[:20]!r}) succeeded")
        check(r.err.startswith("Error org.freedesktop.DBus.Error.InvalidArgs: Invalid PCI address"),
              f"InvalidArgs from the bus: {r.err[:300]}")
        r = bed.ctl("show", address)
        check_eq(r.code, 1, f"passthructl show exit code: {r}")
        check("org.freedesktop.DBus.Error.InvalidArgs" in r.err, f"error name in {r.err[:300]!r}")
        check("Expected DDDD:BB:SS.F" in r.err, f"message says the expected form: {r.err[:300]!r}")
        check(len(r.err) < 600, f"the message does not echo the whole input ({len(r.err)} bytes)")
        check("\n" not in r.err.rstrip("\n"), "the message is one line")
        check_eq(bed.managed_objects(), before, "nothing changed")
    fn.__name__ = f"bad_address_{name}"
    return fn


for _n, _a in BAD_ADDRESSES.items():
    case(STOCK)(make_bad_address_case(_n, _a))


@case(STOCK)
def absent_address_is_no_such_device(bed):
    for address in ("0000:99:00.0", "99:00.0", "pci_0000_99_00_0", "0001:26:00.0"):
        r = bed.ctl("show", address)
        check_eq(r.code, 1, f"show {address}: {r}")
        check("org.passthru1.Error.NoSuchDevice" in r.err, f"NoSuchDevice for {address}: {r.err!r}")
    r = bed.ctl("show", "group", "99")
    check_eq(r.code, 1, f"show group 99: {r}")
    check("org.passthru1.Error.NoSuchGroup" in r.err, f"NoSuchGroup: {r.err!r}")


@case(STOCK)
def all_address_forms_name_the_same_device(bed):
    paths = set()
    for address in ("0000:26:00.0", "26:00.0", "pci_0000_26_00_0", "0000:26:00.0".upper().replace("0X", "0x")):
        r = bed.call("GetDevice", "s", address)
        check_eq(r.code, 0, f"GetDevice({address}): {r}")
        paths.add(r.json()["data"][0])
    check_eq(paths, {"/org/passthru1/device/pci_0000_26_00_0"}, "object paths")


def interfaces_from_xml(text):
    root = ET.fromstring(text)
    out = {}
    for iface in root.findall("interface"):
        name = iface.get("name")
        if not name.startswith("org.passthru1."):
            continue
        members = set()
        for m in iface.findall("method"):
            args = tuple((a.get("direction", "in"), a.get("type")) for a in m.findall("arg"))
            members.add(("method", m.get("name"), args))
        for p in iface.findall("property"):
            members.add(("property", p.get("name"), p.get("type"), p.get("access")))
        for s in iface.findall("signal"):
            members.add(("signal", s.get("name"), tuple(a.get("type") for a in s.findall("arg"))))
        out[name] = members
    return out


@case(STOCK)
def introspection_matches_xml(bed):
    contract = interfaces_from_xml(open(os.path.join(SOURCE_DIR, "dbus", "org.passthru1.xml")).read())
    expected_per_object = {
        "/org/passthru1": {"org.passthru1.Manager"},
        "/org/passthru1/group/16": {"org.passthru1.Group"},
        "/org/passthru1/device/pci_0000_26_00_0": {"org.passthru1.Device", "org.passthru1.Gpu"},
        "/org/passthru1/device/pci_0000_26_00_1": {"org.passthru1.Device"},
    }
    seen = set()
    for path, want in expected_per_object.items():
        r = bed.busctl("--xml-interface", "introspect", "org.passthru1", path)
        check_eq(r.code, 0, f"introspect {path}: {r}")
        live = interfaces_from_xml(r.out)
        check_eq(set(live), want, f"interfaces of {path}")
        for name in want:
            check_eq(live[name], contract[name], f"members of {name} at {path}")
            seen.add(name)
        if path == "/org/passthru1":
            check("org.freedesktop.DBus.ObjectManager" in r.out, "ObjectManager at /org/passthru1")
    check_eq(seen, set(contract), "every interface of the contract is served")


@case(STOCK)
def bus_policy_only_root_owns_and_no_set(bed):
    nobody = "65534"
    # Unprivileged callers may read everything...
    r = bed.ctl("list", "--json", user=nobody)
    check_eq(r.code, 0, f"list as nobody: {r}")
    r = bed.busctl("get-property", "org.passthru1", "/org/passthru1", "org.passthru1.Manager", "Version",
                   user=nobody)
    check_eq(r.code, 0, f"Properties.Get as nobody: {r}")
    # ...but may not set properties, nor own the name.
    r = bed.busctl("set-property", "org.passthru1", "/org/passthru1", "org.passthru1.Manager", "Version", "s",
                   "9", user=nobody)
    check(r.code != 0 and ("AccessDenied" in r.err or "Access denied" in r.err), f"Set as nobody denied: {r}")
    r = bed.run(["/usr/bin/python3", "-c", "import dbus,os,sys; b=dbus.bus.BusConnection(os.environ['DBUS_SYSTEM_BUS_ADDRESS']); "
                 "b.request_name('org.passthru1', dbus.bus.NAME_FLAG_DO_NOT_QUEUE)"], user=nobody)
    check(r.code != 0 and "AccessDenied" in r.err, f"RequestName as nobody denied: {r}")
    r = bed.busctl("get-property", "org.passthru1", "/org/passthru1", "org.passthru1.Manager", "Version")
    check_eq(r.code, 0, f"still served: {r}")


@case(STOCK)
def live_remove_and_rescan(bed):
    mon = Monitor(bed)
    try:
        r = bed.kernel("echo 1 > /sys/bus/pci/devices/0000:22:00.0/remove")
        check_eq(r.code, 0, f"remove: {r}")
        ev = mon.wait_event(lambda e: e["event"] == "removed" and e.get("address") == "0000:22:00.0",
                       "InterfacesRemoved of 22:00.0")
        check_eq(ev["kind"], "device", "kind")
        r = bed.ctl("show", "22:00.0")
        check("NoSuchDevice" in r.err, f"gone from the daemon: {r}")
        check("0000:22:00.0" not in [b["address"] for b in group_of(list_json(bed), 15)["blockers"]],
              "group 15 blockers follow")

        r = bed.kernel("echo 1 > /sys/bus/pci/rescan")
        check_eq(r.code, 0, f"rescan: {r}")
        mon.wait_event(lambda e: e["event"] == "added" and e.get("address") == "0000:22:00.0",
                  "InterfacesAdded of 22:00.0")
        d = device_of(list_json(bed), "0000:22:00.0")
        check_eq(d["group"], 15, "back in group 15")
        deadline = time.monotonic() + 2
        while d["driver"] != "r8169" and time.monotonic() < deadline:
            time.sleep(0.05)
            d = device_of(list_json(bed), "0000:22:00.0")
        check_eq(d["driver"], "r8169", "driver after rescan")
    finally:
        mon.close()


@case(STOCK)
def unbind_behind_the_daemons_back(bed):
    mon = Monitor(bed)
    try:
        t0 = time.monotonic()
        r = bed.kernel("echo 0000:26:00.1 > /sys/bus/pci/drivers/snd_hda_intel/unbind")
        check_eq(r.code, 0, f"unbind: {r}")
        ev = mon.wait_event(lambda e: e["event"] == "changed" and e.get("address") == "0000:26:00.1"
                       and "Driver" in e["properties"], "PropertiesChanged Driver")
        check(time.monotonic() - t0 < 1.0, "reflected within a second")
        check_eq(ev["properties"]["Driver"], "", "Driver after unbind")
        d = device_of(list_json(bed), "0000:26:00.1")
        check_eq(d["driver"], "", "driver")
        check_eq(d["host_driver"], "snd_hda_intel", "host driver from the modalias (libkmod)")
        g = group_of(list_json(bed), 16)
        check_eq(g["blockers"], [{"address": "0000:26:00.0", "reason": "bound to nvidia"}], "blockers")

        r = bed.kernel("echo 0000:26:00.1 > /sys/bus/pci/drivers/snd_hda_intel/bind")
        check_eq(r.code, 0, f"bind: {r}")
        mon.wait_event(lambda e: e["event"] == "changed" and e.get("address") == "0000:26:00.1"
                  and e["properties"].get("Driver") == "snd_hda_intel", "PropertiesChanged Driver back")
    finally:
        mon.close()


NIC = "0000:22:00.0"


def nic_present(bed):
    return bed.kernel(f"test -e /sys/bus/pci/devices/{NIC}").code == 0


def remove_nic(bed):
    r = bed.kernel(f"echo 1 > /sys/bus/pci/devices/{NIC}/remove")
    check_eq(r.code, 0, f"remove: {r}")
    check(not nic_present(bed), "the NIC is gone from the kernel")
    bed.wait_for(lambda: bed.ctl("show", NIC).code == 1, "the daemon to drop the NIC", 5)


@case(STOCK)
def rescan_as_root_needs_no_polkit(bed):
    remove_nic(bed)
    r = bed.ctl("rescan", "--json")
    check_eq(r.code, 0, f"rescan as root: {r}")
    check_eq(r.json(), {"added": [NIC]}, "what appeared")
    check(nic_present(bed), "the kernel has the NIC again")
    bed.wait_for(lambda: bed.ctl("show", NIC).code == 0, "the NIC's object to come back", 5)
    r = bed.ctl("rescan", "--json")
    check_eq(r.json(), {"added": []}, "a second rescan finds nothing new")


@case(STOCK)
def rescan_denied_by_polkit_changes_nothing_then_allowed(bed):
    nobody = "65534"
    bed.start_polkit(allowed=[])
    remove_nic(bed)
    r = bed.ctl("rescan", user=nobody)
    check_eq(r.code, 1, f"rescan as nobody, polkit says no: {r}")
    check("org.freedesktop.DBus.Error.AccessDenied" in r.err and "org.passthru1.device.assign" in r.err,
          f"AccessDenied naming the action: {r.err!r}")
    check(not nic_present(bed), "nothing changed: the NIC is still gone")
    # Another action granted is not enough.
    bed.polkit_allow("org.passthru1.override")
    r = bed.ctl("rescan", user=nobody)
    check_eq(r.code, 1, f"rescan with only another action: {r}")
    check(not nic_present(bed), "still nothing changed")
    bed.polkit_allow("org.passthru1.device.assign")
    r = bed.ctl("rescan", "--json", user=nobody)
    check_eq(r.code, 0, f"the same call once polkit allows it: {r}")
    check_eq(r.json(), {"added": [NIC]}, "what appeared")
    check(nic_present(bed), "the NIC is back")


@case(STOCK)
def rescan_refused_by_the_kernel_is_failed(bed):
    remove_nic(bed)
    r = bed.kernel("echo 'rescan bus errno EIO' > /sys/kernel/pcisim/faults")
    check_eq(r.code, 0, f"fault: {r}")
    r = bed.ctl("rescan")
    check_eq(r.code, 1, f"rescan with the kernel refusing: {r}")
    check("org.passthru1.Error.Failed" in r.err and "refused to rescan" in r.err and "Input/output error" in r.err,
          f"Failed naming the kernel's error: {r.err!r}")
    check(not nic_present(bed), "nothing changed")
    r = bed.ctl("rescan", "--json")
    check_eq(r.code, 0, f"the next rescan: {r}")
    check_eq(r.json(), {"added": [NIC]}, "what appeared")


@case(STOCK)
def rescan_denied_without_polkit(bed):
    remove_nic(bed)
    r = bed.ctl("rescan", user="65534")
    check_eq(r.code, 1, f"rescan as nobody without polkit: {r}")
    check("org.freedesktop.DBus.Error.AccessDenied" in r.err, f"AccessDenied: {r.err!r}")
    check(not nic_present(bed), "nothing changed")


@case(STOCK)
def daemon_serves_while_polkit_hangs(bed):
    bed.start_polkit(allowed=["org.passthru1.device.assign"])
    bed.polkit_mock("SimulateHang", "b", "true")
    remove_nic(bed)
    pending = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--",
                                os.environ["PASSTHRUCTL"], "rescan", "--json"], env=bed.env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        bed.wait_for(lambda: bed.busctl("call", "org.freedesktop.PolicyKit1", "/org/freedesktop/PolicyKit1/Authority",
                                        "org.freedesktop.DBus.Mock", "HaveHangingCalls").out.strip() == "b true",
                     "the authorization to be pending", 5)
        t = time.monotonic()
        r = bed.ctl("list", "--json")
        check_eq(r.code, 0, f"list while polkit hangs: {r}")
        check(time.monotonic() - t < 2, "answered at once")
        check(not nic_present(bed), "nothing done before the answer")
        check(pending.poll() is None, "the rescan waits for polkit")
        bed.polkit_mock("ReleaseHangingCalls")
        out, err = pending.communicate(timeout=10)
        check_eq(pending.returncode, 0, f"the rescan completes once polkit answers: {err}")
        check(nic_present(bed), "the NIC is back")
    finally:
        if pending.poll() is None:
            pending.kill()
            pending.wait()


@case(STOCK)
def sigterm_exits_cleanly(bed):
    # pcisim forwards SIGTERM to passthrud and exits with its status.
    bed.sim.send_signal(signal.SIGTERM)
    code = bed.sim.wait(10)
    check_eq(code, 0, "exit status after SIGTERM")
    check(not bed.name_has_owner(), "the name is released")


class Monitor:
    """passthructl monitor --json in the background; its lines are read by threads, so a
    wait never blocks on a pipe's buffering."""

    def __init__(self, bed):
        import queue
        import threading
        self.p = subprocess.Popen([os.environ["PASSTHRUCTL"], "monitor", "--json"], env=bed.env, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.out, self.err, self.seen = queue.Queue(), queue.Queue(), []
        for stream, q in ((self.p.stdout, self.out), (self.p.stderr, self.err)):
            threading.Thread(target=lambda s=stream, q=q: [q.put(l) for l in s], daemon=True).start()
        self._wait(self.err, lambda l: "Monitoring" in l, "the monitor to be ready")

    def _wait(self, q, pred, what, timeout=5):
        import queue
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failure(f"timed out waiting for {what}; monitor printed: {self.seen}")
            try:
                line = q.get(timeout=left)
            except queue.Empty:
                continue
            self.seen.append(line.strip())
            if pred(line):
                return line

    def wait_event(self, pred, what, timeout=5):
        import json

        def test(line):
            try:
                return pred(json.loads(line))
            except (ValueError, KeyError):
                return False
        return json.loads(self._wait(self.out, test, what, timeout))

    def close(self):
        self.p.send_signal(signal.SIGINT)
        try:
            self.p.wait(5)
        except subprocess.TimeoutExpired:
            self.p.kill()


if __name__ == "__main__":
    if sys.argv[1:] == ["--list"]:
        print("\n".join(CASES))
        sys.exit(0)
    if len(sys.argv) != 2 or sys.argv[1] not in CASES:
        print(f"usage: {sys.argv[0]} --list | CASE", file=sys.stderr)
        sys.exit(2)
    fn, listing = CASES[sys.argv[1]]
    if fn is generated_machine_with_sriov:
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            listing = os.path.join(tmp, "generated-300.txt")
            subprocess.run([sys.executable, os.path.join(SOURCE_DIR, "bench", "gen-machine.py"), "300", listing],
                           check=True)
            sys.exit(run_case(fn, listing))
    sys.exit(run_case(fn, listing))
