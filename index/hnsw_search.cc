#include "index/hnsw_search.h"

#include <faiss/impl/HNSW.h>
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <queue>
#include <utility>

#include "index/simd_distance.h"

namespace encore::index {

void VisitedSet::Begin(size_t expected) {
  size_t cap = kMinCapacity;
  while (cap < 2 * expected) cap *= 2;
  if (slots_.size() < cap) slots_.resize(cap);
  std::fill(slots_.begin(), slots_.begin() + cap, kEmpty);
  capacity_ = cap;
  shift_ = 64 - __builtin_ctzll(cap);
  size_ = 0;
}

void VisitedSet::Grow() {
  const std::vector<int32_t> old(slots_.begin(), slots_.begin() + capacity_);
  capacity_ *= 2;
  if (slots_.size() < capacity_) slots_.resize(capacity_);
  std::fill(slots_.begin(), slots_.begin() + capacity_, kEmpty);
  shift_ = 64 - __builtin_ctzll(capacity_);
  const size_t mask = capacity_ - 1;
  for (int32_t v : old) {
    if (v == kEmpty) continue;
    size_t h = Hash(v);
    while (slots_[h] != kEmpty) h = (h + 1) & mask;
    slots_[h] = v;
  }
}

namespace {

// Prefetches every cache line that [begin, end) touches.
inline void PrefetchRange(const void* begin, const void* end) {
  const uintptr_t stop = reinterpret_cast<uintptr_t>(end);
  for (uintptr_t p = reinterpret_cast<uintptr_t>(begin) & ~uintptr_t{63}; p < stop; p += 64) {
    _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0);
  }
}

inline void Prefetch(const float* p, int32_t dim) { PrefetchRange(p, p + dim); }

// (distance, node) with distance = -inner product: smaller is closer.
using Node = std::pair<float, int32_t>;
using ClosestFirst = std::priority_queue<Node, std::vector<Node>, std::greater<Node>>;

// The beam: the closest nodes kept so far, the farthest on top (a max-heap in a vector).
// Admitting a closer node to a full beam replaces the top and sifts it down once, where
// std::priority_queue's push-then-pop sifts up and then all the way down again (the pop was 5%
// of the server's CPU under load, docs/BENCHMARKS.md).
class Beam {
 public:
  Beam() = default;
  explicit Beam(std::vector<Node> nodes) : heap_(std::move(nodes)) {
    std::make_heap(heap_.begin(), heap_.end());
  }
  bool empty() const { return heap_.empty(); }
  size_t size() const { return heap_.size(); }
  const Node& top() const { return heap_.front(); }
  // Every node held, in heap order.
  const std::vector<Node>& nodes() const { return heap_; }
  void push(Node n) {
    heap_.push_back(n);
    std::push_heap(heap_.begin(), heap_.end());
  }
  void pop() {
    std::pop_heap(heap_.begin(), heap_.end());
    heap_.pop_back();
  }
  // Adds `n` and, when the beam then holds more than `width`, drops the farthest: the same
  // nodes as push(n) then pop(), in one sift.
  void PushBounded(Node n, size_t width) {
    if (heap_.size() < width) {
      push(n);
    } else if (n < heap_.front()) {
      ReplaceTop(n);
    }
  }

 private:
  void ReplaceTop(Node n) {
    const size_t size = heap_.size();
    size_t i = 0;
    for (size_t child = 1; child < size; child = 2 * i + 1) {
      if (child + 1 < size && heap_[child] < heap_[child + 1]) ++child;
      if (!(n < heap_[child])) break;
      heap_[i] = heap_[child];
      i = child;
    }
    heap_[i] = n;
  }

  std::vector<Node> heap_;
};

// Keeps the `n` closest of `nodes`, each row once, closest first.
void KeepClosest(std::vector<Node>* nodes, size_t n) {
  // A row has one distance, so sorting puts its copies next to each other.
  std::sort(nodes->begin(), nodes->end());
  nodes->erase(std::unique(nodes->begin(), nodes->end(),
                           [](const Node& a, const Node& b) { return a.second == b.second; }),
               nodes->end());
  if (nodes->size() > n) nodes->resize(n);
}

}  // namespace

HnswPivots BuildHnswPivots(const faiss::HNSW& hnsw, const float* data, int32_t dim,
                           int64_t ntotal) {
  HnswPivots pivots;
  if (ntotal <= 0 || hnsw.max_level < 1) return pivots;
  // at_least[l]: nodes whose top level is >= l (FAISS's levels[i] is node i's top level + 1).
  std::vector<int64_t> at_least(hnsw.max_level + 2, 0);
  for (int64_t i = 0; i < ntotal; ++i) ++at_least[std::max(hnsw.levels[i] - 1, 0)];
  for (int l = hnsw.max_level; l >= 1; --l) at_least[l - 1] += at_least[l];
  for (int l = 1; l <= hnsw.max_level; ++l) {
    if (at_least[l] > 0 && at_least[l] <= static_cast<int64_t>(HnswPivots::kMaxPivots)) {
      pivots.level = l;
      break;
    }
  }
  if (pivots.level == 0) return pivots;
  const size_t d = static_cast<size_t>(dim);
  for (int64_t i = 0; i < ntotal; ++i) {
    if (hnsw.levels[i] - 1 < pivots.level) continue;
    pivots.rows.push_back(static_cast<int32_t>(i));
    pivots.vectors.insert(pivots.vectors.end(), data + i * d, data + (i + 1) * d);
  }
  return pivots;
}

std::vector<Neighbor> HnswSearch(const faiss::HNSW& hnsw, const float* data, int32_t dim,
                                 int64_t ntotal, const float* query, int k, int ef,
                                 absl::Span<const int64_t> entries, const HnswPivots* pivots,
                                 int upper_ef, const uint16_t* half) {
  std::vector<Neighbor> out;
  if (ntotal <= 0 || hnsw.entry_point < 0) return out;
  const size_t d = static_cast<size_t>(dim);
  auto exact = [&](int32_t i) {
    return -InnerProduct(query, data + static_cast<size_t>(i) * d, d);
  };
  auto dist = [&](int32_t i) {
    return half != nullptr ? -InnerProductHalf(query, half + static_cast<size_t>(i) * d, d)
                           : exact(i);
  };
  auto prefetch_row = [&](int32_t i) {
    if (half != nullptr) {
      PrefetchRange(half + static_cast<size_t>(i) * d, half + static_cast<size_t>(i + 1) * d);
    } else {
      Prefetch(data + static_cast<size_t>(i) * d, dim);
    }
  };
  auto range = [&hnsw](int32_t node, int level, size_t* begin, size_t* end) {
    const size_t o = hnsw.offsets[node];
    *begin = o + hnsw.cum_nneighbor_per_level[level];
    *end = o + hnsw.cum_nneighbor_per_level[level + 1];
  };

  thread_local VisitedSet visited;
  const size_t beam = static_cast<size_t>(std::max(ef, k));
  // On the 1M-row M=32 benchmark graph a search visits ~3,900 rows at ef 96 and ~5,600 at ef 224
  // (beam * 48, the earlier estimate, doubled the table for wide searches); Grow covers more.
  visited.Begin(beam * 20 + 2500);
  ClosestFirst candidates;
  Beam results;
  auto start_from = [&](int32_t node, float dn) {
    if (!visited.Visit(node)) return;
    candidates.emplace(dn, node);
    results.PushBounded({dn, node}, beam);
  };
  // Beam search on `level` from what `cand` and `res` hold, keeping the `width` closest in `res`.
  // Unvisited neighbours are collected (and their vectors prefetched) a batch at a time before
  // any distance is computed, so the memory loads overlap instead of stalling one by one.
  auto beam_search = [&](int level, VisitedSet& seen, ClosestFirst& cand, Beam& res, size_t width) {
    constexpr int kBatch = 64;
    int32_t batch[kBatch];
    int n = 0;
    auto score_batch = [&] {
      for (int j = 0; j < n; ++j) {
        const float dn = dist(batch[j]);
        if (res.size() < width || dn < res.top().first) {
          // A candidate may be expanded soon: fetch where its neighbour list starts.
          __builtin_prefetch(&hnsw.offsets[batch[j]]);
          cand.emplace(dn, batch[j]);
          res.PushBounded({dn, batch[j]}, width);
        }
      }
      n = 0;
    };
    while (!cand.empty()) {
      const Node c = cand.top();
      if (c.first > res.top().first && res.size() >= width) break;
      cand.pop();
      // The next candidate is most likely expanded next: fetch its neighbour list while this
      // one's neighbours are scored (its offset was fetched when it became a candidate).
      if (!cand.empty()) {
        size_t next_begin = 0, next_end = 0;
        range(cand.top().second, level, &next_begin, &next_end);
        PrefetchRange(hnsw.neighbors.data() + next_begin, hnsw.neighbors.data() + next_end);
      }
      size_t begin = 0, end = 0;
      range(c.second, level, &begin, &end);
      for (size_t j = begin; j < end; ++j) {
        const int32_t nb = hnsw.neighbors[j];
        if (nb < 0) break;
        if (!seen.Visit(nb)) continue;
        prefetch_row(nb);
        batch[n++] = nb;
        if (n == kBatch) score_batch();
      }
      score_batch();
    }
  };
  const bool upper = !entries.empty() && upper_ef > 0 && pivots != nullptr && pivots->level > 0;
  if (upper) {
    // Level-1 beam from the closest pivots (every pivot has level-1 links), with its own visited
    // set: a node it scores may still enter the base-layer beam.
    std::vector<Node> seeds;
    seeds.reserve(pivots->rows.size());
    for (size_t j = 0; j < pivots->rows.size(); ++j) {
      seeds.emplace_back(-InnerProduct(query, pivots->vectors.data() + j * d, d), pivots->rows[j]);
    }
    // The pivots are distinct rows: select the best kUpperPicks of the ~1,000 rather than sort
    // them all (the sort was ~2% of the server's CPU under load).
    if (seeds.size() > static_cast<size_t>(kUpperPicks)) {
      std::nth_element(seeds.begin(), seeds.begin() + kUpperPicks, seeds.end());
      seeds.resize(kUpperPicks);
    }
    std::sort(seeds.begin(), seeds.end());
    thread_local VisitedSet upper_visited;
    upper_visited.Begin(static_cast<size_t>(upper_ef) * 32);
    ClosestFirst upper_candidates;
    Beam upper_results;
    const size_t upper_beam = static_cast<size_t>(upper_ef);
    for (const Node& n : seeds) {
      upper_visited.Visit(n.second);
      upper_candidates.push(n);
      upper_results.push(n);
    }
    beam_search(1, upper_visited, upper_candidates, upper_results, upper_beam);
    // The base layer starts from the closest of the given entries and the level-1 results.
    std::vector<Node> starts;
    starts.reserve(entries.size() + upper_results.size());
    for (int64_t e : entries) {
      starts.emplace_back(dist(static_cast<int32_t>(e)), static_cast<int32_t>(e));
    }
    starts.insert(starts.end(), upper_results.nodes().begin(), upper_results.nodes().end());
    KeepClosest(&starts, kUpperPicks);
    for (const Node& n : starts) start_from(n.second, n.first);
  } else if (!entries.empty()) {
    for (int64_t e : entries) start_from(static_cast<int32_t>(e), dist(static_cast<int32_t>(e)));
  } else {
    // Greedy descent through the upper layers.
    int32_t ep = hnsw.entry_point;
    float d_ep = dist(ep);
    for (int level = hnsw.max_level; level >= 1; --level) {
      for (bool moved = true; moved;) {
        moved = false;
        size_t begin = 0, end = 0;
        range(ep, level, &begin, &end);
        for (size_t j = begin; j < end; ++j) {
          const int32_t nb = hnsw.neighbors[j];
          if (nb < 0) break;
          const float dn = dist(nb);
          if (dn < d_ep) ep = nb, d_ep = dn, moved = true;
        }
      }
    }
    start_from(ep, d_ep);
  }

  beam_search(0, visited, candidates, results, beam);
  if (half != nullptr) {
    // Exact scores for the whole beam, so the k returned are the best of it by the true inner
    // product; the rows are fetched together first.
    std::vector<Node> beam_nodes = results.nodes();
    for (const Node& n : beam_nodes) Prefetch(data + static_cast<size_t>(n.second) * d, dim);
    for (Node& n : beam_nodes) n.first = exact(n.second);
    results = Beam(std::move(beam_nodes));
  }
  while (results.size() > static_cast<size_t>(k)) results.pop();
  out.resize(results.size());
  for (size_t i = out.size(); i-- > 0;) {
    out[i] = {results.top().second, -results.top().first};
    results.pop();
  }
  return out;
}

}  // namespace encore::index
