// Shared helpers for the reference's unit tests (reference/src/*_test.cc): exception matchers,
// timing, raw-byte helpers, a background writer thread, and fork/wait/temp-directory plumbing.
// Test-only and header-only; nothing here is part of the library.

#ifndef MPIPC_REFERENCE_SRC_TEST_SUPPORT_H_
#define MPIPC_REFERENCE_SRC_TEST_SUPPORT_H_

#include <errno.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include "mpipc/connection.h"
#include "mpipc/errors.h"
#include "mpipc/queue_core.h"

// MPIPC_TEST_UNDER_TSAN / MPIPC_TEST_UNDER_SANITIZER: defined in TSan, resp. ASan or TSan,
// builds (GCC spells the test __SANITIZE_*__, Clang __has_feature).
#if defined(__SANITIZE_THREAD__)
#define MPIPC_TEST_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MPIPC_TEST_UNDER_TSAN 1
#endif
#endif
#if defined(MPIPC_TEST_UNDER_TSAN) || defined(__SANITIZE_ADDRESS__)
#define MPIPC_TEST_UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MPIPC_TEST_UNDER_SANITIZER 1
#endif
#endif

namespace mpipc::testing_support {

using Clock = std::chrono::steady_clock;

// True in ASan and TSan builds, whose allocators and shadow memory make resident-size figures
// measure the sanitizer rather than the code (tests of memory use skip there).
#ifdef MPIPC_TEST_UNDER_SANITIZER
inline constexpr bool kUnderSanitizer = true;
#else
inline constexpr bool kUnderSanitizer = false;
#endif

inline double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// ---------------------------------------------------------------------------------------------
// Exceptions

// Checks that `f` throws exactly E (not a subclass) with what() == `what`, or, when `prefix` is
// set, with what() starting with `what`. An OSError must also carry no errno (Python's plain
// OSError('...')).
template <typename E, typename F>
testing::AssertionResult ThrowsExactly(F&& f, std::string_view what, bool prefix = false) {
  try {
    std::forward<F>(f)();
  } catch (const E& e) {
    if (typeid(e) != typeid(E)) {
      return testing::AssertionFailure() << "threw " << typeid(e).name() << ", not exactly "
                                         << typeid(E).name() << ": " << e.what();
    }
    const std::string_view got = e.what();
    if (prefix ? !got.starts_with(what) : got != what) {
      return testing::AssertionFailure() << "what() is '" << got << "', expected "
                                         << (prefix ? "a prefix " : "") << "'" << what << "'";
    }
    if constexpr (std::is_same_v<E, OSError>) {
      if (e.code() != std::error_code()) {
        return testing::AssertionFailure() << "unexpected errno " << e.code().value();
      }
    }
    return testing::AssertionSuccess();
  } catch (const std::exception& e) {
    return testing::AssertionFailure() << "threw " << typeid(e).name() << ": " << e.what();
  }
  return testing::AssertionFailure() << "did not throw";
}

// Checks that `f` throws an OSError carrying errno `errnum` (generic category), Python name
// `python_name` and what() "[Errno N] strerror(N)".
template <typename F>
testing::AssertionResult ThrowsErrno(F&& f, int errnum, std::string_view python_name) {
  try {
    std::forward<F>(f)();
  } catch (const OSError& e) {
    if (e.code().value() != errnum || e.code().category() != std::generic_category()) {
      return testing::AssertionFailure() << "errno " << e.code().value() << ": " << e.what();
    }
    if (e.python_name() != python_name) {
      return testing::AssertionFailure() << "python_name() is " << e.python_name();
    }
    const std::string expected =
        "[Errno " + std::to_string(errnum) + "] " + std::string(std::strerror(errnum));
    if (e.what() != expected) {
      return testing::AssertionFailure() << "what() is '" << e.what() << "'";
    }
    return testing::AssertionSuccess();
  } catch (const std::exception& e) {
    return testing::AssertionFailure() << "threw " << typeid(e).name() << ": " << e.what();
  }
  return testing::AssertionFailure() << "did not throw";
}

// Runs `f` and returns the exception of exactly type E it throws; records a failure (and returns
// nullopt) when it throws nothing or something else.
template <typename E, typename F>
std::optional<E> Capture(F&& f) {
  try {
    std::forward<F>(f)();
  } catch (const E& e) {
    if (typeid(e) != typeid(E)) {
      ADD_FAILURE() << "threw a subclass " << typeid(e).name() << ": " << e.what();
      return std::nullopt;
    }
    return e;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw " << typeid(e).name() << ": " << e.what();
    return std::nullopt;
  }
  ADD_FAILURE() << "threw nothing";
  return std::nullopt;
}

// Expects `stmt` to throw exactly `Type` whose what() is `msg`.
#define EXPECT_THROW_MSG(stmt, Type, msg)                                        \
  do {                                                                           \
    SCOPED_TRACE(#stmt);                                                         \
    const auto caught_ = ::mpipc::testing_support::Capture<Type>([&] { stmt; }); \
    if (caught_) {                                                               \
      EXPECT_EQ(std::string(caught_->what()), (msg));                            \
    }                                                                            \
  } while (0)

// ---------------------------------------------------------------------------------------------
// Bytes

// The bytes `bytes` (each 0..255) as a string.
inline std::string Bytes(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes) s.push_back(static_cast<char>(b));
  return s;
}

// Lower-case hex of `bytes`, two digits a byte, bytes joined by `separator`.
inline std::string Hex(std::string_view bytes, std::string_view separator = "") {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (const unsigned char c : bytes) {
    if (!out.empty()) out += separator;
    out += kDigits[c >> 4];
    out += kDigits[c & 0xf];
  }
  return out;
}

// Reads whatever is already queued on a socket without blocking.
inline std::string DrainSocket(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t r = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (r <= 0) break;
    out.append(buf, static_cast<size_t>(r));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Threads and processes

// Runs `send` on its own thread. Join() waits for it and returns what it threw. If the test leaves
// early (a failed ASSERT, an exception), the destructor first closes `reader`, so that a writer
// blocked on a full buffer fails with EPIPE instead of hanging, then joins.
class BackgroundWriter {
 public:
  BackgroundWriter(Connection& reader, std::function<void()> send)
      : reader_(reader), thread_([this, send = std::move(send)] {
          try {
            send();
          } catch (...) {
            error_ = std::current_exception();
          }
        }) {}
  ~BackgroundWriter() {
    if (thread_.joinable()) {
      reader_.close();
      thread_.join();
    }
  }
  BackgroundWriter(const BackgroundWriter&) = delete;
  BackgroundWriter& operator=(const BackgroundWriter&) = delete;
  std::exception_ptr Join() {
    thread_.join();
    return error_;
  }

 private:
  Connection& reader_;
  std::exception_ptr error_;
  std::thread thread_;
};

// Waits for a forked child and returns its exit status, or -1 if it did not exit normally.
inline int WaitChild(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Forks a child that runs `body` and exits with its result (97 if it threw), after flushing the
// queues' feeder threads and stderr. The child dies with this process, so a test that fails
// before it waits for its children leaves none behind (they would hold the runner's pipes open).
inline pid_t Fork(const std::function<int()>& body) {
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork");
  if (pid == 0) {
    int code = 97;
    try {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() == parent) code = body();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child %d threw %s: %s\n", getpid(), typeid(e).name(), e.what());
    }
    FlushQueuesAtExit();
    std::fflush(stderr);
    _exit(code);
  }
  return pid;
}

// Reaps `pid` if it has exited: its exit code or -signal; nullopt while it runs.
inline std::optional<int> Reap(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, WNOHANG) != pid) return std::nullopt;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

// Waits for `pid` until `deadline`, then kills it. Exit code, -signal, or -1000 on timeout (or
// when `pid` cannot be waited for).
inline int WaitExit(pid_t pid, Clock::time_point deadline) {
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (r < 0 || left <= 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      if (pidfd >= 0) ::close(pidfd);
      return -1000;
    }
    if (pidfd >= 0) {
      struct pollfd p {
        pidfd, POLLIN, 0
      };
      ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 1000)));
    } else {
      ::usleep(1000);
    }
  }
  if (pidfd >= 0) ::close(pidfd);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

// A private temporary directory under $TMPDIR (or /tmp), removed with its contents.
class TempDir {
 public:
  TempDir() {
    std::string templ = (std::filesystem::temp_directory_path() / "mpipc-test-XXXXXX").string();
    if (::mkdtemp(templ.data()) == nullptr) {
      throw std::system_error(errno, std::generic_category(), "mkdtemp");
    }
    path_ = templ;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // The path of `name` inside the directory.
  std::string File(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace mpipc::testing_support

#endif  // MPIPC_REFERENCE_SRC_TEST_SUPPORT_H_
