// The machine's CPU time as Linux accounts it in /proc/stat, to tell how busy a benchmark kept
// the machine and how much time the hypervisor withheld from it ("steal").
#ifndef ENCORE_COMMON_HOST_CPU_H_
#define ENCORE_COMMON_HOST_CPU_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace encore::common {

// Cumulative time of all CPUs since boot, in clock ticks (the first, aggregate "cpu" line).
// Guest time is already counted in user and nice, so it is not kept apart.
struct CpuTimes {
  int64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;

  int64_t Total() const { return user + nice + system + idle + iowait + irq + softirq + steal; }
  // Time spent running something: everything but idle, iowait and steal.
  int64_t Busy() const { return user + nice + system + irq + softirq; }
};

// Parses the text of /proc/stat. Kernels before 2.6.11 have no steal column; it reads as 0.
// INVALID_ARGUMENT when there is no aggregate "cpu" line or it is malformed.
absl::StatusOr<CpuTimes> ParseProcStat(absl::string_view text);

// Reads and parses `path` (normally /proc/stat).
absl::StatusOr<CpuTimes> ReadCpuTimes(const std::string& path = "/proc/stat");

// Shares of the machine's CPU time between two readings, in percent of all CPU time elapsed
// (every CPU counts, so 100% busy means all of them ran all the time). Zero when no time passed.
struct CpuShare {
  double busy_pct = 0;
  double steal_pct = 0;
};
CpuShare ShareBetween(const CpuTimes& before, const CpuTimes& after);

}  // namespace encore::common

#endif  // ENCORE_COMMON_HOST_CPU_H_
