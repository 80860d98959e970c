#!/usr/bin/env python3
"""Seshat as a well-made tool on a Debian machine (issue 15), on the harness of test_core.py:
--help and --version, the passphrase from a program, the man page and the shell completions
made from the command table, the systemd units, the Debian package, the progress line on a
terminal, JSON output and the bandwidth limits.

Usage is that of test_core.py: [--store local|s3] --list | <seshat-binary> <name> | all.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_core as tc  # noqa: E402
from test_core import check, mkdirs, note, write, test, Skip  # noqa: E402

SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def build_dir():
    return os.path.dirname(os.path.abspath(tc.BINARY))


def need_tool(name):
    if not shutil.which(name):
        raise Skip(f"{name} is not installed (tools/setup.sh installs it)")


def plain(env, *args, rc=0, extra_env=None, input=None):
    """Runs the binary with exactly these arguments (no EXIT added)."""
    p = subprocess.run([env.binary, *args], env=env.run_env(extra_env), capture_output=True, text=True,
                       input=input, stdin=None if input is not None else subprocess.DEVNULL, timeout=60)
    check(p.returncode == rc, f"seshat {' '.join(args)}: exit status {p.returncode}, expected {rc}\n"
                              f"stdout: {p.stdout[-1500:]}\nstderr: {p.stderr[-1500:]}")
    return p


@test(stores=("local",))
def help_and_version(env):
    version = re.search(r"project\(seshat VERSION ([0-9.]+)", open(os.path.join(SOURCE_DIR, "CMakeLists.txt")).read())
    p = plain(env, "--version")
    check(p.stdout == f"seshat {version.group(1)}\n", f"--version printed {p.stdout!r}")
    for opt in ("--help", "-h"):
        p = plain(env, opt)
        check(p.stdout.startswith("Usage: seshat") and "HELP" in p.stdout and "BACKUP" in p.stdout,
              f"{opt} printed no usage:\n{p.stdout}")
        check(not os.path.exists(os.path.join(env.home, ".seshatrc")), f"{opt} wrote settings")
    # Any other leading word with a dash is an error naming it; nothing runs after it.
    for bad in ("--frobnicate", "-x", "--versio"):
        p = plain(env, bad, "BACKUP", env.base, rc=1)
        check(f"'{bad}'" in p.stderr and "--help" in p.stderr, f"{bad}: unclear error: {p.stderr}")
        check(not os.path.exists(os.path.join(env.home, ".seshat")), f"{bad}: a command ran anyway")
    # Where a command is expected later on the line, a dash word says options come first.
    p = plain(env, "SHOW", "CONFIG", "--version", rc=1)
    check("not an option" in p.stderr, f"a dash word after a command: {p.stderr}")
    # The grammar's own HELP keeps working.
    p = plain(env, "HELP", "LIST")
    check("BACKUPS" in p.stdout, f"HELP LIST shows no BACKUPS:\n{p.stdout}")


@test(stores=("local",))
def password_command(env):
    src = mkdirs(env.base, "src")
    write(f"{src}/a.txt", "alpha\n")
    secret = "from a keyring: " + os.urandom(6).hex()
    helper = os.path.join(env.base, "keyring.sh")
    write(helper, f"#!/bin/sh\necho 'looked up' >&2\nprintf '%s\\n' '{secret}'\necho second line\n", mode=0o755)
    cmd_env = {"SESHAT_PASSWORD_COMMAND": helper}
    env.run(*env.store_tokens(), "BACKUP", src, extra_env=cmd_env, unset=("SESHAT_PASSWORD",))
    check(secret not in env.last.out + env.last.err, "the passphrase was printed")
    # The command's first line is the passphrase: the repository opens with it typed directly...
    env.run("LIST", "BACKUPS", extra_env={"SESHAT_PASSWORD": secret}, check_lock=False)
    # ...and not with another one.
    r = env.run("LIST", "BACKUPS", rc=1, check_lock=False)
    check(r.errors(), f"the old passphrase opened a repository made with the command's:\n{r.summary()}")
    # A failing command, a killed one and one printing nothing: one clear error each, exit 1.
    for body, words in (("exit 7", "exit status 7"), ("kill -9 $$", "signal 9"), ("exit 3", "exit status 3"), ("true", "no passphrase")):
        write(helper, f"#!/bin/sh\n{body}\n", mode=0o755)
        r = env.run("LIST", "BACKUPS", rc=1, extra_env=cmd_env, unset=("SESHAT_PASSWORD",), check_lock=False)
        errs = r.errors()
        check(len(errs) == 1 and "SESHAT_PASSWORD_COMMAND" in errs[0] and words in errs[0],
              f"command '{body}': expected one error naming it ({words}):\n{r.summary()}")
    # The command never reads Seshat's own commands from a pipe, and gets SIGPIPE as a shell
    # would give it (`yes | head -1` ends quietly).
    write(helper, f"#!/bin/sh\ncat >/dev/null\nyes '{secret}' | head -1\n", mode=0o755)
    p = subprocess.run([env.binary], input="LIST HOSTS\nSHOW CONFIG\nEXIT\n", capture_output=True, text=True,
                       env=env.run_env(cmd_env, unset=("SESHAT_PASSWORD",)), timeout=60)
    check(p.returncode == 0 and tc.HOST in p.stdout and "Settings file:" in p.stdout and "Broken pipe" not in p.stderr,
          f"commands from a pipe with a password command that reads stdin: exit {p.returncode}\n{p.stdout}\n{p.stderr}")
    # The file wins over the command, the variable over both (the documented order).
    pw_file = os.path.join(env.base, "pw")
    write(pw_file, secret + "\n", mode=0o600)
    env.run("LIST", "BACKUPS", extra_env={**cmd_env, "SESHAT_PASSWORD_FILE": pw_file}, unset=("SESHAT_PASSWORD",),
            check_lock=False)


@test(stores=("local",))
def man_page_renders(env):
    need_tool("man")
    page = os.path.join(build_dir(), "seshat.1")
    check(os.path.exists(page), f"the build made no man page at {page}")
    p = subprocess.run(["man", "--warnings", "-l", page], env={**os.environ, "MANWIDTH": "80"},
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, f"man -l seshat.1 failed: {p.stderr}")
    warnings = [l for l in (p.stdout + p.stderr).splitlines() if "warning" in l]
    check(not warnings, "man reports warnings:\n" + "\n".join(warnings[:20]))
    text = re.sub(r".\x08", "", p.stdout)
    # Every command path of the grammar is in the page, with its help text.
    tree = plain(env, "GRAMMAR", "PRINT").stdout.splitlines()
    flat = " ".join(text.split())
    missing = []
    for line in tree:
        m = re.match(r"^\s*(.+?)\s+- (.*)$", line)
        if not m:
            continue
        label, help_text = m.group(1).strip(), " ".join(m.group(2).split())
        if label not in flat or help_text[:40] not in flat:
            missing.append(line.strip())
    check(not missing, f"{len(missing)} grammar nodes are not in the man page, e.g.:\n" + "\n".join(missing[:10]))
    for section in ("NAME", "SYNOPSIS", "COMMANDS", "SETTINGS", "ENVIRONMENT", "FILES", "EXIT STATUS"):
        check(re.search(rf"^{section}$", text, re.M), f"the man page has no {section} section")
    for var in ("SESHAT_PASSWORD_FILE", "SESHAT_PASSWORD_COMMAND", "AWS_ACCESS_KEY_ID"):
        check(var in flat, f"the man page does not name {var}")
    check("SESHAT_CRASH_AT" not in flat, "the man page lists a test hook")


@test(stores=("local",))
def bash_completion(env):
    need_tool("bash")
    script = os.path.join(build_dir(), "completions", "seshat")
    check(os.path.exists(script), f"the build made no bash completion at {script}")
    bindir = mkdirs(env.base, "bin")
    os.symlink(os.path.abspath(env.binary), os.path.join(bindir, "seshat"))
    mkdirs(env.base, "tree", "alpha")
    mkdirs(env.base, "tree", "alps")
    write(os.path.join(env.base, "tree", "alfile"), "")

    def compgen(words, with_bash_completion=False, cwd=None):
        """COMPREPLY for the command line `words` (the last one being completed), as bash
        would call the function (COMP_WORDS, COMP_CWORD, COMP_LINE, COMP_POINT)."""
        line = " ".join(words)
        loader = "source /usr/share/bash-completion/bash_completion\n" if with_bash_completion else ""
        prog = (f"{loader}source {script}\n"
                "complete -p seshat\n"
                f"COMP_WORDS=({' '.join(sh_quote(w) for w in words)}); COMP_CWORD={len(words) - 1}\n"
                f"COMP_LINE={sh_quote(line)}; COMP_POINT={len(line)}\n"
                "_seshat\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n")
        p = subprocess.run(["bash", "--norc", "--noprofile", "-c", prog], capture_output=True, text=True, cwd=cwd,
                           env={**env.run_env(), "PATH": bindir + ":" + os.environ["PATH"]}, timeout=60)
        check(p.returncode == 0, f"bash completion failed: {p.stderr}")
        lines = p.stdout.splitlines()
        check(lines and lines[0].startswith("complete -F _seshat seshat"), f"complete -p: {p.stdout}")
        return [l for l in lines[1:] if l]

    got = compgen(["seshat", "LI"])
    check(got == ["LIST"], f"seshat LI<TAB>: {got}")
    got = compgen(["seshat", "list", "b"])
    check(got == ["backups"], f"seshat list b<TAB> (the user's case): {got}")
    got = set(compgen(["seshat", "SET", ""]))
    check({"OVERWRITE", "SPARSE", "WAIT"} <= got, f"seshat SET <TAB>: {sorted(got)}")
    # After a whole command, the next command: several follow each other on a line.
    got = compgen(["seshat", "LIST", "BACKUPS", "EX"])
    check(set(got) == {"EXCLUDE", "EXIT"}, f"seshat LIST BACKUPS EX<TAB>: {got}")
    # Directories where a <Directory> may follow, and only directories.
    got = compgen(["seshat", "BACKUP", os.path.join(env.base, "tree", "al")])
    want = [os.path.join(env.base, "tree", n) + "/" for n in ("alpha", "alps")]
    check(got == want, f"seshat BACKUP .../al<TAB>: {got}, expected {want}")
    check(compgen(["seshat", "FROB", ""]) == [], "completion after an unknown word offered something")
    # Candidates are not globbed: '?' (HELP) in a directory holding one-letter files.
    write(os.path.join(env.base, "tree", "h"), "")
    got = compgen(["seshat", ""], cwd=os.path.join(env.base, "tree"))
    check("?" in got and "h" not in got, f"seshat <TAB> in a directory with a file h: {got}")
    # After the options, names with blanks, with and without bash-completion loaded.
    mkdirs(env.base, "tree", "my dir")
    mkdirs(env.base, "tree", "it's")
    for loaded in ((False, True) if os.path.exists("/usr/share/bash-completion/bash_completion") else (False,)):
        got = compgen(["seshat", "--json", "LIST", "BA"], loaded)
        check(got == ["BACKUPS"], f"seshat --json LIST BA<TAB> (bash-completion: {loaded}): {got}")
        got = compgen(["seshat", "BACKUP", os.path.join(env.base, "tree", "my")], loaded)
        check(got == [os.path.join(env.base, "tree", "my dir") + "/"], f"a name with a blank ({loaded}): {got}")
        got = compgen(["seshat", "RESTORE", "TARGET", os.path.join(env.base, "tree", "my\\ d")], loaded)
        check(got == [os.path.join(env.base, "tree", "my dir") + "/"], f"an escaped blank typed ({loaded}): {got}")
        got = compgen(["seshat", "BACKUP", os.path.join(env.base, "tree", "it\\'")], loaded)
        check(got == [os.path.join(env.base, "tree", "it's") + "/"], f"an escaped quote typed ({loaded}): {got}")
    for shell in ("zsh", "fish"):
        path = os.path.join(build_dir(), "completions", "_seshat" if shell == "zsh" else "seshat.fish")
        check(os.path.exists(path) and "--complete" in open(path).read(), f"no {shell} completion at {path}")
        if shutil.which(shell):
            p = subprocess.run([shell, "-n", path], capture_output=True, text=True)
            check(p.returncode == 0, f"{shell} -n {path}: {p.stderr}")


def run_ok(cmd, what, timeout=300, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    check(p.returncode == 0, f"{what}: `{' '.join(cmd)}` exited {p.returncode}\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    return p


@test(stores=("local",))
def systemd_units_verify(env):
    need_tool("systemd-analyze")
    units = os.path.join(SOURCE_DIR, "packaging", "systemd")
    run_dir = mkdirs(env.base, "xdg-runtime")
    for user in (False, True):
        # verify wants ExecStart's program to exist: a copy of the units runs the built one.
        d = mkdirs(env.base, "user-units" if user else "units")
        for name in ("seshat-automatic.service", "seshat-automatic.timer"):
            text = open(os.path.join(units, "user" if user else "", name)).read()
            check(name.endswith(".timer") or "ExecStart=/usr/bin/seshat AUTOMATIC EXIT" in text,
                  f"{name} does not run seshat AUTOMATIC EXIT")
            if name.endswith(".timer"):
                for key in ("OnCalendar=daily", "Persistent=true", "RandomizedDelaySec="):
                    check(key in text, f"{'user ' if user else ''}{name} has no {key}")
            write(os.path.join(d, name), text.replace("/usr/bin/seshat", os.path.abspath(env.binary)))
        cmd = ["systemd-analyze"] + (["--user"] if user else []) + ["verify", "--man=no",
                                                                     os.path.join(d, "seshat-automatic.service"),
                                                                     os.path.join(d, "seshat-automatic.timer")]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                           env={**os.environ, "XDG_RUNTIME_DIR": run_dir})
        check(p.returncode == 0 and not (p.stdout + p.stderr).strip(),
              f"{' '.join(cmd)}: exit {p.returncode}\n{p.stdout}{p.stderr}")
    # The service reads the passphrase through the environment file and runs as a cron job
    # would: the same command with that environment, from a pipe, succeeds.
    src = mkdirs(env.base, "src")
    write(f"{src}/a.txt", "alpha\n")
    env.first_backup(src)
    write(f"{src}/b.txt", "bravo, new since the first backup\n")
    r = env.run("AUTOMATIC", extra_env={"SESHAT_PASSWORD_FILE": write_secret(env)}, unset=("SESHAT_PASSWORD",))
    check(len(env.list_backups()) == 2, f"AUTOMATIC with the passphrase file made no backup:\n{r.summary()}")


def write_secret(env):
    path = os.path.join(env.base, "passphrase")
    write(path, tc.PASSWORD + "\n", mode=0o600)
    return path


@test(stores=("local",))
def debian_package(env):
    """cpack -G DEB from the build; apt installs it, man seshat and /usr/bin/seshat work, the
    completion loads, and it is removed (purged) without a trace."""
    for t in ("cpack", "dpkg-shlibdeps", "apt-get", "man", "systemctl"):
        need_tool(t)
    if os.geteuid() != 0:
        raise Skip("installing a package needs root")
    if subprocess.run(["dpkg", "-s", "seshat"], capture_output=True).returncode == 0:
        raise Skip("a seshat package is installed on this machine; the test would replace it")
    out = mkdirs(env.base, "package")
    run_ok(["cpack", "-G", "DEB", "-B", out], "cpack", cwd=build_dir())
    debs = [f for f in os.listdir(out) if f.endswith(".deb")]
    check(len(debs) == 1 and re.match(r"seshat_[0-9.]+_amd64\.deb$", debs[0]), f"cpack made {debs}")
    deb = os.path.join(out, debs[0])
    info = run_ok(["dpkg-deb", "-f", deb, "Depends"], "dpkg-deb").stdout
    for dep in ("libcurl4", "libsodium23", "libssl3", "libzstd1", "libedit2"):
        check(dep in info, f"the package does not depend on {dep}: {info}")
    files = run_ok(["dpkg-deb", "-c", deb], "dpkg-deb -c").stdout
    for f in ("./usr/bin/seshat", "./usr/share/man/man1/seshat.1.gz", "./usr/share/bash-completion/completions/seshat",
              "./usr/share/zsh/vendor-completions/_seshat", "./usr/share/fish/vendor_completions.d/seshat.fish",
              "./usr/lib/systemd/system/seshat-automatic.timer", "./usr/lib/systemd/user/seshat-automatic.timer",
              "./usr/share/doc/seshat/README.md", "./usr/share/doc/seshat/format/catalog.md",
              "./etc/seshat/automatic.env"):
        check(f in files, f"the package has no {f}")
    installed = False
    try:
        run_ok(["apt-get", "install", "-y", "-q", "--no-install-recommends", deb], "apt install",
               env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        installed = True
        p = run_ok(["/usr/bin/seshat", "--version"], "the installed seshat")
        check(p.stdout.startswith("seshat "), f"/usr/bin/seshat --version: {p.stdout}")
        p = run_ok(["man", "seshat"], "man seshat", env={**os.environ, "MANWIDTH": "80", "MANPAGER": "cat"})
        check("SESHAT(1)" in re.sub(r".\x08", "", p.stdout) and "EXIT STATUS" in re.sub(r".\x08", "", p.stdout),
              "man seshat shows no page")
        p = run_ok(["bash", "--norc", "-c", "source /usr/share/bash-completion/completions/seshat; complete -p seshat"],
                   "the installed bash completion")
        check("_seshat" in p.stdout, p.stdout)
        # The timer enabled by the admin: removing the package takes its link away.
        run_ok(["systemctl", "enable", "seshat-automatic.timer"], "systemctl enable")
        check(os.path.islink("/etc/systemd/system/timers.target.wants/seshat-automatic.timer"), "the timer is not enabled")
        st = os.stat("/etc/seshat/automatic.env")
        check(st.st_mode & 0o077 == 0, f"/etc/seshat/automatic.env is mode {oct(st.st_mode)}")
    finally:
        if subprocess.run(["dpkg", "-s", "seshat"], capture_output=True).returncode == 0 or installed:
            run_ok(["apt-get", "purge", "-y", "-q", "seshat"], "apt purge",
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    for f in ("/usr/bin/seshat", "/usr/share/man/man1/seshat.1.gz", "/etc/seshat/automatic.env",
              "/usr/lib/systemd/system/seshat-automatic.timer", "/etc/systemd/system/timers.target.wants/seshat-automatic.timer"):
        check(not os.path.lexists(f), f"{f} is still there after apt purge")
    check(subprocess.run(["dpkg", "-s", "seshat"], capture_output=True).returncode != 0, "dpkg still lists seshat")


@test
def bandwidth_limits(env):
    """SET LIMIT UPLOAD/DOWNLOAD: a backup and a restore of 12 MB of incompressible data at
    4 MB/s and 3 MB/s take what the limit says (within 10 % above it; the lower bound is
    loose, it only shows the limit is not far below what was asked)."""
    src = mkdirs(env.base, "src")
    for i in range(3):
        write(f"{src}/f{i}.bin", os.urandom(4 << 20))
    env.run(*env.store_tokens(), "SET", "LIMIT", "UPLOAD", "4", "MB", "SHOW", "CONFIG", check_lock=False)
    check(re.search(r"Upload limit:\s+4 MB/s", env.last.out), f"SHOW CONFIG:\n{env.last.out}")
    r = env.backup(src)
    up = env.store.size() / r.elapsed / (1 << 20)
    note(f"upload: {env.store.size()} bytes in {r.elapsed:.2f} s = {up:.2f} MB/s at a limit of 4 MB/s")
    check(up <= 4 * 1.1, f"the upload ran at {up:.2f} MB/s, above the 4 MB/s limit")
    check(up >= 4 * 0.6, f"the upload ran at {up:.2f} MB/s, far below the 4 MB/s limit")
    # Remembered: the next run has it without being told; 0 turns it off.
    env.run("SHOW", "CONFIG", check_lock=False)
    check(re.search(r"Upload limit:\s+4 MB/s", env.last.out), f"the limit was not remembered:\n{env.last.out}")
    env.run("SET", "LIMIT", "UPLOAD", "0", "MB", "SET", "LIMIT", "DOWNLOAD", "3", "MB", check_lock=False)
    target = env.new_target("restore")
    r = env.restore(target)
    down = 12 * (1 << 20) / r.elapsed / (1 << 20)
    note(f"download: 12 MiB restored in {r.elapsed:.2f} s = {down:.2f} MB/s at a limit of 3 MB/s")
    check(down <= 3 * 1.1, f"the restore read at {down:.2f} MB/s, above the 3 MB/s limit")
    check(down >= 3 * 0.6, f"the restore read at {down:.2f} MB/s, far below the 3 MB/s limit")
    for i in range(3):
        check(tc.file_sha(f"{tc.restored(target, src)}/f{i}.bin") == tc.file_sha(f"{src}/f{i}.bin"),
              f"f{i}.bin restored wrong under the limit")
    env.run("SET", "LIMIT", "DOWNLOAD", "0", "MB", "SHOW", "CONFIG", check_lock=False)
    check(re.search(r"Download limit:\s+none", env.last.out), f"SHOW CONFIG after 0 MB:\n{env.last.out}")
    env.run("SET", "LIMIT", "UPLOAD", "x", "MB", rc=1, check_lock=False)
    # A low limit does not hold back the lock's renewals (they are not throttled): a 4 s
    # upload at 100 KB/s under a 3 s lease keeps it with time to spare.
    for i in range(4):
        write(f"{src}/g{i}.bin", os.urandom(100 << 10))
    r = env.backup(src, "SET", "LIMIT", "UPLOAD", "100", "KB",
                   extra_env={"SESHAT_LOCK_LEASE_SECONDS": "3", "SESHAT_THREADS": "4"})
    check(r.elapsed >= 3.0, f"400 KB at 100 KB/s took {r.elapsed:.1f} s")
    check("lease left" not in r.out and not r.warns(), f"the lock was renewed late under a low limit:\n{r.summary()}")


def on_pty(env, tokens, extra_env=None, timeout=120):
    """Runs seshat with stdout and stderr on a pseudo-terminal; returns (status, output)."""
    import pty
    import select
    master, slave = pty.openpty()
    p = subprocess.Popen([env.binary, *tokens], env=env.run_env(extra_env), stdin=subprocess.DEVNULL, stdout=slave,
                         stderr=slave, start_new_session=True)
    env.procs.append(p)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], 0.2)
            if r:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the other side is closed
                    break
                if not chunk:
                    break
                out += chunk
            elif p.poll() is not None:
                break
        check(time.monotonic() < deadline, f"seshat on a terminal did not finish in {timeout} s")
        return p.wait(timeout), out.decode(errors="replace")
    finally:
        os.close(master)


STATUS = re.compile(r"\r\x1b\[K(Backup|Restore|Verify): (\d+)/(\d+) files, ([^,]+) of ([^,]+), ([^,]+)/s"
                    r"(?:, ([^,]+) sent)?(?:, ETA ([0-9:]+))?(?:  (\S.*?))?(?=\r|$)")


@test
def progress_line_on_a_terminal(env):
    """The live status line on a terminal: files and bytes of the total, rate, ETA and the file
    being read, inside one large file too; never in a pipe; SET PROGRESS NO turns it off."""
    src = mkdirs(env.base, "src")
    write(f"{src}/big.bin", os.urandom(24 << 20))
    write(f"{src}/small.txt", "small\n")
    # 24 MB at 6 MB/s: about four seconds, some sixteen redraws.
    limit = ["SET", "LIMIT", "UPLOAD", "6", "MB"]
    rc, out = on_pty(env, [*env.store_tokens(), *limit, "BACKUP", src, "EXIT"])
    check(rc == 0, f"backup on a terminal: exit {rc}\n{out[-3000:]}")
    lines = [m for m in STATUS.finditer(out) if m.group(1) == "Backup"]
    check(len(lines) >= 4, f"{len(lines)} status lines for a 4 s backup on a terminal:\n{out[-3000:]!r}")
    done = [int(m.group(2)) for m in lines]
    check(all(m.group(3) == "2" for m in lines), f"the total is not the 2 files: {[m.group(0) for m in lines][:3]}")
    check(done == sorted(done), f"files done went backwards: {done}")
    check(any(m.group(8) for m in lines), "no status line has an ETA")
    if env.store_kind == "s3":
        # Parts are read ahead of the upload: what is sent is shown beside what is read.
        check(len({m.group(7) for m in lines if m.group(7)}) >= 3,
              f"the bytes sent to S3 do not move: {[m.group(0) for m in lines]}")
    else:
        check(any(m.group(9) and m.group(9).endswith("big.bin") for m in lines),
              f"the large file being read is never named:\n{[m.group(0) for m in lines]}")
        check(len({m.group(4) for m in lines}) >= 3, f"the bytes read did not move inside the large file: {lines[0].group(0)}")
    check(out.rstrip("\r\n").endswith("\r\x1b[K") or not STATUS.search(out.splitlines()[-1]),
          f"the status line was left on the screen: {out[-300:]!r}")
    # The log lines are whole lines: each starts right after an erased status line.
    for piece in out.split("\r\n"):
        for seg in piece.split("\r\x1b[K"):
            if " INFO - " in seg:
                check(re.match(r"^\d\d:\d\d:\d\d\.\d{3} INFO - ", seg), f"a log line mixed with the status line: {piece!r}")
    # In a pipe: the manual's Progress lines only, no control characters.
    write(f"{src}/big.bin", os.urandom(24 << 20))
    r = env.backup(src)
    check("\x1b[K" not in r.out + r.err and "\r" not in r.out, f"status line drawn into a pipe:\n{r.out[-1500:]!r}")
    # Restore and VERIFY DATA draw it too; SET PROGRESS NO turns it off (remembered).
    env.run("SET", "LIMIT", "UPLOAD", "0", "MB", "SET", "LIMIT", "DOWNLOAD", "12", "MB", check_lock=False)
    target = env.new_target("restore")
    rc, out = on_pty(env, ["RESTORE", "ADD", "TREE", "RESTORE", "TARGET", target, "RESTORE", "GO", "EXIT"])
    restore_lines = [m for m in STATUS.finditer(out) if m.group(1) == "Restore"]
    check(rc == 0 and restore_lines, f"no Restore status line on a terminal (exit {rc}):\n{out[-2000:]!r}")
    check(all(not m.group(8) or int(m.group(8).split(":")[0]) < 60 for m in restore_lines),
          f"a wild time left: {[m.group(0) for m in restore_lines]}")
    rc, out = on_pty(env, ["VERIFY", "DATA", "EXIT"])
    check(rc == 0 and any(m.group(1) == "Verify" for m in STATUS.finditer(out)),
          f"no Verify status line on a terminal (exit {rc}):\n{out[-2000:]!r}")
    env.run("SET", "PROGRESS", "NO", check_lock=False)
    rc, out = on_pty(env, ["VERIFY", "DATA", "EXIT"])
    check(rc == 0 and not STATUS.search(out) and "\x1b[K" not in out, f"SET PROGRESS NO still draws:\n{out[-2000:]!r}")


def parse_json_lines(text, what):
    docs = []
    for n, line in enumerate(text.splitlines(), 1):
        try:
            doc = json.loads(line)
        except ValueError as e:
            raise tc.TestFailure(f"{what}: stdout line {n} is not JSON ({e}): {line[:300]!r}")
        check(isinstance(doc, dict) and isinstance(doc.get("type"), str), f"{what}: line {n} has no type: {line[:300]}")
        docs.append(doc)
    return docs


@test
def json_output(env):
    """SET OUTPUT JSON and --json: every command's stdout parsed by a JSON parser, the fields
    of doc/json.md checked against what the tree holds; logs on stderr."""
    src = mkdirs(env.base, "src")
    write(f"{src}/a.txt", "alpha\n")
    write(f"{src}/b.bin", os.urandom(5000), mode=0o600)
    os.symlink("a.txt", f"{src}/link")
    odd = os.fsencode(src) + b"/odd\xff\x1bname"
    with open(odd, "wb") as f:
        f.write(b"odd\n")
    mkdirs(src, "sub")
    os.mkfifo(f"{src}/sub/fifo")

    def run_json(*tokens, rc=0, how="set"):
        pre = ["--json"] if how == "flag" else []
        mid = ["SET", "OUTPUT", "JSON"] if how == "set" else []
        p = subprocess.run([env.binary, *pre, *mid, *tokens, "EXIT"], env=env.run_env(), capture_output=True,
                           text=True, stdin=subprocess.DEVNULL, timeout=120, errors="replace")
        check(p.returncode == rc, f"{' '.join(tokens)}: exit {p.returncode}, expected {rc}\n{p.stderr[-2000:]}")
        check(" INFO - " not in p.stdout, f"{' '.join(tokens)}: log lines on stdout:\n{p.stdout[:1000]}")
        return parse_json_lines(p.stdout, " ".join(tokens)), p.stderr

    docs, err = run_json(*env.store_tokens(), "BACKUP", src, how="flag")
    check([d["type"] for d in docs] == ["backup_summary"], f"BACKUP printed {docs}")
    b = docs[0]
    check(b["files_stored"] == 3 and b["found"] == 3 and b["not_backed_up"] == 0 and b["folder"] == src and b["containers"] == 1,
          f"backup_summary: {b}")
    check("Backup of" in err, "the BACKUP log line is not on stderr")

    docs, _ = run_json("LIST", "BACKUPS")
    check(len(docs) == 1 and docs[0]["type"] == "backup" and docs[0]["number"] == 1 and docs[0]["folder"] == src
          and docs[0]["files"] == 5 and docs[0]["complete"] is True, f"LIST BACKUPS: {docs}")
    docs, _ = run_json("LIST", "HOSTS")
    check(docs == [{"type": "host", "number": 1, "name": tc.HOST, "folders": 1}], f"LIST HOSTS: {docs}")
    docs, _ = run_json("LIST", "FOLDERS")
    check(len(docs) == 1 and docs[0]["path"] == src and docs[0]["automatic"] is True and docs[0]["last_backup"] == 1,
          f"LIST FOLDERS: {docs}")
    docs, _ = run_json("LIST", "AUTO")
    check([d["path"] for d in docs] == [src] and docs[0]["type"] == "auto", f"LIST AUTO: {docs}")

    docs, _ = run_json("SEARCH", "REGEX", ".")
    by_path = {os.fsencode(d["path"]) if "path_hex" not in d else bytes.fromhex(d["path_hex"]): d for d in docs}
    check(set(by_path) >= {os.fsencode(f"{src}/a.txt"), os.fsencode(f"{src}/b.bin"), odd},
          f"SEARCH misses files: {sorted(by_path)}")
    a = by_path[os.fsencode(f"{src}/a.txt")]
    st = os.lstat(f"{src}/a.txt")
    check(a["kind"] == "file" and a["size"] == 6 and a["mode"] == 0o644 and a["mode_text"] == "-rw-r--r--"
          and a["mtime_sec"] == st.st_mtime_ns // 10**9 and a["mtime_nsec"] == st.st_mtime_ns % 10**9
          and a["backup"] == 1 and a["host"] == tc.HOST, f"SEARCH row of a.txt: {a}")
    o = by_path[odd]
    check("\ufffd" in o["path"] and "\x1b" in o["path"], f"the odd name's text: {o['path']!r}")
    link = by_path[os.fsencode(f"{src}/link")]
    check(link["kind"] == "symlink" and link["target"] == "a.txt", f"SEARCH row of the symlink: {link}")

    docs, _ = run_json("SELECT", "FOLDER", "1", "LIST", "FILES")
    kinds = {d["path"]: d["kind"] for d in docs}
    check(kinds.get("sub") == "dir" and kinds.get("a.txt") == "file" and kinds.get("link") == "symlink",
          f"LIST FILES: {kinds}")
    docs, _ = run_json("SELECT", "FOLDER", "1", "LIST", "TREE")
    check(any(d["kind"] == "fifo" and d["path"].endswith("fifo") and d.get("depth") == 1 for d in docs),
          f"LIST TREE has no FIFO at depth 1: {docs}")
    docs, _ = run_json("SELECT", "FOLDER", "1", "LIST", "VERSIONS")
    check(docs and all(d["type"] == "entry" and d["backup"] == 1 for d in docs), f"LIST VERSIONS: {docs}")

    os.unlink(f"{src}/a.txt")
    write(f"{src}/c.txt", "charlie\n")
    run_json("BACKUP", src)
    docs, _ = run_json("LIST", "CHANGES")
    check(docs[0]["type"] == "changes" and docs[0]["added"] == 1 and docs[0]["deleted"] == 1, f"LIST CHANGES: {docs[:1]}")
    changes = {(d["change"], os.path.basename(d["path"])) for d in docs[1:]}
    check(("added", "c.txt") in changes and ("deleted", "a.txt") in changes and all(d["type"] == "change" for d in docs[1:]),
          f"LIST CHANGES rows: {changes}")
    docs, _ = run_json("LIST", "1", "BACKUPS")
    check([d["number"] for d in docs] == [2], f"LIST 1 BACKUPS shows {docs}")

    docs, _ = run_json("SHOW", "CONFIG")
    c = docs[0]
    check(c["type"] == "config" and c["settings"]["output"] == "json" and c["settings"]["hidden"] is True
          and c["host"] == tc.HOST and isinstance(c["settings"]["max_container"], int), f"SHOW CONFIG: {c}")
    check(tc.PASSWORD not in json.dumps(c), "SHOW CONFIG shows the passphrase")

    docs, _ = run_json("VERIFY", "DATA")
    check(docs[0]["type"] == "verify" and docs[0]["ok"] is True and docs[0]["blobs_read"] >= 4
          and docs[0]["problems"] == 0, f"VERIFY DATA: {docs}")

    target = env.new_target("restore")
    docs, _ = run_json("SELECT", "BACKUP", "1", "RESTORE", "ADD", "TREE", "RESTORE", "TARGET", target, "RESTORE", "GO")
    r = docs[-1]
    check(r["type"] == "restore_summary" and r["files"] == 3 and r["symlinks"] == 1 and r["specials"] == 1
          and r["failed"] == 0 and r["target"] == target, f"RESTORE GO: {docs}")
    docs, _ = run_json("MEMSTATS")
    check(docs[0]["type"] == "memstats" and docs[0]["peak_rss_bytes"] >= docs[0]["rss_bytes"] > 0, f"MEMSTATS: {docs}")
    # A failing command: the error on stderr, stdout still JSON (or empty), exit 1.
    docs, err = run_json("SELECT", "BACKUP", "99", rc=1)
    check(docs == [] and " ERROR - " in err, f"a failing command under JSON: {docs} / {err[-500:]}")
    # Text again: the same command prints its columns.
    r = env.run("LIST", "BACKUPS", check_lock=False)
    check(not r.out.lstrip().startswith("{") and "Folder" in r.out, f"SET OUTPUT JSON was remembered:\n{r.out}")


def sh_quote(s):
    return "'" + s.replace("'", "'\\''") + "'"


if __name__ == "__main__":
    mine = {n: v for n, v in tc.TESTS.items() if v[0].__module__ == __name__}
    tc.TESTS.clear()
    tc.TESTS.update(mine)
    sys.exit(tc.main(sys.argv))
