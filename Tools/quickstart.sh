#!/usr/bin/env bash
# The README's main-job command on the MovieLens-100K default: set-up, release build, then the pipeline:
# an SDIM model (v2: history behaviors carry their feedback) trained on the log (time split 80/10/10), the
# BSE encode of the whole log, a store summary, scores for one user, and the sequence replay of the test
# period (click = rating ≥ 4, category = first genre; every event from the 90 % point on scored in every
# mode, then appended).
# Outputs go to Output/quickstart (ignored by git). About 2 minutes after the first build.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
Tools/setup.sh
swift build -c release --product lifelong
bin=.build/release/lifelong
data=${LIFELONG_DATA:-Data}/ml-100k
out=Output/quickstart
rm -rf "$out" && mkdir -p "$out"
"$bin" train --data "$data" --out "$out/model"   # the defaults: sdim, v2 (the log has labels), lr searched
"$bin" encode --model "$out/model" --data "$data" --store "$out/store"
"$bin" inspect --store "$out/store"
echo "scores of user 196 for five movies (bse, then full attention over the whole history):"
"$bin" score --model "$out/model" --store "$out/store" --user 196 --items 242,302,377,51,346
"$bin" score --model "$out/model" --store "$out/store" --user 196 --items 242,302,377,51,346 --mode full
echo "replaying the last 10 % of the log (10,000 events; 1,000-candidate ranking request on every 10th):"
"$bin" replay --model "$out/model" --data "$data" --report "$out/replay" --candidates 1000 --rank-every 10 --quiet
echo "store: $out/store   model (trained; figures in training.json): $out/model"
echo "replay report: $out/replay/report.md (tables), report.json (every figure), latency.svg (plot)"
