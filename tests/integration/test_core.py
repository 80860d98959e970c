#!/usr/bin/env python3
"""Integration tests for Seshat: drive the built program from outside.

Usage:
  test_core.py [--store local|s3] --list                    print the test names, one a line
  test_core.py [--store local|s3] <seshat-binary> <name>    run one test (exit 0 pass, 1 fail)
  test_core.py [--store local|s3] <seshat-binary> [all]     run every test and print a summary

Each test works in its own temporary directories (removed at the end), with HOME pointing
at a private directory (Seshat keeps ~/.seshatrc there), SESHAT_PASSWORD set and cheap key
derivation. Standard library only.

--store local (the default) keeps the store in a directory. --store s3 runs the same tests
against an S3-compatible server on 127.0.0.1 (tests/s3server: s3rver under node, credentials
S3RVER/S3RVER): each test starts its own server on a fresh data directory and a free port,
points Seshat at it (S3 ENDPOINT/S3 BUCKET instead of STORE LOCAL) and stops it at the end.
The server keeps object <key> of bucket <b> in the file <data>/<b>/<key>._S3rver_object, so
tests inspect and damage store objects through those files, as they do with a local store.
The s3_* tests only run with --store s3.
"""
import hashlib
import json
import os
import random
import re
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time

BINARY = None
TESTS = {}  # name -> (function, the stores it runs with)
STORE_KINDS = ("local", "s3")
STORE_KIND = "local"

PASSWORD = "correct horse battery staple"
HOST = "itest-host"
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
NOBODY = 65534


class TestFailure(Exception):
    pass


class Skip(Exception):
    """A test that cannot run here (a missing tool, no right to mount): reported as skipped."""


SKIP_RETURN_CODE = 77  # tests/CMakeLists.txt gives it to CTest


def test(fn=None, *, stores=STORE_KINDS):
    """Registers a test; @test runs with every store, @test(stores=("s3",)) only with those."""
    def register(f):
        TESTS[f.__name__] = (f, tuple(stores))
        return f
    return register(fn) if fn is not None else register


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def clip(text, limit=1500):
    if len(text) <= limit:
        return text
    half = limit // 2
    return text[:half] + f"\n... [{len(text) - limit} characters left out] ...\n" + text[-half:]


def show(p):
    """A short printable form of a (bytes) path."""
    if isinstance(p, bytes):
        p = os.fsdecode(p)
    r = repr(p)
    return r if len(r) <= 160 else r[:70] + "..." + r[-70:]


# ---------------------------------------------------------------------------- files

def write(path, data, mode=0o644, mtime_ns=None):
    if isinstance(data, str):
        data = data.encode()
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))


def set_mtime(path, ns):
    os.utime(path, ns=(ns, ns), follow_symlinks=False)


def mkdirs(*parts):
    p = os.path.join(*parts)
    os.makedirs(p, exist_ok=True)
    return p


def file_sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def snapshot(root):
    """Maps each path below root (bytes, relative; b"" is root itself) to what a restore must
    reproduce: type, mode bits, mtime in ns, and the content hash or the link target."""
    root = os.fsencode(root)
    out = {}

    def visit(path, rel):
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            out[rel] = ("link", os.readlink(path), st.st_mtime_ns)
        elif stat.S_ISDIR(st.st_mode):
            out[rel] = ("dir", stat.S_IMODE(st.st_mode), st.st_mtime_ns)
            for name in sorted(os.listdir(path)):
                visit(path + b"/" + name, rel + b"/" + name if rel else name)
        elif stat.S_ISREG(st.st_mode):
            out[rel] = ("file", stat.S_IMODE(st.st_mode), st.st_mtime_ns, st.st_size, file_sha(path))
        else:
            out[rel] = ("other", stat.S_IFMT(st.st_mode))

    visit(root, b"")
    return out


def describe_entry(e):
    if e is None:
        return "absent"
    if e[0] == "file":
        return f"file mode={oct(e[1])} mtime_ns={e[2]} size={e[3]} sha256={e[4][:12]}"
    if e[0] == "dir":
        return f"dir mode={oct(e[1])} mtime_ns={e[2]}"
    if e[0] == "link":
        return f"symlink -> {show(e[1])} mtime_ns={e[2]}"
    return f"other {e}"


def compare_trees(expected, actual, what):
    problems = []
    for k in sorted(set(expected) | set(actual)):
        e, a = expected.get(k), actual.get(k)
        if e != a:
            problems.append(f"  {show(k) if k else '(top directory)'}: expected {describe_entry(e)}, got {describe_entry(a)}")
    if problems:
        n = len(problems)
        raise TestFailure(f"{what}: {n} differences\n" + "\n".join(problems[:12]) + ("\n  ..." if n > 12 else ""))


def dir_listing(root):
    """Every file below root with its size and SHA-256, and every directory."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        out[("dir", rel)] = None
        for f in filenames:
            p = os.path.join(dirpath, f)
            out[("file", os.path.join(rel, f))] = (os.path.getsize(p), file_sha(p))
    return out


def compare_listings(before, after, what):
    if before == after:
        return
    lines = []
    for k in sorted(set(before) | set(after)):
        if before.get(k, "absent") != after.get(k, "absent"):
            lines.append(f"  {k[0]} {k[1]}: before {before.get(k, 'absent')}, after {after.get(k, 'absent')}")
    raise TestFailure(f"{what}: the store changed\n" + "\n".join(lines[:12]))


# ---------------------------------------------------------------------------- stores
#
# A test sees its store through one of these: the same questions (which containers, which
# objects with which bytes, is a lock held) answered for a local directory or for a bucket of
# the S3 test server. Object keys are the store's names: seshat/config, seshat/keys/<id>,
# seshat/db/<generation>, seshat/locks/..., containers/SEF_...

class LocalStore:
    kind = "local"

    def __init__(self, path):
        self.path = path

    def select_commands(self):
        """The commands that point Seshat at this store, one a list."""
        return [["STORE", "LOCAL", self.path]]

    def object_file(self, key):
        """The file that holds the bytes of object `key` (to read or damage it)."""
        return os.path.join(self.path, *key.split("/"))

    def objects(self, prefix=""):
        """Maps every object key starting with prefix to the file holding it."""
        out = {}
        for dirpath, _, filenames in os.walk(self.path):
            for f in filenames:
                p = os.path.join(dirpath, f)
                key = os.path.relpath(p, self.path)
                if key.startswith(prefix):
                    out[key] = p
        return out

    def listing(self):
        return dir_listing(self.path)

    def lock_keys(self):
        d = os.path.join(self.path, "seshat", "locks")
        return sorted("seshat/locks/" + f for f in os.listdir(d)) if os.path.isdir(d) else []

    def lock_key(self, ident):
        return "seshat/locks/lock"  # one record, created with link()

    def queue_keys(self):
        d = os.path.join(self.path, "seshat", "queue")
        return sorted("seshat/queue/" + f for f in os.listdir(d) if not f.startswith(".")) if os.path.isdir(d) else []

    def scan_root(self):
        """The directory whose every file and name makes up the store."""
        return self.path

    def is_empty(self):
        return not os.path.isdir(self.path) or os.listdir(self.path) == []

    def describe_contents(self):
        return os.listdir(self.path) if os.path.isdir(self.path) else []

    def clear(self):
        shutil.rmtree(self.path)
        os.mkdir(self.path)

    def write_object(self, key, data):
        p = self.object_file(key)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        write(p, data)

    # Common to both kinds.
    def containers(self):
        return sorted(k.split("/", 1)[1] for k in self.objects("containers/") if k.startswith("containers/SEF_"))

    def container_file(self, name):
        return self.object_file("containers/" + name)

    def size(self):
        return sum(os.path.getsize(p) for p in self.objects().values())


S3RVER_OBJECT = "._S3rver_object"
S3RVER_UPLOADS = "._S3rver_uploads"  # multipart uploads in progress, per bucket
S3_KEY = "S3RVER"  # access key and secret of the test server
BUCKET = "seshat-it"
SPARE_BUCKET = "seshat-it-spare"  # an empty second bucket (creating a repository in it)
SERVER_JS = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "s3server", "server.js")


class S3Store(LocalStore):
    """A bucket of the S3 test server, read through the server's files."""
    kind = "s3"

    def __init__(self, server, bucket):
        self.server, self.bucket = server, bucket
        self.path = os.path.join(server.data, bucket)

    def select_commands(self):
        return [["S3", "ENDPOINT", self.server.url], ["S3", "BUCKET", self.bucket]]

    def object_file(self, key):
        parts = key.split("/")
        return os.path.join(self.path, *parts[:-1], parts[-1] + S3RVER_OBJECT)

    def objects(self, prefix=""):
        out = {}
        for dirpath, dirnames, filenames in os.walk(self.path):
            if dirpath == self.path and S3RVER_UPLOADS in dirnames:
                dirnames.remove(S3RVER_UPLOADS)
            for f in filenames:
                if f.endswith(S3RVER_OBJECT):
                    p = os.path.join(dirpath, f)
                    key = os.path.relpath(p, self.path)[:-len(S3RVER_OBJECT)]
                    if key.startswith(prefix):
                        out[key] = p
        return out

    def listing(self):
        """Every object with its size and SHA-256, and every file of an unfinished multipart
        upload (a started upload is a write too)."""
        out = {("object", k): (os.path.getsize(p), file_sha(p)) for k, p in self.objects().items()}
        up = os.path.join(self.path, S3RVER_UPLOADS)
        for k, v in (dir_listing(up).items() if os.path.isdir(up) else ()):
            out[("upload " + k[0], k[1])] = v
        return out

    def lock_keys(self):
        return sorted(self.objects("seshat/locks/"))

    def lock_key(self, ident):
        return "seshat/locks/" + ident  # one record per contender, found by listing

    def queue_keys(self):
        return sorted(self.objects("seshat/queue/"))

    def describe_contents(self):
        return sorted(self.objects()) + ([S3RVER_UPLOADS] if os.path.isdir(os.path.join(self.path, S3RVER_UPLOADS)) else [])

    def clear(self):
        for name in os.listdir(self.path):  # the bucket stays
            p = os.path.join(self.path, name)
            shutil.rmtree(p) if os.path.isdir(p) else os.unlink(p)

    def write_object(self, key, data):
        p = self.object_file(key)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        write(p, data)
        write(p + ".md5", hashlib.md5(data.encode() if isinstance(data, str) else data).hexdigest())


class S3Server:
    """The S3 test server (tests/s3server/server.js) in a process group of its own."""

    def __init__(self, data, buckets, log_path):
        self.data, self.buckets, self.log_path = data, list(buckets), log_path
        self.proc = None
        self.port = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, n=2000):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")[-n:]
        except OSError:
            return ""

    def start(self, port=0, timeout=30):
        node = shutil.which("node")
        if not node:
            raise TestFailure("node is not installed: the S3 test server cannot run (tools/setup.sh installs it)")
        if not os.path.isdir(os.path.join(os.path.dirname(SERVER_JS), "node_modules", "@20minutes", "s3rver")):
            raise TestFailure("tests/s3server/node_modules lacks @20minutes/s3rver (npm ci in tests/s3server)")
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env["NODE_OPTIONS"] = "--openssl-legacy-provider"
        # If this script dies (even by SIGKILL) the server goes with it: no orphans.
        wrap = ["setpriv", "--pdeathsig", "KILL", "--"] if shutil.which("setpriv") else []
        deadline = time.monotonic() + timeout
        while True:
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(wrap + [node, SERVER_JS, self.data, str(port)] + self.buckets, env=env,
                                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
                                             start_new_session=True)
            got = self._read_port(deadline)
            if got:
                self.port = got
                return
            self.stop(signal.SIGKILL)
            if port and "EADDRINUSE" in self.log_tail() and time.monotonic() < deadline:
                time.sleep(0.3)  # the old server's port is not free yet
                continue
            raise TestFailure(f"the S3 test server did not start (port {port or 'any'})\n--- its log ---\n"
                              f"{self.log_tail()}")

    def _read_port(self, deadline):
        buf = b""
        fd = self.proc.stdout.fileno()
        while time.monotonic() < deadline:
            m = re.search(rb"PORT (\d+)\n", buf)
            if m:
                return int(m.group(1))
            r, _, _ = select.select([fd], [], [], 0.2)
            if r:
                chunk = os.read(fd, 4096)
                if not chunk:
                    return None
                buf += chunk
            elif self.proc.poll() is not None:
                return None
        return None

    def stop(self, sig=signal.SIGTERM):
        p, self.proc = self.proc, None
        if p is None:
            return
        if p.poll() is None:
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
        if p.stdout:
            p.stdout.close()


def sleep_until(t):
    d = t - time.time()
    if d > 0:
        time.sleep(d)


# ---------------------------------------------------------------------------- running Seshat

class Result:
    def __init__(self, args, rc, out, err, elapsed):
        self.args, self.rc, self.out, self.err, self.elapsed = args, rc, out, err, elapsed

    def text(self):
        return self.out + self.err

    def summary(self):
        cmd = " ".join(show(a) if isinstance(a, bytes) else str(a) for a in self.args)
        return (f"command: seshat {clip(cmd, 400)}\nexit status: {self.rc}\n--- stdout ---\n{clip(self.out)}"
                f"\n--- stderr ---\n{clip(self.err)}")

    def warns(self):
        return [l for l in self.text().splitlines() if " WARN - " in l]

    def errors(self):
        return [l for l in self.text().splitlines() if " ERROR - " in l]


class Env:
    """One test's private world: a temporary base directory with HOME and the store in it
    (with --store s3: the S3 test server's data directory, the server started by start())."""

    def __init__(self, name, store_kind="local"):
        self.base = tempfile.mkdtemp(prefix=f"seshat-it-{name}-")
        self.home = mkdirs(self.base, "home")
        self.store_kind = store_kind
        self.store = None
        self.server = None
        self.procs = []  # seshat processes started with popen(), ended at cleanup
        self.binary = BINARY
        # Nothing of the caller's AWS setup (profiles, keys, CA bundle) leaks into a test.
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("SESHAT_", "AWS_"))}
        self.env.update({
            "HOME": self.home,
            "SESHAT_PASSWORD": PASSWORD,
            "SESHAT_KDF_MEMLIMIT": "8388608",
            "SESHAT_KDF_OPSLIMIT": "1",
            "SESHAT_HOSTNAME": HOST,
        })
        if store_kind == "s3":
            self.env.update({"AWS_ACCESS_KEY_ID": S3_KEY, "AWS_SECRET_ACCESS_KEY": S3_KEY})
        self.last = None
        self.restored_parent_modes = []

    def start(self):
        if self.store_kind == "s3":
            self.server = S3Server(mkdirs(self.base, "s3data"), [BUCKET, SPARE_BUCKET],
                                   os.path.join(self.base, "s3server.log"))
            self.server.start()
            self.store = S3Store(self.server, BUCKET)
        else:
            self.store = LocalStore(mkdirs(self.base, "store"))

    def spare_store(self):
        """A second, empty store."""
        if self.store_kind == "s3":
            return S3Store(self.server, SPARE_BUCKET)
        return LocalStore(mkdirs(self.base, "store2"))

    def store_tokens(self, store=None):
        """The tokens that point Seshat at the store (STORE LOCAL <dir>, or S3 ENDPOINT/BUCKET)."""
        return [t for cmd in (store or self.store).select_commands() for t in cmd]

    def stop_processes(self):
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
        self.procs = []

    def cleanup(self):
        self.stop_processes()
        if self.server:
            self.server.stop()
        if getattr(self, "unmount", None):  # a loop-mounted image a test made (test_fidelity.py)
            subprocess.run(["umount", "-l", self.unmount], capture_output=True)
        for p, m in reversed(self.restored_parent_modes):
            try:
                os.chmod(p, m)
            except OSError:
                pass

        def onerror(func, path, exc):
            try:
                os.chmod(os.path.dirname(path), 0o700)
                os.chmod(path, 0o700)
            except OSError:
                pass
            try:
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    os.unlink(path)
            except OSError:
                pass

        shutil.rmtree(self.base, onerror=onerror)

    def run_env(self, extra_env=None, unset=()):
        env = dict(self.env)
        env.update(extra_env or {})
        for k in unset:
            env.pop(k, None)
        return env

    def popen(self, tokens, extra_env=None, unset=(), exit=True):
        """Starts seshat in the background, stdout and stderr merged into one pipe."""
        p = subprocess.Popen([self.binary] + list(tokens) + (["EXIT"] if exit else []),
                             env=self.run_env(extra_env, unset), stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(p)
        return p

    def on_terminal(self, steps, extra_env=None, unset=(), timeout=60):
        """Runs seshat interactively on a pseudo-terminal that is its controlling terminal, as
        a user at the prompt would. steps, in order: a command line (sent once the prompt is
        back), (line, check) where check(output so far) runs once the prompt is back after that
        line, ("expect", text) to wait for text, ("send", bytes) to type raw bytes (b"\\x03" is
        Ctrl-C). Returns (exit status, the whole output); self.terminal_echo says whether the
        terminal echoes again after seshat ended."""
        import fcntl
        import pty
        import termios
        master, slave = pty.openpty()

        def take_terminal():
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        p = subprocess.Popen([self.binary], env=self.run_env(extra_env, unset), stdin=slave, stdout=slave,
                             stderr=slave, preexec_fn=take_terminal)
        self.procs.append(p)
        out = b""

        def read_until(pred):
            nonlocal out
            deadline = time.monotonic() + timeout
            while not pred(out):
                if time.monotonic() > deadline:
                    raise TestFailure(f"seshat on a terminal did not answer in {timeout} s\n{clip(out.decode(errors='replace'))}")
                r, _, _ = select.select([master], [], [], 0.2)
                if r:
                    try:
                        chunk = os.read(master, 65536)
                    except OSError:  # EIO: the other side is closed
                        return
                    if not chunk:
                        return
                    out += chunk
                elif p.poll() is not None and pred is not None:
                    return
        try:
            lines = 0  # the n-th prompt comes before the n-th command line
            for step in steps:
                if isinstance(step, tuple) and step[0] == "expect":
                    read_until(lambda o: step[1].encode() in o)
                    continue
                if isinstance(step, tuple) and step[0] == "send":
                    os.write(master, step[1])
                    continue
                line, after = (step, None) if isinstance(step, str) else step
                read_until(lambda o: o.count(b"Seshat>") >= lines + 1)
                os.write(master, line.encode() + b"\n")
                lines += 1
                if after:
                    read_until(lambda o: o.count(b"Seshat>") >= lines + 1)
                    after(out.decode(errors="replace"))
            read_until(lambda o: p.poll() is not None)
            rc = p.wait(timeout)
            self.terminal_echo = bool(termios.tcgetattr(slave)[3] & termios.ECHO)
        finally:
            os.close(master)
            os.close(slave)
        return rc, out.decode(errors="replace")

    def run(self, *tokens, rc=0, exit=True, extra_env=None, unset=(), input=None, timeout=60, prefix=(),
            check_lock=True):
        tokens = list(tokens) + (["EXIT"] if exit else [])
        env = self.run_env(extra_env, unset)
        cmd = list(prefix) + [self.binary] + tokens
        t0 = time.monotonic()
        try:
            p = subprocess.run(cmd, env=env, input=input.encode() if isinstance(input, str) else input,
                               stdin=None if input is not None else subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                               start_new_session=True)
        except subprocess.TimeoutExpired as e:
            out = (e.stdout or b"").decode(errors="replace")
            raise TestFailure(f"seshat {' '.join(map(str, tokens))[:300]} did not finish in {timeout} s "
                              f"(hung?)\n--- stdout ---\n{clip(out)}")
        r = Result(tokens, p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"),
                   time.monotonic() - t0)
        self.last = r
        if rc == "nonzero":
            check(r.rc != 0, f"expected a non-zero exit status\n{r.summary()}")
        elif rc is not None:
            check(r.rc == rc, f"expected exit status {rc}, got {r.rc}\n{r.summary()}")
        if check_lock and r.rc == 0:
            left = self.store.lock_keys()
            check(not left, f"the DB lock was left behind after a successful run: {left}\n{r.summary()}")
        return r

    def first_backup(self, folder, *before, **kw):
        return self.run(*self.store_tokens(), *before, "BACKUP", folder, **kw)

    def backup(self, folder, *before, **kw):
        return self.run(*before, "BACKUP", folder, **kw)

    def restore(self, target, number=None, folder=None, timestamp=None, before=(), **kw):
        toks = list(before)
        if number is not None:
            toks += ["SELECT", "BACKUP", str(number)]
        if folder is not None:
            toks += ["SELECT", "FOLDER", folder]
        toks += ["RESTORE", "ADD", "TREE"]
        if timestamp is not None:
            toks += ["RESTORE", "TIMESTAMP", *timestamp]
        toks += ["RESTORE", "TARGET", target, "RESTORE", "GO"]
        return self.run(*toks, **kw)

    def new_target(self, name):
        return tempfile.mkdtemp(prefix=name + "-", dir=self.base)

    def list_backups(self):
        r = self.run("LIST", "BACKUPS", check_lock=False)
        rows = []
        for line in r.out.splitlines():
            m = re.match(r"^\s*(\d+)\s+(\d\d-\w{3}-\d{4} \d\d:\d\d:\d\d)\s+(\S+)\s+(\S+)\s+(\d+)\s", line)
            if m:
                rows.append({"n": int(m.group(1)), "host": m.group(3), "folder": m.group(4),
                             "files": int(m.group(5)), "line": line})
        return rows


def staged_files(staging):
    """The files Seshat stages under SET STAGING <staging>: in its private directory
    seshat-<uid> there (mode 0700), which itself stays."""
    mine = os.path.join(staging, f"seshat-{os.geteuid()}")
    if not os.path.isdir(mine):
        return []
    check(stat.S_IMODE(os.lstat(mine).st_mode) == 0o700, f"the private staging directory {mine} is not mode 0700")
    return os.listdir(mine)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def restored(target, src):
    return target + src


def note(msg):
    print(f"  note: {msg}")
    sys.stdout.flush()


# ---------------------------------------------------------------------------- tests

T1 = 1_600_000_000 * 10**9  # Sep 2020
T2 = 1_650_000_000 * 10**9  # Apr 2022


@test
def backup_restore_two_points(env):
    src = mkdirs(env.base, "src")
    write(f"{src}/a.txt", "alpha\n")
    write(f"{src}/b.txt", "bravo, first version\n")
    write(f"{src}/c.txt", "charlie, deleted later\n")
    write(f"{src}/d.txt", "delta, renamed later\n")
    write(f"{src}/e.sh", "#!/bin/sh\necho echo\n", mode=0o644)
    write(f"{src}/f.txt", "foxtrot, replaced by a symlink later\n", mode=0o600)
    write(f"{src}/same.txt", "same size, same mtime, other bytes: 1\n")
    write(f"{src}/blob.bin", os.urandom(1 << 20), mode=0o640)
    mkdirs(src, "sub", "deep")
    write(f"{src}/sub/g.txt", "golf\n")
    write(f"{src}/sub/deep/h.bin", os.urandom(3000))
    mkdirs(src, "keep")
    write(f"{src}/keep/i.txt", "india, never changes\n", mode=0o444)
    os.symlink("../a.txt", f"{src}/keep/link")
    mkdirs(src, "empty1")
    os.chmod(f"{src}/sub", 0o750)
    mkdirs(src, "was_dir")
    write(f"{src}/was_dir/j.txt", "juliet, in a directory that becomes a file\n")
    write(f"{src}/was_file", "kilo, a file that becomes a directory\n")
    write(f"{src}/setgid.bin", "setgid\n", mode=0o2755)
    mkdirs(src, "sticky")
    os.chmod(f"{src}/sticky", 0o1777)
    # Distinct mtimes, files first, then directories deepest first.
    entries = ["a.txt", "b.txt", "c.txt", "d.txt", "e.sh", "f.txt", "same.txt", "blob.bin", "sub/g.txt",
               "sub/deep/h.bin", "keep/i.txt", "keep/link", "was_dir/j.txt", "was_file", "setgid.bin",
               "sub/deep", "sub", "keep", "empty1", "was_dir", "sticky", ""]
    for i, e in enumerate(entries):
        set_mtime(os.path.join(src, e) if e else src, T1 + i * 1_000_000_007 + 123)
    s1 = snapshot(src)

    env.first_backup(src)

    # The changes.
    write(f"{src}/b.txt", "bravo, the second version is longer\n")
    write(f"{src}/new.txt", "november, added\n")
    os.unlink(f"{src}/c.txt")
    os.rename(f"{src}/d.txt", f"{src}/d2.txt")
    os.chmod(f"{src}/e.sh", 0o755)
    os.unlink(f"{src}/f.txt")
    os.symlink("a.txt", f"{src}/f.txt")
    old = os.stat(f"{src}/same.txt").st_mtime_ns
    write(f"{src}/same.txt", "same size, same mtime, other bytes: 2\n", mtime_ns=old)
    mkdirs(src, "empty2")
    shutil.rmtree(f"{src}/sub")
    shutil.rmtree(f"{src}/was_dir")
    write(f"{src}/was_dir", "juliet is a file now\n")
    os.unlink(f"{src}/was_file")
    mkdirs(src, "was_file")
    write(f"{src}/was_file/k.txt", "kilo is a directory now\n")
    changed = ["b.txt", "new.txt", "d2.txt", "e.sh", "f.txt", "was_dir", "was_file/k.txt", "was_file", "empty2", ""]
    for i, e in enumerate(changed):
        set_mtime(os.path.join(src, e) if e else src, T2 + i * 999_999_937 + 7)
    s2 = snapshot(src)
    check(s1[b"a.txt"] == s2[b"a.txt"] and s1[b""] != s2[b""], "test setup: mtimes not as intended")

    r = env.backup(src)
    check("Found: 0 to backup" not in r.out, f"the second backup found nothing to back up\n{r.summary()}")

    rows = env.list_backups()
    check(len(rows) == 2, f"LIST BACKUPS should show 2 backups, shows {len(rows)}\n{env.last.summary()}")

    t1 = env.new_target("restore1")
    env.restore(t1, number=1)
    compare_trees(s1, snapshot(restored(t1, src)), "restore of backup 1")

    t2 = env.new_target("restore2")
    env.restore(t2, number=2)
    got = snapshot(restored(t2, src))
    for gone in (b"c.txt", b"d.txt", b"sub", b"sub/g.txt", b"sub/deep/h.bin", b"was_dir/j.txt"):
        check(gone not in got, f"restore of backup 2 contains {show(gone)}, deleted before that backup")
    compare_trees(s2, got, "restore of backup 2")


@test
def unchanged_second_backup_writes_no_container(env):
    src = mkdirs(env.base, "src")
    for i in range(20):
        write(f"{src}/f{i:02}.txt", f"file {i}\n" * (i + 1))
    mkdirs(src, "d")
    write(f"{src}/d/x.bin", os.urandom(50000))
    env.first_backup(src)
    before = env.store.containers()
    check(len(before) >= 1, "the first backup wrote no container")
    r = env.backup(src)
    check("No changed files" in r.out, f"the unchanged backup did not say 'No changed files'\n{r.summary()}")
    check(re.search(r"Found: 0 to backup", r.out), f"the unchanged backup found files to back up\n{r.summary()}")
    after = env.store.containers()
    check(before == after, f"the unchanged backup wrote containers: before {before}, after {after}")


@test
def renamed_big_file_not_stored_again(env):
    src = mkdirs(env.base, "src")
    write(f"{src}/big.bin", os.urandom(50 << 20))
    write(f"{src}/small.txt", "small\n")
    env.first_backup(src)
    size1 = env.store.size()
    check(size1 > (50 << 20), f"the store holds {size1} bytes after backing up a 50 MB random file")
    os.rename(f"{src}/big.bin", f"{src}/renamed.bin")
    set_mtime(src, T2)
    snap = snapshot(src)
    env.backup(src)
    grown = env.store.size() - size1
    check(grown < (1 << 20), f"after renaming the 50 MB file the store grew by {grown} bytes (expected < 1 MB)")
    t = env.new_target("restore")
    env.restore(t, number=2)
    compare_trees(snap, snapshot(restored(t, src)), "restore after the rename")


@test
def max_container_size_splits_and_packs(env):
    src = mkdirs(env.base, "src")
    write(f"{src}/big.bin", os.urandom(20 << 20))
    env.first_backup(src, "SET", "MAX", "1", "MB")
    n1 = len(env.store.containers())
    check(n1 >= 10, f"a 20 MB file with SET MAX 1 MB went into {n1} containers (expected >= 10)\n"
                    f"{env.last.summary()}")
    biggest = max(os.path.getsize(env.store.container_file(c)) for c in env.store.containers())
    check(biggest <= (1 << 20) + (256 << 10), f"a container is {biggest} bytes with SET MAX 1 MB")
    snap1 = snapshot(src)
    t1 = env.new_target("restore1")
    env.restore(t1, number=1)
    compare_trees(snap1, snapshot(restored(t1, src)), "restore of the 20 MB file")

    small = mkdirs(src, "small")
    for i in range(2000):
        write(f"{small}/s{i:04}.dat", os.urandom(100))
    r = env.backup(src)  # SET MAX 1 MB is remembered
    new = len(env.store.containers()) - n1
    check(1 <= new <= 3, f"2,000 files of 100 bytes went into {new} new containers (expected 1 to 3)\n{r.summary()}")
    snap2 = snapshot(src)
    t2 = env.new_target("restore2")
    env.restore(t2, number=2)
    compare_trees(snap2, snapshot(restored(t2, src)), "restore of the small files")


@test
def flipped_byte_names_damaged_file(env):
    src = mkdirs(env.base, "src")
    names = [f"part{i}.bin" for i in range(5)]
    for n in names:
        write(f"{src}/{n}", os.urandom(200 << 10))
    snap = snapshot(src)
    env.first_backup(src)
    cs = env.store.containers()
    check(len(cs) == 1, f"expected the 5 files in one container, found {cs}")
    cpath = env.store.container_file(cs[0])  # on S3: the server's file of the object
    size = os.path.getsize(cpath)
    with open(cpath, "r+b") as f:
        f.seek(size // 2)
        b = f.read(1)
        f.seek(size // 2)
        f.write(bytes([b[0] ^ 0x5A]))
    t = env.new_target("restore")
    r = env.restore(t, number=1, rc="nonzero")
    damaged_lines = [l for l in r.err.splitlines() if "ERROR - Not restored:" in l]
    check(len(damaged_lines) == 1, f"expected one 'ERROR - Not restored' line on stderr, got {len(damaged_lines)}\n"
                                   f"{r.summary()}")
    line = damaged_lines[0]
    check("damaged" in line, f"the error line does not say the file is damaged: {line}")
    hit = [n for n in names if f"{src}/{n}" in line]
    check(len(hit) == 1, f"the error line does not name one of the files: {line}")
    bad = hit[0].encode()
    got = snapshot(restored(t, src))
    if bad in got:
        check(got[bad] == snap[bad], f"the damaged file {hit[0]} was restored with wrong content")
        raise TestFailure(f"the damaged file {hit[0]} was reported damaged but restored anyway")
    expected = {k: v for k, v in snap.items() if k != bad}
    compare_trees(expected, got, "restore of the undamaged files")


@test
def wrong_or_missing_passphrase_changes_nothing(env):
    src = mkdirs(env.base, "src")
    write(f"{src}/a.txt", "a\n")
    env.first_backup(src)
    write(f"{src}/b.txt", "b\n")
    before = env.store.listing()
    for cmd in (["BACKUP", src], ["LIST", "BACKUPS"]):
        r = env.run(*cmd, rc=1, extra_env={"SESHAT_PASSWORD": "not the passphrase"})
        lines = [l for l in r.err.splitlines() if l.strip()]
        check(len(lines) == 1, f"a wrong passphrase should give one line on stderr, got {len(lines)}\n{r.summary()}")
        check("ERROR" in lines[0] and "passphrase" in lines[0].lower(),
              f"the wrong-passphrase line does not say so clearly: {lines[0]}")
        check("Starting File walk" not in r.out, f"a backup started with a wrong passphrase\n{r.summary()}")
        compare_listings(before, env.store.listing(), f"after {' '.join(cmd[:1])} with a wrong passphrase")

    r = env.run("BACKUP", src, rc="nonzero", unset=("SESHAT_PASSWORD", "SESHAT_PASSWORD_FILE"))
    check("passphrase" in r.err.lower(), f"running without a passphrase gives no clear error\n{r.summary()}")
    check(len(r.errors()) >= 1, f"no ERROR line without a passphrase\n{r.summary()}")
    compare_listings(before, env.store.listing(), "after BACKUP without a passphrase")

    # Creating a repository without a passphrase fails and creates nothing.
    empty_store = env.spare_store()
    r = env.run(*env.store_tokens(empty_store), "BACKUP", src, rc="nonzero",
                unset=("SESHAT_PASSWORD", "SESHAT_PASSWORD_FILE"))
    check("passphrase" in r.err.lower(), f"creating a repository without a passphrase: no clear error\n{r.summary()}")
    check(empty_store.is_empty(), f"the empty store got files without a passphrase: {empty_store.describe_contents()}")


@test
def unreadable_file_and_directory_warn(env):
    if os.geteuid() != 0:
        raise Skip("needs root to run Seshat as user nobody")
    if not shutil.which("setpriv"):
        raise Skip("setpriv is not installed")
    # Everything nobody needs must be reachable: the base and its parents.
    p = env.base
    while True:
        p = os.path.dirname(p)
        m = stat.S_IMODE(os.stat(p).st_mode)
        if not m & 0o001:
            env.restored_parent_modes.append((p, m))
            os.chmod(p, m | 0o001)
        if p == "/":
            break
    os.chmod(env.base, 0o777)
    bindir = mkdirs(env.base, "bin")
    os.chmod(bindir, 0o777)
    binary = os.path.join(bindir, "seshat")
    shutil.copy2(BINARY, binary)
    os.chmod(binary, 0o755)
    for d in [env.home] + ([env.store.path] if env.store_kind == "local" else []):
        os.chmod(d, 0o777)
        os.chown(d, NOBODY, NOBODY)

    src = mkdirs(env.base, "src")
    os.chmod(src, 0o755)
    write(f"{src}/ok.txt", "readable\n")
    write(f"{src}/secret.txt", "nobody may read this\n")
    mkdirs(src, "pub", "inner")
    write(f"{src}/pub/p.txt", "public\n")
    write(f"{src}/pub/inner/q.bin", os.urandom(10000))
    mkdirs(src, "closed", "deeper")
    write(f"{src}/closed/hidden.txt", "in a closed directory\n")
    write(f"{src}/closed/deeper/x.txt", "deeper\n")
    for d in (f"{src}/pub", f"{src}/pub/inner", f"{src}/closed/deeper"):
        os.chmod(d, 0o755)
    os.chmod(f"{src}/secret.txt", 0o000)
    os.chmod(f"{src}/closed", 0o000)
    snap = snapshot(src)

    env.binary = binary
    as_nobody = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    r = env.first_backup(src, rc=3, prefix=as_nobody)
    fw = [l for l in r.warns() if f"File not backed up: {src}/secret.txt (Permission denied)" in l]
    dw = [l for l in r.warns() if f"Directory not backed up: {src}/closed (Permission denied)" in l]
    check(fw, f"no 'WARN - File not backed up: {src}/secret.txt (Permission denied)' line\n{r.summary()}")
    check(dw, f"no 'WARN - Directory not backed up: {src}/closed (Permission denied)' line\n{r.summary()}")

    t = env.new_target("restore")
    env.binary = BINARY
    env.restore(t, number=1)  # as root
    got = snapshot(restored(t, src))
    expected = {k: v for k, v in snap.items() if k != b"secret.txt" and not k.startswith(b"closed")}
    check(b"secret.txt" not in got, "the unreadable file appears in the restore")
    inside = [k for k in got if k.startswith(b"closed/")]
    check(not inside, f"the unreadable directory's contents appear in the restore: {inside[:5]}")
    got.pop(b"closed", None)  # the closed directory itself may be recorded (empty) or not
    compare_trees(expected, got, "restore of what nobody could read")


@test
def unusual_file_names_round_trip(env):
    src = mkdirs(env.base, "src")
    bsrc = os.fsencode(src)
    names = [b"with space.txt", b"  lead and trail  ", b"new\nline.txt", b"tab\there", b"latin1-\xe9\xff.bin",
             b"q\"uote's\\back.txt", b"*?[glob]{x}", b"-dash", "ünïcødé-文字.txt".encode(), b"\x01ctrl"]
    for i, n in enumerate(names):
        write(bsrc + b"/" + n, b"content of name %d\n" % i + os.urandom(i * 100))
    d = bsrc + b"/dir with\nnewline \xfe"
    os.mkdir(d)
    write(d + b"/inner \xc3(.txt", b"inner\n")
    # A path longer than 1,000 bytes: nested directories with 200-byte names.
    p = bsrc
    for i in range(6):
        p = p + b"/" + (b"%d" % i) * 1 + b"n" * 199
        os.mkdir(p)
    longfile = p + b"/" + b"f" * 200
    write(longfile, b"at the end of a long path\n")
    check(len(longfile) > 1200, "test setup: the long path is not long")
    snap = snapshot(src)
    env.first_backup(src)
    t = env.new_target("restore")
    env.restore(t, number=1)
    compare_trees(snap, snapshot(restored(t, src)), "restore of unusual names")


@test
def no_plaintext_in_store(env):
    marker = "SESHAT-PLAINTEXT-MARKER-" + os.urandom(8).hex()
    src = mkdirs(env.base, "src")
    write(f"{src}/doc.txt", (f"line with {marker} in it\n" * 2000).encode())
    write(f"{src}/rand-{marker}.bin", os.urandom(1000) + marker.encode() + os.urandom(1000))
    mkdirs(src, f"dir-{marker}")
    write(f"{src}/dir-{marker}/x.txt", "x\n")
    os.symlink(f"target-{marker}", f"{src}/link")
    env.first_backup(src)
    write(f"{src}/second-{marker}.txt", marker)
    env.backup(src)
    needle = marker.encode()
    needle16 = marker.encode("utf-16-le")
    hits = []
    root = env.store.scan_root()  # on S3: the server's bucket directory (keys are file names)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            if marker in name:
                hits.append(f"name {os.path.join(dirpath, name)}")
        for f in filenames:
            with open(os.path.join(dirpath, f), "rb") as fh:
                data = fh.read()
            if needle in data or needle16 in data:
                hits.append(f"content of {os.path.relpath(os.path.join(dirpath, f), root)}")
    check(not hits, "the marker is readable in the store:\n  " + "\n  ".join(hits[:10]))


def run_and_kill(env, tokens, trigger=None, count=1, delay=0.0, timeout=30):
    """Starts seshat, waits for `count` stdout lines containing `trigger` (if any) and then
    `delay` seconds, and kills it with SIGKILL. Returns (killed, returncode, output)."""
    p = env.popen(tokens)
    lines = []
    hit = threading.Event()
    seen = [0]

    def reader():
        for raw in p.stdout:
            line = raw.decode(errors="replace")
            lines.append(line)
            if trigger and trigger in line:
                seen[0] += 1
                if seen[0] >= count:
                    hit.set()
        hit.set()

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    if trigger:
        hit.wait(timeout)
    time.sleep(delay)
    killed = p.poll() is None
    if killed:
        os.kill(p.pid, signal.SIGKILL)
    p.wait()  # reap it: the next run must see that the lock holder's pid is gone
    th.join(5)
    return killed, p.returncode, "".join(lines)


@test
def sigkill_during_backup_recovers(env):
    src = mkdirs(env.base, "src")
    for d in range(8):
        sub = mkdirs(src, f"d{d}")
        for i in range(50):
            write(f"{sub}/f{i:02}.bin", os.urandom(500 << 10))
    env.run(*env.store_tokens(), "SET", "MAX", "16", "MB", "INITIALIZE")
    snap = snapshot(src)

    # Kills at log lines come first: they always land while the backup runs (200 MB make
    # more than a dozen 16 MB containers). Then kills after a fixed delay.
    attempts = [("right after the first checkpoint", "Container is full", 1, 0.0),
                ("after the 3rd full container", "Container is full", 3, 0.05),
                ("0.3 s after the start", None, 1, 0.3),
                ("0.8 s after the start", None, 1, 0.8)]
    killed_any = False
    notes = []
    prev_killed = False
    held = False  # a stale lock is left that the next run must take over (with a WARN)
    for what, trig, count, delay in attempts:
        killed, rc, out = run_and_kill(env, ["BACKUP", src], trig, count, delay)
        if prev_killed:
            check("locked by" not in out, f"the run after a SIGKILL did not take over the dead process's lock\n"
                                          f"{clip(out)}")
        acquired = "DB Lock acquired" in out
        if held and (acquired or not killed):  # (a run killed before it got to the lock cannot warn)
            check("Taking over a stale DB lock" in out,
                  f"the run after a SIGKILL did not warn that it took over the stale lock\n{clip(out)}")
        if killed and not acquired:
            # Killed before it had the lock (likely on a loaded machine, where opening the
            # store takes longer): a stale lock the next run must take over is still there,
            # unless this run got as far as taking it over (then it is uncertain).
            held = held and "Taking over a stale DB lock" not in out
        else:
            held = killed and "complete:" not in out
        if killed:
            killed_any = True
            notes.append(f"killed {what}")
        else:
            check(rc == 0, f"the backup ({what}) failed before it could be killed: exit {rc}\n{clip(out)}")
            notes.append(f"finished before the kill {what}")
        prev_killed = killed
    note("; ".join(notes))
    check(killed_any, "no backup could be killed while running (all finished too fast): " + "; ".join(notes))

    r = env.backup(src, timeout=120)
    note(f"recovery backup took {r.elapsed:.1f} s; {len(env.store.containers())} containers in the store; "
         f"warnings: {[l.split(' - ', 1)[1][:80] for l in r.warns()][:3]}")
    if prev_killed:
        check("locked by" not in r.text(), f"the lock of the killed process was not taken over\n{r.summary()}")
    if held:
        check(any("Taking over a stale DB lock" in l for l in r.warns()),
              f"the recovery backup did not warn that it took over the stale lock\n{r.summary()}")
    t = env.new_target("restore")
    env.restore(t, folder=src, timeout=120)
    compare_trees(snap, snapshot(restored(t, src)), "restore after backups killed with SIGKILL (" + "; ".join(notes) + ")")
    r = env.backup(src)
    check("Found: 0 to backup" in r.out, f"after the recovery backup, another backup still finds files\n{r.summary()}")
    rows = env.list_backups()
    check(rows and "(incomplete)" not in rows[-1]["line"],
          f"the newest backup is not shown as complete in LIST BACKUPS\n{env.last.summary()}")


@test
def exclude_include_hidden(env):
    src = mkdirs(env.base, "src")
    write(f"{src}/a.txt", "a\n")
    write(f"{src}/big.iso", os.urandom(1000))
    write(f"{src}/keep.iso", "kept by INCLUDE\n")
    mkdirs(src, "sub")
    write(f"{src}/sub/c.iso", "excluded\n")
    write(f"{src}/sub/d.txt", "d\n")
    write(f"{src}/sub/.x", "hidden\n")
    write(f"{src}/.hidden.txt", "hidden\n")
    mkdirs(src, ".hdir")
    write(f"{src}/.hdir/e.txt", "in a hidden dir\n")
    write(f"{src}/iso.txt.bak", "not .iso at the end\n")
    full = snapshot(src)
    r = env.first_backup(src, "EXCLUDE", r"\.iso$", "INCLUDE", r"keep\.iso$", "SET", "HIDDEN", "NO")
    for p in ("big.iso", "sub/c.iso", ".hidden.txt", ".hdir", "sub/.x"):
        check(any(f"Ignoring {src}/{p}" in l for l in r.warns()),
              f"no 'WARN - Ignoring {src}/{p}' line\n{r.summary()}")
    check(not any("keep.iso" in l for l in r.warns()), f"keep.iso was ignored despite INCLUDE\n{r.summary()}")
    t = env.new_target("restore1")
    env.restore(t, number=1)
    want = {b"", b"a.txt", b"keep.iso", b"sub", b"sub/d.txt", b"iso.txt.bak"}
    compare_trees({k: v for k, v in full.items() if k in want}, snapshot(restored(t, src)),
                  "restore with EXCLUDE/INCLUDE/HIDDEN NO")

    # The settings are remembered by the next run.
    write(f"{src}/new.iso", "new\n")
    r = env.backup(src)
    check(any(f"Ignoring {src}/new.iso" in l for l in r.warns()),
          f"the remembered EXCLUDE did not apply to new.iso in the next run\n{r.summary()}")

    # Reset: everything is backed up again.
    r = env.backup(src, "EXCLUDE", "RESET", "INCLUDE", "RESET", "SET", "HIDDEN", "YES")
    check(not any("Ignoring" in l for l in r.warns()), f"files still ignored after the resets\n{r.summary()}")
    full = snapshot(src)
    t = env.new_target("restore3")
    env.restore(t, number=3)
    compare_trees(full, snapshot(restored(t, src)), "restore after EXCLUDE RESET / INCLUDE RESET / HIDDEN YES")


@test
def symlinks_stored_and_followed(env):
    outside = mkdirs(env.base, "outside")
    write(f"{outside}/o1.txt", "outside 1\n")
    mkdirs(outside, "od")
    write(f"{outside}/od/o2.bin", os.urandom(5000))
    set_mtime(f"{outside}/od", T1)
    set_mtime(outside, T1 + 5)

    src = mkdirs(env.base, "src")
    write(f"{src}/file.txt", "file\n")
    os.symlink("file.txt", f"{src}/rel_link")
    os.symlink(f"{outside}/o1.txt", f"{src}/abs_link")
    os.symlink("does/not/exist", f"{src}/dangling")
    os.symlink(outside, f"{src}/dir_link")
    mkdirs(src, "sub")
    os.symlink("..", f"{src}/sub/up")
    set_mtime(f"{src}/rel_link", T1 + 1)
    set_mtime(f"{src}/dangling", T1 + 2)
    snap = snapshot(src)
    env.first_backup(src)
    t = env.new_target("restore1")
    env.restore(t, number=1)
    compare_trees(snap, snapshot(restored(t, src)), "restore of symlinks stored as links")

    # Following links: a linked directory is backed up as a directory, a loop ends.
    src2 = mkdirs(env.base, "src2")
    write(f"{src2}/f.txt", "f\n")
    os.symlink(outside, f"{src2}/linked")
    mkdirs(src2, "a", "b")
    os.symlink("../..", f"{src2}/a/b/loop")
    os.symlink(src2, f"{src2}/a/self")
    os.symlink("nowhere", f"{src2}/dangling")
    os.symlink(f"{outside}/o1.txt", f"{src2}/file_link")  # a link to a file is followed too
    r = env.first_backup(src2, "SET", "SYMLINKS", "YES", rc=None, timeout=30)
    check(r.rc in (0, 3), f"the backup following symlinks failed\n{r.summary()}")
    check(not any("file_link" in w for w in r.warns()), f"a followed link to a file was not backed up\n{r.summary()}")
    loops = [l for l in r.warns() if "loop" in l.lower()]
    check(len(loops) >= 2, f"expected warnings for the two loops (a/b/loop, a/self)\n{r.summary()}")
    t = env.new_target("restore2")
    env.restore(t, folder=src2)
    got = snapshot(restored(t, src2))
    check(len(got) < 40, f"the restore of a tree with a symlink loop has {len(got)} entries")
    check(got.get(b"linked", ("?",))[0] == "dir", f"the linked directory was not followed: {describe_entry(got.get(b'linked'))}")
    out_snap = snapshot(outside)
    for k, v in out_snap.items():
        if not k:
            continue
        check(got.get(b"linked/" + k) == v,
              f"followed directory: linked/{show(k)} expected {describe_entry(v)}, got {describe_entry(got.get(b'linked/' + k))}")
    check(got.get(b"f.txt", ("?",))[0] == "file", "f.txt missing from the restore")
    check(read_bytes(f"{restored(t, src2)}/file_link") == b"outside 1\n" and not os.path.islink(f"{restored(t, src2)}/file_link"),
          "SET SYMLINKS YES: the link to a file did not come back as the file it points to")
    check(got.get(b"dangling") == ("link", b"nowhere", os.lstat(f"{src2}/dangling").st_mtime_ns),
          f"a dangling link with SYMLINKS YES: expected a link to 'nowhere', got {describe_entry(got.get(b'dangling'))}")


@test
def fifo_backed_up_and_restored(env):
    """A FIFO is backed up (no WARN, exit 0) and comes back as a FIFO; the walk never opens it."""
    src = mkdirs(env.base, "src")
    write(f"{src}/a.txt", "a\n")
    os.mkfifo(f"{src}/pipe", 0o640)
    mkdirs(src, "d")
    write(f"{src}/d/b.txt", "b\n")
    snap = snapshot(src)
    r = env.first_backup(src, timeout=30)
    check(not r.warns(), f"the backup of a tree with a FIFO WARNed\n{r.summary()}")
    t = env.new_target("restore")
    env.restore(t, number=1, timeout=30)
    compare_trees(snap, snapshot(restored(t, src)), "restore of a tree with a FIFO")
    st = os.lstat(f"{restored(t, src)}/pipe")
    check(stat.S_ISFIFO(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o640, "the FIFO came back wrong")


def stamp(t):
    lt = time.localtime(t)
    return (f"{lt.tm_mday:02d}-{MONTHS[lt.tm_mon - 1]}-{lt.tm_year:04d}",
            f"{lt.tm_hour:02d}:{lt.tm_min:02d}:{lt.tm_sec:02d}")


@test
def restore_timestamp_picks_backup(env):
    src = mkdirs(env.base, "src")
    write(f"{src}/a.txt", "first\n", mtime_ns=T1)
    write(f"{src}/b.txt", "only in the first\n", mtime_ns=T1)
    set_mtime(src, T1 + 1)
    s1 = snapshot(src)
    env.first_backup(src)
    end1 = time.time()
    between = int(end1)  # the whole second `between` is at or after backup 1 and before backup 2
    sleep_until(max(between + 1.05, end1 + 1.1))
    write(f"{src}/a.txt", "second, longer\n", mtime_ns=T2)
    os.unlink(f"{src}/b.txt")
    write(f"{src}/c.txt", "new\n", mtime_ns=T2)
    set_mtime(src, T2 + 1)
    s2 = snapshot(src)
    env.backup(src)
    check(len(env.list_backups()) == 2, "expected two backups")

    t = env.new_target("restore1")
    env.restore(t, folder=src, timestamp=stamp(between))
    compare_trees(s1, snapshot(restored(t, src)), f"RESTORE TIMESTAMP {' '.join(stamp(between))} (between the backups)")
    t = env.new_target("restore2")
    env.restore(t, folder=src, timestamp=stamp(time.time() + 1))
    compare_trees(s2, snapshot(restored(t, src)), "RESTORE TIMESTAMP after the second backup")
    t = env.new_target("restore0")
    r = env.restore(t, folder=src, timestamp=stamp(between - 86400), rc="nonzero")
    check(os.listdir(t) == [], "a restore with a timestamp before every backup wrote files")


@test
def batch_restore_never_overwrites(env):
    """A batch restore to ORIGINAL (output piped, no terminal) over a tree that changed since the
    backup: a file changed locally and a symlink pointed elsewhere are kept, each named in a
    WARN, and the run ends with exit 1 and one ERROR line naming SET OVERWRITE YES; files still
    identical are left alone and counted; a deleted file comes back. The same restore under
    SET DRYRUN YES writes nothing and names the same files; under SET OVERWRITE YES it replaces
    them (exit 0); run again, everything is identical."""
    src = mkdirs(env.base, "src")
    write(f"{src}/changed.txt", "as backed up\n", mtime_ns=T1)
    write(f"{src}/same.txt", "unchanged\n", mtime_ns=T1)
    write(f"{src}/same_size.txt", "AAAA\n", mtime_ns=T1)
    write(f"{src}/deleted.txt", "comes back\n", mtime_ns=T1)
    mkdirs(src, "sub")
    write(f"{src}/sub/big.bin", os.urandom(3 << 20), mtime_ns=T1)
    os.symlink("same.txt", f"{src}/link")
    snap = snapshot(src)
    env.first_backup(src)
    write(f"{src}/changed.txt", "changed locally, and kept\n")
    write(f"{src}/same_size.txt", "BBBB\n", mtime_ns=T1)  # same size and mtime, other content
    os.unlink(f"{src}/deleted.txt")
    os.unlink(f"{src}/link")
    os.symlink("changed.txt", f"{src}/link")
    restore = ("SELECT", "FOLDER", src, "RESTORE", "ADD", "TREE", "RESTORE", "GO")

    r = env.run("SET", "DRYRUN", "YES", *restore, rc=None)
    kept = sorted(re.findall(r"WARN - Would keep: (\S+) \(", r.out))
    check(kept == sorted(f"{src}/{n}" for n in ("changed.txt", "link", "same_size.txt")),
          f"the dry run did not name the files it would keep: {kept}\n{r.summary()}")
    check(not os.path.exists(f"{src}/deleted.txt"), "the dry run restored a file")

    r = env.run(*restore, rc=None)
    check(r.rc == 1, f"a batch restore that kept differing files ended with exit {r.rc}, not 1\n{r.summary()}")
    kept = sorted(re.findall(r"WARN - Kept: (\S+) \(", r.out))
    check(kept == sorted(f"{src}/{n}" for n in ("changed.txt", "link", "same_size.txt")),
          f"the restore did not name exactly the files it kept: {kept}\n{r.summary()}")
    errs = [l for l in r.text().splitlines() if " ERROR - " in l]
    check(len(errs) == 1 and "3 files were kept" in errs[0] and "SET OVERWRITE YES" in errs[0],
          f"not one ERROR line saying how to overwrite: {errs}\n{r.summary()}")
    check(re.search(r"Restore complete: 1 file .* 2 already identical, 3 kept, 0 failed", r.out),
          f"the summary does not count the identical and kept files\n{r.summary()}")
    check(read_bytes(f"{src}/changed.txt") == b"changed locally, and kept\n", "the locally changed file was overwritten")
    check(read_bytes(f"{src}/same_size.txt") == b"BBBB\n", "the same-size changed file was overwritten")
    check(os.readlink(f"{src}/link") == "changed.txt", "the re-pointed symlink was replaced")
    check(read_bytes(f"{src}/deleted.txt") == b"comes back\n", "the deleted file did not come back")

    r = env.run("SET", "OVERWRITE", "YES", *restore)
    check(not re.search(r"WARN - Kept", r.out), f"SET OVERWRITE YES still kept files\n{r.summary()}")
    compare_trees(snap, snapshot(src), "the restore under SET OVERWRITE YES")
    r = env.run(*restore)
    check(re.search(r"Restore complete: 0 files .* 6 already identical, 0 kept, 0 failed", r.out),
          f"a restore over an identical tree did not find everything identical\n{r.summary()}")
    r = env.run("SHOW", "CONFIG")
    check(re.search(r"Overwrite\s*:?\s*NO", r.out), f"SET OVERWRITE is remembered or not shown\n{r.summary()}")


@test
def selections_stay_on_this_host(env):
    """Another host backed up the same path later: SELECT BACKUP <today> on this host selects
    this host's backup (the line names the host) and restores this host's files; only after
    SELECT HOST does a date or a folder name reach the other host's. A folder backed up only on
    the other host is refused by name, with the host named."""
    src = mkdirs(env.base, "src")
    write(f"{src}/a.txt", "this host's\n")
    env.first_backup(src)
    write(f"{src}/a.txt", "the other host's, newer\n")
    other = {"SESHAT_HOSTNAME": "otherhost"}
    env.backup(src, extra_env=other)
    only_there = mkdirs(env.base, "only_there")
    write(f"{only_there}/b.txt", "b\n")
    env.backup(only_there, extra_env=other)
    today = time.strftime("%d-%b-%Y")

    t = env.new_target("mine")
    r = env.run("SELECT", "BACKUP", today, "RESTORE", "ADD", "TREE", "RESTORE", "TARGET", t, "RESTORE", "GO")
    check(re.search(rf"Selected backup #\d+ \S+ \S+ of {re.escape(src)} on host {HOST}$", r.out, re.M),
          f"SELECT BACKUP <date> did not select this host's backup, by name\n{r.summary()}")
    check(read_bytes(f"{t}{src}/a.txt") == b"this host's\n", "SELECT BACKUP <date> restored another host's files")

    t = env.new_target("theirs")
    r = env.run("SELECT", "HOST", "otherhost", "SELECT", "BACKUP", today, "SELECT", "FOLDER", src,
                "RESTORE", "ADD", "TREE", "RESTORE", "TARGET", t, "RESTORE", "GO")
    check(read_bytes(f"{t}{src}/a.txt") == b"the other host's, newer\n",
          f"SELECT HOST otherhost did not reach the other host's backup\n{r.summary()}")

    r = env.run("SELECT", "FOLDER", only_there, rc=1)
    check(re.search(r"ERROR - no backed-up folder .* on host " + re.escape(HOST) + r"; it has backups on otherhost",
                    r.text()), f"a folder of another host was not refused with the host named\n{r.summary()}")


@test(stores=("local",))
def store_and_staging_never_backed_up(env):
    """The store in use and the private staging directory lie inside the backed-up folder (as
    ~/.seshat/store lies in $HOME): each backup skips them with one WARN each, the restored
    tree holds neither, and an unchanged second backup stores nothing new. Backing up the
    store itself is refused."""
    src = mkdirs(env.base, "userhome")
    write(f"{src}/notes.txt", "mine\n")
    store = os.path.join(src, ".seshat", "store")
    stage = mkdirs(src, "stage")
    tokens = ["STORE", "LOCAL", store, "SET", "DELAY", "YES", "SET", "STAGING", stage]
    r = env.run(*tokens, "BACKUP", src)
    check(r.out.count(f"WARN - Ignoring the Seshat store {store}") == 1,
          f"the first backup did not say once that it ignores the store\n{r.summary()}")
    r = env.run("BACKUP", src)
    check(r.out.count(f"WARN - Ignoring the Seshat store {store}") == 1, f"no WARN for the store\n{r.summary()}")
    check(r.out.count(f"WARN - Ignoring the Seshat staging area {stage}/seshat-{os.geteuid()}") == 1,
          f"no WARN for the private staging directory\n{r.summary()}")
    check(re.search(r"Backup of .* complete: 0 files stored", r.out),
          f"an unchanged second backup stored files (its own store?)\n{r.summary()}")
    t = env.new_target("restore")
    env.run("SELECT", "FOLDER", src, "RESTORE", "ADD", "TREE", "RESTORE", "TARGET", t, "RESTORE", "GO")
    got = sorted(os.path.relpath(os.path.join(d, n), t + src) for d, ds, fs in os.walk(t + src) for n in ds + fs)
    check(got == [".seshat", "notes.txt", "stage"], f"the restore holds Seshat's own files: {got}")
    r = env.run("BACKUP", store, rc=1)
    check("it is the Seshat store in use" in r.text(), f"backing up the store itself was not refused\n{r.summary()}")
    inside = sorted(os.path.join(store, n) for n in os.listdir(store) if os.path.isdir(os.path.join(store, n)))[0]
    r = env.run("BACKUP", inside, rc=1)
    check("it is inside the Seshat store in use" in r.text(), f"backing up a folder inside the store was not refused\n"
                                                             f"{r.summary()}")


@test
def exclude_never_matches_the_folder_itself(env):
    """EXCLUDE patterns see the path below the folder: a pattern that matches the folder's own
    path ("docs" for .../docs) excludes nothing that is not named so below it."""
    src = mkdirs(env.base, "docs")
    mkdirs(src, "sub")
    for n in ("a.txt", "b.txt", "sub/docs_old.txt", "sub/c.txt"):
        write(f"{src}/{n}", n + "\n")
    env.first_backup(src)
    r = env.backup(src, "EXCLUDE", "docs")
    check(re.search(r"Backup of .* complete: .* 1 deleted", r.out),
          f"EXCLUDE docs did not exclude exactly the one path below the folder that holds 'docs'\n{r.summary()}")
    check(f"Ignoring {src}/sub/docs_old.txt" in r.out, f"the matching file was not ignored\n{r.summary()}")
    # A pattern written with the folder's own path (anchored, as an older Seshat took them)
    # matches nothing below it: said in a WARN rather than silently backing everything up.
    r = env.backup(src, "EXCLUDE", "RESET", "EXCLUDE", f"^{src}/sub")
    check(any(f"EXCLUDE '^{src}/sub' names the folder's own path" in w for w in r.warns()),
          f"no WARN for an EXCLUDE pattern that names the folder's own path\n{r.summary()}")


@test
def mass_deletion_refused(env):
    """The folder empty (a drive not mounted) or most of it gone: the backup stops with exit 1
    and one ERROR line before storing anything, the newest backup still restores everything;
    SET DELETIONS YES lets one backup record it. Deleting a few files is an ordinary backup."""
    src = mkdirs(env.base, "src")
    for i in range(6):
        write(f"{src}/f{i}.txt", f"file {i}\n")
    env.first_backup(src)
    os.unlink(f"{src}/f0.txt")
    r = env.backup(src)
    check(re.search(r"complete: .* 1 deleted", r.out), f"deleting one of six files was refused\n{r.summary()}")
    moved = mkdirs(env.base, "elsewhere")
    for i in range(1, 6):
        os.rename(f"{src}/f{i}.txt", f"{moved}/f{i}.txt")
    before = env.store.listing()
    r = env.backup(src, rc=1)
    errs = [l for l in r.text().splitlines() if " ERROR - " in l]
    check(len(errs) == 1 and "would record 5 of the 5 files" in errs[0] and "SET DELETIONS YES" in errs[0],
          f"the empty folder was not refused with one line\n{r.summary()}")
    compare_listings(before, env.store.listing(), "a refused mass-deletion backup")
    t = env.new_target("restore")
    env.restore(t, folder=src)
    check(sorted(os.listdir(t + src)) == [f"f{i}.txt" for i in range(1, 6)], "the newest backup lost files")
    r = env.backup(src, "SET", "DELETIONS", "YES")
    check(re.search(r"complete: .* 5 deleted", r.out), f"SET DELETIONS YES did not let the backup record it\n"
                                                      f"{r.summary()}")
    write(f"{src}/new.txt", "new\n")
    env.backup(src)  # the last backup had no files: nothing more to refuse


@test
def read_only_commands_create_no_repository(env):
    """On an empty store LIST BACKUPS, LIST FOLDERS, VERIFY DATA and SHOW CONFIG + LIST HOSTS
    create nothing and say INITIALIZE creates one; a new repository needs a passphrase of at
    least 8 characters (a WARN below 12)."""
    empty = env.spare_store()
    for cmd in (["LIST", "BACKUPS"], ["LIST", "FOLDERS"], ["VERIFY", "DATA"], ["LIST", "HOSTS"]):
        r = env.run(*env.store_tokens(empty), *cmd, rc=1)
        check("Creating a new repository" not in r.out and "INITIALIZE" in r.text() and "no repository" in r.text(),
              f"{' '.join(cmd)} on an empty store did not refuse with a pointer to INITIALIZE\n{r.summary()}")
        check(empty.is_empty(), f"{' '.join(cmd)} wrote into an empty store: {empty.describe_contents()}")
    r = env.run(*env.store_tokens(empty), "INITIALIZE", rc=1, extra_env={"SESHAT_PASSWORD": "short"})
    check("at least 8 characters" in r.text(), f"a 5-character passphrase was not refused\n{r.summary()}")
    check(empty.is_empty(), f"a refused INITIALIZE wrote into the store: {empty.describe_contents()}")
    r = env.run(*env.store_tokens(empty), "INITIALIZE", extra_env={"SESHAT_PASSWORD": "ten chars!"})
    check("WARN - The passphrase has only 10 characters" in r.out, f"no WARN for a 10-character passphrase\n"
                                                                  f"{r.summary()}")
    check(not empty.is_empty(), "INITIALIZE created nothing")


@test
def db_rebuild_keeps_a_working_db(env):
    """DB REBUILD on a store whose DB loads: refused in batch mode (one line naming SET CONFIRM
    NO), the DB unchanged; with SET CONFIRM NO it rebuilds, but sets the replaced generation
    aside: DB GENERATIONS lists it as kept, and DB LOAD <n> makes it the newest again, with
    the symlink and the deletion a rebuild cannot know of."""
    src = mkdirs(env.base, "src")
    write(f"{src}/a.txt", "a\n")
    write(f"{src}/gone.txt", "deleted in the second backup\n")
    os.symlink("a.txt", f"{src}/link")
    env.first_backup(src)
    os.unlink(f"{src}/gone.txt")
    write(f"{src}/b.txt", "b\n")
    env.backup(src)
    snap = snapshot(src)
    r = env.run("DB", "REBUILD", rc=1)
    check("refused in batch mode (SET CONFIRM NO allows it)" in r.text(),
          f"DB REBUILD of a working DB was not refused in batch mode\n{r.summary()}")
    check(len(env.list_backups()) == 2, "the refused DB REBUILD changed the DB")
    r = env.run("SET", "CONFIRM", "NO", "DB", "REBUILD")
    m = re.search(r"DB generation (\d+) is kept", r.out)
    check(m, f"DB REBUILD did not say which generation it kept\n{r.summary()}")
    kept = int(m.group(1))
    r = env.run("DB", "GENERATIONS")
    check(re.search(rf"^\s+{kept}\s+.*kept", r.out, re.M), f"DB GENERATIONS does not list the kept one\n{r.summary()}")
    r = env.run("DB", "LOAD", str(kept))
    check(re.search(rf"DB generation {kept} loaded \(2 backups\) and saved as generation \d+", r.out),
          f"DB LOAD {kept} did not go back to it\n{r.summary()}")
    t = env.new_target("restore")
    env.restore(t, folder=src)
    compare_trees(snap, snapshot(restored(t, src)), "a restore after DB LOAD of the kept generation")


@test(stores=("local",))
def rebuilt_db_says_it_cannot_compare(env):
    """After DB REBUILD a file stored in parts has no whole-file hash: a restore over the same
    file keeps it (as it keeps a different one) but says why, never that it is different."""
    src = mkdirs(env.base, "src")
    write(f"{src}/big.bin", os.urandom(9 << 20))  # three parts of 4 MiB
    write(f"{src}/small.txt", "small\n")
    env.first_backup(src)
    env.run("SET", "CONFIRM", "NO", "DB", "REBUILD")
    r = env.run("SELECT", "FOLDER", src, "RESTORE", "ADD", "TREE", "RESTORE", "GO", rc=1)
    kept = [w for w in r.warns() if "Kept:" in w]
    check(len(kept) == 1 and f"{src}/big.bin" in kept[0] and "cannot be compared" in kept[0]
          and "a different file" not in kept[0], f"the rebuilt multi-part file is not kept with its reason\n"
                                                 f"{r.summary()}")
    check("1 already identical" in r.out, f"small.txt (whole-file hash known) was not found identical\n{r.summary()}")


@test
def dryrun_writes_nothing(env):
    src = mkdirs(env.base, "src")
    write(f"{src}/a.txt", "a\n")
    env.first_backup(src)
    write(f"{src}/a.txt", "a, changed\n")
    write(f"{src}/new.bin", os.urandom(100000))
    before = env.store.listing()
    r = env.backup(src, "SET", "DRYRUN", "YES")
    check("Would back up" in r.out, f"the dry run did not report what it would back up\n{r.summary()}")
    compare_listings(before, env.store.listing(), "SET DRYRUN YES BACKUP")
    check(len(env.list_backups()) == 1, "a dry-run backup appears in LIST BACKUPS")

    t = env.new_target("restore")
    r = env.restore(t, number=1, before=("SET", "DRYRUN", "YES"))
    check("Would restore" in r.out, f"the dry-run restore did not report what it would restore\n{r.summary()}")
    check(os.listdir(t) == [], f"SET DRYRUN YES with RESTORE GO wrote into the target: {os.listdir(t)}")
    compare_listings(before, env.store.listing(), "dry-run restore")

    # A dry run on an empty store creates no repository.
    empty = env.spare_store()
    env.run(*env.store_tokens(empty), "SET", "DRYRUN", "YES", "BACKUP", src, rc=None)
    check(empty.is_empty(), f"a dry-run backup wrote into an empty store: {empty.describe_contents()}")


@test
def automatic_backs_up_all_folders(env):
    a = mkdirs(env.base, "folder_a")
    b = mkdirs(env.base, "folder_b")
    write(f"{a}/a.txt", "a1\n")
    write(f"{b}/b.txt", "b1\n")
    env.first_backup(a)
    env.backup(b)
    write(f"{a}/a.txt", "a2, changed\n")
    write(f"{b}/b2.txt", "b2, added\n")
    sa, sb = snapshot(a), snapshot(b)
    r = env.run("AUTOMATIC")
    check(r.out.count("Starting File walk") == 2, f"AUTOMATIC did not back up both folders\n{r.summary()}")
    rows = env.list_backups()
    per = {a: 0, b: 0}
    for row in rows:
        per[row["folder"]] = per.get(row["folder"], 0) + 1
    check(len(rows) == 4 and per[a] == 2 and per[b] == 2,
          f"expected 2 backups of each folder in LIST BACKUPS, got {per}\n{env.last.summary()}")
    for folder, snap in ((a, sa), (b, sb)):
        t = env.new_target("restore")
        env.restore(t, folder=folder)
        compare_trees(snap, snapshot(restored(t, folder)), f"latest backup of {folder} after AUTOMATIC")

    r = env.run("AUTOMATIC", rc="nonzero", extra_env={"SESHAT_HOSTNAME": "host-without-folders"})
    check(r.errors(), f"AUTOMATIC for a host without folders printed no ERROR\n{r.summary()}")
    check(len(env.list_backups()) == 4, "AUTOMATIC for another host added backups")

    # The first folder gone (a drive not mounted): the second is still backed up, and the run
    # fails at the end with one line naming the first.
    moved = a + ".moved"
    os.rename(a, moved)
    write(f"{b}/b3.txt", "b3\n")
    r = env.run("AUTOMATIC", rc=None)
    check(r.rc != 0, f"AUTOMATIC with a missing folder exited 0\n{r.summary()}")
    check(re.search(rf"Backup of {re.escape(b)} complete", r.out), f"AUTOMATIC stopped at the missing folder\n"
                                                                  f"{r.summary()}")
    errs = [l for l in r.text().splitlines() if " ERROR - " in l]
    check(len(errs) == 1 and "1 of 2 folders were not backed up" in errs[0] and a in errs[0],
          f"not one ERROR line naming the folder that failed: {errs}\n{r.summary()}")
    os.rename(moved, a)


@test
def batch_from_stdin_stops_at_failure(env):
    src = mkdirs(env.base, "src")
    write(f"{src}/a.txt", "a\n")
    select_lines = "".join(" ".join(cmd) + "\n" for cmd in env.store.select_commands())
    script = f"{select_lines}# a comment\n\nBACKUP {src}\nLIST BACKUPS\n"
    r = env.run(exit=False, input=script)
    check("Completed file walk" in r.out, f"the BACKUP line from stdin did not run\n{r.summary()}")
    check(re.search(rf"^\s*1\s.*{re.escape(src)}", r.out, re.M), f"LIST BACKUPS from stdin printed no row\n{r.summary()}")

    write(f"{src}/b.txt", "b\n")
    marker_dir = mkdirs(env.base, "never")
    script = f"LIST BACKUPS\nSELECT BACKUP 99\nBACKUP {src}\nSTORE LOCAL {marker_dir}/x\n"
    r = env.run(exit=False, input=script, rc="nonzero")
    check("99" in r.err, f"the failing command's error does not appear on stderr\n{r.summary()}")
    check("Starting File walk" not in r.out, f"the BACKUP after the failing line ran\n{r.summary()}")
    with open(os.path.join(env.home, ".seshatrc")) as f:
        rc_text = f.read()
    check(marker_dir not in rc_text, "the STORE line after the failing line ran")
    check(len(env.list_backups()) == 1, "a backup was made after the failing line")

    r = env.run(exit=False, input="FROBNICATE\nBACKUP " + src + "\n", rc="nonzero")
    check("Starting File walk" not in r.out, f"a line after an unknown command ran\n{r.summary()}")


def lock_record(host, pid, lease_ns, ident=None):
    return json.dumps({"version": 1, "id": ident or "x" + os.urandom(4).hex(), "host": host, "pid": pid, "user": "u",
                       "started_ns": 0, "lease_until_ns": lease_ns}, indent=2) + "\n"


@test
def db_lock_is_kept_until_db_unlock(env):
    """A lock DB LOCK took stays held through a backup that failed (its catalog is dropped and
    loaded again) and through the store opened again with other wrappers (SET STAGING), until
    DB UNLOCK releases it: at the prompt, where a failed command does not end the session."""
    src = mkdirs(env.base, "src")
    write(f"{src}/a.txt", "a\n")
    env.first_backup(src)
    write(f"{src}/b.txt", "b\n")
    staging = mkdirs(env.base, "staging2")

    def held(what):
        def check_held(out):
            check(env.store.lock_keys(), f"the DB LOCK of the session was let go after {what}\n{clip(out)}")
        return check_held
    rc, out = env.on_terminal(
        [" ".join(env.store_tokens()) if env.store_tokens() else "LIST BACKUPS", ("DB LOCK", held("DB LOCK")),
         ("BACKUP " + src, held("a failed backup")), ("LIST BACKUPS", held("the catalog was loaded again")),
         ("SET STAGING " + staging, held("SET STAGING")), ("LIST BACKUPS", held("the store was opened again")),
         "DB UNLOCK", "EXIT"],
        extra_env={"SESHAT_FAULTS": "create:containers@*=fail"})
    check("injected fault" in out, f"the backup did not fail as planned\n{clip(out)}")
    check("DB Lock released" in out, f"DB UNLOCK did not release the session's own lock\n{clip(out)}")
    check(not env.store.lock_keys(), f"DB UNLOCK left lock records: {env.store.lock_keys()}")
    check(len(env.list_backups()) == 1, "the failed backup was recorded")


@test
def verify_goes_on_past_an_unreadable_container(env):
    """A container the store will not give (an error that is not damage: permissions, cold
    storage, a server that keeps failing) is one problem of VERIFY, named as unreadable, not
    damaged; the other containers are still checked and the exit status says it."""
    src = mkdirs(env.base, "src")
    rng = random.Random(3)
    for i in range(6):
        write(f"{src}/f{i}.bin", rng.randbytes(700 << 10))
    env.first_backup(src, "SET", "MAX", "1", "MB")
    names = env.store.containers()
    check(len(names) >= 3, f"expected several containers, got {names}")
    victim = names[1]
    r = env.run("VERIFY", rc=1, extra_env={"SESHAT_FAULTS": f"range:{victim}@*=fail,get:{victim}@*=fail"})
    bad = [l for l in r.errors() if victim in l]
    check(len(bad) == 1 and "cannot be read" in bad[0] and "damaged" not in bad[0].split("(")[0],
          f"VERIFY does not name {victim} once as unreadable\n{r.summary()}")
    m = re.search(r"(\d+) containers, .*?(\d+) problems", r.out)
    check(m and int(m.group(1)) == len(names) and int(m.group(2)) == 1,
          f"VERIFY did not check every container with one problem\n{r.summary()}")


@test
def db_unlock_and_stale_lock(env):
    src = mkdirs(env.base, "src")
    write(f"{src}/a.txt", "a\n")
    env.first_backup(src)
    # Local: the one record seshat/locks/lock. S3: a record seshat/locks/<id> per contender.
    ident = os.urandom(8).hex()
    key = env.store.lock_key(ident)
    lock = env.store.object_file(key)
    if env.store_kind == "local":
        check(os.path.isdir(os.path.dirname(lock)), "the store has no seshat/locks directory")
    env.store.write_object(key, lock_record("otherhost", 1, time.time_ns() + 3600 * 10**9, ident))
    write(f"{src}/b.txt", "b\n")
    r = env.backup(src, rc=1)
    check("otherhost" in r.err, f"the lock error does not name the holder otherhost\n{r.summary()}")
    check(os.path.exists(lock), "the other host's lock was removed by a failing BACKUP")
    check(len(env.list_backups()) == 1, "a backup was made while the DB was locked")

    r = env.run("DB", "UNLOCK")
    check(not os.path.exists(lock) and not env.store.lock_keys(),
          f"DB UNLOCK left the lock: {env.store.lock_keys()}\n{r.summary()}")
    check("otherhost" in r.out, f"DB UNLOCK does not say whose lock it removed\n{r.summary()}")
    env.backup(src)
    check(len(env.list_backups()) == 2, "the backup after DB UNLOCK is missing")

    # A lock whose lease has expired is taken over with a warning.
    env.store.write_object(key, lock_record("otherhost", 1, time.time_ns() - 10**9, ident))
    write(f"{src}/c.txt", "c\n")
    r = env.backup(src)
    check(any("stale" in l.lower() and "otherhost" in l for l in r.warns()),
          f"taking over an expired lock gave no WARN naming it\n{r.summary()}")
    check(len(env.list_backups()) == 3, "the backup over an expired lock is missing")

    # A lock of this host whose process is gone is taken over too.
    p = subprocess.Popen(["true"])
    p.wait()
    env.store.write_object(key, lock_record(HOST, p.pid, time.time_ns() + 3600 * 10**9, ident))
    write(f"{src}/d.txt", "d\n")
    r = env.backup(src)
    check(any("stale" in l.lower() for l in r.warns()), f"taking over a dead process's lock gave no WARN\n{r.summary()}")


def sanitized(s):
    """The host or folder as a container name holds it (repo::container_name)."""
    out = re.sub(r"[^A-Za-z0-9.-]+", "-", s).strip("-")
    return out[:48]


def plant_container_names(env, host, folder, seconds=120):
    """Plants a junk object at the first container name (<seq> 000) of every second from now
    on, so that the next backup's stamp falls on a taken name whatever the clock says: the
    backup must go on with another name and leave the planted object alone. Returns the
    planted keys and their bytes."""
    f = sanitized(folder) or "root"
    h = sanitized(host) or "host"
    now = int(time.time())
    existing = env.store.objects("containers/")
    planted = {}
    for t in range(now - 1, now + seconds):
        key = f"containers/SEF_{h}_{f}_{time.strftime('%Y%m%d%H%M%S', time.localtime(t))}_000"
        if key in existing:
            continue  # a real container of an earlier backup
        data = f"planted {t}\n".encode()
        env.store.write_object(key, data)
        planted[key] = data
    return planted


def check_planted(env, planted, what):
    objects = env.store.objects("containers/")
    for key, data in planted.items():
        check(key in objects, f"{what}: the object at {key} was removed")
        with open(objects[key], "rb") as fh:
            check(fh.read() == data, f"{what}: the object at {key} was overwritten")


@test
def same_second_backups_keep_both(env):
    """Two backups of one folder whose stamps fall in one second (so their containers would
    have one name): both stay restorable, neither overwrites the other. The second is made
    to fall on a taken name by planting an object at every name it could take, whatever the
    machine's speed."""
    src = mkdirs(env.base, "src")
    write(f"{src}/a.txt", "first version\n", mtime_ns=T1)
    set_mtime(src, T1)
    s1 = snapshot(src)
    env.first_backup(src)
    first = env.store.containers()
    write(f"{src}/a.txt", "second version\n", mtime_ns=T2)
    set_mtime(src, T2)
    s2 = snapshot(src)
    planted = plant_container_names(env, HOST, src)
    r = env.backup(src)
    check(re.search(r"Opening container file: SEF_\S+_001", r.out),
          f"the second backup did not go on to the next name after a taken one\n{r.summary()}")
    check_planted(env, planted, "a backup whose first container name was taken")
    check(set(first) <= set(env.store.containers()), "the first backup's container is gone")
    n = len(env.list_backups())
    t1 = env.new_target("restore1")
    r = env.restore(t1, number=n - 1, rc=None)
    check(r.rc == 0, f"the first of two backups cannot be restored\n{r.summary()}")
    compare_trees(s1, snapshot(restored(t1, src)), "restore of the first of two backups")
    t2 = env.new_target("restore2")
    env.restore(t2, number=n)
    compare_trees(s2, snapshot(restored(t2, src)), "restore of the second of two backups")


@test
def similar_folder_names_same_second_keep_both(env):
    """Two folders whose paths differ only after the first 48 characters have one container
    name for one second: backed up in that second, each backup's containers stay its own.
    The second folder's backup is made to meet a taken name by planting objects at every
    name it could take."""
    common = "a-rather-long-directory-name-shared-by-both-folders-" * 2
    a = mkdirs(env.base, common + "one")
    b = mkdirs(env.base, common + "two")
    check(sanitized(a) == sanitized(b), "the test's two folder names do not share a container name")
    write(f"{a}/x.txt", "in folder one\n")
    write(f"{b}/x.txt", "in folder two, different\n")
    sa, sb = snapshot(a), snapshot(b)
    env.first_backup(a)
    planted = plant_container_names(env, HOST, b)
    r = env.backup(b)
    check(re.search(r"Opening container file: SEF_\S+_001", r.out),
          f"the backup of the second folder did not go on to the next name\n{r.summary()}")
    check_planted(env, planted, "the second folder's backup")
    ours = [c for c in env.store.containers() if "containers/" + c not in planted]
    check(len(ours) == 2, f"two backups of two folders should leave 2 containers besides the planted ones: {ours}")
    for folder, snap in ((a, sa), (b, sb)):
        t = env.new_target("restore")
        r = env.restore(t, folder=folder, rc=None)
        check(r.rc == 0, f"the backup of {folder[-20:]} cannot be restored\n{r.summary()}")
        compare_trees(snap, snapshot(restored(t, folder)), f"restore of {folder[-20:]}")


# ---------------------------------------------------------------------------- the shell's rows and selections (issue 13)

DATE_S = r"\d\d-\w{3}-\d{4} \d\d:\d\d:\d\d"


@test
def rows_name_backups_by_number_and_second(env):
    """Every row naming a backup gives its number and the time to the second; SEARCH rows give
    the host; LIST BACKUPS has column headers, and its Files column counts the files in the
    backup (not only those it stored), New data what it stored, Total their size."""
    src = mkdirs(env.base, "src")
    write(f"{src}/a.txt", "a" * 100)
    write(f"{src}/b.txt", "b" * 50)
    env.first_backup(src)
    write(f"{src}/c.txt", "c" * 10)
    env.backup(src)
    r = env.run("LIST", "BACKUPS")
    check(re.search(r"^\s+#\s+Time\s+Host\s+Folder\s+Files\s+New data\s+Total$", r.out, re.M),
          f"LIST BACKUPS has no column headers\n{r.summary()}")
    rows = re.findall(rf"^\s+(\d+)\s+({DATE_S})\s+{HOST}\s+{re.escape(src)}\s+(\d+)\s+(\S+ B)\s+(\S+ B)$", r.out, re.M)
    check(len(rows) == 2, f"expected two rows with the time to the second\n{r.summary()}")
    check(rows[0][0] == "1" and rows[0][2] == "2" and rows[0][4] == "150 B",
          f"the first backup should hold 2 files of 150 B: {rows[0]}\n{r.summary()}")
    check(rows[1][0] == "2" and rows[1][2] == "3" and rows[1][3] == "10 B" and rows[1][4] == "160 B",
          f"the second backup holds 3 files (160 B), 10 B of them new: {rows[1]}\n{r.summary()}")
    r = env.run("SEARCH", "CONTAINS", "a.txt")
    check(re.search(rf"{re.escape(src)}/a\.txt  backup #1 {DATE_S}  host {HOST}$", r.out, re.M),
          f"a SEARCH row does not name the backup by number and second, and the host\n{r.summary()}")
    r = env.run("LIST", "FOLDERS")
    check(re.search(rf"2 backups  last #2 {DATE_S}", r.out), f"LIST FOLDERS does not name the last backup\n{r.summary()}")


@test
def select_backup_scopes_listings(env):
    """SELECT BACKUP shows the state as of that backup: SEARCH and LIST FILES find nothing
    newer, LIST VERSIONS marks the newer versions. SELECT BACKUP and RESTORE TIMESTAMP are one
    setting (the later wins, with an INFO line), SELECT RESET clears both, and SHOW CONFIG
    shows the restore setup."""
    src = mkdirs(env.base, "src")
    write(f"{src}/a.txt", "old\n")
    env.first_backup(src)
    write(f"{src}/a.txt", "new, longer\n")
    write(f"{src}/later.txt", "only in the second backup\n")
    env.backup(src)
    r = env.run("SELECT", "BACKUP", "1", "SEARCH", "CONTAINS", "later")
    check("(none)" in r.out and "later.txt" not in r.out.replace("CONTAINS later", ""),
          f"SEARCH as of backup 1 found a file of backup 2\n{r.summary()}")
    r = env.run("SELECT", "BACKUP", "1", "SEARCH", "CONTAINS", "a.txt")
    found = re.findall(r"a\.txt  backup #(\d+)", r.out)
    check(found == ["1"], f"SEARCH as of backup 1 should show only its version of a.txt: {found}\n{r.summary()}")
    r = env.run("SELECT", "BACKUP", "1", "LIST", "FILES")
    check("a.txt" in r.out and "later.txt" not in r.out, f"LIST FILES as of backup 1 shows later.txt\n{r.summary()}")
    r = env.run("SELECT", "BACKUP", "1", "LIST", "VERSIONS")
    newer = [l for l in r.out.splitlines() if "a.txt" in l and "(newer than the point in time)" in l]
    check(len(newer) == 1 and "backup #2" in newer[0], f"LIST VERSIONS does not mark the newer version\n{r.summary()}")
    day, clock = time.strftime("%d-%b-%Y"), "23:59"
    r = env.run("RESTORE", "TIMESTAMP", day, clock, "SELECT", "BACKUP", "1", "SHOW", "CONFIG")
    check("INFO - Restore timestamp cleared" in r.out, f"SELECT BACKUP after RESTORE TIMESTAMP said nothing\n{r.summary()}")
    check(re.search(rf"Point in time:\s+backup #1 {DATE_S}", r.out), f"SHOW CONFIG lacks the point in time\n{r.summary()}")
    r = env.run("SELECT", "BACKUP", "1", "RESTORE", "TIMESTAMP", day, clock, "SHOW", "CONFIG")
    check("INFO - Selected backup cleared" in r.out, f"RESTORE TIMESTAMP after SELECT BACKUP said nothing\n{r.summary()}")
    check(re.search(r"Point in time:\s+timestamp ", r.out), f"SHOW CONFIG does not show the timestamp\n{r.summary()}")
    r = env.run("RESTORE", "TIMESTAMP", day, clock, "RESTORE", "ADD", "TREE", "SELECT", "RESET", "SHOW", "CONFIG")
    check(re.search(r"Point in time:\s+the newest backup of each folder", r.out),
          f"SELECT RESET did not clear the restore timestamp\n{r.summary()}")
    check(re.search(r"To restore:\s+1 selection", r.out), f"SHOW CONFIG does not count the selections\n{r.summary()}")


@test
def the_only_folder_is_selected_for_the_user(env):
    """With one backed-up folder on this host, RESTORE ADD TREE, LIST FILES and CD work without
    SELECT (an INFO line says so); with two, the error lists them and nothing is restored."""
    src = mkdirs(env.base, "src")
    write(f"{src}/a.txt", "a\n")
    env.first_backup(src)
    t = env.new_target("restore")
    r = env.run("RESTORE", "ADD", "TREE", "RESTORE", "TARGET", t, "RESTORE", "GO")
    check(f"INFO - Selected folder {src} of host {HOST} (the only backed-up folder of that host)" in r.out,
          f"no INFO line for the folder chosen for the user\n{r.summary()}")
    check(read_bytes(f"{t}{src}/a.txt") == b"a\n", "RESTORE ADD TREE without SELECT did not restore the folder")
    other = mkdirs(env.base, "other")
    write(f"{other}/b.txt", "b\n")
    env.backup(other)
    t = env.new_target("restore2")
    r = env.run("RESTORE", "ADD", "TREE", "RESTORE", "TARGET", t, "RESTORE", "GO", rc=1)
    errs = r.errors()
    check(len(errs) == 1 and "2 backed-up folders" in errs[0] and src in errs[0] and other in errs[0]
          and "SELECT FOLDER" in errs[0], f"the error does not list the candidates\n{r.summary()}")
    check(os.listdir(t) == [], "something was restored although the folder was ambiguous")


@test
def baremetal_as_of_a_time_before_a_folder_existed(env):
    """RESTORE BAREMETAL with a timestamp restores every folder backed up by then and WARNs for
    each that was not (instead of failing whole); RESTORE ADD BAREMETAL is the same."""
    first = mkdirs(env.base, "first")
    write(f"{first}/a.txt", "a\n")
    env.first_backup(first)
    end1 = time.time()
    between = int(end1)
    sleep_until(max(between + 1.05, end1 + 1.1))
    later = mkdirs(env.base, "later")
    write(f"{later}/b.txt", "b\n")
    env.backup(later)
    for words in (["RESTORE", "BAREMETAL"], ["RESTORE", "ADD", "BAREMETAL"]):
        t = env.new_target("bare")
        r = env.run("RESTORE", "TIMESTAMP", *stamp(between), *words, "RESTORE", "TARGET", t, "RESTORE", "GO")
        check(read_bytes(f"{t}{first}/a.txt") == b"a\n", f"{' '.join(words)} as of a time did not restore {first}\n"
                                                          f"{r.summary()}")
        check(not os.path.exists(f"{t}{later}"), f"{later} did not exist then but was restored")
        check(any(f"Not restoring {later}: it has no backup at or before the restore timestamp " in w
                  for w in r.warns()),
              f"no WARN for the folder without a backup by then\n{r.summary()}")
    # SELECT BACKUP is a point in time for every folder too: BAREMETAL after it is one moment.
    t = env.new_target("bare_selected")
    r = env.run("SELECT", "BACKUP", "1", "RESTORE", "BAREMETAL", "RESTORE", "TARGET", t, "RESTORE", "GO")
    check(read_bytes(f"{t}{first}/a.txt") == b"a\n" and not os.path.exists(f"{t}{later}"),
          f"BAREMETAL after SELECT BACKUP 1 restored a folder newer than it\n{r.summary()}")
    check(any(f"Not restoring {later}: it has no backup at or before the selected backup #1 " in w
              for w in r.warns()), f"no WARN naming the folder newer than the selected backup\n{r.summary()}")


@test(stores=("local",))
def list_n_shows_the_newest(env):
    """LIST <n> BACKUPS shows the newest n, numbered as in the whole list, and says how many
    there are; LIST ALL shows all; LIST 0 is refused."""
    src = mkdirs(env.base, "src")
    write(f"{src}/a.txt", "1\n")
    env.first_backup(src)
    for i in (2, 3):
        write(f"{src}/a.txt", f"{i}\n" * i)
        env.backup(src)
    r = env.run("LIST", "2", "BACKUPS")
    nums = re.findall(rf"^\s+(\d+)\s+{DATE_S}", r.out, re.M)
    check(nums == ["2", "3"], f"LIST 2 BACKUPS should show #2 and #3, the newest: {nums}\n{r.summary()}")
    check("(2 of 3, the newest; LIST ALL BACKUPS for all)" in r.out, f"LIST 2 BACKUPS does not say 2 of 3\n{r.summary()}")
    r = env.run("LIST", "ALL", "BACKUPS")
    check(re.findall(rf"^\s+(\d+)\s+{DATE_S}", r.out, re.M) == ["1", "2", "3"], f"LIST ALL BACKUPS\n{r.summary()}")
    r = env.run("LIST", "0", "BACKUPS", rc=1)
    check(any("LIST 0" in e for e in r.errors()), f"LIST 0 was not refused with one line\n{r.summary()}")


@test(stores=("local",))
def cd_takes_paths_and_refuses_files(env):
    src = mkdirs(env.base, "src")
    mkdirs(src, "docs", "2024")
    write(f"{src}/docs/2024/report.txt", "r\n")
    write(f"{src}/top.txt", "t\n")
    env.first_backup(src)
    r = env.run("CD", "docs/2024", "LIST", "FILES", "CD", f"{src}/docs", "CD", "..", "CD")
    check("INFO - Now at " + f"{src}/docs/2024" in r.out and "report.txt" in r.out,
          f"CD with a relative path of two names did not get there\n{r.summary()}")
    check(r.out.rstrip().endswith(src), f"CD <absolute path> then CD .. did not end at the top\n{r.summary()}")
    for where in ("top.txt", f"{src}/top.txt", "docs/2024/report.txt"):
        r = env.run("CD", where, rc=1)
        check(any("is a file, not a folder" in e for e in r.errors()), f"CD {where} (a file) was not refused\n"
                                                                       f"{r.summary()}")


@test(stores=("local",))
def long_running_shell_sees_other_commits(env):
    """A shell left open notices a backup another process committed, before its next command."""
    src = mkdirs(env.base, "src")
    write(f"{src}/a.txt", "a\n")
    env.first_backup(src)
    env.run("LIST", "BACKUPS")  # the settings now name the store

    def another_backup(_out):
        write(f"{src}/b.txt", "b\n")
        env.backup(src)

    rc, out = env.on_terminal([("LIST BACKUPS", another_backup), "LIST BACKUPS", "EXIT"])
    check(rc == 0, f"the interactive shell exited {rc}\n{clip(out)}")
    # The terminal's echo of a command may come in pieces (libedit redraws under load): look
    # for the reload's own line and the listing after it instead.
    at = out.find("1 new backup was made by another process since the DB was loaded")
    check(at >= 0, f"the second LIST BACKUPS did not say it reloaded\n{clip(out)}")
    check(re.search(rf"^\s+2\s+{DATE_S}", out[at:], re.M), f"the listing after the reload lacks backup 2\n{clip(out)}")
    check(not re.search(rf"^\s+2\s+{DATE_S}", out[:at], re.M), f"backup 2 was listed before the reload?\n{clip(out)}")


@test(stores=("local",))
def shell_survives_a_db_replaced_under_it(env):
    """Another process resets the DB while a shell holds rows and selections from it, and the
    shell then reopens the store (SET DRYRUN) before using them: it says the selections were
    reset and goes on, never using ids of the old DB."""
    src = mkdirs(env.base, "src")
    for n in ("a.txt", "b.txt", "c.txt"):
        write(f"{src}/{n}", n + "\n")
    env.first_backup(src)
    env.run("LIST", "BACKUPS")

    def reset_elsewhere(_out):
        env.run("SET", "CONFIRM", "NO", "DB", "RESET")

    rc, out = env.on_terminal(["SELECT FOLDER " + src, "LIST FILES", ("SET DRYRUN YES", reset_elsewhere),
                               "RESTORE ADD FILE 2", "LIST SELECTED", "EXIT"])
    check(rc == 0, f"the shell ended with status {rc} after the DB was replaced under it\n{clip(out)}")
    check("selections and the restore setup were reset" in out, f"the shell did not say it reset the selections\n"
                                                                f"{clip(out)}")


@test
def list_changes_shows_what_a_backup_did(env):
    """LIST CHANGES: what the newest backup added, changed and deleted; LIST CHANGES <n> for
    another; a deleted file's row restores it (RESTORE ADD FILE <n>)."""
    src = mkdirs(env.base, "src")
    write(f"{src}/keep.txt", "kept\n")
    write(f"{src}/edit.txt", "before\n")
    write(f"{src}/gone.txt", "deleted in backup 2\n")
    env.first_backup(src)
    write(f"{src}/edit.txt", "after, longer\n")
    os.unlink(f"{src}/gone.txt")
    write(f"{src}/new.txt", "added\n")
    env.backup(src)
    r = env.run("LIST", "CHANGES")
    check(re.search(rf"Changes in backup #2 {DATE_S} of {re.escape(src)} on host {HOST}: 1 added, 1 changed, 1 deleted",
                    r.out), f"LIST CHANGES does not sum up backup 2\n{r.summary()}")
    rows = dict((m.group(2), (m.group(1), m.group(3))) for m in
                re.finditer(r"^\s+(\d+)  (added|changed|deleted)\s+(.*)$", r.out, re.M))
    check("new.txt" in rows.get("added", ("", ""))[1] and "edit.txt" in rows.get("changed", ("", ""))[1]
          and "gone.txt" in rows.get("deleted", ("", ""))[1], f"LIST CHANGES rows are wrong: {rows}\n{r.summary()}")
    r = env.run("LIST", "CHANGES", "1")
    check("3 added, 0 changed, 0 deleted" in r.out, f"LIST CHANGES 1 does not show the first backup\n{r.summary()}")
    t = env.new_target("back")
    n = rows["deleted"][0]
    r = env.run("LIST", "CHANGES", "RESTORE", "ADD", "FILE", n, "RESTORE", "TARGET", t, "RESTORE", "GO")
    check(read_bytes(f"{t}{src}/gone.txt") == b"deleted in backup 2\n",
          f"RESTORE ADD FILE of a deleted row did not bring the file back\n{r.summary()}")


@test(stores=("local",))
def automatic_add_and_remove(env):
    """AUTOMATIC ADD registers a directory without backing it up; AUTOMATIC backs it up;
    AUTOMATIC REMOVE (by number or path) unregisters one, whose backups stay."""
    a = mkdirs(env.base, "a")
    b = mkdirs(env.base, "b")
    write(f"{a}/a.txt", "a\n")
    write(f"{b}/b.txt", "b\n")
    env.first_backup(a)
    r = env.run("AUTOMATIC", "ADD", b)
    check("Starting File walk" not in r.out and f"Registered {b} for AUTOMATIC" in r.out,
          f"AUTOMATIC ADD backed up or did not register\n{r.summary()}")
    r = env.run("LIST", "AUTO")
    check(a in r.out and b in r.out, f"LIST AUTO lacks a registered folder\n{r.summary()}")
    r = env.run("AUTOMATIC")
    check(r.out.count("Starting File walk") == 2, f"AUTOMATIC did not back up the added folder\n{r.summary()}")
    r = env.run("AUTOMATIC", "REMOVE", "1")
    check(f"Unregistered {a} from AUTOMATIC" in r.out, f"AUTOMATIC REMOVE 1 did not unregister {a}\n{r.summary()}")
    r = env.run("AUTOMATIC")
    check(r.out.count("Starting File walk") == 1 and f"Starting File walk...{b}" in r.out,
          f"AUTOMATIC still backs up the removed folder\n{r.summary()}")
    r = env.run("AUTOMATIC", "REMOVE", b)
    r = env.run("AUTOMATIC", rc=1)
    check(any("registered for AUTOMATIC" in e for e in r.errors()), f"AUTOMATIC with none registered\n{r.summary()}")
    r = env.run("LIST", "BACKUPS")
    check(len(re.findall(rf"^\s+\d+\s+{DATE_S}", r.out, re.M)) == 4, f"the backups of removed folders are gone\n"
                                                                       f"{r.summary()}")
    r = env.run("AUTOMATIC", "REMOVE", "/nowhere", rc=1)
    check(any("LIST AUTO" in e for e in r.errors()), f"AUTOMATIC REMOVE of an unknown folder\n{r.summary()}")


@test
def include_overrides_every_exclusion(env):
    """INCLUDE wins over an excluded folder (EXCLUDE '/docs$') and over SET HIDDEN NO: the files
    it matches inside are backed up and restored, nothing else there is."""
    src = mkdirs(env.base, "src")
    mkdirs(src, "docs", "deep")
    write(f"{src}/docs/notes.txt", "notes\n")
    write(f"{src}/docs/other.txt", "excluded\n")
    write(f"{src}/docs/deep/notes.txt", "deep notes\n")
    mkdirs(src, ".config")
    write(f"{src}/.config/keep.conf", "kept\n")
    write(f"{src}/.config/drop.conf", "hidden\n")
    write(f"{src}/plain.txt", "plain\n")
    r = env.first_backup(src, "EXCLUDE", "/docs$", "INCLUDE", r"notes\.txt$", "INCLUDE", r"keep\.conf$",
                         "SET", "HIDDEN", "NO")
    t = env.new_target("restore")
    env.restore(t, folder=src)
    got = sorted(os.path.relpath(os.path.join(d, n), t + src) for d, ds, fs in os.walk(t + src) for n in fs)
    check(got == [".config/keep.conf", "docs/deep/notes.txt", "docs/notes.txt", "plain.txt"],
          f"INCLUDE did not override the exclusions: restored {got}\n{r.summary()}")
    # Unchanged: nothing new is stored, and nothing recorded as deleted.
    r = env.backup(src)
    check(re.search(r"complete: 0 files stored .* 0 deleted", r.out), f"an unchanged second backup changed\n{r.summary()}")
    # Excluded directories whose names change each run (caches, tmp) and where INCLUDE finds
    # nothing do not grow the catalog.
    def paths():
        m = re.search(r"Catalog: (\d+) paths?", env.run("MEMSTATS").out)
        return int(m.group(1))
    before = paths()
    for run in range(2):
        for i in range(5):
            mkdirs(src, "docs", f"tmp{run}-{i}")
        r = env.backup(src)
    check(paths() == before, f"excluded directories with nothing included grew the catalog: {before} -> {paths()}")
    # The INCLUDE dropped: what it kept in the excluded folder is recorded as deleted.
    r = env.backup(src, "INCLUDE", "RESET", "SET", "DELETIONS", "YES")
    t = env.new_target("restore2")
    env.restore(t, folder=src)
    got = sorted(os.path.relpath(os.path.join(d, n), t + src) for d, ds, fs in os.walk(t + src) for n in ds + fs)
    check(got == ["plain.txt"], f"after INCLUDE RESET the excluded folders should be gone: {got}\n{r.summary()}")


@test(stores=("local",))
def small_words_right(env):
    """MEMSTATS' peak is never below the current figure; a dry run of a new folder says what it
    would do ("Would create top level folder"); counts of one are singular."""
    first = mkdirs(env.base, "first")
    write(f"{first}/x.txt", "x\n")
    env.first_backup(first)
    src = mkdirs(env.base, "src")
    write(f"{src}/only.txt", "one\n")
    r = env.backup(src, "SET", "DRYRUN", "YES")
    check(f"Would create top level folder {src}" in r.out and "Created top level folder" not in r.out,
          f"the dry run says it created the folder\n{r.summary()}")
    check("Dry run: 1 file (" in r.out, f"the dry-run summary is not singular for one file\n{r.summary()}")
    r = env.backup(src)
    check("complete: 1 file stored" in r.out and "in 1 container)" in r.out, f"plural for one file\n{r.summary()}")
    r = env.run("LIST", "BACKUPS", "MEMSTATS")
    cur = re.search(r"Resident memory: ([\d.]+) (\w+)", r.out)
    peak = re.search(r"Peak resident memory: ([\d.]+) (\w+)", r.out)
    units = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}
    check(cur and peak, f"MEMSTATS lacks its lines\n{r.summary()}")
    check(float(peak.group(1)) * units[peak.group(2)] >= float(cur.group(1)) * units[cur.group(2)],
          f"MEMSTATS peak below the current figure\n{r.summary()}")


# ---------------------------------------------------------------------------- S3 only
#
# These run only with --store s3: they are about the S3 store itself (an independent client,
# credentials, a server that goes away, multipart uploads and memory, staging, locking by
# listing).

S3_ONLY = ("s3",)
AWS_CLI = "/usr/bin/aws"  # awscli from Debian: never a pyenv shim found on PATH


def aws(env, *args, timeout=60):
    """Runs the AWS CLI against the test server, with nothing of Seshat's (or the caller's)
    settings: its own HOME, the test credentials in the environment."""
    e = {k: v for k, v in os.environ.items()
         if not k.startswith(("AWS_", "SESHAT_")) and k not in ("PYTHONPATH", "PYTHONHOME")}
    e.update({"HOME": mkdirs(env.base, "aws-home"), "AWS_ACCESS_KEY_ID": S3_KEY, "AWS_SECRET_ACCESS_KEY": S3_KEY,
              "AWS_DEFAULT_REGION": "us-east-1", "AWS_PAGER": "", "AWS_EC2_METADATA_DISABLED": "true"})
    cmd = [AWS_CLI, "--endpoint-url", env.server.url] + list(args)
    try:
        p = subprocess.run(cmd, env=e, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        raise TestFailure(f"{' '.join(cmd)} did not finish in {timeout} s")
    out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    check(p.returncode == 0, f"{' '.join(cmd)} failed with exit {p.returncode}\n--- stdout ---\n{clip(out)}\n"
                             f"--- stderr ---\n{clip(err)}")
    return out


def server_tree(env):
    """Everything the S3 server holds on disk: objects, their metadata, unfinished uploads, buckets."""
    return dir_listing(env.server.data)


def fill(folder, n_files, size, prefix="f", compressible=False):
    """n_files files of `size` bytes: random, or (compressible) text that compresses well
    without being one repeated block."""
    mkdirs(folder)
    for i in range(n_files):
        if compressible:
            words = [os.urandom(6).hex() for _ in range(512)]
            rng = int.from_bytes(os.urandom(4), "little")
            parts, have = [], 0
            while have < size:
                rng = (rng * 1103515245 + 12345) & 0x7FFFFFFF
                line = " ".join(words[(rng >> k) % 512] for k in (0, 3, 7, 11, 13)) + f" {have}\n"
                parts.append(line)
                have += len(line)
            data = "".join(parts).encode()[:size]
        else:
            data = os.urandom(size)
        write(os.path.join(folder, f"{prefix}{i:03}.bin"), data)


def log_time(line):
    """The seconds since midnight of a log line's HH:MM:SS.mmm stamp."""
    m = re.match(r"^(\d\d):(\d\d):(\d\d)\.(\d\d\d) ", line)
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + int(m.group(3)) + int(m.group(4)) / 1000 if m else None


class Reader:
    """Collects the merged output of a popen()ed seshat in a thread; wait_for() waits for a line."""

    def __init__(self, proc):
        self.proc, self.lines = proc, []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for raw in self.proc.stdout:
            with self.cond:
                self.lines.append(raw.decode(errors="replace"))
                self.cond.notify_all()
        with self.cond:
            self.lines.append(None)  # end of output
            self.cond.notify_all()

    def wait_for(self, needle, timeout):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                if any(l is not None and needle in l for l in self.lines):
                    return True
                if self.lines and self.lines[-1] is None:
                    return False
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)

    def finish(self, timeout):
        """Waits for the process; returns its exit status, or None if it still runs."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self.thread.join(10)
        return rc

    def text(self):
        with self.cond:
            return "".join(l for l in self.lines if l is not None)


@test(stores=S3_ONLY)
def s3_independent_client_reads_layout(env):
    """The AWS CLI sees the documented layout and downloads exactly the bytes Seshat wrote,
    including a container uploaded in parts (and downloaded by the CLI in ranges)."""
    if not os.access(AWS_CLI, os.X_OK):
        raise Skip(f"{AWS_CLI} is missing (apt-get install awscli)")
    src = mkdirs(env.base, "src")
    write(f"{src}/big.bin", os.urandom(11 << 20))
    for i in range(10):
        write(f"{src}/small{i}.txt", f"small file {i}\n" * (i + 1))
    snap = snapshot(src)
    r = env.first_backup(src, extra_env={"SESHAT_S3_PART_SIZE": str(5 << 20)})
    check("Uploading multipart part file" in r.out,
          f"an 11 MB container with 5 MiB parts was not uploaded in parts\n{r.summary()}")

    listed = {}
    out = aws(env, "s3", "ls", "--recursive", f"s3://{BUCKET}/")
    for line in out.splitlines():
        m = re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +(\d+) (.+)$", line)
        check(m, f"aws s3 ls printed a line it should not: {line!r}\n{clip(out)}")
        listed[m.group(2)] = int(m.group(1))
    layout = {"config": r"seshat/config", "key": r"seshat/keys/[0-9a-f]{16}", "db": r"seshat/db/\d{20}",
              "container": r"containers/SEF_[^/]+"}
    kinds = {}
    for key in listed:
        kind = [k for k, rx in layout.items() if re.fullmatch(rx, key)]
        check(kind, f"aws s3 ls shows {key}, which is not in the documented layout\n{clip(out)}")
        kinds.setdefault(kind[0], []).append(key)
    for k in layout:
        check(kinds.get(k), f"aws s3 ls shows no {k} object\n{clip(out)}")
    check(len(kinds["config"]) == 1, f"more than one seshat/config\n{clip(out)}")
    on_server = env.store.objects()
    check(set(listed) == set(on_server), f"aws s3 ls and the server's files disagree: "
                                         f"{sorted(set(listed) ^ set(on_server))}")
    for key, size in listed.items():
        check(size == os.path.getsize(on_server[key]), f"aws s3 ls gives {key} {size} bytes, the server holds "
                                                       f"{os.path.getsize(on_server[key])}")

    biggest = max(kinds["container"], key=lambda k: listed[k])
    check(listed[biggest] > (10 << 20), f"the biggest container is only {listed[biggest]} bytes")
    # The biggest container alone (the CLI downloads objects over 8 MB in ranged parts), then
    # every object of the bucket.
    dl = mkdirs(env.base, "download")
    one = os.path.join(dl, "biggest")
    aws(env, "s3", "cp", "--no-progress", f"s3://{BUCKET}/{biggest}", one)
    check(os.path.getsize(one) == listed[biggest] and file_sha(one) == file_sha(on_server[biggest]),
          f"aws s3 cp of {biggest} gave other bytes than the server stored for it")
    note(f"aws s3 cp read {biggest} ({listed[biggest]} bytes, uploaded in parts) intact")
    whole = mkdirs(dl, "bucket")
    aws(env, "s3", "cp", "--no-progress", "--recursive", f"s3://{BUCKET}/", whole)
    for key in listed:
        dest = os.path.join(whole, *key.split("/"))
        check(os.path.isfile(dest), f"aws s3 cp --recursive did not download {key}")
        check(os.path.getsize(dest) == listed[key] and file_sha(dest) == file_sha(on_server[key]),
              f"aws s3 cp of {key} gave other bytes than the server stored for it")
    with open(os.path.join(whole, "seshat", "config")) as f:
        cfg = f.read()
    check(cfg.lstrip().startswith("{"), f"seshat/config as read by aws is not the plaintext JSON: {cfg[:100]!r}")

    t = env.new_target("restore")
    env.restore(t, number=1)
    compare_trees(snap, snapshot(restored(t, src)), "restore of what the AWS CLI read back")


def raw_http(port, head, body, send_all=True, timeout=10):
    """Sends one request by hand (so that it can lie about its body); returns the answer's
    bytes, or b"" when the body was cut short (the socket is closed without reading)."""
    import socket
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(head.encode() + body[: len(body) if send_all else len(body) // 2])
        if not send_all:
            return b""
        out = b""
        while b"\r\n\r\n" not in out or len(out) < out.index(b"\r\n\r\n") + 4 + int(
                (re.search(rb"(?i)content-length: *(\d+)", out) or [0, b"0"])[1]):
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
        return out


@test(stores=S3_ONLY)
def s3_test_server_refuses_incomplete_bodies(env):
    """The S3 test server behaves like S3 where the campaigns depend on it: a PUT whose body is
    cut short (its client killed), or whose bytes do not match the signed
    x-amz-content-sha256 or the Content-MD5, is refused and stores nothing; an object that
    existed keeps its bytes."""
    src = mkdirs(env.base, "src")
    write(f"{src}/a.txt", "a\n")
    env.first_backup(src)
    config = env.store.object_file("seshat/config")
    with open(config, "rb") as f:
        before = f.read()
    body = os.urandom(200_000)
    sha = hashlib.sha256(body).hexdigest()
    md5 = __import__("base64").b64encode(hashlib.md5(body).digest()).decode()
    port = env.server.port
    for key in ("seshat/config", "probe/new-object"):
        head = (f"PUT /{BUCKET}/{key} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {len(body)}\r\n"
                f"x-amz-content-sha256: {sha}\r\n\r\n")
        raw_http(port, head, body, send_all=False)
    wrong_sha = hashlib.sha256(body + b"x").hexdigest()
    head = (f"PUT /{BUCKET}/probe/sha HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {len(body)}\r\n"
            f"x-amz-content-sha256: {wrong_sha}\r\n\r\n")
    out = raw_http(port, head, body)
    check(b" 400 " in out.split(b"\r\n", 1)[0] and b"XAmzContentSHA256Mismatch" in out,
          f"a PUT whose body does not match its x-amz-content-sha256 was not refused: {out[:300]!r}")
    head = (f"PUT /{BUCKET}/probe/md5 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {len(body)}\r\n"
            f"x-amz-content-sha256: {sha}\r\nContent-MD5: {md5[:-4]}AAA=\r\n\r\n")
    out = raw_http(port, head, body)
    check(b" 400 " in out.split(b"\r\n", 1)[0] and b"BadDigest" in out,
          f"a PUT whose body does not match its Content-MD5 was not refused: {out[:300]!r}")
    time.sleep(0.5)  # a request the server wrongly kept would be written by now
    with open(config, "rb") as f:
        check(f.read() == before, "seshat/config was changed by a PUT whose body was cut short")
    stored = sorted(k for k in env.store.objects() if k.startswith("probe/"))
    check(not stored, f"refused PUTs stored objects: {stored}")
    r = env.run("LIST", "BACKUPS")
    check(src in r.out, f"the repository does not work after the refused requests\n{r.summary()}")


@test(stores=S3_ONLY)
def s3_test_server_puts_are_atomic(env):
    """As on S3, a reader of an object that is being replaced gets the old object or the new
    one, never a mix or a part (s3rver rewrites files in place: the test server's front keeps
    writes of a key apart from its reads)."""
    port = env.server.port
    versions = [bytes([65 + i]) * (3 << 20) for i in range(2)]
    key = f"/{BUCKET}/probe/atomic"

    def put(data):
        head = (f"PUT {key} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {len(data)}\r\n"
                f"x-amz-content-sha256: {hashlib.sha256(data).hexdigest()}\r\n\r\n")
        out = raw_http(port, head, data, timeout=60)
        check(b" 200 " in out.split(b"\r\n", 1)[0], f"a PUT failed: {out[:200]!r}")

    put(versions[0])
    stop = threading.Event()

    def writer():
        i = 1
        while not stop.is_set():
            put(versions[i % 2])
            i += 1

    t = threading.Thread(target=writer)
    t.start()
    seen = set()
    try:
        for _ in range(40):
            out = raw_http(port, f"GET {key} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n", b"", timeout=60)
            body = out.split(b"\r\n\r\n", 1)[1]
            check(body in versions, f"a GET during PUTs got {len(body)} bytes that are neither version "
                                    f"(starting {body[:8]!r})")
            seen.add(body[:1])
    finally:
        stop.set()
        t.join(60)
    note(f"40 GETs during PUTs of a 3 MB object; versions seen: {sorted(seen)}")


@test(stores=S3_ONLY)
def s3_bad_credentials_and_bucket(env):
    """A wrong secret, an unknown access key, no credentials at all, a bucket that does not
    exist: one clear ERROR line each, a non-zero exit, nothing written to the server."""
    src = mkdirs(env.base, "src")
    write(f"{src}/a.txt", "a\n")
    env.first_backup(src)
    write(f"{src}/b.txt", "b\n")
    check(not os.path.exists(os.path.join(env.home, ".aws")), "test setup: HOME has an .aws directory")
    before = server_tree(env)
    no_creds = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE")
    cases = [
        ("a wrong secret key", {"AWS_SECRET_ACCESS_KEY": "wrong"}, (), ["secret", "SignatureDoesNotMatch"]),
        ("an unknown access key", {"AWS_ACCESS_KEY_ID": "NOSUCHKEY"}, (), ["access key"]),
        ("no credentials", {}, no_creds, ["credentials", "AWS_ACCESS_KEY_ID"]),
    ]
    for what, extra, unset, words in cases:
        # The existing repository, and an empty bucket (where a repository would be created).
        for bucket, cmd in ((BUCKET, ["BACKUP", src]), (BUCKET, ["LIST", "BACKUPS"]), (SPARE_BUCKET, ["BACKUP", src])):
            r = env.run("S3", "BUCKET", bucket, *cmd, rc="nonzero", extra_env=extra, unset=unset, timeout=30)
            errs = r.errors()
            check(len(errs) == 1, f"{what}, {cmd[0]} in {bucket}: expected one ERROR line, got {len(errs)}\n{r.summary()}")
            check(all(w.lower() in errs[0].lower() for w in words),
                  f"{what}: the ERROR line does not say so clearly (expected {words}): {errs[0]}")
            check("Starting File walk" not in r.out, f"{what}: a backup started\n{r.summary()}")
            check(r.elapsed < 10, f"{what}: it took {r.elapsed:.1f} s to give up (a permanent error is retried?)")
            compare_listings(before, server_tree(env), f"{what}, {cmd[0]} in {bucket}")

    r = env.run("S3", "BUCKET", "nosuchbucket", "BACKUP", src, rc="nonzero", timeout=30)
    errs = r.errors()
    check(len(errs) == 1, f"a missing bucket: expected one ERROR line, got {len(errs)}\n{r.summary()}")
    check("nosuchbucket" in errs[0] and "exist" in errs[0], f"the ERROR line does not say the bucket is missing: {errs[0]}")
    check(r.elapsed < 10, f"a missing bucket: it took {r.elapsed:.1f} s to give up")
    compare_listings(before, server_tree(env), "BACKUP to a missing bucket")

    # All is well again with the right settings.
    env.run("S3", "BUCKET", BUCKET, "BACKUP", src)
    check(len(env.list_backups()) == 2, f"expected 2 backups at the end\n{env.last.summary()}")


@test(stores=S3_ONLY)
def s3_credentials_from_profile(env):
    """Credentials from ~/.aws/credentials: the default profile, a profile named by AWS_PROFILE,
    one named by S3 PROFILE (remembered; it wins over AWS_PROFILE and over keys in the
    environment, like the AWS CLI's --profile)."""
    src = mkdirs(env.base, "src")
    write(f"{src}/a.txt", "a\n")
    env.first_backup(src)  # keys from the environment
    aws_dir = mkdirs(env.home, ".aws")
    write(f"{aws_dir}/credentials",
          "[default]\naws_access_key_id = S3RVER\naws_secret_access_key = not-the-secret\n\n"
          "# the right one\n[seshat-it]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n\n"
          "[other]\naws_access_key_id = NOSUCHKEY\naws_secret_access_key = S3RVER\n", mode=0o600)
    no_env = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")

    r = env.run("LIST", "BACKUPS", rc="nonzero", unset=no_env)
    check(any("SignatureDoesNotMatch" in l for l in r.errors()),
          f"without keys in the environment the [default] profile (wrong secret) was not used\n{r.summary()}")

    write(f"{src}/b.txt", "b\n")
    env.backup(src, unset=no_env, extra_env={"AWS_PROFILE": "seshat-it"})

    r = env.run("LIST", "BACKUPS", rc="nonzero", unset=no_env, extra_env={"AWS_PROFILE": "nosuchprofile"})
    check(any("nosuchprofile" in l for l in r.errors()),
          f"AWS_PROFILE names a missing profile: the ERROR does not name it\n{r.summary()}")

    write(f"{src}/c.txt", "c\n")
    env.backup(src, "S3", "PROFILE", "seshat-it", unset=no_env)
    with open(os.path.join(env.home, ".seshatrc")) as f:
        check('"seshat-it"' in f.read(), "S3 PROFILE was not remembered in ~/.seshatrc")
    write(f"{src}/d.txt", "d\n")
    env.backup(src, unset=no_env)  # remembered
    write(f"{src}/e.txt", "e\n")
    env.backup(src, unset=no_env, extra_env={"AWS_PROFILE": "other"})  # S3 PROFILE wins
    write(f"{src}/f.txt", "f\n")
    env.backup(src, extra_env={"AWS_SECRET_ACCESS_KEY": "wrong"})  # S3 PROFILE wins over the environment

    env.run("S3", "PROFILE", "other")
    r = env.run("LIST", "BACKUPS", rc="nonzero", check_lock=False)
    check(any("access key" in l for l in r.errors()), f"S3 PROFILE other (unknown key) did not fail clearly\n{r.summary()}")
    env.run("S3", "PROFILE", "seshat-it")

    rows = env.list_backups()
    check(len(rows) == 6, f"expected 6 backups\n{env.last.summary()}")
    snap = snapshot(src)
    t = env.new_target("restore")
    env.restore(t, folder=src)
    compare_trees(snap, snapshot(restored(t, src)), "restore with credentials from a profile")


@test(stores=S3_ONLY)
def s3_server_stopped_mid_backup(env):
    """The server dies in the middle of a 100 MB backup: the backup gives up with a clear
    message within a bounded time; with the server back (same data, same port) the next
    backup completes and the restore is identical."""
    src = mkdirs(env.base, "src")
    for d in range(4):
        fill(os.path.join(src, f"d{d}"), 50, 500 << 10)
    env.run(*env.store_tokens(), "SET", "MAX", "16", "MB", "INITIALIZE")
    snap = snapshot(src)
    port = env.server.port

    knobs = {"SESHAT_S3_ATTEMPTS": "4", "SESHAT_S3_BACKOFF_MS": "200"}
    p = env.popen(["BACKUP", src], extra_env=knobs)
    rd = Reader(p)
    hit = rd.wait_for("Closed container", 0.5)
    check(p.poll() is None, f"the backup ended before the server could be stopped\n{clip(rd.text())}")
    env.server.stop(signal.SIGKILL)
    stopped = time.monotonic()
    what = "after the first 'Closed container'" if hit else "0.5 s after the start"
    rc = rd.finish(45)
    if rc is None:
        raise TestFailure(f"the backup did not give up within 45 s after the server stopped ({what})\n"
                          f"{clip(rd.text())}")
    gave_up = time.monotonic() - stopped
    out = rd.text()
    errs = [l for l in out.splitlines() if " ERROR - " in l]
    note(f"server killed {what}; the backup gave up {gave_up:.1f} s later, exit {rc}; "
         f"{errs[0].split(' - ', 1)[1][:150] if errs else 'no ERROR line'}")
    check(rc != 0, f"the backup exited 0 although the server was killed {what}\n{clip(out)}")
    check("complete:" not in out, f"the backup claims to be complete\n{clip(out)}")
    check(errs, f"no ERROR line after the server was killed\n{clip(out)}")
    check(any(re.search(r"reach S3|connect|attempts", l) for l in errs),
          f"the ERROR does not say S3 cannot be reached:\n" + "\n".join(errs))
    check(gave_up < 30, f"the backup needed {gave_up:.1f} s to give up with 4 attempts and 200 ms backoff")

    env.server.start(port=port)
    r = env.backup(src, timeout=60)
    check("locked by" not in r.text(), f"the lock of the failed run was not taken over\n{r.summary()}")
    note(f"the backup after the restart took {r.elapsed:.1f} s; warnings: "
         f"{[l.split(' - ', 1)[1][:80] for l in r.warns()][:3]}")
    t = env.new_target("restore")
    env.restore(t, folder=src, timeout=60)
    compare_trees(snap, snapshot(restored(t, src)), "restore after the server was killed and restarted")
    r = env.backup(src)
    check("Found: 0 to backup" in r.out, f"after the backup that completed, another backup still finds files\n{r.summary()}")
    rows = env.list_backups()
    check(rows and "(incomplete)" not in rows[-1]["line"],
          f"the newest backup is not shown as complete in LIST BACKUPS\n{env.last.summary()}")


def peak_rss_mb(r):
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.err)
    return int(m.group(1)) / 1024 if m else None


def run_measured(env, tokens, extra_env, timeout=120):
    """Runs seshat (must succeed) and measures its peak RSS: with /usr/bin/time -v where there
    is one, else by polling VmHWM (the kernel's own high-water mark). Returns (result, MB, how)."""
    if os.access("/usr/bin/time", os.X_OK):
        r = env.run(*tokens, extra_env=extra_env, prefix=["/usr/bin/time", "-v"], timeout=timeout)
        peak = peak_rss_mb(r)
        check(peak is not None, f"/usr/bin/time -v gave no peak RSS\n{r.summary()}")
        return r, peak, "/usr/bin/time -v"
    p = env.popen(tokens, extra_env=extra_env)
    rd = Reader(p)
    peak, t0 = 0, time.monotonic()
    while p.poll() is None and time.monotonic() - t0 < timeout:
        try:
            with open(f"/proc/{p.pid}/status") as f:
                m = re.search(r"VmHWM:\s+(\d+) kB", f.read())
                peak = max(peak, int(m.group(1)) / 1024) if m else peak
        except OSError:
            pass
        time.sleep(0.02)
    rc = rd.finish(10)
    r = Result(tokens, rc, rd.text(), "", time.monotonic() - t0)
    check(rc == 0, f"the backup failed\n{r.summary()}")
    return r, peak, "VmHWM polled"


@test(stores=S3_ONLY)
def s3_large_backup_bounded_memory(env):
    """300 MB in 64 MB containers uploaded in 5 MiB parts: the backup's peak RSS stays below a
    generous bound and the restore is identical."""
    src = mkdirs(env.base, "src")
    fill(os.path.join(src, "random"), 30, 8 << 20)  # 240 MB that does not compress
    fill(os.path.join(src, "text"), 6, 10 << 20, compressible=True)  # 60 MB that does
    write(f"{src}/small.txt", "small\n")
    snap = snapshot(src)
    total = sum(e[3] for e in snap.values() if e[0] == "file")
    knobs = {"SESHAT_S3_PART_SIZE": str(5 << 20)}
    timer = ["/usr/bin/time", "-v"] if os.access("/usr/bin/time", os.X_OK) else []
    r, peak, how = run_measured(env, env.store_tokens() + ["SET", "MAX", "64", "MB", "BACKUP", src], knobs)
    n = len(env.store.containers())
    note(f"peak RSS {peak:.1f} MB ({how}) backing up {total / 2**20:.0f} MB into {n} containers "
         f"of at most 64 MB with 5 MiB parts in {r.elapsed:.1f} s")
    check("Uploading multipart part file" in r.out, f"no multipart upload for 64 MB containers\n{r.summary()}")
    check(n >= 4, f"{total >> 20} MB with SET MAX 64 MB went into {n} containers")
    biggest = max(os.path.getsize(env.store.container_file(c)) for c in env.store.containers())
    check(biggest <= (64 << 20) + (1 << 20), f"a container is {biggest} bytes with SET MAX 64 MB")
    # A sanitizer build carries its own memory overhead (shadow memory, quarantine).
    bound = 250 * (3 if os.environ.get("SESHAT_TEST_SANITIZED") else 1)
    check(peak < bound, f"the backup's peak RSS is {peak:.1f} MB (bound: {bound} MB)")

    t = env.new_target("restore")
    r = env.restore(t, number=1, timeout=120)
    note(f"restore took {r.elapsed:.1f} s")
    compare_trees(snap, snapshot(restored(t, src)), "restore of the 300 MB backup")


@test(stores=S3_ONLY)
def s3_upload_memory_independent_of_container_size(env):
    """A container is streamed to S3 in parts with at most a few parts in memory (S3Options:
    parts_in_flight = 4), so the backup's peak RSS must not grow with SET MAX. The same 160 MB
    backed up twice with 5 MiB parts: in 16 MB containers, and in one 160 MB container (into a
    second, empty bucket). The two peaks may differ by far less than a container."""
    src = mkdirs(env.base, "src")
    fill(src, 16, 10 << 20)
    knobs = {"SESHAT_S3_PART_SIZE": str(5 << 20)}
    r1, small, how = run_measured(env, env.store_tokens() + ["SET", "MAX", "16", "MB", "BACKUP", src], knobs)
    spare = env.spare_store()
    r2, big, _ = run_measured(env, env.store_tokens(spare) + ["SET", "MAX", "256", "MB", "BACKUP", src], knobs)
    n1, n2 = len(env.store.containers()), len(spare.containers())
    note(f"peak RSS ({how}): {small:.1f} MB with SET MAX 16 MB ({n1} containers), {big:.1f} MB with "
         f"SET MAX 256 MB ({n2} containers); 5 MiB parts")
    check(n2 == 1 and n1 >= 9, f"test setup: {n1} and {n2} containers")
    check("Uploading multipart part file" in r2.out, f"no multipart upload\n{r2.summary()}")
    check(big - small < 64, f"the peak RSS grows with the container size: {small:.1f} MB with 16 MB containers, "
                            f"{big:.1f} MB with one 160 MB container (5 MiB parts, at most 4 in flight): the S3 "
                            f"upload holds (most of) a container in memory")


@test(stores=S3_ONLY)
def s3_delay_stages_containers(env):
    """SET DELAY YES: each container is written to the staging directory, then uploaded (in
    parts here) with the transfer log lines; no staging file is left; the restore is identical."""
    src = mkdirs(env.base, "src")
    fill(src, 5, 4 << 20)
    fill(os.path.join(src, "text"), 3, 2 << 20, compressible=True)
    snap = snapshot(src)
    staging = mkdirs(env.base, "staging")
    seen, stop = set(), threading.Event()

    def watch():
        while not stop.is_set():
            try:
                seen.update(staged_files(staging))
            except OSError:
                pass
            time.sleep(0.002)

    th = threading.Thread(target=watch, daemon=True)
    th.start()
    try:
        r = env.first_backup(src, "SET", "DELAY", "YES", "SET", "STAGING", staging, "SET", "MAX", "4", "MB",
                             extra_env={"SESHAT_S3_PART_SIZE": str(1 << 20)})
    finally:
        stop.set()
        th.join(5)
    n = len(env.store.containers())
    started = [l for l in r.out.splitlines() if "Transfer started. Size" in l]
    completed = [l for l in r.out.splitlines() if "Transfer complete" in l]
    uploading = [l for l in r.out.splitlines() if "Uploading multipart part file" in l]
    note(f"{n} containers; {len(started)} 'Transfer started', {len(completed)} 'Transfer complete', "
         f"{len(uploading)} 'Uploading multipart part file' lines; staging files seen: {len(seen)}")
    check(n >= 3, f"26 MB with SET MAX 4 MB went into {n} containers\n{r.summary()}")
    check(len(started) == n and len(completed) == n,
          f"expected one 'Transfer started' and one 'Transfer complete' line per container ({n})\n{r.summary()}")
    check(uploading, f"no 'Uploading multipart part file' line\n{r.summary()}")
    check(f"Staging area is: {staging}" in r.out, f"the staging area is not reported\n{r.summary()}")
    check(seen, "no file ever appeared in the staging directory during the backup")
    check(all(".seshat-staging-" in f for f in seen), f"unexpected names in the staging directory: {sorted(seen)}")
    left = staged_files(staging)
    check(not left, f"staging files were left behind: {left}")
    check(os.listdir(staging) == [f"seshat-{os.geteuid()}"], f"Seshat wrote outside its private staging directory: "
          f"{os.listdir(staging)}")

    t = env.new_target("restore")
    env.restore(t, number=1)
    compare_trees(snap, snapshot(restored(t, src)), "restore of a SET DELAY YES backup")

    write(f"{src}/later.txt", "added later\n")
    r = env.backup(src)  # SET DELAY YES is remembered
    check("Transfer complete" in r.out, f"SET DELAY YES was not remembered\n{r.summary()}")
    check(not staged_files(staging), f"staging files were left behind: {staged_files(staging)}")


def lock_window(out):
    """The times (seconds since midnight) at which a run got the DB lock and finished its backup."""
    got = done = None
    for line in out.splitlines():
        if "DB Lock acquired" in line and got is None:
            got = log_time(line)
        if re.search(r"INFO - Backup of .* complete:", line):
            done = log_time(line)
    return got, done


@test(stores=S3_ONLY)
def s3_concurrent_backups_lock(env):
    """Two processes back up two folders into one bucket at the same time. Without SET WAIT
    at least one succeeds and a loser names the holder; with SET WAIT YES both succeed, one
    after the other (and once more with b started while a surely holds the lock). The catalog
    then holds every successful backup of both folders, and both restore identical."""
    a, b = mkdirs(env.base, "folder_a"), mkdirs(env.base, "folder_b")
    fill(a, 15, 2 << 20, prefix="a")
    fill(b, 15, 2 << 20, prefix="b")
    env.run(*env.store_tokens(), "SET", "MAX", "8", "MB", "INITIALIZE")

    def both(extra_tokens):
        procs = [env.popen(extra_tokens + ["BACKUP", f]) for f in (a, b)]
        readers = [Reader(p) for p in procs]
        rcs = [rd.finish(60) for rd in readers]
        for (f, rd, rc) in zip((a, b), readers, rcs):
            check(rc is not None, f"the backup of {f} did not finish within 60 s\n{clip(rd.text())}")
        return procs, readers, rcs

    # Round 1: no waiting.
    procs, readers, rcs = both([])
    outs = [rd.text() for rd in readers]
    check(0 in rcs, "two concurrent backups without SET WAIT: neither succeeded\n" +
          "\n".join(f"--- {f} (exit {rc}) ---\n{clip(o)}" for f, rc, o in zip((a, b), rcs, outs)))
    for i, (rc, out) in enumerate(zip(rcs, outs)):
        if rc != 0:
            other = procs[1 - i].pid
            errs = [l for l in out.splitlines() if " ERROR - " in l]
            check(errs and "locked by" in errs[0] and HOST in errs[0] and re.search(rf"pid {other}\b", errs[0]),
                  f"the backup that lost the lock does not name the holder (host {HOST} pid {other})\n{clip(out)}")
            check("Starting File walk" not in out, f"the backup that lost the lock walked files\n{clip(out)}")
    if rcs == [0, 0]:
        # Both got the lock: then one after the other, never at the same time.
        (g1, d1), (g2, d2) = lock_window(outs[0]), lock_window(outs[1])
        check(d1 <= g2 or d2 <= g1, f"both backups held the DB lock at the same time: a {g1}-{d1}, b {g2}-{d2}")
    note(f"without SET WAIT: exits {rcs}")
    wins = {a: int(rcs[0] == 0), b: int(rcs[1] == 0)}
    check(not env.store.lock_keys(), f"lock records left after round 1: {env.store.lock_keys()}")

    # Round 2: both wait.
    write(f"{a}/new_a.txt", "added to a\n")
    write(f"{b}/new_b.txt", "added to b\n")
    sa, sb = snapshot(a), snapshot(b)
    procs, readers, rcs = both(["SET", "WAIT", "YES"])
    outs = [rd.text() for rd in readers]
    check(rcs == [0, 0], "two concurrent backups with SET WAIT YES: not both succeeded\n" +
          "\n".join(f"--- {f} (exit {rc}) ---\n{clip(o)}" for f, rc, o in zip((a, b), rcs, outs)))
    (g1, d1), (g2, d2) = lock_window(outs[0]), lock_window(outs[1])
    check(None not in (g1, d1, g2, d2), "a backup's log lacks 'DB Lock acquired' or 'complete'")
    check(d1 <= g2 or d2 <= g1, f"both backups held the DB lock at the same time: a {g1}-{d1}, b {g2}-{d2}")
    waited = [f for f, o in zip("ab", outs) if "Waiting for the DB lock" in o]
    note(f"with SET WAIT YES: both succeeded; waited: {waited or 'neither (no overlap)'}")
    check(not env.store.lock_keys(), f"lock records left after round 2: {env.store.lock_keys()}")

    # Round 3, an overlap for certain: b starts while a holds the lock (a has 40 MB to store).
    fill(a, 4, 10 << 20, prefix="more_a")
    write(f"{b}/newer_b.txt", "added to b again\n")
    sa, sb = snapshot(a), snapshot(b)
    pa = env.popen(["BACKUP", a])  # SET WAIT YES is remembered
    ra = Reader(pa)
    check(ra.wait_for("DB Lock acquired", 30), f"the backup of a did not get the lock\n{clip(ra.text())}")
    pb = env.popen(["BACKUP", b])
    rb = Reader(pb)
    rcs = [ra.finish(60), rb.finish(60)]
    outs = [ra.text(), rb.text()]
    check(rcs == [0, 0], "a backup waiting for the lock: not both succeeded\n" +
          "\n".join(f"--- {f} (exit {rc}) ---\n{clip(o)}" for f, rc, o in zip((a, b), rcs, outs)))
    check(re.search(rf"Waiting for the DB lock held by host {HOST} pid {pa.pid}\b", outs[1]),
          f"the backup of b did not say it waits for the lock of pid {pa.pid}\n{clip(outs[1])}")
    (g1, d1), (g2, d2) = lock_window(outs[0]), lock_window(outs[1])
    check(d1 <= g2, f"b got the DB lock at {g2} while a held it until {d1}")
    check(not env.store.lock_keys(), f"lock records left after round 3: {env.store.lock_keys()}")

    rows = env.list_backups()
    per = {}
    for row in rows:
        per[row["folder"]] = per.get(row["folder"], 0) + 1
    want = {a: wins[a] + 2, b: wins[b] + 2}
    check(per == want, f"LIST BACKUPS shows {per}, expected {want}\n{env.last.summary()}")
    check(all("(incomplete)" not in row["line"] for row in rows), f"an incomplete backup\n{env.last.summary()}")
    for folder, snap in ((a, sa), (b, sb)):
        t = env.new_target("restore")
        env.restore(t, folder=folder)
        compare_trees(snap, snapshot(restored(t, folder)), f"restore of {os.path.basename(folder)} after concurrent backups")


# ---------------------------------------------------------------------------- main

def run_one(name):
    env = Env(name, STORE_KIND)
    t0 = time.monotonic()
    try:
        env.start()
        TESTS[name][0](env)
        status, msg = "PASS", ""
    except Skip as e:
        status, msg = "SKIP", str(e)
    except TestFailure as e:
        status, msg = "FAIL", str(e)
    except Exception as e:  # a bug in the test or an unexpected program state
        import traceback
        status, msg = "FAIL", "unexpected exception:\n" + clip(traceback.format_exc(), 3000)
    finally:
        env.cleanup()
    return status, msg, time.monotonic() - t0


def on_sigterm(signum, frame):
    # ctest's timeout, or a user: unwind so that the finally clauses stop the S3 server and
    # any seshat still running.
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv):
    global BINARY, STORE_KIND
    args = []
    rest = argv[1:]
    while rest:
        a = rest.pop(0)
        if a == "--store" and rest:
            STORE_KIND = rest.pop(0)
        elif a.startswith("--store="):
            STORE_KIND = a.split("=", 1)[1]
        else:
            args.append(a)
    if STORE_KIND not in STORE_KINDS:
        print(f"--store takes {' or '.join(STORE_KINDS)}, not {STORE_KIND!r}", file=sys.stderr)
        return 2
    mine = [n for n, (_, stores) in TESTS.items() if STORE_KIND in stores]
    if args and args[0] == "--list":
        for n in mine:
            print(n)
        return 0
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    BINARY = os.path.abspath(args[0])
    if not os.access(BINARY, os.X_OK):
        print(f"FAIL: {BINARY} is not an executable", file=sys.stderr)
        return 2
    names = args[1:] or ["all"]
    if names == ["all"]:
        names = mine
    unknown = [n for n in names if n not in TESTS]
    if unknown:
        print(f"unknown test(s): {', '.join(unknown)}; --list shows them", file=sys.stderr)
        return 2
    other = [n for n in names if n not in mine]
    if other:
        print(f"test(s) not run with --store {STORE_KIND}: {', '.join(other)}; --store {STORE_KIND} --list shows "
              f"those that are", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, on_sigterm)
    failed = skipped = 0
    for n in names:
        status, msg, secs = run_one(n)
        if status == "FAIL":
            failed += 1
            print(f"FAIL {n} ({secs:.1f} s): {msg}")
        elif status == "SKIP":
            skipped += 1
            print(f"SKIP {n} ({secs:.1f} s): {msg}")
        else:
            print(f"PASS {n} ({secs:.1f} s)")
        sys.stdout.flush()
    if len(names) > 1:
        print(f"{len(names) - failed - skipped} of {len(names)} passed, {skipped} skipped")
    if failed:
        return 1
    # A skip is not a pass: CTest reports exit status SKIP_RETURN_CODE as "Skipped".
    return SKIP_RETURN_CODE if skipped == len(names) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
