// encore-cli: one call to an encore-server, JSON on stdout.
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "encore/v1/recommender.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"

ABSL_FLAG(std::string, target, "localhost:50051", "Server address host:port");
ABSL_FLAG(int, timeout_ms, 5000, "Per-call deadline");
ABSL_FLAG(double, wait_seconds, 0,
          "health: poll (every 20 ms, one process) until SERVING or this many seconds pass");
ABSL_FLAG(std::string, user, "", "User id (recommend, record)");
ABSL_FLAG(int, count, 0, "Results wanted (0 = server default)");
ABSL_FLAG(std::string, kinds, "", "Comma-separated kinds: track, episode, artist, show");
ABSL_FLAG(std::string, seeds, "", "Comma-separated seed item ids (recommend)");
ABSL_FLAG(std::string, exclude, "", "Comma-separated item ids never to return (recommend)");
ABSL_FLAG(bool, explain, false, "Ask for reasons");
ABSL_FLAG(std::string, item, "", "Item id (similar; record with --type)");
ABSL_FLAG(std::string, artist, "", "Artist id (artists)");
ABSL_FLAG(std::string, type, "play", "Event type for record --item: play, skip, like, dislike");
ABSL_FLAG(int64_t, timestamp_ms, 0, "Event time for record --item (0 = now)");
ABSL_FLAG(int64_t, played_ms, 0, "Played duration for record --item");
ABSL_FLAG(int64_t, now_ms, 0,
          "recommend/similar: the request's time for seasonal rules (0 = server's)");
ABSL_FLAG(std::string, include_tags, "", "recommend: comma-separated tags to stay within");
ABSL_FLAG(std::string, exclude_tags, "", "recommend: comma-separated tags to avoid");
ABSL_FLAG(double, min_tempo, 0, "recommend: lowest BPM (0 = open)");
ABSL_FLAG(double, max_tempo, 0, "recommend: highest BPM (0 = open)");
ABSL_FLAG(std::string, filters, "",
          "recommend/similar: switches like coherence=off,seasonal=on,sonic=off");
ABSL_FLAG(std::string, events, "",
          "record: comma-separated item:type[:timestamp_ms[:played_ms]] events");

namespace {

using encore::v1::ItemKind;

constexpr char kUsage[] =
    "encore-cli [--target=host:port] COMMAND [flags]\n"
    "  recommend --user=U [--count=N] [--kinds=track,episode] [--seeds=a,b] [--explain]\n"
    "            [--include_tags=a,b] [--exclude_tags=c] [--min_tempo=X --max_tempo=Y]\n"
    "            [--now_ms=T] [--filters=coherence=off,seasonal=on,sonic=off]\n"
    "  similar   --item=I [--count=N] [--explain]\n"
    "  artists   --artist=A [--count=N]\n"
    "  record    --user=U (--item=I [--type=play] [--timestamp_ms=T] | --events=i:t[:ts],...)\n"
    "  info\n"
    "  health [--wait_seconds=S]\n";

int UsageError(const std::string& msg) {
  std::fprintf(stderr, "encore-cli: %s\n\nusage: %s", msg.c_str(), kUsage);
  return 64;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::vector<std::string> SplitList(const std::string& s) {
  return absl::StrSplit(s, ',', absl::SkipWhitespace());
}

void PrintJson(const google::protobuf::Message& m) {
  std::string json;
  google::protobuf::util::JsonPrintOptions opts;
  opts.add_whitespace = true;
  opts.preserve_proto_field_names = true;
  opts.always_print_primitive_fields = true;
  (void)google::protobuf::util::MessageToJsonString(m, &json, opts);
  std::cout << json;
  std::cout.flush();
}

int Report(const grpc::Status& status, const google::protobuf::Message& response) {
  if (status.ok()) {
    PrintJson(response);
    return 0;
  }
  const std::string code =
      absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code()));
  std::string msg = status.error_message();
  std::string escaped;
  for (char c : msg) {
    if (c == '"' || c == '\\') escaped.push_back('\\');
    if (static_cast<unsigned char>(c) >= 0x20) escaped.push_back(c);
  }
  std::cerr << "{\"error\": {\"code\": \"" << code << "\", \"message\": \"" << escaped << "\"}}\n";
  return 2;
}

bool ParseKind(const std::string& name, ItemKind* kind) {
  return encore::v1::ItemKind_Parse(absl::AsciiStrToUpper(name), kind) &&
         *kind != encore::v1::ITEM_KIND_UNSPECIFIED;
}

// Parses "coherence=off,seasonal=on" into FilterSwitches.
bool ParseFilters(const std::string& spec, encore::v1::FilterSwitches* out, std::string* error) {
  for (const auto& part : SplitList(spec)) {
    std::vector<std::string> kv = absl::StrSplit(part, '=');
    if (kv.size() != 2 || (kv[1] != "on" && kv[1] != "off")) {
      *error = absl::StrCat("filter switch '", part, "' is not NAME=on|off");
      return false;
    }
    const bool on = kv[1] == "on";
    if (kv[0] == "coherence") {
      out->set_coherence(on);
    } else if (kv[0] == "seasonal") {
      out->set_seasonal(on);
    } else if (kv[0] == "sonic") {
      out->set_sonic(on);
    } else {
      *error = absl::StrCat("unknown filter '", kv[0], "' (coherence, seasonal, sonic)");
      return false;
    }
  }
  return true;
}

bool ParseEvent(absl::string_view spec, encore::v1::ListenEvent* e, std::string* error) {
  std::vector<std::string> parts = absl::StrSplit(spec, ':');
  if (parts.size() < 2 || parts.size() > 4) {
    *error = absl::StrCat("event '", spec, "' is not item:type[:timestamp_ms[:played_ms]]");
    return false;
  }
  encore::v1::EventType type;
  if (!encore::v1::EventType_Parse(absl::AsciiStrToUpper(parts[1]), &type) ||
      type == encore::v1::EVENT_TYPE_UNSPECIFIED) {
    *error = absl::StrCat("unknown event type '", parts[1], "'");
    return false;
  }
  int64_t ts = NowMs(), played = 0;
  if (parts.size() >= 3 && !absl::SimpleAtoi(parts[2], &ts)) {
    *error = absl::StrCat("bad timestamp in '", spec, "'");
    return false;
  }
  if (parts.size() == 4 && !absl::SimpleAtoi(parts[3], &played)) {
    *error = absl::StrCat("bad played_ms in '", spec, "'");
    return false;
  }
  e->set_item_id(parts[0]);
  e->set_type(type);
  e->set_timestamp_ms(ts);
  e->set_played_ms(played);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() != 2) return UsageError("expected exactly one COMMAND");
  const std::string command = args[1];

  auto channel =
      grpc::CreateChannel(absl::GetFlag(FLAGS_target), grpc::InsecureChannelCredentials());
  auto stub = encore::v1::Recommender::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   std::chrono::milliseconds(absl::GetFlag(FLAGS_timeout_ms)));
  const int count = absl::GetFlag(FLAGS_count);

  if (command == "recommend") {
    encore::v1::RecommendRequest req;
    req.set_user_id(absl::GetFlag(FLAGS_user));
    req.set_count(count);
    req.set_explain(absl::GetFlag(FLAGS_explain));
    for (const auto& k : SplitList(absl::GetFlag(FLAGS_kinds))) {
      ItemKind kind;
      if (!ParseKind(k, &kind)) return UsageError(absl::StrCat("unknown kind '", k, "'"));
      req.add_kinds(kind);
    }
    for (const auto& s : SplitList(absl::GetFlag(FLAGS_seeds))) req.add_seed_item_ids(s);
    for (const auto& s : SplitList(absl::GetFlag(FLAGS_exclude))) req.add_exclude_item_ids(s);
    for (const auto& s : SplitList(absl::GetFlag(FLAGS_include_tags))) req.add_include_tags(s);
    for (const auto& s : SplitList(absl::GetFlag(FLAGS_exclude_tags))) req.add_exclude_tags(s);
    req.set_min_tempo(static_cast<float>(absl::GetFlag(FLAGS_min_tempo)));
    req.set_max_tempo(static_cast<float>(absl::GetFlag(FLAGS_max_tempo)));
    req.mutable_context()->set_now_ms(absl::GetFlag(FLAGS_now_ms));
    std::string error;
    if (!ParseFilters(absl::GetFlag(FLAGS_filters), req.mutable_filters(), &error)) {
      return UsageError(error);
    }
    encore::v1::RecommendResponse resp;
    return Report(stub->Recommend(&ctx, req, &resp), resp);
  }
  if (command == "similar") {
    encore::v1::SimilarItemsRequest req;
    req.set_item_id(absl::GetFlag(FLAGS_item));
    req.set_count(count);
    req.set_explain(absl::GetFlag(FLAGS_explain));
    req.mutable_context()->set_now_ms(absl::GetFlag(FLAGS_now_ms));
    std::string error;
    if (!ParseFilters(absl::GetFlag(FLAGS_filters), req.mutable_filters(), &error)) {
      return UsageError(error);
    }
    encore::v1::SimilarItemsResponse resp;
    return Report(stub->SimilarItems(&ctx, req, &resp), resp);
  }
  if (command == "artists") {
    encore::v1::SimilarArtistsRequest req;
    req.set_artist_id(absl::GetFlag(FLAGS_artist));
    req.set_count(count);
    encore::v1::SimilarArtistsResponse resp;
    return Report(stub->SimilarArtists(&ctx, req, &resp), resp);
  }
  if (command == "record") {
    encore::v1::RecordEventsRequest req;
    req.set_user_id(absl::GetFlag(FLAGS_user));
    std::string error;
    for (const auto& spec : SplitList(absl::GetFlag(FLAGS_events))) {
      if (!ParseEvent(spec, req.add_events(), &error)) return UsageError(error);
    }
    if (!absl::GetFlag(FLAGS_item).empty()) {
      const int64_t ts = absl::GetFlag(FLAGS_timestamp_ms);
      const std::string spec =
          absl::StrCat(absl::GetFlag(FLAGS_item), ":", absl::GetFlag(FLAGS_type), ":",
                       ts == 0 ? NowMs() : ts, ":", absl::GetFlag(FLAGS_played_ms));
      if (!ParseEvent(spec, req.add_events(), &error)) return UsageError(error);
    }
    encore::v1::RecordEventsResponse resp;
    return Report(stub->RecordEvents(&ctx, req, &resp), resp);
  }
  if (command == "info") {
    auto admin = encore::v1::CatalogAdmin::NewStub(channel);
    encore::v1::GetCatalogInfoResponse resp;
    return Report(admin->GetCatalogInfo(&ctx, encore::v1::GetCatalogInfoRequest(), &resp), resp);
  }
  if (command == "health") {
    auto health = grpc::health::v1::Health::NewStub(channel);
    grpc::health::v1::HealthCheckResponse resp;
    const auto give_up = std::chrono::steady_clock::now() +
                         std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                             std::chrono::duration<double>(absl::GetFlag(FLAGS_wait_seconds)));
    // Waiting for readiness from one process: a shell loop of CLI calls costs a process start
    // (tens of ms of CPU) per probe and slows the very start-up it is waiting for.
    while (true) {
      grpc::ClientContext call;
      call.set_deadline(std::chrono::system_clock::now() +
                        std::chrono::milliseconds(absl::GetFlag(FLAGS_timeout_ms)));
      grpc::Status s = health->Check(&call, grpc::health::v1::HealthCheckRequest(), &resp);
      const bool serving =
          s.ok() && resp.status() == grpc::health::v1::HealthCheckResponse::SERVING;
      if (serving || std::chrono::steady_clock::now() >= give_up) {
        const int rc = Report(s, resp);
        // With --wait_seconds, not reaching SERVING is a failure (exit 3).
        if (rc == 0 && !serving && absl::GetFlag(FLAGS_wait_seconds) > 0) return 3;
        return rc;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  return UsageError(absl::StrCat("unknown command '", command, "'"));
}
