// Unit tests of the filters and the ranker on a small tagged catalog (ExactIndex fake).
#include "recommend/filters.h"

#include <gtest/gtest.h>

#include "recommend/pipeline.h"
#include "recommend/ranker.h"
#include "storage/in_memory_history_store.h"
#include "tests/test_util.h"

namespace encore::recommend {
namespace {

using index::ItemId;

constexpr int64_t kJuly = 1784073600000;      // 2026-07-15
constexpr int64_t kDecember = 1797724800000;  // 2026-12-20

std::shared_ptr<const index::Catalog> Tagged() {
  testing::CatalogBuilder b(2);
  b.Add("rock1", v1::TRACK, "r1", {1.0f, 0.0f}, 50).With({{"rock", 1}}, 120, 0.8f);
  b.Add("rock2", v1::TRACK, "r2", {0.95f, 0.1f}, 40)
      .With({{"indie rock", 1}, {"rock", 0.5f}}, 125, 0.7f);
  b.Add("rock3", v1::TRACK, "r2", {0.9f, 0.05f}, 45).With({{"rock", 1}}, 170, 0.75f);
  b.Add("metal1", v1::TRACK, "m1", {0.9f, -0.2f}, 30)
      .With({{"heavy metal", 1}, {"metal", 0.6f}}, 140, 0.95f);
  b.Add("pop1", v1::TRACK, "p1", {0.6f, 0.8f}, 100).With({{"pop", 1}}, 110, 0.6f);
  b.Add("spop", v1::TRACK, "p2", {0.5f, 0.85f}, 90)
      .With({{"swedish pop", 1}, {"pop", 0.5f}}, 115, 0.65f);
  b.Add("xmas", v1::TRACK, "p1", {0.8f, 0.5f}, 95)
      .With({{"christmas", 1}, {"pop", 0.3f}}, 100, 0.5f);
  b.Add("plain", v1::TRACK, "x1", {0.85f, 0.3f}, 10);  // no tags, no tempo
  // Extra corpus so the taxonomy has support for its families.
  for (int i = 0; i < 4; ++i) {
    b.Add("r" + std::to_string(i), v1::TRACK, "z", {0.0f, -1.0f}, 1).With({{"rock", 1}});
    b.Add("m" + std::to_string(i), v1::TRACK, "z", {0.0f, -1.0f}, 1).With({{"metal", 1}});
    b.Add("p" + std::to_string(i), v1::TRACK, "z", {0.0f, -1.0f}, 1).With({{"pop", 1}});
    b.Add("c" + std::to_string(i), v1::TRACK, "z", {0.0f, -1.0f}, 1).With({{"christmas", 1}});
  }
  auto c = b.Build();
  EXPECT_TRUE(c.ok()) << c.status();
  return *c;
}

class FiltersTest : public ::testing::Test {
 protected:
  FiltersTest() : catalog_(Tagged()) {}
  ItemId Id(const std::string& s) { return *catalog_->Find(s); }
  index::FamilyProfile ProfileOf(const std::string& item) {
    const auto& f = catalog_->item(Id(item)).families;
    return index::FamilyProfile(f.begin(), f.end());
  }
  CandidateFilter Make(CandidateFilter::Request r, FilterOptions o = {}) {
    auto f = CandidateFilter::Create(*catalog_, o, std::move(r));
    EXPECT_TRUE(f.ok()) << f.status();
    return *std::move(f);
  }
  std::shared_ptr<const index::Catalog> catalog_;
  FilterStats stats_;
};

TEST_F(FiltersTest, CatalogDerivesFamiliesAndSeasons) {
  const auto& g = catalog_->graph();
  EXPECT_EQ(g.FamilyName(catalog_->item(Id("spop")).families.front().family), "pop");
  EXPECT_EQ(g.FamilyName(catalog_->item(Id("metal1")).families.front().family), "metal");
  EXPECT_GE(catalog_->item(Id("xmas")).seasonal_family, 0);
  EXPECT_EQ(catalog_->item(Id("pop1")).seasonal_family, -1);
  EXPECT_TRUE(catalog_->item(Id("plain")).families.empty());
}

TEST_F(FiltersTest, CoherenceKeepsTheListenersFamilies) {
  CandidateFilter::Request r;
  r.now_ms = kJuly;
  r.listener = ProfileOf("rock1");  // a rock listener
  FilterOptions o;
  o.listener_top_families = 1;
  CandidateFilter f = Make(r, o);
  EXPECT_EQ(f.Check(Id("rock2"), &stats_), Verdict::kPass);
  EXPECT_EQ(f.Check(Id("plain"), &stats_), Verdict::kPass);  // unknown: no evidence against
  EXPECT_EQ(f.Check(Id("metal1"), &stats_), Verdict::kSoft);
  EXPECT_EQ(f.Check(Id("spop"), &stats_), Verdict::kSoft);
  EXPECT_EQ(stats_.removed[kCoherence], 2);
  o.coherence = false;
  EXPECT_EQ(Make(r, o).Check(Id("metal1"), &stats_), Verdict::kPass);
}

TEST_F(FiltersTest, SeasonalWindowSeedsAndIncludeTags) {
  CandidateFilter::Request july;
  july.now_ms = kJuly;
  EXPECT_EQ(Make(july).Check(Id("xmas"), &stats_), Verdict::kHard);
  EXPECT_EQ(stats_.removed[kSeasonal], 1);
  EXPECT_EQ(Make(july).Check(Id("pop1"), &stats_), Verdict::kPass);
  CandidateFilter::Request december;
  december.now_ms = kDecember;
  EXPECT_EQ(Make(december).Check(Id("xmas"), &stats_), Verdict::kPass);
  CandidateFilter::Request seeded = july;
  seeded.seeds = {Id("c0")};
  FilterOptions no_sonic;
  no_sonic.sonic = false;
  EXPECT_EQ(Make(seeded, no_sonic).Check(Id("xmas"), &stats_), Verdict::kPass);
  CandidateFilter::Request asked = july;
  asked.include_tags = {"Xmas"};  // normalised to christmas
  EXPECT_EQ(Make(asked).Check(Id("xmas"), &stats_), Verdict::kPass);
  FilterOptions off;
  off.seasonal = false;
  EXPECT_EQ(Make(july, off).Check(Id("xmas"), &stats_), Verdict::kPass);
}

TEST_F(FiltersTest, SonicBandAroundSeeds) {
  CandidateFilter::Request r;
  r.now_ms = kJuly;
  r.seeds = {Id("rock1")};  // 120 BPM, energy 0.8
  FilterOptions o;
  o.coherence = false;
  CandidateFilter f = Make(r, o);
  EXPECT_EQ(f.Check(Id("rock2"), &stats_), Verdict::kPass);  // 125 BPM, 0.7
  EXPECT_EQ(f.Check(Id("rock3"), &stats_), Verdict::kSoft);  // 170 BPM
  EXPECT_EQ(f.Check(Id("plain"), &stats_), Verdict::kPass);  // unknown sound
  EXPECT_EQ(stats_.removed[kSonic], 1);
  CandidateFilter unseeded = Make({kJuly, {}, {}, {}, {}, 0, 0}, o);
  EXPECT_EQ(unseeded.Check(Id("rock3"), &stats_), Verdict::kPass);
}

TEST_F(FiltersTest, RequestTagsAndTempo) {
  CandidateFilter::Request r;
  r.now_ms = kDecember;
  r.include_tags = {"metal"};
  CandidateFilter inc = Make(r);
  EXPECT_EQ(inc.Check(Id("metal1"), &stats_), Verdict::kPass);  // heavy metal is-a metal
  EXPECT_EQ(inc.Check(Id("rock1"), &stats_), Verdict::kHard);
  r.include_tags = {};
  r.exclude_tags = {"Pop"};
  CandidateFilter exc = Make(r);
  EXPECT_EQ(exc.Check(Id("spop"), &stats_), Verdict::kHard);  // swedish pop is-a pop
  EXPECT_EQ(exc.Check(Id("rock1"), &stats_), Verdict::kPass);
  r.exclude_tags = {};
  r.min_tempo = 115;
  r.max_tempo = 130;
  CandidateFilter tempo = Make(r);
  EXPECT_EQ(tempo.Check(Id("rock2"), &stats_), Verdict::kPass);
  EXPECT_EQ(tempo.Check(Id("rock3"), &stats_), Verdict::kHard);
  EXPECT_EQ(tempo.Check(Id("plain"), &stats_), Verdict::kHard);  // unknown tempo
  EXPECT_EQ(stats_.removed[kTempo], 2);

  CandidateFilter::Request bad;
  bad.include_tags = {"rock", "zydeco polka"};
  auto f = CandidateFilter::Create(*catalog_, {}, bad);
  EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(f.status().message().find("include_tags[1]"), std::string::npos);
  CandidateFilter::Request inverted;
  inverted.min_tempo = 150;
  inverted.max_tempo = 100;
  EXPECT_FALSE(CandidateFilter::Create(*catalog_, {}, inverted).ok());
}

TEST_F(FiltersTest, RankerWeightsDiversityAndCap) {
  std::vector<Candidate> pool = {{Id("rock1"), 1.0f}, {Id("rock2"), 0.99f}, {Id("pop1"), 0.5f}};
  ArtistCounts per_artist;
  RankingOptions plain;
  auto picks = RankAndSelect(*catalog_, pool, {}, plain, 3, 0, &per_artist);
  ASSERT_EQ(picks.size(), 3u);
  EXPECT_EQ(picks[0].id, Id("rock1"));
  EXPECT_EQ(picks[1].id, Id("rock2"));
  // A strong popularity prior lifts the most popular item.
  RankingOptions pop;
  pop.popularity = 20.0f;
  per_artist.clear();
  picks = RankAndSelect(*catalog_, pool, {}, pop, 1, 0, &per_artist);
  EXPECT_EQ(picks[0].id, Id("pop1"));
  // MMR: after rock1, the near-duplicate rock2 loses to the different pop1.
  RankingOptions diverse;
  diverse.diversity = 3.0f;
  per_artist.clear();
  picks = RankAndSelect(*catalog_, pool, {}, diverse, 2, 0, &per_artist);
  ASSERT_EQ(picks.size(), 2u);
  EXPECT_EQ(picks[1].id, Id("pop1"));
  // Tag affinity toward a pop listener.
  RankingOptions tags;
  tags.tag_affinity = 5.0f;
  per_artist.clear();
  picks = RankAndSelect(*catalog_, pool, ProfileOf("pop1"), tags, 1, 0, &per_artist);
  EXPECT_EQ(picks[0].id, Id("pop1"));
  EXPECT_FLOAT_EQ(picks[0].affinity, 1.0f);
  // Artist cap across calls through the shared counts.
  per_artist.clear();
  per_artist["r1"] = 1;
  picks = RankAndSelect(*catalog_, pool, {}, plain, 3, 1, &per_artist);
  for (const auto& p : picks) EXPECT_NE(p.id, Id("rock1"));
}

TEST_F(FiltersTest, ArtistCapCountsOnlyPicks) {
  const index::Item& rock1 = catalog_->item(Id("rock1"));
  ASSERT_FALSE(rock1.artist_id().empty());
  ArtistCounts per_artist;
  EXPECT_FALSE(ArtistCapped(rock1, 1, per_artist));
  EXPECT_TRUE(per_artist.empty());  // asking does not add the artist
  per_artist[rock1.artist_id()] = 1;
  EXPECT_TRUE(ArtistCapped(rock1, 1, per_artist));
  EXPECT_FALSE(ArtistCapped(rock1, 2, per_artist));
  EXPECT_FALSE(ArtistCapped(rock1, 0, per_artist));  // 0 = no cap
  // Only the picks are counted, though MMR checks every candidate's artist in each round.
  std::vector<Candidate> pool = {{Id("rock1"), 1.0f}, {Id("rock2"), 0.99f}, {Id("pop1"), 0.5f}};
  ASSERT_NE(catalog_->item(Id("pop1")).artist_id(), rock1.artist_id());
  RankingOptions diverse;
  diverse.diversity = 0.5f;
  per_artist.clear();
  auto picks = RankAndSelect(*catalog_, pool, {}, diverse, 1, 2, &per_artist);
  ASSERT_EQ(picks.size(), 1u);
  ASSERT_EQ(per_artist.size(), 1u);
  EXPECT_EQ(per_artist.begin()->second, 1);
}

TEST_F(FiltersTest, PipelineBackfillsAndExplains) {
  storage::InMemoryHistoryStore store;
  ASSERT_OK(store.Append(
      "u", std::vector<storage::HistoryEvent>{{"rock1", storage::EventType::kPlay, kJuly, 0, 3}}));
  PipelineOptions o;
  o.now_ms = [] { return kJuly; };
  o.max_per_artist = 0;
  o.ranking.tag_affinity = 0.5f;
  RecommendPipeline pipeline(&store, o);
  v1::RecommendRequest req;
  req.set_user_id("u");
  req.set_count(5);
  req.set_explain(true);
  v1::RecommendResponse resp;
  FilterStats stats;
  ASSERT_OK(pipeline.Recommend(*catalog_, req, &resp, &stats));
  ASSERT_EQ(resp.items_size(), 5);  // backfilled despite the filters
  bool has_family_reason = false;
  for (const auto& item : resp.items()) {
    EXPECT_NE(item.item_id(), "xmas");  // July
    EXPECT_NE(item.item_id(), "rock1");
    for (const auto& r : item.reasons()) has_family_reason |= r == "because_you_like:rock";
  }
  EXPECT_TRUE(has_family_reason);
  EXPECT_GT(stats.removed[kSeasonal], 0);
  for (int i = 1; i < resp.items_size(); ++i) {
    EXPECT_GE(resp.items(i - 1).score(), resp.items(i).score());
  }
  // The same request in December may contain the Christmas song; with the switch off in July too.
  req.mutable_context()->set_now_ms(kDecember);
  req.set_count(20);
  v1::RecommendResponse december;
  ASSERT_OK(pipeline.Recommend(*catalog_, req, &december));
  bool xmas = false;
  for (const auto& item : december.items()) xmas |= item.item_id() == "xmas";
  EXPECT_TRUE(xmas);
  // Unknown tags are the caller's error.
  req.add_include_tags("no such tag");
  EXPECT_EQ(pipeline.Recommend(*catalog_, req, &december).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace encore::recommend
