// The `multiprocess` package (spec/clauses/multiprocess.json, semantics.md §1.P): dill as the
// serializer, dill payloads, the logic shared with CPython, and interoperation. These clauses
// describe that package, so on other implementations the tests end as SKIP.
#include "fixture.h"

namespace mpipc::conformance {
namespace {

// pickle.dumps([1, 'a', (2.5, None)]) at protocol 4, the default protocol of Python 3.8-3.13
// (checked with CPython 3.11.7 and Debian's multiprocess 0.70.12.2).
const std::string& GoldenListPickle() {
  static const std::string bytes(
      "\x80\x04\x95\x17\x00\x00\x00\x00\x00\x00\x00]\x94(K\x01\x8c\x01"
      "a\x94G@\x04\x00\x00\x00\x00\x00\x00N\x86\x94"
      "e.",
      34);
  return bytes;
}
Json GoldenListValue() { return Json::array({1, "a", Tuple({Float(2.5), None()})}); }

class MultiprocessTest : public ConformanceTest {
 protected:
  // Ends the test as SKIP unless the target is the multiprocess package.
  bool RequireMultiprocess() {
    const std::string impl = session().implementation();
    if (impl == "multiprocess") return true;
    MarkSkip("clause about the multiprocess package; the target is " + impl);
    return false;
  }
};

CONFORMANCE_TEST(MultiprocessTest, FunctionsTravelThroughPipesAndQueues, "MP-SERIALIZER") {
  if (!RequireMultiprocess()) GTEST_SKIP() << "not multiprocess";
  EXPECT_TRUE(session().FunctionsTravel("pipe")) << "hello claims functions do not travel";
  auto [a, b] = CreatePipe("a", "b");
  Ref q = Create("Queue", "q");
  Ref sq = Create("SimpleQueue", "sq");
  Spawn("A");
  Spawn("B");
  // A closure (add 3) through each transport, from A to B, callable on arrival.
  EXPECT_TRUE(Succeeded(a.In("A").Call("send", {Function("add", 3)})));
  ASSERT_TRUE(Succeeded(b.In("B").CallBind("recv", "f1")));
  EXPECT_TRUE(Returned(ApplyBound("f1", {4}, "B"), 7));
  EXPECT_TRUE(Succeeded(q.In("A").Call("put", {Function("square")})));
  ASSERT_TRUE(Succeeded(q.In("B").CallBind("get", "f2", Json::array(), {{"timeout", 5.0}})));
  EXPECT_TRUE(Returned(ApplyBound("f2", {5}, "B"), 25));
  EXPECT_TRUE(Succeeded(sq.In("A").Call("put", {Function("const", "k")})));
  ASSERT_TRUE(Succeeded(sq.In("B").CallBind("get", "f3")));
  EXPECT_TRUE(Returned(ApplyBound("f3", {1}, "B"), "k"));
  // Builtin data: dill writes exactly the bytes the stdlib pickler writes.
  EXPECT_TRUE(Succeeded(a.In("A").Call("send", {GoldenListValue()})));
  const Response raw = b.In("B").Call("recv_bytes");
  ASSERT_TRUE(Succeeded(raw));
  EXPECT_EQ(AsBytes(raw.result), GoldenListPickle());
}

CONFORMANCE_TEST(MultiprocessTest, FunctionPayloadsReferenceDill, "MP-DILL-PAYLOAD") {
  if (!RequireMultiprocess()) GTEST_SKIP() << "not multiprocess";
  auto [a, b] = CreatePipe("a", "b");
  Spawn("A");
  EXPECT_TRUE(Succeeded(a.In("A").Call("send", {Function("negate")})));
  const Response raw = b.Call("recv_bytes");
  ASSERT_TRUE(Succeeded(raw));
  const std::string payload = AsBytes(raw.result);
  // The pickle names dill's own reconstruction helpers, which plain pickle can only load where
  // dill is importable.
  EXPECT_NE(payload.find("dill._dill"), std::string::npos)
      << "payload of " << payload.size() << " bytes does not reference dill";
  EXPECT_EQ(payload.rfind("\x80\x04", 0), 0u) << "not a protocol-4 pickle";
  // Where dill is importable (every multiprocess process) it loads as a function again.
  EXPECT_TRUE(Succeeded(a.In("A").Call("send", {Function("negate")})));
  ASSERT_TRUE(Succeeded(b.CallBind("recv", "f")));
  EXPECT_TRUE(Returned(ApplyBound("f", {6}), -6));
}

// The parts of CPython's queue and connection logic the clause says multiprocess copies; the
// differences its note lists for Debian's 0.70.12.2 (Queue.close() closing the reader at once,
// the abstract default AF_UNIX address, the empty-authkey test, the L-ADDR-TYPE text) are left
// to the clauses that describe them.
CONFORMANCE_TEST(MultiprocessTest, QueueAndConnectionLogicMatchCPython, "MP-SAME-LOGIC") {
  if (!RequireMultiprocess()) GTEST_SKIP() << "not multiprocess";
  Ref q = Create("Queue", "q", Json::array(), {{"maxsize", 1}});
  Ref jq = Create("JoinableQueue", "jq");
  Ref sq = Create("SimpleQueue", "sq");
  auto [r, w] = CreatePipe("r", "w", false);
  EXPECT_TRUE(Succeeded(q.Call("put", {1})));
  EXPECT_TRUE(RaisesType(q.Call("put_nowait", {2}), {"Full"}));
  EXPECT_TRUE(Returned(q.Call("qsize"), 1));
  EXPECT_TRUE(Returned(q.Call("full"), true));
  EXPECT_TRUE(Returned(q.Call("get", Json::array(), {{"timeout", 5.0}}), 1));
  EXPECT_TRUE(RaisesType(q.Call("get", {true, 0}), {"Empty"}));
  EXPECT_TRUE(Raises(q.Call("join_thread"), "Q-JOIN-THREAD-PRE"));
  EXPECT_TRUE(Succeeded(q.Call("close")));
  EXPECT_TRUE(Raises(q.Call("put", {3}), "Q-PUT-CLOSED"));
  EXPECT_TRUE(Raises(jq.Call("task_done"), "JQ-TOO-MANY.message"));
  EXPECT_TRUE(Succeeded(sq.Call("close")));
  EXPECT_TRUE(Raises(sq.Call("empty"), "SQ-CLOSE"));
  EXPECT_TRUE(Raises(r.Call("send", {1}), "CONN-RO.message"));
  EXPECT_TRUE(Raises(w.Call("recv"), "CONN-WO.message"));
  EXPECT_TRUE(Raises(w.Call("send_bytes", {Bytes("abc"), 4}),
                     "CONN-SB-VALIDATE.buffer-shorter-than-offset"));
}

// Cross-package interoperation (a multiprocess Client against a multiprocessing Listener) needs
// two implementations in one run, which driver protocol 1 cannot express; the README's interop
// demo covers it. What one target shows: the same handshake with an authkey accepts the right
// key and refuses a wrong one, and the payloads are the stdlib's bytes.
CONFORMANCE_TEST(MultiprocessTest, HandshakeAndFramingAreTheStandardOnes, "MP-INTEROP") {
  if (!RequireMultiprocess()) GTEST_SKIP() << "not multiprocess";
  Ref l = Create("Listener", "l", {InetAddress("127.0.0.1", 0)}, {{"authkey", Bytes("secret")}});
  const Json address = l.AttrOk("address");
  Spawn("A");
  Driver::Pending accept = l.Start("accept", Json::array(), Json::object(), "c");
  Ref client = Create("Client", "c", {address}, {{"authkey", Bytes("secret")}}, "A");
  ASSERT_TRUE(Succeeded(Wait(accept)));
  EXPECT_TRUE(Succeeded(client.Call("send", {GoldenListValue()})));
  const Response raw = At("c").Call("recv_bytes");
  ASSERT_TRUE(Succeeded(raw));
  EXPECT_EQ(AsBytes(raw.result), GoldenListPickle());
  EXPECT_TRUE(Succeeded(At("c").Call("send_bytes", {Bytes("pong")})));
  EXPECT_TRUE(Returned(client.Call("recv_bytes"), Bytes("pong")));
  // A wrong key is refused on both sides.
  Driver::Pending refused = l.Start("accept", Json::array(), Json::object(), "c2");
  const Response bad = TryCreate("Client", "c2", {address}, {{"authkey", Bytes("wrong")}}, "A");
  EXPECT_TRUE(RaisesType(bad, {"AuthenticationError"}));
  EXPECT_TRUE(RaisesType(Wait(refused), {"AuthenticationError"}));
}

CONFORMANCE_TEST(MultiprocessTest, MixingPackagesAliasesDescriptors, "MP-MIXING-HAZARD") {
  if (!RequireMultiprocess()) GTEST_SKIP() << "not multiprocess";
  MarkSkip(
      "needs a multiprocessing Connection and a multiprocess one in the same process; a driver "
      "of protocol 1 loads one package");
  GTEST_SKIP() << "not observable through driver protocol 1";
}

}  // namespace
}  // namespace mpipc::conformance
