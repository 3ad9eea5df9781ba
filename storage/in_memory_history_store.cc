#include "storage/in_memory_history_store.h"

#include "storage/rocksdb_history_store.h"

namespace encore::storage {

absl::Status InMemoryHistoryStore::Append(absl::string_view user_id,
                                          absl::Span<const HistoryEvent> events) {
  absl::Status valid = ValidateUserId(user_id);
  if (!valid.ok()) return valid;
  absl::MutexLock lock(&mu_);
  if (!next_failure_.ok()) {
    absl::Status s = next_failure_;
    next_failure_ = absl::OkStatus();
    return s;
  }
  auto& events_by_key = users_[user_id];
  for (const auto& e : events) events_by_key[EncodeHistoryKey(user_id, e)] = e;
  while (static_cast<int>(events_by_key.size()) > max_events_per_user_) {
    events_by_key.erase(std::prev(events_by_key.end()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<HistoryEvent>> InMemoryHistoryStore::Read(absl::string_view user_id,
                                                                     int limit) const {
  absl::MutexLock lock(&mu_);
  std::vector<HistoryEvent> out;
  auto it = users_.find(user_id);
  if (it == users_.end()) return out;
  for (const auto& [key, e] : it->second) {
    if (static_cast<int>(out.size()) >= limit) break;
    out.push_back(e);
  }
  return out;
}

void InMemoryHistoryStore::FailNextAppend(absl::Status status) {
  absl::MutexLock lock(&mu_);
  next_failure_ = std::move(status);
}

}  // namespace encore::storage
