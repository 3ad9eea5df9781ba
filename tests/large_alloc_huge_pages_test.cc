// HugePagesForLargeAllocations, in a binary linked with the allocator the server uses
// (jemalloc unless configured with -DENCORE_JEMALLOC=OFF).
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/huge_pages.h"

namespace encore::common {
namespace {

constexpr size_t kMiB = size_t{1} << 20;

// The /proc/self/smaps entry of the mapping that holds `p`: its AnonHugePages bytes and
// whether it was advised MADV_HUGEPAGE (VmFlags "hg").
struct Mapping {
  bool found = false;
  size_t anon_huge_bytes = 0;
  bool advised = false;
};

Mapping MappingOf(const void* p) {
  const uintptr_t at = reinterpret_cast<uintptr_t>(p);
  std::ifstream smaps("/proc/self/smaps");
  Mapping m;
  bool inside = false;
  for (std::string line; std::getline(smaps, line);) {
    const size_t dash = line.find('-');
    const size_t space = line.find(' ');
    if (dash != std::string::npos && space != std::string::npos && dash < space &&
        line.find(':') > space) {  // a header line: "start-end perms ..."
      if (inside) break;
      uint64_t begin = 0, end = 0;
      inside = absl::SimpleHexAtoi(line.substr(0, dash), &begin) &&
               absl::SimpleHexAtoi(line.substr(dash + 1, space - dash - 1), &end) && begin <= at &&
               at < end;
      m.found = m.found || inside;
      continue;
    }
    if (!inside) continue;
    if (line.rfind("AnonHugePages:", 0) == 0) {
      std::vector<std::string> parts = absl::StrSplit(line, ' ', absl::SkipEmpty());
      uint64_t kb = 0;
      if (parts.size() >= 2 && absl::SimpleAtoi(parts[1], &kb)) m.anon_huge_bytes = kb * 1024;
    } else if (line.rfind("VmFlags:", 0) == 0) {
      m.advised = line.find(" hg") != std::string::npos;
    }
  }
  return m;
}

TEST(LargeAllocHugePagesTest, LargeAllocationsFaultInHugePagesSmallOnesDoNot) {
  const size_t from = HugePagesForLargeAllocations();
  EXPECT_EQ(HugePagesForLargeAllocations(), from) << "installed once";
  if (std::string(ENCORE_MALLOC) != "jemalloc") {
    EXPECT_EQ(from, 0u) << "only jemalloc's large allocations can be advised";
    GTEST_SKIP() << "built with glibc's malloc (ENCORE_JEMALLOC=OFF): nothing to advise";
  }
  if (!TransparentHugePagesEnabled()) {
    EXPECT_EQ(from, 0u);
    GTEST_SKIP() << "transparent huge pages are 'never' on this machine";
  }
  ASSERT_GT(from, 0u) << "jemalloc with THP available: large allocations must be advised";

  std::vector<int32_t> large((from + 64 * kMiB) / sizeof(int32_t));  // touched by the zero-fill
  const Mapping big = MappingOf(large.data());
  ASSERT_TRUE(big.found);
  EXPECT_TRUE(big.advised) << "the large allocation's mapping lacks MADV_HUGEPAGE";
  // All but its unaligned ends fault in as 2 MiB pages (unless the kernel has none free).
  EXPECT_GE(big.anon_huge_bytes, 32 * kMiB);

  std::vector<char> small(64 * 1024, 'x');
  const Mapping little = MappingOf(small.data());
  ASSERT_TRUE(little.found);
  EXPECT_FALSE(little.advised) << "small allocations must keep the kernel's default pages";
}

// The wrapped arena keeps working as an allocator: large blocks of many sizes, allocated,
// written, grown and freed in turn, keep their contents.
TEST(LargeAllocHugePagesTest, LargeBlocksKeepTheirContentsThroughReuse) {
  HugePagesForLargeAllocations();
  for (int round = 0; round < 6; ++round) {
    std::vector<std::vector<uint32_t>> blocks;
    for (size_t mib : {9, 17, 33, 12, 70}) {
      blocks.emplace_back((mib + round) * kMiB / sizeof(uint32_t));
      std::iota(blocks.back().begin(), blocks.back().end(), static_cast<uint32_t>(mib * round));
    }
    blocks[1].resize(blocks[1].size() * 3, 7u);  // a realloc across sizes
    blocks.erase(blocks.begin() + 2);            // one freed before the others
    for (size_t i = 0; i < blocks.size(); ++i) {
      const auto& b = blocks[i];
      const uint32_t first = b[0];
      for (size_t j = 0; j < b.size(); j += 4099) {
        if (i == 1 && j >= b.size() / 3) {
          ASSERT_EQ(b[j], 7u);
        } else {
          ASSERT_EQ(b[j], first + static_cast<uint32_t>(j)) << "block " << i << " index " << j;
        }
      }
    }
  }
}

}  // namespace
}  // namespace encore::common
