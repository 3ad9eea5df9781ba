// gRPC tests: a real EncoreServer on port 0 (real FAISS, real RocksDB), called through the
// generated stubs.
#include "server/server.h"

#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "common/file_util.h"
#include "encore/v1/recommender.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "offline/snapshot_builder.h"
#include "offline/synthetic.h"
#include "storage/rocksdb_history_store.h"
#include "tests/test_util.h"

namespace encore::server {
namespace {

using grpc::health::v1::HealthCheckResponse;

// GET http://127.0.0.1:port/metrics with a raw socket.
std::string HttpGetMetrics(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return "";
  }
  const std::string req = "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n";
  (void)!::write(fd, req.data(), req.size());
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) out.append(buf, n);
  ::close(fd);
  return out;
}

// The value of the sample line starting with `name` (labels included) in a text exposition, or
// -1 when absent.
double MetricValue(const std::string& page, const std::string& name) {
  size_t at = 0;
  while ((at = page.find(name + " ", at)) != std::string::npos) {
    if (at == 0 || page[at - 1] == '\n') return std::stod(page.substr(at + name.size() + 1));
    at += name.size();
  }
  return -1;
}

// Every test runs with both ways of executing RPC work (ServerOptions::execution).
class ServerTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    offline::SyntheticOptions o;
    o.tracks = 4000;
    o.users = 30;
    o.shows = 4;
    o.episodes_per_show = 5;
    data_ = offline::GenerateSynthetic(o);
    data_.snapshot.version = "test-1";
    auto dir =
        offline::PublishSnapshot(tmp_.Sub("snapshots"), data_.snapshot, offline::BuildOptions());
    ASSERT_TRUE(dir.ok()) << dir.status();
    snapshot_dir_ = *dir;
    ASSERT_OK_AND_ASSIGN(history_, storage::RocksDbHistoryStore::Open(tmp_.Sub("history"), {}));
    for (const auto& u : data_.users) ASSERT_OK(history_->Append(u.user_id, u.events));
  }

  void TearDown() override {
    // Drop the client connection first: gRPC's shutdown waits for connected channels.
    stub_.reset();
    admin_.reset();
    health_.reset();
    channel_.reset();
    server_.reset();
  }

  // Metrics are off unless asked for: stopping civetweb's HTTP server takes ~2 s.
  void StartServer(bool load, bool metrics = false, int max_queue = 128) {
    if (load) ASSERT_OK(snapshots_.LoadAndSwap(snapshot_dir_));
    ServerOptions o;
    o.execution = GetParam();
    o.max_queue = max_queue;
    o.host = "127.0.0.1";
    o.port = 0;
    o.metrics_host = "127.0.0.1";
    o.metrics_port = metrics ? 0 : -1;
    o.worker_threads = 2;
    // As encore-server runs by default: with the taste-profile cache.
    recommend::PipelineOptions pipeline;
    pipeline.profile_cache_bytes = 1 << 20;
    ASSERT_OK_AND_ASSIGN(server_, EncoreServer::Start(o, &snapshots_, history_.get(), pipeline));
    ASSERT_GT(server_->port(), 0);
    ASSERT_EQ(server_->execution(), GetParam());
    // A local subchannel pool lets the connection close with the channel at teardown.
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    channel_ = grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                         grpc::InsecureChannelCredentials(), args);
    stub_ = v1::Recommender::NewStub(channel_);
    admin_ = v1::CatalogAdmin::NewStub(channel_);
    health_ = grpc::health::v1::Health::NewStub(channel_);
  }

  HealthCheckResponse::ServingStatus Health() {
    grpc::ClientContext ctx;
    HealthCheckResponse resp;
    grpc::Status s = health_->Check(&ctx, {}, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.status();
  }

  grpc::Status Recommend(const v1::RecommendRequest& req, v1::RecommendResponse* resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return stub_->Recommend(&ctx, req, resp);
  }

  testing::TempDir tmp_;
  offline::SyntheticData data_;
  std::string snapshot_dir_;
  std::unique_ptr<storage::RocksDbHistoryStore> history_;
  index::SnapshotManager snapshots_{index::CatalogOptions{}};
  std::unique_ptr<EncoreServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Recommender::Stub> stub_;
  std::unique_ptr<v1::CatalogAdmin::Stub> admin_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
};

TEST_P(ServerTest, HealthIsNotServingUntilACatalogLoads) {
  StartServer(/*load=*/false);
  EXPECT_EQ(Health(), HealthCheckResponse::NOT_SERVING);
  v1::RecommendRequest req;
  req.set_user_id("u1");
  v1::RecommendResponse resp;
  EXPECT_EQ(Recommend(req, &resp).error_code(), grpc::UNAVAILABLE);
  ASSERT_OK(snapshots_.LoadAndSwap(snapshot_dir_));
  EXPECT_EQ(Health(), HealthCheckResponse::SERVING);
  EXPECT_TRUE(Recommend(req, &resp).ok());
  server_->Shutdown(absl::Seconds(1));
}

TEST_P(ServerTest, RecommendForAKnownListener) {
  StartServer(true);
  const offline::SyntheticUser& user = data_.users[0];
  v1::RecommendRequest req;
  req.set_user_id(user.user_id);
  req.set_count(10);
  req.set_explain(true);
  v1::RecommendResponse resp;
  grpc::Status s = Recommend(req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.catalog_version(), "test-1");
  ASSERT_EQ(resp.items_size(), 10);
  std::set<std::string> played;
  for (const auto& e : user.events) played.insert(e.item_id);
  std::map<std::string, int> per_artist;
  for (const auto& item : resp.items()) {
    EXPECT_EQ(played.count(item.item_id()), 0u) << item.item_id();
    EXPECT_EQ(item.kind(), v1::TRACK);
    EXPECT_LE(++per_artist[item.artist_id()], 2);
    ASSERT_GE(item.reasons_size(), 1);
    EXPECT_EQ(item.reasons(0).rfind("similar_to:", 0), 0u);
    for (int r = 1; r < item.reasons_size(); ++r) {
      EXPECT_EQ(item.reasons(r).rfind("because_you_like:", 0), 0u) << item.reasons(r);
    }
  }
}

TEST_P(ServerTest, SimilarItemsAndArtists) {
  StartServer(true);
  {
    grpc::ClientContext ctx;
    v1::SimilarItemsRequest req;
    req.set_item_id("t1");
    req.set_count(5);
    v1::SimilarItemsResponse resp;
    ASSERT_TRUE(stub_->SimilarItems(&ctx, req, &resp).ok());
    ASSERT_EQ(resp.items_size(), 5);
    for (const auto& i : resp.items()) EXPECT_NE(i.item_id(), "t1");
  }
  {
    grpc::ClientContext ctx;
    v1::SimilarArtistsRequest req;
    req.set_artist_id("a1");
    req.set_count(5);
    v1::SimilarArtistsResponse resp;
    ASSERT_TRUE(stub_->SimilarArtists(&ctx, req, &resp).ok());
    ASSERT_EQ(resp.artists_size(), 5);
    for (const auto& a : resp.artists()) {
      EXPECT_NE(a.item_id(), "a1");
      EXPECT_EQ(a.kind(), v1::ARTIST);
    }
  }
}

TEST_P(ServerTest, UnknownIdsAreNotFound) {
  StartServer(true);
  {
    grpc::ClientContext ctx;
    v1::SimilarItemsRequest req;
    req.set_item_id("no-such-track");
    v1::SimilarItemsResponse resp;
    grpc::Status s = stub_->SimilarItems(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::NOT_FOUND);
    EXPECT_NE(s.error_message().find("no-such-track"), std::string::npos);
  }
  {
    grpc::ClientContext ctx;
    v1::SimilarArtistsRequest req;
    req.set_artist_id("no-such-artist");
    v1::SimilarArtistsResponse resp;
    grpc::Status s = stub_->SimilarArtists(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::NOT_FOUND);
    EXPECT_NE(s.error_message().find("no-such-artist"), std::string::npos);
  }
  v1::RecommendRequest req;
  req.set_user_id("u1");
  req.add_seed_item_ids("no-such-seed");
  v1::RecommendResponse resp;
  grpc::Status s = Recommend(req, &resp);
  EXPECT_EQ(s.error_code(), grpc::NOT_FOUND);
  EXPECT_NE(s.error_message().find("no-such-seed"), std::string::npos);
}

TEST_P(ServerTest, InvalidArgumentsChangeNothing) {
  StartServer(true);
  v1::RecommendRequest bad;
  bad.set_user_id("u1");
  bad.set_count(501);
  v1::RecommendResponse resp;
  grpc::Status s = Recommend(bad, &resp);
  EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("count"), std::string::npos);

  v1::RecordEventsRequest rec;
  rec.set_user_id("fresh-user");
  auto* good = rec.add_events();
  good->set_item_id("t5");
  good->set_type(v1::PLAY);
  good->set_timestamp_ms(common::NowMs());
  auto* broken = rec.add_events();
  broken->set_item_id("t6");
  broken->set_timestamp_ms(common::NowMs());  // no type
  grpc::ClientContext ctx;
  v1::RecordEventsResponse rec_resp;
  s = stub_->RecordEvents(&ctx, rec, &rec_resp);
  EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("events[1].type"), std::string::npos) << s.error_message();
  ASSERT_OK_AND_ASSIGN(auto history, history_->Read("fresh-user", 10));
  EXPECT_TRUE(history.empty());
}

TEST_P(ServerTest, RecordedEventsShapeTheNextRecommendation) {
  StartServer(true);
  // Cold user: popular items.
  v1::RecommendRequest req;
  req.set_user_id("newcomer");
  req.set_count(5);
  req.set_explain(true);
  v1::RecommendResponse before;
  ASSERT_TRUE(Recommend(req, &before).ok());
  EXPECT_EQ(before.items(0).reasons(0).rfind("popular", 0), 0u) << before.items(0).reasons(0);

  grpc::ClientContext ctx;
  v1::RecordEventsRequest rec;
  rec.set_user_id("newcomer");
  for (const char* item : {"t10", "t11"}) {
    auto* e = rec.add_events();
    e->set_item_id(item);
    e->set_type(v1::LIKE);
    e->set_timestamp_ms(common::NowMs());
    e->set_played_ms(120000);
  }
  v1::RecordEventsResponse rec_resp;
  ASSERT_TRUE(stub_->RecordEvents(&ctx, rec, &rec_resp).ok());
  EXPECT_EQ(rec_resp.accepted(), 2);

  v1::RecommendResponse after;
  ASSERT_TRUE(Recommend(req, &after).ok());
  ASSERT_EQ(after.items_size(), 5);
  for (const auto& item : after.items()) {
    EXPECT_NE(item.item_id(), "t10");
    EXPECT_NE(item.item_id(), "t11");
    EXPECT_EQ(item.reasons(0).rfind("similar_to:t1", 0), 0u) << item.reasons(0);
  }
}

TEST_P(ServerTest, CatalogInfoAndMetrics) {
  StartServer(true, /*metrics=*/true);
  grpc::ClientContext ctx;
  v1::GetCatalogInfoResponse info;
  ASSERT_TRUE(admin_->GetCatalogInfo(&ctx, {}, &info).ok());
  EXPECT_EQ(info.version(), "test-1");
  EXPECT_EQ(info.dimension(), 40);
  EXPECT_EQ(info.index_type(), "flat");
  int64_t tracks = 0;
  for (const auto& kc : info.items()) {
    if (kc.kind() == v1::TRACK) tracks = kc.count();
  }
  EXPECT_EQ(tracks, 4000);
  ASSERT_EQ(info.spaces_size(), 2);

  v1::RecommendRequest req;
  req.set_user_id("u2");
  v1::RecommendResponse resp;
  ASSERT_TRUE(Recommend(req, &resp).ok());
  req.set_count(-3);
  EXPECT_FALSE(Recommend(req, &resp).ok());
  // A large July request runs into the seasonal filter.
  req.set_count(200);
  req.mutable_context()->set_now_ms(1784073600000);
  ASSERT_TRUE(Recommend(req, &resp).ok());

  const std::string page = HttpGetMetrics(server_->metrics_port());
  EXPECT_NE(page.find("200 OK"), std::string::npos);
  EXPECT_NE(page.find("encore_filter_removals_total{filter=\"seasonal\"}"), std::string::npos);
  EXPECT_NE(page.find("encore_requests_total{code=\"OK\",method=\"Recommend\"} 2"),
            std::string::npos)
      << page;
  EXPECT_NE(page.find("encore_requests_total{code=\"INVALID_ARGUMENT\",method=\"Recommend\"} 1"),
            std::string::npos);
  EXPECT_NE(page.find("encore_request_duration_seconds_bucket{method=\"Recommend\""),
            std::string::npos);
  EXPECT_NE(page.find("encore_catalog_items{kind=\"track\"} 4000"), std::string::npos);
  EXPECT_NE(page.find("encore_catalog_info{version=\"test-1\"} 1"), std::string::npos);
  EXPECT_NE(page.find("encore_history_events_written_total"), std::string::npos);
  // One index-search timing per search counted.
  const double searches = MetricValue(page, "encore_ann_searches_total{round=\"first\"}") +
                          MetricValue(page, "encore_ann_searches_total{round=\"widened\"}");
  EXPECT_GE(searches, 2);
  EXPECT_EQ(MetricValue(page, "encore_index_search_seconds_count"), searches) << page;
  EXPECT_GT(MetricValue(page, "encore_index_search_seconds_sum"), 0);
  // Every first-round search of a Recommend call is a taste-vector query, near or far.
  const double near = MetricValue(page, "encore_taste_queries_total{reach=\"near\"}");
  const double far = MetricValue(page, "encore_taste_queries_total{reach=\"far\"}");
  EXPECT_GE(near, 0) << page;
  EXPECT_GE(far, 0) << page;
  EXPECT_EQ(near + far, MetricValue(page, "encore_ann_searches_total{round=\"first\"}"));
  // u2's first valid Recommend built the profile, the second reused it.
  EXPECT_EQ(MetricValue(page, "encore_profile_cache_lookups_total{result=\"miss\"}"), 1) << page;
  EXPECT_EQ(MetricValue(page, "encore_profile_cache_lookups_total{result=\"hit\"}"), 1);
  EXPECT_EQ(MetricValue(page, "encore_profile_cache_entries"), 1);
  EXPECT_GT(MetricValue(page, "encore_profile_cache_bytes"), 0);
  EXPECT_EQ(MetricValue(page, "encore_profile_cache_max_bytes"), 1 << 20);
}

TEST_P(ServerTest, NoChristmasInJulyButMaybeInDecember) {
  StartServer(true);
  std::set<std::string> christmas;
  for (const auto& item : data_.snapshot.items) {
    for (const auto& t : item.tags()) {
      if (t.tag() == "christmas") christmas.insert(item.id());
    }
  }
  ASSERT_FALSE(christmas.empty());
  constexpr int64_t kJuly = 1784073600000;      // 2026-07-15
  constexpr int64_t kDecember = 1797724800000;  // 2026-12-20
  int users = 0, july_hits = 0, december_hits = 0, july_unfiltered_hits = 0;
  for (const auto& user : data_.users) {
    bool clean = true;  // no Christmas in the listener's own history
    for (const auto& e : user.events) clean = clean && !christmas.count(e.item_id);
    if (!clean) continue;
    ++users;
    for (int64_t now : {kJuly, kDecember}) {
      v1::RecommendRequest req;
      req.set_user_id(user.user_id);
      req.set_count(100);
      req.mutable_context()->set_now_ms(now);
      v1::RecommendResponse resp;
      ASSERT_TRUE(Recommend(req, &resp).ok());
      for (const auto& item : resp.items()) {
        if (christmas.count(item.item_id())) ++(now == kJuly ? july_hits : december_hits);
      }
      if (now == kJuly) {  // the same request with the seasonal filter switched off
        req.mutable_filters()->set_seasonal(false);
        v1::RecommendResponse unfiltered;
        ASSERT_TRUE(Recommend(req, &unfiltered).ok());
        for (const auto& item : unfiltered.items()) {
          july_unfiltered_hits += christmas.count(item.item_id());
        }
      }
    }
  }
  ASSERT_GT(users, 5);
  EXPECT_EQ(july_hits, 0);
  EXPECT_GT(july_unfiltered_hits, 0);  // the filter, not luck, keeps July clean
  EXPECT_GT(december_hits, 0);
}

TEST_P(ServerTest, SwapDuringTrafficNeverFailsARequest) {
  StartServer(true);
  // Publish a second version and swap it in while requests run.
  data_.snapshot.version = "test-2";
  ASSERT_OK_AND_ASSIGN(
      std::string dir2,
      offline::PublishSnapshot(tmp_.Sub("snapshots"), data_.snapshot, offline::BuildOptions()));
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0}, ok{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 3; ++t) {
    clients.emplace_back([&, t] {
      while (!stop) {
        v1::RecommendRequest req;
        req.set_user_id(absl::StrCat("u", 1 + t));
        v1::RecommendResponse resp;
        grpc::Status s = Recommend(req, &resp);
        if (s.ok() && (resp.catalog_version() == "test-1" || resp.catalog_version() == "test-2")) {
          ++ok;
        } else {
          ++failures;
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_OK(snapshots_.LoadAndSwap(dir2));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  stop = true;
  for (auto& c : clients) c.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(ok.load(), 10);
  grpc::ClientContext ctx;
  v1::GetCatalogInfoResponse info;
  ASSERT_TRUE(admin_->GetCatalogInfo(&ctx, {}, &info).ok());
  EXPECT_EQ(info.version(), "test-2");
}

TEST_P(ServerTest, AdmissionQueueOnlyInPoolExecution) {
  // No room in the queue: a pool refuses at once, inline execution has no queue to fill.
  StartServer(true, /*metrics=*/false, /*max_queue=*/0);
  v1::RecommendRequest req;
  req.set_user_id("u1");
  v1::RecommendResponse resp;
  grpc::Status s = Recommend(req, &resp);
  if (GetParam() == "pool") {
    EXPECT_EQ(s.error_code(), grpc::RESOURCE_EXHAUSTED) << s.error_message();
    EXPECT_EQ(resp.items_size(), 0);
  } else {
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_GT(resp.items_size(), 0);
  }
}

// API-level contract: a call already past its deadline fails DEADLINE_EXCEEDED and writes nothing,
// whichever side notices first (gRPC may fail it before it is sent; the server also checks when
// the work would start).
TEST_P(ServerTest, CallPastItsDeadlineChangesNothing) {
  StartServer(true);
  v1::RecordEventsRequest req;
  req.set_user_id("u-late");
  auto* e = req.add_events();
  e->set_item_id(data_.snapshot.items[0].id());
  e->set_type(v1::PLAY);
  e->set_timestamp_ms(common::NowMs());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() - std::chrono::milliseconds(1));
  v1::RecordEventsResponse resp;
  EXPECT_EQ(stub_->RecordEvents(&ctx, req, &resp).error_code(), grpc::DEADLINE_EXCEEDED);
  ASSERT_OK_AND_ASSIGN(auto events, history_->Read("u-late", 10));
  EXPECT_TRUE(events.empty());
}

INSTANTIATE_TEST_SUITE_P(Execution, ServerTest, ::testing::Values("inline", "pool"),
                         [](const auto& info) { return info.param; });

TEST(ServerOptionsTest, ExecutionIsValidatedAndAutoResolves) {
  testing::TempDir tmp;
  ASSERT_OK_AND_ASSIGN(auto history, storage::RocksDbHistoryStore::Open(tmp.Sub("h"), {}));
  index::SnapshotManager snapshots{index::CatalogOptions{}};
  ServerOptions o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.metrics_port = -1;
  o.execution = "threads";
  auto bad = EncoreServer::Start(o, &snapshots, history.get(), {});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("threads"), std::string::npos);
  o.execution = "auto";
  ASSERT_OK_AND_ASSIGN(auto server, EncoreServer::Start(o, &snapshots, history.get(), {}));
  const bool small = std::thread::hardware_concurrency() <= kInlineMaxCores;
  EXPECT_EQ(server->execution(), small ? "inline" : "pool");
}

}  // namespace
}  // namespace encore::server
