#!/usr/bin/env bash
# Batch upload benchmark over loopback (127.0.0.1 only), three tools in one run on the
# same tree: FILES files of FILE_KIB KiB in DIRS directories (default 10,000 x 4 KiB in
# 100 directories), uploaded with
#   1. sft put -r          (target/release/sft, built here with `cargo build --release --locked`)
#   2. scp -r aes256-gcm   (throwaway sshd from shared/bench/sshd-start.sh)
#   3. rsync -a over that ssh (aes256-gcm), when rsync is installed
# Prints files/s for each (median of RUNS), the load average before each run, and the
# ratio sft/scp and sft/rsync. Each received tree is compared with the source (diff -r).
# Figures only mean something side by side from the same run.
#
# Environment knobs:
#   FILES=10000 DIRS=100 FILE_KIB=4   the tree
#   RUNS=3             uploads per tool (median printed)
#   SFT_BUILD=1        0: do not run cargo build, use target/release/sft as it is
#   SFT=path           sft binary (default <repo>/target/release/sft)
#   SSH_PORT=2222      port for the throwaway sshd (a free one is picked if busy)
#   BENCH_TMP=/work/tmp-bench   parent of the mktemp -d work dir
#   OP_TIMEOUT=900     seconds allowed for any single upload
# Exit status: 0 unless a received tree differed from the source (FAIL) or a tool failed.
set -euo pipefail
export LC_ALL=C

FILES=${FILES:-10000}
DIRS=${DIRS:-100}
FILE_KIB=${FILE_KIB:-4}
RUNS=${RUNS:-3}
SFT_BUILD=${SFT_BUILD:-1}
OP_TIMEOUT=${OP_TIMEOUT:-900}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SFT=${SFT:-$REPO/target/release/sft}
if [ -z "${BENCH_SHARED:-}" ]; then
  BENCH_SHARED=$REPO/../shared/bench
  [ -x "$BENCH_SHARED/sshd-start.sh" ] || BENCH_SHARED=/work/shared/bench
fi
BENCH_TMP=${BENCH_TMP:-/work/tmp-bench}

log() { printf '# %s\n' "$*" >&2; }
die() { printf 'bench-batch: %s\n' "$*" >&2; exit 1; }

for v in FILES DIRS FILE_KIB RUNS; do
  case ${!v} in '' | *[!0-9]*) die "$v must be a positive integer" ;; esac
  [ "${!v}" -gt 0 ] || die "$v must be > 0"
done
for tool in python3 awk timeout diff ssh scp; do
  command -v "$tool" >/dev/null 2>&1 || die "needs $tool"
done
HAVE_RSYNC=0
command -v rsync >/dev/null 2>&1 && HAVE_RSYNC=1

mkdir -p "$BENCH_TMP" 2>/dev/null || BENCH_TMP=${TMPDIR:-/tmp}
WORK=$(mktemp -d -p "$BENCH_TMP" bench-batch.XXXXXX)
PIDS=()
SSHD_STARTED=0
SSH_DIR=$WORK/sshd

cleanup() {
  local pid
  set +e
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  if [ "$SSHD_STARTED" = 1 ]; then
    SSH_DIR=$SSH_DIR "$BENCH_SHARED/sshd-stop.sh" >/dev/null 2>&1
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# Seconds since the epoch with nanoseconds, as a float.
now() { date +%s.%N; }

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# ---------------------------------------------------------------- build and tree
if [ "$SFT_BUILD" = 1 ]; then
  log "building sft (release)"
  (cd "$REPO" && cargo build --release --locked --quiet)
fi
[ -x "$SFT" ] || die "no sft binary at $SFT"

log "making the tree: $FILES files of $FILE_KIB KiB in $DIRS directories"
python3 - "$WORK/src/tree" "$FILES" "$DIRS" "$FILE_KIB" <<'PY'
import os, sys
root, files, dirs, kib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
for d in range(dirs):
    os.makedirs(os.path.join(root, f"d{d:03}"), exist_ok=True)
for i in range(files):
    with open(os.path.join(root, f"d{i % dirs:03}", f"f{i:05}"), "wb") as f:
        f.write(os.urandom(kib * 1024))
PY

# ---------------------------------------------------------------- servers
export SFT_HOME=$WORK/sft-home
mkdir -p "$SFT_HOME" "$WORK/sft-root"
SFT_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# RUNS uploads of FILES requests each in a minute would pass the default per-key
# burst (20,000); this measures transfer, not admission, so the key rate is raised.
"$SFT" serve --listen "127.0.0.1:$SFT_PORT" --root "$WORK/sft-root" --allow-any-client \
  --key-rate 1000000/60s >"$WORK/sft-serve.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
  "$SFT" ls -q --accept-new "127.0.0.1:$SFT_PORT" >/dev/null 2>&1 && break
  sleep 0.1
done

SSH_PORT=${SSH_PORT:-2222}
if python3 -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1',$SSH_PORT))==0)"; then :; else
  SSH_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
fi
SSH_DIR=$SSH_DIR SSH_PORT=$SSH_PORT "$BENCH_SHARED/sshd-start.sh" >&2
SSHD_STARTED=1
SSH_OPTS=(-p "$SSH_PORT" -i "$SSH_DIR/user_ed25519" -o "UserKnownHostsFile=$SSH_DIR/known_hosts"
  -o BatchMode=yes -c aes256-gcm@openssh.com)
SCP_OPTS=(-q -r -P "$SSH_PORT" -i "$SSH_DIR/user_ed25519" -o "UserKnownHostsFile=$SSH_DIR/known_hosts"
  -o BatchMode=yes -c aes256-gcm@openssh.com)

# ---------------------------------------------------------------- runs
# run TOOL DEST: one upload of the tree into DEST (its copy removed first; the sft
# server keeps its root directory open, so the directory itself stays); prints seconds.
run() {
  local tool=$1 dest=$2 t0 t1
  rm -rf "$dest/tree"
  mkdir -p "$dest"
  t0=$(now)
  case $tool in
    sft) timeout "$OP_TIMEOUT" "$SFT" put -r -q "127.0.0.1:$SFT_PORT" "$WORK/src/tree" ;;
    scp) timeout "$OP_TIMEOUT" scp "${SCP_OPTS[@]}" "$WORK/src/tree" "root@127.0.0.1:$dest/" ;;
    rsync) timeout "$OP_TIMEOUT" rsync -a -e "ssh ${SSH_OPTS[*]}" "$WORK/src/tree" "root@127.0.0.1:$dest/" ;;
  esac
  t1=$(now)
  diff -r "$WORK/src/tree" "$dest/tree" >/dev/null || die "FAIL: $tool's copy differs from the source"
  awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f\n", b - a}'
}

TOOLS=(sft scp)
[ "$HAVE_RSYNC" = 1 ] && TOOLS+=(rsync) || log "rsync is not installed: skipped (apt-get install rsync)"
declare -A RATE
printf '%-6s %8s %10s %12s   %s\n' tool files seconds files/s "load average before each run"
for tool in "${TOOLS[@]}"; do
  dest=$WORK/$tool-root
  [ "$tool" = sft ] && dest=$WORK/sft-root
  secs=()
  loads=()
  for ((i = 0; i < RUNS; i++)); do
    loads+=("$(loadavg)")
    secs+=("$(run "$tool" "$dest")")
  done
  med=$(printf '%s\n' "${secs[@]}" | median)
  RATE[$tool]=$(awk -v n="$FILES" -v s="$med" 'BEGIN {printf "%.0f", n / s}')
  printf '%-6s %8d %10.3f %12s   %s\n' "$tool" "$FILES" "$med" "${RATE[$tool]}" "$(IFS='|'; echo "${loads[*]}")"
done
printf 'ratio  sft/scp   %.2f\n' "$(awk -v a="${RATE[sft]}" -v b="${RATE[scp]}" 'BEGIN {print a / b}')"
if [ "$HAVE_RSYNC" = 1 ]; then
  printf 'ratio  sft/rsync %.2f\n' "$(awk -v a="${RATE[sft]}" -v b="${RATE[rsync]}" 'BEGIN {print a / b}')"
fi
