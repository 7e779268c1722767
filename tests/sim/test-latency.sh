#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The latency model and the accounting of simulated operations, under pcisim: the latency file
# (lines, "-" for any target, replacing, clear, bad lines refused with EINVAL and changing
# nothing), each operation taking at least its latency (driver unbind and bind, vtconsole,
# platform framebuffer, module unload and load through the control files and through
# rmmod/modprobe, an unload that unbinds paying both), the stats file (counts, time spent, the
# modelled part, per kind and in total; control files not counted; FUSE requests; reset; EINVAL),
# no latency by default, and a write sleeping off its latency not holding up pcisim's exit.
#   test-latency.sh PCISIM FIXTURE_DIR
set -u

PCISIM=$1
FIXTURES=$2
ACS=$FIXTURES/amd-matisse-gtx1650-acs-override.txt
STOCK=$FIXTURES/amd-matisse-gtx1650.txt

if [ "$(id -u)" != 0 ] || [ ! -c /dev/fuse ]; then
        echo "SKIP: needs root and /dev/fuse"
        exit 77
fi
for p in modprobe rmmod; do
        if ! command -v "$p" >/dev/null && [ ! -x "/sbin/$p" ] && [ ! -x "/usr/sbin/$p" ]; then
                echo "SKIP: needs $p (kmod)"
                exit 77
        fi
done
export PATH="$PATH:/usr/sbin:/sbin"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

. "$(dirname "$0")/test-lib.sh"
run() {         # run WHAT LISTING SCRIPT: SCRIPT as pcisim's COMMAND (module calls simulated)
        local what=$1 listing=$2 out rc
        out=$("$PCISIM" "$listing" -- bash "$3" 2>&1)
        rc=$?
        count "$out" "$rc" "$what"
}

cat >"$tmp/lib.sh" <<'EOF'
check() {       # check DESCRIPTION COMMAND...
        local d=$1; shift
        if "$@"; then echo "ok $d"; else echo "FAIL: $d"; fi
}
eq() {          # eq DESCRIPTION EXPECTED ACTUAL
        if [ "$2" = "$3" ]; then echo "ok $1"; else echo "FAIL: $1: expected '$2', got '$3'"; fi
}
fails_with() {  # fails_with DESCRIPTION MESSAGE SHELL-COMMAND
        local out rc
        out=$(bash -c "$3" 2>&1); rc=$?
        if [ "$rc" != 0 ] && [[ "$out" == *"$2"* ]]; then echo "ok $1"; else echo "FAIL: $1: rc=$rc '$out'"; fi
}
L=/sys/kernel/pcisim/latency
ST=/sys/kernel/pcisim/stats
S=/sys/bus/pci
driver() { local l; l=$(readlink "$S/devices/$1/driver") && echo "${l##*/}"; }
# ms COMMAND...: runs it, prints how long it took in milliseconds
ms() {
        local t0=${EPOCHREALTIME/./} t1
        "$@" >/dev/null 2>&1
        t1=${EPOCHREALTIME/./}
        echo $(((t1 - t0) / 1000))
}
at_least() {    # at_least DESCRIPTION MIN_MS MS
        if [ "$3" -ge "$2" ]; then echo "ok $1"; else echo "FAIL: $1: took $3 ms, expected at least $2"; fi
}
below() {       # below DESCRIPTION MAX_MS MS
        if [ "$3" -lt "$2" ]; then echo "ok $1"; else echo "FAIL: $1: took $3 ms, expected less than $2"; fi
}
stat_field() {  # stat_field KIND FIELD(2 count, 3 ns, 4 modelled ns): 0 when KIND has no line
        awk -v k="$1" -v f="$2" '$1 == k { v = $f } END { print v + 0 }' $ST
}
ops() {         # the stats without the requests line
        grep -v '^requests ' $ST
}
EOF

# --- 1. the latency file ----------------------------------------------------------------------
cat >"$tmp/file.sh" <<'EOF'
. "$(dirname "$0")/lib.sh"
eq "no latency at start" "" "$(cat $L)"
eq "modes" "644 644" "$(stat -c %a $L $ST | paste -sd ' ')"
check "write lines" bash -c "printf 'unbind nvidia 300\nbind vfio-pci 20\nload nvidia-drm 60\nunload - 80\nvtcon_bind vtcon1 30\nframebuffer_unbind efi-framebuffer.0 10\nframebuffer_bind - 5\n' > $L"
eq "read back, module names with _" "unbind nvidia 300
bind vfio-pci 20
load nvidia_drm 60
unload - 80
vtcon_bind vtcon1 30
framebuffer_unbind efi-framebuffer.0 10
framebuffer_bind - 5" "$(cat $L)"
check "a line for the same OP and TARGET replaces it" bash -c "echo 'unbind nvidia 250' > $L"
eq "replaced, at the end" "unload - 80
unbind nvidia 250" "$(sed -n '3p;$p' $L)"
eq "still seven lines" 7 "$(wc -l < $L)"
check "'-' and a name are two lines" bash -c "echo 'unbind - 1' > $L"
eq "eight lines" 8 "$(wc -l < $L)"
before=$(cat $L)
for bad in "unbind nvidia" "unbind nvidia 300 ms" "unbind nvidia 3x" "unbind nvidia -3" "unbind nvidia 0x10" \
           "unbind nvidia 60001" "unbind nvidia 99999999999999999999" "rebind nvidia 3" \
           "driver_override - 3" "unbind nvdia 3" "bind 0000:26:00.0 3" "load nvidia.ko 3" "unload pcieport 3" \
           "vtcon_bind vtcon7 3" "vtcon_bind 1 3" "framebuffer_unbind simple-framebuffer.0 3" "clear now"; do
        fails_with "refused: '$bad'" "Invalid argument" "echo '$bad' > $L"
done
# (bash's printf writes each line separately; coreutils' in one write)
fails_with "one bad line refuses the whole write" "Invalid argument" "env printf 'bind - 1\nunbind nvdia 2\n' > $L"
eq "bad writes changed nothing" "$before" "$(cat $L)"
check "0 ms and 60000 ms are taken" bash -c "env printf 'bind - 0\nload - 60000\n' > $L"
check "clear" bash -c "echo clear > $L"
eq "empty after clear" "" "$(cat $L)"
check "clear, then lines, in one write" bash -c "printf 'bind - 1\n' > $L; env printf 'clear\nunbind - 2\n' > $L"
eq "only the new line" "unbind - 2" "$(cat $L)"
EOF
run "latency file" "$ACS" "$tmp/file.sh"

# --- 2. operations take their latency; the stats ---------------------------------------------
cat >"$tmp/ops.sh" <<'EOF'
. "$(dirname "$0")/lib.sh"
eq "stats at start" "total 0 0 0" "$(ops)"
printf 'vtcon_bind - 200\nframebuffer_unbind - 150\nframebuffer_bind - 100\nunbind - 100\nunbind snd_hda_intel 250\nbind - 120\nunload - 100\nload nvidia 200\nload - 50\n' > $L
echo reset > $ST

t=$(ms bash -c 'echo 0 > /sys/class/vtconsole/vtcon1/bind')
at_least "vtcon1 unbind takes its 200 ms" 200 "$t"
eq "and unbinds" 0 "$(cat /sys/class/vtconsole/vtcon1/bind)"
t=$(ms bash -c 'echo 0 > /sys/class/vtconsole/vtcon1/bind')
below "unbinding it again changes nothing and takes no latency" 200 "$t"
t=$(ms bash -c 'echo 1 > /sys/class/vtconsole/vtcon0/bind')
below "the system driver ignores the write: no latency" 200 "$t"
eq "vtcon_bind: 3 writes" 3 "$(stat_field vtcon_bind 2)"
eq "vtcon_bind: 200 ms modelled" 200000000 "$(stat_field vtcon_bind 4)"
n=$(stat_field vtcon_bind 3)
check "vtcon_bind: time spent ≥ modelled ($n ns)" test "$n" -ge 200000000

t=$(ms bash -c 'echo efi-framebuffer.0 > /sys/bus/platform/drivers/efi-framebuffer/unbind')
at_least "framebuffer unbind takes 150 ms" 150 "$t"
t=$(ms bash -c 'echo efi-framebuffer.0 > /sys/bus/platform/drivers/efi-framebuffer/bind')
at_least "framebuffer bind takes 100 ms" 100 "$t"

# the specific target before "-"
t=$(ms bash -c "echo 0000:26:00.1 > $S/drivers/snd_hda_intel/unbind")
at_least "snd_hda_intel's own unbind latency, 250 ms" 250 "$t"
eq "audio unbound" "" "$(driver 0000:26:00.1)"
t=$(ms bash -c "echo 0000:26:00.1 > $S/drivers/snd_hda_intel/bind")
at_least "bind: the '-' latency, 120 ms" 120 "$t"
eq "unbind: 1 write, 250 ms modelled" "1 250000000" "$(stat_field unbind 2) $(stat_field unbind 4)"

# a module unload that unbinds the GPU pays both; a failing one pays nothing
t=$(ms rmmod nvidia_uvm)
at_least "rmmod nvidia_uvm (delete_module) takes 100 ms" 100 "$t"
fails_with "rmmod nvidia refused under its dependents" "in use" "rmmod nvidia"
echo nvidia_drm > /sys/kernel/pcisim/unload_module; echo nvidia_modeset > /sys/kernel/pcisim/unload_module
echo reset > $ST
t=$(ms rmmod nvidia)
at_least "rmmod nvidia with the GPU bound: unload 100 + unbind 100 ms" 200 "$t"
eq "the GPU unbound by it" "" "$(driver 0000:26:00.0)"
eq "unload: 1 call, 200 ms modelled" "1 200000000" "$(stat_field unload 2) $(stat_field unload 4)"
eq "the unbind inside counted as part of the unload" 0 "$(stat_field unbind 2)"
t=$(ms modprobe nvidia)
at_least "modprobe nvidia: load 200 ms + the GPU's probe 120 ms" 320 "$t"
eq "the GPU bound by the load" nvidia "$(driver 0000:26:00.0)"
t=$(ms bash -c 'echo nvidia_modeset > /sys/kernel/pcisim/load_module')
at_least "load_module nvidia_modeset: the '-' 50 ms" 50 "$t"
eq "load: 2 calls, 370 ms modelled" "2 370000000" "$(stat_field load 2) $(stat_field load 4)"

# other writes are counted, with no latency; control files and reads are not
echo reset > $ST
echo vfio-pci > $S/devices/0000:26:00.1/driver_override
echo 1 > $S/devices/0000:26:00.1/enable
cat $S/devices/0000:26:00.1/driver_override $ST $L >/dev/null
echo 'bind - 120' > $L
echo clear > /sys/kernel/pcisim/faults
eq "driver_override and other counted, nothing modelled" "driver_override 1 other 1 total 2 0" \
        "$(ops | awk '{ printf "%s%s %s", (NR > 1 ? " " : ""), $1, $2 } $1 == "total" { printf " %s", $4 }')"
n=$(stat_field total 3)
check "their time spent is counted ($n ns)" test "$n" -gt 0
fails_with "a refused write is counted too" "No such device" "echo 0000:26:00.0 > $S/drivers/snd_hda_intel/bind"
eq "bind: 1 call, nothing modelled" "1 0" "$(stat_field bind 2) $(stat_field bind 4)"
eq "the total sums the kinds" "$(ops | awk '$1 != "total" { c += $2; n += $3; l += $4 } END { print c, n, l }')" \
        "$(awk '$1 == "total" { print $2, $3, $4 }' $ST)"

check "reset" bash -c "echo reset > $ST"
eq "zero after reset" "total 0 0 0" "$(ops)"
n=$(stat_field requests 2)
check "requests after reset: the read of stats only ($n)" test "$n" -gt 0 -a "$n" -lt 20
for i in 1 2 3 4 5 6 7 8 9 10; do cat $S/devices/0000:26:00.0/vendor >/dev/null; done
n=$(stat_field requests 2)
check "ten reads of an attribute: 40 requests or more ($n)" test "$n" -ge 40
for bad in "" "1" "reset now" "clear"; do
        fails_with "stats refuses '$bad'" "Invalid argument" "echo '$bad' > $ST"
done
EOF
run "operations and stats" "$ACS" "$tmp/ops.sh"

# --- 3. no latency by default ------------------------------------------------------------------
cat >"$tmp/default.sh" <<'EOF'
. "$(dirname "$0")/lib.sh"
echo 0 > /sys/class/vtconsole/vtcon1/bind
echo efi-framebuffer.0 > /sys/bus/platform/drivers/efi-framebuffer/unbind
echo nvidia > /sys/kernel/pcisim/unload_module
rmmod snd_hda_intel
modprobe snd_hda_intel
eq "five operations, nothing modelled" "5 0" "$(awk '$1 == "total" { print $2, $4 }' $ST)"
EOF
run "no latency by default" "$STOCK" "$tmp/default.sh"

# --- 4. a write sleeping off its latency does not hold up the exit ----------------------------
cat >"$tmp/exit.sh" <<'EOF'
echo 'unbind - 60000' > /sys/kernel/pcisim/latency
echo 0000:26:00.1 > /sys/bus/pci/drivers/snd_hda_intel/unbind &
while [ -e /sys/bus/pci/devices/0000:26:00.1/driver ]; do sleep 0.01; done
EOF
t0=${EPOCHREALTIME/./}
out=$(timeout 30 "$PCISIM" "$STOCK" -- bash "$tmp/exit.sh" 2>&1)
rc=$?
t=$(((${EPOCHREALTIME/./} - t0) / 1000))
[ "$rc" = 0 ] && [ "$t" -lt 10000 ] && pass || fail "pcisim exit during a 60 s latency: rc=$rc after $t ms '$out'"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
