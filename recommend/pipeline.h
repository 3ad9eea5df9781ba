// The request pipeline: profile -> candidates -> filters -> rank/diversify -> explain.
#ifndef ENCORE_RECOMMEND_PIPELINE_H_
#define ENCORE_RECOMMEND_PIPELINE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "encore/v1/recommender.pb.h"
#include "index/catalog.h"
#include "recommend/filters.h"
#include "recommend/profile.h"
#include "recommend/profile_cache.h"
#include "recommend/ranker.h"
#include "storage/history_store.h"

namespace encore::recommend {

struct PipelineOptions {
  ProfileOptions profile;
  FilterOptions filters;
  RankingOptions ranking;
  // Candidates kept for re-ranking: count * rerank_factor. Default: 3.
  int rerank_factor = 3;
  // Newest history events read per request. Default: 500.
  int history_limit = 500;
  // At most this many items of one artist per response. Default: 2.
  int max_per_artist = 2;
  // ANN over-fetch: k = count * candidate_multiplier + excluded items. Default: 4.
  int candidate_multiplier = 4;
  // HNSW beam width per call; 0 = the index default.
  int ef_search = 0;
  // HNSW entry points: a Recommend search starts from up to this many of the request's seeds and
  // the listener's strongest items (alternating), a SimilarItems search from the item itself,
  // instead of descending from the graph's global entry point (index::SearchParams::entry_rows).
  // 0 = always descend. Default: 4.
  int entry_points = 4;
  // Recommend's searches for far taste vectors: those whose cosine with every one of their entry
  // points is below far_cos (see IsFarQuery) -- listeners spread over several genres, whose best
  // matches lie between the regions their own strongest items start the search in. Those
  // searches use the beam width far_ef_search (never below ef_search) and a level-1 search of width
  // upper_ef that picks the base layer's start among the entry points and the graph's coarse
  // regions (index::SearchParams::upper_ef; 0 = off). Near taste vectors, already found well by
  // the entry points, use ef_search alone. far_cos = -1: no search is far; 1: every search with
  // entry points is. Defaults: 0.85, 224, 64.
  float far_cos = 0.85f;
  int far_ef_search = 224;
  int upper_ef = 64;
  // Share of the query that comes from the seeds when a user has both history and seeds.
  // Default: 0.5.
  float seed_weight = 0.5f;
  // Default count when a request says 0, and the largest allowed. Defaults: 20, 500.
  int default_count = 20;
  int max_count = 500;
  // RecordEvents limits. Defaults: 1000 events; timestamps from 2000-01-01 to now + 1 day.
  int max_events_per_request = 1000;
  int64_t min_timestamp_ms = 946684800000;
  int64_t max_future_ms = 86400000;
  // Clock for timestamp validation (ms since epoch). Default: wall clock.
  std::function<int64_t()> now_ms;
  // Bound, in estimated bytes, of the cache of listeners' taste profiles (ProfileCache); 0 = no
  // cache. With a cache, every write to `history` after construction must go through
  // RecordEvents, which invalidates the listener's entry. Default: 0 (the server sets 16 MiB).
  int64_t profile_cache_bytes = 0;
  // Called with every index search the pipeline issues (query, k, parameters), before it runs;
  // lets a benchmark replay exactly the serving searches. Default: none. Must be thread-safe.
  std::function<void(absl::Span<const float> query, int k, const index::SearchParams& params)>
      on_index_search;
};

// Whether `query` is far from the rows its search starts from: its largest cosine with any of
// `rows` (rows of `vectors`, of query.size() floats) is below `far_cos`. Never far for a zero
// query or without a row of non-zero length.
bool IsFarQuery(const index::MatrixView& vectors, absl::Span<const float> query,
                absl::Span<const int64_t> rows, float far_cos);

// Runs every RPC's logic against one pinned catalog. Holds no per-request state.
// Thread safety: all methods are const and thread-safe. REQUIRES: `history` outlives this.
// Errors: INVALID_ARGUMENT naming the field for bad input (nothing is written), NOT_FOUND naming
// the id for unknown items/artists/seeds, UNAVAILABLE when the history store fails.
class RecommendPipeline {
 public:
  RecommendPipeline(storage::HistoryStore* history, PipelineOptions options);

  // `stats` (optional) receives the candidates each filter removed.
  absl::Status Recommend(const index::Catalog& catalog, const v1::RecommendRequest& request,
                         v1::RecommendResponse* response, FilterStats* stats = nullptr) const;
  absl::Status SimilarItems(const index::Catalog& catalog, const v1::SimilarItemsRequest& request,
                            v1::SimilarItemsResponse* response, FilterStats* stats = nullptr) const;
  absl::Status SimilarArtists(const index::Catalog& catalog,
                              const v1::SimilarArtistsRequest& request,
                              v1::SimilarArtistsResponse* response) const;
  // Validates every event, then appends all of them in one atomic write.
  absl::Status RecordEvents(const index::Catalog& catalog, const v1::RecordEventsRequest& request,
                            v1::RecordEventsResponse* response) const;

  const PipelineOptions& options() const { return options_; }
  // The taste-profile cache, or null when PipelineOptions::profile_cache_bytes is 0.
  const ProfileCache* profile_cache() const { return profile_cache_.get(); }

 private:
  absl::StatusOr<int> ResolveCount(int32_t requested) const;

  // The listener's profiles for the spaces in `spaces` (all present in `catalog`): from the
  // cache when it holds them all, else built from one history read (and cached).
  absl::StatusOr<std::shared_ptr<const ProfileCache::Entry>> Profiles(
      const index::Catalog& catalog, const std::string& user_id,
      const std::vector<std::string>& spaces, FilterStats* stats) const;

  storage::HistoryStore* history_;
  PipelineOptions options_;
  std::unique_ptr<ProfileCache> profile_cache_;
};

}  // namespace encore::recommend

#endif  // ENCORE_RECOMMEND_PIPELINE_H_
