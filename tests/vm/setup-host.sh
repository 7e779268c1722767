#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# setup-host.sh [--libvirt]
#
# Installs what the QEMU test bed (tests/vm/) needs on a Debian 12 host, as
# root.  Quick when everything is there already: apt-get update and install
# run only for missing packages.  --libvirt adds libvirt-daemon-system and
# libvirt-clients for scenarios that drive libvirtd in the guest.
#
# Daemons installed here are not started on the host: a temporary
# /usr/sbin/policy-rc.d (exit 101) is put in place unless one exists.

set -euo pipefail

PACKAGES=(qemu-system-x86 busybox-static cpio kmod xz-utils dbus-daemon polkitd udev util-linux pciutils)
for arg in "$@"; do
        case "$arg" in
        --libvirt) PACKAGES+=(libvirt-daemon-system libvirt-clients) ;;
        -h|--help) sed -n '4,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "setup-host: unknown argument $arg" >&2; exit 2 ;;
        esac
done

[ "$(id -u)" = 0 ] || { echo "setup-host: run as root" >&2; exit 1; }

missing=()
for pkg in "${PACKAGES[@]}"; do
        status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
        [ "$status" = installed ] || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
        echo "setup-host: all packages present"
        exit 0
fi
echo "setup-host: installing ${missing[*]}"

POLICY=/usr/sbin/policy-rc.d
if [ ! -e "$POLICY" ]; then
        printf '#!/bin/sh\n# temporary, from tests/vm/setup-host.sh\nexit 101\n' >"$POLICY"
        chmod 755 "$POLICY"
        trap 'rm -f "$POLICY"' EXIT
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "setup-host: done"
