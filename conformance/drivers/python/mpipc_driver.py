#!/usr/bin/env python3
"""mpipc conformance driver for Python's multiprocessing (or multiprocess).

Speaks "driver protocol 1" (spec/driver-protocol.md) on stdin/stdout: one JSON
request per line in, one JSON response or event per line out.  Stdlib only;
runs under CPython 3.11, 3.12 and 3.13.

    python3 mpipc_driver.py                       # target cpython-3.X (multiprocessing)
    python3 mpipc_driver.py --module multiprocess # target multiprocess (dill)

Structure
  main process   reads stdin (raw fd, own line buffer), runs driver-level ops
                 (hello, spawn, kill, exit, join, close_all, shutdown, measure)
                 and the calls addressed to actor "main", each in its own
                 thread; one reader thread per actor copies that actor's
                 responses to stdout.  Every stdout line is written under one
                 lock with os.write on a private dup of fd 1.
  actor          a child made with get_context('fork').Process that receives the
                 handle table (all objects of main at spawn time) as its args and
                 reads requests from a private duplex Pipe; each request runs in
                 its own daemon thread, and the encoded response goes back over
                 the same Pipe (sends serialised by a lock).
"""

import argparse
import base64
import importlib
import json
import math
import os
import platform
import queue as queue_mod
import signal
import sys
import threading
import time
import traceback

PROTOCOL = 1

# ---------------------------------------------------------------------------
# module selection (set in main())
mp = None        # the multiprocessing / multiprocess package
ctx = None       # its 'fork' context
mpconn = None    # its .connection module
MODULE = "multiprocessing"

# ---------------------------------------------------------------------------
# errors


class ProtocolError(Exception):
    """A malformed or meaningless request (not an implementation error)."""


class Unsupported(Exception):
    """The request is valid but this driver/implementation cannot do it."""


class ActorDied(Exception):
    pass


# ---------------------------------------------------------------------------
# the function table

def make_function(name, arg=None, has_arg=False):
    """Build a real closure/lambda for a function descriptor.

    They are deliberately local lambdas: plain pickle refuses them
    ("Can't pickle local object ..."), dill carries them.
    """
    if name == "identity":
        f = lambda x: x  # noqa: E731
    elif name == "square":
        f = lambda x: x * x  # noqa: E731
    elif name == "negate":
        f = lambda x: -x  # noqa: E731
    elif name == "add":
        if not has_arg:
            raise ProtocolError("function 'add' needs an 'arg'")
        n = arg
        f = lambda x: x + n  # noqa: E731
    elif name == "const":
        if not has_arg:
            raise ProtocolError("function 'const' needs an 'arg'")
        v = arg
        f = lambda *a: v  # noqa: E731
    else:
        raise ProtocolError("unknown function %r" % (name,))
    desc = {"name": name}
    if has_arg:
        desc["arg"] = arg
    f._mpipc_function = desc  # carried by dill (function __dict__), used on output
    return f


# ---------------------------------------------------------------------------
# value codec

def decode(v, objects):
    """JSON (protocol encoding) -> Python value.  objects: the actor's handle table."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, list):
        return [decode(x, objects) for x in v]
    if isinstance(v, dict):
        if len(v) != 1:
            raise ProtocolError("a tagged value must have exactly one key: %r" % (v,))
        (tag, body), = v.items()
        if tag == "$bytes":
            if not isinstance(body, str):
                raise ProtocolError("$bytes needs a base64 string")
            return base64.b64decode(body, validate=True)
        if tag == "$tuple":
            if not isinstance(body, list):
                raise ProtocolError("$tuple needs a list")
            return tuple(decode(x, objects) for x in body)
        if tag == "$dict":
            if not isinstance(body, list):
                raise ProtocolError("$dict needs a list of pairs")
            d = {}
            for pair in body:
                if not isinstance(pair, list) or len(pair) != 2:
                    raise ProtocolError("$dict entries are [key, value] pairs")
                d[decode(pair[0], objects)] = decode(pair[1], objects)
            return d
        if tag == "$float":
            if body not in ("nan", "inf", "-inf"):
                raise ProtocolError("$float is one of nan, inf, -inf")
            return float(body)
        if tag == "$function":
            if not isinstance(body, dict) or not isinstance(body.get("name"), str):
                raise ProtocolError("$function needs {\"name\": ...}")
            return make_function(body["name"], decode(body.get("arg"), objects), "arg" in body)
        if tag == "$handle":
            if body not in objects:
                raise ProtocolError("no object %r in this actor" % (body,))
            return objects[body]
        raise ProtocolError("unknown tag %r" % (tag,))
    raise ProtocolError("not a protocol value: %r" % (v,))


def encode(v, objects=None):
    """Python value -> JSON (protocol encoding)."""
    t = type(v)
    if v is None or t is bool or t is str:
        return v
    if t is int:
        return v
    if t is float:
        if math.isnan(v):
            return {"$float": "nan"}
        if math.isinf(v):
            return {"$float": "inf" if v > 0 else "-inf"}
        return v
    if t is bytes:
        return {"$bytes": base64.b64encode(v).decode("ascii")}
    if t is list:
        return [encode(x, objects) for x in v]
    if t is tuple:
        return {"$tuple": [encode(x, objects) for x in v]}
    if t is dict:
        return {"$dict": [[encode(k, objects), encode(x, objects)] for k, x in v.items()]}
    desc = getattr(v, "_mpipc_function", None) if callable(v) else None
    if isinstance(desc, dict):
        return {"$function": {k: encode(x, objects) for k, x in desc.items()}}
    if objects:
        for name, obj in objects.items():
            if obj is v:
                return {"$handle": name}
    try:
        r = repr(v)
    except Exception:  # pragma: no cover
        r = "<unrepresentable>"
    return {"$opaque": {"type": t.__name__, "repr": r}}


def error_object(e):
    """Python exception -> protocol error object."""
    if isinstance(e, ProtocolError):
        tname = "ProtocolError"
    elif isinstance(e, Unsupported):
        tname = "Unsupported"
    elif isinstance(e, ActorDied):
        tname = "ActorDied"
    elif isinstance(e, queue_mod.Empty):
        tname = "Empty"
    elif isinstance(e, queue_mod.Full):
        tname = "Full"
    else:
        tname = type(e).__name__   # OSError subclasses keep their name; BufferTooShort, ...
    err = {"type": tname}
    if isinstance(e, OSError) and e.errno is not None:
        err["errno"] = e.errno
        err["message"] = e.strerror
    elif isinstance(e, OSError):
        err["errno"] = None
        err["message"] = str(e) or None
    else:
        try:
            s = str(e)
        except Exception:  # pragma: no cover
            s = ""
        if len(e.args) == 1 and isinstance(e.args[0], bytes):
            s = ""  # BufferTooShort(msg): the bytes are in args
        elif len(e.args) == 1 and isinstance(e.args[0], str):
            s = e.args[0]  # protocol §5: one string argument is the message (str(KeyError) quotes it)
        err["message"] = s or None
    try:
        err["args"] = [encode(a) for a in e.args]
    except Exception:  # pragma: no cover
        err["args"] = []
    return err


def response(rid, ok, value=None, objects=None, raw=False):
    """One response line.  raw: value is already plain JSON (driver-level ops)."""
    if ok:
        msg = {"id": rid, "ok": True, "result": value if raw else encode(value, objects)}
    else:
        msg = {"id": rid, "ok": False, "error": error_object(value)}
    return json.dumps(msg, allow_nan=False, separators=(",", ":"))


# ---------------------------------------------------------------------------
# object model (shared by main and actors)

QUEUE_METHODS = {"put", "get", "put_nowait", "get_nowait", "qsize", "empty", "full", "close",
                 "join_thread", "cancel_join_thread"}
METHODS = {
    "Queue": QUEUE_METHODS,
    "JoinableQueue": QUEUE_METHODS | {"task_done", "join"},
    "SimpleQueue": {"put", "get", "empty", "close"},
    "Connection": {"send", "recv", "send_bytes", "recv_bytes", "recv_bytes_into", "poll",
                   "fileno", "close"},
    "Listener": {"accept", "close"},
}
ATTRIBUTES = {
    "Connection": {"closed", "readable", "writable"},
    "Listener": {"address", "last_accepted"},
}
CREATE_KINDS = ("Queue", "JoinableQueue", "SimpleQueue", "Pipe", "Listener", "Client")


def kind_of(obj):
    if mp is None:
        return None
    if isinstance(obj, mpconn.Listener):
        return "Listener"
    if isinstance(obj, mpconn.Connection):
        return "Connection"
    n = type(obj).__name__
    if n in ("Queue", "JoinableQueue", "SimpleQueue") and type(obj).__module__.endswith(".queues"):
        return n
    return None


def as_name(x, what):
    if not isinstance(x, str) or not x:
        raise ProtocolError("%s must be a non-empty string" % what)
    return x


def get_args(req, objects):
    args = req.get("args", [])
    kwargs = req.get("kwargs", {})
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        raise ProtocolError("args must be a list and kwargs an object")
    return ([decode(a, objects) for a in args],
            {as_name(k, "kwarg name"): decode(v, objects) for k, v in kwargs.items()})


def do_object_op(req, objects):
    """Run create/call/getattr/apply/wait in the current actor.  Returns the value."""
    op = req["op"]
    if op == "create":
        kind = req.get("kind")
        if kind not in CREATE_KINDS:
            raise ProtocolError("unknown kind %r" % (kind,))
        args, kwargs = get_args(req, objects)
        if kind == "Pipe":
            h = req.get("handle")
            if not (isinstance(h, list) and len(h) == 2):
                raise ProtocolError("Pipe needs handle: [name1, name2]")
            a, b = ctx.Pipe(*args, **kwargs)
            objects[as_name(h[0], "handle")] = a
            objects[as_name(h[1], "handle")] = b
            return None
        h = as_name(req.get("handle"), "handle")
        if kind == "Listener":
            obj = mpconn.Listener(*args, **kwargs)
        elif kind == "Client":
            obj = mpconn.Client(*args, **kwargs)
        else:
            obj = getattr(ctx, kind)(*args, **kwargs)
        objects[h] = obj
        return None
    if op == "wait":
        hs = req.get("handles")
        if not isinstance(hs, list):
            raise ProtocolError("wait needs handles: [...]")
        objs = []
        for h in hs:
            if h not in objects:
                raise ProtocolError("no object %r in this actor" % (h,))
            objs.append(objects[h])
        timeout = decode(req.get("timeout"), objects)
        ready = mpconn.wait(objs, timeout)
        out = []
        for r in ready:  # names in list order; a listed twice object is reported once per listing
            for h, o in zip(hs, objs):
                if o is r and h not in out:
                    out.append(h)
                    break
        return out
    target = req.get("target")
    if op == "apply":
        if "function" in req:
            f = decode(req["function"], objects)
        elif target in objects:
            f = objects[target]
        else:
            raise ProtocolError("apply needs a bound 'target' or a 'function' value")
        args, kwargs = get_args(req, objects)
        value = f(*args, **kwargs)
        if req.get("bind") is not None:
            objects[as_name(req["bind"], "bind")] = value
        return value
    if target not in objects:
        raise ProtocolError("no object %r in this actor" % (target,))
    obj = objects[target]
    kind = kind_of(obj)
    if op == "getattr":
        name = req.get("name")
        if kind is None or name not in ATTRIBUTES.get(kind, ()):
            raise ProtocolError("no attribute %r on a %s" % (name, kind or type(obj).__name__))
        return getattr(obj, name)
    if op == "call":
        method = req.get("method")
        if kind is None or method not in METHODS.get(kind, ()):
            raise ProtocolError("no method %r on a %s" % (method, kind or type(obj).__name__))
        args, kwargs = get_args(req, objects)
        if method == "recv_bytes_into":
            size = args[0] if args else kwargs.pop("size", None)
            if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                raise ProtocolError("recv_bytes_into needs [size, offset?] with size >= 0")
            buf = bytearray(size)
            n = obj.recv_bytes_into(buf, *args[1:], **kwargs)
            return {"nbytes": n, "buffer": bytes(buf)}
        value = getattr(obj, method)(*args, **kwargs)
        bind = req.get("bind")
        if bind is not None:
            objects[as_name(bind, "bind")] = value
        return value
    raise ProtocolError("unknown op %r" % (op,))


# ---------------------------------------------------------------------------
# actor process

def actor_main(name, conn, objects, foreign):
    # stdout belongs to the driver's main process: anything printed here goes to stderr.
    os.dup2(2, 1)
    for c in foreign:  # other actors' command channels and the driver's stdio copies
        try:
            if isinstance(c, int):
                os.close(c)
            else:
                c.close()
        except OSError:
            pass
    send_lock = threading.Lock()

    def reply(line):
        with send_lock:
            conn.send(line)

    def run(req):
        rid = req.get("id")
        try:
            value = do_object_op(req, objects)
        except BaseException as e:  # noqa: BLE001 - every error is reported
            try:
                reply(response(rid, False, e))
            except Exception:
                traceback.print_exc()
            return
        try:
            line = response(rid, True, value, objects)
        except BaseException as e:  # noqa: BLE001
            line = response(rid, False, e)
        reply(line)

    while True:
        try:
            req = conn.recv()
        except EOFError:
            return
        if req.get("op") == "$exit":
            code = req.get("exitcode", 0)
            if code:
                sys.exit(code)
            return  # normal Process exit path: exit hooks flush queue feeders
        threading.Thread(target=run, args=(req,), daemon=True).start()


# ---------------------------------------------------------------------------
# measure (runs in the driver main process, in a thread; workers are fresh forks)

# Held around every fork of the driver's main process, so that no child inherits the actor end
# of a command channel that main is about to close (the actor's death would then go unseen).
FORK_LOCK = threading.Lock()

MEASURE_OPS = ("queue_put_get", "simplequeue_put_get", "joinablequeue_put_taskdone",
               "pipe_send_recv_bytes", "pipe_send_recv_object", "roundtrip")


def _split(count, parts):
    return [count // parts + (1 if i < count % parts else 0) for i in range(parts)]


def _m_producer(q, n, payload, barrier, done):
    barrier.wait()
    start = time.perf_counter_ns()  # the measure starts when the first worker leaves the barrier
    for _ in range(n):
        q.put(payload)
    done.put(("producer", time.perf_counter_ns(), start))


def _m_consumer(q, barrier, done, joinable):
    barrier.wait()
    n = 0
    last = 0
    get = q.get
    while True:
        x = get()
        if x is None:
            if joinable:
                q.task_done()
            break
        n += 1
        if joinable:
            q.task_done()
        last = time.perf_counter_ns()
    done.put(("consumer", n, last))


def _m_pipe_sender(w, n, payload, barrier, done, objects):
    barrier.wait()
    start = time.perf_counter_ns()
    if objects:
        for _ in range(n):
            w.send(payload)
    else:
        for _ in range(n):
            w.send_bytes(payload)
    done.put(("sender", start))


def _m_pipe_receiver(r, n, barrier, done, objects):
    barrier.wait()
    got = 0
    if objects:
        for _ in range(n):
            got += len(r.recv())
    else:
        for _ in range(n):
            got += len(r.recv_bytes())
    done.put(("consumer", n, time.perf_counter_ns(), got))


def _m_echo(c, n):
    for _ in range(n):
        c.send_bytes(c.recv_bytes())


def _m_pinger(c, n, payload, done):
    clock = time.perf_counter_ns
    lat = []
    t0 = clock()
    for _ in range(n):
        s = clock()
        c.send_bytes(payload)
        c.recv_bytes()
        lat.append(clock() - s)
    t1 = clock()
    done.put(("pinger", t0, t1, lat))


def _percentile(sorted_vals, p):
    if not sorted_vals:
        return None
    k = max(0, min(len(sorted_vals) - 1, math.ceil(p / 100.0 * len(sorted_vals)) - 1))
    return sorted_vals[k]


def run_measure(req):
    kind = req.get("kind")
    if kind not in MEASURE_OPS:
        raise ProtocolError("unknown measure kind %r" % (kind,))
    size = req.get("size", 0)
    count = req.get("count", 0)
    P = req.get("producers", 1)
    C = req.get("consumers", 1)
    maxsize = req.get("maxsize", 0)
    for k, v in (("size", size), ("count", count), ("producers", P), ("consumers", C),
                 ("maxsize", maxsize)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise ProtocolError("%s must be a non-negative integer" % k)
    if P < 1 or C < 1:
        raise ProtocolError("producers and consumers must be >= 1")
    if kind.startswith("pipe_") or kind == "roundtrip":
        if P != 1 or C != 1:
            raise ProtocolError("%s needs producers = consumers = 1" % kind)
    payload = b"x" * size
    done = ctx.SimpleQueue()
    procs = []
    result = {"kind": kind, "size": size, "count": count, "producers": P, "consumers": C}
    try:
        if kind == "roundtrip":
            a, b = ctx.Pipe()
            procs = [ctx.Process(target=_m_echo, args=(b, count), daemon=True),
                     ctx.Process(target=_m_pinger, args=(a, count, payload, done), daemon=True)]
            with FORK_LOCK:
                for p in procs:
                    p.start()
            _, t0, t1, lat = done.get()
            lat.sort()
            result["latency_ns"] = {
                "min": lat[0] if lat else None,
                "p50": _percentile(lat, 50), "p90": _percentile(lat, 90),
                "p99": _percentile(lat, 99), "max": lat[-1] if lat else None,
                "mean": (sum(lat) / len(lat)) if lat else None,
            }
            moved = count * size * 2
        elif kind.startswith("pipe_"):
            objects = kind == "pipe_send_recv_object"
            r, w = ctx.Pipe(duplex=False)
            barrier = ctx.Barrier(3)
            procs = [ctx.Process(target=_m_pipe_sender,
                                 args=(w, count, payload, barrier, done, objects), daemon=True),
                     ctx.Process(target=_m_pipe_receiver, args=(r, count, barrier, done, objects),
                                 daemon=True)]
            with FORK_LOCK:
                for p in procs:
                    p.start()
            barrier.wait()
            t0 = time.perf_counter_ns()
            # main may wake from the barrier late, after the work began: the sender's start counts
            reports = dict((m[0], m[1:]) for m in (done.get(), done.get()))
            t0 = min(t0, reports["sender"][0])
            n, t1, got = reports["consumer"]
            if got != count * size:
                raise RuntimeError("measure: received %d bytes, expected %d" % (got, count * size))
            moved = count * size
        else:
            joinable = kind == "joinablequeue_put_taskdone"
            if kind == "simplequeue_put_get":
                q = ctx.SimpleQueue()
            elif joinable:
                q = ctx.JoinableQueue(maxsize)
            else:
                q = ctx.Queue(maxsize)
            barrier = ctx.Barrier(P + C + 1)
            prods = [ctx.Process(target=_m_producer, args=(q, n, payload, barrier, done),
                                 daemon=True) for n in _split(count, P)]
            cons = [ctx.Process(target=_m_consumer, args=(q, barrier, done, joinable), daemon=True)
                    for _ in range(C)]
            procs = prods + cons
            with FORK_LOCK:
                for p in procs:
                    p.start()
            barrier.wait()
            t0 = time.perf_counter_ns()
            for _ in range(P):  # main may wake from the barrier late: the producers' starts count
                t0 = min(t0, done.get()[2])
            if joinable:
                q.join()
                t1 = time.perf_counter_ns()
            for p in prods:
                p.join()  # their feeders have flushed: the sentinels come after every item
            for _ in range(C):
                q.put(None)
            received = 0
            last = 0
            for _ in range(C):
                _, n, lt = done.get()
                received += n
                last = max(last, lt)
            if received != count:
                raise RuntimeError("measure: received %d items, expected %d" % (received, count))
            if not joinable:
                t1 = last if count else t0
            moved = count * size
        for p in procs:
            p.join()
        secs = max(t1 - t0, 1) / 1e9
        result.update({"seconds": secs, "items_per_s": count / secs,
                       "bytes_per_s": moved / secs, "clock": "perf_counter_ns"})
        return result
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join()


# ---------------------------------------------------------------------------
# driver main process


class Driver:
    def __init__(self, out_fd, in_fd):
        self.out_fd = out_fd
        self.in_fd = in_fd
        self.out_lock = threading.Lock()
        self.state_lock = threading.Lock()
        self.objects = {}          # main's handle table
        self.actors = {}           # name -> dict(proc, conn, pending, send_lock, exitcode)

    # -- output
    def write(self, line):
        data = (line + "\n").encode("utf-8")
        with self.out_lock:
            while data:
                n = os.write(self.out_fd, data)
                data = data[n:]

    def ok(self, rid, value, objects=None, raw=True):
        self.write(response(rid, True, value, objects, raw))

    def fail(self, rid, exc):
        self.write(response(rid, False, exc))

    def in_thread(self, rid, fn, *a, objects=None, raw=True):
        def run():
            try:
                v = fn(*a)
            except BaseException as e:  # noqa: BLE001
                self.fail(rid, e)
                return
            try:
                self.ok(rid, v, objects, raw)
            except BaseException as e:  # noqa: BLE001
                self.fail(rid, e)
        threading.Thread(target=run, daemon=True).start()

    # -- input
    def lines(self):
        buf = b""
        while True:
            i = buf.find(b"\n")
            if i >= 0:
                line, buf = buf[:i], buf[i + 1:]
                yield line
                continue
            chunk = os.read(self.in_fd, 65536)
            if not chunk:
                if buf.strip():
                    yield buf
                return
            buf += chunk

    def serve(self):
        for raw in self.lines():
            if not raw.strip():
                continue
            try:
                req = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as e:
                self.fail(None, ProtocolError("not a JSON line: %s" % e))
                continue
            if not isinstance(req, dict):
                self.fail(None, ProtocolError("a request is a JSON object"))
                continue
            rid = req.get("id")
            try:
                if self.dispatch(req, rid) == "shutdown":
                    return
            except BaseException as e:  # noqa: BLE001
                self.fail(rid, e)
        self.close_all()   # EOF on stdin acts as shutdown

    def dispatch(self, req, rid):
        op = req.get("op")
        if "id" not in req:
            raise ProtocolError("request without id")
        if op == "hello":
            self.ok(rid, self.hello(req))
        elif op == "spawn":
            self.ok(rid, self.spawn(req))
        elif op == "kill":
            a = self.actor(req)
            self.in_thread(rid, self.kill, a)
        elif op == "exit":
            a = self.actor(req)
            try:
                self.send_to(a, {"op": "$exit", "exitcode": req.get("exitcode", 0)})
            except OSError:
                pass  # already gone: join reports how it ended
            self.in_thread(rid, self.join, a, req.get("timeout"))
        elif op == "join":
            a = self.actor(req)
            self.in_thread(rid, self.join, a, req.get("timeout"))
        elif op == "close_all":
            self.ok(rid, self.close_all())
        elif op == "shutdown":
            res = self.close_all()
            self.ok(rid, res)
            return "shutdown"
        elif op == "measure":
            self.in_thread(rid, run_measure, req)
        elif op in ("create", "call", "getattr", "apply", "wait"):
            actor = req.get("actor", "main")
            if actor == "main" and op == "create" and req.get("kind") != "Client":
                # never blocks: done before the next request is read
                self.ok(rid, self.main_object_op(req), self.objects, raw=False)
            elif actor == "main":
                self.in_thread(rid, self.main_object_op, req, objects=self.objects, raw=False)
            else:
                a = self.actor(req)
                with self.state_lock:
                    if a["exitcode"] is not None or a["dead"]:
                        raise ActorDied("actor %r is not running" % a["name"])
                    a["pending"].add(json.dumps(rid))
                try:
                    self.send_to(a, req)
                except (OSError, EOFError) as e:
                    with self.state_lock:
                        a["pending"].discard(json.dumps(rid))
                    raise ActorDied("actor %r is not running (%s)" % (a["name"], e))
        else:
            raise ProtocolError("unknown op %r" % (op,))
        return None

    def main_object_op(self, req):
        return do_object_op(req, self.objects)

    # -- handshake
    def hello(self, req):
        want = req.get("protocol", PROTOCOL)
        if want != PROTOCOL:
            raise ProtocolError("this driver speaks protocol %d, not %r" % (PROTOCOL, want))
        impl = MODULE
        version = getattr(mp, "__version__", None) if MODULE != "multiprocessing" else None
        travel = MODULE == "multiprocess"
        if MODULE == "multiprocessing":
            name = "cpython-%d.%d" % sys.version_info[:2]
        else:
            name = MODULE
        return {
            "name": name,
            "implementation": impl,
            "implementation_version": version,
            "language": "python",
            "language_version": platform.python_version(),
            "language_implementation": platform.python_implementation(),
            "protocol": PROTOCOL,
            "pid": os.getpid(),
            "capabilities": {
                "kinds": list(CREATE_KINDS),
                "families": list(mpconn.families),
                "methods": {k: sorted(v) for k, v in METHODS.items()},
                "attributes": {k: sorted(v) for k, v in ATTRIBUTES.items()},
                "functions": ["identity", "square", "negate", "add", "const"],
                "functions_travel": {"queue": travel, "simplequeue": travel, "pipe": travel},
                "measure": list(MEASURE_OPS),
                "start_method": "fork",
                "kill": True,
            },
        }

    # -- actors
    def actor(self, req):
        name = req.get("actor")
        if name == "main":
            raise ProtocolError("actor 'main' is the driver's own process")
        with self.state_lock:
            a = self.actors.get(name)
        if a is None:
            raise ProtocolError("no actor %r" % (name,))
        return a

    def send_to(self, a, msg):
        with a["send_lock"]:
            a["conn"].send(msg)

    def spawn(self, req):
        name = as_name(req.get("actor"), "actor")
        if name == "main" or name in self.actors:
            raise ProtocolError("actor name %r is taken" % (name,))
        with FORK_LOCK:
            mine, theirs = ctx.Pipe()
            with self.state_lock:
                foreign = [x["conn"] for x in self.actors.values()]
            foreign += [mine, self.out_fd, self.in_fd]
            proc = ctx.Process(target=actor_main, name="mpipc-actor-" + name,
                               args=(name, theirs, dict(self.objects), foreign), daemon=True)
            proc.start()
            theirs.close()
        a = {"name": name, "proc": proc, "conn": mine, "pending": set(), "dead": False,
             "send_lock": threading.Lock(), "exitcode": None, "reaped": threading.Event()}
        with self.state_lock:
            self.actors[name] = a
        threading.Thread(target=self.pump, args=(a,), daemon=True).start()
        return {"actor": name, "pid": proc.pid}

    def pump(self, a):
        """Copy the actor's responses to stdout; on EOF fail what is still pending."""
        conn = a["conn"]
        while True:
            try:
                line = conn.recv()
            except (EOFError, OSError):
                break
            try:
                rid = json.loads(line).get("id")
            except ValueError:  # pragma: no cover
                rid = None
            with self.state_lock:
                a["pending"].discard(json.dumps(rid))
            self.write(line)
        a["proc"].join()
        with self.state_lock:
            a["dead"] = True
            a["exitcode"] = a["proc"].exitcode
            pending = sorted(a["pending"])
            a["pending"].clear()
        for p in pending:
            self.fail(json.loads(p), ActorDied("actor %r exited with code %r while the request "
                                               "was in flight" % (a["name"], a["exitcode"])))
        self.write(json.dumps({"event": "actor_exited", "actor": a["name"],
                               "exitcode": a["exitcode"]}, separators=(",", ":")))
        a["reaped"].set()

    def kill(self, a):
        proc = a["proc"]
        if proc.exitcode is None:
            try:
                os.kill(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        a["reaped"].wait()
        return {"exitcode": a["exitcode"]}

    def join(self, a, timeout):
        if timeout is not None and (not isinstance(timeout, (int, float)) or isinstance(timeout, bool)):
            raise ProtocolError("timeout must be a number or null")
        if not a["reaped"].wait(timeout):
            return {"exitcode": None}
        return {"exitcode": a["exitcode"]}

    def close_all(self):
        with self.state_lock:
            actors = list(self.actors.values())
        killed = []
        for a in actors:
            if a["proc"].exitcode is None:
                try:
                    os.kill(a["proc"].pid, signal.SIGKILL)
                    killed.append(a["name"])
                except ProcessLookupError:
                    pass
        for a in actors:
            a["reaped"].wait()
            try:
                a["conn"].close()
            except OSError:
                pass
        closed = 0
        for obj in list(self.objects.values()):
            k = kind_of(obj)
            try:
                if k in ("Queue", "JoinableQueue"):
                    obj.cancel_join_thread()  # never let the driver hang at exit (Q-EXIT-FLUSH)
                if k is not None:
                    obj.close()
                    closed += 1
            except Exception:  # noqa: BLE001 - best effort
                pass
        with self.state_lock:
            self.actors.clear()
        self.objects.clear()
        return {"killed": killed, "closed": closed}


def main(argv=None):
    global mp, ctx, mpconn, MODULE
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--module", default="multiprocessing",
                    choices=["multiprocessing", "multiprocess"])
    opts = ap.parse_args(argv)
    MODULE = opts.module
    mp = importlib.import_module(MODULE)
    mpconn = importlib.import_module(MODULE + ".connection")
    ctx = mp.get_context("fork")
    # Protocol lines go to a private copy of fd 1; fd 1 itself becomes stderr so that stray
    # output (ours, the library's, the children's) can never corrupt the stream.  Requests are
    # read from a private copy of fd 0 with os.read (no buffered-reader lock held across fork).
    out_fd = os.dup(1)
    in_fd = os.dup(0)
    os.dup2(2, 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    drv = Driver(out_fd, in_fd)
    try:
        drv.serve()
    finally:
        # Skip interpreter teardown: queue feeders of closed queues are cancelled, actors are
        # gone; nothing left to flush but our own output, which is written unbuffered.
        sys.stderr.flush()
        os._exit(0)


if __name__ == "__main__":
    main()
