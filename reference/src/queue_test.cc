// Tests of mpipc::Queue, JoinableQueue and SimpleQueue (queue.h) against semantics.md §1.J–1.L,
// with real processes made by fork(). Every test is named after the clause it checks
// (Q-PUT-FULL-NB -> Q_PUT_FULL_NB_...); tests of what mpipc adds (named queues, item codecs,
// get(timeout) inside a half-written item) say so in their names. Many producers and consumers:
// queue_history_test.cc; SIGKILL at random moments: queue_kill_test.cc.
//
// A child made here ends as a Process child does: FlushQueuesAtExit() (Q-EXIT-FLUSH), then
// _exit(code). Children report through exit codes and pipes, never through gtest assertions.
// Every blocking call has a timeout, so a bug shows as a failure, not a hang.

#include "mpipc/queue.h"

#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/serialization/base_object.hpp>
#include <boost/serialization/export.hpp>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <typeinfo>
#include <utility>
#include <vector>

#include "mpipc/errors.h"
#include "mpipc/queue_core.h"
#include "queue_test_hooks.h"
#include "test_support.h"

// ---------------------------------------------------------------------------------------------
// Item types. Outside the anonymous namespace so that their exported names are plain.

namespace mpipc_queue_test {

struct Point {
  int32_t x = 0;
  std::string label;
  std::vector<std::string> tags;
  bool operator==(const Point&) const = default;
  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& x;
    ar& label;
    ar& tags;
  }
};

// Cannot be saved: its serialize() throws while saving (an "unpicklable" object). Not trivially
// copyable, so that it takes the Boost path.
struct Unpicklable {
  std::string x;
  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    if constexpr (Archive::is_saving::value) throw std::runtime_error("cannot pickle this");
    ar& x;
  }
};

class Shape {
 public:
  virtual ~Shape() = default;
  virtual double Area() const = 0;
  virtual std::string Name() const = 0;
  template <class Archive>
  void serialize(Archive& /*ar*/, unsigned /*version*/) {}
};

class Square : public Shape {
 public:
  Square() = default;
  explicit Square(double side) : side_(side) {}
  double Area() const override { return side_ * side_; }
  std::string Name() const override { return "square"; }
  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& boost::serialization::base_object<Shape>(*this);
    ar& side_;
  }

 private:
  double side_ = 0;
};

class Rect : public Shape {
 public:
  Rect() = default;
  Rect(double w, double h) : w_(w), h_(h) {}
  double Area() const override { return w_ * h_; }
  std::string Name() const override { return "rect"; }
  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& boost::serialization::base_object<Shape>(*this);
    ar& w_;
    ar& h_;
  }

 private:
  double w_ = 0;
  double h_ = 0;
};

// Trivially copyable: travels as its raw bytes.
struct Sample {
  int32_t id;
  double value;
  char tag[4];
};

}  // namespace mpipc_queue_test

BOOST_CLASS_EXPORT(mpipc_queue_test::Square)
BOOST_CLASS_EXPORT(mpipc_queue_test::Rect)

namespace mpipc {
namespace {

using mpipc_queue_test::Point;
using mpipc_queue_test::Sample;
using mpipc_queue_test::Shape;
using testing_support::Clock;
using testing_support::SecondsSince;
using testing_support::ThrowsExactly;

using testing_support::Fork;

constexpr size_t kKiB = 1024;
constexpr size_t kMiB = 1024 * 1024;
constexpr int kTimedOut = -1000;

// Waits at most `timeout` seconds for `pid` to exit and reaps it: its exit code, or -signal;
// nullopt if it is still running.
std::optional<int> TryWait(pid_t pid, double timeout) {
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(timeout));
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (pidfd >= 0) ::close(pidfd);
      return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (r < 0 || left.count() <= 0) break;
    if (pidfd >= 0) {
      struct pollfd p {
        pidfd, POLLIN, 0
      };
      ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 1000)) + 1);
    } else {
      ::usleep(1000);
    }
  }
  if (pidfd >= 0) ::close(pidfd);
  return std::nullopt;
}

// Waits for `pid` to exit; after `timeout` seconds kills it and returns kTimedOut.
int WaitExit(pid_t pid, double timeout = 60) {
  if (auto code = TryWait(pid, timeout)) return *code;
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return kTimedOut;
}

// A pipe carrying fixed-size values from one process to another.
class Channel {
 public:
  Channel() {
    if (::pipe2(fds_, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category());
  }
  ~Channel() {
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  template <typename T>
  void Send(const T& v) {
    const char* p = reinterpret_cast<const char*>(&v);
    for (size_t done = 0; done < sizeof(T);) {
      const ssize_t n = ::write(fds_[1], p + done, sizeof(T) - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw std::system_error(errno, std::generic_category(), "write");
      done += static_cast<size_t>(n);
    }
  }
  // The next value, or nullopt if none arrives within `timeout` seconds.
  template <typename T>
  std::optional<T> Receive(double timeout = 30) {
    T v;
    char* p = reinterpret_cast<char*>(&v);
    const auto start = Clock::now();
    for (size_t done = 0; done < sizeof(T);) {
      const int left_ms = static_cast<int>((timeout - SecondsSince(start)) * 1000);
      if (left_ms < 0) return std::nullopt;
      struct pollfd pfd {
        fds_[0], POLLIN, 0
      };
      if (::poll(&pfd, 1, left_ms) <= 0) continue;
      const ssize_t n = ::read(fds_[0], p + done, sizeof(T) - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return std::nullopt;
      done += static_cast<size_t>(n);
    }
    return v;
  }

 private:
  int fds_[2] = {-1, -1};
};

// Checks that `f` throws exactly E whose what() starts with `prefix` and ends with `suffix`
// (equals `prefix` when `whole`). Calls `f` once.
template <typename E, typename F>
testing::AssertionResult Throws(F&& f, std::string_view prefix = "", std::string_view suffix = "",
                                bool whole = false) {
  try {
    f();
  } catch (const E& e) {
    if (typeid(e) != typeid(E)) {
      return testing::AssertionFailure()
             << "threw " << typeid(e).name() << ", not exactly " << typeid(E).name();
    }
    const std::string_view what = e.what();
    const bool ok = whole ? what == prefix
                          : what.size() >= prefix.size() + suffix.size() &&
                                what.substr(0, prefix.size()) == prefix &&
                                what.substr(what.size() - suffix.size()) == suffix;
    if (!ok) {
      return testing::AssertionFailure()
             << "what() is '" << what << "', expected '" << prefix << "'...'" << suffix << "'";
    }
    return testing::AssertionSuccess();
  } catch (const std::exception& e) {
    return testing::AssertionFailure() << "threw " << typeid(e).name() << ": " << e.what();
  }
  return testing::AssertionFailure() << "did not throw";
}

// Bytes whose content depends on (seed, position): a torn or mixed-up item shows.
std::string Pattern(size_t size, uint32_t seed) {
  std::string s(size, '\0');
  uint64_t x = 0x9E3779B97F4A7C15ull * (seed + 1);
  for (size_t i = 0; i < size; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s[i] = static_cast<char>(x);
  }
  return s;
}

std::string UniqueName(const char* what) {
  static std::atomic<int> counter{0};
  return "mpipc_queue_test_" + std::to_string(getpid()) + "_" + what + "_" +
         std::to_string(counter.fetch_add(1));
}

// Removes a named queue at the end of a test.
class NameGuard {
 public:
  explicit NameGuard(std::string name) : name_(std::move(name)) {}
  ~NameGuard() { QueueCore::Unlink(name_); }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

// ---------------------------------------------------------------------------------------------
// 1.J Queue

TEST(QueueTest, Q_CTOR_MaxsizeZeroOrNegativeIsUnboundedTooLargeIsValueError) {
  Queue<int32_t> zero(0);
  Queue<int32_t> negative(-5);
  for (int i = 0; i < 1000; ++i) {
    zero.put(i, false);
    negative.put(i, false);
  }
  EXPECT_FALSE(zero.full());
  EXPECT_FALSE(negative.full());
  EXPECT_EQ(zero.qsize(), 1000);
  EXPECT_EQ(zero.maxsize(), 0);
  EXPECT_TRUE(Throws<ValueError>([] { Queue<int32_t> q(int64_t{1} << 31); }));
  Queue<int32_t> largest(INT32_MAX);
  EXPECT_EQ(largest.maxsize(), INT32_MAX);
}

TEST(QueueTest, Q_PUT_Q_GET_ItemsCrossProcessesInOrder) {
  Queue<int64_t> q;
  Channel go;
  const pid_t pid = Fork([&] {
    if (!go.Receive<char>()) return 2;
    for (int64_t i = 0; i < 1000; ++i) q.put(i * 7);
    return 0;
  });
  go.Send('g');
  for (int64_t i = 0; i < 1000; ++i) ASSERT_EQ(q.get(true, 30), i * 7);
  EXPECT_EQ(WaitExit(pid), 0);
  EXPECT_TRUE(Throws<Empty>([&] { q.get(true, 0.05); }));
}

TEST(QueueTest, Q_GET_BlocksUntilAnItemArrives) {
  Queue<std::string> q;
  Channel go;
  const pid_t pid = Fork([&] {
    if (!go.Receive<char>()) return 2;
    ::usleep(200 * 1000);  // lets the parent block in get()
    q.put("late");
    return 0;
  });
  const auto start = Clock::now();
  go.Send('g');
  EXPECT_EQ(q.get(true, 30), "late");
  EXPECT_GE(SecondsSince(start), 0.19);
  EXPECT_EQ(WaitExit(pid), 0);
}

TEST(QueueTest, Q_PUT_BlocksWhileFullUntilAConsumerTakesOne) {
  Queue<int32_t> q(1);
  q.put(1);
  Channel go;
  Channel got;
  const pid_t pid = Fork([&] {
    if (!go.Receive<char>()) return 2;
    ::usleep(200 * 1000);  // lets the parent block in put()
    got.Send(q.get(true, 30));
    return 0;
  });
  const auto start = Clock::now();
  go.Send('g');
  q.put(2, true, 30);
  EXPECT_GE(SecondsSince(start), 0.19);
  EXPECT_EQ(got.Receive<int32_t>(), 1);
  EXPECT_EQ(q.get(true, 30), 2);
  EXPECT_EQ(WaitExit(pid), 0);
}

TEST(QueueTest, Q_PUT_FULL_NB_NonBlockingPutOnFullQueueRaisesFullAtOnce) {
  Queue<int32_t> q(1);
  q.put(1);
  const auto start = Clock::now();
  EXPECT_TRUE(Throws<Full>([&] { q.put(2, false); }));
  EXPECT_TRUE(Throws<Full>([&] { q.put(2, false, std::nullopt); }));
  EXPECT_TRUE(Throws<Full>([&] { q.put_nowait(2); }));
  EXPECT_TRUE(Throws<Full>([&] { q.put(2, false, 5.0); }));  // the timeout is ignored
  EXPECT_LT(SecondsSince(start), 1.0);
  EXPECT_STREQ(Full().what(), "");
  EXPECT_EQ(q.qsize(), 1);
  EXPECT_EQ(q.get(false), 1);
}

TEST(QueueTest, Q_PUT_FULL_TO_PutWithTimeoutRaisesFullAfterTheTimeout) {
  Queue<int32_t> q(2);
  q.put(1);
  q.put(2);
  for (const double t : {0.1, 0.4}) {
    const auto start = Clock::now();
    EXPECT_TRUE(Throws<Full>([&] { q.put(3, true, t); }));
    const double elapsed = SecondsSince(start);
    EXPECT_GE(elapsed, t - 0.01);
    EXPECT_LT(elapsed, t + 2);
  }
  EXPECT_EQ(q.qsize(), 2);
}

TEST(QueueTest, Q_PUT_ZERO_NEG_ZeroOrNegativeTimeoutRaisesFullAtOnce) {
  Queue<int32_t> q(1);
  q.put(1);
  const auto start = Clock::now();
  EXPECT_TRUE(Throws<Full>([&] { q.put(2, true, 0); }));
  EXPECT_TRUE(Throws<Full>([&] { q.put(2, true, -1); }));
  EXPECT_LT(SecondsSince(start), 1.0);
  Queue<int32_t> roomy(2);
  roomy.put(1, true, -1);  // no ValueError: with room, it just puts
  EXPECT_EQ(roomy.qsize(), 1);
}

TEST(QueueTest, Q_GET_EMPTY_NB_NonBlockingGetOnEmptyQueueRaisesEmptyAtOnce) {
  Queue<int32_t> q;
  const auto start = Clock::now();
  EXPECT_TRUE(Throws<Empty>([&] { q.get(false); }));
  EXPECT_TRUE(Throws<Empty>([&] { q.get(false, std::nullopt); }));
  EXPECT_TRUE(Throws<Empty>([&] { q.get_nowait(); }));
  EXPECT_TRUE(Throws<Empty>([&] { q.get(false, 5.0); }));  // the timeout is ignored
  EXPECT_LT(SecondsSince(start), 1.0);
  EXPECT_STREQ(Empty().what(), "");
}

TEST(QueueTest, Q_GET_TO_GetWithTimeoutRaisesEmptyAfterTheTimeout) {
  Queue<int32_t> q;
  for (const double t : {0.1, 0.4}) {
    const auto start = Clock::now();
    EXPECT_TRUE(Throws<Empty>([&] { q.get(true, t); }));
    const double elapsed = SecondsSince(start);
    EXPECT_GE(elapsed, t - 0.01);
    EXPECT_LT(elapsed, t + 2);
  }
}

TEST(QueueTest, Q_GET_ZERO_NEG_ZeroOrNegativeTimeoutRaisesEmptyAtOnce) {
  Queue<int32_t> q;
  const auto start = Clock::now();
  EXPECT_TRUE(Throws<Empty>([&] { q.get(true, 0); }));
  EXPECT_TRUE(Throws<Empty>([&] { q.get(true, -1); }));
  EXPECT_LT(SecondsSince(start), 1.0);
  q.put(5);
  EXPECT_EQ(q.get(true, -1), 5);  // an item already there is returned, no ValueError
}

TEST(QueueTest, Q_PUT_CLOSED_Q_GET_CLOSED_ValueErrorNamesTheQueue) {
  Queue<int32_t> q;
  q.put(1);
  q.put(2);
  q.close();
  q.close();  // idempotent (Q-CLOSE)
  const std::string prefix = "Queue <mpipc::Queue object at 0x";
  EXPECT_TRUE(Throws<ValueError>([&] { q.put(3); }, prefix, "> is closed"));
  EXPECT_TRUE(Throws<ValueError>([&] { q.put_nowait(3); }, prefix, "> is closed"));
  // Checked even though items remain.
  EXPECT_TRUE(Throws<ValueError>([&] { q.get(); }, prefix, "> is closed"));
  EXPECT_TRUE(Throws<ValueError>([&] { q.get_nowait(); }, prefix, "> is closed"));
  EXPECT_TRUE(
      ThrowsExactly<ValueError>([&] { q.get(false); }, "Queue " + q.core().repr() + " is closed"));
  // qsize() and full() keep working after close (Q-CLOSE-EMPTY).
  EXPECT_EQ(q.qsize(), 2);
  EXPECT_FALSE(q.full());

  JoinableQueue<int32_t> jq;
  jq.close();
  const std::string jprefix = "Queue <mpipc::JoinableQueue object at 0x";
  EXPECT_TRUE(Throws<ValueError>([&] { jq.put(1); }, jprefix, "> is closed"));
  EXPECT_TRUE(Throws<ValueError>([&] { jq.get(false); }, jprefix, "> is closed"));
}

TEST(QueueTest, Q_CLOSE_IsLocalToTheProcess) {
  Queue<int32_t> q;
  const pid_t pid = Fork([&] {
    q.close();
    try {
      q.put(1);
      return 3;
    } catch (const ValueError&) {
    }
    return 0;
  });
  ASSERT_EQ(WaitExit(pid), 0);
  q.put(7);  // the parent's handle is still open
  EXPECT_EQ(q.get(true, 10), 7);
}

TEST(QueueTest, Q_QSIZE_CountsAtPutTimeIncludingBufferedItems) {
  // Two items fill a 4 KiB ring; the next ones wait in this process's buffer (the feeder cannot
  // write them before one is read), and count.
  Queue<std::string> q(0, QueueOptions{.ring_bytes = 4 * kKiB});
  EXPECT_EQ(q.qsize(), 0);
  q.put(std::string(2000, 'a'));
  EXPECT_EQ(q.qsize(), 1);  // at once
  q.put(std::string(2000, 'b'));
  q.put("c");
  q.put("d");
  q.put("e");
  EXPECT_EQ(q.qsize(), 5);
  EXPECT_EQ(q.get(true, 10), std::string(2000, 'a'));
  EXPECT_EQ(q.get(true, 10), std::string(2000, 'b'));
  for (const char* want : {"c", "d", "e"}) EXPECT_EQ(q.get(true, 10), want);
  // Checked once the feeder is done: while it writes, the item it has just published still
  // counts as buffered for a moment (qsize() is approximate, Q-QSIZE). qsize() works after
  // close() (Q-CLOSE-EMPTY).
  q.close();
  q.join_thread();
  EXPECT_EQ(q.qsize(), 0);
}

TEST(QueueTest, Q_QSIZE_CountsItemsPutByOtherProcesses) {
  for (const int64_t maxsize : {int64_t{0}, int64_t{10}}) {
    SCOPED_TRACE(maxsize);
    Queue<int32_t> q(maxsize);
    Channel put_done;
    Channel go;
    const pid_t pid = Fork([&] {
      for (int i = 0; i < 3; ++i) q.put(i);
      put_done.Send('p');
      return go.Receive<char>() ? 0 : 2;
    });
    ASSERT_TRUE(put_done.Receive<char>());
    EXPECT_EQ(q.qsize(), 3);
    go.Send('g');
    for (int i = 0; i < 3; ++i) EXPECT_EQ(q.get(true, 10), i);
    EXPECT_EQ(q.qsize(), 0);
    EXPECT_EQ(WaitExit(pid), 0);
  }
}

TEST(QueueTest, Q_FULL_TrueIffQsizeReachesMaxsize) {
  Queue<int32_t> q(2);
  EXPECT_FALSE(q.full());
  q.put(1);
  EXPECT_FALSE(q.full());
  q.put(2);
  EXPECT_TRUE(q.full());
  EXPECT_EQ(q.get(true, 10), 1);
  EXPECT_FALSE(q.full());

  Queue<int32_t> unbounded;
  for (int i = 0; i < 10000; ++i) unbounded.put(i);
  EXPECT_FALSE(unbounded.full());

  // Buffered items count: a bounded queue with a tiny ring is full at maxsize even though most
  // items still wait in the buffer.
  Queue<std::string> small(3, QueueOptions{.ring_bytes = 4 * kKiB});
  small.put(std::string(3000, 'x'));
  small.put(std::string(3000, 'y'));
  small.put(std::string(3000, 'z'));
  EXPECT_TRUE(small.full());
  EXPECT_TRUE(Throws<Full>([&] { small.put("w", false); }));
  EXPECT_EQ(small.get(true, 10), std::string(3000, 'x'));
  EXPECT_EQ(small.get(true, 10), std::string(3000, 'y'));
  EXPECT_EQ(small.get(true, 10), std::string(3000, 'z'));
}

// Items of mixed sizes (direct writes, buffered ones, streamed ones larger than half the ring),
// from two threads of one producer process: each thread's items arrive in put order.
TEST(QueueTest, Q_FIFO_PRODUCER_ItemsOfOneProducerArriveInPutOrder) {
  constexpr int kThreads = 2;
  constexpr int kPerThread = 2000;
  Queue<std::string> q(0, QueueOptions{.ring_bytes = 64 * kKiB});
  const auto size_of = [](int t, int i) -> size_t {
    const uint32_t h = static_cast<uint32_t>(i * 2654435761u + t);
    if (h % 97 == 0) return 40 * kKiB + h % 1000;  // streamed: more than half the ring
    if (h % 7 == 0) return 3000 + h % 3000;
    return 8 + h % 200;
  };
  const auto make = [&](int t, int i) {
    std::string s = Pattern(size_of(t, i), static_cast<uint32_t>(t * 100000 + i));
    std::memcpy(s.data(), &t, 1);
    std::memcpy(s.data() + 1, &i, sizeof i);
    return s;
  };
  const pid_t pid = Fork([&] {
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) q.put(make(t, i));
      });
    }
    for (auto& th : threads) th.join();
    return 0;
  });
  std::vector<int> next(kThreads, 0);
  for (int n = 0; n < kThreads * kPerThread; ++n) {
    const std::string item = q.get(true, 30);
    ASSERT_GE(item.size(), 5u);
    int t = 0;
    int i = 0;
    std::memcpy(&t, item.data(), 1);
    std::memcpy(&i, item.data() + 1, sizeof i);
    ASSERT_LT(t, kThreads);
    ASSERT_EQ(i, next[t]) << "thread " << t;
    ASSERT_EQ(item, make(t, i));
    ++next[t];
  }
  EXPECT_EQ(WaitExit(pid), 0);
  EXPECT_TRUE(Throws<Empty>([&] { q.get(true, 0.05); }));
}

// Several threads of one process put and get concurrently: every item exactly once.
TEST(QueueTest, Q_SAFE_ThreadsPutAndGetConcurrently) {
  constexpr int kProducers = 4;
  constexpr int kConsumers = 3;
  constexpr int kPer = 5000;
  Queue<int64_t> q(50);
  std::vector<std::vector<int64_t>> got(kConsumers);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < kConsumers; ++c) {
    threads.emplace_back([&, c] {
      for (;;) {
        try {
          const int64_t v = q.get(true, 30);
          if (v < 0) return;
          got[c].push_back(v);
        } catch (const Empty&) {
          ++failures;
          return;
        }
      }
    });
  }
  for (int p = 0; p < kProducers; ++p) {
    threads.emplace_back([&, p] {
      for (int i = 0; i < kPer; ++i) q.put(int64_t{p} * kPer + i, true, 30);
    });
  }
  for (size_t i = kConsumers; i < threads.size(); ++i) threads[i].join();
  for (int c = 0; c < kConsumers; ++c) q.put(-1, true, 30);
  for (int c = 0; c < kConsumers; ++c) threads[c].join();
  EXPECT_EQ(failures.load(), 0);
  std::vector<int64_t> all;
  for (int c = 0; c < kConsumers; ++c) {
    // Within one consumer thread, each producer's items are increasing.
    std::vector<int64_t> last(kProducers, -1);
    for (const int64_t v : got[c]) {
      EXPECT_GT(v, last[v / kPer]);
      last[v / kPer] = v;
    }
    all.insert(all.end(), got[c].begin(), got[c].end());
  }
  std::sort(all.begin(), all.end());
  ASSERT_EQ(all.size(), size_t{kProducers * kPer});
  for (size_t i = 0; i < all.size(); ++i) ASSERT_EQ(all[i], static_cast<int64_t>(i));
}

TEST(QueueTest, Q_JOIN_THREAD_PRE_JoinThreadBeforeCloseIsAssertionError) {
  Queue<int32_t> q;
  EXPECT_TRUE(Throws<AssertionError>([&] { q.join_thread(); }, "Queue <mpipc::Queue object at 0x",
                                     "> not closed"));
  EXPECT_TRUE(ThrowsExactly<AssertionError>([&] { q.join_thread(); },
                                            "Queue " + q.core().repr() + " not closed"));
  JoinableQueue<int32_t> jq;
  EXPECT_TRUE(Throws<AssertionError>([&] { jq.join_thread(); },
                                     "Queue <mpipc::JoinableQueue object at 0x", "> not closed"));
}

TEST(QueueTest, Q_JOIN_THREAD_NoOpWhenNothingWasPut) {
  Queue<int32_t> q;
  q.close();
  const auto start = Clock::now();
  q.join_thread();
  EXPECT_LT(SecondsSince(start), 1.0);
}

// join_thread() returns only once every buffered item is in the shared ring: here two items of
// three quarters of the ring each (streamed by the feeder) and small items buffered behind them
// cannot all be written until this process reads the big ones. Then the small ones are readable
// without blocking, with the producer gone.
TEST(QueueTest, Q_JOIN_THREAD_WaitsUntilTheBufferIsFlushed) {
  Queue<std::string> q(0, QueueOptions{.ring_bytes = 64 * kKiB});
  Channel joined;
  const std::string big1 = Pattern(48 * kKiB, 1);
  const std::string big2 = Pattern(48 * kKiB, 2);
  const pid_t pid = Fork([&]() -> int {
    q.put(big1);
    q.put(big2);
    for (int i = 0; i < 10; ++i) q.put(std::to_string(i) + std::string(100, 's'));
    q.close();
    q.join_thread();
    joined.Send('j');
    _exit(0);  // no exit-time flush: join_thread() must have done it
  });
  EXPECT_FALSE(joined.Receive<char>(0.3).has_value())
      << "join_thread() returned while items could not be written yet";
  EXPECT_EQ(q.get(true, 30), big1);
  EXPECT_EQ(q.get(true, 30), big2);
  ASSERT_TRUE(joined.Receive<char>(30).has_value());
  ASSERT_EQ(WaitExit(pid), 0);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(q.get(false), std::to_string(i) + std::string(100, 's'));
  EXPECT_TRUE(q.empty());
}

// cancel_join_thread() (here before any put) makes join_thread() and the exit-time flush no-ops:
// the producer exits at once although its item cannot be written. Beyond CPython, the consumer
// does not hang on the partial item left behind, and the queue keeps working.
TEST(QueueTest, Q_CANCEL_JOIN_JoinThreadAndExitDoNotWaitForTheBuffer) {
  Queue<std::string> q(0, QueueOptions{.ring_bytes = 4 * kKiB});
  const pid_t pid = Fork([&] {
    q.cancel_join_thread();
    q.put(Pattern(64 * kKiB, 2));  // 16 times the ring: stays half-written, nobody reads
    q.close();
    q.join_thread();
    return 0;  // and FlushQueuesAtExit() must not wait either
  });
  ASSERT_EQ(WaitExit(pid, 20), 0);
  const auto start = Clock::now();
  EXPECT_TRUE(Throws<Empty>([&] { q.get(true, 0.5); }));
  EXPECT_LT(SecondsSince(start), 3.0);
  q.put("after");
  EXPECT_EQ(q.get(true, 10), "after");
}

// At exit a producer waits until its buffered items are written (here: an item 16 times the
// ring, which needs a consumer).
TEST(QueueTest, Q_EXIT_FLUSH_ProducerExitWaitsForItsBuffer) {
  Queue<std::string> q(0, QueueOptions{.ring_bytes = 64 * kKiB});
  const std::string big = Pattern(kMiB, 3);
  const pid_t pid = Fork([&] {
    q.put(big);
    return 0;
  });
  EXPECT_FALSE(TryWait(pid, 0.3).has_value()) << "exited before its item was written";
  EXPECT_EQ(q.get(true, 30), big);
  EXPECT_EQ(WaitExit(pid), 0);
}

// A fork()ed child starts with an empty buffer: items the parent had buffered are written once.
TEST(QueueTest, Q_FORK_BufferedItemsAreNotDuplicatedInTheChild) {
  Queue<std::string> q(0, QueueOptions{.ring_bytes = 4 * kKiB});
  const std::vector<std::string> mine = {std::string(2000, 'A'), std::string(2000, 'B'), "C", "D",
                                         "E"};
  for (const auto& s : mine) q.put(s);  // A and B fill the ring; C, D, E wait in the buffer
  ASSERT_EQ(q.qsize(), 5);
  const pid_t pid = Fork([&] {
    q.put("child");
    return 0;
  });
  std::vector<std::string> got;
  for (int i = 0; i < 6; ++i) got.push_back(q.get(true, 30));
  EXPECT_TRUE(Throws<Empty>([&] { q.get(true, 0.3); }));
  EXPECT_EQ(WaitExit(pid), 0);
  EXPECT_TRUE(Throws<Empty>([&] { q.get(true, 0.1); }));
  std::vector<std::string> parents;
  int child_items = 0;
  for (const auto& s : got) {
    if (s == "child") {
      ++child_items;
    } else {
      parents.push_back(s);
    }
  }
  EXPECT_EQ(child_items, 1);
  EXPECT_EQ(parents, mine);
}

// Several threads of a fork()ed child make their first use of an inherited queue at the same
// moment: the parent's local state is replaced exactly once (a race there crashed the child, or
// split its items between two buffers).
TEST(QueueTest, Q_FORK_ChildThreadsFirstUseAtOnce) {
  constexpr int kRounds = 20;
  constexpr int kThreads = 6;
  constexpr int kPer = 50;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(testing::Message() << "round " << round);
    Queue<int32_t> q;
    const pid_t pid = Fork([&] {
      std::latch start(kThreads);
      std::vector<std::thread> threads;
      for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
          start.arrive_and_wait();
          for (int i = 0; i < kPer; ++i) q.put(t * 1000 + i);
        });
      }
      for (auto& th : threads) th.join();
      return 0;
    });
    std::vector<int> next(kThreads, 0);
    for (int n = 0; n < kThreads * kPer; ++n) {
      int32_t v = -1;
      ASSERT_NO_THROW(v = q.get(true, 30)) << "after " << n << " items";
      ASSERT_GE(v, 0);
      ASSERT_LT(v / 1000, kThreads);
      ASSERT_EQ(v % 1000, next[v / 1000]) << "thread " << v / 1000;
      ++next[v / 1000];
    }
    ASSERT_EQ(WaitExit(pid), 0);
    EXPECT_TRUE(Throws<Empty>([&] { q.get(false); }));
  }
}

TEST(QueueTest, Q_LARGE_TenMiBItemAndItemsLargerThanTheRing) {
  struct Case {
    size_t ring;
    size_t item;
  };
  for (const Case c : {Case{size_t{4} << 20, 10 * kMiB}, Case{64 * kKiB, 256 * kKiB},
                       Case{4 * kKiB, 2 * kKiB}, Case{4 * kKiB, 2 * kKiB + 1}}) {
    SCOPED_TRACE(testing::Message() << "ring " << c.ring << " item " << c.item);
    Queue<std::string> q(0, QueueOptions{.ring_bytes = c.ring});
    const std::string item = Pattern(c.item, static_cast<uint32_t>(c.item));
    const pid_t pid = Fork([&] {
      q.put(item);
      q.put("next");
      return 0;
    });
    EXPECT_EQ(q.get(true, 30), item);
    EXPECT_EQ(q.get(true, 30), "next");
    EXPECT_EQ(WaitExit(pid), 0);
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(q.qsize(), 0);
  }
}

// A producer publishes the last record of a streamed item and exits while the consumer, holding
// the item's first records, has just given up waiting: the item is whole and must be delivered,
// not dropped with the stash of a dead producer's unfinished stream (JoinableQueue would count it
// as a task no one can ever get). The hooks pin the interleaving that the kill test hit by chance.
namespace stream_race {
int g_blocked[2];  // child -> parent: "two records are out, I wait"
int g_go[2];       // parent -> child: "publish the rest"
pid_t g_child = 0;
int g_released = 0;

void ChildAfterRecord(bool last) {
  static int records = 0;
  if (last || ++records != 2) return;
  char c = 'b';
  EXPECT_EQ(::write(g_blocked[1], &c, 1), 1);
  EXPECT_EQ(::read(g_go[0], &c, 1), 1);
}

void ParentAfterWaitTimeout() {
  pollfd p{g_blocked[0], POLLIN, 0};
  if (g_released != 0 || ::poll(&p, 1, 0) != 1) return;  // the stream has not begun yet
  char c = 'g';
  ASSERT_EQ(::read(g_blocked[0], &c, 1), 1);
  ASSERT_EQ(::write(g_go[1], &c, 1), 1);
  g_released =
      testing_support::WaitChild(g_child) == 0 ? 1 : -1;  // dead (and reaped) after its last record
}
}  // namespace stream_race

TEST(QueueTest, Q_KILL_StreamCompletedByAProducerThatThenDiesIsDelivered) {
  using namespace stream_race;
  ASSERT_EQ(::pipe(g_blocked), 0);
  ASSERT_EQ(::pipe(g_go), 0);
  JoinableQueue<std::string> q(0, QueueOptions{.ring_bytes = 4 * kKiB});
  const std::string item = Pattern(3000, 7);  // three records: first, middle, last
  auto& hooks = mpipc::internal::TestHooks();
  hooks.after_stream_record = &ChildAfterRecord;
  g_child = Fork([&] {
    q.put(item);
    return 0;
  });
  hooks.after_stream_record = nullptr;
  hooks.after_data_wait_timeout = &ParentAfterWaitTimeout;
  std::optional<std::string> got;
  for (int i = 0; i < 100 && !got; ++i) {
    try {
      got = q.get(true, 0.1);
    } catch (const Empty&) {
    }
  }
  hooks.after_data_wait_timeout = nullptr;
  EXPECT_EQ(g_released, 1) << "the interleaving was not reached";
  ASSERT_TRUE(got.has_value()) << "the completed item was dropped";
  EXPECT_EQ(*got, item);
  q.task_done();
  EXPECT_TRUE(q.join(5));
  for (const int fd : {g_blocked[0], g_blocked[1], g_go[0], g_go[1]}) ::close(fd);
}

// An item that cannot be decoded: the error propagates from get(), the item is consumed, and the
// next get() returns the next item.
TEST(QueueTest, Q_GET_UNPICKLE_ERR_DecodingErrorConsumesTheItem) {
  Queue<Point> q;
  const Point p{7, "seven", {"a", "b"}};
  q.core().put("xyz", std::nullopt);  // not a Point archive
  q.core().put("", std::nullopt);     // empty: pickle's "Ran out of input"
  q.put(p);
  EXPECT_EQ(q.qsize(), 3);
  EXPECT_TRUE(Throws<SerializationError>([&] { q.get(true, 10); }, "cannot deserialize object"));
  EXPECT_TRUE(ThrowsExactly<EOFError>([&] { q.get(true, 10); }, "Ran out of input"));
  EXPECT_EQ(q.get(true, 10), p);
  EXPECT_EQ(q.qsize(), 0);
  EXPECT_TRUE(q.empty());

  // The fast path of trivially copyable types checks the size.
  Queue<Sample> samples(1);
  samples.core().put("short", std::nullopt);
  EXPECT_TRUE(Throws<SerializationError>([&] { samples.get(true, 10); }, "item of 5 bytes"));
  EXPECT_EQ(samples.qsize(), 0);
  samples.put(Sample{1, 2.5, {'a', 'b', 'c', 'd'}}, false);  // its place was freed
  EXPECT_EQ(samples.get(true, 10).id, 1);
}

// Items are serialized inside put(): an error is raised to the caller with nothing queued (a
// deliberate change from Q-PUT-UNPICKLABLE, where CPython's feeder prints and drops it).
TEST(QueueTest, Q_PUT_UNPICKLABLE_SerializationErrorRaisedFromPutNothingQueued) {
  JoinableQueue<mpipc_queue_test::Unpicklable> q(1);
  EXPECT_TRUE(Throws<SerializationError>([&] { q.put(mpipc_queue_test::Unpicklable{"x"}); },
                                         "cannot serialize object", ""));
  EXPECT_EQ(q.qsize(), 0);
  EXPECT_EQ(q.unfinished_tasks(), 0);
  EXPECT_TRUE(q.empty());
  EXPECT_TRUE(Throws<Empty>([&] { q.get(true, 0.05); }));
  EXPECT_TRUE(Throws<ValueError>([&] { q.task_done(); }, "task_done() called too many times"));
}

// ... and changes to the object after put() do not reach the queue (unlike Q-PUT-LATE-PICKLE),
// whether the item went straight into the ring or into the buffer.
TEST(QueueTest, Q_PUT_LATE_PICKLE_MutationAfterPutIsNotVisible) {
  Queue<Point> q(0, QueueOptions{.ring_bytes = 4 * kKiB});
  Point direct{1, "direct", {"x"}};
  q.put(direct);
  direct.tags.push_back("mutated");
  direct.label = "mutated";
  Point filler{2, std::string(3500, 'f'), {}};
  q.put(filler);  // fills the ring: the next item is buffered
  Point buffered{3, "buffered", {"y"}};
  q.put(buffered);
  buffered.tags.push_back("mutated");
  buffered.x = 99;
  EXPECT_EQ(q.get(true, 10), (Point{1, "direct", {"x"}}));
  EXPECT_EQ(q.get(true, 10), filler);
  EXPECT_EQ(q.get(true, 10), (Point{3, "buffered", {"y"}}));
}

// Beyond CPython (Q-GET-TO-SCOPE): get(timeout) returns on time even while an item is half
// written. A producer streams a 64 MiB item through a 64 KiB ring and is stopped mid-way; the
// consumer's get(timeout) raises Empty on time, keeping the part it has; once the producer runs
// again the next get() returns the whole, intact item.
TEST(QueueTest, Q_GET_TO_SCOPE_TimeoutHonouredWhileAnItemIsHalfWritten) {
  Queue<std::string> q(0, QueueOptions{.ring_bytes = 64 * kKiB});
  constexpr size_t kSize = 64 * kMiB;
  const pid_t pid = Fork([&] {
    q.put(Pattern(kSize, 64));
    return 0;
  });
  // Wait until the stream has begun (the ring fills up and the producer blocks), then stop it
  // and wait until it is stopped.
  const auto start = Clock::now();
  while (q.empty() && SecondsSince(start) < 30) ::usleep(1000);
  ASSERT_FALSE(q.empty());
  ASSERT_EQ(::kill(pid, SIGSTOP), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, WUNTRACED), pid);
  ASSERT_TRUE(WIFSTOPPED(status));

  // Should get() overstay its timeout, a watchdog resumes the producer after 5 s: the test then
  // fails (the item arrives late) instead of hanging.
  std::mutex mu;
  std::condition_variable cv;
  bool timed_part_done = false;
  std::thread watchdog([&] {
    std::unique_lock<std::mutex> lk(mu);
    if (!cv.wait_for(lk, std::chrono::seconds(5), [&] { return timed_part_done; })) {
      ::kill(pid, SIGCONT);
    }
  });
  for (const double t : {0.3, 0.1}) {
    const auto t0 = Clock::now();
    EXPECT_TRUE(Throws<Empty>([&] { q.get(true, t); }));
    const double elapsed = SecondsSince(t0);
    EXPECT_GE(elapsed, t - 0.01);
    EXPECT_LT(elapsed, t + 2);
  }
  const auto t0 = Clock::now();
  EXPECT_TRUE(Throws<Empty>([&] { q.get(false); }));
  EXPECT_LT(SecondsSince(t0), 1.0);
  EXPECT_FALSE(TryWait(pid, 0).has_value());
  {
    std::lock_guard<std::mutex> lk(mu);
    timed_part_done = true;
  }
  cv.notify_all();
  watchdog.join();

  ASSERT_EQ(::kill(pid, SIGCONT), 0);
  const std::string item = q.get(true, 60);
  EXPECT_EQ(item.size(), kSize);
  EXPECT_TRUE(item == Pattern(kSize, 64)) << "the item is corrupted";
  EXPECT_EQ(WaitExit(pid), 0);
  EXPECT_TRUE(q.empty());
}

// ---------------------------------------------------------------------------------------------
// Items: codecs

TEST(QueueTest, Items_PolymorphicObjectsThroughUniquePtrToBase) {
  Queue<std::unique_ptr<Shape>> q;
  const pid_t pid = Fork([&] {
    q.put(std::make_unique<mpipc_queue_test::Square>(3));
    q.put(std::make_unique<mpipc_queue_test::Rect>(2, 5));
    return 0;
  });
  const std::unique_ptr<Shape> a = q.get(true, 30);
  const std::unique_ptr<Shape> b = q.get(true, 30);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(a->Name(), "square");
  EXPECT_DOUBLE_EQ(a->Area(), 9);
  const Shape& first = *a;  // named: typeid of a dereference would evaluate it (clang warns)
  EXPECT_EQ(typeid(first), typeid(mpipc_queue_test::Square));
  EXPECT_EQ(b->Name(), "rect");
  EXPECT_DOUBLE_EQ(b->Area(), 10);
  EXPECT_EQ(WaitExit(pid), 0);
}

TEST(QueueTest, Items_BoostSerializedStructAndContainers) {
  Queue<Point> points;
  Queue<std::map<std::string, std::vector<int32_t>>> maps;
  const Point p{-4, "label", {"t1", "", std::string(10000, 'z')}};
  const std::map<std::string, std::vector<int32_t>> m = {{"a", {1, 2}}, {"", {}}};
  const pid_t pid = Fork([&] {
    points.put(p);
    maps.put(m);
    return 0;
  });
  EXPECT_EQ(points.get(true, 30), p);
  EXPECT_EQ(maps.get(true, 30), m);
  EXPECT_EQ(WaitExit(pid), 0);
}

// Bytes-like items take a fast path: their bytes go into the ring as they are, no archive.
TEST(QueueTest, Items_ByteVectorsStringsAndTriviallyCopyableTypesAreRawBytes) {
  Queue<std::vector<char>> chars;
  Queue<std::vector<unsigned char>> uchars;
  Queue<std::vector<std::byte>> bytes;
  Queue<std::string> strings;
  Queue<Sample> samples;
  Queue<double> doubles;
  const auto raw = [](QueueCore& core) {
    std::string out;
    core.get(sys::DeadlineAfter(10), [&](std::string_view b) { out.assign(b); });
    return out;
  };
  const std::string text("a\0b\xff", 4);
  chars.put(std::vector<char>(text.begin(), text.end()));
  EXPECT_EQ(raw(chars.core()), text);
  uchars.put(std::vector<unsigned char>{1, 2, 255});
  EXPECT_EQ(raw(uchars.core()), std::string("\x01\x02\xff"));
  bytes.put(std::vector<std::byte>{std::byte{9}});
  EXPECT_EQ(raw(bytes.core()), std::string("\x09"));
  strings.put(text);
  EXPECT_EQ(raw(strings.core()), text);
  const Sample s{42, -1.5, {'w', 'x', 'y', 'z'}};
  samples.put(s);
  EXPECT_EQ(raw(samples.core()),
            std::string(reinterpret_cast<const char*>(&s), sizeof s));  // NOLINT

  // And they round-trip across processes, the empty ones included.
  const pid_t pid = Fork([&] {
    chars.put(std::vector<char>(text.begin(), text.end()));
    chars.put(std::vector<char>());
    strings.put("");
    samples.put(s);
    doubles.put(3.25);
    return 0;
  });
  EXPECT_EQ(chars.get(true, 30), std::vector<char>(text.begin(), text.end()));
  EXPECT_TRUE(chars.get(true, 30).empty());
  EXPECT_EQ(strings.get(true, 30), "");
  const Sample got = samples.get(true, 30);
  EXPECT_EQ(got.id, 42);
  EXPECT_EQ(got.value, -1.5);
  EXPECT_EQ(std::string(got.tag, 4), "wxyz");
  EXPECT_EQ(doubles.get(true, 30), 3.25);
  EXPECT_EQ(WaitExit(pid), 0);
}

// ---------------------------------------------------------------------------------------------
// Named queues (beyond CPython)

TEST(QueueTest, Named_CreateThenOpenByNameInAnotherProcess) {
  NameGuard name(UniqueName("q"));
  Queue<std::string> q = Queue<std::string>::Create(name.name(), 2);
  Channel got_both;
  const pid_t pid = Fork([&] {
    // Not the inherited handle: a fresh mapping opened by name.
    Queue<std::string> other = Queue<std::string>::Open(name.name());
    if (other.maxsize() != 2) return 3;
    other.put("from child");
    other.put("second");
    if (!got_both.Receive<char>()) return 5;  // so that it does not get its own items back
    if (other.get(true, 30) != "from parent") return 4;
    return 0;
  });
  EXPECT_EQ(q.get(true, 30), "from child");
  EXPECT_EQ(q.get(true, 30), "second");
  got_both.Send('g');
  q.put("from parent");
  EXPECT_EQ(WaitExit(pid), 0);
  EXPECT_TRUE(q.empty());
}

TEST(QueueTest, Named_JoinableAndSimpleQueuesShareTheirStateByName) {
  NameGuard jname(UniqueName("jq"));
  NameGuard sname(UniqueName("sq"));
  auto jq = JoinableQueue<int32_t>::Create(jname.name());
  auto sq = SimpleQueue<int32_t>::Create(sname.name());
  jq.put(1);
  jq.put(2);
  const pid_t pid = Fork([&] {
    auto j = JoinableQueue<int32_t>::Open(jname.name());
    auto s = SimpleQueue<int32_t>::Open(sname.name());
    for (int i = 0; i < 2; ++i) {
      s.put(j.get(true, 30));
      j.task_done();
    }
    return 0;
  });
  EXPECT_TRUE(jq.join(30));
  EXPECT_EQ(WaitExit(pid), 0);
  EXPECT_EQ(sq.get(), 1);
  EXPECT_EQ(sq.get(), 2);
  EXPECT_TRUE(sq.empty());
}

TEST(QueueTest, Named_OpenMissingIsENOENTCreateExistingIsEEXIST) {
  NameGuard name(UniqueName("errors"));
  try {
    Queue<int32_t>::Open(name.name());
    ADD_FAILURE() << "Open of a missing name did not throw";
  } catch (const OSError& e) {
    EXPECT_EQ(e.errnum(), ENOENT) << e.what();
    EXPECT_EQ(e.python_name(), "FileNotFoundError");
  }
  auto q = Queue<int32_t>::Create(name.name());
  try {
    Queue<int32_t>::Create(name.name());
    ADD_FAILURE() << "Create of an existing name did not throw";
  } catch (const OSError& e) {
    EXPECT_EQ(e.errnum(), EEXIST) << e.what();
    EXPECT_EQ(e.python_name(), "FileExistsError");
  }
  // A queue of another kind under that name.
  EXPECT_TRUE(Throws<ValueError>([&] { JoinableQueue<int32_t>::Open(name.name()); }));
  EXPECT_TRUE(Throws<ValueError>([&] { SimpleQueue<int32_t>::Open(name.name()); }));
}

TEST(QueueTest, Named_UnlinkRemovesTheNameTheQueueLivesOn) {
  NameGuard name(UniqueName("unlink"));
  auto q = Queue<int32_t>::Create(name.name());
  auto opened = Queue<int32_t>::Open(name.name());
  EXPECT_TRUE(Queue<int32_t>::Unlink(name.name()));
  EXPECT_FALSE(Queue<int32_t>::Unlink(name.name()));
  try {
    Queue<int32_t>::Open(name.name());
    ADD_FAILURE() << "Open after Unlink did not throw";
  } catch (const OSError& e) {
    EXPECT_EQ(e.errnum(), ENOENT);
  }
  q.put(5);
  EXPECT_EQ(opened.get(true, 10), 5);
  // The name is free again.
  auto again = Queue<int32_t>::Create(name.name());
  EXPECT_TRUE(again.empty());
}

// ---------------------------------------------------------------------------------------------
// 1.K JoinableQueue

TEST(JoinableQueueTest, JQ_COUNT_PutRaisesTheCountTaskDoneLowersIt) {
  JoinableQueue<std::string> q(0, QueueOptions{.ring_bytes = 4 * kKiB});
  EXPECT_EQ(q.unfinished_tasks(), 0);
  q.put("a");
  EXPECT_EQ(q.unfinished_tasks(), 1);  // at put time
  q.put(std::string(20000, 'b'));      // larger than the ring: still buffered, already counted
  EXPECT_EQ(q.unfinished_tasks(), 2);
  EXPECT_FALSE(q.join(0.1));
  EXPECT_EQ(q.get(true, 10), "a");
  EXPECT_EQ(q.unfinished_tasks(), 2);  // get() does not lower it
  q.task_done();
  EXPECT_EQ(q.unfinished_tasks(), 1);
  EXPECT_FALSE(q.join(0));
  EXPECT_EQ(q.get(true, 10).size(), 20000u);
  q.task_done();
  EXPECT_EQ(q.unfinished_tasks(), 0);
  EXPECT_TRUE(q.join(0));
}

TEST(JoinableQueueTest, JQ_COUNT_JoinBlocksUntilTheLastTaskDone) {
  JoinableQueue<int32_t> q;
  q.put(1);
  q.put(2);
  Channel go;
  const pid_t pid = Fork([&] {
    if (!go.Receive<char>()) return 2;
    q.get(true, 30);
    q.task_done();
    ::usleep(200 * 1000);  // the parent must still be waiting
    q.get(true, 30);
    q.task_done();
    return 0;
  });
  const auto start = Clock::now();
  go.Send('g');
  q.join();
  EXPECT_GE(SecondsSince(start), 0.19);
  EXPECT_EQ(q.unfinished_tasks(), 0);
  EXPECT_EQ(WaitExit(pid), 0);
}

TEST(JoinableQueueTest, JQ_TOO_MANY_TaskDoneAtZeroIsValueError) {
  JoinableQueue<int32_t> fresh;
  EXPECT_TRUE(
      ThrowsExactly<ValueError>([&] { fresh.task_done(); }, "task_done() called too many times"));
  JoinableQueue<int32_t> q;
  q.put(1);
  q.get(true, 10);
  q.task_done();
  EXPECT_TRUE(
      ThrowsExactly<ValueError>([&] { q.task_done(); }, "task_done() called too many times"));
  EXPECT_EQ(q.unfinished_tasks(), 0);  // the failed call changed nothing
  q.put(2);
  EXPECT_EQ(q.unfinished_tasks(), 1);
}

TEST(JoinableQueueTest, JQ_DECOUPLED_TaskDoneNeedsNoGet) {
  JoinableQueue<int32_t> q;
  q.put(1);
  q.put(2);
  q.task_done();
  q.task_done();
  EXPECT_TRUE(q.join(0));
  EXPECT_TRUE(Throws<ValueError>([&] { q.task_done(); }));
  EXPECT_EQ(q.qsize(), 2);  // the items are still there
  EXPECT_EQ(q.get(true, 10), 1);
  EXPECT_EQ(q.get(true, 10), 2);
}

TEST(JoinableQueueTest, JQ_JOIN_ZERO_JoinReturnsAtOnceWhenNothingIsUnfinished) {
  JoinableQueue<int32_t> q;
  const auto start = Clock::now();
  q.join();
  EXPECT_TRUE(q.join(0));
  EXPECT_TRUE(q.join(-1));
  q.put(1);
  q.task_done();
  q.join();
  EXPECT_LT(SecondsSince(start), 1.0);
}

TEST(JoinableQueueTest, JQ_JoinWithTimeoutReturnsFalseWhileTasksRemain) {
  JoinableQueue<int32_t> q;
  q.put(1);
  for (const double t : {0.0, 0.1, 0.3}) {
    const auto start = Clock::now();
    EXPECT_FALSE(q.join(t));
    const double elapsed = SecondsSince(start);
    EXPECT_GE(elapsed, t - 0.01);
    EXPECT_LT(elapsed, t + 2);
  }
  q.task_done();
  EXPECT_TRUE(q.join(0));
}

TEST(JoinableQueueTest, JQ_XPROC_TaskDoneInWorkersReleasesJoinInTheParent) {
  constexpr int kWorkers = 3;
  constexpr int kItems = 300;
  JoinableQueue<int32_t> q(10);
  Channel done;
  std::vector<pid_t> pids;
  for (int w = 0; w < kWorkers; ++w) {
    pids.push_back(Fork([&] {
      int32_t handled = 0;
      for (;;) {
        const int32_t v = q.get(true, 30);
        if (v < 0) {
          q.task_done();
          done.Send(handled);
          return 0;
        }
        ++handled;
        q.task_done();
      }
    }));
  }
  for (int i = 0; i < kItems; ++i) q.put(i, true, 30);
  for (int w = 0; w < kWorkers; ++w) q.put(-1, true, 30);
  EXPECT_TRUE(q.join(60));
  EXPECT_EQ(q.unfinished_tasks(), 0);
  int32_t total = 0;
  for (int w = 0; w < kWorkers; ++w) {
    const auto n = done.Receive<int32_t>();
    ASSERT_TRUE(n.has_value());
    total += *n;
  }
  EXPECT_EQ(total, kItems);
  for (const pid_t pid : pids) EXPECT_EQ(WaitExit(pid), 0);
}

TEST(JoinableQueueTest, JQ_CLOSED_TaskDoneAndJoinWorkAfterClose) {
  JoinableQueue<int32_t> q;
  q.put(1);
  q.put(2);
  q.close();
  EXPECT_FALSE(q.join(0.05));
  q.task_done();
  q.task_done();
  EXPECT_TRUE(q.join(1));
  q.join();
  EXPECT_TRUE(Throws<ValueError>([&] { q.task_done(); }, "task_done() called too many times"));
}

TEST(JoinableQueueTest, JQ_SUBCLASS_QueueClausesApply) {
  JoinableQueue<int32_t> q(1);
  q.put(1);
  EXPECT_TRUE(q.full());
  EXPECT_TRUE(Throws<Full>([&] { q.put(2, false); }));
  EXPECT_EQ(q.unfinished_tasks(), 1);  // a failed put is not a task
  EXPECT_EQ(q.get_nowait(), 1);
  EXPECT_TRUE(Throws<Empty>([&] { q.get_nowait(); }));
}

// ---------------------------------------------------------------------------------------------
// 1.L SimpleQueue

TEST(SimpleQueueTest, SQ_API_PutGetEmptyClose) {
  SimpleQueue<std::string> q;
  EXPECT_TRUE(q.empty());
  q.put("one");
  EXPECT_FALSE(q.empty());
  q.put(Pattern(10 * kMiB, 5).substr(0, 3 * kMiB));  // larger than half the default ring
  EXPECT_EQ(q.get(), "one");
  EXPECT_EQ(q.get(), Pattern(10 * kMiB, 5).substr(0, 3 * kMiB));
  EXPECT_TRUE(q.empty());
  q.close();
}

TEST(SimpleQueueTest, SQ_EMPTY_SYNC_EmptyIsFalseInEveryProcessOncePutReturns) {
  SimpleQueue<bool> q;
  const pid_t pid = Fork([&] {
    q.put(q.empty());
    q.put(q.empty());
    return 0;
  });
  ASSERT_EQ(WaitExit(pid), 0);  // SimpleQueue writes synchronously: nothing is left to flush
  EXPECT_TRUE(q.get());
  EXPECT_FALSE(q.get());
  EXPECT_TRUE(q.empty());
}

TEST(SimpleQueueTest, SQ_CLOSE_HandleIsClosedAfterClose) {
  for (const bool used : {false, true}) {
    SCOPED_TRACE(used);
    SimpleQueue<int32_t> q;
    if (used) {
      q.put(1);
      q.put(2);
      EXPECT_EQ(q.get(), 1);
    }
    q.close();
    q.close();  // idempotent
    EXPECT_TRUE(ThrowsExactly<OSError>([&] { q.empty(); }, "handle is closed"));
    EXPECT_TRUE(ThrowsExactly<OSError>([&] { q.get(); }, "handle is closed"));
    EXPECT_TRUE(ThrowsExactly<OSError>([&] { q.put(3); }, "handle is closed"));
    try {
      q.put(3);
    } catch (const OSError& e) {
      EXPECT_EQ(e.errnum(), 0);
    }
  }
}

TEST(SimpleQueueTest, SQ_ORDER_ExactlyOnceAndFifoPerProducer) {
  constexpr int kProducers = 3;
  constexpr int kPer = 2000;
  struct Item {
    int32_t producer;
    int32_t seq;
  };
  SimpleQueue<Item> q;
  std::vector<pid_t> pids;
  for (int p = 0; p < kProducers; ++p) {
    pids.push_back(Fork([&, p] {
      for (int i = 0; i < kPer; ++i) q.put(Item{p, i});
      return 0;
    }));
  }
  // The items fit in the ring, and put() is synchronous: once the producers are gone, get()
  // cannot block.
  for (const pid_t pid : pids) ASSERT_EQ(WaitExit(pid), 0);
  std::vector<int> next(kProducers, 0);
  for (int n = 0; n < kProducers * kPer; ++n) {
    const Item it = q.get();
    ASSERT_GE(it.producer, 0);
    ASSERT_LT(it.producer, kProducers);
    ASSERT_EQ(it.seq, next[it.producer]);
    ++next[it.producer];
  }
  EXPECT_TRUE(q.empty());
}

TEST(SimpleQueueTest, SQ_GET_BlocksUntilAnItemArrives) {
  SimpleQueue<int32_t> q;
  Channel go;
  const pid_t pid = Fork([&] {
    if (!go.Receive<char>()) return 2;
    ::usleep(200 * 1000);
    q.put(42);
    return 0;
  });
  const auto start = Clock::now();
  go.Send('g');
  EXPECT_EQ(q.get(), 42);
  EXPECT_GE(SecondsSince(start), 0.19);
  EXPECT_EQ(WaitExit(pid), 0);
}

TEST(SimpleQueueTest, SQ_PUT_SYNC_SerializationErrorRaisedFromPut) {
  SimpleQueue<mpipc_queue_test::Unpicklable> q;
  EXPECT_TRUE(Throws<SerializationError>([&] { q.put(mpipc_queue_test::Unpicklable{}); }));
  EXPECT_TRUE(q.empty());
}

}  // namespace
}  // namespace mpipc
