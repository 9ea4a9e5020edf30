// The seed's "Pipe Communication" example: one process sends messages through a duplex Pipe, the
// other receives them until "DONE". (The Python version passes args=(child_conn), which is not a
// tuple; here the lambda captures the end it uses.)
#include <iostream>
#include <string>
#include <vector>

#include "mpipc/mpipc.h"

using mpipc::Value;

void Sender(mpipc::Connection& conn, const std::vector<std::string>& messages) {
  for (const std::string& msg : messages) {
    std::cout << "Sending: " << msg << std::endl;
    conn.send(Value(msg));
  }
  conn.send(Value("DONE"));
  conn.close();
}

void Receiver(mpipc::Connection& conn) {
  for (;;) {
    const Value msg = conn.recv<Value>();
    std::cout << "Received: " << msg.as_str() << std::endl;
    if (msg == Value("DONE")) break;
  }
  conn.close();
}

int main() {
  auto ends = mpipc::Pipe();
  mpipc::Connection& parent_conn = ends.first;
  mpipc::Connection& child_conn = ends.second;
  const std::vector<std::string> messages = {"Hello", "World", "From", "Pipe"};
  mpipc::Process p1([&] { Sender(parent_conn, messages); });
  mpipc::Process p2([&] { Receiver(child_conn); });
  p1.start();
  p2.start();
  p1.join();
  p2.join();
  return p1.exitcode() == 0 && p2.exitcode() == 0 ? 0 : 1;
}
