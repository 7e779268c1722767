# SPDX-License-Identifier: LGPL-2.1-or-later
"""A test bed for bus-level tests: a private dbus-daemon playing the system bus (with the
project's bus policy), the real passthrud inside pcisim (a simulated machine built from a
listing), and helpers to run passthructl and busctl as a user would.

The binaries come from the environment meson sets: PASSTHRUD, PASSTHRUCTL, PCISIM,
PASSTHRU_SOURCE_DIR. Nothing here needs anything beyond the Python standard library."""

import difflib
import errno
import glob
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

SOURCE_DIR = os.environ.get("PASSTHRU_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(SOURCE_DIR, "tests", "fixtures")
STOCK = os.path.join(FIXTURES, "amd-matisse-gtx1650.txt")
ACS = os.path.join(FIXTURES, "amd-matisse-gtx1650-acs-override.txt")

BUS_CONFIG = os.path.join(SOURCE_DIR, "tests", "bus", "system-bus.conf.in")
SUPERVISE = os.path.join(SOURCE_DIR, "tests", "bus", "supervise.sh")
MOCK_SYSTEMD = os.path.join(SOURCE_DIR, "tests", "bus", "mock_systemd.py")
LIBVIRT_DOMAINS = os.path.join(FIXTURES, "libvirt-domains")

# The modules Detach loads and nothing unloads: vfio_pci and what it depends on.
VFIO_MODULES = ("vfio", "vfio_iommu_type1", "vfio_pci")


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


def check_error(reply, name, what):
    """A method call (Reply) that failed with the D-Bus error `name`."""
    check(not reply.ok, f"{what}: succeeded, expected {name}: {reply}")
    check_eq(reply.error, name, f"{what}: error name ({reply.message!r})")


def state_lines(state, ignore_modules=()):
    """The lines of a /sys/kernel/pcisim/state snapshot, without the "module" lines of ignore_modules."""
    return [l for l in state.splitlines()
            if l.strip() and not (l.startswith("module ") and l.split()[1] in ignore_modules)]


def state_devices(state):
    """{address: (driver, override)} from a snapshot, "-" meaning none."""
    out = {}
    for l in state.splitlines():
        w = l.split()
        if w and w[0] == "device":
            out[w[1]] = (w[2].split("=", 1)[1], w[3].split("=", 1)[1])
    return out


def check_same_state(got, want, what, ignore_modules=()):
    """Compares two snapshots line by line; a difference fails with a diff (want → got)."""
    g, w = state_lines(got, ignore_modules), state_lines(want, ignore_modules)
    if g != w:
        diff = "\n".join(difflib.unified_diff(w, g, "want", "got", lineterm="", n=0))
        raise Failure(f"{what}: the machine's state differs:\n{diff}")


# A human step line of passthructl: two spaces, the step padded (HANDOFF_STEP_WIDTH or the
# assignment's), two spaces, the description.
STEP_LINE = re.compile(r"^  (\S+) +(\S.*)$")


def step_lines(out):
    """(step, description) of every step line of passthructl's human output, in order."""
    return [(m.group(1), m.group(2)) for m in map(STEP_LINE.match, out.splitlines()) if m]


def ctl_ok(r, what):
    """passthructl (or another command) exited 0."""
    check_eq(r.code, 0, f"{what}: {r}")
    return r


def ctl_failed(r, name, what):
    """passthructl exited 1 and named the D-Bus error `name` on standard error."""
    check_eq(r.code, 1, f"{what}: {r}")
    check(name in r.err, f"{what}: stderr names {name}: {r.err!r}")
    return r


def on_vfio(bed, *addresses):
    """Each function is on vfio-pci with driver_override vfio-pci (pcisim's state)."""
    devices = state_devices(bed.snapshot())
    return all(devices[a] == ("vfio-pci", "vfio-pci") for a in addresses)


# The GPU of the simulated Ryzen machine (ACS listing), the handoff cases' subject.
ACS_GPU, ACS_AUDIO = "0000:26:00.0", "0000:26:00.1"
ACS_GPU_PATH = "/org/passthru1/device/pci_0000_26_00_0"
GPU_IF = "org.passthru1.Gpu"


def bool_options(**kw):
    """busctl's a{sv} values (without the signature) of boolean options; dry_run → "dry-run"."""
    args = [str(len(kw))]
    for k, v in kw.items():
        args += [k.replace("_", "-"), "b", "true" if v else "false"]
    return args


def handoff(bed, domain="", timeout=30, path=ACS_GPU_PATH, **kw):
    """Gpu.Handoff(domain, options) of the GPU at path."""
    return bed.method(path, GPU_IF, "Handoff", "sa{sv}", domain, *bool_options(**kw), timeout=timeout)


def give_back(bed, timeout=30, path=ACS_GPU_PATH, **kw):
    """Gpu.Return(options) of the GPU at path."""
    return bed.method(path, GPU_IF, "Return", "a{sv}", *bool_options(**kw), timeout=timeout)


def gpu_prop(bed, name, path=ACS_GPU_PATH):
    return bed.prop(path, name, GPU_IF)


def steps_of(reply, what):
    """The (step, description) pairs of a successful reply."""
    check(reply.ok, f"{what}: {reply}")
    return [tuple(s) for s in reply.data[0]]


def canonical_address(address):
    return address if len(address) > 7 else "0000:" + address


def object_path(target):
    """A group number, a PCI address (any accepted form) or an object path → the object path."""
    if isinstance(target, int):
        return f"/org/passthru1/group/{target}"
    if target.startswith("/"):
        return target
    if target.startswith("pci_"):
        return "/org/passthru1/device/" + target
    return "/org/passthru1/device/pci_" + re.sub(r"[:.]", "_", canonical_address(target).lower())


def interface_of(target):
    return "org.passthru1.Group" if "/group/" in object_path(target) else "org.passthru1.Device"


def options_args(options):
    """{"dry-run": True, "override": ("s", "yes")} → busctl's a{sv} arguments. A bool is b, a str s,
    an int u; a tuple gives the signature and values itself (for wrong types on purpose)."""
    args = ["a{sv}", str(len(options or {}))]
    for key, value in (options or {}).items():
        if isinstance(value, bool):
            args += [key, "b", "true" if value else "false"]
        elif isinstance(value, tuple):
            args += [key, *(str(v) for v in value)]
        elif isinstance(value, str):
            args += [key, "s", value]
        elif isinstance(value, int):
            args += [key, "u", str(value)]
        else:
            raise TypeError(f"option {key}: {value!r}")
    return args


class Reply:
    """A method call made with busctl: code, data (busctl --json=short "data"), and for an error
    reply its D-Bus name and message (busctl prints only the message; its debug log has the name)."""

    def __init__(self, result):
        self.code, self.out, self.err = result.code, result.out, result.err
        self.error = self.message = None
        self.data = None
        for line in result.err.splitlines():
            m = re.match(r"^Got message type=error .* error-name=(\S+) error-message=(.*)$", line)
            if m:
                self.error, self.message = m.group(1), m.group(2)
        if self.code == 0:
            try:
                self.data = json.loads(result.out)["data"]
            except (json.JSONDecodeError, KeyError, TypeError):
                self.data = None
        elif self.error is None:
            # No reply at all (timeout, bus gone): say what busctl said.
            lines = [l for l in result.err.splitlines() if not l.startswith(("Bus ", "sd-bus", "Sent ", "Got "))]
            self.message = " / ".join(lines)[-400:]

    @property
    def ok(self):
        return self.code == 0

    def steps(self):
        """The (step, description) pairs of a Detach/Reattach reply."""
        check(self.ok, f"the call failed: {self}")
        check(isinstance(self.data, list) and len(self.data) == 1, f"one a(ss) in the reply: {self.out!r}")
        return [tuple(s) for s in self.data[0]]

    def __repr__(self):
        if self.ok:
            return f"reply {self.out.strip()[:1500]}"
        return f"error {self.error}: {self.message} (busctl exit {self.code})"


class PendingReply:
    """A busctl call running in the background; result() waits for its Reply."""

    def __init__(self, popen):
        self.p = popen

    def running(self):
        return self.p.poll() is None

    def result(self, timeout=30):
        try:
            out, err = self.p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise Failure(f"no reply within {timeout} s")
        return Reply(Result(subprocess.CompletedProcess(self.p.args, self.p.returncode, out, err)))

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.communicate()


def pid_alive(pid):
    """Running, not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False




def parse_listing(path):
    """The listing as users paste it, read independently of the C parser: an oracle."""
    groups, drivers, boot_vga, section = {}, {}, set(), None
    line_re = re.compile(r"^IOMMU Group (\d+) ((?:[0-9a-f]{4}:)?[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]) (.*) \[([0-9a-f]{4})\]: (.*) \[([0-9a-f]{4}):([0-9a-f]{4})\]( \(rev ([0-9a-f]{2})\))?$")
    for raw in open(path):
        line = raw.rstrip("\n")
        if not line.strip():
            continue
        m = re.match(r"^# (\w+)$", line)
        if m and m.group(1) in ("drivers", "boot_vga", "sriov", "iommu", "interrupt_remapping", "cmdline", "framebuffer", "modules",
                                "drm", "net", "block"):
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


class BusMonitor:
    """`gdbus monitor` of org.passthru1 (one object path, or all) on the bed's bus, read by a
    thread: until() waits for a line instead of sleeping. Subscribed once constructed."""

    def __init__(self, bed, path=None):
        self.queue = queue.Queue()
        self.lines = []
        argv = ["gdbus", "monitor", "--system", "--dest", "org.passthru1"]
        self.p = subprocess.Popen(argv + (["--object-path", path] if path else []), env=bed.env, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        threading.Thread(target=lambda: [self.queue.put(l) for l in self.p.stdout], daemon=True).start()
        # Printed after a GetNameOwner round trip made after the AddMatch on the same connection:
        # the bus has the match by then.
        self.until("is owned by")

    def line(self, timeout=5):
        try:
            l = self.queue.get(timeout=timeout)
        except queue.Empty:
            raise Failure("gdbus monitor printed nothing more; it printed:\n" + "".join(self.lines)[-3000:])
        self.lines.append(l)
        return l

    def until(self, pattern, timeout=10):
        """Reads until a line matches the regular expression; returns everything read so far."""
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.line(max(0.0, deadline - time.monotonic()))):
            pass
        return "".join(self.lines)

    def close(self):
        self.p.kill()
        self.p.wait()


class Bed:
    """One private bus + one passthrud on one simulated machine."""

    def __init__(self, listing=STOCK, start_timeout=20, step_timeout=2, daemon_args=(), boot=False, libvirt=False,
                 libvirt_answer_timeout=None):
        """boot: the machine starts without the daemon (apply_reservations, then start_deferred).
        libvirt: a private libvirtd with libvirt's test driver, its URI in the daemon's config
        (start_libvirtd); libvirt_answer_timeout: [Libvirt] AnswerTimeoutSec= of that config."""
        self.libvirt_answer_timeout = libvirt_answer_timeout
        self.listing = listing
        self.boot = boot
        self.daemon_args = list(daemon_args)
        self.start_timeout = start_timeout
        self.step_timeout = step_timeout
        self.dir = tempfile.mkdtemp(prefix="passthru-bus-")
        self.socket = os.path.join(self.dir, "system_bus_socket")
        self.daemon_log = os.path.join(self.dir, "passthrud.log")
        self.pidfile = os.path.join(self.dir, "pcisim.pid")
        # The daemon's own: $RUNTIME_DIRECTORY (journals, host-drivers) and --config.
        self.runtime_dir = os.path.join(self.dir, "run")
        self.config = os.path.join(self.dir, "passthrud.conf")
        # $CONFIGURATION_DIRECTORY: the reservations (/etc/passthru1 on a real system).
        self.config_dir = os.path.join(self.dir, "etc")
        # supervise.sh (pcisim's COMMAND) starts passthrud, writes its pid here, reads "start" there.
        self.daemon_pidfile = os.path.join(self.dir, "passthrud.pid")
        self.control = os.path.join(self.dir, "supervise.fifo")
        self.uevent_log = os.path.join(self.dir, "uevents.log")
        self.daemon_expected = False
        self.faults_used = False
        self.holders = []
        self.pending = []
        self.bus = None
        self.sim = None
        self.polkit = None
        self.systemd = None
        self.libvirt = libvirt
        self.libvirtd = None
        self.libvirt_keeper = None
        self.libvirt_uri = None
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
        if self.libvirt:
            self.start_libvirtd()
        self.start_daemon()

    def start_daemon(self, extra_env=None):
        """pcisim with supervise.sh as its COMMAND, which starts passthrud (module syscalls are
        simulated for COMMAND's descendants only), so the daemon can be killed and started again
        on the same simulated machine (kill_daemon, restart_daemon)."""
        os.makedirs(self.runtime_dir, mode=0o755, exist_ok=True)
        with open(self.config, "w") as f:
            f.write(f"[Daemon]\nStepTimeoutSec={self.step_timeout}\n")
            if self.libvirt_uri:
                f.write(f"\n[Libvirt]\nURI={self.libvirt_uri}\n")
                if self.libvirt_answer_timeout:
                    f.write(f"AnswerTimeoutSec={self.libvirt_answer_timeout}\n")
        if not os.path.exists(self.control):
            os.mkfifo(self.control, 0o600)
        daemon = [os.environ["PASSTHRUD"], f"--config={self.config}", *self.daemon_args]
        env = dict(self.env, PASSTHRU_LOG_LEVEL="debug", RUNTIME_DIRECTORY=self.runtime_dir,
                   CONFIGURATION_DIRECTORY=self.config_dir, SUPERVISE_DEFER_START="1" if self.boot else "0",
                   **(extra_env or {}))
        self.log = open(self.daemon_log, "a")
        self.sim = subprocess.Popen([os.environ["PCISIM"], "--pidfile", self.pidfile, "--uevent-log", self.uevent_log,
                                     self.listing, "--", SUPERVISE, self.control, self.daemon_pidfile, *daemon],
                                    env=env, stdout=self.log, stderr=subprocess.STDOUT)
        if self.boot:
            self.wait_for(lambda: os.path.exists(self.pidfile), "pcisim to start")
            return
        self.wait_for(lambda: os.path.exists(self.daemon_pidfile), "the supervisor to start passthrud")
        self.daemon_expected = True
        self.wait_for(self.name_has_owner, "passthrud to own org.passthru1", self.start_timeout)

    def _supervise(self, command):
        # pcisim writes its pidfile before it starts supervise.sh: until the script has opened
        # the FIFO, opening it for writing without blocking fails with ENXIO.
        end = time.monotonic() + 10
        while True:
            try:
                fd = os.open(self.control, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError as e:
                if e.errno != errno.ENXIO or time.monotonic() > end:
                    raise
                time.sleep(0.02)
        try:
            os.write(fd, command.encode() + b"\n")
        finally:
            os.close(fd)

    def write_reservations(self, text):
        os.makedirs(self.config_dir, exist_ok=True)
        with open(os.path.join(self.config_dir, "reservations"), "w") as f:
            f.write(text)

    def reservations_file(self):
        """The reservations file's text, None when there is none."""
        try:
            with open(os.path.join(self.config_dir, "reservations")) as f:
                return f.read()
        except FileNotFoundError:
            return None

    def apply_reservations(self, timeout=30):
        """passthrud --apply-reservations on the simulated machine, as the boot unit runs it:
        (exit status, its log)."""
        status = os.path.join(self.dir, f"apply-{time.monotonic_ns()}")
        self._supervise(f"apply {status}")
        self.wait_for(lambda: os.path.exists(status), "passthrud --apply-reservations to finish", timeout)
        code = int(open(status).read().strip())
        log = open(status + ".log").read()
        with open(self.daemon_log, "a") as f:
            f.write(f"---- passthrud --apply-reservations (exit {code}) ----\n{log}----\n")
        return code, log

    def start_deferred(self):
        """Starts the daemon on a machine started with boot=True."""
        self.boot = False
        self._supervise("start")
        self.wait_for(lambda: os.path.exists(self.daemon_pidfile), "supervise.sh to start passthrud")
        self.daemon_expected = True
        self.wait_for(self.name_has_owner, "passthrud to own org.passthru1", self.start_timeout)

    def stop(self):
        for p in self.pending:
            p.kill()
        self.stop_libvirtd()
        if self.systemd and self.systemd.poll() is None:
            self.systemd.kill()
            self.systemd.wait()
        for p in self.holders:
            if p.poll() is None:
                p.kill()
                p.wait()
        if self.faults_used and self.sim and self.sim.poll() is None:
            # A write held by a hang fault would hold up the daemon's exit.
            try:
                self.kernel("echo clear > /sys/kernel/pcisim/faults; echo 1 > /sys/kernel/pcisim/release")
            except (OSError, ValueError, subprocess.SubprocessError):
                pass
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
            if self.daemon_expected and not self.daemon_alive():
                raise Failure(f"passthrud exited while waiting for {what}")
            time.sleep(0.02)
        raise Failure(f"timed out waiting for {what}")

    def name_has_owner(self, name="org.passthru1"):
        r = self.busctl("call", "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                        "NameHasOwner", "s", name)
        return r.code == 0 and r.out.strip() == "b true"

    def run(self, argv, user=None, input=None, timeout=30, env=None):
        if user is not None:
            argv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", "--"] + argv
        p = subprocess.run(argv, env=env or self.env, capture_output=True, text=True, input=input, timeout=timeout)
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

    # ---- libvirt ----

    def start_libvirtd(self):
        """A session libvirtd run as nobody with its state under the bed's directory (nothing of
        the host's libvirt is read or touched), serving libvirt's test driver on its own socket:
        URI test+unix:///default?socket=…. The test driver keeps its domains only while a
        connection is open, so a `virsh event --loop` keeps one (and records the events) for
        the bed's life. Domains of tests/fixtures/libvirt-domains/ are defined with
        define_domain()."""
        lv = os.path.join(self.dir, "libvirt")
        home, run = os.path.join(lv, "home"), os.path.join(lv, "run")
        for d in (lv, home, run):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o755)
            os.chown(d, 65534, 65534)
        sock = os.path.join(run, "libvirt", "libvirt-sock")
        env = {"PATH": os.environ["PATH"], "HOME": home, "XDG_RUNTIME_DIR": run,
               "XDG_CONFIG_HOME": os.path.join(home, ".config"), "XDG_CACHE_HOME": os.path.join(home, ".cache")}
        self.libvirtd_log = open(os.path.join(self.dir, "libvirtd.log"), "a")
        self.libvirtd = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                          "libvirtd"], env=env, cwd="/", stdout=self.libvirtd_log,
                                         stderr=subprocess.STDOUT)
        self.wait_for(lambda: os.path.exists(sock), "libvirtd's socket")
        self.libvirt_uri = f"test+unix:///default?socket={sock}"
        self.libvirt_events = os.path.join(self.dir, "libvirt-events.log")
        self.libvirt_keeper = subprocess.Popen(["virsh", "-c", self.libvirt_uri, "event", "--all", "--loop"],
                                               stdout=open(self.libvirt_events, "a"), stderr=subprocess.STDOUT,
                                               env=self.env)
        self.wait_for(lambda: self.virsh("list", "--all").code == 0, "libvirtd to answer")

    def stop_libvirtd(self):
        for p in (self.libvirt_keeper, self.libvirtd):
            if p and p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.libvirt_keeper = self.libvirtd = None

    def virsh(self, *args, timeout=30):
        return self.run(["virsh", "-q", "-c", self.libvirt_uri, *args], timeout=timeout)

    def define_domain(self, name_or_xml):
        """Defines a domain from tests/fixtures/libvirt-domains/NAME.xml (or XML text)."""
        if name_or_xml.lstrip().startswith("<"):
            path = os.path.join(self.dir, "domain.xml")
            with open(path, "w") as f:
                f.write(name_or_xml)
        else:
            path = os.path.join(LIBVIRT_DOMAINS, name_or_xml + ".xml")
        r = self.virsh("define", path)
        check_eq(r.code, 0, f"virsh define {path}: {r}")

    def domain_state(self, name):
        r = self.virsh("domstate", name)
        check_eq(r.code, 0, f"virsh domstate {name}: {r}")
        return r.out.strip()

    def start_systemd(self, *args):
        """tests/bus/mock_systemd.py on the private bus (display-manager.service → gdm.service,
        active); args are its options (--stop-kills-pid PID, --delay-ms N, …). It needs
        dbus-python and PyGObject, which Debian's python3 has (tests/install-deps.sh)."""
        self.systemd = subprocess.Popen(["/usr/bin/python3", MOCK_SYSTEMD, *[str(a) for a in args]], env=self.env,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.systemd.stdout.readline()
        check("READY" in line, f"the mock systemd started (printed {line!r})")

    def systemd_calls(self):
        """(method, unit) of each call the mock systemd got."""
        r = self.busctl("--json=short", "call", "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                        "org.passthru1.test.MockSystemd", "GetCalls")
        check_eq(r.code, 0, f"mock systemd GetCalls: {r}")
        return [tuple(c) for c in json.loads(r.out)["data"][0]]

    def systemd_control(self, method, signature="", *args):
        """A method of the mock systemd's control interface (SetNextJobResult, SetNeverFinish, …)."""
        r = self.busctl("call", "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                        "org.passthru1.test.MockSystemd", method, *([signature, *map(str, args)] if signature else []))
        check_eq(r.code, 0, f"mock systemd {method}: {r}")

    def unit_state(self, unit="display-manager.service"):
        r = self.busctl("--json=short", "call", "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                        "org.freedesktop.systemd1.Manager", "GetUnit", "s", unit)
        check_eq(r.code, 0, f"GetUnit {unit}: {r}")
        path = json.loads(r.out)["data"][0]
        r = self.busctl("--json=short", "get-property", "org.freedesktop.systemd1", path,
                        "org.freedesktop.systemd1.Unit", "ActiveState")
        check_eq(r.code, 0, f"ActiveState of {unit}: {r}")
        return json.loads(r.out)["data"]

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

    # ---- the daemon under supervise.sh ----

    def daemon_pid(self):
        return int(open(self.daemon_pidfile).read().strip())

    def daemon_alive(self):
        try:
            return pid_alive(self.daemon_pid())
        except (OSError, ValueError):
            return False

    def daemon_children(self):
        """The pids of the daemon's child processes (its helpers)."""
        pid, out = str(self.daemon_pid()), []
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    with open(f"/proc/{d}/stat") as f:
                        if f.read().rsplit(")", 1)[1].split()[1] == pid:
                            out.append(int(d))
                except (OSError, IndexError):
                    pass
        return out

    def kill_daemon(self, sig=signal.SIGKILL):
        """Kills passthrud (not the simulated machine) and waits for its bus name to go."""
        pid = self.daemon_pid()
        self.daemon_expected = False
        os.kill(pid, sig)
        self.wait_for(lambda: not pid_alive(pid), f"passthrud ({pid}) to die", 10)
        self.wait_for(lambda: not self.name_has_owner(), "org.passthru1 to be released", 10)

    def restart_daemon(self):
        """Asks supervise.sh to start passthrud again; returns once it owns org.passthru1 (which it
        takes only after reconciling its journal)."""
        check(not self.daemon_alive(), "restart_daemon: passthrud still runs")
        try:
            os.unlink(self.daemon_pidfile)
        except FileNotFoundError:
            pass
        fd = os.open(self.control, os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, b"start\n")
        finally:
            os.close(fd)
        self.wait_for(lambda: os.path.exists(self.daemon_pidfile), "supervise.sh to start passthrud again")
        self.daemon_expected = True
        self.wait_for(self.name_has_owner, "the restarted passthrud to own org.passthru1", self.start_timeout)

    def journals(self):
        """The unfinished transactions the daemon left in its runtime directory."""
        return sorted(os.path.basename(p) for p in glob.glob(os.path.join(self.runtime_dir, "*.journal")))

    # ---- the simulated kernel ----

    def snapshot(self):
        """/sys/kernel/pcisim/state: drivers, overrides, modules, framebuffer, /dev/vfio, nodes."""
        r = self.kernel("cat /sys/kernel/pcisim/state")
        check_eq(r.code, 0, f"reading /sys/kernel/pcisim/state: {r}")
        check(r.out.startswith("device "), f"a state snapshot: {r.out[:200]!r}")
        return r.out

    def uevents(self):
        """The uevents sent so far (pcisim --uevent-log), one "SEQNUM ACTION DEVPATH DRIVER" each."""
        try:
            return open(self.uevent_log).read().splitlines()
        except FileNotFoundError:
            return []

    def fault(self, *lines):
        """Adds fault lines (`OP ADDRESS errno NAME`, `OP ADDRESS hang`, `load MODULE …`) at once."""
        self.faults_used = True
        text = "\n".join(lines) + "\n"
        r = self.run(["nsenter", "-t", str(self.sim_pid()), "-m", "-n", "--", "bash", "-c",
                      'printf "%s" "$0" > /sys/kernel/pcisim/faults', text])
        check_eq(r.code, 0, f"writing faults {lines}: {r}")

    def faults(self):
        """The faults not fired yet."""
        r = self.kernel("cat /sys/kernel/pcisim/faults")
        check_eq(r.code, 0, f"reading faults: {r}")
        return [l.strip() for l in r.out.splitlines() if l.strip()]

    def wait_fault_fired(self, line, pending=None, timeout=10):
        """Waits until the fault `line` has fired (left the list): the write it hangs has begun.
        pending: the call that should reach it; its reply, if it ends first, is the failure."""
        def fired():
            if line not in self.faults():
                return True
            if pending is not None and not pending.running():
                raise Failure(f"the call ended before the fault '{line}' fired: {pending.result(1)}")
            return False
        self.wait_for(fired, f"the fault '{line}' to fire", timeout)

    def release(self):
        """Releases every write and module call held by a hang fault."""
        r = self.kernel("echo 1 > /sys/kernel/pcisim/release")
        check_eq(r.code, 0, f"release: {r}")

    def control_file(self, name, value):
        r = self.run(["nsenter", "-t", str(self.sim_pid()), "-m", "-n", "--", "bash", "-c",
                      'echo "$1" > "/sys/kernel/pcisim/$0"', name, value])
        check_eq(r.code, 0, f"{name} {value}: {r}")

    def hold_open(self, path, timeout=5):
        """A process inside the simulated machine holding `path` open for reading (as a guest's QEMU
        holds /dev/vfio/N, a compositor /dev/dri/card0); returns its pid. Killed by stop()."""
        p = subprocess.Popen(["nsenter", "-t", str(self.sim_pid()), "-m", "-n", "--", "sh", "-c",
                              'exec sleep infinity < "$0"', path],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.holders.append(p)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if p.poll() is not None:
                raise Failure(f"could not hold {path} open: {p.stderr.read().strip()}")
            try:
                if (open(f"/proc/{p.pid}/comm").read().strip() == "sleep"
                        and os.readlink(f"/proc/{p.pid}/fd/0") == path):
                    return p.pid
            except OSError:
                pass
            time.sleep(0.01)
        raise Failure(f"timed out holding {path} open")

    def stop_holder(self, pid):
        for p in self.holders:
            if p.pid == pid and p.poll() is None:
                p.kill()
                p.wait()

    # ---- method calls through busctl ----

    def method(self, path, interface, member, *args, user=None, interactive=None, timeout=30):
        """One call with busctl; returns a Reply with the error's name when it fails."""
        return Reply(self.run(self._method_argv(path, interface, member, args, interactive, timeout), user=user,
                              env=dict(self.env, SYSTEMD_LOG_LEVEL="debug"), timeout=timeout + 10))

    def method_async(self, path, interface, member, *args, user=None, interactive=None, timeout=30):
        """The same call in the background: a PendingReply (killed by stop() if still running)."""
        argv = self._method_argv(path, interface, member, args, interactive, timeout)
        if user is not None:
            argv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", "--"] + argv
        p = PendingReply(subprocess.Popen(argv, env=dict(self.env, SYSTEMD_LOG_LEVEL="debug"), text=True,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE))
        self.pending.append(p)
        return p

    @staticmethod
    def _method_argv(path, interface, member, args, interactive, timeout):
        argv = ["busctl", "--system", "--json=short", f"--timeout={timeout}"]
        if interactive is not None:
            argv.append(f"--allow-interactive-authorization={'yes' if interactive else 'no'}")
        return argv + ["call", "org.passthru1", path, interface, member, *[str(a) for a in args]]

    def detach(self, target, options=None, **kw):
        """Group.Detach (target: a group number) or Device.Detach (an address) with options a{sv}."""
        return self.method(object_path(target), interface_of(target), "Detach", *options_args(options), **kw)

    def reattach(self, target, options=None, **kw):
        return self.method(object_path(target), interface_of(target), "Reattach", *options_args(options), **kw)

    def detach_async(self, target, options=None, **kw):
        return self.method_async(object_path(target), interface_of(target), "Detach", *options_args(options), **kw)

    def reattach_async(self, target, options=None, **kw):
        return self.method_async(object_path(target), interface_of(target), "Reattach", *options_args(options), **kw)

    def prop(self, target, name, interface=None):
        """A property of a group (number), device (address) or object path, as busctl --json gives it."""
        r = self.busctl("--json=short", "get-property", "org.passthru1", object_path(target),
                        interface or interface_of(target), name)
        check_eq(r.code, 0, f"get-property {name} of {target}: {r}")
        return json.loads(r.out)["data"]

    # ---- the mock polkitd, beyond its template ----

    def polkit_count_hanging(self):
        """How many CheckAuthorization calls the mock holds (SimulateHang)."""
        if not getattr(self, "_polkit_counting", False):
            self.polkit_mock("AddMethod", "sssss", "org.freedesktop.DBus.Mock", "CountHangingCalls", "", "u",
                             "ret = len(self.hanging_calls)")
            self._polkit_counting = True
        r = self.busctl("--json=short", "call", "org.freedesktop.PolicyKit1", "/org/freedesktop/PolicyKit1/Authority",
                        "org.freedesktop.DBus.Mock", "CountHangingCalls")
        check_eq(r.code, 0, f"CountHangingCalls: {r}")
        return json.loads(r.out)["data"][0]

    def polkit_challenge(self, *actions):
        """Replaces the template's CheckAuthorization (which never asks for authentication) by one
        that, for `actions`, behaves like polkit with auth_admin and an agent that authenticates:
        without AllowUserInteraction (flags bit 0) (authorized=false, challenge=true), with it
        authorized. SetAllowed/AllowUnknown still allow outright. Calls are recorded (polkit_checks)."""
        code = "\n".join([
            "action, flags = str(args[1]), int(args[3])",
            "if action in self.allowed or self.allow_unknown:",
            "    ret = (True, False, {})",
            "elif action in getattr(self, 'challenge', []):",
            "    ret = (bool(flags & 1), not (flags & 1), {})",
            "else:",
            "    ret = (False, False, {})",
        ])
        self.polkit_mock("AddMethod", "sssss", "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization",
                         "(sa{sv})sa{ss}us", "(bba{ss})", code)
        self.polkit_mock("AddMethod", "sssss", "org.freedesktop.DBus.Mock", "SetChallenge", "as", "",
                         "self.challenge = [str(a) for a in args[0]]")
        self.polkit_mock("SetChallenge", "as", str(len(actions)), *actions)

    def polkit_checks(self):
        """The CheckAuthorization calls the replaced method (polkit_challenge) saw, as dicts:
        subject_kind, subject (its details), action, details, flags."""
        r = self.busctl("--json=short", "call", "org.freedesktop.PolicyKit1", "/org/freedesktop/PolicyKit1/Authority",
                        "org.freedesktop.DBus.Mock", "GetMethodCalls", "s", "CheckAuthorization")
        check_eq(r.code, 0, f"GetMethodCalls: {r}")
        out = []
        for _, args in json.loads(r.out)["data"][0]:
            subject = args[0]["data"]
            out.append({"subject_kind": subject[0],
                        "subject": {k: v["data"] for k, v in subject[1].items()},
                        "action": args[1]["data"], "details": args[2]["data"], "flags": args[3]["data"]})
        return out


class Cases:
    """The cases of one file: @cases.case(...) registers one (listing: a path, or a function
    making one when the case runs; exclusive: it holds device nodes open, which the daemons of
    other cases would see, so meson runs it alone), cases.main() is the command line meson
    uses: --list, --list-exclusive, or the name of one case to run."""

    def __init__(self, default_listing=STOCK):
        self.default_listing = default_listing
        self.cases = {}
        self.exclusive = set()

    def case(self, listing=None, exclusive=False, **bed_options):
        def register(fn):
            self.cases[fn.__name__] = (fn, listing or self.default_listing, bed_options)
            if exclusive:
                self.exclusive.add(fn.__name__)
            return fn
        return register

    def main(self, argv):
        if argv == ["--list"]:
            print("\n".join(n for n in self.cases if n not in self.exclusive))
            return 0
        if argv == ["--list-exclusive"]:
            print("\n".join(n for n in self.cases if n in self.exclusive))
            return 0
        if len(argv) != 1 or argv[0] not in self.cases:
            print("usage: --list | --list-exclusive | CASE", file=sys.stderr)
            return 2
        fn, listing, bed_options = self.cases[argv[0]]
        return run_case(fn, listing() if callable(listing) else listing, **bed_options)


def run_case(fn, listing=STOCK, **bed_options):
    """Runs one case; on failure prints why and the daemon's log, and returns non-zero."""
    bed = Bed(listing, **bed_options)
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
