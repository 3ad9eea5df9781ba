#include "index/embedding_index.h"

#include <algorithm>
#include <queue>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "index/simd_distance.h"

namespace encore::index {

absl::StatusOr<std::vector<std::vector<Neighbor>>> EmbeddingIndex::SearchBatch(
    absl::Span<const float> queries, int k, const SearchParams& params) const {
  const int32_t d = dimension();
  if (d <= 0 || queries.size() % d != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("query block of ", queries.size(), " floats is not a multiple of ", d));
  }
  std::vector<std::vector<Neighbor>> out(queries.size() / d);
  for (size_t i = 0; i < out.size(); ++i) {
    ASSIGN_OR_RETURN(out[i], Search(queries.subspan(i * d, d), k, params));
  }
  return out;
}

absl::StatusOr<std::vector<Neighbor>> ExactIndex::Search(absl::Span<const float> query, int k,
                                                         const SearchParams& /*params*/) const {
  if (static_cast<int64_t>(query.size()) != vectors_.dim) {
    return absl::InvalidArgumentError(
        absl::StrCat("query has ", query.size(), " floats, index dimension is ", vectors_.dim));
  }
  if (k < 1) return absl::InvalidArgumentError("k must be >= 1");
  auto worse = [](const Neighbor& a, const Neighbor& b) {
    return a.score > b.score || (a.score == b.score && a.row < b.row);
  };
  // Min-heap of the best k so far (top = worst kept).
  std::priority_queue<Neighbor, std::vector<Neighbor>, decltype(worse)> heap(worse);
  for (int64_t r = 0; r < vectors_.rows; ++r) {
    const float* v = vectors_.row(r);
    const float s = InnerProduct(v, query.data(), static_cast<size_t>(vectors_.dim));
    if (static_cast<int>(heap.size()) < k) {
      heap.push({r, s});
    } else if (s > heap.top().score) {
      heap.pop();
      heap.push({r, s});
    }
  }
  std::vector<Neighbor> out(heap.size());
  for (size_t i = out.size(); i-- > 0;) {
    out[i] = heap.top();
    heap.pop();
  }
  return out;
}

}  // namespace encore::index
