#!/usr/bin/env python3
"""Seshat vs restic, side by side, on the same tree (bench/run.sh is the entry point).

  run.py <scale> [--s3] [--reps N] [--steps LIST] [--verify] [--root DIR] [--seshat BIN]
                 [--no-floors] [--no-save] [--keep]

For each repetition: the cached data set (<root>/<scale>/data, made by gen.py) is copied
with `cp -al` into a work tree (the mutator renames over files, so the cache stays intact),
the page cache is warmed with tar, and then each step runs for both tools, alternately
(odd repetitions start with restic, even ones with Seshat), each under /usr/bin/time -v
after an untimed sync:

  init        create the repository (seshat INITIALIZE / restic init)
  first       first backup of the tree
  unchanged   backup again, nothing changed
  repeat      five more unchanged backups: the store's growth per backup (the catalog's cost)
  mutated     backup after `gen.py mutate --seed 1` (~1 % changed, 0.5 % added, 0.5 % deleted)
  list        open the repository and list the backups (seshat LIST BACKUPS / restic snapshots)
  restore     full restore of the newest backup into /dev/shm, then into <root>/<scale>/restore
              on disk followed by sync (the sync is part of the time)

Each restore is checked against the work tree: types, sizes and link targets (--verify:
also modes, mtimes and SHA-256 of every file). Any failing command or mismatch stops the
run with a non-zero exit.

The table gives medians with [min-max] over the repetitions and the ratio Seshat/restic of
the medians. It also gives the floors on the same data: a metadata walk (find -printf), a
full read (tar | cat) and OpenSSL's AES-256-CBC and SHA-256 speed on 8 KB blocks.
"""
import argparse
import datetime
import hashlib
import json
import os
import platform
import re
import select
import shutil
import signal
import stat
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen  # noqa: E402

PASSWORD = "bench passphrase 42"
HOSTNAME = "bench-host"
S3_KEY = "S3RVER"
SESHAT_BUCKET, RESTIC_BUCKET = "seshat-bench", "restic-bench"
ALL_STEPS = ["init", "first", "unchanged", "repeat", "mutated", "list", "restore"]
TOOLS = ["seshat", "restic"]


class BenchError(Exception):
    pass


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


NO_SYNC = False


def sync():
    if not NO_SYNC:
        os.sync()


# ---------------------------------------------------------------------------- tree checks

def tree_snapshot(root, full):
    """Maps relative path -> what a restore must reproduce."""
    out = {}
    root_b = os.fsencode(root)

    def visit(path, rel):
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            out[rel] = ("link", os.readlink(path))
        elif stat.S_ISDIR(st.st_mode):
            out[rel] = ("dir", stat.S_IMODE(st.st_mode)) if full else ("dir",)
            with os.scandir(path) as it:
                names = sorted(e.name for e in it)
            for n in names:
                visit(path + b"/" + n, rel + b"/" + n if rel else n)
        elif stat.S_ISREG(st.st_mode):
            if full:
                h = hashlib.sha256()
                with open(path, "rb") as f:
                    while True:
                        b = f.read(1 << 20)
                        if not b:
                            break
                        h.update(b)
                out[rel] = ("file", st.st_size, stat.S_IMODE(st.st_mode), st.st_mtime_ns, h.hexdigest())
            else:
                out[rel] = ("file", st.st_size)
        else:
            out[rel] = ("other", stat.S_IFMT(st.st_mode))

    visit(root_b, b"")
    return out


def compare_trees(expected, actual, what):
    bad = [k for k in sorted(set(expected) | set(actual)) if expected.get(k) != actual.get(k)]
    if bad:
        lines = [f"  {os.fsdecode(k) or '(top)'}: expected {expected.get(k)}, got {actual.get(k)}" for k in bad[:10]]
        raise BenchError(f"{what}: {len(bad)} differences\n" + "\n".join(lines))


def tree_stats(root):
    files = dirs = links = size = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirs += 1
        for n in dirnames:
            if os.path.islink(os.path.join(dirpath, n)):
                links += 1
        for n in filenames:
            st = os.lstat(os.path.join(dirpath, n))
            if stat.S_ISLNK(st.st_mode):
                links += 1
            else:
                files += 1
                size += st.st_size
    return dict(files=files, dirs=dirs, symlinks=links, bytes=size)


# ---------------------------------------------------------------------------- measuring

def timed(cmd, env, logf, then_sync=False):
    """Runs cmd under /usr/bin/time -v; returns wall (s, with the sync if asked), cpu (s) and
    peak RSS (MB). Raises BenchError on a non-zero exit."""
    fd, tfile = tempfile.mkstemp(prefix="bench-time-")
    os.close(fd)
    la = loadavg()
    try:
        with open(logf, "ab") as lf:
            lf.write(("\n$ " + " ".join(cmd) + "\n").encode())
            lf.flush()
            t0 = time.monotonic()
            p = subprocess.run(["/usr/bin/time", "-v", "-o", tfile] + cmd, env=env, stdout=lf, stderr=lf,
                               stdin=subprocess.DEVNULL)
            wall = time.monotonic() - t0
            if then_sync and p.returncode == 0:
                os.sync()
                wall = time.monotonic() - t0
        with open(tfile) as f:
            tv = f.read()
    finally:
        os.unlink(tfile)
    if p.returncode != 0:
        with open(logf, "rb") as f:
            tail = f.read()[-3000:].decode(errors="replace")
        raise BenchError(f"command failed (exit {p.returncode}): {' '.join(cmd)}\n--- log tail ({logf}) ---\n{tail}")

    def field(name):
        m = re.search(re.escape(name) + r":\s*([\d.]+)", tv)
        if not m:
            raise BenchError(f"/usr/bin/time -v gave no '{name}':\n{tv}")
        return float(m.group(1))

    return dict(wall=wall, cpu=field("User time (seconds)") + field("System time (seconds)"),
                rss=field("Maximum resident set size (kbytes)") / 1024, load=la)


def shell_time(script):
    t0 = time.monotonic()
    subprocess.run(["bash", "-c", script], check=True, stdin=subprocess.DEVNULL)
    return time.monotonic() - t0


def openssl_8k(alg):
    out = subprocess.run(["openssl", "speed", "-evp", alg, "-bytes", "8192", "-seconds", "2"],
                         capture_output=True, text=True, check=True).stdout
    line = [l for l in out.splitlines() if l.strip()][-1]
    kbs = float(line.split()[-1].rstrip("k"))
    return kbs * 1000 / 1e6  # MB/s


# ---------------------------------------------------------------------------- stores

class S3Server:
    def __init__(self, data, logpath):
        self.data, self.logpath, self.proc, self.port = data, logpath, None, None

    def start(self):
        # The tests' S3 server, with relaxed signature checks (restic needs them).
        server = os.path.join(HERE, os.pardir, "tests", "s3server", "server.js")
        if not shutil.which("node"):
            raise BenchError("--s3 needs node (tools/setup.sh with SESHAT_SETUP_TESTS=1 installs it)")
        if not os.path.isdir(os.path.join(HERE, os.pardir, "tests", "s3server", "node_modules", "@20minutes", "s3rver")):
            raise BenchError("tests/s3server/node_modules is missing: run `npm ci` in tests/s3server")
        os.makedirs(self.data, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env["NODE_OPTIONS"] = "--openssl-legacy-provider"
        env["S3RVER_RELAXED_SIGNATURES"] = "1"
        wrap = ["setpriv", "--pdeathsig", "KILL", "--"] if shutil.which("setpriv") else []
        with open(self.logpath, "ab") as lf:
            self.proc = subprocess.Popen(wrap + ["node", server, self.data, "0", SESHAT_BUCKET, RESTIC_BUCKET], env=env,
                                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=lf,
                                         start_new_session=True)
        buf, deadline = b"", time.monotonic() + 30
        while time.monotonic() < deadline:
            m = re.search(rb"PORT (\d+)\n", buf)
            if m:
                self.port = int(m.group(1))
                return
            r, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                buf += chunk
        self.stop()
        raise BenchError("the S3 test server did not start; see " + self.logpath)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def stop(self):
        p, self.proc = self.proc, None
        if p and p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
        if p and p.stdout:
            p.stdout.close()


def store_usage(path, s3):
    """(bytes, objects) of a store: a local directory, or an s3rver bucket directory."""
    size = n = 0
    for dirpath, dirnames, filenames in os.walk(path):
        if s3 and "._S3rver_uploads" in dirnames:
            dirnames.remove("._S3rver_uploads")
        for f in filenames:
            if s3 and not f.endswith("._S3rver_object"):
                continue
            size += os.lstat(os.path.join(dirpath, f)).st_size
            n += 1
    return size, n


def mount_options(path):
    """The mount options of the file system that holds path."""
    best, opts = "", []
    with open("/proc/mounts") as f:
        for line in f:
            fields = line.split()
            mnt = fields[1].replace("\\040", " ")
            if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best):
                best, opts = mnt, fields[3].split(",")
    return opts


class LoopFS:
    """A scratch ext4 on a loop device with direct I/O (so writes really reach the disk),
    backed by a sparse file. Used as the on-disk restore target where the real file system
    is mounted with `discard`: there every deleted file costs a synchronous discard, and
    removing a restored tree of 200 k files between repetitions takes many minutes."""

    def __init__(self, image, mnt, size, inodes):
        self.image, self.mnt, self.size, self.inodes = image, mnt, size, inodes
        self.dev = None
        self.mounted = False

    def start(self):
        with open(self.image, "wb") as f:
            f.truncate(self.size)
        self.dev = subprocess.run(["losetup", "--direct-io=on", "-f", "--show", self.image], check=True,
                                  capture_output=True, text=True).stdout.strip()
        sh(["mkfs.ext4", "-q", "-F", "-N", str(self.inodes), "-E", "nodiscard,lazy_itable_init=0,lazy_journal_init=0",
            self.dev], stdout=subprocess.DEVNULL)
        os.makedirs(self.mnt, exist_ok=True)
        sh(["mount", self.dev, self.mnt])
        self.mounted = True

    def stop(self):
        if self.mounted:
            subprocess.run(["umount", self.mnt])
            self.mounted = False
        if self.dev:
            subprocess.run(["losetup", "-d", self.dev])
            self.dev = None
        if os.path.exists(self.image):
            os.unlink(self.image)


class Tool:
    def __init__(self, name, rep_dir, logf, s3):
        self.name, self.rep_dir, self.logf, self.s3 = name, rep_dir, logf, s3
        self.home = os.path.join(rep_dir, name + "-home")
        os.makedirs(self.home)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("SESHAT_", "RESTIC_", "AWS_"))}
        self.env.update(HOME=self.home, XDG_CACHE_HOME=os.path.join(self.home, ".cache"))
        if s3:
            self.env.update(AWS_ACCESS_KEY_ID=S3_KEY, AWS_SECRET_ACCESS_KEY=S3_KEY)

    def run(self, args, then_sync=False):
        return timed(self.command(args), self.env, self.logf, then_sync)


class Seshat(Tool):
    def __init__(self, binary, rep_dir, logf, s3, server):
        super().__init__("seshat", rep_dir, logf, s3)
        self.binary = binary
        self.env.update(SESHAT_PASSWORD=PASSWORD, SESHAT_HOSTNAME=HOSTNAME)
        if s3:
            self.store_args = ["S3", "ENDPOINT", server.url, "S3", "BUCKET", SESHAT_BUCKET]
            self.store_path = os.path.join(server.data, SESHAT_BUCKET)
        else:
            self.store_path = os.path.join(rep_dir, "seshat-store")
            self.store_args = ["STORE", "LOCAL", self.store_path]

    def command(self, args):
        return [self.binary] + args + ["EXIT"]

    def init(self):
        return self.run(self.store_args + ["INITIALIZE"])

    def backup(self, tree):
        return self.run(["BACKUP", tree])

    def list(self):
        return self.run(["LIST", "BACKUPS"])

    def restore(self, tree, target, then_sync=False):
        return self.run(["SELECT", "FOLDER", tree, "RESTORE", "ADD", "TREE", "RESTORE", "TARGET", target,
                         "RESTORE", "GO"], then_sync)


class Restic(Tool):
    def __init__(self, rep_dir, logf, s3, server):
        super().__init__("restic", rep_dir, logf, s3)
        self.env.update(RESTIC_PASSWORD=PASSWORD)
        if s3:
            self.repo = f"s3:{server.url}/{RESTIC_BUCKET}"
            self.store_path = os.path.join(server.data, RESTIC_BUCKET)
        else:
            self.repo = self.store_path = os.path.join(rep_dir, "restic-repo")

    def command(self, args):
        return ["restic", "-r", self.repo, "--host", HOSTNAME] + args if args[0] == "backup" else \
            ["restic", "-r", self.repo] + args

    def init(self):
        return self.run(["init"])

    def backup(self, tree):
        return self.run(["backup", tree])

    def list(self):
        return self.run(["snapshots"])

    def restore(self, tree, target, then_sync=False):
        return self.run(["restore", "latest", "--target", target], then_sync)


# ---------------------------------------------------------------------------- the run

def ensure_data(root, scale):
    d = os.path.join(root, scale)
    data, meta = os.path.join(d, "data"), os.path.join(d, "data.json")
    try:
        with open(meta) as f:
            info = json.load(f)
        if info.get("gen_version") == gen.GEN_VERSION and os.path.isdir(data):
            return data, info
    except (OSError, ValueError):
        pass
    for p in (data, data + ".tmp"):
        if os.path.lexists(p):
            log(f"removing stale {p}")
            shutil.rmtree(p)
    os.makedirs(d, exist_ok=True)
    t0 = time.monotonic()
    gen.generate(scale, data + ".tmp", log=log)
    os.rename(data + ".tmp", data)
    info = dict(gen_version=gen.GEN_VERSION, seconds=round(time.monotonic() - t0, 1), **tree_stats(data))
    with open(meta, "w") as f:
        json.dump(info, f)
    return data, info


def fmt_num(v):
    if v is None:
        return "-"
    if float(v).is_integer() and abs(v) >= 1:
        return f"{v:.0f}"
    a = abs(v)
    if a >= 1000:
        return f"{v:.0f}"
    if a >= 100:
        return f"{v:.1f}"
    if a >= 10:
        return f"{v:.2f}"
    return f"{v:.3f}" if a < 1 else f"{v:.2f}"


def cell(vals):
    if not vals:
        return "-"
    m = statistics.median(vals)
    if len(vals) == 1:
        return fmt_num(m)
    return f"{fmt_num(m)} [{fmt_num(min(vals))}-{fmt_num(max(vals))}]"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scale", choices=list(gen.SCALES))
    ap.add_argument("--s3", action="store_true", help="stores in the S3 test server instead of local directories")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--steps", help="comma-separated subset of " + ",".join(ALL_STEPS) +
                    " (default: all; files1m: init,first,unchanged)")
    ap.add_argument("--verify", action="store_true", help="compare restores fully (modes, mtimes, SHA-256)")
    ap.add_argument("--root", default="/var/tmp/seshat-bench", help="data cache and work area")
    ap.add_argument("--seshat", default=os.path.join(HERE, os.pardir, "build", "seshat"))
    ap.add_argument("--no-floors", action="store_true")
    ap.add_argument("--no-save", action="store_true", help="do not write bench/results/")
    ap.add_argument("--keep", action="store_true", help="keep the last repetition's stores and logs")
    ap.add_argument("--disk-target", choices=["auto", "direct", "loop"], default="auto",
                    help="where 'restore to disk' writes: direct = <root>/<scale>/restore; loop = a scratch "
                         "ext4 on a loop device with direct I/O; auto = loop when running as root on a file "
                         "system mounted with discard (deletions there are very slow), else direct")
    ap.add_argument("--no-sync", action="store_true",
                    help="skip the untimed syncs between steps (smoke test); restore to disk still syncs")
    a = ap.parse_args()
    global NO_SYNC
    NO_SYNC = a.no_sync
    if a.reps < 1:
        ap.error("--reps must be at least 1")
    steps = a.steps.split(",") if a.steps else (["init", "first", "unchanged", "repeat", "list"] if a.scale == "files1m" else ALL_STEPS)
    for s in steps:
        if s not in ALL_STEPS:
            ap.error(f"unknown step {s}")
    for tool in ("restic", "/usr/bin/time", "openssl"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing (bench/run.sh installs it)")
    if not os.access(a.seshat, os.X_OK):
        raise SystemExit(f"no Seshat binary at {a.seshat} (ninja -C build seshat)")

    root = os.path.abspath(a.root)
    base = os.path.join(root, a.scale)
    os.makedirs(base, exist_ok=True)
    data, info = ensure_data(root, a.scale)
    log(f"data set {a.scale}: {info['files']} files, {info['dirs']} dirs, {info['symlinks']} symlinks, "
        f"{info['bytes'] / 1e6:.0f} MB")

    # The binary may be rebuilt by someone else while we run: measure a private copy.
    run_dir = tempfile.mkdtemp(prefix="run-", dir=base)
    binary = os.path.join(run_dir, "seshat")
    shutil.copy2(a.seshat, binary)
    with open(binary, "rb") as f:
        bin_sha = hashlib.sha256(f.read()).hexdigest()[:12]
    git = subprocess.run(["git", "-C", os.path.join(HERE, os.pardir), "describe", "--always", "--dirty"],
                         capture_output=True, text=True).stdout.strip() or "?"
    restic_version = subprocess.run(["restic", "version"], capture_output=True, text=True).stdout.strip()

    shm = tempfile.mkdtemp(prefix="seshat-bench-", dir="/dev/shm")
    work = os.path.join(base, "work")
    tree = os.path.join(work, "tree")
    disk_restore = os.path.join(base, "restore")
    loopfs = None
    disk_note = "restore to disk: " + disk_restore
    if "restore" in steps:
        use_loop = a.disk_target == "loop" or (a.disk_target == "auto" and os.geteuid() == 0 and
                                               "discard" in mount_options(base) and shutil.which("losetup"))
        if use_loop:
            disk_restore = os.path.join(base, "restore-mnt")
            entries = info["files"] + info["dirs"] + info["symlinks"]
            loopfs = LoopFS(os.path.join(base, "restore.img"), disk_restore, int(info["bytes"] * 2.4) + (2 << 30),
                            int(entries * 2.5) + 50000)
            if os.path.ismount(disk_restore):
                subprocess.run(["umount", disk_restore])
            try:
                loopfs.start()
                disk_note = (f"restore to disk: ext4 on a loop device with direct I/O backed by {base} (that file "
                             f"system is mounted with discard, which makes deleting restored trees very slow)")
            except (OSError, subprocess.CalledProcessError) as e:
                if a.disk_target == "loop":
                    raise SystemExit(f"cannot set up the loop file system: {e}")
                log(f"no loop file system ({e}); restoring to disk directly")
                loopfs.stop()
                loopfs, disk_restore = None, os.path.join(base, "restore")
    res = {}  # (row, unit) -> {tool: [values]}
    floors = {"find -printf (metadata walk) s": [], "tar | cat (full read) s": []}
    loads = []

    def record(row, unit, tool, v):
        res.setdefault((row, unit), {}).setdefault(tool, []).append(v)

    def record_run(row, tool, m):
        record(row, "wall s", tool, m["wall"])
        record(row, "cpu s", tool, m["cpu"])
        record(row, "peak RSS MB", tool, m["rss"])
        loads.append(m["load"])

    started = datetime.datetime.now()
    result_name = f"{a.scale}{'-s3' if a.s3 else ''}-{started:%Y%m%d-%H%M}.txt"

    def render(reps_done, ssl):
        lines = []
        partial = "" if reps_done == a.reps else f" (PARTIAL: {reps_done} of {a.reps} done)"
        lines.append(f"Seshat vs restic — scale {a.scale}{' (S3: tests/s3server on 127.0.0.1)' if a.s3 else ' (local stores)'}, "
                     f"{reps_done} repetition(s){partial}, started {started:%Y-%m-%d %H:%M}")
        lines.append(f"data: {info['files']} files, {info['dirs']} dirs, {info['symlinks']} symlinks, "
                     f"{info['bytes'] / 1e6:.0f} MB; mutation: ~1 % changed, 0.5 % added, 0.5 % deleted")
        lines.append(f"seshat: git {git}, binary sha256 {bin_sha}; {restic_version}")
        lines.append(f"machine: {platform.node()}, {os.cpu_count()} cpus, "
                     f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB; "
                     f"load average during timed steps: median {statistics.median(loads) if loads else 0:.1f}, "
                     f"max {max(loads) if loads else 0:.1f}  (>2 means other processes competed for the 2 cores)")
        lines.append("Medians with [min-max]; ratio = seshat median / restic median (<1: seshat better). Page cache warm.")
        if "restore" in steps:
            lines.append(disk_note)
        lines.append("")
        w0 = max([len(f"{r} {u}") for r, u in res] + [40])
        wc = 26
        lines.append(f"{'row':<{w0}}  {'seshat':<{wc}}  {'restic':<{wc}}  seshat/restic")
        lines.append("-" * (w0 + 2 * wc + 20))
        for (row, unit), by_tool in res.items():
            s, r = by_tool.get("seshat", []), by_tool.get("restic", [])
            ratio = "-"
            if s and r and statistics.median(r) > 0:
                ratio = f"{statistics.median(s) / statistics.median(r):.2f}"
            lines.append(f"{row + ' ' + unit:<{w0}}  {cell(s):<{wc}}  {cell(r):<{wc}}  {ratio}")
        if not a.no_floors:
            lines.append("")
            lines.append("floors on the same machine and data:")
            for k, v in floors.items():
                lines.append(f"  {k:<{w0 - 2}}  {cell(v)}")
            for k, v in ssl.items():
                lines.append(f"  {k:<{w0 - 2}}  {v:.0f}")
        return "\n".join(lines)

    def save(table):
        if a.no_save:
            return
        outdir = os.path.join(HERE, "results")
        os.makedirs(outdir, exist_ok=True)
        with open(os.path.join(outdir, result_name), "w") as f:
            f.write(table + "\n")
        log(f"written to bench/results/{result_name}")

    failed = None
    try:
        for rep in range(a.reps):
            order = TOOLS if rep % 2 == 0 else TOOLS[::-1]
            log(f"repetition {rep + 1}/{a.reps} (order: {', '.join(order)}; load average {loadavg():.1f})")
            rep_dir = os.path.join(run_dir, f"rep{rep + 1}")
            os.makedirs(rep_dir)
            logf = os.path.join(rep_dir, "commands.log")
            if os.path.lexists(work):
                shutil.rmtree(work)
            os.makedirs(work)
            sh(["cp", "-al", data, tree])
            warm = f"tar -cf - -C {work} tree | cat > /dev/null"
            shell_time(warm)  # the page cache is warm from here on
            sync()
            if not a.no_floors:
                floors["find -printf (metadata walk) s"].append(shell_time(f"find {tree} -printf '%s %T@\\n' > /dev/null"))
                floors["tar | cat (full read) s"].append(shell_time(warm))

            server = None
            if a.s3:
                server = S3Server(os.path.join(rep_dir, "s3data"), os.path.join(rep_dir, "s3server.log"))
                server.start()
            tools = {"seshat": Seshat(binary, rep_dir, logf, a.s3, server), "restic": Restic(rep_dir, logf, a.s3, server)}
            try:
                def each(label, fn):
                    for name in order:
                        sync()
                        m = fn(tools[name])
                        record_run(label, name, m)
                        log(f"  {label:<22} {name:<6} {m['wall']:8.2f} s  cpu {m['cpu']:7.2f} s  rss {m['rss']:7.1f} MB")

                def usage(label):
                    for name in order:
                        size, n = store_usage(tools[name].store_path, a.s3)
                        record(label, "MB", name, size / 1e6)
                        record(label, "objects", name, n)

                if "init" in steps:
                    each("init", lambda t: t.init())
                else:
                    for t in tools.values():
                        t.init()
                if "first" in steps:
                    each("first backup", lambda t: t.backup(tree))
                    usage("store after first")
                if "unchanged" in steps:
                    each("unchanged backup", lambda t: t.backup(tree))
                if "repeat" in steps:
                    before = {name: store_usage(tools[name].store_path, a.s3)[0] for name in order}
                    for _ in range(5):
                        each("unchanged again", lambda t: t.backup(tree))
                    for name in order:
                        grown = store_usage(tools[name].store_path, a.s3)[0] - before[name]
                        record("growth per unchanged", "KB", name, grown / 5 / 1e3)
                if "mutated" in steps:
                    gen.mutate(tree, 1, log=log)
                    shell_time(warm)
                    each("mutated backup", lambda t: t.backup(tree))
                if "first" in steps or "unchanged" in steps or "repeat" in steps or "mutated" in steps:
                    usage("store final")
                if "list" in steps:
                    each("list backups", lambda t: t.list())
                if "restore" in steps:
                    expected = tree_snapshot(tree, a.verify)
                    for label, parent, then_sync in (("restore to tmpfs", shm, False),
                                                     ("restore to disk+sync", disk_restore, True)):
                        for name in order:
                            target = os.path.join(parent, name)
                            sync()
                            m = tools[name].restore(tree, target, then_sync)
                            record_run(label, name, m)
                            log(f"  {label:<22} {name:<6} {m['wall']:8.2f} s  cpu {m['cpu']:7.2f} s  rss {m['rss']:7.1f} MB")
                            compare_trees(expected, tree_snapshot(target + tree, a.verify),
                                          f"{name} {label} (rep {rep + 1})")
                        # Deleted only after both tools ran, then synced untimed: on a file
                        # system mounted with discard, a deletion's cost lands on the next sync.
                        for name in order:
                            shutil.rmtree(os.path.join(parent, name))
                        sync()
            finally:
                if server:
                    server.stop()
            if rep + 1 < a.reps:
                save(render(rep + 1, {}))
            if rep + 1 < a.reps or not a.keep:
                for name in ("seshat-store", "restic-repo", "s3data", "seshat-home", "restic-home"):
                    p = os.path.join(rep_dir, name)
                    if os.path.lexists(p):
                        shutil.rmtree(p)
    except BenchError as e:
        failed = e
    finally:
        shutil.rmtree(shm, ignore_errors=True)
        if loopfs:
            loopfs.stop()
        elif os.path.lexists(disk_restore):
            shutil.rmtree(disk_restore, ignore_errors=True)
        if not a.keep and os.path.lexists(work):
            shutil.rmtree(work, ignore_errors=True)

    if failed:
        print(f"BENCHMARK FAILED: {failed}", file=sys.stderr)
        print(f"(logs kept in {run_dir})", file=sys.stderr)
        return 1

    ssl = {}
    if not a.no_floors:
        ssl = {"openssl aes-256-cbc 8 KB MB/s": openssl_8k("aes-256-cbc"), "openssl sha256 8 KB MB/s": openssl_8k("sha256")}

    table = render(a.reps, ssl)
    print(table)
    save(table)
    if not a.keep:
        shutil.rmtree(run_dir, ignore_errors=True)
    else:
        log(f"kept {run_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
