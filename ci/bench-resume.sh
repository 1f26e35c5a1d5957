#!/usr/bin/env bash
# Resume against a full re-send, in the same run, over loopback (127.0.0.1 only):
#   1. `sft put` of a random file, the client killed (-9) once the server's partial file
#      holds CUT_PCT percent of it;
#   2. the same `sft put` again: it resumes after the verified prefix;
#   3. the same file sent whole under another name (what a re-send without resume costs);
#   4. the same for `sft get`: killed at CUT_PCT, resumed, and fetched whole.
# For each it prints the wall time and the bytes that crossed loopback (the `lo` receive
# counter, both directions, all traffic), and checks the stored file byte for byte.
# The load average is printed before and after: figures only mean something side by side.
#
# Environment knobs:
#   SIZE_MIB=1024   size of the random test file
#   CUT_PCT=90      where the first run is killed (percent of the file in the partial)
#   SFT=path        sft binary (default <repo>/target/release/sft, built with --locked)
#   SFT_BUILD=1     0: use the binary as it is
#   BENCH_TMP=/work/tmp-bench   parent of the mktemp -d work dir
# Exit status: 0 unless a stored file differed from its source, or a step failed.
set -euo pipefail
export LC_ALL=C

SIZE_MIB=${SIZE_MIB:-1024}
CUT_PCT=${CUT_PCT:-90}
SFT_BUILD=${SFT_BUILD:-1}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SFT=${SFT:-$REPO/target/release/sft}
BENCH_TMP=${BENCH_TMP:-/work/tmp-bench}

log() { printf '# %s\n' "$*" >&2; }
die() { printf 'bench-resume: %s\n' "$*" >&2; exit 1; }
case $SIZE_MIB in '' | *[!0-9]* | 0) die "SIZE_MIB must be a positive integer" ;; esac
case $CUT_PCT in '' | *[!0-9]*) die "CUT_PCT must be 1..99" ;; esac
[ "$CUT_PCT" -ge 1 ] && [ "$CUT_PCT" -le 99 ] || die "CUT_PCT must be 1..99"
[ -r /sys/class/net/lo/statistics/rx_bytes ] || die "needs /sys/class/net/lo/statistics"

if [ "$SFT_BUILD" = 1 ]; then
  (cd "$REPO" && cargo build --release --locked -q) || die "build failed"
fi
[ -x "$SFT" ] || die "no sft binary at $SFT"

mkdir -p "$BENCH_TMP" 2>/dev/null || BENCH_TMP=${TMPDIR:-/tmp}
WORK=$(mktemp -d -p "$BENCH_TMP" bench-resume.XXXXXX)
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

SIZE=$((SIZE_MIB * 1024 * 1024))
CUT=$((SIZE / 100 * CUT_PCT))
mkdir -p "$WORK/srv/root" "$WORK/cli" "$WORK/out"
export SFT_HOME=$WORK/cli
"$SFT" keygen >/dev/null 2>&1
cp "$WORK/cli/identity.pub" "$WORK/srv/authorized_keys"
head -c "$SIZE" /dev/urandom >"$WORK/file.bin"
cp "$WORK/file.bin" "$WORK/srv/root/served.bin"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
SFT_HOME=$WORK/srv "$SFT" serve --listen "127.0.0.1:$PORT" --root "$WORK/srv/root" \
  >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do grep -q listening "$WORK/server.log" && break; sleep 0.1; done
grep -q listening "$WORK/server.log" || die "server did not start: $(cat "$WORK/server.log")"
TARGET=127.0.0.1:$PORT

lo() { cat /sys/class/net/lo/statistics/rx_bytes; }
# Largest partial file in DIR, in bytes (0 if none).
held() { find "$1" -maxdepth 1 -name '.sft-part-*' -printf '%s\n' 2>/dev/null | sort -n | tail -1; }

# kill_at DIR CMD...: runs CMD, kills it (-9) once DIR's partial holds $CUT bytes.
kill_at() {
  local dir=$1; shift
  "$@" >/dev/null 2>&1 &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    [ "$(held "$dir")" -ge "$CUT" ] 2>/dev/null && { kill -9 "$pid"; break; }
  done
  wait "$pid" 2>/dev/null || true
  # The server sees the cut and keeps the partial; give it the moment to close.
  sleep 0.5
  log "killed at $(held "$dir") bytes held"
}

# timed LABEL CMD...: runs CMD, prints wall seconds and loopback bytes.
timed() {
  local label=$1; shift
  local before after t0 t1
  before=$(lo); t0=$(date +%s.%N)
  "$@" >"$WORK/out.txt" 2>&1 || { cat "$WORK/out.txt" >&2; die "$label failed"; }
  t1=$(date +%s.%N); after=$(lo)
  awk -v l="$label" -v a="$t0" -v b="$t1" -v x="$before" -v y="$after" \
    'BEGIN { printf "%-28s %7.2f s  %12d bytes over loopback\n", l, b - a, y - x }'
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "file: $SIZE bytes, cut at $CUT_PCT% ($CUT bytes)"

kill_at "$WORK/srv/root" "$SFT" put "$TARGET" "$WORK/file.bin" --accept-new
timed "put resumed at ${CUT_PCT}%" "$SFT" put "$TARGET" "$WORK/file.bin"
grep -o 'resuming after[^(]*' "$WORK/out.txt" || die "the second put did not resume: $(cat "$WORK/out.txt")"
cmp "$WORK/file.bin" "$WORK/srv/root/file.bin" || die "FAIL: resumed upload differs"
timed "put whole (re-send)" "$SFT" put "$TARGET" "$WORK/file.bin" --to whole
cmp "$WORK/file.bin" "$WORK/srv/root/whole/file.bin" || die "FAIL: whole upload differs"

kill_at "$WORK/out" "$SFT" get "$TARGET" served.bin -o "$WORK/out"
timed "get resumed at ${CUT_PCT}%" "$SFT" get "$TARGET" served.bin -o "$WORK/out"
grep -o 'resuming after[^(]*' "$WORK/out.txt" || die "the second get did not resume: $(cat "$WORK/out.txt")"
cmp "$WORK/file.bin" "$WORK/out/served.bin" || die "FAIL: resumed download differs"
rm "$WORK/out/served.bin"
timed "get whole (re-fetch)" "$SFT" get "$TARGET" served.bin -o "$WORK/out"
cmp "$WORK/file.bin" "$WORK/out/served.bin" || die "FAIL: whole download differs"

echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
