// Queue (semantics.md §1.J): construction, put/get with their blocking and timeout forms, the
// Empty/Full exceptions, put/get after close(), and the qsize/empty/full views.
// Close, join_thread and exit behaviour: queue_close_test.cc; kills: queue_kill_test.cc;
// ordering and delivery between processes: queue_delivery_test.cc.
#include "fixture.h"
#include "queue_steps.h"

namespace mpipc::conformance {
namespace {

class QueueBasicTest : public ConformanceTest {
 protected:
  // A Queue(1) in main holding one item: every put on it is refused or waits.
  Ref FullQueue(const std::string& name = "q") {
    Ref q = Create("Queue", name, Json::array(), {{"maxsize", 1}});
    q.Ok("put", Json::array({"first"}));
    return q;
  }
  // The put forms that must fail at once on a full queue.
  void ExpectPutsFailAtOnce(const Ref& q, const std::vector<std::pair<Json, Json>>& forms,
                            const std::string& clause) {
    for (const auto& [args, kwargs] : forms) {
      const TimedResponse t = TimedCall(q, "put", args, kwargs);
      EXPECT_TRUE(Raises(t.response, clause)) << "put" << args.dump() << kwargs.dump();
      EXPECT_LT(t.seconds, tolerance()) << "put" << args.dump() << kwargs.dump() << " waited";
    }
  }
  void ExpectGetsFailAtOnce(const Ref& q, const std::vector<std::pair<Json, Json>>& forms,
                            const std::string& clause) {
    for (const auto& [args, kwargs] : forms) {
      const TimedResponse t = TimedCall(q, "get", args, kwargs);
      EXPECT_TRUE(Raises(t.response, clause)) << "get" << args.dump() << kwargs.dump();
      EXPECT_LT(t.seconds, tolerance()) << "get" << args.dump() << kwargs.dump() << " waited";
    }
  }
};

// ---- Q-CTOR ----

CONFORMANCE_TEST(QueueBasicTest, MaxsizeZeroOrNegativeIsUnbounded, "Q-CTOR") {
  for (const int maxsize : {0, -1, -100}) {
    const std::string name = "q" + std::to_string(-maxsize);
    Ref q = Create("Queue", name, Json::array(), {{"maxsize", maxsize}});
    for (int i = 0; i < 30; ++i) {
      ASSERT_TRUE(Succeeded(q.Call("put_nowait", Json::array({i})))) << "maxsize " << maxsize;
    }
    EXPECT_TRUE(Returned(q.Call("full"), false)) << "maxsize " << maxsize;
    EXPECT_TRUE(Returned(q.Call("qsize"), 30)) << "maxsize " << maxsize;
  }
  // The largest bound the semaphore takes (Linux) is accepted as such.
  EXPECT_TRUE(Succeeded(TryCreate("Queue", "max", Json::array({2147483647}))));
}

CONFORMANCE_TEST(QueueBasicTest, MaxsizeAboveSemaphoreMaximumIsOverflowError, "Q-CTOR.overflow") {
  EXPECT_TRUE(Raises(TryCreate("Queue", "q", Json::array(), {{"maxsize", 2147483648LL}}),
                     "Q-CTOR.overflow"));
  EXPECT_TRUE(Raises(TryCreate("Queue", "q", Json::array(), {{"maxsize", int64_t{1} << 40}}),
                     "Q-CTOR.overflow"));
}

CONFORMANCE_TEST(QueueBasicTest, NonIntegerMaxsizeIsTypeError, "Q-CTOR.type") {
  EXPECT_TRUE(Raises(TryCreate("Queue", "q", Json::array(), {{"maxsize", "a"}}), "Q-CTOR.type"));
  EXPECT_TRUE(Raises(TryCreate("Queue", "q", Json::array({Float(2.5)})), "Q-CTOR.type"));
}

// ---- Q-EXC ----

CONFORMANCE_TEST(QueueBasicTest, EmptyAndFullCarryNoArgs, "Q-EXC") {
  Ref q = FullQueue();
  for (const Response& r : {q.Call("put_nowait", Json::array({2})),
                            q.Call("put", Json::array({2}), {{"timeout", 0.05}})}) {
    ASSERT_TRUE(RaisesType(r, {"Full"}));
    EXPECT_EQ(r.error.args, Json::array());
    EXPECT_FALSE(r.error.message.has_value()) << *r.error.message;
  }
  Ref e = Create("Queue", "e");
  for (const Response& r : {e.Call("get_nowait"), e.Call("get", Json::array(), {{"timeout", 0.05}}),
                            e.Call("get", Json::array({false}))}) {
    ASSERT_TRUE(RaisesType(r, {"Empty"}));
    EXPECT_EQ(r.error.args, Json::array());
    EXPECT_FALSE(r.error.message.has_value()) << *r.error.message;
  }
}

// ---- put ----

CONFORMANCE_TEST(QueueBasicTest, PutReturnsNoneAndBlocksWhileFull, "Q-PUT") {
  Ref q = Create("Queue", "q", Json::array(), {{"maxsize", 1}});
  Spawn("A");
  EXPECT_TRUE(Returned(q.In("A").Call("put", Json::array({"one"})), None()));
  Driver::Pending put = q.In("A").Start("put", Json::array({"two"}));
  EXPECT_FALSE(put.ArrivesWithin(BlockWindow())) << "put() returned on a full queue";
  EXPECT_TRUE(Returned(q.Call("get", Json::array(), {{"timeout", 5}}), "one"));
  EXPECT_TRUE(Returned(Wait(put), None()));
  EXPECT_TRUE(Returned(q.Call("get", Json::array(), {{"timeout", 5}}), "two"));
}

CONFORMANCE_TEST(QueueBasicTest, NonBlockingPutOnFullQueueRaisesFullAtOnce, "Q-PUT-FULL-NB") {
  Ref q = FullQueue();
  ExpectPutsFailAtOnce(q,
                       {{Json::array({2, false}), Json::object()},
                        {Json::array({2, false, None()}), Json::object()},
                        {Json::array({2}), {{"block", false}, {"timeout", 5}}},
                        {Json::array({2, false, 30}), Json::object()}},
                       "Q-PUT-FULL-NB");
  const TimedResponse t = TimedCall(q, "put_nowait", Json::array({2}));
  EXPECT_TRUE(Raises(t.response, "Q-PUT-FULL-NB"));
  EXPECT_LT(t.seconds, tolerance());
  EXPECT_TRUE(Returned(q.Call("qsize"), 1)) << "a refused put was counted";
}

CONFORMANCE_TEST(QueueBasicTest, PutWithTimeoutOnFullQueueRaisesFullAfterTimeout, "Q-PUT-FULL-TO") {
  Ref q = FullQueue();
  constexpr double kTimeout = 0.2;
  for (const Json& kwargs :
       {Json{{"timeout", kTimeout}}, Json{{"block", true}, {"timeout", 0.2}}}) {
    const TimedResponse t = TimedCall(q, "put", Json::array({2}), kwargs);
    EXPECT_TRUE(Raises(t.response, "Q-PUT-FULL-TO"));
    EXPECT_GE(t.seconds, kTimeout - 0.1) << "Full came before the timeout";
    EXPECT_LT(t.seconds, kTimeout + tolerance()) << "Full came long after the timeout";
  }
}

CONFORMANCE_TEST(QueueBasicTest, ZeroOrNegativePutTimeoutRaisesFullAtOnce, "Q-PUT-ZERO-NEG") {
  Ref q = FullQueue();
  ExpectPutsFailAtOnce(q,
                       {{Json::array({2, true, 0}), Json::object()},
                        {Json::array({2, true, Float(0.0)}), Json::object()},
                        {Json::array({2, true, -1}), Json::object()},
                        {Json::array({2}), {{"timeout", Float(-0.5)}}}},
                       "Q-PUT-ZERO-NEG");
}

CONFORMANCE_TEST(QueueBasicTest, PutAfterCloseRaisesValueError, "Q-PUT-CLOSED") {
  Ref q = Create("Queue", "q");
  q.Ok("put", Json::array({1}));
  EXPECT_TRUE(Succeeded(q.Call("close")));
  EXPECT_TRUE(Raises(q.Call("put", Json::array({2})), "Q-PUT-CLOSED"));
  EXPECT_TRUE(Raises(q.Call("put_nowait", Json::array({2})), "Q-PUT-CLOSED"));
  EXPECT_TRUE(Raises(q.Call("put", Json::array({2, false})), "Q-PUT-CLOSED"));
  // An unused queue too.
  Ref fresh = Create("Queue", "fresh");
  EXPECT_TRUE(Succeeded(fresh.Call("close")));
  EXPECT_TRUE(Raises(fresh.Call("put", Json::array({2}), {{"timeout", 1}}), "Q-PUT-CLOSED"));
}

// ---- get ----

CONFORMANCE_TEST(QueueBasicTest, GetBlocksUntilAnItemArrives, "Q-GET") {
  Ref q = Create("Queue", "q");
  Spawn("A");
  Driver::Pending get = q.In("A").Start("get");
  EXPECT_FALSE(get.ArrivesWithin(BlockWindow())) << "get() returned on an empty queue";
  const Json value = Dict({{"k", Tuple({1, Float(-0.0), Bytes("xyz")})}, {2, None()}});
  q.Ok("put", Json::array({value}));
  EXPECT_TRUE(Returned(Wait(get), value));
  // get(True, None) is the same call spelled out.
  Driver::Pending get2 = q.In("A").Start("get", Json::array({true, None()}));
  EXPECT_FALSE(get2.ArrivesWithin(BlockWindow())) << "get(True, None) returned on an empty queue";
  q.Ok("put", Json::array({"second"}));
  EXPECT_TRUE(Returned(Wait(get2), "second"));
}

CONFORMANCE_TEST(QueueBasicTest, NonBlockingGetOnEmptyQueueRaisesEmptyAtOnce, "Q-GET-EMPTY-NB") {
  Ref q = Create("Queue", "q");
  ExpectGetsFailAtOnce(q,
                       {{Json::array({false}), Json::object()},
                        {Json::array({false, None()}), Json::object()},
                        {Json::array(), {{"block", false}, {"timeout", 5}}},
                        {Json::array({false, 30}), Json::object()}},
                       "Q-GET-EMPTY-NB");
  const TimedResponse t = TimedCall(q, "get_nowait");
  EXPECT_TRUE(Raises(t.response, "Q-GET-EMPTY-NB"));
  EXPECT_LT(t.seconds, tolerance());
}

CONFORMANCE_TEST(QueueBasicTest, GetWithTimeoutRaisesEmptyAfterTimeout, "Q-GET-TO") {
  Ref q = Create("Queue", "q");
  Spawn("A");
  constexpr double kTimeout = 0.2;
  for (const Json& kwargs :
       {Json{{"timeout", kTimeout}}, Json{{"block", true}, {"timeout", 0.2}}}) {
    const TimedResponse t = TimedCall(q.In("A"), "get", Json::array(), kwargs);
    EXPECT_TRUE(Raises(t.response, "Q-GET-TO"));
    EXPECT_GE(t.seconds, kTimeout - 0.1) << "Empty came before the timeout";
    EXPECT_LT(t.seconds, kTimeout + tolerance()) << "Empty came long after the timeout";
  }
}

CONFORMANCE_TEST(QueueBasicTest, ZeroOrNegativeGetTimeoutRaisesEmptyAtOnce, "Q-GET-ZERO-NEG") {
  Ref q = Create("Queue", "q");
  ExpectGetsFailAtOnce(q,
                       {{Json::array({true, 0}), Json::object()},
                        {Json::array({true, Float(0.0)}), Json::object()},
                        {Json::array({true, -1}), Json::object()},
                        {Json::array(), {{"timeout", Float(-0.5)}}}},
                       "Q-GET-ZERO-NEG");
}

CONFORMANCE_TEST(QueueBasicTest, GetAfterCloseRaisesValueErrorEvenWithItemsLeft, "Q-GET-CLOSED") {
  Ref q = Create("Queue", "q");
  Spawn("A");
  q.In("A").Ok("put", Json::array({1}));
  q.In("A").Ok("put", Json::array({2}));
  ASSERT_EQ(Exit("A"), 0) << "the producer did not exit";  // its feeder flushed both items
  ASSERT_TRUE(WaitUntilNotEmpty(q, 5)) << "the items never reached the queue";
  EXPECT_TRUE(Succeeded(q.Call("close")));
  EXPECT_TRUE(Raises(q.Call("get"), "Q-GET-CLOSED"));
  EXPECT_TRUE(Raises(q.Call("get_nowait"), "Q-GET-CLOSED"));
  EXPECT_TRUE(Raises(q.Call("get", Json::array({false})), "Q-GET-CLOSED"));
  EXPECT_TRUE(Raises(q.Call("get", Json::array({true, 0.1})), "Q-GET-CLOSED"));
}

// ---- get right after put, qsize, empty, full ----

CONFORMANCE_TEST(QueueBasicTest, ItemIsGettableOnceEmptyIsFalse, "Q-GET-AFTER-PUT") {
  Ref q = Create("Queue", "q");
  Spawn("A");
  const Ref qa = q.In("A");
  for (int round = 0; round < 5; ++round) {
    qa.Ok("put", Json::array({round}));
    // Straight after put() the item may not be readable yet: Empty and the item are both fine.
    Response early = qa.Call("get_nowait");
    if (early.ok) {
      EXPECT_EQ(early.result, round);
      continue;
    }
    ASSERT_TRUE(RaisesType(early, {"Empty"}));
    // With one consumer, once empty() is False the item must be there for get_nowait().
    ASSERT_TRUE(WaitUntilNotEmpty(qa, 5)) << "the item never became readable";
    EXPECT_TRUE(Returned(qa.Call("get_nowait"), round));
  }
  EXPECT_TRUE(RaisesType(qa.Call("get_nowait"), {"Empty"}));
}

CONFORMANCE_TEST(QueueBasicTest, QsizeCountsItemsAtPutTime, "Q-QSIZE") {
  Ref q = Create("Queue", "q");
  Spawn("A");
  EXPECT_TRUE(Returned(q.Call("qsize"), 0));
  for (int i = 1; i <= 3; ++i) {
    q.In("A").Ok("put", Json::array({i}));
    // Counted when put() returns, whether or not the feeder has written the item yet.
    EXPECT_TRUE(Returned(q.In("A").Call("qsize"), i));
    EXPECT_TRUE(Returned(q.Call("qsize"), i));
  }
  EXPECT_TRUE(Returned(q.Call("get", Json::array(), {{"timeout", 5}}), 1));
  EXPECT_TRUE(Returned(q.Call("qsize"), 2));
  EXPECT_TRUE(Returned(q.In("A").Call("qsize"), 2));
  EXPECT_TRUE(Returned(q.In("A").Call("get", Json::array(), {{"timeout", 5}}), 2));
  EXPECT_TRUE(Returned(q.Call("get", Json::array(), {{"timeout", 5}}), 3));
  EXPECT_TRUE(Returned(q.Call("qsize"), 0));
}

CONFORMANCE_TEST(QueueBasicTest, EmptyReflectsReadableData, "Q-EMPTY") {
  Ref q = Create("Queue", "q");
  Spawn("A");
  Spawn("B");
  EXPECT_TRUE(Returned(q.Call("empty"), true));
  EXPECT_TRUE(Returned(q.In("B").Call("empty"), true));
  q.In("A").Ok("put", Json::array({"x"}));
  ASSERT_EQ(Exit("A"), 0);  // the producer's exit flushes the item into the transport
  // Data is readable: every process sees it, without anyone having taken it.
  EXPECT_TRUE(WaitUntilNotEmpty(q, 5));
  EXPECT_TRUE(Returned(q.In("B").Call("empty"), false));
  EXPECT_TRUE(Returned(q.Call("empty"), false)) << "empty() changed without a get()";
  EXPECT_TRUE(Returned(q.In("B").Call("get", Json::array(), {{"timeout", 5}}), "x"));
  EXPECT_TRUE(Returned(q.Call("empty"), true));
  EXPECT_TRUE(Returned(q.In("B").Call("empty"), true));
}

CONFORMANCE_TEST(QueueBasicTest, FullWhenCountReachesMaxsize, "Q-FULL") {
  Ref q = Create("Queue", "q", Json::array({2}));
  Spawn("A");
  EXPECT_TRUE(Returned(q.Call("full"), false));
  q.Ok("put", Json::array({1}));
  EXPECT_TRUE(Returned(q.Call("full"), false));
  q.Ok("put", Json::array({2}));
  // Counted at put(): full at once, in this process and in another.
  EXPECT_TRUE(Returned(q.Call("full"), true));
  EXPECT_TRUE(Returned(q.In("A").Call("full"), true));
  EXPECT_TRUE(Returned(q.In("A").Call("get", Json::array(), {{"timeout", 5}}), 1));
  EXPECT_TRUE(Returned(q.Call("full"), false));
  EXPECT_TRUE(Returned(q.In("A").Call("full"), false));
  // An unbounded queue is not full after many items.
  Ref u = Create("Queue", "u");
  for (int i = 0; i < 50; ++i) u.Ok("put_nowait", Json::array({i}));
  EXPECT_TRUE(Returned(u.Call("full"), false));
}

}  // namespace
}  // namespace mpipc::conformance
