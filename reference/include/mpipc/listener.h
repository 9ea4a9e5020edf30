// mpipc::Listener and mpipc::Client: Python's multiprocessing.connection.Listener/Client
// (semantics.md §1.M–1.O), wire-compatible with CPython peers, authkey handshake included.
//
// Addresses (Address::Parse and the `mpipc` command use the same text forms):
//   "HOST:PORT"  AF_INET (TCP, IPv4). Port 0 binds an ephemeral port; address() reports it.
//   "@NAME"      AF_UNIX in the Linux abstract namespace (Python: '\0NAME'); no file, no unlink.
//   anything else  an AF_UNIX socket path.
// With no address, a Listener binds 127.0.0.1:0 for kInet, or a fresh path in a private
// temporary directory for kUnix (the default family, L-FAMILY, L-DEFAULT-ADDR); the directory is
// removed by close().
//
// Authentication (handshake.h): with an authkey (an empty key included, L-AUTH-ENABLE as in
// CPython 3.13), accept() challenges first and then answers; Client() does the mirror image. A
// failed handshake raises from accept()/Client() (AuthenticationError, OSError, EOFError), the
// half-open connection is closed, and the Listener stays usable (L-AUTH-FAIL). Without an authkey
// there is no handshake (AUTH-NO-DEFAULT-KEY). AuthOptions::timeout bounds the handshake.
//
// Differences from CPython, each in spec/deviations.md: address() and last_accepted() keep
// answering after close() (CPython raises AttributeError); a family that contradicts the address
// raises ValueError (CPython TypeError); IPv4 only, as CPython's AF_INET.
//
// Thread-safety: a Listener is not safe for concurrent accept() from several threads. close()
// may be called from another thread while one is blocked in accept() (the descriptor is held
// atomically); it does not wake that accept() (L-CLOSE). Blocking: accept()
// blocks until a client connects, then for the handshake; Client() blocks in connect and the
// handshake. Lifetimes: Listener and the Connections it returns are independent.

#ifndef MPIPC_LISTENER_H_
#define MPIPC_LISTENER_H_

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mpipc/connection.h"
#include "mpipc/handshake.h"

namespace mpipc {

enum class Family { kInet, kUnix };

struct Address {
  Family family = Family::kUnix;
  std::string host;   // kInet: a dotted quad or a name resolved with getaddrinfo
  uint16_t port = 0;  // kInet
  std::string path;   // kUnix: a filesystem path, or the abstract name without its NUL
  bool abstract = false;

  static Address Inet(std::string host, uint16_t port);
  static Address Unix(std::string path);
  static Address Abstract(std::string name);
  // Parses the text forms above; throws ValueError for a malformed HOST:PORT.
  static Address Parse(std::string_view text);
  // The text form: "127.0.0.1:5000", "/tmp/x.sock", "@name". An unnamed peer (last_accepted of an
  // AF_UNIX listener) is "".
  std::string ToString() const;
  bool operator==(const Address&) const = default;
};

class Listener {
 public:
  static constexpr int kDefaultBacklog = 1;

  // Binds and listens. family defaults to the address's, or to kUnix without an address.
  // authkey nullopt: no authentication. Bind errors are OSError with errno (EADDRINUSE, ...).
  explicit Listener(std::optional<Address> address = std::nullopt,
                    std::optional<Family> family = std::nullopt, int backlog = kDefaultBacklog,
                    std::optional<std::string> authkey = std::nullopt, AuthOptions options = {});
  ~Listener();
  Listener(Listener&& other) noexcept;
  Listener& operator=(Listener&& other) noexcept;
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Accepts one connection, then authenticates it if there is an authkey. After close():
  // OSError('listener is closed').
  Connection accept();
  // Idempotent; unlinks the socket file of a path listener (and its private directory).
  void close() noexcept;
  bool closed() const noexcept { return fd_ < 0; }
  // The bound address: the resolved IP and port for kInet.
  const Address& address() const noexcept { return address_; }
  // The peer of the last accepted connection: nullopt before the first; for AF_UNIX an unnamed
  // address whose ToString() is "" (L-LAST-ACCEPTED).
  const std::optional<Address>& last_accepted() const noexcept { return last_accepted_; }
  int fileno() const;

 private:
  std::atomic<int> fd_{-1};  // atomic: close() may race a blocked accept() (L-CLOSE)
  Address address_;
  std::optional<Address> last_accepted_;
  std::optional<std::string> authkey_;
  AuthOptions options_;
  std::string private_dir_;  // removed on close() when we created it for a default address
};

// Connects to a Listener and authenticates when authkey is given. Connect errors are OSError with
// errno (FileNotFoundError, ConnectionRefusedError, ...). `family` is ignored in favour of the
// address's own, as CPython does (CL-FAMILY).
Connection Client(const Address& address, std::optional<Family> family = std::nullopt,
                  std::optional<std::string> authkey = std::nullopt,
                  const AuthOptions& options = {});

}  // namespace mpipc

#endif  // MPIPC_LISTENER_H_
