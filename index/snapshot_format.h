// The catalog snapshot directory format, shared by the reader (Catalog::Load) and the writer
// (offline/snapshot_builder).
//
// A snapshot is a directory holding:
//   manifest.json  SnapshotManifest (proto JSON): version, counts, spaces, and one XXH3-64
//                  checksum + size per file below
//   items.pb       ItemRecord messages, each prefixed by its varint length
//   <space>.npy    float32 vectors per space (rows in item-table order of the space's items)
//   <space>.faiss  optional prebuilt FAISS index over the same rows
#ifndef ENCORE_INDEX_SNAPSHOT_FORMAT_H_
#define ENCORE_INDEX_SNAPSHOT_FORMAT_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/file_util.h"
#include "encore/v1/snapshot.pb.h"

namespace encore::index {

inline constexpr char kManifestFile[] = "manifest.json";
inline constexpr int kSnapshotFormatVersion = 1;

// Reads and parses DIR/manifest.json; checks the format version and that every file the
// manifest refers to is listed with a checksum.
absl::StatusOr<v1::SnapshotManifest> ReadManifest(const std::string& dir);

// Checks every listed file's size and XXH3-64 checksum, except those named in
// `verified_elsewhere` (their reader checks them as it reads). DATA_LOSS names the first bad file.
absl::Status VerifyFiles(const std::string& dir, const v1::SnapshotManifest& manifest,
                         const std::vector<std::string>& verified_elsewhere = {});
// Checks one listed file's size and checksum.
absl::Status VerifyFile(const std::string& dir, const v1::SnapshotFile& file);
// The size and checksum the manifest lists for a file.
common::FileDigest ManifestDigest(const v1::SnapshotFile& file);
// The manifest's entry for `name`, or nullptr.
const v1::SnapshotFile* FindFileEntry(const v1::SnapshotManifest& manifest,
                                      const std::string& name);

// Manifest as pretty JSON.
absl::StatusOr<std::string> ManifestToJson(const v1::SnapshotManifest& manifest);

// Length-delimited ItemRecord stream <-> records.
std::string SerializeItems(const std::vector<v1::ItemRecord>& items);
// Calls `fn` with each record in order (the record may be moved from; it is reused). Stops at the
// first error of `fn` or of the stream (DATA_LOSS naming `name` and the record number).
absl::Status ForEachItemRecord(absl::string_view bytes, const std::string& name,
                               const std::function<absl::Status(v1::ItemRecord*)>& fn);

}  // namespace encore::index

#endif  // ENCORE_INDEX_SNAPSHOT_FORMAT_H_
