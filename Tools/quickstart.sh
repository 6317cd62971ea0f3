#!/usr/bin/env bash
# The README's main-job command on the MovieLens-100K default: set-up, release build, then the pipeline.
# Outputs go to Output/ (ignored by git).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
Tools/setup.sh
swift build -c release --product lifelong
bin=.build/release/lifelong
"$bin" --version
"$bin" --help
