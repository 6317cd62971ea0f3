#!/usr/bin/env bash
# The README's test command: set-up (Debian packages, the Python virtualenv, data and model files), the
# linters (Tools/lint.sh: swift-format, ruff, mypy, sizes, imports, the module table), build, the Swift test
# suite (which also compiles and runs the C ABI's C programs), the wheel (Tools/build-wheel.sh), then the Python
# package's tests: the package installed into .venv with pip, over the liblifelong_c.so of this build, and the
# wheel installed into a fresh virtualenv.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
Tools/setup.sh
Tools/lint.sh
swift build --build-tests
swift test --skip-build
bin=$(swift build --show-bin-path)
# The self-contained wheel (static Swift runtime and LMDB), for python/tests/test_wheel.py.
Tools/build-wheel.sh --out .build/wheel/dist
wheel=$(ls "$PWD"/.build/wheel/dist/lifelong-*.whl)
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-build-isolation --no-deps \
  --force-reinstall ./python
# From python/tests, so `import lifelong` is the installed package, not the source folder.
(cd python/tests && LIFELONG_LIBRARY="$bin/liblifelong_c.so" LIFELONG_CLI="$bin/lifelong" LIFELONG_WHEEL="$wheel" \
  ../../.venv/bin/python -m pytest -q -p no:cacheprovider .)
