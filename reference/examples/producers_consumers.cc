// The seed's "Multiple Producers and Consumers" example: two producers put five items each at
// random intervals; three consumers take items until get() times out after 2 seconds.
#include <chrono>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "mpipc/mpipc.h"

using mpipc::Value;

namespace {
void SleepUniform(std::mt19937& rng, double lo, double hi) {
  std::uniform_real_distribution<double> d(lo, hi);
  std::this_thread::sleep_for(std::chrono::duration<double>(d(rng)));
}
}  // namespace

void Producer(mpipc::Queue<Value>& q, int producer_id, int num_items) {
  std::mt19937 rng(std::random_device{}());
  for (int i = 0; i < num_items; ++i) {
    const std::string item =
        "Producer-" + std::to_string(producer_id) + "-Item-" + std::to_string(i);
    q.put(item);
    std::cout << "Produced: " << item << std::endl;
    SleepUniform(rng, 0.05, 0.2);
  }
}

void Consumer(mpipc::Queue<Value>& q, int consumer_id) {
  std::mt19937 rng(std::random_device{}());
  for (;;) {
    try {
      const Value item = q.get(true, 2.0);
      std::cout << "Consumer-" << consumer_id << " consumed: " << item.as_str() << std::endl;
      SleepUniform(rng, 0.05, 0.3);
    } catch (const mpipc::Empty&) {
      std::cout << "Consumer-" << consumer_id << " timed out, exiting" << std::endl;
      break;
    }
  }
}

int main() {
  mpipc::Queue<Value> queue;
  std::vector<mpipc::Process> producers;
  std::vector<mpipc::Process> consumers;
  for (int i = 0; i < 2; ++i) {
    producers.emplace_back([&queue, i] { Producer(queue, i, 5); });
    producers.back().start();
  }
  for (int i = 0; i < 3; ++i) {
    consumers.emplace_back([&queue, i] { Consumer(queue, i); });
    consumers.back().start();
  }
  int failures = 0;
  for (mpipc::Process& p : producers) {
    p.join();
    failures += p.exitcode() == 0 ? 0 : 1;
  }
  for (mpipc::Process& p : consumers) {
    p.join();
    failures += p.exitcode() == 0 ? 0 : 1;
  }
  return failures;
}
