#include "recommend/pipeline.h"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/status_macros.h"

namespace encore::recommend {
namespace {

using index::Catalog;
using index::ItemId;

constexpr int kMaxSeeds = 50;
constexpr int kMaxExcludes = 1000;
constexpr int kMaxSearchRounds = 4;

// Accumulates results in order, enforcing exclusions, kinds and the per-artist cap.
class Selector {
 public:
  Selector(const Catalog& catalog, int count, int max_per_artist,
           const absl::flat_hash_set<ItemId>* excluded, absl::flat_hash_set<int> kinds)
      : catalog_(catalog),
        count_(count),
        max_per_artist_(max_per_artist),
        excluded_(excluded),
        kinds_(std::move(kinds)) {}

  // Adds `id` unless it is filtered out; returns whether it was added.
  bool TryAdd(ItemId id, float score, std::string reason) {
    if (full() || excluded_->contains(id) || chosen_.contains(id)) return false;
    const index::Item& item = catalog_.item(id);
    if (!kinds_.contains(item.kind)) return false;
    if (!item.artist_id.empty() && max_per_artist_ > 0 &&
        per_artist_[item.artist_id] >= max_per_artist_) {
      return false;
    }
    if (!item.artist_id.empty()) ++per_artist_[item.artist_id];
    chosen_.insert(id);
    picks_.push_back({id, score, std::move(reason)});
    return true;
  }
  bool full() const { return static_cast<int>(picks_.size()) >= count_; }

  struct Pick {
    ItemId id;
    float score;
    std::string reason;
  };
  std::vector<Pick>& picks() { return picks_; }

 private:
  const Catalog& catalog_;
  const int count_;
  const int max_per_artist_;
  const absl::flat_hash_set<ItemId>* excluded_;
  const absl::flat_hash_set<int> kinds_;
  absl::flat_hash_set<ItemId> chosen_;
  absl::flat_hash_map<std::string, int> per_artist_;
  std::vector<Pick> picks_;
};

// Fills `selector` with the nearest items to `query` in `space`, widening the search until it is
// full or the whole space has been searched.
absl::Status FillFromIndex(const index::EmbeddingSpace& space, absl::Span<const float> query,
                           int base_k, int ef_search, Selector* selector) {
  const int64_t n = space.index->size();
  int64_t k = std::min<int64_t>(std::max(base_k, 1), n);
  index::SearchParams params;
  params.ef_search = ef_search;
  for (int round = 0; round < kMaxSearchRounds && k > 0; ++round) {
    ASSIGN_OR_RETURN(auto hits, space.index->Search(query, static_cast<int>(k), params));
    for (const auto& h : hits) {
      if (selector->full()) break;
      selector->TryAdd(space.row_to_item[h.row], h.score, "");
    }
    if (selector->full() || k >= n) break;
    k = std::min<int64_t>(k * 4, n);
  }
  return absl::OkStatus();
}

// Fills `selector` from the most popular items of `kinds`, scored in (0, 1].
void FillFromPopular(const Catalog& catalog, const std::vector<v1::ItemKind>& kinds,
                     Selector* selector) {
  for (v1::ItemKind kind : kinds) {
    auto popular = catalog.popular(kind);
    const float top = popular.empty() ? 1.0f : std::max(catalog.item(popular[0]).popularity, 1e-6f);
    for (ItemId id : popular) {
      if (selector->full()) return;
      selector->TryAdd(id, catalog.item(id).popularity / top, "popular");
    }
  }
}

float Dot(absl::Span<const float> a, absl::Span<const float> b) {
  float s = 0.0f;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// "similar_to:<id>" for the history anchor (or "seed:<id>") closest to `item`.
std::string ExplainPick(const Catalog& catalog, ItemId item, const std::vector<ItemId>& anchors,
                        const std::vector<ItemId>& seeds) {
  auto v = catalog.vector(item);
  float best = -1e30f;
  std::string reason = "taste";
  for (ItemId s : seeds) {
    if (catalog.item(s).space != catalog.item(item).space) continue;
    float d = Dot(v, catalog.vector(s));
    if (d > best) best = d, reason = absl::StrCat("seed:", catalog.item(s).id);
  }
  for (ItemId a : anchors) {
    if (catalog.item(a).space != catalog.item(item).space) continue;
    float d = Dot(v, catalog.vector(a));
    if (d > best) best = d, reason = absl::StrCat("similar_to:", catalog.item(a).id);
  }
  return reason;
}

void FillItem(const Catalog& catalog, ItemId id, float score, v1::RecommendedItem* out) {
  const index::Item& item = catalog.item(id);
  out->set_item_id(item.id);
  out->set_kind(item.kind);
  out->set_score(score);
  out->set_artist_id(item.artist_id);
  out->set_name(item.name);
}

absl::Status ValidateKinds(const google::protobuf::RepeatedField<int>& kinds,
                           std::vector<v1::ItemKind>* out) {
  for (int i = 0; i < kinds.size(); ++i) {
    const int k = kinds[i];
    if (k == v1::ITEM_KIND_UNSPECIFIED || !v1::ItemKind_IsValid(k)) {
      return absl::InvalidArgumentError(absl::StrCat("kinds[", i, "] is not a valid ItemKind"));
    }
    if (std::find(out->begin(), out->end(), k) == out->end()) {
      out->push_back(static_cast<v1::ItemKind>(k));
    }
  }
  if (out->empty()) out->push_back(v1::TRACK);
  return absl::OkStatus();
}

absl::StatusOr<ItemId> FindOrNotFound(const Catalog& catalog, const std::string& id,
                                      absl::string_view what) {
  auto found = catalog.Find(id);
  if (!found) {
    return absl::NotFoundError(
        absl::StrCat(what, " '", id, "' not found in catalog version ", catalog.version()));
  }
  return *found;
}

}  // namespace

RecommendPipeline::RecommendPipeline(storage::HistoryStore* history, PipelineOptions options)
    : history_(history), options_(std::move(options)) {
  if (!options_.now_ms) options_.now_ms = common::NowMs;
}

absl::StatusOr<int> RecommendPipeline::ResolveCount(int32_t requested) const {
  if (requested == 0) return options_.default_count;
  if (requested < 0 || requested > options_.max_count) {
    return absl::InvalidArgumentError(absl::StrCat("count must be in 1..", options_.max_count,
                                                   " (0 = default ", options_.default_count,
                                                   "), got ", requested));
  }
  return requested;
}

absl::Status RecommendPipeline::Recommend(const Catalog& catalog,
                                          const v1::RecommendRequest& request,
                                          v1::RecommendResponse* response) const {
  // Validate everything before doing any work.
  if (auto s = storage::ValidateUserId(request.user_id()); !s.ok()) {
    return absl::InvalidArgumentError(s.message());
  }
  ASSIGN_OR_RETURN(const int count, ResolveCount(request.count()));
  std::vector<v1::ItemKind> kinds;
  RETURN_IF_ERROR(ValidateKinds(request.kinds(), &kinds));
  if (request.seed_item_ids_size() > kMaxSeeds) {
    return absl::InvalidArgumentError(absl::StrCat("seed_item_ids has more than ", kMaxSeeds));
  }
  if (request.exclude_item_ids_size() > kMaxExcludes) {
    return absl::InvalidArgumentError(
        absl::StrCat("exclude_item_ids has more than ", kMaxExcludes));
  }
  std::vector<ItemId> seeds;
  for (int i = 0; i < request.seed_item_ids_size(); ++i) {
    const std::string& id = request.seed_item_ids(i);
    if (id.empty())
      return absl::InvalidArgumentError(absl::StrCat("seed_item_ids[", i, "] is empty"));
    ASSIGN_OR_RETURN(ItemId seed, FindOrNotFound(catalog, id, "seed item"));
    seeds.push_back(seed);
  }

  // 1. Profile.
  ASSIGN_OR_RETURN(std::vector<storage::HistoryEvent> history,
                   history_->Read(request.user_id(), options_.history_limit));
  absl::flat_hash_set<ItemId> excluded(seeds.begin(), seeds.end());
  for (const auto& id : request.exclude_item_ids()) {
    if (auto found = catalog.Find(id)) excluded.insert(*found);
  }

  // Kinds grouped by space, in request order.
  std::vector<std::pair<std::string, std::vector<v1::ItemKind>>> by_space;
  for (v1::ItemKind k : kinds) {
    const std::string space = index::SpaceOfKind(k);
    auto it = std::find_if(by_space.begin(), by_space.end(),
                           [&](const auto& p) { return p.first == space; });
    if (it == by_space.end()) {
      by_space.push_back({space, {k}});
    } else {
      it->second.push_back(k);
    }
  }

  std::vector<std::vector<Selector::Pick>> per_space;
  for (const auto& [space_name, space_kinds] : by_space) {
    const index::EmbeddingSpace* space = catalog.space(space_name);
    if (space == nullptr) continue;  // the catalog has no items of these kinds
    TasteProfile profile = BuildTasteProfile(catalog, history, space_name, options_.profile);
    for (ItemId id : profile.seen) excluded.insert(id);

    // 2. Query: taste, seeds, or a blend of both.
    std::vector<float> seed_mean;
    std::vector<ItemId> space_seeds;
    for (ItemId s : seeds) {
      if (catalog.spaces()[catalog.item(s).space].get() != space) continue;
      auto v = catalog.vector(s);
      if (seed_mean.empty()) seed_mean.assign(v.size(), 0.0f);
      for (size_t j = 0; j < v.size(); ++j) seed_mean[j] += v[j];
      space_seeds.push_back(s);
    }
    for (float& x : seed_mean) x /= static_cast<float>(std::max<size_t>(space_seeds.size(), 1));
    std::vector<float> query = profile.vector;
    if (!seed_mean.empty()) {
      if (query.empty()) {
        query = seed_mean;
      } else {
        const float w = options_.seed_weight;
        for (size_t j = 0; j < query.size(); ++j) {
          query[j] = (1.0f - w) * query[j] + w * seed_mean[j];
        }
      }
    }

    // 3-5. Candidates, filters (seen, excluded, kinds), per-artist cap; popular backfill.
    absl::flat_hash_set<int> kind_set(space_kinds.begin(), space_kinds.end());
    Selector selector(catalog, count, options_.max_per_artist, &excluded, kind_set);
    if (!query.empty()) {
      const int base_k = count * options_.candidate_multiplier + static_cast<int>(excluded.size());
      RETURN_IF_ERROR(FillFromIndex(*space, query, base_k, options_.ef_search, &selector));
    }
    FillFromPopular(catalog, space_kinds, &selector);

    // 6. Explain.
    if (request.explain()) {
      for (auto& pick : selector.picks()) {
        if (pick.reason.empty()) {
          pick.reason = ExplainPick(catalog, pick.id, profile.anchors, space_seeds);
        }
      }
    }
    per_space.push_back(std::move(selector.picks()));
  }

  // Spaces' scores are not comparable: interleave them in request order.
  for (size_t i = 0; static_cast<int>(response->items_size()) < count; ++i) {
    bool any = false;
    for (const auto& picks : per_space) {
      if (i >= picks.size() || response->items_size() >= count) continue;
      any = true;
      v1::RecommendedItem* out = response->add_items();
      FillItem(catalog, picks[i].id, picks[i].score, out);
      if (request.explain()) out->add_reasons(picks[i].reason);
    }
    if (!any) break;
  }
  response->set_catalog_version(catalog.version());
  return absl::OkStatus();
}

absl::Status RecommendPipeline::SimilarItems(const Catalog& catalog,
                                             const v1::SimilarItemsRequest& request,
                                             v1::SimilarItemsResponse* response) const {
  if (request.item_id().empty()) return absl::InvalidArgumentError("item_id is empty");
  ASSIGN_OR_RETURN(const int count, ResolveCount(request.count()));
  ASSIGN_OR_RETURN(ItemId item, FindOrNotFound(catalog, request.item_id(), "item"));
  const index::Item& source = catalog.item(item);
  const index::EmbeddingSpace& space = *catalog.spaces()[source.space];
  absl::flat_hash_set<ItemId> excluded = {item};
  // Same kind only; no artist cap, so "more by this artist" can show up.
  Selector selector(catalog, count, /*max_per_artist=*/0, &excluded, {source.kind});
  RETURN_IF_ERROR(FillFromIndex(space, catalog.vector(item),
                                count * options_.candidate_multiplier + 1, options_.ef_search,
                                &selector));
  for (const auto& pick : selector.picks()) {
    v1::RecommendedItem* out = response->add_items();
    FillItem(catalog, pick.id, pick.score, out);
    if (request.explain()) {
      out->add_reasons(absl::StrCat("similar_to:", source.id));
      if (!source.artist_id.empty() && catalog.item(pick.id).artist_id == source.artist_id) {
        out->add_reasons(absl::StrCat("same_artist:", source.artist_id));
      }
    }
  }
  response->set_catalog_version(catalog.version());
  return absl::OkStatus();
}

absl::Status RecommendPipeline::SimilarArtists(const Catalog& catalog,
                                               const v1::SimilarArtistsRequest& request,
                                               v1::SimilarArtistsResponse* response) const {
  if (request.artist_id().empty()) return absl::InvalidArgumentError("artist_id is empty");
  ASSIGN_OR_RETURN(const int count, ResolveCount(request.count()));
  const index::ArtistTable& artists = catalog.artists();
  auto it = artists.by_id.find(request.artist_id());
  if (it == artists.by_id.end() || artists.index == nullptr) {
    return absl::NotFoundError(absl::StrCat("artist '", request.artist_id(),
                                            "' not found in catalog version ", catalog.version()));
  }
  index::SearchParams params;
  params.ef_search = options_.ef_search;
  ASSIGN_OR_RETURN(auto hits,
                   artists.index->Search(artists.vectors.row_span(it->second), count + 1, params));
  for (const auto& h : hits) {
    if (h.row == it->second) continue;
    if (response->artists_size() >= count) break;
    const index::Artist& a = artists.artists[h.row];
    v1::RecommendedItem* out = response->add_artists();
    out->set_item_id(a.id);
    out->set_kind(v1::ARTIST);
    out->set_score(h.score);
    out->set_artist_id(a.id);
    out->set_name(a.name);
  }
  response->set_catalog_version(catalog.version());
  return absl::OkStatus();
}

absl::Status RecommendPipeline::RecordEvents(const Catalog& catalog,
                                             const v1::RecordEventsRequest& request,
                                             v1::RecordEventsResponse* response) const {
  if (auto s = storage::ValidateUserId(request.user_id()); !s.ok()) {
    return absl::InvalidArgumentError(s.message());
  }
  const int n = request.events_size();
  if (n == 0) return absl::InvalidArgumentError("events is empty");
  if (n > options_.max_events_per_request) {
    return absl::InvalidArgumentError(absl::StrCat("events has ", n, " entries, at most ",
                                                   options_.max_events_per_request, " allowed"));
  }
  const int64_t latest = options_.now_ms() + options_.max_future_ms;
  std::vector<storage::HistoryEvent> events;
  events.reserve(n);
  for (int i = 0; i < n; ++i) {
    const v1::ListenEvent& e = request.events(i);
    const std::string field = absl::StrCat("events[", i, "]");
    if (e.item_id().empty()) return absl::InvalidArgumentError(field + ".item_id is empty");
    if (!catalog.Find(e.item_id())) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ".item_id '", e.item_id(), "' is not in catalog version ", catalog.version()));
    }
    if (e.type() == v1::EVENT_TYPE_UNSPECIFIED || !v1::EventType_IsValid(e.type())) {
      return absl::InvalidArgumentError(field + ".type must be PLAY, SKIP, LIKE or DISLIKE");
    }
    if (e.timestamp_ms() < options_.min_timestamp_ms || e.timestamp_ms() > latest) {
      return absl::InvalidArgumentError(absl::StrCat(field, ".timestamp_ms ", e.timestamp_ms(),
                                                     " is outside [", options_.min_timestamp_ms,
                                                     ", now + ", options_.max_future_ms, "ms]"));
    }
    if (e.played_ms() < 0 || e.played_ms() > 86400000) {
      return absl::InvalidArgumentError(field + ".played_ms must be in 0..86400000");
    }
    events.push_back(
        {e.item_id(), static_cast<storage::EventType>(e.type()), e.timestamp_ms(), e.played_ms()});
  }
  RETURN_IF_ERROR(history_->Append(request.user_id(), events));
  response->set_accepted(n);
  return absl::OkStatus();
}

}  // namespace encore::recommend
