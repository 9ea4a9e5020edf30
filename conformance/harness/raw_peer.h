// RawPeer: the suite as a hand-made wire peer of a target. Wire-level clauses (WIRE-*, AUTH-*)
// are checked by putting bytes on a socket ourselves: a RawPeer connects to a target's Listener
// (at the address its `Listener.address` getattr returns), or a RawListener accepts the target's
// Client; the test then writes frames or arbitrary bytes and reads back exactly what the target
// wrote, byte by byte (spec/wire-grammar.md, wire-protocol.md §2.2-2.5).
//
// Every wait has a deadline: reads and writes take a timeout in seconds and report kTimeout
// instead of blocking, so a target that stalls or misbehaves can never hang the suite. Sockets
// are non-blocking underneath (poll() + MSG_NOSIGNAL); a vanished peer is reported as kEof or
// kReset, never as a signal. Setup failures (socket, bind, connect) throw RawPeerError.
//
// The `handshake` namespace holds the HMAC challenge/response pieces in both forms (legacy
// `#CHALLENGE#` + 20 random bytes answered by a raw 16-byte HMAC-MD5; modern
// `#CHALLENGE#{digest}` + 40 random bytes answered by `{digest}` + HMAC over the whole payload)
// and the two complete halves (PlayServer / PlayClient), each step bounded by its deadline.
//
// Thread-safety: a RawPeer / RawListener is used by one thread at a time; distinct objects are
// independent. Lifetimes: each object owns its descriptor (closed by the destructor; a
// RawListener on an AF_UNIX path also unlinks it). Objects are movable, not copyable.
#ifndef MPIPC_CONFORMANCE_HARNESS_RAW_PEER_H_
#define MPIPC_CONFORMANCE_HARNESS_RAW_PEER_H_

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "values.h"

namespace mpipc::conformance {

// A socket could not be set up (socket, bind, listen, connect): a problem of the test run, not
// of the target's wire behaviour.
class RawPeerError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// How a bounded read or write ended.
enum class IoStatus {
  kOk,       // everything asked for was transferred
  kTimeout,  // the deadline passed first
  kEof,      // the peer closed its side (orderly end of stream)
  kReset,    // ECONNRESET / EPIPE: the peer is gone abruptly
};
const char* IoStatusName(IoStatus s);

struct ReadResult {
  IoStatus status = IoStatus::kTimeout;
  std::string data;  // all bytes asked for on kOk; the bytes that did arrive otherwise
};

// One frame as read from the wire.
struct FrameResult {
  IoStatus status = IoStatus::kTimeout;  // kOk when the whole frame arrived
  std::string header;                    // the 4 (or 4 + 8) header bytes read
  std::string payload;                   // the payload (what arrived of it, if not kOk)
  bool too_long = false;  // the announced length exceeded ReadFrame's max_payload (not read)
  int64_t length = 0;     // the announced length (-1 .. -2^31 for negative short headers)
};

// ---- Frame bytes (wire-protocol.md §2.2) ----
// The header CPython writes for an n-byte payload: 4-byte big-endian n, or FF FF FF FF + the
// 8-byte big-endian n when n > 0x7FFFFFFF.
std::string FrameHeader(uint64_t n);
// Always the 12-byte escape form, whatever n (WIRE-FRAME-LONG.any-length).
std::string LongFrameHeader(uint64_t n);
// A 4-byte header holding any 32-bit value (negative lengths for WIRE-NEG-LENGTH).
std::string RawHeader32(uint32_t value);
// FrameHeader(payload.size()) + payload.
std::string Frame(std::string_view payload);
// "00 00 00 02 68 69": for failure messages.
std::string Hex(std::string_view bytes);
// The inverse of a hex string without separators ("80044e2e"); throws std::invalid_argument.
std::string FromHex(std::string_view hex);

// A connected stream socket.
class RawPeer {
 public:
  RawPeer() = default;
  // Takes ownership of a connected stream socket (made non-blocking here).
  explicit RawPeer(int fd);
  ~RawPeer();
  RawPeer(RawPeer&& other) noexcept;
  RawPeer& operator=(RawPeer&& other) noexcept;
  RawPeer(const RawPeer&) = delete;
  RawPeer& operator=(const RawPeer&) = delete;

  // Connects to a driver-protocol address value: {"$tuple": [host, port]} (AF_INET), a path
  // string (AF_UNIX), or a string / {"$bytes"} starting with NUL (Linux abstract name).
  // Throws RawPeerError if the connection is not established within `timeout` seconds.
  static RawPeer Connect(const Json& address, double timeout);

  bool valid() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  // Writes all of `bytes` within `timeout` (kOk, kTimeout, kReset).
  IoStatus Send(std::string_view bytes, double timeout = 5.0);
  // Send(Frame(payload)).
  IoStatus SendFrame(std::string_view payload, double timeout = 5.0);
  // Reads exactly n bytes.
  ReadResult ReadExact(size_t n, double timeout);
  // Waits up to `timeout` for at least one byte; returns at most `max` bytes (kOk with data),
  // or kTimeout / kEof / kReset with no data.
  ReadResult ReadSome(size_t max, double timeout);
  // Reads one frame: the 4-byte header, the 8-byte length after FF FF FF FF, then the payload
  // unless it is longer than `max_payload` (then too_long is set and the payload is not read).
  // A negative short length other than -1 is reported with no payload read.
  FrameResult ReadFrame(double timeout, uint64_t max_payload = uint64_t{1} << 26);
  // True once a byte (or the end of the stream) is ready to read, false after `timeout`.
  // Consumes nothing.
  bool WaitReadable(double timeout);
  // Reads and discards until the peer ends the stream: kEof / kReset, or kTimeout if it is still
  // open at the deadline. `data` holds what arrived before the end.
  ReadResult ReadToEnd(double timeout);
  // shutdown(SHUT_WR): the target sees EOF while we can still read.
  void ShutdownWrite();
  // Closes so that the peer gets ECONNRESET (SO_LINGER 0) rather than EOF.
  void CloseWithReset();
  void Close();

 private:
  int fd_ = -1;
};

// A listening socket the target's Client connects to.
class RawListener {
 public:
  enum class Kind { kInet, kUnixPath, kUnixAbstract };
  // Binds 127.0.0.1:0, a fresh path under /tmp, or a fresh abstract name, and listens.
  explicit RawListener(Kind kind = Kind::kInet);
  ~RawListener();
  RawListener(RawListener&& other) noexcept;
  RawListener& operator=(RawListener&& other) noexcept;
  RawListener(const RawListener&) = delete;
  RawListener& operator=(const RawListener&) = delete;

  // The address as a driver-protocol value, ready for the target's Client(...).
  const Json& address() const { return address_; }
  // Accepts one connection within `timeout`; an invalid RawPeer if none arrived.
  RawPeer Accept(double timeout);

 private:
  void Release();
  int fd_ = -1;
  Json address_;
  std::string unlink_path_;
};

// ---- The authentication handshake (wire-protocol.md §2.4, §2.5) ----
namespace handshake {

inline constexpr std::string_view kChallenge = "#CHALLENGE#";
inline constexpr std::string_view kWelcome = "#WELCOME#";
inline constexpr std::string_view kFailure = "#FAILURE#";
inline constexpr size_t kLegacyNonce = 20;
inline constexpr size_t kModernNonce = 40;
inline constexpr size_t kMaxMessage = 256;
// The digests CPython 3.12+ allows in a {name} prefix.
inline constexpr std::string_view kAllowedDigests[] = {"md5", "sha256", "sha384", "sha3_256",
                                                       "sha3_384"};

// HMAC-`digest`(key, message) raw bytes; `digest` is an OpenSSL name ("md5", "sha256",
// "sha3_384", also "sha1", "sha512" for refused forms). Throws std::invalid_argument otherwise.
std::string Hmac(std::string_view digest, std::string_view key, std::string_view message);
// The digest's output size in bytes.
size_t DigestSize(std::string_view digest);
// n bytes from a CSPRNG.
std::string RandomBytes(size_t n);
// A challenge frame payload: `#CHALLENGE#` + 20 random bytes when `digest` is empty (legacy),
// else `#CHALLENGE#{digest}` + 40 random bytes (modern).
std::string MakeChallenge(std::string_view digest);
// The bytes after `#CHALLENGE#` (the MAC input); throws std::invalid_argument without the prefix.
std::string_view ChallengePayload(std::string_view challenge);
// A response to `challenge` (the whole frame payload, `#CHALLENGE#` included). digest "": raw
// HMAC-MD5 of the payload (legacy answerer); a name: `{name}` + HMAC-name of the payload;
// "auto": what a 3.12+ answerer sends (raw MD5 for a 20-byte payload, else the {name} of the
// challenge's own prefix).
std::string Respond(std::string_view key, std::string_view challenge, std::string_view digest);

// The challenger's check of a response, as CPython 3.12+ parses and verifies it.
struct Check {
  bool ok = false;
  std::string digest;  // the digest the response used ("md5" for the raw legacy form)
  std::string error;   // CPython's AuthenticationError text when !ok
};
Check Verify(std::string_view key, std::string_view challenge, std::string_view response);

// Outcome of a handshake half played by the suite; `error` says which step failed and how.
struct Half {
  bool ok = false;
  std::string error;
  std::string challenge;  // the challenge frame payload sent or received
  std::string response;   // the response frame payload sent or received
  std::string verdict;    // the verdict frame payload sent or received
};

// Challenger half: send MakeChallenge(challenge_digest), read the response, Verify it and send
// #WELCOME# or #FAILURE#. ok when the response verified.
Half Deliver(RawPeer& peer, std::string_view key, std::string_view challenge_digest,
             double timeout);
// Answerer half: read a challenge, send Respond(key, challenge, response_digest), read the
// verdict. ok when the verdict is #WELCOME#.
Half Answer(RawPeer& peer, std::string_view key, std::string_view response_digest, double timeout);

}  // namespace handshake
}  // namespace mpipc::conformance

#endif  // MPIPC_CONFORMANCE_HARNESS_RAW_PEER_H_
