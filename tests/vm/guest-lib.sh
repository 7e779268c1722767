# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
#
# Helpers for scenarios that run inside the passthru test guest
# (tests/vm/run-guest.sh).  Source it from a bash scenario:
#
#   . "$PASSTHRU_SOURCE_DIR/tests/vm/guest-lib.sh"
#   check "the bus is up" start_system_bus
#   ...
#   finish
#
# Assertions print "ok - DESCRIPTION" or "not ok - DESCRIPTION" (followed by
# the command's output as "# " lines) and count; finish prints
# "N passed, M failed" and exits non-zero when anything failed.  The guest
# is thrown away after the run, so scenarios may freely write to /etc, /usr
# (a tmpfs overlay over the host's root), start daemons and leave them.

GUEST_LIB_PASSED=0
GUEST_LIB_FAILED=0
GUEST_LIB_SKIPPED=0
# Under emulation every exec costs tens of milliseconds, so the helpers
# below stick to bash builtins where they can.
GUEST_LIB_OUT=$(mktemp /run/guest-lib.XXXXXX 2>/dev/null || mktemp)

# --- output and assertions ----------------------------------------------------

# diag MESSAGE...: a comment line in the output
diag() { printf '# %s\n' "$*"; }

# Print captured output indented as comments (at most 40 lines).
_guest_lib_show() {
        local line n=0
        while IFS= read -r line || [ -n "$line" ]; do
                n=$((n + 1))
                if [ "$n" -gt 40 ]; then
                        echo "#   ..."
                        break
                fi
                printf '#   %s\n' "$line"
        done <"$1"
}

_guest_lib_ok() {
        GUEST_LIB_PASSED=$((GUEST_LIB_PASSED + 1))
        printf 'ok - %s\n' "$1"
}

_guest_lib_not_ok() {
        GUEST_LIB_FAILED=$((GUEST_LIB_FAILED + 1))
        printf 'not ok - %s\n' "$1"
}

# check DESCRIPTION COMMAND [ARGS...]: passes when COMMAND exits 0; its
# output is only shown when it fails.
check() {
        local desc=$1 out=$GUEST_LIB_OUT rc
        shift
        "$@" >"$out" 2>&1
        rc=$?
        if [ "$rc" -eq 0 ]; then
                _guest_lib_ok "$desc"
        else
                _guest_lib_not_ok "$desc"
                diag "  command: $* (exit status $rc)"
                _guest_lib_show "$out"
        fi
        return "$rc"
}

# check_fails DESCRIPTION COMMAND [ARGS...]: passes when COMMAND fails.
check_fails() {
        local desc=$1 out=$GUEST_LIB_OUT rc
        shift
        "$@" >"$out" 2>&1
        rc=$?
        if [ "$rc" -ne 0 ]; then
                _guest_lib_ok "$desc"
                return 0
        fi
        _guest_lib_not_ok "$desc"
        diag "  command: $* (succeeded, a failure was expected)"
        _guest_lib_show "$out"
        return 1
}

# check_eq DESCRIPTION EXPECTED ACTUAL
check_eq() {
        if [ "$2" = "$3" ]; then
                _guest_lib_ok "$1"
                return 0
        fi
        _guest_lib_not_ok "$1"
        diag "  expected: '$2'"
        diag "  actual:   '$3'"
        return 1
}

# check_match DESCRIPTION EXTENDED_REGEX TEXT: passes when a line of TEXT
# matches.
check_match() {
        local line
        while IFS= read -r line; do
                if [[ $line =~ $2 ]]; then
                        _guest_lib_ok "$1"
                        return 0
                fi
        done <<<"$3"
        _guest_lib_not_ok "$1"
        diag "  no line matches /$2/ in:"
        printf '%s\n' "$3" >"$GUEST_LIB_OUT"
        _guest_lib_show "$GUEST_LIB_OUT"
        return 1
}

# skip DESCRIPTION REASON: neither passed nor failed
skip() {
        GUEST_LIB_SKIPPED=$((GUEST_LIB_SKIPPED + 1))
        printf 'ok - %s # SKIP %s\n' "$1" "$2"
}

# wait_for SECONDS COMMAND [ARGS...]: polls COMMAND (every 0.1 s) until it
# succeeds; fails after SECONDS.  Use inside check for an assertion.
wait_for() {
        local deadline=$(( $(now_ms) + $1 * 1000 ))
        shift
        until "$@"; do
                [ "$(now_ms)" -lt "$deadline" ] || return 1
                sleep 0.1
        done
}

# now_ms: wall clock in milliseconds (for timing diagnostics).
now_ms() {
        local t=${EPOCHREALTIME//[!0-9]/}
        echo "${t%???}"
}

# finish: prints "N passed, M failed" and exits (1 if anything failed).
finish() {
        if [ "$GUEST_LIB_SKIPPED" -gt 0 ]; then
                printf '%d passed, %d failed, %d skipped\n' \
                        "$GUEST_LIB_PASSED" "$GUEST_LIB_FAILED" "$GUEST_LIB_SKIPPED"
        else
                printf '%d passed, %d failed\n' "$GUEST_LIB_PASSED" "$GUEST_LIB_FAILED"
        fi
        [ "$GUEST_LIB_FAILED" -eq 0 ] || exit 1
        exit 0
}

# --- system services ------------------------------------------------------------

# start_system_bus: the real system bus (dbus-daemon --system with the
# host's system.conf and policy directories).  Returns once
# /run/dbus/system_bus_socket accepts connections (at most 30 s).  To add a
# policy or an activation file, copy it into /etc/dbus-1/system.d or
# /usr/share/dbus-1/system-services before (or `busctl call
# org.freedesktop.DBus / org.freedesktop.DBus ReloadConfig` after).
start_system_bus() {
        if [ -S /run/dbus/system_bus_socket ] && busctl --system status >/dev/null 2>&1; then
                return 0
        fi
        mkdir -p /run/dbus
        rm -f /run/dbus/pid /run/dbus/system_bus_socket
        dbus-daemon --system --fork || return 1
        wait_for 30 _guest_lib_bus_up
}

_guest_lib_bus_up() {
        [ -S /run/dbus/system_bus_socket ] &&
                busctl --system call org.freedesktop.DBus /org/freedesktop/DBus \
                        org.freedesktop.DBus GetId >/dev/null 2>&1
}

# bus_has_name NAME: the name has an owner on the system bus.
bus_has_name() {
        busctl --system call org.freedesktop.DBus /org/freedesktop/DBus \
                org.freedesktop.DBus NameHasOwner s "$1" 2>/dev/null | grep -qx 'b true'
}

# start_polkitd: polkitd on the system bus (started with start_system_bus if
# needed); returns once org.freedesktop.PolicyKit1 is owned (at most 30 s).
# Its messages go to /run/polkitd.log.
start_polkitd() {
        start_system_bus || return 1
        bus_has_name org.freedesktop.PolicyKit1 && return 0
        /usr/lib/polkit-1/polkitd --no-debug </dev/null >/run/polkitd.log 2>&1 &
        wait_for 30 bus_has_name org.freedesktop.PolicyKit1
}

# add_user NAME [UID]: a non-root user with a home directory and its own
# group (the guest's /etc is writable and thrown away).
add_user() {
        local name=$1 uid=${2:-}
        id "$name" >/dev/null 2>&1 && return 0
        if command -v useradd >/dev/null; then
                useradd -m -U -s /bin/sh ${uid:+-u "$uid"} "$name"
                return
        fi
        [ -n "$uid" ] || uid=$(awk -F: '$3 >= 2000 && $3 < 60000 && $3 > m { m = $3 } END { print (m ? m + 1 : 2000) }' /etc/passwd)
        echo "$name:x:$uid:$uid::/home/$name:/bin/sh" >>/etc/passwd
        echo "$name:x:$uid:" >>/etc/group
        echo "$name:!:19000:0:99999:7:::" >>/etc/shadow
        mkdir -p "/home/$name" && chown "$uid:$uid" "/home/$name"
}

# run_as USER COMMAND [ARGS...]: COMMAND as USER (uid, gid, supplementary
# groups, HOME and USER set), without PAM.
run_as() {
        local user=$1 home
        shift
        home=$(getent passwd "$user" | cut -d: -f6)
        HOME=${home:-/} USER=$user LOGNAME=$user \
                setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups -- "$@"
}

# --- PCI helpers ----------------------------------------------------------------

# pci_find VENDOR DEVICE [INDEX]: the address (0000:01:00.0) of the
# INDEX-th (default 0) device with those ids (hex, with or without 0x).
pci_find() {
        local vendor=0x${1#0x} device=0x${2#0x} index=${3:-0} dev v d
        for dev in /sys/bus/pci/devices/*; do
                read -r v <"$dev/vendor"
                read -r d <"$dev/device"
                if [ "$v" = "$vendor" ] && [ "$d" = "$device" ]; then
                        if [ "$index" -eq 0 ]; then
                                echo "${dev##*/}"
                                return 0
                        fi
                        index=$((index - 1))
                fi
        done
        return 1
}

# pci_group ADDRESS: the device's IOMMU group number.
pci_group() {
        local p
        for p in /sys/kernel/iommu_groups/*/devices/"$1"; do
                [ -e "$p" ] || return 1
                p=${p#/sys/kernel/iommu_groups/}
                echo "${p%%/*}"
                return 0
        done
}

# pci_group_devices GROUP: the addresses in an IOMMU group, one a line.
pci_group_devices() {
        local p
        for p in /sys/kernel/iommu_groups/"$1"/devices/*; do
                [ -e "$p" ] && echo "${p##*/}"
        done
}

# pci_driver ADDRESS: the bound driver's name (empty when none).
pci_driver() {
        local p
        for p in /sys/bus/pci/drivers/*/"$1"; do
                [ -e "$p" ] || return 0
                p=${p%/*}
                echo "${p##*/}"
                return 0
        done
}

# pci_attr ADDRESS ATTRIBUTE: one sysfs attribute (vendor, class, ...).
pci_attr() {
        local v
        read -r v <"/sys/bus/pci/devices/$1/$2" && echo "$v"
}

# pci_override ADDRESS: its driver_override ("(null)" when none).
pci_override() {
        local v
        read -r v <"/sys/bus/pci/devices/$1/driver_override" && echo "$v"
}

# pci_where ADDRESS...: "ADDRESS=DRIVER/OVERRIDE " of each, for "nothing changed" comparisons.
pci_where() {
        local a
        for a in "$@"; do printf '%s=%s/%s ' "$a" "$(pci_driver "$a")" "$(pci_override "$a")"; done
}

# modules_but_vfio: the loaded modules, sorted, one a line, without the vfio family (a
# Detach or Handoff loads it and leaves it loaded, as libvirt's reattach does).
modules_but_vfio() {
        local name rest
        while read -r name rest; do
                case $name in vfio | vfio_* | irqbypass) continue ;; esac
                echo "$name"
        done </proc/modules | sort
}

# vtconsoles: "vtconN=BIND(NAME) " of each virtual console driver.
vtconsoles() {
        local v n b
        for v in /sys/class/vtconsole/vtcon*; do
                read -r n <"$v/name"
                read -r b <"$v/bind"
                printf '%s=%s(%s) ' "${v##*/}" "$b" "$n"
        done
}

# pci_bind ADDRESS DRIVER: rebind through driver_override + unbind +
# drivers_probe, as the daemon under test does.  DRIVER "" returns the
# device to the driver the kernel picks by itself.
pci_bind() {
        local dev=/sys/bus/pci/devices/$1 drv=$2
        if [ -n "$drv" ] && [ ! -d "/sys/bus/pci/drivers/$drv" ]; then
                modprobe "$drv" || return 1
        fi
        echo "$drv" >"$dev/driver_override" || return 1
        if [ -e "$dev/driver" ]; then
                echo "$1" >"$dev/driver/unbind" || return 1
        fi
        echo "$1" >/sys/bus/pci/drivers_probe || return 1
        if [ -n "$drv" ]; then
                [ "$(pci_driver "$1")" = "$drv" ]
        else
                [ -e "$dev/driver" ]
        fi
}

# --- libvirt ----------------------------------------------------------------------

# have_libvirtd: libvirtd is installed on the host (tests/vm/setup-host.sh
# --libvirt), so it can run in the guest.
have_libvirtd() {
        [ -x /usr/sbin/libvirtd ] && command -v virsh >/dev/null
}

# start_libvirtd: libvirtd (with virtlogd) on the system bus; returns once
# `virsh -c qemu:///system` answers (at most 60 s).  Messages go to
# /run/libvirtd.log.
start_libvirtd() {
        have_libvirtd || return 1
        start_system_bus || return 1
        if ! virsh -c qemu:///system version >/dev/null 2>&1; then
                mkdir -p /run/libvirt /var/log/libvirt
                [ -x /usr/sbin/virtlogd ] && /usr/sbin/virtlogd --daemon
                /usr/sbin/libvirtd --daemon </dev/null >/run/libvirtd.log 2>&1 || return 1
                wait_for 60 _guest_lib_libvirt_up
        fi
}

_guest_lib_libvirt_up() {
        virsh -c qemu:///system version >/dev/null 2>&1
}
