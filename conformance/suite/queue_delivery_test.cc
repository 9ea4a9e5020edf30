// Queue (semantics.md §1.J): delivery between processes and threads — order per producer,
// interleaving across producers, exactly-once, whole items, large items, the asynchronous put,
// what happens to items that cannot be pickled or unpickled, and sharing only by inheritance.
// These are small deterministic examples; the randomised concurrent histories are checked
// elsewhere (joinable_/history_ files).
#include <algorithm>
#include <map>
#include <set>

#include "fixture.h"
#include "queue_steps.h"

namespace mpipc::conformance {
namespace {

class QueueDeliveryTest : public ConformanceTest {
 protected:
  // Waits for every pending request and returns the responses, in the order given.
  std::vector<Response> WaitAll(const std::vector<Driver::Pending>& pending) {
    std::vector<Response> out;
    out.reserve(pending.size());
    for (const auto& p : pending) out.push_back(Wait(p));
    return out;
  }
  // Producers `actors` put (actor, i) for i in [0, n): in each round one put per producer is in
  // flight at the same time. Every put must succeed.
  void ProduceRounds(const Ref& q, const std::vector<std::string>& actors, int n) {
    for (int i = 0; i < n; ++i) {
      std::vector<Driver::Pending> puts;
      puts.reserve(actors.size());
      for (const auto& a : actors) {
        puts.push_back(q.In(a).Start("put", Json::array({Tuple({a, i})})));
      }
      for (const Response& r : WaitAll(puts)) ASSERT_TRUE(Succeeded(r));
    }
  }
  // Checks that `items` holds (actor, i) for every actor and i in [0, n) exactly once; if
  // `ordered`, each producer's items appear in put order.
  static void ExpectEachOnce(const std::vector<Json>& items, const std::vector<std::string>& actors,
                             int n, bool ordered) {
    std::map<std::string, std::vector<int64_t>> seen;
    for (const Json& item : items) {
      std::vector<Json> parts;
      ASSERT_NO_THROW(parts = AsTuple(item)) << item.dump();
      ASSERT_EQ(parts.size(), 2u) << item.dump();
      seen[parts[0].get<std::string>()].push_back(parts[1].get<int64_t>());
    }
    for (const auto& a : actors) {
      std::vector<int64_t> got = seen[a];
      if (!ordered) std::sort(got.begin(), got.end());
      std::vector<int64_t> want(static_cast<size_t>(n));
      for (int i = 0; i < n; ++i) want[static_cast<size_t>(i)] = i;
      EXPECT_EQ(got, want) << "items of producer " << a;
    }
    EXPECT_EQ(items.size(), actors.size() * static_cast<size_t>(n));
  }
};

CONFORMANCE_TEST(QueueDeliveryTest, ConcurrentThreadsAndProcessesShareOneQueue, "Q-SAFE") {
  Ref q = Create("Queue", "q", Json::array({8}));
  Spawn("A");
  Spawn("B");
  Spawn("C");
  // 3 threads in each of A and B put, while 4 threads in each of C and main get, all at once
  // on a small bounded queue.
  std::vector<Driver::Pending> puts;
  std::vector<Driver::Pending> gets;
  std::vector<Json> sent;
  for (const std::string a : {"A", "B"}) {
    for (int t = 0; t < 3; ++t) {
      for (int i = 0; i < 4; ++i) {
        // Each put is its own request, so its own thread; 4 per (actor, thread) label.
        sent.push_back(Tuple({a, t * 4 + i}));
        puts.push_back(q.In(a).Start("put", Json::array({sent.back()}), {{"timeout", 10}}));
      }
    }
  }
  for (int i = 0; i < 12; ++i) {
    gets.push_back(q.In("C").Start("get", Json::array(), {{"timeout", 10}}));
    gets.push_back(q.Start("get", Json::array(), {{"timeout", 10}}));
  }
  for (const Response& r : WaitAll(puts)) EXPECT_TRUE(Succeeded(r));
  std::vector<Json> got;
  for (const Response& r : WaitAll(gets)) {
    EXPECT_TRUE(Succeeded(r));
    if (r.ok) got.push_back(r.result);
  }
  auto order = [](const Json& x, const Json& y) { return x.dump() < y.dump(); };
  std::sort(sent.begin(), sent.end(), order);
  std::sort(got.begin(), got.end(), order);
  EXPECT_EQ(got, sent);
  EXPECT_TRUE(Returned(q.Call("qsize"), 0));
}

CONFORMANCE_TEST(QueueDeliveryTest, EachProducersItemsArriveInPutOrder, "Q-FIFO-PRODUCER") {
  Ref q = Create("Queue", "q");
  Spawn("A");
  Spawn("B");
  // Each put request runs on a thread of its own in the producer, so successive items of one
  // producer come from different threads of that process.
  ProduceRounds(q, {"A", "B"}, 20);
  const Drained d = Drain(q, 40, 5);
  ASSERT_FALSE(d.error) << d.error->ToString() << " after " << d.items.size() << " items";
  ExpectEachOnce(d.items, {"A", "B"}, 20, /*ordered=*/true);
}

CONFORMANCE_TEST(QueueDeliveryTest, ProducersInterleaveFlushedItemsComeFirst, "Q-MULTI-PRODUCER") {
  Ref q = Create("Queue", "q");
  // An item the parent put before starting the child arrives in either order, unless it was
  // flushed before the child started.
  q.Ok("put", Json::array({"unflushed"}));
  Spawn("A");
  q.In("A").Ok("put", Json::array({"child-a"}));
  Drained d = Drain(q, 2, 5);
  ASSERT_FALSE(d.error) << d.error->ToString();
  std::set<Json> both(d.items.begin(), d.items.end());
  EXPECT_EQ(both, (std::set<Json>{"unflushed", "child-a"}));
  q.Ok("put", Json::array({"flushed"}));
  ASSERT_TRUE(WaitUntilNotEmpty(q, 5));
  Spawn("B");
  q.In("B").Ok("put", Json::array({"child-b"}));
  d = Drain(q, 2, 5);
  ASSERT_FALSE(d.error) << d.error->ToString();
  EXPECT_EQ(d.items, (std::vector<Json>{"flushed", "child-b"}));
  // Two producers at once: any interleaving, each item once.
  ProduceRounds(q, {"A", "B"}, 10);
  d = Drain(q, 20, 5);
  ASSERT_FALSE(d.error) << d.error->ToString();
  ExpectEachOnce(d.items, {"A", "B"}, 10, /*ordered=*/false);
}

CONFORMANCE_TEST(QueueDeliveryTest, EveryItemReachesExactlyOneConsumer, "Q-EXACTLY-ONCE") {
  Ref q = Create("Queue", "q", Json::array({5}));
  for (const char* a : {"A", "B", "C", "D"}) Spawn(a);
  // Two producers and two consumers run at once, round by round.
  std::vector<Json> got;
  for (int i = 0; i < 20; ++i) {
    const std::vector<Driver::Pending> calls = {
        q.In("A").Start("put", Json::array({Tuple({"A", i})}), {{"timeout", 10}}),
        q.In("B").Start("put", Json::array({Tuple({"B", i})}), {{"timeout", 10}}),
        q.In("C").Start("get", Json::array(), {{"timeout", 10}}),
        q.In("D").Start("get", Json::array(), {{"timeout", 10}})};
    for (const Response& r : WaitAll(calls)) {
      ASSERT_TRUE(Succeeded(r));
      if (!r.result.is_null()) got.push_back(r.result);
    }
  }
  ExpectEachOnce(got, {"A", "B"}, 20, /*ordered=*/false);
  EXPECT_TRUE(RaisesType(q.In("C").Call("get", Json::array(), {{"timeout", 0.2}}), {"Empty"}))
      << "an item was delivered twice";
}

CONFORMANCE_TEST(QueueDeliveryTest, ConcurrentLargeItemsNeverMix, "Q-ATOMIC") {
  Ref q = Create("Queue", "q");
  for (const char* a : {"A", "B", "C"}) Spawn(a);
  // Items well above the pipe's atomic write size, written by two processes at once.
  constexpr size_t kSize = size_t{70} << 10;
  std::vector<Json> sent;
  std::vector<Driver::Pending> calls;
  for (unsigned i = 0; i < 3; ++i) {
    for (const std::string a : {"A", "B"}) {
      sent.push_back(PatternBytes(kSize, (a == "A" ? 10 : 20) + i));
      calls.push_back(q.In(a).Start("put", Json::array({sent.back()})));
    }
  }
  for (int i = 0; i < 3; ++i) {
    calls.push_back(q.In("C").Start("get", Json::array(), {{"timeout", 10}}));
    calls.push_back(q.Start("get", Json::array(), {{"timeout", 10}}));
  }
  const std::vector<Response> rs = WaitAll(calls);
  std::multiset<std::string> want;
  for (const Json& s : sent) want.insert(AsBytes(s));
  std::multiset<std::string> got;
  for (size_t i = 0; i < rs.size(); ++i) {
    ASSERT_TRUE(Succeeded(rs[i])) << "request " << i;
    if (i >= sent.size()) {
      ASSERT_TRUE(IsBytes(rs[i].result));
      got.insert(AsBytes(rs[i].result));
    }
  }
  EXPECT_TRUE(got == want) << "a received item is not one of the items sent, whole";
}

CONFORMANCE_TEST(QueueDeliveryTest, ManyMegabyteItemArrivesWhole, "Q-LARGE") {
  Ref q = Create("Queue", "q");
  Spawn("A");
  // 3 MiB: far beyond a 64 KiB pipe, and beyond half of the reference's 4 MiB ring (streamed).
  const Json big = PatternBytes(size_t{3} << 20, 5);
  Driver::Pending get = q.Start("get", Json::array(), {{"timeout", 20}});
  EXPECT_TRUE(Succeeded(q.In("A").Call("put", Json::array({big}))));
  EXPECT_TRUE(ReturnedBytes(Wait(get), big));
}

CONFORMANCE_TEST(QueueDeliveryTest, PutReturnsBeforeTheItemIsWritten, "Q-PUT-ASYNC") {
  Ref q = Create("Queue", "q");
  Spawn("A");
  // No one reads, and the items exceed what a pipe holds: a put() that wrote its item itself
  // could not return. (Waiting for the response, not timing it: the request carries the item.)
  std::vector<Json> sent;
  for (unsigned i = 0; i < 3; ++i) {
    sent.push_back(PatternBytes(size_t{128} << 10, i));
    EXPECT_TRUE(Returned(q.In("A").Call("put", Json::array({sent.back()})), None()));
  }
  // A thread of the producer writes them later, in order, while its requests are idle.
  for (const Json& s : sent) {
    EXPECT_TRUE(ReturnedBytes(q.Call("get", Json::array(), {{"timeout", 10}}), s));
  }
}

CONFORMANCE_TEST(QueueDeliveryTest, UnpicklableItemIsDroppedAndLaterItemsFlow,
                 "Q-PUT-UNPICKLABLE") {
  Ref q = Create("Queue", "q", Json::array({1}));
  Spawn("A");
  const Response put = q.In("A").Call("put", Json::array({Function("square")}));
  ASSERT_TRUE(Returned(put, None())) << "put() of a function raised";
  if (session().FunctionsTravel("queue")) {
    // The target claims functions travel: check the claim, then the clause cannot be asked.
    Response got = q.CallBind("get", "f", Json::array(), {{"timeout", 5}});
    ASSERT_TRUE(Succeeded(got));
    EXPECT_TRUE(IsFunction(got.result)) << got.result.dump();
    EXPECT_TRUE(Returned(ApplyBound("f", Json::array({3})), 9));
    if (!HasFailure()) {
      MarkSkip(
          "functions travel through this target's queues: nothing in protocol 1 is unpicklable");
      GTEST_SKIP();
    }
    return;
  }
  // The slot of the dropped item is given back, so a put into this Queue(1) succeeds...
  EXPECT_TRUE(Succeeded(q.In("A").Call("put", Json::array({2}), {{"timeout", 1 + tolerance()}})));
  // ...and the next item is delivered, not the function.
  EXPECT_TRUE(Returned(q.Call("get", Json::array(), {{"timeout", 5}}), 2));
  EXPECT_TRUE(Returned(q.Call("qsize"), 0));
}

CONFORMANCE_TEST(QueueDeliveryTest, ItemThatFailsToRebuildIsConsumed, "Q-GET-UNPICKLE-ERR") {
  // Protocol 1 cannot put garbage bytes into a queue. The closest observable failure: a
  // Connection put by a process that has since exited cannot be rebuilt by the consumer (its
  // descriptor was to be handed over by the dead process). The failure must propagate from
  // get(), consume that item, and leave the next one deliverable.
  Ref q = Create("Queue", "q");
  CreatePipe("a", "b");
  Spawn("A");
  q.In("A").Ok("put", Json::array({Handle("a")}));
  q.In("A").Ok("put", Json::array({"next"}));
  ASSERT_EQ(Exit("A", 0, 5), 0);
  const Response bad = q.Call("get", Json::array(), {{"timeout", 5}});
  EXPECT_TRUE(RaisesType(bad, {"UnpicklingError", "OSError", "EOFError"}));
  EXPECT_TRUE(Returned(q.Call("get", Json::array(), {{"timeout", 5}}), "next"));
  EXPECT_TRUE(Returned(q.Call("qsize"), 0));
}

CONFORMANCE_TEST(QueueDeliveryTest, QueuesCannotBeSentThroughAConnection, "Q-SHARE") {
  CreatePipe("a", "b");
  for (const std::string kind : {"Queue", "JoinableQueue", "SimpleQueue"}) {
    Ref q = Create(kind, "q");
    const Response r = At("a").Call("send", Json::array({q.handle()}));
    EXPECT_TRUE(Raises(r, "Q-SHARE")) << kind;
    if (!r.ok && r.error.message) {
      EXPECT_EQ(r.error.message->rfind(kind + " objects", 0), 0u) << "names another class";
    }
  }
  EXPECT_TRUE(Returned(At("b").Call("poll"), false)) << "something was sent";
}

CONFORMANCE_TEST(QueueDeliveryTest, MixingStartMethodContexts, "Q-CTX-MIX") {
  MarkSkip("driver protocol 1 starts every actor by fork: no spawn/forkserver process to mix with");
  GTEST_SKIP();
}

CONFORMANCE_TEST(QueueDeliveryTest, ChangesAfterPutReachTheConsumer, "Q-PUT-LATE-PICKLE") {
  MarkSkip("driver protocol 1 has no operation that mutates a value after put()");
  GTEST_SKIP();
}

CONFORMANCE_TEST(QueueDeliveryTest, QueueClassSubscription, "Q-GENERIC") {
  MarkSkip("driver protocol 1 cannot subscript a class (Queue[int])");
  GTEST_SKIP();
}

}  // namespace
}  // namespace mpipc::conformance
