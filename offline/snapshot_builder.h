// Writes catalog snapshots and publishes them atomically.
#ifndef ENCORE_OFFLINE_SNAPSHOT_BUILDER_H_
#define ENCORE_OFFLINE_SNAPSHOT_BUILDER_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "encore/v1/snapshot.pb.h"
#include "index/faiss_index.h"
#include "index/knowledge_graph.h"
#include "index/matrix.h"

namespace encore::offline {

struct SnapshotContents {
  std::string version;
  // Item table; each item's vector is the next row of its space's matrix.
  std::vector<v1::ItemRecord> items;
  std::map<std::string, index::Matrix> spaces;
  // ALS parameters per space whose vectors are ALS item factors (enables the fold-in).
  std::map<std::string, v1::AlsParams> als;
  std::string producer;
};

struct BuildOptions {
  // Index written into the snapshot per space: "auto", "flat", "hnsw" or "none".
  // Default: "auto" (see IndexOptions).
  index::IndexOptions index;
  bool prebuild_index = true;
  // Renumber each prebuilt HNSW space's rows into the graph's breadth-first order
  // (FaissIndex::LocalityOrder), moving its items and vectors with them: graph neighbours then
  // lie near each other in memory, and searches run about 1.5x faster with the same results.
  // Default: true.
  bool locality_order = true;
  // Rules for tag normalisation and the taxonomy written as graph.pb.
  // Default: index::DefaultTaxonomyRules().
  index::TaxonomyRules taxonomy = index::DefaultTaxonomyRules();
};

// Validates `contents`, builds the indexes (renumbering rows, see BuildOptions::locality_order:
// a space's items may then stand in another order in the table), normalises item tags and derives
// the knowledge graph (graph.pb), writes everything to ROOT/.tmp-VERSION-PID, fsyncs every file,
// then renames it to ROOT/VERSION, so a reader never sees a partial snapshot. ALREADY_EXISTS when
// ROOT/VERSION exists (snapshots are immutable). Returns the published directory.
absl::StatusOr<std::string> PublishSnapshot(const std::string& root,
                                            const SnapshotContents& contents,
                                            const BuildOptions& options);

// A version name from the current UTC time, e.g. "20261129T133000Z"; sorts by time.
std::string TimestampVersion();

}  // namespace encore::offline

#endif  // ENCORE_OFFLINE_SNAPSHOT_BUILDER_H_
