// HistoryStore in memory: the fake for unit tests (same ordering and bound as RocksDB's).
#ifndef ENCORE_STORAGE_IN_MEMORY_HISTORY_STORE_H_
#define ENCORE_STORAGE_IN_MEMORY_HISTORY_STORE_H_

#include <map>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "storage/history_store.h"

namespace encore::storage {

// Thread safety: safe for concurrent use (one mutex).
class InMemoryHistoryStore : public HistoryStore {
 public:
  explicit InMemoryHistoryStore(int max_events_per_user = 1000)
      : max_events_per_user_(max_events_per_user) {}

  absl::Status Append(absl::string_view user_id, absl::Span<const HistoryEvent> events) override;
  absl::StatusOr<std::vector<HistoryEvent>> Read(absl::string_view user_id,
                                                 int limit) const override;

  // Makes the next Append fail with `status` (fault injection).
  void FailNextAppend(absl::Status status);

 private:
  const int max_events_per_user_;
  mutable absl::Mutex mu_;
  // Per user: key (same encoding as RocksDB) -> event, so ordering matches the real store.
  absl::flat_hash_map<std::string, std::map<std::string, HistoryEvent>> users_ ABSL_GUARDED_BY(mu_);
  absl::Status next_failure_ ABSL_GUARDED_BY(mu_);
};

}  // namespace encore::storage

#endif  // ENCORE_STORAGE_IN_MEMORY_HISTORY_STORE_H_
