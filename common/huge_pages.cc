#include "common/huge_pages.h"

#include <sys/mman.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <system_error>

#include "common/file_util.h"

namespace encore::common {

size_t AdviseHugePages(const void* p, size_t bytes) {
  constexpr uintptr_t kHuge = kHugePageBytes;
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(p) + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(p) + bytes) & ~(kHuge - 1);
  if (p == nullptr || end <= begin) return 0;
  void* start = reinterpret_cast<void*>(begin);
  const size_t length = end - begin;
#ifdef MADV_HUGEPAGE
  if (madvise(start, length, MADV_HUGEPAGE) != 0) return 0;
#else
  return 0;
#endif
#ifndef MADV_COLLAPSE
  constexpr int MADV_COLLAPSE = 25;  // Linux 6.1; older headers lack it
#endif
  if (madvise(start, length, MADV_COLLAPSE) != 0) return 0;
  return length;
}

bool KernelCollapsesHugePages() {
  auto mode = ReadFile("/sys/kernel/mm/transparent_hugepage/enabled");
  if (!mode.ok() || mode->find("[never]") != std::string::npos) return false;
  auto release = ReadFile("/proc/sys/kernel/osrelease");
  int major = 0, minor = 0;
  if (!release.ok() || std::sscanf(release->c_str(), "%d.%d", &major, &minor) != 2) return false;
  return major > 6 || (major == 6 && minor >= 1);
}

HugePageCollapse::HugePageCollapse(std::vector<Range> ranges) {
  auto collapse = [ranges = std::move(ranges)] {
    size_t bytes = 0;
    for (const auto& [p, n] : ranges) bytes += AdviseHugePages(p, n);
    return bytes;
  };
  try {
    done_ = std::async(std::launch::async, collapse).share();
  } catch (const std::system_error&) {  // no thread to spare: do it now
    std::promise<size_t> done;
    done.set_value(collapse());
    done_ = done.get_future().share();
  }
}

HugePageCollapse::~HugePageCollapse() {
  // A copy of an async future's state would also block on release; wait explicitly so the
  // contract holds whatever the standard library does.
  if (done_.valid()) done_.wait();
}

size_t HugePageCollapse::bytes() const { return done_.valid() ? done_.get() : 0; }

}  // namespace encore::common
