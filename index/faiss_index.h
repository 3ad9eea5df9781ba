// The only code that sees FAISS: builds, loads, saves and searches FAISS indexes.
#ifndef ENCORE_INDEX_FAISS_INDEX_H_
#define ENCORE_INDEX_FAISS_INDEX_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/file_util.h"
#include "common/huge_pages.h"
#include "index/embedding_index.h"
#include "index/hnsw_search.h"

namespace faiss {
struct Index;
struct HNSW;
}  // namespace faiss

namespace encore::index {

// How to build an index for a space.
struct IndexOptions {
  // "auto" (flat below hnsw_threshold rows, HNSW at or above), "flat" or "hnsw".
  std::string type = "auto";
  // Default: 200000 rows.
  int64_t hnsw_threshold = 200000;
  // HNSW graph degree. Default: 32.
  int hnsw_m = 32;
  // HNSW build beam width. Default: 64.
  int ef_construction = 64;
  // HNSW search beam width used when a call does not set one. Default: 96.
  int ef_search = 96;
  // HNSW search implementation: "encore" (index/hnsw_search.h: prefetching, reusable visited
  // table), "encore_fp16" (the same, walking a half-precision copy of the vectors made at load:
  // half the memory traffic, 2 more bytes per dimension per row resident, exact final scores;
  // needs AVX2+FMA+F16C), "auto" (encore_fp16 where the CPU has those and every vector
  // component fits a half float, else encore) or "faiss" (FAISS's own). Same graph and ef.
  // Default: "auto".
  std::string hnsw_search = "auto";
  // Back the HNSW graph, its vectors and the walk's copy with transparent huge pages
  // (madvise MADV_HUGEPAGE + MADV_COLLAPSE) where the kernel allows. Default: true.
  bool huge_pages = true;
};

// OK when `name` is an IndexOptions::hnsw_search this process can run, else INVALID_ARGUMENT.
absl::Status CheckHnswSearch(const std::string& name);

// Resolves "auto" to "flat" or "hnsw" for `rows` rows.
std::string ResolveIndexType(const IndexOptions& options, int64_t rows);

// A FAISS inner-product index (IndexFlatIP or IndexHNSWFlat with METRIC_INNER_PRODUCT).
// Thread safety: const methods are safe concurrently. Search runs single-threaded (OpenMP pinned
// to one thread on the calling thread) so it never fights the RPC workers for cores.
class FaissIndex : public EmbeddingIndex {
 public:
  ~FaissIndex() override;

  // Builds an index over `vectors` (copied into FAISS). Building HNSW uses all OpenMP threads.
  static absl::StatusOr<std::unique_ptr<FaissIndex>> Build(MatrixView vectors,
                                                           const IndexOptions& options);
  // Loads an index written by Save(). Verifies dimension and row count. With `expected`, the
  // file's size and XXH3 are checked in the same pass that reads it (DATA_LOSS "checksum
  // mismatch" when they differ); a file FAISS cannot parse is then reported as a checksum
  // mismatch when it is one, in preference to the parse error it caused.
  static absl::StatusOr<std::unique_ptr<FaissIndex>> Load(
      const std::string& path, int32_t expected_dim, int64_t expected_rows,
      const IndexOptions& options, const common::FileDigest* expected = nullptr);
  // The distance kernel FAISS runs with in this process: "avx2+fma" or "scalar"
  // (index/simd_distance.h).
  static std::string DistanceKernel();

  // Writes the index to `path`.
  absl::Status Save(const std::string& path) const;

  // A numbering of the rows under which graph neighbours lie near each other in memory:
  // order[new_row] = old_row, a breadth-first walk of the HNSW base layer from the graph's entry
  // point (neighbour lists in FAISS's order, closest first; rows it cannot reach start further
  // walks, lowest row first). A search then reads vectors and neighbour lists from far fewer
  // distinct cache lines and pages: about 1.5x faster on the 1M benchmark, same results
  // (docs/BENCHMARKS.md, "Rows in graph order"). The identity for a flat index.
  std::vector<int64_t> LocalityOrder() const;
  // Renumbers the rows: row i afterwards is what row order[i] was (graph, vectors and the
  // search-side copies alike), so a search returns the same neighbours under their new rows.
  // INVALID_ARGUMENT, changing nothing, unless `order` is a permutation of [0, size());
  // RESOURCE_EXHAUSTED, changing nothing, when the copies it renumbers from do not fit in memory.
  // Thread safety: REQUIRES no concurrent call of any other method (used when building).
  absl::Status Permute(absl::Span<const int64_t> order);

  int32_t dimension() const override;
  int64_t size() const override;
  std::string type() const override { return type_; }
  absl::StatusOr<std::vector<Neighbor>> Search(absl::Span<const float> query, int k,
                                               const SearchParams& params) const override;
  absl::StatusOr<std::vector<std::vector<Neighbor>>> SearchBatch(
      absl::Span<const float> queries, int k, const SearchParams& params) const override;
  // The raw float storage of the flat index or of the HNSW index's flat storage.
  const float* stored_vectors() const override;
  // Whether HNSW searches walk a half-precision copy of the vectors ("encore_fp16", or "auto"
  // where it could).
  bool walks_half_floats() const { return !half_.empty(); }
  std::string graph_walk() const override;
  // Bytes of the HNSW graph and vectors the kernel put in transparent huge pages
  // (IndexOptions::huge_pages); 0 where it declined. Waits for the collapse, which runs in the
  // background from construction.
  size_t huge_page_bytes() const;

 private:
  FaissIndex(std::unique_ptr<faiss::Index> index, std::string type, const IndexOptions& options);
  absl::Status RunSearch(const float* queries, int64_t n, int k, const SearchParams& params,
                         float* distances, int64_t* labels) const;
  // INVALID_ARGUMENT when "encore_fp16" was asked for an HNSW graph whose vectors do not fit
  // half floats.
  absl::Status CheckHalfWalk(const IndexOptions& options) const;

  std::unique_ptr<faiss::Index> index_;
  std::string type_;
  int default_ef_;
  const float* storage_ = nullptr;               // flat float storage, if any
  const faiss::HNSW* own_hnsw_graph_ = nullptr;  // searched by HnswSearch when set
  HnswPivots pivots_;                            // of own_hnsw_graph_, for SearchParams::upper_ef
  std::vector<uint16_t> half_;                   // storage_ as half floats ("encore_fp16")
  // The huge-page collapse running in the background. Last member: destroyed first, it waits
  // for the collapse to finish before the memory it works on goes.
  common::HugePageCollapse huge_pages_;
};

}  // namespace encore::index

#endif  // ENCORE_INDEX_FAISS_INDEX_H_
