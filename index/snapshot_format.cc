#include "index/snapshot_format.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/status_macros.h"

namespace encore::index {

absl::StatusOr<v1::SnapshotManifest> ReadManifest(const std::string& dir) {
  const std::string path = absl::StrCat(dir, "/", kManifestFile);
  auto json = common::ReadFile(path);
  if (!json.ok()) {
    return absl::Status(
        json.status().code(),
        absl::StrCat("snapshot ", dir, " has no readable manifest: ", json.status().message()));
  }
  v1::SnapshotManifest manifest;
  auto parsed = google::protobuf::util::JsonStringToMessage(*json, &manifest);
  if (!parsed.ok()) {
    return absl::DataLossError(absl::StrCat(path, ": bad manifest: ", parsed.ToString()));
  }
  if (manifest.format_version() != kSnapshotFormatVersion) {
    return absl::DataLossError(absl::StrCat(path, ": format_version ", manifest.format_version(),
                                            " is not supported (want ", kSnapshotFormatVersion,
                                            ")"));
  }
  if (manifest.version().empty()) return absl::DataLossError(absl::StrCat(path, ": empty version"));
  std::set<std::string> listed;
  for (const auto& f : manifest.files()) {
    if (f.name().empty() || f.name().find('/') != std::string::npos || f.name() == "..") {
      return absl::DataLossError(absl::StrCat(path, ": bad file name '", f.name(), "'"));
    }
    listed.insert(f.name());
  }
  std::vector<std::string> referenced = {manifest.items_file()};
  if (!manifest.graph_file().empty()) referenced.push_back(manifest.graph_file());
  for (const auto& s : manifest.spaces()) {
    referenced.push_back(s.vectors_file());
    if (!s.index_file().empty()) referenced.push_back(s.index_file());
  }
  for (const auto& name : referenced) {
    if (listed.count(name) == 0) {
      return absl::DataLossError(
          absl::StrCat(path, ": file '", name, "' is used but has no checksum entry"));
    }
  }
  return manifest;
}

absl::Status VerifyFiles(const std::string& dir, const v1::SnapshotManifest& manifest,
                         const std::vector<std::string>& verified_elsewhere) {
  for (const auto& f : manifest.files()) {
    if (std::find(verified_elsewhere.begin(), verified_elsewhere.end(), f.name()) !=
        verified_elsewhere.end()) {
      continue;
    }
    RETURN_IF_ERROR(VerifyFile(dir, f));
  }
  return absl::OkStatus();
}

const v1::SnapshotFile* FindFileEntry(const v1::SnapshotManifest& manifest,
                                      const std::string& name) {
  for (const auto& f : manifest.files()) {
    if (f.name() == name) return &f;
  }
  return nullptr;
}

absl::Status VerifyFile(const std::string& dir, const v1::SnapshotFile& f) {
  const std::string path = absl::StrCat(dir, "/", f.name());
  auto digest = common::DigestFile(path);
  if (!digest.ok()) {
    return absl::DataLossError(
        absl::StrCat("snapshot file missing or unreadable: ", digest.status().message()));
  }
  return common::ExpectDigest(path, *digest, ManifestDigest(f));
}

common::FileDigest ManifestDigest(const v1::SnapshotFile& f) {
  common::FileDigest d;
  d.bytes = f.bytes();
  d.xxh3 = f.xxh3();
  return d;
}

absl::StatusOr<std::string> ManifestToJson(const v1::SnapshotManifest& manifest) {
  std::string json;
  google::protobuf::util::JsonPrintOptions opts;
  opts.add_whitespace = true;
  opts.preserve_proto_field_names = true;
  auto s = google::protobuf::util::MessageToJsonString(manifest, &json, opts);
  if (!s.ok()) return absl::InternalError(s.ToString());
  return json;
}

std::string SerializeItems(const std::vector<v1::ItemRecord>& items) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream raw(&out);
    google::protobuf::io::CodedOutputStream coded(&raw);
    for (const auto& item : items) {
      coded.WriteVarint32(static_cast<uint32_t>(item.ByteSizeLong()));
      item.SerializeWithCachedSizes(&coded);
    }
  }
  return out;
}

absl::Status ForEachItemRecord(absl::string_view bytes, const std::string& name,
                               const std::function<absl::Status(v1::ItemRecord*)>& fn) {
  if (bytes.size() > static_cast<size_t>(INT32_MAX)) {
    return absl::DataLossError(absl::StrCat(name, ": larger than 2 GiB"));
  }
  google::protobuf::io::ArrayInputStream raw(bytes.data(), static_cast<int>(bytes.size()));
  google::protobuf::io::CodedInputStream coded(&raw);
  coded.SetTotalBytesLimit(INT32_MAX);
  v1::ItemRecord rec;
  for (int64_t n = 0; coded.CurrentPosition() < static_cast<int>(bytes.size()); ++n) {
    uint32_t len = 0;
    if (!coded.ReadVarint32(&len)) {
      return absl::DataLossError(absl::StrCat(name, ": truncated record length at record ", n));
    }
    auto limit = coded.PushLimit(static_cast<int>(len));
    rec.Clear();
    if (!rec.MergeFromCodedStream(&coded) || !coded.ConsumedEntireMessage() ||
        coded.BytesUntilLimit() != 0) {
      return absl::DataLossError(absl::StrCat(name, ": malformed record ", n));
    }
    coded.PopLimit(limit);
    RETURN_IF_ERROR(fn(&rec));
  }
  return absl::OkStatus();
}

}  // namespace encore::index
