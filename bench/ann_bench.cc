// Raw index speed and recall at the serving parameters: loads a snapshot's music space, times
// single-threaded searches of the index the server would use, and measures recall@10 against
// exact (brute-force) search.
// Queries are either perturbed item vectors (k = --k), or, with --history_dir, the searches the
// Recommend pipeline itself issues for sampled listeners (their taste vectors, with the serving
// k = count * 4 + items excluded), captured in process and replayed.
// With --graph_rows=N it instead builds a fresh HNSW graph over the first N rows (inner product,
// angular, or the MIPS-to-L2 reduction) to compare graph variants on the same queries.
// Recommend's searches for far taste vectors (recommend::IsFarQuery) are replayed with
// --far_ef_search and --upper_ef, the near ones with --ef_search alone, as the server does; every
// combination of the three lists is one setting.
// --save_queries=PATH keeps the captured searches; --load_queries=PATH replays them later
// without the history store (bench/e2e.sh times them again between load runs while the server
// holds the store).
// Usage: encore-bench-ann --snapshot_dir=DIR [--queries=1000]
//        [--ef_search=96[,128,...]] [--pace_us=0] [--concurrent_searchers=0] [--entry_points=4]
//        [--history_dir=DIR --users=N [--count=20] [--far_cos=0.85] [--far_ef_search=224[,...]]
//        [--upper_ef=64[,...]]]
//        [--graph_rows=N [--graph_m=32] [--graph_ef_construction=40] [--graph_metric=ip]]
#include <faiss/IndexHNSW.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/huge_pages.h"
#include "common/status_macros.h"
#include "index/catalog.h"
#include "index/faiss_index.h"
#include "index/hnsw_search.h"
#include "index/snapshot_format.h"
#include "index/snapshot_manager.h"
#include "recommend/pipeline.h"
#include "storage/rocksdb_history_store.h"

ABSL_FLAG(std::string, snapshot_dir, "", "Snapshot (or root) to load");
ABSL_FLAG(int, queries, 1000, "Queries (random catalog items' vectors, perturbed)");
ABSL_FLAG(int, exact_queries, 200, "Queries also run through exact search for recall");
ABSL_FLAG(std::vector<std::string>, ef_search, {"96"},
          "HNSW beam width (the server's --ef_search); a comma list measures each on the same "
          "queries, one line per value");
ABSL_FLAG(std::vector<std::string>, upper_ef, {"64"},
          "With --history_dir: level-1 beam widths of the far searches (comma list; 0 = none; the "
          "first also for the in-process Recommend timing)");
ABSL_FLAG(
    std::vector<std::string>, far_ef_search, {"224"},
    "With --history_dir: beam widths of the far searches (comma list; never below --ef_search; "
    "the first also for the in-process Recommend timing)");
ABSL_FLAG(double, far_cos, 0.85,
          "With --history_dir: taste vectors whose cosine with every entry point is below this "
          "are far (the server's --hnsw_far_cos)");
ABSL_FLAG(std::string, save_queries, "",
          "With --history_dir: also write the captured searches (vector, k, entry rows, far) here");
ABSL_FLAG(std::string, load_queries, "",
          "Replay the searches a --save_queries run wrote (no history store needed; their far "
          "split is the capture's)");
ABSL_FLAG(int, k, 10, "Neighbours per query");
ABSL_FLAG(std::string, history_dir, "",
          "Replay the Recommend pipeline's own searches for listeners in this RocksDB history "
          "(not open in a running server)");
ABSL_FLAG(int, users, 0, "With --history_dir: listener population (ids u1..uN), sampled uniformly");
ABSL_FLAG(int, count, 20, "With --history_dir: items per Recommend (the server's default)");
ABSL_FLAG(int64_t, graph_rows, 0,
          "Build a fresh HNSW graph over the first N rows and measure it instead (0 = the "
          "snapshot's index)");
ABSL_FLAG(int, graph_m, 32, "With --graph_rows: HNSW degree");
ABSL_FLAG(int, graph_ef_construction, 40, "With --graph_rows: HNSW build beam");
ABSL_FLAG(std::string, graph_metric, "ip",
          "With --graph_rows: ip (inner-product graph, searched like the server's), cosine "
          "(graph over unit-length rows, searched by inner product like the server's) or "
          "l2_reduction (graph over [x, sqrt(M^2 - |x|^2)] with L2, queried with [q, 0]; FAISS's "
          "search)");
ABSL_FLAG(bool, huge_pages, true, "As the server's --huge_pages");
ABSL_FLAG(std::string, hnsw_search, "auto",
          "HNSW search implementation, as the server's --hnsw_search: auto, encore, encore_fp16 "
          "or faiss");
ABSL_FLAG(int, pace_us, 0,
          "Sleep this long before each search, as at light load (caches go cold between "
          "requests); 0 = back to back");
ABSL_FLAG(int, concurrent_searchers, 0,
          "Threads that search the same index, on the same queries from other starting points, "
          "for as long as the timed searches run: the time per search with the other cores "
          "searching too (the model R_lim = 1/(1/R0 + t_ann/c) assumes it equals the "
          "single-threaded one); 0 = the timed thread alone");
ABSL_FLAG(bool, compare_locality_order, false,
          "Also time every setting on a second copy of the music index whose rows are renumbered "
          "into the graph's breadth-first order (FaissIndex::LocalityOrder, as encore-build "
          "writes new snapshots): the same graph, entry rows and results mapped, so recall must "
          "match; the two take turns block by block. Output: row_order=given (the rows as the "
          "snapshot stores them; already graph order in snapshots built with --locality_order) "
          "or graph (renumbered here)");
ABSL_FLAG(int, entry_points, 4,
          "HNSW entry points as the server's --hnsw_entry_points: item probes start at their "
          "source item, serving searches at the listener's strongest items; 0 = global descent");
ABSL_FLAG(bool, warm_history, true,
          "With --history_dir: read every sampled listener's history once before the timed "
          "Recommend calls, as a running server's block cache holds it (false = cold reads)");
ABSL_FLAG(uint64_t, seed, 1, "Seed");

namespace {

struct Query {
  std::vector<float> vector;
  int k;
  std::vector<int64_t> entries;  // SearchParams::entry_rows
  bool far = false;              // a far taste vector (recommend::IsFarQuery)
};

// The settings the server gives `q`: far ones the wider beam (never below `ef`) and the level-1
// beam `upper_ef`, near ones `ef` alone.
encore::index::SearchParams ParamsFor(const Query& q, int ef, int upper_ef, int far_ef) {
  encore::index::SearchParams params;
  params.ef_search = ef;
  params.entry_rows = q.entries;
  if (q.far) {
    params.ef_search = std::max(ef, far_ef);
    params.upper_ef = upper_ef;
  }
  return params;
}

// In-process time of one Recommend call: mean and quantiles, in ms.
struct CallTimes {
  double mean = 0, p50 = 0, p99 = 0, max = 0;
  double index_share = 0;  // of the calls' summed time, the part spent in index searches
};

// Runs Recommend for `n` sampled listeners and returns every index search it issued, with the
// in-process time of one Recommend call (its far searches use the beam width `far_ef_search` and
// the level-1 beam width `upper_ef`).
absl::StatusOr<std::vector<Query>> CaptureServingSearches(const encore::index::Catalog& catalog,
                                                          int n, int upper_ef, int far_ef_search,
                                                          std::mt19937_64& rng,
                                                          CallTimes* recommend_ms) {
  const int users = absl::GetFlag(FLAGS_users);
  if (users <= 0) return absl::InvalidArgumentError("--history_dir needs --users > 0");
  ASSIGN_OR_RETURN(auto history, encore::storage::RocksDbHistoryStore::Open(
                                     absl::GetFlag(FLAGS_history_dir), {}));
  std::vector<Query> captured;
  encore::recommend::PipelineOptions options;
  options.entry_points = absl::GetFlag(FLAGS_entry_points);
  options.upper_ef = upper_ef;
  options.far_ef_search = far_ef_search;
  options.far_cos = static_cast<float>(absl::GetFlag(FLAGS_far_cos));
  const encore::index::MatrixView vectors = catalog.space(encore::index::kMusicSpace)->vectors;
  options.on_index_search = [&captured, &vectors, &options](absl::Span<const float> q, int k,
                                                            const encore::index::SearchParams& p) {
    captured.push_back({std::vector<float>(q.begin(), q.end()), k,
                        std::vector<int64_t>(p.entry_rows.begin(), p.entry_rows.end()),
                        encore::recommend::IsFarQuery(vectors, q, p.entry_rows, options.far_cos)});
  };
  encore::recommend::RecommendPipeline pipeline(history.get(), options);
  std::vector<std::string> sampled(n);
  for (auto& user : sampled) {
    user = absl::StrCat("u", std::uniform_int_distribution<int>(1, users)(rng));
  }
  if (absl::GetFlag(FLAGS_warm_history)) {
    for (const auto& user : sampled) RETURN_IF_ERROR(history->Read(user, 1 << 20).status());
  }
  std::vector<double> each_ms;
  each_ms.reserve(n);
  double index_ms = 0;
  for (int i = 0; i < n; ++i) {
    encore::v1::RecommendRequest request;
    request.set_user_id(sampled[i]);
    request.set_count(absl::GetFlag(FLAGS_count));
    encore::v1::RecommendResponse response;
    encore::recommend::FilterStats stats;
    const auto t0 = std::chrono::steady_clock::now();
    RETURN_IF_ERROR(pipeline.Recommend(catalog, request, &response, &stats));
    each_ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    for (double seconds : stats.ann_seconds) index_ms += seconds * 1e3;
  }
  if (!each_ms.empty()) {
    double total_ms = 0;
    for (double ms : each_ms) total_ms += ms;
    recommend_ms->mean = total_ms / each_ms.size();
    recommend_ms->index_share = index_ms / total_ms;
    std::sort(each_ms.begin(), each_ms.end());
    recommend_ms->p50 = each_ms[each_ms.size() / 2];
    recommend_ms->p99 = each_ms[std::min(each_ms.size() - 1, each_ms.size() * 99 / 100)];
    recommend_ms->max = each_ms.back();
  }
  return captured;
}

constexpr char kQueriesMagic[8] = {'E', 'N', 'C', 'Q', 'R', 'Y', '0', '1'};

// Writes `queries` (of `calls` Recommend calls, vectors of `dim` floats, split near/far at
// `far_cos`) to `path`.
absl::Status SaveQueries(const std::string& path, int32_t calls, int32_t dim, float far_cos,
                         const std::vector<Query>& queries) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "wb"), &std::fclose);
  if (f == nullptr) return absl::NotFoundError(absl::StrCat("cannot write ", path));
  const int64_t n = static_cast<int64_t>(queries.size());
  bool ok = std::fwrite(kQueriesMagic, 1, 8, f.get()) == 8 &&
            std::fwrite(&calls, sizeof calls, 1, f.get()) == 1 &&
            std::fwrite(&dim, sizeof dim, 1, f.get()) == 1 &&
            std::fwrite(&far_cos, sizeof far_cos, 1, f.get()) == 1 &&
            std::fwrite(&n, sizeof n, 1, f.get()) == 1;
  for (const Query& q : queries) {
    const int32_t k = q.k, entries = static_cast<int32_t>(q.entries.size());
    const uint8_t far = q.far;
    ok = ok && std::fwrite(&k, sizeof k, 1, f.get()) == 1 &&
         std::fwrite(&far, 1, 1, f.get()) == 1 &&
         std::fwrite(&entries, sizeof entries, 1, f.get()) == 1 &&
         std::fwrite(q.entries.data(), sizeof(int64_t), entries, f.get()) ==
             static_cast<size_t>(entries) &&
         std::fwrite(q.vector.data(), sizeof(float), dim, f.get()) == static_cast<size_t>(dim);
  }
  if (!ok || std::fflush(f.get()) != 0) return absl::DataLossError(absl::StrCat("writing ", path));
  return absl::OkStatus();
}

// Reads what SaveQueries wrote, for an index of `rows` rows of `dim` floats; sets `calls` and
// `far_cos`.
absl::StatusOr<std::vector<Query>> LoadQueries(const std::string& path, int32_t dim, int64_t rows,
                                               int32_t* calls, float* far_cos) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (f == nullptr) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  auto bad = [&path](const std::string& what) {
    return absl::DataLossError(absl::StrCat(path, ": ", what));
  };
  char magic[8];
  int32_t file_dim = 0;
  int64_t n = 0;
  if (std::fread(magic, 1, 8, f.get()) != 8 || std::memcmp(magic, kQueriesMagic, 8) != 0 ||
      std::fread(calls, sizeof *calls, 1, f.get()) != 1 ||
      std::fread(&file_dim, sizeof file_dim, 1, f.get()) != 1 ||
      std::fread(far_cos, sizeof *far_cos, 1, f.get()) != 1 ||
      std::fread(&n, sizeof n, 1, f.get()) != 1) {
    return bad("not a --save_queries file");
  }
  if (file_dim != dim) {
    return bad(absl::StrCat("queries have ", file_dim, " dimensions, the index ", dim));
  }
  if (n < 0 || n > (int64_t{1} << 24)) return bad(absl::StrCat("implausible count ", n));
  std::vector<Query> queries(n);
  for (Query& q : queries) {
    int32_t k = 0, entries = 0;
    uint8_t far = 0;
    if (std::fread(&k, sizeof k, 1, f.get()) != 1 || std::fread(&far, 1, 1, f.get()) != 1 ||
        std::fread(&entries, sizeof entries, 1, f.get()) != 1 || k <= 0 || entries < 0 ||
        entries > 1024) {
      return bad("truncated or corrupt query");
    }
    q.k = k;
    q.far = far != 0;
    q.entries.resize(entries);
    q.vector.resize(dim);
    if (std::fread(q.entries.data(), sizeof(int64_t), entries, f.get()) !=
            static_cast<size_t>(entries) ||
        std::fread(q.vector.data(), sizeof(float), dim, f.get()) != static_cast<size_t>(dim)) {
      return bad("truncated query");
    }
    for (int64_t r : q.entries) {
      if (r < 0 || r >= rows) return bad(absl::StrCat("entry row ", r, " outside the index"));
    }
  }
  return queries;
}

}  // namespace

// Parses a comma-list flag of integers >= `min` into `out`; false (after a message) if any value
// is not one, or there is none.
bool ParseIntList(const char* flag, const std::vector<std::string>& values, int min,
                  std::vector<int>* out) {
  for (const std::string& e : values) {
    int v = 0;
    if (!absl::SimpleAtoi(e, &v) || v < min) {
      std::fprintf(stderr, "--%s: '%s' is not an integer >= %d\n", flag, e.c_str(), min);
      return false;
    }
    out->push_back(v);
  }
  if (out->empty()) std::fprintf(stderr, "--%s: give at least one value\n", flag);
  return !out->empty();
}

using Searcher = std::function<absl::StatusOr<std::vector<encore::index::Neighbor>>(
    const std::vector<float>& query, int k, const encore::index::SearchParams& params)>;

// A fresh HNSW graph over `base` (see --graph_metric) and how to search it.
absl::StatusOr<Searcher> BuildGraph(encore::index::MatrixView base, const std::string& search) {
  const std::string metric = absl::GetFlag(FLAGS_graph_metric);
  if (metric == "ip") {
    encore::index::IndexOptions o;
    o.type = "hnsw";
    o.hnsw_m = absl::GetFlag(FLAGS_graph_m);
    o.ef_construction = absl::GetFlag(FLAGS_graph_ef_construction);
    o.hnsw_search = search;
    ASSIGN_OR_RETURN(std::shared_ptr<encore::index::FaissIndex> index,
                     encore::index::FaissIndex::Build(base, o));
    return Searcher(
        [index](const std::vector<float>& q, int k, const encore::index::SearchParams& p) {
          return index->Search(q, k, p);
        });
  }
  if (metric == "cosine") {
    // The graph links rows by angle (built over unit-length copies); the search walks it scoring
    // the raw rows by inner product, as the server's search does.
    const int d = base.dim;
    auto unit = std::make_shared<std::vector<float>>(base.row(0), base.row(0) + base.rows * d);
    for (int64_t r = 0; r < base.rows; ++r) {
      float* x = unit->data() + r * d;
      double sq = 0;
      for (int j = 0; j < d; ++j) sq += double{x[j]} * x[j];
      const float inv = sq > 0 ? static_cast<float>(1.0 / std::sqrt(sq)) : 0.0f;
      for (int j = 0; j < d; ++j) x[j] *= inv;
    }
    auto index = std::make_shared<faiss::IndexHNSWFlat>(d, absl::GetFlag(FLAGS_graph_m),
                                                        faiss::METRIC_INNER_PRODUCT);
    index->hnsw.efConstruction = absl::GetFlag(FLAGS_graph_ef_construction);
    index->add(base.rows, unit->data());
    return Searcher(
        [index, base](const std::vector<float>& q, int k, const encore::index::SearchParams& p)
            -> absl::StatusOr<std::vector<encore::index::Neighbor>> {
          return encore::index::HnswSearch(index->hnsw, base.row(0), base.dim, base.rows, q.data(),
                                           k, p.ef_search, p.entry_rows);
        });
  }
  if (metric != "l2_reduction")
    return absl::InvalidArgumentError("--graph_metric: ip, cosine or l2_reduction");
  const int d = base.dim;
  double max_sq = 0;
  std::vector<float> rows(static_cast<size_t>(base.rows) * (d + 1));
  for (int64_t r = 0; r < base.rows; ++r) {
    double sq = 0;
    for (int j = 0; j < d; ++j) sq += double{base.row(r)[j]} * base.row(r)[j];
    max_sq = std::max(max_sq, sq);
    std::copy_n(base.row(r), d, rows.data() + r * (d + 1));
    rows[r * (d + 1) + d] = static_cast<float>(sq);  // |x|^2 for now
  }
  for (int64_t r = 0; r < base.rows; ++r) {
    float& last = rows[r * (d + 1) + d];
    last = static_cast<float>(std::sqrt(std::max(0.0, max_sq - last)));
  }
  auto index =
      std::make_shared<faiss::IndexHNSWFlat>(d + 1, absl::GetFlag(FLAGS_graph_m), faiss::METRIC_L2);
  index->hnsw.efConstruction = absl::GetFlag(FLAGS_graph_ef_construction);
  index->add(base.rows, rows.data());
  return Searcher(
      [index, max_sq, d](const std::vector<float>& q, int k, const encore::index::SearchParams& p)
          -> absl::StatusOr<std::vector<encore::index::Neighbor>> {
        index->hnsw.efSearch = p.ef_search;  // FAISS 1.7.3 reads the beam here
        std::vector<float> x(q);
        x.push_back(0.0f);
        double qq = 0;
        for (int j = 0; j < d; ++j) qq += double{q[j]} * q[j];
        std::vector<float> dist(k);
        std::vector<faiss::Index::idx_t> label(k);
        index->search(1, x.data(), k, dist.data(), label.data());
        std::vector<encore::index::Neighbor> out;
        for (int i = 0; i < k; ++i) {
          // |[q,0] - [x,.]|^2 = |q|^2 + M^2 - 2 q.x
          if (label[i] >= 0)
            out.push_back({label[i], static_cast<float>((qq + max_sq - dist[i]) / 2)});
        }
        return out;
      });
}

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  auto dir = encore::index::FindNewestSnapshot(absl::GetFlag(FLAGS_snapshot_dir));
  if (!dir.ok()) {
    std::fprintf(stderr, "%s\n", dir.status().ToString().c_str());
    return 1;
  }
  // As the server does before it loads (--huge_pages).
  if (absl::GetFlag(FLAGS_huge_pages)) encore::common::HugePagesForLargeAllocations();
  const auto t0 = std::chrono::steady_clock::now();
  encore::index::CatalogOptions o;
  o.index.hnsw_search = absl::GetFlag(FLAGS_hnsw_search);
  o.index.huge_pages = absl::GetFlag(FLAGS_huge_pages);
  std::vector<int> efs, upper_efs, far_efs;
  if (!ParseIntList("ef_search", absl::GetFlag(FLAGS_ef_search), 1, &efs) ||
      !ParseIntList("upper_ef", absl::GetFlag(FLAGS_upper_ef), 0, &upper_efs) ||
      !ParseIntList("far_ef_search", absl::GetFlag(FLAGS_far_ef_search), 0, &far_efs)) {
    return 1;
  }
  if (const double c = absl::GetFlag(FLAGS_far_cos); !(c >= -1 && c <= 1)) {
    std::fprintf(stderr, "--far_cos must be in [-1, 1], got %g\n", c);
    return 1;
  }
  o.index.ef_search = efs[0];
  const int pace_us = absl::GetFlag(FLAGS_pace_us);
  if (pace_us < 0) {
    std::fprintf(stderr, "--pace_us must be >= 0, got %d\n", pace_us);
    return 1;
  }
  const int concurrent = absl::GetFlag(FLAGS_concurrent_searchers);
  if (concurrent < 0 || concurrent > 64) {
    std::fprintf(stderr, "--concurrent_searchers must be in [0, 64], got %d\n", concurrent);
    return 1;
  }
  auto catalog = encore::index::Catalog::Load(*dir, o);
  if (!catalog.ok()) {
    std::fprintf(stderr, "%s\n", catalog.status().ToString().c_str());
    return 1;
  }
  const double load_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const encore::index::EmbeddingSpace* music = (*catalog)->space(encore::index::kMusicSpace);
  // A long-running server has its graph and item table in huge pages (--huge_pages); searches
  // are timed so too, after the background collapses (not part of load_seconds, as they are not
  // part of the server's time to ready).
  size_t huge_page_bytes = 0;
  if (const auto* faiss_index =
          dynamic_cast<const encore::index::FaissIndex*>(music->index.get())) {
    huge_page_bytes = faiss_index->huge_page_bytes();
  }
  const size_t catalog_huge_page_bytes = (*catalog)->huge_page_bytes();
  const int32_t d = music->vectors.dim;
  const int k = absl::GetFlag(FLAGS_k);
  std::mt19937_64 rng(absl::GetFlag(FLAGS_seed));
  std::vector<Query> queries;
  CallTimes recommend_ms;
  const std::string load_path = absl::GetFlag(FLAGS_load_queries);
  const bool serving = !absl::GetFlag(FLAGS_history_dir).empty() || !load_path.empty();
  if (!load_path.empty() && !absl::GetFlag(FLAGS_history_dir).empty()) {
    std::fprintf(stderr, "give --history_dir (capture) or --load_queries (replay), not both\n");
    return 1;
  }
  // Recommend calls the serving searches came from, and the cosine that split them.
  int32_t calls = absl::GetFlag(FLAGS_queries);
  float far_cos = static_cast<float>(absl::GetFlag(FLAGS_far_cos));
  if (!load_path.empty()) {
    auto loaded = LoadQueries(load_path, d, music->vectors.rows, &calls, &far_cos);
    if (!loaded.ok()) {
      std::fprintf(stderr, "%s\n", loaded.status().ToString().c_str());
      return 1;
    }
    queries = *std::move(loaded);
  } else if (serving) {
    auto captured =
        CaptureServingSearches(**catalog, calls, upper_efs[0], far_efs[0], rng, &recommend_ms);
    if (!captured.ok()) {
      std::fprintf(stderr, "%s\n", captured.status().ToString().c_str());
      return 1;
    }
    queries = *std::move(captured);
    if (const std::string path = absl::GetFlag(FLAGS_save_queries); !path.empty()) {
      if (absl::Status s = SaveQueries(path, calls, d, far_cos, queries); !s.ok()) {
        std::fprintf(stderr, "%s\n", s.ToString().c_str());
        return 1;
      }
    }
  } else {
    std::normal_distribution<float> noise(0.0f, 0.05f);
    queries.resize(absl::GetFlag(FLAGS_queries));
    for (auto& q : queries) {
      const int64_t r = std::uniform_int_distribution<int64_t>(0, music->vectors.rows - 1)(rng);
      auto v = music->vectors.row_span(r);
      q.vector.assign(v.begin(), v.end());
      for (float& x : q.vector) x += noise(rng);
      q.k = k;
      // As SimilarItems does: the search starts at the item the probe was drawn from.
      if (absl::GetFlag(FLAGS_entry_points) > 0) q.entries = {r};
    }
  }
  if (queries.empty()) {
    std::fprintf(stderr, "no queries (listeners without history?)\n");
    return 1;
  }
  double mean_k = 0;
  for (const auto& q : queries) mean_k += q.k;
  mean_k /= queries.size();
  // What is measured: the snapshot's index over all rows, or a fresh graph over the first rows.
  encore::index::MatrixView base = music->vectors;
  Searcher search = [&music](const std::vector<float>& q, int n,
                             const encore::index::SearchParams& p) {
    return music->index->Search(q, n, p);
  };
  double build_s = 0;
  if (const int64_t rows = absl::GetFlag(FLAGS_graph_rows); rows > 0) {
    base.rows = std::min(rows, base.rows);
    const auto b0 = std::chrono::steady_clock::now();
    auto built = BuildGraph(base, o.index.hnsw_search);
    if (!built.ok()) {
      std::fprintf(stderr, "%s\n", built.status().ToString().c_str());
      return 1;
    }
    search = *std::move(built);
    for (auto& q : queries) {  // entries outside the subset cannot start a search
      q.entries.erase(std::remove_if(q.entries.begin(), q.entries.end(),
                                     [&base](int64_t r) { return r >= base.rows; }),
                      q.entries.end());
    }
    build_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - b0).count();
  }
  // --compare_locality_order: the snapshot's music index loaded once more and renumbered;
  // graph_order[new row] = given row, graph_row[given row] = new row.
  std::unique_ptr<encore::index::FaissIndex> renumbered;
  std::vector<int64_t> graph_order, graph_row;
  if (absl::GetFlag(FLAGS_compare_locality_order)) {
    if (build_s > 0) {
      std::fprintf(stderr,
                   "--compare_locality_order times the snapshot's index, not --graph_rows\n");
      return 1;
    }
    auto manifest = encore::index::ReadManifest(*dir);
    const encore::v1::SnapshotSpace* entry = nullptr;
    if (manifest.ok()) {
      for (const auto& sp : manifest->spaces()) {
        if (sp.name() == encore::index::kMusicSpace && !sp.index_file().empty()) entry = &sp;
      }
    }
    if (entry == nullptr) {
      std::fprintf(stderr,
                   "--compare_locality_order needs a snapshot with a prebuilt music index\n");
      return 1;
    }
    auto loaded = encore::index::FaissIndex::Load(absl::StrCat(*dir, "/", entry->index_file()), d,
                                                  music->vectors.rows, o.index);
    absl::Status permuted = loaded.status();
    if (loaded.ok()) {
      renumbered = *std::move(loaded);
      graph_order = renumbered->LocalityOrder();
      permuted = renumbered->Permute(graph_order);
    }
    if (!permuted.ok()) {
      std::fprintf(stderr, "%s\n", permuted.ToString().c_str());
      return 1;
    }
    graph_row.resize(graph_order.size());
    for (size_t i = 0; i < graph_order.size(); ++i) graph_row[graph_order[i]] = i;
    renumbered->huge_page_bytes();  // as the snapshot's index: timed after the collapse
  }
  // Exact top k of the first --exact_queries queries, computed once for every beam width.
  encore::index::ExactIndex exact(base);
  const int n_exact = std::min<int>(absl::GetFlag(FLAGS_exact_queries), queries.size());
  std::vector<std::vector<encore::index::Neighbor>> truth(n_exact);
  const auto e0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n_exact; ++i) {
    auto t = exact.Search(queries[i].vector, k, {});
    if (!t.ok()) {
      std::fprintf(stderr, "%s\n", t.status().ToString().c_str());
      return 1;
    }
    truth[i] = *std::move(t);
  }
  const double exact_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - e0).count() /
      std::max(n_exact, 1);
  // Every (ef, upper_ef) setting runs on every query, the settings taking turns block by block
  // (kBlock queries each), so the machine's drift hits all settings alike and their times
  // compare side by side. A block touches far more of the graph than the caches hold, so a
  // setting does not find the previous one's nodes still cached.
  constexpr size_t kBlock = 100;
  struct Setting {
    int ef = 0, upper_ef = 0, far_ef = 0;  // far searches use max(ef, far_ef)
    bool graph_order = false;              // on the renumbered copy (--compare_locality_order)
    std::vector<std::vector<encore::index::Neighbor>> results;
    std::vector<double> each_ms;
    double total_ms = 0;
    double far_ms = 0;  // of total_ms, the far searches'
  };
  std::vector<Setting> settings;
  for (const int ef : efs) {
    // Only Recommend's far searches use the level-1 beam and their own beam width; item probes
    // stand for SimilarItems.
    for (const int upper_ef : serving ? upper_efs : std::vector<int>{0}) {
      for (const int far_ef : serving ? far_efs : std::vector<int>{0}) {
        for (const bool graph_order : {false, true}) {
          if (graph_order && renumbered == nullptr) continue;
          Setting setting;
          setting.ef = ef;
          setting.upper_ef = upper_ef;
          setting.far_ef = far_ef;
          setting.graph_order = graph_order;
          setting.results.resize(queries.size());
          setting.each_ms.reserve(queries.size());
          settings.push_back(std::move(setting));
        }
      }
    }
  }
  // The other searchers replay the queries with the first setting, each from its own offset so
  // that no two walk the same nodes in step; they run until the timed pass ends.
  std::atomic<bool> stop_searchers{false};
  std::atomic<bool> searcher_failed{false};
  std::atomic<int64_t> concurrent_searches{0};
  std::vector<std::thread> searchers;
  const int bg_ef = settings.front().ef, bg_upper_ef = settings.front().upper_ef,
            bg_far_ef = settings.front().far_ef;
  for (int t = 0; t < (queries.empty() ? 0 : concurrent); ++t) {
    searchers.emplace_back([&, t] {
      for (size_t j = (t + 1) * queries.size() / (concurrent + 1); !stop_searchers.load();
           j = (j + 1) % queries.size()) {
        const auto params = ParamsFor(queries[j], bg_ef, bg_upper_ef, bg_far_ef);
        if (!search(queries[j].vector, queries[j].k, params).ok()) searcher_failed = true;
        ++concurrent_searches;
      }
    });
  }
  auto join_searchers = [&] {
    stop_searchers = true;
    for (std::thread& t : searchers) t.join();
    searchers.clear();
  };
  // Joined on every way out of the timed pass, including a failed search's early return.
  struct JoinOnExit {
    std::function<void()> join;
    ~JoinOnExit() { join(); }
  } join_on_exit{join_searchers};
  for (size_t block = 0; block < queries.size(); block += kBlock) {
    for (Setting& setting : settings) {
      for (size_t i = block; i < std::min(block + kBlock, queries.size()); ++i) {
        auto params = ParamsFor(queries[i], setting.ef, setting.upper_ef, setting.far_ef);
        std::vector<int64_t> moved_entries;
        if (setting.graph_order) {
          for (int64_t e : queries[i].entries) moved_entries.push_back(graph_row[e]);
          params.entry_rows = moved_entries;
        }
        if (pace_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(pace_us));
        const auto q0 = std::chrono::steady_clock::now();
        auto r = setting.graph_order ? renumbered->Search(queries[i].vector, queries[i].k, params)
                                     : search(queries[i].vector, queries[i].k, params);
        setting.each_ms.push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - q0)
                .count());
        setting.total_ms += setting.each_ms.back();
        if (queries[i].far) setting.far_ms += setting.each_ms.back();
        if (!r.ok()) {
          std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
          return 1;
        }
        if (setting.graph_order) {
          for (auto& hit : *r) hit.row = graph_order[hit.row];
        }
        setting.results[i] = *std::move(r);
      }
    }
  }
  join_searchers();
  if (searcher_failed) {
    std::fprintf(stderr, "a concurrent searcher's search failed\n");
    return 1;
  }
  for (Setting& setting : settings) {
    const auto& results = setting.results;
    auto& each_ms = setting.each_ms;
    const double per_query_ms = setting.total_ms / queries.size();
    std::sort(each_ms.begin(), each_ms.end());
    auto quantile = [&each_ms](double q) {
      return each_ms[std::min(each_ms.size() - 1, static_cast<size_t>(q * each_ms.size()))];
    };
    int hits = 0, far_hits = 0, far_exact = 0;
    // How much of the exact top k's total inner product the served top k reaches: a miss that is
    // a near tie costs little, one far down the ranking costs a lot.
    double served_score = 0, exact_score = 0;
    for (int i = 0; i < n_exact; ++i) {
      // Recall@k of the top k served (results are sorted, nearest first).
      absl::flat_hash_set<int64_t> want;
      for (const auto& n : truth[i]) {
        want.insert(n.row);
        exact_score += n.score;
      }
      for (size_t j = 0; j < results[i].size() && j < static_cast<size_t>(k); ++j) {
        hits += want.contains(results[i][j].row);
        if (queries[i].far) far_hits += want.contains(results[i][j].row);
        served_score += results[i][j].score;
      }
      far_exact += queries[i].far;
    }
    std::printf(
        "index=%s search=%s walk=%s rows=%lld dim=%d ef_search=%d entry_points=%d upper_ef=%d "
        "load_seconds=%.2f huge_page_mb=%zu catalog_huge_page_mb=%zu queries_from=%s "
        "row_order=%s mean_k=%.1f ann_ms_per_query=%.4f ann_ms_p50=%.4f ann_ms_p99=%.4f "
        "pace_us=%d "
        "concurrent_searchers=%d concurrent_searches=%lld "
        "exact_ms_per_query=%.3f recall_at_%d=%.4f "
        "score_share_at_%d=%.4f queries=%zu exact_queries=%d",
        music->index->type().c_str(), o.index.hnsw_search.c_str(),
        music->index->graph_walk().c_str(), static_cast<long long>(music->vectors.rows), d,
        setting.ef, absl::GetFlag(FLAGS_entry_points), setting.upper_ef, load_s,
        huge_page_bytes >> 20, catalog_huge_page_bytes >> 20, serving ? "serving" : "items",
        setting.graph_order ? "graph" : "given", mean_k, per_query_ms, quantile(0.5),
        quantile(0.99), pace_us, concurrent, static_cast<long long>(concurrent_searches.load()),
        exact_ms, k, static_cast<double>(hits) / (k * std::max(n_exact, 1)), k,
        exact_score != 0 ? served_score / exact_score : 1.0, queries.size(), n_exact);
    if (serving) {
      // The split by reach: far searches' share of the queries, their recall and time, and the
      // near ones' recall.
      size_t far = 0;
      for (const auto& q : queries) far += q.far;
      const int near_exact = n_exact - far_exact;
      std::printf(
          " far_cos=%.2f far_ef_search=%d far_share=%.3f far_ms_per_query=%.4f "
          "near_ms_per_query=%.4f "
          "far_recall_at_%d=%.4f near_recall_at_%d=%.4f",
          far_cos, std::max(setting.ef, setting.far_ef), static_cast<double>(far) / queries.size(),
          setting.far_ms / std::max<size_t>(far, 1),
          (setting.total_ms - setting.far_ms) / std::max<size_t>(queries.size() - far, 1), k,
          static_cast<double>(far_hits) / (k * std::max(far_exact, 1)), k,
          static_cast<double>(hits - far_hits) / (k * std::max(near_exact, 1)));
      std::printf(" calls=%d", calls);
      if (load_path.empty()) {  // timed while capturing
        std::printf(
            " recommend_ms_per_call=%.4f recommend_ms_p50=%.4f recommend_ms_p99=%.4f "
            "recommend_ms_max=%.4f recommend_index_share=%.3f",
            recommend_ms.mean, recommend_ms.p50, recommend_ms.p99, recommend_ms.max,
            recommend_ms.index_share);
      }
    }
    if (build_s > 0) {
      std::printf(
          " graph_rows=%lld graph_metric=%s graph_m=%d graph_ef_construction=%d "
          "build_seconds=%.1f",
          static_cast<long long>(base.rows), absl::GetFlag(FLAGS_graph_metric).c_str(),
          absl::GetFlag(FLAGS_graph_m), absl::GetFlag(FLAGS_graph_ef_construction), build_s);
    }
    std::printf("\n");
    std::fflush(stdout);
  }
  return 0;
}
