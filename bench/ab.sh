#!/usr/bin/env bash
# Side-by-side A/B of two server builds or flag sets on one snapshot, alternating A and B so the
# machine's drift hits both alike. Each run starts the server fresh, loads it with encore-loadtest
# and scrapes the server's own index-search histogram.
#
# Usage: bench/ab.sh BUILD_DIR WORK_DIR PAIRS 'A: server binary and flags' 'B: ...' [loadtest flags]
#   WORK_DIR as for bench/e2e.sh (snapshots/ and history/ already there). A side's flags override
#   the script's defaults: '--snapshot_dir=OTHER/snapshots' compares two snapshots of the same
#   items (the history is WORK_DIR's).
#   Loadtest flags default to a closed loop: --concurrency=16 --mix=recommend:1.
# Example (inline vs pool execution, open loop):
#   bench/ab.sh build /tmp/e2e-1m 3 'build/server/encore-server --execution=inline' \
#     'build/server/encore-server --execution=pool' --rate=1200 --mix=recommend:1
set -euo pipefail
BUILD=$(cd "$1" && pwd)
WORK=$2 PAIRS=$3 A=$4 B=$5
shift 5
LOAD=("$@")
[ ${#LOAD[@]} -gt 0 ] || LOAD=(--concurrency=16 --mix=recommend:1)
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null || true; }
trap cleanup EXIT

run() {  # label, server command line
  local label=$1 out="$WORK/ab.server.out"
  # Each run gets its own copy of the history, so writes of one run (a load mix with record)
  # cannot change what the next one reads.
  rm -rf "$WORK/ab.history" && cp -r "$WORK/history" "$WORK/ab.history"
  # The side's own flags come after the defaults, so they win (the last of a flag counts): a
  # side may serve another snapshot with --snapshot_dir=ROOT.
  # shellcheck disable=SC2206  # the command line is meant to split into words
  local cmd=($2)
  "${cmd[0]}" --snapshot_dir="$WORK/snapshots" --history_dir="$WORK/ab.history" --port=0 \
    --metrics_port=0 --metrics_host=127.0.0.1 --snapshot_poll_seconds=0 "${cmd[@]:1}" \
    > "$out" 2> "$WORK/ab.server.err" &
  PID=$!
  for _ in $(seq 1 3000); do grep -q grpc_port "$out" 2>/dev/null && break; sleep 0.01; done
  local port mport
  port=$(grep -o 'grpc_port=[0-9]*' "$out" | cut -d= -f2)
  mport=$(grep -o 'metrics_port=[0-9]*' "$out" | cut -d= -f2)
  "$BUILD/client/encore-cli" --target="127.0.0.1:$port" health --wait_seconds=600 > /dev/null
  "$BUILD/client/encore-loadtest" --target="127.0.0.1:$port" --users=100000 --items=1000000 \
    --warmup=2 --duration=8 "${LOAD[@]}" --json="$WORK/ab.json" > /dev/null 2>&1
  python3 - "$label" "$WORK/ab.json" "$mport" <<'PY'
import json, sys, urllib.request
label, path, mport = sys.argv[1:]
d = json.load(open(path))
page = urllib.request.urlopen(f"http://127.0.0.1:{mport}/metrics", timeout=5).read().decode()
v = {l.split()[0]: float(l.split()[1]) for l in page.splitlines()
     if l.startswith("encore_index_search_seconds_")}
n = v.get("encore_index_search_seconds_count", 0)
search = f"{v['encore_index_search_seconds_sum'] / n * 1000:.3f} ms" if n else "-"
l = d["latency_ms"]
print(f"{label}: {d['achieved_rps']:.0f} req/s, p50 {l['p50']:.2f} p99 {l['p99']:.2f} "
      f"p99.9 {l['p999']:.2f} ms, errors {d['errors']}, mean index search {search}")
PY
  kill -TERM "$PID"; wait "$PID" || true; PID=""
}

for i in $(seq 1 "$PAIRS"); do
  run "A$i" "$A"
  run "B$i" "$B"
done
