#include "worker_pool.h"

#include <thread>
#include <utility>

namespace mpipc_driver {

void WorkerPool::Submit(std::function<void()> job) {
  bool start = false;
  {
    const std::lock_guard<std::mutex> lock(mu_);
    jobs_.push_back(std::move(job));
    // Each idle thread takes one job; a job beyond them would wait behind a job that may block.
    start = jobs_.size() > idle_;
    if (start) {
      ++started_;
      ++live_;
    }
  }
  if (start) {
    try {
      std::thread([this] { Loop(); }).detach();
    } catch (...) {  // no thread: the job stays queued for a thread that frees up
      const std::lock_guard<std::mutex> lock(mu_);
      --started_;
      --live_;
      throw;
    }
  } else {
    cv_.notify_one();
  }
}

size_t WorkerPool::threads_started() const {
  const std::lock_guard<std::mutex> lock(mu_);
  return started_;
}

WorkerPool::~WorkerPool() {
  std::unique_lock<std::mutex> lock(mu_);
  stopping_ = true;
  cv_.notify_all();
  left_cv_.wait(lock, [this] { return live_ == 0; });
}

void WorkerPool::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (jobs_.empty()) {
      ++idle_;
      cv_.wait(lock, [this] { return !jobs_.empty() || stopping_; });
      --idle_;
      if (jobs_.empty()) {  // stopping, and nothing left to run
        --live_;
        left_cv_.notify_all();
        return;  // touches nothing of the pool after the lock is released
      }
    }
    std::function<void()> job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    job();
    job = nullptr;  // destroy what it captured outside the lock
    lock.lock();
  }
}

}  // namespace mpipc_driver
