// HistoryStore on RocksDB.
#ifndef ENCORE_STORAGE_ROCKSDB_HISTORY_STORE_H_
#define ENCORE_STORAGE_ROCKSDB_HISTORY_STORE_H_

#include <array>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "storage/history_store.h"

namespace rocksdb {
class DB;
}

namespace encore::storage {

struct RocksDbHistoryOptions {
  // Newest events kept per user. Default: 1000.
  int max_events_per_user = 1000;
  // fsync the WAL on every write (power-loss durability). Without it an acknowledged write
  // survives a process crash (the WAL is always on). Default: false.
  bool sync = false;
  // Block cache size. Default: 256 MiB.
  int64_t block_cache_bytes = 256ll << 20;
};

// Key: user id, '\0', big-endian (INT64_MAX - timestamp_ms), type byte, item id, so a prefix scan
// returns a user's events newest first. Value: played_ms (8 bytes, little-endian), then count
// (4 bytes, little-endian; absent = 1).
// Thread safety: safe for concurrent use; writers of the same user are serialised (lock stripes)
// so the per-user bound is exact.
class RocksDbHistoryStore : public HistoryStore {
 public:
  ~RocksDbHistoryStore() override;

  // Opens (creating if missing) the database in `dir`.
  static absl::StatusOr<std::unique_ptr<RocksDbHistoryStore>> Open(
      const std::string& dir, const RocksDbHistoryOptions& options);

  absl::Status Append(absl::string_view user_id, absl::Span<const HistoryEvent> events) override;
  absl::StatusOr<std::vector<HistoryEvent>> Read(absl::string_view user_id,
                                                 int limit) const override;

 private:
  RocksDbHistoryStore(std::unique_ptr<rocksdb::DB> db, RocksDbHistoryOptions options);

  std::unique_ptr<rocksdb::DB> db_;
  const RocksDbHistoryOptions options_;
  static constexpr int kStripes = 64;
  mutable std::array<absl::Mutex, kStripes> stripes_;
};

// Encodes/decodes history records (exposed for tests).
std::string EncodeHistoryKey(absl::string_view user_id, const HistoryEvent& event);
std::string EncodeHistoryValue(const HistoryEvent& event);
absl::StatusOr<HistoryEvent> DecodeHistoryKey(absl::string_view key, size_t prefix_len,
                                              absl::string_view value);

}  // namespace encore::storage

#endif  // ENCORE_STORAGE_ROCKSDB_HISTORY_STORE_H_
