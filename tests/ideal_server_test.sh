#!/usr/bin/env bash
# encore-bench-ideal-server (bench/e2e.sh phase (d)): it answers both RPCs the way encore-server's
# clients expect, each Recommend really burns --spin_us of CPU, and bad flags are refused.
# Usage: ideal_server_test.sh IDEAL_SERVER ENCORE_CLI ENCORE_LOADTEST
set -euo pipefail
IDEAL=$1 CLI=$2 LOADTEST=$3
# shellcheck source=tests/shell_lib.sh
source "$(dirname "$0")/shell_lib.sh"

for bad in -1 1000001; do
  if "$IDEAL" --spin_us=$bad > /dev/null 2> "$TMP/bad.err"; then fail "--spin_us=$bad accepted"; fi
  grep -q -- '--spin_us must be in' "$TMP/bad.err" || fail "bad flag message: $(cat "$TMP/bad.err")"
done

"$IDEAL" --spin_us=2000 > "$TMP/out" 2> "$TMP/err" &
PID=$!
for _ in $(seq 1 100); do grep -q grpc_port= "$TMP/out" 2>/dev/null && break; sleep 0.05; done
PORT=$(grep -o 'grpc_port=[0-9]*' "$TMP/out" | cut -d= -f2)
[ -n "$PORT" ] || fail "no listening line: $(cat "$TMP/out" "$TMP/err")"
grep -q 'spin_us=2000' "$TMP/out" || fail "listening line: $(cat "$TMP/out")"

"$CLI" --target=127.0.0.1:$PORT info > "$TMP/info.json"
json 'assert d["index_type"] and d["dimension"] == 40 and len(d["items"]) == 4, d' \
  < "$TMP/info.json" || fail "info: $(cat "$TMP/info.json")"
"$CLI" --target=127.0.0.1:$PORT recommend --user=u1 --count=7 > "$TMP/rec.json"
json 'items = d["items"]; assert len(items) == 7, d
assert all(i["item_id"].startswith("t") and i["artist_id"].startswith("a") for i in items), d
assert [i["score"] for i in items] == sorted((i["score"] for i in items), reverse=True), d' \
  < "$TMP/rec.json" || fail "recommend: $(cat "$TMP/rec.json")"

if "$CLI" --target=127.0.0.1:$PORT recommend --user=u1 --count=501 > "$TMP/big.out" 2>&1; then
  fail "count 501 accepted"
fi
grep -q 'INVALID_ARGUMENT' "$TMP/big.out" || fail "count 501: $(cat "$TMP/big.out")"

# One call at a time: each takes at least the 2 ms of CPU it burns (a lower bound, not a timing
# target), and the server's CPU time grows by at least that much per call.
# shellcheck source=bench/proc_cpu.sh
source "$(dirname "$0")/../bench/proc_cpu.sh"
cpu() { proc_cpu_ns "$PID"; }
before=$(cpu)
"$LOADTEST" --target=127.0.0.1:$PORT --concurrency=1 --warmup=0 --duration=1 \
  --mix=recommend:1 --json="$TMP/lt.json" > /dev/null
after=$(cpu)
json 'l = d["latency_ms"]; assert d["errors"] == {} and l["p50"] >= 2.0, d' < "$TMP/lt.json" ||
  fail "loadtest: $(cat "$TMP/lt.json")"
python3 - "$before" "$after" "$TMP/lt.json" <<'PY' || fail "CPU burnt"
import json, sys
before, after, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
d = json.load(open(path))
calls = d["completed"]
burnt = (after - before) / 1e9
assert burnt >= 0.9 * calls * 0.002, (burnt, calls)
PY

kill -TERM "$PID"
wait "$PID" || fail "exit status $? after SIGTERM"
PID=""
echo "ideal server test passed"
