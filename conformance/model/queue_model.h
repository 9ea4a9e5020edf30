// mpipc::model::QueueModel<T>: a pure, deterministic model of multiprocessing's Queue,
// JoinableQueue and SimpleQueue as one process sees them when it uses a queue alone
// (semantics.md §1.J, §1.K, §1.L; spec/clauses/queue.json, joinable_queue.json, simple_queue.json).
//
// Items are an opaque, equality-comparable T (a string, a JSON value, ...): the model never looks
// inside them. Each call returns an Outcome (outcome.h): a value, a Python exception, or
// would-block for a call that would wait for ever in a single-threaded world (get() on an empty
// queue with no timeout, put() on a full one, join() with unfinished tasks). A would-block call
// changes nothing; a driver should not issue it. Calls with a finite timeout never would-block:
// they time out with Empty/Full, which the model predicts at once (the delay is not modelled).
//
// What is exact and what is relaxed:
//  * Exact: FIFO order; Full/Empty (no args) for non-blocking and timed calls; qsize() counted
//    at put() time (also in CPython, Q-QSIZE); full() == (qsize() == maxsize); every closed-queue
//    error; task_done() beyond the count; join() with a zero count; SimpleQueue throughout
//    (SQ-EMPTY-SYNC: its put is synchronous).
//  * Closed-queue messages embed a repr; the model gives a regex (Error::match == kRegex) naming
//    the class: "^Queue <...Queue object at 0x...> is closed$" (JoinableQueue for that kind).
//  * Consistency::kEventual (for CPython's Queue/JoinableQueue, whose put() hands the item to a
//    feeder thread, Q-PUT-ASYNC/Q-GET-AFTER-PUT): an item not yet known to have reached the pipe
//    may be invisible, so empty() may also answer True and get_nowait()/get(timeout) may also
//    raise Empty. Those outcomes carry the alternative. Consistency::kSynchronous (the default,
//    the mpipc reference, D-Q-DIRECT-PUT) predicts exactly. After a get()/empty() whose outcome
//    was not exact, call ReconcileGet()/ReconcileEmpty() with what was observed (calling them
//    after an exact outcome is allowed and just checks it).
//  * empty() after close() of a queue this process put into: CPython answers until the feeder
//    has closed the reader, then raises OSError('handle is closed') (Q-CLOSE-EMPTY); the outcome
//    allows both (the reference keeps answering). On an unused closed queue it is exactly True.
//  * Not modelled: pipe capacity (a CPython feeder or a SimpleQueue.put() blocks on a full pipe,
//    and join_thread() waits for the flush: keep the items of a test small), pickling errors,
//    several processes, the semaphore limit beyond maxsize (see CheckMaxsize()).
//
// Thread-safety: none; a model is a plain value used by one thread.

#ifndef MPIPC_CONFORMANCE_MODEL_QUEUE_MODEL_H_
#define MPIPC_CONFORMANCE_MODEL_QUEUE_MODEL_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>

#include "outcome.h"

namespace mpipc::model {

enum class QueueKind { kQueue, kJoinableQueue, kSimpleQueue };

enum class Consistency {
  kSynchronous,  // an item is visible to empty()/get() as soon as put() returns
  kEventual,     // CPython Queue/JoinableQueue: visible once its feeder flushed it
};

inline const char* QueueClassName(QueueKind kind) {
  switch (kind) {
    case QueueKind::kQueue:
      return "Queue";
    case QueueKind::kJoinableQueue:
      return "JoinableQueue";
    case QueueKind::kSimpleQueue:
      return "SimpleQueue";
  }
  return "?";
}

// The regex of "Queue <repr> <suffix>" for a queue of `kind`: the repr ends with "<Class> object
// at 0x<hex>>", as both CPython ("<multiprocessing.queues.Queue object at 0x7f...>") and the
// reference ("<mpipc::Queue object at 0x55...>") spell it. "\b" keeps Queue from matching
// JoinableQueue.
inline std::string QueueReprPattern(QueueKind kind, const std::string& suffix) {
  return std::string("^Queue <[^<>]*\\b") + QueueClassName(kind) + " object at 0x[0-9a-fA-F]+> " +
         suffix + "$";
}

template <typename T>
class QueueModel {
 public:
  static constexpr int64_t kSemValueMax = 2147483647;  // Linux SEM_VALUE_MAX

  // `maxsize <= 0` means unbounded (kSemValueMax, Q-CTOR). Ignored for SimpleQueue.
  // Precondition: CheckMaxsize(maxsize) is a value.
  explicit QueueModel(QueueKind kind, int64_t maxsize = 0,
                      Consistency consistency = Consistency::kSynchronous)
      : kind_(kind),
        maxsize_(maxsize <= 0 || kind == QueueKind::kSimpleQueue ? kSemValueMax : maxsize),
        eventual_(consistency == Consistency::kEventual && kind != QueueKind::kSimpleQueue) {}

  // Q-CTOR.overflow: CPython (Linux) rejects a maxsize above SEM_VALUE_MAX with OverflowError
  // (the reference deviates: D-Q-MAXSIZE).
  static Outcome<None> CheckMaxsize(int64_t maxsize) {
    if (maxsize > kSemValueMax) {
      return Outcome<None>::Raise(
          MakeError("OverflowError", "Python int too large to convert to C int"));
    }
    return Outcome<None>::Value({});
  }

  QueueKind kind() const { return kind_; }
  int64_t maxsize() const { return maxsize_; }
  bool closed() const { return closed_; }
  const std::deque<T>& items() const { return items_; }
  int64_t unfinished_tasks() const { return unfinished_; }

  // put(obj, block=True, timeout=None); put_nowait(obj) is put(obj, false).
  // SimpleQueue.put takes only the item: block/timeout other than the defaults are a TypeError.
  Outcome<None> put(const T& item, bool block = true,
                    std::optional<double> timeout = std::nullopt) {
    if (kind_ == QueueKind::kSimpleQueue) {
      if (!block || timeout) return Outcome<None>::Raise(SimpleQueueSignatureError("put"));
      if (closed_) return Outcome<None>::Raise(HandleClosed());
    } else {
      if (closed_) return Outcome<None>::Raise(ClosedError());
      if (static_cast<int64_t>(items_.size()) >= maxsize_) {
        // Q-PUT-FULL-NB, Q-PUT-FULL-TO, Q-PUT-ZERO-NEG: block=False ignores the timeout.
        if (block && !timeout) return Outcome<None>::WouldBlock();
        return Outcome<None>::Raise(MakeError("Full"));
      }
    }
    items_.push_back(item);
    used_ = true;
    if (kind_ == QueueKind::kJoinableQueue) ++unfinished_;  // JQ-COUNT: counted at put time
    return Outcome<None>::Value({});
  }
  Outcome<None> put_nowait(const T& item) {
    if (kind_ == QueueKind::kSimpleQueue) return Outcome<None>::Raise(NoAttribute("put_nowait"));
    return put(item, false);
  }

  // get(block=True, timeout=None); get_nowait() is get(false). A zero or negative timeout does not
  // wait (Q-GET-ZERO-NEG). Checked for closed first, even when items remain (Q-GET-CLOSED).
  Outcome<T> get(bool block = true, std::optional<double> timeout = std::nullopt) {
    last_get_.reset();
    popped_.reset();
    if (kind_ == QueueKind::kSimpleQueue) {
      if (!block || timeout) return Remember(Outcome<T>::Raise(SimpleQueueSignatureError("get")));
      if (closed_) return Remember(Outcome<T>::Raise(HandleClosed()));
    } else if (closed_) {
      return Remember(Outcome<T>::Raise(ClosedError()));
    }
    const bool waits_for_ever = block && !timeout;
    if (items_.empty()) {
      return Remember(waits_for_ever ? Outcome<T>::WouldBlock()
                                     : Outcome<T>::Raise(MakeError("Empty")));
    }
    Outcome<T> out = Outcome<T>::Value(items_.front());
    if (eventual_ && flushed_ == 0 && !waits_for_ever)
      out.Allow(Outcome<T>::Raise(MakeError("Empty")));
    popped_ = items_.front();
    items_.pop_front();
    if (flushed_ > 0) --flushed_;
    return Remember(std::move(out));
  }
  Outcome<T> get_nowait() {
    if (kind_ == QueueKind::kSimpleQueue) {
      last_get_.reset();
      popped_.reset();
      return Remember(Outcome<T>::Raise(NoAttribute("get_nowait")));
    }
    return get(false);
  }

  // Call after get()/get_nowait() with the outcome the implementation produced. Returns whether
  // it conforms; if it was the relaxed Empty, the item goes back to the front of the queue. If
  // the item was delivered, every earlier item was flushed too (one producer, FIFO).
  bool ReconcileGet(const Outcome<T>& actual) {
    if (!last_get_ || !last_get_->Accepts(actual)) return false;
    if (popped_ && actual.is_error()) {
      items_.push_front(*popped_);
    }
    popped_.reset();
    last_get_.reset();
    return true;
  }

  Outcome<int64_t> qsize() const {
    if (kind_ == QueueKind::kSimpleQueue) return Outcome<int64_t>::Raise(NoAttribute("qsize"));
    return Outcome<int64_t>::Value(static_cast<int64_t>(items_.size()));  // works after close too
  }

  Outcome<bool> full() const {
    if (kind_ == QueueKind::kSimpleQueue) return Outcome<bool>::Raise(NoAttribute("full"));
    return Outcome<bool>::Value(static_cast<int64_t>(items_.size()) >= maxsize_);
  }

  Outcome<bool> empty() {
    Outcome<bool> out = Outcome<bool>::Value(items_.empty());
    if (kind_ == QueueKind::kSimpleQueue) {
      if (closed_) out = Outcome<bool>::Raise(HandleClosed());  // SQ-CLOSE
    } else {
      if (eventual_ && !items_.empty() && flushed_ == 0) out.Allow(Outcome<bool>::Value(true));
      if (closed_ && used_) {
        out.Allow(Outcome<bool>::Raise(HandleClosed()));  // Q-CLOSE-EMPTY.used-after-join/window
        if (eventual_ && !items_.empty()) out.Allow(Outcome<bool>::Value(true));
      }
    }
    last_empty_ = out;
    return out;
  }

  // Call after empty() with the observed outcome. A False answer proves the front item reached
  // the pipe, so a following get_nowait() must return it (Q-GET-AFTER-PUT, one consumer).
  bool ReconcileEmpty(const Outcome<bool>& actual) {
    if (!last_empty_ || !last_empty_->Accepts(actual)) return false;
    if (actual.is_value() && !actual.value() && flushed_ == 0 && !items_.empty()) flushed_ = 1;
    last_empty_.reset();
    return true;
  }

  // Idempotent (Q-CLOSE, SQ-CLOSE).
  Outcome<None> close() {
    closed_ = true;
    return Outcome<None>::Value({});
  }

  // Q-JOIN-THREAD-PRE: AssertionError("Queue <repr> not closed") before close(). Afterwards it
  // returns (the model's items are always flushable: pipe capacity is not modelled).
  Outcome<None> join_thread() const {
    if (kind_ == QueueKind::kSimpleQueue) return Outcome<None>::Raise(NoAttribute("join_thread"));
    if (!closed_) {
      return Outcome<None>::Raise(
          MakeRegexError("AssertionError", QueueReprPattern(kind_, "not closed")));
    }
    return Outcome<None>::Value({});
  }

  Outcome<None> cancel_join_thread() const {
    if (kind_ == QueueKind::kSimpleQueue) {
      return Outcome<None>::Raise(NoAttribute("cancel_join_thread"));
    }
    return Outcome<None>::Value({});
  }

  // JoinableQueue only. JQ-TOO-MANY, JQ-DECOUPLED (not tied to get), JQ-CLOSED (works after close).
  Outcome<None> task_done() {
    if (kind_ != QueueKind::kJoinableQueue) return Outcome<None>::Raise(NoAttribute("task_done"));
    if (unfinished_ == 0) {
      return Outcome<None>::Raise(MakeError("ValueError", std::string(msg::kTaskDoneTooMany)));
    }
    --unfinished_;
    return Outcome<None>::Value({});
  }

  // JoinableQueue only. JQ-JOIN-ZERO: returns when the count is zero, else would block.
  Outcome<None> join() const {
    if (kind_ != QueueKind::kJoinableQueue) return Outcome<None>::Raise(NoAttribute("join"));
    if (unfinished_ > 0) return Outcome<None>::WouldBlock();
    return Outcome<None>::Value({});
  }

  // The error of put/get on a closed Queue/JoinableQueue (Q-PUT-CLOSED, Q-GET-CLOSED, JQ-SUBCLASS).
  Error ClosedError() const {
    return MakeRegexError("ValueError", QueueReprPattern(kind_, "is closed"));
  }

 private:
  static Error HandleClosed() { return MakeError("OSError", std::string(msg::kHandleClosed)); }

  // SQ-API: the methods SimpleQueue lacks.
  Error NoAttribute(const char* name) const {
    return MakeError("AttributeError", std::string("'") + QueueClassName(kind_) +
                                           "' object has no attribute '" + name + "'");
  }

  // SimpleQueue.put(obj)/get() given block/timeout: positional or keyword, Python's TypeError.
  static Error SimpleQueueSignatureError(const char* method) {
    return MakeRegexError("TypeError", std::string("^SimpleQueue\\.") + method +
                                           "\\(\\) (takes \\d+ positional arguments? but \\d+ "
                                           "(was|were) given|got an unexpected keyword argument)");
  }

  Outcome<T> Remember(Outcome<T> out) {
    last_get_ = out;
    return out;
  }

  QueueKind kind_;
  int64_t maxsize_;
  bool eventual_;
  bool closed_ = false;
  bool used_ = false;  // a put() succeeded (CPython: this process started a feeder)
  std::deque<T> items_;
  int64_t unfinished_ = 0;
  int64_t flushed_ = 0;  // kEventual: how many front items are known to be in the pipe
  std::optional<Outcome<T>> last_get_;
  std::optional<T> popped_;
  std::optional<Outcome<bool>> last_empty_;
};

}  // namespace mpipc::model

#endif  // MPIPC_CONFORMANCE_MODEL_QUEUE_MODEL_H_
