#!/usr/bin/env bash
# What signed evidence costs (issue 11): the same uploads with the build before it
# (wire version 4: no statements, receipts or audit log) and with this one, over
# loopback (127.0.0.1 only), alternating old and new in one run so both see the same
# machine. Two workloads:
#   batch: `put -r` of FILES files of FILE_KIB KiB in DIRS directories (10,000 x 4 KiB)
#   big:   `put` of one BIG_MIB MiB file (1024)
# For each, the median of RUNS: wall seconds, client CPU seconds (user+sys of the put)
# and server CPU seconds (its /proc utime+stime over the upload), old and new, and
# new/old ratios; the load average before each run. The new server also counts its
# audit log's bytes. Every received file is compared with its source.
#
# Environment knobs:
#   FILES=10000 DIRS=100 FILE_KIB=4 BIG_MIB=1024 RUNS=3
#   OLD=948c0c7        git revision of the build before signed evidence
#   SFT_OLD=path       use this old binary instead of building OLD (in a worktree)
#   SFT=path           the new binary (default <repo>/target/release/sft, built here)
#   SFT_BUILD=1        0: do not run cargo build for the new binary
#   BENCH_TMP=/work/tmp-bench   parent of the work dir (a real disk: fsync counts)
# Exit status: 0 unless a copy differed from its source or a tool failed.
set -euo pipefail
export LC_ALL=C

FILES=${FILES:-10000}
DIRS=${DIRS:-100}
FILE_KIB=${FILE_KIB:-4}
BIG_MIB=${BIG_MIB:-1024}
RUNS=${RUNS:-3}
OLD=${OLD:-948c0c7}
SFT_BUILD=${SFT_BUILD:-1}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SFT=${SFT:-$REPO/target/release/sft}
BENCH_TMP=${BENCH_TMP:-/work/tmp-bench}

log() { printf '# %s\n' "$*" >&2; }
die() { printf 'bench-evidence: %s\n' "$*" >&2; exit 1; }

for v in FILES DIRS FILE_KIB BIG_MIB RUNS; do
  case ${!v} in '' | *[!0-9]*) die "$v must be a positive integer" ;; esac
  [ "${!v}" -gt 0 ] || die "$v must be > 0"
done
for tool in python3 awk diff cmp git; do
  command -v "$tool" >/dev/null 2>&1 || die "needs $tool"
done

mkdir -p "$BENCH_TMP" 2>/dev/null || BENCH_TMP=${TMPDIR:-/tmp}
WORK=$(mktemp -d -p "$BENCH_TMP" bench-evidence.XXXXXX)
SERVER_PID=
cleanup() {
  set +e
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  [ -d "$WORK/old-src" ] && git -C "$REPO" worktree remove --force "$WORK/old-src" >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# Server CPU seconds so far (utime + stime of its /proc stat).
server_cpu() {
  awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$SERVER_PID/stat"
}

# ---------------------------------------------------------------- binaries
if [ "$SFT_BUILD" = 1 ]; then
  log "building the new sft (release)"
  (cd "$REPO" && cargo build --release --locked --quiet --bin sft)
fi
[ -x "$SFT" ] || die "no sft binary at $SFT"
if [ -z "${SFT_OLD:-}" ]; then
  log "building the old sft at $OLD (release, in a worktree)"
  git -C "$REPO" worktree add --detach -q "$WORK/old-src" "$OLD"
  (cd "$WORK/old-src" && cargo build --release --locked --quiet --bin sft)
  SFT_OLD=$WORK/old-src/target/release/sft
fi
[ -x "$SFT_OLD" ] || die "no old sft binary at $SFT_OLD"

# ---------------------------------------------------------------- sources
log "making the tree ($FILES x $FILE_KIB KiB) and the big file ($BIG_MIB MiB)"
python3 - "$WORK/src/tree" "$FILES" "$DIRS" "$FILE_KIB" <<'PY'
import os, sys
root, files, dirs, kib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
for d in range(dirs):
    os.makedirs(os.path.join(root, f"d{d:03}"), exist_ok=True)
for i in range(files):
    with open(os.path.join(root, f"d{i % dirs:03}", f"f{i:05}"), "wb") as f:
        f.write(os.urandom(kib * 1024))
PY
head -c "$((BIG_MIB << 20))" /dev/urandom >"$WORK/src/big.bin"

# ---------------------------------------------------------------- one upload
# upload WHICH WORKLOAD: a fresh server of build WHICH (old or new) with its own home
# and root, one upload, the copy checked; prints "wall client_cpu server_cpu".
upload() {
  local which=$1 workload=$2 bin=$SFT port home root out
  [ "$which" = old ] && bin=$SFT_OLD
  home=$WORK/$which-home
  root=$WORK/$which-root
  rm -rf "$root" "$home/receipts"
  mkdir -p "$home" "$root"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  SFT_HOME=$home "$bin" serve --listen "127.0.0.1:$port" --root "$root" --allow-any-client \
    --key-rate 1000000/60s --max-file-size 1TiB >>"$WORK/$which-serve.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 100); do
    SFT_HOME=$home "$bin" ls -q --accept-new "127.0.0.1:$port" >/dev/null 2>&1 && break
    sleep 0.1
  done
  local cpu0 cpu1
  cpu0=$(server_cpu)
  case $workload in
    batch) out=$(python3 "$WORK/timed.py" env SFT_HOME="$home" "$bin" put -r -q "127.0.0.1:$port" "$WORK/src/tree") ;;
    big) out=$(python3 "$WORK/timed.py" env SFT_HOME="$home" "$bin" put -q "127.0.0.1:$port" "$WORK/src/big.bin") ;;
  esac
  cpu1=$(server_cpu)
  kill "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
  case $workload in
    batch) diff -r "$WORK/src/tree" "$root/tree" >/dev/null || die "FAIL: $which's tree differs" ;;
    big) cmp -s "$WORK/src/big.bin" "$root/big.bin" || die "FAIL: $which's big.bin differs" ;;
  esac
  awk -v o="$out" -v a="$cpu0" -v b="$cpu1" 'BEGIN {printf "%s %.3f\n", o, b - a}'
}

# Runs a command; prints its wall seconds and its user+sys CPU seconds.
cat >"$WORK/timed.py" <<'PY'
import os, resource, subprocess, sys, time
t0 = time.monotonic()
rc = subprocess.call(sys.argv[1:])
wall = time.monotonic() - t0
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
if rc != 0:
    sys.exit(f"{sys.argv[1:]} exited {rc}")
print(f"{wall:.3f} {ru.ru_utime + ru.ru_stime:.3f}")
PY

# ---------------------------------------------------------------- runs
printf '%-6s %-4s %9s %9s %9s   %s\n' workload build wall_s client_s server_s "load average before each run"
for workload in ${WORKLOADS:-batch big}; do
  declare -A col=()
  for which in old new; do col[$which]=""; done
  loads=()
  for ((i = 0; i < RUNS; i++)); do
    for which in old new; do
      loads+=("$which $(loadavg)")
      col[$which]+="$(upload "$which" "$workload")"$'\n'
    done
  done
  declare -A med=()
  for which in old new; do
    for f in 1 2 3; do
      med[$which.$f]=$(printf '%s' "${col[$which]}" | awk -v f="$f" 'NF {print $f}' | median)
    done
    printf '%-6s %-4s %9.3f %9.3f %9.3f\n' "$workload" "$which" "${med[$which.1]}" "${med[$which.2]}" "${med[$which.3]}"
  done
  printf '%-6s %-4s %9.2f %9.2f %9.2f   %s\n' "$workload" new/old \
    "$(awk -v a="${med[new.1]}" -v b="${med[old.1]}" 'BEGIN {print a / b}')" \
    "$(awk -v a="${med[new.2]}" -v b="${med[old.2]}" 'BEGIN {print a / b}')" \
    "$(awk -v a="${med[new.3]}" -v b="${med[old.3]}" 'BEGIN {print a / b}')" \
    "$(IFS='|'; echo "${loads[*]}")"
  unset col med
done
log "audit log: $(wc -l <"$WORK/new-home/audit.log") lines, $(wc -c <"$WORK/new-home/audit.log") bytes; receipts kept by the last new run: $(ls "$WORK/new-home/receipts" | wc -l)"
