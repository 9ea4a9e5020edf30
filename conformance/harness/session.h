// Session: the target under test, as seen by one suite process. Owns the Driver (started on
// first use, restarted after a timeout or crash), the target's `hello`, and the run's knobs
// (seed, timing tolerance, response limit). One Session per suite process; tests reach it
// through ConformanceTest. Not thread-safe beyond what Driver is: tests call it from the test
// thread (and may wait on several Pendings).
#ifndef MPIPC_CONFORMANCE_HARNESS_SESSION_H_
#define MPIPC_CONFORMANCE_HARNESS_SESSION_H_

#include <memory>
#include <string>
#include <vector>

#include "driver.h"

namespace mpipc::conformance {

struct SessionOptions {
  std::string target_name;        // reported name (hello's name if empty)
  std::vector<std::string> argv;  // the driver command
  std::string stderr_log;         // where the driver's stderr goes
  uint64_t seed = 1;              // randomised tests derive from it
  double tolerance = 0.5;         // seconds of slack on timing clauses
  double limit = 20.0;            // seconds: any single expected response
};

class Session {
 public:
  explicit Session(SessionOptions options);

  // The running driver (started, and `hello` exchanged, if needed). Throws DriverCrashed if it
  // cannot be started or does not speak protocol 1.
  Driver& driver();
  // The `hello` result of the current driver.
  const Json& hello();
  std::string name();
  std::string language();          // "python", "c++", ...
  std::string language_version();  // "3.12.1", ...
  std::string implementation();    // "multiprocessing", "multiprocess", "mpipc-reference", ...
  // hello.capabilities.functions_travel[kind] (kind: queue, simplequeue, pipe).
  bool FunctionsTravel(const std::string& kind);

  // Between tests: close_all. If that fails or the driver is unhealthy, the driver is killed and
  // the next driver() starts a fresh one. Returns false if the driver had to be killed.
  bool Reset();
  // Kills the driver now (after a timeout); the next driver() restarts it.
  void Discard();
  int restarts() const { return restarts_; }

  const SessionOptions& options() const { return options_; }
  double tolerance() const { return options_.tolerance; }
  double limit() const { return options_.limit; }
  uint64_t seed() const { return options_.seed; }

 private:
  SessionOptions options_;
  std::unique_ptr<Driver> driver_;
  Json hello_;
  int restarts_ = -1;
};

// The process-wide session (set up by the suite's main()).
Session& CurrentSession();
void InstallSession(std::unique_ptr<Session> session);

}  // namespace mpipc::conformance

#endif  // MPIPC_CONFORMANCE_HARNESS_SESSION_H_
