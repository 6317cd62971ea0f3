#!/usr/bin/env python3
"""The tree's size and layout rules, checked by the README's test command (Tools/lint.sh runs this).

- no line over 120 characters in Sources, Tools, Tests and python/ (Swift, C, Python, shell);
- no file in Sources over 400 lines;
- no Swift function (func, init, deinit, subscript, accessor) or Python def over 80 lines in Sources,
  Tools and python/lifelong;
- every module a Swift file imports is one its target declares in Package.swift (or the toolchain's);
- docs/ARCHITECTURE.md's module table lists exactly the targets and dependencies Package.swift declares;
- the serving binaries (lifelong-serve, liblifelong_c.so) link, through every dependency, only the modules of
  SERVING_ALLOWED (and, until the online writer leaves Offline, those of SERVING_NOT_YET — a ratchet: one that
  is no longer linked must leave that list).

Usage: Tools/lint.py [--swift-package-json FILE]   (default: runs `swift package dump-package`)
Exit status 1 with one line per finding, `path:line: rule`.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_LINE = 120
MAX_FILE = 400
MAX_FUNCTION = 80
TEXT_SUFFIXES = {".swift", ".py", ".sh", ".c", ".h"}
LINE_ROOTS = ("Sources", "Tools", "Tests", "python")
FUNCTION_ROOTS = ("Sources", "Tools", "python/lifelong")
SKIP_PARTS = {".build", "build", "__pycache__", ".venv", "Generated"}
# Modules every target may import: the toolchain's and the system's.
TOOLCHAIN = {
    "Foundation", "FoundationEssentials", "Dispatch", "Glibc", "Darwin", "Synchronization", "XCTest",
    "Testing", "Musl", "os", "FoundationXML", "FoundationNetworking",
}

# What the serving binaries may link, directly or through their dependencies: the read path, the store, the
# service and the JSON escape it shares with the log reader; never the log reader or a language model.
SERVING_TARGETS = ("lifelong-serve", "LifelongC")
SERVING_ALLOWED = {
    "Errors", "JSONText", "Tensors", "CKernels", "COpenBLAS", "Model", "Store", "LMDB", "CLMDB", "CLifelong", "Scorer",
    "Service",
}
# Linked only because Offline holds the online writer (`BehaviorEncoder`'s appends); its own module ends that.
SERVING_NOT_YET = {"Offline", "BehaviorLog", "TextEncoder", "TextAtoms"}


def tracked(roots: tuple[str, ...], suffixes: set[str]) -> list[Path]:
    files = []
    for root in roots:
        for path in sorted((ROOT / root).rglob("*")):
            generated = "_pb2" in path.name  # protoc's Python output
            if path.is_file() and path.suffix in suffixes and not SKIP_PARTS & set(path.parts) and not generated:
                files.append(path)
    return files


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def check_lines(findings: list[str]) -> None:
    for path in tracked(LINE_ROOTS, TEXT_SUFFIXES):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if len(line) > MAX_LINE:
                findings.append(f"{rel(path)}:{number}: line of {len(line)} characters (at most {MAX_LINE})")


def check_file_sizes(findings: list[str]) -> None:
    for path in tracked(("Sources",), {".swift", ".c", ".h"}):
        count = len(path.read_text(encoding="utf-8").splitlines())
        if count > MAX_FILE:
            findings.append(f"{rel(path)}:1: file of {count} lines (at most {MAX_FILE})")


def swift_code_mask(text: str) -> str:
    """The text with comments and string literals blanked (newlines kept), so braces can be counted."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == '"' or (c == "#" and re.match(r'#+"', text[i:])):
            hashes = len(re.match(r"#*", text[i:]).group(0))
            start = i
            i += hashes
            multi = text.startswith('"""', i)
            quote = '"""' if multi else '"'
            close = quote + "#" * hashes
            i += len(quote)
            while i < n and not text.startswith(close, i):
                if text[i] == "\\" and hashes == 0:
                    if text.startswith("\\(", i):  # interpolation: skip to the matching parenthesis
                        depth, i = 1, i + 2
                        while i < n and depth:
                            depth += {"(": 1, ")": -1}.get(text[i], 0)
                            i += 1
                        continue
                    i += 2
                    continue
                i += 1
            i += len(close)
            out.append(re.sub(r"[^\n]", " ", text[start:i]))
        else:
            out.append(c)
            i += 1
    return "".join(out)


SWIFT_FUNCTION = re.compile(
    r"\b(func\s+[^\s(<]+|init[?!]?|deinit|subscript|get|set|didSet|willSet)\b[^{};]*?\{", re.S)


def swift_functions(text: str) -> list[tuple[str, int, int]]:
    """(name, first line, line count) of every function body in a Swift source."""
    code = swift_code_mask(text)
    found = []
    for match in SWIFT_FUNCTION.finditer(code):
        head = match.group(1)
        if head in ("get", "set", "didSet", "willSet") and not re.search(
                r"(\{|\}|;|\n)\s*(mutating\s+|nonmutating\s+)?$", code[:match.start()]):
            continue
        open_at = match.end() - 1
        depth, j = 0, open_at
        while j < len(code):
            if code[j] == "{":
                depth += 1
            elif code[j] == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        first = code.count("\n", 0, match.start()) + 1
        last = code.count("\n", 0, j) + 1
        found.append((head.replace("func", "").strip(), first, last - first + 1))
    return found


def python_functions(text: str) -> list[tuple[str, int, int]]:
    found = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno is not None:
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            found.append((node.name, first, node.end_lineno - first + 1))
    return found


def check_functions(findings: list[str]) -> None:
    for path in tracked(FUNCTION_ROOTS, {".swift", ".py"}):
        text = path.read_text(encoding="utf-8")
        functions = swift_functions(text) if path.suffix == ".swift" else python_functions(text)
        for name, line, count in functions:
            if count > MAX_FUNCTION:
                findings.append(f"{rel(path)}:{line}: function {name} of {count} lines (at most {MAX_FUNCTION})")


def package_targets(dump: dict) -> dict[str, dict]:
    targets = {}
    for target in dump["targets"]:
        deps = []
        for dep in target.get("dependencies", []):
            for kind in ("byName", "target", "product"):
                if kind in dep:
                    deps.append(dep[kind][0])
        targets[target["name"]] = {"kind": target["type"], "path": target.get("path"), "deps": deps}
    return targets


def check_imports(findings: list[str], targets: dict[str, dict]) -> None:
    products = set()
    for target in targets.values():
        products.update(d for d in target["deps"] if d not in targets)
    for name, target in targets.items():
        if target["kind"] == "system":
            continue
        default = {"test": "Tests", "executable": "Tools"}.get(target["kind"], "Sources")
        folder = ROOT / (target["path"] or f"{default}/{name}")
        allowed = set(target["deps"]) | TOOLCHAIN | {name}
        for path in sorted(folder.rglob("*.swift")):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                m = re.match(r"\s*(?:@[\w()]+\s+)*(?:(?:public|package|internal)\s+)?import\s+(?:\w+\s+)?(\w+)", line)
                if m and m.group(1) not in allowed:
                    findings.append(f"{rel(path)}:{number}: imports {m.group(1)}, which target {name} "
                                    "does not declare in Package.swift")


def architecture_table(text: str) -> dict[str, list[str]]:
    """The module table of docs/ARCHITECTURE.md: rows `| `Module` | `Dep`, `Dep` (notes) | what it owns |`;
    only the back-quoted names of the second cell count as dependencies."""
    rows = {}
    start = text.find("<!-- modules -->")
    end = text.find("<!-- /modules -->")
    if start < 0 or end < 0:
        raise SystemExit("docs/ARCHITECTURE.md: no <!-- modules --> … <!-- /modules --> table")
    for line in text[start:end].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        deps = re.findall(r"`([^`]+)`", cells[1])
        rows[cells[0].strip("`")] = deps
    return rows


def check_architecture(findings: list[str], targets: dict[str, dict]) -> None:
    path = ROOT / "docs/ARCHITECTURE.md"
    rows = architecture_table(path.read_text(encoding="utf-8"))
    for name, target in targets.items():
        if name not in rows:
            findings.append(f"docs/ARCHITECTURE.md:1: target {name} is declared in Package.swift, not in the table")
        elif sorted(rows[name]) != sorted(target["deps"]):
            findings.append(f"docs/ARCHITECTURE.md:1: {name} depends on {sorted(target['deps'])} in Package.swift, "
                            f"on {sorted(rows[name])} in the table")
    for name in rows.keys() - targets.keys():
        findings.append(f"docs/ARCHITECTURE.md:1: the table lists {name}, which Package.swift does not declare")


def linked(targets: dict[str, dict], name: str) -> set[str]:
    """Every target `name` links, through every dependency."""
    seen: set[str] = set()
    stack = [name]
    while stack:
        for dep in targets[stack.pop()]["deps"]:
            if dep in targets and dep not in seen:
                seen.add(dep)
                stack.append(dep)
    return seen


def check_serving_links(findings: list[str], targets: dict[str, dict]) -> None:
    linked_now: set[str] = set()
    for name in SERVING_TARGETS:
        links = linked(targets, name)
        linked_now |= links
        for module in sorted(links - SERVING_ALLOWED - SERVING_NOT_YET):
            findings.append(f"Package.swift:1: {name} links {module}, outside Tools/lint.py's SERVING_ALLOWED")
    for module in sorted(SERVING_NOT_YET - linked_now):
        findings.append(f"Tools/lint.py:1: no serving binary links {module} any more: take it out of SERVING_NOT_YET")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--swift-package-json", type=Path, help="output of `swift package dump-package`")
    args = parser.parse_args()
    if args.swift_package_json:
        dump = json.loads(args.swift_package_json.read_text())
    else:
        dump = json.loads(subprocess.run(["swift", "package", "dump-package"], cwd=ROOT, check=True,
                                         capture_output=True, text=True).stdout)
    targets = package_targets(dump)
    findings: list[str] = []
    check_lines(findings)
    check_file_sizes(findings)
    check_functions(findings)
    check_imports(findings, targets)
    check_architecture(findings, targets)
    check_serving_links(findings, targets)
    for finding in findings:
        print(finding)
    if findings:
        print(f"lint: {len(findings)} finding(s)", file=sys.stderr)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
