// Wire clauses of the authentication handshake (WIRE-HS-*, wire-protocol.md §2.4-2.6): the suite
// plays the other peer byte by byte. Server side: the target's Listener (with an authkey) accepts
// in actor S while a RawPeer connects and answers; client side: the target's Client connects from
// actor A to a RawListener that challenges it.
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "wire_fixture.h"

namespace mpipc::conformance {
namespace {

namespace hs = handshake;

const std::string kKey = "wire-suite key";
Json KeyValue() { return Bytes(kKey); }

class WireHandshakeTest : public WireTest {
 protected:
  // A raw client connected to the target's Listener "l" (created with kKey on first use), accept
  // pending in actor S, and the challenge the target sent first.
  struct ServerRun {
    RawPeer peer;
    Driver::Pending accept;
    std::string challenge;
  };
  ServerRun ConnectToListener() {
    if (address_.is_null()) address_ = CreateListener(KeyValue());
    ServerRun s;
    s.accept = StartAccept();
    s.peer = RawPeer::Connect(address_, kIo);
    s.challenge = ReadChallenge(s.peer);
    return s;
  }

  // The target Listener's verdict on `response(challenge)` and what accept() then returned.
  struct Refusal {
    std::string verdict;
    Response accept;
  };
  Refusal ServerVerdict(const std::function<std::string(const std::string&)>& response) {
    ServerRun s = ConnectToListener();
    EXPECT_EQ(s.peer.SendFrame(response(s.challenge)), IoStatus::kOk);
    Refusal out;
    FrameResult f = s.peer.ReadFrame(kIo, hs::kMaxMessage);
    out.verdict =
        f.status == IoStatus::kOk ? f.payload : "<" + std::string(IoStatusName(f.status)) + ">";
    if (out.verdict == hs::kWelcome) {
      // Finish the other half so that accept() returns.
      const hs::Half h = hs::Deliver(s.peer, kKey, "sha256", kIo);
      EXPECT_TRUE(h.ok) << h.error;
    } else {
      s.peer.Close();
    }
    out.accept = Finish(s.accept);
    return out;
  }

  // The target Client as challenger (its second half): the raw server passes the first half, then
  // replies `response(challenge)` to the Client's challenge. The Client's verdict and create().
  Refusal ClientVerdict(const std::function<std::string(const std::string&)>& response) {
    ClientRun c = ChallengeClient(hs::MakeChallenge(LegacyHandshake() ? "" : "sha256"));
    ReadFrameOrFail(c.peer, "response");
    EXPECT_EQ(c.peer.SendFrame(hs::kWelcome), IoStatus::kOk);
    const std::string challenge = ReadFrameOrFail(c.peer, "challenge");
    EXPECT_EQ(c.peer.SendFrame(response(challenge)), IoStatus::kOk);
    Refusal out;
    FrameResult f = c.peer.ReadFrame(kIo, hs::kMaxMessage);
    out.verdict =
        f.status == IoStatus::kOk ? f.payload : "<" + std::string(IoStatusName(f.status)) + ">";
    out.accept = Finish(c.create);
    return out;
  }

  // The target's Client (kKey unless given) in actor A, connected to a fresh RawListener that has
  // sent it `challenge` as the first frame.
  struct ClientRun {
    RawListener listener;
    RawPeer peer;
    Driver::Pending create;
  };
  ClientRun ChallengeClient(std::string_view challenge, const Json& authkey = KeyValue()) {
    ClientRun c;
    c.create = StartClient(c.listener.address(), authkey);
    c.peer = c.listener.Accept(kIo);
    if (!c.peer.valid()) throw StepFailed("the target's Client did not connect");
    EXPECT_EQ(c.peer.SendFrame(challenge), IoStatus::kOk);
    return c;
  }

  // The target Client's response to `challenge`; the raw peer then sends #FAILURE# so that the
  // Client ends at once (it raises "digest sent was rejected").
  std::string ClientResponse(std::string_view challenge) {
    ClientRun c = ChallengeClient(challenge);
    std::string response = ReadFrameOrFail(c.peer, "response");
    EXPECT_EQ(c.peer.SendFrame(hs::kFailure), IoStatus::kOk);
    EXPECT_TRUE(RaisesType(Finish(c.create), {"AuthenticationError"}));
    return response;
  }

  // The target Client refuses `challenge`: it raises what `clause` says and sends nothing.
  void ClientRefuses(std::string_view challenge, const std::string& clause) {
    ClientRun c = ChallengeClient(challenge);
    EXPECT_TRUE(Raises(Finish(c.create), clause)) << "challenge " << Hex(challenge);
    EXPECT_TRUE(SendsNothing(c.peer)) << "after challenge " << Hex(challenge);
  }

  Json address_;
};

// ---- Constants, order, verdicts ----

CONFORMANCE_TEST(WireHandshakeTest, ListenerChallengesFirstAndAnswersInLockStep,
                 "WIRE-HS-ORDER WIRE-HS-CONSTANTS") {
  ServerRun s = ConnectToListener();  // we sent nothing: the challenge came first
  EXPECT_EQ(s.challenge.substr(0, 11), "#CHALLENGE#");
  EXPECT_EQ(Hex(s.challenge.substr(0, 11)), "23 43 48 41 4c 4c 45 4e 47 45 23");
  ASSERT_EQ(s.peer.SendFrame(hs::Respond(kKey, s.challenge, "auto")), IoStatus::kOk);
  FrameResult verdict = s.peer.ReadFrame(kIo);
  EXPECT_EQ(Hex(verdict.header), "00 00 00 09");
  EXPECT_EQ(verdict.payload, "#WELCOME#");
  EXPECT_TRUE(SendsNothing(s.peer)) << "the Listener must wait for the client's challenge";
  EXPECT_FALSE(s.accept.ArrivesWithin(0)) << "accept() returned before the second half";
  const std::string challenge = hs::MakeChallenge("sha256");
  ASSERT_EQ(s.peer.SendFrame(challenge), IoStatus::kOk);
  const std::string response = ReadFrameOrFail(s.peer, "response");
  const hs::Check check = hs::Verify(kKey, challenge, response);
  EXPECT_TRUE(check.ok) << check.error;
  EXPECT_TRUE(SendsNothing(s.peer)) << "the Listener must wait for our verdict";
  ASSERT_EQ(s.peer.SendFrame(hs::kWelcome), IoStatus::kOk);
  EXPECT_TRUE(Succeeded(Finish(s.accept)));
  // After the handshake the stream is frames only.
  EXPECT_TRUE(Succeeded(At("c", "S").Call("send_bytes", {Bytes("after")})));
  EXPECT_EQ(s.peer.ReadExact(9, kIo).data, Frame("after"));
}

CONFORMANCE_TEST(WireHandshakeTest, ClientAnswersFirstThenChallengesInLockStep,
                 "WIRE-HS-ORDER WIRE-HS-CONSTANTS") {
  RawListener listener;
  Driver::Pending create = StartClient(listener.address(), KeyValue());
  RawPeer peer = listener.Accept(kIo);
  ASSERT_TRUE(peer.valid());
  EXPECT_TRUE(SendsNothing(peer)) << "the Client must wait for the server's challenge";
  const std::string challenge = hs::MakeChallenge("sha256");
  ASSERT_EQ(peer.SendFrame(challenge), IoStatus::kOk);
  const std::string response = ReadFrameOrFail(peer, "response");
  const hs::Check check = hs::Verify(kKey, challenge, response);
  EXPECT_TRUE(check.ok) << check.error;
  EXPECT_TRUE(SendsNothing(peer)) << "the Client must wait for the verdict (no pipelining)";
  ASSERT_EQ(peer.SendFrame(hs::kWelcome), IoStatus::kOk);
  const hs::Half half = hs::Answer(peer, kKey, "auto", kIo);
  EXPECT_TRUE(half.ok) << half.error;
  EXPECT_EQ(half.challenge.substr(0, 11), "#CHALLENGE#");
  EXPECT_EQ(half.verdict, "#WELCOME#");
  EXPECT_TRUE(Succeeded(Finish(create)));
}

CONFORMANCE_TEST(WireHandshakeTest, VerdictFramesAreExactlyWelcomeOrFailure, "WIRE-HS-VERDICT") {
  // Challenger side: the target Listener's verdicts.
  Refusal good = ServerVerdict([](const std::string& c) { return hs::Respond(kKey, c, "auto"); });
  EXPECT_EQ(good.verdict, "#WELCOME#");
  EXPECT_TRUE(Succeeded(good.accept));
  Refusal bad = ServerVerdict([](const std::string& c) { return hs::Respond("wrong", c, "auto"); });
  EXPECT_EQ(bad.verdict, "#FAILURE#");
  EXPECT_TRUE(RaisesType(bad.accept, {"AuthenticationError"}));
  // Answerer side: anything but exactly #WELCOME# is a rejection.
  for (const std::string& verdict :
       {std::string(hs::kFailure), std::string("#WELCOME!"), std::string("#WELCOME##")}) {
    ClientRun c = ChallengeClient(hs::MakeChallenge(LegacyHandshake() ? "" : "sha256"));
    ReadFrameOrFail(c.peer, "response");
    ASSERT_EQ(c.peer.SendFrame(verdict), IoStatus::kOk);
    EXPECT_TRUE(Raises(Finish(c.create), "WIRE-HS-VERDICT")) << "verdict " << verdict;
  }
}

CONFORMANCE_TEST(WireHandshakeTest, ChallengerSendsFailureBeforeRaising, "WIRE-HS-FAILURE-FIRST") {
  std::vector<std::pair<std::string, std::function<std::string(const std::string&)>>> cases = {
      {"wrong key", [](const std::string& c) { return hs::Respond("wrong", c, "auto"); }},
      {"16 wrong bytes", [](const std::string&) { return std::string(16, 'x'); }}};
  if (!LegacyHandshake()) {
    cases.emplace_back("unparsable", [](const std::string&) { return std::string("bogus"); });
    cases.emplace_back("short MAC",
                       [](const std::string&) { return "{sha256}" + std::string(31, 'x'); });
  }
  for (const auto& [name, response] : cases) {
    Refusal r = ServerVerdict(response);
    EXPECT_EQ(r.verdict, "#FAILURE#") << "Listener, " << name;
    EXPECT_TRUE(RaisesType(r.accept, {"AuthenticationError"})) << "Listener, " << name;
  }
  // The Client is the challenger of the second half.
  Refusal client =
      ClientVerdict([](const std::string& c) { return hs::Respond("wrong", c, "auto"); });
  EXPECT_EQ(client.verdict, "#FAILURE#") << "Client";
  ASSERT_TRUE(RaisesType(client.accept, {"AuthenticationError"})) << "Client";
  EXPECT_EQ(client.accept.error.message.value_or(""), "digest received was wrong");
}

// ---- Challenge shapes ----

CONFORMANCE_TEST(WireHandshakeTest, LegacyListenerChallengeIs31Bytes, "WIRE-HS-LEGACY-CHALLENGE") {
  ServerRun s = ConnectToListener();
  EXPECT_EQ(s.challenge.size(), 31u) << Hex(s.challenge);
  EXPECT_EQ(Hex(FrameHeader(s.challenge.size())), "00 00 00 1f");
  EXPECT_EQ(s.challenge.substr(0, 11), "#CHALLENGE#");
}

CONFORMANCE_TEST(WireHandshakeTest, ModernListenerChallengeIs59BytesWithSha256,
                 "WIRE-HS-MODERN-CHALLENGE") {
  std::string first;
  for (int i = 0; i < 2; ++i) {
    ServerRun s = ConnectToListener();
    EXPECT_EQ(s.challenge.size(), 59u) << Hex(s.challenge);
    EXPECT_EQ(s.challenge.substr(0, 19), "#CHALLENGE#{sha256}");
    EXPECT_NE(s.challenge, first) << "the 40 bytes must be fresh random bytes";
    first = s.challenge;
  }
}

// ---- Responses the target sends ----

CONFORMANCE_TEST(WireHandshakeTest, LegacyChallengeGetsRawMd5, "WIRE-HS-LEGACY-RESPONSE") {
  const std::string challenge = hs::MakeChallenge("");
  EXPECT_EQ(ClientResponse(challenge), hs::Hmac("md5", kKey, challenge.substr(11)));
  if (LegacyHandshake()) {
    // A legacy answerer sends raw MD5 over whatever follows #CHALLENGE#, prefix included.
    const std::string modern = hs::MakeChallenge("sha256");
    EXPECT_EQ(ClientResponse(modern), hs::Hmac("md5", kKey, modern.substr(11)));
    const std::string shorter = std::string(hs::kChallenge) + "12345";
    EXPECT_EQ(ClientResponse(shorter), hs::Hmac("md5", kKey, "12345"));
  }
}

CONFORMANCE_TEST(WireHandshakeTest, PrefixedChallengeGetsPrefixedMac, "WIRE-HS-MODERN-RESPONSE") {
  for (std::string_view digest : hs::kAllowedDigests) {
    const std::string challenge = hs::MakeChallenge(digest);
    const std::string response = ClientResponse(challenge);
    const std::string prefix = "{" + std::string(digest) + "}";
    EXPECT_EQ(response, prefix + hs::Hmac(digest, kKey, challenge.substr(11))) << digest;
    EXPECT_EQ(response.size(), prefix.size() + hs::DigestSize(digest)) << digest;
  }
}

CONFORMANCE_TEST(WireHandshakeTest, MacCoversTheDigestPrefix, "WIRE-HS-MAC-SCOPE") {
  // Answerer: the MAC input is '{sha256}' + nonce, not the nonce alone.
  const std::string challenge = hs::MakeChallenge("sha256");
  const std::string response = ClientResponse(challenge);
  const std::string digest = LegacyHandshake() ? "md5" : "sha256";
  EXPECT_EQ(response.substr(response.size() - hs::DigestSize(digest)),
            hs::Hmac(digest, kKey, challenge.substr(11)));
  EXPECT_NE(response.substr(response.size() - hs::DigestSize(digest)),
            hs::Hmac(digest, kKey, challenge.substr(19)));
  if (LegacyHandshake()) return;  // a legacy challenger's challenge has no prefix
  // Challenger: a MAC over the nonce alone is refused, over the whole payload accepted.
  Refusal nonce_only = ServerVerdict(
      [](const std::string& c) { return "{sha256}" + hs::Hmac("sha256", kKey, c.substr(19)); });
  EXPECT_EQ(nonce_only.verdict, "#FAILURE#");
  Refusal whole = ServerVerdict(
      [](const std::string& c) { return "{sha256}" + hs::Hmac("sha256", kKey, c.substr(11)); });
  EXPECT_EQ(whole.verdict, "#WELCOME#");
  EXPECT_TRUE(Succeeded(whole.accept));
}

// ---- CPython 3.12+ parsing of responses and challenges ----

CONFORMANCE_TEST(WireHandshakeTest, DigestsOutsideTheListAreRefused, "WIRE-HS-DIGESTS") {
  for (const char* digest : {"sha1", "sha512"}) {
    Refusal r = ServerVerdict([digest](const std::string& c) {
      return "{" + std::string(digest) + "}" + hs::Hmac(digest, kKey, c.substr(11));
    });
    EXPECT_EQ(r.verdict, "#FAILURE#") << digest;
    EXPECT_TRUE(Raises(r.accept, "WIRE-HS-DIGESTS")) << digest;
  }
  ClientRefuses(hs::MakeChallenge("sha512"), "WIRE-HS-DIGESTS");
  ClientRefuses(hs::MakeChallenge("sha1"), "WIRE-HS-DIGESTS");
  // The Client as challenger refuses them too, and accepts every allowed one.
  Refusal sha1 = ClientVerdict(
      [](const std::string& c) { return "{sha1}" + hs::Hmac("sha1", kKey, c.substr(11)); });
  EXPECT_EQ(sha1.verdict, "#FAILURE#");
  EXPECT_TRUE(Raises(sha1.accept, "WIRE-HS-DIGESTS"));
  for (const char* digest : {"", "md5", "sha256", "sha384", "sha3_256", "sha3_384"}) {
    Refusal ok =
        ClientVerdict([digest](const std::string& c) { return hs::Respond(kKey, c, digest); });
    EXPECT_EQ(ok.verdict, "#WELCOME#") << "reply digest '" << digest << "'";
    EXPECT_TRUE(Succeeded(ok.accept)) << "reply digest '" << digest << "'";
  }
}

CONFORMANCE_TEST(WireHandshakeTest, SixteenOrTwentyBytesAreLegacyWhateverTheyHold,
                 "WIRE-HS-LEGACY-BY-LENGTH") {
  // A 20-byte response is taken as MD5 and fails the length check, even when it looks prefixed.
  Refusal twenty =
      ServerVerdict([](const std::string&) { return "{sha256}" + std::string(12, 'x'); });
  EXPECT_EQ(twenty.verdict, "#FAILURE#");
  EXPECT_TRUE(Raises(twenty.accept, "WIRE-HS-LEGACY-BY-LENGTH"));
  // A 16-byte one is compared as an MD5 digest (not refused as unparsable).
  Refusal sixteen =
      ServerVerdict([](const std::string&) { return "{sha256}" + std::string(8, 'x'); });
  EXPECT_EQ(sixteen.verdict, "#FAILURE#");
  ASSERT_TRUE(RaisesType(sixteen.accept, {"AuthenticationError"}));
  EXPECT_EQ(sixteen.accept.error.message.value_or(""), "digest received was wrong");
  // A 20-byte challenge payload is answered with raw MD5, even when it looks prefixed.
  const std::string challenge = std::string(hs::kChallenge) + "{sha256}" + hs::RandomBytes(12);
  EXPECT_EQ(ClientResponse(challenge), hs::Hmac("md5", kKey, challenge.substr(11)));
}

CONFORMANCE_TEST(WireHandshakeTest, PrefixMustCloseWithinNineBytes, "WIRE-HS-PREFIX-WINDOW") {
  const std::vector<std::string> responses = {
      "{sha256xyz}" + std::string(32, 'x'),  // '}' at index 10: outside the window
      "sha256}" + std::string(33, 'x'),      // no leading '{' (40 bytes)
      "{}" + std::string(32, 'x'),           // empty name
  };
  for (const std::string& response : responses) {
    Refusal r = ServerVerdict([response](const std::string&) { return response; });
    EXPECT_EQ(r.verdict, "#FAILURE#") << Hex(response);
    EXPECT_TRUE(Raises(r.accept, "WIRE-HS-PREFIX-WINDOW")) << Hex(response);
  }
  // The longest allowed name closes at index 9 and is accepted.
  Refusal ok = ServerVerdict([](const std::string& c) { return hs::Respond(kKey, c, "sha3_384"); });
  EXPECT_EQ(ok.verdict, "#WELCOME#");
  EXPECT_TRUE(Succeeded(ok.accept));
}

CONFORMANCE_TEST(WireHandshakeTest, WrongMacLengthNamesDigestAndLengths, "WIRE-HS-DIGEST-LENGTH") {
  Refusal r = ServerVerdict([](const std::string&) { return "{sha256}" + std::string(31, 'x'); });
  EXPECT_EQ(r.verdict, "#FAILURE#");
  EXPECT_TRUE(Raises(r.accept, "WIRE-HS-DIGEST-LENGTH"));
}

CONFORMANCE_TEST(WireHandshakeTest, UnprefixedModernChallengeIsRefused,
                 "WIRE-HS-UNPREFIXED-CHALLENGE") {
  std::string nonce = hs::RandomBytes(40);
  nonce[0] = 'x';  // not '{'
  ClientRefuses(std::string(hs::kChallenge) + nonce, "WIRE-HS-UNPREFIXED-CHALLENGE");
}

CONFORMANCE_TEST(WireHandshakeTest, ShortChallengeIsRefused, "WIRE-HS-CHALLENGE-SHORT") {
  ClientRefuses(std::string(hs::kChallenge) + "12345", "WIRE-HS-CHALLENGE-SHORT");
  ClientRefuses(std::string(hs::kChallenge) + std::string(19, 'x'), "WIRE-HS-CHALLENGE-SHORT");
}

// ---- Limits and truncation ----

CONFORMANCE_TEST(WireHandshakeTest, TruncatedHandshakeFrameIsAnEndOfFileInMessage,
                 "WIRE-HS-CONSTANTS WIRE-FRAME-EOF") {
  // Each handshake message is an ordinary frame: a response cut short fails as a frame does.
  ServerRun s = ConnectToListener();
  ASSERT_EQ(s.peer.Send(FrameHeader(16) + "0123456"), IoStatus::kOk);
  s.peer.ShutdownWrite();
  EXPECT_TRUE(Raises(Finish(s.accept), "WIRE-FRAME-EOF"));
}

CONFORMANCE_TEST(WireHandshakeTest, HandshakeMessagesAreCappedAt256Bytes,
                 "WIRE-HS-CAP AUTH-MAXLEN") {
  // Challenger side (the Listener's first receive): 256 bytes are read and judged, 257 are not.
  Refusal at_cap = ServerVerdict([](const std::string&) { return std::string(256, 'x'); });
  EXPECT_EQ(at_cap.verdict, "#FAILURE#");
  EXPECT_TRUE(RaisesType(at_cap.accept, {"AuthenticationError"}));
  {
    ServerRun s = ConnectToListener();
    ASSERT_EQ(s.peer.SendFrame(std::string(257, 'x')), IoStatus::kOk);
    EXPECT_TRUE(Raises(Finish(s.accept), "WIRE-HS-CAP"));
    // The accepting side drops the connection; nothing but the end of the stream follows.
    ReadResult end = s.peer.ReadToEnd(kIo);
    EXPECT_NE(end.status, IoStatus::kTimeout) << "the connection was not dropped";
    EXPECT_EQ(end.data, "") << Hex(end.data);
  }
  // The Listener's second receive (the client's challenge): 11 + 250 bytes.
  {
    ServerRun s = ConnectToListener();
    ASSERT_EQ(s.peer.SendFrame(hs::Respond(kKey, s.challenge, "auto")), IoStatus::kOk);
    EXPECT_EQ(ReadFrameOrFail(s.peer, "verdict"), "#WELCOME#");
    ASSERT_EQ(s.peer.SendFrame(std::string(hs::kChallenge) + std::string(250, 'x')), IoStatus::kOk);
    EXPECT_TRUE(Raises(Finish(s.accept), "AUTH-MAXLEN"));
  }
  // The Listener's third receive (the verdict on its answer).
  {
    ServerRun s = ConnectToListener();
    ASSERT_EQ(s.peer.SendFrame(hs::Respond(kKey, s.challenge, "auto")), IoStatus::kOk);
    EXPECT_EQ(ReadFrameOrFail(s.peer, "verdict"), "#WELCOME#");
    const std::string challenge = hs::MakeChallenge(LegacyHandshake() ? "" : "sha256");
    ASSERT_EQ(s.peer.SendFrame(challenge), IoStatus::kOk);
    ReadFrameOrFail(s.peer, "response");
    ASSERT_EQ(s.peer.SendFrame(std::string(hs::kWelcome) + std::string(300, ' ')), IoStatus::kOk);
    EXPECT_TRUE(Raises(Finish(s.accept), "AUTH-MAXLEN"));
  }
  // Answerer side: an oversized challenge, and an oversized verdict.
  {
    ClientRun c = ChallengeClient(std::string(hs::kChallenge) + "{sha256}" + std::string(240, 'x'));
    EXPECT_TRUE(Raises(Finish(c.create), "WIRE-HS-CAP"));
    EXPECT_TRUE(SendsNothing(c.peer));
  }
  {
    ClientRun c = ChallengeClient(hs::MakeChallenge("sha256"));
    ReadFrameOrFail(c.peer, "response");
    ASSERT_EQ(c.peer.SendFrame(std::string(hs::kWelcome) + std::string(300, ' ')), IoStatus::kOk);
    EXPECT_TRUE(Raises(Finish(c.create), "WIRE-HS-CAP"));
  }
  {  // The Client's third receive: the response to its own challenge.
    ClientRun c = ChallengeClient(hs::MakeChallenge(LegacyHandshake() ? "" : "sha256"));
    ReadFrameOrFail(c.peer, "response");
    ASSERT_EQ(c.peer.SendFrame(hs::kWelcome), IoStatus::kOk);
    ReadFrameOrFail(c.peer, "challenge");
    ASSERT_EQ(c.peer.SendFrame(std::string(300, 'r')), IoStatus::kOk);
    EXPECT_TRUE(Raises(Finish(c.create), "WIRE-HS-CAP"));
  }
}

// ---- Interoperation ----

CONFORMANCE_TEST(WireHandshakeTest, DigestFollowsTheOlderPeer, "WIRE-HS-COMPAT") {
  const bool legacy = LegacyHandshake();
  // A legacy (<= 3.11) client: raw MD5 answers, 20-byte challenges.
  {
    ServerRun s = ConnectToListener();
    EXPECT_EQ(s.challenge.size(), legacy ? 31u : 59u);
    ASSERT_EQ(s.peer.SendFrame(hs::Respond(kKey, s.challenge, "")), IoStatus::kOk);
    EXPECT_EQ(ReadFrameOrFail(s.peer, "verdict"), "#WELCOME#");
    const hs::Half h = hs::Deliver(s.peer, kKey, "", kIo);
    EXPECT_TRUE(h.ok) << h.error;
    EXPECT_EQ(h.response.size(), 16u) << "a legacy challenge is answered with raw MD5";
    EXPECT_TRUE(Succeeded(Finish(s.accept)));
  }
  // A 3.12+ client: answers in the challenge's form, challenges with {sha256}.
  {
    ServerRun s = ConnectToListener();
    ASSERT_EQ(s.peer.SendFrame(hs::Respond(kKey, s.challenge, "auto")), IoStatus::kOk);
    EXPECT_EQ(ReadFrameOrFail(s.peer, "verdict"), "#WELCOME#");
    const hs::Half h = hs::Deliver(s.peer, kKey, "sha256", kIo);
    EXPECT_TRUE(h.ok) << h.error;
    const hs::Check used = hs::Verify(kKey, h.challenge, h.response);
    EXPECT_EQ(used.digest, legacy ? "md5" : "sha256");
    EXPECT_EQ(h.response.size(), legacy ? 16u : 40u);
    EXPECT_TRUE(Succeeded(Finish(s.accept)));
  }
}

CONFORMANCE_TEST(WireHandshakeTest, EmptyKeyIsAKey, "WIRE-HS-EMPTY-KEY") {
  address_ = CreateListener(Bytes(""));
  Driver::Pending accept = StartAccept();
  RawPeer peer = RawPeer::Connect(address_, kIo);
  // Either a challenge arrives, or accept() returns without one (no authentication).
  bool readable = false;
  for (int i = 0; i < 100 && !readable; ++i) {
    readable = peer.WaitReadable(0.05);
    if (!readable && accept.ArrivesWithin(0)) break;
  }
  ASSERT_TRUE(readable) << "the Listener with authkey=b'' sent no challenge and accept() returned";
  const std::string challenge = ReadChallenge(peer);
  EXPECT_EQ(challenge.substr(0, 11), "#CHALLENGE#");
  ASSERT_EQ(peer.SendFrame(hs::Respond("", challenge, "auto")), IoStatus::kOk);
  EXPECT_EQ(ReadFrameOrFail(peer, "verdict"), "#WELCOME#");
  const hs::Half h = hs::Deliver(peer, "", "sha256", kIo);
  EXPECT_TRUE(h.ok) << h.error;
  EXPECT_TRUE(Succeeded(Finish(accept)));
  // The Client side with b'' runs the handshake with the empty key.
  RawListener listener;
  Driver::Pending create = StartClient(listener.address(), Bytes(""));
  RawPeer cpeer = listener.Accept(kIo);
  ASSERT_TRUE(cpeer.valid());
  const hs::Half d = hs::Deliver(cpeer, "", "sha256", kIo);
  EXPECT_TRUE(d.ok) << d.error;
  const hs::Half a = hs::Answer(cpeer, "", "auto", kIo);
  EXPECT_TRUE(a.ok) << a.error;
  EXPECT_TRUE(Succeeded(Finish(create)));
}

}  // namespace
}  // namespace mpipc::conformance
