#!/usr/bin/env bash
# Quality on real data: encore-eval on a slice of Last.fm 2k (first 600 users) must beat the
# popularity baseline by a wide margin, and HNSW must lose at most 1% relative recall.
# Skips (exit 77) when ../shared/data/lastfm-2k is absent.
set -euo pipefail
EVAL=$1 DATA=$2
if [ ! -f "$DATA/user_artists.dat" ]; then
  echo "SKIP: Last.fm 2k dataset not found at $DATA (set ENCORE_LASTFM_DIR)"
  exit 77
fi
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
"$EVAL" --lastfm_dir="$DATA" --seed=5 --max_users=600 --iterations=10 --json="$OUT"
python3 - "$OUT" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
enc, pop, hnsw = d["encore"], d["popularity"], d["encore_hnsw"]
for k in ["recall_at_10", "recall_at_20", "ndcg_at_10", "ndcg_at_20", "precision_at_10", "coverage"]:
    assert k in enc and k in pop, k
print("encore recall@10 %.4f, popularity %.4f, hnsw %.4f" % (enc["recall_at_10"], pop["recall_at_10"], hnsw["recall_at_10"]))
assert enc["recall_at_10"] >= 2 * pop["recall_at_10"], "not 2x popularity"
assert enc["recall_at_10"] >= 0.15, "recall@10 below 0.15 on the slice"
assert hnsw["recall_at_10"] >= 0.99 * enc["recall_at_10"], "HNSW loses more than 1%"
assert enc["coverage"] > 5 * pop["coverage"]
PY
