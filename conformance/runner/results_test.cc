// Unit tests of per-clause aggregation, expectations, the gate predicate and the writers.
#include "results.h"

#include <gtest/gtest.h>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace mpipc::conformance {
namespace {

// A directory of this process's own, removed with everything in it at scope exit. ctest runs
// each test as its own process, several at once: a shared fixed path would let one test's
// set-up truncate the file another is reading.
class ScratchDir {
 public:
  ScratchDir() {
    std::string templ = ::testing::TempDir() + "/mpipc_results_test.XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = templ;
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

Catalogue TinyCatalogue() {
  const ScratchDir scratch;
  const std::string& dir = scratch.path();
  std::ofstream(dir + "/a.json") << R"({"area": "a", "catalogue_version": "9.9.9", "clauses": [
    {"id": "A-ONE", "area": "a", "title": "t", "rule": "r", "level": "required", "source": "s"},
    {"id": "A-TWO", "area": "a", "title": "t", "rule": "r", "level": "required", "source": "s"},
    {"id": "A-WIN", "area": "a", "title": "t", "rule": "r", "level": "required", "source": "s",
     "platform": "windows"},
    {"id": "A-NEW", "area": "a", "title": "t", "rule": "r", "level": "cpython", "source": "s",
     "versions": {"min": "3.13"}},
    {"id": "A-UNTESTED", "area": "a", "title": "t", "rule": "r", "level": "required",
     "source": "s"}]})";
  return Catalogue::Load(dir);
}

TestRecord Rec(const std::string& name, std::vector<std::string> clauses,
               const std::string& outcome, const std::string& message = "") {
  TestRecord t;
  t.name = name;
  t.clauses = std::move(clauses);
  t.outcome = outcome;
  t.message = message;
  return t;
}

TargetRun PythonRun(const std::string& version) {
  TargetRun run;
  run.name = "t";
  run.hello = {{"language", "python"}, {"language_version", version}};
  return run;
}

TEST(Aggregate, WorstOutcomeOfTheTestsNamingAClauseWins) {
  Catalogue cat = TinyCatalogue();
  TargetRun run = PythonRun("3.13.0");
  run.tests = {Rec("S.a", {"A-ONE"}, "PASS"), Rec("S.b", {"A-ONE", "A-TWO"}, "FAIL", "boom"),
               Rec("S.c", {"A-TWO"}, "TIMEOUT", "slow")};
  Aggregate(cat, {}, run);
  EXPECT_EQ(run.results["A-ONE"].result, "FAIL");
  EXPECT_EQ(run.results["A-ONE"].reason, "boom");
  EXPECT_EQ(run.results["A-TWO"].result, "TIMEOUT");
  EXPECT_EQ(run.results["A-UNTESTED"].result, "SKIP");
  EXPECT_EQ(run.results["A-ONE"].tests, (std::vector<std::string>{"S.a", "S.b"}));
}

TEST(Aggregate, PassAndSkipMakePass) {
  Catalogue cat = TinyCatalogue();
  TargetRun run = PythonRun("3.13.0");
  run.tests = {Rec("S.a", {"A-ONE"}, "SKIP", "unsupported"), Rec("S.b", {"A-ONE"}, "PASS")};
  Aggregate(cat, {}, run);
  EXPECT_EQ(run.results["A-ONE"].result, "PASS");
}

TEST(Aggregate, ExpectedFailuresBecomeXfailAndUnexpectedPassesXpass) {
  Catalogue cat = TinyCatalogue();
  TargetRun run = PythonRun("3.13.0");
  run.expectations = {{"A-ONE", "XFAIL", "documented deviation", 1}, {"A-T*", "XFAIL", "glob", 2}};
  run.tests = {Rec("S.a", {"A-ONE"}, "FAIL"), Rec("S.b", {"A-TWO"}, "PASS")};
  Aggregate(cat, {}, run);
  EXPECT_EQ(run.results["A-ONE"].result, "XFAIL");
  EXPECT_EQ(run.results["A-ONE"].reason, "documented deviation");
  EXPECT_EQ(run.results["A-TWO"].result, "XPASS");
  EXPECT_TRUE(IsUnexpected("XPASS"));
  EXPECT_FALSE(IsUnexpected("XFAIL"));
}

TEST(Aggregate, CrashIsNeverExcusedByXfail) {
  Catalogue cat = TinyCatalogue();
  TargetRun run = PythonRun("3.13.0");
  run.expectations = {{"A-ONE", "XFAIL", "known", 1}};
  run.tests = {Rec("S.a", {"A-ONE"}, "CRASH", "driver died")};
  Aggregate(cat, {}, run);
  EXPECT_EQ(run.results["A-ONE"].result, "CRASH");
  EXPECT_TRUE(IsUnexpected("CRASH"));
}

TEST(Aggregate, CrashOutranksTimeoutOutranksFailure) {
  Catalogue cat = TinyCatalogue();
  TargetRun run = PythonRun("3.13.0");
  run.tests = {Rec("S.a", {"A-ONE"}, "FAIL"), Rec("S.b", {"A-ONE"}, "CRASH", "died"),
               Rec("S.c", {"A-ONE"}, "TIMEOUT"), Rec("S.d", {"A-TWO"}, "TIMEOUT", "slow"),
               Rec("S.e", {"A-TWO"}, "FAIL")};
  Aggregate(cat, {}, run);
  EXPECT_EQ(run.results["A-ONE"].result, "CRASH");
  EXPECT_EQ(run.results["A-ONE"].reason, "died");
  EXPECT_EQ(run.results["A-TWO"].result, "TIMEOUT");
}

TEST(Aggregate, InapplicableClausesAreSkippedWithTheirReason) {
  Catalogue cat = TinyCatalogue();
  TargetRun run = PythonRun("3.11.7");
  run.tests = {Rec("S.a", {"A-WIN", "A-NEW"}, "FAIL")};
  Aggregate(cat, {}, run);
  EXPECT_EQ(run.results["A-WIN"].result, "SKIP");
  EXPECT_EQ(run.results["A-WIN"].reason, "Windows-only clause");
  EXPECT_EQ(run.results["A-NEW"].result, "SKIP");
  EXPECT_NE(run.results["A-NEW"].reason.find(">= 3.13"), std::string::npos);

  TargetRun newer = PythonRun("3.13.0");
  newer.tests = run.tests;
  Aggregate(cat, {}, newer);
  EXPECT_EQ(newer.results["A-NEW"].result, "FAIL");

  TargetRun cpp;  // version ranges are Python's: other languages are checked against them all
  cpp.hello = {{"language", "c++"}, {"language_version", "20"}};
  cpp.tests = run.tests;
  Aggregate(cat, {}, cpp);
  EXPECT_EQ(cpp.results["A-NEW"].result, "FAIL");
}

TEST(Aggregate, SelectionLimitsTheReportedClauses) {
  Catalogue cat = TinyCatalogue();
  TargetRun run = PythonRun("3.13.0");
  run.tests = {Rec("S.a", {"A-ONE"}, "PASS")};
  Aggregate(cat, {"A-ONE"}, run);
  EXPECT_EQ(run.results.size(), 1u);
}

TEST(Aggregate, UnavailableTargetSkipsEverything) {
  Catalogue cat = TinyCatalogue();
  TargetRun run;
  run.error = "no interpreter";
  Aggregate(cat, {}, run);
  for (const auto& [id, r] : run.results) {
    EXPECT_EQ(r.result, "SKIP") << id;
    EXPECT_NE(r.reason.find("no interpreter"), std::string::npos);
  }
}

TEST(Expectations, ParsesEntriesAndRejectsMalformedOnes) {
  const ScratchDir scratch;
  const std::string path = scratch.path() + "/expect.txt";
  std::ofstream(path) << "# comment\n\nQ-* XFAIL  the reason, with spaces\nL-X SKIP why\n";
  auto e = LoadExpectations(path);
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].pattern, "Q-*");
  EXPECT_EQ(e[0].reason, "the reason, with spaces");
  EXPECT_EQ(MatchExpectation(e, "Q-GET"), &e[0]);
  EXPECT_EQ(MatchExpectation(e, "L-Y"), nullptr);

  std::ofstream(path) << "Q-GET XFAIL\n";
  EXPECT_THROW(LoadExpectations(path), std::runtime_error);  // no reason
  std::ofstream(path) << "Q-GET MAYBE because\n";
  EXPECT_THROW(LoadExpectations(path), std::runtime_error);  // unknown kind
  EXPECT_THROW(LoadExpectations(path + ".missing"), std::runtime_error);
}

TEST(Glob, MatchesLikeFnmatch) {
  EXPECT_TRUE(GlobMatch("Q-*", "Q-GET"));
  EXPECT_TRUE(GlobMatch("*GET*", "Q-GET-TO"));
  EXPECT_TRUE(GlobMatch("Q-GE?", "Q-GET"));
  EXPECT_FALSE(GlobMatch("Q-GE?", "Q-GETX"));
  EXPECT_FALSE(GlobMatch("L-*", "Q-GET"));
  EXPECT_TRUE(GlobMatch("*", ""));
}

TEST(Writers, JUnitAndJsonCarryEveryResult) {
  Catalogue cat = TinyCatalogue();
  TargetRun run = PythonRun("3.13.0");
  run.expectations = {{"A-TWO", "XFAIL", "known <bug>", 1}};
  run.tests = {Rec("S.a", {"A-ONE"}, "FAIL", "a & b"), Rec("S.b", {"A-TWO"}, "FAIL")};
  Aggregate(cat, {}, run);
  const std::string xml = ToJUnit(cat, {run});
  EXPECT_NE(xml.find("name=\"A-ONE\"><failure type=\"FAIL\" message=\"FAIL: a &amp; b\""),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("<skipped message=\"XFAIL: known &lt;bug&gt;\""), std::string::npos) << xml;
  Json doc = ToJson(cat, {run}, 7, 0.5, "now");
  EXPECT_EQ(doc["targets"][0]["results"]["A-ONE"]["result"], "FAIL");
  EXPECT_EQ(doc["targets"][0]["counts"]["XFAIL"], 1);
  EXPECT_FALSE(doc["gate"]["passed"].get<bool>());
  EXPECT_EQ(doc["gate"]["unexpected"].size(), 1u);
  EXPECT_NE(SummaryTable({run}).find("FAIL  t  A-ONE  a & b"), std::string::npos);
}

}  // namespace
}  // namespace mpipc::conformance
