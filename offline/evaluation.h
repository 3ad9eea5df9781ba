// Offline evaluation: the RecBole-style random per-user split and top-K ranking metrics.
#ifndef ENCORE_OFFLINE_EVALUATION_H_
#define ENCORE_OFFLINE_EVALUATION_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "offline/importers.h"

namespace encore::offline {

// Per-user random 80/10/10 split of interactions (by item): a user with n >= 3 items gives
// validation and test floor(0.1 n) items each (at least 1); users with fewer than 3 items stay in
// training. Deterministic for a seed.
struct Split {
  std::vector<Interaction> train;
  // Per user (index = dense user id): held-out item ids.
  std::vector<std::vector<int32_t>> validation;
  std::vector<std::vector<int32_t>> test;
};
Split SplitPerUser(const InteractionData& data, uint64_t seed);

struct RankingMetrics {
  double recall_at_10 = 0, recall_at_20 = 0, ndcg_at_10 = 0, ndcg_at_20 = 0, precision_at_10 = 0;
  // Share of catalog items appearing in some top-10 list.
  double coverage = 0;
  int64_t users = 0;
};

// Ranks for one user: the top (at least 20) item ids, best first.
using Ranker = std::function<absl::StatusOr<std::vector<int32_t>>(int32_t user)>;

// Scores `rank` against held-out sets (users with an empty set are skipped). Recall divides by
// the held-out size (as RecBole), NDCG uses binary gains.
absl::StatusOr<RankingMetrics> Score(const std::vector<std::vector<int32_t>>& held_out,
                                     int32_t num_items, const Ranker& rank);

}  // namespace encore::offline

#endif  // ENCORE_OFFLINE_EVALUATION_H_
