// Catalogue: the clauses of spec/clauses/*.json (format: spec/catalogue.md), loaded once.
// Immutable after Load(); safe to read from any thread.
#ifndef MPIPC_CONFORMANCE_HARNESS_CATALOGUE_H_
#define MPIPC_CONFORMANCE_HARNESS_CATALOGUE_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mpipc::conformance {

struct ClauseException {
  std::string type;                    // canonical exception name
  std::optional<std::string> message;  // null: the type is the promise
  std::string match = "exact";         // exact | prefix | regex
};

struct Clause {
  std::string id;
  std::string area;
  std::string title;
  std::string rule;
  std::string level;     // required | cpython | timing
  std::string platform;  // "" (any), posix, linux, windows
  std::string min_version;
  std::string max_version;  // Python versions the clause holds for, "" = unbounded
  std::optional<ClauseException> exception;
};

class Catalogue {
 public:
  // Reads every *.json in `clauses_dir`. Throws std::runtime_error on unreadable files or
  // duplicate IDs (spec/check_catalogue.py checks the rest of the schema).
  static Catalogue Load(const std::string& clauses_dir);
  // spec/clauses of this source tree ($MPIPC_SOURCE_DIR overrides the built-in path).
  static const Catalogue& Default();

  const Clause* Find(const std::string& id) const;
  // Throws std::out_of_range naming the ID.
  const Clause& Get(const std::string& id) const;
  const std::vector<Clause>& clauses() const { return clauses_; }
  const std::string& version() const { return version_; }

 private:
  std::vector<Clause> clauses_;
  std::map<std::string, size_t> index_;
  std::string version_;
};

// "3.11.7" vs "3.12": compares dotted numeric prefixes (only the components of the shorter).
int CompareVersions(const std::string& a, const std::string& b);

// Glob with * and ? (as fnmatch without classes).
bool GlobMatch(const std::string& pattern, const std::string& text);

}  // namespace mpipc::conformance

#endif  // MPIPC_CONFORMANCE_HARNESS_CATALOGUE_H_
