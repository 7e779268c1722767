#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs with apt-get what building passthru needs (and, with --tests, what its tests
# need). Quick when everything is there already: it asks dpkg first, apt only when needed.
set -euo pipefail

want=(meson ninja-build pkg-config gcc libc6-dev libsystemd-dev libkmod-dev libvirt-dev
      libxml2-dev libfuse3-dev fuse3 udev kmod dbus-daemon systemd util-linux)
if [ "${1:-}" = "--tests" ]; then
        # dbusmock: the polkitd mock; gdbus (libglib2.0-bin): error names and signal watching;
        # iproute2: a default route inside the simulated machine; groff-base: the man-pages
        # test; bash-completion: where the completion is installed (pkg-config);
        # libxml2-utils (xmllint) and man-db (systemd-analyze verify looks up the unit's
        # Documentation=): the unit-security test; libvirt-daemon: the private libvirtd of
        # test-virt-remote.
        want+=(python3 python3-dbus python3-dbusmock libglib2.0-bin iproute2 pciutils
               groff-base bash-completion libxml2-utils man-db libvirt-daemon)
fi

missing=()
for p in "${want[@]}"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
        echo "Installing: ${missing[*]}"
        # Build machines: let apt install daemons without starting them.
        if [ ! -e /usr/sbin/policy-rc.d ]; then
                printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
                chmod +x /usr/sbin/policy-rc.d
                trap 'rm -f /usr/sbin/policy-rc.d' EXIT
        fi
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# udev's package builds the hardware database in its postinst; make sure it exists.
if ! [ -e /etc/udev/hwdb.bin ] && ! [ -e /usr/lib/udev/hwdb.bin ] && ! [ -e /lib/udev/hwdb.bin ]; then
        systemd-hwdb update --usr
fi
