#!/usr/bin/env bash
# End-to-end upload benchmark over loopback (127.0.0.1 only), three tools in one run:
#   1. sft put            (target/release/sft, built here with `cargo build --release --locked`)
#   2. scp aes256-gcm     (throwaway sshd from shared/bench/sshd-start.sh)
#   3. plain TCP copy     (socat with 1 MiB buffers; python3 sockets if socat is unavailable)
# plus two latency figures (sft ls vs sftp -b /dev/null connect) and the sft server's
# CPU time per handshake. Figures only mean something side by side from the same run.
#
# Environment knobs:
#   SIZE_MIB=1024      size of the random test file
#   RUNS=3             transfers per tool (median printed)
#   LAT_RUNS=5         latency samples (median printed)
#   HANDSHAKES=200     `sft ls` calls for the server CPU-per-handshake figure
#   SFT_BUILD=1        0: do not run cargo build, use target/release/sft as it is
#   SFT=path           sft binary (default <repo>/target/release/sft)
#   SFT_SERVE_ARGS     extra words appended to `sft serve`; unset: `--rate-limit 10000/1s`
#                      if the binary has that option (an sft before issue 8, whose default
#                      per-IP limit would refuse the HANDSHAKES loop), set to "" to add nothing
#   SSH_PORT=2222      port for the throwaway sshd (a free one is picked if busy)
#   PLAIN_TCP=auto     auto | socat | python
#   BENCH_TMP=/work/tmp-bench   parent of the mktemp -d work dir
#   OP_TIMEOUT=600     seconds allowed for any single transfer / command
# Exit status: 0 unless a transfer's received file differed from the source (FAIL).
set -euo pipefail
export LC_ALL=C

SIZE_MIB=${SIZE_MIB:-1024}
RUNS=${RUNS:-3}
LAT_RUNS=${LAT_RUNS:-5}
HANDSHAKES=${HANDSHAKES:-200}
SFT_BUILD=${SFT_BUILD:-1}
PLAIN_TCP=${PLAIN_TCP:-auto}
OP_TIMEOUT=${OP_TIMEOUT:-600}
READY_TIMEOUT=${READY_TIMEOUT:-20}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SFT=${SFT:-$REPO/target/release/sft}
if [ -z "${BENCH_SHARED:-}" ]; then
  BENCH_SHARED=$REPO/../shared/bench
  [ -x "$BENCH_SHARED/sshd-start.sh" ] || BENCH_SHARED=/work/shared/bench
fi
BENCH_TMP=${BENCH_TMP:-/work/tmp-bench}

log() { printf '# %s\n' "$*" >&2; }
die() { printf 'bench-e2e: %s\n' "$*" >&2; exit 1; }

case $SIZE_MIB in '' | *[!0-9]*) die "SIZE_MIB must be a positive integer" ;; esac
[ "$SIZE_MIB" -gt 0 ] || die "SIZE_MIB must be > 0"
for tool in python3 awk cmp timeout getconf; do
  command -v "$tool" >/dev/null 2>&1 || die "needs $tool"
done

# ---------------------------------------------------------------- work dir + cleanup
if mkdir -p "$BENCH_TMP" 2>/dev/null; then
  WORK=$(mktemp -d -p "$BENCH_TMP" bench-e2e.XXXXXX)
else
  WORK=$(mktemp -d -t bench-e2e.XXXXXX)
fi
PIDS=()
SSHD_STARTED=0
SSH_DIR=$WORK/sshd

stop_pid() {
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local pid
  set +e
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  if [ "$SSHD_STARTED" = 1 ]; then
    SSH_DIR=$SSH_DIR "$BENCH_SHARED/sshd-stop.sh" >/dev/null 2>&1
  fi
  rm -rf "$WORK"
  rmdir "$BENCH_TMP" 2>/dev/null
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- helpers
# stamp VAR: wall-clock seconds with microseconds, without forking when bash has EPOCHREALTIME.
stamp() { printf -v "$1" '%s' "${EPOCHREALTIME:-$(date +%s.%N)}"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", b - a }'; }
rate() { awk -v m="$SIZE_MIB" -v s="$1" 'BEGIN { if (s <= 0) s = 1e-9; printf "%.1f", m / s }'; }
median() {
  printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 }
    END { if (NR == 0) exit 1
          if (NR % 2) print a[(NR + 1) / 2]; else printf "%.6f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
free_port() {
  python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
port_busy() {
  # SO_REUSEADDR like sshd: TIME_WAIT leftovers of an earlier run do not count, a listener does.
  python3 -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(0)
sys.exit(1)' "$1"
}
# wait_for_log FILE FIXED-STRING SECONDS [PID]: bounded wait for a line; fails early if PID dies.
wait_for_log() {
  local file=$1 pat=$2 secs=$3 pid=${4:-} i
  for ((i = 0; i < secs * 20; i++)); do
    grep -qF -- "$pat" "$file" 2>/dev/null && return 0
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    sleep 0.05
  done
  return 1
}
# settle: flush dirty pages before a timed transfer, so writeback of the previous run's
# 1 GiB does not throttle the next one (it made plain-TCP runs vary 3x without it).
settle() { sync; }
tail_log() { [ -f "$1" ] && tail -n 5 "$1" | sed 's/^/#   | /' >&2 || true; }
apt_install() { # best effort, root only
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 || return 1
  log "installing $*"
  if [ "${APT_UPDATED:-0}" != 1 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$WORK/apt.log" 2>&1 || true
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >>"$WORK/apt.log" 2>&1
}
# proc_cpu_ticks PID: utime+stime (+ reaped children's cutime+cstime) from /proc/PID/stat.
proc_cpu_ticks() {
  local stat rest f
  stat=$(cat "/proc/$1/stat") || return 1
  rest=${stat##*) } # fields from 3 (state) on; comm may contain spaces
  read -ra f <<<"$rest"
  echo $((f[11] + f[12] + f[13] + f[14]))
}

ANY_FAIL=0
RESULTS=()
result() { RESULTS+=("$1"); }

# ---------------------------------------------------------------- test file
SRC=$WORK/random.bin
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')
log "work dir $WORK"
log "writing $SIZE_MIB MiB of random data"
head -c $((SIZE_MIB << 20)) /dev/urandom >"$SRC"
[ "$(stat -c %s "$SRC")" -eq $((SIZE_MIB << 20)) ] || die "short test file"

# throughput_line LABEL STATUS RATES...: STATUS is ok or FAIL
throughput_line() {
  local label=$1 status=$2 med
  shift 2
  if [ $# -eq 0 ]; then
    result "$(printf '%-12s %5d MiB  FAIL (no successful run)' "$label" "$SIZE_MIB")"
    return
  fi
  med=$(median "$@")
  result "$(printf '%-12s %5d MiB  median %7.1f MiB/s  (runs: %s)%s' "$label" "$SIZE_MIB" "$med" "$*" \
    "$([ "$status" = ok ] || echo '  FAIL: received file differs or transfer failed')")"
}

# ================================================================ 1. sft
SFT_MED=""
sft_skip() { result "sft: skipped ($1)"; log "sft: skipped ($1)"; }
sft_bench() {
  if [ "$SFT_BUILD" = 1 ]; then
    if command -v cargo >/dev/null 2>&1; then
      log "cargo build --release --locked (log: build.log)"
      if ! (cd "$REPO" && cargo build --release --locked) >"$WORK/build.log" 2>&1; then
        tail_log "$WORK/build.log"
        sft_skip "cargo build --release failed"
        return 0
      fi
    else
      log "cargo not found; using $SFT as it is"
    fi
  fi
  [ -x "$SFT" ] || { sft_skip "no binary at $SFT"; return 0; }
  local sub
  for sub in serve put ls; do
    "$SFT" "$sub" --help >/dev/null 2>&1 || { sft_skip "binary has no '$sub' subcommand"; return 0; }
  done

  local port srv_home cli_home root srvlog pid i t0 t1 rc
  port=$(free_port)
  srv_home=$WORK/sft-server-home cli_home=$WORK/sft-client-home root=$WORK/sft-root
  srvlog=$WORK/sft-serve.log
  mkdir -p -m 700 "$srv_home" "$cli_home"
  mkdir -p "$root"
  # The HANDSHAKES loop opens ~200 connections a minute from one IP; lift a per-IP rate
  # limit if this sft has one (unless the caller chose the serve arguments).
  local extra=()
  if [ -n "${SFT_SERVE_ARGS+x}" ]; then
    read -ra extra <<<"$SFT_SERVE_ARGS"
  elif "$SFT" serve --help 2>&1 | grep -q -- '--rate-limit'; then
    extra=(--rate-limit 10000/1s)
  fi
  [ ${#extra[@]} -eq 0 ] || log "sft serve extra args: ${extra[*]}"
  SFT_HOME=$srv_home "$SFT" serve --listen "127.0.0.1:$port" --root "$root" --allow-any-client \
    "${extra[@]}" >"$srvlog" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  if ! wait_for_log "$srvlog" "listening on 127.0.0.1:$port" "$READY_TIMEOUT" "$pid"; then
    tail_log "$srvlog"
    sft_skip "server exited or did not report 'listening on 127.0.0.1:$port' within ${READY_TIMEOUT}s"
    return 0
  fi
  log "sft serve pid $pid on 127.0.0.1:$port"

  # First contact: records the server's host key (--accept-new); not timed.
  if ! SFT_HOME=$cli_home timeout "$OP_TIMEOUT" "$SFT" ls "127.0.0.1:$port" --accept-new \
    >"$WORK/sft-ls.out" 2>&1; then
    tail_log "$WORK/sft-ls.out"
    sft_skip "sft ls against the fresh server failed"
    return 0
  fi

  # Latency: ls against the still-empty root, handshake included.
  local lat=() ok=1
  for ((i = 0; i < LAT_RUNS; i++)); do
    stamp t0
    SFT_HOME=$cli_home timeout "$OP_TIMEOUT" "$SFT" ls "127.0.0.1:$port" --accept-new \
      >"$WORK/sft-ls.out" 2>&1 || { ok=0; break; }
    stamp t1
    lat+=("$(elapsed "$t0" "$t1")")
  done
  if [ "$ok" = 1 ]; then
    result "$(printf 'sft ls (empty root, incl. handshake)  median %.3f s  (runs: %s)' "$(median "${lat[@]}")" "${lat[*]}")"
  else
    tail_log "$WORK/sft-ls.out"
    result "sft ls (empty root, incl. handshake)  FAIL (sft ls exited non-zero)"
  fi

  # Server CPU per handshake: HANDSHAKES sequential ls calls, server utime+stime delta.
  local tck c0 c1 fails=0
  tck=$(getconf CLK_TCK)
  c0=$(proc_cpu_ticks "$pid") || c0=""
  for ((i = 0; i < HANDSHAKES; i++)); do
    SFT_HOME=$cli_home timeout "$OP_TIMEOUT" "$SFT" ls "127.0.0.1:$port" --accept-new \
      >/dev/null 2>&1 || fails=$((fails + 1))
  done
  c1=$(proc_cpu_ticks "$pid") || c1=""
  if [ -z "$c0" ] || [ -z "$c1" ]; then
    result "sft server CPU per handshake           FAIL (cannot read /proc/$pid/stat; server exited?)"
  elif [ "$fails" -eq 0 ]; then
    result "$(awk -v d=$((c1 - c0)) -v t="$tck" -v n="$HANDSHAKES" 'BEGIN {
      printf "sft server CPU per handshake           %.2f ms  (%d ticks @ %d Hz over %d sft ls)", d * 1000 / t / n, d, t, n }')"
  else
    result "sft server CPU per handshake           FAIL ($fails of $HANDSHAKES sft ls failed; a rate limit? see SFT_SERVE_ARGS)"
  fi

  # Throughput: sft put, received file checked with cmp, removed between runs.
  local rates=() status=ok dest
  dest=$root/$(basename "$SRC")
  for ((i = 1; i <= RUNS; i++)); do
    rm -f "$dest"
    settle
    stamp t0
    rc=0
    SFT_HOME=$cli_home timeout "$OP_TIMEOUT" "$SFT" put "127.0.0.1:$port" "$SRC" --accept-new \
      >"$WORK/sft-put.out" 2>&1 || rc=$?
    stamp t1
    if [ "$rc" -ne 0 ]; then
      tail_log "$WORK/sft-put.out"
      log "sft put run $i: exit $rc"
      status=FAIL
      continue
    fi
    if [ ! -f "$dest" ]; then # accept a single file landing elsewhere under the root
      local found
      found=$(find "$root" -type f | head -n 2)
      [ "$(printf '%s\n' "$found" | grep -c .)" -eq 1 ] && dest=$found
    fi
    if ! cmp -s "$SRC" "$dest"; then
      log "sft put run $i: FAIL received file differs (or missing: $dest)"
      status=FAIL
      continue
    fi
    rates+=("$(rate "$(elapsed "$t0" "$t1")")")
    log "sft put run $i: ${rates[-1]} MiB/s"
  done
  rm -f "$dest"
  [ "$status" = ok ] || ANY_FAIL=1
  throughput_line "sft put" "$status" "${rates[@]}"
  [ "$status" = ok ] && [ ${#rates[@]} -gt 0 ] && SFT_MED=$(median "${rates[@]}")
  stop_pid "$pid"
  return 0
}
sft_bench

# ================================================================ 2. scp aes256-gcm + sftp connect
SCP_MED=""
scp_skip() { result "scp: skipped ($1)"; log "scp: skipped ($1)"; }
scp_bench() {
  if [ ! -x /usr/sbin/sshd ]; then
    apt_install openssh-server || true
  fi
  [ -x /usr/sbin/sshd ] || { scp_skip "no sshd"; return 0; }
  command -v scp >/dev/null 2>&1 || { scp_skip "no scp client"; return 0; }
  [ -x "$BENCH_SHARED/sshd-start.sh" ] || { scp_skip "no $BENCH_SHARED/sshd-start.sh"; return 0; }

  local port=${SSH_PORT:-2222} out dir i t0 t1 rc
  if port_busy "$port"; then
    log "port $port busy, picking another"
    port=$(free_port)
  fi
  SSHD_STARTED=1
  if ! out=$(SSH_DIR=$SSH_DIR SSH_PORT=$port "$BENCH_SHARED/sshd-start.sh" 2>&1); then
    printf '%s\n' "$out" | sed 's/^/#   | /' >&2
    scp_skip "sshd-start.sh failed"
    return 0
  fi
  log "$out"
  # sshd-start.sh reports "sshd pid N listening on 127.0.0.1:PORT (dir SSH_DIR)"
  dir=$(printf '%s\n' "$out" | sed -n 's/.*(dir \(.*\))$/\1/p' | tail -n 1)
  [ -n "$dir" ] && SSH_DIR=$dir

  local sshopts=(-i "$SSH_DIR/user_ed25519" -o "UserKnownHostsFile=$SSH_DIR/known_hosts"
    -o BatchMode=yes -c aes256-gcm@openssh.com)
  # Bounded readiness check: a real login.
  local ready=0
  for ((i = 0; i < 50; i++)); do
    if timeout 10 ssh -p "$port" "${sshopts[@]}" root@127.0.0.1 true >"$WORK/ssh-check.out" 2>&1; then
      ready=1
      break
    fi
    sleep 0.1
  done
  if [ "$ready" = 0 ]; then
    tail_log "$WORK/ssh-check.out"
    tail_log "$SSH_DIR/sshd.log"
    scp_skip "cannot log in to the throwaway sshd"
    return 0
  fi

  # Latency: sftp connect + handshake + auth + subsystem start, empty batch.
  local lat=() ok=1
  for ((i = 0; i < LAT_RUNS; i++)); do
    stamp t0
    timeout "$OP_TIMEOUT" sftp -b /dev/null -P "$port" "${sshopts[@]}" root@127.0.0.1 \
      >"$WORK/sftp.out" 2>&1 || { ok=0; break; }
    stamp t1
    lat+=("$(elapsed "$t0" "$t1")")
  done
  if [ "$ok" = 1 ]; then
    result "$(printf 'sftp -b /dev/null connect              median %.3f s  (runs: %s)' "$(median "${lat[@]}")" "${lat[*]}")"
  else
    tail_log "$WORK/sftp.out"
    result "sftp -b /dev/null connect              FAIL"
  fi

  local rates=() status=ok dest
  mkdir -p "$WORK/scp-dest"
  dest=$WORK/scp-dest/$(basename "$SRC")
  for ((i = 1; i <= RUNS; i++)); do
    rm -f "$dest"
    settle
    stamp t0
    rc=0
    timeout "$OP_TIMEOUT" scp -q -P "$port" "${sshopts[@]}" "$SRC" "root@127.0.0.1:$dest" \
      >"$WORK/scp.out" 2>&1 || rc=$?
    stamp t1
    if [ "$rc" -ne 0 ]; then
      tail_log "$WORK/scp.out"
      log "scp run $i: exit $rc"
      status=FAIL
      continue
    fi
    if ! cmp -s "$SRC" "$dest"; then
      log "scp run $i: FAIL received file differs"
      status=FAIL
      continue
    fi
    rates+=("$(rate "$(elapsed "$t0" "$t1")")")
    log "scp run $i: ${rates[-1]} MiB/s"
  done
  rm -f "$dest"
  [ "$status" = ok ] || ANY_FAIL=1
  throughput_line "scp gcm" "$status" "${rates[@]}"
  [ "$status" = ok ] && [ ${#rates[@]} -gt 0 ] && SCP_MED=$(median "${rates[@]}")
  SSH_DIR=$SSH_DIR "$BENCH_SHARED/sshd-stop.sh" >/dev/null 2>&1 || true
  SSHD_STARTED=0
  return 0
}
scp_bench

# ================================================================ 3. plain TCP
PY_RECV='import socket, sys
port, path = int(sys.argv[1]), sys.argv[2]
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port)); ls.listen(1)
print("listening", flush=True)
ls.settimeout(float(sys.argv[3]))
c, _ = ls.accept(); c.settimeout(float(sys.argv[3]))
buf = bytearray(1 << 20); mv = memoryview(buf)
with open(path, "wb", buffering=0) as f:
    while True:
        n = c.recv_into(buf)
        if not n:
            break
        f.write(mv[:n])
'
PY_SEND='import socket, sys
port, path = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port))
with open(path, "rb", buffering=0) as f:
    while True:
        b = f.read(1 << 20)
        if not b:
            break
        s.sendall(b)
s.shutdown(socket.SHUT_WR); s.close()
'
tcp_bench() {
  local mode=$PLAIN_TCP
  if [ "$mode" = auto ]; then
    command -v socat >/dev/null 2>&1 || apt_install socat || true
    if command -v socat >/dev/null 2>&1; then mode=socat; else mode=python; fi
  fi
  if [ "$mode" = socat ] && ! command -v socat >/dev/null 2>&1; then
    result "plain tcp: skipped (no socat)"
    return 0
  fi
  local rates=() status=ok dest=$WORK/tcp-dest.bin i port rpid rlog t0 t1 rc
  rlog=$WORK/tcp-recv.log
  for ((i = 1; i <= RUNS; i++)); do
    rm -f "$dest" "$rlog"
    settle
    port=$(free_port)
    if [ "$mode" = socat ]; then
      timeout "$OP_TIMEOUT" socat -d -d -u -b 1048576 \
        "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr" "OPEN:$dest,creat,trunc,wronly" >"$rlog" 2>&1 &
    else
      timeout "$OP_TIMEOUT" python3 -c "$PY_RECV" "$port" "$dest" "$OP_TIMEOUT" >"$rlog" 2>&1 &
    fi
    rpid=$!
    PIDS+=("$rpid")
    if ! wait_for_log "$rlog" "listening" "$READY_TIMEOUT" "$rpid"; then
      tail_log "$rlog"
      log "plain tcp run $i: receiver not ready"
      stop_pid "$rpid"
      status=FAIL
      continue
    fi
    stamp t0
    rc=0
    if [ "$mode" = socat ]; then
      timeout "$OP_TIMEOUT" socat -u -b 1048576 "OPEN:$SRC,rdonly" "TCP:127.0.0.1:$port" \
        >"$WORK/tcp-send.log" 2>&1 || rc=$?
    else
      timeout "$OP_TIMEOUT" python3 -c "$PY_SEND" "$port" "$SRC" >"$WORK/tcp-send.log" 2>&1 || rc=$?
    fi
    wait "$rpid" || rc=$((rc ? rc : $?))
    stamp t1
    if [ "$rc" -ne 0 ]; then
      tail_log "$WORK/tcp-send.log"
      tail_log "$rlog"
      log "plain tcp run $i: exit $rc"
      status=FAIL
      continue
    fi
    if ! cmp -s "$SRC" "$dest"; then
      log "plain tcp run $i: FAIL received file differs"
      status=FAIL
      continue
    fi
    rates+=("$(rate "$(elapsed "$t0" "$t1")")")
    log "plain tcp ($mode) run $i: ${rates[-1]} MiB/s"
  done
  rm -f "$dest"
  [ "$status" = ok ] || ANY_FAIL=1
  throughput_line "plain tcp" "$status" "${rates[@]}"
  RESULTS[-1]="${RESULTS[-1]}  [$mode]"
  return 0
}
tcp_bench

# ================================================================ summary
echo
echo "== bench-e2e: $SIZE_MIB MiB random file, loopback 127.0.0.1, $(nproc) CPUs, $RUNS runs each =="
echo "   load average at start: $LOAD_START, at end: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')" \
  "(other work on this machine skews every figure)"
printf '%s\n' "${RESULTS[@]}"
if [ -n "$SFT_MED" ] && [ -n "$SCP_MED" ]; then
  awk -v a="$SFT_MED" -v b="$SCP_MED" 'BEGIN { printf "ratio sft/scp (median throughput)      %.2fx\n", a / b }'
else
  echo "ratio sft/scp (median throughput)      n/a (needs both sft and scp results)"
fi
exit "$ANY_FAIL"
