#!/usr/bin/env python3
"""Deliberately broken targets: CPython's multiprocessing with one defect injected.

    python3 broken_driver.py --defect NAME

Runs the stdlib driver (../python/mpipc_driver.py) after patching one behaviour of
multiprocessing, so that the conformance suite can be shown to catch it
(check_broken.py, ctest conformance.broken.*). Each defect names the clauses that must fail.
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))

import multiprocessing.connection as mpc  # noqa: E402
import multiprocessing.queues as mpq  # noqa: E402

import mpipc_driver  # noqa: E402


def full_off_by_one():
    # full() reports True one item early.
    def full(self):
        return self._maxsize > 0 and self.qsize() >= self._maxsize - 1
    mpq.Queue.full = full


def task_done_never_raises():
    # task_done() beyond the number of items put is silently accepted.
    original = mpq.JoinableQueue.task_done

    def task_done(self):
        try:
            original(self)
        except ValueError:
            pass
    mpq.JoinableQueue.task_done = task_done


def simplex_reader_writes():
    # Pipe(duplex=False) hands out two duplex ends: the reader can write.
    original = mpc.Pipe

    def pipe(duplex=True):
        return original(True)
    mpc.Pipe = pipe


def listener_accepts_any_key():
    # The challenge is sent and the answer read, but any answer is welcomed.
    def deliver_challenge(connection, authkey):
        connection.send_bytes(b"#CHALLENGE#" + os.urandom(20))
        connection.recv_bytes(256)
        connection.send_bytes(b"#WELCOME#")

    def answer_challenge(connection, authkey):
        connection.recv_bytes(256)
        connection.send_bytes(b"\0" * 16)
        connection.recv_bytes(256)
    mpc.deliver_challenge = deliver_challenge
    mpc.answer_challenge = answer_challenge


def recv_bytes_ignores_maxlength():
    # recv_bytes(maxlength) returns messages longer than maxlength.
    original = mpc._ConnectionBase.recv_bytes

    def recv_bytes(self, maxlength=None):
        if maxlength is not None and maxlength < 0:
            raise ValueError("negative maxlength")
        return original(self)
    mpc._ConnectionBase.recv_bytes = recv_bytes


DEFECTS = {
    "full-off-by-one": full_off_by_one,
    "task-done-never-raises": task_done_never_raises,
    "simplex-reader-writes": simplex_reader_writes,
    "listener-accepts-any-key": listener_accepts_any_key,
    "recv-bytes-ignores-maxlength": recv_bytes_ignores_maxlength,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--defect", required=True, choices=sorted(DEFECTS))
    opts = ap.parse_args()
    DEFECTS[opts.defect]()
    mpipc_driver.main([])


if __name__ == "__main__":
    main()
