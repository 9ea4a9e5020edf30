// The seed's "Bidirectional Pipe Communication" example: "ping" and "pong" exchange three
// messages each way over one duplex Pipe.
#include <chrono>
#include <iostream>
#include <string>
#include <thread>

#include "mpipc/mpipc.h"

using mpipc::Value;

void PingPong(mpipc::Connection& conn, const std::string& name, int count) {
  for (int i = 0; i < count; ++i) {
    if (name == "ping") {
      const std::string msg = "ping-" + std::to_string(i);
      conn.send(Value(msg));
      std::cout << "Sent: " << msg << std::endl;
      std::cout << "Received: " << conn.recv<Value>().as_str() << std::endl;
    } else {
      std::cout << "Received: " << conn.recv<Value>().as_str() << std::endl;
      const std::string msg = "pong-" + std::to_string(i);
      conn.send(Value(msg));
      std::cout << "Sent: " << msg << std::endl;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

int main() {
  auto ends = mpipc::Pipe(/*duplex=*/true);
  mpipc::Connection& conn1 = ends.first;
  mpipc::Connection& conn2 = ends.second;
  mpipc::Process p1([&] { PingPong(conn1, "ping", 3); });
  mpipc::Process p2([&] { PingPong(conn2, "pong", 3); });
  p1.start();
  p2.start();
  p1.join();
  p2.join();
  return p1.exitcode() == 0 && p2.exitcode() == 0 ? 0 : 1;
}
