// The transports the benchmarks compare, each behind one interface: a Link carries byte items
// from writer processes to reader processes. Implementations: the mpipc reference (Queue,
// SimpleQueue, JoinableQueue of std::string; Connection send_bytes/recv_bytes and send/recv of a
// std::string object), raw pipe(2) and socketpair(2) with CPython's length-prefix framing, and
// Boost.Interprocess message_queue.
//
// Process-safety: a Link is created in the benchmark process before the workers are forked and
// then used by them; queue-like links (mpmc() true) accept any number of writers and readers,
// the others exactly one writer and one reader. Blocking: Send() may block while the transport is
// full, Recv() until an item arrives. Lifetimes: the creator destroys the link after the workers
// are gone.

#ifndef MPIPC_BENCH_LINKS_H_
#define MPIPC_BENCH_LINKS_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace mpipc_bench {

class Link {
 public:
  virtual ~Link() = default;
  // Sends one item (an empty item is a valid item: the benchmarks use it as a sentinel).
  virtual void Send(const std::string& item) = 0;
  // Receives one item; returns its size.
  virtual size_t Recv() = 0;
  // Called after each Recv(): JoinableQueue's task_done().
  virtual void Done() {}
};

// A kind of link: how to make one for items of up to `max_item` bytes.
struct LinkKind {
  std::string impl;   // "ref", "raw-socketpair", "boost", ...
  std::string op;     // "Queue", "SimpleQueue", "JoinableQueue", "Bytes", "Object"
  bool mpmc = false;  // one shared link for all producers and consumers
  std::function<std::unique_ptr<Link>(size_t max_item)> make;
};

// Every kind the native benchmark knows.
const std::vector<LinkKind>& AllLinkKinds();
const LinkKind& FindLinkKind(const std::string& impl, const std::string& op);

}  // namespace mpipc_bench

#endif  // MPIPC_BENCH_LINKS_H_
