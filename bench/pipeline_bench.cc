// Google Benchmark microbenchmarks of each Recommend stage on a synthetic catalog:
// history read (RocksDB), taste profile (average and ALS fold-in), ANN (flat and HNSW),
// filters, ranking, and the whole in-process pipeline.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <random>

#include "index/catalog.h"
#include "index/foldin.h"
#include "offline/snapshot_builder.h"
#include "offline/synthetic.h"
#include "recommend/filters.h"
#include "recommend/pipeline.h"
#include "recommend/ranker.h"
#include "storage/rocksdb_history_store.h"

namespace {

using namespace encore;  // NOLINT: benchmark file

constexpr int64_t kTracks = 100000;
constexpr int64_t kJuly = 1784073600000;

// Built once: a 100k-track synthetic catalog with flat and HNSW indexes, and a RocksDB store
// holding its listeners' history.
struct Fixture {
  Fixture() {
    offline::SyntheticOptions o;
    o.tracks = kTracks;
    o.users = 5000;
    data = offline::GenerateSynthetic(o);
    std::vector<index::ItemSpec> items;
    for (const auto& rec : data.snapshot.items) {
      index::ItemSpec item;
      item.id = rec.id();
      item.kind = rec.kind();
      item.artist_id = rec.artist_id();
      for (const auto& t : rec.tags()) item.tags.push_back({t.tag(), t.weight()});
      item.tempo = rec.tempo();
      item.energy = rec.energy();
      item.popularity = rec.popularity();
      items.push_back(item);
    }
    index::CatalogParts parts, hnsw_parts;
    parts.version = hnsw_parts.version = "bench";
    parts.items = hnsw_parts.items = items;
    parts.space_vectors = data.snapshot.spaces;
    hnsw_parts.space_vectors = data.snapshot.spaces;
    index::CatalogOptions flat_options;
    flat_options.index.type = "flat";
    flat = *index::Catalog::Build(std::move(parts), flat_options);
    index::CatalogOptions hnsw_options;
    hnsw_options.index.type = "hnsw";
    hnsw = *index::Catalog::Build(std::move(hnsw_parts), hnsw_options);
    dir = std::filesystem::temp_directory_path() / "encore-pipeline-bench";
    std::filesystem::remove_all(dir);
    store = *storage::RocksDbHistoryStore::Open(dir.string(), {});
    for (const auto& u : data.users) (void)store->Append(u.user_id, u.events);
  }
  ~Fixture() { std::filesystem::remove_all(dir); }
  offline::SyntheticData data;
  std::shared_ptr<const index::Catalog> flat, hnsw;
  std::filesystem::path dir;
  std::unique_ptr<storage::RocksDbHistoryStore> store;
};

Fixture& F() {
  static Fixture* f = new Fixture();
  return *f;
}

const std::string& User(int64_t i) { return F().data.users[i % F().data.users.size()].user_id; }

void BM_HistoryRead(benchmark::State& state) {
  int64_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(F().store->Read(User(i++), 500));
}
BENCHMARK(BM_HistoryRead);

void BM_TasteAverage(benchmark::State& state) {
  auto history = *F().store->Read(User(0), 500);
  recommend::ProfileOptions o;
  o.taste = "average";
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        recommend::BuildTasteProfile(*F().flat, history, index::kMusicSpace, o));
  }
  state.counters["events"] = static_cast<double>(history.size());
}
BENCHMARK(BM_TasteAverage);

void BM_FoldIn(benchmark::State& state) {
  const index::MatrixView y = F().flat->space(index::kMusicSpace)->vectors;
  const std::vector<float> gram = index::Gramian(y, 60.0);
  std::vector<index::FoldInTerm> terms;
  for (int i = 0; i < state.range(0); ++i) terms.push_back({i * 97 % y.rows, 3.0f, 1.0f});
  for (auto _ : state) benchmark::DoNotOptimize(index::FoldIn(y, gram, terms));
}
BENCHMARK(BM_FoldIn)->Arg(50)->Arg(500);

void BM_Ann(benchmark::State& state) {
  const auto& catalog = state.range(0) == 0 ? *F().flat : *F().hnsw;
  const index::EmbeddingSpace* music = catalog.space(index::kMusicSpace);
  auto query = music->vectors.row_span(12345);
  index::SearchParams p;
  p.ef_search = 96;
  for (auto _ : state) benchmark::DoNotOptimize(music->index->Search(query, 100, p));
  state.SetLabel(music->index->type());
}
BENCHMARK(BM_Ann)->Arg(0)->Arg(1);

void BM_Filters(benchmark::State& state) {
  const auto& c = *F().flat;
  recommend::CandidateFilter::Request r;
  r.now_ms = kJuly;
  r.listener.assign(c.item(0).families.begin(), c.item(0).families.end());
  auto filter = *recommend::CandidateFilter::Create(c, {}, r);
  recommend::FilterStats stats;
  for (auto _ : state) {
    for (index::ItemId id = 0; id < 100; ++id) benchmark::DoNotOptimize(filter.Check(id, &stats));
  }
  state.SetItemsProcessed(state.iterations() * 100);
}
BENCHMARK(BM_Filters);

void BM_Rank(benchmark::State& state) {
  const auto& c = *F().flat;
  std::vector<recommend::Candidate> pool;
  for (index::ItemId id = 0; id < 60; ++id) pool.push_back({id, 1.0f - id * 0.01f});
  recommend::RankingOptions o;
  o.diversity = static_cast<float>(state.range(0)) / 10.0f;
  for (auto _ : state) {
    encore::recommend::ArtistCounts per_artist;
    benchmark::DoNotOptimize(
        recommend::RankAndSelect(c, pool, c.item(0).families, o, 20, 2, &per_artist));
  }
}
BENCHMARK(BM_Rank)->Arg(0)->Arg(3);

void BM_RecommendInProcess(benchmark::State& state) {
  const auto& catalog = state.range(0) == 0 ? *F().flat : *F().hnsw;
  recommend::PipelineOptions o;
  o.now_ms = [] { return kJuly; };
  o.filters.coherence = state.range(1) != 0;
  recommend::RecommendPipeline pipeline(F().store.get(), o);
  int64_t i = 0;
  for (auto _ : state) {
    v1::RecommendRequest req;
    req.set_user_id(User(i++));
    req.set_count(20);
    v1::RecommendResponse resp;
    benchmark::DoNotOptimize(pipeline.Recommend(catalog, req, &resp));
  }
  state.SetLabel(catalog.space(index::kMusicSpace)->index->type());
}
// Args: index (0 flat, 1 HNSW), coherence filter (0 off, 1 on).
BENCHMARK(BM_RecommendInProcess)->Args({0, 1})->Args({1, 1})->Args({1, 0});

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  F();  // build the catalog and history before any timing
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
