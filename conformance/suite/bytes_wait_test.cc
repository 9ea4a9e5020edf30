// multiprocessing.connection.wait (spec/clauses/wait.json), through the driver's `wait` op: the
// suite lists handle names, the driver passes the bound objects in a list, and reports the ready
// ones by name (so identity of the returned objects is what makes the names come back).
//
// Plain ints are passed by binding them to a name first (`fileno` with bind, or the `const`
// table function applied with bind). Not observable through protocol 1: a generator as
// object_list (WAIT-ITERABLE; the driver always builds a list) and a signal delivered during the
// wait (WAIT-EINTR; no op sends signals other than SIGKILL).
#include <chrono>
#include <string>

#include "fixture.h"

namespace mpipc::conformance {
namespace {

class WaitTest : public ConformanceTest {
 protected:
  // Binds `value` to `name` in `actor` (the const table function, applied with bind).
  void BindValue(const std::string& name, const Json& value, const std::string& actor = "main") {
    Response r = Request({{"op", "apply"},
                          {"actor", actor},
                          {"function", Function("const", value)},
                          {"args", Json::array()},
                          {"bind", name}});
    if (!r.ok) throw StepFailed("binding " + name + " raised " + r.error.ToString());
  }

  // WaitReady, timed: seconds from request to response.
  Response TimedWait(const std::vector<std::string>& handles, const Json& timeout, double* seconds,
                     const std::string& actor = "main") {
    const auto start = std::chrono::steady_clock::now();
    Response r = WaitReady(handles, timeout, actor);
    *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return r;
  }
};

CONFORMANCE_TEST(WaitTest, ReturnsTheReadyObjectsOrEmpty, "WAIT-RET") {
  auto [a1, b1] = CreatePipe("a1", "b1");
  auto [a2, b2] = CreatePipe("a2", "b2");
  EXPECT_TRUE(Returned(WaitReady({"b1", "b2"}, 0.05), Json::array()));
  EXPECT_TRUE(Succeeded(a2.Call("send_bytes", {Bytes("x")})));
  EXPECT_TRUE(Returned(WaitReady({"b1", "b2"}, 1.0), Json::array({"b2"})));
  EXPECT_TRUE(Succeeded(a1.Call("send_bytes", {Bytes("y")})));
  EXPECT_TRUE(Returned(WaitReady({"b1", "b2"}, 1.0), Json::array({"b1", "b2"})));
  // A waiter in another process wakes when a message arrives.
  Spawn("A");
  EXPECT_TRUE(Returned(b1.Call("recv_bytes"), Bytes("y")));
  EXPECT_TRUE(Returned(b2.Call("recv_bytes"), Bytes("x")));
  Driver::Pending waiter = Send(
      {{"op", "wait"}, {"actor", "A"}, {"handles", Json::array({"b1", "b2"})}, {"timeout", 30.0}});
  EXPECT_FALSE(waiter.ArrivesWithin(BlockWindow())) << "wait() returned with nothing ready";
  EXPECT_TRUE(Succeeded(a1.Call("send_bytes", {Bytes("z")})));
  EXPECT_TRUE(Returned(Wait(waiter), Json::array({"b1"})));
}

CONFORMANCE_TEST(WaitTest, ResultKeepsInputOrder, "WAIT-ORDER") {
  auto [a1, b1] = CreatePipe("a1", "b1");
  auto [a2, b2] = CreatePipe("a2", "b2");
  auto [a3, b3] = CreatePipe("a3", "b3");
  // Made ready in the order 3, 1, 2; reported in list order.
  for (const Ref& a : {a3, a1, a2}) EXPECT_TRUE(Succeeded(a.Call("send_bytes", {Bytes("m")})));
  EXPECT_TRUE(Returned(WaitReady({"b1", "b2", "b3"}, 1.0), Json::array({"b1", "b2", "b3"})));
  EXPECT_TRUE(Returned(WaitReady({"b3", "b1", "b2"}, 1.0), Json::array({"b3", "b1", "b2"})));
  EXPECT_TRUE(Returned(WaitReady({"b2", "b3"}, 1.0), Json::array({"b2", "b3"})));
  EXPECT_TRUE(Returned(WaitReady({"b3", "b2"}, 1.0), Json::array({"b3", "b2"})));
}

CONFORMANCE_TEST(WaitTest, AcceptsConnectionsAndIntDescriptors, "WAIT-TYPES") {
  auto [a, b] = CreatePipe("a", "b");
  auto [r, w] = CreatePipe("r", "w", false);
  // Plain int descriptors (one object per descriptor: a selector registers each fd once).
  ASSERT_TRUE(Succeeded(b.CallBind("fileno", "b_fd")));
  ASSERT_TRUE(Succeeded(r.CallBind("fileno", "r_fd")));
  EXPECT_TRUE(Returned(WaitReady({"b_fd", "r_fd"}, 0.05), Json::array()));
  EXPECT_TRUE(Succeeded(w.Call("send_bytes", {Bytes("m")})));
  EXPECT_TRUE(Returned(WaitReady({"b_fd", "r_fd"}, 1.0), Json::array({"r_fd"})));
  EXPECT_TRUE(Succeeded(a.Call("send_bytes", {Bytes("m")})));
  EXPECT_TRUE(Returned(WaitReady({"b_fd", "r_fd"}, 1.0), Json::array({"b_fd", "r_fd"})));
  // Connections of both transports, and a mix of the two kinds.
  EXPECT_TRUE(Returned(WaitReady({"b", "r"}, 1.0), Json::array({"b", "r"})));
  EXPECT_TRUE(Returned(WaitReady({"b_fd", "r"}, 1.0), Json::array({"b_fd", "r"})));
}

CONFORMANCE_TEST(WaitTest, WindowsHandleKinds, "WAIT-TYPES.windows") {
  GTEST_SKIP() << "Windows only";
}

CONFORMANCE_TEST(WaitTest, ReadyMeansReadableOrAtEof, "WAIT-READY") {
  auto [r, w] = CreatePipe("r", "w", false);
  auto [a, b] = CreatePipe("a", "b");
  // Nothing to read: neither is ready; a write-only end never is.
  EXPECT_TRUE(Returned(WaitReady({"r", "w", "b"}, 0.1), Json::array()));
  EXPECT_TRUE(Succeeded(w.Call("send_bytes", {Bytes("m")})));
  EXPECT_TRUE(Returned(WaitReady({"r", "w", "b"}, 1.0), Json::array({"r"})));
  // End of stream counts as ready.
  EXPECT_TRUE(Succeeded(a.Call("close")));
  EXPECT_TRUE(Returned(WaitReady({"w", "b"}, 1.0), Json::array({"b"})));
}

CONFORMANCE_TEST(WaitTest, TimeoutNoneZeroAndNegative, "WAIT-TIMEOUT") {
  auto [a, b] = CreatePipe("a", "b");
  Spawn("A");
  double seconds = 0;
  // A negative timeout polls once, like 0.
  EXPECT_TRUE(Returned(TimedWait({"b"}, -1.0, &seconds), Json::array()));
  EXPECT_LT(seconds, tolerance()) << "wait(timeout=-1) did not return at once";
  EXPECT_TRUE(Returned(TimedWait({"b"}, 0, &seconds), Json::array()));
  EXPECT_LT(seconds, tolerance()) << "wait(timeout=0) did not return at once";
  // A number of seconds.
  EXPECT_TRUE(Returned(TimedWait({"b"}, 0.2, &seconds), Json::array()));
  EXPECT_GE(seconds, 0.2 - 0.01);
  EXPECT_LT(seconds, 0.2 + tolerance());
  // None waits without limit (here in actor A) until the message comes.
  Driver::Pending waiter =
      Send({{"op", "wait"}, {"actor", "A"}, {"handles", Json::array({"b"})}, {"timeout", None()}});
  EXPECT_FALSE(waiter.ArrivesWithin(BlockWindow())) << "wait(timeout=None) returned";
  EXPECT_TRUE(Succeeded(a.Call("send_bytes", {Bytes("m")})));
  EXPECT_TRUE(Returned(Wait(waiter), Json::array({"b"})));
  // With something ready a negative timeout reports it.
  EXPECT_TRUE(Returned(WaitReady({"b"}, -5.0), Json::array({"b"})));
}

CONFORMANCE_TEST(WaitTest, EmptyListSleepsForTheTimeout, "WAIT-EMPTY") {
  double seconds = 0;
  EXPECT_TRUE(Returned(TimedWait({}, 0.2, &seconds), Json::array()));
  EXPECT_GE(seconds, 0.2 - 0.01) << "wait([], 0.2) returned early";
  EXPECT_LT(seconds, 0.2 + tolerance());
  // wait([], None) never returns: watched in actor A, which close_all kills.
  Spawn("A");
  Driver::Pending forever =
      Send({{"op", "wait"}, {"actor", "A"}, {"handles", Json::array()}, {"timeout", None()}});
  EXPECT_FALSE(forever.ArrivesWithin(BlockWindow())) << "wait([], None) returned";
}

CONFORMANCE_TEST(WaitTest, EmptyListWindows, "WAIT-EMPTY.windows") {
  GTEST_SKIP() << "Windows only";
}

CONFORMANCE_TEST(WaitTest, LocallyClosedConnectionRaises, "WAIT-CLOSED.closed") {
  auto [a, b] = CreatePipe("a", "b");
  EXPECT_TRUE(Succeeded(a.Call("send_bytes", {Bytes("m")})));
  EXPECT_TRUE(Succeeded(b.Call("close")));
  EXPECT_TRUE(Raises(WaitReady({"b"}, 0), "WAIT-CLOSED.closed"));
  EXPECT_TRUE(Raises(WaitReady({"a", "b"}, 1.0), "WAIT-CLOSED.closed"));
}

CONFORMANCE_TEST(WaitTest, PeerClosedConnectionIsReady, "WAIT-CLOSED.peer-closed") {
  auto [a, b] = CreatePipe("a", "b");
  auto [r, w] = CreatePipe("r", "w", false);
  EXPECT_TRUE(Succeeded(a.Call("close")));
  EXPECT_TRUE(Succeeded(w.Call("close")));
  EXPECT_TRUE(Returned(WaitReady({"b", "r"}, 1.0), Json::array({"b", "r"})));
}

CONFORMANCE_TEST(WaitTest, ObjectWithoutDescriptorRaisesValueError, "WAIT-CLOSED.bad-object") {
  auto [a, b] = CreatePipe("a", "b");
  BindValue("x", "x");
  EXPECT_TRUE(Raises(WaitReady({"x"}, 0), "WAIT-CLOSED.bad-object"));
  EXPECT_TRUE(Raises(WaitReady({"b", "x"}, 0), "WAIT-CLOSED.bad-object"));
}

CONFORMANCE_TEST(WaitTest, NegativeDescriptorRaisesValueError, "WAIT-CLOSED.negative-fd") {
  auto [a, b] = CreatePipe("a", "b");
  BindValue("fd", -1);
  EXPECT_TRUE(Raises(WaitReady({"fd"}, 0), "WAIT-CLOSED.negative-fd"));
  EXPECT_TRUE(Raises(WaitReady({"b", "fd"}, 0), "WAIT-CLOSED.negative-fd"));
}

CONFORMANCE_TEST(WaitTest, SameObjectTwiceRaisesKeyError, "WAIT-DUP") {
  auto [a, b] = CreatePipe("a", "b");
  EXPECT_TRUE(Raises(WaitReady({"b", "b"}, 0), "WAIT-DUP"));
  EXPECT_TRUE(Succeeded(a.Call("send_bytes", {Bytes("m")})));
  EXPECT_TRUE(Raises(WaitReady({"b", "a", "b"}, 1.0), "WAIT-DUP"));
}

CONFORMANCE_TEST(WaitTest, AnyIterable, "WAIT-ITERABLE") {
  MarkSkip(
      "driver protocol 1's wait op always passes object_list as a list; a generator cannot "
      "be requested");
  GTEST_SKIP() << "needs a generator argument";
}

CONFORMANCE_TEST(WaitTest, SignalsDoNotInterrupt, "WAIT-EINTR") {
  MarkSkip("driver protocol 1 cannot deliver a (non-fatal) signal to an actor blocked in wait()");
  GTEST_SKIP() << "needs signal injection";
}

CONFORMANCE_TEST(WaitTest, ConsumesNothing, "WAIT-NOCONSUME") {
  auto [a, b] = CreatePipe("a", "b");
  EXPECT_TRUE(Succeeded(a.Call("send_bytes", {Bytes("one")})));
  EXPECT_TRUE(Succeeded(a.Call("send_bytes", {Bytes("two")})));
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(Returned(WaitReady({"b"}, 1.0), Json::array({"b"})));
  }
  EXPECT_TRUE(Returned(b.Call("recv_bytes"), Bytes("one")));
  EXPECT_TRUE(Returned(WaitReady({"b"}, 1.0), Json::array({"b"})));
  EXPECT_TRUE(Returned(b.Call("recv_bytes"), Bytes("two")));
  EXPECT_TRUE(Returned(WaitReady({"b"}, 0), Json::array()));
}

CONFORMANCE_TEST(WaitTest, WindowsBatchesAbove60Handles, "WAIT-WIN-60") {
  GTEST_SKIP() << "Windows only";
}

}  // namespace
}  // namespace mpipc::conformance
