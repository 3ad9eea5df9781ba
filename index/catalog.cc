#include "index/catalog.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "index/snapshot_format.h"

namespace encore::index {
namespace {

absl::StatusOr<std::unique_ptr<EmbeddingIndex>> MakeIndex(const CatalogOptions& options,
                                                          MatrixView vectors) {
  if (options.index_factory) return options.index_factory(vectors, options.index);
  ASSIGN_OR_RETURN(auto index, FaissIndex::Build(vectors, options.index));
  return std::unique_ptr<EmbeddingIndex>(std::move(index));
}

absl::Status CheckItem(const Item& item, size_t pos) {
  if (item.id.empty()) return absl::DataLossError(absl::StrCat("item ", pos, " has an empty id"));
  if (item.kind == v1::ITEM_KIND_UNSPECIFIED || !v1::ItemKind_IsValid(item.kind)) {
    return absl::DataLossError(absl::StrCat("item '", item.id, "' has an invalid kind"));
  }
  if (!std::isfinite(item.popularity) || item.popularity < 0 || !std::isfinite(item.tempo) ||
      !std::isfinite(item.energy)) {
    return absl::DataLossError(absl::StrCat("item '", item.id, "' has a bad numeric field"));
  }
  return absl::OkStatus();
}

Item FromRecord(const v1::ItemRecord& rec) {
  Item item;
  item.id = rec.id();
  item.kind = rec.kind();
  item.artist_id = rec.artist_id();
  item.name = rec.name();
  item.tempo = rec.tempo();
  item.energy = rec.energy();
  item.popularity = rec.popularity();
  for (const auto& t : rec.tags()) item.tags.push_back({t.tag(), t.weight()});
  return item;
}

// Attaches an index (prebuilt or just built) to `space`. When the index keeps its own copy of the
// vectors (FAISS flat and HNSW-flat do), the space reads them from there and frees its own copy,
// after checking that the two are identical: one copy of the vectors in memory, and an index built
// from other vectors than the snapshot's is caught at load.
absl::Status AttachIndex(std::unique_ptr<EmbeddingIndex> index, EmbeddingSpace* space) {
  const MatrixView& v = space->vectors;
  if (index->size() != v.rows || index->dimension() != v.dim) {
    return absl::DataLossError(absl::StrCat("index of space '", space->name, "' is ", index->size(),
                                            "x", index->dimension(), ", its vectors are ", v.rows,
                                            "x", v.dim));
  }
  if (const float* stored = index->stored_vectors(); stored != nullptr) {
    const size_t bytes = static_cast<size_t>(v.rows) * v.dim * sizeof(float);
    if (bytes > 0 && std::memcmp(stored, v.data, bytes) != 0) {
      return absl::DataLossError(absl::StrCat(
          "index of space '", space->name, "' was built from other vectors than the snapshot's"));
    }
    space->vectors = MatrixView(stored, v.rows, v.dim);
    space->owned_vectors = Matrix();
  }
  space->index = std::move(index);
  return absl::OkStatus();
}

}  // namespace

std::string SpaceOfKind(v1::ItemKind kind) {
  return (kind == v1::EPISODE || kind == v1::SHOW) ? kPodcastSpace : kMusicSpace;
}

absl::StatusOr<std::shared_ptr<const Catalog>> Catalog::Load(const std::string& dir,
                                                             const CatalogOptions& options) {
  ASSIGN_OR_RETURN(v1::SnapshotManifest manifest, ReadManifest(dir));
  RETURN_IF_ERROR(VerifyFiles(dir, manifest));

  CatalogParts parts;
  parts.version = manifest.version();
  parts.source_dir = dir;
  const std::string items_path = absl::StrCat(dir, "/", manifest.items_file());
  ASSIGN_OR_RETURN(std::string item_bytes, common::ReadFile(items_path));
  ASSIGN_OR_RETURN(std::vector<v1::ItemRecord> records, ParseItems(item_bytes, items_path));
  if (static_cast<int64_t>(records.size()) != manifest.item_count()) {
    return absl::DataLossError(absl::StrCat(items_path, " holds ", records.size(),
                                            " items, manifest says ", manifest.item_count()));
  }
  parts.items.reserve(records.size());
  for (const auto& rec : records) parts.items.push_back(FromRecord(rec));
  records.clear();

  for (const auto& space : manifest.spaces()) {
    const std::string path = absl::StrCat(dir, "/", space.vectors_file());
    ASSIGN_OR_RETURN(Matrix m, ReadNpy(path));
    if (m.rows != space.count() || m.dim != space.dimension()) {
      return absl::DataLossError(absl::StrCat(path, " is ", m.rows, "x", m.dim, ", manifest says ",
                                              space.count(), "x", space.dimension()));
    }
    if (!space.index_file().empty()) {
      ASSIGN_OR_RETURN(auto idx, FaissIndex::Load(absl::StrCat(dir, "/", space.index_file()), m.dim,
                                                  m.rows, options.index));
      parts.prebuilt[space.name()] = std::move(idx);
    }
    if (space.has_als()) {
      FoldInModel f;
      f.regularization = space.als().regularization();
      f.confidence.scaling = space.als().scaling().empty() ? "log" : space.als().scaling();
      f.confidence.alpha = space.als().alpha();
      f.confidence.epsilon = space.als().epsilon() > 0 ? space.als().epsilon() : 1.0;
      parts.foldin[space.name()] = std::move(f);
    }
    if (!parts.space_vectors.emplace(space.name(), std::move(m)).second) {
      return absl::DataLossError(absl::StrCat("manifest lists space '", space.name(), "' twice"));
    }
  }
  if (!manifest.graph_file().empty()) {
    const std::string path = absl::StrCat(dir, "/", manifest.graph_file());
    ASSIGN_OR_RETURN(std::string bytes, common::ReadFile(path));
    v1::KnowledgeGraph proto;
    if (!proto.ParseFromString(bytes)) {
      return absl::DataLossError(absl::StrCat(path, ": malformed knowledge graph"));
    }
    ASSIGN_OR_RETURN(parts.graph, KnowledgeGraph::FromProto(proto));
  }
  return Build(std::move(parts), options);
}

absl::StatusOr<std::shared_ptr<const Catalog>> Catalog::Build(CatalogParts parts,
                                                              const CatalogOptions& options) {
  std::shared_ptr<Catalog> c(new Catalog());
  c->version_ = std::move(parts.version);
  c->source_dir_ = std::move(parts.source_dir);
  c->loaded_at_ms_ = common::NowMs();
  c->items_ = std::move(parts.items);
  c->by_id_.reserve(c->items_.size());

  absl::flat_hash_map<std::string, int32_t> space_ids;
  for (auto& [name, matrix] : parts.space_vectors) {
    auto space = std::make_unique<EmbeddingSpace>();
    space->name = name;
    space->owned_vectors = std::move(matrix);
    space->vectors = space->owned_vectors;
    if (auto pre = parts.prebuilt.find(name); pre != parts.prebuilt.end()) {
      RETURN_IF_ERROR(AttachIndex(std::move(pre->second), space.get()));
    }
    space_ids[name] = static_cast<int32_t>(c->spaces_.size());
    c->spaces_.push_back(std::move(space));
  }
  for (size_t i = 0; i < c->items_.size(); ++i) {
    Item& item = c->items_[i];
    RETURN_IF_ERROR(CheckItem(item, i));
    if (!c->by_id_.emplace(item.id, static_cast<ItemId>(i)).second) {
      return absl::DataLossError(absl::StrCat("duplicate item id '", item.id, "'"));
    }
    const std::string space_name = SpaceOfKind(item.kind);
    auto it = space_ids.find(space_name);
    if (it == space_ids.end()) {
      return absl::DataLossError(absl::StrCat("item '", item.id, "' needs space '", space_name,
                                              "', which the snapshot lacks"));
    }
    EmbeddingSpace& space = *c->spaces_[it->second];
    item.space = it->second;
    item.row = static_cast<int64_t>(space.row_to_item.size());
    space.row_to_item.push_back(static_cast<ItemId>(i));
    c->popular_by_kind_[item.kind].push_back(static_cast<ItemId>(i));
    c->max_popularity_ = std::max(c->max_popularity_, item.popularity);
  }
  for (auto& space : c->spaces_) {
    if (static_cast<int64_t>(space->row_to_item.size()) != space->vectors.rows) {
      return absl::DataLossError(absl::StrCat("space '", space->name, "' has ", space->vectors.rows,
                                              " vectors for ", space->row_to_item.size(),
                                              " items"));
    }
    if (auto f = parts.foldin.find(space->name); f != parts.foldin.end()) {
      space->foldin = std::move(f->second);
      space->foldin->gram = Gramian(space->vectors, space->foldin->regularization);
    }
    if (space->index == nullptr) {
      ASSIGN_OR_RETURN(auto index, MakeIndex(options, space->vectors));
      RETURN_IF_ERROR(AttachIndex(std::move(index), space.get()));
    }
  }
  for (auto& [kind, ids] : c->popular_by_kind_) {
    const auto& items = c->items_;
    std::stable_sort(ids.begin(), ids.end(), [&items](ItemId a, ItemId b) {
      return items[a].popularity > items[b].popularity;
    });
  }
  RETURN_IF_ERROR(c->BuildArtists(options));
  c->BuildProfiles(std::move(parts.graph));
  return std::shared_ptr<const Catalog>(std::move(c));
}

absl::Status Catalog::BuildArtists(const CatalogOptions& options) {
  const EmbeddingSpace* music = space(kMusicSpace);
  if (music == nullptr) return absl::OkStatus();
  auto slot = [this](const std::string& id) {
    auto [it, inserted] = artists_.by_id.emplace(id, static_cast<int32_t>(artists_.artists.size()));
    if (inserted) artists_.artists.push_back(Artist{id, "", {}, std::nullopt});
    return it->second;
  };
  for (ItemId i = 0; i < size(); ++i) {
    const Item& item = items_[i];
    if (item.kind == v1::ARTIST) {
      Artist& a = artists_.artists[slot(item.id)];
      a.as_item = i;
      a.name = item.name;
    } else if (item.kind == v1::TRACK && !item.artist_id.empty()) {
      artists_.artists[slot(item.artist_id)].items.push_back(i);
    }
  }
  const int32_t dim = music->vectors.dim;
  artists_.vectors.rows = static_cast<int64_t>(artists_.artists.size());
  artists_.vectors.dim = dim;
  artists_.vectors.data.assign(static_cast<size_t>(artists_.vectors.rows) * dim, 0.0f);
  for (size_t a = 0; a < artists_.artists.size(); ++a) {
    const Artist& artist = artists_.artists[a];
    float* out = artists_.vectors.mutable_row(static_cast<int64_t>(a));
    if (artist.as_item) {
      auto v = vector(*artist.as_item);
      std::copy(v.begin(), v.end(), out);
      continue;
    }
    for (ItemId t : artist.items) {
      auto v = vector(t);
      for (int32_t j = 0; j < dim; ++j) out[j] += v[j];
    }
    const float inv = 1.0f / static_cast<float>(std::max<size_t>(artist.items.size(), 1));
    for (int32_t j = 0; j < dim; ++j) out[j] *= inv;
  }
  if (artists_.vectors.rows > 0) {
    ASSIGN_OR_RETURN(artists_.index, MakeIndex(options, artists_.vectors));
  }
  return absl::OkStatus();
}

void Catalog::BuildProfiles(std::optional<KnowledgeGraph> graph) {
  if (graph) {
    graph_ = *std::move(graph);
  } else {
    // Older or hand-made snapshots: normalise tags and derive the graph here.
    const TaxonomyRules& rules = DefaultTaxonomyRules();
    std::vector<std::vector<std::string>> item_tags(items_.size());
    for (size_t i = 0; i < items_.size(); ++i) {
      for (auto& t : items_[i].tags) {
        t.name = NormalizeTag(t.name, rules);
        item_tags[i].push_back(t.name);
      }
    }
    graph_ = KnowledgeGraph::Build(item_tags, rules);
  }
  for (Item& item : items_) {
    std::vector<std::pair<int32_t, float>> weighted;
    item.tag_ids.clear();
    for (const auto& t : item.tags) {
      item.tag_ids.push_back(graph_.TagId(t.name));
      weighted.emplace_back(item.tag_ids.back(), t.weight);
    }
    item.families = graph_.ProfileOf(weighted);
    item.seasonal_family = -1;
    for (const auto& fw : item.families) {
      if (graph_.IsSeasonal(fw.family) && fw.weight >= 0.5f) item.seasonal_family = fw.family;
    }
  }
}

std::optional<ItemId> Catalog::Find(absl::string_view external_id) const {
  auto it = by_id_.find(external_id);
  if (it == by_id_.end()) return std::nullopt;
  return it->second;
}

const EmbeddingSpace* Catalog::space(absl::string_view name) const {
  for (const auto& s : spaces_) {
    if (s->name == name) return s.get();
  }
  return nullptr;
}

absl::Span<const float> Catalog::vector(ItemId id) const {
  const Item& item = items_[id];
  return spaces_[item.space]->vectors.row_span(item.row);
}

absl::Span<const ItemId> Catalog::popular(v1::ItemKind kind) const {
  auto it = popular_by_kind_.find(kind);
  if (it == popular_by_kind_.end()) return {};
  return it->second;
}

}  // namespace encore::index
