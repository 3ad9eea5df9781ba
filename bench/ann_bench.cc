// Raw index speed and recall at the serving parameters: loads a snapshot's music space, times
// single-threaded searches of the index the server would use, and measures recall@10 against
// exact (brute-force) search.
// Usage: encore-bench-ann --snapshot_dir=DIR [--queries=1000] [--ef_search=96]
#include <chrono>
#include <cstdio>
#include <random>

#include "absl/container/flat_hash_set.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "index/catalog.h"
#include "index/snapshot_manager.h"

ABSL_FLAG(std::string, snapshot_dir, "", "Snapshot (or root) to load");
ABSL_FLAG(int, queries, 1000, "Queries (random catalog items' vectors, perturbed)");
ABSL_FLAG(int, exact_queries, 200, "Queries also run through exact search for recall");
ABSL_FLAG(int, ef_search, 96, "HNSW beam width (the server's --ef_search)");
ABSL_FLAG(int, k, 10, "Neighbours per query");
ABSL_FLAG(std::string, hnsw_search, "encore", "HNSW search implementation: encore or faiss");
ABSL_FLAG(uint64_t, seed, 1, "Seed");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  auto dir = encore::index::FindNewestSnapshot(absl::GetFlag(FLAGS_snapshot_dir));
  if (!dir.ok()) {
    std::fprintf(stderr, "%s\n", dir.status().ToString().c_str());
    return 1;
  }
  const auto t0 = std::chrono::steady_clock::now();
  encore::index::CatalogOptions o;
  o.index.hnsw_search = absl::GetFlag(FLAGS_hnsw_search);
  o.index.ef_search = absl::GetFlag(FLAGS_ef_search);
  auto catalog = encore::index::Catalog::Load(*dir, o);
  if (!catalog.ok()) {
    std::fprintf(stderr, "%s\n", catalog.status().ToString().c_str());
    return 1;
  }
  const double load_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const encore::index::EmbeddingSpace* music = (*catalog)->space(encore::index::kMusicSpace);
  const int32_t d = music->vectors.dim;
  const int k = absl::GetFlag(FLAGS_k);
  std::mt19937_64 rng(absl::GetFlag(FLAGS_seed));
  std::normal_distribution<float> noise(0.0f, 0.05f);
  std::vector<std::vector<float>> queries(absl::GetFlag(FLAGS_queries));
  for (auto& q : queries) {
    const int64_t r = std::uniform_int_distribution<int64_t>(0, music->vectors.rows - 1)(rng);
    auto v = music->vectors.row_span(r);
    q.assign(v.begin(), v.end());
    for (float& x : q) x += noise(rng);
  }
  encore::index::SearchParams params;
  params.ef_search = absl::GetFlag(FLAGS_ef_search);
  std::vector<std::vector<encore::index::Neighbor>> results(queries.size());
  const auto s0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < queries.size(); ++i) {
    auto r = music->index->Search(queries[i], k, params);
    if (!r.ok()) {
      std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
      return 1;
    }
    results[i] = *std::move(r);
  }
  const double per_query_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s0).count() /
      queries.size();
  encore::index::ExactIndex exact(music->vectors);
  const int n_exact = std::min<int>(absl::GetFlag(FLAGS_exact_queries), queries.size());
  int hits = 0;
  const auto e0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n_exact; ++i) {
    auto truth = exact.Search(queries[i], k, params);
    absl::flat_hash_set<int64_t> want;
    for (const auto& n : *truth) want.insert(n.row);
    for (const auto& n : results[i]) hits += want.contains(n.row);
  }
  const double exact_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - e0).count() /
      std::max(n_exact, 1);
  std::printf(
      "index=%s search=%s rows=%lld dim=%d ef_search=%d load_seconds=%.2f ann_ms_per_query=%.4f "
      "exact_ms_per_query=%.3f recall_at_%d=%.4f queries=%zu exact_queries=%d\n",
      music->index->type().c_str(), o.index.hnsw_search.c_str(),
      static_cast<long long>(music->vectors.rows), d, params.ef_search, load_s, per_query_ms,
      exact_ms, k, static_cast<double>(hits) / (k * std::max(n_exact, 1)), queries.size(), n_exact);
  return 0;
}
