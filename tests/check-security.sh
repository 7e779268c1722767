#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The installed unit, bus policy and polkit actions, as the tools that read them see them:
# `systemd-analyze security` (the sandbox's exposure, at most MAX_EXPOSURE),
# `systemd-analyze verify` (the unit loads, its ExecStart exists, its man page is there),
# `xmllint` (the XML files are well-formed), `dbus-daemon` (a bus with the policy loaded
# starts). Installs with `meson install --destdir` into a temporary root. Every check runs:
# a missing tool is a failure (tests/install-deps.sh --tests installs them).
set -euo pipefail
build=$1 unitdir=$2 policydir=$3 interfacesdir=$4 actionsdir=$5 mandir=$6
MAX_EXPOSURE=2.5

failed=0 passed=0
ok() { echo "ok - $*"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $*"; failed=$((failed + 1)); }
indent() { sed 's/^/    /'; }

missing=()
for tool in systemd-analyze xmllint dbus-daemon man; do
        command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
        echo "not ok - missing tools: ${missing[*]} (run tests/install-deps.sh --tests)"
        exit 1
fi

dest=$(mktemp -d)
daemon_pid=
cleanup() {
        if [ -n "$daemon_pid" ]; then kill "$daemon_pid" 2>/dev/null || true; wait "$daemon_pid" 2>/dev/null || true; fi
        rm -rf "$dest"
}
trap cleanup EXIT
meson install -C "$build" --destdir "$dest/root" --no-rebuild --quiet >/dev/null
root=$dest/root
unit=$root$unitdir/passthrud.service
policy=$root$policydir/org.passthru1.conf
interfaces=$root$interfacesdir/org.passthru1.xml
actions=$root$actionsdir/org.passthru1.policy

# 1. The sandbox's exposure, as systemd rates it (0 = fully sandboxed, 10 = exposed).
if out=$(systemd-analyze security --offline=true --root="$root" --no-pager "$unit" 2>&1); then rc=0; else rc=$?; fi
exposure=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' <<<"$out")
if [ -z "$exposure" ]; then
        not_ok "systemd-analyze security $unitdir/passthrud.service: no overall exposure level (exit $rc)"
        indent <<<"$out"
elif awk -v e="$exposure" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(e <= m) }'; then
        ok "systemd-analyze security $unitdir/passthrud.service: exposure $exposure <= $MAX_EXPOSURE"
else
        not_ok "systemd-analyze security $unitdir/passthrud.service: exposure $exposure > $MAX_EXPOSURE; what counts:"
        grep '✗' <<<"$out" | indent
fi
# The same bound through systemd's own --threshold= (exposure times ten).
threshold=$(awk -v m="$MAX_EXPOSURE" 'BEGIN { printf "%d", m * 10 + 0.5 }')
if out=$(systemd-analyze security --offline=true --root="$root" --threshold="$threshold" --no-pager "$unit" 2>&1 >/dev/null); then
        ok "systemd-analyze security --threshold=$threshold $unitdir/passthrud.service passes"
else
        not_ok "systemd-analyze security --threshold=$threshold $unitdir/passthrud.service fails"
        indent <<<"$out"
fi

# 2. The unit loads. `verify` resolves ExecStart= and the unit's dependencies inside --root:
# give the root the host's own units (dbus.socket, sysinit.target, ...) next to ours, and
# man the installed pages. verify exits 0 on unknown keys and unparsable values (it
# ignores them, as systemd would): any message at all is a failure.
hostunits=/usr/lib/systemd/system
[ -d "$hostunits" ] || hostunits=/lib/systemd/system
mkdir -p "$root/usr/lib/systemd/system"
cp -an "$hostunits/." "$root/usr/lib/systemd/system/"
if [ "$root$unitdir" != "$root/usr/lib/systemd/system" ]; then
        rm -f "$root/usr/lib/systemd/system/passthrud.service" "$root/usr/lib/systemd/system/dbus-org.passthru1.service" \
              "$root/usr/lib/systemd/system/passthrud-reservations.service"
fi
for name in passthrud.service passthrud-reservations.service; do
        if out=$(MANPATH=$root$mandir systemd-analyze verify --man=yes --root="$root" "$root$unitdir/$name" 2>&1) &&
           [ -z "$out" ]; then
                ok "systemd-analyze verify $unitdir/$name (ExecStart=, dependencies, Documentation=) is clean"
        else
                not_ok "systemd-analyze verify $unitdir/$name:"
                indent <<<"${out:-(exit status non-zero, no message)}"
        fi
done

# 3. The XML files are well-formed.
for f in "$policy" "$interfaces" "$actions"; do
        if out=$(xmllint --noout --nonet "$f" 2>&1); then
                ok "xmllint ${f#"$root"} is well-formed"
        else
                not_ok "xmllint ${f#"$root"}:"
                indent <<<"$out"
        fi
done

# 4. dbus-daemon accepts the bus policy: a bus whose configuration includes it starts (a
# policy it cannot parse makes it exit with the reason) and prints its address once it is
# ready. Its only expected complaint: an unprivileged fd limit in a container.
cat > "$dest/bus.conf" <<EOF
<busconfig>
  <listen>unix:path=$dest/bus-socket</listen>
  <auth>EXTERNAL</auth>
  <include ignore_missing="no">$policy</include>
</busconfig>
EOF
dbus-daemon --config-file="$dest/bus.conf" --nofork --nopidfile --print-address=3 3>"$dest/address" 2>"$dest/bus-errors" &
daemon_pid=$!
for _ in $(seq 100); do
        [ -s "$dest/address" ] && break
        kill -0 "$daemon_pid" 2>/dev/null || break
        sleep 0.1
done
complaints=$(grep -v 'Failed to set fd limit' "$dest/bus-errors" || true)
if [ -s "$dest/address" ] && [ -z "$complaints" ]; then
        ok "dbus-daemon starts with ${policy#"$root"} loaded"
elif [ -s "$dest/address" ]; then
        not_ok "dbus-daemon starts with ${policy#"$root"} loaded, but complains:"
        indent <<<"$complaints"
else
        not_ok "dbus-daemon does not start with ${policy#"$root"} loaded:"
        indent < "$dest/bus-errors"
fi
kill "$daemon_pid" 2>/dev/null || true
wait "$daemon_pid" 2>/dev/null || true
daemon_pid=

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
