#include "index/catalog.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "index/simd_distance.h"
#include "index/snapshot_format.h"
#include "index/snapshot_manager.h"
#include "offline/snapshot_builder.h"
#include "offline/synthetic.h"
#include "tests/test_util.h"

namespace encore::index {
namespace {

namespace fs = std::filesystem;

offline::SyntheticOptions SmallOptions() {
  offline::SyntheticOptions o;
  o.tracks = 3000;
  o.users = 20;
  o.shows = 5;
  o.episodes_per_show = 4;
  return o;
}

// Parts with TRACK items `ids` and a 2-column music matrix holding `data` (rows = size / 2).
CatalogParts TrackParts(const std::vector<std::string>& ids, std::vector<float> data) {
  CatalogParts parts;
  parts.version = "v";
  for (const auto& id : ids) {
    ItemSpec item;
    item.id = id;
    item.kind = v1::TRACK;
    parts.items.push_back(item);
  }
  Matrix m;
  m.dim = 2;
  m.rows = static_cast<int64_t>(data.size() / 2);
  m.data = std::move(data);
  parts.space_vectors[kMusicSpace] = std::move(m);
  return parts;
}

class SnapshotTest : public ::testing::Test {
 protected:
  std::string Publish(const std::string& version, bool prebuild = true) {
    offline::SyntheticData data = offline::GenerateSynthetic(SmallOptions());
    data.snapshot.version = version;
    offline::BuildOptions b;
    b.prebuild_index = prebuild;
    auto dir = offline::PublishSnapshot(tmp_.Sub("snapshots"), data.snapshot, b);
    EXPECT_TRUE(dir.ok()) << dir.status();
    return dir.value_or("");
  }
  testing::TempDir tmp_;
};

TEST_F(SnapshotTest, LoadsGoodSnapshot) {
  const std::string dir = Publish("v1");
  ASSERT_OK_AND_ASSIGN(auto catalog, Catalog::Load(dir, {}));
  EXPECT_EQ(catalog->version(), "v1");
  EXPECT_EQ(catalog->count(v1::TRACK), 3000);
  EXPECT_EQ(catalog->count(v1::SHOW), 5);
  EXPECT_EQ(catalog->count(v1::EPISODE), 20);
  ASSERT_NE(catalog->space(kMusicSpace), nullptr);
  EXPECT_EQ(catalog->space(kMusicSpace)->vectors.dim, 40);
  EXPECT_EQ(catalog->space(kMusicSpace)->index->type(), "flat");
  auto t1 = catalog->Find("t1");
  ASSERT_TRUE(t1.has_value());
  EXPECT_EQ(catalog->item(*t1).kind, v1::TRACK);
  EXPECT_FALSE(catalog->item(*t1).tag_ids.empty());
  EXPECT_FALSE(catalog->item(*t1).families.empty());
  EXPECT_EQ(catalog->item(*t1).id(), "t1");
  EXPECT_FALSE(catalog->Find("nope").has_value());
  EXPECT_FALSE(catalog->Find("").has_value());
  EXPECT_FALSE(catalog->Find("t1 ").has_value());
  // Every item is found under its own id.
  for (ItemId i = 0; i < catalog->size(); ++i) {
    ASSERT_EQ(catalog->Find(catalog->item(i).id()), std::optional<ItemId>(i))
        << catalog->item(i).id();
  }
  // Popular list is sorted.
  auto pop = catalog->popular(v1::TRACK);
  for (size_t i = 1; i < pop.size(); ++i) {
    EXPECT_GE(catalog->item(pop[i - 1]).popularity, catalog->item(pop[i]).popularity);
  }
  // Synthetic artists are not items: their vectors are the mean of their tracks.
  EXPECT_GT(catalog->artists().artists.size(), 100u);
  const Artist& a = catalog->artists().artists[0];
  ASSERT_FALSE(a.items.empty());
  std::vector<float> mean(40, 0.0f);
  for (ItemId t : a.items) {
    for (int j = 0; j < 40; ++j) mean[j] += catalog->vector(t)[j] / a.items.size();
  }
  for (int j = 0; j < 40; ++j) EXPECT_NEAR(catalog->artists().vectors.row(0)[j], mean[j], 1e-4);
  // The artist index keeps its own copy of the vectors; the table reads that one.
  EXPECT_EQ(catalog->artists().vectors.data, catalog->artists().index->stored_vectors());
  EXPECT_TRUE(catalog->artists().owned_vectors.data.empty());
}

// A prebuilt FAISS index keeps its own copy of the vectors: the catalog serves from that one
// and frees the copy it read from the .npy file.
// The builder writes the knowledge graph (graph.pb, listed and checksummed in the manifest) built
// with its rules, so a curated rule given at build time is what the server loads.
TEST_F(SnapshotTest, WritesTheGraphBuiltWithCuratedRules) {
  offline::SnapshotContents contents;
  contents.version = "g1";
  const std::vector<std::pair<std::string, std::string>> tagged = {
      {"i1", "Grunge"}, {"i2", "metal"}, {"i3", "rock"}, {"i4", "xmas"}};
  Matrix m;
  m.dim = 2;
  for (const auto& [id, tag] : tagged) {
    v1::ItemRecord rec;
    rec.set_id(id);
    rec.set_kind(v1::TRACK);
    auto* t = rec.add_tags();
    t->set_tag(tag);
    t->set_weight(1.0f);
    contents.items.push_back(rec);
    m.data.insert(m.data.end(), {1.0f, static_cast<float>(m.rows)});
    ++m.rows;
  }
  contents.spaces[kMusicSpace] = m;
  offline::BuildOptions b;
  ASSERT_OK_AND_ASSIGN(TaxonomyRules curated, ParseTaxonomyRules("parent: grunge = metal\n", "t"));
  b.taxonomy = MergeRules(DefaultTaxonomyRules(), curated);
  ASSERT_OK_AND_ASSIGN(std::string dir, offline::PublishSnapshot(tmp_.Sub("g"), contents, b));
  ASSERT_OK_AND_ASSIGN(v1::SnapshotManifest manifest, ReadManifest(dir));
  EXPECT_EQ(manifest.graph_file(), "graph.pb");
  EXPECT_TRUE(std::any_of(manifest.files().begin(), manifest.files().end(),
                          [](const auto& f) { return f.name() == "graph.pb"; }));
  ASSERT_OK_AND_ASSIGN(auto catalog, Catalog::Load(dir, {}));
  const KnowledgeGraph& g = catalog->graph();
  const int32_t grunge = g.TagId("grunge");  // stored normalised
  ASSERT_GE(grunge, 0);
  EXPECT_TRUE(g.IsA(grunge, g.TagId("metal")));
  EXPECT_EQ(catalog->item(*catalog->Find("i1")).tag_ids[0], grunge);
  EXPECT_EQ(catalog->item(*catalog->Find("i4")).tag_ids[0], g.TagId("christmas"));  // alias
  // Without the curated rule the two tags are unrelated.
  ASSERT_OK_AND_ASSIGN(std::string plain,
                       offline::PublishSnapshot(tmp_.Sub("p"), contents, offline::BuildOptions()));
  ASSERT_OK_AND_ASSIGN(auto plain_catalog, Catalog::Load(plain, {}));
  const KnowledgeGraph& pg = plain_catalog->graph();
  EXPECT_FALSE(pg.IsA(pg.TagId("grunge"), pg.TagId("metal")));
}

// Snapshots written before graph.pb existed still load: the graph is derived from the items'
// tags at load, as it was then.
TEST_F(SnapshotTest, LoadsSnapshotWithoutGraphFile) {
  const std::string dir = Publish("v1");
  ASSERT_OK_AND_ASSIGN(auto with_graph, Catalog::Load(dir, {}));
  ASSERT_OK_AND_ASSIGN(v1::SnapshotManifest manifest, ReadManifest(dir));
  manifest.clear_graph_file();
  auto* files = manifest.mutable_files();
  files->erase(std::remove_if(files->begin(), files->end(),
                              [](const auto& f) { return f.name() == "graph.pb"; }),
               files->end());
  ASSERT_OK_AND_ASSIGN(std::string json, ManifestToJson(manifest));
  ASSERT_OK(common::WriteFile(dir + "/" + kManifestFile, json));
  std::filesystem::remove(dir + "/graph.pb");
  ASSERT_OK_AND_ASSIGN(auto derived, Catalog::Load(dir, {}));
  EXPECT_EQ(derived->graph().num_families(), with_graph->graph().num_families());
  const ItemId t1 = *derived->Find("t1");
  ASSERT_FALSE(derived->item(t1).families.empty());
  EXPECT_EQ(derived->graph().FamilyName(derived->item(t1).families[0].family),
            with_graph->graph().FamilyName(with_graph->item(t1).families[0].family));
}

TEST_F(SnapshotTest, KeepsOneCopyOfTheVectors) {
  const std::string dir = Publish("v1");
  ASSERT_OK_AND_ASSIGN(auto catalog, Catalog::Load(dir, {}));
  const EmbeddingSpace* music = catalog->space(kMusicSpace);
  ASSERT_NE(music, nullptr);
  EXPECT_TRUE(music->owned_vectors.data.empty());
  EXPECT_EQ(music->vectors.data, music->index->stored_vectors());
  ASSERT_OK_AND_ASSIGN(Matrix on_disk, ReadNpy(dir + "/music.npy"));
  EXPECT_TRUE(std::equal(on_disk.data.begin(), on_disk.data.end(), music->vectors.data));
}

// An index whose vectors differ from the snapshot's vectors file (both with valid checksums, so
// only the comparison can tell) is refused.
TEST(CatalogBuildTest, RefusesAnIndexBuiltFromOtherVectors) {
  auto parts_with = [](std::vector<float> index_data) {
    CatalogParts parts = TrackParts({"a", "b"}, {1, 0, 0, 1});
    Matrix other = parts.space_vectors[kMusicSpace];
    other.data = std::move(index_data);
    IndexOptions o;
    o.type = "flat";
    parts.prebuilt[kMusicSpace] = std::move(FaissIndex::Build(other, o).value());
    return parts;
  };
  EXPECT_TRUE(Catalog::Build(parts_with({1, 0, 0, 1}), {}).ok());
  auto bad = Catalog::Build(parts_with({1, 0, 0.5f, 1}), {});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(bad.status().message().find("other vectors"), std::string::npos) << bad.status();
}

// IndexOptions::huge_pages also moves the item table into huge pages, in the background; the
// catalog reads the same either way, and off, nothing is moved.
TEST(CatalogBuildTest, HugePagesForTheItemTable) {
  // 60,000 items: 4.8 MB of item records, so at least one whole 2 MiB page however they lie.
  constexpr int kItems = 60000;
  auto parts = [] {
    std::vector<std::string> ids;
    std::vector<float> data;
    for (int i = 0; i < kItems; ++i) {
      ids.push_back(absl::StrCat("track-", i));
      data.push_back(static_cast<float>(i % 7));
      data.push_back(1.0f);
    }
    CatalogParts p = TrackParts(ids, std::move(data));
    for (int i = 0; i < kItems; ++i) {
      p.items[i].artist_id = absl::StrCat("artist-", i % 100);
      p.items[i].tags = {{i % 2 == 0 ? "rock" : "pop", 1.0f}};
    }
    return p;
  };
  CatalogOptions o = testing::ExactCatalogOptions();
  o.index.huge_pages = false;
  ASSERT_OK_AND_ASSIGN(auto plain, Catalog::Build(parts(), o));
  o.index.huge_pages = true;
  ASSERT_OK_AND_ASSIGN(auto huge, Catalog::Build(parts(), o));
  EXPECT_EQ(plain->huge_page_bytes(), 0u);
  // Reads during and after the collapse see what the plain catalog holds.
  for (int round = 0; round < 2; ++round) {
    ASSERT_EQ(huge->size(), plain->size());
    for (ItemId id = 0; id < huge->size(); id += 997) {
      const Item& a = huge->item(id);
      const Item& b = plain->item(id);
      EXPECT_EQ(a.id(), b.id());
      EXPECT_EQ(a.artist_id(), b.artist_id());
      EXPECT_EQ(a.row, b.row);
      EXPECT_EQ(std::vector<int32_t>(a.tag_ids.begin(), a.tag_ids.end()),
                std::vector<int32_t>(b.tag_ids.begin(), b.tag_ids.end()));
      EXPECT_EQ(huge->Find(a.id()), id);
    }
    encore::testing::ExpectHugePageBytes(huge->huge_page_bytes(), 1);  // waits for the collapse
  }
}

TEST_F(SnapshotTest, BuildsIndexWhenSnapshotHasNone) {
  const std::string dir = Publish("v1", /*prebuild=*/false);
  EXPECT_FALSE(fs::exists(dir + "/music.faiss"));
  CatalogOptions o;
  o.index.type = "hnsw";
  ASSERT_OK_AND_ASSIGN(auto catalog, Catalog::Load(dir, o));
  EXPECT_EQ(catalog->space(kMusicSpace)->index->type(), "hnsw");
  // By default the graph is walked over half floats wherever the CPU can.
  EXPECT_EQ(catalog->space(kMusicSpace)->index->graph_walk(),
            HalfKernelAvailable() ? "half" : "float");
}

// With HNSW indexes, the builder renumbers each space's rows into the graph's order
// (BuildOptions::locality_order): items and vectors move together, so every item keeps its own
// vector, strings and tags, and the index's rows map to the items whose vectors they hold. Off,
// the rows keep the order they were given in.
TEST_F(SnapshotTest, HnswRowsInGraphOrderKeepTheirItems) {
  offline::SyntheticData data = offline::GenerateSynthetic(SmallOptions());
  // What each item was given: its space's matrix row, in table order within the space.
  std::map<std::string, std::pair<std::string, int64_t>> given;  // id -> (space, row)
  std::map<std::string, const v1::ItemRecord*> records;
  std::map<std::string, int64_t> next_row;
  for (const auto& item : data.snapshot.items) {
    const std::string space = SpaceOfKind(item.kind());
    given[item.id()] = {space, next_row[space]++};
    records[item.id()] = &item;
  }
  for (const bool locality : {true, false}) {
    SCOPED_TRACE(locality ? "locality order" : "given order");
    data.snapshot.version = locality ? "ordered" : "given";
    offline::BuildOptions b;
    b.index.type = "hnsw";
    b.index.hnsw_m = 8;
    b.locality_order = locality;
    ASSERT_OK_AND_ASSIGN(const std::string dir,
                         offline::PublishSnapshot(tmp_.Sub("snapshots"), data.snapshot, b));
    ASSERT_OK_AND_ASSIGN(auto catalog, Catalog::Load(dir, {}));
    ASSERT_EQ(catalog->size(), static_cast<int64_t>(data.snapshot.items.size()));
    int64_t moved = 0, tracks = 0, searched = 0;
    for (ItemId id = 0; id < catalog->size(); ++id) {
      const Item& item = catalog->item(id);
      const auto& [space, row] = given.at(std::string(item.id()));
      const Matrix& m = data.snapshot.spaces.at(space);
      auto v = catalog->vector(id);
      ASSERT_EQ(static_cast<int64_t>(v.size()), m.dim);
      ASSERT_TRUE(std::equal(v.begin(), v.end(), m.data.begin() + row * m.dim)) << item.id();
      const v1::ItemRecord& record = *records.at(std::string(item.id()));
      EXPECT_EQ(item.kind, record.kind()) << item.id();
      EXPECT_EQ(item.artist_id(), record.artist_id()) << item.id();
      EXPECT_EQ(item.name(), record.name()) << item.id();
      EXPECT_EQ(item.tag_ids.size(), static_cast<size_t>(record.tags_size())) << item.id();
      moved += item.row != row;
      if (item.kind != v1::TRACK) continue;
      ++tracks;
      if (id % 7 != 0) continue;
      // The index's rows and the table's agree: each hit's score is the query's inner product
      // with the vector of the item the catalog maps that row to.
      const EmbeddingSpace& s = *catalog->spaces()[item.space];
      ASSERT_OK_AND_ASSIGN(auto hits, s.index->Search(v, 10, {}));
      ASSERT_EQ(hits.size(), 10u);
      for (const Neighbor& h : hits) {
        auto hv = catalog->vector(s.row_to_item[h.row]);
        EXPECT_NEAR(h.score, InnerProduct(v.data(), hv.data(), hv.size()), 1e-4) << item.id();
      }
      ++searched;
    }
    if (locality) {
      EXPECT_GT(moved, tracks / 2);
    } else {
      EXPECT_EQ(moved, 0);
    }
    EXPECT_GT(searched, 300);
  }
}

TEST_F(SnapshotTest, MissingFileIsRefused) {
  const std::string dir = Publish("v1");
  fs::remove(dir + "/music.npy");
  auto catalog = Catalog::Load(dir, {});
  EXPECT_EQ(catalog.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(catalog.status().message().find("music.npy"), std::string::npos) << catalog.status();
}

TEST_F(SnapshotTest, MissingManifestIsRefused) {
  const std::string dir = Publish("v1");
  fs::remove(dir + "/manifest.json");
  auto catalog = Catalog::Load(dir, {});
  EXPECT_FALSE(catalog.ok());
  EXPECT_NE(catalog.status().message().find("manifest"), std::string::npos);
}

TEST_F(SnapshotTest, BadChecksumIsRefused) {
  const std::string dir = Publish("v1");
  // Flip one byte inside the vectors, keeping the size.
  ASSERT_OK_AND_ASSIGN(std::string bytes, common::ReadFile(dir + "/music.npy"));
  bytes[bytes.size() - 3] ^= 0x40;
  ASSERT_OK(common::WriteFile(dir + "/music.npy", bytes));
  auto catalog = Catalog::Load(dir, {});
  EXPECT_EQ(catalog.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(catalog.status().message().find("checksum"), std::string::npos) << catalog.status();
}

// The prebuilt index is digested as FAISS reads it (not in a pass of its own): a flipped byte
// FAISS parses happily, a truncation it cannot parse, and bytes past what FAISS reads are all
// refused as checksum or size mismatches of that file.
TEST_F(SnapshotTest, CorruptIndexFileIsRefusedByItsChecksum) {
  const std::string dir = Publish("v1");
  const std::string path = dir + "/music.faiss";
  ASSERT_OK_AND_ASSIGN(const std::string good, common::ReadFile(path));
  ASSERT_GT(good.size(), 1000u);
  ASSERT_OK(Catalog::Load(dir, {}).status());

  std::string flipped = good;
  flipped[flipped.size() - 5] ^= 0x20;  // inside the stored vectors
  ASSERT_OK(common::WriteFile(path, flipped));
  auto catalog = Catalog::Load(dir, {});
  EXPECT_EQ(catalog.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(catalog.status().message().find("music.faiss checksum mismatch"), std::string::npos)
      << catalog.status();

  ASSERT_OK(common::WriteFile(path, good.substr(0, good.size() / 2)));
  catalog = Catalog::Load(dir, {});
  EXPECT_EQ(catalog.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(catalog.status().message().find(absl::StrCat("music.faiss is ", good.size() / 2,
                                                         " bytes, manifest says ", good.size())),
            std::string::npos)
      << "the parse error must give way to the size mismatch: " << catalog.status();

  ASSERT_OK(common::WriteFile(path, good + "trailing"));
  catalog = Catalog::Load(dir, {});
  EXPECT_EQ(catalog.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(catalog.status().message().find(absl::StrCat("is ", good.size() + 8, " bytes")),
            std::string::npos)
      << catalog.status();

  ASSERT_OK(common::WriteFile(path, good));
  EXPECT_OK(Catalog::Load(dir, {}).status());
}

// An index file taken from another snapshot, with the manifest's checksum entry for it updated
// so every file checksum is consistent: only the check of the vectors against the index catches
// it.
TEST_F(SnapshotTest, IndexFromAnotherSnapshotIsRefused) {
  offline::SyntheticOptions o = SmallOptions();
  offline::BuildOptions b;
  b.index.type = "hnsw";
  offline::SyntheticData a = offline::GenerateSynthetic(o);
  a.snapshot.version = "a";
  o.seed = 99;
  offline::SyntheticData other = offline::GenerateSynthetic(o);
  other.snapshot.version = "other";
  ASSERT_OK_AND_ASSIGN(std::string dir, offline::PublishSnapshot(tmp_.Sub("s"), a.snapshot, b));
  ASSERT_OK_AND_ASSIGN(std::string odir,
                       offline::PublishSnapshot(tmp_.Sub("s"), other.snapshot, b));
  ASSERT_OK(Catalog::Load(dir, {}).status());
  ASSERT_OK_AND_ASSIGN(std::string foreign, common::ReadFile(odir + "/music.faiss"));
  ASSERT_OK(common::WriteFile(dir + "/music.faiss", foreign));
  ASSERT_OK_AND_ASSIGN(v1::SnapshotManifest manifest, ReadManifest(dir));
  ASSERT_OK_AND_ASSIGN(common::FileDigest digest, common::DigestFile(dir + "/music.faiss"));
  for (auto& f : *manifest.mutable_files()) {
    if (f.name() == "music.faiss") f.set_bytes(digest.bytes), f.set_xxh3(digest.xxh3);
  }
  ASSERT_OK_AND_ASSIGN(std::string json, ManifestToJson(manifest));
  ASSERT_OK(common::WriteFile(dir + "/" + kManifestFile, json));
  auto catalog = Catalog::Load(dir, {});
  EXPECT_EQ(catalog.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(catalog.status().message().find("other vectors"), std::string::npos)
      << catalog.status();
}

TEST_F(SnapshotTest, UnlistedFileIsRefused) {
  const std::string dir = Publish("v1");
  ASSERT_OK_AND_ASSIGN(std::string json, common::ReadFile(dir + "/manifest.json"));
  ASSERT_OK_AND_ASSIGN(v1::SnapshotManifest manifest, ReadManifest(dir));
  manifest.mutable_files()->RemoveLast();  // drop a checksum entry that is still referenced
  ASSERT_OK_AND_ASSIGN(std::string edited, ManifestToJson(manifest));
  ASSERT_OK(common::WriteFile(dir + "/manifest.json", edited));
  auto catalog = Catalog::Load(dir, {});
  EXPECT_EQ(catalog.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(catalog.status().message().find("no checksum"), std::string::npos);
}

TEST_F(SnapshotTest, PublishIsAtomicAndImmutable) {
  Publish("v1");
  offline::SyntheticData data = offline::GenerateSynthetic(SmallOptions());
  data.snapshot.version = "v1";
  auto again =
      offline::PublishSnapshot(tmp_.Sub("snapshots"), data.snapshot, offline::BuildOptions());
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  // Invalid contents publish nothing, not even a temp dir.
  data.snapshot.version = "v2";
  data.snapshot.items.push_back(data.snapshot.items.front());  // duplicate id
  EXPECT_EQ(offline::PublishSnapshot(tmp_.Sub("snapshots"), data.snapshot, offline::BuildOptions())
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  data.snapshot.items.pop_back();
  data.snapshot.items.front().set_name(std::string(Item::kMaxStringBytes + 1, 'x'));
  const absl::Status long_name =
      offline::PublishSnapshot(tmp_.Sub("snapshots"), data.snapshot, offline::BuildOptions())
          .status();
  EXPECT_EQ(long_name.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(long_name.message().find("65536 bytes"), std::string::npos) << long_name;
  int entries = 0;
  for (const auto& e : fs::directory_iterator(tmp_.Sub("snapshots"))) {
    if (e.is_directory()) ++entries;
  }
  EXPECT_EQ(entries, 1);
}

TEST_F(SnapshotTest, SyntheticIsDeterministicForASeed) {
  const std::string a = Publish("a");
  const std::string b = Publish("b");
  for (const char* f : {"items.pb", "music.npy", "podcast.npy"}) {
    ASSERT_OK_AND_ASSIGN(auto da, common::DigestFile(a + "/" + f));
    ASSERT_OK_AND_ASSIGN(auto db, common::DigestFile(b + "/" + f));
    EXPECT_EQ(da.xxh3, db.xxh3) << f;
  }
  offline::SyntheticOptions other = SmallOptions();
  other.seed = 7;
  auto d1 = offline::GenerateSynthetic(SmallOptions());
  auto d2 = offline::GenerateSynthetic(other);
  EXPECT_NE(d1.snapshot.spaces[kMusicSpace].data, d2.snapshot.spaces[kMusicSpace].data);
}

TEST_F(SnapshotTest, ManagerFindsNewestAndKeepsServingOnBadSnapshot) {
  Publish("20260101T000000Z");
  // An in-progress write is ignored.
  fs::create_directories(tmp_.Sub("snapshots/.tmp-20270101T000000Z-1"));
  ASSERT_OK_AND_ASSIGN(std::string newest, FindNewestSnapshot(tmp_.Sub("snapshots")));
  EXPECT_EQ(fs::path(newest).filename(), "20260101T000000Z");

  SnapshotManager manager(testing::ExactCatalogOptions());
  EXPECT_EQ(manager.Current(), nullptr);
  ASSERT_OK_AND_ASSIGN(bool swapped, manager.Refresh(tmp_.Sub("snapshots")));
  EXPECT_TRUE(swapped);
  auto pinned = manager.Current();
  ASSERT_NE(pinned, nullptr);
  EXPECT_EQ(pinned->version(), "20260101T000000Z");
  ASSERT_OK_AND_ASSIGN(swapped, manager.Refresh(tmp_.Sub("snapshots")));
  EXPECT_FALSE(swapped);  // nothing newer

  // A newer but corrupt snapshot is refused; the old one keeps serving.
  const std::string bad = Publish("20260201T000000Z");
  fs::remove(bad + "/items.pb");
  EXPECT_FALSE(manager.Refresh(tmp_.Sub("snapshots")).ok());
  EXPECT_EQ(manager.Current()->version(), "20260101T000000Z");
  ASSERT_OK_AND_ASSIGN(swapped, manager.Refresh(tmp_.Sub("snapshots")));
  EXPECT_FALSE(swapped);  // not retried

  // A good newer one swaps in; the pinned old catalog stays valid for its holder.
  Publish("20260301T000000Z");
  ASSERT_OK_AND_ASSIGN(swapped, manager.Refresh(tmp_.Sub("snapshots")));
  EXPECT_TRUE(swapped);
  EXPECT_EQ(manager.Current()->version(), "20260301T000000Z");
  EXPECT_EQ(pinned->version(), "20260101T000000Z");
  EXPECT_TRUE(pinned->Find("t1").has_value());
}

TEST(CatalogBuildTest, RejectsDuplicatesAndMismatchedRows) {
  testing::CatalogBuilder b(2);
  b.Add("x", v1::TRACK, "a", {1, 0}).Add("x", v1::TRACK, "a", {0, 1});
  EXPECT_EQ(b.Build().status().code(), absl::StatusCode::kDataLoss);

  CatalogParts parts = TrackParts({"t"}, {1, 2, 3, 4});  // two vectors for one item
  EXPECT_EQ(Catalog::Build(std::move(parts), testing::ExactCatalogOptions()).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(CatalogBuildTest, StringsUpToTheLimitAndNoLonger) {
  const std::string longest(Item::kMaxStringBytes, 'a');
  testing::CatalogBuilder ok(2);
  ok.Add(longest, v1::TRACK, longest, {1, 0}).Add("t2", v1::TRACK, "b", {0, 1});
  ASSERT_OK_AND_ASSIGN(auto c, ok.Build());
  ASSERT_TRUE(c->Find(longest).has_value());
  const Item& item = c->item(*c->Find(longest));
  EXPECT_EQ(item.id(), longest);
  EXPECT_EQ(item.artist_id(), longest);
  EXPECT_EQ(c->item(*c->Find("t2")).artist_id(), "b");
  testing::CatalogBuilder too_long(2);
  too_long.Add(longest + "a", v1::TRACK, "a", {1, 0});
  const absl::Status s = too_long.Build().status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("65536 bytes"), std::string::npos) << s;
}

TEST(CatalogBuildTest, ArtistItemsUseTheirOwnVector) {
  testing::CatalogBuilder b(2);
  b.Add("art", v1::ARTIST, "", {5, 5}).Add("t1", v1::TRACK, "art", {1, 0});
  ASSERT_OK_AND_ASSIGN(auto c, b.Build());
  const auto& artists = c->artists();
  auto it = artists.by_id.find("art");
  ASSERT_NE(it, artists.by_id.end());
  EXPECT_EQ(artists.vectors.row(it->second)[0], 5.0f);
  EXPECT_EQ(artists.artists[it->second].items.size(), 1u);
}

}  // namespace
}  // namespace encore::index
