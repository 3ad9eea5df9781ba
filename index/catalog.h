// Catalog: one immutable, versioned snapshot of everything the server recommends from.
#ifndef ENCORE_INDEX_CATALOG_H_
#define ENCORE_INDEX_CATALOG_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/huge_pages.h"
#include "encore/v1/recommender.pb.h"
#include "encore/v1/snapshot.pb.h"
#include "index/embedding_index.h"
#include "index/faiss_index.h"
#include "index/foldin.h"
#include "index/knowledge_graph.h"
#include "index/matrix.h"

namespace encore::index {

// Dense internal item id: position in the item table. Never leaves the process.
using ItemId = int32_t;

inline constexpr char kMusicSpace[] = "music";
inline constexpr char kPodcastSpace[] = "podcast";

// The embedding space of a kind: TRACK and ARTIST live in "music", EPISODE and SHOW in "podcast".
std::string SpaceOfKind(v1::ItemKind kind);

struct Tag {
  std::string name;
  float weight = 0.0f;
};

// An item as a snapshot record or a test describes it: owns its strings. Input to Catalog::Build.
struct ItemSpec {
  std::string id;  // stable external id
  v1::ItemKind kind = v1::TRACK;
  std::string artist_id;
  std::string name;
  std::vector<Tag> tags;
  float tempo = 0.0f;    // BPM, 0 = unknown
  float energy = -1.0f;  // 0..1, negative = unknown
  float popularity = 0.0f;
};

// An item of a loaded catalog. Compact (a 1M-item catalog is dominated by its item table: 80
// bytes a record): the strings and lists are views into storage the Catalog owns, valid for the
// Catalog's lifetime.
struct Item {
  // Longest id, artist id or name a catalog accepts, in bytes.
  static constexpr size_t kMaxStringBytes = 65535;

  absl::string_view id() const { return {strings, id_len}; }  // stable external id
  absl::string_view artist_id() const { return {strings + id_len, artist_len}; }
  absl::string_view name() const { return {strings + id_len + artist_len, name_len}; }

  absl::Span<const int32_t> tag_ids;        // knowledge-graph tag ids; -1 = unknown tag
  absl::Span<const FamilyWeight> families;  // weighted genre families, heaviest first
  const char* strings = nullptr;            // id, artist id and name, back to back
  v1::ItemKind kind = v1::TRACK;
  float tempo = 0.0f;    // BPM, 0 = unknown
  float energy = -1.0f;  // 0..1, negative = unknown
  float popularity = 0.0f;
  int32_t space = -1;            // index into Catalog::spaces()
  int32_t seasonal_family = -1;  // a seasonal family holding >= half the profile, else -1
  int64_t row = -1;              // row in that space's matrix
  uint16_t id_len = 0;
  uint16_t artist_len = 0;
  uint16_t name_len = 0;
};

// OK when an item's id, artist id and name each fit Item::kMaxStringBytes, else
// INVALID_ARGUMENT naming the item. The snapshot builder and Catalog's loader both apply it.
absl::Status CheckItemStrings(absl::string_view id, absl::string_view artist_id,
                              absl::string_view name);

// Vectors of one space plus the index over them; row r belongs to item row_to_item[r].
struct EmbeddingSpace {
  std::string name;
  // The space's vectors: a view of owned_vectors, or of the index's own copy when the index
  // keeps one (then owned_vectors is empty, so each vector is in memory once).
  MatrixView vectors;
  Matrix owned_vectors;
  std::unique_ptr<EmbeddingIndex> index;
  std::vector<ItemId> row_to_item;
  // Present when the vectors are implicit-ALS item factors (fold-in possible).
  std::optional<FoldInModel> foldin;
};

struct Artist {
  std::string id;
  std::string name;               // from the ARTIST item when the catalog has one
  std::vector<ItemId> items;      // TRACK items by this artist
  std::optional<ItemId> as_item;  // the ARTIST item itself, if any
};

// Artists with one vector each: the ARTIST item's own vector when the catalog has one, otherwise
// the mean of its tracks' vectors. Only music-space artists are indexed.
struct ArtistTable {
  std::vector<Artist> artists;
  // Row i = artists[i]: a view of owned_vectors, or of the index's own copy when the index keeps
  // one (then owned_vectors is empty, so each vector is in memory once).
  MatrixView vectors;
  Matrix owned_vectors;
  std::unique_ptr<EmbeddingIndex> index;
  absl::flat_hash_map<std::string, int32_t> by_id;
};

// Builds an index over `vectors`. REQUIRES: `vectors` outlives the returned index.
using IndexFactory = std::function<absl::StatusOr<std::unique_ptr<EmbeddingIndex>>(
    MatrixView vectors, const IndexOptions& options)>;

struct CatalogOptions {
  IndexOptions index;
  // Default (empty): FAISS (FaissIndex::Build). Tests pass an ExactIndex factory.
  IndexFactory index_factory;
};

// Input for Catalog::Build: items in table order plus one matrix per space.
struct CatalogParts {
  std::string version;
  std::string source_dir;
  std::vector<ItemSpec> items;
  // A matrix may hold rows and dim but no data when the space's prebuilt index holds the
  // vectors (Load does this after proving them equal to the snapshot's vectors file).
  std::map<std::string, Matrix> space_vectors;
  // Prebuilt indexes by space name (optional).
  std::map<std::string, std::unique_ptr<EmbeddingIndex>> prebuilt;
  // ALS parameters by space name (optional); the Gramian is computed by Build.
  std::map<std::string, FoldInModel> foldin;
  // The knowledge graph; when absent, Build derives one from the items' tags with the
  // built-in rules (tags are normalised first).
  std::optional<KnowledgeGraph> graph;
};

// Immutable after construction; every method is const and thread-safe. Shared between requests
// as std::shared_ptr<const Catalog>, so a request sees one version from start to end.
class Catalog {
 public:
  // Loads and verifies a snapshot directory (manifest.json, checksums, items, vectors, indexes)
  // and builds everything; errors name the file and the reason. Nothing is visible on failure.
  static absl::StatusOr<std::shared_ptr<const Catalog>> Load(const std::string& dir,
                                                             const CatalogOptions& options);
  // Builds a catalog from in-memory parts: validates ids, rows and dimensions.
  static absl::StatusOr<std::shared_ptr<const Catalog>> Build(CatalogParts parts,
                                                              const CatalogOptions& options);

  const std::string& version() const { return version_; }
  const std::string& source_dir() const { return source_dir_; }
  int64_t loaded_at_ms() const { return loaded_at_ms_; }

  int32_t size() const { return static_cast<int32_t>(items_.size()); }
  const Item& item(ItemId id) const { return items_[id]; }
  absl::Span<const Item> items() const { return items_; }
  // Internal id of an external item id.
  std::optional<ItemId> Find(absl::string_view external_id) const;

  const std::vector<std::unique_ptr<EmbeddingSpace>>& spaces() const { return spaces_; }
  // Space by name, or nullptr.
  const EmbeddingSpace* space(absl::string_view name) const;
  // The item's embedding (dimension of its space).
  absl::Span<const float> vector(ItemId id) const;

  // Items of `kind`, most popular first.
  absl::Span<const ItemId> popular(v1::ItemKind kind) const;
  // Number of items of `kind`.
  int64_t count(v1::ItemKind kind) const { return popular(kind).size(); }
  // The largest item popularity in the catalog (computed at load).
  float max_popularity() const { return max_popularity_; }

  const ArtistTable& artists() const { return artists_; }

  const KnowledgeGraph& graph() const { return graph_; }

  // Bytes of the item table (records, strings, tag and family lists) and the spaces' row maps
  // the kernel put in transparent huge pages (IndexOptions::huge_pages); 0 where it declined.
  // Waits for the collapse, which runs in the background after load. The indexes report their
  // own (FaissIndex::huge_page_bytes).
  size_t huge_page_bytes() const { return huge_pages_.bytes(); }

 private:
  Catalog();
  Catalog(const Catalog&) = delete;  // by_id_'s functors point at this object's items_
  Catalog& operator=(const Catalog&) = delete;
  // Verifies the snapshot's checksums, then reads its vectors and indexes into `out`.
  static absl::Status LoadSpaces(const std::string& dir, const v1::SnapshotManifest& manifest,
                                 const CatalogOptions& options, CatalogParts* out);
  // After BuildItems: spaces and indexes from `parts`, popular lists, artists.
  absl::Status FinishBuild(CatalogParts parts, const CatalogOptions& options);
  absl::Status BuildItems(std::vector<ItemSpec>& specs, std::optional<KnowledgeGraph> graph);
  // Appends items to the table one at a time (graph_ must be set), validating each; Finish
  // makes the views and the id map. Used by BuildItems and, without any per-item allocation,
  // straight from the parsed records by Load.
  struct ItemFields {
    absl::string_view id, artist_id, name;
    v1::ItemKind kind;
    float tempo, energy, popularity;
  };
  class ItemTableBuilder {
   public:
    ItemTableBuilder(Catalog* catalog, size_t expected_items);
    absl::Status Add(const ItemFields& fields,
                     absl::Span<const std::pair<absl::string_view, float>> tags);
    absl::Status Finish();

   private:
    struct Refs {
      size_t strings;
      size_t tags;
      size_t families;
    };
    Catalog* c_;
    std::vector<Refs> refs_;
    std::vector<std::pair<int32_t, float>> weighted_;
  };
  absl::Status BuildArtists(const CatalogOptions& options);

  std::string version_;
  std::string source_dir_;
  int64_t loaded_at_ms_ = 0;
  std::vector<Item> items_;
  // Storage behind the items' views.
  std::string item_strings_;
  std::vector<int32_t> item_tag_ids_;
  std::vector<FamilyWeight> item_families_;
  // Item ids by external id: a set of ItemIds hashed and compared through items_[id].id, so a
  // slot holds 4 bytes instead of a (string_view, ItemId) pair's 24 (40 MB less at 1M items).
  struct ExternalIdHash {
    using is_transparent = void;
    const std::vector<Item>* items;
    size_t operator()(absl::string_view id) const { return absl::Hash<absl::string_view>{}(id); }
    size_t operator()(ItemId id) const { return (*this)((*items)[id].id()); }
  };
  struct ExternalIdEq {
    using is_transparent = void;
    const std::vector<Item>* items;
    absl::string_view Of(absl::string_view id) const { return id; }
    absl::string_view Of(ItemId id) const { return (*items)[id].id(); }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return Of(a) == Of(b);
    }
  };
  absl::flat_hash_set<ItemId, ExternalIdHash, ExternalIdEq> by_id_;
  std::vector<std::unique_ptr<EmbeddingSpace>> spaces_;
  std::map<int, std::vector<ItemId>> popular_by_kind_;
  float max_popularity_ = 0.0f;
  ArtistTable artists_;
  KnowledgeGraph graph_;
  // The item table and the row maps collapsing into huge pages in the background
  // (CatalogOptions::index.huge_pages). Last member: destroyed first, it waits for the collapse
  // before the tables go.
  common::HugePageCollapse huge_pages_;
};

}  // namespace encore::index

#endif  // ENCORE_INDEX_CATALOG_H_
