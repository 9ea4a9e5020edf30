#!/usr/bin/env python3
"""The reference interop demo: mpipc's C++ Listener/Client talking to CPython's.

For every interpreter found (pyenv CPython 3.11/3.12/3.13 with `multiprocessing`, Debian's python3
with `multiprocess`):
  1. a CPython Client connects to `mpipc listen` (C++) with an authkey, sends messages and reads
     the echoes; then tries a wrong key and shows both sides refusing it;
  2. a CPython Listener accepts `mpipc connect` (C++) with an authkey and answers each message.
Prints what happened and exits non-zero if any exchange did not go as expected.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

INTERPRETERS = [
    ("cpython-3.11", "/root/.pyenv/versions/3.11.7/bin/python3", "multiprocessing"),
    ("cpython-3.12", "/root/.pyenv/versions/3.12.1/bin/python3", "multiprocessing"),
    ("cpython-3.13", "/root/.pyenv/versions/3.13.0/bin/python3", "multiprocessing"),
    ("multiprocess", "/usr/bin/python3", "multiprocess"),
]

# Runs inside the interpreter under test: a Client that sends argv messages to a C++ echo server.
CLIENT_CODE = r"""
import importlib, sys
conn_mod = importlib.import_module(sys.argv[1] + '.connection')
address, key, wrong = sys.argv[2], sys.argv[3].encode(), sys.argv[4].encode()
host, _, port = address.rpartition(':')
addr = (host, int(port)) if port.isdigit() else address
with conn_mod.Client(addr, authkey=key) as c:
    for m in sys.argv[5:]:
        c.send_bytes(m.encode())
        print('  echo  %r -> %r' % (m, c.recv_bytes().decode()))
try:
    conn_mod.Client(addr, authkey=wrong)
    print('  wrong key: ACCEPTED (unexpected)')
except conn_mod.AuthenticationError as e:
    print('  wrong key: client raised AuthenticationError(%r)' % str(e))
"""

# Runs inside the interpreter under test: a Listener that answers one C++ client, upper-casing.
LISTENER_CODE = r"""
import importlib, sys
conn_mod = importlib.import_module(sys.argv[1] + '.connection')
with conn_mod.Listener(('127.0.0.1', 0), authkey=sys.argv[2].encode()) as l:
    print('%s:%d' % l.address, flush=True)
    with l.accept() as c:
        while True:
            try:
                m = c.recv_bytes()
            except EOFError:
                break
            c.send_bytes(m.upper())
print('  python listener: client closed cleanly')
"""


def run_python_client(mpipc, python, module, family, tmp):
    key_file = os.path.join(tmp, "key")
    address = "127.0.0.1:0" if family == "AF_INET" else os.path.join(tmp, "echo.sock")
    server = subprocess.Popen([mpipc, "listen", address, "--authkey-file", key_file],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        bound = server.stdout.readline().strip()
        out = subprocess.run(
            [python, "-c", CLIENT_CODE, module, bound, "secret", "not-the-key", "hello", "",
             "from " + module],
            capture_output=True, text=True, timeout=60)
        print(out.stdout, end="")
        ok = out.returncode == 0 and "AuthenticationError('digest sent was rejected')" in out.stdout
        if out.returncode != 0:
            print(out.stderr)
    finally:
        server.terminate()
        _, err = server.communicate(timeout=10)
    for line in err.splitlines():
        if "failed" in line:
            print("  C++ listener: " + line)
    return ok and "digest received was wrong" in err


def run_cpp_client(mpipc, python, module, tmp):
    key_file = os.path.join(tmp, "key")
    listener = subprocess.Popen([python, "-c", LISTENER_CODE, module, "secret"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        address = listener.stdout.readline().strip()
        out = subprocess.run([mpipc, "connect", address, "--authkey-file", key_file],
                             input="ping\nfrom c++\n", capture_output=True, text=True, timeout=60)
        replies = out.stdout.splitlines()
        for sent, got in zip(["ping", "from c++"], replies):
            print("  reply %r -> %r" % (sent, got))
        ok = out.returncode == 0 and replies == ["PING", "FROM C++"]
        if out.returncode != 0:
            print("  mpipc connect failed: " + out.stderr.strip())
    finally:
        rest, _ = listener.communicate(timeout=30)
    print(rest, end="")
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mpipc", default="build/bin/mpipc")
    args = parser.parse_args()
    mpipc = os.path.abspath(args.mpipc)
    results = []
    with tempfile.TemporaryDirectory(prefix="mpipc-demo-") as tmp:
        with open(os.path.join(tmp, "key"), "wb") as f:
            f.write(b"secret")
        for name, python, module in INTERPRETERS:
            if not shutil.which(python) or subprocess.run(
                    [python, "-c", "import " + module], capture_output=True).returncode != 0:
                print("== %s: not found, skipped" % name)
                results.append((name, "skipped"))
                continue
            for family in ("AF_INET", "AF_UNIX"):
                print("== %s Client -> C++ Listener (%s, authkey)" % (name, family))
                ok = run_python_client(mpipc, python, module, family, tmp)
                results.append(("%s client, %s" % (name, family), "ok" if ok else "FAILED"))
            print("== C++ Client -> %s Listener (AF_INET, authkey)" % name)
            ok = run_cpp_client(mpipc, python, module, tmp)
            results.append(("%s listener" % name, "ok" if ok else "FAILED"))
    print("\nSummary")
    for what, status in results:
        print("  %-36s %s" % (what, status))
    return 1 if any(s == "FAILED" for _, s in results) else 0


if __name__ == "__main__":
    sys.exit(main())
