#!/usr/bin/env python3
"""Seshat run as root on a machine where other users write files (issue 12), on the harness of
test_core.py. The attacker is the real user nobody, acting through `runuser`, on a tree it owns
a part of; Seshat runs as root, as a system backup does.

Usage is that of test_core.py: [--store local|s3] --list | <seshat-binary> <name> | all.
"""
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_core as tc  # noqa: E402
from test_core import check, clip, mkdirs, note, snapshot, write, test, Skip  # noqa: E402

NOBODY = 65534


def as_root_with_nobody(env):
    """Skips unless root with runuser; makes the test's base reachable by nobody."""
    if os.geteuid() != 0:
        raise Skip("needs root: Seshat restores as root while the user nobody attacks")
    if not shutil.which("runuser"):
        raise Skip("runuser is not installed")
    p = env.base
    while p != "/":
        p = os.path.dirname(p)
        m = stat.S_IMODE(os.stat(p).st_mode)
        if not m & 0o001:
            env.restored_parent_modes.append((p, m))
            os.chmod(p, m | 0o001)
    os.chmod(env.base, 0o755)


def nobody(*cmd):
    """Runs a command as the user nobody (the attacker); it must succeed."""
    r = subprocess.run(["runuser", "-u", "nobody", "--", *cmd], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=30)
    check(r.returncode == 0, f"the attacker's {cmd} failed: {r.stdout.decode(errors='replace')}")


def give_to_nobody(path):
    for dirpath, dirnames, filenames in os.walk(path):
        os.chown(dirpath, NOBODY, NOBODY)
        for n in filenames:
            os.lchown(os.path.join(dirpath, n), NOBODY, NOBODY)


def victim_tree(env):
    """A root-owned directory the attacker wants changed: mode 0755, one file."""
    v = mkdirs(env.base, "victim")
    os.chmod(v, 0o755)
    write(f"{v}/keep.txt", "root's\n")
    os.chmod(f"{v}/keep.txt", 0o644)
    return v, snapshot(v)


def user_tree(env):
    """src/home/alice, owned by nobody, holding docs/ with a private file and a subdirectory."""
    src = mkdirs(env.base, "src")
    os.chmod(src, 0o755)
    home = mkdirs(src, "home")
    os.chmod(home, 0o755)
    alice = mkdirs(home, "alice")
    os.chmod(alice, 0o755)
    mkdirs(alice, "docs/sub")
    os.chmod(f"{alice}/docs", 0o777)  # restored as 0777: through a link it would open the victim
    write(f"{alice}/docs/secret.txt", "alice's secret\n")
    os.chmod(f"{alice}/docs/secret.txt", 0o600)
    write(f"{alice}/docs/sub/x.txt", "x\n")
    write(f"{alice}/notes.txt", "notes\n")
    give_to_nobody(alice)
    return src, alice


def check_victim_untouched(v, before, what):
    after = snapshot(v)
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    check(not changed, f"{what}: the root-owned directory was changed through the symlink: {changed}")


@test(stores=("local",))
def symlink_swapped_for_a_directory_original(env):
    """The owner of part of the tree replaces a backed-up directory by a symlink to a root-owned
    directory before root restores to ORIGINAL: nothing is written through it, its target keeps
    its mode, the restore names what was in the way and exits non-zero; the rest comes back."""
    as_root_with_nobody(env)
    v, before = victim_tree(env)
    src, alice = user_tree(env)
    env.first_backup(src)
    nobody("rm", "-rf", f"{alice}/docs")
    nobody("ln", "-s", v, f"{alice}/docs")
    os.unlink(f"{alice}/notes.txt")
    r = env.run("SELECT", "FOLDER", src, "RESTORE", "ADD", "TREE", "RESTORE", "TARGET", "ORIGINAL", "RESTORE", "GO",
                rc=None, timeout=60)
    check(r.rc != 0, f"the restore through a swapped-in symlink exited 0\n{r.summary()}")
    check_victim_untouched(v, before, "restore to ORIGINAL")
    check(any("a symlink is in the way" in l and "docs" in l for l in r.errors()),
          f"the restore does not say a symlink is in the way of docs\n{r.summary()}")
    check(os.path.islink(f"{alice}/docs") and os.readlink(f"{alice}/docs") == v,
          "the attacker's symlink was changed (it is the attacker's, not ours to replace)")
    check(os.path.exists(f"{alice}/notes.txt") and open(f"{alice}/notes.txt").read() == "notes\n",
          f"the rest of the tree (notes.txt) was not restored\n{r.summary()}")


@test(stores=("local",))
def symlink_planted_in_a_shared_target(env):
    """Root restores into a directory everyone can write (like /tmp); the attacker planted a
    symlink where the restore's first directory goes: the restore refuses the link of another
    user, names it, writes nothing through it."""
    as_root_with_nobody(env)
    v, before = victim_tree(env)
    src, alice = user_tree(env)
    env.first_backup(src)
    shared = mkdirs(env.base, "shared")
    os.chmod(shared, 0o1777)
    first = src.lstrip("/").split("/")[0]  # the first component of the original path
    nobody("ln", "-s", v, f"{shared}/{first}")
    r = env.restore(shared, folder=src, rc=None, timeout=60)
    check(r.rc != 0, f"the restore through a planted symlink exited 0\n{r.summary()}")
    check_victim_untouched(v, before, "restore into a shared target")
    check(any("symlink of another user" in l for l in r.errors()),
          f"the restore does not name the other user's symlink in its way\n{r.summary()}")
    # A symlink root made on purpose is followed: the same restore through root's own link.
    os.unlink(f"{shared}/{first}")
    real = mkdirs(env.base, "real-target")
    os.symlink(real, f"{shared}/{first}")
    r = env.restore(shared, folder=src, timeout=60)
    check(os.path.exists(f"{real}/{src.split('/', 2)[2]}/home/alice/docs/secret.txt"),
          f"root's own symlink on the target path was not followed\n{r.summary()}")


@test(stores=("local",))
def restore_temporaries_cannot_be_predicted(env):
    """Another user who can write a directory the restore writes in plants files and FIFOs at
    every name the old scheme (.seshat-restore-<pid>-<n>) would use next: the restore neither
    hangs on them nor writes into them, and leaves them alone."""
    as_root_with_nobody(env)
    src, alice = user_tree(env)
    env.first_backup(src)
    docs = f"{alice}/docs"
    with open("/proc/sys/kernel/ns_last_pid") as f:
        last = int(f.read())
    planted = []
    for pid in range(last + 1, last + 60):
        for i in range(4):
            planted.append(f"{docs}/.seshat-restore-{pid}-{i}")
    nobody("sh", "-c", " ".join(f"mkfifo '{p}';" if n % 2 else f": > '{p}';" for n, p in enumerate(planted)))
    os.unlink(f"{docs}/secret.txt")
    r = env.run("SELECT", "FOLDER", src, "RESTORE", "ADD", "TREE", "RESTORE", "TARGET", "ORIGINAL", "RESTORE", "GO",
                timeout=60)
    check(open(f"{docs}/secret.txt").read() == "alice's secret\n", f"secret.txt did not come back\n{r.summary()}")
    for p in planted:
        st = os.lstat(p)
        check(st.st_uid == NOBODY and (stat.S_ISFIFO(st.st_mode) or st.st_size == 0),
              f"the planted {p} was written to or replaced")
    leftovers = [n for n in os.listdir(docs) if n.startswith(".seshat-restore-") and f"{docs}/{n}" not in planted]
    check(not leftovers, f"the restore left temporaries: {leftovers}")


@test(stores=("local",))
def killed_restore_temporary_is_removed_next_time(env):
    """A restore killed inside a big file leaves its (preallocated) temporary; the next restore
    into the same place removes it, and says so."""
    src = mkdirs(env.base, "src")
    write(f"{src}/big.bin", os.urandom(12 << 20))
    env.first_backup(src)
    target = env.new_target("restore")
    p = env.popen(["SELECT", "FOLDER", src, "RESTORE", "ADD", "TREE", "RESTORE", "TARGET", target, "RESTORE", "GO"],
                  extra_env={"SESHAT_FAULTS": "range@2+=slow:30000", "SESHAT_THREADS": "1"})
    rd = tc.Reader(p)
    where = target + src
    deadline = time.monotonic() + 30
    temps = []
    while time.monotonic() < deadline and not temps:
        if os.path.isdir(where):
            temps = [n for n in os.listdir(where) if n.startswith(".seshat-restore-")]
        time.sleep(0.05)
    check(temps, f"no temporary appeared while restoring big.bin\n{clip(rd.text())}")
    os.killpg(p.pid, signal.SIGKILL)
    rd.finish(30)
    check(os.path.exists(f"{where}/{temps[0]}"), "the killed restore left no temporary (nothing to test)")
    # A dry run only looks: the leftover stays until a restore that writes.
    r = env.restore(target, folder=src, before=("SET", "DRYRUN", "YES"), timeout=120)
    check(os.path.exists(f"{where}/{temps[0]}") and "Removed" not in r.out,
          f"a dry-run restore removed the leftover temporary\n{r.summary()}")
    r = env.restore(target, folder=src, timeout=120)
    left = [n for n in os.listdir(where) if n.startswith(".seshat-restore-")]
    check(not left, f"the next restore left the killed one's temporary: {left}\n{r.summary()}")
    check("Removed 1 temporary file left by an interrupted restore" in r.out,
          f"the next restore does not say it removed the leftover\n{r.summary()}")
    check(os.path.getsize(f"{where}/big.bin") == 12 << 20, "big.bin did not come back whole")


@test(stores=("local",))
def ctrl_c_at_the_passphrase_prompt_restores_the_terminal(env):
    """Ctrl-C at the hidden passphrase prompt ends the prompt at once, says so, and gives the
    terminal its echo back; the shell goes on and exits cleanly."""
    src = mkdirs(env.base, "src")
    write(f"{src}/a.txt", "a\n")
    env.first_backup(src)
    rc, out = env.on_terminal(["LIST BACKUPS", ("expect", "Passphrase:"), ("send", b"sec"), ("send", b"\x03"),
                               ("expect", "interrupted at the passphrase prompt"), "EXIT"],
                              unset=("SESHAT_PASSWORD", "SESHAT_PASSWORD_FILE"), timeout=30)
    check(rc == 0, f"the shell did not exit cleanly after Ctrl-C at the prompt (exit {rc})\n{clip(out)}")
    check(env.terminal_echo, f"the terminal was left without echo\n{clip(out)}")


@test(stores=("local",))
def hostile_catalog_generation_names(env):
    """Objects under seshat/db/ that are not generations of this format (past the 64-bit range,
    the largest value, not digits) are ignored with a WARN; backups go on and are listed. A
    stray at the last usable number stops the backup with one clear error, losing nothing."""
    src = mkdirs(env.base, "src")
    write(f"{src}/a.txt", "a\n")
    env.first_backup(src)
    for name in ("18446744073709551615", "99999999999999999999", "123abc", "1"):
        env.store.write_object("seshat/db/" + name, b"junk")
    write(f"{src}/b.txt", "b\n")
    r = env.backup(src)
    warned = [l for l in r.text().splitlines() if "WARN" in l and "Ignoring seshat/db/" in l]
    check(len(warned) == 4, f"expected one WARN per stray name, got {warned}\n{r.summary()}")
    check(len(env.list_backups()) == 2, f"the second backup is not listed\n{r.summary()}")
    env.store.write_object("seshat/db/18446744073709551614", b"junk")
    write(f"{src}/c.txt", "c\n")
    r = env.backup(src, rc=None)
    check(r.rc != 0 and len(r.errors()) == 1, f"a backup past the last generation did not fail with one error\n{r.summary()}")
    os.unlink(env.store.object_file("seshat/db/18446744073709551614"))
    check(len(env.list_backups()) == 2, "backups were lost after the stray generation was removed")


def rewrite_keyfile(env, ops, mem):
    """Gives the repository's key file other KDF parameters (with a matching checksum: it is
    one, not a secret), as anyone who can write the store could."""
    import hashlib
    import json
    keys = [k for k in env.store.objects("seshat/keys/")]
    check(len(keys) == 1, f"expected one key file, found {keys}")
    path = env.store.object_file(keys[0])
    j = json.loads(open(path).read())
    j["ops"], j["mem"] = ops, mem
    j["check"] = hashlib.sha256(f"seshat-keyfile\n{ops}\n{mem}\n{j['salt']}\n{j['data']}".encode()).hexdigest()
    env.store.write_object(keys[0], json.dumps(j).encode())


@test(stores=("local",))
def hostile_kdf_parameters_are_refused(env):
    """A key file asking for 100 passes over 1 GiB (or 4 GiB in one pass) is refused at once
    with one clear error, before any derivation."""
    src = mkdirs(env.base, "src")
    write(f"{src}/a.txt", "a\n")
    env.first_backup(src)
    for ops, mem in ((100, 1 << 30), (1, 4 << 30), (11, 8192), (5, 1 << 30)):
        rewrite_keyfile(env, ops, mem)
        t0 = time.monotonic()
        r = env.run("LIST", "BACKUPS", rc=None, timeout=30)
        took = time.monotonic() - t0
        check(r.rc != 0 and len(r.errors()) == 1 and "refused" in r.errors()[0],
              f"KDF ops={ops} mem={mem} was not refused with one error\n{r.summary()}")
        check(took < 5, f"refusing KDF ops={ops} mem={mem} took {took:.1f} s")


@test(stores=("local",))
def kdf_derivation_ends_on_sigterm(env):
    """The costliest derivation a key file may ask for (within the bounds) still ends the
    command within 2 s of a SIGTERM."""
    src = mkdirs(env.base, "src")
    write(f"{src}/a.txt", "a\n")
    env.first_backup(src)
    rewrite_keyfile(env, 10, 400 << 20)
    p = env.popen(["LIST", "BACKUPS"])
    rd = tc.Reader(p)
    time.sleep(1.0)
    check(p.poll() is None, f"the derivation of 10 passes over 400 MiB ended within a second\n{clip(rd.text())}")
    t0 = time.monotonic()
    os.kill(p.pid, signal.SIGTERM)
    rc = rd.finish(10)
    took = time.monotonic() - t0
    check(rc is not None and took < 2, f"SIGTERM during the key derivation ended it after {took:.1f} s (exit {rc})\n"
          f"{clip(rd.text())}")
    check(rc != 0, f"the interrupted command exited 0\n{clip(rd.text())}")


HOSTILE = [b"title\x1b]0;pwned\x07.txt", b"clear\x1b[2J.txt", b"cr\rINFO - forged.txt", b"lf\nERROR - forged.txt",
           b"bad\xff\xfeutf8.txt", b"rtl\xe2\x80\xaefdp.exe"]
ESCAPED = ["title\\x1b]0;pwned\\a.txt", "clear\\x1b[2J.txt", "cr\\rINFO - forged.txt", "lf\\nERROR - forged.txt",
           "bad\\xff\\xfeutf8.txt", "rtl\\u{202e}fdp.exe"]


def raw_controls(data):
    """Control bytes other than the line ends a program prints, and invalid UTF-8 (bytes)."""
    bad = [c for c in data if (c < 0x20 and c != 0x0a) or c == 0x7f]
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        bad.append(f"invalid UTF-8 at {e.start}")
    if b"\xe2\x80\xae" in data:
        bad.append("U+202E")
    return bad


@test(stores=("local",))
def names_are_printed_escaped(env):
    """File names with ESC, BEL, CR, LF, invalid UTF-8 or a right-to-left override reach the
    terminal and the log escaped in every listing (DETAIL backup lines, WARN lines, LIST FOUND,
    FILES, TREE, VERSIONS, SEARCH, restore lines); the restore recreates the exact bytes."""
    src = mkdirs(env.base, "src")
    bsrc = os.fsencode(src)
    for n in HOSTILE:
        with open(bsrc + b"/" + n, "wb") as f:
            f.write(b"x")
    unreadable = bsrc + b"/" + HOSTILE[0] + b".locked"
    with open(unreadable, "wb") as f:
        f.write(b"y")
    os.chmod(unreadable, 0)
    cmds = [("DETAIL backup", env.store_tokens() + ["SET", "DETAIL", "YES", "BACKUP", src, "SET", "DETAIL", "NO"]),
            ("LIST FOUND", ["LIST", "FOUND"]),
            ("LIST FILES", ["SELECT", "FOLDER", src, "LIST", "FILES"]),
            ("LIST TREE", ["SELECT", "FOLDER", src, "LIST", "TREE"]),
            ("LIST VERSIONS", ["SELECT", "FOLDER", src, "LIST", "VERSIONS"]),
            ("SEARCH", ["SEARCH", "CONTAINS", "src"])]
    outs = {}
    for what, toks in cmds:
        p = subprocess.run([env.binary] + toks + ["EXIT"], env=env.run_env({"SESHAT_THREADS": "1"}),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=60)
        raw = p.stdout + p.stderr
        check(not raw_controls(raw), f"{what}: raw control bytes or invalid UTF-8 reached the output: "
              f"{raw_controls(raw)[:5]}\n{clip(raw.decode(errors='replace'))}")
        outs[what] = raw.decode()
    for what in ("LIST FILES", "LIST TREE", "SEARCH"):
        for e in ESCAPED:
            check(e in outs[what], f"{what} does not show {e!r}\n{clip(outs[what])}")
    if os.geteuid() != 0:  # root reads the mode-0 file: no WARN to look at
        check(any("WARN" in l and "title\\x1b" in l for l in outs["DETAIL backup"].splitlines()),
              f"no escaped WARN for the unreadable file\n{clip(outs['DETAIL backup'])}")
    target = env.new_target("restore")
    r = env.restore(target, folder=src, before=("SET", "DETAIL", "YES"))
    check(not raw_controls(os.fsencode(r.out + r.err)), "the restore printed raw control bytes")
    got = sorted(n for n in os.listdir(os.fsencode(target) + bsrc) if not n.endswith(b".locked"))
    check(got == sorted(HOSTILE), f"the restore did not recreate the exact names: {got}")


@test(stores=("local",))
def shared_staging_area(env):
    """SET STAGING in a directory everyone writes: another user's file that looks like a
    staging leftover is never removed, a name planted where Seshat's private directory goes
    makes it stage in a fresh one (with a WARN), and nothing reaches the attacker's directory."""
    as_root_with_nobody(env)
    src = mkdirs(env.base, "src")
    write(f"{src}/a.bin", os.urandom(1 << 20))
    shared = mkdirs(env.base, "shared")
    os.chmod(shared, 0o1777)
    theirs = mkdirs(env.base, "theirs")  # root's own, private: only "not a symlink" keeps Seshat out
    os.chmod(theirs, 0o700)
    dead = tc_dead_pid()
    nobody("sh", "-c", f": > '{shared}/.seshat-staging-{dead}-0123456789abcdef'")
    nobody("ln", "-s", theirs, f"{shared}/seshat-{os.geteuid()}")
    r = env.first_backup(src, "SET", "DELAY", "YES", "SET", "STAGING", shared)
    check(any("WARN" in l and "not a private directory" in l for l in r.out.splitlines()),
          f"no WARN about the planted private directory name\n{r.summary()}")
    check(os.path.exists(f"{shared}/.seshat-staging-{dead}-0123456789abcdef"), "another user's file was removed")
    check(not os.listdir(theirs), f"Seshat wrote into the attacker's directory: {os.listdir(theirs)}")
    r = env.backup(src)  # the tidy step runs with the leftover still there
    check(os.path.exists(f"{shared}/.seshat-staging-{dead}-0123456789abcdef"), "another user's file was removed")
    check(not os.listdir(theirs), f"Seshat wrote into the directory the symlink names: {os.listdir(theirs)}")
    extra = [n for n in os.listdir(shared) if n.startswith(f"seshat-{os.geteuid()}-")]
    check(not extra, f"the one-time staging directories were not removed: {extra}")


def tc_dead_pid():
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


@test
def lock_waiters_served_in_arrival_order(env):
    """While one backup holds the DB lock (stopped with SIGSTOP), six more with SET WAIT YES
    arrive one after another: each is seen queued before the next starts. Once the holder goes
    on, they get the lock in exactly their arrival order, one right after another, and leave
    no lock or queue record behind."""
    folders = [mkdirs(env.base, f"f{i}") for i in range(7)]
    for i, f in enumerate(folders):
        write(f"{f}/x.txt", f"folder {i}\n")
    env.first_backup(folders[0], "SET", "WAIT", "YES")
    write(f"{folders[0]}/y.txt", "more\n")
    # The holder stops itself while it packs a file, so it surely holds the lock.
    holder = env.popen(["BACKUP", folders[0]], extra_env={"SESHAT_CRASH_AT": "pack.file:1=stop", "SESHAT_THREADS": "1"})
    hr = tc.Reader(holder)
    waiters = []
    try:
        deadline = time.monotonic() + 60
        while not process_stopped(holder.pid) and holder.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        check(process_stopped(holder.pid), f"the holder did not stop while packing\n{clip(hr.text())}")
        for i, f in enumerate(folders[1:], 1):
            p = env.popen(["BACKUP", f])
            waiters.append((p, tc.Reader(p)))
            deadline = time.monotonic() + 60
            while len(env.store.queue_keys()) < i and time.monotonic() < deadline and p.poll() is None:
                time.sleep(0.02)
            check(len(env.store.queue_keys()) == i,
                  f"waiter {i} is not queued: {env.store.queue_keys()}\n{clip(waiters[-1][1].text())}")
        t0 = time.monotonic()
        os.killpg(holder.pid, signal.SIGCONT)
        outs = []
        for k, (p, rd) in enumerate([(holder, hr)] + waiters):
            rc = rd.finish(120)
            outs.append(rd.text())
            check(rc == 0, f"backup {k} ended with exit {rc}\n{clip(rd.text())}")
        took = time.monotonic() - t0
    finally:
        for p, _ in [(holder, None)] + waiters:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGCONT)
                p.kill()
    wins = [tc.lock_window(o) for o in outs]
    check(all(None not in w for w in wins), f"a backup's log lacks 'DB Lock acquired' or 'complete': {wins}")
    order = sorted(range(len(wins)), key=lambda k: wins[k][0])
    gaps = [round(wins[order[k + 1]][0] - wins[order[k]][1], 2) for k in range(len(order) - 1)]
    note(f"seven backups in {took:.1f} s after the holder went on; lock order {order}; handover gaps {gaps} s")
    check(order == list(range(len(wins))), f"the waiters got the lock in the order {order}, not in arrival order")
    check(all(g < 5 for g in gaps), f"the lock stayed free for seconds while the next waiter waited: {gaps} s")
    check(not env.store.lock_keys() and not env.store.queue_keys(),
          f"records left: {env.store.lock_keys()} {env.store.queue_keys()}")


def process_stopped(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "T"
    except OSError:
        return False


@test
def bad_settings_file_values(env):
    """~/.seshatrc values are checked like the SET commands that write them: a zero container
    size, an unknown store, a relative staging directory, a bad pattern each stop every command
    with one line naming the file and the setting, exit 1, and nothing is written to the store."""
    src = mkdirs(env.base, "src")
    write(f"{src}/a.txt", "a\n")
    env.first_backup(src)
    rc_path = os.path.join(env.home, ".seshatrc")
    with open(rc_path) as f:
        good = json.load(f)
    before = env.store.listing()
    for key, value, says in (("max_container", 0, "smallest container size"), ("store", "tape", "store must be"),
                             ("staging", "rel/dir", "absolute directory"), ("excludes", ["("], "bad regular expression"),
                             ("max_container", "big", "size in bytes"), ("wait", "yes", "true or false")):
        bad = dict(good)
        bad[key] = value
        with open(rc_path, "w") as f:
            json.dump(bad, f)
        for cmd in (["LIST", "BACKUPS"], ["BACKUP", src]):
            r = env.run(*cmd, rc=None)
            errs = [l for l in r.text().splitlines() if "ERROR" in l]
            check(r.rc == 1 and len(errs) == 1 and ".seshatrc" in errs[0] and key in errs[0] and says in errs[0],
                  f"{key} = {value!r}: {' '.join(cmd)} did not stop with one line naming the setting\n{r.summary()}")
        check(env.store.listing() == before, f"{key} = {value!r}: the store changed")
    with open(rc_path, "w") as f:
        json.dump(good, f)
    env.backup(src)


@test(stores=("s3",))
def server_killed_mid_restore_fails_fast(env):
    """The S3 server goes away in the middle of a restore: the restore stops within 20 s with
    one "cannot reach" error and a non-zero exit, no file is called damaged, and no temporary
    is left behind."""
    src = mkdirs(env.base, "src")
    for i in range(8):
        write(f"{src}/f{i}.bin", os.urandom(3 << 20))
    env.first_backup(src, "SET", "MAX", "4", "MB")
    target = env.new_target("restore")
    # Slow enough that the server can be stopped while the restore runs.
    p = env.popen(["SELECT", "FOLDER", src, "RESTORE", "ADD", "TREE", "RESTORE", "TARGET", target, "RESTORE", "GO"],
                  extra_env={"SESHAT_FAULTS": "range@2+=slow:500", "SESHAT_S3_ATTEMPTS": "8",
                             "SESHAT_S3_BACKOFF_MS": "250"})
    rd = tc.Reader(p)
    time.sleep(1.0)
    check(p.poll() is None, f"the restore ended before the server was stopped\n{clip(rd.text())}")
    env.server.stop(signal.SIGKILL)
    t0 = time.monotonic()
    rc = rd.finish(60)
    took = time.monotonic() - t0
    out = rd.text()
    note(f"the restore stopped {took:.1f} s after the server was killed (exit {rc})")
    check(rc is not None and took < 20, f"the restore took {took:.1f} s to give up after the server was killed\n{clip(out)}")
    check(rc != 0, f"the restore exited 0 without its server\n{clip(out)}")
    check("cannot reach" in out, f"the restore does not say it cannot reach the store\n{clip(out)}")
    check("damaged" not in out, f"a connection failure was called damage\n{clip(out)}")
    left = [n for _, _, fs in os.walk(target) for n in fs if n.startswith(".seshat-restore-")]
    check(not left, f"temporaries left: {left}")


@test(stores=("s3",))
def silent_server_times_out_and_sigterm_ends_it(env):
    """A server that accepts connections and never answers: a command fails once the
    inactivity timeout has passed and the store counts as unreachable; SIGTERM while it
    waits ends the process within 2 s."""
    import socket
    import threading
    src = mkdirs(env.base, "src")
    write(f"{src}/a.txt", "a\n")
    env.first_backup(src)
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(64)
    held = []
    stop = threading.Event()

    def accept():
        lsock.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(lsock.accept()[0])  # accepted, read from never, answered never
            except OSError:
                pass
    th = threading.Thread(target=accept, daemon=True)
    th.start()
    silent = f"http://127.0.0.1:{lsock.getsockname()[1]}"
    try:
        t0 = time.monotonic()
        r = env.run("S3", "ENDPOINT", silent, "LIST", "BACKUPS", rc=None, timeout=60,
                    extra_env={"SESHAT_S3_IDLE_SECONDS": "2", "SESHAT_S3_BACKOFF_MS": "100"})
        took = time.monotonic() - t0
        note(f"against a silent server the command failed after {took:.1f} s (idle timeout 2 s)")
        check(r.rc != 0 and "cannot reach" in r.err, f"no clear failure against a silent server\n{r.summary()}")
        check(took < 20, f"the command took {took:.1f} s to give up on a silent server")
        p = env.popen(["S3", "ENDPOINT", silent, "LIST", "BACKUPS"])  # the default 60 s timeout
        rd = tc.Reader(p)
        time.sleep(1.5)
        check(p.poll() is None, f"the command ended at once\n{clip(rd.text())}")
        t0 = time.monotonic()
        os.kill(p.pid, signal.SIGTERM)
        rc = rd.finish(10)
        took = time.monotonic() - t0
        check(rc is not None and took < 2, f"SIGTERM ended it after {took:.1f} s (exit {rc})\n{clip(rd.text())}")
        check(rc != 0, "the command stopped by SIGTERM exited 0")
    finally:
        stop.set()
        th.join()
        for c in held:
            c.close()
        lsock.close()
        env.run("S3", "ENDPOINT", env.server.url, check_lock=False)  # the remembered setting back


if __name__ == "__main__":
    mine = {n: v for n, v in tc.TESTS.items() if v[0].__module__ == __name__}
    tc.TESTS.clear()
    tc.TESTS.update(mine)
    sys.exit(tc.main(sys.argv))
