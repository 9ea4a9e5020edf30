// send() / recv(): one object per frame, serialisation failures, blocking on a full buffer,
// writing to a closed peer, and what recv() makes of the bytes it gets
// (spec/clauses/send_recv.json, semantics.md §1.C).
#include <string>
#include <vector>

#include "conn_streams.h"
#include "fixture.h"

namespace mpipc::conformance {
namespace {

class SendRecvTest : public ConformanceTest {
 protected:
  // A value with every scalar kind of the data model and some nesting.
  static Json Sample() {
    return Tuple({1, "two", Float(3.5), Bytes(std::string("\0\xff", 2)), None(), true,
                  Json::array({1, Json::array({2})}), Dict({{"k", Tuple({})}})});
  }
  // After a failed send or receive, the pipe a -> b still carries an object, and nothing else
  // was left on it.
  void ExpectStillUsable(const Ref& a, const Ref& b) {
    EXPECT_TRUE(Returned(b.Call("poll"), false)) << "something reached the peer";
    EXPECT_TRUE(Succeeded(a.Call("send", {Tuple({7, "after"})})));
    EXPECT_TRUE(Returned(b.Call("recv"), Tuple({7, "after"})));
    EXPECT_TRUE(Returned(b.Call("poll"), false));
  }
};

CONFORMANCE_TEST(SendRecvTest, SendReturnsNoneAndWritesOneFrame, "CONN-SEND") {
  auto [a, b] = CreatePipe("a", "b");
  EXPECT_TRUE(Returned(a.Call("send", {Sample()}), None()));
  const Json payload = b.Ok("recv_bytes");
  ASSERT_TRUE(IsBytes(payload));
  EXPECT_TRUE(Returned(b.Call("poll"), false)) << "send() wrote more than one frame";
  const std::string bytes = AsBytes(payload);
  EXPECT_FALSE(bytes.empty());
  if (IsPython()) {  // PROTO opcode, then pickle.DEFAULT_PROTOCOL
    ASSERT_GE(bytes.size(), 2U);
    EXPECT_EQ(static_cast<unsigned char>(bytes[0]), 0x80U);
    EXPECT_EQ(static_cast<int>(bytes[1]), PythonBelow("3.14") ? 4 : 5);
  }
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(Returned(a.Call("send", {Tuple({i, Sample()})}), None()));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(Returned(b.Call("recv"), Tuple({i, Sample()})));
  EXPECT_TRUE(Returned(b.Call("poll"), false));
}

// A table function is a local lambda/closure (driver protocol §2.1): plain pickle refuses it.
CONFORMANCE_TEST(SendRecvTest, UnpicklableFunctionFailsInSendAndSendsNothing,
                 "CONN-SEND-PICKLEFAIL") {
  if (session().FunctionsTravel("pipe")) {
    MarkSkip("functions travel through a pipe on this target (hello functions_travel.pipe)");
    GTEST_SKIP();
  }
  auto [a, b] = CreatePipe("a", "b");
  EXPECT_TRUE(Raises(a.Call("send", {Function("add", 3)}), "CONN-SEND-PICKLEFAIL"));
  ExpectStillUsable(a, b);
}

// A Queue refuses to be pickled outside process spawning (Q-SHARE); the failure comes out of
// send() and nothing is written. Checks the rule on targets whose serializer carries functions.
CONFORMANCE_TEST(SendRecvTest, UnpicklableQueueFailsInSendAndSendsNothing, "CONN-SEND-PICKLEFAIL") {
  auto [a, b] = CreatePipe("a", "b");
  Ref q = Create("Queue", "q");
  Response r = a.Call("send", {q.handle()});
  EXPECT_FALSE(r.ok) << "a Queue was sent through a pipe";
  EXPECT_NE(r.error.type, "ActorDied");
  ExpectStillUsable(a, b);
}

// Both ends send a message well beyond the socket buffer (Linux AF_UNIX: about 200 KB) without
// reading: both block, the deadlock of the clause. Reading on b releases a's send(); closing a
// (nothing is left in flight on it) releases b's send_bytes() with an error, showing that it was
// waiting for its peer.
CONFORMANCE_TEST(SendRecvTest, SendBlocksWhileTheBufferIsFull, "CONN-SEND-BLOCKS") {
  constexpr size_t kBig = size_t{384} << 10;
  auto [a, b] = CreatePipe("a", "b");
  const Json big_a = PatternBytes(kBig, 1);
  Driver::Pending send_a = a.Start("send", {big_a});
  Driver::Pending send_b = b.Start("send_bytes", {PatternBytes(kBig, 2)});
  EXPECT_FALSE(send_a.ArrivesWithin(BlockWindow())) << "send() of 384 KiB did not block";
  EXPECT_FALSE(send_b.ArrivesWithin(0)) << "send_bytes() of 384 KiB did not block";
  EXPECT_TRUE(Returned(b.Call("recv"), big_a));
  EXPECT_TRUE(Succeeded(Wait(send_a)));
  EXPECT_FALSE(send_b.ArrivesWithin(0)) << "b's send_bytes() finished although a read nothing";
  EXPECT_TRUE(Succeeded(a.Call("close")));
  EXPECT_TRUE(RaisesType(Wait(send_b), {"OSError"})) << "b's send_bytes() after its peer closed";
}

CONFORMANCE_TEST(SendRecvTest, WritingToAClosedPeerRaisesBrokenPipe, "CONN-SEND-EPIPE") {
  auto [a, b] = CreatePipe("a", "b");
  auto [r, w] = CreatePipe("r", "w", false);
  b.Ok("close");
  r.Ok("close");
  EXPECT_TRUE(Raises(a.Call("send_bytes", {Bytes("x")}), "CONN-SEND-EPIPE")) << "socketpair";
  EXPECT_TRUE(Raises(a.Call("send", {1}), "CONN-SEND-EPIPE")) << "socketpair";
  EXPECT_TRUE(Raises(w.Call("send_bytes", {Bytes("x")}), "CONN-SEND-EPIPE")) << "os.pipe";
  EXPECT_TRUE(Raises(w.Call("send", {1}), "CONN-SEND-EPIPE")) << "os.pipe";
}

// Over TCP the first write after the peer's close may succeed (it provokes the RST); a later
// one must fail with BrokenPipeError or ConnectionResetError.
CONFORMANCE_TEST(SendRecvTest, WritingToAClosedTcpPeerFailsSoon, "CONN-SEND-EPIPE.tcp") {
  conn::TcpPair tcp = conn::ConnectTcp(*this, "A");
  tcp.server.Ok("close");
  Response r;
  int writes = 0;
  for (; writes < 50; ++writes) {
    r = tcp.client.Call("send_bytes", {Bytes("x")});
    if (!r.ok) break;
  }
  ASSERT_FALSE(r.ok) << "50 writes to a closed TCP peer all succeeded";
  EXPECT_TRUE(Raises(r, "CONN-SEND-EPIPE.tcp"));
  EXPECT_TRUE(RaisesType(r, {"BrokenPipeError", "ConnectionResetError"}));
}

CONFORMANCE_TEST(SendRecvTest, RecvBlocksUntilAWholeMessageArrives, "CONN-RECV") {
  auto [a, b] = CreatePipe("a", "b");
  Driver::Pending recv = b.Start("recv");
  EXPECT_FALSE(recv.ArrivesWithin(BlockWindow())) << "recv() returned with nothing sent";
  EXPECT_TRUE(Succeeded(a.Call("send", {Sample()})));
  EXPECT_TRUE(Returned(Wait(recv), Sample()));
  // Started before the receive, so that send() may block on a full buffer meanwhile.
  const Json large = Tuple({PatternBytes(100000, 3), "tail"});
  Driver::Pending send = a.Start("send", {large});
  EXPECT_TRUE(Returned(b.Call("recv"), large));
  EXPECT_TRUE(Succeeded(Wait(send)));
}

CONFORMANCE_TEST(SendRecvTest, UnpicklingErrorConsumesTheMessage, "CONN-RECV-UNPICKLE-ERR") {
  auto [a, b] = CreatePipe("a", "b");
  a.Ok("send_bytes", {Bytes("not a pickle")});
  EXPECT_TRUE(Raises(b.Call("recv"), "CONN-RECV-UNPICKLE-ERR"));
  ExpectStillUsable(a, b);
}

CONFORMANCE_TEST(SendRecvTest, RecvOfAnEmptyFrameRaisesEOFErrorWithText, "CONN-RECV-EMPTY-FRAME") {
  auto [a, b] = CreatePipe("a", "b");
  a.Ok("send_bytes", {Bytes("")});
  Response r = b.Call("recv");
  EXPECT_TRUE(Raises(r, "CONN-RECV-EMPTY-FRAME"));
  EXPECT_FALSE(r.error.args.empty()) << "looks like end of stream (EOFError with no args)";
  ExpectStillUsable(a, b);
}

// recv() decodes whatever bytes arrive: a payload that did not come from send() (here the bytes
// of an earlier send(), replayed with send_bytes from another process) is unpickled all the same.
CONFORMANCE_TEST(SendRecvTest, RecvDecodesBytesFromAnySource, "CONN-RECV-TRUST") {
  auto [a, b] = CreatePipe("a", "b");
  Spawn("A");
  a.Ok("send", {Sample()});
  const Json payload = b.Ok("recv_bytes");
  EXPECT_TRUE(Succeeded(a.In("A").Call("send_bytes", {payload})));
  EXPECT_TRUE(Returned(b.Call("recv"), Sample()));
  if (IsPython()) {  // hand-made pickle: PROTO 2, BININT1 7, STOP
    EXPECT_TRUE(Succeeded(a.In("A").Call("send_bytes", {Bytes("\x80\x02K\x07.")})));
    EXPECT_TRUE(Returned(b.Call("recv"), 7));
  }
}

}  // namespace
}  // namespace mpipc::conformance
