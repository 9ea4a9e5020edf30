#include "wire_fixture.h"

namespace mpipc::conformance {

Json WireTest::CreateListener(const Json& authkey, const Json& address) {
  Json kwargs = Json::object();
  if (!authkey.is_null()) kwargs["authkey"] = authkey;
  Ref l = Create("Listener", "l", {address}, kwargs);
  ++listeners_created_;
  return l.AttrOk("address");
}

void WireTest::EnsureActor(const std::string& actor) {
  if (actor == "main" || actors_.count(actor) != 0) return;
  Spawn(actor);
  actors_[actor] = listeners_created_;
}

Driver::Pending WireTest::StartAccept(const std::string& actor, const std::string& bind) {
  EnsureActor(actor);
  if (actor != "main" && actors_[actor] != listeners_created_) {
    // An actor inherits only what main had when it was spawned.
    throw StepFailed("test bug: actor " + actor + " was spawned before Listener 'l' was created");
  }
  return At("l", actor).Start("accept", Json::array(), Json::object(), bind);
}

Driver::Pending WireTest::StartClient(const Json& address, const Json& authkey,
                                      const std::string& actor, const std::string& bind) {
  EnsureActor(actor);
  Json kwargs = Json::object();
  if (!authkey.is_null()) kwargs["authkey"] = authkey;
  return Send({{"op", "create"},
               {"actor", actor},
               {"kind", "Client"},
               {"handle", bind},
               {"args", Json::array({address})},
               {"kwargs", kwargs}});
}

Response WireTest::Finish(const Driver::Pending& p) { return Wait(p, kIo + tolerance()); }

RawPeer WireTest::PlainConnection(const std::string& bind) {
  if (listeners_created_ == 0) CreateListener(None());
  const Json address = At("l").AttrOk("address");
  Driver::Pending accept = StartAccept("main", bind);
  RawPeer peer = RawPeer::Connect(address, kIo);
  Response r = Finish(accept);
  if (!r.ok) throw StepFailed("accept() without authkey raised " + r.error.ToString());
  return peer;
}

std::string WireTest::ReadFrameOrFail(RawPeer& peer, const char* what) {
  FrameResult f = peer.ReadFrame(kIo, 1 << 20);
  if (f.status != IoStatus::kOk || f.too_long || f.length < 0) {
    throw StepFailed(std::string("expected the target's ") + what + ", got " +
                     IoStatusName(f.status) + " after header [" + Hex(f.header) + "] payload [" +
                     Hex(f.payload) + "]");
  }
  return f.payload;
}

std::string WireTest::ReadChallenge(RawPeer& peer) { return ReadFrameOrFail(peer, "challenge"); }

::testing::AssertionResult WireTest::SendsNothing(RawPeer& peer) {
  ReadResult r = peer.ReadSome(1024, kQuiet);
  if (r.status == IoStatus::kOk) {
    return ::testing::AssertionFailure() << "the target sent [" << Hex(r.data) << "]";
  }
  return ::testing::AssertionSuccess();
}

}  // namespace mpipc::conformance
