// encore-build: assembles a catalog snapshot from item metadata + vectors and publishes it
// atomically under --out (ROOT/VERSION). Optionally writes the listening history as events TSV.
#include <google/protobuf/util/json_util.h>

#include <cstdio>
#include <fstream>

#include "absl/container/flat_hash_map.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "index/catalog.h"
#include "offline/importers.h"
#include "offline/snapshot_builder.h"
#include "storage/event_import.h"

ABSL_FLAG(std::string, out, "", "Snapshot root; the snapshot is published as OUT/VERSION");
ABSL_FLAG(std::string, version, "", "Snapshot version (default: UTC timestamp)");
ABSL_FLAG(std::string, lastfm_dir, "", "Item metadata (and history) from HetRec Last.fm");
ABSL_FLAG(std::string, items, "", "Or: item metadata TSV (header with id, kind, artist_id, ...)");
ABSL_FLAG(std::string, interactions, "", "History for --events_out from an interactions file");
ABSL_FLAG(std::string, vectors, "", "float32 .npy, one row per id in --ids");
ABSL_FLAG(std::string, ids, "", "Item ids, one per line, matching --vectors rows");
ABSL_FLAG(std::string, model, "", "model.json from encore-train (enables the ALS fold-in)");
ABSL_FLAG(std::string, index_type, "auto", "Prebuilt index: auto, flat, hnsw, none");
ABSL_FLAG(int64_t, hnsw_threshold, 200000, "With auto: rows from which HNSW is built");
ABSL_FLAG(int, hnsw_m, 32, "HNSW graph degree");
ABSL_FLAG(int, ef_construction, 64, "HNSW build beam width");
ABSL_FLAG(bool, locality_order, true,
          "Renumber HNSW spaces' rows into the graph's breadth-first order (faster searches)");
ABSL_FLAG(std::string, taxonomy, "",
          "Curated taxonomy rules merged over the built-in ones (see index/knowledge_graph.h)");
ABSL_FLAG(std::string, events_out, "", "Write the history as events TSV for --import_events");
ABSL_FLAG(int64_t, events_timestamp_ms, 1304208000000,
          "Timestamp for events whose source has none (default 2011-05-01)");

namespace {

int Fail(const std::string& msg) {
  std::fprintf(stderr, "encore-build: %s\n", msg.c_str());
  return 1;
}

absl::Status WriteEvents(const std::string& path, const encore::offline::InteractionData& data,
                         int64_t default_ts) {
  std::string text = "# user_id\titem_id\ttype\ttimestamp_ms\tplayed_ms\tcount\n";
  for (const auto& e : data.entries) {
    absl::StrAppend(&text, data.users.ids()[e.user], "\t", data.items.ids()[e.item], "\tplay\t",
                    e.timestamp_ms > 0 ? e.timestamp_ms : default_ts, "\t0\t",
                    std::max<int64_t>(1, static_cast<int64_t>(std::llround(e.weight))), "\n");
  }
  return encore::common::WriteFile(path, text);
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "encore-build --out=ROOT (--lastfm_dir=DIR | --items=TSV) --vectors=NPY --ids=TXT "
      "[--model=model.json]");
  absl::ParseCommandLine(argc, argv);
  const std::string out = absl::GetFlag(FLAGS_out);
  if (out.empty()) return Fail("--out is required");
  if (absl::GetFlag(FLAGS_vectors).empty() || absl::GetFlag(FLAGS_ids).empty()) {
    return Fail("--vectors and --ids are required");
  }
  std::vector<encore::v1::ItemRecord> items;
  encore::offline::InteractionData history;
  if (!absl::GetFlag(FLAGS_lastfm_dir).empty()) {
    auto lastfm = encore::offline::ImportLastfm(absl::GetFlag(FLAGS_lastfm_dir));
    if (!lastfm.ok()) return Fail(lastfm.status().ToString());
    items = std::move(lastfm->artists);
    history = std::move(lastfm->plays);
  } else if (!absl::GetFlag(FLAGS_items).empty()) {
    auto read = encore::offline::ReadItemsTsv(absl::GetFlag(FLAGS_items));
    if (!read.ok()) return Fail(read.status().ToString());
    items = *std::move(read);
  } else {
    return Fail("give item metadata with --lastfm_dir or --items");
  }
  if (!absl::GetFlag(FLAGS_interactions).empty()) {
    auto read = encore::offline::ReadInteractions(absl::GetFlag(FLAGS_interactions));
    if (!read.ok()) return Fail(read.status().ToString());
    history = *std::move(read);
  }
  auto vecs =
      encore::offline::ReadIdVectors(absl::GetFlag(FLAGS_vectors), absl::GetFlag(FLAGS_ids));
  if (!vecs.ok()) return Fail(vecs.status().ToString());
  absl::flat_hash_map<std::string, int64_t> row_of;
  for (size_t i = 0; i < vecs->ids.size(); ++i) {
    if (!row_of.emplace(vecs->ids[i], static_cast<int64_t>(i)).second) {
      return Fail(absl::StrCat(absl::GetFlag(FLAGS_ids), ": duplicate id '", vecs->ids[i], "'"));
    }
  }
  absl::flat_hash_map<std::string, bool> known;
  for (const auto& item : items) known[item.id()] = true;
  for (const auto& id : vecs->ids) {
    if (!known.contains(id)) {
      return Fail(absl::StrCat("vector id '", id, "' has no item metadata"));
    }
  }

  encore::offline::SnapshotContents snap;
  snap.version = absl::GetFlag(FLAGS_version).empty() ? encore::offline::TimestampVersion()
                                                      : absl::GetFlag(FLAGS_version);
  snap.producer = "encore-build";
  int64_t dropped = 0;
  for (auto& item : items) {
    auto it = row_of.find(item.id());
    if (it == row_of.end()) {
      ++dropped;  // no vector: cannot be served
      continue;
    }
    const std::string space = encore::index::SpaceOfKind(item.kind());
    encore::index::Matrix& m = snap.spaces[space];
    if (m.rows > 0 && m.dim != vecs->vectors.dim) return Fail("mixed vector dimensions");
    m.dim = vecs->vectors.dim;
    auto row = vecs->vectors.row_span(it->second);
    m.data.insert(m.data.end(), row.begin(), row.end());
    ++m.rows;
    snap.items.push_back(std::move(item));
  }
  if (!absl::GetFlag(FLAGS_model).empty()) {
    auto json = encore::common::ReadFile(absl::GetFlag(FLAGS_model));
    if (!json.ok()) return Fail(json.status().ToString());
    encore::v1::AlsParams params;
    auto s = google::protobuf::util::JsonStringToMessage(*json, &params);
    if (!s.ok()) return Fail(absl::StrCat(absl::GetFlag(FLAGS_model), ": ", s.ToString()));
    for (const auto& [space, m] : snap.spaces) snap.als[space] = params;
  }
  encore::offline::BuildOptions build;
  if (const std::string path = absl::GetFlag(FLAGS_taxonomy); !path.empty()) {
    auto text = encore::common::ReadFile(path);
    if (!text.ok()) return Fail(text.status().ToString());
    auto rules = encore::index::ParseTaxonomyRules(*text, path);
    if (!rules.ok()) return Fail(rules.status().ToString());
    build.taxonomy = encore::index::MergeRules(encore::index::DefaultTaxonomyRules(), *rules);
  }
  const std::string index_type = absl::GetFlag(FLAGS_index_type);
  build.prebuild_index = index_type != "none";
  build.index.type = build.prebuild_index ? index_type : "auto";
  build.index.hnsw_threshold = absl::GetFlag(FLAGS_hnsw_threshold);
  build.index.hnsw_m = absl::GetFlag(FLAGS_hnsw_m);
  build.index.ef_construction = absl::GetFlag(FLAGS_ef_construction);
  build.locality_order = absl::GetFlag(FLAGS_locality_order);
  auto dir = encore::offline::PublishSnapshot(out, snap, build);
  if (!dir.ok()) return Fail(dir.status().ToString());
  const std::string events = absl::GetFlag(FLAGS_events_out);
  if (!events.empty()) {
    if (history.entries.empty()) return Fail("--events_out needs --lastfm_dir or --interactions");
    if (auto s = WriteEvents(events, history, absl::GetFlag(FLAGS_events_timestamp_ms)); !s.ok()) {
      return Fail(s.ToString());
    }
  }
  std::printf("snapshot=%s items=%zu dropped_without_vector=%lld events=%zu\n", dir->c_str(),
              snap.items.size(), static_cast<long long>(dropped),
              events.empty() ? size_t{0} : history.entries.size());
  return 0;
}
