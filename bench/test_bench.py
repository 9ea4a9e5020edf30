#!/usr/bin/env python3
"""bench.smoke: bin/mpipc-bench end to end on tiny cases (correctness of the harness, the
transports' termination, the driver path and the output format; never speed).

    test_bench.py --bench BUILD/bin/mpipc-bench --driver BUILD/bin/mpipc-driver-reference
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reports"))
import mpipc_report as mr  # noqa: E402

# Every native kind at 64 B (1 -> 1 and the two 4 -> 4 cases of the quick set), one native round
# trip, and the reference driver's measured loops.
FILTER = r"size:64/|RoundTrip/ref/Queue/size:8/|RoundTrip/ref-driver/"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", required=True)
    ap.add_argument("--driver", required=True)
    opts = ap.parse_args()
    failures = []

    def check(cond, what):
        if not cond:
            failures.append(what)
            print("FAIL:", what)

    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "run.json")
        proc = subprocess.run([opts.bench, "--quick", "--filter", FILTER, "--reps", "2",
                               "--min-time", "0.005", "--targets", "ref-driver", "--out", out],
                              capture_output=True, text=True, timeout=110)
        sys.stderr.write(proc.stderr[-4000:])
        check(proc.returncode == 0, "mpipc-bench exit status %d" % proc.returncode)
        with open(out) as f:
            data = json.load(f)
        ctx = data["context"]
        for key in ("mpipc_commit", "mpipc_build_type", "mpipc_compiler", "mpipc_machine",
                    "host_name", "num_cpus"):
            check(ctx.get(key), "context has %s" % key)
        check(ctx.get("mpipc_errors") == [], "no errors: %s" % ctx.get("mpipc_errors"))
        run = mr.Run(out, data)
        expected = [
            "Throughput/ref/Queue/size:64/procs:1x1",
            "Throughput/ref/Queue/size:64/procs:4x4",
            "Throughput/ref/SimpleQueue/size:64/procs:1x1",
            "Throughput/ref/JoinableQueue/size:64/procs:1x1",
            "Throughput/ref/Bytes/size:64/procs:1x1",
            "Throughput/ref/Object/size:64/procs:1x1",
            "Throughput/raw-socketpair/Bytes/size:64/procs:1x1",
            "Throughput/raw-pipe/Bytes/size:64/procs:1x1",
            "Throughput/boost/Queue/size:64/procs:1x1",
            "Throughput/boost/Queue/size:64/procs:4x4",
            "RoundTrip/ref/Queue/size:8/procs:1x1",
            "Throughput/ref-driver/Queue/size:64/procs:1x1",
            "Throughput/ref-driver/Bytes/size:64/procs:1x1",
            "RoundTrip/ref-driver/Bytes/size:8/procs:1x1",
        ]
        for name in expected:
            vals = run.values.get(name) or []
            check(len(vals) == 2, "%s: 2 repetitions (got %d)" % (name, len(vals)))
            check(all(v > 0 for v in vals), "%s: positive items/s" % name)
            check(mr.parse_name(name) is not None, "%s: parseable name" % name)
        for name in ("RoundTrip/ref/Queue/size:8/procs:1x1",
                     "RoundTrip/ref-driver/Bytes/size:8/procs:1x1"):
            p50, p99 = run.p50.get(name) or [0], run.p99.get(name) or [0]
            check(0 < min(p50) and all(a <= b for a, b in zip(p50, p99)),
                  "%s: 0 < p50 <= p99 (%s, %s)" % (name, p50, p99))
        check(not run.errors, "no benchmark errors: %s" % run.errors)
        # The report tool accepts the run (no baseline: the gate has nothing to compare).
        rc = mr.main([out, "--out-dir", os.path.join(d, "report"), "--quiet"])
        check(rc == 0, "report exit status %d" % rc)
        check(os.path.exists(os.path.join(d, "report", "index.md")), "index.md written")
    print("bench.smoke: %s" % ("FAILED" if failures else "ok"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
