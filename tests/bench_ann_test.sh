#!/usr/bin/env bash
# encore-bench-ann on Recommend's own searches (bench/e2e.sh phase (b)): it captures them from a
# real history store, splits them near/far as the server does, and a saved capture replays to the
# same results without the store, and the graph renumbered into graph order finds the same
# neighbours. Bad input is refused.
# Usage: bench_ann_test.sh ENCORE_GEN ENCORE_SERVER ENCORE_CLI ENCORE_BENCH_ANN
set -euo pipefail
GEN=$1 SERVER=$2 CLI=$3 ANN=$4
# shellcheck source=tests/shell_lib.sh
source "$(dirname "$0")/shell_lib.sh"
field() { echo "$1" | grep -oE "(^| )$2=[^ ]*" | head -1 | cut -d= -f2; }

"$GEN" --out="$TMP/snapshots" --tracks=20000 --users=300 --shows=0 --index_type=hnsw --seed=5 \
  --version=v1 > /dev/null
# The server imports the listening history into RocksDB, then stops (the store takes one process).
"$SERVER" --snapshot_dir="$TMP/snapshots" --history_dir="$TMP/history" --port=0 --metrics_port=-1 \
  --import_events="$TMP/snapshots/events.tsv" > "$TMP/server.out" 2> "$TMP/server.err" &
PID=$!
for _ in $(seq 1 200); do grep -q grpc_port= "$TMP/server.out" 2>/dev/null && break; sleep 0.05; done
PORT=$(grep -o 'grpc_port=[0-9]*' "$TMP/server.out" | cut -d= -f2)
[ -n "$PORT" ] || fail "server did not start: $(cat "$TMP/server.err")"
"$CLI" --target=127.0.0.1:$PORT health --wait_seconds=60 > /dev/null
kill -TERM "$PID"
wait "$PID" || fail "server exit code $?"
PID=""

COMMON=(--snapshot_dir="$TMP/snapshots" --ef_search=64 --upper_ef=32 --far_ef_search=128)
CAPTURED=$("$ANN" "${COMMON[@]}" --history_dir="$TMP/history" --users=300 --queries=200 \
  --exact_queries=200 --save_queries="$TMP/q.bin") || fail "capture"
[ "$(field "$CAPTURED" queries_from)" = serving ] || fail "capture output: $CAPTURED"
[ "$(field "$CAPTURED" calls)" = 200 ] || fail "calls: $CAPTURED"
python3 - "$(field "$CAPTURED" recall_at_10)" "$(field "$CAPTURED" far_share)" \
  "$(field "$CAPTURED" far_recall_at_10)" "$(field "$CAPTURED" near_recall_at_10)" \
  "$(field "$CAPTURED" recommend_ms_per_call)" <<'PY' || fail "capture figures: $CAPTURED"
import sys
recall, far_share, far_recall, near_recall, call_ms = map(float, sys.argv[1:])
assert 0.5 < recall <= 1 and 0 <= far_share <= 1 and call_ms > 0, sys.argv
# Overall recall is the query-weighted mix of the two kinds.
assert min(far_recall, near_recall) - 1e-3 <= recall <= max(far_recall, near_recall) + 1e-3, sys.argv
PY

# The saved capture replays to the very same searches: same count, split and results.
# The split is the capture's even when the replay is given another --far_cos.
REPLAYED=$("$ANN" "${COMMON[@]}" --load_queries="$TMP/q.bin" --exact_queries=200 --far_cos=-1) \
  || fail "replay"
for f in queries calls mean_k far_cos far_share recall_at_10 far_recall_at_10 score_share_at_10; do
  [ "$(field "$REPLAYED" $f)" = "$(field "$CAPTURED" $f)" ] \
    || fail "replayed $f differs: $(field "$REPLAYED" $f) vs $(field "$CAPTURED" $f)"
done
[ -z "$(field "$REPLAYED" recommend_ms_per_call)" ] || fail "replay reports call times it did not take"

# With another thread searching the same index meanwhile (--concurrent_searchers), every search
# still finds the same neighbours, and the other thread did search.
BUSY=$("$ANN" "${COMMON[@]}" --load_queries="$TMP/q.bin" --exact_queries=200 --far_cos=-1 \
  --concurrent_searchers=1) || fail "replay with a concurrent searcher"
for f in queries recall_at_10 far_recall_at_10 score_share_at_10; do
  [ "$(field "$BUSY" $f)" = "$(field "$REPLAYED" $f)" ] \
    || fail "with a concurrent searcher $f differs: $(field "$BUSY" $f) vs $(field "$REPLAYED" $f)"
done
[ "$(field "$BUSY" concurrent_searchers)" = 1 ] || fail "concurrent_searchers: $BUSY"
[ "$(field "$BUSY" concurrent_searches)" -gt 0 ] || fail "the concurrent searcher did not search: $BUSY"
[ "$(field "$REPLAYED" concurrent_searches)" = 0 ] || fail "searches without a searcher: $REPLAYED"

# The split follows --far_cos: -1 makes nothing far, 1 nearly everything.
NONE=$("$ANN" "${COMMON[@]}" --history_dir="$TMP/history" --users=300 --queries=100 \
  --exact_queries=0 --far_cos=-1)
[ "$(field "$NONE" far_share)" = 0.000 ] || fail "far_cos=-1: $NONE"
ALL=$("$ANN" "${COMMON[@]}" --history_dir="$TMP/history" --users=300 --queries=100 \
  --exact_queries=0 --far_cos=1)
python3 -c "import sys; assert float(sys.argv[1]) > 0.9" "$(field "$ALL" far_share)" \
  || fail "far_cos=1: $ALL"

# --compare_locality_order: the same graph with its rows renumbered into graph order finds the
# same neighbours (mapped back), on a snapshot built without renumbering (item probes).
"$GEN" --out="$TMP/given" --tracks=20000 --users=10 --shows=0 --index_type=hnsw --seed=5 \
  --version=v1 --locality_order=false > /dev/null
BOTH=$("$ANN" --snapshot_dir="$TMP/given/v1" --ef_search=64 --queries=300 --exact_queries=300 \
  --compare_locality_order) || fail "compare_locality_order"
[ "$(echo "$BOTH" | wc -l)" = 2 ] || fail "compare_locality_order prints a line per order: $BOTH"
GIVEN=$(echo "$BOTH" | grep 'row_order=given') || fail "no given-order line: $BOTH"
GRAPH=$(echo "$BOTH" | grep 'row_order=graph') || fail "no graph-order line: $BOTH"
for f in queries recall_at_10 score_share_at_10; do
  [ "$(field "$GRAPH" $f)" = "$(field "$GIVEN" $f)" ] \
    || fail "in graph order $f differs: $(field "$GRAPH" $f) vs $(field "$GIVEN" $f)"
done
if "$ANN" --snapshot_dir="$TMP/given/v1" --graph_rows=1000 --compare_locality_order \
  > /dev/null 2> "$TMP/err"; then
  fail "--compare_locality_order with --graph_rows accepted"
fi

# Bad input: a truncated capture, a missing one, a capture of another dimension, a bad flag.
head -c 100 "$TMP/q.bin" > "$TMP/short.bin"
for bad in "--load_queries=$TMP/short.bin" "--load_queries=$TMP/missing.bin" "--far_cos=2" \
  "--load_queries=$TMP/q.bin --history_dir=$TMP/history" \
  "--load_queries=$TMP/q.bin --concurrent_searchers=-1" "--far_ef_search=x"; do
  # shellcheck disable=SC2086  # one case is two flags
  if "$ANN" "${COMMON[@]}" $bad > /dev/null 2> "$TMP/err"; then fail "$bad accepted"; fi
  [ -s "$TMP/err" ] || fail "$bad: no message"
done
grep -q "far_ef_search" "$TMP/err" || fail "message: $(cat "$TMP/err")"
"$GEN" --out="$TMP/other" --tracks=20000 --users=10 --shows=0 --dim=16 --index_type=hnsw \
  --seed=5 --version=v1 > /dev/null
if "$ANN" --snapshot_dir="$TMP/other" --load_queries="$TMP/q.bin" > /dev/null 2> "$TMP/err"; then
  fail "a capture of another dimension was replayed"
fi
grep -q "dimensions" "$TMP/err" || fail "dimension message: $(cat "$TMP/err")"
echo "bench_ann: all checks passed"
