#!/usr/bin/env python3
"""Robustness tests for Seshat: damaged stores and concurrent processes.

Usage (the same as test_core.py, whose harness these tests use):
  test_robust.py [--store local|s3] --list                    print the test names, one a line
  test_robust.py [--store local|s3] <seshat-binary> <name>    run one test (exit 0 pass, 1 fail)
  test_robust.py [--store local|s3] <seshat-binary> [all]     run every test and print a summary

The corruption tests (corruption_containers, corruption_catalog, corruption_key_config) build a
store holding two backups, then damage one store object at a time -- containers (header, blob
data, index, footer; truncated, a range cut out, deleted), catalog generations (the newest, an
older one, all of them), the key file, the config -- each time on a fresh copy of the pristine
store, with a fixed random seed (printed; SESHAT_ROBUST_SEED overrides it), and check what
VERIFY DATA, LIST BACKUPS, RESTORE and BACKUP make of it. What each damage must do is known
independently of Seshat: the test reads the pristine containers' encrypted indexes itself
(Argon2id from libsodium, AES-256-CBC from libcrypto, zstd; through ctypes), so it knows which
blob -- and so which file -- every damaged byte belongs to. A case that fails does not stop the
others: each test reports all its failed cases at the end.

The concurrency tests run several seshat processes against one store at once: three backups
of three folders, two of the same folder (concurrent_backups_wait), and backups whose lock
DB UNLOCK removes while they run (backup_racing_db_unlock; the backup is held with SIGSTOP at
a chosen point, so the race happens whatever the machine's speed).
"""
import base64
import ctypes
import ctypes.util
import hashlib
import hmac
import json
import os
import random
import re
import shutil
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_core as tc  # noqa: E402

from test_core import (TestFailure, check, clip, compare_listings, compare_trees, mkdirs, note, restored,  # noqa: E402
                       show, snapshot, write)

tc.TESTS.clear()  # test_core's own tests are not run from here: only the ones below
test = tc.test

SEED = int(os.environ.get("SESHAT_ROBUST_SEED", "20261127"))
CRASH_MARKS = ("Sanitizer", "Segmentation fault", "terminate called", "core dumped", "Assertion `", "stack smashing",
               "double free", "runtime error:")


# ---------------------------------------------------------------------------- running

def no_crash(r, what):
    """A run may fail, but never by a signal or a crash message."""
    check(r.rc is not None and 0 <= r.rc < 128, f"{what}: seshat died (exit status {r.rc})\n{r.summary()}")
    for m in CRASH_MARKS:
        check(m not in r.text(), f"{what}: the output says {m!r}\n{r.summary()}")


def run(env, *tokens, what, timeout=60, **kw):
    """Runs seshat (any exit status, at most `timeout` seconds) and checks that it did not crash."""
    r = env.run(*tokens, rc=None, timeout=timeout, **kw)
    no_crash(r, what)
    return r


def error_lines(r):
    return [l for l in r.text().splitlines() if " ERROR - " in l]


def rng_bytes(rng, n):
    return rng.getrandbits(8 * n).to_bytes(n, "little") if n else b""


def text_bytes(rng, n):
    """Compressible text that is not one repeated block."""
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(300)]
    out, have = [], 0
    while have < n:
        line = " ".join(rng.choice(words) for _ in range(12)) + "\n"
        out.append(line)
        have += len(line)
    return "".join(out).encode()[:n]


# ---------------------------------------------------------------------------- an independent reader
#
# Reads what Seshat wrote without Seshat: the key file (Argon2id, then the packed sealed master
# secret), a container's footer and its sealed, zstd-compressed index (doc/format/).

class Crypto:
    def __init__(self):
        def lib(name):
            path = ctypes.util.find_library(name)
            if not path:
                raise TestFailure(f"lib{name} is not installed: the test cannot read containers by itself")
            return ctypes.CDLL(path)
        self.sodium, self.ssl, self.zstd = lib("sodium"), lib("crypto"), lib("zstd")
        check(self.sodium.sodium_init() >= 0, "sodium_init failed")
        s = self.sodium
        s.crypto_pwhash.argtypes = [ctypes.c_char_p, ctypes.c_ulonglong, ctypes.c_char_p, ctypes.c_ulonglong,
                                    ctypes.c_char_p, ctypes.c_ulonglong, ctypes.c_size_t, ctypes.c_int]
        s.crypto_pwhash_alg_argon2id13.restype = ctypes.c_int
        o = self.ssl
        o.EVP_CIPHER_CTX_new.restype = ctypes.c_void_p
        o.EVP_CIPHER_CTX_free.argtypes = [ctypes.c_void_p]
        o.EVP_aes_256_cbc.restype = ctypes.c_void_p
        o.EVP_DecryptInit_ex.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p,
                                         ctypes.c_char_p]
        o.EVP_DecryptUpdate.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int),
                                        ctypes.c_char_p, ctypes.c_int]
        o.EVP_DecryptFinal_ex.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)]
        z = self.zstd
        z.ZSTD_getFrameContentSize.restype = ctypes.c_ulonglong
        z.ZSTD_getFrameContentSize.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
        z.ZSTD_decompress.restype = ctypes.c_size_t
        z.ZSTD_decompress.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t]
        z.ZSTD_isError.argtypes = [ctypes.c_size_t]

    def argon2id(self, passphrase, salt, ops, mem):
        out = ctypes.create_string_buffer(64)
        pw = passphrase.encode()
        rc = self.sodium.crypto_pwhash(out, 64, pw, len(pw), salt, ops, mem, self.sodium.crypto_pwhash_alg_argon2id13())
        check(rc == 0, "crypto_pwhash failed")
        return out.raw

    def open_packed(self, keys, packed):
        """IV 16 | AES-256-CBC ciphertext | HMAC-SHA256(IV || ciphertext) 32."""
        iv, ct, mac = packed[:16], packed[16:-32], packed[-32:]
        check(hmac.compare_digest(hmac.new(keys[32:], iv + ct, hashlib.sha256).digest(), mac),
              "independent reader: authentication failed on a pristine object")
        o = self.ssl
        ctx = o.EVP_CIPHER_CTX_new()
        try:
            check(o.EVP_DecryptInit_ex(ctx, o.EVP_aes_256_cbc(), None, keys[:32], iv) == 1, "AES init failed")
            out = ctypes.create_string_buffer(len(ct) + 32)
            n1, n2 = ctypes.c_int(0), ctypes.c_int(0)
            check(o.EVP_DecryptUpdate(ctx, out, ctypes.byref(n1), ct, len(ct)) == 1, "AES decrypt failed")
            tail = ctypes.create_string_buffer(32)
            check(o.EVP_DecryptFinal_ex(ctx, tail, ctypes.byref(n2)) == 1, "AES padding check failed")
            return out.raw[:n1.value] + tail.raw[:n2.value]
        finally:
            o.EVP_CIPHER_CTX_free(ctx)

    def unzstd(self, data):
        n = self.zstd.ZSTD_getFrameContentSize(data, len(data))
        check(n < (1 << 40), "independent reader: bad zstd frame")
        out = ctypes.create_string_buffer(max(n, 1))
        r = self.zstd.ZSTD_decompress(out, n, data, len(data))
        check(not self.zstd.ZSTD_isError(r) and r == n, "independent reader: zstd failed")
        return out.raw[:n]


class ByteReader:
    def __init__(self, data):
        self.d, self.p = data, 0

    def u32(self):
        v = int.from_bytes(self.d[self.p:self.p + 4], "little")
        self.p += 4
        return v

    def u8(self):
        self.p += 1
        return self.d[self.p - 1]

    def varint(self):
        v = shift = 0
        while True:
            b = self.u8()
            v |= (b & 0x7F) << shift
            if not b & 0x80:
                return v
            shift += 7

    def svarint(self):
        v = self.varint()
        return (v >> 1) ^ -(v & 1)

    def bytes(self, n):
        self.p += n
        return self.d[self.p - n:self.p]

    def str(self):
        return self.bytes(self.varint())


def master_keys(crypto, keyfile_bytes):
    k = json.loads(keyfile_bytes)
    wrap = crypto.argon2id(tc.PASSWORD, base64.b64decode(k["salt"]), k["ops"], k["mem"])
    return crypto.open_packed(wrap, base64.b64decode(k["data"]))


def container_layout(crypto, keys, data):
    """The regions of a container and its blobs: {size, index_offset, index_length, blobs:
    [{offset, length, path, part, parts}]}."""
    size = len(data)
    check(data[:4] == b"SEFC" and data[-32:-28] == b"SEFI" and data[-8:] == b"SESHATFT",
          "independent reader: a pristine container lacks its magic numbers")
    index_offset = int.from_bytes(data[-24:-16], "little")
    index_length = int.from_bytes(data[-16:-8], "little")
    check(index_offset + index_length + 32 == size, "independent reader: footer does not match the size")
    r = ByteReader(crypto.unzstd(crypto.open_packed(keys, data[index_offset:index_offset + index_length])))
    version = r.u32()
    check(version in (1, 2), f"independent reader: index version {version}")
    if version >= 2:
        r.str(), r.str(), r.svarint()
    blobs = []
    for _ in range(r.varint()):
        offset, length, _raw, _comp = r.varint(), r.varint(), r.varint(), r.u8()
        r.bytes(48)
        path = os.fsdecode(r.str())
        part, parts = r.varint(), r.varint()
        r.varint(), r.svarint(), r.varint(), r.varint(), r.varint()
        r.bytes(32)
        blobs.append({"offset": offset, "length": length, "path": path, "part": part, "parts": parts})
    check(r.p == len(r.d), "independent reader: trailing bytes in an index")
    blobs.sort(key=lambda b: b["offset"])
    pos = 16
    for b in blobs:
        check(b["offset"] == pos, f"independent reader: blobs are not back to back at {pos}")
        pos += b["length"]
    check(pos == index_offset, "independent reader: the blobs do not end where the index starts")
    return {"size": size, "index_offset": index_offset, "index_length": index_length, "blobs": blobs}


# ---------------------------------------------------------------------------- store objects

def read_object(store, key):
    with open(store.object_file(key), "rb") as f:
        return f.read()


def put_object(store, key, data):
    """Replaces an object's bytes (on S3 the server's file and its MD5 sidecar)."""
    store.write_object(key, data)


def delete_object(store, key):
    p = store.object_file(key)
    os.unlink(p)
    if store.kind == "s3":
        base = p[:-len(tc.S3RVER_OBJECT)]
        for side in (p + ".md5", base + "._S3rver_metadata.json"):
            if os.path.exists(side):
                os.unlink(side)


def copy_store(src, dst):
    if os.path.exists(dst):
        shutil.rmtree(dst)
    shutil.copytree(src, dst, symlinks=True)


# ---------------------------------------------------------------------------- the corruption campaign

def make_tree(rng, src):
    """A few dozen files: small random ones, compressible text, a copy (one content, two
    paths), an empty file, a symlink, and big files stored in several parts."""
    mkdirs(src, "small", "deeper")
    for i in range(18):
        sub = "small/deeper" if i % 3 == 0 else "small"
        write(f"{src}/{sub}/s{i:02}.bin", rng_bytes(rng, rng.randint(500, 60000)))
    mkdirs(src, "text")
    for i in range(6):
        write(f"{src}/text/t{i}.txt", text_bytes(rng, rng.randint(20000, 300000)))
    mkdirs(src, "big")
    for i, size in enumerate((1_500_000, 2_600_000, 3_300_000, 4_700_000)):
        write(f"{src}/big/b{i}.bin", rng_bytes(rng, size))
    shutil.copyfile(f"{src}/small/s01.bin", f"{src}/small/copy-of-s01.bin")
    write(f"{src}/empty.txt", b"")
    os.symlink("text/t0.txt", f"{src}/link")
    mkdirs(src, "emptydir")


def change_tree(rng, src):
    """The second backup: a few changed, added and deleted files (about 2.5 MB, one container)."""
    write(f"{src}/small/s02.bin", rng_bytes(rng, 7777))
    write(f"{src}/text/t1.txt", text_bytes(rng, 123456))
    os.unlink(f"{src}/small/s04.bin")
    write(f"{src}/big/b1.bin", rng_bytes(rng, 2_000_000))  # replaced: two parts
    mkdirs(src, "new")
    for i in range(5):
        write(f"{src}/new/n{i}.bin", rng_bytes(rng, rng.randint(1000, 90000)))
    shutil.copyfile(f"{src}/big/b0.bin", f"{src}/new/copy-of-b0.bin")  # content stored in backup 1


class Campaign:
    """The pristine store and what is known about it."""

    def __init__(self, env, src):
        self.env, self.src = env, src
        self.snaps = {}  # backup number -> snapshot
        self.backup_of = {}  # container name -> backup number
        self.gens = {}  # backup number -> the generation keys after it
        self.layout = {}  # container name -> layout
        self.keys_master = None

    def build(self, rng):
        env, src = self.env, self.src
        make_tree(rng, src)
        self.snaps[1] = snapshot(src)
        one = {"SESHAT_THREADS": "1"}  # one worker: the same layout in the containers every time
        r = env.first_backup(src, "SET", "MAX", "4", "MB", timeout=120, extra_env=one)
        note(f"backup 1 took {r.elapsed:.1f} s")
        for c in env.store.containers():
            self.backup_of[c] = 1
        self.gens[1] = sorted(env.store.objects("seshat/db/"))
        change_tree(rng, src)
        self.snaps[2] = snapshot(src)
        r = env.backup(src, timeout=120, extra_env=one)
        for c in env.store.containers():
            self.backup_of.setdefault(c, 2)
        self.gens[2] = sorted(env.store.objects("seshat/db/"))
        check(len(env.list_backups()) == 2, "test setup: expected 2 backups")
        n1 = sum(1 for v in self.backup_of.values() if v == 1)
        n2 = len(self.backup_of) - n1
        check(n1 >= 3 and n2 >= 1, f"test setup: {n1} containers in backup 1 and {n2} in backup 2")
        check(self.gens[2][-2] == self.gens[1][-1] and len(self.gens[2]) >= 2,
              f"test setup: expected backup 2 to write one generation after backup 1's: {self.gens}")
        keyfiles = sorted(env.store.objects("seshat/keys/"))
        check(len(keyfiles) == 1, f"test setup: key files {keyfiles}")
        self.keyfile = keyfiles[0]
        crypto = Crypto()
        self.keys_master = master_keys(crypto, read_object(env.store, self.keyfile))
        for c in self.backup_of:
            self.layout[c] = container_layout(crypto, self.keys_master, read_object(env.store, "containers/" + c))
        note(f"pristine store: {len(self.backup_of)} containers ({n1} of backup 1, {n2} of backup 2), "
             f"generations {[g.rsplit('/', 1)[1].lstrip('0') for g in self.gens[2]]}, "
             f"{sum(len(l['blobs']) for l in self.layout.values())} blobs")

    def rel(self, path):
        check(path.startswith(self.src + "/"), f"a container lists {path}, outside the backed-up folder")
        return path[len(self.src) + 1:].encode()

    def sha_of(self, container, path):
        e = self.snaps[self.backup_of[container]].get(self.rel(path))
        check(e is not None and e[0] == "file", f"test setup: {path} is not a file of its backup")
        return e[4]

    def hashes_hit(self, container, lo, hi):
        """The contents whose blobs in `container` overlap the bytes [lo, hi)."""
        return {self.sha_of(container, b["path"]) for b in self.layout[container]["blobs"]
                if b["offset"] < hi and lo < b["offset"] + b["length"]}

    def paths_with(self, hashes, backup=None):
        """Paths (relative, bytes) of the files whose content is one of `hashes`, in one backup
        or in any."""
        out = set()
        for n, snap in self.snaps.items():
            if backup is None or n == backup:
                out |= {k for k, e in snap.items() if e[0] == "file" and e[4] in hashes}
        return out


def verify_report(r, src):
    """What VERIFY printed: container names with problems, damaged generations, damaged file
    paths (relative to src, bytes)."""
    containers, gens, files = set(), set(), set()
    for l in error_lines(r):
        m = re.search(r" ERROR - Container (SEF_\S+): ", l)
        if m:
            containers.add(m.group(1))
        m = re.search(r" ERROR - Catalog generation (\S+) is damaged", l)
        if m:
            gens.add(m.group(1))
        m = re.search(r" ERROR - Damaged file: (.*) \(version of the backup of [^()]*\)$", l)
        if m:
            p = m.group(1)
            files.add(p[len(src) + 1:].encode() if p.startswith(src + "/") else p.encode())
    return containers, gens, files


def restore_and_compare(env, c, number, damaged, what, timeout=90):
    """Restores backup `number`: every file but the `damaged` ones (relative paths) must come
    back byte-exact, each damaged one be named in a 'Not restored' line and be absent, and the
    exit status be non-zero exactly when something is damaged. Returns a list of problems."""
    problems = []
    t = env.new_target(f"r{number}")
    try:
        r = run(env, "SELECT", "BACKUP", str(number), "RESTORE", "ADD", "TREE", "RESTORE", "TARGET", t, "RESTORE", "GO",
                what=what, timeout=timeout)
        base = restored(t, c.src)
        named = set()
        for l in error_lines(r):
            m = re.search(r" ERROR - Not restored: (.*?) \((.*)\)$", l)
            if m:
                p = m.group(1)  # the path as backed up (or where it was to be restored)
                for prefix in (base + "/", c.src + "/"):
                    if p.startswith(prefix):
                        p = p[len(prefix):]
                        break
                named.add(p.encode())
        expected = {k: v for k, v in c.snaps[number].items() if k not in damaged}
        got = snapshot(base) if os.path.isdir(base) else {}
        try:
            compare_trees(expected, got, f"restore of backup {number}")
        except TestFailure as e:
            problems.append(str(e))
        missing = sorted(damaged - named)
        if missing:
            problems.append(f"restore of backup {number}: damaged files not named in a 'Not restored' line: "
                            f"{[show(p) for p in missing[:6]]}")
        extra = sorted(named - damaged)
        if extra:
            problems.append(f"restore of backup {number}: intact files reported as not restored: "
                            f"{[show(p) for p in extra[:6]]}\n    "
                            + "\n    ".join(l.split(' - ', 1)[1][:200] for l in error_lines(r)[:4]))
        if damaged and r.rc == 0:
            problems.append(f"restore of backup {number}: exit status 0 with damaged files")
        if not damaged and r.rc != 0:
            problems.append(f"restore of backup {number}: exit status {r.rc} with nothing damaged\n{clip(r.summary(), 1200)}")
        return problems
    finally:
        shutil.rmtree(t, ignore_errors=True)


def restore_latest(env, c, what):
    t = env.new_target("rl")
    try:
        r = run(env, "SELECT", "FOLDER", c.src, "RESTORE", "ADD", "TREE", "RESTORE", "TARGET", t, "RESTORE", "GO",
                what=what, timeout=90)
        base = restored(t, c.src)
        return r, (snapshot(base) if os.path.isdir(base) else {})
    finally:
        shutil.rmtree(t, ignore_errors=True)


def flip(data, at, rng):
    return data[:at] + bytes([data[at] ^ rng.randint(1, 255)]) + data[at + 1:]


def plan_cases(c):
    """The damage cases: dicts with name, kind, how and where. Containers are chosen among the
    sorted names, offsets inside the chosen region, each case from a generator of its own
    seeded with SEED and the case's number."""
    b1 = sorted(k for k, v in c.backup_of.items() if v == 1)
    b2 = sorted(k for k, v in c.backup_of.items() if v == 2)
    allc = sorted(c.backup_of)
    multi = sorted(k for k in allc if any(b["parts"] > 1 for b in c.layout[k]["blobs"]))
    cases = []

    def rng():
        return random.Random(f"{SEED}/plan/{len(cases) + 1}")

    def container_case(name, how, choose):
        r = rng()
        cont, lo, hi = choose(r)
        lay = c.layout[cont]
        cases.append({"name": name, "kind": "container", "container": cont, "how": how, "lo": lo,
                      "hi": hi if hi is not None else (lo + 1 if how == "flip" else lay["size"])})

    def blob_byte(r, among, want=None):
        k = r.choice(among)
        blobs = [b for b in c.layout[k]["blobs"] if want is None or want(b)]
        b = r.choice(blobs)
        return k, b["offset"] + r.randrange(b["length"]), None

    def in_index(r):
        k = r.choice(allc)
        lay = c.layout[k]
        return k, lay["index_offset"] + r.randrange(lay["index_length"]), None

    def after_first_blob(r, among):
        """A byte inside a blob with an intact file before it: when the bytes from there on
        are lost, some file in the same container is still whole."""
        choices = []
        for k in among:
            blobs = c.layout[k]["blobs"]
            for i, b in enumerate(blobs):
                lost = c.hashes_hit(k, b["offset"], c.layout[k]["size"])
                if any(c.sha_of(k, e["path"]) not in lost for e in blobs[:i]):
                    choices.append((k, b))
        k, b = r.choice(choices)
        return k, b["offset"] + r.randrange(1, b["length"])

    def cut_range(r):
        k, lo = after_first_blob(r, allc)
        return k, lo, min(c.layout[k]["size"], lo + r.randint(1, 65536))

    container_case("container header: a flipped byte (magic or version)", "flip",
                   lambda r: (r.choice(allc), r.randrange(0, 8), None))
    container_case("container of backup 1: a flipped byte in blob data", "flip", lambda r: blob_byte(r, b1))
    container_case("container of backup 2: a flipped byte in blob data", "flip", lambda r: blob_byte(r, b2))
    container_case("a flipped byte in one part of a file stored in several parts", "flip",
                   lambda r: blob_byte(r, multi, lambda b: b["parts"] > 1))
    container_case("container index: a flipped byte", "flip", in_index)
    container_case("container footer: a flipped byte", "flip",
                   lambda r: (lambda k: (k, c.layout[k]["size"] - 32 + r.randrange(32), None))(r.choice(allc)))
    container_case("container truncated in its blob data", "truncate", lambda r: after_first_blob(r, b1) + (None,))
    container_case("container truncated in its index (every blob intact)", "truncate",
                   lambda r: (lambda k: (k, c.layout[k]["index_offset"] + r.randrange(1, c.layout[k]["index_length"]),
                                         None))(r.choice(allc)))
    container_case("a range of blob data cut out of a container", "cut", cut_range)
    container_case("a container deleted", "delete", lambda r: (r.choice(allc), 0, None))

    gens = c.gens[2]
    newest = gens[-1]
    cases.append({"name": "newest catalog generation: a flipped byte", "kind": "newest-gen", "how": "flip", "gen": newest})
    cases.append({"name": "newest catalog generation truncated", "kind": "newest-gen", "how": "truncate", "gen": newest})
    cases.append({"name": "newest catalog generation: a range cut out", "kind": "newest-gen", "how": "cut", "gen": newest})
    cases.append({"name": "an older catalog generation: a flipped byte", "kind": "older-gen", "how": "flip",
                  "gen": rng().choice(gens[:-1])})
    cases.append({"name": "every catalog generation: a flipped byte", "kind": "all-gens", "how": "flip"})
    cases.append({"name": "newest catalog generation deleted", "kind": "newest-gen-deleted", "how": "delete",
                  "gen": newest})

    cases.append({"name": "key file: one character of the wrapped key changed", "kind": "key", "how": "data-char"})
    cases.append({"name": "key file truncated", "kind": "key", "how": "truncate"})
    cases.append({"name": "key file deleted", "kind": "key", "how": "delete"})
    cases.append({"name": "config: a byte of the format name flipped", "kind": "config", "how": "format"})
    cases.append({"name": "config: the version number changed", "kind": "config", "how": "version"})
    cases.append({"name": "config truncated", "kind": "config", "how": "truncate"})
    cases.append({"name": "config deleted", "kind": "config", "how": "delete"})
    return cases


def damage_sealed(store, key, how, rng):
    data = read_object(store, key)
    if how == "flip":
        put_object(store, key, flip(data, rng.randrange(len(data)), rng))
    elif how == "truncate":
        put_object(store, key, data[:rng.randrange(1, len(data))])
    elif how == "cut":
        lo = rng.randrange(len(data) - 1)
        put_object(store, key, data[:lo] + data[lo + rng.randint(1, min(4096, len(data) - lo - 1)):])
    elif how == "delete":
        delete_object(store, key)


def apply_case(c, case, rng):
    """Damages the store as the case says; returns a short description with the details."""
    store = c.env.store
    kind, how = case["kind"], case["how"]
    if kind == "container":
        key = "containers/" + case["container"]
        data = read_object(store, key)
        lo = case["lo"]
        if how == "flip":
            put_object(store, key, flip(data, lo, rng))
            return f"byte {lo} of {case['container']} ({len(data)} bytes)"
        if how == "truncate":
            put_object(store, key, data[:lo])
            return f"{case['container']} cut to {lo} of {len(data)} bytes"
        if how == "cut":
            put_object(store, key, data[:lo] + data[case["hi"]:])
            return f"bytes {lo}..{case['hi']} cut out of {case['container']} ({len(data)} bytes)"
        delete_object(store, key)
        return f"{case['container']} deleted"
    if kind in ("newest-gen", "older-gen", "newest-gen-deleted"):
        damage_sealed(store, case["gen"], how, rng)
        return case["gen"]
    if kind == "all-gens":
        gens = sorted(store.objects("seshat/db/"))
        for g in gens:
            damage_sealed(store, g, "flip", rng)
        return f"{len(gens)} generations"
    if kind == "key":
        key = c.keyfile
        data = read_object(store, key)
        if how == "data-char":
            k = json.loads(data)
            b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
            start = data.index(k["data"].encode())
            at = start + len(k["data"]) // 4 + rng.randrange(len(k["data"]) // 2)  # well inside the value
            ch = chr(data[at])
            new = b64[(b64.index(ch) + 1 + rng.randrange(63)) % 64]
            put_object(store, key, data[:at] + new.encode() + data[at + 1:])
            return f"character {at} of {key}: {ch!r} -> {new!r}"
        if how == "truncate":
            put_object(store, key, data[:rng.randrange(1, len(data))])
            return key
        delete_object(store, key)
        return key
    if kind == "config":
        key = "seshat/config"
        data = read_object(store, key)
        if how == "format":
            at = data.index(b'"seshat"') + 1 + rng.randrange(6)
            put_object(store, key, data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:])
        elif how == "version":
            m = re.search(rb'"version": *(\d+)', data)
            put_object(store, key, data[:m.start(1)] + b"7" + data[m.end(1):])
        elif how == "truncate":
            put_object(store, key, data[:rng.randrange(1, len(data) - 2)])
        else:
            delete_object(store, key)
        return key
    raise AssertionError(kind)


def check_container_case(c, case, problems):
    env, src = c.env, c.src
    cont = case["container"]
    lay = c.layout[cont]
    lo, hi = case["lo"], case["hi"]
    hit = c.hashes_hit(cont, lo, hi)
    # Bytes of blobs that moved (a cut) or vanished (truncated, deleted) are lost too.
    if case["how"] in ("truncate", "cut", "delete"):
        hit = c.hashes_hit(cont, lo, lay["size"])
    in_container = c.hashes_hit(cont, 0, lay["size"])
    must = c.paths_with(hit)  # every version of these is damaged
    may = c.paths_with(in_container)
    r = run(env, "VERIFY", "DATA", what="VERIFY DATA", timeout=90)
    conts, gens, files = verify_report(r, src)
    if r.rc == 0:
        problems.append(f"VERIFY DATA exits 0\n{clip(r.summary(), 1500)}")
    if cont not in conts:
        problems.append(f"VERIFY DATA does not name the damaged container {cont}; it names {sorted(conts)}")
    if conts - {cont}:
        problems.append(f"VERIFY DATA names intact containers: {sorted(conts - {cont})}")
    if gens:
        problems.append(f"VERIFY DATA calls intact catalog generations damaged: {sorted(gens)}")
    if must - files:
        problems.append(f"VERIFY DATA does not name damaged files: {[show(p) for p in sorted(must - files)[:6]]}")
    if files - must:
        # VERIFY DATA names exactly the files whose blobs are damaged or lost: damage to the
        # index or the header leaves every blob intact (the catalog has their IVs and MACs).
        problems.append(f"VERIFY DATA names intact files as damaged: {[show(p) for p in sorted(files - must)[:6]]}")
    case["verify_named"] = len(files)
    for n in (1, 2):
        damaged = {p for p in c.paths_with(hit, backup=n)}
        problems += restore_and_compare(env, c, n, damaged, f"restore of backup {n}")
    case["damaged"] = sorted(show(p) for p in must)


def check_generation_case(c, case, problems):
    env, src = c.env, c.src
    kind = case["kind"]
    gen = case.get("gen")
    if kind in ("newest-gen", "newest-gen-deleted"):
        # The generation before the newest is backup 1's last: backup 1 is all there is.
        r = run(env, "LIST", "BACKUPS", what="LIST BACKUPS")
        rows = [l for l in r.out.splitlines() if re.match(r"^\s*\d+\s+\d\d-", l)]
        if r.rc != 0:
            problems.append(f"LIST BACKUPS fails\n{clip(r.summary(), 1500)}")
        if kind == "newest-gen" and not any(re.search(rf"WARN - Catalog generation {re.escape(gen)} is damaged", l)
                                            for l in r.warns()):
            problems.append(f"no WARN naming the damaged generation {gen}\n{clip(r.summary(), 1500)}")
        if len(rows) != 1:
            problems.append(f"LIST BACKUPS from the generation before the newest shows {len(rows)} backups, "
                            f"expected 1\n{clip(r.summary(), 1500)}")
        r = run(env, "VERIFY", "DATA", what="VERIFY DATA", timeout=90)
        conts, gens, files = verify_report(r, src)
        if kind == "newest-gen":
            if r.rc == 0 or gen not in gens:
                problems.append(f"VERIFY DATA does not report the damaged generation {gen} (exit {r.rc})\n"
                                f"{clip(r.summary(), 1500)}")
        elif r.rc != 0:
            problems.append(f"VERIFY DATA fails after the newest generation was deleted (the one before it is "
                            f"intact)\n{clip(r.summary(), 1500)}")
        if conts or files:
            problems.append(f"VERIFY DATA names intact containers or files: {sorted(conts)} {sorted(files)[:4]}")
        problems += restore_and_compare(env, c, 1, set(), "restore of backup 1")
        rr, got = restore_latest(env, c, "restore of the latest backup")
        try:
            check(rr.rc == 0, f"exit status {rr.rc}\n{clip(rr.summary(), 1500)}")
            compare_trees(c.snaps[1], got, "restore of the latest backup (backup 1, from the older generation)")
        except TestFailure as e:
            problems.append(str(e))
        # The store must still take backups: the next one stores backup 2's state again.
        r = run(env, "BACKUP", src, what="BACKUP after the damage", timeout=90)
        if r.rc != 0:
            problems.append(f"a BACKUP after the damage fails\n{clip(r.summary(), 2000)}")
        else:
            rr, got = restore_latest(env, c, "restore after the new backup")
            try:
                check(rr.rc == 0, f"exit status {rr.rc}\n{clip(rr.summary(), 1500)}")
                compare_trees(c.snaps[2], got, "restore of the backup made after the damage")
            except TestFailure as e:
                problems.append(str(e))
            r = run(env, "VERIFY", "DATA", what="VERIFY DATA after the new backup", timeout=90)
            _, gens2, files2 = verify_report(r, src)
            if files2 or (gens2 - {gen}):
                problems.append(f"after the new backup VERIFY names damage beyond {gen}\n{clip(r.summary(), 1500)}")
    elif kind == "older-gen":
        r = run(env, "LIST", "BACKUPS", what="LIST BACKUPS")
        if r.rc != 0 or r.warns():
            problems.append(f"LIST BACKUPS with an older generation damaged: exit {r.rc}, warnings {r.warns()}")
        r = run(env, "VERIFY", "DATA", what="VERIFY DATA", timeout=90)
        conts, gens, files = verify_report(r, src)
        if r.rc == 0 or gens != {gen}:
            problems.append(f"VERIFY DATA does not report exactly the damaged generation {gen} (exit {r.rc}, names "
                            f"{sorted(gens)})\n{clip(r.summary(), 1500)}")
        if conts or files:
            problems.append(f"VERIFY DATA names intact containers or files: {sorted(conts)} {sorted(files)[:4]}")
        for n in (1, 2):
            problems += restore_and_compare(env, c, n, set(), f"restore of backup {n}")
    else:  # every generation damaged: every command says so; nothing is written
        before = env.store.listing()
        t = env.new_target("rall")
        for cmd in (["LIST", "BACKUPS"], ["VERIFY", "DATA"],
                    ["SELECT", "FOLDER", src, "RESTORE", "ADD", "TREE", "RESTORE", "TARGET", t, "RESTORE", "GO"],
                    ["BACKUP", src]):
            r = run(env, *cmd, what=" ".join(cmd[:2]))
            errs = error_lines(r)
            if r.rc == 0:
                problems.append(f"{' '.join(cmd[:2])} exits 0 with every catalog generation damaged\n{clip(r.summary(), 1500)}")
            elif len(errs) != 1 or not re.search(r"catalog|DB", errs[0]) or "damaged" not in errs[0]:
                problems.append(f"{' '.join(cmd[:2])}: expected one ERROR line saying the catalog is damaged, got "
                                f"{errs}")
            if "Starting File walk" in r.out:
                problems.append(f"{cmd[0]} walked files with every catalog generation damaged")
        if os.listdir(t):
            problems.append(f"the restore wrote files: {os.listdir(t)}")
        try:
            compare_listings(before, env.store.listing(), "commands with every catalog generation damaged")
        except TestFailure as e:
            problems.append(str(e))


def check_key_config_case(c, case, problems):
    """Every command stops with one clear ERROR line and a non-zero exit, and writes nothing."""
    env, src = c.env, c.src
    before = env.store.listing()
    t = env.new_target("rk")
    words = {"key": [r"key file"], "config": [r"config|repository"]}[case["kind"]]
    for cmd in (["LIST", "BACKUPS"], ["VERIFY", "DATA"],
                ["SELECT", "FOLDER", src, "RESTORE", "ADD", "TREE", "RESTORE", "TARGET", t, "RESTORE", "GO"],
                ["BACKUP", src]):
        r = run(env, *cmd, what=" ".join(cmd[:2]))
        errs = error_lines(r)
        label = " ".join(cmd[:2])
        if r.rc == 0:
            problems.append(f"{label} exits 0\n{clip(r.summary(), 1500)}")
        elif len(errs) != 1:
            problems.append(f"{label}: expected one ERROR line, got {len(errs)}\n{clip(r.summary(), 1500)}")
        elif not all(re.search(w, errs[0].split(" - ", 1)[-1].replace(env.base, "<test dir>"), re.I) for w in words):
            problems.append(f"{label}: the ERROR line does not say what is wrong with the {case['kind']}: "
                            f"{errs[0].split(' - ', 1)[-1]}")
        if case["kind"] == "key" and case["how"] != "delete" and c.keyfile not in r.text():
            problems.append(f"{label}: the damaged key file {c.keyfile} is not named")
        if "Starting File walk" in r.out:
            problems.append(f"{label} walked files")
        case.setdefault("errors", set()).update(e.split(" - ", 1)[-1] for e in errs)
    if os.listdir(t):
        problems.append(f"the restore wrote files: {os.listdir(t)}")
    try:
        compare_listings(before, env.store.listing(), f"commands with a damaged {case['kind']}")
    except TestFailure as e:
        problems.append(str(e))


def campaign(env, kinds):
    """Builds the pristine store, then runs the planned damage cases of the given kinds, each
    on a fresh copy of it; every case runs to its end and the failures are reported together."""
    rng = random.Random(SEED)
    note(f"seed {SEED} (SESHAT_ROBUST_SEED overrides it)")
    src = mkdirs(env.base, "src")
    c = Campaign(env, src)
    c.build(rng)
    pristine = os.path.join(env.base, "pristine")
    copy_store(env.store.path, pristine)
    home_rc = os.path.join(env.home, ".seshatrc")
    with open(home_rc, "rb") as f:
        rc_bytes = f.read()
    # Every case is planned (the same cases whichever test runs), and each draws its bytes
    # from a generator of its own: a case does not change with the cases run before it.
    cases = [(i, case) for i, case in enumerate(plan_cases(c), 1) if case["kind"] in kinds]
    failed = []
    t_all = time.monotonic()
    for i, case in cases:
        t0 = time.monotonic()
        copy_store(pristine, env.store.path)
        with open(home_rc, "wb") as f:
            f.write(rc_bytes)
        detail = apply_case(c, case, random.Random(f"{SEED}/{i}"))
        problems = []
        try:
            if case["kind"] == "container":
                check_container_case(c, case, problems)
            elif case["kind"] in ("key", "config"):
                check_key_config_case(c, case, problems)
            else:
                check_generation_case(c, case, problems)
        except TestFailure as e:  # a crash or a hang: reported, and the campaign goes on
            problems.append(str(e))
        extra = ""
        if "damaged" in case:
            extra = f"; damaged files {case['damaged'][:3]}{'...' if len(case['damaged']) > 3 else ''}"
            extra += f", VERIFY named {case['verify_named']}"
        if case.get("errors"):
            extra += f"; errors: {sorted(case['errors'])}"
        for n in case.get("notes", []):
            extra += f"; {n}"
        status = "ok" if not problems else "FAILED"
        note(f"case {i:2} {status} ({time.monotonic() - t0:.1f} s): {case['name']} -- {detail}{extra}")
        if problems:
            failed.append(f"case {i} ({case['name']}; {detail}):\n  " + "\n  ".join(
                p.replace("\n", "\n  ") for p in problems))
    note(f"{len(cases)} cases in {time.monotonic() - t_all:.1f} s")
    check(not failed, f"{len(failed)} of {len(cases)} damage cases failed (seed {SEED}):\n" + "\n".join(failed))


@test
def corruption_containers(env):
    """Containers damaged one at a time (a flipped byte in the header, in blob data of either
    backup, in one part of a file stored in parts, in the index, in the footer; truncated in
    the blob data or in the index; a range cut out; deleted): VERIFY DATA exits non-zero and
    names the container and every damaged file (and, for a changed byte in blob data, no other
    file); restores of both backups give back every file whose blobs are intact byte-exact and
    name each damaged one, with a non-zero exit exactly when something is damaged."""
    campaign(env, ("container",))


@test
def corruption_catalog(env):
    """Catalog generations damaged: the newest (a flipped byte, truncated, a range cut out) is
    reported by a WARN and the one before it used -- LIST, restore, and the next BACKUP work;
    an older one is named by VERIFY DATA and changes nothing else; when every generation is
    damaged each command stops with one clear ERROR and writes nothing; a deleted newest
    generation falls back silently (nothing can tell it was there)."""
    campaign(env, ("newest-gen", "older-gen", "all-gens", "newest-gen-deleted"))


@test
def corruption_key_config(env):
    """The key file (a character of the wrapped key changed, truncated, deleted) or the config
    (format name, version, truncated, deleted) damaged: LIST BACKUPS, VERIFY DATA, RESTORE and
    BACKUP each stop with exit 1 and one ERROR line that says what is wrong (the key file, the
    config or repository), and write nothing to the store."""
    campaign(env, ("key", "config"))


# ---------------------------------------------------------------------------- concurrency

def fill(rng, folder, n, size, prefix):
    mkdirs(folder)
    for i in range(n):
        write(os.path.join(folder, f"{prefix}{i:03}.bin"), rng_bytes(rng, size))


def backup_complete_line(out, folder):
    return re.search(rf"INFO - Backup of {re.escape(folder)} complete:", out)


HANDOVER_LIMIT = 10  # seconds from one backup's end to the next one's lock (waiters poll every 1-3 s)


def windows_disjoint(outs):
    """Checks that no two runs held the DB lock at the same time (from their log times), and
    that each waiting run got the lock soon after the one before it was done: a free lock
    must not stay untaken while runs wait for it."""
    wins = [tc.lock_window(o) for o in outs]
    for i in range(len(wins)):
        for j in range(i + 1, len(wins)):
            (g1, d1), (g2, d2) = wins[i], wins[j]
            check(None not in (g1, d1, g2, d2), f"a backup's log lacks 'DB Lock acquired' or 'complete': {wins}")
            check(d1 <= g2 or d2 <= g1, f"two backups held the DB lock at the same time: {wins[i]} and {wins[j]}")
    order = sorted(wins)
    gaps = [round(order[k + 1][0] - order[k][1], 1) for k in range(len(order) - 1)]
    check(all(g < HANDOVER_LIMIT for g in gaps),
          f"the DB lock stayed free while backups waited for it: {gaps} s between one backup's end and the next "
          f"one's 'DB Lock acquired' (limit {HANDOVER_LIMIT} s); lock windows (seconds since midnight): {order}\n" +
          "\n".join(f"--- ---\n{clip(''.join(l for l in o.splitlines(True) if 'Progress' not in l), 1200)}" for o in outs))
    return gaps


def verify_clean(env, what):
    r = run(env, "VERIFY", "DATA", what=what, timeout=120)
    check(r.rc == 0 and not error_lines(r), f"{what}: VERIFY DATA finds problems\n{r.summary()}")
    check(re.search(r"; 0 problems, 0 damaged file versions", r.out), f"{what}: VERIFY DATA does not report 0 problems\n"
                                                                    f"{r.summary()}")
    return r


def restore_folder(env, folder, snap, what):
    t = env.new_target("restore")
    env.restore(t, folder=folder, timeout=120)
    compare_trees(snap, snapshot(restored(t, folder)), what)
    shutil.rmtree(t, ignore_errors=True)


def run_parallel(env, token_lists, timeout=90):
    """Runs seshat processes at once; all must end (not crash) within `timeout` seconds in all."""
    procs = [env.popen(toks) for toks in token_lists]
    readers = [tc.Reader(p) for p in procs]
    deadline = time.monotonic() + timeout
    rcs = [rd.finish(max(0.1, deadline - time.monotonic())) for rd in readers]
    if None in rcs:
        env.stop_processes()
    outs = [rd.text() for rd in readers]
    for toks, rc, out in zip(token_lists, rcs, outs):
        check(rc is not None, f"seshat {' '.join(toks)} did not finish within {timeout} s (the others: exit "
                              f"{[x for x in rcs]})\n{clip(out)}")
        check(rc >= 0, f"seshat {' '.join(toks)} died by signal {-rc}\n{clip(out)}")
        for m in CRASH_MARKS:
            check(m not in out, f"seshat {' '.join(toks)}: the output says {m!r}\n{clip(out)}")
    return procs, rcs, outs


@test
def concurrent_backups_wait(env):
    """Three processes back up three folders into one store at once with SET WAIT YES (twice):
    all succeed, one after the other, each getting the lock soon after the one before it is
    done; LIST BACKUPS shows them all complete; each folder restores identical. Then two
    processes back up the same folder at once: both succeed, the second finds nothing left to
    store, and the folder restores identical. VERIFY DATA finds nothing wrong."""
    rng = random.Random(SEED + 1)
    folders = [mkdirs(env.base, f"folder_{x}") for x in "abc"]
    for f, x in zip(folders, "abc"):
        fill(rng, f, 6, 1 << 20, x)
        fill(rng, os.path.join(f, "small"), 40, 3000, x)
    env.run(*env.store_tokens(), "SET", "MAX", "4", "MB", "SET", "WAIT", "YES", "INITIALIZE")

    for rnd in (1, 2):
        if rnd == 2:
            for f, x in zip(folders, "abc"):
                fill(rng, os.path.join(f, "round2"), 2, 1 << 20, x)
        snaps = [snapshot(f) for f in folders]
        t0 = time.monotonic()
        procs, rcs, outs = run_parallel(env, [["BACKUP", f] for f in folders])
        check(rcs == [0, 0, 0], f"round {rnd}: three concurrent backups with SET WAIT YES: not all succeeded\n" +
              "\n".join(f"--- {f} (exit {rc}) ---\n{clip(o)}" for f, rc, o in zip(folders, rcs, outs)))
        for f, o in zip(folders, outs):
            check(backup_complete_line(o, f), f"the backup of {f} does not say it is complete\n{clip(o)}")
        gaps = windows_disjoint(outs)
        waited = sum("Waiting for the DB lock" in o for o in outs)
        note(f"round {rnd}: three concurrent backups all succeeded in {time.monotonic() - t0:.1f} s; {waited} said "
             f"they waited; {gaps} s from one's end to the next one's lock")
        check(not env.store.lock_keys(), f"lock records left: {env.store.lock_keys()}")
        rows = env.list_backups()
        check(sorted(r["folder"] for r in rows) == sorted(folders * rnd),
              f"LIST BACKUPS should show {rnd} backup(s) of each folder\n{env.last.summary()}")
        check(all("(incomplete)" not in r["line"] for r in rows), f"an incomplete backup\n{env.last.summary()}")
        for f, s in zip(folders, snaps):
            restore_folder(env, f, s, f"restore of {os.path.basename(f)} after three concurrent backups")
    verify_clean(env, "after three concurrent backups")

    # The same folder twice at once.
    a = folders[0]
    fill(rng, os.path.join(a, "more"), 4, 1 << 20, "m")
    write(f"{a}/a000.bin", rng_bytes(rng, 123456))
    os.unlink(f"{a}/a001.bin")
    sa = snapshot(a)
    size_before = env.store.size()
    procs, rcs, outs = run_parallel(env, [["BACKUP", a], ["BACKUP", a]])
    check(rcs == [0, 0], "two concurrent backups of one folder with SET WAIT YES: not both succeeded\n" +
          "\n".join(f"--- exit {rc} ---\n{clip(o)}" for rc, o in zip(rcs, outs)))
    gaps = windows_disjoint(outs)
    found = [int(m.group(1)) if m else None for m in (re.search(r"Found: (\d+) to backup", o) for o in outs)]
    check(None not in found and sorted(found)[0] == 0 and sorted(found)[1] > 0,
          f"of two backups of the same folder one should store the changes and the other find nothing: found {found}\n" +
          "\n".join(f"--- ---\n{clip(o)}" for o in outs))
    grown = env.store.size() - size_before
    check(grown < (5 << 20) + (1 << 20), f"the store grew by {grown} bytes for 4.1 MB of changes backed up twice at once")
    note(f"the same folder twice at once: found {found}; the store grew by {grown / 2**20:.1f} MB; {gaps} s from "
         f"the first one's end to the second one's lock")
    check(not env.store.lock_keys(), f"lock records left: {env.store.lock_keys()}")
    rows = env.list_backups()
    mine = [r for r in rows if r["folder"] == a]
    check(len(mine) == 4 and all("(incomplete)" not in r["line"] for r in rows),
          f"LIST BACKUPS should show 4 complete backups of {a}\n{env.last.summary()}")
    restore_folder(env, a, sa, "restore after two concurrent backups of the same folder")
    for f, s in zip(folders[1:], snaps[1:]):
        restore_folder(env, f, s, f"restore of {os.path.basename(f)} at the end")
    verify_clean(env, "after two concurrent backups of one folder")


def wait_count(rd, needle, count, timeout):
    """Waits until `count` lines of a tc.Reader contain `needle`; False at the end of the
    output or after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    with rd.cond:
        while True:
            if sum(1 for l in rd.lines if l is not None and needle in l) >= count:
                return True
            if rd.lines and rd.lines[-1] is None:
                return False
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            rd.cond.wait(left)


def start_and_stop_at(env, tokens, trigger, count=1, timeout=60):
    """Starts seshat, waits for the count-th line containing `trigger` and stops the process
    (SIGSTOP) there: whatever the machine's speed, it is stopped at that point."""
    p = env.popen(tokens)
    rd = tc.Reader(p)
    hit = wait_count(rd, trigger, count, timeout)
    if p.poll() is None:
        os.killpg(p.pid, signal.SIGSTOP)
    check(hit, f"seshat {' '.join(tokens)} never said {trigger!r} {count} times\n{clip(rd.text())}")
    return p, rd


def resume(p):
    try:
        os.killpg(p.pid, signal.SIGCONT)
    except ProcessLookupError:
        pass


def stamp_of(out):
    """The backup timestamp a run logged ("Creating backup timestamp: ..."), to the second."""
    m = re.search(r"Creating backup timestamp: (\S+?)(\.\d+)?$", out, re.M)
    return m.group(1) if m else None


def finish_checked(rd, what, timeout=120):
    rc = rd.finish(timeout)
    out = rd.text()
    check(rc is not None, f"{what} did not finish\n{clip(out)}")
    check(rc >= 0 and not any(m in out for m in CRASH_MARKS), f"{what} crashed (exit {rc})\n{clip(out)}")
    errs = [l for l in out.splitlines() if " ERROR - " in l]
    return rc, out, errs


@test
def backup_racing_db_unlock(env):
    """DB UNLOCK removes the lock of a backup that is still running (stopped with SIGSTOP at a
    chosen point, so that the race happens whatever the machine's speed).
    1: at 'DB Lock acquired'; then the backup goes on: it completes (or fails with a clear
    message), and VERIFY DATA finds nothing wrong.
    2: while the backup of a writes its second container; another process unlocks, backs up b
    (whose container names are the same as a's: same second, folder names alike in the first
    48 characters) and completes; then a goes on. No backup that said it completed may be
    lost: b restores identical and VERIFY DATA finds nothing wrong; a completes or fails
    clearly. Up to three attempts to get both backups into the same second.
    3: more backups of both; both restore identical; VERIFY DATA finds nothing wrong."""
    rng = random.Random(SEED + 2)
    # Container names keep 48 characters of the folder's path: these two give the same ones.
    common = mkdirs(env.base, "a-directory-name-long-enough-to-fill-the-folder-part-of-container-names")
    a, b = mkdirs(common, "folder_a"), mkdirs(common, "folder_b")
    fill(rng, a, 12, 2 << 20, "a")
    fill(rng, b, 5, 300 << 10, "b")
    env.run(*env.store_tokens(), "SET", "MAX", "4", "MB", "INITIALIZE")

    # 1. DB UNLOCK while the backup of a holds the lock (the backup stopped right there).
    sa = snapshot(a)
    p, rd = start_and_stop_at(env, ["BACKUP", a], "DB Lock acquired")
    try:
        check("complete:" not in rd.text(), "test setup: the backup completed before it could be stopped")
        r = run(env, "DB", "UNLOCK", what="DB UNLOCK")
        note(f"DB UNLOCK while a backup holds the lock: exit {r.rc}: "
             f"{[l.split(' - ', 1)[1] for l in r.text().splitlines() if ' - ' in l][-1:]}")
        refused = r.rc != 0
        if refused:
            # Refusing to remove the lock of a process that is alive (on this host) is fine
            # too, if it says so clearly and leaves the lock alone.
            check(any(re.search(rf"pid {p.pid}\b", l) for l in error_lines(r)),
                  f"DB UNLOCK failed without naming the live holder pid {p.pid}\n{r.summary()}")
            check(env.store.lock_keys(), f"DB UNLOCK failed but removed the lock\n{r.summary()}")
        else:
            check(re.search(rf"DB Lock removed \(host {tc.HOST} pid {p.pid}\b", r.out),
                  f"DB UNLOCK does not say it removed the lock of pid {p.pid}\n{r.summary()}")
            check(not env.store.lock_keys(), f"DB UNLOCK left lock records: {env.store.lock_keys()}")
    finally:
        resume(p)
    rc, out, errs = finish_checked(rd, "the backup whose lock was removed")
    if rc == 0:
        check(backup_complete_line(out, a), f"exit 0 without 'complete'\n{clip(out)}")
    else:
        check(errs, f"the backup failed (exit {rc}) without an ERROR line\n{clip(out)}")
    note(f"phase 1: the backup exited {rc}; warnings: "
         f"{[l.split(' - ', 1)[1][:90] for l in out.splitlines() if ' WARN - ' in l][:3]}; errors: "
         f"{[l.split(' - ', 1)[1][:120] for l in errs][:2]}")
    check(not env.store.lock_keys(), f"lock records left after phase 1: {env.store.lock_keys()}")
    verify_clean(env, "after phase 1")
    if rc == 0:
        rows = env.list_backups()
        check([r["folder"] for r in rows] == [a] and "(incomplete)" not in rows[0]["line"],
              f"the backup that completed is not in LIST BACKUPS as complete\n{env.last.summary()}")
        restore_folder(env, a, sa, "restore of the backup whose lock was removed")

    # 2. Small containers, so that a opens its second one soon after its timestamp.
    env.run("SET", "MAX", "1", "MB")
    same_second = False
    for attempt in range(1, 4 if not refused else 1):
        fill(rng, os.path.join(a, f"more{attempt}"), 8, 300 << 10, "m")
        write(f"{a}/a000.bin", rng_bytes(rng, 99999))
        fill(rng, os.path.join(b, f"more{attempt}"), 3, 200 << 10, "n")
        sa, sb = snapshot(a), snapshot(b)
        tc.sleep_until(int(time.time()) + 1.02)  # the start of a second
        p, rd = start_and_stop_at(env, ["BACKUP", a], "Opening container file", count=2)
        try:
            check("complete:" not in rd.text(), "test setup: the backup completed before it could be stopped")
            rb = run(env, "DB", "UNLOCK", "BACKUP", b, what="DB UNLOCK and BACKUP of b while a is stopped", timeout=90)
            check(rb.rc == 0 and backup_complete_line(rb.out, b) and re.search(rf"DB Lock removed \(host {tc.HOST} "
                                                                               rf"pid {p.pid}\b", rb.out),
                  f"DB UNLOCK and the backup of b (the lock was free then) did not both succeed\n{rb.summary()}")
        finally:
            resume(p)
        rc, out, errs = finish_checked(rd, "the backup of a")
        sta, stb = stamp_of(out), stamp_of(rb.out)
        same_second = sta is not None and sta == stb
        opened_b = re.findall(r"Opening container file: (\S+)", rb.out)
        opened_a = re.findall(r"Opening container file: (\S+)", out)
        note(f"phase 2, attempt {attempt}: a's timestamp {sta}, b's {stb}; a opened {[n[-3:] for n in opened_a]}, "
             f"b opened {[n[-3:] for n in opened_b]}{' (names a uses too)' if set(opened_a) & set(opened_b) else ''}; "
             f"a exited {rc}{': ' + errs[0].split(' - ', 1)[1][:130] if errs else ''}")
        if rc == 0:
            check(backup_complete_line(out, a), f"exit 0 without 'complete'\n{clip(out)}")
        else:
            check(errs and not backup_complete_line(out, a),
                  f"the backup of a failed (exit {rc}) without a clear ERROR\n{clip(out)}")
        check(not env.store.lock_keys(), f"lock records left after phase 2: {env.store.lock_keys()}")
        # No lost update: b's backup said complete, so it must be whole; so must a's if it did.
        r = run(env, "VERIFY", "DATA", what="VERIFY DATA after phase 2", timeout=120)
        check(r.rc == 0 and not error_lines(r),
              f"after a backup whose lock was removed and one that took the lock ran at once, VERIFY DATA finds "
              f"damage (containers opened by a: {opened_a}, by b: {opened_b})\n{r.summary()}")
        rows = env.list_backups()
        bs = [row for row in rows if row["folder"] == b]
        check(bs and "(incomplete)" not in bs[-1]["line"], f"the completed backup of b is lost\n{env.last.summary()}")
        restore_folder(env, b, sb, "restore of b, backed up while a's lock was removed")
        if rc == 0:
            as_ = [row for row in rows if row["folder"] == a]
            check(as_ and "(incomplete)" not in as_[-1]["line"], f"the completed backup of a is lost\n"
                                                                 f"{env.last.summary()}")
            restore_folder(env, a, sa, "restore of a, which completed without its lock")
        if same_second:
            break
    if refused:
        note("DB UNLOCK refuses to remove a live process's lock: no second backup can run at the same time")
    elif not same_second:
        note("the two backups never ran in the same second: their container names could not collide")

    # 3. Life goes on: more backups, and both folders round-trip.
    write(f"{b}/later.txt", "later\n")
    sa, sb = snapshot(a), snapshot(b)
    r = env.backup(a, timeout=120)
    note(f"the next backup of a: {[l.split(' - ', 1)[1][:100] for l in r.out.splitlines() if 'Resuming' in l or 'Found:' in l]}")
    env.backup(b)
    restore_folder(env, a, sa, "restore of a at the end")
    restore_folder(env, b, sb, "restore of b at the end")
    verify_clean(env, "at the end")


if __name__ == "__main__":
    sys.exit(tc.main(sys.argv))
