#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Bus-level cases of passthructl's GPU handoff verbs (handoff, return, consumers, and what status
and monitor show of a handoff), run as a user runs them against the real passthrud on the simulated
AMD Matisse machine with the GTX 1650 as boot VGA (the ACS-override listing: vtcon1 on the frame
buffer, efi-framebuffer.0 bound, nvidia_uvm, nvidia_drm and nvidia_modeset holding nvidia). The
daemon's side of the handoff is in cases_handoff.py. One meson test per case
(`cases_ctl_handoff.py --list`)."""

import json
import os
import re
import signal
import subprocess
import sys
import time

from harness import (ACS, STEP_LINE, VFIO_MODULES, Cases, check, check_eq, check_same_state, gpu_prop, state_devices,
                     step_lines)
from harness import ctl_failed as failed
from harness import ctl_ok as ok

CASES = Cases(ACS)
case = CASES.case


GPU, AUDIO = "0000:26:00.0", "0000:26:00.1"
GPU_PATH = "/org/passthru1/device/pci_0000_26_00_0"
GPU_IF = "org.passthru1.Gpu"
E = "org.passthru1.Error."
NOBODY = "65534"
HANDOFF_ACTION = "org.passthru1.gpu.handoff"
ACCESS_DENIED = "org.freedesktop.DBus.Error.AccessDenied"
INTERACTIVE_REQUIRED = "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired"
USAGE_HINT = "Try 'passthructl --help' for more information."





def check_step_layout(out, what):
    """Every step line pads its step to 18 columns (or, longer, follows it with two spaces)."""
    for l in out.splitlines():
        m = STEP_LINE.match(l)
        if not m:
            continue
        step = m.group(1)
        want = f"  {step.ljust(18)}  " if len(step) <= 18 else f"  {step}  "
        check(l.startswith(want) and not l[len(want)].isspace(), f"{what}: step line layout {l!r}")


def json_steps(r, what):
    """The steps of `handoff --json` / `return --json`: {"steps": [...], ...}."""
    ok(r, what)
    data = r.json()
    check(isinstance(data, dict), f"{what}: a JSON object: {r.out[:300]!r}")
    check(isinstance(data.get("steps"), list), f"{what}: a steps array: {data!r}")
    for s in data["steps"]:
        check(isinstance(s, dict) and set(s) == {"step", "description"}, f"{what}: step object {s!r}")
    return data, [(s["step"], s["description"]) for s in data["steps"]]


def status_gpu(bed):
    """The status --json object of the GTX 1650."""
    r = ok(bed.ctl("status", "--json"), "status --json")
    gpus = [g for g in r.json()["gpus"] if g["address"] == GPU]
    check_eq(len(gpus), 1, "the GPU in status --json")
    return gpus[0]


def status_state_line(bed):
    r = ok(bed.ctl("status"), "status")
    lines = [l.strip() for l in r.out.splitlines() if l.strip().startswith("State:")]
    check_eq(len(lines), 1, f"one State line in status: {r.out}")
    return lines[0]


# ---------------------------------------------------------------------------------------------

@case()
def ctl_handoff_and_return(bed):
    before = bed.snapshot()
    _, plan = json_steps(bed.ctl("handoff", "26:00.0", "--dry-run", "--json"), "handoff --dry-run --json")
    check_eq(status_state_line(bed), "State: host", "status before")

    r = ok(bed.ctl("handoff", "26:00.0"), "handoff 26:00.0")
    lines = r.out.splitlines()
    done = step_lines(r.out)
    # Each step once: those the Progress signals showed are not repeated from the reply.
    check_eq(done, plan, f"the steps printed are the plan, each once:\n{r.out}")
    kinds = [k for k, _ in done]
    for k in ("unbind-console", "unbind-framebuffer", "set-override", "unload-module", "probe"):
        check(k in kinds, f"the output names the step {k}: {r.out}")
    check_step_layout(r.out, "handoff")
    check_eq(lines[-1], f"Handed {GPU} off (no domain): {len(done)} steps.", "the summary line")
    check_eq(r.err, "", "nothing on standard error")
    devices = state_devices(bed.snapshot())
    check_eq(devices[GPU], ("vfio-pci", "vfio-pci"), "the GPU on vfio-pci")
    check_eq(devices[AUDIO], ("vfio-pci", "vfio-pci"), "its audio on vfio-pci")

    check_eq(status_state_line(bed), "State: detached", "status after the handoff")
    gpu = status_gpu(bed)
    check_eq((gpu["gpu"]["state"], gpu["gpu"]["domain"]), ("detached", ""), "status --json gpu state, domain")
    r = ok(bed.ctl("consumers", "26:00.0"), "consumers")
    check_eq(r.out, f"No process holds {GPU}'s nodes.\n", "consumers of the handed-off GPU")
    check_eq(ok(bed.ctl("consumers", GPU, "--json"), "consumers --json").json(), {"consumers": []}, "consumers --json")

    r = failed(bed.ctl("handoff", "26:00.0"), E + "Busy", "a second handoff")
    check(f"passthructl: {E}Busy: " in r.err, f"the error's form: {r.err!r}")

    r = ok(bed.ctl("return", "pci_0000_26_00_0"), "return")
    back = step_lines(r.out)
    check([d.split()[-1] for k, d in back if k == "load-module"] == ["nvidia", "nvidia_uvm", "nvidia_modeset",
                                                                    "nvidia_drm"], f"the modules reloaded: {r.out}")
    check_eq(r.out.splitlines()[-1], f"Returned {GPU} to the host: {len(back)} steps.", "the summary line")
    check_same_state(bed.snapshot(), before, "after handoff + return", ignore_modules=VFIO_MODULES)
    check_eq(status_state_line(bed), "State: host", "status after the return")
    check_eq(gpu_prop(bed, "Domain"), "", "Domain after the return")


@case()
def ctl_handoff_without_domain_is_detach_only(bed):
    before = bed.snapshot()
    r = ok(bed.ctl("handoff", "26:00.0"), "handoff without a domain")
    n = len(step_lines(r.out))
    check_eq(r.out.splitlines()[-1], f"Handed {GPU} off (no domain): {n} steps.", "the summary line")
    check_eq(gpu_prop(bed, "Domain"), "", "no domain recorded")
    check_eq(status_state_line(bed), "State: detached", "status")
    ok(bed.ctl("return", "26:00.0", "--no-ask-password"), "return --no-ask-password (as root)")
    check_same_state(bed.snapshot(), before, "after handoff + return", ignore_modules=VFIO_MODULES)


@case()
def ctl_handoff_dry_run_changes_nothing(bed):
    before, events = bed.snapshot(), len(bed.uevents())
    r = ok(bed.ctl("handoff", "26:00.0", "--dry-run"), "handoff --dry-run")
    lines = r.out.splitlines()
    check_eq(lines[0], "Would do:", "the heading")
    check_eq(lines[-1], "Consumers: none.", "no consumers")
    plan = step_lines(r.out)
    check([k for k, _ in plan][:2] == ["unbind-console", "unbind-framebuffer"], f"the plan: {r.out}")
    check(not any("Handed" in l for l in lines), "no summary line for a dry run")
    data, steps = json_steps(bed.ctl("handoff", "26:00.0", "--dry-run", "--json=pretty"), "--json=pretty")
    check_eq(set(data), {"steps", "consumers"}, "the keys of a dry run")
    check_eq(data["consumers"], [], "no consumers")
    check_eq(steps, plan, "the JSON plan is the human one")
    check_same_state(bed.snapshot(), before, "after the dry runs")
    check_eq(len(bed.uevents()), events, "no uevent")
    check_eq(gpu_prop(bed, "State"), "host", "State")
    check_eq(bed.journals(), [], "no journal")


@case()
def ctl_return_of_a_gpu_not_handed_off_is_refused(bed):
    before = bed.snapshot()
    for args in (("return", "26:00.0"), ("return", "26:00.0", "--dry-run"), ("return", GPU, "--json")):
        r = failed(bed.ctl(*args), E + "NotSupported", " ".join(args))
        check_eq(r.out, "", f"{' '.join(args)}: nothing on standard output")
        check(f"passthructl: {E}NotSupported: " in r.err, f"the error's form: {r.err!r}")
    check_same_state(bed.snapshot(), before, "nothing changed")


@case(exclusive=True)
def ctl_consumers_and_handoff_refused_while_card0_is_held(bed):
    before, events = bed.snapshot(), len(bed.uevents())
    pid = bed.hold_open("/dev/dri/card0")

    r = ok(bed.ctl("consumers", "26:00.0"), "consumers")
    rows = [l.split() for l in r.out.splitlines()]
    check_eq(rows[0], ["PID", "COMMAND", "NODE"], "the header")
    check([str(pid), "sleep", "/dev/dri/card0"] in rows[1:], f"the holder is listed: {r.out}")
    data = ok(bed.ctl("consumers", "26:00.0", "--json"), "consumers --json").json()
    check_eq(set(data), {"consumers"}, "consumers --json keys")
    check({"pid": pid, "command": "sleep", "node": "/dev/dri/card0"} in data["consumers"], f"the holder: {data}")
    for c in data["consumers"]:
        check_eq(set(c), {"pid", "command", "node"}, f"consumer keys {c}")

    r = ok(bed.ctl("handoff", "26:00.0", "--dry-run"), "handoff --dry-run with a consumer")
    lines = r.out.splitlines()
    head = lines.index("Consumers (the handoff is refused while they hold these nodes):")
    check(f"  sleep (pid {pid}) holds /dev/dri/card0" in lines[head + 1:], f"the consumer: {r.out}")
    check("consumer" not in [k for k, _ in step_lines("\n".join(lines[:head]))], "consumers are not steps")
    data, steps = json_steps(bed.ctl("handoff", "26:00.0", "--dry-run", "--json"), "dry run --json")
    check({"pid": pid, "command": "sleep", "node": "/dev/dri/card0"} in data["consumers"], f"consumers: {data}")
    check("consumer" not in [k for k, _ in steps], "consumers are not in the steps")

    r = failed(bed.ctl("handoff", "26:00.0"), E + "InUse", "handoff while /dev/dri/card0 is held")
    check(str(pid) in r.err and "/dev/dri/card0" in r.err, f"it names the process and node: {r.err!r}")
    check_same_state(bed.snapshot(), before, "nothing changed")
    check_eq(len(bed.uevents()), events, "no uevent")
    bed.stop_holder(pid)
    ok(bed.ctl("handoff", "26:00.0", "--json"), "handoff once the process is gone")
    check_eq(gpu_prop(bed, "State"), "detached", "State")


@case()
def ctl_handoff_refuses_what_is_no_gpu(bed):
    before = bed.snapshot()
    for verb in ("handoff", "return", "consumers"):
        r = bed.ctl(verb, "26:00.1")
        check_eq(r.code, 1, f"{verb} 26:00.1: {r}")
        check_eq(r.err, f"passthructl: {AUDIO} is not a GPU (a display-class PCI function): handoff, return and "
                 "consumers take the address of a GPU; 'passthructl status' lists them.\n", f"{verb}: the message")
        check_eq(r.out, "", f"{verb}: nothing on standard output")
    failed(bed.ctl("handoff", "99:00.0"), E + "NoSuchDevice", "handoff of a missing function")
    failed(bed.ctl("consumers", "26:00.9"), "org.freedesktop.DBus.Error.InvalidArgs", "an invalid address")
    failed(bed.ctl("handoff", "26:00.0", "bad\tname"), "org.freedesktop.DBus.Error.InvalidArgs", "a bad domain")
    check_same_state(bed.snapshot(), before, "nothing changed")


@case()
def ctl_handoff_usage_errors_exit_2(bed):
    before, events = bed.snapshot(), len(bed.uevents())
    for args, message in ((("handoff",), "'handoff' needs the ADDRESS of a GPU."),
                          (("handoff", "group", "23"), "'handoff' takes the ADDRESS of a GPU, not a group:"),
                          (("handoff", "26:00.0", "win10", "win11"), "Too many arguments for 'handoff':"),
                          (("return", "26:00.0", "--stop-display-manager"),
                           "Option '--stop-display-manager' is only for 'handoff' and 'start'."),
                          (("handoff", "26:00.0", "--override"),
                           "Option '--override' is only for 'detach', 'reattach' and 'reserve'."),
                          (("consumers", "26:00.0", "--dry-run"),
                           "Option '--dry-run' is only for 'detach', 'reattach', 'handoff', 'return' and 'start'."),
                          (("return",), "'return' needs the ADDRESS of a GPU."),
                          (("consumers", "26:00.0", "26:00.1"), "Too many arguments for 'consumers':")):
        r = bed.ctl(*args)
        check_eq(r.code, 2, f"passthructl {' '.join(args)}: {r}")
        check(f"passthructl: {message}" in r.err and USAGE_HINT in r.err, f"{' '.join(args)}: {r.err!r}")
        check_eq(r.out, "", f"{' '.join(args)}: nothing on standard output")
    check_same_state(bed.snapshot(), before, "nothing changed")
    check_eq(len(bed.uevents()), events, "no uevent")


@case()
def ctl_handoff_json_outputs_parse(bed):
    before = bed.snapshot()
    data, steps = json_steps(bed.ctl("handoff", "26:00.0", "--json"), "handoff --json")
    check_eq(set(data), {"steps"}, "no consumers key without --dry-run")
    check(("set-override", f"{GPU}: driver_override = vfio-pci") in steps, f"the steps: {steps}")
    gpu = status_gpu(bed)
    check_eq(gpu["gpu"]["state"], "detached", "status --json")
    check_eq(gpu["gpu"]["domain"], "", "status --json")
    data, plan = json_steps(bed.ctl("return", "26:00.0", "--dry-run", "--json=pretty"), "return --dry-run --json")
    check_eq(set(data), {"steps"}, "return --json keys")
    check_eq(gpu_prop(bed, "State"), "detached", "a dry run of return changes nothing")
    data, back = json_steps(bed.ctl("return", "26:00.0", "--json"), "return --json")
    check_eq(back, plan, "the return done is its plan")
    check_same_state(bed.snapshot(), before, "after handoff + return", ignore_modules=VFIO_MODULES)


@case(step_timeout=2)
def ctl_handoff_failure_shows_progress_and_rollback(bed):
    """The live lines come from the Progress signals of the GPU's group: on failure the reply has no
    steps, so what is printed was announced."""
    before = bed.snapshot()
    bed.fault(f"driver_override {AUDIO} errno EIO")
    r = failed(bed.ctl("handoff", "26:00.0"), E + "Failed", "handoff with 26:00.1's override failing")
    shown = step_lines(r.out)
    kinds = [k for k, _ in shown]
    check(("set-override", f"{GPU}: driver_override = vfio-pci") in shown, f"the GPU's steps were shown: {r.out}")
    check(("set-override", f"{AUDIO}: driver_override = vfio-pci") in shown, f"the failing step was shown: {r.out}")
    check("rollback" in kinds and kinds.index("rollback") > kinds.index("set-override"), f"the undo: {r.out}")
    check(not any(l.startswith("Handed") for l in r.out.splitlines()), "no summary line")
    check(f"passthructl: {E}Failed: " in r.err, f"the error's form: {r.err!r}")
    check_same_state(bed.snapshot(), before, "everything undone")
    check_eq(gpu_prop(bed, "State"), "host", "State")


@case()
def ctl_handoff_stop_display_manager_option_reaches_the_daemon(bed):
    before = bed.snapshot()
    bed.start_systemd()
    r = ok(bed.ctl("handoff", "26:00.0", "--dry-run", "--stop-display-manager"), "dry run")
    check_eq([k for k, _ in step_lines(r.out)][:2], ["stop-unit", "check-consumers"], f"the plan: {r.out}")
    check_eq(bed.unit_state(), "active", "a dry run stops nothing")
    r = ok(bed.ctl("handoff", "26:00.0", "--stop-display-manager"), "handoff --stop-display-manager")
    check_eq(step_lines(r.out)[0][0], "stop-unit", f"the display manager is stopped first: {r.out}")
    check_eq(bed.unit_state(), "inactive", "the display manager is stopped")
    r = ok(bed.ctl("return", "26:00.0"), "return")
    check_eq(step_lines(r.out)[-1][0], "start-unit", f"and started again last: {r.out}")
    check_eq(bed.unit_state(), "active", "the display manager runs again")
    check_same_state(bed.snapshot(), before, "after handoff + return", ignore_modules=VFIO_MODULES)


@case()
def ctl_handoff_authorization(bed):
    """As an unprivileged user: refused by polkit; with authentication needed, --no-ask-password
    fails with InteractiveAuthorizationRequired and without it the call allows interaction (the
    mock authenticates). consumers needs no authorization."""
    before = bed.snapshot()
    bed.start_polkit(allowed=[])
    failed(bed.ctl("handoff", "26:00.0", user=NOBODY), ACCESS_DENIED, "handoff as nobody, polkit denying")
    failed(bed.ctl("handoff", "26:00.0", "--dry-run", user=NOBODY), ACCESS_DENIED, "a dry run is authorized too")
    ok(bed.ctl("consumers", "26:00.0", user=NOBODY), "consumers as nobody")
    check_same_state(bed.snapshot(), before, "nothing changed")
    bed.polkit_challenge(HANDOFF_ACTION)
    failed(bed.ctl("handoff", "26:00.0", "--no-ask-password", user=NOBODY), INTERACTIVE_REQUIRED,
           "handoff --no-ask-password as nobody")
    check_same_state(bed.snapshot(), before, "nothing changed")
    ok(bed.ctl("handoff", "26:00.0", "--json", user=NOBODY), "handoff as nobody, interaction allowed")
    # passthructl allows interaction unless told --no-ask-password (the two refused calls before
    # polkit_challenge included).
    checks = bed.polkit_checks()
    check_eq([(c["action"], c["flags"]) for c in checks], [(HANDOFF_ACTION, 1)] * 2 + [(HANDOFF_ACTION, 0),
                                                                                       (HANDOFF_ACTION, 1)],
             "polkit's questions")
    check_eq(checks[-1]["details"].get("domain"), "", f"details: {checks[-1]['details']}")
    ok(bed.ctl("return", "26:00.0", "--json", user=NOBODY), "return as nobody, interaction allowed")
    check_same_state(bed.snapshot(), before, "after handoff + return", ignore_modules=VFIO_MODULES)


def read_monitor(p):
    """Stops a running `passthructl monitor` (SIGTERM: exit 0) and returns its standard output."""
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=10)
    check_eq(p.returncode, 0, f"monitor exit status; stderr: {err}")
    return out


@case()
def ctl_monitor_prints_state_changes_and_steps(bed):
    argv = [os.environ["PASSTHRUCTL"], "monitor"]
    monitors = [subprocess.Popen(argv + extra, env=bed.env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                for extra in ([], ["--json"])]
    try:
        for p in monitors:
            line = p.stderr.readline()
            check("Monitoring org.passthru1" in line, f"monitor started: {line!r}")
        ok(bed.ctl("handoff", "26:00.0"), "handoff")
        ok(bed.ctl("return", "26:00.0"), "return")
        # StateChanged of the return is sent before its reply; the monitors may still be reading.
        time.sleep(0.5)
        human, js = (read_monitor(p) for p in monitors)
    finally:
        for p in monitors:
            if p.poll() is None:
                p.kill()
                p.communicate()

    states = re.findall(r'^state device 0000:26:00\.0 State="(\w+)" Domain="([^"]*)"$', human, re.M)
    check_eq(states, [("releasing", ""), ("detached", ""), ("returning", ""), ("host", "")],
             f"the state lines; monitor printed:\n{human[-3000:]}")
    check('changed device 0000:26:00.0 Step="unload module nvidia"' in human, f"the Step changes: {human[-3000:]}")

    events = [json.loads(l) for l in js.splitlines()]
    state_events = [e for e in events if e["event"] == "state"]
    check_eq([(e["properties"]["State"], e["properties"]["Domain"]) for e in state_events], states,
             "the JSON state events")
    for e in state_events:
        check_eq((e["kind"], e["path"], e["address"]), ("device", GPU_PATH, GPU), f"the state event {e}")
        check_eq(set(e), {"event", "kind", "path", "address", "properties"}, "the keys of a state event")
    steps = [e["properties"]["Step"] for e in events if e["event"] == "changed" and "Step" in e["properties"]]
    check("unload module nvidia" in steps, f"the Step changes in JSON: {steps}")


if __name__ == "__main__":
    sys.exit(CASES.main(sys.argv[1:]))
