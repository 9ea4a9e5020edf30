// Tests of mpipc::Process and the exit hooks (process.h) against Python's multiprocessing.Process
// with the fork start method. The sentinel-dependent tests run twice: with the pidfd sentinel and
// with the pipe sentinel (ForcePipeSentinelForTesting). Children never use gtest assertions: they
// report through exit codes and pipes, and the parent checks. No test sleeps: a child that must be
// running is parked in a blocking read of a "go" pipe after writing a byte to a "ready" pipe.

#include "mpipc/process.h"

#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <typeinfo>
#include <utility>
#include <vector>

#include "mpipc/connection.h"
#include "mpipc/errors.h"
#include "mpipc/wait.h"
#include "test_support.h"

namespace mpipc {
namespace {

using testing_support::Clock;
using testing_support::SecondsSince;
using testing_support::ThrowsExactly;

// A pipe(2) whose ends close on destruction (in the parent; a child exits without unwinding).
class OsPipe {
 public:
  OsPipe() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    r_ = fds[0];
    w_ = fds[1];
  }
  ~OsPipe() {
    close_read();
    close_write();
  }
  OsPipe(const OsPipe&) = delete;
  OsPipe& operator=(const OsPipe&) = delete;

  int r() const { return r_; }
  int w() const { return w_; }
  void close_read() {
    if (r_ >= 0) ::close(r_);
    r_ = -1;
  }
  void close_write() {
    if (w_ >= 0) ::close(w_);
    w_ = -1;
  }
  void write(std::string_view s) const {
    size_t done = 0;
    while (done < s.size()) {
      const ssize_t n = ::write(w_, s.data() + done, s.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      done += static_cast<size_t>(n);
    }
  }
  // Reads one byte; '\0' at end of file.
  char read_byte() const {
    char c = 0;
    ssize_t n = 0;
    do {
      n = ::read(r_, &c, 1);
    } while (n < 0 && errno == EINTR);
    return n == 1 ? c : '\0';
  }
  // Reads until end of file (close the write end first).
  std::string read_all() const {
    std::string out;
    char buf[4096];
    for (;;) {
      const ssize_t n = ::read(r_, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return out;
      out.append(buf, static_cast<size_t>(n));
    }
  }

 private:
  int r_ = -1;
  int w_ = -1;
};

// A child target that reports it runs, then blocks until the parent writes a byte to `go` or
// closes its write end; exits with the byte it read, 0 at end of file. The child closes its own
// copy of `go`'s write end, and dies with the parent should a failing test leave it parked.
std::function<void()> ParkedTarget(const OsPipe& ready, OsPipe& go) {
  return [&ready, &go] {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    go.close_write();
    ready.write("r");
    const char c = go.read_byte();
    throw SystemExit(static_cast<unsigned char>(c));
  };
}

bool IsFifo(int fd) {
  struct stat st {};
  return fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
}

struct Outcome {
  std::optional<int> exitcode;
  std::string stderr_text;
  std::string name;
};

// Runs `target` in a Process whose stderr goes to a pipe, until it exits.
Outcome RunCapturingStderr(std::function<void()> target) {
  OsPipe err;
  Process p([&err, target = std::move(target)] {
    dup2(err.w(), STDERR_FILENO);
    target();
  });
  p.start();
  err.close_write();
  Outcome outcome;
  outcome.stderr_text = err.read_all();
  p.join();
  outcome.exitcode = p.exitcode();
  outcome.name = p.name();
  return outcome;
}

// ---------------------------------------------------------------------------------------------
// Tests run with both sentinel kinds.

class ProcessTest : public testing::TestWithParam<bool> {
 protected:
  void SetUp() override { process_internal::ForcePipeSentinelForTesting(GetParam()); }
  void TearDown() override { process_internal::ForcePipeSentinelForTesting(false); }
  bool pipe_sentinel() const { return GetParam(); }
};

INSTANTIATE_TEST_SUITE_P(Sentinels, ProcessTest, testing::Values(false, true),
                         [](const testing::TestParamInfo<bool>& info) {
                           return info.param ? std::string("pipe") : std::string("pidfd");
                         });

TEST_P(ProcessTest, TargetReturningExitsZero) {
  bool ran_in_parent = false;
  Process p([&ran_in_parent] { ran_in_parent = true; });
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_FALSE(p.is_alive());
  EXPECT_FALSE(ran_in_parent);  // the child's copy changed, not ours
}

TEST_P(ProcessTest, EmptyTargetExitsZero) {
  Process p;
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
}

TEST_P(ProcessTest, SystemExitSetsTheExitCode) {
  for (const int code : {0, 1, 7, 255}) {
    Process p([code] { throw SystemExit(code); });
    p.start();
    p.join();
    EXPECT_EQ(p.exitcode(), code);
  }
  // As os._exit(), the kernel keeps the low 8 bits.
  Process p([] { throw SystemExit(256 + 7); });
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), 7);
}

TEST_P(ProcessTest, SystemExitWithMessagePrintsItAndExitsOne) {
  const Outcome o = RunCapturingStderr([] { throw SystemExit(std::string("bye now")); });
  EXPECT_EQ(o.exitcode, 1);
  EXPECT_EQ(o.stderr_text, "bye now\n");
}

TEST_P(ProcessTest, SystemExitIsNotCaughtAsStdException) {
  Process p([] {
    try {
      throw SystemExit(7);
    } catch (const std::exception&) {
      throw SystemExit(99);
    }
  });
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), 7);
}

TEST_P(ProcessTest, ExceptionExitsOneWithTracebackLine) {
  Outcome o = RunCapturingStderr([] { throw std::runtime_error("boom"); });
  EXPECT_EQ(o.exitcode, 1);
  EXPECT_EQ(o.stderr_text, "Process " + o.name + ":\nstd::runtime_error: boom\n");

  o = RunCapturingStderr([] { throw ValueError("bad value"); });
  EXPECT_EQ(o.exitcode, 1);
  EXPECT_EQ(o.stderr_text, "Process " + o.name + ":\nmpipc::ValueError: bad value\n");

  o = RunCapturingStderr([] { throw 42; });  // not a std::exception: its type is all we know
  EXPECT_EQ(o.exitcode, 1);
  EXPECT_EQ(o.stderr_text, "Process " + o.name + ":\nint\n");
}

TEST_P(ProcessTest, KillGivesMinusNine) {
  OsPipe ready;
  OsPipe go;
  Process p(ParkedTarget(ready, go));
  p.start();
  ASSERT_EQ(ready.read_byte(), 'r');
  EXPECT_TRUE(p.is_alive());
  p.kill();
  p.join();
  EXPECT_EQ(p.exitcode(), -SIGKILL);
  EXPECT_FALSE(p.is_alive());
  p.kill();  // a reaped child is not signalled again: no error
  p.terminate();
  EXPECT_EQ(p.exitcode(), -SIGKILL);
}

TEST_P(ProcessTest, TerminateGivesMinusFifteen) {
  OsPipe ready;
  OsPipe go;
  Process p(ParkedTarget(ready, go));
  p.start();
  ASSERT_EQ(ready.read_byte(), 'r');
  p.terminate();
  p.join();
  EXPECT_EQ(p.exitcode(), -SIGTERM);
}

TEST_P(ProcessTest, JoinTimeoutIsHonouredWhileTheChildRuns) {
  OsPipe ready;
  OsPipe go;
  Process p(ParkedTarget(ready, go));
  p.start();
  ASSERT_EQ(ready.read_byte(), 'r');

  const auto start = Clock::now();
  p.join(0.3);
  const double waited = SecondsSince(start);
  EXPECT_GE(waited, 0.3);
  EXPECT_LT(waited, 30.0);
  EXPECT_TRUE(p.is_alive());
  EXPECT_EQ(p.exitcode(), std::nullopt);

  go.write("\x05");
  p.join(60.0);  // returns as soon as the child exits
  EXPECT_FALSE(p.is_alive());
  EXPECT_EQ(p.exitcode(), 5);
}

TEST_P(ProcessTest, JoinWithZeroOrNegativeTimeoutOnlyChecks) {
  OsPipe ready;
  OsPipe go;
  Process p(ParkedTarget(ready, go));
  p.start();
  ASSERT_EQ(ready.read_byte(), 'r');
  p.join(0.0);
  p.join(-1.0);
  EXPECT_TRUE(p.is_alive());
  go.close_write();  // end of file: the child exits 0
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
}

TEST_P(ProcessTest, JoinIsRepeatable) {
  Process p([] { throw SystemExit(3); });
  p.start();
  p.join();
  p.join();
  p.join(0.0);
  p.join(1.0);
  EXPECT_EQ(p.exitcode(), 3);
}

TEST_P(ProcessTest, SentinelBecomesReadyWhenTheChildExits) {
  OsPipe ready;
  OsPipe go;
  Process p(ParkedTarget(ready, go));
  p.start();
  const int sentinel = p.sentinel();
  EXPECT_EQ(pipe_sentinel(), IsFifo(sentinel));
  ASSERT_EQ(ready.read_byte(), 'r');
  // Running: not ready, neither at once nor after a while.
  EXPECT_TRUE(wait({sentinel}, 0.0).empty());
  EXPECT_TRUE(wait({sentinel}, 0.2).empty());
  EXPECT_TRUE(p.is_alive());

  go.write("\x02");
  const std::vector<Waitable> got = wait({sentinel});
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], Waitable(sentinel));
  if (!pipe_sentinel()) {
    // A pidfd is ready only once the child is waitable: no join needed.
    EXPECT_FALSE(p.is_alive());
  } else {
    p.join();
  }
  EXPECT_EQ(p.exitcode(), 2);
  // Still ready after the child was reaped, and the same descriptor.
  EXPECT_EQ(p.sentinel(), sentinel);
  EXPECT_EQ(wait({sentinel}, 0.0).size(), 1u);
}

TEST_P(ProcessTest, SentinelWorksInWaitWithConnections) {
  auto a_b = Pipe();
  Connection& a = a_b.first;
  Connection& b = a_b.second;
  OsPipe ready;
  OsPipe go;
  Process p(ParkedTarget(ready, go));
  p.start();
  ASSERT_EQ(ready.read_byte(), 'r');
  b.send_bytes("x");
  std::vector<Waitable> got = wait({p.sentinel(), a}, 0.0);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], Waitable(a));
  go.close_write();
  (void)a.recv_bytes();
  got = wait({p.sentinel(), a});
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], Waitable(p.sentinel()));
  p.join();
}

TEST_P(ProcessTest, SentinelIsCloseOnExec) {
  Process p;
  p.start();
  const int flags = fcntl(p.sentinel(), F_GETFD);
  EXPECT_NE(flags & FD_CLOEXEC, 0);
  p.join();
}

TEST_P(ProcessTest, IsAliveAndExitcodeTransitions) {
  OsPipe ready;
  OsPipe go;
  Process p(ParkedTarget(ready, go));
  EXPECT_FALSE(p.is_alive());
  EXPECT_EQ(p.exitcode(), std::nullopt);
  EXPECT_EQ(p.pid(), std::nullopt);
  p.start();
  ASSERT_TRUE(p.pid().has_value());
  EXPECT_NE(*p.pid(), getpid());
  EXPECT_EQ(::kill(*p.pid(), 0), 0);
  ASSERT_EQ(ready.read_byte(), 'r');
  EXPECT_TRUE(p.is_alive());
  EXPECT_EQ(p.exitcode(), std::nullopt);
  go.close_write();
  p.join();
  EXPECT_FALSE(p.is_alive());
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_TRUE(p.pid().has_value());  // kept after exit, as Python's
}

TEST_P(ProcessTest, ConcurrentJoinAndTerminate) {
  OsPipe ready;
  OsPipe go;
  Process p(ParkedTarget(ready, go));
  p.start();
  ASSERT_EQ(ready.read_byte(), 'r');
  std::thread joiner([&p] { p.join(); });
  EXPECT_TRUE(p.is_alive());
  p.terminate();
  joiner.join();
  EXPECT_EQ(p.exitcode(), -SIGTERM);
}

TEST_P(ProcessTest, ChildReapedElsewhere) {
  Process p([] { throw SystemExit(4); });
  p.start();
  int status = 0;
  ASSERT_EQ(waitpid(*p.pid(), &status, 0), *p.pid());
  ASSERT_EQ(WEXITSTATUS(status), 4);
  p.join();  // returns: the child is gone
  EXPECT_FALSE(p.is_alive());
  EXPECT_EQ(p.exitcode(), std::nullopt);  // its status went elsewhere, as in Python
  p.kill();                               // never signals a pid that may have been recycled
}

// ---------------------------------------------------------------------------------------------
// Inheritance, hooks, output.

TEST(Process, InheritedConnectionWorksInTheChild) {
  auto ends = Pipe();  // not a structured binding: clang 14 cannot capture those
  Connection& parent_end = ends.first;
  Connection& child_end = ends.second;
  Process p([&child_end] {
    const auto n = child_end.recv<int>();
    child_end.send(std::vector<int>{n, n * 2});
    child_end.send_bytes("done");
  });
  p.start();
  parent_end.send(21);
  EXPECT_EQ(parent_end.recv<std::vector<int>>(), (std::vector<int>{21, 42}));
  EXPECT_EQ(parent_end.recv_bytes(), "done");
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
  // The child's end is still ours: the child closed only its copy when it exited.
  child_end.send_bytes("still open");
  EXPECT_EQ(parent_end.recv_bytes(), "still open");
}

TEST(Process, ExitHooksRunInTheChildByPriority) {
  OsPipe out;
  // The parent's hook must not run in the child.
  const uint64_t parent_hook = RegisterChildExitHook([&out] { out.write("P"); });
  Process p([&out] {
    RegisterChildExitHook([&out] { out.write("a0 "); });
    RegisterChildExitHook([&out] { out.write("b10 "); }, 10);
    RegisterChildExitHook([&out] { out.write("c-5 "); }, -5);
    RegisterChildExitHook([&out] { out.write("d0 "); });
    const uint64_t cancelled = RegisterChildExitHook([&out] { out.write("X "); });
    CancelChildExitHook(cancelled);
    out.write("target ");
  });
  p.start();
  out.close_write();
  EXPECT_EQ(out.read_all(), "target b10 d0 a0 c-5 ");
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_TRUE(CancelChildExitHook(parent_hook));
}

TEST(Process, ExitHooksRunAfterAFailingTargetAndSurviveAThrowingHook) {
  OsPipe out;
  OsPipe err;
  Process p([&out, &err] {
    dup2(err.w(), STDERR_FILENO);
    RegisterChildExitHook([&out] { out.write("second"); }, 1);
    RegisterChildExitHook([] { throw std::logic_error("hook failed"); }, 2);
    throw std::runtime_error("target failed");
  });
  p.start();
  out.close_write();
  err.close_write();
  EXPECT_EQ(out.read_all(), "second");
  // Hooks run before the traceback is printed, as Python's _exit_function() in a finally.
  EXPECT_EQ(err.read_all(), "Error in exit hook: std::logic_error: hook failed\nProcess " +
                                p.name() + ":\nstd::runtime_error: target failed\n");
  p.join();
  EXPECT_EQ(p.exitcode(), 1);
}

TEST(Process, ExitHooksRunOnSystemExit) {
  OsPipe out;
  Process p([&out] {
    RegisterChildExitHook([&out] { out.write("hook"); });
    throw SystemExit(9);
  });
  p.start();
  out.close_write();
  EXPECT_EQ(out.read_all(), "hook");
  p.join();
  EXPECT_EQ(p.exitcode(), 9);
}

TEST(Process, RunAtChildExitRunsEachHookOnceInOrder) {
  std::string log;
  RegisterChildExitHook([&log] { log += "low "; }, -1);
  const uint64_t cancelled = RegisterChildExitHook([&log] { log += "cancelled "; });
  RegisterChildExitHook([&log] { log += "first0 "; });
  RegisterChildExitHook([&log] { log += "high "; }, 5);
  RegisterChildExitHook([&log] {
    log += "last0 ";
    // Registered while the hooks run: not run by this call.
    RegisterChildExitHook([&log] { log += "late "; });
  });
  EXPECT_TRUE(CancelChildExitHook(cancelled));
  EXPECT_FALSE(CancelChildExitHook(cancelled));
  RunAtChildExit();
  EXPECT_EQ(log, "high last0 first0 low ");
  log.clear();
  RunAtChildExit();  // only the late one is left
  EXPECT_EQ(log, "late ");
  log.clear();
  RunAtChildExit();
  EXPECT_EQ(log, "");
}

TEST(Process, ExitHooksRunAtNormalExitOfAProgram) {
  // A bare fork stands for a program of its own: its std::exit() runs the hooks via std::atexit.
  OsPipe out;
  std::fflush(nullptr);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    RegisterChildExitHook([&out] { out.write("atexit hook"); });
    std::exit(3);
  }
  out.close_write();
  EXPECT_EQ(out.read_all(), "atexit hook");
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 3);
}

TEST(Process, ChildOutputIsFlushedAndParentOutputNotDuplicated) {
  OsPipe out;
  std::fflush(stdout);
  const int saved_stdout = dup(STDOUT_FILENO);
  ASSERT_GE(saved_stdout, 0);
  dup2(out.w(), STDOUT_FILENO);
  std::printf("parent-pending ");  // buffered: no newline, no flush
  Process p([] {
    std::printf("child-unflushed");  // flushed by the child before _exit
  });
  p.start();
  p.join();
  std::fflush(stdout);
  dup2(saved_stdout, STDOUT_FILENO);
  ::close(saved_stdout);
  out.close_write();
  EXPECT_EQ(out.read_all(), "parent-pending child-unflushed");
  EXPECT_EQ(p.exitcode(), 0);
}

// ---------------------------------------------------------------------------------------------
// Names, errors, lifetime.

TEST(Process, NamesCountLikePython) {
  Process a;
  Process b;
  const std::string prefix = "Process-";
  ASSERT_EQ(a.name().rfind(prefix, 0), 0u);
  ASSERT_EQ(b.name().rfind(prefix, 0), 0u);
  const int na = std::stoi(a.name().substr(prefix.size()));
  const int nb = std::stoi(b.name().substr(prefix.size()));
  EXPECT_EQ(nb, na + 1);
  Process named([] {}, "worker");
  EXPECT_EQ(named.name(), "worker");
  Process c;  // a named Process still takes a number, as in Python
  EXPECT_EQ(c.name(), prefix + std::to_string(nb + 2));
}

TEST(Process, ChildProcessesAreNumberedUnderTheirParent) {
  OsPipe out;
  Process p;
  p = Process([&out] {
    Process grandchild1([] { throw SystemExit(6); });
    Process grandchild2;
    out.write(grandchild1.name() + " " + grandchild2.name() + " ");
    grandchild1.start();
    grandchild1.join();
    out.write(std::to_string(grandchild1.exitcode().value_or(-1000)));
  });
  const std::string name = p.name();  // "Process-N"
  p.start();
  out.close_write();
  const std::string n = name.substr(std::string("Process-").size());
  EXPECT_EQ(out.read_all(), "Process-" + n + ":1 Process-" + n + ":2 6");
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
}

TEST(Process, MisuseRaisesPythonsErrors) {
  Process p([] {});
  EXPECT_TRUE(ThrowsExactly<AssertionError>([&] { p.join(); }, "can only join a started process"));
  EXPECT_TRUE(ThrowsExactly<ValueError>([&] { (void)p.sentinel(); }, "process not started"));
  EXPECT_TRUE(
      ThrowsExactly<AssertionError>([&] { p.terminate(); }, "can only signal a started process"));
  EXPECT_TRUE(
      ThrowsExactly<AssertionError>([&] { p.kill(); }, "can only signal a started process"));
  p.start();
  EXPECT_TRUE(ThrowsExactly<AssertionError>([&] { p.start(); }, "cannot start a process twice"));
  p.join();
  EXPECT_TRUE(ThrowsExactly<AssertionError>([&] { p.start(); }, "cannot start a process twice"));
  EXPECT_EQ(p.exitcode(), 0);
}

TEST(Process, JoinAndIsAliveFromTheChildRaise) {
  Process* self = nullptr;
  Process p([&self] {
    int code = 0;
    try {
      self->join();
    } catch (const AssertionError& e) {
      if (std::string_view(e.what()) == "can only join a child process") code |= 1;
    }
    try {
      (void)self->is_alive();
    } catch (const AssertionError& e) {
      if (std::string_view(e.what()) == "can only test a child process") code |= 2;
    }
    throw SystemExit(code);
  });
  self = &p;
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), 3);
}

class Doubler : public Process {
 public:
  explicit Doubler(Connection* conn) : conn_(conn) {}
  void run() override { conn_->send(conn_->recv<int>() * 2); }

 private:
  Connection* conn_;
};

TEST(Process, SubclassOverridesRun) {
  auto a_b = Pipe();
  Connection& a = a_b.first;
  Connection& b = a_b.second;
  Doubler d(&b);
  d.start();
  a.send(50);
  EXPECT_EQ(a.recv<int>(), 100);
  d.join();
  EXPECT_EQ(d.exitcode(), 0);
}

TEST(Process, MovedProcessKeepsItsChild) {
  OsPipe ready;
  OsPipe go;
  std::vector<Process> procs;
  procs.emplace_back(ParkedTarget(ready, go));
  procs.front().start();
  ASSERT_EQ(ready.read_byte(), 'r');
  const std::string name = procs.front().name();
  for (int i = 0; i < 8; ++i) procs.emplace_back();  // reallocates: moves the first
  Process moved = std::move(procs.front());
  EXPECT_EQ(moved.name(), name);
  EXPECT_TRUE(moved.is_alive());
  EXPECT_TRUE(ThrowsExactly<ValueError>([&] { (void)procs.front().is_alive(); },
                                        "process object was moved from"));
  go.write("\x01");
  moved.join();
  EXPECT_EQ(moved.exitcode(), 1);
}

TEST(Process, DestructorLeavesARunningChildAloneAndStartReapsItLater) {
  OsPipe ready;
  OsPipe go;
  OsPipe reply;
  pid_t pid = -1;
  {
    Process p([&ready, &go, &reply] {
      ready.write("r");
      const char c = go.read_byte();
      reply.write(std::string(1, c));
    });
    p.start();
    pid = *p.pid();
    ASSERT_EQ(ready.read_byte(), 'r');
  }  // destroyed while the child runs
  go.write("!");
  EXPECT_EQ(reply.read_byte(), '!');  // the child was alive to answer
  // Wait until it is a zombie without reaping it.
  siginfo_t info{};
  ASSERT_EQ(waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT), 0);
  // The next start() reaps it, as Python's _cleanup().
  Process other;
  other.start();
  other.join();
  int status = 0;
  errno = 0;
  EXPECT_EQ(waitpid(pid, &status, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST(Process, DestructorReapsAFinishedChild) {
  pid_t pid = -1;
  {
    Process p;
    p.start();
    pid = *p.pid();
    siginfo_t info{};
    ASSERT_EQ(waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT), 0);
  }
  int status = 0;
  errno = 0;
  EXPECT_EQ(waitpid(pid, &status, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

}  // namespace
}  // namespace mpipc
