// Actors (spec/driver-protocol.md §3, §4.1): processes of the implementation that execute object
// requests against the objects they inherited from the driver's main process.
//
// spawn forks a child with mpipc::Process while holding the fork lock, after creating a private
// command channel (an mpipc::Pipe, messages are JSON lines sent with send_bytes). The child
// closes main's end of it, the other actors' channels and the driver's stdio copies, then serves:
// each request runs on a thread of its own (a WorkerPool's, worker_pool.h) against the child's
// copy of main's handle table, and its response line goes back over the channel (one lock around
// sends). In main, one pump thread per actor copies response lines to stdout; at EOF it reaps the
// child, answers ActorDied for the requests still in flight, and emits the actor_exited event.
//
// exit asks the child to return from its Process target (exit code 0), or to throw
// mpipc::SystemExit(n): either way Process runs the exit hooks (queue feeders flush, Q-EXIT-FLUSH)
// before _exit. kill SIGKILLs it.
#ifndef MPIPC_CONFORMANCE_DRIVERS_REFERENCE_ACTOR_H_
#define MPIPC_CONFORMANCE_DRIVERS_REFERENCE_ACTOR_H_

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "json_value.h"
#include "objects.h"

namespace mpipc_driver {

// The protocol's stdout: whole lines under one lock. Only the driver's main process writes it.
class Output {
 public:
  explicit Output(int fd) : fd_(fd) {}
  void Write(const std::string& line);
  // Orders everything done before any answer written so far before what the caller does next.
  // The suite sends a request only after reading the answers it depends on: a hand-off through
  // another process, which the C++ memory model (and ThreadSanitizer) cannot see. Taking the lock
  // the answers were written under makes it a happens-before edge.
  void Sync();
  int fd() const noexcept { return fd_; }

 private:
  std::mutex mu_;
  int fd_;
};

struct ActorRecord;

class Actors {
 public:
  // in_fd: the driver's private copy of stdin, closed in children.
  Actors(Output& out, int in_fd) : out_(out), in_fd_(in_fd) {}

  // Forks actor `name`, which inherits `main_table`'s objects. Result {"actor", "pid"}.
  Json Spawn(const std::string& name, const Table& main_table);
  // Sends an object request to its actor. ProtocolError for an unknown actor, ActorDied for one
  // that has ended.
  // The request line goes as is (`id` is its parsed id).
  void Forward(const std::string& name, const Json& id, const std::string& line);
  // Blocking; run them on their own threads. Results are plain JSON.
  Json Kill(const std::string& name);
  Json Exit(const std::string& name, int exitcode, std::optional<double> timeout);
  Json Join(const std::string& name, std::optional<double> timeout);
  // SIGKILLs every live actor, reaps all, forgets them; returns the names of those killed.
  Json CloseAll();

  // Held around every fork of the driver's main process (spawn and measure), so that no child
  // inherits an actor's end of a command channel that main is about to close.
  std::mutex& fork_mutex() { return fork_mu_; }

 private:
  std::shared_ptr<ActorRecord> Find(const std::string& name);
  void Pump(const std::shared_ptr<ActorRecord>& a);

  Output& out_;
  int in_fd_;
  std::mutex fork_mu_;
  std::mutex mu_;                                     // guards actors_
  std::vector<std::shared_ptr<ActorRecord>> actors_;  // in spawn order
};

}  // namespace mpipc_driver

#endif  // MPIPC_CONFORMANCE_DRIVERS_REFERENCE_ACTOR_H_
