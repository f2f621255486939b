#!/usr/bin/env python3
"""Checks the rules of docs/architecture.md that a compiler does not: file sizes, the size of the
CLI, and which folder may include which headers. Prints one line per breach; exit 1 if any.

  /usr/bin/python3 scripts/check_layout.py
"""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
MAX_FILE_LINES = 500          # product code: one purpose per file
MAX_TOOLS_LINES = 1500        # the CLI parses flags and calls the library, nothing more
PRODUCT = ("src/", "include/", "tools/", "python/")
SOURCE = (".cpp", ".hpp", ".h", ".py", ".pyi")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def tracked() -> list[pathlib.Path]:
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                         check=True, capture_output=True, text=True).stdout
    return [pathlib.Path(p) for p in out.split() if (REPO / p).is_file()]


def main() -> int:
    files = [p for p in tracked() if p.suffix in SOURCE]
    problems: list[str] = []
    modules = {p.parts[1] for p in files if p.parts[0] == "src" and len(p.parts) > 2}
    tools_lines = 0
    for path in files:
        text = (REPO / path).read_text(errors="replace")
        lines = text.count("\n")
        top = path.as_posix()
        if top.startswith(PRODUCT) and lines > MAX_FILE_LINES:
            problems.append(f"{top}: {lines} lines (over {MAX_FILE_LINES}: split it by job)")
        if top.startswith("tools/") and path.suffix in (".cpp", ".hpp"):
            tools_lines += lines
        for header in INCLUDE.findall(text):
            first = header.split("/")[0]
            if top.startswith("include/") and not header.startswith("framebus/"):
                problems.append(f"{top}: public header includes \"{header}\" (only framebus/... may be)")
            elif top.startswith(("python/src/", "tools/")) and first in modules:
                problems.append(f"{top}: includes the private header \"{header}\" (use the public headers)")
            elif top.startswith("src/") and first in modules and first not in (path.parts[1], "common"):
                problems.append(f"{top}: includes \"{header}\", private to src/{first}")
    if tools_lines >= MAX_TOOLS_LINES:
        problems.append(f"tools/: {tools_lines} lines of C++ (the CLI stays under {MAX_TOOLS_LINES}: logic "
                        f"belongs in the library)")
    for line in problems:
        print(line)
    print(f"layout: {len(files)} files, tools/ {tools_lines} lines, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
