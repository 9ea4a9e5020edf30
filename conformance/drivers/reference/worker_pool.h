// WorkerPool: runs jobs on reused threads, starting a new thread only when every thread it has
// is busy, so that a job that blocks (a get(), a join(), a recv) never holds up the next one.
//
// The driver answers each request on a thread of its own (spec/driver-protocol.md: requests may
// block, and later ones must still be served). A thread per request is what it did first; an
// actor serves thousands of requests in a history test, and ThreadSanitizer (LLVM 14) crashes in
// a process forked from a multi-threaded one after about a hundred thread creations (SEGV inside
// its runtime, __tsan::SlotAttachAndLock). A pool creates as many threads as requests were ever
// in flight at once.
//
// Thread-safe. Submit never blocks on a job. Threads are detached and wait for work once started.
// Destroying a pool waits until every job has finished and its threads have left; the driver's
// pools are never destroyed (their jobs may block forever; the process ends without them).

#ifndef MPIPC_CONFORMANCE_DRIVERS_REFERENCE_WORKER_POOL_H_
#define MPIPC_CONFORMANCE_DRIVERS_REFERENCE_WORKER_POOL_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>

namespace mpipc_driver {

class WorkerPool {
 public:
  WorkerPool() = default;
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Runs `job` on an idle thread, or on a new one when there are more queued jobs than idle
  // threads. Exceptions escaping `job` terminate the process: catch them inside.
  void Submit(std::function<void()> job);

  // Threads started so far (for tests).
  size_t threads_started() const;

 private:
  void Loop();

  mutable std::mutex mu_;
  std::condition_variable cv_;              // a job was queued, or the pool is stopping
  std::condition_variable left_cv_;         // a thread left
  std::deque<std::function<void()>> jobs_;  // guarded by mu_
  size_t idle_ = 0;                         // threads waiting for a job; guarded by mu_
  size_t started_ = 0;                      // guarded by mu_
  size_t live_ = 0;                         // threads started and not yet left; guarded by mu_
  bool stopping_ = false;                   // guarded by mu_
};

}  // namespace mpipc_driver

#endif  // MPIPC_CONFORMANCE_DRIVERS_REFERENCE_WORKER_POOL_H_
