// A bounded cache of listeners' taste profiles, so a returning listener's Recommend skips the
// history read and the profile build (RocksDB seek, item-id lookups, decay weights, families).
//
// A profile depends only on the listener's history, the catalog and the pipeline's fixed
// options (recency is relative to the newest event, not to the request's clock), so a cached
// one is exact until the listener's history changes or another catalog serves. Entries carry
// their catalog's identity and version and are ignored for any other catalog.
#ifndef ENCORE_RECOMMEND_PROFILE_CACHE_H_
#define ENCORE_RECOMMEND_PROFILE_CACHE_H_

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "index/catalog.h"
#include "recommend/profile.h"

namespace encore::recommend {

// Sharded LRU keyed by user id, bounded by an estimate of the bytes it holds.
// Consistency: every write to a cached listener's history must be followed by Invalidate
// (RecommendPipeline::RecordEvents does this). An Insert prepared from a history read that raced
// with such a write is dropped (see Lookup's generation).
// Thread safety: all methods are thread-safe.
class ProfileCache {
 public:
  // One listener's profiles for one catalog, by space name.
  struct Entry {
    const index::Catalog* catalog = nullptr;
    std::string catalog_version;
    std::vector<std::pair<std::string, TasteProfile>> spaces;

    // The profile of `space`, or null when this entry has none.
    const TasteProfile* Find(absl::string_view space) const;
    // Whether the entry was built against `catalog`.
    bool IsFor(const index::Catalog& catalog) const;
  };

  struct Lookup {
    // The listener's entry for the catalog, or null (absent, or built against another catalog).
    std::shared_ptr<const Entry> entry;
    // Whether `entry` holds a profile of every space asked for (a hit).
    bool complete = false;
    // Pass to Insert: it stores nothing if the listener's shard was invalidated since.
    uint64_t generation = 0;
  };

  struct Stats {
    int64_t hits = 0;
    int64_t misses = 0;
    int64_t evictions = 0;
    int64_t entries = 0;
    int64_t bytes = 0;
  };

  // `max_bytes` > 0 bounds the estimated bytes held; `shards` >= 1.
  explicit ProfileCache(int64_t max_bytes, int shards = 32);
  ProfileCache(const ProfileCache&) = delete;
  ProfileCache& operator=(const ProfileCache&) = delete;

  // The listener's entry for `catalog`, marked recently used. A hit when it holds a profile of
  // each of `spaces`, else a miss (an entry missing some spaces is still returned, so the caller
  // can keep its profiles and add the others).
  Lookup Get(absl::string_view user_id, const index::Catalog& catalog,
             absl::Span<const std::string> spaces);
  // Stores `entry` for the listener unless their shard was invalidated after the Get that
  // returned `generation`; evicts least recently used entries to stay within the bound. An entry
  // larger than a shard's share of the bound is not stored.
  void Put(absl::string_view user_id, uint64_t generation, std::shared_ptr<const Entry> entry);
  // Drops the listener's entry. Call after every write to their history.
  void Invalidate(absl::string_view user_id);

  Stats stats() const;
  int64_t max_bytes() const { return max_bytes_; }

  // Estimated bytes an entry holds for `user_id` (what the bound counts).
  static int64_t EntryBytes(absl::string_view user_id, const Entry& entry);

 private:
  struct Node {
    std::string user_id;
    std::shared_ptr<const Entry> entry;
    int64_t bytes = 0;
  };
  struct Shard {
    absl::Mutex mu;
    uint64_t generation ABSL_GUARDED_BY(mu) = 0;
    int64_t bytes ABSL_GUARDED_BY(mu) = 0;
    // Most recently used first. Keys view the nodes' own user ids (list nodes never move).
    std::list<Node> lru ABSL_GUARDED_BY(mu);
    absl::flat_hash_map<absl::string_view, std::list<Node>::iterator> by_user ABSL_GUARDED_BY(mu);
  };

  Shard& ShardOf(absl::string_view user_id);
  // Removes `it` from `shard`.
  void Erase(Shard& shard, std::list<Node>::iterator it) ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);

  const int64_t max_bytes_;
  const int64_t shard_bytes_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<int64_t> hits_{0}, misses_{0}, evictions_{0}, entries_{0}, bytes_{0};
};

}  // namespace encore::recommend

#endif  // ENCORE_RECOMMEND_PROFILE_CACHE_H_
