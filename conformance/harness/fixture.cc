#include "fixture.h"

#include <regex>
#include <sstream>

namespace mpipc::conformance {

namespace {

std::vector<RegisteredTest>& Registry() {
  static std::vector<RegisteredTest> tests;
  return tests;
}

// The forced outcome of the running test (one test runs at a time in a suite process).
std::optional<std::pair<Outcome, std::string>>& Forced() {
  static std::optional<std::pair<Outcome, std::string>> forced;
  return forced;
}

void Force(Outcome o, const std::string& why) {
  // The first cause wins: a crash after a timeout is still a timeout's consequence.
  if (!Forced()) Forced() = std::make_pair(o, why);
}

std::string Describe(const Json& request) {
  std::string s = request.value("op", std::string("?"));
  if (request.contains("method")) s += " " + request["method"].get<std::string>();
  if (request.contains("target")) s += " on " + request["target"].dump();
  if (request.contains("actor")) s += " in " + request["actor"].get<std::string>();
  return s;
}

const std::vector<std::string>& OsErrorFamily() {
  static const std::vector<std::string> family = {
      "OSError",           "BrokenPipeError",        "ConnectionResetError",
      "ConnectionError",   "ConnectionRefusedError", "ConnectionAbortedError",
      "FileNotFoundError", "FileExistsError",        "PermissionError",
      "TimeoutError",      "BlockingIOError",        "InterruptedError",
      "IsADirectoryError", "NotADirectoryError",     "ChildProcessError",
      "ProcessLookupError"};
  return family;
}

}  // namespace

const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kPass:
      return "PASS";
    case Outcome::kFail:
      return "FAIL";
    case Outcome::kSkip:
      return "SKIP";
    case Outcome::kTimeout:
      return "TIMEOUT";
    case Outcome::kCrash:
      return "CRASH";
  }
  return "?";
}

bool RegisterConformanceTest(const char* suite, const char* test, const char* clauses,
                             const char* file, int line) {
  RegisteredTest t;
  t.name = std::string(suite) + "." + test;
  std::istringstream in(clauses);
  for (std::string id; in >> id;) t.clauses.push_back(id);
  t.file = file;
  t.line = line;
  Registry().push_back(std::move(t));
  return true;
}

const std::vector<RegisteredTest>& RegisteredTests() { return Registry(); }

const RegisteredTest* FindRegisteredTest(const std::string& name) {
  for (const auto& t : Registry()) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

std::optional<std::string> ClauseNotApplicable(const Clause& clause) {
  if (clause.platform == "windows") return "Windows-only clause";
  Session& s = CurrentSession();
  if (s.language() != "python") return std::nullopt;
  const std::string v = s.language_version();
  if (!clause.min_version.empty() && CompareVersions(v, clause.min_version) < 0) {
    return "holds for Python >= " + clause.min_version + " (target runs " + v + ")";
  }
  if (!clause.max_version.empty() && CompareVersions(v, clause.max_version) > 0) {
    return "holds for Python <= " + clause.max_version + " (target runs " + v + ")";
  }
  return std::nullopt;
}

// ---- Ref ----

Response Ref::Call(const std::string& method, Args args, Json kwargs) const {
  return test_->Wait(Start(method, std::move(args), std::move(kwargs)));
}

Driver::Pending Ref::Start(const std::string& method, Args args, Json kwargs,
                           const std::string& bind) const {
  Json req{{"op", "call"},
           {"actor", actor_},
           {"target", name_},
           {"method", method},
           {"args", std::move(args).Take()},
           {"kwargs", std::move(kwargs)}};
  if (!bind.empty()) req["bind"] = bind;
  return test_->Send(std::move(req));
}

Json Ref::Ok(const std::string& method, Args args, Json kwargs) const {
  Response r = Call(method, std::move(args), std::move(kwargs));
  if (!r.ok) {
    throw StepFailed(name_ + "." + method + "() in " + actor_ + " raised " + r.error.ToString());
  }
  return r.result;
}

Response Ref::CallBind(const std::string& method, const std::string& bind, Args args,
                       Json kwargs) const {
  return test_->Wait(Start(method, std::move(args), std::move(kwargs), bind));
}

Response Ref::Attr(const std::string& attribute) const {
  return test_->Request(
      {{"op", "getattr"}, {"actor", actor_}, {"target", name_}, {"name", attribute}});
}

Json Ref::AttrOk(const std::string& attribute) const {
  Response r = Attr(attribute);
  if (!r.ok) {
    throw StepFailed(name_ + "." + attribute + " in " + actor_ + " raised " + r.error.ToString());
  }
  return r.result;
}

// ---- ConformanceTest ----

Driver::Pending ConformanceTest::Send(Json request) {
  // A test's `{}` for args or kwargs reaches us as null: the protocol wants [] and {}.
  if (auto it = request.find("args"); it != request.end() && it->is_null()) *it = Json::array();
  if (auto it = request.find("kwargs"); it != request.end() && it->is_null()) {
    *it = Json::object();
  }
  try {
    return driver().Send(std::move(request));
  } catch (const DriverCrashed& e) {
    Force(Outcome::kCrash, e.what());
    throw;
  }
}

Response ConformanceTest::Wait(const Driver::Pending& p, double timeout_seconds) {
  const double limit = timeout_seconds >= 0 ? timeout_seconds : session().limit();
  Response r;
  try {
    r = p.Wait(limit);
  } catch (const DriverTimeout& e) {
    Force(Outcome::kTimeout, e.what());
    throw;
  } catch (const DriverCrashed& e) {
    Force(Outcome::kCrash, e.what());
    throw;
  }
  if (!r.ok && r.error.type == "Unsupported") {
    const std::string why = r.error.message.value_or("unsupported");
    Force(Outcome::kSkip, "unsupported by the target: " + why);
    throw UnsupportedByTarget(why);
  }
  if (!r.ok && r.error.type == "ProtocolError") {
    throw StepFailed("driver answered ProtocolError: " + r.error.message.value_or(""));
  }
  return r;
}

Response ConformanceTest::Request(Json request) {
  const std::string what = Describe(request);
  try {
    return Wait(Send(std::move(request)));
  } catch (const DriverTimeout& e) {
    throw DriverTimeout(what + ": " + e.what());
  }
}

Response ConformanceTest::TryCreate(const std::string& kind, const Json& handle, Args args,
                                    Json kwargs, const std::string& actor) {
  return Request({{"op", "create"},
                  {"actor", actor},
                  {"kind", kind},
                  {"handle", handle},
                  {"args", std::move(args).Take()},
                  {"kwargs", std::move(kwargs)}});
}

Ref ConformanceTest::Create(const std::string& kind, const std::string& handle, Args args,
                            Json kwargs, const std::string& actor) {
  Response r = TryCreate(kind, handle, std::move(args), std::move(kwargs), actor);
  if (!r.ok) throw StepFailed("create " + kind + " '" + handle + "' raised " + r.error.ToString());
  return Ref(this, actor, handle);
}

std::pair<Ref, Ref> ConformanceTest::CreatePipe(const std::string& name1, const std::string& name2,
                                                std::optional<bool> duplex,
                                                const std::string& actor) {
  Json kwargs = Json::object();
  if (duplex) kwargs["duplex"] = *duplex;
  Response r = TryCreate("Pipe", Json::array({name1, name2}), Json::array(), kwargs, actor);
  if (!r.ok) throw StepFailed("create Pipe raised " + r.error.ToString());
  return {Ref(this, actor, name1), Ref(this, actor, name2)};
}

void ConformanceTest::Spawn(const std::string& actor) {
  Response r = Request({{"op", "spawn"}, {"actor", actor}});
  if (!r.ok) throw StepFailed("spawn " + actor + " raised " + r.error.ToString());
}

int ConformanceTest::Kill(const std::string& actor) {
  Response r = Request({{"op", "kill"}, {"actor", actor}});
  if (!r.ok) throw StepFailed("kill " + actor + " raised " + r.error.ToString());
  return r.result.value("exitcode", 0);
}

std::optional<int> ConformanceTest::Exit(const std::string& actor, int exitcode, double timeout) {
  Json req{{"op", "exit"}, {"actor", actor}, {"exitcode", exitcode}};
  req["timeout"] = timeout >= 0 ? Json(timeout) : Json(session().limit() / 2);
  Response r = Request(std::move(req));
  if (!r.ok) throw StepFailed("exit " + actor + " raised " + r.error.ToString());
  const Json& code = r.result["exitcode"];
  if (code.is_null()) return std::nullopt;
  return code.get<int>();
}

Response ConformanceTest::WaitReady(const std::vector<std::string>& handles, const Json& timeout,
                                    const std::string& actor) {
  return Request({{"op", "wait"}, {"actor", actor}, {"handles", handles}, {"timeout", timeout}});
}

Response ConformanceTest::ApplyFunction(const Json& function, Args args, const std::string& actor) {
  return Request({{"op", "apply"},
                  {"actor", actor},
                  {"function", function},
                  {"args", std::move(args).Take()}});
}

Response ConformanceTest::ApplyBound(const std::string& target, Args args,
                                     const std::string& actor) {
  return Request(
      {{"op", "apply"}, {"actor", actor}, {"target", target}, {"args", std::move(args).Take()}});
}

bool ConformanceTest::PythonAtLeast(const std::string& version) {
  return IsPython() && CompareVersions(session().language_version(), version) >= 0;
}

bool ConformanceTest::PythonBelow(const std::string& version) {
  return IsPython() && CompareVersions(session().language_version(), version) < 0;
}

bool ConformanceTest::HasKind(const std::string& kind) {
  const Json caps = session().hello().value("capabilities", Json::object());
  const Json kinds = caps.value("kinds", Json::array());
  return std::find(kinds.begin(), kinds.end(), Json(kind)) != kinds.end();
}

bool ConformanceTest::HasFamily(const std::string& family) {
  const Json caps = session().hello().value("capabilities", Json::object());
  const Json families = caps.value("families", Json::array());
  return std::find(families.begin(), families.end(), Json(family)) != families.end();
}

void ConformanceTest::MarkSkip(const std::string& reason) { Force(Outcome::kSkip, reason); }

std::optional<std::pair<Outcome, std::string>> ConformanceTest::TakeForcedOutcome() {
  auto f = Forced();
  Forced().reset();
  return f;
}

void ConformanceTest::SetUp() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const RegisteredTest* reg =
      FindRegisteredTest(std::string(info->test_suite_name()) + "." + info->name());
  if (reg == nullptr) return;
  std::string reasons;
  for (const auto& id : reg->clauses) {
    const Clause* c = Catalogue::Default().Find(id);
    if (c == nullptr) return;  // the traceability check reports it; run the test anyway
    auto why = ClauseNotApplicable(*c);
    if (!why) return;  // at least one clause applies
    if (reasons.empty()) reasons = *why;
  }
  if (!reasons.empty()) GTEST_SKIP() << reasons;
}

void ConformanceTest::TearDown() {
  if (!session().Reset()) {
    // The driver was unhealthy or could not clean up: the next test gets a fresh one.
  }
}

// ---- Assertions ----

bool TypeSatisfies(const std::string& actual, const std::string& expected) {
  if (actual == expected) return true;
  if (expected == "OSError") {
    const auto& f = OsErrorFamily();
    return std::find(f.begin(), f.end(), actual) != f.end();
  }
  if (expected == "ConnectionError") {
    return actual == "BrokenPipeError" || actual == "ConnectionResetError" ||
           actual == "ConnectionRefusedError" || actual == "ConnectionAbortedError";
  }
  return false;
}

bool MessageMatches(const std::optional<std::string>& actual, const ClauseException& expected) {
  if (!expected.message) return true;
  if (!actual) return false;
  if (expected.match == "prefix") return actual->rfind(*expected.message, 0) == 0;
  if (expected.match == "regex") {
    try {
      return std::regex_search(*actual, std::regex(*expected.message));
    } catch (const std::regex_error&) {
      return false;
    }
  }
  return *actual == *expected.message;
}

::testing::AssertionResult Succeeded(const Response& r) {
  if (r.ok) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "expected success, got " << r.error.ToString();
}

::testing::AssertionResult Returned(const Response& r, const Json& expected) {
  if (!r.ok) {
    return ::testing::AssertionFailure()
           << "expected " << expected.dump() << ", got " << r.error.ToString();
  }
  if (r.result != expected) {
    return ::testing::AssertionFailure()
           << "expected " << expected.dump() << ", got " << r.result.dump();
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult Raises(const Response& r, const std::string& clause_id) {
  const Clause& c = Catalogue::Default().Get(clause_id);
  if (!c.exception) {
    return ::testing::AssertionFailure() << "clause " << clause_id << " names no exception";
  }
  const ClauseException& ex = *c.exception;
  if (r.ok) {
    return ::testing::AssertionFailure() << clause_id << ": expected " << ex.type
                                         << ", but the call returned " << r.result.dump();
  }
  if (!TypeSatisfies(r.error.type, ex.type)) {
    return ::testing::AssertionFailure()
           << clause_id << ": expected " << ex.type << ", got " << r.error.ToString();
  }
  if (!MessageMatches(r.error.message, ex)) {
    return ::testing::AssertionFailure()
           << clause_id << ": expected message (" << ex.match << ") '" << ex.message.value_or("")
           << "', got " << r.error.ToString();
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult RaisesType(const Response& r, std::initializer_list<const char*> types) {
  std::string wanted;
  for (const char* t : types) {
    if (!r.ok && TypeSatisfies(r.error.type, t)) return ::testing::AssertionSuccess();
    wanted += wanted.empty() ? t : std::string(" or ") + t;
  }
  return ::testing::AssertionFailure() << "expected " << wanted << ", got "
                                       << (r.ok ? "ok " + r.result.dump() : r.error.ToString());
}

}  // namespace mpipc::conformance
