// mpipc::wait: Python's multiprocessing.connection.wait (semantics.md §1.I).
//
// Waits until at least one of several objects is ready to read and returns the ready ones, in
// the order given (WAIT-ORDER). An object is a Connection, or any raw file descriptor (a socket,
// a pipe end, a process sentinel). Ready means a byte can be read or the peer has closed
// (end of stream counts as ready; WAIT-READY); nothing is consumed.
//
// timeout is in seconds: nullopt waits without limit, zero or negative polls once (WAIT-TIMEOUT).
// A signal never makes wait() fail: EINTR is retried with the time that is left (WAIT-EINTR).
// Errors: a closed Connection -> OSError('handle is closed'); a negative descriptor ->
// ValueError('Invalid file descriptor: -1'); the same object twice -> ValueError (CPython raises
// KeyError; spec/deviations.md).
//
// Thread-safety: wait() only reads the objects; it may run while other threads wait on the same
// objects. The Connections must outlive the call and the returned Waitables that refer to them.

#ifndef MPIPC_WAIT_H_
#define MPIPC_WAIT_H_

#include <initializer_list>
#include <optional>
#include <span>
#include <vector>

#include "mpipc/connection.h"

namespace mpipc {

// A non-owning reference to something wait() can watch; equal when it names the same object.
class Waitable {
 public:
  Waitable(const Connection& conn) : conn_(&conn) {}  // NOLINT(google-explicit-constructor)
  Waitable(int fd) : fd_(fd) {}                       // NOLINT(google-explicit-constructor)

  // The Connection, or nullptr for a raw descriptor.
  const Connection* connection() const noexcept { return conn_; }
  // The descriptor to watch; throws as described above.
  int fileno() const;

  bool operator==(const Waitable& other) const = default;

 private:
  const Connection* conn_ = nullptr;
  int fd_ = -1;
};

std::vector<Waitable> wait(std::span<const Waitable> objects,
                           std::optional<double> timeout = std::nullopt);
inline std::vector<Waitable> wait(std::initializer_list<Waitable> objects,
                                  std::optional<double> timeout = std::nullopt) {
  return wait(std::span<const Waitable>(objects.begin(), objects.size()), timeout);
}

}  // namespace mpipc

#endif  // MPIPC_WAIT_H_
