#include "common/host_cpu.h"

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"

namespace encore::common {

absl::StatusOr<CpuTimes> ParseProcStat(absl::string_view text) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (f.empty() || f[0] != "cpu") continue;
    // user nice system idle iowait irq softirq steal [guest guest_nice]
    if (f.size() < 8) {
      return absl::InvalidArgumentError(
          absl::StrCat("/proc/stat 'cpu' line has ", f.size() - 1, " fields, want at least 7"));
    }
    int64_t v[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (size_t i = 1; i < f.size() && i <= 8; ++i) {
      if (!absl::SimpleAtoi(f[i], &v[i - 1]) || v[i - 1] < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("/proc/stat 'cpu' field ", i, " is not a tick count: '", f[i], "'"));
      }
    }
    CpuTimes t;
    t.user = v[0];
    t.nice = v[1];
    t.system = v[2];
    t.idle = v[3];
    t.iowait = v[4];
    t.irq = v[5];
    t.softirq = v[6];
    t.steal = v[7];
    return t;
  }
  return absl::InvalidArgumentError("/proc/stat has no aggregate 'cpu' line");
}

absl::StatusOr<CpuTimes> ReadCpuTimes(const std::string& path) {
  // /proc files report size 0, so read a generous prefix rather than by size.
  absl::StatusOr<std::string> text = ReadFilePrefix(path, 1 << 16);
  if (!text.ok()) return text.status();
  return ParseProcStat(*text);
}

CpuShare ShareBetween(const CpuTimes& before, const CpuTimes& after) {
  CpuShare share;
  const double total = static_cast<double>(after.Total() - before.Total());
  if (total <= 0) return share;
  share.busy_pct = 100.0 * static_cast<double>(after.Busy() - before.Busy()) / total;
  share.steal_pct = 100.0 * static_cast<double>(after.steal - before.steal) / total;
  return share;
}

}  // namespace encore::common
