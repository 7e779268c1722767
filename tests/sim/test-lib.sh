# SPDX-License-Identifier: LGPL-2.1-or-later
# Sourced by the sim suite's shell tests: the counting of checks. Inner scripts (run as
# pcisim's COMMAND) print "ok ..." / "FAIL: ..." lines; count() adds them up.
# shellcheck shell=bash

passed=0
failed=0
pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }

# count OUTPUT STATUS WHAT: the inner script's lines, and a non-zero exit as one failure.
count() {
        local out=$1 rc=$2 what=$3
        while IFS= read -r line; do
                case "$line" in
                ok*) pass ;;
                FAIL*) failed=$((failed + 1)); echo "$line" ;;
                *) echo "  | $line" ;;
                esac
        done <<<"$out"
        [ "$rc" = 0 ] || fail "$what exited with $rc"
}
