#include "common/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace encore::common {
namespace {

absl::Status ErrnoStatus(absl::string_view what, const std::string& path) {
  int err = errno;
  std::string msg = absl::StrCat(what, " ", path, ": ", std::strerror(err));
  if (err == ENOENT) return absl::NotFoundError(msg);
  return absl::InternalError(msg);
}

// Closes a POSIX file descriptor when it leaves scope.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  return ReadFilePrefix(path, SIZE_MAX);
}

absl::StatusOr<std::string> ReadFilePrefix(const std::string& path, size_t max_bytes) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoStatus("cannot open", path);
  std::string out;
  // Sized up front (one allocation, no regrowth copies); the loop still handles files that
  // change size while being read.
  struct stat st {};
  if (::fstat(fd.get(), &st) == 0 && st.st_size > 0) {
    out.reserve(std::min(static_cast<size_t>(st.st_size), max_bytes));
  }
  char buf[1 << 16];
  while (out.size() < max_bytes) {
    const size_t want = std::min(sizeof(buf), max_bytes - out.size());
    ssize_t n = ::read(fd.get(), buf, want);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("cannot read", path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

absl::Status WriteFile(const std::string& path, absl::string_view contents) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (fd.get() < 0) return ErrnoStatus("cannot create", path);
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = ::write(fd.get(), contents.data() + done, contents.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("cannot write", path);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) return ErrnoStatus("cannot fsync", path);
  return absl::OkStatus();
}

struct StreamingDigest::State {
  std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> xxh{XXH3_createState(), &XXH3_freeState};
};

StreamingDigest::StreamingDigest() : state_(std::make_unique<State>()) {
  XXH3_64bits_reset(state_->xxh.get());
}

StreamingDigest::~StreamingDigest() = default;

void StreamingDigest::Update(const void* data, size_t bytes) {
  XXH3_64bits_update(state_->xxh.get(), data, bytes);
  bytes_ += static_cast<int64_t>(bytes);
}

FileDigest StreamingDigest::Finish() const {
  FileDigest digest;
  digest.bytes = bytes_;
  digest.xxh3 = absl::StrFormat("%016x", XXH3_64bits_digest(state_->xxh.get()));
  return digest;
}

absl::StatusOr<FileDigest> DigestFile(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoStatus("cannot open", path);
  StreamingDigest digest;
  std::vector<char> buf(1 << 20);
  while (true) {
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("cannot read", path);
    }
    if (n == 0) break;
    digest.Update(buf.data(), static_cast<size_t>(n));
  }
  return digest.Finish();
}

absl::Status ExpectDigest(const std::string& path, const FileDigest& got, const FileDigest& want) {
  if (got.bytes != want.bytes) {
    return absl::DataLossError(absl::StrCat("snapshot file ", path, " is ", got.bytes,
                                            " bytes, manifest says ", want.bytes));
  }
  if (got.xxh3 != want.xxh3) {
    return absl::DataLossError(absl::StrCat("snapshot file ", path, " checksum mismatch: xxh3 ",
                                            got.xxh3, ", manifest says ", want.xxh3));
  }
  return absl::OkStatus();
}

std::string DigestBytes(absl::string_view data) {
  return absl::StrFormat("%016x", XXH3_64bits(data.data(), data.size()));
}

std::string DigestConcatenation(const std::vector<absl::string_view>& parts) {
  StreamingDigest digest;
  for (absl::string_view p : parts) digest.Update(p.data(), p.size());
  return digest.Finish().xxh3;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace encore::common
