// The measure request (spec/driver-protocol.md §4.3): the six loops run in fresh processes
// (mpipc::Process, forked under the fork lock), started together through a process-shared
// barrier and timed with std::chrono::steady_clock (CLOCK_MONOTONIC, comparable across
// processes). Items are bytes of `size` bytes: mpipc::Bytes in a Queue<Value> / SimpleQueue<Value>
// for the queue kinds, raw send_bytes/recv_bytes for pipe_send_recv_bytes and roundtrip, and
// Connection::send/recv of a Value (Boost payload) for pipe_send_recv_object.
#ifndef MPIPC_CONFORMANCE_DRIVERS_REFERENCE_MEASURE_H_
#define MPIPC_CONFORMANCE_DRIVERS_REFERENCE_MEASURE_H_

#include <mutex>
#include <string>
#include <vector>

#include "json_value.h"

namespace mpipc_driver {

const std::vector<std::string>& MeasureKinds();

// Runs one measure request; the result is plain JSON. ProtocolError for invalid parameters.
Json RunMeasure(const Json& req, std::mutex& fork_mu);

}  // namespace mpipc_driver

#endif  // MPIPC_CONFORMANCE_DRIVERS_REFERENCE_MEASURE_H_
