// Smoke: the target answers hello and round-trips a value through a Queue between processes.
// (Clause tests live in one file per area: suite/<area>_test.cc.)
#include "fixture.h"

namespace mpipc::conformance {
namespace {

class SmokeTest : public ConformanceTest {};

CONFORMANCE_TEST(SmokeTest, QueueCarriesAValueBetweenProcesses, "Q-SAFE") {
  Ref q = Create("Queue", "q");
  Spawn("A");
  Spawn("B");
  Driver::Pending get = q.In("A").Start("get", Json::array(), {{"timeout", 30}});
  EXPECT_FALSE(get.ArrivesWithin(BlockWindow())) << "get() returned on an empty queue";
  const Json value = Tuple({1, "x", Float(2.5), Bytes(std::string("\0\1", 2)), None()});
  EXPECT_TRUE(Succeeded(q.In("B").Call("put", {value})));
  EXPECT_TRUE(Returned(Wait(get), value));
}

}  // namespace
}  // namespace mpipc::conformance
