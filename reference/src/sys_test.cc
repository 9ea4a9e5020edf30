// Tests of the syscall seam (sys.h) and, through it, of Connection under hostile kernels: EINTR
// storms, one-byte reads and writes, ECONNRESET, interrupted polls; plus SIGPIPE handling
// (H-SIGPIPE, CONN-SEND-EPIPE) and the errno -> Python name table of errors.h.
//
// The fakes are plain functions installed with ScopedSysOverride; their state is global and
// atomic, reset by each fixture.

#include "mpipc/sys.h"

#include <errno.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <typeinfo>
#include <vector>

#include "mpipc/connection.h"
#include "mpipc/errors.h"
#include "mpipc/wait.h"
#include "test_support.h"

namespace mpipc {
namespace {

using testing_support::BackgroundWriter;
using testing_support::Clock;
using testing_support::SecondsSince;
using testing_support::ThrowsErrno;

// ---------------------------------------------------------------------------------------------
// Fakes. Each keeps counters so that a test can prove the fault was really injected.

struct FakeState {
  std::atomic<int> calls{0};
  std::atomic<int> faults{0};      // failures injected so far
  std::atomic<int> fault_left{0};  // failures still to inject (where bounded)
  std::atomic<int> fault_errno{EINTR};
};
FakeState g_read, g_write, g_poll, g_accept, g_connect;

void ResetFakes() {
  for (FakeState* s : {&g_read, &g_write, &g_poll, &g_accept, &g_connect}) {
    s->calls = 0;
    s->faults = 0;
    s->fault_left = 0;
    s->fault_errno = EINTR;
  }
}

// Every call but each third fails with EINTR.
ssize_t ReadEintrStorm(int fd, void* buf, size_t n) {
  if (g_read.calls.fetch_add(1) % 3 != 2) {
    g_read.faults.fetch_add(1);
    errno = EINTR;
    return -1;
  }
  return ::read(fd, buf, n);
}

// Returns at most one byte per call.
ssize_t ReadOneByte(int fd, void* buf, size_t n) {
  g_read.calls.fetch_add(1);
  return ::read(fd, buf, std::min<size_t>(n, 1));
}

// Both faults at once: EINTR on every other call, one byte otherwise.
ssize_t ReadEintrAndOneByte(int fd, void* buf, size_t n) {
  if (g_read.calls.fetch_add(1) % 2 == 0) {
    g_read.faults.fetch_add(1);
    errno = EINTR;
    return -1;
  }
  return ::read(fd, buf, std::min<size_t>(n, 1));
}

// Lets `fault_left` reads through, then fails every read with `fault_errno`.
ssize_t ReadFailsAfter(int fd, void* buf, size_t n) {
  g_read.calls.fetch_add(1);
  if (g_read.fault_left.fetch_sub(1) <= 0) {
    g_read.faults.fetch_add(1);
    errno = g_read.fault_errno.load();
    return -1;
  }
  return ::read(fd, buf, n);
}

// The first byte of an iovec array (nullptr when all are empty).
const struct iovec* FirstNonEmpty(const struct iovec* iov, int iovcnt) {
  for (int i = 0; i < iovcnt; ++i) {
    if (iov[i].iov_len > 0) return &iov[i];
  }
  return nullptr;
}

// Writes one byte per call; with g_write.fault_left > 0 every other call fails with EINTR.
ssize_t WritevOneByte(int fd, const struct iovec* iov, int iovcnt) {
  if (g_write.calls.fetch_add(1) % 2 == 0 && g_write.fault_left.load() > 0) {
    g_write.faults.fetch_add(1);
    errno = EINTR;
    return -1;
  }
  const struct iovec* v = FirstNonEmpty(iov, iovcnt);
  if (v == nullptr) return 0;
  return ::write(fd, v->iov_base, 1);
}

ssize_t SendmsgOneByte(int fd, const struct msghdr* msg, int flags) {
  if (g_write.calls.fetch_add(1) % 2 == 0 && g_write.fault_left.load() > 0) {
    g_write.faults.fetch_add(1);
    errno = EINTR;
    return -1;
  }
  EXPECT_TRUE(flags & MSG_NOSIGNAL) << "socket write without MSG_NOSIGNAL";
  const struct iovec* v = FirstNonEmpty(msg->msg_iov, static_cast<int>(msg->msg_iovlen));
  if (v == nullptr) return 0;
  return ::send(fd, v->iov_base, 1, flags);
}

ssize_t WritevFails(int, const struct iovec*, int) {
  g_write.calls.fetch_add(1);
  errno = g_write.fault_errno.load();
  return -1;
}

ssize_t SendmsgFails(int, const struct msghdr*, int) {
  g_write.calls.fetch_add(1);
  errno = g_write.fault_errno.load();
  return -1;
}

// poll(2) that, `fault_left` times, first lets up to 100 ms of the requested timeout pass (as if
// a signal arrived then) and fails with EINTR; the timeouts it was given are recorded.
std::mutex g_poll_mu;
std::vector<int> g_poll_timeouts;
int PollSlowEintr(struct pollfd* fds, nfds_t nfds, int timeout_ms) {
  g_poll.calls.fetch_add(1);
  {
    std::lock_guard<std::mutex> lock(g_poll_mu);
    g_poll_timeouts.push_back(timeout_ms);
  }
  if (g_poll.fault_left.fetch_sub(1) > 0) {
    g_poll.faults.fetch_add(1);
    const int slice = timeout_ms < 0 ? 100 : std::min(timeout_ms, 100);
    ::poll(nullptr, 0, slice);
    errno = EINTR;
    return -1;
  }
  return ::poll(fds, nfds, timeout_ms);
}

// poll(2) that fails with `fault_errno` at once.
int PollFails(struct pollfd*, nfds_t, int) {
  g_poll.calls.fetch_add(1);
  errno = g_poll.fault_errno.load();
  return -1;
}

int Accept4Aborted(int fd, struct sockaddr* addr, socklen_t* len, int flags) {
  if (g_accept.fault_left.fetch_sub(1) > 0) {
    g_accept.faults.fetch_add(1);
    if (len != nullptr) *len = 0;  // scribble, as a failed call may
    errno = (g_accept.faults.load() % 2 == 1) ? ECONNABORTED : EINTR;
    return -1;
  }
  return ::accept4(fd, addr, len, flags);
}

// Connects for real, then reports EINTR, as a signal arriving during a blocking connect does.
int ConnectThenEintr(int fd, const struct sockaddr* addr, socklen_t len) {
  g_connect.calls.fetch_add(1);
  const int r = ::connect(fd, addr, len);
  if (r != 0) return r;
  g_connect.faults.fetch_add(1);
  errno = EINTR;
  return -1;
}

sys::Ops With(void (*edit)(sys::Ops&)) {
  sys::Ops ops = sys::DefaultOps();
  edit(ops);
  return ops;
}

class SysSeam : public testing::Test {
 protected:
  void SetUp() override {
    ResetFakes();
    std::lock_guard<std::mutex> lock(g_poll_mu);
    g_poll_timeouts.clear();
  }
};

// Sends a set of messages whose sizes straddle every framing boundary and checks they come back
// whole and in order. With a writer thread, so that pipes larger than the OS buffer work.
void ExpectFramingSurvives(Connection& reader, Connection& writer_conn) {
  std::vector<std::string> messages;
  for (size_t n : {0, 1, 3, 4, 5, 12, 13, 16383, 16384, 16385, 70000}) {
    std::string m(n, '\0');
    for (size_t i = 0; i < n; ++i) m[i] = static_cast<char>((i * 13 + n) & 0xff);
    messages.push_back(std::move(m));
  }
  BackgroundWriter writer(reader, [&] {
    try {
      for (const std::string& m : messages) writer_conn.send_bytes(m);
    } catch (...) {
      writer_conn.close();  // the reader sees the end of the stream instead of hanging
      throw;
    }
  });
  for (const std::string& m : messages) {
    std::string got;
    ASSERT_NO_THROW(got = reader.recv_bytes());
    EXPECT_EQ(got.size(), m.size());
    EXPECT_TRUE(got == m) << "message of " << m.size() << " bytes corrupted";
  }
  ASSERT_FALSE(writer.Join()) << "writer threw";
  EXPECT_FALSE(reader.poll());
}

// ---------------------------------------------------------------------------------------------
// Override mechanics

TEST_F(SysSeam, ScopedOverrideInstallsAndRestores) {
  EXPECT_EQ(sys::CurrentOps().read, sys::DefaultOps().read);
  {
    sys::ScopedSysOverride outer(With([](sys::Ops& o) { o.read = &ReadOneByte; }));
    EXPECT_EQ(sys::CurrentOps().read, &ReadOneByte);
    EXPECT_EQ(sys::CurrentOps().poll, sys::DefaultOps().poll);
    {
      sys::ScopedSysOverride inner(With([](sys::Ops& o) { o.read = &ReadEintrStorm; }));
      EXPECT_EQ(sys::CurrentOps().read, &ReadEintrStorm);
    }
    EXPECT_EQ(sys::CurrentOps().read, &ReadOneByte);
  }
  EXPECT_EQ(sys::CurrentOps().read, sys::DefaultOps().read);
}

// ---------------------------------------------------------------------------------------------
// Reads

TEST_F(SysSeam, ReadRetriesEintrStorm) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ASSERT_EQ(::write(fds[1], "abc", 3), 3);
  sys::ScopedSysOverride o(With([](sys::Ops& ops) { ops.read = &ReadEintrStorm; }));
  char buf[8];
  EXPECT_EQ(sys::Read(fds[0], buf, sizeof buf), 3);
  EXPECT_EQ(g_read.faults.load(), 2);
  EXPECT_EQ(std::string(buf, 3), "abc");
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST_F(SysSeam, ReadExactLoopsOverShortReadsAndStopsAtEof) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ASSERT_EQ(::write(fds[1], "hello", 5), 5);
  sys::ScopedSysOverride o(With([](sys::Ops& ops) { ops.read = &ReadOneByte; }));
  char buf[8] = {};
  EXPECT_EQ(sys::ReadExact(fds[0], buf, 3), 3);
  EXPECT_EQ(std::string(buf, 3), "hel");
  ::close(fds[1]);
  EXPECT_EQ(sys::ReadExact(fds[0], buf, 8), 2);  // short only at end of file
  EXPECT_EQ(std::string(buf, 2), "lo");
  EXPECT_EQ(sys::ReadExact(fds[0], buf, 8), 0);
  ::close(fds[0]);
}

TEST_F(SysSeam, ReadExactReportsErrors) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ASSERT_EQ(::write(fds[1], "hello", 5), 5);
  g_read.fault_left = 1;
  g_read.fault_errno = EIO;
  sys::ScopedSysOverride o(With([](sys::Ops& ops) { ops.read = &ReadFailsAfter; }));
  char buf[8];
  errno = 0;
  EXPECT_EQ(sys::ReadExact(fds[0], buf, 8), -1);  // 5 bytes, then an error
  EXPECT_EQ(errno, EIO);
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST_F(SysSeam, ConnectionFramesDespiteEintrStormOnRead) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  sys::ScopedSysOverride o(With([](sys::Ops& ops) { ops.read = &ReadEintrStorm; }));
  ExpectFramingSurvives(b, a);
  EXPECT_GT(g_read.faults.load(), 20);
}

TEST_F(SysSeam, ConnectionFramesDespiteOneByteReads) {
  for (bool duplex : {true, false}) {
    ResetFakes();
    Connection r, w;
    std::tie(r, w) = Pipe(duplex);
    sys::ScopedSysOverride o(With([](sys::Ops& ops) { ops.read = &ReadOneByte; }));
    ExpectFramingSurvives(r, w);
    // Every header and payload byte needed its own read.
    EXPECT_GE(g_read.calls.load(), 4 * 11 + 16383 + 16384 + 16385 + 70000);
  }
}

TEST_F(SysSeam, WriteAllLoopsOverShortWrites) {
  for (bool is_socket : {false, true}) {
    ResetFakes();
    int fds[2];
    ASSERT_EQ(is_socket ? ::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) : ::pipe(fds), 0);
    sys::ScopedSysOverride o(With([](sys::Ops& ops) {
      ops.sendmsg = &SendmsgOneByte;
      ops.writev = &WritevOneByte;
    }));
    char a[] = "head", b[] = "", c[] = "tail!";
    struct iovec iov[3] = {{a, 4}, {b, 0}, {c, 5}};
    EXPECT_EQ(sys::WriteAll(fds[1], iov, 3, is_socket), 0);
    EXPECT_EQ(g_write.calls.load(), 9);
    char buf[16] = {};
    EXPECT_EQ(::read(fds[0], buf, sizeof buf), 9);
    EXPECT_EQ(std::string(buf, 9), "headtail!");
    // The caller's iovec is left as it was.
    EXPECT_EQ(iov[0].iov_base, a);
    EXPECT_EQ(iov[0].iov_len, 4u);
    ::close(fds[0]);
    ::close(fds[1]);
  }
}

TEST_F(SysSeam, ConnectionFramesDespiteOneByteSocketWrites) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  sys::ScopedSysOverride o(With([](sys::Ops& ops) { ops.sendmsg = &SendmsgOneByte; }));
  a.send_bytes("hi");
  EXPECT_EQ(g_write.calls.load(), 6);  // 4 header bytes + 2 payload bytes, one call each
  EXPECT_EQ(b.recv_bytes(), "hi");
  ExpectFramingSurvives(b, a);
}

TEST_F(SysSeam, ConnectionFramesDespiteOneBytePipeWrites) {
  Connection r, w;
  std::tie(r, w) = Pipe(false);
  sys::ScopedSysOverride o(With([](sys::Ops& ops) { ops.writev = &WritevOneByte; }));
  w.send_bytes("");
  EXPECT_EQ(g_write.calls.load(), 4);
  EXPECT_EQ(r.recv_bytes(), "");
  ExpectFramingSurvives(r, w);
}

TEST_F(SysSeam, ConnectionFramesDespiteEintrOnWrites) {
  g_write.fault_left = 1;  // enables EINTR on every other call
  Connection a, b;
  std::tie(a, b) = Pipe();
  Connection r, w;
  std::tie(r, w) = Pipe(false);
  sys::ScopedSysOverride o(With([](sys::Ops& ops) {
    ops.sendmsg = &SendmsgOneByte;
    ops.writev = &WritevOneByte;
  }));
  ExpectFramingSurvives(b, a);
  ExpectFramingSurvives(r, w);
  EXPECT_GT(g_write.faults.load(), 100);
}

TEST_F(SysSeam, ConnectionFramesWithEveryFaultAtOnce) {
  g_write.fault_left = 1;
  Connection a, b;
  std::tie(a, b) = Pipe();
  sys::ScopedSysOverride o(With([](sys::Ops& ops) {
    ops.read = &ReadEintrAndOneByte;
    ops.sendmsg = &SendmsgOneByte;
    ops.writev = &WritevOneByte;
  }));
  ExpectFramingSurvives(b, a);
  ExpectFramingSurvives(a, b);
  EXPECT_GT(g_read.faults.load(), 100);
  EXPECT_GT(g_write.faults.load(), 100);
}

TEST_F(SysSeam, CONN_EOF_RESET_InjectedOnRead) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  a.send_bytes("never read");
  g_read.fault_left = 0;
  g_read.fault_errno = ECONNRESET;
  sys::ScopedSysOverride o(With([](sys::Ops& ops) { ops.read = &ReadFailsAfter; }));
  EXPECT_TRUE(ThrowsErrno([&] { b.recv_bytes(); }, ECONNRESET, "ConnectionResetError"));
  try {
    b.recv_bytes();
  } catch (const OSError& e) {
    EXPECT_EQ(e.code(), std::error_code(ECONNRESET, std::generic_category()));
    EXPECT_EQ(e.message(), "Connection reset by peer");
  }
}

TEST_F(SysSeam, CONN_EOF_RESET_InjectedInsidePayload) {
  for (bool into : {false, true}) {
    ResetFakes();
    Connection a, b;
    std::tie(a, b) = Pipe();
    a.send_bytes(std::string(100, 'x'));
    g_read.fault_left = 1;  // the header read succeeds, the payload read is reset
    g_read.fault_errno = ECONNRESET;
    sys::ScopedSysOverride o(With([](sys::Ops& ops) { ops.read = &ReadFailsAfter; }));
    std::vector<char> buf(200);
    EXPECT_TRUE(ThrowsErrno([&] { into ? b.recv_bytes_into(buf) : b.recv_bytes().size(); },
                            ECONNRESET, "ConnectionResetError"))
        << "into=" << into;
    EXPECT_EQ(g_read.calls.load(), 2) << "into=" << into;
    EXPECT_EQ(g_read.faults.load(), 1) << "into=" << into;
  }
}

// Not a fake: an AF_UNIX peer that closes with unread data in its receive queue resets.
TEST_F(SysSeam, CONN_EOF_RESET_AfUnixPeerClosedWithUnreadData) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  a.send_bytes("delivered");
  b.send_bytes("left unread in a");
  a.close();
  EXPECT_EQ(b.recv_bytes(), "delivered");
  EXPECT_TRUE(ThrowsErrno([&] { b.recv_bytes(); }, ECONNRESET, "ConnectionResetError"));
}

TEST_F(SysSeam, WriteErrorsAreRaisedWithTheirErrno) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  Connection r, w;
  std::tie(r, w) = Pipe(false);
  g_write.fault_errno = EIO;
  sys::ScopedSysOverride o(With([](sys::Ops& ops) {
    ops.sendmsg = &SendmsgFails;
    ops.writev = &WritevFails;
  }));
  EXPECT_TRUE(ThrowsErrno([&] { a.send_bytes("x"); }, EIO, "OSError"));
  EXPECT_TRUE(ThrowsErrno([&] { w.send_bytes("x"); }, EIO, "OSError"));
  g_write.fault_errno = ECONNRESET;
  EXPECT_TRUE(ThrowsErrno([&] { a.send_bytes("x"); }, ECONNRESET, "ConnectionResetError"));
  EXPECT_EQ(g_write.calls.load(), 3);  // no retry of a real error
}

// ---------------------------------------------------------------------------------------------
// Poll

TEST_F(SysSeam, PollEintrIsRetriedWithTheRemainingTime) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  g_poll.fault_left = 3;
  sys::ScopedSysOverride o(With([](sys::Ops& ops) { ops.poll = &PollSlowEintr; }));
  const auto start = Clock::now();
  EXPECT_FALSE(b.poll(0.5));
  const double waited = SecondsSince(start);
  EXPECT_EQ(g_poll.faults.load(), 3);
  EXPECT_GE(waited, 0.5);
  EXPECT_LT(waited, 2.5);
  std::lock_guard<std::mutex> lock(g_poll_mu);
  ASSERT_GE(g_poll_timeouts.size(), 4u);
  EXPECT_LE(g_poll_timeouts[0], 500);
  EXPECT_GT(g_poll_timeouts[0], 0);
  // Each retry asks only for what is left: at least 100 ms less than the previous call (+1 ms of
  // rounding up).
  for (size_t i = 1; i < 4; ++i) {
    EXPECT_LE(g_poll_timeouts[i], g_poll_timeouts[i - 1] - 99) << "call " << i;
  }
  EXPECT_GT(g_poll_timeouts[3], 0);  // and the deadline was not given up
}

TEST_F(SysSeam, PollEintrWithoutDeadlineKeepsWaiting) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  a.send_bytes("x");
  g_poll.fault_left = 3;
  sys::ScopedSysOverride o(With([](sys::Ops& ops) { ops.poll = &PollSlowEintr; }));
  EXPECT_TRUE(b.poll(std::nullopt));
  EXPECT_EQ(g_poll.faults.load(), 3);
  std::lock_guard<std::mutex> lock(g_poll_mu);
  ASSERT_EQ(g_poll_timeouts.size(), 4u);
  for (int t : g_poll_timeouts) EXPECT_EQ(t, -1);
}

TEST_F(SysSeam, PollEintrAfterDeadlinePollsOnceMore) {
  // An EINTR that arrives after the deadline leads to one last non-blocking poll, which still
  // reports data that arrived meanwhile.
  Connection a, b;
  std::tie(a, b) = Pipe();
  a.send_bytes("x");
  g_poll.fault_left = 1;
  sys::ScopedSysOverride o(With([](sys::Ops& ops) { ops.poll = &PollSlowEintr; }));
  EXPECT_TRUE(b.poll(0.05));
  std::lock_guard<std::mutex> lock(g_poll_mu);
  ASSERT_EQ(g_poll_timeouts.size(), 2u);
  EXPECT_EQ(g_poll_timeouts[1], 0);
}

TEST_F(SysSeam, WAIT_EINTR_RetriedThroughTheSeam) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  g_poll.fault_left = 2;
  sys::ScopedSysOverride o(With([](sys::Ops& ops) { ops.poll = &PollSlowEintr; }));
  const auto start = Clock::now();
  EXPECT_TRUE(wait({b}, 0.4).empty());
  EXPECT_GE(SecondsSince(start), 0.4);
  EXPECT_EQ(g_poll.faults.load(), 2);
}

TEST_F(SysSeam, PollErrorsOtherThanEintrAreRaised) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  g_poll.fault_errno = ENOMEM;
  sys::ScopedSysOverride o(With([](sys::Ops& ops) { ops.poll = &PollFails; }));
  EXPECT_TRUE(ThrowsErrno([&] { b.poll(1.0); }, ENOMEM, "OSError"));
  EXPECT_TRUE(ThrowsErrno([&] { wait({b}, 1.0); }, ENOMEM, "OSError"));
  EXPECT_EQ(g_poll.calls.load(), 2);
}

TEST(SysDeadline, DeadlineAfter) {
  EXPECT_FALSE(sys::DeadlineAfter(std::nullopt).has_value());
  const auto before = sys::Clock::now();
  for (double t : {0.0, -1.0, -1e300, std::nan("")}) {
    const sys::Deadline d = sys::DeadlineAfter(t);
    ASSERT_TRUE(d.has_value()) << t;
    EXPECT_GE(*d, before) << t;
    EXPECT_LE(*d, sys::Clock::now()) << t;
  }
  const sys::Deadline half = sys::DeadlineAfter(0.5);
  ASSERT_TRUE(half.has_value());
  EXPECT_GE(*half - before, std::chrono::milliseconds(500));
  // Huge and infinite timeouts do not overflow into the past.
  for (double t : {1e12, 1e300, std::numeric_limits<double>::infinity()}) {
    const sys::Deadline d = sys::DeadlineAfter(t);
    ASSERT_TRUE(d.has_value()) << t;
    EXPECT_GT(*d, sys::Clock::now() + std::chrono::hours(24 * 365)) << t;
  }
}

// ---------------------------------------------------------------------------------------------
// Accept and Connect

TEST_F(SysSeam, AcceptRetriesEintrAndConnAborted) {
  const int listener = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  // An abstract address: nothing to clean up on disk.
  const std::string name = "mpipc-sys-test-accept-" + std::to_string(::getpid());
  std::memcpy(addr.sun_path + 1, name.data(), name.size());
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), len), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  const int client = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&addr), len), 0);

  g_accept.fault_left = 4;
  sys::ScopedSysOverride o(With([](sys::Ops& ops) { ops.accept4 = &Accept4Aborted; }));
  struct sockaddr_un peer {};
  socklen_t peer_len = sizeof peer;
  const int conn = sys::Accept(listener, reinterpret_cast<sockaddr*>(&peer), &peer_len, 0);
  ASSERT_GE(conn, 0) << std::strerror(errno);
  EXPECT_EQ(g_accept.faults.load(), 4);
  // The length was reset before the successful call, so the address was filled in.
  EXPECT_EQ(peer.sun_family, AF_UNIX);
  Connection server(conn);
  Connection cl(client);
  cl.send_bytes("accepted");
  EXPECT_EQ(server.recv_bytes(), "accepted");
  ::close(listener);
}

TEST_F(SysSeam, ConnectEintrIsWaitedOutNotRetried) {
  const int listener = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  const std::string name = "mpipc-sys-test-connect-" + std::to_string(::getpid());
  std::memcpy(addr.sun_path + 1, name.data(), name.size());
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), len), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  const int client = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sys::ScopedSysOverride o(With([](sys::Ops& ops) { ops.connect = &ConnectThenEintr; }));
  EXPECT_EQ(sys::Connect(client, reinterpret_cast<sockaddr*>(&addr), len), 0)
      << std::strerror(errno);
  EXPECT_EQ(g_connect.calls.load(), 1);  // a second connect() would fail with EISCONN/EALREADY
  const int server = ::accept(listener, nullptr, nullptr);
  ASSERT_GE(server, 0);
  Connection s(server);
  Connection c(client);
  c.send_bytes("connected");
  EXPECT_EQ(s.recv_bytes(), "connected");
  ::close(listener);
}

// ---------------------------------------------------------------------------------------------
// SIGPIPE (H-SIGPIPE): with the default disposition, which kills the process, a write to a closed
// peer must raise OSError(EPIPE) and leave no SIGPIPE behind.

std::atomic<int> g_sigpipes{0};
void OnSigpipe(int) { g_sigpipes.fetch_add(1); }

class Sigpipe : public testing::Test {
 protected:
  void SetUp() override {
    g_sigpipes = 0;
    struct sigaction sa {};
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    ASSERT_EQ(::sigaction(SIGPIPE, &sa, &saved_action_), 0);
    ASSERT_EQ(::pthread_sigmask(SIG_SETMASK, nullptr, &saved_mask_), 0);
    sigset_t unblock;
    sigemptyset(&unblock);
    sigaddset(&unblock, SIGPIPE);
    ASSERT_EQ(::pthread_sigmask(SIG_UNBLOCK, &unblock, nullptr), 0);
  }
  void TearDown() override {
    ::pthread_sigmask(SIG_SETMASK, &saved_mask_, nullptr);
    ::sigaction(SIGPIPE, &saved_action_, nullptr);
  }
  static void Install(void (*handler)(int)) {
    struct sigaction sa {};
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    ASSERT_EQ(::sigaction(SIGPIPE, &sa, nullptr), 0);
  }
  static bool SigpipePending() {
    sigset_t pending;
    sigemptyset(&pending);
    ::sigpending(&pending);
    return sigismember(&pending, SIGPIPE) == 1;
  }
  static bool SigpipeBlocked() {
    sigset_t mask;
    ::pthread_sigmask(SIG_SETMASK, nullptr, &mask);
    return sigismember(&mask, SIGPIPE) == 1;
  }

  struct sigaction saved_action_ {};
  sigset_t saved_mask_{};
};

TEST_F(Sigpipe, CONN_SEND_EPIPE_PipeWithDefaultDispositionRaisesNotKills) {
  Connection r, w;
  std::tie(r, w) = Pipe(false);
  r.close();
  EXPECT_TRUE(ThrowsErrno([&] { w.send_bytes("x"); }, EPIPE, "BrokenPipeError"));
  EXPECT_TRUE(
      ThrowsErrno([&] { w.send_bytes(std::string(1 << 20, 'x')); }, EPIPE, "BrokenPipeError"));
  EXPECT_FALSE(SigpipePending());
  EXPECT_FALSE(SigpipeBlocked());  // the mask was restored
}

TEST_F(Sigpipe, CONN_SEND_EPIPE_SocketpairWithDefaultDispositionRaisesNotKills) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  b.close();
  EXPECT_TRUE(ThrowsErrno([&] { a.send_bytes("x"); }, EPIPE, "BrokenPipeError"));
  EXPECT_TRUE(
      ThrowsErrno([&] { a.send_bytes(std::string(1 << 20, 'x')); }, EPIPE, "BrokenPipeError"));
  EXPECT_FALSE(SigpipePending());
  EXPECT_FALSE(SigpipeBlocked());
}

// Also in a child process, where a SIGPIPE death shows as a signal in the exit status instead of
// killing the test binary.
TEST_F(Sigpipe, CONN_SEND_EPIPE_ChildWithDefaultDispositionSurvives) {
  for (bool duplex : {false, true}) {
    Connection r, w;
    std::tie(r, w) = Pipe(duplex);
    r.close();
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::signal(SIGPIPE, SIG_DFL);
      try {
        w.send_bytes("x");
      } catch (const OSError& e) {
        ::_exit(e.errnum() == EPIPE ? 0 : 2);
      } catch (...) {
        ::_exit(3);
      }
      ::_exit(4);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_FALSE(WIFSIGNALED(status))
        << "duplex=" << duplex << " child killed by signal " << WTERMSIG(status);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "duplex=" << duplex << " status " << status;
  }
}

TEST_F(Sigpipe, H_SIGPIPE_HandlerIsNotInvoked) {
  Install(&OnSigpipe);
  Connection r, w;
  std::tie(r, w) = Pipe(false);
  r.close();
  EXPECT_TRUE(ThrowsErrno([&] { w.send_bytes("x"); }, EPIPE, "BrokenPipeError"));
  Connection a, b;
  std::tie(a, b) = Pipe();
  b.close();
  EXPECT_TRUE(ThrowsErrno([&] { a.send_bytes("x"); }, EPIPE, "BrokenPipeError"));
  EXPECT_EQ(g_sigpipes.load(), 0);
  EXPECT_FALSE(SigpipePending());
}

TEST_F(Sigpipe, H_SIGPIPE_IgnoredStaysIgnored) {
  Install(SIG_IGN);
  Connection r, w;
  std::tie(r, w) = Pipe(false);
  r.close();
  EXPECT_TRUE(ThrowsErrno([&] { w.send_bytes("x"); }, EPIPE, "BrokenPipeError"));
  struct sigaction now {};
  ASSERT_EQ(::sigaction(SIGPIPE, nullptr, &now), 0);
  EXPECT_EQ(now.sa_handler, SIG_IGN);
}

TEST_F(Sigpipe, H_SIGPIPE_CallersPendingSignalIsKept) {
  // The caller blocks SIGPIPE and already has one pending; our write must not swallow it.
  Install(&OnSigpipe);
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGPIPE);
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &block, nullptr), 0);
  ASSERT_EQ(::pthread_kill(::pthread_self(), SIGPIPE), 0);
  ASSERT_TRUE(SigpipePending());
  Connection r, w;
  std::tie(r, w) = Pipe(false);
  r.close();
  EXPECT_TRUE(ThrowsErrno([&] { w.send_bytes("x"); }, EPIPE, "BrokenPipeError"));
  EXPECT_TRUE(SigpipePending());
  EXPECT_TRUE(SigpipeBlocked());
  EXPECT_EQ(g_sigpipes.load(), 0);
  // Unblocking delivers the caller's own signal.
  ASSERT_EQ(::pthread_sigmask(SIG_UNBLOCK, &block, nullptr), 0);
  EXPECT_EQ(g_sigpipes.load(), 1);
}

TEST_F(Sigpipe, H_SIGPIPE_CallerThatBlocksItIsLeftNoneOfOurs) {
  // The caller blocks SIGPIPE with none pending: the mask stays as it was and our write's
  // SIGPIPE does not outlive the call.
  Install(&OnSigpipe);
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGPIPE);
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &block, nullptr), 0);
  Connection r, w;
  std::tie(r, w) = Pipe(false);
  r.close();
  EXPECT_TRUE(ThrowsErrno([&] { w.send_bytes("x"); }, EPIPE, "BrokenPipeError"));
  EXPECT_FALSE(SigpipePending());
  EXPECT_TRUE(SigpipeBlocked());
  ASSERT_EQ(::pthread_sigmask(SIG_UNBLOCK, &block, nullptr), 0);
  EXPECT_EQ(g_sigpipes.load(), 0);
}

TEST_F(Sigpipe, H_SIGPIPE_IgnoredLeavesNothingPending) {
  Install(SIG_IGN);
  Connection r, w;
  std::tie(r, w) = Pipe(false);
  r.close();
  EXPECT_TRUE(ThrowsErrno([&] { w.send_bytes("x"); }, EPIPE, "BrokenPipeError"));
  EXPECT_FALSE(SigpipePending());
  EXPECT_FALSE(SigpipeBlocked());
}

// ---------------------------------------------------------------------------------------------
// errors.h: OSError and the errno -> Python name table.

TEST(OSErrorTest, ErrnoLessError) {
  const OSError e("handle is closed");
  EXPECT_STREQ(e.what(), "handle is closed");
  EXPECT_EQ(e.message(), "handle is closed");
  EXPECT_EQ(e.code(), std::error_code());
  EXPECT_EQ(e.errnum(), 0);
  EXPECT_EQ(e.python_name(), "OSError");
}

TEST(OSErrorTest, ErrnoError) {
  const OSError e = OSErrorFromErrno(EPIPE);
  EXPECT_STREQ(e.what(), "[Errno 32] Broken pipe");
  EXPECT_EQ(e.message(), "Broken pipe");
  EXPECT_EQ(e.code().value(), EPIPE);
  EXPECT_EQ(e.code().category(), std::generic_category());
  EXPECT_EQ(e.python_name(), "BrokenPipeError");
  const std::system_error& base = e;
  EXPECT_EQ(base.code(), std::errc::broken_pipe);
  const OSError zero(0, "plain");
  EXPECT_STREQ(zero.what(), "plain");
}

TEST(OSErrorTest, PythonNamesFollowPep3151) {
  const std::vector<std::pair<int, std::string_view>> table = {
      {EAGAIN, "BlockingIOError"},
      {EALREADY, "BlockingIOError"},
      {EINPROGRESS, "BlockingIOError"},
      {EWOULDBLOCK, "BlockingIOError"},
      {ECHILD, "ChildProcessError"},
      {EPIPE, "BrokenPipeError"},
      {ESHUTDOWN, "BrokenPipeError"},
      {ECONNABORTED, "ConnectionAbortedError"},
      {ECONNREFUSED, "ConnectionRefusedError"},
      {ECONNRESET, "ConnectionResetError"},
      {EEXIST, "FileExistsError"},
      {ENOENT, "FileNotFoundError"},
      {EINTR, "InterruptedError"},
      {EISDIR, "IsADirectoryError"},
      {ENOTDIR, "NotADirectoryError"},
      {EACCES, "PermissionError"},
      {EPERM, "PermissionError"},
      {ESRCH, "ProcessLookupError"},
      {ETIMEDOUT, "TimeoutError"},
      {EIO, "OSError"},
      {EBADF, "OSError"},
      {0, "OSError"},
  };
  for (const auto& [errnum, name] : table) {
    EXPECT_EQ(PythonOSErrorName(errnum), name) << "errno " << errnum;
    EXPECT_EQ(OSErrorFromErrno(errnum).python_name(), name) << "errno " << errnum;
  }
}

// A process whose other threads allocate all the time forks, and each child allocates before it
// exits. Under AddressSanitizer without a fork handler (LLVM < 18), about one child in a hundred
// inherits an allocator lock held by one of those threads and never exits; sys.cc installs the
// handler. Elsewhere the test guards libc's own fork handling. A child that has not exited after
// kChildLimit is counted stuck and killed (a liveness limit, far above the milliseconds a child
// needs even under a sanitizer on a loaded machine).
TEST(ForkSafety, ChildrenOfAProcessWhoseThreadsAllocateCanAllocate) {
  constexpr int kForks = 100;
  constexpr auto kChildLimit = std::chrono::seconds(30);
  std::vector<std::jthread> allocators;  // stopped and joined however the test ends
  for (int t = 0; t < 2; ++t) {
    allocators.emplace_back([](const std::stop_token& stop) {
      // Many blocks of several sizes at once: the thread-local caches run dry and refill from
      // the shared allocator (under its locks) all the time.
      std::vector<std::unique_ptr<char[]>> blocks;
      blocks.reserve(4096);
      while (!stop.stop_requested()) {
        for (size_t i = 0; i < 4096; ++i) blocks.emplace_back(new char[16 + 16 * (i % 8)]);
        blocks.clear();
      }
    });
  }
  int stuck = 0;
  for (int i = 0; i < kForks; ++i) {
    const pid_t pid = testing_support::Fork([] {
      for (size_t j = 0; j < 200; ++j) {
        const std::unique_ptr<char[]> block(new char[16 + 16 * (j % 8)]);
        block[0] = 1;
      }
      return 0;
    });
    const int code = testing_support::WaitExit(pid, Clock::now() + kChildLimit);
    if (code == -1000) {
      ++stuck;
    } else {
      EXPECT_EQ(code, 0);
    }
  }
  EXPECT_EQ(stuck, 0) << "children that never exited, of " << kForks;
}

}  // namespace
}  // namespace mpipc
