// The objects an actor holds and the object requests of driver protocol 1 (§4.2): create, call,
// getattr, wait, apply, executed against one actor's handle table.
//
// Kinds: Queue and JoinableQueue hold mpipc::Value (a JoinableQueue<Value> is stored through its
// Queue<Value> base), SimpleQueue<Value>, Connection (from Pipe, Client, accept), Listener.
// Arguments are bound to the Python signatures (positional, then keywords, defaults as in
// Python) and translated: timeout None -> no timeout, block by truthiness, addresses as protocol
// values (a tuple for AF_INET, a str path or "\0name" for AF_UNIX), authkeys as bytes.
//
// What travels where:
//   Queue / JoinableQueue / SimpleQueue  an mpipc::Value only: a function or an object put into a
//                                        queue is answered Unsupported (Queue<Value> cannot
//                                        carry one), and nothing is queued.
//   Connection send/recv                 a Transit (Boost.Serialization): a Value or a table
//                                        function, which arrives callable (as multiprocess/dill
//                                        carries lambdas; capability functions_travel.pipe).
//                                        Objects (a queue, a connection) are Unsupported.
// A mpipc::SerializationError is reported as PicklingError when sending/putting and as
// UnpicklingError when receiving/getting.
#ifndef MPIPC_CONFORMANCE_DRIVERS_REFERENCE_OBJECTS_H_
#define MPIPC_CONFORMANCE_DRIVERS_REFERENCE_OBJECTS_H_

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "json_value.h"
#include "mpipc/connection.h"
#include "mpipc/listener.h"
#include "mpipc/queue.h"

namespace mpipc_driver {

enum class Kind { kQueue, kJoinableQueue, kSimpleQueue, kConnection, kListener };

struct Object {
  Kind kind;
  std::shared_ptr<mpipc::Queue<mpipc::Value>> queue;  // kQueue, kJoinableQueue
  std::shared_ptr<mpipc::SimpleQueue<mpipc::Value>> simple;
  std::shared_ptr<mpipc::Connection> conn;
  std::shared_ptr<mpipc::Listener> listener;

  // As close_all does: queues cancel their feeder join first, so nothing can hang at exit.
  void Close() noexcept;
};

// One actor's names. Thread-safe: calls run concurrently, each on its own thread.
class Table {
 public:
  Table() = default;
  explicit Table(std::map<std::string, Item> items) : items_(std::move(items)) {}

  Item Get(const std::string& name) const;  // ProtocolError when unbound
  void Bind(const std::string& name, Item item);
  std::optional<std::string> NameOf(const ObjectPtr& obj) const;
  std::map<std::string, Item> Snapshot() const;
  // Closes every bound object (one count per binding) and forgets every name.
  int CloseAll();

 private:
  mutable std::mutex mu_;
  std::map<std::string, Item> items_;
};

// Method and attribute names per kind (the protocol's surface), for dispatch and hello.
const std::map<std::string, std::vector<std::string>>& Methods();
const std::map<std::string, std::vector<std::string>>& Attributes();
const std::vector<std::string>& CreateKinds();

// Runs one create/call/getattr/wait/apply request; returns its response line.
std::string ExecuteObjectOp(const Json& req, Table& table);

}  // namespace mpipc_driver

#endif  // MPIPC_CONFORMANCE_DRIVERS_REFERENCE_OBJECTS_H_
