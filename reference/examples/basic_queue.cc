// The seed's "Basic Queue Communication" example: a producer process puts four items and a None
// sentinel; a consumer process gets them until the sentinel.
#include <iostream>
#include <string>
#include <vector>

#include "mpipc/mpipc.h"

using mpipc::Value;

void Producer(mpipc::Queue<Value>& q, const std::vector<std::string>& items) {
  for (const std::string& item : items) {
    std::cout << "Producing " << item << std::endl;
    q.put(item);
  }
  q.put(nullptr);  // Signal completion
}

void Consumer(mpipc::Queue<Value>& q) {
  for (;;) {
    const Value item = q.get();
    if (item.is_none()) break;
    std::cout << "Consuming " << item.as_str() << std::endl;
  }
}

int main() {
  mpipc::Queue<Value> queue;
  const std::vector<std::string> items_to_produce = {"item1", "item2", "item3", "item4"};
  mpipc::Process prod([&] { Producer(queue, items_to_produce); });
  mpipc::Process cons([&] { Consumer(queue); });
  prod.start();
  cons.start();
  prod.join();
  cons.join();
  return prod.exitcode() == 0 && cons.exitcode() == 0 ? 0 : 1;
}
