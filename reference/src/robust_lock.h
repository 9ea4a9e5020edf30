// Internal: a lock in process-shared memory that survives the death of its holder.
//
// The lock word holds the owner's pid (plus a waiters bit). A waiter sleeps on the word with a
// futex in slices; when a slice ends and the owner is no longer alive (ProcessAlive: gone, or a
// zombie), the waiter takes the lock over and is told so (kOwnerDied), so that it can repair what
// the dead owner may have left half-done. Ownership is per *process*: threads of one process must
// serialise among themselves before taking it (the queue does, with a local mutex), and a process
// may keep it across calls (a reader keeps it while it owns a half-read streamed item).
//
// Limitation: a recycled pid that a new, live process got in the meantime keeps the lock held
// until that process exits; pids are recycled only after the whole pid space (4 million on
// current Linux) has been used.

#ifndef MPIPC_SRC_ROBUST_LOCK_H_
#define MPIPC_SRC_ROBUST_LOCK_H_

#include <atomic>
#include <cstdint>

#include "mpipc/sys.h"

namespace mpipc::internal {

enum class LockResult { kAcquired, kOwnerDied, kTimeout };

// Length of one sleep before the owner's liveness is checked again.
inline constexpr auto kLivenessSlice = std::chrono::milliseconds(50);

LockResult RobustLock(std::atomic<uint32_t>* word, const sys::Deadline& deadline);
// Acquires only if free (or held by a dead process); never sleeps.
LockResult RobustTryLock(std::atomic<uint32_t>* word);
void RobustUnlock(std::atomic<uint32_t>* word);

}  // namespace mpipc::internal

#endif  // MPIPC_SRC_ROBUST_LOCK_H_
