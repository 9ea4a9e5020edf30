// Fuzz target: the HMAC handshake (mpipc/handshake.h), both roles and both forms.
//
// Part 1, pure: ParseDigestMessage on arbitrary bytes (what it accepts must be a legacy length or
// an allowed '{digest}' prefix); CreateResponse/VerifyResponse on a challenge built from the
// input (every allowed digest, legacy and modern, MD5 allowed or refused): the true response must
// verify and any other response must be rejected with AuthenticationError.
// Part 2, on the wire: a scripted peer's frames (well-formed pieces such as '#CHALLENGE#',
// '{sha256}', '#WELCOME#', '#FAILURE#' mixed with garbage, oversized and truncated frames) are
// written into a socketpair, whose peer side is then shut down, and AnswerChallenge or
// DeliverChallenge runs against them, with or without a deadline. Nothing blocks: every byte is
// buffered and end of stream follows. Only mpipc's error types may come out; answering succeeds
// exactly when the script was a valid challenge followed by '#WELCOME#', and the response we sent
// must be CreateResponse of that challenge; delivering can never succeed against a script.

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "frame_oracle.h"
#include "fuzz_input.h"
#include "mpipc/connection.h"
#include "mpipc/errors.h"
#include "mpipc/framing.h"
#include "mpipc/handshake.h"
#include "mpipc/sys.h"

namespace {

namespace auth = mpipc::auth;
using mpipc::fuzz::Check;
using mpipc::fuzz::FuzzInput;

constexpr std::array<std::string_view, 7> kDigestNames = {
    "md5", "sha256", "sha384", "sha3_256", "sha3_384", "sha1", "sha512"};

bool Allowed(std::string_view d) {
  for (std::string_view a : auth::kAllowedDigests) {
    if (a == d) return true;
  }
  return false;
}

// A challenge payload (what follows '#CHALLENGE#'): legacy 20 bytes, or '{name}' + bytes.
std::string MakeChallenge(FuzzInput& in) {
  const uint8_t form = in.Byte() % 4;
  std::string random = in.Bytes(64);
  if (form == 0) {
    random.resize(auth::kLegacyMessageLength, 'x');
    return random;
  }
  if (form == 3) return random;  // raw bytes of any length
  return "{" + std::string(kDigestNames[in.Below(kDigestNames.size())]) + "}" + random;
}

void PureChecks(FuzzInput& in, const std::string& key, const mpipc::AuthOptions& options) {
  const std::string raw = in.Bytes(80);
  try {
    const auth::DigestMessage d = auth::ParseDigestMessage(raw);
    Check(d.digest.empty()
              ? (raw.size() == auth::kLegacyMessageLength || raw.size() == auth::kMd5DigestLength)
              : Allowed(d.digest),
          "ParseDigestMessage accepted an unknown form");
    Check(raw.size() >= d.payload.size() &&
              raw.compare(raw.size() - d.payload.size(), d.payload.size(), d.payload) == 0,
          "payload is a suffix");
  } catch (const mpipc::AuthenticationError&) {
  }
  (void)auth::PyBytesRepr(raw);

  const std::string challenge = MakeChallenge(in);
  std::string response;
  try {
    response = auth::CreateResponse(key, challenge, options);
  } catch (const mpipc::AuthenticationError&) {
    return;  // not a challenge we can answer (unknown digest, md5 refused, bad length)
  }
  // The challenger verifies the response to its own challenge.
  bool verified = true;
  try {
    auth::VerifyResponse(key, challenge, response, options);
  } catch (const mpipc::AuthenticationError&) {
    verified = false;
  }
  Check(verified, "the true response must verify");
  // Any change to the response (or the key) must be rejected.
  std::string forged = response;
  const uint8_t how = in.Byte();
  if (how % 3 == 0 && !forged.empty()) {
    forged[in.Below(forged.size())] ^= static_cast<char>(in.Byte() | 1);
  } else if (how % 3 == 1) {
    forged = in.Bytes(80);
  } else {
    forged.push_back(static_cast<char>(in.Byte()));
  }
  if (forged != response) {
    bool accepted = true;
    try {
      auth::VerifyResponse(key, challenge, forged, options);
    } catch (const mpipc::AuthenticationError&) {
      accepted = false;
    }
    // A forged reply can only verify if it is the same MAC in another accepted spelling
    // (raw MD5 vs '{md5}'); require that it at least carries the same MAC bytes.
    if (accepted) {
      const auth::DigestMessage d = auth::ParseDigestMessage(forged);
      const std::string_view digest = d.digest.empty() ? "md5" : d.digest;
      Check(auth::Hmac(digest, key, challenge) == d.payload, "a forged response verified");
    }
  }
}

// One frame of the scripted peer.
std::string ScriptFrame(FuzzInput& in) {
  const uint8_t kind = in.Byte() % 8;
  std::string payload;
  switch (kind) {
    case 0:
      payload = std::string(auth::kChallenge) + MakeChallenge(in);
      break;
    case 1:
      payload = std::string(auth::kWelcome);
      break;
    case 2:
      payload = std::string(auth::kFailure);
      break;
    case 3:  // oversized: beyond the 256-byte handshake cap
      payload = std::string(257 + in.Below(64), 'A');
      break;
    case 4: {  // a raw header with no or some payload: truncated, negative, or the -1 escape
      std::string raw(4, '\xff');
      for (char& c : raw) c = static_cast<char>(in.Byte());
      return raw + in.Bytes(16);
    }
    default:
      payload = in.Bytes(255);
  }
  const mpipc::framing::Header h = mpipc::framing::EncodeHeader(payload.size());
  return std::string(h.view()) + payload;
}

// Reads every frame the peer side received (what we sent), as payloads.
std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

void WireChecks(FuzzInput& in, const std::string& key, const mpipc::AuthOptions& options) {
  const bool answering = in.Bool();
  const bool with_deadline = in.Bool();
  const size_t nframes = in.Below(4);
  std::string script;
  std::string first_payload;
  std::string second_payload;
  for (size_t i = 0; i < nframes; ++i) script += ScriptFrame(in);
  int fds[2];
  Check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0, "socketpair");
  Check(write(fds[1], script.data(), script.size()) == static_cast<ssize_t>(script.size()),
        "script write");
  shutdown(fds[1], SHUT_WR);
  mpipc::Connection conn(fds[0]);
  const mpipc::sys::Deadline deadline =
      with_deadline ? mpipc::sys::DeadlineAfter(10.0) : mpipc::sys::Deadline{};
  bool ok = false;
  try {
    if (answering) {
      auth::AnswerChallenge(conn, key, options, deadline);
    } else {
      auth::DeliverChallenge(conn, key, options, deadline);
    }
    ok = true;
  } catch (const mpipc::AuthenticationError&) {
  } catch (const mpipc::OSError& e) {
    Check(e.message().rfind("bad message length", 0) == 0 ||
              e.message() == "got end of file during message",
          [&] { return "unexpected OSError: " + e.message(); });
  } catch (const mpipc::EOFError&) {
  }
  const std::string sent = ReadAll(fds[1]);
  close(fds[1]);
  Check(!ok || answering, "delivering a challenge succeeded against a scripted reply");
  if (!answering) return;
  // The oracle for answering: the first frame must be a complete short frame of at most 256
  // bytes starting with '#CHALLENGE#' and a parsable challenge; the second exactly '#WELCOME#'.
  auto frame_at = [&](size_t pos, std::string* payload) -> size_t {
    const mpipc::fuzz::OracleHeader h =
        mpipc::fuzz::OracleDecode(std::string_view(script).substr(pos));
    if (h.status != mpipc::fuzz::OracleHeader::kComplete || h.length > 256 ||
        script.size() - pos - h.header_size < h.length) {
      return 0;
    }
    *payload = script.substr(pos + h.header_size, static_cast<size_t>(h.length));
    return h.header_size + static_cast<size_t>(h.length);
  };
  const size_t first = frame_at(0, &first_payload);
  bool expect = false;
  std::string expected_response;
  if (first > 0 && first_payload.rfind(auth::kChallenge, 0) == 0) {
    const std::string challenge = first_payload.substr(auth::kChallenge.size());
    try {
      if (challenge.size() >= auth::kLegacyMessageLength) {
        expected_response = auth::CreateResponse(key, challenge, options);
        expect = frame_at(first, &second_payload) > 0 && second_payload == auth::kWelcome;
      }
    } catch (const mpipc::AuthenticationError&) {
    }
  }
  Check(ok == expect, ok ? "answered an invalid script" : "rejected a valid script");
  if (ok) {
    const mpipc::framing::Header h = mpipc::framing::EncodeHeader(expected_response.size());
    Check(sent == std::string(h.view()) + expected_response, "the response sent");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzInput in(data, size);
  const std::string key = in.Bytes(32);
  mpipc::AuthOptions options;
  options.accept_md5 = !in.Bool() || in.Bool();  // mostly true
  options.challenge_digest = std::string(kDigestNames[in.Below(5)]);
  if (in.Bool()) {
    PureChecks(in, key, options);
  } else {
    WireChecks(in, key, options);
  }
  return 0;
}
