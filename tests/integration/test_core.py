#!/usr/bin/env python3
"""Integration tests for Seshat: drive the built program from outside.

Usage:
  test_core.py --list                    print the test names, one a line
  test_core.py <seshat-binary> <name>    run one test (exit 0 pass, 1 fail)
  test_core.py <seshat-binary> [all]     run every test and print a summary

Each test works in its own temporary directories (removed at the end), with HOME pointing
at a private directory (Seshat keeps ~/.seshatrc there), SESHAT_PASSWORD set and cheap key
derivation. Standard library only.
"""
import hashlib
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time

BINARY = None
TESTS = {}

PASSWORD = "correct horse battery staple"
HOST = "itest-host"
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
NOBODY = 65534


class TestFailure(Exception):
    pass


class Skip(Exception):
    pass


def test(fn):
    TESTS[fn.__name__] = fn
    return fn


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


def store_listing(store):
    """Every file of the store with its size and SHA-256, and every directory."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(store):
        rel = os.path.relpath(dirpath, store)
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


def store_size(store):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(store) for f in fs)


def containers(store):
    d = os.path.join(store, "containers")
    if not os.path.isdir(d):
        return []
    return sorted(f for f in os.listdir(d) if f.startswith("SEF_"))


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
    """One test's private world: a temporary base directory with HOME and the store in it."""

    def __init__(self, name):
        self.base = tempfile.mkdtemp(prefix=f"seshat-it-{name}-")
        self.home = mkdirs(self.base, "home")
        self.store = mkdirs(self.base, "store")
        self.binary = BINARY
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SESHAT_")}
        self.env.update({
            "HOME": self.home,
            "SESHAT_PASSWORD": PASSWORD,
            "SESHAT_KDF_MEMLIMIT": "8388608",
            "SESHAT_KDF_OPSLIMIT": "1",
            "SESHAT_HOSTNAME": HOST,
        })
        self.last = None
        self.restored_parent_modes = []

    def cleanup(self):
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

    def run(self, *tokens, rc=0, exit=True, extra_env=None, unset=(), input=None, timeout=60, prefix=(),
            check_lock=True):
        tokens = list(tokens) + (["EXIT"] if exit else [])
        env = dict(self.env)
        env.update(extra_env or {})
        for k in unset:
            env.pop(k, None)
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
            check(not os.path.exists(os.path.join(self.store, "seshat", "locks", "lock")),
                  f"the DB lock was left behind after a successful run\n{r.summary()}")
        return r

    def first_backup(self, folder, *before, **kw):
        return self.run("STORE", "LOCAL", self.store, *before, "BACKUP", folder, **kw)

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
            m = re.match(r"^\s*(\d+)\s+(\d\d-\w{3}-\d{4} \d\d:\d\d)\s+(\S+)\s+(\S+)\s+(\d+) files", line)
            if m:
                rows.append({"n": int(m.group(1)), "host": m.group(3), "folder": m.group(4),
                             "files": int(m.group(5)), "line": line})
        return rows


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
    before = containers(env.store)
    check(len(before) >= 1, "the first backup wrote no container")
    r = env.backup(src)
    check("No changed files" in r.out, f"the unchanged backup did not say 'No changed files'\n{r.summary()}")
    check(re.search(r"Found: 0 to backup", r.out), f"the unchanged backup found files to back up\n{r.summary()}")
    after = containers(env.store)
    check(before == after, f"the unchanged backup wrote containers: before {before}, after {after}")


@test
def renamed_big_file_not_stored_again(env):
    src = mkdirs(env.base, "src")
    write(f"{src}/big.bin", os.urandom(50 << 20))
    write(f"{src}/small.txt", "small\n")
    env.first_backup(src)
    size1 = store_size(env.store)
    check(size1 > (50 << 20), f"the store holds {size1} bytes after backing up a 50 MB random file")
    os.rename(f"{src}/big.bin", f"{src}/renamed.bin")
    set_mtime(src, T2)
    snap = snapshot(src)
    env.backup(src)
    grown = store_size(env.store) - size1
    check(grown < (1 << 20), f"after renaming the 50 MB file the store grew by {grown} bytes (expected < 1 MB)")
    t = env.new_target("restore")
    env.restore(t, number=2)
    compare_trees(snap, snapshot(restored(t, src)), "restore after the rename")


@test
def max_container_size_splits_and_packs(env):
    src = mkdirs(env.base, "src")
    write(f"{src}/big.bin", os.urandom(20 << 20))
    env.first_backup(src, "SET", "MAX", "1", "MB")
    n1 = len(containers(env.store))
    check(n1 >= 10, f"a 20 MB file with SET MAX 1 MB went into {n1} containers (expected >= 10)\n"
                    f"{env.last.summary()}")
    biggest = max(os.path.getsize(os.path.join(env.store, "containers", c)) for c in containers(env.store))
    check(biggest <= (1 << 20) + (256 << 10), f"a container is {biggest} bytes with SET MAX 1 MB")
    snap1 = snapshot(src)
    t1 = env.new_target("restore1")
    env.restore(t1, number=1)
    compare_trees(snap1, snapshot(restored(t1, src)), "restore of the 20 MB file")

    small = mkdirs(src, "small")
    for i in range(2000):
        write(f"{small}/s{i:04}.dat", os.urandom(100))
    r = env.backup(src)  # SET MAX 1 MB is remembered
    new = len(containers(env.store)) - n1
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
    cs = containers(env.store)
    check(len(cs) == 1, f"expected the 5 files in one container, found {cs}")
    cpath = os.path.join(env.store, "containers", cs[0])
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
    before = store_listing(env.store)
    for cmd in (["BACKUP", src], ["LIST", "BACKUPS"]):
        r = env.run(*cmd, rc=1, extra_env={"SESHAT_PASSWORD": "not the passphrase"})
        lines = [l for l in r.err.splitlines() if l.strip()]
        check(len(lines) == 1, f"a wrong passphrase should give one line on stderr, got {len(lines)}\n{r.summary()}")
        check("ERROR" in lines[0] and "passphrase" in lines[0].lower(),
              f"the wrong-passphrase line does not say so clearly: {lines[0]}")
        check("Starting File walk" not in r.out, f"a backup started with a wrong passphrase\n{r.summary()}")
        compare_listings(before, store_listing(env.store), f"after {' '.join(cmd[:1])} with a wrong passphrase")

    r = env.run("BACKUP", src, rc="nonzero", unset=("SESHAT_PASSWORD", "SESHAT_PASSWORD_FILE"))
    check("passphrase" in r.err.lower(), f"running without a passphrase gives no clear error\n{r.summary()}")
    check(len(r.errors()) >= 1, f"no ERROR line without a passphrase\n{r.summary()}")
    compare_listings(before, store_listing(env.store), "after BACKUP without a passphrase")

    # Creating a repository without a passphrase fails and creates nothing.
    empty_store = mkdirs(env.base, "store2")
    r = env.run("STORE", "LOCAL", empty_store, "BACKUP", src, rc="nonzero",
                unset=("SESHAT_PASSWORD", "SESHAT_PASSWORD_FILE"))
    check("passphrase" in r.err.lower(), f"creating a repository without a passphrase: no clear error\n{r.summary()}")
    check(os.listdir(empty_store) == [], f"the empty store got files without a passphrase: {os.listdir(empty_store)}")


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
    for d in (env.home, env.store):
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
    for dirpath, dirnames, filenames in os.walk(env.store):
        for name in dirnames + filenames:
            if marker in name:
                hits.append(f"name {os.path.join(dirpath, name)}")
        for f in filenames:
            with open(os.path.join(dirpath, f), "rb") as fh:
                data = fh.read()
            if needle in data or needle16 in data:
                hits.append(f"content of {os.path.relpath(os.path.join(dirpath, f), env.store)}")
    check(not hits, "the marker is readable in the store:\n  " + "\n  ".join(hits[:10]))


def run_and_kill(env, tokens, trigger=None, count=1, delay=0.0, timeout=30):
    """Starts seshat, waits for `count` stdout lines containing `trigger` (if any) and then
    `delay` seconds, and kills it with SIGKILL. Returns (killed, returncode, output)."""
    p = subprocess.Popen([env.binary] + tokens + ["EXIT"], env=env.env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
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
    env.run("STORE", "LOCAL", env.store, "SET", "MAX", "16", "MB", "INITIALIZE")
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
    held = False  # the last killed run was killed while it held the DB lock
    for what, trig, count, delay in attempts:
        killed, rc, out = run_and_kill(env, ["BACKUP", src], trig, count, delay)
        if prev_killed:
            check("locked by" not in out, f"the run after a SIGKILL did not take over the dead process's lock\n"
                                          f"{clip(out)}")
        if held:
            check("Taking over a stale DB lock" in out,
                  f"the run after a SIGKILL did not warn that it took over the stale lock\n{clip(out)}")
        held = killed and "DB Lock acquired" in out and "complete:" not in out
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
    note(f"recovery backup took {r.elapsed:.1f} s; {len(containers(env.store))} containers in the store; "
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
    r = env.first_backup(src2, "SET", "SYMLINKS", "YES", rc=None, timeout=30)
    check(r.rc in (0, 3), f"the backup following symlinks failed\n{r.summary()}")
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
    check(got.get(b"dangling") == ("link", b"nowhere", os.lstat(f"{src2}/dangling").st_mtime_ns),
          f"a dangling link with SYMLINKS YES: expected a link to 'nowhere', got {describe_entry(got.get(b'dangling'))}")


@test
def fifo_skipped_with_warning(env):
    src = mkdirs(env.base, "src")
    write(f"{src}/a.txt", "a\n")
    os.mkfifo(f"{src}/pipe")
    mkdirs(src, "d")
    write(f"{src}/d/b.txt", "b\n")
    snap = snapshot(src)
    r = env.first_backup(src, timeout=30)
    check(any(f"{src}/pipe" in l for l in r.warns()), f"no WARN line naming the FIFO\n{r.summary()}")
    t = env.new_target("restore")
    env.restore(t, number=1)
    del snap[b"pipe"]
    compare_trees(snap, snapshot(restored(t, src)), "restore of a tree with a FIFO")


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
def dryrun_writes_nothing(env):
    src = mkdirs(env.base, "src")
    write(f"{src}/a.txt", "a\n")
    env.first_backup(src)
    write(f"{src}/a.txt", "a, changed\n")
    write(f"{src}/new.bin", os.urandom(100000))
    before = store_listing(env.store)
    r = env.backup(src, "SET", "DRYRUN", "YES")
    check("Would back up" in r.out, f"the dry run did not report what it would back up\n{r.summary()}")
    compare_listings(before, store_listing(env.store), "SET DRYRUN YES BACKUP")
    check(len(env.list_backups()) == 1, "a dry-run backup appears in LIST BACKUPS")

    t = env.new_target("restore")
    r = env.restore(t, number=1, before=("SET", "DRYRUN", "YES"))
    check("Would restore" in r.out, f"the dry-run restore did not report what it would restore\n{r.summary()}")
    check(os.listdir(t) == [], f"SET DRYRUN YES with RESTORE GO wrote into the target: {os.listdir(t)}")
    compare_listings(before, store_listing(env.store), "dry-run restore")

    # A dry run on an empty store creates no repository.
    empty = mkdirs(env.base, "store2")
    env.run("STORE", "LOCAL", empty, "SET", "DRYRUN", "YES", "BACKUP", src, rc=None)
    check(os.listdir(empty) == [], f"a dry-run backup wrote into an empty store: {os.listdir(empty)}")


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


@test
def batch_from_stdin_stops_at_failure(env):
    src = mkdirs(env.base, "src")
    write(f"{src}/a.txt", "a\n")
    script = f"STORE LOCAL {env.store}\n# a comment\n\nBACKUP {src}\nLIST BACKUPS\n"
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


def lock_record(host, pid, lease_ns):
    return json.dumps({"version": 1, "id": "x" + os.urandom(4).hex(), "host": host, "pid": pid, "user": "u",
                       "started_ns": 0, "lease_until_ns": lease_ns}, indent=2) + "\n"


@test
def db_unlock_and_stale_lock(env):
    src = mkdirs(env.base, "src")
    write(f"{src}/a.txt", "a\n")
    env.first_backup(src)
    lock = os.path.join(env.store, "seshat", "locks", "lock")
    check(os.path.isdir(os.path.dirname(lock)), "the store has no seshat/locks directory")
    with open(lock, "w") as f:
        f.write(lock_record("otherhost", 1, time.time_ns() + 3600 * 10**9))
    write(f"{src}/b.txt", "b\n")
    r = env.backup(src, rc=1)
    check("otherhost" in r.err, f"the lock error does not name the holder otherhost\n{r.summary()}")
    check(os.path.exists(lock), "the other host's lock was removed by a failing BACKUP")
    check(len(env.list_backups()) == 1, "a backup was made while the DB was locked")

    r = env.run("DB", "UNLOCK")
    check(not os.path.exists(lock), f"DB UNLOCK left the lock\n{r.summary()}")
    check("otherhost" in r.out, f"DB UNLOCK does not say whose lock it removed\n{r.summary()}")
    env.backup(src)
    check(len(env.list_backups()) == 2, "the backup after DB UNLOCK is missing")

    # A lock whose lease has expired is taken over with a warning.
    with open(lock, "w") as f:
        f.write(lock_record("otherhost", 1, time.time_ns() - 10**9))
    write(f"{src}/c.txt", "c\n")
    r = env.backup(src)
    check(any("stale" in l.lower() and "otherhost" in l for l in r.warns()),
          f"taking over an expired lock gave no WARN naming it\n{r.summary()}")
    check(len(env.list_backups()) == 3, "the backup over an expired lock is missing")

    # A lock of this host whose process is gone is taken over too.
    p = subprocess.Popen(["true"])
    p.wait()
    with open(lock, "w") as f:
        f.write(lock_record(HOST, p.pid, time.time_ns() + 3600 * 10**9))
    write(f"{src}/d.txt", "d\n")
    r = env.backup(src)
    check(any("stale" in l.lower() for l in r.warns()), f"taking over a dead process's lock gave no WARN\n{r.summary()}")


@test
def same_second_backups_keep_both(env):
    """Two backups of one folder within the same second: both must stay restorable."""
    src = mkdirs(env.base, "src")
    write(f"{src}/a.txt", "first version\n", mtime_ns=T1)
    set_mtime(src, T1)
    s1 = snapshot(src)
    env.run("STORE", "LOCAL", env.store, "INITIALIZE")
    for attempt in range(3):
        sleep_until(int(time.time()) + 1.01)  # the start of a second
        start = time.time()
        env.backup(src)
        write(f"{src}/a.txt", f"second version, attempt {attempt}\n", mtime_ns=T2 + attempt)
        set_mtime(src, T2 + attempt)
        s2 = snapshot(src)
        env.backup(src)
        if int(time.time()) == int(start):
            break
        # Crossed a second boundary: start over from the first state.
        write(f"{src}/a.txt", "first version\n", mtime_ns=T1)
        set_mtime(src, T1)
    else:
        raise Skip("could not run two backups within one second")
    n = len(env.list_backups())
    t1 = env.new_target("restore1")
    r = env.restore(t1, number=n - 1, rc=None)
    check(r.rc == 0, f"the first of two backups made in the same second cannot be restored "
                     f"(containers: {containers(env.store)})\n{r.summary()}")
    compare_trees(s1, snapshot(restored(t1, src)), "restore of the first of two same-second backups")
    t2 = env.new_target("restore2")
    env.restore(t2, number=n)
    compare_trees(s2, snapshot(restored(t2, src)), "restore of the second of two same-second backups")


@test
def similar_folder_names_same_second_keep_both(env):
    """Two folders whose paths differ only after the first 48 characters, backed up by one
    run (so within a second or so): each backup's containers must stay its own."""
    common = "a-rather-long-directory-name-shared-by-both-folders-" * 2
    a = mkdirs(env.base, common + "one")
    b = mkdirs(env.base, common + "two")
    write(f"{a}/x.txt", "in folder one\n")
    write(f"{b}/x.txt", "in folder two, different\n")
    sa, sb = snapshot(a), snapshot(b)
    for attempt in range(3):
        sleep_until(int(time.time()) + 1.01)
        start = time.time()
        env.run("STORE", "LOCAL", env.store, "BACKUP", a, "BACKUP", b)
        if int(time.time()) == int(start):
            break
        shutil.rmtree(env.store)
        os.mkdir(env.store)
    else:
        raise Skip("could not run the two backups within one second")
    n = len(containers(env.store))
    check(n == 2, f"two backups of two folders should leave 2 containers, the store has {n}: {containers(env.store)}")
    for folder, snap in ((a, sa), (b, sb)):
        t = env.new_target("restore")
        r = env.restore(t, folder=folder, rc=None)
        check(r.rc == 0, f"the backup of {folder[-20:]} cannot be restored\n{r.summary()}")
        compare_trees(snap, snapshot(restored(t, folder)), f"restore of {folder[-20:]}")


# ---------------------------------------------------------------------------- main

def run_one(name):
    env = Env(name)
    t0 = time.monotonic()
    try:
        TESTS[name](env)
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


def main(argv):
    global BINARY
    if len(argv) >= 2 and argv[1] == "--list":
        for n in TESTS:
            print(n)
        return 0
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    BINARY = os.path.abspath(argv[1])
    if not os.access(BINARY, os.X_OK):
        print(f"FAIL: {BINARY} is not an executable", file=sys.stderr)
        return 2
    names = argv[2:] or ["all"]
    if names == ["all"]:
        names = list(TESTS)
    unknown = [n for n in names if n not in TESTS]
    if unknown:
        print(f"unknown test(s): {', '.join(unknown)}; --list shows them", file=sys.stderr)
        return 2
    failed = 0
    for n in names:
        status, msg, secs = run_one(n)
        if status == "FAIL":
            failed += 1
            print(f"FAIL {n} ({secs:.1f} s): {msg}")
        elif status == "SKIP":
            print(f"SKIP {n} ({secs:.1f} s): {msg}")
        else:
            print(f"PASS {n} ({secs:.1f} s)")
        sys.stdout.flush()
    if len(names) > 1:
        print(f"{len(names) - failed} of {len(names)} passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
