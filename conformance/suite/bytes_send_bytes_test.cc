// send_bytes(buffer, offset=0, size=None) (spec/clauses/send_bytes.json): argument validation and
// its order, what reaches the peer, empty and large messages.
//
// Protocol 1 passes send_bytes buffers as `bytes` only, so the clauses about wider items
// (CONN-SB-UNITS) and strided memoryviews (CONN-SB-NONCONTIG) cannot be asked about: their tests
// are SKIP with that reason.
#include <initializer_list>
#include <optional>
#include <string>
#include <tuple>
#include <utility>

#include "fixture.h"

namespace mpipc::conformance {
namespace {

class SendBytesTest : public ConformanceTest {
 protected:
  // The 26-byte message of CPython's test_sendbytes.
  static std::string Alphabet() { return "abcdefghijklmnopqrstuvwxyz"; }

  // A duplex pipe (a, b); the test sends on a and receives on b.
  void SetUpPipe() { std::tie(a_, b_) = CreatePipe("a", "b"); }

  // Nothing reached b: poll() is False.
  ::testing::AssertionResult NothingArrived() { return Returned(b_->Call("poll"), false); }

  std::optional<Ref> a_;
  std::optional<Ref> b_;
};

CONFORMANCE_TEST(SendBytesTest, StrOrIntBufferRaisesTypeError, "CONN-SB-TYPE") {
  SetUpPipe();
  EXPECT_TRUE(Raises(a_->Call("send_bytes", {"abc"}), "CONN-SB-TYPE"));
  EXPECT_TRUE(Raises(a_->Call("send_bytes", {5}), "CONN-SB-TYPE"));
  EXPECT_TRUE(NothingArrived());
  // bytes are accepted.
  EXPECT_TRUE(Succeeded(a_->Call("send_bytes", {Bytes("abc")})));
  EXPECT_TRUE(Returned(b_->Call("recv_bytes"), Bytes("abc")));
}

CONFORMANCE_TEST(SendBytesTest, WideItemUnits, "CONN-SB-UNITS") {
  MarkSkip(
      "driver protocol 1 passes send_bytes buffers as bytes (itemsize 1); an array('i') "
      "buffer cannot be requested");
  GTEST_SKIP() << "needs a buffer with itemsize > 1";
}

CONFORMANCE_TEST(SendBytesTest, NegativeOffset, "CONN-SB-VALIDATE.offset-negative") {
  SetUpPipe();
  EXPECT_TRUE(
      Raises(a_->Call("send_bytes", {Bytes(Alphabet()), -1}), "CONN-SB-VALIDATE.offset-negative"));
  EXPECT_TRUE(Raises(a_->Call("send_bytes", {Bytes(Alphabet())}, {{"offset", -5}, {"size", 2}}),
                     "CONN-SB-VALIDATE.offset-negative"));
  EXPECT_TRUE(NothingArrived());
}

CONFORMANCE_TEST(SendBytesTest, OffsetBeyondBuffer, "CONN-SB-VALIDATE.buffer-shorter-than-offset") {
  SetUpPipe();
  EXPECT_TRUE(Raises(a_->Call("send_bytes", {Bytes(Alphabet()), 27}),
                     "CONN-SB-VALIDATE.buffer-shorter-than-offset"));
  EXPECT_TRUE(Raises(a_->Call("send_bytes", {Bytes(""), 1}),
                     "CONN-SB-VALIDATE.buffer-shorter-than-offset"));
  EXPECT_TRUE(NothingArrived());
}

CONFORMANCE_TEST(SendBytesTest, NegativeSize, "CONN-SB-VALIDATE.size-negative") {
  SetUpPipe();
  EXPECT_TRUE(
      Raises(a_->Call("send_bytes", {Bytes(Alphabet()), 4, -1}), "CONN-SB-VALIDATE.size-negative"));
  EXPECT_TRUE(Raises(a_->Call("send_bytes", {Bytes(Alphabet())}, {{"size", -26}}),
                     "CONN-SB-VALIDATE.size-negative"));
  EXPECT_TRUE(NothingArrived());
}

CONFORMANCE_TEST(SendBytesTest, SliceBeyondBuffer, "CONN-SB-VALIDATE.offset-plus-size") {
  SetUpPipe();
  EXPECT_TRUE(Raises(a_->Call("send_bytes", {Bytes(Alphabet()), 22, 5}),
                     "CONN-SB-VALIDATE.offset-plus-size"));
  EXPECT_TRUE(Raises(a_->Call("send_bytes", {Bytes(Alphabet()), 26, 1}),
                     "CONN-SB-VALIDATE.offset-plus-size"));
  EXPECT_TRUE(Raises(a_->Call("send_bytes", {Bytes(Alphabet()), 0, 27}),
                     "CONN-SB-VALIDATE.offset-plus-size"));
  EXPECT_TRUE(NothingArrived());
  // The largest slice that fits is accepted.
  EXPECT_TRUE(Succeeded(a_->Call("send_bytes", {Bytes(Alphabet()), 22, 4})));
  EXPECT_TRUE(Returned(b_->Call("recv_bytes"), Bytes("wxyz")));
}

CONFORMANCE_TEST(SendBytesTest, EarliestFailingCheckIsReported, "CONN-SB-VALIDATE.order") {
  SetUpPipe();
  const Json msg = Bytes(Alphabet());
  struct Case {
    int offset;
    int size;
    const char* clause;
  };
  // Each case violates the reported check and one or more later ones.
  const Case cases[] = {
      {-1, -1, "CONN-SB-VALIDATE.offset-negative"},
      {-1, 100, "CONN-SB-VALIDATE.offset-negative"},
      {27, -1, "CONN-SB-VALIDATE.buffer-shorter-than-offset"},
      {27, 100, "CONN-SB-VALIDATE.buffer-shorter-than-offset"},
      {26, -1, "CONN-SB-VALIDATE.size-negative"},
  };
  for (const Case& c : cases) {
    EXPECT_TRUE(Raises(a_->Call("send_bytes", {msg, c.offset, c.size}), c.clause))
        << "send_bytes(msg, " << c.offset << ", " << c.size << ")";
  }
}

CONFORMANCE_TEST(SendBytesTest, RejectedCallsWriteNothing, "CONN-SB-VALIDATE.nothing-written") {
  SetUpPipe();
  const Json msg = Bytes(Alphabet());
  const std::initializer_list<std::pair<int, int>> invalid = {{-1, 1}, {27, 0}, {4, -1}, {22, 5}};
  for (const auto& [offset, size] : invalid) {
    EXPECT_FALSE(a_->Call("send_bytes", {msg, offset, size}).ok);
  }
  EXPECT_TRUE(NothingArrived());
  // The stream is still aligned: the next valid message is the first one received.
  EXPECT_TRUE(Succeeded(a_->Call("send_bytes", {msg, 0, 3})));
  EXPECT_TRUE(Returned(b_->Call("recv_bytes"), Bytes("abc")));
  EXPECT_TRUE(NothingArrived());
}

CONFORMANCE_TEST(SendBytesTest, SizeDefaultsToTheRestOfTheBuffer, "CONN-SB-VALIDATE.default-size") {
  SetUpPipe();
  const Json msg = Bytes(Alphabet());
  EXPECT_TRUE(Succeeded(a_->Call("send_bytes", {msg})));
  EXPECT_TRUE(Succeeded(a_->Call("send_bytes", {msg, 10})));
  EXPECT_TRUE(Succeeded(a_->Call("send_bytes", {msg}, {{"offset", 20}, {"size", None()}})));
  EXPECT_TRUE(Returned(b_->Call("recv_bytes"), msg));
  EXPECT_TRUE(Returned(b_->Call("recv_bytes"), Bytes(Alphabet().substr(10))));
  EXPECT_TRUE(Returned(b_->Call("recv_bytes"), Bytes(Alphabet().substr(20))));
}

CONFORMANCE_TEST(SendBytesTest, OffsetAtEndSendsAnEmptyMessage, "CONN-SB-VALIDATE.offset-at-end") {
  SetUpPipe();
  const Json msg = Bytes(Alphabet());
  EXPECT_TRUE(Succeeded(a_->Call("send_bytes", {msg, 26})));
  EXPECT_TRUE(Succeeded(a_->Call("send_bytes", {msg, 26, 0})));
  EXPECT_TRUE(Returned(b_->Call("recv_bytes"), Bytes("")));
  EXPECT_TRUE(Returned(b_->Call("recv_bytes"), Bytes("")));
  EXPECT_TRUE(NothingArrived());
}

CONFORMANCE_TEST(SendBytesTest, EmptyMessageIsDeliveredAndPollable, "CONN-SB-EMPTY") {
  SetUpPipe();
  EXPECT_TRUE(Succeeded(a_->Call("send_bytes", {Bytes("")})));
  EXPECT_TRUE(Returned(b_->Call("poll", {0.0}), true));
  EXPECT_TRUE(Returned(b_->Call("recv_bytes"), Bytes("")));
  EXPECT_TRUE(NothingArrived());
  // Between two non-empty messages it keeps its own boundary, in a one-way pipe too.
  auto [r, w] = CreatePipe("r", "w", false);
  for (const char* m : {"x", "", "y"}) EXPECT_TRUE(Succeeded(w.Call("send_bytes", {Bytes(m)})));
  for (const char* m : {"x", "", "y"}) EXPECT_TRUE(Returned(r.Call("recv_bytes"), Bytes(m)));
}

CONFORMANCE_TEST(SendBytesTest, NonContiguousMemoryview, "CONN-SB-NONCONTIG") {
  MarkSkip(
      "driver protocol 1 passes send_bytes buffers as bytes; a strided memoryview cannot "
      "be requested");
  GTEST_SKIP() << "needs a non-contiguous memoryview";
}

CONFORMANCE_TEST(SendBytesTest, LargeMessageRoundTripsIntact, "CONN-SB-HUGE") {
  // Closest observable consequence: the >2 GiB escape itself cannot cross driver protocol 1 (a
  // JSON line per request) within the suite's budget; a 512 KiB message, far above every buffer
  // and the 16 KiB single-write limit, must arrive intact, between two processes.
  auto [r, w] = CreatePipe("r", "w", false);
  Spawn("A");
  const size_t n = size_t{512} << 10;
  Driver::Pending send = w.In("A").Start("send_bytes", {PatternBytes(n, 7)});
  Response got = r.Call("recv_bytes");
  ASSERT_TRUE(Succeeded(got));
  EXPECT_TRUE(Succeeded(Wait(send)));
  ASSERT_TRUE(IsBytes(got.result));
  const std::string data = AsBytes(got.result);
  EXPECT_EQ(data.size(), n);
  EXPECT_TRUE(data == PatternString(n, 7)) << "the payload arrived altered";
}

}  // namespace
}  // namespace mpipc::conformance
