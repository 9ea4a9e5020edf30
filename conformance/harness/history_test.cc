// Unit tests of the history checker on synthetic histories: a clean run passes, and each defect
// class (lost, gap, duplicated, unexpected, order) is detected and nothing else is reported.
#include "history.h"

#include <gtest/gtest.h>

namespace mpipc::conformance::history {
namespace {

// Two producers of three items each, all acknowledged.
std::vector<PutEvent> TwoProducers(int64_t n = 3) {
  std::vector<PutEvent> puts;
  for (int64_t p = 0; p < 2; ++p) {
    for (int64_t s = 0; s < n; ++s) puts.push_back({{p, s}, PutStatus::kAcknowledged});
  }
  return puts;
}

GetEvent Got(const std::string& consumer, int64_t p, int64_t s) {
  return {consumer, ItemValue({p, s})};
}

// Every item got once, interleaved across two consumers, each in producer order.
std::vector<GetEvent> CleanGets() {
  return {Got("A", 0, 0), Got("B", 1, 0), Got("A", 1, 1),
          Got("B", 0, 1), Got("A", 0, 2), Got("B", 1, 2)};
}

TEST(HistoryTest, ItemValueRoundTrips) {
  const Item i{3, 41};
  EXPECT_EQ(ParseItem(ItemValue(i)), i);
  EXPECT_EQ(ParseItem(Json::array({3, 41})), std::nullopt);
  EXPECT_EQ(ParseItem(Json{{"$tuple", Json::array({3})}}), std::nullopt);
  EXPECT_EQ(ParseItem(Json{{"$tuple", Json::array({3, "x"})}}), std::nullopt);
}

TEST(HistoryTest, CleanHistoryPasses) {
  const Report r = Check(TwoProducers(), CleanGets());
  EXPECT_TRUE(r.ok()) << r.Summary();
  EXPECT_EQ(r.attempted, 6);
  EXPECT_EQ(r.acknowledged, 6);
  EXPECT_EQ(r.received, 6);
  EXPECT_EQ(r.distinct, 6);
}

TEST(HistoryTest, LostItemIsReportedOnlyForADrainedQueue) {
  std::vector<GetEvent> gets = CleanGets();
  gets.erase(gets.begin() + 3);  // (0, 1) never got
  Report r = Check(TwoProducers(), gets);
  ASSERT_EQ(r.lost.size(), 1u) << r.Summary();
  EXPECT_EQ(r.lost[0], (Item{0, 1}));
  EXPECT_TRUE(r.gaps.empty() && r.duplicated.empty() && r.unexpected.empty() && r.order.empty());
  EXPECT_NE(r.Summary().find("lost"), std::string::npos);

  CheckOptions live;
  live.drained = false;
  EXPECT_TRUE(Check(TwoProducers(), gets, live).ok());
}

TEST(HistoryTest, IndeterminateAndFailedPutsAreNotLost) {
  std::vector<PutEvent> puts = TwoProducers();
  puts.push_back({{0, 3}, PutStatus::kIndeterminate});
  puts.push_back({{1, 3}, PutStatus::kFailed});
  EXPECT_TRUE(Check(puts, CleanGets()).ok());
  // An indeterminate put may also arrive.
  std::vector<GetEvent> gets = CleanGets();
  gets.push_back(Got("A", 0, 3));
  EXPECT_TRUE(Check(puts, gets).ok()) << Check(puts, gets).Summary();
}

TEST(HistoryTest, FailedPutThatArrivesIsUnexpected) {
  std::vector<PutEvent> puts = TwoProducers();
  puts.push_back({{1, 3}, PutStatus::kFailed});
  std::vector<GetEvent> gets = CleanGets();
  gets.push_back(Got("B", 1, 3));
  const Report r = Check(puts, gets);
  ASSERT_EQ(r.unexpected.size(), 1u);
  EXPECT_TRUE(r.lost.empty() && r.duplicated.empty() && r.order.empty());
}

TEST(HistoryTest, DuplicateIsReportedOnce) {
  std::vector<GetEvent> gets = CleanGets();
  gets.push_back(Got("A", 1, 2));  // also got by B
  gets.push_back(Got("B", 1, 2));  // a third time
  const Report r = Check(TwoProducers(), gets);
  ASSERT_EQ(r.duplicated.size(), 1u) << r.Summary();
  EXPECT_EQ(r.duplicated[0], (Item{1, 2}));
  // A repeat of the same seq is a duplicate, not an order violation.
  EXPECT_TRUE(r.order.empty()) << r.Summary();
  EXPECT_TRUE(r.lost.empty() && r.unexpected.empty());
}

TEST(HistoryTest, UnexpectedValuesAreReported) {
  std::vector<GetEvent> gets = CleanGets();
  gets.push_back(Got("A", 7, 0));                   // a producer that never existed
  gets.push_back(Got("A", 0, 99));                  // a seq never put
  gets.push_back({"B", Json("torn")});              // not a tuple at all
  gets.push_back({"B", Json{{"$bytes", "AAE="}}});  // not a tuple either
  const Report r = Check(TwoProducers(), gets);
  EXPECT_EQ(r.unexpected.size(), 4u) << r.Summary();
  EXPECT_TRUE(r.lost.empty() && r.duplicated.empty() && r.order.empty());
}

TEST(HistoryTest, OrderViolationIsPerConsumerAndProducer) {
  // A sees producer 0's items 2 then 0: a violation. B sees 1 of producer 0 after A saw 2: fine,
  // order is only promised as each consumer sees it.
  const std::vector<GetEvent> gets = {Got("A", 0, 2), Got("A", 1, 0), Got("A", 0, 0),
                                      Got("B", 0, 1), Got("B", 1, 1), Got("B", 1, 2)};
  const Report r = Check(TwoProducers(), gets);
  ASSERT_EQ(r.order.size(), 1u) << r.Summary();
  EXPECT_EQ(r.order[0].consumer, "A");
  EXPECT_EQ(r.order[0].earlier, (Item{0, 2}));
  EXPECT_EQ(r.order[0].later, (Item{0, 0}));
  EXPECT_TRUE(r.lost.empty() && r.duplicated.empty() && r.unexpected.empty());
  EXPECT_NE(r.Summary().find("A got (0, 0) after (0, 2)"), std::string::npos) << r.Summary();
}

TEST(HistoryTest, LossyProducerMayLoseASuffixOnly) {
  CheckOptions opts;
  opts.lossy_producers = {0};
  // Producer 0 (killed) delivered 0 and 1 of 0..4: a suffix lost, fine.
  std::vector<PutEvent> puts = TwoProducers(5);
  std::vector<GetEvent> gets = {Got("A", 0, 0), Got("B", 0, 1)};
  for (int64_t s = 0; s < 5; ++s) gets.push_back(Got("A", 1, s));
  Report r = Check(puts, gets, opts);
  EXPECT_TRUE(r.ok()) << r.Summary();

  // Delivering 3 but not 2 is a gap.
  gets.push_back(Got("B", 0, 3));
  r = Check(puts, gets, opts);
  ASSERT_EQ(r.gaps.size(), 1u) << r.Summary();
  EXPECT_EQ(r.gaps[0], (Item{0, 2}));
  EXPECT_TRUE(r.lost.empty());

  // A survivor's missing item is still lost.
  gets.pop_back();  // (0, 3) again
  r = Check(puts, gets, opts);
  EXPECT_TRUE(r.ok()) << r.Summary();
  gets.erase(gets.begin() + 2);  // (1, 0)
  r = Check(puts, gets, opts);
  ASSERT_EQ(r.lost.size(), 1u) << r.Summary();
  EXPECT_EQ(r.lost[0], (Item{1, 0}));

  // Unless survivors are not promised (CPython after a kill), where only shape is checked.
  opts.survivors_must_arrive = false;
  EXPECT_TRUE(Check(puts, gets, opts).ok());
}

TEST(HistoryTest, RecordingIsThreadSafeAndOrdered) {
  History h;
  h.RecordPut({0, 0}, PutStatus::kAcknowledged);
  h.RecordGet("A", ItemValue({0, 0}));
  EXPECT_EQ(h.puts().size(), 1u);
  EXPECT_EQ(h.get_count(), 1u);
  EXPECT_TRUE(Check(h).ok());
}

}  // namespace
}  // namespace mpipc::conformance::history
