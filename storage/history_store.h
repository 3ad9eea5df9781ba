// Per-user listening history: the only mutable state the service keeps.
#ifndef ENCORE_STORAGE_HISTORY_STORE_H_
#define ENCORE_STORAGE_HISTORY_STORE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace encore::storage {

// Same numbering as encore.v1.EventType, so conversions are casts checked at the edge.
enum class EventType : uint8_t { kPlay = 1, kSkip = 2, kLike = 3, kDislike = 4 };

// One listening event. Items are stored by their stable external id, never a catalog-internal
// one, so history survives catalog versions.
struct HistoryEvent {
  std::string item_id;
  EventType type = EventType::kPlay;
  int64_t timestamp_ms = 0;
  int64_t played_ms = 0;
  // Plays this event stands for (aggregated imports); >= 1.
  int32_t count = 1;

  bool operator==(const HistoryEvent& o) const {
    return item_id == o.item_id && type == o.type && timestamp_ms == o.timestamp_ms &&
           played_ms == o.played_ms && count == o.count;
  }
};

// Checks what every store requires of a user id: 1..256 bytes, no control characters.
absl::Status ValidateUserId(absl::string_view user_id);

// Thread safety: implementations are safe for concurrent use.
class HistoryStore {
 public:
  virtual ~HistoryStore() = default;

  // Appends events atomically (all or none). Events with the same (timestamp, type, item) as a
  // stored one replace it, so replaying an import is idempotent. Keeps only the newest
  // max-per-user events. REQUIRES: ValidateUserId(user_id).ok().
  virtual absl::Status Append(absl::string_view user_id, absl::Span<const HistoryEvent> events) = 0;

  // Returns up to `limit` events of the user, newest first (empty for an unknown user).
  virtual absl::StatusOr<std::vector<HistoryEvent>> Read(absl::string_view user_id,
                                                         int limit) const = 0;
};

}  // namespace encore::storage

#endif  // ENCORE_STORAGE_HISTORY_STORE_H_
