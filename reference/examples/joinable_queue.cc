// The seed's "JoinableQueue with Task Tracking" example: two workers process five tasks; the main
// process waits with join() until every task is done, then stops the workers with sentinels.
#include <chrono>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "mpipc/mpipc.h"

using mpipc::Value;

void Worker(mpipc::JoinableQueue<Value>& q) {
  for (;;) {
    const Value item = q.get();
    if (item.is_none()) break;
    std::cout << "Processing " << item.as_str() << std::endl;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // Simulate work
    q.task_done();
  }
}

int main() {
  mpipc::JoinableQueue<Value> q;
  std::vector<mpipc::Process> workers;
  for (int i = 0; i < 2; ++i) {
    workers.emplace_back([&q] { Worker(q); });
    workers.back().start();
  }
  for (int i = 0; i < 5; ++i) q.put("task-" + std::to_string(i));
  q.join();  // Wait for all tasks to complete
  std::cout << "All tasks completed" << std::endl;
  for (size_t i = 0; i < workers.size(); ++i) q.put(nullptr);  // Stop workers
  int failures = 0;
  for (mpipc::Process& p : workers) {
    p.join();
    failures += p.exitcode() == 0 ? 0 : 1;
  }
  return failures;
}
