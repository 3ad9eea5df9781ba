// encore-server's core: the gRPC services, health, reflection and metrics around the pipeline.
#ifndef ENCORE_SERVER_SERVER_H_
#define ENCORE_SERVER_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "index/snapshot_manager.h"
#include "recommend/pipeline.h"
#include "server/metrics.h"
#include "server/worker_pool.h"
#include "storage/history_store.h"

namespace encore::server {

// With ServerOptions::execution "auto": the most cores on which RPC work runs inline.
inline constexpr int kInlineMaxCores = 2;

struct ServerOptions {
  // gRPC listen address. Default: 0.0.0.0:50051; port 0 picks a free port.
  std::string host = "0.0.0.0";
  int port = 50051;
  // Prometheus /metrics address. Default: 0.0.0.0:9464; port 0 picks one; -1 disables.
  std::string metrics_host = "0.0.0.0";
  int metrics_port = 9464;
  // Where each RPC's work runs:
  //  - "pool": handed to `worker_threads` workers behind a bounded queue; a request finding
  //    `max_queue` others waiting fails at once with RESOURCE_EXHAUSTED.
  //  - "inline": on the gRPC callback thread that received it. No hand-off (two fewer thread
  //    wake-ups per call, measured in docs/BENCHMARKS.md) and no admission queue: excess load
  //    waits in gRPC and requests whose deadline passed meanwhile fail DEADLINE_EXCEEDED without
  //    running. gRPC 1.51 runs callbacks on max(2, cores / 2) threads, so on larger machines
  //    inline would leave cores idle.
  //  - "auto" (default): inline on machines with at most kInlineMaxCores cores, else pool.
  std::string execution = "auto";
  // Pool workers. Default: 0 = one per core.
  int worker_threads = 0;
  // Requests allowed to wait for a pool worker before RESOURCE_EXHAUSTED. Default: 128.
  int max_queue = 128;
  // Largest request accepted. Default: 4 MiB.
  int max_receive_bytes = 4 << 20;
};

// absl::Status -> grpc::Status; the only place codes are mapped.
grpc::Status ToGrpcStatus(const absl::Status& status);

// A running server. Health is NOT_SERVING until the SnapshotManager holds a catalog and turns
// SERVING on every swap; RPCs before that fail with UNAVAILABLE.
// Thread safety: all methods are thread-safe.
// REQUIRES: `snapshots` and `history` outlive the server.
class EncoreServer {
 public:
  // Starts listening; returns once the ports are bound.
  static absl::StatusOr<std::unique_ptr<EncoreServer>> Start(
      const ServerOptions& options, index::SnapshotManager* snapshots,
      storage::HistoryStore* history, recommend::PipelineOptions pipeline_options);
  // Shuts down (with a short grace period) if Shutdown was not called.
  ~EncoreServer();

  int port() const { return port_; }
  // "inline" or "pool": how ServerOptions::execution resolved.
  const std::string& execution() const { return execution_; }
  int metrics_port() const { return metrics_->port(); }
  Metrics& metrics() { return *metrics_; }

  // Stops accepting RPCs, lets in-flight ones finish for up to `grace`, cancels the rest.
  // Idempotent.
  void Shutdown(absl::Duration grace);
  // Blocks until the server has shut down.
  void Wait();

 private:
  class Services;
  EncoreServer() = default;

  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<recommend::RecommendPipeline> pipeline_;
  std::unique_ptr<WorkerPool> pool_;
  std::unique_ptr<Services> services_;
  std::unique_ptr<grpc::Server> server_;
  index::SnapshotManager* snapshots_ = nullptr;
  int port_ = 0;
  std::string execution_;
  absl::Mutex shutdown_mu_;
  bool shut_down_ ABSL_GUARDED_BY(shutdown_mu_) = false;
};

}  // namespace encore::server

#endif  // ENCORE_SERVER_SERVER_H_
