#!/usr/bin/env bash
# bench/show.sh: `grey show hello` from a warm index cache against
# `apt-cache show hello`, and the peak memory of commands that load the full
# index (the repositories issue's targets: grey at least 2x faster than
# apt-cache; under 150 MB).
#
# apt is made fair: a scratch configuration (APT_CONFIG) that reads none of
# the host's apt.conf.d (whose settings here disable apt's binary cache and
# store lists lz4-compressed), with Dir::Cache::pkgcache set, uncompressed
# lists, and Dir::State::lists holding the fixture's three verified Packages
# files and InRelease files named the way apt names them. apt builds its
# pkgcache.bin on the first run (not timed), as grey builds its index cache.
#
# The index-load anchor is libsolv's: testsolv with no job loads the .solv of
# bookworm main (made by deb2solv) and solves nothing, as in
# ../shared/anchors/resolver.sh ("NOOP"); it is set beside grey commands that
# open the whole three-source index.
#
# Usage: bash bench/show.sh   (from the repository root, after make build)
#   GREY=bin/grey  FIXTURE=../shared/testdata/debian-bookworm  RUNS=30
#   GREY_ROOT=DIR  use a root already updated from the fixture instead of
#                  running grey update (whose clock must be before 2026-12-01,
#                  when bookworm-security's Release expires)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
GREY=$(realpath "${GREY:-bin/grey}")
# grey-core is the whole tool; grey (the front) answers show itself. The
# core's time for the same query is printed beside it, for the record.
CORE=${GREY_CORE:-$(dirname "$GREY")/grey-core}
F=$(realpath "${FIXTURE:-../shared/testdata/debian-bookworm}")
RUNS=${RUNS:-30}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
for t in hyperfine apt-cache xz /usr/bin/time deb2solv testsolv; do
  command -v "$t" >/dev/null || { echo "bench/show.sh: $t is missing" >&2; exit 1; }
done

KR=$F/debian-archive-keyring.gpg
SOURCES="deb [arch=amd64 signed-by=$KR] file:$F/debian bookworm main
deb [arch=amd64 signed-by=$KR] file:$F/debian bookworm-updates main
deb [arch=amd64 signed-by=$KR] file:$F/debian-security bookworm-security main"

# grey: a root updated from the fixture, then one command to build the cache.
if [ -n "${GREY_ROOT:-}" ]; then
  R=$(realpath "$GREY_ROOT")
else
  R=$W/grey
  mkdir -p "$R/etc/grey"
  printf '%s\n' "$SOURCES" > "$R/etc/grey/sources.list"
  if ! "$GREY" --root "$R" update >/dev/null 2>"$W/update.err"; then
    # After 2026-12-01 bookworm-security's Release has expired and grey
    # rightly refuses it: compare on the other two sources, on both sides.
    grep -q bookworm-security "$W/update.err" || { cat "$W/update.err" >&2; exit 1; }
    echo "bench/show.sh: bookworm-security refused (expired); comparing without it" >&2
    SOURCES=$(printf '%s\n' "$SOURCES" | grep -v bookworm-security)
    printf '%s\n' "$SOURCES" > "$R/etc/grey/sources.list"
  fi
fi
"$GREY" --root "$R" show hello >/dev/null

# apt: the scratch configuration described above.
A=$W/apt
scratch_apt "$A" "$SOURCES"
for s in "debian bookworm" "debian bookworm-updates" "debian-security bookworm-security"; do
  set -- $s
  printf '%s\n' "$SOURCES" | grep -q " $2 main" || continue
  pre=$(printf '%s' "$F/$1/dists/$2" | tr / _)
  cp "$F/$1/dists/$2/InRelease" "$A/state/lists/${pre}_InRelease"
  xz -dc "$F/$1/dists/$2/main/binary-amd64/Packages.xz" > "$A/state/lists/${pre}_main_binary-amd64_Packages"
done
apt-cache show hello > "$W/apt.out"
[ -s "$A/cache/pkgcache.bin" ] || { echo "bench/show.sh: apt built no pkgcache.bin" >&2; exit 1; }
"$GREY" --root "$R" show hello > "$W/grey.out"
grep -q '^SHA256: 2e6e2f1a' "$W/grey.out" || { echo "bench/show.sh: grey show hello printed the wrong stanza" >&2; exit 1; }

echo "## grey show hello (warm index cache) vs apt-cache show hello (pkgcache.bin on); grey-core, the whole tool, for the record"
hyperfine -N --style basic --warmup 3 --runs "$RUNS" --export-markdown "$W/show.md" --export-json "$W/show.json" \
  -n "grey show hello" "$GREY --root $R show hello" \
  -n "apt-cache show hello" "apt-cache show hello" \
  -n "grey-core show hello" "$CORE --root $R show hello" >/dev/null
cat "$W/show.md"
# Median and CPU time (user + system) say more than the mean on a busy host.
if command -v python3 >/dev/null; then
  python3 - "$W/show.json" <<'PY'
import json, sys
rs = json.load(open(sys.argv[1]))["results"]
print("\n| command | median [ms] | CPU user+sys [ms] |\n|---|---|---|")
for r in rs:
    print("| %s | %.1f | %.1f |" % (r["command"], r["median"] * 1e3, (r["user"] + r["system"]) * 1e3))
g, a = rs[0], rs[1]
print("\ngrey vs apt-cache: %.1fx by median, %.1fx by CPU time" % (a["median"] / g["median"], (a["user"] + a["system"]) / (g["user"] + g["system"])))
PY
fi
echo
echo "## peak memory (maximum resident set, /usr/bin/time)"
echo "| command | seconds | max RSS (KiB) |"
echo "|---|---|---|"
for c in "show hello" "policy hello" "list --all" "search compression"; do
  /usr/bin/time -f "| grey $c | %e | %M |" "$GREY" --root "$R" $c 2>&1 >/dev/null | tail -1
done
for c in "show hello" "policy hello" "search compression"; do
  /usr/bin/time -f "| apt-cache $c | %e | %M |" apt-cache $c 2>&1 >/dev/null | tail -1
done

echo
echo "## opening the whole index: grey (three sources, 66,506 packages) vs libsolv (bookworm main, 63,440)"
mkdir -p "$W/solv/tc"
xz -dc "$F/debian/dists/bookworm/main/binary-amd64/Packages.xz" | deb2solv -r > "$W/solv/bookworm-main-amd64.solv"
printf '%s\n' "repo bookworm 99 solv ../bookworm-main-amd64.solv" "system amd64 deb" "result transaction,problems <inline>" > "$W/solv/tc/noop.t"
testsolv "$W/solv/tc/noop.t" >/dev/null
hyperfine -N -i --style basic --warmup 2 --runs "$RUNS" --export-markdown "$W/load.md" \
  -n "testsolv (load .solv, no job)" "testsolv $W/solv/tc/noop.t" \
  -n "grey policy hello" "$GREY --root $R policy hello" \
  -n "grey list --all" "$GREY --root $R list --all" >/dev/null
cat "$W/load.md"
/usr/bin/time -f "testsolv no job: %e s, max RSS %M KiB" testsolv "$W/solv/tc/noop.t" 2>&1 >/dev/null | tail -1
