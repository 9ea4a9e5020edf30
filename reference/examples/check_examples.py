#!/usr/bin/env python3
"""Runs the C++ versions of the seed's usage examples and checks what they print.

Usage: check_examples.py BIN_DIR [NAME ...]   (default: every example)
Output lines from different processes interleave freely, so each check is about the order
within one process and the set of lines across processes, never about the interleaving.
"""

import subprocess
import sys


def in_order(lines, expected):
    """The expected lines occur in `lines` in this relative order, each exactly once."""
    positions = []
    for e in expected:
        hits = [i for i, l in enumerate(lines) if l == e]
        if len(hits) != 1:
            return "%r appears %d times" % (e, len(hits))
        positions.append(hits[0])
    if positions != sorted(positions):
        return "out of order: %r" % (expected,)
    return None


def check_basic_queue(lines):
    items = ["item%d" % i for i in range(1, 5)]
    return (in_order(lines, ["Producing " + i for i in items])
            or in_order(lines, ["Consuming " + i for i in items])
            or (len(lines) != 8 and "expected 8 lines, got %d" % len(lines)))


def check_joinable_queue(lines):
    tasks = ["Processing task-%d" % i for i in range(5)]
    if sorted(l for l in lines if l.startswith("Processing")) != tasks:
        return "tasks processed: %r" % lines
    done = [i for i, l in enumerate(lines) if l == "All tasks completed"]
    if len(done) != 1:
        return "'All tasks completed' printed %d times" % len(done)
    if any(lines.index(t) > done[0] for t in tasks):
        return "join() returned before every task was done"
    return None


def check_pipe(lines):
    msgs = ["Hello", "World", "From", "Pipe"]
    return (in_order(lines, ["Sending: " + m for m in msgs])
            or in_order(lines, ["Received: " + m for m in msgs + ["DONE"]]))


def check_bidirectional_pipe(lines):
    # Each side prints "Sent" after sending, so the peer's "Received" may come first; what is
    # ordered is each process's own sequence, and pong's receipt of ping-i before ping's of pong-i.
    ping, pong = [], []
    for i in range(3):
        ping += ["Sent: ping-%d" % i, "Received: pong-%d" % i]
        pong += ["Received: ping-%d" % i, "Sent: pong-%d" % i]
    for i in range(3):
        err = in_order(lines, ["Received: ping-%d" % i, "Received: pong-%d" % i])
        if err:
            return err
    return (in_order(lines, ping) or in_order(lines, pong)
            or (len(lines) != 12 and "expected 12 lines, got %d" % len(lines)))


def check_producers_consumers(lines):
    produced = [l[len("Produced: "):] for l in lines if l.startswith("Produced: ")]
    for p in range(2):
        mine = [x for x in produced if x.startswith("Producer-%d-" % p)]
        if mine != ["Producer-%d-Item-%d" % (p, i) for i in range(5)]:
            return "producer %d produced %r" % (p, mine)
    consumed = [l.split(" consumed: ", 1)[1] for l in lines if " consumed: " in l]
    if sorted(consumed) != sorted(produced):
        return "consumed %r, produced %r" % (sorted(consumed), sorted(produced))
    exits = sorted(l for l in lines if l.endswith("timed out, exiting"))
    if exits != ["Consumer-%d timed out, exiting" % i for i in range(3)]:
        return "consumer exits: %r" % exits
    return None


def check_enhanced_serialization(lines):
    return lines != ["Worker result: [1, 4, 9, 16, 25]"] and "got %r" % lines


def check_authenticated_connection(lines):
    if not lines or not lines[0].startswith("Server listening on 127.0.0.1:"):
        return "no listening line: %r" % lines
    return (in_order(lines, ["Connection accepted", "Server received: hello",
                             "Server received: world", "Server received: quit"])
            or in_order(lines, ["Client received: Echo: hello", "Client received: Echo: world"]))


CHECKS = {
    "basic_queue": check_basic_queue,
    "joinable_queue": check_joinable_queue,
    "pipe": check_pipe,
    "bidirectional_pipe": check_bidirectional_pipe,
    "producers_consumers": check_producers_consumers,
    "enhanced_serialization": check_enhanced_serialization,
    "authenticated_connection": check_authenticated_connection,
}


def main():
    bin_dir = sys.argv[1]
    names = sys.argv[2:] or list(CHECKS)
    passed = failed = 0
    for name in names:
        exe = "%s/example_%s" % (bin_dir, name)
        try:
            run = subprocess.run([exe], capture_output=True, text=True, timeout=60)
            lines = run.stdout.splitlines()
            error = (run.returncode != 0 and "exit code %d, stderr %r" % (run.returncode, run.stderr)
                     or CHECKS[name](lines))
        except subprocess.TimeoutExpired:
            error, lines = "timed out after 60 s", []
        if error:
            failed += 1
            print("FAIL %s: %s" % (name, error))
            print("  output: %r" % lines)
        else:
            passed += 1
            print("ok   %s (%d lines)" % (name, len(lines)))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
