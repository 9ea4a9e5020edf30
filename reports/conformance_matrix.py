#!/usr/bin/env python3
"""The conformance matrix alone, as Markdown and as one self-contained HTML page.

    conformance_matrix.py RESULTS.json [--markdown F] [--html F]

RESULTS.json is what `mpipc conform --json` writes (spec/results.md). The tables are the same as
the conformance section of the full report (mpipc_report.py, whose renderers this reuses);
`mpipc conform --markdown/--html` call this. Stdlib only. Exit status 2 on unreadable input.
"""

import argparse
import html
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import mpipc_report  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results")
    ap.add_argument("--markdown", help="write the Markdown matrix here")
    ap.add_argument("--html", help="write the HTML page here")
    opts = ap.parse_args(argv)
    conf, note = mpipc_report.load_conformance(opts.results)
    if conf is None:
        print("conformance_matrix: %s" % note, file=sys.stderr)
        return 2
    if opts.markdown:
        with open(opts.markdown, "w") as f:
            f.write("# mpipc conformance\n\n")
            f.write("\n".join(mpipc_report.conformance_markdown(conf, note)) + "\n")
    if opts.html:
        body = mpipc_report.conformance_html(conf, note)
        page = ["<!DOCTYPE html><html><head><meta charset='utf-8'>",
                "<title>mpipc conformance</title>",
                "<style>%s</style></head><body>" % mpipc_report.CSS,
                "<h1>mpipc conformance</h1>"] + body + ["</body></html>"]
        with open(opts.html, "w") as f:
            f.write("\n".join(page) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
