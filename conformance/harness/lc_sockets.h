// lc_sockets.h: helpers shared by the Listener and Client suite tests (suite/lc_*_test.cc).
//
// SocketTest is a ConformanceTest that hands out AF_UNIX paths and abstract names unique to this
// suite process (two targets run at once, each in its own suite process, so the pid is part of
// every name) and removes any path it handed out when the test ends, whatever the target left
// behind. The free functions observe the machine the driver runs on (file existence, socket
// files, /proc/net/unix), read address values, and start the Listener/Client pairing of driver
// protocol §4.2: accept() in one actor, Client() created while it waits.
//
// Header-only, so adding it changes nothing in the harness library. Thread-safety: like the
// fixture, used from the test thread only. The suite observes the filesystem directly because
// drivers run on the same host; nothing here calls an implementation.
#ifndef MPIPC_CONFORMANCE_HARNESS_LC_SOCKETS_H_
#define MPIPC_CONFORMANCE_HARNESS_LC_SOCKETS_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "fixture.h"

namespace mpipc::conformance::lc {

// lstat(path) succeeded.
inline bool PathExists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// path names a socket file.
inline bool IsSocketFile(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

// The permission bits of a directory, or nullopt if path is not a directory.
inline std::optional<unsigned> DirectoryMode(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return std::nullopt;
  return static_cast<unsigned>(st.st_mode & 07777);
}

inline std::string ParentDirectory(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return "/";
  return path.substr(0, slash);
}

// True if /proc/net/unix lists a listening socket bound to the abstract name `name` (without
// its leading NUL; the kernel prints it as "@name"). Accepted connections show the listener's
// name too, so only entries flagged __SO_ACCEPTCON (00010000) count.
inline bool AbstractNameBound(const std::string& name) {
  std::ifstream in("/proc/net/unix");
  const std::string wanted = "@" + name;
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string num, refs, protocol, flags, type, state, inode, path;
    if (!(fields >> num >> refs >> protocol >> flags >> type >> state >> inode >> path)) continue;
    if (path == wanted && flags == "00010000") return true;
  }
  return false;
}

// Leaves a stale AF_UNIX socket file at `path`: binds a socket there and closes it without
// unlinking (what a killed server leaves behind). Returns false if that failed.
inline bool MakeStaleSocketFile(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.size() >= sizeof(sa.sun_path)) {
    ::close(fd);
    return false;
  }
  std::memcpy(sa.sun_path, path.data(), path.size());
  const bool ok = ::bind(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof(sa)) == 0;
  ::close(fd);
  return ok && IsSocketFile(path);
}

// A TCP port on 127.0.0.1 that refuses connections for as long as the returned descriptor is
// open: the socket is bound (so nobody else can take the port) but not listening. Returns
// {fd, port}, or {-1, 0} on failure; the caller closes fd.
inline std::pair<int, int> BoundButNotListeningPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return {-1, 0};
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(sa);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof(sa)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    ::close(fd);
    return {-1, 0};
  }
  return {fd, ntohs(sa.sin_port)};
}

// (host, port) of an AF_INET address value {"$tuple": [host, port]}, or nullopt for any other
// value.
inline std::optional<std::pair<std::string, int>> InetParts(const Json& v) {
  if (!v.is_object() || !v.contains("$tuple")) return std::nullopt;
  const Json& t = v["$tuple"];
  if (!t.is_array() || t.size() != 2 || !t[0].is_string() || !t[1].is_number_integer()) {
    return std::nullopt;
  }
  return std::make_pair(t[0].get<std::string>(), t[1].get<int>());
}

class SocketTest : public ConformanceTest {
 public:
  // A filesystem path for an AF_UNIX socket, unique to this suite process and this call; it does
  // not exist yet and is unlinked after the test.
  std::string SocketPath(const std::string& tag) {
    std::string p = "/tmp/lc-" + Stem(tag) + ".sock";
    ::unlink(p.c_str());
    paths_.push_back(p);
    return p;
  }
  // An abstract name (without the leading NUL), unique like SocketPath.
  std::string AbstractName(const std::string& tag) { return "lc-" + Stem(tag); }

  // {"authkey": b"<key>"} for Listener/Client kwargs.
  static Json Authkey(const std::string& key) { return {{"authkey", Bytes(key)}}; }

  // The AF_INET address value that binds an ephemeral port on the loopback.
  static Json AnyLoopback() { return InetAddress("127.0.0.1", 0); }

  // Starts l.accept() in `actor`, binding the accepted Connection to `bind` there, and then
  // creates Client(address, **client_kwargs) as `client` in `client_actor` (which blocks in
  // connect and the handshake while the accept runs). Returns the pending accept and the
  // response of the Client creation; the caller waits for the accept when it expects it to end.
  std::pair<Driver::Pending, Response> AcceptAndConnect(const Ref& l, const std::string& actor,
                                                        const std::string& bind,
                                                        const Json& address,
                                                        const std::string& client_actor,
                                                        const std::string& client,
                                                        Json client_kwargs = Json::object()) {
    Driver::Pending accept = l.In(actor).Start("accept", Json::array(), Json::object(), bind);
    Response c =
        TryCreate("Client", client, Json::array({address}), std::move(client_kwargs), client_actor);
    return {accept, c};
  }

  // Starts Client(address, **kwargs) as `handle` in `actor` without waiting (for connects and
  // handshakes that are expected to block).
  Driver::Pending StartClient(const std::string& actor, const std::string& handle,
                              const Json& address, Json kwargs = Json::object()) {
    return Send({{"op", "create"},
                 {"actor", actor},
                 {"kind", "Client"},
                 {"handle", handle},
                 {"args", Json::array({address})},
                 {"kwargs", std::move(kwargs)}});
  }

  // AcceptAndConnect that must succeed on both sides: returns (server end in `actor`, client
  // end in `client_actor`), or throws StepFailed.
  std::pair<Ref, Ref> Connect(const Ref& l, const std::string& actor, const std::string& bind,
                              const Json& address, const std::string& client_actor,
                              const std::string& client, Json client_kwargs = Json::object()) {
    auto [accept, c] =
        AcceptAndConnect(l, actor, bind, address, client_actor, client, std::move(client_kwargs));
    if (!c.ok) {
      throw StepFailed("Client(" + address.dump() + ") in " + client_actor + " raised " +
                       c.error.ToString());
    }
    const Response s = Wait(accept);
    if (!s.ok) throw StepFailed("accept() in " + actor + " raised " + s.error.ToString());
    return {At(bind, actor), At(client, client_actor)};
  }

  // Sends `payload` from `from` and checks it arrives intact at `to` (both Connections).
  ::testing::AssertionResult Carries(const Ref& from, const Ref& to, const std::string& payload) {
    const Response sent = from.Call("send_bytes", {Bytes(payload)});
    if (!sent.ok) {
      return ::testing::AssertionFailure() << "send_bytes raised " << sent.error.ToString();
    }
    return Returned(to.Call("recv_bytes"), Bytes(payload));
  }

 protected:
  void TearDown() override {
    ConformanceTest::TearDown();
    for (const auto& p : paths_) ::unlink(p.c_str());
    paths_.clear();
  }

 private:
  std::string Stem(const std::string& tag) {
    static int counter = 0;
    return std::to_string(seed()) + "-" + std::to_string(::getpid()) + "-" +
           std::to_string(++counter) + "-" + tag;
  }

  std::vector<std::string> paths_;
};

}  // namespace mpipc::conformance::lc

#endif  // MPIPC_CONFORMANCE_HARNESS_LC_SOCKETS_H_
