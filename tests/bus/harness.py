# SPDX-License-Identifier: LGPL-2.1-or-later
"""A test bed for bus-level tests: a private dbus-daemon playing the system bus (with the
project's bus policy), the real passthrud inside pcisim (a simulated machine built from a
listing), and helpers to run passthructl and busctl as a user would.

The binaries come from the environment meson sets: PASSTHRUD, PASSTHRUCTL, PCISIM,
PASSTHRU_SOURCE_DIR. Nothing here needs anything beyond the Python standard library."""

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

SOURCE_DIR = os.environ.get("PASSTHRU_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(SOURCE_DIR, "tests", "fixtures")
STOCK = os.path.join(FIXTURES, "amd-matisse-gtx1650.txt")
ACS = os.path.join(FIXTURES, "amd-matisse-gtx1650-acs-override.txt")

BUS_CONFIG = os.path.join(SOURCE_DIR, "tests", "bus", "system-bus.conf.in")


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def check_eq(got, want, what):
    if got != want:
        raise Failure(f"{what}: got {got!r}, want {want!r}")


class Result:
    def __init__(self, p):
        self.code = p.returncode
        self.out = p.stdout
        self.err = p.stderr

    def json(self):
        try:
            return json.loads(self.out)
        except json.JSONDecodeError as e:
            raise Failure(f"output is not JSON ({e}): {self.out[:400]!r}")

    def __repr__(self):
        return f"exit {self.code}\nstdout: {self.out[:2000]}\nstderr: {self.err[:2000]}"


def parse_listing(path):
    """The listing as users paste it, read independently of the C parser: an oracle."""
    groups, drivers, boot_vga, section = {}, {}, set(), None
    line_re = re.compile(r"^IOMMU Group (\d+) ((?:[0-9a-f]{4}:)?[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]) (.*) \[([0-9a-f]{4})\]: (.*) \[([0-9a-f]{4}):([0-9a-f]{4})\]( \(rev ([0-9a-f]{2})\))?$")
    for raw in open(path):
        line = raw.rstrip("\n")
        if not line.strip():
            continue
        m = re.match(r"^# (\w+)$", line)
        if m and m.group(1) in ("drivers", "boot_vga", "sriov", "iommu", "interrupt_remapping", "cmdline", "framebuffer", "modules"):
            section = m.group(1)
            continue
        if line.startswith("#"):
            continue
        if section is None:
            m = line_re.match(line)
            if not m:
                raise Failure(f"unparsable listing line: {line}")
            addr = m.group(2) if len(m.group(2)) > 7 else "0000:" + m.group(2)
            groups.setdefault(int(m.group(1)), []).append({
                "address": addr, "class": m.group(4), "name": m.group(5),
                "vendor_id": m.group(6), "product_id": m.group(7), "revision": m.group(9) or "00"})
        elif section == "drivers":
            a, d = line.split()
            drivers[a if len(a) > 7 else "0000:" + a] = d
        elif section == "boot_vga":
            a = line.strip()
            boot_vga.add(a if len(a) > 7 else "0000:" + a)
    return groups, drivers, boot_vga


class Bed:
    """One private bus + one passthrud on one simulated machine."""

    def __init__(self, listing=STOCK, start_timeout=20):
        self.listing = listing
        self.start_timeout = start_timeout
        self.dir = tempfile.mkdtemp(prefix="passthru-bus-")
        self.socket = os.path.join(self.dir, "system_bus_socket")
        self.daemon_log = os.path.join(self.dir, "passthrud.log")
        self.pidfile = os.path.join(self.dir, "pcisim.pid")
        self.bus = None
        self.sim = None
        self.polkit = None
        self.env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=f"unix:path={self.socket}", NO_COLOR="1")
        self.env.pop("DBUS_SESSION_BUS_ADDRESS", None)

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self):
        policy = os.path.join(SOURCE_DIR, "dbus", "org.passthru1.conf")
        conf = os.path.join(self.dir, "bus.conf")
        with open(conf, "w") as f:
            f.write(open(BUS_CONFIG).read().replace("@SOCKET@", self.socket).replace("@POLICY@", policy))
        # The socket's directory must be reachable by the unprivileged callers of the policy tests.
        os.chmod(self.dir, 0o755)
        self.bus = subprocess.Popen(["dbus-daemon", "--config-file", conf, "--nofork", "--nopidfile"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.wait_for(lambda: os.path.exists(self.socket), "the private bus socket")
        self.start_daemon()

    def start_daemon(self, extra_env=None):
        env = dict(self.env, PASSTHRU_LOG_LEVEL="debug", **(extra_env or {}))
        self.log = open(self.daemon_log, "a")
        self.sim = subprocess.Popen([os.environ["PCISIM"], "--pidfile", self.pidfile, self.listing, "--",
                                     os.environ["PASSTHRUD"]],
                                    env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.wait_for(self.name_has_owner, "passthrud to own org.passthru1", self.start_timeout)

    def stop(self):
        if self.polkit and self.polkit.poll() is None:
            self.polkit.terminate()
            self.polkit.wait()
        if self.sim and self.sim.poll() is None:
            self.sim.send_signal(signal.SIGTERM)
            try:
                self.sim.wait(10)
            except subprocess.TimeoutExpired:
                self.sim.kill()
                self.sim.wait()
        if self.bus and self.bus.poll() is None:
            self.bus.terminate()
            self.bus.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def print_daemon_log(self):
        try:
            print("---- passthrud / pcisim log ----")
            print(open(self.daemon_log).read()[-8000:])
            print("---- end of log ----")
        except OSError:
            pass

    def wait_for(self, cond, what, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cond():
                return
            if self.sim and self.sim.poll() is not None:
                raise Failure(f"pcisim/passthrud exited with {self.sim.returncode} while waiting for {what}")
            time.sleep(0.02)
        raise Failure(f"timed out waiting for {what}")

    def name_has_owner(self, name="org.passthru1"):
        r = self.busctl("call", "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                        "NameHasOwner", "s", name)
        return r.code == 0 and r.out.strip() == "b true"

    def run(self, argv, user=None, input=None, timeout=30):
        if user is not None:
            argv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", "--"] + argv
        p = subprocess.run(argv, env=self.env, capture_output=True, text=True, input=input, timeout=timeout)
        return Result(p)

    def ctl(self, *args, user=None):
        return self.run([os.environ["PASSTHRUCTL"], *args], user=user)

    def busctl(self, *args, user=None):
        return self.run(["busctl", "--system", *args], user=user)

    def call(self, method, *args, path="/org/passthru1", interface="org.passthru1.Manager", user=None):
        return self.busctl("--json=short", "call", "org.passthru1", path, interface, method, *args, user=user)

    def start_polkit(self, allowed=()):
        """python-dbusmock's polkitd on the private bus, allowing the given actions."""
        self.polkit = subprocess.Popen(["/usr/bin/python3", "-m", "dbusmock", "--system", "--template", "polkitd"],
                                       env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.wait_for(lambda: self.name_has_owner("org.freedesktop.PolicyKit1"), "the mock polkitd")
        self.polkit_allow(*allowed)

    def polkit_mock(self, method, *args):
        r = self.busctl("call", "org.freedesktop.PolicyKit1", "/org/freedesktop/PolicyKit1/Authority",
                        "org.freedesktop.DBus.Mock", method, *args)
        check_eq(r.code, 0, f"mock polkitd {method}: {r}")

    def polkit_allow(self, *actions):
        self.polkit_mock("SetAllowed", "as", str(len(actions)), *actions)

    def sim_pid(self):
        return int(open(self.pidfile).read().strip())

    def kernel(self, shell):
        """Runs a shell command inside the simulated machine, as a test would on a real kernel."""
        return self.run(["nsenter", "-t", str(self.sim_pid()), "-m", "-n", "--", "sh", "-c", shell])

    def managed_objects(self):
        r = self.busctl("--json=short", "call", "org.passthru1", "/org/passthru1",
                        "org.freedesktop.DBus.ObjectManager", "GetManagedObjects")
        check_eq(r.code, 0, f"GetManagedObjects {r}")
        return r.json()


def run_case(fn, listing=STOCK):
    """Runs one case; on failure prints why and the daemon's log, and returns non-zero."""
    bed = Bed(listing)
    try:
        bed.start()
        fn(bed)
    except Failure as e:
        print(f"FAIL: {e}")
        bed.print_daemon_log()
        print("0 passed, 1 failed")
        return 1
    except Exception:
        import traceback
        traceback.print_exc()
        bed.print_daemon_log()
        print("0 passed, 1 failed")
        return 1
    finally:
        bed.stop()
    print("1 passed, 0 failed")
    return 0
