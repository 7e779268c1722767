#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# `meson install --destdir` puts the daemon, the CLI, the API contract, the bus policy, the
# activation file, the unit, the polkit actions, the man pages, the bash completion and the
# libvirt qemu hook where dbus-daemon, systemd, polkitd, man, bash-completion and libvirtd look
# for them (relative to the configured prefix; the completion where pkg-config's bash-completion
# says, the hook in $sysconfdir/libvirt/hooks/qemu.d: both passed here).
set -euo pipefail
build=$1 prefix=$2 libexecdir=$3 completionsdir=$4 hooksdir=$5
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
meson install -C "$build" --destdir "$dest" --no-rebuild --quiet >/dev/null

failed=0 total=0
for f in "$libexecdir/passthrud" "$prefix/bin/passthructl" \
         "$prefix/share/dbus-1/interfaces/org.passthru1.xml" \
         "$prefix/share/dbus-1/system.d/org.passthru1.conf" \
         "$prefix/share/dbus-1/system-services/org.passthru1.service" \
         "$prefix/lib/systemd/system/passthrud.service" \
         "$prefix/lib/systemd/system/passthrud-reservations.service" \
         "$prefix/share/polkit-1/actions/org.passthru1.policy" \
         "$prefix/share/man/man1/passthructl.1" "$prefix/share/man/man8/passthrud.8" \
         "$prefix/share/man/man5/org.passthru1.5" \
         "$completionsdir/passthructl" "$hooksdir/passthru"; do
        total=$((total + 1))
        if [ -e "$dest$f" ]; then echo "ok - $f"; else echo "not ok - $f missing"; failed=$((failed + 1)); fi
done
total=$((total + 3))
if grep -q "^ExecStart=$libexecdir/passthrud --idle-exit=30$" "$dest$prefix/lib/systemd/system/passthrud.service" &&
   grep -q "^Type=dbus$" "$dest$prefix/lib/systemd/system/passthrud.service"; then
        echo "ok - the unit starts $libexecdir/passthrud as Type=dbus"
else
        echo "not ok - the unit's ExecStart/Type"; failed=$((failed + 1))
fi
if grep -q "^SystemdService=passthrud.service$" "$dest$prefix/share/dbus-1/system-services/org.passthru1.service"; then
        echo "ok - bus activation goes through systemd"
else
        echo "not ok - activation file"; failed=$((failed + 1))
fi
if grep -q "^complete -F _passthructl passthructl$" "$dest$completionsdir/passthructl"; then
        echo "ok - the completion registers itself for passthructl"
else
        echo "not ok - the completion file"; failed=$((failed + 1))
fi
total=$((total + 1))
hook=$dest$hooksdir/passthru
if [ -f "$hook" ] && [ -x "$hook" ] && [ "$(stat -c %a "$hook")" = 755 ] && sh -n "$hook" &&
   [ "$(grep -v '^#' "$hook")" = "exec $prefix/bin/passthructl libvirt-hook \"\$@\"" ]; then
        echo "ok - the libvirt hook is an executable script running $prefix/bin/passthructl libvirt-hook"
else
        echo "not ok - the libvirt hook $hooksdir/passthru:"; sed 's/^/    /' "$hook" 2>/dev/null || true
        failed=$((failed + 1))
fi
echo "$((total - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
