// Unit tests of the driver client against small fake drivers (shell + python one-liners): answers
// out of order, silence (timeout), death (crash), garbage on stdout.
#include "driver.h"

#include <gtest/gtest.h>

namespace mpipc::conformance {
namespace {

// A fake driver: a Python program reading JSON lines and answering per `body` (a function
// `answer(req) -> list of (delay, line)` is too much; we script behaviours by op name).
std::vector<std::string> Fake(const std::string& body) {
  return {"python3", "-c",
          "import json,sys,time\n"
          "for line in sys.stdin:\n"
          "    req = json.loads(line)\n"
          "    op = req['op']\n"
          "    if op == 'shutdown':\n"
          "        print(json.dumps({'id': req['id'], 'ok': True, 'result': {}}), flush=True)\n"
          "        break\n" +
              body};
}

TEST(Driver, MatchesResponsesToRequestsByIdInAnyOrder) {
  // 'slow' is answered only when 'fast' arrives, after fast's own answer.
  Driver d(
      Fake("    if op == 'slow': held = req\n"
           "    elif op == 'fast':\n"
           "        print(json.dumps({'id': req['id'], 'ok': True, 'result': 2}), flush=True)\n"
           "        print(json.dumps({'id': held['id'], 'ok': True, 'result': 1}), "
           "flush=True)\n"),
      "");
  auto slow = d.Send({{"op", "slow"}});
  EXPECT_FALSE(slow.ArrivesWithin(0.05));
  Response fast = d.Request({{"op", "fast"}}, 10);
  EXPECT_TRUE(fast.ok);
  EXPECT_EQ(fast.result, 2);
  Response r = slow.Wait(10);
  EXPECT_EQ(r.result, 1);
}

TEST(Driver, ErrorsAreParsed) {
  Driver d(Fake("    print(json.dumps({'id': req['id'], 'ok': False, 'error': {'type': "
                "'BrokenPipeError', 'message': 'Broken pipe', 'errno': 32, 'args': [32, "
                "'Broken pipe']}}), flush=True)\n"),
           "");
  Response r = d.Request({{"op", "x"}}, 10);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error.type, "BrokenPipeError");
  EXPECT_EQ(r.error.message, "Broken pipe");
  EXPECT_EQ(r.error.errno_value, 32);
  EXPECT_EQ(r.error.ToString(), "BrokenPipeError: Broken pipe [errno 32]");
}

TEST(Driver, SilenceIsATimeoutNotAHang) {
  Driver d(Fake("    pass\n"), "");
  EXPECT_THROW(d.Request({{"op", "x"}}, 0.2), DriverTimeout);
  EXPECT_TRUE(d.alive());
}

TEST(Driver, DeathIsACrash) {
  Driver d(Fake("    sys.exit(3)\n"), "");
  try {
    d.Request({{"op", "x"}}, 10);
    FAIL() << "no exception";
  } catch (const DriverCrashed& e) {
    EXPECT_NE(std::string(e.what()).find("status 3"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(d.alive());
  EXPECT_THROW(d.Request({{"op", "x"}}, 10), DriverCrashed);
}

TEST(Driver, NonProtocolOutputIsACrash) {
  Driver d(Fake("    print('hello there', flush=True)\n"), "");
  EXPECT_THROW(d.Request({{"op", "x"}}, 10), DriverCrashed);
  EXPECT_NE(d.death_reason().find("hello there"), std::string::npos);
}

TEST(Driver, EventsAreRecorded) {
  Driver d(Fake("    print(json.dumps({'event': 'actor_exited', 'actor': 'A', 'exitcode': -9}))\n"
                "    print(json.dumps({'id': req['id'], 'ok': True, 'result': None}), "
                "flush=True)\n"),
           "");
  EXPECT_TRUE(d.Request({{"op", "x"}}, 10).ok);
  EXPECT_EQ(d.ActorExitcode("A"), -9);
  EXPECT_EQ(d.ActorExitcode("B"), std::nullopt);
}

TEST(Driver, MissingProgramIsACrash) {
  Driver d({"/nonexistent/driver"}, "");
  EXPECT_THROW(d.Request({{"op", "hello"}}, 10), DriverCrashed);
}

}  // namespace
}  // namespace mpipc::conformance
