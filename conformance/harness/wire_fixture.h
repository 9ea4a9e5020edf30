// WireTest: the fixture of the wire-level suite files (suite/wire_*_test.cc). The target's
// Listener or Client sits on one side of a socket and a RawPeer (raw_peer.h), played by the suite,
// on the other, so tests can put hand-made bytes on the wire and read back exactly what the
// target writes.
//
// Every wait is bounded: raw reads take kIo (or a short quiet window), target responses are
// waited for kIo + tolerance(); a target that stalls makes the test fail or time out, never hang.
// A RawPeer going out of scope closes its socket, which unblocks a target still reading from it.
//
// Thread-safety: like ConformanceTest, used from the test thread only. Objects live for one test
// (close_all after it).
#ifndef MPIPC_CONFORMANCE_HARNESS_WIRE_FIXTURE_H_
#define MPIPC_CONFORMANCE_HARNESS_WIRE_FIXTURE_H_

#include <map>
#include <string>
#include <string_view>

#include "fixture.h"
#include "raw_peer.h"

namespace mpipc::conformance {

class WireTest : public ConformanceTest {
 protected:
  // Seconds for a read the target should answer promptly (only reached when it does not).
  static constexpr double kIo = 10.0;
  // Seconds during which a target that must stay silent is watched.
  static constexpr double kQuiet = 0.15;

  // Creates Listener "l" in main on `address` (default 127.0.0.1, ephemeral port) with `authkey`
  // (a $bytes value, or None for no authentication); returns its `address` getattr.
  Json CreateListener(const Json& authkey, const Json& address = InetAddress("127.0.0.1", 0));
  // Starts l.accept() in `actor` (spawned on first use, so after the Listener exists; main runs
  // it on a driver thread), the connection bound to `bind` there. By convention the target's
  // Listener side runs in actor "S" and its Client side in actor "A".
  Driver::Pending StartAccept(const std::string& actor = "S", const std::string& bind = "c");
  // Starts Client(address, authkey=authkey) in `actor` (spawned on first use), bound to `bind`.
  Driver::Pending StartClient(const Json& address, const Json& authkey,
                              const std::string& actor = "A", const std::string& bind = "c");
  // Waits kIo + tolerance() for a response.
  Response Finish(const Driver::Pending& p);
  // A connection without authentication: target connection `bind` in main (accepted from Listener
  // "l", created on first use) and the raw peer at its other end.
  RawPeer PlainConnection(const std::string& bind = "c");
  // Spawns `actor` unless this test already did.
  void EnsureActor(const std::string& actor);
  // Whether the target speaks the legacy (CPython <= 3.11) handshake: a Python target below 3.12.
  bool LegacyHandshake() { return IsPython() && PythonBelow("3.12"); }

  // Connects a raw peer to the listener address and reads the target's first frame (its
  // challenge, when it has a key). Fails the test step (StepFailed) when nothing arrives.
  std::string ReadChallenge(RawPeer& peer);
  // Reads one frame that must arrive within kIo; StepFailed otherwise.
  std::string ReadFrameOrFail(RawPeer& peer, const char* what);
  // True when the target sends no byte within kQuiet (a timeout or a clean end both count).
  ::testing::AssertionResult SendsNothing(RawPeer& peer);

 private:
  // Actor -> how many Listeners main had created when it was spawned.
  std::map<std::string, int> actors_;
  int listeners_created_ = 0;
};

}  // namespace mpipc::conformance

#endif  // MPIPC_CONFORMANCE_HARNESS_WIRE_FIXTURE_H_
