#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Configures (once) and builds the tree in ./build. With CI=true warnings are errors.
set -euo pipefail
cd "$(dirname "$0")/.."

opts=()
[ "${CI:-}" = "true" ] && opts+=(--werror)
if [ -e build/build.ninja ]; then
        meson setup --reconfigure "${opts[@]}" build >/dev/null
else
        meson setup "${opts[@]}" build >/dev/null
fi
meson compile -C build >/dev/null
