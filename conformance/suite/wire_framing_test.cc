// Wire clauses of transports and framing (wire-protocol.md §2.1-2.2): the suite's RawPeer is the
// other end of a target connection (accepted without authkey in main), writes hand-made frames
// and reads back exactly what the target's send_bytes puts on the wire.
#include <unistd.h>

#include <algorithm>
#include <string>

#include "wire_fixture.h"

namespace mpipc::conformance {
namespace {

class WireFramingTest : public WireTest {
 protected:
  // recv_bytes(**kwargs) on target connection `conn` in main.
  Response RecvBytes(const std::string& conn = "c", Json kwargs = Json::object()) {
    return Finish(At(conn).Start("recv_bytes", Json::array(), std::move(kwargs)));
  }
  ::testing::AssertionResult ReceivesBytes(const std::string& expected,
                                           const std::string& conn = "c") {
    return Returned(RecvBytes(conn), Bytes(expected));
  }
};

CONFORMANCE_TEST(WireFramingTest, StreamIsOnlyFramesWithoutAuthkey, "WIRE-NO-GREETING") {
  // Accepted side: no greeting; the first bytes either way are a frame.
  RawPeer peer = PlainConnection();
  EXPECT_TRUE(SendsNothing(peer));
  ASSERT_EQ(peer.SendFrame("ping"), IoStatus::kOk);
  EXPECT_TRUE(ReceivesBytes("ping"));
  EXPECT_TRUE(Succeeded(At("c").Call("send_bytes", {Bytes("pong")})));
  EXPECT_EQ(Hex(peer.ReadExact(8, kIo).data), Hex(Frame("pong")));
  // Connecting side: the Client writes nothing of its own either.
  RawListener listener;
  Driver::Pending create = StartClient(listener.address(), None(), "A", "k");
  RawPeer cpeer = listener.Accept(kIo);
  ASSERT_TRUE(cpeer.valid());
  EXPECT_TRUE(Succeeded(Finish(create)));
  EXPECT_TRUE(SendsNothing(cpeer));
  EXPECT_TRUE(Succeeded(At("k", "A").Call("send_bytes", {Bytes("hi")})));
  EXPECT_EQ(Hex(cpeer.ReadExact(6, kIo).data), "00 00 00 02 68 69");
}

CONFORMANCE_TEST(WireFramingTest, ListenerAndClientUseStreamSocketsWithReuseAddr,
                 "WIRE-TRANSPORT") {
  // AF_UNIX: the Listener's socket takes a SOCK_STREAM connect, the Client connects to one.
  // Unique per suite process (targets run in parallel with the same seed).
  std::string random = Hex(handshake::RandomBytes(6));
  random.erase(std::remove(random.begin(), random.end(), ' '), random.end());
  const std::string path = "/tmp/mpipc-wire-" + std::to_string(::getpid()) + "-" + random;
  const Json unix_address = CreateListener(None(), Json(path));
  Driver::Pending accept = StartAccept("main", "u");
  RawPeer upeer = RawPeer::Connect(unix_address, kIo);
  ASSERT_TRUE(Succeeded(Finish(accept)));
  // A stream: one frame written in two pieces arrives whole.
  ASSERT_EQ(upeer.Send(std::string("\0\0\0\3a", 5)), IoStatus::kOk);
  ASSERT_EQ(upeer.Send("bc"), IoStatus::kOk);
  EXPECT_TRUE(ReceivesBytes("abc", "u"));
  EXPECT_TRUE(Succeeded(At("l").Call("close")));
  // The same over a Linux abstract name.
  const Json abstract_address = CreateListener(None(), Json(std::string(1, '\0') + path.substr(5)));
  Driver::Pending accept_abstract = StartAccept("main", "v");
  RawPeer vpeer = RawPeer::Connect(abstract_address, kIo);
  ASSERT_TRUE(Succeeded(Finish(accept_abstract)));
  ASSERT_EQ(vpeer.Send(Frame("xyz")), IoStatus::kOk);
  EXPECT_TRUE(ReceivesBytes("xyz", "v"));
  EXPECT_TRUE(Succeeded(At("l").Call("close")));
  for (auto kind : {RawListener::Kind::kUnixPath, RawListener::Kind::kUnixAbstract}) {
    RawListener listener(kind);
    Driver::Pending create = StartClient(listener.address(), None(), "A", "k");
    RawPeer cpeer = listener.Accept(kIo);
    ASSERT_TRUE(cpeer.valid()) << listener.address().dump();
    EXPECT_TRUE(Succeeded(Finish(create))) << listener.address().dump();
  }
  // AF_INET with SO_REUSEADDR: once the Listener's side closed a connection first (leaving it in
  // TIME_WAIT on the listening port), a new Listener can bind the same port at once.
  const Json inet = CreateListener(None());
  Driver::Pending accept2 = StartAccept("main", "t");
  RawPeer tpeer = RawPeer::Connect(inet, kIo);
  ASSERT_TRUE(Succeeded(Finish(accept2)));
  EXPECT_TRUE(Succeeded(At("t").Call("close")));
  EXPECT_EQ(tpeer.ReadToEnd(kIo).status, IoStatus::kEof);
  tpeer.Close();
  EXPECT_TRUE(Succeeded(At("l").Call("close")));
  Response again = TryCreate("Listener", "l2", {inet});
  EXPECT_TRUE(Succeeded(again)) << "rebinding " << inet.dump()
                                << " failed: the Listener does not set SO_REUSEADDR";
}

CONFORMANCE_TEST(WireFramingTest, ShortHeaderIsFourByteBigEndianLength, "WIRE-FRAME-SHORT") {
  RawPeer peer = PlainConnection();
  // What send_bytes writes.
  EXPECT_TRUE(Succeeded(At("c").Call("send_bytes", {Bytes("hi")})));
  EXPECT_EQ(Hex(peer.ReadExact(6, kIo).data), "00 00 00 02 68 69");
  EXPECT_TRUE(Succeeded(At("c").Call("send_bytes", {Bytes("")})));
  EXPECT_EQ(Hex(peer.ReadExact(4, kIo).data), "00 00 00 00");
  for (size_t n : {size_t{255}, size_t{256}, size_t{16384}, size_t{16385}, size_t{70000}}) {
    EXPECT_TRUE(Succeeded(At("c").Call("send_bytes", {PatternBytes(n, 7)})));
    FrameResult f = peer.ReadFrame(kIo);
    EXPECT_EQ(Hex(f.header), Hex(FrameHeader(n))) << n;
    EXPECT_EQ(f.payload, PatternString(n, 7)) << n;
  }
  // What recv_bytes reads.
  ASSERT_EQ(peer.Send(Frame("hi") + Frame("") + Frame(PatternString(300, 3))), IoStatus::kOk);
  EXPECT_TRUE(ReceivesBytes("hi"));
  EXPECT_TRUE(ReceivesBytes(""));
  EXPECT_TRUE(ReceivesBytes(PatternString(300, 3)));
  // 7f ff ff ff is the largest positive length (not a negative one): above any maxlength.
  ASSERT_EQ(peer.Send(RawHeader32(0x7FFFFFFF)), IoStatus::kOk);
  Response big = RecvBytes("c", {{"maxlength", 100}});
  ASSERT_TRUE(RaisesType(big, {"OSError"}));
  EXPECT_EQ(big.error.message.value_or("").rfind("bad message length", 0), 0u) << big.ToString();
}

CONFORMANCE_TEST(WireFramingTest, EscapeHeaderCarriesA64BitLength, "WIRE-FRAME-LONG") {
  // 2**31 bytes cannot travel through the driver; the receiver must read FF FF FF FF as the
  // escape and the next 8 bytes as the length (here above maxlength, so nothing more is read).
  RawPeer peer = PlainConnection();
  ASSERT_EQ(Hex(FrameHeader(uint64_t{1} << 31)), "ff ff ff ff 00 00 00 00 80 00 00 00");
  ASSERT_EQ(peer.Send(FrameHeader(uint64_t{1} << 31)), IoStatus::kOk);
  Response r = RecvBytes("c", {{"maxlength", 1 << 20}});
  ASSERT_TRUE(RaisesType(r, {"OSError"}));
  EXPECT_EQ(r.error.message.value_or("").rfind("bad message length", 0), 0u) << r.ToString();
}

CONFORMANCE_TEST(WireFramingTest, EscapeHeaderIsAcceptedForSmallLengths,
                 "WIRE-FRAME-LONG.any-length") {
  RawPeer peer = PlainConnection();
  ASSERT_EQ(peer.Send(LongFrameHeader(5) + "hello" + LongFrameHeader(0) + Frame("next")),
            IoStatus::kOk);
  EXPECT_TRUE(ReceivesBytes("hello"));
  EXPECT_TRUE(ReceivesBytes(""));
  EXPECT_TRUE(ReceivesBytes("next"));  // exactly 12 + n bytes were consumed each time
}

CONFORMANCE_TEST(WireFramingTest, ReceiverIgnoresWriteBoundaries, "WIRE-FRAME-WRITES") {
  RawPeer peer = PlainConnection();
  const std::string payload = PatternString(1000, 5);
  const std::string frame = Frame(payload);
  Driver::Pending recv = At("c").Start("recv_bytes");
  ASSERT_EQ(peer.Send(frame.substr(0, 2)), IoStatus::kOk);  // half a header
  EXPECT_FALSE(recv.ArrivesWithin(BlockWindow())) << "recv_bytes returned on 2 header bytes";
  ASSERT_EQ(peer.Send(frame.substr(2, 500)), IoStatus::kOk);  // rest of header, part of payload
  EXPECT_FALSE(recv.ArrivesWithin(BlockWindow())) << "recv_bytes returned on a partial payload";
  ASSERT_EQ(peer.Send(frame.substr(502)), IoStatus::kOk);
  EXPECT_TRUE(Returned(Finish(recv), Bytes(payload)));
  // Many frames in one write are split apart by their headers alone.
  ASSERT_EQ(peer.Send(Frame("a") + Frame("bb") + Frame("ccc")), IoStatus::kOk);
  EXPECT_TRUE(ReceivesBytes("a"));
  EXPECT_TRUE(ReceivesBytes("bb"));
  EXPECT_TRUE(ReceivesBytes("ccc"));
  // Whatever write pattern the sender uses (CPython: one write up to 16384 bytes, two above),
  // the bytes on the wire are header + payload.
  for (size_t n : {size_t{16384}, size_t{16385}}) {
    EXPECT_TRUE(Succeeded(At("c").Call("send_bytes", {PatternBytes(n, 9)})));
    EXPECT_EQ(peer.ReadExact(4 + n, kIo).data, Frame(PatternString(n, 9))) << n;
  }
}

CONFORMANCE_TEST(WireFramingTest, EndOfFileInsideAFrameIsAnError, "WIRE-FRAME-EOF") {
  // Before the first header byte: a clean end of stream.
  RawPeer clean = PlainConnection("c1");
  clean.ShutdownWrite();
  EXPECT_TRUE(RaisesType(RecvBytes("c1"), {"EOFError"}));
  // After 1-3 header bytes.
  for (int n = 1; n <= 3; ++n) {
    RawPeer peer = PlainConnection("h" + std::to_string(n));
    ASSERT_EQ(peer.Send(std::string(static_cast<size_t>(n), '\0')), IoStatus::kOk);
    peer.ShutdownWrite();
    EXPECT_TRUE(Raises(RecvBytes("h" + std::to_string(n)), "WIRE-FRAME-EOF")) << n;
  }
  // Inside the payload.
  RawPeer peer = PlainConnection("p");
  ASSERT_EQ(peer.Send(FrameHeader(10) + "0123"), IoStatus::kOk);
  peer.ShutdownWrite();
  EXPECT_TRUE(Raises(RecvBytes("p"), "WIRE-FRAME-EOF"));
}

CONFORMANCE_TEST(WireFramingTest, MaxlengthIsCheckedBeforeThePayload, "WIRE-FRAME-MAXLEN") {
  // Only the header is sent: a receiver that waited for the payload would block here.
  RawPeer peer = PlainConnection();
  ASSERT_EQ(peer.Send(FrameHeader(1000)), IoStatus::kOk);
  Response r = RecvBytes("c", {{"maxlength", 10}});
  ASSERT_TRUE(RaisesType(r, {"OSError"}));
  EXPECT_EQ(r.error.message.value_or("").rfind("bad message length", 0), 0u) << r.ToString();
}

CONFORMANCE_TEST(WireFramingTest, NegativeLengthReadsAsEmptyMessage, "WIRE-NEG-LENGTH") {
  RawPeer peer = PlainConnection();
  ASSERT_EQ(peer.Send(RawHeader32(0xFFFFFFFE) + Frame("ok")), IoStatus::kOk);
  EXPECT_TRUE(ReceivesBytes(""));
  EXPECT_TRUE(ReceivesBytes("ok"));  // nothing after FF FF FF FE was consumed
}

CONFORMANCE_TEST(WireFramingTest, WindowsNamedPipesAreUnframed, "WIRE-WINDOWS-PIPE") {
  GTEST_SKIP() << "Windows only (AF_PIPE message-mode named pipes)";
}

}  // namespace
}  // namespace mpipc::conformance
