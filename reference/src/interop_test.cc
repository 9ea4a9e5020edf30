// Interop tests: mpipc's Listener/Client against real CPython multiprocessing (and the
// `multiprocess` fork), both directions, AF_INET and AF_UNIX, with and without authkeys
// (semantics.md 1.M-1.O, wire-protocol.md §2.4-2.6).
//
// The Python side is reference/testdata/py_peer.py, spawned with socketpairs for its stdin and
// stdout and driven by a line protocol (JSON lines out, commands in; see the script). Every wait
// on the peer has a timeout, and a watchdog kills a peer that outlives kWatchdogSeconds, which
// also unblocks any socket call of ours that waits on it; the child is always reaped. An
// interpreter (or module) that is not installed makes its tests skip, with the reason.

#include <errno.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <thread>
#include <typeinfo>
#include <utility>
#include <vector>

#include "mpipc/connection.h"
#include "mpipc/errors.h"
#include "mpipc/handshake.h"
#include "mpipc/listener.h"
#include "test_support.h"

extern char** environ;

namespace mpipc {
namespace {

namespace fs = std::filesystem;
using testing_support::Capture;
using testing_support::Clock;
using testing_support::Hex;

constexpr double kEventTimeout = 10.0;     // for one line from the peer
constexpr double kWatchdogSeconds = 15.0;  // a peer alive longer than this is killed
constexpr double kEmptyKeyTimeout = 1.0;   // AuthOptions::timeout against a peer skipping auth

// ---------------------------------------------------------------------------------------------
// The peer's output: one flat JSON object per line, as Python's json.dumps writes it.

struct JsonValue {
  bool is_string = false;
  std::string text;  // the decoded string, or the literal (123, true, null)
};

class Event {
 public:
  static std::optional<Event> Parse(std::string_view line);
  // The string value of `key`, "" when absent or not a string.
  std::string Str(const std::string& key) const {
    const auto it = fields_.find(key);
    return it != fields_.end() && it->second.is_string ? it->second.text : "";
  }
  // The literal value of `key` (number, true, false, null), "" when absent or a string.
  std::string Literal(const std::string& key) const {
    const auto it = fields_.find(key);
    return it != fields_.end() && !it->second.is_string ? it->second.text : "";
  }
  const std::string& line() const { return line_; }

 private:
  std::map<std::string, JsonValue> fields_;
  std::string line_;
};

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

std::optional<Event> Event::Parse(std::string_view line) {
  Event event;
  event.line_ = std::string(line);
  size_t i = 0;
  auto skip_ws = [&] {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
  };
  auto hex4 = [&](uint32_t& cp) {
    if (i + 4 > line.size()) return false;
    cp = static_cast<uint32_t>(std::stoul(std::string(line.substr(i, 4)), nullptr, 16));
    i += 4;
    return true;
  };
  auto parse_string = [&](std::string& out) {
    if (i >= line.size() || line[i] != '"') return false;
    ++i;
    while (i < line.size() && line[i] != '"') {
      if (line[i] != '\\') {
        out += line[i++];
        continue;
      }
      if (++i >= line.size()) return false;
      const char c = line[i++];
      switch (c) {
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'u': {
          uint32_t cp = 0;
          if (!hex4(cp)) return false;
          if (cp >= 0xd800 && cp < 0xdc00 && line.substr(i, 2) == "\\u") {
            i += 2;
            uint32_t low = 0;
            if (!hex4(low)) return false;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
          }
          AppendUtf8(out, cp);
          break;
        }
        default:
          out += c;  // \" \\ \/
      }
    }
    if (i >= line.size()) return false;
    ++i;
    return true;
  };
  skip_ws();
  if (i >= line.size() || line[i] != '{') return std::nullopt;
  ++i;
  for (;;) {
    skip_ws();
    if (i < line.size() && line[i] == '}') break;
    std::string key;
    if (!parse_string(key)) return std::nullopt;
    skip_ws();
    if (i >= line.size() || line[i] != ':') return std::nullopt;
    ++i;
    skip_ws();
    JsonValue value;
    if (i < line.size() && line[i] == '"') {
      value.is_string = true;
      if (!parse_string(value.text)) return std::nullopt;
    } else {
      while (i < line.size() && line[i] != ',' && line[i] != '}' && line[i] != ' ') {
        value.text += line[i++];
      }
      if (value.text.empty()) return std::nullopt;
    }
    event.fields_[key] = std::move(value);
    skip_ws();
    if (i < line.size() && line[i] == ',') {
      ++i;
      continue;
    }
    if (i < line.size() && line[i] == '}') break;
    return std::nullopt;
  }
  return event;
}

// ---------------------------------------------------------------------------------------------
// A spawned Python process with socketpairs for stdin and stdout.

class PyProcess {
 public:
  PyProcess() = default;
  PyProcess(const PyProcess&) = delete;
  PyProcess& operator=(const PyProcess&) = delete;
  ~PyProcess() { Finish(); }

  // Spawns `python args...`; false (with `error`) when it cannot be started.
  bool Start(const std::string& python, const std::vector<std::string>& args, std::string* error) {
    int in[2];
    int out[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) != 0) {
      *error = std::strerror(errno);
      return false;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, out) != 0) {
      *error = std::strerror(errno);
      close(in[0]);
      close(in[1]);
      return false;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[1], 0);  // dup2 clears FD_CLOEXEC
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    std::vector<std::string> argv_storage = {python};
    argv_storage.insert(argv_storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : argv_storage) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int rc = posix_spawn(&pid_, python.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(in[1]);
    close(out[1]);
    if (rc != 0) {
      *error = "posix_spawn " + python + ": " + std::strerror(rc);
      close(in[0]);
      close(out[0]);
      pid_ = -1;
      return false;
    }
    in_fd_ = in[0];
    out_fd_ = out[0];
    watchdog_ = std::thread([this] { Watch(); });
    return true;
  }

  // The next line of output (without '\n'); nullopt at end of output or after `timeout`.
  std::optional<std::string> ReadLine(double timeout = kEventTimeout) {
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(timeout));
    for (;;) {
      const size_t nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      if (out_fd_ < 0) return std::nullopt;
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return std::nullopt;
      struct pollfd p {};
      p.fd = out_fd_;
      p.events = POLLIN;
      const int r = ::poll(&p, 1, static_cast<int>(left.count()));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return std::nullopt;
      char chunk[4096];
      const ssize_t n = read(out_fd_, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        close(out_fd_);
        out_fd_ = -1;
        continue;  // a last unterminated line is dropped
      }
      buffer_.append(chunk, static_cast<size_t>(n));
    }
  }

  void WriteLine(const std::string& line) {
    if (in_fd_ < 0) return;
    const std::string data = line + "\n";
    size_t sent = 0;
    while (sent < data.size()) {
      const ssize_t n = send(in_fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ADD_FAILURE() << "cannot write to the peer: " << std::strerror(errno);
        return;
      }
      sent += static_cast<size_t>(n);
    }
  }

  // Closes stdin (the peer exits at end of input), collects the remaining output, reaps the
  // process (killing it when it does not exit within `timeout`) and returns its wait status.
  // Idempotent; -1 when there was no process.
  int Finish(double timeout = kEventTimeout, std::vector<std::string>* rest = nullptr) {
    if (pid_ < 0) return status_;
    if (in_fd_ >= 0) {
      close(in_fd_);
      in_fd_ = -1;
    }
    while (auto line = ReadLine(timeout)) {
      if (rest != nullptr) rest->push_back(*line);
    }
    if (out_fd_ >= 0) {  // no end of output within the timeout: the peer hangs
      kill(pid_, SIGKILL);
      close(out_fd_);
      out_fd_ = -1;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      finished_ = true;
    }
    cv_.notify_all();
    if (watchdog_.joinable()) watchdog_.join();
    // The watchdog is joined, so nothing can signal the pid once it is reaped.
    while (waitpid(pid_, &status_, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return status_;
  }

  bool killed_by_watchdog() const { return killed_by_watchdog_; }

 private:
  void Watch() {
    std::unique_lock<std::mutex> lock(mutex_);
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(kWatchdogSeconds));
    if (!cv_.wait_until(lock, deadline, [this] { return finished_; })) {
      killed_by_watchdog_ = true;
      kill(pid_, SIGKILL);
    }
  }

  pid_t pid_ = -1;
  int in_fd_ = -1;
  int out_fd_ = -1;
  int status_ = -1;
  std::string buffer_;
  std::thread watchdog_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool finished_ = false;
  std::atomic<bool> killed_by_watchdog_{false};
};

// ---------------------------------------------------------------------------------------------
// The interpreters

struct Interpreter {
  const char* name;     // test-name suffix
  const char* python;   // executable
  const char* module;   // multiprocessing or multiprocess
  const char* version;  // the expected platform.python_version()
  // L-AUTH-ENABLE: does its Listener authenticate with authkey b''? (3.11.7/3.12.1: no.)
  bool listener_authenticates_empty_key;
  // wire-protocol.md §2.4: legacy 20-byte challenges and raw HMAC-MD5 replies.
  bool legacy_handshake;
};

const Interpreter kInterpreters[] = {
    {"CPython3_11_7", "/root/.pyenv/versions/3.11.7/bin/python3", "multiprocessing", "3.11.7",
     false, true},
    {"CPython3_12_1", "/root/.pyenv/versions/3.12.1/bin/python3", "multiprocessing", "3.12.1",
     false, false},
    {"CPython3_13_0", "/root/.pyenv/versions/3.13.0/bin/python3", "multiprocessing", "3.13.0", true,
     false},
    // Debian's python3-multiprocess 0.70.12.2 on Python 3.11: its connection.py is the legacy
    // tree (MESSAGE_LENGTH = 20) and still has `if self._authkey:` in Listener.accept, i.e. it
    // predates the bpo-43952 fix that semantics.md L-AUTH-ENABLE attributes to multiprocess.
    {"SystemMultiprocess", "/usr/bin/python3", "multiprocess", "", false, true},
};

// Names the interpreter in gtest's messages (instead of a byte dump).
void PrintTo(const Interpreter& interp, std::ostream* os) { *os << interp.name; }

std::string PeerScript() {
  const char* root = getenv("MPIPC_SOURCE_DIR");
  const std::string base = root != nullptr ? root : ".";
  return base + "/reference/testdata/py_peer.py";
}

// py_peer.py's pattern(n, seed).
std::string Pattern(size_t n, unsigned seed) {
  std::string out(n, '\0');
  for (size_t i = 0; i < n; ++i) {
    out[i] = static_cast<char>((i % 256 + (i / 256) * 37 + seed) % 256);
  }
  return out;
}

// Why an interpreter cannot be used ("" when it can); probed once per interpreter.
std::string Unavailable(const Interpreter& interp) {
  static std::mutex mutex;
  static std::map<std::string, std::string> cache;
  std::lock_guard<std::mutex> lock(mutex);
  const std::string key = std::string(interp.python) + " " + interp.module;
  const auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  std::string reason;
  if (access(interp.python, X_OK) != 0) {
    reason = std::string("interpreter not found: ") + interp.python;
  } else if (access(PeerScript().c_str(), R_OK) != 0) {
    reason = "peer script not found: " + PeerScript() + " (is MPIPC_SOURCE_DIR set?)";
  } else {
    PyProcess probe;
    std::string error;
    if (!probe.Start(interp.python,
                     {"-I", "-c", "import importlib, sys; importlib.import_module(sys.argv[1])",
                      std::string(interp.module) + ".connection"},
                     &error)) {
      reason = error;
    } else {
      const int status = probe.Finish();
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        reason = std::string(interp.python) + " cannot import " + interp.module + ".connection";
      }
    }
  }
  cache[key] = reason;
  return reason;
}

// ---------------------------------------------------------------------------------------------
// The peer

class PyPeer {
 public:
  PyPeer(const Interpreter& interp, const std::string& role, const std::string& address,
         Family family, std::optional<std::string> authkey) {
    std::vector<std::string> args = {"-I",        PeerScript(),
                                     "--module",  interp.module,
                                     "--role",    role,
                                     "--address", address,
                                     "--family",  family == Family::kInet ? "AF_INET" : "AF_UNIX"};
    if (authkey) {
      args.push_back("--authkey-hex=" + Hex(*authkey));
    }
    std::string error;
    started_ = process_.Start(interp.python, args, &error);
    EXPECT_TRUE(started_) << error;
    if (started_) {
      const Event hello = Expect("hello");
      EXPECT_EQ(hello.Str("module"), interp.module);
      if (*interp.version != '\0') {
        EXPECT_EQ(hello.Str("python"), interp.version);
      }
    }
  }

  ~PyPeer() { Finish(); }

  // The next event, which must be `name`; a default Event (with a failure recorded) otherwise.
  Event Expect(const std::string& name) {
    const std::optional<Event> e = Next();
    if (!e) return Event();
    EXPECT_EQ(e->Str("event"), name) << "peer said: " << e->line();
    return *e;
  }

  // The next event, which must be an error of `type` with `message` during `op`.
  void ExpectError(const std::string& op, const std::string& type, const std::string& message) {
    const Event e = Expect("error");
    EXPECT_EQ(e.Str("op"), op) << e.line();
    EXPECT_EQ(e.Str("type"), type) << e.line();
    EXPECT_EQ(e.Str("message"), message) << e.line();
  }

  std::optional<Event> Next() {
    const std::optional<std::string> line = process_.ReadLine();
    if (!line) {
      ADD_FAILURE() << "no event from the peer within " << kEventTimeout << " s (or it exited)";
      return std::nullopt;
    }
    std::optional<Event> e = Event::Parse(*line);
    if (!e) ADD_FAILURE() << "unparsable peer output: " << *line;
    return e;
  }

  void Command(const std::string& line) { process_.WriteLine(line); }

  // Ends the peer and checks that it said goodbye and exited cleanly.
  void Finish() {
    if (!started_ || finished_) return;
    finished_ = true;
    std::vector<std::string> rest;
    const int status = process_.Finish(kEventTimeout, &rest);
    EXPECT_FALSE(process_.killed_by_watchdog()) << "the peer ran over " << kWatchdogSeconds << " s";
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "wait status " << status;
    ASSERT_FALSE(rest.empty()) << "the peer did not say bye";
    EXPECT_EQ(rest.back(), "{\"event\": \"bye\"}");
    for (size_t i = 0; i + 1 < rest.size(); ++i) ADD_FAILURE() << "unexpected: " << rest[i];
  }

 private:
  PyProcess process_;
  bool started_ = false;
  bool finished_ = false;
};

// ---------------------------------------------------------------------------------------------
// The tests

class InteropTest : public ::testing::TestWithParam<std::tuple<Interpreter, Family>> {
 protected:
  void SetUp() override {
    const std::string why = Unavailable(interp());
    if (!why.empty()) GTEST_SKIP() << why;
    std::string templ = (fs::temp_directory_path() / "mpipc-interop-XXXXXX").string();
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    dir_ = templ;
  }
  void TearDown() override {
    if (!dir_.empty()) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    }
  }

  const Interpreter& interp() const { return std::get<0>(GetParam()); }
  Family family() const { return std::get<1>(GetParam()); }

  // An address for a listener of ours.
  Address CppListenAddress() const {
    return family() == Family::kInet ? Address::Inet("127.0.0.1", 0)
                                     : Address::Unix((dir_ / "cpp.sock").string());
  }
  // An address for a listener of Python's.
  std::string PyListenAddress() const {
    return family() == Family::kInet ? "127.0.0.1:0" : (dir_ / "py.sock").string();
  }

  std::unique_ptr<PyPeer> StartPyClient(const Listener& listener, std::optional<std::string> key) {
    return std::make_unique<PyPeer>(interp(), "connect", listener.address().ToString(), family(),
                                    std::move(key));
  }

  static bool WaitForClient(const Listener& listener) {
    struct pollfd p {};
    p.fd = listener.fileno();
    p.events = POLLIN;
    return ::poll(&p, 1, static_cast<int>(kEventTimeout * 1000)) == 1;
  }

  // A Python listener; returns its address (from its "listening" line).
  std::unique_ptr<PyPeer> StartPyListener(std::optional<std::string> key, Address* address) {
    auto peer =
        std::make_unique<PyPeer>(interp(), "listen", PyListenAddress(), family(), std::move(key));
    const Event e = peer->Expect("listening");
    *address = Address::Parse(e.Str("address"));
    return peer;
  }

  fs::path dir_;
};

// Sends and receives empty, small and 1 MiB messages both ways, checking every byte.
void ExchangeData(Connection& conn, PyPeer& peer) {
  struct Case {
    size_t n;
    unsigned seed;
  };
  for (const Case c : {Case{0, 1}, Case{1, 2}, Case{13, 3}, Case{300, 4}, Case{1 << 20, 5}}) {
    SCOPED_TRACE("size " + std::to_string(c.n));
    // C++ -> Python. The command goes first: a 1 MiB send blocks until Python reads.
    peer.Command("recv " + std::to_string(c.n) + " " + std::to_string(c.seed));
    conn.send_bytes(Pattern(c.n, c.seed));
    const Event got = peer.Expect("recv");
    EXPECT_EQ(got.Literal("len"), std::to_string(c.n)) << got.line();
    EXPECT_EQ(got.Literal("match"), "true") << got.line();
    // Python -> C++.
    peer.Command("send " + std::to_string(c.n) + " " + std::to_string(c.seed + 100));
    ASSERT_TRUE(conn.poll(kEventTimeout)) << "nothing from the peer";
    const std::string received = conn.recv_bytes();
    EXPECT_EQ(received.size(), c.n);
    EXPECT_TRUE(received == Pattern(c.n, c.seed + 100)) << "content differs";
    peer.Expect("sent");
  }
  // An echo, with every byte value.
  peer.Command("echo");
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  conn.send_bytes(all);
  ASSERT_TRUE(conn.poll(kEventTimeout));
  EXPECT_EQ(conn.recv_bytes(), all);
  peer.Expect("echoed");
}

// Python Client -> C++ Listener, same key (CL-AUTH, L-ACCEPT, MP-INTEROP).
TEST_P(InteropTest, PyClientToCppListenerRightKey) {
  Listener listener(CppListenAddress(), std::nullopt, 1, "interop key");
  auto peer = StartPyClient(listener, "interop key");
  ASSERT_TRUE(WaitForClient(listener)) << "the Python client did not connect";
  Connection conn = listener.accept();
  peer->Expect("connected");
  ExchangeData(conn, *peer);
  // Closing our end: Python sees EOFError.
  conn.close();
  peer->Command("recv 0 0");
  peer->ExpectError("recv", "EOFError", "");
}

TEST_P(InteropTest, CppClientToPyListenerRightKey) {
  Address address;
  auto peer = StartPyListener("interop key", &address);
  Connection conn = Client(address, std::nullopt, "interop key");
  peer->Expect("accepted");
  ExchangeData(conn, *peer);
  peer->Command("close");
  peer->Expect("closed");
  ASSERT_TRUE(conn.poll(kEventTimeout));
  EXPECT_THROW_MSG(conn.recv_bytes(), EOFError, "");
}

// CL-AUTH / L-AUTH-FAIL: a key mismatch fails on both sides with CPython's messages.
TEST_P(InteropTest, PyClientToCppListenerWrongKey) {
  Listener listener(CppListenAddress(), std::nullopt, 1, "server key");
  auto peer = StartPyClient(listener, "client key");
  ASSERT_TRUE(WaitForClient(listener));
  EXPECT_THROW_MSG(listener.accept(), AuthenticationError, "digest received was wrong");
  peer->ExpectError("connect", "AuthenticationError", "digest sent was rejected");
  peer->Finish();
  // The listener stays usable.
  auto next = StartPyClient(listener, "server key");
  ASSERT_TRUE(WaitForClient(listener));
  Connection conn = listener.accept();
  next->Expect("connected");
  next->Command("send 5 0");
  ASSERT_TRUE(conn.poll(kEventTimeout));
  EXPECT_EQ(conn.recv_bytes(), Pattern(5, 0));
  next->Expect("sent");
}

TEST_P(InteropTest, CppClientToPyListenerWrongKey) {
  Address address;
  auto peer = StartPyListener("server key", &address);
  EXPECT_THROW_MSG(Client(address, std::nullopt, "client key"), AuthenticationError,
                   "digest sent was rejected");
  peer->ExpectError("accept", "AuthenticationError", "digest received was wrong");
}

// AUTH-NO-DEFAULT-KEY: no key on either side, no handshake.
TEST_P(InteropTest, PyClientToCppListenerNoKey) {
  Listener listener(CppListenAddress());
  auto peer = StartPyClient(listener, std::nullopt);
  ASSERT_TRUE(WaitForClient(listener));
  Connection conn = listener.accept();
  peer->Expect("connected");
  ExchangeData(conn, *peer);
}

TEST_P(InteropTest, CppClientToPyListenerNoKey) {
  Address address;
  auto peer = StartPyListener(std::nullopt, &address);
  Connection conn = Client(address);
  peer->Expect("accepted");
  ExchangeData(conn, *peer);
}

// L-AUTH-ENABLE: a Python Client with b'' always runs the handshake (`authkey is not None`), so
// it authenticates against our Listener with "" on every version.
TEST_P(InteropTest, PyClientToCppListenerEmptyKey) {
  Listener listener(CppListenAddress(), std::nullopt, 1, "");
  auto peer = StartPyClient(listener, "");
  ASSERT_TRUE(WaitForClient(listener));
  Connection conn = listener.accept();
  peer->Expect("connected");
  ExchangeData(conn, *peer);
}

TEST_P(InteropTest, PyClientWithEmptyKeyToCppListenerWithAKey) {
  Listener listener(CppListenAddress(), std::nullopt, 1, "secret");
  auto peer = StartPyClient(listener, "");
  ASSERT_TRUE(WaitForClient(listener));
  EXPECT_THROW_MSG(listener.accept(), AuthenticationError, "digest received was wrong");
  peer->ExpectError("connect", "AuthenticationError", "digest sent was rejected");
}

// L-AUTH-ENABLE: a CPython 3.11.7/3.12.1 (and Debian multiprocess 0.70.12.2) Listener with b''
// skips authentication, so our Client with "" waits for a challenge that never comes; with
// AuthOptions::timeout it raises TimeoutError. 3.13 authenticates and it works.
TEST_P(InteropTest, CppClientToPyListenerEmptyKey) {
  Address address;
  auto peer = StartPyListener("", &address);
  AuthOptions options;
  options.timeout = kEmptyKeyTimeout;
  if (interp().listener_authenticates_empty_key) {
    Connection conn = Client(address, std::nullopt, "", options);
    peer->Expect("accepted");
    ExchangeData(conn, *peer);
    return;
  }
  const auto start = Clock::now();
  const auto e = Capture<OSError>([&] { Client(address, std::nullopt, "", options); });
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->errnum(), ETIMEDOUT);
  EXPECT_EQ(e->python_name(), "TimeoutError");
  EXPECT_EQ(e->message(), "authentication handshake timed out");
  EXPECT_GE(elapsed, kEmptyKeyTimeout * 0.9);
  EXPECT_LE(elapsed, kEmptyKeyTimeout + 5.0);
  // The Python listener accepted without authenticating.
  peer->Expect("accepted");
}

// wire-protocol.md §2.4/2.5 against the real thing: a Python Client with a key, and a raw server
// of ours (a Listener without a key, the handshake spoken by hand) that records the messages.
TEST_P(InteropTest, PythonClientHandshakeMessages) {
  const std::string key = "wire key";
  Listener listener(CppListenAddress());
  auto peer = StartPyClient(listener, key);
  ASSERT_TRUE(WaitForClient(listener));
  Connection conn = listener.accept();
  // Python answers first.
  const std::string message = "{sha256}" + std::string(40, '\x5a');
  conn.send_bytes("#CHALLENGE#" + message);
  ASSERT_TRUE(conn.poll(kEventTimeout));
  const std::string response = conn.recv_bytes();
  if (interp().legacy_handshake) {
    // Raw HMAC-MD5 over the whole payload, prefix included.
    EXPECT_EQ(Hex(response), Hex(auth::Hmac("md5", key, message)));
  } else {
    EXPECT_EQ(Hex(response), Hex("{sha256}" + auth::Hmac("sha256", key, message)));
  }
  EXPECT_NO_THROW(auth::VerifyResponse(key, message, response));
  conn.send_bytes("#WELCOME#");
  // Then Python challenges.
  ASSERT_TRUE(conn.poll(kEventTimeout));
  const std::string challenge = conn.recv_bytes();
  ASSERT_EQ(challenge.substr(0, 11), "#CHALLENGE#");
  if (interp().legacy_handshake) {
    EXPECT_EQ(challenge.size(), 11u + 20u);
  } else {
    EXPECT_EQ(challenge.size(), 11u + 8u + 40u);
    EXPECT_EQ(challenge.substr(11, 8), "{sha256}");
  }
  conn.send_bytes(auth::CreateResponse(key, std::string_view(challenge).substr(11)));
  ASSERT_TRUE(conn.poll(kEventTimeout));
  EXPECT_EQ(conn.recv_bytes(), "#WELCOME#");
  peer->Expect("connected");
}

// A Python Listener with a key, and a raw client of ours.
TEST_P(InteropTest, PythonListenerHandshakeMessages) {
  const std::string key = "wire key";
  Address address;
  auto peer = StartPyListener(key, &address);
  Connection conn = Client(address);
  ASSERT_TRUE(conn.poll(kEventTimeout));
  const std::string challenge = conn.recv_bytes();
  ASSERT_EQ(challenge.substr(0, 11), "#CHALLENGE#");
  EXPECT_EQ(challenge.size(), interp().legacy_handshake ? 11u + 20u : 11u + 8u + 40u);
  // An AUTH-DOWNGRADE reply: raw HMAC-MD5 to whatever challenge, accepted by every version.
  conn.send_bytes(auth::Hmac("md5", key, std::string_view(challenge).substr(11)));
  ASSERT_TRUE(conn.poll(kEventTimeout));
  EXPECT_EQ(conn.recv_bytes(), "#WELCOME#");
  // A {sha3_384} challenge of ours is answered in kind by 3.12+; a legacy peer answers with raw
  // HMAC-MD5 over the whole payload.
  const std::string message = "{sha3_384}" + std::string(40, '\x11');
  conn.send_bytes("#CHALLENGE#" + message);
  ASSERT_TRUE(conn.poll(kEventTimeout));
  const std::string response = conn.recv_bytes();
  if (interp().legacy_handshake) {
    EXPECT_EQ(Hex(response), Hex(auth::Hmac("md5", key, message)));
  } else {
    EXPECT_EQ(Hex(response), Hex("{sha3_384}" + auth::Hmac("sha3_384", key, message)));
  }
  conn.send_bytes("#WELCOME#");
  peer->Expect("accepted");
  peer->Command("send 3 9");
  ASSERT_TRUE(conn.poll(kEventTimeout));
  EXPECT_EQ(conn.recv_bytes(), Pattern(3, 9));
  peer->Expect("sent");
}

// A Python Listener with a key rejects a wrong reply with '#FAILURE#' (sent before it raises).
TEST_P(InteropTest, PythonListenerSendsFailure) {
  Address address;
  auto peer = StartPyListener("key", &address);
  Connection conn = Client(address);
  ASSERT_TRUE(conn.poll(kEventTimeout));
  conn.recv_bytes();
  conn.send_bytes(std::string(16, 'x'));
  ASSERT_TRUE(conn.poll(kEventTimeout));
  EXPECT_EQ(conn.recv_bytes(), "#FAILURE#");
  peer->ExpectError("accept", "AuthenticationError", "digest received was wrong");
}

std::string ParamName(const ::testing::TestParamInfo<InteropTest::ParamType>& info) {
  return std::string(std::get<0>(info.param).name) +
         (std::get<1>(info.param) == Family::kInet ? "_Inet" : "_Unix");
}

INSTANTIATE_TEST_SUITE_P(Interpreters, InteropTest,
                         ::testing::Combine(::testing::ValuesIn(kInterpreters),
                                            ::testing::Values(Family::kInet, Family::kUnix)),
                         ParamName);

// L-ABSTRACT across implementations: Linux abstract names, both directions.
class InteropAbstractTest : public ::testing::TestWithParam<Interpreter> {
 protected:
  void SetUp() override {
    const std::string why = Unavailable(GetParam());
    if (!why.empty()) GTEST_SKIP() << why;
  }
  static std::string UniqueName() {
    static int counter = 0;
    return "mpipc-interop-" + std::to_string(getpid()) + "-" + std::to_string(++counter);
  }
};

TEST_P(InteropAbstractTest, PyClientToCppListener) {
  const std::string name = UniqueName();
  Listener listener(Address::Abstract(name), std::nullopt, 1, "abstract key");
  PyPeer peer(GetParam(), "connect", "@" + name, Family::kUnix, "abstract key");
  struct pollfd p {};
  p.fd = listener.fileno();
  p.events = POLLIN;
  ASSERT_EQ(::poll(&p, 1, static_cast<int>(kEventTimeout * 1000)), 1);
  Connection conn = listener.accept();
  peer.Expect("connected");
  ExchangeData(conn, peer);
}

TEST_P(InteropAbstractTest, CppClientToPyListener) {
  const std::string name = UniqueName();
  PyPeer peer(GetParam(), "listen", "@" + name, Family::kUnix, "abstract key");
  const Event e = peer.Expect("listening");
  EXPECT_EQ(e.Str("address"), "@" + name);
  Connection conn = Client(Address::Parse(e.Str("address")), std::nullopt, "abstract key");
  peer.Expect("accepted");
  ExchangeData(conn, peer);
}

INSTANTIATE_TEST_SUITE_P(Interpreters, InteropAbstractTest, ::testing::ValuesIn(kInterpreters),
                         [](const ::testing::TestParamInfo<Interpreter>& info) {
                           return std::string(info.param.name);
                         });

// The parser the tests rely on.
TEST(InteropHelpersTest, EventParse) {
  const auto e =
      Event::Parse(R"({"event": "error", "op": "connect", "type": "AuthenticationError", )"
                   R"("message": "a \"q\" \\ \n \u00e9 \ud83d\ude00", "errno": null, "len": 12})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->Str("event"), "error");
  EXPECT_EQ(e->Str("message"), "a \"q\" \\ \n \xc3\xa9 \xf0\x9f\x98\x80");
  EXPECT_EQ(e->Literal("errno"), "null");
  EXPECT_EQ(e->Literal("len"), "12");
  EXPECT_EQ(e->Str("missing"), "");
  EXPECT_FALSE(Event::Parse("Traceback (most recent call last):"));
  EXPECT_FALSE(Event::Parse(R"({"event": "x")"));
}

TEST(InteropHelpersTest, PatternMatchesThePeerScript) {
  // pattern(600, 3)[250:262] in py_peer.py.
  EXPECT_EQ(Hex(Pattern(600, 3).substr(250, 12)), "fdfeff00010228292a2b2c2d");
}

}  // namespace

void PrintTo(Family family, std::ostream* os) {
  *os << (family == Family::kInet ? "kInet" : "kUnix");
}

}  // namespace mpipc
