# SPDX-License-Identifier: LGPL-2.1-or-later
"""A stand-in for passthrud's libvirt methods, for the tests of passthructl's client side
(ctl_libvirt.py) while the daemon does not have them: a python-dbusmock template, run as
`python3 -m dbusmock --template tests/bus/fake_passthrud.py` on a private system bus. It answers
as dbus/org.passthru1.xml says, with canned replies chosen by the domain's name:

  StartGuest    "win10": the plan below (with "dry-run": and a consumer), its steps announced
                with Group.Progress on group 16 first ("unchanged" is not announced); "nogpu":
                NotViable; any other: NoSuchDomain
  PrepareGuest  "win10": the plan without "start-domain"; "busy": Busy; any other: nothing
                (an empty reply: no GPU among the hostdevs)
  ReleaseGuest  "win10": the return's steps; "stuck": Stuck; any other: nothing
  GetGuests     what org.passthru1.test.Fake.SetGuests(a(ssao)) set, nothing at first
  GetDevice     the paths of 26:00.0 (the GPU, with Gpu.Handoff) and 26:00.1

Every call is recorded: org.freedesktop.DBus.Mock.GetMethodCalls(METHOD) on the object."""

import dbus

from dbusmock import mockobject

BUS_NAME = "org.passthru1"
MAIN_OBJ = "/org/passthru1"
MAIN_IFACE = "org.passthru1.Manager"
SYSTEM_BUS = True

ERROR = "org.passthru1.Error."
FAKE_IFACE = "org.passthru1.test.Fake"
GROUP = "/org/passthru1/group/16"
GPU = "/org/passthru1/device/pci_0000_26_00_0"
AUDIO = "/org/passthru1/device/pci_0000_26_00_1"
USB = "/org/passthru1/device/pci_0000_28_00_3"
# A path passthructl cannot read an address from (a five-digit PCI domain): it asks for Address.
WIDE = "/org/passthru1/device/pci_10000_03_00_0"

PLAN = [
    ("unbind-console", "unbind virtual console vtcon1 from the frame buffer"),
    ("set-override", "0000:26:00.0: driver_override = vfio-pci"),
    ("unbind", "0000:26:00.0: unbind from nvidia"),
    ("probe", "0000:26:00.0: bound to vfio-pci"),
    ("unchanged", "0000:28:00.3: already on vfio-pci"),
    ("start-domain", "start the libvirt domain win10"),
]
CONSUMER = ("consumer", "Xorg (pid 1234) holds /dev/dri/card0")
RETURN = [
    ("clear-override", "0000:26:00.0: driver_override cleared"),
    ("probe", "0000:26:00.0: bound to nvidia"),
]


def fail(name, message):
    return dbus.exceptions.DBusException(message, name=ERROR + name)


def steps(pairs):
    return dbus.Array([dbus.Struct(p, signature="ss") for p in pairs], signature="(ss)")


def announce(pairs):
    group = mockobject.objects[GROUP]
    for step, description in pairs:
        if step != "unchanged":
            group.EmitSignal("org.passthru1.Group", "Progress", "ss", [step, description])


def start_guest(self, domain, options):
    if domain == "nogpu":
        raise fail("NotViable", "The domain nogpu lists no GPU among its PCI host devices; start it with libvirt.")
    if domain != "win10":
        raise fail("NoSuchDomain", f"No libvirt domain is named '{domain}'.")
    if options.get("dry-run", False):
        return steps(PLAN + [CONSUMER])
    announce(PLAN)
    return steps(PLAN)


def prepare_guest(self, domain, hostdevs, options):
    if domain == "busy":
        raise fail("Busy", "Another operation on IOMMU group 16 is in progress; try again once it is done.")
    if domain != "win10":
        return steps([])
    announce(PLAN[:-1])
    return steps(PLAN[:-1])


def release_guest(self, domain, options):
    if domain == "stuck":
        raise fail("Stuck", "Unbinding 0000:26:00.0 from vfio-pci did not return; reboot to recover.")
    return steps(RETURN if domain == "win10" else [])


def get_guests(self):
    return self.guests


def set_guests(self, guests):
    self.guests = dbus.Array(guests, signature="(ssao)")


def get_device(self, address):
    paths = {"26:00.0": GPU, "0000:26:00.0": GPU, "26:00.1": AUDIO, "0000:26:00.1": AUDIO}
    if address not in paths:
        raise fail("NoSuchDevice", f"No PCI function at {address}.")
    return dbus.ObjectPath(paths[address])


def handoff(self, domain, options):
    return steps(PLAN if domain and options.get("start", True) else PLAN[:-1])


def add_device(mock, path, address):
    mock.AddObject(path, "org.passthru1.Device",
                   {"Address": dbus.String(address), "Group": dbus.ObjectPath(GROUP)}, [])


def load(mock, _parameters):
    mock.guests = dbus.Array([], signature="(ssao)")
    mock.AddProperties(MAIN_IFACE, dbus.Dictionary({
        "Version": dbus.String("0.1.0"),
        "Gpus": dbus.Array([dbus.ObjectPath(GPU)], signature="o"),
    }, signature="sv"))
    mock.AddMethods(MAIN_IFACE, [
        ("StartGuest", "sa{sv}", "a(ss)", start_guest),
        ("GetGuests", "", "a(ssao)", get_guests),
        ("PrepareGuest", "sa(sb)a{sv}", "a(ss)", prepare_guest),
        ("ReleaseGuest", "sa{sv}", "a(ss)", release_guest),
        ("GetDevice", "s", "o", get_device),
    ])
    mock.AddMethods(FAKE_IFACE, [("SetGuests", "a(ssao)", "", set_guests)])

    mock.AddObject(GROUP, "org.passthru1.Group", {"Number": dbus.UInt32(16)}, [])
    add_device(mock, GPU, "0000:26:00.0")
    mockobject.objects[GPU].AddMethods("org.passthru1.Gpu", [("Handoff", "sa{sv}", "a(ss)", handoff)])
    add_device(mock, AUDIO, "0000:26:00.1")
    add_device(mock, USB, "0000:28:00.3")
    add_device(mock, WIDE, "10000:03:00.0")
