#include "offline/snapshot_builder.h"

#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <map>
#include <memory>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "index/catalog.h"
#include "index/snapshot_format.h"

namespace encore::offline {
namespace fs = std::filesystem;
namespace {

absl::Status Validate(const SnapshotContents& c) {
  if (c.version.empty() || c.version.front() == '.' || c.version.find('/') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("bad snapshot version '", c.version, "'"));
  }
  absl::flat_hash_set<std::string> ids;
  std::map<std::string, int64_t> rows;
  for (size_t i = 0; i < c.items.size(); ++i) {
    const auto& item = c.items[i];
    if (item.id().empty())
      return absl::InvalidArgumentError(absl::StrCat("item ", i, ": empty id"));
    if (!ids.insert(item.id()).second) {
      return absl::InvalidArgumentError(absl::StrCat("duplicate item id '", item.id(), "'"));
    }
    if (item.kind() == v1::ITEM_KIND_UNSPECIFIED) {
      return absl::InvalidArgumentError(absl::StrCat("item '", item.id(), "': no kind"));
    }
    // What the server's catalog accepts: refused here, not at load.
    RETURN_IF_ERROR(index::CheckItemStrings(item.id(), item.artist_id(), item.name()));
    ++rows[index::SpaceOfKind(item.kind())];
  }
  for (const auto& [space, n] : rows) {
    auto it = c.spaces.find(space);
    if (it == c.spaces.end()) {
      return absl::InvalidArgumentError(absl::StrCat("items need space '", space, "'"));
    }
    if (it->second.rows != n) {
      return absl::InvalidArgumentError(
          absl::StrCat("space '", space, "' has ", it->second.rows, " vectors for ", n, " items"));
    }
  }
  return absl::OkStatus();
}

absl::Status AddFile(const std::string& dir, const std::string& name,
                     v1::SnapshotManifest* manifest) {
  ASSIGN_OR_RETURN(common::FileDigest digest, common::DigestFile(absl::StrCat(dir, "/", name)));
  auto* f = manifest->add_files();
  f->set_name(name);
  f->set_bytes(digest.bytes);
  f->set_xxh3(digest.xxh3);
  return absl::OkStatus();
}

// A space's prebuilt index, with its rows renumbered for locality where that helps.
struct BuiltIndex {
  std::unique_ptr<index::FaissIndex> index;
  // order[new row] = old row; empty when the rows keep their order.
  std::vector<int64_t> order;
};

// Builds the index of every space that gets one (BuildOptions::prebuild_index) and, with
// BuildOptions::locality_order, renumbers its rows into the graph's order.
absl::StatusOr<std::map<std::string, BuiltIndex>> BuildIndexes(const SnapshotContents& contents,
                                                               const BuildOptions& options) {
  std::map<std::string, BuiltIndex> built;
  if (!options.prebuild_index) return built;
  for (const auto& [name, matrix] : contents.spaces) {
    if (matrix.rows == 0) continue;
    // Built only to be saved: no search-side structures (half-float copy, pivots).
    index::IndexOptions build = options.index;
    build.hnsw_search = "faiss";
    BuiltIndex& b = built[name];
    ASSIGN_OR_RETURN(b.index, index::FaissIndex::Build(matrix, build));
    if (!options.locality_order) continue;
    b.order = b.index->LocalityOrder();
    bool identity = true;
    for (size_t i = 0; i < b.order.size() && identity; ++i)
      identity = b.order[i] == static_cast<int64_t>(i);
    if (identity) {
      b.order.clear();
    } else {
      RETURN_IF_ERROR(b.index->Permute(b.order));
    }
  }
  return built;
}

// Moves the items of `space` so that the one with row r (its r-th item in table order) is the
// one that had row order[r]; other spaces' items keep their places.
void ReorderItems(const std::string& space, const std::vector<int64_t>& order,
                  std::vector<v1::ItemRecord>* items) {
  std::vector<size_t> slots;  // slots[r]: where the item with row r stands in the table
  for (size_t i = 0; i < items->size(); ++i) {
    if (index::SpaceOfKind((*items)[i].kind()) == space) slots.push_back(i);
  }
  std::vector<v1::ItemRecord> moved(slots.size());
  for (size_t r = 0; r < slots.size(); ++r) moved[r] = std::move((*items)[slots[order[r]]]);
  for (size_t r = 0; r < slots.size(); ++r) (*items)[slots[r]] = std::move(moved[r]);
}

// Rows of `m` in `order` (order[new row] = old row).
index::Matrix ReorderRows(const index::Matrix& m, const std::vector<int64_t>& order) {
  index::Matrix out;
  out.rows = m.rows;
  out.dim = m.dim;
  out.data.resize(m.data.size());
  const size_t d = static_cast<size_t>(m.dim);
  for (size_t r = 0; r < order.size(); ++r) {
    std::copy_n(m.data.begin() + order[r] * d, d, out.data.begin() + r * d);
  }
  return out;
}

absl::Status WriteAll(const std::string& dir, const SnapshotContents& contents,
                      const BuildOptions& options) {
  // Indexes first: renumbering a space's rows moves its items in the table and its vectors.
  ASSIGN_OR_RETURN(auto indexes, BuildIndexes(contents, options));
  v1::SnapshotManifest manifest;
  manifest.set_format_version(index::kSnapshotFormatVersion);
  manifest.set_version(contents.version);
  manifest.set_created_ms(common::NowMs());
  manifest.set_producer(contents.producer);
  manifest.set_items_file("items.pb");
  manifest.set_item_count(static_cast<int64_t>(contents.items.size()));
  {
    // Tags are stored normalised with the build's rules, and the taxonomy derived from them
    // (with any curated rules) is written as graph.pb, so the server never re-derives it and
    // `encore-build --taxonomy` takes effect.
    std::vector<v1::ItemRecord> items = contents.items;
    for (const auto& [space, built] : indexes) {
      if (!built.order.empty()) ReorderItems(space, built.order, &items);
    }
    std::vector<std::vector<std::string>> item_tags(items.size());
    for (size_t i = 0; i < items.size(); ++i) {
      for (auto& t : *items[i].mutable_tags()) {
        t.set_tag(index::NormalizeTag(t.tag(), options.taxonomy));
        item_tags[i].push_back(t.tag());
      }
    }
    const index::KnowledgeGraph graph = index::KnowledgeGraph::Build(item_tags, options.taxonomy);
    item_tags.clear();
    RETURN_IF_ERROR(
        common::WriteFile(absl::StrCat(dir, "/items.pb"), index::SerializeItems(items)));
    RETURN_IF_ERROR(AddFile(dir, "items.pb", &manifest));
    items.clear();
    manifest.set_graph_file("graph.pb");
    RETURN_IF_ERROR(
        common::WriteFile(absl::StrCat(dir, "/graph.pb"), graph.ToProto().SerializeAsString()));
    RETURN_IF_ERROR(AddFile(dir, "graph.pb", &manifest));
  }
  for (const auto& [name, matrix] : contents.spaces) {
    auto* space = manifest.add_spaces();
    space->set_name(name);
    space->set_dimension(matrix.dim);
    space->set_count(matrix.rows);
    space->set_vectors_file(absl::StrCat(name, ".npy"));
    if (auto als = contents.als.find(name); als != contents.als.end()) {
      *space->mutable_als() = als->second;
    }
    auto built = indexes.find(name);
    const std::string vectors_path = absl::StrCat(dir, "/", space->vectors_file());
    if (built != indexes.end() && !built->second.order.empty()) {
      RETURN_IF_ERROR(common::WriteFile(
          vectors_path, index::SerializeNpy(ReorderRows(matrix, built->second.order))));
    } else {
      RETURN_IF_ERROR(common::WriteFile(vectors_path, index::SerializeNpy(matrix)));
    }
    RETURN_IF_ERROR(AddFile(dir, space->vectors_file(), &manifest));
    if (built != indexes.end()) {
      const index::FaissIndex& idx = *built->second.index;
      space->set_index_file(absl::StrCat(name, ".faiss"));
      space->set_index_type(idx.type());
      RETURN_IF_ERROR(idx.Save(absl::StrCat(dir, "/", space->index_file())));
      RETURN_IF_ERROR(AddFile(dir, space->index_file(), &manifest));
    }
  }
  ASSIGN_OR_RETURN(std::string json, index::ManifestToJson(manifest));
  return common::WriteFile(absl::StrCat(dir, "/", index::kManifestFile), json);
}

}  // namespace

std::string TimestampVersion() {
  char buf[32];
  std::time_t now = std::time(nullptr);
  std::strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", std::gmtime(&now));
  return buf;
}

absl::StatusOr<std::string> PublishSnapshot(const std::string& root,
                                            const SnapshotContents& contents,
                                            const BuildOptions& options) {
  RETURN_IF_ERROR(Validate(contents));
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", root, ": ", ec.message()));
  const fs::path final_dir = fs::path(root) / contents.version;
  if (fs::exists(final_dir, ec)) {
    return absl::AlreadyExistsError(
        absl::StrCat("snapshot ", final_dir.string(), " exists; snapshots are immutable"));
  }
  const fs::path tmp = fs::path(root) / absl::StrCat(".tmp-", contents.version, "-", ::getpid());
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec)
    return absl::InternalError(absl::StrCat("cannot create ", tmp.string(), ": ", ec.message()));
  absl::Status written = WriteAll(tmp.string(), contents, options);
  if (written.ok()) {
    fs::rename(tmp, final_dir, ec);
    if (ec) {
      written = absl::InternalError(
          absl::StrCat("cannot publish ", final_dir.string(), ": ", ec.message()));
    }
  }
  if (!written.ok()) {
    fs::remove_all(tmp, ec);
    return written;
  }
  return final_dir.string();
}

}  // namespace encore::offline
