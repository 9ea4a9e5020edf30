#include "mpipc/sys.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cmath>
#include <cstring>
#include <optional>
#include <vector>

namespace mpipc::sys {

namespace {

ssize_t RawRead(int fd, void* buf, size_t n) { return ::read(fd, buf, n); }
ssize_t RawWritev(int fd, const struct iovec* iov, int iovcnt) { return ::writev(fd, iov, iovcnt); }
ssize_t RawSendmsg(int fd, const struct msghdr* msg, int flags) {
  return ::sendmsg(fd, msg, flags);
}
int RawPoll(struct pollfd* fds, nfds_t nfds, int timeout_ms) {
  return ::poll(fds, nfds, timeout_ms);
}
int RawClose(int fd) { return ::close(fd); }
int RawAccept4(int fd, struct sockaddr* addr, socklen_t* len, int flags) {
  return ::accept4(fd, addr, len, flags);
}
int RawConnect(int fd, const struct sockaddr* addr, socklen_t len) {
  return ::connect(fd, addr, len);
}

constexpr Ops kDefaultOps = {&RawRead,  &RawWritev,  &RawSendmsg, &RawPoll,
                             &RawClose, &RawAccept4, &RawConnect};

}  // namespace

const Ops& DefaultOps() noexcept { return kDefaultOps; }

Ops& CurrentOps() noexcept {
  static Ops ops = kDefaultOps;
  return ops;
}

Deadline DeadlineAfter(std::optional<double> timeout_seconds) {
  if (!timeout_seconds) return std::nullopt;
  const double t = *timeout_seconds;
  if (!(t > 0)) return Clock::now();  // also catches NaN
  // Clamp so that huge timeouts do not overflow the clock's representation (~292 years).
  const double capped = std::min(t, 1e9);
  return Clock::now() +
         std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(capped));
}

ssize_t Read(int fd, void* buf, size_t n) {
  for (;;) {
    const ssize_t r = CurrentOps().read(fd, buf, n);
    if (r >= 0 || errno != EINTR) return r;
  }
}

ssize_t ReadExact(int fd, void* buf, size_t n) {
  auto* p = static_cast<char*>(buf);
  size_t got = 0;
  while (got < n) {
    const ssize_t r = Read(fd, p + got, n - got);
    if (r < 0) return -1;
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  return static_cast<ssize_t>(got);
}

namespace {

// Blocks SIGPIPE for the calling thread while a pipe write is in flight; on destruction discards
// a SIGPIPE the write raised, then restores the mask.
// - The process ignores SIGPIPE (as Python does, and the drivers): one system call (reading the
//   disposition), nothing else; the kernel discards the write's SIGPIPE. (A thread that also
//   blocks SIGPIPE keeps it pending until it unblocks it, when it is discarded as ignored. A
//   thread that restores SIG_DFL while another writes to a closed pipe may lose the process:
//   the price of not paying two more calls per write in every process that ignores SIGPIPE.)
// - The thread did not block SIGPIPE: three calls (disposition, block, restore). None can be
//   pending for it (it would have been delivered), so one pending after EPIPE is ours: consumed.
// - The thread already blocks SIGPIPE: the mask is left alone, and a SIGPIPE pending before the
//   write (the caller's) is kept; only one our write added is consumed.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    struct sigaction current {};
    if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_IGN) return;
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGPIPE);
    if (pthread_sigmask(SIG_BLOCK, &block, &old_mask_) != 0) return;
    active_ = true;
    was_blocked_ = sigismember(&old_mask_, SIGPIPE) == 1;
    if (was_blocked_) {
      sigset_t pending;
      sigemptyset(&pending);
      sigpending(&pending);
      was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    }
  }
  ~SigpipeGuard() {
    if (!active_) return;
    const int saved_errno = errno;
    if (raised_ && !was_pending_) {
      sigset_t only;
      sigemptyset(&only);
      sigaddset(&only, SIGPIPE);
      const struct timespec zero {};
      while (sigtimedwait(&only, nullptr, &zero) == -1 && errno == EINTR) {
      }
    }
    if (!was_blocked_) pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
    errno = saved_errno;
  }
  void note_epipe() { raised_ = true; }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t old_mask_{};
  bool active_ = false;
  bool was_blocked_ = false;
  bool was_pending_ = false;
  bool raised_ = false;
};

ssize_t WriteOnce(int fd, struct iovec* iov, int count, bool is_socket) {
  if (is_socket) {
    struct msghdr msg {};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(count);
    return CurrentOps().sendmsg(fd, &msg, MSG_NOSIGNAL);
  }
  return CurrentOps().writev(fd, iov, count);
}

}  // namespace

int WriteAll(int fd, const struct iovec* iov, int iovcnt, bool is_socket) {
  std::optional<SigpipeGuard> guard;
  if (!is_socket) guard.emplace();
  // Copy so that short writes can advance the vector without touching the caller's; the usual
  // header + payload pair stays on the stack.
  const auto n = static_cast<size_t>(std::max(iovcnt, 0));
  std::array<struct iovec, 4> inline_copy;
  std::vector<struct iovec> heap_copy;
  struct iovec* v = inline_copy.data();
  if (n > inline_copy.size()) {
    heap_copy.resize(n);
    v = heap_copy.data();
  }
  std::copy(iov, iov + n, v);
  size_t i = 0;
  while (i < n) {
    if (v[i].iov_len == 0) {
      ++i;
      continue;
    }
    const int count = static_cast<int>(std::min<size_t>(n - i, IOV_MAX));
    const ssize_t w = WriteOnce(fd, &v[i], count, is_socket);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EPIPE && guard) guard->note_epipe();
      return -1;
    }
    auto written = static_cast<size_t>(w);
    while (i < n && written >= v[i].iov_len) {
      written -= v[i].iov_len;
      ++i;
    }
    if (i < n) {
      v[i].iov_base = static_cast<char*>(v[i].iov_base) + written;
      v[i].iov_len -= written;
    }
  }
  return 0;
}

int Poll(struct pollfd* fds, nfds_t nfds, const Deadline& deadline) {
  for (;;) {
    int timeout_ms = -1;
    if (deadline) {
      const auto left = *deadline - Clock::now();
      if (left <= Clock::duration::zero()) {
        timeout_ms = 0;
      } else {
        // Round up so that we never wake before the deadline and spin.
        const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
        timeout_ms = static_cast<int>(std::min<int64_t>(ms, int64_t{1} << 30));
      }
    }
    const int r = CurrentOps().poll(fds, nfds, timeout_ms);
    if (r > 0) return r;
    if (r == 0) {
      // A clamped wait can end before a far deadline; keep waiting until it is really reached.
      if (deadline && timeout_ms > 0 && Clock::now() < *deadline) continue;
      return 0;
    }
    if (errno != EINTR) return r;
  }
}

int Close(int fd) { return CurrentOps().close(fd); }

int Accept(int fd, struct sockaddr* addr, socklen_t* len, int flags) {
  const socklen_t original = len != nullptr ? *len : 0;
  for (;;) {
    if (len != nullptr) *len = original;
    const int r = CurrentOps().accept4(fd, addr, len, flags);
    if (r >= 0 || (errno != EINTR && errno != ECONNABORTED)) return r;
  }
}

int Connect(int fd, const struct sockaddr* addr, socklen_t len) {
  if (CurrentOps().connect(fd, addr, len) == 0) return 0;
  if (errno != EINTR) return -1;
  struct pollfd p {
    fd, POLLOUT, 0
  };
  if (Poll(&p, 1, std::nullopt) < 0) return -1;
  int error = 0;
  socklen_t error_len = sizeof error;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &error_len) != 0) return -1;
  if (error != 0) {
    errno = error;
    return -1;
  }
  return 0;
}

}  // namespace mpipc::sys

// Fork safety under AddressSanitizer before LLVM 18 (and GCC's libasan before 14, which derives
// from it). Those runtimes install no fork handler: a child forked while another thread holds a
// lock of ASan's allocator, stack depot or thread registry blocks forever in its first malloc
// (seen as actors that never answer in the ASan conformance run; sys_test.cc has the repro).
// LLVM 18 takes exactly these locks around fork itself, so newer runtimes are left alone, as
// taking them twice would deadlock. The runtime's entry points are referenced weakly: a runtime
// without them (or a build without ASan) installs nothing. Registered from a constructor, early:
// prepare handlers run in reverse order of registration and child handlers in order, so ours
// lock last before fork and unlock first in the child, before any handler that allocates.
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MPIPC_ASAN 1
#endif
#endif
#if !defined(MPIPC_ASAN) && defined(__SANITIZE_ADDRESS__)
#define MPIPC_ASAN 1
#endif
#if defined(MPIPC_ASAN) && \
    ((defined(__clang__) && __clang_major__ < 18) || (!defined(__clang__) && __GNUC__ < 14))

namespace __lsan {  // NOLINT(bugprone-reserved-identifier): the runtime's own names
[[gnu::weak]] void LockAllocator();
[[gnu::weak]] void UnlockAllocator();
[[gnu::weak]] void LockThreadRegistry();
[[gnu::weak]] void UnlockThreadRegistry();
}  // namespace __lsan
namespace __sanitizer {  // NOLINT(bugprone-reserved-identifier): the runtime's own names
[[gnu::weak]] void StackDepotLockAll();
[[gnu::weak]] void StackDepotUnlockAll();
}  // namespace __sanitizer

namespace mpipc::sys {
namespace {

void AsanBeforeFork() {
  __lsan::LockThreadRegistry();
  __lsan::LockAllocator();
  __sanitizer::StackDepotLockAll();
}

void AsanAfterFork() {
  __sanitizer::StackDepotUnlockAll();
  __lsan::UnlockAllocator();
  __lsan::UnlockThreadRegistry();
}

[[gnu::constructor(101)]] void InstallAsanForkHandler() {
  if (&__lsan::LockAllocator == nullptr || &__lsan::UnlockAllocator == nullptr ||
      &__lsan::LockThreadRegistry == nullptr || &__lsan::UnlockThreadRegistry == nullptr ||
      &__sanitizer::StackDepotLockAll == nullptr || &__sanitizer::StackDepotUnlockAll == nullptr) {
    return;
  }
  ::pthread_atfork(&AsanBeforeFork, &AsanAfterFork, &AsanAfterFork);
}

}  // namespace
}  // namespace mpipc::sys

#endif
