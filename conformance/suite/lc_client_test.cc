// Client clauses (spec/clauses/client.json, semantics.md §1.N): family handling, connect
// errors, the authkey type check, the handshake from the connecting side (matching, mismatched
// and one-sided keys), and the Connection it returns. Client() blocks in connect and the
// handshake, so it is created while accept() runs in another actor, or (without an authkey)
// before accept(), since the kernel completes the connect in the listen queue.
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <utility>

#include "fixture.h"
#include "lc_sockets.h"

namespace mpipc::conformance {
namespace {

class ClientTest : public lc::SocketTest {
 protected:
  // Client(address) that must fail at once (POSIX clients do not retry): the response and the
  // seconds it took.
  std::pair<Response, double> TimedClient(const Json& address) {
    const auto start = std::chrono::steady_clock::now();
    Response r = TryCreate("Client", "c", {address});
    return {r, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()};
  }
};

CONFORMANCE_TEST(ClientTest, FamilyIsTakenFromTheAddress, "CL-FAMILY") {
  const Ref l = Create("Listener", "l", {AnyLoopback()});
  const Json address = l.AttrOk("address");
  // family='AF_UNIX' with a tuple address still connects over TCP.
  ASSERT_TRUE(Succeeded(TryCreate("Client", "c", {address}, {{"family", "AF_UNIX"}})));
  ASSERT_TRUE(Succeeded(l.CallBind("accept", "s")));
  EXPECT_TRUE(lc::InetParts(l.AttrOk("last_accepted"))) << "the peer is not a TCP client";
  EXPECT_TRUE(Carries(At("c"), At("s"), "over TCP"));
  // And family='AF_INET' with a path connects over AF_UNIX.
  const std::string path = SocketPath("clfamily");
  const Ref u = Create("Listener", "u", {path});
  ASSERT_TRUE(Succeeded(TryCreate("Client", "uc", {path}, {{"family", "AF_INET"}})));
  ASSERT_TRUE(Succeeded(u.CallBind("accept", "us")));
  EXPECT_TRUE(Returned(u.Attr("last_accepted"), "")) << "the peer is not an AF_UNIX client";
}

CONFORMANCE_TEST(ClientTest, MissingUnixPath, "CL-CONNECT-ERR.missing-path") {
  const std::string path = SocketPath("missing");
  const auto [r, seconds] = TimedClient(path);
  EXPECT_TRUE(Raises(r, "CL-CONNECT-ERR.missing-path"));
  EXPECT_LT(seconds, tolerance()) << "the client retried";
  EXPECT_EQ(r.error.errno_value, std::optional<int>(ENOENT));
}

CONFORMANCE_TEST(ClientTest, ClosedTcpPortRefuses, "CL-CONNECT-ERR.refused") {
  const auto [fd, port] = lc::BoundButNotListeningPort();
  ASSERT_GE(fd, 0) << "could not reserve a port";
  const auto [r, seconds] = TimedClient(InetAddress("127.0.0.1", port));
  ::close(fd);
  EXPECT_TRUE(Raises(r, "CL-CONNECT-ERR.refused"));
  EXPECT_LT(seconds, tolerance()) << "the client retried";
  EXPECT_EQ(r.error.errno_value, std::optional<int>(ECONNREFUSED));
}

CONFORMANCE_TEST(ClientTest, WindowsPipeClientRetries, "CL-CONNECT-ERR.windows-retry") {
  GTEST_SKIP() << "Windows only: named-pipe clients";
}

CONFORMANCE_TEST(ClientTest, AuthkeyTypeCheckedAfterConnecting, "CL-AUTHKEY-TYPE") {
  const Ref l = Create("Listener", "l", {AnyLoopback()});
  EXPECT_TRUE(Raises(TryCreate("Client", "c", {l.AttrOk("address")}, {{"authkey", "secret"}}),
                     "CL-AUTHKEY-TYPE"));
  // The connection had been made: the listener accepts it, and it is dropped at once.
  ASSERT_TRUE(Succeeded(l.CallBind("accept", "s")));
  EXPECT_TRUE(Returned(At("s").Call("poll", {session().limit()}), true));
  EXPECT_TRUE(RaisesType(At("s").Call("recv_bytes"), {"EOFError"}));
  // With an address that cannot be reached, the connect error comes first.
  const Response r = TryCreate("Client", "c", {SocketPath("authkeytype")}, {{"authkey", "secret"}});
  EXPECT_TRUE(RaisesType(r, {"FileNotFoundError"}));
}

CONFORMANCE_TEST(ClientTest, HandshakeAndMismatchErrors, "CL-AUTH") {
  const Ref l = Create("Listener", "l", {SocketPath("clauth")}, Authkey("secret"));
  const Json address = l.AttrOk("address");
  Spawn("A");
  auto [s, c] = Connect(l, "A", "s", address, "main", "c", Authkey("secret"));
  EXPECT_TRUE(Carries(c, s, "authenticated"));
  EXPECT_TRUE(Carries(s, c, "both ways"));
  auto [accept, wrong] = AcceptAndConnect(l, "A", "s2", address, "main", "c2", Authkey("wrong"));
  EXPECT_TRUE(Raises(wrong, "CL-AUTH"));
  const Response server = Wait(accept);
  EXPECT_TRUE(RaisesType(server, {"AuthenticationError"}));
  EXPECT_EQ(server.error.message, std::optional<std::string>("digest received was wrong"));
}

CONFORMANCE_TEST(ClientTest, KeyOnlyOnTheClientBlocksBothSides, "CL-AUTH-ASYMMETRIC.client-only") {
  const Ref l = Create("Listener", "l", {AnyLoopback()});
  const Json address = l.AttrOk("address");
  Spawn("A");
  Spawn("B");
  const Driver::Pending accept = l.In("A").Start("accept", Json::array(), Json::object(), "s");
  const Driver::Pending client = StartClient("B", "c", address, Authkey("secret"));
  // The listener has no handshake to run: accept() returns.
  ASSERT_TRUE(Returned(Wait(accept), Handle("s")));
  // The server's first recv waits for data while the client waits for a challenge.
  const Driver::Pending recv = At("s", "A").Start("recv_bytes");
  EXPECT_FALSE(client.ArrivesWithin(BlockWindow())) << "Client() returned without a challenge";
  EXPECT_FALSE(recv.ArrivesWithin(0)) << "the server received something";
}

CONFORMANCE_TEST(ClientTest, KeyOnlyOnTheListenerFailsBothSides,
                 "CL-AUTH-ASYMMETRIC.listener-only") {
  const Ref l = Create("Listener", "l", {SocketPath("listeneronly")}, Authkey("secret"));
  Spawn("A");
  auto [accept, c] = AcceptAndConnect(l, "A", "s", l.AttrOk("address"), "main", "c");
  ASSERT_TRUE(Succeeded(c)) << "a Client without a key runs no handshake";
  // The challenge is not a pickle.
  EXPECT_TRUE(Raises(At("c").Call("recv"), "CL-AUTH-ASYMMETRIC.listener-only"));
  // Whatever the client sends next is a wrong digest (16 bytes: the length of an MD5 reply).
  ASSERT_TRUE(Succeeded(At("c").Call("send_bytes", {Bytes(std::string(16, 'x'))})));
  const Response server = Wait(accept);
  EXPECT_TRUE(RaisesType(server, {"AuthenticationError"}));
  EXPECT_EQ(server.error.message, std::optional<std::string>("digest received was wrong"));
}

CONFORMANCE_TEST(ClientTest, ReturnsADuplexConnectionForEveryFamily, "CL-CONN") {
  const std::string abstract = std::string(1, '\0') + AbstractName("clconn");
  const std::vector<Json> addresses = {AnyLoopback(), SocketPath("clconn"), Bytes(abstract)};
  int n = 0;
  for (const Json& requested : addresses) {
    const std::string id = std::to_string(n++);
    const Ref l = Create("Listener", "l" + id, {requested});
    ASSERT_TRUE(Succeeded(TryCreate("Client", "c" + id, {l.AttrOk("address")})));
    ASSERT_TRUE(Succeeded(l.CallBind("accept", "s" + id)));
    const Ref c = At("c" + id);
    const Ref s = At("s" + id);
    EXPECT_TRUE(Returned(c.Attr("readable"), true)) << requested.dump();
    EXPECT_TRUE(Returned(c.Attr("writable"), true)) << requested.dump();
    EXPECT_TRUE(Returned(c.Call("poll", {0}), false)) << requested.dump();
    ASSERT_TRUE(Succeeded(s.Call("send", {Tuple({"to", "client"})})));
    EXPECT_TRUE(Returned(c.Call("poll", {1}), true)) << "poll(1), " << requested.dump();
    EXPECT_TRUE(Returned(c.Call("recv"), Tuple({"to", "client"}))) << requested.dump();
    ASSERT_TRUE(Succeeded(c.Call("send", {Json::array({1, 2})})));
    EXPECT_TRUE(Returned(s.Call("recv"), Json::array({1, 2}))) << requested.dump();
    EXPECT_TRUE(Succeeded(c.Call("close")));
    EXPECT_TRUE(Returned(c.Attr("closed"), true)) << requested.dump();
  }
}

}  // namespace
}  // namespace mpipc::conformance
