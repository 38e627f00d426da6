#!/usr/bin/env bash
# The demo: grey's main job on the bundled example, no network, no setup.
# It grows as features land; each step prints a one-line explanation.
set -euo pipefail
cd "$(dirname "$0")/.."
GREY=${GREY:-bin/grey}
step() { printf '\n== %s\n' "$*"; }

# Everything the demo makes goes into one temporary directory.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/grey-demo.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
# A fixed build date: builds are byte-reproducible (see the sha256 step).
export SOURCE_DATE_EPOCH=1767225600 # 2026-01-01 00:00:00 UTC

step "grey's version"
"$GREY" version

# --- Packages: the example source trees are plain directories under
# examples/packages/ (files as installed, plus DEBIAN/control).
step "Build greet 1.0 from examples/packages/greet-1.0 (like dpkg-deb --build)"
"$GREY" build examples/packages/greet-1.0 -o "$WORK"
GREET_1_0=$WORK/greet_1.0-1_all.deb

step "Build it again: same tree + same SOURCE_DATE_EPOCH = the same bytes"
"$GREY" build examples/packages/greet-1.0 -o "$WORK/again.deb" >/dev/null
(cd "$WORK" && sha256sum greet_1.0-1_all.deb again.deb)
cmp "$GREET_1_0" "$WORK/again.deb" && echo "identical"
rm "$WORK/again.deb"

step "Its control fields (grey computed Installed-Size and md5sums)"
"$GREY" deb info "$GREET_1_0"

step "Its files, listed as dpkg-deb --contents lists them"
"$GREY" deb contents "$GREET_1_0"

step "Build greet 1.1, the upgrade used later in this demo"
"$GREY" build examples/packages/greet-1.1 -o "$WORK"
GREET_1_1=$WORK/greet_1.1-1_all.deb

step "Versions compare as dpkg compares them: 1.0-1 << 1.1-1"
"$GREY" deb compare-versions 1.0-1 '<<' 1.1-1 && echo "1.0-1 << 1.1-1 holds"

step "Sign a package with a throw-away key (debsigs _gpgorigin) and verify it"
"$GREY" key generate --name "grey demo packager" --out "$WORK/packager" >/dev/null
"$GREY" build examples/packages/greet-1.1 -o "$WORK/greet-signed.deb" --sign "$WORK/packager.key.asc"
"$GREY" deb verify --keyring "$WORK/packager.gpg" "$WORK/greet-signed.deb"

# Later steps (publish, install, upgrade, rollback) use $GREET_1_0 and $GREET_1_1.
: "$GREET_1_0" "$GREET_1_1"
