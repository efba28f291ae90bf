#!/bin/bash
# The suite on a busy machine: two clean clones of this checkout's HEAD run `.ci/run` (CI=true, as CI does) at
# the same time, ROUNDS times in a row (default 3). Each round prints both exit codes, times and the load
# average; the script exits non-zero at the first round in which either copy failed, and keeps that round's logs.
#   scripts/suite-twice.sh [ROUNDS]          logs in ${SUITE_TWICE_DIR:-/tmp/ganymede-suite-twice}
set -u
rounds=${1:-3}
case $rounds in '' | *[!0-9]* | 0) echo "suite-twice: ROUNDS must be a whole number of at least 1, not '$rounds'" >&2; exit 2 ;; esac
repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel) || exit 2
work=${SUITE_TWICE_DIR:-/tmp/ganymede-suite-twice}
mkdir -p "$work"
commit=$(git -C "$repo" rev-parse --short HEAD)
for round in $(seq 1 "$rounds"); do
  for copy in a b; do
    rm -rf "$work/$copy"
    git clone -q "$repo" "$work/$copy" || exit 2
  done
  started=$(date +%s)
  for copy in a b; do
    (
      cd "$work/$copy" || exit 2
      CI=true bash .ci/run > "$work/round$round-$copy.log" 2>&1
      echo "exit $? after $(( $(date +%s) - started )) s, load $(cut -d' ' -f1-3 /proc/loadavg)" >> "$work/round$round-$copy.log"
    ) &
  done
  wait
  failed=0
  for copy in a b; do
    result=$(tail -1 "$work/round$round-$copy.log")
    counts=$(grep -E '^ℹ (tests|pass|fail|skipped) ' "$work/round$round-$copy.log" | awk '{printf "%s %s ", $2, $3}')
    echo "round $round/$rounds ($commit) copy $copy: $result; $counts"
    case $result in 'exit 0 '*) ;; *) failed=1 ;; esac
  done
  if [ $failed = 1 ]; then
    echo "suite-twice: round $round failed; the logs are $work/round$round-a.log and $work/round$round-b.log" >&2
    exit 1
  fi
done
echo "suite-twice: $rounds rounds, both copies passed each time"
