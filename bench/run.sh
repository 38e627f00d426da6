#!/usr/bin/env bash
# bench/run.sh: `make bench`'s whole-command comparisons. Runs every
# bench/*.sh beside it (each times grey and its anchors side by side in one
# run, with hyperfine, and prints a table with ratios) and keeps all output
# in one log. Record the result in docs/benchmarks.md with the machine and
# the date.
#
# Usage: make bench            (after make build; as root for the install,
#                               image and resolver comparisons)
#   ONLY="update show"  run only these scripts
#   RUNS=N              passed on to every script
set -uo pipefail
cd "$(dirname "$0")/.."
export GREY=${GREY:-$PWD/bin/grey}
export FIXTURE=${FIXTURE:-$(cd .. && pwd)/shared/testdata/debian-bookworm}
[ -x "$GREY" ] || { echo "bench/run.sh: $GREY is missing: run make build" >&2; exit 1; }
[ -d "$FIXTURE" ] || { echo "bench/run.sh: the fixture $FIXTURE is missing" >&2; exit 1; }
log=${LOG:-/var/tmp/grey-bench-$(date -u +%Y%m%dT%H%M%SZ).log}
order="update show resolver distcheck install image rollback"
scripts=()
for name in ${ONLY:-$order}; do
  [ -f "bench/$name.sh" ] && scripts+=("bench/$name.sh")
done
for f in bench/*.sh; do
  case " $order " in *" $(basename "$f" .sh) "*) ;; *) case "$f" in bench/run.sh|bench/lib.sh) ;; *) [ -n "${ONLY:-}" ] || scripts+=("$f");; esac;; esac
done
{
  echo "# grey benchmarks $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "machine: nproc=$(nproc) cpu=\"$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)\" mem=$(awk '/MemTotal/{printf "%.1fGiB", $2/1048576}' /proc/meminfo) kernel=$(uname -r) debian=$(cat /etc/debian_version)"
  echo "grey: $("$GREY" version)"
  echo "loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$log"
failed=0
for s in "${scripts[@]}"; do
  printf '\n########## %s\n' "$s" | tee -a "$log"
  if ! bash "$s" 2>&1 | tee -a "$log"; then
    echo "bench/run.sh: $s failed" | tee -a "$log"
    failed=$((failed + 1))
  fi
done
echo | tee -a "$log"
echo "loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg); full log: $log" | tee -a "$log"
exit "$failed"
