#!/usr/bin/env bash
# The README's test command: set-up (Debian packages, data and model files), build, whole test suite.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
Tools/setup.sh
swift build --build-tests
swift test --skip-build
