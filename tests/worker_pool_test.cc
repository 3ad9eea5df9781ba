#include "server/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>

#include "absl/synchronization/notification.h"

namespace encore::server {
namespace {

TEST(WorkerPoolTest, RunsTasks) {
  std::atomic<int> done{0};
  {
    WorkerPool pool(2, 100);
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(pool.TrySubmit([&] { ++done; }));
  }  // destructor drains
  EXPECT_EQ(done.load(), 50);
}

TEST(WorkerPoolTest, RefusesWhenQueueIsFull) {
  WorkerPool pool(1, 1);
  absl::Notification started, release;
  ASSERT_TRUE(pool.TrySubmit([&] {
    started.Notify();
    release.WaitForNotification();
  }));
  started.WaitForNotification();
  EXPECT_TRUE(pool.TrySubmit([] {}));  // waits in the queue
  EXPECT_EQ(pool.queued(), 1);
  EXPECT_FALSE(pool.TrySubmit([] {}));  // queue full: refused at once
  release.Notify();
  pool.Stop();
  EXPECT_FALSE(pool.TrySubmit([] {}));  // stopped
  pool.Stop();                          // idempotent
}

}  // namespace
}  // namespace encore::server
