// RapidCheck properties over the value-shaped rules of send_bytes, recv_bytes, recv_bytes_into,
// poll/wait timeouts and send/recv of data-model values. Where a rule has an expected outcome
// per argument (valid or not), mpipc::model::ConnectionModel decides it, so the property covers
// both sides of every boundary. Each case costs a few round trips to the driver.
//
// A failure message carries RapidCheck's shrunk counterexample and the command reproducing it
// (the runner feeds --seed into RC_PARAMS).
#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "bytes_model_bridge.h"
#include "connection_model.h"
#include "fixture.h"
#include "property.h"

namespace mpipc::conformance {
namespace {

class BytesProperties : public ConformanceTest {
 protected:
  // A fresh Pipe(duplex) bound to "c0" (conn1, model end 0) and "c1" (conn2, model end 1);
  // earlier bindings of those names are dropped.
  std::pair<Ref, Ref> FreshPipe(bool duplex) { return CreatePipe("c0", "c1", duplex); }
};

// Sizes with the framing and buffer boundaries (16 KiB single-write limit, 64 KiB pipe buffer),
// up to `max` bytes.
rc::Gen<size_t> GenPayloadSize(size_t max) {
  std::vector<size_t> boundaries;
  for (size_t n : {0, 1, 3, 4, 5, 16383, 16384, 16385, 65531, 65532, 65535, 65536, 65537, 131072}) {
    if (n <= max) boundaries.push_back(n);
  }
  return rc::gen::weightedOneOf<size_t>({
      {6, rc::gen::inRange<size_t>(0, 1025)},
      {3, rc::gen::elementOf(boundaries)},
      {1, rc::gen::inRange<size_t>(0, max + 1)},
  });
}

CONFORMANCE_TEST(BytesProperties, PayloadsOfAnySizeRoundTrip, "CONN-RB PIPE-BOUNDARIES") {
  DriverFaultLatch latch;
  const ::testing::AssertionResult holds = CheckProperty(
      // The driver protocol carries every payload as base64 JSON: few cases, one large message.
      "send_bytes -> recv_bytes keeps every payload and boundary", {.max_success = 40}, [&] {
        const bool duplex = *rc::gen::arbitrary<bool>();
        const size_t n1 = *GenPayloadSize(size_t{256} * 1024);
        const size_t n2 = *GenPayloadSize(16385);
        const auto seed = *rc::gen::inRange<unsigned>(0, 256);
        latch.Run([&] {
          const auto ends = FreshPipe(duplex);
          const Ref& reader = ends.first;
          const Ref& writer = ends.second;
          const Json m1 = PatternBytes(n1, seed);
          const Json m2 = PatternBytes(n2, seed + 1);
          Response got1;
          Response got2;
          if (n1 + n2 + 8 <= 16384) {
            // Both fit in any OS buffer: send both, then receive; boundaries must hold.
            RC_ASSERT(writer.Call("send_bytes", {m1}).ok);
            RC_ASSERT(writer.Call("send_bytes", {m2}).ok);
            got1 = reader.Call("recv_bytes");
            got2 = reader.Call("recv_bytes");
          } else {
            // One at a time, the receive running while the send may block.
            Driver::Pending s1 = writer.Start("send_bytes", {m1});
            got1 = reader.Call("recv_bytes");
            RC_ASSERT(Wait(s1).ok);
            Driver::Pending s2 = writer.Start("send_bytes", {m2});
            got2 = reader.Call("recv_bytes");
            RC_ASSERT(Wait(s2).ok);
          }
          RC_ASSERT(got1.ok);
          RC_ASSERT(got2.ok);
          RC_ASSERT(StrictlyEqual(got1.result, m1));
          RC_ASSERT(StrictlyEqual(got2.result, m2));
          RC_ASSERT(reader.Call("poll").result == Json(false));
        });
      });
  latch.Rethrow();
  EXPECT_TRUE(holds);
}

CONFORMANCE_TEST(BytesProperties, SendBytesOffsetAndSizeFollowTheModel,
                 "CONN-SB-VALIDATE.offset-negative CONN-SB-VALIDATE.buffer-shorter-than-offset "
                 "CONN-SB-VALIDATE.size-negative CONN-SB-VALIDATE.offset-plus-size "
                 "CONN-SB-VALIDATE.order CONN-SB-VALIDATE.nothing-written "
                 "CONN-SB-VALIDATE.default-size CONN-SB-VALIDATE.offset-at-end") {
  DriverFaultLatch latch;
  const ::testing::AssertionResult holds =
      CheckProperty("send_bytes(buf, offset, size) as the model says", {.max_success = 100}, [&] {
        const std::string buf =
            *rc::gen::resize(40, rc::gen::container<std::string>(rc::gen::arbitrary<char>()));
        const auto n = static_cast<int64_t>(buf.size());
        const int64_t offset = *rc::gen::weightedOneOf<int64_t>({
            {3, rc::gen::inRange<int64_t>(0, n + 1)},
            {2, rc::gen::inRange<int64_t>(-3, n + 4)},
        });
        const int how = *rc::gen::inRange(0, 4);  // 0: size omitted, 1: None, 2-3: a number
        std::optional<int64_t> size;
        if (how >= 2) {
          size = *rc::gen::weightedOneOf<int64_t>({
              {3, rc::gen::inRange<int64_t>(0, std::max<int64_t>(n - offset, 0) + 1)},
              {2, rc::gen::inRange<int64_t>(-3, n + 4)},
          });
        }
        const bool as_kwargs = *rc::gen::arbitrary<bool>();
        latch.Run([&] {
          model::ConnectionModel m(true);
          const auto predicted = m.send_bytes(0, buf, offset, size);
          const auto ends = FreshPipe(true);
          Json args = Json::array({Bytes(buf)});
          Json kwargs = Json::object();
          const Json size_arg = size ? Json(*size) : None();
          if (as_kwargs) {
            kwargs["offset"] = offset;
            if (how >= 1) kwargs["size"] = size_arg;
          } else {
            args.push_back(offset);
            if (how >= 1) args.push_back(size_arg);
          }
          const auto actual =
              Observed<model::None>(ends.first.Call("send_bytes", args, kwargs), DecodeNone);
          if (auto why = Mismatch(predicted, actual); !why.empty()) RC_FAIL(why);
          // What reached the peer: exactly the model's message, or nothing at all.
          if (m.pending(1).empty()) {
            RC_ASSERT(ends.second.Call("poll").result == Json(false));
          } else {
            const Response got = ends.second.Call("recv_bytes");
            RC_ASSERT(got.ok);
            RC_ASSERT(StrictlyEqual(got.result, Bytes(m.pending(1).front())));
          }
        });
      });
  latch.Rethrow();
  EXPECT_TRUE(holds);
}

CONFORMANCE_TEST(BytesProperties, RecvBytesMaxlengthFollowsTheModel,
                 "CONN-RB CONN-RB-NEG CONN-RB-MAXLEN CONN-RB-MAXLEN.duplex-state "
                 "CONN-RB-MAXLEN.simplex-state CONN-RB-MAXLEN.boundary") {
  DriverFaultLatch latch;
  const ::testing::AssertionResult holds =
      CheckProperty("recv_bytes(maxlength) as the model says", {.max_success = 100}, [&] {
        const bool duplex = *rc::gen::arbitrary<bool>();
        const size_t n = *rc::gen::weightedOneOf<size_t>({
            {4, rc::gen::inRange<size_t>(0, 70)},
            {1, rc::gen::inRange<size_t>(0, 40000)},
        });
        const auto len = static_cast<int64_t>(n);
        const int how = *rc::gen::inRange(0, 5);  // 0: omitted, 1: None, 2-4: a number
        std::optional<int64_t> maxlength;
        if (how >= 2) {
          maxlength = *rc::gen::weightedOneOf<int64_t>({
              {3, rc::gen::inRange<int64_t>(std::max<int64_t>(len - 2, 0), len + 3)},
              {2, rc::gen::inRange<int64_t>(-3, len + 4)},
          });
        }
        latch.Run([&] {
          model::ConnectionModel m(duplex);
          const std::string msg = PatternString(n, static_cast<unsigned>(n));
          RC_ASSERT(m.send_bytes(1, msg).is_value());
          RC_ASSERT(m.send_bytes(1, "next").is_value());
          const auto ends = FreshPipe(duplex);
          const Ref& reader = ends.first;
          const Ref& writer = ends.second;
          // The message fits in every OS buffer along with "next".
          RC_ASSERT(writer.Call("send_bytes", {Bytes(msg)}).ok);
          RC_ASSERT(writer.Call("send_bytes", {Bytes("next")}).ok);
          Json args = Json::array();
          if (how == 1) args.push_back(None());
          if (how >= 2) args.push_back(*maxlength);
          const auto predicted = m.recv_bytes(0, maxlength);
          const auto actual = Observed<std::string>(reader.Call("recv_bytes", args), DecodeBytes);
          if (auto why = Mismatch(predicted, actual); !why.empty()) RC_FAIL(why);
          // The end's state afterwards (CONN-RB-MAXLEN.*-state), then the next receive.
          RC_ASSERT(reader.Attr("closed").result == Json(m.closed(0)));
          if (!m.closed(0)) RC_ASSERT(reader.Attr("readable").result == Json(m.readable(0)));
          const auto predicted_next = m.recv_bytes(0);
          RC_ASSERT(!predicted_next.would_block());
          const auto actual_next = Observed<std::string>(reader.Call("recv_bytes"), DecodeBytes);
          if (auto why = Mismatch(predicted_next, actual_next); !why.empty()) {
            RC_FAIL("next receive: " + why);
          }
        });
      });
  latch.Rethrow();
  EXPECT_TRUE(holds);
}

CONFORMANCE_TEST(BytesProperties, RecvBytesIntoBufferAndOffsetFollowTheModel,
                 "CONN-RBI CONN-RBI-OFFSET.negative CONN-RBI-OFFSET.too-large "
                 "CONN-RBI-OFFSET.at-end CONN-RBI-SHORT") {
  DriverFaultLatch latch;
  const ::testing::AssertionResult holds =
      CheckProperty("recv_bytes_into(buffer, offset) as the model says", {.max_success = 100}, [&] {
        const std::string msg =
            *rc::gen::resize(48, rc::gen::container<std::string>(rc::gen::arbitrary<char>()));
        const auto len = static_cast<int64_t>(msg.size());
        const int64_t buffer_size = *rc::gen::weightedOneOf<int64_t>({
            {3, rc::gen::inRange<int64_t>(len, len + 8)},
            {2, rc::gen::inRange<int64_t>(0, 64)},
        });
        const int64_t offset = *rc::gen::weightedOneOf<int64_t>({
            {3, rc::gen::inRange<int64_t>(0, std::max<int64_t>(buffer_size - len, 0) + 1)},
            {2, rc::gen::inRange<int64_t>(-3, buffer_size + 4)},
        });
        const bool offset_omitted = offset == 0 && *rc::gen::arbitrary<bool>();
        latch.Run([&] {
          model::ConnectionModel m(true);
          RC_ASSERT(m.send_bytes(1, msg).is_value());
          RC_ASSERT(m.send_bytes(1, "after").is_value());
          const auto ends = FreshPipe(true);
          RC_ASSERT(ends.second.Call("send_bytes", {Bytes(msg)}).ok);
          RC_ASSERT(ends.second.Call("send_bytes", {Bytes("after")}).ok);
          Json args = Json::array({buffer_size});
          if (!offset_omitted) args.push_back(offset);
          const auto predicted = m.recv_bytes_into(0, static_cast<size_t>(buffer_size), offset);
          const auto actual = Observed<model::RecvIntoResult>(
              ends.first.Call("recv_bytes_into", args), DecodeRecvInto);
          if (auto why = Mismatch(predicted, actual); !why.empty()) RC_FAIL(why);
          // Whether the message was consumed: the next receive says.
          const auto predicted_next = m.recv_bytes(0);
          const auto actual_next =
              Observed<std::string>(ends.first.Call("recv_bytes"), DecodeBytes);
          if (auto why = Mismatch(predicted_next, actual_next); !why.empty()) {
            RC_FAIL("next receive: " + why);
          }
        });
      });
  latch.Rethrow();
  EXPECT_TRUE(holds);
}

CONFORMANCE_TEST(BytesProperties, PollAndWaitTimeouts,
                 "CONN-POLL-TIMEOUT CONN-POLL-NEG WAIT-TIMEOUT") {
  DriverFaultLatch latch;
  const double slack = tolerance();
  const ::testing::AssertionResult holds =
      CheckProperty("poll(t) and wait([c], t) honour t", {.max_success = 30}, [&] {
        const double timeout = *rc::gen::weightedOneOf<double>({
            {2, rc::gen::elementOf(std::vector<double>{-1.0, -0.001, 0.0, 0.001})},
            {3, rc::gen::map(rc::gen::inRange(1, 81), [](int ms) { return ms / 1000.0; })},
        });
        const bool pending = *rc::gen::arbitrary<bool>();
        const bool use_wait = *rc::gen::arbitrary<bool>();
        latch.Run([&] {
          const auto ends = FreshPipe(true);
          if (pending) RC_ASSERT(ends.second.Call("send_bytes", {Bytes("m")}).ok);
          const auto start = std::chrono::steady_clock::now();
          const Response r =
              use_wait ? WaitReady({"c0"}, timeout) : ends.first.Call("poll", {timeout});
          const double seconds =
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
          RC_ASSERT(r.ok);
          const Json ready = use_wait ? Json(Json::array({"c0"})) : Json(true);
          const Json not_ready = use_wait ? Json::array() : Json(false);
          const double expected = pending ? 0.0 : std::max(timeout, 0.0);
          RC_ASSERT(r.result == (pending ? ready : not_ready));
          // Never before the timeout (1 ms of clock slack), never much after it.
          RC_ASSERT(seconds >= expected - 0.001);
          RC_ASSERT(seconds < expected + slack);
        });
      });
  latch.Rethrow();
  EXPECT_TRUE(holds);
}

CONFORMANCE_TEST(BytesProperties, ValuesRoundTripThroughSendAndRecv, "CONN-SEND CONN-RECV") {
  auto [a, b] = CreatePipe("a", "b");
  Spawn("A");
  const Ref sender = a.In("A");
  const Ref receiver = b;
  DriverFaultLatch latch;
  const ::testing::AssertionResult holds =
      CheckProperty("send(v) in one process, recv() == v in another", {.max_success = 100}, [&] {
        const Json value = *GenValue();
        latch.Run([&] {
          const Response sent = sender.Call("send", Json::array({value}));
          if (!sent.ok) RC_FAIL("send(" + value.dump() + ") raised " + sent.error.ToString());
          const Response got = receiver.Call("recv");
          if (!got.ok) RC_FAIL("recv() of " + value.dump() + " raised " + got.error.ToString());
          if (!StrictlyEqual(got.result, value)) {
            RC_FAIL("sent " + value.dump() + ", received " + got.result.dump());
          }
        });
      });
  latch.Rethrow();
  EXPECT_TRUE(holds);
}

}  // namespace
}  // namespace mpipc::conformance
