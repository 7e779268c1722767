#!/bin/busybox sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Stage 2 of the passthru test guest, PID 1 after switch_root.
#
# The root is the host's / (read-only 9p) under a tmpfs overlay, so every
# host binary is here at its usual path.  This script does the common guest
# setup, runs the scenario named by run-guest.sh in the results share with
# its output on the second serial port (/dev/ttyS1), writes the exit status
# back to the share and powers the guest off.  Its own messages go to the
# kernel console (ttyS0), which run-guest.sh keeps as console.log.
#
# It runs under busybox's shell on purpose: its applets (mount, mknod, ...)
# run without an exec of a dynamically linked binary, which under emulation
# saves about a second of boot.
#
# Files in the results share (mounted at $R):
#   config   (host -> guest)  MODDIR=..., WORKDIR=...  (shell assignments)
#   env      (host -> guest)  export NAME='value' lines for the scenario
#   command  (host -> guest)  set -- 'scenario' 'arg'...
#   status   (guest -> host)  the scenario's exit status
#   timing   (guest -> host)  guest uptime at scenario start and end

PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
R=/run/passthru-vm

# shellcheck disable=SC3043  # (busybox sh has local)
log() {
        local up
        read -r up _ </proc/uptime 2>/dev/null
        echo "[${up:-?}] guest-init: $*"
}

# shellcheck disable=SC2317  # (called by the trap)
power_off() {
        sync
        /bin/busybox poweroff -f 2>/dev/null
        echo o >/proc/sysrq-trigger
        sleep 30
}

# Anything unexpected: power off rather than leave PID 1 hanging; run-guest
# notices the missing status file.
trap power_off EXIT

# --- filesystems ------------------------------------------------------------
# (/proc, /sys, /dev, /dev/pts, /dev/shm and /run come from the initramfs)
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
[ -e /dev/stdin ] || ln -s /proc/self/fd/0 /dev/stdin
[ -e /dev/stdout ] || ln -s /proc/self/fd/1 /dev/stdout
[ -e /dev/stderr ] || ln -s /proc/self/fd/2 /dev/stderr
[ -e /dev/ptmx ] || ln -s pts/ptmx /dev/ptmx
# /tmp deliberately stays on the overlay: writable in the guest, and a build
# tree under the host's /tmp remains visible at its path.
chmod 1777 /tmp

mkdir -p "$R"
if ! mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 results "$R"; then
        log "cannot mount the results share"
        exit 1
fi
MODDIR='' WORKDIR=/
. "$R/config"

log "filesystems mounted"

# --- kernel modules -----------------------------------------------------------
KVER=$(uname -r)
mkdir -p "/lib/modules/$KVER"
if [ -n "$MODDIR" ] && mount --bind "$MODDIR" "/lib/modules/$KVER"; then
        :
else
        log "warning: cannot bind $MODDIR to /lib/modules/$KVER"
fi

log "modules bound"
# Device nodes of modules that are not loaded yet (e.g. /dev/vfio/vfio), as
# systemd-tmpfiles would create them from "kmod static-nodes"; read straight
# from modules.devname ("module name c|bMAJOR:MINOR"), which is much
# quicker than starting kmod under emulation.
if [ -r "/lib/modules/$KVER/modules.devname" ]; then
        while read -r _mod name dev; do
                case "$_mod" in '#'*|'') continue ;; esac
                case "$dev" in
                c*) kind=c ;;
                b*) kind=b ;;
                *) continue ;;
                esac
                dev=${dev#?}
                [ -e "/dev/$name" ] && continue
                case "$name" in */*) mkdir -p "/dev/${name%/*}" ;; esac
                mknod -m 0600 "/dev/$name" "$kind" "${dev%%:*}" "${dev##*:}"
        done <"/lib/modules/$KVER/modules.devname"
fi
[ -e /dev/vfio/vfio ] || { mkdir -p /dev/vfio; mknod /dev/vfio/vfio c 10 196; }
chmod 0666 /dev/vfio/vfio

log "static nodes created"

# --- identity, network --------------------------------------------------------
echo passthru-guest >/etc/hostname
hostname passthru-guest
ip link set lo up

# --- early boot hook ------------------------------------------------------------
# $PASSTHRU_VM_EARLY (a script, from the environment run-guest.sh passes on) runs here,
# before udev's coldplug loads any driver: where passthrud-reservations.service runs on a
# real boot. Its output goes to the scenario's stream, its exit status to
# /run/passthru-vm-early.status for the scenario to check.
early=$(. "$R/env" 2>/dev/null; echo "${PASSTHRU_VM_EARLY:-}")
if [ -n "$early" ]; then
        log "running the early hook $early"
        ( . "$R/env"; "$early" ) </dev/null >/dev/ttyS1 2>&1
        echo $? >/run/passthru-vm-early.status
        log "early hook exited with $(cat /run/passthru-vm-early.status)"
fi

# --- udev -----------------------------------------------------------------------
# The daemon under test follows udev's netlink group, so udevd must run; it
# also loads the drivers by modalias (coldplug).
if /lib/systemd/systemd-udevd --daemon; then
        log "udevd started"
        udevadm trigger --type=subsystems --action=add
        log "subsystems triggered"
        udevadm trigger --type=devices --action=add --subsystem-nomatch=cpu
        log "devices triggered"
        udevadm settle --timeout=60 || log "warning: udevadm settle timed out"
else
        log "warning: systemd-udevd did not start"
fi

log "udev settled"

# --- the scenario -------------------------------------------------------------
unset passthru_vm_init
HOME=/root TERM=dumb LANG=C.UTF-8
export HOME TERM LANG
[ -r "$R/env" ] && . "$R/env"
set --
. "$R/command"
if [ $# -eq 0 ]; then
        log "no scenario command"
        exit 1
fi
cd "$WORKDIR" 2>/dev/null || cd /

out=/dev/ttyS1
stty -F "$out" raw -echo 2>/dev/null
read -r start _ </proc/uptime
log "running $* (uptime ${start}s)"
"$@" </dev/null >"$out" 2>&1
status=$?
read -r end _ </proc/uptime
log "scenario exited with $status (uptime ${end}s)"
printf 'start %s\nend %s\n' "$start" "$end" >"$R/timing"
echo "$status" >"$R/status.tmp" && mv "$R/status.tmp" "$R/status"

# Leftover daemons go first, so that nothing writes to the shares anymore.
kill -TERM -1 2>/dev/null
sleep 0.3
kill -KILL -1 2>/dev/null
exit 0
