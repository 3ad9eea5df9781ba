#include "common/file_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "tests/test_util.h"

namespace encore::common {
namespace {

// DigestFile, DigestBytes, DigestConcatenation and StreamingDigest agree on the same bytes, however
// they are split; and ExpectDigest names what differs.
TEST(FileDigestTest, EveryWayOfDigestingAgrees) {
  std::string data;
  for (int i = 0; i < 300000; ++i) data.push_back(static_cast<char>((i * 131) ^ (i >> 7)));
  testing::TempDir tmp;
  const std::string path = tmp.Sub("data.bin");
  ASSERT_OK(WriteFile(path, data));
  ASSERT_OK_AND_ASSIGN(FileDigest file, DigestFile(path));
  EXPECT_EQ(file.bytes, static_cast<int64_t>(data.size()));
  EXPECT_EQ(file.xxh3.size(), 16u);
  EXPECT_EQ(file.xxh3, DigestBytes(data));
  const absl::string_view v(data);
  EXPECT_EQ(file.xxh3, DigestConcatenation({v.substr(0, 7), v.substr(7, 70000), v.substr(70007)}));
  StreamingDigest streaming;
  for (size_t at = 0; at < data.size(); at += 4099) {
    streaming.Update(data.data() + at, std::min<size_t>(4099, data.size() - at));
  }
  EXPECT_EQ(streaming.Finish().bytes, file.bytes);
  EXPECT_EQ(streaming.Finish().xxh3, file.xxh3);
  EXPECT_NE(DigestBytes(v.substr(1)), file.xxh3);

  EXPECT_OK(ExpectDigest(path, file, file));
  FileDigest shorter = file;
  shorter.bytes -= 1;
  absl::Status s = ExpectDigest(path, shorter, file);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(s.message().find(" bytes, manifest says "), std::string::npos) << s;
  FileDigest other = file;
  other.xxh3 = DigestBytes("other");
  s = ExpectDigest(path, other, file);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("checksum mismatch"), std::string::npos) << s;
}

}  // namespace
}  // namespace encore::common
