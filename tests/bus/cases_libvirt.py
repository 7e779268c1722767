#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Bus-level cases of the libvirt integration: the real passthrud on the simulated Ryzen + GTX 1650
machine (ACS-override listing: GPU 26:00.0 and its audio 26:00.1 in groups of their own, the USB
controller 28:00.3 too), talking to a private libvirtd (session mode, run as nobody) that serves
libvirt's test driver, with the domains of tests/fixtures/libvirt-domains/:
  win10    passes through 26:00.0, 26:00.1 and 28:00.3 (managed='no')
  gaming   26:00.0 and 26:00.1
  nogpu    28:00.3 only
  managed  26:00.0 and 26:00.1 with managed='yes'
Handoff to a domain (by name, by UUID) starts it; its stop returns everything by itself; Return
while it runs is GuestRunning; errors for unknown domains, domains without the GPU, a start that
fails (undone); restarts of the daemon and of libvirtd; libvirt's hook methods (PrepareGuest,
ReleaseGuest), which must work while libvirtd does not answer. One meson test per case."""

import os
import re
import signal
import sys
import time

from harness import (ACS, VFIO_MODULES, BusMonitor, Cases, check, check_eq, check_error, check_same_state, on_vfio,
                     give_back, handoff, state_devices, steps_of)

CASES = Cases(ACS)


def case(**kw):
    return CASES.case(libvirt=True, **kw)


GPU, AUDIO, USB = "0000:26:00.0", "0000:26:00.1", "0000:28:00.3"
GPU_PATH = "/org/passthru1/device/pci_0000_26_00_0"
GPU_IF = "org.passthru1.Gpu"
MANAGER = "/org/passthru1"
MANAGER_IF = "org.passthru1.Manager"
E = "org.passthru1.Error."
WIN10_UUID = "6f1c1f0a-4a59-4c36-9e55-0b8e2a8c0a10"
GROUPS_OF_WIN10 = (23, 24, 28)  # GPU, audio, USB controller










def group_prop(bed, group, name):
    return bed.prop(f"/org/passthru1/group/{group}", name, "org.passthru1.Group")


def gpu_state(bed):
    return bed.prop(GPU_PATH, "State", GPU_IF)


def guests(bed):
    r = bed.method(MANAGER, MANAGER_IF, "GetGuests")
    check(r.ok, f"GetGuests: {r}")
    return [tuple(g) for g in r.data[0]]


def hostdevs_args(*hostdevs):
    args = [str(len(hostdevs))]
    for address, managed in hostdevs:
        args += [address, "true" if managed else "false"]
    return args


def prepare(bed, domain, *hostdevs, timeout=30):
    return bed.method(MANAGER, MANAGER_IF, "PrepareGuest", "sa(sb)a{sv}", domain, *hostdevs_args(*hostdevs), "0",
                      timeout=timeout)


def release(bed, domain, timeout=30):
    return bed.method(MANAGER, MANAGER_IF, "ReleaseGuest", "sa{sv}", domain, "0", timeout=timeout)


def record_exists(bed):
    return os.path.exists(os.path.join(bed.runtime_dir, "gpu-pci_0000_26_00_0.handoff"))


def back_to(bed, before, what):
    bed.wait_for(lambda: gpu_state(bed) == "host", f"the GPU back on the host ({what})", 20)
    check_same_state(bed.snapshot(), before, what, ignore_modules=VFIO_MODULES)
    check(not record_exists(bed), "the handoff record is gone")
    check_eq(bed.journals(), [], "no journal")


# ---------------------------------------------------------------------------------------------


@case()
def handoff_to_a_domain_starts_it_and_its_stop_returns_everything(bed):
    bed.define_domain("win10")
    before = bed.snapshot()
    plan = steps_of(handoff(bed, "win10", dry_run=True), "dry-run")
    check_eq(plan[-1], ("start-domain", "start the libvirt domain win10"), "the plan ends with the start")
    check(any(k == "probe" and USB in d for k, d in plan), f"the domain's USB controller goes too: {plan}")
    check_eq(bed.domain_state("win10"), "shut off", "a dry-run starts nothing")
    check_same_state(bed.snapshot(), before, "a dry-run changes nothing")

    done = steps_of(handoff(bed, "win10"), "Handoff to win10")
    check_eq([k for k, _ in done], [k for k, _ in plan], "the steps done are the plan")
    check_eq(bed.domain_state("win10"), "running", "libvirt started the domain")
    check(on_vfio(bed, GPU, AUDIO, USB), "GPU, audio and the USB controller on vfio-pci")
    check_eq(gpu_state(bed), "guest", "Gpu.State once the domain runs")
    check_eq(bed.prop(GPU_PATH, "Domain", GPU_IF), "win10", "Gpu.Domain")
    for group in GROUPS_OF_WIN10:
        check_eq(group_prop(bed, group, "Owner"), "guest", f"Group {group} Owner while win10 runs")
        check_eq(group_prop(bed, group, "Domain"), "win10", f"Group {group} Domain")
    g = guests(bed)
    check_eq([(d, s) for d, s, _ in g], [("win10", "running")], f"GetGuests: {g}")
    check_eq(sorted(g[0][2]), sorted(f"/org/passthru1/device/pci_{a.replace(':', '_').replace('.', '_')}"
                                     for a in (GPU, AUDIO, USB)), "the devices it holds")
    # GetGuests tells libvirt's events, without asking libvirt (it may be running a hook)
    check_eq(bed.virsh("suspend", "win10").code, 0, "virsh suspend win10")
    bed.wait_for(lambda: [s for _, s, _ in guests(bed)] == ["paused"], "GetGuests: win10 paused", 10)
    check_eq(bed.virsh("resume", "win10").code, 0, "virsh resume win10")
    bed.wait_for(lambda: [s for _, s, _ in guests(bed)] == ["running"], "GetGuests: win10 running again", 10)
    check_eq(gpu_state(bed), "guest", "Gpu.State while it runs again")

    r = give_back(bed)
    check_error(r, E + "GuestRunning", "Return while the domain runs")
    check("win10" in r.message, f"the message names the domain: {r.message!r}")
    check(on_vfio(bed, GPU, AUDIO, USB), "nothing changed")

    r = bed.virsh("destroy", "win10")
    check_eq(r.code, 0, f"virsh destroy: {r}")
    back_to(bed, before, "after the domain stopped")
    check_eq(guests(bed), [], "GetGuests: nobody holds anything")
    for group in GROUPS_OF_WIN10:
        check_eq((group_prop(bed, group, "Owner"), group_prop(bed, group, "Domain")), ("host", ""),
                 f"Group {group} Owner and Domain once it stopped")


@case()
def group_owner_and_domain_are_signalled(bed):
    """Group.Owner becomes "guest" when libvirt says the domain runs and goes back when it
    stops; both changes come as PropertiesChanged of the group (with Domain)."""
    bed.define_domain("gaming")
    monitor = BusMonitor(bed, "/org/passthru1/group/23")
    try:
        steps_of(handoff(bed, "gaming"), "Handoff to gaming")
        check_eq(group_prop(bed, 23, "Owner"), "guest", "Owner while gaming runs")
        check_eq(bed.virsh("destroy", "gaming").code, 0, "virsh destroy gaming")
        out = monitor.until(r"'Owner': <'host'>, 'Domain': <''>", 20)
    finally:
        monitor.close()
    owners = re.findall(r"org\.freedesktop\.DBus\.Properties\.PropertiesChanged \('org\.passthru1\.Group', "
                        r"\{[^}]*'Owner': <'(\w+)'>, 'Domain': <'([^']*)'>", out)
    check(("guest", "gaming") in owners, f"Owner guest signalled with Domain gaming: {owners}")
    check_eq(owners[-1] if owners else None, ("host", ""), f"the last Owner signalled: {owners}")


@case()
def handoff_by_uuid_records_the_name(bed):
    bed.define_domain("win10")
    steps_of(handoff(bed, WIN10_UUID, start=False), "Handoff by UUID, not started")
    check_eq(bed.prop(GPU_PATH, "Domain", GPU_IF), "win10", "Gpu.Domain is libvirt's name")
    check_eq(gpu_state(bed), "detached", "not started: detached")
    check_eq(bed.domain_state("win10"), "shut off", "start: false starts nothing")
    check_eq((group_prop(bed, 23, "Owner"), group_prop(bed, 23, "Domain")), ("vfio", "win10"),
             "Group 23: on vfio-pci, for win10, which does not run")
    steps_of(give_back(bed), "Return of a domain that does not run")


@case()
def handoff_to_an_unknown_domain_changes_nothing(bed):
    before, events = bed.snapshot(), len(bed.uevents())
    r = handoff(bed, "nosuch")
    check_error(r, E + "NoSuchDomain", "an unknown domain")
    check("nosuch" in r.message, f"the message names it: {r.message!r}")
    check_error(handoff(bed, "00000000-0000-0000-0000-000000000000"), E + "NoSuchDomain", "an unknown UUID")
    check_error(handoff(bed, "é" * 256), E + "NoSuchDomain", "256 characters (512 bytes): a valid name")
    check_same_state(bed.snapshot(), before, "nothing changed")
    check_eq(len(bed.uevents()), events, "no uevent")


@case()
def handoff_to_a_domain_without_the_gpu_changes_nothing(bed):
    bed.define_domain("nogpu")
    before = bed.snapshot()
    r = handoff(bed, "nogpu")
    check_error(r, E + "NotViable", "a domain that does not list the GPU")
    check(USB in r.message and GPU in r.message, f"the message names what it lists and the GPU: {r.message!r}")
    r = bed.method(MANAGER, MANAGER_IF, "StartGuest", "sa{sv}", "nogpu", "0")
    check_error(r, E + "NotViable", "StartGuest of a domain without a GPU")
    check_same_state(bed.snapshot(), before, "nothing changed")
    check_eq(bed.domain_state("nogpu"), "shut off", "not started")


@case()
def handoff_to_a_running_domain_is_guest_running(bed):
    bed.define_domain("gaming")
    check_eq(bed.virsh("start", "gaming").code, 0, "virsh start gaming")
    before = bed.snapshot()
    check_error(handoff(bed, "gaming"), E + "GuestRunning", "the domain runs already")
    check_same_state(bed.snapshot(), before, "nothing changed")


@case(step_timeout=10)
def a_start_libvirt_refuses_undoes_the_handoff(bed):
    """The domain goes away while the handoff runs (held at the audio's probe): libvirt cannot
    start it, and everything is undone; the error carries libvirt's message."""
    bed.define_domain("gaming")
    before = bed.snapshot()
    fault = f"drivers_probe {AUDIO} hang"
    bed.fault(fault)
    pending = bed.method_async(GPU_PATH, GPU_IF, "Handoff", "sa{sv}", "gaming", "0", timeout=30)
    bed.wait_fault_fired(fault, pending)
    check_eq(bed.virsh("undefine", "gaming").code, 0, "virsh undefine gaming meanwhile")
    bed.release()
    r = pending.result(30)
    check_error(r, E + "Failed", "the start failed")
    check("libvirt did not start domain gaming" in r.message, f"the message: {r.message!r}")
    check("Domain not found" in r.message or "no domain" in r.message.lower(),
          f"it carries libvirt's message: {r.message!r}")
    check_same_state(bed.snapshot(), before, "everything undone", ignore_modules=VFIO_MODULES)
    check_eq(gpu_state(bed), "host", "State")
    check(not record_exists(bed), "no record")


@case()
def the_daemon_answers_the_hook_while_libvirt_starts_the_domain(bed):
    """libvirt runs its qemu hook from inside virDomainCreate, and the hook asks the daemon
    (PrepareGuest): the daemon starts the domain from a helper process and keeps answering.
    libvirtd is stopped (SIGSTOP) once the handoff reached its last probe, so the start waits;
    meanwhile PrepareGuest for that domain answers at once with nothing to do (the daemon is
    starting it), properties answer, and once libvirtd goes on the Handoff finishes."""
    bed.define_domain("gaming")
    before = bed.snapshot()
    fault = f"drivers_probe {AUDIO} hang"
    bed.fault(fault)
    pending = bed.method_async(GPU_PATH, GPU_IF, "Handoff", "sa{sv}", "gaming", "0", timeout=60)
    bed.wait_fault_fired(fault, pending)
    os.kill(bed.libvirtd.pid, signal.SIGSTOP)
    try:
        bed.release()
        bed.wait_for(lambda: bed.prop(GPU_PATH, "Step", GPU_IF).startswith("start the libvirt domain"),
                     "the handoff at its start-domain step", 20)
        r = prepare(bed, "gaming", (GPU, False), (AUDIO, False), timeout=10)
        check_eq(steps_of(r, "PrepareGuest while the daemon starts gaming"), [], "nothing to prepare")
        check_eq(gpu_state(bed), "releasing", "the handoff still runs")
        check(pending.running(), "the Handoff waits for libvirt")
    finally:
        os.kill(bed.libvirtd.pid, signal.SIGCONT)
    r = pending.result(30)
    check(r.ok, f"the Handoff finished once libvirtd went on: {r}")
    check_eq(bed.domain_state("gaming"), "running", "libvirt started the domain")
    check_eq(gpu_state(bed), "guest", "State")
    check_eq(bed.virsh("destroy", "gaming").code, 0, "virsh destroy gaming")
    back_to(bed, before, "after the domain stopped")


SKYLAKE = os.path.join(os.path.dirname(ACS), "intel-skylake-gtx1050ti.txt")
GTX1050, GTX1050_AUDIO, IGPU = "0000:02:00.0", "0000:02:00.1", "0000:00:02.0"
GTX1050_PATH = "/org/passthru1/device/pci_0000_02_00_0"
IGPU_PATH = "/org/passthru1/device/pci_0000_00_02_0"


@case(listing=SKYLAKE)
def a_domain_with_two_gpus(bed):
    """Domain two-gpus passes through both GPUs of the Skylake machine: the host's iGPU (boot
    VGA, consoles and frame buffer on it) and the GTX 1050 Ti. The primary GPU is the one whose
    hold is released; the other moves as a hostdev, and nobody may hold its nodes. Handing the
    GTX 1050 Ti to it would tear the iGPU from under the host: refused."""
    bed.define_domain("two-gpus")
    before = bed.snapshot()
    r = bed.method(GTX1050_PATH, GPU_IF, "Handoff", "sa{sv}", "two-gpus", "0")
    check_error(r, E + "NotViable", "Handoff of the GTX 1050 Ti to a domain that also takes the primary GPU")
    check(IGPU in (r.message or "") and "primary" in (r.message or ""), f"the message names the iGPU: {r.message!r}")
    check_same_state(bed.snapshot(), before, "nothing changed")

    plan = steps_of(bed.method(MANAGER, MANAGER_IF, "StartGuest", "sa{sv}", "two-gpus", "1", "dry-run", "b", "true"),
                    "StartGuest dry-run")
    check(any(k == "unbind-console" for k, _ in plan), f"the iGPU's consoles are released: {plan}")
    check(any(k == "probe" and GTX1050 in d for k, d in plan), f"the GTX 1050 Ti moves too: {plan}")
    check_eq(plan[-1][0], "start-domain", "then the domain starts")
    check_same_state(bed.snapshot(), before, "a dry-run changes nothing")

    holder = bed.hold_open("/dev/dri/card1")
    r = bed.method(MANAGER, MANAGER_IF, "StartGuest", "sa{sv}", "two-gpus", "0")
    check_error(r, E + "InUse", "StartGuest while a process holds the GTX 1050 Ti's card1")
    check(GTX1050 in (r.message or "") and str(holder) in (r.message or "") and "/dev/dri/card1" in (r.message or ""),
          f"the message names the GPU, the process and the node: {r.message!r}")
    check_same_state(bed.snapshot(), before, "nothing changed")
    check_eq(bed.domain_state("two-gpus"), "shut off", "the domain was not started")
    bed.stop_holder(holder)

    done = steps_of(bed.method(MANAGER, MANAGER_IF, "StartGuest", "sa{sv}", "two-gpus", "0"), "StartGuest")
    check_eq([k for k, _ in done], [k for k, _ in plan], "the steps done are the dry-run's plan")
    check_eq(bed.domain_state("two-gpus"), "running", "libvirt started the domain")
    check(on_vfio(bed, IGPU, GTX1050, GTX1050_AUDIO), "both GPUs and the audio on vfio-pci")
    check_eq(bed.prop(IGPU_PATH, "State", GPU_IF), "guest", "the iGPU's State")
    check_eq(bed.prop(IGPU_PATH, "Domain", GPU_IF), "two-gpus", "the iGPU's Domain")
    check_eq(bed.virsh("destroy", "two-gpus").code, 0, "virsh destroy two-gpus")
    bed.wait_for(lambda: bed.prop(IGPU_PATH, "State", GPU_IF) == "host", "the GPUs back on the host", 20)
    check_same_state(bed.snapshot(), before, "everything back", ignore_modules=VFIO_MODULES)
    check_eq(bed.journals(), [], "no journal")


@case(libvirt_answer_timeout=2)
def a_libvirtd_that_does_not_answer_is_a_clear_error(bed):
    """libvirtd accepts connections but does not answer (SIGSTOP): the daemon opens its own
    connection only once a helper process got an answer, so it goes on serving other calls,
    and the Handoff fails after [Libvirt] AnswerTimeoutSec= (2 s here) with Failed naming the
    URI; nothing changed. A call still waiting when the daemon is stopped gets Busy. Once
    libvirtd answers again, a Handoff works."""
    bed.define_domain("gaming")
    before = bed.snapshot()
    os.kill(bed.libvirtd.pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        pending = bed.method_async(GPU_PATH, GPU_IF, "Handoff", "sa{sv}", "gaming", "0", timeout=30)
        time.sleep(0.5)
        check(pending.running(), "the Handoff waits for libvirt")
        check_eq(gpu_state(bed), "host", "the daemon answers meanwhile")
        r = pending.result(30)
        elapsed = time.monotonic() - t0

        # A daemon told to stop while a call waits for libvirt answers it before it goes.
        helpers = len(bed.daemon_children())  # (the first probe's helper still waits for libvirtd)
        waiting = bed.method_async(GPU_PATH, GPU_IF, "Handoff", "sa{sv}", "gaming", "0", timeout=30)
        bed.wait_for(lambda: len(bed.daemon_children()) > helpers, "the second call's probe helper", 10)
        bed.kill_daemon(signal.SIGTERM)
        stopped = waiting.result(10)
        check_error(stopped, E + "Busy", "a Handoff waiting for libvirt when the daemon stops")
        check("shutting down" in (stopped.message or ""), f"the message: {stopped.message!r}")
        bed.restart_daemon()
    finally:
        os.kill(bed.libvirtd.pid, signal.SIGCONT)
    check_error(r, E + "Failed", "Handoff while libvirtd does not answer")
    m = r.message or ""
    check("Cannot reach libvirt at" in m and bed.libvirt_uri in m and "did not answer within 2 s" in m,
          f"the message names the URI and the deadline: {m!r}")
    check(elapsed < 10, f"the answer came after the deadline, not libvirt's: {elapsed:.1f} s")
    check_same_state(bed.snapshot(), before, "nothing changed")
    check_eq(gpu_state(bed), "host", "State")

    steps_of(handoff(bed, "gaming", start=False), "Handoff once libvirtd answers again")
    check_eq(bed.prop(GPU_PATH, "Domain", GPU_IF), "gaming", "Gpu.Domain")
    steps_of(give_back(bed), "Return")
    back_to(bed, before, "after the Return")


@case()
def managed_hostdevs_are_left_to_libvirt(bed):
    """managed='yes': libvirt binds and unbinds them itself; passthru releases the host's hold
    (consoles, frame buffer, nvidia modules) but does not move them."""
    bed.define_domain("managed")
    before = bed.snapshot()
    plan = steps_of(handoff(bed, "managed", dry_run=True), "dry-run")
    check(not [d for k, d in plan if k in ("probe", "unbind") and (AUDIO in d or GPU in d)],
          f"no bind or unbind of the managed functions: {plan}")
    check(("unload-module", "unload module nvidia") in plan, f"the host's hold is still released: {plan}")
    steps_of(handoff(bed, "managed"), "Handoff to managed")
    check_eq(bed.domain_state("managed"), "running", "started")
    check_eq(state_devices(bed.snapshot())[AUDIO][0], "snd_hda_intel", "the audio is libvirt's to move")
    check_eq(bed.virsh("destroy", "managed").code, 0, "virsh destroy managed")
    back_to(bed, before, "after the managed domain stopped")


@case(step_timeout=5)
def a_restarted_daemon_keeps_a_running_guests_gpu_and_returns_a_stopped_ones(bed):
    bed.define_domain("gaming")
    before = bed.snapshot()
    steps_of(handoff(bed, "gaming"), "Handoff to gaming")
    detached = bed.snapshot()
    bed.kill_daemon(signal.SIGKILL)
    bed.restart_daemon()
    check_eq(gpu_state(bed), "guest", "the running domain keeps its GPU")
    check_same_state(bed.snapshot(), detached, "nothing moved")
    bed.kill_daemon(signal.SIGKILL)
    check_eq(bed.virsh("destroy", "gaming").code, 0, "the domain stops while no daemon runs")
    bed.restart_daemon()
    back_to(bed, before, "the restarted daemon returned the stopped domain's GPU")


@case(step_timeout=5)
def libvirtd_restart_reconnects_and_resyncs(bed):
    """libvirtd goes away while the guest runs; the daemon reconnects to the new one and finds
    the domain not running (the test driver starts afresh): the GPU comes back."""
    bed.define_domain("gaming")
    before = bed.snapshot()
    steps_of(handoff(bed, "gaming"), "Handoff to gaming")
    check_eq(gpu_state(bed), "guest", "guest")
    bed.stop_libvirtd()
    bed.start_libvirtd()
    back_to(bed, before, "after libvirtd came back without the domain running")
    log = open(bed.daemon_log).read()
    check("Lost the connection to libvirt" in log and "Connected to libvirt" in log, "the log says so")


@case()
def start_guest_hands_over_the_gpu_the_domain_lists(bed):
    bed.define_domain("gaming")
    before = bed.snapshot()
    r = bed.method(MANAGER, MANAGER_IF, "StartGuest", "sa{sv}", "gaming", "0")
    done = steps_of(r, "StartGuest gaming")
    check_eq(done[-1][0], "start-domain", "started last")
    check_eq(gpu_state(bed), "guest", "guest")
    check_eq(bed.virsh("shutdown", "gaming").code, 0, "virsh shutdown gaming")
    back_to(bed, before, "after the shutdown")


@case(libvirt_answer_timeout=2)
def the_hook_methods_never_ask_libvirt(bed):
    """PrepareGuest and ReleaseGuest serve libvirt's hook, during which libvirt holds the domain:
    they must not ask libvirt about it. PrepareGuest works for a domain libvirt does not know
    (no lookup); both answer with libvirtd stopped (SIGSTOP)."""
    bed.define_domain("win10")
    before = bed.snapshot()
    r = prepare(bed, "nogpu", (USB, False))
    check_eq(steps_of(r, "PrepareGuest without a GPU"), [], "nothing to do")
    check_same_state(bed.snapshot(), before, "nothing changed")
    check_error(prepare(bed, "win10", ("26:00.0", False)), "org.freedesktop.DBus.Error.InvalidArgs",
                "an address not in the canonical form")
    check_error(prepare(bed, "bad\nname", (GPU, False)), "org.freedesktop.DBus.Error.InvalidArgs", "a bad name")
    check_same_state(bed.snapshot(), before, "nothing changed")

    done = steps_of(prepare(bed, "unknown-to-libvirt", (GPU, False), (AUDIO, False)), "PrepareGuest, no lookup")
    check("start-domain" not in [k for k, _ in done], f"libvirt starts it, not passthru: {done}")
    check(on_vfio(bed, GPU, AUDIO), "GPU and audio on vfio-pci")
    steps_of(release(bed, "unknown-to-libvirt"), "ReleaseGuest")
    back_to(bed, before, "after ReleaseGuest")

    os.kill(bed.libvirtd.pid, signal.SIGSTOP)
    try:
        done = steps_of(prepare(bed, "win10", (GPU, False), (AUDIO, False), (USB, False), timeout=15),
                        "PrepareGuest win10 with libvirtd stopped")
        check(on_vfio(bed, GPU, AUDIO, USB), "all three on vfio-pci")
        check_eq(steps_of(prepare(bed, "win10", (GPU, False), timeout=15), "PrepareGuest again"), [],
                 "prepared already: nothing")
        back = steps_of(release(bed, "win10", timeout=15), "ReleaseGuest with libvirtd stopped")
        check(back, "the Return's steps")
    finally:
        os.kill(bed.libvirtd.pid, signal.SIGCONT)
    back_to(bed, before, "after ReleaseGuest")
    check_eq(steps_of(release(bed, "win10"), "ReleaseGuest again"), [], "nothing left to release")


if __name__ == "__main__":
    sys.exit(CASES.main(sys.argv[1:]))
