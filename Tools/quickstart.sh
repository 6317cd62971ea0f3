#!/usr/bin/env bash
# The README's main-job command on the MovieLens-100K default: set-up, release build, then the pipeline.
# Today: a randomly initialised model bundle (the trainer is not built yet), the BSE encode, a store summary, scores.
# Outputs go to Output/ (ignored by git).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
Tools/setup.sh
swift build -c release --product lifelong
bin=.build/release/lifelong
data=${LIFELONG_DATA:-Data}/ml-100k
out=Output/quickstart
rm -rf "$out" && mkdir -p "$out"
"$bin" init-model --data "$data" --out "$out/model" --seed 1
"$bin" encode --model "$out/model" --data "$data" --store "$out/store"
"$bin" inspect --store "$out/store"
echo "scores of user 196 for five movies (bse, then full attention over the whole history):"
"$bin" score --model "$out/model" --store "$out/store" --user 196 --items 242,302,377,51,346
"$bin" score --model "$out/model" --store "$out/store" --user 196 --items 242,302,377,51,346 --mode full
echo "store: $out/store   model (random init, untrained): $out/model"
