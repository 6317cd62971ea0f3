#!/usr/bin/env bash
# The virtualenv of the peer benchmark (python/benchmarks/fuxictr_peer.py): .venv-bench/ beside .venv/, with
# FuxiCTR 2.3.10 and its imports pinned in requirements-peer.txt. Not part of Tools/setup.sh: the product and its
# tests never import FuxiCTR.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
venv=$root/.venv-bench
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r "$root/python/benchmarks/requirements-peer.txt"
"$venv/bin/python" -c 'import fuxictr, torch; print("fuxictr", fuxictr.__version__, "torch", torch.__version__)'
