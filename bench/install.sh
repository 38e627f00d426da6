#!/usr/bin/env bash
# bench/install.sh: grey installing a set of .deb files into an empty root
# (--no-scripts, crash-safe writes on, and with --no-sync) against a
# `dpkg-deb -x` loop over the same files, with hyperfine; plus peak RSS.
#
# Sets: the 22 fixture packages (always), and with SET118=1 the 118-package
# closure of the install anchors (python3 without recommends plus the
# Priority: required set), fetched with `apt-get download` from the host's
# configured Debian mirror (needs network and `apt-get update`; the .debs are
# kept in $W/debs118 and never committed).
#
# The ext4 trap (../shared/anchors/install-results.md): this machine's ext4
# has no journal and gets slower for minutes after many files are deleted.
# So every timed run writes into a NEW directory (hyperfine --prepare makes
# it and runs sync) and nothing is deleted until the very end.
#
# With SET118=1 it also times `dpkg --unpack` of the closure in one call with
# fsync (--no-force-unsafe-io), the anchors' method B: dpkg runs inside a
# throw-away chroot built from the 118 closure's own .debs and unpacks into
# a fresh empty root inside it, because --force-all (needed: an empty root
# has no shell for the preinsts) implies --force-script-chrootless, which
# must not run preinsts against the host. Needs root (chroot, mknod).
#
# Usage: bash bench/install.sh   (from the repository root, after make build)
#   GREY=bin/grey  FIXTURE=../shared/testdata/debian-bookworm  RUNS=10  SET118=0
#   NICE=-10   run the timed commands at this niceness (as root), so that
#              other load on a shared machine disturbs both sides less
set -euo pipefail
. "$(dirname "$0")/lib.sh"
GREY=$(realpath "${GREY:-bin/grey}")
F=$(realpath "${FIXTURE:-../shared/testdata/debian-bookworm}")
RUNS=${RUNS:-10}
W=${W:-$(mktemp -d /var/tmp/grey-bench-install.XXXXXX)}
# KEEP=1 leaves the roots for the caller to delete later (several runs in a
# row, without the ext4 penalty of this run's deletions on the next). Mind
# the disk: with SET118=1 one run keeps about 5 GB (install.sh) or 3 GB
# (image.sh) of roots.
trap 'if [ "${KEEP:-0}" = 1 ]; then echo "results in $W/results; roots kept in $W/roots"; else echo "results in $W/results; deleting roots"; rm -rf "$W/roots"; fi' EXIT
for t in hyperfine dpkg-deb /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "bench/install.sh: $t is missing" >&2; exit 1; }
done
mkdir -p "$W/roots" "$W/results"

bench_set() { # name, .deb files...
  local name=$1; shift
  local list=$W/$name.debs
  printf '%s\n' "$@" > "$list"
  local bytes; bytes=$(cat "$@" | wc -c)
  echo "== $name: $# packages, $bytes bytes of .deb"
  # The next fresh directory: made in --prepare, used by the command.
  local prep="d=\$(mktemp -d $W/roots/run.XXXXXX) && echo \$d > $W/cur && sync"
  local dpkg=()
  # Only for the closure: in the fixture set, libc6's preinst (run
  # chrootless in the sandbox) fails on the sandbox's missing debconf
  # configuration, so dpkg would not unpack it.
  if [ -n "${SANDBOX:-}" ] && [ "$name" = closure118 ]; then
    # dpkg --unpack in the sandbox: the .debs linked into it, a fresh
    # target with an empty dpkg admin directory per run.
    mkdir -p "$SANDBOX/debs/$name" "$SANDBOX/targets"
    cp -l "$@" "$SANDBOX/debs/$name/"
    (cd "$SANDBOX" && printf '/%s\n' debs/"$name"/*.deb) > "$W/$name.sandbox-debs"
    local prepd="d=\$(mktemp -d $SANDBOX/targets/run.XXXXXX) && mkdir -p \$d/var/lib/dpkg/info \$d/var/lib/dpkg/updates \$d/var/log && : > \$d/var/lib/dpkg/status && : > \$d/var/lib/dpkg/available && echo \${d#$SANDBOX} > $W/curd && sync"
    dpkg=(--prepare "$prepd" -n "dpkg --unpack (fsync)"
      "chroot $SANDBOX /usr/bin/dpkg --root=\$(cat $W/curd) --log=\$(cat $W/curd)/var/log/dpkg.log --force-all --no-force-unsafe-io --unpack \$(cat $W/$name.sandbox-debs) >/dev/null 2>&1")
  fi
  ${NICE:+nice -n "$NICE"} hyperfine --runs "$RUNS" --warmup 1 --export-markdown "$W/results/$name.md" --export-json "$W/results/$name.json" \
    --prepare "$prep" -n "dpkg-deb -x loop" "xargs -a $list -n1 -I{} dpkg-deb -x {} \$(cat $W/cur)" \
    --prepare "$prep" -n "grey install (crash-safe)" "$GREY --root \$(cat $W/cur) -y install --no-scripts --no-install-recommends \$(cat $list) >/dev/null" \
    --prepare "$prep" -n "grey install --no-sync" "$GREY --root \$(cat $W/cur) -y install --no-scripts --no-sync --no-install-recommends \$(cat $list) >/dev/null" \
    "${dpkg[@]}"
  for mode in "" "--no-sync"; do
    d=$(mktemp -d "$W/roots/rss.XXXXXX")
    /usr/bin/time -f "peak RSS grey install $mode: %M KiB (%e s, user %U s, sys %S s)" \
      "$GREY" --root "$d" -y install --no-scripts $mode --no-install-recommends $(cat "$list") >/dev/null
  done 2>&1 | tee -a "$W/results/$name.rss"
}

SANDBOX=
if [ "${SET118:-0}" = 1 ]; then
  closure118 "$W/debs118"
  mapfile -t S118 < <(find "$W/debs118" -name '*.deb' | sort)
  if [ "$(id -u)" = 0 ]; then
    # The chroot dpkg --unpack runs in (see the top); under roots/, so it
    # is deleted with them.
    SANDBOX=$W/roots/sandbox
    mkdir -p "$SANDBOX"
    for f in "${S118[@]}"; do dpkg-deb -x "$f" "$SANDBOX"; done
    [ -e "$SANDBOX/dev/null" ] || mknod -m 666 "$SANDBOX/dev/null" c 1 3
    echo "dpkg in the sandbox: $(chroot "$SANDBOX" dpkg --version | head -1)"
  else
    echo "not root: no dpkg --unpack comparison" >&2
  fi
fi

mapfile -t FIX < <(find "$F" -name '*.deb' | sort)
bench_set fixture22 "${FIX[@]}"

if [ "${SET118:-0}" = 1 ]; then
  bench_set closure118 "${S118[@]}"
fi
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
cat "$W"/results/*.md
