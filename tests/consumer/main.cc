// Sends a message and an object through an mpipc Pipe; exits 0 only if both arrive intact.
#include <iostream>
#include <string>
#include <vector>

#include "mpipc/mpipc.h"

int main() {
  auto [a, b] = mpipc::Pipe();
  a.send_bytes(std::string_view("installed"));
  a.send(std::vector<int>{1, 2, 3});
  const std::string got = b.recv_bytes();
  const auto v = b.recv<std::vector<int>>();
  const bool ok = got == "installed" && v == std::vector<int>{1, 2, 3};
  std::cout << (ok ? "consumer ok" : "consumer FAILED") << "\n";
  return ok ? 0 : 1;
}
