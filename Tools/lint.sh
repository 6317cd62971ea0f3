#!/usr/bin/env bash
# The linters of the README's test command: swift-format lint (the repository's .swift-format) over Sources,
# Tools and Tests; ruff (ruff.toml: line length 120) and mypy (python/pyproject.toml) over the Python; and
# Tools/lint.py: line, file and function lengths, declared imports, and docs/ARCHITECTURE.md's module table
# against Package.swift. Exits non-zero on the first linter with findings, after printing them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
py=.venv/bin/python
[ -x "$py" ] || { echo "lint: no .venv (run Tools/setup.sh)" >&2; exit 1; }
swift_format=$(command -v swift-format || true)
if [ -z "$swift_format" ]; then
  swift_format=$(dirname "$(readlink -f "$(command -v swift)")")/swift-format
fi
[ -x "$swift_format" ] || { echo "lint: swift-format is not in the Swift toolchain" >&2; exit 1; }
echo "lint: swift-format" >&2
"$swift_format" lint --strict --recursive --parallel Sources Tools Tests
echo "lint: ruff" >&2
.venv/bin/ruff check --quiet .
echo "lint: mypy" >&2
(cd python && ../.venv/bin/mypy)
echo "lint: Tools/lint.py" >&2
"$py" Tools/lint.py
