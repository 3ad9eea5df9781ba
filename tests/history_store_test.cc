#include <gtest/gtest.h>

#include <filesystem>

#include "common/file_util.h"
#include "storage/event_import.h"
#include "storage/in_memory_history_store.h"
#include "storage/rocksdb_history_store.h"
#include "tests/test_util.h"

namespace encore::storage {
namespace {

HistoryEvent Ev(const std::string& item, int64_t ts, EventType type = EventType::kPlay) {
  return HistoryEvent{item, type, ts, 1000};
}

// The same contract runs against the real store and the fake.
class HistoryStoreContract : public ::testing::TestWithParam<bool> {
 protected:
  std::unique_ptr<HistoryStore> Make(int bound) {
    if (!GetParam()) return std::make_unique<InMemoryHistoryStore>(bound);
    RocksDbHistoryOptions o;
    o.max_events_per_user = bound;
    auto s = RocksDbHistoryStore::Open(tmp_.Sub(absl::StrCat("db", ++n_)), o);
    EXPECT_TRUE(s.ok()) << s.status();
    return std::move(s).value();
  }
  testing::TempDir tmp_;
  int n_ = 0;
};

TEST_P(HistoryStoreContract, ReadsNewestFirst) {
  auto store = Make(100);
  std::vector<HistoryEvent> batch = {Ev("a", 100), Ev("c", 300), Ev("b", 200)};
  ASSERT_OK(store->Append("u1", batch));
  ASSERT_OK(store->Append("u1", std::vector<HistoryEvent>{Ev("d", 250, EventType::kSkip)}));
  ASSERT_OK_AND_ASSIGN(auto events, store->Read("u1", 10));
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].item_id, "c");
  EXPECT_EQ(events[1].item_id, "d");
  EXPECT_EQ(events[1].type, EventType::kSkip);
  EXPECT_EQ(events[2].item_id, "b");
  EXPECT_EQ(events[3].item_id, "a");
  EXPECT_EQ(events[3].played_ms, 1000);
  ASSERT_OK_AND_ASSIGN(auto two, store->Read("u1", 2));
  EXPECT_EQ(two.size(), 2u);
}

TEST_P(HistoryStoreContract, UsersAreIsolatedEvenWithSharedPrefixes) {
  auto store = Make(100);
  ASSERT_OK(store->Append("u1", std::vector<HistoryEvent>{Ev("a", 1)}));
  ASSERT_OK(store->Append("u10", std::vector<HistoryEvent>{Ev("b", 2)}));
  ASSERT_OK_AND_ASSIGN(auto u1, store->Read("u1", 10));
  ASSERT_EQ(u1.size(), 1u);
  EXPECT_EQ(u1[0].item_id, "a");
  ASSERT_OK_AND_ASSIGN(auto none, store->Read("nobody", 10));
  EXPECT_TRUE(none.empty());
}

TEST_P(HistoryStoreContract, KeepsOnlyNewestN) {
  auto store = Make(5);
  for (int i = 0; i < 4; ++i) {
    std::vector<HistoryEvent> batch = {Ev(absl::StrCat("i", 2 * i), 10 * (2 * i)),
                                       Ev(absl::StrCat("i", 2 * i + 1), 10 * (2 * i + 1))};
    ASSERT_OK(store->Append("u", batch));
  }
  // An old event arriving late is dropped when it falls outside the bound.
  ASSERT_OK(store->Append("u", std::vector<HistoryEvent>{Ev("old", 1)}));
  ASSERT_OK_AND_ASSIGN(auto events, store->Read("u", 100));
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events.front().item_id, "i7");
  EXPECT_EQ(events.back().item_id, "i3");
}

TEST_P(HistoryStoreContract, ReplayIsIdempotent) {
  auto store = Make(100);
  std::vector<HistoryEvent> batch = {Ev("a", 1), Ev("b", 2)};
  ASSERT_OK(store->Append("u", batch));
  ASSERT_OK(store->Append("u", batch));
  ASSERT_OK_AND_ASSIGN(auto events, store->Read("u", 100));
  EXPECT_EQ(events.size(), 2u);
}

TEST_P(HistoryStoreContract, RejectsBadUserIds) {
  auto store = Make(100);
  std::vector<HistoryEvent> batch = {Ev("a", 1)};
  EXPECT_EQ(store->Append("", batch).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->Append(std::string("a\0b", 3), batch).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->Append(std::string(300, 'x'), batch).code(), absl::StatusCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Stores, HistoryStoreContract, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "RocksDb" : "InMemory"; });

TEST(RocksDbHistoryStoreTest, SurvivesReopen) {
  testing::TempDir tmp;
  {
    ASSERT_OK_AND_ASSIGN(auto store, RocksDbHistoryStore::Open(tmp.Sub("db"), {}));
    ASSERT_OK(store->Append("u", std::vector<HistoryEvent>{Ev("a", 5, EventType::kLike)}));
  }
  ASSERT_OK_AND_ASSIGN(auto store, RocksDbHistoryStore::Open(tmp.Sub("db"), {}));
  ASSERT_OK_AND_ASSIGN(auto events, store->Read("u", 10));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0], Ev("a", 5, EventType::kLike));
}

// Restarts that write nothing must not leave an empty WAL each (RocksDB 7.8 kept them all), and
// data written before, including in a WAL that was never flushed, survives the clean-up.
TEST(RocksDbHistoryStoreTest, RestartsDoNotAccumulateEmptyWals) {
  testing::TempDir tmp;
  auto count_wals = [&tmp] {
    int n = 0;
    for (const auto& e : std::filesystem::directory_iterator(tmp.Sub("db"))) {
      n += e.path().extension() == ".log";
    }
    return n;
  };
  {
    ASSERT_OK_AND_ASSIGN(auto store, RocksDbHistoryStore::Open(tmp.Sub("db"), {}));
    ASSERT_OK(store->Append("u", std::vector<HistoryEvent>{Ev("a", 5, EventType::kPlay)}));
  }
  for (int i = 0; i < 6; ++i) {
    ASSERT_OK_AND_ASSIGN(auto store, RocksDbHistoryStore::Open(tmp.Sub("db"), {}));
    ASSERT_OK_AND_ASSIGN(auto events, store->Read("u", 10));
    ASSERT_EQ(events.size(), 1u) << "restart " << i;
  }
  EXPECT_LE(count_wals(), 2);
  ASSERT_OK_AND_ASSIGN(auto store, RocksDbHistoryStore::Open(tmp.Sub("db"), {}));
  ASSERT_OK(store->Append("u", std::vector<HistoryEvent>{Ev("b", 6, EventType::kPlay)}));
  store.reset();
  ASSERT_OK_AND_ASSIGN(store, RocksDbHistoryStore::Open(tmp.Sub("db"), {}));
  ASSERT_OK_AND_ASSIGN(auto events, store->Read("u", 10));
  EXPECT_EQ(events.size(), 2u);
}

TEST(RocksDbHistoryStoreTest, KeyRoundTrip) {
  HistoryEvent e = Ev("item:with\ttab", 1234567890123, EventType::kDislike);
  const std::string key = EncodeHistoryKey("user", e);
  // Legacy 8-byte values (played_ms only) read as count 1.
  std::string legacy(8, '\0');
  legacy[0] = static_cast<char>(0xe8);
  legacy[1] = 0x03;  // 1000
  ASSERT_OK_AND_ASSIGN(auto back, DecodeHistoryKey(key, 5, legacy));
  EXPECT_EQ(back, e);
  e.count = 70000;
  ASSERT_OK_AND_ASSIGN(auto counted, DecodeHistoryKey(key, 5, EncodeHistoryValue(e)));
  EXPECT_EQ(counted, e);
  EXPECT_FALSE(DecodeHistoryKey("short", 5, legacy).ok());
  EXPECT_FALSE(DecodeHistoryKey(key, 5, "1234567").ok());
  // Newer events sort first.
  EXPECT_LT(EncodeHistoryKey("u", Ev("x", 2)), EncodeHistoryKey("u", Ev("x", 1)));
}

TEST(EventImportTest, ImportsAndReportsLineOfFirstError) {
  testing::TempDir tmp;
  InMemoryHistoryStore store;
  ASSERT_OK(common::WriteFile(tmp.Sub("ok.tsv"),
                              "# comment\nu1\tt1\tplay\t100\t5\nu1\tt2\tSKIP\t200\t0\n"
                              "u2\tt1\tlike\t50\t0\t42\n"));
  ASSERT_OK_AND_ASSIGN(int64_t n, ImportEventsTsv(tmp.Sub("ok.tsv"), &store));
  EXPECT_EQ(n, 3);
  ASSERT_OK_AND_ASSIGN(auto u1, store.Read("u1", 10));
  ASSERT_EQ(u1.size(), 2u);
  EXPECT_EQ(u1[0].type, EventType::kSkip);
  ASSERT_OK_AND_ASSIGN(auto u2, store.Read("u2", 10));
  EXPECT_EQ(u2[0].count, 42);

  ASSERT_OK(common::WriteFile(tmp.Sub("bad.tsv"), "u3\tt1\tplay\t100\t5\nu3\tt1\tjump\t1\t0\n"));
  auto bad = ImportEventsTsv(tmp.Sub("bad.tsv"), &store);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("bad.tsv:2"), std::string::npos) << bad.status();
  ASSERT_OK_AND_ASSIGN(auto u3, store.Read("u3", 10));
  EXPECT_TRUE(u3.empty());  // nothing written from a bad file

  ASSERT_OK(common::WriteFile(tmp.Sub("short.tsv"), "u3\tt1\tplay\n"));
  EXPECT_FALSE(ImportEventsTsv(tmp.Sub("short.tsv"), &store).ok());
  EXPECT_EQ(ImportEventsTsv(tmp.Sub("missing.tsv"), &store).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace encore::storage
