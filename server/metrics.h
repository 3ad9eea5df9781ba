// Prometheus metrics of the server (prometheus-cpp), exposed over HTTP.
#ifndef ENCORE_SERVER_METRICS_H_
#define ENCORE_SERVER_METRICS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "index/catalog.h"

namespace prometheus {
class Counter;
class Exposer;
class Gauge;
class Histogram;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace encore::server {

// Names: encore_requests_total{method,code}, encore_request_duration_seconds{method},
// encore_catalog_items{kind}, encore_catalog_info{version},
// encore_catalog_loaded_timestamp_seconds, encore_history_events_written_total,
// encore_requests_rejected_total, encore_profile_cache_lookups_total{result},
// encore_profile_cache_entries, encore_profile_cache_bytes, encore_profile_cache_max_bytes. Thread
// safety: all methods are thread-safe.
class Metrics {
 public:
  Metrics();
  ~Metrics();

  // Serves /metrics on host:port (port 0 = pick one). Call at most once.
  absl::Status Expose(const std::string& host, int port);
  // The bound metrics port, or -1 when not exposed.
  int port() const;

  // Records one finished RPC.
  void RecordRequest(const std::string& method, const std::string& code, double seconds);
  // Records `n` history events written.
  void RecordHistoryWrites(int64_t n);
  // Adds candidates removed by a filter ("coherence", "seasonal", ...).
  void RecordFilterRemovals(const std::string& filter, int64_t n);
  // Adds index searches: first ones and widened re-searches.
  void RecordAnnSearches(int64_t first, int64_t widened);
  // Adds Recommend's taste-vector queries: near and far from their entry points.
  void RecordTasteQueries(int64_t near, int64_t far);
  // Adds Recommend's taste-profile cache lookups and publishes the cache's size.
  void RecordProfileCache(int64_t hits, int64_t misses, int64_t entries, int64_t bytes,
                          int64_t max_bytes);
  // Records the wall time of one index search.
  void RecordIndexSearch(double seconds);
  // Publishes the serving catalog's version and item counts.
  void SetCatalog(const index::Catalog& catalog);

  // Text exposition of all metrics (as /metrics serves it); for tests and debugging.
  std::string Scrape() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Histogram>* latency_;
  prometheus::Family<prometheus::Gauge>* catalog_items_;
  prometheus::Family<prometheus::Gauge>* catalog_info_;
  prometheus::Gauge* catalog_loaded_;
  prometheus::Counter* history_writes_;
  prometheus::Counter* ann_first_;
  prometheus::Counter* ann_widened_;
  prometheus::Counter* taste_near_;
  prometheus::Counter* taste_far_;
  prometheus::Histogram* index_search_;
  prometheus::Counter* profile_hits_;
  prometheus::Counter* profile_misses_;
  prometheus::Gauge* profile_entries_;
  prometheus::Gauge* profile_bytes_;
  prometheus::Gauge* profile_max_bytes_;
  prometheus::Family<prometheus::Counter>* filter_removals_;
  absl::Mutex mu_;
  prometheus::Gauge* current_info_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace encore::server

#endif  // ENCORE_SERVER_METRICS_H_
