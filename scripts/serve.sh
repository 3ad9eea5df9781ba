#!/usr/bin/env bash
# Builds Encore (Release), generates the default synthetic catalog on first run, and starts
# encore-server on localhost: gRPC on 50051, Prometheus metrics on 9464.
# Extra arguments go to encore-server (e.g. --port=50052).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
scripts/deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build --target encore-server encore-cli encore-gen
VAR="$ROOT/var"
if [ ! -f "$VAR/snapshots/events.tsv" ]; then
  echo "serve: generating the default synthetic catalog in $VAR/snapshots"
  build/offline/encore-gen --out="$VAR/snapshots" --tracks=50000 --users=2000 --seed=42
fi
cat <<MSG

Encore is starting on localhost:50051 (metrics: http://localhost:9464/metrics).
Try, from another terminal:
  $ROOT/build/client/encore-cli --target=localhost:50051 recommend --user=u1 --count=5 --explain
  $ROOT/build/client/encore-cli --target=localhost:50051 similar --item=t1 --count=5
  $ROOT/build/client/encore-cli --target=localhost:50051 info
Stop with Ctrl-C.

MSG
# The synthetic listeners' history is imported at every start; the import is idempotent.
exec build/server/encore-server --snapshot_dir="$VAR/snapshots" --history_dir="$VAR/history" \
  --port=50051 --metrics_port=9464 --import_events="$VAR/snapshots/events.tsv" "$@"
