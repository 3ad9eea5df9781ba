// Stages 4-5 of the pipeline: scoring (similarity + tag affinity + popularity prior) and
// selection with MMR diversity and the per-artist cap.
#ifndef ENCORE_RECOMMEND_RANKER_H_
#define ENCORE_RECOMMEND_RANKER_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
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

// Items picked so far per artist id. The keys view the catalog's strings, so a map lives no
// longer than the catalog it was filled from.
using ArtistCounts = absl::flat_hash_map<absl::string_view, int>;

// Whether `item` may not be added: its artist already has `max_per_artist` (0 = no cap) picks.
bool ArtistCapped(const index::Item& item, int max_per_artist, const ArtistCounts& per_artist);

// Picks up to `count` of `pool` (in any order): scores, then greedy MMR, respecting
// `max_per_artist` (0 = no cap) with the running counts in `per_artist`. Returns the picks in
// pick order.
std::vector<Candidate> RankAndSelect(const index::Catalog& catalog, std::vector<Candidate> pool,
                                     absl::Span<const index::FamilyWeight> listener,
                                     const RankingOptions& options, int count, int max_per_artist,
                                     ArtistCounts* per_artist);

}  // namespace encore::recommend

#endif  // ENCORE_RECOMMEND_RANKER_H_
