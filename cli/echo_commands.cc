// `mpipc listen` (an authenticating echo server) and `mpipc connect` (a line-oriented client).
#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include <cstring>

#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>

#include "commands.h"
#include "mpipc/listener.h"

namespace mpipc::cli {

namespace {

struct EchoOptions {
  std::string address;
  std::string authkey_file;
  uint64_t max_message = Connection::kDefaultMaxMessageSize;
  double handshake_timeout = 30.0;
};

// The key is the file's bytes, exactly (no newline is stripped).
std::optional<std::string> ReadAuthkey(const std::string& path) {
  if (path.empty()) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read authkey file '" + path + "'");
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string Describe(const std::exception& e) {
  if (const auto* os = dynamic_cast<const OSError*>(&e)) {
    return std::string(os->python_name()) + ": " + os->what();
  }
  if (dynamic_cast<const AuthenticationError*>(&e)) {
    return std::string("AuthenticationError: ") + e.what();
  }
  if (dynamic_cast<const EOFError*>(&e)) return std::string("EOFError: ") + e.what();
  return e.what();
}

// The socket file to remove when SIGINT/SIGTERM ends `mpipc listen` (empty: none).
char g_socket_path[256];

void UnlinkAndExit(int /*sig*/) {
  if (g_socket_path[0] != '\0') unlink(g_socket_path);  // async-signal-safe
  _exit(0);
}

int RunListen(const EchoOptions& opt) {
  AuthOptions auth;
  if (opt.handshake_timeout > 0) auth.timeout = opt.handshake_timeout;
  Listener listener(Address::Parse(opt.address), std::nullopt, 16, ReadAuthkey(opt.authkey_file),
                    auth);
  const Address& bound = listener.address();
  if (bound.family == Family::kUnix && !bound.abstract &&
      bound.path.size() < sizeof g_socket_path) {
    std::memcpy(g_socket_path, bound.path.c_str(), bound.path.size() + 1);
  }
  struct sigaction sa {};
  sa.sa_handler = &UnlinkAndExit;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::cout << bound.ToString() << std::endl;  // flushes: callers wait for this line
  for (;;) {
    try {
      Connection conn = listener.accept();
      conn.set_max_message_size(opt.max_message);
      std::cerr << "accepted " << listener.last_accepted()->ToString() << "\n";
      for (;;) {
        std::string msg;
        try {
          msg = conn.recv_bytes();
        } catch (const EOFError&) {
          break;
        }
        conn.send_bytes(msg);
      }
      std::cerr << "closed\n";
    } catch (const std::exception& e) {
      std::cerr << "connection failed: " << Describe(e) << "\n";
    }
  }
}

int RunConnect(const EchoOptions& opt) {
  try {
    Connection conn =
        Client(Address::Parse(opt.address), std::nullopt, ReadAuthkey(opt.authkey_file));
    std::string line;
    while (std::getline(std::cin, line)) {
      conn.send_bytes(line);
      std::cout << conn.recv_bytes() << "\n" << std::flush;
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "mpipc connect: " << Describe(e) << "\n";
    return 1;
  }
}

}  // namespace

void RegisterEchoCommands(CLI::App& app, int& exit_status) {
  auto opt = std::make_shared<EchoOptions>();
  CLI::App* listen = app.add_subcommand(
      "listen",
      "Bind ADDRESS (HOST:PORT, a path, or @NAME), print the bound address, and echo every "
      "message of each accepted connection back to it");
  listen->add_option("address", opt->address, "HOST:PORT, an AF_UNIX path, or @abstract-name")
      ->required();
  listen->add_option("--authkey-file", opt->authkey_file,
                     "require the HMAC handshake with the key in this file (its exact bytes)");
  listen->add_option("--max-message", opt->max_message, "largest message accepted, in bytes");
  listen->add_option("--handshake-timeout", opt->handshake_timeout,
                     "seconds a client may take to authenticate (0: no limit)");
  listen->callback([opt, &exit_status] {
    try {
      exit_status = RunListen(*opt);
    } catch (const std::exception& e) {
      std::cerr << "mpipc listen: " << Describe(e) << "\n";
      exit_status = 1;
    }
  });

  CLI::App* connect = app.add_subcommand(
      "connect",
      "Connect to ADDRESS; send each stdin line (without its newline) as one message and print "
      "each reply as a line");
  connect->add_option("address", opt->address, "HOST:PORT, an AF_UNIX path, or @abstract-name")
      ->required();
  connect->add_option("--authkey-file", opt->authkey_file,
                      "authenticate with the key in this file (its exact bytes)");
  connect->callback([opt, &exit_status] { exit_status = RunConnect(*opt); });
}

}  // namespace mpipc::cli
