// File helpers shared by the snapshot reader (index/) and writer (offline/).
#ifndef ENCORE_COMMON_FILE_UTIL_H_
#define ENCORE_COMMON_FILE_UTIL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace encore::common {

// Reads a whole file. NOT_FOUND when it does not exist.
absl::StatusOr<std::string> ReadFile(const std::string& path);
// The first `max_bytes` bytes of a file (all of it when shorter).
absl::StatusOr<std::string> ReadFilePrefix(const std::string& path, size_t max_bytes);

// Writes `contents` to `path` (truncating) and fsyncs it.
absl::Status WriteFile(const std::string& path, absl::string_view contents);

// XXH3-64 of a file's bytes as 16 lowercase hex digits; streams, so any size works.
struct FileDigest {
  int64_t bytes = 0;
  std::string xxh3;
};
absl::StatusOr<FileDigest> DigestFile(const std::string& path);

// XXH3-64 of a buffer, 16 lowercase hex digits.
std::string DigestBytes(absl::string_view data);
// The digest DigestFile would give a file holding `parts` one after another.
std::string DigestConcatenation(const std::vector<absl::string_view>& parts);

// Milliseconds since the Unix epoch (wall clock).
int64_t NowMs();

}  // namespace encore::common

#endif  // ENCORE_COMMON_FILE_UTIL_H_
