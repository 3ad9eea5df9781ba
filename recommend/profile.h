// Stage 1 of the pipeline: the listener's taste vector from their history.
#ifndef ENCORE_RECOMMEND_PROFILE_H_
#define ENCORE_RECOMMEND_PROFILE_H_

#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/types/span.h"
#include "index/catalog.h"
#include "storage/history_store.h"

namespace encore::recommend {

struct ProfileOptions {
  // "auto": the ALS fold-in where the space carries ALS parameters, else "average";
  // "average": recency-weighted mean of item vectors; "foldin": always fold in (falls back to
  // "average" where the space has no ALS parameters).
  std::string taste = "auto";
  // Weight halves every half_life_days before the newest event. Default: 30.
  double half_life_days = 30.0;
  // Signed weight per event type. Skips and dislikes pull the taste away.
  float play_weight = 1.0f;
  float like_weight = 2.0f;
  float skip_weight = -0.5f;
  float dislike_weight = -1.0f;
};

// A taste vector in one embedding space plus the items that shaped it.
struct TasteProfile {
  // Empty when the history has no positive signal in the space.
  std::vector<float> vector;
  // Catalog items of every history event (any space, any type): never recommended back.
  absl::flat_hash_set<index::ItemId> seen;
  // Positively weighted items in the space, strongest first (for explanations). At most 32.
  std::vector<index::ItemId> anchors;
  // Genre families of the positively weighted items, by the same weights.
  index::FamilyProfile families;
};

// Each event weighs w = type_weight * count * 2^(-(t_newest - t) / half_life); recency is relative
// to the newest event, so old-but-consistent histories keep full weight. Per item the weights add
// up. "average": sum_i w_i v_i / sum_{w_i>0} w_i. "foldin": the least-squares ALS user factors
// with confidence c_i = 1 + alpha f(|w_i|) and preference 1 (w_i > 0) or 0 (w_i < 0).
// History items missing from the catalog are ignored.
TasteProfile BuildTasteProfile(const index::Catalog& catalog,
                               absl::Span<const storage::HistoryEvent> history,
                               const std::string& space, const ProfileOptions& options);

}  // namespace encore::recommend

#endif  // ENCORE_RECOMMEND_PROFILE_H_
