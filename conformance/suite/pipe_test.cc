// Pipe(): what it returns, the direction of its ends, the transport, message boundaries and the
// independence of the two directions (spec/clauses/pipe.json, semantics.md §1.A).
#include <fcntl.h>

#include <string>
#include <vector>

#include "conn_streams.h"
#include "fixture.h"

namespace mpipc::conformance {
namespace {

class PipeTest : public ConformanceTest {
 protected:
  // readable, writable and closed of `c`, as the driver reports them.
  void ExpectFlags(const Ref& c, bool readable, bool writable) {
    EXPECT_EQ(c.AttrOk("readable"), Json(readable)) << c.name();
    EXPECT_EQ(c.AttrOk("writable"), Json(writable)) << c.name();
    EXPECT_EQ(c.AttrOk("closed"), Json(false)) << c.name();
  }
  // One message from `from` to `to`, received whole.
  void ExpectCarries(const Ref& from, const Ref& to, const std::string& text) {
    EXPECT_TRUE(Succeeded(from.Call("send_bytes", {Bytes(text)})));
    EXPECT_TRUE(Returned(to.Call("recv_bytes"), Bytes(text))) << from.name() << " -> " << to.name();
  }
  // Sends `messages` one send_bytes each, then checks they come out one recv_bytes each and
  // that nothing is left over.
  void ExpectBoundaries(const Ref& from, const Ref& to, const std::vector<std::string>& messages) {
    for (const auto& m : messages) from.Ok("send_bytes", {Bytes(m)});
    for (const auto& m : messages) EXPECT_TRUE(Returned(to.Call("recv_bytes"), Bytes(m)));
    EXPECT_TRUE(Returned(to.Call("poll"), false)) << "bytes left after the last message";
  }
  int64_t DriverPid() { return session().hello().at("pid").get<int64_t>(); }
};

CONFORMANCE_TEST(PipeTest, DefaultPipeGivesTwoTwoWayEnds, "PIPE-RET") {
  auto [a, b] = CreatePipe("a", "b");
  ExpectFlags(a, true, true);
  ExpectFlags(b, true, true);
  ExpectCarries(a, b, "ping");
  ExpectCarries(b, a, "pong");
}

CONFORMANCE_TEST(PipeTest, ExplicitDuplexTrueGivesTwoTwoWayEnds, "PIPE-RET") {
  auto [a, b] = CreatePipe("a", "b", true);
  ExpectFlags(a, true, true);
  ExpectFlags(b, true, true);
  ExpectCarries(b, a, "one");
  ExpectCarries(a, b, "two");
}

CONFORMANCE_TEST(PipeTest, SimplexFirstEndReceivesSecondSends, "PIPE-SIMPLEX") {
  auto [r, w] = CreatePipe("r", "w", false);
  ExpectFlags(r, true, false);
  ExpectFlags(w, false, true);
  ExpectCarries(w, r, "one way");
}

CONFORMANCE_TEST(PipeTest, TruthyDuplexValuesGiveTwoWayPipes, "PIPE-TRUTHY") {
  const std::vector<Json> truthy = {"yes", 2, Json::array({0})};
  for (size_t i = 0; i < truthy.size(); ++i) {
    const std::string n1 = "a" + std::to_string(i);
    const std::string n2 = "b" + std::to_string(i);
    Response r = TryCreate("Pipe", {n1, n2}, Json::array(), {{"duplex", truthy[i]}});
    ASSERT_TRUE(Succeeded(r)) << "Pipe(duplex=" << truthy[i].dump() << ")";
    ExpectFlags(At(n1), true, true);
    ExpectFlags(At(n2), true, true);
    ExpectCarries(At(n1), At(n2), "there");
    ExpectCarries(At(n2), At(n1), "back");
  }
}

// The driver runs on this host, so /proc shows what the ends of main's pipes are.
CONFORMANCE_TEST(PipeTest, DuplexIsConnectedUnixStreamSocketsSimplexIsOsPipe, "PIPE-TRANSPORT") {
  const int64_t pid = DriverPid();
  auto [a, b] = CreatePipe("a", "b");
  auto [r, w] = CreatePipe("r", "w", false);
  const auto fa = a.Ok("fileno").get<int64_t>();
  const auto fb = b.Ok("fileno").get<int64_t>();
  const auto fr = r.Ok("fileno").get<int64_t>();
  const auto fw = w.Ok("fileno").get<int64_t>();
  const auto la = conn::DescriptorLink(pid, fa);
  if (!la) {
    MarkSkip("cannot read /proc/" + std::to_string(pid) + "/fd (not Linux?)");
    GTEST_SKIP();
  }
  const std::string socket_prefix = "socket:[";
  for (int64_t fd : {fa, fb}) {
    const auto link = conn::DescriptorLink(pid, fd);
    ASSERT_TRUE(link && link->rfind(socket_prefix, 0) == 0) << "fd " << fd << ": " << *link;
    const std::string inode = link->substr(socket_prefix.size(), link->size() - 9);
    const auto info = conn::UnixSocketByInode(inode);
    ASSERT_TRUE(info) << "fd " << fd << " is not an AF_UNIX socket";
    EXPECT_EQ(info->type, 1) << "fd " << fd << " is not SOCK_STREAM";
    EXPECT_EQ(info->state, 3) << "fd " << fd << " is not connected";
    const auto flags = conn::FdInfoFlags(pid, fd);
    ASSERT_TRUE(flags);
    EXPECT_EQ(*flags & O_NONBLOCK, 0) << "fd " << fd << " is non-blocking";
  }
  const auto lr = conn::DescriptorLink(pid, fr);
  const auto lw = conn::DescriptorLink(pid, fw);
  ASSERT_TRUE(lr && lw);
  EXPECT_EQ(lr->rfind("pipe:[", 0), 0U) << *lr;
  EXPECT_EQ(*lr, *lw) << "the two ends are not the same pipe";
  const auto flags_r = conn::FdInfoFlags(pid, fr);
  const auto flags_w = conn::FdInfoFlags(pid, fw);
  ASSERT_TRUE(flags_r && flags_w);
  EXPECT_EQ(*flags_r & O_ACCMODE, O_RDONLY) << "the first end is not the pipe's read descriptor";
  EXPECT_EQ(*flags_w & O_ACCMODE, O_WRONLY) << "the second end is not the pipe's write descriptor";
  EXPECT_EQ(*flags_r & O_NONBLOCK, 0);
  EXPECT_EQ(*flags_w & O_NONBLOCK, 0);
}

CONFORMANCE_TEST(PipeTest, WindowsNamedPipe, "PIPE-TRANSPORT.windows") {
  GTEST_SKIP() << "Windows only";
}

CONFORMANCE_TEST(PipeTest, DuplexKeepsEveryMessageBoundary, "PIPE-BOUNDARIES") {
  auto [a, b] = CreatePipe("a", "b");
  ExpectBoundaries(a, b, {"a", "b", "cd", "", "", "e", PatternString(20000), "f"});
}

CONFORMANCE_TEST(PipeTest, SimplexKeepsEveryMessageBoundary, "PIPE-BOUNDARIES") {
  auto [r, w] = CreatePipe("r", "w", false);
  ExpectBoundaries(w, r, {"", "a", "b", "cd", PatternString(20000, 1), "", "g"});
}

// A sends on one end while B sends on the other, each with a receive already blocked on its own
// end: each direction delivers its own messages, in order.
CONFORMANCE_TEST(PipeTest, TwoProcessesUseTheTwoEndsAtOnce, "PIPE-DIRECTIONS") {
  auto [a, b] = CreatePipe("a", "b");
  Spawn("A");
  Spawn("B");
  const Ref aa = a.In("A");
  const Ref bb = b.In("B");
  Driver::Pending recv_a = aa.Start("recv_bytes");
  Driver::Pending recv_b = bb.Start("recv_bytes");
  EXPECT_FALSE(recv_a.ArrivesWithin(BlockWindow())) << "recv_bytes returned with nothing sent";
  EXPECT_FALSE(recv_b.ArrivesWithin(0));
  constexpr int kMessages = 4;
  auto from = [](const char* who, int i) {
    return std::string("from ") + who + " #" + std::to_string(i);
  };
  for (int i = 0; i < kMessages; ++i) {
    Driver::Pending sa = aa.Start("send_bytes", {Bytes(from("A", i))});
    Driver::Pending sb = bb.Start("send_bytes", {Bytes(from("B", i))});
    EXPECT_TRUE(Succeeded(Wait(sa)));
    EXPECT_TRUE(Succeeded(Wait(sb)));
  }
  EXPECT_TRUE(Returned(Wait(recv_a), Bytes(from("B", 0))));
  EXPECT_TRUE(Returned(Wait(recv_b), Bytes(from("A", 0))));
  for (int i = 1; i < kMessages; ++i) {
    Driver::Pending ra = aa.Start("recv_bytes");
    Driver::Pending rb = bb.Start("recv_bytes");
    EXPECT_TRUE(Returned(Wait(ra), Bytes(from("B", i))));
    EXPECT_TRUE(Returned(Wait(rb), Bytes(from("A", i))));
  }
}

}  // namespace
}  // namespace mpipc::conformance
