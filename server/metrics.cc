#include "server/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <exception>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace encore::server {
namespace {

prometheus::Histogram::BucketBoundaries LatencyBuckets() {
  // 50us .. ~3.3s, doubling.
  prometheus::Histogram::BucketBoundaries b;
  for (double v = 50e-6; v < 4.0; v *= 2) b.push_back(v);
  return b;
}

}  // namespace

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  requests_ = &prometheus::BuildCounter()
                   .Name("encore_requests_total")
                   .Help("RPCs finished, by method and gRPC status code.")
                   .Register(*registry_);
  latency_ = &prometheus::BuildHistogram()
                  .Name("encore_request_duration_seconds")
                  .Help("RPC handling time from arrival to completion, by method.")
                  .Register(*registry_);
  catalog_items_ = &prometheus::BuildGauge()
                        .Name("encore_catalog_items")
                        .Help("Items in the serving catalog, by kind.")
                        .Register(*registry_);
  catalog_info_ = &prometheus::BuildGauge()
                       .Name("encore_catalog_info")
                       .Help("Always 1; the version label names the serving catalog.")
                       .Register(*registry_);
  catalog_loaded_ = &prometheus::BuildGauge()
                         .Name("encore_catalog_loaded_timestamp_seconds")
                         .Help("Unix time the serving catalog was loaded.")
                         .Register(*registry_)
                         .Add({});
  history_writes_ = &prometheus::BuildCounter()
                         .Name("encore_history_events_written_total")
                         .Help("Listening events written to the history store.")
                         .Register(*registry_)
                         .Add({});
  auto& ann = prometheus::BuildCounter()
                  .Name("encore_ann_searches_total")
                  .Help(
                      "Index searches by round: first, or widened because too few candidates "
                      "passed the filters.")
                  .Register(*registry_);
  ann_first_ = &ann.Add({{"round", "first"}});
  ann_widened_ = &ann.Add({{"round", "widened"}});
  auto& taste = prometheus::BuildCounter()
                    .Name("encore_taste_queries_total")
                    .Help(
                        "Recommend's taste-vector queries by reach: near one of their entry "
                        "points, or far (searched wider; see --hnsw_far_cos).")
                    .Register(*registry_);
  taste_near_ = &taste.Add({{"reach", "near"}});
  taste_far_ = &taste.Add({{"reach", "far"}});
  auto& profile = prometheus::BuildCounter()
                      .Name("encore_profile_cache_lookups_total")
                      .Help(
                          "Recommend's lookups of the listener's taste profile in the cache "
                          "(--profile_cache_mb): hit, or miss (history read and profile built).")
                      .Register(*registry_);
  profile_hits_ = &profile.Add({{"result", "hit"}});
  profile_misses_ = &profile.Add({{"result", "miss"}});
  auto gauge = [this](const char* name, const char* help) {
    return &prometheus::BuildGauge().Name(name).Help(help).Register(*registry_).Add({});
  };
  profile_entries_ = gauge("encore_profile_cache_entries", "Listeners in the profile cache.");
  profile_bytes_ = gauge("encore_profile_cache_bytes", "Estimated bytes the profile cache holds.");
  profile_max_bytes_ =
      gauge("encore_profile_cache_max_bytes", "Bound of the profile cache, in estimated bytes.");
  // 25us .. ~26ms, doubling: one HNSW search over 1M items takes ~0.4 ms.
  prometheus::Histogram::BucketBoundaries search_buckets;
  for (double v = 25e-6; v < 0.03; v *= 2) search_buckets.push_back(v);
  index_search_ = &prometheus::BuildHistogram()
                       .Name("encore_index_search_seconds")
                       .Help("Wall time of one index (ANN) search inside an RPC.")
                       .Register(*registry_)
                       .Add({}, search_buckets);
  filter_removals_ = &prometheus::BuildCounter()
                          .Name("encore_filter_removals_total")
                          .Help("Candidates removed by each recommendation filter.")
                          .Register(*registry_);
}

Metrics::~Metrics() = default;

void Metrics::RecordFilterRemovals(const std::string& filter, int64_t n) {
  filter_removals_->Add({{"filter", filter}}).Increment(static_cast<double>(n));
}

void Metrics::RecordIndexSearch(double seconds) { index_search_->Observe(seconds); }

void Metrics::RecordAnnSearches(int64_t first, int64_t widened) {
  if (first > 0) ann_first_->Increment(static_cast<double>(first));
  if (widened > 0) ann_widened_->Increment(static_cast<double>(widened));
}

void Metrics::RecordTasteQueries(int64_t near, int64_t far) {
  if (near > 0) taste_near_->Increment(static_cast<double>(near));
  if (far > 0) taste_far_->Increment(static_cast<double>(far));
}

void Metrics::RecordProfileCache(int64_t hits, int64_t misses, int64_t entries, int64_t bytes,
                                 int64_t max_bytes) {
  if (hits > 0) profile_hits_->Increment(static_cast<double>(hits));
  if (misses > 0) profile_misses_->Increment(static_cast<double>(misses));
  profile_entries_->Set(static_cast<double>(entries));
  profile_bytes_->Set(static_cast<double>(bytes));
  profile_max_bytes_->Set(static_cast<double>(max_bytes));
}

absl::Status Metrics::Expose(const std::string& host, int port) {
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(absl::StrCat(host, ":", port));
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", host, ":", port, ": ", e.what()));
  }
  exposer_->RegisterCollectable(registry_);
  return absl::OkStatus();
}

int Metrics::port() const {
  if (!exposer_) return -1;
  auto ports = exposer_->GetListeningPorts();
  return ports.empty() ? -1 : ports.front();
}

void Metrics::RecordRequest(const std::string& method, const std::string& code, double seconds) {
  requests_->Add({{"method", method}, {"code", code}}).Increment();
  static const prometheus::Histogram::BucketBoundaries kBuckets = LatencyBuckets();
  latency_->Add({{"method", method}}, kBuckets).Observe(seconds);
}

void Metrics::RecordHistoryWrites(int64_t n) { history_writes_->Increment(static_cast<double>(n)); }

void Metrics::SetCatalog(const index::Catalog& catalog) {
  for (v1::ItemKind kind : {v1::TRACK, v1::EPISODE, v1::ARTIST, v1::SHOW}) {
    catalog_items_->Add({{"kind", absl::AsciiStrToLower(v1::ItemKind_Name(kind))}})
        .Set(static_cast<double>(catalog.count(kind)));
  }
  absl::MutexLock lock(&mu_);
  if (current_info_ != nullptr) catalog_info_->Remove(current_info_);
  current_info_ = &catalog_info_->Add({{"version", catalog.version()}});
  current_info_->Set(1);
  catalog_loaded_->Set(static_cast<double>(catalog.loaded_at_ms()) / 1000.0);
}

std::string Metrics::Scrape() const {
  prometheus::TextSerializer serializer;
  return serializer.Serialize(registry_->Collect());
}

}  // namespace encore::server
