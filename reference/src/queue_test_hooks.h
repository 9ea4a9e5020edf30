// Internal: points where a test stops a queue operation to force an interleaving that timing
// alone makes rare (a producer publishing the last record of a stream and dying while a consumer
// decides what to do about its half-read stream).
//
// Each hook is a plain function pointer, null by default; a null hook costs one relaxed load on
// a slow path only (never on the small-item fast path). Hooks are per process (a fork()ed child
// inherits the parent's) and are meant to be set once, before the queue is used, by a test.

#ifndef MPIPC_SRC_QUEUE_TEST_HOOKS_H_
#define MPIPC_SRC_QUEUE_TEST_HOOKS_H_

#include <atomic>

namespace mpipc::internal {

struct QueueTestHooks {
  // Called by a producer streaming an item larger than half the ring, after each of its records
  // is published; `last` is true after the record that completes the item.
  std::atomic<void (*)(bool last)> after_stream_record{nullptr};
  // Called by a consumer whose wait for data returned without a wake-up (a time slice or its
  // deadline passed), before it looks at the ring or its half-read stream again.
  std::atomic<void (*)()> after_data_wait_timeout{nullptr};
};

QueueTestHooks& TestHooks();

}  // namespace mpipc::internal

#endif  // MPIPC_SRC_QUEUE_TEST_HOOKS_H_
