#!/usr/bin/env python3
"""How close sft runs to the machine's limit, all figures from one run.

Prints, over loopback with files in tmpfs (/dev/shm, so no disk is timed):
  1. the floor of sft's design per GiB, from `openssl speed -evp aes-256-gcm`,
     `openssl speed -evp sha256` and aligned copies measured here (page-cache
     read, TCP send, TCP receive, tmpfs write): sender = read + SHA-256 +
     AES-GCM + send, receiver = receive + AES-GCM + SHA-256 + write;
  2. CPU seconds per GiB of each side for `sft put`, `sft get`, and scp
     aes256-gcm up and down (throwaway sshd from shared/bench), and each
     one's wall time against scp's in the same run;
  3. aggregate MiB/s of 1, 2 and 4 parallel uploads to one server, for each
     --threads value given, with the server's CPU seconds and each event
     loop's (the short-lived hashing helpers count only in the total);
  4. the server's CPU per full handshake and handshakes per second, from
     HANDSHAKES `sft ls` calls run PARALLEL at a time;
  5. the server's peak RSS with 50 concurrent uploads, at two file sizes.

Environment: SIZE_MIB=1024 RUNS=3 PAR_MIB=256 THREADS="1 2" HANDSHAKES=400
PARALLEL=8 RSS_MIB="32 128" SFT=target/release/sft SFT_BUILD=1 SSH_PORT=2222.
No figure is a pass/fail: the script fails only if a transfer does.
"""

import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import mmap

GIB = 1 << 30
MIB = 1 << 20
BUF = 256 * 1024
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SFT = os.environ.get("SFT", os.path.join(REPO, "target/release/sft"))
SHARED = os.path.join(REPO, "..", "shared", "bench")
if not os.path.exists(SHARED):
    SHARED = "/work/shared/bench"
SIZE_MIB = int(os.environ.get("SIZE_MIB", "1024"))
RUNS = int(os.environ.get("RUNS", "3"))
PAR_MIB = int(os.environ.get("PAR_MIB", "256"))
THREADS = os.environ.get("THREADS", "1 2").split()
HANDSHAKES = int(os.environ.get("HANDSHAKES", "400"))
PARALLEL = int(os.environ.get("PARALLEL", "8"))
RSS_MIB = [int(x) for x in os.environ.get("RSS_MIB", "32 128").split()]
TICK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print("# " + msg, file=sys.stderr, flush=True)


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def loadavg():
    return open("/proc/loadavg").read().split()[0]


def proc_cpu(pid, children=False):
    """utime+stime of a whole process (all threads), seconds; with
    children, also those it has reaped (sshd's per-session processes)."""
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    t = int(f[11]) + int(f[12])
    if children:
        t += int(f[13]) + int(f[14])
    return t / TICK


def thread_cpu(pid):
    """{thread name#tid: cpu seconds} for every thread of pid."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            s = open(f"/proc/{pid}/task/{tid}/stat").read()
        except OSError:
            continue
        name = s[s.index("(") + 1 : s.rindex(")")]
        f = s.rsplit(")", 1)[1].split()
        out[f"{name}#{tid}"] = (int(f[11]) + int(f[12])) / TICK
    return out


def run_timed(argv, cwd=None, env=None):
    """Runs argv; returns (wall seconds, cpu seconds of it and its children)."""
    t0 = time.monotonic()
    p = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"bench-floor: {' '.join(argv)} exited {code}: {err[-500:]}")
    return wall, ru.ru_utime + ru.ru_stime


def aligned(n):
    return mmap.mmap(-1, n)  # page-aligned, as sft's own buffers are


def cpu_now():
    ru = resource.getrusage(resource.RUSAGE_THREAD)
    return ru.ru_utime + ru.ru_stime


# ------------------------------------------------------------------ floor
def openssl_speed(args, label):
    out = subprocess.run(["openssl", "speed", "-seconds", "2", "-bytes", str(BUF)] + args,
                         capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        if line.lower().startswith(label):
            kbps = float(line.split()[-1].rstrip("k"))
            return GIB / (kbps * 1000)
    sys.exit(f"bench-floor: no {label} line in openssl speed output")


def copy_read(path):
    buf = aligned(BUF)
    with open(path, "rb", buffering=0) as f:
        c0 = cpu_now()
        n = 0
        while True:
            k = f.readinto(buf)
            if not k:
                break
            n += k
        return (cpu_now() - c0) * GIB / n


def copy_write(path, size):
    buf = aligned(BUF)
    buf.write(os.urandom(BUF))
    with open(path, "wb", buffering=0) as f:
        c0 = cpu_now()
        for _ in range(size // BUF):
            f.write(buf)
        cost = (cpu_now() - c0) * GIB / size
    os.unlink(path)
    return cost


def copy_tcp(size):
    """(send, receive) CPU seconds per GiB over loopback, each side on its
    own thread with an aligned buffer."""
    ls = socket.create_server(("127.0.0.1", 0))
    res = {}

    def recv():
        c, _ = ls.accept()
        buf = aligned(BUF)
        c0 = cpu_now()
        n = 0
        while n < size:
            k = c.recv_into(buf)
            if not k:
                break
            n += k
        res["recv"] = (cpu_now() - c0) * GIB / n
        c.close()

    t = threading.Thread(target=recv)
    t.start()
    s = socket.create_connection(ls.getsockname())
    buf = aligned(BUF)
    c0 = cpu_now()
    for _ in range(size // BUF):
        s.sendall(buf)
    res["send"] = (cpu_now() - c0) * GIB / size
    s.close()
    t.join()
    ls.close()
    return res["send"], res["recv"]


# ------------------------------------------------------------------ sft
class Server:
    def __init__(self, work, name, root, threads=None):
        self.home = os.path.join(work, name + "-home")
        os.makedirs(self.home, exist_ok=True)
        self.root = root
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        argv = [SFT, "serve", "--listen", f"127.0.0.1:{self.port}", "--root", root,
                "--allow-any-client", "--allow-overwrite", "--max-connections", "256",
                "--source-rate", "100000/1s", "--key-rate", "1000000/1s"]
        if threads is not None:
            argv += ["--threads", str(threads)]
        self.log = open(os.path.join(work, name + ".log"), "w")
        env = dict(os.environ, SFT_HOME=self.home, RUST_LOG="warn")
        self.p = subprocess.Popen(argv, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        sys.exit(f"bench-floor: server {name} did not start; see {self.log.name}")

    def target(self):
        return f"127.0.0.1:{self.port}"

    def cpu(self):
        return proc_cpu(self.p.pid)

    def stop(self):
        self.p.terminate()
        self.p.wait()
        self.log.close()


def client_env(work):
    home = os.path.join(work, "client-home")
    os.makedirs(home, exist_ok=True)
    return dict(os.environ, SFT_HOME=home)


def sft_figures(work, src, shm):
    root = os.path.join(shm, "root")
    dl = os.path.join(shm, "dl")
    os.makedirs(dl, exist_ok=True)
    srv = Server(work, "server", root)
    env = client_env(work)
    name = os.path.basename(src)
    put, get = [], []
    for i in range(RUNS):
        subprocess.run(["sync"])
        c0 = srv.cpu()
        wall, ccpu = run_timed([SFT, "put", srv.target(), src, "--accept-new"], env=env)
        put.append((wall, ccpu, srv.cpu() - c0))
        log(f"sft put run {i + 1}: {SIZE_MIB / wall:.0f} MiB/s, load {loadavg()}")
        target = os.path.join(dl, name)
        if os.path.exists(target):
            os.unlink(target)
        c0 = srv.cpu()
        wall, ccpu = run_timed([SFT, "get", srv.target(), name], cwd=dl, env=env)
        get.append((wall, srv.cpu() - c0, ccpu))
        same = subprocess.run(["cmp", src, target]).returncode == 0
        if not same:
            sys.exit("bench-floor: FAIL: the file sft got differs")
        log(f"sft get run {i + 1}: {SIZE_MIB / wall:.0f} MiB/s, load {loadavg()}")
        os.unlink(target)
        os.unlink(os.path.join(root, name))
    srv.stop()
    return put, get


def scp_figures(work, src, shm):
    if not os.path.exists("/usr/sbin/sshd") or not shutil.which("scp"):
        log("scp: skipped (no sshd or scp)")
        return None, None
    ssh_dir = os.path.join(work, "sshd")
    port = os.environ.get("SSH_PORT", "2222")
    env = dict(os.environ, SSH_DIR=ssh_dir, SSH_PORT=port)
    subprocess.run([os.path.join(SHARED, "sshd-start.sh")], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    try:
        pid = int(open(os.path.join(ssh_dir, "sshd.pid")).read())
        opts = ["-q", "-P", port, "-i", os.path.join(ssh_dir, "user_ed25519"),
                "-o", "UserKnownHostsFile=" + os.path.join(ssh_dir, "known_hosts"),
                "-c", "aes256-gcm@openssh.com"]
        dest = os.path.join(shm, "scp")
        os.makedirs(dest, exist_ok=True)
        up, down = [], []
        for i in range(RUNS):
            subprocess.run(["sync"])
            c0 = proc_cpu(pid, children=True)
            wall, ccpu = run_timed(["scp"] + opts + [src, f"root@127.0.0.1:{dest}/up"])
            time.sleep(0.2)  # let sshd reap the session process
            up.append((wall, ccpu, proc_cpu(pid, children=True) - c0))
            log(f"scp upload run {i + 1}: {SIZE_MIB / wall:.0f} MiB/s, load {loadavg()}")
            c0 = proc_cpu(pid, children=True)
            wall, ccpu = run_timed(["scp"] + opts + [f"root@127.0.0.1:{dest}/up", dest + "/down"])
            time.sleep(0.2)
            down.append((wall, proc_cpu(pid, children=True) - c0, ccpu))
            log(f"scp download run {i + 1}: {SIZE_MIB / wall:.0f} MiB/s, load {loadavg()}")
            os.unlink(dest + "/up")
            os.unlink(dest + "/down")
        return up, down
    finally:
        subprocess.run([os.path.join(SHARED, "sshd-stop.sh")], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def parallel_uploads(work, shm, threads):
    src = os.path.join(shm, "par.bin")
    if not os.path.exists(src):
        with open(src, "wb") as f:
            for _ in range(PAR_MIB):
                f.write(os.urandom(MIB))
    root = os.path.join(shm, f"par-root-{threads}")
    srv = Server(work, f"par-{threads}", root, threads)
    env = client_env(work)
    # One untimed upload first: a fresh server's first file pays for
    # warming the page cache and tmpfs.
    subprocess.run([SFT, "put", srv.target(), src, "--to", "warm", "--accept-new"], env=env,
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = []
    for k in (1, 2, 4):
        total_before = srv.cpu()
        t_before = thread_cpu(srv.p.pid)
        t0 = time.monotonic()
        ps = [subprocess.Popen([SFT, "put", srv.target(), src, "--to", f"p{k}-{j}",
                                "--accept-new"], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL) for j in range(k)]
        codes = [p.wait() for p in ps]
        wall = time.monotonic() - t0
        if any(codes):
            sys.exit(f"bench-floor: a parallel upload failed: {codes}")
        after = thread_cpu(srv.p.pid)
        busy = {n: after[n] - t_before.get(n, 0.0) for n in after}
        busy = {n: c for n, c in busy.items() if c >= 0.01}
        rows.append((k, k * PAR_MIB / wall, busy, srv.cpu() - total_before))
        for entry in os.listdir(root):  # the server holds root itself open
            shutil.rmtree(os.path.join(root, entry))
    srv.stop()
    return rows


def handshakes(work, shm):
    srv = Server(work, "hs", os.path.join(shm, "hs-root"))
    env = client_env(work)
    subprocess.run([SFT, "ls", srv.target(), "--accept-new"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    c0 = srv.cpu()
    t0 = time.monotonic()
    running, started = [], 0
    while started < HANDSHAKES or running:
        while started < HANDSHAKES and len(running) < PARALLEL:
            running.append(subprocess.Popen([SFT, "ls", srv.target()], env=env,
                                            stdout=subprocess.DEVNULL))
            started += 1
        p = running.pop(0)
        if p.wait() != 0:
            sys.exit("bench-floor: sft ls failed")
    wall = time.monotonic() - t0
    cpu = srv.cpu() - c0
    srv.stop()
    return cpu / HANDSHAKES * 1000, HANDSHAKES / wall


def rss(work, shm, mib):
    src = os.path.join(shm, f"rss-{mib}.bin")
    with open(src, "wb") as f:
        for _ in range(mib):
            f.write(os.urandom(MIB))
    root = os.path.join(shm, f"rss-root-{mib}")
    srv = Server(work, f"rss-{mib}", root)
    env = client_env(work)
    ps = [subprocess.Popen([SFT, "put", srv.target(), src, "--to", f"c{j}", "--accept-new"],
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
          for j in range(50)]
    codes = [p.wait() for p in ps]
    status = open(f"/proc/{srv.p.pid}/status").read()
    hwm = int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024
    srv.stop()
    os.unlink(src)
    shutil.rmtree(root)
    return hwm, sum(1 for c in codes if c == 0)


def main():
    if os.environ.get("SFT_BUILD", "1") == "1":
        subprocess.run(["cargo", "build", "--release", "--locked", "-q"], cwd=REPO, check=True)
    shm_parent = "/dev/shm" if os.path.isdir("/dev/shm") else None
    shm = tempfile.mkdtemp(prefix="sft-bench-floor.", dir=shm_parent)
    work = tempfile.mkdtemp(prefix="sft-bench-floor.")
    try:
        print(f"bench-floor: {SIZE_MIB} MiB over loopback into tmpfs, {RUNS} runs (medians), "
              f"{os.cpu_count()} cores, load {loadavg()}")
        src = os.path.join(shm, "src.bin")
        with open(src, "wb") as f:
            for _ in range(SIZE_MIB):
                f.write(os.urandom(MIB))
        gcm = openssl_speed(["-evp", "aes-256-gcm"], "aes-256-gcm")
        sha = openssl_speed(["-evp", "sha256"], "sha256")
        rd = median([copy_read(src) for _ in range(3)])
        wr = median([copy_write(os.path.join(shm, "w.bin"), SIZE_MIB * MIB) for _ in range(3)])
        tcp = [copy_tcp(SIZE_MIB * MIB) for _ in range(3)]
        snd = median([t[0] for t in tcp])
        rcv = median([t[1] for t in tcp])
        send_floor = rd + sha + gcm + snd
        recv_floor = rcv + gcm + sha + wr
        print(f"floor parts (CPU s/GiB): AES-256-GCM {gcm:.3f}, SHA-256 {sha:.3f}, "
              f"page-cache read {rd:.3f}, TCP send {snd:.3f}, TCP receive {rcv:.3f}, "
              f"tmpfs write {wr:.3f}")
        print(f"floor: sender {send_floor:.2f} s/GiB, receiver {recv_floor:.2f} s/GiB")

        put, get = sft_figures(work, src, shm)
        up, down = scp_figures(work, src, shm)
        per_gib = GIB / (SIZE_MIB * MIB)
        print(f"{'':14}{'sender s/GiB':>14}{'receiver s/GiB':>16}{'wall s':>9}{'vs scp':>8}"
              f"{'sender/floor':>14}{'receiver/floor':>16}")
        scp_wall = {"put": up and median([r[0] for r in up]),
                    "get": down and median([r[0] for r in down])}
        for name, rows, peer in (("sft put", put, "put"), ("sft get", get, "get"),
                                 ("scp upload", up, None), ("scp download", down, None)):
            if not rows:
                continue
            wall = median([r[0] for r in rows])
            s = median([r[1] for r in rows]) * per_gib
            r = median([r[2] for r in rows]) * per_gib
            ratio = f"{scp_wall[peer] / wall:.2f}x" if peer and scp_wall[peer] else "-"
            print(f"{name:14}{s:14.2f}{r:16.2f}{wall:9.2f}{ratio:>8}"
                  f"{s / send_floor:14.2f}{r / recv_floor:16.2f}")
        print(f"(vs scp: scp's wall time over sft's, same direction; load {loadavg()})")

        for t in THREADS or [None]:
            for k, agg, busy, total in parallel_uploads(work, shm, t):
                threads_s = ", ".join(f"{n.split('#')[0]} {c:.2f}s"
                                      for n, c in sorted(busy.items(), key=lambda x: -x[1]))
                label = f"--threads {t}" if t else "default threads"
                print(f"{label}: {k} parallel upload(s) of {PAR_MIB} MiB: {agg:.0f} MiB/s "
                      f"aggregate; server CPU {total:.2f}s, of it the event loops: {threads_s}")
        ms, rate = handshakes(work, shm)
        print(f"handshakes: {HANDSHAKES} sft ls, {PARALLEL} at a time: server CPU {ms:.3f} ms "
              f"per full handshake, {rate:.0f} handshakes/s (clients on the same cores); "
              f"load {loadavg()}")
        for mib in RSS_MIB:
            hwm, ok = rss(work, shm, mib)
            print(f"server peak RSS with 50 concurrent uploads of {mib} MiB: {hwm:.1f} MiB "
                  f"({ok} of 50 stored)")
        print(f"load average at the end: {loadavg()}")
    finally:
        shutil.rmtree(shm, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
