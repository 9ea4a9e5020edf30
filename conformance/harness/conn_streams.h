// conn_streams.h: helpers shared by the Pipe/Connection suite tests (suite/pipe_test.cc,
// connection_test.cc, send_recv_test.cc, eof_test.cc, poll_test.cc).
//
// - LengthHeader: the 4-byte big-endian length prefix of wire-protocol.md §2.2, so a test can
//   build raw stream bytes.
// - ExposeRawBytes ("byte surgery" through the driver protocol only): `writer` sends `raw` as
//   one message; `stripper`, one copy of the receiving end, calls recv_bytes(maxlength=0),
//   which consumes the 4-byte header and refuses the payload (CONN-RB-MAXLEN). Another copy of
//   the same end (the one an actor inherited at spawn) then finds exactly `raw` at the head of
//   the stream, as if the peer had written those bytes unframed. The stripping copy stops being
//   readable, so it must not be used for reading afterwards.
// - ConnectTcp: a loopback AF_INET connection made the way driver protocol §4.2 asks (accept()
//   in main while the Client is created in an actor).
// - DescriptorLink / FdInfoFlags: what /proc says about a descriptor of the driver's process
//   (drivers run on the suite's host; Linux only, nullopt elsewhere).
//
// Header-only (inline functions), so the harness library is unchanged. Thread-safety: like the
// fixture, used from the test thread only. Every helper goes through the fixture, so a failed
// step throws StepFailed and ends the test.
#ifndef MPIPC_CONFORMANCE_HARNESS_CONN_STREAMS_H_
#define MPIPC_CONFORMANCE_HARNESS_CONN_STREAMS_H_

#include <unistd.h>

#include <array>
#include <cstdint>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "fixture.h"

namespace mpipc::conformance::conn {

// The 4-byte big-endian length prefix for a payload of `n` bytes.
inline std::string LengthHeader(uint32_t n) {
  return std::string{static_cast<char>(n >> 24), static_cast<char>((n >> 16) & 0xff),
                     static_cast<char>((n >> 8) & 0xff), static_cast<char>(n & 0xff)};
}

// Leaves `raw` (non-empty) unframed at the head of the stream that `stripper` reads (see the
// file comment). Throws StepFailed if the send fails or recv_bytes(0) does not refuse the
// message with an OSError.
inline void ExposeRawBytes(const Ref& writer, const Ref& stripper, const std::string& raw) {
  writer.Ok("send_bytes", {Bytes(raw)});
  Response r = stripper.Call("recv_bytes", {0});
  if (r.ok || !TypeSatisfies(r.error.type, "OSError")) {
    throw StepFailed("recv_bytes(0) of a " + std::to_string(raw.size()) +
                     "-byte message should raise OSError('bad message length'), got " +
                     r.ToString());
  }
}

// A connected loopback TCP pair: `server` (accepted in main from a Listener named `listener`)
// and `client` (a Client created in `client_actor`, which this spawns after the Listener exists,
// so it also inherits the Listener). No authkey.
struct TcpPair {
  Ref server;
  Ref client;
};
inline TcpPair ConnectTcp(ConformanceTest& t, const std::string& client_actor,
                          const std::string& listener = "lst", const std::string& server = "srv",
                          const std::string& client = "cli") {
  Ref l = t.Create("Listener", listener, {InetAddress("127.0.0.1", 0)});
  const Json address = l.AttrOk("address");
  t.Spawn(client_actor);
  Driver::Pending accepted = l.Start("accept", Json::array(), Json::object(), server);
  Response c = t.TryCreate("Client", client, {address}, Json::object(), client_actor);
  if (!c.ok) throw StepFailed("create Client raised " + c.ToString());
  Response a = t.Wait(accepted);
  if (!a.ok) throw StepFailed("accept raised " + a.ToString());
  return {t.At(server), t.At(client, client_actor)};
}

// readlink(/proc/<pid>/fd/<fd>): "socket:[inode]", "pipe:[inode]", ...; nullopt if unreadable.
inline std::optional<std::string> DescriptorLink(int64_t pid, int64_t fd) {
  const std::string path = "/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd);
  std::array<char, 256> buf{};
  const ssize_t n = ::readlink(path.c_str(), buf.data(), buf.size() - 1);
  if (n <= 0) return std::nullopt;
  return std::string(buf.data(), static_cast<size_t>(n));
}

// The open-file flags (octal "flags:" line of /proc/<pid>/fdinfo/<fd>); nullopt if unreadable.
inline std::optional<int64_t> FdInfoFlags(int64_t pid, int64_t fd) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/fdinfo/" + std::to_string(fd));
  for (std::string key; in >> key;) {
    if (key == "flags:") {
      std::string octal;
      in >> octal;
      return std::stoll(octal, nullptr, 8);
    }
  }
  return std::nullopt;
}

// For an AF_UNIX socket inode: its /proc/net/unix "Type" (1 = SOCK_STREAM) and "St" (3 =
// connected) fields; nullopt if the inode is not listed there.
struct UnixSocketInfo {
  int type = 0;
  int state = 0;
};
inline std::optional<UnixSocketInfo> UnixSocketByInode(const std::string& inode) {
  std::ifstream in("/proc/net/unix");
  std::string line;
  std::getline(in, line);  // header: Num RefCount Protocol Flags Type St Inode Path
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string num, refs, proto, flags, type, st, ino;
    if (!(f >> num >> refs >> proto >> flags >> type >> st >> ino)) continue;
    if (ino == inode) {
      return UnixSocketInfo{std::stoi(type, nullptr, 16), std::stoi(st, nullptr, 16)};
    }
  }
  return std::nullopt;
}

}  // namespace mpipc::conformance::conn

#endif  // MPIPC_CONFORMANCE_HARNESS_CONN_STREAMS_H_
