// End of stream: bare EOFError, draining before it, a stream that ends inside a message, the
// simplex rule that every writer must close, and TCP resets (spec/clauses/eof.json,
// semantics.md §1.H).
#include <string>
#include <vector>

#include "conn_streams.h"
#include "fixture.h"

namespace mpipc::conformance {
namespace {

class EofTest : public ConformanceTest {
 protected:
  // End of stream as CONN-EOF states it: EOFError with no args.
  static ::testing::AssertionResult IsEndOfStream(const Response& r) {
    ::testing::AssertionResult raised = Raises(r, "CONN-EOF");
    if (!raised) return raised;
    if (!r.error.args.empty()) {
      return ::testing::AssertionFailure() << "EOFError with args " << r.error.args.dump();
    }
    return ::testing::AssertionSuccess();
  }
  // Closes every copy of `name`: main's and each actor's.
  void CloseEverywhere(const std::string& name, const std::vector<std::string>& actors) {
    At(name).Ok("close");
    for (const auto& actor : actors) At(name, actor).Ok("close");
  }
};

CONFORMANCE_TEST(EofTest, EveryReceiveRaisesBareEOFErrorAfterThePeerCloses, "CONN-EOF") {
  auto [a, b] = CreatePipe("a", "b");
  auto [r, w] = CreatePipe("r", "w", false);
  a.Ok("close");
  w.Ok("close");
  for (const Ref& c : {b, r}) {
    EXPECT_TRUE(IsEndOfStream(c.Call("recv"))) << c.name() << ".recv()";
    EXPECT_TRUE(IsEndOfStream(c.Call("recv_bytes"))) << c.name() << ".recv_bytes()";
    EXPECT_TRUE(IsEndOfStream(c.Call("recv_bytes_into", {8}))) << c.name() << ".recv_bytes_into()";
    EXPECT_TRUE(IsEndOfStream(c.Call("recv"))) << c.name() << ": end of stream is not sticky";
  }
}

CONFORMANCE_TEST(EofTest, MessagesSentBeforeCloseArriveFirst, "CONN-EOF-DRAIN") {
  auto [a, b] = CreatePipe("a", "b");
  Spawn("A");
  const Ref sender = a.In("A");
  sender.Ok("send", {Tuple({1, "first"})});
  sender.Ok("send_bytes", {Bytes("second")});
  sender.Ok("send_bytes", {Bytes("")});
  sender.Ok("send", {"fourth"});
  CloseEverywhere("a", {"A"});
  EXPECT_TRUE(Returned(b.Call("recv"), Tuple({1, "first"})));
  EXPECT_TRUE(Returned(b.Call("recv_bytes"), Bytes("second")));
  EXPECT_TRUE(Returned(b.Call("recv_bytes"), Bytes("")));
  EXPECT_TRUE(Returned(b.Call("recv"), "fourth"));
  EXPECT_TRUE(IsEndOfStream(b.Call("recv")));
}

// The stream that actor A reads from its copy of a_i is made to hold 1, 2 or 3 raw bytes
// (conn::ExposeRawBytes), then every copy of the writer closes.
CONFORMANCE_TEST(EofTest, EndInsideTheLengthHeaderRaisesOSError, "CONN-EOF-MIDMESSAGE.header") {
  const std::vector<std::string> methods = {"recv_bytes", "recv", "recv_bytes_into"};
  for (size_t i = 0; i < methods.size(); ++i) {
    CreatePipe("a" + std::to_string(i), "b" + std::to_string(i));
  }
  Spawn("A");
  for (size_t i = 0; i < methods.size(); ++i) {
    const std::string a = "a" + std::to_string(i);
    const std::string b = "b" + std::to_string(i);
    conn::ExposeRawBytes(At(b), At(a), std::string(i + 1, '\0'));
    CloseEverywhere(b, {"A"});
    const Json args = methods[i] == "recv_bytes_into" ? Json::array({16}) : Json::array();
    EXPECT_TRUE(Raises(At(a, "A").Call(methods[i], args), "CONN-EOF-MIDMESSAGE.header"))
        << methods[i] << " after " << i + 1 << " header byte(s)";
  }
}

CONFORMANCE_TEST(EofTest, EndInsideThePayloadRaisesOSError, "CONN-EOF-MIDMESSAGE.payload") {
  const std::vector<std::string> raw = {conn::LengthHeader(100) + "hello",
                                        conn::LengthHeader(3) + "ab", conn::LengthHeader(2) + "x"};
  const std::vector<std::string> methods = {"recv_bytes", "recv", "recv_bytes_into"};
  for (size_t i = 0; i < raw.size(); ++i) {
    CreatePipe("a" + std::to_string(i), "b" + std::to_string(i));
  }
  Spawn("A");
  for (size_t i = 0; i < raw.size(); ++i) {
    const std::string a = "a" + std::to_string(i);
    const std::string b = "b" + std::to_string(i);
    conn::ExposeRawBytes(At(b), At(a), raw[i]);
    CloseEverywhere(b, {"A"});
    const Json args = methods[i] == "recv_bytes_into" ? Json::array({128}) : Json::array();
    EXPECT_TRUE(Raises(At(a, "A").Call(methods[i], args), "CONN-EOF-MIDMESSAGE.payload"))
        << methods[i] << " of raw stream #" << i;
  }
}

// Actor A inherited the write end. Main closing its own copy is not enough for end of stream;
// A's copy still writes, and only A's close ends the stream.
CONFORMANCE_TEST(EofTest, SimplexReaderWaitsForEveryWriterToClose, "CONN-EOF-SIMPLEX") {
  auto [r, w] = CreatePipe("r", "w", false);
  Spawn("A");
  w.Ok("close");
  Driver::Pending recv = r.Start("recv_bytes");
  EXPECT_FALSE(recv.ArrivesWithin(BlockWindow())) << "EOF while actor A still holds the write end";
  EXPECT_TRUE(Succeeded(w.In("A").Call("send_bytes", {Bytes("late")})));
  EXPECT_TRUE(Returned(Wait(recv), Bytes("late")));
  EXPECT_TRUE(Returned(r.Call("poll"), false));
  Driver::Pending again = r.Start("recv_bytes");
  EXPECT_FALSE(again.ArrivesWithin(BlockWindow()));
  EXPECT_TRUE(Succeeded(w.In("A").Call("close")));
  EXPECT_TRUE(IsEndOfStream(Wait(again)));
}

// The documentation's case: the child (actor A) reads and has closed its copy of the write end,
// but the parent (main) still holds its own copy, so the child's reader waits until main closes.
CONFORMANCE_TEST(EofTest, ParentsOwnWriteEndKeepsTheChildWaiting, "CONN-EOF-SIMPLEX") {
  auto [r, w] = CreatePipe("r", "w", false);
  Spawn("A");
  w.In("A").Ok("close");
  w.Ok("send_bytes", {Bytes("from the parent")});
  const Ref reader = r.In("A");
  EXPECT_TRUE(Returned(reader.Call("recv_bytes"), Bytes("from the parent")));
  Driver::Pending recv = reader.Start("recv_bytes");
  EXPECT_FALSE(recv.ArrivesWithin(BlockWindow())) << "EOF while main still holds the write end";
  w.Ok("close");
  EXPECT_TRUE(IsEndOfStream(Wait(recv)));
}

// The server end (main) closes while the client's message sits unread in its receive buffer:
// the client (actor A) is reset rather than seeing end of stream.
CONFORMANCE_TEST(EofTest, TcpCloseWithUnreadDataResetsThePeer, "CONN-EOF-RESET") {
  conn::TcpPair tcp = conn::ConnectTcp(*this, "A");
  tcp.client.Ok("send_bytes", {Bytes("never read")});
  ASSERT_TRUE(Returned(tcp.server.Call("poll", {5.0}), true)) << "the message did not arrive";
  tcp.server.Ok("close");
  EXPECT_TRUE(Raises(tcp.client.Call("recv_bytes"), "CONN-EOF-RESET"));
}

}  // namespace
}  // namespace mpipc::conformance
