// Shared helpers for Encore tests.
#ifndef ENCORE_TESTS_TEST_UTIL_H_
#define ENCORE_TESTS_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/huge_pages.h"
#include "index/catalog.h"

#define ENCORE_TEST_CONCAT_INNER_(a, b) a##b
#define ENCORE_TEST_CONCAT_(a, b) ENCORE_TEST_CONCAT_INNER_(a, b)

#define ASSERT_OK(expr)                                                 \
  do {                                                                  \
    const ::absl::Status encore_s_ = ::encore::testing::ToStatus(expr); \
    ASSERT_TRUE(encore_s_.ok()) << encore_s_.ToString();                \
  } while (0)
#define EXPECT_OK(expr)                                                 \
  do {                                                                  \
    const ::absl::Status encore_s_ = ::encore::testing::ToStatus(expr); \
    EXPECT_TRUE(encore_s_.ok()) << encore_s_.ToString();                \
  } while (0)
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ASSERT_OK_AND_ASSIGN_IMPL_(ENCORE_TEST_CONCAT_(encore_so_, __LINE__), lhs, expr)
#define ASSERT_OK_AND_ASSIGN_IMPL_(tmp, lhs, expr)  \
  auto tmp = (expr);                                \
  ASSERT_TRUE(tmp.ok()) << tmp.status().ToString(); \
  lhs = std::move(tmp).value()

namespace encore::testing {

inline absl::Status ToStatus(const absl::Status& s) { return s; }
template <typename T>
absl::Status ToStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

// Checks the bytes a huge-page collapse reports: whole 2 MiB pages, at least `min_pages` of
// them where the kernel collapses (THP enabled, MADV_COLLAPSE), and none where it cannot.
inline void ExpectHugePageBytes(size_t bytes, size_t min_pages) {
  EXPECT_EQ(bytes % common::kHugePageBytes, 0u);
  if (common::KernelCollapsesHugePages()) {
    EXPECT_GE(bytes, min_pages * common::kHugePageBytes)
        << "THP is enabled and the kernel has MADV_COLLAPSE";
  } else {
    EXPECT_EQ(bytes, 0u);
  }
}

// A fresh directory under $TMPDIR, removed when the object dies.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = absl::StrCat(base ? base : "/tmp", "/encore-test-XXXXXX");
    char* made = ::mkdtemp(tmpl.data());
    path_ = made ? made : "";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return absl::StrCat(path_, "/", name); }

 private:
  std::string path_;
};

// Catalog options whose indexes are brute-force ExactIndex (no FAISS): the unit-test fake.
inline index::CatalogOptions ExactCatalogOptions() {
  index::CatalogOptions o;
  o.index_factory =
      [](index::MatrixView m,
         const index::IndexOptions&) -> absl::StatusOr<std::unique_ptr<index::EmbeddingIndex>> {
    return std::unique_ptr<index::EmbeddingIndex>(std::make_unique<index::ExactIndex>(m));
  };
  return o;
}

// Builder for small hand-made catalogs (music space only unless podcast items are added).
class CatalogBuilder {
 public:
  explicit CatalogBuilder(int dim) : dim_(dim) {}
  CatalogBuilder& Add(const std::string& id, v1::ItemKind kind, const std::string& artist,
                      std::vector<float> vec, float popularity = 1.0f) {
    index::ItemSpec item;
    item.id = id;
    item.kind = kind;
    item.artist_id = artist;
    item.popularity = popularity;
    parts_.items.push_back(item);
    auto& m = parts_.space_vectors[index::SpaceOfKind(kind)];
    m.dim = static_cast<int32_t>(vec.size());
    m.data.insert(m.data.end(), vec.begin(), vec.end());
    ++m.rows;
    return *this;
  }
  // Sets tags (name, weight), tempo and energy of the item added last.
  CatalogBuilder& With(std::vector<std::pair<std::string, float>> tags, float tempo = 0.0f,
                       float energy = -1.0f) {
    index::ItemSpec& item = parts_.items.back();
    for (auto& [name, w] : tags) item.tags.push_back({name, w});
    item.tempo = tempo;
    item.energy = energy;
    return *this;
  }
  absl::StatusOr<std::shared_ptr<const index::Catalog>> Build(const std::string& version = "v1") {
    parts_.version = version;
    return index::Catalog::Build(std::move(parts_), ExactCatalogOptions());
  }

 private:
  int dim_;
  index::CatalogParts parts_;
};

// The shared Last.fm HetRec 2011 directory, or "" when absent.
inline std::string LastfmDir() {
  const char* env = std::getenv("ENCORE_LASTFM_DIR");
  std::string dir = env ? env : ENCORE_SOURCE_DIR "/../shared/data/lastfm-2k";
  return std::filesystem::exists(dir + "/user_artists.dat") ? dir : "";
}

}  // namespace encore::testing

#endif  // ENCORE_TESTS_TEST_UTIL_H_
