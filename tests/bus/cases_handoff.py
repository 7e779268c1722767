#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Bus-level cases of the GPU handoff (Gpu.Handoff, Gpu.Return, Gpu.GetConsumers, StateChanged)
on the simulated AMD Matisse machine with the GTX 1650 as boot VGA: vtcon1 on the frame buffer,
efi-framebuffer.0 bound, and (in the ACS-override listing) nvidia_uvm, nvidia_drm and
nvidia_modeset holding nvidia, with the GPU and its HDMI audio in separate IOMMU groups. One meson
test per case (`cases_handoff.py --list`)."""

import os
import re
import signal
import subprocess
import sys
import time

from harness import (ACS, STOCK, VFIO_MODULES, Cases, check, check_eq, check_error, check_same_state, pid_alive,
                     state_devices, state_lines)

CASES = Cases(STOCK)
case = CASES.case


GPU, AUDIO = "0000:26:00.0", "0000:26:00.1"
GPU_PATH = "/org/passthru1/device/pci_0000_26_00_0"
AUDIO_PATH = "/org/passthru1/device/pci_0000_26_00_1"
GPU_IF = "org.passthru1.Gpu"
E = "org.passthru1.Error."
INVALID_ARGS = "org.freedesktop.DBus.Error.InvalidArgs"
NVIDIA_FAMILY = ["nvidia_drm", "nvidia_modeset", "nvidia_uvm", "nvidia"]


def options(**kw):
    args = [str(len(kw))]
    for k, v in kw.items():
        args += [k.replace("_", "-"), "b", "true" if v else "false"]
    return args


def handoff(bed, domain="win10", **kw):
    timeout = kw.pop("timeout", 30)
    return bed.method(GPU_PATH, GPU_IF, "Handoff", "sa{sv}", domain, *options(**kw), timeout=timeout)


def give_back(bed, **kw):
    timeout = kw.pop("timeout", 30)
    return bed.method(GPU_PATH, GPU_IF, "Return", "a{sv}", *options(**kw), timeout=timeout)


def gpu_prop(bed, name):
    return bed.prop(GPU_PATH, name, GPU_IF)


def steps_of(reply, what):
    check(reply.ok, f"{what}: {reply}")
    return [tuple(s) for s in reply.data[0]]


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
    check_eq(gpu_prop(bed, "Domain"), "win10", "Domain")
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
    check_error(bed.method(AUDIO_PATH, GPU_IF, "Handoff", "sa{sv}", "", "0"),
                "org.freedesktop.DBus.Error.UnknownMethod", "Handoff on a function that is no GPU")
    check_same_state(bed.snapshot(), before, "nothing changed")
    check_eq(len(bed.uevents()), events, "no uevent")


@case()
def handoff_signals_states_after_they_are_true(bed):
    monitor = subprocess.Popen(["gdbus", "monitor", "--system", "--dest", "org.passthru1", "--object-path", GPU_PATH],
                               env=bed.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        l = monitor.stdout.readline()
        while l and "is owned by" not in l:
            l = monitor.stdout.readline()
        steps_of(handoff(bed, domain="win10"), "Handoff")
        steps_of(give_back(bed), "Return")
        time.sleep(0.5)
    finally:
        monitor.kill()
        out = monitor.communicate()[0]
    changes = re.findall(r"org\.passthru1\.Gpu\.StateChanged \('(\w+)', '([^']*)'\)", out)
    check_eq(changes, [("releasing", "win10"), ("detached", "win10"), ("returning", "win10"), ("host", "")],
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


@case(listing=ACS, step_timeout=2)
def handoff_fault_console_unbind_is_undone(bed):
    before = bed.snapshot()
    for kind in ("EIO", "hang"):
        bed.fault("vtcon_bind vtcon1 " + ("hang" if kind == "hang" else "errno EIO"))
        r = handoff(bed, timeout=25)
        if kind == "hang":
            check_error(r, E + "Stuck", "Handoff with vtcon1's bind hanging")
            check_eq(gpu_prop(bed, "State"), "stuck", "Gpu.State while the write hangs")
            bed.release()
            bed.wait_for(lambda: gpu_prop(bed, "State") == "host", "the undo after release", 15)
        else:
            check_error(r, E + "Failed", "Handoff with vtcon1's bind failing")
            check("vtcon1" in r.message, f"the message names the console: {r.message!r}")
        check_same_state(bed.snapshot(), before, f"after the console step failed ({kind})")
        check_eq(bed.journals(), [], "no journal left")


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
    check_eq(bed.unit_state(), "active", "the display manager runs (started again by the undo)")


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

# (step, pcisim fault OP, target) of the Handoff on the ACS-override listing.
HANDOFF_FAULTS = [
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
            check(target in r.message, f"the message names {target}: {r.message!r}")
        else:
            check_eq(r.error, E + "Failed", f"error name ({r.message!r})")
        check_same_state(bed.snapshot(), before, f"after {step} of {target} failed with {kind}")
        check_eq(bed.journals(), [], "no journal left")
        check_eq(gpu_prop(bed, "State"), "host", "State after the undo")
        steps_of(handoff(bed), "Handoff once the fault is gone")

    fn.__name__ = f"handoff_fault_{step.replace('-', '_')}_{re.sub(r'[^a-z0-9]+', '_', target.lower())}_{kind.lower()}"
    return fn


for _step, _op, _target in HANDOFF_FAULTS:
    for _kind in ("EIO", "EBUSY"):
        case(listing=ACS, step_timeout=2)(make_fault_case(_step, _op, _target, _kind))


def make_kill_case(step, op, target):
    def fn(bed):
        before = bed.snapshot()
        line_ = f"{op} {target} hang"
        bed.fault(line_)
        pending = bed.method_async(GPU_PATH, GPU_IF, "Handoff", "sa{sv}", "win10", "0", timeout=30)
        bed.wait_fault_fired(line_, pending)
        check(bed.journals(), "the transaction is journaled while it runs")
        helpers = bed.daemon_children()
        bed.kill_daemon(signal.SIGKILL)
        pending.result(10)
        bed.release()
        bed.wait_for(lambda: not any(pid_alive(p) for p in helpers), "the daemon's helpers to exit", 10)
        bed.restart_daemon()
        check_same_state(bed.snapshot(), before, f"after killing the daemon during {step} of {target}")
        check_eq(bed.journals(), [], "the journal is empty")
        check_eq(gpu_prop(bed, "State"), "host", "State")

    fn.__name__ = f"handoff_killed_during_{step.replace('-', '_')}_{re.sub(r'[^a-z0-9]+', '_', target.lower())}"
    return fn


for _step, _op, _target in HANDOFF_FAULTS:
    case(listing=ACS, step_timeout=5)(make_kill_case(_step, _op, _target))


if __name__ == "__main__":
    sys.exit(CASES.main(sys.argv[1:]))
