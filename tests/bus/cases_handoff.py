#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Bus-level cases of the GPU handoff (Gpu.Handoff, Gpu.Return, Gpu.GetConsumers, StateChanged)
on the simulated AMD Matisse machine with the GTX 1650 as boot VGA: vtcon1 on the frame buffer,
efi-framebuffer.0 bound, and (in the ACS-override listing) nvidia_uvm, nvidia_drm and
nvidia_modeset holding nvidia, with the GPU and its HDMI audio in separate IOMMU groups. A fault at
each step of Handoff and of Return, and the daemon killed at each step (a Handoff is undone, a
Return finished: the GPU ends on the host). One meson test per case (`cases_handoff.py --list`)."""

import os
import re
import signal
import sys

from harness import (ACS, STOCK, VFIO_MODULES, BusMonitor, Cases, check, check_eq, check_error, check_same_state,
                     give_back, gpu_prop, handoff, pid_alive, state_devices, state_lines, steps_of)

CASES = Cases(STOCK)
case = CASES.case


GPU, AUDIO = "0000:26:00.0", "0000:26:00.1"
GPU_PATH = "/org/passthru1/device/pci_0000_26_00_0"
AUDIO_PATH = "/org/passthru1/device/pci_0000_26_00_1"
GPU_IF = "org.passthru1.Gpu"
E = "org.passthru1.Error."
INVALID_ARGS = "org.freedesktop.DBus.Error.InvalidArgs"
NVIDIA_FAMILY = ["nvidia_drm", "nvidia_modeset", "nvidia_uvm", "nvidia"]












def loaded_modules(state):
    return {l.split()[1] for l in state_lines(state) if l.startswith("module ")}


def line(state, prefix):
    return [l for l in state_lines(state) if l.startswith(prefix)]


# ---------------------------------------------------------------------------------------------

@case(listing=ACS)
def handoff_and_return_single_gpu_with_nvidia_modules(bed):
    before = bed.snapshot()
    check(set(NVIDIA_FAMILY) <= loaded_modules(before), f"the nvidia modules are loaded at first: {before}")
    check_eq(gpu_prop(bed, "Primary"), True, "the GTX 1650 is the primary GPU")
    check_eq(gpu_prop(bed, "Companions"), [AUDIO_PATH], "its HDMI audio travels with it")
    check_eq(gpu_prop(bed, "State"), "host", "State at first")

    plan = steps_of(handoff(bed, dry_run=True), "dry-run")
    kinds = [k for k, _ in plan]
    check_eq(bed.snapshot(), before, "the dry-run changes nothing")
    check("unbind-console" in kinds and "unbind-framebuffer" in kinds, f"consoles and frame buffer: {plan}")
    unloads = [d.split()[-1] for k, d in plan if k == "unload-module"]
    check_eq(unloads, NVIDIA_FAMILY, "holders unloaded first, nvidia last")
    check(kinds.index("set-override") < kinds.index("unload-module"), "the override before the unload")

    done = steps_of(handoff(bed), "Handoff")
    check_eq([k for k, _ in done], kinds, "the steps done are the plan")
    after = bed.snapshot()
    devices = state_devices(after)
    check_eq(devices[GPU], ("vfio-pci", "vfio-pci"), "the GPU on vfio-pci")
    check_eq(devices[AUDIO], ("vfio-pci", "vfio-pci"), "its audio on vfio-pci")
    check(not set(NVIDIA_FAMILY) & loaded_modules(after), f"the nvidia modules are gone: {after}")
    check_eq(line(after, "framebuffer"), ["framebuffer efi-framebuffer.0 bound=0"], "the frame buffer released")
    check("vtcon vtcon1 bind=0" in state_lines(after), "vtcon1 released")
    check_eq(gpu_prop(bed, "State"), "detached", "State after the handoff")
    check_eq(gpu_prop(bed, "Domain"), "", "Domain: none (detach only)")
    check_eq(bed.journals(), [], "no journal left")
    check(os.path.exists(os.path.join(bed.runtime_dir, "gpu-pci_0000_26_00_0.handoff")), "the handoff is recorded")

    r = handoff(bed)
    check_error(r, E + "Busy", "a second Handoff")
    back = steps_of(give_back(bed), "Return")
    loads = [d.split()[-1] for k, d in back if k == "load-module"]
    check_eq(loads, list(reversed(NVIDIA_FAMILY)), "exactly the modules unloaded, reloaded in reverse order")
    check_same_state(bed.snapshot(), before, "after Return", ignore_modules=VFIO_MODULES)
    check_eq(gpu_prop(bed, "State"), "host", "State after Return")
    check_eq(gpu_prop(bed, "Domain"), "", "Domain after Return")
    check(not os.path.exists(os.path.join(bed.runtime_dir, "gpu-pci_0000_26_00_0.handoff")), "record removed")
    check_error(give_back(bed), E + "NotSupported", "Return of a GPU not handed off")


@case(exclusive=True)
def handoff_refused_while_a_process_holds_the_gpu(bed):
    before, events = bed.snapshot(), len(bed.uevents())
    pid = bed.hold_open("/dev/dri/card0")
    r = bed.method(GPU_PATH, GPU_IF, "GetConsumers")
    check(r.ok, f"GetConsumers: {r}")
    check([pid, "/dev/dri/card0"] in [[c[0], c[2]] for c in r.data[0]], f"the holder is listed: {r.data}")
    r = handoff(bed)
    check_error(r, E + "InUse", "Handoff while /dev/dri/card0 is held")
    check(str(pid) in r.message and "/dev/dri/card0" in r.message, f"it names the process and node: {r.message!r}")
    check_same_state(bed.snapshot(), before, "nothing changed")
    check_eq(len(bed.uevents()), events, "no uevent")
    plan = steps_of(handoff(bed, dry_run=True), "dry-run with a consumer")
    check([k for k, _ in plan if k == "consumer"], f"the dry-run lists the consumer: {plan}")
    bed.stop_holder(pid)
    steps_of(handoff(bed), "Handoff once the process is gone")
    check_eq(gpu_prop(bed, "State"), "detached", "State")


@case()
def handoff_bad_input_changes_nothing(bed):
    before, events = bed.snapshot(), len(bed.uevents())
    check_error(bed.method(GPU_PATH, GPU_IF, "Handoff", "sa{sv}", "win10", "1", "bogus", "b", "true"), INVALID_ARGS,
                "unknown option")
    check_error(bed.method(GPU_PATH, GPU_IF, "Handoff", "sa{sv}", "win10", "1", "dry-run", "s", "yes"), INVALID_ARGS,
                "wrong option type")
    check_error(handoff(bed, domain="bad\nname"), INVALID_ARGS, "a domain name with a newline")
    check_error(handoff(bed, domain="x" * 300), INVALID_ARGS, "a domain name too long")
    check_error(handoff(bed, domain="é" * 257), INVALID_ARGS, "257 characters (514 bytes)")
    check_error(handoff(bed, domain="c1\u0085control"), INVALID_ARGS, "a C1 control character")
    check_error(bed.method(AUDIO_PATH, GPU_IF, "Handoff", "sa{sv}", "", "0"),
                "org.freedesktop.DBus.Error.UnknownMethod", "Handoff on a function that is no GPU")
    check_same_state(bed.snapshot(), before, "nothing changed")
    check_eq(len(bed.uevents()), events, "no uevent")


@case(listing=ACS, libvirt=True)
def handoff_signals_states_after_they_are_true(bed):
    bed.define_domain("gaming")
    monitor = BusMonitor(bed, GPU_PATH)
    try:
        steps_of(handoff(bed, domain="gaming", start=False), "Handoff to domain gaming, not started")
        steps_of(give_back(bed), "Return")
        out = monitor.until(r"StateChanged \('host'")
    finally:
        monitor.close()
    changes = re.findall(r"org\.passthru1\.Gpu\.StateChanged \('(\w+)', '([^']*)'\)", out)
    check_eq(changes, [("releasing", "gaming"), ("detached", "gaming"), ("returning", "gaming"), ("host", "")],
             f"StateChanged sequence; monitor printed:\n{out[-3000:]}")



SKYLAKE = os.path.join(os.path.dirname(ACS), "intel-skylake-gtx1050ti.txt")
GUEST_GPU_PATH = "/org/passthru1/device/pci_0000_02_00_0"
IGPU = "0000:00:02.0"


@case(listing=SKYLAKE)
def handoff_second_gpu_leaves_the_host_display_alone(bed):
    """The host runs on the iGPU; the GTX 1050 Ti on nouveau goes without touching consoles,
    frame buffers, the iGPU or the display manager."""
    before = bed.snapshot()
    check_eq(bed.prop(GUEST_GPU_PATH, "Primary", GPU_IF), False, "the GTX 1050 Ti is not the primary GPU")
    r = bed.method(GUEST_GPU_PATH, GPU_IF, "Handoff", "sa{sv}", "", "0")
    done = steps_of(r, "Handoff of 02:00.0")
    kinds = [k for k, _ in done]
    check(not {"unbind-console", "unbind-framebuffer"} & set(kinds), f"no console or frame buffer step: {done}")
    check_eq([d.split()[-1] for k, d in done if k == "unload-module"], ["nouveau"], "nouveau unloaded")
    after = bed.snapshot()
    devices = state_devices(after)
    check_eq(devices["0000:02:00.0"], ("vfio-pci", "vfio-pci"), "the GTX 1050 Ti on vfio-pci")
    check_eq(devices["0000:02:00.1"], ("vfio-pci", "vfio-pci"), "its audio on vfio-pci")
    check_eq(devices[IGPU], state_devices(before)[IGPU], "the iGPU untouched")
    check_eq(line(after, "vtcon"), line(before, "vtcon"), "the consoles untouched")
    check_eq(line(after, "framebuffer"), line(before, "framebuffer"), "the frame buffer untouched")
    check_eq(bed.prop(GUEST_GPU_PATH, "Domain", GPU_IF), "", "detach only: no domain")
    steps_of(bed.method(GUEST_GPU_PATH, GPU_IF, "Return", "a{sv}", "0"), "Return")
    check_same_state(bed.snapshot(), before, "after Return", ignore_modules=VFIO_MODULES)


@case(listing=ACS, exclusive=True)
def return_refused_while_a_guest_holds_either_group(bed):
    """The GPU (group 23) and its audio (group 24): a process holding either group's vfio node
    refuses the Return (one scan of /proc looks for both), naming the group and the process."""
    before = bed.snapshot()
    steps_of(handoff(bed), "Handoff")
    for group in (24, 23):
        state, events = bed.snapshot(), len(bed.uevents())
        qemu = bed.hold_open(f"/dev/vfio/{group}")
        r = give_back(bed)
        check_error(r, E + "GuestRunning", f"Return while /dev/vfio/{group} is open")
        m = r.message or ""
        check(f"IOMMU group {group}:" in m and str(qemu) in m, f"the message names group {group} and {qemu}: {m!r}")
        check_same_state(bed.snapshot(), state, f"nothing changed (/dev/vfio/{group} held)")
        check_eq(len(bed.uevents()), events, "no uevents")
        check_eq(gpu_prop(bed, "State"), "detached", "still handed off")
        bed.stop_holder(qemu)
    steps_of(give_back(bed), "Return once the guest is gone")
    check_same_state(bed.snapshot(), before, "after Return", ignore_modules=VFIO_MODULES)


@case(listing=ACS, exclusive=True)
def handoff_stops_the_display_manager_and_return_starts_it(bed):
    """The display manager (mock systemd's gdm.service behind display-manager.service) holds
    /dev/dri/card0 and goes away when its unit stops: the handoff stops it through systemd's API,
    waits for the job, checks nobody holds the GPU any more, goes on; Return starts it last."""
    before = bed.snapshot()
    dm = bed.hold_open("/dev/dri/card0")
    bed.start_systemd("--stop-kills-pid", dm)
    r = handoff(bed)
    check_error(r, E + "InUse", "without stop-display-manager the display manager's hold refuses it")
    check_eq(bed.unit_state(), "active", "the display manager was not touched")
    plan = steps_of(handoff(bed, dry_run=True, stop_display_manager=True), "dry-run")
    check_eq([k for k, _ in plan][:2], ["stop-unit", "check-consumers"], f"the plan starts with the stop: {plan}")
    check_eq(bed.unit_state(), "active", "a dry-run stops nothing")
    done = steps_of(handoff(bed, stop_display_manager=True), "Handoff with stop-display-manager")
    check_eq(done[0], ("stop-unit", "stop display-manager.service and wait for the job to end"), "first step")
    check_eq(bed.unit_state(), "inactive", "the display manager is stopped")
    check(("StopUnit", "display-manager.service") in bed.systemd_calls(), f"StopUnit: {bed.systemd_calls()}")
    check_eq(state_devices(bed.snapshot())[GPU], ("vfio-pci", "vfio-pci"), "the GPU on vfio-pci")
    record = open(os.path.join(bed.runtime_dir, "gpu-pci_0000_26_00_0.handoff")).read()
    check("stopped display-manager.service" in record, f"the record says so: {record}")
    back = steps_of(give_back(bed), "Return")
    check_eq(back[-1][0], "start-unit", f"the display manager is started last: {back}")
    check_eq(bed.unit_state(), "active", "the display manager runs again")
    check_same_state(bed.snapshot(), before, "after Return", ignore_modules=VFIO_MODULES)


@case(listing=ACS, exclusive=True)
def handoff_display_manager_stopped_but_gpu_still_held_changes_nothing(bed):
    before = bed.snapshot()
    other = bed.hold_open("/dev/nvidia0")  # not the display manager: it stays
    bed.start_systemd()
    r = handoff(bed, stop_display_manager=True)
    check_error(r, E + "InUse", "a process left after the stop")
    check(str(other) in r.message and "/dev/nvidia0" in r.message, f"it names the process: {r.message!r}")
    check("started again" in r.message, f"and says the display manager is back: {r.message!r}")
    calls = [c for c in bed.systemd_calls() if c[0] in ("StopUnit", "StartUnit")]
    check_eq(calls, [("StopUnit", "display-manager.service"), ("StartUnit", "display-manager.service")],
             "stopped, then started again by the undo")
    check_eq(bed.unit_state(), "active", "the display manager runs")
    check_same_state(bed.snapshot(), before, "nothing changed")
    check_eq(bed.journals(), [], "no journal")


@case(listing=ACS)
def handoff_display_manager_stop_failing_changes_nothing(bed):
    before = bed.snapshot()
    bed.start_systemd("--next-job-result", "timeout")
    r = handoff(bed, stop_display_manager=True)
    check_error(r, E + "Failed", "the stop job ended with result timeout")
    check("timeout" in r.message and "display-manager.service" in r.message, f"message: {r.message!r}")
    check_same_state(bed.snapshot(), before, "nothing changed")
    calls = [c for c in bed.systemd_calls() if c[0] in ("StopUnit", "StartUnit")]
    # (the mock leaves a unit whose job failed as it was: the calls show the undo's start)
    check_eq(calls, [("StopUnit", "display-manager.service"), ("StartUnit", "display-manager.service")],
             "the stop, then the undo's start: a stop job that failed may have stopped it halfway")
    check_eq(bed.unit_state(), "active", "the display manager runs")


@case(listing=ACS, step_timeout=5)
def handoff_killed_after_the_display_manager_stopped_starts_it_again(bed):
    before = bed.snapshot()
    bed.start_systemd()
    line_ = f"driver_override {GPU} hang"
    bed.fault(line_)
    pending = bed.method_async(GPU_PATH, GPU_IF, "Handoff", "sa{sv}", "", "1", "stop-display-manager", "b", "true",
                               timeout=30)
    bed.wait_fault_fired(line_, pending)
    check_eq(bed.unit_state(), "inactive", "the display manager was stopped before the hang")
    bed.kill_daemon(signal.SIGKILL)
    pending.result(10)
    bed.release()
    bed.restart_daemon()
    check_same_state(bed.snapshot(), before, "the restarted daemon undid the handoff")
    bed.wait_for(lambda: bed.unit_state() == "active", "the display manager to be started again", 10)
    check_eq(bed.journals(), [], "no journal")


# ---------------------------------------------------------------------------------------------
# a fault at each step, and the daemon killed at each step: back to the snapshot

RECORD = "gpu-pci_0000_26_00_0.handoff"


def case_name(*words):
    return "_".join(re.sub(r"[^a-z0-9]+", "_", w.lower()).strip("_") for w in words)


def record_kept(bed):
    return os.path.exists(os.path.join(bed.runtime_dir, RECORD))


# (step, pcisim fault OP, target) of the Handoff on the ACS-override listing, in the plan's order.
HANDOFF_FAULTS = [
    ("unbind-console", "vtcon_bind", "vtcon1"),
    ("unbind-framebuffer", "fb_unbind", "efi-framebuffer.0"),
    ("set-override", "driver_override", GPU),
    ("unload-module", "unload", "nvidia_drm"),
    ("unload-module", "unload", "nvidia"),
    ("load-module", "load", "vfio_pci"),
    ("probe", "drivers_probe", GPU),
    ("set-override", "driver_override", AUDIO),
    ("unbind", "unbind", AUDIO),
    ("probe", "drivers_probe", AUDIO),
]


def make_fault_case(step, op, target, kind):
    def fn(bed):
        before = bed.snapshot()
        bed.fault(f"{op} {target} errno {kind}")
        r = handoff(bed, timeout=25)
        check(not r.ok, f"Handoff with {op} {target} failing: {r}")
        if step == "unload-module" and kind == "EBUSY":
            check_eq(r.error, E + "InUse", f"a module that refuses to unload is InUse ({r.message!r})")
        else:
            check_eq(r.error, E + "Failed", f"error name ({r.message!r})")
        check(target in r.message, f"the message names {target}: {r.message!r}")
        check_same_state(bed.snapshot(), before, f"after {step} of {target} failed with {kind}")
        check_eq(bed.journals(), [], "no journal left")
        check_eq(gpu_prop(bed, "State"), "host", "State after the undo")
        steps_of(handoff(bed), "Handoff once the fault is gone")

    fn.__name__ = case_name("handoff_fault", step, target, kind)
    return fn


for _step, _op, _target in HANDOFF_FAULTS:
    for _kind in ("EIO", "EBUSY"):
        case(listing=ACS, step_timeout=2)(make_fault_case(_step, _op, _target, _kind))


def make_hang_case(step, op, target):
    """The host's hold on the console and frame buffer: a write that does not return is Stuck
    (the advice: reboot), the daemon keeps answering, and the undo follows once it returns."""
    def fn(bed):
        before = bed.snapshot()
        bed.fault(f"{op} {target} hang")
        r = handoff(bed, timeout=25)
        check_error(r, E + "Stuck", f"Handoff with {op} {target} hanging")
        check(target in r.message and "reboot" in r.message, f"names {target}, advises a reboot: {r.message!r}")
        check_eq(gpu_prop(bed, "State"), "stuck", "Gpu.State while the write hangs")
        check_error(handoff(bed), E + "Stuck", "another Handoff while it hangs")
        bed.release()
        bed.wait_for(lambda: gpu_prop(bed, "State") == "host", "the undo after release", 15)
        check_same_state(bed.snapshot(), before, f"after {step} of {target} hung and returned")
        check_eq(bed.journals(), [], "no journal left")

    fn.__name__ = case_name("handoff_hang", step, target)
    return fn


for _step, _op, _target in HANDOFF_FAULTS[:2]:
    case(listing=ACS, step_timeout=2)(make_hang_case(_step, _op, _target))


def kill_during(bed, line_, method, *args):
    """Calls method with the fault `line_` (a hang) armed, kills the daemon once the write hangs,
    releases it once the daemon is dead, waits for the daemon's helpers to go and starts it again."""
    bed.fault(line_)
    pending = bed.method_async(GPU_PATH, GPU_IF, method, *args, timeout=30)
    bed.wait_fault_fired(line_, pending)
    check(bed.journals(), "the transaction is journaled while it runs")
    helpers = bed.daemon_children()
    bed.kill_daemon(signal.SIGKILL)
    pending.result(10)
    bed.release()
    bed.wait_for(lambda: not any(pid_alive(p) for p in helpers), "the daemon's helpers to exit", 10)
    bed.restart_daemon()


def make_kill_case(step, op, target):
    def fn(bed):
        before = bed.snapshot()
        kill_during(bed, f"{op} {target} hang", "Handoff", "sa{sv}", "", "0")
        check_same_state(bed.snapshot(), before, f"after killing the daemon during {step} of {target}")
        check_eq(bed.journals(), [], "the journal is empty")
        check(not record_kept(bed), "no handoff record")
        check_eq(gpu_prop(bed, "State"), "host", "State")

    fn.__name__ = case_name("handoff_killed_during", step, target)
    return fn


for _step, _op, _target in HANDOFF_FAULTS:
    case(listing=ACS, step_timeout=5)(make_kill_case(_step, _op, _target))


# (step, pcisim fault OP, target) of the Return on the ACS-override listing, in the plan's order:
# the audio function back to snd_hda_intel, the GPU to nvidia, the modules that were unloaded
# loaded again in reverse order, the frame buffer, the console.
RETURN_FAULTS = [
    ("clear-override", "driver_override", AUDIO),
    ("unbind", "unbind", AUDIO),
    ("probe", "drivers_probe", AUDIO),
    ("clear-override", "driver_override", GPU),
    ("unbind", "unbind", GPU),
    ("load-module", "load", "nvidia"),
    ("probe", "drivers_probe", GPU),
    ("load-module", "load", "nvidia_uvm"),
    ("load-module", "load", "nvidia_modeset"),
    ("load-module", "load", "nvidia_drm"),
    ("bind-framebuffer", "fb_bind", "efi-framebuffer.0"),
    ("bind-console", "vtcon_bind", "vtcon1"),
]
# EBUSY where the kernel gives it: a module's init whose device is taken, efifb's probe that
# cannot reserve the frame buffer's memory. (Writes to unbind, drivers_probe and
# driver_override do not pass a driver's EBUSY on.)
RETURN_EBUSY = ("load-module", "bind-framebuffer")


@case(listing=ACS)
def return_plan_is_the_table(bed):
    """RETURN_FAULTS follows the Return's plan: a fault at each step."""
    steps_of(handoff(bed), "Handoff")
    plan = steps_of(give_back(bed, dry_run=True), "Return dry-run")
    check_eq([k for k, _ in plan], [s for s, _, _ in RETURN_FAULTS], f"the plan's steps: {plan}")
    for (kind, desc), (_, _, target) in zip(plan, RETURN_FAULTS):
        check(target in desc, f"step {kind} ({desc}) acts on {target}")


def check_still_handed_off(bed, detached, what):
    check_same_state(bed.snapshot(), detached, what)
    check_eq(bed.journals(), [], "no journal left")
    check(record_kept(bed), "the handoff record is kept")
    check_eq(gpu_prop(bed, "State"), "detached", "State after the undo")
    check_eq(gpu_prop(bed, "Domain"), "", "the Domain is kept (none)")


def make_return_fault_case(step, op, target, kind):
    def fn(bed):
        before = bed.snapshot()
        steps_of(handoff(bed), "Handoff")
        detached = bed.snapshot()
        bed.fault(f"{op} {target} errno {kind}")
        r = give_back(bed, timeout=25)
        check_error(r, E + "Failed", f"Return with {op} {target} failing with {kind}")
        check(target in r.message and kind in r.message, f"the message names {target} and {kind}: {r.message!r}")
        check("passthructl return" in r.message and "still handed off" in r.message,
              f"the message says the GPU is still handed off and how to retry: {r.message!r}")
        check_still_handed_off(bed, detached, f"after {step} of {target} failed with {kind}")
        steps_of(give_back(bed), "Return once the fault is gone")
        check_same_state(bed.snapshot(), before, "after the Return", ignore_modules=VFIO_MODULES)
        check_eq(gpu_prop(bed, "State"), "host", "State after the Return")

    fn.__name__ = case_name("return_fault", step, target, kind)
    return fn


for _step, _op, _target in RETURN_FAULTS:
    for _kind in ("EIO", "EBUSY") if _step in RETURN_EBUSY else ("EIO",):
        case(listing=ACS, step_timeout=2)(make_return_fault_case(_step, _op, _target, _kind))


@case(listing=ACS)
def return_fault_start_unit_display_manager(bed):
    before = bed.snapshot()
    bed.start_systemd()
    steps_of(handoff(bed, stop_display_manager=True), "Handoff with stop-display-manager")
    detached = bed.snapshot()
    check_eq(bed.unit_state(), "inactive", "the display manager is stopped")
    bed.systemd_control("SetNextJobResult", "s", "failed")
    r = give_back(bed)
    check_error(r, E + "Failed", "Return with the display manager's start job failing")
    check("display-manager.service" in r.message and "failed" in r.message, f"message: {r.message!r}")
    check("passthructl return" in r.message, f"and how to retry: {r.message!r}")
    check_still_handed_off(bed, detached, "after the start job failed")
    check_eq(bed.unit_state(), "inactive", "the display manager is not running")
    back = steps_of(give_back(bed), "Return once systemd starts it")
    check_eq(back[-1][0], "start-unit", f"the display manager is started last: {back}")
    check_eq(bed.unit_state(), "active", "the display manager runs")
    check_same_state(bed.snapshot(), before, "after the Return", ignore_modules=VFIO_MODULES)
    check_eq(gpu_prop(bed, "State"), "host", "State after the Return")


def check_fully_host(bed, before, what):
    check_same_state(bed.snapshot(), before, what, ignore_modules=VFIO_MODULES)
    check_eq(bed.journals(), [], "the journal is empty")
    check(not record_kept(bed), "the handoff record is gone")
    check_eq(gpu_prop(bed, "State"), "host", "State")
    check_eq(gpu_prop(bed, "Domain"), "", "Domain")
    check_error(give_back(bed), E + "NotSupported", "nothing is handed off any more")


def make_return_kill_case(step, op, target):
    """The daemon killed during a Return step comes back with the GPU on the host: the Return is
    finished from the record when it starts again."""
    def fn(bed):
        before = bed.snapshot()
        steps_of(handoff(bed), "Handoff")
        kill_during(bed, f"{op} {target} hang", "Return", "a{sv}", "0")
        check_fully_host(bed, before, f"after killing the daemon during {step} of {target}")

    fn.__name__ = case_name("return_killed_during", step, target)
    return fn


for _step, _op, _target in RETURN_FAULTS:
    case(listing=ACS, step_timeout=5)(make_return_kill_case(_step, _op, _target))


@case(listing=ACS)
def return_killed_during_start_unit_display_manager(bed):
    before = bed.snapshot()
    bed.start_systemd()
    steps_of(handoff(bed, stop_display_manager=True), "Handoff with stop-display-manager")
    bed.systemd_control("SetNeverFinish", "b", "true")
    pending = bed.method_async(GPU_PATH, GPU_IF, "Return", "a{sv}", "0", timeout=30)
    bed.wait_for(lambda: ("StartUnit", "display-manager.service") in bed.systemd_calls(),
                 "the Return to start the display manager", 15)
    bed.kill_daemon(signal.SIGKILL)
    pending.result(10)
    bed.systemd_control("SetNeverFinish", "b", "false")
    bed.restart_daemon()
    check_fully_host(bed, before, "after killing the daemon while the display manager starts")
    check_eq(bed.unit_state(), "active", "the display manager runs")


@case(listing=ACS, step_timeout=2)
def return_resumed_after_a_kill_fails_again_shows_failed(bed):
    """The Return the restarted daemon finishes fails too: nobody waits for a reply, so the GPU
    says "failed" (and the log says why); it is back on vfio-pci, and a later Return works."""
    before = bed.snapshot()
    steps_of(handoff(bed), "Handoff")
    detached = bed.snapshot()
    bed.fault("load nvidia_drm errno EIO")
    kill_during(bed, f"unbind {GPU} hang", "Return", "a{sv}", "0")
    check_same_state(bed.snapshot(), detached, "the resumed Return failed and was undone")
    check_eq(bed.journals(), [], "no journal left")
    check(record_kept(bed), "the handoff record is kept")
    check_eq(gpu_prop(bed, "State"), "failed", "State after the resumed Return failed")
    log = open(bed.daemon_log).read()
    check("nvidia_drm" in log and "passthructl return" in log, "the log says what failed and what to do")
    steps_of(give_back(bed), "Return")
    check_fully_host(bed, before, "after the Return")


if __name__ == "__main__":
    sys.exit(CASES.main(sys.argv[1:]))
