#!/usr/bin/env python3
"""A multiprocessing peer for mpipc's interop tests (reference/src/interop_test.cc).

Acts as a multiprocessing.connection Listener or Client and is driven over stdin/stdout, so that a
C++ test can run it against mpipc. Standard library only; works with Python 3.8+ and with either
`multiprocessing` or the `multiprocess` fork (--module).

Usage:
  py_peer.py --module {multiprocessing,multiprocess} --role {listen,connect}
             --address ADDR [--family {AF_INET,AF_UNIX}] [--authkey-hex HEX]

ADDR uses mpipc's text form: "HOST:PORT" (AF_INET), "@NAME" (Linux abstract AF_UNIX) or a path.
Without --authkey-hex there is no authkey (None); an empty HEX is the key b''.

Every output line is one JSON object, flushed at once:
  {"event": "hello", "python": "3.12.1", "module": "multiprocessing", "module_version": "..."}
  listen:  {"event": "listening", "address": ADDR}, then {"event": "accepted"} or an error
  connect: {"event": "connected"} or an error
  error:   {"event": "error", "op": OP, "type": "AuthenticationError", "message": "...",
            "errno": null}
Then commands, one per stdin line, each answered with one line:
  recv N SEED   receive one message; {"event": "recv", "len": L, "match": true|false,
                "first_mismatch": I|null} comparing it with pattern(N, SEED)
  send N SEED   send pattern(N, SEED); {"event": "sent", "len": N}
  echo          receive one message and send it back; {"event": "echoed", "len": L}
  close         close the connection; {"event": "closed"}
  exit          {"event": "bye"} and exit 0 (so does end of input)
A command that raises answers with an error line (op = the command) and the loop goes on.

pattern(N, SEED): byte i is (i % 256 + (i // 256) * 37 + SEED) % 256.
"""

import argparse
import importlib
import json
import platform
import sys


def emit(**fields):
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def emit_error(op, exc):
    errno = getattr(exc, "errno", None)
    if isinstance(exc, OSError) and errno is not None:
        message = exc.strerror
    else:
        message = str(exc.args[0]) if exc.args else ""
    emit(event="error", op=op, type=type(exc).__name__, message=message, errno=errno)


def pattern(n, seed):
    base = bytes(range(256))
    blocks = []
    for k in range((n + 255) // 256):
        r = (k * 37 + seed) % 256
        blocks.append(base[r:] + base[:r])
    return b"".join(blocks)[:n]


def parse_address(text, family):
    if text == "":
        return None
    if text.startswith("@"):
        return "\0" + text[1:]
    if family == "AF_INET" or ("/" not in text and ":" in text):
        host, _, port = text.rpartition(":")
        return (host, int(port))
    return text


def format_address(address):
    if isinstance(address, tuple):
        return "%s:%d" % (address[0], address[1])
    if isinstance(address, bytes):
        address = address.decode("utf-8", "surrogateescape")
    if address.startswith("\0"):
        return "@" + address[1:]
    return address


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--module", default="multiprocessing",
                        choices=["multiprocessing", "multiprocess"])
    parser.add_argument("--role", required=True, choices=["listen", "connect"])
    parser.add_argument("--address", default="")
    parser.add_argument("--family", default=None, choices=["AF_INET", "AF_UNIX"])
    parser.add_argument("--authkey-hex", default=None)
    args = parser.parse_args()

    try:
        package = importlib.import_module(args.module)
        connection = importlib.import_module(args.module + ".connection")
    except Exception as exc:  # reported, so that the test can skip
        emit_error("import", exc)
        return 0
    emit(event="hello", python=platform.python_version(), module=args.module,
         module_version=getattr(package, "__version__", ""))

    authkey = None if args.authkey_hex is None else bytes.fromhex(args.authkey_hex)
    address = parse_address(args.address, args.family)
    conn = None
    listener = None
    if args.role == "listen":
        try:
            listener = connection.Listener(address, family=args.family, authkey=authkey)
        except Exception as exc:
            emit_error("listen", exc)
            return 0
        emit(event="listening", address=format_address(listener.address))
        try:
            conn = listener.accept()
            emit(event="accepted")
        except Exception as exc:
            emit_error("accept", exc)
    else:
        try:
            conn = connection.Client(address, family=args.family, authkey=authkey)
            emit(event="connected")
        except Exception as exc:
            emit_error("connect", exc)

    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        op = words[0]
        try:
            if op == "recv":
                expected = pattern(int(words[1]), int(words[2]))
                data = conn.recv_bytes()
                mismatch = None
                if data != expected:
                    mismatch = next((i for i, (a, b) in enumerate(zip(data, expected)) if a != b),
                                    min(len(data), len(expected)))
                emit(event="recv", len=len(data), match=data == expected, first_mismatch=mismatch)
            elif op == "send":
                data = pattern(int(words[1]), int(words[2]))
                conn.send_bytes(data)
                emit(event="sent", len=len(data))
            elif op == "echo":
                data = conn.recv_bytes()
                conn.send_bytes(data)
                emit(event="echoed", len=len(data))
            elif op == "close":
                conn.close()
                emit(event="closed")
            elif op == "exit":
                break
            else:
                raise ValueError("unknown command %r" % op)
        except Exception as exc:
            emit_error(op, exc)
    if listener is not None:
        listener.close()
    emit(event="bye")
    return 0


if __name__ == "__main__":
    sys.exit(main())
