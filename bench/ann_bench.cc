// Raw index speed and recall at the serving parameters: loads a snapshot's music space, times
// single-threaded searches of the index the server would use, and measures recall@10 against
// exact (brute-force) search.
// Queries are either perturbed item vectors (k = --k), or, with --history_dir, the searches the
// Recommend pipeline itself issues for sampled listeners (their taste vectors, with the serving
// k = count * 4 + items excluded), captured in process and replayed.
// Usage: encore-bench-ann --snapshot_dir=DIR [--queries=1000] [--ef_search=96]
//        [--history_dir=DIR --users=N [--count=20]]
#include <chrono>
#include <cstdio>
#include <random>

#include "absl/container/flat_hash_set.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "index/catalog.h"
#include "index/snapshot_manager.h"
#include "recommend/pipeline.h"
#include "storage/rocksdb_history_store.h"

ABSL_FLAG(std::string, snapshot_dir, "", "Snapshot (or root) to load");
ABSL_FLAG(int, queries, 1000, "Queries (random catalog items' vectors, perturbed)");
ABSL_FLAG(int, exact_queries, 200, "Queries also run through exact search for recall");
ABSL_FLAG(int, ef_search, 96, "HNSW beam width (the server's --ef_search)");
ABSL_FLAG(int, k, 10, "Neighbours per query");
ABSL_FLAG(std::string, history_dir, "",
          "Replay the Recommend pipeline's own searches for listeners in this RocksDB history "
          "(not open in a running server)");
ABSL_FLAG(int, users, 0, "With --history_dir: listener population (ids u1..uN), sampled uniformly");
ABSL_FLAG(int, count, 20, "With --history_dir: items per Recommend (the server's default)");
ABSL_FLAG(std::string, hnsw_search, "encore", "HNSW search implementation: encore or faiss");
ABSL_FLAG(uint64_t, seed, 1, "Seed");

namespace {

struct Query {
  std::vector<float> vector;
  int k;
};

// Runs Recommend for `n` sampled listeners and returns every index search it issued, with the
// mean in-process time of one Recommend call.
absl::StatusOr<std::vector<Query>> CaptureServingSearches(const encore::index::Catalog& catalog,
                                                          int n, std::mt19937_64& rng,
                                                          double* recommend_ms) {
  ASSIGN_OR_RETURN(auto history, encore::storage::RocksDbHistoryStore::Open(
                                     absl::GetFlag(FLAGS_history_dir), {}));
  std::vector<Query> captured;
  encore::recommend::PipelineOptions options;
  options.on_index_search = [&captured](absl::Span<const float> q, int k) {
    captured.push_back({std::vector<float>(q.begin(), q.end()), k});
  };
  encore::recommend::RecommendPipeline pipeline(history.get(), options);
  const int users = absl::GetFlag(FLAGS_users);
  if (users <= 0) return absl::InvalidArgumentError("--history_dir needs --users > 0");
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    encore::v1::RecommendRequest request;
    request.set_user_id(absl::StrCat("u", std::uniform_int_distribution<int>(1, users)(rng)));
    request.set_count(absl::GetFlag(FLAGS_count));
    encore::v1::RecommendResponse response;
    RETURN_IF_ERROR(pipeline.Recommend(catalog, request, &response));
  }
  *recommend_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / n;
  return captured;
}

}  // namespace

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
  std::vector<Query> queries;
  double recommend_ms = 0;
  const bool serving = !absl::GetFlag(FLAGS_history_dir).empty();
  if (serving) {
    auto captured =
        CaptureServingSearches(**catalog, absl::GetFlag(FLAGS_queries), rng, &recommend_ms);
    if (!captured.ok()) {
      std::fprintf(stderr, "%s\n", captured.status().ToString().c_str());
      return 1;
    }
    queries = *std::move(captured);
  } else {
    std::normal_distribution<float> noise(0.0f, 0.05f);
    queries.resize(absl::GetFlag(FLAGS_queries));
    for (auto& q : queries) {
      const int64_t r = std::uniform_int_distribution<int64_t>(0, music->vectors.rows - 1)(rng);
      auto v = music->vectors.row_span(r);
      q.vector.assign(v.begin(), v.end());
      for (float& x : q.vector) x += noise(rng);
      q.k = k;
    }
  }
  if (queries.empty()) {
    std::fprintf(stderr, "no queries (listeners without history?)\n");
    return 1;
  }
  double mean_k = 0;
  for (const auto& q : queries) mean_k += q.k;
  mean_k /= queries.size();
  encore::index::SearchParams params;
  params.ef_search = absl::GetFlag(FLAGS_ef_search);
  std::vector<std::vector<encore::index::Neighbor>> results(queries.size());
  const auto s0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < queries.size(); ++i) {
    auto r = music->index->Search(queries[i].vector, queries[i].k, params);
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
    // Recall@k of the top k served (results are sorted, nearest first).
    auto truth = exact.Search(queries[i].vector, k, params);
    absl::flat_hash_set<int64_t> want;
    for (const auto& n : *truth) want.insert(n.row);
    for (size_t j = 0; j < results[i].size() && j < static_cast<size_t>(k); ++j) {
      hits += want.contains(results[i][j].row);
    }
  }
  const double exact_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - e0).count() /
      std::max(n_exact, 1);
  std::printf(
      "index=%s search=%s rows=%lld dim=%d ef_search=%d load_seconds=%.2f queries_from=%s "
      "mean_k=%.1f ann_ms_per_query=%.4f exact_ms_per_query=%.3f recall_at_%d=%.4f queries=%zu "
      "exact_queries=%d",
      music->index->type().c_str(), o.index.hnsw_search.c_str(),
      static_cast<long long>(music->vectors.rows), d, params.ef_search, load_s,
      serving ? "serving" : "items", mean_k, per_query_ms, exact_ms, k,
      static_cast<double>(hits) / (k * std::max(n_exact, 1)), queries.size(), n_exact);
  if (serving) std::printf(" recommend_ms_per_call=%.4f", recommend_ms);
  std::printf("\n");
  return 0;
}
