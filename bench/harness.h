// Cross-process timing for the mpipc benchmarks: worker processes forked once per benchmark run,
// driven iteration by iteration through barriers in shared memory, and timed on the system-wide
// monotonic clock around the cross-process work only (never around one process's loop).
//
// One iteration: the coordinator (the benchmark's own process) and every worker pass a start
// barrier; each worker runs its body once and records when its part of the work began and ended
// (CLOCK_MONOTONIC, comparable across processes); everyone passes an end barrier. The iteration's
// time is (latest recorded end) − (earliest recorded begin): from the first producer's first put
// to the last consumer's last get. The coordinator hands it to Google Benchmark with
// SetIterationTime (benchmarks use UseManualTime).
//
// Process-safety: a CrossProcessRun is used by its creating process only; the workers see the
// shared block through fork(). Blocking: Iterate() waits for all workers; if one dies (crash,
// exception) it throws WorkerFailed instead of hanging. Workers die with the coordinator
// (PR_SET_PDEATHSIG). Lifetimes: the destructor stops and reaps every worker.

#ifndef MPIPC_BENCH_HARNESS_H_
#define MPIPC_BENCH_HARNESS_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <vector>

namespace mpipc_bench {

// CLOCK_MONOTONIC in nanoseconds: the same clock in every process of the machine.
int64_t NowNs();

// Nearest-rank percentile (p in [0, 100]) of `v`, which it sorts; 0 for an empty vector.
int64_t Percentile(std::vector<int64_t>& v, double p);

struct WorkerFailed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// What a worker reports for one iteration. begin_ns/end_ns = 0: this worker does not bound the
// timed interval on that side (producers set begin, consumers set end).
struct WorkerReport {
  int64_t begin_ns = 0;
  int64_t end_ns = 0;
  int64_t items = 0;
};

class CrossProcessRun {
 public:
  static constexpr int kMaxWorkers = 16;
  static constexpr int64_t kMaxSamples = int64_t{1} << 16;

  // The shared block: visible to every worker as `shared()`.
  struct Shared {
    std::atomic<uint32_t> generation{0};  // the barrier
    std::atomic<uint32_t> arrived{0};
    uint32_t parties = 0;
    std::atomic<uint32_t> stop{0};
    std::atomic<int64_t> taken{0};  // scratch for workers: items taken this iteration
    int64_t batch = 0;              // items per iteration, set before the start barrier
    WorkerReport reports[kMaxWorkers];
    int64_t samples[kMaxSamples];  // per-item latencies a worker may record (round trips)
    int64_t sample_count = 0;
  };

  // A worker body: runs one iteration of `batch` items, returns its report.
  using Body = std::function<WorkerReport(Shared& shared, int64_t batch)>;

  CrossProcessRun();
  ~CrossProcessRun();
  CrossProcessRun(const CrossProcessRun&) = delete;
  CrossProcessRun& operator=(const CrossProcessRun&) = delete;

  Shared& shared() { return *shared_; }

  // Registers a worker; all are forked by Start().
  void Add(Body body);
  // Before Start(): worker i runs on the i-th CPU this process may use (modulo their number),
  // so that two workers never share a core while another is idle. For latency: on two cores
  // the scheduler otherwise sometimes runs both ends of a round trip on one, and every hand-off
  // becomes a sleep and a wake-up (a 20x slower mode, for every implementation alike).
  void PinWorkersToCpus() { pin_ = true; }
  void Start();
  // One iteration of `batch` items; returns its seconds and appends any samples to `samples`.
  double Iterate(int64_t batch, std::vector<int64_t>* samples = nullptr);
  // The items all workers reported in the last iteration.
  int64_t last_items() const { return last_items_; }

 private:
  void ArriveAndWait(bool coordinator);
  void CheckWorkers();
  void StopWorkers();

  Shared* shared_ = nullptr;
  std::vector<Body> bodies_;
  std::vector<pid_t> pids_;
  int64_t last_items_ = 0;
  bool pin_ = false;
};

}  // namespace mpipc_bench

#endif  // MPIPC_BENCH_HARNESS_H_
