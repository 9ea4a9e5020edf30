#!/usr/bin/env python3
"""Protocol tests for mpipc_driver.py (spec/driver-protocol.md, driver protocol 1).

    python3 test_driver_protocol.py [--python INTERPRETER] [--module multiprocess] [unittest args]
    python3 test_driver_protocol.py --driver "COMMAND" [unittest args]

--driver runs any driver command instead (e.g. build/bin/mpipc-driver-reference); where a target
deliberately differs from CPython the expectation is keyed by the implementation name its hello
reports (REFERENCE below; spec/deviations.md).  Exit status 77 too when COMMAND is not found.

The driver runs under INTERPRETER (default: $MPIPC_DRIVER_PYTHON, else sys.executable); this
file itself only needs a stdlib Python 3.  Exit status 77 (ctest SKIP_RETURN_CODE) when the
interpreter, or the module under it, is missing.

Everything is synchronised by protocol messages: no sleeps.  Timeouts only bound failures.
"""

import argparse
import json
import os
import queue
import shlex
import subprocess
import sys
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
DRIVER = os.path.join(HERE, "mpipc_driver.py")
SKIP = 77
PYTHON = None
MODULE = "multiprocessing"
DRIVER_CMD = None  # --driver: a command line (list) run instead of the Python driver
REFERENCE = "mpipc-reference"  # hello's implementation name for the C++ reference driver
LIMIT = 20.0  # seconds: bound on any single expected response (failure, not synchronisation)


def B(data):
    import base64
    return {"$bytes": base64.b64encode(data).decode("ascii")}


def T(*items):
    return {"$tuple": list(items)}


def D(*pairs):
    return {"$dict": [list(p) for p in pairs]}


class Driver:
    """One driver subprocess; responses are matched by id, events are kept in order."""

    def __init__(self):
        cmd = [PYTHON, DRIVER]
        if MODULE != "multiprocessing":
            cmd += ["--module", MODULE]
        if DRIVER_CMD:
            cmd = DRIVER_CMD
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, bufsize=0)
        self.inbox = queue.Queue()
        self.responses = {}
        self.events = []
        self.next_id = 0
        self.stderr = []
        self.threads = [threading.Thread(target=self._read, daemon=True),
                        threading.Thread(target=self._drain_stderr, daemon=True)]
        for t in self.threads:
            t.start()

    def _read(self):
        for line in self.proc.stdout:
            self.inbox.put(json.loads(line.decode("utf-8")))
        self.inbox.put(None)

    def _drain_stderr(self):
        for line in self.proc.stderr:
            self.stderr.append(line.decode("utf-8", "replace"))

    def send(self, op, **fields):
        self.next_id += 1
        req = {"id": self.next_id, "op": op}
        req.update(fields)
        self.send_raw(json.dumps(req))
        return self.next_id

    def send_raw(self, line):
        self.proc.stdin.write(line.encode("utf-8") + b"\n")
        self.proc.stdin.flush()

    def _pump_one(self):
        try:
            msg = self.inbox.get(timeout=LIMIT)
        except queue.Empty:
            raise AssertionError("driver silent for %.0f s; stderr:\n%s"
                                 % (LIMIT, "".join(self.stderr)))
        if msg is None:
            raise AssertionError("driver closed stdout; stderr:\n" + "".join(self.stderr))
        if "event" in msg:
            self.events.append(msg)
        else:
            self.responses[msg["id"]] = msg

    def response(self, rid):
        while rid not in self.responses:
            self._pump_one()
        return self.responses.pop(rid)

    def seen(self, rid):
        """Has a response for rid arrived?  (Does not wait.)"""
        while not self.inbox.empty():
            self._pump_one()
        return rid in self.responses

    def wait_event(self, pred):
        while True:
            for e in self.events:
                if pred(e):
                    return e
            self._pump_one()

    def ok(self, op, **fields):
        r = self.response(self.send(op, **fields))
        assert r["ok"], "%s %r failed: %r" % (op, fields, r)
        return r["result"]

    def err(self, op, **fields):
        r = self.response(self.send(op, **fields))
        assert not r["ok"], "%s %r succeeded: %r" % (op, fields, r)
        return r["error"]

    def call(self, actor, target, method, *args, **kwargs):
        return self.ok("call", actor=actor, target=target, method=method, args=list(args),
                       kwargs=kwargs)

    def call_err(self, actor, target, method, *args, **kwargs):
        return self.err("call", actor=actor, target=target, method=method, args=list(args),
                        kwargs=kwargs)

    def close(self):
        if self.proc.poll() is None:
            try:
                self.send_raw(json.dumps({"id": "bye", "op": "shutdown"}))
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(LIMIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for t in self.threads:  # they stop at EOF: the driver and its children are gone
            t.join(LIMIT)
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except OSError:
                pass


class Base(unittest.TestCase):
    def setUp(self):
        self.d = Driver()
        self.addCleanup(self.d.close)
        self.hello = self.d.ok("hello", protocol=1)
        self.impl = self.hello["implementation"]


class Handshake(Base):
    def test_hello(self):
        h = self.hello
        self.assertEqual(h["protocol"], 1)
        if self.impl == REFERENCE:
            self.assertEqual((h["name"], h["language"]), ("reference", "c++"))
            caps = h["capabilities"]
            self.assertEqual(sorted(caps["kinds"]), sorted(
                ["Queue", "JoinableQueue", "SimpleQueue", "Pipe", "Listener", "Client"]))
            self.assertEqual(sorted(caps["families"]), ["AF_INET", "AF_UNIX"])
            # functions travel through a Connection (Boost-serialized functors, like dill), not
            # through queues of mpipc::Value (Unsupported, see Functions below)
            self.assertEqual(caps["functions_travel"],
                             {"queue": False, "simplequeue": False, "pipe": True})
            self.assertEqual(len(caps["measure"]), 6)
            return
        self.assertEqual(h["language"], "python")
        self.assertEqual(h["implementation"], MODULE)
        if MODULE == "multiprocessing":
            self.assertEqual(h["name"], "cpython-%s.%s" % tuple(h["language_version"].split(".")[:2]))
        else:
            self.assertEqual(h["name"], "multiprocess")
        caps = h["capabilities"]
        for k in ("Queue", "JoinableQueue", "SimpleQueue", "Pipe", "Listener", "Client"):
            self.assertIn(k, caps["kinds"])
        self.assertEqual(sorted(caps["families"]), ["AF_INET", "AF_UNIX"])
        self.assertEqual(caps["functions_travel"]["pipe"], MODULE == "multiprocess")
        self.assertEqual(len(caps["measure"]), 6)

    def test_wrong_protocol_version(self):
        self.assertEqual(self.d.err("hello", protocol=99)["type"], "ProtocolError")

    def test_protocol_errors(self):
        self.assertEqual(self.d.err("frobnicate")["type"], "ProtocolError")
        self.assertEqual(self.d.err("call", target="nope", method="get")["type"], "ProtocolError")
        self.d.ok("create", kind="SimpleQueue", handle="sq")
        self.assertEqual(self.d.err("call", target="sq", method="qsize")["type"], "ProtocolError")
        self.assertEqual(self.d.err("call", actor="X", target="sq", method="get")["type"],
                         "ProtocolError")
        self.assertEqual(self.d.err("create", kind="Queue", handle="q",
                                    args=[{"$bogus": 1}])["type"], "ProtocolError")
        self.d.send_raw("this is not json")
        self.assertEqual(self.d.response(None)["error"]["type"], "ProtocolError")
        # the driver is still fine
        self.assertEqual(self.d.call("main", "sq", "empty"), True)


class Actors(Base):
    def test_blocking_get_answered_by_other_actor(self):
        d = self.d
        d.ok("create", kind="Queue", handle="q")
        d.ok("create", kind="Pipe", handle=["a", "b"])
        pa = d.ok("spawn", actor="A")["pid"]
        pb = d.ok("spawn", actor="B")["pid"]
        self.assertNotEqual(pa, pb)
        get_id = d.send("call", actor="A", target="q", method="get")
        # A's blocked get blocks neither A nor main nor B:
        self.assertEqual(d.call("A", "b", "poll"), False)
        self.assertEqual(d.call("main", "q", "qsize"), 0)
        self.assertEqual(d.call("B", "q", "qsize"), 0)
        self.assertFalse(d.seen(get_id))  # the queue is empty: it cannot have returned
        put_id = d.send("call", actor="B", target="q", method="put", args=["hello"])
        self.assertEqual(d.response(put_id), {"id": put_id, "ok": True, "result": None})
        self.assertEqual(d.response(get_id), {"id": get_id, "ok": True, "result": "hello"})

    def test_objects_created_after_spawn_are_not_inherited(self):
        d = self.d
        d.ok("spawn", actor="A")
        d.ok("create", kind="Queue", handle="late")
        self.assertEqual(d.err("call", actor="A", target="late", method="qsize")["type"],
                         "ProtocolError")

    def test_kill_actor_blocked_in_get(self):
        d = self.d
        d.ok("create", kind="Queue", handle="q")
        d.ok("spawn", actor="A")
        get_id = d.send("call", actor="A", target="q", method="get")
        self.assertEqual(d.call("A", "q", "empty"), True)  # A is alive and serving
        self.assertEqual(d.ok("kill", actor="A"), {"exitcode": -9})
        r = d.response(get_id)
        self.assertFalse(r["ok"])
        self.assertEqual(r["error"]["type"], "ActorDied")
        ev = d.wait_event(lambda e: e.get("event") == "actor_exited" and e["actor"] == "A")
        self.assertEqual(ev["exitcode"], -9)
        self.assertEqual(d.err("call", actor="A", target="q", method="qsize")["type"], "ActorDied")
        self.assertEqual(d.ok("kill", actor="A"), {"exitcode": -9})  # idempotent

    def test_exit_and_join(self):
        d = self.d
        d.ok("create", kind="SimpleQueue", handle="q")
        d.ok("spawn", actor="A")
        d.ok("spawn", actor="B")
        self.assertEqual(d.ok("exit", actor="A", timeout=LIMIT), {"exitcode": 0})
        self.assertEqual(d.ok("join", actor="A", timeout=0), {"exitcode": 0})
        self.assertEqual(d.ok("exit", actor="B", exitcode=3, timeout=LIMIT), {"exitcode": 3})

    def test_close_all_then_reuse(self):
        d = self.d
        d.ok("create", kind="Queue", handle="q")
        d.ok("spawn", actor="A")
        res = d.ok("close_all")
        self.assertEqual(res["killed"], ["A"])
        self.assertEqual(d.err("call", target="q", method="qsize")["type"], "ProtocolError")
        d.ok("create", kind="Queue", handle="q")
        d.ok("spawn", actor="A")
        d.call("A", "q", "put", 1)
        self.assertEqual(d.call("main", "q", "get", timeout=LIMIT), 1)


class QueueErrors(Base):
    def test_empty_and_full(self):
        d = self.d
        d.ok("create", kind="Queue", handle="q", kwargs={"maxsize": 1})
        e = d.call_err("main", "q", "get", timeout=0.05)
        self.assertEqual(e, {"type": "Empty", "message": None, "args": []})
        self.assertEqual(d.call_err("main", "q", "get_nowait")["type"], "Empty")
        d.call("main", "q", "put", 1)
        self.assertEqual(d.call_err("main", "q", "put_nowait", 2)["type"], "Full")
        self.assertEqual(d.call_err("main", "q", "put", 2, False)["type"], "Full")
        self.assertEqual(d.call("main", "q", "full"), True)
        self.assertEqual(d.call("main", "q", "get", timeout=LIMIT), 1)

    def test_joinable_and_closed(self):
        d = self.d
        d.ok("create", kind="JoinableQueue", handle="j")
        e = d.call_err("main", "j", "task_done")
        self.assertEqual(e["type"], "ValueError")
        self.assertEqual(e["message"], "task_done() called too many times")
        d.call("main", "j", "close")
        e = d.call_err("main", "j", "put", 1)
        self.assertEqual(e["type"], "ValueError")
        self.assertRegex(e["message"], r"^Queue .* is closed$")
        d.ok("create", kind="Pipe", handle=["r", "w"], args=[False])
        self.assertEqual(d.call_err("main", "r", "send", 1)["message"], "connection is read-only")


VALUES = [
    None, True, False, 0, 1, -1, 2 ** 100, -(2 ** 70), 1.5, -0.0, 1e300, 2.5e-300,
    {"$float": "nan"}, {"$float": "inf"}, {"$float": "-inf"},
    "", "héllo wörld ✓", "nul\u0000inside",
    B(b""), B(b"\x00\xff\x80abc"), B(bytes(range(256)) * 4),
    [], [1, [2, [3, []]]], T(), T(1), T(1, "a", T(None)),
    D(), D(["a", 1], [1, "b"], [T(1, 2), None], [None, [B(b"x")]], [1.5, D([False, []])]),
    [D(["k", T(B(b"v"), {"$float": "inf"})])],
]


class Values(Base):
    def setUp(self):
        super().setUp()
        d = self.d
        d.ok("create", kind="Queue", handle="q")
        d.ok("create", kind="SimpleQueue", handle="sq")
        d.ok("create", kind="Pipe", handle=["a", "b"])
        d.ok("spawn", actor="A")
        d.ok("spawn", actor="B")

    def roundtrip(self, put, get, sender, receiver, **kw):
        for v in VALUES:
            with self.subTest(value=v):
                if self.impl == REFERENCE and isinstance(v, int) and not -2**63 <= v < 2**63:
                    # mpipc::Value holds int64: the reference driver answers Unsupported
                    e = self.d.call_err("A", sender, put, v)
                    self.assertEqual(e["type"], "Unsupported")
                    continue
                self.d.call("A", sender, put, v)
                got = self.d.call("B", receiver, get, **kw)
                self.assertEqual(json.dumps(got), json.dumps(v))
        # larger than a pipe buffer: put/send blocks until B reads, so issue both at once
        big = B(b"z" * 300000)
        put_id = self.d.send("call", actor="A", target=sender, method=put, args=[big])
        self.assertEqual(self.d.call("B", receiver, get, **kw), big)
        self.assertTrue(self.d.response(put_id)["ok"])

    def test_queue(self):
        self.roundtrip("put", "get", "q", "q", timeout=LIMIT)

    def test_simplequeue(self):
        self.roundtrip("put", "get", "sq", "sq")

    def test_pipe(self):
        self.roundtrip("send", "recv", "a", "b")

    def test_getattr(self):
        d = self.d
        self.assertEqual(d.ok("getattr", actor="A", target="a", name="readable"), True)
        self.assertEqual(d.ok("getattr", actor="A", target="a", name="closed"), False)
        self.assertEqual(d.err("getattr", actor="A", target="a", name="_handle")["type"],
                         "ProtocolError")


class Bytes(Base):
    def setUp(self):
        super().setUp()
        self.d.ok("create", kind="Pipe", handle=["a", "b"])
        self.d.ok("spawn", actor="A")
        self.d.ok("spawn", actor="B")

    def test_offsets(self):
        d = self.d
        msg = B(b"abcdefghijklmnopqrstuvwxyz")
        d.call("A", "a", "send_bytes", msg, 22, 3)
        self.assertEqual(d.call("B", "b", "recv_bytes"), B(b"wxy"))
        d.call("A", "a", "send_bytes", msg, 26)
        self.assertEqual(d.call("B", "b", "recv_bytes"), B(b""))
        for args, text in [((27,), "buffer length < offset"), ((-1,), "offset is negative"),
                           ((4, -1), "size is negative"),
                           ((22, 5), "buffer length < offset + size")]:
            e = d.call_err("A", "a", "send_bytes", msg, *args)
            self.assertEqual((e["type"], e["message"]), ("ValueError", text))
        self.assertEqual(d.call("B", "b", "poll"), False)  # nothing was written
        e = d.call_err("A", "a", "send_bytes", "text")
        self.assertEqual(e["type"], "TypeError")

    def test_recv_bytes_into_and_maxlength(self):
        d = self.d
        d.call("A", "a", "send_bytes", B(b"hello"))
        self.assertEqual(d.call("B", "b", "recv_bytes_into", 8, 2),
                         D(["nbytes", 5], ["buffer", B(b"\0\0hello\0")]))
        d.call("A", "a", "send_bytes", B(b"toolong"))
        e = d.call_err("B", "b", "recv_bytes_into", 4)
        self.assertEqual(e["type"], "BufferTooShort")
        self.assertEqual(e["args"], [B(b"toolong")])
        e = d.call_err("B", "b", "recv_bytes_into", 4, 5)
        self.assertEqual((e["type"], e["message"]), ("ValueError", "offset too large"))
        d.call("A", "a", "send_bytes", B(b"0123456789"))
        e = d.call_err("B", "b", "recv_bytes", 4)
        self.assertEqual(e, {"type": "OSError", "errno": None, "message": "bad message length",
                             "args": ["bad message length"]})
        self.assertEqual(d.ok("getattr", actor="B", target="b", name="readable"), False)

    def test_eof_wait_and_errno(self):
        d = self.d
        self.assertEqual(d.ok("wait", actor="B", handles=["b"], timeout=0), [])
        d.call("A", "a", "send_bytes", B(b"x"))
        self.assertEqual(d.ok("wait", actor="B", handles=["b"], timeout=LIMIT), ["b"])
        d.call("B", "b", "recv_bytes")
        for actor in ("main", "A", "B"):  # every copy of the peer end must go (CONN-EOF-SIMPLEX)
            d.call(actor, "a", "close")
        self.assertEqual(d.call_err("B", "b", "recv"), {"type": "EOFError", "message": None,
                                                        "args": []})
        e = d.call_err("B", "b", "send_bytes", B(b"x"))
        self.assertEqual((e["type"], e["errno"]), ("BrokenPipeError", 32))
        self.assertEqual(d.call_err("A", "a", "poll"),
                         {"type": "OSError", "errno": None, "message": "handle is closed",
                          "args": ["handle is closed"]})

    def test_single_str_argument_is_the_message(self):
        # KeyError's str() quotes its argument; the protocol's message is the argument itself.
        e = self.d.err("wait", actor="B", handles=["b", "b"], timeout=0)
        if self.impl == REFERENCE:  # D-WAIT-DUP: ValueError('fd N is already registered')
            self.assertEqual(e["type"], "ValueError")
            self.assertRegex(e["message"], r"^fd \d+ is already registered$")
            self.assertEqual(e["args"], [e["message"]])
            return
        self.assertEqual(e["type"], "KeyError")
        self.assertRegex(e["message"], r"^<.+> \(FD \d+\) is already registered$")
        self.assertEqual(e["args"], [e["message"]])


class ListenerClient(Base):
    def check_family(self, address):
        d = self.d
        d.ok("create", kind="Listener", handle="l", args=[address],
             kwargs={"authkey": B(b"secret")})
        addr = d.ok("getattr", target="l", name="address")
        d.ok("spawn", actor="A")
        d.ok("spawn", actor="B")
        acc = d.send("call", actor="A", target="l", method="accept", bind="c")
        d.ok("create", actor="B", kind="Client", handle="c", args=[addr],
             kwargs={"authkey": B(b"secret")})
        self.assertEqual(d.response(acc)["result"], {"$handle": "c"})
        d.call("B", "c", "send", T("ping", 1))
        self.assertEqual(d.call("A", "c", "recv"), T("ping", 1))
        last = d.ok("getattr", actor="A", target="l", name="last_accepted")
        return addr, last

    def test_af_inet(self):
        addr, last = self.check_family(T("127.0.0.1", 0))
        self.assertEqual(addr["$tuple"][0], "127.0.0.1")
        self.assertEqual(last["$tuple"][0], "127.0.0.1")

    def test_af_unix_and_wrong_key(self):
        addr, last = self.check_family(None)
        if MODULE == "multiprocess" and isinstance(addr, dict):
            # Debian's multiprocess 0.70.12.2 still defaults to a Linux abstract name
            # (bytes starting with NUL), as CPython 3.9.0-3.10.8 did (L-DEFAULT-ADDR)
            self.assertTrue(addr["$bytes"].startswith("AG"), addr)  # base64 of b"\0..."
        else:
            self.assertIsInstance(addr, str)
        self.assertEqual(last, "")
        acc = self.d.send("call", actor="A", target="l", method="accept")
        e = self.d.err("create", actor="B", kind="Client", handle="bad", args=[addr],
                       kwargs={"authkey": B(b"wrong")})
        self.assertEqual((e["type"], e["message"]), ("AuthenticationError",
                                                     "digest sent was rejected"))
        r = self.d.response(acc)
        self.assertEqual((r["error"]["type"], r["error"]["message"]),
                         ("AuthenticationError", "digest received was wrong"))


class Functions(Base):
    def setUp(self):
        super().setUp()
        d = self.d
        d.ok("create", kind="Pipe", handle=["a", "b"])
        d.ok("create", kind="Queue", handle="q", kwargs={"maxsize": 1})
        d.ok("spawn", actor="A")
        d.ok("spawn", actor="B")

    def test_function_through_pipe(self):
        d = self.d
        f = {"$function": {"name": "add", "arg": 3}}
        if MODULE == "multiprocess" or self.impl == REFERENCE:  # reference: Boost functors
            d.call("A", "a", "send", f)
            self.assertEqual(d.ok("call", actor="B", target="b", method="recv", bind="f"), f)
            self.assertEqual(d.ok("apply", actor="B", target="f", args=[7]), 10)
        else:
            e = d.call_err("A", "a", "send", f)
            self.assertIn(e["type"], ("AttributeError", "PicklingError", "TypeError"))
            self.assertIn("<lambda>", e["message"])
            self.assertEqual(d.call("B", "b", "poll"), False)  # nothing was written
            d.call("A", "a", "send", "after")                  # the pipe is still usable
            self.assertEqual(d.call("B", "b", "recv"), "after")

    def test_function_through_queue(self):
        d = self.d
        sq = {"$function": {"name": "square"}}
        if self.impl == REFERENCE:
            # D-Q-SERIALIZE-IN-PUT: the reference serializes inside put(), and a Queue<Value>
            # cannot carry a function: put fails at once (Unsupported) and queues nothing
            self.assertEqual(d.call_err("A", "q", "put", sq)["type"], "Unsupported")
            d.call("A", "q", "put", 2, True, LIMIT)
            self.assertEqual(d.call("B", "q", "get", timeout=LIMIT), 2)
            return
        d.call("A", "q", "put", sq)  # returns normally in both (pickled later by the feeder)
        if MODULE == "multiprocess":
            self.assertEqual(d.ok("call", actor="B", target="q", method="get",
                                  kwargs={"timeout": LIMIT}, bind="g"), sq)
            self.assertEqual(d.ok("apply", actor="B", target="g", args=[9]), 81)
        else:
            # Q-PUT-UNPICKLABLE: the feeder prints the error and gives the slot back
            d.call("A", "q", "put", 2, True, LIMIT)
            self.assertEqual(d.call("B", "q", "get", timeout=LIMIT), 2)

    def test_function_table_locally(self):
        d = self.d
        for f, arg, want in [({"name": "identity"}, "s", "s"), ({"name": "square"}, 12, 144),
                             ({"name": "negate"}, 5, -5), ({"name": "add", "arg": -2}, 2, 0),
                             ({"name": "const", "arg": T(1)}, None, T(1))]:
            with self.subTest(f=f):
                self.assertEqual(d.ok("apply", actor="A", function={"$function": f},
                                      args=[arg]), want)
        # a function-valued result is reported as its descriptor, and can be bound
        sq = {"$function": {"name": "square"}}
        got = d.ok("apply", actor="A", function={"$function": {"name": "const", "arg": sq}},
                   args=[], bind="g")
        self.assertEqual(got, sq)
        self.assertEqual(d.ok("apply", actor="A", target="g", args=[3]), 9)
        self.assertEqual(d.err("apply", function={"$function": {"name": "nope"}},
                               args=[1])["type"], "ProtocolError")


class Measure(Base):
    def test_each_op(self):
        for kind, p, c in [("queue_put_get", 2, 2), ("simplequeue_put_get", 1, 2),
                           ("joinablequeue_put_taskdone", 2, 1), ("pipe_send_recv_bytes", 1, 1),
                           ("pipe_send_recv_object", 1, 1), ("roundtrip", 1, 1)]:
            with self.subTest(kind=kind):
                r = self.d.ok("measure", kind=kind, size=64, count=300, producers=p,
                              consumers=c)
                self.assertEqual((r["kind"], r["count"], r["size"]), (kind, 300, 64))
                self.assertGreater(r["seconds"], 0)
                self.assertAlmostEqual(r["items_per_s"], 300 / r["seconds"], delta=1e-6 * r["items_per_s"])
                self.assertGreater(r["bytes_per_s"], 0)
                if kind == "roundtrip":
                    lat = r["latency_ns"]
                    self.assertTrue(0 < lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"]
                                    <= lat["max"])

    def test_bad_measure(self):
        self.assertEqual(self.d.err("measure", kind="roundtrip", size=1, count=1,
                                    producers=2)["type"], "ProtocolError")
        self.assertEqual(self.d.err("measure", kind="warp", size=1, count=1)["type"],
                         "ProtocolError")


class Shutdown(Base):
    def test_shutdown(self):
        d = self.d
        d.ok("create", kind="Queue", handle="q")
        d.ok("spawn", actor="A")
        d.call("main", "q", "put", B(b"x" * 1000000))  # unconsumed: must not hang the exit
        self.assertEqual(d.ok("shutdown"), {"killed": ["A"], "closed": 1})
        self.assertEqual(d.proc.wait(LIMIT), 0)


def main():
    global PYTHON, MODULE, DRIVER_CMD
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--python", default=os.environ.get("MPIPC_DRIVER_PYTHON", sys.executable))
    ap.add_argument("--module", default="multiprocessing")
    ap.add_argument("--driver", default=None)
    opts, rest = ap.parse_known_args()
    PYTHON, MODULE = opts.python, opts.module
    if opts.driver:
        DRIVER_CMD = shlex.split(opts.driver)
        exe = DRIVER_CMD[0] if DRIVER_CMD else ""
        if not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
            print("SKIP: driver %s not found" % exe)
            sys.exit(SKIP)
        print("driver %s" % opts.driver, flush=True)
        unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
        return
    if not (os.path.isfile(PYTHON) and os.access(PYTHON, os.X_OK)):
        print("SKIP: interpreter %s not found" % PYTHON)
        sys.exit(SKIP)
    probe = subprocess.run([PYTHON, "-c", "import %s.connection" % MODULE],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if probe.returncode != 0:
        print("SKIP: %s cannot import %s" % (PYTHON, MODULE))
        sys.exit(SKIP)
    print("driver under %s, module %s" % (PYTHON, MODULE), flush=True)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
