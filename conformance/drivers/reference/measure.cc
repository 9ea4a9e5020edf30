#include "measure.h"

#include <pthread.h>
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "errors.h"
#include "mpipc/connection.h"
#include "mpipc/errors.h"
#include "mpipc/process.h"
#include "mpipc/queue.h"

namespace mpipc_driver {

using mpipc::Value;

const std::vector<std::string>& MeasureKinds() {
  static const auto* const kKinds = new std::vector<std::string>{
      "queue_put_get",        "simplequeue_put_get",   "joinablequeue_put_taskdone",
      "pipe_send_recv_bytes", "pipe_send_recv_object", "roundtrip"};
  return *kKinds;
}

namespace {

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A pthread barrier in shared memory, usable by the processes forked after its creation.
class SharedBarrier {
 public:
  explicit SharedBarrier(unsigned count) {
    void* mem = ::mmap(nullptr, sizeof(pthread_barrier_t), PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) throw mpipc::OSErrorFromErrno(errno);
    barrier_ = static_cast<pthread_barrier_t*>(mem);
    pthread_barrierattr_t attr;
    pthread_barrierattr_init(&attr);
    pthread_barrierattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_barrier_init(barrier_, &attr, count);
    pthread_barrierattr_destroy(&attr);
  }
  ~SharedBarrier() {
    pthread_barrier_destroy(barrier_);
    ::munmap(barrier_, sizeof(pthread_barrier_t));
  }
  SharedBarrier(const SharedBarrier&) = delete;
  SharedBarrier& operator=(const SharedBarrier&) = delete;
  void Wait() { pthread_barrier_wait(barrier_); }

 private:
  pthread_barrier_t* barrier_ = nullptr;
};

// The worker processes of one measurement; any still running at the end are killed.
class Workers {
 public:
  explicit Workers(std::mutex& fork_mu) : fork_mu_(fork_mu) {}
  ~Workers() {
    for (auto& p : procs_) {
      if (p->is_alive()) p->kill();
      p->join();
    }
  }
  Workers(const Workers&) = delete;
  Workers& operator=(const Workers&) = delete;

  void Add(std::function<void()> target) {
    procs_.push_back(std::make_unique<mpipc::Process>(std::move(target)));
  }
  void Start() {
    const std::lock_guard<std::mutex> lock(fork_mu_);
    for (auto& p : procs_) p->start();
  }
  void Join(size_t first, size_t count) {
    for (size_t i = first; i < first + count; ++i) procs_[i]->join();
  }
  // The next report on `done`; RuntimeError if a worker failed instead.
  Value Collect(mpipc::Queue<Value>& done) {
    for (;;) {
      try {
        return done.get(true, 0.2);
      } catch (const mpipc::Empty&) {
      }
      for (auto& p : procs_) {
        const std::optional<int> code = p->exitcode();
        if (code && *code != 0) {
          throw DriverError("RuntimeError",
                            "measure: a worker exited with code " + std::to_string(*code));
        }
      }
    }
  }

 private:
  std::mutex& fork_mu_;
  std::vector<std::unique_ptr<mpipc::Process>> procs_;
};

int64_t Field(const Json& req, const char* name, int64_t dflt) {
  if (!req.contains(name)) return dflt;
  const Json& v = req[name];
  if (!v.is_number_integer() || v.get<int64_t>() < 0) {
    throw ProtocolError(std::string(name) + " must be a non-negative integer");
  }
  return v.get<int64_t>();
}

Json Percentiles(std::vector<int64_t> lat) {
  if (lat.empty()) {
    return {{"min", nullptr}, {"p50", nullptr}, {"p90", nullptr},
            {"p99", nullptr}, {"max", nullptr}, {"mean", nullptr}};
  }
  std::sort(lat.begin(), lat.end());
  auto rank = [&lat](double p) {
    const auto n = static_cast<double>(lat.size());
    const auto k = static_cast<int64_t>(std::ceil(p / 100.0 * n)) - 1;
    return lat[static_cast<size_t>(
        std::clamp<int64_t>(k, 0, static_cast<int64_t>(lat.size()) - 1))];
  };
  double sum = 0;
  for (const int64_t x : lat) sum += static_cast<double>(x);
  return {{"min", lat.front()}, {"p50", rank(50)},
          {"p90", rank(90)},    {"p99", rank(99)},
          {"max", lat.back()},  {"mean", sum / static_cast<double>(lat.size())}};
}

struct Timing {
  int64_t t0 = 0;
  int64_t t1 = 0;
  int64_t moved = 0;  // bytes
  Json latency;
};

template <typename Q>
Timing QueueLoop(Q& q, int64_t count, int64_t size, int64_t producers, int64_t consumers,
                 std::mutex& fork_mu) {
  constexpr bool kJoinable = std::is_same_v<Q, mpipc::JoinableQueue<Value>>;
  const Value payload = mpipc::Bytes{std::string(static_cast<size_t>(size), 'x')};
  mpipc::Queue<Value> done;
  SharedBarrier barrier(static_cast<unsigned>(producers + consumers + 1));
  Workers workers(fork_mu);
  for (int64_t i = 0; i < producers; ++i) {
    const int64_t n = count / producers + (i < count % producers ? 1 : 0);
    workers.Add([&q, &payload, &barrier, &done, n] {
      barrier.Wait();
      const int64_t start = Now();  // the measure starts when the first worker leaves the barrier
      for (int64_t k = 0; k < n; ++k) q.put(payload);
      done.put(mpipc::Tuple{"producer", start});
    });
  }
  for (int64_t i = 0; i < consumers; ++i) {
    workers.Add([&q, &barrier, &done] {
      barrier.Wait();
      int64_t n = 0;
      int64_t last = 0;
      for (;;) {
        const Value x = q.get();
        if constexpr (kJoinable) q.task_done();
        if (x.is_none()) break;
        ++n;
        last = Now();
      }
      done.put(mpipc::Tuple{"consumer", n, last});
    });
  }
  workers.Start();
  barrier.Wait();
  Timing t;
  t.t0 = Now();
  for (int64_t i = 0; i < producers; ++i) {  // main may leave the barrier after the work began
    t.t0 = std::min(t.t0, workers.Collect(done).as_tuple().items[1].as_int());
  }
  if constexpr (kJoinable) {
    q.join();
    t.t1 = Now();
  }
  workers.Join(0, static_cast<size_t>(producers));  // their items are all in before the sentinels
  for (int64_t i = 0; i < consumers; ++i) q.put(Value());
  int64_t received = 0;
  int64_t last = 0;
  for (int64_t i = 0; i < consumers; ++i) {
    const Value r = workers.Collect(done);
    received += r.as_tuple().items[1].as_int();
    last = std::max(last, r.as_tuple().items[2].as_int());
  }
  if (received != count) {
    throw DriverError("RuntimeError", "measure: received " + std::to_string(received) +
                                          " items, expected " + std::to_string(count));
  }
  if constexpr (!kJoinable) t.t1 = count > 0 ? last : t.t0;
  t.moved = count * size;
  return t;
}

Timing PipeLoop(bool objects, int64_t count, int64_t size, std::mutex& fork_mu) {
  const std::string payload(static_cast<size_t>(size), 'x');
  auto ends = mpipc::Pipe(false);
  mpipc::Connection& r = ends.first;
  mpipc::Connection& w = ends.second;
  mpipc::Queue<Value> done;
  SharedBarrier barrier(3);
  Workers workers(fork_mu);
  workers.Add([&w, &payload, &barrier, &done, objects, count] {
    barrier.Wait();
    const int64_t start = Now();
    const Value item = mpipc::Bytes{payload};
    for (int64_t k = 0; k < count; ++k) {
      if (objects) {
        w.send(item);
      } else {
        w.send_bytes(payload);
      }
    }
    done.put(mpipc::Tuple{"sender", start});
  });
  workers.Add([&r, &barrier, &done, objects, count] {
    barrier.Wait();
    int64_t got = 0;
    for (int64_t k = 0; k < count; ++k) {
      got += static_cast<int64_t>(objects ? r.recv<Value>().as_bytes().data.size()
                                          : r.recv_bytes().size());
    }
    done.put(mpipc::Tuple{"consumer", Now(), got});
  });
  workers.Start();
  r.close();
  w.close();
  barrier.Wait();
  Timing t;
  t.t0 = Now();
  Value report = workers.Collect(done);
  Value other = workers.Collect(done);
  if (report.as_tuple().items[0].as_str() == "sender") std::swap(report, other);
  t.t0 = std::min(t.t0, other.as_tuple().items[1].as_int());  // main may leave the barrier late
  t.t1 = report.as_tuple().items[1].as_int();
  if (report.as_tuple().items[2].as_int() != count * size) {
    throw DriverError("RuntimeError", "measure: received " +
                                          std::to_string(report.as_tuple().items[2].as_int()) +
                                          " bytes, expected " + std::to_string(count * size));
  }
  t.moved = count * size;
  return t;
}

Timing RoundTrip(int64_t count, int64_t size, std::mutex& fork_mu) {
  const std::string payload(static_cast<size_t>(size), 'x');
  auto ends = mpipc::Pipe();
  mpipc::Connection& a = ends.first;
  mpipc::Connection& b = ends.second;
  mpipc::Queue<Value> done;
  Workers workers(fork_mu);
  workers.Add([&b, count] {
    for (int64_t k = 0; k < count; ++k) b.send_bytes(b.recv_bytes());
  });
  workers.Add([&a, &payload, &done, count] {
    mpipc::List lat;
    lat.reserve(static_cast<size_t>(count));
    const int64_t t0 = Now();
    for (int64_t k = 0; k < count; ++k) {
      const int64_t s = Now();
      a.send_bytes(payload);
      a.recv_bytes();
      lat.emplace_back(Now() - s);
    }
    const int64_t t1 = Now();
    done.put(mpipc::Tuple{"pinger", t0, t1, std::move(lat)});
  });
  workers.Start();
  a.close();
  b.close();
  const Value report = workers.Collect(done);
  Timing t;
  t.t0 = report.as_tuple().items[1].as_int();
  t.t1 = report.as_tuple().items[2].as_int();
  std::vector<int64_t> lat;
  for (const Value& x : report.as_tuple().items[3].as_list()) lat.push_back(x.as_int());
  t.latency = Percentiles(std::move(lat));
  t.moved = 2 * count * size;
  return t;
}

}  // namespace

Json RunMeasure(const Json& req, std::mutex& fork_mu) {
  const std::string kind = req.contains("kind") && req["kind"].is_string()
                               ? req["kind"].get<std::string>()
                               : std::string();
  const auto& kinds = MeasureKinds();
  if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) {
    throw ProtocolError("unknown measure kind '" + kind + "'");
  }
  const int64_t size = Field(req, "size", 0);
  const int64_t count = Field(req, "count", 0);
  const int64_t producers = Field(req, "producers", 1);
  const int64_t consumers = Field(req, "consumers", 1);
  const int64_t maxsize = Field(req, "maxsize", 0);
  if (producers < 1 || consumers < 1) throw ProtocolError("producers and consumers must be >= 1");
  const bool pipe_kind = kind.rfind("pipe_", 0) == 0 || kind == "roundtrip";
  if (pipe_kind && (producers != 1 || consumers != 1)) {
    throw ProtocolError(kind + " needs producers = consumers = 1");
  }
  Timing t;
  if (kind == "queue_put_get") {
    mpipc::Queue<Value> q(maxsize);
    t = QueueLoop(q, count, size, producers, consumers, fork_mu);
  } else if (kind == "simplequeue_put_get") {
    mpipc::SimpleQueue<Value> q;
    t = QueueLoop(q, count, size, producers, consumers, fork_mu);
  } else if (kind == "joinablequeue_put_taskdone") {
    mpipc::JoinableQueue<Value> q(maxsize);
    t = QueueLoop(q, count, size, producers, consumers, fork_mu);
  } else if (kind == "roundtrip") {
    t = RoundTrip(count, size, fork_mu);
  } else {
    t = PipeLoop(kind == "pipe_send_recv_object", count, size, fork_mu);
  }
  const double secs = static_cast<double>(std::max<int64_t>(t.t1 - t.t0, 1)) / 1e9;
  Json result = {{"kind", kind},
                 {"size", size},
                 {"count", count},
                 {"producers", producers},
                 {"consumers", consumers},
                 {"seconds", secs},
                 {"items_per_s", static_cast<double>(count) / secs},
                 {"bytes_per_s", static_cast<double>(t.moved) / secs},
                 {"clock", "steady_clock"}};
  if (kind == "roundtrip") result["latency_ns"] = t.latency;
  return result;
}

}  // namespace mpipc_driver
