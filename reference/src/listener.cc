#include "mpipc/listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <charconv>
#include <cstddef>
#include <cstring>
#include <utility>

#include "mpipc/sys.h"

namespace mpipc {

namespace {

[[noreturn]] void ThrowErrno() { throw OSErrorFromErrno(errno); }

// A socket address of either family, as the kernel wants it.
struct SockAddr {
  struct sockaddr_storage storage {};
  socklen_t len = 0;
  const struct sockaddr* get() const { return reinterpret_cast<const struct sockaddr*>(&storage); }
};

SockAddr ToSockAddr(const Address& a) {
  SockAddr out;
  if (a.family == Family::kInet) {
    struct addrinfo hints {};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    struct addrinfo* res = nullptr;
    const std::string host = a.host.empty() ? std::string("0.0.0.0") : a.host;
    const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
    if (rc != 0 || res == nullptr) {
      // Python raises socket.gaierror, an OSError subclass, with the resolver's message.
      throw OSError(std::string("[Errno ") + std::to_string(rc) + "] " + gai_strerror(rc));
    }
    auto* sin = reinterpret_cast<struct sockaddr_in*>(&out.storage);
    std::memcpy(sin, res->ai_addr, sizeof(struct sockaddr_in));
    freeaddrinfo(res);
    sin->sin_port = htons(a.port);
    out.len = sizeof(struct sockaddr_in);
    return out;
  }
  auto* sun = reinterpret_cast<struct sockaddr_un*>(&out.storage);
  sun->sun_family = AF_UNIX;
  const size_t need = a.path.size() + (a.abstract ? 1 : 0);
  if (need >= sizeof(sun->sun_path) + (a.abstract ? 1 : 0)) throw OSError("AF_UNIX path too long");
  if (a.abstract) {
    sun->sun_path[0] = '\0';
    std::memcpy(sun->sun_path + 1, a.path.data(), a.path.size());
    out.len = static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + 1 + a.path.size());
  } else {
    std::memcpy(sun->sun_path, a.path.data(), a.path.size());
    out.len = static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + a.path.size() + 1);
  }
  return out;
}

Address FromSockAddr(const struct sockaddr_storage& ss, socklen_t len) {
  if (ss.ss_family == AF_INET) {
    const auto* sin = reinterpret_cast<const struct sockaddr_in*>(&ss);
    char buf[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf);
    return Address::Inet(buf, ntohs(sin->sin_port));
  }
  const auto* sun = reinterpret_cast<const struct sockaddr_un*>(&ss);
  const size_t base = offsetof(struct sockaddr_un, sun_path);
  if (len <= base) return Address::Unix("");
  const size_t n = len - base;
  if (sun->sun_path[0] == '\0') return Address::Abstract(std::string(sun->sun_path + 1, n - 1));
  return Address::Unix(std::string(sun->sun_path, strnlen(sun->sun_path, n)));
}

std::string RandomHex(size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  unsigned char byte = 0;
  for (size_t i = 0; i < n; ++i) {
    if (i % 2 == 0) arc4random_buf(&byte, 1);
    out += kHex[(i % 2 == 0) ? (byte >> 4) : (byte & 0xf)];
  }
  return out;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) sys::Close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

}  // namespace

Address Address::Inet(std::string host, uint16_t port) {
  Address a;
  a.family = Family::kInet;
  a.host = std::move(host);
  a.port = port;
  return a;
}

Address Address::Unix(std::string path) {
  Address a;
  a.family = Family::kUnix;
  a.path = std::move(path);
  return a;
}

Address Address::Abstract(std::string name) {
  Address a = Unix(std::move(name));
  a.abstract = true;
  return a;
}

Address Address::Parse(std::string_view text) {
  if (!text.empty() && text[0] == '@') return Abstract(std::string(text.substr(1)));
  const size_t colon = text.rfind(':');
  if (colon != std::string_view::npos && text.find('/') == std::string_view::npos) {
    const std::string_view port_text = text.substr(colon + 1);
    unsigned port = 0;
    const auto [end, ec] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535 ||
        port_text.empty()) {
      throw ValueError("invalid port in address '" + std::string(text) + "'");
    }
    return Inet(std::string(text.substr(0, colon)), static_cast<uint16_t>(port));
  }
  if (text.empty()) throw ValueError("empty address");
  return Unix(std::string(text));
}

std::string Address::ToString() const {
  if (family == Family::kInet) return host + ":" + std::to_string(port);
  if (abstract) return "@" + path;
  return path;
}

Listener::Listener(std::optional<Address> address, std::optional<Family> family, int backlog,
                   std::optional<std::string> authkey, AuthOptions options)
    : authkey_(std::move(authkey)), options_(std::move(options)) {
  const Family fam = family ? *family : (address ? address->family : Family::kUnix);
  if (address && address->family != fam) {
    throw ValueError("address " + address->ToString() + " does not belong to the given family");
  }
  if (!address) {
    if (fam == Family::kInet) {
      address = Address::Inet("127.0.0.1", 0);
    } else {
      const char* tmp = getenv("TMPDIR");
      std::string templ =
          std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/mpipc-XXXXXXXX";
      if (mkdtemp(templ.data()) == nullptr) ThrowErrno();
      private_dir_ = templ;
      address = Address::Unix(private_dir_ + "/listener-" + RandomHex(8));
    }
  }
  const SockAddr sa = ToSockAddr(*address);
  Fd sock(socket(fam == Family::kInet ? AF_INET : AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (sock.get() < 0) ThrowErrno();
  const int one = 1;
  if (setsockopt(sock.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) ThrowErrno();
  if (bind(sock.get(), sa.get(), sa.len) != 0 || listen(sock.get(), backlog) != 0) {
    const int saved = errno;
    if (!private_dir_.empty()) rmdir(private_dir_.c_str());
    throw OSErrorFromErrno(saved);
  }
  if (fam == Family::kInet) {
    struct sockaddr_storage ss {};
    socklen_t len = sizeof ss;
    if (getsockname(sock.get(), reinterpret_cast<struct sockaddr*>(&ss), &len) != 0) ThrowErrno();
    address_ = FromSockAddr(ss, len);
  } else {
    address_ = *address;
  }
  fd_ = sock.release();
}

Listener::~Listener() { close(); }

Listener::Listener(Listener&& other) noexcept
    : fd_(other.fd_.exchange(-1)),
      address_(std::move(other.address_)),
      last_accepted_(std::move(other.last_accepted_)),
      authkey_(std::move(other.authkey_)),
      options_(std::move(other.options_)),
      private_dir_(std::exchange(other.private_dir_, {})) {}

Listener& Listener::operator=(Listener&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = other.fd_.exchange(-1);
    address_ = std::move(other.address_);
    last_accepted_ = std::move(other.last_accepted_);
    authkey_ = std::move(other.authkey_);
    options_ = std::move(other.options_);
    private_dir_ = std::exchange(other.private_dir_, {});
  }
  return *this;
}

int Listener::fileno() const {
  const int fd = fd_;
  if (fd < 0) throw OSError("listener is closed");
  return fd;
}

void Listener::close() noexcept {
  const int fd = fd_.exchange(-1);
  if (fd < 0) return;
  sys::Close(fd);
  if (address_.family == Family::kUnix && !address_.abstract && !address_.path.empty()) {
    unlink(address_.path.c_str());
  }
  if (!private_dir_.empty()) {
    rmdir(private_dir_.c_str());
    private_dir_.clear();
  }
}

Connection Listener::accept() {
  const int lfd = fileno();
  struct sockaddr_storage ss {};
  socklen_t len = sizeof ss;
  const int fd = sys::Accept(lfd, reinterpret_cast<struct sockaddr*>(&ss), &len, SOCK_CLOEXEC);
  if (fd < 0) ThrowErrno();
  Connection conn(fd);
  last_accepted_ = FromSockAddr(ss, len);
  if (authkey_) {
    const sys::Deadline deadline = sys::DeadlineAfter(options_.timeout);
    auth::DeliverChallenge(conn, *authkey_, options_, deadline);
    auth::AnswerChallenge(conn, *authkey_, options_, deadline);
  }
  return conn;
}

Connection Client(const Address& address, std::optional<Family> /*family*/,
                  std::optional<std::string> authkey, const AuthOptions& options) {
  const SockAddr sa = ToSockAddr(address);
  Fd sock(
      socket(address.family == Family::kInet ? AF_INET : AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (sock.get() < 0) ThrowErrno();
  if (sys::Connect(sock.get(), sa.get(), sa.len) != 0) ThrowErrno();
  Connection conn(sock.release());
  if (authkey) {
    const sys::Deadline deadline = sys::DeadlineAfter(options.timeout);
    auth::AnswerChallenge(conn, *authkey, options, deadline);
    auth::DeliverChallenge(conn, *authkey, options, deadline);
  }
  return conn;
}

}  // namespace mpipc
