#include "offline/evaluation.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "absl/container/flat_hash_set.h"
#include "common/status_macros.h"

namespace encore::offline {

Split SplitPerUser(const InteractionData& data, uint64_t seed) {
  Split split;
  const int32_t n_users = data.users.size();
  split.validation.resize(n_users);
  split.test.resize(n_users);
  std::vector<std::vector<size_t>> by_user(n_users);
  for (size_t i = 0; i < data.entries.size(); ++i) by_user[data.entries[i].user].push_back(i);
  for (int32_t u = 0; u < n_users; ++u) {
    std::vector<size_t>& rows = by_user[u];
    // Sorted first so the split depends only on the seed, not the file order.
    std::sort(rows.begin(), rows.end(),
              [&](size_t a, size_t b) { return data.entries[a].item < data.entries[b].item; });
    const size_t n = rows.size();
    size_t held = 0;
    if (n >= 3) held = std::max<size_t>(1, n / 10);
    std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(u));
    std::shuffle(rows.begin(), rows.end(), rng);
    for (size_t k = 0; k < n; ++k) {
      const Interaction& e = data.entries[rows[k]];
      if (k < held) {
        split.test[u].push_back(e.item);
      } else if (k < 2 * held) {
        split.validation[u].push_back(e.item);
      } else {
        split.train.push_back(e);
      }
    }
  }
  return split;
}

absl::StatusOr<RankingMetrics> Score(const std::vector<std::vector<int32_t>>& held_out,
                                     int32_t num_items, const Ranker& rank) {
  RankingMetrics m;
  absl::flat_hash_set<int32_t> covered;
  for (int32_t u = 0; u < static_cast<int32_t>(held_out.size()); ++u) {
    if (held_out[u].empty()) continue;
    ASSIGN_OR_RETURN(std::vector<int32_t> ranked, rank(u));
    absl::flat_hash_set<int32_t> truth(held_out[u].begin(), held_out[u].end());
    auto at = [&](int k, double* recall, double* ndcg) {
      int hits = 0;
      double dcg = 0, idcg = 0;
      for (int i = 0; i < k && i < static_cast<int>(ranked.size()); ++i) {
        if (truth.contains(ranked[i])) {
          ++hits;
          dcg += 1.0 / std::log2(i + 2.0);
        }
      }
      for (int i = 0; i < std::min<int>(k, truth.size()); ++i) idcg += 1.0 / std::log2(i + 2.0);
      *recall += static_cast<double>(hits) / truth.size();
      *ndcg += dcg / idcg;
      return hits;
    };
    const int hits10 = at(10, &m.recall_at_10, &m.ndcg_at_10);
    at(20, &m.recall_at_20, &m.ndcg_at_20);
    m.precision_at_10 += hits10 / 10.0;
    for (int i = 0; i < 10 && i < static_cast<int>(ranked.size()); ++i) covered.insert(ranked[i]);
    ++m.users;
  }
  if (m.users > 0) {
    const double n = static_cast<double>(m.users);
    m.recall_at_10 /= n;
    m.recall_at_20 /= n;
    m.ndcg_at_10 /= n;
    m.ndcg_at_20 /= n;
    m.precision_at_10 /= n;
  }
  m.coverage = num_items > 0 ? static_cast<double>(covered.size()) / num_items : 0.0;
  return m;
}

}  // namespace encore::offline
