#include "recommend/profile_cache.h"

#include <algorithm>
#include <functional>
#include <string_view>

namespace encore::recommend {

const TasteProfile* ProfileCache::Entry::Find(absl::string_view space) const {
  for (const auto& [name, profile] : spaces) {
    if (name == space) return &profile;
  }
  return nullptr;
}

bool ProfileCache::Entry::IsFor(const index::Catalog& c) const {
  return catalog == &c && catalog_version == c.version();
}

int64_t ProfileCache::EntryBytes(absl::string_view user_id, const Entry& entry) {
  // The node, its list links and hash slot, the shared_ptr's control block with the entry.
  int64_t bytes = static_cast<int64_t>(
      sizeof(Node) + 2 * sizeof(void*) + sizeof(absl::string_view) + sizeof(void*) + 1 +
      sizeof(Entry) + 2 * sizeof(void*) + user_id.size() + entry.catalog_version.capacity());
  for (const auto& [name, p] : entry.spaces) {
    bytes += static_cast<int64_t>(
        sizeof(std::pair<std::string, TasteProfile>) + name.capacity() +
        p.vector.capacity() * sizeof(float) + p.anchors.capacity() * sizeof(index::ItemId) +
        p.families.capacity() * sizeof(index::FamilyWeight) +
        // flat_hash_set: one slot and one control byte per bucket, plus a group of control bytes.
        p.seen.bucket_count() * (sizeof(index::ItemId) + 1) + 16);
  }
  return bytes;
}

ProfileCache::ProfileCache(int64_t max_bytes, int shards)
    : max_bytes_(std::max<int64_t>(max_bytes, 0)), shard_bytes_(max_bytes_ / std::max(shards, 1)) {
  for (int i = 0; i < std::max(shards, 1); ++i) shards_.push_back(std::make_unique<Shard>());
}

ProfileCache::Shard& ProfileCache::ShardOf(absl::string_view user_id) {
  // Not absl::Hash: the shards' own tables use it, and keys sharing its low bits would crowd.
  return *shards_[std::hash<std::string_view>()(std::string_view(user_id.data(), user_id.size())) %
                  shards_.size()];
}

void ProfileCache::Erase(Shard& shard, std::list<Node>::iterator it) {
  shard.bytes -= it->bytes;
  bytes_.fetch_sub(it->bytes, std::memory_order_relaxed);
  entries_.fetch_sub(1, std::memory_order_relaxed);
  shard.by_user.erase(absl::string_view(it->user_id));
  shard.lru.erase(it);
}

ProfileCache::Lookup ProfileCache::Get(absl::string_view user_id, const index::Catalog& catalog,
                                       absl::Span<const std::string> spaces) {
  Shard& shard = ShardOf(user_id);
  Lookup out;
  {
    absl::MutexLock lock(&shard.mu);
    out.generation = shard.generation;
    auto it = shard.by_user.find(user_id);
    if (it != shard.by_user.end() && it->second->entry->IsFor(catalog)) {
      shard.lru.splice(shard.lru.begin(), shard.lru, it->second);
      out.entry = it->second->entry;
    }
  }
  out.complete = out.entry != nullptr &&
                 std::all_of(spaces.begin(), spaces.end(),
                             [&](const std::string& s) { return out.entry->Find(s) != nullptr; });
  (out.complete ? hits_ : misses_).fetch_add(1, std::memory_order_relaxed);
  return out;
}

void ProfileCache::Put(absl::string_view user_id, uint64_t generation,
                       std::shared_ptr<const Entry> entry) {
  if (entry == nullptr) return;
  const int64_t bytes = EntryBytes(user_id, *entry);
  if (bytes > shard_bytes_) return;
  Shard& shard = ShardOf(user_id);
  std::shared_ptr<const Entry> dropped;  // released outside the lock
  absl::MutexLock lock(&shard.mu);
  if (shard.generation != generation) return;  // the history changed since it was read
  if (auto it = shard.by_user.find(user_id); it != shard.by_user.end()) {
    dropped = std::move(it->second->entry);
    Erase(shard, it->second);
  }
  shard.lru.push_front(Node{std::string(user_id), std::move(entry), bytes});
  shard.by_user.emplace(absl::string_view(shard.lru.front().user_id), shard.lru.begin());
  shard.bytes += bytes;
  bytes_.fetch_add(bytes, std::memory_order_relaxed);
  entries_.fetch_add(1, std::memory_order_relaxed);
  while (shard.bytes > shard_bytes_) {
    Erase(shard, std::prev(shard.lru.end()));
    evictions_.fetch_add(1, std::memory_order_relaxed);
  }
}

void ProfileCache::Invalidate(absl::string_view user_id) {
  Shard& shard = ShardOf(user_id);
  absl::MutexLock lock(&shard.mu);
  ++shard.generation;
  if (auto it = shard.by_user.find(user_id); it != shard.by_user.end()) Erase(shard, it->second);
}

ProfileCache::Stats ProfileCache::stats() const {
  Stats s;
  s.hits = hits_.load(std::memory_order_relaxed);
  s.misses = misses_.load(std::memory_order_relaxed);
  s.evictions = evictions_.load(std::memory_order_relaxed);
  s.entries = entries_.load(std::memory_order_relaxed);
  s.bytes = bytes_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace encore::recommend
