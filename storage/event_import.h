// Bulk import of listening events from TSV (as written by encore-gen and the importers).
#ifndef ENCORE_STORAGE_EVENT_IMPORT_H_
#define ENCORE_STORAGE_EVENT_IMPORT_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "storage/history_store.h"

namespace encore::storage {

// Parses an event type name: play, skip, like, dislike (case-insensitive).
absl::StatusOr<EventType> ParseEventType(absl::string_view name);
// Lower-case name of an event type.
const char* EventTypeName(EventType type);

// Reads `path`: one event per line,
// `user_id<TAB>item_id<TAB>type<TAB>timestamp_ms<TAB>played_ms[<TAB>count]`;
// '#' lines are comments. The whole file is parsed and validated first (errors give file, line
// and reason, and nothing is written); then events are appended user by user. Returns the number
// of events imported. Re-importing the same file is idempotent.
absl::StatusOr<int64_t> ImportEventsTsv(const std::string& path, HistoryStore* store);

}  // namespace encore::storage

#endif  // ENCORE_STORAGE_EVENT_IMPORT_H_
