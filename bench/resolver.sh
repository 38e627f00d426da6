#!/usr/bin/env bash
# bench/resolver.sh: whole-process resolver timings, grey against its
# anchors (the resolver issue's targets), in one run on one machine:
#
#   install  `grey --root R --dry-run install [--no-install-recommends] PKGS`
#            against libsolv's `testsolv` (whole process: loading the .solv of
#            bookworm main that deb2solv made, then solving) and
#            `apt-get --print-uris -qq install` (apt's resolver without the
#            simulation); targets: grey at most 1.5x testsolv, at least 3x
#            faster than apt. The package counts of grey and apt are printed
#            beside them (the issue wants grey within 5% of apt).
#   distcheck `grey distcheck` against libsolv's `installcheck` and
#            `dose-distcheck`, with peak memory from /usr/bin/time; targets:
#            at most 3x installcheck, at least 3.5x faster than dose, under
#            300 MB.
#
# The method is ../shared/anchors/resolver.sh's: deb2solv of bookworm main's
# Packages, a testsolv testcase per request ("solverflags
# ignorerecommended" for norec), apt with a scratch APT_CONFIG (none of the
# host's apt.conf.d; binary cache on; uncompressed lists; an empty dpkg
# status), hyperfine. The universe is bookworm main only, for every tool:
# grey's root R has that one source in etc/grey/sources.list and is updated
# with `grey update` (bookworm's Release has no Valid-Until, so the clock
# does not matter), and apt's lists hold that one Packages file. So all three
# resolve over exactly the 63,440 packages the anchors used.
#
# Usage: bash bench/resolver.sh   (from the repository root, after make build)
#   GREY=bin/grey  FIXTURE=../shared/testdata/debian-bookworm  RUNS=10
#   REQS="nginx postgresql"  only these requests (ALL is always the nine)
#   NO_ALL=1                 leave out the request that installs all nine
#   DIST_RUNS=3              runs of each distcheck tool (0 to skip them)
#   W=DIR                    scratch directory (kept); a temporary one otherwise
set -euo pipefail
. "$(dirname "$0")/lib.sh"
export LC_ALL=C
GREY=$(realpath "${GREY:-bin/grey}")
F=$(realpath "${FIXTURE:-../shared/testdata/debian-bookworm}")
RUNS=${RUNS:-10}
DIST_RUNS=${DIST_RUNS:-3}
ALL9=(build-essential gnome kde-full texlive-full libreoffice openjdk-17-jdk python3-pandas postgresql nginx)
read -r -a REQ_LIST <<<"${REQS:-${ALL9[*]}}"
CASES=("${REQ_LIST[@]}")
[ "${NO_ALL:-0}" = 1 ] || CASES+=(ALL)
if [ -n "${W:-}" ]; then
  mkdir -p "$W"; W=$(realpath "$W")
else
  W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
fi
for t in hyperfine jq xz deb2solv testsolv installcheck dose-distcheck apt-get apt-cache /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "bench/resolver.sh: $t is missing" >&2; exit 1; }
done
[ -x "$GREY" ] || { echo "bench/resolver.sh: $GREY is missing: run make build" >&2; exit 1; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "NA"; else if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
pkgs_of() { if [ "$1" = ALL ]; then echo "${ALL9[*]}"; else echo "$1"; fi; }
recflag() { [ "$1" = norec ] && echo "--no-install-recommends" || true; }
# hyperfine json -> median ms, mean CPU (user + system) ms
hf() { jq -r --arg i "$2" '.results[$i|tonumber] | "\(.median*1000) \((.user+.system)*1000)"' "$1"; }
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

KR=$F/debian-archive-keyring.gpg
SOURCE="deb [arch=amd64 signed-by=$KR] file:$F/debian bookworm main"
PKGXZ=$F/debian/dists/bookworm/main/binary-amd64/Packages.xz
xz -dc "$PKGXZ" > "$W/Packages"
NPKG=$(grep -c '^Package: ' "$W/Packages")

# libsolv: the .solv and one testcase per request and variant.
deb2solv -r < "$W/Packages" > "$W/main.solv"
mkdir -p "$W/tc"
for c in "${CASES[@]}"; do for v in rec norec; do
  {
    echo "repo bookworm 99 solv ../main.solv"
    echo "system amd64 deb"
    [ "$v" = norec ] && echo "solverflags ignorerecommended"
    for p in $(pkgs_of "$c"); do echo "job install name $p"; done
    echo "result transaction,problems <inline>"
  } > "$W/tc/$c.$v.t"
done; done

# grey: a root with bookworm main as its one source, its index cache built.
R=$W/grey
mkdir -p "$R/etc/grey"
printf '%s\n' "$SOURCE" > "$R/etc/grey/sources.list"
"$GREY" --root "$R" update >/dev/null
"$GREY" --root "$R" --dry-run install nginx >/dev/null

# apt: a scratch configuration (see bench/show.sh) over the same list.
A=$W/apt
scratch_apt "$A" "$SOURCE"
pre=$(printf '%s' "$F/debian/dists/bookworm" | tr / _)
cp "$F/debian/dists/bookworm/InRelease" "$A/state/lists/${pre}_InRelease"
cp "$W/Packages" "$A/state/lists/${pre}_main_binary-amd64_Packages"
apt-cache gencaches >/dev/null
[ -s "$A/cache/pkgcache.bin" ] || { echo "bench/resolver.sh: apt built no pkgcache.bin" >&2; exit 1; }

echo "## install on an empty root, whole process (bookworm main amd64, $NPKG packages; $RUNS runs each)"
echo
echo "Median wall ms (mean CPU ms). Ratios by median: grey/testsolv (target <= 1.5), apt/grey (target >= 3)."
echo
echo "| request | var | grey | testsolv | apt --print-uris | grey/testsolv | apt/grey | grey pkgs | apt pkgs | diff |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for c in "${CASES[@]}"; do for v in rec norec; do
  pk=$(pkgs_of "$c"); rf=$(recflag "$v")
  # shellcheck disable=SC2086
  gn=$("$GREY" --root "$R" --dry-run --json install $rf $pk | jq '.plan.install | length')
  # shellcheck disable=SC2086
  an=$(apt-get --print-uris -qq install $rf $pk | grep -c "^'" || true)
  sn=$(testsolv -r "$W/tc/$c.$v.t" | grep -c '^install ' || true)
  hyperfine -N -i --style none --warmup 1 --runs "$RUNS" --export-json "$W/$c.$v.json" \
    -n grey "$GREY --root $R --dry-run install $rf $pk" \
    -n testsolv "testsolv $W/tc/$c.$v.t" \
    -n apt "apt-get --print-uris -qq install $rf $pk" >/dev/null 2>&1
  read -r gm gc < <(hf "$W/$c.$v.json" 0)
  read -r sm sc < <(hf "$W/$c.$v.json" 1)
  read -r am ac < <(hf "$W/$c.$v.json" 2)
  awk -v c="$c" -v v="$v" -v gm="$gm" -v gc="$gc" -v sm="$sm" -v sc="$sc" -v am="$am" -v ac="$ac" \
    -v gn="$gn" -v an="$an" -v sn="$sn" 'BEGIN {
      printf "| %s | %s | %.0f (%.0f) | %.0f (%.0f) | %.0f (%.0f) | %.2f | %.1f | %d | %d | %+.1f%% |\n",
        c, v, gm, gc, sm, sc, am, ac, gm / sm, am / gm, gn, an, an ? 100 * (gn - an) / an : 0 }'
  echo "$c $v testsolv installs $sn" >> "$W/counts.txt"
done; done
echo
echo "(testsolv's own counts, which follow libsolv's alphabetical choice among providers: $(awk '{printf "%s/%s %s; ", $1, $2, $5}' "$W/counts.txt"))"
unset APT_CONFIG

if [ "$DIST_RUNS" -gt 0 ]; then
  echo
  echo "## distcheck over bookworm main amd64 ($NPKG packages; $DIST_RUNS runs each, median; peak RSS the largest)"
  echo
  # one_tool NAME CMD...: runs CMD DIST_RUNS times under /usr/bin/time and
  # prints "median_wall_s median_cpu_s max_rss_kib" (exit status 1 is the
  # tools' "something is broken", not a failure).
  one_tool() {
    local name=$1; shift
    for i in $(seq "$DIST_RUNS"); do
      /usr/bin/time -f '%e %U %S %M' -o "$W/dist.$name.$i" "$@" > "$W/dist.$name.out" 2>/dev/null || true
    done
    local rows; rows=$(for i in $(seq "$DIST_RUNS"); do tail -n1 "$W/dist.$name.$i"; done)
    printf '%s %s %s\n' \
      "$(printf '%s\n' "$rows" | awk '{print $1}' | median)" \
      "$(printf '%s\n' "$rows" | awk '{print $2+$3}' | median)" \
      "$(printf '%s\n' "$rows" | awk '{print $4}' | sort -n | tail -n1)"
  }
  read -r gsw gsc gsr < <(one_tool greysrc "$GREY" --root "$R" distcheck)
  gsb=$(grep -c . "$W/dist.greysrc.out" || true)
  read -r gpw gpc gpr < <(one_tool greypkg "$GREY" distcheck --packages "$W/Packages")
  gpb=$(grep -c . "$W/dist.greypkg.out" || true)
  read -r icw icc icr < <(one_tool installcheck installcheck amd64 "$W/main.solv")
  icb=$(grep -c "^can't install " "$W/dist.installcheck.out" || true)
  read -r dw dc dr < <(one_tool dose dose-distcheck --deb-native-arch=amd64 -f -e --summary "deb://$W/Packages")
  db=$(awk '/^broken-packages:/{print $2}' "$W/dist.dose.out")
  echo "| tool | broken | wall s | CPU s | peak RSS MiB | ratios |"
  echo "|---|---:|---:|---:|---:|---|"
  row() { awk -v n="$1" -v b="$2" -v w="$3" -v c="$4" -v r="$5" -v icw="$icw" -v dw="$dw" -v g="$6" 'BEGIN {
    s = g ? sprintf("%.2fx installcheck, %.1fx faster than dose", w / icw, dw / w) : ""
    printf "| %s | %s | %.2f | %.2f | %.0f | %s |\n", n, b, w, c, r / 1024, s }'; }
  row "grey distcheck (configured source: index cache)" "$gsb" "$gsw" "$gsc" "$gsr" 1
  row "grey distcheck --packages Packages" "$gpb" "$gpw" "$gpc" "$gpr" 1
  row "installcheck (libsolv, .solv)" "$icb" "$icw" "$icc" "$icr" 0
  row "dose-distcheck -f -e" "$db" "$dw" "$dc" "$dr" 0
  echo
  echo "Targets: grey at most 3x installcheck, at least 3.5x faster than dose-distcheck, under 300 MB."
fi
echo
echo "load average: start $LOAD_START, end $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs"
