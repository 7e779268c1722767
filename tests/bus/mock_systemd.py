#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A stand-in for systemd's D-Bus API on a private system bus ($DBUS_SYSTEM_BUS_ADDRESS), for
the tests of service/units.c. Needs dbus-python and PyGObject (Debian: python3-dbus,
python3-gi), which the system's /usr/bin/python3 has.

It owns org.freedesktop.systemd1 and serves:

  /org/freedesktop/systemd1, org.freedesktop.systemd1.Manager:
      Subscribe(), Unsubscribe()        as systemd: a second Subscribe of a connection is
                                        answered org.freedesktop.systemd1.AlreadySubscribed
      GetUnit(s name) -> o              NoSuchUnit for unknown names; an alias gives the
                                        path of the unit it stands for
      StopUnit(s name, s mode) -> o     queues a job /org/freedesktop/systemd1/job/N and
      StartUnit(s name, s mode) -> o    answers with its path; after the delay the unit's
                                        ActiveState changes and JobRemoved(N, path, Id, result)
                                        is emitted
      signal JobRemoved(u id, o job, s unit, s result)
        -- emitted only while some connection is subscribed (stricter than systemd, which also
           tells the job's own client), so that a client that forgets to Subscribe fails.
  /org/freedesktop/systemd1/unit/<escaped name>, org.freedesktop.systemd1.Unit:
      properties Id, ActiveState (org.freedesktop.DBus.Properties Get/GetAll); an alias's
      path shows the same unit.

The machine: gdm.service, active, with the alias display-manager.service (--unit and
--alias add more). A job's end state is "inactive" for a stop, "active" for a start.

Control, from the command line (for the whole run) or through the interface
org.passthru1.test.MockSystemd on /org/freedesktop/systemd1:

  --delay-ms N            SetDelayMs(u)           time from the request to the job's end (200)
  --next-job-result R     SetNextJobResult(s)     the next job's result ("done")
                                                  (once; then "done" again)
  --next-job-end-state S  SetNextJobEndState(s)   the unit's ActiveState at the next job's end
                                                  (once; "" = by the action)
  --never-finish          SetNeverFinish(b)       jobs never end (no JobRemoved)
  --signal-before-reply   SetSignalBeforeReply(b) a job ends (state, JobRemoved) before the
                                                  method's reply is sent; no delay
  --decoys               SetDecoys(b)            around each job's reply, other jobs (of
                                                  decoy.service) end "failed": one JobRemoved
                                                  before the reply, one after
  --stop-kills-pid PID    SetStopKillsPid(u)      a stop job of the display manager (gdm.service
                                                  or its alias) sends SIGTERM to PID when it
                                                  starts and ends only once PID is gone (SIGKILL
                                                  after 5 s); 0: none
                          SetNextCallError(s name, s message)
                                                  the next StopUnit/StartUnit is answered with this
                                                  D-Bus error (once)
                          SetActiveState(s unit, s state)
                          GetCalls() -> a(ss)     the Manager methods called: (method, unit or "")
                          GetSubscribers() -> as  the subscribed connections

Prints "READY" on stdout once it owns its name. SIGTERM/SIGINT end it.
"""

import argparse
import os
import signal
import sys

import dbus
import dbus.mainloop.glib
import dbus.service
from gi.repository import GLib

BUS_NAME = "org.freedesktop.systemd1"
PATH = "/org/freedesktop/systemd1"
MANAGER = "org.freedesktop.systemd1.Manager"
UNIT = "org.freedesktop.systemd1.Unit"
PROPERTIES = "org.freedesktop.DBus.Properties"
CONTROL = "org.passthru1.test.MockSystemd"
ERROR = "org.freedesktop.systemd1."
DISPLAY_MANAGER = "gdm.service"
MODES = ("replace", "fail", "isolate", "ignore-dependencies", "ignore-requirements", "flush", "triggering")


def escape_path(name):
    """sd_bus_path_encode()'s escaping: anything but [A-Za-z0-9] as _xx, a leading digit too."""
    out = []
    for i, c in enumerate(name):
        if c.isascii() and (c.isalpha() or (c.isdigit() and i > 0)):
            out.append(c)
        else:
            out.append("_%02x" % ord(c))
    return "".join(out) or "_"


def unit_path(name):
    return f"{PATH}/unit/{escape_path(name)}"


def pid_gone(pid):
    """Exited (a zombie counts: its parent has yet to reap it)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return True


class Unit:
    def __init__(self, name, state):
        self.id = name
        self.state = state


class UnitObject(dbus.service.Object):
    """The Unit interface of one unit, at one of its paths (one per name)."""

    def __init__(self, bus, path, unit):
        super().__init__(bus, path)
        self.unit = unit

    def props(self):
        return {"Id": dbus.String(self.unit.id), "ActiveState": dbus.String(self.unit.state)}

    @dbus.service.method(PROPERTIES, in_signature="ss", out_signature="v")
    def Get(self, interface, name):
        if interface != UNIT or name not in self.props():
            raise dbus.exceptions.DBusException(f"Unknown property {interface}.{name}",
                                                name="org.freedesktop.DBus.Error.UnknownProperty")
        return self.props()[name]

    @dbus.service.method(PROPERTIES, in_signature="s", out_signature="a{sv}")
    def GetAll(self, interface):
        return self.props() if interface in (UNIT, "") else dbus.Dictionary({}, signature="sv")


class Manager(dbus.service.Object):
    def __init__(self, bus, opts):
        super().__init__(bus, PATH)
        self.bus = bus
        self.units = {}    # every name (alias or not) → Unit
        self.objects = []
        self.delay_ms = opts.delay_ms
        self.next_result = opts.next_job_result
        self.next_end_state = opts.next_job_end_state
        self.never_finish = opts.never_finish
        self.signal_before_reply = opts.signal_before_reply
        self.stop_kills_pid = opts.stop_kills_pid
        self.decoys = opts.decoys
        self.next_error = None
        self.calls = []
        self.subscribers = set()
        self.next_job = 1
        self.add_unit(DISPLAY_MANAGER, "active", ["display-manager.service"])
        for spec in opts.unit:
            name, _, state = spec.partition("=")
            self.add_unit(name, state or "inactive", [])
        for spec in opts.alias:
            alias, _, target = spec.partition("=")
            self.add_alias(alias, target)
        bus.add_signal_receiver(self.on_name_owner_changed, "NameOwnerChanged", "org.freedesktop.DBus",
                                "org.freedesktop.DBus", "/org/freedesktop/DBus")

    def add_unit(self, name, state, aliases):
        self.units[name] = Unit(name, state)
        self.objects.append(UnitObject(self.bus, unit_path(name), self.units[name]))
        for a in aliases:
            self.add_alias(a, name)

    def add_alias(self, alias, target):
        self.units[alias] = self.units[target]
        self.objects.append(UnitObject(self.bus, unit_path(alias), self.units[target]))

    def on_name_owner_changed(self, name, old, new):
        if name.startswith(":") and not new:
            self.subscribers.discard(name)

    def find(self, name):
        u = self.units.get(name)
        if u is None:
            raise dbus.exceptions.DBusException(f"Unit {name} not loaded.", name=ERROR + "NoSuchUnit")
        return u

    # ---- org.freedesktop.systemd1.Manager ----

    @dbus.service.method(MANAGER, in_signature="", out_signature="", sender_keyword="sender")
    def Subscribe(self, sender=None):
        self.calls.append(("Subscribe", ""))
        if sender in self.subscribers:
            raise dbus.exceptions.DBusException("Client is already subscribed.", name=ERROR + "AlreadySubscribed")
        self.subscribers.add(sender)

    @dbus.service.method(MANAGER, in_signature="", out_signature="", sender_keyword="sender")
    def Unsubscribe(self, sender=None):
        self.calls.append(("Unsubscribe", ""))
        if sender not in self.subscribers:
            raise dbus.exceptions.DBusException("Client is not subscribed.", name=ERROR + "NotSubscribed")
        self.subscribers.discard(sender)

    @dbus.service.method(MANAGER, in_signature="s", out_signature="o")
    def GetUnit(self, name):
        self.calls.append(("GetUnit", name))
        return dbus.ObjectPath(unit_path(self.find(name).id))

    @dbus.service.method(MANAGER, in_signature="ss", out_signature="o", async_callbacks=("reply", "error"))
    def StopUnit(self, name, mode, reply, error):
        self.calls.append(("StopUnit", name))
        self.queue_job(name, mode, "stop", reply, error)

    @dbus.service.method(MANAGER, in_signature="ss", out_signature="o", async_callbacks=("reply", "error"))
    def StartUnit(self, name, mode, reply, error):
        self.calls.append(("StartUnit", name))
        self.queue_job(name, mode, "start", reply, error)

    @dbus.service.signal(MANAGER, signature="uoss")
    def JobRemoved(self, job_id, job, unit, result):
        pass

    # ---- jobs ----

    def queue_job(self, name, mode, action, reply, error):
        try:
            if self.next_error:
                (ename, emessage), self.next_error = self.next_error, None
                raise dbus.exceptions.DBusException(emessage, name=ename)
            unit = self.find(name)
            if mode not in MODES:
                raise dbus.exceptions.DBusException(f"Job mode {mode} invalid.",
                                                    name="org.freedesktop.DBus.Error.InvalidArgs")
        except dbus.exceptions.DBusException as e:
            error(e)
            return
        job_id = self.next_job
        self.next_job += 1
        job = dbus.ObjectPath(f"{PATH}/job/{job_id}")
        result, self.next_result = self.next_result, "done"
        end_state, self.next_end_state = self.next_end_state, ""
        if not end_state:
            end_state = ("inactive" if action == "stop" else "active") if result == "done" else unit.state
        kill_pid = self.stop_kills_pid if action == "stop" and unit.id == DISPLAY_MANAGER else 0
        log(f"job {job_id}: {action} {name} ({unit.id}) → {result}, {end_state}")

        if kill_pid:
            try:
                os.kill(kill_pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

        def finish():
            if kill_pid and not pid_gone(kill_pid):
                return False
            unit.state = end_state
            if self.subscribers:
                self.JobRemoved(dbus.UInt32(job_id), job, unit.id, result)
            else:
                log(f"job {job_id}: nobody subscribed, no JobRemoved")
            return True

        self.decoy()
        if self.signal_before_reply and not kill_pid and not self.never_finish:
            finish()
            reply(job)
        else:
            reply(job)
            if not self.never_finish:
                self.wait_then(finish, kill_pid)
        self.decoy()

    def decoy(self):
        """Another client's job ends."""
        if not self.decoys or not self.subscribers:
            return
        job_id = self.next_job
        self.next_job += 1
        self.JobRemoved(dbus.UInt32(job_id), dbus.ObjectPath(f"{PATH}/job/{job_id}"), "decoy.service", "failed")

    def wait_then(self, finish, kill_pid):
        """finish() after the delay, and once kill_pid is gone (SIGKILL after 5 s)."""
        waited = [0]

        def tick():
            if finish():
                return False
            waited[0] += 20
            if waited[0] >= 5000 and kill_pid:
                try:
                    os.kill(kill_pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            return True

        def first():
            if finish():
                return False
            GLib.timeout_add(20, tick)
            return False

        GLib.timeout_add(self.delay_ms, first)

    # ---- org.passthru1.test.MockSystemd ----

    @dbus.service.method(CONTROL, in_signature="s", out_signature="")
    def SetNextJobResult(self, result):
        self.next_result = str(result)

    @dbus.service.method(CONTROL, in_signature="s", out_signature="")
    def SetNextJobEndState(self, state):
        self.next_end_state = str(state)

    @dbus.service.method(CONTROL, in_signature="u", out_signature="")
    def SetDelayMs(self, ms):
        self.delay_ms = int(ms)

    @dbus.service.method(CONTROL, in_signature="b", out_signature="")
    def SetNeverFinish(self, value):
        self.never_finish = bool(value)

    @dbus.service.method(CONTROL, in_signature="b", out_signature="")
    def SetSignalBeforeReply(self, value):
        self.signal_before_reply = bool(value)

    @dbus.service.method(CONTROL, in_signature="b", out_signature="")
    def SetDecoys(self, value):
        self.decoys = bool(value)

    @dbus.service.method(CONTROL, in_signature="u", out_signature="")
    def SetStopKillsPid(self, pid):
        self.stop_kills_pid = int(pid)

    @dbus.service.method(CONTROL, in_signature="ss", out_signature="")
    def SetNextCallError(self, name, message):
        self.next_error = (str(name), str(message))

    @dbus.service.method(CONTROL, in_signature="ss", out_signature="")
    def SetActiveState(self, name, state):
        self.find(name).state = str(state)

    @dbus.service.method(CONTROL, in_signature="", out_signature="a(ss)")
    def GetCalls(self):
        return dbus.Array([dbus.Struct(c, signature="ss") for c in self.calls], signature="(ss)")

    @dbus.service.method(CONTROL, in_signature="", out_signature="as")
    def GetSubscribers(self):
        return dbus.Array(sorted(self.subscribers), signature="s")


def log(msg):
    print(f"mock_systemd: {msg}", file=sys.stderr, flush=True)


def main():
    p = argparse.ArgumentParser(description="A mock of systemd's D-Bus API for tests (see the module's docstring).")
    p.add_argument("--delay-ms", type=int, default=200)
    p.add_argument("--next-job-result", default="done")
    p.add_argument("--next-job-end-state", default="")
    p.add_argument("--never-finish", action="store_true")
    p.add_argument("--signal-before-reply", action="store_true")
    p.add_argument("--decoys", action="store_true")
    p.add_argument("--stop-kills-pid", type=int, default=0)
    p.add_argument("--unit", action="append", default=[], metavar="NAME[=STATE]", help="another unit (inactive)")
    p.add_argument("--alias", action="append", default=[], metavar="ALIAS=UNIT")
    opts = p.parse_args()

    dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    bus = dbus.SystemBus()
    manager = Manager(bus, opts)
    name = dbus.service.BusName(BUS_NAME, bus, do_not_queue=True)

    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, sig, loop.quit)
    print("READY", flush=True)
    loop.run()
    del name, manager


if __name__ == "__main__":
    main()
