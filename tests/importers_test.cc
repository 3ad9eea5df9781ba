#include "offline/importers.h"

#include <gtest/gtest.h>

#include "common/file_util.h"
#include "offline/evaluation.h"
#include "tests/test_util.h"

namespace encore::offline {
namespace {

TEST(ImportersTest, Latin1BecomesUtf8) {
  EXPECT_EQ(Latin1ToUtf8("caf\xe9"), "caf\xc3\xa9");
  EXPECT_EQ(Latin1ToUtf8("plain"), "plain");
}

TEST(ImportersTest, InteractionsWithLineNumbersOnError) {
  testing::TempDir tmp;
  ASSERT_OK(common::WriteFile(tmp.Sub("i.tsv"),
                              "user\titem\tweight\nu1\ta\t3\nu1\tb\t1\t1700\nu2\ta\t2\n"));
  ASSERT_OK_AND_ASSIGN(InteractionData d, ReadInteractions(tmp.Sub("i.tsv")));
  EXPECT_EQ(d.users.size(), 2);
  EXPECT_EQ(d.items.size(), 2);
  ASSERT_EQ(d.entries.size(), 3u);
  EXPECT_EQ(d.entries[1].timestamp_ms, 1700);
  ASSERT_OK(common::WriteFile(tmp.Sub("i.csv"), "u1,a,3\nu1,b,-1\n"));
  auto bad = ReadInteractions(tmp.Sub("i.csv"));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("i.csv:2"), std::string::npos) << bad.status();
  ASSERT_OK(common::WriteFile(tmp.Sub("j.tsv"), "u1\ta\tlots\n"));
  EXPECT_NE(ReadInteractions(tmp.Sub("j.tsv")).status().message().find("weight"),
            std::string::npos);
}

TEST(ImportersTest, ItemsTsv) {
  testing::TempDir tmp;
  ASSERT_OK(common::WriteFile(tmp.Sub("items.tsv"),
                              "id\tkind\tartist_id\tname\ttags\ttempo\tenergy\tpopularity\n"
                              "t1\ttrack\ta1\tSong\trock:1,indie:0.5\t120\t0.7\t10\n"
                              "e1\tepisode\ts1\tEp\t\t\t\t\n"));
  ASSERT_OK_AND_ASSIGN(auto items, ReadItemsTsv(tmp.Sub("items.tsv")));
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].tags_size(), 2);
  EXPECT_FLOAT_EQ(items[0].tags(1).weight(), 0.5f);
  EXPECT_EQ(items[1].kind(), v1::EPISODE);
  EXPECT_FLOAT_EQ(items[1].energy(), -1.0f);
  ASSERT_OK(common::WriteFile(tmp.Sub("bad.tsv"), "id\tkind\nx\tsong\n"));
  auto bad = ReadItemsTsv(tmp.Sub("bad.tsv"));
  EXPECT_NE(bad.status().message().find("bad.tsv:2: unknown kind"), std::string::npos)
      << bad.status();
}

TEST(ImportersTest, IdVectorsMustAgree) {
  testing::TempDir tmp;
  index::Matrix m;
  m.rows = 2;
  m.dim = 3;
  m.data = {1, 2, 3, 4, 5, 6};
  ASSERT_OK(common::WriteFile(tmp.Sub("v.npy"), index::SerializeNpy(m)));
  ASSERT_OK(WriteIds(tmp.Sub("ids.txt"), {"a", "b"}));
  ASSERT_OK_AND_ASSIGN(IdVectors v, ReadIdVectors(tmp.Sub("v.npy"), tmp.Sub("ids.txt")));
  EXPECT_EQ(v.ids, (std::vector<std::string>{"a", "b"}));
  ASSERT_OK(WriteIds(tmp.Sub("ids3.txt"), {"a", "b", "c"}));
  EXPECT_FALSE(ReadIdVectors(tmp.Sub("v.npy"), tmp.Sub("ids3.txt")).ok());
}

// A tiny HetRec-format directory.
void WriteMiniLastfm(const testing::TempDir& tmp) {
  ASSERT_OK(common::WriteFile(tmp.Sub("artists.dat"),
                              "id\tname\turl\tpictureURL\n1\tABBA\tu\tp\n2\tMetallica\tu\tp\n"));
  ASSERT_OK(common::WriteFile(tmp.Sub("user_artists.dat"),
                              "userID\tartistID\tweight\n10\t1\t500\n10\t2\t20\n11\t1\t7\n"));
  ASSERT_OK(common::WriteFile(tmp.Sub("tags.dat"),
                              "tagID\ttagValue\n1\tswedish pop\n2\theavy metal\n3\tb\xe4st\n"));
  ASSERT_OK(common::WriteFile(tmp.Sub("user_taggedartists.dat"),
                              "userID\tartistID\ttagID\tday\tmonth\tyear\n"
                              "10\t1\t1\t1\t1\t2009\n11\t1\t1\t1\t1\t2009\n10\t1\t3\t1\t1\t2009\n"
                              "10\t2\t2\t1\t1\t2009\n10\t999\t2\t1\t1\t2009\n"));
}

TEST(LastfmImportTest, MiniDirectory) {
  testing::TempDir tmp;
  WriteMiniLastfm(tmp);
  ASSERT_OK_AND_ASSIGN(LastfmData d, ImportLastfm(tmp.path()));
  ASSERT_EQ(d.artists.size(), 2u);
  EXPECT_EQ(d.artists[0].id(), "1");
  EXPECT_EQ(d.artists[0].kind(), v1::ARTIST);
  EXPECT_EQ(d.artists[0].name(), "ABBA");
  EXPECT_FLOAT_EQ(d.artists[0].popularity(), 2);  // two listeners
  ASSERT_EQ(d.artists[0].tags_size(), 2);
  EXPECT_EQ(d.artists[0].tags(0).tag(), "swedish pop");
  EXPECT_FLOAT_EQ(d.artists[0].tags(0).weight(), 1.0f);
  EXPECT_EQ(d.artists[0].tags(1).tag(), "b\xc3\xa4st");  // Latin-1 converted
  EXPECT_FLOAT_EQ(d.artists[0].tags(1).weight(), 0.5f);
  ASSERT_EQ(d.plays.entries.size(), 3u);
  EXPECT_EQ(d.plays.users.ids()[d.plays.entries[0].user], "10");
  EXPECT_EQ(d.plays.items.ids()[d.plays.entries[0].item], "1");
  EXPECT_FLOAT_EQ(d.plays.entries[0].weight, 500);

  ASSERT_OK(common::WriteFile(tmp.Sub("user_artists.dat"), "userID\tartistID\tweight\n10\t3\t5\n"));
  auto bad = ImportLastfm(tmp.path());
  EXPECT_NE(bad.status().message().find("user_artists.dat:2"), std::string::npos) << bad.status();
}

TEST(LastfmImportTest, RealDatasetWhenPresent) {
  const std::string dir = testing::LastfmDir();
  if (dir.empty()) GTEST_SKIP() << "Last.fm 2k dataset not found (../shared/data/lastfm-2k)";
  ASSERT_OK_AND_ASSIGN(LastfmData d, ImportLastfm(dir));
  EXPECT_EQ(d.artists.size(), 17632u);
  EXPECT_EQ(d.plays.entries.size(), 92834u);
  EXPECT_EQ(d.plays.users.size(), 1892);
  bool christmas = false;
  for (const auto& a : d.artists) {
    for (const auto& t : a.tags()) christmas |= t.tag() == "christmas";
  }
  EXPECT_TRUE(christmas);
}

TEST(SplitTest, PerUserEightyTenTen) {
  InteractionData d;
  for (int u = 0; u < 30; ++u) {
    const std::string user = absl::StrCat("u", u);
    for (int i = 0; i < u; ++i) {
      d.entries.push_back({d.users.Intern(user), d.items.Intern(absl::StrCat("i", i)), 1.0f, 0});
    }
  }
  Split s = SplitPerUser(d, 7);
  size_t total = s.train.size();
  for (int u = 0; u < d.users.size(); ++u) total += s.validation[u].size() + s.test[u].size();
  EXPECT_EQ(total, d.entries.size());
  for (int u = 0; u < d.users.size(); ++u) {
    int64_t n = 0;
    for (const auto& e : d.entries) n += e.user == u;
    const size_t want = n < 3 ? 0 : std::max<int64_t>(1, n / 10);
    EXPECT_EQ(s.test[u].size(), want) << n;
    EXPECT_EQ(s.validation[u].size(), want) << n;
    for (int32_t item : s.test[u]) {
      for (int32_t v : s.validation[u]) EXPECT_NE(item, v);
    }
  }
  Split again = SplitPerUser(d, 7);
  EXPECT_EQ(again.test, s.test);
  Split other = SplitPerUser(d, 8);
  EXPECT_NE(other.test, s.test);
}

TEST(ScoreTest, RecallNdcgPrecisionCoverage) {
  std::vector<std::vector<int32_t>> held = {{1, 2}, {}, {5}};
  auto ranker = [](int32_t user) -> absl::StatusOr<std::vector<int32_t>> {
    if (user == 0) return std::vector<int32_t>{1, 9, 9, 9, 9, 9, 9, 9, 9, 9, 2};
    return std::vector<int32_t>{7, 5};
  };
  ASSERT_OK_AND_ASSIGN(RankingMetrics m, Score(held, 100, ranker));
  EXPECT_EQ(m.users, 2);
  EXPECT_NEAR(m.recall_at_10, (0.5 + 1.0) / 2, 1e-9);
  EXPECT_NEAR(m.recall_at_20, 1.0, 1e-9);
  EXPECT_NEAR(m.precision_at_10, (0.1 + 0.1) / 2, 1e-9);
  const double ndcg0 = 1.0 / (1.0 + 1.0 / std::log2(3.0));
  const double ndcg1 = (1.0 / std::log2(3.0)) / 1.0;
  EXPECT_NEAR(m.ndcg_at_10, (ndcg0 + ndcg1) / 2, 1e-9);
  EXPECT_NEAR(m.coverage, 4 / 100.0, 1e-9);  // {1, 9, 7, 5}
}

}  // namespace
}  // namespace encore::offline
