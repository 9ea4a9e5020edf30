// Results: from per-test outcomes to per-(target, clause) results, expectations, the gate, and
// the machine-readable outputs (results JSON, JUnit XML) plus the terminal summary.
// Format of the results JSON and of expectation files: spec/results.md. Pure data; no I/O except
// the writers and the expectation loader.
#ifndef MPIPC_CONFORMANCE_RUNNER_RESULTS_H_
#define MPIPC_CONFORMANCE_RUNNER_RESULTS_H_

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "catalogue.h"

namespace mpipc::conformance {

using Json = nlohmann::json;

// One test's outcome in one target (PASS FAIL SKIP TIMEOUT CRASH).
struct TestRecord {
  std::string name;
  std::vector<std::string> clauses;
  std::string outcome;
  double seconds = 0;
  std::string message;  // failure text or skip reason
};

// An expectation-file entry: clauses matching `pattern` are expected to fail (XFAIL) or are not
// run (SKIP), for `reason`.
struct Expectation {
  std::string pattern;
  std::string kind;  // XFAIL | SKIP
  std::string reason;
  int line = 0;
};

// Reads `path`: lines `CLAUSE-GLOB  XFAIL|SKIP  reason`, `#` comments, blank lines. Every entry
// needs a reason. Throws std::runtime_error naming the line on a malformed entry.
std::vector<Expectation> LoadExpectations(const std::string& path);
const Expectation* MatchExpectation(const std::vector<Expectation>& expectations,
                                    const std::string& clause_id);

// Why `clause` does not apply to a target of this language/version (nullopt: it applies).
std::optional<std::string> NotApplicable(const Clause& clause, const std::string& language,
                                         const std::string& language_version);

struct ClauseResult {
  std::string result;  // PASS FAIL XFAIL XPASS SKIP TIMEOUT CRASH
  std::string reason;  // skip/xfail reason, or the first failure's message
  std::vector<std::string> tests;
};

struct TargetRun {
  std::string name;
  std::string command;
  Json hello;         // null if the driver never answered
  std::string error;  // why the target could not run at all (empty if it ran)
  double duration_s = 0;
  std::vector<TestRecord> tests;
  std::vector<Expectation> expectations;
  std::map<std::string, ClauseResult> results;  // by clause ID, filled by Aggregate()
};

// Fills run.results for every clause of `catalogue` selected by `selected` (IDs; empty = all).
void Aggregate(const Catalogue& catalogue, const std::vector<std::string>& selected,
               TargetRun& run);

// FAIL, XPASS, TIMEOUT, CRASH.
bool IsUnexpected(const std::string& result);
std::map<std::string, int> Counts(const TargetRun& run);

Json ToJson(const Catalogue& catalogue, const std::vector<TargetRun>& runs, uint64_t seed,
            double tolerance, const std::string& started);
std::string ToJUnit(const Catalogue& catalogue, const std::vector<TargetRun>& runs);
// A fixed-width table: one row per target, one column per result kind, plus the unexpected list.
std::string SummaryTable(const std::vector<TargetRun>& runs);

}  // namespace mpipc::conformance

#endif  // MPIPC_CONFORMANCE_RUNNER_RESULTS_H_
