// encore-eval: splits listening data per user, trains (or takes given vectors), serves the model
// through the same snapshot loading and RecommendPipeline as encore-server (in process, or a
// running server with --grpc), and reports ranking quality against a popularity baseline, plus
// the coherence filters' effect (filters off vs on at --now).
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <map>
#include <optional>

#include "absl/container/flat_hash_set.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "encore/v1/recommender.grpc.pb.h"
#include "index/catalog.h"
#include "offline/als.h"
#include "offline/evaluation.h"
#include "offline/importers.h"
#include "offline/snapshot_builder.h"
#include "offline/synthetic.h"
#include "recommend/pipeline.h"
#include "storage/in_memory_history_store.h"

ABSL_FLAG(std::string, lastfm_dir, "", "HetRec 2011 Last.fm directory");
ABSL_FLAG(int64_t, synthetic_tracks, 0,
          "Instead of Last.fm: a synthetic catalog of this many tracks (planted vectors, no ALS)");
ABSL_FLAG(uint64_t, seed, 1, "Split seed (ALS and the synthetic generator use it too)");
ABSL_FLAG(std::string, split, "test", "Which held-out set to score: test or validation");
ABSL_FLAG(std::string, json, "", "Write the results here as JSON");
ABSL_FLAG(std::string, now, "",
          "YYYY-MM-DD the requests are made on (seasonal rules); default today");
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
ABSL_FLAG(int, listener_top_families, 3,
          "Coherence filter: listener's families a candidate may lead with");
ABSL_FLAG(double, min_overlap, 0.4,
          "Coherence filter: profile overlap that also admits a candidate");
ABSL_FLAG(double, tag_weight, 0.0, "Ranking: tag-affinity weight");
ABSL_FLAG(double, popularity_weight, 0.0, "Ranking: popularity-prior weight");
ABSL_FLAG(double, diversity, 0.0, "Ranking: MMR diversity weight");
ABSL_FLAG(std::string, grpc, "", "Score a running encore-server at host:port instead");
ABSL_FLAG(int, max_users, 0, "Use only the first N users of the file (0 = all), for quick runs");
ABSL_FLAG(std::string, write_snapshot, "",
          "Publish the train-split snapshot under this root and its history as ROOT/events.tsv");

namespace {

using encore::index::Catalog;
using encore::offline::InteractionData;
using encore::offline::RankingMetrics;

constexpr int64_t kLastfmTimestampMs = 1304208000000;  // 2011-05-01, the dataset's release

int Fail(const std::string& msg) {
  std::fprintf(stderr, "encore-eval: %s\n", msg.c_str());
  return 1;
}

struct Dataset {
  std::string name;
  encore::v1::ItemKind kind;  // what is recommended
  std::vector<encore::v1::ItemRecord> items;
  InteractionData plays;
  // Synthetic data brings its vectors (rows in item order per space); Last.fm gets ALS.
  std::map<std::string, encore::index::Matrix> given_vectors;
  std::map<int32_t, int64_t> timestamp;  // unused for Last.fm
};

absl::StatusOr<Dataset> LoadDataset() {
  Dataset d;
  if (const int64_t tracks = absl::GetFlag(FLAGS_synthetic_tracks); tracks > 0) {
    encore::offline::SyntheticOptions o;
    o.tracks = tracks;
    o.users = 2000;
    o.seed = absl::GetFlag(FLAGS_seed);
    encore::offline::SyntheticData data = encore::offline::GenerateSynthetic(o);
    d.name = absl::StrCat("synthetic ", tracks, " tracks");
    d.kind = encore::v1::TRACK;
    d.items = std::move(data.snapshot.items);
    d.given_vectors = std::move(data.snapshot.spaces);
    absl::flat_hash_set<std::string> tracks_only;
    for (const auto& item : d.items) {
      if (item.kind() == encore::v1::TRACK) tracks_only.insert(item.id());
    }
    // Positive track events become (user, item, plays) interactions.
    for (const auto& u : data.users) {
      std::map<std::string, float> plays;
      for (const auto& e : u.events) {
        const bool positive = e.type == encore::storage::EventType::kPlay ||
                              e.type == encore::storage::EventType::kLike;
        if (positive && tracks_only.contains(e.item_id)) plays[e.item_id] += 1.0f;
      }
      for (const auto& [item, n] : plays) {
        d.plays.entries.push_back(
            {d.plays.users.Intern(u.user_id), d.plays.items.Intern(item), n, o.history_end_ms});
      }
    }
    return d;
  }
  const std::string dir = absl::GetFlag(FLAGS_lastfm_dir);
  if (dir.empty()) return absl::InvalidArgumentError("give --lastfm_dir or --synthetic_tracks");
  ASSIGN_OR_RETURN(encore::offline::LastfmData lastfm, encore::offline::ImportLastfm(dir));
  d.name = "Last.fm 2k";
  d.kind = encore::v1::ARTIST;
  d.items = std::move(lastfm.artists);
  d.plays = std::move(lastfm.plays);
  return d;
}

absl::StatusOr<int64_t> ParseDate(const std::string& s) {
  if (s.empty()) return encore::common::NowMs();
  std::vector<std::string> parts = absl::StrSplit(s, '-');
  int y, m, d;
  if (parts.size() != 3 || !absl::SimpleAtoi(parts[0], &y) || !absl::SimpleAtoi(parts[1], &m) ||
      !absl::SimpleAtoi(parts[2], &d) || m < 1 || m > 12 || d < 1 || d > 31) {
    return absl::InvalidArgumentError(absl::StrCat("--now '", s, "' is not YYYY-MM-DD"));
  }
  struct tm t = {};
  t.tm_year = y - 1900;
  t.tm_mon = m - 1;
  t.tm_mday = d;
  t.tm_hour = 12;
  return static_cast<int64_t>(timegm(&t)) * 1000;
}

// Snapshot of the training split: every item with its vector (ALS factors or given).
absl::StatusOr<encore::offline::SnapshotContents> MakeSnapshot(const Dataset& d,
                                                               const encore::offline::Split& split,
                                                               uint64_t seed) {
  encore::offline::SnapshotContents snap;
  snap.version = absl::StrCat("eval-seed", seed);
  snap.producer = "encore-eval";
  snap.items = d.items;
  if (!d.given_vectors.empty()) {
    snap.spaces = d.given_vectors;
    return snap;
  }
  encore::offline::Confidence conf;
  conf.scaling = absl::GetFlag(FLAGS_scaling);
  conf.alpha = absl::GetFlag(FLAGS_alpha);
  conf.epsilon = absl::GetFlag(FLAGS_epsilon);
  std::vector<encore::offline::Triplet> triplets;
  for (const auto& e : split.train) triplets.push_back({e.user, e.item, conf.Of(e.weight)});
  ASSIGN_OR_RETURN(auto csr,
                   encore::offline::BuildCsr(d.plays.users.size(), d.plays.items.size(), triplets));
  encore::offline::AlsOptions als;
  als.factors = absl::GetFlag(FLAGS_factors);
  als.regularization = absl::GetFlag(FLAGS_regularization);
  als.iterations = absl::GetFlag(FLAGS_iterations);
  als.threads = absl::GetFlag(FLAGS_threads);
  als.seed = seed;
  als.compute_loss = false;
  const auto t0 = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(auto model, encore::offline::TrainAls(csr, als));
  std::fprintf(stderr, "encore-eval: trained %d factors x %d iterations on %zu plays in %.1fs\n",
               als.factors, als.iterations, split.train.size(),
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  encore::index::Matrix& vectors = snap.spaces[encore::index::kMusicSpace];
  vectors.dim = als.factors;
  for (const auto& item : d.items) {
    const int32_t row = d.plays.items.Find(item.id());
    if (row < 0) {
      vectors.data.insert(vectors.data.end(), als.factors, 0.0f);
    } else {
      auto r = model.item_factors.row_span(row);
      vectors.data.insert(vectors.data.end(), r.begin(), r.end());
    }
    ++vectors.rows;
  }
  encore::v1::AlsParams& params = snap.als[encore::index::kMusicSpace];
  params.set_regularization(als.regularization);
  params.set_scaling(conf.scaling);
  params.set_alpha(conf.alpha);
  params.set_epsilon(conf.epsilon);
  params.set_factors(als.factors);
  params.set_iterations(als.iterations);
  return snap;
}

struct Method {
  std::string name;
  RankingMetrics metrics;
};

struct CoherenceResult {
  double recall_at_10 = 0, incoherence_rate = 0;
  int64_t seasonal_violations = 0, recommended = 0;
};

std::string JsonCoherence(const char* name, const CoherenceResult& c) {
  return absl::StrFormat(
      "\"%s\": {\"recall_at_10\": %.6f, \"incoherence_rate\": %.6f, \"seasonal_violations\": %d, "
      "\"recommended\": %d}",
      name, c.recall_at_10, c.incoherence_rate, c.seasonal_violations, c.recommended);
}

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

int Run() {
  const uint64_t seed = absl::GetFlag(FLAGS_seed);
  const bool on_test = absl::GetFlag(FLAGS_split) == "test";
  if (!on_test && absl::GetFlag(FLAGS_split) != "validation") {
    std::fprintf(stderr, "encore-eval: --split must be test or validation\n");
    return 64;
  }
  auto now_ms = ParseDate(absl::GetFlag(FLAGS_now));
  if (!now_ms.ok()) {
    std::fprintf(stderr, "encore-eval: %s\n", std::string(now_ms.status().message()).c_str());
    return 64;
  }
  auto dataset = LoadDataset();
  if (!dataset.ok()) return Fail(dataset.status().ToString());
  Dataset& data = *dataset;
  if (const int max_users = absl::GetFlag(FLAGS_max_users); max_users > 0) {
    auto& entries = data.plays.entries;
    entries.erase(std::remove_if(entries.begin(), entries.end(),
                                 [&](const auto& e) { return e.user >= max_users; }),
                  entries.end());
  }
  const InteractionData& plays = data.plays;
  const encore::offline::Split split = encore::offline::SplitPerUser(plays, seed);
  const auto& held_out = on_test ? split.test : split.validation;

  auto snap = MakeSnapshot(data, split, seed);
  if (!snap.ok()) return Fail(snap.status().ToString());

  // Training history as the server stores it.
  std::map<int32_t, std::vector<encore::storage::HistoryEvent>> history;
  for (const auto& e : split.train) {
    history[e.user].push_back({plays.items.ids()[e.item], encore::storage::EventType::kPlay,
                               e.timestamp_ms > 0 ? e.timestamp_ms : kLastfmTimestampMs, 0,
                               static_cast<int32_t>(std::min(e.weight, 1e6f))});
  }

  const std::string write_root = absl::GetFlag(FLAGS_write_snapshot);
  std::string root = write_root;
  if (root.empty()) {
    char tmpl[] = "/tmp/encore-eval-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return Fail("cannot create a temporary directory");
    root = tmpl;
  }
  encore::offline::BuildOptions build;
  build.prebuild_index = false;
  auto snapshot_dir = encore::offline::PublishSnapshot(root, *snap, build);
  if (!snapshot_dir.ok()) return Fail(snapshot_dir.status().ToString());
  if (!write_root.empty()) {
    std::string events;
    for (const auto& [user, evs] : history) {
      for (const auto& e : evs) {
        absl::StrAppend(&events, plays.users.ids()[user], "\t", e.item_id, "\tplay\t",
                        e.timestamp_ms, "\t0\t", e.count, "\n");
      }
    }
    if (auto s = encore::common::WriteFile(write_root + "/events.tsv", events); !s.ok()) {
      return Fail(s.ToString());
    }
    std::fprintf(stderr, "encore-eval: wrote %s and %s/events.tsv\n", snapshot_dir->c_str(),
                 write_root.c_str());
  }

  encore::storage::InMemoryHistoryStore store(1 << 20);
  for (const auto& [user, evs] : history) {
    if (auto s = store.Append(plays.users.ids()[user], evs); !s.ok()) return Fail(s.ToString());
  }
  encore::recommend::PipelineOptions popts;
  popts.profile.taste = absl::GetFlag(FLAGS_taste);
  popts.history_limit = 1 << 20;
  popts.ef_search = absl::GetFlag(FLAGS_ef_search);
  popts.now_ms = [now = *now_ms] { return now; };
  popts.filters.listener_top_families = absl::GetFlag(FLAGS_listener_top_families);
  popts.filters.min_overlap = static_cast<float>(absl::GetFlag(FLAGS_min_overlap));
  popts.ranking.tag_affinity = static_cast<float>(absl::GetFlag(FLAGS_tag_weight));
  popts.ranking.popularity = static_cast<float>(absl::GetFlag(FLAGS_popularity_weight));
  popts.ranking.diversity = static_cast<float>(absl::GetFlag(FLAGS_diversity));
  encore::recommend::RecommendPipeline pipeline(&store, popts);

  auto request_for = [&](int32_t user, bool filters_on) {
    encore::v1::RecommendRequest req;
    req.set_user_id(plays.users.ids()[user]);
    req.set_count(20);
    req.add_kinds(data.kind);
    req.mutable_context()->set_now_ms(*now_ms);
    req.mutable_filters()->set_coherence(filters_on);
    req.mutable_filters()->set_seasonal(filters_on);
    req.mutable_filters()->set_sonic(filters_on);
    return req;
  };
  auto to_dense = [&](const encore::v1::RecommendResponse& resp) {
    std::vector<int32_t> out;
    for (const auto& item : resp.items()) out.push_back(plays.items.Find(item.item_id()));
    return out;
  };
  auto pipeline_ranker = [&](const Catalog& catalog, bool filters_on) {
    return [&, filters_on](int32_t user) -> absl::StatusOr<std::vector<int32_t>> {
      encore::v1::RecommendResponse resp;
      RETURN_IF_ERROR(pipeline.Recommend(catalog, request_for(user, filters_on), &resp));
      return to_dense(resp);
    };
  };

  std::vector<Method> methods;
  std::string extra;
  auto catalog = [&]() -> absl::StatusOr<std::shared_ptr<const Catalog>> {
    encore::index::CatalogOptions o;
    o.index.type = absl::GetFlag(FLAGS_index_type);
    return Catalog::Load(*snapshot_dir, o);
  }();
  if (!catalog.ok()) return Fail(catalog.status().ToString());

  const std::string target = absl::GetFlag(FLAGS_grpc);
  if (!target.empty()) {
    auto stub = encore::v1::Recommender::NewStub(
        grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
    auto grpc_ranker = [&](int32_t user) -> absl::StatusOr<std::vector<int32_t>> {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      encore::v1::RecommendResponse resp;
      grpc::Status s = stub->Recommend(&ctx, request_for(user, true), &resp);
      if (!s.ok()) return absl::UnavailableError(absl::StrCat(target, ": ", s.error_message()));
      return to_dense(resp);
    };
    auto m = encore::offline::Score(held_out, plays.items.size(), grpc_ranker);
    if (!m.ok()) return Fail(m.status().ToString());
    methods.push_back({"encore", *m});
  } else {
    auto m = encore::offline::Score(held_out, plays.items.size(), pipeline_ranker(**catalog, true));
    if (!m.ok()) return Fail(m.status().ToString());
    methods.push_back({"encore", *m});
    if (absl::GetFlag(FLAGS_compare_hnsw) && absl::GetFlag(FLAGS_index_type) != "hnsw") {
      encore::index::CatalogOptions o;
      o.index.type = "hnsw";
      auto hnsw = Catalog::Load(*snapshot_dir, o);
      if (!hnsw.ok()) return Fail(hnsw.status().ToString());
      auto mh = encore::offline::Score(held_out, plays.items.size(), pipeline_ranker(**hnsw, true));
      if (!mh.ok()) return Fail(mh.status().ToString());
      methods.push_back({"encore_hnsw", *mh});
    }

    // Filters off vs on: recall, incoherence (top family outside the listener's top 3) and
    // seasonal items recommended out of season, over every scored user's top 10.
    auto coherence = [&](bool filters_on) -> absl::StatusOr<CoherenceResult> {
      CoherenceResult r;
      const Catalog& c = **catalog;
      int64_t incoherent = 0, users = 0;
      for (int32_t u = 0; u < static_cast<int32_t>(held_out.size()); ++u) {
        if (held_out[u].empty()) continue;
        encore::v1::RecommendResponse resp;
        RETURN_IF_ERROR(pipeline.Recommend(c, request_for(u, filters_on), &resp));
        ASSIGN_OR_RETURN(auto evs, store.Read(plays.users.ids()[u], 1 << 20));
        const auto profile = encore::recommend::BuildTasteProfile(
            c, evs, encore::index::SpaceOfKind(data.kind), popts.profile);
        absl::flat_hash_set<int32_t> top;
        for (size_t i = 0; i < profile.families.size() && i < 3; ++i) {
          top.insert(profile.families[i].family);
        }
        const absl::flat_hash_set<int32_t> truth(held_out[u].begin(), held_out[u].end());
        int hits = 0;
        for (int i = 0; i < resp.items_size() && i < 10; ++i) {
          const auto id = c.Find(resp.items(i).item_id());
          const encore::index::Item& item = c.item(*id);
          ++r.recommended;
          if (!top.empty() && !item.families.empty() && !top.contains(item.families[0].family)) {
            ++incoherent;
          }
          if (item.seasonal_family >= 0 && !c.graph().InSeason(item.seasonal_family, *now_ms)) {
            ++r.seasonal_violations;
          }
          hits += truth.contains(plays.items.Find(resp.items(i).item_id()));
        }
        r.recall_at_10 += static_cast<double>(hits) / truth.size();
        ++users;
      }
      if (users > 0) r.recall_at_10 /= users;
      if (r.recommended > 0) r.incoherence_rate = static_cast<double>(incoherent) / r.recommended;
      return r;
    };
    auto off = coherence(false);
    auto on = coherence(true);
    if (!off.ok()) return Fail(off.status().ToString());
    if (!on.ok()) return Fail(on.status().ToString());
    extra = absl::StrCat("  \"coherence\": {", JsonCoherence("off", *off), ", ",
                         JsonCoherence("on", *on), "}\n");
    std::printf("\n| filters | Recall@10 | incoherence rate | seasonal violations |\n");
    std::printf("| --- | --- | --- | --- |\n");
    std::printf("| off | %.4f | %.4f | %lld |\n", off->recall_at_10, off->incoherence_rate,
                static_cast<long long>(off->seasonal_violations));
    std::printf("| on | %.4f | %.4f | %lld |\n\n", on->recall_at_10, on->incoherence_rate,
                static_cast<long long>(on->seasonal_violations));
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
  if (!pop.ok()) return Fail(pop.status().ToString());
  methods.push_back({"popularity", *pop});

  std::printf("%s, split=%s, seed=%llu, now=%s, %lld users scored\n\n", data.name.c_str(),
              on_test ? "test" : "validation", static_cast<unsigned long long>(seed),
              absl::GetFlag(FLAGS_now).empty() ? "today" : absl::GetFlag(FLAGS_now).c_str(),
              static_cast<long long>(methods[0].metrics.users));
  std::printf("| method | Recall@10 | Recall@20 | NDCG@10 | NDCG@20 | Precision@10 | coverage |\n");
  std::printf("| --- | --- | --- | --- | --- | --- | --- |\n");
  for (const auto& m : methods) {
    std::printf("| %s | %.4f | %.4f | %.4f | %.4f | %.4f | %.4f |\n", m.name.c_str(),
                m.metrics.recall_at_10, m.metrics.recall_at_20, m.metrics.ndcg_at_10,
                m.metrics.ndcg_at_20, m.metrics.precision_at_10, m.metrics.coverage);
  }
  if (const std::string json_path = absl::GetFlag(FLAGS_json); !json_path.empty()) {
    if (auto s = encore::common::WriteFile(json_path, Json(methods, extra)); !s.ok()) {
      return Fail(s.ToString());
    }
  }
  if (write_root.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(root, ec);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "encore-eval (--lastfm_dir=DIR | --synthetic_tracks=N) [--seed=N] [--now=YYYY-MM-DD] "
      "[--json=PATH]");
  absl::ParseCommandLine(argc, argv);
  return Run();
}
