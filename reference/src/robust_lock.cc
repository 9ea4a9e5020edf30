#include "robust_lock.h"

#include <algorithm>
#include <climits>

#include "futex.h"

namespace mpipc::internal {

namespace {
constexpr uint32_t kWaitersBit = 1u << 31;
constexpr int kSpins = 200;

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}
}  // namespace

LockResult RobustTryLock(std::atomic<uint32_t>* word) {
  const auto me = static_cast<uint32_t>(CurrentPid());
  uint32_t v = 0;
  if (word->compare_exchange_strong(v, me, std::memory_order_acquire)) return LockResult::kAcquired;
  const auto owner = static_cast<pid_t>(v & ~kWaitersBit);
  if (!ProcessAlive(owner) &&
      word->compare_exchange_strong(v, me | kWaitersBit, std::memory_order_acquire)) {
    return LockResult::kOwnerDied;
  }
  return LockResult::kTimeout;
}

LockResult RobustLock(std::atomic<uint32_t>* word, const sys::Deadline& deadline) {
  const auto me = static_cast<uint32_t>(CurrentPid());
  for (int i = 0; i < kSpins; ++i) {
    uint32_t v = 0;
    if (word->compare_exchange_weak(v, me, std::memory_order_acquire)) {
      return LockResult::kAcquired;
    }
    CpuRelax();
  }
  for (;;) {
    uint32_t v = word->load(std::memory_order_relaxed);
    if (v == 0) {
      // Others may be sleeping: keep the waiters bit so that our unlock wakes one of them.
      if (word->compare_exchange_weak(v, me | kWaitersBit, std::memory_order_acquire)) {
        return LockResult::kAcquired;
      }
      continue;
    }
    if ((v & kWaitersBit) == 0) {
      if (!word->compare_exchange_weak(v, v | kWaitersBit, std::memory_order_relaxed)) continue;
      v |= kWaitersBit;
    }
    sys::Deadline slice = sys::Clock::now() + kLivenessSlice;
    if (deadline && *deadline < *slice) slice = deadline;
    if (!FutexWait(word, v, slice)) {
      // A slice ended with the lock still held: is its owner still there?
      const auto owner = static_cast<pid_t>(v & ~kWaitersBit);
      if (!ProcessAlive(owner)) {
        if (word->compare_exchange_strong(v, me | kWaitersBit, std::memory_order_acquire)) {
          return LockResult::kOwnerDied;
        }
        continue;
      }
    }
    if (deadline && sys::Clock::now() >= *deadline) {
      uint32_t free_word = 0;
      if (word->compare_exchange_strong(free_word, me | kWaitersBit, std::memory_order_acquire)) {
        return LockResult::kAcquired;
      }
      return LockResult::kTimeout;
    }
  }
}

void RobustUnlock(std::atomic<uint32_t>* word) {
  const uint32_t v = word->exchange(0, std::memory_order_release);
  if ((v & kWaitersBit) != 0) FutexWake(word, 1);
}

}  // namespace mpipc::internal
