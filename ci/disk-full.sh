#!/usr/bin/env bash
# Disk full, end to end (run by hand, as root: it mounts a tmpfs). A local
# `sft serve` gets a 32 MiB tmpfs as its root; then:
#   1. a 64 MiB put must fail fast with exit 1 and "server disk full";
#   2. a 1 MiB put afterwards must succeed (the server keeps serving);
#   3. two 20 MiB puts at once: one stored, one refused as disk full (the
#      server log order shows whether the refusal came while the other was
#      still in flight, i.e. against its reserved space; on a busy machine
#      the first may finish before the second asks).
# After each step no `.sft-part-*` file may be left in the root. Prints
# exit codes, seconds and messages; exits 1 if any expectation fails.
#   SFT=path   sft binary (default: target/release/sft, built first)
set -uo pipefail
export LC_ALL=C
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -z "${SFT:-}" ]; then
  SFT=$REPO/target/release/sft
  (cd "$REPO" && cargo build --release --locked >&2) || exit 1
fi
[ "$(id -u)" = 0 ] || { echo "run as root (mounts a tmpfs)" >&2; exit 1; }

WORK=$(mktemp -d)
MNT=$(mktemp -d)
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  mountpoint -q "$MNT" && umount "$MNT"
  rmdir "$MNT"
  rm -rf "$WORK"
}
trap cleanup EXIT
mount -t tmpfs -o size=32m,mode=0700 tmpfs "$MNT" || exit 1

FAILED=0
check() { # check DESCRIPTION TEST...
  local what=$1; shift
  if "$@"; then echo "  ok: $what"; else echo "  FAILED: $what"; FAILED=1; fi
}
no_parts() { [ -z "$(find "$MNT" -maxdepth 1 -name '.sft-part-*' -print -quit)" ]; }
# put NAME FILE: runs `sft put`, leaving its exit code in RC_NAME, its
# stderr in $WORK/NAME.err and its wall time in $WORK/NAME.secs.
put() {
  local t0=$EPOCHREALTIME rc=0
  SFT_HOME=$WORK/client "$SFT" put "$ADDR" "$2" --server-key "$FP" \
    > "$WORK/$1.out" 2> "$WORK/$1.err" || rc=$?
  echo "$EPOCHREALTIME $t0" | awk '{printf "%.2f\n", $1 - $2}' > "$WORK/$1.secs"
  echo "$rc" > "$WORK/$1.rc"
}
show() { # show NAME: the figures of one put
  printf '  %-6s exit %s in %ss: %s\n' "$1" "$(cat "$WORK/$1.rc")" "$(cat "$WORK/$1.secs")" \
    "$(cat "$WORK/$1.out" "$WORK/$1.err" | tr '\n' ' ')"
}

mkdir -p "$WORK/client" "$WORK/server"
SFT_HOME=$WORK/client "$SFT" keygen > /dev/null || exit 1
head -c $((64 << 20)) /dev/urandom > "$WORK/big64.bin"
head -c $((1 << 20)) /dev/urandom > "$WORK/small1.bin"
head -c $((20 << 20)) /dev/urandom > "$WORK/a20.bin"
head -c $((20 << 20)) /dev/urandom > "$WORK/b20.bin"

SFT_HOME=$WORK/server RUST_LOG=info "$SFT" serve --listen 127.0.0.1:0 --root "$MNT" \
  --allow-any-client 2> "$WORK/serve.log" &
SERVER_PID=$!
for _ in $(seq 200); do grep -q "listening on" "$WORK/serve.log" && break; sleep 0.05; done
ADDR=$(sed -n 's/.*listening on \([^,]*\),.*/\1/p' "$WORK/serve.log" | head -1)
FP=$(sed -n 's/.*host key \(SHA256:[^,]*\),.*/\1/p' "$WORK/serve.log" | head -1)
[ -n "$ADDR" ] || { cat "$WORK/serve.log" >&2; exit 1; }
echo "server on $ADDR, root: 32 MiB tmpfs ($(df -B1 --output=avail "$MNT" | tail -1) bytes free)"

echo "1. 64 MiB into 32 MiB"
put big "$WORK/big64.bin"
show big
check "exit 1" [ "$(cat "$WORK/big.rc")" = 1 ]
check "says server disk full" grep -q "server disk full" "$WORK/big.err"
check "within 5 s" awk -v s="$(cat "$WORK/big.secs")" 'BEGIN { exit !(s < 5) }'
check "nothing staged left" no_parts

echo "2. 1 MiB afterwards"
put small "$WORK/small1.bin"
show small
check "exit 0" [ "$(cat "$WORK/small.rc")" = 0 ]
check "stored whole" cmp -s "$WORK/small1.bin" "$MNT/small1.bin"

echo "3. two 20 MiB at once ($(df -B1 --output=avail "$MNT" | tail -1) bytes free)"
# The second starts once the first is being staged, so they overlap.
put a "$WORK/a20.bin" & A=$!
for _ in $(seq 500); do no_parts || break; sleep 0.01; done
put b "$WORK/b20.bin" & B=$!
wait "$A" "$B"
show a
show b
RCS="$(cat "$WORK/a.rc") $(cat "$WORK/b.rc")"
one_each() { [ "$RCS" = "0 1" ] || [ "$RCS" = "1 0" ]; }
check "one stored, one refused (exit codes $RCS)" one_each
check "the refusal says server disk full" grep -q "server disk full" "$WORK/a.err" "$WORK/b.err"
STORED=$(find "$MNT" -maxdepth 1 -name '?20.bin' | wc -l)
check "exactly one 20 MiB file in the root ($STORED)" [ "$STORED" = 1 ]
check "nothing staged left" no_parts
check "server still running" kill -0 "$SERVER_PID"
# In the log, a refusal before the other's "stored" line means it was
# refused while the other was still being received (its space reserved).
echo "  order in the server log: $(grep -oE '(refused upload|stored) "[ab]20.bin"' "$WORK/serve.log" | tr '\n' ';')"

echo "server log (disk full and stored lines):"
grep -E "disk full|stored|No space" "$WORK/serve.log" | sed 's/^/  /'
echo "root at the end: $(ls -A "$MNT" | tr '\n' ' ')"
[ "$FAILED" = 0 ] && echo "PASS" || echo "FAIL"
exit "$FAILED"
