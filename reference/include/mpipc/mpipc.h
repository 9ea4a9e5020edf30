// Umbrella header: the whole public API of the mpipc reference implementation.
#ifndef MPIPC_MPIPC_H_
#define MPIPC_MPIPC_H_

#include "mpipc/connection.h"     // IWYU pragma: export
#include "mpipc/errors.h"         // IWYU pragma: export
#include "mpipc/handshake.h"      // IWYU pragma: export
#include "mpipc/listener.h"       // IWYU pragma: export
#include "mpipc/process.h"        // IWYU pragma: export
#include "mpipc/queue.h"          // IWYU pragma: export
#include "mpipc/serialization.h"  // IWYU pragma: export
#include "mpipc/value.h"          // IWYU pragma: export
#include "mpipc/wait.h"           // IWYU pragma: export

#endif  // MPIPC_MPIPC_H_
