#include "harness.h"

#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <exception>
#include <new>
#include <string>
#include <vector>

namespace mpipc_bench {

int64_t NowNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

int64_t Percentile(std::vector<int64_t>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto n = static_cast<double>(v.size());
  const auto k = static_cast<int64_t>(std::ceil(p / 100.0 * n)) - 1;
  return v[static_cast<size_t>(std::clamp<int64_t>(k, 0, static_cast<int64_t>(v.size()) - 1))];
}

namespace {

// Shared (not private) futex operations: the word lives in memory shared across processes.
void FutexWait(std::atomic<uint32_t>* word, uint32_t expected, const timespec* timeout) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT, expected, timeout, nullptr, 0);
}
void FutexWakeAll(std::atomic<uint32_t>* word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

}  // namespace

CrossProcessRun::CrossProcessRun() {
  void* mem =
      mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) throw std::runtime_error("mmap of the benchmark control block failed");
  shared_ = new (mem) Shared();
}

CrossProcessRun::~CrossProcessRun() {
  StopWorkers();
  shared_->~Shared();
  munmap(shared_, sizeof(Shared));
}

void CrossProcessRun::Add(Body body) {
  if (static_cast<int>(bodies_.size()) >= kMaxWorkers) throw std::logic_error("too many workers");
  bodies_.push_back(std::move(body));
}

void CrossProcessRun::Start() {
  shared_->parties = static_cast<uint32_t>(bodies_.size() + 1);
  const pid_t parent = getpid();
  std::vector<int> cpus;  // the CPUs this process may run on, for PinWorkersToCpus()
  if (pin_) {
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    if (sched_getaffinity(0, sizeof allowed, &allowed) == 0) {
      for (int c = 0; c < CPU_SETSIZE; ++c) {
        if (CPU_ISSET(c, &allowed)) cpus.push_back(c);
      }
    }
  }
  for (size_t i = 0; i < bodies_.size(); ++i) {
    std::fflush(nullptr);
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(3);
      if (cpus.size() > 1) {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpus[i % cpus.size()], &one);
        sched_setaffinity(0, sizeof one, &one);  // best effort: unpinned if refused
      }
      int status = 0;
      try {
        for (;;) {
          ArriveAndWait(false);  // start
          if (shared_->stop.load(std::memory_order_acquire) != 0) break;
          shared_->reports[i] = bodies_[i](*shared_, shared_->batch);
          ArriveAndWait(false);  // end
        }
      } catch (const std::exception& e) {
        std::fprintf(stderr, "benchmark worker %zu failed: %s\n", i, e.what());
        status = 1;
      }
      _exit(status);
    }
    pids_.push_back(pid);
  }
}

void CrossProcessRun::ArriveAndWait(bool coordinator) {
  const uint32_t gen = shared_->generation.load(std::memory_order_acquire);
  if (shared_->arrived.fetch_add(1, std::memory_order_acq_rel) + 1 == shared_->parties) {
    shared_->arrived.store(0, std::memory_order_relaxed);
    shared_->generation.fetch_add(1, std::memory_order_release);
    FutexWakeAll(&shared_->generation);
    return;
  }
  // A short spin first: the barrier is outside the timed interval, but a worker that sleeps
  // through a wake-up would start late and lengthen it.
  for (int spin = 0; spin < 2000; ++spin) {
    if (shared_->generation.load(std::memory_order_acquire) != gen) return;
  }
  const timespec slice{0, 100L * 1000 * 1000};
  while (shared_->generation.load(std::memory_order_acquire) == gen) {
    FutexWait(&shared_->generation, gen, coordinator ? &slice : nullptr);
    if (coordinator) CheckWorkers();
  }
}

void CrossProcessRun::CheckWorkers() {
  for (pid_t& pid : pids_) {
    if (pid <= 0) continue;
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      pid = -1;
      throw WorkerFailed("a benchmark worker died (status " + std::to_string(status) + ")");
    }
  }
}

double CrossProcessRun::Iterate(int64_t batch, std::vector<int64_t>* samples) {
  shared_->batch = batch;
  shared_->taken.store(0, std::memory_order_relaxed);
  shared_->sample_count = 0;
  for (auto& r : shared_->reports) r = WorkerReport{};
  ArriveAndWait(true);  // start
  ArriveAndWait(true);  // end
  int64_t begin = INT64_MAX;
  int64_t end = 0;
  last_items_ = 0;
  for (size_t i = 0; i < pids_.size(); ++i) {
    const WorkerReport& r = shared_->reports[i];
    if (r.begin_ns != 0) begin = std::min(begin, r.begin_ns);
    end = std::max(end, r.end_ns);
    last_items_ += r.items;
  }
  if (samples != nullptr) {
    samples->insert(samples->end(), shared_->samples,
                    shared_->samples + std::min(shared_->sample_count, kMaxSamples));
  }
  if (begin == INT64_MAX || end <= begin) return 1e-9;
  return static_cast<double>(end - begin) / 1e9;
}

void CrossProcessRun::StopWorkers() {
  if (pids_.empty()) return;
  bool alive = std::all_of(pids_.begin(), pids_.end(), [](pid_t p) { return p > 0; });
  if (alive) {
    shared_->stop.store(1, std::memory_order_release);
    try {
      ArriveAndWait(true);
    } catch (const WorkerFailed&) {
      alive = false;
    }
  }
  for (const pid_t pid : pids_) {
    if (pid <= 0) continue;
    if (!alive) kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  pids_.clear();
}

}  // namespace mpipc_bench
