#include "common/host_cpu.h"

#include <gtest/gtest.h>

#include <string>

#include "common/file_util.h"

namespace encore::common {
namespace {

// A real /proc/stat from a 2-vCPU KVM guest (trimmed after the per-CPU lines).
constexpr char kProcStat[] =
    "cpu  4996793 0 462897 2166776 16413 0 35217 49796 0 0\n"
    "cpu0 2498000 0 231000 1083000 8200 0 17600 24900 0 0\n"
    "cpu1 2498793 0 231897 1083776 8213 0 17617 24896 0 0\n"
    "intr 123456 0 0\n"
    "ctxt 987654\n";

TEST(HostCpuTest, ParsesTheAggregateLine) {
  auto t = ParseProcStat(kProcStat);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->user, 4996793);
  EXPECT_EQ(t->nice, 0);
  EXPECT_EQ(t->system, 462897);
  EXPECT_EQ(t->idle, 2166776);
  EXPECT_EQ(t->iowait, 16413);
  EXPECT_EQ(t->irq, 0);
  EXPECT_EQ(t->softirq, 35217);
  EXPECT_EQ(t->steal, 49796);
  EXPECT_EQ(t->Total(), 4996793 + 462897 + 2166776 + 16413 + 35217 + 49796);
  EXPECT_EQ(t->Busy(), 4996793 + 462897 + 35217);
}

TEST(HostCpuTest, OldKernelsWithoutStealReadAsZero) {
  auto t = ParseProcStat("cpu  10 0 5 100 0 0 1\n");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->steal, 0);
  EXPECT_EQ(t->Busy(), 16);
}

TEST(HostCpuTest, RejectsTextWithoutAUsableCpuLine) {
  EXPECT_EQ(ParseProcStat("").status().code(), absl::StatusCode::kInvalidArgument);
  // Per-CPU lines alone are not the aggregate.
  EXPECT_EQ(ParseProcStat("cpu0 1 2 3 4 5 6 7 8\n").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseProcStat("cpu 1 2 3\n").status().code(), absl::StatusCode::kInvalidArgument);
  auto bad = ParseProcStat("cpu 1 2 x 4 5 6 7 8\n");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("'x'"), std::string::npos) << bad.status();
  EXPECT_EQ(ParseProcStat("cpu 1 2 -3 4 5 6 7 8\n").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(HostCpuTest, SharesArePercentOfAllElapsedCpuTime) {
  CpuTimes a;
  CpuTimes b;
  // 200 ticks elapsed over the machine: 90 running, 100 idle, 10 withheld by the host.
  b.user = 70;
  b.system = 15;
  b.softirq = 5;
  b.idle = 100;
  b.steal = 10;
  CpuShare s = ShareBetween(a, b);
  EXPECT_DOUBLE_EQ(s.busy_pct, 45.0);
  EXPECT_DOUBLE_EQ(s.steal_pct, 5.0);
  // No time elapsed: zero shares rather than a division by zero.
  s = ShareBetween(b, b);
  EXPECT_EQ(s.busy_pct, 0);
  EXPECT_EQ(s.steal_pct, 0);
}

TEST(HostCpuTest, ReadsAFileAndReportsAMissingOne) {
  const std::string dir = ::testing::TempDir();
  const std::string path = dir + "/host_cpu_test_stat";
  ASSERT_TRUE(WriteFile(path, kProcStat).ok());
  auto t = ReadCpuTimes(path);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->steal, 49796);
  EXPECT_EQ(ReadCpuTimes(dir + "/no_such_stat").status().code(), absl::StatusCode::kNotFound);
}

TEST(HostCpuTest, ReadsThisMachine) {
  auto a = ReadCpuTimes();
  if (!a.ok()) GTEST_SKIP() << "no /proc/stat here: " << a.status();
  auto b = ReadCpuTimes();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_GT(a->Total(), 0);
  EXPECT_GE(b->Total(), a->Total());  // the counters only grow
}

}  // namespace
}  // namespace encore::common
