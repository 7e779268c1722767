#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Bus activation and exit on idle, end to end: a private bus that plays the system bus runs
inside the simulated machine (pcisim's COMMAND is dbus-daemon, so what it activates sees the
simulated /sys and has its module calls simulated) with the project's activation file
(dbus/org.passthru1.service) in its service directory; only Exec= is pointed at the built
daemon, with the --idle-exit the unit uses shortened (what systemd's SystemdService= does on a
real system cannot run here: systemd is not PID 1 in this machine).

  1. nothing owns org.passthru1 until the first call; `passthructl status` starts it;
  2. a Detach of group 16 through the activated daemon; the daemon then exits on idle, giving
     its name up, with nothing left in progress;
  3. the next call starts it again, and it restores its view from the kernel and its runtime
     directory: the GPU is on vfio-pci with its host driver (nvidia) remembered; a Reattach
     puts the machine back as it was; it exits on idle again.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from harness import (BUS_CONFIG, SOURCE_DIR, STOCK, VFIO_MODULES, Failure, check, check_eq, check_same_state,
                     state_devices)

IDLE_SEC = 2
GPU = "0000:26:00.0"


class Activation:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="passthru-activation-")
        os.chmod(self.dir, 0o755)
        self.socket = os.path.join(self.dir, "system_bus_socket")
        self.pidfile = os.path.join(self.dir, "pcisim.pid")
        self.log = os.path.join(self.dir, "bus-and-daemon.log")
        self.runtime_dir = os.path.join(self.dir, "run")
        self.config_dir = os.path.join(self.dir, "etc")
        self.env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=f"unix:path={self.socket}", NO_COLOR="1")
        self.env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        self.sim = None

    def start(self):
        services = os.path.join(self.dir, "services")
        os.makedirs(services)
        os.makedirs(self.runtime_dir)
        config = os.path.join(self.dir, "passthrud.conf")
        with open(config, "w") as f:
            f.write("[Daemon]\nStepTimeoutSec=5\n")
        # The installed activation file, Exec= pointed at the build.
        text = open(os.path.join(SOURCE_DIR, "dbus", "org.passthru1.service")).read()
        check("Name=org.passthru1\n" in text and "SystemdService=passthrud.service" in text,
              f"the activation file names the service and its unit: {text!r}")
        text = re.sub(r"(?m)^Exec=.*$", f"Exec={os.environ['PASSTHRUD']} --config={config} "
                      f"--idle-exit={IDLE_SEC} --log-level=debug", text)
        with open(os.path.join(services, "org.passthru1.service"), "w") as f:
            f.write(text)
        conf = os.path.join(self.dir, "bus.conf")
        policy = os.path.join(SOURCE_DIR, "dbus", "org.passthru1.conf")
        with open(conf, "w") as f:
            f.write(open(BUS_CONFIG).read().replace("@SOCKET@", self.socket).replace("@POLICY@", policy)
                    .replace("</busconfig>", f"  <servicedir>{services}</servicedir>\n</busconfig>"))
        # dbus-daemon passes its environment on to what it activates.
        env = dict(self.env, RUNTIME_DIRECTORY=self.runtime_dir, CONFIGURATION_DIRECTORY=self.config_dir)
        self.logfile = open(self.log, "w")
        self.sim = subprocess.Popen([os.environ["PCISIM"], "--pidfile", self.pidfile, STOCK, "--",
                                     "dbus-daemon", "--config-file", conf, "--nofork", "--nopidfile"],
                                    env=env, stdout=self.logfile, stderr=subprocess.STDOUT)
        self.wait_for(lambda: os.path.exists(self.socket), "the bus in the simulated machine")

    def stop(self):
        if self.sim and self.sim.poll() is None:
            self.sim.terminate()
            try:
                self.sim.wait(10)
            except subprocess.TimeoutExpired:
                self.sim.kill()
                self.sim.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def wait_for(self, cond, what, timeout=20):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if cond():
                return
            time.sleep(0.05)
        raise Failure(f"timed out waiting for {what}")

    def run(self, argv):
        return subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=60)

    def owner_pid(self):
        """The pid owning org.passthru1, None when nobody owns it (asking does not activate)."""
        r = self.run(["busctl", "--system", "--json=short", "call", "org.freedesktop.DBus", "/org/freedesktop/DBus",
                      "org.freedesktop.DBus", "NameHasOwner", "s", "org.passthru1"])
        check_eq(r.returncode, 0, f"NameHasOwner: {r.stderr}")
        if '"data":[false]' in r.stdout:
            return None
        r = self.run(["busctl", "--system", "--json=short", "call", "org.freedesktop.DBus", "/org/freedesktop/DBus",
                      "org.freedesktop.DBus", "GetConnectionUnixProcessID", "s", "org.passthru1"])
        m = re.search(r'"data":\[(\d+)\]', r.stdout)
        return int(m.group(1)) if m else None

    def ctl(self, *args):
        return self.run([os.environ["PASSTHRUCTL"], *args])

    def snapshot(self):
        pid = open(self.pidfile).read().strip()
        r = self.run(["nsenter", "-t", pid, "-m", "-n", "--", "cat", "/sys/kernel/pcisim/state"])
        check_eq(r.returncode, 0, f"reading the simulated machine's state: {r.stderr}")
        return r.stdout

    def wait_idle_exit(self, pid):
        started = time.monotonic()
        self.wait_for(lambda: self.owner_pid() is None, f"passthrud ({pid}) to give its name up", IDLE_SEC + 15)
        self.wait_for(lambda: not os.path.exists(f"/proc/{pid}") or
                      open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z",
                      f"passthrud ({pid}) to exit", 10)
        return time.monotonic() - started


def main():
    t = Activation()
    passed = 0
    try:
        t.start()
        before = t.snapshot()
        check_eq(t.owner_pid(), None, "nobody owns org.passthru1 before the first call")

        r = t.ctl("status")
        check_eq(r.returncode, 0, f"passthructl status activates the daemon: {r.stderr}")
        check("GeForce GTX 1650" in r.stdout or "26:00.0" in r.stdout, f"and it answers: {r.stdout[:300]}")
        pid = t.owner_pid()
        check(pid is not None, "org.passthru1 is owned after the call")
        passed += 1
        print(f"ok - the first call starts passthrud (pid {pid})")

        r = t.ctl("detach", "group", "16")
        check_eq(r.returncode, 0, f"detach group 16 through the activated daemon: {r.stdout} {r.stderr}")
        check_eq(state_devices(t.snapshot())[GPU], ("vfio-pci", "vfio-pci"), "the GPU on vfio-pci")
        waited = t.wait_idle_exit(pid)
        check(waited < IDLE_SEC + 10, f"it left about {IDLE_SEC} s after the last call ({waited:.1f} s)")
        check_eq(sorted(f for f in os.listdir(t.runtime_dir) if f.endswith(".journal")), [], "no journal left")
        passed += 1
        print(f"ok - after a Detach it exits on idle ({waited:.1f} s), no transaction open")

        r = t.ctl("show", GPU, "--json")
        check_eq(r.returncode, 0, f"show activates it again: {r.stderr}")
        pid2 = t.owner_pid()
        check(pid2 is not None and pid2 != pid, f"a new instance ({pid2}, was {pid})")
        check('"driver":"vfio-pci"' in r.stdout.replace(" ", ""), f"it sees the GPU on vfio-pci: {r.stdout[:400]}")
        r = t.run(["busctl", "--system", "get-property", "org.passthru1", "/org/passthru1/device/pci_0000_26_00_0",
                   "org.passthru1.Device", "HostDriver"])
        check_eq(r.stdout.strip(), 's "nvidia"', "the host driver is remembered across the restart")
        passed += 1
        print("ok - the next call starts it again, with its view restored from the kernel and /run")

        r = t.ctl("reattach", "group", "16")
        check_eq(r.returncode, 0, f"reattach group 16: {r.stdout} {r.stderr}")
        check_same_state(t.snapshot(), before, "after the round trip", ignore_modules=VFIO_MODULES)
        t.wait_idle_exit(pid2)
        passed += 1
        print("ok - Reattach through the second instance; it exits on idle too")
    except Failure as e:
        print(f"not ok - {e}")
        try:
            print("---- bus and daemon log ----")
            print(open(t.log).read()[-6000:])
        except OSError:
            pass
        print(f"{passed} passed, 1 failed")
        return 1
    finally:
        t.stop()
    print(f"{passed} passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
