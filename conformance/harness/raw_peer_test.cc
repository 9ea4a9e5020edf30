// Unit tests of RawPeer / RawListener / handshake against themselves: frame bytes, bounded reads
// (timeout, EOF, reset), the three address kinds, HMAC vectors, CPython's response parsing, and
// both handshake forms played by two raw peers.
#include "raw_peer.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>

namespace mpipc::conformance {
namespace {

namespace hs = handshake;

// A connected pair through a RawListener of `kind`.
std::pair<RawPeer, RawPeer> Pair(RawListener::Kind kind = RawListener::Kind::kInet) {
  RawListener l(kind);
  RawPeer client = RawPeer::Connect(l.address(), 5);
  RawPeer server = l.Accept(5);
  EXPECT_TRUE(server.valid());
  return {std::move(client), std::move(server)};
}

TEST(RawPeerTest, FrameHeadersAreCPythonsGoldenBytes) {
  EXPECT_EQ(Hex(Frame("hi")), "00 00 00 02 68 69");
  EXPECT_EQ(Hex(FrameHeader(0)), "00 00 00 00");
  EXPECT_EQ(Hex(FrameHeader(0x7FFFFFFF)), "7f ff ff ff");
  EXPECT_EQ(Hex(FrameHeader(uint64_t{1} << 31)), "ff ff ff ff 00 00 00 00 80 00 00 00");
  EXPECT_EQ(Hex(LongFrameHeader(5)), "ff ff ff ff 00 00 00 00 00 00 00 05");
  EXPECT_EQ(Hex(RawHeader32(0xFFFFFFFE)), "ff ff ff fe");
  EXPECT_EQ(FromHex("80044e2e"), std::string("\x80\x04\x4e\x2e"));
  EXPECT_THROW(FromHex("8"), std::invalid_argument);
}

TEST(RawPeerTest, FramesCrossEveryAddressKind) {
  for (auto kind :
       {RawListener::Kind::kInet, RawListener::Kind::kUnixPath, RawListener::Kind::kUnixAbstract}) {
    auto [a, b] = Pair(kind);
    ASSERT_EQ(a.SendFrame("hello"), IoStatus::kOk);
    ASSERT_EQ(a.Send(LongFrameHeader(3) + "abc" + RawHeader32(0xFFFFFFFE)), IoStatus::kOk);
    FrameResult f = b.ReadFrame(5);
    EXPECT_EQ(f.status, IoStatus::kOk);
    EXPECT_EQ(f.payload, "hello");
    EXPECT_EQ(Hex(f.header), "00 00 00 05");
    f = b.ReadFrame(5);
    EXPECT_EQ(f.status, IoStatus::kOk);
    EXPECT_EQ(f.length, 3);
    EXPECT_EQ(f.payload, "abc");
    f = b.ReadFrame(5);
    EXPECT_EQ(f.status, IoStatus::kOk);
    EXPECT_EQ(f.length, -2);
    EXPECT_TRUE(f.payload.empty());
  }
}

TEST(RawPeerTest, ReadFrameStopsBeforeAnOversizedPayload) {
  auto [a, b] = Pair();
  ASSERT_EQ(a.Send(FrameHeader(1000) + "x"), IoStatus::kOk);
  FrameResult f = b.ReadFrame(5, 10);
  EXPECT_TRUE(f.too_long);
  EXPECT_EQ(f.length, 1000);
  ReadResult rest = b.ReadExact(1, 5);  // the payload byte is still unread
  EXPECT_EQ(rest.data, "x");
}

TEST(RawPeerTest, ReadsEndAtTheirDeadline) {
  auto [a, b] = Pair();
  EXPECT_EQ(b.ReadSome(10, 0.05).status, IoStatus::kTimeout);
  EXPECT_FALSE(b.WaitReadable(0.05));
  ASSERT_EQ(a.Send("ab"), IoStatus::kOk);
  EXPECT_TRUE(b.WaitReadable(5));
  ReadResult r = b.ReadExact(3, 0.05);
  EXPECT_EQ(r.status, IoStatus::kTimeout);
  EXPECT_EQ(r.data, "ab");
  EXPECT_EQ(b.ReadFrame(0.05).status, IoStatus::kTimeout);
}

TEST(RawPeerTest, EofAndResetAreTold) {
  {
    auto [a, b] = Pair();
    ASSERT_EQ(a.Send("xyz"), IoStatus::kOk);
    a.ShutdownWrite();
    ReadResult r = b.ReadExact(5, 5);
    EXPECT_EQ(r.status, IoStatus::kEof);
    EXPECT_EQ(r.data, "xyz");
    ASSERT_EQ(b.SendFrame("still writable"), IoStatus::kOk);  // only a's write side is shut
    EXPECT_EQ(a.ReadFrame(5).payload, "still writable");
  }
  {
    auto [a, b] = Pair();
    a.CloseWithReset();
    EXPECT_EQ(b.ReadToEnd(5).status, IoStatus::kReset);
  }
  {
    auto [a, b] = Pair();
    ASSERT_EQ(a.Send("12"), IoStatus::kOk);
    a.Close();
    ReadResult r = b.ReadToEnd(5);
    EXPECT_EQ(r.status, IoStatus::kEof);
    EXPECT_EQ(r.data, "12");
  }
}

TEST(RawPeerTest, ConnectAndAcceptAreBounded) {
  RawListener l;
  EXPECT_FALSE(l.Accept(0.05).valid());
  RawListener gone(RawListener::Kind::kUnixPath);
  const Json address = gone.address();
  gone = RawListener();  // closes and unlinks
  EXPECT_THROW(RawPeer::Connect(address, 1), RawPeerError);
}

TEST(RawPeerTest, HmacMatchesRfcVectors) {
  const std::string key(16, '\x0b');
  EXPECT_EQ(hs::Hmac("md5", key, "Hi There"), FromHex("9294727a3638bb1c13f48ef8158bfc9d"));
  EXPECT_EQ(hs::Hmac("sha256", std::string(20, '\x0b'), "Hi There"),
            FromHex("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"));
  EXPECT_EQ(hs::DigestSize("sha3_384"), 48u);
  EXPECT_EQ(hs::Hmac("sha256", "", "m").size(), 32u);  // the empty key is a key
  EXPECT_THROW(hs::Hmac("whirlpool", "k", "m"), std::invalid_argument);
}

TEST(RawPeerTest, ChallengesAndResponsesHaveTheWireShapes) {
  const std::string legacy = hs::MakeChallenge("");
  EXPECT_EQ(legacy.size(), 31u);
  EXPECT_EQ(legacy.substr(0, 11), "#CHALLENGE#");
  const std::string modern = hs::MakeChallenge("sha256");
  EXPECT_EQ(modern.size(), 59u);
  EXPECT_EQ(modern.substr(0, 19), "#CHALLENGE#{sha256}");
  EXPECT_EQ(hs::Respond("k", legacy, "auto"), hs::Hmac("md5", "k", legacy.substr(11)));
  EXPECT_EQ(hs::Respond("k", modern, "auto"),
            "{sha256}" + hs::Hmac("sha256", "k", modern.substr(11)));  // prefix included
  EXPECT_EQ(hs::Respond("k", modern, ""), hs::Hmac("md5", "k", modern.substr(11)));
  EXPECT_THROW(hs::Respond("k", "#CHALLENGE#{sha512}" + std::string(40, 'x'), "auto"),
               std::invalid_argument);
  EXPECT_THROW(hs::ChallengePayload("#CHALLENGE"), std::invalid_argument);
}

TEST(RawPeerTest, VerifyParsesResponsesAsCPython312) {
  const std::string c = hs::MakeChallenge("sha256");
  for (std::string_view d : hs::kAllowedDigests) {
    const hs::Check ok = hs::Verify("k", c, hs::Respond("k", c, d));
    EXPECT_TRUE(ok.ok) << d << ": " << ok.error;
    EXPECT_EQ(ok.digest, d);
  }
  EXPECT_TRUE(hs::Verify("k", c, hs::Respond("k", c, "")).ok);  // raw MD5 is accepted
  EXPECT_EQ(hs::Verify("k", c, std::string(20, 'x')).error, "expected 'md5' of length 16 got 20");
  EXPECT_EQ(hs::Verify("k", c, std::string(16, 'x')).error, "digest received was wrong");
  EXPECT_EQ(hs::Verify("k", c, "{sha256}" + std::string(31, 'x')).error,
            "expected 'sha256' of length 32 got 31");
  EXPECT_EQ(hs::Verify("k", c, "{sha1}" + std::string(20, 'x')).error.rfind("unsupported", 0), 0u);
  EXPECT_FALSE(hs::Verify("k", c, "{sha256xxxx}" + std::string(32, 'x')).ok);
  EXPECT_FALSE(hs::Verify("other", c, hs::Respond("k", c, "auto")).ok);
}

// Both halves played by two raw peers, in both forms and with a wrong key.
TEST(RawPeerTest, DeliverAndAnswerPlayTheHandshake) {
  struct Case {
    const char* challenge_digest;
    const char* response_digest;
    const char* answer_key;
    bool ok;
  };
  const Case cases[] = {{"", "auto", "key", true},         {"sha256", "auto", "key", true},
                        {"sha3_384", "auto", "key", true}, {"sha256", "", "key", true},
                        {"sha256", "md5", "key", true},    {"sha256", "auto", "bad", false},
                        {"", "auto", "bad", false}};
  for (const Case& c : cases) {
    std::pair<RawPeer, RawPeer> pair = Pair();
    RawPeer& a = pair.first;
    RawPeer& b = pair.second;
    hs::Half server;
    std::thread t([&] { server = hs::Deliver(b, "key", c.challenge_digest, 5); });
    const hs::Half client = hs::Answer(a, c.answer_key, c.response_digest, 5);
    t.join();
    EXPECT_EQ(server.ok, c.ok) << server.error;
    EXPECT_EQ(client.ok, c.ok) << client.error;
    EXPECT_EQ(client.challenge, server.challenge);
    EXPECT_EQ(client.verdict, c.ok ? "#WELCOME#" : "#FAILURE#");
  }
}

}  // namespace
}  // namespace mpipc::conformance
