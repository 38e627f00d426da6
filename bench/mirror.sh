#!/usr/bin/env bash
# bench/mirror.sh: `grey mirror sync` against `aptly mirror update` on the
# same upstreams, served by the same loopback nginx: wall time and peak RSS.
#
# Cases (each run of a cold case starts from an empty mirror):
#   full      a complete repository: the fixture's 22 .debs published by
#             grey repo publish as "stable main" (the bookworm fixture
#             itself cannot be mirrored whole: its indexes name 66,505
#             .debs of which it holds 22, and aptly stops on the first 404);
#   noop      the same, synced again with nothing changed upstream;
#   partial   hello with its dependencies from the full bookworm index
#             (63,440 stanzas) of the fixture: grey --packages hello
#             --with-deps --closure preferred, aptly -filter 'Name (= hello)'
#             -filter-with-deps (both follow apt's first alternative);
#   partial-noop  the partial mirror synced again.
#
# What each does differs: grey verifies InRelease with the keyring as grey
# update does, checks every file, publishes the served tree (by-hash,
# indexes, InRelease last) and commits dists/ to git; a filtered mirror is
# also re-signed. aptly mirror update verifies and downloads into its own
# database and pool; serving needs a further aptly snapshot create and
# aptly publish, not timed here.
#
# Usage: bash bench/mirror.sh   (from the repository root, after make build)
#   GREY=bin/grey-core  FIXTURE=../shared/testdata/debian-bookworm  RUNS=3
set -euo pipefail
GREY=$(realpath "${GREY:-bin/grey-core}")
F=$(realpath "${FIXTURE:-../shared/testdata/debian-bookworm}")
RUNS=${RUNS:-3}
PORT=${PORT:-18473}
for t in nginx aptly; do
  command -v "$t" >/dev/null || { echo "bench/mirror.sh: $t is missing" >&2; exit 1; }
done
W=$(mktemp -d)
chmod 755 "$W"
cleanup() {
  [ -f "$W/nginx.pid" ] && kill "$(cat "$W/nginx.pid")" 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT

# The upstreams and the server.
mkdir -p "$W/www" "$W/tmp" "$W/keys"
ln -s "$F" "$W/www/fx"
"$GREY" key generate --name "bench upstream" --email bench@example.org --out "$W/keys/up" >/dev/null
"$GREY" repo publish --key "$W/keys/up.key.asc" --suite stable --arch amd64 --out "$W/www/full" \
  $(find "$F" -name '*.deb') >/dev/null
cat > "$W/nginx.conf" <<EOF
daemon on;
worker_processes 2;
pid $W/nginx.pid;
error_log $W/nginx.err;
events { worker_connections 512; }
http {
  access_log off;
  client_body_temp_path $W/tmp; proxy_temp_path $W/tmp; fastcgi_temp_path $W/tmp;
  uwsgi_temp_path $W/tmp; scgi_temp_path $W/tmp;
  server { listen 127.0.0.1:$PORT; root $W/www; }
}
EOF
nginx -c "$W/nginx.conf" -p "$W"
URL=http://127.0.0.1:$PORT
KRUP=$W/keys/up.gpg
KRFX=$F/debian-archive-keyring.gpg
NOW=$(date -u +%Y-%m-%dT%H:%M:%SZ)
"$GREY" key generate --name "bench mirror" --email mirror@example.org --out "$W/keys/mirror" >/dev/null

aptly_conf() {
  cat > "$1/aptly.conf" <<EOF
{"rootDir": "$1/db", "downloadConcurrency": 8, "architectures": ["amd64"],
 "dependencyFollowSuggests": false, "dependencyFollowRecommends": false,
 "dependencyFollowAllVariants": false, "dependencyFollowSource": false,
 "gpgDisableVerify": false, "downloadSourcePackages": false, "skipLegacyPool": true}
EOF
}

# setup CASE TOOL DIR: an empty mirror definition.
setup() {
  local c=$1 tool=$2 d=$3
  rm -rf "$d"; mkdir -p "$d"
  case $tool in
  grey)
    case $c in
    full) "$GREY" --root "$d" mirror create m --arch amd64 --source "deb [signed-by=$KRUP] $URL/full stable main" >/dev/null ;;
    partial) "$GREY" --root "$d" mirror create m --arch amd64 --source "deb [signed-by=$KRFX] $URL/fx/debian bookworm main" \
        --packages hello --with-deps --closure preferred --key "$W/keys/mirror.key.asc" >/dev/null ;;
    esac ;;
  aptly)
    aptly_conf "$d"
    case $c in
    full) HOME=$d aptly -config="$d/aptly.conf" mirror create -keyring="$KRUP" m "$URL/full" stable main >/dev/null ;;
    partial) HOME=$d aptly -config="$d/aptly.conf" mirror create -keyring="$KRFX" -filter='Name (= hello)' -filter-with-deps \
        m "$URL/fx/debian" bookworm main >/dev/null ;;
    esac ;;
  esac
}

# sync TOOL DIR KEYRING: one sync, its "seconds KB" on stdout.
sync_once() {
  local tool=$1 d=$2 kr=$3
  case $tool in
  grey) /usr/bin/time -f "%e %M %U %S" -o "$W/time" "$GREY" --root "$d" mirror sync m > "$W/out" 2>&1 ;;
  aptly) /usr/bin/time -f "%e %M %U %S" -o "$W/time" env HOME="$d" aptly -config="$d/aptly.conf" mirror update -keyring="$kr" m > "$W/out" 2>&1 ;;
  esac || { cat "$W/out" >&2; exit 1; }
  cat "$W/time"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), load: $(cut -d' ' -f1-3 /proc/loadavg), $RUNS runs each"
echo "| case | tool | wall s (median) | wall s (all) | CPU s user+sys (median) | peak RSS MB (max) |"
echo "|---|---|---|---|---|---|"
for c in full partial; do
  kr=$KRUP; [ "$c" = partial ] && kr=$KRFX
  for tool in grey aptly; do
    : > "$W/cold"; : > "$W/warm"
    for _ in $(seq "$RUNS"); do
      setup "$c" "$tool" "$W/m-$tool"
      sync_once "$tool" "$W/m-$tool" "$kr" >> "$W/cold"
      sync_once "$tool" "$W/m-$tool" "$kr" >> "$W/warm"
    done
    for k in cold warm; do
      name=$c; [ $k = warm ] && name="$c no-op"
      printf '| %s | %s | %s | %s | %s | %s |\n' "$name" "$tool" "$(cut -d' ' -f1 "$W/$k" | median)" \
        "$(cut -d' ' -f1 "$W/$k" | tr '\n' ' ')" "$(awk '{printf "%.2f\n", $3+$4}' "$W/$k" | median)" \
        "$(cut -d' ' -f2 "$W/$k" | sort -n | tail -1 | awk '{printf "%.0f", $1/1024}')"
    done
  done
done
