#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Bus-level cases of the boot-time reservations: Manager.Reserve/Unreserve, the Reservations and
Device.Reserved properties, the file in $CONFIGURATION_DIRECTORY, and `passthrud
--apply-reservations` (what passthrud-reservations.service runs early at boot) on the simulated
AMD Matisse machine. A "boot" case starts the simulated machine without the daemon, applies the
reservations, then starts the daemon, as a real boot does. One meson test per case
(`cases_reserve.py --list`)."""

import os
import re
import subprocess
import sys
import tempfile
import time

from harness import (STOCK, VFIO_MODULES, Cases, check, check_eq, check_error, check_same_state,
                     state_devices)

CASES = Cases(STOCK)
case = CASES.case


GPU, AUDIO, NVME, NIC = "0000:26:00.0", "0000:26:00.1", "0000:01:00.0", "0000:22:00.0"
BRIDGE = "0000:00:01.1"
NOBODY = "65534"
CONFIGURE, OVERRIDE = "org.passthru1.configure", "org.passthru1.override"
E = "org.passthru1.Error."
INVALID_ARGS = "org.freedesktop.DBus.Error.InvalidArgs"
ACCESS_DENIED = "org.freedesktop.DBus.Error.AccessDenied"
MANAGER = ("/org/passthru1", "org.passthru1.Manager")


def reserve(bed, address, options=None, **kw):
    args = [str(len(options or {}))]
    for k, v in (options or {}).items():
        args += [k, *(v if isinstance(v, tuple) else ("b", "true" if v else "false"))]
    return bed.method(*MANAGER, "Reserve", "sa{sv}", address, *args, **kw)


def unreserve(bed, address, **kw):
    return bed.method(*MANAGER, "Unreserve", "s", address, **kw)


def reservations(bed):
    return [tuple(r) for r in bed.prop("/org/passthru1", "Reservations", "org.passthru1.Manager")]


def file_lines(bed):
    """The reservation lines of the file (comments left out), None without a file."""
    text = bed.reservations_file()
    if text is None:
        return None
    return [l for l in text.splitlines() if l.strip() and not l.lstrip().startswith("#")]


def check_unchanged(bed, state, events, file_text, what):
    check_same_state(bed.snapshot(), state, f"{what}: the machine")
    check_eq(len(bed.uevents()), events, f"{what}: no uevent")
    check_eq(bed.reservations_file(), file_text, f"{what}: the reservations file")


def listing_with_cmdline(extra):
    """A copy of the stock listing whose kernel command line has `extra` appended (made when the
    case runs)."""
    text = open(STOCK).read()
    text = re.sub(r"(# cmdline\n)([^\n]*)", lambda m: m.group(1) + m.group(2) + " " + extra, text)
    fd, path = tempfile.mkstemp(prefix="listing-", suffix=".txt")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


# ---------------------------------------------------------------------------------------------
# Reserve / Unreserve

@case()
def reserve_and_unreserve_round_trip(bed):
    state, events = bed.snapshot(), len(bed.uevents())
    check_eq(reservations(bed), [], "no reservation at first")
    check_eq(bed.prop(GPU, "Reserved"), False, "GPU not reserved at first")
    check_eq(bed.reservations_file(), None, "no file before the first reservation")

    r = reserve(bed, "26:00.0", {})
    check(r.ok, f"Reserve 26:00.0: {r}")
    got = reservations(bed)
    check_eq([(a, i) for a, i, _ in got], [(GPU, "10de:1f82")], "Reservations after Reserve")
    check("GTX 1650" in got[0][2] or "TU117" in got[0][2], f"the description says what it is: {got[0][2]!r}")
    check_eq(bed.prop(GPU, "Reserved"), True, "Device.Reserved of the GPU")
    check_eq(bed.prop(AUDIO, "Reserved"), False, "Device.Reserved of its audio function")
    lines = file_lines(bed)
    check_eq(len(lines), 1, f"one line in the file: {lines}")
    check(lines[0].startswith(f"{GPU} 10de:1f82 "), f"the line is ADDRESS VENDOR:DEVICE WHAT: {lines[0]!r}")
    st = os.stat(os.path.join(bed.config_dir, "reservations"))
    check_eq(oct(st.st_mode & 0o777), "0o644", "the file is readable by people")
    check_eq(sorted(os.listdir(bed.config_dir)), ["reservations"], "no temporary file left")

    # Reserving changes nothing now.
    check_same_state(bed.snapshot(), state, "the machine after Reserve")
    check_eq(len(bed.uevents()), events, "no uevent from Reserve")

    # Again: idempotent; a second function sorts in.
    check(reserve(bed, GPU, {}).ok, "Reserve again")
    check(reserve(bed, "pci_0000_26_00_1", {}).ok, "Reserve 26:00.1 by its node device name")
    check_eq([a for a, _, _ in reservations(bed)], [GPU, AUDIO], "two reservations, sorted")
    check_eq([l.split()[0] for l in file_lines(bed)], [GPU, AUDIO], "two lines in the file")

    r = unreserve(bed, GPU)
    check(r.ok, f"Unreserve {GPU}: {r}")
    check_eq([a for a, _, _ in reservations(bed)], [AUDIO], "Reservations after Unreserve")
    check_eq(bed.prop(GPU, "Reserved"), False, "Device.Reserved after Unreserve")
    check(unreserve(bed, "26:00.1").ok, "Unreserve the audio function")
    check_eq(file_lines(bed), [], "no line left")
    check_same_state(bed.snapshot(), state, "the machine after Unreserve")


@case()
def reserve_signals_properties_changed(bed):
    monitor = subprocess.Popen(["gdbus", "monitor", "--system", "--dest", "org.passthru1"], env=bed.env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        # gdbus prints "... is owned by ..." after its match is in place.
        line = monitor.stdout.readline()
        while line and "is owned by" not in line:
            line = monitor.stdout.readline()
        check(reserve(bed, GPU, {}).ok, "Reserve")
        check(unreserve(bed, GPU).ok, "Unreserve")
        time.sleep(0.5)
    finally:
        monitor.kill()
        out = monitor.communicate()[0]
    changed = re.findall(r"^(\S+): org\.freedesktop\.DBus\.Properties\.PropertiesChanged \('([^']+)', \{'(\w+)'",
                         out, re.M)
    want_manager = ("/org/passthru1", "org.passthru1.Manager", "Reservations")
    want_device = ("/org/passthru1/device/pci_0000_26_00_0", "org.passthru1.Device", "Reserved")
    check_eq(changed.count(want_manager), 2, f"Reservations changed twice: {changed}")
    check_eq(changed.count(want_device), 2, f"the GPU's Reserved changed twice: {changed}")


@case()
def reserve_bad_input_changes_nothing(bed):
    check(reserve(bed, AUDIO, {}).ok, "a first reservation")
    state, events, text = bed.snapshot(), len(bed.uevents()), bed.reservations_file()
    for address in ("", "26:00", "0000:26:00.8", "zz:00.0", "0000:26:00.0\n", "../../etc/passwd", "26:00.0;reboot",
                    "x" * 300):
        check_error(reserve(bed, address, {}), INVALID_ARGS, f"Reserve {address!r}")
        check_error(unreserve(bed, address), INVALID_ARGS, f"Unreserve {address!r}")
    check_error(reserve(bed, GPU, {"dry-run": True}), INVALID_ARGS, "Reserve with an unknown option")
    r = reserve(bed, GPU, {"override": ("s", "yes")})
    check_error(r, INVALID_ARGS, "Reserve with override of type s")
    check("boolean" in (r.message or ""), f"the message says the type: {r.message!r}")
    r = reserve(bed, "0000:99:00.0", {})
    check_error(r, E + "NoSuchDevice", "Reserve of a function that is not there")
    check("0000:99:00.0" in r.message, f"the message names it: {r.message!r}")
    r = reserve(bed, BRIDGE, {})
    check_error(r, E + "NotSupported", "Reserve of a bridge")
    check("bridge" in r.message, f"the message says why: {r.message!r}")
    r = unreserve(bed, GPU)
    check_error(r, E + "NotReserved", "Unreserve of a function that is not reserved")
    check(GPU in r.message and "passthructl reservations" in r.message, f"message: {r.message!r}")
    check_unchanged(bed, state, events, text, "after the refusals")
    check_eq([a for a, _, _ in reservations(bed)], [AUDIO], "Reservations unchanged")


@case()
def reserve_root_disk_controller_needs_override(bed):
    state, events = bed.snapshot(), len(bed.uevents())
    r = reserve(bed, NVME, {})
    check_error(r, E + "HostCritical", "Reserve of the root file system's controller")
    check("nvme0n1" in r.message and "boot" in r.message, f"the message says what and why: {r.message!r}")
    check_eq(bed.reservations_file(), None, "no file written")
    bed.start_polkit(allowed=[CONFIGURE])
    r = reserve(bed, NVME, {"override": True}, user=NOBODY)
    check_error(r, ACCESS_DENIED, "override without org.passthru1.override")
    check_eq(bed.reservations_file(), None, "still no file")
    bed.polkit_allow(CONFIGURE, OVERRIDE)
    r = reserve(bed, NVME, {"override": True}, user=NOBODY)
    check(r.ok, f"override with both actions: {r}")
    check_eq([a for a, _, _ in reservations(bed)], [NVME], "reserved with override")
    check_same_state(bed.snapshot(), state, "the machine")
    check_eq(len(bed.uevents()), events, "no uevent")


@case()
def reserve_polkit_action_and_details(bed):
    bed.start_polkit(allowed=[])
    bed.polkit_challenge(CONFIGURE)
    r = reserve(bed, GPU, {}, user=NOBODY, interactive=False)
    check_error(r, "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired", "Reserve, no interaction")
    check_eq(bed.reservations_file(), None, "no file after the refusal")
    r = reserve(bed, GPU, {}, user=NOBODY, interactive=True)
    check(r.ok, f"Reserve with interaction allowed: {r}")
    r = unreserve(bed, GPU, user=NOBODY, interactive=True)
    check(r.ok, f"Unreserve with interaction allowed: {r}")
    checks = bed.polkit_checks()
    check_eq([c["action"] for c in checks], [CONFIGURE] * 3, f"the action asked: {checks}")
    check(all(c["details"].get("device") == GPU for c in checks), f"details name the device: {checks}")


@case()
def reserve_refused_by_polkit_changes_nothing(bed):
    check(reserve(bed, AUDIO, {}).ok, "root reserves 26:00.1")
    text = bed.reservations_file()
    bed.start_polkit(allowed=["org.passthru1.device.assign"])
    check_error(reserve(bed, GPU, {}, user=NOBODY), ACCESS_DENIED, "Reserve as nobody without configure")
    check_error(unreserve(bed, AUDIO, user=NOBODY), ACCESS_DENIED, "Unreserve as nobody without configure")
    check_eq(bed.reservations_file(), text, "the file is unchanged")
    r = bed.busctl("get-property", "org.passthru1", "/org/passthru1", "org.passthru1.Manager", "Reservations",
                   user=NOBODY)
    check_eq(r.code, 0, f"anybody reads Reservations: {r}")


@case()
def reserve_keeps_hand_edits_and_skips_bad_lines(bed):
    bed.write_reservations("# mine\n"
                           "0000:99:00.0 10de:1c82 a card I took out\n"
                           "not-an-address 10de:1f82\n"
                           "0000:26:00.1 10de:10fz bad ids\n"
                           "0000:21:00.0 8086:15f3\n")
    r = reserve(bed, GPU, {})
    check(r.ok, f"Reserve with a hand-edited file: {r}")
    check_eq([(a, i) for a, i, _ in reservations(bed)],
             [("0000:21:00.0", "8086:15f3"), (GPU, "10de:1f82"), ("0000:99:00.0", "10de:1c82")],
             "the valid lines and the new one")
    check("bad ids" not in bed.reservations_file(), "malformed lines are dropped when rewritten")
    check(unreserve(bed, "99:00.0").ok, "Unreserve of a function no longer present")
    check_eq([a for a, _, _ in reservations(bed)], ["0000:21:00.0", GPU], "after Unreserve")
    # The daemon reads the file at start, too.
    bed.kill_daemon()
    bed.write_reservations(bed.reservations_file() + "0000:22:00.0 10ec:8168 added by hand\n")
    bed.restart_daemon()
    check_eq([a for a, _, _ in reservations(bed)], ["0000:21:00.0", NIC, GPU], "read at start")
    check_eq(bed.prop(NIC, "Reserved"), True, "Device.Reserved from the file")


@case()
def reserve_unwritable_directory_is_failed(bed):
    # A file where the directory should be: nothing can be written.
    with open(bed.config_dir, "w") as f:
        f.write("")
    state, events = bed.snapshot(), len(bed.uevents())
    r = reserve(bed, GPU, {})
    check(r.error in (E + "Failed",), f"Reserve with an unusable directory: {r}")
    check(bed.config_dir in r.message and "nothing was changed" in r.message, f"message: {r.message!r}")
    check_eq(reservations(bed), [], "no reservation")
    check_eq(bed.prop(GPU, "Reserved"), False, "GPU not reserved")
    check_same_state(bed.snapshot(), state, "the machine")
    check_eq(len(bed.uevents()), events, "no uevent")


@case()
def passthructl_reserve_unreserve_reservations(bed):
    r = bed.ctl("reservations")
    check_eq((r.code, r.out.strip()), (0, "No reservations."), f"passthructl reservations, none: {r}")
    r = bed.ctl("reserve", "26:00.0")
    check_eq(r.code, 0, f"passthructl reserve 26:00.0: {r}")
    check(r.out.startswith(f"Reserved {GPU} (10de:1f82 "), f"what it says: {r.out!r}")
    check("passthructl detach" in r.out, f"it says how to detach now: {r.out!r}")
    check_eq([a for a, _, _ in reservations(bed)], [GPU], "the daemon has it")
    r = bed.ctl("reservations", "--json")
    check_eq(r.code, 0, f"reservations --json: {r}")
    got = r.json()["reservations"]
    check_eq([(g["address"], g["ids"], g["present"], g["driver"]) for g in got], [(GPU, "10de:1f82", True, "nvidia")],
             f"reservations --json: {got}")
    r = bed.ctl("reserve", "01:00.0")
    check_eq(r.code, 1, f"reserve of the root disk's controller fails: {r}")
    check(E + "HostCritical" in r.err, f"with the daemon's error: {r.err!r}")
    r = bed.ctl("reserve", "group", "16")
    check_eq(r.code, 2, f"reserve group N is a usage error: {r}")
    r = bed.ctl("unreserve", "26:00.1")
    check_eq(r.code, 1, f"unreserve of what is not reserved: {r}")
    check(E + "NotReserved" in r.err, f"with the daemon's error: {r.err!r}")
    r = bed.ctl("unreserve", GPU, "--json")
    check_eq(r.code, 0, f"unreserve --json: {r}")
    check_eq(r.json(), {"unreserved": GPU}, "unreserve --json")
    check_eq(reservations(bed), [], "none left")


# ---------------------------------------------------------------------------------------------
# --apply-reservations, as at boot

@case(boot=True)
def boot_applies_reservations_then_reattach_returns_them(bed):
    before = bed.snapshot()
    bed.write_reservations(f"{GPU} 10de:1f82 GTX 1650\n{AUDIO} 10de:10fa its audio\n")
    code, log = bed.apply_reservations()
    check_eq(code, 0, f"--apply-reservations exit status; log:\n{log}")
    devices = state_devices(bed.snapshot())
    check_eq(devices[GPU], ("vfio-pci", "vfio-pci"), "the GPU on vfio-pci, by driver_override")
    check_eq(devices[AUDIO], ("vfio-pci", "vfio-pci"), "its audio on vfio-pci")
    others = {a: d for a, d in state_devices(before).items() if a not in (GPU, AUDIO)}
    check_eq({a: devices[a] for a in others}, others, "no other function touched")
    check("vfio 16" in bed.snapshot().splitlines(), "/dev/vfio/16 exists")
    check_eq(bed.journals(), [], "no journal left")

    bed.start_deferred()
    check_eq(bed.prop(GPU, "State"), "vfio", "the daemon sees the GPU on vfio-pci")
    check_eq(bed.prop(GPU, "Reserved"), True, "and reserved")
    check_eq(bed.prop(GPU, "HostDriver"), "nvidia", "its host driver is the one it had at boot")
    r = bed.method("/org/passthru1/group/16", "org.passthru1.Group", "Reattach", "a{sv}", "0")
    check(r.ok, f"Reattach group 16: {r}")
    check_same_state(bed.snapshot(), before, "after Reattach: as before the boot step", ignore_modules=VFIO_MODULES)
    check_eq(bed.prop(GPU, "Reserved"), True, "still reserved for the next boot")


@case(boot=True)
def boot_skips_moved_cards_absent_ones_and_bridges(bed):
    before = bed.snapshot()
    bed.write_reservations(f"{GPU} 10de:2184 a GTX 1660 that was here before\n"
                           "0000:99:00.0 10de:1c82 a card taken out\n"
                           f"{BRIDGE} 1022:1483 a bridge\n")
    code, log = bed.apply_reservations()
    check_eq(code, 0, f"nothing to do is success; log:\n{log}")
    check_same_state(bed.snapshot(), before, "nothing changed")
    check("10de:1f82 now, not the 10de:2184" in log, f"the log says the ids differ: {log}")
    check("0000:99:00.0" in log and "not present" in log, f"the log names the absent card: {log}")
    check("bridge" in log, f"the log names the bridge: {log}")


@case(listing=lambda: listing_with_cmdline("passthru.disable=1"), boot=True)
def boot_with_passthru_disable_leaves_everything_to_the_host(bed):
    before = bed.snapshot()
    bed.write_reservations(f"{GPU} 10de:1f82\n{AUDIO} 10de:10fa\n")
    code, log = bed.apply_reservations()
    check_eq(code, 0, f"exit status; log:\n{log}")
    check("passthru.disable" in log, f"the log says why: {log}")
    check_same_state(bed.snapshot(), before, "nothing changed")


@case(boot=True)
def boot_step_failure_leaves_the_group_to_the_host(bed):
    before = bed.snapshot()
    bed.write_reservations(f"{GPU} 10de:1f82\n{AUDIO} 10de:10fa\n")
    bed.fault(f"drivers_probe {AUDIO} errno EIO")
    code, log = bed.apply_reservations()
    check_eq(code, 1, f"a failure is the unit's failure; log:\n{log}")
    check_same_state(bed.snapshot(), before, "group 16 back on its host drivers, vfio_pci unloaded")
    check_eq(bed.journals(), [], "no journal left")
    check("Input/output error" in log, f"the log says what failed: {log}")


@case(boot=True)
def boot_never_takes_the_root_disk_controller(bed):
    before = bed.snapshot()
    bed.write_reservations(f"{NVME} 2646:5017 reserved with override\n{AUDIO} 10de:10fa\n")
    code, log = bed.apply_reservations()
    check_eq(code, 1, f"refusing a reservation is a failure; log:\n{log}")
    devices = state_devices(bed.snapshot())
    check_eq(devices[NVME], state_devices(before)[NVME], "the NVMe stays")
    check_eq(devices[AUDIO], ("vfio-pci", "vfio-pci"), "the other reservation is applied")
    check("nvme0n1" in log, f"the log says why: {log}")


@case(boot=True)
def boot_with_no_file_does_nothing(bed):
    before = bed.snapshot()
    code, log = bed.apply_reservations()
    check_eq(code, 0, f"exit status; log:\n{log}")
    check_same_state(bed.snapshot(), before, "nothing changed")
    check_eq(bed.journals(), [], "no journal")


if __name__ == "__main__":
    sys.exit(CASES.main(sys.argv[1:]))
