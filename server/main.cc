// encore-server: serves recommendations from a catalog snapshot and a RocksDB history store.
#include <dlfcn.h>
#include <signal.h>

#include <cstdio>
#include <ctime>
#include <tuple>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/huge_pages.h"
#include "index/faiss_index.h"
#include "index/snapshot_manager.h"
#include "server/server.h"
#include "storage/event_import.h"
#include "storage/rocksdb_history_store.h"

ABSL_FLAG(std::string, snapshot_dir, "",
          "Snapshot directory, or a root whose newest subdirectory with a manifest is served");
ABSL_FLAG(std::string, history_dir, "", "RocksDB directory of listening history (created)");
ABSL_FLAG(std::string, host, "0.0.0.0", "gRPC listen host");
ABSL_FLAG(int, port, 50051, "gRPC port (0 = pick a free one and print it)");
ABSL_FLAG(std::string, metrics_host, "0.0.0.0", "Prometheus listen host");
ABSL_FLAG(int, metrics_port, 9464, "Prometheus /metrics port (0 = pick one, -1 = off)");
ABSL_FLAG(std::string, execution, "auto",
          "Where RPC work runs: pool (workers behind a bounded queue), inline (on gRPC's callback "
          "thread, no hand-off) or auto (inline on machines with at most 2 cores, else pool)");
ABSL_FLAG(int, worker_threads, 0, "With --execution=pool: worker threads (0 = one per core)");
ABSL_FLAG(int, max_queue, 128,
          "With --execution=pool: requests waiting for a worker before RESOURCE_EXHAUSTED");
ABSL_FLAG(std::string, index_type, "auto", "Index when the snapshot has none: auto, flat, hnsw");
ABSL_FLAG(int64_t, hnsw_threshold, 200000, "With --index_type=auto: rows from which HNSW is used");
ABSL_FLAG(int, hnsw_m, 32, "HNSW graph degree when building");
ABSL_FLAG(int, ef_construction, 64, "HNSW build beam width");
ABSL_FLAG(int, ef_search, 96, "HNSW search beam width");
ABSL_FLAG(int, hnsw_entry_points, 4,
          "HNSW searches start from up to this many of the listener's strongest items and seeds "
          "(SimilarItems: the item itself) instead of the graph's global entry point; 0 = always "
          "descend from the global entry point");
ABSL_FLAG(double, hnsw_far_cos, 0.85,
          "A Recommend taste vector whose cosine with every one of its entry points is below "
          "this is far (a listener spread over several genres) and gets the wider search: "
          "--hnsw_far_ef_search and the level-1 beam --hnsw_upper_ef. -1 = no search is far, "
          "1 = every search is");
ABSL_FLAG(int, hnsw_far_ef_search, 224,
          "HNSW beam width of Recommend's far searches (see --hnsw_far_cos); never below "
          "--ef_search");
ABSL_FLAG(int, hnsw_upper_ef, 64,
          "Recommend's far searches (see --hnsw_far_cos) pick their start among the entry points "
          "and the results of a level-1 search of this beam width over the graph's coarse nodes, "
          "where the best matches of listeners spread over several genres are found; 0 = off, at "
          "most 1024");
ABSL_FLAG(
    std::string, hnsw_search, "auto",
    "HNSW search implementation over the same graph: encore (prefetching, reusable visited "
    "table), encore_fp16 (the same over a half-precision copy of the vectors: 15-20% more "
    "Recommend throughput on the 1M benchmark at the same recall, exact final scores, 2 bytes per "
    "dimension per row more memory; needs AVX2+FMA+F16C), auto (encore_fp16 where the CPU has "
    "those and the vectors fit half floats, else encore) or faiss");
ABSL_FLAG(bool, huge_pages, true,
          "Back the HNSW graph, its vectors and the catalog's item table with transparent huge "
          "pages where the kernel allows: fewer TLB misses in the walk and in reading its hits. "
          "With jemalloc, allocations of 8 MiB and up are advised (MADV_HUGEPAGE) before their "
          "first touch, which also cuts the page faults of loading; whatever is left is collapsed "
          "(MADV_COLLAPSE) in the background after load");
ABSL_FLAG(int, max_history_per_user, 1000, "Newest events kept per user");
ABSL_FLAG(int, history_limit, 500, "Newest events read per Recommend");
ABSL_FLAG(int, profile_cache_mb, 16,
          "Memory bound (MiB) of the cache of listeners' taste profiles: a returning listener's "
          "Recommend skips the history read and the profile build. Entries are dropped on "
          "RecordEvents and ignored after a catalog swap. 0 = off");
ABSL_FLAG(bool, history_sync, false, "fsync the history WAL on every RecordEvents");
ABSL_FLAG(int, max_per_artist, 2, "Most items of one artist in a Recommend response");
ABSL_FLAG(double, half_life_days, 30.0, "Recency half-life of the taste vector");
ABSL_FLAG(bool, coherence, true, "Knowledge-graph coherence filter");
ABSL_FLAG(int, coherence_top_families, 3, "Coherence: listener families a candidate may lead with");
ABSL_FLAG(double, coherence_min_overlap, 0.4, "Coherence: family overlap that also admits");
ABSL_FLAG(bool, seasonal, true, "Seasonal filter (e.g. no Christmas music in July)");
ABSL_FLAG(bool, sonic, true, "Sonic filter for seeded requests (tempo/energy band)");
ABSL_FLAG(double, tempo_band, 20.0, "Sonic: BPM around the seeds' mean tempo");
ABSL_FLAG(double, energy_band, 0.3, "Sonic: energy around the seeds' mean energy");
ABSL_FLAG(double, similarity_weight, 1.0, "Ranking: similarity weight");
ABSL_FLAG(double, tag_weight, 0.0, "Ranking: tag-affinity weight");
ABSL_FLAG(double, popularity_weight, 0.0, "Ranking: popularity-prior weight");
ABSL_FLAG(double, diversity, 0.0, "Ranking: MMR diversity weight (0 = off)");
ABSL_FLAG(std::string, taste, "auto", "Taste vector: auto (ALS fold-in when available), average");
ABSL_FLAG(std::string, import_events, "",
          "TSV of events (user, item, type, timestamp_ms, played_ms) imported at start-up");
ABSL_FLAG(int, snapshot_poll_seconds, 30,
          "How often to look for a newer snapshot under --snapshot_dir (0 = never)");

namespace {

void Log(const std::string& msg) {
  char when[32];
  std::time_t now = std::time(nullptr);
  std::strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  std::fprintf(stderr, "%s encore-server: %s\n", when, msg.c_str());
}

int Fail(const std::string& msg) {
  Log(absl::StrCat("fatal: ", msg));
  return 1;
}

// The allocator serving this process's malloc, as linked (ENCORE_MALLOC, from CMake's
// ENCORE_JEMALLOC) and as found at run time: jemalloc exports mallctl, glibc does not.
std::string Allocator() {
  const bool jemalloc = dlsym(RTLD_DEFAULT, "mallctl") != nullptr;
  const std::string linked = ENCORE_MALLOC;
  if (linked == "jemalloc" && !jemalloc) return "glibc(jemalloc-not-loaded)";
  return jemalloc ? "jemalloc" : "glibc";
}

// "; hnsw walk half" (or float) for each space searched over an HNSW graph, for the start-up log.
std::string GraphWalk(const encore::index::Catalog& catalog) {
  std::string out;
  for (const auto& s : catalog.spaces()) {
    if (s->index == nullptr || s->index->graph_walk().empty()) continue;
    absl::StrAppend(&out, "; ", s->name, " hnsw walk ", s->index->graph_walk());
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "encore-server --snapshot_dir=DIR --history_dir=DIR [--port=50051] [--metrics_port=9464]");
  absl::ParseCommandLine(argc, argv);
  // Debian's Abseil keeps absl::Mutex deadlock detection on; gRPC locks absl::Mutexes on every
  // call, and the lock-graph bookkeeping showed in server profiles. It is a debugging aid.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  using encore::index::SnapshotManager;

  // Signals are taken synchronously by the main loop; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const std::string snapshot_root = absl::GetFlag(FLAGS_snapshot_dir);
  const std::string history_dir = absl::GetFlag(FLAGS_history_dir);
  if (snapshot_root.empty()) return Fail("--snapshot_dir is required");
  if (history_dir.empty()) return Fail("--history_dir is required");
  const int entry_points = absl::GetFlag(FLAGS_hnsw_entry_points);
  const int upper_ef = absl::GetFlag(FLAGS_hnsw_upper_ef);
  const int far_ef_search = absl::GetFlag(FLAGS_hnsw_far_ef_search);
  for (const auto& [flag, value, most] :
       {std::make_tuple("hnsw_entry_points", entry_points, 64),
        std::make_tuple("hnsw_upper_ef", upper_ef, 1024),
        std::make_tuple("hnsw_far_ef_search", far_ef_search, 4096),
        std::make_tuple("profile_cache_mb", absl::GetFlag(FLAGS_profile_cache_mb), 65536)}) {
    if (value < 0 || value > most) {
      return Fail(absl::InvalidArgumentError(
                      absl::StrCat("--", flag, " must be in [0, ", most, "], got ", value))
                      .ToString());
    }
  }

  const double far_cos = absl::GetFlag(FLAGS_hnsw_far_cos);
  if (!(far_cos >= -1.0 && far_cos <= 1.0)) {
    return Fail(
        absl::InvalidArgumentError(absl::StrCat("--hnsw_far_cos must be in [-1, 1], got ", far_cos))
            .ToString());
  }

  if (absl::Status s = encore::index::CheckHnswSearch(absl::GetFlag(FLAGS_hnsw_search)); !s.ok()) {
    return Fail(
        absl::InvalidArgumentError(absl::StrCat("--hnsw_search: ", s.message())).ToString());
  }

  if (absl::GetFlag(FLAGS_huge_pages)) {
    // Before anything large is allocated: the snapshot's arrays then fault in 2 MiB at a time.
    const size_t from = encore::common::HugePagesForLargeAllocations();
    Log(from > 0 ? absl::StrCat("huge pages from first touch for allocations of ", from >> 20,
                                " MiB and up")
                 : std::string("huge pages by collapse after load only (the allocator cannot "
                               "advise large allocations)"));
  }

  encore::storage::RocksDbHistoryOptions history_options;
  history_options.max_events_per_user = absl::GetFlag(FLAGS_max_history_per_user);
  history_options.sync = absl::GetFlag(FLAGS_history_sync);
  auto history = encore::storage::RocksDbHistoryStore::Open(history_dir, history_options);
  if (!history.ok()) return Fail(history.status().ToString());
  if (const std::string path = absl::GetFlag(FLAGS_import_events); !path.empty()) {
    auto n = encore::storage::ImportEventsTsv(path, history->get());
    if (!n.ok()) return Fail(n.status().ToString());
    Log(absl::StrCat("imported ", *n, " events from ", path));
  }

  encore::index::CatalogOptions catalog_options;
  catalog_options.index.type = absl::GetFlag(FLAGS_index_type);
  catalog_options.index.hnsw_threshold = absl::GetFlag(FLAGS_hnsw_threshold);
  catalog_options.index.hnsw_m = absl::GetFlag(FLAGS_hnsw_m);
  catalog_options.index.ef_construction = absl::GetFlag(FLAGS_ef_construction);
  catalog_options.index.ef_search = absl::GetFlag(FLAGS_ef_search);
  catalog_options.index.hnsw_search = absl::GetFlag(FLAGS_hnsw_search);
  catalog_options.index.huge_pages = absl::GetFlag(FLAGS_huge_pages);
  SnapshotManager snapshots(catalog_options);

  encore::server::ServerOptions server_options;
  server_options.host = absl::GetFlag(FLAGS_host);
  server_options.port = absl::GetFlag(FLAGS_port);
  server_options.metrics_host = absl::GetFlag(FLAGS_metrics_host);
  server_options.metrics_port = absl::GetFlag(FLAGS_metrics_port);
  server_options.execution = absl::GetFlag(FLAGS_execution);
  server_options.worker_threads = absl::GetFlag(FLAGS_worker_threads);
  server_options.max_queue = absl::GetFlag(FLAGS_max_queue);
  encore::recommend::PipelineOptions pipeline_options;
  pipeline_options.history_limit = absl::GetFlag(FLAGS_history_limit);
  pipeline_options.profile_cache_bytes = int64_t{absl::GetFlag(FLAGS_profile_cache_mb)} << 20;
  pipeline_options.entry_points = entry_points;
  pipeline_options.upper_ef = upper_ef;
  pipeline_options.far_cos = static_cast<float>(far_cos);
  pipeline_options.far_ef_search = far_ef_search;
  pipeline_options.ef_search = absl::GetFlag(FLAGS_ef_search);
  pipeline_options.max_per_artist = absl::GetFlag(FLAGS_max_per_artist);
  pipeline_options.profile.half_life_days = absl::GetFlag(FLAGS_half_life_days);
  pipeline_options.profile.taste = absl::GetFlag(FLAGS_taste);
  pipeline_options.filters.coherence = absl::GetFlag(FLAGS_coherence);
  pipeline_options.filters.listener_top_families = absl::GetFlag(FLAGS_coherence_top_families);
  pipeline_options.filters.min_overlap =
      static_cast<float>(absl::GetFlag(FLAGS_coherence_min_overlap));
  pipeline_options.filters.seasonal = absl::GetFlag(FLAGS_seasonal);
  pipeline_options.filters.sonic = absl::GetFlag(FLAGS_sonic);
  pipeline_options.filters.tempo_band = static_cast<float>(absl::GetFlag(FLAGS_tempo_band));
  pipeline_options.filters.energy_band = static_cast<float>(absl::GetFlag(FLAGS_energy_band));
  pipeline_options.ranking.similarity = static_cast<float>(absl::GetFlag(FLAGS_similarity_weight));
  pipeline_options.ranking.tag_affinity = static_cast<float>(absl::GetFlag(FLAGS_tag_weight));
  pipeline_options.ranking.popularity = static_cast<float>(absl::GetFlag(FLAGS_popularity_weight));
  pipeline_options.ranking.diversity = static_cast<float>(absl::GetFlag(FLAGS_diversity));

  auto server = encore::server::EncoreServer::Start(server_options, &snapshots, history->get(),
                                                    pipeline_options);
  if (!server.ok()) return Fail(server.status().ToString());
  std::printf("encore-server listening grpc_port=%d metrics_port=%d execution=%s malloc=%s\n",
              (*server)->port(), (*server)->metrics_port(), (*server)->execution().c_str(),
              Allocator().c_str());
  std::fflush(stdout);

  // Health stays NOT_SERVING until this load completes.
  const absl::Time load_start = absl::Now();
  auto first = encore::index::FindNewestSnapshot(snapshot_root);
  if (!first.ok()) return Fail(first.status().ToString());
  if (absl::Status s = snapshots.LoadAndSwap(*first); !s.ok()) return Fail(s.ToString());
  auto catalog = snapshots.Current();
  Log(absl::StrCat("serving catalog ", catalog->version(), " from ", *first, " (", catalog->size(),
                   " items) loaded in ", absl::FormatDuration(absl::Now() - load_start),
                   "; distance kernel ", encore::index::FaissIndex::DistanceKernel(),
                   GraphWalk(*catalog)));

  const int poll = absl::GetFlag(FLAGS_snapshot_poll_seconds);
  absl::Time next_poll = absl::Now() + absl::Seconds(poll);
  while (true) {
    timespec tick{1, 0};
    int sig = sigtimedwait(&signals, nullptr, &tick);
    if (sig == SIGINT || sig == SIGTERM) {
      Log(absl::StrCat("signal ", sig, ": shutting down"));
      break;
    }
    if (poll > 0 && absl::Now() >= next_poll) {
      next_poll = absl::Now() + absl::Seconds(poll);
      auto swapped = snapshots.Refresh(snapshot_root);
      if (!swapped.ok()) {
        Log(absl::StrCat("snapshot refresh failed, still serving ", snapshots.Current()->version(),
                         ": ", swapped.status().ToString()));
      } else if (*swapped) {
        Log(absl::StrCat("now serving catalog ", snapshots.Current()->version()));
      }
    }
  }
  (*server)->Shutdown(absl::Seconds(5));
  Log("stopped");
  return 0;
}
