// Fuzz target: API traces run against the reference and the conformance model at once
// (conformance/model/). The input's bytes choose an object (Queue of maxsize 0-3, JoinableQueue,
// SimpleQueue, duplex or simplex Pipe) and a sequence of operations with their arguments (put,
// get, their nowait/timeout-0/negative-timeout forms, qsize, empty, full, close, task_done,
// join, join_thread, send_bytes with offsets and sizes, recv_bytes with maxlength,
// recv_bytes_into with buffer sizes and offsets, poll, close of either end). Each operation's
// outcome (value, or exception type and message) must be one the model accepts; the model's
// would-block outcome means the call is not issued, so nothing ever blocks.
//
// Queues are expensive to create (shared memory), so one queue per kind and maxsize is kept
// across inputs and drained between them; a queue an input closed is replaced.

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "connection_model.h"
#include "fuzz_input.h"
#include "mpipc/connection.h"
#include "mpipc/errors.h"
#include "mpipc/queue.h"
#include "queue_model.h"

namespace {

namespace model = mpipc::model;
using model::Outcome;
using mpipc::fuzz::Check;
using mpipc::fuzz::FuzzInput;

constexpr size_t kMaxOps = 64;
constexpr size_t kMaxQueued = 48;  // items in a queue at once: far below the ring's capacity
// A 64 KiB ring instead of the default 4 MiB: a queue an input closed is replaced, and mapping
// (and faulting in) a large ring would dominate the run time. 48 items of <= 32 bytes fit with
// room to spare, so put() always writes straight into the ring, as the synchronous model says.
const mpipc::QueueOptions kRing{size_t{64} << 10};

// Runs `call` and records what it did as the model would spell it.
template <typename R, typename F>
Outcome<R> Capture(F&& call) {
  try {
    return Outcome<R>::Value(call());
  } catch (const mpipc::Empty&) {
    return Outcome<R>::Raise(model::MakeError("Empty"));
  } catch (const mpipc::Full&) {
    return Outcome<R>::Raise(model::MakeError("Full"));
  } catch (const mpipc::BufferTooShort& e) {
    return Outcome<R>::Raise(model::MakeError("BufferTooShort", e.message()));
  } catch (const mpipc::OSError& e) {
    model::Error err = model::MakeError(std::string(e.python_name()), e.message());
    if (e.errnum() != 0) err.errnum = e.errnum();
    return Outcome<R>::Raise(std::move(err));
  } catch (const mpipc::EOFError& e) {
    const std::string m = e.what();
    return Outcome<R>::Raise(
        model::MakeError("EOFError", m.empty() ? std::nullopt : std::optional<std::string>(m)));
  } catch (const mpipc::ValueError& e) {
    return Outcome<R>::Raise(model::MakeError("ValueError", std::string(e.what())));
  } catch (const mpipc::AssertionError& e) {
    return Outcome<R>::Raise(model::MakeError("AssertionError", std::string(e.what())));
  }
}

template <typename R>
void Expect(const Outcome<R>& want, const Outcome<R>& got, const char* op) {
  Check(want.Accepts(got), [&] {
    return std::string(op) + ": model predicted " + model::Describe(want) + ", reference did " +
           model::Describe(got);
  });
}

// --- queues ---------------------------------------------------------------------------------

using Q = mpipc::Queue<std::string>;
using JQ = mpipc::JoinableQueue<std::string>;
using SQ = mpipc::SimpleQueue<std::string>;

struct PooledQueue {
  std::unique_ptr<Q> q;    // Queue or JoinableQueue (a JQ is a Q)
  std::unique_ptr<SQ> sq;  // SimpleQueue
  JQ* jq = nullptr;
};

PooledQueue& Pool(model::QueueKind kind, int64_t maxsize) {
  static std::map<std::pair<int, int64_t>, PooledQueue> pool;
  PooledQueue& p = pool[{static_cast<int>(kind), maxsize}];
  if (!p.q && !p.sq) {
    if (kind == model::QueueKind::kSimpleQueue) {
      p.sq = std::make_unique<SQ>(kRing);
    } else if (kind == model::QueueKind::kJoinableQueue) {
      auto jq = std::make_unique<JQ>(maxsize, kRing);
      p.jq = jq.get();
      p.q = std::move(jq);
    } else {
      p.q = std::make_unique<Q>(maxsize, kRing);
    }
  }
  return p;
}

// Leaves a pooled queue empty with no unfinished tasks, as a new one.
void Drain(PooledQueue& p) {
  if (p.sq) {
    while (!p.sq->empty()) (void)p.sq->get();
    return;
  }
  while (!p.q->empty()) (void)p.q->get_nowait();
  Check(p.q->qsize() == 0, "a drained queue has qsize 0");
  if (p.jq) {
    while (p.jq->unfinished_tasks() > 0) p.jq->task_done();
  }
}

void RunQueue(FuzzInput& in, model::QueueKind kind, int64_t maxsize) {
  PooledQueue& p = Pool(kind, maxsize);
  model::QueueModel<std::string> m(kind, maxsize);
  bool closed = false;
  for (size_t i = 0; i < kMaxOps && !in.empty(); ++i) {
    const uint8_t op = in.Byte() % 16;
    const double timeout = in.Bool() ? 0.0 : -1.0;
    const bool sq = kind == model::QueueKind::kSimpleQueue;
    auto item = [&] { return in.Bytes(32); };
    switch (op) {
      case 0:
      case 1:
      case 2:
      case 3: {  // put(x), put(x, False), put(x, True, 0|-1), put_nowait(x)
        if (m.items().size() >= kMaxQueued) break;
        const std::string x = item();
        const bool block = op == 0 || op == 2;
        const std::optional<double> t = op == 2 ? std::optional<double>(timeout) : std::nullopt;
        const Outcome<model::None> want = op == 3 ? m.put_nowait(x) : m.put(x, block, t);
        if (want.would_block()) break;
        if (sq) {
          if (op != 0) break;  // SimpleQueue has put(obj) only
          Expect(want, Capture<model::None>([&] {
                   p.sq->put(x);
                   return model::None{};
                 }),
                 "put");
        } else {
          Expect(want, Capture<model::None>([&] {
                   if (op == 3) {
                     p.q->put_nowait(x);
                   } else {
                     p.q->put(x, block, t);
                   }
                   return model::None{};
                 }),
                 "put");
        }
        break;
      }
      case 4:
      case 5:
      case 6:
      case 7: {  // get(), get(False), get(True, 0|-1), get_nowait()
        const bool block = op == 4 || op == 6;
        const std::optional<double> t = op == 6 ? std::optional<double>(timeout) : std::nullopt;
        const Outcome<std::string> want = op == 7 ? m.get_nowait() : m.get(block, t);
        if (want.would_block() || (sq && op != 4)) break;
        const Outcome<std::string> got = Capture<std::string>([&] {
          if (sq) return p.sq->get();
          return op == 7 ? p.q->get_nowait() : p.q->get(block, t);
        });
        Check(m.ReconcileGet(got), [&] {
          return "get: model predicted " + model::Describe(want) + ", reference did " +
                 model::Describe(got);
        });
        break;
      }
      case 8:
        if (!sq) Expect(m.qsize(), Capture<int64_t>([&] { return p.q->qsize(); }), "qsize");
        break;
      case 9: {
        const Outcome<bool> want = m.empty();
        const Outcome<bool> got = Capture<bool>([&] { return sq ? p.sq->empty() : p.q->empty(); });
        Check(m.ReconcileEmpty(got), [&] {
          return "empty: model predicted " + model::Describe(want) + ", reference did " +
                 model::Describe(got);
        });
        break;
      }
      case 10:
        if (!sq) Expect(m.full(), Capture<bool>([&] { return p.q->full(); }), "full");
        break;
      case 11:
        Expect(m.close(), Capture<model::None>([&] {
                 if (sq) {
                   p.sq->close();
                 } else {
                   p.q->close();
                 }
                 return model::None{};
               }),
               "close");
        closed = true;
        break;
      case 12:
        if (p.jq) {
          Expect(m.task_done(), Capture<model::None>([&] {
                   p.jq->task_done();
                   return model::None{};
                 }),
                 "task_done");
        }
        break;
      case 13:
        if (p.jq) {
          const Outcome<model::None> want = m.join();
          if (want.would_block()) {
            Check(!p.jq->join(0.0), "join(0) with unfinished tasks must time out");
          } else {
            Expect(want, Capture<model::None>([&] {
                     p.jq->join();
                     return model::None{};
                   }),
                   "join");
          }
        }
        break;
      case 14:
        if (!sq) {
          Expect(m.join_thread(), Capture<model::None>([&] {
                   p.q->join_thread();
                   return model::None{};
                 }),
                 "join_thread");
        }
        break;
      default:
        if (!sq) {
          Expect(m.cancel_join_thread(), Capture<model::None>([&] {
                   p.q->cancel_join_thread();
                   return model::None{};
                 }),
                 "cancel_join_thread");
        }
        break;
    }
    if (!sq && !closed) {
      Check(p.q->qsize() == static_cast<int64_t>(m.items().size()), "qsize follows the model");
    }
  }
  if (closed) {
    p = PooledQueue{};  // replaced on next use
  } else {
    Drain(p);
  }
}

// --- pipes ----------------------------------------------------------------------------------

void RunPipe(FuzzInput& in, bool duplex) {
  auto [c0, c1] = mpipc::Pipe(duplex);
  mpipc::Connection* ends[2] = {&c0, &c1};
  model::ConnectionModel m(duplex, 16384);
  for (size_t i = 0; i < kMaxOps && !in.empty(); ++i) {
    const uint8_t op = in.Byte();
    const int e = (op >> 4) & 1;
    mpipc::Connection& c = *ends[e];
    switch (op % 5) {
      case 0: {
        const std::string buf = in.Bytes(255);
        const auto n = static_cast<int64_t>(buf.size());
        const int64_t offset = in.Bool() ? 0 : in.Range(-2, n + 2);
        const std::optional<int64_t> size =
            in.Bool() ? std::nullopt : std::optional<int64_t>(in.Range(-2, n + 2));
        const Outcome<model::None> want = m.send_bytes(e, buf, offset, size);
        if (want.would_block()) break;
        Expect(want, Capture<model::None>([&] {
                 c.send_bytes(buf, offset, size);
                 return model::None{};
               }),
               "send_bytes");
        break;
      }
      case 1: {
        const std::optional<int64_t> maxlength =
            in.Bool() ? std::nullopt : std::optional<int64_t>(in.Range(-2, 40));
        const Outcome<std::string> want = m.recv_bytes(e, maxlength);
        if (want.would_block()) break;
        Expect(want, Capture<std::string>([&] { return c.recv_bytes(maxlength); }), "recv_bytes");
        break;
      }
      case 2: {
        const size_t bufsize = in.Below(41);
        const int64_t offset = in.Range(-2, static_cast<int64_t>(bufsize) + 2);
        std::string buffer(bufsize, '.');
        const Outcome<model::RecvIntoResult> want = m.recv_bytes_into(e, buffer, offset);
        if (want.would_block()) break;
        Expect(want, Capture<model::RecvIntoResult>([&] {
                 const size_t n = c.recv_bytes_into(buffer, offset);
                 return model::RecvIntoResult{static_cast<int64_t>(n), buffer};
               }),
               "recv_bytes_into");
        break;
      }
      case 3:
        Expect(m.poll(e), Capture<bool>([&] { return c.poll(); }), "poll");
        break;
      default:
        Expect(m.close(e), Capture<model::None>([&] {
                 c.close();
                 return model::None{};
               }),
               "close");
        break;
    }
    for (int k = 0; k < 2; ++k) {
      Check(ends[k]->closed() == m.closed(k), "closed() follows the model");
      Check(ends[k]->readable() == m.readable(k), "readable() follows the model");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzInput in(data, size);
  const uint8_t which = in.Byte() % 8;
  switch (which) {
    case 0:
      RunQueue(in, model::QueueKind::kQueue, in.Below(4));
      break;
    case 1:
      RunQueue(in, model::QueueKind::kJoinableQueue, in.Below(3));
      break;
    case 2:
      RunQueue(in, model::QueueKind::kSimpleQueue, 0);
      break;
    case 3:
    case 4:
    case 5:
      RunPipe(in, true);
      break;
    default:
      RunPipe(in, false);
      break;
  }
  return 0;
}
