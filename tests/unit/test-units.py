#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""service/units.c against a mock systemd (tests/bus/mock_systemd.py) on a private bus that
plays the system bus, driven through tests/unit/test-units-client.

  test-units.py --list                       the cases' names
  test-units.py CASE CLIENT MOCK             runs one case (exit 0 ok, 1 failed, 77 skipped)

Each case starts its own dbus-daemon (with its own configuration in a temporary directory,
allowing the mock to own org.freedesktop.systemd1) and its own mock. The mock needs dbus-python
and PyGObject: the interpreter running this file if it has them, else /usr/bin/python3. This
file itself needs only the standard library.
"""

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<!-- Like a system bus (owning names and calling methods denied unless allowed), with what
     systemd's own policy allows: it owns org.freedesktop.systemd1, anybody may call it. -->
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Peer"/>
    <allow own="org.freedesktop.systemd1"/>
    <allow send_destination="org.freedesktop.systemd1"/>
  </policy>
</busconfig>
"""

DM = "display-manager.service"
ERRNO = {"ENOENT": -2, "EIO": -5, "EACCES": -13, "EBUSY": -16, "ETIME": -62, "ETIMEDOUT": -110,
         "ECANCELED": -125}


class Failure(Exception):
    pass


class Skip(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def check_eq(got, want, what):
    if got != want:
        raise Failure(f"{what}: got {got!r}, want {want!r}")


def mock_python():
    for py in (sys.executable, "/usr/bin/python3"):
        if py and os.access(py, os.X_OK) and subprocess.run(
                [py, "-c", "import dbus, dbus.service, dbus.mainloop.glib; from gi.repository import GLib"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0:
            return py
    raise Skip("no Python with dbus-python and PyGObject for the mock")


class Outcome:
    """What test-units-client printed: result, errno name, what, elapsed_ms (stop/start);
    state, id (state); handler (cancel)."""

    def __init__(self, p):
        self.code, self.out, self.err = p.returncode, p.stdout, p.stderr
        self.fields = {}
        for line in p.stdout.splitlines():
            k, _, v = line.partition("=")
            self.fields[k] = v
        res = self.fields.get("result")
        self.result, self.errno_name = (int(res.split()[0]), res.split()[1]) if res else (None, None)
        self.what = self.fields.get("what")
        self.elapsed_ms = int(self.fields["elapsed_ms"]) if "elapsed_ms" in self.fields else None

    def __repr__(self):
        return f"exit {self.code}\nstdout:\n{self.out}stderr (last lines):\n{self.err[-3000:]}"


class Bed:
    def __init__(self, client, mock, mock_args=()):
        self.client_path, self.mock_path, self.mock_args = client, mock, list(mock_args)
        self.dir = tempfile.mkdtemp(prefix="passthru-units-")
        self.socket = os.path.join(self.dir, "system_bus_socket")
        self.mock_log = os.path.join(self.dir, "mock.log")
        self.env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=f"unix:path={self.socket}", NO_COLOR="1",
                        SYSTEMD_LOG_LEVEL="err")
        self.env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        self.bus = self.mock = None
        self.children = []

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.print_mock_log()
        self.stop()
        return False

    def start(self):
        for tool in ("dbus-daemon", "busctl"):
            if not shutil.which(tool):
                raise Skip(f"{tool} is missing")
        py = mock_python()
        conf = os.path.join(self.dir, "bus.conf")
        with open(conf, "w") as f:
            f.write(BUS_CONFIG.format(socket=self.socket))
        self.bus = subprocess.Popen(["dbus-daemon", "--config-file", conf, "--nofork", "--nopidfile"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not os.path.exists(self.socket):
            check(self.bus.poll() is None, f"dbus-daemon exited with {self.bus.returncode}")
            check(time.monotonic() < deadline, "the private bus did not come up")
            time.sleep(0.01)
        self.mock = subprocess.Popen([py, self.mock_path, *self.mock_args], env=self.env, stdout=subprocess.PIPE,
                                     stderr=open(self.mock_log, "w"), text=True)
        ready, _, _ = select.select([self.mock.stdout], [], [], 15)
        line = self.mock.stdout.readline() if ready else ""
        if line.strip() != "READY":
            raise Failure(f"the mock did not start (exit {self.mock.poll()}): {open(self.mock_log).read()[-2000:]}")

    def stop(self):
        for p in self.children:
            if p.poll() is None:
                p.kill()
            p.wait()
        for p in (self.mock, self.bus):
            if p and p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        if self.mock and self.mock.stdout:
            self.mock.stdout.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def print_mock_log(self):
        try:
            print("---- mock_systemd log ----\n" + open(self.mock_log).read()[-4000:] + "---- end ----")
        except OSError:
            pass

    def client(self, *args, debug=False, timeout=30):
        env = dict(self.env, PASSTHRU_LOG_LEVEL="debug") if debug else self.env
        p = subprocess.run([self.client_path, *map(str, args)], env=env, capture_output=True, text=True,
                           timeout=timeout)
        o = Outcome(p)
        print(f"$ test-units-client {' '.join(map(str, args))}\n{o.out}", end="")
        return o

    def control(self, method, signature="", *args):
        p = subprocess.run(["busctl", "--system", "--json=short", "call", "org.freedesktop.systemd1",
                            "/org/freedesktop/systemd1", "org.passthru1.test.MockSystemd", method,
                            *([signature] if signature else []), *map(str, args)],
                           env=self.env, capture_output=True, text=True, timeout=10)
        check_eq(p.returncode, 0, f"mock {method}: {p.stderr.strip()}")
        return json.loads(p.stdout)["data"] if p.stdout.strip() else None

    def calls(self):
        return [tuple(c) for c in self.control("GetCalls")[0]]

    def state(self, unit=DM):
        o = self.client("state", unit)
        check_eq(o.code, 0, f"state {unit}: {o}")
        return o.fields["state"], o.fields["id"]


def check_ok(o, what):
    check(o.code == 0 and o.result == 0, f"{what}: {o}")


def check_error(o, errno_name, what):
    check(o.code == 1, f"{what}: the client should report a failure: {o}")
    check_eq((o.result, o.errno_name), (ERRNO[errno_name], errno_name), f"{what}: result")


def check_job_order(calls, method, unit):
    """Subscribe came before the job's request, which was made once, for the name asked."""
    jobs = [i for i, c in enumerate(calls) if c == (method, unit)]
    check_eq(len(jobs), 1, f"{method}({unit}) calls in {calls}")
    subs = [i for i, c in enumerate(calls) if c[0] == "Subscribe"]
    check(subs and subs[0] < jobs[0], f"Subscribe before {method}: {calls}")


CASES = {}


def case(f):
    CASES[f.__name__.replace("_", "-")] = f
    return f


@case
def stop_waits(client, mock):
    """A stop returns only once the job ended (after the mock's delay), with the unit inactive."""
    with Bed(client, mock, ["--delay-ms", "600"]) as bed:
        check_eq(bed.state(), ("active", "gdm.service"), "before: the alias's state and Id")
        o = bed.client("stop", DM, 5000)
        check_ok(o, "stop")
        check(o.elapsed_ms >= 590, f"returned after {o.elapsed_ms} ms, before the job's end (600 ms)")
        check(o.elapsed_ms < 3000, f"returned only after {o.elapsed_ms} ms")
        check_eq(bed.state(), ("inactive", "gdm.service"), "after the stop")
        check_job_order(bed.calls(), "StopUnit", DM)


@case
def start_waits(client, mock):
    """A start likewise, to "active"."""
    with Bed(client, mock, ["--delay-ms", "500"]) as bed:
        bed.control("SetActiveState", "ss", "gdm.service", "inactive")
        check_eq(bed.state(), ("inactive", "gdm.service"), "before")
        o = bed.client("start", DM, 5000)
        check_ok(o, "start")
        check(o.elapsed_ms >= 490, f"returned after {o.elapsed_ms} ms, before the job's end (500 ms)")
        check_eq(bed.state(), ("active", "gdm.service"), "after the start")
        check_job_order(bed.calls(), "StartUnit", DM)


@case
def stop_inactive(client, mock):
    """Stopping a unit that is already inactive: the job still ends "done"; success."""
    with Bed(client, mock, ["--delay-ms", "50"]) as bed:
        bed.control("SetActiveState", "ss", "gdm.service", "inactive")
        check_ok(bed.client("stop", DM, 5000), "stop of an inactive unit")
        check_eq(bed.state(), ("inactive", "gdm.service"), "after")


@case
def job_result_timeout(client, mock):
    """A JobRemoved with result "timeout" is an error naming it."""
    with Bed(client, mock, ["--delay-ms", "100"]) as bed:
        bed.control("SetNextJobResult", "s", "timeout")
        o = bed.client("stop", DM, 5000)
        check_error(o, "ETIMEDOUT", "a job ending \"timeout\"")
        check_eq(o.what, f'{DM}: the stop job ended with result "timeout"', "what")
        # Once only: the next job ends "done" again.
        check_ok(bed.client("stop", DM, 5000), "the next stop")


@case
def job_result_others(client, mock):
    """"failed", "canceled", "dependency", "skipped": errors naming the result, for stop and start."""
    with Bed(client, mock, ["--delay-ms", "30"]) as bed:
        for verb in ("stop", "start"):
            for result, errno_name in (("failed", "EIO"), ("canceled", "ECANCELED"), ("dependency", "EIO"),
                                       ("skipped", "EIO")):
                bed.control("SetNextJobResult", "s", result)
                o = bed.client(verb, DM, 5000)
                check_error(o, errno_name, f"a {verb} job ending \"{result}\"")
                check_eq(o.what, f'{DM}: the {verb} job ended with result "{result}"', "what")


@case
def other_jobs_ignored(client, mock):
    """Other jobs ending (before and after the reply) are not taken for ours."""
    with Bed(client, mock, ["--delay-ms", "400", "--decoys"]) as bed:
        o = bed.client("stop", DM, 5000)
        check_ok(o, "stop among other jobs")
        check(o.elapsed_ms >= 390, f"returned after {o.elapsed_ms} ms: another job's end was taken for ours")
        check_eq(bed.state(), ("inactive", "gdm.service"), "after")
        bed.control("SetSignalBeforeReply", "b", "true")
        o = bed.client("start", DM, 5000)
        check_ok(o, "start among other jobs, ending before the reply")
        check_eq(bed.state(), ("active", "gdm.service"), "after")


@case
def no_such_unit(client, mock):
    """StopUnit/StartUnit answering NoSuchUnit: -ENOENT with systemd's message; state: -ENOENT."""
    with Bed(client, mock) as bed:
        for verb, method in (("stop", "StopUnit"), ("start", "StartUnit")):
            o = bed.client(verb, "nosuch.service", 5000)
            check_error(o, "ENOENT", f"{verb} of an unknown unit")
            check_eq(o.what, "Unit nosuch.service not loaded.", "what: the error's message")
            check((method, "nosuch.service") in bed.calls(), f"{method} was called")
        o = bed.client("state", "nosuch.service")
        check_eq((o.code, o.result, o.errno_name), (1, -2, "ENOENT"), f"state of an unknown unit: {o}")
        check_eq(bed.state(), ("active", "gdm.service"), "the display manager is untouched")


@case
def access_denied(client, mock):
    """Any other D-Bus error of StopUnit: its errno, its message."""
    with Bed(client, mock) as bed:
        bed.control("SetNextCallError", "ss", "org.freedesktop.DBus.Error.AccessDenied",
                    "Access denied to stop gdm.service")
        o = bed.client("stop", DM, 5000)
        check_error(o, "EACCES", "a refused stop")
        check_eq(o.what, "Access denied to stop gdm.service", "what")
        check_eq(bed.state(), ("active", "gdm.service"), "nothing stopped")


@case
def overall_timeout(client, mock):
    """No JobRemoved ever: -ETIME at the timeout, naming the job."""
    with Bed(client, mock, ["--never-finish"]) as bed:
        o = bed.client("stop", DM, 700)
        check_error(o, "ETIME", "a job that never ends")
        check(700 <= o.elapsed_ms < 3000, f"the timeout (700 ms) fired after {o.elapsed_ms} ms")
        check_eq(o.what, f"{DM}: the stop job /org/freedesktop/systemd1/job/1 did not end within 700 ms", "what")


@case
def signal_before_reply(client, mock):
    """The JobRemoved comes before StopUnit's reply: remembered by path and used."""
    with Bed(client, mock, ["--signal-before-reply"]) as bed:
        o = bed.client("stop", DM, 3000, debug=True)
        check_ok(o, "stop with JobRemoved before the reply")
        check(o.elapsed_ms < 2000, f"took {o.elapsed_ms} ms: the early signal was not used")
        check("had ended before the answer" in o.err, f"the early-signal path was taken: {o}")
        check_eq(bed.state(), ("inactive", "gdm.service"), "after")
        # Also for a start, with a failing result.
        bed.control("SetNextJobResult", "s", "failed")
        o = bed.client("start", DM, 3000)
        check_error(o, "EIO", "a start failing before the reply")
        check_eq(o.what, f'{DM}: the start job ended with result "failed"', "what")


@case
def stop_active_again(client, mock):
    """A stop job "done" with the unit "active" afterwards: -EBUSY."""
    with Bed(client, mock, ["--delay-ms", "50"]) as bed:
        bed.control("SetNextJobEndState", "s", "active")
        o = bed.client("stop", DM, 5000)
        check_error(o, "EBUSY", "a unit active again after its stop")
        check('"active"' in (o.what or "") and DM in (o.what or ""), f"what names the state: {o.what!r}")


@case
def start_not_active(client, mock):
    """A start job "done" with the unit "failed" afterwards: -EIO."""
    with Bed(client, mock, ["--delay-ms", "50"]) as bed:
        bed.control("SetActiveState", "ss", "gdm.service", "inactive")
        bed.control("SetNextJobEndState", "s", "failed")
        o = bed.client("start", DM, 5000)
        check_error(o, "EIO", "a unit not active after its start")
        check('"failed"' in (o.what or ""), f"what names the state: {o.what!r}")


@case
def stop_kills_holder(client, mock):
    """The display manager's process (holding a device node) is gone when the stop returns."""
    with Bed(client, mock, ["--delay-ms", "100"]) as bed:
        holder = subprocess.Popen([sys.executable, "-c", "import time; f = open('/dev/null'); time.sleep(60)"])
        bed.children.append(holder)
        bed.control("SetStopKillsPid", "u", holder.pid)
        check(holder.poll() is None, "the holder runs")
        o = bed.client("stop", DM, 5000)
        check_ok(o, "stop")
        # It had exited before the client returned: reaping it now does not wait.
        try:
            code = holder.wait(0.5)
        except subprocess.TimeoutExpired:
            raise Failure("the display manager's process still runs after the stop")
        check_eq(code, -signal.SIGTERM, "it was ended by SIGTERM")


@case
def same_connection_twice(client, mock):
    """A stop, then a start on the same connection: the second Subscribe is answered
    AlreadySubscribed (as systemd does), and the start is followed all the same."""
    with Bed(client, mock, ["--delay-ms", "300"]) as bed:
        o = bed.client("stop-start", DM, 5000)
        check_eq(o.code, 0, f"stop then start: {o}")
        for verb in ("stop", "start"):
            check_eq(o.fields.get(f"{verb}.result"), "0 0", f"the {verb}'s result")
            check(int(o.fields[f"{verb}.elapsed_ms"]) >= 290, f"the {verb} waited for its job: {o}")
        calls = bed.calls()
        check_eq([c[0] for c in calls if c[0] in ("Subscribe", "StopUnit", "StartUnit")],
                 ["Subscribe", "StopUnit", "Subscribe", "StartUnit"], f"the calls: {calls}")
        check_eq(bed.state(), ("active", "gdm.service"), "after")


@case
def cancel(client, mock):
    """unit_job_free() while the job runs: the handler is never called, nothing breaks."""
    with Bed(client, mock, ["--delay-ms", "300"]) as bed:
        o = bed.client("cancel", DM, 50)
        check_eq(o.fields.get("handler"), "not-called", f"handler after unit_job_free: {o}")
        check_eq(o.code, 0, "exit")
        # The job itself was systemd's to finish.
        check_eq(bed.state(), ("inactive", "gdm.service"), "the job ran on in systemd")


@case
def state_alias(client, mock):
    """unit_get_active_state: an alias gives its unit's Id; the unit itself its own."""
    with Bed(client, mock, ["--unit", "other.service=failed"]) as bed:
        check_eq(bed.state(DM), ("active", "gdm.service"), "the alias")
        check_eq(bed.state("gdm.service"), ("active", "gdm.service"), "the unit")
        check_eq(bed.state("other.service"), ("failed", "other.service"), "another unit")


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "--list":
        print("\n".join(CASES))
        return 0
    if len(sys.argv) != 4 or sys.argv[1] not in CASES:
        print(f"Usage: {sys.argv[0]} --list | CASE CLIENT MOCK; cases: {', '.join(CASES)}", file=sys.stderr)
        return 2
    name, client, mock = sys.argv[1:]
    try:
        CASES[name](os.path.abspath(client), os.path.abspath(mock))
    except Skip as e:
        print(f"SKIP {name}: {e}")
        return 77
    except Failure as e:
        print(f"FAIL {name}: {e}")
        return 1
    print(f"ok {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
