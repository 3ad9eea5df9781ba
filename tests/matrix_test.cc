#include "index/matrix.h"

#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace encore::index {
namespace {

Matrix Small() {
  Matrix m;
  m.rows = 3;
  m.dim = 2;
  m.data = {1, 2, 3, 4, 5, 6};
  return m;
}

TEST(NpyTest, RoundTrip) {
  const std::string bytes = SerializeNpy(Small());
  EXPECT_EQ((bytes.size() - 24) % 64, 0u);  // header padded to 64 bytes; payload is 24
  ASSERT_OK_AND_ASSIGN(Matrix m, ParseNpy(bytes, "x.npy"));
  EXPECT_EQ(m.rows, 3);
  EXPECT_EQ(m.dim, 2);
  EXPECT_EQ(m.data, Small().data);
  EXPECT_EQ(m.row(2)[1], 6.0f);
}

TEST(NpyTest, RejectsBadMagic) {
  std::string bytes = SerializeNpy(Small());
  bytes[1] = 'X';
  auto m = ParseNpy(bytes, "x.npy");
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(m.status().message().find("x.npy"), std::string::npos);
}

TEST(NpyTest, RejectsTruncatedPayload) {
  std::string bytes = SerializeNpy(Small());
  bytes.resize(bytes.size() - 4);
  EXPECT_EQ(ParseNpy(bytes, "x.npy").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(NpyTest, RejectsWrongDtype) {
  std::string bytes = SerializeNpy(Small());
  bytes.replace(bytes.find("<f4"), 3, "<f8");
  auto m = ParseNpy(bytes, "x.npy");
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(m.status().message().find("float32"), std::string::npos);
}

TEST(NpyTest, RejectsFortranOrderAndOneDim) {
  std::string bytes = SerializeNpy(Small());
  std::string fortran = bytes;
  fortran.replace(fortran.find("False"), 5, "True ");
  EXPECT_FALSE(ParseNpy(fortran, "x.npy").ok());
  std::string one_dim = bytes;
  one_dim.replace(one_dim.find("(3, 2)"), 6, "(6,)  ");
  EXPECT_FALSE(ParseNpy(one_dim, "x.npy").ok());
}

TEST(NpyTest, RejectsNonFinite) {
  Matrix m = Small();
  m.data[3] = std::numeric_limits<float>::quiet_NaN();
  auto parsed = ParseNpy(SerializeNpy(m), "x.npy");
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(parsed.status().message().find("row 1"), std::string::npos);
}

TEST(NpyTest, GarbageNeverCrashes) {
  std::string bytes = SerializeNpy(Small());
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    EXPECT_FALSE(ParseNpy(bytes.substr(0, cut), "x.npy").ok()) << cut;
  }
}

}  // namespace
}  // namespace encore::index
