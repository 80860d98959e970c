#!/usr/bin/env python3
"""Integration tests for Seshat's shell: the grammar, help, errors, batch and interactive use.

Usage:
  test_shell.py --list                    print the test names, one a line
  test_shell.py <seshat-binary> <name>    run one test (exit 0 pass, 1 fail)
  test_shell.py <seshat-binary> [all]     run every test and print a summary

Each test works in its own temporary directory /tmp/seshat-shell-XXXXXXXX (removed at the
end; always under /tmp so that paths, and so the column widths of listings, have the same
length on every machine), with HOME pointing into it, SESHAT_PASSWORD set, cheap key
derivation, SESHAT_HOSTNAME=shell-host and the store in <base>/store. Standard library only.

Transcript tests (transcript_<name>) come from tests/transcripts/<name>.txt, in the style of
fish-shell's tests: command lines fed to seshat on standard input, each followed by the lines
it must print.

  #! setup tree backup      before the first run: `tree` makes the source tree {SRC}
                            (alpha.txt, beta.txt, docs/notes.md, link -> alpha.txt), `spaced`
                            makes {SPACED} (a directory with a blank in its name), `backup`
                            backs up {SRC}. The store is always set to {STORE} first.
  BACKUP {SRC}              a command line, placeholders substituted, fed on stdin
  # CHECK: <line>           the next line seshat prints on standard output
  # CHECKERR: <line>        the next line it prints on standard error
  #! exit 1                 ends this seshat process, which must exit with status 1; the
                            following lines go to a new process (same HOME and store).
                            A run that ends without `#! exit` must exit with status 0.
  #! same-tree <a> <b>      after the run: tree <a> must equal tree <b> (contents, modes,
                            mtimes, symlinks); <a> and <b> may be files
  #! absent <path>          after the run: nothing may exist at <path>
  # anything else           a comment

Batch mode stops at the first failing command, so each expected failure ends a run.

Matching. Output is normalised first: times 14:03:28.745 -> {TIME}, listing dates
27-Nov-2026 08:04 -> {DATE}, today's date 27-Nov-2026 -> {TODAY}, ISO timestamps -> {ISO},
container names -> {CONTAINER}, the test's paths -> {SRC} {SPACED} {TARGET} {STORE} {HOME}
{BASE}, the host name -> {HOST}; the caret under a bad token is moved to match. Trailing
blanks are ignored. A check line must equal the normalised output line, except that
{{regex}} in a check matches that regex (e.g. {{ +}} where a column's width depends on data).
CHECK lines match standard output in order; between them seshat may print INFO log lines
that no CHECK names, but every other line (listings, help, warnings) must be checked.
CHECKERR lines must account for every line of standard error, in order.
Placeholders may be used in commands too ({SRC}, {TODAY}, ...), and are replaced by the values.

The other tests drive seshat directly: interactive_* run it on a pseudo-terminal (os.openpty,
TERM=xterm, 200 columns; a tiny screen model follows libedit's redraws so that a test can
see what the edited line shows; every wait has a deadline, and the child is killed at the
end); the rest run it with command-line words or a script on stdin and look at the files.
"""
import fcntl
import hashlib
import os
import re
import select
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import termios
import time

BINARY = None
TESTS = {}  # name -> function(world)
HERE = os.path.dirname(os.path.abspath(__file__))
TRANSCRIPTS = os.path.normpath(os.path.join(HERE, os.pardir, "transcripts"))

PASSWORD = "correct horse battery staple"
HOST = "shell-host"
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
T1 = 1_600_000_000 * 10**9  # 13-Sep-2020
T2 = 1_650_000_000 * 10**9  # 15-Apr-2022
T3 = 1_700_000_000 * 10**9  # 14-Nov-2023
EXPECT_TIMEOUT = 10.0  # seconds for each interactive expectation


class TestFailure(Exception):
    pass


def test(fn):
    TESTS[fn.__name__] = fn
    return fn


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def clip(text, limit=3000):
    if len(text) <= limit:
        return text
    half = limit // 2
    return text[:half] + f"\n... [{len(text) - limit} characters left out] ...\n" + text[-half:]


# ---------------------------------------------------------------------------- files

def write(path, data, mode=0o644, mtime_ns=None):
    if isinstance(data, str):
        data = data.encode()
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))


def mkdirs(*parts, mode=0o755):
    p = os.path.join(*parts)
    os.makedirs(p, exist_ok=True)
    os.chmod(p, mode)
    return p


def set_mtime(path, ns):
    os.utime(path, ns=(ns, ns), follow_symlinks=False)


def file_sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def snapshot(root):
    """Maps each path below root (relative; "" is root itself) to what a restore must
    reproduce: type, mode bits, mtime, and the content hash or the link target."""
    out = {}

    def visit(path, rel):
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            out[rel] = ("link", os.readlink(path), st.st_mtime_ns)
        elif stat.S_ISDIR(st.st_mode):
            out[rel] = ("dir", oct(stat.S_IMODE(st.st_mode)), st.st_mtime_ns)
            for name in sorted(os.listdir(path)):
                visit(os.path.join(path, name), os.path.join(rel, name) if rel else name)
        elif stat.S_ISREG(st.st_mode):
            out[rel] = ("file", oct(stat.S_IMODE(st.st_mode)), st.st_mtime_ns, st.st_size, file_sha(path))
        else:
            out[rel] = ("other", stat.S_IFMT(st.st_mode))

    if os.path.lexists(root):
        visit(root, "")
    return out


def compare_trees(expected, actual, what):
    problems = []
    for k in sorted(set(expected) | set(actual)):
        e, a = expected.get(k, "absent"), actual.get(k, "absent")
        if e != a:
            problems.append(f"  {k or '(top directory)'}: expected {e}, got {a}")
    if problems:
        raise TestFailure(f"{what}: {len(problems)} differences\n" + "\n".join(problems[:15]))


def dir_listing(root):
    out = {}
    for dirpath, _, filenames in os.walk(root):
        out[("dir", os.path.relpath(dirpath, root))] = None
        for f in filenames:
            p = os.path.join(dirpath, f)
            out[("file", os.path.relpath(p, root))] = (os.path.getsize(p), file_sha(p))
    return out


def stamp(t):
    """RESTORE TIMESTAMP words for time t (seconds since the epoch, local time)."""
    lt = time.localtime(t)
    return (f"{lt.tm_mday:02d}-{MONTHS[lt.tm_mon - 1]}-{lt.tm_year:04d}",
            f"{lt.tm_hour:02d}:{lt.tm_min:02d}:{lt.tm_sec:02d}")


def sleep_past_second(t_end):
    """Sleeps until the second after the one that held t_end has begun (and at least 1.1 s
    after t_end), so that a backup started now is later than `int(t_end)` by whole seconds."""
    target = max(int(t_end) + 1.05, t_end + 1.1)
    d = target - time.time()
    if d > 0:
        time.sleep(d)


# ---------------------------------------------------------------------------- running Seshat

class Result:
    def __init__(self, args, stdin, rc, out, err, elapsed):
        self.args, self.stdin, self.rc, self.out, self.err, self.elapsed = args, stdin, rc, out, err, elapsed

    def summary(self):
        s = f"command: seshat {' '.join(self.args)}"
        if self.stdin is not None:
            s += f"\n--- stdin ---\n{clip(self.stdin, 1500)}"
        return s + f"\nexit status: {self.rc}\n--- stdout ---\n{clip(self.out)}\n--- stderr ---\n{clip(self.err)}"

    def errors(self):
        return [l for l in (self.out + self.err).splitlines() if " ERROR - " in l]


class World:
    """One test's private directory: HOME, the store, source trees, restore targets."""

    def __init__(self, name):
        # Always under /tmp with mkdtemp's fixed-length suffix: the paths have the same length
        # everywhere, so listing columns padded after a path do too.
        self.base = tempfile.mkdtemp(prefix="seshat-shell-", dir="/tmp")
        self.name = name
        self.home = mkdirs(self.base, "home")
        self.store = os.path.join(self.base, "store")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("SESHAT_", "AWS_"))}
        self.env.update({
            "HOME": self.home,
            "SESHAT_PASSWORD": PASSWORD,
            "SESHAT_KDF_MEMLIMIT": "8388608",
            "SESHAT_KDF_OPSLIMIT": "1",
            "SESHAT_HOSTNAME": HOST,
        })
        self.children = []  # pids of interactive seshat processes, killed at cleanup

    def cleanup(self):
        for pid in self.children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        self.children = []

        def onerror(func, path, exc):
            try:
                os.chmod(os.path.dirname(path), 0o700)
                os.chmod(path, 0o700)
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    os.unlink(path)
            except OSError:
                pass

        shutil.rmtree(self.base, onerror=onerror)

    def run(self, *tokens, input=None, rc=0, host=None, timeout=60):
        """Runs seshat with these command-line tokens (and `input` on stdin; else stdin is
        /dev/null). rc: the exit status wanted, "nonzero", or None for any."""
        env = dict(self.env)
        if host:
            env["SESHAT_HOSTNAME"] = host
        t0 = time.monotonic()
        try:
            p = subprocess.run([BINARY] + list(tokens), env=env,
                               input=input.encode() if input is not None else None,
                               stdin=None if input is not None else subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                               start_new_session=True, cwd=self.base)
        except subprocess.TimeoutExpired as e:
            out = (e.stdout or b"").decode(errors="replace")
            raise TestFailure(f"seshat {' '.join(tokens)[:300]} did not finish in {timeout} s (hung?)\n"
                              f"--- stdin ---\n{clip(input or '', 1000)}\n--- stdout ---\n{clip(out)}")
        r = Result(list(tokens), input, p.returncode, p.stdout.decode(errors="replace"),
                   p.stderr.decode(errors="replace"), time.monotonic() - t0)
        if rc == "nonzero":
            check(r.rc != 0, f"expected a non-zero exit status\n{r.summary()}")
        elif rc is not None:
            check(r.rc == rc, f"expected exit status {rc}, got {r.rc}\n{r.summary()}")
        return r

    def cmd(self, *tokens, **kw):
        """Runs the tokens followed by EXIT."""
        return self.run(*tokens, "EXIT", **kw)

    def set_store(self):
        self.cmd("STORE", "LOCAL", self.store)

    def backup(self, folder, host=None):
        return self.cmd("BACKUP", folder, host=host)

    def new_target(self, name):
        return tempfile.mkdtemp(prefix=name + "-", dir=self.base)


# Rows of numbered listings (LIST FILES, LIST TREE, LIST VERSIONS, SEARCH).
DATE_RE = r"\d\d-\w{3}-\d{4} \d\d:\d\d:\d\d"
ROW_RE = re.compile(r"^ *(\d+)  ([-dlx][-rwx]{9}) +(?:(\d+(?:\.\d)? [KMGTP]?B))?  (" + DATE_RE + r")  (.*)$")
DELETED_RE = re.compile(r"^ *(\d+)  (\S.*)  deleted in backup #(\d+) (" + DATE_RE + r")(?:  host (\S+))?(  \(newer than the point in time\))?$")
BACKUP_ROW_RE = re.compile(r"^ *(\d+)  (" + DATE_RE + r")  (\S+) +(\S+) +(\d+) +(\S+ [KMGTP]?B) +(\S+ [KMGTP]?B)(  \(incomplete\))?$")


def parse_rows(text):
    """Numbered entry rows: dicts with n, mode, size, mtime, name (as printed, indentation
    kept), deleted (bool), backup (the date of the 'backup #n <date>' part, if any), number
    (its n), host (SEARCH rows), deleted_since, newer."""
    rows = []
    for line in text.splitlines():
        m = ROW_RE.match(line)
        if m:
            rest = m.group(5)
            backup = number = host = None
            flags = {}
            for flag, text_ in (("newer", "  (newer than the point in time)"), ("deleted_since", "  (deleted since)")):
                flags[flag] = rest.endswith(text_)
                if flags[flag]:
                    rest = rest[: -len(text_)]
            hm = re.search(r"  host (\S+)$", rest)
            if hm:
                host = hm.group(1)
                rest = rest[: hm.start()]
            bm = re.search(r"  backup #(\d+) (" + DATE_RE + r")$", rest)
            if bm:
                number, backup = int(bm.group(1)), bm.group(2)
                rest = rest[: bm.start()]
            rows.append({"n": int(m.group(1)), "mode": m.group(2), "size": m.group(3), "mtime": m.group(4),
                         "name": rest, "deleted": False, "backup": backup, "number": number, "host": host,
                         "deleted_since": flags["deleted_since"], "newer": flags["newer"], "line": line})
            continue
        m = DELETED_RE.match(line)
        if m:
            rows.append({"n": int(m.group(1)), "name": m.group(2), "deleted": True, "backup": m.group(4),
                         "number": int(m.group(3)), "host": m.group(5), "newer": bool(m.group(6)),
                         "mode": None, "size": None, "mtime": None, "deleted_since": False, "line": line})
    return rows


def parse_backups(text):
    return [{"n": int(m.group(1)), "date": m.group(2), "host": m.group(3), "folder": m.group(4),
             "files": int(m.group(5)), "line": m.group(0)}
            for m in (BACKUP_ROW_RE.match(l) for l in text.splitlines()) if m]


def listing_date(ns):
    lt = time.localtime(ns / 1e9)
    return f"{lt.tm_mday:02d}-{MONTHS[lt.tm_mon - 1]}-{lt.tm_year:04d} {lt.tm_hour:02d}:{lt.tm_min:02d}:{lt.tm_sec:02d}"


# ---------------------------------------------------------------------------- normalising

class Normaliser:
    """Rewrites output lines so that they do not depend on the time or the temporary paths,
    keeping a map of columns (to move the caret under a bad token to match)."""

    def __init__(self, paths, hosts, today):
        # paths: placeholder -> path. Longest paths first, so {SRC} wins over {BASE}.
        tail = r"(?![\w.-])"
        pats = [(re.compile(r"SEF_\S+"), "{CONTAINER}"),
                (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}"), "{ISO}"),
                (re.compile(r"\b\d\d-(?:" + "|".join(MONTHS) + r")-\d{4} \d\d:\d\d(?::[0-5]\d)?(?![:\d])"), "{DATE}"),
                (re.compile(r"\b\d\d:\d\d:\d\d\.\d{3}\b"), "{TIME}")]
        for day in today:
            pats.append((re.compile(re.escape(day) + r"\b"), "{TODAY}"))
        for ph, p in sorted(paths.items(), key=lambda kv: -len(kv[1])):
            pats.append((re.compile(re.escape(p) + tail), "{" + ph + "}"))
        for h in hosts:
            pats.append((re.compile(r"(?<![\w-])" + re.escape(h) + r"(?![\w-])"), "{HOST}"))
        self.pats = pats

    def line(self, text):
        """Returns (normalised text, function mapping an old column to the new one)."""
        spans = []  # (start, end, replacement), non-overlapping; earlier patterns win
        for rx, rep in self.pats:
            for m in rx.finditer(text):
                if m.start() == m.end():
                    continue
                if any(m.start() < e and s < m.end() for s, e, _ in spans):
                    continue
                spans.append((m.start(), m.end(), rep))
        spans.sort()
        out, pos, moves = [], 0, []
        for s, e, rep in spans:
            out.append(text[pos:s])
            new_s = sum(len(x) for x in out)
            out.append(rep)
            moves.append((s, e, new_s, len(rep)))
            pos = e
        out.append(text[pos:])
        new = "".join(out)

        def col(c):
            shift = 0
            for s, e, new_s, n in moves:
                if c < s:
                    break
                if c < e:
                    return new_s
                shift += n - (e - s)
            return c + shift

        return new.rstrip(), col

    def lines(self, text):
        """Normalises every line; a caret line (blanks and one ^) following a line is moved
        with the line above it."""
        out = []
        prev_col = None
        for raw in text.splitlines():
            m = re.fullmatch(r"( *)\^", raw)
            if m and prev_col is not None:
                out.append(" " * prev_col(len(m.group(1))) + "^")
                prev_col = None
                continue
            new, prev_col = self.line(raw)
            out.append(new)
        return out


def check_to_regex(expected):
    """A check line -> compiled regex: literal text, {{regex}} parts as regexes."""
    parts = re.split(r"\{\{(.*?)\}\}", expected)
    rx = "".join(re.escape(p) if i % 2 == 0 else f"(?:{p})" for i, p in enumerate(parts))
    return re.compile(rx)


def match_stream(lines, checks, skippable):
    """Matches check lines against output lines in order. Lines that no check names are
    allowed only if skippable(line). Returns a list of problems (empty: good)."""
    problems = []
    i = 0
    for ln, line in enumerate(lines):
        if i < len(checks) and check_to_regex(checks[i][1]).fullmatch(line):
            i += 1
            continue
        if skippable(line):
            continue
        want = f"transcript line {checks[i][0]}: {checks[i][1]!r}" if i < len(checks) else "no more output"
        problems.append(f"output line {ln + 1} {line!r} was not expected here (next check: {want})")
        return problems
    for c in checks[i:]:
        problems.append(f"not found in the output (in order): transcript line {c[0]}: {c[1]!r}")
        break
    return problems


def is_info(line):
    return re.match(r"^\{TIME\} (INFO|DEBUG) - ", line) is not None


# ---------------------------------------------------------------------------- transcripts

class Run:
    def __init__(self, first_line):
        self.first_line = first_line
        self.commands = []   # (transcript line, text)
        self.out = []        # (transcript line, expected)
        self.err = []
        self.status = 0
        self.after = []      # (transcript line, directive words)


def parse_transcript(path):
    setup, runs = [], []
    cur = None
    with open(path) as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()

    def current(ln):
        nonlocal cur
        if cur is None:
            cur = Run(ln)
            runs.append(cur)
        return cur

    for ln, raw in enumerate(lines, 1):
        line = raw.rstrip()
        if line.startswith("#!"):
            words = line[2:].split()
            if not words:
                raise TestFailure(f"{path}:{ln}: empty directive")
            if words[0] == "setup":
                if runs:
                    raise TestFailure(f"{path}:{ln}: #! setup must come before the first command")
                setup += words[1:]
            elif words[0] == "exit":
                r = current(ln)
                r.status = int(words[1])
                cur = None
            elif words[0] in ("same-tree", "absent"):
                if len(words) != (3 if words[0] == "same-tree" else 2):
                    raise TestFailure(f"{path}:{ln}: wrong number of paths after #! {words[0]}")
                (runs[-1] if cur is None and runs else current(ln)).after.append((ln, words))
            else:
                raise TestFailure(f"{path}:{ln}: unknown directive {words[0]!r}")
        elif line.startswith("# CHECK:") or line.startswith("# CHECKERR:"):
            is_err = line.startswith("# CHECKERR:")
            text = line[len("# CHECKERR:") if is_err else len("# CHECK:"):]
            if text.startswith(" "):
                text = text[1:]
            if cur is None:
                raise TestFailure(f"{path}:{ln}: a check before any command of its run")
            (cur.err if is_err else cur.out).append((ln, text))
        elif line.startswith("#") or not line.strip():
            continue
        else:
            current(ln).commands.append((ln, line))
    return setup, runs


def make_tree(src):
    """The small fixed tree of the transcripts."""
    mkdirs(src)
    mkdirs(src, "docs")
    write(f"{src}/alpha.txt", "alpha\n", mtime_ns=T1)
    write(f"{src}/beta.txt", "beta, a longer file\n", mode=0o600, mtime_ns=T1)
    write(f"{src}/docs/notes.md", "# notes\n", mtime_ns=T1)
    os.symlink("alpha.txt", f"{src}/link")
    set_mtime(f"{src}/link", T1)
    set_mtime(f"{src}/docs", T1)
    set_mtime(src, T1)


def run_transcript(world, name):
    path = os.path.join(TRANSCRIPTS, name + ".txt")
    setup, runs = parse_transcript(path)
    check(runs, f"{path}: no commands")
    today = f"{time.localtime().tm_mday:02d}-{MONTHS[time.localtime().tm_mon - 1]}-{time.localtime().tm_year}"
    paths = {
        "SRC": os.path.join(world.base, "src"),
        "SPACED": os.path.join(world.base, "my documents"),
        "TARGET": os.path.join(world.base, "target"),
        "STORE": world.store,
        "HOME": world.home,
        "BASE": world.base,
    }
    subst = dict(paths, TODAY=today, HOST=HOST)
    norm = Normaliser(paths, [HOST], [today])

    def fill(text):
        return re.sub(r"\{([A-Z]+)\}", lambda m: subst.get(m.group(1), m.group(0)), text)

    world.set_store()
    for word in setup:
        if word == "tree":
            make_tree(paths["SRC"])
        elif word == "spaced":
            mkdirs(paths["SPACED"])
            write(os.path.join(paths["SPACED"], "letter one.txt"), "Dear reader,\n", mtime_ns=T2)
            set_mtime(paths["SPACED"], T2)
        elif word == "backup":
            world.backup(paths["SRC"])
        else:
            raise TestFailure(f"{path}: unknown setup word {word!r}")

    for run in runs:
        script = "".join(fill(c) + "\n" for _, c in run.commands)
        r = world.run(input=script, rc=None)
        out = norm.lines(r.out)
        err = norm.lines(r.err)
        problems = []
        if r.rc != run.status:
            problems.append(f"exit status {r.rc}, expected {run.status}")
        problems += ["stdout: " + p for p in match_stream(out, run.out, is_info)]
        problems += ["stderr: " + p for p in match_stream(err, run.err, lambda l: False)]
        if problems:
            raise TestFailure(
                f"{os.path.relpath(path)}, the run starting at line {run.first_line}:\n  " + "\n  ".join(problems) +
                "\n--- input ---\n" + "".join(f"{ln}: {c}\n" for ln, c in run.commands) +
                "--- normalised stdout ---\n" + clip("\n".join(out), 6000) +
                "\n--- normalised stderr ---\n" + clip("\n".join(err), 3000))
        for ln, words in run.after:
            if words[0] == "same-tree":
                a, b = fill(words[1]), fill(words[2])
                compare_trees(snapshot(b), snapshot(a), f"{os.path.relpath(path)}:{ln}: {a} against {b}")
            elif words[0] == "absent":
                check(not os.path.lexists(fill(words[1])),
                      f"{os.path.relpath(path)}:{ln}: {fill(words[1])} exists (it should not)")


def transcript_names():
    if not os.path.isdir(TRANSCRIPTS):
        return []
    return sorted(f[:-4] for f in os.listdir(TRANSCRIPTS) if f.endswith(".txt"))


def register_transcripts():
    for n in transcript_names():
        TESTS["transcript_" + n] = (lambda n: lambda world: run_transcript(world, n))(n)


# ---------------------------------------------------------------------------- a terminal

class Screen:
    """Just enough of a terminal to know what a line shows after libedit redraws it:
    text, CR, LF, BS, and the CSI sequences for moving along a line and erasing."""

    def __init__(self):
        self.lines = [[]]
        self.row = 0
        self.col = 0

    def _put(self, ch):
        line = self.lines[self.row]
        while len(line) < self.col:
            line.append(" ")
        if self.col < len(line):
            line[self.col] = ch
        else:
            line.append(ch)
        self.col += 1

    def feed(self, text):
        i = 0
        while i < len(text):
            ch = text[i]
            if ch == "\x1b":
                m = re.match(r"\x1b\[([?>]?)([\d;]*)([@-~])", text[i:])
                if m:
                    i += m.end()
                    self._csi(m.group(1), m.group(2), m.group(3))
                    continue
                m = re.match(r"\x1b\][^\x07]*(\x07|\x1b\\)", text[i:])  # OSC
                i += m.end() if m else 2
                continue
            i += 1
            if ch == "\r":
                self.col = 0
            elif ch == "\n":
                self.row += 1
                if self.row == len(self.lines):
                    self.lines.append([])
            elif ch == "\b":
                self.col = max(0, self.col - 1)
            elif ch == "\x07" or ord(ch) < 32:
                pass
            else:
                self._put(ch)

    def _csi(self, private, params, final):
        if private:
            return
        nums = [int(p) if p else 0 for p in params.split(";")] if params else []
        n = nums[0] if nums else 0
        line = self.lines[self.row]
        if final == "K":
            if n == 0:
                del line[self.col:]
            elif n == 1:
                for k in range(min(self.col + 1, len(line))):
                    line[k] = " "
            else:
                line.clear()
        elif final == "G":
            self.col = max(0, (n or 1) - 1)
        elif final == "C":
            self.col += n or 1
        elif final == "D":
            self.col = max(0, self.col - (n or 1))
        elif final == "A":
            self.row = max(0, self.row - (n or 1))
        elif final == "B":
            self.row += n or 1
            while self.row >= len(self.lines):
                self.lines.append([])
        elif final == "J":
            del line[self.col:]
            del self.lines[self.row + 1:]
        elif final == "P":
            del line[self.col:self.col + (n or 1)]
        elif final == "@":
            for _ in range(n or 1):
                line.insert(self.col, " ")

    def current(self):
        return "".join(self.lines[self.row])

    def text(self):
        return "\n".join("".join(l) for l in self.lines)


class Terminal:
    """Seshat on a pseudo-terminal: send keys, wait for output with a deadline."""

    def __init__(self, world, rows=50, cols=200):
        self.world = world
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        env = dict(world.env, TERM="xterm", COLUMNS=str(cols), LINES=str(rows))
        pid = os.fork()
        if pid == 0:  # the child: a session of its own with the terminal as controlling tty
            try:
                os.setsid()
                fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
                for fd in (0, 1, 2):
                    os.dup2(slave, fd)
                os.close(master)
                if slave > 2:
                    os.close(slave)
                os.chdir(world.base)
                os.execve(BINARY, [BINARY], env)
            finally:
                os._exit(127)
        self.slave_path = os.ttyname(slave)
        os.close(slave)
        world.children.append(pid)
        self.pid, self.fd = pid, master
        self.raw = ""          # everything received
        self.mark = 0          # where the output of the last send() starts
        self.screen = Screen()
        self.status = None
        self.eof = False

    def _read(self, until):
        """Reads what is there until `until` (a monotonic time). Returns False at EOF."""
        while not self.eof:
            left = until - time.monotonic()
            if left <= 0:
                return True
            r, _, _ = select.select([self.fd], [], [], min(left, 0.2))
            if not r:
                continue
            try:
                data = os.read(self.fd, 65536)
            except OSError:  # EIO: the child has gone and closed its side
                data = b""
            if not data:
                self.eof = True
                return False
            text = data.decode(errors="replace")
            self.raw += text
            self.screen.feed(text)
            return True
        return False

    def canonical(self):
        """Is the terminal in canonical (cooked) mode? libedit turns that off while it edits a
        line, and on again while a command runs."""
        fd = os.open(self.slave_path, os.O_RDWR | os.O_NOCTTY)
        try:
            return bool(termios.tcgetattr(fd)[3] & termios.ICANON)
        finally:
            os.close(fd)

    def send(self, keys, editing=True):
        """Types keys. editing: the keys are for libedit, so wait until it has the terminal in
        raw mode (it prints the prompt first: keys typed before that would be handled by the
        kernel's line discipline, which eats ^D and echoes). editing=False: an answer to a
        question that seshat reads itself, in cooked mode."""
        deadline = time.monotonic() + EXPECT_TIMEOUT
        while editing and self.canonical():
            if time.monotonic() >= deadline:
                raise TestFailure(f"the terminal did not leave canonical mode for line editing within "
                                  f"{EXPECT_TIMEOUT:.0f} s\n--- the session ---\n{clip(self.transcript(), 3000)}")
            self._read(time.monotonic() + 0.02)
        self.mark = len(self.raw)
        os.write(self.fd, keys.encode())

    def since(self):
        return self.raw[self.mark:]

    def expect(self, pattern, what, timeout=EXPECT_TIMEOUT):
        """Waits until the output since the last send() matches the regex; returns the match."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.since())
            if m:
                return m
            if self.eof or time.monotonic() >= deadline:
                raise TestFailure(f"{what}: waited {timeout:.0f} s for {pattern!r}"
                                  f"{' (the program ended)' if self.eof else ''}\n--- output since the keys were sent ---\n"
                                  f"{clip(repr(self.since()), 3000)}\n--- the whole session ---\n{clip(self.transcript(), 4000)}")
            self._read(min(deadline, time.monotonic() + 0.2))

    def expect_line(self, text, what, timeout=EXPECT_TIMEOUT):
        """Waits until the line the cursor is on shows exactly `text`."""
        deadline = time.monotonic() + timeout
        while self.screen.current() != text:
            if self.eof or time.monotonic() >= deadline:
                raise TestFailure(f"{what}: the line shows {self.screen.current()!r}, expected {text!r} "
                                  f"(waited {timeout:.0f} s)\n--- received since the keys were sent ---\n"
                                  f"{clip(repr(self.since()), 2000)}")
            self._read(min(deadline, time.monotonic() + 0.1))

    def settle(self, quiet=0.3, timeout=EXPECT_TIMEOUT):
        """Reads until nothing has arrived for `quiet` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.eof:
            n = len(self.raw)
            self._read(time.monotonic() + quiet)
            if len(self.raw) == n:
                return

    def wait_exit(self, timeout=EXPECT_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, st = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.world.children.remove(self.pid)
                self.status = os.waitstatus_to_exitcode(st)
                self._read(time.monotonic() + 0.1)
                return self.status
            self._read(min(deadline, time.monotonic() + 0.1))
        raise TestFailure(f"seshat did not exit within {timeout:.0f} s\n--- the session ---\n{clip(self.transcript(), 4000)}")

    def transcript(self):
        return self.screen.text()

    def close(self):
        if self.pid in self.world.children:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(self.pid, 0)
            self.world.children.remove(self.pid)
        try:
            os.close(self.fd)
        except OSError:
            pass


PROMPT = "Seshat> "


def decode_history(text):
    """libedit's history file: a _HiStOrY_V2_ line, then entries with blanks as \\040."""
    lines = text.splitlines()
    if lines and lines[0].startswith("_HiStOrY_V2_"):
        lines = lines[1:]
    return [re.sub(r"\\(\d{3})", lambda m: chr(int(m.group(1), 8)), l) for l in lines]


# ---------------------------------------------------------------------------- tests

@test
def interactive_session(world):
    src = mkdirs(world.base, "src")
    write(f"{src}/a.txt", "a\n")
    world.set_store()
    world.backup(src)

    t = Terminal(world)
    try:
        t.expect(r"SESHAT started\. Version", "the start-up line")
        t.expect(r"Seshat> $", "the first prompt")

        # An incomplete command continues on the next line under a longer prompt.
        t.send("SELECT\r")
        t.expect(r"Seshat SELECT> $", "the prompt after SELECT alone")
        t.send("RESET\r")
        t.expect(r"INFO - Selections reset\r\n", "SELECT <Enter> RESET")
        t.expect(r"Seshat> $", "the prompt after SELECT RESET")

        # A typed argument is carried over too (the prompt shows only the keywords).
        t.send("SET MAX 16\r")
        t.expect(r"Seshat SET MAX> $", "the prompt after SET MAX 16")
        t.send("MB\r")
        t.expect(r"INFO - Max container size is 16 MB\r\n[\s\S]*Seshat> $", "SET MAX 16 <Enter> MB")

        # A bad word on a continuation line: the caret is under it in that line; the pending
        # command is dropped.
        t.send("SELECT\r")
        t.expect(r"Seshat SELECT> $", "the prompt after SELECT alone (again)")
        t.send("FROB\r")
        t.expect(r"  FROB\r\n  \^\r\n[\d:.]+ ERROR - 'FROB' is not valid here; expected BACKUP, FOLDER, HOST, RESET\r\n"
                 r"Seshat> $", "a bad word on the continuation line")

        # ? on a continuation line lists what may follow the pending words and stays at that
        # prompt; TAB there completes the words valid after them.
        t.send("RESTORE ADD\r")
        t.expect(r"Seshat RESTORE ADD> $", "the prompt after RESTORE ADD")
        t.send("?\r")
        m = t.expect(r"([\s\S]*)Seshat RESTORE ADD> $", "? on the continuation line (the prompt stays)")
        for word in ("FILE", "FOLDER", "TREE"):
            check(re.search(rf"^  {word} ", m.group(1), re.M), f"? after RESTORE ADD did not list {word}\n{m.group(1)!r}")
        t.send("FI\t")
        t.expect_line("Seshat RESTORE ADD> FILE ", "TAB at the continuation prompt")
        t.send("RESET\r")
        t.expect(r"INFO - Restore selections reset\r\n[\s\S]*Seshat> $", "RESTORE ADD <Enter> ? <Enter> FILE RESET")

        # TAB keeps the user's case, and completes directory names after BACKUP.
        t.send("list ho\t")
        t.expect_line("Seshat> list hosts ", "TAB after lower-case words")
        t.send("\x15")
        t.expect_line("Seshat> ", "Ctrl-U after list hosts")
        os.makedirs(os.path.join(world.base, "completion_target_dir"))
        t.send(f"BACKUP {world.base}/completion_tar\t")
        t.expect_line(f"Seshat> BACKUP {world.base}/completion_target_dir/", "TAB completing a directory name")
        t.send("\x15")
        t.expect_line("Seshat> ", "Ctrl-U after the directory name")
        os.makedirs(os.path.join(world.base, "completion_sp ace"))
        t.send(f"BACKUP {world.base}/completion_sp\t")
        t.expect_line(f'Seshat> BACKUP "{world.base}/completion_sp ace/" ', "TAB quoting a name with a blank")
        t.send("\x15")
        t.expect_line("Seshat> ", "Ctrl-U after the quoted name")

        # ? then an empty line: the command that could have run does not; the prompt is back.
        t.send("CD ?\r")
        t.expect(r"Seshat CD> $", "CD ? (the prompt waits)")
        t.send("\r")
        m = t.expect(r"([\s\S]*)Seshat> $", "an empty line after CD ?")
        check("(no folder selected)" not in m.group(1) and "Now at" not in m.group(1),
              f"an empty line after CD ? ran CD\n{m.group(1)!r}")

        # ? after a word lists the choices.
        t.send("LIST ?\r")
        m = t.expect(r"([\s\S]*)Seshat LIST> $", "LIST ? (the prompt waits for what follows LIST)")
        for word in ("BACKUPS", "FILES", "TREE", "VERSIONS", "HOSTS", "<Integer>"):
            check(re.search(rf"^  {re.escape(word)} ", m.group(1), re.M), f"LIST ? did not list {word}\n{m.group(1)!r}")
        t.send("HOSTS\r")
        t.expect(r"   1  shell-host +1 folder\r\n[\s\S]*Seshat> $", "LIST ? <Enter> HOSTS")

        # TAB completes a keyword in the line being edited.
        t.send("GRAM")
        t.expect(r"GRAM$", "the echo of GRAM")
        t.send("\t")
        t.expect_line("Seshat> GRAMMAR ", "GRAM and TAB")
        t.send("CHE\t")
        t.expect_line("Seshat> GRAMMAR CHECK ", "GRAMMAR CHE and TAB")
        t.send("\r")
        t.expect(r"INFO - Grammar check passed\r\n[\s\S]*Seshat> $", "the completed GRAMMAR CHECK")

        # TAB with several choices completes what they share, then lists them and keeps the line.
        t.send("LIST DI\t")
        t.expect_line("Seshat> LIST DIR", "TAB after LIST DI completing what DIRECTORIES and DIRS share")
        t.send("\t")
        t.expect(r"DIRECTORIES  DIRS  ", "TAB after LIST DIR listing DIRECTORIES and DIRS")
        t.expect_line("Seshat> LIST DIR", "the line after TAB listed the choices")
        t.send("\x15")  # Ctrl-U: kill the line
        t.expect_line("Seshat> ", "Ctrl-U")
        t.send("\r")  # an empty line: nothing happens, the prompt comes back
        t.expect(r"Seshat> $", "the prompt after an empty line")

        # A bad command: the line, the caret under the bad word, the error; the shell goes on.
        t.send("LIST BACKUPS FROBNICATE\r")
        m = t.expect(r"\r\n  LIST BACKUPS FROBNICATE\r\n {15}\^\r\n\d\d:\d\d:\d\d\.\d{3} ERROR - unknown command "
                     r"'FROBNICATE' \(HELP lists the commands\)\r\n", "the caret under FROBNICATE")
        check("1  " in t.since()[:m.start()], f"LIST BACKUPS before the bad word did not run: {t.since()!r}")
        t.expect(r"Seshat> $", "the prompt after an error")
        t.send("SE\r")
        t.expect(r"  SE\r\n  \^\r\n[\d:.]+ ERROR - 'SE' is ambiguous here: it could be SEARCH, SELECT, SET\r\n",
                 "the ambiguous SE")
        t.expect(r"Seshat> $", "the prompt after SE")
        t.send('BACKUP "/no/end\r')
        t.expect(r'  BACKUP "/no/end\r\n         \^\r\n[\d:.]+ ERROR - unterminated quote\r\n', "an unterminated quote")
        t.expect(r"Seshat> $", "the prompt after the unterminated quote")

        # History: Up recalls the last command, Enter runs it again.
        t.send("LIST HOSTS\r")
        t.expect(r"   1  shell-host +1 folder\r\n[\s\S]*Seshat> $", "LIST HOSTS")
        t.send("\x1b[A")
        t.expect_line("Seshat> LIST HOSTS", "Up after LIST HOSTS")
        t.send("\r")
        t.expect(r"   1  shell-host +1 folder\r\n[\s\S]*Seshat> $", "LIST HOSTS recalled with Up")
        # Up three times: past the two LIST HOSTS (the recalled one is history too) to the line before.
        t.send("\x1b[A\x1b[A\x1b[A")
        t.expect_line('Seshat> BACKUP "/no/end', "Up three times (past the two LIST HOSTS)")
        t.send("\x15\r")
        t.expect(r"Seshat> $", "the prompt after discarding the recalled line")

        # DB RESET asks on the terminal; a wrong answer changes nothing.
        before = dir_listing(world.store)
        t.send("DB RESET\r")
        t.expect(rf"Type {re.escape(world.store)} to go on: $", "the DB RESET question")
        t.send("no\r", editing=False)
        t.expect(r"ERROR - not confirmed; nothing was changed\r\n[\s\S]*Seshat> $", "DB RESET answered no")
        check(dir_listing(world.store) == before, "DB RESET answered with a wrong name changed the store")

        t.send("EXIT\r")
        rc = t.wait_exit()
        check(rc == 0, f"EXIT ended seshat with status {rc}\n{clip(t.transcript())}")
    finally:
        t.close()

    hist_path = os.path.join(world.home, ".seshat", "history")
    check(os.path.exists(hist_path), f"no history file {hist_path} after an interactive session")
    with open(hist_path) as f:
        hist = decode_history(f.read())
    want = ["SELECT", "RESET", "SET MAX 16", "MB", "SELECT", "FROB", "RESTORE ADD", "?", "LIST ?", "GRAMMAR CHECK", "LIST BACKUPS FROBNICATE", "SE",
            'BACKUP "/no/end', "LIST HOSTS", "LIST HOSTS", "DB RESET", "EXIT"]
    pos, missing = 0, None
    stripped = [h.rstrip() for h in hist]  # TAB completion leaves a blank after the word
    for w in want:
        if w not in stripped[pos:]:
            missing = w
            break
        pos = stripped.index(w, pos) + 1
    check(missing is None, f"the history file lacks {missing!r} (in order {want}); it holds {hist}")

    # The next session starts with that history: Up recalls EXIT, the last command.
    t = Terminal(world)
    try:
        t.expect(r"Seshat> $", "the prompt of the second session")
        t.send("\x1b[A")
        t.expect_line("Seshat> EXIT", "Up in a new session (the last command of the previous one)")
        t.send("\r")
        rc = t.wait_exit()
        check(rc == 0, f"EXIT recalled from the history ended with status {rc}")
    finally:
        t.close()

    # End of input (Ctrl-D on an empty line) ends the session too, with status 0.
    t = Terminal(world)
    try:
        t.expect(r"Seshat> $", "the prompt of the third session")
        t.send("\x04")
        rc = t.wait_exit()
        check(rc == 0, f"Ctrl-D ended seshat with status {rc}")
    finally:
        t.close()


@test
def interactive_typo_keeps_restore_setup(world):
    """A mistyped word after RESTORE must be an error that changes nothing. (Bug: bare
    RESTORE, a complete command that resets the restore setup, runs first; the target falls
    back to ORIGINAL, and a RESTORE ADD TREE / RESTORE GO typed next restores over the
    original files instead of into the chosen directory.)"""
    src = mkdirs(world.base, "src")
    write(f"{src}/a.txt", "a\n")
    world.set_store()
    world.backup(src)
    kept = os.path.join(world.base, "kept")
    t = Terminal(world)
    try:
        t.expect(r"Seshat> $", "the first prompt")
        for line, reply in ((f"RESTORE TARGET {kept}", f"Restore target is: {kept}"),
                            (f"SELECT FOLDER {src}", "Selected folder"),
                            ("RESTORE ADD TREE", "Added the tree"),
                            ("RESTORE TIMESTAMP 01-Jan-2030 10:00", "Restore timestamp is: 01-Jan-2030 10:00")):
            t.send(line + "\r")
            t.expect(re.escape(reply) + r"[^\n]*\r\n[\s\S]*Seshat> $", line)
        t.send("RESTORE TARGT /tmp/elsewhere\r")
        m = t.expect(r"([\s\S]*)Seshat> $", "RESTORE TARGT (a typo)")
        typo_output = m.group(1)
        check("ERROR - " in typo_output, f"RESTORE TARGT printed no ERROR: {typo_output!r}")
        t.send("SHOW CONFIG\r")
        m = t.expect(r"Restore target: +(\S+)\r\n[\s\S]*Seshat> $", "SHOW CONFIG after the typo")
        target_after = m.group(1)
        t.send("LIST SELECTED\r")
        m = t.expect(r"([\s\S]*)Seshat> $", "LIST SELECTED after the typo")
        selected_after = m.group(1)
        t.send("EXIT\r")
        t.wait_exit()
    finally:
        t.close()
    problems = []
    if "Restore setup reset" in typo_output:
        problems.append("the typo ran bare RESTORE first ('Restore setup reset')")
    if "'TARGT' is not valid here; expected ADD, BAREMETAL, GO, TARGET, TIMESTAMP" not in typo_output:
        problems.append("the error does not say what may follow RESTORE "
                        "(expected \"'TARGT' is not valid here; expected ADD, BAREMETAL, GO, TARGET, TIMESTAMP\")")
    if target_after != kept:
        problems.append(f"SHOW CONFIG shows the restore target {target_after!r}, expected {kept!r} (unchanged)")
    if not re.search(rf"^ +1  tree +{re.escape(src)}\r?$", selected_after, re.M):
        problems.append("LIST SELECTED no longer shows the tree added before the typo")
    check(not problems, "after the typo 'RESTORE TARGT /tmp/elsewhere':\n  " + "\n  ".join(problems) +
          f"\n--- what the typo printed ---\n{typo_output.replace(chr(13), '')}"
          f"\n--- LIST SELECTED ---\n{selected_after.replace(chr(13), '')}")


@test
def interactive_tab_inside_quotes(world):
    """TAB while a quoted word is open must not change the line (there is nothing to complete
    inside a quoted path). (Bug: the tokenizer fails on the open quote, completion then works
    on the word before it, finds it complete and appends a blank: the blank lands inside the
    quoted path.)"""
    t = Terminal(world)
    try:
        t.expect(r"Seshat> $", "the first prompt")
        results = []
        for typed in ('BACKUP "/tmp/My', 'SELECT FOLDER "/home/me/Pho'):
            t.send(typed)
            t.expect_line("Seshat> " + typed, "the typed line")
            t.send("\t")
            t.settle()  # whatever TAB does, it does at once
            results.append((typed, t.screen.current()))
            t.send("\x15")  # Ctrl-U: drop the line
            t.expect_line("Seshat> ", "Ctrl-U")
        t.send("EXIT\r")
        t.wait_exit()
    finally:
        t.close()
    bad = [f"{typed!r} + TAB -> the line shows {shown!r}, expected {('Seshat> ' + typed)!r}"
           for typed, shown in results if shown != "Seshat> " + typed]
    check(not bad, "TAB inside an open quote changed the line:\n  " + "\n  ".join(bad))


@test
def interactive_confirmations(world):
    """Interactively, RESTORE GO asks before overwriting files and DB RESET asks for the store's
    name; only the expected answer goes on."""
    src = mkdirs(world.base, "src")
    write(f"{src}/a.txt", "original\n", mtime_ns=T1)
    world.set_store()
    world.backup(src)
    target = world.new_target("target")
    t = Terminal(world)
    try:
        t.expect(r"Seshat> $", "the first prompt")
        setup = f"SELECT FOLDER {src} RESTORE ADD TREE RESTORE TARGET {target}"
        t.send(setup + "\r")
        t.expect(r"Restore target is: [^\n]*\r\n[\s\S]*Seshat> $", "the restore setup")
        t.send("RESTORE GO\r")  # nothing at the target yet: no question
        t.expect(r"Restore complete: 1 file [^\n]*\r\n[\s\S]*Seshat> $", "the first RESTORE GO")
        got = target + src + "/a.txt"
        check(read_bytes(got) == b"original\n", "the first RESTORE GO did not restore a.txt")
        write(got, "changed at the target\n")

        t.send("RESTORE GO\r")
        t.expect(r"1 file at the target differs from the backup and will be overwritten\r\nType yes to go on: $",
                 "the overwrite question")
        t.send("no\r", editing=False)
        t.expect(r"ERROR - not confirmed; nothing was changed\r\n[\s\S]*Seshat> $", "the overwrite refused")
        check(read_bytes(got) == b"changed at the target\n", "RESTORE GO answered 'no' overwrote the file")

        t.send("RESTORE GO\r")
        t.expect(r"Type yes to go on: $", "the overwrite question again")
        t.send("yes\r", editing=False)
        t.expect(r"Restore complete: 1 file [^\n]*\r\n[\s\S]*Seshat> $", "the overwrite confirmed")
        check(read_bytes(got) == b"original\n", "RESTORE GO answered 'yes' did not overwrite the file")

        t.send("DB RESET\r")
        t.expect(rf"DB RESET forgets every backup in LOCAL {re.escape(world.store)} \(DO NOT DO THIS unless you mean it\)"
                 rf"\r\nType {re.escape(world.store)} to go on: $", "the DB RESET question")
        t.send(world.store + "\r", editing=False)
        t.expect(r"INFO - DB reset: generation \d+ is empty[^\n]*\r\n[\s\S]*Seshat> $", "DB RESET confirmed")
        t.send("LIST BACKUPS\r")
        t.expect(r"LIST BACKUPS\r\n  \(none\)\r\nSeshat> $", "LIST BACKUPS after DB RESET")
        t.send("EXIT\r")
        check(t.wait_exit() == 0, "EXIT did not end with status 0")
    finally:
        t.close()
    r = world.cmd("LIST", "BACKUPS")
    check(parse_backups(r.out) == [], f"a new process still sees backups after the confirmed DB RESET\n{r.summary()}")


def story_trees(world):
    projects = mkdirs(world.base, "projects")
    reports = mkdirs(projects, "reports")
    photos = mkdirs(world.base, "photos")
    return projects, reports, photos


@test
def find_and_restore_story(world):
    projects, reports, photos = story_trees(world)
    plan = f"{reports}/plan.txt"
    v1 = b"plan, first version\n"
    v2 = b"plan, second version: longer than the first\n"
    write(plan, v1, mtime_ns=T1)
    write(f"{reports}/summary.txt", "summary\n", mtime_ns=T1)
    write(f"{projects}/readme.md", "read me\n", mtime_ns=T1)
    write(f"{photos}/cat.jpg", os.urandom(3000), mtime_ns=T1)
    world.set_store()

    # Three backups of both folders; plan.txt changes, then is deleted.
    world.backup(projects)
    world.backup(photos)
    end = time.time()
    sleep_past_second(end)
    write(plan, v2, mtime_ns=T2)
    write(f"{photos}/dog.jpg", os.urandom(2000), mtime_ns=T2)
    world.backup(projects)
    world.backup(photos)
    end = time.time()
    sleep_past_second(end)
    os.unlink(plan)
    write(f"{projects}/readme.md", "read me, again\n", mtime_ns=T3)
    world.backup(projects)
    world.backup(photos)

    r = world.cmd("LIST", "BACKUPS")
    rows = parse_backups(r.out)
    check([b["folder"] for b in rows] == [projects, photos] * 3,
          f"LIST BACKUPS should show 6 backups, projects and photos alternately\n{r.summary()}")

    # SEARCH finds both versions of the deleted file, each marked "(deleted since)".
    r = world.cmd("SEARCH", "CONTAINS", "PLAN")
    found = parse_rows(r.out)
    check(len(found) == 2 and all(f["name"] == plan for f in found),
          f"SEARCH CONTAINS PLAN should list the two versions of {plan}\n{r.summary()}")
    check(all(f["deleted_since"] for f in found), f"SEARCH rows of a deleted file lack '(deleted since)'\n{r.summary()}")
    check([f["size"] for f in found] == [f"{len(v2)} B", f"{len(v1)} B"],
          f"SEARCH should list the newest version first ({len(v2)} B, then {len(v1)} B)\n{r.summary()}")
    check([f["mtime"] for f in found] == [listing_date(T2), listing_date(T1)],
          f"SEARCH rows should show the files' mtimes\n{r.summary()}")
    r = world.cmd("SEARCH", "CONTAINS", "summary")
    found = parse_rows(r.out)
    check(len(found) == 1 and not found[0]["deleted_since"],
          f"SEARCH CONTAINS summary: one version, not deleted\n{r.summary()}")
    r = world.cmd("SEARCH", "REGEX", r"\.jpg$")
    names = sorted(f["name"] for f in parse_rows(r.out))
    check(names == [f"{photos}/cat.jpg", f"{photos}/dog.jpg"], f"SEARCH REGEX \\.jpg$ found {names}\n{r.summary()}")

    # LIST VERSIONS in the folder of the file: the deletion, then the two versions.
    listing = ["SELECT", "FOLDER", projects, "CD", "reports", "LIST", "VERSIONS"]
    r = world.cmd(*listing)
    vrows = parse_rows(r.out)
    plan_rows = [v for v in vrows if v["name"] == plan]
    check(len(plan_rows) == 3 and plan_rows[0]["deleted"] and not plan_rows[1]["deleted"],
          f"LIST VERSIONS in reports should show the deletion of plan.txt and its two versions\n{r.summary()}")
    check(plan_rows[1]["mtime"] == listing_date(T2) and plan_rows[2]["mtime"] == listing_date(T1),
          f"LIST VERSIONS rows of plan.txt out of order\n{r.summary()}")
    check(all(v["backup"] for v in plan_rows[1:]), f"LIST VERSIONS rows lack 'backup <date>'\n{r.summary()}")
    summary_rows = [v for v in vrows if v["name"] == f"{reports}/summary.txt"]
    check(len(summary_rows) == 1, f"LIST VERSIONS should show summary.txt once (never changed)\n{r.summary()}")
    oldest = plan_rows[2]["n"]

    # RESTORE ADD FILE of a deletion row is refused.
    r = world.cmd(*listing, "RESTORE", "ADD", "FILE", str(plan_rows[0]["n"]), rc=1)
    check(any(f"row {plan_rows[0]['n']} is a deletion" in e for e in r.errors()),
          f"RESTORE ADD FILE of the deletion row: expected 'is a deletion'\n{r.summary()}")

    # Restore the oldest version.
    target = world.new_target("oldest")
    r = world.cmd(*listing, "RESTORE", "ADD", "FILE", str(oldest), "LIST", "SELECTED",
                  "RESTORE", "TARGET", target, "RESTORE", "GO")
    check(re.search(rf"^ +1  file +{re.escape(plan)}  \(version of backup #\d+ \d\d-\w{{3}}-\d{{4}} \d\d:\d\d:\d\d\)$", r.out, re.M),
          f"LIST SELECTED should show the picked version of plan.txt\n{r.summary()}")
    got = target + plan
    check(os.path.isfile(got), f"RESTORE GO did not bring back {got}\n{r.summary()}")
    check(read_bytes(got) == v1, f"restored plan.txt holds {read_bytes(got)!r}, expected the first version {v1!r}")
    check(os.stat(got).st_mtime_ns == T1, "the restored plan.txt lacks its mtime")
    rest = [os.path.relpath(os.path.join(d, f), target) for d, _, fs in os.walk(target) for f in fs]
    check(rest == [os.path.relpath(got, target)], f"RESTORE ADD FILE restored more than the file: {rest}")

    # The other way to a version: LIST FILES of an older backup, CD <n> into the folder, CD <n>
    # on the file, LIST VERSIONS of that file only.
    r = world.cmd("LIST", "BACKUPS")
    second = [b for b in parse_backups(r.out) if b["folder"] == projects][1]["n"]
    walk = ["SELECT", "BACKUP", str(second), "LIST", "FILES"]
    r = world.cmd(*walk)
    files = parse_rows(r.out)
    names = [f["name"] for f in files]
    check(names == ["readme.md", "reports/"], f"LIST FILES of the second backup of projects shows {names}\n{r.summary()}")
    walk += ["CD", str(names.index("reports/") + 1), "LIST", "FILES"]
    r = world.cmd(*walk)
    files = parse_rows(r.out[r.out.index("INFO - Now at"):])
    names = [f["name"] for f in files]
    check(names == ["plan.txt", "summary.txt"],
          f"LIST FILES in reports of the second backup shows {names} (plan.txt existed then)\n{r.summary()}")
    check(files[0]["size"] == f"{len(v2)} B", f"plan.txt of the second backup should be the second version\n{r.summary()}")
    walk += ["CD", "1", "LIST", "VERSIONS"]
    r = world.cmd(*walk)
    check(f"INFO - Now at {plan}\n" in r.out, f"CD 1 on the file row should pick {plan}\n{r.summary()}")
    vrows = parse_rows(r.out[r.out.index(f"Now at {plan}\n"):])
    check(len(vrows) == 3 and all(v["name"] == plan for v in vrows),
          f"LIST VERSIONS after CD <n> on plan.txt should show its three rows only\n{r.summary()}")
    target = world.new_target("second")
    r = world.cmd(*walk, "RESTORE", "ADD", "FILE", "2", "RESTORE", "TARGET", target, "RESTORE", "GO")
    check(read_bytes(target + plan) == v2, f"RESTORE ADD FILE 2 after CD 1 should restore the second version\n{r.summary()}")

    # CD and LIST TREE walk the tree.
    r = world.cmd("SELECT", "FOLDER", projects, "LIST", "TREE", "CD", "reports", "CD", "CD", "..", "CD", "CD", "reports",
                  "CD", "/", "CD")
    tree = [(row["name"], row["mode"][0]) for row in parse_rows(r.out)]
    check(tree == [("readme.md", "-"), ("reports/", "d"), ("  summary.txt", "-")],
          f"LIST TREE of the newest backup of projects shows {tree}\n{r.summary()}")
    cds = [l for l in r.out.splitlines() if l.startswith("/") or "Now at" in l]
    want_cds = [f"Now at {reports}", reports, f"Now at {projects}", projects, f"Now at {reports}", f"Now at {projects}",
                projects]
    check([c.split(" - ")[-1] for c in cds] == want_cds, f"CD moves: {cds}\nexpected {want_cds}\n{r.summary()}")
    r = world.cmd("SELECT", "BACKUP", str(second), "LIST", "TREE")
    tree = [row["name"] for row in parse_rows(r.out)]
    check(tree == ["readme.md", "reports/", "  plan.txt", "  summary.txt"],
          f"LIST TREE of the second backup of projects shows {tree}\n{r.summary()}")
    r = world.cmd("SELECT", "FOLDER", projects, "CD", "nosuch", rc=1)
    check(any("no folder nosuch in" in e for e in r.errors()), f"CD nosuch: expected 'no folder nosuch'\n{r.summary()}")


@test
def baremetal_other_host(world):
    a = mkdirs(world.base, "hostA-etc")
    b = mkdirs(world.base, "hostA-home")
    c = mkdirs(world.base, "hostB-data")
    mkdirs(b, "user")
    write(f"{a}/hosts", "127.0.0.1 localhost\n", mtime_ns=T1)
    write(f"{a}/fstab", "# none\n", mode=0o600, mtime_ns=T1)
    write(f"{b}/user/todo.txt", "1. test\n", mtime_ns=T1)
    os.symlink("user/todo.txt", f"{b}/todo")
    write(f"{c}/b.txt", "host B's own\n", mtime_ns=T1)
    for p in (f"{b}/user", a, b, c):
        set_mtime(p, T1)
    world.set_store()
    world.backup(a, host="hostA")
    world.backup(b, host="hostA")
    world.backup(c, host="hostB")
    snap_a1, snap_b1 = snapshot(a), snapshot(b)
    end = time.time()
    between = int(end)  # the whole second `between` is after the first backups, before the second
    sleep_past_second(end)
    write(f"{a}/hosts", "127.0.0.1 localhost\n10.0.0.1 server\n", mtime_ns=T2)
    os.unlink(f"{a}/fstab")
    write(f"{b}/user/new.txt", "new\n", mtime_ns=T2)
    set_mtime(a, T2)
    set_mtime(f"{b}/user", T2)
    world.backup(a, host="hostA")
    world.backup(b, host="hostA")
    snap_a2, snap_b2 = snapshot(a), snapshot(b)

    r = world.cmd("LIST", "HOSTS", host="hostB")
    check(re.search(r"^ +\d+  hostA +2 folders$", r.out, re.M) and re.search(r"^ +\d+  hostB +1 folder$", r.out, re.M),
          f"LIST HOSTS should show hostA with 2 folders and hostB with 1\n{r.summary()}")

    # BAREMETAL without SELECT HOST means this host (hostC has no backups): a clear error.
    r = world.cmd("RESTORE", "BAREMETAL", host="hostC", rc=1)
    check(any("host hostC has no backups; SELECT HOST first" in e for e in r.errors()),
          f"RESTORE BAREMETAL for a host without backups\n{r.summary()}")

    # From hostB, the state of hostA at the timestamp between the backups.
    t = world.new_target("bare1")
    r = world.cmd("SELECT", "HOST", "hostA", "RESTORE", "BAREMETAL", "RESTORE", "TIMESTAMP", *stamp(between),
                  "RESTORE", "TARGET", t, "RESTORE", "GO", host="hostB")
    check("Added every folder of host hostA to the restore (2 folders)" in r.out,
          f"RESTORE BAREMETAL did not add hostA's two folders\n{r.summary()}")
    compare_trees(snap_a1, snapshot(t + a), f"BAREMETAL at {' '.join(stamp(between))}: {a}")
    compare_trees(snap_b1, snapshot(t + b), f"BAREMETAL at {' '.join(stamp(between))}: {b}")
    check(not os.path.lexists(t + c), f"BAREMETAL of hostA restored hostB's folder {c}")

    # Without a timestamp: the newest state.
    t = world.new_target("bare2")
    r = world.cmd("SELECT", "HOST", "hostA", "RESTORE", "BAREMETAL", "RESTORE", "TARGET", t, "RESTORE", "GO", host="hostB")
    compare_trees(snap_a2, snapshot(t + a), f"BAREMETAL (newest): {a}")
    compare_trees(snap_b2, snapshot(t + b), f"BAREMETAL (newest): {b}")
    check(not os.path.lexists(t + c), f"BAREMETAL of hostA restored hostB's folder {c}")

    # SELECT HOST by number works the same (hosts are listed in the order first seen).
    t = world.new_target("bare3")
    world.cmd("SELECT", "HOST", "1", "RESTORE", "TIMESTAMP", *stamp(between), "RESTORE", "BAREMETAL",
              "RESTORE", "TARGET", t, "RESTORE", "GO", host="hostB")
    compare_trees(snap_a1, snapshot(t + a), f"SELECT HOST 1 BAREMETAL: {a}")

    # A timestamp before every backup: nothing is restored and the command fails.
    t = world.new_target("bare0")
    r = world.cmd("SELECT", "HOST", "hostA", "RESTORE", "BAREMETAL", "RESTORE", "TIMESTAMP", *stamp(between - 86400),
                  "RESTORE", "TARGET", t, "RESTORE", "GO", host="hostB", rc="nonzero")
    check(any("at or before the restore timestamp" in e for e in r.errors()),
          f"BAREMETAL before every backup: expected 'at or before the restore timestamp'\n{r.summary()}")
    check(os.listdir(t) == [], f"a BAREMETAL restore with a timestamp before every backup wrote {os.listdir(t)}")


@test
def grammar_check_and_db_reset(world):
    r = world.run("GRAMMAR", "CHECK", "EXIT")
    check(r.rc == 0 and "INFO - Grammar check passed" in r.out and not r.err,
          f"GRAMMAR CHECK should pass with status 0\n{r.summary()}")
    r = world.run(input="grammar check\n")
    check("INFO - Grammar check passed" in r.out, f"grammar check (lower case, on stdin)\n{r.summary()}")
    r = world.cmd("GRAMMAR", "PRINT")
    for word in ("AUTOMATIC", "BACKUP", "BYE | EXIT | QUIT", "RESTORE", "SELECT", "SET", "SHOW", "STORE"):
        check(re.search(rf"^{re.escape(word)} +- ", r.out, re.M), f"GRAMMAR PRINT lacks the command {word}\n{r.summary()}")
    check(re.search(r"^  ADD +- Add to what will be restored$", r.out, re.M),
          f"GRAMMAR PRINT should indent RESTORE's subcommands\n{r.summary()}")

    src = mkdirs(world.base, "src")
    write(f"{src}/a.txt", "a\n")
    world.set_store()
    world.backup(src)
    before = dir_listing(world.store)

    for how, kw in (("command-line words", {"tokens": ("DB", "RESET", "EXIT")}),
                    ("standard input", {"tokens": (), "input": "DB RESET\nLIST BACKUPS\n"}),
                    ("RESET DB", {"tokens": ("RESET", "DB", "EXIT")}),
                    ("SET CONFIRM YES", {"tokens": ("SET", "CONFIRM", "YES", "DB", "RESET", "EXIT")})):
        r = world.run(*kw["tokens"], input=kw.get("input"), rc=None)
        check(r.rc != 0, f"DB RESET in batch mode ({how}) was not refused\n{r.summary()}")
        check(any("refused in batch mode (SET CONFIRM NO allows it)" in e for e in r.err.splitlines()),
              f"DB RESET in batch mode ({how}): expected the refusal on stderr\n{r.summary()}")
        check("   1  " not in r.out, f"the command after the refused DB RESET ran ({how})\n{r.summary()}")
        check(dir_listing(world.store) == before, f"the refused DB RESET ({how}) changed the store")
        rows = parse_backups(world.cmd("LIST", "BACKUPS").out)
        check(len(rows) == 1, f"after the refused DB RESET ({how}) LIST BACKUPS shows {len(rows)} backups")

    r = world.run(input="SET CONFIRM NO\nDB RESET\nLIST BACKUPS\nLIST FOLDERS\n")
    check("INFO - DB reset: generation" in r.out, f"SET CONFIRM NO then DB RESET did not reset\n{r.summary()}")
    check(r.out.rstrip().endswith("  (none)\n  (none)"), f"LIST BACKUPS/FOLDERS after DB RESET should print (none)\n{r.summary()}")
    r = world.cmd("LIST", "BACKUPS")
    check(parse_backups(r.out) == [] and "  (none)" in r.out, f"a new process still sees backups after DB RESET\n{r.summary()}")
    # A backup after the reset works and is the only one.
    world.backup(src)
    rows = parse_backups(world.cmd("LIST", "BACKUPS").out)
    check(len(rows) == 1 and rows[0]["folder"] == src, f"a backup after DB RESET: LIST BACKUPS shows {rows}")


@test
def quoted_words(world):
    spaced = mkdirs(world.base, "my documents")
    mkdirs(spaced, "sub dir")
    write(f"{spaced}/letter one.txt", "Dear reader,\n", mtime_ns=T1)
    write(f"{spaced}/sub dir/two words.txt", "two\n", mtime_ns=T1)
    quote = mkdirs(world.base, 'say "hi"')
    write(f"{quote}/q.txt", "quoted\n", mtime_ns=T1)
    set_mtime(f"{spaced}/sub dir", T1)
    world.set_store()

    r = world.run(input=f'BACKUP "{spaced}"\nLIST FOLDERS\n')
    check("Completed file walk" in r.out, f'BACKUP "<dir with blanks>" on stdin did not back up\n{r.summary()}')
    check(re.search(rf"^ +1  shell-host +{re.escape(spaced)} +1 backup ", r.out, re.M),
          f"LIST FOLDERS should show {spaced!r}\n{r.summary()}")
    # Escaped quotes and backslashes inside quotes.
    esc = quote.replace("\\", "\\\\").replace('"', '\\"')
    r = world.run(input=f'BACKUP "{esc}"\n')
    check(f"Backup of {quote} complete" in r.out, f"BACKUP with \\\" inside quotes did not back up {quote!r}\n{r.summary()}")

    # The quoted folder selects, CD takes a quoted name, the files restore.
    t = world.new_target("restore")
    r = world.run(input=f'SELECT FOLDER "{spaced}"\nCD "sub dir"\nLIST FILES\nRESTORE ADD TREE\n'
                        f'RESTORE TARGET "{t}"\nRESTORE GO\n')
    check(re.search(r"^ +1  -rw-r--r-- +4 B  .*  two words\.txt$", r.out, re.M),
          f"LIST FILES in 'sub dir' should show 'two words.txt'\n{r.summary()}")
    check(read_bytes(f"{t}{spaced}/sub dir/two words.txt") == b"two\n", f"the quoted restore did not restore\n{r.summary()}")
    check(not os.path.exists(f"{t}{spaced}/letter one.txt"), "RESTORE ADD TREE in 'sub dir' restored the folder above")

    # Quoted words on the command line are single tokens too (no tokenizer involved).
    t2 = world.new_target("restore2")
    world.cmd("SELECT", "FOLDER", quote, "RESTORE", "ADD", "TREE", "RESTORE", "TARGET", t2, "RESTORE", "GO")
    check(read_bytes(f"{t2}{quote}/q.txt") == b"quoted\n", "restore of the folder with quotes in its name failed")

    # An unterminated quote: a clear error on stderr, status 1, nothing after it runs.
    before = dir_listing(world.store)
    r = world.run(input=f'LIST FOLDERS\nBACKUP "{spaced}\nBACKUP "{spaced}"\n', rc=1)
    check("ERROR - line 2: unterminated quote" in r.err, f"an unterminated quote: expected 'line 2: unterminated quote' "
                                                         f"on stderr\n{r.summary()}")
    check("Completed file walk" not in r.out, f"a BACKUP ran after the unterminated quote\n{r.summary()}")
    check("1 backup " in r.out, f"the line before the unterminated quote did not run\n{r.summary()}")
    check(dir_listing(world.store) == before, "the store changed after an unterminated quote")
    # A quote that closes but is glued to more text, and an unquoted path with a blank (two words).
    r = world.run(input=f"BACKUP {spaced}\n", rc=1)
    check(r.errors(), f"BACKUP <path with a blank> unquoted should fail (two words)\n{r.summary()}")


# ---------------------------------------------------------------------------- main

def run_one(name):
    world = World(name)
    t0 = time.monotonic()
    try:
        TESTS[name](world)
        status, msg = "PASS", ""
    except TestFailure as e:
        status, msg = "FAIL", str(e)
    except Exception:
        import traceback
        status, msg = "FAIL", "unexpected exception:\n" + clip(traceback.format_exc(), 4000)
    finally:
        world.cleanup()
    return status, msg, time.monotonic() - t0


def on_sigterm(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv):
    global BINARY
    register_transcripts()
    args = argv[1:]
    if args and args[0] == "--list":
        for n in TESTS:
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
        names = list(TESTS)
    unknown = [n for n in names if n not in TESTS]
    if unknown:
        print(f"unknown test(s): {', '.join(unknown)}; --list shows them", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, on_sigterm)
    failed = 0
    for n in names:
        status, msg, secs = run_one(n)
        if status == "FAIL":
            failed += 1
            print(f"FAIL {n} ({secs:.1f} s): {msg}")
        else:
            print(f"PASS {n} ({secs:.1f} s)")
        sys.stdout.flush()
    if len(names) > 1:
        print(f"{len(names) - failed} of {len(names)} passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
