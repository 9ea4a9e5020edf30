#include "mpipc/handshake.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <span>
#include <thread>

#include "mpipc/framing.h"
#include "mpipc/value.h"

namespace mpipc {
namespace auth {

namespace {

const EVP_MD* DigestByName(std::string_view name) {
  if (name == "md5") return EVP_md5();
  if (name == "sha256") return EVP_sha256();
  if (name == "sha384") return EVP_sha384();
  if (name == "sha3_256") return EVP_sha3_256();
  if (name == "sha3_384") return EVP_sha3_384();
  return nullptr;
}

bool IsAllowedDigest(std::string_view name) {
  return std::find(std::begin(kAllowedDigests), std::end(kAllowedDigests), name) !=
         std::end(kAllowedDigests);
}

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    throw OSError("cannot obtain random bytes from OpenSSL");
  }
  return out;
}

[[noreturn]] void ThrowTimeout() { throw OSError(ETIMEDOUT, "authentication handshake timed out"); }

// Applies SO_RCVTIMEO on a socket so that a peer stalling inside a frame cannot outlast the
// deadline; restores "no timeout" on destruction. A no-op without a deadline.
class ReceiveTimeout {
 public:
  ReceiveTimeout(int fd, const sys::Deadline& deadline) : fd_(fd) {
    if (!deadline) return;
    const auto left = std::max(*deadline - sys::Clock::now(), sys::Clock::duration(1000));
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(left).count();
    struct timeval tv {};
    tv.tv_sec = static_cast<time_t>(us / 1000000);
    tv.tv_usec = static_cast<suseconds_t>(std::max<int64_t>(us % 1000000, 1));
    active_ = setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0;
  }
  ~ReceiveTimeout() {
    if (!active_) return;
    struct timeval zero {};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &zero, sizeof zero);
  }
  ReceiveTimeout(const ReceiveTimeout&) = delete;
  ReceiveTimeout& operator=(const ReceiveTimeout&) = delete;

 private:
  int fd_;
  bool active_ = false;
};

double SecondsLeft(const sys::Deadline& deadline) {
  return std::chrono::duration<double>(*deadline - sys::Clock::now()).count();
}

// True when `data` (the start of the receive queue) holds a whole frame that a handshake receive
// would read, or enough of it for recv_bytes(256) to fail without reading further (a length over
// the cap, a negative length).
bool FrameIsBuffered(std::span<const unsigned char> data) {
  const framing::DecodeResult r = framing::DecodeHeader(data);
  switch (r.status) {
    case framing::DecodeStatus::kNeedMore:
      return false;
    case framing::DecodeStatus::kNegativeLength:
      return true;
    case framing::DecodeStatus::kOk:
      break;
  }
  return r.length > static_cast<uint64_t>(kMaxHandshakeMessage) ||
         data.size() >= r.header_size + r.length;
}

// Waits, until `deadline`, for the next handshake frame to be wholly buffered on the socket (or
// for end of stream), peeking without consuming, so that the recv_bytes that follows does not
// block. poll() reports a partially received frame as readable at once, so while only part of a
// frame is there we look again every millisecond: a peer that stalls or trickles bytes inside a
// frame cannot outlast the deadline (SO_RCVTIMEO alone restarts with every byte received). A peer
// that has shut down its side ends the wait at once. For a descriptor that is not a socket this
// only waits for the first byte.
void AwaitFrame(Connection& conn, const sys::Deadline& deadline) {
  unsigned char buf[framing::kLongHeaderSize + kMaxHandshakeMessage];
  for (;;) {
    if (!conn.poll(SecondsLeft(deadline))) ThrowTimeout();
    const ssize_t n = recv(conn.fileno(), buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    // End of stream, an error (recv_bytes reports both) or a whole frame.
    if (n <= 0 || FrameIsBuffered({buf, static_cast<size_t>(n)})) return;
    // Part of a frame: if the peer has shut down, recv_bytes reports the truncated frame now.
    struct pollfd hup {};
    hup.fd = conn.fileno();
    hup.events = POLLRDHUP;
    if (sys::Poll(&hup, 1, sys::Clock::now()) > 0 &&
        (hup.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
      return;
    }
    const auto left = *deadline - sys::Clock::now();
    if (left <= sys::Clock::duration::zero()) ThrowTimeout();
    std::this_thread::sleep_for(std::min<sys::Clock::duration>(left, std::chrono::milliseconds(1)));
  }
}

// One handshake message: recv_bytes(256), bounded by `deadline`.
std::string ReceiveMessage(Connection& conn, const sys::Deadline& deadline) {
  if (deadline) AwaitFrame(conn, deadline);
  // A backstop should the frame not be there after all (not a socket, a concurrent reader).
  ReceiveTimeout guard(conn.fileno(), deadline);
  try {
    return conn.recv_bytes(kMaxHandshakeMessage);
  } catch (const OSError& e) {
    if (deadline && (e.errnum() == EAGAIN || e.errnum() == EWOULDBLOCK)) ThrowTimeout();
    throw;
  }
}

}  // namespace

std::string PyBytesRepr(std::string_view bytes) {
  // Python's repr rules live in one place: mpipc::Value.
  return Value(Bytes{std::string(bytes)}).repr();
}

DigestMessage ParseDigestMessage(std::string_view message) {
  if (message.size() == kLegacyMessageLength || message.size() == kMd5DigestLength) {
    return {"", message};
  }
  if (!message.empty() && message[0] == '{') {
    // The closing brace is searched in message[1 : kMaxDigestNameLength + 2), as CPython does.
    const std::string_view window = message.substr(1, kMaxDigestNameLength + 1);
    const size_t close = window.find('}');
    if (close != std::string_view::npos) {
      const std::string_view name = window.substr(0, close);
      if (IsAllowedDigest(name)) return {name, message.substr(close + 2)};
    }
  }
  throw AuthenticationError(
      "unsupported message length, missing digest prefix, or unsupported digest: message=" +
      PyBytesRepr(message));
}

std::string Hmac(std::string_view digest, std::string_view key, std::string_view message) {
  const EVP_MD* md = DigestByName(digest);
  if (md == nullptr) {
    throw AuthenticationError("response_digest='" + std::string(digest) + "' unsupported");
  }
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // OpenSSL wants a non-null key pointer even for an empty key.
  static const unsigned char kEmpty = 0;
  const void* key_ptr = key.empty() ? static_cast<const void*>(&kEmpty) : key.data();
  if (HMAC(md, key_ptr, static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), out,
           &len) == nullptr) {
    throw AuthenticationError("response_digest='" + std::string(digest) + "' unsupported");
  }
  return {reinterpret_cast<const char*>(out), len};
}

std::string CreateResponse(std::string_view key, std::string_view message,
                           const AuthOptions& options) {
  std::string_view digest = ParseDigestMessage(message).digest;
  if (digest.empty()) {
    // A legacy challenge: raw HMAC-MD5, or (MD5 refused) the modern SHA-256 form CPython falls
    // back to when MD5 is unavailable.
    if (options.accept_md5) return Hmac("md5", key, message);
    digest = "sha256";
  } else if (digest == "md5" && !options.accept_md5) {
    throw AuthenticationError("response_digest='md5' unsupported");
  }
  return "{" + std::string(digest) + "}" + Hmac(digest, key, message);
}

void VerifyResponse(std::string_view key, std::string_view message, std::string_view response,
                    const AuthOptions& options) {
  const DigestMessage parsed = ParseDigestMessage(response);
  const std::string_view digest = parsed.digest.empty() ? std::string_view("md5") : parsed.digest;
  if (digest == "md5" && !options.accept_md5) {
    throw AuthenticationError("response_digest='md5' unsupported");
  }
  const std::string expected = Hmac(digest, key, message);
  if (expected.size() != parsed.payload.size()) {
    throw AuthenticationError("expected '" + std::string(digest) + "' of length " +
                              std::to_string(expected.size()) + " got " +
                              std::to_string(parsed.payload.size()));
  }
  if (CRYPTO_memcmp(expected.data(), parsed.payload.data(), expected.size()) != 0) {
    throw AuthenticationError("digest received was wrong");
  }
}

void DeliverChallenge(Connection& conn, std::string_view key, const AuthOptions& options,
                      const sys::Deadline& deadline) {
  if (!IsAllowedDigest(options.challenge_digest)) {
    throw ValueError("unsupported challenge digest '" + options.challenge_digest + "'");
  }
  const std::string message = "{" + options.challenge_digest + "}" + RandomBytes(kMessageLength);
  conn.send_bytes(std::string(kChallenge) + message);
  const std::string response = ReceiveMessage(conn, deadline);
  try {
    VerifyResponse(key, message, response, options);
  } catch (const AuthenticationError&) {
    conn.send_bytes(kFailure);
    throw;
  }
  conn.send_bytes(kWelcome);
}

void AnswerChallenge(Connection& conn, std::string_view key, const AuthOptions& options,
                     const sys::Deadline& deadline) {
  const std::string message = ReceiveMessage(conn, deadline);
  if (message.substr(0, kChallenge.size()) != kChallenge) {
    throw AuthenticationError("Protocol error, expected challenge: message=" +
                              PyBytesRepr(message));
  }
  const std::string_view whole = message;
  const std::string_view payload = whole.substr(kChallenge.size());
  if (payload.size() < kLegacyMessageLength) {
    throw AuthenticationError("challenge too short: " + std::to_string(payload.size()) + " bytes");
  }
  conn.send_bytes(CreateResponse(key, payload, options));
  if (ReceiveMessage(conn, deadline) != kWelcome) {
    throw AuthenticationError("digest sent was rejected");
  }
}

}  // namespace auth

void deliver_challenge(Connection& conn, std::string_view authkey, const AuthOptions& options) {
  auth::DeliverChallenge(conn, authkey, options, sys::DeadlineAfter(options.timeout));
}

void answer_challenge(Connection& conn, std::string_view authkey, const AuthOptions& options) {
  auth::AnswerChallenge(conn, authkey, options, sys::DeadlineAfter(options.timeout));
}

}  // namespace mpipc
