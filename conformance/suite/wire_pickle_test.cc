// Wire clauses of send()/recv() payloads (wire-protocol.md §2.3): pickles of the default protocol,
// byte-exact for the golden vectors, in both directions. The RawPeer reads the frame the target's
// send() writes, and writes golden pickles for the target's recv().
#include <string>
#include <vector>

#include "wire_fixture.h"

namespace mpipc::conformance {
namespace {

struct Golden {
  const char* what;
  Json value;
  const char* pickle_hex;  // protocol 4 (CPython C pickler)
};

// The vectors of wire-protocol.md §2.3 that the driver data model can carry (set/frozenset have
// no driver value and are checked on receipt only; 2**64 does not fit the suite's JSON integers).
std::vector<Golden> GoldenVectors() {
  return {
      {"None", None(), "80044e2e"},
      {"True", true, "8004882e"},
      {"0", 0, "80044b002e"},
      {"1", 1, "80044b012e"},
      {"255", 255, "80044bff2e"},
      {"-1", -1, "80049506000000000000004affffffff2e"},
      {"256", 256, "80049504000000000000004d00012e"},
      {"65536", 65536, "80049506000000000000004a000001002e"},
      {"2**31", int64_t{1} << 31, "80049508000000000000008a0500000080002e"},
      {"1.5", Float(1.5), "8004950a00000000000000473ff80000000000002e"},
      {"''", "", "80049504000000000000008c00942e"},
      {"'a'", "a", "80049505000000000000008c0161942e"},
      {"'h\xc3\xa9llo'", "h\xc3\xa9llo", "8004950a000000000000008c0668c3a96c6c6f942e"},
      {"b''", Bytes(""), "80049504000000000000004300942e"},
      {"b'xyz'", Bytes("xyz"), "8004950700000000000000430378797a942e"},
      {"[]", Json::array(), "80045d942e"},
      {"()", Tuple({}), "8004292e"},
      {"{}", Dict({}), "80047d942e"},
      {"[1,'a']", Json::array({1, "a"}), "8004950b000000000000005d94284b018c016194652e"},
      {"(1,)", Tuple({1}), "80049505000000000000004b0185942e"},
      {"(1,2)", Tuple({1, 2}), "80049507000000000000004b014b0286942e"},
      {"(1,2,3)", Tuple({1, 2, 3}), "80049509000000000000004b014b024b0387942e"},
      {"(1,2,3,4)", Tuple({1, 2, 3, 4}), "8004950c00000000000000284b014b024b034b0474942e"},
      {"{'k':1}", Dict({{"k", 1}}), "8004950a000000000000007d948c016b944b01732e"},
      {"[1,[2,[3]]]", Json::array({1, Json::array({2, Json::array({3})})}),
       "80049512000000000000005d94284b015d94284b025d944b036165652e"},
  };
}

class WirePickleTest : public WireTest {
 protected:
  // pickle.DEFAULT_PROTOCOL of the target: 4 up to 3.13, 5 from 3.14 (gh-118830).
  int Protocol() { return IsPython() && PythonAtLeast("3.14") ? 5 : 4; }
  // The golden pickle for the target's protocol (only byte 2 differs between 4 and 5).
  std::string Expected(const Golden& g) {
    std::string p = FromHex(g.pickle_hex);
    p[1] = static_cast<char>(Protocol());
    return p;
  }
};

CONFORMANCE_TEST(WirePickleTest, SendWritesADefaultProtocolPickle, "WIRE-PICKLE-PROTOCOL") {
  RawPeer peer = PlainConnection();
  for (const Golden& g : GoldenVectors()) {
    ASSERT_TRUE(Succeeded(At("c").Call("send", {g.value}))) << g.what;
    const std::string p = ReadFrameOrFail(peer, "send() payload");
    ASSERT_GE(p.size(), 3u) << g.what;
    EXPECT_EQ(static_cast<uint8_t>(p[0]), 0x80) << g.what << ": " << Hex(p);
    EXPECT_EQ(static_cast<int>(p[1]), Protocol()) << g.what << ": " << Hex(p);
    // A body (what follows 80 <proto>) of 4+ bytes is framed: 95 + its 8-byte little-endian
    // length; a shorter one is not.
    if (static_cast<uint8_t>(p[2]) == 0x95 && p.size() >= 11) {
      uint64_t len = 0;
      for (size_t i = 10; i >= 3; --i) len = (len << 8) | static_cast<uint8_t>(p[i]);
      EXPECT_EQ(len, p.size() - 11) << g.what << ": " << Hex(p);
      EXPECT_GE(len, 4u) << g.what << ": " << Hex(p);
    } else {
      EXPECT_LT(p.size() - 2, 4u) << g.what << ": a 4+ byte body without FRAME: " << Hex(p);
    }
  }
}

CONFORMANCE_TEST(WirePickleTest, SendWritesTheGoldenBytes, "WIRE-PICKLE-GOLDEN") {
  RawPeer peer = PlainConnection();
  for (const Golden& g : GoldenVectors()) {
    ASSERT_TRUE(Succeeded(At("c").Call("send", {g.value}))) << g.what;
    EXPECT_EQ(Hex(ReadFrameOrFail(peer, "send() payload")), Hex(Expected(g))) << g.what;
  }
  // The whole frame of send([1, 'a']).
  ASSERT_TRUE(Succeeded(At("c").Call("send", {Json::array({1, "a"})})));
  std::string wire = "00000016" + std::string("8004950b000000000000005d94284b018c016194652e");
  std::string expected = FromHex(wire);
  expected[5] = static_cast<char>(Protocol());
  EXPECT_EQ(Hex(peer.ReadExact(4 + 0x16, kIo).data), Hex(expected));
}

CONFORMANCE_TEST(WirePickleTest, RecvLoadsTheGoldenBytes, "WIRE-PICKLE-GOLDEN") {
  RawPeer peer = PlainConnection();
  for (const Golden& g : GoldenVectors()) {
    ASSERT_EQ(peer.SendFrame(Expected(g)), IoStatus::kOk);
    EXPECT_TRUE(Returned(Finish(At("c").Start("recv")), g.value)) << g.what;
  }
  // set() and frozenset() have no driver value: the driver reports them as opaque objects.
  const std::pair<const char*, const char*> sets[] = {
      {"set", "80048f942e"}, {"frozenset", "80049504000000000000002891942e"}};
  for (const auto& [type, hex] : sets) {
    std::string pickle = FromHex(hex);
    pickle[1] = static_cast<char>(Protocol());
    ASSERT_EQ(peer.SendFrame(pickle), IoStatus::kOk);
    const Json opaque = {{"$opaque", {{"type", type}, {"repr", std::string(type) + "()"}}}};
    EXPECT_TRUE(Returned(Finish(At("c").Start("recv")), opaque)) << type;
  }
}

}  // namespace
}  // namespace mpipc::conformance
