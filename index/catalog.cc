#include "index/catalog.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <thread>

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

// Moves the record's strings into a spec (the record is reused by the parser).
ItemSpec FromRecord(v1::ItemRecord* rec) {
  ItemSpec item;
  item.id = std::move(*rec->mutable_id());
  item.kind = rec->kind();
  item.artist_id = std::move(*rec->mutable_artist_id());
  item.name = std::move(*rec->mutable_name());
  item.tempo = rec->tempo();
  item.energy = rec->energy();
  item.popularity = rec->popularity();
  item.tags.reserve(rec->tags_size());
  for (auto& t : *rec->mutable_tags())
    item.tags.push_back({std::move(*t.mutable_tag()), t.weight()});
  return item;
}

absl::StatusOr<KnowledgeGraph> ReadGraph(const std::string& path) {
  ASSIGN_OR_RETURN(std::string bytes, common::ReadFile(path));
  v1::KnowledgeGraph proto;
  if (!proto.ParseFromString(bytes)) {
    return absl::DataLossError(absl::StrCat(path, ": malformed knowledge graph"));
  }
  return KnowledgeGraph::FromProto(proto);
}

// Reads the length-delimited item records of `path` into specs; checks the manifest's count.
absl::Status ReadItemSpecs(const std::string& path, int64_t expected, std::vector<ItemSpec>* out) {
  ASSIGN_OR_RETURN(std::string bytes, common::ReadFile(path));
  out->reserve(static_cast<size_t>(std::max<int64_t>(expected, 0)));
  RETURN_IF_ERROR(ForEachItemRecord(bytes, path, [out](v1::ItemRecord* rec) {
    out->push_back(FromRecord(rec));
    return absl::OkStatus();
  }));
  if (static_cast<int64_t>(out->size()) != expected) {
    return absl::DataLossError(
        absl::StrCat(path, " holds ", out->size(), " items, manifest says ", expected));
  }
  return absl::OkStatus();
}

// Proves the .npy file at `path` holds exactly the index's vectors without reading its payload:
// the manifest's digest of the file (already checked against the file) must equal the digest of
// the file's header followed by the index's stored vectors. An index built from other vectors
// than the snapshot's fails here (DATA_LOSS).
absl::Status VectorsFileMatchesIndex(const std::string& path, const v1::SnapshotFile& entry,
                                     const EmbeddingIndex& index) {
  constexpr size_t kMaxNpyHeader = 65536 + 16;
  ASSIGN_OR_RETURN(std::string head, common::ReadFilePrefix(path, kMaxNpyHeader));
  auto header = ParseNpyHeader(head, path);
  if (!header.ok()) return absl::DataLossError(header.status().message());
  if (header->rows != index.size() || header->dim != index.dimension()) {
    return absl::DataLossError(absl::StrCat(path, " is ", header->rows, "x", header->dim,
                                            ", its index holds ", index.size(), "x",
                                            index.dimension()));
  }
  const size_t payload = static_cast<size_t>(index.size()) * index.dimension() * sizeof(float);
  if (static_cast<int64_t>(header->data_offset + payload) != entry.bytes()) {
    return absl::DataLossError(absl::StrCat(path, ": manifest says ", entry.bytes(),
                                            " bytes, header and index make ",
                                            header->data_offset + payload));
  }
  const std::string digest = common::DigestConcatenation(
      {absl::string_view(head.data(), header->data_offset),
       absl::string_view(reinterpret_cast<const char*>(index.stored_vectors()), payload)});
  if (digest != entry.xxh3()) {
    return absl::DataLossError(absl::StrCat(
        path, ": checksum mismatch against its prebuilt index's vectors (xxh3 of header + index ",
        "vectors ", digest, ", manifest says ", entry.xxh3(),
        "): the file is corrupt or the index was built from other vectors"));
  }
  return absl::OkStatus();
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
    // Load passes an empty matrix (rows and dim only) when it has already proven the index's
    // vectors equal to the snapshot's (VectorsFileMatchesIndex).
    const bool proven = space->owned_vectors.data.empty();
    if (bytes > 0 && !proven && std::memcmp(stored, v.data, bytes) != 0) {
      return absl::DataLossError(absl::StrCat(
          "index of space '", space->name, "' was built from other vectors than the snapshot's"));
    }
    space->vectors = MatrixView(stored, v.rows, v.dim);
    space->owned_vectors = Matrix();
  } else if (space->owned_vectors.data.empty() && v.rows > 0) {
    return absl::InternalError(absl::StrCat("space '", space->name, "' has no vectors"));
  }
  space->index = std::move(index);
  return absl::OkStatus();
}

}  // namespace

// The item table dominates a large catalog's own memory (1M items: 80 MB at this size).
static_assert(sizeof(Item) <= 80, "Item grew: every byte costs 1 MB per million items");

Catalog::Catalog() : by_id_(0, ExternalIdHash{&items_}, ExternalIdEq{&items_}) {}

absl::Status CheckItemStrings(absl::string_view id, absl::string_view artist_id,
                              absl::string_view name) {
  for (absl::string_view s : {id, artist_id, name}) {
    if (s.size() > Item::kMaxStringBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("item '", id.substr(0, 64), "': a string of ", s.size(), " bytes (at most ",
                       Item::kMaxStringBytes, " for an id, artist id or name)"));
    }
  }
  return absl::OkStatus();
}

std::string SpaceOfKind(v1::ItemKind kind) {
  return (kind == v1::EPISODE || kind == v1::SHOW) ? kPodcastSpace : kMusicSpace;
}

absl::StatusOr<std::shared_ptr<const Catalog>> Catalog::Load(const std::string& dir,
                                                             const CatalogOptions& options) {
  ASSIGN_OR_RETURN(v1::SnapshotManifest manifest, ReadManifest(dir));
  std::shared_ptr<Catalog> c(new Catalog());
  c->version_ = manifest.version();
  c->source_dir_ = dir;
  c->loaded_at_ms_ = common::NowMs();

  // The graph and item table are read and turned into the compact item table on a second thread
  // while this one verifies the checksums and loads the vectors and indexes (the halves take
  // about as long; on 2 cores this nearly halves the time to ready). Nothing read is used unless
  // every checksum matched, and a checksum error is reported in preference to any parse error it
  // may have caused.
  absl::Status items_status;
  std::thread items_thread([&dir, &manifest, &c, &items_status] {
    items_status = [&]() -> absl::Status {
      const std::string items_path = absl::StrCat(dir, "/", manifest.items_file());
      if (manifest.graph_file().empty()) {  // older snapshots: the graph is derived from specs
        std::vector<ItemSpec> specs;
        RETURN_IF_ERROR(ReadItemSpecs(items_path, manifest.item_count(), &specs));
        return c->BuildItems(specs, std::nullopt);
      }
      ASSIGN_OR_RETURN(c->graph_, ReadGraph(absl::StrCat(dir, "/", manifest.graph_file())));
      // Records go straight into the compact table: no per-item allocation.
      ASSIGN_OR_RETURN(std::string bytes, common::ReadFile(items_path));
      ItemTableBuilder builder(c.get(),
                               static_cast<size_t>(std::max<int64_t>(manifest.item_count(), 0)));
      c->item_strings_.reserve(bytes.size());  // an upper bound of the strings' total size
      std::vector<std::pair<absl::string_view, float>> tags;
      int64_t n = 0;
      RETURN_IF_ERROR(ForEachItemRecord(bytes, items_path, [&](v1::ItemRecord* rec) {
        tags.clear();
        for (const auto& t : rec->tags()) tags.emplace_back(t.tag(), t.weight());
        ++n;
        return builder.Add({rec->id(), rec->artist_id(), rec->name(), rec->kind(), rec->tempo(),
                            rec->energy(), rec->popularity()},
                           tags);
      }));
      if (n != manifest.item_count()) {
        return absl::DataLossError(absl::StrCat(items_path, " holds ", n, " items, manifest says ",
                                                manifest.item_count()));
      }
      return builder.Finish();
    }();
  });
  CatalogParts parts;
  absl::Status rest = LoadSpaces(dir, manifest, options, &parts);
  items_thread.join();
  RETURN_IF_ERROR(rest);
  RETURN_IF_ERROR(items_status);
  RETURN_IF_ERROR(c->FinishBuild(std::move(parts), options));
  return std::shared_ptr<const Catalog>(std::move(c));
}

absl::Status Catalog::LoadSpaces(const std::string& dir, const v1::SnapshotManifest& manifest,
                                 const CatalogOptions& options, CatalogParts* out) {
  CatalogParts& parts = *out;
  // Every file's checksum is verified. A prebuilt index is digested as FAISS reads it, so the
  // largest file is read once; every other file is verified first (streamed, nothing kept). A
  // space with a prebuilt index is then served from the index's own copy of the vectors, proven
  // equal to the .npy file by VectorsFileMatchesIndex without reading the file into memory.
  std::vector<std::string> verified_in_load;
  for (const auto& space : manifest.spaces()) {
    if (!space.index_file().empty()) verified_in_load.push_back(space.index_file());
  }
  RETURN_IF_ERROR(VerifyFiles(dir, manifest, verified_in_load));
  for (const auto& space : manifest.spaces()) {
    const std::string path = absl::StrCat(dir, "/", space.vectors_file());
    Matrix m;
    if (!space.index_file().empty()) {
      const v1::SnapshotFile* index_entry = FindFileEntry(manifest, space.index_file());
      const v1::SnapshotFile* entry = FindFileEntry(manifest, space.vectors_file());
      if (index_entry == nullptr || entry == nullptr) {
        return absl::DataLossError(absl::StrCat(index_entry == nullptr ? space.index_file() : path,
                                                " has no checksum entry"));
      }
      const common::FileDigest index_digest = ManifestDigest(*index_entry);
      ASSIGN_OR_RETURN(
          auto idx, FaissIndex::Load(absl::StrCat(dir, "/", space.index_file()), space.dimension(),
                                     space.count(), options.index, &index_digest));
      if (idx->stored_vectors() != nullptr) {
        RETURN_IF_ERROR(VectorsFileMatchesIndex(path, *entry, *idx));
        m.rows = space.count();  // rows and dim only: the data stays in the index
        m.dim = space.dimension();
      } else {
        ASSIGN_OR_RETURN(m, ReadNpy(path));
      }
      parts.prebuilt[space.name()] = std::move(idx);
    } else {
      ASSIGN_OR_RETURN(m, ReadNpy(path));
    }
    if (m.rows != space.count() || m.dim != space.dimension()) {
      return absl::DataLossError(absl::StrCat(path, " is ", m.rows, "x", m.dim, ", manifest says ",
                                              space.count(), "x", space.dimension()));
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
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const Catalog>> Catalog::Build(CatalogParts parts,
                                                              const CatalogOptions& options) {
  std::shared_ptr<Catalog> c(new Catalog());
  c->version_ = std::move(parts.version);
  c->source_dir_ = std::move(parts.source_dir);
  c->loaded_at_ms_ = common::NowMs();
  RETURN_IF_ERROR(c->BuildItems(parts.items, std::move(parts.graph)));
  parts.items = std::vector<ItemSpec>();
  RETURN_IF_ERROR(c->FinishBuild(std::move(parts), options));
  return std::shared_ptr<const Catalog>(std::move(c));
}

absl::Status Catalog::FinishBuild(CatalogParts parts, const CatalogOptions& options) {
  absl::flat_hash_map<std::string, int32_t> space_ids;
  for (auto& [name, matrix] : parts.space_vectors) {
    auto space = std::make_unique<EmbeddingSpace>();
    space->name = name;
    space->owned_vectors = std::move(matrix);
    space->vectors = space->owned_vectors;
    if (auto pre = parts.prebuilt.find(name); pre != parts.prebuilt.end()) {
      RETURN_IF_ERROR(AttachIndex(std::move(pre->second), space.get()));
    }
    space_ids[name] = static_cast<int32_t>(spaces_.size());
    spaces_.push_back(std::move(space));
  }
  for (size_t i = 0; i < items_.size(); ++i) {
    Item& item = items_[i];
    const std::string space_name = SpaceOfKind(item.kind);
    auto it = space_ids.find(space_name);
    if (it == space_ids.end()) {
      return absl::DataLossError(absl::StrCat("item '", item.id(), "' needs space '", space_name,
                                              "', which the snapshot lacks"));
    }
    EmbeddingSpace& space = *spaces_[it->second];
    item.space = it->second;
    item.row = static_cast<int64_t>(space.row_to_item.size());
    space.row_to_item.push_back(static_cast<ItemId>(i));
    max_popularity_ = std::max(max_popularity_, item.popularity);
  }
  for (auto& space : spaces_) {
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
  // Most popular first; ties by table order. Sorting (kind, -popularity, id) keys is several
  // times faster than a stable sort of ids that reads the item table in the comparator.
  {
    struct Key {
      int kind;
      float popularity;
      ItemId id;
    };
    std::vector<Key> keys(items_.size());
    for (size_t i = 0; i < keys.size(); ++i) {
      keys[i] = {items_[i].kind, items_[i].popularity, static_cast<ItemId>(i)};
    }
    std::sort(keys.begin(), keys.end(), [](const Key& a, const Key& b) {
      if (a.kind != b.kind) return a.kind < b.kind;
      if (a.popularity != b.popularity) return a.popularity > b.popularity;
      return a.id < b.id;
    });
    for (const Key& k : keys) popular_by_kind_[k.kind].push_back(k.id);
  }
  RETURN_IF_ERROR(BuildArtists(options));
  if (options.index.huge_pages) {
    // Every hit of a search reads its row's item, tags, families and strings: rows scattered
    // over ~100 MB at 1M items, a TLB miss each with 4 KiB pages.
    std::vector<common::HugePageCollapse::Range> ranges = {
        {items_.data(), items_.size() * sizeof(Item)},
        {item_strings_.data(), item_strings_.size()},
        {item_tag_ids_.data(), item_tag_ids_.size() * sizeof(int32_t)},
        {item_families_.data(), item_families_.size() * sizeof(FamilyWeight)}};
    for (const auto& space : spaces_) {
      ranges.emplace_back(space->row_to_item.data(), space->row_to_item.size() * sizeof(ItemId));
    }
    huge_pages_ = common::HugePageCollapse(std::move(ranges));
  }
  return absl::OkStatus();
}

absl::Status Catalog::BuildItems(std::vector<ItemSpec>& specs,
                                 std::optional<KnowledgeGraph> graph) {
  if (graph) {
    graph_ = *std::move(graph);
  } else {
    // Older or hand-made snapshots: normalise tags and derive the graph here.
    const TaxonomyRules& rules = DefaultTaxonomyRules();
    std::vector<std::vector<std::string>> item_tags(specs.size());
    for (size_t i = 0; i < specs.size(); ++i) {
      for (auto& t : specs[i].tags) {
        t.name = NormalizeTag(t.name, rules);
        item_tags[i].push_back(t.name);
      }
    }
    graph_ = KnowledgeGraph::Build(item_tags, rules);
  }
  ItemTableBuilder builder(this, specs.size());
  std::vector<std::pair<absl::string_view, float>> tags;
  for (const ItemSpec& spec : specs) {
    tags.clear();
    for (const auto& t : spec.tags) tags.emplace_back(t.name, t.weight);
    RETURN_IF_ERROR(builder.Add(
        {spec.id, spec.artist_id, spec.name, spec.kind, spec.tempo, spec.energy, spec.popularity},
        tags));
  }
  return builder.Finish();
}

Catalog::ItemTableBuilder::ItemTableBuilder(Catalog* catalog, size_t expected_items) : c_(catalog) {
  c_->items_.reserve(expected_items);
  refs_.reserve(expected_items);
}

absl::Status Catalog::ItemTableBuilder::Add(
    const ItemFields& f, absl::Span<const std::pair<absl::string_view, float>> tags) {
  const size_t pos = c_->items_.size();
  if (f.id.empty()) return absl::DataLossError(absl::StrCat("item ", pos, " has an empty id"));
  if (f.kind == v1::ITEM_KIND_UNSPECIFIED || !v1::ItemKind_IsValid(f.kind)) {
    return absl::DataLossError(absl::StrCat("item '", f.id, "' has an invalid kind"));
  }
  if (!std::isfinite(f.popularity) || f.popularity < 0 || !std::isfinite(f.tempo) ||
      !std::isfinite(f.energy)) {
    return absl::DataLossError(absl::StrCat("item '", f.id, "' has a bad numeric field"));
  }
  if (absl::Status s = CheckItemStrings(f.id, f.artist_id, f.name); !s.ok()) {
    return absl::DataLossError(s.message());
  }
  // Strings and lists go to the catalog's arenas; views are made in Finish, once they stop
  // growing.
  Refs r;
  r.strings = c_->item_strings_.size();
  c_->item_strings_.append(f.id.data(), f.id.size());
  c_->item_strings_.append(f.artist_id.data(), f.artist_id.size());
  c_->item_strings_.append(f.name.data(), f.name.size());
  r.tags = c_->item_tag_ids_.size();
  r.families = c_->item_families_.size();
  Item item;
  item.id_len = static_cast<uint16_t>(f.id.size());
  item.artist_len = static_cast<uint16_t>(f.artist_id.size());
  item.name_len = static_cast<uint16_t>(f.name.size());
  item.kind = f.kind;
  item.tempo = f.tempo;
  item.energy = f.energy;
  item.popularity = f.popularity;
  weighted_.clear();
  for (const auto& [name, weight] : tags) {
    c_->item_tag_ids_.push_back(c_->graph_.TagId(name));
    weighted_.emplace_back(c_->item_tag_ids_.back(), weight);
  }
  for (const FamilyWeight& fw : c_->graph_.ProfileOf(weighted_)) {
    c_->item_families_.push_back(fw);
    if (c_->graph_.IsSeasonal(fw.family) && fw.weight >= 0.5f) item.seasonal_family = fw.family;
  }
  c_->items_.push_back(item);
  refs_.push_back(r);
  return absl::OkStatus();
}

absl::Status Catalog::ItemTableBuilder::Finish() {
  c_->item_strings_.shrink_to_fit();
  c_->item_tag_ids_.shrink_to_fit();
  c_->item_families_.shrink_to_fit();
  c_->items_.shrink_to_fit();
  const size_t n = c_->items_.size();
  c_->by_id_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    Item& item = c_->items_[i];
    const Refs& r = refs_[i];
    item.strings = c_->item_strings_.data() + r.strings;
    const size_t tags_end = i + 1 < n ? refs_[i + 1].tags : c_->item_tag_ids_.size();
    const size_t families_end = i + 1 < n ? refs_[i + 1].families : c_->item_families_.size();
    item.tag_ids = absl::MakeConstSpan(c_->item_tag_ids_.data() + r.tags, tags_end - r.tags);
    item.families =
        absl::MakeConstSpan(c_->item_families_.data() + r.families, families_end - r.families);
    if (!c_->by_id_.insert(static_cast<ItemId>(i)).second) {
      return absl::DataLossError(absl::StrCat("duplicate item id '", item.id(), "'"));
    }
  }
  refs_ = std::vector<Refs>();
  return absl::OkStatus();
}

absl::Status Catalog::BuildArtists(const CatalogOptions& options) {
  const EmbeddingSpace* music = space(kMusicSpace);
  if (music == nullptr) return absl::OkStatus();
  auto slot = [this](absl::string_view id) {
    auto [it, inserted] = artists_.by_id.emplace(id, static_cast<int32_t>(artists_.artists.size()));
    if (inserted) artists_.artists.push_back(Artist{std::string(id), "", {}, std::nullopt});
    return it->second;
  };
  // One pass in table order (items and their vector rows are read sequentially; the per-artist
  // sums stay cache-resident): track vectors are summed into their artist's row.
  const int32_t dim = music->vectors.dim;
  Matrix& table = artists_.owned_vectors;
  std::vector<float>& sums = table.data;
  for (ItemId i = 0; i < size(); ++i) {
    const Item& item = items_[i];
    int32_t a = -1;
    if (item.kind == v1::ARTIST) {
      a = slot(item.id());
      artists_.artists[a].as_item = i;
      artists_.artists[a].name = std::string(item.name());
    } else if (item.kind == v1::TRACK && !item.artist_id().empty()) {
      a = slot(item.artist_id());
      artists_.artists[a].items.push_back(i);
    } else {
      continue;
    }
    sums.resize(artists_.artists.size() * static_cast<size_t>(dim), 0.0f);
    if (item.kind == v1::TRACK && !artists_.artists[a].as_item) {
      const float* v = vector(i).data();
      float* out = sums.data() + static_cast<size_t>(a) * dim;
      for (int32_t j = 0; j < dim; ++j) out[j] += v[j];
    }
  }
  table.rows = static_cast<int64_t>(artists_.artists.size());
  table.dim = dim;
  for (size_t a = 0; a < artists_.artists.size(); ++a) {
    const Artist& artist = artists_.artists[a];
    float* out = table.mutable_row(static_cast<int64_t>(a));
    if (artist.as_item) {  // the ARTIST item's own vector wins over the mean of its tracks
      auto v = vector(*artist.as_item);
      std::copy(v.begin(), v.end(), out);
      continue;
    }
    const float inv = 1.0f / static_cast<float>(std::max<size_t>(artist.items.size(), 1));
    for (int32_t j = 0; j < dim; ++j) out[j] *= inv;
  }
  artists_.vectors = table;
  if (table.rows > 0) {
    ASSIGN_OR_RETURN(artists_.index, MakeIndex(options, table));
    if (const float* stored = artists_.index->stored_vectors(); stored != nullptr) {
      artists_.vectors = MatrixView(stored, table.rows, table.dim);
      artists_.owned_vectors = Matrix();
    }
  }
  return absl::OkStatus();
}

std::optional<ItemId> Catalog::Find(absl::string_view external_id) const {
  auto it = by_id_.find(external_id);
  if (it == by_id_.end()) return std::nullopt;
  return *it;
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
