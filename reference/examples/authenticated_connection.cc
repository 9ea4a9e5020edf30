// The seed's "Connection with Authentication" example: a server process echoes messages from a
// client process over TCP, both authenticating with the same key (HMAC challenge-response,
// wire-compatible with CPython). The Listener is bound before the server process starts, so the
// client needs no sleep to wait for it; port 0 picks a free port instead of the fixed 6000.
#include <iostream>
#include <string>

#include "mpipc/mpipc.h"

using mpipc::Value;

void Server(mpipc::Listener& listener) {
  std::cout << "Server listening on " << listener.address().ToString() << std::endl;
  mpipc::Connection conn = listener.accept();
  std::cout << "Connection accepted" << std::endl;
  for (;;) {
    try {
      const Value msg = conn.recv<Value>();
      std::cout << "Server received: " << msg.as_str() << std::endl;
      if (msg == Value("quit")) break;
      conn.send(Value("Echo: " + msg.as_str()));
    } catch (const mpipc::EOFError&) {
      break;
    }
  }
}

void Client(const mpipc::Address& address, const std::string& authkey) {
  mpipc::Connection conn = mpipc::Client(address, std::nullopt, authkey);
  for (const char* msg : {"hello", "world", "quit"}) {
    conn.send(Value(msg));
    if (std::string(msg) != "quit") {
      std::cout << "Client received: " << conn.recv<Value>().as_str() << std::endl;
    }
  }
}

int main() {
  const std::string authkey = "secret_key";
  mpipc::Listener listener(mpipc::Address::Inet("127.0.0.1", 0), std::nullopt,
                           mpipc::Listener::kDefaultBacklog, authkey);
  const mpipc::Address address = listener.address();
  mpipc::Process server_process([&listener] { Server(listener); });
  server_process.start();
  listener.close();  // the server process has its own copy of the socket
  mpipc::Process client_process([&address, &authkey] { Client(address, authkey); });
  client_process.start();
  client_process.join();
  server_process.join();
  return server_process.exitcode() == 0 && client_process.exitcode() == 0 ? 0 : 1;
}
