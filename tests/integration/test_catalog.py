#!/usr/bin/env python3
"""A catalog that grows with the changes (issue 16), on the harness of test_core.py: each
commit is a delta on the generation before it, bases are written only when the chain is long,
a damaged delta falls back to the state before it, and a store written by Seshat 0.8.0 (one
whole catalog per generation, tests/fixtures/v2-store) restores and is upgraded.

Usage is that of test_core.py: [--store local|s3] --list | <seshat-binary> <name> | all.
"""
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_core as tc  # noqa: E402
import test_fidelity as tf  # noqa: E402
from test_core import check, mkdirs, note, write, test, Skip, TestFailure  # noqa: E402

V2_STORE = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "fixtures", "v2-store")


def db_objects(env):
    """seshat/db/ objects: key -> size."""
    return {k: os.path.getsize(p) for k, p in env.store.objects("seshat/db/").items()}


def many_files(root, n):
    for i in range(n):
        d = mkdirs(root, f"d{i // 100:03}")
        write(f"{d}/f{i:05}.txt", f"file {i}\n" * (1 + i % 7))


@test
def unchanged_backups_grow_the_store_little(env):
    """After a first backup of 3000 files, ten unchanged backups each grow the store by less
    than 64 KB (a delta each; a base now and then), the catalog objects stay few, and every
    point in time restores exactly, also after a file changed in between."""
    src = mkdirs(env.base, "src")
    many_files(src, 3000)
    env.first_backup(src)
    first_db = sum(db_objects(env).values())
    grew = []
    for n in range(10):
        if n == 5:
            write(f"{src}/d001/f00105.txt", "changed after the sixth backup\n")
            expected_seventh = tc.snapshot(src)
        if n == 6:
            write(f"{src}/d001/f00105.txt", "changed again\n")
        before = env.store.size()
        env.backup(src)
        grew.append(env.store.size() - before)
    note(f"first catalog {first_db} B; growth per backup {grew}; catalog objects {len(db_objects(env))}")
    for n, g in enumerate(grew):
        if n in (5, 6):
            continue  # a changed file: its container
        check(g < 64 * 1024, f"unchanged backup {n + 2} grew the store by {g} bytes (growth per backup {grew})")
    check(len(db_objects(env)) <= 2 * 66, f"too many catalog objects: {sorted(db_objects(env))}")
    backups = env.list_backups()
    check(len(backups) == 11, f"LIST BACKUPS shows {len(backups)} backups, not 11")
    t = env.new_target("latest")
    env.restore(t)
    tc.compare_trees(tc.snapshot(src), tc.snapshot(t + src), "the newest backup")
    # Backup 7 was made after the first change, before the second.
    t = env.new_target("seventh")
    env.restore(t, number=7)
    tc.compare_trees(expected_seventh, tc.snapshot(t + src), "backup 7")
    env.run("VERIFY", "DATA")


@test
def a_damaged_delta_falls_back_to_the_state_before_it(env):
    """The newest catalog object (a delta) damaged: LIST BACKUPS warns and shows the backups
    before it; the next backup says which generations it leaves out of the DB, commits after
    them, and restores."""
    src = mkdirs(env.base, "src")
    many_files(src, 500)
    env.first_backup(src)
    env.backup(src)
    write(f"{src}/new.txt", "added by the third backup\n")
    env.backup(src)
    newest = max(db_objects(env))
    flip_middle_byte(env.store.object_file(newest))
    r = env.run("LIST", "BACKUPS")
    check(any(newest in w for w in r.warns()), f"no WARN naming {newest}\n{r.summary()}")
    check(len([l for l in r.out.splitlines() if src in l]) == 2, f"not the two backups before it\n{r.summary()}")
    r = env.backup(src)
    n = int(newest.split("/")[-1])
    check(any(f"generations {n} to {n} (damaged" in w for w in r.warns()),
          f"no WARN naming the generation left out\n{r.summary()}")
    t = env.new_target("after")
    env.restore(t)
    tc.compare_trees(tc.snapshot(src), tc.snapshot(t + src), "the backup after the damaged delta")


def flip_middle_byte(path):
    with open(path, "r+b") as f:
        f.seek(os.path.getsize(path) // 2)
        b = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([b[0] ^ 1]))


def files_under(root):
    return sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs)


@test(stores=("s3",))
def s3_catalog_is_cached(env):
    """The catalog of an S3 store is kept, as stored, under $XDG_CACHE_HOME/seshat/<id>/ (0700,
    files 0600): with the store's copies damaged behind the listing's back a LIST still works
    from the cache, and with SET CACHE NO it reads the store (and says they are damaged); a
    damaged cached copy is fetched again; a generation the store no longer lists leaves the
    cache."""
    cache = os.path.join(env.base, "xdg-cache")
    xdg = {"XDG_CACHE_HOME": cache}
    src = mkdirs(env.base, "src")
    many_files(src, 300)
    env.first_backup(src, extra_env=xdg)
    env.backup(src, extra_env=xdg)
    env.run("LIST", "BACKUPS", extra_env=xdg)
    dbs = db_objects(env)
    cached = files_under(cache)
    check(len(cached) == len(dbs), f"cached {cached} for the generations {sorted(dbs)}")
    top = os.path.join(cache, "seshat")
    check(os.stat(top).st_mode & 0o777 == 0o700, f"{top} is not 0700")
    check(all(os.stat(f).st_mode & 0o777 == 0o600 for f in cached), "a cached file is not 0600")
    saved = {k: open(env.store.object_file(k), "rb").read() for k in dbs}
    for k in dbs:
        flip_middle_byte(env.store.object_file(k))
    r = env.run("LIST", "BACKUPS", extra_env=xdg)
    check(not r.warns() and len([l for l in r.out.splitlines() if src in l]) == 2,
          f"LIST BACKUPS did not come from the cache\n{r.summary()}")
    r = env.run("SET", "CACHE", "NO", "LIST", "BACKUPS", rc=None, extra_env=xdg)
    check(any("damaged" in w for w in r.warns()) or r.rc != 0, f"SET CACHE NO still read the cache\n{r.summary()}")
    env.run("SET", "CACHE", "YES", extra_env=xdg)
    for k, data in saved.items():
        with open(env.store.object_file(k), "wb") as f:
            f.write(data)
    for f in cached:
        flip_middle_byte(f)
    r = env.run("LIST", "BACKUPS", extra_env=xdg)
    check(not r.warns(), f"a damaged cached copy was not fetched again\n{r.summary()}")
    check([open(f, "rb").read() for f in files_under(cache)] == [saved[k] for k in sorted(saved)],
          "the cache does not hold the store's objects again")
    write(f"{src}/new.txt", "new\n")
    for _ in range(3):
        env.backup(src, extra_env=xdg)
    names = sorted(os.path.basename(f).split("-")[0] for f in files_under(cache))
    listed = sorted(k.split("/")[-1] for k in db_objects(env))
    check(set(names) <= set(listed), f"the cache keeps generations the store no longer lists: {names} vs {listed}")


@test(stores=("local",))
def v2_store_restores_and_upgrades(env):
    """A store written by Seshat 0.8.0 (catalog format 2, tests/fixtures/v2-store) restores both
    of its backups exactly; the first backup by this version says it upgrades the store, marks
    it as repository version 2, commits after the old generation (which is kept), and the old backups
    still restore exactly; VERIFY DATA is clean."""
    if not os.path.isdir(V2_STORE):
        raise TestFailure(f"the fixture {V2_STORE} is missing")
    store = os.path.join(env.base, "v2-store")
    shutil.copytree(V2_STORE, store)
    expected = []
    for point in (1, 2):
        tf.v1_tree(os.path.join(env.base, "expected"), point)
        expected.append(tc.snapshot(os.path.join(env.base, "expected")))

    def check_points(when):
        for n in (1, 2):
            t = env.new_target(f"v2-{when}-{n}")
            env.run("STORE", "LOCAL", store, "SELECT", "FOLDER", tf.V1_FOLDER, "SELECT", "BACKUP", str(n),
                    "RESTORE", "ADD", "TREE", "RESTORE", "TARGET", t, "RESTORE", "GO", check_lock=False)
            tc.compare_trees(expected[n - 1], tc.snapshot(t + tf.V1_FOLDER), f"backup {n} of the v2 store, {when}")

    def config_version():
        with open(os.path.join(store, "seshat", "config")) as f:
            return json.load(f)["version"]

    check_points("as made by the old version")
    check(config_version() == 1, "the fixture is not a version 1 repository")
    r = env.run("STORE", "LOCAL", store, "LIST", "BACKUPS", check_lock=False)
    check(config_version() == 1, "reading the store upgraded it")
    src = mkdirs(env.base, "src")
    write(f"{src}/a.txt", "written by this version\n")
    r = env.run("STORE", "LOCAL", store, "BACKUP", src, check_lock=False)
    check(any("upgraded to format 3" in l for l in r.out.splitlines()), f"no INFO about the upgrade\n{r.summary()}")
    check(config_version() == 2, "the config does not say repository version 2")
    gens = sorted(os.listdir(os.path.join(store, "seshat", "db")))
    check("00000000000000000002" in gens and gens[-1] == "00000000000000000003",
          f"the old generation is not kept under the new one: {gens}")
    check_points("after this version's backup upgraded it")
    r = env.run("STORE", "LOCAL", store, "BACKUP", src, check_lock=False)
    check(not any("upgraded" in l for l in r.out.splitlines()), f"upgraded twice\n{r.summary()}")
    env.run("STORE", "LOCAL", store, "VERIFY", "DATA", check_lock=False)


if __name__ == "__main__":
    mine = {n: v for n, v in tc.TESTS.items() if v[0].__module__ == __name__}
    tc.TESTS.clear()
    tc.TESTS.update(mine)
    sys.exit(tc.main(sys.argv))
