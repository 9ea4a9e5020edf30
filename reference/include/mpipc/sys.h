// The system-call seam: every syscall mpipc makes on a descriptor goes through here.
//
// Each wrapper retries EINTR itself (the one place that does so), and reports failure as -1 with
// errno set, like the call it wraps; the *Exact/*All helpers additionally loop over short reads and
// writes. Tests replace the raw calls with fault-injecting ones through ScopedSysOverride (short
// reads and writes, EINTR storms, ECONNRESET, ...).
//
// Thread-safety: the wrappers are as thread-safe as the calls they wrap. Installing an override is
// not synchronised with concurrent calls; do it in a test's single-threaded setup only. Overrides
// are per process (a forked child inherits the one in force).
//
// Side effect of linking: in AddressSanitizer builds whose runtime predates LLVM 18 (no fork
// handler of its own), sys.cc registers a pthread_atfork handler, at start-up, that holds ASan's
// allocator, stack-depot and thread-registry locks across fork(), so that a child forked from a
// multi-threaded process can allocate. Other builds register nothing.

#ifndef MPIPC_SYS_H_
#define MPIPC_SYS_H_

#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <chrono>
#include <cstddef>
#include <optional>

namespace mpipc::sys {

// The raw calls, replaceable in tests. Defaults are the libc functions.
struct Ops {
  ssize_t (*read)(int fd, void* buf, size_t n);
  ssize_t (*writev)(int fd, const struct iovec* iov, int iovcnt);
  ssize_t (*sendmsg)(int fd, const struct msghdr* msg, int flags);
  int (*poll)(struct pollfd* fds, nfds_t nfds, int timeout_ms);
  int (*close)(int fd);
  int (*accept4)(int fd, struct sockaddr* addr, socklen_t* len, int flags);
  int (*connect)(int fd, const struct sockaddr* addr, socklen_t len);
};

const Ops& DefaultOps() noexcept;
Ops& CurrentOps() noexcept;

// Installs `ops` for the lifetime of the object, restoring the previous table afterwards.
class ScopedSysOverride {
 public:
  explicit ScopedSysOverride(const Ops& ops) : saved_(CurrentOps()) { CurrentOps() = ops; }
  ~ScopedSysOverride() { CurrentOps() = saved_; }
  ScopedSysOverride(const ScopedSysOverride&) = delete;
  ScopedSysOverride& operator=(const ScopedSysOverride&) = delete;

 private:
  Ops saved_;
};

using Clock = std::chrono::steady_clock;
// A deadline; nullopt means "no limit".
using Deadline = std::optional<Clock::time_point>;

// Converts a Python-style timeout in seconds (nullopt = forever, <= 0 = now) to a deadline.
Deadline DeadlineAfter(std::optional<double> timeout_seconds);

// read(2), EINTR retried. May return fewer bytes than asked; 0 at end of file.
ssize_t Read(int fd, void* buf, size_t n);

// Reads until `n` bytes arrived or end of file. Returns the count read (< n only at EOF), or -1
// with errno set on error.
ssize_t ReadExact(int fd, void* buf, size_t n);

// Writes every byte of `iov` (looping over short writes) without raising SIGPIPE: a socket is
// written with sendmsg(MSG_NOSIGNAL); a pipe with writev while SIGPIPE is blocked for this thread
// (and a SIGPIPE it caused discarded), unless the process ignores SIGPIPE already. Returns 0, or
// -1 with errno set (EPIPE for a closed peer).
int WriteAll(int fd, const struct iovec* iov, int iovcnt, bool is_socket);

// poll(2) until `deadline`, EINTR retried with the remaining time. Returns the number of ready
// descriptors (0 on timeout), or -1 with errno set.
int Poll(struct pollfd* fds, nfds_t nfds, const Deadline& deadline);

// accept4(2), EINTR retried (ECONNABORTED too: the aborted peer is simply skipped).
int Accept(int fd, struct sockaddr* addr, socklen_t* len, int flags);

// connect(2) on a blocking socket. An EINTR is not retried as a second connect (which would fail
// with EALREADY) but waited out with poll() and read from SO_ERROR. Returns 0, or -1 with errno.
int Connect(int fd, const struct sockaddr* addr, socklen_t len);

// close(2). EINTR is not retried (on Linux the descriptor is released anyway). Returns 0 or -1.
int Close(int fd);

}  // namespace mpipc::sys

#endif  // MPIPC_SYS_H_
