// Tests of mpipc::Pipe and mpipc::Connection against semantics.md §1.A–1.H. Every test is named
// after the clause it checks (PIPE-RET -> PIPE_RET_...). Byte-level framing corner cases live in
// framing_test.cc, syscall fault injection in sys_test.cc, send()/recv() of objects in
// serialization_test.cc.

#include "mpipc/connection.h"

#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <bit>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <typeinfo>
#include <utility>
#include <vector>

#include "mpipc/errors.h"
#include "test_support.h"

namespace mpipc {
namespace {

using testing_support::BackgroundWriter;
using testing_support::Bytes;
using testing_support::Clock;
using testing_support::DrainSocket;
using testing_support::SecondsSince;
using testing_support::ThrowsErrno;
using testing_support::ThrowsExactly;
using testing_support::WaitChild;

void WriteRaw(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t w = ::write(fd, bytes.data(), bytes.size());
    ASSERT_GT(w, 0) << "write: " << std::strerror(errno);
    bytes.remove_prefix(static_cast<size_t>(w));
  }
}

bool IsOpenDescriptor(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

// A 26-byte message, as in CPython's test_sendbytes.
constexpr std::string_view kAlphabet = "abcdefghijklmnopqrstuvwxyz";

// ---------------------------------------------------------------------------------------------
// 1.A Pipe

TEST(Pipe, PIPE_RET_DuplexEndsAreReadableAndWritable) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  for (const Connection* c : {&a, &b}) {
    EXPECT_FALSE(c->closed());
    EXPECT_TRUE(c->readable());
    EXPECT_TRUE(c->writable());
  }
  EXPECT_NE(a.fileno(), b.fileno());
  Connection c, d;
  std::tie(c, d) = Pipe(true);
  EXPECT_TRUE(c.readable() && c.writable() && d.readable() && d.writable());
}

TEST(Pipe, PIPE_RET_DuplexCarriesBothDirections) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  a.send_bytes("a to b");
  b.send_bytes("b to a");
  EXPECT_EQ(b.recv_bytes(), "a to b");
  EXPECT_EQ(a.recv_bytes(), "b to a");
}

TEST(Pipe, PIPE_SIMPLEX_FirstEndReadsSecondEndWrites) {
  Connection r, w;
  std::tie(r, w) = Pipe(false);
  EXPECT_TRUE(r.readable());
  EXPECT_FALSE(r.writable());
  EXPECT_FALSE(w.readable());
  EXPECT_TRUE(w.writable());
  w.send_bytes("one way");
  EXPECT_EQ(r.recv_bytes(), "one way");
}

TEST(Pipe, PIPE_TRANSPORT_DuplexIsSocketpairSimplexIsPipe) {
  struct stat st {};
  Connection a, b;
  std::tie(a, b) = Pipe();
  ASSERT_EQ(::fstat(a.fileno(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  int type = 0;
  socklen_t len = sizeof type;
  ASSERT_EQ(::getsockopt(a.fileno(), SOL_SOCKET, SO_TYPE, &type, &len), 0);
  EXPECT_EQ(type, SOCK_STREAM);
  Connection r, w;
  std::tie(r, w) = Pipe(false);
  ASSERT_EQ(::fstat(r.fileno(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_EQ(::fcntl(r.fileno(), F_GETFL) & O_ACCMODE, O_RDONLY);
  EXPECT_EQ(::fcntl(w.fileno(), F_GETFL) & O_ACCMODE, O_WRONLY);
}

// H-CLOEXEC: every descriptor Pipe() creates is close-on-exec.
TEST(Pipe, H_CLOEXEC_PipeDescriptors) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  Connection r, w;
  std::tie(r, w) = Pipe(false);
  for (const Connection* c : {&a, &b, &r, &w}) {
    EXPECT_TRUE(::fcntl(c->fileno(), F_GETFD) & FD_CLOEXEC) << c->fileno();
  }
}

TEST(Pipe, PIPE_BOUNDARIES_MessagesAreNotMerged) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  a.send_bytes("a");
  a.send_bytes("b");
  a.send_bytes("cd");
  EXPECT_EQ(b.recv_bytes(), "a");
  EXPECT_EQ(b.recv_bytes(), "b");
  EXPECT_EQ(b.recv_bytes(), "cd");
  EXPECT_FALSE(b.poll());
}

TEST(Pipe, PIPE_BOUNDARIES_EmptyMessagesKeepTheirBoundary) {
  Connection r, w;
  std::tie(r, w) = Pipe(false);
  w.send_bytes("");
  w.send_bytes("x");
  w.send_bytes("");
  w.send_bytes("");
  w.send_bytes("yz");
  EXPECT_EQ(r.recv_bytes(), "");
  EXPECT_EQ(r.recv_bytes(), "x");
  EXPECT_EQ(r.recv_bytes(), "");
  EXPECT_EQ(r.recv_bytes(), "");
  EXPECT_EQ(r.recv_bytes(), "yz");
  EXPECT_FALSE(r.poll());
}

TEST(Pipe, PIPE_DIRECTIONS_EachDirectionIsIndependent) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  a.send_bytes("a1");
  b.send_bytes("b1");
  a.send_bytes("a2");
  b.send_bytes("b2");
  EXPECT_EQ(a.recv_bytes(), "b1");
  EXPECT_EQ(b.recv_bytes(), "a1");
  EXPECT_EQ(b.recv_bytes(), "a2");
  EXPECT_EQ(a.recv_bytes(), "b2");
}

// ---------------------------------------------------------------------------------------------
// 1.B Construction, state, closing

TEST(Connection, CONN_CTOR_NegativeHandle) {
  EXPECT_TRUE(ThrowsExactly<ValueError>([] { Connection c(-1); }, "invalid handle"));
  EXPECT_TRUE(ThrowsExactly<ValueError>([] { Connection c(-42, true, false); }, "invalid handle"));
}

TEST(Connection, CONN_CTOR_NeitherReadableNorWritable) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  EXPECT_TRUE(ThrowsExactly<ValueError>([&] { Connection c(fds[0], false, false); },
                                        "at least one of `readable` and `writable` must be True"));
  // The rejected descriptor was not adopted (nor closed).
  EXPECT_TRUE(IsOpenDescriptor(fds[0]));
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST(Connection, CONN_CTOR_HandleIsCheckedBeforeFlags) {
  EXPECT_TRUE(ThrowsExactly<ValueError>([] { Connection c(-1, false, false); }, "invalid handle"));
}

TEST(Connection, CONN_CTOR_AdoptsDescriptorWithFlags) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  Connection reader(sv[0], true, false);
  Connection writer(sv[1], false, true);
  EXPECT_EQ(reader.fileno(), sv[0]);
  EXPECT_EQ(writer.fileno(), sv[1]);
  EXPECT_TRUE(reader.readable());
  EXPECT_FALSE(reader.writable());
  EXPECT_FALSE(writer.readable());
  EXPECT_TRUE(writer.writable());
  writer.send_bytes("adopted");
  EXPECT_EQ(reader.recv_bytes(), "adopted");
}

TEST(Connection, CONN_CTOR_DefaultConstructedIsClosed) {
  Connection c;
  EXPECT_TRUE(c.closed());
  EXPECT_TRUE(ThrowsExactly<OSError>([&] { c.fileno(); }, "handle is closed"));
}

TEST(Connection, CONN_PROPS_CloseKeepsFlags) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  a.close();
  EXPECT_TRUE(a.closed());
  EXPECT_TRUE(a.readable());
  EXPECT_TRUE(a.writable());
  Connection r, w;
  std::tie(r, w) = Pipe(false);
  r.close();
  w.close();
  EXPECT_TRUE(r.closed());
  EXPECT_TRUE(r.readable());
  EXPECT_FALSE(r.writable());
  EXPECT_TRUE(w.closed());
  EXPECT_FALSE(w.readable());
  EXPECT_TRUE(w.writable());
}

TEST(Connection, CONN_FILENO_ReturnsTheDescriptor) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  Connection r(fds[0], true, false);
  Connection w(fds[1], false, true);
  EXPECT_EQ(r.fileno(), fds[0]);
  EXPECT_EQ(w.fileno(), fds[1]);
  // It is the descriptor the Connection uses.
  WriteRaw(w.fileno(), Bytes({0, 0, 0, 3}) + "raw");
  EXPECT_EQ(r.recv_bytes(), "raw");
}

TEST(Connection, CONN_FILENO_ClosedRaises) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  a.close();
  try {
    a.fileno();
    FAIL() << "no exception";
  } catch (const OSError& e) {
    EXPECT_EQ(typeid(e), typeid(OSError));
    EXPECT_STREQ(e.what(), "handle is closed");
    EXPECT_EQ(e.message(), "handle is closed");
    EXPECT_EQ(e.code(), std::error_code());
    EXPECT_EQ(e.python_name(), "OSError");
  }
}

TEST(Connection, CONN_CLOSE_IsIdempotent) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  const int fd = a.fileno();
  a.close();
  EXPECT_TRUE(a.closed());
  EXPECT_FALSE(IsOpenDescriptor(fd));
  a.close();
  EXPECT_TRUE(a.closed());
}

TEST(Connection, CONN_CLOSE_ReleasesDescriptorAndPeerSeesEof) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  const int fd = a.fileno();
  a.close();
  EXPECT_FALSE(IsOpenDescriptor(fd));
  EXPECT_TRUE(b.poll());
  EXPECT_TRUE(ThrowsExactly<EOFError>([&] { b.recv_bytes(); }, ""));
}

TEST(Connection, CONN_CLOSE_DestructorCloses) {
  int fd = -1;
  Connection a, b;
  std::tie(a, b) = Pipe();
  {
    Connection moved = std::move(a);
    fd = moved.fileno();
    EXPECT_TRUE(IsOpenDescriptor(fd));
  }
  EXPECT_FALSE(IsOpenDescriptor(fd));
  EXPECT_TRUE(ThrowsExactly<EOFError>([&] { b.recv_bytes(); }, ""));
}

TEST(Connection, CONN_CLOSE_ReleaseGivesUpOwnership) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  const int fd = a.fileno();
  EXPECT_EQ(a.release(), fd);
  EXPECT_TRUE(a.closed());
  a.close();
  EXPECT_TRUE(IsOpenDescriptor(fd));
  Connection again(fd);
  again.send_bytes("still open");
  EXPECT_EQ(b.recv_bytes(), "still open");
}

TEST(Connection, CONN_CLOSE_MoveTransfersOwnership) {
  Connection a, b;
  std::tie(a, b) = Pipe(false);
  const int fd = a.fileno();
  Connection c(std::move(a));
  EXPECT_TRUE(a.closed());  // NOLINT(bugprone-use-after-move): moved-from state is specified
  EXPECT_EQ(c.fileno(), fd);
  EXPECT_TRUE(c.readable());
  EXPECT_FALSE(c.writable());
  c.set_max_message_size(7);
  // Move assignment closes the target's old descriptor.
  Connection x, y;
  std::tie(x, y) = Pipe();
  const int old_fd = x.fileno();
  x = std::move(c);
  EXPECT_FALSE(IsOpenDescriptor(old_fd));
  EXPECT_EQ(x.fileno(), fd);
  EXPECT_FALSE(x.writable());
  EXPECT_EQ(x.max_message_size(), 7u);
  EXPECT_TRUE(ThrowsExactly<EOFError>([&] { y.recv_bytes(); }, ""));
}

// ---------------------------------------------------------------------------------------------
// Check order and direction

TEST(Connection, CONN_CHECK_ORDER_ClosedBeforeDirection) {
  Connection r, w;
  std::tie(r, w) = Pipe(false);
  r.close();
  w.close();
  const std::string kClosed = "handle is closed";
  EXPECT_TRUE(ThrowsExactly<OSError>([&] { r.send_bytes("x"); }, kClosed));
  EXPECT_TRUE(ThrowsExactly<OSError>([&] { r.send(1); }, kClosed));
  EXPECT_TRUE(ThrowsExactly<OSError>([&] { w.recv_bytes(); }, kClosed));
  std::vector<char> buf(4);
  EXPECT_TRUE(ThrowsExactly<OSError>([&] { w.recv_bytes_into(buf); }, kClosed));
  EXPECT_TRUE(ThrowsExactly<OSError>([&] { w.poll(); }, kClosed));
  EXPECT_TRUE(ThrowsExactly<OSError>([&] { w.recv<int>(); }, kClosed));
}

TEST(Connection, CONN_CHECK_ORDER_ClosedBeforeArguments) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  a.close();
  std::vector<char> buf(4);
  EXPECT_TRUE(ThrowsExactly<OSError>([&] { a.send_bytes("x", -1); }, "handle is closed"));
  EXPECT_TRUE(ThrowsExactly<OSError>([&] { a.send_bytes("x", 0, -1); }, "handle is closed"));
  EXPECT_TRUE(ThrowsExactly<OSError>([&] { a.recv_bytes(-1); }, "handle is closed"));
  EXPECT_TRUE(ThrowsExactly<OSError>([&] { a.recv_bytes_into(buf, -1); }, "handle is closed"));
  EXPECT_TRUE(ThrowsExactly<OSError>([&] { a.recv_bytes_into(buf, 99); }, "handle is closed"));
}

TEST(Connection, CONN_CHECK_ORDER_DirectionBeforeArguments) {
  Connection r, w;
  std::tie(r, w) = Pipe(false);
  std::vector<char> buf(4);
  EXPECT_TRUE(ThrowsExactly<OSError>([&] { r.send_bytes("x", -1); }, "connection is read-only"));
  EXPECT_TRUE(ThrowsExactly<OSError>([&] { w.recv_bytes(-1); }, "connection is write-only"));
  EXPECT_TRUE(
      ThrowsExactly<OSError>([&] { w.recv_bytes_into(buf, -1); }, "connection is write-only"));
}

TEST(Connection, CONN_RO_SendOnReadOnlyEnd) {
  Connection r, w;
  std::tie(r, w) = Pipe(false);
  EXPECT_TRUE(ThrowsExactly<OSError>([&] { r.send_bytes("x"); }, "connection is read-only"));
  EXPECT_TRUE(ThrowsExactly<OSError>([&] { r.send_bytes(""); }, "connection is read-only"));
  EXPECT_TRUE(ThrowsExactly<OSError>([&] { r.send(42); }, "connection is read-only"));
  EXPECT_FALSE(r.closed());
}

TEST(Connection, CONN_RO_ExplicitFlagsOnSocket) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  Connection a(sv[0], true, false);
  Connection b(sv[1]);
  EXPECT_TRUE(ThrowsExactly<OSError>([&] { a.send_bytes("x"); }, "connection is read-only"));
  EXPECT_FALSE(b.poll());
}

TEST(Connection, CONN_WO_ReceiveOnWriteOnlyEnd) {
  Connection r, w;
  std::tie(r, w) = Pipe(false);
  const std::string kWo = "connection is write-only";
  std::vector<char> buf(4);
  EXPECT_TRUE(ThrowsExactly<OSError>([&] { w.recv_bytes(); }, kWo));
  EXPECT_TRUE(ThrowsExactly<OSError>([&] { w.recv_bytes(5); }, kWo));
  EXPECT_TRUE(ThrowsExactly<OSError>([&] { w.recv_bytes_into(buf); }, kWo));
  EXPECT_TRUE(ThrowsExactly<OSError>([&] { w.poll(); }, kWo));
  EXPECT_TRUE(ThrowsExactly<OSError>([&] { w.poll(std::nullopt); }, kWo));
  EXPECT_TRUE(ThrowsExactly<OSError>([&] { w.recv<int>(); }, kWo));
}

// ---------------------------------------------------------------------------------------------
// 1.C send / recv at the Connection level

TEST(Connection, CONN_SEND_EPIPE_Socketpair) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  b.close();
  EXPECT_TRUE(ThrowsErrno([&] { a.send_bytes("hello"); }, EPIPE, "BrokenPipeError"));
  EXPECT_TRUE(
      ThrowsErrno([&] { a.send_bytes(std::string(100000, 'x')); }, EPIPE, "BrokenPipeError"));
  EXPECT_FALSE(a.closed());
}

TEST(Connection, CONN_SEND_EPIPE_Pipe) {
  Connection r, w;
  std::tie(r, w) = Pipe(false);
  r.close();
  EXPECT_TRUE(ThrowsErrno([&] { w.send_bytes("hello"); }, EPIPE, "BrokenPipeError"));
  EXPECT_TRUE(
      ThrowsErrno([&] { w.send_bytes(std::string(100000, 'x')); }, EPIPE, "BrokenPipeError"));
}

TEST(Connection, CONN_SEND_EPIPE_EmptyMessageStillWritesAHeader) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  b.close();
  EXPECT_TRUE(ThrowsErrno([&] { a.send_bytes(""); }, EPIPE, "BrokenPipeError"));
  Connection r, w;
  std::tie(r, w) = Pipe(false);
  r.close();
  EXPECT_TRUE(ThrowsErrno([&] { w.send_bytes(""); }, EPIPE, "BrokenPipeError"));
}

TEST(Connection, CONN_SEND_EPIPE_ErrorIsASystemError) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  b.close();
  try {
    a.send_bytes("x");
    FAIL() << "no exception";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::make_error_code(std::errc::broken_pipe));
    const auto* os = dynamic_cast<const OSError*>(&e);
    ASSERT_NE(os, nullptr);
    EXPECT_EQ(os->errnum(), EPIPE);
    EXPECT_EQ(os->message(), "Broken pipe");
    EXPECT_STREQ(os->what(), "[Errno 32] Broken pipe");
  }
}

TEST(Connection, CONN_RECV_EMPTY_FRAME_RaisesEOFErrorWithMessage) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  a.send_bytes("");
  a.send(7);
  EXPECT_TRUE(ThrowsExactly<EOFError>([&] { b.recv<int>(); }, "Ran out of input"));
  // The empty frame was consumed and the stream stays aligned.
  EXPECT_EQ(b.recv<int>(), 7);
  // A real end of stream is EOFError without a message.
  a.close();
  EXPECT_TRUE(ThrowsExactly<EOFError>([&] { b.recv<int>(); }, ""));
}

// ---------------------------------------------------------------------------------------------
// 1.D send_bytes

// Each rejected call must leave the stream untouched.
class ConnSbValidate : public testing::Test {
 protected:
  void ExpectNothingWritten() { EXPECT_FALSE(b_.poll()) << "a rejected send wrote bytes"; }
  Connection a_, b_;
  void SetUp() override { std::tie(a_, b_) = Pipe(); }
};

TEST_F(ConnSbValidate, OffsetNegative) {
  EXPECT_TRUE(
      ThrowsExactly<ValueError>([&] { a_.send_bytes(kAlphabet, -1); }, "offset is negative"));
  ExpectNothingWritten();
}

TEST_F(ConnSbValidate, BufferShorterThanOffset) {
  EXPECT_TRUE(
      ThrowsExactly<ValueError>([&] { a_.send_bytes(kAlphabet, 27); }, "buffer length < offset"));
  ExpectNothingWritten();
}

TEST_F(ConnSbValidate, SizeNegative) {
  EXPECT_TRUE(
      ThrowsExactly<ValueError>([&] { a_.send_bytes(kAlphabet, 4, -1); }, "size is negative"));
  ExpectNothingWritten();
}

TEST_F(ConnSbValidate, BufferShorterThanOffsetPlusSize) {
  EXPECT_TRUE(ThrowsExactly<ValueError>([&] { a_.send_bytes(kAlphabet, 22, 5); },
                                        "buffer length < offset + size"));
  EXPECT_TRUE(ThrowsExactly<ValueError>([&] { a_.send_bytes(kAlphabet, 26, 1); },
                                        "buffer length < offset + size"));
  EXPECT_TRUE(ThrowsExactly<ValueError>([&] { a_.send_bytes(kAlphabet, 0, 27); },
                                        "buffer length < offset + size"));
  ExpectNothingWritten();
}

TEST_F(ConnSbValidate, OrderOffsetFirst) {
  // offset < 0 wins over every other problem.
  EXPECT_TRUE(
      ThrowsExactly<ValueError>([&] { a_.send_bytes(kAlphabet, -1, -1); }, "offset is negative"));
  EXPECT_TRUE(
      ThrowsExactly<ValueError>([&] { a_.send_bytes(kAlphabet, -1, 100); }, "offset is negative"));
  ExpectNothingWritten();
}

TEST_F(ConnSbValidate, OrderOffsetBeyondBufferBeforeSize) {
  EXPECT_TRUE(ThrowsExactly<ValueError>([&] { a_.send_bytes(kAlphabet, 27, -1); },
                                        "buffer length < offset"));
  EXPECT_TRUE(ThrowsExactly<ValueError>([&] { a_.send_bytes(kAlphabet, 27, 100); },
                                        "buffer length < offset"));
  ExpectNothingWritten();
}

TEST_F(ConnSbValidate, OrderSizeNegativeBeforeSum) {
  EXPECT_TRUE(
      ThrowsExactly<ValueError>([&] { a_.send_bytes(kAlphabet, 26, -5); }, "size is negative"));
  ExpectNothingWritten();
}

TEST_F(ConnSbValidate, OffsetEqualToLengthSendsEmpty) {
  a_.send_bytes(kAlphabet, 26);
  a_.send_bytes(kAlphabet, 26, 0);
  EXPECT_EQ(b_.recv_bytes(), "");
  EXPECT_EQ(b_.recv_bytes(), "");
  EXPECT_FALSE(b_.poll());
}

TEST_F(ConnSbValidate, ValidSlices) {
  a_.send_bytes(kAlphabet);
  a_.send_bytes(kAlphabet, 0, 26);
  a_.send_bytes(kAlphabet, 3);
  a_.send_bytes(kAlphabet, 3, 5);
  a_.send_bytes(kAlphabet, 21, 5);
  a_.send_bytes(kAlphabet, 0, 0);
  EXPECT_EQ(b_.recv_bytes(), kAlphabet);
  EXPECT_EQ(b_.recv_bytes(), kAlphabet);
  EXPECT_EQ(b_.recv_bytes(), kAlphabet.substr(3));
  EXPECT_EQ(b_.recv_bytes(), "defgh");
  EXPECT_EQ(b_.recv_bytes(), "vwxyz");
  EXPECT_EQ(b_.recv_bytes(), "");
  EXPECT_FALSE(b_.poll());
}

TEST(Connection, CONN_SB_EMPTY_DeliveredAsEmptyAndPollable) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  EXPECT_FALSE(b.poll());
  a.send_bytes("");
  EXPECT_TRUE(b.poll());
  EXPECT_EQ(b.recv_bytes(), "");
  EXPECT_FALSE(b.poll());
  a.send_bytes(std::vector<int32_t>{});
  EXPECT_TRUE(b.poll());
  EXPECT_EQ(b.recv_bytes(), "");
}

TEST(Connection, CONN_SB_UNITS_VectorInt32OffsetAndSizeCountBytes) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  const std::vector<int32_t> v = {1, 2, 3};
  a.send_bytes(v, 4, 4);
  std::string expected(4, '\0');
  const int32_t two = 2;
  std::memcpy(expected.data(), &two, 4);
  const std::string got = b.recv_bytes();
  EXPECT_EQ(got, expected);
  if constexpr (std::endian::native == std::endian::little) {
    EXPECT_EQ(got, Bytes({2, 0, 0, 0}));
  }
  // The default size is the rest of the buffer, in bytes.
  a.send_bytes(v, 4);
  EXPECT_EQ(b.recv_bytes().size(), 8u);
  a.send_bytes(v);
  const std::string whole = b.recv_bytes();
  ASSERT_EQ(whole.size(), 12u);
  EXPECT_EQ(std::memcmp(whole.data(), v.data(), 12), 0);
}

TEST(Connection, CONN_SB_UNITS_ValidationCountsBytes) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  const std::array<int32_t, 3> v = {1, 2, 3};  // 12 bytes
  EXPECT_TRUE(ThrowsExactly<ValueError>([&] { a.send_bytes(v, 13); }, "buffer length < offset"));
  EXPECT_TRUE(
      ThrowsExactly<ValueError>([&] { a.send_bytes(v, 8, 5); }, "buffer length < offset + size"));
  EXPECT_FALSE(b.poll());
  a.send_bytes(v, 12);  // offset == nbytes: empty message
  a.send_bytes(v, 3, 9);
  EXPECT_EQ(b.recv_bytes(), "");
  EXPECT_EQ(b.recv_bytes().size(), 9u);
}

TEST(Connection, CONN_SB_HUGE_16MiBRoundTrip) {
  constexpr size_t kSize = size_t{16} << 20;
  std::string payload(kSize, '\0');
  for (size_t i = 0; i < kSize; ++i) payload[i] = static_cast<char>((i * 7 + (i >> 13)) & 0xff);
  for (bool duplex : {true, false}) {
    Connection r, w;
    std::tie(r, w) = Pipe(duplex);
    BackgroundWriter writer(r, [&w = w, &payload] {
      try {
        w.send_bytes(payload);
        w.send_bytes("after");
      } catch (...) {
        w.close();  // the reader sees the end of the stream instead of hanging
        throw;
      }
    });
    const std::string got = r.recv_bytes();
    const std::string after = r.recv_bytes();
    ASSERT_FALSE(writer.Join()) << "writer threw";
    ASSERT_EQ(got.size(), kSize) << "duplex=" << duplex;
    EXPECT_TRUE(got == payload) << "duplex=" << duplex;
    EXPECT_EQ(after, "after");
  }
}

// 2^31 + 16 bytes: the 12-byte escape header, a > 2 GiB writev/sendmsg that the kernel splits,
// and a receive buffer that grows past 2^31.
TEST(Connection, CONN_SB_HUGE_Over2GiBRoundTrip) {
  constexpr uint64_t kSize = (uint64_t{1} << 31) + 16;
  // A period of 251 is prime, so a chunk landing at a power-of-two offset shows.
  std::string payload(kSize, '\0');
  {
    std::string block(251 * 4096, '\0');
    for (size_t i = 0; i < block.size(); ++i) block[i] = static_cast<char>(i % 251);
    for (size_t off = 0; off < kSize; off += block.size()) {
      std::memcpy(payload.data() + off, block.data(), std::min(block.size(), kSize - off));
    }
  }
  Connection a, b;
  std::tie(a, b) = Pipe();
  b.set_max_message_size(uint64_t{4} << 30);
  BackgroundWriter writer(b, [&a = a, &payload] {
    try {
      a.send_bytes(payload);
    } catch (...) {
      a.close();  // the reader sees the end of the stream instead of hanging
      throw;
    }
  });
  // The header on the wire is the 64-bit escape.
  unsigned char header[12];
  for (;;) {
    const ssize_t n = ::recv(b.fileno(), header, sizeof header, MSG_PEEK);
    ASSERT_GT(n, 0);
    if (n == static_cast<ssize_t>(sizeof header)) break;
    struct pollfd p {};
    p.fd = b.fileno();
    p.events = POLLIN;
    ::poll(&p, 1, 10);  // only reached if fewer than 12 bytes have arrived yet
  }
  const unsigned char kExpected[12] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0x80, 0, 0, 0x10};
  EXPECT_EQ(std::memcmp(header, kExpected, 12), 0);

  std::string got = b.recv_bytes();
  ASSERT_FALSE(writer.Join()) << "writer threw";
  ASSERT_EQ(got.size(), kSize);
  for (uint64_t i : {uint64_t{0}, uint64_t{1}, uint64_t{250}, uint64_t{251}, uint64_t{65535},
                     (uint64_t{64} << 20) - 1, uint64_t{64} << 20, uint64_t{128} << 20,
                     uint64_t{1} << 30, (uint64_t{1} << 31) - 1, uint64_t{1} << 31, kSize - 1}) {
    EXPECT_EQ(static_cast<unsigned char>(got[i]), i % 251) << "byte " << i;
  }
  EXPECT_EQ(std::memcmp(got.data(), payload.data(), kSize), 0);
  EXPECT_FALSE(b.poll());
}

// ---------------------------------------------------------------------------------------------
// 1.E recv_bytes

TEST(Connection, CONN_RB_ReturnsWholeBinaryMessage) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  const std::string binary = Bytes({0, 1, 0, 0xff, 0x80, 0, 0x7f});
  a.send_bytes(binary);
  const std::vector<uint8_t> from_vector = {9, 0, 8};
  a.send_bytes(from_vector);
  EXPECT_EQ(b.recv_bytes(), binary);
  EXPECT_EQ(b.recv_bytes(), Bytes({9, 0, 8}));
}

TEST(Connection, CONN_RB_NEG_RaisedBeforeReading) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  a.send_bytes("kept");
  EXPECT_TRUE(ThrowsExactly<ValueError>([&] { b.recv_bytes(-1); }, "negative maxlength"));
  EXPECT_TRUE(b.readable());
  EXPECT_EQ(b.recv_bytes(), "kept");
}

TEST(Connection, CONN_RB_MAXLEN_WritableBecomesUnreadable) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  a.send_bytes("0123456789");
  EXPECT_TRUE(ThrowsExactly<OSError>([&] { b.recv_bytes(5); }, "bad message length"));
  ASSERT_FALSE(b.readable());
  EXPECT_TRUE(b.writable());
  EXPECT_FALSE(b.closed());
  std::vector<char> buf(16);
  EXPECT_TRUE(ThrowsExactly<OSError>([&] { b.recv_bytes(); }, "connection is write-only"));
  EXPECT_TRUE(ThrowsExactly<OSError>([&] { b.recv_bytes_into(buf); }, "connection is write-only"));
  EXPECT_TRUE(ThrowsExactly<OSError>([&] { b.poll(); }, "connection is write-only"));
  // The header was consumed, the payload was not.
  EXPECT_EQ(DrainSocket(b.fileno()), "0123456789");
  // Writes still work.
  b.send_bytes("still writable");
  EXPECT_EQ(a.recv_bytes(), "still writable");
}

TEST(Connection, CONN_RB_MAXLEN_SimplexReaderIsClosed) {
  Connection r, w;
  std::tie(r, w) = Pipe(false);
  w.send_bytes("0123456789");
  EXPECT_TRUE(ThrowsExactly<OSError>([&] { r.recv_bytes(9); }, "bad message length"));
  EXPECT_TRUE(r.closed());
  EXPECT_TRUE(ThrowsExactly<OSError>([&] { r.recv_bytes(); }, "handle is closed"));
  EXPECT_TRUE(ThrowsExactly<OSError>([&] { r.poll(); }, "handle is closed"));
  // The reader's descriptor is really gone: the writer now gets EPIPE.
  EXPECT_TRUE(ThrowsErrno([&] { w.send_bytes("x"); }, EPIPE, "BrokenPipeError"));
}

TEST(Connection, CONN_RB_MAXLEN_EqualLengthAccepted) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  a.send_bytes("01234");
  EXPECT_EQ(b.recv_bytes(5), "01234");
  a.send_bytes("0123");
  EXPECT_EQ(b.recv_bytes(5), "0123");
  EXPECT_TRUE(b.readable());
}

TEST(Connection, CONN_RB_MAXLEN_ZeroAcceptsEmpty) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  a.send_bytes("");
  EXPECT_EQ(b.recv_bytes(0), "");
  a.send_bytes("x");
  EXPECT_TRUE(ThrowsExactly<OSError>([&] { b.recv_bytes(0); }, "bad message length"));
  EXPECT_FALSE(b.readable());
}

// ---------------------------------------------------------------------------------------------
// 1.F recv_bytes_into

TEST(Connection, CONN_RBI_ReturnsLengthAndCopies) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  a.send_bytes("hello");
  std::vector<char> buf(8, '.');
  EXPECT_EQ(b.recv_bytes_into(buf), 5u);
  EXPECT_EQ(std::string(buf.begin(), buf.end()), "hello...");
  a.send_bytes("");
  EXPECT_EQ(b.recv_bytes_into(buf), 0u);
  EXPECT_EQ(std::string(buf.begin(), buf.end()), "hello...");
}

TEST(Connection, CONN_RBI_ExactFitAndTypedBuffer) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  const std::vector<int32_t> src = {10, -20, 30};
  a.send_bytes(src);
  std::array<int32_t, 3> dst = {0, 0, 0};
  EXPECT_EQ(b.recv_bytes_into(dst), 12u);
  EXPECT_EQ(dst[0], 10);
  EXPECT_EQ(dst[1], -20);
  EXPECT_EQ(dst[2], 30);
}

TEST(Connection, CONN_RBI_OFFSET_OffsetCountsBytes) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  const int32_t seven = 7;
  a.send_bytes(std::span(&seven, 1));
  std::vector<int32_t> dst = {-1, -1, -1};
  EXPECT_EQ(b.recv_bytes_into(dst, 4), 4u);
  EXPECT_EQ(dst, (std::vector<int32_t>{-1, 7, -1}));
}

TEST(Connection, CONN_RBI_OFFSET_NegativeRaisedBeforeReading) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  a.send_bytes("kept");
  std::vector<char> buf(8, '.');
  EXPECT_TRUE(ThrowsExactly<ValueError>([&] { b.recv_bytes_into(buf, -1); }, "negative offset"));
  EXPECT_EQ(b.recv_bytes(), "kept");
}

TEST(Connection, CONN_RBI_OFFSET_TooLargeRaisedBeforeReading) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  a.send_bytes("kept");
  std::vector<char> buf(8, '.');
  EXPECT_TRUE(ThrowsExactly<ValueError>([&] { b.recv_bytes_into(buf, 9); }, "offset too large"));
  std::vector<int32_t> ints(3);
  EXPECT_TRUE(ThrowsExactly<ValueError>([&] { b.recv_bytes_into(ints, 13); }, "offset too large"));
  EXPECT_EQ(std::string(buf.begin(), buf.end()), "........");
  EXPECT_EQ(b.recv_bytes(), "kept");
}

TEST(Connection, CONN_RBI_OFFSET_OffsetEqualToSizeFitsOnlyEmpty) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  std::vector<char> buf(8, '.');
  a.send_bytes("");
  EXPECT_EQ(b.recv_bytes_into(buf, 8), 0u);
  a.send_bytes("x");
  try {
    b.recv_bytes_into(buf, 8);
    FAIL() << "no exception";
  } catch (const BufferTooShort& e) {
    EXPECT_EQ(e.message(), "x");
  }
  EXPECT_EQ(std::string(buf.begin(), buf.end()), "........");
}

TEST(Connection, CONN_RBI_SHORT_CarriesWholeMessageAndLeavesBufferUntouched) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  const std::string msg = Bytes({'l', 'o', 'n', 'g', 0, 'm', 's', 'g', '!', '!'});
  a.send_bytes(msg);
  a.send_bytes("next");
  std::vector<char> buf(4, '.');
  try {
    b.recv_bytes_into(buf);
    FAIL() << "no exception";
  } catch (const BufferTooShort& e) {
    EXPECT_EQ(typeid(e), typeid(BufferTooShort));
    EXPECT_EQ(e.message(), msg);
    EXPECT_STREQ(e.what(), "buffer too short");
  }
  EXPECT_EQ(std::string(buf.begin(), buf.end()), "....");
  // The message was consumed: the next one follows.
  EXPECT_TRUE(b.readable());
  EXPECT_EQ(b.recv_bytes(), "next");
  EXPECT_FALSE(b.poll());
}

TEST(Connection, CONN_RBI_SHORT_OffsetReducesRoom) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  a.send_bytes("abcde");
  std::vector<char> buf(8, '.');
  try {
    b.recv_bytes_into(buf, 4);
    FAIL() << "no exception";
  } catch (const ProcessError& e) {  // BufferTooShort is a ProcessError
    const auto* btf = dynamic_cast<const BufferTooShort*>(&e);
    ASSERT_NE(btf, nullptr);
    EXPECT_EQ(btf->message(), "abcde");
  }
  EXPECT_EQ(std::string(buf.begin(), buf.end()), "........");
  a.send_bytes("abcd");
  EXPECT_EQ(b.recv_bytes_into(buf, 4), 4u);
  EXPECT_EQ(std::string(buf.begin(), buf.end()), "....abcd");
}

// ---------------------------------------------------------------------------------------------
// 1.G poll

TEST(Connection, CONN_POLL_DEFAULT_DoesNotWait) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  const auto start = Clock::now();
  EXPECT_FALSE(b.poll());
  EXPECT_FALSE(b.poll(0.0));
  EXPECT_LT(SecondsSince(start), 2.0);
  a.send_bytes("x");
  EXPECT_TRUE(b.poll());
}

TEST(Connection, CONN_POLL_NONE_BlocksUntilDataFromAnotherThread) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  const auto start = Clock::now();
  std::jthread sender([&a = a] {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    a.send_bytes("late");
  });
  const bool ready = b.poll(std::nullopt);
  const double waited = SecondsSince(start);
  sender.join();
  EXPECT_TRUE(ready);
  EXPECT_GE(waited, 0.15);
  EXPECT_EQ(b.recv_bytes(), "late");
}

TEST(Connection, CONN_POLL_NONE_BlocksUntilDataFromAnotherProcess) {
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
  const bool ready = r.poll(std::nullopt);
  const double waited = SecondsSince(start);
  EXPECT_TRUE(ready);
  EXPECT_GE(waited, 0.2);
  EXPECT_EQ(r.recv_bytes(), "from child");
  EXPECT_EQ(WaitChild(pid), 0);
}

TEST(Connection, CONN_POLL_NEG_ReturnsAtOnce) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  const auto start = Clock::now();
  EXPECT_FALSE(b.poll(-1.0));
  EXPECT_FALSE(b.poll(-1e9));
  EXPECT_LT(SecondsSince(start), 2.0);
  a.send_bytes("x");
  EXPECT_TRUE(b.poll(-1.0));
}

TEST(Connection, CONN_POLL_TIMEOUT_WaitsAtLeastTimeout) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  const auto start = Clock::now();
  EXPECT_FALSE(b.poll(0.3));
  const double waited = SecondsSince(start);
  EXPECT_GE(waited, 0.3);
  EXPECT_LT(waited, 3.0);
}

TEST(Connection, CONN_POLL_NOCONSUME_RepeatedPollsStayTrue) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  a.send_bytes("x");
  a.send_bytes("");
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(b.poll());
  EXPECT_TRUE(b.poll(1.0));
  EXPECT_TRUE(b.poll(std::nullopt));
  EXPECT_EQ(b.recv_bytes(), "x");
  EXPECT_TRUE(b.poll());
  EXPECT_EQ(b.recv_bytes(), "");
  EXPECT_FALSE(b.poll());
}

TEST(Connection, CONN_POLL_EOF_PeerClosedIsReady) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  a.close();
  EXPECT_TRUE(b.poll());
  EXPECT_TRUE(b.poll(std::nullopt));
  EXPECT_TRUE(ThrowsExactly<EOFError>([&] { b.recv_bytes(); }, ""));
  Connection r, w;
  std::tie(r, w) = Pipe(false);
  w.close();
  EXPECT_TRUE(r.poll());
  EXPECT_TRUE(ThrowsExactly<EOFError>([&] { r.recv_bytes(); }, ""));
}

// Readiness is per byte: a partial frame makes poll() true, and recv waits for the rest.
TEST(Connection, CONN_POLL_PARTIAL_PartialFrameIsReadyRecvWaitsForRest) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  const int fd = a.release();
  WriteRaw(fd, Bytes({0, 0, 0, 5}) + "he");
  EXPECT_TRUE(b.poll());
  std::jthread rest([fd] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    WriteRaw(fd, "llo");
  });
  EXPECT_EQ(b.recv_bytes(), "hello");
  rest.join();
  ::close(fd);
}

TEST(Connection, CONN_POLL_ERRORS_ClosedAndWriteOnly) {
  Connection r, w;
  std::tie(r, w) = Pipe(false);
  EXPECT_TRUE(ThrowsExactly<OSError>([&] { w.poll(); }, "connection is write-only"));
  r.close();
  EXPECT_TRUE(ThrowsExactly<OSError>([&] { r.poll(); }, "handle is closed"));
  EXPECT_TRUE(ThrowsExactly<OSError>([&] { r.poll(std::nullopt); }, "handle is closed"));
}

// ---------------------------------------------------------------------------------------------
// 1.H End of stream

TEST(Connection, CONN_EOF_EveryReceiveRaisesEOFErrorWithoutMessage) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  a.close();
  std::vector<char> buf(4);
  EXPECT_TRUE(ThrowsExactly<EOFError>([&] { b.recv_bytes(); }, ""));
  EXPECT_TRUE(ThrowsExactly<EOFError>([&] { b.recv_bytes(10); }, ""));
  EXPECT_TRUE(ThrowsExactly<EOFError>([&] { b.recv_bytes_into(buf); }, ""));
  EXPECT_TRUE(ThrowsExactly<EOFError>([&] { b.recv<int>(); }, ""));
  // EOF is not sticky state in the Connection: it stays open and readable.
  EXPECT_FALSE(b.closed());
  EXPECT_TRUE(b.readable());
}

TEST(Connection, CONN_EOF_DRAIN_DuplexMessagesBeforeCloseAreDelivered) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  a.send_bytes("1");
  a.send_bytes("");
  a.send_bytes("3");
  a.close();
  EXPECT_EQ(b.recv_bytes(), "1");
  EXPECT_EQ(b.recv_bytes(), "");
  EXPECT_EQ(b.recv_bytes(), "3");
  EXPECT_TRUE(ThrowsExactly<EOFError>([&] { b.recv_bytes(); }, ""));
}

TEST(Connection, CONN_EOF_DRAIN_SimplexMessagesBeforeCloseAreDelivered) {
  Connection r, w;
  std::tie(r, w) = Pipe(false);
  w.send_bytes("1");
  w.send_bytes("2");
  w.close();
  EXPECT_EQ(r.recv_bytes(), "1");
  EXPECT_EQ(r.recv_bytes(), "2");
  EXPECT_TRUE(ThrowsExactly<EOFError>([&] { r.recv_bytes(); }, ""));
}

TEST(Connection, CONN_EOF_MIDMESSAGE_InsideHeader) {
  for (int n = 1; n <= 3; ++n) {
    Connection a, b;
    std::tie(a, b) = Pipe();
    const int fd = a.release();
    WriteRaw(fd, std::string(static_cast<size_t>(n), '\0'));
    ::close(fd);
    EXPECT_TRUE(ThrowsExactly<OSError>([&] { b.recv_bytes(); }, "got end of file during message"))
        << n << " header bytes";
  }
}

TEST(Connection, CONN_EOF_MIDMESSAGE_InsidePayload) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  const int fd = a.release();
  WriteRaw(fd, Bytes({0, 0, 0, 10}) + "abc");
  ::close(fd);
  EXPECT_TRUE(ThrowsExactly<OSError>([&] { b.recv_bytes(); }, "got end of file during message"));
}

// A header announcing 60 MiB followed by 4 KiB and the end of the stream: the receiver commits
// memory for the bytes that arrived, not for the length announced (its peak resident size, read
// in a child so that earlier tests' peaks do not hide it, grows by far less than 60 MiB).
TEST(Connection, HostileLengthCommitsOnlyTheBytesSent) {
  if (testing_support::kUnderSanitizer) GTEST_SKIP() << "resident size measures the sanitizer";
  Connection a, b;
  std::tie(a, b) = Pipe();
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const int fd = a.release();
    WriteRaw(fd, Bytes({0x03, 0xc0, 0, 0}) + std::string(4096, 'x'));  // 60 MiB announced
    ::close(fd);
    rusage before{}, after{};
    ::getrusage(RUSAGE_SELF, &before);
    const bool eof =
        ThrowsExactly<OSError>([&] { b.recv_bytes(); }, "got end of file during message");
    ::getrusage(RUSAGE_SELF, &after);
    const long grown_kib = after.ru_maxrss - before.ru_maxrss;
    std::fprintf(stderr, "peak resident size grew by %ld KiB\n", grown_kib);
    _exit(eof && grown_kib < 8 * 1024 ? 0 : 1);
  }
  a.close();  // the child's end of stream needs every copy of `a` closed
  EXPECT_EQ(WaitChild(pid), 0);
}

TEST(Connection, CONN_EOF_MIDMESSAGE_InsidePayloadSimplexRecvBytesInto) {
  Connection r, w;
  std::tie(r, w) = Pipe(false);
  const int fd = w.release();
  WriteRaw(fd, Bytes({0, 0, 0, 10}) + "abc");
  ::close(fd);
  std::vector<char> small(2);
  EXPECT_TRUE(
      ThrowsExactly<OSError>([&] { r.recv_bytes_into(small); }, "got end of file during message"));
}

// The reader sees EOF only when every copy of the write end is closed.
TEST(Connection, CONN_EOF_SIMPLEX_ChildCopyKeepsStreamOpen) {
  Connection r, w;
  std::tie(r, w) = Pipe(false);
  Connection go_r, go_w;
  std::tie(go_r, go_w) = Pipe(false);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    try {
      r.close();
      go_w.close();
      w.send_bytes("child alive");
      go_r.recv_bytes();  // wait until the parent lets us exit
    } catch (...) {
      ::_exit(1);
    }
    ::_exit(0);
  }
  w.close();  // the parent's copy
  go_r.close();
  EXPECT_EQ(r.recv_bytes(), "child alive");
  // The child still holds the write end: no EOF.
  EXPECT_FALSE(r.poll(0.2));
  go_w.send_bytes("exit");
  EXPECT_TRUE(r.poll(std::nullopt));
  EXPECT_TRUE(ThrowsExactly<EOFError>([&] { r.recv_bytes(); }, ""));
  EXPECT_EQ(WaitChild(pid), 0);
}

TEST(Connection, CONN_EOF_SIMPLEX_ParentCopyKeepsStreamOpen) {
  Connection r, w;
  std::tie(r, w) = Pipe(false);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    try {
      r.close();
      w.send_bytes("bye");
    } catch (...) {
      ::_exit(1);
    }
    ::_exit(0);
  }
  ASSERT_EQ(WaitChild(pid), 0);  // the child and its copy are gone
  EXPECT_EQ(r.recv_bytes(), "bye");
  // The parent forgot to close its own copy: no EOF yet.
  EXPECT_FALSE(r.poll(0.2));
  w.close();
  EXPECT_TRUE(r.poll());
  EXPECT_TRUE(ThrowsExactly<EOFError>([&] { r.recv_bytes(); }, ""));
}

}  // namespace
}  // namespace mpipc
