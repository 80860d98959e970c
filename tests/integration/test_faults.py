#!/usr/bin/env python3
"""The crash and fault campaigns of Seshat (issue #5), on the harness of test_core.py.

Usage is that of test_core.py: [--store local|s3] --list | <seshat-binary> <name> | all.

The program's test hooks (doc/testing.md) drive them:
  SESHAT_CRASH_AT=<point>:<n>   SIGKILL (or with "=stop", SIGSTOP) at the n-th pass of a
                                named crash point (walk.dir, pack.file, container.committed...)
  SESHAT_CRASH_LOG=<file>       every crash point passed, one line each
  SESHAT_FAULTS=<rules>         the storage wrapper that fails, damages, slows or kills chosen
                                store operations
  SESHAT_IO_LOG=<file>          every byte sent to the store (puts and upload chunks)

Every random choice comes from a seeded generator (the seed is printed), so a failure can be
replayed with SESHAT_CAMPAIGN_SEED=<seed>.
"""
import collections
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_core as tc  # noqa: E402
from test_core import check, clip, mkdirs, note, snapshot, compare_trees, write, test, TestFailure  # noqa: E402

SANITIZED = os.environ.get("SESHAT_TEST_SANITIZED") == "1"
MAX_MB = 2  # SET MAX: small containers, so that a backup writes many of them and checkpoints often


def seed():
    return int(os.environ.get("SESHAT_CAMPAIGN_SEED") or random.SystemRandom().randrange(1 << 30))


def crash_counts(path):
    """point -> how many times the run passed it (from a SESHAT_CRASH_LOG file)."""
    counts = collections.Counter()
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                p = line.split()
                if len(p) == 2:
                    counts[p[0]] = max(counts[p[0]], int(p[1]))
    return counts


def io_bytes(path):
    total = 0
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                p = line.rsplit(" ", 1)
                if len(p) == 2 and p[1].strip().isdigit():
                    total += int(p[1])
    return total


def no_crash(r, what):
    """A run may fail, but never by a signal or a sanitizer report."""
    text = r.text() if hasattr(r, "text") else r
    rc = r.rc if hasattr(r, "rc") else 0
    check(rc is None or rc >= 0, f"{what}: seshat died by signal {-rc}\n{clip(text)}")
    for bad in ("Sanitizer", "runtime error:", "terminate called", "Segmentation", "Assertion"):
        check(bad not in text, f"{what}: '{bad}' in the output\n{clip(text)}")


class Tree:
    """A generated source tree, changed deterministically between backups. File contents are
    random (incompressible), so that container bytes match the data bytes."""

    def __init__(self, root, rng):
        self.root, self.rng = root, rng
        self.gen = 0
        self.added = []  # directories added by mutate(), oldest first

    def _file(self, path, size):
        write(path, self.rng.randbytes(size))

    def create(self):
        mkdirs(self.root)
        for d in range(5):
            sub = mkdirs(self.root, f"dir {d}", "inner" if d % 2 else "")
            for i in range(20):
                self._file(f"{sub}/file_{i:02}.dat", self.rng.randrange(2 << 10, 200 << 10))
        mkdirs(self.root, "empty")
        self._file(f"{self.root}/big_a.bin", 3 << 20)
        self._file(f"{self.root}/big_b.bin", (2 << 20) + 12345)
        os.symlink("big_a.bin", f"{self.root}/link_to_a")
        return self.size()

    def files(self):
        out = []
        for dirpath, _, names in os.walk(self.root):
            out += [os.path.join(dirpath, n) for n in names if not os.path.islink(os.path.join(dirpath, n))]
        return sorted(out)

    def size(self):
        return sum(os.path.getsize(p) for p in self.files())

    def mutate(self):
        """Changes ~10% of the files, adds a directory of ~6 MB, deletes the one added two
        rounds ago. Returns the bytes a backup must store."""
        self.gen += 1
        new_bytes = 0
        files = self.files()
        for p in self.rng.sample(files, max(1, len(files) // 10)):
            size = self.rng.randrange(1 << 10, 150 << 10)
            self._file(p, size)
            new_bytes += size
        d = mkdirs(self.root, f"added_{self.gen}")
        for i in range(12):
            size = self.rng.randrange(100 << 10, 900 << 10)
            self._file(f"{d}/n{i}.dat", size)
            new_bytes += size
        self.added.append(d)
        if len(self.added) > 2:
            shutil.rmtree(self.added.pop(0))
        return new_bytes


def backup_env(env, extra=None):
    e = {"SESHAT_S3_PART_SIZE": str(1 << 20)}
    e.update(extra or {})
    return e


def estimate(counts_full, frac):
    return {k: max(1, int(v * frac)) for k, v in counts_full.items()}


# ---------------------------------------------------------------------------- kill campaign

POINTS_COMMON = ["walk.dir", "walk.child", "pack.file", "container.append", "container.before_commit",
                 "container.committed", "catalog.before_put", "catalog.after_put", "backup.before_final_save"]


@test
def kill_campaign(env):
    """Backs a tree up while killing seshat with SIGKILL at >= 30 points (crash points in the
    walk, the packing, mid-container, between a container and the catalog write, in the
    catalog write; and kills after random delays), rerunning until each backup completes.
    Every crash point is aimed at once first, by the first run of a backup (which has the
    whole change to do, so the point is certainly passed); then the kills are random. After
    every kill VERIFY must find the store consistent; after every completed backup a restore
    must equal the source; over the campaign the bytes sent must stay under 2x the data."""
    s = seed()
    rng = random.Random(s)
    note(f"seed {s}")
    src = os.path.join(env.base, "src")
    tree = Tree(src, random.Random(s + 1))
    data = tree.create()
    points = POINTS_COMMON + (["s3.part_uploaded"] if env.store_kind == "s3" else ["local.before_rename"])
    want_kills = len(points) + (2 if SANITIZED else 21)
    logs = mkdirs(env.base, "logs")
    io_log = os.path.join(logs, "io.log")
    env.run(*env.store_tokens(), "SET", "MAX", str(MAX_MB), "MB", "INITIALIZE")

    # Calibration: how often a full first backup passes each point (into the spare store).
    spare = env.spare_store()
    cal = os.path.join(logs, "calibrate.log")
    env.run(*env.store_tokens(spare), "INITIALIZE", "BACKUP", src, extra_env=backup_env(env, {"SESHAT_CRASH_LOG": cal}),
            timeout=300, check_lock=False)
    full = crash_counts(cal)
    check(full["container.committed"] >= 5, f"the calibration backup wrote only {full['container.committed']} containers")
    never = [p for p in points if full[p] == 0]
    check(not never, f"the calibration backup never passed the crash points {never}")
    env.run(*env.store_tokens(), timeout=60)  # back to the campaign's store

    kills, attempts, completions, timed = 0, 0, 0, 0
    by_point = collections.Counter()
    aimed = list(points)  # each aimed once, before the random kills
    requeued = set()
    data_total = data
    chain_ratios = []
    sent_before = 0
    last_clean = 2.0
    expected = dict(full)
    chain = 0
    while (kills < want_kills or aimed) and chain < 60:
        chain += 1
        if chain > 1:
            changed = tree.mutate()
            data_total += changed
            expected = estimate(full, changed / data)
        snap = snapshot(src)
        done = False
        for k in range(3):  # up to three kills, then a run that must complete
            attempts += 1
            crash_log = os.path.join(logs, f"c{chain}_{k}.log")
            extra = backup_env(env, {"SESHAT_IO_LOG": io_log, "SESHAT_CRASH_LOG": crash_log})
            aiming = k == 0 and bool(aimed)
            if aiming:
                # The first run of a backup: the whole change is still to do, so the point is
                # passed at least once; a later pass (up to half the estimate) when there is room.
                p = aimed.pop(0)
                n = 1 if p in requeued else rng.randint(1, max(1, expected.get(p, 1) // 2))
                what = f"{p}:{n} (aimed)"
                extra["SESHAT_CRASH_AT"] = f"{p}:{n}"
                r = env.run("BACKUP", src, rc=None, extra_env=extra, timeout=300, check_lock=False)
                killed, rc, out = r.rc == -signal.SIGKILL, r.rc, r.text()
                if killed:
                    by_point[p] += 1
                else:
                    passed = crash_counts(crash_log)[p]
                    check(n > 1 and passed >= 1,
                          f"the aimed kill at {p}:{n} did not land: the backup passed it {passed} times\n{clip(out)}")
                    aimed.insert(0, p)  # passed fewer times than estimated: aimed again at its first pass
                    requeued.add(p)
                    note(f"{p}:{n} was passed only {passed} times; aimed again")
            elif attempts % 5 == 0:
                delay = rng.uniform(0.02, max(0.05, last_clean * 0.9))
                what = f"after {delay:.2f} s"
                killed, rc, out = run_and_kill_env(env, ["BACKUP", src], extra, delay)
                if killed:
                    timed += 1
            else:
                p = points[rng.randrange(len(points))]
                hi = expected.get(p, 1) if k == 0 else max(1, expected.get(p, 1) // 2)
                n = rng.randint(1, max(1, hi))
                what = f"{p}:{n}"
                extra["SESHAT_CRASH_AT"] = what
                r = env.run("BACKUP", src, rc=None, extra_env=extra, timeout=300, check_lock=False)
                killed, rc, out = r.rc == -signal.SIGKILL, r.rc, r.text()
                if killed:
                    by_point[p] += 1
            no_crash(tc.Result([], 0 if killed else rc, out, "", 0), f"backup killed at {what}")
            if not killed:
                check(rc == 0, f"a backup to be killed at {what} failed instead (exit {rc})\n{clip(out)}")
                done = True
                break
            kills += 1
            # The store after the kill: consistent, and the catalog loads.
            v = env.run("VERIFY", rc=None, timeout=300, check_lock=False)
            check(v.rc == 0 and "0 problems" in v.out,
                  f"VERIFY after a kill at {what} (kill {kills}) found problems\n{v.summary()}")
            if kills >= want_kills and not aimed:
                break
        if not done:
            t0 = time.monotonic()
            r = env.run("BACKUP", src, extra_env=backup_env(env, {"SESHAT_IO_LOG": io_log}), timeout=300)
            last_clean = max(0.3, time.monotonic() - t0)
            no_crash(r, "the backup after kills")
        completions += 1
        sent = io_bytes(io_log)
        chain_ratios.append((sent - sent_before) / max(1, (data if chain == 1 else changed)))
        sent_before = sent
        target = env.new_target("restore")
        env.restore(target, folder=src, timeout=300)
        compare_trees(snap, snapshot(tc.restored(target, src)), f"restore after chain {chain} (kills so far {kills})")
        shutil.rmtree(target)

    sent = io_bytes(io_log)
    note(f"{kills} kills in {attempts} attempts over {chain} backups ({timed} after random delays; crash points: "
         f"{dict(by_point)}); data {data_total / 1e6:.1f} MB, sent {sent / 1e6:.1f} MB ({sent / data_total:.2f}x); "
         f"per backup: max {max(chain_ratios):.2f}x")
    check(kills >= want_kills, f"only {kills} kills landed in {attempts} attempts")
    missing = [p for p in points if by_point[p] == 0]
    check(not missing, f"crash points never hit: {missing}")
    check(sent < 2 * data_total, f"sent {sent} bytes for {data_total} bytes of data: more than 2x")
    v = env.run("VERIFY", "DATA", timeout=300)
    check("0 problems" in v.out and "not referenced" not in v.out,
          f"the final VERIFY DATA is not clean\n{v.summary()}")
    if env.store_kind == "local":
        tmp = [k for k in os.listdir(os.path.join(env.store.path, "containers")) if k.startswith(".seshat-tmp")]
        check(not tmp, f"temporary files of killed backups are left in the store: {tmp}")


def run_and_kill_env(env, tokens, extra_env, delay):
    """Starts seshat with extra_env, kills it with SIGKILL after `delay` seconds."""
    p = env.popen(tokens, extra_env=extra_env)
    rd = tc.Reader(p)
    rc = rd.finish(delay)
    killed = rc is None
    if killed:
        os.kill(p.pid, signal.SIGKILL)
        rc = rd.finish(30)
    return killed, rc, rd.text()


@test
def kill_between_container_and_catalog_adopts(env):
    """Killed right after a container was committed and before the catalog was saved: the next
    backup adopts the container (its files are not sent again), and a leftover temporary file
    of a second kill (local store) is removed.

    Files of one part only: a file's version is recorded the moment its blob is placed, so the
    checkpoint after the first container holds every file in it whatever the threads did. (A
    multi-part file is recorded after its last part; with big.bin the first container could
    hold nothing but its first parts, and the checkpoint no whole file.)"""
    src = small_tree(env, n=30, big=False)
    env.run(*env.store_tokens(), "SET", "MAX", str(MAX_MB), "MB", "INITIALIZE")
    logs = mkdirs(env.base, "logs")
    r = env.run("BACKUP", src, rc=None, check_lock=False,
                extra_env=backup_env(env, {"SESHAT_CRASH_AT": "container.committed:2"}), timeout=120)
    check(r.rc == -signal.SIGKILL, f"the backup was not killed at the 2nd container\n{r.summary()}")
    io_log = os.path.join(logs, "io.log")
    r = env.backup(src, extra_env=backup_env(env, {"SESHAT_IO_LOG": io_log}), timeout=120)
    m = re.search(r"Adopted 1 containers written by an interrupted backup: (\d+) files", r.out)
    check(m and int(m.group(1)) > 0, f"the container of the killed backup was not adopted\n{r.summary()}")
    m2 = re.search(r"Resuming: (\d+) files already stored", r.out)
    check(m2, f"no Resuming line\n{r.summary()}")
    m3 = re.search(r"(\d+) unchanged by content", r.out)
    check(m3 and int(m3.group(1)) >= int(m.group(1)),
          f"the adopted files were not found by content ({m.group(1)} adopted)\n{r.summary()}")
    total = sum(os.path.getsize(p) for p in tc.LocalStore(src).objects().values())
    sent = io_bytes(io_log)
    check(sent < total, f"the resumed backup sent {sent} bytes, the whole tree has {total}")
    note(f"adopted {m.group(1)} files; resumed backup sent {sent / 1e6:.1f} MB of {total / 1e6:.1f} MB")
    snap = snapshot(src)
    t = env.new_target("restore")
    env.restore(t, folder=src, timeout=120)
    compare_trees(snap, snapshot(tc.restored(t, src)), "restore after adopting a container")
    v = env.run("VERIFY", "DATA", timeout=120)
    check("0 problems" in v.out and "not referenced" not in v.out, f"VERIFY DATA after adoption\n{v.summary()}")


def wait_stopped(p, rd, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{p.pid}/stat") as f:
                if f.read().split(") ", 1)[1].startswith("T"):
                    return
        except OSError:
            break
        time.sleep(0.05)
    raise TestFailure(f"seshat did not stop at its crash point\n{clip(rd.text())}")


@test
def lock_removed_under_a_running_backup(env):
    """DB UNLOCK from another machine removes the lock of a backup that still runs (here: one
    stopped right before committing a container). The backup must notice before it commits
    anything more and stop with one clear line; the next backup completes and restores."""
    src = small_tree(env, n=20)
    env.run(*env.store_tokens(), "SET", "MAX", str(MAX_MB), "MB", "INITIALIZE")
    p = env.popen(["BACKUP", src], extra_env=backup_env(env, {"SESHAT_CRASH_AT": "container.before_commit:2=stop"}))
    rd = tc.Reader(p)
    wait_stopped(p, rd)
    containers_before = set(env.store.containers())
    r = env.run("DB", "UNLOCK", extra_env={"SESHAT_HOSTNAME": "another-machine"}, check_lock=False)
    check("DB Lock removed" in r.out, f"DB UNLOCK from another host did not remove the lock\n{r.summary()}")
    os.kill(p.pid, signal.SIGCONT)
    rc = rd.finish(60)
    out = rd.text()
    check(rc not in (0, None), f"the backup whose lock was removed went on (exit {rc})\n{clip(out)}")
    errs = [l for l in out.splitlines() if " ERROR - " in l]
    check(errs and "lock" in errs[0] and "removed" in errs[0], f"no clear line about the lost lock\n{clip(out)}")
    new = set(env.store.containers()) - containers_before
    check(not new, f"containers committed after the lock was lost: {sorted(new)}")
    snap = snapshot(src)
    env.backup(src, timeout=120)
    t = env.new_target("restore")
    env.restore(t, folder=src, timeout=120)
    compare_trees(snap, snapshot(tc.restored(t, src)), "restore after a backup lost its lock")
    v = env.run("VERIFY", timeout=120)
    check("0 problems" in v.out, f"VERIFY after a lost lock\n{v.summary()}")


# ---------------------------------------------------------------------------- fault injection

def small_tree(env, name="src", n=24, big=True):
    src = mkdirs(env.base, name)
    rng = random.Random(7)
    for i in range(n):
        write(f"{src}/f{i:02}.dat", rng.randbytes(rng.randrange(50 << 10, 400 << 10)))
    if big:
        write(f"{src}/big.bin", rng.randbytes(3 << 20))
    return src


def one_error_line(r, needle, what):
    errs = r.errors()
    check(r.rc != 0, f"{what}: exit status 0\n{r.summary()}")
    check(errs, f"{what}: no ERROR line\n{r.summary()}")
    check(needle in errs[0], f"{what}: the error does not say '{needle}'\n{r.summary()}")
    no_crash(r, what)


# (rules, what the error line says); each case: the faulty backup fails with one clear line and
# releases the lock; the next backup without the fault completes; the restore equals the source.
BACKUP_FAULTS = [
    ("put:seshat/db@2=fail", "injected fault: put seshat/db/"),            # a checkpoint of the catalog
    ("put:seshat/db@1=enospc", "No space left on device"),                 # the first catalog write
    ("write:containers@4=fail", "injected fault: write containers/"),      # mid-container
    ("commit:containers@2=erofs", "Read-only file system"),                # a container's commit
    ("create:containers@2=transient", "timed out"),                        # opening the 2nd container
    ("list@3=transient", "timed out"),                                     # a listing
    ("head:containers@2=fail", "injected fault: head containers/"),
]


@test
def faults_during_backup(env):
    src = small_tree(env)
    env.run(*env.store_tokens(), "SET", "MAX", str(MAX_MB), "MB", "INITIALIZE")
    rng = random.Random(3)
    results = []
    for rules, needle in BACKUP_FAULTS:
        # Something new each time, so that each backup has work.
        write(f"{src}/new_{len(results)}.dat", rng.randbytes(5 << 20))  # three containers of work
        snap = snapshot(src)
        r = env.run("BACKUP", src, rc=None, extra_env=backup_env(env, {"SESHAT_FAULTS": rules}), timeout=120,
                    check_lock=False)
        one_error_line(r, needle, f"backup with fault {rules}")
        check(not env.store.lock_keys(), f"the lock was left behind by the failed backup ({rules}): "
                                         f"{env.store.lock_keys()}\n{r.summary()}")
        r2 = env.backup(src, timeout=120)
        no_crash(r2, "backup after a fault")
        t = env.new_target("restore")
        env.restore(t, folder=src, timeout=120)
        compare_trees(snap, snapshot(tc.restored(t, src)), f"restore after a backup failed with {rules}")
        shutil.rmtree(t)
        results.append(f"{rules}: {r.errors()[0].split(' - ', 1)[1][:70]}")
    note("; ".join(results))
    v = env.run("VERIFY", "DATA", timeout=120)
    check("0 problems" in v.out, f"VERIFY DATA after the faults\n{v.summary()}")
    # Removing old catalog generations is allowed to fail: a WARN, the backup still succeeds.
    write(f"{src}/last.dat", "last\n")
    for i in range(6):
        write(f"{src}/gen_{i}.txt", f"{i}\n")
        r = env.backup(src, extra_env=backup_env(env, {"SESHAT_FAULTS": "remove:seshat/db@*=fail"}), timeout=120)
    check(any("Could not remove old catalog generations" in l for l in r.warns()),
          f"a failed removal of old generations did not warn\n{r.summary()}")


@test
def faults_during_restore(env):
    """Reads that fail while a restore runs. Four threads fetch ranges in an order no test can
    predict, so every rule names what it damages by kind (a ranged read) and by object: one
    failed read is recovered whichever read it is; every read of one container damaged loses
    exactly the files with a blob in that container, whatever the interleaving."""
    src = small_tree(env)
    env.run(*env.store_tokens(), "SET", "MAX", str(MAX_MB), "MB", "INITIALIZE")
    env.backup(src, timeout=120)
    snap = snapshot(src)
    # A read that fails once is retried blob by blob: the restore is complete.
    for rules in ("range:containers@2=short", "range:containers@2=fail"):
        t = env.new_target("restore")
        r = env.restore(t, folder=src, rc=None, extra_env={"SESHAT_FAULTS": rules}, timeout=120)
        no_crash(r, f"restore with fault {rules}")
        check(r.rc == 0, f"a restore with one failed read ({rules}) did not recover\n{r.summary()}")
        compare_trees(snap, snapshot(tc.restored(t, src)), f"restore with one failed read ({rules})")
        shutil.rmtree(t)
    containers = env.store.containers()
    check(len(containers) >= 3, f"the test needs at least 3 containers, the backup wrote {containers}")
    victim = containers[1]
    files = [k for k, v in snap.items() if v[0] == "file"]
    for action, what in (("corrupt", "corrupted"), ("short", "short"), ("fail", "failed")):
        rules = f"range:{victim}@*={action}"
        t = env.new_target("restore")
        r = env.restore(t, folder=src, rc=None, extra_env={"SESHAT_FAULTS": rules}, timeout=120)
        no_crash(r, f"restore with fault {rules}")
        check(r.rc != 0, f"a restore whose reads of {victim} were {what} succeeded\n{r.summary()}")
        named = [l for l in r.text().splitlines() if (" ERROR - " in l or " WARN - " in l) and src in l]
        check(named, f"the restore with {what} reads ({rules}) names no file\n{r.summary()}")
        got = snapshot(tc.restored(t, src)) if os.path.isdir(tc.restored(t, src)) else {}
        # Every file that is there under its name has the right content; the damaged are absent.
        wrong = [k for k, v in got.items() if v[0] == "file" and k in snap and snap[k][4] != v[4]]
        check(not wrong, f"files with wrong content restored under their names ({rules}): {wrong[:5]}")
        leftovers = [k for k in got if b".seshat" in k]
        check(not leftovers, f"temporary files left in the restore ({rules}): {leftovers[:5]}")
        missing = [k for k in files if k not in got]
        check(0 < len(missing) < len(files),
              f"{len(missing)} of {len(files)} files missing after a restore with every read of one of "
              f"{len(containers)} containers {what} ({rules}): expected some, not all")
        # Each file missing is named by one line.
        unnamed = [k for k in missing if not any(os.fsdecode(k) in l for l in named)]
        check(not unnamed, f"files missing without a line naming them ({rules}): {unnamed[:5]}\n{r.summary()}")
        shutil.rmtree(t)
    # The store itself is fine: a restore without faults is complete.
    t = env.new_target("restore")
    env.restore(t, folder=src, timeout=120)
    compare_trees(snap, snapshot(tc.restored(t, src)), "restore after the faulty ones")


@test
def faults_catalog_read(env):
    """A damaged or unreadable catalog read: one read damaged in transit is read again; the newest
    generation read damaged twice falls back to the one before with a WARN; a failing key read
    is one clear error."""
    src = small_tree(env, n=6)
    env.run(*env.store_tokens(), "INITIALIZE")
    env.backup(src, timeout=120)
    write(f"{src}/second.txt", "2\n")
    env.backup(src, timeout=120)
    # Each run with an empty catalog cache (S3 stores), so that every generation is read.
    def no_cache(faults):
        return {"SESHAT_FAULTS": faults, "XDG_CACHE_HOME": tempfile.mkdtemp(dir=env.base)}
    # One read corrupted on the way is read again: no fallback.
    r = env.run("LIST", "BACKUPS", extra_env=no_cache("get:seshat/db@1=corrupt"), check_lock=False)
    check(not r.warns() and len([l for l in r.out.splitlines() if src in l]) == 2,
          f"one corrupt read of the newest catalog generation was not read again\n{r.summary()}")
    r = env.run("LIST", "BACKUPS", extra_env=no_cache("get:seshat/db@1=corrupt,get:seshat/db@2=corrupt"),
                check_lock=False)
    check(any("Catalog generation" in l and "damaged" in l for l in r.warns()),
          f"the newest catalog generation read corrupt twice gave no WARN\n{r.summary()}")
    r = env.run("LIST", "BACKUPS", rc=None, extra_env=no_cache("get:seshat/db@*=short"), check_lock=False)
    one_error_line(r, "damaged", "every catalog generation read short")
    r = env.run("LIST", "BACKUPS", rc=None, extra_env={"SESHAT_FAULTS": "get:seshat/keys@1=fail"}, check_lock=False)
    one_error_line(r, "injected fault", "the key file cannot be read")
    r = env.run("LIST", "BACKUPS", rc=None, extra_env={"SESHAT_FAULTS": "bogus@1=fail"}, check_lock=False)
    one_error_line(r, "SESHAT_FAULTS", "a malformed SESHAT_FAULTS")


@test
def slow_store_keeps_lock(env):
    """Every store operation slowed down, with a lock lease shorter than the backup: the lease
    is renewed, a second process waits instead of taking the lock over, and both back up."""
    src = small_tree(env, n=10)
    env.run(*env.store_tokens(), "SET", "MAX", "1", "MB", "INITIALIZE")
    slow = {"SESHAT_FAULTS": "any@*=slow:60", "SESHAT_LOCK_LEASE_SECONDS": "2", "SESHAT_DEBUG": "1"}
    p1 = env.popen(["BACKUP", src], extra_env=backup_env(env, slow))
    r1 = tc.Reader(p1)
    check(r1.wait_for("DB Lock acquired", 60), f"the slow backup did not get the lock\n{clip(r1.text())}")
    time.sleep(3)  # longer than the lease: it must have been renewed
    other = mkdirs(env.base, "other")
    write(f"{other}/x.txt", "x\n")
    p2 = env.popen(["SET", "WAIT", "YES", "BACKUP", other], extra_env={"SESHAT_LOCK_LEASE_SECONDS": "2"})
    r2 = tc.Reader(p2)
    rc1, rc2 = r1.finish(240), r2.finish(240)
    check(rc1 == 0, f"the slow backup failed (exit {rc1})\n{clip(r1.text())}")
    check(rc2 == 0, f"the waiting backup failed (exit {rc2})\n{clip(r2.text())}")
    check("Taking over" not in r2.text(), f"the second backup took over a live, renewed lock\n{clip(r2.text())}")
    m = re.search(r"renewed (\d+) times; the smallest margin was (-?[\d.]+) s", r1.text())
    check(m and int(m.group(1)) >= 4, f"the slow backup did not report its lock renewals\n{clip(r1.text())}")
    note(f"lock renewed {m.group(1)} times under a 60 ms store with a 2 s lease; smallest margin {m.group(2)} s")
    t1, t2 = tc.lock_window(r1.text()), tc.lock_window(r2.text())
    check(None not in t1 + t2 and (t1[1] <= t2[0] or t2[1] <= t1[0]),
          f"both held the lock at once: {t1} {t2}")
    snap = snapshot(src)
    t = env.new_target("restore")
    env.restore(t, folder=src, timeout=120)
    compare_trees(snap, snapshot(tc.restored(t, src)), "restore after a slow backup")


# ---------------------------------------------------------------------------- graceful failures

def mount_tmpfs(path, size):
    """A small real file system (root only); None when this machine cannot mount."""
    os.makedirs(path, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", path], capture_output=True)
    return path if r.returncode == 0 else None


def umount(path):
    subprocess.run(["umount", "-l", path], capture_output=True)


@test(stores=("local",))
def store_disk_full_and_read_only(env):
    """A local store on a small real file system: the backup that fills it fails with one
    clear line and the store works again when space is freed; a read-only store gives one
    clear line too. (Uses tmpfs; without the right to mount, the fault wrapper stands in.)"""
    src = small_tree(env, n=30)  # ~7 MB
    fs = mount_tmpfs(os.path.join(env.base, "small_fs"), "4m")
    try:
        if fs:
            store = tc.LocalStore(mkdirs(fs, "store"))
            env.run(*env.store_tokens(store), "SET", "MAX", "1", "MB", "INITIALIZE")
            r = env.backup(src, rc=None, timeout=120, check_lock=False)
            one_error_line(r, "No space left on device", "a backup into a full store")
            # Move the store to a bigger place: what it held is intact, the backup resumes.
            big = mkdirs(env.base, "store_moved")
            shutil.rmtree(big)
            shutil.copytree(store.path, big, symlinks=True)
            env.store = tc.LocalStore(big)
            env.run(*env.store_tokens(), check_lock=False)
            r = env.backup(src, timeout=120)
            check("Resuming" in r.out or "Adopted" in r.out, f"the backup after a full disk did not resume\n{r.summary()}")
            subprocess.run(["mount", "-o", "remount,ro", fs], check=True, capture_output=True)
            env.run(*env.store_tokens(store), check_lock=False)
            r = env.backup(src, rc=None, timeout=60, check_lock=False)
            one_error_line(r, "Read-only file system", "a backup into a read-only store")
            note("real tmpfs of 4 MB, then remounted read-only")
        else:
            env.run(*env.store_tokens(), "SET", "MAX", "1", "MB", "INITIALIZE")
            r = env.backup(src, rc=None, extra_env={"SESHAT_FAULTS": "write:containers@5+=enospc"}, check_lock=False)
            one_error_line(r, "No space left on device", "a backup into a full store")
            r = env.backup(src, rc=None, extra_env={"SESHAT_FAULTS": "any@1+=erofs"}, check_lock=False)
            one_error_line(r, "Read-only file system", "a backup into a read-only store")
            note("cannot mount here: the fault wrapper stood in for a full and a read-only store")
    finally:
        if fs:
            umount(fs)
    snap = snapshot(src)
    if not fs:
        env.backup(src, timeout=120)
    env.store = tc.LocalStore(big) if fs else env.store
    env.run(*env.store_tokens(), check_lock=False)
    t = env.new_target("restore")
    env.restore(t, folder=src, timeout=120)
    compare_trees(snap, snapshot(tc.restored(t, src)), "restore after a full and a read-only store")


@test
def staging_disk_full(env):
    """SET DELAY YES with the staging directory on a full file system: one clear line, the
    lock released, and the next backup with enough room succeeds."""
    src = small_tree(env, n=20)
    fs = mount_tmpfs(os.path.join(env.base, "staging_fs"), "1m")
    if not fs:
        raise tc.Skip("cannot mount a tmpfs here (not root?)")
    try:
        env.run(*env.store_tokens(), "SET", "MAX", "2", "MB", "INITIALIZE")
        r = env.backup(src, "SET", "DELAY", "YES", "SET", "STAGING", fs, rc=None, timeout=120, check_lock=False)
        one_error_line(r, "No space left on device", "a backup staging on a full disk")
        check(not env.store.lock_keys(), f"the lock was left behind\n{r.summary()}")
        check(not tc.staged_files(fs), f"staging files were left behind: {tc.staged_files(fs)}")
    finally:
        umount(fs)
    staging = mkdirs(env.base, "staging_ok")
    r = env.backup(src, "SET", "STAGING", staging, timeout=120)
    snap = snapshot(src)
    t = env.new_target("restore")
    env.restore(t, folder=src, timeout=120)
    compare_trees(snap, snapshot(tc.restored(t, src)), "restore after the staging disk was full")


@test
def staging_leftover_removed(env):
    """SET DELAY YES: a backup killed while a container is staged leaves the staging file; the
    next backup removes it (its process is gone) and completes."""
    src = small_tree(env, n=12)
    staging = mkdirs(env.base, "staging")
    env.run(*env.store_tokens(), "SET", "MAX", str(MAX_MB), "MB", "SET", "DELAY", "YES", "SET", "STAGING", staging,
            "INITIALIZE")
    r = env.run("BACKUP", src, rc=None, check_lock=False,
                extra_env=backup_env(env, {"SESHAT_CRASH_AT": "container.append:3"}), timeout=120)
    check(r.rc == -signal.SIGKILL, f"the backup was not killed\n{r.summary()}")
    left = tc.staged_files(staging)
    check(left, "the killed backup left no staging file (the test needs one)")
    r = env.backup(src, timeout=120)
    check(any("Removed" in l and "unfinished uploads" in l for l in r.out.splitlines()),
          f"the next backup did not say it removed the leftovers\n{r.summary()}")
    check(not tc.staged_files(staging), f"staging files left after the next backup: {tc.staged_files(staging)}")
    snap = snapshot(src)
    t = env.new_target("restore")
    env.restore(t, folder=src, timeout=120)
    compare_trees(snap, snapshot(tc.restored(t, src)), "restore after a staged backup was killed")


@test
def file_changing_while_read(env):
    """A file appended to while the backup reads it is stored as read with a WARN, and taken
    again by the next backup."""
    src = mkdirs(env.base, "src")
    rng = random.Random(11)
    for i in range(5):
        write(f"{src}/steady_{i}.dat", rng.randbytes(100 << 10))
    write(f"{src}/growing.log", rng.randbytes(4 << 20))
    env.run(*env.store_tokens(), "INITIALIZE")
    # Stop the backup right after it opened and stat'ed growing.log, append, continue.
    p = env.popen(["BACKUP", src], extra_env={"SESHAT_CRASH_AT": "pack.file:1=stop", "SESHAT_THREADS": "1"})
    rd = tc.Reader(p)
    wait_stopped(p, rd)
    # The first file packed: which one is unknown (walk order), so change them all.
    for name in os.listdir(src):
        with open(f"{src}/{name}", "ab") as f:
            f.write(b"appended while the backup read it\n")
    os.kill(p.pid, signal.SIGCONT)
    rc = rd.finish(120)
    out = rd.text()
    check(rc == 0, f"the backup failed (exit {rc})\n{clip(out)}")
    check("File changed while it was read" in out, f"no WARN for the file changed while read\n{clip(out)}")
    r = env.backup(src)
    check(not re.search(r"Found: 0 to backup", r.out), f"the changed file was not taken again\n{r.summary()}")
    snap = snapshot(src)
    r = env.backup(src)
    check("Found: 0 to backup" in r.out, f"a third backup still finds files\n{r.summary()}")
    t = env.new_target("restore")
    env.restore(t, folder=src)
    compare_trees(snap, snapshot(tc.restored(t, src)), "restore after a file changed while read")


@test
def directory_replaced_mid_walk(env):
    """Between the walk's stat and its open, a directory becomes a file (and a file becomes a
    directory): a WARN, the backup completes, and the next backup records the new shapes."""
    src = mkdirs(env.base, "src")
    mkdirs(src, "a_dir")
    write(f"{src}/a_dir/x.txt", "x\n")
    mkdirs(src, "b_dir")
    write(f"{src}/b_dir/y.txt", "y\n")
    write(f"{src}/c_file", "c\n")
    env.run(*env.store_tokens(), "INITIALIZE")
    # walk.child passes: a_dir (1), then a_dir/x.txt (2), b_dir (3): stop right after b_dir's stat.
    p = env.popen(["BACKUP", src], extra_env={"SESHAT_CRASH_AT": "walk.child:3=stop"})
    rd = tc.Reader(p)
    wait_stopped(p, rd)
    shutil.rmtree(f"{src}/b_dir")
    write(f"{src}/b_dir", "now a file\n")
    os.unlink(f"{src}/c_file")
    mkdirs(src, "c_file")
    write(f"{src}/c_file/z.txt", "z\n")
    os.kill(p.pid, signal.SIGCONT)
    rc = rd.finish(60)
    out = rd.text()
    check(rc in (0, 3), f"the backup failed (exit {rc})\n{clip(out)}")
    check(re.search(r"WARN - .*b_dir", out), f"no WARN names b_dir, replaced by a file mid-walk\n{clip(out)}")
    r = env.backup(src, rc=None)
    check(r.rc == 0, f"the next backup failed\n{r.summary()}")
    snap = snapshot(src)
    t = env.new_target("restore")
    env.restore(t, folder=src)
    compare_trees(snap, snapshot(tc.restored(t, src)), "restore after a directory was replaced mid-walk")


if __name__ == "__main__":
    # Only this file's tests: the harness of test_core.py runs them.
    mine = {n: v for n, v in tc.TESTS.items() if v[0].__module__ == __name__}
    tc.TESTS.clear()
    tc.TESTS.update(mine)
    sys.exit(tc.main(sys.argv))
