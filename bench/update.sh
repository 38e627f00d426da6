#!/usr/bin/env bash
# bench/update.sh: `grey update` of the three fixture sources over file://
# against `apt-get update` of the same tree (the repositories issue's target:
# grey no slower than apt).
#
# apt is made fair: a scratch configuration (APT_CONFIG) that reads none of
# the host's apt.conf.d (whose settings here disable apt's binary cache and
# keep lists compressed), with its package cache on (so apt-get update builds
# pkgcache.bin, as it does on a normal system), uncompressed lists, a private
# Dir::State and Dir::Cache, one architecture, no translations, and the same
# signed-by keyring. Both tools check the signatures and every index hash.
#
# What each does differs, and the numbers should be read with that in mind:
# apt decompresses each Packages.xz into its lists and builds pkgcache.bin;
# grey keeps the verified Packages.xz as fetched and builds its parsed index
# cache at the end of update (as apt builds pkgcache.bin), so both rows do
# the same work. The third cold row adds the first grey show after it.
#
# Two cases: "cold" starts from an empty state each run (everything fetched);
# "warm" runs again on an up-to-date state (nothing changed: Hit).
#
# Usage: bash bench/update.sh   (from the repository root, after make build)
#   GREY=bin/grey  FIXTURE=../shared/testdata/debian-bookworm  RUNS=10
set -euo pipefail
. "$(dirname "$0")/lib.sh"
GREY=$(realpath "${GREY:-bin/grey}")
F=$(realpath "${FIXTURE:-../shared/testdata/debian-bookworm}")
RUNS=${RUNS:-10}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
chmod 755 "$W"
for t in hyperfine apt-get; do
  command -v "$t" >/dev/null || { echo "bench/update.sh: $t is missing" >&2; exit 1; }
done

KR=$F/debian-archive-keyring.gpg
# bookworm-security's Release expires on 2026-12-01; after that both tools
# are told not to check it, so that they still do the same work.
OPT=""
if [ "$(date -u +%Y%m%d)" -ge 20261201 ]; then OPT=" check-valid-until=no"; fi
SOURCES="deb [arch=amd64 signed-by=$KR] file:$F/debian bookworm main
deb [arch=amd64 signed-by=$KR] file:$F/debian bookworm-updates main
deb [arch=amd64 signed-by=$KR$OPT] file:$F/debian-security bookworm-security main"

R=$W/grey
mkdir -p "$R/etc/grey"
printf '%s\n' "$SOURCES" > "$R/etc/grey/sources.list"

A=$W/apt
scratch_apt "$A" "$SOURCES" 'APT::Sandbox::User "root";
Acquire::IndexTargets::deb::DEP-11::DefaultEnabled "false";
Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled "false";
Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled "false";'

# Both must succeed and store what they should before anything is timed.
apt-get -q update > "$W/apt.out" 2>&1 || { cat "$W/apt.out"; exit 1; }
[ -s "$A/cache/pkgcache.bin" ] || { echo "bench/update.sh: apt built no pkgcache.bin" >&2; exit 1; }
n=$(ls "$A"/state/lists/*_Packages | wc -l)
[ "$n" = 3 ] || { echo "bench/update.sh: apt stored $n Packages files, want 3" >&2; cat "$W/apt.out"; exit 1; }
"$GREY" --root "$R" update > "$W/grey.out"
[ "$(grep -c '^Get ' "$W/grey.out")" = 3 ] || { echo "bench/update.sh: grey update did not get 3 sources" >&2; cat "$W/grey.out"; exit 1; }

CLEAN_APT="rm -rf $A/state/lists $A/cache/pkgcache.bin $A/cache/srcpkgcache.bin && mkdir -p $A/state/lists/partial"
CLEAN_GREY="rm -rf $R/var"

echo "## cold: empty state, three sources fetched and verified"
hyperfine -N --style basic --runs "$RUNS" --export-markdown "$W/cold.md" \
  -n "grey update" --prepare "sh -c '$CLEAN_GREY'" "$GREY --root $R update" \
  -n "apt-get update" --prepare "sh -c '$CLEAN_APT'" "apt-get -q update" \
  -n "grey update + first grey show" --prepare "sh -c '$CLEAN_GREY'" \
     "sh -c '$GREY --root $R update >/dev/null && $GREY --root $R show hello >/dev/null'" >/dev/null
cat "$W/cold.md"
echo
echo "## warm: state up to date (Hit)"
"$GREY" --root "$R" update >/dev/null
apt-get -q update >/dev/null
hyperfine -N --style basic --warmup 2 --runs "$RUNS" --export-markdown "$W/warm.md" \
  -n "grey update" "$GREY --root $R update" \
  -n "apt-get update" "apt-get -q update" >/dev/null
cat "$W/warm.md"
echo
echo "## peak memory (cold run, /usr/bin/time)"
if [ -x /usr/bin/time ]; then
  sh -c "$CLEAN_GREY"; /usr/bin/time -f "grey update: %e s, max RSS %M KiB" "$GREY" --root "$R" update 2>&1 >/dev/null | tail -1
  sh -c "$CLEAN_APT"; /usr/bin/time -f "apt-get update: %e s, max RSS %M KiB" apt-get -q update 2>&1 >/dev/null | tail -1
fi
