#!/usr/bin/env bash
# Flood and load figures for `sft serve` (issue 8), loopback only, every phase
# bounded in count and time. Each phase gets a fresh server (fresh per-address
# rate budgets, its own log) on a root under /dev/shm:
#   A  1,000-address reconnect flood (120 sockets, 20 s) while one established
#      session LISTs every 20 ms and honest clients from 127.0.0.1 run 20
#      sequential `sft ls` and 3 rounds of 10 parallel `sft put` (3 files each)
#   B  20-address half-handshake flood; 3 rounds of 10 parallel `sft put`
#   C  no flood: 50 parallel `sft put` of one key from 127.0.0.1
#   D  100,000 files of 200-byte names; 10 clients ask for the listing and
#      never read; server VmRSS before, while held, after
#   E  one `sft put` of 10,000 files, then 100 single `sft put` in a loop
# The flood tools are examples/flood (cargo build --release --example flood).
#
# Usage: ci/flood.sh [SFT_BINARY]   (default target/release/sft, built if missing)
#   SERVE_ARGS="..."   extra `sft serve` flags (default none: the server's default limits)
#   PHASES=ABCDE       the phases to run
# Exit status 0 when every phase ran (the figures say whether it went well).
#
# Reading the figures: the default limits are meant to pass every phase.
# An sft from before issue 8 (one limit of 100 connections and requests per
# address per 60 s) refuses the LIST-every-20-ms session after ~100 LISTs,
# the honest clients' own traffic in phase A and phase E: run it with
# SERVE_ARGS="--rate-limit 10000/1s" to see what the floods alone do. The
# server log's refusal reasons for 127.0.0.1 are printed under each phase to
# tell the two apart.
set -euo pipefail
# Job control: every background job is its own process group, so cleanup
# kills exactly the groups this script started.
set -m
export LC_ALL=C

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SFT=${1:-$REPO/target/release/sft}
FLOOD=$REPO/target/release/examples/flood
SERVE_ARGS=${SERVE_ARGS:-}
PHASES=${PHASES:-ABCDE}
FLOOD_SECS=20

[ -x "$SFT" ] || (cd "$REPO" && cargo build --release --locked >&2)
(cd "$REPO" && cargo build --release --locked --example flood >&2)
SFT=$(realpath "$SFT")

W=$(mktemp -d -p /dev/shm sft-flood.XXXXXX 2>/dev/null || mktemp -d sft-flood.XXXXXX)
STARTED=()
cleanup() {
  local p
  exec 2> /dev/null # the shell's notices of the jobs killed here
  for p in "${STARTED[@]}"; do kill -TERM -- "-$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${STARTED[@]}"; do kill -KILL -- "-$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { echo "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
# kv FILE KEY: the value of KEY=value in the tool's figures line.
kv() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" "$1" | tail -1; }
ROWS=()
row() { ROWS+=("$(printf '%-2s %-46s %s' "$1" "$2" "$3")"); echo "  $2: $3"; }

# ---- keys: one honest client key (SFT_HOME), one tool key, the server's ----
mkdir -p "$W/honest" "$W/srv" "$W/files"
SFT_HOME=$W/honest "$SFT" keygen > /dev/null 2>&1
"$SFT" keygen -o "$W/tool.key" > /dev/null 2>&1
cat "$W/honest/identity.pub" "$W/tool.key.pub" > "$W/srv/authorized_keys"
HOST_PUB=$W/srv/host_identity.pub

# start_server NAME: a fresh `sft serve` on 127.0.0.1 (any port) with root
# $W/root-NAME (kept if it exists); sets SERVER_PID, ADDR, FP, LOG, ROOT.
start_server() {
  ROOT=$W/root-$1 LOG=$W/serve-$1.log
  mkdir -p "$ROOT"
  # shellcheck disable=SC2086 # SERVE_ARGS is a list of words
  SFT_HOME=$W/srv env -u RUST_LOG "$SFT" serve --listen 127.0.0.1:0 --root "$ROOT" \
    --authorized-keys "$W/srv/authorized_keys" $SERVE_ARGS 2> "$LOG" &
  SERVER_PID=$!
  STARTED+=("$SERVER_PID")
  for _ in $(seq 300); do
    grep -q "listening on" "$LOG" && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  ADDR=$(sed -n 's/.*listening on \([^,]*\),.*/\1/p' "$LOG" | head -1)
  FP=$(sed -n 's/.*host key \(SHA256:[^,]*\),.*/\1/p' "$LOG" | head -1)
  [ -n "$ADDR" ] || { cat "$LOG" >&2; echo "flood.sh: the server did not start" >&2; exit 1; }
}

# stop_server: SIGTERM, then SIGKILL if it has not stopped within 10 s.
stop_server() {
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || true; }
# sample_rss PID STOPFILE: VmRSS in KiB every 0.1 s while PID lives and
# STOPFILE does not exist (run it in the background; stop_sampler ends it).
sample_rss() { while kill -0 "$1" 2>/dev/null && [ ! -e "$2" ]; do rss_kib "$1"; sleep 0.1; done; }
stop_sampler() { touch "$2"; wait "$1" 2>/dev/null || true; }
max_mib() { sort -n "$1" | tail -1 | awk '{ printf "%.1f", $1 / 1024 }'; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# client TALLY LIMIT ARGS...: one honest `sft ARGS` from 127.0.0.1, at most
# LIMIT s; appends "exit_code seconds" to TALLY and its stderr to TALLY.err.
# Exit code 124 means it ran out of time.
client() {
  local tally=$1 limit=$2 t0 code=0
  shift 2
  t0=$(now)
  SFT_HOME=$W/honest timeout --foreground -k 2 "$limit" "$SFT" "$@" --server-key "$FP" \
    > /dev/null 2>> "$tally.err" || code=$?
  echo "$code $(since "$t0")" >> "$tally"
}
# tally TALLY [PLANNED]: "ok/attempted (exit codes), slowest s".
tally() {
  [ -s "$1" ] || { echo "0/0 of ${2:-?} run"; return; }
  awk -v planned="${2:-}" '
    { n++; c[$1]++; if ($2 > worst) worst = $2 }
    END {
      s = ""; for (k in c) s = s sprintf("%s%s x%d", s == "" ? "" : ", ", k, c[k])
      printf "%d/%d ok%s (exit %s), slowest %.1f s", c[0], n,
        planned != "" && planned != n ? " of " planned " planned" : "", s, worst
    }' "$1"
}
# errors TALLY: the distinct failure messages, first three (not the summary
# line a command prints on stderr when every file went through).
errors() {
  [ -s "$1.err" ] || return 0
  grep -v '^ *$' "$1.err" | grep -Ev '^sft: (put|get) [0-9]+ file\(s\): [0-9]+ ok, 0 failed' |
    sort | uniq -c | sort -rn | head -3 | sed 's/^/      /' || true
}
# honest_refusals: what the server's log says it refused 127.0.0.1 for (the
# log caps refusal lines per second, so under a flood this is a sample).
honest_refusals() {
  grep 'refused.*127\.0\.0\.1:' "$LOG" | sed -E 's/^\[[^]]*\] *//; s/127\.0\.0\.1:[0-9]+/127.0.0.1/;
    s/SHA256:[A-Za-z0-9+\/]+/KEY/; s/[0-9]+s$/Ns/' | sort | uniq -c | sort -rn | head -4 |
    sed 's/^/      server: /' || true
}
# small_files DIR COUNT: COUNT files of 1 KiB in DIR.
small_files() {
  mkdir -p "$1"
  for i in $(seq "$2"); do head -c 1024 /dev/urandom > "$1/$(basename "$1")-$i.bin"; done
}
# round_files DIRPREFIX: the files of one round, 3 for each of 10 clients.
round_files() { local c; for c in $(seq 10); do small_files "$1-c$c" 3; done; }
# put_round TALLY DIRPREFIX LIMIT: 10 parallel `sft put` (3 files each).
put_round() {
  local c pids=()
  for c in $(seq 10); do
    client "$1" "$3" put "$ADDR" "$2-c$c"/* &
    pids+=($!)
  done
  wait "${pids[@]}" || true
}

declare -A TOOK
phase() {
  case $PHASES in *"$1"*) ;; *) return 0 ;; esac
  echo
  echo "== phase $1: $2"
  local t0
  t0=$(now)
  "phase_$1"
  TOOK[$1]=$(since "$t0")
  echo "  (phase $1 took ${TOOK[$1]} s)"
}

phase_A() {
  local r
  for r in 1 2 3; do round_files "$W/files/A-r$r"; done
  start_server A
  sample_rss "$SERVER_PID" "$W/rss-A.stop" > "$W/rss-A" &
  local sampler=$! load0 measure flood honest_ls honest_put log0 log1 t0 secs
  STARTED+=("$sampler")
  load0=$(loadavg)
  "$FLOOD" measure --target "$ADDR" --identity "$W/tool.key" --server-key "$HOST_PUB" \
    --source 127.255.0.1 --secs $((FLOOD_SECS + 1)) --every-ms 20 > "$W/measure.out" 2>&1 &
  measure=$!
  STARTED+=("$measure")
  for _ in $(seq 100); do grep -q established "$W/measure.out" && break; sleep 0.1; done
  log0=$(stat -c %s "$LOG")
  t0=$(now)
  "$FLOOD" reconnect --target "$ADDR" --sources 1000 --sockets 120 --secs "$FLOOD_SECS" \
    > "$W/reconnect.out" 2>&1 &
  flood=$!
  STARTED+=("$flood")
  sleep 1
  # Honest clients start while the flood runs; none starts after it ends.
  (
    for _ in $(seq 20); do
      [ "$(since "$t0" | cut -d. -f1)" -lt "$FLOOD_SECS" ] || break
      client "$W/A-ls" 20 ls "$ADDR"
    done
  ) &
  honest_ls=$!
  STARTED+=("$honest_ls")
  (
    for r in 1 2 3; do
      [ "$(since "$t0" | cut -d. -f1)" -lt "$FLOOD_SECS" ] || break
      put_round "$W/A-put" "$W/files/A-r$r" 20
    done
  ) &
  honest_put=$!
  STARTED+=("$honest_put")
  wait "$honest_ls" "$honest_put" || true
  wait "$flood" || true
  log1=$(stat -c %s "$LOG")
  secs=$(since "$t0")
  wait "$measure" || true
  stop_sampler "$sampler" "$W/rss-A.stop"
  stop_server
  cat "$W/measure.out" "$W/reconnect.out" | sed 's/^/  /'
  row A "LIST every 20 ms: answers (listed/refused)" \
    "$(kv "$W/measure.out" answers) ($(kv "$W/measure.out" listed)/$(kv "$W/measure.out" refused))"
  row A "LIST latency p50/p99/max ms" \
    "$(kv "$W/measure.out" p50_ms)/$(kv "$W/measure.out" p99_ms)/$(kv "$W/measure.out" max_ms)"
  grep -q 'error=""' "$W/measure.out" || row A "LIST session ended by" \
    "$(sed -n 's/.*error=//p' "$W/measure.out" | tail -1)"
  row A "honest sft ls (20 sequential)" "$(tally "$W/A-ls" 20)"
  errors "$W/A-ls"
  row A "honest sft put (3 rounds x 10 parallel)" "$(tally "$W/A-put" 30)"
  errors "$W/A-put"
  honest_refusals
  row A "flood connects/s (failed connects)" \
    "$(kv "$W/reconnect.out" connects_per_s) ($(kv "$W/reconnect.out" failed))"
  row A "server log bytes/s during the flood" \
    "$(awk -v a="$log0" -v b="$log1" -v s="$secs" 'BEGIN { printf "%.0f", (b - a) / s }')"
  row A "server VmRSS max MiB" "$(max_mib "$W/rss-A")"
  row A "load average before -> after" "$load0 -> $(loadavg)"
}

phase_B() {
  local half log0 t0 r
  for r in 1 2 3; do round_files "$W/files/B-r$r"; done
  start_server B
  "$FLOOD" half --target "$ADDR" --sources 20 --secs 120 > "$W/half.out" 2>&1 &
  half=$!
  STARTED+=("$half")
  log0=$(stat -c %s "$LOG")
  t0=$(now)
  sleep 2
  for r in 1 2 3; do
    put_round "$W/B-put-$r" "$W/files/B-r$r" 20
    row B "round $r: 10 parallel sft put (3 files each)" "$(tally "$W/B-put-$r" 10)"
    errors "$W/B-put-$r"
  done
  honest_refusals
  kill -TERM "$half" 2>/dev/null || true
  wait "$half" || true
  row B "server log bytes/s during the flood" \
    "$(awk -v a="$log0" -v b="$(stat -c %s "$LOG")" -v s="$(since "$t0")" \
      'BEGIN { printf "%.0f", (b - a) / s }')"
  stop_server
  sed 's/^/  /' "$W/half.out"
}

phase_C() {
  local i pids=()
  small_files "$W/files/C" 50
  start_server C
  for i in $(seq 50); do
    client "$W/C-put" 30 put "$ADDR" "$W/files/C/C-$i.bin" &
    pids+=($!)
  done
  wait "${pids[@]}" || true
  stop_server
  row C "50 parallel sft put, one key, 127.0.0.1" "$(tally "$W/C-put" 50)"
  errors "$W/C-put"
  honest_refusals
}

phase_D() {
  local t0 rss0 hold sampler
  t0=$(now)
  mkdir -p "$W/root-D"
  (cd "$W/root-D" && awk 'BEGIN { p = sprintf("%192s", ""); gsub(/ /, "n", p)
      for (i = 1; i <= 100000; i++) printf "%s%08d\n", p, i }' | xargs touch)
  echo "  made $(find "$W/root-D" -type f | wc -l) files in $(since "$t0") s"
  start_server D
  sleep 1
  rss0=$(rss_kib "$SERVER_PID")
  "$FLOOD" listhold --target "$ADDR" --identity "$W/tool.key" --server-key "$HOST_PUB" \
    --clients 10 --secs 8 > "$W/listhold.out" 2>&1 &
  hold=$!
  STARTED+=("$hold")
  for _ in $(seq 200); do grep -q holding "$W/listhold.out" && break; sleep 0.1; done
  sample_rss "$SERVER_PID" "$W/rss-D.stop" > "$W/rss-D" &
  sampler=$!
  STARTED+=("$sampler")
  wait "$hold" || true
  stop_sampler "$sampler" "$W/rss-D.stop"
  sleep 1
  row D "server VmRSS MiB before" "$(awk -v k="$rss0" 'BEGIN { printf "%.1f", k / 1024 }')"
  row D "server VmRSS MiB max, 10 unread listings held" "$(max_mib "$W/rss-D")"
  row D "server VmRSS MiB 1 s after they closed" \
    "$(awk -v k="$(rss_kib "$SERVER_PID")" 'BEGIN { printf "%.1f", k / 1024 }')"
  sed 's/^/  /' "$W/listhold.out"
  row D "listings the server logged as sent" "$(grep -c 'listing (' "$LOG" || true)"
  stop_server
}

phase_E() {
  local t0 i
  mkdir -p "$W/files/E"
  for i in $(seq 10000); do echo "file $i" > "$W/files/E/E-$i.txt"; done
  start_server E1
  t0=$(now)
  (cd "$W/files/E" && client "$W/E-batch" 60 put "$ADDR" E-*.txt)
  row E "one sft put of 10,000 files: exit, stored, s" \
    "$(cut -d' ' -f1 "$W/E-batch"), $(find "$ROOT" -type f | wc -l), $(since "$t0")"
  errors "$W/E-batch"
  stop_server
  small_files "$W/files/E2" 100
  start_server E2
  t0=$(now)
  for i in $(seq 100); do
    [ "$(since "$t0" | cut -d. -f1)" -lt 40 ] || break
    client "$W/E-loop" 20 put "$ADDR" "$W/files/E2/E2-$i.bin"
  done
  row E "100 single sft put in a loop" "$(tally "$W/E-loop" 100), $(since "$t0") s in all"
  errors "$W/E-loop"
  stop_server
}

echo "sft: $SFT"
echo "serve args: ${SERVE_ARGS:-(none: default limits)}"
echo "load average at start: $(loadavg), $(nproc) CPUs"
phase A "1,000-address reconnect flood, LIST latency, honest clients"
phase B "20-address half-handshake flood, 3 rounds of 10 parallel puts"
phase C "no flood, 50 parallel puts of one key"
phase D "100,000-file listing, 10 clients that never read"
phase E "10,000-file batch, 100 single puts"

echo
echo "== summary ($SFT${SERVE_ARGS:+, serve $SERVE_ARGS})"
printf '%s\n' "${ROWS[@]}"
for p in A B C D E; do [ -n "${TOOK[$p]:-}" ] && echo "phase $p took ${TOOK[$p]} s"; done
exit 0
