#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every hand-written man page formats without a single groff warning (-ww: all of them).
set -uo pipefail
if ! command -v groff >/dev/null; then
        echo "groff is missing (tests/install-deps.sh --tests installs groff-base)"
        exit 1
fi
failed=0 n=0
for page in "$@"; do
        n=$((n + 1))
        out=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
        rc=$?
        if [ $rc -eq 0 ] && [ -z "$out" ]; then
                echo "ok $n - $page"
        else
                echo "not ok $n - $page (groff exit status $rc):"
                printf '%s\n' "$out" | sed 's/^/    /'
                failed=$((failed + 1))
        fi
done
echo "$((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
