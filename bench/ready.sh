#!/usr/bin/env bash
# Time to ready of two server builds (or flag sets), alternating A and B so the machine's drift
# hits both alike: start, poll Health until SERVING, then read RSS and AnonHugePages 4 s later.
#
# Usage: bench/ready.sh BUILD_DIR WORK_DIR PAIRS 'A: server binary and flags' 'B: ...'
#   WORK_DIR as for bench/e2e.sh (snapshots/ and history/ already there); BUILD_DIR gives
#   encore-cli.
# Example: bench/ready.sh build /tmp/e2e-1m 4 /tmp/old-server build/server/encore-server
set -euo pipefail
BUILD=$(cd "$1" && pwd)
WORK=$2 PAIRS=$3 A=$4 B=$5
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null || true; }
trap cleanup EXIT
one() {  # label, server command line
  local out="$WORK/ready.out" err="$WORK/ready.err" t0 port ready
  t0=$(date +%s.%N)
  # shellcheck disable=SC2086  # the command line is split on purpose
  $2 --snapshot_dir="$WORK/snapshots" --history_dir="$WORK/history" --port=0 --metrics_port=-1 \
    --snapshot_poll_seconds=0 > "$out" 2> "$err" &
  PID=$!
  for _ in $(seq 1 6000); do grep -q grpc_port "$out" 2>/dev/null && break; sleep 0.01; done
  port=$(grep -o 'grpc_port=[0-9]*' "$out" | cut -d= -f2)
  "$BUILD/client/encore-cli" --target=127.0.0.1:"$port" health --wait_seconds=600 > /dev/null
  ready=$(python3 -c "print(round($(date +%s.%N) - $t0, 3))")
  sleep 4
  echo "$1 ready_seconds=$ready $(grep -o 'loaded in [0-9.]*' "$err" | tr ' ' '_') " \
    "rss_mb=$(($(awk '/VmRSS/ {print $2}' /proc/$PID/status) / 1024))" \
    "anon_huge_mb=$(($(awk '/AnonHugePages/ {print $2}' /proc/$PID/smaps_rollup) / 1024))"
  kill "$PID"; wait "$PID" || true; PID=""
}
for _ in $(seq 1 "$PAIRS"); do
  one A "$A"
  one B "$B"
done
