#!/usr/bin/env bash
# The demo: grey's main job on the bundled example, no network, no setup.
# It grows as features land; each step prints a one-line explanation.
set -euo pipefail
cd "$(dirname "$0")/.."
GREY=${GREY:-bin/grey}
step() { printf '\n== %s\n' "$*"; }

step "grey's version"
"$GREY" version
