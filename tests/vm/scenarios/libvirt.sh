#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The GPU handed to a real libvirt domain and given back when it stops: a real libvirtd (with
# virtlogd) in the guest, passthru's qemu hook installed, passthrud on the real system bus,
# and a domain (type qemu, i.e. emulated: no KVM here) whose two unmanaged PCI host devices are
# the guest's VGA (bochs-drm) + HD-audio (snd_hda_intel) card of IOMMU group 8.
#   1. setup: qemu.conf (security_driver "none"; Debian's other defaults, qemu as libvirt-qemu
#      with cgroups and namespaces, work in this bed), the build's hook script
#      ($B/clients/passthru) as /etc/libvirt/hooks/qemu.d/passthru before libvirtd starts
#      (libvirtd only looks for hooks at start), pointed at the build tree's passthructl;
#   2. passthructl start DOMAIN: passthrud hands the card off and starts the domain; both
#      functions on vfio-pci (driver links and overrides), bochs unloaded, Gpu State "guest"
#      and Domain, Group Owner "guest" and Domain, `passthructl guests` lists the domain,
#      virsh says running, and the nested QEMU has /dev/vfio/8 open; `passthructl return` is
#      GuestRunning naming the domain and changes nothing; `virsh destroy` and no further
#      command: the daemon returns the card by itself (bochs-drm and snd_hda_intel, overrides
#      cleared, consoles and modules as before, State "host", Group Owner "host", no record
#      in /run/passthru1);
#   3. the same through the hook: `virsh start` (prepare begin → PrepareGuest) → running on
#      vfio-pci with QEMU holding the group; passthrud restarted meanwhile keeps the card with
#      the guest (State "guest" once it asked libvirt); `virsh destroy` (release end → ReleaseGuest, and
#      the lifecycle event) → back on the host drivers as before; the hook failed nowhere;
#   4. `virsh start` while a process holds the VGA's /dev/dri/cardN: the hook's prepare begin
#      fails with the daemon's InUse message (process and node) in virsh's error, the domain
#      does not run and nothing changed (drivers, overrides, consoles, modules, State);
#   5. the domain's host devices managed='yes': `passthructl start` releases the host's hold
#      (bochs unloaded) but moves neither function, libvirt binds them to vfio-pci and QEMU
#      opens the group; after `virsh destroy` libvirt gives them back and passthru finishes
#      the return: everything as before.
# Each phase is timed (diag lines); on failure the tails of passthrud's, libvirtd's and the
# domain's logs are printed.

# shellcheck disable=SC2317  # (functions run through check and wait_for)
set -u
HERE=$(dirname "$(readlink -f "$0")")
# shellcheck source=tests/vm/guest-lib.sh
. "$HERE/../guest-lib.sh"

B=${PASSTHRU_BUILD_DIR:?}
S=${PASSTHRU_SOURCE_DIR:?}
CTL=$B/clients/passthructl
LOG=/run/passthrud.log
LVLOG=/var/log/libvirt/libvirtd.log
HOOKS=/etc/libvirt/hooks/qemu.d
CALLS=/run/passthru-hook.calls
HOOK_OFF=/run/passthru-hook.off
RT=/run/passthru1
P=/org/passthru1
SYSPCI=/sys/bus/pci/devices
DOM=gpu-guest
DOMLOG=/var/log/libvirt/qemu/$DOM.log
export LIBVIRT_DEFAULT_URI=qemu:///system

tail_of() {
        diag "$1 (tail):"
        if [ -e "$1" ]; then tail -n "${2:-40}" "$1" | sed 's/^/#   /'; else diag "  (no such file)"; fi
}
show_logs() {
        tail_of "$LOG" 80
        tail_of "$LVLOG" 40
        tail_of /run/libvirtd.log 10
        tail_of "$DOMLOG" 30
        tail_of "$CALLS" 20
}
give_up() { show_logs; finish; }
phase() { diag "$1: $(( $(now_ms) - t_phase )) ms"; t_phase=$(now_ms); }
t_start=$(now_ms)
t_phase=$t_start

# --- 1. setup ----------------------------------------------------------------------------------
check "libvirtd and virsh are installed (tests/vm/setup-host.sh --libvirt)" have_libvirtd || give_up
check "qemu-system-x86_64 is installed" command -v qemu-system-x86_64 || give_up
check_match "the build's hook script runs passthructl libvirt-hook with libvirt's arguments" \
        '^exec /.*/passthructl libvirt-hook "\$@"$' "$(<"$B/clients/passthru")"

mkdir -p /etc/dbus-1/system.d /usr/share/polkit-1/actions /etc/passthru1 "$HOOKS" /var/log/libvirt
cp "$S/dbus/org.passthru1.conf" /etc/dbus-1/system.d/
cp "$S/polkit/org.passthru1.policy" /usr/share/polkit-1/actions/
# The guest's /etc is a throw-away overlay: this replaces the host's files only in here. No
# AppArmor/SELinux in the guest; libvirtd's warnings and errors to a file (no syslog here).
printf 'security_driver = "none"\n' >/etc/libvirt/qemu.conf
printf 'log_outputs = "3:file:%s"\n' "$LVLOG" >/etc/libvirt/libvirtd.conf
# The build's hook, with the build tree's passthructl in place of the installed one, and two
# lines before the exec: one records each call (GUEST OPERATION SUB-OPERATION EXTRA), one
# makes it do nothing while $HOOK_OFF exists (libvirtd keeps the hooks it found at start).
sed -e "s|^exec /.*/passthructl |exec $CTL |" \
    -e "1a echo \"\$*\" >>$CALLS" \
    -e "1a [ -e $HOOK_OFF ] \\&\\& { echo off >>$CALLS; exit 0; }" "$B/clients/passthru" >"$HOOKS/passthru"
chmod 755 "$HOOKS/passthru"
check_match "the guest's hook runs the build tree's passthructl" "^exec $CTL libvirt-hook \"\\\$@\"\$" \
        "$(<"$HOOKS/passthru")"

check "system dbus-daemon starts" start_system_bus
check "polkitd starts" start_polkitd
phase "system bus and polkitd"
check "libvirtd starts (qemu:///system answers)" start_libvirtd || give_up
phase "libvirtd up (its QEMU driver probes the emulator as it starts)"
check "libvirt probes QEMU (virsh domcapabilities --virttype qemu)" \
        virsh domcapabilities --virttype qemu --arch x86_64 || give_up
phase "domain capabilities"

"$B/service/passthrud" --log-level=debug >>"$LOG" 2>&1 &
daemon=$!
check "passthrud owns org.passthru1" wait_for 30 bus_has_name org.passthru1 || give_up
phase "passthrud up"

vga=$(pci_find 1234 1111)
hda=$(pci_find 8086 293e)
grp=$(pci_group "$vga")
gpu_path=$P/device/pci_${vga//[:.]/_}
diag "VGA $vga + HDA $hda in group $grp"

# hostdev ADDRESS [EXTRA]: an unmanaged PCI host device (libvirt binds nothing: passthrud does).
hostdev() {
        local a=$1
        printf "    <hostdev mode='subsystem' type='pci' managed='no'>\n"
        printf "      <source><address domain='0x%s' bus='0x%s' slot='0x%s' function='0x%s'/></source>\n" \
                "${a:0:4}" "${a:5:2}" "${a:8:2}" "${a:11:1}"
        [ -n "${2:-}" ] && printf '      %s\n' "$2"
        printf "    </hostdev>\n"
}
# Nothing to boot: the nested QEMU runs SeaBIOS, finds no boot device and idles; what counts
# is that it runs with the group open. No ROM BAR for the VGA (its option ROM is not needed).
cat >/run/$DOM.xml <<EOF
<domain type='qemu'>
  <name>$DOM</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>$(command -v qemu-system-x86_64)</emulator>
    <controller type='usb' model='none'/>
    <video><model type='none'/></video>
    <memballoon model='none'/>
$(hostdev "$vga" "<rom bar='off'/>")
$(hostdev "$hda")
  </devices>
</domain>
EOF
check "virsh define $DOM (two unmanaged PCI host devices: $vga, $hda)" virsh define "/run/$DOM.xml" || give_up
check_match "... libvirt kept the VGA as a host device" "<address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>" \
        "$(virsh dumpxml "$DOM")"
phase "domain defined"

state() { printf 'where: %s\nconsoles: %s\nmodules: %s\n' "$(pci_where "$vga" "$hda")" "$(vtconsoles)" "$(modules_but_vfio | tr '\n' ' ')"; }
gpu_prop() { busctl --system --timeout=10 get-property org.passthru1 "$gpu_path" org.passthru1.Gpu "$1" 2>&1; }
grp_prop() { busctl --system --timeout=10 get-property org.passthru1 "$P/group/$grp" org.passthru1.Group "$1" 2>&1; }
journals() { local j=("$RT"/*.journal "$RT"/*.handoff); [ -e "${j[0]}" ] && echo "${j[@]##*/}"; }
domstate() { virsh domstate "$DOM" 2>&1; }
qemu_pid() { local p=; read -r p <"/run/libvirt/qemu/$DOM.pid" 2>/dev/null; [ -n "$p" ] && echo "$p"; }  # (no newline)
# The nested QEMU has the group's /dev/vfio/N open.
qemu_holds_group() {
        local pid
        pid=$(qemu_pid) && [ -n "$pid" ] && [ -n "$(find "/proc/$pid/fd" -lname "/dev/vfio/$grp" 2>/dev/null)" ]
}
on_vfio() { [ "$(pci_where "$vga" "$hda")" = "$vga=vfio-pci/vfio-pci $hda=vfio-pci/vfio-pci " ]; }
at_home() { [ "$(state)" = "$before" ] && [ "$(gpu_prop State)" = 's "host"' ] && [ -z "$(journals)" ]; }
hook_failures() { grep 'Hook script execution failed' "$LVLOG" 2>/dev/null; }

# the card is with the host, the consoles on bochs's frame buffer (fbcon made it primary)
check "bochs is loaded" test -d /sys/module/bochs
before=$(state)
diag "before: $before"
check_eq "the card starts on bochs-drm and snd_hda_intel" "$vga=bochs-drm/(null) $hda=snd_hda_intel/(null) " \
        "$(pci_where "$vga" "$hda")"
check_eq "Gpu State is host" 's "host"' "$(gpu_prop State)"
check_eq "the domain is shut off" "shut off" "$(domstate)"

# returned DESC: after virsh destroy, the card comes back without any further command.
returned() {
        local ok=0
        check "$1: the card is back with the host (polled)" wait_for 90 at_home || ok=1
        phase "$1: back with the host after virsh destroy"
        check_eq "$1: drivers, overrides, consoles and modules exactly as before" "$before" "$(state)"
        check_eq "$1: Gpu State host" 's "host"' "$(gpu_prop State)"
        check_eq "$1: Gpu Domain empty" 's ""' "$(gpu_prop Domain)"
        check_eq "$1: Group $grp Owner host, Domain empty" 's "host" s ""' "$(grp_prop Owner) $(grp_prop Domain)"
        check_eq "$1: no journal, no record in $RT" "" "$(journals)"
        check "$1: /dev/vfio/$grp is gone" test ! -e "/dev/vfio/$grp"
        check "$1: bochs is loaded again" test -d /sys/module/bochs
        check_eq "$1: the domain is shut off" "shut off" "$(domstate)"
        return $ok
}

# ctl_start LABEL: passthructl start of the domain (its output in /run/ctl-start.out, shown
# when it fails), the hook's call log emptied first.
ctl_start() {
        local t0 rc l
        : >"$CALLS"
        t0=$(now_ms)
        "$CTL" start "$DOM" --no-ask-password >/run/ctl-start.out 2>&1
        rc=$?
        check_eq "${1}passthructl start $DOM succeeds (in $(( $(now_ms) - t0 )) ms)" 0 "$rc" ||
                while IFS= read -r l; do diag "  $l"; done </run/ctl-start.out
        phase "${1}passthructl start"
}

# guest_runs LABEL: the card on vfio-pci, the domain running with QEMU holding the group,
# Gpu State guest.
guest_runs() {
        check "${1}both functions on vfio-pci, driver_override vfio-pci" on_vfio || diag "  $(pci_where "$vga" "$hda")"
        check_eq "${1}virsh: $DOM running" running "$(domstate)"
        check "${1}the nested QEMU (pid $(qemu_pid)) has /dev/vfio/$grp open" qemu_holds_group
        check_eq "${1}Gpu State guest" 's "guest"' "$(gpu_prop State)"
}

# --- 2. passthructl start, then virsh destroy -------------------------------------------------
ctl_start ""
while IFS= read -r l; do diag "  $l"; done </run/ctl-start.out
guest_runs ""
check "bochs is unloaded" test ! -d /sys/module/bochs
check_eq "Gpu Domain $DOM" "s \"$DOM\"" "$(gpu_prop Domain)"
check_eq "Group $grp Owner guest, Domain $DOM" "s \"guest\" s \"$DOM\"" "$(grp_prop Owner) $(grp_prop Domain)"
check_match "passthructl guests: $DOM running with both functions" \
        "^$DOM +running +${vga#0000:} ${hda#0000:}\$" "$("$CTL" guests 2>&1)"
check_match "the hook's prepare begin ran (libvirt runs it for the daemon's own start too)" \
        "^$DOM prepare begin -\$" "$(<"$CALLS")"
during=$(state)
"$CTL" return "${vga#0000:}" --no-ask-password >/run/ctl-return.out 2>&1
rc=$?
out=$(</run/ctl-return.out)
check_eq "passthructl return while $DOM runs: exit status 1" 1 "$rc"
check_match "... GuestRunning naming $DOM" "org\\.passthru1\\.Error\\.GuestRunning: .*$DOM" "$out"
check_eq "... nothing changed" "$during" "$(state)"
check_eq "... Gpu State still guest" 's "guest"' "$(gpu_prop State)"
check_eq "... $DOM still running" running "$(domstate)"
check "... QEMU still has /dev/vfio/$grp open" qemu_holds_group
phase "return refused"

check "virsh destroy $DOM" virsh destroy "$DOM"
phase "virsh destroy"
returned "passthructl start"
check "... the hook's release end ran" wait_for 30 grep -qx "$DOM release end -" "$CALLS"
check_eq "... no hook failure in libvirtd's log" "" "$(hook_failures)"

# --- 2b. the same without the hook: the daemon's own lifecycle event returns the card -------
touch "$HOOK_OFF"
ctl_start "hook off: "
guest_runs "hook off: "
check "virsh destroy $DOM" virsh destroy "$DOM"
phase "virsh destroy"
returned "hook off"
check_match "hook off: the daemon returned the card on libvirt's event (its log)" \
        "Domain $DOM stopped: returning GPU $vga to the host" "$(<"$LOG")"
# Each call writes its arguments, then "off" when it stops at the switch.
calls=$(grep -cvx off "$CALLS")
check "hook off: libvirt ran the hook ($calls calls: prepare … release)" test "$calls" -ge 4
check_eq "hook off: every call ended at the switch, before passthructl" "$calls" "$(grep -cx off "$CALLS")"
rm -f "$HOOK_OFF"


# --- 3. virsh start / destroy through the hook ------------------------------------------------
: >"$CALLS"
t0=$(now_ms)
out=$(virsh start "$DOM" 2>&1)
rc=$?
check_eq "virsh start $DOM succeeds (the hook hands the card off; in $(( $(now_ms) - t0 )) ms)" 0 "$rc" ||
        diag "  $out"
phase "virsh start"
check_match "the hook's prepare begin ran" "^$DOM prepare begin -\$" "$(<"$CALLS")"
guest_runs ""
check "bochs is unloaded" test ! -d /sys/module/bochs
check_eq "Gpu Domain $DOM" "s \"$DOM\"" "$(gpu_prop Domain)"
check_eq "Group $grp Owner guest, Domain $DOM" "s \"guest\" s \"$DOM\"" "$(grp_prop Owner) $(grp_prop Domain)"
check_match "passthructl guests lists $DOM" "^$DOM +running +${vga#0000:} ${hda#0000:}\$" "$("$CTL" guests 2>&1)"

# A daemon restarted while the guest runs: it asks libvirt (once its connection is open) and
# leaves the card with the guest.
kill -TERM "$daemon"
wait "$daemon"
check_eq "passthrud stops (SIGTERM) while $DOM runs" 0 "$?"
"$B/service/passthrud" --log-level=debug >>"$LOG" 2>&1 &
daemon=$!
check "a new passthrud owns org.passthru1" wait_for 30 bus_has_name org.passthru1
gpu_is_guest() { [ "$(gpu_prop State)" = 's "guest"' ]; }
check "the new daemon sees $DOM run: Gpu State guest" wait_for 30 gpu_is_guest
check_eq "... Group $grp Owner guest, Domain $DOM" "s \"guest\" s \"$DOM\"" "$(grp_prop Owner) $(grp_prop Domain)"
check "... both functions still on vfio-pci" on_vfio
check "... QEMU still has /dev/vfio/$grp open" qemu_holds_group
phase "daemon restarted"

check "virsh destroy $DOM" virsh destroy "$DOM"
phase "virsh destroy"
returned "virsh start"
check "... the hook's release end ran" wait_for 30 grep -qx "$DOM release end -" "$CALLS"
check_eq "... no hook failure in libvirtd's log" "" "$(hook_failures)"

# --- 4. virsh start while the host uses the card: InUse through the hook --------------------
cards=("$SYSPCI/$vga"/drm/card*)
card=/dev/dri/${cards[0]##*/}
sleep 1000 3<"$card" &
holder=$!
check "a process holds $card" wait_for 5 test -e "/proc/$holder/fd/3"
t0=$(now_ms)
out=$(virsh start "$DOM" 2>&1)
rc=$?
diag "virsh start with $card held: exit status $rc in $(( $(now_ms) - t0 )) ms"
check_eq "virsh start $DOM fails" 1 "$rc"
check_match "... with the daemon's InUse message from the hook, naming the process and the node" \
        "passthru: The host still uses $vga: sleep \\(pid $holder\\) holds $card\\." "$out"
diag "  $(grep -m1 'passthru: ' <<<"$out")"
check_eq "... $DOM is not running" "shut off" "$(domstate)"
check_eq "... nothing changed (drivers, overrides, consoles, modules)" "$before" "$(state)"
check_eq "... Gpu State host" 's "host"' "$(gpu_prop State)"
check_eq "... no journal, no record" "" "$(journals)"
failures=$(hook_failures)
check_match "... libvirtd logged the hook's prepare begin failure" "passthru $DOM prepare begin -\\) unexpected exit status 1" "$failures"
check_eq "... and no other hook failure (the release end after the failed start succeeded)" 1 "$(grep -c . <<<"$failures")"
kill "$holder"; wait "$holder" 2>/dev/null
phase "refused start"

# --- 5. managed='yes': libvirt binds and gives back, passthru releases the host's hold ------
uuid=$(virsh domuuid "$DOM")
sed -e "s/managed='no'/managed='yes'/" -e "s|<name>$DOM</name>|&<uuid>${uuid//[!0-9a-f-]/}</uuid>|" "/run/$DOM.xml" \
        >"/run/$DOM-managed.xml"
check "virsh define $DOM again, its host devices managed='yes'" virsh define "/run/$DOM-managed.xml"
check_match "... libvirt has them managed" "<hostdev mode='subsystem' type='pci' managed='yes'>" "$(virsh dumpxml "$DOM")"
ctl_start "managed: "
check_fails "managed: passthru probed neither function (libvirt binds them)" grep -q " probe " /run/ctl-start.out
check_match "managed: passthru still released the host's hold (bochs unloaded)" "unload-module +unload module bochs" \
        "$(</run/ctl-start.out)"
guest_runs "managed (libvirt bound them): "
check "virsh destroy $DOM" virsh destroy "$DOM"
phase "virsh destroy"
returned "managed"
check_eq "managed: no hook failure in libvirtd's log" 1 "$(hook_failures | grep -c .)"

kill -TERM "$daemon"
wait "$daemon"
check_eq "passthrud exits 0 on SIGTERM" 0 "$?"
diag "whole scenario: $(( $(now_ms) - t_start )) ms"
[ "$GUEST_LIB_FAILED" -gt 0 ] && show_logs
finish
