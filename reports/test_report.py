#!/usr/bin/env python3
"""Tests of reports/mpipc_report.py on synthetic inputs (no timing involved).

    python3 test_report.py           # statistics, gate, targets, Markdown, conformance matrix
    python3 test_report.py --html    # also the HTML page with its plots (needs matplotlib;
                                     # exit 77 = skipped when it is missing)
"""

import io
import json
import os
import sys
import tempfile
import unittest
from contextlib import redirect_stdout

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import mpipc_report as mr  # noqa: E402

EXAMPLE_CONFORMANCE = os.path.join(HERE, "testdata", "conformance-example.json")

# Fixed relative jitter of seven repetitions (±3 %): "noise", deterministic.
JITTER = [1.00, 0.97, 1.03, 0.99, 1.02, 0.98, 1.01]


def gb_entries(name, values, p50=None):
    """Google Benchmark repetition entries (plus an aggregate the tool must ignore)."""
    out = []
    for i, v in enumerate(values):
        e = {"name": name + "/manual_time", "run_name": name + "/manual_time",
             "run_type": "iteration", "repetitions": len(values), "repetition_index": i,
             "iterations": 10, "real_time": 1e6 / v, "time_unit": "us",
             "items_per_second": v, "bytes_per_second": v * 64}
        if p50 is not None:
            e["p50_ns"] = p50 * JITTER[i % len(JITTER)]
            e["p99_ns"] = 3 * p50
        out.append(e)
    out.append({"name": name + "/manual_time_median", "run_name": name + "/manual_time",
                "run_type": "aggregate", "aggregate_name": "median",
                "items_per_second": 1.0})
    return out


def write_run(directory, fname, benchmarks, context=None):
    path = os.path.join(directory, fname)
    data = {"context": context or {"mpipc_commit": "abc"}, "benchmarks": []}
    for name, values in benchmarks.items():
        data["benchmarks"].extend(gb_entries(name, values))
    with open(path, "w") as f:
        json.dump(data, f)
    return path


def scaled(base, factor):
    return [base * j * factor for j in JITTER]


A = "Throughput/ref/Queue/size:64/procs:1x1"
B = "Throughput/ref/Bytes/size:1024/procs:1x1"


class MannWhitneyTest(unittest.TestCase):
    def test_complete_separation_exact(self):
        u, p = mr.mann_whitney_u([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])
        self.assertEqual(u, 0)
        self.assertAlmostEqual(p, 2 / 252)

    def test_symmetric(self):
        _, p1 = mr.mann_whitney_u([1, 5, 9], [2, 3, 4, 8])
        _, p2 = mr.mann_whitney_u([2, 3, 4, 8], [1, 5, 9])
        self.assertAlmostEqual(p1, p2)

    def test_interleaved_is_not_significant(self):
        _, p = mr.mann_whitney_u([1, 3, 5, 7, 9], [2, 4, 6, 8, 10])
        self.assertGreater(p, 0.5)

    def test_all_tied(self):
        _, p = mr.mann_whitney_u([5, 5, 5], [5, 5, 5])
        self.assertEqual(p, 1.0)

    def test_normal_approximation_with_ties(self):
        xs = [1] * 30 + [2] * 30
        ys = [2] * 30 + [3] * 30
        _, p = mr.mann_whitney_u(xs, ys)
        self.assertLess(p, 1e-6)

    def test_min_p(self):
        self.assertAlmostEqual(mr.min_p_value(3, 3), 0.1)
        self.assertAlmostEqual(mr.min_p_value(5, 5), 2 / 252)


class GateTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        self.base = write_run(self.dir, "base.json", {A: scaled(1e6, 1.0), B: scaled(5e5, 1.0)})

    def tearDown(self):
        self.tmp.cleanup()

    def run_main(self, *args):
        with redirect_stdout(io.StringIO()) as out:
            rc = mr.main(list(args))
        return rc, out.getvalue()

    def rows(self, cur_path, **kw):
        rows = mr.compare(mr.load_run(self.base), mr.load_run(cur_path), **kw)
        return {r["name"]: r for r in rows}

    def test_real_20_percent_slowdown_fails(self):
        cur = write_run(self.dir, "cur.json", {A: scaled(1e6, 0.8), B: scaled(5e5, 1.0)})
        rows = self.rows(cur)
        self.assertEqual(rows[A]["status"], "REGRESSION")
        self.assertAlmostEqual(rows[A]["ratio"], 0.8)
        self.assertLess(rows[A]["p"], 0.05)
        self.assertEqual(rows[B]["status"], "SAME")
        rc, out = self.run_main(cur, "--baseline", self.base)
        self.assertEqual(rc, 1)
        self.assertIn("REGRESSION", out)
        self.assertIn(A, out)

    def test_noise_within_threshold_passes(self):
        # Shifted by 5 % (significant, but under the 10 % threshold), and reordered jitter.
        cur = write_run(self.dir, "cur.json", {A: scaled(1e6, 0.95),
                                               B: [5e5 * j for j in reversed(JITTER)]})
        rows = self.rows(cur)
        self.assertEqual(rows[A]["status"], "SAME")
        self.assertEqual(rows[B]["status"], "SAME")
        self.assertEqual(self.run_main(cur, "--baseline", self.base)[0], 0)

    def test_speed_up_passes(self):
        cur = write_run(self.dir, "cur.json", {A: scaled(1e6, 1.3), B: scaled(5e5, 2.0)})
        rows = self.rows(cur)
        self.assertEqual(rows[A]["status"], "IMPROVEMENT")
        self.assertEqual(rows[B]["status"], "IMPROVEMENT")
        self.assertEqual(self.run_main(cur, "--baseline", self.base)[0], 0)

    def test_large_but_insignificant_difference_is_noisy_not_a_regression(self):
        # Two repetitions each cannot reach p < 0.05, however large the change.
        base = write_run(self.dir, "b2.json", {A: [1e6, 1.1e6]})
        cur = write_run(self.dir, "c2.json", {A: [5e5, 6e5]})
        rows = mr.compare(mr.load_run(base), mr.load_run(cur))
        self.assertEqual(rows[0]["status"], "NOISY")
        self.assertIn("too few repetitions", rows[0]["note"])

    def test_missing_benchmark_is_reported_and_fails(self):
        cur = write_run(self.dir, "cur.json", {A: scaled(1e6, 1.0),
                                               "Throughput/ref/Object/size:8/procs:1x1":
                                                   scaled(1e5, 1.0)})
        rows = self.rows(cur)
        self.assertEqual(rows[B]["status"], "MISSING")
        self.assertEqual(rows["Throughput/ref/Object/size:8/procs:1x1"]["status"], "NEW")
        rc, out = self.run_main(cur, "--baseline", self.base)
        self.assertEqual(rc, 1)
        self.assertIn("MISSING", out)
        self.assertIn(B, out)
        rc, _ = self.run_main(cur, "--baseline", self.base, "--allow-missing")
        self.assertEqual(rc, 0)
        with tempfile.TemporaryDirectory() as out_dir:
            self.run_main(cur, "--baseline", self.base, "--allow-missing", "--out-dir", out_dir)
            with open(os.path.join(out_dir, "index.md")) as f:
                md = f.read()
            self.assertRegex(md, r"\| %s \|.*\| MISSING" % B.replace("/", r"\/"))

    def test_per_benchmark_threshold_override(self):
        cur = write_run(self.dir, "cur.json", {A: scaled(1e6, 0.8), B: scaled(5e5, 0.8)})
        th = os.path.join(self.dir, "th.json")
        with open(th, "w") as f:
            json.dump({"ref/Queue/": 0.25}, f)
        rc, out = self.run_main(cur, "--baseline", self.base, "--thresholds", th)
        self.assertEqual(rc, 1)  # B still regressed at the default 10 %
        rows = mr.compare(mr.load_run(self.base), mr.load_run(cur),
                          overrides=mr.load_thresholds(th))
        status = {r["name"]: r["status"] for r in rows}
        self.assertEqual(status[A], "SAME")
        self.assertEqual(status[B], "REGRESSION")

    def test_series_compares_last_with_previous(self):
        r1 = write_run(self.dir, "r1.json", {A: scaled(1e6, 1.0)})
        r2 = write_run(self.dir, "r2.json", {A: scaled(1e6, 1.0)})
        r3 = write_run(self.dir, "r3.json", {A: scaled(1e6, 0.7)})
        self.assertEqual(self.run_main(r1, r2)[0], 0)
        self.assertEqual(self.run_main(r1, r2, r3)[0], 1)

    def test_errored_benchmark_fails(self):
        path = os.path.join(self.dir, "err.json")
        with open(path, "w") as f:
            json.dump({"benchmarks": gb_entries(B, scaled(5e5, 1.0)) + [
                {"name": A + "/manual_time", "run_type": "iteration", "error_occurred": True,
                 "error_message": "a benchmark worker died"}]}, f)
        rows = self.rows(path)
        self.assertEqual(rows[A]["status"], "ERROR")
        self.assertEqual(self.run_main(path, "--baseline", self.base)[0], 1)

    def test_bad_input_is_exit_2(self):
        bad = os.path.join(self.dir, "bad.json")
        with open(bad, "w") as f:
            f.write("{\"no\": 1}")
        with redirect_stdout(io.StringIO()):
            self.assertEqual(mr.main([bad]), 2)


class TargetsTest(unittest.TestCase):
    def test_targets_met_missed_and_unmeasured(self):
        data = {"benchmarks": []}
        # Five repetitions each: 0.8x, below the goal in every one of them, is a significant
        # miss; 64 B sits at a 0.85x median with repetitions that overlap 0.9x raw: unclear.
        runs = {A: [4e6, 4.1e6, 3.9e6, 4e6, 4.05e6],
                "Throughput/boost/Queue/size:64/procs:1x1": [5e6, 5.1e6, 4.9e6, 5e6, 5.05e6],
                "Throughput/cpython-3.12/Queue/size:64/procs:1x1": [5e4] * 3,
                "Throughput/ref/Bytes/size:8/procs:1x1": [1e6] * 3,
                "Throughput/raw-socketpair/Bytes/size:8/procs:1x1": [1e6] * 3,
                "Throughput/ref/Bytes/size:64/procs:1x1": [0.5e6, 1.3e6, 0.85e6, 0.7e6, 1.1e6],
                "Throughput/raw-socketpair/Bytes/size:64/procs:1x1": [1e6, 0.6e6, 1.4e6, 1.1e6,
                                                                       0.9e6]}
        for name, vals in runs.items():
            data["benchmarks"].extend(gb_entries(name, vals))
        data["benchmarks"].extend(gb_entries("RoundTrip/ref/Queue/size:8/procs:1x1", [1e5] * 3,
                                             p50=4000))
        run = mr.Run("x", data)
        got = {t["what"]: t for t in mr.targets(run)}
        self.assertEqual(got["ref Queue 64 B 1→1 vs Boost message_queue"]["status"], "MISSED")
        self.assertAlmostEqual(got["ref Queue 64 B 1→1 vs Boost message_queue"]["value"], 0.8)
        self.assertEqual(got["ref Queue 64 B 1→1 vs cpython-3.12 multiprocessing.Queue"]["status"],
                         "MET")
        self.assertEqual(got["ref Queue 64 B 1→1 vs cpython-3.11 multiprocessing.Queue"]["status"],
                         "NOT MEASURED")
        self.assertEqual(got["ref Queue 8 B round trip p50"]["status"], "MET")
        self.assertEqual(got["ref Connection bytes 8 B vs raw socketpair"]["status"], "MET")
        unclear = got["ref Connection bytes 64 B vs raw socketpair"]
        self.assertAlmostEqual(unclear["value"], 0.85)
        self.assertEqual(unclear["status"], "UNCLEAR")
        self.assertIn("within noise", unclear["text"])
        self.assertEqual(got["ref Queue 1 MiB 1→1 throughput"]["status"], "NOT MEASURED")


class LoadNoteTest(unittest.TestCase):
    def test_warns_only_on_a_busy_machine(self):
        self.assertIsNone(mr.load_note({}))
        self.assertIsNone(mr.load_note({"mpipc_load_before": [0.4, 1, 1],
                                        "mpipc_load_after": [1.2, 1, 1]}))
        note = mr.load_note({"mpipc_load_before": [0.4, 1, 1], "mpipc_load_after": [3.5, 1, 1],
                             "num_cpus": 2})
        self.assertIn("load 3.5 on 2 CPUs", note)


class ConformanceTest(unittest.TestCase):
    def test_matrix_from_example(self):
        conf, note = mr.load_conformance(EXAMPLE_CONFORMANCE)
        self.assertIsNone(note)
        tables = mr.conformance_tables(conf)
        self.assertEqual(sorted(tables), ["connection", "queue"])
        self.assertEqual(tables["queue"]["counts"]["reference"], {"PASS": 2, "XFAIL": 1})
        self.assertAlmostEqual(tables["connection"]["coverage"]["reference"], 0.5)
        self.assertAlmostEqual(tables["connection"]["coverage"]["cpython-3.12"], 1.0)
        md = "\n".join(mr.conformance_markdown(conf, None))
        self.assertIn("| Q-GET | required | get() blocks while empty | PASS | PASS |", md)
        self.assertIn("XFAIL (deliberate deviation", md)
        self.assertIn("recv() of an empty frame \\| EOFError", md)
        self.assertIn("Gate: **FAILED**", md)
        self.assertIn("cpython-3.12 CONN-SB-UNITS FAIL", md)
        page = "\n".join(mr.conformance_html(conf, None))
        self.assertIn("<td class='TIMEOUT'", page)
        self.assertIn("<td class='CRASH'", page)
        self.assertIn("<h3>queue</h3>", page)

    def test_absent_or_foreign_file_degrades(self):
        conf, note = mr.load_conformance("/nonexistent/conformance.json")
        self.assertIsNone(conf)
        self.assertIn("absent", note)
        self.assertIn("absent", "\n".join(mr.conformance_markdown(None, note)))
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"format": "something-else/9"}, f)
        try:
            conf, note = mr.load_conformance(f.name)
            self.assertIsNone(conf)
            self.assertIn("unknown format", note)
        finally:
            os.unlink(f.name)


class HtmlTest(unittest.TestCase):
    """The whole page: plots embedded, self-contained, conformance matrix included."""

    def test_page(self):
        with tempfile.TemporaryDirectory() as d:
            data = {"context": {"mpipc_commit": "abc"}, "benchmarks": []}
            for impl, f in (("ref", 1.0), ("raw-socketpair", 1.1)):
                for size in (8, 1024, 1 << 20):
                    data["benchmarks"].extend(gb_entries(
                        "Throughput/%s/Bytes/size:%d/procs:1x1" % (impl, size),
                        scaled(1e6 * f / (1 + size / 1024), 1.0)))
            data["benchmarks"].extend(gb_entries("RoundTrip/ref/Queue/size:8/procs:1x1",
                                                 scaled(2e5, 1.0), p50=4500))
            cur = os.path.join(d, "cur.json")
            with open(cur, "w") as f:
                json.dump(data, f)
            base = os.path.join(d, "base.json")
            for b in data["benchmarks"]:
                if "items_per_second" in b:
                    b["items_per_second"] *= 1.3
            with open(base, "w") as f:
                json.dump(data, f)
            out = os.path.join(d, "out")
            with redirect_stdout(io.StringIO()):
                rc = mr.main([cur, "--baseline", base, "--out-dir", out,
                              "--conformance", EXAMPLE_CONFORMANCE])
            self.assertEqual(rc, 1)  # 1.3x slower everywhere: regressions
            with open(os.path.join(out, "index.html")) as f:
                page = f.read()
            self.assertEqual(page.count("data:image/png;base64,"), 3)
            self.assertNotIn("src='http", page)
            self.assertIn("Conformance matrix", page)
            self.assertIn("Q-GET", page)
            for png in ("throughput.png", "latency.png", "ratios.png"):
                with open(os.path.join(out, "plots", png), "rb") as f:
                    self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
            with open(os.path.join(out, "index.md")) as f:
                self.assertIn("![Throughput against item size](plots/throughput.png)", f.read())


if __name__ == "__main__":
    if "--html" in sys.argv:
        sys.argv.remove("--html")
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print("matplotlib missing: skipped")
            sys.exit(77)
        unittest.main(defaultTest="HtmlTest")
    else:
        unittest.main(defaultTest=["MannWhitneyTest", "GateTest", "TargetsTest",
                                   "LoadNoteTest", "ConformanceTest"])
