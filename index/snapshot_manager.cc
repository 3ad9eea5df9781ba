#include "index/snapshot_manager.h"

#include <malloc.h>

#include <filesystem>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "index/snapshot_format.h"

namespace encore::index {

namespace fs = std::filesystem;

absl::StatusOr<std::string> FindNewestSnapshot(const std::string& root) {
  std::error_code ec;
  if (fs::exists(fs::path(root) / kManifestFile, ec)) return root;
  if (!fs::is_directory(root, ec)) {
    return absl::NotFoundError(absl::StrCat("snapshot root ", root, " is not a directory"));
  }
  std::string best;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    const std::string name = entry.path().filename().string();
    if (absl::StartsWith(name, ".") || !entry.is_directory(ec)) continue;
    if (!fs::exists(entry.path() / kManifestFile, ec)) continue;
    if (name > best) best = name;
  }
  if (ec) return absl::InternalError(absl::StrCat("cannot list ", root, ": ", ec.message()));
  if (best.empty()) {
    return absl::NotFoundError(
        absl::StrCat("no snapshot (a directory with ", kManifestFile, ") under ", root));
  }
  return (fs::path(root) / best).string();
}

std::shared_ptr<const Catalog> SnapshotManager::Current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

absl::Status SnapshotManager::LoadAndSwap(const std::string& snapshot_dir) {
  absl::MutexLock load_lock(&load_mu_);
  auto catalog = Catalog::Load(snapshot_dir, options_);
  if (!catalog.ok()) {
    failed_.insert(snapshot_dir);
    return catalog.status();
  }
  Swap(*std::move(catalog));
  // Loading allocates and frees hundreds of MB of small parse buffers; give the freed pages back
  // to the OS so resident memory reflects what the catalog keeps.
  malloc_trim(0);
  return absl::OkStatus();
}

void SnapshotManager::Swap(std::shared_ptr<const Catalog> catalog) {
  std::shared_ptr<const Catalog> old;
  std::function<void(const Catalog&)> on_swap;
  {
    absl::MutexLock lock(&mu_);
    old = std::move(current_);
    current_ = catalog;
    on_swap = on_swap_;
  }
  if (on_swap && catalog) on_swap(*catalog);
  // `old` is released here, outside the lock; readers still holding it keep it alive.
}

absl::StatusOr<bool> SnapshotManager::Refresh(const std::string& root) {
  ASSIGN_OR_RETURN(std::string newest, FindNewestSnapshot(root));
  auto current = Current();
  if (current && current->source_dir() == newest) return false;
  {
    absl::MutexLock load_lock(&load_mu_);
    if (failed_.contains(newest)) return false;
  }
  RETURN_IF_ERROR(LoadAndSwap(newest));
  return true;
}

void SnapshotManager::SetOnSwap(std::function<void(const Catalog&)> on_swap) {
  absl::MutexLock lock(&mu_);
  on_swap_ = std::move(on_swap);
}

}  // namespace encore::index
