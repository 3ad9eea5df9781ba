#include "index/knowledge_graph.h"

#include <gtest/gtest.h>

#include "offline/importers.h"
#include "tests/test_util.h"

namespace encore::index {
namespace {

constexpr int64_t kJuly15 = 1784073600000;      // 2026-07-15T00:00:00Z
constexpr int64_t kDecember20 = 1797724800000;  // 2026-12-20T00:00:00Z
constexpr int64_t kJanuary3 = 1798934400000;    // 2027-01-03T00:00:00Z

TEST(NormalizeTagTest, CaseSeparatorsPunctuationAndAliases) {
  const TaxonomyRules& r = DefaultTaxonomyRules();
  EXPECT_EQ(NormalizeTag("Hip Hop", r), "hip hop");
  EXPECT_EQ(NormalizeTag("hip-hop", r), "hip hop");
  EXPECT_EQ(NormalizeTag("HipHop", r), "hip hop");
  EXPECT_EQ(NormalizeTag("  Drum_and__Bass ", r), "drum and bass");
  EXPECT_EQ(NormalizeTag("Drum & Bass", r), "drum and bass");
  EXPECT_EQ(NormalizeTag("XMAS", r), "christmas");
  EXPECT_EQ(NormalizeTag("X-Mas", r), "christmas");
  EXPECT_EQ(NormalizeTag("R&B", r), "r and b");
  EXPECT_EQ(NormalizeTag("rnb", r), "r and b");
  EXPECT_EQ(NormalizeTag("rock'n'roll!", r), "rocknroll");
  EXPECT_EQ(NormalizeTag("Björk-ish", r), "björk ish");
  EXPECT_EQ(NormalizeTag("--", r), "");
}

TEST(TaxonomyRulesTest, ParsesAndReportsLines) {
  auto rules = ParseTaxonomyRules(
      "# comment\nalias: Hiphop = hip-hop\nparent: grunge = rock\nroot: soundtrack\n"
      "ignore: seen live\ncontains: xmas = christmas\nseasonal: christmas = 11-15..01-06\n",
      "t.txt");
  ASSERT_OK(rules);
  EXPECT_EQ(rules->alias.at("hiphop"), "hip hop");
  EXPECT_EQ(rules->parent.at("grunge"), "rock");
  EXPECT_EQ(rules->seasons.size(), 1u);
  EXPECT_EQ(rules->seasons[0].start_month(), 11);
  auto bad = ParseTaxonomyRules("root: x\nseasonal: christmas = 13-01..01-06\n", "t.txt");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("t.txt:2"), std::string::npos) << bad.status();
  EXPECT_FALSE(ParseTaxonomyRules("frobnicate: a = b\n", "t").ok());
  EXPECT_FALSE(ParseTaxonomyRules("parent: a\n", "t").ok());
  // Overrides win.
  TaxonomyRules merged = MergeRules(DefaultTaxonomyRules(), *rules);
  EXPECT_EQ(merged.parent.at("grunge"), "rock");
}

// Item tag lists exercising each rule.
std::vector<std::vector<std::string>> Corpus() {
  std::vector<std::vector<std::string>> items;
  for (int i = 0; i < 10; ++i) items.push_back({"metal", "heavy metal"});
  for (int i = 0; i < 3; ++i) items.push_back({"melodic heavy metal", "heavy metal", "metal"});
  for (int i = 0; i < 12; ++i) items.push_back({"pop"});
  for (int i = 0; i < 4; ++i) items.push_back({"swedish pop", "pop"});
  for (int i = 0; i < 20; ++i) items.push_back({"rock"});
  for (int i = 0; i < 5; ++i) items.push_back({"grunge", "rock"});
  for (int i = 0; i < 6; ++i) items.push_back({"jazz"});
  for (int i = 0; i < 4; ++i) items.push_back({"jazz", "billie holiday"});
  for (int i = 0; i < 6; ++i) items.push_back({"holiday"});
  for (int i = 0; i < 3; ++i) items.push_back({"christmas", "pop"});
  items.push_back({"christmas carols"});
  items.push_back({"seen live", "rock"});
  items.push_back({"80s", "pop"});
  items.push_back({"obscure one off"});
  return items;
}

TEST(KnowledgeGraphTest, DerivesTaxonomy) {
  KnowledgeGraph g = KnowledgeGraph::Build(Corpus(), DefaultTaxonomyRules());
  auto parent = [&](const std::string& t) {
    const int32_t id = g.TagId(t);
    EXPECT_GE(id, 0) << t;
    return g.Parent(id) < 0 ? std::string() : g.TagName(g.Parent(id));
  };
  auto family = [&](const std::string& t) {
    const int32_t f = g.FamilyOfTag(g.TagId(t));
    return f < 0 ? std::string("-") : g.FamilyName(f);
  };
  EXPECT_EQ(parent("melodic heavy metal"), "heavy metal");  // token rule
  EXPECT_EQ(parent("heavy metal"), "metal");
  EXPECT_EQ(family("melodic heavy metal"), "metal");
  EXPECT_EQ(parent("swedish pop"), "pop");
  EXPECT_EQ(parent("grunge"), "rock");                 // containment
  EXPECT_EQ(family("billie holiday"), "jazz");         // no co-occurrence with holiday
  EXPECT_EQ(family("holiday"), "christmas");           // curated
  EXPECT_EQ(family("christmas carols"), "christmas");  // contains rule
  EXPECT_EQ(family("seen live"), "-");                 // ignored
  EXPECT_EQ(family("80s"), "-");                       // decade
  EXPECT_EQ(family("obscure one off"), "-");           // too rare to be a family
  EXPECT_TRUE(g.IsA(g.TagId("melodic heavy metal"), g.TagId("metal")));
  EXPECT_FALSE(g.IsA(g.TagId("metal"), g.TagId("heavy metal")));

  const int32_t xmas = g.FamilyId("christmas");
  ASSERT_GE(xmas, 0);
  EXPECT_TRUE(g.IsSeasonal(xmas));
  EXPECT_FALSE(g.InSeason(xmas, kJuly15));
  EXPECT_TRUE(g.InSeason(xmas, kDecember20));
  EXPECT_TRUE(g.InSeason(xmas, kJanuary3));  // the window wraps the new year
  EXPECT_TRUE(g.InSeason(g.FamilyId("rock"), kJuly15));

  // Profiles: weights by family, normalised.
  FamilyProfile p = g.ProfileOf({{g.TagId("heavy metal"), 1.0f},
                                 {g.TagId("metal"), 1.0f},
                                 {g.TagId("pop"), 2.0f},
                                 {g.TagId("seen live"), 5.0f}});
  ASSERT_EQ(p.size(), 2u);
  EXPECT_FLOAT_EQ(p[0].weight, 0.5f);
  EXPECT_FLOAT_EQ(p[1].weight, 0.5f);
  FamilyProfile q = g.ProfileOf({{g.TagId("pop"), 1.0f}});
  EXPECT_FLOAT_EQ(ProfileOverlap(p, q), 0.5f);
  EXPECT_FLOAT_EQ(ProfileOverlap(q, q), 1.0f);
}

TEST(KnowledgeGraphTest, ProtoRoundTripAndCorruption) {
  KnowledgeGraph g = KnowledgeGraph::Build(Corpus(), DefaultTaxonomyRules());
  ASSERT_OK_AND_ASSIGN(KnowledgeGraph back, KnowledgeGraph::FromProto(g.ToProto()));
  EXPECT_EQ(back.num_families(), g.num_families());
  EXPECT_EQ(back.FamilyName(back.FamilyOfTag(back.TagId("swedish pop"))), "pop");
  EXPECT_FALSE(back.InSeason(back.FamilyId("christmas"), kJuly15));
  v1::KnowledgeGraph cyclic;
  auto* a = cyclic.add_tags();
  a->set_tag("a");
  a->set_parent("b");
  auto* b = cyclic.add_tags();
  b->set_tag("b");
  b->set_parent("a");
  EXPECT_EQ(KnowledgeGraph::FromProto(cyclic).status().code(), absl::StatusCode::kDataLoss);
  v1::KnowledgeGraph dangling;
  auto* c = dangling.add_tags();
  c->set_tag("c");
  c->set_parent("nowhere");
  EXPECT_FALSE(KnowledgeGraph::FromProto(dangling).ok());
}

TEST(KnowledgeGraphTest, LastfmTaxonomyWhenPresent) {
  const std::string dir = testing::LastfmDir();
  if (dir.empty()) GTEST_SKIP() << "Last.fm 2k dataset not found (../shared/data/lastfm-2k)";
  ASSERT_OK_AND_ASSIGN(offline::LastfmData d, offline::ImportLastfm(dir));
  const TaxonomyRules& rules = DefaultTaxonomyRules();
  std::vector<std::vector<std::string>> tags;
  for (const auto& a : d.artists) {
    tags.emplace_back();
    for (const auto& t : a.tags()) tags.back().push_back(NormalizeTag(t.tag(), rules));
  }
  KnowledgeGraph g = KnowledgeGraph::Build(tags, rules);
  auto family = [&](const std::string& t) {
    const int32_t id = g.TagId(t);
    if (id < 0) return std::string("?");
    const int32_t f = g.FamilyOfTag(id);
    return f < 0 ? std::string("-") : g.FamilyName(f);
  };
  EXPECT_EQ(family("k pop"), "pop");
  EXPECT_EQ(family("heavy metal"), "metal");
  const std::string grunge = family("grunge");  // containment picks the closest common genre
  EXPECT_TRUE(grunge == "rock" || grunge == "alternative") << grunge;
  EXPECT_EQ(family("melodic death metal"), "metal");
  EXPECT_EQ(family("christmas"), "christmas");
  EXPECT_EQ(family(NormalizeTag("xmas", rules)), "christmas");
  EXPECT_EQ(family("hip hop"), "hip hop");
  EXPECT_EQ(family("seen live"), "-");
  EXPECT_NE(family("billie holiday"), "christmas");
  EXPECT_GT(g.num_families(), 20);
}

}  // namespace
}  // namespace encore::index
