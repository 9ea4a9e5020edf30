// Many producers, many consumers (semantics.md Q-EXACTLY-ONCE, Q-FIFO-PRODUCER, SQ-ORDER): 4
// producer processes and 4 consumer processes move 100k (producer, seq) items through one queue,
// bounded and unbounded; each consumer records what it got, in order, and CheckHistory() verifies
// the histories: nothing lost, nothing duplicated, nothing unexpected, and each producer's items
// in put order within each consumer. SIGKILL at random moments: queue_kill_test.cc.

#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <typeinfo>
#include <vector>

#include "mpipc/errors.h"
#include "mpipc/queue.h"
#include "mpipc/queue_core.h"
#include "test_support.h"

namespace mpipc {
namespace {

using testing_support::Clock;
using testing_support::TempDir;
using testing_support::WaitExit;

using testing_support::Fork;

// One item: who put it and its place in that producer's sequence.
struct Item {
  uint32_t producer;
  uint32_t seq;
};
constexpr uint32_t kSentinel = UINT32_MAX;     // Item::producer of "no more items"
constexpr uint32_t kCorrupt = UINT32_MAX - 1;  // Item::producer of an item that failed its check

// ---------------------------------------------------------------------------------------------
// The history checker

// Checks the histories `received` (one per consumer, in the order it got them) against what was
// put: producer p put the items (p, 0) .. (p, produced[p] - 1), in that order. Verifies that every
// item put was received exactly once (nothing lost, nothing duplicated), that nothing else was
// received, and that within each consumer each producer's items come in put order. Reports the
// first few violations of each kind.
testing::AssertionResult CheckHistory(const std::vector<std::vector<Item>>& received,
                                      const std::vector<uint32_t>& produced) {
  constexpr int kMaxReports = 5;
  std::ostringstream errors;
  int unexpected = 0;
  int duplicated = 0;
  int lost = 0;
  int reordered = 0;
  std::vector<std::vector<int>> seen_by(produced.size());  // consumer that got (p, seq), or -1
  for (size_t p = 0; p < produced.size(); ++p) seen_by[p].assign(produced[p], -1);
  for (size_t c = 0; c < received.size(); ++c) {
    std::vector<int64_t> last(produced.size(), -1);
    for (size_t i = 0; i < received[c].size(); ++i) {
      const Item it = received[c][i];
      if (it.producer >= produced.size() || it.seq >= produced[it.producer]) {
        if (++unexpected <= kMaxReports) {
          errors << "consumer " << c << " got unexpected item (" << it.producer << ", " << it.seq
                 << ") at position " << i << "\n";
        }
        continue;
      }
      int& seen = seen_by[it.producer][it.seq];
      if (seen >= 0) {
        if (++duplicated <= kMaxReports) {
          errors << "item (" << it.producer << ", " << it.seq << ") received by consumer " << seen
                 << " and again by consumer " << c << "\n";
        }
      } else {
        seen = static_cast<int>(c);
      }
      if (static_cast<int64_t>(it.seq) <= last[it.producer]) {
        if (++reordered <= kMaxReports) {
          errors << "consumer " << c << " got (" << it.producer << ", " << it.seq << ") after ("
                 << it.producer << ", " << last[it.producer] << ")\n";
        }
      }
      last[it.producer] = std::max<int64_t>(last[it.producer], it.seq);
    }
  }
  for (size_t p = 0; p < produced.size(); ++p) {
    for (uint32_t s = 0; s < produced[p]; ++s) {
      if (seen_by[p][s] < 0 && ++lost <= kMaxReports) {
        errors << "item (" << p << ", " << s << ") was never received\n";
      }
    }
  }
  if (unexpected + duplicated + lost + reordered == 0) return testing::AssertionSuccess();
  return testing::AssertionFailure()
         << unexpected << " unexpected, " << duplicated << " duplicated, " << lost << " lost, "
         << reordered << " out of order:\n"
         << errors.str();
}

// ---------------------------------------------------------------------------------------------
// Processes

bool WriteFile(const std::string& path, const std::vector<Item>& items) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  const char* p = reinterpret_cast<const char*>(items.data());
  size_t left = items.size() * sizeof(Item);
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    p += n;
    left -= static_cast<size_t>(n);
  }
  ::close(fd);
  return left == 0;
}

std::vector<Item> ReadFile(const std::string& path) {
  std::vector<Item> items;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return items;
  Item buf[4096];
  size_t carry = 0;
  for (;;) {
    const ssize_t n = ::read(fd, reinterpret_cast<char*>(buf) + carry, sizeof buf - carry);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    carry += static_cast<size_t>(n);
    const size_t whole = carry / sizeof(Item);
    items.insert(items.end(), buf, buf + whole);
    std::memmove(buf, reinterpret_cast<char*>(buf) + whole * sizeof(Item),
                 carry - whole * sizeof(Item));
    carry -= whole * sizeof(Item);
  }
  ::close(fd);
  return items;
}

// Exit codes of the children.
constexpr int kOk = 0;
constexpr int kGetTimedOut = 3;
constexpr int kPutTimedOut = 4;
constexpr int kCannotWrite = 5;
constexpr int kCorruptItem = 6;
constexpr double kTimeout = 60;  // no single put/get waits this long unless something is broken

// The operations a run needs from a queue type.
struct QueueOps {
  std::function<void(const Item&)> put;  // throws Full after kTimeout
  std::function<Item()> get;             // throws Empty after kTimeout
  std::function<void()> task_done;       // JoinableQueue only
};

// Runs `producers` producer processes putting `per_producer` items each and `consumers`
// consumer processes through `ops`, then returns the consumers' histories (and fails the test if
// a process failed).
std::vector<std::vector<Item>> RunProducersAndConsumers(const QueueOps& ops, int producers,
                                                        uint32_t per_producer, int consumers) {
  TempDir dir;
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  std::vector<std::string> files;
  std::vector<pid_t> consumer_pids;
  for (int c = 0; c < consumers; ++c) {
    files.push_back(dir.File("consumer" + std::to_string(c)));
    consumer_pids.push_back(Fork([&ops, &files, c, per_producer, producers] {
      std::vector<Item> got;
      got.reserve(size_t{per_producer} * producers);
      for (;;) {
        Item it{};
        try {
          it = ops.get();
        } catch (const Empty&) {
          return kGetTimedOut;
        }
        if (ops.task_done) ops.task_done();
        if (it.producer == kSentinel) break;
        if (it.producer == kCorrupt) return kCorruptItem;
        got.push_back(it);
      }
      return WriteFile(files[c], got) ? kOk : kCannotWrite;
    }));
  }
  std::vector<pid_t> producer_pids;
  for (int p = 0; p < producers; ++p) {
    producer_pids.push_back(Fork([&ops, p, per_producer] {
      try {
        for (uint32_t s = 0; s < per_producer; ++s) ops.put(Item{static_cast<uint32_t>(p), s});
      } catch (const Full&) {
        return kPutTimedOut;
      }
      return kOk;
    }));
  }
  for (const pid_t pid : producer_pids) EXPECT_EQ(WaitExit(pid, deadline), kOk) << "producer";
  // Every producer has flushed its items into the ring: the sentinels come after all of them.
  for (int c = 0; c < consumers; ++c) ops.put(Item{kSentinel, 0});
  std::vector<std::vector<Item>> received;
  for (int c = 0; c < consumers; ++c) {
    EXPECT_EQ(WaitExit(consumer_pids[c], deadline), kOk) << "consumer " << c;
    received.push_back(ReadFile(files[c]));
  }
  return received;
}

template <typename Q>
QueueOps OpsOf(Q& q) {
  return QueueOps{[&q](const Item& it) { q.put(it, true, kTimeout); },
                  [&q] { return q.get(true, kTimeout); }, nullptr};
}

constexpr int kProducers = 4;
constexpr int kConsumers = 4;
constexpr uint32_t kPerProducer = 25000;  // 100k items
constexpr int kRounds = 3;                // fresh queue and processes each round

void ExpectEveryConsumerWorked(const std::vector<std::vector<Item>>& received) {
  size_t total = 0;
  for (const auto& r : received) total += r.size();
  // Not a rule, a sanity check of the setup: the work was shared, not done by one consumer.
  int busy = 0;
  for (const auto& r : received) busy += r.empty() ? 0 : 1;
  EXPECT_GE(busy, 2) << "of " << total << " items";
}

TEST(QueueHistoryTest, Q_EXACTLY_ONCE_BoundedQueueManyProducersManyConsumers) {
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(testing::Message() << "round " << round);
    Queue<Item> q(64);
    const auto received = RunProducersAndConsumers(OpsOf(q), kProducers, kPerProducer, kConsumers);
    EXPECT_TRUE(CheckHistory(received, std::vector<uint32_t>(kProducers, kPerProducer)));
    ExpectEveryConsumerWorked(received);
    EXPECT_TRUE(q.empty());
    q.close();  // this process's feeder (the sentinels) is done: qsize() is exact
    q.join_thread();
    EXPECT_EQ(q.qsize(), 0);
  }
}

TEST(QueueHistoryTest, Q_EXACTLY_ONCE_UnboundedQueueManyProducersManyConsumers) {
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(testing::Message() << "round " << round);
    Queue<Item> q;
    const auto received = RunProducersAndConsumers(OpsOf(q), kProducers, kPerProducer, kConsumers);
    EXPECT_TRUE(CheckHistory(received, std::vector<uint32_t>(kProducers, kPerProducer)));
    ExpectEveryConsumerWorked(received);
    EXPECT_TRUE(q.empty());
    q.close();  // this process's feeder (the sentinels) is done: qsize() is exact
    q.join_thread();
    EXPECT_EQ(q.qsize(), 0);
  }
}

// A small ring: producers overrun it constantly and items go through the feeders.
TEST(QueueHistoryTest, Q_EXACTLY_ONCE_UnboundedQueueSmallRing) {
  Queue<Item> q(0, QueueOptions{.ring_bytes = 4096});
  const auto received =
      RunProducersAndConsumers(OpsOf(q), kProducers, kPerProducer / 5, kConsumers);
  EXPECT_TRUE(CheckHistory(received, std::vector<uint32_t>(kProducers, kPerProducer / 5)));
}

TEST(QueueHistoryTest, JQ_XPROC_JoinableQueueManyProducersManyConsumers) {
  JoinableQueue<Item> q(64);
  QueueOps ops = OpsOf(q);
  ops.task_done = [&q] { q.task_done(); };
  const auto received = RunProducersAndConsumers(ops, kProducers, kPerProducer / 5, kConsumers);
  EXPECT_TRUE(CheckHistory(received, std::vector<uint32_t>(kProducers, kPerProducer / 5)));
  EXPECT_TRUE(q.join(10));  // every item, sentinels included, was task_done()
  EXPECT_EQ(q.unfinished_tasks(), 0);
}

TEST(QueueHistoryTest, SQ_ORDER_SimpleQueueManyProducersManyConsumers) {
  SimpleQueue<Item> q;
  QueueOps ops;
  ops.put = [&q](const Item& it) { q.put(it); };
  ops.get = [&q] {  // SimpleQueue::get() has no timeout: the core's, so that a bug cannot hang
    Item it{};
    q.core().get(sys::DeadlineAfter(kTimeout),
                 [&it](std::string_view b) { it = QueueCodec<Item>::decode(b); });
    return it;
  };
  const auto received = RunProducersAndConsumers(ops, kProducers, kPerProducer / 5, kConsumers);
  EXPECT_TRUE(CheckHistory(received, std::vector<uint32_t>(kProducers, kPerProducer / 5)));
  EXPECT_TRUE(q.empty());
}

// Items of mixed sizes, some streamed through the ring in chunks (more than half of it), each
// checked for integrity by its consumer.
std::string Payload(const Item& it) {
  const uint32_t h = it.producer * 2654435761u ^ it.seq * 40503u;
  const size_t size = h % 61 == 0 ? 40000 + h % 60000 : h % 5 == 0 ? 2000 + h % 4000 : h % 300;
  std::string s(sizeof(Item) + size, '\0');
  std::memcpy(s.data(), &it, sizeof(Item));
  uint64_t x = h + 1;
  for (size_t i = sizeof(Item); i < s.size(); ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    s[i] = static_cast<char>(x >> 56);
  }
  return s;
}

TEST(QueueHistoryTest, Q_EXACTLY_ONCE_MixedSizesWithStreamedItems) {
  Queue<std::string> q(16, QueueOptions{.ring_bytes = 64 * 1024});
  QueueOps ops;
  ops.put = [&q](const Item& it) { q.put(Payload(it), true, kTimeout); };
  ops.get = [&q] {
    const std::string s = q.get(true, kTimeout);
    Item it{kCorrupt, 0};
    if (s.size() >= sizeof(Item)) std::memcpy(&it, s.data(), sizeof(Item));
    if (it.producer != kSentinel && s != Payload(it)) it.producer = kCorrupt;
    return it;
  };
  const auto received = RunProducersAndConsumers(ops, kProducers, 2000, kConsumers);
  EXPECT_TRUE(CheckHistory(received, std::vector<uint32_t>(kProducers, 2000)));
  EXPECT_TRUE(q.empty());
}

// The checker itself: each kind of violation is caught.
TEST(QueueHistoryTest, CheckHistoryCatchesEveryViolation) {
  const std::vector<uint32_t> produced = {3, 2};
  EXPECT_TRUE(CheckHistory({{{0, 0}, {1, 0}, {0, 1}}, {{1, 1}, {0, 2}}}, produced));
  EXPECT_TRUE(CheckHistory({{{0, 0}, {0, 1}, {0, 2}, {1, 0}, {1, 1}}, {}}, produced));
  const auto fails = [&](const std::vector<std::vector<Item>>& h, std::string_view what) {
    const auto r = CheckHistory(h, produced);
    EXPECT_FALSE(r);
    EXPECT_NE(std::string(r.message()).find(what), std::string::npos) << r.message();
  };
  fails({{{0, 0}, {1, 0}, {0, 1}}, {{1, 1}}}, "1 lost");                        // (0, 2) missing
  fails({{{0, 0}, {1, 0}, {0, 1}}, {{1, 1}, {0, 2}, {1, 1}}}, "1 duplicated");  // (1, 1) twice
  fails({{{0, 0}, {1, 0}, {0, 1}, {0, 1}}, {{1, 1}, {0, 2}}}, "1 duplicated");  // in one consumer
  fails({{{0, 0}, {1, 0}, {0, 1}}, {{1, 1}, {0, 2}, {0, 3}}}, "1 unexpected");  // never put
  fails({{{0, 0}, {1, 0}, {0, 1}}, {{1, 1}, {0, 2}, {2, 0}}}, "1 unexpected");  // no such producer
  fails({{{0, 1}, {1, 0}, {0, 0}}, {{1, 1}, {0, 2}}}, "1 out of order");
}

}  // namespace
}  // namespace mpipc
