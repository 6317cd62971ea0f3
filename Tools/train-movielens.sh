#!/usr/bin/env bash
# The trainer on MovieLens-100K, time split 80/10/10: the sdim, full and none variants (and a logistic
# regression on user and item ids) in one run, then each trained bundle's test period replayed through the
# scorer in its own mode — the replay's AUC must equal the trainer's test AUC.
# Usage: Tools/train-movielens.sh [OUT]   (default Output/train-movielens; about 3 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${1:-Output/train-movielens}
data=Data/ml-100k
settings=(--epochs 20 --batch 1024 --lr 3e-4 --seed 1)
swift build -c release --product lifelong
bin=.build/release/lifelong
rm -rf "$out" && mkdir -p "$out"
"$bin" train --data "$data" --out "$out/sdim" --long sdim --baseline "${settings[@]}" --quiet | tee "$out/sdim.txt"
"$bin" train --data "$data" --out "$out/full" --long full "${settings[@]}" --quiet | tee "$out/full.txt"
"$bin" train --data "$data" --out "$out/none" --long none "${settings[@]}" --quiet | tee "$out/none.txt"
test_time=$(sed -n 's/.*"testTime" : \([0-9.e+]*\).*/\1/p' "$out/sdim/training.json")
echo
echo "| variant | best epoch | valid AUC | test AUC (trainer) | test AUC (replay, mode) |"
echo "|---|---:|---:|---:|---:|"
for variant in sdim full none; do
    case $variant in sdim) mode=bse ;; full) mode=full ;; none) mode=short ;; esac
    replay=$("$bin" replay --model "$out/$variant" --data "$data" --report "$out/replay-$variant" --split-time "$test_time" \
        --modes "$mode" --durability nosync --quiet | sed -n "s/^$mode: AUC \([0-9.]*\).*/\1/p")
    best=$(sed -n "s/^$variant: best epoch \([0-9]*\) of.*/\1/p" "$out/$variant.txt")
    valid=$(sed -n 's/^  valid AUC \([0-9.]*\),.*/\1/p' "$out/$variant.txt")
    test=$(sed -n 's/^  test  AUC \([0-9.]*\),.*/\1/p' "$out/$variant.txt")
    echo "| $variant | $best | $valid | $test | $replay ($mode) |"
done
echo
grep "logistic regression" "$out/sdim.txt"
