#!/usr/bin/env python3
"""The layering check: every #include "seshat/<module>/<file>" in src/seshat/<module>/ must be
allowed by tools/layering.txt (DESIGN.md §2 as data).

  check_layering.py <source root>            checks the tree; exit 1 and one line per
                                             forbidden include
  check_layering.py --self-test <source root>  proves the check fails on forbidden includes
                                             (a sideways one, an upward one, one below an
                                             interface) in a copy of the tree
"""
import os
import re
import shutil
import sys
import tempfile

INCLUDE = re.compile(r'^\s*#\s*include\s+"seshat/([a-z_]+)/([^"]+)"', re.M)


def load_table(path):
    table = {}
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            module, _, allowed = line.partition(":")
            table[module.strip()] = allowed.split()
    return table


def allowed(table, module, target_module, target_file):
    if target_module == module:
        return True
    for item in table.get(module, []):
        if item == target_module or item == f"{target_module}/{target_file}":
            return True
    return False


def check(root, table):
    problems = []
    src = os.path.join(root, "src", "seshat")
    for module in sorted(os.listdir(src)):
        mdir = os.path.join(src, module)
        if not os.path.isdir(mdir):
            continue
        if module not in table:
            problems.append(f"module {module} is not in tools/layering.txt")
            continue
        for name in sorted(os.listdir(mdir)):
            if not name.endswith((".h", ".cc")):
                continue
            with open(os.path.join(mdir, name)) as f:
                text = f.read()
            for m in INCLUDE.finditer(text):
                if not allowed(table, module, m.group(1), m.group(2)):
                    problems.append(f"src/seshat/{module}/{name}: includes seshat/{m.group(1)}/{m.group(2)}, "
                                    f"which {module} may not use")
    return problems


def self_test(root, table):
    cases = [("backup", "packer.cc", "seshat/storage/storage.h"),     # below the interfaces
             ("util", "log.cc", "seshat/session/session.h"),          # upward
             ("catalog", "query.cc", "seshat/fs/fs.h"),               # sideways
             ("restore", "restore.cc", "seshat/repo/repository.h")]   # a repo header that is not its interface
    failures = []
    for module, name, header in cases:
        tmp = tempfile.mkdtemp(prefix="layering-")
        try:
            shutil.copytree(os.path.join(root, "src"), os.path.join(tmp, "src"))
            with open(os.path.join(tmp, "src", "seshat", module, name), "a") as f:
                f.write(f'\n#include "{header}"\n')
            found = check(tmp, table)
            if not any(header in p for p in found):
                failures.append(f"adding #include \"{header}\" to {module}/{name} was not reported")
        finally:
            shutil.rmtree(tmp)
    if check(root, table):
        failures.append("the real tree does not pass (run without --self-test)")
    return failures


def main(argv):
    args = argv[1:]
    mode = "check"
    if args and args[0] == "--self-test":
        mode = "self"
        args = args[1:]
    root = os.path.abspath(args[0] if args else os.path.join(os.path.dirname(__file__), "..", ".."))
    table = load_table(os.path.join(root, "tools", "layering.txt"))
    problems = check(root, table) if mode == "check" else self_test(root, table)
    for p in problems:
        print(p)
    if not problems:
        print("layering: every include is allowed" if mode == "check" else "layering self-test: every forbidden include was caught")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
