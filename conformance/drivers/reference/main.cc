// mpipc-driver-reference: the conformance driver (spec/driver-protocol.md, driver protocol 1) for
// the mpipc reference library. Reads JSON-line requests on stdin, writes responses and events on
// stdout; hello reports implementation "mpipc-reference", target name "reference".
//
// Structure (the protocol's §6): the main thread reads stdin and dispatches. hello, spawn,
// close_all, shutdown and create in main (except Client) answer at once; kill, exit, join,
// measure and every other object request for main run on a thread of their own (a WorkerPool's,
// worker_pool.h); requests for another actor are forwarded down its command channel (actor.h).
// Only this process writes stdout, through one lock (Output); fd 1 itself points at stderr so
// that nothing else can.
//
// Where the reference cannot do what the data model asks, the answer is Unsupported (the suite
// SKIPs the clause):
//   - integers beyond int64 (the model's arbitrary-precision ints): mpipc::Value holds int64
//     only, so such an int in a request, or an arithmetic result beyond int64 (square, add,
//     negate), is Unsupported — not OverflowError, which would claim a Python-visible failure;
//   - a function or an object put into a Queue / JoinableQueue / SimpleQueue (they carry
//     mpipc::Value, which cannot hold one), or nested inside a list/tuple/dict;
//   - an object (queue, connection, listener) sent through a Connection, or waited on when it is
//     not a Connection or Listener.
// Functions do travel through a Connection (Boost.Serialization of polymorphic functors,
// functions.h), as with multiprocess/dill: functions_travel = {pipe: true, queue: false,
// simplequeue: false}.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <exception>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <utility>

#include "actor.h"
#include "errors.h"
#include "functions.h"
#include "json_value.h"
#include "measure.h"
#include "objects.h"
#include "worker_pool.h"

#ifndef MPIPC_DRIVER_VERSION
#define MPIPC_DRIVER_VERSION "0"
#endif

namespace mpipc_driver {
namespace {

constexpr int kProtocol = 1;

std::string CompilerVersion() {
#if defined(__clang__)
  return "clang " __clang_version__;
#elif defined(__GNUC__)
  return "g++ " __VERSION__;
#else
  return "unknown";
#endif
}

class Driver {
 public:
  Driver(int out_fd, int in_fd) : out_(out_fd), in_fd_(in_fd), actors_(out_, in_fd) {}

  // Reads and dispatches requests until shutdown or EOF (which acts as shutdown).
  void Serve() {
    std::string buffer;
    char chunk[65536];
    for (;;) {
      size_t nl = 0;
      while ((nl = buffer.find('\n')) != std::string::npos) {
        std::string line = buffer.substr(0, nl);
        buffer.erase(0, nl + 1);
        if (HandleLine(line)) return;
      }
      const ssize_t n = ::read(in_fd_, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      buffer.append(chunk, static_cast<size_t>(n));
    }
    if (!buffer.empty()) HandleLine(buffer);
    CloseAll();
  }

 private:
  // Returns true after shutdown.
  bool HandleLine(const std::string& line) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) return false;
    Json req;
    try {
      req = ParseLine(line);
      if (!req.is_object()) throw ProtocolError("a request is a JSON object");
    } catch (...) {
      out_.Write(ErrorLine(nullptr, std::current_exception()));
      return false;
    }
    const Json id = req.value("id", Json());
    out_.Sync();  // after the answers this request may depend on (see Output::Sync)
    try {
      return Dispatch(req, id, line);
    } catch (...) {
      out_.Write(ErrorLine(id, std::current_exception()));
      return false;
    }
  }

  // Runs fn on a thread of its own (a worker's) and writes its (plain JSON) result or error.
  void InThread(const Json& id, std::function<Json()> fn) {
    workers_.Submit([this, id, f = std::move(fn)] {
      try {
        out_.Write(OkLine(id, f()));
      } catch (...) {
        out_.Write(ErrorLine(id, std::current_exception()));
      }
    });
  }

  static std::optional<double> Timeout(const Json& req) {
    if (!req.contains("timeout") || req["timeout"].is_null()) return std::nullopt;
    if (!req["timeout"].is_number()) throw ProtocolError("timeout must be a number or null");
    return req["timeout"].get<double>();
  }

  static std::string ActorName(const Json& req) {
    if (!req.contains("actor") || !req["actor"].is_string()) {
      throw ProtocolError("actor must be a name");
    }
    return req["actor"].get<std::string>();
  }

  bool Dispatch(const Json& req, const Json& id, const std::string& line) {
    if (!req.contains("id")) throw ProtocolError("request without id");
    const std::string op =
        req.contains("op") && req["op"].is_string() ? req["op"].get<std::string>() : std::string();
    if (op == "hello") {
      out_.Write(OkLine(id, Hello(req)));
    } else if (op == "spawn") {
      out_.Write(OkLine(id, actors_.Spawn(ActorName(req), table_)));
    } else if (op == "kill") {
      const std::string name = ActorName(req);
      InThread(id, [this, name] { return actors_.Kill(name); });
    } else if (op == "exit" || op == "join") {
      const std::string name = ActorName(req);
      const std::optional<double> timeout = Timeout(req);
      if (op == "join") {
        InThread(id, [this, name, timeout] { return actors_.Join(name, timeout); });
      } else {
        const Json code = req.value("exitcode", Json(0));
        if (!code.is_number_integer()) throw ProtocolError("exitcode must be an integer");
        const int exitcode = code.get<int>();
        InThread(id,
                 [this, name, exitcode, timeout] { return actors_.Exit(name, exitcode, timeout); });
      }
    } else if (op == "close_all") {
      out_.Write(OkLine(id, CloseAll()));
    } else if (op == "shutdown") {
      out_.Write(OkLine(id, CloseAll()));
      return true;
    } else if (op == "measure") {
      InThread(id, [this, req] { return RunMeasure(req, actors_.fork_mutex()); });
    } else if (op == "create" || op == "call" || op == "getattr" || op == "apply" || op == "wait") {
      const std::string actor = req.contains("actor") ? ActorName(req) : "main";
      if (actor != "main") {
        actors_.Forward(actor, id, line);
      } else if (op == "create" && req.value("kind", "") != "Client") {
        out_.Write(ExecuteObjectOp(req, table_));  // never blocks
      } else {
        workers_.Submit([this, req] { out_.Write(ExecuteObjectOp(req, table_)); });
      }
    } else {
      throw ProtocolError("unknown op '" + op + "'");
    }
    return false;
  }

  Json CloseAll() {
    Json killed = actors_.CloseAll();
    const int closed = table_.CloseAll();
    return {{"killed", std::move(killed)}, {"closed", closed}};
  }

  Json Hello(const Json& req) const {
    const Json want = req.value("protocol", Json(kProtocol));
    if (want != Json(kProtocol)) {
      throw ProtocolError("this driver speaks protocol " + std::to_string(kProtocol) + ", not " +
                          want.dump());
    }
    return {
        {"name", "reference"},
        {"implementation", "mpipc-reference"},
        {"implementation_version", MPIPC_DRIVER_VERSION},
        {"language", "c++"},
        {"language_version", std::to_string(__cplusplus)},
        {"language_implementation", CompilerVersion()},
        {"protocol", kProtocol},
        {"pid", ::getpid()},
        {"capabilities",
         {{"kinds", CreateKinds()},
          {"families", {"AF_INET", "AF_UNIX"}},
          {"methods", Methods()},
          {"attributes", Attributes()},
          {"functions", {"identity", "square", "negate", "add", "const"}},
          {"functions_travel", {{"queue", false}, {"simplequeue", false}, {"pipe", true}}},
          {"measure", MeasureKinds()},
          {"start_method", "fork"},
          {"kill", true},
          {"int_range", "int64"}}},
    };
  }

  Output out_;
  int in_fd_;
  Actors actors_;
  Table table_;         // main's handles
  WorkerPool workers_;  // runs the requests that may block
};

}  // namespace
}  // namespace mpipc_driver

int main() {
  // Protocol lines go to a private copy of fd 1; fd 1 becomes stderr, so stray output (ours, the
  // library's, the children's) can never corrupt the stream. Requests come from a private copy of
  // fd 0, which becomes /dev/null.
  const int out_fd = ::fcntl(1, F_DUPFD_CLOEXEC, 3);
  const int in_fd = ::fcntl(0, F_DUPFD_CLOEXEC, 3);
  if (out_fd < 0 || in_fd < 0) {
    std::perror("mpipc-driver-reference: dup");
    return 1;
  }
  ::dup2(2, 1);
  const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull >= 0) {
    ::dup2(devnull, 0);
    ::close(devnull);
  }
  std::signal(SIGPIPE, SIG_IGN);
  mpipc_driver::Driver driver(out_fd, in_fd);
  driver.Serve();
  // Never destroyed: detached threads may still use it. Skip exit hooks and static destructors:
  // queue feeders are cancelled, actors are gone, and calls still blocked in main's threads must
  // not hold the exit up.
  std::cerr.flush();
  std::fflush(nullptr);
  ::_exit(0);
}
