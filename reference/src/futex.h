// Internal: futex wait/wake on 32-bit words in process-shared memory, and process liveness.
//
// FutexWait sleeps while *word == expected, until woken, the deadline passes, or a signal
// arrives (all of which return; callers re-check their condition in a loop). The words live in
// MAP_SHARED memory, so the non-private futex operations are used.

#ifndef MPIPC_SRC_FUTEX_H_
#define MPIPC_SRC_FUTEX_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>

#include "mpipc/sys.h"

namespace mpipc::internal {

// Returns false when the deadline passed (it may also return true spuriously).
bool FutexWait(std::atomic<uint32_t>* word, uint32_t expected, const sys::Deadline& deadline);
void FutexWake(std::atomic<uint32_t>* word, int count);

// True unless `pid` names no process, or a zombie (killed but not yet reaped).
bool ProcessAlive(pid_t pid);

// getpid(), cached and refreshed in a fork()ed child (glibc no longer caches it).
pid_t CurrentPid();
// Incremented in every fork()ed child: per-process state compares it to notice a fork.
uint64_t ForkGeneration();

}  // namespace mpipc::internal

#endif  // MPIPC_SRC_FUTEX_H_
