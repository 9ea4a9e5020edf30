// Stateful model-based test of a Pipe pair: RapidCheck generates command sequences (send_bytes
// with offsets and sizes, recv_bytes with maxlength, recv_bytes_into with buffer sizes and
// offsets, poll, close of either end, the ends' flags, send/recv of data-model values) and runs
// them both against mpipc::model::ConnectionModel (conformance/model/connection_model.h) and
// against the target, through the driver, on a duplex or a one-way Pipe. Every outcome (value,
// or exception type and message) must be one the model accepts; a command the model says could
// block is never issued. On a failure RapidCheck shrinks the sequence; the message shows it and
// the command that reproduces it.
//
// Values sent with send() are modelled as opaque messages: the model carries a marker plus the
// value's JSON in place of the pickle, so recv() of it is predicted exactly, while recv_bytes /
// recv_bytes_into are not issued on such a message (their outcome depends on the pickle's
// bytes), nor recv() on a send_bytes message (unpickling arbitrary bytes).
#include <rapidcheck/state.h>

#include <algorithm>
#include <array>
#include <iostream>
#include <memory>
#include <optional>
#include <ostream>
#include <string>

#include "bytes_model_bridge.h"
#include "connection_model.h"
#include "fixture.h"
#include "property.h"

namespace mpipc::conformance {
namespace {

using Model = model::ConnectionModel;

// In-flight bytes the model allows before it predicts that a send could block: half of a Linux
// pipe buffer, well under what a socketpair holds for the few dozen messages of a sequence.
constexpr size_t kCapacity = size_t{32} * 1024;

// Marks a modelled message that stands for a send()'s pickle; the value's JSON follows.
const std::string& ValueMarker() {
  static const std::string marker("\x00\xffmpipc-value\xff\x00", 15);
  return marker;
}
bool IsValueMessage(const std::string& m) { return m.rfind(ValueMarker(), 0) == 0; }
// The message at the head of end e's inbox is a value.
bool ValueAtHead(const Model& m, int e) {
  return !m.pending(e).empty() && IsValueMessage(m.pending(e).front());
}

// The system under test: one Pipe in the driver's main actor, bound to c0 (end 0) and c1.
// Requests go through Call(), which counts them.
struct PipeSut {
  PipeSut(ConformanceTest* test, bool duplex, int64_t* calls)
      : ends{test->At("c0"), test->At("c1")}, calls_(calls) {
    test->CreatePipe("c0", "c1", duplex);
  }
  Response Call(int end, const std::string& method, Args args = {}) {
    ++*calls_;
    return ends[end].Call(method, std::move(args));
  }
  Response Attr(int end, const std::string& name) {
    ++*calls_;
    return ends[end].Attr(name);
  }

  std::array<Ref, 2> ends;

 private:
  int64_t* calls_;
};

using Command = rc::state::Command<Model, PipeSut>;

std::string EndName(int e) { return e == 0 ? "c0" : "c1"; }

std::string ShowBuffer(const std::string& b) {
  if (b.size() <= 24) return Bytes(b).dump();
  return "<" + std::to_string(b.size()) + " bytes " + Bytes(b.substr(0, 12)).dump() + "...>";
}

// Fails the RapidCheck case with `what` when `predicted` does not accept `actual`.
template <typename R>
void Expect(const std::string& what, const model::Outcome<R>& predicted,
            const model::Outcome<R>& actual) {
  if (auto why = Mismatch(predicted, actual); !why.empty()) RC_FAIL(what + ": " + why);
}

struct SendBytes : Command {
  int end = *rc::gen::inRange(0, 2);
  std::string buf = *rc::gen::weightedOneOf<std::string>({
      {6, rc::gen::resize(40, rc::gen::container<std::string>(rc::gen::arbitrary<char>()))},
      {1, rc::gen::map(rc::gen::inRange<size_t>(0, 20000),
                       [](size_t n) { return PatternString(n, static_cast<unsigned>(n)); })},
  });
  int64_t offset = 0;
  std::optional<int64_t> size;

  explicit SendBytes(const Model& m) {
    const auto n = static_cast<int64_t>(buf.size());
    offset = *rc::gen::weightedOneOf<int64_t>({
        {6, rc::gen::just<int64_t>(0)},
        {3, rc::gen::inRange<int64_t>(0, n + 1)},
        {1, rc::gen::inRange<int64_t>(-2, n + 3)},
    });
    if (*rc::gen::arbitrary<bool>()) {
      size = *rc::gen::weightedOneOf<int64_t>({
          {4, rc::gen::inRange<int64_t>(0, std::max<int64_t>(n - offset, 0) + 1)},
          {1, rc::gen::inRange<int64_t>(-2, n + 3)},
      });
    }
    checkPreconditions(m);
  }
  model::Outcome<model::None> Predict(Model m) const {
    return m.send_bytes(end, buf, offset, size);
  }
  void checkPreconditions(const Model& m) const override { RC_PRE(!Predict(m).would_block()); }
  void apply(Model& m) const override { m.send_bytes(end, buf, offset, size); }
  void run(const Model& m, PipeSut& sut) const override {
    Json args = Json::array({Bytes(buf), offset});
    if (size) args.push_back(*size);
    Expect(Describe(), Predict(m),
           Observed<model::None>(sut.Call(end, "send_bytes", args), DecodeNone));
  }
  std::string Describe() const {
    return EndName(end) + ".send_bytes(" + ShowBuffer(buf) + ", " + std::to_string(offset) +
           (size ? ", " + std::to_string(*size) : "") + ")";
  }
  void show(std::ostream& os) const override { os << Describe(); }
};

struct RecvBytes : Command {
  int end = *rc::gen::inRange(0, 2);
  std::optional<int64_t> maxlength;

  explicit RecvBytes(const Model& m) {
    if (*rc::gen::inRange(0, 3) == 0) {
      const int64_t head =
          m.pending(end).empty() ? 0 : static_cast<int64_t>(m.pending(end).front().size());
      maxlength = *rc::gen::inRange<int64_t>(std::max<int64_t>(head - 2, -1), head + 2);
    }
    checkPreconditions(m);
  }
  model::Outcome<std::string> Predict(Model m) const { return m.recv_bytes(end, maxlength); }
  void checkPreconditions(const Model& m) const override {
    RC_PRE(!ValueAtHead(m, end));
    RC_PRE(!Predict(m).would_block());
  }
  void apply(Model& m) const override { m.recv_bytes(end, maxlength); }
  void run(const Model& m, PipeSut& sut) const override {
    Json args = Json::array();
    if (maxlength) args.push_back(*maxlength);
    Expect(Describe(), Predict(m),
           Observed<std::string>(sut.Call(end, "recv_bytes", args), DecodeBytes));
  }
  std::string Describe() const {
    return EndName(end) + ".recv_bytes(" + (maxlength ? std::to_string(*maxlength) : "") + ")";
  }
  void show(std::ostream& os) const override { os << Describe(); }
};

struct RecvBytesInto : Command {
  int end = *rc::gen::inRange(0, 2);
  int64_t buffer_size = 0;
  int64_t offset = 0;

  explicit RecvBytesInto(const Model& m) {
    const int64_t head =
        m.pending(end).empty() ? 0 : static_cast<int64_t>(m.pending(end).front().size());
    buffer_size = *rc::gen::weightedOneOf<int64_t>({
        {3, rc::gen::inRange<int64_t>(head, head + 6)},
        {1, rc::gen::inRange<int64_t>(0, head + 6)},
    });
    offset = *rc::gen::weightedOneOf<int64_t>({
        {3, rc::gen::inRange<int64_t>(0, std::max<int64_t>(buffer_size - head, 0) + 1)},
        {1, rc::gen::inRange<int64_t>(-2, buffer_size + 3)},
    });
    checkPreconditions(m);
  }
  model::Outcome<model::RecvIntoResult> Predict(Model m) const {
    return m.recv_bytes_into(end, static_cast<size_t>(buffer_size), offset);
  }
  void checkPreconditions(const Model& m) const override {
    RC_PRE(!ValueAtHead(m, end));
    RC_PRE(!Predict(m).would_block());
  }
  void apply(Model& m) const override {
    m.recv_bytes_into(end, static_cast<size_t>(buffer_size), offset);
  }
  void run(const Model& m, PipeSut& sut) const override {
    Expect(Describe(), Predict(m),
           Observed<model::RecvIntoResult>(sut.Call(end, "recv_bytes_into", {buffer_size, offset}),
                                           DecodeRecvInto));
  }
  std::string Describe() const {
    return EndName(end) + ".recv_bytes_into(bytearray(" + std::to_string(buffer_size) + "), " +
           std::to_string(offset) + ")";
  }
  void show(std::ostream& os) const override { os << Describe(); }
};

struct Poll : Command {
  int end = *rc::gen::inRange(0, 2);
  void run(const Model& m, PipeSut& sut) const override {
    Expect(EndName(end) + ".poll()", m.poll(end),
           Observed<bool>(sut.Call(end, "poll"), DecodeBool));
  }
  void show(std::ostream& os) const override { os << EndName(end) << ".poll()"; }
};

struct Close : Command {
  int end = *rc::gen::inRange(0, 2);
  void apply(Model& m) const override { m.close(end); }
  void run(const Model& m, PipeSut& sut) const override {
    Model copy = m;
    Expect(EndName(end) + ".close()", copy.close(end),
           Observed<model::None>(sut.Call(end, "close"), DecodeNone));
  }
  void show(std::ostream& os) const override { os << EndName(end) << ".close()"; }
};

// closed, readable and writable of one end (CONN-PROPS.close-keeps-flags, CONN-RB-MAXLEN.*).
struct Flags : Command {
  int end = *rc::gen::inRange(0, 2);
  void run(const Model& m, PipeSut& sut) const override {
    const std::pair<const char*, bool> flags[] = {
        {"closed", m.closed(end)}, {"readable", m.readable(end)}, {"writable", m.writable(end)}};
    for (const auto& [name, expected] : flags) {
      const Response r = sut.Attr(end, name);
      if (!r.ok || r.result != Json(expected)) {
        RC_FAIL(EndName(end) + "." + name + ": model says " + (expected ? "True" : "False") +
                ", target gave " + (r.ok ? r.result.dump() : r.error.ToString()));
      }
    }
  }
  void show(std::ostream& os) const override {
    os << EndName(end) << ".{closed,readable,writable}";
  }
};

struct SendValue : Command {
  int end = *rc::gen::inRange(0, 2);
  Json value = *rc::gen::resize(12, GenValue(2));

  explicit SendValue(const Model& m) { checkPreconditions(m); }
  std::string Message() const { return ValueMarker() + value.dump(); }
  model::Outcome<model::None> Predict(Model m) const { return m.send_bytes(end, Message()); }
  void checkPreconditions(const Model& m) const override { RC_PRE(!Predict(m).would_block()); }
  void apply(Model& m) const override { m.send_bytes(end, Message()); }
  void run(const Model& m, PipeSut& sut) const override {
    Expect(Describe(), Predict(m),
           Observed<model::None>(sut.Call(end, "send", Json::array({value})), DecodeNone));
  }
  std::string Describe() const { return EndName(end) + ".send(" + value.dump() + ")"; }
  void show(std::ostream& os) const override { os << Describe(); }
};

// recv(): the checks of recv_bytes() without maxlength, then the value; issued only when the
// head message (if any) is a value.
struct RecvValue : Command {
  int end = *rc::gen::inRange(0, 2);

  explicit RecvValue(const Model& m) { checkPreconditions(m); }
  model::Outcome<std::string> Predict(Model m) const { return m.recv_bytes(end); }
  void checkPreconditions(const Model& m) const override {
    RC_PRE(m.pending(end).empty() || ValueAtHead(m, end));
    RC_PRE(!Predict(m).would_block());
  }
  void apply(Model& m) const override { m.recv_bytes(end); }
  void run(const Model& m, PipeSut& sut) const override {
    const auto predicted = Predict(m);
    const Response r = sut.Call(end, "recv");
    const std::string what = EndName(end) + ".recv()";
    if (predicted.is_value()) {
      const Json expected = Json::parse(predicted.value().substr(ValueMarker().size()));
      if (!r.ok) RC_FAIL(what + ": expected " + expected.dump() + ", got " + r.error.ToString());
      if (!StrictlyEqual(r.result, expected)) {
        RC_FAIL(what + ": expected " + expected.dump() + ", got " + r.result.dump());
      }
      return;
    }
    // An error; a value where an error was predicted is reported as such.
    Expect(what, predicted,
           r.ok ? model::Outcome<std::string>::Raise(
                      model::MakeError("<value>", r.result.dump().substr(0, 200)))
                : model::Outcome<std::string>::Raise(ObservedError(r.error)));
  }
  void show(std::ostream& os) const override { os << EndName(end) << ".recv()"; }
};

class ConnectionStateful : public ConformanceTest {
 protected:
  // One property: random command sequences on fresh pipes of the given kind.
  void RunSequences(bool duplex, int cases, int max_length) {
    DriverFaultLatch latch;
    int64_t sequences = 0;
    int64_t calls = 0;
    const ::testing::AssertionResult holds = CheckProperty(
        std::string("Pipe(duplex=") + (duplex ? "True" : "False") + ") follows ConnectionModel",
        {.max_success = cases, .max_size = max_length}, [&] {
          latch.Run([&] {
            ++sequences;
            PipeSut sut(this, duplex, &calls);
            rc::state::check(
                Model(duplex, kCapacity), sut,
                rc::state::gen::execOneOfWithArgs<SendBytes, SendBytes, SendBytes, RecvBytes,
                                                  RecvBytes, RecvBytesInto, RecvBytesInto, Poll,
                                                  Close, Flags, SendValue, RecvValue>());
          });
        });
    latch.Rethrow();
    EXPECT_TRUE(holds);
    std::cerr << sequences << " sequences, " << calls << " calls\n";
    // The generator must not discard its way to trivial sequences.
    EXPECT_GE(calls, 4 * int64_t{cases}) << "sequences too short to mean anything";
  }
};

// The clauses whose rules ConnectionModel encodes exactly and that sequences reach (send_bytes,
// recv_bytes, recv_bytes_into validation and delivery; closing, direction and EOF rules).
#define MPIPC_BYTES_STATEFUL_CLAUSES                                                           \
  "CONN-SB-VALIDATE.offset-negative CONN-SB-VALIDATE.buffer-shorter-than-offset "              \
  "CONN-SB-VALIDATE.size-negative CONN-SB-VALIDATE.offset-plus-size CONN-SB-VALIDATE.order "   \
  "CONN-SB-VALIDATE.nothing-written CONN-SB-VALIDATE.default-size "                            \
  "CONN-SB-VALIDATE.offset-at-end CONN-SB-EMPTY CONN-RB CONN-RB-NEG CONN-RB-MAXLEN "           \
  "CONN-RB-MAXLEN.duplex-state CONN-RB-MAXLEN.simplex-state CONN-RB-MAXLEN.boundary CONN-RBI " \
  "CONN-RBI-OFFSET.negative CONN-RBI-OFFSET.too-large CONN-RBI-OFFSET.at-end CONN-RBI-SHORT "  \
  "PIPE-BOUNDARIES CONN-CHECK-ORDER CONN-RO.message CONN-WO.message CONN-CLOSE "               \
  "CONN-PROPS.close-keeps-flags CONN-POLL-NOCONSUME CONN-POLL-EOF CONN-POLL-ERRORS.closed "    \
  "CONN-POLL-ERRORS.write-only CONN-EOF CONN-EOF-DRAIN CONN-SEND-EPIPE CONN-SEND CONN-RECV"

CONFORMANCE_TEST(ConnectionStateful, DuplexPipeFollowsTheModel,
                 MPIPC_BYTES_STATEFUL_CLAUSES " CONN-EOF-RESET") {
  RunSequences(true, IsPython() ? 40 : 60, 40);
}

CONFORMANCE_TEST(ConnectionStateful, OneWayPipeFollowsTheModel, MPIPC_BYTES_STATEFUL_CLAUSES) {
  RunSequences(false, IsPython() ? 40 : 60, 40);
}

}  // namespace
}  // namespace mpipc::conformance
