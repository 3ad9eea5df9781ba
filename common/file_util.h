// File helpers shared by the snapshot reader (index/) and writer (offline/).
#ifndef ENCORE_COMMON_FILE_UTIL_H_
#define ENCORE_COMMON_FILE_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <memory>
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
// OK when `got` (the digest of `path`) equals `want`; else DATA_LOSS naming the size or checksum
// mismatch.
absl::Status ExpectDigest(const std::string& path, const FileDigest& got, const FileDigest& want);

// The digest of bytes fed in pieces, as they are read: Finish() gives what DigestFile gives for a
// file holding them all, one after another.
class StreamingDigest {
 public:
  StreamingDigest();
  ~StreamingDigest();
  StreamingDigest(const StreamingDigest&) = delete;
  StreamingDigest& operator=(const StreamingDigest&) = delete;

  void Update(const void* data, size_t bytes);
  // The bytes fed so far, and their XXH3-64 (the state stays usable).
  FileDigest Finish() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
  int64_t bytes_ = 0;
};

// XXH3-64 of a buffer, 16 lowercase hex digits.
std::string DigestBytes(absl::string_view data);
// The digest DigestFile would give a file holding `parts` one after another.
std::string DigestConcatenation(const std::vector<absl::string_view>& parts);

// Milliseconds since the Unix epoch (wall clock).
int64_t NowMs();

}  // namespace encore::common

#endif  // ENCORE_COMMON_FILE_UTIL_H_
