// encore-loadtest: open-loop (fixed arrival rate, latency from the intended send time, so a
// stalled server cannot hide its queueing) or closed-loop (fixed concurrency) load against an
// encore-server, with a mix of RPCs, Zipf-distributed users and catalog seeds.
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netdb.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "common/host_cpu.h"
#include "encore/v1/recommender.grpc.pb.h"

ABSL_FLAG(std::string, target, "localhost:50051",
          "Server host:port (loopback unless --allow_remote)");
ABSL_FLAG(double, duration, 10, "Measured seconds (after --warmup)");
ABSL_FLAG(double, warmup, 2, "Seconds of load before measuring");
ABSL_FLAG(double, rate, 0, "Open loop: requests per second (exclusive with --concurrency)");
ABSL_FLAG(int, concurrency, 0, "Closed loop: requests in flight");
ABSL_FLAG(std::string, arrivals, "poisson", "Open loop arrivals: poisson or uniform");
ABSL_FLAG(std::string, mix, "recommend:1", "RPC ratios: recommend, similar, artists, record, info");
ABSL_FLAG(int64_t, users, 2000, "User population (ids PREFIX1..PREFIXN)");
ABSL_FLAG(std::string, user_prefix, "u", "User id prefix");
ABSL_FLAG(double, zipf, 1.0, "Zipf exponent of user popularity");
ABSL_FLAG(int64_t, items, 50000, "Catalog items for seeds/similar (ids PREFIX1..PREFIXN)");
ABSL_FLAG(std::string, item_prefix, "t", "Item id prefix");
ABSL_FLAG(std::string, item_ids_file, "", "Or: item ids, one per line");
ABSL_FLAG(int64_t, artists, 4166, "Artists for 'artists' calls (ids a1..aN)");
ABSL_FLAG(double, seed_share, 0.2, "Share of recommend calls that carry one seed item");
ABSL_FLAG(int, count, 20, "Results per call");
ABSL_FLAG(int, deadline_ms, 1000, "Per-request deadline");
ABSL_FLAG(int, connections, 2, "gRPC channels (connections) to spread calls over");
ABSL_FLAG(int, client_threads, 1,
          "Completion-queue threads draining all connections (at most --connections). One "
          "thread batches completions into fewer wake-ups; docs/BENCHMARKS.md");
ABSL_FLAG(int64_t, max_in_flight, 20000,
          "Open loop: calls outstanding before counting CLIENT_OVERLOAD");
ABSL_FLAG(int64_t, max_requests, 10000000, "Hard bound on requests sent");
ABSL_FLAG(bool, allow_remote, false, "Allow a non-loopback target");
ABSL_FLAG(std::string, json, "", "Write the report as JSON here");
ABSL_FLAG(uint64_t, seed, 1, "Random seed");

namespace {

using Clock = std::chrono::steady_clock;

enum Rpc { kRecommend, kSimilar, kArtists, kRecord, kInfo, kNumRpcs };
const char* kRpcNames[] = {"recommend", "similar", "artists", "record", "info"};
// A second in which the hypervisor took at least this share of the machine's CPU time gets a
// note under the report: at 1% of two CPUs, 20 ms stolen in one second already stall the calls in
// flight by several milliseconds.
constexpr double kStealWarnPct = 1.0;

std::string CodeName(int code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

// Zipf(s) over ranks 1..n by inverse CDF of the continuous approximation.
class Zipf {
 public:
  Zipf(int64_t n, double s) : n_(std::max<int64_t>(n, 1)), s_(s) {}
  int64_t operator()(std::mt19937_64& rng) const {
    const double x = std::uniform_real_distribution<double>(0, 1)(rng);
    double r;
    if (std::abs(s_ - 1.0) < 1e-9) {
      r = std::exp(x * std::log(n_ + 1.0)) - 1.0;
    } else {
      const double a = 1.0 - s_;
      r = std::pow(x * (std::pow(n_ + 1.0, a) - 1.0) + 1.0, 1.0 / a) - 1.0;
    }
    return std::min<int64_t>(n_, static_cast<int64_t>(r) + 1);
  }

 private:
  int64_t n_;
  double s_;
};

// Latencies and codes of finished calls (measured window only). Thread-safe.
class Recorder {
 public:
  void Add(int rpc, int code, double latency_ms) {
    std::lock_guard<std::mutex> lock(mu_);
    latencies_.push_back(latency_ms);
    per_rpc_[rpc].push_back(latency_ms);
    ++codes_[CodeName(code)];
  }
  void AddClientError(const char* what) {
    std::lock_guard<std::mutex> lock(mu_);
    ++codes_[what];
  }
  std::vector<double> latencies() {
    std::lock_guard<std::mutex> lock(mu_);
    return latencies_;
  }
  std::map<int, std::vector<double>> per_rpc() {
    std::lock_guard<std::mutex> lock(mu_);
    return per_rpc_;
  }
  std::map<std::string, int64_t> codes() {
    std::lock_guard<std::mutex> lock(mu_);
    return codes_;
  }

 private:
  std::mutex mu_;
  std::vector<double> latencies_;
  std::map<int, std::vector<double>> per_rpc_;
  std::map<std::string, int64_t> codes_;
};

struct Percentiles {
  double p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;
  int64_t n = 0;
};

Percentiles Summarise(std::vector<double> v) {
  Percentiles p;
  p.n = static_cast<int64_t>(v.size());
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    const size_t i = static_cast<size_t>(std::ceil(q * v.size())) - 1;
    return v[std::min(i, v.size() - 1)];
  };
  p.p50 = at(0.50), p.p90 = at(0.90), p.p99 = at(0.99), p.p999 = at(0.999), p.max = v.back();
  return p;
}

bool IsLoopback(const std::string& target) {
  std::string host = target.substr(0, target.rfind(':'));
  if (!host.empty() && host.front() == '[') host = host.substr(1, host.size() - 2);
  if (host == "localhost") return true;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, nullptr, &res) != 0) return false;
  bool loop = true;
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    if (a->ai_family == AF_INET) {
      const auto* in = reinterpret_cast<sockaddr_in*>(a->ai_addr);
      loop = loop && (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    } else if (a->ai_family == AF_INET6) {
      const auto* in6 = reinterpret_cast<sockaddr_in6*>(a->ai_addr);
      loop = loop && IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
  }
  freeaddrinfo(res);
  return loop;
}

// Draws requests: RPC by the mix, user by Zipf, seeds and items uniformly from the catalog.
// The request flags are read once here, not per call (absl::GetFlag locks and copies strings).
class Workload {
 public:
  Workload(std::vector<std::pair<int, double>> mix, std::vector<std::string> items)
      : count(absl::GetFlag(FLAGS_count)),
        seed_share(absl::GetFlag(FLAGS_seed_share)),
        artists(absl::GetFlag(FLAGS_artists)),
        deadline(std::chrono::milliseconds(absl::GetFlag(FLAGS_deadline_ms))),
        mix_(std::move(mix)),
        items_(std::move(items)),
        user_prefix_(absl::GetFlag(FLAGS_user_prefix)),
        users_(absl::GetFlag(FLAGS_users), absl::GetFlag(FLAGS_zipf)) {
    for (const auto& [rpc, w] : mix_) total_ += w;
  }
  const int count;
  const double seed_share;
  const int64_t artists;
  const std::chrono::milliseconds deadline;

  int PickRpc(std::mt19937_64& rng) const {
    double x = std::uniform_real_distribution<double>(0, total_)(rng);
    for (const auto& [rpc, w] : mix_) {
      if ((x -= w) <= 0) return rpc;
    }
    return mix_.back().first;
  }
  std::string User(std::mt19937_64& rng) const { return absl::StrCat(user_prefix_, users_(rng)); }
  const std::string& Item(std::mt19937_64& rng) const {
    return items_[std::uniform_int_distribution<size_t>(0, items_.size() - 1)(rng)];
  }

 private:
  std::vector<std::pair<int, double>> mix_;
  std::vector<std::string> items_;
  std::string user_prefix_;
  Zipf users_;
  double total_ = 0;
};

// One asynchronous call; deleted by the completion thread when it finishes.
struct Call {
  grpc::ClientContext ctx;
  int rpc = 0;
  bool measured = false;
  Clock::time_point intended;
  grpc::Status status;
  std::function<void()> done;
  encore::v1::RecommendRequest recommend_req;
  encore::v1::RecommendResponse recommend_resp;
  encore::v1::SimilarItemsRequest similar_req;
  encore::v1::SimilarItemsResponse similar_resp;
  encore::v1::SimilarArtistsRequest artists_req;
  encore::v1::SimilarArtistsResponse artists_resp;
  encore::v1::RecordEventsRequest record_req;
  encore::v1::RecordEventsResponse record_resp;
  encore::v1::GetCatalogInfoRequest info_req;
  encore::v1::GetCatalogInfoResponse info_resp;
  std::unique_ptr<grpc::ClientAsyncResponseReader<encore::v1::RecommendResponse>> recommend;
  std::unique_ptr<grpc::ClientAsyncResponseReader<encore::v1::SimilarItemsResponse>> similar;
  std::unique_ptr<grpc::ClientAsyncResponseReader<encore::v1::SimilarArtistsResponse>> artists;
  std::unique_ptr<grpc::ClientAsyncResponseReader<encore::v1::RecordEventsResponse>> record;
  std::unique_ptr<grpc::ClientAsyncResponseReader<encore::v1::GetCatalogInfoResponse>> info;
};

// Sends calls over `--connections` channels; their completions go to `--client_threads`
// completion queues, each drained by one thread. The completion-queue API is used rather than the
// callback API because the latter, in the gRPC of Debian 12, hands every completion to another
// thread; on a 2-core machine shared with the server that hand-off cost the client as much CPU as
// the server spent on an empty RPC.
class Driver {
 public:
  Driver(const Workload& workload, Recorder* recorder) : workload_(workload), recorder_(recorder) {
    const std::string target = absl::GetFlag(FLAGS_target);
    const int connections = std::max(1, absl::GetFlag(FLAGS_connections));
    const int threads = std::clamp(absl::GetFlag(FLAGS_client_threads), 1, connections);
    for (int i = 0; i < threads; ++i) cqs_.push_back(std::make_unique<grpc::CompletionQueue>());
    for (int i = 0; i < connections; ++i) {
      grpc::ChannelArguments args;
      args.SetInt("grpc.channel_id", i);  // distinct channels, distinct connections
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      auto channel = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
      recommender_.push_back(encore::v1::Recommender::NewStub(channel));
      admin_.push_back(encore::v1::CatalogAdmin::NewStub(channel));
    }
    for (auto& cq : cqs_) threads_.emplace_back([this, q = cq.get()] { Drain(q); });
  }
  ~Driver() {
    for (auto& cq : cqs_) cq->Shutdown();
    for (auto& t : threads_) t.join();
  }

  // Starts one call intended at `intended`; `done` runs on a completion thread when it finishes
  // (it may start the next call).
  void Start(std::mt19937_64& rng, Clock::time_point intended, bool measured,
             std::function<void()> done) {
    auto* call = new Call();
    call->rpc = workload_.PickRpc(rng);
    call->intended = intended;
    call->measured = measured;
    call->done = std::move(done);
    call->ctx.set_deadline(std::chrono::system_clock::now() + workload_.deadline);
    const size_t conn = next_conn_++ % recommender_.size();
    grpc::CompletionQueue* cq = cqs_[conn % cqs_.size()].get();
    encore::v1::Recommender::Stub* recommender = recommender_[conn].get();
    switch (call->rpc) {
      case kRecommend:
        call->recommend_req.set_user_id(workload_.User(rng));
        call->recommend_req.set_count(workload_.count);
        if (std::uniform_real_distribution<double>(0, 1)(rng) < workload_.seed_share) {
          call->recommend_req.add_seed_item_ids(workload_.Item(rng));
        }
        Send(call, cq, recommender, &encore::v1::Recommender::Stub::PrepareAsyncRecommend,
             call->recommend_req, &call->recommend_resp, &call->recommend);
        break;
      case kSimilar:
        call->similar_req.set_item_id(workload_.Item(rng));
        call->similar_req.set_count(workload_.count);
        Send(call, cq, recommender, &encore::v1::Recommender::Stub::PrepareAsyncSimilarItems,
             call->similar_req, &call->similar_resp, &call->similar);
        break;
      case kArtists:
        call->artists_req.set_artist_id(
            absl::StrCat("a", std::uniform_int_distribution<int64_t>(1, workload_.artists)(rng)));
        call->artists_req.set_count(workload_.count);
        Send(call, cq, recommender, &encore::v1::Recommender::Stub::PrepareAsyncSimilarArtists,
             call->artists_req, &call->artists_resp, &call->artists);
        break;
      case kRecord: {
        call->record_req.set_user_id(workload_.User(rng));
        auto* e = call->record_req.add_events();
        e->set_item_id(workload_.Item(rng));
        e->set_type(encore::v1::PLAY);
        e->set_timestamp_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
        e->set_played_ms(180000);
        Send(call, cq, recommender, &encore::v1::Recommender::Stub::PrepareAsyncRecordEvents,
             call->record_req, &call->record_resp, &call->record);
        break;
      }
      default:
        Send(call, cq, admin_[conn].get(),
             &encore::v1::CatalogAdmin::Stub::PrepareAsyncGetCatalogInfo, call->info_req,
             &call->info_resp, &call->info);
        break;
    }
  }

 private:
  // Prepares a unary call with the generated client's PrepareAsync* method, starts it, and asks
  // for its completion on `cq` tagged with `call`.
  template <typename Client, typename Req, typename Resp>
  static void Send(Call* call, grpc::CompletionQueue* cq, Client* client,
                   std::unique_ptr<grpc::ClientAsyncResponseReader<Resp>> (Client::*prepare)(
                       grpc::ClientContext*, const Req&, grpc::CompletionQueue*),
                   const Req& req, Resp* resp,
                   std::unique_ptr<grpc::ClientAsyncResponseReader<Resp>>* reader) {
    *reader = (client->*prepare)(&call->ctx, req, cq);
    (*reader)->StartCall();
    (*reader)->Finish(resp, &call->status, call);
  }

  void Drain(grpc::CompletionQueue* cq) {
    void* tag = nullptr;
    bool ok = false;
    while (cq->Next(&tag, &ok)) {
      auto* call = static_cast<Call*>(tag);
      const double ms =
          std::chrono::duration<double, std::milli>(Clock::now() - call->intended).count();
      if (call->measured) recorder_->Add(call->rpc, call->status.error_code(), ms);
      std::function<void()> done = std::move(call->done);
      delete call;
      if (done) done();
    }
  }

  const Workload& workload_;
  Recorder* recorder_;
  std::vector<std::unique_ptr<encore::v1::Recommender::Stub>> recommender_;
  std::vector<std::unique_ptr<encore::v1::CatalogAdmin::Stub>> admin_;
  std::vector<std::unique_ptr<grpc::CompletionQueue>> cqs_;
  std::vector<std::thread> threads_;
  std::atomic<uint64_t> next_conn_{0};
};

// This machine's CPU over the measured window: how busy the load kept it, and how much time the
// hypervisor withheld from it (steal), which stalls client and server alike and shows up in the
// latency tail whatever the server does.
struct HostWindow {
  bool ok = false;  // /proc/stat was read at both ends of a window of at least a second
  double seconds = 0;
  encore::common::CpuShare share;
  double worst_second_steal_pct = 0;
};

// Prints a progress line once a second until `stop`. The ticks fall on whole seconds from the
// start of the measured window, and those inside it also sample the machine's CPU time.
void Progress(Clock::time_point start, Clock::time_point measure_from, Clock::time_point end,
              std::atomic<int64_t>* sent, std::atomic<int64_t>* done, std::atomic<bool>* stop,
              HostWindow* host) {
  const double total_s = std::chrono::duration<double>(end - start).count();
  Clock::time_point tick = measure_from;
  while (tick - std::chrono::seconds(1) > start) tick -= std::chrono::seconds(1);
  std::optional<encore::common::CpuTimes> first, previous;
  Clock::time_point first_at;
  while (!stop->load()) {
    std::this_thread::sleep_until(tick);
    if (tick >= measure_from && tick <= end) {
      if (auto now = encore::common::ReadCpuTimes(); now.ok()) {
        if (!first) {
          first = *now;
          first_at = tick;
        } else {
          host->ok = true;
          host->seconds = std::chrono::duration<double>(tick - first_at).count();
          host->share = encore::common::ShareBetween(*first, *now);
          host->worst_second_steal_pct =
              std::max(host->worst_second_steal_pct,
                       encore::common::ShareBetween(*previous, *now).steal_pct);
        }
        previous = *now;
      }
    }
    tick += std::chrono::seconds(1);
    const double t = std::chrono::duration<double>(Clock::now() - start).count();
    std::fprintf(stderr, "\r[%5.1fs / %.0fs] sent %lld, completed %lld, in flight %lld   ", t,
                 total_s, static_cast<long long>(sent->load()),
                 static_cast<long long>(done->load()),
                 static_cast<long long>(sent->load() - done->load()));
  }
  std::fprintf(stderr, "\n");
}

int Fail(const std::string& msg) {
  std::fprintf(stderr, "encore-loadtest: %s\n", msg.c_str());
  return 64;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "encore-loadtest --target=HOST:PORT --duration=SECONDS (--rate=R | --concurrency=C) "
      "[--json=PATH]");
  absl::ParseCommandLine(argc, argv);
  // Debian's Abseil keeps absl::Mutex deadlock detection on; gRPC locks absl::Mutexes on every
  // call, and the lock-graph bookkeeping showed in client profiles. It is a debugging aid.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  const double rate = absl::GetFlag(FLAGS_rate);
  const int concurrency = absl::GetFlag(FLAGS_concurrency);
  if ((rate > 0) == (concurrency > 0)) return Fail("give exactly one of --rate or --concurrency");
  if (absl::GetFlag(FLAGS_duration) <= 0 || absl::GetFlag(FLAGS_warmup) < 0) {
    return Fail("--duration must be > 0 and --warmup >= 0");
  }
  if (absl::GetFlag(FLAGS_duration) + absl::GetFlag(FLAGS_warmup) > 3600) {
    return Fail("runs are bounded to one hour");
  }
  const std::string target = absl::GetFlag(FLAGS_target);
  if (!absl::GetFlag(FLAGS_allow_remote) && !IsLoopback(target)) {
    return Fail(absl::StrCat(target, " is not a loopback address (pass --allow_remote)"));
  }
  std::vector<std::pair<int, double>> mix;
  for (absl::string_view part : absl::StrSplit(absl::GetFlag(FLAGS_mix), ',', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(part, ':');
    double w = 0;
    int rpc = -1;
    for (int r = 0; r < kNumRpcs; ++r) {
      if (kv.first == kRpcNames[r]) rpc = r;
    }
    if (rpc < 0 || !absl::SimpleAtod(kv.second, &w) || w < 0) {
      return Fail(absl::StrCat("bad --mix entry '", part, "' (want NAME:WEIGHT)"));
    }
    if (w > 0) mix.emplace_back(rpc, w);
  }
  if (mix.empty()) return Fail("--mix selects no RPC");
  std::vector<std::string> items;
  if (const std::string path = absl::GetFlag(FLAGS_item_ids_file); !path.empty()) {
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) items.push_back(line);
    }
    if (items.empty()) return Fail(absl::StrCat(path, " has no item ids"));
  } else {
    for (int64_t i = 1; i <= std::max<int64_t>(absl::GetFlag(FLAGS_items), 1); ++i) {
      items.push_back(absl::StrCat(absl::GetFlag(FLAGS_item_prefix), i));
    }
  }

  Workload workload(mix, std::move(items));
  Recorder recorder;
  Driver driver(workload, &recorder);
  const double warmup = absl::GetFlag(FLAGS_warmup), duration = absl::GetFlag(FLAGS_duration);
  const int64_t max_requests = absl::GetFlag(FLAGS_max_requests);
  std::atomic<int64_t> sent{0}, done{0};
  std::atomic<bool> stop{false};
  const Clock::time_point start = Clock::now();
  const Clock::time_point measure_from =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(warmup));
  const Clock::time_point end = measure_from + std::chrono::duration_cast<Clock::duration>(
                                                   std::chrono::duration<double>(duration));
  HostWindow host;
  std::thread progress(Progress, start, measure_from, end, &sent, &done, &stop, &host);
  std::mt19937_64 rng(absl::GetFlag(FLAGS_seed));

  if (rate > 0) {
    // Open loop: intended send times follow the arrival process regardless of responses.
    const bool poisson = absl::GetFlag(FLAGS_arrivals) != "uniform";
    std::exponential_distribution<double> gap(rate);
    const int64_t max_in_flight = absl::GetFlag(FLAGS_max_in_flight);
    double offset = 0;
    while (sent.load() < max_requests) {
      offset += poisson ? gap(rng) : 1.0 / rate;
      const Clock::time_point intended = start + std::chrono::duration_cast<Clock::duration>(
                                                     std::chrono::duration<double>(offset));
      if (intended >= end) break;
      std::this_thread::sleep_until(intended);
      const bool measured = intended >= measure_from;
      if (sent.load() - done.load() >= max_in_flight) {
        if (measured) recorder.AddClientError("CLIENT_OVERLOAD");
        continue;
      }
      ++sent;
      driver.Start(rng, intended, measured, [&done] { ++done; });
    }
  } else {
    // Closed loop: `concurrency` chains, each keeping one call in flight. A chain's next call is
    // sent from the completion thread of the previous one, so the client adds no thread
    // hand-off per call.
    struct Chain {
      std::mt19937_64 rng;
      std::function<void()> next;
    };
    std::vector<Chain> chains(concurrency);
    std::mutex mu;
    std::condition_variable cv;
    int active = concurrency;
    for (int w = 0; w < concurrency; ++w) {
      Chain& chain = chains[w];
      chain.rng.seed(absl::GetFlag(FLAGS_seed) * 7919 + w);
      chain.next = [&, w] {
        Chain& c = chains[w];
        const Clock::time_point now = Clock::now();
        if (now >= end || sent.fetch_add(1) >= max_requests) {
          std::lock_guard<std::mutex> lock(mu);
          if (--active == 0) cv.notify_all();
          return;
        }
        driver.Start(c.rng, now, now >= measure_from, [&c, &done] {
          ++done;
          c.next();
        });
      };
    }
    for (auto& chain : chains) chain.next();
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return active == 0; });
    sent = done.load();
  }
  // Let outstanding calls finish (each has a deadline).
  const auto drain_until =
      Clock::now() + std::chrono::milliseconds(absl::GetFlag(FLAGS_deadline_ms) + 2000);
  while (done.load() < sent.load() && Clock::now() < drain_until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  stop = true;
  progress.join();

  const Percentiles all = Summarise(recorder.latencies());
  const auto codes = recorder.codes();
  const double achieved = static_cast<double>(all.n) / duration;
  std::printf(
      "target %s, %s, %.0fs measured after %.0fs warm-up\n", target.c_str(),
      rate > 0 ? absl::StrFormat("open loop %.0f req/s (%s)", rate, absl::GetFlag(FLAGS_arrivals))
                     .c_str()
               : absl::StrFormat("closed loop, concurrency %d", concurrency).c_str(),
      duration, warmup);
  std::printf("achieved %.1f req/s over %lld completed calls\n", achieved,
              static_cast<long long>(all.n));
  std::printf("| rpc | calls | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms |\n");
  std::printf("| --- | --- | --- | --- | --- | --- | --- |\n");
  auto row = [](const char* name, const Percentiles& p) {
    std::printf("| %s | %lld | %.3f | %.3f | %.3f | %.3f | %.3f |\n", name,
                static_cast<long long>(p.n), p.p50, p.p90, p.p99, p.p999, p.max);
  };
  row("all", all);
  for (const auto& [rpc, lat] : recorder.per_rpc()) row(kRpcNames[rpc], Summarise(lat));
  std::printf("status codes:");
  for (const auto& [code, n] : codes)
    std::printf(" %s=%lld", code.c_str(), static_cast<long long>(n));
  std::printf("\n");
  if (host.ok) {
    std::printf(
        "this machine over %.0f s of the measurement: CPU busy %.1f%%, hypervisor steal %.1f%% "
        "(worst second %.1f%%)\n",
        host.seconds, host.share.busy_pct, host.share.steal_pct, host.worst_second_steal_pct);
    if (host.worst_second_steal_pct >= kStealWarnPct) {
      std::printf(
          "note: the hypervisor withheld CPU from this machine during the run; the latency tail "
          "includes those stalls\n");
    }
  }

  if (const std::string path = absl::GetFlag(FLAGS_json); !path.empty()) {
    std::string json = absl::StrFormat(
        "{\n  \"target\": \"%s\",\n  \"mode\": \"%s\",\n  \"offered_rps\": %.3f,\n"
        "  \"concurrency\": %d,\n  \"duration_s\": %.3f,\n  \"achieved_rps\": %.3f,\n"
        "  \"completed\": %d,\n  \"latency_ms\": {\"p50\": %.4f, \"p90\": %.4f, \"p99\": %.4f, "
        "\"p999\": %.4f, \"max\": %.4f},\n  \"errors\": {",
        target, rate > 0 ? "open" : "closed", rate, concurrency, duration, achieved, all.n, all.p50,
        all.p90, all.p99, all.p999, all.max);
    bool first = true;
    for (const auto& [code, n] : codes) {
      if (code == "OK") continue;
      absl::StrAppendFormat(&json, "%s\"%s\": %d", first ? "" : ", ", code, n);
      first = false;
    }
    json += "},\n  \"ok\": ";
    json += absl::StrCat(codes.count("OK") ? codes.at("OK") : 0);
    json += ",\n  \"host_cpu\": ";
    json += host.ok ? absl::StrFormat(
                          "{\"window_s\": %.3f, \"busy_pct\": %.3f, \"steal_pct\": %.3f, "
                          "\"steal_pct_worst_second\": %.3f}",
                          host.seconds, host.share.busy_pct, host.share.steal_pct,
                          host.worst_second_steal_pct)
                    : "null";
    json += "\n}\n";
    std::ofstream out(path);
    out << json;
    if (!out) return Fail(absl::StrCat("cannot write ", path));
  }
  return 0;
}
