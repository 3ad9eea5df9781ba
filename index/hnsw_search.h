// Maximum-inner-product search over a FAISS HNSW graph, tuned for single queries on the serving
// path: a reusable per-thread visited table (FAISS allocates and clears one byte per indexed
// vector on every query: 1 MB for 1M items), software prefetch of the neighbours' vectors before
// their distances are computed, and the run-time-dispatched AVX2 kernel. Same graph, same beam
// (ef) semantics as hnswlib: recall at a given ef matches or beats FAISS's own search, which the
// tests and bench/ann_bench check side by side.
#ifndef ENCORE_INDEX_HNSW_SEARCH_H_
#define ENCORE_INDEX_HNSW_SEARCH_H_

#include <cstdint>
#include <vector>

#include "index/embedding_index.h"

namespace faiss {
struct HNSW;
}

namespace encore::index {

// Searches `hnsw` (whose node i has the vector data + i * dim) for the k rows with the largest
// inner product with `query`, keeping a beam of max(ef, k) at the base layer. Best first.
// REQUIRES: k >= 1, the graph and data are not modified during the call.
std::vector<Neighbor> HnswSearch(const faiss::HNSW& hnsw, const float* data, int32_t dim,
                                 int64_t ntotal, const float* query, int k, int ef);

}  // namespace encore::index

#endif  // ENCORE_INDEX_HNSW_SEARCH_H_
