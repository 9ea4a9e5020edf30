// poll(timeout=0.0): default and special timeouts, timing, no consumption, end of stream,
// byte-level readiness and errors (spec/clauses/poll.json, semantics.md §1.G).
#include <chrono>
#include <string>

#include "conn_streams.h"
#include "fixture.h"

namespace mpipc::conformance {
namespace {

class PollTest : public ConformanceTest {
 protected:
  // Runs `c.poll(*args)` and returns the response and the seconds it took (request to response).
  std::pair<Response, double> TimedPoll(const Ref& c, Args args = {}) {
    const auto t0 = std::chrono::steady_clock::now();
    Response r = c.Call("poll", std::move(args));
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - t0;
    return {r, took.count()};
  }
  // poll(*args) answers `expected` without waiting (within the timing tolerance).
  void ExpectPromptly(const Ref& c, const Json& args, bool expected) {
    auto [r, took] = TimedPoll(c, args);
    EXPECT_TRUE(Returned(r, expected)) << "poll" << args.dump();
    EXPECT_LT(took, tolerance()) << "poll" << args.dump() << " waited";
  }
};

CONFORMANCE_TEST(PollTest, PollWithoutArgumentDoesNotBlock, "CONN-POLL-DEFAULT") {
  auto [a, b] = CreatePipe("a", "b");
  auto [r, w] = CreatePipe("r", "w", false);
  ExpectPromptly(b, Json::array(), false);
  ExpectPromptly(r, Json::array(), false);
  a.Ok("send_bytes", {Bytes("x")});
  w.Ok("send_bytes", {Bytes("y")});
  ExpectPromptly(b, Json::array(), true);
  ExpectPromptly(r, Json::array(), true);
}

CONFORMANCE_TEST(PollTest, PollNoneWaitsForDataOrEndOfStream, "CONN-POLL-NONE") {
  auto [a, b] = CreatePipe("a", "b");
  Driver::Pending p = b.Start("poll", Json::array({None()}));
  EXPECT_FALSE(p.ArrivesWithin(BlockWindow())) << "poll(None) returned with nothing to read";
  a.Ok("send_bytes", {Bytes("data")});
  EXPECT_TRUE(Returned(Wait(p), true));
  EXPECT_TRUE(Returned(b.Call("recv_bytes"), Bytes("data")));
  Driver::Pending q = b.Start("poll", Json::array({None()}));
  EXPECT_FALSE(q.ArrivesWithin(BlockWindow()));
  a.Ok("close");
  EXPECT_TRUE(Returned(Wait(q), true)) << "poll(None) after the peer closed";
}

CONFORMANCE_TEST(PollTest, NegativeTimeoutReturnsAtOnce, "CONN-POLL-NEG") {
  auto [a, b] = CreatePipe("a", "b");
  ExpectPromptly(b, Json::array({-1}), false);
  ExpectPromptly(b, Json::array({Float(-0.5)}), false);
  ExpectPromptly(b, Json::array({-1000}), false);
  a.Ok("send_bytes", {Bytes("x")});
  ExpectPromptly(b, Json::array({-1}), true);
}

CONFORMANCE_TEST(PollTest, TimeoutIsHonoured, "CONN-POLL-TIMEOUT") {
  auto [a, b] = CreatePipe("a", "b");
  for (double t : {0.2, 0.05}) {
    auto [r, took] = TimedPoll(b, Json::array({Float(t)}));
    EXPECT_TRUE(Returned(r, false));
    EXPECT_GE(took, t * 0.9) << "poll(" << t << ") returned early";
    EXPECT_LE(took, t + tolerance()) << "poll(" << t << ") overslept";
  }
}

CONFORMANCE_TEST(PollTest, PollNeverConsumes, "CONN-POLL-NOCONSUME") {
  auto [a, b] = CreatePipe("a", "b");
  Spawn("A");
  a.Ok("send_bytes", {Bytes("m1")});
  for (const Json& args :
       {Json::array(), Json::array({Float(0.1)}), Json::array({None()}), Json::array()}) {
    EXPECT_TRUE(Returned(b.Call("poll", args), true)) << "poll" << args.dump();
  }
  EXPECT_TRUE(Returned(b.Call("recv_bytes"), Bytes("m1")));
  EXPECT_TRUE(Returned(b.Call("poll"), false));
  a.Ok("send_bytes", {Bytes("")});  // an empty message is something to read, too
  EXPECT_TRUE(Returned(b.Call("poll"), true));
  EXPECT_TRUE(Returned(b.Call("poll"), true));
  EXPECT_TRUE(Returned(b.Call("recv_bytes"), Bytes("")));
  EXPECT_TRUE(Returned(b.Call("poll"), false));
  // poll in main leaves the message whole for another process's copy of the same end.
  a.Ok("send", {Tuple({1, "shared"})});
  EXPECT_TRUE(Returned(b.Call("poll"), true));
  EXPECT_TRUE(Returned(b.In("A").Call("recv"), Tuple({1, "shared"})));
  EXPECT_TRUE(Returned(b.Call("poll"), false));
}

CONFORMANCE_TEST(PollTest, PollIsTrueAtEndOfStream, "CONN-POLL-EOF") {
  auto [a, b] = CreatePipe("a", "b");
  auto [r, w] = CreatePipe("r", "w", false);
  a.Ok("close");
  w.Ok("close");
  for (const Ref& c : {b, r}) {
    EXPECT_TRUE(Returned(c.Call("poll"), true)) << c.name();
    EXPECT_TRUE(Returned(c.Call("poll", {Float(0.1)}), true)) << c.name();
    EXPECT_TRUE(RaisesType(c.Call("recv_bytes"), {"EOFError"})) << c.name();
    EXPECT_TRUE(Returned(c.Call("poll"), true)) << c.name() << " after EOFError";
  }
}

// Actor A's copy of `a` is made to hold the first 7 bytes of an 11-byte message (a 4-byte
// header for 10 bytes, then "abc", conn::ExposeRawBytes). poll() is already true; the receive
// waits for the rest, which main's next frame supplies (its 4-byte header + "xyz").
CONFORMANCE_TEST(PollTest, PartialMessageIsReadyButRecvWaitsForTheRest, "CONN-POLL-PARTIAL") {
  auto [a, b] = CreatePipe("a", "b");
  Spawn("A");
  conn::ExposeRawBytes(b, a, conn::LengthHeader(10) + "abc");
  const Ref reader = a.In("A");
  EXPECT_TRUE(Returned(reader.Call("poll"), true)) << "part of a message is not readable";
  EXPECT_TRUE(Returned(reader.Call("poll", {Float(0.05)}), true));
  Driver::Pending recv = reader.Start("recv_bytes");
  EXPECT_FALSE(recv.ArrivesWithin(BlockWindow())) << "recv_bytes returned a partial message";
  b.Ok("send_bytes", {Bytes("xyz")});
  EXPECT_TRUE(Returned(Wait(recv), Bytes("abc" + conn::LengthHeader(3) + "xyz")));
  EXPECT_TRUE(Returned(reader.Call("poll"), false));
}

CONFORMANCE_TEST(PollTest, PollOnAClosedEndRaises, "CONN-POLL-ERRORS.closed") {
  auto [a, b] = CreatePipe("a", "b");
  auto [r, w] = CreatePipe("r", "w", false);
  b.Ok("send_bytes", {Bytes("pending")});
  for (const Ref& c : {a, r}) {
    c.Ok("close");
    EXPECT_TRUE(Raises(c.Call("poll"), "CONN-POLL-ERRORS.closed")) << c.name();
    EXPECT_TRUE(Raises(c.Call("poll", {Float(0.1)}), "CONN-POLL-ERRORS.closed")) << c.name();
    EXPECT_TRUE(Raises(c.Call("poll", {None()}), "CONN-POLL-ERRORS.closed")) << c.name();
  }
}

CONFORMANCE_TEST(PollTest, PollOnTheWriteEndRaises, "CONN-POLL-ERRORS.write-only") {
  auto [r, w] = CreatePipe("r", "w", false);
  w.Ok("send_bytes", {Bytes("x")});
  EXPECT_TRUE(Raises(w.Call("poll"), "CONN-POLL-ERRORS.write-only"));
  EXPECT_TRUE(Raises(w.Call("poll", {Float(0.1)}), "CONN-POLL-ERRORS.write-only"));
  EXPECT_TRUE(Raises(w.Call("poll", {None()}), "CONN-POLL-ERRORS.write-only"));
}

}  // namespace
}  // namespace mpipc::conformance
