#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""org.passthru1(5) keeps up with the contract: every interface of dbus/org.passthru1.xml
has a section ".SH INTERFACE <name>" in the man page, and every property, method and
signal of it is named in that section. Lists what is missing."""
import re
import sys
import xml.etree.ElementTree as ET


def plain(roff):
    """The words of roff source: font changes, \\& and \\- taken out."""
    roff = re.sub(r"\\f(\[[^]]*\]|\(..|.)", "", roff)
    return roff.replace("\\&", "").replace("\\-", "-").replace("\\e", "\\")


def sections(roff):
    """{title: text} of every .SH section."""
    out, title, lines = {}, None, []
    for line in roff.splitlines():
        if line.startswith(".SH"):
            if title is not None:
                out[title] = "\n".join(lines)
            title, lines = line[3:].strip().strip('"'), []
        else:
            lines.append(line)
    if title is not None:
        out[title] = "\n".join(lines)
    return out


def main(xml_path, man_path):
    root = ET.parse(xml_path).getroot()
    with open(man_path, encoding="utf-8") as f:
        man = sections(plain(f.read()))
    missing, checked = [], 0
    for iface in root.findall("interface"):
        name = iface.get("name")
        checked += 1
        text = man.get(f"INTERFACE {name}")
        if text is None:
            missing.append(f"interface {name} (no section \".SH INTERFACE {name}\")")
            continue
        for kind in ("property", "method", "signal"):
            for member in iface.findall(kind):
                checked += 1
                m = member.get("name")
                if not re.search(rf"(?<![\w.]){re.escape(m)}(?!\w)", text):
                    missing.append(f"{kind} {name}.{m}")
    for m in missing:
        print(f"missing from {man_path}: {m}")
    print(f"{checked - len(missing)} of {checked} names of {xml_path} documented")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
