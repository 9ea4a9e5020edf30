#!/usr/bin/env bash
# End-to-end checks of `mpipc listen` / `mpipc connect` (C++ on both ends).
set -euo pipefail
mpipc=$1
scratch=$(mktemp -d)
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  rm -rf "$scratch"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

printf 'secret' >"$scratch/key"
printf 'wrong' >"$scratch/bad"
mkfifo "$scratch/addr"
"$mpipc" listen "$scratch/echo.sock" --authkey-file "$scratch/key" >"$scratch/addr" 2>"$scratch/err" &
server=$!
read -r bound <"$scratch/addr"
[ "$bound" = "$scratch/echo.sock" ] || fail "listen printed '$bound'"

out=$(printf 'one\n\nthree\n' | "$mpipc" connect "$bound" --authkey-file "$scratch/key")
[ "$out" = $'one\n\nthree' ] || fail "echo gave '$out'"
echo "ok: echo over AF_UNIX with an authkey"

if "$mpipc" connect "$bound" --authkey-file "$scratch/bad" </dev/null 2>"$scratch/cerr"; then
  fail "wrong key accepted"
fi
grep -q "AuthenticationError: digest sent was rejected" "$scratch/cerr" || fail "client message: $(cat "$scratch/cerr")"
echo "ok: wrong key refused by the client side"

# The listener reports the failure and keeps serving.
out=$(printf 'again\n' | "$mpipc" connect "$bound" --authkey-file "$scratch/key")
[ "$out" = "again" ] || fail "listener did not keep serving: '$out'"
grep -q "digest received was wrong" "$scratch/err" || fail "listener stderr: $(cat "$scratch/err")"
echo "ok: listener reports the failure on stderr and keeps serving"

kill "$server"; wait "$server" 2>/dev/null || true; server=""
[ ! -e "$scratch/echo.sock" ] || fail "socket file left behind after SIGTERM"
echo "ok: SIGTERM removes the socket file"

if "$mpipc" connect "$scratch/missing.sock" </dev/null 2>"$scratch/cerr"; then fail "connected to nothing"; fi
grep -q "FileNotFoundError: \[Errno 2\] No such file or directory" "$scratch/cerr" || fail "$(cat "$scratch/cerr")"
echo "ok: a missing address is a clear error"

if "$mpipc" listen 127.0.0.1:notaport 2>"$scratch/cerr" </dev/null; then fail "bad port accepted"; fi
grep -q "invalid port" "$scratch/cerr" || fail "$(cat "$scratch/cerr")"
echo "ok: a malformed address is a clear error"
echo "cli: 6 checks passed"
