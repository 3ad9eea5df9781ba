#!/usr/bin/env bash
# CPU per call against offered load. For each rate, three open-loop runs with encore-loadtest:
# encore-server's Recommend, the same server's empty RPC (GetCatalogInfo), and
# encore-bench-ideal-server (an empty RPC plus SPIN_US of pure CPU per Recommend). Each prints
# the server's CPU per call and the whole machine's (client, server, kernel) over the measured
# window, the achieved rate and p50/p99. R_lim and "50% of max" assume a call costs the same CPU
# at every rate; this shows what a call really costs at the rates where the latency targets are
# read.
#
# The server's CPU is the scheduler's run time (bench/proc_cpu.sh); a line says "threads
# changed" when the server's set of threads did, since an exited thread's time is lost. The
# machine's figure is encore-loadtest's busy share of /proc/stat (host_cpu in its JSON) over its
# own window.
#
# Usage: bench/cost_curve.sh BUILD_DIR WORK_DIR [RATE ...]   (default: 200 800 1500 c16)
#   a RATE is req/s offered in open loop, or cN for a closed loop at concurrency N.
#   WORK_DIR as for bench/e2e.sh (snapshots/ and history/ already there).
# Env: SPIN_US (300), USERS (100000), TRACKS (1000000), WARMUP (2), DURATION (10),
#      SETTLE (20: seconds between encore-server's ready and its first run; the background
#      huge-page collapse and the history cache's filling run then).
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: bench/cost_curve.sh BUILD_DIR WORK_DIR [RATE ...]" >&2
  exit 64
fi
BUILD=$(cd "$1" && pwd)
WORK=$2
shift 2
RATES=("$@")
[ ${#RATES[@]} -gt 0 ] || RATES=(200 800 1500 c16)
SPIN_US=${SPIN_US:-300} USERS=${USERS:-100000} TRACKS=${TRACKS:-1000000}
WARMUP=${WARMUP:-2} DURATION=${DURATION:-10} SETTLE=${SETTLE:-20}
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null || true; }
trap cleanup EXIT

# shellcheck source=bench/proc_cpu.sh
source "$(dirname "$0")/proc_cpu.sh"
tasks() { ls /proc/"$1"/task 2>/dev/null | tr '\n' ' '; }

start() {  # out file, command...
  local out=$1
  shift
  "$@" > "$out" 2> "$out.err" &
  PID=$!
  for _ in $(seq 1 6000); do grep -q grpc_port "$out" 2>/dev/null && break; sleep 0.01; done
  PORT=$(grep -o 'grpc_port=[0-9]*' "$out" | cut -d= -f2)
  [ -n "$PORT" ] || { echo "server did not start: $*"; cat "$out.err"; exit 1; }
}
stop() { kill -TERM "$PID"; wait "$PID" || true; PID=""; }

measure() {  # label, mix, rate (or cN: closed loop at concurrency N)
  local lt json="$WORK/cost_curve.json" s0 s1 t0 t1 load
  case $3 in
    c*) load=--concurrency=${3#c} ;;
    *) load=--rate=$3 ;;
  esac
  "$BUILD/client/encore-loadtest" --target=127.0.0.1:"$PORT" --users="$USERS" --items="$TRACKS" \
    --warmup="$WARMUP" --duration="$DURATION" "$load" --mix="$2" --json="$json" \
    > "$WORK/cost_curve.out" 2>&1 &
  lt=$!
  # The window: from the end of the warm-up to just before the end of the measured run.
  sleep "$(python3 -c "print($WARMUP + 0.3)")"
  s0=$(proc_cpu_ns "$PID") t0=$(tasks "$PID")
  local window
  window=$(python3 -c "print(max($DURATION - 0.8, 0.5))")
  sleep "$window"
  s1=$(proc_cpu_ns "$PID") t1=$(tasks "$PID")
  wait "$lt" || { echo "encore-loadtest failed:"; cat "$WORK/cost_curve.out"; exit 1; }
  python3 - "$1" "$3" "$window" "$s0" "$s1" "$([ "$t0" = "$t1" ] && echo 0 || echo 1)" \
    "$json" "$(nproc)" <<'PY'
import json, sys
label, rate, window, s0, s1, changed, path, cores = sys.argv[1:9]
d = json.load(open(path))
calls = d["achieved_rps"] * float(window)  # calls completed in the server's window
server_us = (int(s1) - int(s0)) / 1e3 / calls
busy = d["host_cpu"]["busy_pct"]  # the whole machine, from /proc/stat, over the loadtest's window
machine_us = busy / 100 * int(cores) * 1e6 / d["achieved_rps"]
lat = d["latency_ms"]
print(f"{label:<22} {rate:>6} offered {d['achieved_rps']:>7.0f} achieved"
      f"  server {server_us:5.0f} us/call  machine {machine_us:5.0f} us/call ({busy:4.1f}% busy)"
      f"  p50 {lat['p50']:.3f} p99 {lat['p99']:.3f} ms  errors {d['errors'] or '{}'}"
      + ("  (threads changed)" if changed == "1" else ""))
PY
}

echo "== $(nproc) cores, $(date -u +%FT%TZ); CPU per call from /proc/PID/task/*/schedstat"
echo "== host idle: $(cpu_idle_policy)"
start "$WORK/cost_curve.server" "$BUILD/server/encore-server" --snapshot_dir="$WORK/snapshots" \
  --history_dir="$WORK/history" --port=0 --metrics_port=-1 --snapshot_poll_seconds=0
"$BUILD/client/encore-cli" --target=127.0.0.1:"$PORT" health --wait_seconds=600 > /dev/null
sleep "$SETTLE"
for r in "${RATES[@]}"; do
  measure "encore Recommend" recommend:1 "$r"
  measure "encore empty RPC" info:1 "$r"
done
stop
start "$WORK/cost_curve.ideal" "$BUILD/bench/encore-bench-ideal-server" --port=0 \
  --spin_us="$SPIN_US"
sleep 1
for r in "${RATES[@]}"; do
  measure "ideal (${SPIN_US} us burn)" recommend:1 "$r"
done
stop
