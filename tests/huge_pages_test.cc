#include "common/huge_pages.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <numeric>
#include <vector>

namespace encore::common {
namespace {

constexpr size_t kHugePage = kHugePageBytes;

TEST(HugePagesTest, NothingToDoForNullOrLessThanAWholePage) {
  EXPECT_EQ(AdviseHugePages(nullptr, 64 * kHugePage), 0u);
  std::vector<char> small(kHugePage);  // 2 MiB that do not start on a 2 MiB boundary
  EXPECT_EQ(AdviseHugePages(small.data() + 1, small.size() - 1), 0u);
  EXPECT_EQ(HugePageCollapse().bytes(), 0u);
  EXPECT_EQ(HugePageCollapse(std::vector<HugePageCollapse::Range>{}).bytes(), 0u);
}

// The collapse covers the whole 2 MiB pages inside each range and changes no byte of it.
TEST(HugePagesTest, CollapseKeepsTheContents) {
  std::vector<int32_t> a(5 * kHugePage / sizeof(int32_t));  // 10 MiB: at least four whole pages
  std::iota(a.begin(), a.end(), 17);
  std::vector<int32_t> b(a.size() / 2);
  std::iota(b.begin(), b.end(), -3);
  const std::vector<int32_t> a0 = a, b0 = b;
  size_t bytes = 0;
  {
    HugePageCollapse collapse(
        {{a.data(), a.size() * sizeof(int32_t)}, {b.data(), b.size() * sizeof(int32_t)}});
    bytes = collapse.bytes();
    EXPECT_EQ(collapse.bytes(), bytes);  // asked again: the same answer, no second collapse
  }
  EXPECT_EQ(bytes % kHugePage, 0u);
  if (KernelCollapsesHugePages()) {
    EXPECT_GE(bytes, 5 * kHugePage) << "THP is enabled and the kernel has MADV_COLLAPSE";
    EXPECT_LE(bytes, (a.size() + b.size()) * sizeof(int32_t));
  } else {
    EXPECT_EQ(bytes, 0u);
  }
  EXPECT_EQ(a, a0);
  EXPECT_EQ(b, b0);
}

}  // namespace
}  // namespace encore::common
