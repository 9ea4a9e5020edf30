#include "mpipc/queue_core.h"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/interprocess/anonymous_shared_memory.hpp>
#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__SANITIZE_THREAD__)
#define MPIPC_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MPIPC_TSAN 1
#endif
#endif
#ifdef MPIPC_TSAN
#include <time.h>
#endif

#include "futex.h"
#include "mpipc/errors.h"
#include "mpipc/process.h"
#include "queue_test_hooks.h"
#include "robust_lock.h"

namespace mpipc {

namespace bip = boost::interprocess;

// The producers' cached_head and the consumers' cached_tail save a read of the other side's
// line. Reading them is correct across processes (whoever stored one had read the position with
// acquire, and passed it on under the lock, release to acquire), but ThreadSanitizer sees only
// this process: a copy left by another process links nothing it can see, and a write into space
// freed by this process's own consumer looks unordered with that consumer's read. TSan builds
// therefore always read the position itself, which synchronises with its writer directly.
#ifdef MPIPC_TSAN
constexpr bool kUseCachedPositions = false;
#else
constexpr bool kUseCachedPositions = true;
#endif
using internal::CurrentPid;
using internal::FutexWait;
using internal::FutexWake;
using internal::LockResult;
using internal::ProcessAlive;
using internal::RobustLock;
using internal::RobustTryLock;
using internal::RobustUnlock;

namespace {

constexpr uint64_t kMagic = 0x6575517370697063;  // "cpipsQue": written last by the creator
constexpr uint32_t kVersion = 2;
constexpr int kMaxSlots = 256;

// Ring positions are packed with item counts in one 64-bit word, so that a single store
// publishes both: low 40 bits = byte position (mod 2^40), high 24 bits = whole items (mod 2^24).
constexpr int kPosBits = 40;
constexpr uint64_t kPosMask = (uint64_t{1} << kPosBits) - 1;
constexpr uint64_t kIdxMask = (uint64_t{1} << 24) - 1;
inline uint64_t Pos(uint64_t w) { return w & kPosMask; }
inline uint64_t Idx(uint64_t w) { return w >> kPosBits; }
inline uint64_t Advance(uint64_t w, uint64_t bytes, uint64_t items) {
  return (((Idx(w) + items) & kIdxMask) << kPosBits) | ((Pos(w) + bytes) & kPosMask);
}

enum RecordKind : uint16_t { kPad = 1, kItem = 2, kFirst = 3, kMiddle = 4, kLast = 5 };

struct RecordHeader {
  uint32_t len;   // payload bytes of this record
  uint16_t kind;  // RecordKind
  uint16_t unused;
  int32_t pid;  // the producer (streams: used to notice that it died)
  uint32_t unused2;
  uint64_t total;  // kFirst/kMiddle/kLast: the whole item's size
};
static_assert(sizeof(RecordHeader) == 24);
constexpr size_t kRecordHeader = sizeof(RecordHeader);
inline uint64_t RecordSize(uint64_t len) { return (kRecordHeader + len + 7) & ~uint64_t{7}; }

// A per-process counter word: high 32 bits = items ever put (mod 2^32), low 31 bits = items
// counted but not yet written into the ring ("pending"), and kCommitting, set while this
// process's write-lock holder writes one of its pending items (write_pending_item()).
constexpr uint64_t kOnePut = uint64_t{1} << 32;
constexpr uint64_t kCommitting = uint64_t{1} << 31;
inline uint32_t Puts(uint64_t w) { return static_cast<uint32_t>(w >> 32); }
inline uint32_t Pending(uint64_t w) { return static_cast<uint32_t>(w) & 0x7fffffff; }

struct Slot {
  std::atomic<int32_t> pid;
  uint32_t unused;
  std::atomic<uint64_t> counts;
};

// put() of an item this large waits up to kPutGrace for ring space before buffering it.
constexpr size_t kGraceItemSize = 64 << 10;
constexpr auto kPutGrace = std::chrono::microseconds(200);
// Emptied feeder buffers kept per process for reuse.
constexpr size_t kSpareBytes = 16 << 20;

// How long a consumer spins on the ring before it sleeps on the futex: at most kSpin, adapted
// per process. A spin that ends without an item halves the next one (down to kMinSpin, a few
// hundred pause instructions), a spin that catches one doubles it. When the producer runs on the
// other core, items arrive within the spin and no futex is touched; when it does not (its core is
// busy, or both share one core), a full spin only burns the CPU the producer needs before the
// sleep: 20 us per hop made a round trip cost 55 us on a loaded 2-core machine.
constexpr auto kSpin = std::chrono::microseconds(20);
constexpr auto kMinSpin = std::chrono::nanoseconds(500);

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

[[noreturn]] void ThrowBoost(const bip::interprocess_exception& e, const std::string& what) {
  const int err = e.get_native_error();
  if (err != 0) throw OSError(err, what + ": " + std::strerror(err));
  throw OSError(what + ": " + e.what());
}

std::string Repr(QueueKind kind, const void* self) {
  const char* name = kind == QueueKind::kJoinable ? "JoinableQueue"
                     : kind == QueueKind::kSimple ? "SimpleQueue"
                                                  : "Queue";
  char buf[96];
  std::snprintf(buf, sizeof buf, "<mpipc::%s object at %p>", name, self);
  return buf;
}

}  // namespace

internal::QueueTestHooks& internal::TestHooks() {
  static QueueTestHooks hooks;
  return hooks;
}

namespace {

sys::Deadline SliceUntil(const sys::Deadline& deadline) {
  sys::Deadline slice = sys::Clock::now() + internal::kLivenessSlice;
  if (deadline && *deadline < *slice) return deadline;
  return slice;
}

// lock.try_lock_until(deadline). Under ThreadSanitizer it goes through pthread_mutex_timedlock,
// which LLVM 14's TSan intercepts, instead of pthread_mutex_clocklock (libstdc++ 12's choice for
// steady_clock), which it does not: unaided, TSan never sees that lock taken, reports false data
// races on what the mutex guards, and calls its release an unlock of an unlocked mutex. The
// TSan-only path waits against CLOCK_REALTIME, so a wall-clock step can stretch or cut that wait.
bool TryLockUntil(std::unique_lock<std::timed_mutex>& lock, sys::Clock::time_point deadline) {
#ifdef MPIPC_TSAN
  const auto left = std::max(deadline - sys::Clock::now(), sys::Clock::duration::zero());
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count() + ts.tv_nsec;
  ts.tv_sec += static_cast<time_t>(ns / 1'000'000'000);
  ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
  if (pthread_mutex_timedlock(lock.mutex()->native_handle(), &ts) != 0) return false;
  lock = std::unique_lock<std::timed_mutex>(*lock.mutex(), std::adopt_lock);
  return true;
#else
  return lock.try_lock_until(deadline);
#endif
}

bool Passed(const sys::Deadline& deadline) { return deadline && sys::Clock::now() >= *deadline; }

// Serialises the replacement of a queue's local state on first use in a fork()ed child
// (QueueCore::local()). The forking thread holds it across fork(), so no child starts with it
// held.
std::mutex g_fork_reset_mu;
struct ForkResetRegistration {
  ForkResetRegistration() {
    pthread_atfork([] { g_fork_reset_mu.lock(); }, [] { g_fork_reset_mu.unlock(); },
                   [] { g_fork_reset_mu.unlock(); });
  }
};
const ForkResetRegistration g_fork_reset_registration;

}  // namespace

struct QueueCore::Shared {
  std::atomic<uint64_t> magic;
  uint32_t version;
  uint32_t kind;
  uint64_t capacity;
  int64_t maxsize;

  // Producers (under the write lock). cached_head is a possibly stale copy of head: heads only
  // grow, so it never overstates the free space, and the shared head is read only when it
  // seems short.
  alignas(64) std::atomic<uint32_t> write_lock;
  std::atomic<uint64_t> tail;
  std::atomic<uint64_t> cached_head;
  std::atomic<uint32_t> commit_idx;  // Idx(tail) before the pending item being written

  // Consumers (under the read lock); cached_tail likewise understates the data.
  alignas(64) std::atomic<uint32_t> read_lock;
  std::atomic<uint64_t> head;
  std::atomic<uint64_t> cached_tail;

  // Sleepers, on lines of their own so that the commits above do not bounce them. A sequence
  // word is bumped only when its waiter count is non-zero.
  alignas(64) std::atomic<uint32_t> data_seq;
  std::atomic<uint32_t> data_waiters;
  // The data_seq value the (single: it holds the read lock) data waiter sleeps on. A producer
  // bumps and wakes only while it equals data_seq: once bumped, the sleeper is woken (or its wait
  // fails) whatever follows, so the puts made before it runs again skip the futex syscall, as a
  // condition variable is signalled only on empty -> non-empty.
  std::atomic<uint32_t> data_wait_seq;
  alignas(64) std::atomic<uint32_t> space_seq;
  std::atomic<uint32_t> space_waiters;

  // Accounting: the slot table, JoinableQueue's task counts, and their wake-ups.
  alignas(64) std::atomic<uint32_t> slot_lock;
  std::atomic<uint32_t> slot_seq;  // bumped when room may have appeared (get, sweep)
  std::atomic<uint32_t> slot_waiters;
  std::atomic<uint32_t> join_seq;  // bumped when unfinished tasks reach zero
  std::atomic<uint32_t> join_waiters;
  std::atomic<uint32_t> slots_high;    // slots in use are below this index
  std::atomic<uint32_t> retired_puts;  // puts of swept processes that reached the ring
  // The sweep's journal: folding a dead slot into retired_puts takes several stores, so the
  // sweeper first records the outcome here (fold_slot = index + 1); a sweeper that takes the
  // slot lock over from a dead one finishes the fold with the same absolute values.
  std::atomic<uint32_t> fold_slot;
  std::atomic<uint32_t> fold_retired;
  std::atomic<uint32_t> done_total;  // task_done() calls

  alignas(64) Slot slots[kMaxSlots];
};

// This process's side of one queue: the feeder's buffer and the consumer's half-read stream.
struct QueueCore::Local {
  uint64_t generation = 0;

  std::mutex mu;  // guards the fields down to `slot`
  std::condition_variable cv;
  std::deque<std::string> buffer;
  std::vector<std::string> spare;  // emptied buffers kept for reuse, spare_bytes in all
  size_t spare_bytes = 0;
  std::thread feeder;
  bool feeder_busy = false;     // the feeder is writing a batch
  bool feeder_waiting = false;  // the feeder sleeps on cv
  bool closing = false;
  bool closed = false;
  bool cancel_join = false;
  int slot = -1;

  std::mutex producer_mu;  // one writer of this process on the shared write lock at a time
  std::mutex join_mu;      // serialises join()/detach() of `feeder`

  std::timed_mutex consumer_mu;  // guards the fields below
  bool holding_read = false;
  bool stash_active = false;
  std::string stash;
  uint64_t stash_total = 0;
  int32_t stash_pid = 0;
  std::chrono::nanoseconds spin = kSpin;  // the next spin's length (see kSpin)
};

// ---------------------------------------------------------------------------------------------
// Construction

QueueCore::QueueCore(QueueKind kind, int64_t maxsize, const QueueOptions& options) {
  const size_t cap = options.ring_bytes;
  if (cap < 4096 || (cap & (cap - 1)) != 0 || cap > (size_t{1} << 31)) {
    throw ValueError("ring_bytes must be a power of two between 4 KiB and 2 GiB");
  }
  if (maxsize > INT32_MAX) throw ValueError("maxsize too large (at most 2147483647)");
  const size_t header = (sizeof(Shared) + 63) & ~size_t{63};
  try {
    auto region = std::make_shared<bip::mapped_region>(bip::anonymous_shared_memory(header + cap));
    shared_ = static_cast<Shared*>(region->get_address());
    region_ = region;
  } catch (const bip::interprocess_exception& e) {
    ThrowBoost(e, "cannot map shared memory for a queue");
  }
  ring_ = reinterpret_cast<unsigned char*>(shared_) + header;
  init_shared(kind, maxsize, cap);
  repr_ = Repr(kind, this);
  local_ = std::make_shared<Local>();
  local_->generation = internal::ForkGeneration();
  local_generation_.store(local_->generation);
}

QueueCore::QueueCore(void* region_owner, Shared* shared, QueueKind kind)
    : region_(static_cast<bip::mapped_region*>(region_owner)), shared_(shared) {
  const size_t header = (sizeof(Shared) + 63) & ~size_t{63};
  ring_ = reinterpret_cast<unsigned char*>(shared_) + header;
  repr_ = Repr(kind, this);
  local_ = std::make_shared<Local>();
  local_->generation = internal::ForkGeneration();
  local_generation_.store(local_->generation);
}

QueueCore::QueueCore(const QueueCore& other, TwinTag /*tag*/)
    : region_(other.region_),
      shared_(other.shared_),
      ring_(other.ring_),
      repr_(other.repr_),
      local_(other.local_),
      local_generation_(other.local_generation_.load()),
      twin_(true) {}

void QueueCore::init_shared(QueueKind kind, int64_t maxsize, size_t ring_bytes) {
  // The mapping is zero-filled; only the non-zero fields need setting.
  shared_->version = kVersion;
  shared_->kind = static_cast<uint32_t>(kind);
  shared_->capacity = ring_bytes;
  shared_->maxsize = maxsize > 0 ? maxsize : 0;
  shared_->magic.store(kMagic, std::memory_order_release);
}

std::shared_ptr<QueueCore> QueueCore::Create(const std::string& name, QueueKind kind,
                                             int64_t maxsize, const QueueOptions& options) {
  const size_t cap = options.ring_bytes;
  if (cap < 4096 || (cap & (cap - 1)) != 0 || cap > (size_t{1} << 31)) {
    throw ValueError("ring_bytes must be a power of two between 4 KiB and 2 GiB");
  }
  if (maxsize > INT32_MAX) throw ValueError("maxsize too large (at most 2147483647)");
  const size_t header = (sizeof(Shared) + 63) & ~size_t{63};
  bip::mapped_region* region = nullptr;
  try {
    bip::shared_memory_object shm(bip::create_only, name.c_str(), bip::read_write);
    shm.truncate(static_cast<bip::offset_t>(header + cap));
    region = new bip::mapped_region(shm, bip::read_write);
  } catch (const bip::interprocess_exception& e) {
    ThrowBoost(e, "cannot create queue '" + name + "'");
  }
  auto* shared = static_cast<Shared*>(region->get_address());
  std::shared_ptr<QueueCore> core(new QueueCore(region, shared, kind));
  core->init_shared(kind, maxsize, cap);
  return core;
}

std::shared_ptr<QueueCore> QueueCore::Open(const std::string& name, QueueKind kind) {
  bip::mapped_region* region = nullptr;
  const size_t header = (sizeof(Shared) + 63) & ~size_t{63};
  try {
    bip::shared_memory_object shm(bip::open_only, name.c_str(), bip::read_write);
    // The creator sizes the object right after creating it; wait (briefly) for that.
    bip::offset_t size = 0;
    for (int i = 0; i < 2000 && (!shm.get_size(size) || size < static_cast<bip::offset_t>(header));
         ++i) {
      usleep(1000);
    }
    if (size < static_cast<bip::offset_t>(header)) {
      throw ValueError("'" + name + "' is not an mpipc queue");
    }
    region = new bip::mapped_region(shm, bip::read_write);
  } catch (const bip::interprocess_exception& e) {
    ThrowBoost(e, "cannot open queue '" + name + "'");
  }
  auto* shared = static_cast<Shared*>(region->get_address());
  std::shared_ptr<QueueCore> core(new QueueCore(region, shared, kind));
  for (int i = 0; i < 2000 && shared->magic.load(std::memory_order_acquire) != kMagic; ++i) {
    usleep(1000);
  }
  if (shared->magic.load(std::memory_order_acquire) != kMagic || shared->version != kVersion ||
      region->get_size() < header + shared->capacity) {
    throw ValueError("'" + name + "' is not an mpipc queue of this version");
  }
  if (shared->kind != static_cast<uint32_t>(kind)) {
    throw ValueError("'" + name + "' is a queue of another kind");
  }
  return core;
}

bool QueueCore::Unlink(const std::string& name) {
  return bip::shared_memory_object::remove(name.c_str());
}

QueueCore::~QueueCore() {
  if (twin_ || !local_ || local_->generation != internal::ForkGeneration()) return;
  // The last handle of this process: flush our buffer as CPython's finalizer does, unless
  // cancel_join_thread() said not to (then the feeder goes on alone, owning what it needs).
  StopFeeder(*local_, /*wait=*/!local_->cancel_join);
  release_read_side(*local_);
}

void QueueCore::StopFeeder(Local& l, bool wait) {
  {
    std::lock_guard<std::mutex> lk(l.mu);
    l.closing = true;
    l.cv.notify_all();
  }
  std::lock_guard<std::mutex> g(l.join_mu);
  if (!l.feeder.joinable()) return;
  if (wait) {
    l.feeder.join();
  } else {
    l.feeder.detach();
  }
}

QueueCore::Local& QueueCore::local() {
  const uint64_t generation = internal::ForkGeneration();
  if (local_generation_.load(std::memory_order_acquire) != generation) {
    // First use in a fork()ed child: the parent's buffer, feeder and half-read item are not ours
    // (Q-FORK). Its mutexes may have been held at fork time, so the old state is abandoned, not
    // destroyed. Several threads of the child may get here at once: one replaces it.
    std::lock_guard<std::mutex> g(g_fork_reset_mu);
    if (local_generation_.load(std::memory_order_relaxed) != generation) {
      new std::shared_ptr<Local>(std::move(local_));  // NOLINT: deliberate leak, see above
      local_ = std::make_shared<Local>();
      local_->generation = generation;
      local_generation_.store(generation, std::memory_order_release);
    }
  }
  return *local_;
}

QueueKind QueueCore::kind() const noexcept { return static_cast<QueueKind>(shared_->kind); }
int64_t QueueCore::maxsize() const noexcept { return shared_->maxsize; }

// ---------------------------------------------------------------------------------------------
// Accounting

int QueueCore::my_slot(Local& l) {
  if (l.slot >= 0) return l.slot;
  const pid_t me = CurrentPid();
  if (RobustLock(&shared_->slot_lock, std::nullopt) == LockResult::kOwnerDied) sweep();
  int found = -1;
  for (int attempt = 0; attempt < 2 && found < 0; ++attempt) {
    for (int i = 0; i < kMaxSlots; ++i) {
      int32_t expected = 0;
      if (shared_->slots[i].pid.load(std::memory_order_relaxed) == 0) {
        shared_->slots[i].counts.store(0, std::memory_order_relaxed);
        if (shared_->slots[i].pid.compare_exchange_strong(expected, me)) {
          found = i;
          break;
        }
      }
    }
    if (found < 0) sweep();
  }
  if (found >= 0) {
    uint32_t high = shared_->slots_high.load();
    while (high < static_cast<uint32_t>(found + 1) &&
           !shared_->slots_high.compare_exchange_weak(high, static_cast<uint32_t>(found + 1))) {
    }
  }
  RobustUnlock(&shared_->slot_lock);
  if (found < 0) {
    throw OSError(EAGAIN,
                  "too many processes use this queue (at most " + std::to_string(kMaxSlots) + ")");
  }
  l.slot = found;
  return found;
}

// Caller holds slot_lock. Folds the slots of dead processes: their puts that reached the ring
// stay counted as tasks, their pending (lost) items stop counting.
void QueueCore::finish_fold() {
  const uint32_t j = shared_->fold_slot.load();
  if (j == 0) return;
  shared_->retired_puts.store(shared_->fold_retired.load());
  shared_->slots[j - 1].counts.store(0);
  shared_->slots[j - 1].pid.store(0);
  shared_->fold_slot.store(0);
}

void QueueCore::sweep() {
  finish_fold();  // a sweeper killed mid-fold left its journal
  const pid_t me = CurrentPid();
  const uint32_t high = shared_->slots_high.load();
  bool freed = false;
  for (uint32_t i = 0; i < high; ++i) {
    Slot& s = shared_->slots[i];
    const int32_t pid = s.pid.load();
    if (pid == 0 || pid == me || ProcessAlive(pid)) continue;
    uint64_t w = s.counts.load();
    if ((w & kCommitting) != 0 &&
        Idx(shared_->tail.load()) != shared_->commit_idx.load(std::memory_order_relaxed)) {
      // It was killed holding the write lock after its item's last record reached the ring but
      // before it uncounted the item (no one has written since: settle_dead_writer()).
      w -= 1;
    }
    const uint32_t retired = shared_->retired_puts.load() + (Puts(w) - Pending(w));
    shared_->fold_retired.store(retired);
    shared_->fold_slot.store(i + 1);  // from here on a crash is finished by finish_fold()
    finish_fold();
    freed = freed || Pending(w) != 0;
  }
  if (freed) {
    shared_->slot_seq.fetch_add(1);
    if (shared_->slot_waiters.load() != 0) FutexWake(&shared_->slot_seq, INT_MAX);
    if (kind() == QueueKind::kJoinable && unfinished_locked() == 0) {
      shared_->join_seq.fetch_add(1);
      FutexWake(&shared_->join_seq, INT_MAX);
    }
  }
}

int64_t QueueCore::qsize() const noexcept {
  const uint64_t t = shared_->tail.load();
  const uint64_t h = shared_->head.load();
  int64_t n = static_cast<int64_t>((Idx(t) - Idx(h)) & kIdxMask);
  const uint32_t high = shared_->slots_high.load();
  for (uint32_t i = 0; i < high; ++i) n += Pending(shared_->slots[i].counts.load());
  return n;
}

bool QueueCore::full() const noexcept {
  return shared_->maxsize > 0 && qsize() >= shared_->maxsize;
}

bool QueueCore::empty() const noexcept {
  return Pos(shared_->tail.load()) == Pos(shared_->head.load());
}

uint32_t QueueCore::unfinished_locked() const noexcept {
  uint32_t n = shared_->retired_puts.load();
  const uint32_t high = shared_->slots_high.load();
  for (uint32_t i = 0; i < high; ++i) n += Puts(shared_->slots[i].counts.load());
  return n - shared_->done_total.load();
}

int64_t QueueCore::unfinished() const noexcept {
  auto* self = const_cast<QueueCore*>(this);
  if (RobustLock(&self->shared_->slot_lock, std::nullopt) == LockResult::kOwnerDied) self->sweep();
  const uint32_t n = unfinished_locked();
  RobustUnlock(&self->shared_->slot_lock);
  return n;
}

void QueueCore::task_done() {
  if (RobustLock(&shared_->slot_lock, std::nullopt) == LockResult::kOwnerDied) sweep();
  const uint32_t n = unfinished_locked();
  if (n == 0) {
    RobustUnlock(&shared_->slot_lock);
    throw ValueError("task_done() called too many times");
  }
  shared_->done_total.fetch_add(1);
  if (n == 1) {
    shared_->join_seq.fetch_add(1);
    if (shared_->join_waiters.load() != 0) FutexWake(&shared_->join_seq, INT_MAX);
  }
  RobustUnlock(&shared_->slot_lock);
}

bool QueueCore::join(const sys::Deadline& deadline) {
  for (;;) {
    if (RobustLock(&shared_->slot_lock, std::nullopt) == LockResult::kOwnerDied) sweep();
    const uint32_t seq = shared_->join_seq.load();
    const uint32_t n = unfinished_locked();
    RobustUnlock(&shared_->slot_lock);
    if (n == 0) return true;
    if (Passed(deadline)) return false;
    shared_->join_waiters.fetch_add(1);
    const bool woke = FutexWait(&shared_->join_seq, seq, SliceUntil(deadline));
    shared_->join_waiters.fetch_sub(1);
    if (!woke) {
      // A producer that died with counted items never writes them: let the sweep uncount them.
      if (RobustLock(&shared_->slot_lock, std::nullopt) == LockResult::kOwnerDied) sweep();
      sweep();
      RobustUnlock(&shared_->slot_lock);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The ring (callers hold the write lock, resp. the read lock)

bool QueueCore::try_write_record(uint32_t kind, std::string_view chunk, uint64_t total) {
  const uint64_t cap = shared_->capacity;
  const uint64_t size = RecordSize(chunk.size());
  const uint64_t t = shared_->tail.load(std::memory_order_relaxed);
  const uint64_t off = Pos(t) & (cap - 1);
  const uint64_t contiguous = cap - off;
  const uint64_t pad = size > contiguous ? contiguous : 0;
  uint64_t h = kUseCachedPositions ? shared_->cached_head.load(std::memory_order_relaxed)
                                   : shared_->head.load(std::memory_order_acquire);
  if (pad + size > cap - ((Pos(t) - Pos(h)) & kPosMask)) {
    h = shared_->head.load(std::memory_order_acquire);
    shared_->cached_head.store(h, std::memory_order_relaxed);
    if (pad + size > cap - ((Pos(t) - Pos(h)) & kPosMask)) return false;
  }
  if (pad != 0 && contiguous >= kRecordHeader) {
    RecordHeader p{};
    p.len = static_cast<uint32_t>(contiguous - kRecordHeader);
    p.kind = kPad;
    std::memcpy(ring_ + off, &p, kRecordHeader);
  }
  const uint64_t start = pad != 0 ? 0 : off;
  RecordHeader r{};
  r.len = static_cast<uint32_t>(chunk.size());
  r.kind = static_cast<uint16_t>(kind);
  r.pid = CurrentPid();
  r.total = total;
  std::memcpy(ring_ + start, &r, kRecordHeader);
  if (!chunk.empty()) std::memcpy(ring_ + start + kRecordHeader, chunk.data(), chunk.size());
  const uint64_t items = (kind == kItem || kind == kLast) ? 1 : 0;
  // The commit: one store publishes the bytes and the item count together.
  shared_->tail.store(Advance(t, pad + size, items), std::memory_order_seq_cst);
  if (shared_->data_waiters.load(std::memory_order_seq_cst) != 0 &&
      shared_->data_wait_seq.load(std::memory_order_seq_cst) ==
          shared_->data_seq.load(std::memory_order_seq_cst)) {
    shared_->data_seq.fetch_add(1, std::memory_order_seq_cst);
    FutexWake(&shared_->data_seq, INT_MAX);
  }
  return true;
}

bool QueueCore::write_item(std::string_view item, const sys::Deadline& give_up) {
  const uint64_t cap = shared_->capacity;
  const auto write_one = [&](uint32_t kind, std::string_view chunk) {
    for (;;) {
      if (try_write_record(kind, chunk, item.size())) return true;
      if (Passed(give_up)) return false;
      shared_->space_waiters.fetch_add(1, std::memory_order_seq_cst);
      const uint32_t seq = shared_->space_seq.load(std::memory_order_seq_cst);
      const bool written = try_write_record(kind, chunk, item.size());
      if (!written) FutexWait(&shared_->space_seq, seq, SliceUntil(give_up));
      shared_->space_waiters.fetch_sub(1, std::memory_order_relaxed);
      if (written) return true;
    }
  };
  if (RecordSize(item.size()) <= cap / 2) return write_one(kItem, item);
  // Streaming (always blocking): chunks of a quarter ring, so that the reader drains one while
  // we fill the next.
  const uint64_t chunk_max = cap / 4 - kRecordHeader;
  for (uint64_t off = 0; off < item.size();) {
    const uint64_t len = std::min<uint64_t>(chunk_max, item.size() - off);
    const uint32_t kind = off == 0 ? kFirst : (off + len == item.size() ? kLast : kMiddle);
    write_one(kind, item.substr(off, len));
    off += len;
    if (auto* hook = internal::TestHooks().after_stream_record.load(std::memory_order_relaxed)) {
      hook(kind == kLast);
    }
  }
  return true;
}

bool QueueCore::write_pending_item(std::string_view item, const sys::Deadline& give_up,
                                   std::atomic<uint64_t>* counts) {
  if (counts == nullptr) return write_item(item, give_up);
  // Publishing the item (the tail store of its last record, which bumps Idx(tail)) and
  // uncounting it are two stores; kCommitting marks the gap, and is cleared with the count in
  // one atomic step, so that sweep() can tell whether a writer killed in between had published.
  shared_->commit_idx.store(static_cast<uint32_t>(Idx(shared_->tail.load())),
                            std::memory_order_relaxed);
  counts->fetch_or(kCommitting);
  bool written = false;
  try {
    written = write_item(item, give_up);
  } catch (...) {
    counts->fetch_sub(kCommitting);
    throw;
  }
  counts->fetch_sub(written ? kCommitting + 1 : kCommitting);
  return written;
}

void QueueCore::settle_dead_writer() {
  if (RobustLock(&shared_->slot_lock, std::nullopt) == LockResult::kOwnerDied) sweep();
  sweep();
  RobustUnlock(&shared_->slot_lock);
}

bool QueueCore::read_item(Local& l, const sys::Deadline& deadline,
                          const std::function<void(std::string_view)>& consume) {
  const uint64_t cap = shared_->capacity;
  const auto drop_stash = [&l] {
    l.stash_active = false;
    l.stash.clear();
    l.stash.shrink_to_fit();
  };
  const auto commit = [this](uint64_t h, uint64_t bytes, uint64_t items) {
    shared_->head.store(Advance(h, bytes, items), std::memory_order_seq_cst);
    if (shared_->space_waiters.load(std::memory_order_seq_cst) != 0) {
      shared_->space_seq.fetch_add(1, std::memory_order_seq_cst);
      FutexWake(&shared_->space_seq, INT_MAX);
    }
  };
  for (;;) {
    const uint64_t h = shared_->head.load(std::memory_order_relaxed);
    uint64_t t = kUseCachedPositions ? shared_->cached_tail.load(std::memory_order_relaxed)
                                     : shared_->tail.load(std::memory_order_acquire);
    if (Pos(h) == Pos(t)) {
      t = shared_->tail.load(std::memory_order_acquire);
      shared_->cached_tail.store(t, std::memory_order_relaxed);
    }
    if (Pos(h) == Pos(t)) {
      if (Passed(deadline)) return false;
      // Spin briefly: a producer on the other core is usually about to publish.
      const auto spin_until = sys::Clock::now() + l.spin;
      for (int i = 0; Pos(t) == Pos(h); ++i) {
        CpuRelax();
        t = shared_->tail.load(std::memory_order_acquire);
        if ((i & 63) == 63 && sys::Clock::now() >= spin_until) break;
      }
      if (Pos(t) != Pos(h)) {
        l.spin = std::min<std::chrono::nanoseconds>(kSpin, l.spin * 2);
        continue;
      }
      l.spin = std::max<std::chrono::nanoseconds>(kMinSpin, l.spin / 2);
      shared_->data_waiters.fetch_add(1, std::memory_order_seq_cst);
      const uint32_t seq = shared_->data_seq.load(std::memory_order_seq_cst);
      shared_->data_wait_seq.store(seq, std::memory_order_seq_cst);
      bool woke = true;
      if (Pos(shared_->tail.load(std::memory_order_seq_cst)) == Pos(h)) {
        woke = FutexWait(&shared_->data_seq, seq, SliceUntil(deadline));
      }
      shared_->data_waiters.fetch_sub(1, std::memory_order_relaxed);
      if (!woke) {
        if (auto* hook =
                internal::TestHooks().after_data_wait_timeout.load(std::memory_order_relaxed)) {
          hook();
        }
      }
      // A stream whose producer died never ends: free its stash. The tail is read again after
      // the death is seen, since the producer may have published the stream's last record
      // between our wait and its death; that item is whole and must still be delivered.
      if (!woke && l.stash_active && !ProcessAlive(l.stash_pid) &&
          Pos(shared_->tail.load(std::memory_order_seq_cst)) == Pos(h)) {
        drop_stash();
      }
      continue;
    }
    const uint64_t off = Pos(h) & (cap - 1);
    const uint64_t contiguous = cap - off;
    if (contiguous < kRecordHeader) {
      commit(h, contiguous, 0);
      continue;
    }
    RecordHeader r;
    std::memcpy(&r, ring_ + off, kRecordHeader);
    const uint64_t used = (Pos(t) - Pos(h)) & kPosMask;
    const uint64_t size = RecordSize(r.len);
    if (r.kind == kPad) {
      commit(h, contiguous, 0);
      continue;
    }
    if (r.kind < kItem || r.kind > kLast || size > contiguous || size > used) {
      throw OSError("queue shared memory is corrupted (bad record at position " +
                    std::to_string(Pos(h)) + ")");
    }
    const std::string_view data(reinterpret_cast<const char*>(ring_ + off + kRecordHeader), r.len);
    if (r.kind == kItem) {
      if (l.stash_active) drop_stash();  // a stream whose producer died
      try {
        consume(data);
      } catch (...) {
        commit(h, size, 1);  // the item is consumed even if decoding it failed
        throw;
      }
      commit(h, size, 1);
      return true;
    }
    if (r.kind == kFirst) {
      if (l.stash_active) drop_stash();
      l.stash_active = true;
      l.stash_total = r.total;
      l.stash_pid = r.pid;
      l.stash.clear();
      l.stash.reserve(static_cast<size_t>(std::min<uint64_t>(r.total, uint64_t{64} << 20)));
      l.stash.append(data);
      commit(h, size, 0);
      continue;
    }
    const bool ours = l.stash_active && r.pid == l.stash_pid && r.total == l.stash_total &&
                      l.stash.size() + r.len <= l.stash_total;
    if (r.kind == kMiddle) {
      if (ours) {
        l.stash.append(data);
      } else if (l.stash_active) {
        drop_stash();
      }
      commit(h, size, 0);
      continue;
    }
    // kLast
    if (!ours || l.stash.size() + r.len != l.stash_total) {
      if (l.stash_active) drop_stash();
      commit(h, size, 1);  // the rest of a stream we did not see begin: its reader died
      continue;
    }
    l.stash.append(data);
    commit(h, size, 1);
    std::string item = std::move(l.stash);
    drop_stash();
    consume(item);
    return true;
  }
}

// ---------------------------------------------------------------------------------------------
// put / get

void QueueCore::put(std::string_view item, const sys::Deadline& deadline, bool block_on_ring) {
  Local& l = local();
  const auto closed_error = [this]() -> std::exception_ptr {
    if (kind() == QueueKind::kSimple) return std::make_exception_ptr(OSError("handle is closed"));
    return std::make_exception_ptr(ValueError("Queue " + repr_ + " is closed"));
  };
  // Items are counted per process ("pending" until they reach the ring) where a count matters
  // beyond the ring's own: a bounded queue's free places, and JoinableQueue's tasks (puts). An
  // unbounded Queue counts only what waits in the local buffer.
  const bool bounded = shared_->maxsize > 0;
  const bool counted = bounded || kind() == QueueKind::kJoinable;
  std::atomic<uint64_t>* counts = nullptr;
  if (counted) {
    {
      std::lock_guard<std::mutex> lk(l.mu);
      if (l.closed) std::rethrow_exception(closed_error());
      counts = &shared_->slots[my_slot(l)].counts;
    }
    if (bounded) {
      reserve_place(*counts, deadline);
    } else {
      counts->fetch_add(kOnePut + 1);
    }
  }

  if (block_on_ring) {
    std::lock_guard<std::mutex> pm(l.producer_mu);
    if (!counted) {
      std::lock_guard<std::mutex> lk(l.mu);
      if (l.closed) std::rethrow_exception(closed_error());
    }
    // A dead holder left nothing visible in the ring, but maybe a count to settle.
    if (RobustLock(&shared_->write_lock, std::nullopt) == LockResult::kOwnerDied) {
      settle_dead_writer();
    }
    try {
      write_pending_item(item, std::nullopt, counts);
    } catch (...) {
      RobustUnlock(&shared_->write_lock);
      throw;
    }
    RobustUnlock(&shared_->write_lock);
    return;
  }

  std::unique_lock<std::mutex> lk(l.mu);
  if (!counted && l.closed) std::rethrow_exception(closed_error());
  // Straight into the ring when nothing of ours is queued before it and there is room. Holding
  // l.mu keeps the feeder (which marks itself busy under l.mu) and our other threads out.
  // A large item may wait a moment for room: copying it into the buffer costs about as much.
  LockResult locked = LockResult::kTimeout;
  if (l.buffer.empty() && !l.feeder_busy && RecordSize(item.size()) <= shared_->capacity / 2 &&
      (locked = RobustTryLock(&shared_->write_lock)) != LockResult::kTimeout) {
    if (locked == LockResult::kOwnerDied) settle_dead_writer();
    const sys::Deadline give_up =
        sys::Clock::now() + (item.size() >= kGraceItemSize ? kPutGrace : sys::Clock::duration{});
    const bool written = write_pending_item(item, give_up, counts);
    RobustUnlock(&shared_->write_lock);
    if (written) return;
  }
  if (counts == nullptr) shared_->slots[my_slot(l)].counts.fetch_add(1);
  if (!l.spare.empty()) {
    l.spare_bytes -= l.spare.back().capacity();
    l.buffer.push_back(std::move(l.spare.back()));
    l.spare.pop_back();
    l.buffer.back().assign(item);
  } else {
    l.buffer.emplace_back(item);
  }
  if (!l.feeder.joinable()) {
    start_feeder(l);
  } else if (l.feeder_waiting) {
    l.cv.notify_one();
  }
}

void QueueCore::reserve_place(std::atomic<uint64_t>& counts, const sys::Deadline& deadline) {
  for (;;) {
    if (RobustLock(&shared_->slot_lock, std::nullopt) == LockResult::kOwnerDied) sweep();
    const uint32_t seq = shared_->slot_seq.load();
    if (qsize() < shared_->maxsize) {
      counts.fetch_add(kOnePut + 1);
      RobustUnlock(&shared_->slot_lock);
      return;
    }
    RobustUnlock(&shared_->slot_lock);
    if (Passed(deadline)) throw Full();
    shared_->slot_waiters.fetch_add(1);
    const bool woke = FutexWait(&shared_->slot_seq, seq, SliceUntil(deadline));
    shared_->slot_waiters.fetch_sub(1);
    if (!woke && !Passed(deadline)) {
      // A dead producer's counted items would hold their places for ever: sweep them.
      if (RobustLock(&shared_->slot_lock, std::nullopt) == LockResult::kOwnerDied) sweep();
      sweep();
      RobustUnlock(&shared_->slot_lock);
    }
  }
}

void QueueCore::start_feeder(Local& l) {
  // Before this process exits, its buffered items are flushed (Q-EXIT-FLUSH), unless
  // cancel_join_thread() said otherwise: in a Process child before _exit, elsewhere at exit.
  std::weak_ptr<Local> weak = local_;
  RegisterChildExitHook(
      [weak] {
        if (auto lp = weak.lock()) {
          if (lp->generation != internal::ForkGeneration()) return;
          {
            std::lock_guard<std::mutex> lk(lp->mu);
            if (lp->cancel_join) return;
          }
          StopFeeder(*lp, /*wait=*/true);
        }
      },
      /*priority=*/-5);
  // The feeder works through a twin handle sharing the mapping and this Local, so that it can
  // outlive this handle (cancel_join_thread) without touching freed memory.
  std::shared_ptr<QueueCore> twin(new QueueCore(*this, TwinTag{}));
  auto local = local_;
  l.feeder = std::thread([twin, local] { twin->feeder_loop(local); });
}

void QueueCore::feeder_loop(const std::shared_ptr<Local>& lp) {
  Local& l = *lp;
  std::atomic<uint64_t>& counts = shared_->slots[l.slot].counts;
  std::deque<std::string> batch;
  std::unique_lock<std::mutex> lk(l.mu);
  for (;;) {
    while (l.buffer.empty() && !l.closing) {
      l.feeder_waiting = true;
      l.cv.wait(lk);
      l.feeder_waiting = false;
    }
    if (l.buffer.empty()) break;
    // Take everything buffered so far; producers keep appending to the (now empty) buffer.
    batch.swap(l.buffer);
    l.feeder_busy = true;
    lk.unlock();
    for (const std::string& item : batch) {
      std::lock_guard<std::mutex> pm(l.producer_mu);
      if (RobustLock(&shared_->write_lock, std::nullopt) == LockResult::kOwnerDied) {
        settle_dead_writer();
      }
      write_pending_item(item, std::nullopt, &counts);
      RobustUnlock(&shared_->write_lock);
    }
    lk.lock();
    // Keep some emptied buffers for the next items: large ones would otherwise cost fresh pages.
    for (std::string& item : batch) {
      if (l.spare_bytes + item.capacity() > kSpareBytes) break;
      l.spare_bytes += item.capacity();
      l.spare.push_back(std::move(item));
    }
    batch.clear();
    lk.unlock();
    lk.lock();
    l.feeder_busy = false;
  }
}

void QueueCore::get(const sys::Deadline& deadline,
                    const std::function<void(std::string_view)>& consume) {
  Local& l = local();
  {
    std::lock_guard<std::mutex> lk(l.mu);
    if (l.closed) {
      if (kind() == QueueKind::kSimple) throw OSError("handle is closed");
      throw ValueError("Queue " + repr_ + " is closed");
    }
  }
  std::unique_lock<std::timed_mutex> cl(l.consumer_mu, std::defer_lock);
  if (deadline) {
    if (!TryLockUntil(cl, *deadline) && !cl.try_lock()) throw Empty();
  } else {
    cl.lock();
  }
  if (!l.holding_read) {
    const LockResult r = RobustLock(&shared_->read_lock, deadline);
    if (r == LockResult::kTimeout) throw Empty();
    l.holding_read = true;
    if (r == LockResult::kOwnerDied) {
      // A reader died: anything it had half-read is still in the ring, or was in flight.
      if (RobustLock(&shared_->slot_lock, std::nullopt) == LockResult::kOwnerDied) sweep();
      sweep();
      RobustUnlock(&shared_->slot_lock);
    }
  }
  bool got = false;
  try {
    got = read_item(l, deadline, consume);
  } catch (...) {
    if (!l.stash_active) {
      l.holding_read = false;
      RobustUnlock(&shared_->read_lock);
    }
    throw;
  }
  // A reader that timed out inside a stream keeps the read lock (and the part it has): the rest
  // of the stream belongs to it, and its next get() carries on.
  if (!l.stash_active) {
    l.holding_read = false;
    RobustUnlock(&shared_->read_lock);
  }
  if (!got) throw Empty();
  if (shared_->maxsize > 0) {
    shared_->slot_seq.fetch_add(1, std::memory_order_seq_cst);
    if (shared_->slot_waiters.load(std::memory_order_seq_cst) != 0) {
      FutexWake(&shared_->slot_seq, INT_MAX);
    }
  }
}

void QueueCore::release_read_side(Local& l) {
  std::lock_guard<std::timed_mutex> cl(l.consumer_mu);
  if (l.holding_read) {
    l.stash_active = false;
    l.stash.clear();
    l.holding_read = false;
    RobustUnlock(&shared_->read_lock);
  }
}

// ---------------------------------------------------------------------------------------------
// Local lifetime

void QueueCore::close() {
  Local& l = local();
  {
    std::lock_guard<std::mutex> lk(l.mu);
    if (l.closed) return;
    l.closed = true;
    l.closing = true;
    l.cv.notify_all();
  }
  release_read_side(l);
}

bool QueueCore::closed() const noexcept { return local_->closed; }

void QueueCore::join_thread() {
  Local& l = local();
  {
    std::lock_guard<std::mutex> lk(l.mu);
    if (!l.closed) throw AssertionError("Queue " + repr_ + " not closed");
    if (l.cancel_join) return;
  }
  StopFeeder(l, /*wait=*/true);
}

void QueueCore::cancel_join_thread() {
  Local& l = local();
  std::lock_guard<std::mutex> lk(l.mu);
  l.cancel_join = true;
}

void QueueCore::flush_at_exit() {
  Local& l = local();
  {
    std::lock_guard<std::mutex> lk(l.mu);
    if (l.cancel_join) return;
  }
  StopFeeder(l, /*wait=*/true);
}

void FlushQueuesAtExit() { RunAtChildExit(); }

}  // namespace mpipc
