// recv_bytes(maxlength=None) (spec/clauses/recv_bytes.json): one whole message as bytes, the
// maxlength checks, and the state of the connection after an overlong message.
#include <string>

#include "fixture.h"

namespace mpipc::conformance {
namespace {

class RecvBytesTest : public ConformanceTest {};

CONFORMANCE_TEST(RecvBytesTest, ReturnsOneWholeMessageAsBytes, "CONN-RB") {
  auto [a, b] = CreatePipe("a", "b");
  Spawn("A");
  // A receive blocks until a message is there, then returns exactly that message.
  Driver::Pending first = b.Start("recv_bytes");
  EXPECT_FALSE(first.ArrivesWithin(BlockWindow())) << "recv_bytes() returned with nothing sent";
  const std::string binary("\0\x01\xff\n\r\x80 end", 10);
  EXPECT_TRUE(Succeeded(a.In("A").Call("send_bytes", {Bytes(binary)})));
  EXPECT_TRUE(Returned(Wait(first), Bytes(binary)));
  // Several messages (one of 100 KiB, sent from another process) keep their boundaries.
  const std::string big = PatternString(size_t{100} * 1024, 3);
  Driver::Pending send_big = a.In("A").Start("send_bytes", {Bytes(big)});
  Response got_big = b.Call("recv_bytes");
  EXPECT_TRUE(Succeeded(Wait(send_big)));
  EXPECT_TRUE(Succeeded(a.In("A").Call("send_bytes", {Bytes("tail")})));
  ASSERT_TRUE(Succeeded(got_big));
  ASSERT_TRUE(IsBytes(got_big.result))
      << "recv_bytes() did not return bytes: " << got_big.result.dump().substr(0, 200);
  EXPECT_TRUE(AsBytes(got_big.result) == big) << "the 100 KiB message arrived altered";
  EXPECT_TRUE(Returned(b.Call("recv_bytes"), Bytes("tail")));
  EXPECT_TRUE(Returned(b.Call("poll"), false));
}

CONFORMANCE_TEST(RecvBytesTest, NegativeMaxlengthLeavesTheMessage, "CONN-RB-NEG") {
  auto [a, b] = CreatePipe("a", "b");
  EXPECT_TRUE(Succeeded(a.Call("send_bytes", {Bytes("pending")})));
  EXPECT_TRUE(Raises(b.Call("recv_bytes", {-1}), "CONN-RB-NEG"));
  EXPECT_TRUE(Raises(b.Call("recv_bytes", Json::array(), {{"maxlength", -100}}), "CONN-RB-NEG"));
  EXPECT_TRUE(Returned(b.Attr("readable"), true));
  EXPECT_TRUE(Returned(b.Call("recv_bytes", {None()}), Bytes("pending")));
}

CONFORMANCE_TEST(RecvBytesTest, OverlongMessageRaisesOSError, "CONN-RB-MAXLEN") {
  auto [a, b] = CreatePipe("a", "b");
  EXPECT_TRUE(Succeeded(a.Call("send_bytes", {Bytes("0123456789")})));
  EXPECT_TRUE(Raises(b.Call("recv_bytes", {9}), "CONN-RB-MAXLEN"));
  auto [r, w] = CreatePipe("r", "w", false);
  EXPECT_TRUE(Succeeded(w.Call("send_bytes", {Bytes("x")})));
  EXPECT_TRUE(Raises(r.Call("recv_bytes", Json::array(), {{"maxlength", 0}}), "CONN-RB-MAXLEN"));
}

CONFORMANCE_TEST(RecvBytesTest, WritableEndStopsReadingAfterOverlong,
                 "CONN-RB-MAXLEN.duplex-state") {
  auto [a, b] = CreatePipe("a", "b");
  EXPECT_TRUE(Succeeded(a.Call("send_bytes", {Bytes("0123456789")})));
  EXPECT_TRUE(Succeeded(a.Call("send_bytes", {Bytes("next")})));
  ASSERT_FALSE(b.Call("recv_bytes", {4}).ok);
  EXPECT_TRUE(Returned(b.Attr("readable"), false));
  EXPECT_TRUE(Returned(b.Attr("writable"), true));
  EXPECT_TRUE(Returned(b.Attr("closed"), false));
  EXPECT_TRUE(Raises(b.Call("recv_bytes"), "CONN-RB-MAXLEN.duplex-state"));
  EXPECT_TRUE(Raises(b.Call("recv_bytes_into", {16}), "CONN-RB-MAXLEN.duplex-state"));
  EXPECT_TRUE(Raises(b.Call("poll"), "CONN-RB-MAXLEN.duplex-state"));
  // Writing still works.
  EXPECT_TRUE(Succeeded(b.Call("send_bytes", {Bytes("reply")})));
  EXPECT_TRUE(Returned(a.Call("recv_bytes"), Bytes("reply")));
}

CONFORMANCE_TEST(RecvBytesTest, ReadOnlyEndClosesAfterOverlong, "CONN-RB-MAXLEN.simplex-state") {
  auto [r, w] = CreatePipe("r", "w", false);
  EXPECT_TRUE(Succeeded(w.Call("send_bytes", {Bytes("0123456789")})));
  ASSERT_FALSE(r.Call("recv_bytes", {5}).ok);
  EXPECT_TRUE(Returned(r.Attr("closed"), true));
  EXPECT_TRUE(Raises(r.Call("recv_bytes"), "CONN-RB-MAXLEN.simplex-state"));
  EXPECT_TRUE(Raises(r.Call("poll"), "CONN-RB-MAXLEN.simplex-state"));
}

CONFORMANCE_TEST(RecvBytesTest, LengthEqualToMaxlengthIsAccepted, "CONN-RB-MAXLEN.boundary") {
  auto [a, b] = CreatePipe("a", "b");
  for (const char* m : {"seven!!", "", "z"}) {
    EXPECT_TRUE(Succeeded(a.Call("send_bytes", {Bytes(m)})));
  }
  EXPECT_TRUE(Returned(b.Call("recv_bytes", {7}), Bytes("seven!!")));
  EXPECT_TRUE(Returned(b.Call("recv_bytes", {0}), Bytes("")));
  EXPECT_TRUE(Returned(b.Call("recv_bytes", Json::array(), {{"maxlength", 1}}), Bytes("z")));
  EXPECT_TRUE(Returned(b.Attr("readable"), true));
}

}  // namespace
}  // namespace mpipc::conformance
