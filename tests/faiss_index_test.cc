#include "index/faiss_index.h"

#include <faiss/IndexHNSW.h>
#include <faiss/impl/HNSW.h>
#include <faiss/index_io.h>
#include <faiss/utils/distances.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <random>
#include <string>
#include <thread>

#include "common/file_util.h"
#include "index/hnsw_search.h"
#include "index/simd_distance.h"
#include "tests/test_util.h"

namespace encore::index {
namespace {

Matrix Random(int64_t rows, int dim, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> n(0, 1);
  Matrix m;
  m.rows = rows;
  m.dim = dim;
  m.data.resize(rows * dim);
  for (float& x : m.data) x = n(rng);
  return m;
}

double RecallAt10(const EmbeddingIndex& index, const EmbeddingIndex& exact, const Matrix& queries,
                  int ef) {
  SearchParams p;
  p.ef_search = ef;
  int hit = 0;
  for (int64_t q = 0; q < queries.rows; ++q) {
    auto got = index.Search(queries.row_span(q), 10, p);
    auto want = exact.Search(queries.row_span(q), 10, p);
    EXPECT_TRUE(got.ok() && want.ok());
    for (const auto& w : *want) {
      for (const auto& g : *got) hit += g.row == w.row;
    }
  }
  return hit / (10.0 * queries.rows);
}

// `candidate` (another search over the same graph) keeps `reference`'s recall@10, minus noise,
// at each beam in `efs`, and reaches 0.95 at ef 128.
void ExpectRecallKept(const EmbeddingIndex& reference, const EmbeddingIndex& candidate,
                      const EmbeddingIndex& exact, const Matrix& queries,
                      std::initializer_list<int> efs) {
  for (int ef : efs) {
    const double r = RecallAt10(reference, exact, queries, ef);
    const double c = RecallAt10(candidate, exact, queries, ef);
    EXPECT_GE(c, r - 0.01) << "ef=" << ef;
    if (ef == 128) {
      EXPECT_GE(c, 0.95);
    }
  }
}

// The run-time-dispatched kernels agree with a double-precision reference for every length
// (full 16-float blocks, an 8-float block, scalar tails), and FAISS's own entry points are routed
// to them by the link (--wrap), so FAISS returns exactly our kernel's value.
TEST(SimdDistanceTest, KernelsMatchReferenceAndFaissUsesThem) {
  std::mt19937_64 rng(7);
  std::normal_distribution<float> n(0, 1);
  for (size_t d = 0; d <= 67; ++d) {
    std::vector<float> x(d), y(d);
    for (size_t i = 0; i < d; ++i) x[i] = n(rng), y[i] = n(rng);
    double ip = 0, l2 = 0;
    for (size_t i = 0; i < d; ++i) {
      ip += double{x[i]} * y[i];
      l2 += (double{x[i]} - y[i]) * (double{x[i]} - y[i]);
    }
    EXPECT_NEAR(InnerProduct(x.data(), y.data(), d), ip, 1e-4 * (1 + d)) << "d=" << d;
    EXPECT_NEAR(L2Squared(x.data(), y.data(), d), l2, 1e-4 * (1 + d)) << "d=" << d;
    EXPECT_EQ(faiss::fvec_inner_product(x.data(), y.data(), d),
              InnerProduct(x.data(), y.data(), d));
    EXPECT_EQ(faiss::fvec_L2sqr(x.data(), y.data(), d), L2Squared(x.data(), y.data(), d));
  }
  const std::string kernel = FaissIndex::DistanceKernel();
  EXPECT_TRUE(kernel == "avx2+fma" || kernel == "scalar") << kernel;
}

// The half-precision kernels: conversion rounds to the nearest half float (exact for values a
// half holds), and the inner product against half floats matches a double-precision reference
// over the rounded values for every length (16-blocks, an 8-block, scalar tails).
TEST(SimdDistanceTest, HalfKernelsMatchReference) {
  if (!HalfKernelAvailable()) GTEST_SKIP() << "this CPU lacks AVX2/FMA/F16C";
  const std::vector<float> exact_values = {0.0f, 1.0f, -2.5f, 0.125f, 1024.0f, -0.0009765625f};
  std::vector<uint16_t> h(exact_values.size());
  FloatsToHalf(exact_values.data(), exact_values.size(), h.data());
  for (size_t i = 0; i < exact_values.size(); ++i) {
    std::vector<float> unit(exact_values.size(), 0.0f);
    unit[i] = 1.0f;
    EXPECT_EQ(InnerProductHalf(unit.data(), h.data(), h.size()), exact_values[i]) << i;
  }
  std::mt19937_64 rng(8);
  std::normal_distribution<float> n(0, 1);
  for (size_t d = 0; d <= 67; ++d) {
    std::vector<float> x(d), y(d);
    for (size_t i = 0; i < d; ++i) x[i] = n(rng), y[i] = n(rng);
    std::vector<uint16_t> yh(d);
    FloatsToHalf(y.data(), d, yh.data());
    double ip_rounded = 0, ip_float = 0;
    for (size_t i = 0; i < d; ++i) {
      // The rounded value: a unit vector picks it out exactly.
      std::vector<float> e(d, 0.0f);
      e[i] = 1.0f;
      const float yi = InnerProductHalf(e.data(), yh.data(), d);
      EXPECT_NEAR(yi, y[i], std::abs(y[i]) * 0.0005 + 1e-7) << "d=" << d << " i=" << i;
      ip_rounded += double{x[i]} * yi;
      ip_float += double{x[i]} * y[i];
    }
    EXPECT_NEAR(InnerProductHalf(x.data(), yh.data(), d), ip_rounded, 1e-4 * (1 + d)) << d;
    EXPECT_NEAR(InnerProductHalf(x.data(), yh.data(), d), ip_float, 2e-3 * (1 + d)) << d;
  }
}

// "encore_fp16" walks the same graph over half floats: recall as high as the float walk (minus
// noise) at every beam, returned scores exactly the float inner products, best first, and the
// same with entry rows and the level-1 beam.
TEST(FaissIndexTest, EncoreFp16SearchKeepsRecallAndExactScores) {
  Matrix data = Random(20000, 32, 31);
  Matrix queries = Random(200, 32, 32);
  IndexOptions o;
  o.type = "hnsw";
  o.hnsw_search = "encore";
  if (!HalfKernelAvailable()) {
    o.hnsw_search = "encore_fp16";
    EXPECT_EQ(FaissIndex::Build(data, o).status().code(), absl::StatusCode::kInvalidArgument);
    // The default falls back to the float walk instead.
    o.hnsw_search = "auto";
    ASSERT_OK_AND_ASSIGN(auto fallback, FaissIndex::Build(data, o));
    EXPECT_EQ(fallback->graph_walk(), "float");
    GTEST_SKIP() << "this CPU lacks AVX2/FMA/F16C";
  }
  ASSERT_OK_AND_ASSIGN(auto built, FaissIndex::Build(data, o));
  testing::TempDir tmp;
  ASSERT_OK(built->Save(tmp.Sub("i.faiss")));
  ASSERT_OK_AND_ASSIGN(auto full, FaissIndex::Load(tmp.Sub("i.faiss"), 32, 20000, o));
  o.hnsw_search = "encore_fp16";
  ASSERT_OK_AND_ASSIGN(auto half, FaissIndex::Load(tmp.Sub("i.faiss"), 32, 20000, o));
  EXPECT_TRUE(half->walks_half_floats());
  EXPECT_FALSE(full->walks_half_floats());
  EXPECT_EQ(half->graph_walk(), "half");
  EXPECT_EQ(full->graph_walk(), "float");
  // The default ("auto") walks half floats on this CPU.
  ASSERT_OK_AND_ASSIGN(auto by_default,
                       FaissIndex::Load(tmp.Sub("i.faiss"), 32, 20000, IndexOptions()));
  EXPECT_EQ(by_default->graph_walk(), "half");
  ExactIndex exact(&data);
  ExpectRecallKept(*full, *half, exact, queries, {16, 64, 128});
  // A component beyond the half-float range (65504) is refused, not walked as infinity.
  Matrix huge = Random(500, 32, 33);
  huge.data[5 * 32 + 3] = 1e6f;
  const absl::Status too_big = FaissIndex::Build(huge, o).status();
  EXPECT_EQ(too_big.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(too_big.message().find("half-float range"), std::string::npos) << too_big;
  // The default walks the floats of such an index rather than refuse it.
  IndexOptions defaults;
  defaults.type = "hnsw";
  ASSERT_OK_AND_ASSIGN(auto huge_default, FaissIndex::Build(huge, defaults));
  EXPECT_EQ(huge_default->graph_walk(), "float");
  huge.data[5 * 32 + 3] = 60000.0f;
  EXPECT_OK(FaissIndex::Build(huge, o).status());
  ASSERT_OK_AND_ASSIGN(auto fits_default, FaissIndex::Build(huge, defaults));
  EXPECT_EQ(fits_default->graph_walk(), "half");

  std::vector<int64_t> entries = {7, 19999};
  for (int upper_ef : {0, 32}) {
    SearchParams p;
    p.ef_search = 64;
    p.entry_rows = entries;
    p.upper_ef = upper_ef;
    for (int64_t q = 0; q < queries.rows; ++q) {
      ASSERT_OK_AND_ASSIGN(auto hits, half->Search(queries.row_span(q), 10, p));
      ASSERT_EQ(hits.size(), 10u);
      for (size_t i = 0; i < hits.size(); ++i) {
        EXPECT_NEAR(hits[i].score, InnerProduct(data.row(hits[i].row), queries.row(q), 32), 1e-5);
        if (i > 0) {
          EXPECT_GE(hits[i - 1].score, hits[i].score);
        }
      }
    }
  }
}

// IndexOptions::huge_pages moves the graph and its vectors into huge pages in the background and
// changes no result; off, nothing is moved.
TEST(FaissIndexTest, HugePagesChangeNoResult) {
  // 20,000 rows: 5 MB of level-0 neighbour lists, 2.5 MB of floats at 32 dimensions.
  Matrix data = Random(20000, 32, 41);
  Matrix queries = Random(50, 32, 42);
  IndexOptions o;
  o.type = "hnsw";
  ASSERT_OK_AND_ASSIGN(auto built, FaissIndex::Build(data, o));
  testing::TempDir tmp;
  ASSERT_OK(built->Save(tmp.Sub("i.faiss")));
  o.huge_pages = false;
  ASSERT_OK_AND_ASSIGN(auto plain, FaissIndex::Load(tmp.Sub("i.faiss"), 32, 20000, o));
  o.huge_pages = true;
  ASSERT_OK_AND_ASSIGN(auto huge, FaissIndex::Load(tmp.Sub("i.faiss"), 32, 20000, o));
  EXPECT_EQ(plain->huge_page_bytes(), 0u);
  // Searches during and after the collapse return what the plain index returns.
  for (int round = 0; round < 2; ++round) {
    for (int64_t q = 0; q < queries.rows; ++q) {
      SearchParams p;
      p.ef_search = 48;
      ASSERT_OK_AND_ASSIGN(auto want, plain->Search(queries.row_span(q), 10, p));
      ASSERT_OK_AND_ASSIGN(auto got, huge->Search(queries.row_span(q), 10, p));
      ASSERT_EQ(got.size(), want.size());
      for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].row, want[i].row);
        EXPECT_EQ(got[i].score, want[i].score);
      }
    }
    // At least the neighbour lists' whole 2 MiB pages (waits for the collapse).
    encore::testing::ExpectHugePageBytes(huge->huge_page_bytes(), 1);
  }
}

// Share of the base layer's links whose two ends lie within `span` rows of each other when node u
// stands at row position[u].
double ShortLinkShare(const faiss::HNSW& g, int64_t n, const std::vector<int64_t>& position,
                      int64_t span) {
  int64_t short_links = 0, links = 0;
  for (int64_t u = 0; u < n; ++u) {
    const size_t begin = g.offsets[u] + g.cum_nneighbor_per_level[0];
    const size_t end = g.offsets[u] + g.cum_nneighbor_per_level[1];
    for (size_t j = begin; j < end && g.neighbors[j] >= 0; ++j) {
      short_links += std::abs(position[u] - position[g.neighbors[j]]) <= span;
      ++links;
    }
  }
  return static_cast<double>(short_links) / std::max<int64_t>(links, 1);
}

// LocalityOrder is a permutation under which the graph's links are much shorter than under the
// rows' own (random) order; a flat index keeps its order.
TEST(FaissIndexTest, LocalityOrderShortensTheGraphsLinks) {
  // Clustered like a music catalog (tracks around their artist), rows in random order.
  Matrix centres = Random(200, 16, 50);
  Matrix data = Random(20000, 16, 51);
  for (int64_t r = 0; r < data.rows; ++r) {
    const float* c = centres.row((r * 7919) % centres.rows);
    for (int j = 0; j < 16; ++j) data.data[r * 16 + j] = c[j] + 0.2f * data.data[r * 16 + j];
  }
  faiss::IndexHNSWFlat graph(16, /*M=*/8, faiss::METRIC_INNER_PRODUCT);
  graph.add(data.rows, data.data.data());
  testing::TempDir tmp;
  faiss::write_index(&graph, tmp.Sub("g.faiss").c_str());
  IndexOptions o;
  ASSERT_OK_AND_ASSIGN(auto index, FaissIndex::Load(tmp.Sub("g.faiss"), 16, data.rows, o));
  const std::vector<int64_t> order = index->LocalityOrder();
  ASSERT_EQ(static_cast<int64_t>(order.size()), data.rows);
  std::vector<int64_t> position(data.rows, -1), identity(data.rows);
  for (int64_t i = 0; i < data.rows; ++i) {
    ASSERT_GE(order[i], 0);
    ASSERT_LT(order[i], data.rows);
    ASSERT_EQ(position[order[i]], -1) << "row " << order[i] << " twice";
    position[order[i]] = i;
    identity[i] = i;
  }
  // Breadth-first from the entry point: each row after the first was reached over a link from an
  // earlier one, and the rows that reached them come in the order they were placed.
  EXPECT_EQ(order[0], graph.hnsw.entry_point);
  std::vector<int64_t> reached_from(data.rows, -1);  // by position: the earliest linking row
  for (int64_t i = 0; i < data.rows; ++i) {
    const int64_t u = order[i];
    const size_t begin = graph.hnsw.offsets[u] + graph.hnsw.cum_nneighbor_per_level[0];
    const size_t end = graph.hnsw.offsets[u] + graph.hnsw.cum_nneighbor_per_level[1];
    for (size_t j = begin; j < end && graph.hnsw.neighbors[j] >= 0; ++j) {
      const int64_t p = position[graph.hnsw.neighbors[j]];
      if (p > i && reached_from[p] < 0) reached_from[p] = i;
    }
  }
  int64_t roots = 0, last = 0;
  for (int64_t i = 1; i < data.rows; ++i) {
    if (reached_from[i] < 0) {  // unreachable over links from earlier rows: a new walk
      ++roots;
      continue;
    }
    EXPECT_GE(reached_from[i], last) << "row " << i;
    last = reached_from[i];
  }
  // (An inner-product graph leaves many low-norm rows without in-links; each starts a walk.)
  EXPECT_LT(roots, data.rows / 2);
  // So links join rows placed near each other far more often than in the rows' own order.
  const double before = ShortLinkShare(graph.hnsw, data.rows, identity, 64);
  const double after = ShortLinkShare(graph.hnsw, data.rows, position, 64);
  EXPECT_GT(after, 5 * before) << before << " -> " << after;

  IndexOptions flat_options;
  flat_options.type = "flat";
  ASSERT_OK_AND_ASSIGN(auto flat, FaissIndex::Build(Random(100, 4, 52), flat_options));
  const std::vector<int64_t> flat_order = flat->LocalityOrder();
  ASSERT_EQ(flat_order.size(), 100u);
  for (int64_t i = 0; i < 100; ++i) EXPECT_EQ(flat_order[i], i);
}

// After Permute(order), every search -- each walk, with entry rows (renumbered too) and the
// level-1 beam, and after a save and load -- returns the same neighbours at their new rows with
// the same scores; the stored vectors move with their rows. A bad order is INVALID_ARGUMENT and
// changes nothing.
TEST(FaissIndexTest, PermuteRenumbersRowsAndKeepsEveryResult) {
  Matrix data = Random(6000, 16, 61);
  Matrix queries = Random(40, 16, 62);
  std::vector<std::string> walks = {"encore", "faiss"};
  if (HalfKernelAvailable()) walks.push_back("encore_fp16");
  for (const std::string& walk : walks) {
    for (const bool random_order : {false, true}) {
      SCOPED_TRACE(walk + (random_order ? ", random order" : ", locality order"));
      IndexOptions o;
      o.type = "hnsw";
      o.hnsw_m = 8;
      o.hnsw_search = walk;
      ASSERT_OK_AND_ASSIGN(auto index, FaissIndex::Build(data, o));
      const std::vector<int64_t> entries = {11, 4321};
      auto search_all = [&](const EmbeddingIndex& idx, absl::Span<const int64_t> entry_rows) {
        std::vector<std::vector<Neighbor>> all;
        for (int upper_ef : {0, 16}) {
          SearchParams p;
          p.ef_search = 32;
          p.entry_rows = entry_rows;
          p.upper_ef = upper_ef;
          for (int64_t q = 0; q < queries.rows; ++q) {
            auto hits = idx.Search(queries.row_span(q), 10, p);
            EXPECT_TRUE(hits.ok()) << hits.status();
            all.push_back(hits.value_or(std::vector<Neighbor>{}));
          }
        }
        return all;
      };
      const auto before = search_all(*index, entries);
      std::vector<int64_t> order = index->LocalityOrder();
      if (random_order) std::shuffle(order.begin(), order.end(), std::mt19937_64(63));
      std::vector<int64_t> position(order.size());
      for (size_t i = 0; i < order.size(); ++i) position[order[i]] = static_cast<int64_t>(i);

      // Refused, changing nothing: wrong length, a repeated row, a row out of range.
      std::vector<int64_t> bad = order;
      bad.pop_back();
      EXPECT_EQ(index->Permute(bad).code(), absl::StatusCode::kInvalidArgument);
      bad = order;
      bad[5] = bad[6];
      EXPECT_EQ(index->Permute(bad).code(), absl::StatusCode::kInvalidArgument);
      bad = order;
      bad[0] = data.rows;
      EXPECT_EQ(index->Permute(bad).code(), absl::StatusCode::kInvalidArgument);
      const auto unchanged = search_all(*index, entries);
      ASSERT_EQ(unchanged.size(), before.size());
      for (size_t i = 0; i < before.size(); ++i) {
        ASSERT_EQ(unchanged[i].size(), before[i].size());
        for (size_t j = 0; j < before[i].size(); ++j) {
          EXPECT_EQ(unchanged[i][j].row, before[i][j].row);
        }
      }

      ASSERT_OK(index->Permute(order));
      for (int64_t r : {int64_t{0}, int64_t{17}, data.rows - 1}) {
        EXPECT_TRUE(std::equal(data.row(order[r]), data.row(order[r]) + 16,
                               index->stored_vectors() + r * 16))
            << "row " << r;
      }
      const std::vector<int64_t> moved_entries = {position[11], position[4321]};
      testing::TempDir tmp;
      ASSERT_OK(index->Save(tmp.Sub("p.faiss")));
      ASSERT_OK_AND_ASSIGN(auto loaded, FaissIndex::Load(tmp.Sub("p.faiss"), 16, data.rows, o));
      for (const EmbeddingIndex* idx : {static_cast<const EmbeddingIndex*>(index.get()),
                                        static_cast<const EmbeddingIndex*>(loaded.get())}) {
        const auto after = search_all(*idx, moved_entries);
        ASSERT_EQ(after.size(), before.size());
        for (size_t i = 0; i < before.size(); ++i) {
          ASSERT_EQ(after[i].size(), before[i].size()) << "search " << i;
          for (size_t j = 0; j < before[i].size(); ++j) {
            EXPECT_EQ(order[after[i][j].row], before[i][j].row) << "search " << i << " hit " << j;
            EXPECT_EQ(after[i][j].score, before[i][j].score) << "search " << i << " hit " << j;
          }
        }
      }
    }
  }
}

TEST(FaissIndexTest, ExposesItsStoredVectors) {
  Matrix data = Random(500, 8, 11);
  for (const char* type : {"flat", "hnsw"}) {
    IndexOptions o;
    o.type = type;
    ASSERT_OK_AND_ASSIGN(auto index, FaissIndex::Build(data, o));
    const float* stored = index->stored_vectors();
    ASSERT_NE(stored, nullptr) << type;
    EXPECT_NE(stored, data.data.data()) << type;
    EXPECT_TRUE(std::equal(data.data.begin(), data.data.end(), stored)) << type;
  }
  ExactIndex exact(&data);
  EXPECT_EQ(exact.stored_vectors(), nullptr);
}

TEST(FaissIndexTest, FlatMatchesExactSearch) {
  Matrix data = Random(2000, 16, 1);
  Matrix queries = Random(20, 16, 2);
  IndexOptions o;
  o.type = "flat";
  ASSERT_OK_AND_ASSIGN(auto flat, FaissIndex::Build(data, o));
  ExactIndex exact(&data);
  EXPECT_EQ(flat->type(), "flat");
  for (int64_t q = 0; q < queries.rows; ++q) {
    ASSERT_OK_AND_ASSIGN(auto got, flat->Search(queries.row_span(q), 10, {}));
    ASSERT_OK_AND_ASSIGN(auto want, exact.Search(queries.row_span(q), 10, {}));
    ASSERT_EQ(got.size(), 10u);
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].row, want[i].row);
      EXPECT_NEAR(got[i].score, want[i].score, 1e-3);
    }
  }
}

TEST(FaissIndexTest, HnswRecallAgainstExact) {
  Matrix data = Random(20000, 32, 3);
  Matrix queries = Random(100, 32, 4);
  IndexOptions o;
  o.type = "hnsw";
  ASSERT_OK_AND_ASSIGN(auto hnsw, FaissIndex::Build(data, o));
  EXPECT_EQ(hnsw->type(), "hnsw");
  ExactIndex exact(&data);
  const double low = RecallAt10(*hnsw, exact, queries, 16);
  const double high = RecallAt10(*hnsw, exact, queries, 256);
  EXPECT_GE(high, 0.95);
  EXPECT_GE(high, low);  // a wider beam never hurts on average
}

// Encore's HNSW search walks the same graph as FAISS's: at every beam width its recall is at
// least FAISS's (minus noise), scores are the true inner products, best first, and searches
// from several threads at once (each with its own visited table) return what one thread does.
TEST(FaissIndexTest, EncoreHnswSearchMatchesFaissRecall) {
  Matrix data = Random(20000, 32, 5);
  Matrix queries = Random(200, 32, 6);
  IndexOptions o;
  o.type = "hnsw";
  o.hnsw_search = "faiss";
  ASSERT_OK_AND_ASSIGN(auto built, FaissIndex::Build(data, o));
  testing::TempDir tmp;
  ASSERT_OK(built->Save(tmp.Sub("i.faiss")));
  ASSERT_OK_AND_ASSIGN(auto faiss_search, FaissIndex::Load(tmp.Sub("i.faiss"), 32, 20000, o));
  o.hnsw_search = "encore";
  ASSERT_OK_AND_ASSIGN(auto encore_search, FaissIndex::Load(tmp.Sub("i.faiss"), 32, 20000, o));
  ExactIndex exact(&data);
  ExpectRecallKept(*faiss_search, *encore_search, exact, queries, {10, 32, 128});
  SearchParams p;
  p.ef_search = 64;
  std::vector<std::vector<Neighbor>> sequential;
  for (int64_t q = 0; q < queries.rows; ++q) {
    ASSERT_OK_AND_ASSIGN(auto hits, encore_search->Search(queries.row_span(q), 10, p));
    ASSERT_EQ(hits.size(), 10u);
    for (size_t i = 0; i < hits.size(); ++i) {
      EXPECT_NEAR(hits[i].score, InnerProduct(data.row(hits[i].row), queries.row(q), 32), 1e-4);
      if (i > 0) {
        EXPECT_GE(hits[i - 1].score, hits[i].score);
      }
    }
    sequential.push_back(std::move(hits));
  }
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int round = 0; round < 3; ++round) {
        for (int64_t q = 0; q < queries.rows; ++q) {
          auto hits = encore_search->Search(queries.row_span(q), 10, p);
          if (!hits.ok() || hits->size() != sequential[q].size()) {
            ++mismatches;
            continue;
          }
          for (size_t i = 0; i < hits->size(); ++i)
            mismatches += (*hits)[i].row != sequential[q][i].row;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
  // Many queries in a row on one thread (the visited set is reused) stay correct.
  for (int round = 0; round < 2; ++round) {
    for (int64_t q = 0; q < queries.rows; ++q) {
      ASSERT_OK_AND_ASSIGN(auto hits, encore_search->Search(queries.row_span(q), 10, p));
      for (size_t i = 0; i < hits.size(); ++i) EXPECT_EQ(hits[i].row, sequential[q][i].row);
    }
  }
  o.hnsw_search = "fast";
  const absl::Status unknown = FaissIndex::Build(data, o).status();
  EXPECT_EQ(unknown.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.message().find("encore_fp16"), std::string::npos) << unknown;
}

TEST(VisitedSetTest, MarksOncePerQueryAndGrowsPastItsEstimate) {
  VisitedSet v;
  v.Begin(10);
  EXPECT_EQ(v.capacity(), VisitedSet::kMinCapacity);
  // Far more rows than expected (forces several doublings), in a scattered order.
  constexpr int64_t kRows = 20000;
  for (int64_t i = 0; i < kRows; ++i) EXPECT_TRUE(v.Visit((i * 7919) % 1000003)) << i;
  EXPECT_GE(v.capacity(), 2u * kRows);
  for (int64_t i = 0; i < kRows; ++i) EXPECT_FALSE(v.Visit((i * 7919) % 1000003)) << i;
  EXPECT_TRUE(v.Visit(1000003));  // never marked
  // A new query starts empty; the grown capacity is kept only if it is what Begin asks for.
  v.Begin(10);
  EXPECT_EQ(v.capacity(), VisitedSet::kMinCapacity);
  EXPECT_TRUE(v.Visit(0));
  EXPECT_TRUE(v.Visit(7919));
  EXPECT_FALSE(v.Visit(0));
  EXPECT_EQ(v.size(), 2u);
  // Growing again inside the storage the first query left: earlier marks beyond the table in use
  // must not leak into this query.
  for (int64_t i = 2; i < 3000; ++i) EXPECT_TRUE(v.Visit((i * 7919) % 1000003)) << i;
  EXPECT_EQ(v.size(), 3000u);
  EXPECT_GE(v.capacity(), 6000u);
  for (int64_t i = 0; i < 3000; ++i) EXPECT_FALSE(v.Visit((i * 7919) % 1000003)) << i;
  for (int64_t i = 3000; i < 3100; ++i) EXPECT_TRUE(v.Visit((i * 7919) % 1000003)) << i;
}

// A hand-made base layer of two components, {0..3} and {4..7}, each node linked to the other three
// of its component (M=2: 4 base-layer neighbours, 2 on level 1). `levels[i]` is FAISS's node
// level count (1 = base layer only).
void LinkTwoComponents(const std::vector<int>& levels, faiss::HNSW* hnsw) {
  hnsw->levels = levels;
  hnsw->prepare_level_tab(levels.size(), /*preset_levels=*/true);
  for (int node = 0; node < 8; ++node) {
    const int first = node < 4 ? 0 : 4;
    int j = 0;
    for (int other = first; other < first + 4; ++other) {
      if (other != node) hnsw->neighbors[hnsw->offsets[node] + j++] = other;
    }
  }
}

// The two components lie along x and y, with the graph's entry point in the first: the descent
// cannot leave it, entry rows can.
TEST(HnswSearchTest, EntryRowsStartTheBeamWhereTheDescentCannotReach) {
  faiss::HNSW hnsw(/*M=*/2);
  LinkTwoComponents(std::vector<int>(8, 1), &hnsw);
  hnsw.entry_point = 0;
  hnsw.max_level = 0;
  const std::vector<float> data = {1.0f, 0.0f, 0.9f, 0.1f, 0.8f, 0.0f, 0.7f, 0.1f,
                                   0.0f, 0.5f, 0.1f, 0.6f, 0.0f, 0.8f, 0.1f, 1.2f};
  const float query[] = {0.0f, 1.0f};
  auto rows = [](const std::vector<Neighbor>& hits) {
    std::vector<int64_t> r;
    for (const auto& h : hits) r.push_back(h.row);
    return r;
  };
  // From the graph's entry point: only the x component is reachable.
  for (int64_t r : rows(HnswSearch(hnsw, data.data(), 2, 8, query, 2, 4))) EXPECT_LT(r, 4);
  // From an entry row in the y component (given twice: duplicates are ignored): the true top 2.
  const std::vector<int64_t> entries = {4, 4};
  auto hits = HnswSearch(hnsw, data.data(), 2, 8, query, 2, 4, entries);
  EXPECT_EQ(rows(hits), (std::vector<int64_t>{7, 6}));
  EXPECT_FLOAT_EQ(hits[0].score, 1.2f);
}

// The same two components, with nodes 3 and 7 also on level 1, linked there: from an entry row
// in the wrong component, only the level-1 search (upper_ef) finds the query's region.
TEST(HnswSearchTest, UpperBeamReachesWhatTheEntryRowsCannot) {
  faiss::HNSW hnsw(/*M=*/2);
  LinkTwoComponents({1, 1, 1, 2, 1, 1, 1, 2}, &hnsw);
  hnsw.neighbors[hnsw.offsets[3] + hnsw.cum_nneighbor_per_level[1]] = 7;
  hnsw.neighbors[hnsw.offsets[7] + hnsw.cum_nneighbor_per_level[1]] = 3;
  hnsw.entry_point = 3;
  hnsw.max_level = 1;
  const std::vector<float> data = {1.0f, 0.0f, 0.9f, 0.1f, 0.8f, 0.0f, 0.7f, 0.1f,
                                   0.0f, 0.5f, 0.1f, 0.6f, 0.0f, 0.8f, 0.1f, 1.2f};
  const HnswPivots pivots = BuildHnswPivots(hnsw, data.data(), 2, 8);
  EXPECT_EQ(pivots.level, 1);
  EXPECT_EQ(pivots.rows, (std::vector<int32_t>{3, 7}));
  EXPECT_EQ(pivots.vectors, (std::vector<float>{0.7f, 0.1f, 0.1f, 1.2f}));
  const float query[] = {0.0f, 1.0f};
  const std::vector<int64_t> wrong = {0};
  auto rows = [](const std::vector<Neighbor>& hits) {
    std::vector<int64_t> r;
    for (const auto& h : hits) r.push_back(h.row);
    return r;
  };
  for (int64_t r : rows(HnswSearch(hnsw, data.data(), 2, 8, query, 2, 4, wrong))) {
    EXPECT_LT(r, 4);
  }
  for (const int upper_ef : {1, 2, 16}) {
    EXPECT_EQ(rows(HnswSearch(hnsw, data.data(), 2, 8, query, 2, 4, wrong, &pivots, upper_ef)),
              (std::vector<int64_t>{7, 6}))
        << upper_ef;
  }
  // Without entry rows the search descends as before; without pivots the width is moot.
  for (int64_t r : rows(HnswSearch(hnsw, data.data(), 2, 8, query, 2, 4, {}, &pivots, 16))) {
    EXPECT_GE(r, 0);
  }
  for (int64_t r : rows(HnswSearch(hnsw, data.data(), 2, 8, query, 2, 4, wrong, nullptr, 16))) {
    EXPECT_LT(r, 4);
  }
}

// On a built graph: the pivots are the nodes of one coarse level, and searching with the level-1
// beam keeps item probes' recall; a negative width is INVALID_ARGUMENT.
TEST(FaissIndexTest, UpperBeamPivotsAndRecall) {
  Matrix data = Random(20000, 16, 21);
  faiss::IndexHNSWFlat graph(16, /*M=*/8, faiss::METRIC_INNER_PRODUCT);
  graph.add(data.rows, data.data.data());
  const HnswPivots pivots = BuildHnswPivots(graph.hnsw, data.data.data(), 16, data.rows);
  ASSERT_GE(pivots.level, 1);
  ASSERT_FALSE(pivots.rows.empty());
  EXPECT_LE(pivots.rows.size(), HnswPivots::kMaxPivots);
  EXPECT_TRUE(std::is_sorted(pivots.rows.begin(), pivots.rows.end()));
  int64_t expected = 0;
  for (int64_t i = 0; i < data.rows; ++i) expected += graph.hnsw.levels[i] - 1 >= pivots.level;
  EXPECT_EQ(static_cast<int64_t>(pivots.rows.size()), expected);
  for (size_t j = 0; j < pivots.rows.size(); ++j) {
    EXPECT_GE(graph.hnsw.levels[pivots.rows[j]] - 1, pivots.level);
    EXPECT_EQ(pivots.vectors[j * 16], data.row(pivots.rows[j])[0]);
  }

  IndexOptions o;
  o.type = "hnsw";
  ASSERT_OK_AND_ASSIGN(auto index, FaissIndex::Build(data, o));
  ExactIndex exact(&data);
  std::mt19937_64 rng(22);
  std::normal_distribution<float> noise(0, 0.1f);
  int hits = 0;
  for (int64_t r = 0; r < 200; ++r) {
    std::vector<float> q(data.row_span(r * 97).begin(), data.row_span(r * 97).end());
    for (float& x : q) x += noise(rng);
    // Entry rows far from the probe's source: the level-1 beam has to find its region.
    const int64_t far = (r * 97 + 10007) % data.rows;
    SearchParams p;
    p.ef_search = 32;
    p.entry_rows = absl::MakeConstSpan(&far, 1);
    p.upper_ef = 32;
    ASSERT_OK_AND_ASSIGN(auto got, index->Search(q, 10, p));
    ASSERT_OK_AND_ASSIGN(auto want, exact.Search(q, 10, {}));
    for (const auto& w : want) {
      for (const auto& g : got) hits += g.row == w.row;
    }
  }
  EXPECT_GE(hits, 0.9 * 2000);

  SearchParams bad;
  bad.upper_ef = -1;
  auto got = index->Search(std::vector<float>(16, 1.0f), 5, bad);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(got.status().message().find("upper_ef"), std::string::npos);
}

// Searches that start at the item a probe was drawn from (as SimilarItems does) lose nothing
// against the global descent; entry rows outside the index are INVALID_ARGUMENT for every type.
TEST(FaissIndexTest, EntryRowsAreCheckedAndKeepRecall) {
  Matrix data = Random(5000, 16, 11);
  std::mt19937_64 rng(12);
  std::normal_distribution<float> noise(0, 0.1f);
  IndexOptions o;
  o.type = "hnsw";
  ASSERT_OK_AND_ASSIGN(auto index, FaissIndex::Build(data, o));
  ExactIndex exact(&data);
  int with = 0, without = 0;
  for (int64_t r = 0; r < 200; ++r) {
    std::vector<float> q(data.row_span(r * 25).begin(), data.row_span(r * 25).end());
    for (float& x : q) x += noise(rng);
    const int64_t source = r * 25;
    SearchParams from_source;
    from_source.ef_search = 32;
    from_source.entry_rows = absl::MakeConstSpan(&source, 1);
    ASSERT_OK_AND_ASSIGN(auto a, index->Search(q, 10, from_source));
    SearchParams descend;
    descend.ef_search = 32;
    ASSERT_OK_AND_ASSIGN(auto b, index->Search(q, 10, descend));
    ASSERT_OK_AND_ASSIGN(auto want, exact.Search(q, 10, {}));
    for (const auto& w : want) {
      for (const auto& g : a) with += g.row == w.row;
      for (const auto& g : b) without += g.row == w.row;
    }
  }
  EXPECT_GE(with, without - 20);  // within 1% of 2000
  EXPECT_GE(with, 0.9 * 2000);

  for (const std::string type : {"hnsw", "flat"}) {
    o.type = type;
    ASSERT_OK_AND_ASSIGN(auto small, FaissIndex::Build(Random(50, 4, 13), o));
    for (const int64_t bad : {int64_t{-1}, int64_t{50}}) {
      SearchParams p;
      p.entry_rows = absl::MakeConstSpan(&bad, 1);
      auto got = small->Search(std::vector<float>(4, 1.0f), 5, p);
      EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << type << " " << bad;
      EXPECT_NE(got.status().message().find("entry row"), std::string::npos);
    }
  }
}

// A wide graph (M=48: 96 base-layer neighbours, more than one prefetch batch) loses nothing.
TEST(FaissIndexTest, EncoreHnswSearchHandlesWideGraphs) {
  Matrix data = Random(5000, 16, 7);
  Matrix queries = Random(100, 16, 8);
  IndexOptions o;
  o.type = "hnsw";
  o.hnsw_m = 48;
  o.hnsw_search = "faiss";
  ASSERT_OK_AND_ASSIGN(auto built, FaissIndex::Build(data, o));
  testing::TempDir tmp;
  ASSERT_OK(built->Save(tmp.Sub("i.faiss")));
  o.hnsw_search = "encore";
  ASSERT_OK_AND_ASSIGN(auto encore_search, FaissIndex::Load(tmp.Sub("i.faiss"), 16, 5000, o));
  ExactIndex exact(&data);
  const double f = RecallAt10(*built, exact, queries, 32);
  const double e = RecallAt10(*encore_search, exact, queries, 32);
  EXPECT_GE(e, f - 0.01);
  EXPECT_GE(e, 0.9);
}

TEST(FaissIndexTest, AutoPicksByThreshold) {
  IndexOptions o;
  o.hnsw_threshold = 100;
  EXPECT_EQ(ResolveIndexType(o, 99), "flat");
  EXPECT_EQ(ResolveIndexType(o, 100), "hnsw");
  o.type = "flat";
  EXPECT_EQ(ResolveIndexType(o, 1000000), "flat");
}

TEST(FaissIndexTest, SaveLoadRoundTripAndChecks) {
  testing::TempDir tmp;
  Matrix data = Random(500, 8, 5);
  IndexOptions o;
  o.type = "hnsw";
  ASSERT_OK_AND_ASSIGN(auto built, FaissIndex::Build(data, o));
  const std::string path = tmp.Sub("x.faiss");
  ASSERT_OK(built->Save(path));
  ASSERT_OK_AND_ASSIGN(auto loaded, FaissIndex::Load(path, 8, 500, o));
  EXPECT_EQ(loaded->type(), "hnsw");
  ASSERT_OK_AND_ASSIGN(auto a, built->Search(data.row_span(7), 5, {}));
  ASSERT_OK_AND_ASSIGN(auto b, loaded->Search(data.row_span(7), 5, {}));
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].row, b[i].row);
  // Wrong expectations and corrupt bytes are clean errors, never exceptions.
  EXPECT_EQ(FaissIndex::Load(path, 9, 500, o).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(FaissIndex::Load(path, 8, 501, o).status().code(), absl::StatusCode::kDataLoss);
  ASSERT_OK(common::WriteFile(tmp.Sub("bad.faiss"), "IHNf this is not an index"));
  EXPECT_FALSE(FaissIndex::Load(tmp.Sub("bad.faiss"), 8, 500, o).ok());
  EXPECT_FALSE(FaissIndex::Load(tmp.Sub("missing.faiss"), 8, 500, o).ok());
}

TEST(FaissIndexTest, RejectsBadQueries) {
  Matrix data = Random(10, 4, 6);
  ASSERT_OK_AND_ASSIGN(auto flat, FaissIndex::Build(data, {}));
  std::vector<float> short_query(3, 0.0f);
  EXPECT_EQ(flat->Search(short_query, 5, {}).status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<float> q(4, 1.0f);
  EXPECT_EQ(flat->Search(q, 0, {}).status().code(), absl::StatusCode::kInvalidArgument);
  // k larger than the index returns everything.
  ASSERT_OK_AND_ASSIGN(auto all, flat->Search(q, 50, {}));
  EXPECT_EQ(all.size(), 10u);
}

TEST(FaissIndexTest, BatchSearchMatchesSingle) {
  Matrix data = Random(300, 8, 7);
  Matrix queries = Random(5, 8, 8);
  ASSERT_OK_AND_ASSIGN(auto flat, FaissIndex::Build(data, {}));
  ASSERT_OK_AND_ASSIGN(auto batch, flat->SearchBatch(queries.data, 4, {}));
  ASSERT_EQ(batch.size(), 5u);
  for (int64_t q = 0; q < 5; ++q) {
    ASSERT_OK_AND_ASSIGN(auto single, flat->Search(queries.row_span(q), 4, {}));
    ASSERT_EQ(single.size(), batch[q].size());
    for (size_t i = 0; i < single.size(); ++i) EXPECT_EQ(single[i].row, batch[q][i].row);
  }
}

}  // namespace
}  // namespace encore::index
