// The nearest-neighbour interface every embedding space is searched through.
#ifndef ENCORE_INDEX_EMBEDDING_INDEX_H_
#define ENCORE_INDEX_EMBEDDING_INDEX_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "index/matrix.h"

namespace encore::index {

// One search hit: a row of the indexed matrix and its inner-product score (higher = closer).
struct Neighbor {
  int64_t row = -1;
  float score = 0.0f;
};

// Per-call search settings; an index never mutates shared state to apply them.
struct SearchParams {
  // HNSW beam width; 0 uses the index's default. Ignored by exact indexes.
  int ef_search = 0;
  // Rows known to lie near the query (the listener's strongest items, the source item of an
  // item-to-item call). An HNSW search starts its base-layer beam from them instead of descending
  // from the graph's global entry point: on inner-product graphs the descent tends to end at a
  // high-norm hub away from the query's best matches (docs/BENCHMARKS.md, "entry points").
  // Empty: the usual descent. Ignored by exact and flat indexes and by FAISS's own HNSW search.
  // Every row must be in [0, size()). Not owned; valid for the call.
  absl::Span<const int64_t> entry_rows;
  // HNSW with entry_rows: when > 0, the base-layer beam starts from the best few (by inner
  // product) of entry_rows and of the results of a level-1 beam search of this width, seeded
  // from the graph's top-level nodes scanned exhaustively. Taste vectors of listeners spread over
  // several genres have their best matches far from their own strongest items; the coarse levels
  // find those regions (docs/BENCHMARKS.md, "upper-layer beam"). 0 = off. Must be >= 0.
  int upper_ef = 0;
};

// Maximum inner-product search over a fixed set of rows.
// Thread safety: all methods are const and safe to call concurrently.
class EmbeddingIndex {
 public:
  virtual ~EmbeddingIndex() = default;

  // Number of columns of every row and query.
  virtual int32_t dimension() const = 0;
  // Number of indexed rows.
  virtual int64_t size() const = 0;
  // "flat", "hnsw" or "exact".
  virtual std::string type() const = 0;

  // Returns up to k neighbours of `query` (dimension() floats), best first.
  // REQUIRES: k >= 1.
  virtual absl::StatusOr<std::vector<Neighbor>> Search(absl::Span<const float> query, int k,
                                                       const SearchParams& params) const = 0;

  // Searches n = queries.size() / dimension() queries (row-major) at once; result[i] holds the
  // neighbours of query i. Default: one Search per query.
  virtual absl::StatusOr<std::vector<std::vector<Neighbor>>> SearchBatch(
      absl::Span<const float> queries, int k, const SearchParams& params) const;

  // The indexed vectors (size() x dimension(), row-major) when the index keeps its own copy,
  // else nullptr. Valid for the index's lifetime.
  virtual const float* stored_vectors() const { return nullptr; }

  // How the index's graph searches read the vectors: "half" (a half-precision copy), "float",
  // or "" when it has no graph search of its own (flat indexes, FAISS's own HNSW search).
  virtual std::string graph_walk() const { return ""; }
};

// Brute-force inner product over a borrowed matrix, without FAISS. Used as the ground truth
// in recall measurements and as the index in unit tests.
// REQUIRES: the viewed vectors outlive the index.
class ExactIndex : public EmbeddingIndex {
 public:
  explicit ExactIndex(MatrixView vectors) : vectors_(vectors) {}
  explicit ExactIndex(const Matrix* vectors) : vectors_(*vectors) {}
  int32_t dimension() const override { return vectors_.dim; }
  int64_t size() const override { return vectors_.rows; }
  std::string type() const override { return "exact"; }
  absl::StatusOr<std::vector<Neighbor>> Search(absl::Span<const float> query, int k,
                                               const SearchParams& params) const override;

 private:
  MatrixView vectors_;
};

}  // namespace encore::index

#endif  // ENCORE_INDEX_EMBEDDING_INDEX_H_
