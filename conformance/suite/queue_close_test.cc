// Queue (semantics.md §1.J): close(), what still works after it, join_thread() and
// cancel_join_thread(), the flush every producer does at exit, and the empty buffer of a forked
// child.
#include "fixture.h"
#include "queue_steps.h"

namespace mpipc::conformance {
namespace {

class QueueCloseTest : public ConformanceTest {
 protected:
  // A value that the target's transport cannot hold whole (see LargerThanTransport).
  Json BigItem() { return PatternBytes(LargerThanTransport(*this), 7); }
};

CONFORMANCE_TEST(QueueCloseTest, CloseFlushesThenRefusesAndCanBeRepeated, "Q-CLOSE") {
  Ref q = Create("Queue", "q");
  Spawn("A");
  Spawn("B");
  const Ref qa = q.In("A");
  for (int i = 1; i <= 3; ++i) qa.Ok("put", Json::array({i}));
  EXPECT_TRUE(Succeeded(qa.Call("close")));
  EXPECT_TRUE(Succeeded(qa.Call("close"))) << "a second close() failed";
  EXPECT_TRUE(RaisesType(qa.Call("put", Json::array({4})), {"ValueError"}));
  EXPECT_TRUE(RaisesType(qa.Call("get", Json::array(), {{"timeout", 0.1}}), {"ValueError"}));
  // The items buffered before close() are flushed (join_thread waits for that), and the queue
  // still works in the other processes.
  EXPECT_TRUE(Succeeded(qa.Call("join_thread")));
  const Drained d = Drain(q, 3, 5);
  ASSERT_FALSE(d.error) << d.error->ToString();
  EXPECT_EQ(d.items, (std::vector<Json>{1, 2, 3}));
  q.In("B").Ok("put", Json::array({5}));
  EXPECT_TRUE(Returned(q.Call("get", Json::array(), {{"timeout", 5}}), 5));
  // A process that never put (main only got) has no feeder: close() closes no descriptor, and
  // its reader still answers.
  EXPECT_TRUE(Succeeded(q.Call("close")));
  EXPECT_TRUE(Returned(q.Call("empty"), true));
}

CONFORMANCE_TEST(QueueCloseTest, UnusedClosedQueueIsEmptyAndJoinsAtOnce, "Q-CLOSE-EMPTY.unused") {
  Ref q = Create("Queue", "q");
  ASSERT_TRUE(Succeeded(q.Call("close")));
  EXPECT_TRUE(Returned(q.Call("empty"), true));
  const TimedResponse t = TimedCall(q, "join_thread");
  EXPECT_TRUE(Returned(t.response, None()));
  EXPECT_LT(t.seconds, tolerance());
}

CONFORMANCE_TEST(QueueCloseTest, EmptyRaisesAfterCloseAndJoinThreadOfUsedQueue,
                 "Q-CLOSE-EMPTY.used-after-join") {
  Ref q = Create("Queue", "q");
  Spawn("A");
  const Ref qa = q.In("A");
  qa.Ok("put", Json::array({1}));
  qa.Ok("close");
  qa.Ok("join_thread");
  EXPECT_TRUE(Raises(qa.Call("empty"), "Q-CLOSE-EMPTY.used-after-join"));
}

CONFORMANCE_TEST(QueueCloseTest, EmptyBetweenCloseAndFeederExitAnswersOrRaises,
                 "Q-CLOSE-EMPTY.window") {
  Ref q = Create("Queue", "q");
  Spawn("A");
  const Ref qa = q.In("A");
  qa.Ok("put", Json::array({1}));
  qa.Ok("close");
  // Either answer is allowed, depending on whether the feeder has closed the reader yet; any
  // other outcome is not.
  const Response r = qa.Call("empty");
  if (r.ok) {
    EXPECT_TRUE(r.result.is_boolean()) << r.result.dump();
  } else {
    EXPECT_TRUE(Raises(r, "Q-CLOSE-EMPTY.used-after-join"))
        << "neither a bool nor the closed error";
  }
}

CONFORMANCE_TEST(QueueCloseTest, QsizeAndFullStillAnswerAfterClose, "Q-CLOSE-EMPTY.qsize-full") {
  Ref q = Create("Queue", "q", Json::array(), {{"maxsize", 2}});
  Spawn("A");
  const Ref qa = q.In("A");
  qa.Ok("put", Json::array({1}));
  qa.Ok("put", Json::array({2}));
  qa.Ok("close");
  qa.Ok("join_thread");
  EXPECT_TRUE(Returned(qa.Call("qsize"), 2));
  EXPECT_TRUE(Returned(qa.Call("full"), true));
  ASSERT_TRUE(Succeeded(q.Call("close")));
  EXPECT_TRUE(Returned(q.Call("qsize"), 2));
  EXPECT_TRUE(Returned(q.Call("full"), true));
}

CONFORMANCE_TEST(QueueCloseTest, JoinThreadBeforeCloseIsAssertionError, "Q-JOIN-THREAD-PRE") {
  Ref q = Create("Queue", "q");
  Spawn("A");
  EXPECT_TRUE(Raises(q.Call("join_thread"), "Q-JOIN-THREAD-PRE")) << "unused queue";
  q.In("A").Ok("put", Json::array({1}));
  EXPECT_TRUE(Raises(q.In("A").Call("join_thread"), "Q-JOIN-THREAD-PRE")) << "queue with a feeder";
}

CONFORMANCE_TEST(QueueCloseTest, JoinThreadWaitsUntilBufferedItemsAreWritten, "Q-JOIN-THREAD") {
  Ref q = Create("Queue", "q");
  Spawn("A");
  // No feeder: nothing to wait for.
  Ref idle = Create("Queue", "idle");
  ASSERT_TRUE(Succeeded(idle.Call("close")));
  const TimedResponse t = TimedCall(idle, "join_thread");
  EXPECT_TRUE(Returned(t.response, None()));
  EXPECT_LT(t.seconds, tolerance());
  // An item nobody reads cannot be written whole: join_thread waits for a reader.
  const Json big = BigItem();
  const Ref qa = q.In("A");
  qa.Ok("put", Json::array({big}));
  qa.Ok("close");
  Driver::Pending join = qa.Start("join_thread");
  EXPECT_FALSE(join.ArrivesWithin(BlockWindow())) << "join_thread() returned before the flush";
  EXPECT_TRUE(ReturnedBytes(q.Call("get", Json::array(), {{"timeout", 10}}), big));
  EXPECT_TRUE(Returned(Wait(join), None()));
}

CONFORMANCE_TEST(QueueCloseTest, CancelJoinThreadMakesJoinAndExitReturnAtOnce, "Q-CANCEL-JOIN") {
  Ref q = Create("Queue", "q");
  Spawn("A");
  const Ref qa = q.In("A");
  EXPECT_TRUE(Succeeded(qa.Call("cancel_join_thread"))) << "before any put";
  qa.Ok("put", Json::array({BigItem()}));
  EXPECT_TRUE(Succeeded(qa.Call("cancel_join_thread"))) << "again, after a put";
  qa.Ok("close");
  const TimedResponse t = TimedCall(qa, "join_thread");
  EXPECT_TRUE(Returned(t.response, None()));
  EXPECT_LT(t.seconds, tolerance()) << "join_thread() waited after cancel_join_thread()";
  // Nobody read the item, yet the process exits: the exit-time join is gone too.
  EXPECT_EQ(Exit("A", 0, 5), 0) << "the producer did not exit after cancel_join_thread()";
}

CONFORMANCE_TEST(QueueCloseTest, ExitWaitsForTheFeederToFlush, "Q-EXIT-FLUSH") {
  Ref q = Create("Queue", "q");
  Spawn("A");
  Spawn("B");
  // Small items: the exit flushes them, none is lost.
  for (int i = 0; i < 5; ++i) q.In("A").Ok("put", Json::array({i}));
  ASSERT_EQ(Exit("A", 0, 5), 0);
  const Drained d = Drain(q, 5, 5);
  ASSERT_FALSE(d.error) << d.error->ToString();
  EXPECT_EQ(d.items, (std::vector<Json>{0, 1, 2, 3, 4}));
  // An item no one reads blocks the exit until a consumer takes it.
  const Json big = BigItem();
  q.In("B").Ok("put", Json::array({big}));
  EXPECT_EQ(Exit("B", 0, BlockWindow()), std::nullopt) << "exited without flushing its item";
  EXPECT_TRUE(ReturnedBytes(q.Call("get", Json::array(), {{"timeout", 10}}), big));
  EXPECT_EQ(JoinActor(*this, "B", 10), 0) << "did not exit once its item was read";
}

CONFORMANCE_TEST(QueueCloseTest, ForkedChildDoesNotDuplicateParentBuffer, "Q-FORK") {
  Ref q = Create("Queue", "q");
  constexpr int kItems = 50;
  for (int i = 0; i < kItems; ++i) q.Ok("put_nowait", Json::array({i}));
  Spawn("A");  // forked while some of main's items may still be buffered
  q.In("A").Ok("put", Json::array({"child"}));
  ASSERT_EQ(Exit("A", 0, 5), 0) << "the child's exit flush hung";
  const Drained d = Drain(q, kItems + 1, 5);
  ASSERT_FALSE(d.error) << d.error->ToString() << " after " << d.items.size() << " items";
  std::vector<Json> mains;
  int children = 0;
  for (const Json& item : d.items) {
    if (item == "child") {
      ++children;
    } else {
      mains.push_back(item);
    }
  }
  EXPECT_EQ(children, 1);
  std::vector<Json> expected(kItems);
  for (int i = 0; i < kItems; ++i) expected[static_cast<size_t>(i)] = i;
  EXPECT_EQ(mains, expected) << "main's items lost, reordered or duplicated";
  EXPECT_TRUE(RaisesType(q.Call("get", Json::array(), {{"timeout", 0.2}}), {"Empty"}))
      << "an extra item arrived";
}

}  // namespace
}  // namespace mpipc::conformance
