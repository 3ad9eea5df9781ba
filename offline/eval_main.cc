// encore-eval: trains on a per-user split of Last.fm (or generic interactions), serves the model
// through the same RecommendPipeline as encore-server (in process, or a running server with
// --grpc), and reports ranking quality against a popularity baseline.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "encore/v1/recommender.grpc.pb.h"
#include "index/catalog.h"
#include "offline/als.h"
#include "offline/evaluation.h"
#include "offline/importers.h"
#include "offline/snapshot_builder.h"
#include "recommend/pipeline.h"
#include "storage/event_import.h"
#include "storage/in_memory_history_store.h"

ABSL_FLAG(std::string, lastfm_dir, "", "HetRec 2011 Last.fm directory");
ABSL_FLAG(uint64_t, seed, 1, "Split seed (ALS uses it too)");
ABSL_FLAG(std::string, split, "test", "Which held-out set to score: test or validation");
ABSL_FLAG(std::string, json, "", "Write the results here as JSON");
ABSL_FLAG(int, factors, 128, "ALS factors (default tuned on validation, docs/EVALUATION.md)");
ABSL_FLAG(double, regularization, 60.0, "ALS regularisation");
ABSL_FLAG(double, alpha, 2.0, "Confidence 1 + alpha * f(plays)");
ABSL_FLAG(double, epsilon, 1.0, "Confidence log scaling: f = log(1 + plays / epsilon)");
ABSL_FLAG(std::string, scaling, "log", "Confidence scaling: log or linear");
ABSL_FLAG(int, iterations, 20, "ALS iterations");
ABSL_FLAG(int, threads, 2, "ALS threads");
ABSL_FLAG(std::string, taste, "auto", "Taste vector: auto (fold-in), foldin, average");
ABSL_FLAG(std::string, index_type, "flat", "Serving index: flat (exact) or hnsw");
ABSL_FLAG(int, ef_search, 0, "HNSW beam width (0 = default)");
ABSL_FLAG(bool, compare_hnsw, true, "Also serve through HNSW and report its recall loss");
ABSL_FLAG(std::string, grpc, "", "Score a running encore-server at host:port instead");
ABSL_FLAG(int, max_users, 0, "Use only the first N users of the file (0 = all), for quick runs");
ABSL_FLAG(std::string, write_snapshot, "",
          "Publish the train-split snapshot under this root and its history as ROOT/events.tsv");

namespace {

using encore::offline::InteractionData;
using encore::offline::RankingMetrics;

constexpr int64_t kLastfmTimestampMs = 1304208000000;  // 2011-05-01, the dataset's release

struct Method {
  std::string name;
  RankingMetrics metrics;
};

std::string Json(const std::vector<Method>& methods, const std::string& extra) {
  std::string out = "{\n";
  for (size_t i = 0; i < methods.size(); ++i) {
    const auto& m = methods[i].metrics;
    absl::StrAppendFormat(&out,
                          "  \"%s\": {\"recall_at_10\": %.6f, \"recall_at_20\": %.6f, "
                          "\"ndcg_at_10\": %.6f, \"ndcg_at_20\": %.6f, \"precision_at_10\": %.6f, "
                          "\"coverage\": %.6f, \"users\": %d}%s\n",
                          methods[i].name, m.recall_at_10, m.recall_at_20, m.ndcg_at_10,
                          m.ndcg_at_20, m.precision_at_10, m.coverage, m.users,
                          (i + 1 < methods.size() || !extra.empty()) ? "," : "");
  }
  out += extra;
  out += "}\n";
  return out;
}

void PrintTable(const std::vector<Method>& methods) {
  std::printf("| method | Recall@10 | Recall@20 | NDCG@10 | NDCG@20 | Precision@10 | coverage |\n");
  std::printf("| --- | --- | --- | --- | --- | --- | --- |\n");
  for (const auto& m : methods) {
    std::printf("| %s | %.4f | %.4f | %.4f | %.4f | %.4f | %.4f |\n", m.name.c_str(),
                m.metrics.recall_at_10, m.metrics.recall_at_20, m.metrics.ndcg_at_10,
                m.metrics.ndcg_at_20, m.metrics.precision_at_10, m.metrics.coverage);
  }
}

absl::StatusOr<std::shared_ptr<const encore::index::Catalog>> LoadServingCatalog(
    const std::string& dir, const std::string& index_type) {
  encore::index::CatalogOptions o;
  o.index.type = index_type;
  return encore::index::Catalog::Load(dir, o);
}

int Run() {
  const std::string dir = absl::GetFlag(FLAGS_lastfm_dir);
  if (dir.empty()) {
    std::fprintf(stderr, "encore-eval: --lastfm_dir is required\n");
    return 64;
  }
  const uint64_t seed = absl::GetFlag(FLAGS_seed);
  const bool on_test = absl::GetFlag(FLAGS_split) == "test";
  if (!on_test && absl::GetFlag(FLAGS_split) != "validation") {
    std::fprintf(stderr, "encore-eval: --split must be test or validation\n");
    return 64;
  }
  auto data_or = encore::offline::ImportLastfm(dir);
  if (!data_or.ok()) {
    std::fprintf(stderr, "encore-eval: %s\n", data_or.status().ToString().c_str());
    return 1;
  }
  encore::offline::LastfmData& data = *data_or;
  if (const int max_users = absl::GetFlag(FLAGS_max_users); max_users > 0) {
    auto& entries = data.plays.entries;
    entries.erase(std::remove_if(entries.begin(), entries.end(),
                                 [&](const auto& e) { return e.user >= max_users; }),
                  entries.end());
  }
  const InteractionData& plays = data.plays;
  encore::offline::Split split = encore::offline::SplitPerUser(plays, seed);
  const auto& held_out = on_test ? split.test : split.validation;

  // Train on the training split.
  encore::offline::Confidence conf;
  conf.scaling = absl::GetFlag(FLAGS_scaling);
  conf.alpha = absl::GetFlag(FLAGS_alpha);
  conf.epsilon = absl::GetFlag(FLAGS_epsilon);
  std::vector<encore::offline::Triplet> triplets;
  for (const auto& e : split.train) triplets.push_back({e.user, e.item, conf.Of(e.weight)});
  auto csr = encore::offline::BuildCsr(plays.users.size(), plays.items.size(), triplets);
  if (!csr.ok()) {
    std::fprintf(stderr, "encore-eval: %s\n", csr.status().ToString().c_str());
    return 1;
  }
  encore::offline::AlsOptions als;
  als.factors = absl::GetFlag(FLAGS_factors);
  als.regularization = absl::GetFlag(FLAGS_regularization);
  als.iterations = absl::GetFlag(FLAGS_iterations);
  als.threads = absl::GetFlag(FLAGS_threads);
  als.seed = seed;
  als.compute_loss = false;
  const auto t0 = std::chrono::steady_clock::now();
  auto model = encore::offline::TrainAls(*csr, als);
  if (!model.ok()) {
    std::fprintf(stderr, "encore-eval: %s\n", model.status().ToString().c_str());
    return 1;
  }
  const double train_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "encore-eval: trained %d factors x %d iterations on %zu plays in %.1fs\n",
               als.factors, als.iterations, split.train.size(), train_s);

  // The snapshot the server would load: every artist with its ALS factors and the ALS params.
  encore::offline::SnapshotContents snap;
  snap.version = absl::StrCat("lastfm-seed", seed);
  snap.producer = "encore-eval";
  encore::index::Matrix& vectors = snap.spaces[encore::index::kMusicSpace];
  vectors.dim = als.factors;
  for (const auto& artist : data.artists) {
    const int32_t row = plays.items.Find(artist.id());
    if (row < 0) {
      vectors.data.insert(vectors.data.end(), als.factors, 0.0f);
    } else {
      auto r = model->item_factors.row_span(row);
      vectors.data.insert(vectors.data.end(), r.begin(), r.end());
    }
    ++vectors.rows;
  }
  snap.items = data.artists;
  encore::v1::AlsParams& params = snap.als[encore::index::kMusicSpace];
  params.set_regularization(als.regularization);
  params.set_scaling(conf.scaling);
  params.set_alpha(conf.alpha);
  params.set_epsilon(conf.epsilon);
  params.set_factors(als.factors);
  params.set_iterations(als.iterations);

  // Training history as the server stores it.
  std::map<int32_t, std::vector<encore::storage::HistoryEvent>> history;
  for (const auto& e : split.train) {
    history[e.user].push_back({plays.items.ids()[e.item], encore::storage::EventType::kPlay,
                               kLastfmTimestampMs, 0,
                               static_cast<int32_t>(std::min(e.weight, 1e6f))});
  }

  const std::string write_root = absl::GetFlag(FLAGS_write_snapshot);
  std::string tmp_root;
  if (write_root.empty()) {
    char tmpl[] = "/tmp/encore-eval-XXXXXX";
    tmp_root = mkdtemp(tmpl) ? tmpl : "/tmp";
  }
  const std::string root = write_root.empty() ? tmp_root : write_root;
  encore::offline::BuildOptions build;
  build.prebuild_index = false;
  auto snapshot_dir = encore::offline::PublishSnapshot(root, snap, build);
  if (!snapshot_dir.ok()) {
    std::fprintf(stderr, "encore-eval: %s\n", snapshot_dir.status().ToString().c_str());
    return 1;
  }
  if (!write_root.empty()) {
    std::string events;
    for (const auto& [user, evs] : history) {
      for (const auto& e : evs) {
        absl::StrAppend(&events, plays.users.ids()[user], "\t", e.item_id, "\tplay\t",
                        e.timestamp_ms, "\t0\t", e.count, "\n");
      }
    }
    if (auto s = encore::common::WriteFile(write_root + "/events.tsv", events); !s.ok()) {
      std::fprintf(stderr, "encore-eval: %s\n", s.ToString().c_str());
      return 1;
    }
    std::fprintf(stderr, "encore-eval: wrote %s and %s/events.tsv\n", snapshot_dir->c_str(),
                 write_root.c_str());
  }

  // Items are scored by dense interaction ids; map external ids back.
  auto to_dense = [&](const std::string& id) { return plays.items.Find(id); };
  std::vector<Method> methods;
  encore::storage::InMemoryHistoryStore store(1 << 20);
  for (const auto& [user, evs] : history) {
    if (auto s = store.Append(plays.users.ids()[user], evs); !s.ok()) {
      std::fprintf(stderr, "encore-eval: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  encore::recommend::PipelineOptions popts;
  popts.profile.taste = absl::GetFlag(FLAGS_taste);
  popts.history_limit = 1 << 20;
  popts.ef_search = absl::GetFlag(FLAGS_ef_search);
  encore::recommend::RecommendPipeline pipeline(&store, popts);

  auto pipeline_ranker = [&](const encore::index::Catalog& catalog) {
    return [&](int32_t user) -> absl::StatusOr<std::vector<int32_t>> {
      encore::v1::RecommendRequest req;
      req.set_user_id(plays.users.ids()[user]);
      req.set_count(20);
      req.add_kinds(encore::v1::ARTIST);
      encore::v1::RecommendResponse resp;
      RETURN_IF_ERROR(pipeline.Recommend(catalog, req, &resp));
      std::vector<int32_t> out;
      for (const auto& item : resp.items()) out.push_back(to_dense(item.item_id()));
      return out;
    };
  };

  const std::string target = absl::GetFlag(FLAGS_grpc);
  std::string extra;
  if (!target.empty()) {
    auto stub = encore::v1::Recommender::NewStub(
        grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
    auto grpc_ranker = [&](int32_t user) -> absl::StatusOr<std::vector<int32_t>> {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      encore::v1::RecommendRequest req;
      req.set_user_id(plays.users.ids()[user]);
      req.set_count(20);
      req.add_kinds(encore::v1::ARTIST);
      encore::v1::RecommendResponse resp;
      grpc::Status s = stub->Recommend(&ctx, req, &resp);
      if (!s.ok()) return absl::UnavailableError(absl::StrCat(target, ": ", s.error_message()));
      std::vector<int32_t> out;
      for (const auto& item : resp.items()) out.push_back(to_dense(item.item_id()));
      return out;
    };
    auto m = encore::offline::Score(held_out, plays.items.size(), grpc_ranker);
    if (!m.ok()) {
      std::fprintf(stderr, "encore-eval: %s\n", m.status().ToString().c_str());
      return 1;
    }
    methods.push_back({"encore", *m});
  } else {
    auto catalog = LoadServingCatalog(*snapshot_dir, absl::GetFlag(FLAGS_index_type));
    if (!catalog.ok()) {
      std::fprintf(stderr, "encore-eval: %s\n", catalog.status().ToString().c_str());
      return 1;
    }
    auto m = encore::offline::Score(held_out, plays.items.size(), pipeline_ranker(**catalog));
    if (!m.ok()) {
      std::fprintf(stderr, "encore-eval: %s\n", m.status().ToString().c_str());
      return 1;
    }
    methods.push_back({"encore", *m});
    if (absl::GetFlag(FLAGS_compare_hnsw) && absl::GetFlag(FLAGS_index_type) != "hnsw") {
      auto hnsw = LoadServingCatalog(*snapshot_dir, "hnsw");
      if (!hnsw.ok()) {
        std::fprintf(stderr, "encore-eval: %s\n", hnsw.status().ToString().c_str());
        return 1;
      }
      auto mh = encore::offline::Score(held_out, plays.items.size(), pipeline_ranker(**hnsw));
      if (!mh.ok()) {
        std::fprintf(stderr, "encore-eval: %s\n", mh.status().ToString().c_str());
        return 1;
      }
      methods.push_back({"encore_hnsw", *mh});
    }
  }

  // Popularity: most listeners in the training split, training items excluded.
  std::vector<int64_t> listeners(plays.items.size(), 0);
  std::vector<std::vector<int32_t>> train_items(plays.users.size());
  for (const auto& e : split.train) {
    ++listeners[e.item];
    train_items[e.user].push_back(e.item);
  }
  std::vector<int32_t> by_pop(plays.items.size());
  for (int32_t i = 0; i < plays.items.size(); ++i) by_pop[i] = i;
  std::stable_sort(by_pop.begin(), by_pop.end(),
                   [&](int32_t a, int32_t b) { return listeners[a] > listeners[b]; });
  auto popular = [&](int32_t user) -> absl::StatusOr<std::vector<int32_t>> {
    std::vector<int32_t> seen = train_items[user];
    std::sort(seen.begin(), seen.end());
    std::vector<int32_t> out;
    for (int32_t i : by_pop) {
      if (std::binary_search(seen.begin(), seen.end(), i)) continue;
      out.push_back(i);
      if (out.size() == 20) break;
    }
    return out;
  };
  auto pop = encore::offline::Score(held_out, plays.items.size(), popular);
  methods.push_back({"popularity", *pop});

  std::printf(
      "Last.fm 2k, split=%s, seed=%llu, %lld users scored; ALS %d factors, reg %.3g, "
      "%s confidence alpha %.3g, %d iterations, taste=%s\n\n",
      on_test ? "test" : "validation", static_cast<unsigned long long>(seed),
      static_cast<long long>(methods[0].metrics.users), als.factors, als.regularization,
      conf.scaling.c_str(), conf.alpha, als.iterations, absl::GetFlag(FLAGS_taste).c_str());
  PrintTable(methods);
  const std::string json_path = absl::GetFlag(FLAGS_json);
  if (!json_path.empty()) {
    if (auto s = encore::common::WriteFile(json_path, Json(methods, extra)); !s.ok()) {
      std::fprintf(stderr, "encore-eval: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  if (!tmp_root.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(tmp_root, ec);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("encore-eval --lastfm_dir=DIR [--seed=N] [--json=PATH]");
  absl::ParseCommandLine(argc, argv);
  return Run();
}
