// Transparent huge pages for large, long-lived, randomly read arrays (an index's graph and
// vectors, the catalog's item table). With 4 KiB pages nearly every random row costs a TLB miss
// and a page walk (two-dimensional under a hypervisor); a 2 MiB page covers 512 times as much.
#ifndef ENCORE_COMMON_HUGE_PAGES_H_
#define ENCORE_COMMON_HUGE_PAGES_H_

#include <cstddef>
#include <future>
#include <utility>
#include <vector>

namespace encore::common {

// The size of a transparent huge page on x86-64.
inline constexpr size_t kHugePageBytes = size_t{2} << 20;

// Asks the kernel to back the whole 2 MiB pages inside [p, p + bytes) with transparent huge
// pages (madvise MADV_HUGEPAGE), collapsing the ones already faulted in (MADV_COLLAPSE, Linux
// 6.1+). Returns the bytes of that range now in huge pages; 0 where the kernel declines (older
// kernels, THP disabled, no memory to compact) or the range holds no whole 2 MiB page. The
// contents are unchanged, and readers may run meanwhile.
size_t AdviseHugePages(const void* p, size_t bytes);

// Whether transparent huge pages are available: /sys/kernel/mm/transparent_hugepage/enabled is
// readable and not "never".
bool TransparentHugePagesEnabled();

// Whether this kernel collapses memory into transparent huge pages on request: THP not "never"
// in /sys/kernel/mm/transparent_hugepage/enabled, and Linux 6.1+ (MADV_COLLAPSE).
bool KernelCollapsesHugePages();

// Makes the allocator back every large allocation with transparent huge pages from its first
// touch, not only after a collapse: each new mapping for jemalloc's oversize arena (allocations
// of `opt.oversize_threshold`, 8 MiB by default, and up) is advised MADV_HUGEPAGE before
// anything touches it. Loading a snapshot fills ~600 MB of such arrays at 1M items; with 4 KiB
// pages that is ~150k page faults, and on a guest whose faults are expensive (PVM) they made up
// most of the time to ready. Small allocations keep 4 KiB pages, so resident memory grows by at
// most the unused tail of each large mapping's last huge page.
// Returns the size from which allocations are advised, or 0 where this is not possible: not
// jemalloc (glibc's malloc has its own switch, GLIBC_TUNABLES=glibc.malloc.hugetlb=1), no
// oversize arena, THP "never", or the allocator refused. Idempotent; call it before the large
// allocations it should cover.
size_t HugePagesForLargeAllocations();

// AdviseHugePages over several ranges on a background thread: collapsing hundreds of MB takes
// over a second, which would hold back the time to ready. The ranges must stay allocated and
// unmoved until the collapse ends; the destructor waits for it, so declare a HugePageCollapse
// after (below) the arrays it covers.
class HugePageCollapse {
 public:
  using Range = std::pair<const void*, size_t>;

  HugePageCollapse() = default;  // covers nothing: bytes() is 0
  // Starts the collapse (runs it right here when no thread can be started).
  explicit HugePageCollapse(std::vector<Range> ranges);
  HugePageCollapse(HugePageCollapse&&) = default;
  HugePageCollapse& operator=(HugePageCollapse&&) = default;
  ~HugePageCollapse();

  // Waits for the collapse; the bytes now in huge pages.
  size_t bytes() const;

 private:
  std::shared_future<size_t> done_;
};

}  // namespace encore::common

#endif  // ENCORE_COMMON_HUGE_PAGES_H_
