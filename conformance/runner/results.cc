#include "results.h"

#include <algorithm>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <stdexcept>

namespace mpipc::conformance {

namespace {

constexpr const char* kKinds[] = {"PASS", "FAIL", "XFAIL", "XPASS", "SKIP", "TIMEOUT", "CRASH"};

int Severity(const std::string& outcome) {
  if (outcome == "CRASH") return 4;
  if (outcome == "TIMEOUT") return 3;
  if (outcome == "FAIL") return 2;
  if (outcome == "PASS") return 1;
  return 0;  // SKIP
}

std::string XmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        // XML 1.0 forbids most control characters.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') {
          out += '?';
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string Trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

}  // namespace

std::vector<Expectation> LoadExpectations(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read expectation file " + path);
  std::vector<Expectation> out;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    line = Trim(line);
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    Expectation e;
    e.line = n;
    fields >> e.pattern >> e.kind;
    std::getline(fields, e.reason);
    e.reason = Trim(e.reason);
    if (e.kind != "XFAIL" && e.kind != "SKIP") {
      throw std::runtime_error(path + ":" + std::to_string(n) +
                               ": kind must be XFAIL or SKIP, got '" + e.kind + "'");
    }
    if (e.reason.empty()) {
      throw std::runtime_error(path + ":" + std::to_string(n) + ": an expectation needs a reason");
    }
    out.push_back(std::move(e));
  }
  return out;
}

const Expectation* MatchExpectation(const std::vector<Expectation>& expectations,
                                    const std::string& clause_id) {
  for (const auto& e : expectations) {
    if (GlobMatch(e.pattern, clause_id)) return &e;
  }
  return nullptr;
}

std::optional<std::string> NotApplicable(const Clause& clause, const std::string& language,
                                         const std::string& v) {
  if (clause.platform == "windows") return "Windows-only clause";
  if (language != "python" || v.empty()) return std::nullopt;
  if (!clause.min_version.empty() && CompareVersions(v, clause.min_version) < 0) {
    return "holds for Python >= " + clause.min_version + " (target runs " + v + ")";
  }
  if (!clause.max_version.empty() && CompareVersions(v, clause.max_version) > 0) {
    return "holds for Python <= " + clause.max_version + " (target runs " + v + ")";
  }
  return std::nullopt;
}

void Aggregate(const Catalogue& catalogue, const std::vector<std::string>& selected,
               TargetRun& run) {
  run.results.clear();
  const std::string language = run.hello.is_object() ? run.hello.value("language", "") : "";
  const std::string version = run.hello.is_object() ? run.hello.value("language_version", "") : "";
  for (const Clause& clause : catalogue.clauses()) {
    if (!selected.empty() &&
        std::find(selected.begin(), selected.end(), clause.id) == selected.end()) {
      continue;
    }
    ClauseResult cr;
    std::string worst;
    std::string first_message;
    bool any_test = false;
    for (const TestRecord& t : run.tests) {
      if (std::find(t.clauses.begin(), t.clauses.end(), clause.id) == t.clauses.end()) continue;
      any_test = true;
      cr.tests.push_back(t.name);
      if (worst.empty() || Severity(t.outcome) > Severity(worst)) {
        worst = t.outcome;
        first_message = t.message;
      }
    }
    const Expectation* exp = MatchExpectation(run.expectations, clause.id);
    if (!run.error.empty()) {
      cr.result = "SKIP";
      cr.reason = "target unavailable: " + run.error;
    } else if (auto why = NotApplicable(clause, language, version)) {
      cr.result = "SKIP";
      cr.reason = *why;
    } else if (exp != nullptr && exp->kind == "SKIP") {
      cr.result = "SKIP";
      cr.reason = exp->reason;
    } else if (!any_test) {
      cr.result = "SKIP";
      cr.reason = "no test in this run checks it";
    } else if (exp != nullptr && exp->kind == "XFAIL") {
      if (worst == "FAIL" || worst == "TIMEOUT") {
        cr.result = "XFAIL";
        cr.reason = exp->reason;
      } else if (worst == "PASS") {
        cr.result = "XPASS";
        cr.reason = "listed as expected to fail (" + exp->reason + ") but passed";
      } else {
        cr.result = worst;
        cr.reason = first_message;
      }
    } else {
      cr.result = worst;
      cr.reason = worst == "PASS" ? "" : first_message;
    }
    run.results[clause.id] = std::move(cr);
  }
}

bool IsUnexpected(const std::string& r) {
  return r == "FAIL" || r == "XPASS" || r == "TIMEOUT" || r == "CRASH";
}

std::map<std::string, int> Counts(const TargetRun& run) {
  std::map<std::string, int> counts;
  for (const char* k : kKinds) counts[k] = 0;
  for (const auto& [id, r] : run.results) ++counts[r.result];
  return counts;
}

Json ToJson(const Catalogue& catalogue, const std::vector<TargetRun>& runs, uint64_t seed,
            double tolerance, const std::string& started) {
  Json doc;
  doc["format"] = "mpipc-conformance-results/1";
  doc["catalogue_version"] = catalogue.version();
  doc["started"] = started;
  doc["seed"] = seed;
  doc["tolerance"] = tolerance;
  Json clauses = Json::array();
  for (const Clause& c : catalogue.clauses()) {
    clauses.push_back({{"id", c.id}, {"area", c.area}, {"level", c.level}, {"title", c.title}});
  }
  doc["clauses"] = clauses;
  Json targets = Json::array();
  Json unexpected = Json::array();
  for (const TargetRun& run : runs) {
    Json t;
    t["name"] = run.name;
    t["command"] = run.command;
    t["hello"] = run.hello;
    t["duration_s"] = run.duration_s;
    t["error"] = run.error.empty() ? Json() : Json(run.error);
    t["counts"] = Counts(run);
    Json results = Json::object();
    for (const auto& [id, r] : run.results) {
      results[id] = {{"result", r.result},
                     {"reason", r.reason.empty() ? Json() : Json(r.reason)},
                     {"tests", r.tests}};
      if (IsUnexpected(r.result)) {
        unexpected.push_back({{"target", run.name}, {"clause", id}, {"result", r.result}});
      }
    }
    t["results"] = results;
    Json tests = Json::array();
    for (const TestRecord& tr : run.tests) {
      tests.push_back({{"name", tr.name},
                       {"clauses", tr.clauses},
                       {"outcome", tr.outcome},
                       {"seconds", tr.seconds},
                       {"message", tr.message.empty() ? Json() : Json(tr.message)}});
    }
    t["tests"] = tests;
    targets.push_back(t);
  }
  doc["targets"] = targets;
  doc["gate"] = {{"passed", unexpected.empty()}, {"unexpected", unexpected}};
  return doc;
}

std::string ToJUnit(const Catalogue& catalogue, const std::vector<TargetRun>& runs) {
  std::ostringstream out;
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"mpipc-conformance\">\n";
  for (const TargetRun& run : runs) {
    auto counts = Counts(run);
    const int failures = counts["FAIL"] + counts["XPASS"] + counts["TIMEOUT"];
    out << "  <testsuite name=\"" << XmlEscape(run.name) << "\" tests=\"" << run.results.size()
        << "\" failures=\"" << failures << "\" errors=\"" << counts["CRASH"] << "\" skipped=\""
        << counts["SKIP"] + counts["XFAIL"] << "\" time=\"" << run.duration_s << "\">\n";
    for (const auto& [id, r] : run.results) {
      const Clause* c = catalogue.Find(id);
      out << "    <testcase classname=\"" << XmlEscape(run.name + "." + (c ? c->area : ""))
          << "\" name=\"" << XmlEscape(id) << "\">";
      const std::string text = r.result + (r.reason.empty() ? "" : ": " + r.reason);
      if (r.result == "FAIL" || r.result == "XPASS" || r.result == "TIMEOUT") {
        out << "<failure type=\"" << r.result << "\" message=\"" << XmlEscape(text) << "\"/>";
      } else if (r.result == "CRASH") {
        out << "<error type=\"CRASH\" message=\"" << XmlEscape(text) << "\"/>";
      } else if (r.result == "SKIP" || r.result == "XFAIL") {
        out << "<skipped message=\"" << XmlEscape(text) << "\"/>";
      }
      out << "</testcase>\n";
    }
    out << "  </testsuite>\n";
  }
  out << "</testsuites>\n";
  return out.str();
}

std::string SummaryTable(const std::vector<TargetRun>& runs) {
  std::ostringstream out;
  out << std::left << std::setw(16) << "target";
  for (const char* k : kKinds) out << std::right << std::setw(8) << k;
  out << std::right << std::setw(9) << "time"
      << "\n";
  std::vector<std::string> lines;
  for (const TargetRun& run : runs) {
    auto counts = Counts(run);
    out << std::left << std::setw(16) << run.name;
    for (const char* k : kKinds) out << std::right << std::setw(8) << counts[k];
    out << std::right << std::setw(8) << std::fixed << std::setprecision(1) << run.duration_s
        << "s";
    if (!run.error.empty()) out << "  (unavailable: " << run.error << ")";
    out << "\n";
    for (const auto& [id, r] : run.results) {
      if (IsUnexpected(r.result)) {
        std::string reason = r.reason.substr(0, 160);
        std::replace(reason.begin(), reason.end(), '\n', ' ');
        lines.push_back("  " + r.result + "  " + run.name + "  " + id + "  " + reason);
      }
    }
  }
  if (!lines.empty()) {
    out << "\nunexpected results:\n";
    for (const auto& l : lines) out << l << "\n";
  }
  return out.str();
}

}  // namespace mpipc::conformance
