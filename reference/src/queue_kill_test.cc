// The kill test: SIGKILL a producer or a consumer of a queue at a random moment (inside put(),
// inside get(), while an item larger than half the ring streams through it, ...) and check that
// the survivors keep working within their timeouts and that the history rules of queue_core.h
// hold: no item delivered twice, no torn or corrupted item (each carries its size and a checksum,
// and its content is checked in full), each producer's items in put order within each consumer,
// and only the items the killed process held in flight missing: for a killed producer, its items
// after those that reached the ring (so what arrives of it is a prefix of what it put); for a
// killed consumer, at most the one item it was reading or had not yet recorded.
//
// Each round draws its parameters (bounded or not, ring size, process counts, item sizes, the
// victim, the moment) from its own seed, printed on failure; rerun one round with
//   queue_kill_test --seed <seed> --rounds 1
// Long runs: --rounds N (default 40, for each of the two tests). Every blocking
// call has a timeout, so a bug shows as a failure, never as a hang.

#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <typeinfo>
#include <vector>

#include "mpipc/errors.h"
#include "mpipc/queue.h"
#include "mpipc/queue_core.h"
#include "test_support.h"

namespace mpipc {
namespace {

using testing_support::Clock;
using testing_support::Reap;
using testing_support::SecondsSince;
using testing_support::TempDir;
using testing_support::WaitExit;

using testing_support::Fork;

struct Options {
  int rounds = 40;
  uint64_t seed = 20240917;
};
Options g_options;

// ---------------------------------------------------------------------------------------------
// A round's plan

// One SIGKILL: when the victim has put (producer) or got (consumer) `after` items, and then
// delay_us more.
struct Kill {
  bool producer = true;
  int victim = 0;  // index among the producers, or among the consumers
  uint32_t after = 0;
  unsigned delay_us = 0;
  const char* moment = "";
};

struct RoundPlan {
  uint64_t seed = 0;
  int64_t maxsize = 0;  // 0: unbounded
  size_t ring = 0;
  int producers = 0;
  int consumers = 0;
  uint32_t per_producer = 0;
  // The last `gated` producers wait for their turn: each starts when the one before was killed.
  int gated = 0;
  std::vector<Kill> kills;

  std::string Describe() const {
    std::ostringstream s;
    s << "seed " << seed << " (rerun: --seed " << seed << " --rounds 1): maxsize " << maxsize
      << ", ring " << ring << ", " << producers << " producers";
    if (gated > 0) s << " (" << gated << " started in turn)";
    s << " x " << per_producer << " items, " << consumers << " consumers; SIGKILL";
    for (const Kill& k : kills) {
      s << " " << (k.producer ? "producer " : "consumer ") << k.victim << " after " << k.after
        << " items + " << k.delay_us << " us (" << k.moment << ");";
    }
    return s.str();
  }
};

uint64_t Mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}

// The size of producer p's item number `seq`: mostly small, some medium, some larger than half
// the ring (streamed in chunks).
size_t ItemSize(const RoundPlan& plan, uint32_t p, uint32_t seq) {
  const uint64_t h = Mix(plan.seed ^ (uint64_t{p} << 40) ^ seq);
  const uint64_t pick = h % 100;
  if (pick < 4) return plan.ring / 2 + 1 + (h >> 8) % (plan.ring * 3);
  if (pick < 15) return 256 + (h >> 8) % (plan.ring / 3);
  return (h >> 8) % 256;
}

bool IsLarge(const RoundPlan& plan, uint32_t p, uint32_t seq) {
  return ItemSize(plan, p, seq) > plan.ring / 2;
}

Kill PlanKill(std::mt19937_64& rng, const RoundPlan& plan, bool producer, int victim) {
  Kill k;
  k.producer = producer;
  k.victim = victim;
  // Early enough that the victim is still at work when the signal arrives.
  k.delay_us = static_cast<unsigned>(rng() % 300);
  k.moment = "at random";
  if (!producer) {
    const uint32_t share = plan.per_producer * plan.producers / plan.consumers;
    k.after = static_cast<uint32_t>(rng() % (share / 2 + 1));
    return k;
  }
  // Gated victims (killed in turn) are cut short early: their number, not their length, counts.
  k.after = static_cast<uint32_t>(rng() % (plan.gated > 0 ? 200 : plan.per_producer / 2));
  if (rng() % 3 == 0) {
    // Just after it put a large item: its feeder is probably streaming it.
    std::vector<uint32_t> large;
    for (uint32_t s = 0; s < plan.per_producer && (plan.gated == 0 || s < 200); ++s) {
      if (IsLarge(plan, static_cast<uint32_t>(victim), s)) large.push_back(s);
    }
    if (!large.empty()) {
      k.after = large[rng() % large.size()] + 1;
      k.delay_us %= 100;
      k.moment = "streaming a large item";
    }
  }
  return k;
}

// A Queue round kills one producer or consumer. A JoinableQueue round has no consumer process
// (this process consumes) and kills three producers in turn.
RoundPlan PlanRound(uint64_t seed, bool joinable) {
  std::mt19937_64 rng(seed);
  RoundPlan plan;
  plan.seed = seed;
  plan.maxsize = rng() % 2 == 0 ? 0 : 1 + static_cast<int64_t>(rng() % 32);
  plan.ring = size_t{4096} << (rng() % 5);  // 4 KiB .. 64 KiB
  plan.per_producer = 300 + static_cast<uint32_t>(rng() % 1200);
  if (joinable) {
    plan.gated = 6;
    plan.producers = 1 + static_cast<int>(rng() % 2) + plan.gated;
    for (int v = plan.producers - plan.gated; v < plan.producers; ++v) {
      plan.kills.push_back(PlanKill(rng, plan, true, v));
    }
    return plan;
  }
  plan.producers = 2 + static_cast<int>(rng() % 2);
  plan.consumers = 2 + static_cast<int>(rng() % 2);
  const bool producer = rng() % 2 == 0;
  const int victim = static_cast<int>(rng() % (producer ? plan.producers : plan.consumers));
  plan.kills.push_back(PlanKill(rng, plan, producer, victim));
  return plan;
}

// ---------------------------------------------------------------------------------------------
// Items: a header carrying who, which, how big and a checksum, then content derived from them.

struct ItemHeader {
  uint32_t magic;
  uint32_t producer;
  uint32_t seq;
  uint32_t size;  // of the content after the header
  uint64_t checksum;
};
constexpr uint32_t kMagic = 0x4d504b51;
constexpr uint32_t kSentinel = UINT32_MAX;

uint64_t Fnv1a(std::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (const char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}

std::string Content(const RoundPlan& plan, uint32_t p, uint32_t seq) {
  std::string s(ItemSize(plan, p, seq), '\0');
  uint64_t x = Mix(plan.seed + p * 1000003ull + seq) | 1;
  for (size_t i = 0; i < s.size(); ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s[i] = static_cast<char>(x);
  }
  return s;
}

std::string MakeItem(const RoundPlan& plan, uint32_t p, uint32_t seq) {
  const std::string content = p == kSentinel ? std::string() : Content(plan, p, seq);
  const ItemHeader h{kMagic, p, seq, static_cast<uint32_t>(content.size()), Fnv1a(content)};
  std::string item(reinterpret_cast<const char*>(&h), sizeof h);
  item += content;
  return item;
}

// What a consumer records of each item it got: one write(2) of 16 bytes.
struct Record {
  uint32_t producer;
  uint32_t seq;
  uint32_t size;
  uint32_t ok;  // 1: size, checksum and content all right
};

Record Check(const RoundPlan& plan, std::string_view item) {
  ItemHeader h{};
  if (item.size() < sizeof h) return Record{0, 0, static_cast<uint32_t>(item.size()), 0};
  std::memcpy(&h, item.data(), sizeof h);
  const std::string_view content = item.substr(sizeof h);
  Record r{h.producer, h.seq, static_cast<uint32_t>(content.size()), 0};
  if (h.magic != kMagic || h.size != content.size() || h.checksum != Fnv1a(content)) return r;
  if (h.producer == kSentinel) {
    r.ok = content.empty() ? 1 : 0;
    return r;
  }
  if (h.producer >= static_cast<uint32_t>(plan.producers) || h.seq >= plan.per_producer) {
    return r;  // unexpected; CheckKillHistory reports it
  }
  r.ok = content == Content(plan, h.producer, h.seq) ? 1 : 0;
  return r;
}

// ---------------------------------------------------------------------------------------------
// The history rules after a kill

// `received`: per consumer, the records in the order it got the items. `produced[p]`: how many
// items producer p put. `killed_producers`: their items may stop short, but what arrives of each
// must be a prefix of its sequence. `consumer_killed`: at most one item (of any producer) may be
// missing, the one it held in flight.
testing::AssertionResult CheckKillHistory(const std::vector<std::vector<Record>>& received,
                                          const std::vector<uint32_t>& produced,
                                          const std::vector<int>& killed_producers,
                                          bool consumer_killed) {
  constexpr int kMaxReports = 5;
  std::ostringstream errors;
  int bad = 0;
  std::ostringstream dropped;  // reports beyond the first few
  const auto report = [&]() -> std::ostream& { return ++bad <= kMaxReports ? errors : dropped; };
  std::vector<std::vector<int>> seen_by(produced.size());
  for (size_t p = 0; p < produced.size(); ++p) seen_by[p].assign(produced[p], -1);
  for (size_t c = 0; c < received.size(); ++c) {
    std::vector<int64_t> last(produced.size(), -1);
    for (size_t i = 0; i < received[c].size(); ++i) {
      const Record r = received[c][i];
      if (r.ok != 1) {
        report() << "consumer " << c << " got a corrupted item (claims (" << r.producer << ", "
                 << r.seq << "), " << r.size << " bytes) at position " << i << "\n";
        continue;
      }
      if (r.producer >= produced.size() || r.seq >= produced[r.producer]) {
        report() << "consumer " << c << " got unexpected item (" << r.producer << ", " << r.seq
                 << ")\n";
        continue;
      }
      int& seen = seen_by[r.producer][r.seq];
      if (seen >= 0) {
        report() << "item (" << r.producer << ", " << r.seq << ") delivered to consumer " << seen
                 << " and again to consumer " << c << "\n";
      } else {
        seen = static_cast<int>(c);
      }
      if (static_cast<int64_t>(r.seq) <= last[r.producer]) {
        report() << "consumer " << c << " got (" << r.producer << ", " << r.seq << ") after ("
                 << r.producer << ", " << last[r.producer] << ")\n";
      }
      last[r.producer] = std::max<int64_t>(last[r.producer], r.seq);
    }
  }
  int missing = 0;
  std::ostringstream missing_list;
  for (size_t p = 0; p < produced.size(); ++p) {
    if (std::count(killed_producers.begin(), killed_producers.end(), static_cast<int>(p)) > 0) {
      // A prefix: once one item is missing, all later ones are.
      uint32_t k = 0;
      while (k < produced[p] && seen_by[p][k] >= 0) ++k;
      for (uint32_t s = k; s < produced[p]; ++s) {
        if (seen_by[p][s] >= 0) {
          report() << "killed producer " << p << ": item " << s << " arrived although item " << k
                   << " was lost\n";
          break;
        }
      }
      continue;
    }
    for (uint32_t s = 0; s < produced[p]; ++s) {
      if (seen_by[p][s] < 0) {
        if (++missing <= kMaxReports) missing_list << " (" << p << ", " << s << ")";
      }
    }
  }
  const int allowed = consumer_killed ? 1 : 0;
  if (missing > allowed) {
    report() << missing << " items of surviving producers lost (at most " << allowed
             << " allowed):" << missing_list.str() << "\n";
  }
  if (bad == 0) return testing::AssertionSuccess();
  return testing::AssertionFailure() << bad << " violations:\n" << errors.str();
}

// ---------------------------------------------------------------------------------------------
// Processes and plumbing

// Progress counters in memory shared with the children: items put or got so far.
class Progress {
 public:
  static constexpr int kMax = 32;
  Progress() {
    void* p = ::mmap(nullptr, sizeof(std::atomic<uint32_t>) * kMax, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap");
    counters_ = new (p) std::atomic<uint32_t>[kMax]();
  }
  ~Progress() { ::munmap(counters_, sizeof(std::atomic<uint32_t>) * kMax); }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  std::atomic<uint32_t>& operator[](int i) { return counters_[i]; }

 private:
  std::atomic<uint32_t>* counters_ = nullptr;
};

// The records in `path`; a torn last record (its writer was killed) is ignored.
std::vector<Record> ReadRecords(const std::string& path) {
  std::string bytes;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    char buf[65536];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      bytes.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
  }
  std::vector<Record> records(bytes.size() / sizeof(Record));
  if (!records.empty()) std::memcpy(records.data(), bytes.data(), records.size() * sizeof(Record));
  return records;
}

// Exit codes of the children.
constexpr int kOk = 0;
constexpr int kGetTimedOut = 3;
constexpr int kPutTimedOut = 4;
constexpr int kCannotRecord = 5;
constexpr int kGateTimedOut = 6;
constexpr int kKilled = -SIGKILL;
constexpr double kOpTimeout = 20;  // no put/get of a survivor waits this long unless broken

int ProducerMain(const RoundPlan& plan, Queue<std::string>& q, uint32_t p,
                 std::atomic<uint32_t>& progress, std::atomic<uint32_t>& gate) {
  // Made beforehand, so that a kill lands in put() (or the feeder) rather than in MakeItem().
  std::vector<std::string> items;
  for (uint32_t s = 0; s < plan.per_producer; ++s) items.push_back(MakeItem(plan, p, s));
  const auto start = Clock::now();
  while (gate.load() == 0) {
    if (SecondsSince(start) > 60) return kGateTimedOut;
    ::usleep(50);
  }
  for (uint32_t s = 0; s < plan.per_producer; ++s) {
    try {
      q.put(items[s], true, kOpTimeout);
    } catch (const Full&) {
      return kPutTimedOut;
    }
    progress.store(s + 1);
  }
  return kOk;
}

// The shared counters of a round: progress[p] (items put) of producer p, progress[producers + c]
// (items got) of consumer c; gate(p) opens producer p.
class RoundState {
 public:
  explicit RoundState(const RoundPlan& plan) : plan_(plan) {
    for (int p = 0; p < plan.producers - plan.gated; ++p) gate(p).store(1);
  }
  std::atomic<uint32_t>& producer(int p) { return counters_[p]; }
  std::atomic<uint32_t>& consumer(int c) { return counters_[plan_.producers + c]; }
  std::atomic<uint32_t>& gate(int p) { return counters_[Progress::kMax / 2 + p]; }
  bool ProducersDone() {
    for (int p = 0; p < plan_.producers; ++p) {
      if (producer(p).load() < plan_.per_producer) return false;
    }
    return true;
  }

  // Carries out the plan's kills in turn: opens a gated victim, waits until it has done its
  // `after` items (or can do no more), lets delay_us pass, SIGKILLs it.
  void Kill(const std::vector<pid_t>& producers, const std::vector<pid_t>& consumers) {
    for (const mpipc::Kill& k : plan_.kills) {
      if (k.producer) gate(k.victim).store(1);
      std::atomic<uint32_t>& progress = k.producer ? producer(k.victim) : consumer(k.victim);
      const auto start = Clock::now();
      while (progress.load() < k.after && SecondsSince(start) < 20) {
        if (k.producer ? progress.load() == plan_.per_producer : ProducersDone()) break;
        ::usleep(20);
      }
      if (k.delay_us > 0) ::usleep(k.delay_us);
      ::kill(k.producer ? producers[k.victim] : consumers[k.victim], SIGKILL);
    }
  }

 private:
  const RoundPlan& plan_;
  Progress counters_;
};

// ---------------------------------------------------------------------------------------------
// Queue: producers and consumers in child processes, one of them killed

void RunQueueRound(const RoundPlan& plan) {
  SCOPED_TRACE(plan.Describe());
  const auto deadline = Clock::now() + std::chrono::seconds(90);
  Queue<std::string> q(plan.maxsize, QueueOptions{.ring_bytes = plan.ring});
  RoundState state(plan);
  TempDir dir;
  std::vector<std::string> files;
  std::vector<pid_t> consumers;
  for (int c = 0; c < plan.consumers; ++c) {
    files.push_back(dir.File("consumer" + std::to_string(c)));
    std::atomic<uint32_t>& mine = state.consumer(c);
    const std::string file = files.back();
    consumers.push_back(Fork([&plan, &q, &mine, file] {
      const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
      if (fd < 0) return kCannotRecord;
      for (uint32_t n = 1;; ++n) {
        std::string item;
        try {
          item = q.get(true, kOpTimeout);
        } catch (const Empty&) {
          return kGetTimedOut;
        }
        const Record r = Check(plan, item);
        if (r.producer == kSentinel && r.ok == 1) return kOk;
        if (::write(fd, &r, sizeof r) != static_cast<ssize_t>(sizeof r)) return kCannotRecord;
        mine.store(n);
      }
    }));
  }
  std::vector<pid_t> producers;
  for (int p = 0; p < plan.producers; ++p) {
    producers.push_back(Fork([&plan, &q, &state, p] {
      return ProducerMain(plan, q, static_cast<uint32_t>(p), state.producer(p), state.gate(p));
    }));
  }

  state.Kill(producers, consumers);
  const Kill& kill = plan.kills.front();
  const pid_t victim = kill.producer ? producers[kill.victim] : consumers[kill.victim];
  const int victim_code = WaitExit(victim, deadline);
  EXPECT_TRUE(victim_code == kKilled || victim_code == kOk) << "victim: " << victim_code;

  // The surviving producers finish, within their put timeouts.
  for (int p = 0; p < plan.producers; ++p) {
    if (kill.producer && p == kill.victim) continue;
    EXPECT_EQ(WaitExit(producers[p], deadline), kOk) << "producer " << p;
  }
  // Then one sentinel per surviving consumer: every item reached the ring before them.
  const int survivors = plan.consumers - (kill.producer ? 0 : 1);
  for (int c = 0; c < survivors; ++c) {
    EXPECT_NO_THROW(q.put(MakeItem(plan, kSentinel, 0), true, kOpTimeout)) << "sentinel " << c;
  }
  for (int c = 0; c < plan.consumers; ++c) {
    if (!kill.producer && c == kill.victim) continue;
    EXPECT_EQ(WaitExit(consumers[c], deadline), kOk) << "consumer " << c;
  }

  // A final drain terminates on time and finds nothing; the queue still works.
  const auto drain = Clock::now();
  try {
    const std::string extra = q.get(true, 0.1);
    ADD_FAILURE() << "an item remained: " << Check(plan, extra).producer;
  } catch (const Empty&) {
  }
  EXPECT_LT(SecondsSince(drain), 5.0);
  EXPECT_TRUE(q.empty());
  q.put("after", true, kOpTimeout);
  EXPECT_EQ(q.get(true, kOpTimeout), "after");

  std::vector<std::vector<Record>> received;
  for (const auto& f : files) received.push_back(ReadRecords(f));
  const std::vector<uint32_t> produced(plan.producers, plan.per_producer);
  EXPECT_TRUE(CheckKillHistory(received, produced,
                               kill.producer ? std::vector<int>{kill.victim} : std::vector<int>{},
                               !kill.producer));
}

TEST(QueueKillTest, Q_KILL_SurvivorsKeepWorkingAndTheHistoryHolds) {
  for (int round = 0; round < g_options.rounds; ++round) {
    const RoundPlan plan = PlanRound(g_options.seed + round, /*joinable=*/false);
    RunQueueRound(plan);
    if (HasFailure()) {
      std::fprintf(stderr, "failed round %d: %s\n", round, plan.Describe().c_str());
      break;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// JoinableQueue: producers in child processes, one killed; this process consumes

void RunJoinableRound(const RoundPlan& plan) {
  SCOPED_TRACE(plan.Describe());
  const auto start = Clock::now();
  JoinableQueue<std::string> q(plan.maxsize, QueueOptions{.ring_bytes = plan.ring});
  RoundState state(plan);
  std::vector<pid_t> producers;
  for (int p = 0; p < plan.producers; ++p) {
    producers.push_back(Fork([&plan, &q, &state, p] {
      return ProducerMain(plan, q, static_cast<uint32_t>(p), state.producer(p), state.gate(p));
    }));
  }
  std::atomic<bool> kills_done{false};
  std::thread killer([&] {
    state.Kill(producers, {});
    kills_done = true;
  });

  // Consume until every producer is gone and nothing more comes. Items are checked afterwards,
  // so that this consumer keeps up (and often sleeps, waiting for the producers).
  std::vector<std::string> items;
  std::vector<std::optional<int>> codes(plan.producers);
  for (;;) {
    try {
      items.push_back(q.get(true, 0.05));
      continue;
    } catch (const Empty&) {
    }
    bool all_gone = kills_done.load();
    for (int p = 0; p < plan.producers; ++p) {
      if (!codes[p]) codes[p] = Reap(producers[p]);
      all_gone = all_gone && codes[p].has_value();
    }
    if (all_gone) break;
    if (SecondsSince(start) > 90) {
      ADD_FAILURE() << "producers did not finish";
      for (int p = 0; p < plan.producers; ++p) {
        if (!codes[p]) codes[p] = WaitExit(producers[p], Clock::now());
      }
      break;
    }
  }
  killer.join();
  std::vector<int> killed;
  for (const Kill& k : plan.kills) killed.push_back(k.victim);
  for (int p = 0; p < plan.producers; ++p) {
    if (std::count(killed.begin(), killed.end(), p) > 0) {
      EXPECT_TRUE(codes[p] == kKilled || codes[p] == kOk) << "victim: " << codes[p].value_or(-1);
    } else {
      EXPECT_EQ(codes[p], kOk) << "producer " << p;
    }
  }
  std::vector<Record> got;
  for (const std::string& item : items) got.push_back(Check(plan, item));
  const std::vector<uint32_t> produced(plan.producers, plan.per_producer);
  EXPECT_TRUE(CheckKillHistory({got}, produced, killed, false));

  // Every delivered item is a task, the killed producers' lost ones are not: join() waits for
  // the last task_done() and then returns.
  for (size_t i = 0; i + 1 < got.size(); ++i) {
    ASSERT_NO_THROW(q.task_done()) << "task_done() of delivered item " << i << " of " << got.size();
  }
  if (!got.empty()) {
    EXPECT_FALSE(q.join(0.02)) << "join() returned with one task unfinished";
    ASSERT_NO_THROW(q.task_done()) << "task_done() of the last delivered item";
  }
  const auto join_start = Clock::now();
  EXPECT_TRUE(q.join(10)) << "unfinished: " << q.unfinished_tasks();
  EXPECT_LT(SecondsSince(join_start), 10.5);
  EXPECT_EQ(q.unfinished_tasks(), 0);
  EXPECT_THROW(q.task_done(), ValueError);
  EXPECT_TRUE(q.empty());
}

TEST(QueueKillTest, JQ_KILL_JoinReturnsOnceEveryDeliveredTaskIsDone) {
  for (int round = 0; round < g_options.rounds; ++round) {
    const RoundPlan plan = PlanRound(g_options.seed + round, /*joinable=*/true);
    RunJoinableRound(plan);
    if (HasFailure()) {
      std::fprintf(stderr, "failed round %d: %s\n", round, plan.Describe().c_str());
      break;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The checker itself

TEST(QueueKillTest, CheckKillHistoryCatchesEveryViolation) {
  const std::vector<uint32_t> produced = {3, 3};
  const auto ok = [](uint32_t p, uint32_t s) { return Record{p, s, 0, 1}; };
  const std::vector<std::vector<Record>> all = {{ok(0, 0), ok(1, 0), ok(0, 1)},
                                                {ok(1, 1), ok(0, 2), ok(1, 2)}};
  EXPECT_TRUE(CheckKillHistory(all, produced, {}, false));
  // Producer 1 killed: a prefix of it arrives.
  EXPECT_TRUE(CheckKillHistory({{ok(0, 0), ok(1, 0), ok(0, 1)}, {ok(0, 2)}}, produced, {1}, false));
  EXPECT_FALSE(CheckKillHistory({{ok(0, 0), ok(0, 1)}, {ok(0, 2), ok(1, 1)}}, produced, {1}, false))
      << "a gap in the killed producer's items";
  EXPECT_FALSE(CheckKillHistory({{ok(0, 0), ok(1, 0), ok(0, 1)}, {ok(1, 1), ok(1, 2)}}, produced,
                                {1}, false))
      << "a surviving producer's item lost";
  // A consumer killed: one item may be missing, not two.
  EXPECT_TRUE(
      CheckKillHistory({{ok(0, 0), ok(1, 0), ok(0, 1)}, {ok(1, 1), ok(0, 2)}}, produced, {}, true));
  EXPECT_FALSE(CheckKillHistory({{ok(0, 0), ok(1, 0), ok(0, 1)}, {ok(1, 1)}}, produced, {}, true));
  // Duplicates, corruption, strangers, disorder.
  auto dup = all;
  dup[1].push_back(ok(0, 0));
  EXPECT_FALSE(CheckKillHistory(dup, produced, {}, true));
  auto torn = all;
  torn[0][1].ok = 0;
  EXPECT_FALSE(CheckKillHistory(torn, produced, {}, true));
  auto stranger = all;
  stranger[0].push_back(ok(2, 0));
  EXPECT_FALSE(CheckKillHistory(stranger, produced, {}, true));
  auto disorder = all;
  std::swap(disorder[0][0], disorder[0][2]);
  EXPECT_FALSE(CheckKillHistory(disorder, produced, {}, true));
}

// And the item check: a torn or altered item is caught.
TEST(QueueKillTest, CheckCatchesTornAndAlteredItems) {
  const RoundPlan plan = PlanRound(7, false);
  uint32_t seq = 0;
  while (ItemSize(plan, 0, seq) < 100) ++seq;
  const std::string item = MakeItem(plan, 0, seq);
  EXPECT_EQ(Check(plan, item).ok, 1u);
  EXPECT_EQ(Check(plan, item.substr(0, item.size() - 1)).ok, 0u);
  std::string altered = item;
  altered[altered.size() / 2 + sizeof(ItemHeader) / 2] ^= 1;
  EXPECT_EQ(Check(plan, altered).ok, 0u);
  EXPECT_EQ(Check(plan, MakeItem(plan, 1, seq)).producer, 1u);
  EXPECT_EQ(Check(plan, "").ok, 0u);
}

}  // namespace
}  // namespace mpipc

// Parses (and removes) --rounds N and --seed S, then hands the rest to Google Test.
int main(int argc, char** argv) {
  int out = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&](const std::string& name) -> const char* {
      if (arg == name && i + 1 < argc) return argv[++i];
      if (arg.rfind(name + "=", 0) == 0) return argv[i] + name.size() + 1;
      return nullptr;
    };
    if (const char* v = value("--rounds")) {
      mpipc::g_options.rounds = std::max(1, std::atoi(v));
    } else if (const char* v = value("--seed")) {
      mpipc::g_options.seed = std::strtoull(v, nullptr, 0);
    } else {
      argv[out++] = argv[i];
    }
  }
  argv[out] = nullptr;
  argc = out;
  testing::InitGoogleTest(&argc, argv);
  std::printf("queue_kill_test: --rounds %d --seed %llu\n", mpipc::g_options.rounds,
              static_cast<unsigned long long>(mpipc::g_options.seed));
  return RUN_ALL_TESTS();
}
