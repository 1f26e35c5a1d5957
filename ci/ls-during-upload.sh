#!/usr/bin/env bash
# Does one big upload freeze other clients? Uploads a random file (1 GiB by
# default) to a local `sft serve` and, meanwhile, runs `sft ls` from another
# client back to back until the upload has finished (its fsync and rename
# included), printing each ls wall time and the median and worst.
# Loopback only; every loop is bounded.
#   SIZE_MIB=1024   size of the upload
#   SFT=path        sft binary (default: target/release/sft, built if missing)
set -euo pipefail
export LC_ALL=C
SIZE_MIB=${SIZE_MIB:-1024}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SFT=${SFT:-$REPO/target/release/sft}
[ -x "$SFT" ] || (cd "$REPO" && cargo build --release --locked >&2)

WORK=$(mktemp -d -p "${BENCH_TMP:-$REPO/..}" sft-ls-during.XXXXXX)
SERVER_PID=
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

mkdir -p "$WORK/up" "$WORK/ls" "$WORK/srv"
SFT_HOME=$WORK/up "$SFT" keygen >/dev/null
SFT_HOME=$WORK/ls "$SFT" keygen >/dev/null
cat "$WORK/up/identity.pub" "$WORK/ls/identity.pub" > "$WORK/srv/authorized_keys"
head -c $((SIZE_MIB << 20)) /dev/urandom > "$WORK/big.bin"

SFT_HOME=$WORK/srv RUST_LOG=info "$SFT" serve --listen 127.0.0.1:0 --root "$WORK/root" \
  2> "$WORK/serve.log" &
SERVER_PID=$!
for _ in $(seq 200); do grep -q "listening on" "$WORK/serve.log" && break; sleep 0.05; done
ADDR=$(sed -n 's/.*listening on \([^,]*\),.*/\1/p' "$WORK/serve.log" | head -1)
FP=$(sed -n 's/.*host key \(SHA256:[^,]*\),.*/\1/p' "$WORK/serve.log" | head -1)
[ -n "$ADDR" ] || { cat "$WORK/serve.log" >&2; exit 1; }

sync
START=$EPOCHREALTIME
SFT_HOME=$WORK/up "$SFT" put "$ADDR" "$WORK/big.bin" --server-key "$FP" > "$WORK/put.out" &
PUT_PID=$!
: > "$WORK/ls.times"
for _ in $(seq 100000); do
  kill -0 "$PUT_PID" 2>/dev/null || break
  t0=$EPOCHREALTIME
  SFT_HOME=$WORK/ls "$SFT" ls "$ADDR" --server-key "$FP" > /dev/null
  echo "$EPOCHREALTIME $t0" | awk '{printf "%.4f\n", $1 - $2}' >> "$WORK/ls.times"
done
wait "$PUT_PID"
END=$EPOCHREALTIME
cat "$WORK/put.out"
echo "ls times (s), in order: $(tr "\n" " " < "$WORK/ls.times")"
sort -n "$WORK/ls.times" | awk -v total="$(echo "$END $START" | awk '{print $1-$2}')" '
  { t[NR] = $1 }
  END {
    if (NR == 0) { print "no ls completed during the upload"; exit 1 }
    printf "upload of %s took %.2f s; %d sft ls ran meanwhile\n", ENVIRON["SIZE_MIB"] " MiB", total, NR
    printf "sft ls during the upload: median %.3f s, worst %.3f s\n", t[int((NR + 1) / 2)], t[NR]
  }'
grep -E "stored" "$WORK/serve.log" | sed 's/^/server: /'
