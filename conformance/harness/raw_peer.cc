#include "raw_peer.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

namespace mpipc::conformance {

namespace {

using Clock = std::chrono::steady_clock;

Clock::time_point DeadlineAfter(double seconds) {
  if (seconds < 0) seconds = 0;
  return Clock::now() +
         std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

// Milliseconds left until `deadline` (0 when passed), rounded up so that poll() never returns
// just before it.
int MillisLeft(Clock::time_point deadline) {
  const auto left = deadline - Clock::now();
  if (left <= Clock::duration::zero()) return 0;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(left).count() + 1;
  return ms > 3600000 ? 3600000 : static_cast<int>(ms);
}

// Waits until `fd` is ready for `events` or the deadline passes. True when ready (or in error:
// the following system call reports it).
bool WaitReady(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int ms = MillisLeft(deadline);
    const int rc = ::poll(&p, 1, ms);
    if (rc > 0) return true;
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) return true;  // let the caller's call report the error
    if (ms == 0) return false;
  }
}

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

void SetNonBlocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    throw RawPeerError(Errno("fcntl(O_NONBLOCK)"));
  }
}

// A sockaddr for a driver-protocol address value.
struct SockAddr {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = AF_UNSPEC;
};

SockAddr UnixAddress(const std::string& name) {
  SockAddr a;
  auto* un = reinterpret_cast<sockaddr_un*>(&a.storage);
  un->sun_family = AF_UNIX;
  if (name.empty() || name.size() >= sizeof(un->sun_path)) {
    throw RawPeerError("AF_UNIX address of unusable length " + std::to_string(name.size()));
  }
  std::memcpy(un->sun_path, name.data(), name.size());
  a.family = AF_UNIX;
  // A path carries its terminating NUL; an abstract name (leading NUL) is exactly its bytes.
  a.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() +
                                    (name[0] == '\0' ? 0 : 1));
  return a;
}

SockAddr ParseAddress(const Json& address) {
  if (address.is_string()) return UnixAddress(address.get<std::string>());
  if (IsBytes(address)) return UnixAddress(AsBytes(address));
  const std::vector<Json> t = AsTuple(address);
  if (t.size() != 2 || !t[0].is_string() || !t[1].is_number_integer()) {
    throw RawPeerError("not an address value: " + address.dump());
  }
  SockAddr a;
  auto* in = reinterpret_cast<sockaddr_in*>(&a.storage);
  in->sin_family = AF_INET;
  in->sin_port = htons(static_cast<uint16_t>(t[1].get<int>()));
  const std::string host = t[0].get<std::string>();
  if (::inet_pton(AF_INET, host.c_str(), &in->sin_addr) != 1) {
    addrinfo hints{};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (::getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || res == nullptr) {
      throw RawPeerError("cannot resolve " + host);
    }
    in->sin_addr = reinterpret_cast<sockaddr_in*>(res->ai_addr)->sin_addr;
    ::freeaddrinfo(res);
  }
  a.family = AF_INET;
  a.length = sizeof(sockaddr_in);
  return a;
}

std::string Be(uint64_t value, int bytes) {
  std::string out(static_cast<size_t>(bytes), '\0');
  for (int i = bytes - 1; i >= 0; --i) {
    out[static_cast<size_t>(i)] = static_cast<char>(value & 0xFF);
    value >>= 8;
  }
  return out;
}

uint64_t FromBe(std::string_view bytes) {
  uint64_t v = 0;
  for (char c : bytes) v = (v << 8) | static_cast<uint8_t>(c);
  return v;
}

const EVP_MD* DigestByName(std::string_view name) {
  if (name == "md5") return EVP_md5();
  if (name == "sha1") return EVP_sha1();
  if (name == "sha256") return EVP_sha256();
  if (name == "sha384") return EVP_sha384();
  if (name == "sha512") return EVP_sha512();
  if (name == "sha3_256") return EVP_sha3_256();
  if (name == "sha3_384") return EVP_sha3_384();
  throw std::invalid_argument("unknown digest " + std::string(name));
}

bool Allowed(std::string_view name) {
  for (std::string_view d : handshake::kAllowedDigests) {
    if (d == name) return true;
  }
  return false;
}

std::atomic<unsigned> g_listener_serial{0};

}  // namespace

const char* IoStatusName(IoStatus s) {
  switch (s) {
    case IoStatus::kOk:
      return "ok";
    case IoStatus::kTimeout:
      return "timeout";
    case IoStatus::kEof:
      return "eof";
    case IoStatus::kReset:
      return "reset";
  }
  return "?";
}

// ---- Frame bytes ----

std::string FrameHeader(uint64_t n) { return n > 0x7FFFFFFFu ? LongFrameHeader(n) : Be(n, 4); }

std::string LongFrameHeader(uint64_t n) { return std::string(4, '\xff') + Be(n, 8); }

std::string RawHeader32(uint32_t value) { return Be(value, 4); }

std::string Frame(std::string_view payload) {
  return FrameHeader(payload.size()) + std::string(payload);
}

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (i != 0) out += ' ';
    const auto b = static_cast<uint8_t>(bytes[i]);
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

std::string FromHex(std::string_view hex) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    throw std::invalid_argument("not a hex digit");
  };
  if (hex.size() % 2 != 0) throw std::invalid_argument("odd hex length");
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    out += static_cast<char>(nibble(hex[i]) * 16 + nibble(hex[i + 1]));
  }
  return out;
}

// ---- RawPeer ----

RawPeer::RawPeer(int fd) : fd_(fd) {
  if (fd_ >= 0) SetNonBlocking(fd_);
}

RawPeer::~RawPeer() { Close(); }

RawPeer::RawPeer(RawPeer&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

RawPeer& RawPeer::operator=(RawPeer&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

RawPeer RawPeer::Connect(const Json& address, double timeout) {
  const SockAddr a = ParseAddress(address);
  const auto deadline = DeadlineAfter(timeout);
  for (;;) {
    const int fd = ::socket(a.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw RawPeerError(Errno("socket"));
    RawPeer peer(fd);
    int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&a.storage), a.length);
    if (rc < 0 && errno == EINPROGRESS) {
      if (!WaitReady(fd, POLLOUT, deadline)) {
        throw RawPeerError("connect to " + address.dump() + " timed out");
      }
      int err = 0;
      socklen_t len = sizeof(err);
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      errno = err;
      rc = err == 0 ? 0 : -1;
    }
    if (rc == 0) return peer;
    // A full AF_UNIX backlog answers EAGAIN: try again until the deadline.
    if (errno != EAGAIN || MillisLeft(deadline) == 0) {
      throw RawPeerError(Errno("connect to " + address.dump()));
    }
    WaitReady(-1, 0, DeadlineAfter(0.005));
  }
}

IoStatus RawPeer::Send(std::string_view bytes, double timeout) {
  const auto deadline = DeadlineAfter(timeout);
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n =
        ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!WaitReady(fd_, POLLOUT, deadline)) return IoStatus::kTimeout;
      continue;
    }
    return IoStatus::kReset;
  }
  return IoStatus::kOk;
}

IoStatus RawPeer::SendFrame(std::string_view payload, double timeout) {
  return Send(Frame(payload), timeout);
}

ReadResult RawPeer::ReadSome(size_t max, double timeout) {
  const auto deadline = DeadlineAfter(timeout);
  std::string buf(max == 0 ? 1 : max, '\0');
  for (;;) {
    const ssize_t n = ::recv(fd_, buf.data(), buf.size(), MSG_DONTWAIT);
    if (n > 0) {
      buf.resize(static_cast<size_t>(n));
      return {IoStatus::kOk, std::move(buf)};
    }
    if (n == 0) return {IoStatus::kEof, {}};
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      return {IoStatus::kReset, {}};  // ECONNRESET and the like: the peer is gone
    }
    if (!WaitReady(fd_, POLLIN, deadline)) return {IoStatus::kTimeout, {}};
  }
}

ReadResult RawPeer::ReadExact(size_t n, double timeout) {
  const auto deadline = DeadlineAfter(timeout);
  ReadResult out{IoStatus::kOk, {}};
  while (out.data.size() < n) {
    const double left = std::chrono::duration<double>(deadline - Clock::now()).count();
    ReadResult part = ReadSome(n - out.data.size(), left);
    if (part.status != IoStatus::kOk) {
      out.status = part.status;
      return out;
    }
    out.data += part.data;
  }
  return out;
}

FrameResult RawPeer::ReadFrame(double timeout, uint64_t max_payload) {
  const auto deadline = DeadlineAfter(timeout);
  auto left = [&] { return std::chrono::duration<double>(deadline - Clock::now()).count(); };
  FrameResult f;
  ReadResult h = ReadExact(4, left());
  f.header = h.data;
  if (h.status != IoStatus::kOk) {
    f.status = h.status;
    return f;
  }
  const auto short_len = static_cast<int32_t>(static_cast<uint32_t>(FromBe(h.data)));
  uint64_t length = 0;
  if (short_len == -1) {
    ReadResult l = ReadExact(8, left());
    f.header += l.data;
    if (l.status != IoStatus::kOk) {
      f.status = l.status;
      return f;
    }
    length = FromBe(l.data);
    f.length = static_cast<int64_t>(length);
  } else if (short_len < 0) {
    f.length = short_len;
    f.status = IoStatus::kOk;
    return f;
  } else {
    length = static_cast<uint64_t>(short_len);
    f.length = short_len;
  }
  if (length > max_payload) {
    f.too_long = true;
    f.status = IoStatus::kOk;
    return f;
  }
  ReadResult p = ReadExact(static_cast<size_t>(length), left());
  f.status = p.status;
  f.payload = std::move(p.data);
  return f;
}

bool RawPeer::WaitReadable(double timeout) {
  return WaitReady(fd_, POLLIN, DeadlineAfter(timeout));
}

ReadResult RawPeer::ReadToEnd(double timeout) {
  const auto deadline = DeadlineAfter(timeout);
  ReadResult out{IoStatus::kTimeout, {}};
  for (;;) {
    const double left = std::chrono::duration<double>(deadline - Clock::now()).count();
    ReadResult part = ReadSome(65536, left);
    if (part.status != IoStatus::kOk) {
      out.status = part.status;
      return out;
    }
    out.data += part.data;
  }
}

void RawPeer::ShutdownWrite() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

void RawPeer::CloseWithReset() {
  if (fd_ < 0) return;
  linger l{1, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  Close();
}

void RawPeer::Close() {
  if (fd_ >= 0) ::close(std::exchange(fd_, -1));
}

// ---- RawListener ----

RawListener::RawListener(Kind kind) {
  const int family = kind == Kind::kInet ? AF_INET : AF_UNIX;
  fd_ = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw RawPeerError(Errno("socket"));
  SockAddr a;
  if (kind == Kind::kInet) {
    auto* in = reinterpret_cast<sockaddr_in*>(&a.storage);
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.length = sizeof(sockaddr_in);
  } else {
    std::string random = Hex(handshake::RandomBytes(4));
    random.erase(std::remove(random.begin(), random.end(), ' '), random.end());
    const std::string name = "mpipc-raw-" + std::to_string(::getpid()) + "-" +
                             std::to_string(g_listener_serial.fetch_add(1)) + "-" + random;
    const std::string address =
        kind == Kind::kUnixPath ? "/tmp/" + name : std::string(1, '\0') + name;
    a = UnixAddress(address);
    address_ = address;
    if (kind == Kind::kUnixPath) unlink_path_ = address;
  }
  if (::bind(fd_, reinterpret_cast<const sockaddr*>(&a.storage), a.length) < 0 ||
      ::listen(fd_, 8) < 0) {
    const std::string why = Errno("bind/listen");
    Release();
    throw RawPeerError(why);
  }
  if (kind == Kind::kInet) {
    sockaddr_in bound{};
    socklen_t len = sizeof(bound);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&bound), &len);
    address_ = InetAddress("127.0.0.1", ntohs(bound.sin_port));
  }
}

RawListener::~RawListener() { Release(); }

RawListener::RawListener(RawListener&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      address_(std::move(other.address_)),
      unlink_path_(std::exchange(other.unlink_path_, {})) {}

RawListener& RawListener::operator=(RawListener&& other) noexcept {
  if (this != &other) {
    Release();
    fd_ = std::exchange(other.fd_, -1);
    address_ = std::move(other.address_);
    unlink_path_ = std::exchange(other.unlink_path_, {});
  }
  return *this;
}

void RawListener::Release() {
  if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  if (!unlink_path_.empty()) ::unlink(std::exchange(unlink_path_, {}).c_str());
}

RawPeer RawListener::Accept(double timeout) {
  const auto deadline = DeadlineAfter(timeout);
  for (;;) {
    const int fd = ::accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) return RawPeer(fd);
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) throw RawPeerError(Errno("accept"));
    if (!WaitReady(fd_, POLLIN, deadline)) return RawPeer();
  }
}

// ---- Handshake ----
namespace handshake {

std::string Hmac(std::string_view digest, std::string_view key, std::string_view message) {
  const EVP_MD* md = DigestByName(digest);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // HMAC() wants a non-null key pointer even for an empty key.
  static const unsigned char kEmpty = 0;
  const void* k = key.empty() ? static_cast<const void*>(&kEmpty) : key.data();
  if (::HMAC(md, k, static_cast<int>(key.size()),
             reinterpret_cast<const unsigned char*>(message.data()), message.size(), out,
             &len) == nullptr) {
    throw std::invalid_argument("HMAC failed for " + std::string(digest));
  }
  return std::string(reinterpret_cast<const char*>(out), len);
}

size_t DigestSize(std::string_view digest) {
  return static_cast<size_t>(EVP_MD_size(DigestByName(digest)));
}

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (n != 0 &&
      RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  return out;
}

std::string MakeChallenge(std::string_view digest) {
  if (digest.empty()) return std::string(kChallenge) + RandomBytes(kLegacyNonce);
  return std::string(kChallenge) + "{" + std::string(digest) + "}" + RandomBytes(kModernNonce);
}

std::string_view ChallengePayload(std::string_view challenge) {
  if (challenge.substr(0, kChallenge.size()) != kChallenge) {
    throw std::invalid_argument("not a challenge: " + Hex(challenge));
  }
  return challenge.substr(kChallenge.size());
}

namespace {

// CPython 3.12+'s _get_digest_name_and_payload: {"", whole} for the legacy lengths 16 and 20,
// {name, rest} for an allowed {name} prefix whose '}' lies in bytes 1..9; nullopt otherwise.
std::optional<std::pair<std::string, std::string>> SplitDigest(std::string_view message) {
  if (message.size() == 16 || message.size() == 20)
    return std::pair{std::string(), std::string(message)};
  if (message.empty() || message[0] != '{') return std::nullopt;
  const size_t curly = message.substr(0, 10).find('}', 1);
  if (curly == std::string_view::npos) return std::nullopt;
  const std::string name(message.substr(1, curly - 1));
  if (!Allowed(name)) return std::nullopt;
  return std::pair{name, std::string(message.substr(curly + 1))};
}

}  // namespace

std::string Respond(std::string_view key, std::string_view challenge, std::string_view digest) {
  const std::string_view payload = ChallengePayload(challenge);
  std::string name(digest);
  if (name == "auto") {
    auto split = SplitDigest(payload);
    if (!split) throw std::invalid_argument("cannot answer challenge " + Hex(challenge));
    name = split->first;
  }
  if (name.empty()) return Hmac("md5", key, payload);
  return "{" + name + "}" + Hmac(name, key, payload);
}

Check Verify(std::string_view key, std::string_view challenge, std::string_view response) {
  Check c;
  const std::string_view payload = ChallengePayload(challenge);
  auto split = SplitDigest(response);
  if (!split) {
    c.error = "unsupported message length, missing digest prefix, or unsupported digest";
    return c;
  }
  c.digest = split->first.empty() ? "md5" : split->first;
  const std::string expected = Hmac(c.digest, key, payload);
  if (expected.size() != split->second.size()) {
    c.error = "expected '" + c.digest + "' of length " + std::to_string(expected.size()) + " got " +
              std::to_string(split->second.size());
    return c;
  }
  if (expected != split->second) {
    c.error = "digest received was wrong";
    return c;
  }
  c.ok = true;
  return c;
}

namespace {

// Reads one handshake frame into `out` or records why it could not be read.
bool ReadMessage(RawPeer& peer, Clock::time_point deadline, const char* what, std::string* out,
                 Half* half) {
  const double left = std::chrono::duration<double>(deadline - Clock::now()).count();
  FrameResult f = peer.ReadFrame(left, kMaxMessage);
  if (f.status != IoStatus::kOk || f.too_long || f.length < 0) {
    half->error = std::string("reading the ") + what + ": " + IoStatusName(f.status) +
                  (f.too_long ? " (too long)" : "") + ", header " + Hex(f.header) + ", got " +
                  Hex(f.payload);
    return false;
  }
  *out = std::move(f.payload);
  return true;
}

bool WriteMessage(RawPeer& peer, Clock::time_point deadline, const char* what,
                  std::string_view payload, Half* half) {
  const double left = std::chrono::duration<double>(deadline - Clock::now()).count();
  const IoStatus s = peer.SendFrame(payload, left);
  if (s != IoStatus::kOk) {
    half->error = std::string("sending the ") + what + ": " + IoStatusName(s);
    return false;
  }
  return true;
}

}  // namespace

Half Deliver(RawPeer& peer, std::string_view key, std::string_view challenge_digest,
             double timeout) {
  const auto deadline = DeadlineAfter(timeout);
  Half h;
  h.challenge = MakeChallenge(challenge_digest);
  if (!WriteMessage(peer, deadline, "challenge", h.challenge, &h)) return h;
  if (!ReadMessage(peer, deadline, "response", &h.response, &h)) return h;
  const Check c = Verify(key, h.challenge, h.response);
  h.verdict = std::string(c.ok ? kWelcome : kFailure);
  if (!WriteMessage(peer, deadline, "verdict", h.verdict, &h)) return h;
  h.ok = c.ok;
  if (!c.ok) h.error = "response refused: " + c.error + " (" + Hex(h.response) + ")";
  return h;
}

Half Answer(RawPeer& peer, std::string_view key, std::string_view response_digest, double timeout) {
  const auto deadline = DeadlineAfter(timeout);
  Half h;
  if (!ReadMessage(peer, deadline, "challenge", &h.challenge, &h)) return h;
  try {
    h.response = Respond(key, h.challenge, response_digest);
  } catch (const std::invalid_argument& e) {
    h.error = e.what();
    return h;
  }
  if (!WriteMessage(peer, deadline, "response", h.response, &h)) return h;
  if (!ReadMessage(peer, deadline, "verdict", &h.verdict, &h)) return h;
  h.ok = h.verdict == kWelcome;
  if (!h.ok) h.error = "verdict was not #WELCOME#: " + Hex(h.verdict);
  return h;
}

}  // namespace handshake
}  // namespace mpipc::conformance
