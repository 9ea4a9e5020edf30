#include "worker_pool.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <mutex>

namespace mpipc_driver {
namespace {

// A job that blocks until a later job runs must not keep that job from running (a get() waiting
// for a put()): the pool starts a thread for it.
TEST(WorkerPool, ABlockedJobDoesNotHoldUpTheNext) {
  WorkerPool pool;
  std::promise<void> released;
  std::future<void> release = released.get_future();
  std::promise<void> first_done;
  pool.Submit([&] {
    release.wait();
    first_done.set_value();
  });
  pool.Submit([&] { released.set_value(); });
  first_done.get_future().wait();
  EXPECT_EQ(pool.threads_started(), 2u);
}

// Jobs submitted one after another, each finished before the next, reuse one thread: an actor
// serving thousands of requests creates as many threads as were ever in flight at once.
TEST(WorkerPool, SequentialJobsReuseOneThread) {
  WorkerPool pool;
  for (int i = 0; i < 1000; ++i) {
    std::promise<void> done;
    pool.Submit([&] { done.set_value(); });
    done.get_future().wait();
  }
  // The thread signals `done` before it goes back to wait, so a submit can find it still busy;
  // what must not happen is a thread per job.
  EXPECT_LE(pool.threads_started(), 8u);
}

// N jobs that all wait for each other (a barrier) complete: each got a thread.
TEST(WorkerPool, EveryJobInFlightGetsAThread) {
  WorkerPool pool;
  constexpr int kJobs = 16;
  std::mutex mu;
  std::condition_variable cv;
  int arrived = 0;
  std::promise<void> all_done;
  int finished = 0;
  for (int i = 0; i < kJobs; ++i) {
    pool.Submit([&] {
      std::unique_lock<std::mutex> lock(mu);
      ++arrived;
      cv.notify_all();
      cv.wait(lock, [&] { return arrived == kJobs; });
      if (++finished == kJobs) all_done.set_value();
    });
  }
  all_done.get_future().wait();
  EXPECT_EQ(pool.threads_started(), static_cast<size_t>(kJobs));
}

}  // namespace
}  // namespace mpipc_driver
