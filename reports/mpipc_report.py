#!/usr/bin/env python3
"""mpipc-report: benchmark comparison, regression gate and report page.

    mpipc_report.py CURRENT.json [--baseline BASE.json] [--out-dir DIR] [--conformance C.json]
    mpipc_report.py RUN1.json RUN2.json ... RUNn.json      # a series: RUNn is current,
                                                            # RUN(n-1) its baseline

Inputs are Google Benchmark JSON files (bin/mpipc-bench writes them; any Google Benchmark JSON
with repetitions works). The metric of every benchmark is items per second, one value per
repetition (run_type "iteration"); aggregates are ignored and recomputed here.

Per benchmark present in both runs: the ratio of medians current/baseline, and a two-sided
Mann–Whitney U test over the repetitions. A benchmark REGRESSED when it is slower by more than
its threshold (default 10 %, per-benchmark overrides with --thresholds FILE: a JSON object
{"regex": fraction, ...}, first match wins) AND the difference is significant (p < --alpha,
default 0.05). A benchmark present on one side only is reported (MISSING: gone from the current
run, NEW: absent from the baseline); MISSING fails the gate unless --allow-missing.

Exit status: 0 gate passed, 1 gate failed (a regression, or a missing benchmark), 2 bad input.

Outputs (with --out-dir): index.md and index.html (one self-contained page: plots made with
matplotlib and embedded as PNG, tables, the "numbers to reach" of issue 6, and the latest
conformance matrix from --conformance when that file exists), plots/*.png for the Markdown, and
comparison.json. Without matplotlib the page says so and carries the tables only.

Stdlib only, except matplotlib for the plots (Debian's python3-matplotlib via /usr/bin/python3).
"""

import argparse
import base64
import html
import io
import json
import math
import os
import re
import statistics
import sys

DEFAULT_THRESHOLD = 0.10
DEFAULT_ALPHA = 0.05
RESULT_VALUES = ("PASS", "FAIL", "XFAIL", "XPASS", "SKIP", "TIMEOUT", "CRASH")
NAME_RE = re.compile(r"^(?P<metric>Throughput|RoundTrip)/(?P<impl>[^/]+)/(?P<op>[^/]+)/"
                     r"size:(?P<size>\d+)/procs:(?P<p>\d+)x(?P<c>\d+)$")


class InputError(Exception):
    """An input file that cannot be used."""


# ---------------------------------------------------------------------------------------------
# loading


# What Google Benchmark appends to a name from the run's settings, not the benchmark's identity.
SETTINGS_RE = re.compile(r"/(?:min_time:[^/]*|min_warmup_time:[^/]*|repeats:\d+|iterations:\d+|"
                         r"threads:\d+|manual_time|real_time|process_time)(?=/|$)")


def normalize_name(name):
    """The benchmark's identity: settings such as /min_time:0.05/repeats:5/manual_time removed."""
    return SETTINGS_RE.sub("", name)


def parse_name(name):
    """(metric, impl, op, size, procs) for mpipc names, else None."""
    m = NAME_RE.match(name)
    if not m:
        return None
    return m["metric"], m["impl"], m["op"], int(m["size"]), int(m["p"])


class Run:
    """One benchmark run: per benchmark the per-repetition samples of each measure."""

    def __init__(self, path, data):
        self.path = path
        self.context = data.get("context", {})
        self.values = {}   # name -> [items/s per repetition]
        self.bytes = {}    # name -> [bytes/s per repetition]
        self.p50 = {}      # name -> [ns per repetition]
        self.p99 = {}
        self.errors = {}   # name -> message
        for b in data.get("benchmarks", []):
            if b.get("run_type", "iteration") != "iteration" or b.get("aggregate_name"):
                continue
            name = normalize_name(b.get("run_name") or b["name"])
            if b.get("error_occurred"):
                self.errors[name] = b.get("error_message") or "error"
                continue
            ips = b.get("items_per_second")
            if ips is None:
                t = b.get("real_time")
                if not t:
                    continue
                ips = 1.0 / t  # iterations per time unit: fine for ratios
            self.values.setdefault(name, []).append(float(ips))
            if b.get("bytes_per_second") is not None:
                self.bytes.setdefault(name, []).append(float(b["bytes_per_second"]))
            if b.get("p50_ns") is not None:
                self.p50.setdefault(name, []).append(float(b["p50_ns"]))
                self.p99.setdefault(name, []).append(float(b.get("p99_ns", 0)))

    def median(self, name, table=None):
        xs = (self.values if table is None else table).get(name)
        return statistics.median(xs) if xs else None


def load_run(path):
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise InputError("%s: %s" % (path, e)) from e
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise InputError("%s: not Google Benchmark JSON (no 'benchmarks' list)" % path)
    return Run(path, data)


# ---------------------------------------------------------------------------------------------
# statistics


def _exact_u_cdf_counts(n1, n2):
    """counts[u] = number of arrangements with U = u (no ties), by the classic recursion."""
    # f(n1, n2, u) = f(n1 - 1, n2, u - n2) + f(n1, n2 - 1, u)
    table = {}

    def f(a, b):
        key = (a, b)
        if key in table:
            return table[key]
        if a == 0 or b == 0:
            res = [1]
        else:
            left = f(a - 1, b)
            right = f(a, b - 1)
            res = [0] * (a * b + 1)
            for u, c in enumerate(left):
                res[u + b] += c
            for u, c in enumerate(right):
                res[u] += c
        table[key] = res
        return res

    return f(n1, n2)


def mann_whitney_u(xs, ys):
    """Two-sided Mann–Whitney U test. Returns (U of xs, p-value).

    Exact distribution when there are no ties and both samples have at most 25 values; otherwise
    the normal approximation with tie and continuity corrections.
    """
    n1, n2 = len(xs), len(ys)
    if n1 == 0 or n2 == 0:
        return float("nan"), 1.0
    pooled = sorted([(v, 0) for v in xs] + [(v, 1) for v in ys])
    ranks = [0.0] * len(pooled)
    tie_term = 0.0
    i = 0
    while i < len(pooled):
        j = i
        while j + 1 < len(pooled) and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        avg = (i + j) / 2.0 + 1.0
        for k in range(i, j + 1):
            ranks[k] = avg
        t = j - i + 1
        tie_term += t ** 3 - t
        i = j + 1
    r1 = sum(r for r, (_, side) in zip(ranks, pooled) if side == 0)
    u1 = r1 - n1 * (n1 + 1) / 2.0
    mean = n1 * n2 / 2.0
    if tie_term == 0 and n1 <= 25 and n2 <= 25:
        counts = _exact_u_cdf_counts(n1, n2)
        total = float(sum(counts))
        u_small = int(round(min(u1, n1 * n2 - u1)))
        p = 2.0 * sum(counts[: u_small + 1]) / total
        return u1, min(1.0, p)
    n = n1 + n2
    var = n1 * n2 / 12.0 * ((n + 1) - tie_term / (n * (n - 1)))
    if var <= 0:
        return u1, 1.0
    z = (abs(u1 - mean) - 0.5) / math.sqrt(var)
    p = math.erfc(max(z, 0.0) / math.sqrt(2.0))
    return u1, min(1.0, p)


def min_p_value(n1, n2):
    """The smallest two-sided p the exact test can give for these sample sizes."""
    if n1 == 0 or n2 == 0:
        return 1.0
    return min(1.0, 2.0 / math.comb(n1 + n2, n1))


# ---------------------------------------------------------------------------------------------
# comparison and gate


def load_thresholds(path):
    if not path:
        return []
    with open(path) as f:
        data = json.load(f)
    if not isinstance(data, dict):
        raise InputError("%s: thresholds must be a JSON object {regex: fraction}" % path)
    return [(re.compile(k), float(v)) for k, v in data.items()]


def threshold_for(name, overrides, default):
    for rx, t in overrides:
        if rx.search(name):
            return t
    return default


def compare(base, cur, threshold=DEFAULT_THRESHOLD, overrides=(), alpha=DEFAULT_ALPHA):
    """Rows, one per benchmark in either run, with a status:
    REGRESSION, IMPROVEMENT, SAME, NOISY (beyond the threshold but not significant), MISSING,
    NEW, ERROR (the current run failed it)."""
    rows = []
    for name in sorted(set(base.values) | set(cur.values) | set(cur.errors)):
        b, c = base.values.get(name), cur.values.get(name)
        t = threshold_for(name, overrides, threshold)
        row = {"name": name, "threshold": t, "baseline_n": len(b or []),
               "current_n": len(c or []), "ratio": None, "p": None,
               "baseline_median": statistics.median(b) if b else None,
               "current_median": statistics.median(c) if c else None}
        if name in cur.errors and not c:
            row["status"] = "ERROR"
            row["note"] = cur.errors[name]
        elif not c:
            row["status"] = "MISSING"
            row["note"] = "in the baseline, absent from the current run"
        elif not b:
            row["status"] = "NEW"
            row["note"] = "absent from the baseline"
        else:
            ratio = statistics.median(c) / statistics.median(b)
            _, p = mann_whitney_u(c, b)
            row.update(ratio=ratio, p=p, spread=[min(c) / max(b), max(c) / min(b)])
            significant = p < alpha
            if ratio < 1.0 - t:
                row["status"] = "REGRESSION" if significant else "NOISY"
            elif ratio > 1.0 + t:
                row["status"] = "IMPROVEMENT" if significant else "NOISY"
            else:
                row["status"] = "SAME"
            if not significant and min_p_value(len(c), len(b)) >= alpha:
                row["note"] = "too few repetitions for significance at %.2g" % alpha
        rows.append(row)
    return rows


def gate(rows, allow_missing=False):
    """(passed, the rows that fail it)."""
    bad = [r for r in rows if r["status"] in ("REGRESSION", "ERROR") or
           (r["status"] == "MISSING" and not allow_missing)]
    return not bad, bad


# ---------------------------------------------------------------------------------------------
# the numbers to reach (issue 6), from one run


def _ratio_with_spread(run, num, den, table=None):
    """(median ratio, lowest, highest, p) of num over den; p is the Mann–Whitney p-value of num
    against den scaled to the goal, filled in by targets()."""
    a = (run.values if table is None else table).get(num)
    b = (run.values if table is None else table).get(den)
    if not a or not b:
        return None
    return (statistics.median(a) / statistics.median(b), min(a) / max(b), max(a) / min(b),
            (a, b))


def targets(run):
    """Each target: dict(what, goal, value, spread, text, status).

    status: MET (the median reaches the goal); MISSED (it does not, and for a ratio the
    repetitions show it: Mann–Whitney of the numerator against the denominator scaled by the goal,
    p < 0.05); UNCLEAR (a ratio's median is below the goal but within the run's noise: more
    repetitions or a quieter machine are needed to tell); NOT MEASURED.
    """
    out = []

    def add(what, goal, got, met, fmt, ratio_goal=None):
        if got is None:
            out.append({"what": what, "goal": goal, "value": None, "spread": None,
                        "status": "NOT MEASURED", "text": "not measured"})
            return
        value, lo, hi = got[:3]
        row = {"what": what, "goal": goal, "value": value, "spread": [lo, hi],
               "status": "MET" if met(value) else "MISSED",
               "text": "%s [%s – %s]" % (fmt(value), fmt(lo), fmt(hi))}
        if row["status"] == "MISSED" and ratio_goal is not None and len(got) > 3:
            num, den = got[3]
            _, p = mann_whitney_u(num, [ratio_goal * v for v in den])
            row["p"] = p
            if p >= 0.05:
                row["status"] = "UNCLEAR"
                row["text"] += " (below the goal within noise, p=%.2g)" % p
        out.append(row)

    times = lambda v: "%.2f×" % v  # noqa: E731
    q64 = "Throughput/ref/Queue/size:64/procs:1x1"
    add("ref Queue 64 B 1→1 vs Boost message_queue", "≥ 1.0×",
        _ratio_with_spread(run, q64, "Throughput/boost/Queue/size:64/procs:1x1"),
        lambda v: v >= 1.0, times, 1.0)
    for py in ("cpython-3.11", "cpython-3.12", "cpython-3.13"):
        add("ref Queue 64 B 1→1 vs %s multiprocessing.Queue" % py, "≥ 40×",
            _ratio_with_spread(run, q64, "Throughput/%s/Queue/size:64/procs:1x1" % py),
            lambda v: v >= 40.0, times, 40.0)
    rt = run.p50.get("RoundTrip/ref/Queue/size:8/procs:1x1")
    add("ref Queue 8 B round trip p50", "< 5 µs",
        (statistics.median(rt), min(rt), max(rt)) if rt else None,
        lambda v: v < 5000.0, lambda v: "%.2f µs" % (v / 1000.0))
    mib = run.bytes.get("Throughput/ref/Queue/size:1048576/procs:1x1")
    add("ref Queue 1 MiB 1→1 throughput", "≥ 7 GB/s",
        (statistics.median(mib), min(mib), max(mib)) if mib else None,
        lambda v: v >= 7e9, lambda v: "%.2f GB/s" % (v / 1e9))
    sizes = sorted({parse_name(n)[3] for n in run.values
                    if parse_name(n) and parse_name(n)[:3] == ("Throughput", "ref", "Bytes")})
    for s in sizes or [None]:
        if s is None:
            add("ref Connection send_bytes/recv_bytes vs raw socketpair", "≥ 0.9×", None, None,
                times)
            continue
        add("ref Connection bytes %s vs raw socketpair" % human_size(s), "≥ 0.9×",
            _ratio_with_spread(run, "Throughput/ref/Bytes/size:%d/procs:1x1" % s,
                               "Throughput/raw-socketpair/Bytes/size:%d/procs:1x1" % s),
            lambda v: v >= 0.9, times, 0.9)
    return out


# ---------------------------------------------------------------------------------------------
# conformance matrix


def load_conformance(path):
    """The conformance results, or (None, reason) when there are none."""
    if not path or not os.path.exists(path):
        return None, "no conformance results yet (%s absent): run `mpipc conform`" % (
            path or "conformance.json")
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        return None, "conformance results unreadable: %s" % e
    if not isinstance(data, dict) or not str(data.get("format", "")).startswith(
            "mpipc-conformance-results/"):
        return None, "conformance results in an unknown format: %r" % (
            data.get("format") if isinstance(data, dict) else type(data).__name__)
    return data, None


def conformance_tables(data):
    """{area: {"clauses": [...], "counts": {target: {result: n}}, "coverage": {target: f}}}."""
    targets_ = [t["name"] for t in data.get("targets", [])]
    areas = {}
    for c in data.get("clauses", []):
        areas.setdefault(c.get("area", "?"), []).append(c)
    out = {}
    for area, clauses in sorted(areas.items()):
        counts = {t: {} for t in targets_}
        coverage = {}
        for t in data.get("targets", []):
            res = t.get("results") or {}
            ran = 0
            for c in clauses:
                r = (res.get(c["id"]) or {}).get("result") or "—"
                counts[t["name"]][r] = counts[t["name"]].get(r, 0) + 1
                if r in ("PASS", "FAIL", "XFAIL", "XPASS", "TIMEOUT", "CRASH"):
                    ran += 1
            coverage[t["name"]] = ran / len(clauses) if clauses else 0.0
        out[area] = {"clauses": clauses, "counts": counts, "coverage": coverage}
    return out


def cell(data, target, clause_id):
    for t in data.get("targets", []):
        if t["name"] == target:
            return (t.get("results") or {}).get(clause_id) or {}
    return {}


# ---------------------------------------------------------------------------------------------
# rendering


def human_size(n):
    for unit, k in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= k and n % k == 0:
            return "%d %s" % (n // k, unit)
    return "%d B" % n


def fmt_rate(v):
    if v is None:
        return "—"
    for unit, k in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if v >= k:
            return "%.3g%s" % (v / k, unit)
    return "%.3g" % v


def _counts_text(counts):
    return ", ".join("%s %d" % (k, v) for k, v in counts.items() if v) or "—"


def markdown(cur, base, rows, passed, tgts, conf, conf_note, plots):
    md = ["# mpipc report", ""]
    ctx = cur.context
    machine = ctx.get("mpipc_machine") or {}
    md.append("Run `%s`: commit `%s`, %s build, %s, %s CPUs (%s), set %s, load %s → %s." % (
        cur.path, ctx.get("mpipc_commit"), ctx.get("mpipc_build_type") or
        ctx.get("library_build_type"), ctx.get("mpipc_compiler"),
        machine.get("cpus") or ctx.get("num_cpus"), machine.get("cpu"), ctx.get("mpipc_set"),
        _load(ctx.get("mpipc_load_before")), _load(ctx.get("mpipc_load_after"))))
    if base is not None:
        md.append("Baseline `%s` (commit `%s`)." % (base.path, base.context.get("mpipc_commit")))
    md.append("")
    md.append("## Numbers to reach (ratios within this one run; median [min – max])")
    md.append("")
    if load_note(ctx):
        md.append("_%s_" % load_note(ctx))
        md.append("")
    md.append("| target | goal | measured | status |")
    md.append("|---|---|---|---|")
    for t in tgts:
        md.append("| %s | %s | %s | %s |" % (t["what"], t["goal"], t["text"], t["status"]))
    md.append("")
    md.append("## Regression gate")
    md.append("")
    if base is None:
        md.append("No baseline given: nothing compared.")
    else:
        md.append("**%s** — %s." % ("PASSED" if passed else "FAILED", _status_counts(rows)))
        md.append("")
        md.append("| benchmark | baseline items/s | current items/s | ratio [spread] | p | "
                  "threshold | status |")
        md.append("|---|---|---|---|---|---|---|")
        for r in rows:
            md.append("| %s | %s | %s | %s | %s | %.0f%% | %s%s |" % (
                r["name"], fmt_rate(r["baseline_median"]), fmt_rate(r["current_median"]),
                "%.3f [%.2f – %.2f]" % (r["ratio"], *r["spread"]) if r["ratio"] else "—",
                "%.3g" % r["p"] if r["p"] is not None else "—", 100 * r["threshold"],
                r["status"], " (%s)" % r["note"] if r.get("note") else ""))
    md.append("")
    md.append("## Throughput and latency (current run)")
    md.append("")
    for title, fname in plots:
        md.append("![%s](plots/%s)" % (title, fname))
        md.append("")
    md.append("| benchmark | items/s | bytes/s | p50 | p99 | reps |")
    md.append("|---|---|---|---|---|---|")
    for name in sorted(cur.values):
        p50 = cur.median(name, cur.p50)
        p99 = cur.median(name, cur.p99)
        md.append("| %s | %s | %s | %s | %s | %d |" % (
            name, fmt_rate(cur.median(name)), fmt_rate(cur.median(name, cur.bytes)) + "B/s",
            "%.2f µs" % (p50 / 1e3) if p50 else "", "%.2f µs" % (p99 / 1e3) if p99 else "",
            len(cur.values[name])))
    for name, msg in sorted(cur.errors.items()):
        md.append("| %s | ERROR: %s | | | | |" % (name, msg))
    md.append("")
    md.extend(conformance_markdown(conf, conf_note))
    return "\n".join(md) + "\n"


def conformance_markdown(conf, note):
    md = ["## Conformance matrix", ""]
    if conf is None:
        md.append("_%s_" % note)
        return md
    names = [t["name"] for t in conf.get("targets", [])]
    md.append("Catalogue %s, started %s, seed %s. Gate: **%s**." % (
        conf.get("catalogue_version"), conf.get("started"), conf.get("seed"),
        "passed" if (conf.get("gate") or {}).get("passed") else "FAILED"))
    md.append("")
    md.append("| target | " + " | ".join(RESULT_VALUES) + " | duration | error |")
    md.append("|---|" + "---|" * (len(RESULT_VALUES) + 2))
    for t in conf.get("targets", []):
        c = t.get("counts") or {}
        md.append("| %s | %s | %s | %s |" % (
            t["name"], " | ".join(str(c.get(k, 0)) for k in RESULT_VALUES),
            "%.1f s" % t["duration_s"] if t.get("duration_s") is not None else "—",
            t.get("error") or ""))
    unexpected = (conf.get("gate") or {}).get("unexpected") or []
    if unexpected:
        md.append("")
        md.append("Unexpected: " + ", ".join("%s %s %s" % (u.get("target"), u.get("clause"),
                                                          u.get("result")) for u in unexpected))
    for area, info in conformance_tables(conf).items():
        md.append("")
        md.append("### %s" % area)
        md.append("")
        md.append("Coverage (clauses run / clauses): " + ", ".join(
            "%s %.0f%% (%s)" % (n, 100 * info["coverage"][n], _counts_text(info["counts"][n]))
            for n in names))
        md.append("")
        md.append("| clause | level | title | " + " | ".join(names) + " |")
        md.append("|---|---|---|" + "---|" * len(names))
        for c in info["clauses"]:
            cells = []
            for n in names:
                r = cell(conf, n, c["id"])
                txt = r.get("result") or "—"
                if r.get("reason"):
                    txt += " (%s)" % r["reason"]
                cells.append(txt)
            md.append("| %s | %s | %s | %s |" % (c["id"], c.get("level", ""),
                                                 c.get("title", "").replace("|", "\\|"),
                                                 " | ".join(cells)))
    return md


def load_note(ctx):
    """A warning when the run shared the machine with other work (1-minute load > 1.5)."""
    loads = [v[0] for v in (ctx.get("mpipc_load_before"), ctx.get("mpipc_load_after")) if v]
    if loads and max(loads) > 1.5:
        return ("Measured under load %.1f on %s CPUs: absolute numbers and ratios are noisy; "
                "trust the spread, and re-run on a quiet machine before acting on them." % (
                    max(loads), (ctx.get("mpipc_machine") or {}).get("cpus") or
                    ctx.get("num_cpus") or "?"))
    return None


def _load(v):
    return "%.2f" % v[0] if v else "?"


def _status_counts(rows):
    counts = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    return ", ".join("%d %s" % (v, k) for k, v in sorted(counts.items()))


CSS = """
body{font-family:sans-serif;margin:1.5em;max-width:1400px}
table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px}
th{background:#eee}
.PASS,.MET,.SAME,.IMPROVEMENT{background:#c8f0c8}
.FAIL,.MISSED,.REGRESSION,.CRASH,.ERROR,.MISSING{background:#f4b6b6}
.XFAIL{background:#e4e4a8} .XPASS{background:#f6d08a} .SKIP,.NEW,.NOISY,.UNCLEAR{background:#e8e8e8}
.TIMEOUT{background:#f6c08a} .NA{background:#fff;color:#999}
img{max-width:100%;border:1px solid #ddd;margin:.3em 0}
.note{color:#666;font-style:italic}
"""


def html_page(md_text, cur, base, rows, passed, tgts, conf, conf_note, plot_pngs):
    e = html.escape
    ctx = cur.context
    out = ["<!DOCTYPE html><html><head><meta charset='utf-8'><title>mpipc report</title>",
           "<style>%s</style></head><body>" % CSS, "<h1>mpipc report</h1>"]
    machine = ctx.get("mpipc_machine") or {}
    out.append("<p>Run <code>%s</code>: commit <code>%s</code>, %s build, %s; %s CPUs (%s); "
               "set %s; load %s → %s; %s.</p>" % (
                   e(cur.path), e(str(ctx.get("mpipc_commit"))),
                   e(str(ctx.get("mpipc_build_type") or ctx.get("library_build_type"))),
                   e(str(ctx.get("mpipc_compiler"))),
                   e(str(machine.get("cpus") or ctx.get("num_cpus"))),
                   e(str(machine.get("cpu"))), e(str(ctx.get("mpipc_set"))),
                   _load(ctx.get("mpipc_load_before")), _load(ctx.get("mpipc_load_after")),
                   e(str(ctx.get("date")))))
    if base is not None:
        out.append("<p>Baseline <code>%s</code> (commit <code>%s</code>).</p>" % (
            e(base.path), e(str(base.context.get("mpipc_commit")))))
    out.append("<h2>Numbers to reach</h2><p class='note'>Ratios measured side by side in this "
               "one run: median [min – max over repetitions].</p>")
    if load_note(ctx):
        out.append("<p class='XPASS'>%s</p>" % e(load_note(ctx)))
    out.append("<table><tr><th>target</th><th>goal</th><th>measured</th><th>status</th></tr>")
    for t in tgts:
        cls = t["status"] if t["status"] != "NOT MEASURED" else "NA"
        out.append("<tr><td>%s</td><td>%s</td><td>%s</td><td class='%s'>%s</td></tr>" % (
            e(t["what"]), e(t["goal"]), e(t["text"]), cls, e(t["status"])))
    out.append("</table>")
    out.append("<h2>Regression gate</h2>")
    if base is None:
        out.append("<p class='note'>No baseline given: nothing compared.</p>")
    else:
        out.append("<p class='%s'><b>%s</b> — %s.</p>" % (
            "PASS" if passed else "FAIL", "PASSED" if passed else "FAILED",
            e(_status_counts(rows))))
        out.append("<table><tr><th>benchmark</th><th>baseline items/s</th><th>current items/s"
                   "</th><th>ratio [spread]</th><th>p</th><th>threshold</th><th>status</th></tr>")
        for r in rows:
            out.append("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%.0f%%"
                       "</td><td class='%s'>%s%s</td></tr>" % (
                           e(r["name"]), fmt_rate(r["baseline_median"]),
                           fmt_rate(r["current_median"]),
                           "%.3f [%.2f – %.2f]" % (r["ratio"], *r["spread"]) if r["ratio"]
                           else "—", "%.3g" % r["p"] if r["p"] is not None else "—",
                           100 * r["threshold"], r["status"], r["status"],
                           " <span class='note'>(%s)</span>" % e(r["note"]) if r.get("note")
                           else ""))
        out.append("</table>")
    out.append("<h2>Throughput and latency</h2>")
    if not plot_pngs:
        out.append("<p class='note'>No plots: matplotlib is not available to this Python "
                   "(use /usr/bin/python3 with Debian's python3-matplotlib).</p>")
    for title, png in plot_pngs:
        out.append("<h3>%s</h3><img alt='%s' src='data:image/png;base64,%s'>" % (
            e(title), e(title), base64.b64encode(png).decode()))
    out.append("<h3>All benchmarks (current run, medians)</h3><table><tr><th>benchmark</th>"
               "<th>items/s</th><th>bytes/s</th><th>p50</th><th>p99</th><th>reps</th></tr>")
    for name in sorted(cur.values):
        p50, p99 = cur.median(name, cur.p50), cur.median(name, cur.p99)
        out.append("<tr><td>%s</td><td>%s</td><td>%sB/s</td><td>%s</td><td>%s</td><td>%d</td>"
                   "</tr>" % (e(name), fmt_rate(cur.median(name)),
                              fmt_rate(cur.median(name, cur.bytes)),
                              "%.2f µs" % (p50 / 1e3) if p50 else "",
                              "%.2f µs" % (p99 / 1e3) if p99 else "", len(cur.values[name])))
    for name, msg in sorted(cur.errors.items()):
        out.append("<tr><td>%s</td><td class='ERROR' colspan=5>%s</td></tr>" % (e(name), e(msg)))
    out.append("</table>")
    out.extend(conformance_html(conf, conf_note))
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def conformance_html(conf, note):
    e = html.escape
    out = ["<h2 id='conformance'>Conformance matrix</h2>"]
    if conf is None:
        out.append("<p class='note'>%s</p>" % e(note))
        return out
    names = [t["name"] for t in conf.get("targets", [])]
    g = conf.get("gate") or {}
    out.append("<p>Catalogue %s, started %s, seed %s, tolerance %s. Gate: <span class='%s'><b>"
               "%s</b></span>.</p>" % (
                   e(str(conf.get("catalogue_version"))), e(str(conf.get("started"))),
                   e(str(conf.get("seed"))), e(str(conf.get("tolerance"))),
                   "PASS" if g.get("passed") else "FAIL",
                   "passed" if g.get("passed") else "FAILED"))
    out.append("<table><tr><th>target</th>" + "".join("<th>%s</th>" % k for k in RESULT_VALUES) +
               "<th>duration</th><th>error</th></tr>")
    for t in conf.get("targets", []):
        c = t.get("counts") or {}
        out.append("<tr><td>%s</td>%s<td>%s</td><td>%s</td></tr>" % (
            e(t["name"]), "".join("<td class='%s'>%d</td>" % (k if c.get(k) else "NA", c.get(k, 0))
                                  for k in RESULT_VALUES),
            "%.1f s" % t["duration_s"] if t.get("duration_s") is not None else "—",
            e(t.get("error") or "")))
    out.append("</table>")
    unexpected = g.get("unexpected") or []
    if unexpected:
        out.append("<p>Unexpected results: %s</p>" % e(", ".join(
            "%s %s %s" % (u.get("target"), u.get("clause"), u.get("result"))
            for u in unexpected)))
    for area, info in conformance_tables(conf).items():
        out.append("<h3>%s</h3><p>Coverage (clauses run / clauses): %s</p>" % (e(area), e(
            ", ".join("%s %.0f%% (%s)" % (n, 100 * info["coverage"][n],
                                          _counts_text(info["counts"][n])) for n in names))))
        out.append("<table><tr><th>clause</th><th>level</th><th>title</th>" +
                   "".join("<th>%s</th>" % e(n) for n in names) + "</tr>")
        for c in info["clauses"]:
            cells = []
            for n in names:
                r = cell(conf, n, c["id"])
                res = r.get("result")
                tip = "; ".join(x for x in (r.get("reason"), ", ".join(r.get("tests") or []))
                                if x)
                cells.append("<td class='%s' title='%s'>%s</td>" % (
                    res if res in RESULT_VALUES else "NA", e(tip), e(res or "—")))
            out.append("<tr><td>%s</td><td>%s</td><td>%s</td>%s</tr>" % (
                e(c["id"]), e(c.get("level", "")), e(c.get("title", "")), "".join(cells)))
        out.append("</table>")
    return out


# ---------------------------------------------------------------------------------------------
# plots (matplotlib)


IMPL_COLOURS = {"ref": "C3", "ref-pipe": "C1", "ref-driver": "C6", "raw-socketpair": "C0",
                "raw-pipe": "C9", "boost": "C2", "cpython-3.11": "C4", "cpython-3.12": "C5",
                "cpython-3.13": "C8", "multiprocess": "C7"}


def impl_style(impl):
    """One colour per implementation in every panel; natives solid, drivers dashed."""
    native = not (impl.startswith("cpython") or impl in ("multiprocess", "ref-driver"))
    return {"color": IMPL_COLOURS.get(impl, "black"), "marker": "o" if native else "s",
            "linestyle": "-" if native else "--"}


def make_plots(cur, rows):
    """[(title, file name, png bytes)]; [] without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    plots = []

    def save(fig, title, fname):
        buf = io.BytesIO()
        fig.tight_layout()
        fig.savefig(buf, format="png", dpi=90)
        plt.close(fig)
        plots.append((title, fname, buf.getvalue()))

    # Throughput against item size, one panel per (op, procs), one line per implementation.
    series = {}
    for name, vals in cur.bytes.items():
        p = parse_name(name)
        if not p or p[0] != "Throughput":
            continue
        _, impl, op, size, procs = p
        series.setdefault((op, procs), {}).setdefault(impl, []).append((size, vals))
    panels = sorted(series)
    if panels:
        cols = 2
        rows_n = (len(panels) + cols - 1) // cols
        fig, axes = plt.subplots(rows_n, cols, figsize=(12, 4.2 * rows_n), squeeze=False)
        for ax, key in zip([a for r in axes for a in r], panels):
            for impl, pts in sorted(series[key].items()):
                pts.sort()
                style = impl_style(impl)
                xs = [s for s, _ in pts]
                med = [statistics.median(v) / 1e9 for _, v in pts]
                lo = [m - min(v) / 1e9 for m, (_, v) in zip(med, pts)]
                hi = [max(v) / 1e9 - m for m, (_, v) in zip(med, pts)]
                ax.errorbar(xs, med, yerr=[lo, hi], capsize=3, label=impl, **style)
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_title("%s, %d→%d" % (key[0], key[1], key[1]))
            ax.set_xlabel("item size (bytes)")
            ax.set_ylabel("GB/s (median, min–max)")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)
        for ax in [a for r in axes for a in r][len(panels):]:
            ax.set_visible(False)
        save(fig, "Throughput against item size", "throughput.png")

    # Round-trip latency p50 and p99 against size.
    lat = {}
    for name, vals in cur.p50.items():
        p = parse_name(name)
        if not p or p[0] != "RoundTrip":
            continue
        lat.setdefault("%s %s" % (p[1], p[2]), []).append(
            (p[3], statistics.median(vals), statistics.median(cur.p99[name])))
    if lat:
        fig, ax = plt.subplots(figsize=(12, 4.5))
        for i, (label, pts) in enumerate(sorted(lat.items())):
            pts.sort()
            color = "C%d" % (i % 10)  # per line: an implementation may have two ops here
            xs = [p[0] for p in pts]
            if len(xs) == 1:
                ax.scatter(xs, [pts[0][1] / 1e3], color=color, marker="o", label=label + " p50")
                ax.scatter(xs, [pts[0][2] / 1e3], color=color, marker="^", label=label + " p99")
            else:
                ax.plot(xs, [p[1] / 1e3 for p in pts], "-o", color=color, label=label + " p50")
                ax.plot(xs, [p[2] / 1e3 for p in pts], "--^", color=color, label=label + " p99")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("item size (bytes)")
        ax.set_ylabel("round trip (µs)")
        ax.axhline(5.0, color="grey", lw=0.8, ls=":")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, ncol=3)
        ax.set_title("Round-trip latency p50 (solid) and p99 (dashed)")
        save(fig, "Round-trip latency", "latency.png")

    # Baseline vs current ratios.
    compared = [r for r in rows if r["ratio"]]
    if compared:
        colours = {"REGRESSION": "#d62728", "IMPROVEMENT": "#2ca02c", "SAME": "#1f77b4",
                   "NOISY": "#aaaaaa"}
        fig, ax = plt.subplots(figsize=(12, max(3, 0.22 * len(compared) + 1)))
        ys = range(len(compared))
        ax.barh(list(ys), [r["ratio"] for r in compared],
                xerr=[[r["ratio"] - r["spread"][0] for r in compared],
                      [r["spread"][1] - r["ratio"] for r in compared]],
                color=[colours.get(r["status"], "#888") for r in compared], capsize=2)
        ax.set_yticks(list(ys))
        ax.set_yticklabels([r["name"] for r in compared], fontsize=7)
        ax.axvline(1.0, color="black", lw=0.8)
        for r in compared[:1]:
            ax.axvline(1.0 - r["threshold"], color="red", lw=0.6, ls="--")
        ax.set_xscale("log")
        ax.set_xlabel("current / baseline (items/s, median; bars: min–max)")
        ax.set_title("Baseline vs current")
        ax.invert_yaxis()
        from matplotlib.patches import Patch
        ax.legend(handles=[Patch(color=c, label=k) for k, c in colours.items()], fontsize=8,
                  loc="lower right")
        save(fig, "Baseline vs current ratios", "ratios.png")
    return plots


# ---------------------------------------------------------------------------------------------
# command line


def summary_lines(tgts, rows, passed, base, conf, conf_note, cur_ctx):
    lines = ["%-58s %-8s %-34s %s" % ("target", "goal", "measured", "status")]
    if load_note(cur_ctx):
        lines.insert(0, load_note(cur_ctx))
    for t in tgts:
        lines.append("%-58s %-8s %-34s %s" % (t["what"], t["goal"], t["text"], t["status"]))
    if base is not None:
        lines.append("regression gate vs %s: %s (%s)" % (
            os.path.basename(base.path), "PASSED" if passed else "FAILED", _status_counts(rows)))
        for r in rows:
            if r["status"] in ("REGRESSION", "MISSING", "ERROR"):
                lines.append("  %-10s %s%s" % (r["status"], r["name"],
                                                " ratio %.3f p %.3g" % (r["ratio"], r["p"])
                                                if r["ratio"] else ""))
    if conf is None:
        lines.append("conformance: " + conf_note)
    else:
        for t in conf.get("targets", []):
            lines.append("conformance %-16s %s" % (t["name"], _counts_text(t.get("counts") or {})))
    return lines


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+", help="benchmark JSON: the current run, or a series")
    ap.add_argument("--baseline", help="baseline run (default: the run before the last)")
    ap.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                    help="slowdown fraction that counts (default 0.10)")
    ap.add_argument("--thresholds", help="JSON {regex: fraction} per-benchmark thresholds")
    ap.add_argument("--alpha", type=float, default=DEFAULT_ALPHA)
    ap.add_argument("--allow-missing", action="store_true",
                    help="a benchmark absent from the current run does not fail the gate")
    ap.add_argument("--conformance", help="conformance.json to render")
    ap.add_argument("--out-dir", help="write index.md, index.html, plots/, comparison.json")
    ap.add_argument("--quiet", action="store_true", help="no summary on stdout")
    opts = ap.parse_args(argv)
    try:
        runs = [load_run(p) for p in opts.runs]
        base = load_run(opts.baseline) if opts.baseline else (runs[-2] if len(runs) > 1
                                                               else None)
        overrides = load_thresholds(opts.thresholds)
    except (InputError, OSError, ValueError) as e:
        print("mpipc-report: %s" % e, file=sys.stderr)
        return 2
    cur = runs[-1]
    rows = compare(base, cur, opts.threshold, overrides, opts.alpha) if base else []
    passed, _ = gate(rows, opts.allow_missing)
    tgts = targets(cur)
    conf, conf_note = load_conformance(opts.conformance)
    if opts.out_dir:
        os.makedirs(os.path.join(opts.out_dir, "plots"), exist_ok=True)
        plots = make_plots(cur, rows)
        for _, fname, png in plots:
            with open(os.path.join(opts.out_dir, "plots", fname), "wb") as f:
                f.write(png)
        md_text = markdown(cur, base, rows, passed, tgts, conf, conf_note,
                           [(t, f) for t, f, _ in plots])
        with open(os.path.join(opts.out_dir, "index.md"), "w") as f:
            f.write(md_text)
        with open(os.path.join(opts.out_dir, "index.html"), "w") as f:
            f.write(html_page(md_text, cur, base, rows, passed, tgts, conf, conf_note,
                              [(t, png) for t, _, png in plots]))
        with open(os.path.join(opts.out_dir, "comparison.json"), "w") as f:
            json.dump({"current": cur.path, "baseline": base.path if base else None,
                       "gate_passed": passed, "rows": rows, "targets": tgts}, f, indent=1)
    if not opts.quiet:
        print("\n".join(summary_lines(tgts, rows, passed, base, conf, conf_note, cur.context)))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
