#include "recommend/profile.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"

namespace encore::recommend {
namespace {

float TypeWeight(storage::EventType type, const ProfileOptions& o) {
  switch (type) {
    case storage::EventType::kPlay:
      return o.play_weight;
    case storage::EventType::kLike:
      return o.like_weight;
    case storage::EventType::kSkip:
      return o.skip_weight;
    case storage::EventType::kDislike:
      return o.dislike_weight;
  }
  return 0.0f;
}

}  // namespace

TasteProfile BuildTasteProfile(const index::Catalog& catalog,
                               absl::Span<const storage::HistoryEvent> history,
                               const std::string& space, const ProfileOptions& options) {
  TasteProfile profile;
  const index::EmbeddingSpace* s = catalog.space(space);
  if (s == nullptr || history.empty()) return profile;
  int64_t newest = history.front().timestamp_ms;
  for (const auto& e : history) newest = std::max(newest, e.timestamp_ms);
  const double half_life_ms = std::max(options.half_life_days, 1e-6) * 86400e3;

  // Catalog ids of the events, their item records fetched ahead: the records lie scattered over
  // the item table, and fetching them together overlaps the cache misses.
  std::vector<std::optional<index::ItemId>> ids;
  ids.reserve(history.size());
  for (const auto& e : history) {
    ids.push_back(catalog.Find(e.item_id));
    if (ids.back()) __builtin_prefetch(&catalog.item(*ids.back()));
  }
  for (const auto& id : ids) {
    if (!id) continue;
    const index::Item& item = catalog.item(*id);
    __builtin_prefetch(item.families.data());
    if (item.row >= 0 && catalog.spaces()[item.space].get() == s) {
      __builtin_prefetch(s->vectors.row(item.row));
    }
  }

  // Net weight per item of this space, in first-seen (newest-first) order.
  std::vector<std::pair<index::ItemId, double>> weights;
  absl::flat_hash_map<index::ItemId, size_t> slot;
  for (size_t i = 0; i < history.size(); ++i) {
    const storage::HistoryEvent& e = history[i];
    const std::optional<index::ItemId>& id = ids[i];
    if (!id) continue;
    profile.seen.insert(*id);
    if (catalog.spaces()[catalog.item(*id).space].get() != s) continue;
    const double decay = std::exp2(-static_cast<double>(newest - e.timestamp_ms) / half_life_ms);
    const double w = TypeWeight(e.type, options) * std::max(e.count, 1) * decay;
    if (w == 0.0) continue;
    auto [it, inserted] = slot.emplace(*id, weights.size());
    if (inserted) weights.emplace_back(*id, 0.0);
    weights[it->second].second += w;
  }

  const bool foldin = s->foldin.has_value() && options.taste != "average";
  double positive_mass = 0.0;
  for (const auto& [id, w] : weights) positive_mass += std::max(w, 0.0);
  if (positive_mass <= 0.0) return profile;
  if (foldin) {
    std::vector<index::FoldInTerm> terms;
    terms.reserve(weights.size());
    for (const auto& [id, w] : weights) {
      terms.push_back(
          {catalog.item(id).row, s->foldin->confidence.Of(std::abs(w)), w > 0 ? 1.0f : 0.0f});
    }
    profile.vector = index::FoldIn(s->vectors, s->foldin->gram, terms);
  } else {
    std::vector<double> sum(s->vectors.dim, 0.0);
    for (const auto& [id, w] : weights) {
      auto v = catalog.vector(id);
      for (size_t j = 0; j < v.size(); ++j) sum[j] += w * v[j];
    }
    profile.vector.resize(sum.size());
    for (size_t j = 0; j < sum.size(); ++j) {
      profile.vector[j] = static_cast<float>(sum[j] / positive_mass);
    }
  }
  std::vector<std::pair<double, index::ItemId>> ranked;
  std::vector<float> family_mass(catalog.graph().num_families(), 0.0f);
  for (const auto& [id, w] : weights) {
    if (w <= 0) continue;
    ranked.emplace_back(w, id);
    // Log-damped: one artist played 10,000 times must not define the listener's genres alone.
    index::AccumulateProfile(catalog.item(id).families, static_cast<float>(std::log1p(w)),
                             &family_mass);
  }
  profile.families = index::ToProfile(family_mass);
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  });
  for (size_t i = 0; i < ranked.size() && i < 32; ++i) profile.anchors.push_back(ranked[i].second);
  return profile;
}

}  // namespace encore::recommend
