#!/usr/bin/env python3
"""The environment variables: read only through util/env (no getenv elsewhere in src/),
every SESHAT_* name in src/ is in the table of util/env.cc, and every variable of the table
is documented in doc/environment.md. Exit 1 with one line per problem.

  check_env.py <source root>
"""
import os
import re
import sys


def main(argv):
    root = os.path.abspath(argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(__file__), "..", ".."))
    src = os.path.join(root, "src")
    with open(os.path.join(src, "seshat", "util", "env.cc")) as f:
        table = set(re.findall(r'const Var k\w+\{\s*"([A-Z_0-9]+)"', f.read()))
    with open(os.path.join(root, "doc", "environment.md")) as f:
        doc = f.read()
    problems = []
    for dirpath, _, names in os.walk(src):
        for n in sorted(names):
            if not n.endswith((".cc", ".h")):
                continue
            path = os.path.join(dirpath, n)
            rel = os.path.relpath(path, root)
            with open(path) as f:
                text = f.read()
            if rel != "src/seshat/util/env.cc" and re.search(r"\bgetenv\s*\(", text):
                problems.append(f"{rel}: calls getenv (read variables through seshat/util/env.h)")
            for name in sorted(set(re.findall(r'"(SESHAT_[A-Z_0-9]+)', text))):
                if name not in table:
                    problems.append(f"{rel}: names {name}, which is not in the table of src/seshat/util/env.cc")
    for name in sorted(table):
        if f"`{name}`" not in doc:
            problems.append(f"doc/environment.md does not document {name}")
    for p in problems:
        print(p)
    if not problems:
        print(f"environment: {len(table)} variables, all read through util/env and documented")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
