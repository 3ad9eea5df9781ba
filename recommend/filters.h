// Stage 3 of the pipeline: knowledge-graph coherence, seasonal, sonic and request-level filters.
#ifndef ENCORE_RECOMMEND_FILTERS_H_
#define ENCORE_RECOMMEND_FILTERS_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "absl/status/statusor.h"
#include "encore/v1/recommender.pb.h"
#include "index/catalog.h"

namespace encore::recommend {

struct FilterOptions {
  // Coherence: a candidate fits when its top family is among the listener's top
  // `listener_top_families` families, or its profile overlaps the listener's by at least
  // `min_overlap` (histogram intersection). Items without tags always fit.
  bool coherence = true;
  int listener_top_families = 3;
  float min_overlap = 0.4f;
  // Seasonal: items dominated by a seasonal family are dropped outside its window unless a seed
  // or an include tag asks for that family.
  bool seasonal = true;
  // Sonic (seeded requests only): tempo within tempo_band BPM and energy within energy_band of
  // the seeds' means, where both sides are known.
  bool sonic = true;
  float tempo_band = 20.0f;
  float energy_band = 0.3f;
};

enum FilterKind { kCoherence = 0, kSeasonal, kSonic, kTags, kTempo, kNumFilterKinds };
// "coherence", "seasonal", "sonic", "tags", "tempo".
const char* FilterName(int kind);

// Candidates removed per filter during one request.
struct FilterStats {
  std::array<int64_t, kNumFilterKinds> removed{};
  // Index searches run for the request: [0] first searches, [1] widened re-searches (taken when
  // too few candidates passed the filters).
  std::array<int64_t, 2> ann_searches{};
  // Recommend's taste-vector searches: [0] near, [1] far from their entry points
  // (PipelineOptions::far_cos).
  std::array<int64_t, 2> taste_queries{};
  // Recommend's taste-profile cache (PipelineOptions::profile_cache_bytes): [0] hits, [1] misses.
  std::array<int64_t, 2> profile_cache{};
  // Wall time of each of those searches, in order.
  absl::InlinedVector<double, 2> ann_seconds;
};

// Hard rejections are final; soft ones (coherence, sonic) may come back as backfill so a
// response always reaches its count when enough items exist.
enum class Verdict { kPass, kSoft, kHard };

// The filters of one request, prepared once. Thread-compatible (one per request).
class CandidateFilter {
 public:
  struct Request {
    int64_t now_ms = 0;
    index::FamilyProfile listener;  // listener's (or seeds') families; may be empty
    std::vector<index::ItemId> seeds;
    std::vector<std::string> include_tags;  // raw; normalised here
    std::vector<std::string> exclude_tags;
    float min_tempo = 0.0f;
    float max_tempo = 0.0f;
  };

  // INVALID_ARGUMENT naming include_tags[i] / exclude_tags[i] for tags the catalog's taxonomy
  // does not know, or a bad tempo range.
  static absl::StatusOr<CandidateFilter> Create(const index::Catalog& catalog,
                                                const FilterOptions& options, Request request);

  // Classifies an item; counts rejections in `stats`.
  Verdict Check(index::ItemId id, FilterStats* stats) const;

  // Whether the item fits the listener's families (the coherence rule alone).
  bool Coherent(const index::Item& item) const;

 private:
  CandidateFilter(const index::Catalog& catalog, const FilterOptions& options)
      : catalog_(&catalog), options_(options) {}

  const index::Catalog* catalog_;
  FilterOptions options_;
  int64_t now_ms_ = 0;
  index::FamilyProfile listener_;
  absl::flat_hash_set<int32_t> listener_top_;
  std::vector<int32_t> include_tags_;
  std::vector<int32_t> exclude_tags_;
  absl::flat_hash_set<int32_t> allowed_seasonal_;
  float min_tempo_ = 0.0f, max_tempo_ = 0.0f;
  std::optional<float> seed_tempo_, seed_energy_;
};

// Applies a request's FilterSwitches over the server's options.
FilterOptions WithOverrides(FilterOptions base, const v1::FilterSwitches& switches);

}  // namespace encore::recommend

#endif  // ENCORE_RECOMMEND_FILTERS_H_
