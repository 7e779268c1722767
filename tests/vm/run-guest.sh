#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# run-guest.sh [--kvm|--tcg] [--timeout SECONDS] [--workdir DIR] SCENARIO [ARGS...]
#
# Boots the QEMU test guest (q35 + emulated VT-d, devices on their own root
# ports: see README.md) and runs the executable SCENARIO, a path on this
# host, as root inside it after the common guest setup.  The scenario's
# stdout+stderr appear on our stdout as they come, and we exit with its exit
# status.
#
#   --kvm / --tcg    hardware virtualisation or software emulation; default:
#                    KVM when /proc/cpuinfo has vmx/svm and /dev/kvm is usable
#   --timeout S      give up on a guest that has not reported a result after
#                    S seconds (default 240): exit 124
#   --workdir DIR    the VM directory with the guest kernel, prepared lazily
#                    by prepare-guest.sh, and the logs of each run
#                    (default: $PASSTHRU_BUILD_DIR/vm, or ./vm inside a meson
#                    build dir)
#   --memory MIB     guest memory (default 2048)
#   --keep           keep the results share of the run (until the next run)
#
# PASSTHRU_VM_APPEND adds kernel command line arguments and
# PASSTHRU_VM_QEMU_ARGS QEMU arguments (split on blanks).
#
# The scenario runs in the guest with the same working directory as ours
# and with PATH, HOME=/root and every PASSTHRU_* and MESON_* variable of our
# environment.  Logs of the last run of a scenario are kept in
# WORKDIR/logs/NAME/ (console.log: kernel console; output.log: scenario
# output; qemu.log: QEMU's own messages).
#
# Exit status: the scenario's; 124 when the guest gave no result before the
# timeout; 125 when the guest stopped without a result; 2 for usage errors.

set -uo pipefail

HERE=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
say() { printf 'run-guest: %s\n' "$*" >&2; }
usage() { sed -n '4,5p' "${BASH_SOURCE[0]}" | sed 's/^# //' >&2; exit 2; }

ACCEL=auto
TIMEOUT=240
WORKDIR=
MEMORY=2048
KEEP=0
while [ $# -gt 0 ]; do
        case "$1" in
        --kvm) ACCEL=kvm ;;
        --tcg) ACCEL=tcg ;;
        --timeout) TIMEOUT=${2:?}; shift ;;
        --timeout=*) TIMEOUT=${1#*=} ;;
        --workdir) WORKDIR=${2:?}; shift ;;
        --workdir=*) WORKDIR=${1#*=} ;;
        --memory) MEMORY=${2:?}; shift ;;
        --memory=*) MEMORY=${1#*=} ;;
        --keep) KEEP=1 ;;
        -h|--help) usage ;;
        --) shift; break ;;
        -*) say "unknown option $1"; usage ;;
        *) break ;;
        esac
        shift
done
[ $# -ge 1 ] || usage
case "$TIMEOUT" in ''|*[!0-9]*) say "--timeout needs whole seconds"; exit 2 ;; esac

SCENARIO=$(readlink -f "$1") || { say "no such scenario: $1"; exit 2; }
shift
if [ ! -f "$SCENARIO" ] || [ ! -x "$SCENARIO" ]; then
        say "$SCENARIO is not an executable file"
        exit 2
fi

if [ -z "$WORKDIR" ]; then
        if [ -n "${PASSTHRU_BUILD_DIR:-}" ]; then
                WORKDIR=$PASSTHRU_BUILD_DIR/vm
        elif [ -d meson-private ]; then
                WORKDIR=$PWD/vm
        else
                say "no --workdir given, PASSTHRU_BUILD_DIR unset and not inside a meson build dir"
                exit 2
        fi
fi
mkdir -p "$WORKDIR" && WORKDIR=$(readlink -f "$WORKDIR")

[ "$(id -u)" = 0 ] || { say "needs root (9p export of /, vfio in the guest)"; exit 2; }
QEMU=$(command -v qemu-system-x86_64) || { say "qemu-system-x86_64 not found (tests/vm/setup-host.sh)"; exit 2; }

if [ "$ACCEL" = auto ]; then
        if grep -qwE 'vmx|svm' /proc/cpuinfo && [ -w /dev/kvm ]; then ACCEL=kvm; else ACCEL=tcg; fi
fi
# shellcheck disable=SC2054
case "$ACCEL" in
kvm) ACCEL_ARGS=(-accel kvm -cpu host) ;;
tcg) ACCEL_ARGS=(-accel tcg,thread=multi,tb-size=256 -cpu max) ;;
esac

# --- guest kernel (fetched and cached on first use) ------------------------
T0=$(date +%s.%N)
KVER=$("$HERE/prepare-guest.sh" "$WORKDIR") || { say "prepare-guest.sh failed"; exit 125; }
KDIR=$WORKDIR/kernel/$KVER
KERNEL=$KDIR/vmlinux
[ -s "$KERNEL" ] || KERNEL=$KDIR/root/boot/vmlinuz-$KVER
INITRD=$KDIR/initramfs.img
MODDIR=$KDIR/root/lib/modules/$KVER

# One VM at a time: emulation keeps both cores busy.
exec 8>"$WORKDIR/.run.lock"
if ! flock -n 8; then
        say "waiting for another run-guest.sh in $WORKDIR"
        flock 8
fi

NAME=$(basename "$SCENARIO"); NAME=${NAME%.*}
LOGDIR=$WORKDIR/logs/$NAME
mkdir -p "$LOGDIR"
CONSOLE=$LOGDIR/console.log
OUTPUT=$LOGDIR/output.log
QEMULOG=$LOGDIR/qemu.log
: >"$CONSOLE"; : >"$OUTPUT"; : >"$QEMULOG"
# Results shares of earlier runs (killed, or --keep) are stale by now.
rm -rf "$WORKDIR"/results.*
RESULTS=$(mktemp -d "$WORKDIR/results.XXXXXX")

QPID='' TAILPID=''
# shellcheck disable=SC2317  # (called by the trap)
cleanup() {
        for p in $QPID $TAILPID; do kill "$p" 2>/dev/null; done
        if [ "$KEEP" = 1 ]; then say "results share kept in $RESULTS"; else rm -rf "$RESULTS"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- what the guest runs ----------------------------------------------------
squote() { local s=${1//\'/\'\\\'\'}; printf "'%s'" "$s"; }
{
        printf 'MODDIR=%s\n' "$(squote "$MODDIR")"
        printf 'WORKDIR=%s\n' "$(squote "$PWD")"
} >"$RESULTS/config"
{
        while IFS= read -r -d '' kv; do
                name=${kv%%=*}
                case "$name" in
                PATH|PASSTHRU_*|MESON_*) ;;
                *) continue ;;
                esac
                [[ $name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || continue
                printf 'export %s=%s\n' "$name" "$(squote "${kv#*=}")"
        done < <(env -0)
        echo "export PASSTHRU_VM_KERNEL=$(squote "$KVER")"
} >"$RESULTS/env"
{
        printf 'set --'
        for a in "$SCENARIO" "$@"; do printf ' %s' "$(squote "$a")"; done
        printf '\n'
} >"$RESULTS/command"

# --- the machine ------------------------------------------------------------
CMDLINE="console=ttyS0 panic=-1 intel_iommu=on ${PASSTHRU_VM_APPEND:-} passthru_vm_init=$HERE/guest-init.sh"
# shellcheck disable=SC2054  # (commas are QEMU's)
QEMU_ARGS=(
        -name passthru-test-guest
        -nodefaults -no-user-config
        -display none -vga none -no-reboot
        -machine q35,kernel-irqchip=split
        "${ACCEL_ARGS[@]}"
        -smp 2 -m "$MEMORY"
        -kernel "$KERNEL" -initrd "$INITRD" -append "$CMDLINE"
        # emulated VT-d with interrupt remapping: real IOMMU groups
        -device intel-iommu,intremap=on,caching-mode=on
        # ttyS0: kernel console; ttyS1: scenario output
        -chardev file,id=console,path="$CONSOLE",append=on -serial chardev:console
        -chardev file,id=output,path="$OUTPUT",append=on -serial chardev:output
        # the host's / read-only (an overlay in the guest makes it writable)
        -fsdev local,id=root,path=/,security_model=none,readonly=on,multidevs=remap
        -device virtio-9p-pci,fsdev=root,mount_tag=root,bus=pcie.0,addr=0x8
        # results share
        -fsdev local,id=results,path="$RESULTS",security_model=none
        -device virtio-9p-pci,fsdev=results,mount_tag=results,bus=pcie.0,addr=0x9
        # 00:01.0 -> 01:00.0 VGA (bochs-drm) + 01:00.1 HD audio: one group
        -device pcie-root-port,id=rp1,chassis=1,slot=1,bus=pcie.0,addr=0x1
        -device VGA,bus=rp1,addr=0.0,multifunction=on
        -device ich9-intel-hda,id=hda,bus=rp1,addr=0.1
        -audiodev none,id=snd0
        -device hda-duplex,bus=hda.0,audiodev=snd0
        # 00:02.0 -> 02:00.0 e1000e (user network restricted to the guest)
        -device pcie-root-port,id=rp2,chassis=2,slot=2,bus=pcie.0,addr=0x2
        -netdev user,id=n0,restrict=on
        -device e1000e,netdev=n0,bus=rp2
        # 00:03.0 -> 03:00.0 USB 3 controller
        -device pcie-root-port,id=rp3,chassis=3,slot=3,bus=pcie.0,addr=0x3
        -device qemu-xhci,bus=rp3
        # 00:04.0 -> 04:00.0 virtio-gpu
        -device pcie-root-port,id=rp4,chassis=4,slot=4,bus=pcie.0,addr=0x4
        -device virtio-gpu-pci,bus=rp4
)
# Extra QEMU arguments (split on blanks), e.g. more devices for a scenario.
read -r -a extra <<<"${PASSTHRU_VM_QEMU_ARGS:-}"
QEMU_ARGS+=("${extra[@]}")

say "booting $KVER ($ACCEL) for $NAME, logs in $LOGDIR"
"$QEMU" "${QEMU_ARGS[@]}" </dev/null >"$QEMULOG" 2>&1 8>&- &
QPID=$!
# Stream the scenario output while the guest runs; tail stops by itself
# once QEMU is gone and the file is read to its end.
tail -n +1 -s 0.2 -f --pid="$QPID" "$OUTPUT" 8>&- &
TAILPID=$!

# Watchdog: poll rather than a sleeping helper process that would outlive us.
TIMED_OUT=0
deadline=$((SECONDS + TIMEOUT))
while kill -0 "$QPID" 2>/dev/null; do
        if [ "$SECONDS" -ge "$deadline" ]; then
                TIMED_OUT=1
                kill "$QPID" 2>/dev/null
                break
        fi
        sleep 0.25
done
wait "$QPID"
QSTATUS=$?
QPID=
wait "$TAILPID"
TAILPID=
T1=$(date +%s.%N)

console_tail() {
        echo "----- last 60 lines of the guest kernel console ($CONSOLE) -----"
        tail -n 60 "$CONSOLE" | tr -d '\r'
        if [ -s "$QEMULOG" ]; then
                echo "----- qemu ($QEMULOG) -----"
                tail -n 20 "$QEMULOG"
        fi
        echo "-----"
}

timing() {
        local start end
        start=$(awk '$1 == "start" { print $2 }' "$RESULTS/timing" 2>/dev/null)
        end=$(awk '$1 == "end" { print $2 }' "$RESULTS/timing" 2>/dev/null)
        say "$(awk -v t0="$T0" -v t1="$T1" -v s="${start:-?}" -v e="${end:-?}" 'BEGIN {
                printf "wall %.1f s; guest uptime at scenario start %s s, at its end %s s", t1 - t0, s, e }')"
}

if [ "$TIMED_OUT" = 1 ] && [ ! -s "$RESULTS/status" ]; then
        console_tail
        say "no result from the guest within ${TIMEOUT} s"
        exit 124
fi
if [ ! -s "$RESULTS/status" ]; then
        console_tail
        say "the guest stopped without a result (qemu exit status $QSTATUS)"
        exit 125
fi
STATUS=$(cat "$RESULTS/status")
case "$STATUS" in ''|*[!0-9]*) say "garbled status '$STATUS'"; exit 125 ;; esac
if [ "$STATUS" != 0 ] && [ "$STATUS" != 77 ]; then
        console_tail
fi
timing
say "$NAME exited with status $STATUS"
exit "$STATUS"
