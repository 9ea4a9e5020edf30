// Tests of Listener, Client and Address (listener.h) against semantics.md 1.M-1.N. Each test is
// named after the clause it checks (L-BIND-ERR -> LBindErr, CL-CONNECT-ERR -> ClConnectErr, ...).
// Clients run on a second thread (std::async) where the server side must run at the same time;
// before every accept() the listening socket is polled with a timeout, so that a client that never
// arrives fails the test instead of blocking it.

#include "mpipc/listener.h"

#include <errno.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <string>
#include <typeinfo>
#include <utility>

#include "mpipc/connection.h"
#include "mpipc/errors.h"
#include "mpipc/handshake.h"
#include "test_support.h"

namespace mpipc {
namespace {

namespace fs = std::filesystem;
using testing_support::Capture;
using testing_support::Clock;
using testing_support::TempDir;

constexpr double kWaitSeconds = 10.0;

// Expects `stmt` to raise OSError with `errnum`, strerror text `message` and Python name `name`.
#define EXPECT_OS_ERROR(stmt, errnum_, message_, name_)   \
  do {                                                    \
    SCOPED_TRACE(#stmt);                                  \
    const auto caught_ = Capture<OSError>([&] { stmt; }); \
    if (caught_) {                                        \
      EXPECT_EQ(caught_->errnum(), (errnum_));            \
      EXPECT_EQ(caught_->message(), (message_));          \
      EXPECT_EQ(caught_->python_name(), (name_));         \
    }                                                     \
  } while (0)

std::string UniqueAbstractName() {
  static std::atomic<int> counter{0};
  return "mpipc-listener-test-" + std::to_string(getpid()) + "-" + std::to_string(++counter);
}

// True when the abstract socket `name` is bound (listed in /proc/net/unix as "@name").
bool AbstractNameIsBound(const std::string& name) {
  std::ifstream in("/proc/net/unix");
  std::string line;
  while (std::getline(in, line)) {
    const size_t at = line.rfind(' ');
    if (at != std::string::npos && line.substr(at + 1) == "@" + name) return true;
  }
  return false;
}

bool IsSocketFile(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

bool Exists(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

// Waits until a connection is pending on the listener; false after kWaitSeconds.
bool WaitForClient(const Listener& listener) {
  struct pollfd p {};
  p.fd = listener.fileno();
  p.events = POLLIN;
  return ::poll(&p, 1, static_cast<int>(kWaitSeconds * 1000)) == 1;
}

Connection AcceptWaiting(Listener& listener) {
  if (!WaitForClient(listener)) throw std::runtime_error("no client arrived");
  return listener.accept();
}

std::future<Connection> AsyncClient(Address address, std::optional<std::string> authkey,
                                    AuthOptions options = {}) {
  return std::async(std::launch::async,
                    [=] { return Client(address, std::nullopt, authkey, options); });
}

// The next message on `c`, waiting at most kWaitSeconds (a failure instead of blocking).
std::string Next(Connection& c) {
  if (!c.poll(kWaitSeconds)) {
    ADD_FAILURE() << "no message within " << kWaitSeconds << " s";
    return "<nothing>";
  }
  return c.recv_bytes();
}

// Both directions work on an accepted connection and its client.
void ExpectConnected(Connection& server, Connection& client) {
  client.send_bytes("ping");
  ASSERT_TRUE(server.poll(kWaitSeconds));
  EXPECT_EQ(server.recv_bytes(), "ping");
  server.send_bytes("pong");
  ASSERT_TRUE(client.poll(kWaitSeconds));
  EXPECT_EQ(client.recv_bytes(), "pong");
  EXPECT_TRUE(server.readable() && server.writable());
}

void ExpectRoundTrip(Listener& listener, std::optional<std::string> key = std::nullopt) {
  auto client_future = AsyncClient(listener.address(), key);
  Connection server = AcceptWaiting(listener);
  Connection client = client_future.get();
  ExpectConnected(server, client);
}

// ---------------------------------------------------------------------------------------------
// Address

TEST(AddressTest, ParseInet) {
  const Address a = Address::Parse("127.0.0.1:5000");
  EXPECT_EQ(a.family, Family::kInet);
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, 5000);
  EXPECT_EQ(a, Address::Inet("127.0.0.1", 5000));
  EXPECT_EQ(Address::Parse("localhost:0"), Address::Inet("localhost", 0));
  EXPECT_EQ(Address::Parse("127.0.0.1:65535").port, 65535);
}

TEST(AddressTest, ParseUnixAndAbstract) {
  EXPECT_EQ(Address::Parse("/tmp/x.sock"), Address::Unix("/tmp/x.sock"));
  EXPECT_EQ(Address::Parse("relative.sock"), Address::Unix("relative.sock"));
  // A path with a slash is a path even with a colon in it.
  EXPECT_EQ(Address::Parse("/tmp/a:1"), Address::Unix("/tmp/a:1"));
  const Address abstract = Address::Parse("@name");
  EXPECT_EQ(abstract, Address::Abstract("name"));
  EXPECT_EQ(abstract.family, Family::kUnix);
  EXPECT_TRUE(abstract.abstract);
  EXPECT_EQ(abstract.path, "name");
}

TEST(AddressTest, ParseErrors) {
  EXPECT_THROW_MSG(Address::Parse("host:abc"), ValueError, "invalid port in address 'host:abc'");
  EXPECT_THROW_MSG(Address::Parse("host:65536"), ValueError,
                   "invalid port in address 'host:65536'");
  EXPECT_THROW_MSG(Address::Parse("host:"), ValueError, "invalid port in address 'host:'");
  EXPECT_THROW_MSG(Address::Parse("host:-1"), ValueError, "invalid port in address 'host:-1'");
  EXPECT_THROW_MSG(Address::Parse(""), ValueError, "empty address");
}

TEST(AddressTest, ToStringRoundTrips) {
  for (const std::string text : {"127.0.0.1:5000", "/tmp/x.sock", "@name", "rel.sock"}) {
    EXPECT_EQ(Address::Parse(text).ToString(), text);
  }
  EXPECT_EQ(Address::Unix("").ToString(), "");
  EXPECT_NE(Address::Unix("name"), Address::Abstract("name"));
}

// ---------------------------------------------------------------------------------------------
// L-FAMILY, L-DEFAULT-ADDR, L-ADDRESS, L-ABSTRACT

TEST(LDefaultAddr, UnixInAPrivateDirectoryThatCloseRemoves) {
  Listener listener;
  const Address& a = listener.address();
  EXPECT_EQ(a.family, Family::kUnix);
  EXPECT_FALSE(a.abstract);
  const char* tmp = getenv("TMPDIR");
  const std::string base = (tmp != nullptr && *tmp != '\0') ? tmp : "/tmp";
  EXPECT_EQ(a.path.rfind(base + "/mpipc-", 0), 0u) << a.path;
  const fs::path path(a.path);
  EXPECT_EQ(path.filename().string().rfind("listener-", 0), 0u) << a.path;
  ASSERT_TRUE(IsSocketFile(a.path));
  const std::string dir = path.parent_path().string();
  struct stat st {};
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ExpectRoundTrip(listener);
  listener.close();
  EXPECT_FALSE(Exists(a.path));
  EXPECT_FALSE(Exists(dir));
}

TEST(LDefaultAddr, EachListenerGetsItsOwnPath) {
  Listener a;
  Listener b;
  EXPECT_NE(a.address().path, b.address().path);
}

TEST(LDefaultAddr, InetBindsLoopbackWithAnEphemeralPort) {
  Listener listener(std::nullopt, Family::kInet);
  EXPECT_EQ(listener.address().family, Family::kInet);
  EXPECT_EQ(listener.address().host, "127.0.0.1");
  EXPECT_NE(listener.address().port, 0);
  ExpectRoundTrip(listener);
}

TEST(LFamily, FamilyComesFromTheAddress) {
  Listener inet(Address::Parse("127.0.0.1:0"));
  EXPECT_EQ(inet.address().family, Family::kInet);
  TempDir dir;
  Listener unix_listener(Address::Unix(dir.File("s")));
  EXPECT_EQ(unix_listener.address().family, Family::kUnix);
}

TEST(LFamily, ContradictingFamilyIsAValueError) {
  EXPECT_THROW_MSG(Listener(Address::Parse("127.0.0.1:0"), Family::kUnix), ValueError,
                   "address 127.0.0.1:0 does not belong to the given family");
  EXPECT_THROW_MSG(Listener(Address::Parse("/tmp/never-bound.sock"), Family::kInet), ValueError,
                   "address /tmp/never-bound.sock does not belong to the given family");
  EXPECT_FALSE(Exists("/tmp/never-bound.sock"));
}

TEST(LAddress, InetReportsTheBoundEphemeralPort) {
  Listener listener(Address::Parse("127.0.0.1:0"));
  const Address& a = listener.address();
  ASSERT_NE(a.port, 0);
  struct sockaddr_in sin {};
  socklen_t len = sizeof sin;
  ASSERT_EQ(getsockname(listener.fileno(), reinterpret_cast<sockaddr*>(&sin), &len), 0);
  EXPECT_EQ(ntohs(sin.sin_port), a.port);
  EXPECT_EQ(a.ToString(), "127.0.0.1:" + std::to_string(a.port));
}

TEST(LAddress, UnixReportsThePath) {
  TempDir dir;
  const std::string path = dir.File("listener.sock");
  Listener listener(Address::Unix(path));
  EXPECT_EQ(listener.address(), Address::Unix(path));
  EXPECT_EQ(listener.address().ToString(), path);
  EXPECT_TRUE(IsSocketFile(path));
  ExpectRoundTrip(listener);
}

TEST(LAbstract, AbstractNameCreatesNoFileAndCloseReleasesIt) {
  const std::string name = UniqueAbstractName();
  Listener listener(Address::Parse("@" + name));
  EXPECT_EQ(listener.address(), Address::Abstract(name));
  EXPECT_EQ(listener.address().ToString(), "@" + name);
  EXPECT_TRUE(AbstractNameIsBound(name));
  EXPECT_FALSE(Exists(name));
  EXPECT_FALSE(Exists("@" + name));
  ExpectRoundTrip(listener);
  listener.close();
  EXPECT_FALSE(AbstractNameIsBound(name));
  // The name can be bound again at once.
  Listener again(Address::Abstract(name));
  EXPECT_TRUE(AbstractNameIsBound(name));
}

// ---------------------------------------------------------------------------------------------
// L-ACCEPT, CL-CONN

TEST(LAccept, ReturnsADuplexConnectionOverInet) {
  Listener listener(Address::Parse("127.0.0.1:0"));
  ExpectRoundTrip(listener);
  ExpectRoundTrip(listener);  // accept() can be called again
}

TEST(LAccept, ReturnsADuplexConnectionOverUnix) {
  TempDir dir;
  Listener listener(Address::Unix(dir.File("s")));
  ExpectRoundTrip(listener);
}

TEST(ClConn, LargeMessagesBothWays) {
  Listener listener(Address::Parse("127.0.0.1:0"));
  auto client_future = AsyncClient(listener.address(), std::nullopt);
  Connection server = AcceptWaiting(listener);
  Connection client = client_future.get();
  std::string big(1 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 + (i >> 8));
  auto sender = std::async(std::launch::async, [&] { client.send_bytes(big); });
  ASSERT_TRUE(server.poll(kWaitSeconds));
  EXPECT_EQ(server.recv_bytes(), big);
  sender.get();
  server.send_bytes("");
  ASSERT_TRUE(client.poll(kWaitSeconds));
  EXPECT_EQ(client.recv_bytes(), "");
}

// ---------------------------------------------------------------------------------------------
// L-LAST-ACCEPTED

TEST(LLastAccepted, NulloptBeforeTheFirstAccept) {
  Listener listener(Address::Parse("127.0.0.1:0"));
  EXPECT_FALSE(listener.last_accepted().has_value());
}

TEST(LLastAccepted, InetIsThePeerIpAndPort) {
  Listener listener(Address::Parse("127.0.0.1:0"));
  auto client_future = AsyncClient(listener.address(), std::nullopt);
  Connection server = AcceptWaiting(listener);
  Connection client = client_future.get();
  struct sockaddr_in sin {};
  socklen_t len = sizeof sin;
  ASSERT_EQ(getsockname(client.fileno(), reinterpret_cast<sockaddr*>(&sin), &len), 0);
  ASSERT_TRUE(listener.last_accepted().has_value());
  EXPECT_EQ(*listener.last_accepted(), Address::Inet("127.0.0.1", ntohs(sin.sin_port)));
}

TEST(LLastAccepted, UnixPeerIsUnnamed) {
  TempDir dir;
  Listener listener(Address::Unix(dir.File("s")));
  ExpectRoundTrip(listener);
  ASSERT_TRUE(listener.last_accepted().has_value());
  EXPECT_EQ(listener.last_accepted()->family, Family::kUnix);
  EXPECT_EQ(listener.last_accepted()->ToString(), "");
}

// ---------------------------------------------------------------------------------------------
// L-CLOSE

TEST(LClose, IdempotentAndUnlinksTheSocketFile) {
  TempDir dir;
  const std::string path = dir.File("s");
  Listener listener(Address::Unix(path));
  ASSERT_TRUE(IsSocketFile(path));
  EXPECT_FALSE(listener.closed());
  listener.close();
  EXPECT_TRUE(listener.closed());
  EXPECT_FALSE(Exists(path));
  listener.close();
  EXPECT_TRUE(listener.closed());
}

TEST(LClose, DestructorClosesAndUnlinks) {
  TempDir dir;
  const std::string path = dir.File("s");
  { Listener listener(Address::Unix(path)); }
  EXPECT_FALSE(Exists(path));  // the destructor closes too
}

TEST(LClose, AcceptAfterCloseRaises) {
  Listener listener(Address::Parse("127.0.0.1:0"));
  listener.close();
  EXPECT_THROW_MSG(listener.accept(), OSError, "listener is closed");
  EXPECT_THROW_MSG(listener.fileno(), OSError, "listener is closed");
  const auto e = Capture<OSError>([&] { listener.accept(); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->errnum(), 0);
  EXPECT_EQ(e->python_name(), "OSError");
}

TEST(LClose, InetPortIsReleased) {
  Listener listener(Address::Parse("127.0.0.1:0"));
  const Address a = listener.address();
  listener.close();
  EXPECT_OS_ERROR(Client(a), ECONNREFUSED, "Connection refused", "ConnectionRefusedError");
}

// Deviation (spec/deviations.md): address() and last_accepted() keep answering after close().
TEST(LClose, AddressAndLastAcceptedStillAnswerAfterClose) {
  TempDir dir;
  Listener listener(Address::Unix(dir.File("s")));
  ExpectRoundTrip(listener);
  listener.close();
  EXPECT_EQ(listener.address(), Address::Unix(dir.File("s")));
  EXPECT_TRUE(listener.last_accepted().has_value());
}

TEST(LClose, MoveTransfersOwnership) {
  TempDir dir;
  const std::string path = dir.File("s");
  Listener a(Address::Unix(path));
  Listener b(std::move(a));
  EXPECT_TRUE(a.closed());  // NOLINT(bugprone-use-after-move): documented moved-from state
  a.close();
  EXPECT_TRUE(IsSocketFile(path));  // closing the moved-from listener did not unlink it
  ExpectRoundTrip(b);
  Listener c(Address::Parse("127.0.0.1:0"));
  c = std::move(b);
  EXPECT_EQ(c.address(), Address::Unix(path));
  ExpectRoundTrip(c);
  c.close();
  EXPECT_FALSE(Exists(path));
}

TEST(LClose, AcceptedConnectionsOutliveTheListener) {
  Listener listener(Address::Parse("127.0.0.1:0"));
  auto client_future = AsyncClient(listener.address(), std::nullopt);
  Connection server = AcceptWaiting(listener);
  Connection client = client_future.get();
  listener.close();
  ExpectConnected(server, client);
}

// ---------------------------------------------------------------------------------------------
// L-BIND-ERR

TEST(LBindErr, InetAddressInUse) {
  Listener first(Address::Parse("127.0.0.1:0"));
  EXPECT_OS_ERROR(Listener(first.address()), EADDRINUSE, "Address already in use", "OSError");
  const auto e = Capture<OSError>([&] { Listener second(first.address()); });
  ASSERT_TRUE(e);
  EXPECT_STREQ(e->what(), "[Errno 98] Address already in use");
  ExpectRoundTrip(first);  // the first listener is unaffected
}

TEST(LBindErr, UnixPathInUse) {
  TempDir dir;
  const std::string path = dir.File("s");
  Listener first(Address::Unix(path));
  EXPECT_OS_ERROR(Listener(Address::Unix(path)), EADDRINUSE, "Address already in use", "OSError");
  EXPECT_TRUE(IsSocketFile(path));  // the failed bind did not unlink the first one's file
  ExpectRoundTrip(first);
}

TEST(LBindErr, StaleSocketFileIsNotUnlinked) {
  TempDir dir;
  const std::string path = dir.File("stale");
  {
    // A socket file whose listener died without unlinking it.
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    struct sockaddr_un sun {};
    sun.sun_family = AF_UNIX;
    std::memcpy(sun.sun_path, path.c_str(), path.size() + 1);
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&sun), sizeof sun), 0);
    close(fd);
  }
  ASSERT_TRUE(IsSocketFile(path));
  EXPECT_OS_ERROR(Listener(Address::Unix(path)), EADDRINUSE, "Address already in use", "OSError");
  EXPECT_TRUE(IsSocketFile(path));
}

TEST(LBindErr, AbstractNameInUse) {
  const Address a = Address::Abstract(UniqueAbstractName());
  Listener first(a);
  EXPECT_OS_ERROR(Listener{a}, EADDRINUSE, "Address already in use", "OSError");
}

TEST(LBindErr, UnixPathTooLong) {
  TempDir dir;
  const std::string prefix = dir.path().string() + "/";
  ASSERT_LT(prefix.size(), 100u);
  const std::string fits = prefix + std::string(107 - prefix.size(), 'p');
  const std::string too_long = prefix + std::string(108 - prefix.size(), 'q');
  ASSERT_EQ(fits.size(), 107u);
  ASSERT_EQ(too_long.size(), 108u);
  {
    Listener ok(Address::Unix(fits));
    ExpectRoundTrip(ok);
  }
  EXPECT_THROW_MSG(Listener(Address::Unix(too_long)), OSError, "AF_UNIX path too long");
  EXPECT_FALSE(Exists(too_long));
  EXPECT_THROW_MSG(Client(Address::Unix(too_long)), OSError, "AF_UNIX path too long");
}

TEST(LBindErr, AbstractNameTooLong) {
  const std::string base = UniqueAbstractName();
  {
    Listener ok(Address::Abstract(base + std::string(107 - base.size(), 'p')));
    ExpectRoundTrip(ok);
  }
  const Address too_long = Address::Abstract(base + std::string(108 - base.size(), 'q'));
  EXPECT_THROW_MSG(Listener{too_long}, OSError, "AF_UNIX path too long");
}

// ---------------------------------------------------------------------------------------------
// CL-CONNECT-ERR, CL-FAMILY

TEST(ClConnectErr, MissingUnixPathIsFileNotFound) {
  TempDir dir;
  EXPECT_OS_ERROR(Client(Address::Unix(dir.File("nobody-here"))), ENOENT,
                  "No such file or directory", "FileNotFoundError");
}

TEST(ClConnectErr, ClosedInetPortIsConnectionRefused) {
  // An ephemeral port nobody listens on any more.
  uint16_t port = 0;
  {
    Listener listener(Address::Parse("127.0.0.1:0"));
    port = listener.address().port;
  }
  EXPECT_OS_ERROR(Client(Address::Inet("127.0.0.1", port)), ECONNREFUSED, "Connection refused",
                  "ConnectionRefusedError");
}

TEST(ClConnectErr, MissingAbstractNameIsConnectionRefused) {
  EXPECT_OS_ERROR(Client(Address::Abstract(UniqueAbstractName())), ECONNREFUSED,
                  "Connection refused", "ConnectionRefusedError");
}

TEST(ClConnectErr, StaleSocketFileIsConnectionRefused) {
  TempDir dir;
  const std::string path = dir.File("stale");
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  struct sockaddr_un sun {};
  sun.sun_family = AF_UNIX;
  std::memcpy(sun.sun_path, path.c_str(), path.size() + 1);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&sun), sizeof sun), 0);
  close(fd);
  EXPECT_OS_ERROR(Client(Address::Unix(path)), ECONNREFUSED, "Connection refused",
                  "ConnectionRefusedError");
}

TEST(ClFamily, TheFamilyArgumentIsIgnored) {
  Listener listener(Address::Parse("127.0.0.1:0"));
  auto client_future = std::async(std::launch::async, [a = listener.address()] {
    return Client(a, Family::kUnix);  // connects over TCP all the same
  });
  Connection server = AcceptWaiting(listener);
  Connection client = client_future.get();
  ExpectConnected(server, client);
  EXPECT_EQ(listener.last_accepted()->family, Family::kInet);
}

// ---------------------------------------------------------------------------------------------
// Authentication: CL-AUTH, L-AUTH-ENABLE, L-AUTH-FAIL, AUTH-NO-DEFAULT-KEY, CL-AUTH-ASYMMETRIC

TEST(ClAuth, RightKeyOverInet) {
  Listener listener(Address::Parse("127.0.0.1:0"), std::nullopt, 1, "secret");
  ExpectRoundTrip(listener, "secret");
}

TEST(ClAuth, RightKeyOverUnix) {
  TempDir dir;
  Listener listener(Address::Unix(dir.File("s")), std::nullopt, 1, "secret");
  ExpectRoundTrip(listener, "secret");
}

TEST(ClAuth, RightKeyOverAbstract) {
  Listener listener(Address::Abstract(UniqueAbstractName()), std::nullopt, 1, "secret");
  ExpectRoundTrip(listener, "secret");
}

TEST(ClAuth, BinaryKey) {
  const std::string key("\x00\xff key \x00", 8);
  Listener listener(Address::Parse("127.0.0.1:0"), std::nullopt, 1, key);
  ExpectRoundTrip(listener, key);
}

// An empty key is a key (3.13 semantics): the handshake runs and succeeds.
TEST(LAuthEnable, EmptyKeyRunsTheHandshake) {
  Listener listener(Address::Parse("127.0.0.1:0"), std::nullopt, 1, "");
  ExpectRoundTrip(listener, "");
  // A raw client sees the challenge, so the Listener did not skip authentication.
  Connection raw = Client(listener.address());
  raw.send_bytes("something bogus");
  ASSERT_TRUE(WaitForClient(listener));
  EXPECT_THROW(listener.accept(), AuthenticationError);
  const std::string challenge = Next(raw);
  EXPECT_EQ(challenge.substr(0, 19), "#CHALLENGE#{sha256}");
}

TEST(LAuthFail, WrongKeyBothSidesRaiseAndTheListenerStaysUsable) {
  Listener listener(Address::Parse("127.0.0.1:0"), std::nullopt, 1, "secret");
  auto bad = AsyncClient(listener.address(), "wrong");
  ASSERT_TRUE(WaitForClient(listener));
  EXPECT_THROW_MSG(listener.accept(), AuthenticationError, "digest received was wrong");
  EXPECT_THROW_MSG(bad.get(), AuthenticationError, "digest sent was rejected");
  // The next client is served.
  ExpectRoundTrip(listener, "secret");
}

TEST(LAuthFail, EmptyKeyAgainstANonEmptyKey) {
  Listener listener(Address::Parse("127.0.0.1:0"), std::nullopt, 1, "secret");
  auto bad = AsyncClient(listener.address(), "");
  ASSERT_TRUE(WaitForClient(listener));
  EXPECT_THROW_MSG(listener.accept(), AuthenticationError, "digest received was wrong");
  EXPECT_THROW_MSG(bad.get(), AuthenticationError, "digest sent was rejected");
}

TEST(LAuthFail, ServerWithTheWrongKeyIsRejectedByTheClient) {
  // Client and server disagree; the server challenges first, so it is the one to detect it.
  TempDir dir;
  Listener listener(Address::Unix(dir.File("s")), std::nullopt, 1, "server-key");
  auto bad = AsyncClient(listener.address(), "client-key");
  ASSERT_TRUE(WaitForClient(listener));
  EXPECT_THROW_MSG(listener.accept(), AuthenticationError, "digest received was wrong");
  EXPECT_THROW_MSG(bad.get(), AuthenticationError, "digest sent was rejected");
  ExpectRoundTrip(listener, "server-key");
}

// A raw client (no key) reads the challenge and answers garbage: accept() raises the parse error,
// sends '#FAILURE#', and drops the half-open connection.
TEST(ClAuthAsymmetric, ClientWithoutAKeyAnswersGarbage) {
  Listener listener(Address::Parse("127.0.0.1:0"), std::nullopt, 1, "secret");
  Connection raw = Client(listener.address());
  raw.send_bytes("something bogus");  // queued before the challenge even exists
  ASSERT_TRUE(WaitForClient(listener));
  EXPECT_THROW_MSG(listener.accept(), AuthenticationError,
                   "unsupported message length, missing digest prefix, or unsupported digest: "
                   "message=b'something bogus'");
  EXPECT_EQ(Next(raw).size(), 59u);
  EXPECT_EQ(Next(raw), "#FAILURE#");
  EXPECT_THROW_MSG(Next(raw), EOFError, "");  // the server closed its end
  ExpectRoundTrip(listener, "secret");
}

// AUTH-MAXLEN through accept(): an oversized response is OSError('bad message length').
TEST(LAuthFail, OversizedResponse) {
  Listener listener(Address::Parse("127.0.0.1:0"), std::nullopt, 1, "secret");
  Connection raw = Client(listener.address());
  raw.send_bytes(std::string(300, 'x'));
  ASSERT_TRUE(WaitForClient(listener));
  const auto e = Capture<OSError>([&] { listener.accept(); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->message(), "bad message length");
  EXPECT_EQ(e->errnum(), 0);
  ExpectRoundTrip(listener, "secret");
}

TEST(LAuthFail, ClientGoneBeforeTheHandshake) {
  Listener listener(Address::Parse("127.0.0.1:0"), std::nullopt, 1, "secret");
  { Connection raw = Client(listener.address()); }
  ASSERT_TRUE(WaitForClient(listener));
  // Depending on timing: EOF on the response, or the challenge write hits a reset connection.
  try {
    listener.accept();
    ADD_FAILURE() << "accept() succeeded";
  } catch (const EOFError&) {
  } catch (const OSError& e) {
    EXPECT_TRUE(e.errnum() == EPIPE || e.errnum() == ECONNRESET) << e.what();
  }
  ExpectRoundTrip(listener, "secret");
}

TEST(AuthNoDefaultKey, NoKeyMeansNoHandshake) {
  Listener listener(Address::Parse("127.0.0.1:0"));
  Connection client = Client(listener.address());
  client.send_bytes("first");
  Connection server = AcceptWaiting(listener);
  EXPECT_EQ(Next(server), "first");  // not a challenge response
  EXPECT_FALSE(client.poll(0.0));    // and no challenge was sent
}

// ---------------------------------------------------------------------------------------------
// L-HANDSHAKE-BLOCKS, mitigated by AuthOptions::timeout

AuthOptions Timeout(double seconds) {
  AuthOptions options;
  options.timeout = seconds;
  return options;
}

TEST(LHandshakeBlocks, SilentClientTimesOutAndTheNextClientIsServed) {
  constexpr double kTimeout = 0.5;
  Listener listener(Address::Parse("127.0.0.1:0"), std::nullopt, 1, "secret", Timeout(kTimeout));
  Connection silent = Client(listener.address());  // connects, never answers
  ASSERT_TRUE(WaitForClient(listener));
  const auto start = Clock::now();
  const auto e = Capture<OSError>([&] { listener.accept(); });
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->errnum(), ETIMEDOUT);
  EXPECT_EQ(e->python_name(), "TimeoutError");
  EXPECT_EQ(e->message(), "authentication handshake timed out");
  EXPECT_GE(elapsed, kTimeout * 0.9);
  EXPECT_LE(elapsed, kTimeout + 5.0);
  // The silent client got the challenge, then the server dropped the connection.
  EXPECT_EQ(Next(silent).size(), 59u);
  EXPECT_THROW_MSG(Next(silent), EOFError, "");
  ExpectRoundTrip(listener, "secret");
}

TEST(LHandshakeBlocks, ClientStallingInsideAFrameTimesOut) {
  constexpr double kTimeout = 0.5;
  TempDir dir;
  Listener listener(Address::Unix(dir.File("s")), std::nullopt, 1, "secret", Timeout(kTimeout));
  Connection stalling = Client(listener.address());
  ASSERT_EQ(send(stalling.fileno(), "\x00\x00", 2, MSG_NOSIGNAL), 2);
  ASSERT_TRUE(WaitForClient(listener));
  const auto start = Clock::now();
  const auto e = Capture<OSError>([&] { listener.accept(); });
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->errnum(), ETIMEDOUT);
  EXPECT_GE(elapsed, kTimeout * 0.9);
  EXPECT_LE(elapsed, kTimeout + 5.0);
  ExpectRoundTrip(listener, "secret");
}

// CL-AUTH-ASYMMETRIC (client with a key, listener without): the client would wait for a
// challenge for ever; with a timeout it raises.
TEST(LHandshakeBlocks, ClientTimesOutAgainstAListenerWithoutAKey) {
  constexpr double kTimeout = 0.5;
  Listener listener(Address::Parse("127.0.0.1:0"));
  const auto start = Clock::now();
  const auto e = Capture<OSError>(
      [&] { Client(listener.address(), std::nullopt, "secret", Timeout(kTimeout)); });
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->errnum(), ETIMEDOUT);
  EXPECT_EQ(e->python_name(), "TimeoutError");
  EXPECT_GE(elapsed, kTimeout * 0.9);
  EXPECT_LE(elapsed, kTimeout + 5.0);
}

TEST(LHandshakeBlocks, ClientSilentAfterAnsweringTimesOut) {
  // The client answers the challenge, then never challenges back: accept() gives up all the same.
  constexpr double kTimeout = 0.5;
  Listener listener(Address::Parse("127.0.0.1:0"), std::nullopt, 1, "secret", Timeout(kTimeout));
  auto half = std::async(std::launch::async, [a = listener.address()] {
    Connection c = Client(a);
    const std::string challenge = c.recv_bytes();
    c.send_bytes(auth::CreateResponse("secret", std::string_view(challenge).substr(11)));
    EXPECT_EQ(c.recv_bytes(), "#WELCOME#");
    return c;  // stays silent
  });
  ASSERT_TRUE(WaitForClient(listener));
  const auto start = Clock::now();
  const auto e = Capture<OSError>([&] { listener.accept(); });
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->errnum(), ETIMEDOUT);
  EXPECT_GE(elapsed, kTimeout * 0.9);
  EXPECT_LE(elapsed, kTimeout + 5.0);
  Connection c = half.get();
}

TEST(LHandshakeBlocks, TimeoutDoesNotAffectAPromptClient) {
  Listener listener(Address::Parse("127.0.0.1:0"), std::nullopt, 1, "secret", Timeout(10.0));
  auto client_future = AsyncClient(listener.address(), "secret", Timeout(10.0));
  Connection server = AcceptWaiting(listener);
  Connection client = client_future.get();
  ExpectConnected(server, client);
}

// ---------------------------------------------------------------------------------------------
// L-EARLY-CLIENT

void ExpectEarlyClientDataIsReadable(Listener& listener) {
  {
    Connection client = Client(listener.address());
    client.send_bytes("sent before accept");
  }  // closed before accept()
  Connection server = AcceptWaiting(listener);
  EXPECT_EQ(Next(server), "sent before accept");
  EXPECT_THROW_MSG(server.recv_bytes(), EOFError, "");
}

TEST(LEarlyClient, DataSentBeforeAcceptIsReadableOverInet) {
  Listener listener(Address::Parse("127.0.0.1:0"));
  ExpectEarlyClientDataIsReadable(listener);
}

TEST(LEarlyClient, DataSentBeforeAcceptIsReadableOverUnix) {
  TempDir dir;
  Listener listener(Address::Unix(dir.File("s")));
  ExpectEarlyClientDataIsReadable(listener);
}

}  // namespace
}  // namespace mpipc
