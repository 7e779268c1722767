#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# passthrud's Detach and Reattach against the real kernel's vfio-pci: a real system
# dbus-daemon with the project's bus policy, real polkitd with the project's actions, the
# built passthrud, driven with busctl (the API itself) and passthructl, and checked
# against the guest kernel's sysfs and /dev/vfio.
#   1. group detach of the VGA + HD-audio group as root: the steps of the reply; both
#      functions on vfio-pci (driver links and driver_override), /dev/vfio/N a char device
#      whose number is the kernel's; Driver, Viable, Owner on the bus; a repeated Detach
#      is all "unchanged"; dry-runs change nothing; a process holding the boot VGA's DRM
#      node makes Detach HostCritical (when the VGA is the boot VGA)
#   2. a process with the real vfio group fd (/dev/vfio/N) open: Reattach is GuestRunning
#      and names it; once it is gone, Reattach returns both functions to bochs-drm and
#      snd_hda_intel, overrides cleared, /dev/vfio/N gone
#   3. Device.Detach and Reattach of the e1000e NIC alone (passthructl for the reattach)
#   4. a non-root user is refused and nothing changes: InteractiveAuthorizationRequired
#      without a polkit agent, AccessDenied once a rules.d file says no; a rules.d file
#      granting org.passthru1.device.assign lets the same user detach and reattach
#   5. crash safety: a group detach interrupted by SIGKILL while the kernel is inside one
#      of its steps; the restarted daemon undoes it before it takes the bus name.
#   6. the same, restarted while the kernel is still stuck: the name is taken, the group is
#      "stuck" and refuses operations, and the undo finishes once the kernel returns.
#      Deterministic, without timing races: a process holding the HD-audio card's
#      control node (/dev/snd/controlC*) makes the kernel's unbind from snd_hda_intel
#      wait (snd_card_free waits for every open file), so the daemon is known to be in the
#      middle of step "unbind 01:00.1" (its helper blocked, journal on disk) when it is
#      killed. The holder is then let go, the kernel finishes the unbind on its own, and a
#      new passthrud must put both functions back on their host drivers, clear the
#      overrides, unload the vfio modules the transaction loaded and remove the journal.

# shellcheck disable=SC2317  # (functions run through check and wait_for)
set -u
HERE=$(dirname "$(readlink -f "$0")")
# shellcheck source=tests/vm/guest-lib.sh
. "$HERE/../guest-lib.sh"

B=${PASSTHRU_BUILD_DIR:?}
S=${PASSTHRU_SOURCE_DIR:?}
CTL=$B/clients/passthructl
LOG=/run/passthrud.log
RT=/run/passthru1           # the daemon's default runtime directory
P=/org/passthru1
SYSPCI=/sys/bus/pci/devices

# --- services, as a distribution would have them -------------------------------------------
mkdir -p /etc/dbus-1/system.d /usr/share/polkit-1/actions /etc/passthru1
cp "$S/dbus/org.passthru1.conf" /etc/dbus-1/system.d/
cp "$S/polkit/org.passthru1.policy" /usr/share/polkit-1/actions/
# A deadline far beyond anything here: the crash test must kill the daemon while its
# helper waits in the kernel, not have the daemon give up first.
printf '[Daemon]\nStepTimeoutSec=60\n' >/etc/passthru1/passthrud.conf
check "system dbus-daemon starts" start_system_bus
check "polkitd starts" start_polkitd

daemon=
start_daemon() {
        echo "=== passthrud started at uptime $(read -r u _ </proc/uptime; echo "$u")" >>"$LOG"
        "$B/service/passthrud" --log-level=debug >>"$LOG" 2>&1 &
        daemon=$!
        wait_for 30 bus_has_name org.passthru1
}
show_log() {
        diag "passthrud log (tail):"
        tail -n "${1:-60}" "$LOG" | sed 's/^/#   /'
}
name_gone() { ! bus_has_name org.passthru1; }

check "passthrud owns org.passthru1" start_daemon
if ! bus_has_name org.passthru1; then
        show_log 200
        finish
fi

vga=$(pci_find 1234 1111)
hda=$(pci_find 8086 293e)
nic=$(pci_find 8086 10d3)
grp=$(pci_group "$vga")
nic_grp=$(pci_group "$nic")
dev_path() { local a=${1//[:.]/_}; echo "$P/device/pci_$a"; }
diag "VGA $vga + HDA $hda in group $grp; NIC $nic in group $nic_grp"

# --- helpers ------------------------------------------------------------------------------
# assign WHO KIND N-OR-ADDRESS METHOD [dry-run]: Group/Device Detach or Reattach through
# busctl; sets $out (reply or error) and $rc.  WHO is root or a user name.
assign() {
        local who=$1 kind=$2 target=$3 method=$4 path iface
        local opts=(0)
        [ "${5:-}" = dry-run ] && opts=(1 dry-run b true)
        if [ "$kind" = group ]; then
                path=$P/group/$target iface=org.passthru1.Group
        else
                path=$(dev_path "$target") iface=org.passthru1.Device
        fi
        local cmd=(busctl --system --timeout=120 call org.passthru1 "$path" "$iface" "$method" 'a{sv}' "${opts[@]}")
        if [ "$who" = root ]; then
                out=$("${cmd[@]}" 2>&1)
        else
                out=$(run_as "$who" "${cmd[@]}" 2>&1)
        fi
        rc=$?
}

# call USER [-i] PATH INTERFACE.METHOD: through gdbus, which prints an error's name;
# -i sets the "allow interactive authorization" flag.  Sets $out and $rc.
call() {
        local user=$1 flags=() cmd
        shift
        [ "$1" = -i ] && { flags=(-i); shift; }
        cmd=(gdbus call --system "${flags[@]}" -t 120 -d org.passthru1 -o "$1" -m "$2" '@a{sv} {}')
        if [ "$user" = root ]; then
                out=$("${cmd[@]}" 2>&1)
        else
                out=$(run_as "$user" "${cmd[@]}" 2>&1)
        fi
        rc=$?
}

# steps TEXT: the a(ss) reply of busctl as "step: description" lines.
steps() {
        local s=$1 re='^[^"]*"(([^"\\]|\\.)*)"[^"]*"(([^"\\]|\\.)*)"(.*)$'
        while [[ $s =~ $re ]]; do
                printf '%s: %s\n' "${BASH_REMATCH[1]}" "${BASH_REMATCH[3]}"
                s=${BASH_REMATCH[5]}
        done
}

prop() { # prop PATH INTERFACE NAME -> busctl's "TYPE VALUE"
        busctl --system --timeout=10 get-property org.passthru1 "$1" "$2" "$3" 2>&1
}
dev_prop() { prop "$(dev_path "$1")" org.passthru1.Device "$2"; }
grp_prop() { prop "$P/group/$1" org.passthru1.Group "$2"; }
vfio_node_ok() { # a character device whose number is the kernel's for the group
        local dev
        [ -c "/dev/vfio/$1" ] || return 1
        read -r dev <"/sys/class/vfio/$1/dev" || return 1
        [ "$(stat -c '%t:%T' "/dev/vfio/$1")" = "$(printf '%x:%x' "${dev%%:*}" "${dev##*:}")" ]
}
journals() { local j=("$RT"/*.journal); [ -e "${j[0]}" ] && echo "${j[@]##*/}"; }

host_where="$vga=bochs-drm/(null) $hda=snd_hda_intel/(null) "
check_eq "the group starts on its host drivers, no overrides" "$host_where" "$(pci_where "$vga" "$hda")"
vfio_loaded=0
[ -d /sys/bus/pci/drivers/vfio-pci ] && vfio_loaded=1

# --- 1. group detach -----------------------------------------------------------------------
assign root group "$grp" Detach dry-run
expect_detach="set-override: $vga: driver_override = vfio-pci
unbind: $vga: unbind from bochs-drm
probe: $vga: probe drivers, expect vfio-pci and /dev/vfio/$grp
set-override: $hda: driver_override = vfio-pci
unbind: $hda: unbind from snd_hda_intel
probe: $hda: probe drivers, expect vfio-pci and /dev/vfio/$grp"
[ "$vfio_loaded" = 0 ] && expect_detach="load-module: load module vfio_pci
$expect_detach"
check_eq "Detach dry-run of group $grp lists the plan" "$expect_detach" "$(steps "$out")"
check_eq "... and changes nothing" "$host_where" "$(pci_where "$vga" "$hda")"
check "... no /dev/vfio/$grp" test ! -e "/dev/vfio/$grp"
if [ "$vfio_loaded" = 0 ]; then
        check "... vfio-pci not loaded by a dry-run" test ! -d /sys/bus/pci/drivers/vfio-pci
fi

boot_vga=0
read -r boot_vga <"$SYSPCI/$vga/boot_vga" 2>/dev/null
cards=("$SYSPCI/$vga"/drm/card*)
if [ "$boot_vga" = 1 ] && [ -e "${cards[0]}" ]; then
        card=/dev/dri/${cards[0]##*/}
        sleep 1000 3<"$card" &
        session=$!
        wait_for 5 test -e "/proc/$session/fd/3"
        call root "$P/group/$grp" org.passthru1.Group.Detach
        check_match "a process holding $card of the boot VGA: Detach is HostCritical" \
                'GDBus\.Error:org\.passthru1\.Error\.HostCritical: ' "$out"
        check_match "... naming the process" "sleep \\(pid $session\\)" "$out"
        check_eq "... and nothing changed" "$host_where" "$(pci_where "$vga" "$hda")"
        kill "$session"; wait "$session" 2>/dev/null
else
        skip "HostCritical for the boot VGA" "the VGA is not the boot VGA (boot_vga=$boot_vga)"
fi

t0=$(now_ms)
assign root group "$grp" Detach
t1=$(now_ms)
check_eq "Detach of group $grp as root: the steps done (in $((t1 - t0)) ms)" "$expect_detach" "$(steps "$out")"
check_eq "sysfs: both functions on vfio-pci, driver_override vfio-pci" \
        "$vga=vfio-pci/vfio-pci $hda=vfio-pci/vfio-pci " "$(pci_where "$vga" "$hda")"
check "/dev/vfio/$grp is the kernel's character device of the group" vfio_node_ok "$grp"
check_eq "Device Driver of $vga" 's "vfio-pci"' "$(dev_prop "$vga" Driver)"
check_eq "Device Driver of $hda" 's "vfio-pci"' "$(dev_prop "$hda" Driver)"
check_eq "Device State of $vga" 's "vfio"' "$(dev_prop "$vga" State)"
check_eq "Device HostDriver of $vga remembers bochs-drm" 's "bochs-drm"' "$(dev_prop "$vga" HostDriver)"
check_eq "Device HostDriver of $hda remembers snd_hda_intel" 's "snd_hda_intel"' "$(dev_prop "$hda" HostDriver)"
check_eq "Group Viable" "b true" "$(grp_prop "$grp" Viable)"
check_eq "Group Owner" 's "vfio"' "$(grp_prop "$grp" Owner)"
check_eq "Group State" 's "idle"' "$(grp_prop "$grp" State)"
check_eq "no journal left after a finished transaction" "" "$(journals)"

assign root group "$grp" Detach
check_eq "a repeated Detach returns only unchanged steps" "unchanged: $vga: already on vfio-pci
unchanged: $hda: already on vfio-pci" "$(steps "$out")"
check_eq "... and changes nothing" "$vga=vfio-pci/vfio-pci $hda=vfio-pci/vfio-pci " "$(pci_where "$vga" "$hda")"

expect_reattach="clear-override: $vga: clear driver_override
unbind: $vga: unbind from vfio-pci
probe: $vga: probe drivers, expect bochs-drm
clear-override: $hda: clear driver_override
unbind: $hda: unbind from vfio-pci
probe: $hda: probe drivers, expect snd_hda_intel"
assign root group "$grp" Reattach dry-run
check_eq "Reattach dry-run lists the plan" "$expect_reattach" "$(steps "$out")"
check_eq "... and changes nothing" "$vga=vfio-pci/vfio-pci $hda=vfio-pci/vfio-pci " "$(pci_where "$vga" "$hda")"

# --- 2. a process with the vfio group open ------------------------------------------------------
# The real group fd: opening /dev/vfio/N is what QEMU does first (one opener at a time).
sleep 1000 3<>"/dev/vfio/$grp" &
guest=$!
check "a process opens /dev/vfio/$grp (the vfio group fd)" wait_for 5 test -e "/proc/$guest/fd/3"
call root "$P/group/$grp" org.passthru1.Group.Reattach
check_match "Reattach while it runs: org.passthru1.Error.GuestRunning" \
        'GDBus\.Error:org\.passthru1\.Error\.GuestRunning: ' "$out"
check_match "... naming the process" "sleep \\(pid $guest\\) holds /dev/vfio/$grp" "$out"
call root "$(dev_path "$hda")" org.passthru1.Device.Reattach
check_match "Device.Reattach of one function of the group: GuestRunning too" \
        "org\\.passthru1\\.Error\\.GuestRunning: .*sleep \\(pid $guest\\)" "$out"
check_eq "... and nothing changed" "$vga=vfio-pci/vfio-pci $hda=vfio-pci/vfio-pci " "$(pci_where "$vga" "$hda")"
check "... /dev/vfio/$grp still there" test -c "/dev/vfio/$grp"
kill "$guest"; wait "$guest" 2>/dev/null

t0=$(now_ms)
assign root group "$grp" Reattach
t1=$(now_ms)
check_eq "after the process is gone, Reattach: the steps done (in $((t1 - t0)) ms)" "$expect_reattach" "$(steps "$out")"
check_eq "sysfs: back on bochs-drm and snd_hda_intel, driver_override cleared" \
        "$host_where" "$(pci_where "$vga" "$hda")"
check "/dev/vfio/$grp is gone" test ! -e "/dev/vfio/$grp"
check_eq "Device Driver of $vga" 's "bochs-drm"' "$(dev_prop "$vga" Driver)"
check_eq "Device Driver of $hda" 's "snd_hda_intel"' "$(dev_prop "$hda" Driver)"
check_eq "Group Owner" 's "host"' "$(grp_prop "$grp" Owner)"
check_eq "Group Viable" "b false" "$(grp_prop "$grp" Viable)"

# --- 3. one device: the NIC --------------------------------------------------------------------
nic_host="$nic=e1000e/(null) "
check_eq "the NIC starts on e1000e" "$nic_host" "$(pci_where "$nic")"
assign root device "$nic" Detach
check_eq "Device.Detach of $nic: the steps done" "set-override: $nic: driver_override = vfio-pci
unbind: $nic: unbind from e1000e
probe: $nic: probe drivers, expect vfio-pci and /dev/vfio/$nic_grp" "$(steps "$out")"
check_eq "sysfs: the NIC on vfio-pci" "$nic=vfio-pci/vfio-pci " "$(pci_where "$nic")"
check "/dev/vfio/$nic_grp is the kernel's character device" vfio_node_ok "$nic_grp"
check_eq "Group $nic_grp Viable" "b true" "$(grp_prop "$nic_grp" Viable)"
check_eq "the GPU's group was not touched" "$host_where" "$(pci_where "$vga" "$hda")"
"$CTL" reattach "${nic#0000:}" --no-ask-password >/run/ctl-reattach.out 2>&1
check_eq "passthructl reattach ${nic#0000:} succeeds" 0 "$?"
check_match "... and shows the steps" "unbind.*$nic" "$(cat /run/ctl-reattach.out)"
check_eq "sysfs: the NIC back on e1000e, override cleared" "$nic_host" "$(pci_where "$nic")"
check "/dev/vfio/$nic_grp is gone" test ! -e "/dev/vfio/$nic_grp"
check_eq "Device Driver of the NIC" 's "e1000e"' "$(dev_prop "$nic" Driver)"

# --- 4. a non-root user and polkit ----------------------------------------------------------------
check "a non-root user is created" add_user tester
# Without a polkit agent (and with the action's auth_admin) polkit answers "challenge".
call tester "$(dev_path "$nic")" org.passthru1.Device.Detach
check_match "a non-root user's Device.Detach is refused: InteractiveAuthorizationRequired" \
        'org\.freedesktop\.DBus\.Error\.InteractiveAuthorizationRequired' "$out"
check_eq "... and nothing changed" "$nic_host" "$(pci_where "$nic")"
call tester -i "$(dev_path "$nic")" org.passthru1.Device.Detach
check_match "... also when the call allows interactive authorization (no agent to ask)" \
        'org\.freedesktop\.DBus\.Error\.AccessDenied: .*no polkit agent' "$out"
diag "(answered ${out#*GDBus.Error:})"
check_eq "... and nothing changed" "$nic_host" "$(pci_where "$nic")"
call tester "$P/group/$grp" org.passthru1.Group.Detach
check_match "the same user's Group.Detach of group $grp is refused" \
        'org\.freedesktop\.DBus\.Error\.InteractiveAuthorizationRequired' "$out"
check_eq "... and nothing changed" "$host_where" "$(pci_where "$vga" "$hda")"
# An administrator's "no": AccessDenied, whatever the call allows.
mkdir -p /etc/polkit-1/rules.d
rules=/etc/polkit-1/rules.d/50-passthru-vfio-test.rules
cat >"$rules" <<'RULES'
polkit.addRule(function(action, subject) {
        if (action.id == "org.passthru1.device.assign" && subject.user == "tester")
                return polkit.Result.NO;
});
RULES
tester_denied() {
        call tester -i "$(dev_path "$nic")" org.passthru1.Device.Detach
        [[ $out == *org.freedesktop.DBus.Error.AccessDenied* ]]
}
check "with a rules.d file refusing org.passthru1.device.assign: AccessDenied" wait_for 10 tester_denied
check_eq "... and nothing changed" "$nic_host" "$(pci_where "$nic")"
cat >"$rules" <<'RULES'
polkit.addRule(function(action, subject) {
        if (action.id == "org.passthru1.device.assign" && subject.user == "tester")
                return polkit.Result.YES;
});
RULES
# polkitd reloads rules.d on its own; the first calls after the change may see the old rules.
tester_detach() { assign tester device "$nic" Detach; [ "$rc" = 0 ]; }
check "the rules.d file granting org.passthru1.device.assign instead: the user's Detach succeeds" \
        wait_for 10 tester_detach
check_eq "... sysfs: the NIC on vfio-pci" "$nic=vfio-pci/vfio-pci " "$(pci_where "$nic")"
assign tester device "$nic" Reattach
check_eq "... and the user's Reattach succeeds" 0 "$rc"
check_eq "... sysfs: the NIC back on e1000e" "$nic_host" "$(pci_where "$nic")"
check "... /dev/vfio/$nic_grp is gone" test ! -e "/dev/vfio/$nic_grp"

# --- 5. crash safety --------------------------------------------------------------------------------
# vfio unloaded, so that the interrupted transaction loads it and the undo must unload it.
vfio_modules() { local m; for m in /sys/module/vfio* /sys/module/irqbypass; do [ -e "$m/initstate" ] && printf '%s ' "${m##*/}"; done; }
# (Only vfio_pci and what modprobe -r takes with it: the vfio core stays, because libkmod
# loads vfio with its softdep vfio_iommu_type1, which a journal does not list.)
check "vfio-pci unloaded (modprobe -r) before the crash test" modprobe -r vfio_pci
modules_before=$(vfio_modules)
controls=("$SYSPCI/$hda"/sound/card*/controlC*)
control=/dev/snd/${controls[0]##*/}
# (right after boot the node can be briefly unopenable: retry)
hold_control() {
        sleep 1000 3<"$control" 2>/dev/null &
        holder=$!
        wait_for 2 test -e "/proc/$holder/fd/3" && return 0
        kill "$holder" 2>/dev/null
        return 1
}
check "a process holds $control of the HD-audio card" wait_for 10 hold_control

rm -f /run/crash-detach.out
busctl --system --timeout=120 call org.passthru1 "$P/group/$grp" org.passthru1.Group Detach 'a{sv}' 0 \
        >/run/crash-detach.out 2>&1 &
caller=$!
# The kernel removes the driver link as the unbind starts, and cannot finish it while the
# control node is open: no link = the daemon's helper is inside the unbind.  (Reading
# the HD-audio function's driver_override now would block too: the kernel holds its lock.)
in_unbind() { [ ! -e "$SYSPCI/$hda/driver" ]; }
check "the detach reaches the unbind of $hda, which the kernel holds" wait_for 30 in_unbind
check_eq "... the VGA went before it (vfio-pci)" vfio-pci "$(pci_driver "$vga")"
check_match "... the journal says it is at that step" "^step [0-9]+ $hda: unbind from snd_hda_intel\$" \
        "$(cat "$RT/group-$grp.journal" 2>&1)"
loaded=$(sed -n 's/^loaded //p' "$RT/group-$grp.journal" 2>/dev/null)
check_match "... and records that it loaded vfio_pci" '^vfio_pci$' "$loaded"
check_eq "the group's State is busy meanwhile" 's "busy"' "$(grp_prop "$grp" State)"
call root "$P/group/$grp" org.passthru1.Group.Reattach
check_match "another operation on the group meanwhile: Busy" 'GDBus\.Error:org\.passthru1\.Error\.Busy: ' "$out"
helpers=
read -r helpers <"/proc/$daemon/task/$daemon/children" 2>/dev/null
check "the daemon has a helper process in the kernel (${helpers:-none})" test -n "$helpers"

# proc_gone PID: exited (or a zombie); wait(1) on a process stuck in the kernel would hang.
proc_gone() { local st; read -r st <"/proc/$1/stat" 2>/dev/null || return 0; st=${st#*) }; [ "${st%% *}" = Z ]; }
kill -KILL "$daemon"
check "SIGKILL: passthrud is gone" wait_for 10 proc_gone "$daemon" && wait "$daemon" 2>/dev/null
wait_for 10 proc_gone "$caller" && wait "$caller"
check_fails "SIGKILL of passthrud: the pending Detach call fails" grep -q '^a(ss)' /run/crash-detach.out
check "the bus name is released although its helper is still stuck" wait_for 10 name_gone
stuck=0
for h in $helpers; do proc_gone "$h" || stuck=1; done
check_eq "... the orphaned helper still waits in the kernel" 1 "$stuck"
check "the journal is left behind" test -e "$RT/group-$grp.journal"

kill "$holder"; wait "$holder" 2>/dev/null
helper_done() {
        local h
        for h in $helpers; do proc_gone "$h" || return 1; done
}
check "the holder gone, the kernel finishes the unbind and the helper exits" wait_for 30 helper_done
check_eq "... $hda left without a driver, override vfio-pci" "$hda=/vfio-pci " "$(pci_where "$hda")"

t0=$(now_ms)
check "a new passthrud takes the bus name" start_daemon
t1=$(now_ms)
diag "the restarted daemon owned the name after $((t1 - t0)) ms"
check_match "... after finding the unfinished detach" "Found the journal of an unfinished detach of group $grp" \
        "$(cat "$LOG")"
check_eq "... both functions are back on bochs-drm and snd_hda_intel, overrides cleared" \
        "$host_where" "$(pci_where "$vga" "$hda")"
check "... /dev/vfio/$grp is gone" test ! -e "/dev/vfio/$grp"
check_eq "... no *.journal left in $RT" "" "$(journals)"
check_eq "... the modules the detach loaded (${loaded//$'\n'/ }) are unloaded: vfio modules as before" \
        "$modules_before" "$(vfio_modules)"
check_eq "... Device Driver of $vga" 's "bochs-drm"' "$(dev_prop "$vga" Driver)"
check_eq "... Device Driver of $hda" 's "snd_hda_intel"' "$(dev_prop "$hda" Driver)"
check_eq "... Group State" 's "idle"' "$(grp_prop "$grp" State)"
check_eq "... Group Owner" 's "host"' "$(grp_prop "$grp" Owner)"
assign root group "$grp" Detach
check_eq "... and the group can be detached again" 0 "$rc"
assign root group "$grp" Reattach
check_eq "... and reattached" "$host_where" "$(pci_where "$vga" "$hda")"

# --- 6. restarted while the kernel is still stuck --------------------------------------------------
# The same interruption, but the new daemon starts before the kernel returns: it must not wait
# for the kernel (reading driver_override would: the stuck unbind holds the device lock), but
# take its bus name once the undo's first write passes its deadline, report the group stuck,
# and finish the undo when the kernel returns.
check "a process holds $control again" wait_for 10 hold_control
busctl --system --timeout=120 call org.passthru1 "$P/group/$grp" org.passthru1.Group Detach 'a{sv}' 0 \
        >/run/crash-detach.out 2>&1 &
caller=$!
check "the detach reaches the unbind of $hda again" wait_for 30 in_unbind
kill -KILL "$daemon"
check "SIGKILL: passthrud is gone" wait_for 10 proc_gone "$daemon" && wait "$daemon" 2>/dev/null
wait_for 10 proc_gone "$caller" && wait "$caller"
check "the bus name is released" wait_for 10 name_gone
printf '[Daemon]\nStepTimeoutSec=3\n' >/etc/passthru1/passthrud.conf
t0=$(now_ms)
check "a new passthrud takes the bus name while the kernel is still stuck" start_daemon
t1=$(now_ms)
diag "the restarted daemon owned the name after $((t1 - t0)) ms (deadline 3 s)"
check_eq "... the group's State is stuck" 's "stuck"' "$(grp_prop "$grp" State)"
call root "$P/group/$grp" org.passthru1.Group.Detach
check_match "... an operation on it: Stuck" 'GDBus\.Error:org\.passthru1\.Error\.Stuck: ' "$out"
check_eq "... the bus answers for others: Manager Version" 0 "$(busctl --system get-property org.passthru1 $P org.passthru1.Manager Version >/dev/null 2>&1; echo $?)"
kill "$holder"; wait "$holder" 2>/dev/null
grp_idle() { [ "$(grp_prop "$grp" State)" = 's "idle"' ]; }
check "the holder gone, the kernel returns and the daemon finishes the undo" wait_for 60 grp_idle
check_eq "... both functions back on bochs-drm and snd_hda_intel, overrides cleared" \
        "$host_where" "$(pci_where "$vga" "$hda")"
check_eq "... no *.journal left in $RT" "" "$(journals)"
check "... /dev/vfio/$grp is gone" test ! -e "/dev/vfio/$grp"

# --- exit ---------------------------------------------------------------------------------------------
kill -TERM "$daemon"
wait "$daemon"
check_eq "passthrud exits 0 on SIGTERM" 0 "$?"

[ "$GUEST_LIB_FAILED" -gt 0 ] && show_log 80
finish
