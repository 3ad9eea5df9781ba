#include "recommend/pipeline.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "index/simd_distance.h"

namespace encore::recommend {
namespace {

using index::Catalog;
using index::ItemId;

constexpr int kMaxSeeds = 50;
constexpr int kMaxExcludes = 1000;
// One widening round at most: each round multiplies k (and the HNSW beam) by 4, and soft-rejected
// candidates backfill anyway, so further rounds cost more than they buy (measured: seeded
// requests ran 4x slower with four rounds, docs/BENCHMARKS.md).
constexpr int kMaxSearchRounds = 2;

// Candidates for one space: index neighbours sorted into passing and soft-rejected ones, with
// exclusions, kinds and hard filters applied.
struct CandidateSets {
  std::vector<Candidate> pass;
  std::vector<Candidate> soft;
};

// Widens the index search until `target` candidates pass or the space is exhausted.
// `params` are the search settings of every round.
absl::Status GatherFromIndex(const Catalog& catalog, const index::EmbeddingSpace& space,
                             absl::Span<const float> query, const index::SearchParams& params,
                             int base_k, int target, const PipelineOptions& options,
                             const absl::flat_hash_set<ItemId>& excluded,
                             const absl::flat_hash_set<int>& kinds, const CandidateFilter& filter,
                             FilterStats* stats, CandidateSets* out) {
  const int64_t n = space.index->size();
  int64_t k = std::min<int64_t>(std::max(base_k, 1), n);
  // Rows seen in earlier rounds (one search returns distinct rows, so only a widened search
  // needs this; it is filled only then).
  absl::flat_hash_set<int64_t> seen;
  std::vector<index::Neighbor> previous;
  for (int round = 0; round < kMaxSearchRounds && k > 0; ++round) {
    for (const auto& h : previous) seen.insert(h.row);
    if (options.on_index_search) options.on_index_search(query, static_cast<int>(k), params);
    const auto started = std::chrono::steady_clock::now();
    ASSIGN_OR_RETURN(auto hits, space.index->Search(query, static_cast<int>(k), params));
    stats->ann_seconds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    ++stats->ann_searches[round == 0 ? 0 : 1];
    // The hits' catalog records lie scattered over the item table: fetch them all before the
    // filters read them, so the cache misses overlap instead of stalling one hit at a time.
    for (const auto& h : hits) __builtin_prefetch(&space.row_to_item[h.row]);
    for (const auto& h : hits) {
      const char* item = reinterpret_cast<const char*>(&catalog.item(space.row_to_item[h.row]));
      __builtin_prefetch(item);
      __builtin_prefetch(item + sizeof(index::Item) - 1);
    }
    for (const auto& h : hits)
      __builtin_prefetch(catalog.item(space.row_to_item[h.row]).families.data());
    for (const auto& h : hits) {
      if (round > 0 && seen.contains(h.row)) continue;
      const ItemId id = space.row_to_item[h.row];
      if (excluded.contains(id) || !kinds.contains(catalog.item(id).kind)) continue;
      switch (filter.Check(id, stats)) {
        case Verdict::kPass:
          out->pass.push_back({id, h.score});
          break;
        case Verdict::kSoft:
          out->soft.push_back({id, h.score, 1.0f});
          break;
        case Verdict::kHard:
          break;
      }
    }
    if (static_cast<int>(out->pass.size()) >= target || k >= n) break;
    previous = std::move(hits);
    k = std::min<int64_t>(k * 4, n);
  }
  return absl::OkStatus();
}

// Rows of `space` to start the index search from: `seeds` and `anchors` alternating (both
// strongest first), at most `limit`, items of other spaces skipped.
std::vector<int64_t> EntryRows(const Catalog& catalog, const index::EmbeddingSpace& space,
                               const std::vector<ItemId>& seeds, const std::vector<ItemId>& anchors,
                               int limit) {
  std::vector<int64_t> rows;
  auto add = [&](ItemId id) {
    const index::Item& item = catalog.item(id);
    if (catalog.spaces()[item.space].get() == &space && item.row >= 0 &&
        std::find(rows.begin(), rows.end(), item.row) == rows.end()) {
      rows.push_back(item.row);
    }
  };
  for (size_t i = 0;
       static_cast<int>(rows.size()) < limit && (i < seeds.size() || i < anchors.size()); ++i) {
    if (i < seeds.size()) add(seeds[i]);
    if (i < anchors.size() && static_cast<int>(rows.size()) < limit) add(anchors[i]);
  }
  return rows;
}

// The settings of a Recommend search for a taste vector (see PipelineOptions::far_cos).
index::SearchParams TasteSearchParams(const PipelineOptions& options,
                                      absl::Span<const int64_t> entries, bool far) {
  index::SearchParams params;
  params.entry_rows = entries;
  params.ef_search = options.ef_search;
  if (far) {
    params.ef_search = std::max(options.ef_search, options.far_ef_search);
    params.upper_ef = options.upper_ef;
  }
  return params;
}

// A pick and why it was made.
struct Pick {
  ItemId id;
  float score;
  std::string reason;
};

// Appends `extra` (already ordered) to `picks` until `count`, honouring the artist cap.
void Backfill(const Catalog& catalog, const std::vector<Candidate>& extra, int count,
              int max_per_artist, ArtistCounts* per_artist, absl::flat_hash_set<ItemId>* chosen,
              std::vector<Pick>* picks) {
  for (const auto& c : extra) {
    if (static_cast<int>(picks->size()) >= count) return;
    const index::Item& item = catalog.item(c.id);
    if (chosen->contains(c.id)) continue;
    if (ArtistCapped(item, max_per_artist, *per_artist)) continue;
    if (!item.artist_id().empty()) ++(*per_artist)[item.artist_id()];
    chosen->insert(c.id);
    // Backfill never outranks what came before it.
    const float score = picks->empty() ? c.score : std::min(c.score, picks->back().score);
    picks->push_back({c.id, score, ""});
  }
}

// Most popular items of `kinds` that pass the hard filters: coherent ones first, then the rest.
std::vector<Candidate> PopularCandidates(const Catalog& catalog,
                                         const std::vector<v1::ItemKind>& kinds, int limit,
                                         const absl::flat_hash_set<ItemId>& excluded,
                                         const CandidateFilter& filter, FilterStats* stats) {
  std::vector<Candidate> pass, soft;
  for (v1::ItemKind kind : kinds) {
    auto popular = catalog.popular(kind);
    const float top = popular.empty() ? 1.0f : std::max(catalog.item(popular[0]).popularity, 1e-6f);
    for (ItemId id : popular) {
      if (static_cast<int>(pass.size()) >= limit) break;
      if (excluded.contains(id)) continue;
      const Verdict v = filter.Check(id, stats);
      if (v == Verdict::kHard) continue;
      (v == Verdict::kPass ? pass : soft).push_back({id, 0.0f, catalog.item(id).popularity / top});
    }
  }
  pass.insert(pass.end(), soft.begin(), soft.end());
  return pass;
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
    if (d > best) best = d, reason = absl::StrCat("seed:", catalog.item(s).id());
  }
  for (ItemId a : anchors) {
    if (catalog.item(a).space != catalog.item(item).space) continue;
    float d = Dot(v, catalog.vector(a));
    if (d > best) best = d, reason = absl::StrCat("similar_to:", catalog.item(a).id());
  }
  return reason;
}

// "because_you_like:<family>": the listener's heaviest family the item shares, if any.
std::string SharedFamily(const Catalog& catalog, const index::Item& item,
                         const index::FamilyProfile& listener) {
  for (const auto& lf : listener) {
    for (const auto& f : item.families) {
      if (f.family == lf.family) {
        return absl::StrCat("because_you_like:", catalog.graph().FamilyName(f.family));
      }
    }
  }
  return "";
}

std::string PopularReason(const Catalog& catalog, const index::Item& item) {
  if (item.families.empty()) return "popular";
  return absl::StrCat("popular_in:", catalog.graph().FamilyName(item.families.front().family));
}

void FillItem(const Catalog& catalog, ItemId id, float score, v1::RecommendedItem* out) {
  const index::Item& item = catalog.item(id);
  out->set_item_id(item.id().data(), item.id().size());
  out->set_kind(item.kind);
  out->set_score(score);
  out->set_artist_id(item.artist_id().data(), item.artist_id().size());
  out->set_name(item.name().data(), item.name().size());
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

bool IsFarQuery(const index::MatrixView& vectors, absl::Span<const float> query,
                absl::Span<const int64_t> rows, float far_cos) {
  const double qq = index::InnerProduct(query.data(), query.data(), query.size());
  if (!(qq > 0)) return false;
  bool any = false;
  double best = -1.0;
  for (int64_t r : rows) {
    const float* x = vectors.row(r);
    const double xx = index::InnerProduct(x, x, query.size());
    if (!(xx > 0)) continue;
    any = true;
    best = std::max(best, index::InnerProduct(query.data(), x, query.size()) / std::sqrt(qq * xx));
  }
  return any && best < far_cos;
}

RecommendPipeline::RecommendPipeline(storage::HistoryStore* history, PipelineOptions options)
    : history_(history), options_(std::move(options)) {
  if (!options_.now_ms) options_.now_ms = common::NowMs;
  if (options_.profile_cache_bytes > 0) {
    profile_cache_ = std::make_unique<ProfileCache>(options_.profile_cache_bytes);
  }
}

absl::StatusOr<std::shared_ptr<const ProfileCache::Entry>> RecommendPipeline::Profiles(
    const Catalog& catalog, const std::string& user_id, const std::vector<std::string>& spaces,
    FilterStats* stats) const {
  ProfileCache::Lookup cached;
  if (profile_cache_ != nullptr) {
    cached = profile_cache_->Get(user_id, catalog, spaces);
    ++stats->profile_cache[cached.complete ? 0 : 1];
    if (cached.complete) return cached.entry;
  }
  ASSIGN_OR_RETURN(std::vector<storage::HistoryEvent> history,
                   history_->Read(user_id, options_.history_limit));
  auto built = std::make_shared<ProfileCache::Entry>();
  built->catalog = &catalog;
  built->catalog_version = catalog.version();
  // Profiles of other spaces cached for this listener stay valid: the history has not changed.
  if (cached.entry != nullptr) built->spaces = cached.entry->spaces;
  for (const std::string& space : spaces) {
    if (built->Find(space) != nullptr) continue;
    built->spaces.emplace_back(space, BuildTasteProfile(catalog, history, space, options_.profile));
  }
  if (profile_cache_ != nullptr) profile_cache_->Put(user_id, cached.generation, built);
  return built;
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
                                          v1::RecommendResponse* response,
                                          FilterStats* stats) const {
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

  const int64_t now_ms =
      request.context().now_ms() > 0 ? request.context().now_ms() : options_.now_ms();
  const FilterOptions filter_options = WithOverrides(options_.filters, request.filters());
  const RankingOptions ranking = WithOverrides(options_.ranking, request.ranking());
  FilterStats local_stats;
  if (stats == nullptr) stats = &local_stats;

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

  // 1. Profile, of each space the catalog has items of.
  std::vector<std::string> served_spaces;
  for (const auto& [space_name, space_kinds] : by_space) {
    if (catalog.space(space_name) != nullptr) served_spaces.push_back(space_name);
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const ProfileCache::Entry> profiles,
                   Profiles(catalog, request.user_id(), served_spaces, stats));

  std::vector<std::vector<Pick>> per_space;
  for (const auto& [space_name, space_kinds] : by_space) {
    const index::EmbeddingSpace* space = catalog.space(space_name);
    if (space == nullptr) continue;  // the catalog has no items of these kinds
    const TasteProfile& profile = *profiles->Find(space_name);
    for (ItemId id : profile.seen) excluded.insert(id);

    // 2. Query and listener families: taste, seeds, or a blend of both.
    std::vector<float> seed_mean;
    std::vector<ItemId> space_seeds;
    std::vector<float> seed_families(catalog.graph().num_families(), 0.0f);
    for (ItemId s : seeds) {
      if (catalog.spaces()[catalog.item(s).space].get() != space) continue;
      auto v = catalog.vector(s);
      if (seed_mean.empty()) seed_mean.assign(v.size(), 0.0f);
      for (size_t j = 0; j < v.size(); ++j) seed_mean[j] += v[j];
      index::AccumulateProfile(catalog.item(s).families, 1.0f, &seed_families);
      space_seeds.push_back(s);
    }
    for (float& x : seed_mean) x /= static_cast<float>(std::max<size_t>(space_seeds.size(), 1));
    std::vector<float> query = profile.vector;
    index::FamilyProfile listener = profile.families;
    if (!seed_mean.empty()) {
      const float w = query.empty() ? 1.0f : options_.seed_weight;
      if (query.empty()) query.assign(seed_mean.size(), 0.0f);
      for (size_t j = 0; j < query.size(); ++j) query[j] = (1.0f - w) * query[j] + w * seed_mean[j];
      std::vector<float> blended(catalog.graph().num_families(), 0.0f);
      index::AccumulateProfile(listener, 1.0f - w, &blended);
      index::AccumulateProfile(index::ToProfile(seed_families), w, &blended);
      listener = index::ToProfile(blended);
    }

    // 3. Filters for this request.
    CandidateFilter::Request fr;
    fr.now_ms = now_ms;
    fr.listener = listener;
    fr.seeds = space_seeds;
    fr.include_tags.assign(request.include_tags().begin(), request.include_tags().end());
    fr.exclude_tags.assign(request.exclude_tags().begin(), request.exclude_tags().end());
    fr.min_tempo = request.min_tempo();
    fr.max_tempo = request.max_tempo();
    ASSIGN_OR_RETURN(CandidateFilter filter,
                     CandidateFilter::Create(catalog, filter_options, std::move(fr)));

    // 4-5. Candidates, ranking with diversity and the artist cap; soft-rejected, then popular
    // items backfill to the count.
    const absl::flat_hash_set<int> kind_set(space_kinds.begin(), space_kinds.end());
    CandidateSets sets;
    if (!query.empty()) {
      const int base_k = count * options_.candidate_multiplier + static_cast<int>(excluded.size());
      // Similarity-only ranking keeps the index order, so `count` passing candidates suffice;
      // other signals need a wider pool to re-rank.
      const bool reranks =
          ranking.tag_affinity != 0 || ranking.popularity != 0 || ranking.diversity > 0;
      const int target = reranks ? count * std::max(options_.rerank_factor, 1) : count;
      const std::vector<int64_t> entries =
          EntryRows(catalog, *space, space_seeds, profile.anchors, options_.entry_points);
      const bool far = IsFarQuery(space->vectors, query, entries, options_.far_cos);
      ++stats->taste_queries[far ? 1 : 0];
      RETURN_IF_ERROR(GatherFromIndex(catalog, *space, query,
                                      TasteSearchParams(options_, entries, far), base_k, target,
                                      options_, excluded, kind_set, filter, stats, &sets));
    }
    ArtistCounts per_artist;
    std::vector<Candidate> ranked = RankAndSelect(catalog, sets.pass, listener, ranking, count,
                                                  options_.max_per_artist, &per_artist);
    std::vector<Pick> picks;
    absl::flat_hash_set<ItemId> chosen;
    for (const auto& c : ranked) {
      picks.push_back({c.id, c.score, ""});
      chosen.insert(c.id);
    }
    const size_t from_index = picks.size();
    Backfill(catalog, sets.soft, count, options_.max_per_artist, &per_artist, &chosen, &picks);
    const size_t from_soft = picks.size();
    if (static_cast<int>(picks.size()) < count) {
      absl::flat_hash_set<ItemId> skip = excluded;
      skip.insert(chosen.begin(), chosen.end());
      Backfill(catalog, PopularCandidates(catalog, space_kinds, 4 * count, skip, filter, stats),
               count, options_.max_per_artist, &per_artist, &chosen, &picks);
    }

    // 6. Explain.
    if (request.explain()) {
      for (size_t i = 0; i < picks.size(); ++i) {
        const index::Item& item = catalog.item(picks[i].id);
        if (i >= from_soft) {
          picks[i].reason = PopularReason(catalog, item);
          continue;
        }
        picks[i].reason = ExplainPick(catalog, picks[i].id, profile.anchors, space_seeds);
        if (i < from_index) {
          const std::string shared = SharedFamily(catalog, item, listener);
          if (!shared.empty()) absl::StrAppend(&picks[i].reason, ";", shared);
        }
      }
    }
    per_space.push_back(std::move(picks));
  }

  // Spaces' scores are not comparable: interleave them in request order.
  for (size_t i = 0; static_cast<int>(response->items_size()) < count; ++i) {
    bool any = false;
    for (const auto& picks : per_space) {
      if (i >= picks.size() || response->items_size() >= count) continue;
      any = true;
      v1::RecommendedItem* out = response->add_items();
      FillItem(catalog, picks[i].id, picks[i].score, out);
      if (request.explain()) {
        for (absl::string_view r : absl::StrSplit(picks[i].reason, ';', absl::SkipEmpty())) {
          out->add_reasons(std::string(r));
        }
      }
    }
    if (!any) break;
  }
  response->set_catalog_version(catalog.version());
  return absl::OkStatus();
}

absl::Status RecommendPipeline::SimilarItems(const Catalog& catalog,
                                             const v1::SimilarItemsRequest& request,
                                             v1::SimilarItemsResponse* response,
                                             FilterStats* stats) const {
  if (request.item_id().empty()) return absl::InvalidArgumentError("item_id is empty");
  ASSIGN_OR_RETURN(const int count, ResolveCount(request.count()));
  ASSIGN_OR_RETURN(ItemId item, FindOrNotFound(catalog, request.item_id(), "item"));
  FilterStats local_stats;
  if (stats == nullptr) stats = &local_stats;
  const index::Item& source = catalog.item(item);
  const index::EmbeddingSpace& space = *catalog.spaces()[source.space];
  // The source item plays the seed: its families, season and sound steer the filters.
  CandidateFilter::Request fr;
  fr.now_ms = request.context().now_ms() > 0 ? request.context().now_ms() : options_.now_ms();
  fr.listener.assign(source.families.begin(), source.families.end());
  fr.seeds = {item};
  ASSIGN_OR_RETURN(CandidateFilter filter,
                   CandidateFilter::Create(
                       catalog, WithOverrides(options_.filters, request.filters()), std::move(fr)));
  const absl::flat_hash_set<ItemId> excluded = {item};
  CandidateSets sets;
  // The item is a node of the graph: the search starts at it.
  const std::vector<int64_t> entries =
      EntryRows(catalog, space, {item}, {}, std::min(options_.entry_points, 1));
  // The item is its own best start: no level-1 search.
  index::SearchParams params;
  params.ef_search = options_.ef_search;
  params.entry_rows = entries;
  RETURN_IF_ERROR(GatherFromIndex(catalog, space, catalog.vector(item), params,
                                  count * options_.candidate_multiplier + 1, count, options_,
                                  excluded, {source.kind}, filter, stats, &sets));
  // Nearest first; no artist cap, so "more by this artist" can show up.
  std::vector<Pick> picks;
  ArtistCounts per_artist;
  absl::flat_hash_set<ItemId> chosen;
  Backfill(catalog, sets.pass, count, 0, &per_artist, &chosen, &picks);
  Backfill(catalog, sets.soft, count, 0, &per_artist, &chosen, &picks);
  std::map<ItemId, float> similarity;
  for (const auto* set : {&sets.pass, &sets.soft}) {
    for (const auto& c : *set) similarity[c.id] = c.similarity;
  }
  for (const auto& pick : picks) {
    v1::RecommendedItem* out = response->add_items();
    FillItem(catalog, pick.id, similarity[pick.id], out);
    if (request.explain()) {
      out->add_reasons(absl::StrCat("similar_to:", source.id()));
      if (!source.artist_id().empty() && catalog.item(pick.id).artist_id() == source.artist_id()) {
        out->add_reasons(absl::StrCat("same_artist:", source.artist_id()));
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
  const int64_t self_row = it->second;
  if (options_.entry_points > 0) params.entry_rows = absl::MakeConstSpan(&self_row, 1);
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
  const absl::Status written = history_->Append(request.user_id(), events);
  // Even a failed write may have reached the store: drop the cached profile either way.
  if (profile_cache_ != nullptr) profile_cache_->Invalidate(request.user_id());
  RETURN_IF_ERROR(written);
  response->set_accepted(n);
  return absl::OkStatus();
}

}  // namespace encore::recommend
