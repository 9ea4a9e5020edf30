// mpipc::Queue<T>, JoinableQueue<T>, SimpleQueue<T>: Python's multiprocessing queues
// (semantics.md §1.J–1.L) for C++ processes, over the shared-memory QueueCore (queue_core.h,
// which explains the design and what survives a SIGKILL).
//
// Sharing. A queue reaches a child by inheritance: create it, then fork (mpipc::Process) and use
// the same object in the child. Beyond CPython, Queue<T>::Create(name) makes a named queue that
// unrelated processes Open(name); Unlink(name) removes the name.
//
// Items. T is any type Boost.Serialization can save and load (serialization.h), including
// polymorphic objects through std::unique_ptr<Base>. Bytes-like items take a fast path with no
// archive: std::string, std::vector of a byte type, and trivially copyable types (copied as raw
// bytes, so both ends must be the same build), and mpipc::Value (value.h's codec). Specialise
// QueueCodec<T> for your own encoding.
// An item is serialized inside put(): a serialization error is raised to the caller (nothing is
// queued), and later changes to the object do not reach the queue (unlike CPython, Q-PUT-LATE-
// PICKLE). A decoding error in get() is raised after the item was consumed (Q-GET-UNPICKLE-ERR).
//
// Timeouts are seconds, as in Python: block=false ignores the timeout; nullopt waits for ever;
// zero or negative does not wait. get(timeout) honours its timeout in every case, even while a
// large item is half-written (CPython hangs there, Q-GET-TO-SCOPE); the part already received is
// kept and the next get() of this process completes it.
//
// Errors: Empty, Full (no message); ValueError("Queue <repr> is closed") after close();
// ValueError("task_done() called too many times"); AssertionError("Queue <repr> not closed")
// from join_thread() before close(); SimpleQueue after close() raises OSError('handle is closed').
//
// Thread- and process-safety: all methods, from any thread of any process sharing the queue.
// Handles are cheap to copy and share one local state (buffer, feeder thread). Blocking: put()
// blocks only on a full bounded queue (never on the transport, except SimpleQueue, which writes
// synchronously); get() until an item arrives; join() until every task is done. Lifetimes: when
// the last handle of a process goes away, its buffered items are flushed first (unless
// cancel_join_thread()), as CPython flushes at exit.

#ifndef MPIPC_QUEUE_H_
#define MPIPC_QUEUE_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "mpipc/errors.h"
#include "mpipc/queue_core.h"
#include "mpipc/serialization.h"
#include "mpipc/sys.h"
#include "mpipc/value.h"

namespace mpipc {

// How items of type T become bytes in a queue. The primary template uses Boost.Serialization;
// the specialisations below are the fast paths. with_bytes(v, f) calls f(std::string_view) once.
template <typename T, typename Enable = void>
struct QueueCodec {
  template <typename F>
  static void with_bytes(const T& v, F&& f) {
    thread_local std::string buffer;
    buffer = Serialize(v);
    const std::string_view bytes = buffer;
    f(bytes);
  }
  static T decode(std::string_view bytes) { return Deserialize<T>(bytes); }
};

template <>
struct QueueCodec<std::string> {
  template <typename F>
  static void with_bytes(const std::string& v, F&& f) {
    const std::string_view bytes = v;
    f(bytes);
  }
  static std::string decode(std::string_view bytes) { return std::string(bytes); }
};

namespace queue_internal {
template <typename T>
inline constexpr bool kIsByte = std::is_same_v<T, char> || std::is_same_v<T, unsigned char> ||
                                std::is_same_v<T, signed char> || std::is_same_v<T, std::byte>;
template <typename T>
struct IsByteVector : std::false_type {};
template <typename B, typename A>
struct IsByteVector<std::vector<B, A>> : std::bool_constant<kIsByte<B>> {};
}  // namespace queue_internal

template <typename T>
struct QueueCodec<T, std::enable_if_t<queue_internal::IsByteVector<T>::value>> {
  template <typename F>
  static void with_bytes(const T& v, F&& f) {
    f(std::string_view(reinterpret_cast<const char*>(v.data()), v.size()));
  }
  static T decode(std::string_view bytes) {
    T v(bytes.size());
    if (!bytes.empty()) std::memcpy(v.data(), bytes.data(), bytes.size());
    return v;
  }
};

template <typename T>
struct QueueCodec<T, std::enable_if_t<std::is_trivially_copyable_v<T> && !std::is_pointer_v<T> &&
                                      !queue_internal::IsByteVector<T>::value>> {
  template <typename F>
  static void with_bytes(const T& v, F&& f) {
    f(std::string_view(reinterpret_cast<const char*>(&v), sizeof(T)));
  }
  static T decode(std::string_view bytes) {
    if (bytes.size() != sizeof(T)) {
      throw SerializationError{"item of " + std::to_string(bytes.size()) + " bytes, expected " +
                               std::to_string(sizeof(T))};
    }
    T v;
    std::memcpy(static_cast<void*>(&v), bytes.data(), sizeof(T));
    return v;
  }
};

// Value items use the hardened Value codec (value.h), not a Boost archive.
template <>
struct QueueCodec<Value> {
  template <typename F>
  static void with_bytes(const Value& v, F&& f) {
    const std::string encoded = EncodeValue(v);
    const std::string_view bytes = encoded;
    f(bytes);
  }
  static Value decode(std::string_view bytes) { return DecodeValue(bytes); }
};

namespace queue_internal {
inline sys::Deadline DeadlineFor(bool block, std::optional<double> timeout) {
  return block ? sys::DeadlineAfter(timeout) : sys::Deadline(sys::Clock::now());
}
}  // namespace queue_internal

template <typename T>
class Queue {
 public:
  // maxsize <= 0: unbounded (Q-CTOR); more than 2^31-1: ValueError.
  explicit Queue(int64_t maxsize = 0, const QueueOptions& options = {})
      : Queue(std::make_shared<QueueCore>(QueueKind::kQueue, maxsize, options)) {}

  static Queue Create(const std::string& name, int64_t maxsize = 0,
                      const QueueOptions& options = {}) {
    return Queue(QueueCore::Create(name, QueueKind::kQueue, maxsize, options));
  }
  static Queue Open(const std::string& name) {
    return Queue(QueueCore::Open(name, QueueKind::kQueue));
  }
  static bool Unlink(const std::string& name) { return QueueCore::Unlink(name); }

  void put(const T& item, bool block = true, std::optional<double> timeout = std::nullopt) {
    const sys::Deadline deadline = queue_internal::DeadlineFor(block, timeout);
    QueueCodec<T>::with_bytes(item, [&](std::string_view bytes) { core_->put(bytes, deadline); });
  }
  T get(bool block = true, std::optional<double> timeout = std::nullopt) {
    std::optional<T> out;
    core_->get(queue_internal::DeadlineFor(block, timeout),
               [&out](std::string_view bytes) { out.emplace(QueueCodec<T>::decode(bytes)); });
    return std::move(*out);
  }
  void put_nowait(const T& item) { put(item, false); }
  T get_nowait() { return get(false); }

  bool empty() const { return core_->empty(); }
  bool full() const { return core_->full(); }
  int64_t qsize() const { return core_->qsize(); }
  int64_t maxsize() const { return core_->maxsize(); }

  void close() { core_->close(); }
  void join_thread() { core_->join_thread(); }
  void cancel_join_thread() { core_->cancel_join_thread(); }

  // The untyped queue underneath (shared with this handle).
  QueueCore& core() const { return *core_; }

 protected:
  explicit Queue(std::shared_ptr<QueueCore> core) : core_(std::move(core)) {}
  std::shared_ptr<QueueCore> core_;
};

template <typename T>
class JoinableQueue : public Queue<T> {
 public:
  explicit JoinableQueue(int64_t maxsize = 0, const QueueOptions& options = {})
      : Queue<T>(std::make_shared<QueueCore>(QueueKind::kJoinable, maxsize, options)) {}
  static JoinableQueue Create(const std::string& name, int64_t maxsize = 0,
                              const QueueOptions& options = {}) {
    return JoinableQueue(QueueCore::Create(name, QueueKind::kJoinable, maxsize, options));
  }
  static JoinableQueue Open(const std::string& name) {
    return JoinableQueue(QueueCore::Open(name, QueueKind::kJoinable));
  }

  // ValueError('task_done() called too many times') when no task is unfinished.
  void task_done() { this->core_->task_done(); }
  // Blocks until every task put so far is done (JQ-JOIN-ZERO: at once when none is).
  void join() { this->core_->join(std::nullopt); }
  // Beyond CPython: returns false if tasks remain after `timeout` seconds.
  bool join(double timeout) { return this->core_->join(sys::DeadlineAfter(timeout)); }
  int64_t unfinished_tasks() const { return this->core_->unfinished(); }

 private:
  explicit JoinableQueue(std::shared_ptr<QueueCore> core) : Queue<T>(std::move(core)) {}
};

template <typename T>
class SimpleQueue {
 public:
  explicit SimpleQueue(const QueueOptions& options = {})
      : core_(std::make_shared<QueueCore>(QueueKind::kSimple, 0, options)) {}
  static SimpleQueue Create(const std::string& name, const QueueOptions& options = {}) {
    return SimpleQueue(QueueCore::Create(name, QueueKind::kSimple, 0, options));
  }
  static SimpleQueue Open(const std::string& name) {
    return SimpleQueue(QueueCore::Open(name, QueueKind::kSimple));
  }

  // Writes synchronously: once put() returns, empty() is false in every process (SQ-EMPTY-SYNC).
  void put(const T& item) {
    QueueCodec<T>::with_bytes(item, [&](std::string_view bytes) {
      core_->put(bytes, std::nullopt, /*block_on_ring=*/true);
    });
  }
  T get() {
    std::optional<T> out;
    core_->get(std::nullopt,
               [&out](std::string_view bytes) { out.emplace(QueueCodec<T>::decode(bytes)); });
    return std::move(*out);
  }
  bool empty() const {
    if (core_->closed()) throw OSError("handle is closed");
    return core_->empty();
  }
  void close() { core_->close(); }

  QueueCore& core() const { return *core_; }

 private:
  explicit SimpleQueue(std::shared_ptr<QueueCore> core) : core_(std::move(core)) {}
  std::shared_ptr<QueueCore> core_;
};

}  // namespace mpipc

#endif  // MPIPC_QUEUE_H_
