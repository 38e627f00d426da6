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

# --- A repository and an image.
# The host's Debian architecture (Go's names match Debian's for these).
ARCH=$(go env GOARCH)
case $ARCH in 386) ARCH=i386 ;; arm) ARCH=armhf ;; ppc64le) ARCH=ppc64el ;; esac

step "Build greet-words 1.0, a data package hello-grey depends on"
"$GREY" build examples/packages/greet-words-1.0 -o "$WORK"

step "Compile hello-grey (static Go, examples/src/hello-grey) into its package tree and build it"
cp -r examples/packages/hello-grey-1.0 "$WORK/hello-grey-tree"
sed -i "s/@ARCH@/$ARCH/" "$WORK/hello-grey-tree/DEBIAN/control"
mkdir -p "$WORK/hello-grey-tree/usr/bin"
CGO_ENABLED=0 go build -trimpath -ldflags=-buildid= -o "$WORK/hello-grey-tree/usr/bin/hello-grey" ./examples/src/hello-grey
"$GREY" build "$WORK/hello-grey-tree" -o "$WORK"

step "Make a throw-away repository key (nothing secret is kept in git)"
"$GREY" key generate --name "grey demo repository" --out "$WORK/demo-repo"

step "Publish greet 1.0, greet-words and hello-grey as a signed repository (InRelease, by-hash)"
mkdir -p "$WORK/pool-in"
cp "$GREET_1_0" "$WORK"/greet-words_1.0-1_all.deb "$WORK"/hello-grey_1.0-1_"$ARCH".deb "$WORK/pool-in/"
"$GREY" repo publish --key "$WORK/demo-repo.key.asc" --suite demo --arch "$ARCH" --out "$WORK/repo" "$WORK/pool-in"
SOURCE="deb [signed-by=$WORK/demo-repo.gpg] file://$WORK/repo demo main"

# --- Images: examples/demo.yaml names the repository by a placeholder; the
# spec is copied next to the public key, which it names relative to itself.
step "The image spec (examples/demo.yaml, @REPO@ and @ARCH@ filled in)"
mkdir -p "$WORK/spec"
cp "$WORK/demo-repo.gpg" "$WORK/spec/"
sed -e "s|@REPO@|$WORK/repo|" -e "s|@ARCH@|$ARCH|" examples/demo.yaml >"$WORK/spec/demo.yaml"
grep -v '^#' "$WORK/spec/demo.yaml"
STATE=$WORK/image-state

step "Lock it: verify the repository with the spec's key, resolve, pin every .deb by SHA256"
"$GREY" image lock --state-dir "$STATE" "$WORK/spec/demo.yaml"
sed -n '/"packages": \[$/,$p' "$WORK/spec/demo.lock" | head -14

step "Compose the image root from the lock alone (--locked: no index is read)"
ROOT=$WORK/root
"$GREY" image build --locked --state-dir "$STATE" "$WORK/spec/demo.yaml" -o "$ROOT"

step "The same lock as a tar, twice, in different directories: the same bytes"
mkdir -p "$WORK/a" "$WORK/b"
"$GREY" image build --locked --state-dir "$STATE" "$WORK/spec/demo.yaml" -o "$WORK/a/demo.tar" >/dev/null
TMPDIR=$WORK/b "$GREY" image build --locked --state-dir "$STATE" "$WORK/spec/demo.yaml" -o "$WORK/b/demo.tar" >/dev/null
(cd "$WORK" && sha256sum a/demo.tar b/demo.tar)
cmp "$WORK/a/demo.tar" "$WORK/b/demo.tar" && echo "identical"

step "And as an OCI image layout (one layer), for podman, skopeo, crane"
"$GREY" image build --locked --state-dir "$STATE" "$WORK/spec/demo.yaml" -o "oci:$WORK/oci"
cat "$WORK/oci/index.json"; echo

step "dpkg reads the root's database: every package is ii"
if command -v dpkg >/dev/null; then
	dpkg --root="$ROOT" -l | tail -n +6
else
	echo "(dpkg is not installed; skipped)"
fi

step "grey reads it too: grey --root ROOT installed"
"$GREY" --root "$ROOT" installed

step "Run a program inside the image (chroot ROOT /usr/bin/hello-grey)"
if [ "$(id -u)" = 0 ] && command -v chroot >/dev/null; then
	chroot "$ROOT" /usr/bin/hello-grey demo
else
	echo "(not root: chroot needs root; it would print the greetings of /usr/share/greet/words)"
fi

# history and rollback come with another part of grey; until they exist the
# demo says what they would show and carries on.
has() { "$GREY" "$@" --help >/dev/null 2>&1; }

step "The root's history: one transaction, the image build"
if has history; then
	"$GREY" --root "$ROOT" history
else
	echo "(grey history is not built yet: it would list the image build's transaction)"
fi

# 1.0 stays published beside 1.1, so a rollback can fetch it again.
step "Publish greet 1.1 into the same repository (a new signed generation; 1.0 stays)"
cp "$GREET_1_1" "$WORK/pool-in/"
"$GREY" repo publish --key "$WORK/demo-repo.key.asc" --suite demo --arch "$ARCH" --out "$WORK/repo" "$WORK/pool-in"

step "Give the image root a source (ROOT/etc/grey/sources.list; the spec's sources were build input only)"
mkdir -p "$ROOT/etc/grey"
echo "$SOURCE" >"$ROOT/etc/grey/sources.list"
cat "$ROOT/etc/grey/sources.list"

step "grey update in the image root: fetch and verify the new metadata"
"$GREY" --root "$ROOT" update

step "grey upgrade: greet 1.0-1 -> 1.1-1, staged and renamed into place"
"$GREY" --root "$ROOT" upgrade -y --no-scripts
"$GREY" --root "$ROOT" installed | grep '^greet '
if has history; then
	step "The history now has two transactions: the image build and the upgrade"
	"$GREY" --root "$ROOT" history
fi

if has rollback; then
	step "grey rollback 1: back to the state after transaction 1, the image build (offline, from the content store)"
	"$GREY" --root "$ROOT" -y rollback 1
	"$GREY" --root "$ROOT" installed | grep '^greet '
	step "The history now shows the rollback too"
	"$GREY" --root "$ROOT" history
else
	step "grey rollback (not built yet)"
	echo "(grey rollback 1 would return the root to transaction 1, the image build: greet 1.1-1 -> 1.0-1, offline)"
fi

step "grey verify: every installed file matches the database"
"$GREY" --root "$ROOT" verify && echo "all files verified"

step "Done: everything above ran offline in $WORK (removed on exit)"
