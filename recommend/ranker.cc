#include "recommend/ranker.h"

#include <algorithm>
#include <cmath>

namespace encore::recommend {

RankingOptions WithOverrides(RankingOptions base, const v1::RankingWeights& w) {
  if (w.has_similarity()) base.similarity = w.similarity();
  if (w.has_tag_affinity()) base.tag_affinity = w.tag_affinity();
  if (w.has_popularity()) base.popularity = w.popularity();
  if (w.has_diversity()) base.diversity = w.diversity();
  return base;
}

bool ArtistCapped(const index::Item& item, int max_per_artist, const ArtistCounts& per_artist) {
  if (max_per_artist <= 0 || item.artist_id().empty()) return false;
  auto it = per_artist.find(item.artist_id());
  return it != per_artist.end() && it->second >= max_per_artist;
}

std::vector<Candidate> RankAndSelect(const index::Catalog& catalog, std::vector<Candidate> pool,
                                     absl::Span<const index::FamilyWeight> listener,
                                     const RankingOptions& options, int count, int max_per_artist,
                                     ArtistCounts* per_artist) {
  std::vector<Candidate> picks;
  if (pool.empty() || count <= 0) return picks;
  float lo = pool[0].similarity, hi = pool[0].similarity;
  for (const auto& c : pool) lo = std::min(lo, c.similarity), hi = std::max(hi, c.similarity);
  const float pop_norm = std::log1p(std::max(catalog.max_popularity(), 1.0f));
  for (auto& c : pool) {
    const index::Item& item = catalog.item(c.id);
    const float sim = hi > lo ? (c.similarity - lo) / (hi - lo) : 1.0f;
    c.affinity = listener.empty() ? 0.0f : index::ProfileOverlap(item.families, listener);
    const float pop = std::log1p(std::max(item.popularity, 0.0f)) / pop_norm;
    c.score =
        options.similarity * sim + options.tag_affinity * c.affinity + options.popularity * pop;
  }
  std::stable_sort(pool.begin(), pool.end(),
                   [](const Candidate& a, const Candidate& b) { return a.score > b.score; });
  auto capped = [&](const index::Item& item) {
    return ArtistCapped(item, max_per_artist, *per_artist);
  };
  auto take = [&](size_t i) {
    const index::Item& item = catalog.item(pool[i].id);
    if (!item.artist_id().empty()) ++(*per_artist)[item.artist_id()];
    picks.push_back(pool[i]);
  };
  if (options.diversity <= 0) {
    for (size_t i = 0; i < pool.size() && static_cast<int>(picks.size()) < count; ++i) {
      if (!capped(catalog.item(pool[i].id))) take(i);
    }
    return picks;
  }
  // MMR over unit vectors.
  auto unit = [&](index::ItemId id) {
    auto v = catalog.vector(id);
    std::vector<float> u(v.begin(), v.end());
    float n = 0;
    for (float x : u) n += x * x;
    n = n > 0 ? 1.0f / std::sqrt(n) : 0.0f;
    for (float& x : u) x *= n;
    return u;
  };
  std::vector<std::vector<float>> units;
  units.reserve(pool.size());
  for (const auto& c : pool) units.push_back(unit(c.id));
  std::vector<float> redundancy(pool.size(), 0.0f);
  std::vector<char> used(pool.size(), 0);
  while (static_cast<int>(picks.size()) < count) {
    int best = -1;
    float best_value = 0;
    for (size_t i = 0; i < pool.size(); ++i) {
      if (used[i] || capped(catalog.item(pool[i].id))) continue;
      const float value = pool[i].score - options.diversity * redundancy[i];
      if (best < 0 || value > best_value) best = static_cast<int>(i), best_value = value;
    }
    if (best < 0) break;
    used[best] = 1;
    take(best);
    for (size_t i = 0; i < pool.size(); ++i) {
      if (used[i]) continue;
      float dot = 0;
      for (size_t j = 0; j < units[i].size(); ++j) dot += units[i][j] * units[best][j];
      redundancy[i] = std::max(redundancy[i], dot);
    }
  }
  return picks;
}

}  // namespace encore::recommend
