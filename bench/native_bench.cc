// mpipc-bench-native: Google Benchmark cases for the reference and the native baselines, timed
// across processes (harness.h). Names:
//   Throughput/<impl>/<op>/size:<bytes>/procs:<P>x<C>   items/s and bytes/s
//   RoundTrip/<impl>/<op>/size:<bytes>/procs:1x1        round trips/s; p50_ns, p99_ns counters
// (Google Benchmark appends /manual_time.) Extra flags, taken before Google Benchmark's own:
//   --mpipc_set=quick|full   which cases are registered (default quick)
//   --mpipc_reps=N           repetitions per case (default 5)
//   --mpipc_min_time=S       minimum timed seconds per repetition (default 0.05 quick, 0.1 full)

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "harness.h"
#include "links.h"

namespace mpipc_bench {
namespace {

constexpr int64_t kKiB = 1024;
constexpr int64_t kMiB = 1024 * kKiB;
const std::vector<int64_t> kAllSizes = {8, 64, kKiB, 64 * kKiB, kMiB, 16 * kMiB};

// Items per iteration: about 64 MiB of payload, between 8 and 20000 items.
int64_t ThroughputBatch(int64_t size) { return std::clamp<int64_t>(64 * kMiB / size, 8, 20000); }
int64_t RoundTripBatch(int64_t size) { return std::clamp<int64_t>(16 * kMiB / size, 16, 2000); }

int64_t ShareOf(int64_t total, int parts, int index) {
  return total / parts + (index < total % parts ? 1 : 0);
}

// P producers send the batch; C consumers receive it. A queue-like link is shared by all: a
// consumer counts what it takes in `taken`, and the one that takes the last item sends C - 1
// empty sentinels to release the others. Otherwise producer i and consumer i own link i.
void Throughput(benchmark::State& state, const LinkKind& kind, int64_t size, int procs) {
  const std::string item(static_cast<size_t>(size), 'x');
  const std::string sentinel;
  const int64_t batch = ThroughputBatch(size);
  std::vector<std::unique_ptr<Link>> links(kind.mpmc ? 1 : procs);
  for (auto& l : links) l = kind.make(size);
  auto link = [&links](int i) -> Link& { return *links[links.size() == 1 ? 0 : i]; };
  CrossProcessRun run;
  for (int p = 0; p < procs; ++p) {
    run.Add([&, p](CrossProcessRun::Shared&, int64_t n) {
      WorkerReport r;
      Link& l = link(p);
      const int64_t mine = ShareOf(n, procs, p);
      r.begin_ns = NowNs();
      for (int64_t k = 0; k < mine; ++k) l.Send(item);
      return r;
    });
  }
  for (int c = 0; c < procs; ++c) {
    run.Add([&, c](CrossProcessRun::Shared& shared, int64_t n) {
      WorkerReport r;
      Link& l = link(c);
      if (!kind.mpmc) {
        const int64_t mine = ShareOf(n, procs, c);
        for (int64_t k = 0; k < mine; ++k) {
          if (l.Recv() != item.size()) throw std::runtime_error("wrong item size");
        }
        r.items = mine;
        r.end_ns = NowNs();
        return r;
      }
      for (;;) {
        const size_t got = l.Recv();
        l.Done();
        if (got == 0) break;  // released by the consumer that took the last item
        if (got != item.size()) throw std::runtime_error("wrong item size");
        ++r.items;
        if (shared.taken.fetch_add(1) + 1 == n) {
          r.end_ns = NowNs();
          for (int k = 1; k < procs; ++k) l.Send(sentinel);
          break;
        }
      }
      return r;
    });
  }
  try {
    run.Start();
    for (auto _ : state) {
      state.SetIterationTime(run.Iterate(batch));
      if (run.last_items() != batch) {
        state.SkipWithError("items lost");
        break;
      }
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
  state.SetItemsProcessed(state.iterations() * batch);
  state.SetBytesProcessed(state.iterations() * batch * size);
}

// A pinger sends an item and waits for the echo's reply of the same size, `batch` times, timing
// each round trip; the iteration runs from the first send to the last reply.
void RoundTrip(benchmark::State& state, const LinkKind& kind, int64_t size) {
  const std::string item(static_cast<size_t>(size), 'x');
  const int64_t batch = std::min(RoundTripBatch(size), CrossProcessRun::kMaxSamples);
  const std::unique_ptr<Link> there = kind.make(size);
  const std::unique_ptr<Link> back = kind.make(size);
  CrossProcessRun run;
  run.PinWorkersToCpus();  // pinger and echo on different cores (harness.h)
  run.Add([&](CrossProcessRun::Shared& shared, int64_t n) {
    WorkerReport r;
    r.begin_ns = NowNs();
    int64_t t = r.begin_ns;
    for (int64_t k = 0; k < n; ++k) {
      there->Send(item);
      back->Recv();
      back->Done();
      const int64_t now = NowNs();
      shared.samples[k] = now - t;
      t = now;
    }
    shared.sample_count = n;
    r.end_ns = t;
    r.items = n;
    return r;
  });
  run.Add([&](CrossProcessRun::Shared&, int64_t n) {
    for (int64_t k = 0; k < n; ++k) {
      there->Recv();
      there->Done();
      back->Send(item);
    }
    return WorkerReport{};
  });
  std::vector<int64_t> samples;
  try {
    run.Start();
    for (auto _ : state) state.SetIterationTime(run.Iterate(batch, &samples));
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
  state.SetItemsProcessed(state.iterations() * batch);
  state.SetBytesProcessed(state.iterations() * batch * size * 2);
  state.counters["p50_ns"] = static_cast<double>(Percentile(samples, 50));
  state.counters["p99_ns"] = static_cast<double>(Percentile(samples, 99));
}

struct Options {
  bool full = false;
  int reps = 0;
  double min_time = 0;
};

void Register(const Options& o, const std::string& metric, const LinkKind& kind, int64_t size,
              int procs) {
  const std::string name = metric + "/" + kind.impl + "/" + kind.op +
                           "/size:" + std::to_string(size) + "/procs:" + std::to_string(procs) +
                           "x" + std::to_string(procs);
  benchmark::internal::Benchmark* b =
      metric == "Throughput"
          ? benchmark::RegisterBenchmark(name.c_str(), Throughput, kind, size, procs)
          : benchmark::RegisterBenchmark(name.c_str(), RoundTrip, kind, size);
  b->UseManualTime()->Unit(benchmark::kMicrosecond)->Repetitions(o.reps)->MinTime(o.min_time);
}

void RegisterAll(const Options& o) {
  if (o.full) {
    for (const LinkKind& k : AllLinkKinds()) {
      for (const int64_t s : kAllSizes) {
        Register(o, "Throughput", k, s, 1);
        Register(o, "Throughput", k, s, 4);
      }
      if (k.op != "Object" && k.op != "SimpleQueue" && k.op != "JoinableQueue") {
        for (const int64_t s : {int64_t{8}, int64_t{64}, kKiB, 64 * kKiB}) {
          Register(o, "RoundTrip", k, s, 1);
        }
      }
    }
    return;
  }
  // The quick set: what the README's targets need, 1 -> 1, plus a glimpse of 4 -> 4.
  const auto tput = [&o](const char* impl, const char* op, const std::vector<int64_t>& sizes,
                         int procs) {
    for (const int64_t s : sizes) Register(o, "Throughput", FindLinkKind(impl, op), s, procs);
  };
  tput("ref", "Queue", kAllSizes, 1);
  tput("ref", "SimpleQueue", {64}, 1);
  tput("ref", "JoinableQueue", {64}, 1);
  tput("boost", "Queue", kAllSizes, 1);
  tput("ref", "Bytes", kAllSizes, 1);
  tput("raw-socketpair", "Bytes", kAllSizes, 1);
  tput("ref", "Object", {64}, 1);
  tput("raw-pipe", "Bytes", {64, kMiB}, 1);
  tput("ref", "Queue", {64}, 4);
  tput("boost", "Queue", {64}, 4);
  for (const char* impl : {"ref", "raw-socketpair"}) {
    Register(o, "RoundTrip", FindLinkKind(impl, "Bytes"), 8, 1);
  }
  Register(o, "RoundTrip", FindLinkKind("ref", "Queue"), 8, 1);
  Register(o, "RoundTrip", FindLinkKind("boost", "Queue"), 8, 1);
}

// Takes our flags out of argv (Google Benchmark rejects unknown ones).
Options ParseOptions(int* argc, char** argv) {
  Options o;
  int out = 1;
  for (int i = 1; i < *argc; ++i) {
    const std::string a = argv[i];
    if (a == "--mpipc_set=full") {
      o.full = true;
    } else if (a == "--mpipc_set=quick") {
      o.full = false;
    } else if (a.rfind("--mpipc_reps=", 0) == 0) {
      o.reps = std::stoi(a.substr(std::strlen("--mpipc_reps=")));
    } else if (a.rfind("--mpipc_min_time=", 0) == 0) {
      o.min_time = std::stod(a.substr(std::strlen("--mpipc_min_time=")));
    } else {
      argv[out++] = argv[i];
    }
  }
  *argc = out;
  if (o.reps <= 0) o.reps = 5;
  if (o.min_time <= 0) o.min_time = o.full ? 0.1 : 0.05;
  return o;
}

}  // namespace
}  // namespace mpipc_bench

int main(int argc, char** argv) {
  const mpipc_bench::Options o = mpipc_bench::ParseOptions(&argc, argv);
  mpipc_bench::RegisterAll(o);
  benchmark::AddCustomContext("mpipc_set", o.full ? "full" : "quick");
  benchmark::AddCustomContext("mpipc_compiler", MPIPC_BENCH_COMPILER);
  benchmark::AddCustomContext("mpipc_build_type", MPIPC_BENCH_BUILD_TYPE);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
