// encore-gen: writes a synthetic catalog snapshot (and its listeners' history) under --out.
#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "offline/snapshot_builder.h"
#include "offline/synthetic.h"

ABSL_FLAG(std::string, out, "", "Snapshot root: the snapshot goes to OUT/VERSION, events to OUT");
ABSL_FLAG(int64_t, tracks, 50000, "Tracks in the catalog");
ABSL_FLAG(int64_t, artists, 0, "Artists (0 = tracks / 12)");
ABSL_FLAG(int, dim, 40, "Music embedding dimension");
ABSL_FLAG(int, shows, 100, "Podcast shows (0 = no podcast space)");
ABSL_FLAG(int, episodes_per_show, 10, "Episodes per show");
ABSL_FLAG(int64_t, users, 2000, "Synthetic listeners");
ABSL_FLAG(int, events_per_user, 60, "Mean listening events per user");
ABSL_FLAG(uint64_t, seed, 42, "Random seed; same seed and flags give the same data");
ABSL_FLAG(std::string, version, "", "Snapshot version (default: UTC timestamp)");
ABSL_FLAG(std::string, index_type, "auto", "Prebuilt index: auto, flat, hnsw, none");
ABSL_FLAG(int64_t, hnsw_threshold, 200000, "With auto: rows from which HNSW is built");
ABSL_FLAG(int, hnsw_m, 32, "HNSW graph degree");
ABSL_FLAG(int, ef_construction, 64, "HNSW build beam width");
ABSL_FLAG(bool, locality_order, true,
          "Renumber HNSW spaces' rows into the graph's breadth-first order (faster searches)");
ABSL_FLAG(std::string, events_out, "", "Events TSV path (default OUT/events.tsv; '-' = none)");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("encore-gen --out=DIR [--tracks=N] [--seed=N]");
  absl::ParseCommandLine(argc, argv);
  const std::string out = absl::GetFlag(FLAGS_out);
  if (out.empty()) {
    std::fprintf(stderr, "encore-gen: --out is required\n");
    return 64;
  }
  encore::offline::SyntheticOptions o;
  o.tracks = absl::GetFlag(FLAGS_tracks);
  o.artists = absl::GetFlag(FLAGS_artists);
  o.dim = absl::GetFlag(FLAGS_dim);
  o.shows = absl::GetFlag(FLAGS_shows);
  o.episodes_per_show = absl::GetFlag(FLAGS_episodes_per_show);
  o.users = absl::GetFlag(FLAGS_users);
  o.events_per_user = absl::GetFlag(FLAGS_events_per_user);
  o.seed = absl::GetFlag(FLAGS_seed);
  if (o.tracks < 1 || o.dim < 2 || o.dim > 4096 || o.users < 0 || o.shows < 0 ||
      o.episodes_per_show < 0 || o.events_per_user < 1) {
    std::fprintf(stderr,
                 "encore-gen: need --tracks>=1, 2<=--dim<=4096, --events_per_user>=1, and "
                 "non-negative --users/--shows/--episodes_per_show\n");
    return 64;
  }
  const absl::Time start = absl::Now();
  encore::offline::SyntheticData data = encore::offline::GenerateSynthetic(o);
  data.snapshot.version = absl::GetFlag(FLAGS_version).empty() ? encore::offline::TimestampVersion()
                                                               : absl::GetFlag(FLAGS_version);
  encore::offline::BuildOptions build;
  const std::string index_type = absl::GetFlag(FLAGS_index_type);
  build.prebuild_index = index_type != "none";
  build.index.type = build.prebuild_index ? index_type : "auto";
  build.index.hnsw_threshold = absl::GetFlag(FLAGS_hnsw_threshold);
  build.index.hnsw_m = absl::GetFlag(FLAGS_hnsw_m);
  build.index.ef_construction = absl::GetFlag(FLAGS_ef_construction);
  build.locality_order = absl::GetFlag(FLAGS_locality_order);
  auto dir = encore::offline::PublishSnapshot(out, data.snapshot, build);
  if (!dir.ok()) {
    std::fprintf(stderr, "encore-gen: %s\n", dir.status().ToString().c_str());
    return 1;
  }
  std::string events = absl::GetFlag(FLAGS_events_out);
  if (events.empty()) events = absl::StrCat(out, "/events.tsv");
  int64_t n_events = 0;
  if (events != "-") {
    for (const auto& u : data.users) n_events += static_cast<int64_t>(u.events.size());
    if (absl::Status s = encore::offline::WriteEventsTsv(events, data.users); !s.ok()) {
      std::fprintf(stderr, "encore-gen: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  std::printf("snapshot=%s items=%zu users=%zu events=%lld events_file=%s seconds=%.1f\n",
              dir->c_str(), data.snapshot.items.size(), data.users.size(),
              static_cast<long long>(n_events), events.c_str(),
              absl::ToDoubleSeconds(absl::Now() - start));
  return 0;
}
