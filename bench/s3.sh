#!/usr/bin/env bash
# bench/s3.sh: `grey repo publish --out s3://...` against aptly's S3 publish
# (aptly 1.5, Debian's package) of the same packages to the same SeaweedFS
# (weed server -s3 on loopback): the fixture's 22 .debs, then the same
# plus one (an incremental publish); wall and CPU time, then the
# HTTP requests each makes, counted by a proxy in front of the S3 gateway
# (bench/s3count, one more run each through it; the timed runs go straight
# to the gateway).
#
# What each does: grey reads the .debs, writes pool, by-hash, indexes,
# history and Release files (InRelease last) and deletes what no kept
# generation names. aptly imports into its database (repo add, timed with
# the publish) and publishes (publish repo, then publish update). grey signs
# with its own Ed25519 key, aptly through GnuPG with an Ed25519 key.
#
# Usage: bash bench/s3.sh   (from the repository root, after make build)
#   GREY=bin/grey-core  WEED=/var/cache/grey-test/weed-VERSION/weed  RUNS=3
set -euo pipefail
GREY=$(realpath "${GREY:-bin/grey-core}")
F=$(realpath "${FIXTURE:-../shared/testdata/debian-bookworm}")
ver=$(sed -n 's/^const SeaweedFSVersion = "\(.*\)"$/\1/p' internal/testfixture/seaweedfs.go)
WEED=${WEED:-${GREY_WEED:-/var/cache/grey-test/weed-$ver/weed}}
RUNS=${RUNS:-3}
command -v aptly >/dev/null || { echo "bench/s3.sh: aptly is missing" >&2; exit 1; }
[ -x "$WEED" ] || { echo "bench/s3.sh: no weed binary at $WEED (.ci/run builds it)" >&2; exit 1; }
W=$(mktemp -d)
WEED_PID=
COUNT_PID=
cleanup() {
  if [ -n "$COUNT_PID" ]; then kill "$COUNT_PID" 2>/dev/null || true; wait "$COUNT_PID" 2>/dev/null || true; fi
  if [ -n "$WEED_PID" ]; then kill "$WEED_PID" 2>/dev/null || true; wait "$WEED_PID" 2>/dev/null || true; fi
  if [ -S "$W/gnupg/S.gpg-agent" ]; then GNUPGHOME=$W/gnupg gpgconf --kill gpg-agent || true; fi
  rm -rf "$W"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
P=()
for _ in 1 2 3 4 5 6 7 8; do P+=("$(port)"); done
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret-key AWS_REGION=us-east-1
printf '%s\n' '{"identities": [' \
  "{\"name\": \"bench\", \"credentials\": [{\"accessKey\": \"$AWS_ACCESS_KEY_ID\", \"secretKey\": \"$AWS_SECRET_ACCESS_KEY\"}], \"actions\": [\"Admin\", \"Read\", \"List\", \"Tagging\", \"Write\"]}," \
  '{"name": "anonymous", "actions": ["Read"]}]}' > "$W/s3.json"
mkdir -p "$W/data"
"$WEED" server -s3 -filer -ip=127.0.0.1 -ip.bind=127.0.0.1 -dir="$W/data" \
  -master.port="${P[0]}" -master.port.grpc="${P[1]}" -volume.port="${P[2]}" -volume.port.grpc="${P[3]}" \
  -filer.port="${P[4]}" -filer.port.grpc="${P[5]}" -s3.port="${P[6]}" -s3.port.grpc="${P[7]}" \
  -s3.config="$W/s3.json" -master.volumeSizeLimitMB=64 -volume.max=32 -master.telemetry=false \
  -volume.preStopSeconds=0 > "$W/weed.log" 2>&1 &
WEED_PID=$!
EP=http://127.0.0.1:${P[6]}
for _ in $(seq 450); do curl -s -o /dev/null "$EP/" && break; sleep 0.2; done
WEP=$EP
go build -o "$W/s3count" ./bench/s3count
CP=$(port)
"$W/s3count" -listen "127.0.0.1:$CP" -to "$EP" -log "$W/requests" &
COUNT_PID=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$CP/" && break; sleep 0.1; done
mkbucket() {
  for _ in $(seq 120); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" \
      --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -X PUT "$EP/$1")
    [ "$code" = 200 ] && return 0
    sleep 0.5
  done
  echo "bench/s3.sh: cannot create bucket $1 ($code)" >&2
  exit 1
}

# Warm the cluster (its first write grows volumes, seconds): neither tool
# pays for it.
mkbucket bench
echo warm > "$W/warm.txt"
curl -s -o /dev/null --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
  -T "$W/warm.txt" "$EP/bench/warm.txt"

# The packages: the fixture's 22, then the same and one more (a small
# amd64 package built here).
mkdir -p "$W/in1" "$W/in2" "$W/extra/DEBIAN"
mapfile -t debs < <(find "$F" -name '*.deb' | sort)
for d in "${debs[@]}"; do ln -s "$d" "$W/in1/"; ln -s "$d" "$W/in2/"; done
printf '%s\n' 'Package: grey-bench-extra' 'Version: 1.0' 'Architecture: amd64' \
  'Maintainer: bench <bench@example.org>' 'Description: one package added to the fixture' > "$W/extra/DEBIAN/control"
extra=$W/grey-bench-extra_1.0_amd64.deb
dpkg-deb --root-owner-group -Zxz --build "$W/extra" "$extra" >/dev/null
ln -s "$extra" "$W/in2/"

# Keys: grey's, and a GnuPG Ed25519 key for aptly.
"$GREY" key generate --name "bench" --email bench@example.org --out "$W/grey" >/dev/null
export GNUPGHOME=$W/gnupg
mkdir -m 700 "$GNUPGHOME"
gpg --batch -q --passphrase '' --quick-gen-key "bench <bench@example.org>" ed25519 sign never 2>/dev/null

timed() {  # OUTFILE CMD...: runs CMD, appends "wall cpu" to OUTFILE
  local o=$1; shift
  local before=0
  [ -f "$W/requests" ] && before=$(wc -l < "$W/requests")
  /usr/bin/time -f "%e %U %S" -o "$W/time" "$@" > "$W/out" 2>&1 || { cat "$W/out" >&2; exit 1; }
  awk '{printf "%s %.2f ", $1, $2 + $3}' "$W/time" >> "$o"
  [ -f "$W/requests" ] && echo "$before $(wc -l < "$W/requests")" >> "$W/phases"
  return 0
}
run_grey() {  # PREFIX (in the one bucket: SeaweedFS gives each bucket its own volumes)
  for in in in1 in2; do
    timed "$W/res" "$GREY" repo publish --key "$W/grey.key.asc" --suite stable --arch amd64 \
      --out "s3://bench/$1?endpoint=$WEP" "$W/$in"
  done
  echo >> "$W/res"
}
run_aptly() {  # PREFIX
  local d=$W/aptly-$1
  mkdir -p "$d"
  printf '%s\n' "{\"rootDir\": \"$d/db\", \"architectures\": [\"amd64\"], \"gpgProvider\": \"gpg2\"," \
    "\"S3PublishEndpoints\": {\"bench\": {\"region\": \"us-east-1\", \"bucket\": \"bench\", \"endpoint\": \"$WEP\"," \
    "\"awsAccessKeyID\": \"$AWS_ACCESS_KEY_ID\", \"awsSecretAccessKey\": \"$AWS_SECRET_ACCESS_KEY\", \"prefix\": \"$1\", \"forceVirtualHostedStyle\": false}}}" \
    > "$d/aptly.conf"
  local A="aptly -config=$d/aptly.conf"
  $A repo create -distribution=stable -component=main r >/dev/null
  timed "$W/res" bash -c "$A repo add r $W/in1 && $A publish repo -batch -architectures=amd64 r s3:bench:"
  timed "$W/res" bash -c "$A repo add r $extra && $A publish update -batch stable s3:bench:"
  echo >> "$W/res"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), load: $(cut -d' ' -f1-3 /proc/loadavg), $RUNS runs each"
echo "| tool | first publish (22 .debs) wall s | CPU s | incremental (+1 .deb) wall s | CPU s |"
echo "|---|---|---|---|---|"
for tool in grey aptly; do
  : > "$W/res"
  for i in $(seq "$RUNS"); do
    "run_$tool" "$tool$i"
  done
  cols=()
  for c in 1 2 3 4; do cols+=("$(awk -v c="$c" '{print $c}' "$W/res" | median)"); done
  echo "| $tool | ${cols[0]} | ${cols[1]} | ${cols[2]} | ${cols[3]} |"
done

# One more run of each through the counting proxy.
WEP=http://127.0.0.1:$CP
echo
echo "| tool | publish | GET | HEAD | PUT | COPY | DELETE | LIST | POST | all |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for tool in grey aptly; do
  : > "$W/requests"; : > "$W/phases"; : > "$W/res"
  "run_$tool" "count-$tool"
  phase=0
  while read -r from to; do
    phase=$((phase + 1))
    name=first; [ "$phase" = 2 ] && name=incremental
    sed -n "$((from + 1)),${to}p" "$W/requests" | awk -v t="$tool" -v p="$name" '
      { n[$1]++; all++ }
      END { printf "| %s | %s | %d | %d | %d | %d | %d | %d | %d | %d |\n", t, p, n["GET"], n["HEAD"], n["PUT"], n["COPY"], n["DELETE"], n["LIST"], n["POST"], all }'
  done < "$W/phases"
  if [ -n "${KEEP_REQUESTS:-}" ]; then cp "$W/requests" "$KEEP_REQUESTS.$tool"; fi
done
