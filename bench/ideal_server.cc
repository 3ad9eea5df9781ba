// encore-bench-ideal-server: the server issue #5's R_lim formula assumes, made real, so the
// formula can be checked on this machine (docs/BENCHMARKS.md, "What the ratio target assumes").
//
// R_lim = 1 / (1/R0 + t_ann/c) models a Recommend call as the empty RPC's cost plus t_ann of CPU
// per call, with nothing else. This binary serves exactly that, with the same gRPC setup as
// encore-server (callback API, work inline on the callback thread):
//  - CatalogAdmin/GetCatalogInfo answers at once with a response the size of encore-server's.
//  - Recommender/Recommend burns --spin_us of the calling thread's CPU time (register-only
//    arithmetic, so it neither touches nor contends for memory), then returns `count` canned
//    items shaped like encore-server's.
// Driving it with encore-loadtest at its max gives the highest Recommend/R_lim ratio any server
// with that t_ann can reach here; encore-server's own ratio is read against it.
#include <grpcpp/grpcpp.h>
#include <time.h>

#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <memory>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "encore/v1/recommender.grpc.pb.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "Listen host");
ABSL_FLAG(int, port, 0, "Listen port (0 picks a free one)");
ABSL_FLAG(int, spin_us, 220, "CPU microseconds each Recommend burns (the modelled t_ann)");

namespace {

constexpr int kMaxCount = 500;

int64_t ThreadCpuNanos() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Burns `micros` of this thread's CPU time; time spent preempted does not count.
uint64_t Spin(int micros) {
  const int64_t until = ThreadCpuNanos() + static_cast<int64_t>(micros) * 1000;
  uint64_t x = 88172645463325252ull;
  do {
    for (int i = 0; i < 256; ++i) {  // xorshift: registers only
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
    }
  } while (ThreadCpuNanos() < until);
  return x;
}

class IdealRecommender final : public encore::v1::Recommender::CallbackService {
 public:
  explicit IdealRecommender(int spin_us) : spin_us_(spin_us) {}

  grpc::ServerUnaryReactor* Recommend(grpc::CallbackServerContext* ctx,
                                      const encore::v1::RecommendRequest* req,
                                      encore::v1::RecommendResponse* resp) override {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    // encore-server's bounds: 0 = the default 20, at most kMaxCount.
    if (req->count() < 0 || req->count() > kMaxCount) {
      reactor->Finish(grpc::Status(grpc::INVALID_ARGUMENT,
                                   absl::StrCat("count must be in 1..", kMaxCount, " (0 = 20)")));
      return reactor;
    }
    const uint64_t noise = Spin(spin_us_);
    const int count = req->count() > 0 ? req->count() : 20;
    for (int i = 0; i < count; ++i) {
      auto* item = resp->add_items();
      item->set_item_id(absl::StrCat("t", 100000 + (noise + i * 7919) % 900000));
      item->set_kind(encore::v1::TRACK);
      item->set_score(1.0f - 0.02f * i);
      item->set_artist_id(absl::StrCat("a", 10000 + (noise + i) % 90000));
      item->set_name("Zupel Ta");
    }
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  const int spin_us_;
};

class IdealAdmin final : public encore::v1::CatalogAdmin::CallbackService {
 public:
  grpc::ServerUnaryReactor* GetCatalogInfo(grpc::CallbackServerContext* ctx,
                                           const encore::v1::GetCatalogInfoRequest* /*req*/,
                                           encore::v1::GetCatalogInfoResponse* resp) override {
    resp->set_version("ideal");
    const std::pair<encore::v1::ItemKind, int64_t> counts[] = {{encore::v1::TRACK, 1000000},
                                                               {encore::v1::EPISODE, 0},
                                                               {encore::v1::ARTIST, 100000},
                                                               {encore::v1::SHOW, 0}};
    for (const auto& [kind, count] : counts) {
      auto* kc = resp->add_items();
      kc->set_kind(kind);
      kc->set_count(count);
    }
    auto* space = resp->add_spaces();
    space->set_name("music");
    space->set_dimension(40);
    space->set_vectors(1000000);
    space->set_index_type("HNSW32,Flat");
    resp->set_index_type("HNSW32,Flat");
    resp->set_dimension(40);
    resp->set_artists(100000);
    resp->set_snapshot_dir("/tmp/e2e-1m/snapshots/bench");
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "encore-bench-ideal-server [--port=0] [--spin_us=220]: an empty RPC plus a fixed CPU burn "
      "per Recommend; see docs/BENCHMARKS.md");
  absl::ParseCommandLine(argc, argv);
  const int spin_us = absl::GetFlag(FLAGS_spin_us);
  if (spin_us < 0 || spin_us > 1000000) {
    std::fprintf(stderr, "--spin_us must be in [0, 1000000], not %d\n", spin_us);
    return 2;
  }
  // Blocked before any thread starts, so every thread inherits the mask and sigwait gets them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  IdealRecommender recommender(spin_us);
  IdealAdmin admin;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::StrCat(absl::GetFlag(FLAGS_host), ":", absl::GetFlag(FLAGS_port)),
                           grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&recommender);
  builder.RegisterService(&admin);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::fprintf(stderr, "cannot listen on %s:%d\n", absl::GetFlag(FLAGS_host).c_str(),
                 absl::GetFlag(FLAGS_port));
    return 1;
  }
  std::printf("encore-bench-ideal-server listening grpc_port=%d spin_us=%d\n", port, spin_us);
  std::fflush(stdout);
  int sig = 0;
  sigwait(&stop, &sig);
  server->Shutdown();
  return 0;
}
