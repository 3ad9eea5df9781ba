#include "server/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "encore/v1/recommender.grpc.pb.h"

namespace encore::server {
namespace {

// "NOT_FOUND" etc.; gRPC and absl share the canonical code numbers.
std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

// Runs one unary RPC: admission to the worker pool, catalog pinning, status mapping, metrics.
class RequestRunner {
 public:
  RequestRunner(index::SnapshotManager* snapshots, WorkerPool* pool, Metrics* metrics)
      : snapshots_(snapshots), pool_(pool), metrics_(metrics) {}

  // `work(catalog)` runs with the catalog pinned for its whole duration: on a pool worker, or
  // without a pool (inline execution) right here on gRPC's callback thread.
  template <typename Work>
  grpc::ServerUnaryReactor* Run(grpc::CallbackServerContext* ctx, const char* method, Work work) {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    const auto start = std::chrono::steady_clock::now();
    auto finish = [this, reactor, method, start](const grpc::Status& status) {
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      metrics_->RecordRequest(method, CodeName(status.error_code()), seconds);
      reactor->Finish(status);
    };
    auto task = [this, ctx, work = std::move(work), finish]() mutable {
      if (ctx->IsCancelled()) {
        finish(grpc::Status(grpc::CANCELLED, "cancelled before it started"));
        return;
      }
      if (ctx->deadline() < std::chrono::system_clock::now()) {
        finish(grpc::Status(grpc::DEADLINE_EXCEEDED, "deadline passed while queued"));
        return;
      }
      std::shared_ptr<const index::Catalog> catalog = snapshots_->Current();
      if (!catalog) {
        finish(grpc::Status(grpc::UNAVAILABLE, "no catalog loaded yet"));
        return;
      }
      finish(ToGrpcStatus(work(*catalog)));
    };
    if (pool_ == nullptr) {
      task();
    } else if (!pool_->TrySubmit(std::move(task))) {
      finish(grpc::Status(grpc::RESOURCE_EXHAUSTED, "server overloaded: request queue is full"));
    }
    return reactor;
  }

 private:
  index::SnapshotManager* snapshots_;
  WorkerPool* pool_;
  Metrics* metrics_;
};

class RecommenderImpl final : public v1::Recommender::CallbackService {
 public:
  RecommenderImpl(RequestRunner* runner, const recommend::RecommendPipeline* pipeline,
                  Metrics* metrics)
      : runner_(runner), pipeline_(pipeline), metrics_(metrics) {}

  grpc::ServerUnaryReactor* Recommend(grpc::CallbackServerContext* ctx,
                                      const v1::RecommendRequest* req,
                                      v1::RecommendResponse* resp) override {
    return runner_->Run(ctx, "Recommend", [this, req, resp](const index::Catalog& c) {
      recommend::FilterStats stats;
      absl::Status s = pipeline_->Recommend(c, *req, resp, &stats);
      RecordFilters(stats);
      return s;
    });
  }
  grpc::ServerUnaryReactor* SimilarItems(grpc::CallbackServerContext* ctx,
                                         const v1::SimilarItemsRequest* req,
                                         v1::SimilarItemsResponse* resp) override {
    return runner_->Run(ctx, "SimilarItems", [this, req, resp](const index::Catalog& c) {
      recommend::FilterStats stats;
      absl::Status s = pipeline_->SimilarItems(c, *req, resp, &stats);
      RecordFilters(stats);
      return s;
    });
  }
  grpc::ServerUnaryReactor* SimilarArtists(grpc::CallbackServerContext* ctx,
                                           const v1::SimilarArtistsRequest* req,
                                           v1::SimilarArtistsResponse* resp) override {
    return runner_->Run(ctx, "SimilarArtists", [this, req, resp](const index::Catalog& c) {
      return pipeline_->SimilarArtists(c, *req, resp);
    });
  }
  grpc::ServerUnaryReactor* RecordEvents(grpc::CallbackServerContext* ctx,
                                         const v1::RecordEventsRequest* req,
                                         v1::RecordEventsResponse* resp) override {
    return runner_->Run(ctx, "RecordEvents", [this, req, resp](const index::Catalog& c) {
      absl::Status s = pipeline_->RecordEvents(c, *req, resp);
      if (s.ok()) metrics_->RecordHistoryWrites(resp->accepted());
      return s;
    });
  }

 private:
  void RecordFilters(const recommend::FilterStats& stats) {
    for (int k = 0; k < recommend::kNumFilterKinds; ++k) {
      if (stats.removed[k] > 0)
        metrics_->RecordFilterRemovals(recommend::FilterName(k), stats.removed[k]);
    }
    metrics_->RecordAnnSearches(stats.ann_searches[0], stats.ann_searches[1]);
    metrics_->RecordTasteQueries(stats.taste_queries[0], stats.taste_queries[1]);
    if (const recommend::ProfileCache* cache = pipeline_->profile_cache()) {
      const recommend::ProfileCache::Stats c = cache->stats();
      metrics_->RecordProfileCache(stats.profile_cache[0], stats.profile_cache[1], c.entries,
                                   c.bytes, cache->max_bytes());
    }
    for (double seconds : stats.ann_seconds) metrics_->RecordIndexSearch(seconds);
  }

  RequestRunner* runner_;
  const recommend::RecommendPipeline* pipeline_;
  Metrics* metrics_;
};

class CatalogAdminImpl final : public v1::CatalogAdmin::CallbackService {
 public:
  explicit CatalogAdminImpl(RequestRunner* runner) : runner_(runner) {}

  grpc::ServerUnaryReactor* GetCatalogInfo(grpc::CallbackServerContext* ctx,
                                           const v1::GetCatalogInfoRequest* /*req*/,
                                           v1::GetCatalogInfoResponse* resp) override {
    return runner_->Run(ctx, "GetCatalogInfo", [resp](const index::Catalog& c) {
      resp->set_version(c.version());
      for (v1::ItemKind kind : {v1::TRACK, v1::EPISODE, v1::ARTIST, v1::SHOW}) {
        auto* kc = resp->add_items();
        kc->set_kind(kind);
        kc->set_count(c.count(kind));
      }
      for (const auto& s : c.spaces()) {
        auto* si = resp->add_spaces();
        si->set_name(s->name);
        si->set_dimension(s->vectors.dim);
        si->set_vectors(s->vectors.rows);
        si->set_index_type(s->index ? s->index->type() : "");
        si->set_graph_walk(s->index ? s->index->graph_walk() : "");
        if (s->name == index::kMusicSpace) {
          resp->set_index_type(si->index_type());
          resp->set_dimension(si->dimension());
        }
      }
      resp->set_artists(static_cast<int64_t>(c.artists().artists.size()));
      resp->set_loaded_at_ms(c.loaded_at_ms());
      resp->set_snapshot_dir(c.source_dir());
      return absl::OkStatus();
    });
  }

 private:
  RequestRunner* runner_;
};

class EncoreServer::Services {
 public:
  Services(index::SnapshotManager* snapshots, WorkerPool* pool, Metrics* metrics,
           const recommend::RecommendPipeline* pipeline)
      : runner(snapshots, pool, metrics), recommender(&runner, pipeline, metrics), admin(&runner) {}
  RequestRunner runner;
  RecommenderImpl recommender;
  CatalogAdminImpl admin;
};

absl::StatusOr<std::unique_ptr<EncoreServer>> EncoreServer::Start(
    const ServerOptions& options, index::SnapshotManager* snapshots, storage::HistoryStore* history,
    recommend::PipelineOptions pipeline_options) {
  // Options are checked before anything is started.
  if (options.max_queue < 0) return absl::InvalidArgumentError("max_queue must be >= 0");
  const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  std::string execution = options.execution;
  if (execution == "auto") {
    execution = cores <= kInlineMaxCores ? "inline" : "pool";
  } else if (execution != "inline" && execution != "pool") {
    return absl::InvalidArgumentError(
        absl::StrCat("execution must be auto, inline or pool, not '", options.execution, "'"));
  }
  std::unique_ptr<EncoreServer> s(new EncoreServer());
  s->execution_ = execution;
  s->snapshots_ = snapshots;
  s->metrics_ = std::make_unique<Metrics>();
  if (options.metrics_port >= 0) {
    absl::Status exposed = s->metrics_->Expose(options.metrics_host, options.metrics_port);
    if (!exposed.ok()) return exposed;
  }
  s->pipeline_ = std::make_unique<recommend::RecommendPipeline>(history, pipeline_options);
  if (s->execution_ == "pool") {
    s->pool_ = std::make_unique<WorkerPool>(
        options.worker_threads > 0 ? options.worker_threads : cores, options.max_queue);
  }
  s->services_ =
      std::make_unique<Services>(snapshots, s->pool_.get(), s->metrics_.get(), s->pipeline_.get());

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::StrCat(options.host, ":", options.port),
                           grpc::InsecureServerCredentials(), &s->port_);
  builder.SetMaxReceiveMessageSize(options.max_receive_bytes);
  builder.RegisterService(&s->services_->recommender);
  builder.RegisterService(&s->services_->admin);
  s->server_ = builder.BuildAndStart();
  if (!s->server_ || s->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.host, ":", options.port));
  }
  grpc::HealthCheckServiceInterface* health = s->server_->GetHealthCheckService();
  Metrics* metrics = s->metrics_.get();
  auto on_swap = [health, metrics](const index::Catalog& catalog) {
    metrics->SetCatalog(catalog);
    if (health != nullptr) health->SetServingStatus(true);
  };
  if (auto current = snapshots->Current()) {
    on_swap(*current);
  } else if (health != nullptr) {
    health->SetServingStatus(false);
  }
  snapshots->SetOnSwap(on_swap);
  return s;
}

void EncoreServer::Shutdown(absl::Duration grace) {
  absl::MutexLock lock(&shutdown_mu_);
  if (shut_down_) return;
  shut_down_ = true;
  snapshots_->SetOnSwap(nullptr);
  if (auto* health = server_->GetHealthCheckService()) health->SetServingStatus(false);
  // Waits for in-flight callbacks, which finish on the pool; so the pool stops afterwards.
  server_->Shutdown(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(grace));
  if (pool_) pool_->Stop();
}

void EncoreServer::Wait() { server_->Wait(); }

EncoreServer::~EncoreServer() {
  if (server_) Shutdown(absl::Seconds(2));
}

}  // namespace encore::server
