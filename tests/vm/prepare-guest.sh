#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# prepare-guest.sh VMDIR
#
# Prepares everything the QEMU test bed boots, inside VMDIR (normally
# BUILDDIR/vm):
#
#   VMDIR/kernel/VERSION/root/       the Debian kernel package, extracted
#                                    (boot/vmlinuz-*, lib/modules/VERSION/)
#   VMDIR/kernel/VERSION/vmlinux     uncompressed ELF kernel, booted via PVH
#   VMDIR/kernel/VERSION/initramfs.img  busybox + virtio/9p/overlay modules
#   VMDIR/current                    symlink to kernel/VERSION
#
# The kernel is the one Debian's linux-image-amd64 currently depends on.
# When that version is already extracted the tree is reused; the initramfs
# is rebuilt only when this script or busybox changed.  Prints the kernel
# version on stdout; everything else goes to stderr.

set -euo pipefail

say() { printf 'prepare-guest: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

[ $# -eq 1 ] || { echo "usage: $0 VMDIR" >&2; exit 2; }
mkdir -p "$1"
VMDIR=$(cd "$1" && pwd)
SELF=$(readlink -f "${BASH_SOURCE[0]}")

# One preparation at a time for a given VMDIR.
exec 9>"$VMDIR/.prepare.lock"
flock 9

for tool in apt-get apt-cache dpkg-deb depmod modprobe xz cpio; do
        command -v "$tool" >/dev/null || die "$tool not found (run tests/vm/setup-host.sh)"
done
BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] || die "$BUSYBOX not found (install busybox-static: tests/vm/setup-host.sh)"
# (grep reads the whole list: with -q it may quit early, and the SIGPIPE of busybox
# fails the pipeline under pipefail)
"$BUSYBOX" --list | grep -x switch_root >/dev/null || die "$BUSYBOX has no switch_root applet"

# --- resolve the kernel package ------------------------------------------
resolve_pkg() {
        apt-cache depends linux-image-amd64 2>/dev/null |
                awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'
}
PKG=$(resolve_pkg || true)
if [ -z "$PKG" ]; then
        say "linux-image-amd64 unknown to apt-cache, running apt-get update"
        apt-get update -qq >&2 || die "apt-get update failed"
        PKG=$(resolve_pkg || true)
fi
[ -n "$PKG" ] || die "cannot resolve the package linux-image-amd64 depends on"
VERSION=${PKG#linux-image-}
KDIR="$VMDIR/kernel/$VERSION"
ROOT="$KDIR/root"
MODDIR="$ROOT/lib/modules/$VERSION"

# --- fetch and extract (cached per version) -------------------------------
if [ -f "$KDIR/.extracted" ] && [ -d "$MODDIR" ]; then
        say "reusing extracted kernel $VERSION"
else
        say "fetching $PKG"
        rm -rf "$KDIR"
        mkdir -p "$KDIR/download"
        # (apt warns that its sandbox user cannot write into a root-owned
        # build dir; the output is only shown when the download fails.)
        fetch() { (cd "$KDIR/download" && apt-get download -q "$PKG") >"$KDIR/download.log" 2>&1; }
        if ! fetch; then
                say "apt-get download failed, trying again after apt-get update"
                apt-get update -qq >&2 || true
                fetch || { cat "$KDIR/download.log" >&2; die "apt-get download $PKG failed"; }
        fi
        rm -f "$KDIR/download.log"
        debs=("$KDIR"/download/*.deb)
        deb=${debs[0]}
        say "extracting $(basename "$deb")"
        dpkg-deb -x "$deb" "$ROOT"
        rm -rf "$KDIR/download"
        [ -d "$MODDIR" ] || die "$PKG has no lib/modules/$VERSION"
        depmod -b "$ROOT" "$VERSION"
        touch "$KDIR/.extracted"
fi

# Keep only the current version around (each tree is ~400 MiB).
for old in "$VMDIR"/kernel/*; do
        [ -d "$old" ] && [ "$old" != "$KDIR" ] && { say "removing old kernel $(basename "$old")"; rm -rf "$old"; }
done
ln -sfn "kernel/$VERSION" "$VMDIR/current"

# --- uncompressed vmlinux for PVH boot -------------------------------------
VMLINUZ="$ROOT/boot/vmlinuz-$VERSION"
[ -f "$VMLINUZ" ] || die "no $VMLINUZ in the package"

is_elf() { [ "$(head -c 4 "$1" 2>/dev/null | od -An -c | tr -d ' ')" = '177ELF' ]; }

if [ ! -s "$KDIR/vmlinux" ] || ! is_elf "$KDIR/vmlinux"; then
        # The bzImage carries the kernel as an xz stream: find its magic
        # (FD 37 7A 58 5A 00) and try each occurrence until one decompresses
        # to an ELF image.
        rm -f "$KDIR/vmlinux" "$KDIR/vmlinux.tmp"
        # shellcheck disable=SC2013
        for off in $(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$VMLINUZ" | cut -d: -f1); do
                # (xz stops at the end of the stream: no pipe, so tail's
                # SIGPIPE cannot fail the step under pipefail)
                if xz -dc --single-stream < <(tail -c +"$((off + 1))" "$VMLINUZ" 2>/dev/null) >"$KDIR/vmlinux.tmp" 2>/dev/null &&
                   is_elf "$KDIR/vmlinux.tmp"; then
                        mv "$KDIR/vmlinux.tmp" "$KDIR/vmlinux"
                        break
                fi
        done
        rm -f "$KDIR/vmlinux.tmp"
        if [ -s "$KDIR/vmlinux" ]; then
                say "extracted vmlinux ($(du -m "$KDIR/vmlinux" | cut -f1) MiB)"
        else
                say "warning: could not extract vmlinux, the bed will boot the bzImage"
        fi
fi

# --- initramfs -------------------------------------------------------------
# Modules needed before the root filesystem is there, in load order.
INITRD_MODULES="virtio_pci 9pnet_virtio 9p overlay"

stamp="$VERSION $(sha256sum "$SELF" | cut -d' ' -f1) $(stat -c %Y:%s "$BUSYBOX")"
if [ -s "$KDIR/initramfs.img" ] && [ "$(cat "$KDIR/.initramfs-stamp" 2>/dev/null)" = "$stamp" ]; then
        say "reusing initramfs"
else
        say "building initramfs"
        staging="$KDIR/initramfs.d"
        rm -rf "$staging"
        mkdir -p "$staging"/{bin,dev,proc,sys,lower,rw,newroot,etc,lib/modules}
        cp "$BUSYBOX" "$staging/bin/busybox"
        : >"$staging/etc/modules"
        for mod in $INITRD_MODULES; do
                modprobe -d "$ROOT" -S "$VERSION" --show-depends "$mod" |
                        awk '$1 == "insmod" { print $2 }'
        done | awk '!seen[$0]++' | while read -r ko; do
                base=$(basename "$ko")
                case "$ko" in
                *.ko) cp "$ko" "$staging/lib/modules/$base" ;;
                *.ko.xz) xz -dc "$ko" >"$staging/lib/modules/${base%.xz}"; base=${base%.xz} ;;
                *.ko.zst) zstd -qdc "$ko" >"$staging/lib/modules/${base%.zst}"; base=${base%.zst} ;;
                *.ko.gz) gzip -dc "$ko" >"$staging/lib/modules/${base%.gz}"; base=${base%.gz} ;;
                *) die "unexpected module file $ko" ;;
                esac
                echo "$base" >>"$staging/etc/modules"
        done
        [ -s "$staging/etc/modules" ] || die "no initramfs modules found"

        cat >"$staging/init" <<'EOF'
#!/bin/busybox sh
# Stage 1 of the passthru test guest: bring up the 9p root with a tmpfs
# overlay and hand over to the stage-2 script named on the kernel command
# line (passthru_vm_init=PATH, a path on the host root).
/bin/busybox --install -s /bin
export PATH=/bin

fail() {
        echo "initramfs: $*" >/dev/console
        echo o >/proc/sysrq-trigger
        sleep 10
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

stage2= msize=512000 rootcache=loose
for arg in $(cat /proc/cmdline); do
        case "$arg" in
        passthru_vm_init=*) stage2=${arg#*=} ;;
        passthru_vm_msize=*) msize=${arg#*=} ;;
        passthru_vm_cache=*) rootcache=${arg#*=} ;;
        esac
done
[ -n "$stage2" ] || fail "no passthru_vm_init= on the kernel command line"

for m in $(cat /etc/modules); do
        insmod "/lib/modules/$m" || fail "insmod $m failed"
done

mount -t 9p -o "trans=virtio,version=9p2000.L,ro,msize=$msize,cache=$rootcache" root /lower ||
        fail "cannot mount the 9p root"
mount -t tmpfs -o mode=0755 tmpfs /rw
mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work /newroot ||
        fail "cannot mount the overlay root"
[ -x "/newroot$stage2" ] || fail "$stage2 is not executable in the guest root"

# The guest's own /proc, /sys, /dev and /run go over the host's (which the 9p
# root shows as well: the host's /proc/self/exe would be QEMU!).  Mounting
# them here with busybox is also quicker than from stage 2.
mount --move /dev /newroot/dev
mount --move /proc /newroot/proc
mount --move /sys /newroot/sys
mount -t tmpfs -o mode=0755,nosuid,nodev,size=25% tmpfs /newroot/run
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts -o gid=5,mode=0620,ptmxmode=0666 devpts /newroot/dev/pts
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /newroot/dev/shm
exec switch_root /newroot "$stage2"
EOF
        chmod 755 "$staging/init"
        (cd "$staging" && find . -print0 | LC_ALL=C sort -z |
                cpio --quiet -o -0 -H newc -R 0:0) >"$KDIR/initramfs.img.tmp"
        mv "$KDIR/initramfs.img.tmp" "$KDIR/initramfs.img"
        rm -rf "$staging"
        echo "$stamp" >"$KDIR/.initramfs-stamp"
        say "initramfs: $(du -k "$KDIR/initramfs.img" | cut -f1) KiB"
fi

echo "$VERSION"
