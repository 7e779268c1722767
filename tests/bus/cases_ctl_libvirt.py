#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Bus-level cases of passthructl's libvirt verbs (start, guests, handoff --no-start, libvirt-hook)
run as a user (or libvirtd) runs them, against the real passthrud with a private libvirtd (libvirt's
test driver, tests/fixtures/libvirt-domains/) on the simulated AMD Matisse machine with the GTX 1650
as boot VGA (the ACS-override listing). win10 lists 26:00.0 (the GPU), 26:00.1 (its audio) and
28:00.3, managed='no'; nogpu lists 28:00.3 only. What passthructl does without the daemon's
libvirt methods is in ctl_libvirt.py. One meson test per case (`cases_ctl_libvirt.py --list`)."""

import os
import sys

from harness import (ACS, LIBVIRT_DOMAINS, VFIO_MODULES, Cases, check, check_eq, check_same_state, on_vfio,
                     gpu_prop, step_lines)
from harness import ctl_failed as failed
from harness import ctl_ok as ok

CASES = Cases(ACS)
case = CASES.case

GPU, AUDIO, USB = "0000:26:00.0", "0000:26:00.1", "0000:28:00.3"
GPU_PATH = "/org/passthru1/device/pci_0000_26_00_0"
GPU_IF = "org.passthru1.Gpu"
E = "org.passthru1.Error."
NOBODY = "65534"
HANDOFF_ACTION = "org.passthru1.gpu.handoff"




def domain_xml(name):
    with open(os.path.join(LIBVIRT_DOMAINS, name + ".xml")) as f:
        return f.read()


def hook(bed, guest, operation, sub_operation, stdin="", user=None):
    return bed.run([os.environ["PASSTHRUCTL"], "libvirt-hook", guest, operation, sub_operation, "-"],
                   user=user, input=stdin, timeout=150)


# ---------------------------------------------------------------------------------------------

@case(libvirt=True)
def ctl_start_runs_the_domain_with_its_gpu_and_destroy_returns_it(bed):
    bed.define_domain("win10")
    before = bed.snapshot()
    r = ok(bed.ctl("start", "win10"), "start win10")
    done = step_lines(r.out)
    check("start-domain" in [k for k, _ in done], f"the steps end with the domain's start: {r.out}")
    check_eq(r.out.splitlines()[-1],
             f"Handed the GPU off to win10 and started it: {len([k for k, _ in done if k != 'unchanged'])} steps.",
             "the summary line")
    check_eq(r.err, "", "nothing on standard error")
    check_eq(bed.domain_state("win10"), "running", "win10 runs")
    check(on_vfio(bed, GPU, AUDIO, USB), "the GPU, its audio and 28:00.3 on vfio-pci")
    bed.wait_for(lambda: gpu_prop(bed, "State") == "guest", "the GPU's State guest")
    check_eq(gpu_prop(bed, "Domain"), "win10", "the GPU's Domain")

    r = ok(bed.ctl("guests"), "guests")
    check_eq(r.out, "DOMAIN  STATE    DEVICES\nwin10   running  26:00.0 26:00.1 28:00.3\n", "the guests table")
    check_eq(ok(bed.ctl("guests", "--json"), "guests --json").json(),
             [{"domain": "win10", "state": "running", "devices": [GPU, AUDIO, USB]}], "guests --json")

    r = bed.virsh("destroy", "win10")
    check_eq(r.code, 0, f"virsh destroy win10: {r}")
    bed.wait_for(lambda: gpu_prop(bed, "State") == "host", "the daemon to return the GPU by itself", 60)
    check_same_state(bed.snapshot(), before, "after start + destroy", ignore_modules=VFIO_MODULES)
    r = ok(bed.ctl("guests"), "guests after the destroy")
    check_eq(r.out, "No guest holds a device handed off by passthrud.\n", "no guest")
    check_eq(ok(bed.ctl("guests", "--json"), "guests --json").out, "[]\n", "guests --json")


@case(libvirt=True)
def ctl_start_dry_run_and_json(bed):
    bed.define_domain("win10")
    before = bed.snapshot()
    r = ok(bed.ctl("start", "win10", "--dry-run"), "start --dry-run")
    lines = r.out.splitlines()
    check_eq(lines[0], "Would do:", "the heading")
    check_eq(lines[-1], "Consumers: none.", "no consumers")
    check("start-domain" in [k for k, _ in step_lines(r.out)], f"the plan starts the domain: {r.out}")
    check_same_state(bed.snapshot(), before, "a dry run changes nothing")
    check_eq(bed.domain_state("win10"), "shut off", "a dry run starts nothing")
    data = ok(bed.ctl("start", "win10", "--json"), "start --json").json()
    check_eq(set(data), {"steps"}, "start --json keys")
    check("start-domain" in [s["step"] for s in data["steps"]], f"the steps: {data}")
    check_eq(bed.domain_state("win10"), "running", "win10 runs")


@case(libvirt=True)
def ctl_start_of_a_domain_without_gpu_is_not_viable(bed):
    bed.define_domain("nogpu")
    before = bed.snapshot()
    r = failed(bed.ctl("start", "nogpu"), E + "NotViable", "start nogpu")
    check(f"passthructl: {E}NotViable: " in r.err, f"the error's form: {r.err!r}")
    check_eq(r.out, "", "nothing on standard output")
    check_eq(bed.domain_state("nogpu"), "shut off", "nogpu not started")
    check_same_state(bed.snapshot(), before, "nothing changed")


@case(libvirt=True)
def ctl_start_of_an_unknown_domain(bed):
    before = bed.snapshot()
    r = failed(bed.ctl("start", "nosuch"), E + "NoSuchDomain", "start nosuch")
    check(f"passthructl: {E}NoSuchDomain: " in r.err, f"the error's form: {r.err!r}")
    failed(bed.ctl("start", "nosuch", "--dry-run", "--json"), E + "NoSuchDomain", "start nosuch --dry-run --json")
    check_same_state(bed.snapshot(), before, "nothing changed")


@case(libvirt=True)
def ctl_handoff_no_start_leaves_the_domain_off(bed):
    bed.define_domain("win10")
    before = bed.snapshot()
    r = ok(bed.ctl("handoff", "26:00.0", "win10", "--no-start"), "handoff --no-start")
    n = len([k for k, _ in step_lines(r.out) if k != "unchanged"])
    check("start-domain" not in [k for k, _ in step_lines(r.out)], f"no start-domain step: {r.out}")
    check_eq(r.out.splitlines()[-1], f"Handed {GPU} off (domain win10, not started): {n} steps.", "the summary")
    check_eq(bed.domain_state("win10"), "shut off", "win10 not started")
    check_eq((gpu_prop(bed, "State"), gpu_prop(bed, "Domain")), ("detached", "win10"), "State, Domain")
    r = ok(bed.ctl("guests", "--json"), "guests --json")
    check_eq(r.json(), [{"domain": "win10", "state": "shut off", "devices": [GPU, AUDIO, USB]}], "guests --json")
    ok(bed.ctl("return", "26:00.0"), "return")
    check_same_state(bed.snapshot(), before, "after handoff --no-start + return", ignore_modules=VFIO_MODULES)


@case(libvirt=True)
def ctl_libvirt_hook_prepare_begin_and_release_end(bed):
    """libvirtd's calls, by hand: the domain XML on standard input, as root."""
    bed.define_domain("win10")
    before = bed.snapshot()
    r = hook(bed, "win10", "prepare", "begin", domain_xml("win10"))
    check_eq((r.code, r.out, r.err), (0, "", ""), f"prepare begin: {r}")
    check(on_vfio(bed, GPU, AUDIO, USB), "the GPU, its audio and 28:00.3 on vfio-pci")
    check_eq(gpu_prop(bed, "Domain"), "win10", "the GPU's Domain")
    check_eq(bed.domain_state("win10"), "shut off", "the hook starts nothing (libvirt does)")
    prepared, events = bed.snapshot(), len(bed.uevents())
    for op, sub in (("start", "begin"), ("started", "begin"), ("stopped", "end")):
        r = hook(bed, "win10", op, sub, domain_xml("win10"))
        check_eq((r.code, r.out, r.err), (0, "", ""), f"{op} {sub}: {r}")
    check_same_state(bed.snapshot(), prepared, "the other operations change nothing")
    check_eq(len(bed.uevents()), events, "... no uevent")
    check_eq(gpu_prop(bed, "State"), "detached", "... still handed off")
    r = hook(bed, "win10", "release", "end", domain_xml("win10"))
    check_eq((r.code, r.out, r.err), (0, "", ""), f"release end: {r}")
    bed.wait_for(lambda: gpu_prop(bed, "State") == "host", "the GPU back on the host")
    check_same_state(bed.snapshot(), before, "after prepare + release", ignore_modules=VFIO_MODULES)
    r = hook(bed, "win10", "release", "end")
    check_eq((r.code, r.out, r.err), (0, "", ""), f"a second release end: nothing to do: {r}")


@case(libvirt=True)
def ctl_libvirt_hook_without_gpu_changes_nothing(bed):
    bed.define_domain("nogpu")
    before = bed.snapshot()
    r = hook(bed, "nogpu", "prepare", "begin", domain_xml("nogpu"))
    check_eq((r.code, r.out, r.err), (0, "", ""), f"prepare begin of nogpu (no GPU: an empty reply): {r}")
    r = hook(bed, "nogpu", "release", "end")
    check_eq((r.code, r.out, r.err), (0, "", ""), f"release end of nogpu: {r}")
    check_same_state(bed.snapshot(), before, "nothing changed")


@case(libvirt=True)
def ctl_libvirt_hook_never_asks_for_a_password(bed):
    """Not root: polkit is asked without interaction, whatever it would allow with it."""
    bed.define_domain("win10")
    before = bed.snapshot()
    bed.start_polkit(allowed=[])
    bed.polkit_challenge(HANDOFF_ACTION)
    r = hook(bed, "win10", "prepare", "begin", domain_xml("win10"), user=NOBODY)
    check_eq(r.code, 1, f"prepare begin as nobody: {r}")
    check(r.err.startswith("passthru: ") and "\n" == r.err[-1] and r.err.count("\n") == 1,
          f"one line, the daemon's message: {r.err!r}")
    check_eq([(c["action"], c["flags"]) for c in bed.polkit_checks()], [(HANDOFF_ACTION, 0)],
             "polkit asked once, without interaction")
    check_same_state(bed.snapshot(), before, "nothing changed")


@case(libvirt=True, exclusive=True)
def ctl_libvirt_hook_refusal_is_the_daemons_message(bed):
    bed.define_domain("win10")
    before = bed.snapshot()
    pid = bed.hold_open("/dev/dri/card0")
    r = hook(bed, "win10", "prepare", "begin", domain_xml("win10"))
    check_eq((r.code, r.out), (1, ""), f"prepare begin while card0 is held: {r}")
    check(r.err.startswith("passthru: ") and str(pid) in r.err and "/dev/dri/card0" in r.err,
          f"the daemon's InUse message, naming the process: {r.err!r}")
    check(E not in r.err, f"the message only, not the error's name: {r.err!r}")
    check_same_state(bed.snapshot(), before, "nothing changed")


if __name__ == "__main__":
    sys.exit(CASES.main(sys.argv[1:]))
