#!/usr/bin/env python3
"""Shows that the conformance gate catches a broken target.

    check_broken.py MPIPC_CONFORM DEFECT CLAUSE [CLAUSE ...]

Runs the suite, restricted to the named clauses, against broken_driver.py --defect DEFECT
(CPython multiprocessing with one defect), with no expectations, and requires that the gate
fails and that at least one named clause is FAIL. As a control, the same clauses against the
unbroken driver under the same interpreter must pass the gate (apart from clauses that are not
applicable, which are SKIP): so the failure is the defect's, not the suite's.
"""

import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def run(conform, driver_cmd, name, clauses, out):
    cmd = [conform, "--driver", driver_cmd, "--name", name, "--expect", os.devnull, "--gate",
           "--json", out, "--logs", os.path.join(os.path.dirname(out), name + "-logs")]
    for c in clauses:
        cmd += ["--filter", c]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=300)
    with open(out) as f:
        results = json.load(f)["targets"][0]["results"]
    return proc.returncode, proc.stdout, {c: results.get(c, {}).get("result") for c in clauses}


def main():
    conform, defect, clauses = sys.argv[1], sys.argv[2], sys.argv[3:]
    py = sys.executable
    good_driver = "%s %s" % (py, os.path.join(HERE, "..", "python", "mpipc_driver.py"))
    bad_driver = "%s %s --defect %s" % (py, os.path.join(HERE, "broken_driver.py"), defect)
    with tempfile.TemporaryDirectory() as tmp:
        rc, out, got = run(conform, good_driver, "control", clauses, os.path.join(tmp, "c.json"))
        if rc != 0:
            print(out)
            print("control run (unbroken driver) did not pass the gate: %s" % got)
            return 1
        rc, out, got = run(conform, bad_driver, "broken-" + defect, clauses,
                           os.path.join(tmp, "b.json"))
        print(out)
        print("defect %s: gate exit %d, results %s" % (defect, rc, got))
        if rc == 0:
            print("FAILED: the gate passed a broken target")
            return 1
        if "FAIL" not in got.values():
            print("FAILED: none of %s was reported FAIL" % clauses)
            return 1
        print("ok: the suite flags the defect")
        return 0


if __name__ == "__main__":
    sys.exit(main())
