// Maximum-inner-product search over a FAISS HNSW graph, tuned for single queries on the serving
// path: a small per-thread visited set (FAISS allocates and clears one byte per indexed
// vector on every query: 1 MB for 1M items), software prefetch of the neighbours' vectors before
// their distances are computed and of the next candidate's neighbour list while the current
// one's are scored, and the run-time-dispatched AVX2 kernel. Same graph, same beam
// (ef) semantics as hnswlib: recall at a given ef matches or beats FAISS's own search, which the
// tests and bench/ann_bench check side by side.
#ifndef ENCORE_INDEX_HNSW_SEARCH_H_
#define ENCORE_INDEX_HNSW_SEARCH_H_

#include <cstdint>
#include <vector>

#include "absl/types/span.h"
#include "index/embedding_index.h"

namespace faiss {
struct HNSW;
}

namespace encore::index {

// The rows one query has visited: an open-addressing hash set (linear probing, Fibonacci hashing)
// sized to the query rather than to the index. A search visits a few thousand rows, so the set is
// some 64 KiB that stays in the core's L1/L2 cache; a table with one mark per indexed row (1 MiB
// at 1M rows, FAISS's and hnswlib's choice) spreads each query's marks over thousands of cache
// lines, which under load cost ~0.1 ms per search (docs/BENCHMARKS.md). Reused across queries
// on a thread; Begin clears the part the query uses. Grows when a query visits more than
// expected. Its storage only grows: a thread alternating between narrow and wide searches
// reuses one allocation instead of freeing and allocating one per query.
class VisitedSet {
 public:
  static constexpr size_t kMinCapacity = 1024;
  // Starts a query expected to visit about `expected` rows.
  void Begin(size_t expected);
  // Marks `row`; returns false when it was already marked since Begin.
  // REQUIRES: Begin was called; 0 <= row < 2^31 (FAISS's HNSW ids are 32-bit).
  bool Visit(int64_t row) {
    const int32_t i = static_cast<int32_t>(row);
    const size_t mask = capacity_ - 1;
    size_t h = Hash(i);
    while (slots_[h] != kEmpty) {
      if (slots_[h] == i) return false;
      h = (h + 1) & mask;
    }
    slots_[h] = i;
    if (++size_ * 2 > capacity_) Grow();
    return true;
  }
  // Slots in use by this query (a power of two, at least kMinCapacity).
  size_t capacity() const { return capacity_; }
  // Rows marked since Begin.
  size_t size() const { return size_; }

 private:
  static constexpr int32_t kEmpty = -1;
  size_t Hash(int32_t i) const {
    return static_cast<size_t>(
        (static_cast<uint64_t>(static_cast<uint32_t>(i)) * 0x9E3779B97F4A7C15ull) >> shift_);
  }
  void Grow();

  std::vector<int32_t> slots_;  // the first capacity_ are the table; the rest is spare storage
  size_t capacity_ = 0;
  int shift_ = 64;
  size_t size_ = 0;
};

// The graph's coarsest nodes with their vectors stored together, scanned exhaustively to seed a
// level-1 search: all nodes of the lowest level >= 1 that holds at most kMaxPivots of them (about
// a thousand on a 1M-row M=32 graph, 160 KB of vectors at 40 dims).
struct HnswPivots {
  static constexpr size_t kMaxPivots = 4096;
  int level = 0;               // the pivots are the nodes at this level and above; 0 = none
  std::vector<int32_t> rows;   // ascending
  std::vector<float> vectors;  // rows.size() x dim
};
HnswPivots BuildHnswPivots(const faiss::HNSW& hnsw, const float* data, int32_t dim, int64_t ntotal);

// Searches `hnsw` (whose node i has the vector data + i * dim) for the k rows with the largest
// inner product with `query`, keeping a beam of max(ef, k) at the base layer. Best first.
// With `entries`, the base-layer beam starts from those rows (duplicates ignored) and the greedy
// descent through the upper layers is skipped; without, it starts where the descent from the
// graph's entry point ends.
// With `entries`, `pivots` and `upper_ef` > 0, the base-layer beam starts instead from the best
// kUpperPicks (by inner product) of the entries and of the results of a level-1 beam search of
// width `upper_ef`, itself started from the best kUpperPicks pivots.
// With `half` (node i's vector as half floats at half + i * dim, from FloatsToHalf), the graph is
// walked by those, half the memory traffic of `data`, and the final beam is rescored from `data`:
// the scores returned are exact, only the path through the graph may differ in near-ties.
// REQUIRES: k >= 1, every entry in [0, ntotal), the graph and data are not modified during the
// call, `pivots` (if any) built from this graph and data, `half` (if any) converted from `data`
// on a CPU where HalfKernelAvailable().
// 12 rather than 4: a far taste vector's best matches lie in several regions, and more starts
// reach more of them at the same beam width (docs/BENCHMARKS.md, sixteenth run: recall@10 of the
// far searches 0.915 -> 0.926 at ef 224, within the time's noise).
inline constexpr int kUpperPicks = 12;
std::vector<Neighbor> HnswSearch(const faiss::HNSW& hnsw, const float* data, int32_t dim,
                                 int64_t ntotal, const float* query, int k, int ef,
                                 absl::Span<const int64_t> entries = {},
                                 const HnswPivots* pivots = nullptr, int upper_ef = 0,
                                 const uint16_t* half = nullptr);

}  // namespace encore::index

#endif  // ENCORE_INDEX_HNSW_SEARCH_H_
