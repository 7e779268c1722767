#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Generate a pcisim machine listing with exactly N PCI functions.

    gen-machine.py N OUT

The machine is a server-like topology: per PCI domain a host bridge at
DDDD:00:00.0, root ports (class 0604, pcieport) on bus 00, and behind each root
port one device on its own bus: Intel X710 NICs whose two PFs (i40e) carry
SR-IOV VFs (iavf, listed in "# sriov"), GPUs with their HDMI audio function,
NVMe drives, USB and SATA controllers. Every function is in an IOMMU group
(each VF in its own). When bus numbers or bus-00 slots run out, the next domain
starts. The output is in the format the usual IOMMU-group script prints, so it
parses with tests/sim/listing.c and boots in pcisim.
"""

import sys

HOST_BRIDGE = ("Host bridge", 0x0600, "Intel Corporation Ice Lake Memory Map/VT-d", 0x8086, 0x09a2, 0x04, None)
ROOT_PORT = ("PCI bridge", 0x0604, "Intel Corporation Ice Lake-SP PCI Express Root Port A", 0x8086, 0x347a, 0x04, "pcieport")
FILLER = ("System peripheral", 0x0880, "Intel Corporation Ice Lake Ubox Registers", 0x8086, 0x3450, 0x04, None)
NIC_PF = ("Ethernet controller", 0x0200, "Intel Corporation Ethernet Controller X710 for 10GbE SFP+", 0x8086, 0x1572, 0x02, "i40e")
NIC_VF = ("Ethernet controller", 0x0200, "Intel Corporation Ethernet Virtual Function 700 Series", 0x8086, 0x154c, 0x02, "iavf")
GPU = ("VGA compatible controller", 0x0300, "NVIDIA Corporation GA102 [GeForce RTX 3090]", 0x10de, 0x2204, 0xa1, "nvidia")
GPU_AUDIO = ("Audio device", 0x0403, "NVIDIA Corporation GA102 High Definition Audio Controller", 0x10de, 0x1aef, 0xa1, "snd_hda_intel")
NVME = ("Non-Volatile memory controller", 0x0108, "Samsung Electronics Co Ltd NVMe SSD Controller PM9A1/PM9A3/980PRO", 0x144d, 0xa80a, 0x00, "nvme")
USB = ("USB controller", 0x0c03, "Renesas Technology Corp. uPD720201 USB 3.0 Host Controller", 0x1912, 0x0014, 0x03, "xhci_hcd")
SATA = ("SATA controller", 0x0106, "ASMedia Technology Inc. ASM1062 Serial ATA Controller", 0x1b21, 0x0612, 0x02, "ahci")

MAX_VFS_PER_PF = 64
# Endpoint kinds behind successive root ports, and the number of functions each takes at most
PATTERN = ["nic", "gpu", "nvme", "nvme", "nic", "usb", "sata", "nvme"]


class Machine:
    def __init__(self):
        self.functions = []   # dicts: addr tuple, kind tuple, group key, physfn
        self.domain = 0
        self.next_bus = 1
        self.bus0_pos = 1     # position on bus 00: slot = pos // 8, func = pos % 8
        self.group_keys = 0
        self.new_domain(first=True)

    def new_group(self):
        self.group_keys += 1
        return self.group_keys

    def add(self, addr, kind, group, physfn=None):
        self.functions.append({"addr": addr, "kind": kind, "group": group, "physfn": physfn})

    def new_domain(self, first=False):
        if not first:
            self.domain += 1
        self.next_bus = 1
        self.bus0_pos = 8     # 00:00.x is the host bridge's slot
        self.add((self.domain, 0, 0, 0), HOST_BRIDGE, self.new_group())

    def bus0_slot(self):
        """Next free (slot, func) on bus 00, or None when the bus is full."""
        if self.bus0_pos >= 32 * 8:
            return None
        pos = self.bus0_pos
        self.bus0_pos += 1
        return pos // 8, pos % 8

    def root_port_room(self):
        return self.bus0_pos < 32 * 8 and self.next_bus <= 255

    def add_root_port(self):
        slot, func = self.bus0_slot()
        bus = self.next_bus
        self.next_bus += 1
        self.add((self.domain, 0, slot, func), ROOT_PORT, self.new_group())
        return bus

    def add_filler(self):
        """Adds one function on bus 00 (or, when it is full, the next domain's host bridge)."""
        pos = self.bus0_slot()
        if pos is None:
            self.new_domain()
            return
        self.add((self.domain, 0, pos[0], pos[1]), FILLER, self.new_group())

    def add_endpoint(self, kind, budget):
        """Adds a root port and the endpoint behind it using at most budget functions (>= 2).
        Returns the number of functions added."""
        used = 1
        if not self.root_port_room():
            self.new_domain()
            budget -= 1
            used += 1
            if budget < 2:
                return 1
        d = self.domain
        bus = self.add_root_port()
        budget -= 1

        if kind == "nic" and budget >= 2:
            vfs = min(MAX_VFS_PER_PF, (budget - 2) // 2)
            for pf_func in (0, 1):
                self.add((d, bus, 0, pf_func), NIC_PF, self.new_group())
            used += 2
            # VFs of PF n at slots 2 + 8n.. (offset 16 + 64 n, stride 1)
            for pf_func in (0, 1):
                base = 16 + 64 * pf_func
                for i in range(vfs):
                    devfn = base + i
                    self.add((d, bus, devfn // 8, devfn % 8), NIC_VF, self.new_group(), physfn=(d, bus, 0, pf_func))
                used += vfs
            return used
        if kind == "gpu" and budget >= 2:
            g = self.new_group()
            self.add((d, bus, 0, 0), GPU, g)
            self.add((d, bus, 0, 1), GPU_AUDIO, g)
            return used + 2
        endpoint = {"usb": USB, "sata": SATA}.get(kind, NVME)
        self.add((d, bus, 0, 0), endpoint, self.new_group())
        return used + 1


def generate(n):
    if n < 1:
        raise ValueError("N must be at least 1")
    m = Machine()
    remaining = n - 1
    i = 0
    while remaining > 0:
        if remaining == 1:
            m.add_filler()
            remaining -= 1
            continue
        kind = PATTERN[i % len(PATTERN)]
        i += 1
        remaining -= m.add_endpoint(kind, remaining)
    assert len(m.functions) == n, (len(m.functions), n)
    return m


def fmt_addr(addr, long_form):
    d, b, s, f = addr
    if long_form:
        return "%04x:%02x:%02x.%x" % (d, b, s, f)
    return "%02x:%02x.%x" % (b, s, f)


def write_listing(m, out, n):
    long_form = m.domain > 0
    # Group numbers in address order, like the kernel assigns them at boot
    funcs = sorted(m.functions, key=lambda f: f["addr"])
    numbers = {}
    for f in funcs:
        if f["group"] not in numbers:
            numbers[f["group"]] = len(numbers)
    funcs.sort(key=lambda f: (numbers[f["group"]], f["addr"]))

    lines = [
        "# Generated by bench/gen-machine.py: %d PCI functions, %d domain(s)." % (n, m.domain + 1),
        "# Intel X710 PFs (i40e) with SR-IOV VFs (iavf), GPUs with HDMI audio, NVMe, USB, SATA.",
    ]
    for f in funcs:
        cname, cls, name, ven, dev, rev, _ = f["kind"]
        line = "IOMMU Group %d %s %s [%04x]: %s [%04x:%04x]" % (
            numbers[f["group"]], fmt_addr(f["addr"], long_form), cname, cls, name, ven, dev)
        if rev:
            line += " (rev %02x)" % rev
        lines.append(line)

    lines += ["", "# drivers"]
    for f in sorted(m.functions, key=lambda f: f["addr"]):
        if f["kind"][6]:
            lines.append("%s %s" % (fmt_addr(f["addr"], long_form), f["kind"][6]))

    vfs = [f for f in sorted(m.functions, key=lambda f: f["addr"]) if f["physfn"]]
    if vfs:
        lines += ["", "# sriov"]
        for f in vfs:
            lines.append("%s %s" % (fmt_addr(f["addr"], long_form), fmt_addr(f["physfn"], long_form)))

    gpus = [f for f in sorted(m.functions, key=lambda f: f["addr"]) if f["kind"] is GPU]
    if gpus:
        lines += ["", "# boot_vga", fmt_addr(gpus[0]["addr"], long_form)]

    lines += ["", "# iommu", "intel-iommu", ""]
    out.write("\n".join(lines))


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: gen-machine.py N OUT\n")
        return 2
    try:
        n = int(argv[1])
        if n < 1:
            raise ValueError
    except ValueError:
        sys.stderr.write("gen-machine.py: N must be a positive integer, got '%s'\n" % argv[1])
        return 2
    m = generate(n)
    if argv[2] == "-":
        write_listing(m, sys.stdout, n)
    else:
        with open(argv[2], "w") as out:
            write_listing(m, out, n)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
