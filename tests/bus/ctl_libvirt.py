#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""passthructl's libvirt verbs (libvirt-hook, start, guests, handoff --no-start) where no passthrud
with the libvirt methods is needed: "hook_*" cases run without any bus (DBUS_SYSTEM_BUS_ADDRESS
points nowhere, so whatever reaches for the bus fails with "Cannot connect"), "fake_*" cases
against fake_passthrud.py, a python-dbusmock stand-in that answers as dbus/org.passthru1.xml says,
on a private system bus. What the real daemon does with the calls is in cases_ctl_libvirt.py.
One meson test per case (`ctl_libvirt.py --list`)."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from harness import BUS_CONFIG, LIBVIRT_DOMAINS, SOURCE_DIR, STEP_LINE, Failure, Result, check, check_eq, step_lines

FAKE = os.path.join(SOURCE_DIR, "tests", "bus", "fake_passthrud.py")
NO_BUS = "unix:path=/nonexistent/passthru-test-bus"
HOOK_XML_MAX = 16 * 1024 * 1024
E = "org.passthru1.Error."
NAME_RULE = ("passthru: The guest's name is not one passthru accepts: it must be valid UTF-8 without "
             "control characters, of 1 to 256 characters.\n")
# D-Bus header flags (busctl monitor --json "flags").
NO_AUTO_START, ALLOW_INTERACTIVE_AUTHORIZATION = 0x2, 0x4

GPU, AUDIO, USB = "0000:26:00.0", "0000:26:00.1", "0000:28:00.3"
DEVICE = "/org/passthru1/device/pci_"
PLAN = [
    ("unbind-console", "unbind virtual console vtcon1 from the frame buffer"),
    ("set-override", "0000:26:00.0: driver_override = vfio-pci"),
    ("unbind", "0000:26:00.0: unbind from nvidia"),
    ("probe", "0000:26:00.0: bound to vfio-pci"),
    ("unchanged", "0000:28:00.3: already on vfio-pci"),
    ("start-domain", "start the libvirt domain win10"),
]


def domain_xml(name, devices=""):
    return (f"<domain type='kvm'><name>{name}</name><memory unit='MiB'>1024</memory>"
            f"<os><type arch='x86_64'>hvm</type></os><devices>{devices}</devices></domain>\n")


def pci_hostdev(domain, bus, slot, function, managed=None):
    m = "" if managed is None else f" managed='{managed}'"
    return (f"<hostdev mode='subsystem' type='pci'{m}><source><address domain='{domain}' bus='{bus}' "
            f"slot='{slot}' function='{function}'/></source></hostdev>")


def fixture(name):
    with open(os.path.join(LIBVIRT_DOMAINS, name + ".xml")) as f:
        return f.read()


def ctl_argv(*args):
    return [os.environ["PASSTHRUCTL"], *args]


def run(argv, env, stdin=None, timeout=30):
    """argv (str or bytes elements) with stdin text/bytes; output decoded leniently."""
    data = stdin.encode() if isinstance(stdin, str) else stdin
    p = subprocess.run(argv, env=env, input=data if data is not None else b"",
                       capture_output=True, timeout=timeout)
    return Result(subprocess.CompletedProcess(argv, p.returncode, p.stdout.decode(errors="replace"),
                                              p.stderr.decode(errors="replace")))


def no_bus_env():
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=NO_BUS, NO_COLOR="1")
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    return env


def hook(*args, stdin=None, env=None):
    return run(ctl_argv("libvirt-hook", *args), env or no_bus_env(), stdin)


def quiet_success(r, what):
    check_eq((r.code, r.out, r.err), (0, "", ""), f"{what}: exit 0, no output; {r}")


def failure(r, err, what):
    """Exit 1, nothing on standard output, exactly err on standard error."""
    check_eq((r.code, r.out, r.err), (1, "", err), f"{what}: {r}")


def cannot_connect(r, what):
    check_eq(r.code, 1, f"{what}: {r}")
    check_eq(r.out, "", f"{what}: nothing on standard output")
    check(r.err.startswith(f"passthru: Cannot connect to the system bus ({NO_BUS})"),
          f"{what}: it reached for the bus: {r.err!r}")


# ---- the private bus and the stand-in daemon ------------------------------------------------

class FakeBed:
    """A private dbus-daemon playing the system bus (the project's bus policy; root may become a
    monitor) and, unless daemon=False, fake_passthrud.py owning org.passthru1."""

    def __init__(self, daemon=True):
        self.dir = tempfile.mkdtemp(prefix="passthru-ctl-libvirt-")
        self.socket = os.path.join(self.dir, "system_bus_socket")
        self.fake_log = os.path.join(self.dir, "fake.log")
        self.env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=f"unix:path={self.socket}", NO_COLOR="1")
        self.env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        self.daemon = daemon
        self.bus = self.fake = self.monitor = None

    def start(self):
        policy = os.path.join(SOURCE_DIR, "dbus", "org.passthru1.conf")
        monitoring = ('  <policy user="root"><allow send_destination="org.freedesktop.DBus" '
                      'send_interface="org.freedesktop.DBus.Monitoring"/></policy>\n</busconfig>')
        conf = os.path.join(self.dir, "bus.conf")
        with open(BUS_CONFIG) as f:
            text = f.read().replace("@SOCKET@", self.socket).replace("@POLICY@", policy)
        with open(conf, "w") as f:
            f.write(text.replace("</busconfig>", monitoring))
        self.bus = subprocess.Popen(["dbus-daemon", "--config-file", conf, "--nofork", "--nopidfile"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.wait_for(lambda: os.path.exists(self.socket), "the private bus socket")
        if self.daemon:
            self.fake = subprocess.Popen(["/usr/bin/python3", "-m", "dbusmock", "--template", FAKE,
                                          "-l", self.fake_log], env=self.env,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
            self.wait_for(self.fake_ready, "the stand-in passthrud on the bus")

    def stop(self):
        for p in (self.monitor, self.fake, self.bus):
            if p and p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def print_log(self):
        try:
            print("---- fake passthrud log ----")
            print(open(self.fake_log).read()[-6000:])
        except OSError:
            pass

    def wait_for(self, cond, what, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cond():
                return
            if self.fake and self.fake.poll() is not None:
                raise Failure(f"the stand-in passthrud exited with {self.fake.returncode} waiting for {what}")
            time.sleep(0.02)
        raise Failure(f"timed out waiting for {what}")

    def fake_ready(self):
        # The template's objects exist once load() ran: GetGuests answers.
        return self.busctl("call", "org.passthru1", "/org/passthru1", "org.passthru1.Manager", "GetGuests").code == 0

    def busctl(self, *args):
        return run(["busctl", "--system", *args], self.env)

    def ctl(self, *args, stdin=None):
        return run(ctl_argv(*args), self.env, stdin)

    def hook(self, *args, stdin=None):
        return run(ctl_argv("libvirt-hook", *args), self.env, stdin)

    def calls(self, method, path="/org/passthru1"):
        """The arguments of each call of method the stand-in got, as busctl --json gives them."""
        r = self.busctl("--json=short", "call", "org.passthru1", path, "org.freedesktop.DBus.Mock",
                        "GetMethodCalls", "s", method)
        check_eq(r.code, 0, f"GetMethodCalls {method}: {r}")
        return [[a["data"] for a in args] for _, args in r.json()["data"][0]]

    def set_guests(self, guests):
        args = ["a(ssao)", str(len(guests))]
        for domain, state, paths in guests:
            args += [domain, state, str(len(paths)), *paths]
        r = self.busctl("call", "org.passthru1", "/org/passthru1", "org.passthru1.test.Fake", "SetGuests", *args)
        check_eq(r.code, 0, f"SetGuests: {r}")

    def start_monitor(self):
        self.monitor_out = os.path.join(self.dir, "monitor.json")
        self.monitor = subprocess.Popen(["busctl", "--system", "monitor", "--json=short", "org.passthru1"],
                                        env=self.env, stdout=open(self.monitor_out, "w"),
                                        stderr=subprocess.PIPE, text=True)
        line = self.monitor.stderr.readline()
        check("Monitoring" in line, f"busctl monitor started: {line!r}")

    def method_calls_seen(self, member, count):
        """(flags, payload) of the calls of member the monitor saw, once there are count."""
        def seen():
            out = []
            with open(self.monitor_out) as f:
                for line in f:
                    try:
                        m = json.loads(line)
                    except json.JSONDecodeError:
                        continue  # the line being written
                    if m.get("type") == "method_call" and m.get("member") == member:
                        out.append((m["flags"], m.get("payload", {}).get("data")))
            return out
        self.wait_for(lambda: len(seen()) >= count, f"{count} {member} call(s) on the monitor", 10)
        return seen()


# ---- cases ----------------------------------------------------------------------------------

CASES = {}


def case(fake=None):
    """fake: None (no bus at all), "daemon" (the stand-in on a private bus), "bus" (the bus alone)."""
    def register(fn):
        CASES[fn.__name__] = (fn, fake)
        return fn
    return register


@case()
def hook_other_operations_do_nothing(_):
    xml = fixture("win10")
    for op, sub in (("start", "begin"), ("started", "begin"), ("stopped", "end"), ("release", "begin"),
                    ("prepare", "end"), ("migrate", "begin"), ("restore", "begin"), ("reconnect", "begin"),
                    ("attach", "begin"), ("some-future-operation", "-")):
        quiet_success(hook("win10", op, sub, "-", stdin=xml), f"{op} {sub}")
        # Also for a name the hook would refuse: not its business here.
        quiet_success(hook("bad\tname", op, sub, "-", stdin=xml), f"{op} {sub} of a strange name")
    quiet_success(hook("win10", "started", "begin"), "three arguments")
    quiet_success(hook("win10", "started", "begin", "-", "an-argument-of-the-future"), "five arguments")


@case()
def hook_other_operations_do_not_wait_for_stdin(_):
    """Standard input a pipe that never ends: operations other than prepare and release do not read it."""
    rfd, wfd = os.pipe()
    try:
        for op, sub in (("started", "begin"), ("stopped", "end"), ("migrate", "begin")):
            p = subprocess.run(ctl_argv("libvirt-hook", "win10", op, sub, "-"), env=no_bus_env(), stdin=rfd,
                               capture_output=True, text=True, timeout=10)
            check_eq((p.returncode, p.stdout, p.stderr), (0, "", ""), f"{op} {sub} with stdin left open")
    finally:
        os.close(rfd)
        os.close(wfd)


@case()
def hook_prepare_without_pci_hostdevs_does_nothing(_):
    usb = ("<hostdev mode='subsystem' type='usb'><source><vendor id='0x046d'/><product id='0xc52b'/>"
           "</source></hostdev>")
    interface = ("<interface type='hostdev' managed='yes'><source><address type='pci' domain='0x0000' "
                 "bus='0x03' slot='0x10' function='0x1'/></source></interface>")
    capabilities = "<hostdev mode='capabilities' type='storage'><source><block>/dev/sdf1</block></source></hostdev>"
    for what, xml in (("no devices", domain_xml("plain")),
                      ("a disk and a NIC", domain_xml("plain", "<disk type='file' device='disk'>"
                                                      "<source file='/x.img'/><target dev='vda'/></disk>"
                                                      "<interface type='network'><source network='default'/>"
                                                      "</interface>")),
                      ("a USB hostdev", domain_xml("usb", usb)),
                      ("an interface hostdev (a VF: libvirt's)", domain_xml("vf", interface)),
                      ("a capabilities hostdev", domain_xml("lxc", capabilities)),
                      ("the fixture nogpu without its hostdev",
                       re.sub(r"<hostdev .*?</hostdev>", "", fixture("nogpu"), flags=re.S))):
        quiet_success(hook("guest", "prepare", "begin", "-", stdin=xml), what)
    # The guest's name is looked at only when there is something to ask the daemon.
    quiet_success(hook("bad\tname", "prepare", "begin", "-", stdin=domain_xml("x")), "a strange name, no hostdev")
    quiet_success(hook("x" * 300, "prepare", "begin", "-", stdin=domain_xml("x")), "a long name, no hostdev")


@case()
def hook_prepare_with_pci_hostdevs_calls_the_daemon(_):
    for what, xml in (("win10", fixture("win10")), ("nogpu", fixture("nogpu")), ("managed", fixture("managed")),
                      ("an address with a wide domain", domain_xml("w", pci_hostdev("0x10000", "0x3", "0x1f", "0x7"))),
                      ("a hostdev without mode", domain_xml("m", "<hostdev type='pci'><source><address "
                                                            "domain='0x0' bus='0x26' slot='0x0' function='0x0'/>"
                                                            "</source></hostdev>"))):
        cannot_connect(hook("win10", "prepare", "begin", "-", stdin=xml), what)
    # Names libvirt allows: a leading '-' is not an option, "--help" is a name.
    for name in ("-x", "--help", "--", "é" * 256, "win 10 (gaming)"):
        cannot_connect(hook(name, "prepare", "begin", "-", stdin=fixture("win10")), f"the name {name!r}")


@case()
def hook_release_calls_the_daemon(_):
    cannot_connect(hook("win10", "release", "end", "-", stdin=fixture("win10")), "release end")
    cannot_connect(hook("win10", "release", "end", "-"), "release end, empty stdin")
    cannot_connect(hook("nogpu", "release", "end", "-", stdin="not XML at all"), "release end ignores its stdin")


@case()
def hook_release_reads_its_stdin(_):
    """libvirt writes the XML to a pipe: release end reads it all before it goes on."""
    rfd, wfd = os.pipe()
    data = (b"<!-- padding -->" * 65536)[:1 << 20]
    failed = []

    def writer():
        try:
            with os.fdopen(wfd, "wb") as f:
                f.write(data)
        except BrokenPipeError as e:
            failed.append(e)

    t = threading.Thread(target=writer)
    t.start()
    try:
        p = subprocess.run(ctl_argv("libvirt-hook", "win10", "release", "end", "-"), env=no_bus_env(), stdin=rfd,
                           capture_output=True, text=True, timeout=20)
    finally:
        os.close(rfd)
        t.join(10)
    check_eq(p.returncode, 1, f"release end without a bus: {p.stderr}")
    check_eq(failed, [], "the writer got all of 1 MiB in")


@case()
def hook_prepare_refuses_malformed_xml(_):
    for what, xml, reason in (
            ("empty input", "", "the domain XML does not parse"),
            ("not XML", "hello\n", "the domain XML does not parse"),
            ("truncated", fixture("win10")[:200], "the domain XML does not parse"),
            ("not a domain", "<network><name>default</name></network>", "the XML is not a <domain>"),
            ("a hostdev without address", domain_xml("x", "<hostdev mode='subsystem' type='pci'><source/></hostdev>"),
             "a PCI hostdev has no <source><address/>"),
            ("slot 0x20", domain_xml("x", pci_hostdev("0x0000", "0x26", "0x20", "0x0")),
             "a PCI hostdev's address slot must be 0x00 to 0x1f"),
            ("function 8", domain_xml("x", pci_hostdev("0x0000", "0x26", "0x00", "0x8")),
             "a PCI hostdev's address function must be 0x0 to 0x7"),
            ("a decimal bus", domain_xml("x", pci_hostdev("0x0000", "38", "0x00", "0x0")),
             "a PCI hostdev's address bus must be 0x and 1 or 2 hex digits"),
            ("managed='maybe'", domain_xml("x", pci_hostdev("0x0000", "0x26", "0x00", "0x0", "maybe")),
             "a PCI hostdev's managed attribute must be 'yes' or 'no'")):
        failure(hook("win10", "prepare", "begin", "-", stdin=xml),
                f"passthru: Refusing the XML on standard input: {reason}.\n", what)
    failure(hook("win10", "prepare", "begin", "-", stdin=fixture("win10").encode() + b"\0<!-- -->"),
            "passthru: The domain XML on standard input holds a NUL byte; refusing it.\n", "a NUL byte")


@case()
def hook_prepare_refuses_more_than_16_mib(_):
    head, tail = "<domain><name>big</name><devices></devices>", "</domain>\n"
    exact = head + " " * (HOOK_XML_MAX - len(head) - len(tail)) + tail
    check_eq(len(exact), HOOK_XML_MAX, "the size of the XML")
    quiet_success(hook("big", "prepare", "begin", "-", stdin=exact), "exactly 16 MiB, no hostdev")
    failure(hook("big", "prepare", "begin", "-", stdin=exact + " "),
            "passthru: The domain XML on standard input is larger than 16 MiB; refusing it.\n", "16 MiB and a byte")
    failure(hook("big", "prepare", "begin", "-", stdin=b"<" * (HOOK_XML_MAX * 2)),
            "passthru: The domain XML on standard input is larger than 16 MiB; refusing it.\n", "32 MiB")


@case()
def hook_refuses_bad_guest_names_before_the_bus(_):
    for name in ("", "a\tb", "line\nbreak", "\x7f", "c1\u0085control", "x" * 257, "é" * 257):
        for op, sub, xml in (("prepare", "begin", fixture("win10")), ("release", "end", "")):
            failure(hook(name, op, sub, "-", stdin=xml), NAME_RULE, f"{op} {sub} of {name[:20]!r}")
    for raw in (b"\xff\xfe", b"caf\xc3", b"\xc0\xaf", b"\xed\xa0\x80"):
        failure(run([os.environ["PASSTHRUCTL"].encode(), b"libvirt-hook", raw, b"prepare", b"begin", b"-"],
                    no_bus_env(), fixture("win10")), NAME_RULE, f"the name bytes {raw!r}")


@case()
def hook_usage_errors_exit_2(_):
    for args in ((), ("win10",), ("win10", "prepare")):
        r = hook(*args)
        check_eq(r.code, 2, f"libvirt-hook {' '.join(args)}: {r}")
        check_eq(r.err, "passthru: 'libvirt-hook' needs the arguments libvirt passes to its qemu hook: "
                 "GUEST OPERATION SUB-OPERATION [EXTRA].\n", "the message")
    r = run(ctl_argv("--json", "libvirt-hook", "win10", "prepare", "begin", "-"), no_bus_env(), fixture("win10"))
    check_eq(r.code, 2, f"an option before libvirt-hook: {r}")
    check("passthructl: 'libvirt-hook' takes no options" in r.err, f"the message: {r.err!r}")
    r = run(ctl_argv("--no-color", "libvirt-hook", "win10", "started", "begin", "-"), no_bus_env())
    quiet_success(r, "--no-color before libvirt-hook")


@case(fake="daemon")
def fake_hook_prepare_passes_the_pci_hostdevs(bed):
    quiet_success(bed.hook("win10", "prepare", "begin", "-", stdin=fixture("win10")), "prepare begin of win10")
    devices = (pci_hostdev("0x0000", "0x26", "0x00", "0x0", "yes") +
               "<interface type='hostdev'><source><address type='pci' domain='0x0000' bus='0x03' slot='0x10' "
               "function='0x1'/></source></interface>" +
               "<hostdev mode='subsystem' type='usb'><source><vendor id='0x1'/><product id='0x2'/></source></hostdev>" +
               pci_hostdev("0xABCD", "0xEF", "0x1F", "0x7", "no") +
               pci_hostdev("0x0", "0x2", "0x3", "0x4"))
    quiet_success(bed.hook("other", "prepare", "begin", "-", stdin=domain_xml("other", devices)), "prepare begin")
    check_eq(bed.calls("PrepareGuest"), [
        ["win10", [[GPU, False], [AUDIO, False], [USB, False]], {}],
        ["other", [[GPU, True], ["abcd:ef:1f.7", False], ["0000:02:03.4", False]], {}],
    ], "PrepareGuest's arguments: the PCI hostdevs in order, canonical, managed; no interface, no USB")
    check_eq(bed.calls("ReleaseGuest"), [], "no ReleaseGuest")


@case(fake="daemon")
def fake_hook_prepare_error_is_the_daemons_message(bed):
    failure(bed.hook("busy", "prepare", "begin", "-", stdin=fixture("win10")),
            "passthru: Another operation on IOMMU group 16 is in progress; try again once it is done.\n",
            "prepare begin refused by the daemon")
    check_eq(len(bed.calls("PrepareGuest")), 1, "one call")


@case(fake="daemon")
def fake_hook_release_end_calls_release_guest(bed):
    quiet_success(bed.hook("win10", "release", "end", "-", stdin=fixture("win10")), "release end of win10")
    quiet_success(bed.hook("nogpu", "release", "end", "-", stdin=fixture("nogpu")), "release end, nothing held")
    failure(bed.hook("stuck", "release", "end", "-"),
            "passthru: Unbinding 0000:26:00.0 from vfio-pci did not return; reboot to recover.\n", "release refused")
    check_eq(bed.calls("ReleaseGuest"), [["win10", {}], ["nogpu", {}], ["stuck", {}]], "ReleaseGuest's arguments")
    for op, sub in (("prepare", "end"), ("started", "begin"), ("stopped", "end"), ("release", "begin")):
        quiet_success(bed.hook("win10", op, sub, "-", stdin=fixture("win10")), f"{op} {sub}")
    check_eq(len(bed.calls("ReleaseGuest")), 3, "no call for the other operations")
    check_eq(len(bed.calls("PrepareGuest")), 0, "no PrepareGuest either")


@case(fake="daemon")
def fake_hook_calls_never_allow_interactive_authorization(bed):
    bed.start_monitor()
    quiet_success(bed.hook("win10", "prepare", "begin", "-", stdin=fixture("win10")), "prepare begin")
    quiet_success(bed.hook("win10", "release", "end", "-"), "release end")
    for member in ("PrepareGuest", "ReleaseGuest"):
        (flags, _), = bed.method_calls_seen(member, 1)
        check_eq(flags & ALLOW_INTERACTIVE_AUTHORIZATION, 0, f"{member}: no interactive authorization")
        check_eq(flags & NO_AUTO_START, 0, f"{member}: bus activation allowed")
    # start, like handoff, allows it unless --no-ask-password.
    bed.ctl("start", "win10")
    bed.ctl("start", "win10", "--no-ask-password")
    (f1, _), (f2, _) = bed.method_calls_seen("StartGuest", 2)
    check_eq((f1 & ALLOW_INTERACTIVE_AUTHORIZATION, f2 & ALLOW_INTERACTIVE_AUTHORIZATION),
             (ALLOW_INTERACTIVE_AUTHORIZATION, 0), "start: interactive unless --no-ask-password")


@case(fake="bus")
def fake_hook_without_the_daemon_says_so(bed):
    message = ("passthru: passthrud is not running and the system bus could not start it: The name org.passthru1 "
               "was not provided by any .service files (org.freedesktop.DBus.Error.ServiceUnknown). "
               "See \"systemctl status passthrud.service\".\n")
    failure(bed.hook("win10", "prepare", "begin", "-", stdin=fixture("win10")), message, "prepare begin")
    failure(bed.hook("win10", "release", "end", "-"), message, "release end")
    quiet_success(bed.hook("plain", "prepare", "begin", "-", stdin=domain_xml("plain")), "no hostdev, no daemon")
    for args in (("start", "win10"), ("guests",)):
        r = bed.ctl(*args)
        check_eq((r.code, r.out), (1, ""), f"{' '.join(args)}: {r}")
        check(r.err.startswith("passthructl: passthrud is not running: no program owns org.passthru1"),
              f"{' '.join(args)}: the message: {r.err!r}")


@case(fake="daemon")
def fake_start_prints_each_step_once_and_a_summary(bed):
    r = bed.ctl("start", "win10")
    check_eq(r.code, 0, f"start win10: {r}")
    check_eq(r.err, "", "nothing on standard error")
    lines = r.out.splitlines()
    done = step_lines(r.out)
    # The Progress signals first (every step but "unchanged"), then what they did not show.
    check_eq(done, [s for s in PLAN if s[0] != "unchanged"] + [PLAN[4]], f"the steps, each once:\n{r.out}")
    for l in lines[:-1]:
        step = STEP_LINE.match(l).group(1)
        check(l.startswith(f"  {step.ljust(18)}  "), f"the step padded to 18 columns: {l!r}")
    check_eq(lines[-1], "Handed the GPU off to win10 and started it: 5 steps.", "the summary")
    check_eq(bed.calls("StartGuest"), [["win10", {}]], "StartGuest's arguments: no option given")


@case(fake="daemon")
def fake_start_options_and_json(bed):
    r = bed.ctl("start", "win10", "--dry-run", "--stop-display-manager")
    check_eq(r.code, 0, f"start --dry-run: {r}")
    lines = r.out.splitlines()
    check_eq(lines[0], "Would do:", "the heading")
    check_eq(step_lines("\n".join(lines[:len(PLAN) + 1])), PLAN, f"the plan: {r.out}")
    check_eq(lines[len(PLAN) + 1:], ["Consumers (the handoff is refused while they hold these nodes):",
                                     "  Xorg (pid 1234) holds /dev/dri/card0"], "the consumers")
    r = bed.ctl("start", "win10", "--json")
    check_eq(r.code, 0, f"start --json: {r}")
    check_eq(r.json(), {"steps": [{"step": s, "description": d} for s, d in PLAN]}, "start --json")
    r = bed.ctl("start", "win10", "--dry-run", "--json=pretty")
    check_eq(r.json(), {"steps": [{"step": s, "description": d} for s, d in PLAN],
                        "consumers": [{"pid": 1234, "command": "Xorg", "node": "/dev/dri/card0"}]},
             "start --dry-run --json")
    check_eq(bed.calls("StartGuest"), [
        ["win10", {"dry-run": {"type": "b", "data": True}, "stop-display-manager": {"type": "b", "data": True}}],
        ["win10", {}],
        ["win10", {"dry-run": {"type": "b", "data": True}}],
    ], "StartGuest's options: only those given")


@case(fake="daemon")
def fake_start_errors_name_the_daemons_error(bed):
    for domain, name, message in (("nogpu", "NotViable", "The domain nogpu lists no GPU among its PCI host devices; "
                                   "start it with libvirt."),
                                  ("nosuch", "NoSuchDomain", "No libvirt domain is named 'nosuch'.")):
        for extra in ((), ("--json",), ("--dry-run",)):
            r = bed.ctl("start", domain, *extra)
            check_eq((r.code, r.out, r.err), (1, "", f"passthructl: {E}{name}: {message}\n"),
                     f"start {domain} {' '.join(extra)}")


@case(fake="daemon")
def fake_guests_table_and_json(bed):
    r = bed.ctl("guests")
    check_eq((r.code, r.out, r.err), (0, "No guest holds a device handed off by passthrud.\n", ""), "no guest")
    r = bed.ctl("guests", "--json")
    check_eq((r.code, r.out), (0, "[]\n"), "no guest, JSON")
    bed.set_guests([("win10", "running", [DEVICE + "0000_26_00_0", DEVICE + "0000_26_00_1", DEVICE + "0000_28_00_3"]),
                    ("linux vm", "shut off", [DEVICE + "10000_03_00_0"])])
    r = bed.ctl("guests")
    check_eq(r.code, 0, f"guests: {r}")
    check_eq(r.out, "DOMAIN    STATE     DEVICES\n"
                    "win10     running   26:00.0 26:00.1 28:00.3\n"
                    "linux vm  shut off  10000:03:00.0\n", "the table (an address the path cannot give: Address)")
    r = bed.ctl("guests", "--json")
    check_eq(r.json(), [{"domain": "win10", "state": "running", "devices": [GPU, AUDIO, USB]},
                        {"domain": "linux vm", "state": "shut off", "devices": ["10000:03:00.0"]}], "guests --json")


@case(fake="daemon")
def fake_handoff_no_start_sends_start_false(bed):
    r = bed.ctl("handoff", "26:00.0", "win10", "--no-start")
    check_eq(r.code, 0, f"handoff --no-start: {r}")
    check_eq(r.out.splitlines()[-1], f"Handed {GPU} off (domain win10, not started): 4 steps.", "the summary")
    r = bed.ctl("handoff", "26:00.0", "win10")
    check_eq(r.out.splitlines()[-1], f"Handed {GPU} off (domain win10): 5 steps.", "the summary")
    check_eq(bed.calls("Handoff", path=DEVICE + "0000_26_00_0"),
             [["win10", {"start": {"type": "b", "data": False}}], ["win10", {}]],
             "Handoff's options: start false only with --no-start")


def run_case(name):
    fn, fake = CASES[name]
    bed = FakeBed(daemon=fake == "daemon") if fake else None
    try:
        if bed:
            bed.start()
        fn(bed)
    except Failure as e:
        print(f"FAIL: {e}")
        if bed:
            bed.print_log()
        return 1
    except Exception:
        import traceback
        traceback.print_exc()
        if bed:
            bed.print_log()
        return 1
    finally:
        if bed:
            bed.stop()
    print("1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--list"]:
        print("\n".join(CASES))
        sys.exit(0)
    if len(sys.argv) != 2 or sys.argv[1] not in CASES:
        print("usage: --list | CASE", file=sys.stderr)
        sys.exit(2)
    sys.exit(run_case(sys.argv[1]))
