#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every test: installs the test dependencies (apt-get), builds, and runs the unit, sim, bus
# and VM suites with meson. Ends with a line "N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."

bash tests/install-deps.sh --tests
bash tests/vm/setup-host.sh --libvirt
bash tests/build.sh

status=0
meson test -C build --print-errorlogs --num-processes 2 "$@" || status=$?

# meson's summary is not one every CI reader knows: add the plain closing line.
python3 - build/meson-logs/testlog.json <<'PY'
import json, sys
counts = {"OK": 0, "FAIL": 0, "SKIP": 0, "TIMEOUT": 0, "ERROR": 0, "EXPECTEDFAIL": 0, "UNEXPECTEDPASS": 0}
for line in open(sys.argv[1]):
    r = json.loads(line)["result"]
    counts[r] = counts.get(r, 0) + 1
failed = counts["FAIL"] + counts["TIMEOUT"] + counts["ERROR"] + counts["UNEXPECTEDPASS"]
print(f"{counts['OK'] + counts['EXPECTEDFAIL']} passed, {failed} failed, {counts['SKIP']} skipped")
PY
exit $status
