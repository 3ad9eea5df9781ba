// Stages 4-5 of the pipeline: scoring (similarity + tag affinity + popularity prior) and
// selection with MMR diversity and the per-artist cap.
#ifndef ENCORE_RECOMMEND_RANKER_H_
#define ENCORE_RECOMMEND_RANKER_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "encore/v1/recommender.pb.h"
#include "index/catalog.h"

namespace encore::recommend {

struct RankingOptions {
  // score = similarity * s + tag_affinity * t + popularity * p, each term in [0, 1]:
  // similarity min-max normalised over the candidates, tag affinity = family-profile overlap
  // with the listener, popularity = log(1 + pop) / log(1 + the catalog's max).
  // Defaults: 1, 0, 0 (measured: docs/EVALUATION.md).
  float similarity = 1.0f;
  float tag_affinity = 0.0f;
  float popularity = 0.0f;
  // MMR: each pick maximises score - diversity * (max cosine to the items already picked).
  // Default: 0 (off).
  float diversity = 0.0f;
};

RankingOptions WithOverrides(RankingOptions base, const v1::RankingWeights& weights);

struct Candidate {
  index::ItemId id;
  float similarity;       // raw inner product from the index
  float score = 0.0f;     // final, set by Rank
  float affinity = 0.0f;  // tag affinity, set by Rank
};

// Picks up to `count` of `pool` (in any order): scores, then greedy MMR, respecting
// `max_per_artist` (0 = no cap) with the running counts in `per_artist`. Returns the picks in
// pick order.
std::vector<Candidate> RankAndSelect(const index::Catalog& catalog, std::vector<Candidate> pool,
                                     absl::Span<const index::FamilyWeight> listener,
                                     const RankingOptions& options, int count, int max_per_artist,
                                     absl::flat_hash_map<std::string, int>* per_artist);

}  // namespace encore::recommend

#endif  // ENCORE_RECOMMEND_RANKER_H_
