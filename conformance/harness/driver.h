// Driver: one running driver program (spec/driver-protocol.md) and the client side of its
// protocol. The suite's only door to an implementation.
//
// A Driver owns a child process (in its own process group) whose stdin/stdout carry JSON lines;
// its stderr goes to a log file. Send() writes a request and returns at once with a Pending
// handle; a reader thread matches responses to requests by id, so any number of requests can be
// in flight (one actor blocked in `get` while another `put`s). Responses are waited for with a
// deadline: a request that is not answered in time throws DriverTimeout, a driver that exits
// (or writes something that is not protocol) throws DriverCrashed, so a hung or dead target can
// never hang the suite.
//
// Thread-safety: Send/Wait may be called from any thread. Constructing a Driver sets SIGPIPE to
// ignored for the whole process, so that writing to a dead driver is an error, not a signal.
// Lifetime: destroying the Driver sends `shutdown`, waits briefly, then SIGKILLs the driver's whole
// process group.
#ifndef MPIPC_CONFORMANCE_HARNESS_DRIVER_H_
#define MPIPC_CONFORMANCE_HARNESS_DRIVER_H_

#include <sys/types.h>

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace mpipc::conformance {

using Json = nlohmann::json;

// The driver did not answer within the deadline.
class DriverTimeout : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The driver process ended, or broke the protocol.
class DriverCrashed : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An error object of driver protocol §5.
struct ErrorInfo {
  std::string type;                    // canonical name: "Empty", "BrokenPipeError", ...
  std::optional<std::string> message;  // null when the exception has no text
  Json args = Json::array();
  std::optional<int> errno_value;  // OSError and subclasses

  std::string ToString() const;
};

// A response: exactly one of result (ok) or error.
struct Response {
  bool ok = false;
  Json result;  // meaningful when ok
  ErrorInfo error;

  std::string ToString() const;
};

class Driver {
 public:
  // Starts `argv` with stdin/stdout piped and stderr appended to `stderr_log` (may be empty:
  // /dev/null). Throws std::runtime_error when the program cannot be started.
  Driver(std::vector<std::string> argv, const std::string& stderr_log);
  ~Driver();
  Driver(const Driver&) = delete;
  Driver& operator=(const Driver&) = delete;

  class Pending;

  // Sends `request` (an object with "op"; "id" is assigned here). Never blocks on the driver's
  // progress beyond the pipe's capacity.
  Pending Send(Json request);

  // Send + Wait.
  Response Request(Json request, double timeout_seconds);

  // True until the driver's stdout ends or carries a non-protocol line.
  bool alive() const;
  const std::vector<std::string>& argv() const { return argv_; }
  pid_t pid() const { return pid_; }
  // The last `actor_exited` events seen, by actor name.
  std::optional<int> ActorExitcode(const std::string& actor) const;
  // Why the driver is considered dead (empty while alive).
  std::string death_reason() const;

  // Kills the driver's process group at once (used after a timeout, when `shutdown` cannot be
  // trusted to return).
  void Kill();

 private:
  struct Slot {
    bool done = false;
    Response response;
  };

  void ReadLoop();
  void MarkDead(const std::string& reason);

  std::vector<std::string> argv_;
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  std::thread reader_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::mutex write_mu_;
  int64_t next_id_ = 1;
  std::map<int64_t, std::shared_ptr<Slot>> slots_;
  std::map<std::string, int> actor_exits_;
  bool dead_ = false;
  std::string death_reason_;

 public:
  // A request in flight.
  class Pending {
   public:
    Pending() = default;
    // Blocks until the response arrives. Throws DriverTimeout after `timeout_seconds`,
    // DriverCrashed if the driver dies first.
    Response Wait(double timeout_seconds) const;
    // True if the response has arrived within `seconds` (0: just look).
    bool ArrivesWithin(double seconds) const;
    int64_t id() const { return id_; }
    bool valid() const { return driver_ != nullptr; }

   private:
    friend class Driver;
    Driver* driver_ = nullptr;
    int64_t id_ = 0;
    std::shared_ptr<Slot> slot_;
  };
};

}  // namespace mpipc::conformance

#endif  // MPIPC_CONFORMANCE_HARNESS_DRIVER_H_
