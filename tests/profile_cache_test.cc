// Unit tests of the taste-profile cache: hits, catalog identity, invalidation races, the bound.
#include "recommend/profile_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "tests/test_util.h"

namespace encore::recommend {
namespace {

const std::vector<std::string> kMusic = {index::kMusicSpace};

std::shared_ptr<const index::Catalog> Tiny(const std::string& version) {
  auto c = testing::CatalogBuilder(2)
               .Add("a", v1::TRACK, "x", {1.0f, 0.0f})
               .Add("b", v1::TRACK, "y", {0.0f, 1.0f})
               .Build(version);
  EXPECT_TRUE(c.ok()) << c.status();
  return *c;
}

// An entry with one profile whose seen set holds `seen` ids (its size drives the byte estimate).
std::shared_ptr<const ProfileCache::Entry> MakeEntry(const index::Catalog& catalog, int seen = 1) {
  auto e = std::make_shared<ProfileCache::Entry>();
  e->catalog = &catalog;
  e->catalog_version = catalog.version();
  TasteProfile p;
  p.vector = {0.5f, 0.5f};
  for (int i = 0; i < seen; ++i) p.seen.insert(i);
  e->spaces.emplace_back(index::kMusicSpace, std::move(p));
  return e;
}

TEST(ProfileCacheTest, MissThenHitReturnsTheStoredEntry) {
  auto catalog = Tiny("v1");
  ProfileCache cache(1 << 20, 4);
  ProfileCache::Lookup first = cache.Get("u1", *catalog, kMusic);
  EXPECT_EQ(first.entry, nullptr);
  auto entry = MakeEntry(*catalog);
  cache.Put("u1", first.generation, entry);
  ProfileCache::Lookup second = cache.Get("u1", *catalog, kMusic);
  EXPECT_EQ(second.entry, entry);
  EXPECT_TRUE(second.complete);
  ASSERT_NE(second.entry->Find(index::kMusicSpace), nullptr);
  EXPECT_EQ(second.entry->Find(index::kPodcastSpace), nullptr);
  EXPECT_EQ(cache.Get("u2", *catalog, kMusic).entry, nullptr);
  // Asked for a space it lacks: a miss, but the entry comes back to be extended.
  const std::vector<std::string> both = {index::kMusicSpace, index::kPodcastSpace};
  ProfileCache::Lookup partial = cache.Get("u1", *catalog, both);
  EXPECT_EQ(partial.entry, entry);
  EXPECT_FALSE(partial.complete);
  const ProfileCache::Stats s = cache.stats();
  EXPECT_EQ(s.hits, 1);
  EXPECT_EQ(s.misses, 3);
  EXPECT_EQ(s.entries, 1);
  EXPECT_EQ(s.bytes, ProfileCache::EntryBytes("u1", *entry));
  EXPECT_GT(s.bytes, 0);
}

TEST(ProfileCacheTest, EntriesOfAnotherCatalogAreMisses) {
  auto v1 = Tiny("v1");
  auto v2 = Tiny("v2");
  ProfileCache cache(1 << 20);
  cache.Put("u", cache.Get("u", *v1, kMusic).generation, MakeEntry(*v1));
  EXPECT_NE(cache.Get("u", *v1, kMusic).entry, nullptr);
  EXPECT_EQ(cache.Get("u", *v2, kMusic).entry, nullptr);
  // Replacing it for the new catalog keeps one entry.
  cache.Put("u", cache.Get("u", *v2, kMusic).generation, MakeEntry(*v2));
  EXPECT_NE(cache.Get("u", *v2, kMusic).entry, nullptr);
  EXPECT_EQ(cache.Get("u", *v1, kMusic).entry, nullptr);
  EXPECT_EQ(cache.stats().entries, 1);
}

TEST(ProfileCacheTest, InvalidateDropsTheEntryAndRefusesAStalePut) {
  auto catalog = Tiny("v1");
  ProfileCache cache(1 << 20);
  cache.Put("u", cache.Get("u", *catalog, kMusic).generation, MakeEntry(*catalog));
  cache.Invalidate("u");
  EXPECT_EQ(cache.Get("u", *catalog, kMusic).entry, nullptr);
  EXPECT_EQ(cache.stats().entries, 0);
  EXPECT_EQ(cache.stats().bytes, 0);

  // A profile built from a read that raced with a write must not be stored.
  const uint64_t before_write = cache.Get("u", *catalog, kMusic).generation;
  cache.Invalidate("u");
  cache.Put("u", before_write, MakeEntry(*catalog));
  EXPECT_EQ(cache.Get("u", *catalog, kMusic).entry, nullptr);
  // One taken after the write is.
  cache.Put("u", cache.Get("u", *catalog, kMusic).generation, MakeEntry(*catalog));
  EXPECT_NE(cache.Get("u", *catalog, kMusic).entry, nullptr);
}

TEST(ProfileCacheTest, BoundEvictsTheLeastRecentlyUsed) {
  auto catalog = Tiny("v1");
  const int64_t each = ProfileCache::EntryBytes("u0", *MakeEntry(*catalog));
  ProfileCache cache(3 * each + each / 2, 1);  // room for three
  for (int i = 0; i < 3; ++i) {
    const std::string user = absl::StrCat("u", i);
    cache.Put(user, cache.Get(user, *catalog, kMusic).generation, MakeEntry(*catalog));
  }
  EXPECT_EQ(cache.stats().entries, 3);
  EXPECT_NE(cache.Get("u0", *catalog, kMusic).entry, nullptr);  // u0 is now the most recent
  cache.Put("u3", cache.Get("u3", *catalog, kMusic).generation, MakeEntry(*catalog));
  EXPECT_EQ(cache.Get("u1", *catalog, kMusic).entry, nullptr)
      << "the least recently used goes first";
  EXPECT_NE(cache.Get("u0", *catalog, kMusic).entry, nullptr);
  EXPECT_NE(cache.Get("u2", *catalog, kMusic).entry, nullptr);
  EXPECT_NE(cache.Get("u3", *catalog, kMusic).entry, nullptr);
  const ProfileCache::Stats s = cache.stats();
  EXPECT_EQ(s.entries, 3);
  EXPECT_EQ(s.evictions, 1);
  EXPECT_LE(s.bytes, cache.max_bytes());
}

TEST(ProfileCacheTest, AnEntryOverTheBoundIsNotStored) {
  auto catalog = Tiny("v1");
  auto big = MakeEntry(*catalog, 5000);
  ProfileCache cache(ProfileCache::EntryBytes("u", *big) - 1, 1);
  auto small = MakeEntry(*catalog);
  cache.Put("s", cache.Get("s", *catalog, kMusic).generation, small);
  cache.Put("u", cache.Get("u", *catalog, kMusic).generation, big);
  EXPECT_EQ(cache.Get("u", *catalog, kMusic).entry, nullptr);
  EXPECT_EQ(cache.Get("s", *catalog, kMusic).entry, small) << "nothing was evicted for it";
  EXPECT_EQ(cache.stats().bytes, ProfileCache::EntryBytes("s", *small));
  // Big histories weigh more than small ones.
  EXPECT_GT(ProfileCache::EntryBytes("u", *big),
            10 * ProfileCache::EntryBytes("u", *MakeEntry(*catalog)));
}

TEST(ProfileCacheTest, ConcurrentUseKeepsTheBound) {
  auto catalog = Tiny("v1");
  const int64_t each = ProfileCache::EntryBytes("user-00", *MakeEntry(*catalog));
  ProfileCache cache(40 * each, 4);
  std::atomic<int64_t> found{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5000; ++i) {
        const std::string user = absl::StrCat("user-", (i * 7 + t) % 97);
        if (i % 5 == t) {
          cache.Invalidate(user);
          continue;
        }
        ProfileCache::Lookup l = cache.Get(user, *catalog, kMusic);
        if (l.entry != nullptr) {
          ASSERT_TRUE(l.entry->IsFor(*catalog));
          ++found;
        } else {
          cache.Put(user, l.generation, MakeEntry(*catalog));
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  const ProfileCache::Stats s = cache.stats();
  EXPECT_GT(found.load(), 0);
  EXPECT_EQ(s.hits, found.load());
  EXPECT_LE(s.bytes, cache.max_bytes());
  EXPECT_GT(s.entries, 0);
  EXPECT_GT(s.evictions, 0);
}

}  // namespace
}  // namespace encore::recommend
