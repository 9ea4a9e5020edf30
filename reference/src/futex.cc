#include "futex.h"

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>

namespace mpipc::internal {

namespace {

std::atomic<pid_t> g_pid{0};
std::atomic<uint64_t> g_fork_generation{0};

void AfterForkInChild() {
  g_pid.store(static_cast<pid_t>(syscall(SYS_getpid)), std::memory_order_relaxed);
  g_fork_generation.fetch_add(1, std::memory_order_relaxed);
}

struct AtForkRegistration {
  AtForkRegistration() { pthread_atfork(nullptr, nullptr, &AfterForkInChild); }
};
const AtForkRegistration g_registration;

}  // namespace

bool FutexWait(std::atomic<uint32_t>* word, uint32_t expected, const sys::Deadline& deadline) {
  struct timespec ts {};
  struct timespec* tsp = nullptr;
  if (deadline) {
    const auto left = *deadline - sys::Clock::now();
    if (left <= sys::Clock::duration::zero()) return false;
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
    ts.tv_sec = static_cast<time_t>(ns / 1000000000);
    ts.tv_nsec = static_cast<long>(ns % 1000000000);  // NOLINT(google-runtime-int)
    tsp = &ts;
  }
  const long r = syscall(SYS_futex, reinterpret_cast<uint32_t*>(word),  // NOLINT
                         FUTEX_WAIT, expected, tsp, nullptr, 0);
  if (r == -1 && errno == ETIMEDOUT) return false;
  return true;
}

void FutexWake(std::atomic<uint32_t>* word, int count) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE, count, nullptr, nullptr, 0);
}

bool ProcessAlive(pid_t pid) {
  if (pid <= 0) return false;
  if (kill(pid, 0) != 0 && errno == ESRCH) return false;
  // kill() succeeds on a zombie: a process killed but not yet reaped holds nothing any more.
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  FILE* f = std::fopen(path, "re");
  if (f == nullptr) return errno != ENOENT;
  char buf[512];
  const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  // The state follows the last ')' (the command name may contain spaces and parentheses).
  const char* close = std::strrchr(buf, ')');
  if (close == nullptr || close[1] == '\0' || close[2] == '\0') return true;
  const char state = close[2];
  return state != 'Z' && state != 'X';
}

pid_t CurrentPid() {
  pid_t p = g_pid.load(std::memory_order_relaxed);
  if (p == 0) {
    p = static_cast<pid_t>(syscall(SYS_getpid));
    g_pid.store(p, std::memory_order_relaxed);
  }
  return p;
}

uint64_t ForkGeneration() { return g_fork_generation.load(std::memory_order_relaxed); }

}  // namespace mpipc::internal
