#include "mpipc/process.h"

#include <cxxabi.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <mutex>
#include <typeinfo>
#include <utility>
#include <vector>

#include "mpipc/errors.h"
#include "mpipc/sys.h"

namespace mpipc {

namespace {

struct Hook {
  uint64_t id;
  int priority;
  std::function<void()> fn;
};

// Process-wide state, guarded by `mu`. Never destroyed: exit hooks run from std::atexit, possibly
// after other static objects are gone.
struct Globals {
  std::mutex mu;
  std::vector<Hook> hooks;
  uint64_t next_hook_id = 1;
  bool atexit_installed = false;
  // Python's _current_process._identity: empty in the main program, (3,) in "Process-3", ...
  std::vector<int> identity;
  int next_process_number = 1;
  // Children whose Process was destroyed while they ran; reaped by later start() calls.
  std::vector<pid_t> abandoned;
};

Globals& G() {
  static Globals* const globals = new Globals;
  return *globals;
}

std::atomic<bool> force_pipe_sentinel{false};

void RunHooksAtExit() { RunAtChildExit(); }

std::string Demangle(const char* mangled) {
  int status = 0;
  char* name = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  if (status != 0 || name == nullptr) return mangled;
  std::string result(name);
  std::free(name);  // NOLINT(cppcoreguidelines-no-malloc): __cxa_demangle allocates with malloc
  return result;
}

// The type name and what() of the exception being handled, "<type>: <what>".
std::string DescribeCurrentException() {
  try {
    throw;
  } catch (const std::exception& e) {
    return Demangle(typeid(e).name()) + ": " + e.what();
  } catch (...) {
    const std::type_info* type = abi::__cxa_current_exception_type();
    return type == nullptr ? std::string("unknown exception") : Demangle(type->name());
  }
}

// Python's util._flush_std_streams().
void FlushStdStreams() noexcept {
  try {
    std::cout.flush();
    std::cerr.flush();
    std::clog.flush();
  } catch (...) {  // NOLINT(bugprone-empty-catch): flushing is best effort, as in Python
  }
  std::fflush(stdout);
  std::fflush(stderr);
}

void WriteStderr(const std::string& text) noexcept {
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fflush(stderr);
}

int CloseFd(int fd) noexcept { return fd < 0 ? 0 : sys::CurrentOps().close(fd); }

int PidfdOpen(pid_t pid) noexcept {
#ifdef SYS_pidfd_open
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  errno = ENOSYS;
  return -1;
#endif
}

int PidfdSendSignal(int pidfd, int sig) noexcept {
#ifdef SYS_pidfd_send_signal
  return static_cast<int>(syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
#else
  (void)pidfd;
  (void)sig;
  errno = ENOSYS;
  return -1;
#endif
}

// Python's os.waitstatus_to_exitcode.
int ExitCodeFromStatus(int status) {
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return WEXITSTATUS(status);
}

// Reaps the children of destroyed Process objects that have exited (Python's _cleanup()).
void ReapAbandoned() {
  Globals& g = G();
  std::lock_guard<std::mutex> lock(g.mu);
  std::erase_if(g.abandoned, [](pid_t pid) {
    int status = 0;
    pid_t r = 0;
    do {
      r = waitpid(pid, &status, WNOHANG);
    } while (r < 0 && errno == EINTR);
    return r != 0;  // reaped now, or no longer our child
  });
}

}  // namespace

struct Process::State {
  std::function<void()> target;
  std::string name;
  std::vector<int> identity;
  pid_t parent_pid = -1;

  // Everything below is guarded by `mu`.
  std::mutex mu;
  bool started = false;
  pid_t pid = -1;
  int sentinel = -1;
  bool sentinel_is_pidfd = false;
  std::optional<int> returncode;
  // Something else reaped the child (waitpid said ECHILD): it is gone, its status unknown.
  bool lost = false;

  // Polls (WNOHANG) or waits for the child unless its status is already known.
  void reap_locked(int flags) {
    if (!started || returncode || lost) return;
    int status = 0;
    pid_t r = 0;
    do {
      r = waitpid(pid, &status, flags);
    } while (r < 0 && errno == EINTR);
    if (r == pid) {
      returncode = ExitCodeFromStatus(status);
    } else if (r < 0 && errno == ECHILD) {
      lost = true;
    } else if (r < 0) {
      throw OSErrorFromErrno(errno);
    }
  }
};

Process::Process(std::function<void()> target, std::optional<std::string> name)
    : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.target = std::move(target);
  s.parent_pid = getpid();
  {
    Globals& g = G();
    std::lock_guard<std::mutex> lock(g.mu);
    s.identity = g.identity;
    s.identity.push_back(g.next_process_number++);
  }
  if (name) {
    s.name = std::move(*name);
  } else {
    s.name = "Process-";
    for (size_t i = 0; i < s.identity.size(); ++i) {
      if (i > 0) s.name += ':';
      s.name += std::to_string(s.identity[i]);
    }
  }
}

Process::~Process() { retire(state_.get()); }

Process::Process(Process&& other) noexcept = default;

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    retire(state_.get());
    state_ = std::move(other.state_);
  }
  return *this;
}

void Process::retire(State* s) noexcept {
  if (s == nullptr) return;
  if (s->started && s->parent_pid == getpid()) {
    try {
      s->reap_locked(WNOHANG);
    } catch (const std::exception&) {  // NOLINT(bugprone-empty-catch): a destructor must not throw
    }
    if (!s->returncode && !s->lost) {
      Globals& g = G();
      std::lock_guard<std::mutex> lock(g.mu);
      g.abandoned.push_back(s->pid);
    }
  }
  CloseFd(s->sentinel);
  s->sentinel = -1;
}

Process::State& Process::state() const {
  if (!state_) throw ValueError("process object was moved from");
  return *state_;
}

void Process::run() {
  State& s = state();
  if (s.target) s.target();
}

void Process::start() {
  State& s = state();
  std::unique_lock<std::mutex> lock(s.mu);
  if (s.started) throw AssertionError("cannot start a process twice");
  if (s.parent_pid != getpid()) {
    throw AssertionError("can only start a process object created by current process");
  }
  ReapAbandoned();

  // The pipe sentinel: the child keeps the write end, so the read end sees end of file when the
  // child exits. Made for every child, so that a failing pidfd_open has a fallback.
  int fds[2] = {-1, -1};
  if (pipe2(fds, O_CLOEXEC) < 0) throw OSErrorFromErrno(errno);
  const int read_end = fds[0];
  const int write_end = fds[1];

  FlushStdStreams();
  Globals& g = G();
  std::unique_lock<std::mutex> globals_lock(g.mu);  // no other thread holds it across the fork
  const pid_t pid = fork();
  if (pid == 0) {
    // The child: the only thread. Reset the process-wide state, release the locks the parent
    // thread held, run, exit; never return.
    new std::vector<Hook>(std::move(g.hooks));  // leaked: the parent's hooks must not run here
    g.hooks.clear();
    g.abandoned.clear();
    g.identity = s.identity;
    g.next_process_number = 1;
    globals_lock.unlock();
    lock.unlock();
    CloseFd(read_end);

    int code = 0;
    std::string report;
    try {
      run();
    } catch (const SystemExit& e) {
      code = e.code();
      if (e.message()) report = *e.message() + "\n";
    } catch (...) {
      code = 1;
      try {
        report = "Process " + s.name + ":\n" + DescribeCurrentException() + "\n";
      } catch (...) {
        report = "Process: exception\n";
      }
    }
    RunAtChildExit();
    if (!report.empty()) WriteStderr(report);
    FlushStdStreams();
    _exit(code);
  }
  const int fork_errno = errno;
  globals_lock.unlock();
  CloseFd(write_end);
  if (pid < 0) {
    CloseFd(read_end);
    throw OSErrorFromErrno(fork_errno);
  }
  s.started = true;
  s.pid = pid;
  const int pidfd = force_pipe_sentinel.load() ? -1 : PidfdOpen(pid);
  if (pidfd >= 0) {
    CloseFd(read_end);
    s.sentinel = pidfd;
    s.sentinel_is_pidfd = true;
  } else {
    s.sentinel = read_end;
  }
}

void Process::join(std::optional<double> timeout) {
  State& s = state();
  pid_t pid = -1;
  int sentinel = -1;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.parent_pid != getpid()) throw AssertionError("can only join a child process");
    if (!s.started) throw AssertionError("can only join a started process");
    if (s.returncode || s.lost) return;
    pid = s.pid;
    sentinel = s.sentinel;
  }
  // Wait without holding the lock, so that other threads can signal or poll the child meanwhile.
  if (timeout || s.sentinel_is_pidfd) {
    struct pollfd p = {sentinel, POLLIN, 0};
    const int r = sys::Poll(&p, 1, sys::DeadlineAfter(timeout));
    if (r < 0) throw OSErrorFromErrno(errno);
    if (r == 0) return;  // timed out
  }
  if (!s.sentinel_is_pidfd) {
    // The pipe reports end of file a moment before the child becomes waitable; without a timeout
    // Python waits with waitpid() alone. Wait here without reaping; reap below, under the lock.
    siginfo_t info = {};
    while (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT) < 0) {
      if (errno == EINTR) continue;
      if (errno == ECHILD) break;  // reaped by another thread or elsewhere; reap_locked says which
      throw OSErrorFromErrno(errno);
    }
  }
  std::lock_guard<std::mutex> lock(s.mu);
  s.reap_locked(0);  // the child has exited: does not block
}

bool Process::is_alive() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.parent_pid != getpid()) throw AssertionError("can only test a child process");
  if (!s.started) return false;
  s.reap_locked(WNOHANG);
  return !s.returncode && !s.lost;
}

std::optional<int> Process::exitcode() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.parent_pid == getpid()) s.reap_locked(WNOHANG);
  return s.returncode;
}

std::optional<pid_t> Process::pid() const {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  if (!s.started) return std::nullopt;
  return s.pid;
}

const std::string& Process::name() const { return state().name; }

void Process::terminate() { send_signal(SIGTERM); }

void Process::kill() { send_signal(SIGKILL); }

void Process::send_signal(int sig) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  if (!s.started) throw AssertionError("can only signal a started process");
  if (s.parent_pid != getpid()) throw AssertionError("can only signal a child process");
  // Not reaped (we hold the lock): the pid still names our child, alive or a zombie.
  if (s.returncode || s.lost) return;
  const int r = s.sentinel_is_pidfd ? PidfdSendSignal(s.sentinel, sig) : ::kill(s.pid, sig);
  if (r < 0 && errno != ESRCH) throw OSErrorFromErrno(errno);
}

int Process::sentinel() const {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  if (!s.started) throw ValueError("process not started");
  return s.sentinel;
}

uint64_t RegisterChildExitHook(std::function<void()> hook, int priority) {
  Globals& g = G();
  std::lock_guard<std::mutex> lock(g.mu);
  if (!g.atexit_installed) {
    if (std::atexit(RunHooksAtExit) != 0) throw OSError("cannot register the exit hook runner");
    g.atexit_installed = true;
  }
  const uint64_t id = g.next_hook_id++;
  g.hooks.push_back(Hook{id, priority, std::move(hook)});
  return id;
}

bool CancelChildExitHook(uint64_t id) noexcept {
  Globals& g = G();
  std::function<void()> removed;  // destroyed after the lock is released: captures may need it
  {
    std::lock_guard<std::mutex> lock(g.mu);
    auto it =
        std::find_if(g.hooks.begin(), g.hooks.end(), [id](const Hook& h) { return h.id == id; });
    if (it == g.hooks.end()) return false;
    removed = std::move(it->fn);
    g.hooks.erase(it);
  }
  return true;
}

void RunAtChildExit() noexcept {
  Globals& g = G();
  std::vector<Hook> hooks;
  {
    std::lock_guard<std::mutex> lock(g.mu);
    hooks.swap(g.hooks);
  }
  std::stable_sort(hooks.begin(), hooks.end(), [](const Hook& a, const Hook& b) {
    return a.priority != b.priority ? a.priority > b.priority : a.id > b.id;
  });
  for (Hook& hook : hooks) {
    try {
      if (hook.fn) hook.fn();
    } catch (...) {
      try {
        WriteStderr("Error in exit hook: " + DescribeCurrentException() + "\n");
      } catch (...) {  // NOLINT(bugprone-empty-catch): nothing left to report with
      }
    }
  }
}

namespace process_internal {
void ForcePipeSentinelForTesting(bool force) noexcept { force_pipe_sentinel.store(force); }
}  // namespace process_internal

}  // namespace mpipc
