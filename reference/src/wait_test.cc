// Tests of mpipc::wait against semantics.md §1.I (WAIT-*). Timing assertions give lower bounds
// only, with generous upper bounds; "blocks until" tests arrange for the event to come from
// another thread or process after a known delay.

#include "mpipc/wait.h"

#include <errno.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <typeinfo>
#include <vector>

#include "mpipc/connection.h"
#include "mpipc/errors.h"
#include "test_support.h"

namespace mpipc {
namespace {

using testing_support::Clock;
using testing_support::SecondsSince;
using testing_support::ThrowsExactly;
using testing_support::WaitChild;

// ---------------------------------------------------------------------------------------------

TEST(Wait, WAIT_RET_ReturnsTheSameObjects) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  Connection c, d;
  std::tie(c, d) = Pipe();
  a.send_bytes("x");
  const std::vector<Waitable> ready = wait({b, d}, 0);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].connection(), &b);
  EXPECT_EQ(ready[0], Waitable(b));
  EXPECT_NE(ready[0], Waitable(d));
}

TEST(Wait, WAIT_RET_RawDescriptorComesBackAsDescriptor) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  a.send_bytes("x");
  const int fd = b.fileno();
  const std::vector<Waitable> ready = wait({fd}, 0);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].connection(), nullptr);
  EXPECT_EQ(ready[0].fileno(), fd);
  EXPECT_EQ(ready[0], Waitable(fd));
}

TEST(Wait, WAIT_RET_EmptyOnTimeout) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  EXPECT_TRUE(wait({b}, 0.05).empty());
  EXPECT_TRUE(wait({a, b}, 0).empty());
}

TEST(Wait, WAIT_ORDER_KeepsListOrder) {
  Connection a, a_peer;
  std::tie(a, a_peer) = Pipe();
  Connection b, b_peer;
  std::tie(b, b_peer) = Pipe();
  Connection c, c_peer;
  std::tie(c, c_peer) = Pipe();
  a_peer.send_bytes("a");
  c_peer.send_bytes("c");
  std::vector<Waitable> ready = wait({a, b, c}, 0);
  ASSERT_EQ(ready.size(), 2u);
  EXPECT_EQ(ready[0].connection(), &a);
  EXPECT_EQ(ready[1].connection(), &c);
  ready = wait({c, b, a}, 0);
  ASSERT_EQ(ready.size(), 2u);
  EXPECT_EQ(ready[0].connection(), &c);
  EXPECT_EQ(ready[1].connection(), &a);
}

TEST(Wait, WAIT_READY_DataMakesReadyOthersNot) {
  Connection a, a_peer;
  std::tie(a, a_peer) = Pipe();
  Connection b, b_peer;
  std::tie(b, b_peer) = Pipe();
  b_peer.send_bytes("");  // even an empty message is a readable byte stream
  const std::vector<Waitable> ready = wait({a, b}, 1.0);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].connection(), &b);
}

TEST(Wait, WAIT_READY_EndOfStreamIsReady) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  Connection r, w;
  std::tie(r, w) = Pipe(false);
  a.close();
  w.close();
  const std::vector<Waitable> ready = wait({b, r}, 1.0);
  ASSERT_EQ(ready.size(), 2u);
  EXPECT_EQ(ready[0].connection(), &b);
  EXPECT_EQ(ready[1].connection(), &r);
  EXPECT_THROW(b.recv_bytes(), EOFError);
}

TEST(Wait, WAIT_READY_SimplexWriterIsNeverReady) {
  Connection r, w;
  std::tie(r, w) = Pipe(false);
  const auto start = Clock::now();
  EXPECT_TRUE(wait({w}, 0.2).empty());
  EXPECT_GE(SecondsSince(start), 0.2);
}

TEST(Wait, WAIT_TYPES_ProcessSentinel) {
  // A descriptor that becomes ready when a child exits, like Process.sentinel.
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  Connection go_r, go_w;
  std::tie(go_r, go_w) = Pipe(false);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    try {
      go_w.close();
      go_r.recv_bytes();
    } catch (...) {
      ::_exit(1);
    }
    ::_exit(0);  // closes fds[1]
  }
  ::close(fds[1]);
  go_r.close();
  EXPECT_TRUE(wait({fds[0]}, 0.1).empty());  // the child is still running
  go_w.send_bytes("exit");
  const std::vector<Waitable> ready = wait({fds[0]});
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].fileno(), fds[0]);
  EXPECT_EQ(WaitChild(pid), 0);
  ::close(fds[0]);
}

TEST(Wait, WAIT_TYPES_MixedConnectionsAndDescriptors) {
  Connection a, a_peer;
  std::tie(a, a_peer) = Pipe();
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ASSERT_EQ(::write(fds[1], "z", 1), 1);
  a_peer.send_bytes("a");
  const std::vector<Waitable> ready = wait({fds[0], a}, 0);
  ASSERT_EQ(ready.size(), 2u);
  EXPECT_EQ(ready[0], Waitable(fds[0]));
  EXPECT_EQ(ready[1].connection(), &a);
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST(Wait, WAIT_ITERABLE_AcceptsAVector) {
  std::vector<Connection> conns;
  std::vector<Connection> peers;
  for (int i = 0; i < 5; ++i) {
    Connection x, y;
    std::tie(x, y) = Pipe();
    conns.push_back(std::move(x));
    peers.push_back(std::move(y));
  }
  peers[1].send_bytes("1");
  peers[3].send_bytes("3");
  std::vector<Waitable> objects(conns.begin(), conns.end());
  const std::vector<Waitable> ready = wait(objects, 0);
  ASSERT_EQ(ready.size(), 2u);
  EXPECT_EQ(ready[0].connection(), &conns[1]);
  EXPECT_EQ(ready[1].connection(), &conns[3]);
}

TEST(Wait, WAIT_TIMEOUT_NegativeReturnsAtOnce) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  const auto start = Clock::now();
  EXPECT_TRUE(wait({b}, -1).empty());
  EXPECT_TRUE(wait({b}, -1e9).empty());
  EXPECT_LT(SecondsSince(start), 2.0);
  a.send_bytes("x");
  EXPECT_EQ(wait({b}, -1).size(), 1u);
}

TEST(Wait, WAIT_TIMEOUT_ZeroPollsOnce) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  EXPECT_TRUE(wait({b}, 0).empty());
  a.send_bytes("x");
  EXPECT_EQ(wait({b}, 0).size(), 1u);
}

TEST(Wait, WAIT_TIMEOUT_PositiveWaitsAtLeastTimeout) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  const auto start = Clock::now();
  EXPECT_TRUE(wait({b}, 0.3).empty());
  const double waited = SecondsSince(start);
  EXPECT_GE(waited, 0.3);
  EXPECT_LT(waited, 3.0);
}

TEST(Wait, WAIT_TIMEOUT_NoneBlocksUntilReadyFromThread) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  Connection c, d;
  std::tie(c, d) = Pipe();
  const auto start = Clock::now();
  std::jthread sender([&c = c] {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    c.send_bytes("late");
  });
  const std::vector<Waitable> ready = wait({b, d});
  const double waited = SecondsSince(start);
  sender.join();
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].connection(), &d);
  EXPECT_GE(waited, 0.15);
}

TEST(Wait, WAIT_TIMEOUT_NoneBlocksUntilReadyFromProcess) {
  Connection r, w;
  std::tie(r, w) = Pipe(false);
  const auto start = Clock::now();
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::usleep(200 * 1000);
    try {
      w.send_bytes("from child");
    } catch (...) {
      ::_exit(1);
    }
    ::_exit(0);
  }
  w.close();
  const std::vector<Waitable> ready = wait({r}, std::nullopt);
  const double waited = SecondsSince(start);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_GE(waited, 0.2);
  EXPECT_EQ(r.recv_bytes(), "from child");
  EXPECT_EQ(WaitChild(pid), 0);
}

TEST(Wait, WAIT_EMPTY_SleepsForTimeout) {
  const auto start = Clock::now();
  EXPECT_TRUE(wait(std::vector<Waitable>{}, 0.3).empty());
  const double waited = SecondsSince(start);
  EXPECT_GE(waited, 0.3);
  EXPECT_LT(waited, 3.0);
  EXPECT_TRUE(wait(std::vector<Waitable>{}, 0).empty());
}

TEST(Wait, WAIT_EMPTY_NoneBlocksForever) {
  int alive[2];
  ASSERT_EQ(::pipe(alive), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(alive[0]);
    wait(std::vector<Waitable>{}, std::nullopt);
    ::_exit(0);  // closes alive[1] early: the parent sees it
  }
  ::close(alive[1]);
  // The child's end of `alive` stays open while the child is blocked in wait().
  struct pollfd p {};
  p.fd = alive[0];
  p.events = POLLIN;
  EXPECT_EQ(::poll(&p, 1, 300), 0) << "wait({}, nullopt) returned";
  ::kill(pid, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  ::close(alive[0]);
}

TEST(Wait, WAIT_CLOSED_ClosedConnectionRaises) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  Connection c, d;
  std::tie(c, d) = Pipe();
  c.send_bytes("ready");  // a ready object earlier in the list does not change the outcome
  b.close();
  EXPECT_TRUE(ThrowsExactly<OSError>([&] { wait({d, b}, 0); }, "handle is closed"));
  EXPECT_TRUE(ThrowsExactly<OSError>([&] { wait({b}, std::nullopt); }, "handle is closed"));
}

TEST(Wait, WAIT_CLOSED_NegativeDescriptorRaises) {
  EXPECT_TRUE(ThrowsExactly<ValueError>([&] { wait({-1}, 0); }, "Invalid file descriptor: -1"));
  EXPECT_TRUE(ThrowsExactly<ValueError>([&] { wait({-7}, 0); }, "Invalid file descriptor: -7"));
  EXPECT_TRUE(
      ThrowsExactly<ValueError>([&] { Waitable(-1).fileno(); }, "Invalid file descriptor: -1"));
}

TEST(Wait, WAIT_CLOSED_PeerClosedIsSimplyReady) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  a.close();
  const std::vector<Waitable> ready = wait({b}, std::nullopt);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].connection(), &b);
}

TEST(Wait, WAIT_DUP_SameConnectionTwice) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  const std::string expected = "fd " + std::to_string(b.fileno()) + " is already registered";
  EXPECT_TRUE(ThrowsExactly<ValueError>([&] { wait({b, b}, 0); }, expected));
  EXPECT_TRUE(ThrowsExactly<ValueError>([&] { wait({b, a, b}, 5.0); }, expected));
}

TEST(Wait, WAIT_DUP_ConnectionAndItsDescriptor) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  const int fd = b.fileno();
  const std::string expected = "fd " + std::to_string(fd) + " is already registered";
  EXPECT_TRUE(ThrowsExactly<ValueError>([&] { wait({b, fd}, 0); }, expected));
  EXPECT_TRUE(ThrowsExactly<ValueError>([&] { wait({fd, fd}, 0); }, expected));
}

// WAIT-EINTR: a signal whose handler does not ask for SA_RESTART makes poll(2) fail with EINTR;
// wait() must retry with the time left, neither returning early nor raising.
std::atomic<int> g_alarms{0};
// When >= 0, the handler also writes one byte here per signal (write(2) is async-signal-safe).
std::atomic<int> g_alarm_pipe{-1};
void OnAlarm(int) {
  const int saved_errno = errno;
  g_alarms.fetch_add(1, std::memory_order_relaxed);
  const int fd = g_alarm_pipe.load();
  if (fd >= 0) (void)!::write(fd, "!", 1);
  errno = saved_errno;
}

class WaitEintr : public testing::Test {
 protected:
  void SetUp() override {
    g_alarms = 0;
    struct sigaction sa {};
    sa.sa_handler = &OnAlarm;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART
    ASSERT_EQ(::sigaction(SIGALRM, &sa, &saved_), 0);
    sigset_t unblock;
    sigemptyset(&unblock);
    sigaddset(&unblock, SIGALRM);
    ASSERT_EQ(::pthread_sigmask(SIG_UNBLOCK, &unblock, &saved_mask_), 0);
  }
  void TearDown() override {
    StopTimer();
    g_alarm_pipe = -1;
    ::sigaction(SIGALRM, &saved_, nullptr);
    ::pthread_sigmask(SIG_SETMASK, &saved_mask_, nullptr);
  }
  // Fires SIGALRM after `first_us`, then every `interval_us`.
  static void StartTimer(long first_us, long interval_us) {
    struct itimerval t {};
    t.it_value.tv_usec = first_us;
    t.it_interval.tv_usec = interval_us;
    ASSERT_EQ(::setitimer(ITIMER_REAL, &t, nullptr), 0);
  }
  static void StopTimer() {
    struct itimerval t {};
    ::setitimer(ITIMER_REAL, &t, nullptr);
  }

  struct sigaction saved_ {};
  sigset_t saved_mask_{};
};

TEST_F(WaitEintr, WAIT_EINTR_SignalDoesNotShortenTimedWait) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  StartTimer(100 * 1000, 0);  // one signal, 0.1 s into the wait
  const auto start = Clock::now();
  std::vector<Waitable> ready;
  EXPECT_NO_THROW(ready = wait({b}, 0.5));
  const double waited = SecondsSince(start);
  EXPECT_EQ(g_alarms.load(), 1) << "the signal did not fire during wait()";
  EXPECT_TRUE(ready.empty());
  EXPECT_GE(waited, 0.45);
  EXPECT_LT(waited, 2.5);
}

TEST_F(WaitEintr, WAIT_EINTR_SignalStormDuringTimedWait) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  StartTimer(20 * 1000, 40 * 1000);  // about a dozen signals during the wait
  const auto start = Clock::now();
  std::vector<Waitable> ready;
  EXPECT_NO_THROW(ready = wait({b}, 0.5));
  const double waited = SecondsSince(start);
  StopTimer();
  EXPECT_GE(g_alarms.load(), 2);
  EXPECT_TRUE(ready.empty());
  EXPECT_GE(waited, 0.5);
  EXPECT_LT(waited, 2.5);
}

TEST_F(WaitEintr, WAIT_EINTR_SignalDuringUnlimitedWaitThenData) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  int alarms[2];
  ASSERT_EQ(::pipe(alarms), 0);
  g_alarm_pipe = alarms[1];
  // The sender blocks SIGALRM, so every signal lands on the waiting thread; it sends once it has
  // seen three of them.
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGALRM);
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &block, nullptr), 0);
  std::jthread sender([&a = a, fd = alarms[0]] {
    char c;
    for (int seen = 0; seen < 3;) {
      const ssize_t r = ::read(fd, &c, 1);
      if (r == 1) ++seen;
      if (r == 0 || (r < 0 && errno != EINTR)) break;
    }
    a.send_bytes("after signals");
  });
  ASSERT_EQ(::pthread_sigmask(SIG_UNBLOCK, &block, nullptr), 0);
  StartTimer(20 * 1000, 20 * 1000);
  std::vector<Waitable> ready;
  EXPECT_NO_THROW(ready = wait({b}, std::nullopt));
  StopTimer();
  sender.join();
  g_alarm_pipe = -1;
  ::close(alarms[0]);
  ::close(alarms[1]);
  EXPECT_GE(g_alarms.load(), 3);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(b.recv_bytes(), "after signals");
}

TEST(Wait, WAIT_NOCONSUME_DataStaysAfterWait) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  a.send_bytes("m1");
  a.send_bytes("m2");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(wait({b}, 0).size(), 1u);
  EXPECT_TRUE(b.poll());
  EXPECT_EQ(b.recv_bytes(), "m1");
  EXPECT_EQ(wait({b}, 0).size(), 1u);
  EXPECT_EQ(b.recv_bytes(), "m2");
  EXPECT_TRUE(wait({b}, 0).empty());
}

}  // namespace
}  // namespace mpipc
