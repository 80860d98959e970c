#!/usr/bin/env python3
"""Deterministic benchmark data sets for Seshat vs restic (standard library only).

  gen.py generate <scale> <dir>      write the data set of <scale> into <dir> (must not exist)
  gen.py mutate <dir> --seed N       change ~1 %, add ~0.5 %, delete ~0.5 % of the files
  gen.py scales                      print the scales and what they hold

Scales (sizes are approximate):
  tiny     ~20 MB,  ~2 k files      (the smoke test)
  small    ~300 MB, ~20 k files
  medium   ~3 GB,   ~200 k files    (log-uniform 0.5-16 KB text-like files in directories up
                                     to 8 deep; 100 KB-5 MB files, half text-like, half
                                     random; three 200-500 MB random files)
  files1m  1,000,000 files of 0-64 bytes in 10,000 directories

Every scale but files1m also has: duplicates of other files under other names (one of a big
file too), relative symlinks (to files, to a directory, one dangling), empty files, empty
directories, executable and private modes, and names with spaces and non-ASCII characters.
No name starts with '.', since Seshat skips hidden files by default and restic does not.

Everything is drawn from random.Random(seed): the same scale gives the same names, sizes and
bytes on every machine (mtimes are the time of writing). Random bytes come from randbytes(),
so no two random files share a chunk; text-like bytes are random sequences of lines from a
fixed pool, which compress like prose (zstd -1: about 3x) and do not repeat across files at
chunk scale either.

The mutator rewrites each changed file under a temporary name and renames it over the old
one, so it may run on a copy made with `cp -al` without touching the original.
"""
import argparse
import os
import random
import subprocess
import sys
import time

GEN_VERSION = 1  # bump when the output of `generate` changes; run.py regenerates cached sets
SEED = 20240611
KB, MB = 1 << 10, 1 << 20

SCALES = {
    "tiny": dict(text_files=1900, dirs=100, medium_files=8, medium_max=3 * MB, big=[2 * MB, 3 * MB], big_dup=False),
    "small": dict(text_files=19000, dirs=1000, medium_files=120, medium_max=5 * MB, big=[64 * MB], big_dup=False),
    "medium": dict(text_files=195000, dirs=10000, medium_files=650, medium_max=5 * MB, big=None, big_dup=True),
    "files1m": dict(tiny_files=1000000, tiny_dirs=10000),
    # Real data no one here wrote: the Linux 6.1 sources Debian ships (package linux-source-6.1,
    # which bench/run.sh installs), unpacked.
    "linux": dict(tarball="/usr/src/linux-source-6.1.tar.xz"),
}

WORDS = (
    "the of and to in is was that for on are with as his they be at one have this from or had by "
    "word but what some we can out other were all there when up use your how said an each she which "
    "do their time if will way about many then them write would like so these her long make thing see "
    "him two has look more day could go come did number sound no most people my over know water than "
    "call first who may down side been now find any new work part take get place made live where after "
    "back little only round man year came show every good me give our under name very through just form "
    "sentence great think say help low line differ turn cause much mean before move right boy old too "
    "same tell does set three want air well also play small end put home read hand port large spell add "
    "even land here must big high such follow act why ask men change went light kind off need house "
    "picture try us again animal point mother world near build self earth father head stand own page "
    "should country found answer school grow study still learn plant cover food sun four between state "
    "keep eye never last let thought city tree cross farm hard start might story saw far sea draw left "
    "late run while press close night real life few north open seem together next white children begin "
    "got walk example ease paper group always music those both mark often letter until mile river car "
    "feet care second book carry took science eat room friend began idea fish mountain stop once base "
    "hear horse cut sure watch color face wood main enough plain girl usual young ready above ever red "
    "list though feel talk bird soon body dog family direct pose leave song measure door product black "
    "short numeral class wind question happen complete ship area half rock order fire south problem "
    "piece told knew pass since top whole king space heard best hour better true during hundred five "
    "remember step early hold west ground interest reach fast verb sing listen six table travel less "
    "morning ten simple several vowel toward war lay against pattern slow center love person money "
    "serve appear road map rain rule govern pull cold notice voice unit power town fine certain fly "
    "fall lead cry dark machine note wait plan figure star box noun field rest correct able pound done "
    "beauty drive stood contain front teach week final gave green oh quick develop ocean warm free "
    "minute strong special mind behind clear tail produce fact street inch multiply nothing course stay "
    "wheel full force blue object decide surface deep moon island foot system busy test record boat "
    "common gold possible plane stead dry wonder laugh thousand ago ran check game shape equate hot miss "
    "brought heat snow tire bring yes distant fill east paint language among"
).split()

NAME_STYLES = [
    # (weight, function(rng, i) -> name without extension)
    (70, lambda r, i: f"{r.choice(WORDS)}_{r.choice(WORDS)}{i}"),
    (10, lambda r, i: f"{r.choice(WORDS).capitalize()} {r.choice(WORDS)} {i}"),
    (6, lambda r, i: f"{r.choice(WORDS)}-{i:06d}"),
    (4, lambda r, i: f"caf\u00e9 {r.choice(WORDS)} {i}"),
    (3, lambda r, i: f"na\u00efve r\u00e9sum\u00e9_{i}"),
    (2, lambda r, i: f"\u65e5\u672c\u8a9e\u306e\u30d5\u30a1\u30a4\u30eb{i}"),
    (2, lambda r, i: f"\u041f\u0440\u0438\u0432\u0435\u0442 \u043c\u0438\u0440 {i}"),
    (2, lambda r, i: f"\u00dcn\u00efc\u00f8d\u00e9 \u2713 {i} \U0001F3B5"),
    (1, lambda r, i: f"  leading and trailing spaces {i} "),
]
NAME_WEIGHTS = [w for w, _ in NAME_STYLES]
EXTS = ["txt", "md", "c", "h", "py", "json", "log", "csv", "html", "cfg"]


def make_name(rng, i, ext=None):
    style = rng.choices(NAME_STYLES, weights=NAME_WEIGHTS)[0][1]
    name = style(rng, i)
    return f"{name}.{ext}" if ext else name


class Text:
    """Text-like bytes: random sequences of lines from a fixed pool of 65,536 lines."""

    def __init__(self, seed):
        r = random.Random(seed ^ 0x7E57)
        lines = []
        for _ in range(65536):
            n = r.randint(3, 14)
            words = r.choices(WORDS, k=n)
            if r.random() < 0.1:
                words.append(str(r.randint(0, 99999)))
            indent = "    " * r.randint(0, 3) if r.random() < 0.3 else ""
            lines.append((indent + " ".join(words) + "\n").encode())
        self.lines = lines

    def make(self, rng, size):
        if size <= 0:
            return b""
        out = b"".join(rng.choices(self.lines, k=size // 40 + 2))
        while len(out) < size:
            out += b"".join(rng.choices(self.lines, k=64))
        return out[:size]


def log_uniform(rng, lo, hi):
    return int(round(lo * (hi / lo) ** rng.random()))


def write_file(path, data, mode=None):
    with open(path, "wb") as f:
        f.write(data)
    if mode is not None:
        os.chmod(path, mode)


def write_random(path, rng, size, chunk=4 * MB):
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(chunk, left)
            f.write(rng.randbytes(n))
            left -= n


def copy_file(src, dst):
    with open(src, "rb") as fi, open(dst, "wb") as fo:
        while True:
            b = fi.read(4 * MB)
            if not b:
                break
            fo.write(b)


# ---------------------------------------------------------------------------- generate

def gen_tree(spec, root, rng, text, log):
    # Directories: a random recursive tree, at most 8 levels below the root, plus one chain
    # that reaches depth 8 for sure.
    dirs = [("", 0)]  # (relative path, depth)
    used = {""}

    def add_dir(parent, depth, i):
        for _ in range(100):
            name = make_name(rng, i)
            rel = f"{parent}/{name}" if parent else name
            if rel not in used:
                used.add(rel)
                dirs.append((rel, depth + 1))
                return rel
        raise RuntimeError("cannot find a free directory name")

    parent = ""
    for d in range(8):
        parent = add_dir(parent, d, len(dirs))
    while len(dirs) < spec["dirs"]:
        p, depth = dirs[rng.randrange(len(dirs))]
        if depth >= 8:
            continue
        add_dir(p, depth, len(dirs))
    for rel, _ in dirs:
        if rel:
            os.mkdir(os.path.join(root, rel))
    # Empty directories: ~1 % more, never given files.
    for i in range(max(2, spec["dirs"] // 100)):
        p, depth = dirs[rng.randrange(len(dirs))]
        name = f"empty dir {i}" if i % 2 else f"empty_{i}"
        rel = f"{p}/{name}" if p else name
        if rel not in used:
            used.add(rel)
            os.mkdir(os.path.join(root, rel))
    log(f"  {len(dirs)} directories")

    files = []  # relative paths of regular files
    names_in = {}

    def new_path(ext):
        d = dirs[rng.randrange(len(dirs))][0]
        taken = names_in.setdefault(d, set())
        while True:
            name = make_name(rng, len(files), ext)
            if name not in taken:
                taken.add(name)
                return f"{d}/{name}" if d else name

    total = 0
    # Text-like small files, log-uniform 0.5-16 KB; ~1 % empty, ~2 % executable, ~1 % private.
    for i in range(spec["text_files"]):
        rel = new_path(rng.choice(EXTS))
        u = rng.random()
        size = 0 if u < 0.01 else log_uniform(rng, 512, 16 * KB)
        mode = 0o755 if 0.01 <= u < 0.03 else 0o600 if 0.03 <= u < 0.04 else None
        data = text.make(rng, size)
        write_file(os.path.join(root, rel), data, mode)
        files.append(rel)
        total += size
        if i and i % 50000 == 0:
            log(f"  {i} text files")
    log(f"  {spec['text_files']} text files, {total / MB:.0f} MB")

    # Medium files, log-uniform 100 KB - medium_max: even ones text-like, odd ones random.
    mediums = []
    mtotal = 0
    for i in range(spec["medium_files"]):
        size = log_uniform(rng, 100 * KB, spec["medium_max"])
        if i % 2 == 0:
            rel = new_path(rng.choice(["txt", "log", "csv", "json"]))
            write_file(os.path.join(root, rel), text.make(rng, size))
        else:
            rel = new_path(rng.choice(["bin", "jpg", "zip", "gz"]))
            write_random(os.path.join(root, rel), rng, size)
        files.append(rel)
        mediums.append(rel)
        mtotal += size
    log(f"  {spec['medium_files']} medium files, {mtotal / MB:.0f} MB")
    total += mtotal

    # Big random files.
    bigs = spec["big"] if spec["big"] is not None else [rng.randint(200, 500) * MB for _ in range(3)]
    big_paths = []
    for i, size in enumerate(bigs):
        rel = new_path("img")
        write_random(os.path.join(root, rel), rng, size)
        files.append(rel)
        big_paths.append((size, rel))
        total += size
    log(f"  {len(bigs)} big files, {sum(bigs) / MB:.0f} MB")

    # Duplicates under other names: ~1 % of the text files, ~3 % of the medium ones, and the
    # smallest big file if asked.
    dup_src = [files[rng.randrange(spec["text_files"])] for _ in range(spec["text_files"] // 100)]
    dup_src += [rng.choice(mediums) for _ in range(max(1, len(mediums) * 3 // 100))]
    if spec["big_dup"]:
        dup_src.append(min(big_paths)[1])
    for src in dup_src:
        rel = new_path("copy")
        copy_file(os.path.join(root, src), os.path.join(root, rel))
        total += os.path.getsize(os.path.join(root, rel))
    files_before_links = len(files)
    log(f"  {len(dup_src)} duplicates")

    # Symlinks: ~0.5 % of the files, relative, to files; one to a directory, one dangling.
    nlinks = max(3, spec["text_files"] // 200)
    for i in range(nlinks):
        rel = new_path("lnk")
        if i == 0:
            target_rel = dirs[1][0]
        elif i == 1:
            target_rel = "no/such/file"
        else:
            target_rel = files[rng.randrange(files_before_links)]
        d = os.path.dirname(rel)
        os.symlink(os.path.relpath(target_rel, d or "."), os.path.join(root, rel))
    log(f"  {nlinks} symlinks")
    return total


def gen_files1m(spec, root, rng, log):
    nd, nf = spec["tiny_dirs"], spec["tiny_files"]
    top = 100
    per_top = nd // top
    per_dir = nf // nd
    total = 0
    n = 0
    for t in range(top):
        tdir = os.path.join(root, f"d{t:03d}")
        os.mkdir(tdir)
        for s in range(per_top):
            sdir = os.path.join(tdir, f"s{s:03d}")
            os.mkdir(sdir)
            sizes = [rng.randint(0, 64) for _ in range(per_dir)]
            for i, size in enumerate(sizes):
                with open(os.path.join(sdir, f"f{i:03d}"), "wb") as f:
                    if size:
                        f.write(rng.randbytes(size))
                total += size
                n += 1
        if t % 10 == 9:
            log(f"  {n} files")
    return total


def generate(scale, root, log=lambda s: print(s, file=sys.stderr, flush=True)):
    if scale not in SCALES:
        raise SystemExit(f"unknown scale {scale!r}; known: {', '.join(SCALES)}")
    spec = SCALES[scale]
    os.makedirs(root)
    rng = random.Random(SEED)
    t0 = time.monotonic()
    log(f"generating {scale} into {root}")
    if "tarball" in spec:
        if not os.path.exists(spec["tarball"]):
            raise SystemExit(f"{spec['tarball']} is missing (apt-get install linux-source-6.1)")
        subprocess.run(["tar", "-xJf", spec["tarball"], "-C", root, "--strip-components=1"], check=True)
        total = sum(os.lstat(os.path.join(d, f)).st_size for d, _, fs in os.walk(root) for f in fs)
    elif "tiny_files" in spec:
        total = gen_files1m(spec, root, rng, log)
    else:
        total = gen_tree(spec, root, rng, Text(SEED), log)
    log(f"generated {scale}: {total / MB:.0f} MB in {time.monotonic() - t0:.1f} s")


# ---------------------------------------------------------------------------- mutate

def list_tree(root):
    """Sorted relative paths of the regular files and of the directories below root."""
    files, dirs = [], [""]
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel = os.path.relpath(dirpath, root)
        rel = "" if rel == "." else rel
        for d in dirnames:
            p = os.path.join(dirpath, d)
            if not os.path.islink(p):
                dirs.append(os.path.join(rel, d))
        for f in sorted(filenames):
            p = os.path.join(dirpath, f)
            if not os.path.islink(p) and os.path.isfile(p):
                files.append(os.path.join(rel, f))
    files.sort()
    dirs.sort()
    return files, dirs


def mutate(root, seed, log=lambda s: print(s, file=sys.stderr, flush=True)):
    rng = random.Random(seed * 7919 + 17)
    text = Text(SEED + seed)
    files, dirs = list_tree(root)
    n = len(files)
    k_mod, k_add, k_del = max(1, round(n * 0.01)), max(1, round(n * 0.005)), max(1, round(n * 0.005))
    picked = rng.sample(range(n), min(n, k_mod + k_del))
    modified = bytes_changed = 0
    for i in picked[:k_mod]:
        p = os.path.join(root, files[i])
        tmp = p + ".mutating~"
        size = os.path.getsize(p)
        # A copy, changed in place, renamed over the old name: a hard-linked original stays.
        copy_file(p, tmp)
        os.chmod(tmp, os.stat(p).st_mode & 0o7777)
        with open(tmp, "r+b") as f:
            if size > 0:
                n_bytes = min(size, rng.choice([16, 256, 4096]))
                off = rng.randrange(size - n_bytes + 1)
                f.seek(off)
                f.write(rng.randbytes(n_bytes))
                bytes_changed += n_bytes
            if rng.random() < 0.5 or size == 0:
                f.seek(0, os.SEEK_END)
                extra = text.make(rng, rng.randint(1, 2048))
                f.write(extra)
                bytes_changed += len(extra)
        os.replace(tmp, p)
        modified += 1
    deleted = 0
    for i in picked[k_mod:]:
        os.unlink(os.path.join(root, files[i]))
        deleted += 1
    added = 0
    for j in range(k_add):
        d = dirs[rng.randrange(len(dirs))]
        p = os.path.join(root, d, f"added {seed}-{j}.txt")
        if os.path.exists(p):
            continue
        data = text.make(rng, log_uniform(rng, 512, 16 * KB))
        write_file(p, data)
        bytes_changed += len(data)
        added += 1
    log(f"mutated {root} (seed {seed}): {modified} changed, {added} added, {deleted} deleted of {n} files; "
        f"{bytes_changed / KB:.0f} KB written")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("scale")
    g.add_argument("dir")
    m = sub.add_parser("mutate")
    m.add_argument("dir")
    m.add_argument("--seed", type=int, required=True)
    sub.add_parser("scales")
    a = ap.parse_args()
    if a.cmd == "generate":
        generate(a.scale, a.dir)
    elif a.cmd == "mutate":
        mutate(a.dir, a.seed)
    else:
        for k, v in SCALES.items():
            print(k, v)


if __name__ == "__main__":
    main()
