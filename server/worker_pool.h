// Fixed-size thread pool with a bounded queue: the server's admission control.
#ifndef ENCORE_SERVER_WORKER_POOL_H_
#define ENCORE_SERVER_WORKER_POOL_H_

#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace encore::server {

// Runs tasks on `threads` workers. At most `max_queue` tasks wait; beyond that TrySubmit
// refuses at once, so overload turns into fast RESOURCE_EXHAUSTED answers rather than latency.
// Thread safety: all methods are thread-safe.
class WorkerPool {
 public:
  // REQUIRES: threads >= 1, max_queue >= 0.
  WorkerPool(int threads, int max_queue);
  // Runs the queued tasks, then joins the workers.
  ~WorkerPool();

  // Queues `task`; false (task dropped) when the queue is full or the pool is stopping.
  bool TrySubmit(std::function<void()> task);
  // Stops accepting, drains the queue and joins. Idempotent.
  void Stop();
  // Tasks waiting (not running).
  int queued() const;

 private:
  void Loop();

  const int max_queue_;
  mutable absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
  std::once_flag join_once_;
};

}  // namespace encore::server

#endif  // ENCORE_SERVER_WORKER_POOL_H_
