#!/usr/bin/env python3
"""mpipc-bench: one benchmark run across implementations, as Google Benchmark JSON.

Runs, side by side in one run:
  * bin/mpipc-bench-native: the reference and the native baselines (raw pipe(2)/socketpair with
    CPython's framing, Boost.Interprocess message_queue), timed across processes in C++;
  * the Python targets (CPython 3.11/3.12/3.13 multiprocessing, multiprocess) and the reference
    again through their conformance drivers' `measure` request (spec/driver-protocol.md §4.3):
    the loop runs inside the target, so the driver protocol's own cost is not measured.

Writes one JSON file in Google Benchmark's format: "context" (machine, compiler, commit, build
type, load) and "benchmarks" (one entry per repetition, run_type "iteration", plus the native
aggregates). Names: <Throughput|RoundTrip>/<impl>/<op>/size:<bytes>/procs:<P>x<C>[/manual_time].

Stdlib only. Started through the configured launcher bin/mpipc-bench (or `mpipc bench`).
"""

import argparse
import datetime
import glob
import json
import os
import platform
import re
import select
import subprocess
import sys
import tempfile
import time

KIB = 1024
MIB = 1024 * KIB
ALL_SIZES = [8, 64, KIB, 64 * KIB, MIB, 16 * MIB]

# op name in benchmark names -> measure kind of the driver protocol
MEASURE_KIND = {
    ("Throughput", "Queue"): "queue_put_get",
    ("Throughput", "SimpleQueue"): "simplequeue_put_get",
    ("Throughput", "JoinableQueue"): "joinablequeue_put_taskdone",
    ("Throughput", "Bytes"): "pipe_send_recv_bytes",
    ("Throughput", "Object"): "pipe_send_recv_object",
    ("RoundTrip", "Bytes"): "roundtrip",
}


def python_targets(driver_py):
    """The Python targets found on this machine: name -> command line."""
    targets = {}
    for minor in ("11", "12", "13"):
        found = sorted(glob.glob("/root/.pyenv/versions/3.%s.*/bin/python3" % minor))
        if found:
            targets["cpython-3." + minor] = [found[-1], driver_py]
    if os.path.exists("/usr/bin/python3"):
        probe = subprocess.run(["/usr/bin/python3", "-c", "import multiprocess"],
                               capture_output=True)
        if probe.returncode == 0:
            targets["multiprocess"] = ["/usr/bin/python3", driver_py, "--module", "multiprocess"]
    return targets


def driver_cases(full):
    """(metric, op, size, procs) measured through each driver."""
    cases = []
    if full:
        for op in ("Queue", "SimpleQueue", "JoinableQueue", "Bytes", "Object"):
            for s in ALL_SIZES:
                cases.append(("Throughput", op, s, 1))
        for s in ALL_SIZES:
            cases.append(("Throughput", "Queue", s, 4))
        for s in (8, 64, KIB, 64 * KIB):
            cases.append(("RoundTrip", "Bytes", s, 1))
    else:
        cases = [("Throughput", "Queue", 64, 1), ("Throughput", "Queue", 64 * KIB, 1),
                 ("Throughput", "Queue", MIB, 1),
                 ("Throughput", "Bytes", 64, 1), ("RoundTrip", "Bytes", 8, 1)]
    return cases


def case_count(metric, size, procs):
    """Items per measured loop: enough to dominate process start-up, bounded in time."""
    if metric == "RoundTrip":
        return max(16, min(1000, (8 * MIB) // size))
    return max(2 * procs, min(4000, (32 * MIB) // size))


def case_name(metric, impl, op, size, procs):
    return "%s/%s/%s/size:%d/procs:%dx%d" % (metric, impl, op, size, procs, procs)


class Driver:
    """A conformance driver process spoken to with JSON lines."""

    def __init__(self, argv):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, bufsize=0)
        self.next_id = 1
        self.buf = b""

    def request(self, req, timeout):
        rid = self.next_id
        self.next_id += 1
        req = dict(req, id=rid)
        self.proc.stdin.write((json.dumps(req) + "\n").encode())
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                msg = json.loads(line)
                if msg.get("id") == rid:
                    if not msg.get("ok"):
                        raise RuntimeError("%s: %s" % (msg["error"].get("type"),
                                                       msg["error"].get("message")))
                    return msg["result"]
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer to %s within %.0f s" % (req.get("op"), timeout))
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    raise RuntimeError("driver exited (code %s)" % self.proc.poll())
                self.buf += chunk

    def close(self):
        try:
            self.request({"op": "shutdown"}, 10)
        except Exception:  # noqa: BLE001 - the driver may already be gone
            pass
        try:
            self.proc.stdin.close()
            self.proc.wait(5)
        except Exception:  # noqa: BLE001
            self.proc.kill()
            self.proc.wait()


def run_driver_targets(targets, cases, reps, name_filter, log):
    """Measures `cases` through every driver, interleaved: repetition r of a case runs in each
    target in turn before repetition r + 1, so that a burst of load on the shared machine hits
    all targets alike rather than one. Returns (benchmark entries, hellos, errors)."""
    entries, errors, hellos, drivers = [], [], {}, {}
    for impl, argv in targets.items():
        try:
            drv = Driver(argv)
            hellos[impl] = drv.request({"op": "hello", "protocol": 1}, 30)
            drivers[impl] = drv
            log("== %s: %s" % (impl, " ".join(argv)))
        except Exception as e:  # noqa: BLE001 - reported, the run goes on
            errors.append({"target": impl, "error": "cannot start driver: %s" % e})
    failed = set()  # (impl, name) that failed once: not retried
    try:
        for metric, op, size, procs in cases:
            count = case_count(metric, size, procs)
            req = {"op": "measure", "kind": MEASURE_KIND[(metric, op)], "size": size,
                   "count": count, "producers": procs, "consumers": procs}
            names = {impl: case_name(metric, impl, op, size, procs) for impl in drivers}
            names = {i: n for i, n in names.items()
                     if name_filter is None or re.search(name_filter, n)}
            if not names:
                continue
            t0 = time.monotonic()
            for rep in range(reps):
                for impl, name in names.items():
                    if (impl, name) in failed:
                        continue
                    try:
                        res = drivers[impl].request(req, 300)
                    except Exception as e:  # noqa: BLE001
                        errors.append({"target": impl, "benchmark": name, "error": str(e)})
                        failed.add((impl, name))
                        continue
                    entry = {
                        "name": name, "run_name": name, "run_type": "iteration",
                        "repetitions": reps, "repetition_index": rep, "threads": 1,
                        "iterations": 1, "real_time": res["seconds"] * 1e6,
                        "cpu_time": res["seconds"] * 1e6, "time_unit": "us",
                        "items_per_second": res["items_per_s"],
                        "bytes_per_second": res["bytes_per_s"],
                        "items_per_iteration": count, "source": "driver",
                    }
                    if "latency_ns" in res:
                        entry["p50_ns"] = res["latency_ns"]["p50"]
                        entry["p99_ns"] = res["latency_ns"]["p99"]
                    entries.append(entry)
            log("%-52s %.1f s: %s" % (case_name(metric, "*", op, size, procs),
                                      time.monotonic() - t0, ", ".join(
                "%s %s/s" % (impl, fmt_rate(median([e["items_per_second"] for e in entries
                                                     if e["name"] == name])))
                for impl, name in names.items())))
    finally:
        for drv in drivers.values():
            drv.close()
    return entries, hellos, errors


def fmt_rate(v):
    for unit, k in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if v >= k:
            return "%.3g%s" % (v / k, unit)
    return "%.3g" % v


def median(xs):
    s = sorted(xs)
    n = len(s)
    return (s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2) if n else float("nan")


def git_commit(project_dir):
    try:
        rev = subprocess.run(["git", "-C", project_dir, "rev-parse", "HEAD"],
                             capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", project_dir, "status", "--porcelain",
                                "--untracked-files=no"], capture_output=True, text=True).stdout
        return rev + ("-dirty" if dirty.strip() else "")
    except Exception:  # noqa: BLE001
        return None


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def main(argv=None, *, bin_dir, project_dir, build_type, compiler):
    ap = argparse.ArgumentParser(prog="mpipc bench", description=__doc__.split("\n")[0])
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true", help="the quick set (default, < 2 minutes)")
    g.add_argument("--full", action="store_true", help="the full set (< 20 minutes)")
    ap.add_argument("--filter", default=None, help="regex on benchmark names (re.search)")
    ap.add_argument("--out", default=None,
                    help="output JSON (default <build>/reports/bench-current.json)")
    ap.add_argument("--reps", type=int, default=None, help="repetitions per benchmark (default 5; 10 with --full)")
    ap.add_argument("--min-time", type=float, default=None,
                    help="native: minimum timed seconds per repetition")
    ap.add_argument("--targets", default=None,
                    help="comma-separated driver targets (default: all found; 'none' for none)")
    ap.add_argument("--no-native", action="store_true", help="skip bin/mpipc-bench-native")
    opts = ap.parse_args(argv)
    full = bool(opts.full)
    # The full set is for real reports: enough repetitions that a 10% difference between two
    # implementations stands out of this machine's noise (bench/README.md).
    reps = opts.reps or (10 if full else 5)
    out = opts.out or os.path.join(os.path.dirname(bin_dir), "reports", "bench-current.json")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    started = time.monotonic()
    load_before = os.getloadavg()
    result = {"context": {}, "benchmarks": []}
    errors = []
    if not opts.no_native:
        native = os.path.join(bin_dir, "mpipc-bench-native")
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tmp:
            tmp_path = tmp.name
        cmd = [native, "--mpipc_set=" + ("full" if full else "quick"),
               "--mpipc_reps=%d" % reps,
               "--benchmark_out=" + tmp_path, "--benchmark_out_format=json",
               "--benchmark_display_aggregates_only=true",
               # repetitions of all cases interleaved in random order: load bursts on the
               # shared machine spread over every implementation instead of hitting one
               "--benchmark_enable_random_interleaving=true"]
        if opts.min_time:
            cmd.append("--mpipc_min_time=%g" % opts.min_time)
        if opts.filter:
            cmd.append("--benchmark_filter=" + opts.filter)
        log("== native: " + " ".join(cmd))
        rc = subprocess.run(cmd, stdout=sys.stderr).returncode
        try:
            with open(tmp_path) as f:
                result = json.load(f)
        except (OSError, ValueError) as e:
            errors.append({"target": "native", "error": "no JSON output (exit %d): %s" % (rc, e)})
        finally:
            os.unlink(tmp_path)
        for b in result.get("benchmarks", []):
            if b.get("error_occurred"):
                errors.append({"target": "native", "benchmark": b.get("name"),
                               "error": b.get("error_message")})

    targets = python_targets(os.path.join(project_dir, "conformance", "drivers", "python",
                                          "mpipc_driver.py"))
    ref_driver = os.path.join(bin_dir, "mpipc-driver-reference")
    if os.path.exists(ref_driver):
        targets["ref-driver"] = [ref_driver]
    if opts.targets:
        chosen = [] if opts.targets == "none" else opts.targets.split(",")
        missing = [t for t in chosen if t not in targets]
        if missing:
            ap.error("unknown or absent targets: %s (found: %s)" % (
                ", ".join(missing), ", ".join(sorted(targets))))
        targets = {t: targets[t] for t in chosen}
    entries, hellos, errs = run_driver_targets(targets, driver_cases(full), reps, opts.filter,
                                               log)
    result.setdefault("benchmarks", []).extend(entries)
    errors.extend(errs)
    hellos = {impl: {k: h.get(k) for k in ("name", "implementation", "implementation_version",
                                           "language_version")} for impl, h in hellos.items()}

    ctx = result.setdefault("context", {})
    uname = platform.uname()
    ctx.update({
        "mpipc_format": "mpipc-bench/1",
        "mpipc_set": "full" if full else "quick",
        "mpipc_commit": git_commit(project_dir),
        "mpipc_build_type": build_type,
        "mpipc_compiler": compiler,
        "mpipc_machine": {"cpu": cpu_model(), "cpus": os.cpu_count(), "arch": uname.machine,
                          "kernel": uname.release, "host": uname.node},
        "mpipc_load_before": list(load_before),
        "mpipc_load_after": list(os.getloadavg()),
        "mpipc_targets": hellos,
        "mpipc_errors": errors,
        "mpipc_seconds": round(time.monotonic() - started, 1),
        "mpipc_finished": datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ"),
    })
    ctx.setdefault("date", ctx["mpipc_finished"])
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
    log("== wrote %s (%d entries, %d errors, %.0f s)" % (
        out, len(result.get("benchmarks", [])), len(errors), ctx["mpipc_seconds"]))
    for e in errors:
        log("   error: %s" % json.dumps(e))
    return 0 if not errors else 1
