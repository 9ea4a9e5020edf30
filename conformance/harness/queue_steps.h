// Steps shared by the queue-family suite tests (suite/queue_*_test.cc): timing a call, waiting
// for bytes to reach a queue's transport, draining items, joining an actor, and comparing large
// byte values without printing megabytes on failure. Everything goes through the driver
// (ConformanceTest's requests); nothing here knows an implementation.
//
// Thread-safety: as ConformanceTest, use from the test thread only. Blocking: each step waits at
// most the time its arguments say (plus one request's round trip), never longer than the
// session limit per request.
#ifndef MPIPC_CONFORMANCE_HARNESS_QUEUE_STEPS_H_
#define MPIPC_CONFORMANCE_HARNESS_QUEUE_STEPS_H_

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "fixture.h"

namespace mpipc::conformance {

// An item size beyond every transport buffer the target has: a put of it cannot be fully written
// until a consumer reads, so whoever must flush it (join_thread, process exit) waits for that
// consumer. Python targets move items through a 64 KiB pipe; the mpipc reference through a
// 4 MiB ring (the largest buffer of the known targets, so assumed for any other target); the
// size stays just above it, since every byte crosses the driver protocol as base64.
size_t LargerThanTransport(ConformanceTest& test);

// Seconds since construction, on the steady clock.
class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  double Seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

// A response and how long the request took, as seen by the suite.
struct TimedResponse {
  Response response;
  double seconds = 0;
};

// q.method(*args, **kwargs), timed.
TimedResponse TimedCall(const Ref& q, const std::string& method, Args args = {},
                        Json kwargs = Json::object());

// Asks q.empty() (in q's actor) until it answers False or `max_seconds` pass: true once the
// first byte of an item is readable. Used to know that a producer's item has reached the
// transport (CPython's feeder has begun writing it), which no response of `put` says.
bool WaitUntilNotEmpty(const Ref& q, double max_seconds);

// `count` q.get(timeout=per_item_timeout) calls in sequence; stops at the first failure, which
// is returned in `error` (the items got so far are in `items`).
struct Drained {
  std::vector<Json> items;
  std::optional<ErrorInfo> error;
};
Drained Drain(const Ref& q, size_t count, double per_item_timeout);

// The driver's `join` op: the actor's exitcode, or nullopt if it is still running after
// `timeout` seconds.
std::optional<int> JoinActor(ConformanceTest& test, const std::string& actor, double timeout);

// r returned the bytes value `expected` (a $bytes Json); on failure says the sizes and the first
// differing offset instead of printing both values.
::testing::AssertionResult ReturnedBytes(const Response& r, const Json& expected);

}  // namespace mpipc::conformance

#endif  // MPIPC_CONFORMANCE_HARNESS_QUEUE_STEPS_H_
