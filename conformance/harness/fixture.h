// ConformanceTest: the GoogleTest fixture every suite test derives from, and the vocabulary
// tests are written in. A test names the clauses it checks (CONFORMANCE_TEST's third argument);
// the runner turns each test's outcome into a result for each of those clauses.
//
//   CONFORMANCE_TEST(QueueTest, GetTimeoutRaisesEmpty, "Q-GET-TO Q-EXC") {
//     Ref q = Create("Queue", "q");
//     Response r = q.Call("get", {}, {{"timeout", 0.1}});
//     EXPECT_TRUE(Raises(r, "Q-GET-TO"));
//   }
//
// Requests go to the target through CurrentSession()'s driver. Helpers that must succeed
// (Create, Spawn, Ok) throw StepFailed on an unexpected error, which fails the test with the
// driver's error. An `Unsupported` answer ends the test as SKIP; a request the driver does not
// answer within the session limit ends it as TIMEOUT; a driver that dies ends it as CRASH.
// Everything a test creates is dropped by `close_all` after it.
//
// Thread-safety: a test body runs on one thread; Pending handles may be waited on from it.
#ifndef MPIPC_CONFORMANCE_HARNESS_FIXTURE_H_
#define MPIPC_CONFORMANCE_HARNESS_FIXTURE_H_

#include <gtest/gtest.h>

#include <initializer_list>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "catalogue.h"
#include "driver.h"
#include "session.h"
#include "values.h"

namespace mpipc::conformance {

// A required step of a test failed (its message says which request and what came back).
class StepFailed : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The driver answered Unsupported: the test becomes SKIP with this reason.
class UnsupportedByTarget : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Outcome of one test, as the runner reports it.
enum class Outcome { kPass, kFail, kSkip, kTimeout, kCrash };
const char* OutcomeName(Outcome o);

// ---- Test registry: which clauses each test checks (static, readable without running). ----
struct RegisteredTest {
  std::string name;  // "Suite.Test", as GoogleTest names it
  std::vector<std::string> clauses;
  std::string file;
  int line = 0;
};
bool RegisterConformanceTest(const char* suite, const char* test, const char* clauses,
                             const char* file, int line);
const std::vector<RegisteredTest>& RegisteredTests();
const RegisteredTest* FindRegisteredTest(const std::string& name);

// Why `clause` does not apply to the current target (Windows-only, Python version range), or
// nullopt if it applies.
std::optional<std::string> ClauseNotApplicable(const Clause& clause);

class ConformanceTest;

// The positional arguments of a call: `{}`, `{a}` and `{a, b}` are lists with every compiler; a
// Json passed as is must already be the list. (A plain Json parameter initialised from `{x}`,
// x itself a Json, is the list [x] under GCC but a copy of x under Clang: the CWG 2137 rule for
// a braced list of one element of the parameter's own type.)
class Args {
 public:
  Args() = default;
  Args(std::initializer_list<Json> items) {
    for (const Json& item : items) list_.push_back(item);
  }
  Args(Json list) : list_(std::move(list)) {}  // NOLINT(google-explicit-constructor)
  Json Take() && { return std::move(list_); }

 private:
  Json list_ = Json::array();
};

// A named object in one actor.
class Ref {
 public:
  Ref(ConformanceTest* test, std::string actor, std::string name)
      : test_(test), actor_(std::move(actor)), name_(std::move(name)) {}
  // The same name in another actor (objects created before a spawn are inherited).
  Ref In(const std::string& actor) const { return Ref(test_, actor, name_); }
  const std::string& name() const { return name_; }
  const std::string& actor() const { return actor_; }

  // target.method(*args, **kwargs); waits for the response.
  Response Call(const std::string& method, Args args = {}, Json kwargs = Json::object()) const;
  // Starts the call and returns at once (for calls that block).
  Driver::Pending Start(const std::string& method, Args args = {}, Json kwargs = Json::object(),
                        const std::string& bind = "") const;
  // Like Call, but the call must succeed: returns the result or throws StepFailed.
  Json Ok(const std::string& method, Args args = {}, Json kwargs = Json::object()) const;
  // Call with `bind`: the result is stored under `bind` in this actor.
  Response CallBind(const std::string& method, const std::string& bind, Args args = {},
                    Json kwargs = Json::object()) const;
  Response Attr(const std::string& attribute) const;
  Json AttrOk(const std::string& attribute) const;
  // This object as an argument value.
  Json handle() const { return Handle(name_); }

 private:
  ConformanceTest* test_;
  std::string actor_;
  std::string name_;
};

class ConformanceTest : public ::testing::Test {
 public:
  Session& session() { return CurrentSession(); }
  Driver& driver() { return session().driver(); }

  // Sends a request and waits (session limit); maps Unsupported/timeout/crash as described.
  Response Request(Json request);
  Driver::Pending Send(Json request);
  // Waits for a pending request (limit: session limit unless given).
  Response Wait(const Driver::Pending& p, double timeout_seconds = -1);

  // create; throws StepFailed unless it succeeds.
  Ref Create(const std::string& kind, const std::string& handle, Args args = {},
             Json kwargs = Json::object(), const std::string& actor = "main");
  // create, returning the response (for constructor clauses).
  Response TryCreate(const std::string& kind, const Json& handle, Args args = {},
                     Json kwargs = Json::object(), const std::string& actor = "main");
  // A Pipe(duplex) as two refs (conn1, conn2).
  std::pair<Ref, Ref> CreatePipe(const std::string& name1, const std::string& name2,
                                 std::optional<bool> duplex = std::nullopt,
                                 const std::string& actor = "main");
  Ref At(const std::string& name, const std::string& actor = "main") {
    return Ref(this, actor, name);
  }
  // spawn: a child process of main that inherits every object main has now.
  void Spawn(const std::string& actor);
  // SIGKILL an actor; returns its exitcode (-9).
  int Kill(const std::string& actor);
  // exit: a normal process exit of the actor; returns the exitcode or nullopt after timeout.
  std::optional<int> Exit(const std::string& actor, int exitcode = 0, double timeout = -1);
  // wait([handles], timeout) in an actor: the names that are ready.
  Response WaitReady(const std::vector<std::string>& handles, const Json& timeout,
                     const std::string& actor = "main");
  // apply a $function value directly, or a bound callable.
  Response ApplyFunction(const Json& function, Args args, const std::string& actor = "main");
  Response ApplyBound(const std::string& target, Args args, const std::string& actor = "main");

  // ---- Knobs ----
  double tolerance() { return session().tolerance(); }
  // How long to watch a call that should stay blocked before concluding it blocks.
  double BlockWindow() { return 0.25; }
  uint64_t seed() { return session().seed(); }
  bool IsPython() { return session().language() == "python"; }
  // Python language version >= / < "3.12" (false for non-Python targets).
  bool PythonAtLeast(const std::string& version);
  bool PythonBelow(const std::string& version);
  // Whether hello lists `kind` / `family`.
  bool HasKind(const std::string& kind);
  bool HasFamily(const std::string& family);

  // Marks the running test as ending in SKIP (used when the test finds it cannot apply).
  static void MarkSkip(const std::string& reason);
  // The outcome the fixture forced for the running test (timeouts, crashes, Unsupported).
  static std::optional<std::pair<Outcome, std::string>> TakeForcedOutcome();

 protected:
  void SetUp() override;
  void TearDown() override;
};

// ---- Assertions on responses ----
// The call succeeded.
::testing::AssertionResult Succeeded(const Response& r);
// The call succeeded with exactly this value.
::testing::AssertionResult Returned(const Response& r, const Json& expected);
// The call raised what clause `id` says (its exception type, subclasses of OSError accepted for
// OSError, and message per the clause's message_match).
::testing::AssertionResult Raises(const Response& r, const std::string& clause_id);
// The call raised one of these canonical types (OSError accepts its subclasses).
::testing::AssertionResult RaisesType(const Response& r, std::initializer_list<const char*> types);
// True if canonical type `actual` satisfies `expected` (OSError's family, PicklingError's).
bool TypeSatisfies(const std::string& actual, const std::string& expected);
// Message check as a clause's message_match does it.
bool MessageMatches(const std::optional<std::string>& actual, const ClauseException& expected);

}  // namespace mpipc::conformance

#define MPIPC_CONF_CAT_(a, b) a##b
#define MPIPC_CONF_CAT(a, b) MPIPC_CONF_CAT_(a, b)

// CONFORMANCE_TEST(Suite, Name, "CLAUSE-ID OTHER-ID") { body } — Suite must be a class derived
// from mpipc::conformance::ConformanceTest (declare `class Suite : public ConformanceTest {};`).
#define CONFORMANCE_TEST(suite, name, clauses)                                                   \
  static const bool MPIPC_CONF_CAT(kRegistered_##suite##_##name, __LINE__) =                     \
      ::mpipc::conformance::RegisterConformanceTest(#suite, #name, clauses, __FILE__, __LINE__); \
  TEST_F(suite, name)

#endif  // MPIPC_CONFORMANCE_HARNESS_FIXTURE_H_
