// Synthetic catalog + listeners with planted taste structure, for demos, tests and benchmarks.
#ifndef ENCORE_OFFLINE_SYNTHETIC_H_
#define ENCORE_OFFLINE_SYNTHETIC_H_

#include <cstdint>
#include <string>
#include <vector>

#include "offline/snapshot_builder.h"
#include "storage/history_store.h"

namespace encore::offline {

struct SyntheticOptions {
  int64_t tracks = 50000;
  // Default: tracks / 12.
  int64_t artists = 0;
  int32_t dim = 40;
  // Podcast shows (SHOW items) and episodes per show, in a separate 32-d space.
  int32_t shows = 100;
  int32_t episodes_per_show = 10;
  int32_t podcast_dim = 32;
  int64_t users = 2000;
  // Mean events per user (uniform in [mean/3, 5*mean/3]).
  int32_t events_per_user = 60;
  uint64_t seed = 42;
  // Events fall in the 180 days before this instant. Default: 2026-11-01T00:00:00Z, so output
  // depends on the seed alone.
  int64_t history_end_ms = 1793491200000;
};

struct SyntheticUser {
  std::string user_id;
  std::vector<storage::HistoryEvent> events;
};

struct SyntheticData {
  SnapshotContents snapshot;
  std::vector<SyntheticUser> users;
};

// Genre families: each has subgenre tags, a tempo/energy range and a vector centre; tracks of one
// artist cluster around the artist, artists around their subgenre, subgenres around the family.
// The "christmas" family is seasonal; some pop/rock artists also have a few Christmas songs
// (vectors near their artist, tagged christmas), the classic "carol in a summer mix" trap.
// Users like 1-3 subgenres and mostly play those; a few skips and dislikes go elsewhere.
// Deterministic for a given options struct.
SyntheticData GenerateSynthetic(const SyntheticOptions& options);

// Writes users' events as TSV (the storage::ImportEventsTsv format).
absl::Status WriteEventsTsv(const std::string& path, const std::vector<SyntheticUser>& users);

}  // namespace encore::offline

#endif  // ENCORE_OFFLINE_SYNTHETIC_H_
