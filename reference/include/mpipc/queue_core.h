// mpipc::QueueCore: the untyped, cross-process byte-message queue under Queue<T>,
// JoinableQueue<T> and SimpleQueue<T> (queue.h). Most users want those; drivers and benchmarks
// that move raw bytes use this directly.
//
// Design. Items live in one shared-memory segment (Boost.Interprocess: anonymous for queues that
// reach children by fork, named for queues opened by name): a header, a table of per-process
// counters, and a byte ring. Producers take a write lock, consumers a read lock; the ring between
// them is single-producer/single-consumer, so a put and a get never wait for each other except
// on an empty or full ring. Blocking operations sleep on futexes in the segment (after a short,
// bounded spin); there is no polling loop, only 50 ms liveness slices while waiting on something
// a dead process could hold.
//
// An item is one record; an item too large for half the ring streams through it in chunks
// (first, middle, last), so items of any size pass. Each record is published by a single atomic
// store of the ring's tail, which also counts whole items: nothing a producer wrote becomes
// visible before that store, and a consumer publishes its progress the same way through the
// head.
//
// Robustness to SIGKILL at any instruction. Both locks record their owner's pid; a waiter that
// finds the owner dead (or a zombie) takes the lock over. Because every state change is one
// atomic store, what a dead holder leaves is either done or invisible: a half-written record is
// beyond the tail and is overwritten, a half-read one is still before the head and is read again
// (so never torn, never delivered twice). A stream whose producer died is discarded by the reader
// as soon as it sees the producer gone or another item begin. Counters (qsize, JoinableQueue's
// unfinished tasks) are per process, each a single atomic word; the slots of dead processes are
// swept (their reserved-but-unwritten items no longer counted), so no count is left waiting for
// an item that will never come. At most the items a dead process held in flight are lost: those
// in its local buffer, the one it was writing, the one it was reading.
//
// Unbounded queues never block put() on the transport: when the ring is full (or another
// producer holds the write lock) the item goes to a per-process buffer that a feeder thread
// drains, in order; with room, put() writes straight into the ring. One bounded exception: an
// item of 64 KiB or more may wait up to 200 us for room before it is buffered, because copying it
// into the buffer would cost about as long. See close(), join_thread(),
// cancel_join_thread() for the buffer's lifetime.
//
// Thread- and process-safety: every method may be called from any thread of any process that
// shares the queue. Handles are cheap copies (shared ownership of the mapping); a fork()ed child
// starts with an empty local buffer and no feeder (Q-FORK).

#ifndef MPIPC_QUEUE_CORE_H_
#define MPIPC_QUEUE_CORE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "mpipc/sys.h"

namespace mpipc {

enum class QueueKind : uint32_t { kQueue = 1, kJoinable = 2, kSimple = 3 };

struct QueueOptions {
  // Bytes of shared ring; a power of two, at least 4 KiB. Items up to about half of it pass as
  // one record; larger ones stream through it in quarter-ring chunks.
  size_t ring_bytes = size_t{4} << 20;
};

class QueueCore {
 public:
  // maxsize <= 0: unbounded. Anonymous segment, shared with children created by fork().
  QueueCore(QueueKind kind, int64_t maxsize, const QueueOptions& options = {});
  // A named segment (POSIX shared memory `/name`) that unrelated processes can Open().
  // Throws OSError(EEXIST) if the name exists.
  static std::shared_ptr<QueueCore> Create(const std::string& name, QueueKind kind, int64_t maxsize,
                                           const QueueOptions& options = {});
  // Opens a queue made by Create(); OSError(ENOENT) if there is none, ValueError if the segment
  // is not a queue of this kind.
  static std::shared_ptr<QueueCore> Open(const std::string& name, QueueKind kind);
  // Removes the name (the queue lives on in the processes that have it open).
  static bool Unlink(const std::string& name);
  ~QueueCore();
  QueueCore(const QueueCore&) = delete;
  QueueCore& operator=(const QueueCore&) = delete;

  QueueKind kind() const noexcept;
  int64_t maxsize() const noexcept;
  const std::string& repr() const noexcept { return repr_; }

  // --- producer side ----------------------------------------------------------------------
  // Counts the item (waiting for a free slot of a bounded queue until `deadline`: Full when it
  // passes), then writes it to the ring directly, or buffers it for the feeder. `block_on_ring`
  // (SimpleQueue) writes synchronously instead, waiting for ring space.
  void put(std::string_view item, const sys::Deadline& deadline, bool block_on_ring = false);

  // --- consumer side ----------------------------------------------------------------------
  // Waits for an item until `deadline` (nullopt: forever) and hands its bytes to `consume`
  // (which runs while the item is still in the ring; it may throw: the item is consumed anyway,
  // the exception propagates). Throws Empty when the deadline passes.
  void get(const sys::Deadline& deadline, const std::function<void(std::string_view)>& consume);

  // --- state ------------------------------------------------------------------------------
  bool empty() const noexcept;  // no whole or partial item in the ring right now
  int64_t qsize() const noexcept;
  bool full() const noexcept;

  // JoinableQueue: the count of unfinished tasks.
  void task_done();
  bool join(const sys::Deadline& deadline);
  int64_t unfinished() const noexcept;

  // Local lifetime (this process only).
  void close();
  bool closed() const noexcept;
  void join_thread();
  void cancel_join_thread();
  // Flushes this process's buffer as process exit does (used by Process and atexit).
  void flush_at_exit();

 private:
  struct Shared;
  struct Local;
  struct TwinTag {};
  QueueCore(const QueueCore& other, TwinTag tag);
  static void StopFeeder(Local& l, bool wait);
  QueueCore(void* region_owner, Shared* shared, QueueKind kind);
  void init_shared(QueueKind kind, int64_t maxsize, size_t ring_bytes);
  Local& local();
  void start_feeder(Local& l);
  void feeder_loop(const std::shared_ptr<Local>& l);
  int my_slot(Local& l);
  void reserve_place(std::atomic<uint64_t>& counts, const sys::Deadline& deadline);
  void sweep();
  void finish_fold();
  // Writes one item (streaming it if large); gives up (false) at `give_up` for lack of room.
  bool write_item(std::string_view item, const sys::Deadline& give_up);
  // write_item() of an item that `counts` (if not null) holds as pending, uncounting it once it
  // is in the ring, so that a SIGKILL at any point leaves the count right for sweep().
  bool write_pending_item(std::string_view item, const sys::Deadline& give_up,
                          std::atomic<uint64_t>* counts);
  // After taking the write lock over from a dead holder, before writing: sweeps its slot.
  void settle_dead_writer();
  bool try_write_record(uint32_t kind, std::string_view chunk, uint64_t total);
  bool read_item(Local& l, const sys::Deadline& deadline,
                 const std::function<void(std::string_view)>& consume);
  uint32_t unfinished_locked() const noexcept;
  void release_read_side(Local& l);

  std::shared_ptr<void> region_;  // keeps the mapping alive (boost::interprocess::mapped_region)
  Shared* shared_ = nullptr;
  unsigned char* ring_ = nullptr;
  std::string repr_;
  std::shared_ptr<Local> local_;
  // ForkGeneration() of local_; another value means first use in a fork()ed child (local()).
  std::atomic<uint64_t> local_generation_{0};
  bool twin_ = false;  // the feeder's handle: its destruction stops nothing
};

// Flushes the local buffers of every queue of this process (except those with
// cancel_join_thread()), as CPython does at exit (Q-EXIT-FLUSH). Each queue registers this with
// the process-exit hooks (process.h) when it first buffers an item, so Process children and normal
// exit do it by themselves; call it before _exit() in a child made with a bare fork(). It runs
// every exit hook (RunAtChildExit()).
void FlushQueuesAtExit();

}  // namespace mpipc

#endif  // MPIPC_QUEUE_CORE_H_
