#!/usr/bin/env python3
"""Restore a machine exactly (issue 14), on the harness of test_core.py: hard links, extended
attributes of every namespace, POSIX ACLs, sparse files, FIFOs and device nodes, inode flags,
times outside 1901..2262, setuid/setgid/sticky modes, owners without accounts and paths longer
than PATH_MAX. Each restore is compared field by field (lstat, xattrs including
system.posix_acl_*, st_blocks, device numbers, inode groups, FS_IOC_GETFLAGS) and with
`rsync -aHAXSn --checksum --itemize-changes`, the reference of a perfect copy.

Usage is that of test_core.py: [--store local|s3] --list | <seshat-binary> <name> | all.
"""
import fcntl
import hashlib
import os
import re
import shutil
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_core as tc  # noqa: E402
from test_core import check, mkdirs, note, write, test, Skip, TestFailure  # noqa: E402

FS_IOC_GETFLAGS = 0x80086601
# The inode flags a user sets with chattr and a restore gives back (others, as extents or
# inline data, are the file system's own).
FS_SYNC, FS_IMMUTABLE, FS_APPEND, FS_NODUMP, FS_NOATIME, FS_DIRSYNC = 0x8, 0x10, 0x20, 0x40, 0x80, 0x10000
FLAG_MASK = FS_SYNC | FS_IMMUTABLE | FS_APPEND | FS_NODUMP | FS_NOATIME | FS_DIRSYNC
OWNER_WITHOUT_ACCOUNT = 4242


def need_root():
    if os.geteuid() != 0:
        raise Skip("needs root: device nodes, trusted.* xattrs, owners and inode flags are root's")


def need_tool(name):
    if not shutil.which(name):
        raise Skip(f"{name} is not installed (tools/setup.sh installs it)")


def features_dir(env):
    """A directory where user.* xattrs, ACLs and inode flags work: the test's base if its file
    system has them (ext4 here), else a loop-mounted ext4 image made for the test."""
    probe = os.path.join(env.base, "xattr-probe")
    write(probe, "")
    try:
        os.setxattr(probe, "user.probe", b"1")
        return env.base
    except OSError:
        pass
    finally:
        os.unlink(probe)
    need_tool("mkfs.ext4")
    img = os.path.join(env.base, "ext4.img")
    with open(img, "wb") as f:
        f.truncate(512 << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", img], check=True)
    mnt = mkdirs(env.base, "ext4")
    r = subprocess.run(["mount", "-o", "loop,user_xattr,acl", img, mnt], capture_output=True)
    if r.returncode != 0:
        raise Skip(f"the test file system has no user xattrs and an ext4 image cannot be mounted: {r.stderr.decode()}")
    env.unmount = mnt
    note(f"{env.base} has no user xattrs: testing on a loop-mounted ext4 image")
    return mnt


def undo_flags(root):
    """chattr -i -a below root, so that the test's files can be removed."""
    if shutil.which("chattr") and os.path.exists(root):
        subprocess.run(["chattr", "-R", "-f", "-i", "-a", root], capture_output=True)


# ---------------------------------------------------------------------------- the comparer

def inode_flags(name, dir_fd, st):
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        return None
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY, dir_fd=dir_fd)
    try:
        buf = fcntl.ioctl(fd, FS_IOC_GETFLAGS, b"\0" * 8)
        return struct.unpack("i", buf[:4])[0] & FLAG_MASK
    except OSError:
        return None
    finally:
        os.close(fd)


def xattrs_of(path):
    """Every extended attribute of path, itself if a symlink (path is short: a name below
    /proc/self/fd/<directory fd>)."""
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return ()
    return tuple(sorted((n, os.getxattr(path, n, follow_symlinks=False)) for n in names))


def fidelity_snapshot(root, skip_sockets=True):
    """Maps each path below root (bytes, relative; b"" is root itself) to every field a perfect
    copy keeps: type, mode with setuid/setgid/sticky, owner, mtime in ns, size and content hash,
    link target, device numbers, xattrs (ACLs included), inode flags and, for a file with more
    than one name, its link group (the smallest of its names in the tree). Walks relative to
    directory fds, so paths of any length work. Also returns {path: st_blocks} of files."""
    entries, blocks, first_name = {}, {}, {}

    def visit(dir_fd, name, rel):
        st = os.lstat(name, dir_fd=dir_fd)
        mode = st.st_mode
        if stat.S_ISSOCK(mode) and skip_sockets:
            return
        e = {"type": stat.S_IFMT(mode), "mode": stat.S_IMODE(mode), "uid": st.st_uid, "gid": st.st_gid}
        if not stat.S_ISDIR(mode):
            e["mtime"] = st.st_mtime_ns  # a directory's is checked too, below, once its entries are made
        e["xattrs"] = xattrs_of(name if dir_fd is None else b"/proc/self/fd/%d/" % dir_fd + name)
        e["flags"] = inode_flags(name, dir_fd, st)
        if stat.S_ISLNK(mode):
            e["target"] = os.readlink(name, dir_fd=dir_fd)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            e["rdev"] = (os.major(st.st_rdev), os.minor(st.st_rdev))
        elif stat.S_ISREG(mode):
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dir_fd)
            h = hashlib.sha256()
            with os.fdopen(fd, "rb") as f:
                while b := f.read(1 << 20):
                    h.update(b)
            e["size"], e["sha"] = st.st_size, h.hexdigest()
            blocks[rel] = st.st_blocks
            if st.st_nlink > 1:
                key = (st.st_dev, st.st_ino)
                first_name.setdefault(key, []).append(rel)
                e["inode"] = key
        entries[rel] = e
        if stat.S_ISDIR(mode):
            sub = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
            try:
                for n in sorted(map(os.fsencode, os.listdir(sub))):
                    visit(sub, n, rel + b"/" + n if rel else n)
            finally:
                os.close(sub)
            e["mtime"] = st.st_mtime_ns

    root = os.fsencode(root)
    visit(None, root, b"")
    for names in first_name.values():
        leader = min(names)
        for n in names:
            entries[n]["group"] = leader if len(names) > 1 else None
    for e in entries.values():
        e.pop("inode", None)
    return entries, blocks


def describe(e):
    if e is None:
        return "absent"
    return " ".join(f"{k}={v!r}"[:200] for k, v in sorted(e.items()))


def compare_exactly(expected, actual, what):
    problems = []
    for k in sorted(set(expected) | set(actual)):
        e, a = expected.get(k), actual.get(k)
        if e == a:
            continue
        if e is None or a is None:
            problems.append(f"  {tc.show(k) if k else '(top)'}: expected {describe(e)}, got {describe(a)}")
            continue
        diff = [f"{f}: expected {e.get(f)!r} got {a.get(f)!r}"[:300] for f in sorted(set(e) | set(a))
                if e.get(f) != a.get(f)]
        problems.append(f"  {tc.show(k) if k else '(top)'}: " + "; ".join(diff))
    if problems:
        raise TestFailure(f"{what}: {len(problems)} differences\n" + "\n".join(problems[:15]) +
                          ("\n  ..." if len(problems) > 15 else ""))


def rsync_differences(src, dst, excludes=()):
    """What `rsync -aHAXSn --checksum --itemize-changes` would still change: nothing for a
    perfect copy."""
    need_tool("rsync")
    cmd = ["rsync", "-aHAXSn", "--checksum", "--itemize-changes"]
    cmd += [f"--exclude={x}" for x in excludes]
    r = subprocess.run(cmd + [src.rstrip("/") + "/", dst.rstrip("/") + "/"], capture_output=True, timeout=600)
    check(r.returncode == 0, f"rsync failed ({r.returncode}): {r.stderr.decode(errors='replace')[:1000]}")
    return r.stdout.decode(errors="replace").strip()


def check_exact(src, dst, what, expected=None, excludes=(), blocks_slack=0):
    """dst is src exactly: field by field, rsync finds nothing to do, and no restored file takes
    more blocks than its source (holes kept)."""
    exp, exp_blocks = expected or fidelity_snapshot(src)
    got, got_blocks = fidelity_snapshot(dst)
    compare_exactly(exp, got, what)
    fat = [f"{tc.show(k)}: {got_blocks[k]} blocks, source {b}" for k, b in exp_blocks.items()
           if got_blocks.get(k, 0) > b + blocks_slack]
    check(not fat, f"{what}: restored files take more disk space than their source:\n  " + "\n  ".join(fat[:10]))
    diffs = rsync_differences(src, dst, excludes)
    check(diffs == "", f"{what}: rsync -aHAXSn --checksum would change\n{tc.clip(diffs)}")


# ---------------------------------------------------------------------------- trees

T_2300 = (10_413_792_000 + 43_200) * 10**9 + 123456789  # 2300-01-01 12:00:00.123456789 UTC
# Before 1970 (ext4 keeps times from 1901-12-14 on: earlier ones cannot be made here).
T_1905 = (-2_035_584_000 + 43_200) * 10**9 + 5  # 1905-07-01 12:00:00.000000005 UTC


def linked_tree(env, src):
    """Hard-link groups across directories, one with a name outside the folder, one of empty
    files, and a copy with the same content that must stay its own inode."""
    mkdirs(src, "a")
    mkdirs(src, "b/deep")
    content = os.urandom(200_000)  # incompressible: the store's size shows how often it is kept
    write(f"{src}/a/x", content, mtime_ns=tc.T1)
    os.link(f"{src}/a/x", f"{src}/b/y")
    os.link(f"{src}/a/x", f"{src}/b/deep/z")
    os.link(f"{src}/a/x", os.path.join(env.base, "outside-name"))  # a name the backup never sees
    write(f"{src}/a/copy", content, mtime_ns=tc.T1)  # same bytes, its own inode
    write(f"{src}/b/empty1", b"", mode=0o600)
    os.link(f"{src}/b/empty1", f"{src}/a/empty2")
    write(f"{src}/b/two", b"two names\n", mode=0o4755)
    os.link(f"{src}/b/two", f"{src}/b/two-again")
    os.chown(f"{src}/b/two", OWNER_WITHOUT_ACCOUNT, OWNER_WITHOUT_ACCOUNT)
    os.chmod(f"{src}/b/two", 0o4755)  # chown cleared the setuid bit


def xattr_tree(env, src):
    """xattrs of every namespace on files, directories and a symlink; ACLs access and default."""
    mkdirs(src, "shared/sub")
    write(f"{src}/plain.txt", "plain\n")
    write(f"{src}/tagged.txt", "tagged\n")
    os.setxattr(f"{src}/tagged.txt", "user.comment", b"hello")
    os.setxattr(f"{src}/tagged.txt", "user.empty", b"")
    os.setxattr(f"{src}/tagged.txt", "user.binary", bytes(range(256)) * 8)  # 2 KB with NULs
    os.setxattr(f"{src}/tagged.txt", "trusted.overlay.test", b"root only")
    os.setxattr(f"{src}/shared", "user.dir", b"on a directory")
    os.symlink("plain.txt", f"{src}/link")
    os.setxattr(f"{src}/link", "trusted.onlink", b"a link's own", follow_symlinks=False)
    write(f"{src}/helper", b"\x7fELF pretend binary\n", mode=0o755)
    need_tool("setcap")
    subprocess.run(["setcap", "cap_net_raw+ep", f"{src}/helper"], check=True)
    need_tool("setfacl")
    write(f"{src}/acl.txt", "acl\n", mode=0o640)
    subprocess.run(["setfacl", "-m", "u:4242:rw,g:4243:r", f"{src}/acl.txt"], check=True)
    # A directory with a default ACL whose group entry is narrower than the mode would say.
    os.chmod(f"{src}/shared", 0o750)
    subprocess.run(["setfacl", "-m", "u:4242:rwx", "-d", "-m", "g::r-x,u:4242:rwx,o::-", f"{src}/shared"],
                   check=True)
    write(f"{src}/shared/inherited.txt", "created below a default ACL\n")
    write(f"{src}/shared/sub/deeper.txt", "deeper\n")


def sparse_tree(src, big=64 << 20):
    """Sparse files (data islands in holes, all hole, a hole at the end) and a file of zeros
    written out in full."""
    with open(f"{src}/islands.img", "wb") as f:
        f.truncate(big)
        for off in (0, big // 3, big - 4096):
            f.seek(off)
            f.write(os.urandom(4096))
    with open(f"{src}/all-hole.img", "wb") as f:
        f.truncate(big)
    with open(f"{src}/tail-hole.img", "wb") as f:
        f.write(b"head" * 4096)
        f.truncate(big // 2)
    with open(f"{src}/zeros.bin", "wb") as f:  # allocated, all zero: kept allocated by default
        f.write(bytes(8 << 20))
        f.write(b"end\n")


def special_tree(src):
    os.mkfifo(f"{src}/pipe", 0o620)
    os.mknod(f"{src}/null-like", 0o640 | stat.S_IFCHR, os.makedev(1, 3))
    os.mknod(f"{src}/loop-like", 0o660 | stat.S_IFBLK, os.makedev(7, 200))
    os.mknod(f"{src}/big-minor", 0o600 | stat.S_IFCHR, os.makedev(4095, 1048575))
    os.chown(f"{src}/loop-like", 0, 6)
    os.chown(f"{src}/pipe", OWNER_WITHOUT_ACCOUNT, 0)
    tc.set_mtime(f"{src}/pipe", tc.T1)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(f"{src}/sock")
    s.close()


def modes_and_times_tree(src):
    mkdirs(src, "closed")
    write(f"{src}/closed/inside.txt", "in a 0000 directory\n")
    os.chmod(f"{src}/closed", 0o000)
    write(f"{src}/suid", "s\n", mode=0o4755)
    write(f"{src}/sgid", "g\n", mode=0o2750)
    mkdirs(src, "sticky")
    os.chmod(f"{src}/sticky", 0o1777)
    write(f"{src}/future.txt", "from 2300\n", mtime_ns=T_2300)
    write(f"{src}/past.txt", "from 1905\n", mtime_ns=T_1905)
    os.symlink("future.txt", f"{src}/future-link")
    tc.set_mtime(f"{src}/future-link", T_2300 + 1)
    write(f"{src}/nobody.txt", "owned by an id without an account\n")
    os.chown(f"{src}/nobody.txt", OWNER_WITHOUT_ACCOUNT, OWNER_WITHOUT_ACCOUNT + 1)
    tc.set_mtime(f"{src}/sticky", T_2300 + 7)


def flags_tree(src):
    need_tool("chattr")
    write(f"{src}/immutable.txt", "never changes\n")
    write(f"{src}/append.log", "only grows\n")
    write(f"{src}/noatime.txt", "no atime\n")
    mkdirs(src, "frozen")
    write(f"{src}/frozen/inside.txt", "in an immutable directory\n")
    mkdirs(src, "nodump")
    for args in (["+i", "immutable.txt"], ["+a", "append.log"], ["+A", "noatime.txt"], ["+d", "nodump"],
                 ["+i", "frozen"]):
        r = subprocess.run(["chattr", args[0], f"{src}/{args[1]}"], capture_output=True)
        if r.returncode != 0:
            raise Skip(f"chattr {args[0]} does not work here: {r.stderr.decode()}")


def crafted_tree(env, src):
    """Everything of issue 14 in one tree."""
    mkdirs(src)
    linked_tree(env, mkdirs(src, "links"))
    xattr_tree(env, mkdirs(src, "xattrs"))
    sparse_tree(mkdirs(src, "sparse"), big=16 << 20)
    special_tree(mkdirs(src, "special"))
    modes_and_times_tree(mkdirs(src, "modes"))
    flags_tree(mkdirs(src, "flags"))
    tc.set_mtime(f"{src}/links/a", tc.T2)


def backed_up_cleanly(r, what):
    check(not r.warns(), f"{what}: the backup WARNed\n{r.summary()}")


# ---------------------------------------------------------------------------- tests

@test
def hard_links_round_trip(env):
    """Names of one inode come back as one inode with all its names (across directories; a
    name outside the folder is not); a partial restore links the names it restores among
    themselves; a file with the same bytes stays its own inode; the content is stored once."""
    need_root()
    src = os.path.join(env.base, "src")
    mkdirs(src)
    linked_tree(env, src)
    snap = fidelity_snapshot(src)
    r = env.first_backup(src)
    backed_up_cleanly(r, "hard links")
    t = env.new_target("full")
    env.restore(t)
    check_exact(src, tc.restored(t, src), "restore of hard links", expected=snap)
    st = os.stat(f"{tc.restored(t, src)}/a/x")
    check(st.st_nlink == 3, f"a/x has {st.st_nlink} names after the restore, expected 3 (the fourth is outside)")
    # Only b/: y and deep/z are one inode still, without a/x.
    t2 = env.new_target("part")
    env.run("SELECT", "FOLDER", src, "CD", "b", "RESTORE", "ADD", "TREE", "RESTORE", "TARGET", t2, "RESTORE", "GO")
    y, z = os.stat(f"{t2}{src}/b/y"), os.stat(f"{t2}{src}/b/deep/z")
    check((y.st_ino, y.st_nlink) == (z.st_ino, 2), f"a partial restore of b/ did not link y and deep/z "
                                                  f"(inodes {y.st_ino}, {z.st_ino}, links {y.st_nlink})")
    check(not os.path.exists(f"{t2}{src}/a"), "a partial restore of b/ restored a/")
    # A second backup after a name is gone and another added: the groups of each point in time.
    os.unlink(f"{src}/b/y")
    os.link(f"{src}/b/two", f"{src}/a/two-third")
    snap2 = fidelity_snapshot(src)
    r = env.backup(src)
    backed_up_cleanly(r, "second backup of hard links")
    t3 = env.new_target("second")
    env.restore(t3, number=2)
    check_exact(src, tc.restored(t3, src), "restore of the second backup of hard links", expected=snap2)
    t4 = env.new_target("first-again")
    env.restore(t4, number=1)
    compare_exactly(snap[0], fidelity_snapshot(tc.restored(t4, src))[0], "restore of backup 1 after backup 2")
    # A name of the group kept at the target (it differs; no SET OVERWRITE): the others still
    # come back, linked among themselves.
    t5 = env.new_target("kept")
    for name in ("a/x", "b/y"):
        mkdirs(os.path.dirname(f"{t5}{src}/{name}"))
        write(f"{t5}{src}/{name}", f"the user's own {name}\n")
    r = env.restore(t5, number=1, rc=1)
    check(tc.read_bytes(f"{t5}{src}/a/x") == b"the user's own a/x\n" and
          tc.read_bytes(f"{t5}{src}/b/y") == b"the user's own b/y\n", "a differing file was replaced")
    z = os.stat(f"{t5}{src}/b/deep/z")
    check(tc.file_sha(f"{t5}{src}/b/deep/z") == snap[0][b"b/deep/z"]["sha"],
          f"b/deep/z did not come back when a/x and b/y were kept\n{r.summary()}")
    check(z.st_nlink == 1, f"b/deep/z has {z.st_nlink} links, expected 1 (its other names were kept)")
    stored = sum(os.path.getsize(env.store.container_file(c)) for c in env.store.containers())
    check(stored < 300_000, f"the 200 KB linked content was stored more than once: {stored} bytes of containers")


@test(stores=("local",))
def hard_link_across_file_systems_is_a_copy(env):
    """Restored to ORIGINAL after a name's directory became another file system (a mount), a
    hard-link group cannot be one inode: the names across the mount are copies, each named in
    a WARN (exit 3), with the right content and metadata."""
    need_root()
    src = os.path.join(env.base, "src")
    mkdirs(src, "a")
    mkdirs(src, "b")
    write(f"{src}/a/x", os.urandom(300_000), mode=0o640, mtime_ns=tc.T1)
    os.link(f"{src}/a/x", f"{src}/a/x2")
    os.link(f"{src}/a/x", f"{src}/b/y")
    snap = fidelity_snapshot(src)[0]
    env.first_backup(src)
    os.unlink(f"{src}/a/x")
    os.unlink(f"{src}/a/x2")
    os.unlink(f"{src}/b/y")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", f"{src}/b"], capture_output=True)
    if r.returncode != 0:
        raise Skip(f"cannot mount a tmpfs: {r.stderr.decode()}")
    env.unmount = f"{src}/b"
    os.utime(f"{src}/b", ns=(snap[b"b"]["mtime"],) * 2)
    r = env.restore("ORIGINAL", rc=3)
    got = fidelity_snapshot(src)[0]
    for name in (b"a/x", b"a/x2", b"b/y"):
        check(got[name]["sha"] == snap[name]["sha"] and got[name]["mode"] == 0o640 and got[name]["mtime"] == tc.T1,
              f"{name.decode()} did not come back right across the mount: {describe(got.get(name))}\n{r.summary()}")
    check(got[b"a/x"]["group"] == got[b"a/x2"]["group"] == b"a/x", "a/x and a/x2 are no longer one inode")
    copies = [w for w in r.warns() if "it is a copy" in w]
    check(len(copies) == 1 and f"{src}/" in copies[0], f"expected one WARN naming the copy across the mount\n{r.summary()}")


@test
def xattrs_and_acls_round_trip(env):
    """user.*, trusted.* and security.* (a file capability) xattrs, binary and empty values, on
    files, directories and a symlink; access and default ACLs come back exactly, and a restore
    into a directory with a default ACL does not give its files an ACL they never had."""
    need_root()
    base = features_dir(env)
    src = os.path.join(base, "src")
    mkdirs(src)
    xattr_tree(env, src)
    snap = fidelity_snapshot(src)
    check(any(n == "security.capability" for n, _ in snap[0][b"helper"]["xattrs"]), "setcap left no capability")
    r = env.first_backup(src)
    backed_up_cleanly(r, "xattrs")
    t = env.new_target("full")
    env.restore(t)
    check_exact(src, tc.restored(t, src), "restore of xattrs and ACLs", expected=snap)
    # A target whose default ACL would widen what it holds.
    t2 = tempfile.mkdtemp(prefix="acl-target-", dir=base)
    subprocess.run(["setfacl", "-d", "-m", "g::rwx,o::rwx,u:4244:rwx", t2], check=True)
    env.restore(t2)
    check_exact(src, tc.restored(t2, src), "restore into a directory with a default ACL", expected=snap)


@test
def sparse_files_keep_their_holes(env):
    """Holes are found with SEEK_DATA/SEEK_HOLE and not stored; restored files take no more
    blocks than their source. A file of written zeros stays allocated unless SET SPARSE YES."""
    src = os.path.join(env.base, "src")
    mkdirs(src)
    sparse_tree(src)
    snap = fidelity_snapshot(src)
    r = env.first_backup(src)
    backed_up_cleanly(r, "sparse files")
    t = env.new_target("full")
    env.restore(t)
    check_exact(src, tc.restored(t, src), "restore of sparse files", expected=snap)
    got = fidelity_snapshot(tc.restored(t, src))[1]
    note(f"blocks of 64 MiB sparse files: source {snap[1][b'islands.img']}, restored {got[b'islands.img']}; "
         f"zeros.bin {snap[1][b'zeros.bin']} -> {got[b'zeros.bin']}")
    check(got[b"zeros.bin"] >= snap[1][b"zeros.bin"] - 8, "SET SPARSE NO (the default) punched holes in zeros.bin")
    t2 = env.new_target("sparse-yes")
    env.restore(t2, before=("SET", "SPARSE", "YES"))
    got2 = fidelity_snapshot(tc.restored(t2, src))[1]
    check(got2[b"zeros.bin"] <= 64, f"SET SPARSE YES: zeros.bin restored with {got2[b'zeros.bin']} blocks, not as holes")
    check(tc.file_sha(f"{tc.restored(t2, src)}/zeros.bin") == snap[0][b"zeros.bin"]["sha"],
          "SET SPARSE YES changed the content of zeros.bin")
    r = env.run("SET", "SPARSE", "YES", "SHOW", "CONFIG", check_lock=False)
    check(re.search(r"Sparse restore:\s+YES", r.out), f"SHOW CONFIG does not show SET SPARSE YES\n{r.summary()}")
    r = env.run("SHOW", "CONFIG", check_lock=False)
    check(re.search(r"Sparse restore:\s+NO", r.out), f"SET SPARSE YES outlived its run\n{r.summary()}")


@test
def special_files_round_trip(env):
    """FIFOs and character and block devices (with their numbers, owners and modes) are backed up
    without a WARN and recreated; a socket is recorded and skipped on restore with an INFO."""
    need_root()
    src = os.path.join(env.base, "src")
    mkdirs(src)
    write(f"{src}/a.txt", "a\n")
    special_tree(src)
    snap = fidelity_snapshot(src)
    r = env.first_backup(src, timeout=30)
    backed_up_cleanly(r, "special files")
    r = env.run("SELECT", "FOLDER", src, "LIST", "FILES", check_lock=False)
    check(any("1, 3" in l and "null-like" in l for l in r.out.splitlines()),
          f"LIST FILES does not show the device numbers of null-like\n{r.summary()}")
    t = env.new_target("full")
    r = env.restore(t, timeout=30)
    check(any("Not restored" in l and "sock" in l for l in r.out.splitlines() + r.err.splitlines()),
          f"no INFO naming the socket that is not restored\n{r.summary()}")
    check_exact(src, tc.restored(t, src), "restore of special files", expected=snap, excludes=("sock",))
    check(not os.path.lexists(f"{tc.restored(t, src)}/sock"), "a socket was restored")
    # Something else at their names: kept without SET OVERWRITE, replaced with it.
    os.unlink(f"{tc.restored(t, src)}/pipe")
    write(f"{tc.restored(t, src)}/pipe", "a file now\n")
    os.unlink(f"{tc.restored(t, src)}/null-like")
    os.mkfifo(f"{tc.restored(t, src)}/null-like")
    env.restore(t, rc=1, timeout=30)
    check(stat.S_ISREG(os.lstat(f"{tc.restored(t, src)}/pipe").st_mode), "a file in the way of a FIFO was replaced")
    env.restore(t, before=("SET", "OVERWRITE", "YES"), timeout=30)
    check_exact(src, tc.restored(t, src), "special files restored over what was in their way", expected=snap,
                excludes=("sock",))


@test
def inode_flags_round_trip(env):
    """chattr +i, +a, +A and +d come back, set after the content (an immutable directory gets its
    files first)."""
    need_root()
    base = features_dir(env)
    src = os.path.join(base, "src")
    mkdirs(src)
    t = None
    try:
        flags_tree(src)
        snap = fidelity_snapshot(src)
        r = env.first_backup(src)
        backed_up_cleanly(r, "inode flags")
        t = env.new_target("full")
        env.restore(t)
        check_exact(src, tc.restored(t, src), "restore of inode flags", expected=snap)
        check(snap[0][b"frozen"]["flags"] & FS_IMMUTABLE, "chattr +i left no flag on the directory")
        # A restore over the first one keeps what is there (nothing to do), without failing on +i.
        r = env.restore(t)
        check_exact(src, tc.restored(t, src), "a second restore onto an immutable copy", expected=snap)
    finally:
        undo_flags(src)
        if t:
            undo_flags(t)


@test
def modes_owners_and_times_round_trip(env):
    """setuid/setgid/sticky, a 0000 directory, owners without accounts, and nanosecond times
    after 2262 and before 1970 come back exactly; LIST shows the year 2300."""
    need_root()
    src = os.path.join(env.base, "src")
    mkdirs(src)
    modes_and_times_tree(src)
    snap = fidelity_snapshot(src)
    r = env.first_backup(src)
    backed_up_cleanly(r, "modes and times")
    r = env.run("SELECT", "FOLDER", src, "LIST", "FILES", check_lock=False)
    lines = r.out.splitlines()
    check(any("01-Jan-2300" in l and "future.txt" in l for l in lines), f"LIST does not show 2300\n{r.summary()}")
    for name, mode in (("suid", "-rwsr-xr-x"), ("sgid", "-rwxr-s---"), ("sticky/", "drwxrwxrwt"), ("closed/", "d---------")):
        check(any(l.split()[1:2] == [mode] and l.endswith(name) for l in lines),
              f"LIST does not show {name} as {mode}\n{r.summary()}")
    check(any("01-Jul-1905" in l and "past.txt" in l for l in lines), f"LIST does not show 1905\n{r.summary()}")
    t = env.new_target("full")
    env.restore(t)
    try:
        check_exact(src, tc.restored(t, src), "restore of modes, owners and times", expected=snap)
    finally:
        os.chmod(f"{src}/closed", 0o700)
        if os.path.isdir(f"{tc.restored(t, src)}/closed"):
            os.chmod(f"{tc.restored(t, src)}/closed", 0o700)


def make_deep(src, levels, name_len=20):
    """A chain of levels directories with name_len-byte names, a file at the bottom and one half
    way; made relative to directory fds (the whole path is longer than PATH_MAX)."""
    fd = os.open(src, os.O_RDONLY | os.O_DIRECTORY)
    for i in range(levels):
        name = f"{i:04d}".ljust(name_len, "d")
        os.mkdir(name, dir_fd=fd)
        nfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = nfd
        if i in (levels // 2, levels - 1):
            wfd = os.open("file.txt", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644, dir_fd=fd)
            os.write(wfd, f"at level {i}\n".encode())
            os.close(wfd)
            os.symlink("file.txt", "link", dir_fd=fd)
    os.close(fd)
    return levels * (name_len + 1)


def remove_deep(path):
    subprocess.run(["rm", "-rf", "--one-file-system", path], capture_output=True)


@test
def paths_longer_than_path_max(env):
    """A 300-level tree of 20-byte names (6.3 KB paths) is backed up and restored completely."""
    src = os.path.join(env.base, "src")
    mkdirs(src)
    length = make_deep(src, 300)
    write(f"{src}/top.txt", "top\n")
    snap = fidelity_snapshot(src)
    r = env.first_backup(src, timeout=120)
    backed_up_cleanly(r, "a deep tree")
    t = env.new_target("full")
    try:
        env.restore(t, timeout=120)
        compare_exactly(snap[0], fidelity_snapshot(tc.restored(t, src))[0], f"restore of a tree with {length}-byte paths")
        note(f"restored {len(snap[0])} entries with paths of up to {length} bytes")
        # To ORIGINAL: the deepest file removed from the source comes back in place.
        fd = os.open(src, os.O_RDONLY | os.O_DIRECTORY)
        for i in range(300):
            nfd = os.open(f"{i:04d}".ljust(20, "d"), os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nfd
        os.unlink("file.txt", dir_fd=fd)
        os.close(fd)
        env.restore("ORIGINAL", timeout=120)
        compare_exactly(snap[0], fidelity_snapshot(src)[0], "restore to ORIGINAL of a file below a 6.3 KB path")
    finally:
        remove_deep(src)
        remove_deep(t)


@test
def crafted_tree_round_trip(env):
    """Everything above in one folder, restored to a target and compared with rsync -aHAXSn."""
    need_root()
    base = features_dir(env)
    src = os.path.join(base, "src")
    t = None
    try:
        crafted_tree(env, src)
        snap = fidelity_snapshot(src)
        r = env.first_backup(src, timeout=60)
        backed_up_cleanly(r, "the crafted tree")
        t = tempfile.mkdtemp(prefix="full-", dir=base)
        env.restore(t, timeout=60)
        check_exact(src, tc.restored(t, src), "restore of the crafted tree", expected=snap,
                    excludes=("special/sock",))
        r = env.run("VERIFY", "DATA", check_lock=False, timeout=60)
    finally:
        undo_flags(src)
        if t:
            undo_flags(t)
        os.chmod(f"{src}/modes/closed", 0o700)


@test
def baremetal_of_another_host(env):
    """A new machine restores a second host's whole folder set with RESTORE BAREMETAL exactly."""
    need_root()
    base = features_dir(env)
    src = os.path.join(base, "src")
    other = {"SESHAT_HOSTNAME": "second-host"}
    t = None
    try:
        crafted_tree(env, src)
        plain = mkdirs(base, "plain")
        write(f"{plain}/p.txt", "plain\n")
        snap = fidelity_snapshot(src)
        r = env.first_backup(src, timeout=60, extra_env=other)
        backed_up_cleanly(r, "the second host's backup")
        env.backup(plain, extra_env=other)
        t = tempfile.mkdtemp(prefix="bare-", dir=base)
        r = env.run("SELECT", "HOST", "second-host", "RESTORE", "BAREMETAL", "RESTORE", "TARGET", t, "RESTORE", "GO",
                    timeout=60)
        check_exact(src, tc.restored(t, src), "BAREMETAL of the second host", expected=snap,
                    excludes=("special/sock",))
        check(tc.read_bytes(f"{t}{plain}/p.txt") == b"plain\n", "BAREMETAL left out the second folder")
    finally:
        undo_flags(src)
        if t:
            undo_flags(t)
        os.chmod(f"{src}/modes/closed", 0o700)


@test(stores=("local",))
def metadata_a_target_cannot_hold_is_named(env):
    """A restore onto a file system without xattrs, ACLs or inode flags (ramfs) restores the
    contents, names every file whose attributes or flags it could not set, and exits 3."""
    need_root()
    base = features_dir(env)
    src = os.path.join(base, "src")
    mkdirs(src)
    ram = mkdirs(env.base, "ramfs")
    try:
        xattr_tree(env, src)
        flags_tree(mkdirs(src, "flags"))
        env.first_backup(src)
        r = subprocess.run(["mount", "-t", "ramfs", "ramfs", ram], capture_output=True)
        if r.returncode != 0:
            raise Skip(f"cannot mount a ramfs: {r.stderr.decode()}")
        env.unmount = ram
        r = env.restore(ram, rc=3)
        warned = "\n".join(r.warns())
        for name, what in (("tagged.txt", "user.comment"), ("helper", "security.capability"),
                           ("acl.txt", "system.posix_acl_access"), ("shared", "system.posix_acl_default"),
                           ("flags/immutable.txt", "inode flags"), ("flags/frozen", "inode flags")):
            check(any(f"{tc.restored(ram, src)}/{name} " in w and what in w for w in r.warns()),
                  f"no WARN naming {name} restored without its {what}\n{tc.clip(warned)}")
        check(tc.read_bytes(f"{tc.restored(ram, src)}/tagged.txt") == b"tagged\n", "the contents did not come back")
    finally:
        undo_flags(src)


V1_FOLDER = "/tmp/seshat-v1-fixture/src"  # the folder of tests/fixtures/v1-store
V1_STORE = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "fixtures", "v1-store")


def v1_tree(root, point):
    """The tree tests/fixtures/make_v1_store.py backed up with a Seshat of catalog format 1:
    point 1, then point 2 (a file changed, one deleted, one added). Deterministic: the test
    makes it again to compare with what the store restores."""
    if point == 1:
        mkdirs(root, "docs/2024")
        write(f"{root}/docs/report.txt", b"the report, first draft\n" * 50, mode=0o640, mtime_ns=tc.T1 + 1)
        write(f"{root}/docs/2024/data.bin", bytes(range(256)) * 400, mode=0o600, mtime_ns=tc.T1 + 2)
        write(f"{root}/empty", b"", mtime_ns=tc.T1 + 3)
        write(f"{root}/gone.txt", b"deleted by point 2\n", mtime_ns=tc.T1 + 4)
        os.symlink("docs/report.txt", f"{root}/latest")
        tc.set_mtime(f"{root}/latest", tc.T1 + 5)
    else:
        write(f"{root}/docs/report.txt", b"the report, final\n" * 60, mode=0o644, mtime_ns=tc.T2 + 1)
        os.unlink(f"{root}/gone.txt")
        write(f"{root}/new.txt", b"added by point 2\n", mtime_ns=tc.T2 + 2)
    for d, t in (("docs/2024", 11), ("docs", 12), ("", 13)):
        tc.set_mtime(os.path.join(root, d), (tc.T1 if point == 1 else tc.T2) + t)


@test(stores=("local",))
def v1_store_restores_and_upgrades(env):
    """A store written by Seshat before catalog format 2 (tests/fixtures/v1-store) restores both
    of its backups exactly; a backup by this version upgrades its catalog, after which the old
    backups still restore exactly and VERIFY DATA is clean."""
    if not os.path.isdir(V1_STORE):
        raise TestFailure(f"the fixture {V1_STORE} is missing")
    store = os.path.join(env.base, "v1-store")
    shutil.copytree(V1_STORE, store, ignore=shutil.ignore_patterns("locks"))
    for dirpath, dirnames, filenames in os.walk(store):  # as a git checkout leaves them
        os.chmod(dirpath, 0o755)
        for f in filenames:
            os.chmod(os.path.join(dirpath, f), 0o644)
    expected = []
    for point in (1, 2):
        v1_tree(os.path.join(env.base, "expected"), point)
        expected.append(tc.snapshot(os.path.join(env.base, "expected")))

    def check_points(when):
        for n in (1, 2):
            t = env.new_target(f"v1-{when}-{n}")
            env.run("STORE", "LOCAL", store, "SELECT", "FOLDER", V1_FOLDER, "SELECT", "BACKUP", str(n),
                    "RESTORE", "ADD", "TREE", "RESTORE", "TARGET", t, "RESTORE", "GO", check_lock=False)
            tc.compare_trees(expected[n - 1], tc.snapshot(t + V1_FOLDER), f"backup {n} of the v1 store, {when}")
    check_points("as made by the old version")
    r = env.run("STORE", "LOCAL", store, "LIST", "BACKUPS", check_lock=False)
    check(len([l for l in r.out.splitlines() if V1_FOLDER in l]) == 2, f"LIST BACKUPS of the v1 store\n{r.summary()}")
    src = mkdirs(env.base, "src")
    write(f"{src}/a.txt", "written by this version\n")
    os.link(f"{src}/a.txt", f"{src}/b.txt")
    env.run("STORE", "LOCAL", store, "BACKUP", src, check_lock=False)
    check_points("after this version's backup upgraded its catalog")
    env.run("STORE", "LOCAL", store, "VERIFY", "DATA", check_lock=False)
    # The old folder backed up again, unchanged but for an xattr the old version never read:
    # its files are read once more and the attribute is kept; no content is sent again.
    if os.path.lexists(V1_FOLDER):
        raise Skip(f"{V1_FOLDER} exists: cannot back the fixture's folder up again")
    try:
        v1_tree(V1_FOLDER, 1)
        v1_tree(V1_FOLDER, 2)
        os.setxattr(f"{V1_FOLDER}/docs/report.txt", "user.note", b"read only by format 2")
        v1 = tc.LocalStore(store)
        before = set(v1.containers())
        r = env.run("STORE", "LOCAL", store, "BACKUP", V1_FOLDER, check_lock=False)
        check(any("made by a Seshat before catalog format 2" in l for l in r.out.splitlines()),
              f"no INFO saying the old folder is read again\n{r.summary()}")
        check(set(v1.containers()) == before,
              f"reading the old folder again stored contents again: {set(v1.containers()) - before}")
        t = env.new_target("v1-refreshed")
        env.run("STORE", "LOCAL", store, "SELECT", "FOLDER", V1_FOLDER, "RESTORE", "ADD", "TREE", "RESTORE", "TARGET", t,
                "RESTORE", "GO", check_lock=False)
        check(os.getxattr(f"{t}{V1_FOLDER}/docs/report.txt", "user.note") == b"read only by format 2",
              "the xattr of a file unchanged since the old version's backup was not recorded")
        tc.compare_trees(tc.snapshot(V1_FOLDER), tc.snapshot(t + V1_FOLDER), "the old folder backed up again")
        r = env.run("STORE", "LOCAL", store, "BACKUP", V1_FOLDER, check_lock=False)
        check(not any("before catalog format 2" in l for l in r.out.splitlines()),
              f"the folder was read again a second time\n{r.summary()}")
    finally:
        shutil.rmtree(os.path.dirname(V1_FOLDER), ignore_errors=True)


@test(stores=("local",))
def real_tree_round_trips(env):
    """A tree no one here wrote: /usr/lib/x86_64-linux-gnu (its hard links, capabilities and
    symlinks), copied with rsync -aHAXS, backed up and restored so that rsync finds nothing."""
    need_root()
    real = "/usr/lib/x86_64-linux-gnu"
    if not os.path.isdir(real):
        raise Skip(f"{real} is not here")
    src = os.path.join(env.base, "src")
    subprocess.run(["rsync", "-aHAXS", real + "/", src + "/"], check=True, timeout=600)
    snap = fidelity_snapshot(src)
    groups = sum(1 for e in snap[0].values() if e.get("group"))
    caps = sum(1 for e in snap[0].values() if any(n == "security.capability" for n, _ in e["xattrs"]))
    t0 = time.monotonic()
    r = env.first_backup(src, timeout=900)
    took = time.monotonic() - t0
    backed_up_cleanly(r, "the real tree")
    t = env.new_target("full")
    t0 = time.monotonic()
    env.restore(t, timeout=900)
    note(f"{len(snap[0])} entries ({groups} hard-linked names, {caps} with capabilities): "
         f"backup {took:.1f} s, restore {time.monotonic() - t0:.1f} s")
    check_exact(src, tc.restored(t, src), f"restore of a copy of {real}", expected=snap)


if __name__ == "__main__":
    mine = {n: v for n, v in tc.TESTS.items() if v[0].__module__ == __name__}
    tc.TESTS.clear()
    tc.TESTS.update(mine)
    sys.exit(tc.main(sys.argv))
