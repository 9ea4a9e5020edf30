// mpipc::Process: Python's multiprocessing.Process with the "fork" start method, plus the
// process-exit hooks that multiprocessing.util.Finalize(..., exitpriority=N) provides.
//
// A Process runs a function in a child created by fork(2). The child starts as a copy of the
// parent: it sees every object the target captured (and inherits every descriptor, so a
// Connection from mpipc::Pipe() made before start() works in both), but only the thread that
// called start() exists in it. The target takes no arguments: capture them in a lambda,
//   mpipc::Process p([conn = &child_end, n] { conn->send(n * 2); });
// or derive from Process and override run(), as in Python.
//
// How the child ends (Python's Process._bootstrap):
//   target returns                   exit code 0
//   target throws SystemExit(n)      exit code n (the kernel keeps its low 8 bits, as os._exit)
//   target throws SystemExit("msg")  "msg" on stderr, exit code 1
//   target throws anything else      "Process <name>:" and "<exception type>: <what()>" on stderr
//                                    (Python prints a traceback there), exit code 1
// In every case the child then runs the exit hooks (RunAtChildExit()), flushes stdout/stderr
// (C stdio and iostreams) and calls _exit(2). It never returns into the caller's stack and never
// runs the parent's std::atexit handlers or static destructors. A target must not call
// std::exit(): throw SystemExit instead. Like Python, start() flushes stdout/stderr before forking
// so that buffered output is not written twice.
//
// API mapping (Python -> C++):
//   Process(target=f, name=None)   Process(std::function<void()> target, optional<string> name)
//   start() / run()                start() / virtual run()
//   join(timeout=None)             join(optional<double> timeout = nullopt), seconds
//   is_alive()                     is_alive()
//   exitcode, pid, name, sentinel  exitcode(), pid(), name(), sentinel()
//   terminate() / kill()           terminate() (SIGTERM) / kill() (SIGKILL)
// Errors, as Python's: start() twice -> AssertionError("cannot start a process twice"); join()
// before start() -> AssertionError("can only join a started process"); join()/is_alive()/start()
// from another process than the one that created the object -> AssertionError("can only join a
// child process" / "can only test a child process" / "can only start a process object created by
// current process"); sentinel() before start() -> ValueError("process not started"); a failed
// fork() -> OSError with errno. terminate()/kill() before start() raise
// AssertionError("can only signal a started process") where Python raises AttributeError.
//
// exitcode() is nullopt before start() and while the child runs; then the exit status, or
// -N when signal N killed the child (Python's os.waitstatus_to_exitcode). Each call of
// exitcode()/is_alive() polls the child (waitpid WNOHANG) and reaps it once it has exited; if
// something else reaped it first (SIGCHLD ignored, waitpid(-1) elsewhere), exitcode() stays
// nullopt, as in Python, while is_alive() turns false and join() returns (Python's is_alive()
// keeps answering True).
//
// The sentinel is a descriptor that becomes readable (for mpipc::wait(), poll(2)) when the child
// exits: a pidfd (Linux >= 5.3), or where pidfd_open is unavailable a pipe whose write end only
// the child holds (Python's choice; a grandchild that outlives the child keeps it unready). It is
// owned by the Process and closed by its destructor. Signals are sent through the pidfd when there
// is one, and never to a child that has been reaped, so a recycled pid is never signalled.
//
// Blocking: start() does not wait for the child. join() blocks until the child exits or the
// timeout expires (signals do not interrupt it). The others never block.
//
// Thread-safety: the methods of one Process may be called concurrently from several threads of
// the parent (e.g. join() in one thread, terminate() in another); moving or destroying it must not
// overlap other calls. Process objects are unrelated to each other. fork() copies only the calling
// thread: a lock another thread held at that moment stays locked in the child, so a target should
// not need locks that other threads of the parent take (malloc and mpipc's own state are safe).
//
// Lifetime: destroying a Process does not kill or wait for its child (Python does not either); a
// child that has already exited is reaped, one still running is reaped by a later start() of any
// Process (Python's _cleanup()). The object is move-only; the methods of a moved-from Process
// raise ValueError("process object was moved from"); it can be destroyed or assigned to.
//
// Exit hooks (multiprocessing.util.Finalize with an exitpriority). RegisterChildExitHook(f, p)
// registers f to run when the current process exits: in a Process child, after the target
// returns or throws and before _exit(); in any other process (the main program), at normal exit
// through std::atexit (installed with the first hook), i.e. after main() returns or std::exit(),
// before the static objects constructed before that first registration are destroyed. Hooks run
// once, highest priority first and, within one priority, in reverse registration order; an
// exception a hook throws is printed to stderr and the next hook runs. A child starts with no
// hooks (Python clears the finalizer registry in the child): hooks registered by the parent
// belong to the parent's objects, e.g. a Queue's feeder thread that does not exist in the child.
// Queues register here to flush their feeder buffer before their process exits (Python's
// Queue._finalize_close at priority 10, then Queue._finalize_join at -5).
//   Thread-safety: registration, cancellation and RunAtChildExit() may happen concurrently from
// any thread. Hooks run without the registry lock held, so a hook may register or cancel hooks;
// hooks registered while RunAtChildExit() runs are not run by that call.

#ifndef MPIPC_PROCESS_H_
#define MPIPC_PROCESS_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace mpipc {

// Python's SystemExit, thrown by a Process target to end its process with an exit code (Python's
// sys.exit(code)). Like Python's (a BaseException, not an Exception), it does not derive from
// std::exception, so a target's `catch (const std::exception&)` does not swallow it. Throw it
// only from inside a Process target (or code it calls).
class SystemExit {
 public:
  // sys.exit(code): the child exits with `code`.
  explicit SystemExit(int code = 0) : code_(code) {}
  // sys.exit("message"): the child prints `message` to stderr and exits with code 1.
  explicit SystemExit(std::string message) : code_(1), message_(std::move(message)) {}

  int code() const noexcept { return code_; }
  // The message, or nullopt for SystemExit(code).
  const std::optional<std::string>& message() const noexcept { return message_; }

 private:
  int code_;
  std::optional<std::string> message_;
};

class Process {
 public:
  // A Process that runs `target` (nothing when empty, or run() when a subclass overrides it).
  // `name` defaults to Python's automatic name: "Process-N" in the main program, N counting the
  // Process objects it created from 1; "Process-M:N" for the N-th one created in the child named
  // "Process-M", and so on.
  explicit Process(std::function<void()> target = nullptr,
                   std::optional<std::string> name = std::nullopt);
  // Does not signal the child; see "Lifetime" above.
  virtual ~Process();
  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // Forks the child, which calls run() and exits as described above; returns in the parent only.
  void start();
  // The child's work: calls the target. Override it in a subclass instead of passing a target.
  virtual void run();
  // Waits until the child exits, or at most `timeout` seconds (nullopt: without limit; zero or
  // negative: just checks). Returns nothing, as Python's: check exitcode() or is_alive() to know
  // whether the child has ended. Safe to call repeatedly, also after the child was reaped.
  void join(std::optional<double> timeout = std::nullopt);
  // True from start() until the child is found to have exited.
  bool is_alive();
  // See above: nullopt before start() and while running; the status, or -signal.
  std::optional<int> exitcode();
  // The child's pid once started.
  std::optional<pid_t> pid() const;
  const std::string& name() const;
  // SIGTERM / SIGKILL to the child; nothing once it has been reaped.
  void terminate();
  void kill();
  // The descriptor described above; owned by this Process.
  int sentinel() const;

 private:
  struct State;
  // The state; ValueError once moved from.
  State& state() const;
  void send_signal(int sig);
  // What the destructor and move assignment do with the state they drop.
  static void retire(State* s) noexcept;

  std::unique_ptr<State> state_;
};

// Registers `hook` to run when the current process exits (see "Exit hooks" above). Returns an id
// for CancelChildExitHook().
uint64_t RegisterChildExitHook(std::function<void()> hook, int priority = 0);
// Removes a registered hook that has not run yet; returns whether it was registered.
bool CancelChildExitHook(uint64_t id) noexcept;
// Runs and removes every registered hook, in the order described above. Process children call it
// before _exit(), and std::atexit calls it in the main program; call it yourself in a child made
// with a bare fork() that ends with _exit().
void RunAtChildExit() noexcept;

namespace process_internal {
// Tests: make start() use the pipe sentinel even where pidfd_open works (false: back to automatic).
void ForcePipeSentinelForTesting(bool force) noexcept;
}  // namespace process_internal

}  // namespace mpipc

#endif  // MPIPC_PROCESS_H_
