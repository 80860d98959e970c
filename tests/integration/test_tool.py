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
    for body, words in (("exit 7", "exit status 7"), ("kill -9 $$", "signal 9"), ("true", "no passphrase")):
        write(helper, f"#!/bin/sh\n{body}\n", mode=0o755)
        r = env.run("LIST", "BACKUPS", rc=1, extra_env=cmd_env, unset=("SESHAT_PASSWORD",), check_lock=False)
        errs = r.errors()
        check(len(errs) == 1 and "SESHAT_PASSWORD_COMMAND" in errs[0] and words in errs[0],
              f"command '{body}': expected one error naming it ({words}):\n{r.summary()}")
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

    def compgen(words):
        """COMPREPLY for the command line `words` (the last one being completed)."""
        prog = (f"source {script}\n"
                "complete -p seshat\n"
                f"COMP_WORDS=({' '.join(sh_quote(w) for w in words)}); COMP_CWORD={len(words) - 1}\n"
                "_seshat\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n")
        p = subprocess.run(["bash", "--norc", "--noprofile", "-c", prog], capture_output=True, text=True,
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
    for t in ("cpack", "dpkg-shlibdeps", "apt-get", "man"):
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
        st = os.stat("/etc/seshat/automatic.env")
        check(st.st_mode & 0o077 == 0, f"/etc/seshat/automatic.env is mode {oct(st.st_mode)}")
    finally:
        if subprocess.run(["dpkg", "-s", "seshat"], capture_output=True).returncode == 0 or installed:
            run_ok(["apt-get", "purge", "-y", "-q", "seshat"], "apt purge",
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    for f in ("/usr/bin/seshat", "/usr/share/man/man1/seshat.1.gz", "/etc/seshat/automatic.env",
              "/usr/lib/systemd/system/seshat-automatic.timer"):
        check(not os.path.exists(f), f"{f} is still there after apt purge")
    check(subprocess.run(["dpkg", "-s", "seshat"], capture_output=True).returncode != 0, "dpkg still lists seshat")


def sh_quote(s):
    return "'" + s.replace("'", "'\\''") + "'"


if __name__ == "__main__":
    mine = {n: v for n, v in tc.TESTS.items() if v[0].__module__ == __name__}
    tc.TESTS.clear()
    tc.TESTS.update(mine)
    sys.exit(tc.main(sys.argv))
