#!/usr/bin/env python3
"""One concern a file: no source file in src/ over 600 lines, no function over 80 lines, except
the tables and codecs listed below (a table is long because it lists things, not because it
does many). Functions are found as clang-format lays them out: a definition whose line starts
in column 0 and ends with "{", closed by the first "}" in column 0.

  check_sizes.py <source root>
"""
import os
import re
import sys

MAX_FILE = 600
MAX_FUNCTION = 80
# (file, function name): tables and codecs, long by their nature.
ALLOWED = {
    ("src/seshat/catalog/codec.cc", "decode"),  # the catalog decoder: one check per field, in the order of the format
}
NOT_A_FUNCTION = re.compile(r"^(namespace|struct|class|enum|union|extern|template\s*<[^>]*>\s*(struct|class))\b")
NAME = re.compile(r"([A-Za-z_][\w:]*)\s*\(")


def functions(lines):
    i = 0
    while i < len(lines):
        line = lines[i]
        if line and not line[0].isspace() and line.rstrip().endswith("{") and not line.startswith(("#", "//", "}")) \
                and not NOT_A_FUNCTION.match(line):
            start = i
            # The signature may span the lines before (continuations are indented).
            head = line
            j = i
            while j > 0 and lines[j - 1][:1].isspace() and lines[j - 1].strip() and not lines[j - 1].rstrip().endswith((";", "}", "{")):
                j -= 1
                head = lines[j] + head
            end = i + 1
            while end < len(lines) and not lines[end].startswith("}"):
                end += 1
            if "(" not in head:
                i += 1
                continue
            m = NAME.search(head.split("(")[0] + "(")
            name = m.group(1).split("::")[-1] if m else "?"
            yield name, start + 1, end - start + 1
            i = end + 1
            continue
        i += 1


def main(argv):
    root = os.path.abspath(argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(__file__), "..", ".."))
    problems = []
    biggest_file, biggest_fn = (0, ""), (0, "")
    for dirpath, _, names in os.walk(os.path.join(root, "src")):
        for n in sorted(names):
            if not n.endswith((".cc", ".h")):
                continue
            path = os.path.join(dirpath, n)
            rel = os.path.relpath(path, root)
            with open(path) as f:
                lines = f.read().split("\n")
            biggest_file = max(biggest_file, (len(lines), rel))
            if len(lines) > MAX_FILE:
                problems.append(f"{rel}: {len(lines)} lines (at most {MAX_FILE})")
            for name, at, length in functions(lines):
                if (rel, name) in ALLOWED:
                    continue
                biggest_fn = max(biggest_fn, (length, f"{rel}:{at} {name}"))
                if length > MAX_FUNCTION:
                    problems.append(f"{rel}:{at}: function {name} has {length} lines (at most {MAX_FUNCTION})")
    for p in problems:
        print(p)
    if not problems:
        print(f"sizes: the longest file has {biggest_file[0]} lines ({biggest_file[1]}), "
              f"the longest function {biggest_fn[0]} ({biggest_fn[1]})")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
