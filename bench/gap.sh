#!/usr/bin/env bash
# Where encore-server's Recommend throughput goes, side by side in one run: encore-server and two
# encore-bench-ideal-servers (empty RPC + a pure CPU burn per Recommend) run at once, and the same
# closed-loop load goes to each in turn, ROUNDS times. Per completed call it prints throughput and
# the CPU the server process and the client process spent (from /proc and /usr/bin/time):
#   ideal(INDEX_US)  - what any server whose only work is the index search reaches here;
#   ideal(CALL_US)   - ... whose work is the whole in-process Recommend call;
#   encore-server    - the real thing; what it spends beyond ideal(CALL_US) appears only under load.
# INDEX_US and CALL_US: from `encore-bench-ann --history_dir=... --users=N` (ann_ms_per_query and
# recommend_ms_per_call, in µs); take the median of a few runs, the machine drifts.
#
# Usage: bench/gap.sh BUILD_DIR WORK_DIR ROUNDS INDEX_US CALL_US [loadtest flags]
#   WORK_DIR as for bench/e2e.sh (snapshots/ and history/ already there).
#   Loadtest flags default to --concurrency=16 --mix=recommend:1.
set -euo pipefail
BUILD=$(cd "$1" && pwd)
WORK=$2 ROUNDS=$3 INDEX_US=$4 CALL_US=$5
shift 5
LOAD=("$@")
[ ${#LOAD[@]} -gt 0 ] || LOAD=(--concurrency=16 --mix=recommend:1)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

start() {  # name, command...; sets PORT_<name> and PID_<name>
  local name=$1 out="$WORK/gap.$1.out"
  shift
  "$@" > "$out" 2> "$WORK/gap.$name.err" &
  PIDS+=($!)
  eval "PID_$name=$!"
  for _ in $(seq 1 3000); do grep -q grpc_port "$out" 2>/dev/null && break; sleep 0.01; done
  eval "PORT_$name=$(grep -o 'grpc_port=[0-9]*' "$out" | cut -d= -f2)"
}
rm -rf "$WORK/gap.history" && cp -r "$WORK/history" "$WORK/gap.history"
start encore "$BUILD/server/encore-server" --snapshot_dir="$WORK/snapshots" \
  --history_dir="$WORK/gap.history" --port=0 --metrics_port=-1 --snapshot_poll_seconds=0
start index "$BUILD/bench/encore-bench-ideal-server" --spin_us="$INDEX_US"
start call "$BUILD/bench/encore-bench-ideal-server" --spin_us="$CALL_US"
"$BUILD/client/encore-cli" --target="127.0.0.1:$PORT_encore" health --wait_seconds=600 > /dev/null

# shellcheck source=bench/proc_cpu.sh
source "$(dirname "$0")/proc_cpu.sh"

measure() {  # label, pid, port
  local before after
  before=$(proc_cpu_ns "$2")
  /usr/bin/time -f '%U %S' -o "$WORK/gap.time" "$BUILD/client/encore-loadtest" \
    --target="127.0.0.1:$3" --users=100000 --items=1000000 --warmup=0 --duration=8 "${LOAD[@]}" \
    --json="$WORK/gap.json" > /dev/null 2>&1
  after=$(proc_cpu_ns "$2")
  python3 - "$1" "$before" "$after" "$WORK/gap.json" "$WORK/gap.time" <<'PY'
import json, sys
label, before, after, path, tpath = sys.argv[1:]
d = json.load(open(path))
user, sys_ = (float(x) for x in open(tpath).read().split()[-2:])
# No warm-up, so the server and client CPU both cover the calls completed in the window plus
# the few still in flight at its end.
n = d["completed"]
server = (int(after) - int(before)) / 1e3 / n
client = (user + sys_) / n * 1e6
print(f"{label:<22} {d['achieved_rps']:7.0f} req/s  server {server:4.0f} µs  client {client:4.0f} µs  "
      f"total {server + client:4.0f} µs per call  p99 {d['latency_ms']['p99']:.2f} ms  "
      f"errors {d['errors']}")
PY
}
for i in $(seq 1 "$ROUNDS"); do
  echo "== round $i"
  measure "ideal(${INDEX_US} µs)" "$PID_index" "$PORT_index"
  measure "ideal(${CALL_US} µs)" "$PID_call" "$PORT_call"
  measure "encore-server" "$PID_encore" "$PORT_encore"
done
