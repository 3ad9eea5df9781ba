// Finds, loads and atomically swaps catalog snapshots.
#ifndef ENCORE_INDEX_SNAPSHOT_MANAGER_H_
#define ENCORE_INDEX_SNAPSHOT_MANAGER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "index/catalog.h"

namespace encore::index {

// Returns the snapshot directory to serve from `root`: `root` itself when it holds a manifest,
// otherwise its subdirectory with the greatest name that holds one (versions sort by name, e.g.
// timestamps). Directories whose names start with '.' (in-progress writes) are skipped.
absl::StatusOr<std::string> FindNewestSnapshot(const std::string& root);

// Holds the serving catalog. Readers pin a version with Current(); a new version is loaded and
// verified completely before it replaces the old one, which stays alive until its last reader
// drops it. Thread safety: all methods are thread-safe; loads are serialised.
class SnapshotManager {
 public:
  explicit SnapshotManager(CatalogOptions options) : options_(std::move(options)) {}

  // The serving catalog, or nullptr before the first successful load. Cheap (one mutex + copy).
  std::shared_ptr<const Catalog> Current() const;

  // Loads `snapshot_dir` and swaps it in. On error the current catalog keeps serving.
  absl::Status LoadAndSwap(const std::string& snapshot_dir);

  // Swaps in a catalog built elsewhere (tests, in-process evaluation).
  void Swap(std::shared_ptr<const Catalog> catalog);

  // Loads the newest snapshot under `root` if it is not the one serving. Returns true when it
  // swapped. A directory that failed to load is not retried (it is immutable by contract).
  absl::StatusOr<bool> Refresh(const std::string& root);

  // Called after every swap with the new catalog (e.g. to update metrics).
  void SetOnSwap(std::function<void(const Catalog&)> on_swap);

 private:
  const CatalogOptions options_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const Catalog> current_ ABSL_GUARDED_BY(mu_);
  std::function<void(const Catalog&)> on_swap_ ABSL_GUARDED_BY(mu_);
  absl::Mutex load_mu_;
  absl::flat_hash_set<std::string> failed_ ABSL_GUARDED_BY(load_mu_);
};

}  // namespace encore::index

#endif  // ENCORE_INDEX_SNAPSHOT_MANAGER_H_
