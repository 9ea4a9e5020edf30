// auth clauses (semantics.md §1.O: deliver_challenge / answer_challenge) as seen on the wire: the
// target's Listener or Client against the suite's RawPeer. AUTH-MAXLEN is checked with WIRE-HS-CAP
// in wire_handshake_test.cc.
#include <string>

#include "wire_fixture.h"

namespace mpipc::conformance {
namespace {

namespace hs = handshake;

const std::string kKey = "wire-suite auth key";

class WireAuthTest : public WireTest {
 protected:
  // The target's Client (authkey kKey) receives `first` as its first frame: its create response,
  // and whether it then sent anything.
  Response ClientGets(std::string_view first, bool* sent_nothing) {
    RawListener listener;
    Driver::Pending create = StartClient(listener.address(), Bytes(kKey));
    RawPeer peer = listener.Accept(kIo);
    if (!peer.valid()) throw StepFailed("the target's Client did not connect");
    EXPECT_EQ(peer.SendFrame(first), IoStatus::kOk);
    Response r = Finish(create);
    *sent_nothing = static_cast<bool>(SendsNothing(peer));
    return r;
  }
};

CONFORMANCE_TEST(WireAuthTest, NonBytesKeyNeverReachesTheHandshake, "AUTH-KEYTYPE") {
  // deliver_challenge/answer_challenge are not reachable through driver protocol 1; what is
  // observable is that a str key is refused (TypeError or ValueError) before any handshake byte.
  Response l = TryCreate("Listener", "l", {InetAddress("127.0.0.1", 0)}, {{"authkey", kKey}});
  EXPECT_TRUE(RaisesType(l, {"TypeError", "ValueError"}));
  RawListener listener;
  Driver::Pending create = StartClient(listener.address(), Json(kKey));
  EXPECT_TRUE(RaisesType(Finish(create), {"TypeError", "ValueError"}));
  RawPeer peer = listener.Accept(kQuiet);  // a Client may connect before checking the key
  if (peer.valid()) {
    EXPECT_TRUE(SendsNothing(peer));
  }
}

CONFORMANCE_TEST(WireAuthTest, AnswerToANonChallengeRaisesAuthenticationError,
                 "AUTH-NOT-CHALLENGE") {
  for (const std::string& first : {std::string("#WELCOME#"), std::string(40, 'x')}) {
    bool sent_nothing = false;
    EXPECT_TRUE(Raises(ClientGets(first, &sent_nothing), "AUTH-NOT-CHALLENGE")) << first;
    EXPECT_TRUE(sent_nothing) << first;
  }
}

CONFORMANCE_TEST(WireAuthTest, AnswerToANonChallengeAssertsOn311, "AUTH-NOT-CHALLENGE.py311") {
  bool sent_nothing = false;
  EXPECT_TRUE(Raises(ClientGets(std::string(40, 'x'), &sent_nothing), "AUTH-NOT-CHALLENGE.py311"));
  EXPECT_TRUE(sent_nothing);
}

CONFORMANCE_TEST(WireAuthTest, NoAuthkeyMeansNoHandshake, "AUTH-NO-DEFAULT-KEY") {
  // Listener without authkey: accept() returns with no challenge on the wire.
  const Json address = CreateListener(None());
  Driver::Pending accept = StartAccept();
  RawPeer peer = RawPeer::Connect(address, kIo);
  EXPECT_TRUE(Succeeded(Finish(accept)));
  EXPECT_TRUE(SendsNothing(peer));
  // Client without authkey: connects and returns with no answer awaited or challenge sent.
  RawListener listener;
  Driver::Pending create = StartClient(listener.address(), None());
  RawPeer cpeer = listener.Accept(kIo);
  ASSERT_TRUE(cpeer.valid());
  EXPECT_TRUE(Succeeded(Finish(create)));
  EXPECT_TRUE(SendsNothing(cpeer));
}

CONFORMANCE_TEST(WireAuthTest, DigestComparisonIsNotObservable, "AUTH-COMPARE") {
  MarkSkip(
      "AUTH-COMPARE (== vs hmac.compare_digest) is informative: constant-time comparison has no "
      "functional effect a driver can observe; right/wrong digests are checked by WIRE-HS-VERDICT");
  GTEST_SKIP() << "not observable functionally";
}

CONFORMANCE_TEST(WireAuthTest, ListenerAcceptsEveryAllowedDigestReply,
                 "AUTH-DOWNGRADE WIRE-HS-DIGESTS") {
  const Json address = CreateListener(Bytes(kKey));
  // "" is the raw 16-byte HMAC-MD5 reply of a legacy client.
  for (const char* digest : {"", "md5", "sha256", "sha384", "sha3_256", "sha3_384"}) {
    Driver::Pending accept = StartAccept();
    RawPeer peer = RawPeer::Connect(address, kIo);
    const std::string challenge = ReadFrameOrFail(peer, "challenge");
    EXPECT_EQ(challenge.substr(0, 19), "#CHALLENGE#{sha256}");
    ASSERT_EQ(peer.SendFrame(hs::Respond(kKey, challenge, digest)), IoStatus::kOk);
    EXPECT_EQ(ReadFrameOrFail(peer, "verdict"), "#WELCOME#") << "reply digest '" << digest << "'";
    const hs::Half h = hs::Deliver(peer, kKey, "sha256", kIo);
    EXPECT_TRUE(h.ok) << h.error;
    EXPECT_TRUE(Succeeded(Finish(accept))) << "reply digest '" << digest << "'";
  }
}

}  // namespace
}  // namespace mpipc::conformance
