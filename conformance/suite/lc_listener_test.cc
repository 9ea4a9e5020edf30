// Listener clauses (spec/clauses/listener.json, semantics.md §1.M): family and address
// inference, default and reported addresses, bind errors, backlog, accept/close, and the
// authkey handshake as the accepting side sees it. Everything goes through the driver; the
// suite only looks at the filesystem (socket files, /proc/net/unix) of the shared host.
#include <cerrno>
#include <iostream>

#include "fixture.h"
#include "lc_sockets.h"

namespace mpipc::conformance {
namespace {

class ListenerTest : public lc::SocketTest {
 protected:
  // Listener(*args, **kwargs) bound to `handle` in `actor`.
  Ref Listen(const std::string& handle, Args args, Json kwargs = Json::object(),
             const std::string& actor = "main") {
    if (kwargs.is_null()) kwargs = Json::object();  // `{}` at a call site
    return Create("Listener", handle, std::move(args), std::move(kwargs), actor);
  }
};

// ---- Family and address inference ----

CONFORMANCE_TEST(ListenerTest, FamilyFromArgumentAddressOrDefault, "L-FAMILY") {
  EXPECT_TRUE(HasFamily("AF_INET")) << "hello lists no AF_INET family";
  EXPECT_TRUE(HasFamily("AF_UNIX")) << "hello lists no AF_UNIX family";
  // Explicit family, no address.
  EXPECT_TRUE(
      lc::InetParts(Listen("inet", Json::array(), {{"family", "AF_INET"}}).AttrOk("address")));
  // Inferred from the address.
  const std::string path = SocketPath("family");
  EXPECT_TRUE(Returned(Listen("by_path", {path}).Attr("address"), path));
  EXPECT_TRUE(lc::InetParts(Listen("by_tuple", {AnyLoopback()}).AttrOk("address")));
  // Explicit family agreeing with the address.
  EXPECT_TRUE(
      lc::InetParts(Listen("both", {AnyLoopback()}, {{"family", "AF_INET"}}).AttrOk("address")));
  // Listeners with a default AF_UNIX address are made in an actor, so that main never creates
  // the private temporary directory (DefaultUnixAddressIsAPrivatePath watches it).
  Spawn("A");
  const Json unix_default =
      Listen("unix", Json::array(), {{"family", "AF_UNIX"}}, "A").AttrOk("address");
  EXPECT_TRUE(unix_default.is_string() || IsBytes(unix_default)) << unix_default.dump();
  // No family, no address: AF_UNIX on POSIX.
  const Ref l = Listen("dflt", Json::array(), {}, "A");
  const Json address = l.AttrOk("address");
  EXPECT_FALSE(lc::InetParts(address)) << "default family is not AF_UNIX: " << address.dump();
  EXPECT_TRUE(address.is_string() || IsBytes(address)) << address.dump();
  // The default listener really accepts connections.
  auto [s, c] = Connect(l, "A", "s", address, "main", "c");
  EXPECT_TRUE(Carries(c, s, "over the default family"));
  // A normal exit lets A remove its private directory (close_all would SIGKILL it).
  EXPECT_EQ(Exit("A"), std::optional<int>(0));
}

CONFORMANCE_TEST(ListenerTest, AddressTypeSelectsFamily, "L-ADDR-TYPE") {
  // tuple -> AF_INET
  EXPECT_TRUE(lc::InetParts(Listen("t", {AnyLoopback()}).AttrOk("address")));
  // str -> AF_UNIX path
  const std::string path = SocketPath("addrtype");
  EXPECT_TRUE(Returned(Listen("p", {path}).Attr("address"), path));
  EXPECT_TRUE(lc::IsSocketFile(path)) << path << " is not a socket file";
  // bytes starting with NUL -> AF_UNIX (abstract)
  const std::string name = AbstractName("addrtype");
  Listen("b", {Bytes(std::string(1, '\0') + name)});
  EXPECT_TRUE(lc::AbstractNameBound(name)) << "@" << name << " not in /proc/net/unix";
  // str starting with two backslashes -> AF_PIPE, which POSIX rejects.
  const Response pipe = TryCreate("Listener", "w", {R"(\\.\pipe\lc-addrtype)"});
  EXPECT_TRUE(RaisesType(pipe, {"ValueError"}));
}

CONFORMANCE_TEST(ListenerTest, BytesAddressWithoutNulIsRejected, "L-ADDR-TYPE.bytes") {
  EXPECT_TRUE(Raises(TryCreate("Listener", "l", {Bytes("/some/path")}), "L-ADDR-TYPE.bytes"));
  EXPECT_FALSE(lc::PathExists("/some/path"));
}

CONFORMANCE_TEST(ListenerTest, AddressOfAnotherTypeIsATypeError, "L-ADDR-TYPE.other") {
  EXPECT_TRUE(Raises(TryCreate("Listener", "l", {12345}), "L-ADDR-TYPE.other"));
  EXPECT_TRUE(RaisesType(TryCreate("Listener", "l", {Json::array({1, 2})}), {"TypeError"}));
}

CONFORMANCE_TEST(ListenerTest, PipeFamilyIsRejectedOffWindows, "L-FAMILY-INVALID.pipe") {
  EXPECT_TRUE(Raises(TryCreate("Listener", "l", Json::array(), {{"family", "AF_PIPE"}}),
                     "L-FAMILY-INVALID.pipe"));
  EXPECT_TRUE(Raises(TryCreate("Listener", "l", {R"(\\.\pipe\lc-x)"}), "L-FAMILY-INVALID.pipe"));
}

CONFORMANCE_TEST(ListenerTest, UnknownFamilyWithoutAddress, "L-FAMILY-INVALID.unknown") {
  EXPECT_TRUE(Raises(TryCreate("Listener", "l", Json::array(), {{"family", "AF_NOSUCH"}}),
                     "L-FAMILY-INVALID.unknown"));
}

CONFORMANCE_TEST(ListenerTest, UnixFamilyWithoutSupportOnWindows, "L-FAMILY-INVALID.windows-unix") {
  GTEST_SKIP() << "Windows only: AF_UNIX is always available on POSIX";
}

// ---- Addresses ----

CONFORMANCE_TEST(ListenerTest, DefaultInetAddressIsLoopbackEphemeralPort, "L-DEFAULT-ADDR.inet") {
  const Json address = Listen("l", Json::array(), {{"family", "AF_INET"}}).AttrOk("address");
  const auto parts = lc::InetParts(address);
  ASSERT_TRUE(parts) << address.dump();
  EXPECT_EQ(parts->first, "127.0.0.1");
  EXPECT_GT(parts->second, 0);
}

CONFORMANCE_TEST(ListenerTest, DefaultUnixAddressIsAPrivatePath, "L-DEFAULT-ADDR.unix") {
  Spawn("A");
  const Json address = Listen("l", Json::array(), {{"family", "AF_UNIX"}}, "A").AttrOk("address");
  ASSERT_TRUE(address.is_string()) << "not a filesystem path: " << address.dump();
  const std::string path = address.get<std::string>();
  ASSERT_FALSE(path.empty());
  EXPECT_NE(path[0], '\0') << "an abstract name, not a filesystem path";
  EXPECT_TRUE(lc::IsSocketFile(path)) << path;
  const std::string dir = lc::ParentDirectory(path);
  EXPECT_NE(dir, "/tmp") << "the socket is not in a private directory";
  const auto mode = lc::DirectoryMode(dir);
  ASSERT_TRUE(mode) << dir << " is not a directory";
  EXPECT_EQ(*mode & 077, 0U) << dir << " is accessible to others (mode " << std::oct << *mode
                             << ")";
  // The directory belongs to the process and goes away when it exits normally.
  ASSERT_EQ(Exit("A"), std::optional<int>(0));
  if (lc::PathExists(dir)) {
    // A process that made its temporary directory before forking shares it with its children;
    // then only the parent's exit removes it, which the suite cannot observe.
    const Json main_address = Listen("m", Json::array(), {{"family", "AF_UNIX"}}).AttrOk("address");
    const bool inherited =
        main_address.is_string() && lc::ParentDirectory(main_address.get<std::string>()) == dir;
    EXPECT_TRUE(inherited) << dir << " still exists after its process exited";
    if (inherited) std::cerr << "note: " << dir << " is main's; its removal is not observable\n";
  }
}

CONFORMANCE_TEST(ListenerTest, AddressIsTheBoundSocketName, "L-ADDRESS") {
  const auto inet = lc::InetParts(Listen("h", {InetAddress("localhost", 0)}).AttrOk("address"));
  ASSERT_TRUE(inet);
  EXPECT_EQ(inet->first, "127.0.0.1") << "host name not resolved";
  EXPECT_GT(inet->second, 0) << "port 0 not replaced by the bound port";
  const std::string path = SocketPath("address");
  EXPECT_TRUE(Returned(Listen("p", {path}).Attr("address"), path));
  const std::string abstract = std::string(1, '\0') + AbstractName("address-str");
  EXPECT_TRUE(Returned(Listen("s", {abstract}).Attr("address"), Bytes(abstract)))
      << "a str abstract name must read back as bytes";
  const std::string abstract_b = std::string(1, '\0') + AbstractName("address-bytes");
  EXPECT_TRUE(Returned(Listen("b", {Bytes(abstract_b)}).Attr("address"), Bytes(abstract_b)));
}

CONFORMANCE_TEST(ListenerTest, AbstractNamesLeaveNoFile, "L-ABSTRACT") {
  const std::string name = AbstractName("abstract");
  const std::string address = std::string(1, '\0') + name;
  const Ref l = Listen("l", {address});
  EXPECT_TRUE(lc::AbstractNameBound(name)) << "@" << name << " not in /proc/net/unix";
  EXPECT_FALSE(lc::PathExists(name)) << "a file named " << name << " was created";
  // The bytes spelling reaches the same socket.
  auto [s, c] = Connect(l, "main", "s", Bytes(address), "main", "c");
  EXPECT_TRUE(Carries(c, s, "abstract"));
  EXPECT_TRUE(Succeeded(l.Call("close")));
  EXPECT_FALSE(lc::AbstractNameBound(name)) << "close() did not release @" << name;
  // The name is free again at once: nothing was left behind to clean up.
  Listen("again", {Bytes(address)});
  EXPECT_TRUE(lc::AbstractNameBound(name));
}

// ---- Bind errors ----

CONFORMANCE_TEST(ListenerTest, AddressInUseForBothFamiliesAndStaleFiles, "L-BIND-ERR.in-use") {
  const Json taken = Listen("tcp", {AnyLoopback()}).AttrOk("address");
  Response r = TryCreate("Listener", "tcp2", {taken});
  EXPECT_TRUE(Raises(r, "L-BIND-ERR.in-use"));
  EXPECT_EQ(r.error.errno_value, std::optional<int>(EADDRINUSE));

  const std::string path = SocketPath("inuse");
  Listen("unix", {path});
  r = TryCreate("Listener", "unix2", {path});
  EXPECT_TRUE(Raises(r, "L-BIND-ERR.in-use"));
  EXPECT_EQ(r.error.errno_value, std::optional<int>(EADDRINUSE));

  const std::string stale = SocketPath("stale");
  ASSERT_TRUE(lc::MakeStaleSocketFile(stale));
  r = TryCreate("Listener", "stale", {stale});
  EXPECT_TRUE(Raises(r, "L-BIND-ERR.in-use"));
  EXPECT_EQ(r.error.errno_value, std::optional<int>(EADDRINUSE));
  EXPECT_TRUE(lc::IsSocketFile(stale)) << "the stale socket file was unlinked";
}

CONFORMANCE_TEST(ListenerTest, UnixPathTooLong, "L-BIND-ERR.path-too-long") {
  const std::string path = "/tmp/lc-" + std::string(150, 'x');
  EXPECT_TRUE(Raises(TryCreate("Listener", "l", {path}), "L-BIND-ERR.path-too-long"));
}

CONFORMANCE_TEST(ListenerTest, TupleAddressWithUnixFamily, "L-BIND-ERR.family-mismatch") {
  EXPECT_TRUE(Raises(TryCreate("Listener", "l", {AnyLoopback()}, {{"family", "AF_UNIX"}}),
                     "L-BIND-ERR.family-mismatch"));
}

// ---- backlog, accept, last_accepted ----

CONFORMANCE_TEST(ListenerTest, BacklogBoundsPendingConnects, "L-BACKLOG") {
  // Linux AF_UNIX completes backlog + 1 connects nobody has accepted; the next one blocks.
  const std::string p1 = SocketPath("backlog1");
  const std::string p2 = SocketPath("backlog2");
  const Ref l1 = Listen("l1", {p1});  // default backlog 1
  const Ref l2 = Listen("l2", {p2}, {{"backlog", 2}});
  Spawn("A");
  for (const char* c : {"c1", "c2"}) ASSERT_TRUE(Succeeded(TryCreate("Client", c, {p1})));
  for (const char* c : {"c3", "c4", "c5"}) ASSERT_TRUE(Succeeded(TryCreate("Client", c, {p2})));
  const Driver::Pending over1 = StartClient("A", "x1", p1);
  const Driver::Pending over2 = StartClient("A", "x2", p2);
  EXPECT_FALSE(over1.ArrivesWithin(BlockWindow())) << "connect beyond backlog 1 did not block";
  EXPECT_FALSE(over2.ArrivesWithin(0)) << "connect beyond backlog 2 did not block";
  // Accepting one makes room for the blocked connect.
  ASSERT_TRUE(Succeeded(l1.CallBind("accept", "s1")));
  EXPECT_TRUE(Succeeded(Wait(over1)));
  ASSERT_TRUE(Succeeded(l2.CallBind("accept", "s2")));
  EXPECT_TRUE(Succeeded(Wait(over2)));
}

CONFORMANCE_TEST(ListenerTest, AcceptBlocksThenAuthenticatesADuplexConnection, "L-ACCEPT") {
  const Ref l = Listen("l", {AnyLoopback()}, Authkey("secret"));
  const Json address = l.AttrOk("address");
  Spawn("A");
  const Driver::Pending accept =
      l.In("A").Start("accept", Json::array(), Json::object(), /*bind=*/"s");
  EXPECT_FALSE(accept.ArrivesWithin(BlockWindow())) << "accept() returned with no client";
  ASSERT_TRUE(Succeeded(TryCreate("Client", "c", {address}, Authkey("secret"))));
  ASSERT_TRUE(Returned(Wait(accept), Handle("s")));
  const Ref s = At("s", "A");
  const Ref c = At("c");
  EXPECT_TRUE(Returned(s.Attr("readable"), true));
  EXPECT_TRUE(Returned(s.Attr("writable"), true));
  EXPECT_TRUE(Carries(c, s, "client to server"));
  EXPECT_TRUE(Carries(s, c, "server to client"));
  EXPECT_TRUE(lc::InetParts(l.In("A").AttrOk("last_accepted"))) << "last_accepted not updated";
}

CONFORMANCE_TEST(ListenerTest, LastAcceptedPerFamily, "L-LAST-ACCEPTED") {
  const Ref tcp = Listen("tcp", {AnyLoopback()});
  const auto bound = lc::InetParts(tcp.AttrOk("address"));
  ASSERT_TRUE(bound);
  EXPECT_TRUE(Returned(tcp.Attr("last_accepted"), None()));
  // Without an authkey the connect completes in the kernel's queue before accept().
  ASSERT_TRUE(Succeeded(TryCreate("Client", "c", {tcp.AttrOk("address")})));
  ASSERT_TRUE(Succeeded(tcp.CallBind("accept", "s")));
  const auto peer = lc::InetParts(tcp.AttrOk("last_accepted"));
  ASSERT_TRUE(peer) << "AF_INET last_accepted is not an (ip, port) tuple";
  EXPECT_EQ(peer->first, "127.0.0.1");
  EXPECT_GT(peer->second, 0);
  EXPECT_NE(peer->second, bound->second) << "last_accepted reports the listener's own port";

  const std::string path = SocketPath("last");
  const Ref unix = Listen("unix", {path});
  EXPECT_TRUE(Returned(unix.Attr("last_accepted"), None()));
  ASSERT_TRUE(Succeeded(TryCreate("Client", "uc", {path})));
  ASSERT_TRUE(Succeeded(unix.CallBind("accept", "us")));
  EXPECT_TRUE(Returned(unix.Attr("last_accepted"), "")) << "unnamed AF_UNIX peer";
}

CONFORMANCE_TEST(ListenerTest, EarlyClientDataIsReadableBeforeEof, "L-EARLY-CLIENT") {
  const std::string path = SocketPath("early");
  const Ref unix = Listen("unix", {path});
  const Ref tcp = Listen("tcp", {AnyLoopback()});
  int n = 0;
  for (const Ref* l : {&unix, &tcp}) {
    const std::string c = "c" + std::to_string(n);
    const std::string s = "s" + std::to_string(n++);
    ASSERT_TRUE(Succeeded(TryCreate("Client", c, {l->AttrOk("address")})));
    ASSERT_TRUE(Succeeded(At(c).Call("send_bytes", {Bytes("sent before accept")})));
    ASSERT_TRUE(Succeeded(At(c).Call("close")));
    ASSERT_TRUE(Succeeded(l->CallBind("accept", s)));
    EXPECT_TRUE(Returned(At(s).Call("recv_bytes"), Bytes("sent before accept"))) << l->name();
    EXPECT_TRUE(RaisesType(At(s).Call("recv_bytes"), {"EOFError"})) << l->name();
  }
}

// ---- close ----

CONFORMANCE_TEST(ListenerTest, CloseIsIdempotentUnlinksAndStopsAccept, "L-CLOSE") {
  const std::string path = SocketPath("close");
  const Ref unix = Listen("unix", {path});
  ASSERT_TRUE(lc::IsSocketFile(path));
  EXPECT_TRUE(Succeeded(unix.Call("close")));
  EXPECT_FALSE(lc::PathExists(path)) << "close() left the socket file";
  EXPECT_TRUE(Succeeded(unix.Call("close"))) << "second close()";
  EXPECT_TRUE(Raises(unix.Call("accept"), "L-CLOSE"));

  const Ref tcp = Listen("tcp", {AnyLoopback()});
  EXPECT_TRUE(Succeeded(tcp.Call("close")));
  EXPECT_TRUE(Succeeded(tcp.Call("close")));
  EXPECT_TRUE(Raises(tcp.Call("accept"), "L-CLOSE"));
}

CONFORMANCE_TEST(ListenerTest, AttributesAfterCloseRaise, "L-CLOSE.attributes") {
  const Ref l = Listen("l", {AnyLoopback()});
  ASSERT_TRUE(Succeeded(l.Call("close")));
  EXPECT_TRUE(Raises(l.Attr("address"), "L-CLOSE.attributes"));
  EXPECT_TRUE(Raises(l.Attr("last_accepted"), "L-CLOSE.attributes"));
}

CONFORMANCE_TEST(ListenerTest, CloseFromAnotherThreadDoesNotWakeAccept, "L-CLOSE.xthread") {
  const Ref unix = Listen("unix", {SocketPath("xthread")});
  const Ref tcp = Listen("tcp", {AnyLoopback()});
  Spawn("A");
  const Driver::Pending a1 = unix.In("A").Start("accept", Json::array(), Json::object(), "s1");
  const Driver::Pending a2 = tcp.In("A").Start("accept", Json::array(), Json::object(), "s2");
  ASSERT_FALSE(a1.ArrivesWithin(BlockWindow())) << "accept() returned with no client";
  ASSERT_FALSE(a2.ArrivesWithin(0)) << "accept() returned with no client";
  // Each request to A runs on its own thread: these close() calls come from other threads.
  EXPECT_TRUE(Succeeded(unix.In("A").Call("close")));
  EXPECT_TRUE(Succeeded(tcp.In("A").Call("close")));
  EXPECT_FALSE(a1.ArrivesWithin(BlockWindow())) << "AF_UNIX accept() woke up on close()";
  EXPECT_FALSE(a2.ArrivesWithin(0)) << "AF_INET accept() woke up on close()";
}

CONFORMANCE_TEST(ListenerTest, ClosedByItsContextAcceptRaises, "L-CTX") {
  // Protocol 1 has no `with`: what it observes is what `with Listener() as l:` guarantees, a
  // bound default listener that accepts, and after leaving the block (close()) accept() raising.
  Spawn("A");  // the default AF_UNIX address is made in an actor (see FamilyFromArgument...)
  const Ref l = Listen("l", Json::array(), {}, "A");
  auto [s, c] = Connect(l, "A", "s", l.AttrOk("address"), "main", "c");
  EXPECT_TRUE(Carries(s, c, "inside the block"));
  ASSERT_TRUE(Succeeded(l.Call("close")));
  EXPECT_TRUE(Raises(l.Call("accept"), "L-CTX"));
  EXPECT_EQ(Exit("A"), std::optional<int>(0));  // removes A's private directory
}

// ---- authkey ----

CONFORMANCE_TEST(ListenerTest, AuthkeyMustBeBytes, "L-AUTHKEY-TYPE") {
  EXPECT_TRUE(Raises(TryCreate("Listener", "l", {AnyLoopback()}, {{"authkey", "secret"}}),
                     "L-AUTHKEY-TYPE"));
  EXPECT_TRUE(
      Raises(TryCreate("Listener", "l", {AnyLoopback()}, {{"authkey", 7}}), "L-AUTHKEY-TYPE"));
  EXPECT_TRUE(Succeeded(TryCreate("Listener", "l", {AnyLoopback()}, Authkey("secret"))));
}

CONFORMANCE_TEST(ListenerTest, EmptyAuthkeyStillAuthenticates, "L-AUTH-ENABLE") {
  const Ref l = Listen("l", {AnyLoopback()}, Authkey(""));
  const Json address = l.AttrOk("address");
  Spawn("A");
  Spawn("B");
  // Same empty key on both sides: the handshake runs and succeeds.
  auto [s, c] = Connect(l, "A", "s", address, "B", "c", Authkey(""));
  EXPECT_TRUE(Carries(c, s, "empty key"));
  // A non-empty client key is challenged and refused: the listener did authenticate.
  auto [accept, wrong] = AcceptAndConnect(l, "A", "s2", address, "B", "c2", Authkey("x"));
  EXPECT_TRUE(RaisesType(wrong, {"AuthenticationError"}));
  EXPECT_TRUE(RaisesType(Wait(accept), {"AuthenticationError"}));
}

CONFORMANCE_TEST(ListenerTest, FailedHandshakeLeavesListenerUsable, "L-AUTH-FAIL") {
  const Ref l = Listen("l", {SocketPath("authfail")}, Authkey("secret"));
  const Json address = l.AttrOk("address");
  Spawn("A");
  auto [accept, wrong] = AcceptAndConnect(l, "A", "s", address, "main", "bad", Authkey("wrong"));
  EXPECT_TRUE(RaisesType(wrong, {"AuthenticationError"}));
  EXPECT_TRUE(Raises(Wait(accept), "L-AUTH-FAIL"));
  // The same Listener serves the next, correct client.
  auto [s, c] = Connect(l, "A", "s", address, "main", "c", Authkey("secret"));
  EXPECT_TRUE(Carries(c, s, "after a failed handshake"));
  EXPECT_TRUE(Carries(s, c, "and back"));
}

CONFORMANCE_TEST(ListenerTest, SilentClientStallsAcceptUntilItLeaves, "L-HANDSHAKE-BLOCKS") {
  const Ref tcp = Listen("tcp", {AnyLoopback()}, Authkey("secret"));
  const Ref unix = Listen("unix", {SocketPath("silent")}, Authkey("secret"));
  Spawn("A");
  // A client without a key connects and never answers the challenge.
  auto [a1, c1] = AcceptAndConnect(tcp, "A", "s1", tcp.AttrOk("address"), "main", "c1");
  ASSERT_TRUE(Succeeded(c1));
  ASSERT_TRUE(Returned(At("c1").Call("poll", {session().limit()}), true)) << "no challenge";
  EXPECT_FALSE(a1.ArrivesWithin(BlockWindow())) << "accept() did not wait for the answer";
  // Closing without reading the challenge resets the connection.
  ASSERT_TRUE(Succeeded(At("c1").Call("close")));
  EXPECT_TRUE(RaisesType(Wait(a1), {"ConnectionResetError"}));

  // Reading the challenge first, then closing: a plain end of stream.
  auto [a2, c2] = AcceptAndConnect(unix, "A", "s2", unix.AttrOk("address"), "main", "c2");
  ASSERT_TRUE(Succeeded(c2));
  const Response challenge = At("c2").Call("recv_bytes");
  ASSERT_TRUE(Succeeded(challenge));
  EXPECT_EQ(AsBytes(challenge.result).rfind("#CHALLENGE#", 0), 0U);
  EXPECT_FALSE(a2.ArrivesWithin(0)) << "accept() did not wait for the answer";
  ASSERT_TRUE(Succeeded(At("c2").Call("close")));
  EXPECT_TRUE(RaisesType(Wait(a2), {"EOFError"}));
}

}  // namespace
}  // namespace mpipc::conformance
