#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# pcisim's COMMAND in the bus tests: keeps the simulated machine alive while the daemon is
# killed and started again (pcisim exits, losing its state, when COMMAND exits).
#
#   supervise.sh CONTROL_FIFO DAEMON_PIDFILE DAEMON [ARGS...]
#
# Starts DAEMON in the background and writes its pid to DAEMON_PIDFILE (temp file + rename),
# then reads commands, one per line, from CONTROL_FIFO:
#   start          start DAEMON again (after a test killed it), writing the new pid
#   apply STATUS   run DAEMON --apply-reservations in the foreground (what the boot unit
#                  does), its log in STATUS.log, then its exit status in STATUS (temp + rename)
# With SUPERVISE_DEFER_START=1 the daemon is not started until "start" (a boot: the
# reservations are applied before any daemon runs).
# The daemon must be a child of this script, never started through nsenter: pcisim simulates
# module syscalls only for its COMMAND's descendants.
# SIGTERM, SIGINT, SIGHUP and SIGQUIT (pcisim forwards them) are passed on to a running daemon;
# the script then exits with the daemon's status (0 when no daemon runs).
set -u

fifo=$1
pidfile=$2
shift 2
daemon=

start() {
        "$@" &
        daemon=$!
        echo "$daemon" > "$pidfile.new" && mv -f "$pidfile.new" "$pidfile"
}

stop() {
        local sig=$1 status=0
        trap - TERM INT HUP QUIT
        if [ -n "$daemon" ] && kill -0 "$daemon" 2>/dev/null; then
                kill "-$sig" "$daemon"
                wait "$daemon"
                status=$?
        fi
        exit "$status"
}

for sig in TERM INT HUP QUIT; do
        # shellcheck disable=SC2064
        trap "stop $sig" "$sig"
done

# Opened read-write, so the pipe never reports end-of-file when a writer closes it.
exec 3<>"$fifo"
[ "${SUPERVISE_DEFER_START:-0}" = 1 ] || start "$@"
while :; do
        if read -r cmd <&3; then
                case $cmd in
                        start) start "$@" ;;
                        apply\ *)
                                status=${cmd#apply }
                                "$@" --apply-reservations > "$status.log" 2>&1
                                echo $? > "$status.new" && mv -f "$status.new" "$status" ;;
                        *) echo "supervise.sh: unknown command '$cmd'" >&2 ;;
                esac
        fi
done
