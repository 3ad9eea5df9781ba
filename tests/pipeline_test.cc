// Unit tests of the request pipeline on fakes: ExactIndex catalog + in-memory history.
#include "recommend/pipeline.h"

#include <gtest/gtest.h>

#include <random>

#include "storage/in_memory_history_store.h"
#include "tests/test_util.h"

namespace encore::recommend {
namespace {

using storage::EventType;
using storage::HistoryEvent;

constexpr int64_t kNow = 1790000000000;
constexpr int64_t kDay = 86400000;

std::shared_ptr<const index::Catalog> MusicCatalog() {
  testing::CatalogBuilder b(3);
  // Rock cluster around x, pop around y, jazz around z. Popularity: pop highest.
  b.Add("r1", v1::TRACK, "ra1", {1.0f, 0.05f, 0.0f}, 10)
      .Add("r2", v1::TRACK, "ra1", {0.98f, 0.0f, 0.08f}, 9)
      .Add("r3", v1::TRACK, "ra1", {0.97f, 0.1f, 0.0f}, 8)
      .Add("r4", v1::TRACK, "ra2", {0.95f, 0.0f, 0.1f}, 7)
      .Add("r5", v1::TRACK, "ra2", {0.9f, 0.1f, 0.1f}, 6)
      .Add("r6", v1::TRACK, "ra3", {0.85f, 0.15f, 0.0f}, 5)
      .Add("p1", v1::TRACK, "pa1", {0.0f, 1.0f, 0.0f}, 100)
      .Add("p2", v1::TRACK, "pa1", {0.1f, 0.95f, 0.0f}, 90)
      .Add("p3", v1::TRACK, "pa2", {0.0f, 0.9f, 0.1f}, 80)
      .Add("p4", v1::TRACK, "pa3", {0.05f, 0.9f, 0.05f}, 70)
      .Add("j1", v1::TRACK, "ja1", {0.0f, 0.0f, 1.0f}, 3)
      .Add("j2", v1::TRACK, "ja1", {0.1f, 0.0f, 0.95f}, 2)
      .Add("j3", v1::TRACK, "ja2", {0.0f, 0.1f, 0.9f}, 1)
      .Add("s1", v1::SHOW, "s1", {1.0f, 0.0f}, 50)
      .Add("e1", v1::EPISODE, "s1", {1.0f, 0.1f}, 40)
      .Add("e2", v1::EPISODE, "s1", {0.9f, 0.2f}, 30)
      .Add("e3", v1::EPISODE, "s2", {0.0f, 1.0f}, 20);
  auto c = b.Build("test-v1");
  EXPECT_TRUE(c.ok()) << c.status();
  return *c;
}

class PipelineTest : public ::testing::Test {
 protected:
  PipelineTest() : catalog_(MusicCatalog()) { Reset({}); }
  void Reset(PipelineOptions o) {
    o.now_ms = [] { return kNow; };
    pipeline_ = std::make_unique<RecommendPipeline>(&store_, o);
  }
  void Play(const std::string& user, const std::string& item, int64_t ts,
            EventType type = EventType::kPlay) {
    ASSERT_OK(store_.Append(user, std::vector<HistoryEvent>{{item, type, ts, 0}}));
  }
  std::vector<std::string> Ids(const v1::RecommendResponse& r) {
    std::vector<std::string> ids;
    for (const auto& i : r.items()) ids.push_back(i.item_id());
    return ids;
  }
  absl::StatusOr<v1::RecommendResponse> Rec(v1::RecommendRequest req) {
    v1::RecommendResponse resp;
    absl::Status s = pipeline_->Recommend(*catalog_, req, &resp);
    if (!s.ok()) return s;
    return resp;
  }
  static v1::RecommendRequest Req(const std::string& user, int count) {
    v1::RecommendRequest r;
    r.set_user_id(user);
    r.set_count(count);
    return r;
  }

  storage::InMemoryHistoryStore store_;
  std::shared_ptr<const index::Catalog> catalog_;
  std::unique_ptr<RecommendPipeline> pipeline_;
};

TEST_F(PipelineTest, ColdStartGetsPopularTracksWithArtistCap) {
  auto req = Req("new-user", 3);
  req.set_explain(true);
  ASSERT_OK_AND_ASSIGN(auto resp, Rec(req));
  EXPECT_EQ(resp.catalog_version(), "test-v1");
  // p1, p2 share artist pa1: with the default cap of 2 both may appear; p3 next.
  EXPECT_EQ(Ids(resp), (std::vector<std::string>{"p1", "p2", "p3"}));
  EXPECT_EQ(resp.items(0).reasons(0), "popular");
  EXPECT_EQ(resp.items(0).kind(), v1::TRACK);
  EXPECT_EQ(resp.items(0).artist_id(), "pa1");
}

TEST_F(PipelineTest, HistoryDrivesCandidatesAndExcludesPlayed) {
  Play("u", "r1", kNow - kDay);
  Play("u", "r4", kNow - 2 * kDay);
  auto req = Req("u", 4);
  req.set_explain(true);
  ASSERT_OK_AND_ASSIGN(auto resp, Rec(req));
  ASSERT_EQ(resp.items_size(), 4);
  for (const auto& item : resp.items()) {
    EXPECT_EQ(item.item_id()[0], 'r') << item.item_id();
    EXPECT_NE(item.item_id(), "r1");
    EXPECT_NE(item.item_id(), "r4");
    ASSERT_EQ(item.reasons_size(), 1);
    EXPECT_EQ(item.reasons(0).rfind("similar_to:r", 0), 0u) << item.reasons(0);
  }
  // Scores are non-increasing.
  for (int i = 1; i < resp.items_size(); ++i) {
    EXPECT_GE(resp.items(i - 1).score(), resp.items(i).score());
  }
}

TEST_F(PipelineTest, ObserverSeesEachIndexSearchWithItsK) {
  std::vector<std::pair<std::vector<float>, int>> seen;
  PipelineOptions o;
  o.on_index_search = [&seen](absl::Span<const float> q, int k, const index::SearchParams&) {
    seen.push_back({std::vector<float>(q.begin(), q.end()), k});
  };
  Reset(o);
  Play("u", "r1", kNow - kDay);
  Play("u", "r4", kNow - 2 * kDay);
  ASSERT_OK_AND_ASSIGN(auto resp, Rec(Req("u", 2)));
  ASSERT_EQ(resp.items_size(), 2);
  // One search of the music space: 2 results x 4 over-fetch + 2 played items excluded.
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].second, 2 * 4 + 2);
  ASSERT_EQ(seen[0].first.size(), 3u);
  EXPECT_GT(seen[0].first[0], 0.5f);  // the taste of two rock plays points along x
  // A cold listener's request searches nothing (popular backfill).
  seen.clear();
  ASSERT_OK(Rec(Req("new-user", 2)).status());
  EXPECT_TRUE(seen.empty());
}

// Searches start from the request's seeds and the listener's strongest items (alternating,
// newest plays strongest), SimilarItems from the item itself; entry_points = 0 turns that off.
TEST_F(PipelineTest, SearchesStartFromSeedsAndStrongestItems) {
  std::vector<std::vector<int64_t>> entries;
  PipelineOptions o;
  o.entry_points = 3;
  o.on_index_search = [&entries](absl::Span<const float>, int, const index::SearchParams& p) {
    entries.emplace_back(p.entry_rows.begin(), p.entry_rows.end());
  };
  Reset(o);
  auto row = [this](const std::string& id) { return catalog_->item(*catalog_->Find(id)).row; };
  Play("u", "r4", kNow - 3 * kDay);
  Play("u", "r1", kNow - kDay);
  Play("u", "r6", kNow - 2 * kDay);
  ASSERT_OK(Rec(Req("u", 2)).status());
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0], (std::vector<int64_t>{row("r1"), row("r6"), row("r4")}));

  entries.clear();
  auto seeded = Req("u", 2);
  seeded.add_seed_item_ids("p2");
  seeded.add_seed_item_ids("j1");
  ASSERT_OK(Rec(seeded).status());
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0], (std::vector<int64_t>{row("p2"), row("r1"), row("j1")}));

  entries.clear();
  v1::SimilarItemsRequest similar;
  similar.set_item_id("r2");
  similar.set_count(2);
  v1::SimilarItemsResponse similar_resp;
  ASSERT_OK(pipeline_->SimilarItems(*catalog_, similar, &similar_resp));
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0], (std::vector<int64_t>{row("r2")}));

  o.entry_points = 0;
  Reset(o);
  entries.clear();
  ASSERT_OK(Rec(seeded).status());
  ASSERT_OK(pipeline_->SimilarItems(*catalog_, similar, &similar_resp));
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_TRUE(entries[0].empty());
  EXPECT_TRUE(entries[1].empty());
}

// A taste vector near one of its entry points is searched with ef_search alone; one far from all
// of them (a listener spread over genres) with far_ef_search and the level-1 beam. SimilarItems
// starts at the item itself: never the wider search.
TEST_F(PipelineTest, FarTasteVectorsGetTheWiderSearch) {
  std::vector<std::pair<int, int>> searched;  // (ef_search, upper_ef) of each search
  PipelineOptions o;
  o.ef_search = 10;
  o.far_ef_search = 40;
  o.upper_ef = 48;
  o.on_index_search = [&searched](absl::Span<const float>, int, const index::SearchParams& p) {
    searched.emplace_back(p.ef_search, p.upper_ef);
  };
  Reset(o);
  Play("near", "r1", kNow - kDay);
  // Rock and jazz on the same day: the taste vector sits between them, cosine ~0.71 with each.
  Play("far", "r1", kNow - kDay);
  Play("far", "j1", kNow - kDay);
  auto run = [&](const std::string& user) {
    searched.clear();
    v1::RecommendResponse resp;
    FilterStats stats;
    EXPECT_OK(pipeline_->Recommend(*catalog_, Req(user, 2), &resp, &stats));
    EXPECT_EQ(resp.items_size(), 2);
    return std::make_pair(searched, stats.taste_queries);
  };
  using Searches = std::vector<std::pair<int, int>>;
  using Counts = std::array<int64_t, 2>;
  EXPECT_EQ(run("near"), std::make_pair(Searches{{10, 0}}, Counts{1, 0}));
  EXPECT_EQ(run("far"), std::make_pair(Searches{{40, 48}}, Counts{0, 1}));

  searched.clear();
  v1::SimilarItemsRequest similar;
  similar.set_item_id("r2");
  similar.set_count(2);
  v1::SimilarItemsResponse similar_resp;
  ASSERT_OK(pipeline_->SimilarItems(*catalog_, similar, &similar_resp));
  EXPECT_EQ(searched, (Searches{{10, 0}}));

  // A far_ef_search below ef_search: the far search keeps ef_search and still gets the level-1
  // beam.
  o.far_ef_search = 5;
  Reset(o);
  EXPECT_EQ(run("far"), std::make_pair(Searches{{10, 48}}, Counts{0, 1}));
  // far_cos -1: nothing is far; 1: everything not parallel to an entry point is.
  o.far_ef_search = 40;
  o.far_cos = -1.0f;
  Reset(o);
  EXPECT_EQ(run("far"), std::make_pair(Searches{{10, 0}}, Counts{1, 0}));
  o.far_cos = 1.0f;
  Reset(o);
  EXPECT_EQ(run("far"), std::make_pair(Searches{{40, 48}}, Counts{0, 1}));
  // A threshold below the listener's cosine (~0.71): near.
  o.far_cos = 0.7f;
  Reset(o);
  EXPECT_EQ(run("far"), std::make_pair(Searches{{10, 0}}, Counts{1, 0}));
}

TEST(IsFarQueryTest, ComparesTheBestCosineWithTheThreshold) {
  // Rows: x, y, a zero row, and 3x (length does not matter, only the angle).
  const std::vector<float> data = {1, 0, 0, 0, 1, 0, 0, 0, 0, 3, 0, 0};
  const index::MatrixView rows(data.data(), 4, 3);
  const std::vector<float> between = {1, 1, 0};  // cosine 0.707 with x and with y
  const std::vector<int64_t> xy = {0, 1};
  EXPECT_TRUE(IsFarQuery(rows, between, xy, 0.85f));
  EXPECT_FALSE(IsFarQuery(rows, between, xy, 0.70f));
  const std::vector<float> along_x = {2, 0.1f, 0};
  EXPECT_FALSE(IsFarQuery(rows, along_x, xy, 0.85f));
  const std::vector<int64_t> scaled_x = {3};
  EXPECT_FALSE(IsFarQuery(rows, along_x, scaled_x, 0.85f));
  // Opposite directions are as far as it gets; -1 still means "never far".
  const std::vector<float> minus_x = {-1, 0, 0};
  const std::vector<int64_t> x = {0};
  EXPECT_TRUE(IsFarQuery(rows, minus_x, x, 0.0f));
  EXPECT_FALSE(IsFarQuery(rows, minus_x, x, -1.0f));
  // 1: far unless parallel to a row.
  EXPECT_TRUE(IsFarQuery(rows, between, xy, 1.0f));
  // Nothing to compare with: never far.
  EXPECT_FALSE(IsFarQuery(rows, between, {}, 0.85f));
  const std::vector<int64_t> zero = {2};
  EXPECT_FALSE(IsFarQuery(rows, between, zero, 0.85f));
  const std::vector<float> nothing = {0, 0, 0};
  EXPECT_FALSE(IsFarQuery(rows, nothing, xy, 0.85f));
}

TEST_F(PipelineTest, ArtistCapSpreadsArtists) {
  PipelineOptions o;
  o.max_per_artist = 1;
  Reset(o);
  Play("u", "r6", kNow);
  ASSERT_OK_AND_ASSIGN(auto resp, Rec(Req("u", 4)));
  std::set<std::string> artists;
  for (const auto& item : resp.items()) {
    EXPECT_TRUE(artists.insert(item.artist_id()).second) << item.artist_id();
  }
}

TEST_F(PipelineTest, BackfillsWithPopularWhenNeighboursRunOut) {
  // Ask for everything: the rock neighbours run out and popular items fill the rest.
  Play("u", "r1", kNow);
  PipelineOptions o;
  o.max_per_artist = 0;
  Reset(o);
  ASSERT_OK_AND_ASSIGN(auto resp, Rec(Req("u", 12)));
  EXPECT_EQ(resp.items_size(), 12);  // 13 tracks minus the played one
}

TEST_F(PipelineTest, SeedsSteerColdUsers) {
  auto req = Req("cold", 2);
  req.add_seed_item_ids("j1");
  req.set_explain(true);
  ASSERT_OK_AND_ASSIGN(auto resp, Rec(req));
  EXPECT_EQ(Ids(resp), (std::vector<std::string>{"j2", "j3"}));
  EXPECT_EQ(resp.items(0).reasons(0), "seed:j1");
}

TEST_F(PipelineTest, RecencyWeighsRecentPlaysMore) {
  // Jazz long ago, rock yesterday: with a 7-day half-life rock dominates.
  PipelineOptions o;
  o.profile.half_life_days = 7;
  Reset(o);
  Play("u", "j1", kNow - 200 * kDay);
  Play("u", "j2", kNow - 201 * kDay);
  Play("u", "r1", kNow - kDay);
  ASSERT_OK_AND_ASSIGN(auto resp, Rec(Req("u", 1)));
  EXPECT_EQ(resp.items(0).item_id()[0], 'r');
}

TEST_F(PipelineTest, SkipsAndDislikesPullAway) {
  std::vector<HistoryEvent> liked = {{"r1", EventType::kPlay, kNow, 0},
                                     {"p1", EventType::kPlay, kNow, 0}};
  TasteProfile base = BuildTasteProfile(*catalog_, liked, index::kMusicSpace, {});
  std::vector<HistoryEvent> with_dislike = liked;
  with_dislike.push_back({"p2", EventType::kDislike, kNow, 0});
  TasteProfile pulled = BuildTasteProfile(*catalog_, with_dislike, index::kMusicSpace, {});
  ASSERT_EQ(base.vector.size(), 3u);
  EXPECT_LT(pulled.vector[1], base.vector[1]);  // less pop
  EXPECT_TRUE(pulled.seen.contains(*catalog_->Find("p2")));
  // Only negative signal: no taste at all.
  std::vector<HistoryEvent> only_skips = {{"r1", EventType::kSkip, kNow, 0}};
  EXPECT_TRUE(BuildTasteProfile(*catalog_, only_skips, index::kMusicSpace, {}).vector.empty());
  // Unknown items are ignored.
  std::vector<HistoryEvent> unknown = {{"gone", EventType::kPlay, kNow, 0}};
  EXPECT_TRUE(BuildTasteProfile(*catalog_, unknown, index::kMusicSpace, {}).vector.empty());
}

TEST_F(PipelineTest, KindsSelectSpacesAndInterleave) {
  Play("u", "e1", kNow);
  Play("u", "r1", kNow);
  auto req = Req("u", 4);
  req.add_kinds(v1::EPISODE);
  ASSERT_OK_AND_ASSIGN(auto episodes, Rec(req));
  ASSERT_GE(episodes.items_size(), 1);
  EXPECT_EQ(episodes.items(0).item_id(), "e2");
  for (const auto& i : episodes.items()) EXPECT_EQ(i.kind(), v1::EPISODE);

  req.add_kinds(v1::TRACK);
  ASSERT_OK_AND_ASSIGN(auto mixed, Rec(req));
  ASSERT_EQ(mixed.items_size(), 4);
  EXPECT_EQ(mixed.items(0).kind(), v1::EPISODE);
  EXPECT_EQ(mixed.items(1).kind(), v1::TRACK);
}

TEST_F(PipelineTest, InvalidRequestsNameTheField) {
  auto expect_invalid = [&](v1::RecommendRequest req, const std::string& field) {
    auto r = Rec(req);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << field;
    EXPECT_NE(r.status().message().find(field), std::string::npos) << r.status();
  };
  expect_invalid(Req("", 5), "user_id");
  expect_invalid(Req("u", 501), "count");
  expect_invalid(Req("u", -1), "count");
  auto bad_kind = Req("u", 5);
  bad_kind.add_kinds(static_cast<v1::ItemKind>(42));
  expect_invalid(bad_kind, "kinds[0]");
  auto empty_seed = Req("u", 5);
  empty_seed.add_seed_item_ids("");
  expect_invalid(empty_seed, "seed_item_ids[0]");
  auto unknown_seed = Req("u", 5);
  unknown_seed.add_seed_item_ids("nope");
  auto r = Rec(unknown_seed);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("nope"), std::string::npos);
  // count 0 means the default.
  ASSERT_OK_AND_ASSIGN(auto defaulted, Rec(Req("u", 0)));
  // 13 tracks exist; the cap of 2 per artist leaves out r3.
  EXPECT_EQ(defaulted.items_size(), 12);
}

v1::RecordEventsRequest Events(const std::string& user,
                               std::vector<std::tuple<std::string, v1::EventType, int64_t>> es) {
  v1::RecordEventsRequest r;
  r.set_user_id(user);
  for (const auto& [item, type, ts] : es) {
    auto* e = r.add_events();
    e->set_item_id(item);
    e->set_type(type);
    e->set_timestamp_ms(ts);
  }
  return r;
}

TEST_F(PipelineTest, RecordEventsIsVisibleToTheNextRecommend) {
  v1::RecordEventsResponse resp;
  ASSERT_OK(pipeline_->RecordEvents(*catalog_, Events("u", {{"j1", v1::LIKE, kNow}}), &resp));
  EXPECT_EQ(resp.accepted(), 1);
  ASSERT_OK_AND_ASSIGN(auto recs, Rec(Req("u", 2)));
  EXPECT_EQ(Ids(recs), (std::vector<std::string>{"j2", "j3"}));
}

TEST_F(PipelineTest, RecordEventsValidatesAllBeforeWritingAny) {
  struct Case {
    v1::RecordEventsRequest req;
    std::string field;
  };
  std::vector<Case> cases = {
      {Events("", {{"r1", v1::PLAY, kNow}}), "user_id"},
      {Events("u", {}), "events"},
      {Events("u", {{"r1", v1::PLAY, kNow}, {"", v1::PLAY, kNow}}), "events[1].item_id"},
      {Events("u", {{"r1", v1::PLAY, kNow}, {"zzz", v1::PLAY, kNow}}), "events[1].item_id"},
      {Events("u", {{"r1", v1::EVENT_TYPE_UNSPECIFIED, kNow}}), "events[0].type"},
      {Events("u", {{"r1", v1::PLAY, kNow + 2 * kDay}}), "events[0].timestamp_ms"},
      {Events("u", {{"r1", v1::PLAY, 12}}), "events[0].timestamp_ms"},
  };
  for (const auto& c : cases) {
    v1::RecordEventsResponse resp;
    absl::Status s = pipeline_->RecordEvents(*catalog_, c.req, &resp);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_NE(s.message().find(c.field), std::string::npos) << s;
  }
  v1::RecordEventsRequest too_many = Events("u", {});
  for (int i = 0; i < 1001; ++i) {
    auto* e = too_many.add_events();
    e->set_item_id("r1");
    e->set_type(v1::PLAY);
    e->set_timestamp_ms(kNow - i);
  }
  v1::RecordEventsResponse resp;
  EXPECT_EQ(pipeline_->RecordEvents(*catalog_, too_many, &resp).code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(auto history, store_.Read("u", 10000));
  EXPECT_TRUE(history.empty());
}

TEST_F(PipelineTest, StoreFailureIsReported) {
  store_.FailNextAppend(absl::UnavailableError("disk on fire"));
  v1::RecordEventsResponse resp;
  absl::Status s = pipeline_->RecordEvents(*catalog_, Events("u", {{"r1", v1::PLAY, kNow}}), &resp);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(resp.accepted(), 0);
}

// A pipeline with the taste-profile cache over its own store, fed the same writes as the
// fixture's uncached one.
class CachedPipelineTest : public PipelineTest {
 protected:
  CachedPipelineTest() {
    PipelineOptions o;
    o.now_ms = [] { return kNow; };
    o.profile_cache_bytes = 1 << 20;
    cached_ = std::make_unique<RecommendPipeline>(&cached_store_, o);
  }
  // Records on both pipelines; both must accept.
  void Record(const v1::RecordEventsRequest& req) {
    v1::RecordEventsResponse a, b;
    ASSERT_OK(pipeline_->RecordEvents(*catalog_, req, &a));
    ASSERT_OK(cached_->RecordEvents(*catalog_, req, &b));
  }
  absl::StatusOr<v1::RecommendResponse> CachedRec(const index::Catalog& catalog,
                                                  const v1::RecommendRequest& req,
                                                  FilterStats* stats = nullptr) {
    v1::RecommendResponse resp;
    absl::Status s = cached_->Recommend(catalog, req, &resp, stats);
    if (!s.ok()) return s;
    return resp;
  }

  storage::InMemoryHistoryStore cached_store_;
  std::unique_ptr<RecommendPipeline> cached_;
};

TEST_F(CachedPipelineTest, AnswersExactlyAsWithoutTheCache) {
  const std::vector<std::string> items = {"r1", "r2", "r3", "r4", "r5", "r6", "p1", "p2", "p3",
                                          "p4", "j1", "j2", "j3", "s1", "e1", "e2", "e3"};
  const std::vector<v1::EventType> types = {v1::PLAY, v1::PLAY, v1::LIKE, v1::SKIP, v1::DISLIKE};
  std::mt19937 rng(7);
  int64_t hits = 0, misses = 0;
  for (int step = 0; step < 400; ++step) {
    const std::string user = absl::StrCat("u", rng() % 4);
    if (rng() % 3 == 0) {
      ASSERT_NO_FATAL_FAILURE(
          Record(Events(user, {{items[rng() % items.size()], types[rng() % types.size()],
                                kNow - static_cast<int64_t>(rng() % 60) * kDay}})));
      continue;
    }
    auto req = Req(user, 3);
    req.set_explain(true);
    if (rng() % 2 == 0) req.add_kinds(v1::EPISODE);
    req.add_kinds(v1::TRACK);
    FilterStats stats;
    ASSERT_OK_AND_ASSIGN(auto want, Rec(req));
    ASSERT_OK_AND_ASSIGN(auto got, CachedRec(*catalog_, req, &stats));
    ASSERT_EQ(got.SerializeAsString(), want.SerializeAsString())
        << "step " << step << "\ncached:\n"
        << got.DebugString() << "uncached:\n"
        << want.DebugString();
    hits += stats.profile_cache[0];
    misses += stats.profile_cache[1];
  }
  // Both paths ran: returning listeners hit, and every write forced a rebuild.
  EXPECT_GT(hits, 50);
  EXPECT_GT(misses, 50);
  EXPECT_EQ(cached_->profile_cache()->stats().hits, hits);
  EXPECT_EQ(pipeline_->profile_cache(), nullptr);
}

TEST_F(CachedPipelineTest, RecordEventsIsVisibleToTheNextRecommend) {
  ASSERT_NO_FATAL_FAILURE(Record(Events("u", {{"r1", v1::PLAY, kNow}})));
  ASSERT_OK_AND_ASSIGN(auto rock, CachedRec(*catalog_, Req("u", 2)));
  EXPECT_EQ(rock.items(0).item_id()[0], 'r');
  FilterStats stats;
  ASSERT_OK_AND_ASSIGN(auto again, CachedRec(*catalog_, Req("u", 2), &stats));
  EXPECT_EQ(stats.profile_cache[0], 1) << "the second Recommend is served from the cache";
  // Jazz, loved much more recently: the taste moves at once.
  ASSERT_NO_FATAL_FAILURE(Record(Events("u", {{"j1", v1::LIKE, kNow + 1}})));
  ASSERT_NO_FATAL_FAILURE(Record(Events("u", {{"j2", v1::LIKE, kNow + 2}})));
  ASSERT_NO_FATAL_FAILURE(Record(Events("u", {{"r1", v1::DISLIKE, kNow + 3}})));
  FilterStats after_writes;
  ASSERT_OK_AND_ASSIGN(auto jazz, CachedRec(*catalog_, Req("u", 2), &after_writes));
  EXPECT_EQ(after_writes.profile_cache[1], 1);
  ASSERT_GE(jazz.items_size(), 1);
  EXPECT_EQ(jazz.items(0).item_id(), "j3");
}

TEST_F(CachedPipelineTest, ANewCatalogRebuildsTheProfile) {
  ASSERT_NO_FATAL_FAILURE(Record(Events("u", {{"r1", v1::PLAY, kNow}})));
  ASSERT_OK_AND_ASSIGN(auto before, CachedRec(*catalog_, Req("u", 2)));
  ASSERT_EQ(before.items(0).item_id()[0], 'r');
  // The same ids in another order: every catalog id differs, so a stale profile would point at
  // other items.
  ASSERT_OK_AND_ASSIGN(auto swapped, testing::CatalogBuilder(3)
                                         .Add("j1", v1::TRACK, "ja1", {0.0f, 0.0f, 1.0f})
                                         .Add("j2", v1::TRACK, "ja1", {0.1f, 0.0f, 0.95f})
                                         .Add("r2", v1::TRACK, "ra1", {0.98f, 0.0f, 0.08f})
                                         .Add("r1", v1::TRACK, "ra1", {1.0f, 0.05f, 0.0f})
                                         .Build("test-v2"));
  FilterStats stats;
  ASSERT_OK_AND_ASSIGN(auto after, CachedRec(*swapped, Req("u", 3), &stats));
  EXPECT_EQ(stats.profile_cache[1], 1);
  EXPECT_EQ(after.catalog_version(), "test-v2");
  // r1 was played: not recommended back; r2 is the nearest.
  ASSERT_GE(after.items_size(), 1);
  EXPECT_EQ(after.items(0).item_id(), "r2");
  for (const auto& item : after.items()) EXPECT_NE(item.item_id(), "r1");
}

TEST_F(CachedPipelineTest, AFailedReadIsNotCached) {
  // An unreadable user id never reaches the store or the cache.
  auto bad = Req(std::string(300, 'x'), 2);
  EXPECT_EQ(CachedRec(*catalog_, bad).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cached_->profile_cache()->stats().entries, 0);
}

TEST_F(PipelineTest, SimilarItemsSameKindWithoutSelf) {
  v1::SimilarItemsRequest req;
  req.set_item_id("r1");
  req.set_count(3);
  req.set_explain(true);
  v1::SimilarItemsResponse resp;
  ASSERT_OK(pipeline_->SimilarItems(*catalog_, req, &resp));
  ASSERT_EQ(resp.items_size(), 3);
  for (const auto& i : resp.items()) {
    EXPECT_NE(i.item_id(), "r1");
    EXPECT_EQ(i.item_id()[0], 'r');
    EXPECT_EQ(i.reasons(0), "similar_to:r1");
  }
  req.set_item_id("missing");
  v1::SimilarItemsResponse none;
  absl::Status s = pipeline_->SimilarItems(*catalog_, req, &none);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(s.message().find("missing"), std::string::npos);
  req.set_item_id("");
  EXPECT_EQ(pipeline_->SimilarItems(*catalog_, req, &none).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(PipelineTest, SimilarArtists) {
  v1::SimilarArtistsRequest req;
  req.set_artist_id("ra1");
  req.set_count(2);
  v1::SimilarArtistsResponse resp;
  ASSERT_OK(pipeline_->SimilarArtists(*catalog_, req, &resp));
  ASSERT_EQ(resp.artists_size(), 2);
  EXPECT_EQ(resp.artists(0).kind(), v1::ARTIST);
  std::set<std::string> got = {resp.artists(0).item_id(), resp.artists(1).item_id()};
  EXPECT_EQ(got, (std::set<std::string>{"ra2", "ra3"}));
  req.set_artist_id("nobody");
  absl::Status s = pipeline_->SimilarArtists(*catalog_, req, &resp);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(s.message().find("nobody"), std::string::npos);
}

}  // namespace
}  // namespace encore::recommend
