#!/usr/bin/env bash
# bench/image.sh: composing an image root as a directory, scripts off:
#   grey image build --locked (the lock made beforehand, the .debs in the
#     state directory's cache; their SHA256 is still checked every run)
#   mmdebstrap --variant=extract of the same package set from the same .debs
#     (a flat copy:// repository: file:// fails inside its chroot, see
#     ../shared/anchors/install-results.md "mmdebstrap")
#   a dpkg-deb -x loop over the same .debs
# with hyperfine, plus peak RSS and CPU time of one grey run.
#
# Sets: the 22 fixture packages (always), and with SET118=1 the 118-package
# closure of the install anchors (python3 without recommends plus the
# Priority: required set), fetched with `apt-get download` from the host's
# configured mirror (needs network; kept in $W/debs118, never committed).
#
# The ext4 trap: this machine's ext4 has no journal and slows down for
# minutes after many files are deleted, so every timed run writes into a NEW
# directory (hyperfine --prepare makes it and syncs) and nothing is deleted
# until the very end.
#
# Usage (repository root, as root, after make build):
#   bash bench/image.sh      GREY=bin/grey FIXTURE=../shared/testdata/debian-bookworm RUNS=5 SET118=0
set -euo pipefail
. "$(dirname "$0")/lib.sh"
GREY=$(realpath "${GREY:-bin/grey}")
F=$(realpath "${FIXTURE:-../shared/testdata/debian-bookworm}")
RUNS=${RUNS:-5}
W=${W:-$(mktemp -d /var/tmp/grey-bench-image.XXXXXX)}
# KEEP=1 leaves the roots for the caller to delete later (several runs in a
# row, without the ext4 penalty of this run's deletions on the next). Mind
# the disk: with SET118=1 one run keeps about 5 GB (install.sh) or 3 GB
# (image.sh) of roots.
trap 'if [ "${KEEP:-0}" = 1 ]; then echo "results in $W/results; roots kept in $W/roots"; else echo "results in $W/results; deleting roots"; rm -rf "$W/roots"; fi' EXIT
[ "$(id -u)" = 0 ] || { echo "bench/image.sh: run as root (mmdebstrap --mode=unshare, owners)" >&2; exit 1; }
if ! command -v mmdebstrap >/dev/null; then
  apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null
fi
for t in hyperfine dpkg-deb apt-ftparchive mmdebstrap /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "bench/image.sh: $t is missing" >&2; exit 1; }
done
mkdir -p "$W/roots" "$W/results"
SDE=1700000000

bench_set() { # name, .deb files...
  local name=$1; shift
  local d=$W/$name
  mkdir -p "$d/flat"
  cp "$@" "$d/flat/"
  local bytes; bytes=$(cat "$@" | wc -c)
  # mmdebstrap's repository: flat, unsigned, trusted=yes (as in the anchors).
  (cd "$d/flat" && apt-ftparchive packages . > Packages 2>/dev/null \
    && apt-ftparchive -o APT::FTPArchive::Release::Suite=bookworm \
         -o APT::FTPArchive::Release::Codename=bookworm release . > ../Release.tmp \
    && mv ../Release.tmp Release)
  local names; names=$(awk '/^Package:/{print $2}' "$d/flat/Packages" | sort -u)
  local inc; inc=$(echo "$names" | paste -sd, -)
  local n; n=$(echo "$names" | wc -l)
  # grey's repository: the same .debs, published and signed with a
  # throw-away key; the spec asks for every package by name.
  [ -e "$d/key.gpg" ] || "$GREY" key generate --name "bench $name" --out "$d/key" >/dev/null
  "$GREY" repo publish --key "$d/key.key.asc" --suite bench --arch amd64 --out "$d/repo" "$d/flat" >/dev/null
  {
    echo "sources:"
    echo "  - \"deb [signed-by=key.gpg] file://$d/repo bench main\""
    echo "architecture: amd64"
    echo "packages: [$(echo "$names" | paste -sd, - | sed 's/,/, /g')]"
    echo "source-date-epoch: $SDE"
  } > "$d/spec.yaml"
  "$GREY" image lock --state-dir "$d/state" "$d/spec.yaml" >/dev/null
  # A warm-up build fills the state directory's package cache.
  "$GREY" image build --locked --state-dir "$d/state" "$d/spec.yaml" -o "$W/roots/warm-$name" >/dev/null
  local locked; locked=$(grep -c '"sha256"' "$d/spec.lock")
  echo "== $name: $n packages requested, $locked locked, $bytes bytes of .deb"
  printf '%s\n' "$@" > "$d/debs.txt"

  local prep="r=\$(mktemp -d $W/roots/run.XXXXXX) && echo \$r > $W/cur && sync"
  hyperfine --runs "$RUNS" --warmup 1 --export-markdown "$W/results/$name.md" --export-json "$W/results/$name.json" \
    --prepare "$prep" -n "dpkg-deb -x loop" "xargs -a $d/debs.txt -I{} dpkg-deb -x {} \$(cat $W/cur)" \
    --prepare "$prep" -n "grey image build --locked (dir)" "$GREY image build --locked --state-dir $d/state $d/spec.yaml -o \$(cat $W/cur)/root >/dev/null" \
    --prepare "$prep" -n "mmdebstrap --variant=extract" "mmdebstrap --quiet --mode=unshare --variant=extract --include=$inc bookworm \$(cat $W/cur)/root 'deb [trusted=yes] copy://$d/flat ./' >/dev/null 2>&1"
  r=$(mktemp -d "$W/roots/rss.XXXXXX")
  /usr/bin/time -f "grey image build --locked: peak RSS %M KiB, %e s wall, user %U s, sys %S s" \
    "$GREY" image build --locked --state-dir "$d/state" "$d/spec.yaml" -o "$r/root" 2>&1 >/dev/null | tee "$W/results/$name.rss"
  r=$(mktemp -d "$W/roots/rss.XXXXXX")
  /usr/bin/time -f "mmdebstrap --variant=extract: peak RSS %M KiB, %e s wall, user %U s, sys %S s" \
    mmdebstrap --quiet --mode=unshare --variant=extract --include="$inc" bookworm "$r/root" "deb [trusted=yes] copy://$d/flat ./" 2>&1 >/dev/null | tail -1 | tee -a "$W/results/$name.rss"
  echo "load during $name: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$W/results/$name.rss"
}

mapfile -t FIX < <(find "$F" -name '*.deb' | sort)
bench_set fixture22 "${FIX[@]}"

if [ "${SET118:-0}" = 1 ]; then
  closure118 "$W/debs118"
  mapfile -t S118 < <(find "$W/debs118" -name '*.deb' | sort)
  bench_set closure118 "${S118[@]}"
fi
cat "$W"/results/*.md
