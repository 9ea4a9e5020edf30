// Queue (semantics.md §1.J): what a producer or consumer that dies at the wrong moment leaves
// behind. CPython leaves a held read lock or a truncated item, and its get(timeout) bounds only
// the wait for the first byte, so the other readers time out or hang (the suite watches a hang
// for a bounded window; close_all then kills the hung actor). Every call that could hang runs
// in a spawned actor, never in main.
#include "fixture.h"
#include "queue_steps.h"

namespace mpipc::conformance {
namespace {

class QueueKillTest : public ConformanceTest {
 protected:
  static constexpr double kGetTimeout = 0.2;

  // How long a get(timeout=kGetTimeout) must stay unanswered to count as hung.
  double HangWindow() { return kGetTimeout + tolerance() + BlockWindow(); }

  // Actor `producer` starts writing an item twice what a pipe holds; once its first bytes are
  // readable (nobody reads them), `end_producer` ends the producer mid-item. (An implementation
  // whose transport holds the whole item delivers it, and fails the hang checks below, as it
  // does when it recovers from the dead producer.)
  template <typename EndProducer>
  void LeaveTruncatedItem(const Ref& q, const std::string& producer, EndProducer end_producer) {
    q.In(producer).Ok("put", Json::array({PatternBytes(size_t{128} << 10, 3)}));
    ASSERT_TRUE(WaitUntilNotEmpty(q, 5)) << "the item never began to arrive";
    end_producer();
  }
};

CONFORMANCE_TEST(QueueKillTest, ConsumerKilledInGetKeepsTheReadLock, "Q-KILL") {
  // Nothing in the protocol shows that the consumer's get() has taken the read lock before the
  // kill; it is inferred from get() still blocking after a window. If another reader then gets
  // past, the consumer may simply not have reached the lock yet (a very loaded machine), so the
  // scenario is repeated once with a much longer window before concluding.
  Ref q = Create("Queue", "q");
  Spawn("B");
  const double windows[] = {BlockWindow(), 1.0 + tolerance()};
  Response last;
  for (int attempt = 0; attempt < 2; ++attempt) {
    const std::string consumer = "A" + std::to_string(attempt);
    Spawn(consumer);
    Driver::Pending get = q.In(consumer).Start("get");
    ASSERT_FALSE(get.ArrivesWithin(windows[attempt])) << "get() returned on an empty queue";
    EXPECT_EQ(Kill(consumer), -9);
    q.Ok("put", Json::array({"x"}));
    ASSERT_TRUE(WaitUntilNotEmpty(q, 5)) << "the item never reached the queue";
    // The item is there, but the dead consumer still holds the read lock.
    EXPECT_TRUE(Returned(q.In("B").Call("qsize"), 1));
    EXPECT_TRUE(Returned(q.In("B").Call("empty"), false));
    last = TimedCall(q.In("B"), "get", Json::array(), {{"timeout", kGetTimeout}}).response;
    if (!last.ok) break;
  }
  EXPECT_TRUE(RaisesType(last, {"Empty"})) << "another reader got past the dead one's lock";
}

CONFORMANCE_TEST(QueueKillTest, ProducerKilledMidItemHangsReaders, "Q-KILL Q-GET-TO-SCOPE") {
  Ref q = Create("Queue", "q");
  Spawn("A");
  Spawn("B");
  // With no data at all the timeout holds...
  const TimedResponse t = TimedCall(q.In("B"), "get", Json::array(), {{"timeout", kGetTimeout}});
  EXPECT_TRUE(RaisesType(t.response, {"Empty"}));
  EXPECT_LT(t.seconds, kGetTimeout + tolerance());
  // ...but once an item has begun, get() reads it to the end, whatever the timeout.
  LeaveTruncatedItem(q, "A", [this] { EXPECT_EQ(Kill("A"), -9); });
  if (HasFatalFailure()) return;
  Driver::Pending get = q.In("B").Start("get", Json::array(), {{"timeout", kGetTimeout}});
  EXPECT_FALSE(get.ArrivesWithin(HangWindow()))
      << "get(timeout) answered after a producer died mid-item";
}

CONFORMANCE_TEST(QueueKillTest, ExitAfterCancelJoinThreadCanLeaveAPartialItem,
                 "Q-CANCEL-JOIN.partial-hang") {
  Ref q = Create("Queue", "q");
  Spawn("A");
  Spawn("B");
  q.In("A").Ok("cancel_join_thread");
  LeaveTruncatedItem(q, "A", [this] { EXPECT_EQ(Exit("A", 0, 5), 0) << "did not exit"; });
  if (HasFatalFailure()) return;
  Driver::Pending get = q.In("B").Start("get", Json::array(), {{"timeout", kGetTimeout}});
  EXPECT_FALSE(get.ArrivesWithin(HangWindow()))
      << "get(timeout) answered although a partial item is in the queue";
}

}  // namespace
}  // namespace mpipc::conformance
