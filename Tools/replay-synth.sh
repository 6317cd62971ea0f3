#!/usr/bin/env bash
# The sequence-replay benchmark on synthetic long sequences (L up to 10^4), d = 128, B = 1000 candidates:
# accuracy and speed of every mode side by side, and the speed ratios (bse flat in L, full over bse, bse over
# short, appends flat in L), in one run.
# Usage: Tools/replay-synth.sh [OUT]   (default Output/replay-synth; about 6 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${1:-Output/replay-synth}
swift build -c release --product lifelong
bin=.build/release/lifelong
rm -rf "$out" && mkdir -p "$out"
"$bin" synth --out "$out/synth" --users 200 --items 20000 --length 30,10000 --seed 1
"$bin" init-model --data "$out/synth" --out "$out/model" --d-item 96 --d-cat 32 --seed 1
"$bin" replay --model "$out/model" --data "$out/synth" --report "$out/report" \
    --candidates 1000 --rank-every 10 --max-events 10000
echo "report: $out/report/report.md"
