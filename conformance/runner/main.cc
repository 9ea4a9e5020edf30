// mpipc-conform: the conformance suite's runner (`mpipc conform` execs it).
//
// Orchestrator (default): for each target, runs this same program in worker mode, one suite
// process per target (at most --jobs at once), reads their per-test progress, turns outcomes
// into per-clause results with the target's expectations, and writes the summary, JSON and JUnit.
// Worker (--worker, internal): runs the GoogleTest suite against one driver and streams JSON lines
// ({"hello"}, {"start"}, {"test"}, {"error"}) on --progress-fd.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "catalogue.h"
#include "fixture.h"
#include "results.h"
#include "session.h"

#ifndef MPIPC_SOURCE_DIR_DEFAULT
#define MPIPC_SOURCE_DIR_DEFAULT "."
#endif

namespace mpipc::conformance {
namespace {

namespace fs = std::filesystem;

std::string SourceDir() {
  const char* env = std::getenv("MPIPC_SOURCE_DIR");
  return env != nullptr && *env != '\0' ? env : MPIPC_SOURCE_DIR_DEFAULT;
}

fs::path SelfPath() {
  std::error_code ec;
  auto p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path("mpipc-conform") : p;
}

std::vector<std::string> SplitCommand(const std::string& cmd) {
  std::vector<std::string> out;
  std::istringstream in(cmd);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::string JoinCommand(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

// ---------------------------------------------------------------------------------------------
// Worker
// ---------------------------------------------------------------------------------------------

class ProgressListener : public ::testing::EmptyTestEventListener {
 public:
  explicit ProgressListener(int fd) : fd_(fd) {}

  void Emit(const Json& msg) {
    const std::string line = msg.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
    size_t done = 0;
    while (done < line.size()) {
      ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
      if (n <= 0) return;
      done += static_cast<size_t>(n);
    }
  }

  void OnTestStart(const ::testing::TestInfo& info) override {
    start_ = std::chrono::steady_clock::now();
    Emit({{"start", Name(info)}});
  }

  void OnTestEnd(const ::testing::TestInfo& info) override {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const ::testing::TestResult* r = info.result();
    std::string outcome;
    std::string message;
    if (auto forced = ConformanceTest::TakeForcedOutcome()) {
      outcome = OutcomeName(forced->first);
      message = forced->second;
    } else if (r->Skipped()) {
      outcome = "SKIP";
    } else if (r->Failed()) {
      outcome = "FAIL";
    } else {
      outcome = "PASS";
    }
    for (int i = 0; i < r->total_part_count(); ++i) {
      const auto& part = r->GetTestPartResult(i);
      if ((outcome == "FAIL" && part.failed()) || (outcome == "SKIP" && part.skipped())) {
        std::string text = part.message();
        if (part.file_name() != nullptr && part.failed()) {
          text = fs::path(part.file_name()).filename().string() + ":" +
                 std::to_string(part.line_number()) + ": " + text;
        }
        if (!message.empty()) message += "\n";
        message += text;
      }
    }
    if (message.size() > 4000) message = message.substr(0, 4000) + "...";
    Emit({{"test", Name(info)}, {"outcome", outcome}, {"seconds", seconds}, {"message", message}});
  }

 private:
  static std::string Name(const ::testing::TestInfo& info) {
    return std::string(info.test_suite_name()) + "." + info.name();
  }
  int fd_;
  std::chrono::steady_clock::time_point start_;
};

int RunWorker(int argc, char** argv, const std::vector<std::string>& driver_argv,
              const std::string& name, const std::string& stderr_log, int progress_fd,
              uint64_t seed, double tolerance, double limit) {
  ::testing::InitGoogleTest(&argc, argv);
  SessionOptions opts;
  opts.target_name = name;
  opts.argv = driver_argv;
  opts.stderr_log = stderr_log;
  opts.seed = seed;
  opts.tolerance = tolerance;
  opts.limit = limit;
  InstallSession(std::make_unique<Session>(opts));
  auto* listener = new ProgressListener(progress_fd);
  try {
    listener->Emit({{"hello", CurrentSession().hello()}});
  } catch (const std::exception& e) {
    listener->Emit({{"error", std::string("driver did not start: ") + e.what()}});
    delete listener;
    return 3;
  }
  ::testing::UnitTest::GetInstance()->listeners().Append(listener);
  // RapidCheck properties take their seed from the run's seed.
  const std::string rc = "seed=" + std::to_string(seed) + " verbose_progress=0";
  ::setenv("RC_PARAMS", rc.c_str(), /*overwrite=*/0);
  int status = RUN_ALL_TESTS();
  listener->Emit({{"done", true}});
  InstallSession(nullptr);
  return status == 0 ? 0 : 1;
}

// ---------------------------------------------------------------------------------------------
// Orchestrator
// ---------------------------------------------------------------------------------------------

struct TargetSpec {
  std::string name;
  std::vector<std::string> argv;
  std::string unavailable;  // why it cannot run here (empty: available)
};

std::string FindPyenvPython(const std::string& minor) {
  std::vector<fs::path> roots;
  if (const char* r = std::getenv("PYENV_ROOT")) roots.emplace_back(r);
  if (const char* h = std::getenv("HOME")) roots.emplace_back(fs::path(h) / ".pyenv");
  roots.emplace_back("/root/.pyenv");
  for (const auto& root : roots) {
    std::error_code ec;
    std::vector<fs::path> found;
    for (const auto& e : fs::directory_iterator(root / "versions", ec)) {
      const std::string v = e.path().filename().string();
      if (v.rfind(minor + ".", 0) == 0 && fs::exists(e.path() / "bin/python3")) {
        found.push_back(e.path() / "bin/python3");
      }
    }
    if (!found.empty()) {
      std::sort(found.begin(), found.end());
      return found.back().string();
    }
  }
  return "";
}

const std::vector<std::string>& KnownTargets() {
  static const std::vector<std::string> names = {"reference", "cpython-3.11", "cpython-3.12",
                                                 "cpython-3.13", "multiprocess"};
  return names;
}

TargetSpec ResolveTarget(const std::string& name) {
  TargetSpec t;
  t.name = name;
  const std::string py_driver = SourceDir() + "/conformance/drivers/python/mpipc_driver.py";
  if (name == "reference") {
    const fs::path p = SelfPath().parent_path() / "mpipc-driver-reference";
    t.argv = {p.string()};
    if (!fs::exists(p)) t.unavailable = p.string() + " is not built";
  } else if (name.rfind("cpython-", 0) == 0) {
    const std::string py = FindPyenvPython(name.substr(8));
    t.argv = {py.empty() ? "python" + name.substr(8) : py, py_driver};
    if (py.empty()) t.unavailable = "no pyenv CPython " + name.substr(8) + " on this machine";
  } else if (name == "multiprocess") {
    t.argv = {"/usr/bin/python3", py_driver, "--module", "multiprocess"};
    if (std::system("/usr/bin/python3 -c 'import multiprocess' >/dev/null 2>&1") != 0) {
      t.unavailable = "Debian's python3-multiprocess is not installed";
    }
  } else {
    throw std::runtime_error("unknown target '" + name + "' (known: reference, cpython-3.11, " +
                             "cpython-3.12, cpython-3.13, multiprocess; or use --driver)");
  }
  return t;
}

struct Options {
  std::vector<std::string> targets;
  std::vector<std::string> drivers;
  std::string driver_name;
  std::vector<std::string> filters;
  std::vector<std::string> expect;
  std::string junit;
  std::string json;
  std::string markdown;
  std::string html;
  std::string log_dir;
  uint64_t seed = 0;
  bool seed_given = false;
  double tolerance = 0.5;
  double limit = 20.0;
  double target_timeout = 900;
  int jobs = 2;
  bool gate = false;
  bool list = false;
  bool trace = false;
  bool verbose = false;
};

// Tests selected by the filters (a test matches if its name or any of its clauses matches), and
// the clauses that the run reports on.
void Select(const Options& opt, std::vector<std::string>& tests,
            std::vector<std::string>& clauses) {
  std::set<std::string> clause_set;
  for (const auto& t : RegisteredTests()) {
    bool by_name = opt.filters.empty();
    std::vector<std::string> matched;
    for (const auto& f : opt.filters) {
      if (GlobMatch(f, t.name)) by_name = true;
      for (const auto& c : t.clauses) {
        if (GlobMatch(f, c)) matched.push_back(c);
      }
    }
    if (by_name) matched = t.clauses;
    if (matched.empty()) continue;
    tests.push_back(t.name);
    clause_set.insert(matched.begin(), matched.end());
  }
  if (opt.filters.empty()) return;  // empty `clauses` = the whole catalogue
  for (const auto& c : Catalogue::Default().clauses()) {
    for (const auto& f : opt.filters) {
      if (GlobMatch(f, c.id)) clause_set.insert(c.id);
    }
  }
  clauses.assign(clause_set.begin(), clause_set.end());
}

// One worker process running the suite for one target.
struct Worker {
  TargetSpec spec;
  TargetRun* run = nullptr;
  std::vector<std::string> remaining;  // tests not yet reported
  std::string current;                 // started, not yet reported
  pid_t pid = -1;
  int fd = -1;
  std::string buffer;
  int launches = 0;
  bool got_error = false;
  bool finished = false;
  std::chrono::steady_clock::time_point started;
};

void Launch(Worker& w, const Options& opt, uint64_t seed) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  std::string filter = "--gtest_filter=";
  for (size_t i = 0; i < w.remaining.size(); ++i) filter += (i ? ":" : "") + w.remaining[i];
  std::vector<std::string> args = {SelfPath().string(),
                                   "--worker",
                                   "--name",
                                   w.spec.name,
                                   "--driver-argv",
                                   Json(w.spec.argv).dump(),
                                   "--progress-fd",
                                   "3",
                                   "--seed",
                                   std::to_string(seed),
                                   "--tolerance",
                                   std::to_string(opt.tolerance),
                                   "--limit",
                                   std::to_string(opt.limit),
                                   "--driver-log",
                                   (fs::path(opt.log_dir) / (w.spec.name + ".driver.log")).string(),
                                   filter};
  const std::string suite_log = (fs::path(opt.log_dir) / (w.spec.name + ".suite.log")).string();
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::dup2(p[1], 3);
    int log =
        ::open(suite_log.c_str(), O_WRONLY | O_CREAT | (w.launches ? O_APPEND : O_TRUNC), 0644);
    if (log >= 0) {
      ::dup2(log, 1);
      ::dup2(log, 2);
    }
    int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) ::dup2(null, 0);
    std::vector<char*> cargs;
    for (auto& a : args) cargs.push_back(a.data());
    cargs.push_back(nullptr);
    ::execv(cargs[0], cargs.data());
    ::_exit(127);
  }
  ::close(p[1]);
  w.pid = pid;
  w.fd = p[0];
  w.buffer.clear();
  w.current.clear();
  ++w.launches;
}

void Record(Worker& w, const std::string& name, const std::string& outcome, double seconds,
            const std::string& message) {
  TestRecord rec;
  rec.name = name;
  if (const auto* reg = FindRegisteredTest(name)) rec.clauses = reg->clauses;
  rec.outcome = outcome;
  rec.seconds = seconds;
  rec.message = message;
  w.run->tests.push_back(std::move(rec));
  w.remaining.erase(std::remove(w.remaining.begin(), w.remaining.end(), name), w.remaining.end());
  if (w.current == name) w.current.clear();
}

void HandleLine(Worker& w, const std::string& line, const Options& opt) {
  Json msg = Json::parse(line, nullptr, false);
  if (msg.is_discarded()) return;
  if (msg.contains("hello")) {
    w.run->hello = msg["hello"];
  } else if (msg.contains("error")) {
    w.run->error = msg["error"].get<std::string>();
    w.got_error = true;
  } else if (msg.contains("start")) {
    w.current = msg["start"].get<std::string>();
  } else if (msg.contains("test")) {
    const std::string outcome = msg.value("outcome", "FAIL");
    Record(w, msg["test"].get<std::string>(), outcome, msg.value("seconds", 0.0),
           msg.value("message", ""));
    if (opt.verbose && outcome != "PASS") {
      std::cerr << "\r\033[K" << outcome << "  " << w.spec.name << "  "
                << msg["test"].get<std::string>() << "  " << msg.value("message", "").substr(0, 300)
                << "\n";
    }
  }
}

std::string ProgressLine(const std::vector<Worker>& workers, size_t total) {
  std::string s;
  for (const auto& w : workers) {
    if (w.pid < 0 && !w.finished) continue;
    int bad = 0;
    for (const auto& t : w.run->tests) bad += (t.outcome != "PASS" && t.outcome != "SKIP");
    s += "[" + w.spec.name + " " + std::to_string(w.run->tests.size()) + "/" +
         std::to_string(total) + (bad ? " !" + std::to_string(bad) : "") +
         (w.finished ? " done" : "") + "] ";
  }
  return s;
}

void RunTargets(std::vector<Worker>& workers, const Options& opt, uint64_t seed,
                const std::vector<std::string>& tests) {
  const bool tty = ::isatty(2) != 0;
  size_t next = 0;
  auto running = [&] {
    return std::count_if(workers.begin(), workers.end(), [](const Worker& w) { return w.pid > 0; });
  };
  auto last_print = std::chrono::steady_clock::now();
  while (true) {
    while (next < workers.size() && running() < opt.jobs) {
      Worker& w = workers[next++];
      w.remaining = tests;
      w.started = std::chrono::steady_clock::now();
      if (!w.spec.unavailable.empty()) {
        w.run->error = w.spec.unavailable;
        w.finished = true;
        continue;
      }
      Launch(w, opt, seed);
    }
    if (running() == 0 && next >= workers.size()) break;
    std::vector<pollfd> fds;
    std::vector<Worker*> owners;
    for (auto& w : workers) {
      if (w.pid > 0) {
        fds.push_back({w.fd, POLLIN, 0});
        owners.push_back(&w);
      }
    }
    ::poll(fds.data(), fds.size(), 500);
    const auto now = std::chrono::steady_clock::now();
    for (size_t i = 0; i < fds.size(); ++i) {
      Worker& w = *owners[i];
      bool eof = false;
      if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
        char buf[65536];
        ssize_t n = ::read(w.fd, buf, sizeof buf);
        if (n <= 0) {
          eof = true;
        } else {
          w.buffer.append(buf, static_cast<size_t>(n));
          for (size_t nl; (nl = w.buffer.find('\n')) != std::string::npos;) {
            HandleLine(w, w.buffer.substr(0, nl), opt);
            w.buffer.erase(0, nl + 1);
          }
        }
      }
      const double elapsed = std::chrono::duration<double>(now - w.started).count();
      if (!eof && elapsed > opt.target_timeout) {
        ::kill(w.pid, SIGKILL);
        for (const auto& t : std::vector<std::string>(w.remaining)) {
          Record(w, t, "TIMEOUT", 0, "the target's run exceeded --target-timeout");
        }
      }
      if (eof) {
        ::close(w.fd);
        int status = 0;
        ::waitpid(w.pid, &status, 0);
        w.pid = -1;
        if (!w.current.empty()) {
          Record(w, w.current, "CRASH", 0, "the suite process died during this test");
        }
        if (!w.got_error && !w.remaining.empty() && w.launches < 5) {
          Launch(w, opt, seed);  // resume after a crash, without the test that crashed
        } else {
          for (const auto& t : std::vector<std::string>(w.remaining)) {
            Record(w, t, w.got_error ? "SKIP" : "CRASH", 0,
                   w.got_error ? w.run->error : "the suite process kept dying");
          }
          w.finished = true;
          w.run->duration_s = std::chrono::duration<double>(now - w.started).count();
          if (!tty) {
            std::cerr << "conform: " << w.spec.name << " finished in " << std::fixed
                      << std::setprecision(1) << w.run->duration_s << " s\n";
          }
        }
      }
    }
    if (tty && now - last_print > std::chrono::milliseconds(200)) {
      std::cerr << "\r\033[K" << ProgressLine(workers, tests.size()) << std::flush;
      last_print = now;
    }
  }
  if (tty) std::cerr << "\r\033[K" << ProgressLine(workers, tests.size()) << "\n";
}

std::string NowIso() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

// Per area: how many clauses the catalogue has and how many at least one suite test names.
Json CoverageByArea() {
  std::set<std::string> named;
  for (const auto& t : RegisteredTests()) named.insert(t.clauses.begin(), t.clauses.end());
  Json out = Json::object();
  for (const auto& c : Catalogue::Default().clauses()) {
    Json& a = out[c.area];
    if (a.is_null()) a = {{"clauses", 0}, {"tested", 0}};
    a["clauses"] = a["clauses"].get<int>() + 1;
    if (named.count(c.id)) a["tested"] = a["tested"].get<int>() + 1;
  }
  return out;
}

int Traceability() {
  const Catalogue& cat = Catalogue::Default();
  int problems = 0;
  std::map<std::string, int> tests_per_clause;
  for (const auto& t : RegisteredTests()) {
    if (t.clauses.empty()) {
      std::cout << "test " << t.name << " (" << t.file << ":" << t.line << ") names no clause\n";
      ++problems;
    }
    for (const auto& c : t.clauses) {
      if (cat.Find(c) == nullptr) {
        std::cout << "test " << t.name << " (" << fs::path(t.file).filename().string() << ":"
                  << t.line << ") names unknown clause " << c << "\n";
        ++problems;
      }
      ++tests_per_clause[c];
    }
  }
  std::map<std::string, std::pair<int, int>> per_area;  // covered, total
  for (const auto& c : cat.clauses()) {
    auto& a = per_area[c.area];
    ++a.second;
    if (tests_per_clause.count(c.id)) {
      ++a.first;
    } else {
      std::cout << "clause " << c.id << " (" << c.area << ") is checked by no test\n";
      ++problems;
    }
  }
  std::cout << "coverage per area (clauses with at least one test / clauses):\n";
  int covered = 0;
  for (const auto& [area, ct] : per_area) {
    std::cout << "  " << std::left << std::setw(16) << area << ct.first << "/" << ct.second << "\n";
    covered += ct.first;
  }
  std::cout << "total: " << covered << "/" << cat.clauses().size() << " clauses, "
            << RegisteredTests().size() << " tests; " << problems << " problem(s)\n";
  return problems == 0 ? 0 : 1;
}

// --expect FILE(s) if given; else conformance/expectations/<target>.txt and every
// conformance/expectations/<target>/*.txt.
std::vector<std::string> ExpectationFiles(const Options& opt, const std::string& target) {
  if (!opt.expect.empty()) return opt.expect;
  std::vector<std::string> files;
  const fs::path dir = fs::path(SourceDir()) / "conformance/expectations";
  if (fs::exists(dir / (target + ".txt"))) files.push_back((dir / (target + ".txt")).string());
  std::error_code ec;
  std::vector<std::string> more;
  for (const auto& e : fs::directory_iterator(dir / target, ec)) {
    if (e.path().extension() == ".txt") more.push_back(e.path().string());
  }
  std::sort(more.begin(), more.end());
  files.insert(files.end(), more.begin(), more.end());
  return files;
}

// The Markdown/HTML matrix is rendered from the results JSON by reports/conformance_matrix.py.
void WriteMatrix(const Options& opt) {
  std::string cmd =
      "python3 '" + SourceDir() + "/reports/conformance_matrix.py' '" + opt.json + "'";
  if (!opt.markdown.empty()) cmd += " --markdown '" + opt.markdown + "'";
  if (!opt.html.empty()) cmd += " --html '" + opt.html + "'";
  if (std::system(cmd.c_str()) != 0) {
    std::cerr << "conform: could not render the matrix (" << cmd << ")\n";
  }
}

int Orchestrate(Options opt) {
  const Catalogue& cat = Catalogue::Default();
  if (opt.list) {
    for (const auto& t : RegisteredTests()) {
      std::cout << t.name;
      for (const auto& c : t.clauses) std::cout << " " << c;
      std::cout << "\n";
    }
    return 0;
  }
  if (opt.trace) return Traceability();
  if (!opt.seed_given) opt.seed = std::random_device{}() % 1000000;
  if (opt.log_dir.empty()) opt.log_dir = "conform-logs";
  fs::create_directories(opt.log_dir);

  std::vector<TargetSpec> specs;
  for (const auto& d : opt.drivers) {
    TargetSpec t;
    t.argv = SplitCommand(d);
    t.name =
        !opt.driver_name.empty() ? opt.driver_name : fs::path(t.argv.at(0)).filename().string();
    specs.push_back(t);
  }
  if (opt.targets.empty() && opt.drivers.empty()) opt.targets = {"all"};
  for (const auto& name : opt.targets) {
    if (name == "all") {
      for (const auto& k : KnownTargets()) specs.push_back(ResolveTarget(k));
    } else {
      specs.push_back(ResolveTarget(name));
    }
  }
  std::vector<std::string> tests;
  std::vector<std::string> clauses;
  Select(opt, tests, clauses);
  if (tests.empty()) {
    std::cerr << "conform: no test matches the filter\n";
    return 2;
  }
  std::vector<TargetRun> runs(specs.size());
  std::vector<Worker> workers(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    runs[i].name = specs[i].name;
    runs[i].command = JoinCommand(specs[i].argv);
    for (const auto& file : ExpectationFiles(opt, specs[i].name)) {
      auto more = LoadExpectations(file);
      runs[i].expectations.insert(runs[i].expectations.end(), more.begin(), more.end());
    }
    workers[i].spec = specs[i];
    workers[i].run = &runs[i];
  }
  std::cerr << "conform: " << tests.size() << " tests, " << specs.size() << " target(s), seed "
            << opt.seed << ", tolerance " << opt.tolerance << " s; logs in " << opt.log_dir << "\n";
  RunTargets(workers, opt, opt.seed, tests);
  for (auto& run : runs) Aggregate(cat, clauses, run);
  const std::string started = NowIso();
  if (!opt.json.empty() || !opt.markdown.empty() || !opt.html.empty()) {
    if (opt.json.empty()) opt.json = (fs::path(opt.log_dir) / "conformance.json").string();
    fs::create_directories(fs::absolute(opt.json).parent_path());
    Json doc = ToJson(cat, runs, opt.seed, opt.tolerance, started);
    doc["coverage"] = CoverageByArea();
    std::ofstream(opt.json) << doc.dump(1) << "\n";
  }
  if (!opt.junit.empty()) {
    fs::create_directories(fs::absolute(opt.junit).parent_path());
    std::ofstream(opt.junit) << ToJUnit(cat, runs);
  }
  if (!opt.markdown.empty() || !opt.html.empty()) WriteMatrix(opt);
  std::cout << SummaryTable(runs);
  bool unexpected = false;
  for (const auto& run : runs) {
    for (const auto& [id, r] : run.results) unexpected |= IsUnexpected(r.result);
  }
  std::cout << (unexpected ? "gate: FAILED" : "gate: passed") << " (seed " << opt.seed
            << "; reproduce with --seed " << opt.seed << ")\n";
  if (!opt.json.empty()) std::cout << "results: " << opt.json << "\n";
  return opt.gate && unexpected ? 1 : 0;
}

}  // namespace
}  // namespace mpipc::conformance

int main(int argc, char** argv) {
  using namespace mpipc::conformance;
  ::signal(SIGPIPE, SIG_IGN);
  // Worker mode takes GoogleTest's own flags too, so it is parsed by hand.
  if (argc > 1 && std::string(argv[1]) == "--worker") {
    std::string name;
    std::string driver_argv;
    std::string driver_log;
    int progress_fd = 3;
    uint64_t seed = 1;
    double tolerance = 0.5;
    double limit = 20;
    std::vector<char*> rest = {argv[0]};
    for (int i = 2; i < argc; ++i) {
      std::string a = argv[i];
      auto value = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
      if (a == "--name") {
        name = value();
      } else if (a == "--driver-argv") {
        driver_argv = value();
      } else if (a == "--driver-log") {
        driver_log = value();
      } else if (a == "--progress-fd") {
        progress_fd = std::stoi(value());
      } else if (a == "--seed") {
        seed = std::stoull(value());
      } else if (a == "--tolerance") {
        tolerance = std::stod(value());
      } else if (a == "--limit") {
        limit = std::stod(value());
      } else {
        rest.push_back(argv[i]);
      }
    }
    int rest_argc = static_cast<int>(rest.size());
    rest.push_back(nullptr);  // InitGoogleTest reads argv[argc] when it removes its own flags
    return RunWorker(rest_argc, rest.data(),
                     Json::parse(driver_argv).get<std::vector<std::string>>(), name, driver_log,
                     progress_fd, seed, tolerance, limit);
  }

  Options opt;
  CLI::App app{
      "mpipc conform: run the conformance suite (spec/clauses) against implementations of "
      "Python's multiprocessing IPC through their drivers (spec/driver-protocol.md)"};
  app.add_option("--target", opt.targets,
                 "Target to run: reference, cpython-3.11, cpython-3.12, cpython-3.13, "
                 "multiprocess, or all (the default when neither --target nor --driver is given)");
  app.add_option("--driver", opt.drivers, "A driver command line (a third-party target)");
  app.add_option("--name", opt.driver_name, "Target name for --driver (default: program name)");
  app.add_option("--filter", opt.filters,
                 "Glob over clause IDs and test names (Q-*, 'WIRE-HS-*', QueueTest.*)");
  app.add_option(
      "--expect", opt.expect,
      "Expectation file(s) used instead of the defaults (conformance/expectations/<target>.txt "
      "and conformance/expectations/<target>/*.txt)");
  app.add_option("--junit", opt.junit, "Write JUnit XML here");
  app.add_option("--json", opt.json, "Write the results JSON (spec/results.md) here");
  app.add_option("--markdown", opt.markdown, "Write the matrix (clauses x targets) as Markdown");
  app.add_option("--html", opt.html, "Write the matrix as a self-contained HTML page");
  app.add_option("--logs", opt.log_dir, "Directory for suite and driver logs (conform-logs)");
  app.add_option("--seed", opt.seed, "Seed for randomised tests and properties")
      ->each([&opt](const std::string&) { opt.seed_given = true; });
  app.add_option("--tolerance", opt.tolerance,
                 "Seconds of slack allowed on timing clauses (raise on a loaded machine)");
  app.add_option("--limit", opt.limit, "Seconds to wait for any single response (then TIMEOUT)");
  app.add_option("--target-timeout", opt.target_timeout, "Seconds for a whole target's run");
  app.add_option("--jobs", opt.jobs, "Targets run at once")->check(CLI::PositiveNumber);
  app.add_flag("--gate", opt.gate, "Exit 1 on any FAIL, XPASS, TIMEOUT or CRASH");
  app.add_flag("--list", opt.list, "List the tests and the clauses each checks");
  app.add_flag("--check-traceability", opt.trace,
               "Check that every clause is tested and every test names existing clauses");
  app.add_flag("-v,--verbose", opt.verbose, "Print every non-passing test as it finishes");
  CLI11_PARSE(app, argc, argv);
  try {
    return Orchestrate(opt);
  } catch (const std::exception& e) {
    std::cerr << "conform: " << e.what() << "\n";
    return 2;
  }
}
