// Tests of the HMAC challenge-response handshake (handshake.h): the pure functions against
// CPython's behaviour and known HMAC vectors, then the wire-level halves over a socketpair, with
// the test playing a raw peer through send_bytes/recv_bytes (semantics.md 1.O, wire-protocol.md
// §2.4-2.6).
//
// Expected values were computed with CPython 3.13.0 (hmac, multiprocessing.connection) when the
// tests were written and are hard-coded here.

#include "mpipc/handshake.h"

#include <errno.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <typeinfo>
#include <utility>

#include "mpipc/connection.h"
#include "mpipc/errors.h"
#include "test_support.h"

namespace mpipc {
namespace {

using namespace std::string_literals;
using testing_support::Capture;
using testing_support::Clock;
using testing_support::Hex;
using testing_support::SecondsSince;

constexpr std::string_view kBogusMessage =
    "unsupported message length, missing digest prefix, or unsupported digest: message=";

std::string Bogus(std::string_view message) {
  return std::string(kBogusMessage) + auth::PyBytesRepr(message);
}

// ---------------------------------------------------------------------------------------------
// ParseDigestMessage (CPython's _get_digest_name_and_payload)

TEST(ParseDigestMessageTest, Legacy20BytesIsUnprefixedMd5) {
  const std::string msg(20, 'r');
  const auth::DigestMessage parsed = auth::ParseDigestMessage(msg);
  EXPECT_EQ(parsed.digest, "");
  EXPECT_EQ(parsed.payload, msg);
}

TEST(ParseDigestMessageTest, Legacy16BytesIsUnprefixedMd5EvenWithABracePrefix) {
  // The length rule comes first: 16 bytes are a raw MD5 digest whatever they look like.
  const std::string msg = "{sha256}12345678";
  ASSERT_EQ(msg.size(), 16u);
  const auth::DigestMessage parsed = auth::ParseDigestMessage(msg);
  EXPECT_EQ(parsed.digest, "");
  EXPECT_EQ(parsed.payload, msg);
}

TEST(ParseDigestMessageTest, Sha256Prefix) {
  const std::string random(40, '\x80');
  const std::string msg = "{sha256}" + random;  // the result views into it
  const auth::DigestMessage parsed = auth::ParseDigestMessage(msg);
  EXPECT_EQ(parsed.digest, "sha256");
  EXPECT_EQ(parsed.payload, random);
}

TEST(ParseDigestMessageTest, EveryAllowedDigestName) {
  for (const std::string_view name : auth::kAllowedDigests) {
    SCOPED_TRACE(name);
    const std::string msg = "{" + std::string(name) + "}" + std::string(33, 'p');
    const auth::DigestMessage parsed = auth::ParseDigestMessage(msg);
    EXPECT_EQ(parsed.digest, name);
    EXPECT_EQ(parsed.payload, std::string(33, 'p'));
  }
}

TEST(ParseDigestMessageTest, ClosingBraceAtIndex9IsInsideTheWindow) {
  // '}' is searched in message[1:10); 'sha3_384' puts it at index 9, the last one allowed.
  const auth::DigestMessage parsed = auth::ParseDigestMessage("{sha3_384}xyz");
  EXPECT_EQ(parsed.digest, "sha3_384");
  EXPECT_EQ(parsed.payload, "xyz");
}

TEST(ParseDigestMessageTest, ClosingBraceAtIndex10IsOutsideTheWindow) {
  const std::string msg = "{sha3_3845}" + std::string(40, 'a');
  EXPECT_THROW_MSG(auth::ParseDigestMessage(msg), AuthenticationError,
                   std::string(kBogusMessage) + "b'{sha3_3845}" + std::string(40, 'a') + "'");
}

TEST(ParseDigestMessageTest, FirstClosingBraceWins) {
  const auth::DigestMessage parsed = auth::ParseDigestMessage("{md5}}abc");
  EXPECT_EQ(parsed.digest, "md5");
  EXPECT_EQ(parsed.payload, "}abc");
}

TEST(ParseDigestMessageTest, PrefixWithEmptyPayload) {
  const auth::DigestMessage parsed = auth::ParseDigestMessage("{md5}");
  EXPECT_EQ(parsed.digest, "md5");
  EXPECT_EQ(parsed.payload, "");
}

TEST(ParseDigestMessageTest, UnterminatedOrEmptyNameRejected) {
  EXPECT_THROW_MSG(auth::ParseDigestMessage("{sha2"), AuthenticationError,
                   std::string(kBogusMessage) + "b'{sha2'");
  const std::string empty_name = "{}" + std::string(30, 'a');
  EXPECT_THROW_MSG(auth::ParseDigestMessage(empty_name), AuthenticationError,
                   std::string(kBogusMessage) + "b'{}" + std::string(30, 'a') + "'");
}

TEST(ParseDigestMessageTest, Sha1AndSha512Rejected) {
  EXPECT_THROW_MSG(auth::ParseDigestMessage("{sha1}" + std::string(20, 'a')), AuthenticationError,
                   std::string(kBogusMessage) + "b'{sha1}aaaaaaaaaaaaaaaaaaaa'");
  EXPECT_THROW_MSG(auth::ParseDigestMessage("{sha512}" + std::string(40, 'b')), AuthenticationError,
                   std::string(kBogusMessage) + "b'{sha512}" + std::string(40, 'b') + "'");
}

TEST(ParseDigestMessageTest, SomethingBogusRejectedWithCPythonMessage) {
  EXPECT_THROW_MSG(auth::ParseDigestMessage("something bogus"), AuthenticationError,
                   "unsupported message length, missing digest prefix, or unsupported digest: "
                   "message=b'something bogus'");
}

TEST(ParseDigestMessageTest, EmptyMessageRejected) {
  EXPECT_THROW_MSG(auth::ParseDigestMessage(""), AuthenticationError,
                   std::string(kBogusMessage) + "b''");
}

// ---------------------------------------------------------------------------------------------
// PyBytesRepr: Python's repr(bytes)

TEST(PyBytesReprTest, PlainAndEmpty) {
  EXPECT_EQ(auth::PyBytesRepr(""), "b''");
  EXPECT_EQ(auth::PyBytesRepr("something bogus"), "b'something bogus'");
}

TEST(PyBytesReprTest, QuoteSelection) {
  EXPECT_EQ(auth::PyBytesRepr("a'b"), "b\"a'b\"");
  EXPECT_EQ(auth::PyBytesRepr("a\"b"), "b'a\"b'");
  EXPECT_EQ(auth::PyBytesRepr("a'\"b"), "b'a\\'\"b'");
}

TEST(PyBytesReprTest, BackslashAndWhitespaceEscapes) {
  EXPECT_EQ(auth::PyBytesRepr("\\"), "b'\\\\'");
  EXPECT_EQ(auth::PyBytesRepr("\t\n\r"), "b'\\t\\n\\r'");
  EXPECT_EQ(auth::PyBytesRepr("\x0b\x0c"), "b'\\x0b\\x0c'");
}

TEST(PyBytesReprTest, NulDelAndHighBytes) {
  EXPECT_EQ(auth::PyBytesRepr("\x00"s), "b'\\x00'");
  EXPECT_EQ(auth::PyBytesRepr("\x7f\x80\xff"), "b'\\x7f\\x80\\xff'");
  EXPECT_EQ(auth::PyBytesRepr("ab\x00"s), "b'ab\\x00'");
}

TEST(PyBytesReprTest, AllByteValuesMatchPython) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  // repr(bytes(range(256))) in CPython.
  const std::string expected =
      "b'\\x00\\x01\\x02\\x03\\x04\\x05\\x06\\x07\\x08\\t\\n\\x0b\\x0c\\r\\x0e\\x0f"
      "\\x10\\x11\\x12\\x13\\x14\\x15\\x16\\x17\\x18\\x19\\x1a\\x1b\\x1c\\x1d\\x1e\\x1f"
      " !\"#$%&\\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\\\]^_`"
      "abcdefghijklmnopqrstuvwxyz{|}~\\x7f"
      "\\x80\\x81\\x82\\x83\\x84\\x85\\x86\\x87\\x88\\x89\\x8a\\x8b\\x8c\\x8d\\x8e\\x8f"
      "\\x90\\x91\\x92\\x93\\x94\\x95\\x96\\x97\\x98\\x99\\x9a\\x9b\\x9c\\x9d\\x9e\\x9f"
      "\\xa0\\xa1\\xa2\\xa3\\xa4\\xa5\\xa6\\xa7\\xa8\\xa9\\xaa\\xab\\xac\\xad\\xae\\xaf"
      "\\xb0\\xb1\\xb2\\xb3\\xb4\\xb5\\xb6\\xb7\\xb8\\xb9\\xba\\xbb\\xbc\\xbd\\xbe\\xbf"
      "\\xc0\\xc1\\xc2\\xc3\\xc4\\xc5\\xc6\\xc7\\xc8\\xc9\\xca\\xcb\\xcc\\xcd\\xce\\xcf"
      "\\xd0\\xd1\\xd2\\xd3\\xd4\\xd5\\xd6\\xd7\\xd8\\xd9\\xda\\xdb\\xdc\\xdd\\xde\\xdf"
      "\\xe0\\xe1\\xe2\\xe3\\xe4\\xe5\\xe6\\xe7\\xe8\\xe9\\xea\\xeb\\xec\\xed\\xee\\xef"
      "\\xf0\\xf1\\xf2\\xf3\\xf4\\xf5\\xf6\\xf7\\xf8\\xf9\\xfa\\xfb\\xfc\\xfd\\xfe\\xff'";
  EXPECT_EQ(auth::PyBytesRepr(all), expected);
}

// ---------------------------------------------------------------------------------------------
// Hmac: hmac.new(key, msg, digest).hexdigest() from CPython.

struct HmacVector {
  const char* digest;
  const char* key;
  const char* hex;
};

TEST(HmacTest, KnownVectors) {
  const HmacVector vectors[] = {
      {"md5", "key", "18e3548c59ad40dd03907b7aeee71d67"},
      {"sha256", "key", "2d93cbc1be167bcb1637a4a23cbff01a7878f0c50ee833954ea5221bb1b8c628"},
      {"sha384", "key",
       "3bba95ff38376a129225ec5430dd3aff6ac7b7acdb829a4af35f33f8c6ddbbf9d85fb31f8b20316db93aedd08a"
       "816cfa"},
      {"sha3_256", "key", "56b616feab81d996beb8cf47719b253cfe6d1da9be562c63520fef130a6d935e"},
      {"sha3_384", "key",
       "658c6896b8a0a0d50d854f77fc14554144b28c6c06bf3e472281e3ff76cf5d8b54c18a39287c4bd3939bf66215"
       "f33086"},
      {"md5", "", "b2ae05c8691899567c99aa3ee7fdd54c"},
      {"sha256", "", "5f576a8d68fe4fb7eb823227246353c0870c3b0e878997341db1226b4bd88d61"},
      {"sha384", "",
       "d551a6af4c98126d4bb978f9e703017184bc544c8a60ad15d4797a33bf84065698060e472952274c210bcb8e63"
       "e768b0"},
      {"sha3_256", "", "abb9cd29c78b71fa1f505c827e08c8dfe48ca66aefa220242b506f9ac687be5e"},
      {"sha3_384", "",
       "d1beab92b775b0f2f8e6a24f4bc9a206045719eb40659a6ae201bf2e606e09c61b2fd505c70ebe7572841c2b4a"
       "184a2c"},
  };
  for (const HmacVector& v : vectors) {
    SCOPED_TRACE(std::string(v.digest) + " key='" + v.key + "'");
    EXPECT_EQ(Hex(auth::Hmac(v.digest, v.key, "msg")), v.hex);
  }
}

TEST(HmacTest, EmptyMessage) {
  EXPECT_EQ(Hex(auth::Hmac("sha256", "key", "")),
            "5d5d139563c95b5967b9bd9a8c9b233a9dedb45072794cd232dc1b74832607d0");
}

TEST(HmacTest, DigestLengths) {
  EXPECT_EQ(auth::Hmac("md5", "k", "m").size(), 16u);
  EXPECT_EQ(auth::Hmac("sha256", "k", "m").size(), 32u);
  EXPECT_EQ(auth::Hmac("sha384", "k", "m").size(), 48u);
  EXPECT_EQ(auth::Hmac("sha3_256", "k", "m").size(), 32u);
  EXPECT_EQ(auth::Hmac("sha3_384", "k", "m").size(), 48u);
}

TEST(HmacTest, UnsupportedDigestRaises) {
  EXPECT_THROW_MSG(auth::Hmac("sha1", "k", "m"), AuthenticationError,
                   "response_digest='sha1' unsupported");
}

// ---------------------------------------------------------------------------------------------
// CreateResponse (CPython's _create_response)

TEST(CreateResponseTest, LegacyChallengeGetsRawMd5) {
  const std::string challenge(20, 'c');
  const std::string response = auth::CreateResponse("key", challenge);
  ASSERT_EQ(response.size(), 16u);
  EXPECT_EQ(response, auth::Hmac("md5", "key", challenge));
}

TEST(CreateResponseTest, ModernChallengeGetsPrefixedSha256OverTheWholeMessage) {
  const std::string challenge = "{sha256}" + std::string(40, '\x01');
  const std::string response = auth::CreateResponse("key", challenge);
  ASSERT_EQ(response.size(), 8u + 32u);
  EXPECT_EQ(response.substr(0, 8), "{sha256}");
  // The MAC covers the '{sha256}' prefix too.
  EXPECT_EQ(response.substr(8), auth::Hmac("sha256", "key", challenge));
}

TEST(CreateResponseTest, FixedVector) {
  // hmac.new(b'key', b'{sha256}' + b'A' * 40, 'sha256').hexdigest()
  const std::string challenge = "{sha256}" + std::string(40, 'A');
  EXPECT_EQ(Hex(auth::CreateResponse("key", challenge)),
            Hex("{sha256}") + "ff640a4bda3725b6f37a76b73ef5765dbb283fa2927d754f29a2e34d158c0772");
}

TEST(CreateResponseTest, Sha3_384ChallengeGetsPrefixedSha3_384) {
  const std::string challenge = "{sha3_384}" + std::string(40, 'z');
  const std::string response = auth::CreateResponse("key", challenge);
  ASSERT_EQ(response.size(), 10u + 48u);
  EXPECT_EQ(response.substr(0, 10), "{sha3_384}");
  EXPECT_EQ(response.substr(10), auth::Hmac("sha3_384", "key", challenge));
}

TEST(CreateResponseTest, LegacyChallengeWithoutMd5FallsBackToSha256) {
  AuthOptions options;
  options.accept_md5 = false;
  const std::string challenge(20, 'c');
  const std::string response = auth::CreateResponse("key", challenge, options);
  EXPECT_EQ(response, "{sha256}" + auth::Hmac("sha256", "key", challenge));
}

TEST(CreateResponseTest, Md5PrefixedChallengeRefusedWithoutMd5) {
  AuthOptions options;
  options.accept_md5 = false;
  EXPECT_THROW_MSG(auth::CreateResponse("key", "{md5}" + std::string(40, 'c'), options),
                   AuthenticationError, "response_digest='md5' unsupported");
}

TEST(CreateResponseTest, UnsupportedChallengeDigestRaisesParseError) {
  const std::string challenge = "{sha512}" + std::string(40, 'c');
  EXPECT_THROW_MSG(auth::CreateResponse("key", challenge), AuthenticationError, Bogus(challenge));
}

// ---------------------------------------------------------------------------------------------
// VerifyResponse (CPython's _verify_challenge)

class VerifyResponseTest : public ::testing::Test {
 protected:
  const std::string key_ = "secret";
  const std::string challenge_ = "{sha256}" + std::string(40, '\x42');
};

TEST_F(VerifyResponseTest, AcceptsTheRightResponse) {
  EXPECT_NO_THROW(auth::VerifyResponse(key_, challenge_, auth::CreateResponse(key_, challenge_)));
}

TEST_F(VerifyResponseTest, ShortSha256) {
  const std::string response = "{sha256}" + auth::Hmac("sha256", key_, challenge_).substr(1);
  EXPECT_THROW_MSG(auth::VerifyResponse(key_, challenge_, response), AuthenticationError,
                   "expected 'sha256' of length 32 got 31");
}

TEST_F(VerifyResponseTest, TwentyByteResponseIsTakenAsMd5) {
  EXPECT_THROW_MSG(auth::VerifyResponse(key_, challenge_, std::string(20, 'x')),
                   AuthenticationError, "expected 'md5' of length 16 got 20");
}

TEST_F(VerifyResponseTest, SixteenXIsAWrongDigest) {
  EXPECT_THROW_MSG(auth::VerifyResponse(key_, challenge_, std::string(16, 'x')),
                   AuthenticationError, "digest received was wrong");
}

TEST_F(VerifyResponseTest, WrongKey) {
  EXPECT_THROW_MSG(
      auth::VerifyResponse(key_, challenge_, auth::CreateResponse("other", challenge_)),
      AuthenticationError, "digest received was wrong");
  EXPECT_THROW_MSG(auth::VerifyResponse(key_, challenge_, auth::CreateResponse("", challenge_)),
                   AuthenticationError, "digest received was wrong");
}

TEST_F(VerifyResponseTest, OneFlippedBitIsWrong) {
  std::string response = auth::CreateResponse(key_, challenge_);
  response.back() = static_cast<char>(response.back() ^ 1);
  EXPECT_THROW_MSG(auth::VerifyResponse(key_, challenge_, response), AuthenticationError,
                   "digest received was wrong");
}

TEST_F(VerifyResponseTest, BogusResponseRaisesParseError) {
  EXPECT_THROW_MSG(auth::VerifyResponse(key_, challenge_, "something bogus"), AuthenticationError,
                   Bogus("something bogus"));
}

TEST_F(VerifyResponseTest, Md5RefusedWhenDisabled) {
  AuthOptions options;
  options.accept_md5 = false;
  EXPECT_THROW_MSG(
      auth::VerifyResponse(key_, challenge_, auth::Hmac("md5", key_, challenge_), options),
      AuthenticationError, "response_digest='md5' unsupported");
  EXPECT_THROW_MSG(auth::VerifyResponse(key_, challenge_,
                                        "{md5}" + auth::Hmac("md5", key_, challenge_), options),
                   AuthenticationError, "response_digest='md5' unsupported");
  // Other digests are still fine.
  EXPECT_NO_THROW(
      auth::VerifyResponse(key_, challenge_, auth::CreateResponse(key_, challenge_), options));
}

// AUTH-DOWNGRADE: a sha256 challenge accepts md5 (raw or prefixed), sha384 and sha3 replies.
TEST_F(VerifyResponseTest, AuthDowngradeRepliesAcceptedByDefault) {
  EXPECT_NO_THROW(auth::VerifyResponse(key_, challenge_, auth::Hmac("md5", key_, challenge_)));
  for (const std::string_view name : auth::kAllowedDigests) {
    SCOPED_TRACE(name);
    const std::string response = "{" + std::string(name) + "}" + auth::Hmac(name, key_, challenge_);
    EXPECT_NO_THROW(auth::VerifyResponse(key_, challenge_, response));
  }
}

TEST_F(VerifyResponseTest, EmptyKeyIsAValidKey) {
  EXPECT_NO_THROW(auth::VerifyResponse("", challenge_, auth::CreateResponse("", challenge_)));
  EXPECT_THROW_MSG(auth::VerifyResponse("", challenge_, auth::CreateResponse(key_, challenge_)),
                   AuthenticationError, "digest received was wrong");
}

// ---------------------------------------------------------------------------------------------
// Wire level: the library against a raw peer on the other end of a socketpair.

// Runs `body(peer)` on a thread. The peer Connection is closed when `body` returns, and Join()
// (also run by the destructor) closes `ours` before waiting, so that a side that fails without
// sending what the other expects makes the other see EOF instead of hanging.
class PeerThread {
 public:
  PeerThread(Connection& ours, Connection peer, std::function<void(Connection&)> body)
      : ours_(ours), thread_([peer = std::move(peer), body = std::move(body)]() mutable {
          try {
            body(peer);
          } catch (const std::exception& e) {
            ADD_FAILURE() << "peer threw " << typeid(e).name() << ": " << e.what();
          }
        }) {}
  ~PeerThread() { Join(); }
  void Join() {
    ours_.close();
    if (thread_.joinable()) thread_.join();
  }

 private:
  Connection& ours_;
  std::thread thread_;
};

// The next message, which must already be queued on `c` (a failure instead of blocking).
std::string Queued(Connection& c) {
  if (!c.poll(0.0)) {
    ADD_FAILURE() << "no message queued";
    return "<nothing queued>";
  }
  return c.recv_bytes();
}

int ReceiveTimeoutMicros(int fd) {
  struct timeval tv {};
  socklen_t len = sizeof tv;
  EXPECT_EQ(getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &len), 0);
  return static_cast<int>(tv.tv_sec * 1000000 + tv.tv_usec);
}

TEST(DeliverChallengeTest, SendsModernChallengeAndWelcomesTheRightResponse) {
  auto ours_theirs = Pipe();
  Connection& ours = ours_theirs.first;
  Connection& theirs = ours_theirs.second;
  PeerThread peer(ours, std::move(theirs), [](Connection& c) {
    const std::string challenge = c.recv_bytes();
    ASSERT_EQ(challenge.size(), 59u);
    EXPECT_EQ(challenge.substr(0, 19), "#CHALLENGE#{sha256}");
    const std::string message = challenge.substr(11);
    c.send_bytes("{sha256}" + auth::Hmac("sha256", "key", message));
    EXPECT_EQ(c.recv_bytes(), "#WELCOME#");
  });
  EXPECT_NO_THROW(deliver_challenge(ours, "key"));
  peer.Join();
}

TEST(DeliverChallengeTest, ChallengesAreRandom) {
  auto ours_theirs = Pipe();
  Connection& ours = ours_theirs.first;
  Connection& theirs = ours_theirs.second;
  theirs.send_bytes(std::string(16, 'x'));
  theirs.send_bytes(std::string(16, 'x'));
  EXPECT_THROW(deliver_challenge(ours, "key"), AuthenticationError);
  EXPECT_THROW(deliver_challenge(ours, "key"), AuthenticationError);
  const std::string first = Queued(theirs);
  EXPECT_EQ(Queued(theirs), "#FAILURE#");
  const std::string second = Queued(theirs);
  EXPECT_EQ(first.size(), 59u);
  EXPECT_EQ(second.size(), 59u);
  EXPECT_NE(first, second);
}

// AUTH-DOWNGRADE on the wire: a raw HMAC-MD5 reply (a CPython <= 3.11 client) is welcomed.
TEST(DeliverChallengeTest, WelcomesALegacyMd5Reply) {
  auto ours_theirs = Pipe();
  Connection& ours = ours_theirs.first;
  Connection& theirs = ours_theirs.second;
  PeerThread peer(ours, std::move(theirs), [](Connection& c) {
    const std::string message = c.recv_bytes().substr(11);
    c.send_bytes(auth::Hmac("md5", "key", message));
    EXPECT_EQ(c.recv_bytes(), "#WELCOME#");
  });
  EXPECT_NO_THROW(deliver_challenge(ours, "key"));
  peer.Join();
}

TEST(DeliverChallengeTest, WrongResponseSendsFailureBeforeRaising) {
  auto ours_theirs = Pipe();
  Connection& ours = ours_theirs.first;
  Connection& theirs = ours_theirs.second;
  // The reply can be queued before the challenge: the challenger only reads after sending.
  theirs.send_bytes(std::string(16, 'x'));
  EXPECT_THROW_MSG(deliver_challenge(ours, "key"), AuthenticationError,
                   "digest received was wrong");
  // Nothing ran after deliver_challenge raised, so '#FAILURE#' was sent before it did.
  EXPECT_EQ(Queued(theirs).substr(0, 11), "#CHALLENGE#");
  ASSERT_TRUE(theirs.poll(0.0));
  EXPECT_EQ(Queued(theirs), "#FAILURE#");
  EXPECT_FALSE(theirs.poll(0.0));
}

TEST(DeliverChallengeTest, LengthErrorSendsFailure) {
  auto ours_theirs = Pipe();
  Connection& ours = ours_theirs.first;
  Connection& theirs = ours_theirs.second;
  theirs.send_bytes("{sha256}" + std::string(31, 'x'));
  EXPECT_THROW_MSG(deliver_challenge(ours, "key"), AuthenticationError,
                   "expected 'sha256' of length 32 got 31");
  Queued(theirs);
  EXPECT_EQ(Queued(theirs), "#FAILURE#");
}

TEST(DeliverChallengeTest, ParseErrorSendsFailure) {
  auto ours_theirs = Pipe();
  Connection& ours = ours_theirs.first;
  Connection& theirs = ours_theirs.second;
  theirs.send_bytes("something bogus");
  EXPECT_THROW_MSG(deliver_challenge(ours, "key"), AuthenticationError, Bogus("something bogus"));
  Queued(theirs);
  EXPECT_EQ(Queued(theirs), "#FAILURE#");
}

// AUTH-MAXLEN: over 256 bytes is OSError('bad message length'), raised without '#FAILURE#'.
TEST(DeliverChallengeTest, OversizedResponseIsBadMessageLength) {
  auto ours_theirs = Pipe();
  Connection& ours = ours_theirs.first;
  Connection& theirs = ours_theirs.second;
  theirs.send_bytes(std::string(300, 'x'));
  const auto e = Capture<OSError>([&] { deliver_challenge(ours, "key"); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->message(), "bad message length");
  EXPECT_EQ(e->errnum(), 0);
  EXPECT_EQ(Queued(theirs).size(), 59u);
  EXPECT_FALSE(theirs.poll(0.0));
}

TEST(DeliverChallengeTest, A256ByteResponseIsReadThenRejected) {
  auto ours_theirs = Pipe();
  Connection& ours = ours_theirs.first;
  Connection& theirs = ours_theirs.second;
  const std::string response(256, 'x');
  theirs.send_bytes(response);
  EXPECT_THROW_MSG(deliver_challenge(ours, "key"), AuthenticationError, Bogus(response));
}

TEST(DeliverChallengeTest, EofInsteadOfAResponse) {
  auto ours_theirs = Pipe();
  Connection& ours = ours_theirs.first;
  Connection& theirs = ours_theirs.second;
  theirs.close();
  // Writing the challenge to a closed peer is either accepted by the kernel or EPIPE.
  try {
    deliver_challenge(ours, "key");
    ADD_FAILURE() << "no exception";
  } catch (const EOFError& e) {
    EXPECT_STREQ(e.what(), "");
  } catch (const OSError& e) {
    EXPECT_EQ(e.python_name(), "BrokenPipeError") << e.what();
  }
}

TEST(DeliverChallengeTest, ConfigurableChallengeDigest) {
  auto ours_theirs = Pipe();
  Connection& ours = ours_theirs.first;
  Connection& theirs = ours_theirs.second;
  AuthOptions options;
  options.challenge_digest = "sha3_384";
  PeerThread peer(ours, std::move(theirs), [](Connection& c) {
    const std::string challenge = c.recv_bytes();
    ASSERT_EQ(challenge.size(), 11u + 10u + 40u);
    EXPECT_EQ(challenge.substr(0, 21), "#CHALLENGE#{sha3_384}");
    c.send_bytes(auth::CreateResponse("key", challenge.substr(11)));
    EXPECT_EQ(c.recv_bytes(), "#WELCOME#");
  });
  EXPECT_NO_THROW(deliver_challenge(ours, "key", options));
  peer.Join();
}

TEST(DeliverChallengeTest, UnsupportedChallengeDigestSendsNothing) {
  auto ours_theirs = Pipe();
  Connection& ours = ours_theirs.first;
  Connection& theirs = ours_theirs.second;
  AuthOptions options;
  options.challenge_digest = "sha1";
  EXPECT_THROW_MSG(deliver_challenge(ours, "key", options), ValueError,
                   "unsupported challenge digest 'sha1'");
  EXPECT_FALSE(theirs.poll(0.0));
}

TEST(AnswerChallengeTest, MissingPrefixIsAProtocolError) {
  auto ours_theirs = Pipe();
  Connection& ours = ours_theirs.first;
  Connection& theirs = ours_theirs.second;
  theirs.send_bytes("hello\x00"s);
  EXPECT_THROW_MSG(answer_challenge(ours, "key"), AuthenticationError,
                   "Protocol error, expected challenge: message=b'hello\\x00'");
  EXPECT_FALSE(theirs.poll(0.0));
}

TEST(AnswerChallengeTest, ShortChallenge) {
  auto ours_theirs = Pipe();
  Connection& ours = ours_theirs.first;
  Connection& theirs = ours_theirs.second;
  theirs.send_bytes("#CHALLENGE#abcde");
  EXPECT_THROW_MSG(answer_challenge(ours, "key"), AuthenticationError,
                   "challenge too short: 5 bytes");
  theirs.send_bytes("#CHALLENGE#" + std::string(19, 'a'));
  EXPECT_THROW_MSG(answer_challenge(ours, "key"), AuthenticationError,
                   "challenge too short: 19 bytes");
  EXPECT_FALSE(theirs.poll(0.0));
}

TEST(AnswerChallengeTest, LegacyChallengeAnsweredWithRawMd5) {
  auto ours_theirs = Pipe();
  Connection& ours = ours_theirs.first;
  Connection& theirs = ours_theirs.second;
  const std::string random(20, '\xaa');
  theirs.send_bytes("#CHALLENGE#" + random);
  theirs.send_bytes("#WELCOME#");
  EXPECT_NO_THROW(answer_challenge(ours, "key"));
  const std::string response = Queued(theirs);
  ASSERT_EQ(response.size(), 16u);
  EXPECT_EQ(response, auth::Hmac("md5", "key", random));
  // hmac.new(b'key', b'\xaa' * 20, 'md5').hexdigest()
  EXPECT_EQ(Hex(response), "e9c24848859257568ce8960ac98617b9");
}

TEST(AnswerChallengeTest, ModernChallengeAnsweredWithPrefixedSha256) {
  auto ours_theirs = Pipe();
  Connection& ours = ours_theirs.first;
  Connection& theirs = ours_theirs.second;
  const std::string message = "{sha256}" + std::string(40, '\x01');
  theirs.send_bytes("#CHALLENGE#" + message);
  theirs.send_bytes("#WELCOME#");
  EXPECT_NO_THROW(answer_challenge(ours, "key"));
  EXPECT_EQ(Queued(theirs), "{sha256}" + auth::Hmac("sha256", "key", message));
}

TEST(AnswerChallengeTest, Sha3_384ChallengeAnsweredWithSha3_384) {
  auto ours_theirs = Pipe();
  Connection& ours = ours_theirs.first;
  Connection& theirs = ours_theirs.second;
  const std::string message = "{sha3_384}" + std::string(40, 'q');
  theirs.send_bytes("#CHALLENGE#" + message);
  theirs.send_bytes("#WELCOME#");
  EXPECT_NO_THROW(answer_challenge(ours, "key"));
  const std::string response = Queued(theirs);
  ASSERT_EQ(response.size(), 10u + 48u);
  EXPECT_EQ(response, "{sha3_384}" + auth::Hmac("sha3_384", "key", message));
}

TEST(AnswerChallengeTest, Sha512ChallengeRaisesParseErrorAndSendsNothing) {
  auto ours_theirs = Pipe();
  Connection& ours = ours_theirs.first;
  Connection& theirs = ours_theirs.second;
  const std::string message = "{sha512}" + std::string(40, 'q');
  theirs.send_bytes("#CHALLENGE#" + message);
  EXPECT_THROW_MSG(answer_challenge(ours, "key"), AuthenticationError, Bogus(message));
  EXPECT_FALSE(theirs.poll(0.0));
}

TEST(AnswerChallengeTest, NonWelcomeReplyIsRejected) {
  for (const std::string& reply : {"#FAILURE#"s, ""s, "#WELCOME"s, "#WELCOME##"s}) {
    SCOPED_TRACE(reply);
    auto ours_theirs = Pipe();
    Connection& ours = ours_theirs.first;
    Connection& theirs = ours_theirs.second;
    theirs.send_bytes("#CHALLENGE#{sha256}" + std::string(40, 'r'));
    theirs.send_bytes(reply);
    EXPECT_THROW_MSG(answer_challenge(ours, "key"), AuthenticationError,
                     "digest sent was rejected");
  }
}

TEST(AnswerChallengeTest, OversizedChallengeIsBadMessageLength) {
  auto ours_theirs = Pipe();
  Connection& ours = ours_theirs.first;
  Connection& theirs = ours_theirs.second;
  theirs.send_bytes("#CHALLENGE#" + std::string(246, 'r'));  // 257 bytes
  const auto e = Capture<OSError>([&] { answer_challenge(ours, "key"); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->message(), "bad message length");
  EXPECT_FALSE(theirs.poll(0.0));
}

TEST(AnswerChallengeTest, EofBeforeTheChallenge) {
  auto ours_theirs = Pipe();
  Connection& ours = ours_theirs.first;
  Connection& theirs = ours_theirs.second;
  theirs.close();
  EXPECT_THROW_MSG(answer_challenge(ours, "key"), EOFError, "");
}

// Both halves, in the order Listener.accept (deliver, answer) and Client (answer, deliver) run.
void MutualHandshake(std::string server_key, std::string client_key,
                     std::optional<std::string> server_error,
                     std::optional<std::string> client_error) {
  auto server_client = Pipe();
  Connection& server = server_client.first;
  Connection& client = server_client.second;
  PeerThread client_thread(server, std::move(client), [&](Connection& c) {
    if (client_error) {
      EXPECT_THROW_MSG(
          {
            answer_challenge(c, client_key);
            deliver_challenge(c, client_key);
          },
          AuthenticationError, *client_error);
    } else {
      answer_challenge(c, client_key);
      deliver_challenge(c, client_key);
      EXPECT_EQ(c.recv_bytes(), "from server");
      c.send_bytes("from client");
    }
  });
  if (server_error) {
    EXPECT_THROW_MSG(
        {
          deliver_challenge(server, server_key);
          answer_challenge(server, server_key);
        },
        AuthenticationError, *server_error);
  } else {
    EXPECT_NO_THROW({
      deliver_challenge(server, server_key);
      answer_challenge(server, server_key);
      server.send_bytes("from server");
      EXPECT_EQ(server.recv_bytes(), "from client");
    });
  }
  client_thread.Join();
}

TEST(MutualHandshakeTest, RightKey) { MutualHandshake("key", "key", std::nullopt, std::nullopt); }

TEST(MutualHandshakeTest, WrongKey) {
  MutualHandshake("key", "yek", "digest received was wrong", "digest sent was rejected");
}

TEST(MutualHandshakeTest, EmptyKeyBothWays) { MutualHandshake("", "", std::nullopt, std::nullopt); }

TEST(MutualHandshakeTest, EmptyKeyAgainstANonEmptyKey) {
  MutualHandshake("", "key", "digest received was wrong", "digest sent was rejected");
  MutualHandshake("key", "", "digest received was wrong", "digest sent was rejected");
}

TEST(MutualHandshakeTest, BinaryKeyWithNul) {
  MutualHandshake("k\x00y"s, "k\x00y"s, std::nullopt, std::nullopt);
  MutualHandshake("k\x00y"s, "k\x00z"s, "digest received was wrong", "digest sent was rejected");
}

// ---------------------------------------------------------------------------------------------
// AuthOptions::timeout (L-HANDSHAKE-BLOCKS mitigation)

constexpr double kTimeout = 0.3;
// Generous: the machine may be loaded.
constexpr double kUpperBound = kTimeout + 5.0;

void ExpectTimedOut(const std::function<void()>& f) {
  const auto start = Clock::now();
  const auto e = Capture<OSError>(f);
  const double elapsed = SecondsSince(start);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->errnum(), ETIMEDOUT);
  EXPECT_EQ(e->python_name(), "TimeoutError");
  EXPECT_EQ(e->message(), "authentication handshake timed out");
  EXPECT_GE(elapsed, kTimeout * 0.9);
  EXPECT_LE(elapsed, kUpperBound);
}

AuthOptions WithTimeout(double seconds = kTimeout) {
  AuthOptions options;
  options.timeout = seconds;
  return options;
}

TEST(HandshakeTimeoutTest, DeliverChallengeSilentPeer) {
  auto ours_theirs = Pipe();
  Connection& ours = ours_theirs.first;
  Connection& theirs = ours_theirs.second;
  ExpectTimedOut([&] { deliver_challenge(ours, "key", WithTimeout()); });
  EXPECT_EQ(Queued(theirs).size(), 59u);
}

TEST(HandshakeTimeoutTest, AnswerChallengeSilentPeer) {
  auto ours_theirs = Pipe();
  Connection& ours = ours_theirs.first;
  ExpectTimedOut([&] { answer_challenge(ours, "key", WithTimeout()); });
}

TEST(HandshakeTimeoutTest, AnswerChallengeSilentAfterTheResponse) {
  auto ours_theirs = Pipe();
  Connection& ours = ours_theirs.first;
  Connection& theirs = ours_theirs.second;
  theirs.send_bytes("#CHALLENGE#{sha256}" + std::string(40, 'r'));
  ExpectTimedOut([&] { answer_challenge(ours, "key", WithTimeout()); });
  EXPECT_EQ(Queued(theirs).size(), 40u);
}

// The peer sends 2 bytes of a frame header and stalls: poll() sees data, the read inside the
// frame is what must time out (SO_RCVTIMEO).
TEST(HandshakeTimeoutTest, AnswerChallengePartialHeader) {
  auto ours_theirs = Pipe();
  Connection& ours = ours_theirs.first;
  Connection& theirs = ours_theirs.second;
  ASSERT_EQ(send(theirs.fileno(), "\x00\x00", 2, MSG_NOSIGNAL), 2);
  ExpectTimedOut([&] { answer_challenge(ours, "key", WithTimeout()); });
}

TEST(HandshakeTimeoutTest, DeliverChallengePartialHeader) {
  auto ours_theirs = Pipe();
  Connection& ours = ours_theirs.first;
  Connection& theirs = ours_theirs.second;
  ASSERT_EQ(send(theirs.fileno(), "\x00\x00", 2, MSG_NOSIGNAL), 2);
  ExpectTimedOut([&] { deliver_challenge(ours, "key", WithTimeout()); });
}

TEST(HandshakeTimeoutTest, PartialPayload) {
  auto ours_theirs = Pipe();
  Connection& ours = ours_theirs.first;
  Connection& theirs = ours_theirs.second;
  const std::string partial = "\x00\x00\x00\x28{sha256}"s;  // announces 40 bytes, sends 8
  ASSERT_EQ(send(theirs.fileno(), partial.data(), partial.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(partial.size()));
  ExpectTimedOut([&] { deliver_challenge(ours, "key", WithTimeout()); });
}

// A truncated frame followed by end of stream is reported as such, without waiting for the
// deadline.
TEST(HandshakeTimeoutTest, PartialHeaderThenEofIsReportedAtOnce) {
  auto ours_theirs = Pipe();
  Connection& ours = ours_theirs.first;
  Connection& theirs = ours_theirs.second;
  ASSERT_EQ(send(theirs.fileno(), "\x00\x00", 2, MSG_NOSIGNAL), 2);
  theirs.close();
  const auto start = Clock::now();
  EXPECT_THROW_MSG(answer_challenge(ours, "key", WithTimeout(30.0)), OSError,
                   "got end of file during message");
  EXPECT_LT(SecondsSince(start), 10.0);
}

TEST(HandshakeTimeoutTest, PartialPayloadThenEofIsReportedAtOnce) {
  auto ours_theirs = Pipe();
  Connection& ours = ours_theirs.first;
  Connection& theirs = ours_theirs.second;
  const std::string partial = "\x00\x00\x00\x28{sha256}"s;
  ASSERT_EQ(send(theirs.fileno(), partial.data(), partial.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(partial.size()));
  theirs.close();
  const auto start = Clock::now();
  EXPECT_THROW_MSG(answer_challenge(ours, "key", WithTimeout(30.0)), OSError,
                   "got end of file during message");
  EXPECT_LT(SecondsSince(start), 10.0);
}

// A peer trickling one byte at a time, each just before a per-read timeout would fire, must not
// stretch the handshake beyond the deadline.
TEST(HandshakeTimeoutTest, TricklingPeerIsBoundedByTheDeadline) {
  auto ours_theirs = Pipe();
  Connection& ours = ours_theirs.first;
  Connection& theirs = ours_theirs.second;
  const int fd = theirs.fileno();
  std::atomic<bool> stop{false};
  std::thread trickler([fd, &stop] {
    // A 40-byte frame, one byte every 100 ms: 4.4 s in all, far past the 0.3 s deadline.
    const std::string frame = "\x00\x00\x00\x28"s + std::string(40, 'x');
    for (const char c : frame) {
      if (stop) return;
      if (send(fd, &c, 1, MSG_NOSIGNAL) != 1) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  ExpectTimedOut([&] { answer_challenge(ours, "key", WithTimeout()); });
  stop = true;
  trickler.join();
}

TEST(HandshakeTimeoutTest, ReceiveTimeoutIsRestored) {
  {
    auto ours_theirs = Pipe();
    Connection& ours = ours_theirs.first;
    ExpectTimedOut([&] { answer_challenge(ours, "key", WithTimeout()); });
    EXPECT_EQ(ReceiveTimeoutMicros(ours.fileno()), 0);
  }
  {
    auto ours_theirs = Pipe();
    Connection& ours = ours_theirs.first;
    Connection& theirs = ours_theirs.second;
    theirs.send_bytes("#CHALLENGE#{sha256}" + std::string(40, 'r'));
    theirs.send_bytes("#WELCOME#");
    EXPECT_NO_THROW(answer_challenge(ours, "key", WithTimeout(5.0)));
    EXPECT_EQ(ReceiveTimeoutMicros(ours.fileno()), 0);
  }
}

TEST(HandshakeTimeoutTest, TimeoutDoesNotDisturbAPromptPeer) {
  auto server_client = Pipe();
  Connection& server = server_client.first;
  Connection& client = server_client.second;
  PeerThread client_thread(server, std::move(client), [](Connection& c) {
    answer_challenge(c, "key", WithTimeout(10.0));
    deliver_challenge(c, "key", WithTimeout(10.0));
  });
  EXPECT_NO_THROW({
    deliver_challenge(server, "key", WithTimeout(10.0));
    answer_challenge(server, "key", WithTimeout(10.0));
  });
}

}  // namespace
}  // namespace mpipc
