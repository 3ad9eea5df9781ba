#!/usr/bin/env bash
# Grid search of ALS settings on the Last.fm 2k VALIDATION split (never the test split).
# Usage: bench/tune_lastfm.sh BUILD_DIR LASTFM_DIR [SEEDS...]; prints one line per setting with the
# mean validation Recall@10 over the seeds (default 1 2 3). The grid comes from FACTORS, REGS and
# ALPHAS (space-separated; defaults below).
set -euo pipefail
BUILD=$1 DATA=$2
shift 2
if [ $# -gt 0 ]; then SEEDS=("$@"); else SEEDS=(1 2 3); fi
for factors in ${FACTORS:-64 128}; do
  for reg in ${REGS:-10 30 60}; do
    for alpha in ${ALPHAS:-1 2 4}; do
      sum=0
      for seed in "${SEEDS[@]}"; do
        r=$("$BUILD/offline/encore-eval" --lastfm_dir="$DATA" --seed="$seed" --split=validation \
              --factors=$factors --regularization=$reg --alpha=$alpha --compare_hnsw=false \
              2>/dev/null | awk -F'|' '/^\| encore /{print $3}')
        sum=$(python3 -c "print($sum + $r)")
      done
      python3 -c "print('factors=$factors reg=$reg alpha=$alpha val_recall@10=%.4f' % ($sum / ${#SEEDS[@]}))"
    done
  done
done
