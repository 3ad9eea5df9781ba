#include "common/huge_pages.h"

#include <dlfcn.h>
#include <sys/mman.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
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

namespace {

// jemalloc's extent hooks (`man jemalloc`, arena.<i>.extent_hooks: a stable, documented table of
// nine function pointers, alloc first). Declared here rather than by including
// <jemalloc/jemalloc.h>, which would redeclare malloc and its kin in every build, and mallctl is
// looked up at run time, so this library does not depend on jemalloc being linked.
struct ExtentHooks {
  void* (*alloc)(ExtentHooks* hooks, void* new_addr, size_t size, size_t alignment, bool* zero,
                 bool* commit, unsigned arena_ind);
  void* rest[8];  // dalloc, destroy, commit, decommit, purge_lazy, purge_forced, split, merge
};
using MallctlFn = int (*)(const char* name, void* oldp, size_t* oldlenp, void* newp, size_t newlen);

ExtentHooks* original_hooks = nullptr;  // the arena's hooks before ours; set once
ExtentHooks huge_hooks;                 // a copy of them with `alloc` wrapped

void* AllocAdvisedHuge(ExtentHooks* /*hooks*/, void* new_addr, size_t size, size_t alignment,
                       bool* zero, bool* commit, unsigned arena_ind) {
  void* p =
      original_hooks->alloc(original_hooks, new_addr, size, alignment, zero, commit, arena_ind);
#ifdef MADV_HUGEPAGE
  constexpr uintptr_t kHuge = kHugePageBytes;
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(p) + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(p) + size) & ~(kHuge - 1);
  // Advice only; a refusal leaves the mapping as it was.
  if (p != nullptr && end > begin) {
    madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
  }
#endif
  return p;
}

size_t InstallHugeHooks() {
  if (!TransparentHugePagesEnabled()) return 0;
  auto mallctl = reinterpret_cast<MallctlFn>(dlsym(RTLD_DEFAULT, "mallctl"));
  if (mallctl == nullptr) return 0;  // not jemalloc
  size_t threshold = 0;
  size_t len = sizeof(threshold);
  if (mallctl("opt.oversize_threshold", &threshold, &len, nullptr, 0) != 0 || threshold == 0) {
    return 0;
  }
  // The oversize arena is created by the first allocation that needs it: make one, and ask
  // which arena holds it.
  void* volatile probe = std::malloc(threshold);
  if (probe == nullptr) return 0;
  void* probe_ptr = probe;
  unsigned arena = 0;
  len = sizeof(arena);
  const int looked_up = mallctl("arenas.lookup", &arena, &len, &probe_ptr, sizeof(probe_ptr));
  std::free(probe);
  if (looked_up != 0) return 0;
  const std::string name = "arena." + std::to_string(arena) + ".extent_hooks";
  ExtentHooks* old = nullptr;
  len = sizeof(old);
  if (mallctl(name.c_str(), &old, &len, nullptr, 0) != 0 || old == nullptr ||
      old->alloc == nullptr) {
    return 0;
  }
  original_hooks = old;
  huge_hooks = *old;
  huge_hooks.alloc = &AllocAdvisedHuge;
  ExtentHooks* wrapped = &huge_hooks;
  if (mallctl(name.c_str(), nullptr, nullptr, &wrapped, sizeof(wrapped)) != 0) return 0;
  return threshold;
}

}  // namespace

size_t HugePagesForLargeAllocations() {
  static std::once_flag once;
  static size_t threshold = 0;
  std::call_once(once, [] { threshold = InstallHugeHooks(); });
  return threshold;
}

bool TransparentHugePagesEnabled() {
  auto mode = ReadFile("/sys/kernel/mm/transparent_hugepage/enabled");
  return mode.ok() && mode->find("[never]") == std::string::npos;
}

bool KernelCollapsesHugePages() {
  if (!TransparentHugePagesEnabled()) return false;
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
