#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Bus-level cases of Detach/Reattach: the real passthrud on the simulated AMD Matisse machine
(tests/fixtures/amd-matisse-gtx1650.txt), driven through busctl and passthructl as a user would,
the machine's state compared through pcisim's /sys/kernel/pcisim/state. One meson test per case
(`cases_vfio.py --list` names them); `cases_vfio.py NAME` runs one and prints the daemon's log if
it fails.

Decisions the cases rely on:
- Modules: a Detach loads vfio_pci (with vfio and vfio_iommu_type1) when missing; a successful
  Reattach leaves it loaded (it is not the transaction's to unload), so after a round trip "as
  before" is the whole snapshot except the "module" lines of VFIO_MODULES; every device line
  (driver and override), /dev/vfio/N, framebuffer and class-node line must match, and vfio_pci must
  still be there. The undo of a failed, stuck-then-released or killed transaction unloads the
  modules that transaction loaded (passthrud(8)), so those cases compare the whole snapshot, module
  lines included. Module removal happens only there: the `unload … errno EAGAIN` cases make that
  removal fail (undo_unload_*), round_trip_removes_no_module checks that a successful round trip
  removes none.
- Holders: passthrud finds the processes holding /dev/vfio/N and /dev/dri/* by the path their
  descriptors show, in every mount namespace, so a holder in one case's simulated machine is seen
  by the daemons of cases running at the same time. The cases that hold nodes are listed by
  `--list-exclusive` and meson runs them alone (is_parallel: false).
- Hangs: StepTimeoutSec=1 in the hang cases; the others use the harness's 2 s (a daemon that hangs
  fails fast instead of after the default 10 s); the kill cases use 5 s so the daemon is killed
  well before its deadline.
"""

import os
import re
import signal
import sys
import time

from harness import (STOCK, VFIO_MODULES, BusMonitor, Cases, Failure, check, check_eq, check_error, check_same_state,
                     pid_alive, state_devices)

CASES = Cases(STOCK)
case = CASES.case


GPU, AUDIO = "0000:26:00.0", "0000:26:00.1"
NVME = "0000:01:00.0"
NIC_ROUTE, NIC_OTHER = "0000:22:00.0", "0000:21:00.0"
AMD_AUDIO, AMD_USB, CCP = "0000:28:00.4", "0000:28:00.3", "0000:28:00.1"
BRIDGE = "0000:00:01.1"
NOBODY = "65534"
ASSIGN, OVERRIDE = "org.passthru1.device.assign", "org.passthru1.override"

E = "org.passthru1.Error."
ACCESS_DENIED = "org.freedesktop.DBus.Error.AccessDenied"
INTERACTIVE_REQUIRED = "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired"
INVALID_ARGS = "org.freedesktop.DBus.Error.InvalidArgs"
UNKNOWN_OBJECT = "org.freedesktop.DBus.Error.UnknownObject"

ERRNO_TEXT = {"ENODEV": "No such device", "EBUSY": "Device or resource busy", "EINVAL": "Invalid argument",
              "EIO": "Input/output error"}

# The steps of a Detach of group 16 from the boot state (vfio_pci not loaded), as
# (step, pcisim fault OP, fault target). Order within a function as the contract says.
DETACH_16 = [
    ("load-module", "load", "vfio_pci"),
    ("set-override", "driver_override", GPU),
    ("unbind", "unbind", GPU),
    ("probe", "drivers_probe", GPU),
    ("set-override", "driver_override", AUDIO),
    ("unbind", "unbind", AUDIO),
    ("probe", "drivers_probe", AUDIO),
]
# The steps of a Reattach of group 16 after the Detach, with the nvidia module unloaded meanwhile
# so that the reattach has a load-module step too.
REATTACH_16 = [
    ("clear-override", "driver_override", GPU),
    ("unbind", "unbind", GPU),
    ("load-module", "load", "nvidia"),
    ("probe", "drivers_probe", GPU),
    ("clear-override", "driver_override", AUDIO),
    ("unbind", "unbind", AUDIO),
    ("probe", "drivers_probe", AUDIO),
]


def short(address):
    return address[5:] if address.startswith("0000:") else address


def slug(target):
    return re.sub(r"[^a-z0-9]+", "_", short(target).lower()).strip("_")


def names_target(text, target):
    """Whether a message/description names a function (long or short address) or a module (- or _)."""
    return any(t in text for t in {target, short(target), target.replace("_", "-")})


# ---------------------------------------------------------------------------------------------
# helpers

def check_ok(reply, what):
    check(reply.ok, f"{what}: {reply}")
    return reply.steps()


def step_ids(steps):
    return [s for s, _ in steps]


def find_step(steps, step, target, what):
    for s, d in steps:
        if s == step and names_target(d, target):
            return d
    raise Failure(f"{what}: no step {step} for {target} in {steps}")


def unchanged_devices(before, after, except_addresses):
    b, a = state_devices(before), state_devices(after)
    for addr in b:
        if addr not in except_addresses:
            check_eq(a.get(addr), b[addr], f"{addr} is left alone")


def check_detached(bed, state, group, addresses):
    devs = state_devices(state)
    for a in addresses:
        check_eq(devs.get(a), ("vfio-pci", "vfio-pci"), f"{a} on vfio-pci with the override set")
    check(f"vfio {group}" in state.splitlines(), f"/dev/vfio/{group} exists:\n{state}")
    check_eq(bed.prop(group, "Owner"), "vfio", f"group {group} Owner")
    check_eq(bed.prop(group, "Viable"), True, f"group {group} Viable")
    check_eq(bed.prop(group, "State"), "idle", f"group {group} State")
    for a in addresses:
        check_eq(bed.prop(a, "Driver"), "vfio-pci", f"{a} Driver")
        check_eq(bed.prop(a, "State"), "vfio", f"{a} State")


def check_host_properties(bed, group, drivers):
    check_eq(bed.prop(group, "State"), "idle", f"group {group} State")
    for a, d in drivers.items():
        check_eq(bed.prop(a, "Driver"), d, f"{a} Driver")
        want = "vfio" if d == "vfio-pci" else "host"
        check_eq(bed.prop(a, "State"), want, f"{a} State")


def driver_props(bed, addresses):
    return {a: bed.prop(a, "Driver") for a in addresses}


def fault_line(op, target, kind):
    return f"{op} {target} hang" if kind == "hang" else f"{op} {target} errno {kind}"


def check_failed_message(reply, step, target, description, errno):
    check_error(reply, E + "Failed", f"{step} of {target} failing with {errno}")
    m = reply.message or ""
    check(step in m or description in m, f"Failed names the step ({step} / {description!r}): {m!r}")
    check(names_target(m, target), f"Failed names {target}: {m!r}")
    check(ERRNO_TEXT[errno] in m, f"Failed gives the kernel's answer ({ERRNO_TEXT[errno]!r}): {m!r}")


def prepare_reattach_16(bed):
    """Group 16 detached, then the nvidia module unloaded (it drives nothing then), so that a
    reattach has every kind of step."""
    check_ok(bed.detach(16), "detach 16")
    bed.control_file("unload_module", "nvidia")
    state = bed.snapshot()
    check("module nvidia " not in state, f"nvidia unloaded:\n{state}")
    return state


def busctl_timeout_ok(t0, limit, what):
    took = time.monotonic() - t0
    check(took < limit, f"{what} took {took:.1f} s (limit {limit} s)")


# ---------------------------------------------------------------------------------------------
# round trips, dry-run, idempotence

def round_trip(bed, group, addresses, detach_steps):
    start = bed.snapshot()
    drivers = driver_props(bed, addresses)
    steps = check_ok(bed.detach(group), f"detach {group}")
    check_eq(step_ids(steps), detach_steps, f"steps of detach {group} ({steps})")
    for a in addresses:
        for s in ("set-override", "unbind", "probe"):
            find_step(steps, s, a, f"detach {group}")
    detached = bed.snapshot()
    check_detached(bed, detached, group, addresses)
    unchanged_devices(start, detached, addresses)
    check_eq(bed.journals(), [], "no journal once the detach is done")

    steps = check_ok(bed.reattach(group), f"reattach {group}")
    check_eq(step_ids(steps), ["clear-override", "unbind", "probe"] * len(addresses), f"steps of reattach {group}")
    end = bed.snapshot()
    # vfio_pci (and what it needs) stays loaded: see the module's docstring.
    check_same_state(end, start, f"after detach + reattach of group {group}", ignore_modules=VFIO_MODULES)
    check("module vfio_pci " in end, "vfio_pci is still loaded (nothing unloads modules)")
    check_eq(bed.prop(group, "Owner"), "host", f"group {group} Owner")
    check_host_properties(bed, group, drivers)
    check_eq(bed.journals(), [], "no journal once the reattach is done")


@case()
def round_trip_group_16_gtx1650(bed):
    round_trip(bed, 16, [GPU, AUDIO], [s for s, _, _ in DETACH_16])
    check_eq(bed.prop(GPU, "HostDriver"), "nvidia", "HostDriver of the GPU")
    check_eq(bed.prop(GPU, "State", "org.passthru1.Gpu"), "host", "Gpu State")


@case()
def round_trip_group_21_amd_audio(bed):
    round_trip(bed, 21, [AMD_AUDIO], ["load-module", "set-override", "unbind", "probe"])
    # the GTX 1650's audio, on the same driver, was left alone (checked by the snapshot as well)
    check_eq(bed.prop(AUDIO, "Driver"), "snd_hda_intel", "26:00.1 Driver")


@case()
def round_trip_group_20_amd_usb(bed):
    round_trip(bed, 20, [AMD_USB], ["load-module", "set-override", "unbind", "probe"])
    check_eq(bed.prop("03:00.0", "Driver"), "xhci_hcd", "the chipset's xHCI on the same driver")


@case()
def round_trip_group_15_chipset_bridges_stay(bed):
    """Group 15: xHCI, SATA and two NICs, and five bridges that stay on pcieport."""
    endpoints = ["0000:03:00.0", "0000:03:00.1", NIC_OTHER, NIC_ROUTE]
    bridges = ["0000:03:00.2", "0000:20:00.0", "0000:20:01.0", "0000:20:04.0"]
    start = bed.snapshot()
    steps = check_ok(bed.detach(15), "detach 15")
    for b in bridges:
        check(not any(names_target(d, b) for _, d in steps), f"no step for the bridge {b}: {steps}")
    state = bed.snapshot()
    check_detached(bed, state, 15, endpoints)
    for b in bridges:
        check_eq(state_devices(state)[b], ("pcieport", "-"), f"the bridge {b} stays on pcieport")
    check_ok(bed.reattach(15), "reattach 15")
    check_same_state(bed.snapshot(), start, "after detach + reattach of group 15", ignore_modules=VFIO_MODULES)


@case()
def round_trip_group_17_driverless_function_stays_driverless(bed):
    """27:00.0 has no driver and no module matches it: Reattach leaves it without one."""
    start = bed.snapshot()
    check_eq(state_devices(start)["0000:27:00.0"], ("-", "-"), "27:00.0 has no driver")
    check_ok(bed.detach(17), "detach 17")
    check_detached(bed, bed.snapshot(), 17, ["0000:27:00.0"])
    check_eq(bed.prop("27:00.0", "HostDriver"), "", "HostDriver")
    steps = check_ok(bed.reattach(17), "reattach 17")
    check("load-module" not in step_ids(steps), f"no module to load: {steps}")
    check_same_state(bed.snapshot(), start, "after the round trip", ignore_modules=VFIO_MODULES)
    check_eq(bed.prop("27:00.0", "Driver"), "", "Driver")


@case()
def round_trip_several_groups_together(bed):
    """16, 21 and 20 detached one after the other, then reattached in another order."""
    start = bed.snapshot()
    for g in (16, 21, 20):
        check_ok(bed.detach(g), f"detach {g}")
    state = bed.snapshot()
    for g, addrs in ((16, [GPU, AUDIO]), (21, [AMD_AUDIO]), (20, [AMD_USB])):
        check_detached(bed, state, g, addrs)
    for g in (21, 16, 20):
        check_ok(bed.reattach(g), f"reattach {g}")
    check_same_state(bed.snapshot(), start, "after detaching and reattaching 16, 21, 20",
                     ignore_modules=VFIO_MODULES)


@case()
def round_trip_device_26_00_1_alone(bed):
    start = bed.snapshot()
    steps = check_ok(bed.detach(AUDIO), "Device.Detach 26:00.1")
    check_eq(step_ids(steps), ["load-module", "set-override", "unbind", "probe"], f"steps ({steps})")
    state = bed.snapshot()
    check_eq(state_devices(state)[AUDIO], ("vfio-pci", "vfio-pci"), "26:00.1 on vfio-pci")
    unchanged_devices(start, state, [AUDIO])
    check_eq(bed.prop(16, "Owner"), "mixed", "group 16 Owner")
    check_eq(bed.prop(16, "Viable"), False, "group 16 Viable (the GPU is on nvidia)")
    steps = check_ok(bed.reattach(AUDIO), "Device.Reattach 26:00.1")
    check_eq(step_ids(steps), ["clear-override", "unbind", "probe"], f"steps ({steps})")
    check_same_state(bed.snapshot(), start, "after Device.Detach + Device.Reattach", ignore_modules=VFIO_MODULES)


@case()
def reattach_loads_the_recorded_host_module(bed):
    start = bed.snapshot()
    prepare_reattach_16(bed)
    steps = check_ok(bed.reattach(16), "reattach 16")
    d = find_step(steps, "load-module", "nvidia", "reattach 16 with nvidia unloaded")
    check_eq(step_ids(steps), [s for s, _, _ in REATTACH_16], f"steps ({steps}; load: {d})")
    check_same_state(bed.snapshot(), start, "after the reattach", ignore_modules=VFIO_MODULES)


@case()
def round_trip_removes_no_module(bed):
    """The brief's `unload … errno EAGAIN` faults: no step of a detach or reattach removes a
    module, so they never fire (were one to, the operation would fail)."""
    faults = [f"unload {m} errno EAGAIN" for m in ("vfio_pci", "vfio", "vfio_iommu_type1", "nvidia", "snd_hda_intel")]
    bed.fault(*faults)
    start = bed.snapshot()
    check_ok(bed.detach(16), "detach 16")
    check_ok(bed.reattach(16), "reattach 16")
    check_same_state(bed.snapshot(), start, "after detach + reattach", ignore_modules=VFIO_MODULES)
    check_eq(sorted(bed.faults()), sorted(faults), "the unload faults are all still pending")


def check_undo_unload_refused(bed, before, call, operation, failing, module, loaded_too):
    bed.fault(failing, f"unload {module} errno EAGAIN")
    reply = call(16)
    check_error(reply, E + "Failed", f"{operation} 16 with '{failing}'")
    m = reply.message or ""
    check(ERRNO_TEXT["EIO"] in m, f"the message gives the step's failure: {m!r}")
    check(module in m and "Resource temporarily unavailable" in m,
          f"the message says the undo could not unload {module}: {m!r}")
    check_eq(bed.faults(), [], "both faults fired: the undo tried to remove the module")
    after = bed.snapshot()
    # Every function is back; the module the kernel refused to remove (and, for vfio_pci, what it
    # holds) is the only difference.
    check_same_state(after, before, f"after the undo of {operation} 16", ignore_modules=(module,) + loaded_too)
    check(f"module {module} " in after, f"{module} is still loaded:\n{after}")
    check_eq(bed.journals(), [], "no journal left")
    check_eq(bed.prop(16, "State"), "idle", "group State")
    check_ok(call(16), f"{operation} 16 afterwards")


@case()
def detach_16_undo_unload_vfio_pci_eagain(bed):
    """The only module removal: the undo of a detach that loaded vfio_pci. The kernel refuses it."""
    check_undo_unload_refused(bed, bed.snapshot(), bed.detach, "detach", f"drivers_probe {AUDIO} errno EIO",
                              "vfio_pci", ("vfio", "vfio_iommu_type1"))


@case()
def reattach_16_undo_unload_nvidia_eagain(bed):
    """The undo of a reattach that loaded nvidia; the kernel refuses to remove it."""
    before = prepare_reattach_16(bed)
    check_undo_unload_refused(bed, before, bed.reattach, "reattach", f"drivers_probe {AUDIO} errno EIO",
                              "nvidia", ())


@case()
def dry_run_detach_changes_nothing_and_returns_the_plan(bed):
    start, events = bed.snapshot(), len(bed.uevents())
    plan = check_ok(bed.detach(16, {"dry-run": True}), "dry-run detach 16")
    check_eq(step_ids(plan), [s for s, _, _ in DETACH_16], f"the plan ({plan})")
    check_same_state(bed.snapshot(), start, "after a dry-run")  # strict: not even vfio_pci loaded
    check_eq(len(bed.uevents()), events, "no uevent")
    check_eq(bed.journals(), [], "no journal")
    check_eq(bed.prop(16, "Owner"), "host", "Owner")
    plan_dev = check_ok(bed.detach(AUDIO, {"dry-run": True}), "dry-run Device.Detach 26:00.1")
    check_eq(step_ids(plan_dev), ["load-module", "set-override", "unbind", "probe"], f"device plan ({plan_dev})")
    check_same_state(bed.snapshot(), start, "after a device dry-run")
    steps = check_ok(bed.detach(16, {"dry-run": False}), "detach 16 (dry-run false)")
    check_eq(steps, plan, "the steps done are the plan")


@case()
def dry_run_reattach_changes_nothing_and_returns_the_plan(bed):
    detached = prepare_reattach_16(bed)
    events = len(bed.uevents())
    plan = check_ok(bed.reattach(16, {"dry-run": True}), "dry-run reattach 16")
    check_eq(step_ids(plan), [s for s, _, _ in REATTACH_16], f"the plan ({plan})")
    check_same_state(bed.snapshot(), detached, "after a dry-run reattach")
    check_eq(len(bed.uevents()), events, "no uevent")
    check_eq(bed.journals(), [], "no journal")
    steps = check_ok(bed.reattach(16), "reattach 16")
    check_eq(steps, plan, "the steps done are the plan")


@case()
def repeated_detach_is_unchanged_only(bed):
    check_ok(bed.detach(16), "first detach")
    state, events = bed.snapshot(), len(bed.uevents())
    for target in (16, GPU, AUDIO):
        steps = check_ok(bed.detach(target), f"detach {target} again")
        check(steps and set(step_ids(steps)) == {"unchanged"}, f"only unchanged steps: {steps}")
    steps = check_ok(bed.detach(16), "detach 16 again")
    check_eq(len(steps), 2, f"one unchanged step per function: {steps}")
    check(names_target(steps[0][1] + steps[1][1], GPU) and names_target(steps[0][1] + steps[1][1], AUDIO),
          f"the steps name both functions: {steps}")
    check_same_state(bed.snapshot(), state, "after repeated detaches")
    check_eq(len(bed.uevents()), events, "no uevent")


@case()
def repeated_reattach_is_unchanged_only(bed):
    start, events = bed.snapshot(), len(bed.uevents())
    for target in (16, GPU, AUDIO, 21):
        steps = check_ok(bed.reattach(target), f"reattach {target} on the host already")
        check(steps and set(step_ids(steps)) == {"unchanged"}, f"only unchanged steps: {steps}")
    check_same_state(bed.snapshot(), start, "after reattaching what is on the host")
    check_eq(len(bed.uevents()), events, "no uevent")


class ProgressMonitor(BusMonitor):
    """gdbus monitor on a group's object: its Progress signals as (step, description)."""

    def __init__(self, bed, group):
        super().__init__(bed, f"/org/passthru1/group/{group}")

    def signals(self, n):
        seen = []
        while len(seen) < n:
            m = re.search(r"org\.passthru1\.Group\.Progress \((['\"])(.*?)\1, (['\"])(.*)\3\)$", self.line().strip())
            if m:
                seen.append((m.group(2), m.group(4)))
        return seen



@case()
def progress_signal_before_each_step(bed):
    mon = ProgressMonitor(bed, 16)
    try:
        steps = check_ok(bed.detach(16), "detach 16")
        check_eq(mon.signals(len(steps)), steps, "a Progress signal for each step, in order")
    finally:
        mon.close()


@case()
def progress_signal_rollback_on_failure(bed):
    plan = check_ok(bed.detach(16, {"dry-run": True}), "the plan")
    mon = ProgressMonitor(bed, 16)
    try:
        bed.fault(f"drivers_probe {AUDIO} errno EIO")
        check_error(bed.detach(16), E + "Failed", "detach 16 with the last probe failing")
        check_eq(mon.signals(len(plan)), plan, "Progress for each step up to the failing one")
        step, description = mon.signals(1)[0]
        check_eq(step, "rollback", f"then Progress rollback ({description!r})")
    finally:
        mon.close()


# ---------------------------------------------------------------------------------------------
# faults at each step

def make_fault_case(operation, step, op, target, kind):
    hang = kind == "hang"

    def fn(bed):
        if operation == "detach":
            before = bed.snapshot()
            call = bed.detach
        else:
            before = prepare_reattach_16(bed)
            call = bed.reattach
        drivers = driver_props(bed, [GPU, AUDIO])
        plan = check_ok(call(16, {"dry-run": True}), f"dry-run {operation}")
        description = find_step(plan, step, target, f"the plan of {operation} 16")
        line = fault_line(op, target, kind)
        bed.fault(line)
        t0 = time.monotonic()
        reply = call(16, timeout=25)
        took = time.monotonic() - t0
        check(line not in bed.faults(), f"the fault '{line}' fired (the step ran)")

        if not hang:
            check_failed_message(reply, step, target, description, kind)
        else:
            check_error(reply, E + "Stuck", f"{operation} with {step} of {target} hanging")
            check(1.0 <= took < 6, f"Stuck after the 1 s deadline, took {took:.1f} s")
            check(reply.message, "Stuck comes with advice")
            check_eq(bed.prop(16, "State"), "stuck", "group State while the write hangs")
            kernel = state_devices(bed.snapshot())
            for a in (GPU, AUDIO):
                want = "" if kernel[a][0] == "-" else kernel[a][0]
                check_eq(bed.prop(a, "Driver"), want, f"{a} Driver follows the kernel while the write hangs")
            if target.startswith("0000:"):
                check_eq(bed.prop(target, "State"), "stuck", f"{target} State while its write hangs")
            # the bus keeps answering; the group refuses operations
            t1 = time.monotonic()
            bed.managed_objects()
            busctl_timeout_ok(t1, 2, "GetManagedObjects while a write hangs")
            for other in (bed.detach, bed.reattach):
                t1 = time.monotonic()
                r = other(16, timeout=10)
                check_error(r, E + "Stuck", f"{other.__name__} of the stuck group 16")
                busctl_timeout_ok(t1, 2, "the refusal")
            r = bed.detach(AUDIO if target != AUDIO else GPU, timeout=10)
            check_error(r, E + "Stuck", "Device.Detach of a function of the stuck group")
            check_ok(bed.detach(21, {"dry-run": True}), "another group is served meanwhile")
            bed.release()
            bed.wait_for(lambda: bed.prop(16, "State") == "idle", "group 16 to return to idle after release", 15)

        # Strict, module lines included: the undo unloads what the transaction loaded.
        check_same_state(bed.snapshot(), before, f"after {operation} failed at {step} of {target}")
        check_eq(bed.journals(), [], "the journal is removed")
        check_host_properties(bed, 16, drivers)
        # Nothing is left behind: the same operation, without the fault, goes through.
        check_ok(call(16), f"{operation} 16 once the fault is gone")

    fn.__name__ = f"{operation}_16_fault_{step.replace('-', '_')}_{slug(target)}_{kind.lower()}"
    return fn


for _operation, _steps in (("detach", DETACH_16), ("reattach", REATTACH_16)):
    for _step, _op, _target in _steps:
        for _kind in ("ENODEV", "EBUSY", "EINVAL", "EIO", "hang"):
            _fn = make_fault_case(_operation, _step, _op, _target, _kind)
            case(step_timeout=1)(_fn)


@case(step_timeout=1)
def detach_16_undo_hangs_too_then_finishes_after_release(bed):
    """A step hangs (Stuck); once the kernel returns the daemon undoes, and a write of the undo
    hangs as well: the group stays stuck until that one returns too, then ends as it started."""
    start = bed.snapshot()
    bed.fault(f"drivers_probe {AUDIO} hang")
    check_error(bed.detach(16), E + "Stuck", "detach 16 with the last probe hanging")
    undo_hang = f"unbind {GPU} hang"  # the undo unbinds the GPU from vfio-pci
    bed.fault(undo_hang)
    bed.release()
    bed.wait_fault_fired(undo_hang)
    bed.wait_for(lambda: bed.prop(GPU, "State") == "stuck", "26:00.0 to be stuck in the undo's unbind", 10)
    check_eq(bed.prop(16, "State"), "stuck", "group State while the undo hangs")
    check_error(bed.detach(16, timeout=10), E + "Stuck", "detach 16 while the undo hangs")
    check_eq(bed.journals(), ["group-16.journal"], "the journal stays while the undo is unfinished")
    bed.release()
    bed.wait_for(lambda: bed.prop(16, "State") == "idle", "group 16 to return to idle", 15)
    check_same_state(bed.snapshot(), start, "after the undo finished")
    check_eq(bed.journals(), [], "no journal")
    check_host_properties(bed, 16, {GPU: "nvidia", AUDIO: "snd_hda_intel"})


# ---------------------------------------------------------------------------------------------
# the daemon killed during each step

def make_kill_case(operation, step, op, target, first):
    def fn(bed):
        if operation == "detach":
            before = bed.snapshot()
            call = bed.detach_async
        else:
            before = prepare_reattach_16(bed)
            call = bed.reattach_async
        line = fault_line(op, target, "hang")
        bed.fault(line)
        pending = call(16, timeout=30)
        bed.wait_fault_fired(line, pending)
        # Every step before this one is done (each fault fires once, on this step's write).
        check_eq(bed.journals(), ["group-16.journal"], "the transaction is journaled while it runs")
        journal = open(os.path.join(bed.runtime_dir, "group-16.journal")).read()
        check(GPU in journal and AUDIO in journal, f"the journal names the group's functions: {journal[:400]!r}")
        if not first:
            check(bed.snapshot() != before, "steps were done before this one (something to undo)")
        helpers = bed.daemon_children()
        bed.kill_daemon(signal.SIGKILL)
        reply = pending.result(10)
        check(not reply.ok, f"the caller gets no success from a killed daemon: {reply}")
        bed.release()
        # A helper left behind finishes its released write and exits.
        bed.wait_for(lambda: not any(pid_alive(p) for p in helpers), f"the daemon's helpers {helpers} to exit", 10)
        bed.restart_daemon()
        # The name is taken only after the journal was reconciled: compare at once.
        check_same_state(bed.snapshot(), before, f"after killing the daemon during {step} of {target} "
                         f"({operation}) and starting it again")
        check_eq(bed.journals(), [], "the journal is empty")
        check_eq(bed.prop(16, "State"), "idle", "group State")
        check_ok(call(16).result(20), f"{operation} 16 with the restarted daemon")

    fn.__name__ = f"{operation}_16_killed_during_{step.replace('-', '_')}_{slug(target)}"
    return fn


for _operation, _steps in (("detach", DETACH_16), ("reattach", REATTACH_16)):
    for _i, (_step, _op, _target) in enumerate(_steps):
        case(step_timeout=5)(make_kill_case(_operation, _step, _op, _target, _i == 0))


@case(step_timeout=1)
def detach_16_killed_during_the_undo(bed):
    """The daemon dies while undoing a failed detach (a write of the undo hanging): started again,
    it finishes that undo from the journal."""
    start = bed.snapshot()
    bed.fault(f"drivers_probe {AUDIO} hang")
    check_error(bed.detach(16), E + "Stuck", "detach 16 with the last probe hanging")
    undo_hang = f"unbind {GPU} hang"
    bed.fault(undo_hang)
    bed.release()
    bed.wait_fault_fired(undo_hang)
    check_eq(bed.journals(), ["group-16.journal"], "the undo is journaled")
    helpers = bed.daemon_children()
    bed.kill_daemon(signal.SIGKILL)
    bed.release()
    bed.wait_for(lambda: not any(pid_alive(p) for p in helpers), f"the daemon's helpers {helpers} to exit", 10)
    bed.restart_daemon()
    check_same_state(bed.snapshot(), start, "after the restarted daemon finished the undo")
    check_eq(bed.journals(), [], "no journal")
    check_eq(bed.prop(16, "State"), "idle", "group State")


@case()
def restart_with_empty_journal_changes_nothing(bed):
    check_ok(bed.detach(21), "detach 21")
    state = bed.snapshot()
    bed.kill_daemon(signal.SIGKILL)
    bed.restart_daemon()
    check_same_state(bed.snapshot(), state, "a finished detach survives a restart")
    check_eq(bed.prop(21, "Owner"), "vfio", "group 21 Owner")
    check_eq(bed.prop(AMD_AUDIO, "HostDriver"), "snd_hda_intel", "HostDriver remembered (host-drivers)")
    check_ok(bed.reattach(21), "reattach 21 after the restart")
    check_eq(state_devices(bed.snapshot())[AMD_AUDIO], ("snd_hda_intel", "-"), "28:00.4 back on snd_hda_intel")


# ---------------------------------------------------------------------------------------------
# concurrency

@case(step_timeout=5)
def concurrent_detach_same_group_second_is_busy(bed):
    line = f"unbind {GPU} hang"
    bed.fault(line)
    first = bed.detach_async(16)
    bed.wait_fault_fired(line, first)
    check_eq(bed.prop(16, "State"), "busy", "group 16 State while the first detach runs")
    for target, what in ((16, "Group.Detach"), (AUDIO, "Device.Detach 26:00.1")):
        t0 = time.monotonic()
        r = bed.detach(target, timeout=10)
        check_error(r, E + "Busy", f"a second {what} of group 16 while the first runs")
        busctl_timeout_ok(t0, 1.5, "Busy comes at once")
    r = bed.reattach(16, timeout=10)
    check_error(r, E + "Busy", "a Reattach of group 16 while the detach runs")
    check(first.running(), "the first detach still runs")
    bed.release()
    steps = check_ok(first.result(20), "the first detach")
    check_eq(step_ids(steps), [s for s, _, _ in DETACH_16], "its steps")
    check_detached(bed, bed.snapshot(), 16, [GPU, AUDIO])


@case(step_timeout=5)
def concurrent_detach_different_groups_both_succeed(bed):
    start = bed.snapshot()
    line = f"unbind {GPU} hang"
    bed.fault(line)
    first = bed.detach_async(16)
    bed.wait_fault_fired(line, first)
    t0 = time.monotonic()
    check_ok(bed.detach(21, timeout=10), "detach 21 while 16's detach runs")
    busctl_timeout_ok(t0, 2, "detach 21 does not wait for group 16")
    check(first.running(), "16's detach still runs")
    bed.release()
    check_ok(first.result(20), "detach 16")
    state = bed.snapshot()
    check_detached(bed, state, 16, [GPU, AUDIO])
    check_detached(bed, state, 21, [AMD_AUDIO])
    unchanged_devices(start, state, [GPU, AUDIO, AMD_AUDIO])


# ---------------------------------------------------------------------------------------------
# polkit

def mutating_calls(bed, user, **kw):
    """One mutating call per group (a group with a call pending could answer Busy to the next):
    Detach of 16, Device.Detach of 28:00.3 (20), Detach with override of 14, Reattach of 21 and
    Device.Reattach of 28:00.1 (19), both detached by root beforehand, and Manager.Rescan."""
    return [
        ("Group.Detach 16", lambda: bed.detach(16, user=user, **kw)),
        ("Device.Detach 28:00.3", lambda: bed.detach(AMD_USB, user=user, **kw)),
        ("Group.Detach 14 override", lambda: bed.detach(14, {"override": True}, user=user, **kw)),
        ("Group.Reattach 21", lambda: bed.reattach(21, user=user, **kw)),
        ("Device.Reattach 28:00.1", lambda: bed.reattach(CCP, user=user, **kw)),
        ("Manager.Rescan", lambda: bed.method("/org/passthru1", "org.passthru1.Manager", "Rescan", user=user, **kw)),
    ]


def mutating_calls_async(bed, user):
    return [
        ("Group.Detach 16", bed.detach_async(16, user=user)),
        ("Device.Detach 28:00.3", bed.detach_async(AMD_USB, user=user)),
        ("Group.Detach 14 override", bed.detach_async(14, {"override": True}, user=user)),
        ("Group.Reattach 21", bed.reattach_async(21, user=user)),
        ("Device.Reattach 28:00.1", bed.reattach_async(CCP, user=user)),
        ("Manager.Rescan", bed.method_async("/org/passthru1", "org.passthru1.Manager", "Rescan", user=user)),
    ]


def prepare_polkit(bed):
    for t in (21, CCP):
        check_ok(bed.detach(t), f"root detaches {t}")
    return bed.snapshot(), len(bed.uevents())


def check_nothing_written(bed, state, events, what):
    check_same_state(bed.snapshot(), state, what)
    check_eq(len(bed.uevents()), events, f"{what}: no uevent")
    check_eq(bed.journals(), [], f"{what}: no journal")


@case()
def polkit_deny_all_refuses_every_mutating_call(bed):
    state, events = prepare_polkit(bed)
    bed.start_polkit(allowed=[])
    for what, call in mutating_calls(bed, NOBODY):
        check_error(call(), ACCESS_DENIED, f"{what} as nobody, polkit denying all")
    r = bed.ctl("detach", "group", "16", user=NOBODY)
    check_eq(r.code, 1, f"passthructl detach as nobody: {r}")
    check(ACCESS_DENIED in r.err, f"passthructl names AccessDenied: {r.err!r}")
    check_nothing_written(bed, state, events, "after refused calls")


@case()
def polkit_absent_refuses_every_mutating_call(bed):
    state, events = prepare_polkit(bed)
    check(not bed.name_has_owner("org.freedesktop.PolicyKit1"), "no polkitd on the bus")
    for what, call in mutating_calls(bed, NOBODY):
        t0 = time.monotonic()
        check_error(call(), ACCESS_DENIED, f"{what} as nobody without polkitd")
        busctl_timeout_ok(t0, 3, f"{what} refused at once")
    check_nothing_written(bed, state, events, "after refused calls")


@case()
def polkit_error_reply_refuses_every_mutating_call(bed):
    """polkitd answering CheckAuthorization with an error: denied."""
    state, events = prepare_polkit(bed)
    bed.start_polkit(allowed=[ASSIGN, OVERRIDE])
    bed.polkit_mock("AddMethod", "sssss", "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization",
                    "(sa{sv})sa{ss}us", "(bba{ss})",
                    "raise dbus.exceptions.DBusException('backend broken', name='org.freedesktop.PolicyKit1.Error.Failed')")
    for what, call in mutating_calls(bed, NOBODY):
        check_error(call(), ACCESS_DENIED, f"{what} as nobody, polkit answering an error")
    check_nothing_written(bed, state, events, "after refused calls")


@case()
def polkit_hanging_leaves_every_mutating_call_pending(bed):
    state, events = prepare_polkit(bed)
    bed.start_polkit(allowed=[])
    bed.polkit_mock("SimulateHang", "b", "true")
    calls = mutating_calls_async(bed, NOBODY)
    bed.wait_for(lambda: bed.polkit_count_hanging() == len(calls), "every authorization to be pending", 10)
    for what, p in calls:
        check(p.running(), f"{what} waits for polkit")
    t0 = time.monotonic()
    check_eq(bed.prop(16, "State"), "idle", "group 16 State")
    bed.managed_objects()
    busctl_timeout_ok(t0, 2, "reading while polkit hangs")
    check_nothing_written(bed, state, events, "while every call waits for polkit")
    bed.polkit_mock("ReleaseHangingCalls")
    for what, p in calls:
        check_error(p.result(10), ACCESS_DENIED, f"{what} once polkit says no")
    check_nothing_written(bed, state, events, "after polkit said no")


@case()
def polkit_template_never_challenges_so_the_flag_changes_nothing(bed):
    """python-dbusmock's polkitd template answers (allowed, challenge=false) whatever the flags:
    a refusal is AccessDenied with and without interaction allowed, never
    InteractiveAuthorizationRequired; an allowed action passes both ways."""
    bed.start_polkit(allowed=[])
    state, events = bed.snapshot(), len(bed.uevents())
    for interactive in (False, True):
        r = bed.detach(16, user=NOBODY, interactive=interactive)
        check_error(r, ACCESS_DENIED, f"detach as nobody, polkit says no, interactive={interactive}")
    check_nothing_written(bed, state, events, "after the refusals")
    bed.polkit_allow(ASSIGN)
    check_ok(bed.detach(AUDIO, user=NOBODY, interactive=False), "Device.Detach allowed, no interaction")
    check_ok(bed.reattach(AUDIO, user=NOBODY, interactive=True), "Device.Reattach allowed, interaction allowed")


@case()
def polkit_challenge_without_interactive_flag_is_refused(bed):
    bed.start_polkit(allowed=[])
    bed.polkit_challenge(ASSIGN)
    state, events = bed.snapshot(), len(bed.uevents())
    r = bed.detach(16, user=NOBODY, interactive=False)
    check_error(r, INTERACTIVE_REQUIRED, "detach as nobody, authentication needed, no interaction allowed")
    checks = bed.polkit_checks()
    check_eq([(c["action"], c["flags"]) for c in checks], [(ASSIGN, 0)], "polkit asked once, without interaction")
    check_eq(checks[0]["subject_kind"], "system-bus-name", "subject kind")
    check(str(checks[0]["subject"].get("name", "")).startswith(":"), f"subject is a unique name: {checks[0]}")
    check_eq(checks[0]["details"].get("group"), "16", f"details: {checks[0]['details']}")
    check_nothing_written(bed, state, events, "after the refusal")
    r = bed.ctl("detach", "group", "16", "--no-ask-password", user=NOBODY)
    check_eq(r.code, 1, f"passthructl detach --no-ask-password: {r}")
    check(INTERACTIVE_REQUIRED in r.err, f"passthructl names InteractiveAuthorizationRequired: {r.err!r}")
    check_eq(bed.polkit_checks()[-1]["flags"], 0, "--no-ask-password clears the interactive flag")
    check_nothing_written(bed, state, events, "after passthructl's refusal")


@case()
def polkit_challenge_with_interactive_flag_is_allowed(bed):
    bed.start_polkit(allowed=[])
    bed.polkit_challenge(ASSIGN)
    r = bed.detach(AUDIO, user=NOBODY, interactive=True)
    check_ok(r, "Device.Detach 26:00.1 as nobody, interaction allowed, the agent authenticates")
    checks = bed.polkit_checks()
    check_eq([(c["action"], c["flags"]) for c in checks], [(ASSIGN, 1)], "polkit asked with AllowUserInteraction")
    check_eq(checks[0]["details"].get("device"), AUDIO, f"details name the device: {checks[0]['details']}")
    check_eq(checks[0]["details"].get("group"), "16", f"details name the group: {checks[0]['details']}")
    check_eq(state_devices(bed.snapshot())[AUDIO], ("vfio-pci", "vfio-pci"), "26:00.1 detached")
    r = bed.reattach(AUDIO, user=NOBODY, interactive=True)
    check_ok(r, "Device.Reattach 26:00.1 the same way")
    # passthructl allows interaction unless told --no-ask-password
    r = bed.ctl("detach", "group", "21", "--json", user=NOBODY)
    check_eq(r.code, 0, f"passthructl detach group 21 as nobody: {r}")
    check_eq(bed.polkit_checks()[-1]["flags"], 1, "passthructl sets the interactive flag")
    check_eq(state_devices(bed.snapshot())[AMD_AUDIO], ("vfio-pci", "vfio-pci"), "28:00.4 detached")


@case()
def polkit_override_refused_with_only_device_assign(bed):
    bed.start_polkit(allowed=[ASSIGN])
    state, events = bed.snapshot(), len(bed.uevents())
    r = bed.detach(14, user=NOBODY)
    check_error(r, E + "HostCritical", "detach of the root disk's group without override")
    r = bed.detach(14, {"override": True}, user=NOBODY)
    check_error(r, ACCESS_DENIED, "override without org.passthru1.override")
    check(OVERRIDE in (r.message or ""), f"the refusal names {OVERRIDE}: {r.message!r}")
    r = bed.detach(NVME, {"override": True}, user=NOBODY)
    check_error(r, ACCESS_DENIED, "Device.Detach override without org.passthru1.override")
    check_nothing_written(bed, state, events, "after the refusals")


@case()
def polkit_override_allowed_with_both_actions(bed):
    bed.start_polkit(allowed=[ASSIGN, OVERRIDE])
    start = bed.snapshot()
    steps = check_ok(bed.detach(14, {"override": True}, user=NOBODY), "detach 14 with override, both actions")
    check_eq(step_ids(steps), ["load-module", "set-override", "unbind", "probe"], f"steps ({steps})")
    check_eq(state_devices(bed.snapshot())[NVME], ("vfio-pci", "vfio-pci"), "01:00.0 on vfio-pci")
    check_ok(bed.reattach(14, user=NOBODY), "reattach 14")
    check_same_state(bed.snapshot(), start, "after the round trip", ignore_modules=VFIO_MODULES)


# ---------------------------------------------------------------------------------------------
# interlocks

@case()
def interlock_root_filesystem_controller(bed):
    state, events = bed.snapshot(), len(bed.uevents())
    for target in (14, NVME):
        r = bed.detach(target)
        check_error(r, E + "HostCritical", f"detach {target} (the controller of /)")
        m = r.message or ""
        check("nvme0n1" in m or "mounted" in m or " / " in m or "'/'" in m or "\"/\"" in m,
              f"the message says which file system: {m!r}")
    check_nothing_written(bed, state, events, "after HostCritical")
    check_ok(bed.detach(14, {"override": True}), "root overrides")
    check_eq(state_devices(bed.snapshot())[NVME], ("vfio-pci", "vfio-pci"), "01:00.0 on vfio-pci")
    check_ok(bed.reattach(14), "reattach 14")


def check_graphical_session_interlock(bed, node):
    state, events = bed.snapshot(), len(bed.uevents())
    check(f"drm {node}" in state.splitlines(), f"/dev/dri/{node} exists:\n{state}")
    holder = bed.hold_open(f"/dev/dri/{node}")
    for target in (16, GPU):
        r = bed.detach(target)
        check_error(r, E + "HostCritical", f"detach {target} while a session holds /dev/dri/{node}")
    check_nothing_written(bed, state, events, "after HostCritical")
    bed.stop_holder(holder)
    check_ok(bed.detach(16), "detach 16 once the session is gone")


@case(exclusive=True)
def interlock_boot_vga_with_graphical_session_card0(bed):
    check_graphical_session_interlock(bed, "card0")


@case(exclusive=True)
def interlock_boot_vga_with_graphical_session_render_node(bed):
    check_graphical_session_interlock(bed, "renderD128")


@case(exclusive=True)
def interlock_boot_vga_override_by_root(bed):
    bed.hold_open("/dev/dri/card0")
    check_error(bed.detach(16), E + "HostCritical", "detach 16 during a session")
    check_ok(bed.detach(16, {"override": True}), "root overrides")
    check_detached(bed, bed.snapshot(), 16, [GPU, AUDIO])


def add_default_route(bed, ifname="enp34s0"):
    """A link named like the NIC of 22:00.0 carrying the default route, in the machine's network
    namespace. dummy when the kernel has it, else a veth pair (both are plain links to the daemon)."""
    r = bed.kernel(f"ip link add {ifname} type dummy 2>/dev/null || ip link add {ifname} type veth peer name {ifname}p"
                   f" && ip link set {ifname} up && (ip link set {ifname}p up 2>/dev/null; true)"
                   f" && ip route add default dev {ifname}")
    check_eq(r.code, 0, f"default route on {ifname}: {r}")


@case()
def interlock_nic_of_the_default_route(bed):
    add_default_route(bed)
    state, events = bed.snapshot(), len(bed.uevents())
    for target in (15, NIC_ROUTE):
        r = bed.detach(target)
        check_error(r, E + "HostCritical", f"detach {target} (the NIC of the default route)")
        m = r.message or ""
        check("enp34s0" in m or "route" in m, f"the message names the link or the route: {m!r}")
    check_nothing_written(bed, state, events, "after HostCritical")
    r = bed.kernel("ip route del default")
    check_eq(r.code, 0, f"route del: {r}")
    check_ok(bed.detach(15, {"dry-run": True}), "group 15 without the default route")


@case(exclusive=True)
def guest_running_blocks_reattach(bed):
    start = bed.snapshot()
    check_ok(bed.detach(16), "detach 16")
    state, events = bed.snapshot(), len(bed.uevents())
    qemu = bed.hold_open("/dev/vfio/16")
    for target in (16, AUDIO, GPU):
        r = bed.reattach(target)
        check_error(r, E + "GuestRunning", f"reattach {target} while /dev/vfio/16 is open")
        m = r.message or ""
        check(str(qemu) in m or "sleep" in m, f"the message names the process ({qemu}, sleep): {m!r}")
    check_nothing_written(bed, state, events, "after GuestRunning")
    check_eq(bed.prop(16, "Owner"), "vfio", "Owner")
    bed.stop_holder(qemu)
    check_ok(bed.reattach(16), "reattach once the process is gone")
    check_same_state(bed.snapshot(), start, "after the round trip", ignore_modules=VFIO_MODULES)


# ---------------------------------------------------------------------------------------------
# bad input

@case()
def bad_option_unknown_key_is_invalid_args(bed):
    state, events = bed.snapshot(), len(bed.uevents())
    for call, target in ((bed.detach, 16), (bed.detach, AUDIO), (bed.reattach, 16), (bed.reattach, AUDIO)):
        r = call(target, {"frobnicate": True})
        check_error(r, INVALID_ARGS, f"unknown option to {call.__name__} {target}")
        check("frobnicate" in (r.message or ""), f"the message names the option: {r.message!r}")
        r = call(target, {"dry-run": True, "force": True})
        check_error(r, INVALID_ARGS, f"an unknown option beside dry-run, {call.__name__} {target}")
    check_nothing_written(bed, state, events, "after InvalidArgs")


@case()
def bad_option_wrong_variant_type_is_invalid_args(bed):
    state, events = bed.snapshot(), len(bed.uevents())
    for options in ({"dry-run": "yes"}, {"dry-run": ("u", 1)}, {"override": "yes"}, {"override": ("i", 1)},
                    {"dry-run": ("as", 1, "true")}):
        for call, target in ((bed.detach, 16), (bed.reattach, GPU)):
            r = call(target, options)
            check_error(r, INVALID_ARGS, f"{options} to {call.__name__} {target}")
    check_nothing_written(bed, state, events, "after InvalidArgs")


@case()
def bridge_detach_is_not_supported(bed):
    state, events = bed.snapshot(), len(bed.uevents())
    for call in (bed.detach, bed.reattach):
        r = call(BRIDGE)
        check_error(r, E + "NotSupported", f"Device.{call.__name__} of the bridge 00:01.1")
        r = call(BRIDGE, {"dry-run": True})
        check_error(r, E + "NotSupported", f"dry-run Device.{call.__name__} of the bridge 00:01.1")
    r = bed.detach(1)
    check_error(r, E + "NotSupported", "Group.Detach of group 1 (a bridge only)")
    # a group with a bridge and endpoints: the bridge stays with the host
    plan = check_ok(bed.detach(12, {"dry-run": True}), "dry-run detach of group 12 (SMBus + ISA bridge)")
    check(not any(names_target(d, "0000:00:14.3") for _, d in plan), f"the ISA bridge is not in the plan: {plan}")
    check_nothing_written(bed, state, events, "after NotSupported")


@case()
def missing_group_and_device(bed):
    state, events = bed.snapshot(), len(bed.uevents())
    r = bed.method("/org/passthru1", "org.passthru1.Manager", "GetGroup", "u", "999")
    check_error(r, E + "NoSuchGroup", "GetGroup 999")
    for call in (bed.detach, bed.reattach):
        r = call("/org/passthru1/group/999")
        check_error(r, UNKNOWN_OBJECT, f"{call.__name__} on /org/passthru1/group/999")
        r = call("/org/passthru1/device/pci_0000_99_00_0")
        check_error(r, UNKNOWN_OBJECT, f"{call.__name__} on a missing device's path")
    r = bed.method("/org/passthru1", "org.passthru1.Manager", "GetDevice", "s", "99:00.0")
    check_error(r, E + "NoSuchDevice", "GetDevice 99:00.0")
    check_nothing_written(bed, state, events, "after the errors")


# ---------------------------------------------------------------------------------------------
# passthructl as a user runs it

def ctl_steps(r, what):
    check_eq(r.code, 0, f"{what}: {r}")
    steps = r.json()
    check(isinstance(steps, list) and steps, f"{what}: a JSON array of steps: {r.out[:300]!r}")
    for s in steps:
        check(isinstance(s, dict) and set(s) == {"step", "description"}, f"{what}: step object {s!r}")
    return [(s["step"], s["description"]) for s in steps]


@case()
def passthructl_detach_and_reattach_group_json(bed):
    start = bed.snapshot()
    plan = ctl_steps(bed.ctl("detach", "group", "16", "--dry-run", "--json"), "detach group 16 --dry-run --json")
    check_same_state(bed.snapshot(), start, "after passthructl --dry-run")
    steps = ctl_steps(bed.ctl("detach", "group", "16", "--json"), "detach group 16 --json")
    check_eq(step_ids(steps), [s for s, _, _ in DETACH_16], "the steps")
    check_eq(steps, plan, "the dry-run's plan is what was done")
    check_detached(bed, bed.snapshot(), 16, [GPU, AUDIO])
    again = ctl_steps(bed.ctl("detach", "group", "16", "--json"), "detach group 16 again")
    check_eq(set(step_ids(again)), {"unchanged"}, "a repeated detach")
    steps = ctl_steps(bed.ctl("reattach", "group", "16", "--json"), "reattach group 16 --json")
    check_eq(step_ids(steps), ["clear-override", "unbind", "probe"] * 2, "the steps")
    check_same_state(bed.snapshot(), start, "after passthructl detach + reattach", ignore_modules=VFIO_MODULES)


@case()
def passthructl_detach_and_reattach_device_human(bed):
    start = bed.snapshot()
    r = bed.ctl("detach", "26:00.1")
    check_eq(r.code, 0, f"detach 26:00.1: {r}")
    check("26:00.1" in r.out, f"the output names the function: {r.out!r}")
    check("\x1b[" not in r.out, "no colour when stdout is not a tty")
    check_eq(state_devices(bed.snapshot())[AUDIO], ("vfio-pci", "vfio-pci"), "26:00.1 on vfio-pci")
    r = bed.ctl("reattach", "pci_0000_26_00_1")
    check_eq(r.code, 0, f"reattach pci_0000_26_00_1: {r}")
    check_same_state(bed.snapshot(), start, "after passthructl detach + reattach", ignore_modules=VFIO_MODULES)


@case()
def passthructl_refusals_exit_1_with_the_error_name(bed):
    state = bed.snapshot()
    for args, name in ((("detach", "group", "14"), E + "HostCritical"),
                       (("detach", "00:01.1"), E + "NotSupported"),
                       (("detach", "group", "999"), E + "NoSuchGroup"),
                       (("reattach", "99:00.0"), E + "NoSuchDevice")):
        r = bed.ctl(*args)
        check_eq(r.code, 1, f"passthructl {' '.join(args)}: {r}")
        check(name in r.err, f"passthructl {' '.join(args)} names {name}: {r.err!r}")
    check_same_state(bed.snapshot(), state, "after the refusals")
    steps = ctl_steps(bed.ctl("detach", "group", "14", "--override", "--json"), "detach group 14 --override")
    check_eq(step_ids(steps), ["load-module", "set-override", "unbind", "probe"], "the steps")
    check_eq(state_devices(bed.snapshot())[NVME], ("vfio-pci", "vfio-pci"), "01:00.0 on vfio-pci")
    ctl_steps(bed.ctl("reattach", "group", "14", "--json"), "reattach group 14")



# ---- exit on idle (passthrud --idle-exit=SEC, as the unit starts it) ----

@case(daemon_args=["--idle-exit=2"])
def idle_daemon_releases_its_name_and_exits(bed):
    pid = bed.daemon_pid()
    bed.daemon_expected = False
    start = time.monotonic()
    bed.wait_for(lambda: not bed.name_has_owner(), "the idle daemon to release org.passthru1", 15)
    bed.wait_for(lambda: not pid_alive(pid), "the idle daemon to exit", 10)
    check(time.monotonic() - start >= 1.5, "it waited for the idle time before leaving")
    check("No client for 2 s and nothing in progress: exiting" in open(bed.daemon_log).read(),
          "the daemon said why it left")
    # Started again (as bus activation would), it is the same service.
    bed.restart_daemon()
    check_eq(bed.prop(16, "State"), "idle", "the restarted daemon's group 16")


@case(daemon_args=["--idle-exit=2"], step_timeout=1)
def idle_daemon_stays_for_clients_and_for_a_stuck_operation(bed):
    # Calls keep it: one every half second for 3 s (longer than the idle time).
    end = time.monotonic() + 3
    while time.monotonic() < end:
        check_eq(bed.prop(16, "State"), "idle", "group 16 State while a client talks")
        time.sleep(0.5)
    check(bed.name_has_owner(), "the daemon stays while clients talk")
    # A stuck operation keeps it: its undo must run when the kernel returns.
    bed.fault(f"unbind {AUDIO} hang")
    r = bed.detach(16)
    check_eq(r.error, E + "Stuck", f"detach with a hanging unbind: {r}")
    time.sleep(4)
    check(bed.daemon_alive() and bed.name_has_owner(), "the daemon stays while an operation is stuck")
    bed.release()
    bed.wait_for(lambda: bed.prop(16, "State") == "idle", "the undo after release")
    pid = bed.daemon_pid()
    bed.daemon_expected = False
    bed.wait_for(lambda: not pid_alive(pid), "the daemon to leave once idle", 15)
    check_eq(bed.journals(), [], "no journal left by the idle exit")

if __name__ == "__main__":
    sys.exit(CASES.main(sys.argv[1:]))
